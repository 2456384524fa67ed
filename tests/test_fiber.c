/*
 * test_fiber.c -- fibers (core/fiber.c, pal/{posix,win32}/fiber.c).
 *
 * Each test runs fibers on a fresh loop with vg_run(VG_RUN_DEFAULT) and
 * expects the loop to end by itself: a fiber that never resumed, or a
 * request nobody completes, shows up as a hang (ctest's timeout) or as
 * vg_loop_close() refusing.  Sockets are real loopback TCP; the overflow
 * test runs in a child process and asserts how it died.
 *
 * Map: 1. helpers; 2. scheduling (create, join, yield, sleep, nesting,
 * many fibers); 3. TCP in blocking style; 4. channels with threads;
 * 5. cancellation and close; 6. fibers and callbacks on one loop;
 * 7. the guard page; 8. the suite table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <signal.h>
#endif

#include <apr_thread_proc.h>

#include "test.h"
#include "vigil_fiber.h"
#include "pal_fiber.h"

/* ---- 1. helpers ------------------------------------------------------ */

/* Run until nothing is left; the loop must close. */
static void run_and_close(vg_loop_t *loop) {
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(vg_fiber_count(loop), 0);
  CU_ASSERT_EQUAL(vg_loop_close(loop), APR_SUCCESS);
}

static void free_handle(vg_handle_t *h) { free(h); }

static vg_tcp_t *listen_any(vg_loop_t *loop, vg_addr_t *addr) {
  vg_tcp_t *srv = calloc(1, sizeof *srv);
  CU_ASSERT_FATAL(srv != NULL);
  CU_ASSERT_EQUAL_FATAL(vg_addr_ip(addr, "127.0.0.1", 0), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_init(loop, srv), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_bind(srv, addr, 0), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_listen(srv, 128, NULL), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_sockname(srv, addr), APR_SUCCESS);
  return srv;
}

/* vg_listen() with a NULL callback is a callback of the caller's; the
 * fiber tests bind only and let vg_fiber_accept listen. */
static vg_tcp_t *bind_any(vg_loop_t *loop, vg_addr_t *addr) {
  vg_tcp_t *srv = calloc(1, sizeof *srv);
  CU_ASSERT_FATAL(srv != NULL);
  CU_ASSERT_EQUAL_FATAL(vg_addr_ip(addr, "127.0.0.1", 0), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_init(loop, srv), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_bind(srv, addr, 0), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_sockname(srv, addr), APR_SUCCESS);
  return srv;
}

/* ---- 2. scheduling ----------------------------------------------------- */

static int outside_results_ok(void) {
  vg_tcp_t t;
  char b[4];
  size_t n = 7;
  void *m;
  memset(&t, 0, sizeof t);
  return vg_fiber_self() == NULL && vg_fiber_sleep(1) == APR_EINVAL &&
         vg_fiber_join(NULL) == APR_EINVAL &&
         vg_fiber_tcp_connect(&t, NULL) == APR_EINVAL &&
         vg_fiber_accept(&t, &t) == APR_EINVAL &&
         vg_fiber_read(&t, b, sizeof b, &n) == APR_EINVAL && n == 0 &&
         vg_fiber_write(&t, b, sizeof b) == APR_EINVAL &&
         vg_fiber_chan_send(NULL, NULL) == APR_EINVAL &&
         vg_fiber_chan_recv(NULL, &m) == APR_EINVAL;
}

typedef struct {
  int ran;
  vg_fiber_t *self;
  vg_loop_t *loop;
} basic_t;

static void basic_fn(void *arg) {
  basic_t *b = arg;
  b->ran++;
  b->self = vg_fiber_self();
}

typedef struct {
  vg_fiber_t *target;
  apr_status_t rv;
} join_t;

static void join_one(void *arg) {
  join_t *j = arg;
  j->rv = vg_fiber_join(j->target);
}

static void test_outside_einval(void) {
  vg_loop_t *loop = vg_test_new_loop();
  basic_t b = {0, NULL, NULL};
  vg_fiber_t *f = NULL;
  join_t j;

  CU_ASSERT(outside_results_ok());
  vg_fiber_yield();   /* nothing outside a fiber */
  CU_ASSERT_EQUAL(vg_fiber_create(loop, &f, NULL, NULL, 0), APR_EINVAL);
  /* Created, but it starts on the loop, not inside the call. */
  CU_ASSERT_EQUAL(vg_fiber_create(loop, &f, basic_fn, &b, 0), APR_SUCCESS);
  CU_ASSERT_EQUAL(b.ran, 0);
  CU_ASSERT_EQUAL(vg_fiber_count(loop), 1);
  /* Not joined: it keeps the loop from closing. */
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(b.ran, 1);
  CU_ASSERT_PTR_EQUAL(b.self, f);
  CU_ASSERT_EQUAL(vg_loop_close(loop), VG_EBUSY);
  /* Join it from a fiber to free it. */
  j.target = f;
  j.rv = -1;
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, join_one, &j, 0), APR_SUCCESS);
  run_and_close(loop);
  CU_ASSERT_EQUAL(j.rv, APR_SUCCESS);
}

/* Nested: each level creates a child fiber, sleeps, yields, and joins
 * it; the innermost recurses on its own stack between blocking calls. */
typedef struct {
  int depth;
  int *trace;
  int *ntrace;
  apr_status_t rv;
} nest_t;

static int recurse_and_block(int n) {
  volatile char pad[256];
  pad[0] = (char)n;
  if (n == 0)
    return vg_fiber_sleep(1) == APR_SUCCESS ? 1 : -1000;
  vg_fiber_yield();
  return recurse_and_block(n - 1) + 1 + pad[0] * 0;
}

static vg_loop_t *nest_loop;

