/*
 * churn_floor.c -- timers churn: vigil's re-arm against its floor, in one
 * process.
 *
 * Usage: churn_floor [-n N] [-c CHUNK] [-w]
 *
 * The timers churn workload of perf/common.h (PERF_CHURN_TIMERS timers,
 * the same first starts and the same re-arm sequence as bench_* -t
 * churn), its N re-arms (default PERF_CHURN_N) split into chunks of CHUNK
 * (default 20,000) that alternate between two ways of re-arming the same
 * timers:
 *
 *   vigil  vg_timer_start();
 *   floor  what a re-arm of an intrusive timer of this size must do at
 *          least: read the handle (its loop, next to the flags that say
 *          whether it is closing: one compare, not a call), write its
 *          callback, repeat, start order and deadline, the loop already
 *          known.  No slot is kept right (the timer is not moved when its
 *          deadline comes earlier): a measure, not a timer.  At the
 *          default size nothing fires while it runs (every deadline is
 *          at least 1 s away, and the run takes less); a longer run may
 *          fire some, late, into an empty callback.
 *
 * Both re-arm the same memory under the same background load within
 * milliseconds of each other, so their ratio holds to a few per cent
 * where two processes run one after the other differ by 30% on a shared
 * machine.  -w first runs N re-arms with vg_timer_start(), untimed: the
 * steady state, where few re-arms move a timer (docs/PERFORMANCE.md,
 * "Timers").
 *
 * Output: two lines of the contract's format (perf/common.h), impl=vigil
 * and impl=floor with bench=timers-churn-chunks, each `seconds` the sum
 * of its chunks (wall clock), then
 *
 *   floor ratio=R vigil_ns=V floor_ns=F chunks=K warm=0|1
 *
 * with R = vigil's time / the floor's (1.00: vigil does nothing beyond
 * touching the timer) and V, F the nanoseconds per re-arm.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil.h"

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

typedef apr_status_t (*rearm_fn)(vg_timer_t *t, vg_timer_cb cb,
                                 uint64_t timeout, uint64_t repeat);

static void timer_cb(vg_timer_t *t) { (void)t; }

/* The floor's loop time and start order: what a loop keeps (set from
 * vg_now() after each loop iteration, like the loop's own). */
static vg_loop_t *floor_loop;
static uint64_t floor_now;
static uint64_t floor_order;

/* Called through a pointer like vg_timer_start, and not inlined. */
static NOINLINE apr_status_t floor_rearm(vg_timer_t *t, vg_timer_cb cb,
                                         uint64_t timeout, uint64_t repeat) {
  if (t->loop != floor_loop)    /* a read of the handle, as the flags' */
    return APR_EINVAL;
  t->cb = cb;
  t->repeat = repeat;
  t->order = floor_order++;
  t->due = floor_now + timeout;
  return APR_SUCCESS;
}

static void usage(const char *prog) {
  fprintf(stderr, "usage: %s [-n N] [-c CHUNK] [-w]\n", prog);
  exit(2);
}

int main(int argc, char **argv) {
  unsigned n = PERF_CHURN_N, chunk = 20000, i, k, ms, c;
  int warm = 0, a;
  vg_loop_t *loop;
  vg_timer_t *timers;
  rearm_fn fn[2] = {vg_timer_start, floor_rearm};
  uint64_t spent[2] = {0, 0};
  unsigned chunks = 0, done[2] = {0, 0};

  for (a = 1; a < argc; a++) {
    if (strcmp(argv[a], "-n") == 0 && a + 1 < argc)
      n = (unsigned)strtoul(argv[++a], NULL, 10);
    else if (strcmp(argv[a], "-c") == 0 && a + 1 < argc)
      chunk = (unsigned)strtoul(argv[++a], NULL, 10);
    else if (strcmp(argv[a], "-w") == 0)
      warm = 1;
    else
      usage(argv[0]);
  }
  if (!n || !chunk)
    usage(argv[0]);

  PERF_CHECK(vg_initialize());
  timers = malloc((size_t)PERF_CHURN_TIMERS * sizeof *timers);
  if (!timers)
    perf_fail("malloc", 0);
  perf_fault_in(timers, (size_t)PERF_CHURN_TIMERS * sizeof *timers);
  PERF_CHECK(vg_loop_create(&loop, NULL));
  vg_update_time(loop);
  for (i = 0; i < PERF_CHURN_TIMERS; i++) {
    PERF_CHECK(vg_timer_init(loop, &timers[i]));
    PERF_CHECK(vg_timer_start(&timers[i], timer_cb, perf_churn_initial(i), 0));
  }
  k = 0;
  if (warm) {
    for (; k < n; k++) {
      perf_churn_rearm(k, &i, &ms);
      vg_timer_start(&timers[i], timer_cb, ms, 0);
      if ((k + 1) % PERF_CHURN_TICK == 0)
        vg_run(loop, VG_RUN_NOWAIT);
    }
  }
  floor_loop = loop;
  floor_now = vg_now(loop);
  /* 2n re-arms in all: n each, in alternating chunks. */
  for (c = 0; done[0] < n || done[1] < n; c++) {
    unsigned side = c & 1, m = n - done[side], j;
    uint64_t t0;
    if (m > chunk)
      m = chunk;
    t0 = perf_now_ns();
    for (j = 0; j < m; j++, k++) {
      perf_churn_rearm(k, &i, &ms);
      fn[side](&timers[i], timer_cb, ms, 0);
      if ((k + 1) % PERF_CHURN_TICK == 0) {
        vg_run(loop, VG_RUN_NOWAIT);
        floor_now = vg_now(loop);
      }
    }
    spent[side] += perf_now_ns() - t0;
    done[side] += m;
    chunks++;
  }
  printf("bench=timers-churn-chunks impl=vigil ops=%u seconds=%.6f "
         "ops_per_s=%.1f\n", n, spent[0] / 1e9, n / (spent[0] / 1e9));
  printf("bench=timers-churn-chunks impl=floor ops=%u seconds=%.6f "
         "ops_per_s=%.1f\n", n, spent[1] / 1e9, n / (spent[1] / 1e9));
  printf("floor ratio=%.4f vigil_ns=%.2f floor_ns=%.2f chunks=%u warm=%d\n",
         (double)spent[0] / (double)spent[1], spent[0] / (double)n,
         spent[1] / (double)n, chunks, warm);
  for (i = 0; i < PERF_CHURN_TIMERS; i++)
    vg_close((vg_handle_t *)&timers[i], NULL);
  vg_run(loop, VG_RUN_DEFAULT);
  PERF_CHECK(vg_loop_close(loop));
  free(timers);
  return 0;
}
