/*
 * test_vigil_deps.c -- ordering, readiness and health (suite vigil_deps):
 * a service starts only once what it depends on is running and stops
 * before it, and restarts when it restarts; ready tcp waits for the port, ready notify for READY=1 on
 * $NOTIFY_SOCKET, and a start that never becomes ready fails after the
 * timeout; a tcp health check that keeps failing restarts the service.
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#if defined(__linux__)
#include <sys/socket.h>
#include <unistd.h>
#endif

static int pid_not(const svc_json_t *s, void *arg) {
  int64_t pid = vt_ifield(s, "pid");
  const char *st = vt_sfield(s, "state");
  return pid > 0 && pid != *(long *)arg && st && !strcmp(st, "running");
}

static int is_state(const svc_json_t *s, const char *state) {
  const char *st = vt_sfield(s, "state");
  return st && strcmp(st, state) == 0;
}

/* Poll for `ms`: the service stays in `state` the whole time. */
static int stays(vt_t *t, const char *name, const char *state,
                 uint64_t ms) {
  uint64_t deadline = vt_now_ms() + ms;
  while (vt_now_ms() < deadline) {
    const svc_json_t *s = vt_svc_of(vt_status(t), name);
    if (!is_state(s, state))
      return 0;
    vt_sleep(t, 30);
  }
  return 1;
}

static int touch(vt_t *t, const char *path) {
  return vt_write_file(t, path, "go\n");
}

/* ---- tests ------------------------------------------------------------------ */

/* How long a takes to be ready in test_dependency_order: long enough for
 * a few status polls to see b waiting.  Under Wine each poll (a vigil.exe
 * run) takes 100 ms and more, and so does the supervisor's start. */
#if defined(_WIN32)
#define A_READY "1500ms"
#else
#define A_READY "400ms"
#endif

static void test_dependency_order(void) {
  vt_t *t = vt_begin("deps");
  const svc_json_t *sa, *sb;
  svc_json_t *st;
  uint64_t deadline;
  const char *log;
  long started_b, running_a, stopped_a, stopped_b;
  int violations = 0, seen_waiting = 0;
  if (!t)
    return;
  /* b is listed first: the order comes from depends-on, not the file. */
  vt_config(t, "vigil.xml",
            vt_svc(t, "b",
                   "<depends-on>a</depends-on>\n"
                   "    <ready after=\"100ms\"/>\n"
                   "    <stop timeout=\"300ms\"/>\n",
                   "ignore-term", NULL),
            vt_svc(t, "a", "<ready after=\"" A_READY "\"/>\n", "sleep",
                   "30000", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  /* While a is not running, b has not even been started. */
  deadline = vt_now_ms() + VT_WAIT_MS;
  for (;;) {
    st = vt_status(t);
    sa = vt_svc_of(st, "a");
    sb = vt_svc_of(st, "b");
    if (is_state(sa, "running"))
      break;
    if (!is_state(sb, "stopped") || vt_ifield(sb, "pid") != -1)
      violations++;
    if (vt_contains(vt_sfield(sb, "reason"), "a"))
      seen_waiting = 1;
    if (vt_now_ms() > deadline)
      break;
    vt_sleep(t, 20);
  }
  CU_ASSERT_EQUAL(violations, 0);
  CU_ASSERT(seen_waiting);   /* status says what b waits for */
  VT_REQUIRE(vt_wait_state(t, "b", "running", VT_WAIT_MS) != NULL);
  st = vt_status(t);
  sa = vt_svc_of(st, "a");
  sb = vt_svc_of(st, "b");
  /* b was spawned once a had been up for its A_READY (400 ms at least). */
  CU_ASSERT(vt_ifield(sa, "uptime_ms") >= vt_ifield(sb, "uptime_ms") + 350);
  log = vt_sup_log(t);
  running_a = vt_line_offset(log, "a: running", NULL);
  started_b = vt_line_offset(log, "b: started, pid", NULL);
  CU_ASSERT(running_a >= 0 && started_b >= 0);
  CU_ASSERT(running_a < started_b);

  /* Shutdown: b (which ignores TERM: 300 ms until it is killed) goes down
   * before a is even asked to. */
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  log = vt_sup_log(t);
  stopped_b = vt_line_offset(log, "b: killed after the stop timeout", NULL);
  stopped_a = vt_line_offset(log, "service: a: ", "stop");
  CU_ASSERT(stopped_b >= 0 && stopped_a >= 0);
  CU_ASSERT(stopped_b < stopped_a);
  vt_end(t);
}

/* stop a takes b down first; start b brings a up first. */
static void test_dependency_commands(void) {
  vt_t *t = vt_begin("depcmd");
  const char *log;
  long off_b, off_a;
  size_t mark;
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", "<ready after=\"100ms\"/>\n", "sleep", "30000",
                   NULL),
            vt_svc(t, "b",
                   "<depends-on>a</depends-on>\n"
                   "    <ready after=\"100ms\"/>\n"
                   "    <stop timeout=\"300ms\"/>\n",
                   "ignore-term", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "b", "running", VT_WAIT_MS) != NULL);
  mark = strlen(vt_sup_log(t));
  r = vt_cli(t, "stop", "a", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "stopped");
  CU_ASSERT_STRING_EQUAL(vt_state(t, "b"), "stopped");
  log = vt_sup_log(t) + mark;
  off_b = vt_line_offset(log, "b: killed after the stop timeout", NULL);
  off_a = vt_line_offset(log, "service: a: ", "stop");
  CU_ASSERT(off_b >= 0 && off_a >= 0 && off_b < off_a);

  mark = strlen(vt_sup_log(t));
  r = vt_cli(t, "start", "b", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "running");
  CU_ASSERT_STRING_EQUAL(vt_state(t, "b"), "running");
  log = vt_sup_log(t) + mark;
  off_a = vt_line_offset(log, "a: running", NULL);
  off_b = vt_line_offset(log, "b: started, pid", NULL);
  CU_ASSERT(off_a >= 0 && off_b >= 0 && off_a < off_b);
  vt_end(t);
}

