/*
 * timer.c -- timers: a hierarchical timing wheel with millisecond slots.
 *
 * Eleven levels of 64 slots.  A slot of level L spans 64^L ms, so level 0
 * holds one deadline per slot and the eleven levels cover every 64-bit
 * deadline.  Each slot is a list (intrusive, circular, through the
 * timer's `link`; the slot's head is in the loop), and a 64-bit mask per
 * level says which slots are occupied.  Start and stop are O(1) whatever
 * the deadlines, and allocate nothing.  docs/PERFORMANCE.md ("Timers")
 * has the figures that chose this over heaps.
 *
 * Placement, relative to the wheel's time W (loop->wheel_time, never
 * ahead of the loop's time): a timer due at D >= W goes to the level of
 * the highest 6-bit group in which D and W differ (level 0 if none), in
 * the slot given by D's bits of that group.  So an occupied slot of level
 * L >= 1 always lies after W's own slot of that level, inside W's slot of
 * level L + 1, and a slot of level 0 is for one deadline.  The earliest
 * slot is found with two count-trailing-zeros: the lowest occupied level,
 * its lowest occupied slot.
 *
 * A linked timer keeps its slot's time in `at` (the time the wheel
 * reaches the slot: D with the groups below L cleared), not the slot's
 * index: W never passes an occupied slot, so until W reaches it, `at`
 * and W differ first in group L and the slot is found again from `at`
 * (level_of).  Slot times are distinct, and none is UINT64_MAX (the
 * loop's time, in ms from a nanosecond clock, stays below 2^45), so
 * `at` == UINT64_MAX means "in no slot", and one compare, at < due,
 * tells a restart that it may stay where it is.
 *
 * Advancing (vg__run_timers) moves W from slot to slot, never past an
 * occupied one: a slot of level 0 fires; a slot of level L >= 1 is
 * reached at its start and its timers move down (a cascade), each to the
 * level its deadline now calls for.  W then jumps to the loop's time at
 * once: an idle wheel does no work per millisecond.
 *
 * Lazy moves.  Touching a timer's neighbours in its list costs two cache
 * misses at random places when timers are many, more than the rest of a
 * start or a stop.  So a stopped timer stays linked (its handle is no
 * longer active: a "stale" entry), and a timer restarted for a deadline
 * not before its slot's time stays in that slot with its new deadline.
 * Invariant: an active timer is linked in a slot the wheel reaches no
 * later than its deadline.  When the wheel reaches a slot it drops the
 * stale entries and moves the early ones on; closing a timer unlinks it
 * for good (its memory may go after the close callback).  This is the
 * approach of Go's runtime timers (deleted and modified-later states).
 *
 * Order.  Timers due at the same time fire in start order: every start
 * takes the next `order` from the loop, and a slot of level 0 is fired in
 * `order`.  Entries arrive at a level-0 slot by appends, in order almost
 * always (starts are appended in order; cascades keep list order); an
 * append behind a later start, or a lazy restart inside a level-0 slot
 * for that slot's own deadline, marks the slot unsorted (wheel_unsorted)
 * and it is sorted (merge sort, no allocation) before it fires.  (A lazy
 * restart to a later deadline needs no mark: it is moved on when the
 * wheel reaches it, and the others keep their order.)
 *
 * The poll timeout is exact: vg__next_timeout first settles the earliest
 * slot (drops stale entries, moves early ones on), then takes the slot's
 * time (level 0) or the earliest deadline in it (a higher level, scanned
 * and remembered in next_at/next_timer/next_due while that timer stays
 * put; a restart to earlier inside that slot takes over: note_due).  The
 * scan moves on the entries due after the slot's span (restarted later in
 * place), so that the earliest deadline left in it comes before those of
 * every later slot: a lazily restarted timer must not hide them.
 *
 * Timers started during a run-timers pass (even with timeout 0) wait for
 * the next pass, so a callback that re-arms itself cannot starve the
 * loop: they have an order at least the loop's timer_order at the pass's
 * start.
 */
#include "internal.h"

#include <stddef.h>

/* t->at of a timer in no slot (see the top: no slot's time is NONE). */
#define NONE UINT64_MAX

