/*
 * common.c -- the benchmark driver shared by every perf/ program.
 *
 * Usage: bench_IMPL [-n N] [-a] [-c split|same|free] [-t fire|cancel|churn]
 *                   [BENCH ...]
 *   BENCH   timers | pingpong | async | spawn | all (default: all)
 *   -n N    operations per benchmark instead of the default size
 *   -a      also print a "detail" line per measurement: CPU time and
 *           allocations (see common.h)
 *   -c MODE thread placement for async (see perf_pin_thread)
 *   -t MODE timers variant: fire, cancel or churn (see common.h)
 *
 * A benchmark that an implementation does not provide is skipped with a
 * note on stderr, so `bench_epoll all` prints pingpong, async and spawn.
 */
#define _GNU_SOURCE 1
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
/* Windows (mingw-w64; run under Wine for the figures in
 * docs/PERFORMANCE.md): QueryPerformanceCounter, GetProcessTimes, Sleep,
 * and thread affinity masks instead of CPU sets. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
typedef DWORD_PTR perf_cpu_mask_t;
#define PERF_MAX_CPUS ((int)(8 * sizeof(DWORD_PTR)))
#else
#include <sched.h>
#include <time.h>
typedef cpu_set_t perf_cpu_mask_t;
#define PERF_MAX_CPUS CPU_SETSIZE
#endif

static const char *const bench_names[PERF_NBENCH] = {
  "timers", "pingpong", "async", "spawn"
};

static const unsigned bench_default_n[PERF_NBENCH] = {
  PERF_TIMERS_N, PERF_PINGPONG_N, PERF_ASYNC_N, PERF_SPAWN_N
};

enum { CPU_SPLIT, CPU_SAME, CPU_FREE };

/* State of the measurement in progress. */
static struct {
  const char *impl;
  char impl_buf[64];
  int cpu_mode;
  int timers_cancel;
  int timers_churn;
  int cpus[2];                    /* the first two CPUs we may use */
  perf_cpu_mask_t orig_mask;
  int bench;
  unsigned n;
  int alloc_report;
  uint64_t t0, paused_at, paused_ns;
  uint64_t c0, cpaused_at, cpaused_ns;  /* process CPU time, same scheme */
  uint64_t m0, p0;
  int begun, ended;
} cur;

#ifdef _WIN32

uint64_t perf_now_ns(void) {
  static LARGE_INTEGER freq;   /* set once, before any second thread */
  LARGE_INTEGER now;
  if (freq.QuadPart == 0) QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&now);
  /* Whole seconds and the rest apart, so that nothing overflows. */
  return (uint64_t)(now.QuadPart / freq.QuadPart) * 1000000000u +
         (uint64_t)(now.QuadPart % freq.QuadPart) * 1000000000u /
             (uint64_t)freq.QuadPart;
}

/* Process CPU time, user + kernel, all threads (100 ns units). */
static uint64_t cpu_now_ns(void) {
  FILETIME created, exited, kernel, user;
  ULARGE_INTEGER k, u;
  if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel,
                       &user))
    return 0;
  k.LowPart = kernel.dwLowDateTime;
  k.HighPart = kernel.dwHighDateTime;
  u.LowPart = user.dwLowDateTime;
  u.HighPart = user.dwHighDateTime;
  return (k.QuadPart + u.QuadPart) * 100u;
}

void perf_sleep_ms(unsigned ms) {
  Sleep(ms);
}

#else

