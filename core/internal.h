/*
 * internal.h -- private to core/: the loop structure and the helpers the
 * handle modules share.  Nothing here is public API.
 */
#ifndef VG_INTERNAL_H
#define VG_INTERNAL_H

#include "vigil.h"

#include <apr_atomic.h>

/* Handle flags (vg_handle_t.hflags). */
enum {
  VG__ACTIVE = 1u << 0,    /* started: counts toward loop liveness      */
  VG__REF = 1u << 1,       /* referenced (default)                       */
  VG__CLOSING = 1u << 2,   /* vg_close() called                          */
  VG__CLOSED = 1u << 3,    /* close_cb has run                           */
  VG__INTERNAL = 1u << 4,  /* owned by the library (a channel's async, the
                              work queue's): hidden from vg_walk, and not
                              counted by vg_loop_close                    */
  VG__FIBER = 1u << 5      /* a fiber waits on it or keeps state for it
                              (core/fiber.c): vg_close() tells fiber.c    */
};

/* Stream flags (vg_stream_t.sflags). */
enum {
  VG__S_READING = 1u << 0,
  VG__S_LISTENING = 1u << 1,
  VG__S_CONNECTING = 1u << 2,
  VG__S_SHUTTING = 1u << 3,
  VG__S_OPEN = 1u << 4      /* pal_io_t holds an OS handle */
};

/* The timer wheel (core/timer.c): VG__WHEEL_LEVELS levels of
 * VG__WHEEL_SLOTS slots; a slot of level L spans 2^(VG__WHEEL_BITS * L) ms,
 * and the levels together cover every 64-bit deadline. */
#define VG__WHEEL_BITS 6
#define VG__WHEEL_SLOTS (1u << VG__WHEEL_BITS)
#define VG__WHEEL_LEVELS 11

#if defined(__GNUC__) || defined(__clang__)
#define VG__NOINLINE __attribute__((noinline))
#define vg__ctz64(x) ((unsigned)__builtin_ctzll(x))
#define vg__clz64(x) ((unsigned)__builtin_clzll(x))
#else
#define VG__NOINLINE
static inline unsigned vg__ctz64(uint64_t x) {     /* x != 0 */
  unsigned n = 0;
  while (!(x & 1)) { x >>= 1; n++; }
  return n;
}
static inline unsigned vg__clz64(uint64_t x) {     /* x != 0 */
  unsigned n = 0;
  while (!(x >> 63)) { x <<= 1; n++; }
  return n;
}
#endif

struct vg__wq_s;   /* thread-pool work queue (core/work.c) */

struct vg_loop_s {
  apr_pool_t *pool;
  pal_poll_t *poll;
  void *data;
  uint64_t time;                /* cached loop time, ms */
  uint64_t iterations;
  int stop_flag;
  apr_status_t error;           /* a failed OS wait stopped vg_run */
  unsigned active_handles;      /* active and referenced */
  unsigned active_reqs;         /* pending requests (keep the loop alive) */
  vg_handle_t *handles;         /* every handle not yet closed */
  vg_handle_t *closing;         /* waiting for the close phase */

  /* timers (core/timer.c): the wheel's slots (circular lists; a slot's
   * head is valid only while its bit in wheel_bits is set), the occupied
   * slots of each level, the occupied levels, and the level-0 slots to
   * sort before they fire; wheel_time, the wheel's time (ms, never ahead
   * of `time`); the order of the next start; the earliest deadline of the
   * slot whose time is next_at (UINT64_MAX: not known) and its timer */
  vg_tlink_t wheel[VG__WHEEL_LEVELS][VG__WHEEL_SLOTS];
  uint64_t wheel_bits[VG__WHEEL_LEVELS];
  uint64_t wheel_unsorted;
  uint32_t wheel_levels;
  uint64_t wheel_time;
  uint64_t timer_order;
  uint64_t next_due;
  uint64_t next_at;
  vg_timer_t *next_timer;

  /* signals: watchers per portable signal number */
  vg_signal_t *signals[PAL_NSIG];

  /* async handles; async_pending is set by senders (any thread) */
  vg_async_t *asyncs;
  volatile apr_uint32_t async_pending;

  /* thread pool (core/work.c), created on first vg_queue_work() */
  struct vg__wq_s *wq;
  unsigned pool_size;

  /* fibers (core/fiber.c), created by the first vg_fiber_create() */
  struct vg__fibers_s *fibers;
};