#define TIMER_OF(l) \
  ((vg_timer_t *)(void *)((char *)(l) - offsetof(vg_timer_t, link)))

#define ARMED(t) (((t)->hflags & VG__ACTIVE) != 0)

/* The handle's active flag and the loop's count of active handles (the
 * invariant of handle.c), inline: they are on every start and firing. */
static inline void arm(vg_timer_t *t) {
  if (!(t->hflags & VG__ACTIVE)) {
    t->hflags |= VG__ACTIVE;
    if (t->hflags & VG__REF)
      t->loop->active_handles++;
  }
}

static inline void disarm(vg_timer_t *t) {
  if (t->hflags & VG__ACTIVE) {
    t->hflags &= ~VG__ACTIVE;
    if (t->hflags & VG__REF)
      t->loop->active_handles--;
  }
}

/* The level of the slot a deadline (or a slot's time) `at` belongs to,
 * relative to the wheel's time: the highest 6-bit group in which they
 * differ (0 if none).  For a linked entry this is its slot's level, since
 * the wheel never passes an occupied slot (see the top). */
static inline unsigned level_of(const vg_loop_t *loop, uint64_t at) {
  uint64_t x = at ^ loop->wheel_time;
  return x ? (63u - vg__clz64(x)) / VG__WHEEL_BITS : 0;
}

/* The earliest deadline of the slot at next_at is next_timer's: an entry
 * that comes in earlier (or a lazy restart to earlier) takes over. */
static inline void note_due(vg_loop_t *loop, vg_timer_t *t) {
  if (t->due < loop->next_due && t->at == loop->next_at) {
    loop->next_due = t->due;
    loop->next_timer = t;
  }
}

static inline void wheel_insert(vg_loop_t *loop, vg_timer_t *t) {
  uint64_t due = t->due;
  unsigned level = level_of(loop, due);
  unsigned shift = VG__WHEEL_BITS * level;
  unsigned idx = (unsigned)(due >> shift) & (VG__WHEEL_SLOTS - 1);
  vg_tlink_t *head = &loop->wheel[level][idx];
  vg_tlink_t *tail = head->prev;   /* stale if the slot is empty */
  uint64_t bits = loop->wheel_bits[level], bit = (uint64_t)1 << idx;

  if (!(bits & bit)) {
    /* An empty slot's head is stale: it is rewritten here. */
    loop->wheel_bits[level] = bits | bit;
    loop->wheel_levels |= 1u << level;
    tail = head;
  } else if (level == 0 && TIMER_OF(tail)->order > t->order) {
    loop->wheel_unsorted |= bit;
  }
  tail->next = &t->link;
  t->link.prev = tail;
  t->link.next = head;
  head->prev = &t->link;
  /* The slot's time: the deadline with the groups below the level's
   * cleared (above it, due and the wheel's time agree). */
  t->at = due >> shift << shift;
  note_due(loop, t);
}

/* Take a linked timer (t->at != NONE) out of its slot. */
static void wheel_unlink(vg_loop_t *loop, vg_timer_t *t) {
  vg_tlink_t *prev, *next;
  prev = t->link.prev;
  next = t->link.next;
  prev->next = next;
  next->prev = prev;
  if (prev == next) {         /* only the head is left: the slot empties */
    unsigned level = level_of(loop, t->at);
    uint64_t bit =
        (uint64_t)1 << ((t->at >> (VG__WHEEL_BITS * level)) &
                        (VG__WHEEL_SLOTS - 1));
    loop->wheel_bits[level] &= ~bit;
    if (!loop->wheel_bits[level])
      loop->wheel_levels &= ~(1u << level);
    if (level == 0)
      loop->wheel_unsorted &= ~bit;
  }
  if (t == loop->next_timer)
    loop->next_at = NONE;     /* forget it: it may be freed once closed */
  t->at = NONE;
}

/* Sort a level-0 slot by `order` (stable merge sort of the list, bottom
 * up: no allocation, O(n log n)), then relink it. */
