/*
 * test_vigil_events.c -- the event stream (suite vigil_events): the
 * control endpoint's {"cmd":"events"} with and without "follow", and
 * `vigil events`, against the real `vigil run`.
 *
 * Checked: a crash-looping service's events come to a subscriber in the
 * order they happened (started, running, exited, restarting, ...,
 * fatal) with their fields (pid of the run, exit code, state, at_ms on
 * the wall clock); `vigil events` without -f prints the same from the
 * supervisor's ring and exits; a subscriber that never reads while
 * events pour in does not stall `vigil status`; <on event> commands
 * (POSIX: /bin/sh) of a service and of <supervisor> get the event in
 * their environment, and one that hangs is killed at its timeout, its
 * process group with it.
 *
 * The subscriber here is a connection of the test's own loop, so that the
 * CLI commands the test runs meanwhile (which run that loop) let it read.
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

/* ---- a subscriber ------------------------------------------------------- */

typedef struct sub_s {
  vg_pipe_t pipe;
  vg_connect_t conn;
  vg_write_t wr;
  int reads;                    /* 0: never reads (a stalled client) */
  int failed, eof;
  char *buf;
  size_t len, cap;
  char chunk[4096];
} sub_t;

static const char follow_req[] = "{\"cmd\":\"events\",\"follow\":true}\n";

static void sub_alloc(vg_handle_t *h, size_t sug, vg_buf_t *b) {
  sub_t *s = h->data;
  (void)sug;
  b->base = s->chunk;
  b->len = sizeof s->chunk;
}

static void sub_read(vg_stream_t *st, apr_status_t rv, size_t n,
                     const vg_buf_t *b) {
  sub_t *s = st->data;
  if (rv != APR_SUCCESS) {
    s->eof = 1;
    return;
  }
  if (s->len + n + 1 > s->cap) {
    size_t cap = (s->len + n + 1) * 2;
    char *nb = realloc(s->buf, cap);
    if (!nb) {
      s->failed = 1;
      return;
    }
    s->buf = nb;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, b->base, n);
  s->len += n;
  s->buf[s->len] = '\0';
}

static void sub_written(vg_write_t *w, apr_status_t rv) {
  sub_t *s = w->data;
  if (rv != APR_SUCCESS)
    s->failed = 1;
}

static void sub_connected(vg_connect_t *c, apr_status_t rv) {
  sub_t *s = c->data;
  vg_buf_t b;
  if (rv != APR_SUCCESS) {
    s->failed = 1;
    return;
  }
  b.base = (char *)follow_req;
  b.len = sizeof follow_req - 1;
  s->wr.data = s;
  if (vg_write(&s->wr, &s->pipe, &b, 1, sub_written) != APR_SUCCESS ||
      (s->reads &&
       vg_read_start(&s->pipe, sub_alloc, sub_read) != APR_SUCCESS))
    s->failed = 1;
}

static sub_t *sub_open(vt_t *t, int reads) {
  sub_t *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->reads = reads;
  vg_pipe_init(vt_loop(t), &s->pipe);
  s->pipe.data = s;
  s->conn.data = s;
  if (vg_pipe_connect(&s->conn, &s->pipe, vt_control_path(t),
                      sub_connected) != APR_SUCCESS)
    s->failed = 1;
  return s;
}

static void sub_closed(vg_handle_t *h) {
  sub_t *s = h->data;
  free(s->buf);
  free(s);
}

static void sub_close(vt_t *t, sub_t *s) {
  if (!s)
    return;
  vg_close((vg_handle_t *)&s->pipe, sub_closed);
  vg_run(vt_loop(t), VG_RUN_NOWAIT);
}

/* Poll until the subscriber's input holds needle. */
static int sub_wait(vt_t *t, sub_t *s, const char *needle, uint64_t ms) {
  uint64_t until = vt_now_ms() + ms;
  while (!(s->buf && strstr(s->buf, needle))) {
    if (s->failed || s->eof || vt_now_ms() > until)
      return 0;
    vt_sleep(t, 20);
  }
  return 1;
}

