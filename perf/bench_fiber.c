/*
 * bench_fiber.c -- fibers (vigil_fiber.h) measured against their
 * baselines, in pairs of back-to-back runs.
 *
 *   bench_fiber [-n N] [-k PAIRS] [switch|spawn|echo|memory|all]
 *
 * Benchmarks (lines in the format of perf/common.h):
 *   fiber_switch  impl=vigil: pal_fiber_switch() between a thread and a
 *                 fiber (the machine switch under every fiber call);
 *                 impl=ucontext: swapcontext() the same way (POSIX).  ops
 *                 are switches, so seconds/ops is the cost of one.
 *                 impl=vigil-yield: two fibers taking turns through
 *                 vg_fiber_yield(), a loop iteration per turn (ops are
 *                 yields).
 *   fiber_spawn   create + run + join of an empty fiber, from a fiber.
 *   fiber_echo    the pingpong workload (64-byte round trips over
 *                 127.0.0.1, TCP_NODELAY, client and server on one loop):
 *                 impl=vigil-fiber in blocking style, one fiber each side;
 *                 impl=vigil with callbacks, as bench_vigil does it.
 *   fiber_memory  100,000 fibers with 16 KiB stacks, all parked at once;
 *                 a "memory" line gives the process's RSS and PSS growth
 *                 (Linux: /proc/self/smaps_rollup) per fiber.
 *
 * Pairs: each of K pairs runs the two implementations back to back, the
 * order alternating, and prints "pair bench=... k=... ratio=R
 * cpu_ratio=C" with R = (baseline seconds) / (vigil seconds) for the same
 * ops, wall clock, and C the same for the process's CPU time (clock());
 * the last line per benchmark gives the median and quartiles of both.  Two adjacent runs
 * see the same background load, so on a shared machine R is much steadier
 * than the ratio of two medians (perf/README.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "vigil_fiber.h"
#include "pal_fiber.h"

#if !defined(_WIN32)
#include <ucontext.h>
#define HAVE_UCONTEXT 1
#endif

static void line(const char *bench, const char *impl, unsigned long ops,
                 double s) {
  printf("bench=%s impl=%s ops=%lu seconds=%.6f ops_per_s=%.1f\n", bench,
         impl, ops, s, s > 0 ? ops / s : 0.0);
  fflush(stdout);
}

static double since(uint64_t t0) { return (perf_now_ns() - t0) / 1e9; }

/* ---- fiber_switch ---------------------------------------------------- */

static pal_fiber_t *sw_main, *sw_fib;
static volatile unsigned long sw_left;

static void sw_body(void *arg) {
  (void)arg;
  for (;;)
    pal_fiber_switch(sw_fib, sw_main);
}

static double switch_vigil(unsigned long n) {
  uint64_t t0;
  unsigned long i;
  sw_main = pal_fiber_thread();
  PERF_CHECK(pal_fiber_create(&sw_fib, 16384, sw_body, NULL));
  pal_fiber_switch(sw_main, sw_fib);   /* warm */
  t0 = perf_now_ns();
  for (i = 0; i < n / 2; i++)
    pal_fiber_switch(sw_main, sw_fib);
  {
    double s = since(t0);
    pal_fiber_destroy(sw_fib);
    line("fiber_switch", "vigil", n / 2 * 2, s);
    return s;
  }
}

#ifdef HAVE_UCONTEXT
static ucontext_t uc_main, uc_fib;

static void uc_body(void) {
  for (;;)
    swapcontext(&uc_fib, &uc_main);
}

static double switch_ucontext(unsigned long n) {
  static char stack[65536];
  uint64_t t0;
  unsigned long i;
  double s;
  getcontext(&uc_fib);
  uc_fib.uc_stack.ss_sp = stack;
  uc_fib.uc_stack.ss_size = sizeof stack;
  uc_fib.uc_link = NULL;
  makecontext(&uc_fib, uc_body, 0);
  swapcontext(&uc_main, &uc_fib);
  t0 = perf_now_ns();
  for (i = 0; i < n / 2; i++)
    swapcontext(&uc_main, &uc_fib);
  s = since(t0);
  line("fiber_switch", "ucontext", n / 2 * 2, s);
  return s;
}
#endif

static unsigned long yield_n;

static void yielder(void *arg) {
  unsigned long i;
  (void)arg;
  for (i = 0; i < yield_n; i++)
    vg_fiber_yield();
}

