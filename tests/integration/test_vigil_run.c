/*
 * test_vigil_run.c -- the supervisor running services (suite vigil_run):
 * a missing program goes fatal alone; crash loops end in fatal; the
 * restart policies; start/stop/restart from the CLI; the stop ladder
 * (TERM, timeout, kill); no grandchild survives its service; one
 * supervisor per config (exit 3); `vigil shutdown` and SIGTERM stop
 * everything and exit 0; kill -9 of the supervisor leaves nothing behind;
 * adopted orphans are reaped (no zombie under vigil); a SIGSTOPped child
 * still stops at its stop signal (SIGCONT follows it).
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#if defined(__linux__)
#include <dirent.h>
#endif

static int restarts_at_least(const svc_json_t *s, void *arg) {
  return vt_ifield(s, "restarts") >= *(int *)arg;
}

static int pid_not(const svc_json_t *s, void *arg) {
  int64_t pid = vt_ifield(s, "pid");
  const char *st = vt_sfield(s, "state");
  return pid > 0 && pid != *(long *)arg && st && !strcmp(st, "running");
}

/* ---- tests ---------------------------------------------------------------- */

/* A program that does not exist: that service is fatal with a reason that
 * names it and says why; the others are not disturbed. */
static void test_missing_program(void) {
  vt_t *t = vt_begin("missing");
  const svc_json_t *s;
  const char *reason;
  long pid;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "ok", READY_FAST, "sleep", "30000", NULL),
            "  <service name=\"ghost\">\n"
            "    <command>/nonexistent/dir/vigil-ghost</command>\n"
            "    <restart delay=\"50ms\"/>\n"
            "  </service>\n"
            "  <service name=\"ghost2\">\n"
            "    <command>vigil-no-such-program-on-path</command>\n"
            "    <restart delay=\"50ms\"/>\n"
            "  </service>\n",
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "ok", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  pid = (long)vt_ifield(s, "pid");
  CU_ASSERT(pid > 0);

  s = vt_wait_state(t, "ghost", "fatal", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  reason = vt_sfield(s, "reason");
  CU_ASSERT(vt_contains(reason, "/nonexistent/dir/vigil-ghost"));
#if defined(_WIN32)
  /* CreateProcessW: ERROR_PATH_NOT_FOUND, "Path not found." */
  CU_ASSERT(vt_contains(reason, "not found"));
#else
  CU_ASSERT(vt_contains(reason, "No such file"));
#endif
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), -1);   /* null */
  CU_ASSERT(vt_contains(vt_sup_log(t), "/nonexistent/dir/vigil-ghost"));

  s = vt_wait_state(t, "ghost2", "fatal", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT(vt_contains(vt_sfield(s, "reason"),
                        "vigil-no-such-program-on-path"));

  /* The others keep running, untouched. */
  s = vt_svc_of(vt_status(t), "ok");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "running");
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), pid);
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 0);
  CU_ASSERT(vt_pid_alive(pid));
  vt_end(t);
}

/* A service that always fails: restarted max-restarts times, then fatal
 * with restarts == max-restarts and no more tries. */
static void test_crash_loop_fatal(void) {
  vt_t *t = vt_begin("crashloop");
  const svc_json_t *s, *le;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "crash",
                   "<restart policy=\"on-failure\" delay=\"50ms\" "
                   "max-delay=\"200ms\" max-restarts=\"3\" window=\"10s\"/>\n"
                   "    " READY_FAST,
                   "exit", "1", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "crash", "fatal", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 3);
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), -1);
  le = svc_json_get(s, "last_exit");
  CU_ASSERT_EQUAL(vt_ifield(le, "code"), 1);
  CU_ASSERT(vt_ifield(le, "at_ms") > 0);
  CU_ASSERT_PTR_NOT_NULL(vt_sfield(s, "reason"));
  /* One first start and three restarts, then nothing more. */
  CU_ASSERT_EQUAL(vt_count_lines(vt_sup_log(t), "crash: started, pid"), 4);
  vt_sleep(t, 300);
  s = vt_svc_of(vt_status(t), "crash");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "fatal");
  CU_ASSERT_EQUAL(vt_count_lines(vt_sup_log(t), "crash: started, pid"), 4);

  /* `vigil start` forgives: it runs (and fails) again. */
  CU_ASSERT_EQUAL(vt_cli(t, "start", "crash", "--no-wait", NULL)->code, 0);
  {
    uint64_t deadline = vt_now_ms() + VT_WAIT_MS;
    while (vt_count_lines(vt_sup_log(t), "crash: started, pid") < 5 &&
           vt_now_ms() < deadline)
      vt_sleep(t, 20);
    CU_ASSERT(vt_count_lines(vt_sup_log(t), "crash: started, pid") >= 5);
  }
  vt_end(t);
}

