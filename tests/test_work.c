/*
 * test_work.c -- the thread-pool work queue (core/work.c).
 *
 * Blocking work items wait on a "gate" (APR mutex + condition variable)
 * that the test opens, so a test can fill the pool and know for certain
 * that later items are still queued.  Waits on the gate have a generous
 * upper bound so a bug fails the test instead of hanging it; nothing
 * asserts on durations.
 */
#include <string.h>

#include <apr_atomic.h>
#include <apr_env.h>
#include <apr_portable.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_time.h>

#include "test.h"

#define GATE_TIMEOUT apr_time_from_sec(20)

typedef struct {
  apr_thread_mutex_t *mu;
  apr_thread_cond_t *cond;
  unsigned started;             /* blocking items that began work_cb */
  int open;
} gate_t;

typedef struct {
  vg_work_t req;
  gate_t *gate;                 /* NULL: do not block */
  apr_os_thread_t work_thread, after_thread;
  int work_ran;
  int after_ran;
  apr_status_t status;
  unsigned order;               /* global completion order */
} item_t;

static apr_os_thread_t main_thread;
static volatile apr_uint32_t work_counter;
static unsigned after_counter;

static void gate_init(gate_t *g) {
  memset(g, 0, sizeof(*g));
  CU_ASSERT_FATAL(apr_thread_mutex_create(&g->mu, APR_THREAD_MUTEX_DEFAULT,
                                          vg_test_pool) == APR_SUCCESS);
  CU_ASSERT_FATAL(apr_thread_cond_create(&g->cond, vg_test_pool) ==
                  APR_SUCCESS);
}

static void gate_destroy(gate_t *g) {
  apr_thread_cond_destroy(g->cond);
  apr_thread_mutex_destroy(g->mu);
}

/* Wait (test thread) until `n` blocking items have started. */
static int gate_wait_started(gate_t *g, unsigned n) {
  apr_time_t until = apr_time_now() + GATE_TIMEOUT;
  int ok;

  apr_thread_mutex_lock(g->mu);
  while (g->started < n && apr_time_now() < until)
    apr_thread_cond_timedwait(g->cond, g->mu, apr_time_from_msec(100));
  ok = g->started >= n;
  apr_thread_mutex_unlock(g->mu);
  return ok;
}

static void gate_open(gate_t *g) {
  apr_thread_mutex_lock(g->mu);
  g->open = 1;
  apr_thread_cond_broadcast(g->cond);
  apr_thread_mutex_unlock(g->mu);
}

static void item_work(vg_work_t *req) {
  item_t *it = req->data;
  gate_t *g = it->gate;
  apr_time_t until;

  it->work_thread = apr_os_thread_current();
  it->work_ran = 1;
  apr_atomic_inc32(&work_counter);
  if (g == NULL)
    return;
  until = apr_time_now() + GATE_TIMEOUT;
  apr_thread_mutex_lock(g->mu);
  g->started++;
  apr_thread_cond_broadcast(g->cond);
  while (!g->open && apr_time_now() < until)
    apr_thread_cond_timedwait(g->cond, g->mu, apr_time_from_msec(100));
  apr_thread_mutex_unlock(g->mu);
}

static void item_after(vg_work_t *req, apr_status_t status) {
  item_t *it = req->data;

  it->after_thread = apr_os_thread_current();
  it->after_ran++;
  it->status = status;
  it->order = ++after_counter;
}

static void item_queue(vg_loop_t *loop, item_t *it, gate_t *g) {
  memset(it, 0, sizeof(*it));
  it->gate = g;
  it->req.data = it;
  CU_ASSERT_EQUAL(vg_queue_work(loop, &it->req, item_work, item_after),
                  APR_SUCCESS);
}

static vg_loop_t *new_loop(void) {
  main_thread = apr_os_thread_current();
  apr_atomic_set32(&work_counter, 0);
  after_counter = 0;
  return vg_test_new_loop();
}

/* work_cb on a pool thread, after_cb on the loop thread, in that order;
 * pending work keeps vg_run() going and an idle pool does not. */
