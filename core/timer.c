/*
 * timer.c -- timers on a 4-ary min-heap of cached deadlines.
 *
 * The heap is an array of {due, seq, timer} entries: comparisons read only
 * the array (no pointer chasing), a 4-ary tree is half as deep as a binary
 * one, and the array grows by doubling, so starting a timer allocates
 * nothing once the loop has seen its peak number of timers.  Each timer
 * remembers its index for O(log n) removal.  Ties on `due` are broken by
 * `seq`, the start order, so equal deadlines fire first-started first.
 */
#include "internal.h"

#include <stdlib.h>

#define NONE UINT32_MAX

static inline int before(const vg__heap_entry_t *a,
                         const vg__heap_entry_t *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static inline void place(vg__heap_entry_t *heap, uint32_t i,
                         const vg__heap_entry_t *e) {
  heap[i] = *e;
  e->timer->heap_index = i;
}

static void sift_up(vg__heap_entry_t *heap, uint32_t i) {
  vg__heap_entry_t e = heap[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 4;
    if (!before(&e, &heap[parent]))
      break;
    place(heap, i, &heap[parent]);
    i = parent;
  }
  place(heap, i, &e);
}

static void sift_down(vg__heap_entry_t *heap, uint32_t n, uint32_t i) {
  vg__heap_entry_t e = heap[i];
  for (;;) {
    uint32_t c = 4 * i + 1, best, k, end;
    if (c >= n)
      break;
    best = c;
    end = c + 4 < n ? c + 4 : n;
    for (k = c + 1; k < end; k++)
      if (before(&heap[k], &heap[best]))
        best = k;
    if (!before(&heap[best], &e))
      break;
    place(heap, i, &heap[best]);
    i = best;
  }
  place(heap, i, &e);
}

static apr_status_t heap_insert(vg_loop_t *loop, vg_timer_t *t) {
  vg__heap_entry_t *e;
  if (loop->heap_len == loop->heap_cap) {
    uint32_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
    vg__heap_entry_t *h = realloc(loop->heap, (size_t)cap * sizeof *h);
    if (!h)
      return APR_ENOMEM;
    loop->heap = h;
    loop->heap_cap = cap;
  }
  e = &loop->heap[loop->heap_len];
  e->due = t->due;
  e->seq = t->seq;
  e->timer = t;
  t->heap_index = loop->heap_len++;
  sift_up(loop->heap, t->heap_index);
  return APR_SUCCESS;
}

static void heap_remove(vg_loop_t *loop, vg_timer_t *t) {
  uint32_t i = t->heap_index, last;
  if (i == NONE)
    return;
  t->heap_index = NONE;
  last = --loop->heap_len;
  if (i == last)
    return;
  place(loop->heap, i, &loop->heap[last]);
  if (i > 0 && before(&loop->heap[i], &loop->heap[(i - 1) / 4]))
    sift_up(loop->heap, i);
  else
    sift_down(loop->heap, loop->heap_len, i);
}

apr_status_t vg_timer_init(vg_loop_t *loop, vg_timer_t *t) {
  vg__handle_init(loop, (vg_handle_t *)t, VG_TIMER);
  t->cb = NULL;
  t->due = 0;
  t->repeat = 0;
  t->seq = 0;
  t->heap_index = NONE;
  return APR_SUCCESS;
}

apr_status_t vg_timer_start(vg_timer_t *t, vg_timer_cb cb, uint64_t timeout,
                            uint64_t repeat) {
  vg_loop_t *loop = t->loop;
  apr_status_t rv;
  if (!cb)
    return APR_EINVAL;
  if (vg__is_closing(t))
    return VG_ECLOSING;
  heap_remove(loop, t);
  t->cb = cb;
  t->due = loop->time + timeout;
  if (t->due < loop->time)
    t->due = UINT64_MAX;      /* clamp on overflow */
  t->repeat = repeat;
  t->seq = loop->timer_seq++;
  rv = heap_insert(loop, t);
  if (rv != APR_SUCCESS) {
    vg__handle_stop((vg_handle_t *)t);
    return rv;
  }
  vg__handle_start((vg_handle_t *)t);
  return APR_SUCCESS;
}

apr_status_t vg_timer_stop(vg_timer_t *t) {
  heap_remove(t->loop, t);
  vg__handle_stop((vg_handle_t *)t);
  return APR_SUCCESS;
}

void vg__timer_close(vg_timer_t *t) { vg_timer_stop(t); }

apr_status_t vg_timer_again(vg_timer_t *t) {
  if (!t->cb)
    return APR_EINVAL;
  if (t->repeat)
    return vg_timer_start(t, t->cb, t->repeat, t->repeat);
  return APR_SUCCESS;
}

void vg_timer_set_repeat(vg_timer_t *t, uint64_t repeat) {
  t->repeat = repeat;
}

uint64_t vg_timer_get_repeat(const vg_timer_t *t) { return t->repeat; }

uint64_t vg_timer_due_in(const vg_timer_t *t) {
  if (t->heap_index == NONE || t->due <= t->loop->time)
    return 0;
  return t->due - t->loop->time;
}

int64_t vg__next_timeout(const vg_loop_t *loop) {
  uint64_t due;
  if (loop->heap_len == 0)
    return -1;
  due = loop->heap[0].due;
  if (due <= loop->time)
    return 0;
  if (due - loop->time > (uint64_t)INT64_MAX)
    return INT64_MAX;
  return (int64_t)(due - loop->time);
}

void vg__run_timers(vg_loop_t *loop) {
  /* Timers started during this pass (even with timeout 0) wait for the
   * next one: a callback that re-arms itself cannot starve the loop. */
  uint64_t limit = loop->timer_seq;
  while (loop->heap_len > 0) {
    vg__heap_entry_t *root = &loop->heap[0];
    vg_timer_t *t;
    if (root->due > loop->time || root->seq >= limit)
      break;
    t = root->timer;
    heap_remove(loop, t);
    if (t->repeat) {
      /* Next deadline from the scheduled one, not from now: no drift.
       * If we fell behind by a whole period, skip the missed firings. */
      uint64_t next = t->due + t->repeat;
      if (next <= loop->time)
        next = loop->time + t->repeat;
      t->due = next;
      t->seq = loop->timer_seq++;
      if (heap_insert(loop, t) != APR_SUCCESS)
        vg__handle_stop((vg_handle_t *)t);
    } else {
      vg__handle_stop((vg_handle_t *)t);
    }
    t->cb(t);
  }
}