/* never -> exited; on-failure + exit 0 -> exited; on-failure + exit 1 ->
 * restarted; always + exit 0 -> restarted. */
static void test_restart_policies(void) {
  vt_t *t = vt_begin("policies");
  const svc_json_t *s;
  int two = 2;
  long p1, p2;
  if (!t)
    return;
  vt_config(
      t, "vigil.xml",
      vt_svc(t, "never",
             "<restart policy=\"never\" delay=\"50ms\"/>\n    " READY_FAST,
             "sleep-exit", "300", "3", NULL),
      vt_svc(t, "onfail0",
             "<restart policy=\"on-failure\" delay=\"50ms\"/>\n"
             "    " READY_FAST,
             "sleep-exit", "300", "0", NULL),
      vt_svc(t, "onfail1",
             "<restart policy=\"on-failure\" delay=\"50ms\" "
             "max-restarts=\"100\"/>\n    " READY_FAST,
             "sleep-exit", "300", "1", NULL),
      vt_svc(t, "always",
             "<restart policy=\"always\" delay=\"50ms\" "
             "max-restarts=\"100\"/>\n    " READY_FAST,
             "sleep-exit", "300", "0", NULL),
      NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));

  s = vt_wait_state(t, "never", "exited", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 0);
  CU_ASSERT_EQUAL(vt_ifield(svc_json_get(s, "last_exit"), "code"), 3);
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), -1);

  s = vt_wait_state(t, "onfail0", "exited", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 0);
  CU_ASSERT_EQUAL(vt_ifield(svc_json_get(s, "last_exit"), "code"), 0);

  s = vt_wait_svc(t, "onfail1", restarts_at_least, &two, VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT_EQUAL(vt_ifield(svc_json_get(s, "last_exit"), "code"), 1);

  s = vt_wait_state(t, "always", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  p1 = (long)vt_ifield(s, "pid");
  s = vt_wait_svc(t, "always", pid_not, &p1, VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  p2 = (long)vt_ifield(s, "pid");
  CU_ASSERT(p2 != p1 && p2 > 0);
  CU_ASSERT(vt_ifield(s, "restarts") >= 1);
  CU_ASSERT_EQUAL(vt_ifield(svc_json_get(s, "last_exit"), "code"), 0);

  /* Those that exited stay exited. */
  s = vt_svc_of(vt_status(t), "never");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "exited");
  s = vt_svc_of(vt_status(t), "onfail0");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "exited");
  vt_end(t);
}

/* start/stop/restart wait for the outcome and say so in the exit status. */
static void test_cli_start_stop_restart(void) {
  vt_t *t = vt_begin("cli");
  vt_res_t *r;
  long p1, p2, p3;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "web", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "idle", "<autostart>false</autostart>\n    " READY_FAST,
                   "sleep", "30000", NULL),
            /* Ready after 5 s, so that it surely exits before: Wine
             * takes 100 ms and more to start a process. */
            vt_svc(t, "bad", "<autostart>false</autostart>\n"
                             "    <restart policy=\"never\"/>\n"
                             "    <ready after=\"5s\"/>\n",
                   "exit", "7", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "web", "running", VT_WAIT_MS) != NULL);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "idle"), "stopped");
  p1 = vt_pid(t, "web");

  r = vt_cli(t, "stop", "web", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "web"), "stopped");
  CU_ASSERT(vt_wait_pid_gone(t, p1, 1000));

  r = vt_cli(t, "start", "web", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "web"), "running");
  p2 = vt_pid(t, "web");
  CU_ASSERT(p2 > 0 && p2 != p1);

  r = vt_cli(t, "restart", "web", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "web"), "running");
  p3 = vt_pid(t, "web");
  CU_ASSERT(p3 > 0 && p3 != p2);
  CU_ASSERT(vt_wait_pid_gone(t, p2, 1000));

  r = vt_cli(t, "start", "idle", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "idle"), "running");

  /* A start that cannot reach running: exit 1. */
  r = vt_cli(t, "start", "bad", NULL);
  CU_ASSERT_EQUAL(r->code, 1);

  /* An unknown name: exit 2. */
  r = vt_cli(t, "stop", "nosuch", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "nosuch"));

  /* all */
  r = vt_cli(t, "stop", "all", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "web"), "stopped");
  CU_ASSERT_STRING_EQUAL(vt_state(t, "idle"), "stopped");
  vt_end(t);
}

