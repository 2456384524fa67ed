/*
 * test_vigil_life.c -- a service's life beyond start and stop (suite
 * vigil_life), on the real binary: a oneshot that gates what depends on
 * it (only an exit 0 lets it start; a failure goes through the restart
 * policy and keeps it down), hooks (their order, a failing or hanging
 * pre-start as a failed start while the control endpoint keeps
 * answering, post-stop after the process is gone), the watchdog (pings
 * keep it up, silence restarts it with reason "watchdog timeout", and the
 * deadline counts from the start, not from an earlier loop time) and a
 * schedule's next run in `vigil status` (the cron arithmetic itself is
 * the `cron` suite's).
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_strings.h>

/* vt_svc() with type="oneshot". */
static const char *oneshot(vt_t *t, const char *svc_xml) {
  const char *at = strstr(svc_xml, "\">");
  CU_ASSERT_PTR_NOT_NULL_FATAL(at);
  return apr_psprintf(vt_pool(t), "%.*s\" type=\"oneshot\">%s",
                      (int)(at - svc_xml), svc_xml, at + 2);
}

/* A <hook> running this binary's append-exit PATH TEXT MS CODE. */
static const char *hook(vt_t *t, const char *when, const char *timeout,
                        const char *path, const char *text, const char *ms,
                        const char *code) {
  return apr_psprintf(
      vt_pool(t),
      "<hook when=\"%s\"%s%s%s><command>%s</command><arg>--child</arg>"
      "<arg>append-exit</arg><arg>%s</arg><arg>%s</arg><arg>%s</arg>"
      "<arg>%s</arg></hook>\n    ",
      when, timeout ? " timeout=\"" : "", timeout ? timeout : "",
      timeout ? "\"" : "", vt_xml(t, vt_self(t)), vt_xml(t, path), text, ms,
      code);
}

/* The lines of `path` that start with `text ` (a count). */
static int lines_of(vt_t *t, const char *path, const char *text) {
  char *s = vt_read_file(t, path, NULL);
  return s ? vt_count_lines(s, apr_pstrcat(vt_pool(t), text, " ", NULL))
           : 0;
}

/* Wait until `path` has a line starting with `text `. */
static int wait_line(vt_t *t, const char *path, const char *text,
                     uint64_t ms) {
  uint64_t end = vt_now_ms() + ms;
  while (vt_now_ms() < end) {
    if (lines_of(t, path, text) > 0)
      return 1;
    vt_sleep(t, 20);
  }
  return 0;
}

/* A number after `key` on the line of `path` starting with `text `. */
static long long line_field(vt_t *t, const char *path, const char *text,
                            const char *key) {
  char *s = vt_read_file(t, path, NULL);
  const char *l = s ? strstr(s, apr_pstrcat(vt_pool(t), text, " ", NULL))
                    : NULL;
  const char *k = l ? strstr(l, key) : NULL;
  return k ? atoll(k + strlen(key)) : -1;
}

