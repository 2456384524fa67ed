/*
 * test_vigil_control.c -- the control endpoint, spoken to directly (suite
 * vigil_control): a malformed line, a line over 64 KiB, a request that is
 * not an object with a known "cmd" each get an error reply and the
 * connection closed, and the supervisor answers the next client as if
 * nothing happened; an unknown service is an error; requests on one
 * connection are answered in order; a CLI with no supervisor to talk to
 * exits 4.
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

/* The reply line parsed; NULL if it is not one JSON object. */
static svc_json_t *parse_line(vt_t *t, const char *reply) {
  const char *nl = strchr(reply, '\n');
  svc_json_t *v = NULL;
  svc_json_error_t jerr;
  if (!nl)
    return NULL;
  if (svc_json_parse(&v, reply, (size_t)(nl - reply), vt_pool(t), &jerr) !=
          APR_SUCCESS ||
      svc_json_type(v) != SVC_JSON_OBJECT)
    return NULL;
  return v;
}

static int is_error_reply(const svc_json_t *v) {
  int ok = 1;
  return v && svc_json_bool(svc_json_get(v, "ok"), &ok) && !ok &&
         svc_json_string(svc_json_get(v, "error")) != NULL;
}

/* The supervisor still answers a fresh client, and its service is as it
 * was. */
static void still_fine(vt_t *t, long pid) {
  svc_json_t *st = vt_status(t);
  CU_ASSERT_PTR_NOT_NULL(st);
  CU_ASSERT_STRING_EQUAL(vt_sfield(vt_svc_of(st, "a"), "state"), "running");
  CU_ASSERT_EQUAL(vt_ifield(vt_svc_of(st, "a"), "pid"), pid);
}

static vt_t *start(const char *tag, long *pid) {
  vt_t *t = vt_begin(tag);
  const svc_json_t *s;
  if (!t)
    return NULL;
  vt_config(t, "vigil.xml", vt_svc(t, "a", READY_FAST, "sleep", "30000",
                                   NULL),
            NULL);
  if (!vt_sup_start_ready(t, vt_path(t, "vigil.xml")) ||
      !(s = vt_wait_state(t, "a", "running", VT_WAIT_MS))) {
    CU_FAIL("the supervisor did not come up");
    vt_end(t);
    return NULL;
  }
  *pid = (long)vt_ifield(s, "pid");
  return t;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_malformed_json(void) {
  static const char *const bad[] = {
      "{not json\n",
      "{\"cmd\":\"status\"\n",             /* truncated */
      "[1,2,3]\n",                         /* not an object */
      "{\"name\":\"a\"}\n",                /* no cmd */
      "{\"cmd\":42}\n",                    /* cmd not a string */
      "{\"cmd\":\"status\",\"cmd\":\"stop\"}\n",   /* duplicate key */
      "\xff\xfe\n",                        /* not UTF-8 */
      NULL};
  const char *reply;
  long pid;
  int closed, i;
  vt_t *t = start("ctl-bad", &pid);
  if (!t)
    return;
  for (i = 0; bad[i]; i++) {
    int rc = vt_control_raw(t, bad[i], strlen(bad[i]), 0, 5000, &reply,
                            &closed);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(is_error_reply(parse_line(t, reply)));
    CU_ASSERT(closed);   /* and then the connection is closed */
    /* one reply only */
    CU_ASSERT(strchr(reply, '\n') && strchr(reply, '\n')[1] == '\0');
  }
  still_fine(t, pid);
  vt_end(t);
}

static void test_oversized_line(void) {
  const size_t big = 70 * 1024;
  char *data;
  const char *reply;
  long pid;
  int closed, rc;
  vt_t *t = start("ctl-big", &pid);
  if (!t)
    return;
  data = apr_palloc(vt_pool(t), big + 1);
  /* A request whose line never ends within the limit ... */
  memset(data, ' ', big);
  memcpy(data, "{\"cmd\":\"status\",\"pad\":\"", 24);
  memset(data + 24, 'x', big - 24);
  rc = vt_control_raw(t, data, big, 0, 5000, &reply, &closed);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT(is_error_reply(parse_line(t, reply)));
  CU_ASSERT(closed);
  still_fine(t, pid);
  /* ... and one that does end, too late. */
  data[big - 1] = '\n';
  rc = vt_control_raw(t, data, big, 0, 5000, &reply, &closed);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT(is_error_reply(parse_line(t, reply)));
  CU_ASSERT(closed);
  still_fine(t, pid);
  vt_end(t);
}

static void test_unknown_command_and_service(void) {
  const char *reply, *req;
  svc_json_t *v;
  vt_res_t *r;
  long pid;
  int closed, rc;
  vt_t *t = start("ctl-unk", &pid);
  if (!t)
    return;
  req = "{\"cmd\":\"frobnicate\"}\n";
  rc = vt_control_raw(t, req, strlen(req), 1, 5000, &reply, &closed);
  CU_ASSERT_EQUAL(rc, 0);
  v = parse_line(t, reply);
  CU_ASSERT(is_error_reply(v));
  CU_ASSERT(vt_contains(svc_json_string(svc_json_get(v, "error")),
                        "frobnicate"));

  req = "{\"cmd\":\"status\",\"name\":\"nosuch\"}\n";
  rc = vt_control_raw(t, req, strlen(req), 1, 5000, &reply, &closed);
  CU_ASSERT_EQUAL(rc, 0);
  v = parse_line(t, reply);
  CU_ASSERT(is_error_reply(v));
  CU_ASSERT(vt_contains(svc_json_string(svc_json_get(v, "error")), "nosuch"));

  req = "{\"cmd\":\"stop\",\"name\":\"nosuch\"}\n";
  rc = vt_control_raw(t, req, strlen(req), 1, 5000, &reply, &closed);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT(is_error_reply(parse_line(t, reply)));

  /* The CLI says so, and fails. */
  r = vt_cli(t, "status", "nosuch", NULL);
  CU_ASSERT(r->code != 0 && r->code != 4);
  CU_ASSERT(vt_contains(r->err, "nosuch"));
  r = vt_cli(t, "status", "a", "--json", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "\"a\""));
  still_fine(t, pid);
  vt_end(t);
}