/* A child that ignores TERM is killed once the stop timeout passes.
 * Windows: the stop signal is CTRL_BREAK to the child's process group,
 * which `ignore-term` ignores (and Wine may not deliver at all without a
 * console); the end is the same: TerminateJobObject after the timeout,
 * and the log names that step. */
static void test_stop_timeout_kills(void) {
  vt_t *t = vt_begin("stubborn");
  const svc_json_t *s;
  vt_res_t *r;
  uint64_t t0, took;
  const char *out;
  long pid;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "stubborn",
                   "<stop signal=\"TERM\" timeout=\"300ms\"/>\n"
                   "    " READY_FAST,
                   "ignore-term", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "stubborn", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  pid = (long)vt_ifield(s, "pid");
  /* It printed "ready" once TERM was ignored. */
  out = vt_path(t, "logs/stubborn.out.log");
  {
    uint64_t deadline = vt_now_ms() + VT_WAIT_MS;
    char *txt;
    while (!((txt = vt_read_file(t, out, NULL)) && vt_contains(txt, "ready"))
           && vt_now_ms() < deadline)
      vt_sleep(t, 20);
    VT_REQUIRE(txt && vt_contains(txt, "ready"));
  }
  t0 = vt_now_ms();
  r = vt_cli(t, "stop", "stubborn", NULL);
  took = vt_now_ms() - t0;
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(took >= 250);   /* it waited for the timeout ... */
  CU_ASSERT(took < 5000);   /* ... and not for ever */
  s = vt_svc_of(vt_status(t), "stubborn");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "stopped");
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), -1);
  CU_ASSERT(vt_contains(vt_sfield(s, "reason"), "killed"));
  CU_ASSERT(vt_wait_pid_gone(t, pid, 1000));
  CU_ASSERT(vt_contains(vt_sup_log(t), "did not stop within 300 ms"));
  CU_ASSERT(vt_contains(vt_sup_log(t), "killed after the stop timeout"));
  vt_end(t);
}

/* The service's process group goes with it: a grandchild (which ignores
 * TERM) is gone when `vigil stop` returns, and when the child dies on its
 * own. */
