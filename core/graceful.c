/*
 * graceful.c -- graceful shutdown: turn TERM / INT (/ BREAK) into one
 * on_request call, then enforce a deadline.
 *
 * State (sd->open): 0 closed (after vg_graceful_done or before init),
 * 1 watching.  sd->requested is -1 until the first request, then the
 * portable signal that asked (0 for vg_graceful_request(sd, 0)).
 *
 * Invariants:
 *   - The three signal watchers and the deadline timer are unreferenced:
 *     they never keep the loop alive by themselves.  A program whose
 *     handles have all closed returns from vg_run() even if the deadline
 *     is still armed, which is what a graceful shutdown wants.
 *   - on_request runs at most once, for the first request; the deadline
 *     is armed before it runs, so on_request may call vg_graceful_done()
 *     at once.  Every later request (a second Ctrl+C) stops the deadline
 *     and calls on_deadline at once.  The deadline itself calls
 *     on_deadline at most once.
 *   - timeout 0 means "no deadline": only a second request calls
 *     on_deadline.
 *   - BREAK exists on Windows only; on POSIX its watcher may fail to
 *     start (VG_EUNSUPPORTED or EINVAL) and is then left initialised but
 *     idle, so that done/close treat the three watchers alike.
 *   - vg_graceful_done() closes the four handles; as with any handle, sd
 *     must stay allocated until the loop's close phase has run.  Handles
 *     already closed by someone else (a vg_walk() that closes everything)
 *     are skipped.
 */
#include <stddef.h>

#include "internal.h"

static void graceful_close(vg_handle_t *h) {
  if (!vg_is_closing(h))
    vg_close(h, NULL);
}

static void graceful_signal_cb(vg_signal_t *sig, int signum) {
  vg_graceful_request((vg_shutdown_t *)sig->data, signum);
}

static void graceful_deadline_cb(vg_timer_t *timer) {
  vg_shutdown_t *sd = timer->data;

  if (sd->open && sd->on_deadline != NULL) {
    sd->again = 0;
    sd->on_deadline(sd, sd->requested);
  }
}

apr_status_t vg_graceful_init(vg_loop_t *loop, vg_shutdown_t *sd,
                              uint64_t timeout, vg_shutdown_fn on_request,
                              vg_shutdown_fn on_deadline) {
  apr_status_t rv;

  if (loop == NULL || sd == NULL)
    return APR_EINVAL;
  /* sd->data is the caller's and may be set already: leave it. */
  sd->on_request = on_request;
  sd->on_deadline = on_deadline;
  sd->timeout = timeout;
  sd->requested = -1;
  sd->again = 0;
  sd->open = 0;

  rv = vg_timer_init(loop, &sd->deadline);
  if (rv != APR_SUCCESS)
    return rv;
  sd->deadline.data = sd;
  vg_unref((vg_handle_t *)&sd->deadline);

  rv = vg_signal_init(loop, &sd->sigterm);
  if (rv != APR_SUCCESS)
    goto fail_timer;
  rv = vg_signal_init(loop, &sd->sigint);
  if (rv != APR_SUCCESS)
    goto fail_sigterm;
  rv = vg_signal_init(loop, &sd->sigbreak);
  if (rv != APR_SUCCESS)
    goto fail_sigint;
  sd->sigterm.data = sd->sigint.data = sd->sigbreak.data = sd;
  vg_unref((vg_handle_t *)&sd->sigterm);
  vg_unref((vg_handle_t *)&sd->sigint);
  vg_unref((vg_handle_t *)&sd->sigbreak);

  rv = vg_signal_start(&sd->sigterm, graceful_signal_cb, VG_SIGTERM);
  if (rv != APR_SUCCESS)
    goto fail_sigbreak;
  rv = vg_signal_start(&sd->sigint, graceful_signal_cb, VG_SIGINT);
  if (rv != APR_SUCCESS)
    goto fail_sigbreak;
  /* Windows only; elsewhere a failure here is expected and harmless. */
  (void)vg_signal_start(&sd->sigbreak, graceful_signal_cb, VG_SIGBREAK);

  sd->open = 1;
  return APR_SUCCESS;

  /* Initialised handles can only be closed (asynchronously): sd must stay
   * allocated until the loop has run its close phase. */
fail_sigbreak:
  vg_close((vg_handle_t *)&sd->sigbreak, NULL);
fail_sigint:
  vg_close((vg_handle_t *)&sd->sigint, NULL);
fail_sigterm:
  vg_close((vg_handle_t *)&sd->sigterm, NULL);
fail_timer:
  vg_close((vg_handle_t *)&sd->deadline, NULL);
  return rv;
}

void vg_graceful_request(vg_shutdown_t *sd, int signum) {
  if (sd == NULL || !sd->open)
    return;
  if (sd->requested >= 0) {
    /* Asked again: no more patience. */
    vg_timer_stop(&sd->deadline);
    if (sd->on_deadline != NULL) {
      sd->again = 1;
      sd->on_deadline(sd, signum);
    }
    return;
  }
  sd->requested = signum;
  /* The deadline counts from now, not from the iteration's start (a
   * request may come after a long run of callbacks). */
  vg_update_time(sd->deadline.loop);
  if (sd->timeout > 0)
    vg_timer_start(&sd->deadline, graceful_deadline_cb, sd->timeout, 0);
  if (sd->on_request != NULL)
    sd->on_request(sd, signum);
}

void vg_graceful_done(vg_shutdown_t *sd) {
  if (sd == NULL || !sd->open)
    return;
  sd->open = 0;
  if (!vg_is_closing((vg_handle_t *)&sd->deadline))
    vg_timer_stop(&sd->deadline);
  graceful_close((vg_handle_t *)&sd->deadline);
  graceful_close((vg_handle_t *)&sd->sigterm);
  graceful_close((vg_handle_t *)&sd->sigint);
  graceful_close((vg_handle_t *)&sd->sigbreak);
}