static void test_work_threads(void) {
  vg_loop_t *loop = new_loop();
  item_t it;

  item_queue(loop, &it, NULL);
  CU_ASSERT(vg_loop_alive(loop));
  CU_ASSERT_EQUAL(it.after_ran, 0);        /* never synchronously */
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(it.work_ran, 1);
  CU_ASSERT_EQUAL(it.after_ran, 1);
  CU_ASSERT_EQUAL(it.status, APR_SUCCESS);
  CU_ASSERT(!apr_os_thread_equal(it.work_thread, main_thread));
  CU_ASSERT(apr_os_thread_equal(it.after_thread, main_thread));
  /* The pool's internal async handle does not keep the loop alive. */
  CU_ASSERT(!vg_loop_alive(loop));
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_NOWAIT), 0);
  vg_test_close_loop(loop);
}

#define MANY 2000

/* Many items: every one runs exactly once and completes exactly once. */
static void test_work_many(void) {
  vg_loop_t *loop = new_loop();
  item_t *items = apr_pcalloc(vg_test_pool, MANY * sizeof(*items));
  unsigned i, ok = 0, ran = 0;

  for (i = 0; i < MANY; i++)
    item_queue(loop, &items[i], NULL);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  for (i = 0; i < MANY; i++) {
    ok += items[i].after_ran == 1 && items[i].status == APR_SUCCESS;
    ran += items[i].work_ran == 1;
  }
  CU_ASSERT_EQUAL(ok, MANY);
  CU_ASSERT_EQUAL(ran, MANY);
  CU_ASSERT_EQUAL(apr_atomic_read32(&work_counter), MANY);
  CU_ASSERT_EQUAL(after_counter, MANY);
  vg_test_close_loop(loop);
}

/* Fill a 2-thread pool with blocking items; the next ones are queued and
 * can be cancelled; running ones cannot. */
static void test_work_cancel(void) {
  vg_loop_t *loop = new_loop();
  item_t it[5];
  gate_t g;
  int i;

  gate_init(&g);
  CU_ASSERT_EQUAL(vg_loop_set_pool_size(loop, 2), APR_SUCCESS);
  item_queue(loop, &it[0], &g);
  item_queue(loop, &it[1], &g);
  CU_ASSERT_FATAL(gate_wait_started(&g, 2));
  /* Both threads are now inside work_cb; these three stay queued. */
  item_queue(loop, &it[2], NULL);
  item_queue(loop, &it[3], NULL);
  item_queue(loop, &it[4], NULL);

  CU_ASSERT_EQUAL(vg_work_cancel(&it[2].req), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_work_cancel(&it[4].req), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_work_cancel(&it[0].req), VG_EBUSY);   /* running */
  CU_ASSERT_EQUAL(vg_work_cancel(&it[2].req), VG_EBUSY);   /* cancelled */
  /* after_cb is delivered by the loop, never inside vg_work_cancel. */
  CU_ASSERT_EQUAL(it[2].after_ran, 0);
  CU_ASSERT_EQUAL(it[4].after_ran, 0);

  gate_open(&g);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  for (i = 0; i < 5; i++)
    CU_ASSERT_EQUAL(it[i].after_ran, 1);
  CU_ASSERT_EQUAL(it[2].status, VG_ECANCELED);
  CU_ASSERT_EQUAL(it[4].status, VG_ECANCELED);
  CU_ASSERT_EQUAL(it[2].work_ran, 0);
  CU_ASSERT_EQUAL(it[4].work_ran, 0);
  CU_ASSERT_EQUAL(it[0].status, APR_SUCCESS);
  CU_ASSERT_EQUAL(it[1].status, APR_SUCCESS);
  CU_ASSERT_EQUAL(it[3].status, APR_SUCCESS);
  CU_ASSERT_EQUAL(it[3].work_ran, 1);
  CU_ASSERT(apr_os_thread_equal(it[2].after_thread, main_thread));
  /* Done work cannot be cancelled. */
  CU_ASSERT_EQUAL(vg_work_cancel(&it[3].req), VG_EBUSY);
  vg_test_close_loop(loop);
  gate_destroy(&g);
}

