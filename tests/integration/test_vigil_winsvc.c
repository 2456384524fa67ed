/*
 * test_vigil_winsvc.c -- vigil as a Windows service (suite vigil_winsvc;
 * built on Windows only, see tests/CMakeLists.txt), through the real
 * Service Control Manager: under Wine that is Wine's services.exe, which
 * starts the service process with the installed command line, runs its
 * StartServiceCtrlDispatcherW / SetServiceStatus protocol and delivers
 * SERVICE_CONTROL_STOP, as Windows does.
 *
 *   1. the command line `service install` registers: quoting of paths
 *      with spaces, trailing backslashes and quotes, read back by
 *      CommandLineToArgvW; `--print` shows it and installs nothing
 *   2. the round trip: install, start (RUNNING, the supervised child and
 *      its grandchild run, vigil's own log is STATE-DIR/vigil.log), stop
 *      (STOPPED, exit code 0, the whole tree gone), uninstall; uninstall
 *      of a running service; `vigil shutdown` ending the service
 *   3. a non-zero exit reaches the manager (ERROR_SERVICE_SPECIFIC_ERROR
 *      and the status), and the clear errors: already installed, no such
 *      service, marked for deletion (a handle to a deleted service still
 *      open: Wine keeps it, as Windows does), run --service outside the
 *      manager
 *   4. the Event Log call, and the bundled Windows example config
 *
 * What Wine 8's manager does not do, and so what these tests cannot show:
 * it knows neither SERVICE_CONFIG_DELAYED_AUTO_START_INFO nor
 * SERVICE_CONFIG_FAILURE_ACTIONS_FLAG (ERROR_INVALID_LEVEL: vigil installs
 * without them there, and status says "automatic", not "(delayed)"); it
 * stores failure actions but never acts on them (no restart after a
 * failure); it sends no PRESHUTDOWN or SHUTDOWN controls (there is no
 * system shutdown); its ReportEventW stores nothing (the call succeeds).
 * Everyone runs as an administrator under Wine, so "access denied: run as
 * Administrator" cannot be provoked here.  Checkpoints and wait hints are
 * reported but not observable without racing the service.
 *
 * Services are installed in the prefix's registry and would start with
 * it (automatic start), so every test removes what it installed on every
 * path, and names are unique to this process.
 */
#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <shellapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vigil_test.h"

/* Bound of a service start or stop under a loaded Wine. */
#define SCM_WAIT_MS 30000

/* ---- helpers --------------------------------------------------------------- */

static const char *unique_name(vt_t *t) {
  static unsigned n;
  return apr_psprintf(vt_pool(t), "vigil-t%ld-%u", pal_getpid(), ++n);
}

/* Remove a service a test installed, whatever state it is in. */
static void forget_service(const char *name) {
  apr_status_t rv = pal_svcmgr_uninstall(name, SCM_WAIT_MS);
  CU_ASSERT(rv == APR_SUCCESS || rv == PAL_ESVCNOENT);
}

/* `line` read back by CommandLineToArgvW, as UTF-8 (pool). */
static char **parse_line(vt_t *t, const char *line, int *argc) {
  int n = MultiByteToWideChar(CP_UTF8, 0, line, -1, NULL, 0), i;
  wchar_t *w = apr_palloc(vt_pool(t), (apr_size_t)n * sizeof *w);
  wchar_t **wargv;
  char **out;
  MultiByteToWideChar(CP_UTF8, 0, line, -1, w, n);
  wargv = CommandLineToArgvW(w, argc);
  if (!wargv)
    return NULL;
  out = apr_pcalloc(vt_pool(t), (apr_size_t)(*argc + 1) * sizeof *out);
  for (i = 0; i < *argc; i++) {
    int len = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL,
                                  NULL);
    out[i] = apr_palloc(vt_pool(t), (apr_size_t)len);
    WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, out[i], len, NULL, NULL);
  }
  LocalFree(wargv);
  return out;
}

/* Paths compared as Windows compares them: case and slash blind. */
static int same_path(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char x = *a == '/' ? '\\' : *a, y = *b == '/' ? '\\' : *b;
    if (x >= 'A' && x <= 'Z')
      x = (char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = (char)(y - 'A' + 'a');
    if (x != y)
      return 0;
  }
  return *a == *b;
}

/* ---- 1. the command line -------------------------------------------------- */

