/*
 * handle.c -- what every handle shares: the loop's handle list, active
 * and referenced accounting, and asynchronous close.
 *
 * Invariants:
 *   - loop->active_handles counts handles that are ACTIVE and REF at once;
 *     every flag change goes through the helpers below to keep it true.
 *   - vg_close() stops the handle at once (type hook), then queues it for
 *     the close phase.  The close phase runs its close_cb only when the
 *     handle's requests have all completed (their callbacks, with
 *     VG_ECANCELED, run first in the PAL's completion phase), so a
 *     close_cb may always free the memory.
 */
#include "internal.h"

#include <string.h>

void vg__handle_init(vg_loop_t *loop, vg_handle_t *h, vg_handle_type type) {
  h->loop = loop;
  h->type = type;
  h->hflags = VG__REF;
  h->close_cb = NULL;
  h->next_closing = NULL;
  h->hprev = NULL;
  h->hnext = loop->handles;
  if (loop->handles)
    loop->handles->hprev = h;
  loop->handles = h;
}

void vg__handle_start(vg_handle_t *h) {
  if (h->hflags & VG__ACTIVE)
    return;
  h->hflags |= VG__ACTIVE;
  if (h->hflags & VG__REF)
    h->loop->active_handles++;
}

void vg__handle_stop(vg_handle_t *h) {
  if (!(h->hflags & VG__ACTIVE))
    return;
  h->hflags &= ~VG__ACTIVE;
  if (h->hflags & VG__REF)
    h->loop->active_handles--;
}

void vg_ref(vg_handle_t *h) {
  if (h->hflags & VG__REF)
    return;
  h->hflags |= VG__REF;
  if (h->hflags & VG__ACTIVE)
    h->loop->active_handles++;
}

void vg_unref(vg_handle_t *h) {
  if (!(h->hflags & VG__REF))
    return;
  h->hflags &= ~VG__REF;
  if (h->hflags & VG__ACTIVE)
    h->loop->active_handles--;
}

int vg_has_ref(const vg_handle_t *h) { return (h->hflags & VG__REF) != 0; }

int vg_is_active(const vg_handle_t *h) {
  return (h->hflags & VG__ACTIVE) != 0;
}

int vg_is_closing(const vg_handle_t *h) { return vg__is_closing(h); }

void vg_close(vg_handle_t *h, vg_close_cb close_cb) {
  vg_loop_t *loop = h->loop;
  if (vg__is_closing(h))
    return;
  h->hflags |= VG__CLOSING;
  h->close_cb = close_cb;
  if (h->hflags & VG__FIBER)
    vg__fiber_handle_closing(h);
  switch (h->type) {
  case VG_TIMER: vg__timer_close((vg_timer_t *)h); break;
  case VG_TCP:
  case VG_PIPE: vg__stream_close((vg_stream_t *)h); break;
  case VG_UDP: vg__udp_close((vg_udp_t *)h); break;
  case VG_PROCESS: vg__process_close((vg_process_t *)h); break;
  case VG_SIGNAL: vg__signal_close((vg_signal_t *)h); break;
  case VG_ASYNC: vg__async_close((vg_async_t *)h); break;
  case VG_CHAN: vg__chan_close((vg_chan_t *)h); break;
  default: break;
  }
  vg__handle_stop(h);
  h->next_closing = loop->closing;
  loop->closing = h;
}

int vg__handle_busy(const vg_handle_t *h) {
  switch (h->type) {
  case VG_TCP:
  case VG_PIPE: return vg__stream_busy((const vg_stream_t *)h);
  case VG_UDP: return vg__udp_busy((const vg_udp_t *)h);
  default: return 0;
  }
}

void vg__run_closing(vg_loop_t *loop) {
  vg_handle_t *h, *next, *again = NULL;
  /* Take the whole list: handles closed by close callbacks wait for the
   * next iteration, as in libuv. */
  h = loop->closing;
  loop->closing = NULL;
  for (; h; h = next) {
    next = h->next_closing;
    if (vg__handle_busy(h)) {
      h->next_closing = again;
      again = h;
      continue;
    }
    /* Unlink from the handle list before the callback frees it. */
    if (h->hprev)
      h->hprev->hnext = h->hnext;
    else
      loop->handles = h->hnext;
    if (h->hnext)
      h->hnext->hprev = h->hprev;
    h->hnext = h->hprev = NULL;
    h->hflags |= VG__CLOSED;
    h->hflags &= ~VG__CLOSING;
    if (h->close_cb)
      h->close_cb(h);
  }
  while (again) {
    next = again->next_closing;
    again->next_closing = loop->closing;
    loop->closing = again;
    again = next;
  }
}

void vg_walk(vg_loop_t *loop, vg_walk_cb cb, void *arg) {
  vg_handle_t *h, *next;
  for (h = loop->handles; h; h = next) {
    next = h->hnext;
    if (!vg__is_closing(h) && !(h->hflags & VG__INTERNAL))
      cb(h, arg);
  }
}

const char *vg_handle_type_name(vg_handle_type type) {
  static const char *const names[] = {"unknown", "timer",  "tcp",
                                      "pipe",    "udp",    "process",
                                      "signal",  "async",  "chan"};
  if ((unsigned)type >= sizeof names / sizeof names[0])
    return "unknown";
  return names[type];
}
