/*
 * test_signal.c -- signal watchers (many per signal, start/stop, close)
 * and signal names.
 *
 * Signals are raised only while at least one watcher of that signal is
 * active, so the default action (death) can never hit the test process.
 *
 * The two signals the watcher tests raise: USR1 and USR2 on POSIX.
 * Windows has neither (watching them is VG_EUNSUPPORTED, see
 * unsupported_signals); its signals are console control events, and the
 * tests use HUP (the console's close event) and BREAK (Ctrl+Break).
 * pal_signal_raise() delivers them to this process only, as POSIX raise()
 * does, through the path a console event takes from the PAL's console
 * handler on; real console events are tested in the win32 suite.
 */
#include <string.h>

#include "test.h"

#ifdef _WIN32
#define SIG_A VG_SIGHUP
#define SIG_B VG_SIGBREAK
#else
#define SIG_A VG_SIGUSR1
#define SIG_B VG_SIGUSR2
#endif

typedef struct {
  vg_signal_t sig;
  int calls;
  int last;
} watcher_t;

static void watcher_cb(vg_signal_t *s, int signum) {
  watcher_t *w = s->data;
  w->calls++;
  w->last = signum;
}

static void watcher_init(vg_loop_t *loop, watcher_t *w) {
  memset(w, 0, sizeof *w);
  CU_ASSERT_EQUAL_FATAL(vg_signal_init(loop, &w->sig), APR_SUCCESS);
  w->sig.data = w;
}


/* Let a few more iterations pass (to catch duplicate deliveries). */
static void settle(vg_loop_t *loop) {
  volatile int never = 0;
  vg_test_run_until(loop, &never, 30);
}

static watcher_t *wa, *wb;
static int both_called(void *arg) {
  int n = (int)(intptr_t)arg;
  return wa->calls >= n && wb->calls >= n;
}
static int b_called(void *arg) {
  return wb->calls >= (int)(intptr_t)arg;
}

/* Two watchers of SIG_A: one raise calls each once; stop one and only
 * the other is called; restart it and both are again. */
static void test_two_watchers(void) {
  vg_loop_t *loop = vg_test_new_loop();
  watcher_t a, b;
  watcher_init(loop, &a);
  watcher_init(loop, &b);
  wa = &a;
  wb = &b;
  CU_ASSERT_EQUAL(vg_signal_start(&a.sig, watcher_cb, SIG_A),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_signal_start(&b.sig, watcher_cb, SIG_A),
                  APR_SUCCESS);
  CU_ASSERT(vg_is_active((vg_handle_t *)&a.sig));

  CU_ASSERT_EQUAL(pal_signal_raise(SIG_A), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, both_called, (void *)1, VG_TEST_WAIT_MS));
  settle(loop);
  CU_ASSERT_EQUAL(a.calls, 1);
  CU_ASSERT_EQUAL(b.calls, 1);
  CU_ASSERT_EQUAL(a.last, SIG_A);
  CU_ASSERT_EQUAL(b.last, SIG_A);

  CU_ASSERT_EQUAL(vg_signal_stop(&a.sig), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_is_active((vg_handle_t *)&a.sig), 0);
  CU_ASSERT_EQUAL(pal_signal_raise(SIG_A), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, b_called, (void *)2, VG_TEST_WAIT_MS));
  settle(loop);
  CU_ASSERT_EQUAL(a.calls, 1);
  CU_ASSERT_EQUAL(b.calls, 2);

  CU_ASSERT_EQUAL(vg_signal_start(&a.sig, watcher_cb, SIG_A),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(pal_signal_raise(SIG_A), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, both_called, (void *)2, VG_TEST_WAIT_MS));
  settle(loop);
  CU_ASSERT_EQUAL(a.calls, 2);
  CU_ASSERT_EQUAL(b.calls, 3);
  vg_test_close_loop(loop);
}

/* Watchers of different signals do not see each other's; restarting a
 * watcher on another signal moves it. */
