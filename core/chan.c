/*
 * chan.c -- channels: multi-producer queues of pointers consumed on the
 * loop thread.
 *
 * A vg_chan_t is a user-visible handle (type VG_CHAN) with an embedded,
 * internal vg_async_t that carries the wake-up.  Producers (any thread)
 * push into a ring under `mu`; the first push into an empty ring sends
 * the async; the loop thread drains the ring in batches and calls cb for
 * each message, in the order they were queued.
 *
 * Invariants:
 *   - ring, head, count, cap, waiters and closed are guarded by `mu`.
 *   - Bounded (bound > 0): the ring has exactly `bound` slots, malloc'ed at
 *     init, so sending never allocates.  A full ring makes vg_chan_send()
 *     wait on `not_full` (waiters counts the waiting threads) and
 *     vg_chan_try_send() return VG_EQUEUEFULL.
 *   - Unbounded (bound == 0): the ring starts small and doubles under the
 *     lock when full (the only allocation on the send path).
 *   - Exactly once: every message accepted by a send is handed either to
 *     cb (delivered) or to drop_cb (the channel was closed first), never
 *     both, never twice, and drop_cb sees them in send order too:
 *     messages taken from the ring for a batch and not yet delivered when
 *     cb closes the channel are dropped first, then the ring's.
 *   - Whenever count > 0 and the channel is open, a delivery is pending:
 *     either the async was sent by the push that made the ring non-empty,
 *     or the consumer re-sent it after leaving messages behind.
 *   - The handle is active and referenced from init until closed, so an
 *     open channel keeps the loop alive (like an async handle in libuv).
 *     The embedded async is unreferenced and is closed together with the
 *     channel.
 *
 * The embedded async is flagged VG__INTERNAL: vg_walk() does not show it
 * and vg_loop_close() does not count it; only this file closes it.
 *
 * Closing (vg__chan_close, on the loop thread, called by vg_close()):
 *   sets `closed`, wakes every blocked sender (they return VG_ECLOSING)
 *   and waits -- briefly, they only need to re-take the lock -- until they
 *   have all left the wait, so nobody touches the ring afterwards; then
 *   hands the leftovers to drop_cb outside the lock, frees the ring and
 *   closes the embedded async.  The channel and its async are now both on
 *   the loop's closing list, and the user's close_cb must run only after
 *   BOTH have been through the close phase (it may free the memory that
 *   holds them).  So vg__chan_close() takes the user's close_cb (vg_close()
 *   stores it before calling us) and installs chan_half_closed() as the
 *   close_cb of both handles; the second of the two to run releases the
 *   pool and calls the user's close_cb.  This does not depend on the order
 *   of the closing list.  The mutex and condition variable live in `pool`
 *   (a subpool of the loop's) until then, so a producer racing with the
 *   close still finds a valid lock and gets VG_ECLOSING.  Sending after
 *   the channel's close_cb has run is a use-after-free, as in libuv.
 *
 * Deadlock guard: a blocking send on a full bounded channel from the
 * thread that created it (the loop thread, which is the only consumer)
 * would wait forever, so it returns VG_EQUEUEFULL instead.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_portable.h>

#include "internal.h"

#define VG__CHAN_BATCH 64        /* messages taken per lock round */
#define VG__CHAN_ROUNDS 16       /* rounds per wake-up before yielding */
#define VG__CHAN_MIN_CAP 16      /* first ring size of unbounded channels */

static const char vg__chan_owner_key[] = "vg_chan_owner";

static vg_chan_t *chan_of_async(vg_async_t *async) {
  return (vg_chan_t *)((char *)async - offsetof(vg_chan_t, async));
}

/* The batch being delivered.  While chan_async_cb runs, the embedded
 * async's `data` points to it, so that vg__chan_close() -- called from cb
 * -- can drop the rest of the batch before the ring, keeping drop order
 * equal to send order.  (Once closing, `data` holds the close state.) */
typedef struct {
  void *msgs[VG__CHAN_BATCH];
  size_t next, n;               /* msgs[next..n) not yet handed out */
} chan_batch_t;

/* Loop thread: take up to VG__CHAN_BATCH messages per round and deliver
 * them outside the lock.  After VG__CHAN_ROUNDS rounds, re-send the async
 * and return so that a flood of messages cannot starve the loop. */
