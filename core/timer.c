/*
 * timer.c -- timers: a hierarchical timing wheel with millisecond slots.
 *
 * Eleven levels of 64 slots.  A slot of level L spans 64^L ms, so level 0
 * holds one deadline per slot and the eleven levels cover every 64-bit
 * deadline.  Each slot is a FIFO (an intrusive circular list through the
 * timer's `link`, the slot's head in the loop), and a 64-bit mask per
 * level says which slots are occupied.  Start and stop are O(1) whatever
 * the deadlines, and allocate nothing.  docs/PERFORMANCE.md ("Timers")
 * has the figures that chose this over heaps.
 *
 * Placement, relative to the wheel's time W (loop->wheel_time, never
 * ahead of the loop's time): a timer due at D >= W goes to the level of
 * the highest 6-bit group in which D and W differ (level 0 if none), in
 * the slot given by D's bits of that group.  So an occupied slot of level
 * L >= 1 always lies after W's own slot of that level, inside W's slot of
 * level L + 1, and an occupied slot of level 0 holds exactly the timers
 * due at its time.  The earliest slot is then found with two
 * count-trailing-zeros: the lowest occupied level, its lowest occupied
 * slot.
 *
 * Advancing (vg__run_timers) moves W from slot to slot, never past an
 * occupied one: a slot of level 0 fires in FIFO order; a slot of level
 * L >= 1 is reached at its start and its timers move down (a cascade),
 * each to the level its deadline now calls for.  W then jumps to the
 * loop's time at once: an idle wheel does no work per millisecond.
 *
 * Timers due at the same time fire in start order.  Slots append at the
 * tail and cascades move timers in list order.  A timer started later
 * for the same deadline cannot be placed ahead of an earlier one: it
 * lands on a lower level only once W has entered the earlier one's slot
 * of that level, and W enters an occupied slot only through its cascade.
 *
 * The poll timeout is exact: for level 0 the slot's time; for a higher
 * level the earliest deadline in the slot, which vg__next_timeout scans
 * for and remembers (next_slot, next_due) until that timer leaves.
 *
 * Timers started during a run-timers pass (even with timeout 0) wait for
 * the next pass, so a callback that re-arms itself cannot starve the
 * loop.
 */
#include "internal.h"

#include <stddef.h>

#define NONE UINT32_MAX

#define TIMER_OF(l) \
  ((vg_timer_t *)(void *)((char *)(l) - offsetof(vg_timer_t, link)))

static void wheel_insert(vg_loop_t *loop, vg_timer_t *t) {
  uint64_t x = t->due ^ loop->wheel_time;
  unsigned level = x ? (63u - vg__clz64(x)) / VG__WHEEL_BITS : 0;
  unsigned idx =
      (unsigned)(t->due >> (VG__WHEEL_BITS * level)) & (VG__WHEEL_SLOTS - 1);
  vg_tlink_t *head = &loop->wheel[level][idx];
  uint64_t bit = (uint64_t)1 << idx;

  if (loop->wheel_bits[level] & bit) {
    vg_tlink_t *tail = head->prev;
    tail->next = &t->link;
    t->link.prev = tail;
  } else {
    /* An empty slot's head is stale: it is rewritten here. */
    loop->wheel_bits[level] |= bit;
    loop->wheel_levels |= 1u << level;
    head->next = &t->link;
    t->link.prev = head;
  }
  t->link.next = head;
  head->prev = &t->link;
  t->slot = level * VG__WHEEL_SLOTS + idx;
  if (t->slot == loop->next_slot && t->due < loop->next_due)
    loop->next_due = t->due;
}

static void wheel_remove(vg_loop_t *loop, vg_timer_t *t) {
  uint32_t s = t->slot;
  vg_tlink_t *prev, *next;
  if (s == NONE)
    return;
  t->slot = NONE;
  prev = t->link.prev;
  next = t->link.next;
  prev->next = next;
  next->prev = prev;
  if (prev == next) {         /* only the head is left: the slot empties */
    unsigned level = s / VG__WHEEL_SLOTS;
    loop->wheel_bits[level] &= ~((uint64_t)1 << (s % VG__WHEEL_SLOTS));
    if (!loop->wheel_bits[level])
      loop->wheel_levels &= ~(1u << level);
  }
  if (s == loop->next_slot && t->due == loop->next_due)
    loop->next_slot = NONE;   /* the remembered earliest deadline left */
}