uint64_t perf_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void perf_sleep_ms(unsigned ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

#endif

void perf_fault_in(void *p, size_t n) {
  volatile unsigned char *v = p;
  size_t i;
  memset(p, 0, n);
  for (i = 0; i < n; i += 4096) v[i] = 0;   /* kept even if inlined */
}

unsigned perf_timer_timeout(unsigned i) {
  /* A multiplicative hash of i: cheap, deterministic, well spread. */
  uint32_t x = (uint32_t)i * 2654435761u;
  x ^= x >> 15;
  return 1u + (x % PERF_TIMERS_MAXMS);
}

#ifdef _WIN32

/* Affinity of the calling thread; the mask of the process is the set of
 * CPUs we may use (processor group 0, which is all of them up to 64). */
void perf_pin_thread(int role) {
  DWORD_PTR mask;
  if (cur.cpu_mode == CPU_FREE) return;
  mask = (DWORD_PTR)1 << cur.cpus[cur.cpu_mode == CPU_SPLIT ? role : 0];
  if (SetThreadAffinityMask(GetCurrentThread(), mask) == 0)
    perf_fail("SetThreadAffinityMask", (long)GetLastError());
}

static int cpu_get_mask(perf_cpu_mask_t *mask) {
  DWORD_PTR system;
  return GetProcessAffinityMask(GetCurrentProcess(), mask, &system) ? 0 : -1;
}

static int cpu_isset(int c, const perf_cpu_mask_t *mask) {
  return (*mask >> c) & 1u;
}

static void cpu_restore(void) {
  if (cur.cpu_mode != CPU_FREE)
    (void)SetThreadAffinityMask(GetCurrentThread(), cur.orig_mask);
}

#else

void perf_pin_thread(int role) {
  cpu_set_t set;
  if (cur.cpu_mode == CPU_FREE) return;
  CPU_ZERO(&set);
  CPU_SET(cur.cpus[cur.cpu_mode == CPU_SPLIT ? role : 0], &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    perf_fail("sched_setaffinity", errno);
}

static int cpu_get_mask(perf_cpu_mask_t *mask) {
  return sched_getaffinity(0, sizeof *mask, mask);
}

static int cpu_isset(int c, const perf_cpu_mask_t *mask) {
  return CPU_ISSET(c, mask);
}

static void cpu_restore(void) {
  if (cur.cpu_mode != CPU_FREE)
    (void)sched_setaffinity(0, sizeof cur.orig_mask, &cur.orig_mask);
}

#endif

/* Note the CPUs we may run on; fall back to "free" with fewer than two
 * for split. */
static void cpu_setup(void) {
  int c, k = 0;
  if (cpu_get_mask(&cur.orig_mask) != 0) {
    cur.cpu_mode = CPU_FREE;
    return;
  }
  for (c = 0; c < PERF_MAX_CPUS && k < 2; c++)
    if (cpu_isset(c, &cur.orig_mask)) cur.cpus[k++] = c;
  if (k == 0 || (k < 2 && cur.cpu_mode == CPU_SPLIT)) {
    if (cur.cpu_mode == CPU_SPLIT)
      fprintf(stderr, "bench_%s: one CPU only: async runs unpinned\n",
              cur.impl);
    cur.cpu_mode = CPU_FREE;
  }
}

int perf_timers_cancel(void) { return cur.timers_cancel; }

int perf_timers_churn(void) { return cur.timers_churn; }

/* splitmix64's finaliser: the churn sequence's generator (seeded by the
 * index, so every implementation draws the same numbers). */
static uint64_t churn_mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static unsigned churn_timeout(uint32_t x) {
  return PERF_CHURN_MINMS + x % (PERF_CHURN_MAXMS - PERF_CHURN_MINMS + 1u);
}

unsigned perf_churn_initial(unsigned i) {
  return churn_timeout((uint32_t)churn_mix(~(uint64_t)i));
}

void perf_churn_rearm(unsigned k, unsigned *timer, unsigned *timeout_ms) {
  uint64_t x = churn_mix(k);
  *timer = (unsigned)((x >> 32) % PERF_CHURN_TIMERS);
  *timeout_ms = churn_timeout((uint32_t)x);
}

unsigned perf_timer_timeout_spread(unsigned i) {
  uint32_t x = (uint32_t)i * 2246822519u + 0x9E3779B9u;
  x ^= x >> 13;
  x *= 3266489917u;
  x ^= x >> 16;
  return 1u + (x % 1000000u);
}

unsigned perf_cancel_order(unsigned i, unsigned n) {
  /* i * P mod n with P prime and > n: a permutation of 0..n-1. */
  return (unsigned)(((uint64_t)i * 1000003u) % n);
}

void perf_fail(const char *what, long code) {
  fprintf(stderr, "bench_%s: %s: %s failed (%ld)\n",
          cur.impl ? cur.impl : "?",
          cur.bench >= 0 && cur.bench < PERF_NBENCH ? bench_names[cur.bench]
                                                    : "setup",
          what, code);
  exit(1);
}

void perf_begin(void) {
  cur.begun = 1;
  cur.paused_ns = 0;
  cur.paused_at = 0;
  cur.cpaused_ns = 0;
  cur.cpaused_at = 0;
  cur.m0 = perf_malloc_count();
  cur.p0 = perf_palloc_count();
  cur.c0 = cpu_now_ns();
  cur.t0 = perf_now_ns();
}

void perf_pause(void) {
  cur.paused_at = perf_now_ns();
  cur.cpaused_at = cpu_now_ns();
}

void perf_resume(void) {
  if (cur.paused_at) {
    cur.cpaused_ns += cpu_now_ns() - cur.cpaused_at;
    cur.paused_ns += perf_now_ns() - cur.paused_at;
    cur.paused_at = cur.cpaused_at = 0;
  }
}

void perf_end(void) {
  uint64_t t1 = perf_now_ns();
  uint64_t c1 = cpu_now_ns();
  uint64_t m1 = perf_malloc_count();
  uint64_t p1 = perf_palloc_count();
  double secs = (double)(t1 - cur.t0 - cur.paused_ns) / 1e9;

  if (!cur.begun) perf_fail("perf_end without perf_begin", 0);
  cur.ended = 1;
  printf("bench=%s impl=%s ops=%u seconds=%.6f ops_per_s=%.1f\n",
         bench_names[cur.bench], cur.impl, cur.n, secs,
         secs > 0 ? (double)cur.n / secs : 0.0);
  if (cur.alloc_report) {
    uint64_t m = m1 - cur.m0, p = p1 - cur.p0;
    double cpu = (double)(c1 - cur.c0 - cur.cpaused_ns) / 1e9;
    printf("detail bench=%s impl=%s ops=%u cpu_s=%.6f cpu_us_per_op=%.3f "
           "mallocs=%llu pallocs=%llu allocs_per_op=%.4f\n",
           bench_names[cur.bench], cur.impl, cur.n, cpu,
           cpu * 1e6 / (double)cur.n, (unsigned long long)m,
           (unsigned long long)p, (double)(m + p) / (double)cur.n);
  }
  fflush(stdout);
}

static void usage(const char *prog) {
  fprintf(stderr,
          "usage: %s [-n N] [-a] [-c split|same|free] [-t fire|cancel|churn] "
          "[timers|pingpong|async|spawn|all ...]\n",
          prog);
  exit(2);
}

int perf_main(int argc, char **argv, const perf_impl_t *impl) {
  int want[PERF_NBENCH] = {0};
  int any = 0, i, b, rc = 0;
  unsigned n = 0;

  setvbuf(stdout, NULL, _IOLBF, 0);
  cur.impl = impl->name;
  cur.bench = -1;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-n") == 0 && i + 1 < argc) {
      char *end;
      unsigned long v = strtoul(argv[++i], &end, 10);
      if (*end || v == 0 || v > 100000000ul) usage(argv[0]);
      n = (unsigned)v;
    } else if (strcmp(a, "-a") == 0) {
      cur.alloc_report = 1;
    } else if (strcmp(a, "-c") == 0 && i + 1 < argc) {
      const char *m = argv[++i];
      if (strcmp(m, "split") == 0) cur.cpu_mode = CPU_SPLIT;
      else if (strcmp(m, "same") == 0) cur.cpu_mode = CPU_SAME;
      else if (strcmp(m, "free") == 0) cur.cpu_mode = CPU_FREE;
      else usage(argv[0]);
    } else if (strcmp(a, "-t") == 0 && i + 1 < argc) {
      const char *m = argv[++i];
      cur.timers_cancel = strcmp(m, "cancel") == 0;
      cur.timers_churn = strcmp(m, "churn") == 0;
      if (!cur.timers_cancel && !cur.timers_churn && strcmp(m, "fire") != 0)
        usage(argv[0]);
    } else if (strcmp(a, "all") == 0) {
      for (b = 0; b < PERF_NBENCH; b++) want[b] = 1;
      any = 1;
    } else {
      for (b = 0; b < PERF_NBENCH; b++)
        if (strcmp(a, bench_names[b]) == 0) break;
      if (b == PERF_NBENCH) usage(argv[0]);
      want[b] = 1;
      any = 1;
    }
  }
  if (!any)
    for (b = 0; b < PERF_NBENCH; b++) want[b] = 1;
  cpu_setup();

  for (b = 0; b < PERF_NBENCH; b++) {
    if (!want[b]) continue;
    if (!impl->fn[b]) {
      fprintf(stderr, "bench_%s: no %s benchmark for this implementation\n",
              impl->name, bench_names[b]);
      continue;
    }
    cur.bench = b;
    cur.n = n ? n : bench_default_n[b];
    if (!n && b == PERF_TIMERS && cur.timers_churn) cur.n = PERF_CHURN_N;
    cur.begun = cur.ended = 0;
    cur.impl = impl->name;
    if (b == PERF_ASYNC && cur.cpu_mode == CPU_SAME) {
      snprintf(cur.impl_buf, sizeof cur.impl_buf, "%s-1cpu", impl->name);
      cur.impl = cur.impl_buf;
    }
    if (b == PERF_TIMERS && (cur.timers_cancel || cur.timers_churn)) {
      snprintf(cur.impl_buf, sizeof cur.impl_buf, "%s-%s", impl->name,
               cur.timers_cancel ? "cancel" : "churn");
      cur.impl = cur.impl_buf;
    }
    if (impl->fn[b](cur.n) != 0 || !cur.ended) {
      fprintf(stderr, "bench_%s: %s failed\n", impl->name, bench_names[b]);
      rc = 1;
    }
    cpu_restore();
  }
  return rc;
}