static void chan_async_cb(vg_async_t *async) {
  vg_chan_t *chan = chan_of_async(async);
  chan_batch_t b;
  unsigned round;
  size_t i;
  int more = 0;

  for (round = 0; round < VG__CHAN_ROUNDS; round++) {
    apr_thread_mutex_lock(chan->mu);
    if (chan->closed) {
      apr_thread_mutex_unlock(chan->mu);
      return;
    }
    b.n = chan->count < VG__CHAN_BATCH ? chan->count : VG__CHAN_BATCH;
    for (i = 0; i < b.n; i++) {
      b.msgs[i] = chan->ring[chan->head];
      chan->head = (chan->head + 1) % chan->cap;
    }
    chan->count -= b.n;
    if (chan->count == 0)
      chan->head = 0;
    if (b.n > 0 && chan->waiters > 0)
      apr_thread_cond_broadcast(chan->not_full);
    more = chan->count > 0;
    apr_thread_mutex_unlock(chan->mu);

    async->data = &b;
    for (b.next = 0; b.next < b.n;) {
      chan->cb(chan, b.msgs[b.next++]);
      if (vg__is_closing((vg_handle_t *)chan))
        return;   /* cb closed it; vg__chan_close() dropped the rest */
    }
    async->data = NULL;
    if (!more)
      return;
  }
  /* Still messages left: come back next iteration. */
  apr_thread_mutex_lock(chan->mu);
  if (!chan->closed && chan->count > 0)
    vg_async_send(&chan->async);
  apr_thread_mutex_unlock(chan->mu);
}

/* Close state, allocated in the channel's pool when it closes and kept
 * in the embedded async's `data`. */
typedef struct {
  vg_close_cb user_cb;          /* the close_cb given to vg_close(chan) */
  unsigned halves;              /* handles through the close phase, of 2 */
} chan_closing_t;

/* close_cb of the channel and of its async: the second call finishes. */
static void chan_half_closed(vg_handle_t *handle) {
  vg_chan_t *chan = handle->type == VG_CHAN
                        ? (vg_chan_t *)handle
                        : chan_of_async((vg_async_t *)handle);
  chan_closing_t *cs = chan->async.data;
  vg_close_cb user_cb;

  if (++cs->halves < 2)
    return;
  user_cb = cs->user_cb;
  chan->async.data = NULL;
  /* Nobody waits any more (vg__chan_close made sure), and sending after
   * close_cb is the caller's bug: release mutex, condition variable and
   * the close state. */
  apr_pool_destroy(chan->pool);
  chan->pool = NULL;
  chan->mu = NULL;
  chan->not_full = NULL;
  chan->close_cb = user_cb;
  if (user_cb != NULL)
    user_cb((vg_handle_t *)chan);
}

apr_status_t vg_chan_init(vg_loop_t *loop, vg_chan_t *chan, size_t bound,
                          vg_chan_cb cb) {
  apr_os_thread_t *owner;
  apr_status_t rv;
  void *data;

  if (loop == NULL || chan == NULL || cb == NULL)
    return APR_EINVAL;
  if (bound > ((size_t)-1) / sizeof(void *))
    return APR_EINVAL;
  data = chan->data;            /* the caller's, possibly set already */
  memset(chan, 0, sizeof(*chan));
  chan->data = data;
  chan->cb = cb;
  chan->bound = bound;

  rv = apr_pool_create(&chan->pool, vg_loop_pool(loop));
  if (rv != APR_SUCCESS)
    return rv;
  rv = apr_thread_mutex_create(&chan->mu, APR_THREAD_MUTEX_DEFAULT,
                               chan->pool);
  if (rv != APR_SUCCESS)
    goto fail_pool;
  rv = apr_thread_cond_create(&chan->not_full, chan->pool);
  if (rv != APR_SUCCESS)
    goto fail_pool;
  owner = apr_palloc(chan->pool, sizeof(*owner));
  *owner = apr_os_thread_current();
  apr_pool_userdata_setn(owner, vg__chan_owner_key, NULL, chan->pool);

  chan->cap = bound > 0 ? bound : VG__CHAN_MIN_CAP;
  chan->ring = malloc(chan->cap * sizeof(*chan->ring));
  if (chan->ring == NULL) {
    rv = APR_ENOMEM;
    goto fail_pool;
  }
  rv = vg_async_init(loop, &chan->async, chan_async_cb);
  if (rv != APR_SUCCESS)
    goto fail_ring;
  chan->async.hflags |= VG__INTERNAL;
  chan->async.data = NULL;
  vg_unref((vg_handle_t *)&chan->async);

  vg__handle_init(loop, (vg_handle_t *)chan, VG_CHAN);
  vg__handle_start((vg_handle_t *)chan);
  return APR_SUCCESS;

fail_ring:
  free(chan->ring);
  chan->ring = NULL;
fail_pool:
  apr_pool_destroy(chan->pool);
  chan->pool = NULL;
  return rv;
}

void vg_chan_set_drop_cb(vg_chan_t *chan, vg_chan_cb drop_cb) {
  chan->drop_cb = drop_cb;
}

/* Grow an unbounded ring (called with mu held, count == cap).  The
 * messages are unrolled to the front of the new ring, oldest first. */