static void nest2_fn(void *arg) {
  nest_t *me = arg;
  nest_t child;
  vg_fiber_t *f;

  me->trace[(*me->ntrace)++] = me->depth;
  me->rv = APR_EGENERAL;
  if (me->depth == 0) {
    me->rv = recurse_and_block(20) == 21 ? APR_SUCCESS : APR_EGENERAL;
    return;
  }
  child = *me;
  child.depth = me->depth - 1;
  child.rv = -1;
  if (vg_fiber_create(nest_loop, &f, nest2_fn, &child, 0) != APR_SUCCESS)
    return;
  if (vg_fiber_sleep(2) != APR_SUCCESS)
    return;
  vg_fiber_yield();
  if (vg_fiber_join(f) != APR_SUCCESS || child.rv != APR_SUCCESS)
    return;
  me->rv = APR_SUCCESS;
}

static void test_nested(void) {
  vg_loop_t *loop = vg_test_new_loop();
  int trace[16], ntrace = 0;
  nest_t top = {8, trace, &ntrace, -1};
  int i;

  nest_loop = loop;
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, nest2_fn, &top, 0),
                  APR_SUCCESS);
  run_and_close(loop);
  CU_ASSERT_EQUAL(top.rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(ntrace, 9);
  for (i = 0; i < ntrace && i < 9; i++)
    CU_ASSERT_EQUAL(trace[i], 8 - i);
}

/* Many fibers on small stacks, interleaving: each yields a few times and
 * bumps a shared counter; a collector fiber joins them all. */
#define MANY 5000
typedef struct {
  vg_fiber_t *f[MANY];
  int steps, order_errors, last;
  apr_status_t rv;
  vg_loop_t *loop;
} many_t;

static many_t *many;

static void many_worker(void *arg) {
  int id = (int)(intptr_t)arg, i;
  for (i = 0; i < 3; i++) {
    many->steps++;
    /* Round robin: within a round, fibers run in creation order. */
    if (i == 0 && id != 0 && many->last != id - 1)
      many->order_errors++;
    if (i == 0)
      many->last = id;
    vg_fiber_yield();
  }
}

static void many_collector(void *arg) {
  int i;
  (void)arg;
  many->rv = APR_SUCCESS;
  for (i = 0; i < MANY; i++)
    if (vg_fiber_join(many->f[i]) != APR_SUCCESS)
      many->rv = APR_EGENERAL;
}

static void test_many(void) {
  vg_loop_t *loop = vg_test_new_loop();
  int i;

  many = calloc(1, sizeof *many);
  CU_ASSERT_FATAL(many != NULL);
  many->rv = -1;
  for (i = 0; i < MANY; i++)
    CU_ASSERT_EQUAL_FATAL(vg_fiber_create(loop, &many->f[i], many_worker,
                                          (void *)(intptr_t)i, 16384),
                          APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, many_collector, NULL, 0),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_count(loop), MANY + 1);
  run_and_close(loop);
  CU_ASSERT_EQUAL(many->rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(many->steps, 3 * MANY);
  CU_ASSERT_EQUAL(many->order_errors, 0);
  free(many);
}

/* Sleep: the loop is idle while a fiber sleeps (a handful of
 * iterations, not a spin), and the fiber wakes after the time asked. */
typedef struct {
  uint64_t t0, t1;
  apr_status_t rv;
} sleep_t;

static void sleeper(void *arg) {
  sleep_t *s = arg;
  s->t0 = pal_hrtime();
  s->rv = vg_fiber_sleep(120);
  s->t1 = pal_hrtime();
}

static void test_sleep(void) {
  vg_loop_t *loop = vg_test_new_loop();
  sleep_t s = {0, 0, -1};
  uint64_t it0;

  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, sleeper, &s, 0), APR_SUCCESS);
  it0 = vg_loop_iterations(loop);
  run_and_close(loop);
  CU_ASSERT_EQUAL(s.rv, APR_SUCCESS);
  /* Idle first: start, the sleep's wait, and the wake-up (plus a spare
   * for a wait that returns a millisecond early on a busy machine). */
  CU_ASSERT(vg_loop_iterations(loop) - it0 <= 6);
  CU_ASSERT((s.t1 - s.t0) / 1000000u >= 119);
  CU_ASSERT((s.t1 - s.t0) / 1000000u < 120 + 5000);
}

static void joiner_of_detached(void *arg) {
  vg_fiber_t **f = arg;
  vg_fiber_t *self = vg_fiber_self();
  /* Join of itself and of a finished, already joined fiber's like: EINVAL */
  *f = (vg_fiber_join(self) == APR_EINVAL) ? self : NULL;
}

static void test_join_rules(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_fiber_t *got = NULL;

  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, joiner_of_detached, &got, 0),
                  APR_SUCCESS);
  run_and_close(loop);
  CU_ASSERT_PTR_NOT_NULL(got);
}

/* ---- 3. TCP in blocking style ---------------------------------------- */

#define BIG (4u * 1024u * 1024u)

typedef struct {
  vg_loop_t *loop;
  vg_tcp_t *srv;
  vg_addr_t addr;
  int conns;                    /* connections the server will take */
  apr_status_t srv_rv, cli_rv;
  size_t cli_bytes;
  int bad;
} echo_t;

static void echo_conn(void *arg) {
  vg_tcp_t *c = arg;
  char *buf = malloc(65536);
  size_t n;
  while (buf != NULL &&
         vg_fiber_read(c, buf, 65536, &n) == APR_SUCCESS)
    if (vg_fiber_write(c, buf, n) != APR_SUCCESS)
      break;
  free(buf);
  vg_close((vg_handle_t *)c, free_handle);
}

