/*
 * loop.c -- the event loop: create and close, liveness, the phases of one
 * iteration (vg_run), and the loop's accessors (stop, error, time, pool,
 * user data).
 *
 * One iteration:
 *   1. update the cached time (a vDSO read, no system call), if a timer
 *      is armed: otherwise nothing reads it before the wait updates it
 *   2. run due timers (not in RUN_ONCE: see 4)
 *   3. wait in the PAL for I/O, child exits, signals and wake-ups, with
 *      the next timer's deadline as timeout; as soon as the OS wait
 *      returns the PAL calls back to update the cached time again, then
 *      runs the callbacks of what happened and last the completion
 *      callbacks of requests
 *   4. (RUN_ONCE) due timers, so one iteration always progresses; ONCE
 *      runs them here only, so it never blocks after a callback ran
 *   5. close phase: close callbacks of handles whose requests are done
 *
 * An idle loop therefore makes exactly one system call per wake-up: the
 * blocking wait.  Nothing polls on a timer.
 *
 * Why the time is read again after the wait (as libuv's uv__io_poll
 * does): the wait may have slept for a long time, and a callback that
 * starts a timer (a restart backoff, a probe timeout) counts from
 * vg_now().  With the time from before the wait, a 300 ms timer started
 * after 700 ms of sleep would be due at once.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Right after the OS wait, before any callback of it (see the top). */
static void on_waited(pal_poll_t *poll, void *data) {
  (void)poll;
  vg_update_time(data);
}

apr_status_t vg_loop_create(vg_loop_t **out, apr_pool_t *parent) {
  apr_pool_t *pool;
  vg_loop_t *loop;
  apr_status_t rv;

  rv = apr_pool_create(&pool, parent);
  if (rv != APR_SUCCESS)
    return rv;
  loop = apr_pcalloc(pool, sizeof *loop);
  loop->pool = pool;
  rv = pal_poll_create(&loop->poll);
  if (rv != APR_SUCCESS)
    goto fail_poll;
  pal_poll_set_wakeup_cb(loop->poll, vg__async_dispatch, loop);
  pal_poll_set_signal_cb(loop->poll, vg__signal_dispatch, loop);
  pal_poll_set_waited_cb(loop->poll, on_waited, loop);
  loop->time = pal_hrtime() / 1000000u;
  loop->wheel_time = loop->time;
  loop->next_at = UINT64_MAX;
  *out = loop;
  return APR_SUCCESS;

fail_poll:
  apr_pool_destroy(pool);
  return rv;
}

/* Handles that would keep vg_loop_close from succeeding. */
static int user_handles(const vg_loop_t *loop) {
  const vg_handle_t *h;
  for (h = loop->handles; h; h = h->hnext)
    if (!(h->hflags & VG__INTERNAL))
      return 1;
  return 0;
}

apr_status_t vg_loop_close(vg_loop_t *loop) {
  if (user_handles(loop) || loop->active_reqs)
    return VG_EBUSY;
  /* Only library-owned handles are left: tear them down. */
  if (loop->wq)
    vg__wq_destroy(loop);
  vg__run_closing(loop);
  if (loop->handles || loop->active_reqs)
    return VG_EBUSY;
  pal_poll_destroy(loop->poll);
  apr_pool_destroy(loop->pool);
  return APR_SUCCESS;
}

int vg_loop_alive(const vg_loop_t *loop) {
  return loop->active_handles > 0 || loop->active_reqs > 0 ||
         loop->closing != NULL;
}

/* A closing handle that is ready for its close callback must not wait
 * for I/O; one still waiting for its requests (on a completion port they
 * come back through the wait) must not make the loop spin. */
static int closing_ready(const vg_loop_t *loop) {
  const vg_handle_t *h;
  for (h = loop->closing; h; h = h->next_closing)
    if (!vg__handle_busy(h))
      return 1;
  return 0;
}

/* Is a timer in the wheel?  (A stopped one may linger until its slot is
 * reached: then the answer is yes for nothing, which costs a time read.) */
static int timers_armed(const vg_loop_t *loop) {
  return loop->wheel_levels != 0;
}

static int64_t poll_timeout(vg_loop_t *loop) {
  if (loop->stop_flag || (loop->closing && closing_ready(loop)))
    return 0;
  if (loop->active_handles == 0 && loop->active_reqs == 0)
    return 0;
  return timers_armed(loop) ? vg__next_timeout(loop) : -1;
}

int vg_run(vg_loop_t *loop, vg_run_mode mode) {
  int alive = vg_loop_alive(loop);
  if (!alive)
    vg_update_time(loop);
  while (alive && !loop->stop_flag) {
    int64_t timeout = 0;
    /* Without a timer, the time is read once per iteration: after the
     * wait (on_waited), before any callback of it.  ONCE runs its timers
     * after the wait only (phase 4; due ones make the timeout 0): run
     * here, a timer that came due before vg_run would fire and the wait
     * then block for the next event, which may never come. */
    if (timers_armed(loop)) {
      vg_update_time(loop);
      if (mode != VG_RUN_ONCE && vg__timers_due(loop))
        vg__run_timers(loop);
    }
    if (mode != VG_RUN_NOWAIT)
      timeout = poll_timeout(loop);
    loop->error = pal_poll_wait(loop->poll, timeout);
    loop->iterations++;
    if (loop->error != APR_SUCCESS)
      break;      /* a broken poller would only fail again: tell the owner */
    if (mode == VG_RUN_ONCE) {
      vg_update_time(loop);
      vg__run_timers(loop);
    }
    if (loop->closing)
      vg__run_closing(loop);
    alive = vg_loop_alive(loop);
    if (mode != VG_RUN_DEFAULT)
      break;
  }
  loop->stop_flag = 0;
  return alive;
}

void vg_stop(vg_loop_t *loop) { loop->stop_flag = 1; }

apr_status_t vg_loop_error(const vg_loop_t *loop) { return loop->error; }

uint64_t vg_now(const vg_loop_t *loop) { return loop->time; }

void vg_update_time(vg_loop_t *loop) {
  loop->time = pal_hrtime() / 1000000u;
}

apr_pool_t *vg_loop_pool(const vg_loop_t *loop) { return loop->pool; }

uint64_t vg_loop_iterations(const vg_loop_t *loop) {
  return loop->iterations;
}

void vg_loop_set_data(vg_loop_t *loop, void *data) { loop->data = data; }

void *vg_loop_get_data(const vg_loop_t *loop) { return loop->data; }
