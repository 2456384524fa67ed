/*
 * test_vigil_admin.c -- what an administrator does to running services
 * (suite vigil_admin): `vigil signal NAME SIGNAL`, `vigil reload NAME`
 * (<reload signal> or a <reload> command, failing or hanging past its
 * timeout while the supervisor keeps answering), instance groups
 * addressed by their base name in every command, merged `vigil logs`
 * (time order across services, -n, -f across a rotation, the note about
 * an empty stdout), and restarts logged with their wait.
 *
 * The signals are recorded by the `signals FILE` child (child_integ.c),
 * which writes "ready" once its handlers are in place.  The merged-logs
 * cases write the services' log files themselves, with timestamps chosen
 * to interleave: the order is then exact, not a matter of timing.
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

/* ---- helpers ---------------------------------------------------------------- */

/* Poll until file `path` holds `needle`. */
static int wait_file(vt_t *t, const char *path, const char *needle,
                     uint64_t ms) {
  uint64_t until = vt_now_ms() + ms;
  for (;;) {
    char *txt = vt_read_file(t, path, NULL);
    if (txt && vt_contains(txt, needle))
      return 1;
    if (vt_now_ms() >= until)
      return 0;
    vt_sleep(t, 20);
  }
}

/* Poll until the supervisor's log has n lines holding `needle`. */
static int wait_log_lines(vt_t *t, const char *needle, int n, uint64_t ms) {
  uint64_t until = vt_now_ms() + ms;
  while (vt_count_lines(vt_sup_log(t), needle) < n) {
    if (vt_now_ms() >= until)
      return 0;
    vt_sleep(t, 50);
  }
  return 1;
}

static const char *sigfile(vt_t *t, const char *name) {
  return vt_path(t, apr_pstrcat(vt_pool(t), name, ".sig", NULL));
}

/* A service running the `signals` child, with `extra` XML. */
static const char *trap_svc(vt_t *t, const char *name, const char *extra) {
  return vt_svc(t, name, apr_pstrcat(vt_pool(t), READY_FAST,
                                     extra ? extra : "", NULL),
                "signals", sigfile(t, name), NULL);
}

static const char *log_path(vt_t *t, const char *file) {
  return apr_pstrcat(vt_pool(t), vt_log_dir(t), "/", file, NULL);
}

/* ---- signal ------------------------------------------------------------------ */

/* `vigil signal trap ARG`: its exit code; with 0, the line the child
 * records (NULL: none to wait for); else what stderr says (NULL: any). */
typedef struct sig_case_s {
  const char *arg;
  int code;
  const char *said;
} sig_case_t;

static const sig_case_t sig_cases[] = {
#if defined(_WIN32)
    /* What Windows has no counterpart for: exit 2, nothing sent. */
    {"HUP", 2, "cannot be sent on this platform"},
    {"USR1", 2, "cannot be sent on this platform"},
    {"STOP", 2, NULL},
#else
    /* Names with or without SIG, any case. */
    {"HUP", 0, "HUP\n"},
    {"sigusr2", 0, "USR2\n"},
    {"Quit", 0, "QUIT\n"},
    /* BREAK is Windows' own. */
    {"BREAK", 2, "cannot be sent on this platform"},
    {"99999", 2, NULL},
    /* STOP then CONT: the process goes on (checked below). */
    {"STOP", 0, NULL},
    {"CONT", 0, NULL},
#endif
    /* Unknown names, a zero, a negative number: exit 2, nothing sent. */
    {"BOGUS", 2, "unknown signal BOGUS"},
    {"0", 2, NULL},
    {"-1", 2, NULL},
    {"", 2, NULL},
};

