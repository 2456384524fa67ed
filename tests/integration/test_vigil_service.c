/*
 * test_vigil_service.c -- `vigil service` and the systemd notify protocol
 * (suite vigil_service): the unit `install --print` shows, install and
 * uninstall into $VIGIL_SYSTEMD_DIR (systemctl is never called then), and
 * a real local datagram socket given to `vigil run` as NOTIFY_SOCKET
 * (with WATCHDOG_USEC) receives READY=1, WATCHDOG=1, RELOADING=1/READY=1
 * around a reload and STOPPING=1 at shutdown; a child does not inherit
 * the supervisor's NOTIFY_SOCKET.
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_env.h>
#include <apr_strings.h>

static void test_install_print(void) {
  vt_t *t = vt_begin("svc-print");
  const char *cfg, *want;
  vt_res_t *r;
  if (!t)
    return;
  cfg = vt_config(t, "vigil.xml", NULL);
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name", "t",
               "--print", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "[Service]\n"));
  CU_ASSERT(vt_contains(r->out, "\nType=notify\n"));
  CU_ASSERT(vt_contains(r->out, "\nNotifyAccess=main\n"));
  want = apr_psprintf(vt_pool(t), "\nExecStart=%s run -c %s\n",
                      vt_vigil_bin(), cfg);
  CU_ASSERT(vt_contains(r->out, want));
  want = apr_psprintf(vt_pool(t), "\nExecReload=%s reload -c %s\n",
                      vt_vigil_bin(), cfg);
  CU_ASSERT(vt_contains(r->out, want));
  CU_ASSERT(vt_contains(r->out, "\nKillMode=mixed\n"));
  CU_ASSERT(vt_contains(r->out, "\nDelegate=yes\n"));
  CU_ASSERT(vt_contains(r->out, "\nRestart=on-failure\n"));
  CU_ASSERT(vt_contains(r->out, "\nTimeoutStopSec=15\n"));   /* 10s + 5 */
  CU_ASSERT(vt_contains(r->out, "\nWantedBy=multi-user.target\n"));
  /* --print writes nothing. */
  CU_ASSERT(!vt_exists(vt_path(t, "vigil-t.service")));
  r = vt_vigil(t, VT_WAIT_MS, "service", "bogus", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "--name", "t", NULL);
  CU_ASSERT_EQUAL(r->code, 2);   /* install needs -c */
  vt_end(t);
}

