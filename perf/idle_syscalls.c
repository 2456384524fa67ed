/*
 * idle_syscalls.c -- does an idle libvigil loop make any system call but
 * its one blocking wait?
 *
 * Usage: idle_syscalls [ITERATIONS [PERIOD_MS]]   (default 20, 50)
 *
 * Runs a loop whose only work is one repeating timer of PERIOD_MS.
 * After two warm-up ticks it stat()s the marker path
 * "/nonexistent/vigil-idle-begin", lets ITERATIONS ticks pass, and
 * stat()s "/nonexistent/vigil-idle-end".  scripts/bench.sh runs it under
 * `strace -f` and counts the system calls between the two markers: the
 * expectation is ITERATIONS blocking waits (epoll_wait / epoll_pwait)
 * and nothing else.  The program itself prints
 *
 *   idle iterations=N ticks=T period_ms=P
 *
 * where N is the number of loop iterations between the markers (from
 * vg_loop_iterations(): one per wake-up).  Uses only vigil.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "vigil.h"

#define WARMUP 2

static struct {
  apr_pool_t *pool;
  vg_loop_t *loop;
  vg_timer_t timer;
  unsigned ticks, want;
  uint64_t it0, it1;
} st;

static void marker(const char *path) {
  apr_finfo_t fi;
  (void)apr_stat(&fi, path, APR_FINFO_MIN, st.pool);  /* fails: ENOENT */
}

static void tick(vg_timer_t *t) {
  st.ticks++;
  if (st.ticks == WARMUP) {
    marker("/nonexistent/vigil-idle-begin");
    st.it0 = vg_loop_iterations(st.loop);
  } else if (st.ticks == WARMUP + st.want) {
    st.it1 = vg_loop_iterations(st.loop);
    marker("/nonexistent/vigil-idle-end");
    vg_close((vg_handle_t *)t, NULL);
  }
}

int main(int argc, char **argv) {
  unsigned period = 50;

  st.want = 20;
  if (argc > 1) st.want = (unsigned)strtoul(argv[1], NULL, 10);
  if (argc > 2) period = (unsigned)strtoul(argv[2], NULL, 10);
  if (st.want == 0 || period == 0) {
    fprintf(stderr, "usage: idle_syscalls [ITERATIONS [PERIOD_MS]]\n");
    return 2;
  }
  if (vg_initialize() != APR_SUCCESS ||
      apr_pool_create(&st.pool, NULL) != APR_SUCCESS ||
      vg_loop_create(&st.loop, st.pool) != APR_SUCCESS ||
      vg_timer_init(st.loop, &st.timer) != APR_SUCCESS ||
      vg_timer_start(&st.timer, tick, period, period) != APR_SUCCESS) {
    fprintf(stderr, "idle_syscalls: setup failed\n");
    return 1;
  }
  vg_run(st.loop, VG_RUN_DEFAULT);
  if (vg_loop_close(st.loop) != APR_SUCCESS) {
    fprintf(stderr, "idle_syscalls: vg_loop_close failed\n");
    return 1;
  }
  printf("idle iterations=%llu ticks=%u period_ms=%u\n",
         (unsigned long long)(st.it1 - st.it0), st.want, period);
  return 0;
}
