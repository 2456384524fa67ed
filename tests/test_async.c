/*
 * test_async.c -- waking the loop from other threads, coalescing, sends
 * from the loop thread and from a signal handler, and closing.
 */
#define _GNU_SOURCE 1

#include <signal.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "test.h"

typedef struct {
  vg_async_t async;
  int calls;
  volatile int done;
  volatile apr_uint32_t counter;     /* written by the sender thread */
  apr_uint32_t last_seen;
  apr_uint32_t target;
  int closed;
} actx_t;

static void count_cb(vg_async_t *a) {
  actx_t *c = a->data;
  c->calls++;
  c->last_seen = apr_atomic_read32(&c->counter);
  if (c->last_seen >= c->target)
    c->done = 1;
}

static void closed_cb(vg_handle_t *h) {
  ((actx_t *)h->data)->closed++;
}

static void actx_init(vg_loop_t *loop, actx_t *c, apr_uint32_t target) {
  memset(c, 0, sizeof *c);
  c->target = target;
  CU_ASSERT_EQUAL_FATAL(vg_async_init(loop, &c->async, count_cb),
                        APR_SUCCESS);
  c->async.data = c;
}

/* ------------------------------------------------------------------------
 * From another thread
 * --------------------------------------------------------------------- */

typedef struct {
  actx_t *ctx;
  unsigned sends;
  apr_interval_time_t delay;
  apr_status_t rv;
} sender_t;

static void *APR_THREAD_FUNC sender_main(apr_thread_t *t, void *arg) {
  sender_t *s = arg;
  unsigned i;
  if (s->delay)
    apr_sleep(s->delay);
  s->rv = APR_SUCCESS;
  for (i = 0; i < s->sends; i++) {
    apr_status_t rv;
    apr_atomic_set32(&s->ctx->counter, i + 1);
    rv = vg_async_send(&s->ctx->async);
    if (rv != APR_SUCCESS)
      s->rv = rv;
  }
  apr_thread_exit(t, APR_SUCCESS);
  return NULL;
}

static void run_sender(vg_loop_t *loop, actx_t *c, unsigned sends,
                       apr_interval_time_t delay) {
  apr_pool_t *pool;
  apr_thread_t *thr;
  apr_status_t trv;
  sender_t s;
  s.ctx = c;
  s.sends = sends;
  s.delay = delay;
  s.rv = -1;
  apr_pool_create(&pool, vg_test_pool);
  CU_ASSERT_EQUAL_FATAL(apr_thread_create(&thr, NULL, sender_main, &s, pool),
                        APR_SUCCESS);
  CU_ASSERT(vg_test_run_until(loop, &c->done, VG_TEST_WAIT_MS));
  apr_thread_join(&trv, thr);
  CU_ASSERT_EQUAL(s.rv, APR_SUCCESS);
  apr_pool_destroy(pool);
}

/* One send from a thread that starts after the loop blocks: the loop
 * wakes up and calls the callback once. */
static void test_thread_wakeup(void) {
  vg_loop_t *loop = vg_test_new_loop();
  actx_t c;
  actx_init(loop, &c, 1);
  run_sender(loop, &c, 1, apr_time_from_msec(30));
  CU_ASSERT_EQUAL(c.calls, 1);
  CU_ASSERT_EQUAL(c.last_seen, 1);
  vg_close((vg_handle_t *)&c.async, closed_cb);
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT_EQUAL(c.closed, 1);
  vg_test_close_loop(loop);
}

/* 10,000 sends: coalesced into between 1 and 10,000 callbacks, and the
 * last state the thread wrote is seen by a callback (no lost wake-up). */
static void test_thread_coalescing(void) {
  vg_loop_t *loop = vg_test_new_loop();
  actx_t c;
  actx_init(loop, &c, 10000);
  run_sender(loop, &c, 10000, 0);
  CU_ASSERT(c.calls >= 1);
  CU_ASSERT(c.calls <= 10000);
  CU_ASSERT_EQUAL(c.last_seen, 10000);
  CU_ASSERT(c.done);
  vg_test_close_loop(loop);
}

