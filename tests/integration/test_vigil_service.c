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
#include "svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_env.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_thread_proc.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
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

/* ---- hostile paths ------------------------------------------------------- */

/* A small reader of the systemd command-line grammar the unit relies on
 * (systemd.unit(5) "Specifiers", systemd.service(5) "Command lines"):
 * the value's specifiers first ("%%" -> '%'; any other is an error
 * here), then words split at blanks, each word unquoted ('"' or '\''
 * quotes, C escapes \\ \" \' \xNN \n \t \s) and, but in the first word
 * (the program), its "$$" made '$' (a '$' before a name would be an
 * environment variable: an error here).
 * Returns the number of words, or -1 if the line does not read back. */
static int sd_words(const char *value, char **words, int max,
                    apr_pool_t *pool) {
  char *v = apr_palloc(pool, strlen(value) + 1), *o = v;
  const char *p;
  int n = 0;
  for (p = value; *p; p++) {
    if (*p == '%') {
      if (p[1] != '%')
        return -1;
      p++;
    }
    *o++ = *p;
  }
  *o = '\0';
  p = v;
  for (;;) {
    char *w, *d, quote = 0;
    while (*p == ' ' || *p == '\t')
      p++;
    if (!*p)
      return n;
    if (n == max)
      return -1;
    w = d = apr_palloc(pool, strlen(p) + 1);
    for (; *p && (quote || (*p != ' ' && *p != '\t')); p++) {
      if (!quote && (*p == '"' || *p == '\'')) {
        quote = *p;
      } else if (quote && *p == quote) {
        quote = 0;
      } else if (*p == '\\') {
        p++;
        switch (*p) {
        case '\\': case '"': case '\'': *d++ = *p; break;
        case 'n': *d++ = '\n'; break;
        case 't': *d++ = '\t'; break;
        case 's': *d++ = ' '; break;
        case 'x': {
          char hex[3] = {p[1], p[2], 0};
          if (!p[1] || !p[2])
            return -1;
          *d++ = (char)strtol(hex, NULL, 16);
          p += 2;
          break;
        }
        default: return -1;
        }
      } else if (*p == '$' && n > 0) {   /* the program's is literal */
        if (p[1] != '$')
          return -1;
        *d++ = '$';
        p++;
      } else {
        *d++ = *p;
      }
    }
    if (quote)
      return -1;
    *d = '\0';
    words[n++] = w;
  }
}

/* The value of "KEY=" on its own line of text, or NULL. */
static const char *unit_value(vt_t *t, const char *text, const char *key) {
  const char *k = apr_pstrcat(vt_pool(t), "\n", key, "=", NULL);
  const char *p = strstr(text, k), *nl;
  if (!p)
    return NULL;
  p += strlen(k);
  nl = strchr(p, '\n');
  return apr_pstrndup(vt_pool(t), p, nl ? (size_t)(nl - p) : strlen(p));
}

/* systemd's own check of a unit file, where systemd is installed:
 * `systemd-analyze verify` exits non-zero on a line it cannot parse or
 * an ExecStart= binary that is not there. */
static void systemd_verify(vt_t *t, const char *unit) {
  static const char *const where[] = {"/usr/bin/systemd-analyze",
                                      "/bin/systemd-analyze", NULL};
  const char *bin = NULL, *argv[5];
  apr_procattr_t *attr;
  apr_proc_t proc;
  apr_exit_why_e why;
  apr_finfo_t fi;
  int i, code = -1;
  for (i = 0; where[i] && !bin; i++)
    if (apr_stat(&fi, where[i], APR_FINFO_TYPE, vt_pool(t)) == APR_SUCCESS)
      bin = where[i];
  if (!bin) {
    fprintf(stderr, "\n    (systemd-analyze is not installed: the unit is "
                    "checked by the grammar reader only) ");
    return;
  }
  argv[0] = bin;
  argv[1] = "verify";
  argv[2] = "--man=no";
  argv[3] = unit;
  argv[4] = NULL;
  CU_ASSERT_FATAL(apr_procattr_create(&attr, vt_pool(t)) == APR_SUCCESS);
  apr_procattr_cmdtype_set(attr, APR_PROGRAM);
  CU_ASSERT_FATAL(apr_proc_create(&proc, bin, argv, NULL, attr,
                                  vt_pool(t)) == APR_SUCCESS);
  CU_ASSERT_EQUAL(apr_proc_wait(&proc, &code, &why, APR_WAIT),
                  APR_CHILD_DONE);
  if (code != 0)
    fprintf(stderr, "\n    systemd-analyze verify %s: exit %d\n", unit,
            code);
  CU_ASSERT_EQUAL(code, 0);
}