static void yield_vigil(unsigned long n) {
  vg_loop_t *loop;
  uint64_t t0;
  PERF_CHECK(vg_loop_create(&loop, NULL));
  yield_n = n / 2;
  PERF_CHECK(vg_fiber_create(loop, NULL, yielder, NULL, 0));
  PERF_CHECK(vg_fiber_create(loop, NULL, yielder, NULL, 0));
  t0 = perf_now_ns();
  vg_run(loop, VG_RUN_DEFAULT);
  line("fiber_switch", "vigil-yield", yield_n * 2, since(t0));
  PERF_CHECK(vg_loop_close(loop));
}

/* ---- fiber_spawn ----------------------------------------------------- */

static unsigned long spawn_n;
static vg_loop_t *spawn_loop;
static double spawn_s;

static void empty(void *arg) { (void)arg; }

static void spawner(void *arg) {
  unsigned long i;
  vg_fiber_t *f;
  uint64_t t0 = perf_now_ns();
  (void)arg;
  for (i = 0; i < spawn_n; i++) {
    PERF_CHECK(vg_fiber_create(spawn_loop, &f, empty, NULL, 0));
    PERF_CHECK(vg_fiber_join(f));
  }
  spawn_s = since(t0);
}

static void spawn_vigil(unsigned long n) {
  PERF_CHECK(vg_loop_create(&spawn_loop, NULL));
  spawn_n = n;
  PERF_CHECK(vg_fiber_create(spawn_loop, NULL, spawner, NULL, 0));
  vg_run(spawn_loop, VG_RUN_DEFAULT);
  PERF_CHECK(vg_loop_close(spawn_loop));
  line("fiber_spawn", "vigil", n, spawn_s);
}

/* ---- fiber_echo ------------------------------------------------------ */

static struct {
  vg_loop_t *loop;
  vg_tcp_t server, cli, srv;
  vg_addr_t addr;
  unsigned long n, done;
  char msg[PERF_PINGPONG_MSG];
  char cbuf[65536], sbuf[65536];
  size_t have;
  vg_write_t creq, sreq;
  vg_connect_t conn;
  int ready;
  uint64_t t0;
  double s;
} ec;

static void echo_setup(void) {
  memset(&ec, 0, sizeof ec);
  memset(ec.msg, 'x', sizeof ec.msg);
  PERF_CHECK(vg_loop_create(&ec.loop, NULL));
  PERF_CHECK(vg_addr_ip(&ec.addr, "127.0.0.1", 0));
  PERF_CHECK(vg_tcp_init(ec.loop, &ec.server));
  PERF_CHECK(vg_tcp_bind(&ec.server, &ec.addr, 0));
  PERF_CHECK(vg_tcp_init(ec.loop, &ec.cli));
  PERF_CHECK(vg_tcp_init(ec.loop, &ec.srv));
}

/* The last round trip is done: close everything (the loop then ends). */
static void echo_finish(void) {
  ec.s = since(ec.t0);
  vg_close((vg_handle_t *)&ec.cli, NULL);
  vg_close((vg_handle_t *)&ec.srv, NULL);
  vg_close((vg_handle_t *)&ec.server, NULL);
}

static void echo_teardown(const char *impl) {
  vg_run(ec.loop, VG_RUN_DEFAULT);
  PERF_CHECK(vg_loop_close(ec.loop));
  if (ec.done != ec.n) perf_fail("all round trips", (long)ec.done);
  line("fiber_echo", impl, ec.n, ec.s);
}

/* In blocking style: one fiber per side. */
static void fe_server(void *arg) {
  size_t n;
  (void)arg;
  PERF_CHECK(vg_fiber_accept(&ec.server, &ec.srv));
  PERF_CHECK(vg_tcp_nodelay(&ec.srv, 1));
  while (vg_fiber_read(&ec.srv, ec.sbuf, sizeof ec.sbuf, &n) == APR_SUCCESS)
    if (vg_fiber_write(&ec.srv, ec.sbuf, n) != APR_SUCCESS) break;
}

static void fe_client(void *arg) {
  size_t n, have;
  (void)arg;
  PERF_CHECK(vg_fiber_tcp_connect(&ec.cli, &ec.addr));
  PERF_CHECK(vg_tcp_nodelay(&ec.cli, 1));
  ec.t0 = perf_now_ns();
  for (ec.done = 0; ec.done < ec.n; ec.done++) {
    PERF_CHECK(vg_fiber_write(&ec.cli, ec.msg, sizeof ec.msg));
    for (have = 0; have < sizeof ec.msg; have += n)
      PERF_CHECK(vg_fiber_read(&ec.cli, ec.cbuf, sizeof ec.cbuf, &n));
  }
  echo_finish();   /* the server's read returns VG_ECLOSING */
}

