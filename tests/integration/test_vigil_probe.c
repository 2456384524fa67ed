/*
 * test_vigil_probe.c -- host names in readiness and health targets, with
 * the real vigil binary: `vigil validate` accepts them; a service whose
 * <ready tcp> and <health type="http"> name "localhost" starts, becomes
 * running and stays healthy (the HTTP server child sees the requests,
 * with the name in their Host header); a name that does not resolve
 * (under .invalid, RFC 6761) makes the readiness timeout and the health
 * check say so, with the resolver's reason.  And one timing promise of
 * the loop underneath: a restart delay armed by the exit of a service
 * after the supervisor sat idle counts from the exit.
 */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "vigil_test.h"

#define BAD_HOST "no-such-host.vigil-test.invalid"

static int not_running(const svc_json_t *s, void *arg) {
  const char *st = vt_sfield(s, "state");
  (void)arg;
  return !st || strcmp(st, "running") != 0;
}

static void test_localhost_targets(void) {
  vt_t *t = vt_begin("names");
  const char *log;
  char *out;
  int port;
  if (!t)
    return;
  port = vt_fixture_service(
      t, "web",
      "<ready tcp=\"localhost:{port}\" timeout=\"20s\"/>\n"
      "    <health type=\"http\" target=\"http://localhost:{port}/health?x=1\" "
      "interval=\"100ms\" timeout=\"2s\" failures=\"2\"/>\n",
      "http-listen", NULL);
  VT_REQUIRE(port > 0);
  CU_ASSERT_EQUAL(vt_cli(t, "validate", NULL)->code, 0);
  CU_ASSERT_PTR_NOT_NULL(vt_wait_state(t, "web", "running", VT_WAIT_MS));
  /* Several health checks pass, by name: it stays running. */
  CU_ASSERT_PTR_NULL(vt_wait_svc(t, "web", not_running, NULL, 800));
  log = vt_sup_log(t);
  CU_ASSERT(!vt_contains(log, "health check failed"));
  CU_ASSERT(!vt_contains(log, "not ready within"));
  CU_ASSERT(!vt_contains(log, "resolve localhost"));
  out = vt_read_file(t, vt_path(t, "logs/web.out.log"), NULL);
  CU_ASSERT(vt_contains(out, "GET /health?x=1 HTTP/1.1"));
  CU_ASSERT(vt_contains(out, apr_psprintf(vt_pool(t), "Host: localhost:%d",
                                          port)));
  CU_ASSERT(vt_count_lines(out, "GET /health") >= 2);
  if (!vt_contains(out, "GET /health"))
    fprintf(stderr, "\n  [names] log:\n%s\n  out:\n%s\n", log,
            out ? out : "(none)");
  vt_end(t);
}

static void test_unresolvable_targets(void) {
  vt_t *t = vt_begin("badname");
  const char *log;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "db",
                   "<ready tcp=\"" BAD_HOST ":5432\" timeout=\"1s\"/>\n"
                   "    <stop timeout=\"300ms\"/>\n"
                   "    <restart policy=\"never\"/>\n",
                   "sleep", "30000", NULL),
            vt_svc(t, "app",
                   "<ready after=\"100ms\"/>\n"
                   "    <health type=\"http\" target=\"http://" BAD_HOST
                   ":8080/\" interval=\"100ms\" timeout=\"5s\" "
                   "failures=\"1000\"/>\n",
                   "sleep", "30000", NULL),
            NULL);
  /* Names are not looked up when the file is checked. */
  CU_ASSERT_EQUAL(vt_cli(t, "validate", NULL)->code, 0);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  /* The resolver's answer ("resolve NAME: Name or service not known"),
   * or, where no DNS server answers in time, "timed out after N ms
   * resolving NAME": either way the line names the lookup. */
  CU_ASSERT(vt_wait_log(t, "db: not ready within 1000 ms (last check: ",
                        VT_WAIT_MS));
  CU_ASSERT(vt_wait_log(t, "app: health check failed (1 of 1000): ",
                        VT_WAIT_MS));
  log = vt_sup_log(t);
  CU_ASSERT(vt_line_offset(log, "not ready within 1000 ms (last check: ",
                           "resolve " BAD_HOST) >= 0 ||
            vt_line_offset(log, "not ready within 1000 ms (last check: ",
                           "resolving " BAD_HOST) >= 0);
  CU_ASSERT(vt_line_offset(log, "db: not ready yet: ", BAD_HOST) >= 0);
  CU_ASSERT(vt_line_offset(log, "health check failed (1 of 1000): ",
                           "resolve " BAD_HOST ": ") >= 0 ||
            vt_line_offset(log, "health check failed (1 of 1000): ",
                           "resolving " BAD_HOST) >= 0);
  CU_ASSERT(!vt_contains(log, "Invalid argument"));
  if (!vt_contains(log, "last check: resolve"))
    fprintf(stderr, "\n  [badname] log:\n%s\n", log);
  vt_end(t);
}

/* Milliseconds of the day of the log line at `off`
 * ("2026-12-06T09:29:41.592Z ..."), or -1. */
static long line_ms(const char *log, long off) {
  int h, m, sec, ms;
  if (off < 0 || sscanf(log + off + 11, "%2d:%2d:%2d.%3d", &h, &m, &sec,
                        &ms) != 4)
    return -1;
  return ((h * 60L + m) * 60L + sec) * 1000L + ms;
}

/* The supervisor has nothing to do for ~600 ms (no timer, no check, no
 * status poll) when the child exits; the restart delay armed in the exit
 * callback must then count from the exit, not from before the wait
 * (it was seen restarting after 133 ms with delay=3s). */
static void test_restart_delay_after_idle(void) {
  vt_t *t = vt_begin("backoff");
  const char *log;
  long exited, restarted, gap;
  unsigned i;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "crash",
                   "<ready after=\"100ms\"/>\n"
                   "    <restart policy=\"on-failure\" delay=\"500ms\" "
                   "max-delay=\"500ms\"/>\n",
                   "sleep-exit", "700", "1", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_log(t, "crash: exited with code 1", VT_WAIT_MS));
  log = vt_sup_log(t);
  exited = vt_line_offset(log, "crash: exited with code 1", NULL);
  /* The second start: the first "started" after the exit line. */
  restarted = -1;
  for (i = 0; i < VT_WAIT_MS / 50 && restarted < 0; i++) {
    vt_sleep(t, 50);
    log = vt_sup_log(t);
    restarted = vt_line_offset(log + exited, "crash: started, pid", NULL);
  }
  VT_REQUIRE(restarted >= 0);
  gap = line_ms(log, exited + restarted) - line_ms(log, exited);
  /* 500 ms and up to 10% of jitter; the log's clock is the wall clock. */
  if (gap < 499)
    fprintf(stderr, "\n  [backoff] restarted %ld ms after the exit:\n%s\n",
            gap, log);
  CU_ASSERT(gap >= 499);
  vt_end(t);
}

static CU_TestInfo vigil_probe_tests[] = {
    {"ready tcp and health http by name (localhost)",
     test_localhost_targets},
    {"unresolvable names: the reason is logged", test_unresolvable_targets},
    {"restart delay counts from the exit after an idle wait",
     test_restart_delay_after_idle},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_probe_suite = {.pName = "vigil_probe",
                                  .pInitFunc = NULL,
                                  .pCleanupFunc = NULL,
                                  .pSetUpFunc = NULL,
                                  .pTearDownFunc = NULL,
                                  .pTests = vigil_probe_tests};