/* Each argv quoted by pal_svcmgr_command_line reads back the same. */
static void test_command_line_quoting(void) {
  static const char *const cases[][7] = {
      {"C:\\Program Files\\Vigil\\vigil.exe", "run", "-c",
       "C:\\My Configs\\vigil.xml", "--service", "vigil", NULL},
      {"C:\\vigil.exe", "run", "-c", "C:\\dir with space\\", "--service",
       "a", NULL},
      {"C:\\vigil.exe", "say \"hi\"", "back\\\\slash\\\"quote", "", "\t",
       NULL},
      {"C:\\plain\\vigil.exe", "run", "-c", "C:\\plain\\v.xml", NULL},
  };
  static const char *const expect[] = {
      "\"C:\\Program Files\\Vigil\\vigil.exe\" run -c "
      "\"C:\\My Configs\\vigil.xml\" --service vigil",
      "C:\\vigil.exe run -c \"C:\\dir with space\\\\\" --service a",
      "C:\\vigil.exe \"say \\\"hi\\\"\" \"back\\\\slash\\\\\\\"quote\" \"\" "
      "\"\t\"",
      "C:\\plain\\vigil.exe run -c C:\\plain\\v.xml",
  };
  vt_t *t = vt_begin("winsvc-quote");
  const char *bad[] = {"C:\\a\"b.exe", "run", NULL};
  char line[512], tiny[8];
  size_t i;
  if (!t)
    return;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char **back;
    int argc = 0, j, n;
    for (n = 0; cases[i][n]; n++)
      ;
    CU_ASSERT_EQUAL_FATAL(
        pal_svcmgr_command_line(cases[i], line, sizeof line), APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(line, expect[i]);
    back = parse_line(t, line, &argc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL(argc, n);
    for (j = 0; j < n && j < argc; j++)
      CU_ASSERT_STRING_EQUAL(back[j], cases[i][j]);
  }
  /* A '"' in the program cannot be quoted; a short buffer is refused. */
  CU_ASSERT_EQUAL(pal_svcmgr_command_line(bad, line, sizeof line),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(pal_svcmgr_command_line(cases[0], tiny, sizeof tiny),
                  APR_ENAMETOOLONG);
  vt_end(t);
}

/* install --print: the command line for a config under a directory with
 * spaces, read back; nothing is installed. */
static void test_install_print(void) {
  vt_t *t = vt_begin("winsvc-print");
  const char *cfg, *name, *line;
  pal_svc_status_t st;
  char **back;
  int argc = 0;
  vt_res_t *r;
  if (!t)
    return;
  name = unique_name(t);
  VT_REQUIRE(apr_dir_make(vt_path(t, "dir with spaces"),
                          APR_FPROT_OS_DEFAULT, vt_pool(t)) == APR_SUCCESS);
  cfg = vt_config(t, "dir with spaces/vigil.xml", NULL);
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name", name,
               "--print", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  line = apr_pstrndup(vt_pool(t), r->out, strcspn(r->out, "\r\n"));
  back = parse_line(t, line, &argc);
  VT_REQUIRE(back != NULL && argc == 6);
  CU_ASSERT(same_path(back[0], vt_vigil_bin()));
  CU_ASSERT_STRING_EQUAL(back[1], "run");
  CU_ASSERT_STRING_EQUAL(back[2], "-c");
  CU_ASSERT(same_path(back[3], cfg));
  CU_ASSERT(strchr(back[3], '/') == NULL);   /* native form */
  CU_ASSERT_STRING_EQUAL(back[4], "--service");
  CU_ASSERT_STRING_EQUAL(back[5], name);
  CU_ASSERT_EQUAL(pal_svcmgr_query(name, &st), PAL_ESVCNOENT);
  vt_end(t);
}

/* ---- 2. the round trip ------------------------------------------------------ */

static void round_trip(vt_t *t, const char *name) {
  const char *cfg, *pidfile = vt_path(t, "grandchild.pid");
  pal_svc_status_t st;
  long gpid, cpid;
  char *log;
  vt_res_t *r;

  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "worker", NULL, "grandchild-pidfile", pidfile,
                         NULL),
                  NULL);
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name", name,
               NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "installed service"));
  r = vt_vigil(t, VT_WAIT_MS, "service", "status", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "state:    stopped"));
  CU_ASSERT(vt_contains(r->out, "start:    automatic"));
  CU_ASSERT(vt_contains(r->out, "account:  LocalSystem"));
  CU_ASSERT(vt_contains(r->out, "--service"));

  /* Start: returns once the manager says RUNNING, which vigil reports
   * only when the supervisor is up (its control endpoint answers). */
  r = vt_vigil(t, SCM_WAIT_MS + VT_WAIT_MS, "service", "start", "--name",
               name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "is running (pid "));
  VT_REQUIRE(pal_svcmgr_query(name, &st) == APR_SUCCESS);
  CU_ASSERT_EQUAL(st.state, PAL_SVC_RUNNING);
  CU_ASSERT(st.pid > 0);
  vt_track(t, st.pid);
  r = vt_vigil(t, VT_WAIT_MS, "service", "status", "--name", name, NULL);
  CU_ASSERT(vt_contains(r->out, "state:    running (pid "));
  r = vt_vigil(t, VT_WAIT_MS, "service", "start", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "already running"));

  /* The supervised child runs: it started a grandchild and wrote its
   * pid; the supervisor (found through the config, as any CLI does)
   * reports the child running. */
  gpid = vt_wait_pid_file(t, pidfile, SCM_WAIT_MS);
  VT_REQUIRE(gpid > 0);
  vt_track(t, gpid);
  CU_ASSERT(vt_pid_alive(gpid));
  CU_ASSERT_PTR_NOT_NULL(vt_wait_state(t, "worker", "running", VT_WAIT_MS));
  cpid = vt_pid(t, "worker");
  CU_ASSERT(cpid > 0);
  vt_track(t, cpid);

  /* Stop: graceful (the same path as Ctrl+C), STOPPED with exit code 0,
   * and nothing of the tree is left. */
  r = vt_vigil(t, SCM_WAIT_MS + VT_WAIT_MS, "service", "stop", "--name",
               name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "stopped"));
  VT_REQUIRE(pal_svcmgr_query(name, &st) == APR_SUCCESS);
  CU_ASSERT_EQUAL(st.state, PAL_SVC_STOPPED);
  CU_ASSERT_EQUAL(st.exit_code, 0);
  CU_ASSERT_EQUAL(st.pid, 0);
  CU_ASSERT(vt_wait_pid_gone(t, cpid, VT_WAIT_MS));
  CU_ASSERT(vt_wait_pid_gone(t, gpid, VT_WAIT_MS));
  r = vt_vigil(t, VT_WAIT_MS, "service", "status", "--name", name, NULL);
  CU_ASSERT(vt_contains(r->out, "last run: exit status 0"));
  r = vt_vigil(t, VT_WAIT_MS, "service", "stop", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "not running"));

  /* With no console, vigil's own log went to STATE-DIR/vigil.log. */
  log = vt_read_file(t, vt_path(t, "state/vigil.log"), NULL);
  CU_ASSERT_PTR_NOT_NULL(log);
  CU_ASSERT(log && vt_contains(log, "started with"));
  CU_ASSERT(log && vt_contains(log, "worker: running"));
  CU_ASSERT(log && vt_contains(log, "shutting down"));
  CU_ASSERT(log && vt_contains(log, "exiting with status 0"));

  r = vt_vigil(t, VT_WAIT_MS, "service", "uninstall", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "removed service"));
  CU_ASSERT_EQUAL(pal_svcmgr_query(name, &st), PAL_ESVCNOENT);
}

