/*
 * restarts.c -- the restarts of a service's max-restarts window, in
 * memory that does not grow with max-restarts.
 *
 * The rule (config/README.md, <restart>): a run that ends when
 * max-restarts restarts already happened within the last `window` ms is
 * not restarted: the service turns fatal.  Only the restarts inside the
 * window matter, and of those only whether there are max-restarts yet.
 *
 * Exact times would take max-restarts of them (8 bytes each: a million
 * is 8 MB for one service), and the restart delay does not bound them:
 * delay="0ms" is allowed, and a program that exits at once restarts
 * about once a millisecond.  So:
 *   - up to SVC_RESTARTS_EXACT (64) max-restarts, the times themselves,
 *     in a ring of max-restarts entries: exact, as a sliding window is
 *     expected to be (systemd's StartLimitBurst, supervisord's
 *     startretries are small numbers; this is where the edge matters);
 *   - above it, the window cut into SVC_RESTARTS_SLICES (64) slices of
 *     width ceil(window / 64) ms, with a count each: an approximate
 *     sliding window of 256 bytes, whatever max-restarts is.  A slice is
 *     counted while it lies entirely inside the window; the one the
 *     window's start falls in is left out, so the limit acts at most one
 *     slice (window/64) later than exact counting would, never earlier:
 *     a service is never given up on for restarts older than the window.
 * Either way at most 512 bytes a service, allocated at its first restart:
 * most services never restart, and a thousand of them with
 * max-restarts="1000000" cost no more than with the default.
 */
#include "svc_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int exact(const svc_restarts_t *h) {
  return h->max <= SVC_RESTARTS_EXACT;
}

apr_status_t svc_restarts_init(svc_restarts_t *h, unsigned max,
                               uint64_t window_ms) {
  memset(h, 0, sizeof *h);
  h->max = max;
  h->window = window_ms;
  if (max == 0 || exact(h))
    return APR_SUCCESS;   /* max 0: nothing to count, the first exit is
                             fatal */
  h->width = window_ms / SVC_RESTARTS_SLICES +
             (window_ms % SVC_RESTARTS_SLICES != 0);
  if (h->width == 0)
    h->width = 1;
  return APR_SUCCESS;
}

void svc_restarts_free(svc_restarts_t *h) {
  free(h->times);
  free(h->counts);
  h->times = NULL;
  h->counts = NULL;
}

void svc_restarts_reset(svc_restarts_t *h) {
  h->len = h->head = 0;
  h->epoch = 0;
  if (h->counts)
    memset(h->counts, 0, SVC_RESTARTS_SLICES * sizeof *h->counts);
}

apr_status_t svc_restarts_config(svc_restarts_t *h, unsigned max,
                                 uint64_t window_ms) {
  svc_restarts_t n;
  apr_status_t rv;
  if (max == h->max && (exact(h) || window_ms == h->window)) {
    h->window = window_ms;   /* exact times serve any window */
    return APR_SUCCESS;
  }
  rv = svc_restarts_init(&n, max, window_ms);
  if (rv != APR_SUCCESS) {
    svc_restarts_free(&n);
    return rv;   /* the old layout stays, with its settings */
  }
  svc_restarts_free(h);
  *h = n;
  return APR_SUCCESS;
}

/* Slices: slice k (its epoch) holds the restarts of times
 * [k * width, (k + 1) * width); counts[k % SLICES] is epoch k's for the
 * SLICES epochs up to h->epoch, the latest recorded. */
unsigned svc_restarts_recent(const svc_restarts_t *h, uint64_t now) {
  unsigned i, n = 0;
  if (h->times) {
    for (i = 0; i < h->len; i++)
      if (now - h->times[i] < h->window)
        n++;
    return n;
  }
  if (h->counts && h->len) {
    /* Entirely inside (now - window, now]: epochs k with k * width >
     * now - window, i.e. k >= first. */
    uint64_t first = now >= h->window
                         ? (now - h->window) / h->width + 1
                         : 0;
    uint64_t k, lo = h->epoch >= SVC_RESTARTS_SLICES - 1
                         ? h->epoch - (SVC_RESTARTS_SLICES - 1)
                         : 0;
    uint64_t total = 0;
    for (k = lo > first ? lo : first; k <= h->epoch; k++)
      total += h->counts[k % SVC_RESTARTS_SLICES];
    return total > UINT_MAX ? UINT_MAX : (unsigned)total;
  }
  return 0;
}

apr_status_t svc_restarts_add(svc_restarts_t *h, uint64_t now) {
  if (h->max == 0)
    return APR_SUCCESS;
  if (exact(h) && !h->times &&
      !(h->times = calloc(h->max, sizeof *h->times)))
    return APR_ENOMEM;
  if (!exact(h) && !h->counts &&
      !(h->counts = calloc(SVC_RESTARTS_SLICES, sizeof *h->counts)))
    return APR_ENOMEM;
  if (h->times) {
    if (h->len < h->max) {
      h->times[h->len++] = now;
    } else {
      h->times[h->head] = now;
      h->head = (h->head + 1) % h->max;
    }
    return APR_SUCCESS;
  }
  if (h->counts) {
    uint64_t e = now / h->width;
    if (!h->len || e >= h->epoch + SVC_RESTARTS_SLICES) {
      memset(h->counts, 0, SVC_RESTARTS_SLICES * sizeof *h->counts);
    } else if (e > h->epoch) {
      uint64_t k;
      for (k = h->epoch + 1; k <= e; k++)
        h->counts[k % SVC_RESTARTS_SLICES] = 0;
    }
    if (!h->len || e > h->epoch)
      h->epoch = e;
    /* A time before the latest (the clock does not go back; a guard):
     * counted in the latest slice. */
    if (h->counts[h->epoch % SVC_RESTARTS_SLICES] < UINT32_MAX)
      h->counts[h->epoch % SVC_RESTARTS_SLICES]++;
    h->len = 1;   /* something recorded: epoch is meaningful */
  }
  return APR_SUCCESS;
}
