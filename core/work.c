/*
 * work.c -- the per-loop thread-pool work queue (vg_queue_work).
 *
 * Shape (libuv's threadpool, but one pool per loop, and APR threads):
 *
 *   loop thread                 pool threads (N, APR)
 *   -----------                 ---------------------
 *   vg_queue_work() --queue-->  pop, state RUNNING, work_cb()
 *   vg_work_cancel() -+         state DONE, push on `done`
 *                     +-------> push on `done` (state CANCELED)
 *   async_cb() <--vg_async_send-- (either of the above)
 *     pops `done`, runs after_cb(req, status)
 *
 * Invariants:
 *   - `queue` (not yet started) and `done` (finished or cancelled, after_cb
 *     not yet run) are FIFO lists through vg_work_t.next, both guarded by
 *     `mu`.  A request is on at most one of them; while RUNNING it is on
 *     neither and only its pool thread touches it.
 *   - req->state is written under `mu` only, except the final transition
 *     back to IDLE, made on the loop thread after the request has left
 *     `done`.
 *   - Every queued request holds one vg__req_register() on the loop from
 *     vg_queue_work() until just before its after_cb: pending work keeps
 *     vg_run() going.  The internal async handle is unreferenced, so an
 *     idle pool never does.
 *   - after_cb always runs on the loop thread, never from inside
 *     vg_queue_work() or vg_work_cancel().
 *   - The pool is created lazily by the first vg_queue_work(); its size is
 *     fixed from then on (vg_loop_set_pool_size() then says VG_EBUSY).
 *   - vg__wq_post() puts a request straight on `done`, for a completion
 *     decided on the loop thread that must still come from the loop
 *     (core/dns.c's cancel); it is counted and delivered like any other.
 *
 * Teardown contract with vg_loop_close() (core/loop.c):
 *   The internal async handle is an ordinary handle on the loop's list,
 *   flagged VG__INTERNAL so that vg_walk() does not show it and
 *   vg_loop_close() does not count it as a reason to refuse.
 *   vg_loop_close() calls vg__wq_destroy(loop) only when no user handle is
 *   left and loop->active_reqs == 0, i.e. no work is queued, running or
 *   awaiting its after_cb.  vg__wq_destroy() stops and joins the threads
 *   and vg_close()s the internal async WITHOUT running the loop;
 *   vg_loop_close() then runs the close phase once itself and checks that
 *   no handle is left.  The wq struct (which embeds the async handle)
 *   lives in the loop's pool, so it stays valid through that close phase;
 *   the threads, mutex and condition variable live in a subpool that is
 *   destroyed at once.  A later vg_queue_work() on the same loop (after a
 *   refused vg_loop_close) simply creates a new pool.
 */
#include <stdlib.h>

#include <apr_env.h>

#include "internal.h"

#define VG__WQ_DEFAULT_THREADS 4u
#define VG__WQ_MAX_THREADS 1024u

/* vg_work_t.state */
enum {
  VG__W_IDLE = 0,      /* never queued, or after_cb has run */
  VG__W_QUEUED,        /* on wq->queue */
  VG__W_RUNNING,       /* work_cb executing on a pool thread */
  VG__W_DONE,          /* on wq->done, status APR_SUCCESS */
  VG__W_CANCELED       /* on wq->done, status VG_ECANCELED */
};

struct vg__wq_s {
  vg_loop_t *loop;
  apr_pool_t *pool;            /* threads, mu, cond */
  apr_thread_mutex_t *mu;
  apr_thread_cond_t *cond;     /* pool threads wait here for work */
  apr_thread_t **threads;
  unsigned nthreads;
  int stop;
  vg_work_t *queue_head, *queue_tail;
  vg_work_t *done_head, *done_tail;
  vg_async_t async;            /* completions -> loop thread */
};

static void wq_push(vg_work_t **head, vg_work_t **tail, vg_work_t *req) {
  req->next = NULL;
  if (*tail != NULL)
    (*tail)->next = req;
  else
    *head = req;
  *tail = req;
}