/* A test on a service of its own, named uniquely, forgotten by the
 * manager afterwards whatever the body asserted. */
static void with_service(const char *tag,
                         void (*body)(vt_t *, const char *)) {
  vt_t *t = vt_begin(tag);
  const char *name;
  if (!t)
    return;
  name = unique_name(t);
  body(t, name);
  forget_service(name);
  vt_end(t);
}

static void test_round_trip(void) {
  with_service("winsvc-trip", round_trip);
}

/* Install NAME on a config with one long-running worker, start it
 * through the manager and read its status (the supervisor's pid is
 * tracked, so it is killed at the end whatever happens). */
static int install_worker_started(vt_t *t, const char *name,
                                  pal_svc_status_t *st) {
  const char *cfg = vt_config(
      t, "vigil.xml", vt_svc(t, "worker", NULL, "sleep", "30000", NULL),
      NULL);
  vt_res_t *r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg,
                         "--name", name, NULL);
  apr_status_t rv;
  char eb[128];
  if (r->code != 0) {
    fprintf(stderr, "\n    service install: exit %d: %s%s\n", r->code,
            r->out, r->err);
    return 0;
  }
  if ((rv = pal_svcmgr_start(name, SCM_WAIT_MS)) != APR_SUCCESS ||
      (rv = pal_svcmgr_query(name, st)) != APR_SUCCESS) {
    fprintf(stderr, "\n    %s: %s (%s)\n", name,
            vg_strerror(rv, eb, sizeof eb), pal_last_call());
    return 0;
  }
  vt_track(t, st->pid);
  return 1;
}