static void test_grandchildren_gone(void) {
  vt_t *t = vt_begin("grandkids");
  const svc_json_t *s;
  const char *pf1, *pf2;
  long child, gc, child2, gc2;
  vt_res_t *r;
  if (!t)
    return;
  pf1 = vt_path(t, "gc1.pid");
  pf2 = vt_path(t, "gc2.pid");
  vt_config(t, "vigil.xml",
            vt_svc(t, "family", "<stop timeout=\"2s\"/>\n    " READY_FAST,
                   "grandchild-pidfile", pf1, "ignore-term", NULL),
            vt_svc(t, "orphaner",
                   "<restart policy=\"never\"/>\n    " READY_FAST,
                   "grandchild-pidfile", pf2, "ignore-term", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "family", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  child = (long)vt_ifield(s, "pid");
  gc = vt_wait_pid_file(t, pf1, VT_WAIT_MS);
  VT_REQUIRE(gc > 0);
  CU_ASSERT(vt_pid_alive(gc));

  r = vt_cli(t, "stop", "family", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  /* Right when stop returns (a moment for the kernel to finish a kill). */
  CU_ASSERT(vt_wait_pid_gone(t, child, 500));
  CU_ASSERT(vt_wait_pid_gone(t, gc, 500));

  /* The child is killed behind the supervisor's back: its grandchild
   * must not outlive it. */
  s = vt_wait_state(t, "orphaner", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  child2 = (long)vt_ifield(s, "pid");
  gc2 = vt_wait_pid_file(t, pf2, VT_WAIT_MS);
  VT_REQUIRE(gc2 > 0);
  CU_ASSERT_EQUAL(vg_kill(child2, VG_SIGKILL), APR_SUCCESS);
  s = vt_wait_state(t, "orphaner", "exited", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL(s);
#if defined(_WIN32)
  /* TerminateProcess from outside: an exit code (1), no signal. */
  CU_ASSERT_PTR_NULL(vt_sfield(svc_json_get(s, "last_exit"), "signal"));
  CU_ASSERT_EQUAL(vt_ifield(svc_json_get(s, "last_exit"), "code"), 1);
#else
  CU_ASSERT_STRING_EQUAL(vt_sfield(svc_json_get(s, "last_exit"), "signal"),
                         "KILL");
#endif
  CU_ASSERT(vt_wait_pid_gone(t, gc2, 2000));
  vt_end(t);
}

/* A second supervisor on the same config refuses with 3 and names the
 * holder's pid; the first one is not disturbed. */
static void test_second_instance(void) {
  vt_t *t = vt_begin("second");
  vt_res_t *r;
  long pid, spid;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL);
  pid = vt_pid(t, "a");
  spid = vt_sup_pid(t);
  r = vt_vigil(t, 10000, "run", "-c", vt_path(t, "vigil.xml"), NULL);
  CU_ASSERT_EQUAL(r->code, 3);
  CU_ASSERT(vt_contains(r->err, apr_psprintf(vt_pool(t), "%ld", spid)));
  CU_ASSERT(vt_sup_running(t));
  CU_ASSERT_EQUAL(vt_pid(t, "a"), pid);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "running");
  vt_end(t);
}

/* Common body: stop with `how`, expect exit 0, every pid gone, and the
 * dependent (b) stopped before what it depends on (a). */
static void shutdown_case(const char *tag, int by_signal) {
  vt_t *t = vt_begin(tag);
  const char *log;
  long pa, pb, pc, stopped_b, stopped_a;
  vt_res_t *r;
  int code;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "b",
                   "<depends-on>a</depends-on>\n"
                   "    <stop timeout=\"300ms\"/>\n    " READY_FAST,
                   "ignore-term", NULL),
            vt_svc(t, "c", READY_FAST, "sleep", "30000", NULL), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "b", "running", VT_WAIT_MS) != NULL);
  VT_REQUIRE(vt_wait_state(t, "c", "running", VT_WAIT_MS) != NULL);
  pa = vt_pid(t, "a");
  pb = vt_pid(t, "b");
  pc = vt_pid(t, "c");
  CU_ASSERT(pa > 0 && pb > 0 && pc > 0);
  if (by_signal) {
    CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGTERM), 0);
  } else {
    r = vt_cli(t, "shutdown", NULL);
    CU_ASSERT_EQUAL(r->code, 0);
  }
  code = vt_sup_wait_exit(t, 15000);
  CU_ASSERT_EQUAL(code, 0);
  CU_ASSERT(vt_wait_pid_gone(t, pa, 1000));
  CU_ASSERT(vt_wait_pid_gone(t, pb, 1000));
  CU_ASSERT(vt_wait_pid_gone(t, pc, 1000));
  log = vt_sup_log(t);
  /* b ignores TERM and takes 300 ms to be killed: a, which it depends
   * on, must still be up until then. */
  stopped_b = vt_line_offset(log, "b: killed after the stop timeout", NULL);
  stopped_a = vt_line_offset(log, "service: a: ", "stop");
  CU_ASSERT(stopped_b >= 0);
  CU_ASSERT(stopped_a >= 0);
  CU_ASSERT(stopped_b < stopped_a);
  CU_ASSERT(!vt_exists(vt_control_path(t)));
  CU_ASSERT(!vt_exists(vt_path(t, "state/vigil.lock")));
  /* Nobody answers any more. */
  r = vt_cli(t, "status", NULL);
  CU_ASSERT_EQUAL(r->code, 4);
  vt_end(t);
}

static void test_shutdown_command(void) { shutdown_case("shutdown", 0); }
#if !defined(_WIN32)
/* POSIX-only: on Windows a "SIGTERM" is TerminateProcess, which nothing
 * can catch; its graceful stops are `vigil shutdown` (above), Ctrl+Break
 * on a console, and the SCM's stop control (suite vigil_winsvc). */
static void test_sigterm(void) { shutdown_case("sigterm", 1); }
#endif

/* kill -9 of the supervisor: its children die with it (PDEATHSIG), and a
 * grandchild is gone too -- at the latest once the next supervisor on the
 * same config swept the leftovers.  Windows: TerminateProcess, and the
 * jobs take children and grandchild at once. */
static void test_kill9(void) {
  vt_t *t = vt_begin("kill9");
  const char *pf;
  long pa, pb, gc;
  int gone_at_once;
  if (!t)
    return;
  pf = vt_path(t, "gc.pid");
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "b", READY_FAST, "grandchild-pidfile", pf, NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL);
  VT_REQUIRE(vt_wait_state(t, "b", "running", VT_WAIT_MS) != NULL);
  pa = vt_pid(t, "a");
  pb = vt_pid(t, "b");
  gc = vt_wait_pid_file(t, pf, VT_WAIT_MS);
  VT_REQUIRE(pa > 0 && pb > 0 && gc > 0);
  /* Let the pids file be written (it is, once both are running). */
  vt_sleep(t, 100);

  CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGKILL), 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 5000), -2);
  CU_ASSERT(vt_wait_pid_gone(t, pa, 5000));
  CU_ASSERT(vt_wait_pid_gone(t, pb, 5000));
  gone_at_once = vt_wait_pid_gone(t, gc, 2000);