static void echo_server(void *arg) {
  echo_t *e = arg;
  int i;
  e->srv_rv = APR_SUCCESS;
  for (i = 0; i < e->conns; i++) {
    vg_tcp_t *c = calloc(1, sizeof *c);
    apr_status_t rv;
    vg_tcp_init(e->loop, c);
    rv = vg_fiber_accept(e->srv, c);
    if (rv != APR_SUCCESS) {
      e->srv_rv = rv;
      vg_close((vg_handle_t *)c, free_handle);
      break;
    }
    if (vg_fiber_create(e->loop, NULL, echo_conn, c, 0) != APR_SUCCESS)
      e->srv_rv = APR_EGENERAL;
  }
  vg_close((vg_handle_t *)e->srv, free_handle);
}

typedef struct {
  echo_t *e;
  vg_tcp_t *c;
  size_t got;
} reader_t;

static void big_reader(void *arg) {
  reader_t *r = arg;
  unsigned char buf[3000];
  size_t n, i;
  while (r->got < BIG &&
         vg_fiber_read(r->c, buf, sizeof buf, &n) == APR_SUCCESS) {
    for (i = 0; i < n; i++)
      if (buf[i] != (unsigned char)((r->got + i) % 251))
        r->e->bad++;
    r->got += n;
    if ((r->got / sizeof buf) % 97 == 0)
      vg_fiber_sleep(1);   /* a slow reader: the writer must wait */
  }
}

static void echo_client(void *arg) {
  echo_t *e = arg;
  vg_tcp_t *c = calloc(1, sizeof *c);
  unsigned char *data = malloc(BIG);
  vg_fiber_t *rf;
  reader_t r;
  size_t i;

  e->cli_rv = APR_EGENERAL;
  vg_tcp_init(e->loop, c);
  if (data == NULL || vg_fiber_tcp_connect(c, &e->addr) != APR_SUCCESS)
    goto out;
  for (i = 0; i < BIG; i++)
    data[i] = (unsigned char)(i % 251);
  r.e = e;
  r.c = c;
  r.got = 0;
  if (vg_fiber_create(e->loop, &rf, big_reader, &r, 0) != APR_SUCCESS)
    goto out;
  /* One big write: most of it cannot go out at once. */
  e->cli_rv = vg_fiber_write(c, data, BIG);
  memset(data, 0, BIG);   /* the write promised the buffer is ours again */
  vg_fiber_join(rf);
  e->cli_bytes = r.got;
out:
  free(data);
  vg_close((vg_handle_t *)c, free_handle);
}

static void test_tcp_echo(void) {
  vg_loop_t *loop = vg_test_new_loop();
  echo_t e;

  memset(&e, 0, sizeof e);
  e.loop = loop;
  e.conns = 1;
  e.srv = bind_any(loop, &e.addr);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, echo_server, &e, 0),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, echo_client, &e, 0),
                  APR_SUCCESS);
  run_and_close(loop);
  CU_ASSERT_EQUAL(e.srv_rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(e.cli_rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(e.cli_bytes, BIG);
  CU_ASSERT_EQUAL(e.bad, 0);
}

/* Many clients at once, each a fiber with a few round trips. */
#define NCLI 200
typedef struct {
  echo_t *e;
  int ok;
} cli_t;

static int cli_ok;

static void small_client(void *arg) {
  echo_t *e = arg;
  vg_tcp_t *c = calloc(1, sizeof *c);
  char out[32], in[32];
  size_t n, got;
  int i;

  vg_tcp_init(e->loop, c);
  if (vg_fiber_tcp_connect(c, &e->addr) != APR_SUCCESS)
    goto out;
  for (i = 0; i < 5; i++) {
    snprintf(out, sizeof out, "hello %p %d", (void *)c, i);
    if (vg_fiber_write(c, out, strlen(out)) != APR_SUCCESS)
      goto out;
    for (got = 0; got < strlen(out); got += n)
      if (vg_fiber_read(c, in + got, strlen(out) - got, &n) != APR_SUCCESS)
        goto out;
    if (memcmp(in, out, strlen(out)) != 0)
      goto out;
  }
  cli_ok++;
out:
  vg_close((vg_handle_t *)c, free_handle);
}

static void test_tcp_many_clients(void) {
  vg_loop_t *loop = vg_test_new_loop();
  echo_t e;
  int i;

  memset(&e, 0, sizeof e);
  e.loop = loop;
  e.conns = NCLI;
  e.srv = bind_any(loop, &e.addr);
  cli_ok = 0;
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, echo_server, &e, 0),
                  APR_SUCCESS);
  for (i = 0; i < NCLI; i++)
    CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, small_client, &e, 0),
                    APR_SUCCESS);
  run_and_close(loop);
  CU_ASSERT_EQUAL(e.srv_rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(cli_ok, NCLI);
}

static void refused_client(void *arg) {
  echo_t *e = arg;
  vg_tcp_t *c = calloc(1, sizeof *c);
  vg_tcp_init(e->loop, c);
  e->cli_rv = vg_fiber_tcp_connect(c, &e->addr);
  vg_close((vg_handle_t *)c, free_handle);
}

static void test_tcp_refused(void) {
  vg_loop_t *loop = vg_test_new_loop();
  echo_t e;
  vg_tcp_t *srv;

  memset(&e, 0, sizeof e);
  e.loop = loop;
  /* A port nobody listens on: bind, learn the port, close. */
  srv = bind_any(loop, &e.addr);
  vg_close((vg_handle_t *)srv, free_handle);
  vg_run(loop, VG_RUN_DEFAULT);
  e.cli_rv = -1;
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, refused_client, &e, 0),
                  APR_SUCCESS);
  run_and_close(loop);
  CU_ASSERT(e.cli_rv != APR_SUCCESS && e.cli_rv != -1);
  CU_ASSERT(APR_STATUS_IS_ECONNREFUSED(e.cli_rv));
}

/* ---- 4. channels ------------------------------------------------------ */

#define NTHREADS 3
#define PER_THREAD 3000

typedef struct {
  vg_chan_t *chan;
  int id;
} prod_t;

