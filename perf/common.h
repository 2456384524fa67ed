/*
 * common.h -- shared driver for the perf/ benchmark programs.
 *
 * Every program (bench_vigil, bench_libuv, bench_libev, bench_libevent,
 * bench_epoll) is built from common.c plus one file that implements the
 * four workloads for one event loop.  The workloads are identical across
 * implementations; perf/README.md and docs/PERFORMANCE.md define them.
 *
 * Output, one line per measurement (perf/README.md, "Running"):
 *
 *   bench=NAME impl=IMPL ops=N seconds=T ops_per_s=X
 *
 * With -a, each measurement is followed by a diagnostic line on stdout
 *
 *   detail bench=NAME impl=IMPL ops=N cpu_s=C cpu_us_per_op=U
 *          mallocs=M pallocs=P allocs_per_op=R            (one line)
 *
 * cpu_s is the CPU time of the whole process (all threads, user and
 * system) in the timed section: on a loaded machine it is much steadier
 * than wall time, since time spent waiting for a CPU is not counted.
 * mallocs counts the malloc-family calls and pallocs the apr_palloc()
 * calls made in the timed section, in every thread (alloc_hook.c).
 *
 * This header includes only C11 headers, so the libvigil benchmark can
 * include it next to vigil.h without seeing an OS header.
 */
#ifndef PERF_COMMON_H
#define PERF_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Default workload sizes (override with -n). */
#define PERF_TIMERS_N    1000000u  /* one-shot timers                    */
#define PERF_TIMERS_MAXMS 64u      /* timeouts are 1..PERF_TIMERS_MAXMS  */
#define PERF_PINGPONG_N  50000u    /* round trips of 64 bytes            */
#define PERF_PINGPONG_MSG 64u
#define PERF_ASYNC_N     10000u    /* cross-thread round trips           */
#define PERF_SPAWN_N     1000u     /* sequential spawns of /bin/true     */
#define PERF_CHURN_N     3000000u  /* timers -t churn: re-arms            */
#define PERF_CHURN_TIMERS 100000u  /* ... of this many idle timeouts      */
#define PERF_CHURN_MINMS 1000u     /* ... each due in 1 s..10 min         */
#define PERF_CHURN_MAXMS 600000u
#define PERF_CHURN_TICK  1000u     /* re-arms between two loop iterations */

/* The spawn workload's child: /bin/true, or on Windows `cmd /c exit 0`
 * (perf/README.md), found on PATH.  PERF_SPAWN_ARGV initialises an array
 * of const char * ending in NULL. */
#ifdef _WIN32
#define PERF_SPAWN_PATH "cmd"
#define PERF_SPAWN_ARGV {"cmd", "/c", "exit", "0", NULL}
#else
#define PERF_SPAWN_PATH "/bin/true"
#define PERF_SPAWN_ARGV {PERF_SPAWN_PATH, NULL}
#endif

enum {
  PERF_TIMERS = 0, PERF_PINGPONG, PERF_ASYNC, PERF_SPAWN, PERF_NBENCH
};

/* One implementation: a name for impl= and a function per workload
 * (NULL where the implementation has no such benchmark).  Each function
 * runs `n` operations and returns 0 on success; it brackets the timed
 * section with perf_begin() / perf_end(). */
typedef int (*perf_fn)(unsigned n);

typedef struct perf_impl_s {
  const char *name;
  perf_fn fn[PERF_NBENCH];
} perf_impl_t;

/* The program's main(): parses argv, runs the selected benchmarks. */
int perf_main(int argc, char **argv, const perf_impl_t *impl);

/* Timed section of the current benchmark.  perf_begin() snapshots the
 * clock and the allocation counters; perf_pause()/perf_resume() exclude
 * an interval (the timers benchmark waits for its deadlines that way);
 * perf_end() records the figures.  Call each once per run. */
void perf_begin(void);
void perf_pause(void);
void perf_resume(void);
void perf_end(void);

/* Thread placement for the async benchmark, set with -c:
 *   split  the loop thread (role 0) on one CPU, the other thread (role 1)
 *          on another: every wake-up crosses CPUs (default; "free" when
 *          the process may use only one CPU);
 *   same   both on one CPU: a wake-up is a context switch, so the figure
 *          is the loops' own cost; impl= gets the suffix "-1cpu";
 *   free   no pinning: the scheduler decides, and the figure swings
 *          between the two cases above from run to run.
 * Each async benchmark calls this first thing on each of its threads;
 * the driver restores the original affinity after every benchmark. */
void perf_pin_thread(int role);

/* Monotonic clock in nanoseconds. */
uint64_t perf_now_ns(void);
/* Sleep for ms milliseconds (not part of any timed section). */
void perf_sleep_ms(unsigned ms);
/* Zero n bytes at p, touching every page, so that no timed section pays
 * for their first-touch page faults.  A function of its own: gcc turns
 * malloc followed by memset(0) in one function into calloc, which on
 * fresh pages writes nothing, and the faults then land in the timed
 * section (more of them the larger a library's watcher). */
void perf_fault_in(void *p, size_t n);

/* Timeout (ms) of timer i in the timers workload: a fixed pseudo-random
 * sequence in 1..PERF_TIMERS_MAXMS, the same for every implementation. */
unsigned perf_timer_timeout(unsigned i);

/* The timers workload has three variants, chosen with -t:
 *   fire    (default) start n timers due within PERF_TIMERS_MAXMS, wait
 *           (untimed) until all are due, run the loop that fires them;
 *           only 64 distinct deadlines, so ties are the rule;
 *   cancel  start n timers with timeouts spread over 1..10^6 ms (about
 *           630,000 distinct deadlines), then stop them all in a
 *           scrambled order: insertion and removal anywhere in a large
 *           heap, the fate of most I/O timeouts.  impl= gets "-cancel".
 *   churn   PERF_CHURN_TIMERS idle timeouts are started (untimed), then
 *           n re-arms (default PERF_CHURN_N) each move a pseudo-random
 *           one of them to a pseudo-random timeout in PERF_CHURN_MINMS..
 *           PERF_CHURN_MAXMS, as a server re-arms a connection's idle
 *           timeout on every read; every PERF_CHURN_TICK re-arms the loop
 *           runs one non-blocking iteration, so its time moves on.  The
 *           ops are the re-arms.  impl= gets "-churn".
 * perf_timers_cancel() and perf_timers_churn() say which;
 * perf_timer_timeout_spread(i) and perf_cancel_order(i, n) (a
 * permutation of 0..n-1) define the second, perf_churn_initial(i) (timer
 * i's first timeout) and perf_churn_rearm(k, ...) (the k-th re-arm: which
 * timer, what timeout) the third, from a fixed-seed generator: the same
 * sequence for every implementation. */
int perf_timers_cancel(void);
int perf_timers_churn(void);
unsigned perf_timer_timeout_spread(unsigned i);
unsigned perf_cancel_order(unsigned i, unsigned n);
unsigned perf_churn_initial(unsigned i);
void perf_churn_rearm(unsigned k, unsigned *timer, unsigned *timeout_ms);

/* Allocation counters maintained by alloc_hook.c (0 if not linked). */
uint64_t perf_malloc_count(void);
uint64_t perf_palloc_count(void);

/* Abort the benchmark with a message: for setup errors that make the
 * measurement meaningless. */
void perf_fail(const char *what, long code);
#define PERF_CHECK(expr)                                                     \
  do {                                                                       \
    long perf_rc_ = (long)(expr);                                            \
    if (perf_rc_ != 0) perf_fail(#expr, perf_rc_);                           \
  } while (0)

#endif /* PERF_COMMON_H */