#if defined(_WIN32)
  /* Each service's job object closes with the supervisor's handles
   * (KILL_ON_JOB_CLOSE): the grandchild goes at once, no sweep needed. */
  CU_ASSERT(gone_at_once);
#endif

  /* The next supervisor finds what the last one left. */
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT(vt_wait_pid_gone(t, gc, 5000));
  if (!gone_at_once)
    fprintf(stderr, "\n  [kill9] grandchild %ld outlived the supervisor's "
                    "kill -9 (left to the leftover sweep)\n", gc);
  VT_REQUIRE(vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL);
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  vt_end(t);
}

#if defined(__linux__)
/* Zombies whose parent is ppid, read from /proc/PID/stat (state, field 3;
 * parent, field 4; both after the last ')'). */
static int zombies_of(long ppid) {
  DIR *d = opendir("/proc");
  struct dirent *de;
  int n = 0;
  if (!d)
    return -1;
  while ((de = readdir(d)) != NULL) {
    char path[300], buf[1024], *p, state;
    long parent;
    size_t len;
    FILE *f;
    if (de->d_name[0] < '1' || de->d_name[0] > '9')
      continue;
    snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
    if (!(f = fopen(path, "r")))
      continue;
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    p = strrchr(buf, ')');
    if (p && sscanf(p + 1, " %c %ld", &state, &parent) == 2 &&
        state == 'Z' && parent == ppid)
      n++;
  }
  closedir(d);
  return n;
}

static int proc_exists(long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld", pid);
  return vt_exists(path);
}

/* The orphans vigil adopts are reaped: a service forks children (half of
 * them in a session of their own), its main process is killed -9 and its
 * children die or exit; none of them stays a zombie under vigil.  And the
 * statuses of vigil's own children are not taken by that reaping: the
 * killed main process shows SIGKILL, a neighbour that exits at about the
 * same time its code 7. */