static void sort_slot(vg_loop_t *loop, unsigned idx) {
  vg_tlink_t *head = &loop->wheel[0][idx], *list, *p, *tail;
  size_t width;
  head->prev->next = NULL;
  list = head->next;
  for (width = 1;; width *= 2) {
    vg_tlink_t *out = NULL, **end = &out;
    size_t merges = 0;
    p = list;
    while (p) {
      vg_tlink_t *q = p;
      size_t plen = 0, qlen = width;
      merges++;
      while (q && plen < width) {
        q = q->next;
        plen++;
      }
      while (plen > 0 || (qlen > 0 && q)) {
        vg_tlink_t *e;
        if (plen == 0 || (qlen > 0 && q &&
                          TIMER_OF(q)->order < TIMER_OF(p)->order)) {
          e = q;
          q = q->next;
          qlen--;
        } else {
          e = p;
          p = p->next;
          plen--;
        }
        *end = e;
        end = &e->next;
      }
      p = q;
    }
    *end = NULL;
    list = out;
    if (merges <= 1)
      break;
  }
  tail = head;
  for (p = list; p; p = p->next) {
    p->prev = tail;
    tail->next = p;
    tail = p;
  }
  tail->next = head;
  head->prev = tail;
  loop->wheel_unsorted &= ~((uint64_t)1 << idx);
}

/* The entry at the front of a slot the wheel has reached: drop it if
 * stale, move it on if its deadline is later than the slot's time `at`.
 * Non-zero if it did either (the front changed). */
static int settle_front(vg_loop_t *loop, vg_timer_t *t, uint64_t at) {
  if (!ARMED(t)) {
    wheel_unlink(loop, t);
    return 1;
  }
  if (t->due > at) {
    wheel_unlink(loop, t);
    wheel_insert(loop, t);
    return 1;
  }
  return 0;
}

apr_status_t vg_timer_init(vg_loop_t *loop, vg_timer_t *t) {
  vg__handle_init(loop, (vg_handle_t *)t, VG_TIMER);
  t->cb = NULL;
  t->due = 0;
  t->repeat = 0;
  t->link.next = t->link.prev = &t->link;
  t->order = 0;
  t->at = NONE;
  return APR_SUCCESS;
}

/* The rest of a start (vg_timer_start has set the fields): a deadline
 * at its slot's time, a move to an earlier slot, or a first insert. */
static VG__NOINLINE apr_status_t start_slow(vg_loop_t *loop, vg_timer_t *t) {
  if (t->at != NONE) {
    if (t->at == t->due) {
      /* It stays, due at its slot's time: in a level-0 slot (one
       * deadline) it now fires after the others (a new order), so the
       * slot is sorted first unless it is the last. */
      if (level_of(loop, t->at) == 0) {
        unsigned idx = (unsigned)t->at & (VG__WHEEL_SLOTS - 1);
        if (t->link.next != &loop->wheel[0][idx])
          loop->wheel_unsorted |= (uint64_t)1 << idx;
      }
      note_due(loop, t);
      arm(t);
      return APR_SUCCESS;
    }
    wheel_unlink(loop, t);
  }
  wheel_insert(loop, t);
  arm(t);
  return APR_SUCCESS;
}

apr_status_t vg_timer_start(vg_timer_t *t, vg_timer_cb cb, uint64_t timeout,
                            uint64_t repeat) {
  vg_loop_t *loop = t->loop;
  uint64_t due = loop->time + timeout;
  if (!cb)
    return APR_EINVAL;
  if (vg__is_closing(t))
    return VG_ECLOSING;
  if (due < loop->time)
    due = UINT64_MAX;         /* clamp on overflow */
  t->cb = cb;
  t->repeat = repeat;
  t->order = loop->timer_order++;
  t->due = due;
  if (t->at < due) {
    /* Its slot comes before the new deadline: it stays (see the top).
     * The common re-arm: no list is touched, no call made. */
    note_due(loop, t);
    arm(t);
    return APR_SUCCESS;
  }
  return start_slow(loop, t);
}

apr_status_t vg_timer_stop(vg_timer_t *t) {
  /* It stays linked, stale, until the wheel reaches its slot. */
  disarm(t);
  return APR_SUCCESS;
}