static void test_signal(void) {
  vt_t *t = vt_begin("signal");
  const char *f;
  vt_res_t *r;
  long pid;
  size_t i;
  if (!t)
    return;
  vt_config(t, "vigil.xml", trap_svc(t, "trap", NULL), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "trap", "running", VT_WAIT_MS) != NULL);
  f = sigfile(t, "trap");
  VT_REQUIRE(wait_file(t, f, "ready", VT_WAIT_MS));
  pid = vt_pid(t, "trap");

  for (i = 0; i < sizeof sig_cases / sizeof sig_cases[0]; i++) {
    const sig_case_t *c = &sig_cases[i];
    r = vt_cli(t, "signal", "trap", c->arg, NULL);
    if (r->code != c->code)
      fprintf(stderr, "\n  vigil signal trap '%s': exit %d (%s), want %d",
              c->arg, r->code, r->err, c->code);
    CU_ASSERT_EQUAL(r->code, c->code);
    if (c->said && c->code == 0) {
      CU_ASSERT(wait_file(t, f, c->said, VT_WAIT_MS));
    } else if (c->said) {
      CU_ASSERT(vt_contains(r->err, c->said));
    }
  }
#if defined(_WIN32)
  /* Ctrl+C to the service's process group: the child enabled it. */
  r = vt_cli(t, "signal", "trap", "INT", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(wait_file(t, f, "INT\n", VT_WAIT_MS));
  /* Ctrl+Break needs the console the supervisor shares with its
   * children; a supervisor Wine starts without one may not get one (see
   * pal/win32/signal.c), and then the send fails, said as such (exit
   * 1), never taken for an unknown signal. */
  r = vt_cli(t, "signal", "trap", "sigbreak", NULL);
  CU_ASSERT(r->code == 0 || (r->code == 1 &&
                             vt_contains(r->err, "cannot send BREAK")));
  if (r->code == 0) {
    CU_ASSERT(wait_file(t, f, "BREAK\n", VT_WAIT_MS));
  } else {
    fprintf(stderr, "\n  [signal] BREAK not checked: no console to send "
                    "it on here (%s)", r->err);
  }
  /* TERM terminates it; the restart policy brings it back. */
  r = vt_cli(t, "signal", "trap", "TERM", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_wait_pid_gone(t, pid, VT_WAIT_MS));
  CU_ASSERT(vt_wait_log(t, "trap: killed by signal TERM; restarting in",
                        VT_WAIT_MS));
  VT_REQUIRE(vt_wait_state(t, "trap", "running", VT_WAIT_MS) != NULL);
  pid = vt_pid(t, "trap");
#else
  /* A number is the OS's own; the reply names the pid. */
  r = vt_cli(t, "signal", "trap",
             apr_psprintf(vt_pool(t), "%d", pal_signal_native(VG_SIGUSR1)),
             NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(r->out,
                         apr_psprintf(vt_pool(t),
                                      "trap: signal %d sent to pid %ld\n",
                                      pal_signal_native(VG_SIGUSR1), pid));
  CU_ASSERT(wait_file(t, f, "USR1\n", VT_WAIT_MS));
#endif
  r = vt_cli(t, "signal", "nosuch", "TERM", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "no such service: nosuch"));
  CU_ASSERT_EQUAL(vt_pid(t, "trap"), pid);

  /* A stopped service: a clear error, exit 1. */
  r = vt_cli(t, "stop", "trap", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  r = vt_cli(t, "signal", "trap", "TERM", NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "trap: not running (stopped)"));

  /* KILL ends it; the restart policy brings it back. */
  r = vt_cli(t, "start", "trap", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  pid = vt_pid(t, "trap");
  r = vt_cli(t, "signal", "trap", "KILL", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_wait_pid_gone(t, pid, VT_WAIT_MS));
  CU_ASSERT(vt_wait_log(t, "trap: killed by signal KILL; restarting in",
                        VT_WAIT_MS));
  vt_end(t);
}

/* The protocol itself: a signal that is neither a name nor a number. */
static void test_signal_protocol(void) {
  vt_t *t = vt_begin("signal-proto");
  const char *reply = NULL;
  int closed = 0;
  static const char req[] =
      "{\"cmd\":\"signal\",\"name\":\"trap\",\"signal\":true}\n"
      "{\"cmd\":\"signal\",\"name\":\"trap\"}\n"
      "{\"cmd\":\"signal\",\"signal\":\"HUP\"}\n"
      "{\"cmd\":\"signal\",\"name\":\"trap\",\"signal\":\"NOPE\"}\n"
      "{\"cmd\":\"signal\",\"name\":\"trap\",\"signal\":-3}\n"
      "{\"cmd\":\"status\",\"name\":\"trap\"}\n";
  if (!t)
    return;
  vt_config(t, "vigil.xml", trap_svc(t, "trap", NULL), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_control_raw(t, req, sizeof req - 1, 6, VT_WAIT_MS, &reply,
                            &closed) == 0);
  CU_ASSERT_EQUAL(vt_count_lines(reply, "\"ok\":false"), 5);
  CU_ASSERT(vt_contains(reply, "missing \\\"signal\\\""));
  CU_ASSERT(vt_contains(reply, "missing \\\"name\\\""));
  CU_ASSERT(vt_contains(reply, "unknown signal: NOPE"));
  CU_ASSERT(vt_contains(reply, "no such signal number: -3"));

  /* Errors that are the client's, not the protocol's: still connected. */
  CU_ASSERT(!closed);
  CU_ASSERT(vt_contains(reply, "\"supervisor\""));
  vt_end(t);
}

/* ---- reload NAME --------------------------------------------------------------- */

static void test_reload_signal(void) {
  vt_t *t = vt_begin("reload-sig");
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml", trap_svc(t, "dflt", NULL),
#if defined(_WIN32)
            trap_svc(t, "own", "    <reload signal=\"INT\"/>\n"),
#else
            trap_svc(t, "own", "    <reload signal=\"USR2\"/>\n"),
#endif
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(wait_file(t, sigfile(t, "own"), "ready", VT_WAIT_MS));
  VT_REQUIRE(wait_file(t, sigfile(t, "dflt"), "ready", VT_WAIT_MS));
  r = vt_cli(t, "reload", "own", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
#if defined(_WIN32)
  CU_ASSERT(wait_file(t, sigfile(t, "own"), "INT\n", VT_WAIT_MS));
  /* HUP, the default, has no meaning on Windows: a clear failure. */
  r = vt_cli(t, "reload", "dflt", NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "cannot be sent on this platform"));
#else
  CU_ASSERT(wait_file(t, sigfile(t, "own"), "USR2\n", VT_WAIT_MS));
  r = vt_cli(t, "reload", "dflt", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "dflt: HUP sent to pid"));
  CU_ASSERT(wait_file(t, sigfile(t, "dflt"), "HUP\n", VT_WAIT_MS));
#endif
  /* A stopped service is not reloaded. */
  r = vt_cli(t, "stop", "own", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  r = vt_cli(t, "reload", "own", NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "own: not running"));
  r = vt_cli(t, "reload", "nosuch", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  /* Without a name: the configuration, as before. */
  r = vt_cli(t, "reload", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  vt_end(t);
}

/* <reload> with a command: it runs with MAINPID; a failure and a command
 * that hangs past its timeout are errors for the CLI, and meanwhile the
 * supervisor answers `status` at once. */
static void test_reload_command(void) {
  vt_t *t = vt_begin("reload-cmd");
  const char *self;
  vt_res_t *r;
  uint64_t t0, slowest = 0;
  vg_process_t *bg;
  int polls = 0;
  if (!t)
    return;
  self = vt_xml(t, vt_self(t));
  vt_config(
      t, "vigil.xml",
      trap_svc(t, "ok",
               apr_psprintf(vt_pool(t),
                            "    <reload><command>%s</command>"
                            "<arg>--child</arg><arg>sleep-exit</arg>"
                            "<arg>0</arg><arg>0</arg></reload>\n",
                            self)),
      trap_svc(t, "fails",
               apr_psprintf(vt_pool(t),
                            "    <reload><command>%s</command>"
                            "<arg>--child</arg><arg>sleep-exit</arg>"
                            "<arg>0</arg><arg>3</arg></reload>\n",
                            self)),
      trap_svc(t, "hangs",
               apr_psprintf(vt_pool(t),
                            "    <reload timeout=\"4s\"><command>%s"
                            "</command><arg>--child</arg>"
                            "<arg>sleep-exit</arg><arg>30000</arg>"
                            "<arg>0</arg></reload>\n",
                            self)),
      trap_svc(t, "missing",
               "    <reload><command>/nonexistent/reloader</command>"
               "</reload>\n"),
      NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "hangs", "running", VT_WAIT_MS) != NULL);
  VT_REQUIRE(vt_wait_state(t, "missing", "running", VT_WAIT_MS) != NULL);

  r = vt_cli(t, "reload", "ok", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "ok: reload command: exit 0"));
  r = vt_cli(t, "reload", "fails", NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "fails: reload command: exit 3"));
  CU_ASSERT(vt_wait_log(t, "fails: reload command failed: exit 3",
                        VT_WAIT_MS));
  r = vt_cli(t, "reload", "missing", NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "missing: reload command: exec "));

  /* The hanging one, in the background; status meanwhile. */
  bg = NULL;
  {
    vg_process_options_t o;
    const char *argv[] = {vt_vigil_bin(), "reload", "hangs", "-c",
                          vt_path(t, "vigil.xml"), NULL};
    memset(&o, 0, sizeof o);
    o.args = argv;
    o.file = argv[0];
    o.stdio[0].kind = o.stdio[1].kind = o.stdio[2].kind = VG_STDIO_IGNORE;
    bg = apr_pcalloc(vt_pool(t), sizeof *bg);
    VT_REQUIRE(vg_spawn(vt_loop(t), bg, &o) == APR_SUCCESS);
    vt_track(t, bg->pid);
  }
  VT_REQUIRE(vt_wait_log(t, "hangs: running its reload command",
                         VT_WAIT_MS));
  t0 = vt_now_ms();
  while (vt_now_ms() - t0 < 1000) {
    uint64_t s0 = vt_now_ms(), d;
    svc_json_t *st = vt_status(t);
    d = vt_now_ms() - s0;
    CU_ASSERT_PTR_NOT_NULL(st);
    if (d > slowest)
      slowest = d;
    polls++;
  }
  /* A status costs a process start here; it must not wait for the
   * command (which lasts 4 s). */
  CU_ASSERT(slowest < 1000);
  CU_ASSERT(polls >= 2);
  /* A second reload while the first runs: refused at once. */
  r = vt_cli(t, "reload", "hangs", NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "still running"));
  CU_ASSERT(vt_wait_log(t, "hangs: reload command failed: timed out",
                        VT_WAIT_MS));
  CU_ASSERT_STRING_EQUAL(vt_state(t, "hangs"), "running");
  /* And once it was killed, a reload runs again. */
  r = vt_cli(t, "reload", "ok", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  /* A client that asks and goes away while the command runs holds
   * nothing: the command ends at its timeout, the supervisor answers. */
  {
    static const char req[] = "{\"cmd\":\"reload\",\"name\":\"hangs\"}\n";
    const char *reply = NULL;
    int closed = 0;
    vt_control_raw(t, req, sizeof req - 1, 1, 300, &reply, &closed);
    CU_ASSERT(reply == NULL || *reply == '\0');
    CU_ASSERT(wait_log_lines(t, "hangs: reload command failed: timed out",
                             2, VT_WAIT_MS));
    CU_ASSERT_PTR_NOT_NULL(vt_status(t));
    /* Shutdown while a reload command runs: it is killed with its
     * service, and the supervisor exits 0 (under ASan: nothing leaked). */
    vt_control_raw(t, req, sizeof req - 1, 1, 300, &reply, &closed);
    VT_REQUIRE(wait_log_lines(t, "hangs: running its reload command", 3,
                              VT_WAIT_MS));
    r = vt_cli(t, "shutdown", NULL);
    CU_ASSERT_EQUAL(r->code, 0);
    CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
  }
  vg_close((vg_handle_t *)bg, NULL);
  vt_end(t);
}