static void test_distinct_signals(void) {
  vg_loop_t *loop = vg_test_new_loop();
  watcher_t a, b;
  watcher_init(loop, &a);
  watcher_init(loop, &b);
  wa = &a;
  wb = &b;
  vg_signal_start(&a.sig, watcher_cb, SIG_A);
  vg_signal_start(&b.sig, watcher_cb, SIG_B);
  CU_ASSERT_EQUAL(pal_signal_raise(SIG_B), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, b_called, (void *)1, VG_TEST_WAIT_MS));
  settle(loop);
  CU_ASSERT_EQUAL(a.calls, 0);
  CU_ASSERT_EQUAL(b.calls, 1);
  CU_ASSERT_EQUAL(b.last, SIG_B);

  /* Move a from SIG_A to SIG_B: both now watch SIG_B. */
  CU_ASSERT_EQUAL(vg_signal_start(&a.sig, watcher_cb, SIG_B),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(pal_signal_raise(SIG_B), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, both_called, (void *)1, VG_TEST_WAIT_MS));
  settle(loop);
  CU_ASSERT_EQUAL(a.calls, 1);
  CU_ASSERT_EQUAL(b.calls, 2);
  CU_ASSERT_EQUAL(a.last, SIG_B);
  vg_test_close_loop(loop);
}

/* Watchers in two loops of the same process both see the signal. */
static void test_two_loops(void) {
  vg_loop_t *l1 = vg_test_new_loop(), *l2 = vg_test_new_loop();
  watcher_t a, b;
  watcher_init(l1, &a);
  watcher_init(l2, &b);
  wa = &a;
  wb = &b;
  vg_signal_start(&a.sig, watcher_cb, SIG_B);
  vg_signal_start(&b.sig, watcher_cb, SIG_B);
  CU_ASSERT_EQUAL(pal_signal_raise(SIG_B), APR_SUCCESS);
  {
    int i;
    for (i = 0; i < 500 && (a.calls == 0 || b.calls == 0); i++) {
      vg_run(l1, VG_RUN_NOWAIT);
      vg_run(l2, VG_RUN_NOWAIT);
      if (a.calls == 0 || b.calls == 0) {
        volatile int never = 0;
        vg_test_run_until(a.calls ? l2 : l1, &never, 5);
      }
    }
  }
  CU_ASSERT_EQUAL(a.calls, 1);
  CU_ASSERT_EQUAL(b.calls, 1);
  vg_test_close_loop(l1);
  vg_test_close_loop(l2);
}

/* A closed watcher is not called; an unreferenced one does not keep the
 * loop alive but is still called. */
static void test_close_and_unref(void) {
  vg_loop_t *loop = vg_test_new_loop();
  watcher_t a, b;
  watcher_init(loop, &a);
  watcher_init(loop, &b);
  wa = &a;
  wb = &b;
  vg_signal_start(&a.sig, watcher_cb, SIG_A);
  vg_signal_start(&b.sig, watcher_cb, SIG_A);
  vg_unref((vg_handle_t *)&b.sig);
  CU_ASSERT(vg_loop_alive(loop));
  vg_close((vg_handle_t *)&a.sig, NULL);
  /* (a closing handle counts as alive until its close phase) */
  vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(vg_loop_alive(loop), 0);
  CU_ASSERT_EQUAL(pal_signal_raise(SIG_A), APR_SUCCESS);
  /* Nothing referenced: the loop does not run on its own account... */
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  /* ...but while something else runs it, b is called. */
  CU_ASSERT(vg_test_run_until(loop, &b.calls, VG_TEST_WAIT_MS));
  settle(loop);
  CU_ASSERT_EQUAL(a.calls, 0);
  CU_ASSERT_EQUAL(b.calls, 1);
  vg_test_close_loop(loop);
}

/* What a platform does not have cannot be watched: VG_EUNSUPPORTED, and
 * the watcher stays inactive.  POSIX has no BREAK; Windows has no USR1,
 * USR2, QUIT, WINCH, CHLD (and KILL is no event to watch either). */