void vg__timer_close(vg_timer_t *t) {
  disarm(t);
  if (t->at != NONE)
    wheel_unlink(t->loop, t);
}

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
  if (!ARMED(t) || t->due <= t->loop->time)
    return 0;
  return t->due - t->loop->time;
}

int64_t vg__next_timeout(vg_loop_t *loop) {
  uint64_t due;
  for (;;) {
    unsigned level, idx;
    uint64_t at, last;
    vg_tlink_t *head, *l;
    vg_timer_t *earliest;
    if (!loop->wheel_levels)
      return -1;
    level = vg__ctz64(loop->wheel_levels);
    idx = vg__ctz64(loop->wheel_bits[level]);
    head = &loop->wheel[level][idx];
    at = vg__wheel_slot_time(loop->wheel_time, level, idx);
    if (level == 0) {
      /* Settled, the front is an active timer due at the slot's time. */
      due = at;
      if (!settle_front(loop, TIMER_OF(head->next), due))
        break;
      continue;
    }
    if (loop->next_at == at && loop->next_timer->at == at &&
        ARMED(loop->next_timer) && loop->next_timer->due == loop->next_due) {
      due = loop->next_due;   /* remembered, and that timer stayed put */
      break;
    }
    /* A slot that spans several deadlines: drop its stale entries, move
     * on those due after its span (restarted later in place: a later
     * slot may hold an earlier deadline than theirs), and find the
     * earliest deadline of the others, which then comes before every
     * deadline in a later slot. */
    loop->next_at = NONE;
    earliest = NULL;
    last = at + (((uint64_t)1 << (VG__WHEEL_BITS * level)) - 1);
    for (l = head->next; l != head;) {
      vg_timer_t *t = TIMER_OF(l);
      l = l->next;
      if (!ARMED(t)) {
        wheel_unlink(loop, t);
      } else if (t->due > last) {
        wheel_unlink(loop, t);
        wheel_insert(loop, t);
      } else if (!earliest || t->due < earliest->due) {
        earliest = t;
      }
    }
    if (!earliest)
      continue;               /* only stale entries: the slot is gone */
    due = earliest->due;
    loop->next_at = at;
    loop->next_due = due;
    loop->next_timer = earliest;
    break;
  }
  if (due <= loop->time)
    return 0;
  if (due - loop->time > (uint64_t)INT64_MAX)
    return INT64_MAX;
  return (int64_t)(due - loop->time);
}

void vg__run_timers(vg_loop_t *loop) {
  /* Timers started from here on have an order of at least `first`. */
  uint64_t first = loop->timer_order;
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
      /* W enters the slot: its timers move down (to lower levels only),
       * in list order; stale entries go.  The slot empties as a whole,
       * so nothing is unlinked one by one. */
      vg_tlink_t *l = head->next;
      loop->wheel_bits[level] &= ~bit;
      if (!loop->wheel_bits[level])
        loop->wheel_levels &= ~(1u << level);
      if (loop->next_at == at)
        loop->next_at = NONE;
      while (l != head) {
        vg_timer_t *t = TIMER_OF(l);
        l = l->next;
        t->at = NONE;
        if (ARMED(t))
          wheel_insert(loop, t);
      }
      continue;
    }
    do {
      vg_timer_t *t;
      if (loop->wheel_unsorted & bit)
        sort_slot(loop, idx);
      t = TIMER_OF(head->next);
      if (settle_front(loop, t, at))
        continue;
      /* Started during this pass: so is the rest of the slot (it is in
       * start order), and it waits for the next pass with whatever else
       * is due. */
      if (t->order >= first)
        return;
      wheel_unlink(loop, t);
      if (t->repeat) {
        /* Next deadline from the scheduled one, not from now: no drift.
         * If we fell behind by a whole period, skip the missed firings.
         * A deadline past 2^64 ms is clamped, as in vg_timer_start. */
        uint64_t next = t->due + t->repeat;
        if (next <= loop->time)
          next = loop->time + t->repeat;
        t->due = next < t->due ? UINT64_MAX : next;
        t->order = loop->timer_order++;
        wheel_insert(loop, t);
      } else {
        disarm(t);
      }
      t->cb(t);
    } while (loop->wheel_bits[0] & bit);
  }
  loop->wheel_time = loop->time;
}