static void *APR_THREAD_FUNC producer(apr_thread_t *t, void *arg) {
  prod_t *p = arg;
  int i;
  for (i = 1; i <= PER_THREAD; i++)
    vg_chan_send(p->chan, (void *)(intptr_t)((p->id << 20) | i));
  apr_thread_exit(t, APR_SUCCESS);
  return NULL;
}

typedef struct {
  vg_chan_t *chan;
  int next[NTHREADS + 1];
  int got, bad;
  apr_status_t last;
} consumer_t;

static void consumer(void *arg) {
  consumer_t *c = arg;
  void *m;
  apr_status_t rv;
  while ((rv = vg_fiber_chan_recv(c->chan, &m)) == APR_SUCCESS) {
    int id = (int)((intptr_t)m >> 20), seq = (int)((intptr_t)m & 0xfffff);
    if (id < 0 || id > NTHREADS || seq != c->next[id] + 1)
      c->bad++;
    else
      c->next[id] = seq;
    if (++c->got == NTHREADS * PER_THREAD + 500)
      vg_close((vg_handle_t *)c->chan, free_handle);
  }
  c->last = rv;
}

static void fiber_producer(void *arg) {
  prod_t *p = arg;
  int i;
  for (i = 1; i <= 500; i++)
    if (vg_fiber_chan_send(p->chan, (void *)(intptr_t)((p->id << 20) | i))
        != APR_SUCCESS)
      break;
}

static void test_chan_threads_and_fibers(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_chan_t *chan = calloc(1, sizeof *chan);
  apr_thread_t *th[NTHREADS];
  prod_t p[NTHREADS + 1];
  consumer_t c;
  apr_status_t trv;
  int i;

  memset(&c, 0, sizeof c);
  CU_ASSERT_EQUAL_FATAL(vg_fiber_chan_init(loop, chan, 64), APR_SUCCESS);
  c.chan = chan;
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, consumer, &c, 0),
                  APR_SUCCESS);
  p[NTHREADS].chan = chan;
  p[NTHREADS].id = NTHREADS;
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, fiber_producer, &p[NTHREADS],
                                  0), APR_SUCCESS);
  for (i = 0; i < NTHREADS; i++) {
    p[i].chan = chan;
    p[i].id = i;
    CU_ASSERT_EQUAL_FATAL(apr_thread_create(&th[i], NULL, producer, &p[i],
                                            vg_test_pool), APR_SUCCESS);
  }
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  for (i = 0; i < NTHREADS; i++)
    apr_thread_join(&trv, th[i]);
  CU_ASSERT_EQUAL(c.got, NTHREADS * PER_THREAD + 500);
  CU_ASSERT_EQUAL(c.bad, 0);
  CU_ASSERT_EQUAL(c.last, VG_ECLOSING);
  run_and_close(loop);
}

/* Fiber to fiber, bounded 1: the sender waits for room each time; a
 * second receiver shares the stream in call order; a plain channel is
 * refused by vg_fiber_chan_recv. */
typedef struct {
  vg_chan_t *chan, *plain;
  int sum[2], count[2];
  apr_status_t plain_rv;
} pingc_t;

static pingc_t *pc;

static void pc_recv(void *arg) {
  int me = (int)(intptr_t)arg;
  void *m;
  while (vg_fiber_chan_recv(pc->chan, &m) == APR_SUCCESS) {
    pc->sum[me] += (int)(intptr_t)m;
    pc->count[me]++;
    vg_fiber_yield();
  }
}

static void pc_send(void *arg) {
  void *m;
  int i;
  (void)arg;
  pc->plain_rv = vg_fiber_chan_recv(pc->plain, &m);
  for (i = 1; i <= 1000; i++)
    vg_fiber_chan_send(pc->chan, (void *)(intptr_t)i);
  vg_fiber_sleep(20);
  vg_close((vg_handle_t *)pc->chan, free_handle);
  vg_close((vg_handle_t *)pc->plain, free_handle);
}

static void plain_cb(vg_chan_t *c, void *m) {
  (void)c;
  (void)m;
}

static void test_chan_fibers(void) {
  vg_loop_t *loop = vg_test_new_loop();
  pingc_t st;

  memset(&st, 0, sizeof st);
  pc = &st;
  st.chan = calloc(1, sizeof *st.chan);
  st.plain = calloc(1, sizeof *st.plain);
  CU_ASSERT_EQUAL_FATAL(vg_fiber_chan_init(loop, st.chan, 1), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_chan_init(loop, st.plain, 0, plain_cb),
                        APR_SUCCESS);
  vg_fiber_create(loop, NULL, pc_recv, (void *)0, 0);
  vg_fiber_create(loop, NULL, pc_recv, (void *)1, 0);
  vg_fiber_create(loop, NULL, pc_send, NULL, 0);
  run_and_close(loop);
  CU_ASSERT_EQUAL(st.plain_rv, APR_EINVAL);
  CU_ASSERT_EQUAL(st.count[0] + st.count[1], 1000);
  CU_ASSERT_EQUAL(st.sum[0] + st.sum[1], 1000 * 1001 / 2);
  CU_ASSERT(st.count[0] > 0 && st.count[1] > 0);
}

/* ---- 5. cancellation and close ---------------------------------------- */

typedef struct {
  vg_loop_t *loop;
  vg_addr_t addr;
  vg_tcp_t *srv;
  vg_chan_t *chan;
  vg_fiber_t *victim;
  apr_status_t rv[8];
  int done[8];
  int after[8];                 /* a blocking call after the cancel */
} cancel_t;

static cancel_t *cx;

static void c_after(int i) {
  cx->after[i] = vg_fiber_sleep(10) == VG_ECANCELED;
  cx->done[i] = 1;
}

static void c_sleep(void *a) {
  (void)a;
  cx->rv[0] = vg_fiber_sleep(60000);
  c_after(0);
}

static void c_accept(void *a) {
  vg_tcp_t *c = calloc(1, sizeof *c);
  (void)a;
  vg_tcp_init(cx->loop, c);
  cx->rv[1] = vg_fiber_accept(cx->srv, c);
  vg_close((vg_handle_t *)c, free_handle);
  c_after(1);
}