/* The size is fixed once the pool exists; 0 is not a size. */
static void test_work_pool_size(void) {
  vg_loop_t *loop = new_loop();
  item_t it;

  CU_ASSERT_EQUAL(vg_loop_set_pool_size(loop, 0), APR_EINVAL);
  CU_ASSERT_EQUAL(vg_loop_set_pool_size(loop, 3), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_loop_set_pool_size(loop, 1), APR_SUCCESS);
  item_queue(loop, &it, NULL);
  CU_ASSERT_EQUAL(vg_loop_set_pool_size(loop, 2), VG_EBUSY);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(vg_loop_set_pool_size(loop, 2), VG_EBUSY);
  CU_ASSERT_EQUAL(vg_queue_work(loop, &it.req, NULL, item_after),
                  APR_EINVAL);
  vg_test_close_loop(loop);
}

/* VIGIL_THREADPOOL_SIZE=3: three blocking items start, a fourth stays
 * queued (so it can still be cancelled). */
static void test_work_env_size(void) {
  vg_loop_t *loop;
  item_t it[4];
  gate_t g;
  int i;

  CU_ASSERT_FATAL(apr_env_set("VIGIL_THREADPOOL_SIZE", "3", vg_test_pool) ==
                  APR_SUCCESS);
  loop = new_loop();
  gate_init(&g);
  for (i = 0; i < 3; i++)
    item_queue(loop, &it[i], &g);
  CU_ASSERT_FATAL(gate_wait_started(&g, 3));
  item_queue(loop, &it[3], &g);
  CU_ASSERT_EQUAL(vg_work_cancel(&it[3].req), APR_SUCCESS);
  gate_open(&g);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(it[3].status, VG_ECANCELED);
  CU_ASSERT_EQUAL(it[3].work_ran, 0);
  for (i = 0; i < 3; i++)
    CU_ASSERT_EQUAL(it[i].status, APR_SUCCESS);
  apr_env_delete("VIGIL_THREADPOOL_SIZE", vg_test_pool);
  vg_test_close_loop(loop);
  gate_destroy(&g);
}

/* after_cb may queue more work (and reuse its request). */
#define CHAIN 50
static unsigned chain_left;

static void chain_work(vg_work_t *req) {
  (void)req;
  apr_atomic_inc32(&work_counter);
}

static void chain_after(vg_work_t *req, apr_status_t status) {
  CU_ASSERT_EQUAL(status, APR_SUCCESS);
  if (--chain_left > 0)
    CU_ASSERT_EQUAL(vg_queue_work(req->loop, req, chain_work, chain_after),
                    APR_SUCCESS);
}

static void test_work_chain(void) {
  vg_loop_t *loop = new_loop();
  vg_work_t req;

  chain_left = CHAIN;
  CU_ASSERT_EQUAL(vg_queue_work(loop, &req, chain_work, chain_after),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(chain_left, 0);
  CU_ASSERT_EQUAL(apr_atomic_read32(&work_counter), CHAIN);
  vg_test_close_loop(loop);
}

/* A loop that never queued work closes; one whose pool exists closes
 * too (vg_loop_close joins the threads). */
static void test_work_close_idle(void) {
  vg_loop_t *loop = new_loop();
  item_t it;

  vg_test_close_loop(loop);
  loop = new_loop();
  item_queue(loop, &it, NULL);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(vg_loop_close(loop), APR_SUCCESS);
}

static CU_TestInfo work_tests[] = {
  {"work_cb on a pool thread, after_cb on the loop", test_work_threads},
  {"many items run and complete exactly once", test_work_many},
  {"cancel queued work, not running work", test_work_cancel},
  {"pool size: set before use only", test_work_pool_size},
  {"VIGIL_THREADPOOL_SIZE sets the pool size", test_work_env_size},
  {"after_cb queues more work", test_work_chain},
  {"loop close joins the pool", test_work_close_idle},
  CU_TEST_INFO_NULL
};

CU_SuiteInfo work_suite = {
  .pName = "work",
  .pInitFunc = NULL,
  .pCleanupFunc = NULL,
  .pSetUpFunc = NULL,
  .pTearDownFunc = NULL,
  .pTests = work_tests
};