static apr_status_t chan_grow(vg_chan_t *chan) {
  void **ring;
  size_t cap, first;

  if (chan->cap > ((size_t)-1) / 2 / sizeof(void *))
    return APR_ENOMEM;
  cap = chan->cap * 2;
  ring = malloc(cap * sizeof(*ring));
  if (ring == NULL)
    return APR_ENOMEM;
  first = chan->cap - chan->head;      /* slots from head to the end */
  if (first > chan->count)
    first = chan->count;
  memcpy(ring, chan->ring + chan->head, first * sizeof(*ring));
  memcpy(ring + first, chan->ring, (chan->count - first) * sizeof(*ring));
  free(chan->ring);
  chan->ring = ring;
  chan->cap = cap;
  chan->head = 0;
  return APR_SUCCESS;
}

/* Non-zero if the calling thread created the channel (the loop thread). */
static int chan_on_owner_thread(vg_chan_t *chan) {
  void *owner = NULL;

  apr_pool_userdata_get(&owner, vg__chan_owner_key, chan->pool);
  return owner != NULL &&
         apr_os_thread_equal(*(apr_os_thread_t *)owner,
                             apr_os_thread_current());
}

static apr_status_t chan_send(vg_chan_t *chan, void *msg, int block) {
  apr_status_t rv = APR_SUCCESS;

  if (chan == NULL || chan->mu == NULL)
    return VG_ECLOSING;
  apr_thread_mutex_lock(chan->mu);
  if (chan->bound > 0) {
    while (!chan->closed && chan->count == chan->bound) {
      if (!block || chan_on_owner_thread(chan)) {
        rv = VG_EQUEUEFULL;
        goto unlock;
      }
      chan->waiters++;
      apr_thread_cond_wait(chan->not_full, chan->mu);
      chan->waiters--;
      if (chan->closed && chan->waiters == 0)
        apr_thread_cond_broadcast(chan->not_full);   /* wake the closer */
    }
  } else if (!chan->closed && chan->count == chan->cap) {
    rv = chan_grow(chan);
    if (rv != APR_SUCCESS)
      goto unlock;
  }
  if (chan->closed) {
    rv = VG_ECLOSING;
    goto unlock;
  }
  chan->ring[(chan->head + chan->count) % chan->cap] = msg;
  /* Only the push into an empty ring needs to wake the loop: a non-empty
   * ring has a delivery pending already (see the invariants). */
  if (chan->count++ == 0)
    vg_async_send(&chan->async);
unlock:
  apr_thread_mutex_unlock(chan->mu);
  return rv;
}

apr_status_t vg_chan_send(vg_chan_t *chan, void *msg) {
  return chan_send(chan, msg, 1);
}

apr_status_t vg_chan_try_send(vg_chan_t *chan, void *msg) {
  return chan_send(chan, msg, 0);
}

size_t vg_chan_size(vg_chan_t *chan) {
  size_t n;

  if (chan->mu == NULL)
    return 0;
  apr_thread_mutex_lock(chan->mu);
  n = chan->count;
  apr_thread_mutex_unlock(chan->mu);
  return n;
}

void vg__chan_close(vg_chan_t *chan) {
  chan_closing_t *cs;
  chan_batch_t *batch;
  void **ring;
  size_t head, count, cap, i;

  vg__handle_stop((vg_handle_t *)chan);

  apr_thread_mutex_lock(chan->mu);
  chan->closed = 1;
  ring = chan->ring;
  head = chan->head;
  count = chan->count;
  cap = chan->cap;
  chan->ring = NULL;
  chan->head = chan->count = chan->cap = 0;
  /* Wake blocked senders and wait until each has seen `closed` and left
   * the condition wait; the last one out wakes us. */
  apr_thread_cond_broadcast(chan->not_full);
  while (chan->waiters > 0)
    apr_thread_cond_wait(chan->not_full, chan->mu);
  apr_thread_mutex_unlock(chan->mu);

  /* Take over the close callback (see the top of the file) before any
   * drop_cb runs. */
  batch = chan->async.data;
  cs = apr_palloc(chan->pool, sizeof(*cs));
  cs->user_cb = chan->close_cb;
  cs->halves = 0;
  chan->async.data = cs;
  chan->close_cb = chan_half_closed;
  vg_close((vg_handle_t *)&chan->async, chan_half_closed);

  /* Closed from cb: first what was taken for the current batch. */
  if (batch != NULL)
    for (; batch->next < batch->n; batch->next++)
      if (chan->drop_cb != NULL)
        chan->drop_cb(chan, batch->msgs[batch->next]);
  for (i = 0; i < count; i++)
    if (chan->drop_cb != NULL)
      chan->drop_cb(chan, ring[(head + i) % cap]);
  free(ring);
}
