/*
 * test_chan.c -- channels (core/chan.c).
 *
 * Messages are small integers carried in the pointer itself:
 * (producer << 24) | sequence, sequence starting at 1, so the consumer
 * can check "exactly once, in per-producer order" without allocating.
 * Producer threads are APR threads.  Where a test must know that a sender
 * is blocked, it waits (with an upper bound) until the channel's private
 * `waiters` count says so; nothing asserts on durations.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_portable.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "test.h"

#define MSG(p, s) ((void *)(uintptr_t)(((uintptr_t)(p) << 24) | (s)))
#define MSG_PRODUCER(m) ((unsigned)((uintptr_t)(m) >> 24))
#define MSG_SEQ(m) ((unsigned)((uintptr_t)(m) & 0xffffff))
#define NPROD 4

typedef struct {
  unsigned next_seq[NPROD];     /* expected next sequence per producer */
  unsigned delivered;
  unsigned dropped;
  unsigned out_of_order;
  unsigned want;                /* stop when delivered + dropped == want */
  int done;
  void *dropped_msgs[64];
  unsigned close_after;         /* close the chan from cb after N (0: no) */
  int closed_cb;
  apr_os_thread_t cb_thread;
} sink_t;

static sink_t sink;

static void sink_reset(unsigned want) {
  unsigned i;

  memset(&sink, 0, sizeof(sink));
  for (i = 0; i < NPROD; i++)
    sink.next_seq[i] = 1;
  sink.want = want;
}

static void sink_check(void *msg) {
  unsigned p = MSG_PRODUCER(msg), s = MSG_SEQ(msg);

  if (p >= NPROD || s != sink.next_seq[p])
    sink.out_of_order++;
  else
    sink.next_seq[p]++;
}

static void chan_cb(vg_chan_t *chan, void *msg) {
  sink.cb_thread = apr_os_thread_current();
  sink_check(msg);
  sink.delivered++;
  if (sink.close_after != 0 && sink.delivered == sink.close_after)
    vg_close((vg_handle_t *)chan, NULL);
  if (sink.delivered + sink.dropped >= sink.want)
    sink.done = 1;
}

static void drop_cb(vg_chan_t *chan, void *msg) {
  (void)chan;
  if (sink.dropped < sizeof(sink.dropped_msgs) / sizeof(void *))
    sink.dropped_msgs[sink.dropped] = msg;
  sink_check(msg);
  sink.dropped++;
  if (sink.delivered + sink.dropped >= sink.want)
    sink.done = 1;
}

static void close_cb(vg_handle_t *h) {
  (void)h;
  sink.closed_cb++;
}

/* Wait (upper bound only) until `n` senders are blocked on the chan. */
static int wait_blocked(vg_chan_t *chan, unsigned n) {
  apr_time_t until = apr_time_now() + apr_time_from_sec(20);
  unsigned w;

  for (;;) {
    apr_thread_mutex_lock(chan->mu);
    w = chan->waiters;
    apr_thread_mutex_unlock(chan->mu);
    if (w >= n)
      return 1;
    if (apr_time_now() > until)
      return 0;
    apr_sleep(apr_time_from_msec(1));
  }
}

/* ------------------------------------------------------------------------
 * Producer threads
 * --------------------------------------------------------------------- */

typedef struct {
  vg_chan_t *chan;
  unsigned id, first, count;    /* sends seq first .. first+count-1 */
  apr_thread_t *thread;
  apr_status_t last;            /* status of the last send */
  unsigned sent;
} producer_t;

static void *APR_THREAD_FUNC producer_main(apr_thread_t *t, void *arg) {
  producer_t *p = arg;
  unsigned i;

  (void)t;
  for (i = 0; i < p->count; i++) {
    p->last = vg_chan_send(p->chan, MSG(p->id, p->first + i));
    if (p->last != APR_SUCCESS)
      break;
    p->sent++;
  }
  return NULL;
}

static void producer_start_at(producer_t *p, vg_chan_t *chan, unsigned id,
                              unsigned first, unsigned count) {
  memset(p, 0, sizeof(*p));
  p->chan = chan;
  p->id = id;
  p->first = first;
  p->count = count;
  CU_ASSERT_FATAL(apr_thread_create(&p->thread, NULL, producer_main, p,
                                    vg_test_pool) == APR_SUCCESS);
}

static void producer_start(producer_t *p, vg_chan_t *chan, unsigned id,
                           unsigned count) {
  producer_start_at(p, chan, id, 1, count);
}

static void producer_join(producer_t *p) {
  apr_status_t ignored;

  apr_thread_join(&ignored, p->thread);
}