static void test_orphans_reaped(void) {
  vt_t *t = vt_begin("orphans");
  const svc_json_t *s;
  const char *pf;
  char *text, *line;
  long main_pid, sup, pids[16];
  int n = 0, i, left;
  uint64_t deadline;
  if (!t)
    return;
  pf = vt_path(t, "orphans.pid");
  vt_config(t, "vigil.xml",
            vt_svc(t, "orphans",
                   "<restart policy=\"never\"/>\n    " READY_FAST,
                   "fork-orphans", pf, "6", "300", NULL),
            vt_svc(t, "seven",
                   "<restart policy=\"never\"/>\n    " READY_FAST,
                   "sleep-exit", "600", "7", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "orphans", "running", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  main_pid = (long)vt_ifield(s, "pid");
  VT_REQUIRE(vt_wait_pid_file(t, pf, VT_WAIT_MS) > 0);
  text = vt_read_file(t, pf, NULL);
  VT_REQUIRE(text != NULL);
  for (line = text; *line && n < 16; line = strchr(line, '\n') + 1) {
    pids[n] = atol(line);
    vt_track(t, pids[n++]);
    if (!strchr(line, '\n'))
      break;
  }
  CU_ASSERT_EQUAL(n, 6);
  sup = vt_sup_pid(t);

  CU_ASSERT_EQUAL(vg_kill(main_pid, VG_SIGKILL), APR_SUCCESS);
  s = vt_wait_state(t, "orphans", "exited", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT_STRING_EQUAL(vt_sfield(svc_json_get(s, "last_exit"), "signal"),
                         "KILL");
  s = vt_wait_state(t, "seven", "exited", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT_EQUAL(vt_ifield(svc_json_get(s, "last_exit"), "code"), 7);
  CU_ASSERT_PTR_NULL(vt_sfield(svc_json_get(s, "last_exit"), "signal"));

  /* Every orphan has exited by now (300 ms); allow the reaping a moment. */
  deadline = vt_now_ms() + 3000;
  do {
    for (left = 0, i = 0; i < n; i++)
      left += proc_exists(pids[i]);
    if (left == 0 && zombies_of(sup) == 0)
      break;
    vt_sleep(t, 20);
  } while (vt_now_ms() < deadline);
  CU_ASSERT_EQUAL(left, 0);
  CU_ASSERT_EQUAL(zombies_of(sup), 0);
  CU_ASSERT(vt_sup_running(t));
  vt_end(t);
}
#endif

#if !defined(_WIN32)
/* A stopped process still stops: the stop signal is followed by SIGCONT,
 * so a child that SIGSTOPped itself runs its TERM handler (exit 0) at
 * once instead of waiting out the stop timeout to be killed. */
static void test_stop_stopped(void) {
  vt_t *t = vt_begin("stopself");
  const svc_json_t *s;
  uint64_t t0, took;
  char *txt = NULL;
  uint64_t deadline;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "frozen", "<stop timeout=\"5s\"/>\n    " READY_FAST,
                   "stop-self", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "frozen", "running", VT_WAIT_MS) != NULL);
  deadline = vt_now_ms() + VT_WAIT_MS;
  while (!((txt = vt_read_file(t, vt_path(t, "logs/frozen.out.log"), NULL)) &&
           vt_contains(txt, "stopping")) && vt_now_ms() < deadline)
    vt_sleep(t, 20);
  VT_REQUIRE(txt && vt_contains(txt, "stopping"));
  vt_sleep(t, 100);   /* it has SIGSTOPped itself */
  t0 = vt_now_ms();
  CU_ASSERT_EQUAL(vt_cli(t, "stop", "frozen", NULL)->code, 0);
  took = vt_now_ms() - t0;
  CU_ASSERT(took < 2500);   /* not the 5 s timeout */
  s = vt_svc_of(vt_status(t), "frozen");
  VT_REQUIRE(s != NULL);
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "stopped");
  CU_ASSERT_EQUAL(vt_ifield(svc_json_get(s, "last_exit"), "code"), 0);
  CU_ASSERT_PTR_NULL(vt_sfield(svc_json_get(s, "last_exit"), "signal"));
  CU_ASSERT(vt_contains(vt_sfield(s, "reason"), "exited after its stop "
                                                "signal"));
  CU_ASSERT(!vt_contains(vt_sup_log(t), "killing it"));
  vt_end(t);
}
#endif

#if !defined(_WIN32)
/* A file at path with text and permissions perms (octal, APR form). */
static int write_prog(vt_t *t, const char *path, const char *text,
                      apr_fileperms_t perms) {
  return vt_write_file(t, path, text) == 0 &&
         apr_file_perms_set(path, perms) == APR_SUCCESS;
}

/* A service that cannot be spawned says why in its reason, also once it
 * is waiting to retry and once it gave up: "cannot run CMD: ERROR
 * (CALL); restarting in N ms", never the restart message alone.  What a
 * retry cannot fix (not executable, not a program, arguments too long)
 * is fatal at once, without a retry; a missing program is retried (an
 * install may bring it) until max-restarts. */
static void test_spawn_failure_reasons(void) {
  vt_t *t = vt_begin("spawnwhy");
  const svc_json_t *s;
  const char *garbage, *noexec, *reason;
  char *big;
  if (!t)
    return;
  garbage = vt_path(t, "garbage");
  noexec = vt_path(t, "noexec");
  VT_REQUIRE(write_prog(t, garbage, "this is not a program\n",
                        APR_UREAD | APR_UWRITE | APR_UEXECUTE | APR_GREAD |
                            APR_GEXECUTE));
  VT_REQUIRE(write_prog(t, noexec, "#!/bin/sh\nexit 0\n",
                        APR_UREAD | APR_UWRITE | APR_GREAD));
  big = apr_palloc(vt_pool(t), 200001);   /* > MAX_ARG_STRLEN (128 KiB) */
  memset(big, 'x', 200000);
  big[200000] = '\0';
  vt_config(t, "vigil.xml",
            "  <service name=\"waiting\">\n"
            "    <command>/nonexistent/dir/vigil-ghost</command>\n"
            "    <restart delay=\"30s\"/>\n"
            "  </service>\n"
            "  <service name=\"ghost\">\n"
            "    <command>/nonexistent/dir/vigil-ghost</command>\n"
            "    <restart delay=\"50ms\" max-restarts=\"2\"/>\n"
            "  </service>\n",
            apr_psprintf(vt_pool(t),
                         "  <service name=\"garbage\">\n"
                         "    <command>%s</command>\n"
                         "    <restart delay=\"50ms\"/>\n"
                         "  </service>\n"
                         "  <service name=\"noexec\">\n"
                         "    <command>%s</command>\n"
                         "    <restart delay=\"50ms\"/>\n"
                         "  </service>\n",
                         vt_xml(t, garbage), vt_xml(t, noexec)),
            vt_svc(t, "toolong", "<restart delay=\"50ms\"/>\n", "sleep",
                   big, NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));

  s = vt_wait_state(t, "waiting", "backoff", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  reason = vt_sfield(s, "reason");
  CU_ASSERT(vt_contains(reason, "cannot run /nonexistent/dir/vigil-ghost: "
                                "No such file or directory (execve); "
                                "restarting in "));

  s = vt_wait_state(t, "ghost", "fatal", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  reason = vt_sfield(s, "reason");
  CU_ASSERT(vt_contains(reason, "cannot run /nonexistent/dir/vigil-ghost: "
                                "No such file or directory (execve); "
                                "restarted 2 times"));
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 2);
  CU_ASSERT(vt_contains(vt_sup_log(t), "fatal: cannot run /nonexistent/"));

  s = vt_wait_state(t, "garbage", "fatal", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT(vt_contains(vt_sfield(s, "reason"), "Exec format error"));
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 0);
  s = vt_wait_state(t, "noexec", "fatal", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT(vt_contains(vt_sfield(s, "reason"), "Permission denied"));
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 0);
  s = vt_wait_state(t, "toolong", "fatal", VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  CU_ASSERT(vt_contains(vt_sfield(s, "reason"), "Argument list too long"));
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 0);
  /* Said once each: no retry happened behind the fatal state. */
  vt_sleep(t, 200);
  CU_ASSERT_EQUAL(vt_count_lines(vt_sup_log(t), "garbage: fatal: cannot "
                                                "run"), 1);
  CU_ASSERT_EQUAL(vt_count_lines(vt_sup_log(t), "garbage: cannot run"), 0);
  vt_end(t);
}
#endif

/* A config with one service, "stubborn", that ignores TERM (stop
 * timeout 5 s): what a shutdown must kill. */
static const char *stubborn_config(vt_t *t) {
  return vt_config(t, "vigil.xml",
                   vt_svc(t, "stubborn",
                          "<stop timeout=\"5s\"/>\n    " READY_FAST,
                          "ignore-term", NULL),
                   NULL);
}

/* Start the supervisor on it; 1 once stubborn runs and ignores TERM. */
static int stubborn_running(vt_t *t, const char *path) {
  if (!vt_sup_start_ready(t, path) ||
      vt_wait_state(t, "stubborn", "running", VT_WAIT_MS) == NULL)
    return 0;
  vt_sleep(t, 200);   /* it is ignoring TERM by now */
  return 1;
}

/* The shutdown deadline's kill is said as what it is: a service that
 * ignores its stop signal (stop timeout 5 s) is killed when the 500 ms
 * shutdown-timeout passes, and the log and its reason say "killed after
 * shutdown timeout 500ms", not that its stop signal stopped it. */
static void test_shutdown_deadline_reason(void) {
  vt_t *t = vt_begin("deadline");
  const char *path, *log;
  uint64_t t0;
  if (!t)
    return;
  path = stubborn_config(t);
  VT_REQUIRE(vt_config_shutdown_timeout(t, "500ms") == 0);
  VT_REQUIRE(stubborn_running(t, path));
  t0 = vt_now_ms();
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  CU_ASSERT(vt_now_ms() - t0 < 4000);   /* the deadline, not the 5 s */
  log = vt_sup_log(t);
  CU_ASSERT(vt_contains(log, "stubborn: killed after shutdown timeout "
                             "500ms"));
  CU_ASSERT(!vt_contains(log, "stubborn: stopped by its stop signal"));
  vt_end(t);
}

/* A shutdown during a restart's stop: the service is not started again
 * once it has stopped.  It was (the restart's wish outlived the
 * shutdown), and the shutdown then waited for its deadline (10 s) to
 * kill the new run. */
static void test_shutdown_during_restart(void) {
  vt_t *t = vt_begin("restart-shutdown");
  const char *log;
  uint64_t t0;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "s", "<stop timeout=\"1s\"/>\n    " READY_FAST,
                   "ignore-term", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "s", "running", VT_WAIT_MS) != NULL);
  vt_sleep(t, 200);   /* it ignores TERM by now: the stop takes 1 s */
  CU_ASSERT_EQUAL(vt_cli(t, "restart", "s", "--no-wait", NULL)->code, 0);
  t0 = vt_now_ms();
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 20000), 0);
  CU_ASSERT(vt_now_ms() - t0 < 6000);   /* the stop timeout, not 10 s */
  log = vt_sup_log(t);
  CU_ASSERT_EQUAL(vt_count_lines(log, "s: started, pid"), 1);
  CU_ASSERT(!vt_contains(log, "shutdown deadline passed"));
  vt_end(t);
}