static void *APR_THREAD_FUNC wq_worker(apr_thread_t *thd, void *arg) {
  struct vg__wq_s *wq = arg;
  vg_work_t *req;

  (void)thd;
  apr_thread_mutex_lock(wq->mu);
  for (;;) {
    while (wq->queue_head == NULL && !wq->stop)
      apr_thread_cond_wait(wq->cond, wq->mu);
    if (wq->queue_head == NULL)
      break;                    /* stop requested and nothing queued */
    req = wq->queue_head;
    wq->queue_head = req->next;
    if (wq->queue_head == NULL)
      wq->queue_tail = NULL;
    req->next = NULL;
    req->state = VG__W_RUNNING;
    apr_thread_mutex_unlock(wq->mu);

    req->work_cb(req);

    apr_thread_mutex_lock(wq->mu);
    req->state = VG__W_DONE;
    req->status = APR_SUCCESS;
    wq_push(&wq->done_head, &wq->done_tail, req);
    /* Under the lock so that vg__wq_destroy() cannot close the async
     * between our push and the send (it only runs with no work pending,
     * so in practice this is belt and braces). */
    vg_async_send(&wq->async);
  }
  apr_thread_mutex_unlock(wq->mu);
  return NULL;
}

/* Loop thread: deliver a snapshot of the finished requests.  Requests
 * finishing meanwhile send the async again and come next iteration. */
static void wq_async_cb(vg_async_t *async) {
  struct vg__wq_s *wq = async->data;
  vg_loop_t *loop = wq->loop;
  vg_work_t *req, *next;

  apr_thread_mutex_lock(wq->mu);
  req = wq->done_head;
  wq->done_head = wq->done_tail = NULL;
  apr_thread_mutex_unlock(wq->mu);

  for (; req != NULL; req = next) {
    next = req->next;           /* after_cb may reuse or free req */
    req->next = NULL;
    req->state = VG__W_IDLE;
    vg__req_unregister(loop);
    if (req->after_cb != NULL)
      req->after_cb(req, req->status);
  }
}

static unsigned wq_threads_wanted(vg_loop_t *loop, apr_pool_t *pool) {
  char *env, *end;
  unsigned long n;

  if (loop->pool_size != 0)
    return loop->pool_size;
  if (apr_env_get(&env, "VIGIL_THREADPOOL_SIZE", pool) == APR_SUCCESS) {
    n = strtoul(env, &end, 10);
    if (end != env && *end == '\0' && n > 0)
      return n > VG__WQ_MAX_THREADS ? VG__WQ_MAX_THREADS : (unsigned)n;
  }
  return VG__WQ_DEFAULT_THREADS;
}

/* Stop and join the first `n` threads of wq (under construction or not). */
static void wq_join(struct vg__wq_s *wq, unsigned n) {
  apr_status_t ignored;
  unsigned i;

  apr_thread_mutex_lock(wq->mu);
  wq->stop = 1;
  apr_thread_cond_broadcast(wq->cond);
  apr_thread_mutex_unlock(wq->mu);
  for (i = 0; i < n; i++)
    apr_thread_join(&ignored, wq->threads[i]);
}

static apr_status_t wq_create(vg_loop_t *loop) {
  struct vg__wq_s *wq;
  apr_pool_t *pool;
  apr_status_t rv;
  unsigned i, n;

  rv = apr_pool_create(&pool, loop->pool);
  if (rv != APR_SUCCESS)
    return rv;
  /* The struct outlives `pool`: its async handle must stay valid until
   * the loop's close phase (see the teardown contract at the top). */
  wq = apr_pcalloc(loop->pool, sizeof(*wq));
  wq->loop = loop;
  wq->pool = pool;
  n = wq_threads_wanted(loop, pool);
  wq->threads = apr_pcalloc(pool, n * sizeof(*wq->threads));

  rv = apr_thread_mutex_create(&wq->mu, APR_THREAD_MUTEX_DEFAULT, pool);
  if (rv != APR_SUCCESS)
    goto fail_pool;
  rv = apr_thread_cond_create(&wq->cond, pool);
  if (rv != APR_SUCCESS)
    goto fail_pool;
  rv = vg_async_init(loop, &wq->async, wq_async_cb);
  if (rv != APR_SUCCESS)
    goto fail_pool;
  wq->async.data = wq;
  wq->async.hflags |= VG__INTERNAL;   /* hidden from vg_walk/loop close */
  vg_unref((vg_handle_t *)&wq->async);

  for (i = 0; i < n; i++) {
    rv = apr_thread_create(&wq->threads[i], NULL, wq_worker, wq, pool);
    if (rv != APR_SUCCESS)
      goto fail_threads;
  }
  wq->nthreads = n;
  loop->wq = wq;
  return APR_SUCCESS;

fail_threads:
  wq_join(wq, i);
  vg_close((vg_handle_t *)&wq->async, NULL);
fail_pool:
  apr_pool_destroy(pool);
  return rv;
}