#if !defined(_WIN32)
/* The reload command sees the service's environment and MAINPID. */
static void test_reload_command_env(void) {
  vt_t *t = vt_begin("reload-env");
  const char *out;
  vt_res_t *r;
  char *txt;
  if (!t)
    return;
  out = vt_path(t, "env.txt");
  vt_config(t, "vigil.xml",
            trap_svc(t, "svc",
                     apr_psprintf(vt_pool(t),
                                  "    <env name=\"COLOR\" value=\"blue\"/>\n"
                                  "    <reload><command>/bin/sh</command>"
                                  "<arg>-c</arg><arg>echo \"$MAINPID "
                                  "$COLOR $VIGIL_SERVICE\" &gt; %s</arg>"
                                  "</reload>\n",
                                  vt_xml(t, out))),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "svc", "running", VT_WAIT_MS) != NULL);
  r = vt_cli(t, "reload", "svc", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  txt = vt_read_file(t, out, NULL);
  CU_ASSERT_STRING_EQUAL(txt ? txt : "(none)",
                         apr_psprintf(vt_pool(t), "%ld blue svc\n",
                                      vt_pid(t, "svc")));
  vt_end(t);
}
#endif

/* ---- instance groups ------------------------------------------------------------ */

static int count_running(svc_json_t *st, const char *prefix) {
  const svc_json_t *list = svc_json_get(st, "services");
  size_t i;
  int n = 0;
  for (i = 0; list && i < svc_json_size(list); i++) {
    const svc_json_t *s = svc_json_at(list, i);
    if (!strncmp(vt_sfield(s, "name"), prefix, strlen(prefix)) &&
        !strcmp(vt_sfield(s, "state"), "running"))
      n++;
  }
  return n;
}