/* restart a restarts what depends on it, transitively (c on b on a):
 * c and b stop before a, a starts before b, b before c, and all three
 * run new processes when `vigil restart a` has returned. */
static void test_restart_cascade(void) {
  vt_t *t = vt_begin("deprestart");
  const char *log;
  long pa, pb, pc, stop_a, stop_b, stop_c, start_a, run_a, start_b, run_b,
      start_c;
  const svc_json_t *s;
  size_t mark;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "c",
                   "<depends-on>b</depends-on>\n    " READY_FAST,
                   "sleep", "30000", NULL),
            vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "b",
                   "<depends-on>a</depends-on>\n"
                   "    <stop timeout=\"300ms\"/>\n    " READY_FAST,
                   "ignore-term", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "c", "running", VT_WAIT_MS) != NULL);
  pa = vt_pid(t, "a");
  pb = vt_pid(t, "b");
  pc = vt_pid(t, "c");
  VT_REQUIRE(pa > 0 && pb > 0 && pc > 0);
  mark = strlen(vt_sup_log(t));
  CU_ASSERT_EQUAL(vt_cli(t, "restart", "a", NULL)->code, 0);
  s = vt_svc_of(vt_status(t), "a");
  CU_ASSERT(is_state(s, "running"));
  CU_ASSERT(vt_ifield(s, "pid") > 0 && vt_ifield(s, "pid") != pa);
  CU_ASSERT_PTR_NOT_NULL(vt_wait_svc(t, "b", pid_not, &pb, VT_WAIT_MS));
  CU_ASSERT_PTR_NOT_NULL(vt_wait_svc(t, "c", pid_not, &pc, VT_WAIT_MS));
  CU_ASSERT(vt_wait_pid_gone(t, pa, 1000));
  CU_ASSERT(vt_wait_pid_gone(t, pb, 1000));
  CU_ASSERT(vt_wait_pid_gone(t, pc, 1000));

  log = vt_sup_log(t) + mark;
  stop_c = vt_line_offset(log, "service: c: ", "stop");
  stop_b = vt_line_offset(log, "b: killed after the stop timeout", NULL);
  stop_a = vt_line_offset(log, "service: a: ", "stop");
  start_a = vt_line_offset(log, "a: started, pid", NULL);
  run_a = vt_line_offset(log, "a: running", NULL);
  start_b = vt_line_offset(log, "b: started, pid", NULL);
  run_b = vt_line_offset(log, "b: running", NULL);
  start_c = vt_line_offset(log, "c: started, pid", NULL);
  CU_ASSERT(stop_c >= 0 && stop_b >= 0 && stop_a >= 0);
  CU_ASSERT(stop_c < stop_a && stop_b < stop_a);   /* dependents first */
  CU_ASSERT(stop_a < start_a);
  CU_ASSERT(start_a >= 0 && run_a > start_a);
  CU_ASSERT(start_b > run_a && run_b > start_b);   /* then in order */
  CU_ASSERT(start_c > run_b);
  /* The dependency's restart counts as none of their own. */
  CU_ASSERT_EQUAL(vt_ifield(vt_svc_of(vt_status(t), "b"), "restarts"), 0);
  vt_end(t);
}