/* ------------------------------------------------------------------------
 * Tests
 * --------------------------------------------------------------------- */

/* Sends from the loop thread are delivered in order, on the loop thread,
 * only when the loop runs; an open channel keeps the loop alive. */
static void test_chan_basic(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_chan_t chan;
  unsigned i;

  sink_reset(100);
  CU_ASSERT_EQUAL(vg_chan_init(loop, &chan, 0, NULL), APR_EINVAL);
  CU_ASSERT_FATAL(vg_chan_init(loop, &chan, 0, chan_cb) == APR_SUCCESS);
  CU_ASSERT(vg_loop_alive(loop));
  CU_ASSERT(vg_is_active((vg_handle_t *)&chan));
  for (i = 1; i <= 100; i++)
    CU_ASSERT_EQUAL(vg_chan_send(&chan, MSG(0, i)), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_chan_size(&chan), 100);
  CU_ASSERT_EQUAL(sink.delivered, 0);
  CU_ASSERT(vg_test_run_until(loop, &sink.done, 10000));
  CU_ASSERT_EQUAL(sink.delivered, 100);
  CU_ASSERT_EQUAL(sink.out_of_order, 0);
  CU_ASSERT_EQUAL(vg_chan_size(&chan), 0);
  CU_ASSERT(apr_os_thread_equal(sink.cb_thread, apr_os_thread_current()));
  /* Still open, still alive; closing lets the loop end. */
  CU_ASSERT(vg_loop_alive(loop));
  vg_close((vg_handle_t *)&chan, close_cb);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(sink.closed_cb, 1);
  CU_ASSERT_EQUAL(vg_chan_send(&chan, MSG(0, 101)), VG_ECLOSING);
  vg_test_close_loop(loop);
}

/* The unbounded ring grows while wrapped around: order survives. */
static void test_chan_grow(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_chan_t chan;
  unsigned i;

  sink_reset(5);
  CU_ASSERT_FATAL(vg_chan_init(loop, &chan, 0, chan_cb) == APR_SUCCESS);
  for (i = 1; i <= 5; i++)
    vg_chan_send(&chan, MSG(0, i));
  CU_ASSERT(vg_test_run_until(loop, &sink.done, 10000));
  sink.done = 0;
  sink.want = 5 + 10000;
  for (i = 6; i <= 10005; i++)
    CU_ASSERT_EQUAL_FATAL(vg_chan_try_send(&chan, MSG(0, i)), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_chan_size(&chan), 10000);
  CU_ASSERT(vg_test_run_until(loop, &sink.done, 10000));
  CU_ASSERT_EQUAL(sink.delivered, 10005);
  CU_ASSERT_EQUAL(sink.out_of_order, 0);
  vg_test_close_loop(loop);
}

/* Several producer threads: every message exactly once, in per-producer
 * order.  Unbounded, then bounded (producers block and resume). */
static void run_producers(size_t bound, unsigned per) {
  vg_loop_t *loop = vg_test_new_loop();
  producer_t prod[NPROD];
  vg_chan_t chan;
  unsigned i;

  sink_reset(NPROD * per);
  CU_ASSERT_FATAL(vg_chan_init(loop, &chan, bound, chan_cb) == APR_SUCCESS);
  for (i = 0; i < NPROD; i++)
    producer_start(&prod[i], &chan, i, per);
  CU_ASSERT(vg_test_run_until(loop, &sink.done, 60000));
  for (i = 0; i < NPROD; i++) {
    producer_join(&prod[i]);
    CU_ASSERT_EQUAL(prod[i].sent, per);
    CU_ASSERT_EQUAL(prod[i].last, APR_SUCCESS);
    CU_ASSERT_EQUAL(sink.next_seq[i], per + 1);
  }
  CU_ASSERT_EQUAL(sink.delivered, NPROD * per);
  CU_ASSERT_EQUAL(sink.dropped, 0);
  CU_ASSERT_EQUAL(sink.out_of_order, 0);
  CU_ASSERT_EQUAL(vg_chan_size(&chan), 0);
  vg_test_close_loop(loop);
}

static void test_chan_producers(void) {
  run_producers(0, 20000);
}

static void test_chan_producers_bounded(void) {
  run_producers(8, 5000);
}

/* try_send on a full bounded channel says VG_EQUEUEFULL; draining makes
 * room again. */
