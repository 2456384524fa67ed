/*
 * timer.c -- timers: a 4-ary min-heap whose entries are FIFOs of timers
 * due at the same time.
 *
 * Loops often have many timers due in the same millisecond (a thousand
 * services started together, each with the same readiness delay).  A
 * small direct-mapped cache remembers the FIFO of recently started
 * deadlines: a timer started for one of them joins that FIFO in O(1)
 * instead of adding a heap entry.  A deadline the cache has forgotten
 * simply gets a second FIFO; FIFOs of equal deadlines are ordered by
 * creation (`order`), so timers due at the same time still fire in start
 * order.  The cache is a few cache lines: a loop whose deadlines are all
 * distinct pays one L1 probe per start, not a miss into a big table.
 *
 * Heap entries are {due, head} (16 bytes); comparisons read only the
 * array except to break a tie between two FIFOs of one deadline, which
 * the cache makes rare.  The 4-ary shape is half as deep as a binary
 * heap.  Nothing is allocated per start: the heap grows by doubling.
 *
 * Timers started during a run-timers pass (even with timeout 0) wait for
 * the next pass, so a callback that re-arms itself cannot starve the
 * loop.
 *
 * heap_index is the heap slot of a FIFO head, MEMBER for the other
 * timers of a FIFO, NONE for a stopped timer.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define MEMBER (UINT32_MAX - 1)

static inline vg_timer_t **recent_slot(vg_loop_t *loop, uint64_t due) {
  return &loop->recent[(due * 0x9E3779B97F4A7C15ull) >> 58 &
                       (VG__RECENT_DUES - 1)];
}

/* ---- the heap ------------------------------------------------------- */

static inline int before(const vg__heap_entry_t *a,
                         const vg__heap_entry_t *b) {
  return a->due < b->due ||
         (a->due == b->due && a->timer->order < b->timer->order);
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

static apr_status_t timer_insert(vg_loop_t *loop, vg_timer_t *t) {
  vg_timer_t **slot = recent_slot(loop, t->due), *head = *slot;
  vg__heap_entry_t *e;
  if (head && head->due == t->due) {
    /* A FIFO for this deadline was started recently: join its end. */
    vg_timer_t *tail = head->tprev;
    tail->tnext = t;
    t->tprev = tail;
    t->tnext = head;
    head->tprev = t;
    t->heap_index = MEMBER;
    return APR_SUCCESS;
  }
  if (loop->heap_len == loop->heap_cap) {
    uint32_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
    vg__heap_entry_t *h = realloc(loop->heap, (size_t)cap * sizeof *h);
    if (!h)
      return APR_ENOMEM;
    loop->heap = h;
    loop->heap_cap = cap;
  }
  *slot = t;
  t->tnext = t->tprev = t;
  t->order = loop->timer_order++;
  e = &loop->heap[loop->heap_len];
  e->due = t->due;
  e->timer = t;
  t->heap_index = loop->heap_len++;
  sift_up(loop->heap, t->heap_index);
  return APR_SUCCESS;
}

static void timer_remove(vg_loop_t *loop, vg_timer_t *t) {
  uint32_t i = t->heap_index, last;
  vg_timer_t **slot;
  if (i == NONE)
    return;
  t->heap_index = NONE;
  if (i == MEMBER || t->tnext != t) {
    vg_timer_t *n = t->tnext;
    t->tprev->tnext = n;
    n->tprev = t->tprev;
    t->tnext = t->tprev = t;
    if (i != MEMBER) {
      /* The head leaves: the next in line takes over its entry and its
       * place in the order. */
      n->heap_index = i;
      n->order = t->order;
      loop->heap[i].timer = n;
      slot = recent_slot(loop, t->due);
      if (*slot == t)
        *slot = n;
    }
    return;
  }
  /* The last timer of its FIFO: the entry goes. */
  slot = recent_slot(loop, t->due);
  if (*slot == t)
    *slot = NULL;
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
  t->tnext = t->tprev = t;
  t->order = 0;
  t->heap_index = NONE;
  t->pass = 0;
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
  timer_remove(loop, t);
  t->cb = cb;
  t->due = loop->time + timeout;
  if (t->due < loop->time)
    t->due = UINT64_MAX;      /* clamp on overflow */
  t->repeat = repeat;
  t->pass = loop->timer_pass;
  rv = timer_insert(loop, t);
  if (rv != APR_SUCCESS) {
    vg__handle_stop((vg_handle_t *)t);
    return rv;
  }
  vg__handle_start((vg_handle_t *)t);
  return APR_SUCCESS;
}

apr_status_t vg_timer_stop(vg_timer_t *t) {
  timer_remove(t->loop, t);
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
  uint32_t pass = ++loop->timer_pass;
  while (loop->heap_len > 0) {
    vg__heap_entry_t *root = &loop->heap[0];
    vg_timer_t *t;
    if (root->due > loop->time)
      break;
    t = root->timer;
    /* Started during this pass: so is the rest of its FIFO, and no other
     * deadline is due (anything started now is due no earlier than now). */
    if (t->pass == pass)
      break;
    timer_remove(loop, t);
    if (t->repeat) {
      /* Next deadline from the scheduled one, not from now: no drift.
       * If we fell behind by a whole period, skip the missed firings. */
      uint64_t next = t->due + t->repeat;
      if (next <= loop->time)
        next = loop->time + t->repeat;
      t->due = next;
      t->pass = pass;
      if (timer_insert(loop, t) != APR_SUCCESS)
        vg__handle_stop((vg_handle_t *)t);
    } else {
      vg__handle_stop((vg_handle_t *)t);
    }
    t->cb(t);
  }
}