/* The event lines of `text` (the reply line aside), parsed, in order. */
static apr_array_header_t *events_of(vt_t *t, const char *text) {
  apr_array_header_t *a = apr_array_make(vt_pool(t), 16, sizeof(void *));
  char *copy = apr_pstrdup(vt_pool(t), text), *line, *last;
  for (line = apr_strtok(copy, "\n", &last); line;
       line = apr_strtok(NULL, "\n", &last)) {
    svc_json_t *j;
    svc_json_error_t e;
    if (svc_json_parse(&j, line, strlen(line), vt_pool(t), &e) !=
            APR_SUCCESS ||
        !svc_json_get(j, "event"))
      continue;
    APR_ARRAY_PUSH(a, svc_json_t *) = j;
  }
  return a;
}

static const char *ev_name(const apr_array_header_t *a, int i) {
  return vt_sfield(APR_ARRAY_IDX(a, i, svc_json_t *), "event");
}

/* The crash loop's events in a: started, running, exited (code 3, the
 * pid of the run), restarting, then again, and fatal; 1 if so. */
static int check_crash_loop(const apr_array_header_t *a, uint64_t from,
                            uint64_t to) {
  static const char *const want[] = {"started", "running", "exited",
                                     "restarting", "started", "running",
                                     "exited", "fatal"};
  static const char *const state[] = {"starting", "running", "running",
                                      "backoff", "starting", "running",
                                      "running", "fatal"};
  int64_t pid = -1;
  int i;
  CU_ASSERT_EQUAL(a->nelts, 8);
  if (a->nelts != 8)
    return 0;
  for (i = 0; i < 8; i++) {
    const svc_json_t *e = APR_ARRAY_IDX(a, i, svc_json_t *);
    int64_t at = vt_ifield(e, "at_ms");
    CU_ASSERT_STRING_EQUAL(ev_name(a, i), want[i]);
    CU_ASSERT_STRING_EQUAL(vt_sfield(e, "service"), "crash");
    CU_ASSERT_STRING_EQUAL(vt_sfield(e, "state"), state[i]);
    CU_ASSERT(at >= (int64_t)from && at <= (int64_t)to);
    CU_ASSERT(svc_json_get(e, "reason") != NULL);
    if (!strcmp(want[i], "started")) {
      pid = vt_ifield(e, "pid");
      CU_ASSERT(pid > 0);
    }
    if (!strcmp(want[i], "running"))
      CU_ASSERT_EQUAL(vt_ifield(e, "pid"), pid);
    if (!strcmp(want[i], "exited")) {
      CU_ASSERT_EQUAL(vt_ifield(e, "pid"), pid);
      CU_ASSERT_EQUAL(vt_ifield(e, "code"), 3);
      CU_ASSERT(svc_json_is_null(svc_json_get(e, "signal")));
      CU_ASSERT_STRING_EQUAL(vt_sfield(e, "reason"), "exited with code 3");
    } else {
      CU_ASSERT(svc_json_is_null(svc_json_get(e, "code")));
    }
    if (!strcmp(want[i], "fatal"))
      CU_ASSERT(vt_contains(vt_sfield(e, "reason"), "giving up"));
  }
  return 1;
}

/* ---- tests -------------------------------------------------------------- */

static const char *crash_svc(vt_t *t) {
  return vt_svc(t, "crash",
                "<autostart>false</autostart>\n" READY_FAST
                "    <restart policy=\"always\" delay=\"100ms\" "
                "max-restarts=\"1\" window=\"60s\"/>\n",
                "sleep-exit", "400", "3", NULL);
}

/* The crash service's supervisor, and a subscriber whose request was
 * answered; NULL if a step failed. */
static sub_t *crash_subscribed(vt_t *t) {
  sub_t *s;
  vt_config(t, "vigil.xml", crash_svc(t), NULL);
  if (!vt_sup_start_ready(t, vt_path(t, "vigil.xml")))
    return NULL;
  s = sub_open(t, 1);
  if (s && !sub_wait(t, s, "{\"ok\":true}\n", VT_WAIT_MS)) {
    sub_close(t, s);
    return NULL;
  }
  return s;
}

