/*
 * test_vigil_reload.c -- `vigil reload` and SIGHUP (suite vigil_reload):
 * an added service starts, a removed one stops and leaves the status, a
 * changed one restarts (new pid), an unchanged or live-updated one keeps
 * its pid; an invalid new file is refused with FILE:LINE errors and the
 * old services keep running as they were.  SIGHUP is POSIX-only.
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

static int pid_not(const svc_json_t *s, void *arg) {
  int64_t pid = vt_ifield(s, "pid");
  const char *st = vt_sfield(s, "state");
  return pid > 0 && pid != *(long *)arg && st && !strcmp(st, "running");
}

/* Poll until `name` is no longer in the status. */
static int wait_absent(vt_t *t, const char *name, uint64_t ms) {
  uint64_t deadline = vt_now_ms() + ms;
  for (;;) {
    svc_json_t *st = vt_status(t);
    if (st && !vt_svc_of(st, name))
      return 1;
    if (vt_now_ms() >= deadline)
      return 0;
    vt_sleep(t, 25);
  }
}

/* The pids of the named services, all running. */
static int running_pids(vt_t *t, const char *const *names, long *pids) {
  int i;
  for (i = 0; names[i]; i++) {
    const svc_json_t *s = vt_wait_state(t, names[i], "running", VT_WAIT_MS);
    if (!s)
      return 0;
    pids[i] = (long)vt_ifield(s, "pid");
  }
  return 1;
}

/* The error line for LINE of FILE in text, or NULL. */
static int has_error_line(const char *text, const char *file, int line) {
  char prefix[1024];
  snprintf(prefix, sizeof prefix, "%s:%d: error: ", file, line);
  return vt_contains(text, prefix);
}

/* An invalid version of the config: unknown element on line 12, a bad
 * duration on line 15. */
static const char *bad_config(vt_t *t) {
  return apr_psprintf(
      vt_pool(t),
      "<?xml version=\"1.0\"?>\n"                          /* 1 */
      "<vigil>\n"                                          /* 2 */
      "  <supervisor>\n"                                   /* 3 */
      "    <state-dir>%s</state-dir>\n"                    /* 4 */
      "    <log-dir>%s</log-dir>\n"                        /* 5 */
      "  </supervisor>\n"                                  /* 6 */
      "  <service name=\"a\">\n"                           /* 7 */
      "    <command>%s</command>\n"                        /* 8 */
      "    <arg>--child</arg><arg>sleep</arg><arg>1</arg>\n" /* 9 */
      "  </service>\n"                                     /* 10 */
      "  <service name=\"new\">\n"                         /* 11 */
      "    <comand>/bin/true</comand>\n"                   /* 12 */
      "  </service>\n"                                     /* 13 */
      "  <service name=\"b\">\n"                           /* 14 */
      "    <command>/bin/true</command><stop timeout=\"1x\"/>\n" /* 15 */
      "  </service>\n"                                     /* 16 */
      "</vigil>\n",
      vt_xml(t, vt_path(t, "state")), vt_xml(t, vt_log_dir(t)),
      vt_xml(t, vt_self(t)));
}

/* ---- tests ------------------------------------------------------------------ */

static void test_reload_applies_diff(void) {
  vt_t *t = vt_begin("reload");
  static const char *const names[] = {"keep", "change", "gone", "tuned",
                                      NULL};
  long pids[4], pid;
  const svc_json_t *s;
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "keep", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "change", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "gone", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "tuned",
                   "<restart delay=\"100ms\"/>\n    " READY_FAST, "sleep",
                   "30000", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(running_pids(t, names, pids));

  vt_config(t, "vigil.xml",
            vt_svc(t, "keep", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "change", READY_FAST, "sleep", "29000", NULL),
            vt_svc(t, "tuned",
                   "<restart delay=\"200ms\"/>\n    " READY_FAST, "sleep",
                   "30000", NULL),
            vt_svc(t, "added", READY_FAST, "sleep", "30000", NULL), NULL);
  r = vt_cli(t, "reload", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(r->err_len, 0);

  /* added: starts */
  s = vt_wait_state(t, "added", "running", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL(s);
  /* removed: stops, and is no longer listed */
  CU_ASSERT(wait_absent(t, "gone", VT_WAIT_MS));
  CU_ASSERT(vt_wait_pid_gone(t, pids[2], 2000));
  /* changed args: restarted with a new pid */
  s = vt_wait_svc(t, "change", pid_not, &pids[1], VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL(s);
  CU_ASSERT(vt_wait_pid_gone(t, pids[1], 2000));
  /* unchanged, and changed only in what applies live: same pid */
  s = vt_svc_of(vt_status(t), "keep");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "running");
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), pids[0]);
  s = vt_svc_of(vt_status(t), "tuned");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "running");
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), pids[3]);
  /* The summary names what it touched; kept services are only counted. */
  CU_ASSERT(vt_contains(vt_sup_log(t),
                        "applying: 1 added (added), 1 removed (gone), "
                        "1 changed (change), 1 updated (tuned), 1 kept"));

  /* The status lists exactly the new config's services. */
  {
    svc_json_t *st = vt_status(t);
    CU_ASSERT_EQUAL(svc_json_size(svc_json_get(st, "services")), 4);
  }
  /* A second reload with nothing changed changes nothing. */
  pid = vt_pid(t, "change");
  r = vt_cli(t, "reload", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  vt_sleep(t, 200);
  CU_ASSERT_EQUAL(vt_pid(t, "change"), pid);
  CU_ASSERT_EQUAL(vt_pid(t, "keep"), pids[0]);
  vt_end(t);
}