static void c_victim(void *a) {
  (void)a;
  vg_fiber_sleep(60000);
}

static void c_join(void *a) {
  (void)a;
  cx->rv[2] = vg_fiber_join(cx->victim);
  c_after(2);
}

static void c_recv(void *a) {
  void *m;
  (void)a;
  cx->rv[3] = vg_fiber_chan_recv(cx->chan, &m);
  c_after(3);
}

/* A reader whose peer never writes, and a writer whose peer never
 * reads: both block until shutdown. */
static void c_read(void *a) {
  vg_tcp_t *c = calloc(1, sizeof *c);
  char buf[16];
  size_t n;
  (void)a;
  vg_tcp_init(cx->loop, c);
  if (vg_fiber_tcp_connect(c, &cx->addr) == APR_SUCCESS)
    cx->rv[4] = vg_fiber_read(c, buf, sizeof buf, &n);
  vg_close((vg_handle_t *)c, free_handle);
  c_after(4);
}

static void c_write(void *a) {
  vg_tcp_t *c = calloc(1, sizeof *c);
  char *big = calloc(1, 1 << 20);
  int i;
  (void)a;
  vg_tcp_init(cx->loop, c);
  cx->rv[6] = vg_fiber_tcp_connect(c, &cx->addr);
  cx->rv[5] = APR_SUCCESS;
  for (i = 0; i < 256 && cx->rv[5] == APR_SUCCESS; i++)
    cx->rv[5] = vg_fiber_write(c, big, 1 << 20);
  free(big);
  vg_close((vg_handle_t *)c, free_handle);
  c_after(5);
}

static int all_done(void *a) {
  int i;
  (void)a;
  for (i = 0; i < 6; i++)
    if (!cx->done[i])
      return 0;
  return 1;
}

static void shutdown_cb(vg_timer_t *t) {
  vg_fiber_shutdown(t->loop);
  vg_close((vg_handle_t *)t, free_handle);
}

static void test_cancel_all(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_timer_t *t = calloc(1, sizeof *t);
  vg_tcp_t *listener;
  vg_fiber_t *tmp;
  int i;

  cx = calloc(1, sizeof *cx);
  cx->loop = loop;
  for (i = 0; i < 8; i++)
    cx->rv[i] = -1;
  /* A plain listener (callback NULL, never accepts) for c_io, and a
   * separate bound socket for the accepting fiber. */
  listener = listen_any(loop, &cx->addr);
  {
    vg_addr_t a2;
    cx->srv = bind_any(loop, &a2);
  }
  cx->chan = calloc(1, sizeof *cx->chan);
  CU_ASSERT_EQUAL_FATAL(vg_fiber_chan_init(loop, cx->chan, 0), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, c_sleep, NULL, 0),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, c_accept, NULL, 0),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, &cx->victim, c_victim, NULL, 0),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, c_join, NULL, 0),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, c_recv, NULL, 0),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, c_read, NULL, 0),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, c_write, NULL, 0),
                  APR_SUCCESS);
  vg_timer_init(loop, t);
  vg_timer_start(t, shutdown_cb, 300, 0);
  /* Until the shutdown has unwound every fiber; the listeners and the
   * channel are ours to close afterwards. */
  CU_ASSERT(vg_test_run_cond(loop, all_done, NULL, 10000));
  for (i = 0; i < 6; i++) {
    CU_ASSERT_EQUAL(cx->done[i], 1);
    CU_ASSERT_EQUAL(cx->after[i], 1);
  }
  CU_ASSERT_EQUAL(cx->rv[0], VG_ECANCELED);
  CU_ASSERT_EQUAL(cx->rv[1], VG_ECANCELED);
  CU_ASSERT_EQUAL(cx->rv[2], VG_ECANCELED);
  CU_ASSERT_EQUAL(cx->rv[3], VG_ECANCELED);
  CU_ASSERT_EQUAL(cx->rv[6], APR_SUCCESS);
  CU_ASSERT_EQUAL(cx->rv[4], VG_ECANCELED);
  CU_ASSERT_EQUAL(cx->rv[5], VG_ECANCELED);
  /* New fibers are refused after shutdown. */
  CU_ASSERT_EQUAL(vg_fiber_create(loop, &tmp, c_victim, NULL, 0),
                  VG_ECANCELED);
  vg_close((vg_handle_t *)listener, free_handle);
  vg_close((vg_handle_t *)cx->srv, free_handle);
  vg_close((vg_handle_t *)cx->chan, free_handle);
  run_and_close(loop);
  free(cx);
}

/* Closing a handle under a blocked fiber wakes it with VG_ECLOSING. */
typedef struct {
  vg_loop_t *loop;
  vg_tcp_t *client, *srv, *wclient;
  vg_addr_t addr;
  apr_status_t read_rv, accept_rv, write_rv;
} closing_t;

static closing_t *cl;

static void cl_reader(void *a) {
  char buf[8];
  size_t n;
  (void)a;
  cl->client = calloc(1, sizeof *cl->client);
  vg_tcp_init(cl->loop, cl->client);
  if (vg_fiber_tcp_connect(cl->client, &cl->addr) != APR_SUCCESS)
    return;
  cl->read_rv = vg_fiber_read(cl->client, buf, sizeof buf, &n);
}

/* Writes until the socket is full (the peer never reads), then blocks. */
static void cl_writer(void *a) {
  char *big = calloc(1, 1 << 20);
  int i;
  (void)a;
  cl->wclient = calloc(1, sizeof *cl->wclient);
  vg_tcp_init(cl->loop, cl->wclient);
  if (big == NULL || vg_fiber_tcp_connect(cl->wclient, &cl->addr) != 0)
    return;
  cl->write_rv = APR_SUCCESS;
  for (i = 0; i < 256 && cl->write_rv == APR_SUCCESS; i++)
    cl->write_rv = vg_fiber_write(cl->wclient, big, 1 << 20);
  free(big);
}