static void test_groups(void) {
  vt_t *t = vt_begin("groups");
  vt_res_t *r;
  long pids[3];
  int i;
  if (!t)
    return;
  /* "web" with 3 instances; "webx" must not be taken for one of them. */
  vt_config(t, "vigil.xml",
            vt_svc(t, "web",
                   "<instances>3</instances>\n    " READY_FAST
                   "    <log stdout=\"web-${VIGIL_INSTANCE}.log\"/>\n",
                   "signals",
                   vt_path(t, "web-${VIGIL_INSTANCE}.sig"), NULL),
            vt_svc(t, "webx", READY_FAST, "sleep", "30000", NULL), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  for (i = 0; i < 3; i++)
    VT_REQUIRE(wait_file(t, vt_path(t, apr_psprintf(vt_pool(t),
                                                    "web-%d.sig", i)),
                         "ready", VT_WAIT_MS));
  VT_REQUIRE(vt_wait_state(t, "webx", "running", VT_WAIT_MS) != NULL);

  /* status */
  r = vt_cli(t, "status", "web", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "web-0") && vt_contains(r->out, "web-1") &&
            vt_contains(r->out, "web-2"));
  CU_ASSERT(!vt_contains(r->out, "webx"));
  r = vt_cli(t, "status", "web-1", NULL);
  CU_ASSERT(vt_contains(r->out, "web-1") && !vt_contains(r->out, "web-0"));
  r = vt_cli(t, "status", "we", NULL);
  CU_ASSERT_EQUAL(r->code, 2);

  /* signal and reload: each instance */
#if defined(_WIN32)
  r = vt_cli(t, "signal", "web", "INT", NULL);
#else
  r = vt_cli(t, "signal", "web", "HUP", NULL);
#endif
  CU_ASSERT_EQUAL(r->code, 0);
  for (i = 0; i < 3; i++)
    CU_ASSERT(wait_file(t, vt_path(t, apr_psprintf(vt_pool(t),
                                                   "web-%d.sig", i)),
#if defined(_WIN32)
                        "INT\n",
#else
                        "HUP\n",
#endif
                        VT_WAIT_MS));
#if !defined(_WIN32)
  r = vt_cli(t, "reload", "web", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(vt_count_lines(r->out, ": HUP sent to pid"), 3);
  /* One instance by its own name. */
  r = vt_cli(t, "signal", "web-2", "USR1", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(wait_file(t, vt_path(t, "web-2.sig"), "USR1\n", VT_WAIT_MS));
  vt_sleep(t, 200);
  CU_ASSERT(!vt_contains(vt_read_file(t, vt_path(t, "web-0.sig"), NULL),
                         "USR1"));
#endif

  /* logs: every instance, prefixed */
  vt_write_file(t, log_path(t, "web-0.log"), "zero\n");
  vt_write_file(t, log_path(t, "web-2.log"), "two\n");
  r = vt_cli(t, "logs", "web", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "web-0 | zero\n"));
  CU_ASSERT(vt_contains(r->out, "web-2 | two\n"));
  r = vt_cli(t, "logs", "web-2", NULL);
  CU_ASSERT_STRING_EQUAL(r->out, "two\n");

  /* stop, start, restart: each instance, and nothing else */
  for (i = 0; i < 3; i++)
    pids[i] = vt_pid(t, apr_psprintf(vt_pool(t), "web-%d", i));
  r = vt_cli(t, "restart", "web", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(vt_count_lines(r->out, "running"), 3);
  for (i = 0; i < 3; i++)
    CU_ASSERT(vt_pid(t, apr_psprintf(vt_pool(t), "web-%d", i)) != pids[i]);
  r = vt_cli(t, "stop", "web", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(count_running(vt_status(t), "web-"), 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "webx"), "running");
  r = vt_cli(t, "start", "web", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(count_running(vt_status(t), "web-"), 3);
  r = vt_cli(t, "stop", "web-1", NULL);
  CU_ASSERT_EQUAL(count_running(vt_status(t), "web-"), 2);
  /* a group with one instance down: the others are signalled, the
   * command fails and says which */
#if !defined(_WIN32)
  r = vt_cli(t, "signal", "web", "HUP", NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "web-1: not running (stopped)"));
  CU_ASSERT_EQUAL(vt_count_lines(r->out, ": HUP sent to pid"), 2);
#endif
  vt_end(t);
}

/* ---- merged logs ----------------------------------------------------------------- */

#define TS(ms) "2026-12-06T10:00:00." ms "Z "

/* Services whose log files the test writes: a, b (timestamped), c
 * (without timestamps), err (stderr only). */
static vt_t *logs_fixture(const char *tag) {
  vt_t *t = vt_begin(tag);
  if (!t)
    return NULL;
  vt_config(t, "vigil.xml",
            vt_svc(t, "a",
                   "<restart policy=\"never\"/>\n"
                   "    <log stdout=\"a.log\" timestamps=\"true\"/>\n",
                   "sleep-exit", "0", "0", NULL),
            vt_svc(t, "b",
                   "<restart policy=\"never\"/>\n"
                   "    <log stdout=\"b.log\" timestamps=\"true\"/>\n",
                   "sleep-exit", "0", "0", NULL),
            vt_svc(t, "err", "<restart policy=\"never\"/>\n",
                   "print-stderr", "only on stderr\n", NULL),
            NULL);
  if (!vt_sup_start_ready(t, vt_path(t, "vigil.xml")) ||
      !vt_wait_state(t, "a", "exited", VT_WAIT_MS) ||
      !vt_wait_state(t, "b", "exited", VT_WAIT_MS) ||
      !vt_wait_state(t, "err", "exited", VT_WAIT_MS)) {
    CU_FAIL("the services did not run");
    vt_end(t);
    return NULL;
  }
  return t;
}

static void test_logs_merged(void) {
  vt_t *t = logs_fixture("logs-merge");
  vt_res_t *r;
  if (!t)
    return;
  /* a's and b's lines interleave in time; "cont" has no stamp of its
   * own and goes with the line before it; a tie keeps the order asked. */
  vt_write_file(t, log_path(t, "a.log"),
                TS("100") "a1\n" TS("300") "a2\n" "cont\n"
                TS("500") "a3\n" TS("700") "a4\n");
  vt_write_file(t, log_path(t, "b.log"),
                TS("200") "b1\n" TS("400") "b2\n" TS("500") "b3\n"
                TS("600") "b4\n");
  r = vt_cli(t, "logs", "a", "b", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(r->out,
                         "a | " TS("100") "a1\n"
                         "b | " TS("200") "b1\n"
                         "a | " TS("300") "a2\n"
                         "a | cont\n"
                         "b | " TS("400") "b2\n"
                         "a | " TS("500") "a3\n"
                         "b | " TS("500") "b3\n"
                         "b | " TS("600") "b4\n"
                         "a | " TS("700") "a4\n");
  /* -n N: the last N of each, merged. */
  r = vt_cli(t, "logs", "b", "a", "-n", "2", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(r->out,
                         "b | " TS("500") "b3\n"
                         "a | " TS("500") "a3\n"
                         "b | " TS("600") "b4\n"
                         "a | " TS("700") "a4\n");
  /* A name twice is shown once. */
  r = vt_cli(t, "logs", "a", "a", "-n", "1", NULL);
  CU_ASSERT_STRING_EQUAL(r->out, "a | " TS("700") "a4\n");
  /* One name: exactly as before, no prefix. */
  r = vt_cli(t, "logs", "a", "-n", "2", NULL);
  CU_ASSERT_STRING_EQUAL(r->out, TS("500") "a3\n" TS("700") "a4\n");
  /* No name: every service with a log file; err's stdout is empty and
   * its stderr is not: said on stderr. */
  r = vt_cli(t, "logs", "-n", "1", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(r->out, "b | " TS("600") "b4\n"
                                 "a | " TS("700") "a4\n");
  CU_ASSERT(vt_contains(r->err, "err's stdout log is empty, but its "
                                "stderr has lines"));
  r = vt_cli(t, "logs", "err", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(r->out, "");
  CU_ASSERT(vt_contains(r->err, "vigil logs err --stderr"));
  r = vt_cli(t, "logs", "err", "--stderr", NULL);
  CU_ASSERT_STRING_EQUAL(r->out, "only on stderr\n");
  CU_ASSERT_STRING_EQUAL(r->err, "");
  /* An unknown name among known ones: exit 2. */
  r = vt_cli(t, "logs", "a", "nosuch", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  vt_end(t);
}

/* -f: what both logs gain, merged, across a rotation of one of them. */
typedef struct feed_s {
  vt_t *t;
  vg_timer_t timer;
  int step;
} feed_t;

/* Append in place, as a service's capture does (vt_write_file replaces
 * the file, which a follower takes for a rotation). */
static void append(vt_t *t, const char *file, const char *text) {
  apr_file_t *f;
  if (apr_file_open(&f, log_path(t, file),
                    APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND,
                    APR_FPROT_OS_DEFAULT, vt_pool(t)) != APR_SUCCESS) {
    CU_FAIL("cannot append to a log");
    return;
  }
  apr_file_write_full(f, text, strlen(text), NULL);
  apr_file_close(f);
}

static void feed(vg_timer_t *tm) {
  feed_t *f = tm->data;
  vt_t *t = f->t;
  switch (f->step++) {
  case 0:
    append(t, "a.log", TS("810") "a-new1\n");
    append(t, "b.log", TS("800") "b-new1\n");
    break;
  case 1:
    /* Rotation: a.log moves to a.log.1, a new a.log begins.  The line
     * appended to the old file just before still shows. */
    append(t, "a.log", TS("820") "a-last-of-old\n");
    apr_file_rename(log_path(t, "a.log"), log_path(t, "a.log.1"),
                    vt_pool(t));
    vt_write_file(t, log_path(t, "a.log"), TS("900") "a-rotated\n");
    break;
  case 2:
    append(t, "b.log", TS("950") "b-new2\n");
    vg_timer_stop(tm);
    break;
  }
}

static void test_logs_follow(void) {
  vt_t *t = logs_fixture("logs-follow");
  feed_t f;
  vt_res_t *r;
  if (!t)
    return;
  vt_write_file(t, log_path(t, "a.log"), TS("100") "a1\n");
  vt_write_file(t, log_path(t, "b.log"), TS("200") "b1\n");
  memset(&f, 0, sizeof f);
  f.t = t;
  vg_timer_init(vt_loop(t), &f.timer);
  f.timer.data = &f;
  vg_timer_start(&f.timer, feed, 1200, 900);
  /* Runs until killed at 4.5 s; what it printed by then is the test. */
  r = vt_vigil(t, 4500, "logs", "a", "b", "-f", "-c",
               vt_path(t, "vigil.xml"), NULL);
  vg_close((vg_handle_t *)&f.timer, NULL);
  CU_ASSERT(r->timed_out);
  CU_ASSERT_STRING_EQUAL(r->out,
                         "a | " TS("100") "a1\n"
                         "b | " TS("200") "b1\n"
                         "b | " TS("800") "b-new1\n"
                         "a | " TS("810") "a-new1\n"
                         "a | " TS("820") "a-last-of-old\n"
                         "a | " TS("900") "a-rotated\n"
                         "b | " TS("950") "b-new2\n");
  vt_end(t);
}

/* ---- the supervisor's log ----------------------------------------------------------- */

static int backing_off(const svc_json_t *s, void *arg) {
  (void)arg;
  return !strcmp(vt_sfield(s, "state"), "backoff");
}

/* Each restart is logged with the wait chosen, the one status shows. */
static void test_restart_wait_logged(void) {
  vt_t *t = vt_begin("restart-wait");
  const svc_json_t *s;
  const char *reason;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "crash", "<restart delay=\"1s\" max-restarts=\"50\"/>\n",
                   "sleep-exit", "0", "1", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_svc(t, "crash", backing_off, NULL, VT_WAIT_MS);
  VT_REQUIRE(s != NULL);
  reason = vt_sfield(s, "reason");
  VT_REQUIRE(reason && vt_contains(reason, "; restarting in "));
  /* The jitter makes it 1000..1100 ms: the exact figure is in the log. */
  CU_ASSERT(vt_wait_log(t, apr_pstrcat(vt_pool(t), "crash: ", reason, NULL),
                        VT_WAIT_MS));
  vt_end(t);
}

/* The reload summary names the services of each kind, 16 at most. */
static void test_reload_summary_names(void) {
  vt_t *t = vt_begin("reload-names");
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "w", "<instances>2</instances>\n"
                           "    <autostart>false</autostart>\n",
                   "sleep", "30000", NULL),
            vt_svc(t, "gone", "<autostart>false</autostart>\n", "sleep",
                   "30000", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  vt_config(t, "vigil.xml",
            vt_svc(t, "w", "<instances>20</instances>\n"
                           "    <autostart>false</autostart>\n",
                   "sleep", "30000", NULL),
            NULL);
  r = vt_cli(t, "reload", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_wait_log(t,
                        "applying: 18 added (w-2, w-3, w-4, w-5, w-6, w-7, "
                        "w-8, w-9, w-10, w-11, w-12, w-13, w-14, w-15, w-16, "
                        "w-17 and 2 more), 1 removed (gone), 0 changed, "
                        "0 updated, 2 kept",
                        VT_WAIT_MS));
  vt_end(t);
}

static CU_TestInfo vigil_admin_tests[] = {
    {"signal: names, numbers, errors, a stopped service", test_signal},
    {"signal: malformed requests", test_signal_protocol},
    {"reload NAME: its <reload signal>, HUP by default", test_reload_signal},
    {"reload NAME: a command, failing, hanging past its timeout",
     test_reload_command},
#if !defined(_WIN32)
    {"reload NAME: the command's environment", test_reload_command_env},
#endif
    {"instance groups: every command by the base name", test_groups},
    {"logs: merged in time order, -n, the empty stdout note",
     test_logs_merged},
    {"logs -f: merged, across a rotation", test_logs_follow},
    {"restarts are logged with their wait", test_restart_wait_logged},
    {"the reload summary names services, 16 per kind at most",
     test_reload_summary_names},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_admin_suite = {.pName = "vigil_admin",
                                  .pInitFunc = NULL,
                                  .pCleanupFunc = NULL,
                                  .pSetUpFunc = NULL,
                                  .pTearDownFunc = NULL,
                                  .pTests = vigil_admin_tests};