/* handle.c */
void vg__handle_init(vg_loop_t *loop, vg_handle_t *h, vg_handle_type type);
void vg__handle_start(vg_handle_t *h);
void vg__handle_stop(vg_handle_t *h);
/* Non-zero while a closing handle still waits for requests or for the
 * OS to give back its memory. */
int vg__handle_busy(const vg_handle_t *h);
/* Run close callbacks of handles whose requests have drained. */
void vg__run_closing(vg_loop_t *loop);

#define vg__is_active(h) (((h)->hflags & VG__ACTIVE) != 0)
#define vg__is_closing(h) (((h)->hflags & (VG__CLOSING | VG__CLOSED)) != 0)

static inline void vg__req_register(vg_loop_t *loop) { loop->active_reqs++; }
static inline void vg__req_unregister(vg_loop_t *loop) {
  loop->active_reqs--;
}

/* A write's or send's buffer array copied into its request: into small
 * (VG_WRITE_BUFS_SMALL entries) or a malloc'd array, which *out points
 * at (stream.c).  One buffer, the common case, is a plain assignment. */
apr_status_t vg__bufs_copy_many(vg_buf_t **out, vg_buf_t *small,
                                const vg_buf_t *bufs, unsigned nbufs);
static inline apr_status_t vg__bufs_copy(vg_buf_t **out, vg_buf_t *small,
                                         const vg_buf_t *bufs,
                                         unsigned nbufs) {
  if (nbufs != 1)
    return vg__bufs_copy_many(out, small, bufs, nbufs);
  small[0] = bufs[0];
  *out = small;
  return APR_SUCCESS;
}

/* Per-type close hooks, called by vg_close(); each stops the handle. */
void vg__timer_close(vg_timer_t *t);
void vg__stream_close(vg_stream_t *s);
/* vg_pipe_open(); `prepared`: fd is the parent's end of a pal_pipe()
 * (vg_spawn), already non-blocking and close-on-exec. */
apr_status_t vg__pipe_open(vg_pipe_t *pipe, pal_fd_t fd, int prepared);
void vg__udp_close(vg_udp_t *u);
void vg__process_close(vg_process_t *p);
void vg__signal_close(vg_signal_t *s);
void vg__async_close(vg_async_t *a);
void vg__chan_close(vg_chan_t *c);
/* Non-zero while a closing handle still has requests to complete. */
int vg__stream_busy(const vg_stream_t *s);
int vg__udp_busy(const vg_udp_t *u);

/* timer.c: run due timers; ms until the next one (-1: none). */
void vg__run_timers(vg_loop_t *loop);
int64_t vg__next_timeout(vg_loop_t *loop);

/* The time at which the wheel reaches slot idx of level: for level 0 the
 * deadline of its timers, above it the start of the span they lie in. */
static inline uint64_t vg__wheel_slot_time(uint64_t wheel_time,
                                           unsigned level, unsigned idx) {
  unsigned shift = VG__WHEEL_BITS * level, above = shift + VG__WHEEL_BITS;
  uint64_t high = above >= 64 ? 0 : wheel_time >> above << above;
  return high | (uint64_t)idx << shift;
}

/* Non-zero if vg__run_timers has work: a timer due, or a slot to move
 * down. */
static inline int vg__timers_due(const vg_loop_t *loop) {
  unsigned level;
  if (!loop->wheel_levels)
    return 0;
  level = vg__ctz64(loop->wheel_levels);
  return vg__wheel_slot_time(loop->wheel_time, level,
                             vg__ctz64(loop->wheel_bits[level])) <=
         loop->time;
}

/* signal.c: PAL signal callback (installed by the loop). */
void vg__signal_dispatch(pal_poll_t *poll, int signum, void *data);
/* async.c: PAL wake-up callback (installed by the loop). */
void vg__async_dispatch(pal_poll_t *poll, void *data);

/* fiber.c: a handle flagged VG__FIBER is being closed (called by
 * vg_close() first): wake its blocked fibers with VG_ECLOSING. */
void vg__fiber_handle_closing(vg_handle_t *h);

/* work.c: stop and join the pool (called by vg_loop_close). */
void vg__wq_destroy(vg_loop_t *loop);
/* work.c: run after_cb(req, status) on the loop thread as if req were
 * finished work, without running anything on the pool (which must
 * exist): a completion that is known now but must not be delivered from
 * inside the current call.  req counts as pending until then. */
void vg__wq_post(vg_loop_t *loop, vg_work_t *req, vg_after_work_cb after_cb,
                 apr_status_t status);

#endif