static void test_reload_invalid_refused(void) {
  vt_t *t = vt_begin("reload-bad");
  static const char *const names[] = {"a", "b", NULL};
  long pids[2];
  const char *cfg;
  vt_res_t *r;
  if (!t)
    return;
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
                  vt_svc(t, "b", READY_FAST, "sleep", "30000", NULL), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, cfg));
  VT_REQUIRE(running_pids(t, names, pids));
  VT_REQUIRE(vt_write_file(t, cfg, bad_config(t)) == 0);

  /* Through the config file, as a user types it. */
  r = vt_cli(t, "reload", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(has_error_line(r->err, cfg, 12));
  CU_ASSERT(has_error_line(r->err, cfg, 15));

  /* Through the endpoint: the supervisor itself refuses, with the same
   * lines. */
  r = vt_vigil(t, 30000, "reload", "--control", vt_control_path(t), NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(has_error_line(r->err, cfg, 12));
  CU_ASSERT(has_error_line(r->err, cfg, 15));
  CU_ASSERT(vt_wait_log(t, "refused", 2000));

  /* The old services run on, untouched. */
  vt_sleep(t, 200);
  r = vt_vigil(t, 10000, "status", "--json", "--control",
               vt_control_path(t), NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  {
    svc_json_t *st = NULL;
    svc_json_error_t jerr;
    if (svc_json_parse(&st, r->out, r->out_len, vt_pool(t), &jerr) ==
        APR_SUCCESS) {
      const svc_json_t *sa = vt_svc_of(st, "a"), *sb = vt_svc_of(st, "b");
      CU_ASSERT_STRING_EQUAL(vt_sfield(sa, "state"), "running");
      CU_ASSERT_STRING_EQUAL(vt_sfield(sb, "state"), "running");
      CU_ASSERT_EQUAL(vt_ifield(sa, "pid"), pids[0]);
      CU_ASSERT_EQUAL(vt_ifield(sb, "pid"), pids[1]);
      CU_ASSERT_PTR_NULL(vt_svc_of(st, "new"));
      CU_ASSERT_EQUAL(svc_json_size(svc_json_get(st, "services")), 2);
    } else {
      CU_FAIL("status --json after a refused reload is not JSON");
    }
  }
  CU_ASSERT(vt_pid_alive(pids[0]));
  CU_ASSERT(vt_pid_alive(pids[1]));

  /* A good file again: the next reload works. */
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "b", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "c", READY_FAST, "sleep", "30000", NULL), NULL);
  r = vt_cli(t, "reload", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_PTR_NOT_NULL(vt_wait_state(t, "c", "running", VT_WAIT_MS));
  CU_ASSERT_EQUAL(vt_pid(t, "a"), pids[0]);
  CU_ASSERT_EQUAL(vt_pid(t, "b"), pids[1]);
  vt_end(t);
}

/* The config of one service "a" (sleeping), its supervisor started and
 * "a" running; the config's path, or NULL (and a failed assert). */
static const char *start_one(vt_t *t) {
  const char *cfg = vt_config(t, "vigil.xml",
                              vt_svc(t, "a", READY_FAST, "sleep", "30000",
                                     NULL),
                              NULL);
  if (!vt_sup_start_ready(t, cfg) ||
      !vt_wait_state(t, "a", "running", VT_WAIT_MS)) {
    CU_FAIL("the supervisor or its service did not come up");
    return NULL;
  }
  return cfg;
}

/* A control request on a connection of its own, answered while the
 * test goes on (the loop runs whenever the harness waits). */
typedef struct pending_s {
  vg_pipe_t pipe;
  vg_connect_t conn;
  vg_write_t wr;
  char req[64];
  char buf[65536];
  size_t len;
  int done, closes;
} pending_t;

static void pend_alloc(vg_handle_t *h, size_t sug, vg_buf_t *buf) {
  pending_t *p = h->data;
  (void)sug;
  buf->base = p->buf + p->len;
  buf->len = sizeof p->buf - p->len - 1;
}

static void pend_read(vg_stream_t *s, apr_status_t st, size_t n,
                      const vg_buf_t *buf) {
  pending_t *p = s->data;
  (void)buf;
  if (st != APR_SUCCESS) {
    p->done = 1;
    return;
  }
  p->len += n;
  p->buf[p->len] = '\0';
  if (memchr(p->buf, '\n', p->len))
    p->done = 1;
}

static void pend_written(vg_write_t *w, apr_status_t st) {
  (void)w;
  (void)st;
}

static void pend_connected(vg_connect_t *c, apr_status_t st) {
  pending_t *p = c->data;
  vg_buf_t b;
  if (st != APR_SUCCESS) {
    p->done = 1;
    return;
  }
  vg_read_start(&p->pipe, pend_alloc, pend_read);
  b.base = p->req;
  b.len = strlen(p->req);
  if (vg_write(&p->wr, &p->pipe, &b, 1, pend_written) != APR_SUCCESS)
    p->done = 1;
}

static pending_t *pend_start(vt_t *t, const char *req) {
  pending_t *p = apr_pcalloc(vt_pool(t), sizeof *p);
  snprintf(p->req, sizeof p->req, "%s\n", req);
  vg_pipe_init(vt_loop(t), &p->pipe);
  p->pipe.data = p;
  p->conn.data = p;
  if (vg_pipe_connect(&p->conn, &p->pipe, vt_control_path(t),
                      pend_connected) != APR_SUCCESS)
    p->done = 1;
  return p;
}

/* A config of `n` services that the loader needs a while to read (they
 * are checked one by one), with a problem on its last line but one: a
 * reload of it is refused only after all of it was read. */
static const char *slow_bad_config(vt_t *t, int n) {
  apr_array_header_t *parts = apr_array_make(vt_pool(t), n + 2,
                                             sizeof(char *));
  int i;
  APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(
      vt_pool(t),
      "<vigil>\n  <supervisor><state-dir>%s</state-dir>"
      "<log-dir>%s</log-dir></supervisor>\n",
      vt_xml(t, vt_path(t, "state")), vt_xml(t, vt_log_dir(t)));
  for (i = 0; i < n; i++)
    APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(
        vt_pool(t),
        "<service name=\"s%d\"><command>x</command>"
        "<autostart>false</autostart>"
        "<arg>1</arg><arg>2</arg><arg>3</arg><arg>4</arg>"
        "<env name=\"A\" value=\"${HOME:-a}\"/>"
        "<env name=\"B\" value=\"${HOME:-b}\"/>"
        "<env name=\"C\" value=\"${HOME:-c}\"/>"
        "<restart delay=\"1s\" max-delay=\"2s\"/>"
        "<stop timeout=\"3s\"/></service>\n", i);
  APR_ARRAY_PUSH(parts, const char *) = "<bogus/>\n</vigil>\n";
  return apr_array_pstrcat(vt_pool(t), parts, 0);
}

/* A reload reads the file on the work queue: the supervisor answers
 * status while a reload of a large file is being read.  (Read on the
 * loop thread, the status could only be answered after the reload.)
 * The file is read for about a second here, a status takes a few
 * milliseconds: the order of the answers is what is checked. */
static void test_status_during_reload(void) {
  vt_t *t = vt_begin("reload-busy");
  const char *cfg;
  pending_t *p;
  svc_json_t *st;
  int answered = 0;
  if (!t)
    return;
  VT_REQUIRE((cfg = start_one(t)) != NULL);
  VT_REQUIRE(vt_write_file(t, cfg, slow_bad_config(t, 12000)) == 0);
  vt_use_control(t, 1);
  p = pend_start(t, "{\"cmd\":\"reload\"}");
  while (!p->done && (st = vt_status(t)) != NULL) {
    if (!p->done)
      answered++;
    if (answered >= 2)
      break;
  }
  CU_ASSERT(answered >= 1);
  while (!p->done)
    vt_sleep(t, 20);
  CU_ASSERT(vt_contains(p->buf, "\"ok\":false"));
  CU_ASSERT(vt_contains(p->buf, "unknown element <bogus>"));
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "running");
  vg_close((vg_handle_t *)&p->pipe, NULL);
  vt_end(t);
}