/* Offset of the line of `text` that starts with `start`, or -1. */
static long line_at(const char *text, const char *start) {
  const char *p = text;
  while (p && *p) {
    if (strncmp(p, start, strlen(start)) == 0)
      return (long)(p - text);
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  return -1;
}


/* ---- oneshot ----------------------------------------------------------- */

static void test_oneshot_gates(void) {
  vt_t *t = vt_begin("oneshot");
  const char *f;
  const svc_json_t *m, *w;
  long web_pid;
  vt_res_t *r;
  if (!t)
    return;
  f = vt_path(t, "order.txt");
  vt_config(t, "vigil.xml",
            vt_svc(t, "web", "<depends-on>mig</depends-on>\n" READY_FAST,
                   "append-exit", f, "web", "30000", "0", NULL),
            oneshot(t, vt_svc(t, "mig", NULL, "append-exit", f, "mig", "600",
                              "0", NULL)),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  /* While it runs: starting, and web waits for it. */
  m = vt_wait_state(t, "mig", "starting", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL(m);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "web"), "stopped");
  CU_ASSERT_EQUAL(lines_of(t, f, "web"), 0);
  w = vt_wait_state(t, "web", "running", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  m = vt_svc_of(vt_status(t), "mig");
  CU_ASSERT_STRING_EQUAL(vt_sfield(m, "state"), "exited");
  CU_ASSERT_STRING_EQUAL(vt_sfield(m, "type"), "oneshot");
  CU_ASSERT_EQUAL(vt_ifield(m, "restarts"), 0);
  /* web started after mig had ended (its line, then 600 ms, then exit). */
  CU_ASSERT(line_field(t, f, "web", "ms=") >=
            line_field(t, f, "mig", "ms=") + 600);
  CU_ASSERT(vt_contains(vt_sup_log(t), "mig: exited with code 0: done"));
  /* `vigil start` of an exited oneshot runs it again, waits for it, and
   * succeeds; web keeps running meanwhile. */
  web_pid = vt_pid(t, "web");
  r = vt_cli(t, "start", "mig", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(lines_of(t, f, "mig"), 2);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "mig"), "exited");
  CU_ASSERT_EQUAL(vt_pid(t, "web"), web_pid);
  /* Restarting web does not run mig again: it is done. */
  r = vt_cli(t, "restart", "web", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(lines_of(t, f, "mig"), 2);
  vt_end(t);
}

static void test_oneshot_failure(void) {
  vt_t *t = vt_begin("oneshot-fail");
  const char *f;
  const svc_json_t *m;
  vt_res_t *r;
  if (!t)
    return;
  f = vt_path(t, "order.txt");
  vt_config(t, "vigil.xml",
            vt_svc(t, "web", "<depends-on>mig</depends-on>\n" READY_FAST,
                   "append-exit", f, "web", "30000", "0", NULL),
            oneshot(t, vt_svc(t, "mig",
                              "<restart delay=\"100ms\" max-restarts=\"2\"/>"
                              "\n",
                              "append-exit", f, "mig", "0", "1", NULL)),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  /* Three runs (the first and two restarts), then fatal. */
  m = vt_wait_state(t, "mig", "fatal", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(lines_of(t, f, "mig"), 3);
  CU_ASSERT_EQUAL(vt_ifield(m, "restarts"), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(vt_sfield(m, "reason"),
                                "exited with code 1"));
  /* web never started, and says why. */
  vt_sleep(t, 300);
  CU_ASSERT_EQUAL(lines_of(t, f, "web"), 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "web"), "stopped");
  CU_ASSERT_STRING_EQUAL(vt_sfield(vt_svc_of(vt_status(t), "web"), "reason"),
                         "waiting for mig");
  /* Asking for web runs mig again, which fails again: web's start fails
   * (exit 1) rather than waiting for ever. */
  r = vt_cli(t, "start", "mig", NULL);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT_EQUAL(lines_of(t, f, "web"), 0);
  vt_end(t);
}

static void test_oneshot_config(void) {
  vt_t *t = vt_begin("oneshot-cfg");
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            oneshot(t, vt_svc(t, "a", "<restart policy=\"always\"/>\n"
                              "    <ready after=\"1s\"/>\n",
                              "sleep-exit", "0", "0", NULL)),
            "  <service name=\"b\" type=\"attach\"><command>x</command>"
            "</service>\n"
            "  <service name=\"c\" type=\"forking\"><command>x</command>"
            "</service>\n",
            NULL);
  r = vt_cli(t, "validate", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "<ready> has no use with type=\"oneshot\""));
  CU_ASSERT(vt_contains(r->err, "restart policy=\"always\" cannot be used "
                                "with type=\"oneshot\""));
  CU_ASSERT(vt_contains(r->err, "service 'b' is type=\"attach\" and has no "
                                "<pid-file>"));
  CU_ASSERT(vt_contains(r->err, "bad value 'forking'"));
  vt_end(t);
}

/* ---- hooks ------------------------------------------------------------- */

static void test_hooks_order(void) {
  vt_t *t = vt_begin("hooks");
  const char *f, *text;
  vt_res_t *r;
  long pre, mn, post, pstop, poststop;
  if (!t)
    return;
  f = vt_path(t, "order.txt");
  vt_config(
      t, "vigil.xml",
      vt_svc(t, "s",
             apr_pstrcat(vt_pool(t), READY_FAST "    ",
                         hook(t, "post-stop", NULL, f, "post-stop", "0", "0"),
                         hook(t, "pre-stop", NULL, f, "pre-stop", "200", "0"),
                         hook(t, "post-start", NULL, f, "post-start", "0",
                              "4"),
                         hook(t, "pre-start", NULL, f, "pre-start-1", "200",
                              "0"),
                         hook(t, "pre-start", "5s", f, "pre-start-2", "0",
                              "0"),
                         NULL),
             "append-exit", f, "main", "30000", "0", NULL),
      NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT_PTR_NOT_NULL(vt_wait_state(t, "s", "running", VT_WAIT_MS));
  CU_ASSERT(wait_line(t, f, "post-start", VT_WAIT_MS));
  r = vt_cli(t, "stop", "s", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(wait_line(t, f, "post-stop", VT_WAIT_MS));
  text = vt_read_file(t, f, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  pre = line_at(text, "pre-start-1 ");
  mn = line_at(text, "pre-start-2 ");
  post = line_at(text, "main ");
  pstop = line_at(text, "post-start ");
  poststop = line_at(text, "pre-stop ");
  if (!(pre == 0 && pre < mn && mn < post && post < pstop &&
        pstop < poststop && poststop < line_at(text, "post-stop ")))
    fprintf(stderr, "\n---- hook order ----\n%s---- end ----\n", text);
  CU_ASSERT(pre == 0 && pre < mn && mn < post && post < pstop &&
            pstop < poststop && poststop < line_at(text, "post-stop "));
  CU_ASSERT_EQUAL(vt_count_lines(text, " service=s "), 6);
  /* Each hook knows what it is for, and for which service. */
  CU_ASSERT(vt_contains(text, "pre-start-1 hook=pre-start service=s "));
  CU_ASSERT(vt_contains(text, "post-stop hook=post-stop service=s "));
  CU_ASSERT(vt_contains(text, "main hook=- service=s "));
  /* The pre-stop hook's 200 ms came before the stop signal: the service
   * was still up when it ended... */
  CU_ASSERT(line_field(t, f, "post-stop", "ms=") >=
            line_field(t, f, "pre-stop", "ms=") + 200);
  /* ...and a failing post-start hook is said, without effect. */
  CU_ASSERT(vt_contains(vt_sup_log(t), "s: post-start hook exited 4"));
  CU_ASSERT_EQUAL(vt_ifield(vt_svc_of(vt_status(t), "s"), "restarts"), 0);
#if defined(_WIN32)
  /* Wine refuses CTRL_BREAK (vt_svc): the stop timeout's kill ends it. */
  CU_ASSERT(vt_contains(vt_sup_log(t), "s: killed after the stop timeout"));
#else
  CU_ASSERT(vt_contains(vt_sup_log(t), "s: stopped by its stop signal"));
#endif
  vt_end(t);
}

static void test_prestart_fails(void) {
  vt_t *t = vt_begin("prestart-fail");
  const char *f;
  const svc_json_t *s;
  if (!t)
    return;
  f = vt_path(t, "order.txt");
  vt_config(t, "vigil.xml",
            vt_svc(t, "s",
                   apr_pstrcat(vt_pool(t),
                               "<restart delay=\"100ms\" max-restarts=\"1\"/>"
                               "\n    ",
                               hook(t, "pre-start", NULL, f, "pre", "0", "3"),
                               READY_FAST, NULL),
                   "append-exit", f, "main", "30000", "0", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "s", "fatal", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  /* Through the restart policy: two tries, then fatal, with the hook's
   * failure as the reason; the service's own process never ran. */
  CU_ASSERT_EQUAL(lines_of(t, f, "pre"), 2);
  CU_ASSERT_EQUAL(lines_of(t, f, "main"), 0);
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(vt_sfield(s, "reason"),
                                "pre-start hook exited 3"));
  CU_ASSERT(vt_contains(vt_sup_log(t),
                        "s: start failed: pre-start hook exited 3"));
  vt_end(t);
}

static void test_prestart_hangs(void) {
  vt_t *t = vt_begin("prestart-hang");
  const char *f;
  const svc_json_t *s;
  uint64_t t0, slowest = 0;
  long hook_pid;
  int polls = 0;
  if (!t)
    return;
  f = vt_path(t, "order.txt");
  vt_config(t, "vigil.xml",
            vt_svc(t, "s",
                   apr_pstrcat(vt_pool(t),
                               "<restart policy=\"never\"/>\n    ",
                               hook(t, "pre-start", "1500ms", f, "pre",
                                    "60000", "0"),
                               READY_FAST, NULL),
                   "append-exit", f, "main", "30000", "0", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT(wait_line(t, f, "pre", VT_WAIT_MS));
  hook_pid = (long)line_field(t, f, "pre", "pid=");
  vt_track(t, hook_pid);
  /* The hook hangs; the supervisor does not: status answers at once,
   * the service `starting` with no pid of its own. */
  t0 = vt_now_ms();
  while (vt_now_ms() - t0 < 800) {
    uint64_t a = vt_now_ms();
    s = vt_svc_of(vt_status(t), "s");
    if (vt_now_ms() - a > slowest)
      slowest = vt_now_ms() - a;
    polls++;
    CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "starting");
    CU_ASSERT_EQUAL(vt_ifield(s, "pid"), -1);
  }
  printf("\n  [hang] %d status polls during the hook, the slowest %llu ms\n",
         polls, (unsigned long long)slowest);
  CU_ASSERT(polls >= 2);
  /* A status is one process run of the CLI; far less than the hook. */
  CU_ASSERT(slowest < 1000);
  s = vt_wait_state(t, "s", "exited", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "reason"),
                         "pre-start hook timed out after 1500ms");
  CU_ASSERT_EQUAL(lines_of(t, f, "main"), 0);
  /* The timed-out hook was killed. */
  CU_ASSERT(vt_wait_pid_gone(t, hook_pid, VT_WAIT_MS));
  vt_end(t);
}

/* `vigil stop` during a pre-start hook that ignores the stop signal:
 * the service stays `stopping` until the hook has ended (the stop
 * timeout's kill, 1 s), as systemd waits for ExecStartPre=; before, the
 * stop answered at once with the hook still running, and a `vigil start`
 * then ran a second pre-start hook beside it (a migration twice at
 * once). */
static void test_stop_waits_for_hook(void) {
  vt_t *t = vt_begin("hook-stop");
  const char *log, *at;
  long hook_pid;
  uint64_t t0;
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "s",
                   apr_psprintf(vt_pool(t),
                                "<stop timeout=\"1s\"/>\n    "
                                "<hook when=\"pre-start\" timeout=\"60s\">"
                                "<command>%s</command><arg>--child</arg>"
                                "<arg>ignore-term</arg></hook>\n    "
                                READY_FAST,
                                vt_xml(t, vt_self(t))),
                   "sleep", "30000", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_log(t, "s: pre-start hook ", VT_WAIT_MS));
  log = vt_sup_log(t);
  at = strstr(log, "s: pre-start hook ");
  at = at ? strstr(at, "started, pid ") : NULL;
  VT_REQUIRE(at != NULL);
  hook_pid = atol(at + strlen("started, pid "));
  VT_REQUIRE(hook_pid > 0);
  vt_track(t, hook_pid);
  vt_sleep(t, 300);   /* it ignores TERM by now */
  t0 = vt_now_ms();
  r = vt_cli(t, "stop", "s", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  /* Answered once the hook was gone: after the stop timeout's kill. */
  CU_ASSERT(!vt_pid_alive(hook_pid));
  CU_ASSERT(vt_now_ms() - t0 >= 900);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "s"), "stopped");
  CU_ASSERT(vt_contains(vt_sup_log(t), "s: pre-start hook did not stop "
                                       "within 1000 ms"));
  vt_end(t);
}

/* The shutdown deadline kills a pre-start hook that ignores the stop
 * signal, as it kills a service's process: the supervisor exits at the
 * deadline (500 ms), not when the hook's own timeout (60 s) or the hook
 * (30 s) ends.  The service has no process of its own meanwhile. */
static void test_shutdown_kills_hook(void) {
  vt_t *t = vt_begin("hook-deadline");
  const char *path;
  uint64_t t0;
  if (!t)
    return;
  path = vt_config(
      t, "vigil.xml",
      vt_svc(t, "s",
             apr_psprintf(vt_pool(t),
                          "<hook when=\"pre-start\" timeout=\"60s\">"
                          "<command>%s</command><arg>--child</arg>"
                          "<arg>ignore-term</arg></hook>\n    " READY_FAST,
                          vt_xml(t, vt_self(t))),
             "sleep", "30000", NULL),
      NULL);
  VT_REQUIRE(vt_config_shutdown_timeout(t, "500ms") == 0);
  VT_REQUIRE(vt_sup_start_ready(t, path));
  CU_ASSERT_PTR_NOT_NULL(vt_wait_state(t, "s", "starting", VT_WAIT_MS));
  vt_sleep(t, 300);   /* the hook ignores TERM by now */
  t0 = vt_now_ms();
  CU_ASSERT_EQUAL(vt_cli(t, "shutdown", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 40000), 0);
  CU_ASSERT(vt_now_ms() - t0 < 5000);   /* the deadline, not 30 s */
  CU_ASSERT(vt_contains(vt_sup_log(t), "s: pre-start hook killed by "
                                       "signal KILL"));
  vt_end(t);
}

/* ---- watchdog ---------------------------------------------------------- */

#if !defined(_WIN32)
static int reason_has(const svc_json_t *s, void *arg) {
  const char *r = vt_sfield(s, "reason");
  return r && strstr(r, (const char *)arg) != NULL;
}

/* The time of day, in ms, of the first log line holding `what` (lines
 * start "YYYY-MM-DDTHH:MM:SS.mmmZ"), or -1. */
static long long log_ms(const char *log, const char *what) {
  const char *hit = strstr(log, what), *l;
  int h, m, sec, ms;
  if (!hit)
    return -1;
  for (l = hit; l > log && l[-1] != '\n'; l--)
    ;
  if (sscanf(l, "%*4d-%*2d-%*2dT%2d:%2d:%2d.%3d", &h, &m, &sec, &ms) != 4)
    return -1;
  return ((h * 60LL + m) * 60 + sec) * 1000 + ms;
}

static void test_watchdog_pings(void) {
  vt_t *t = vt_begin("watchdog-ok");
  const svc_json_t *s;
  long pid;
  int64_t deadline;
  char *out;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "w", READY_FAST "    <watchdog timeout=\"800ms\"/>\n",
                   "watchdog-ping", "0", "200", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_state(t, "w", "running", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  pid = (long)vt_ifield(s, "pid");
  /* Three deadlines' worth: still the same run. */
  vt_sleep(t, 2500);
  s = vt_svc_of(vt_status(t), "w");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "running");
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), pid);
  CU_ASSERT_EQUAL(vt_ifield(s, "restarts"), 0);
  /* The deadline, in status: within the timeout from now. */
  deadline = vt_ifield(s, "watchdog_deadline_ms");
  CU_ASSERT(deadline > (int64_t)apr_time_as_msec(apr_time_now()) - 100);
  CU_ASSERT(deadline <= (int64_t)apr_time_as_msec(apr_time_now()) + 800);
  out = vt_read_file(t, vt_path(t, "logs/w.out.log"), NULL);
  CU_ASSERT(out && vt_contains(out, "WATCHDOG_USEC=800000"));
  vt_end(t);
}

static void test_watchdog_silence(void) {
  static char miss[] = "watchdog timeout";
  static char again[] = "watchdog timeout; restarting in";
  vt_t *t = vt_begin("watchdog-miss");
  const svc_json_t *s;
  const char *f;
  if (!t)
    return;
  f = vt_path(t, "order.txt");
  /* p pings 4 times, then goes quiet; q never pings at all. */
  vt_config(t, "vigil.xml",
            vt_svc(t, "p", READY_FAST "    <watchdog timeout=\"700ms\"/>\n",
                   "watchdog-ping", "4", "200", NULL),
            vt_svc(t, "q",
                   "<watchdog timeout=\"1500ms\"/>\n"
                   "    <autostart>false</autostart>\n"
                   "    <restart policy=\"never\"/>\n" READY_FAST,
                   "append-exit", f, "q", "30000", "0", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = vt_wait_svc(t, "p", reason_has, miss, VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL(s);
  s = vt_wait_svc(t, "p", reason_has, again, VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL(s);
  CU_ASSERT(vt_contains(vt_sup_log(t),
                        "p: watchdog timeout: no WATCHDOG=1 within 700ms"));
  /* q: started after the loop idled a while, its deadline counts from
   * its start, not a moment earlier (restart policy never: it stays
   * exited, and its exit time is in status). */
  vt_sleep(t, 700);
  CU_ASSERT_EQUAL(vt_cli(t, "start", "q", "--no-wait", NULL)->code, 0);
  s = vt_wait_state(t, "q", "exited", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "reason"), "watchdog timeout");
  {
    /* By the supervisor's own clock: its log's times of the spawn and
     * of the miss (the child's own start comes later, after exec). */
    const svc_json_t *le = svc_json_get(s, "last_exit");
    long long born = log_ms(vt_sup_log(t), "q: started, pid");
    long long missed = log_ms(vt_sup_log(t), "q: watchdog timeout");
    printf("\n  [watchdog] q missed it %lld ms after its spawn (timeout "
           "1500)\n", missed - born);
    CU_ASSERT(born >= 0 && missed >= 0);
    /* The loop's clock counts whole milliseconds: a deadline armed at
     * loop time T (real T + 0.9) fires at T + 1500. */
    CU_ASSERT(missed - born >= 1499);
    CU_ASSERT_STRING_EQUAL(vt_sfield(le, "signal"), "TERM");
  }
  vt_end(t);
}
#else
/* WATCHDOG=1 is an sd_notify datagram, which the test child cannot send
 * on Windows (nor can it READY=1: vigil_deps's notify cases). */
static void test_watchdog_windows(void) {
  printf("\n  SKIP: vigil_life watchdog: the test child cannot send "
         "sd_notify datagrams on Windows\n");
}
#endif

/* ---- schedule ---------------------------------------------------------- */

static void test_schedule_next_run(void) {
  vt_t *t = vt_begin("schedule");
  const svc_json_t *s;
  int64_t next, now;
  struct tm tm;
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            oneshot(t, vt_svc(t, "yearly", "<schedule>@yearly</schedule>\n",
                              "sleep-exit", "0", "0", NULL)),
            oneshot(t, vt_svc(t, "minutely",
                              "<schedule>* * * * *</schedule>\n",
                              "sleep-exit", "0", "0", NULL)),
            vt_svc(t, "plain", READY_FAST, "sleep-exit", "30000", "0",
                   NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  now = (int64_t)apr_time_as_msec(apr_time_now());
  /* Not started with the supervisor: autostart defaults to false. */
  vt_sleep(t, 200);
  s = vt_svc_of(vt_status(t), "yearly");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "stopped");
  /* The next 1 January, 00:00 local time. */
  next = vt_ifield(s, "next_run_ms");
  CU_ASSERT(next > now);
  CU_ASSERT(pal_localtime(next / 1000, &tm) == APR_SUCCESS);
  CU_ASSERT_EQUAL(next % 1000, 0);
  CU_ASSERT_EQUAL(tm.tm_mon, 0);
  CU_ASSERT_EQUAL(tm.tm_mday, 1);
  CU_ASSERT_EQUAL(tm.tm_hour, 0);
  CU_ASSERT_EQUAL(tm.tm_min, 0);
  CU_ASSERT(next - now <= 366LL * 86400 * 1000);
  /* The next minute. */
  s = vt_svc_of(vt_status(t), "minutely");
  next = vt_ifield(s, "next_run_ms");
  CU_ASSERT(next > now - 1000 && next <= now + 61000);
  CU_ASSERT_EQUAL(next % 60000, 0);
  /* No schedule: null. */
  CU_ASSERT_EQUAL(vt_ifield(vt_svc_of(vt_status(t), "plain"), "next_run_ms"),
                  -1);
  /* The table says it too. */
  r = vt_cli(t, "status", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "next run "));
  vt_end(t);
}

static void test_schedule_config(void) {
  vt_t *t = vt_begin("schedule-cfg");
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", "<schedule>61 * * * *</schedule>\n", "sleep-exit",
                   "0", "0", NULL),
            vt_svc(t, "b", "<schedule>0 0 31 2 *</schedule>\n", "sleep-exit",
                   "0", "0", NULL),
            vt_svc(t, "c", "<watchdog timeout=\"0\"/>\n", "sleep-exit", "0",
                   "0", NULL),
            vt_svc(t, "d", "<hook when=\"pre-begin\"><command>x</command>"
                   "</hook>\n", "sleep-exit", "0", "0", NULL),
            NULL);
  r = vt_cli(t, "validate", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "bad <schedule>: minute field: '61' is out "
                                "of range 0-59"));
  CU_ASSERT(vt_contains(r->err, "never runs"));
  CU_ASSERT(vt_contains(r->err, "attribute 'timeout' of <watchdog> must be "
                                "more than 0"));
  CU_ASSERT(vt_contains(r->err, "bad value 'pre-begin'"));
  vt_end(t);
}

static CU_TestInfo vigil_life_tests[] = {
    {"oneshot: dependents start after its exit 0", test_oneshot_gates},
    {"oneshot: a failure keeps dependents down", test_oneshot_failure},
    {"oneshot: what it cannot have", test_oneshot_config},
    {"hooks run in order around the process", test_hooks_order},
    {"a failing pre-start hook is a failed start", test_prestart_fails},
    {"a hanging pre-start hook: status answers, killed at timeout",
     test_prestart_hangs},
    {"the shutdown deadline kills a hook", test_shutdown_kills_hook},
    {"a stop during a pre-start hook waits for it", test_stop_waits_for_hook},
#if !defined(_WIN32)
    {"watchdog: pings keep it up", test_watchdog_pings},
    {"watchdog: silence restarts it, counted from the start",
     test_watchdog_silence},
#else
    {"watchdog (POSIX: sd_notify)", test_watchdog_windows},
#endif
    {"schedule: next run in status, not autostarted",
     test_schedule_next_run},
    {"schedule, watchdog, hook: config errors", test_schedule_config},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_life_suite = {
    .pName = "vigil_life",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = vigil_life_tests};