/* Several requests on one connection (and CRLF line ends): one reply
 * each, in order; a client that goes away mid-line harms nothing. */
static void test_pipelined_and_partial(void) {
  const char *reply, *req, *second;
  svc_json_t *v;
  long pid;
  int closed, rc;
  vt_t *t = start("ctl-pipe", &pid);
  if (!t)
    return;
  req = "{\"cmd\":\"version\"}\r\n{\"cmd\":\"status\",\"name\":\"a\"}\n";
  rc = vt_control_raw(t, req, strlen(req), 2, 5000, &reply, &closed);
  CU_ASSERT_EQUAL(rc, 0);
  v = parse_line(t, reply);
  CU_ASSERT_PTR_NOT_NULL(svc_json_get(v, "version"));
  second = strchr(reply, '\n');
  v = second ? parse_line(t, second + 1) : NULL;
  CU_ASSERT_PTR_NOT_NULL(vt_svc_of(v, "a"));
  CU_ASSERT_EQUAL(svc_json_size(svc_json_get(v, "services")), 1);

  /* Half a request, then the client is gone. */
  req = "{\"cmd\":\"sta";
  vt_control_raw(t, req, strlen(req), 1, 200, &reply, &closed);
  CU_ASSERT_STRING_EQUAL(reply, "");
  still_fine(t, pid);
  vt_end(t);
}

/* Replies come in the order of the requests, also when the first waits
 * for a service: a start with "wait" of a service ready 700 ms after its
 * start, then a version in the same write.  The version's reply must not overtake
 * the start's (a client reading replies in order would take it for the
 * start's answer). */