/* A subscriber sees a crash loop from its start to fatal, in order; the
 * ring (`vigil events`) holds the same lines. */
static void test_follow_crash_loop(void) {
  vt_t *t = vt_begin("events-follow");
  sub_t *s = NULL;
  vt_res_t *r;
  uint64_t from, to;
  if (!t)
    return;
  VT_REQUIRE((s = crash_subscribed(t)) != NULL);
  from = (uint64_t)(apr_time_now() / 1000);
  r = vt_cli(t, "start", "crash", "--no-wait", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(sub_wait(t, s, "\"event\":\"fatal\"", VT_WAIT_MS));
  to = (uint64_t)(apr_time_now() / 1000);
  check_crash_loop(events_of(t, s->buf), from, to);
  /* No history for a subscriber, and the lines are the ring's too. */
  r = vt_cli(t, "events", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  check_crash_loop(events_of(t, r->out), from, to);
  CU_ASSERT_STRING_EQUAL(r->out, strchr(s->buf, '\n') + 1);
  sub_close(t, s);
  vt_end(t);
}

/* A subscriber is not an idle connection: past the endpoint's idle
 * deadline (10 s) it still gets the events. */
static void test_follow_outlives_idle(void) {
  vt_t *t = vt_begin("events-idle");
  sub_t *s;
  if (!t)
    return;
  VT_REQUIRE((s = crash_subscribed(t)) != NULL);
  vt_sleep(t, 12000);
  CU_ASSERT(!s->eof);
  CU_ASSERT_EQUAL(vt_cli(t, "start", "crash", "--no-wait", NULL)->code, 0);
  CU_ASSERT(sub_wait(t, s, "\"event\":\"started\"", VT_WAIT_MS));
  sub_close(t, s);
  vt_end(t);
}

/* `vigil events -f` prints only what happens after it connected: with
 * nothing happening, nothing (it is killed at the bound). */
static void test_follow_no_history(void) {
  vt_t *t = vt_begin("events-nohist");
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml", crash_svc(t), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  r = vt_cli(t, "start", "crash", "--no-wait", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  VT_REQUIRE(vt_wait_state(t, "crash", "fatal", VT_WAIT_MS) != NULL);
  r = vt_vigil(t, 500, "events", "-f", "--control", vt_control_path(t), NULL);
  CU_ASSERT(r->timed_out);
  CU_ASSERT_STRING_EQUAL(r->out, "");
  vt_end(t);
}

/* A subscriber that never reads, while 16 services restart as fast as
 * they can: status still answers, each time; then, once 1 MB of events
 * is left unread, the subscriber is dropped, said in the log.
 *
 * The megabyte comes from "flood", started once the crash loop is
 * stopped: 16 instances whose <env-file> is missing, so that each start
 * fails before any process is made, retried every millisecond up to 500
 * times.  That is 8000 events of some 385 bytes (their reason names the
 * long path), 3 MB, well past the megabyte and what the socket holds,
 * made in a fraction of a second even under ASan.  From the crash loop
 * it took some 1800 processes of this test binary (4 events of some 170
 * bytes each): over a minute under ASan at load 25, minutes under Wine. */
static void test_stalled_subscriber(void) {
  vt_t *t = vt_begin("events-stalled");
  sub_t *s;
  const char *missing;
  int i;
  if (!t)
    return;
  missing = vt_path(t, apr_psprintf(vt_pool(t), "no-such-env-file-%0200d", 0));
  vt_config(t, "vigil.xml",
            vt_svc(t, "churn",
                   "<instances>16</instances>\n"
                   "    <restart policy=\"always\" delay=\"1ms\" "
                   "max-delay=\"1ms\" max-restarts=\"100000\" "
                   "window=\"1s\"/>\n",
                   "sleep-exit", "0", "1", NULL),
            vt_svc(t, "flood",
                   apr_psprintf(vt_pool(t),
                                "<autostart>false</autostart>\n"
                                "    <instances>16</instances>\n"
                                "    <env-file>%s</env-file>\n"
                                "    <restart policy=\"always\" "
                                "delay=\"1ms\" max-delay=\"1ms\" "
                                "max-restarts=\"500\" window=\"1h\"/>\n",
                                vt_xml(t, missing)),
                   "exit", "0", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  s = sub_open(t, 0);
  VT_REQUIRE(s != NULL);
  for (i = 0; i < 10; i++) {
    uint64_t t0 = vt_now_ms();
    svc_json_t *st = vt_status(t);
    CU_ASSERT(st != NULL);
    CU_ASSERT(vt_now_ms() - t0 < 5000);
    vt_sleep(t, 100);
  }
  CU_ASSERT(!s->failed);
  /* The flood alone: under ASan each spawn of the crash loop (a fork)
   * holds the loop for milliseconds, which would starve it. */
  CU_ASSERT_EQUAL(vt_cli(t, "stop", "churn", "--no-wait", NULL)->code, 0);
  CU_ASSERT_EQUAL(vt_cli(t, "start", "flood", "--no-wait", NULL)->code, 0);
  CU_ASSERT(vt_wait_log(t, "an events subscriber left", VT_WAIT_MS));
  {
    /* At the megabyte, not before: what was left is one event short. */
    const char *at = strstr(vt_sup_log(t), "an events subscriber left ");
    unsigned long left = at ? strtoul(at + 26, NULL, 10) : 0;
    CU_ASSERT(left > (1ul << 20) - 4096 && left <= (1ul << 20));
  }
  CU_ASSERT(vt_status(t) != NULL);
  sub_close(t, s);
  vt_end(t);
}

#if !defined(_WIN32)
/* Put `xml` into the fixture config's <supervisor> (there is one). */
static int sup_add(vt_t *t, const char *path, const char *xml) {
  char *txt = vt_read_file(t, path, NULL), *at;
  if (!txt || !(at = strstr(txt, "  </supervisor>")))
    return 0;
  return vt_write_file(t, path,
                       apr_pstrcat(vt_pool(t),
                                   apr_pstrndup(vt_pool(t), txt,
                                                (apr_size_t)(at - txt)),
                                   xml, at, NULL)) == 0;
}

/* A service's <on event="fatal"> and the supervisor's <on
 * event="exited"> run with the event in their environment; the
 * supervisor's for every exit, the service's once, at fatal. */
static void test_on_hooks_env(void) {
  vt_t *t = vt_begin("events-on");
  const char *fatal_f, *exits_f;
  char *txt;
  if (!t)
    return;
  fatal_f = vt_path(t, "fatal.env");
  exits_f = vt_path(t, "exits.env");
  vt_config(
      t, "vigil.xml",
      vt_svc(t, "crash",
             apr_psprintf(
                 vt_pool(t),
                 "<autostart>false</autostart>\n" READY_FAST
                 "    <restart policy=\"always\" delay=\"100ms\" "
                 "max-restarts=\"1\" window=\"60s\"/>\n"
                 "    <on event=\"fatal\"><command>/bin/sh</command>"
                 "<arg>-c</arg><arg>env | grep ^VIGIL_ | sort &gt; %s.tmp "
                 "&amp;&amp; mv %s.tmp %s</arg></on>\n",
                 vt_xml(t, fatal_f), vt_xml(t, fatal_f), vt_xml(t, fatal_f)),
             "sleep-exit", "300", "3", NULL),
      NULL);
  VT_REQUIRE(sup_add(
      t, vt_path(t, "vigil.xml"),
      apr_psprintf(
          vt_pool(t),
          "    <on event=\"exited\"><command>/bin/sh</command>"
          "<arg>-c</arg><arg>echo \"$$VIGIL_SERVICE $$VIGIL_EVENT "
          "$$VIGIL_EXIT_CODE\" &gt;&gt; %s</arg></on>\n",
          vt_xml(t, exits_f))));
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  CU_ASSERT_EQUAL(vt_cli(t, "start", "crash", "--no-wait", NULL)->code, 0);
  VT_REQUIRE(vt_wait_state(t, "crash", "fatal", VT_WAIT_MS) != NULL);
  {
    uint64_t until = vt_now_ms() + VT_WAIT_MS;
    while (!vt_exists(fatal_f) && vt_now_ms() < until)
      vt_sleep(t, 20);
  }
  txt = vt_read_file(t, fatal_f, NULL);
  VT_REQUIRE(txt != NULL);
  CU_ASSERT(vt_contains(txt, "VIGIL_EVENT=fatal\n"));
  CU_ASSERT(vt_contains(txt, "VIGIL_SERVICE=crash\n"));
  CU_ASSERT(vt_contains(txt, "VIGIL_PID=\n"));
  CU_ASSERT(vt_contains(txt, "VIGIL_EXIT_CODE=\n"));
  CU_ASSERT(vt_contains(txt, "VIGIL_SIGNAL=\n"));
  CU_ASSERT(vt_contains(txt, "VIGIL_REASON=exited with code 3; "
                             "restarted 1 times within 60000 ms, giving "
                             "up\n"));
  /* Two exits, each said with its code. */
  {
    uint64_t until = vt_now_ms() + VT_WAIT_MS;
    for (;;) {
      txt = vt_read_file(t, exits_f, NULL);
      if ((txt && vt_count_lines(txt, "crash exited 3") >= 2) ||
          vt_now_ms() > until)
        break;
      vt_sleep(t, 20);
    }
    CU_ASSERT(txt && vt_count_lines(txt, "crash exited 3") == 2);
  }
  vt_end(t);
}

/* A hook that hangs is killed (its process group too) at its timeout,
 * said in the log, and holds nothing meanwhile. */
static void test_on_hook_timeout(void) {
  vt_t *t = vt_begin("events-on-hang");
  const char *pid_f;
  long pid;
  if (!t)
    return;
  pid_f = vt_path(t, "hook.pid");
  vt_config(
      t, "vigil.xml",
      vt_svc(t, "web",
             apr_psprintf(vt_pool(t),
                          READY_FAST
                          "    <on event=\"running\" timeout=\"500ms\">"
                          "<command>/bin/sh</command><arg>-c</arg>"
                          "<arg>sleep 60 &amp; echo $$! &gt; %s; wait</arg>"
                          "</on>\n",
                          vt_xml(t, pid_f)),
             "sleep", "30000", NULL),
      NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  pid = vt_wait_pid_file(t, pid_f, VT_WAIT_MS);
  VT_REQUIRE(pid > 0);
  vt_track(t, pid);
  CU_ASSERT(vt_status(t) != NULL);   /* answers while the hook hangs */
  CU_ASSERT(vt_wait_log(t, "web: <on> command /bin/sh timed out after "
                           "500 ms: killed", VT_WAIT_MS));
  CU_ASSERT(vt_wait_pid_gone(t, pid, VT_WAIT_MS));
  CU_ASSERT_STRING_EQUAL(vt_state(t, "web"), "running");
  vt_end(t);
}
#endif

static CU_TestInfo vigil_events_tests[] = {
    {"events -f: a crash loop in order, with its fields; the ring",
     test_follow_crash_loop},
    {"events -f: no history", test_follow_no_history},
    {"events -f: not closed at the idle deadline", test_follow_outlives_idle},
    {"events: a subscriber that never reads stalls nothing",
     test_stalled_subscriber},
#if !defined(_WIN32)
    /* /bin/sh hooks: their environment written to a file. */
    {"<on event>: the event in the environment, per service and for all",
     test_on_hooks_env},
    {"<on event>: a hook that hangs is killed at its timeout",
     test_on_hook_timeout},
#endif
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_events_suite = {.pName = "vigil_events",
                                   .pInitFunc = NULL,
                                   .pCleanupFunc = NULL,
                                   .pSetUpFunc = NULL,
                                   .pTearDownFunc = NULL,
                                   .pTests = vigil_events_tests};