apr_status_t vg_loop_set_pool_size(vg_loop_t *loop, unsigned threads) {
  if (loop == NULL || threads == 0 || threads > VG__WQ_MAX_THREADS)
    return APR_EINVAL;
  if (loop->wq != NULL)
    return VG_EBUSY;
  loop->pool_size = threads;
  return APR_SUCCESS;
}

apr_status_t vg_queue_work(vg_loop_t *loop, vg_work_t *req,
                           vg_work_cb work_cb, vg_after_work_cb after_cb) {
  struct vg__wq_s *wq;
  apr_status_t rv;

  if (loop == NULL || req == NULL || work_cb == NULL)
    return APR_EINVAL;
  if (loop->wq == NULL) {
    rv = wq_create(loop);
    if (rv != APR_SUCCESS)
      return rv;
  }
  wq = loop->wq;
  req->loop = loop;
  req->work_cb = work_cb;
  req->after_cb = after_cb;
  req->status = APR_SUCCESS;
  vg__req_register(loop);

  apr_thread_mutex_lock(wq->mu);
  req->state = VG__W_QUEUED;
  wq_push(&wq->queue_head, &wq->queue_tail, req);
  apr_thread_cond_signal(wq->cond);
  apr_thread_mutex_unlock(wq->mu);
  return APR_SUCCESS;
}

apr_status_t vg_work_cancel(vg_work_t *req) {
  struct vg__wq_s *wq;
  vg_work_t **link, *prev;
  apr_status_t rv = VG_EBUSY;

  if (req == NULL || req->loop == NULL)
    return APR_EINVAL;
  wq = req->loop->wq;
  if (wq == NULL)
    return VG_EBUSY;

  apr_thread_mutex_lock(wq->mu);
  if (req->state == VG__W_QUEUED) {
    /* Unlink from the singly linked queue: O(position), fine for a
     * rare operation. */
    prev = NULL;
    for (link = &wq->queue_head; *link != NULL; link = &(*link)->next) {
      if (*link == req)
        break;
      prev = *link;
    }
    if (*link == req) {
      *link = req->next;
      if (wq->queue_tail == req)
        wq->queue_tail = prev;
      req->state = VG__W_CANCELED;
      req->status = VG_ECANCELED;
      wq_push(&wq->done_head, &wq->done_tail, req);
      vg_async_send(&wq->async);   /* after_cb on the loop, not here */
      rv = APR_SUCCESS;
    }
  }
  apr_thread_mutex_unlock(wq->mu);
  return rv;
}

void vg__wq_post(vg_loop_t *loop, vg_work_t *req, vg_after_work_cb after_cb,
                 apr_status_t status) {
  struct vg__wq_s *wq = loop->wq;

  req->loop = loop;
  req->work_cb = NULL;
  req->after_cb = after_cb;
  vg__req_register(loop);
  apr_thread_mutex_lock(wq->mu);
  req->state = status == VG_ECANCELED ? VG__W_CANCELED : VG__W_DONE;
  req->status = status;
  wq_push(&wq->done_head, &wq->done_tail, req);
  vg_async_send(&wq->async);
  apr_thread_mutex_unlock(wq->mu);
}

void vg__wq_destroy(vg_loop_t *loop) {
  struct vg__wq_s *wq = loop->wq;

  if (wq == NULL)
    return;
  /* Only called with loop->active_reqs == 0: the queue and `done` are
   * empty and no thread is inside work_cb. */
  wq_join(wq, wq->nthreads);
  if (!vg_is_closing((vg_handle_t *)&wq->async))
    vg_close((vg_handle_t *)&wq->async, NULL);
  apr_pool_destroy(wq->pool);   /* threads, mutex, condition variable */
  wq->pool = NULL;
  wq->mu = NULL;
  wq->cond = NULL;
  loop->wq = NULL;
}