static void test_pipelined_behind_wait(void) {
  const char *reply, *req, *second;
  svc_json_t *v;
  int closed, rc, ok = 0;
  vt_t *t = vt_begin("ctl-pipe-wait");
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "slow",
                   "<ready after=\"700ms\"/><autostart>false</autostart>\n",
                   "sleep", "30000", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  req = "{\"cmd\":\"start\",\"name\":\"slow\",\"wait\":true}\n"
        "{\"cmd\":\"version\"}\n";
  rc = vt_control_raw(t, req, strlen(req), 2, 10000, &reply, &closed);
  CU_ASSERT_EQUAL(rc, 0);
  v = parse_line(t, reply);
  VT_REQUIRE(v != NULL);
  CU_ASSERT_PTR_NULL(svc_json_get(v, "version"));
  CU_ASSERT(svc_json_bool(svc_json_get(v, "ok"), &ok) && ok);
  CU_ASSERT_PTR_NOT_NULL(vt_svc_of(v, "slow"));
  second = strchr(reply, '\n');
  v = second ? parse_line(t, second + 1) : NULL;
  CU_ASSERT_PTR_NOT_NULL(v ? svc_json_get(v, "version") : NULL);
  if (!v || !svc_json_get(v, "version"))
    fprintf(stderr, "\n  replies: %s", reply);
  vt_end(t);
}

/* Nobody there: exit 4, for a config never run, for an endpoint that does
 * not exist, and for the socket a killed supervisor left behind. */
static void test_unreachable(void) {
  vt_t *t = vt_begin("ctl-none");
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml", vt_svc(t, "a", READY_FAST, "sleep", "30000",
                                   NULL),
            NULL);
  r = vt_cli(t, "status", NULL);
  CU_ASSERT_EQUAL(r->code, 4);
  CU_ASSERT(r->err_len > 0);
  CU_ASSERT_EQUAL(vt_cli(t, "status", "--json", NULL)->code, 4);
  CU_ASSERT_EQUAL(vt_cli(t, "stop", "a", NULL)->code, 4);
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 4);
  CU_ASSERT_EQUAL(vt_cli(t, "reload", NULL)->code, 4);
  r = vt_vigil(t, 10000, "status", "--control",
               vt_path(t, "no/such.sock"), NULL);
  CU_ASSERT_EQUAL(r->code, 4);

  /* A supervisor killed -9 leaves its socket file: still 4. */
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGKILL), 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 5000), -2);
  r = vt_cli(t, "status", NULL);
  CU_ASSERT_EQUAL(r->code, 4);
  vt_end(t);
}

#if !defined(_WIN32)
/* Another user.  The socket is mode 0600, so they cannot even connect;
 * behind that the supervisor checks each peer's uid (SO_PEERCRED).  To
 * reach that check the test opens the socket (and the directories it
 * made above it) to everyone, then connects as nobody (65534), from a
 * copy of the test binary that nobody can run wherever the build tree
 * is (vt_child_as): an error reply, the connection closed, and the
 * supervisor serves its own user as before.  Running a child as another
 * user needs root (CI runs as root); as anyone else only the mode is
 * checked, and the test says so.  POSIX: the Windows pipe's DACL is
 * vigil_win's. */