/* An include that names a FIFO or a device: the reload is refused at
 * once with FILE:LINE, and the supervisor goes on (it used to hang in
 * the read, with its loop). */
static void test_reload_special_include(void) {
#if defined(_WIN32)
  fprintf(stderr, "\n    (POSIX only: no FIFOs or /dev/zero on Windows) ");
#else
  vt_t *t = vt_begin("reload-fifo");
  const char *cfg, *fifo;
  vt_res_t *r;
  if (!t)
    return;
  VT_REQUIRE((cfg = start_one(t)) != NULL);
  fifo = vt_path(t, "fifo.xml");
  VT_REQUIRE(apr_file_namedpipe_create(fifo, APR_FPROT_UREAD |
                                                 APR_FPROT_UWRITE,
                                       vt_pool(t)) == APR_SUCCESS);
  VT_REQUIRE(vt_write_file(
                 t, cfg,
                 apr_psprintf(vt_pool(t),
                              "<vigil>\n"
                              "  <supervisor><state-dir>%s</state-dir>"
                              "</supervisor>\n"
                              "  <include file=\"fifo.xml\"/>\n"
                              "  <include file=\"/dev/zero\"/>\n"
                              "</vigil>\n",
                              vt_xml(t, vt_path(t, "state")))) == 0);
  r = vt_vigil(t, 5000, "reload", "-c", cfg, NULL);
  CU_ASSERT(!r->timed_out);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(has_error_line(r->err, cfg, 3));
  CU_ASSERT(has_error_line(r->err, cfg, 4));
  CU_ASSERT(vt_contains(r->err, "it is a FIFO"));
  CU_ASSERT(vt_contains(r->err, "it is a character device"));
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "running");
  vt_end(t);