/* uninstall stops a running service first. */
static void uninstall_running(vt_t *t, const char *name) {
  pal_svc_status_t st;
  vt_res_t *r;
  VT_REQUIRE(install_worker_started(t, name, &st));
  CU_ASSERT_EQUAL(st.state, PAL_SVC_RUNNING);
  r = vt_vigil(t, SCM_WAIT_MS + VT_WAIT_MS, "service", "uninstall", "--name",
               name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_wait_pid_gone(t, st.pid, VT_WAIT_MS));
  CU_ASSERT_EQUAL(pal_svcmgr_query(name, &st), PAL_ESVCNOENT);
}

static void test_uninstall_running(void) {
  with_service("winsvc-unrun", uninstall_running);
}

/* `vigil shutdown` through the control endpoint ends the service too:
 * the supervisor stops by itself, and the manager sees STOPPED, 0. */
static void shutdown_cli(vt_t *t, const char *name) {
  pal_svc_status_t st;
  uint64_t deadline;
  vt_res_t *r;
  VT_REQUIRE(install_worker_started(t, name, &st));
  VT_REQUIRE(vt_wait_state(t, "worker", "running", VT_WAIT_MS) != NULL);
  r = vt_cli(t, "shutdown", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  deadline = vt_now_ms() + SCM_WAIT_MS;
  while (pal_svcmgr_query(name, &st) == APR_SUCCESS &&
         st.state != PAL_SVC_STOPPED && vt_now_ms() < deadline)
    vt_sleep(t, 50);
  CU_ASSERT_EQUAL(st.state, PAL_SVC_STOPPED);
  CU_ASSERT_EQUAL(st.exit_code, 0);
}

static void test_shutdown_cli(void) {
  with_service("winsvc-shut", shutdown_cli);
}

/* ---- 3. exit codes and errors ----------------------------------------------- */

/* vigil exits 2 under the manager (its config no longer loads): the
 * manager records ERROR_SERVICE_SPECIFIC_ERROR with 2, and the CLI says
 * so. */
static void exit_code(vt_t *t, const char *name) {
  const char *cfg = vt_config(t, "vigil.xml", NULL);
  pal_svc_status_t st;
  vt_res_t *r;
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name", name,
               NULL);
  VT_REQUIRE(r->code == 0);
  VT_REQUIRE(vt_write_file(t, cfg, "<vigil><bogus/></vigil>\n") == 0);
  r = vt_vigil(t, SCM_WAIT_MS + VT_WAIT_MS, "service", "start", "--name",
               name, NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "stopped at once (exit status 2)"));
  VT_REQUIRE(pal_svcmgr_query(name, &st) == APR_SUCCESS);
  CU_ASSERT_EQUAL(st.state, PAL_SVC_STOPPED);
  CU_ASSERT_EQUAL(st.exit_code, 1066);   /* ERROR_SERVICE_SPECIFIC_ERROR */
  CU_ASSERT_EQUAL(st.service_exit_code, 2);
  r = vt_vigil(t, VT_WAIT_MS, "service", "status", "--name", name, NULL);
  CU_ASSERT(vt_contains(r->out, "last run: exit status 2"));
}

static void test_exit_code(void) {
  with_service("winsvc-exit", exit_code);
}