static void test_other_user_refused(void) {
  apr_finfo_t fi;
  vt_res_t *r;
  const char *sock, *why;
  long pid;
  vt_t *t = start("ctl-user", &pid);
  if (!t)
    return;
  sock = vt_control_path(t);
  VT_REQUIRE(apr_stat(&fi, sock, APR_FINFO_PROT, vt_pool(t)) == APR_SUCCESS);
  CU_ASSERT_EQUAL(fi.protection, APR_FPROT_UREAD | APR_FPROT_UWRITE);
  if (pal_geteuid() != 0) {
    vg_test_skip("ctl-user", "not root: the peer check of another user "
                 "was not exercised (only the socket's mode was)");
    vt_end(t);
    return;
  }
  CU_ASSERT_EQUAL(apr_file_perms_set(vt_path(t, NULL), APR_FPROT_OS_DEFAULT),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(apr_file_perms_set(vt_path(t, "state"),
                                     APR_FPROT_OS_DEFAULT),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(apr_file_perms_set(sock, APR_FPROT_OS_DEFAULT),
                  APR_SUCCESS);
  /* Above the fixture's directory is the temp dir ($TMPDIR, /tmp). */
  if ((why = vt_unreachable(t, sock)) != NULL) {
    fprintf(stderr, "\n  [ctl-user] uid 65534 cannot reach %s: %s; use a "
            "TMPDIR that others may search\n", sock, why);
    CU_FAIL("the control socket is out of another user's reach");
    vt_end(t);
    return;
  }
  r = vt_child_as(t, 65534, 65534, "control-send", sock,
                  "{\"cmd\":\"status\"}", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(is_error_reply(parse_line(t, r->out)));
  CU_ASSERT(vt_contains(r->out, "permission denied"));
  CU_ASSERT(vt_contains(r->out, "\n<closed>\n"));
  CU_ASSERT(!vt_contains(r->out, "\"services\""));
  still_fine(t, pid);
  vt_end(t);
}
#endif

/* `vigil status --json` has the fields docs/control.md names, with the right
 * types and values; the table names every service. */
static void test_status_json_shape(void) {
  static const char *const keys[] = {"name", "state", "pid", "restarts",
                                     "uptime_ms", "last_exit", NULL};
  const svc_json_t *sup, *sa, *sx, *le;
  svc_json_t *st;
  vt_res_t *r;
  uint64_t u;
  long pid;
  int i;
  vt_t *t = vt_begin("ctl-json");
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "x", "<restart policy=\"never\"/>\n    " READY_FAST,
                   "exit", "5", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL);
  VT_REQUIRE(vt_wait_state(t, "x", "exited", VT_WAIT_MS) != NULL);
  vt_sleep(t, 50);
  st = vt_status(t);
  VT_REQUIRE(st != NULL);
  sup = svc_json_get(st, "supervisor");
  CU_ASSERT_EQUAL(vt_ifield(sup, "pid"), vt_sup_pid(t));
  CU_ASSERT_PTR_NOT_NULL(vt_sfield(sup, "version"));
  CU_ASSERT_STRING_EQUAL(vt_sfield(sup, "backend") ? vt_sfield(sup, "backend")
                                                   : "",
                         vg_backend());
  CU_ASSERT(svc_json_uint(svc_json_get(sup, "uptime_ms"), &u) && u > 0);
  CU_ASSERT_STRING_EQUAL(vt_sfield(sup, "config") ? vt_sfield(sup, "config")
                                                  : "",
                         vt_path(t, "vigil.xml"));
  CU_ASSERT_EQUAL(svc_json_size(svc_json_get(st, "services")), 2);
  sa = vt_svc_of(st, "a");
  sx = vt_svc_of(st, "x");
  for (i = 0; keys[i]; i++) {
    CU_ASSERT_PTR_NOT_NULL(svc_json_get(sa, keys[i]));
    CU_ASSERT_PTR_NOT_NULL(svc_json_get(sx, keys[i]));
  }
  pid = (long)vt_ifield(sa, "pid");
  CU_ASSERT(pid > 0 && vt_pid_alive(pid));
  CU_ASSERT(svc_json_uint(svc_json_get(sa, "uptime_ms"), &u) && u >= 100);
  CU_ASSERT(svc_json_is_null(svc_json_get(sa, "last_exit")));
  CU_ASSERT_EQUAL(vt_ifield(sa, "restarts"), 0);
  CU_ASSERT(svc_json_is_null(svc_json_get(sx, "pid")));
  CU_ASSERT(svc_json_uint(svc_json_get(sx, "uptime_ms"), &u) && u == 0);
  le = svc_json_get(sx, "last_exit");
  CU_ASSERT_EQUAL(vt_ifield(le, "code"), 5);
  CU_ASSERT(svc_json_is_null(svc_json_get(le, "signal")));
  CU_ASSERT(vt_ifield(le, "at_ms") > 1600000000000LL);

  /* The table: a header and one row per service. */
  r = vt_cli(t, "status", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_count_lines(r->out, "running") == 1);
  CU_ASSERT(vt_count_lines(r->out, "exited") == 1);
  CU_ASSERT(vt_contains(r->out, apr_psprintf(vt_pool(t), "%ld", pid)));
  /* One service by name. */
  r = vt_cli(t, "status", "x", "--json", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "\"exited\""));
  CU_ASSERT(!vt_contains(r->out, "\"running\""));
  /* version */
  r = vt_vigil(t, 10000, "version", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, vg_backend()));
  vt_end(t);
}