#if !defined(_WIN32)
/* A second SIGINT while a service still ignores its stop signal kills it
 * at once, and the log says so: not "shutdown deadline passed" nor
 * "killed after shutdown timeout 10s" (GNU timeout, a double Ctrl+C and
 * a service manager's SIGTERM after SIGINT all do this). */
static void test_second_interrupt(void) {
  vt_t *t = vt_begin("second-int");
  const char *path, *log;
  uint64_t t0;
  if (!t)
    return;
  path = stubborn_config(t);
  VT_REQUIRE(stubborn_running(t, path));
  t0 = vt_now_ms();
  CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGINT), 0);
  vt_sleep(t, 300);
  CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGINT), 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  CU_ASSERT(vt_now_ms() - t0 < 4000);   /* neither 5 s nor 10 s */
  log = vt_sup_log(t);
  CU_ASSERT(vt_contains(log, "received SIGINT again"));
  CU_ASSERT(vt_contains(log, "stubborn: killed at a second shutdown "
                             "request"));
  CU_ASSERT(!vt_contains(log, "shutdown deadline passed"));
  CU_ASSERT(!vt_contains(log, "killed after shutdown timeout"));
  vt_end(t);
}
#endif

#if defined(__linux__)
/* What a service costs its supervisor: 1000 services never started (no
 * child, no capture) leave vigil under 4 MiB of anonymous memory (3.3
 * MiB with what only some services use allocated when used -- the notify
 * socket, the watchdog, schedule and checks timers, the texts of
 * failures, log files' timers -- and the config's empty lists shared;
 * 5.1 MiB with all of it in every service; 10 MiB with a pool per plan
 * and every freed pool block kept).  Pss_Anon: the heap and APR's
 * blocks, not the binary's pages, which the build type changes. */