static void cl_acceptor(void *a) {
  vg_tcp_t c;
  (void)a;
  vg_tcp_init(cl->loop, &c);
  cl->accept_rv = vg_fiber_accept(cl->srv, &c);
  vg_close((vg_handle_t *)&c, NULL);
  vg_fiber_sleep(50);   /* c's close phase before the frame goes */
}

static void cl_closer(void *a) {
  vg_tcp_t *lst;
  (void)a;
  vg_fiber_sleep(200);
  vg_close((vg_handle_t *)cl->client, free_handle);
  vg_close((vg_handle_t *)cl->wclient, free_handle);
  lst = cl->srv;
  vg_close((vg_handle_t *)lst, free_handle);
}

static void test_close_wakes(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_tcp_t *listener;
  vg_addr_t a2;

  cl = calloc(1, sizeof *cl);
  cl->loop = loop;
  cl->read_rv = cl->accept_rv = cl->write_rv = -1;
  listener = listen_any(loop, &cl->addr);
  cl->srv = bind_any(loop, &a2);
  vg_fiber_create(loop, NULL, cl_reader, NULL, 0);
  vg_fiber_create(loop, NULL, cl_acceptor, NULL, 0);
  vg_fiber_create(loop, NULL, cl_writer, NULL, 0);
  vg_fiber_create(loop, NULL, cl_closer, NULL, 0);
  vg_unref((vg_handle_t *)listener);
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT_EQUAL(cl->read_rv, VG_ECLOSING);
  CU_ASSERT_EQUAL(cl->accept_rv, VG_ECLOSING);
  CU_ASSERT_EQUAL(cl->write_rv, VG_ECANCELED);   /* its request cancelled */
  vg_close((vg_handle_t *)listener, free_handle);
  run_and_close(loop);
  free(cl);
}

/* ---- 6. fibers and callbacks on one loop ------------------------------ */

typedef struct {
  vg_loop_t *loop;
  vg_addr_t addr;
  int ticks;
  vg_timer_t tick;
  int echoed;
  apr_status_t rv;
} mixed_t;

static mixed_t *mx;

static void tick_cb(vg_timer_t *t) {
  if (++mx->ticks == 20)
    vg_close((vg_handle_t *)t, NULL);
}

/* A callback-style echo server (one connection). */
static vg_tcp_t mx_srv, mx_conn;
static char mx_buf[256];
static vg_write_t mx_wreq;

static void mx_alloc(vg_handle_t *h, size_t s, vg_buf_t *b) {
  (void)h;
  (void)s;
  b->base = mx_buf;
  b->len = sizeof mx_buf;
}

static void mx_read(vg_stream_t *s, apr_status_t st, size_t n,
                    const vg_buf_t *b) {
  vg_buf_t w;
  if (st != APR_SUCCESS) {
    vg_close((vg_handle_t *)s, NULL);
    vg_close((vg_handle_t *)&mx_srv, NULL);
    return;
  }
  if (n == 0)
    return;
  w.base = b->base;
  w.len = n;
  vg_write(&mx_wreq, s, &w, 1, NULL);
}

static void mx_connection(vg_stream_t *srv, apr_status_t st) {
  if (st != APR_SUCCESS)
    return;
  vg_tcp_init(srv->loop, &mx_conn);
  vg_accept(srv, &mx_conn);
  vg_read_start(&mx_conn, mx_alloc, mx_read);
}

static void mx_client(void *a) {
  vg_tcp_t *c = calloc(1, sizeof *c);
  char in[8];
  size_t n, got;
  int i;
  (void)a;
  mx->rv = APR_EGENERAL;
  vg_tcp_init(mx->loop, c);
  if (vg_fiber_tcp_connect(c, &mx->addr) != APR_SUCCESS)
    goto out;
  for (i = 0; i < 50; i++) {
    if (vg_fiber_write(c, "ping", 4) != APR_SUCCESS)
      goto out;
    for (got = 0; got < 4; got += n)
      if (vg_fiber_read(c, in + got, 4 - got, &n) != APR_SUCCESS)
        goto out;
    if (memcmp(in, "ping", 4) == 0)
      mx->echoed++;
    if (i % 10 == 0)
      vg_fiber_sleep(3);
  }
  mx->rv = APR_SUCCESS;
out:
  vg_close((vg_handle_t *)c, free_handle);
}

static void test_mixed(void) {
  vg_loop_t *loop = vg_test_new_loop();

  mx = calloc(1, sizeof *mx);
  mx->loop = loop;
  CU_ASSERT_EQUAL_FATAL(vg_addr_ip(&mx->addr, "127.0.0.1", 0), APR_SUCCESS);
  vg_tcp_init(loop, &mx_srv);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_bind(&mx_srv, &mx->addr, 0), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_listen(&mx_srv, 16, mx_connection), APR_SUCCESS);
  vg_tcp_sockname(&mx_srv, &mx->addr);
  vg_timer_init(loop, &mx->tick);
  vg_timer_start(&mx->tick, tick_cb, 1, 1);
  CU_ASSERT_EQUAL(vg_fiber_create(loop, NULL, mx_client, NULL, 0),
                  APR_SUCCESS);
  run_and_close(loop);
  CU_ASSERT_EQUAL(mx->rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(mx->echoed, 50);
  CU_ASSERT_EQUAL(mx->ticks, 20);
  free(mx);
}

/* ---- 7. the guard page ------------------------------------------------- */

/* Recurse until the stack in use passes `target` bytes below the first
 * frame.  POSIX: the target lies half a page past the end of the
 * stack, inside the guard page -- which, without the guard, is writable
 * memory of the same mapping, so the child would survive and exit 7
 * instead of dying.  Windows: far past the reservation. */