/* Characters each format gives a meaning to: for the config's path,
 * every one a path may hold but NUL and newline; for the executable's,
 * those systemd accepts in a program's path (no quote, backslash or
 * control character). */
#define HOSTILE_EXE "e $x ${HOME} %n %% ;&<> \xc3\xa9"
#define HOSTILE "h $x ${HOME} %n %% \"q\" 'a' \\b;c\tt &<>\x7f\xc3\xa9"

/* `vigil service install --print` run by `exe` (a copy of vigil: the
 * unit names the executable that wrote it). */
static vt_res_t *install_print(vt_t *t, const char *exe, const char *cfg) {
  const char *saved = getenv("VIGIL_BIN");
  vt_res_t *r;
  saved = saved ? apr_pstrdup(vt_pool(t), saved) : NULL;
  apr_env_set("VIGIL_BIN", exe, vt_pool(t));
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name",
               "t", "--print", NULL);
  if (saved)
    apr_env_set("VIGIL_BIN", saved, vt_pool(t));
  else
    apr_env_delete("VIGIL_BIN", vt_pool(t));
  return r;
}

/* DIR/name made, with a copy of vigil (exe) and a config (cfg) in it. */
static int hostile_dir(vt_t *t, const char *name, const char **exe,
                       const char **cfg) {
  const char *dir = vt_path(t, name);
  if (apr_dir_make(dir, APR_FPROT_OS_DEFAULT, vt_pool(t)) != APR_SUCCESS)
    return 0;
  *exe = apr_pstrcat(vt_pool(t), dir, "/vigil", NULL);
  *cfg = apr_pstrcat(vt_pool(t), dir, "/vigil.xml", NULL);
  return apr_file_copy(vt_vigil_bin(), *exe, APR_FPROT_FILE_SOURCE_PERMS,
                       vt_pool(t)) == APR_SUCCESS &&
         vt_write_file(t, *cfg, "<vigil/>\n") == 0;
}

/* `service install --print` with vigil and its config under directories
 * with such characters: the unit's ExecStart and ExecReload read back
 * (by the grammar above) as exactly those paths, and systemd accepts the
 * unit (systemd-analyze verify, when it is installed).  A path that
 * cannot be written (a newline; a quote in the program's path) is
 * refused with a clear error and no unit. */
static void test_install_hostile_paths(void) {
  vt_t *t = vt_begin("svc-hostile");
  const char *exe, *cfg, *exe2, *v, *unit;
  char *words[8];
  vt_res_t *r;
  int n, k;
  if (!t)
    return;
  VT_REQUIRE(hostile_dir(t, HOSTILE_EXE, &exe, &cfg));
  VT_REQUIRE(hostile_dir(t, HOSTILE, &exe2, &cfg));
  r = install_print(t, exe, cfg);
  VT_REQUIRE(r->code == 0);
  /* the unit's lines are whole lines: nothing was injected */
  CU_ASSERT_EQUAL(vt_count_lines(r->out, "ExecStart="), 1);
  CU_ASSERT_EQUAL(vt_count_lines(r->out, "ExecReload="), 1);
  for (k = 0; k < 2; k++) {
    v = unit_value(t, r->out, k ? "ExecReload" : "ExecStart");
    VT_REQUIRE(v != NULL);
    n = sd_words(v, words, 8, vt_pool(t));
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_STRING_EQUAL(words[0], exe);
    CU_ASSERT_STRING_EQUAL(words[1], k ? "reload" : "run");
    CU_ASSERT_STRING_EQUAL(words[2], "-c");
    CU_ASSERT_STRING_EQUAL(words[3], cfg);
  }
  unit = vt_path(t, "vigil-t.service");
  VT_REQUIRE(vt_write_file(t, unit, r->out) == 0);
  systemd_verify(t, unit);

  /* a quote in the program's path: systemd would not run it */
  r = install_print(t, exe2, cfg);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT_EQUAL(r->out_len, 0);
  CU_ASSERT(vt_contains(r->err, "ExecStart="));

  /* a newline in the config's path: refused, with the path and why */
  VT_REQUIRE(hostile_dir(t, "n\nExecStartPre=false", &exe2, &cfg));
  r = install_print(t, exe, cfg);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT_EQUAL(r->out_len, 0);
  CU_ASSERT(vt_contains(r->err, "control character (0x0a)"));
  CU_ASSERT(vt_contains(r->err, "a systemd unit"));
  vt_end(t);
}