static void test_memory_per_service(void) {
  vt_t *t;
  const char *xml = "";
  char line[256];
  FILE *f;
  long kib = -1;
  int i;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  vg_test_skip("memory", "a sanitizer build's shadow memory is anonymous");
  return;
#endif
  if (!(t = vt_begin("memory")))
    return;
  for (i = 0; i < 1000; i++)
    xml = apr_psprintf(vt_pool(t),
                       "%s<service name=\"s%d\"><command>/bin/true"
                       "</command><autostart>false</autostart></service>\n",
                       xml, i);
  vt_config(t, "vigil.xml", xml, NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  /* Read as a stream: a /proc file says its size is 0. */
  if ((f = fopen(apr_psprintf(vt_pool(t), "/proc/%ld/smaps_rollup",
                              vt_sup_pid(t)), "r")) != NULL) {
    while (fgets(line, sizeof line, f))
      if (!strncmp(line, "Pss_Anon:", 9))
        kib = strtol(line + 9, NULL, 10);
    fclose(f);
  }
  if (kib < 0) {
    vg_test_skip("memory", "no Pss_Anon in /proc/PID/smaps_rollup");
  } else {
    if (kib >= 4 * 1024)
      fprintf(stderr, "vigil with 1000 services: Pss_Anon %ld KiB\n", kib);
    CU_ASSERT(kib < 4 * 1024);
  }
  vt_end(t);
}
#endif

static CU_TestInfo vigil_run_tests[] = {
    {"missing program: fatal, others untouched", test_missing_program},
    {"crash loop ends in fatal after max-restarts", test_crash_loop_fatal},
    {"restart policies never/on-failure/always", test_restart_policies},
    {"CLI start/stop/restart wait and report", test_cli_start_stop_restart},
    {"stop timeout: TERM ignored -> killed", test_stop_timeout_kills},
    {"grandchildren gone with their service", test_grandchildren_gone},
    {"second run on the same config exits 3", test_second_instance},
    {"vigil shutdown: all stopped in order, exit 0", test_shutdown_command},
#if !defined(_WIN32)
    {"SIGTERM: all stopped in order, exit 0", test_sigterm},
#endif
    {"kill -9 of the supervisor leaves no process", test_kill9},
#if defined(__linux__)
    {"adopted orphans reaped, own statuses kept", test_orphans_reaped},
#endif
#if !defined(_WIN32)
    {"stop of a SIGSTOPped child: TERM + CONT", test_stop_stopped},
    {"spawn failures: reason kept, permanent ones fatal at once",
     test_spawn_failure_reasons},
#endif
    {"shutdown deadline kill said as such", test_shutdown_deadline_reason},
    {"a shutdown during a restart does not start it again",
     test_shutdown_during_restart},
#if !defined(_WIN32)
    {"a second SIGINT kills at once, said as such", test_second_interrupt},
#endif
#if defined(__linux__)
    {"1000 services: under 4 MiB of anonymous memory",
     test_memory_per_service},
#endif
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_run_suite = {.pName = "vigil_run",
                                .pInitFunc = NULL,
                                .pCleanupFunc = NULL,
                                .pSetUpFunc = NULL,
                                .pTearDownFunc = NULL,
                                .pTests = vigil_run_tests};