/* A reload that changes a restarts it as `vigil restart a` would: b,
 * which depends on it, stops before it and starts after it. */
static void test_reload_restart_cascade(void) {
  vt_t *t = vt_begin("depreload");
  const char *log;
  long pa, pb, stop_a, stop_b, run_a, start_b;
  size_t mark;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "b", "<depends-on>a</depends-on>\n    " READY_FAST,
                   "sleep", "30000", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "b", "running", VT_WAIT_MS) != NULL);
  pa = vt_pid(t, "a");
  pb = vt_pid(t, "b");
  mark = strlen(vt_sup_log(t));
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "30001", NULL),
            vt_svc(t, "b", "<depends-on>a</depends-on>\n    " READY_FAST,
                   "sleep", "30000", NULL),
            NULL);
  CU_ASSERT_EQUAL(vt_cli(t, "reload", NULL)->code, 0);
  CU_ASSERT_PTR_NOT_NULL(vt_wait_svc(t, "a", pid_not, &pa, VT_WAIT_MS));
  CU_ASSERT_PTR_NOT_NULL(vt_wait_svc(t, "b", pid_not, &pb, VT_WAIT_MS));
  log = vt_sup_log(t) + mark;
  stop_b = vt_line_offset(log, "service: b: ", "stop");
  stop_a = vt_line_offset(log, "service: a: ", "stop");
  run_a = vt_line_offset(log, "a: running", NULL);
  start_b = vt_line_offset(log, "b: started, pid", NULL);
  CU_ASSERT(stop_b >= 0 && stop_a > stop_b);
  CU_ASSERT(run_a > stop_a && start_b > run_a);
  vt_end(t);
}

/* ready tcp: starting until the port accepts, then running. */
static void test_ready_tcp(void) {
  vt_t *t = vt_begin("readytcp");
  const char *go;
  char *out;
  if (!t)
    return;
  go = vt_path(t, "go");
  VT_REQUIRE(vt_fixture_service(
      t, "srv", "<ready tcp=\"127.0.0.1:{port}\" timeout=\"20s\"/>\n",
      "tcp-listen", go, "-", NULL));
  VT_REQUIRE(vt_wait_state(t, "srv", "starting", VT_WAIT_MS) != NULL);
  /* Well past the default 1 s of "after": not ready without the port. */
  CU_ASSERT(stays(t, "srv", "starting", 1300));
  VT_REQUIRE(touch(t, go) == 0);
  CU_ASSERT_PTR_NOT_NULL(vt_wait_state(t, "srv", "running", VT_WAIT_MS));
  out = vt_read_file(t, vt_path(t, "logs/srv.out.log"), NULL);
  CU_ASSERT(vt_contains(out, "listening on"));
  vt_end(t);
}

#if !defined(_WIN32)
/* ready notify: running on READY=1; never sent -> a failed start after
 * the timeout (counted: with max-restarts 1 it ends fatal).  POSIX-only:
 * systemd's notify protocol is a Unix datagram socket. */
static void test_ready_notify(void) {
  vt_t *t = vt_begin("notify");
  const svc_json_t *s;
  const char *go;
  char *out;
  if (!t)
    return;
  go = vt_path(t, "go");
  vt_config(t, "vigil.xml",
            vt_svc(t, "nfy", "<ready notify=\"true\" timeout=\"20s\"/>\n",
                   "notify", go, NULL),
            vt_svc(t, "mute",
                   "<ready notify=\"true\" timeout=\"300ms\"/>\n"
                   "    <stop timeout=\"300ms\"/>\n"
                   "    <restart policy=\"on-failure\" delay=\"50ms\" "
                   "max-restarts=\"1\" window=\"20s\"/>\n",
                   "sleep", "30000", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "nfy", "starting", VT_WAIT_MS) != NULL);
  CU_ASSERT(stays(t, "nfy", "starting", 1300));
  VT_REQUIRE(touch(t, go) == 0);
  CU_ASSERT_PTR_NOT_NULL(vt_wait_state(t, "nfy", "running", VT_WAIT_MS));
  out = vt_read_file(t, vt_path(t, "logs/nfy.out.log"), NULL);
  CU_ASSERT(vt_contains(out, "sent READY=1"));

  /* mute never says READY=1. */
  CU_ASSERT(vt_wait_log(t, "mute: not ready within 300 ms", VT_WAIT_MS));
  s = vt_svc_of(vt_status(t), "mute");
  CU_ASSERT(!is_state(s, "running"));
  s = vt_wait_state(t, "mute", "fatal", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL(s);
  if (s) {
    CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 1);
    CU_ASSERT(vt_contains(vt_sfield(s, "reason"), "ready"));
  } else {
    s = vt_svc_of(vt_status(t), "mute");
    fprintf(stderr, "\n  [notify] mute: state %s, restarts %lld, "
                    "reason %s, %d starts\n",
            vt_sfield(s, "state"), (long long)vt_ifield(s, "restarts"),
            vt_sfield(s, "reason") ? vt_sfield(s, "reason") : "null",
            vt_count_lines(vt_sup_log(t), "mute: started, pid"));
  }
  vt_end(t);
}
#endif