#endif
}

#if !defined(_WIN32)
/* POSIX-only: Windows has no SIGHUP (a "signal" there ends the process);
 * `vigil reload`, above, is its way. */
static void test_sighup_reloads(void) {
  vt_t *t = vt_begin("sighup");
  const char *cfg;
  long pa;
  if (!t)
    return;
  VT_REQUIRE((cfg = start_one(t)) != NULL);
  pa = vt_pid(t, "a");

  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "b", READY_FAST, "sleep", "30000", NULL), NULL);
  CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGHUP), 0);
  CU_ASSERT_PTR_NOT_NULL(vt_wait_state(t, "b", "running", VT_WAIT_MS));
  CU_ASSERT_EQUAL(vt_pid(t, "a"), pa);

  /* An invalid file on SIGHUP: logged with its lines, nothing changes. */
  VT_REQUIRE(vt_write_file(t, cfg, bad_config(t)) == 0);
  CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGHUP), 0);
  CU_ASSERT(vt_wait_log(t, apr_psprintf(vt_pool(t), "%s:12: error: ", cfg),
                        VT_WAIT_MS));
  CU_ASSERT(vt_wait_log(t, apr_psprintf(vt_pool(t), "%s:15: error: ", cfg),
                        2000));
  CU_ASSERT(vt_sup_running(t));
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "running");
  CU_ASSERT_STRING_EQUAL(vt_state(t, "b"), "running");
  CU_ASSERT_EQUAL(vt_pid(t, "a"), pa);
  vt_end(t);
}
#endif

static CU_TestInfo vigil_reload_tests[] = {
    {"reload: add, remove, change, keep", test_reload_applies_diff},
    {"reload: an invalid file is refused", test_reload_invalid_refused},
    {"reload: status is answered while a reload reads",
     test_status_during_reload},
    {"reload: an include of a FIFO or device is refused",
     test_reload_special_include},
#if !defined(_WIN32)
    {"SIGHUP reloads (and refuses a bad file)", test_sighup_reloads},
#endif
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_reload_suite = {.pName = "vigil_reload",
                                   .pInitFunc = NULL,
                                   .pCleanupFunc = NULL,
                                   .pSetUpFunc = NULL,
                                   .pTearDownFunc = NULL,
                                   .pTests = vigil_reload_tests};