static double echo_fiber(unsigned long n) {
  echo_setup();
  ec.n = n;
  PERF_CHECK(vg_fiber_listen(&ec.server, 16));
  PERF_CHECK(vg_tcp_sockname(&ec.server, &ec.addr));
  PERF_CHECK(vg_fiber_create(ec.loop, NULL, fe_server, NULL, 0));
  PERF_CHECK(vg_fiber_create(ec.loop, NULL, fe_client, NULL, 0));
  vg_run(ec.loop, VG_RUN_DEFAULT);
  echo_teardown("vigil-fiber");
  return ec.s;
}

/* With callbacks: read_start with a static buffer, a preallocated write
 * request per side (one write is ever in flight per side). */
static void ce_alloc(vg_handle_t *h, size_t sz, vg_buf_t *b) {
  (void)sz;
  b->base = h == (vg_handle_t *)&ec.cli ? ec.cbuf : ec.sbuf;
  b->len = sizeof ec.cbuf;
}

static void ce_send(vg_tcp_t *t, vg_write_t *req, char *p, size_t n) {
  vg_buf_t b;
  b.base = p;
  b.len = n;
  PERF_CHECK(vg_write(req, t, &b, 1, NULL));
}

static void ce_read(vg_stream_t *s, apr_status_t st, size_t n,
                    const vg_buf_t *b) {
  if (st != APR_SUCCESS || n == 0)
    return;
  if (s == &ec.srv) {
    ce_send(&ec.srv, &ec.sreq, b->base, n);
    return;
  }
  if ((ec.have += n) < sizeof ec.msg)
    return;
  ec.have = 0;
  if (++ec.done == ec.n) {
    echo_finish();
    return;
  }
  ce_send(&ec.cli, &ec.creq, ec.msg, sizeof ec.msg);
}

static void ce_start(void) {
  if (++ec.ready < 2)
    return;
  PERF_CHECK(vg_read_start(&ec.cli, ce_alloc, ce_read));
  PERF_CHECK(vg_read_start(&ec.srv, ce_alloc, ce_read));
  ec.t0 = perf_now_ns();
  ce_send(&ec.cli, &ec.creq, ec.msg, sizeof ec.msg);
}

static void ce_conn(vg_stream_t *server, apr_status_t st) {
  PERF_CHECK(st);
  PERF_CHECK(vg_accept(server, &ec.srv));
  PERF_CHECK(vg_tcp_nodelay(&ec.srv, 1));
  ce_start();
}

static void ce_connected(vg_connect_t *req, apr_status_t st) {
  (void)req;
  PERF_CHECK(st);
  PERF_CHECK(vg_tcp_nodelay(&ec.cli, 1));
  ce_start();
}

static double echo_callback(unsigned long n) {
  echo_setup();
  ec.n = n;
  PERF_CHECK(vg_listen(&ec.server, 16, ce_conn));
  PERF_CHECK(vg_tcp_sockname(&ec.server, &ec.addr));
  PERF_CHECK(vg_tcp_connect(&ec.conn, &ec.cli, &ec.addr, ce_connected));
  vg_run(ec.loop, VG_RUN_DEFAULT);
  echo_teardown("vigil");
  return ec.s;
}

/* ---- fiber_memory ---------------------------------------------------- */

/* Resident and proportional set size of the process in KiB (Linux);
 * 0 where /proc cannot tell. */
static void mem_kib(unsigned long *rss, unsigned long *pss) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  char l[256];
  *rss = *pss = 0;
  if (f == NULL)
    return;
  while (fgets(l, sizeof l, f) != NULL) {
    if (strncmp(l, "Rss:", 4) == 0)
      *rss = strtoul(l + 4, NULL, 10);
    else if (strncmp(l, "Pss:", 4) == 0)
      *pss = strtoul(l + 4, NULL, 10);
  }
  fclose(f);
}

static unsigned long parked;

static void parker(void *arg) {
  (void)arg;
  parked++;
  vg_fiber_sleep(3600 * 1000);   /* until the shutdown */
  parked--;
}

static void stopper(vg_timer_t *t) {
  unsigned long rss, pss, *base = t->data;
  mem_kib(&rss, &pss);
  printf("memory bench=fiber_memory impl=vigil fibers=%lu stack=16384 "
         "rss_kib=%lu pss_kib=%lu rss_per_fiber=%lu pss_per_fiber=%lu "
         "address_space_per_fiber=%lu\n",
         parked, rss - base[0], pss - base[1],
         parked ? (rss - base[0]) * 1024 / parked : 0,
         parked ? (pss - base[1]) * 1024 / parked : 0,
         (unsigned long)pal_fiber_stack_footprint(16384));
  vg_fiber_shutdown(t->loop);
  vg_close((vg_handle_t *)t, NULL);
}