static void test_unsupported_signals(void) {
  vg_loop_t *loop = vg_test_new_loop();
  watcher_t a;
#ifdef _WIN32
  static const int none[] = {VG_SIGUSR1, VG_SIGUSR2, VG_SIGQUIT,
                             VG_SIGWINCH, VG_SIGCHLD, VG_SIGKILL};
#else
  static const int none[] = {VG_SIGBREAK};
#endif
  size_t i;
  watcher_init(loop, &a);
  for (i = 0; i < sizeof none / sizeof none[0]; i++) {
    CU_ASSERT_EQUAL(vg_signal_start(&a.sig, watcher_cb, none[i]),
                    VG_EUNSUPPORTED);
    CU_ASSERT_EQUAL(vg_is_active((vg_handle_t *)&a.sig), 0);
  }
#ifdef _WIN32
  CU_ASSERT_EQUAL(pal_signal_raise(VG_SIGUSR1), VG_EUNSUPPORTED);
  CU_ASSERT_EQUAL(pal_signal_raise(VG_SIGKILL), VG_EUNSUPPORTED);
#else
  CU_ASSERT_EQUAL(pal_signal_raise(VG_SIGBREAK), VG_EUNSUPPORTED);
#endif
  /* The watcher still works for a signal that exists. */
  CU_ASSERT_EQUAL(vg_signal_start(&a.sig, watcher_cb, SIG_A), APR_SUCCESS);
  vg_test_close_loop(loop);
}

static void test_names(void) {
  CU_ASSERT_STRING_EQUAL(vg_signal_name(VG_SIGTERM), "TERM");
  CU_ASSERT_STRING_EQUAL(vg_signal_name(VG_SIGINT), "INT");
  CU_ASSERT_STRING_EQUAL(vg_signal_name(VG_SIGHUP), "HUP");
  CU_ASSERT_STRING_EQUAL(vg_signal_name(VG_SIGKILL), "KILL");
  CU_ASSERT_STRING_EQUAL(vg_signal_name(VG_SIGUSR1), "USR1");
  CU_ASSERT_STRING_EQUAL(vg_signal_name(VG_SIGUSR2), "USR2");
  CU_ASSERT_STRING_EQUAL(vg_signal_name(VG_SIGBREAK), "BREAK");
  CU_ASSERT_PTR_NULL(vg_signal_name(0));
  CU_ASSERT_PTR_NULL(vg_signal_name(999));
  CU_ASSERT_PTR_NULL(vg_signal_name(-1));

  CU_ASSERT_EQUAL(vg_signal_from_name("TERM"), VG_SIGTERM);
  CU_ASSERT_EQUAL(vg_signal_from_name("SIGTERM"), VG_SIGTERM);
  CU_ASSERT_EQUAL(vg_signal_from_name("term"), VG_SIGTERM);
  CU_ASSERT_EQUAL(vg_signal_from_name("sigterm"), VG_SIGTERM);
  CU_ASSERT_EQUAL(vg_signal_from_name("HUP"), VG_SIGHUP);
  CU_ASSERT_EQUAL(vg_signal_from_name("SIGUSR1"), VG_SIGUSR1);
  CU_ASSERT_EQUAL(vg_signal_from_name("KILL"), VG_SIGKILL);
  CU_ASSERT_EQUAL(vg_signal_from_name("WINCH"), VG_SIGWINCH);
  CU_ASSERT_EQUAL(vg_signal_from_name("NOPE"), 0);
  CU_ASSERT_EQUAL(vg_signal_from_name(""), 0);
  CU_ASSERT_EQUAL(vg_signal_from_name("SIG"), 0);
  CU_ASSERT_EQUAL(vg_signal_from_name("TERMX"), 0);
  {
    /* Round trip for every named signal. */
    int s;
    for (s = 1; s < PAL_NSIG; s++) {
      const char *n = vg_signal_name(s);
      if (n)
        CU_ASSERT_EQUAL(vg_signal_from_name(n), s);
    }
  }
}

static CU_TestInfo signal_tests[] = {
    {"two_watchers", test_two_watchers},
    {"distinct_signals", test_distinct_signals},
    {"two_loops", test_two_loops},
    {"close_and_unref", test_close_and_unref},
    {"unsupported_signals", test_unsupported_signals},
    {"names", test_names},
    CU_TEST_INFO_NULL};

CU_SuiteInfo signal_suite = {
    .pName = "signal",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = signal_tests};