/* Several threads at once. */
static void test_many_threads(void) {
  enum { T = 4, SENDS = 2000 };
  vg_loop_t *loop = vg_test_new_loop();
  actx_t c;
  apr_pool_t *pool;
  apr_thread_t *thr[T];
  sender_t s[T];
  int i;
  actx_init(loop, &c, SENDS);
  apr_pool_create(&pool, vg_test_pool);
  for (i = 0; i < T; i++) {
    s[i].ctx = &c;
    s[i].sends = SENDS;
    s[i].delay = 0;
    s[i].rv = -1;
    CU_ASSERT_EQUAL_FATAL(
        apr_thread_create(&thr[i], NULL, sender_main, &s[i], pool),
        APR_SUCCESS);
  }
  for (i = 0; i < T; i++) {
    apr_status_t trv;
    apr_thread_join(&trv, thr[i]);
    CU_ASSERT_EQUAL(s[i].rv, APR_SUCCESS);
  }
  /* All threads are done: every one of them ends by writing SENDS, so a
   * callback must observe it. */
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT(c.calls >= 1 && c.calls <= T * SENDS);
  CU_ASSERT_EQUAL(c.last_seen, SENDS);
  apr_pool_destroy(pool);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * From the loop thread
 * --------------------------------------------------------------------- */

static actx_t *timer_ctx;
static int called_inside_send;

static void send_from_timer(vg_timer_t *t) {
  (void)t;
  timer_ctx->counter = 1;
  CU_ASSERT_EQUAL(vg_async_send(&timer_ctx->async), APR_SUCCESS);
  /* Never called back from inside vg_async_send. */
  called_inside_send = timer_ctx->calls;
  vg_async_send(&timer_ctx->async);
  vg_async_send(&timer_ctx->async);
}

static void test_loop_thread_send(void) {
  vg_loop_t *loop = vg_test_new_loop();
  actx_t c;
  vg_timer_t t;
  volatile int never = 0;
  actx_init(loop, &c, 1);
  timer_ctx = &c;
  called_inside_send = -1;
  vg_timer_init(loop, &t);
  vg_timer_start(&t, send_from_timer, 1, 0);
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(called_inside_send, 0);
  vg_test_run_until(loop, &never, 20);
  /* Three sends before the loop got to them: one callback. */
  CU_ASSERT_EQUAL(c.calls, 1);
  vg_test_close_loop(loop);
}

/* Sends before vg_run: one callback.  Then a second round: another. */
static void test_coalesce_before_run(void) {
  vg_loop_t *loop = vg_test_new_loop();
  actx_t c;
  volatile int never = 0;
  int i;
  actx_init(loop, &c, 1);
  c.counter = 1;
  for (i = 0; i < 100; i++)
    CU_ASSERT_EQUAL(vg_async_send(&c.async), APR_SUCCESS);
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  vg_test_run_until(loop, &never, 20);
  CU_ASSERT_EQUAL(c.calls, 1);
  vg_async_send(&c.async);
  vg_test_run_until(loop, &never, 50);
  CU_ASSERT_EQUAL(c.calls, 2);
  vg_test_close_loop(loop);
}

/* Only the handle that was sent to is called. */
static void test_two_handles(void) {
  vg_loop_t *loop = vg_test_new_loop();
  actx_t a, b;
  volatile int never = 0;
  actx_init(loop, &a, 1);
  actx_init(loop, &b, 1);
  b.counter = 1;
  vg_async_send(&b.async);
  CU_ASSERT(vg_test_run_until(loop, &b.done, VG_TEST_WAIT_MS));
  vg_test_run_until(loop, &never, 20);
  CU_ASSERT_EQUAL(a.calls, 0);
  CU_ASSERT_EQUAL(b.calls, 1);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * Liveness and close
 * --------------------------------------------------------------------- */

/* An async handle keeps the loop alive until unreferenced or closed; a
 * send followed by close gives close_cb but no async callback. */
static void test_close(void) {
  vg_loop_t *loop = vg_test_new_loop();
  actx_t c;
  actx_init(loop, &c, 1);
  CU_ASSERT(vg_is_active((vg_handle_t *)&c.async));
  CU_ASSERT(vg_loop_alive(loop));
  vg_unref((vg_handle_t *)&c.async);
  CU_ASSERT_EQUAL(vg_loop_alive(loop), 0);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  vg_ref((vg_handle_t *)&c.async);
  CU_ASSERT(vg_loop_alive(loop));

  vg_async_send(&c.async);
  vg_close((vg_handle_t *)&c.async, closed_cb);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(c.calls, 0);
  CU_ASSERT_EQUAL(c.closed, 1);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * From a signal handler (async-signal-safe on POSIX)
 * --------------------------------------------------------------------- */

static actx_t *sig_ctx;
static void on_winch(int signo) {
  (void)signo;
  sig_ctx->counter = 1;
  vg_async_send(&sig_ctx->async);
}

#ifdef _WIN32
/* Windows has no asynchronous signals: the CRT's signal()/raise() run a
 * handler synchronously on the raising thread (console events come on a
 * thread of their own, as in thread_wakeup).  A send from such a handler
 * must still reach the loop once.  SIGTERM: the CRT never raises it on
 * its own. */
static void test_signal_handler_send(void) {
  vg_loop_t *loop = vg_test_new_loop();
  actx_t c;
  void (*old)(int);
  actx_init(loop, &c, 1);
  sig_ctx = &c;
  old = signal(SIGTERM, on_winch);
  CU_ASSERT_FATAL(old != SIG_ERR);
  raise(SIGTERM);
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.calls, 1);
  signal(SIGTERM, old);
  vg_test_close_loop(loop);
}
#else
static void test_signal_handler_send(void) {
  vg_loop_t *loop = vg_test_new_loop();
  actx_t c;
  struct sigaction sa, old;
  actx_init(loop, &c, 1);
  sig_ctx = &c;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_winch;
  sigemptyset(&sa.sa_mask);
  CU_ASSERT_EQUAL_FATAL(sigaction(SIGWINCH, &sa, &old), 0);
  raise(SIGWINCH);
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.calls, 1);
  sigaction(SIGWINCH, &old, NULL);
  vg_test_close_loop(loop);
}
#endif

static CU_TestInfo async_tests[] = {
    {"thread_wakeup", test_thread_wakeup},
    {"thread_coalescing_10k", test_thread_coalescing},
    {"many_threads", test_many_threads},
    {"loop_thread_send", test_loop_thread_send},
    {"coalesce_before_run", test_coalesce_before_run},
    {"two_handles", test_two_handles},
    {"close", test_close},
    {"signal_handler_send", test_signal_handler_send},
    CU_TEST_INFO_NULL};

CU_SuiteInfo async_suite = {
    .pName = "async",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = async_tests};