static void memory_vigil(unsigned long n) {
  vg_loop_t *loop;
  vg_timer_t t;
  unsigned long i, base[2];
  uint64_t t0;
  PERF_CHECK(vg_loop_create(&loop, NULL));
  mem_kib(&base[0], &base[1]);
  t0 = perf_now_ns();
  for (i = 0; i < n; i++)
    PERF_CHECK(vg_fiber_create(loop, NULL, parker, NULL, 16384));
  line("fiber_memory", "vigil", n, since(t0));
  vg_timer_init(loop, &t);
  t.data = base;
  vg_timer_start(&t, stopper, 1, 0);
  vg_run(loop, VG_RUN_DEFAULT);
  if (parked != 0) perf_fail("fibers left", (long)parked);
  PERF_CHECK(vg_loop_close(loop));
}

/* ---- driver ---------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One run: wall seconds (the run's own timed section) and the process's
 * CPU seconds around it (clock(): time spent waiting for a CPU on a
 * busy machine is not in it, so it is the steadier of the two). */
static double run_cpu(double (*f)(unsigned long), unsigned long n,
                      double *cpu) {
  clock_t c0 = clock();
  double wall = f(n);
  *cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
  return wall;
}

static void pairs(const char *bench, const char *a, const char *b,
                  double (*fa)(unsigned long), double (*fb)(unsigned long),
                  unsigned long n, int k) {
  double *r = calloc((size_t)k * 2, sizeof *r), *rc = r + k;
  int i;
  if (r == NULL) perf_fail("calloc", 0);
  for (i = 0; i < k; i++) {
    double sa, sb, ca, cb;
    if (i % 2 == 0) {
      sa = run_cpu(fa, n, &ca);
      sb = run_cpu(fb, n, &cb);
    } else {
      sb = run_cpu(fb, n, &cb);
      sa = run_cpu(fa, n, &ca);
    }
    r[i] = sb / sa;
    rc[i] = ca > 0 ? cb / ca : 0;
    printf("pair bench=%s k=%d %s_s=%.6f %s_s=%.6f ratio=%.3f "
           "cpu_ratio=%.3f\n", bench, i, a, sa, b, sb, r[i], rc[i]);
  }
  qsort(r, (size_t)k, sizeof *r, cmp_d);
  qsort(rc, (size_t)k, sizeof *rc, cmp_d);
  printf("pairs bench=%s vigil=%s baseline=%s k=%d ratio_median=%.3f "
         "q1=%.3f q3=%.3f cpu_ratio_median=%.3f q1=%.3f q3=%.3f "
         "(ratio = baseline time / vigil time)\n",
         bench, a, b, k, r[k / 2], r[k / 4], r[(3 * k) / 4], rc[k / 2],
         rc[k / 4], rc[(3 * k) / 4]);
  fflush(stdout);
  free(r);
}

int main(int argc, char **argv) {
  unsigned long n = 0;
  int k = 5, i;
  const char *which = "all";

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
      n = strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc)
      k = atoi(argv[++i]);
    else
      which = argv[i];
  }
  if (k < 1) k = 1;
  PERF_CHECK(vg_initialize());
  printf("# fiber switch: %s\n", vg_fiber_impl());
  fflush(stdout);
  if (!strcmp(which, "all") || !strcmp(which, "switch")) {
#ifdef HAVE_UCONTEXT
    pairs("fiber_switch", "vigil", "ucontext", switch_vigil, switch_ucontext,
          n ? n : 2000000ul, k);
#else
    for (i = 0; i < k; i++) switch_vigil(n ? n : 2000000ul);
#endif
    yield_vigil(n ? n / 20 : 1000000ul);
  }
  if (!strcmp(which, "all") || !strcmp(which, "spawn"))
    for (i = 0; i < k; i++) spawn_vigil(n ? n : 200000ul);
  if (!strcmp(which, "all") || !strcmp(which, "echo"))
    pairs("fiber_echo", "vigil-fiber", "vigil", echo_fiber, echo_callback,
          n ? n : PERF_PINGPONG_N, k);
  if (!strcmp(which, "all") || !strcmp(which, "memory"))
    memory_vigil(n ? n : 100000ul);
  return 0;
}