static void test_chan_try_send_full(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_chan_t chan;
  unsigned i;

  sink_reset(4);
  CU_ASSERT_FATAL(vg_chan_init(loop, &chan, 4, chan_cb) == APR_SUCCESS);
  for (i = 1; i <= 4; i++)
    CU_ASSERT_EQUAL(vg_chan_try_send(&chan, MSG(0, i)), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_chan_try_send(&chan, MSG(0, 5)), VG_EQUEUEFULL);
  /* A blocking send from the loop thread would deadlock: refused too. */
  CU_ASSERT_EQUAL(vg_chan_send(&chan, MSG(0, 5)), VG_EQUEUEFULL);
  CU_ASSERT_EQUAL(vg_chan_size(&chan), 4);
  CU_ASSERT(vg_test_run_until(loop, &sink.done, 10000));
  CU_ASSERT_EQUAL(sink.delivered, 4);
  sink.done = 0;
  sink.want = 5;
  CU_ASSERT_EQUAL(vg_chan_try_send(&chan, MSG(0, 5)), APR_SUCCESS);
  CU_ASSERT(vg_test_run_until(loop, &sink.done, 10000));
  CU_ASSERT_EQUAL(sink.delivered, 5);
  CU_ASSERT_EQUAL(sink.out_of_order, 0);
  vg_test_close_loop(loop);
}

/* A blocking send on a full channel waits until the loop drains it. */
static void test_chan_backpressure(void) {
  vg_loop_t *loop = vg_test_new_loop();
  producer_t prod;
  vg_chan_t chan;

  sink_reset(3);
  CU_ASSERT_FATAL(vg_chan_init(loop, &chan, 2, chan_cb) == APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_chan_send(&chan, MSG(1, 1)), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_chan_send(&chan, MSG(1, 2)), APR_SUCCESS);
  /* Full: a producer thread's send of seq 3 must wait for the loop. */
  producer_start_at(&prod, &chan, 1, 3, 1);
  CU_ASSERT_FATAL(wait_blocked(&chan, 1));
  CU_ASSERT_EQUAL(prod.sent, 0);               /* still blocked */
  CU_ASSERT_EQUAL(vg_chan_size(&chan), 2);
  CU_ASSERT(vg_test_run_until(loop, &sink.done, 10000));
  producer_join(&prod);
  CU_ASSERT_EQUAL(prod.last, APR_SUCCESS);
  CU_ASSERT_EQUAL(prod.sent, 1);
  CU_ASSERT_EQUAL(sink.delivered, 3);
  CU_ASSERT_EQUAL(sink.next_seq[1], 4);        /* 1, 2, 3 in order */
  CU_ASSERT_EQUAL(sink.out_of_order, 0);
  vg_test_close_loop(loop);
}

/* Closing wakes every blocked sender with VG_ECLOSING and hands what was
 * queued to drop_cb; cb never sees those. */
static void test_chan_close_wakes(void) {
  vg_loop_t *loop = vg_test_new_loop();
  producer_t prod[2];
  vg_chan_t chan;

  sink_reset(1000);
  CU_ASSERT_FATAL(vg_chan_init(loop, &chan, 1, chan_cb) == APR_SUCCESS);
  vg_chan_set_drop_cb(&chan, drop_cb);
  CU_ASSERT_EQUAL(vg_chan_send(&chan, MSG(3, 1)), APR_SUCCESS);
  producer_start(&prod[0], &chan, 1, 10);
  producer_start(&prod[1], &chan, 2, 10);
  CU_ASSERT_FATAL(wait_blocked(&chan, 2));
  vg_close((vg_handle_t *)&chan, close_cb);
  producer_join(&prod[0]);
  producer_join(&prod[1]);
  CU_ASSERT_EQUAL(prod[0].last, VG_ECLOSING);
  CU_ASSERT_EQUAL(prod[1].last, VG_ECLOSING);
  CU_ASSERT_EQUAL(prod[0].sent, 0);
  CU_ASSERT_EQUAL(prod[1].sent, 0);
  CU_ASSERT_EQUAL(sink.dropped, 1);
  CU_ASSERT_PTR_EQUAL(sink.dropped_msgs[0], MSG(3, 1));
  CU_ASSERT_EQUAL(sink.delivered, 0);
  CU_ASSERT_EQUAL(vg_chan_send(&chan, MSG(3, 2)), VG_ECLOSING);
  CU_ASSERT_EQUAL(vg_chan_try_send(&chan, MSG(3, 2)), VG_ECLOSING);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(sink.closed_cb, 1);
  CU_ASSERT_EQUAL(sink.delivered, 0);
  vg_test_close_loop(loop);
}

/* Messages left in an unbounded channel at close go to drop_cb, in
 * order, exactly once. */