static uintptr_t overflow_top, overflow_target;

static int overflow_depth(int n) {
  volatile char frame[512];
  frame[0] = (char)n;
  frame[511] = 0;
  if (overflow_top - (uintptr_t)frame > overflow_target)
    return n;
  return overflow_depth(n + 1) + frame[511];
}

static void overflow_fn(void *a) {
  volatile char here = 0;
  int r;
  (void)a;
  overflow_top = (uintptr_t)&here;
#ifdef _WIN32
  overflow_target = 4u << 20;
#else
  {
    size_t page = pal_fiber_stack_footprint(0) / 2;
    overflow_target = pal_fiber_stack_footprint(16384) - page / 2;
  }
#endif
  r = overflow_depth(0);
  fprintf(stderr, "fiber-overflow: survived (%d)\n", r);
  exit(7);
}

static void victim_fn(void *a) { (void)a; }

/* Child: overflow a 16 KiB fiber stack. */
static int child_fiber_overflow(int argc, char **argv) {
  vg_loop_t *loop;
  (void)argc;
  (void)argv;
  if (vg_loop_create(&loop, NULL) != APR_SUCCESS ||
      vg_fiber_create(loop, NULL, overflow_fn, NULL, 16384) != APR_SUCCESS ||
      vg_fiber_create(loop, NULL, victim_fn, NULL, 16384) != APR_SUCCESS)
    return 3;
  vg_run(loop, VG_RUN_DEFAULT);
  return 4;
}

typedef struct {
  int exited, status, sig;
} ovf_t;

static void ovf_exit(vg_process_t *p, int status, int sig) {
  ovf_t *o = p->data;
  o->exited = 1;
  o->status = status;
  o->sig = sig;
  vg_close((vg_handle_t *)p, NULL);
}

static void test_overflow_crashes(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_process_t proc;
  vg_process_options_t opts;
  const char *args[] = {vg_test_self, "--child", "fiber-overflow", NULL};
  ovf_t o = {0, 0, 0};

  memset(&opts, 0, sizeof opts);
  opts.file = vg_test_self;
  opts.args = args;
  opts.exit_cb = ovf_exit;
  opts.stdio[2].kind = VG_STDIO_IGNORE;
  /* Sanitizers catch SIGSEGV to print a report and exit(1); the child
   * must die of the signal itself. */
  vg_test_setenv("ASAN_OPTIONS", "handle_segv=0:detect_leaks=0");
  vg_test_setenv("TSAN_OPTIONS", "handle_segv=0");
  proc.data = &o;
  CU_ASSERT_EQUAL_FATAL(vg_spawn(loop, &proc, &opts), APR_SUCCESS);
  vg_test_setenv("ASAN_OPTIONS", NULL);
  vg_test_setenv("TSAN_OPTIONS", NULL);
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT_EQUAL(o.exited, 1);
#ifdef _WIN32
  /* EXCEPTION_STACK_OVERFLOW as the exit code.  Wine reports the
   * overflow ("virtual_setup_exception stack overflow") but ends the
   * process with status 0 or 1 rather than the exception code: still
   * dead at the guard, not 7 (survived) or 3 (no fiber). */
  if (vg_test_is_wine()) {
    CU_ASSERT(o.status != 7 && o.status != 3);
  } else {
    CU_ASSERT_EQUAL((unsigned)o.status, 0xC00000FDu);
  }
#elif defined(__APPLE__)
  CU_ASSERT(o.sig == 100 + SIGSEGV || o.sig == 100 + SIGBUS);
#else
  CU_ASSERT_EQUAL(o.sig, 100 + SIGSEGV);
#endif
  vg_test_close_loop(loop);
}

/* ---- 7b. the examples, as real processes on real sockets ------------- */

typedef struct {
  vg_loop_t *loop;
  vg_process_t proc;
  vg_pipe_t out;
  vg_addr_t addr;
  int exited, status, sig;
  int ok;                       /* the scenario's checks, all passed */
} example_t;

static void ex_exit(vg_process_t *p, int status, int sig) {
  example_t *ex = p->data;
  ex->exited = 1;
  ex->status = status;
  ex->sig = sig;
  vg_close((vg_handle_t *)p, NULL);
}

/* Read from s until buf (NUL-terminated) contains `want`. */
static int read_until(vg_stream_t *s, char *buf, size_t cap, size_t *len,
                      const char *want) {
  size_t n;
  while (strstr(buf, want) == NULL) {
    if (*len + 1 >= cap ||
        vg_fiber_read(s, buf + *len, cap - 1 - *len, &n) != APR_SUCCESS)
      return 0;
    *len += n;
    buf[*len] = '\0';
  }
  return 1;
}

/* A client of the example: connected, with a receive buffer. */
typedef struct {
  vg_tcp_t *tcp;
  char buf[4096];
  size_t len;
} exc_t;

static int exc_open(example_t *ex, exc_t *c) {
  memset(c, 0, sizeof *c);
  c->tcp = calloc(1, sizeof *c->tcp);
  vg_tcp_init(ex->loop, c->tcp);
  return vg_fiber_tcp_connect(c->tcp, &ex->addr) == APR_SUCCESS;
}

static int exc_expect(exc_t *c, const char *want) {
  return read_until(c->tcp, c->buf, sizeof c->buf, &c->len, want);
}

static int exc_say(exc_t *c, const char *what) {
  return vg_fiber_write(c->tcp, what, strlen(what)) == APR_SUCCESS;
}

static void exc_close(exc_t *c) {
  if (c->tcp != NULL)
    vg_close((vg_handle_t *)c->tcp, free_handle);
  c->tcp = NULL;
}

/* Learn the port from "listening on 127.0.0.1:PORT\n". */
static int ex_wait_listening(example_t *ex) {
  char line[128] = "", *colon;
  size_t len = 0;
  if (!read_until(&ex->out, line, sizeof line, &len, "\n") ||
      strncmp(line, "listening on 127.0.0.1:", 23) != 0)
    return 0;
  colon = strrchr(line, ':');
  return vg_addr_ip(&ex->addr, "127.0.0.1", atoi(colon + 1)) == APR_SUCCESS;
}

