/*
 * async.c -- wake-ups from other threads.
 *
 * vg_async_send() sets the handle's pending flag; only the sender that
 * turns it from 0 to 1 wakes the poll, and the poll itself drops wake-ups
 * while one is in flight, so a burst of sends costs one write and one
 * callback.  The loop clears the PAL's flag before it scans the handles,
 * and a sender sets its handle's flag before it wakes the PAL, so no send
 * is ever lost between the two.
 */
#include "internal.h"

apr_status_t vg_async_init(vg_loop_t *loop, vg_async_t *a, vg_async_cb cb) {
  vg__handle_init(loop, (vg_handle_t *)a, VG_ASYNC);
  a->cb = cb;
  apr_atomic_set32(&a->pending, 0);
  a->anext = loop->asyncs;
  loop->asyncs = a;
  vg__handle_start((vg_handle_t *)a);
  return APR_SUCCESS;
}

apr_status_t vg_async_send(vg_async_t *a) {
  if (apr_atomic_cas32(&a->pending, 1, 0) != 0)
    return APR_SUCCESS;   /* already pending: coalesced */
  return pal_poll_wakeup(a->loop->poll);
}

void vg__async_close(vg_async_t *a) {
  vg_async_t **pp;
  for (pp = &a->loop->asyncs; *pp; pp = &(*pp)->anext)
    if (*pp == a) {
      *pp = a->anext;
      break;
    }
}

void vg__async_dispatch(pal_poll_t *poll, void *data) {
  vg_loop_t *loop = data;
  vg_async_t *a, *next;
  (void)poll;
  for (a = loop->asyncs; a; a = next) {
    next = a->anext;
    if (apr_atomic_xchg32(&a->pending, 0) == 0)
      continue;
    if (!vg__is_closing(a) && a->cb)
      a->cb(a);
  }
}
