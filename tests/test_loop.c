/*
 * test_loop.c -- the loop itself: run modes, stop, ref/unref, liveness,
 * the close phase, vg_loop_close refusing while handles live, cached
 * time and vg_walk.
 */
#define _GNU_SOURCE 1

#include <string.h>

#include "test.h"

static int count_cb_calls;
static void count_cb(vg_timer_t *t) {
  (void)t;
  count_cb_calls++;
}

static int close_calls;
static vg_handle_t *closed_handle;
static void close_cb(vg_handle_t *h) {
  close_calls++;
  closed_handle = h;
}

/* ------------------------------------------------------------------------
 * Run modes
 * --------------------------------------------------------------------- */

static void test_run_empty(void) {
  vg_loop_t *loop = vg_test_new_loop();
  CU_ASSERT_EQUAL(vg_loop_alive(loop), 0);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_NOWAIT), 0);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  /* ONCE with nothing to wait for must not block forever. */
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_ONCE), 0);
  CU_ASSERT_PTR_NOT_NULL(vg_loop_pool(loop));
  vg_loop_set_data(loop, &count_cb_calls);
  CU_ASSERT_PTR_EQUAL(vg_loop_get_data(loop), &count_cb_calls);
  vg_test_close_loop(loop);
}

/* NOWAIT runs one iteration and never blocks, even with a far timer. */
static void test_run_nowait(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t t;
  uint64_t it0;
  vg_timer_init(loop, &t);
  count_cb_calls = 0;
  vg_timer_start(&t, count_cb, 60000, 0);
  it0 = vg_loop_iterations(loop);
  CU_ASSERT_NOT_EQUAL(vg_run(loop, VG_RUN_NOWAIT), 0);
  CU_ASSERT_EQUAL(vg_loop_iterations(loop), it0 + 1);
  CU_ASSERT_EQUAL(count_cb_calls, 0);
  CU_ASSERT(vg_is_active((vg_handle_t *)&t));
  vg_test_close_loop(loop);
  CU_ASSERT_EQUAL(count_cb_calls, 0);
}

/* ONCE blocks until something happens: a 30 ms timer needs at most a
 * couple of ONCE iterations (one blocking wait, then the timer phase),
 * never a busy loop of thousands. */
static void test_run_once(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t t;
  int calls = 0, r = 1;
  vg_timer_init(loop, &t);
  count_cb_calls = 0;
  vg_timer_start(&t, count_cb, 30, 0);
  while (count_cb_calls == 0 && calls < 100) {
    r = vg_run(loop, VG_RUN_ONCE);
    calls++;
  }
  CU_ASSERT_EQUAL(count_cb_calls, 1);
  CU_ASSERT(calls <= 3);
  /* The one-shot timer is done: nothing keeps the loop alive. */
  CU_ASSERT_EQUAL(r, 0);
  CU_ASSERT_EQUAL(vg_loop_alive(loop), 0);
  vg_test_close_loop(loop);
}

/* ONCE never blocks after it ran a callback.  A timer that came due
 * while the owner was busy (here: asleep past its deadline, with the
 * loop's cached time from before) fires in this run, and the run returns
 * without waiting for anything else.  Nothing else happens here, so a run
 * that waited after firing it would block until the guard's deadline
 * (with no other timer: forever).  tcp close_cancels_writes hung so under
 * valgrind: its 50 ms timer counted from the time before its 16 MiB
 * write, which took longer than that. */
static int due_fired, guard_fired;
static void due_cb(vg_timer_t *t) {
  (void)t;
  due_fired++;
}
static void guard_cb(vg_timer_t *t) {
  (void)t;
  guard_fired++;
}

static void test_run_once_due_timer(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t due, guard;
  uint64_t deadline;
  vg_timer_init(loop, &due);
  vg_timer_init(loop, &guard);
  due_fired = guard_fired = 0;
  vg_timer_start(&due, due_cb, 1, 0);
  vg_timer_start(&guard, guard_cb, VG_TEST_WAIT_MS, 0);
  deadline = vg_now(loop) + 1;
  /* Past the deadline by the clock vg_run reads, before vg_run. */
  while (pal_hrtime() / 1000000u <= deadline)
    apr_sleep(apr_time_from_msec(2));
  CU_ASSERT_NOT_EQUAL(vg_run(loop, VG_RUN_ONCE), 0);
  CU_ASSERT_EQUAL(due_fired, 1);
  CU_ASSERT_EQUAL(guard_fired, 0);
  CU_ASSERT(vg_is_active((vg_handle_t *)&guard));
  vg_test_close_loop(loop);
  CU_ASSERT_EQUAL(guard_fired, 0);
}