static int ex_stop(example_t *ex) {
  int i;
  vg_process_kill(&ex->proc, VG_SIGTERM);
  for (i = 0; i < 500 && !ex->exited; i++)
    vg_fiber_sleep(10);
#ifdef _WIN32
  return ex->exited;
#else
  return ex->exited && ex->status == 0 && ex->sig == 0;   /* graceful */
#endif
}

static void echo_scenario(void *arg) {
  example_t *ex = arg;
  exc_t a, b;
  char big[50000];
  size_t i;
  int ok = ex_wait_listening(ex) && exc_open(ex, &a) && exc_open(ex, &b) &&
           exc_say(&a, "one\n") && exc_say(&b, "two\n") &&
           exc_expect(&b, "two\n") && exc_expect(&a, "one\n");
  for (i = 0; i < sizeof big - 1; i++)
    big[i] = (char)('a' + i % 26);
  big[sizeof big - 1] = '\0';
  /* 50 KB back, byte for byte (more than one read, more than the
   * socket takes at once on some systems). */
  ok = ok && exc_say(&a, big);
  for (i = 0; ok && i < sizeof big - 1; i += a.len) {
    if (vg_fiber_read(a.tcp, a.buf, sizeof a.buf, &a.len) != APR_SUCCESS ||
        memcmp(a.buf, big + i, a.len) != 0)
      ok = 0;
  }
  exc_close(&a);
  exc_close(&b);
  ex->ok = ex_stop(ex) && ok;
  vg_close((vg_handle_t *)&ex->out, NULL);
}

static void chat_scenario(void *arg) {
  example_t *ex = arg;
  exc_t a, b, c;
  int ok = ex_wait_listening(ex) &&
           exc_open(ex, &a) && exc_expect(&a, "welcome 1\n") &&
           exc_open(ex, &b) && exc_expect(&b, "welcome 2\n") &&
           exc_open(ex, &c) && exc_expect(&c, "welcome 3\n") &&
           exc_say(&a, "hello\n") && exc_expect(&b, "1> hello\n") &&
           exc_expect(&c, "1> hello\n") &&
           exc_say(&b, "hi\n") && exc_expect(&a, "2> hi\n") &&
           exc_expect(&c, "2> hi\n");
  /* The speaker hears nothing of its own. */
  ok = ok && strstr(a.buf, "1> ") == NULL && strstr(b.buf, "2> ") == NULL;
  exc_close(&a);
  ok = ok && exc_say(&b, "bye\n") && exc_expect(&c, "2> bye\n");
  exc_close(&b);
  exc_close(&c);
  ex->ok = ex_stop(ex) && ok;
  vg_close((vg_handle_t *)&ex->out, NULL);
}

static void run_example(const char *path, void (*scenario)(void *)) {
  example_t *ex = calloc(1, sizeof *ex);
  vg_process_options_t opts;
  const char *args[] = {path, "0", NULL};

  ex->loop = vg_test_new_loop();
  memset(&opts, 0, sizeof opts);
  opts.file = path;
  opts.args = args;
  opts.exit_cb = ex_exit;
  vg_pipe_init(ex->loop, &ex->out);
  opts.stdio[1].kind = VG_STDIO_PIPE;
  opts.stdio[1].pipe = &ex->out;
  ex->proc.data = ex;
  CU_ASSERT_EQUAL_FATAL(vg_spawn(ex->loop, &ex->proc, &opts), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_fiber_create(ex->loop, NULL, scenario, ex, 0),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_run(ex->loop, VG_RUN_DEFAULT), 0);
  if (!ex->exited)
    vg_test_pid_kill(ex->proc.pid);
  CU_ASSERT(ex->ok);
  CU_ASSERT_EQUAL(ex->exited, 1);
  run_and_close(ex->loop);
  free(ex);
}

static void test_example_echo(void) {
  run_example(VIGIL_FIBER_ECHO, echo_scenario);
}

static void test_example_chat(void) {
  run_example(VIGIL_FIBER_CHAT, chat_scenario);
}

const vg_child_mode_t vg_child_fiber_modes[] = {
  {"fiber-overflow", child_fiber_overflow},
  {NULL, NULL}
};

/* ---- 8. the suite ------------------------------------------------------ */

static CU_TestInfo fiber_tests[] = {
  {"outside a fiber: EINVAL; start on the loop", test_outside_einval},
  {"nested fibers, joins and recursion between blocking calls",
   test_nested},
  {"5000 fibers round robin, joined", test_many},
  {"sleep: idle loop, right duration", test_sleep},
  {"join rules", test_join_rules},
  {"TCP echo in blocking style, 4 MiB with a slow reader", test_tcp_echo},
  {"200 concurrent clients, one fiber each", test_tcp_many_clients},
  {"connect refused", test_tcp_refused},
  {"channel: threads and a fiber send, a fiber receives in order",
   test_chan_threads_and_fibers},
  {"channel between fibers, bounded 1, two receivers", test_chan_fibers},
  {"shutdown cancels every blocking call", test_cancel_all},
  {"closing a handle wakes its blocked fiber", test_close_wakes},
  {"fibers and callbacks on one loop", test_mixed},
  {"stack overflow hits the guard page", test_overflow_crashes},
  {"example: fiber echo server", test_example_echo},
  {"example: fiber chat server broadcasts", test_example_chat},
  CU_TEST_INFO_NULL
};

CU_SuiteInfo fiber_suite = {
  .pName = "fiber",
  .pInitFunc = NULL,
  .pCleanupFunc = NULL,
  .pSetUpFunc = NULL,
  .pTearDownFunc = NULL,
  .pTests = fiber_tests
};