static void test_install_uninstall_dir(void) {
  vt_t *t = vt_begin("svc-install");
  const char *cfg, *unit;
  vt_res_t *r;
  char *text;
  if (!t)
    return;
  cfg = vt_config(t, "vigil.xml", NULL);
  unit = vt_path(t, "vigil-t.service");
  apr_env_set("VIGIL_SYSTEMD_DIR", vt_path(t, NULL), vt_pool(t));
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name", "t",
               NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "systemctl enable --now vigil-t.service"));
  text = vt_read_file(t, unit, NULL);
  CU_ASSERT(text && vt_contains(text, "\nType=notify\n"));
  CU_ASSERT(text && vt_contains(text, "\nDelegate=yes\n"));
  /* start/stop need a running systemd; with the override they refuse. */
  r = vt_vigil(t, VT_WAIT_MS, "service", "start", "--name", "t", NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  r = vt_vigil(t, VT_WAIT_MS, "service", "uninstall", "--name", "t", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(!vt_exists(unit));
  r = vt_vigil(t, VT_WAIT_MS, "service", "uninstall", "--name", "t", NULL);
  CU_ASSERT_EQUAL(r->code, 1);   /* not installed */
  apr_env_delete("VIGIL_SYSTEMD_DIR", vt_pool(t));
  vt_end(t);
}

/* ---- notify ---------------------------------------------------------------- */

typedef struct nrecv_s {
  vg_udp_t udp;
  char buf[4096];
  char got[16384];   /* datagrams, each followed by '|' */
  size_t len;
} nrecv_t;

static void n_alloc(vg_handle_t *h, size_t sug, vg_buf_t *buf) {
  nrecv_t *n = h->data;
  (void)sug;
  buf->base = n->buf;
  buf->len = sizeof n->buf;
}

static void n_recv(vg_udp_t *u, apr_status_t st, size_t nread,
                   const vg_buf_t *buf, const vg_addr_t *from) {
  nrecv_t *n = u->data;
  (void)from;
  if (st != APR_SUCCESS || nread == 0 || n->len + nread + 2 > sizeof n->got)
    return;
  memcpy(n->got + n->len, buf->base, nread);
  n->len += nread;
  n->got[n->len++] = '|';
  n->got[n->len] = '\0';
}

/* Occurrences of `needle` in what came after offset `from`. */
static int n_count(const nrecv_t *n, size_t from, const char *needle) {
  const char *p = n->got + from;
  int c = 0;
  while ((p = strstr(p, needle)) != NULL) {
    c++;
    p += strlen(needle);
  }
  return c;
}

/* Wait until `needle` came after offset `from`; its end offset, or 0. */
static size_t n_wait(vt_t *t, nrecv_t *n, size_t from, const char *needle) {
  uint64_t deadline = vt_now_ms() + VT_WAIT_MS;
  for (;;) {
    const char *p = strstr(n->got + from, needle);
    if (p)
      return (size_t)(p - n->got) + strlen(needle);
    if (vt_now_ms() >= deadline)
      return 0;
    vt_sleep(t, 20);
  }
}

static void test_notify_protocol(void) {
  vt_t *t = vt_begin("svc-notify");
  nrecv_t *n;
  vg_addr_t addr;
  const char *sock, *cfg, *log;
  size_t at, reload_at;
  uint64_t deadline;
  char *text = NULL;
  int ok;
  if (!t)
    return;
  n = apr_pcalloc(vt_pool(t), sizeof *n);
  sock = vt_path(t, "notify.sock");
  VT_REQUIRE(pal_addr_local(&addr, sock) == APR_SUCCESS);
  VT_REQUIRE(vg_udp_init(vt_loop(t), &n->udp, PAL_AF_UNIX) == APR_SUCCESS);
  n->udp.data = n;
  ok = vg_udp_bind(&n->udp, &addr, 0) == APR_SUCCESS &&
       vg_udp_recv_start(&n->udp, n_alloc, n_recv) == APR_SUCCESS;
  CU_ASSERT(ok);
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "envchild",
                         "<restart policy=\"never\"/>\n"
                         "<log stdout=\"envchild.log\"/>\n",
                         "env", "NOTIFY_SOCKET", NULL),
                  NULL);
  apr_env_set("NOTIFY_SOCKET", sock, vt_pool(t));
  apr_env_set("WATCHDOG_USEC", "200000", vt_pool(t));
  ok = ok && vt_sup_start_ready(t, cfg);
  apr_env_delete("NOTIFY_SOCKET", vt_pool(t));
  apr_env_delete("WATCHDOG_USEC", vt_pool(t));
  if (!ok)
    goto out;

  at = n_wait(t, n, 0, "READY=1");
  CU_ASSERT(at > 0);
  CU_ASSERT(vt_contains(n->got, "STATUS=1 services"));
  /* Every 100 ms: two within a second or so. */
  deadline = vt_now_ms() + VT_WAIT_MS;
  while (n_count(n, at, "WATCHDOG=1") < 2 && vt_now_ms() < deadline)
    vt_sleep(t, 20);
  CU_ASSERT(n_count(n, at, "WATCHDOG=1") >= 2);

  reload_at = n->len;
  CU_ASSERT_EQUAL(vt_cli(t, "reload", NULL)->code, 0);
  at = n_wait(t, n, reload_at, "RELOADING=1");
  CU_ASSERT(at > 0);
  CU_ASSERT(at > 0 && n_wait(t, n, at, "READY=1") > 0);

  /* The child saw no NOTIFY_SOCKET of ours. */
  deadline = vt_now_ms() + VT_WAIT_MS;
  while (vt_now_ms() < deadline) {
    text = vt_read_file(t, vt_path(t, "logs/envchild.log"), NULL);
    if (text && vt_contains(text, "\n"))
      break;
    vt_sleep(t, 20);
  }
  CU_ASSERT(text && vt_contains(text, "(unset)"));
  CU_ASSERT(!text || !vt_contains(text, sock));

  at = n->len;
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT(n_wait(t, n, at, "STOPPING=1") > 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, VT_WAIT_MS), 0);
  log = vt_sup_log(t);
  CU_ASSERT(!vt_contains(log, "cannot use NOTIFY_SOCKET"));
out:
  vg_close((vg_handle_t *)&n->udp, NULL);
  vt_sleep(t, 10);
  vt_end(t);
}

static CU_TestInfo vigil_service_tests[] = {
    {"service install --print shows a Type=notify unit", test_install_print},
    {"service install/uninstall into VIGIL_SYSTEMD_DIR",
     test_install_uninstall_dir},
    {"NOTIFY_SOCKET: READY, WATCHDOG, RELOADING, STOPPING",
     test_notify_protocol},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_service_suite = {.pName = "vigil_service",
                                    .pInitFunc = NULL,
                                    .pCleanupFunc = NULL,
                                    .pSetUpFunc = NULL,
                                    .pTearDownFunc = NULL,
                                    .pTests = vigil_service_tests};