#if defined(__linux__)
/* Send msg from this test process to the local datagram socket `name`. */
static int dgram_send(const char *name, const char *msg) {
  vg_addr_t a;
  ssize_t n = -1;
  int fd;
  if (pal_addr_local(&a, name) != APR_SUCCESS)
    return -1;
  if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0)
    return -1;
  n = sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)a.u.bytes,
             (socklen_t)a.len);
  close(fd);
  return n == (ssize_t)strlen(msg) ? 0 : -1;
}

/* A service's notify socket is abstract: any local user reaches it.
 * Only the service's main process may notify (systemd's
 * NotifyAccess=main): READY=1 and STATUS= from this test process, and
 * READY=1 from a process running as nobody (uid 65534; as root only),
 * leave it `starting` until its readiness timeout fails the start (two
 * services, so that each sender is shown to fail alone); one warning
 * (at most one per 10 s per service) names the first sender.  Linux: where
 * the OS cannot name a datagram's sender, the socket file is out of
 * others' reach in the state directory instead. */
static void test_ready_notify_outsiders(void) {
  vt_t *t = vt_begin("notify-outsider");
  const svc_json_t *s;
  const char *sock, *log, *who;
  vt_res_t *r;
  static const char mute[] = "<ready notify=\"true\" timeout=\"6s\"/>\n"
                             "    <stop timeout=\"300ms\"/>\n"
                             "    <restart policy=\"never\"/>\n";
  if (!t)
    return;
  vt_config(t, "vigil.xml", vt_svc(t, "n", mute, "sleep", "30000", NULL),
            vt_svc(t, "m", mute, "sleep", "30000", NULL), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "n", "starting", VT_WAIT_MS) != NULL);
  VT_REQUIRE(vt_wait_state(t, "m", "starting", VT_WAIT_MS) != NULL);
  sock = apr_psprintf(vt_pool(t), "@vigil-%ld-n", vt_sup_pid(t));
  CU_ASSERT_EQUAL(dgram_send(sock, "STATUS=forged\nREADY=1\n"), 0);
  CU_ASSERT(stays(t, "n", "starting", 1000));
  if (pal_geteuid() == 0) {
    r = vt_child_as(t, 65534, 65534, "notify-send",
                    apr_psprintf(vt_pool(t), "@vigil-%ld-m", vt_sup_pid(t)),
                    "READY=1", NULL);
    CU_ASSERT_EQUAL(r->code, 0);
    CU_ASSERT(stays(t, "m", "starting", 1000));
    CU_ASSERT(vt_wait_log(t, "m: notify message from pid", VT_WAIT_MS));
    CU_ASSERT(vt_contains(vt_sup_log(t), "(uid 65534) ignored"));
  } else {
    vg_test_skip("notify-outsider", "not root: READY=1 from another user "
                 "(nobody) was not sent, only this process's");
  }
  CU_ASSERT(vt_wait_log(t, "n: not ready within 6000 ms", VT_WAIT_MS));
  CU_ASSERT(vt_wait_log(t, "m: not ready within 6000 ms", VT_WAIT_MS));
  CU_ASSERT(!is_state(vt_svc_of(vt_status(t), "m"), "running"));
  s = vt_svc_of(vt_status(t), "n");
  CU_ASSERT(s && !is_state(s, "running"));
  CU_ASSERT(s && !vt_contains(vt_sfield(s, "reason"), "forged"));
  log = vt_sup_log(t);
  who = apr_psprintf(vt_pool(t), "n: notify message from pid %ld (uid %ld) "
                     "ignored", (long)pal_getpid(), (long)pal_geteuid());
  CU_ASSERT(vt_contains(log, who));
  CU_ASSERT_EQUAL(vt_count_lines(log, "n: notify message from"), 1);
  if (!vt_contains(log, who))
    fprintf(stderr, "\n  [notify-outsider] no warning \"%s\" in:\n%s\n",
            who, log);
  vt_end(t);
}
#endif