static int stop_after;
static void stopping_cb(vg_timer_t *t) {
  if (++count_cb_calls == stop_after)
    vg_stop(t->loop);
  if (count_cb_calls == 5)
    vg_timer_stop(t);
}

/* vg_stop makes vg_run return after the current iteration, reporting
 * that work remains; the next vg_run carries on. */
static void test_stop(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t t;
  vg_timer_init(loop, &t);
  count_cb_calls = 0;
  stop_after = 3;
  vg_timer_start(&t, stopping_cb, 1, 1);
  CU_ASSERT_NOT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(count_cb_calls, 3);
  CU_ASSERT(vg_loop_alive(loop));
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(count_cb_calls, 5);
  vg_test_close_loop(loop);
}

/* vg_stop before vg_run: the run still performs (at most) one iteration
 * and returns; the flag does not stick to later runs. */
static void test_stop_before_run(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t t;
  vg_timer_init(loop, &t);
  count_cb_calls = 0;
  vg_timer_start(&t, count_cb, 1, 0);
  vg_stop(loop);
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(count_cb_calls, 1);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * Ref / unref / alive
 * --------------------------------------------------------------------- */

static void test_ref_unref(void) {
  vg_loop_t *loop = vg_test_new_loop();
  /* (not "far"/"near": windows.h defines both away) */
  vg_timer_t far_t, near_t;
  vg_timer_init(loop, &far_t);
  vg_timer_init(loop, &near_t);
  count_cb_calls = 0;

  CU_ASSERT(vg_has_ref((vg_handle_t *)&far_t));
  CU_ASSERT_EQUAL(vg_loop_alive(loop), 0);   /* inactive handles don't */
  vg_timer_start(&far_t, count_cb, 60000, 0);
  CU_ASSERT(vg_loop_alive(loop));
  vg_unref((vg_handle_t *)&far_t);
  CU_ASSERT_EQUAL(vg_has_ref((vg_handle_t *)&far_t), 0);
  CU_ASSERT(vg_is_active((vg_handle_t *)&far_t));
  CU_ASSERT_EQUAL(vg_loop_alive(loop), 0);
  /* An unreferenced timer alone: DEFAULT returns at once. */
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(count_cb_calls, 0);

  /* unref twice, ref once: refs are a flag, not a counter. */
  vg_unref((vg_handle_t *)&far_t);
  vg_ref((vg_handle_t *)&far_t);
  CU_ASSERT(vg_has_ref((vg_handle_t *)&far_t));
  CU_ASSERT(vg_loop_alive(loop));
  vg_unref((vg_handle_t *)&far_t);

  /* A referenced short timer runs the loop; the unreferenced one does
   * not keep it going afterwards. */
  vg_timer_start(&near_t, count_cb, 5, 0);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(count_cb_calls, 1);
  CU_ASSERT(vg_is_active((vg_handle_t *)&far_t));

  /* Stopping an unreferenced active handle and restarting it keeps it
   * unreferenced. */
  vg_timer_stop(&far_t);
  vg_timer_start(&far_t, count_cb, 60000, 0);
  CU_ASSERT_EQUAL(vg_loop_alive(loop), 0);
  vg_test_close_loop(loop);
  CU_ASSERT_EQUAL(count_cb_calls, 1);
}

/* ------------------------------------------------------------------------
 * Close
 * --------------------------------------------------------------------- */

static void test_loop_close_busy(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t t;
  close_calls = 0;
  CU_ASSERT_EQUAL(vg_timer_init(loop, &t), APR_SUCCESS);
  /* Open (even inactive) handles make close refuse. */
  CU_ASSERT_EQUAL(vg_loop_close(loop), VG_EBUSY);
  vg_close((vg_handle_t *)&t, close_cb);
  /* Still closing: the close phase has not run yet. */
  CU_ASSERT_EQUAL(vg_loop_close(loop), VG_EBUSY);
  CU_ASSERT_EQUAL(close_calls, 0);
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT_EQUAL(close_calls, 1);
  CU_ASSERT_EQUAL(vg_loop_close(loop), APR_SUCCESS);
}

/* close_cb runs in the close phase, never inside vg_close; the handle
 * is stopped at once (a due timer does not fire) and reported closing. */
static void test_close_phase(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t t;
  close_calls = 0;
  closed_handle = NULL;
  count_cb_calls = 0;
  vg_timer_init(loop, &t);
  vg_timer_start(&t, count_cb, 0, 0);
  CU_ASSERT_EQUAL(vg_is_closing((vg_handle_t *)&t), 0);
  vg_close((vg_handle_t *)&t, close_cb);
  CU_ASSERT_EQUAL(close_calls, 0);
  CU_ASSERT(vg_is_closing((vg_handle_t *)&t));
  CU_ASSERT_EQUAL(vg_is_active((vg_handle_t *)&t), 0);
  /* Closing twice is ignored: close_cb still runs once. */
  vg_close((vg_handle_t *)&t, close_cb);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(close_calls, 1);
  CU_ASSERT_PTR_EQUAL(closed_handle, (vg_handle_t *)&t);
  CU_ASSERT_EQUAL(count_cb_calls, 0);
  vg_test_close_loop(loop);
  CU_ASSERT_EQUAL(close_calls, 1);
}

/* A closing handle keeps the loop running until its close_cb is done,
 * even when nothing else is alive; close_cb of a NULL callback is fine. */
static void test_close_null_cb(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t t;
  vg_timer_init(loop, &t);
  vg_close((vg_handle_t *)&t, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(vg_loop_close(loop), APR_SUCCESS);
}

static void self_closing_timer_cb(vg_timer_t *t) {
  count_cb_calls++;
  vg_close((vg_handle_t *)t, close_cb);
  /* Closed from its own callback: reported closing at once. */
  CU_ASSERT(vg_is_closing((vg_handle_t *)t));
  CU_ASSERT_EQUAL(close_calls, 0);
}

/* A repeating timer closes itself from its callback: no further firing,
 * close_cb once. */
static void test_close_in_timer_cb(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t t;
  count_cb_calls = 0;
  close_calls = 0;
  vg_timer_init(loop, &t);
  vg_timer_start(&t, self_closing_timer_cb, 1, 1);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(count_cb_calls, 1);
  CU_ASSERT_EQUAL(close_calls, 1);
  vg_test_close_loop(loop);
}

/* A stream reader over one end of a pal_pipe() pair. */
typedef struct {
  vg_pipe_t pipe;
  pal_fd_t wfd;
  char buf[256];
  int reads;
  int other_closes;
  int closed;
} reader_t;

static void reader_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  reader_t *r = h->data;
  (void)suggested;
  buf->base = r->buf;
  buf->len = sizeof r->buf;
}

static void reader_close_cb(vg_handle_t *h) {
  ((reader_t *)h->data)->closed++;
}

static void read_close_self_cb(vg_stream_t *s, apr_status_t status,
                               size_t nread, const vg_buf_t *buf) {
  reader_t *r = s->data;
  (void)buf;
  if (status == APR_SUCCESS && nread == 0)
    return;
  r->reads++;
  CU_ASSERT_EQUAL(status, APR_SUCCESS);
  vg_close((vg_handle_t *)s, reader_close_cb);
}

static int open_reader(vg_loop_t *loop, reader_t *r) {
  pal_fd_t fds[2];
  memset(r, 0, sizeof *r);
  CU_ASSERT_EQUAL_FATAL(pal_pipe(fds, 1), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_init(loop, &r->pipe), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_open(&r->pipe, fds[0]), APR_SUCCESS);
  r->pipe.data = r;
  r->wfd = fds[1];
  return 0;
}

/* A read callback closes its own stream while more data is waiting:
 * no second read callback, close_cb once. */
static void test_close_in_read_cb(void) {
  vg_loop_t *loop = vg_test_new_loop();
  reader_t r;
  open_reader(loop, &r);
  CU_ASSERT_EQUAL(vg_test_fd_write(r.wfd, "first", 5), 5);
  CU_ASSERT_EQUAL(vg_read_start(&r.pipe, reader_alloc, read_close_self_cb),
                  APR_SUCCESS);
  /* Readers may consume in pieces; make sure more is pending after the
   * first callback by writing more than one buffer's worth. */
  {
    char big[2048];
    memset(big, 'x', sizeof big);
    CU_ASSERT_EQUAL(vg_test_fd_write(r.wfd, big, sizeof big),
                    (long)sizeof big);
  }
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT_EQUAL(r.reads, 1);
  CU_ASSERT_EQUAL(r.closed, 1);
  pal_fd_close(r.wfd);
  vg_test_close_loop(loop);
}

/* Two streams readable in the same iteration; whichever read callback
 * runs first closes the other.  The closed one's already-fetched event
 * must be dropped, since after vg_close() a handle gets no callback but
 * its close callback: exactly one read callback in total. */
static reader_t *pair[2];
static void read_close_other_cb(vg_stream_t *s, apr_status_t status,
                                size_t nread, const vg_buf_t *buf) {
  reader_t *r = s->data;
  reader_t *other = pair[0] == r ? pair[1] : pair[0];
  (void)buf;
  if (status == APR_SUCCESS && nread == 0)
    return;
  r->reads++;
  if (!vg_is_closing((vg_handle_t *)&other->pipe)) {
    vg_close((vg_handle_t *)&other->pipe, reader_close_cb);
    other->other_closes++;
  }
  vg_read_stop(s);
}

static void test_close_other_same_iteration(void) {
  vg_loop_t *loop = vg_test_new_loop();
  reader_t a, b;
  open_reader(loop, &a);
  open_reader(loop, &b);
  pair[0] = &a;
  pair[1] = &b;
  CU_ASSERT_EQUAL(vg_test_fd_write(a.wfd, "a", 1), 1);
  CU_ASSERT_EQUAL(vg_test_fd_write(b.wfd, "b", 1), 1);
  vg_read_start(&a.pipe, reader_alloc, read_close_other_cb);
  vg_read_start(&b.pipe, reader_alloc, read_close_other_cb);
  vg_run(loop, VG_RUN_ONCE);
  vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(a.reads + b.reads, 1);
  CU_ASSERT_EQUAL(a.closed + b.closed, 1);
  pal_fd_close(a.wfd);
  pal_fd_close(b.wfd);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * Time and walk
 * --------------------------------------------------------------------- */

static uint64_t now1, now2, now3;
static void now_cb(vg_timer_t *t) {
  uint64_t start = pal_hrtime();
  now1 = vg_now(t->loop);
  while (pal_hrtime() - start < 6 * 1000000ull)
    ;   /* 6 ms of real work */
  now2 = vg_now(t->loop);
  vg_update_time(t->loop);
  now3 = vg_now(t->loop);
}

/* vg_now is cached for the iteration; vg_update_time refreshes it. */
static void test_now_cached(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t t;
  uint64_t before = vg_now(loop);
  vg_timer_init(loop, &t);
  vg_timer_start(&t, now_cb, 1, 0);
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT(now1 >= before + 1);   /* the timer did not fire early */
  CU_ASSERT_EQUAL(now1, now2);
  CU_ASSERT(now3 >= now1 + 5);
  CU_ASSERT(vg_now(loop) >= now3);
  vg_test_close_loop(loop);
}

typedef struct {
  int count;
  int timers;
  vg_handle_t *seen[8];
} walk_t;

static void walk_cb(vg_handle_t *h, void *arg) {
  walk_t *w = arg;
  if (w->count < 8)
    w->seen[w->count] = h;
  w->count++;
  if (h->type == VG_TIMER)
    w->timers++;
}

static void test_walk(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t t[3];
  walk_t w;
  int i, j, found;
  for (i = 0; i < 3; i++)
    vg_timer_init(loop, &t[i]);
  vg_timer_start(&t[1], count_cb, 60000, 0);
  memset(&w, 0, sizeof w);
  vg_walk(loop, walk_cb, &w);
  CU_ASSERT_EQUAL(w.count, 3);
  CU_ASSERT_EQUAL(w.timers, 3);
  for (i = 0; i < 3; i++) {
    found = 0;
    for (j = 0; j < w.count && j < 8; j++)
      found += w.seen[j] == (vg_handle_t *)&t[i];
    CU_ASSERT_EQUAL(found, 1);
  }
  /* Closing handles are skipped. */
  vg_close((vg_handle_t *)&t[0], NULL);
  memset(&w, 0, sizeof w);
  vg_walk(loop, walk_cb, &w);
  CU_ASSERT_EQUAL(w.count, 2);
  vg_run(loop, VG_RUN_NOWAIT);
  memset(&w, 0, sizeof w);
  vg_walk(loop, walk_cb, &w);
  CU_ASSERT_EQUAL(w.count, 2);
  vg_test_close_loop(loop);
}

static void test_handle_type_names(void) {
  int i, j;
  for (i = VG_TIMER; i < VG_HANDLE_TYPE_MAX; i++) {
    const char *a = vg_handle_type_name((vg_handle_type)i);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT(strlen(a) > 0);
    for (j = VG_TIMER; j < i; j++)
      CU_ASSERT_STRING_NOT_EQUAL(a,
                                 vg_handle_type_name((vg_handle_type)j));
  }
}

static CU_TestInfo loop_tests[] = {
    {"run_empty", test_run_empty},
    {"run_nowait", test_run_nowait},
    {"run_once", test_run_once},
    {"run_once_due_timer", test_run_once_due_timer},
    {"stop", test_stop},
    {"stop_before_run", test_stop_before_run},
    {"ref_unref", test_ref_unref},
    {"loop_close_busy", test_loop_close_busy},
    {"close_phase", test_close_phase},
    {"close_null_cb", test_close_null_cb},
    {"close_in_timer_cb", test_close_in_timer_cb},
    {"close_in_read_cb", test_close_in_read_cb},
    {"close_other_same_iteration", test_close_other_same_iteration},
    {"now_cached", test_now_cached},
    {"walk", test_walk},
    {"handle_type_names", test_handle_type_names},
    CU_TEST_INFO_NULL};

CU_SuiteInfo loop_suite = {
    .pName = "loop",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = loop_tests};