apr_status_t vg_timer_init(vg_loop_t *loop, vg_timer_t *t) {
  vg__handle_init(loop, (vg_handle_t *)t, VG_TIMER);
  t->cb = NULL;
  t->due = 0;
  t->repeat = 0;
  t->link.next = t->link.prev = &t->link;
  t->slot = NONE;
  t->pass = 0;
  return APR_SUCCESS;
}

apr_status_t vg_timer_start(vg_timer_t *t, vg_timer_cb cb, uint64_t timeout,
                            uint64_t repeat) {
  vg_loop_t *loop = t->loop;
  if (!cb)
    return APR_EINVAL;
  if (vg__is_closing(t))
    return VG_ECLOSING;
  wheel_remove(loop, t);
  t->cb = cb;
  t->due = loop->time + timeout;
  if (t->due < loop->time)
    t->due = UINT64_MAX;      /* clamp on overflow */
  t->repeat = repeat;
  t->pass = loop->timer_pass;
  wheel_insert(loop, t);
  vg__handle_start((vg_handle_t *)t);
  return APR_SUCCESS;
}

apr_status_t vg_timer_stop(vg_timer_t *t) {
  wheel_remove(t->loop, t);
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
  if (t->slot == NONE || t->due <= t->loop->time)
    return 0;
  return t->due - t->loop->time;
}

int64_t vg__next_timeout(vg_loop_t *loop) {
  unsigned level, idx;
  uint64_t due;
  if (!loop->wheel_levels)
    return -1;
  level = vg__ctz64(loop->wheel_levels);
  idx = vg__ctz64(loop->wheel_bits[level]);
  if (level == 0) {
    due = vg__wheel_slot_time(loop->wheel_time, 0, idx);
  } else {
    /* A slot that spans several deadlines: its earliest, remembered
     * until that timer leaves the slot (wheel_remove). */
    uint32_t s = level * VG__WHEEL_SLOTS + idx;
    if (loop->next_slot != s) {
      const vg_tlink_t *head = &loop->wheel[level][idx], *l;
      due = UINT64_MAX;
      for (l = head->next; l != head; l = l->next)
        if (TIMER_OF(l)->due < due)
          due = TIMER_OF(l)->due;
      loop->next_slot = s;
      loop->next_due = due;
    }
    due = loop->next_due;
  }
  if (due <= loop->time)
    return 0;
  if (due - loop->time > (uint64_t)INT64_MAX)
    return INT64_MAX;
  return (int64_t)(due - loop->time);
}

void vg__run_timers(vg_loop_t *loop) {
  uint32_t pass = ++loop->timer_pass;
  /* loop->time is read afresh: a long callback may refresh it. */
  while (loop->wheel_levels) {
    unsigned level = vg__ctz64(loop->wheel_levels);
    unsigned idx = vg__ctz64(loop->wheel_bits[level]);
    uint64_t at = vg__wheel_slot_time(loop->wheel_time, level, idx);
    uint64_t bit = (uint64_t)1 << idx;
    vg_tlink_t *head = &loop->wheel[level][idx];
    if (at > loop->time)
      break;
    loop->wheel_time = at;
    if (level > 0) {
      /* W enters the slot: its timers move down, in order. */
      do {
        vg_timer_t *t = TIMER_OF(head->next);
        wheel_remove(loop, t);
        wheel_insert(loop, t);
      } while (loop->wheel_bits[level] & bit);
      continue;
    }
    do {
      vg_timer_t *t = TIMER_OF(head->next);
      /* Started during this pass: so is the rest of the slot (FIFO), and
       * it waits for the next pass with whatever else is due. */
      if (t->pass == pass)
        return;
      wheel_remove(loop, t);
      if (t->repeat) {
        /* Next deadline from the scheduled one, not from now: no drift.
         * If we fell behind by a whole period, skip the missed firings.
         * A deadline past 2^64 ms is clamped, as in vg_timer_start. */
        uint64_t next = t->due + t->repeat;
        if (next <= loop->time)
          next = loop->time + t->repeat;
        t->due = next < t->due ? UINT64_MAX : next;
        t->pass = pass;
        wheel_insert(loop, t);
      } else {
        vg__handle_stop((vg_handle_t *)t);
      }
      t->cb(t);
    } while (loop->wheel_bits[0] & bit);
  }
  loop->wheel_time = loop->time;
}