/* The health check of the two cases below: on the service's own port,
 * every 100 ms, two failures restart it. */
#define HEALTH_TCP                                                           \
  "<health type=\"tcp\" target=\"127.0.0.1:{port}\" interval=\"100ms\" "     \
  "timeout=\"500ms\" failures=\"2\"/>\n"

/* A tcp health check whose port closes: after `failures` failures the
 * service is restarted (new pid) and the supervisor logs why. */
static void test_health_tcp_restart(void) {
  vt_t *t = vt_begin("health");
  const svc_json_t *s;
  const char *close_file, *log;
  long p1;
  if (!t)
    return;
  close_file = vt_path(t, "close");
  VT_REQUIRE(vt_fixture_service(
      t, "hl",
      "<ready tcp=\"127.0.0.1:{port}\" timeout=\"20s\"/>\n"
      "    " HEALTH_TCP
      "    <restart delay=\"50ms\"/>\n",
      "tcp-listen", "-", close_file, NULL));
  s = vt_wait_state(t, "hl", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  p1 = (long)vt_ifield(s, "pid");
  /* Healthy: several checks pass, nothing happens. */
  CU_ASSERT(stays(t, "hl", "running", 500));
  CU_ASSERT_EQUAL(vt_pid(t, "hl"), p1);
  CU_ASSERT(!vt_contains(vt_sup_log(t), "health check failed"));

  VT_REQUIRE(touch(t, close_file) == 0);
  s = vt_wait_svc(t, "hl", pid_not, &p1, VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL(s);
  CU_ASSERT(vt_wait_pid_gone(t, p1, 2000));
  log = vt_sup_log(t);
  CU_ASSERT(vt_contains(log, "health check failed (1 of 2)"));
  CU_ASSERT(vt_contains(log, "health check failed (2 of 2)"));
  CU_ASSERT(vt_contains(log, "restarted: health check failed"));
  {
    /* ... and then started it again. */
    long off = vt_line_offset(log, "(2 of 2)", NULL);
    CU_ASSERT(off >= 0 && vt_contains(log + off, "hl: started, pid"));
  }
  /* The new run is healthy again. */
  CU_ASSERT(stays(t, "hl", "running", 400));
  vt_end(t);
}

static int starting_not(const svc_json_t *s, void *arg) {
  int64_t pid = vt_ifield(s, "pid");
  return pid > 0 && pid != *(long *)arg && is_state(s, "starting");
}

/* A restart for failed health checks says so until the new run is
 * ready, not how the old run ended ("stopped by its stop signal"). */
static void test_health_restart_reason(void) {
  vt_t *t = vt_begin("healthwhy");
  const svc_json_t *s;
  const char *close_file;
  long p1;
  if (!t)
    return;
  close_file = vt_path(t, "close");
  VT_REQUIRE(vt_fixture_service(
      t, "hl", "<ready after=\"1500ms\"/>\n    " HEALTH_TCP, "tcp-listen",
      "-", close_file, NULL));
  s = vt_wait_state(t, "hl", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  p1 = (long)vt_ifield(s, "pid");
  VT_REQUIRE(touch(t, close_file) == 0);
  s = vt_wait_svc(t, "hl", starting_not, &p1, VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT(vt_contains(vt_sfield(s, "reason"),
                        "restarted: health check failed 2 times"));
  vt_end(t);
}

static CU_TestInfo vigil_deps_tests[] = {
    {"depends-on: start after, stop before", test_dependency_order},
    {"depends-on: stop/start cascade", test_dependency_commands},
    {"depends-on: restart restarts dependents", test_restart_cascade},
    {"depends-on: a reload's restart restarts dependents",
     test_reload_restart_cascade},
    {"ready tcp: running once the port accepts", test_ready_tcp},
#if !defined(_WIN32)
    {"ready notify: READY=1; none -> failed start", test_ready_notify},
#endif
#if defined(__linux__)
    {"ready notify: READY=1 from outside the service is ignored",
     test_ready_notify_outsiders},
#endif
    {"health tcp: failures restart the service", test_health_tcp_restart},
    {"health restart: the reason says why while starting",
     test_health_restart_reason},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_deps_suite = {.pName = "vigil_deps",
                                 .pInitFunc = NULL,
                                 .pCleanupFunc = NULL,
                                 .pSetUpFunc = NULL,
                                 .pTearDownFunc = NULL,
                                 .pTests = vigil_deps_tests};