#ifdef __linux__
/* A kernel that refuses io_uring (here io_uring_setup fails with EPERM,
 * as with kernel.io_uring_disabled or Docker's seccomp profile): vigil
 * starts on epoll and says why in its start line, the only line about
 * it, and `vigil version` says the same. */
static void test_backend_refused(void) {
  const char *argv[9], *cfg, *log, *be;
  const char *why = "io_uring unavailable: io_uring_setup failed: "
                    "Operation not permitted";
  svc_json_t *st;
  vt_res_t *r;
  vt_t *t = vt_begin("backend-refused");
  if (!t)
    return;
  /* libvigil's own answer (process backend_refused checks it): none in
   * a build without io_uring (kernel headers before 5.19). */
  r = vt_run(t, 10000, vt_self(t), "--child", "refuse-exec", "disabled",
             vt_self(t), "--child", "backend", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  if (!vt_contains(r->out, why))
    why = NULL;
  r = vt_run(t, 10000, vt_self(t), "--child", "refuse-exec", "disabled",
             vt_vigil_bin(), "version", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, why ? apr_psprintf(vt_pool(t),
                                                   "(linux, epoll backend; "
                                                   "%s)\n", why)
                                    : "(linux, epoll backend)\n"));
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL), NULL);
  argv[0] = vt_self(t);
  argv[1] = "--child";
  argv[2] = "refuse-exec";
  argv[3] = "disabled";
  argv[4] = vt_vigil_bin();
  argv[5] = "run";
  argv[6] = "-c";
  argv[7] = cfg;
  argv[8] = NULL;
  VT_REQUIRE(vt_sup_start_argv(t, cfg, argv) == 0);
  VT_REQUIRE(vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL);
  st = vt_status(t);
  VT_REQUIRE(st != NULL);
  be = vt_sfield(svc_json_get(st, "supervisor"), "backend");
  CU_ASSERT_STRING_EQUAL(be ? be : "", "epoll");
  log = vt_sup_log(t);
  CU_ASSERT_EQUAL(vt_count_lines(log, "io_uring"), why ? 1 : 0);
  if (why)
    CU_ASSERT(vt_contains(log, apr_psprintf(vt_pool(t), "(epoll; %s) started "
                                            "with", why)));
  r = vt_cli(t, "shutdown", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, VT_WAIT_MS), 0);
  vt_end(t);
}
#endif

static CU_TestInfo vigil_control_tests[] = {
    {"status --json: control.md's fields", test_status_json_shape},
    {"malformed requests: error reply, closed", test_malformed_json},
    {"a line over 64 KiB: error reply, closed", test_oversized_line},
    {"unknown command / service: error", test_unknown_command_and_service},
    {"pipelined requests; a client gone mid-line", test_pipelined_and_partial},
    {"pipelined behind a start with wait: replies in order",
     test_pipelined_behind_wait},
    {"no supervisor: exit 4", test_unreachable},
#if !defined(_WIN32)
    {"another user: refused by the peer check", test_other_user_refused},
#endif
#ifdef __linux__
    {"io_uring refused: epoll, said once", test_backend_refused},
#endif
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_control_suite = {.pName = "vigil_control",
                                    .pInitFunc = NULL,
                                    .pCleanupFunc = NULL,
                                    .pSetUpFunc = NULL,
                                    .pTearDownFunc = NULL,
                                    .pTests = vigil_control_tests};