/* The launchd plist of the same paths (it is written on macOS only, so
 * it is made here by the function that writes it): well-formed XML by
 * xmllint where it is installed, and libxml2 reads the very paths back
 * from its <string>s.  A control character XML cannot hold is refused. */
static void test_plist_hostile_paths(void) {
  vt_t *t = vt_begin("svc-plist");
  const char *exe = "/opt/" HOSTILE_EXE "/vigil", *why = NULL, *text;
  const char *cfg = "/srv/" HOSTILE "\r\n/vigil.xml";
  xmlDocPtr doc;
  xmlNodePtr n;
  const char *got[8];
  int k = 0;
  if (!t)
    return;
  text = svc_launchd_plist("t", exe, cfg, 10000, vt_pool(t), &why);
  VT_REQUIRE(text != NULL);
  doc = xmlReadMemory(text, (int)strlen(text), "plist.xml", NULL,
                      XML_PARSE_NONET | XML_PARSE_NOERROR);
  VT_REQUIRE(doc != NULL);
  /* plist > dict > array > string* */
  for (n = xmlDocGetRootElement(doc)->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE)
      break;
  for (n = n ? n->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name,
                                               "array"))
      break;
  for (n = n ? n->children : NULL; n && k < 8; n = n->next)
    if (n->type == XML_ELEMENT_NODE) {
      xmlChar *c = xmlNodeGetContent(n);
      got[k++] = apr_pstrdup(vt_pool(t), (const char *)c);
      xmlFree(c);
    }
  xmlFreeDoc(doc);
  CU_ASSERT_EQUAL_FATAL(k, 4);
  CU_ASSERT_STRING_EQUAL(got[0], exe);
  CU_ASSERT_STRING_EQUAL(got[3], cfg);
  {
    const char *path = vt_path(t, "org.vigil.t.plist");
    const char *argv[] = {"/usr/bin/xmllint", "--noout", path, NULL};
    apr_finfo_t fi;
    VT_REQUIRE(vt_write_file(t, path, text) == 0);
    if (apr_stat(&fi, argv[0], APR_FINFO_TYPE, vt_pool(t)) != APR_SUCCESS) {
      fprintf(stderr, "\n    (xmllint is not installed: the plist is "
                      "checked by libxml2 only) ");
    } else {
      apr_procattr_t *attr;
      apr_proc_t proc;
      apr_exit_why_e ew;
      int code = -1;
      CU_ASSERT_FATAL(apr_procattr_create(&attr, vt_pool(t)) ==
                      APR_SUCCESS);
      CU_ASSERT_FATAL(apr_proc_create(&proc, argv[0], argv, NULL, attr,
                                      vt_pool(t)) == APR_SUCCESS);
      apr_proc_wait(&proc, &code, &ew, APR_WAIT);
      CU_ASSERT_EQUAL(code, 0);
    }
  }
  CU_ASSERT_PTR_NULL(svc_launchd_plist("t", exe, "/srv/a\x01", 0,
                                       vt_pool(t), &why));
  CU_ASSERT(vt_contains(why, "control character (0x01)"));
  CU_ASSERT_PTR_NULL(svc_launchd_plist("t", "/a\xff", "/b", 0, vt_pool(t),
                                       &why));
  CU_ASSERT(vt_contains(why, "not valid UTF-8"));
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
    {"service install: hostile characters in paths",
     test_install_hostile_paths},
    {"launchd plist: hostile characters in paths",
     test_plist_hostile_paths},
    {"NOTIFY_SOCKET: READY, WATCHDOG, RELOADING, STOPPING",
     test_notify_protocol},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_service_suite = {.pName = "vigil_service",
                                    .pInitFunc = NULL,
                                    .pCleanupFunc = NULL,
                                    .pSetUpFunc = NULL,
                                    .pTearDownFunc = NULL,
                                    .pTests = vigil_service_tests};