static void test_chan_close_leftovers(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_chan_t chan;
  unsigned i;

  sink_reset(10);
  CU_ASSERT_FATAL(vg_chan_init(loop, &chan, 0, chan_cb) == APR_SUCCESS);
  vg_chan_set_drop_cb(&chan, drop_cb);
  for (i = 1; i <= 10; i++)
    vg_chan_send(&chan, MSG(0, i));
  vg_close((vg_handle_t *)&chan, close_cb);
  CU_ASSERT_EQUAL(sink.dropped, 10);
  CU_ASSERT_EQUAL(sink.out_of_order, 0);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(sink.delivered, 0);
  CU_ASSERT_EQUAL(sink.closed_cb, 1);
  vg_test_close_loop(loop);
}

/* cb closes the channel mid-batch: the rest is dropped, not delivered,
 * and nothing is lost or duplicated. */
static void test_chan_close_in_cb(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_chan_t chan;
  unsigned i;

  sink_reset(200);
  sink.close_after = 3;
  CU_ASSERT_FATAL(vg_chan_init(loop, &chan, 0, chan_cb) == APR_SUCCESS);
  vg_chan_set_drop_cb(&chan, drop_cb);
  for (i = 1; i <= 200; i++)
    vg_chan_send(&chan, MSG(0, i));
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT_EQUAL(sink.delivered, 3);
  CU_ASSERT_EQUAL(sink.dropped, 197);
  CU_ASSERT_EQUAL(sink.out_of_order, 0);
  CU_ASSERT(sink.done);
  vg_test_close_loop(loop);
}

/* Channels open at the end are closed by vg_test_close_loop (vg_walk),
 * which never shows the embedded (internal) async. */
static void test_chan_walk_close(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_chan_t a, b;

  sink_reset(1000);
  CU_ASSERT_FATAL(vg_chan_init(loop, &a, 0, chan_cb) == APR_SUCCESS);
  CU_ASSERT_FATAL(vg_chan_init(loop, &b, 4, chan_cb) == APR_SUCCESS);
  vg_chan_set_drop_cb(&a, drop_cb);
  vg_chan_send(&a, MSG(0, 1));
  vg_chan_send(&b, MSG(1, 1));
  vg_test_close_loop(loop);
  /* a's message went to drop_cb; b has no drop_cb (just forgotten). */
  CU_ASSERT_EQUAL(sink.dropped, 1);
  CU_ASSERT_EQUAL(sink.delivered, 0);
}

/* close_cb may free the channel: the embedded async has been through
 * the close phase by then (ASan/valgrind would catch the opposite). */
static void free_close_cb(vg_handle_t *h) {
  sink.closed_cb++;
  free(h);
}

static void test_chan_free_in_close_cb(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_chan_t *chan = malloc(sizeof(*chan));
  vg_chan_t *chan2 = malloc(sizeof(*chan2));
  unsigned i;

  sink_reset(1000);
  CU_ASSERT_FATAL(chan != NULL && chan2 != NULL);
  CU_ASSERT_FATAL(vg_chan_init(loop, chan, 0, chan_cb) == APR_SUCCESS);
  CU_ASSERT_FATAL(vg_chan_init(loop, chan2, 4, chan_cb) == APR_SUCCESS);
  vg_chan_set_drop_cb(chan, drop_cb);
  for (i = 1; i <= 3; i++)
    vg_chan_send(chan, MSG(0, i));
  vg_chan_send(chan2, MSG(1, 1));
  vg_close((vg_handle_t *)chan2, free_close_cb);
  vg_close((vg_handle_t *)chan, free_close_cb);
  CU_ASSERT_EQUAL(sink.dropped, 3);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(sink.closed_cb, 2);
  CU_ASSERT_EQUAL(sink.delivered, 0);
  vg_test_close_loop(loop);
}

static CU_TestInfo chan_tests[] = {
  {"send and deliver on the loop thread", test_chan_basic},
  {"unbounded ring grows in order", test_chan_grow},
  {"producer threads: exactly once, in order", test_chan_producers},
  {"bounded with producer threads", test_chan_producers_bounded},
  {"try_send on a full channel", test_chan_try_send_full},
  {"blocking send waits for the loop", test_chan_backpressure},
  {"close wakes blocked senders", test_chan_close_wakes},
  {"close hands leftovers to drop_cb", test_chan_close_leftovers},
  {"close from cb drops the rest", test_chan_close_in_cb},
  {"vg_walk closes channels", test_chan_walk_close},
  {"close_cb may free the channel", test_chan_free_in_close_cb},
  CU_TEST_INFO_NULL
};

CU_SuiteInfo chan_suite = {
  .pName = "chan",
  .pInitFunc = NULL,
  .pCleanupFunc = NULL,
  .pSetUpFunc = NULL,
  .pTearDownFunc = NULL,
  .pTests = chan_tests
};