static void errors(vt_t *t, const char *name) {
  const char *cfg = vt_config(t, "vigil.xml", NULL);
  vt_res_t *r;
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name", name,
               NULL);
  VT_REQUIRE(r->code == 0);
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name", name,
               NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "is already installed"));
  CU_ASSERT_EQUAL(pal_svcmgr_install(&(pal_svc_install_t){
                      .name = name,
                      .argv = (const char *const[]){"C:\\x.exe", NULL}}),
                  PAL_ESVCEXISTS);
  r = vt_vigil(t, VT_WAIT_MS, "service", "uninstall", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);

  r = vt_vigil(t, VT_WAIT_MS, "service", "uninstall", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "no such service"));
  r = vt_vigil(t, VT_WAIT_MS, "service", "start", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "no such service"));
  r = vt_vigil(t, VT_WAIT_MS, "service", "status", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "no such service"));
  CU_ASSERT_EQUAL(pal_svcmgr_stop(name, 1000), PAL_ESVCNOENT);

  /* Usage errors: install without -c, -c where only --name belongs, a
   * password without an account, a bad config (validate's messages). */
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  r = vt_vigil(t, VT_WAIT_MS, "service", "stop", "-c", cfg, NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--password",
               "x", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  VT_REQUIRE(vt_write_file(t, cfg, "<vigil><bogus/></vigil>\n") == 0);
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name", name,
               NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "error:"));

  /* run --service from a console: not started by the manager. */
  r = vt_vigil(t, VT_WAIT_MS, "run", "-c", cfg, "--service", name, NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "Service Control Manager"));
}

/* A deleted service lives on while a handle to it is open (the Services
 * console's, say): Windows and Wine alike mark it for deletion and
 * refuse to create or delete it again until the handle closes. */
static void marked_for_deletion(vt_t *t, const char *name, SC_HANDLE scm) {
  const char *cfg = vt_config(t, "vigil.xml", NULL);
  pal_svc_status_t st;
  wchar_t wname[64];
  SC_HANDLE held;
  vt_res_t *r;
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name", name,
               NULL);
  VT_REQUIRE(r->code == 0);
  VT_REQUIRE(MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, 64) > 0);
  held = OpenServiceW(scm, wname, SERVICE_QUERY_STATUS);
  VT_REQUIRE(held != NULL);
  r = vt_vigil(t, VT_WAIT_MS, "service", "uninstall", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name", name,
               NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "is marked for deletion"));
  r = vt_vigil(t, VT_WAIT_MS, "service", "uninstall", "--name", name, NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "is marked for deletion"));
  CloseServiceHandle(held);
  CU_ASSERT_EQUAL(pal_svcmgr_query(name, &st), PAL_ESVCNOENT);
}

static void test_marked_for_deletion(void) {
  vt_t *t = vt_begin("winsvc-mfd");
  SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
  const char *name;
  CU_ASSERT_PTR_NOT_NULL_FATAL(scm);
  if (t) {
    name = unique_name(t);
    marked_for_deletion(t, name, scm);
    forget_service(name);
    vt_end(t);
  }
  CloseServiceHandle(scm);
}

static void test_errors(void) {
  with_service("winsvc-err", errors);
}

/* ---- 4. the Event Log and the example config --------------------------------- */

static void test_eventlog(void) {
  CU_ASSERT_EQUAL(pal_eventlog_report(PAL_EVENT_INFO,
                                      "vigil test suite: an information"),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(pal_eventlog_report(PAL_EVENT_ERROR,
                                      "vigil test suite: an error \xc3\xa9"),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(pal_eventlog_report(7, "bad level"), APR_EINVAL);
  CU_ASSERT_EQUAL(pal_eventlog_report(PAL_EVENT_WARN, NULL), APR_EINVAL);
}

/* docs/examples/vigil-windows.xml is accepted by `vigil validate`. */
static void test_example_config(void) {
  vt_t *t = vt_begin("winsvc-example");
  const char *path;
  vt_res_t *r;
  if (!t)
    return;
  path = VIGIL_WINDOWS_EXAMPLE;   /* tests/CMakeLists.txt */
  r = vt_vigil(t, VT_WAIT_MS, "validate", "-c", path, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, ": ok"));
  if (r->code != 0)
    fprintf(stderr, "%s", r->err);
  vt_end(t);
}

static CU_TestInfo vigil_winsvc_tests[] = {
    {"command line quoting", test_command_line_quoting},
    {"install --print", test_install_print},
    {"install, start, stop, uninstall", test_round_trip},
    {"uninstall stops a running service", test_uninstall_running},
    {"vigil shutdown stops the service", test_shutdown_cli},
    {"exit code reaches the manager", test_exit_code},
    {"errors", test_errors},
    {"marked for deletion", test_marked_for_deletion},
    {"event log", test_eventlog},
    {"example config validates", test_example_config},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_winsvc_suite = {.pName = "vigil_winsvc",
                                   .pTests = vigil_winsvc_tests};

#endif /* _WIN32 */
