/*
 * bench_vigil.c -- the four workloads on libvigil.
 *
 * Uses nothing but the public API in vigil.h (and the APR it exposes:
 * apr_thread_create() for the second thread of the async benchmark).  Written like the libuv
 * version line for line, so the two can be compared by reading:
 * caller-embedded handles, a static read buffer, pre-allocated write
 * requests.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil.h"

/* ------------------------------------------------------------------ */
/* timers                                                               */
/* ------------------------------------------------------------------ */

static unsigned timers_fired;

static void timer_cb(vg_timer_t *t) {
  (void)t;
  timers_fired++;
}

/* timers -t churn: idle timeouts re-armed at random (perf/common.h). */
static int bench_timers_churn(unsigned n) {
  vg_loop_t *loop;
  vg_timer_t *timers;
  unsigned i, k, ms;

  timers = calloc(PERF_CHURN_TIMERS, sizeof *timers);
  if (!timers) return -1;
  PERF_CHECK(vg_loop_create(&loop, NULL));
  vg_update_time(loop);
  timers_fired = 0;
  for (i = 0; i < PERF_CHURN_TIMERS; i++) {
    vg_timer_init(loop, &timers[i]);
    vg_timer_start(&timers[i], timer_cb, perf_churn_initial(i), 0);
  }
  perf_begin();
  for (k = 0; k < n; k++) {
    perf_churn_rearm(k, &i, &ms);
    vg_timer_start(&timers[i], timer_cb, ms, 0);
    if ((k + 1) % PERF_CHURN_TICK == 0) vg_run(loop, VG_RUN_NOWAIT);
  }
  perf_end();
  for (i = 0; i < PERF_CHURN_TIMERS; i++)
    vg_close((vg_handle_t *)&timers[i], NULL);
  vg_run(loop, VG_RUN_DEFAULT);
  PERF_CHECK(vg_loop_close(loop));
  free(timers);
  return 0;
}

static int bench_timers(unsigned n) {
  vg_loop_t *loop;
  vg_timer_t *timers;
  unsigned i;

  if (perf_timers_churn()) return bench_timers_churn(n);

  timers = malloc((size_t)n * sizeof *timers);
  if (!timers) return -1;
  perf_fault_in(timers, (size_t)n * sizeof *timers);
  PERF_CHECK(vg_loop_create(&loop, NULL));
  vg_update_time(loop);
  timers_fired = 0;

  perf_begin();
  if (perf_timers_cancel()) {             /* start all, stop all */
    for (i = 0; i < n; i++) {
      vg_timer_init(loop, &timers[i]);
      vg_timer_start(&timers[i], timer_cb, perf_timer_timeout_spread(i), 0);
    }
    for (i = 0; i < n; i++) vg_timer_stop(&timers[perf_cancel_order(i, n)]);
    perf_end();
    if (timers_fired != 0) perf_fail("no timer fired", timers_fired);
  } else {                                /* start all, fire all */
    for (i = 0; i < n; i++) {
      vg_timer_init(loop, &timers[i]);
      vg_timer_start(&timers[i], timer_cb, perf_timer_timeout(i), 0);
    }
    perf_pause();
    perf_sleep_ms(PERF_TIMERS_MAXMS + 2); /* every deadline has passed */
    perf_resume();
    vg_run(loop, VG_RUN_DEFAULT);
    perf_end();
    if (timers_fired != n) perf_fail("all timers fired", timers_fired);
  }
  for (i = 0; i < n; i++) vg_close((vg_handle_t *)&timers[i], NULL);
  vg_run(loop, VG_RUN_DEFAULT);
  PERF_CHECK(vg_loop_close(loop));
  free(timers);
  return 0;
}

/* ------------------------------------------------------------------ */
/* pingpong                                                             */
/* ------------------------------------------------------------------ */

#define NSLOTS 4

typedef struct conn_s {
  vg_tcp_t tcp;
  int client;
  size_t have;                    /* client: bytes of the reply so far */
  vg_write_t wreq[NSLOTS];
  int wbusy[NSLOTS];
  char wbuf[NSLOTS][256];
  char rbuf[65536];
} conn_t;

static struct {
  vg_loop_t *loop;
  vg_tcp_t server;
  conn_t cli, srv;
  vg_connect_t creq;
  unsigned n, done, ready;
  char msg[PERF_PINGPONG_MSG];
} pp;

static void pp_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  conn_t *c = h->data;
  (void)suggested;
  buf->base = c->rbuf;
  buf->len = sizeof c->rbuf;
}

static void pp_write_cb(vg_write_t *req, apr_status_t status) {
  conn_t *c = req->data;
  c->wbusy[req - c->wreq] = 0;
  /* Once done, pp_finish() closes the streams: a write still in flight
   * (on IOCP the last echo may be) completes cancelled. */
  if (status && pp.done != pp.n) perf_fail("write", status);
}

static void pp_send(conn_t *c, const char *data, size_t len) {
  int i;
  vg_buf_t b;
  for (i = 0; i < NSLOTS && c->wbusy[i]; i++) {
  }
  if (i == NSLOTS || len > sizeof c->wbuf[0]) perf_fail("write slot", (long)len);
  memcpy(c->wbuf[i], data, len);
  c->wbusy[i] = 1;
  c->wreq[i].data = c;
  b.base = c->wbuf[i];
  b.len = len;
  PERF_CHECK(vg_write(&c->wreq[i], &c->tcp, &b, 1, pp_write_cb));
}

static void pp_finish(void) {
  perf_end();
  vg_close((vg_handle_t *)&pp.cli.tcp, NULL);
  vg_close((vg_handle_t *)&pp.srv.tcp, NULL);
  vg_close((vg_handle_t *)&pp.server, NULL);
}

static void pp_read(vg_stream_t *s, apr_status_t status, size_t nread,
                    const vg_buf_t *buf) {
  conn_t *c = s->data;
  if (status != APR_SUCCESS) {
    if (pp.done == pp.n) return;  /* EOF / cancel while closing */
    perf_fail("read", status);
  }
  if (nread == 0) return;
  if (!c->client) {               /* server: echo what arrived */
    pp_send(c, buf->base, nread);
    return;
  }
  c->have += nread;
  if (c->have < PERF_PINGPONG_MSG) return;
  c->have -= PERF_PINGPONG_MSG;
  if (++pp.done == pp.n) {
    pp_finish();
    return;
  }
  pp_send(c, pp.msg, sizeof pp.msg);
}

static void pp_start_if_ready(void) {
  if (++pp.ready < 2) return;
  PERF_CHECK(vg_read_start(&pp.cli.tcp, pp_alloc, pp_read));
  PERF_CHECK(vg_read_start(&pp.srv.tcp, pp_alloc, pp_read));
  perf_begin();
  pp_send(&pp.cli, pp.msg, sizeof pp.msg);
}

static void pp_connection(vg_stream_t *server, apr_status_t status) {
  if (status) perf_fail("connection", status);
  PERF_CHECK(vg_tcp_init(pp.loop, &pp.srv.tcp));
  pp.srv.tcp.data = &pp.srv;
  PERF_CHECK(vg_accept(server, &pp.srv.tcp));
  PERF_CHECK(vg_tcp_nodelay(&pp.srv.tcp, 1));
  pp_start_if_ready();
}

static void pp_connect(vg_connect_t *req, apr_status_t status) {
  (void)req;
  if (status) perf_fail("connect", status);
  PERF_CHECK(vg_tcp_nodelay(&pp.cli.tcp, 1));
  pp_start_if_ready();
}

static int bench_pingpong(unsigned n) {
  vg_addr_t addr, bound;

  memset(&pp, 0, sizeof pp);
  memset(pp.msg, 'x', sizeof pp.msg);
  pp.n = n;
  pp.cli.client = 1;
  PERF_CHECK(vg_loop_create(&pp.loop, NULL));
  PERF_CHECK(vg_addr_ip(&addr, "127.0.0.1", 0));
  PERF_CHECK(vg_tcp_init(pp.loop, &pp.server));
  PERF_CHECK(vg_tcp_bind(&pp.server, &addr, 0));
  PERF_CHECK(vg_listen(&pp.server, 16, pp_connection));
  PERF_CHECK(vg_tcp_sockname(&pp.server, &bound));
  PERF_CHECK(vg_tcp_init(pp.loop, &pp.cli.tcp));
  pp.cli.tcp.data = &pp.cli;
  PERF_CHECK(vg_tcp_connect(&pp.creq, &pp.cli.tcp, &bound, pp_connect));
  vg_run(pp.loop, VG_RUN_DEFAULT);
  if (pp.done != n) perf_fail("all round trips", pp.done);
  PERF_CHECK(vg_loop_close(pp.loop));
  return 0;
}

/* ------------------------------------------------------------------ */
/* async: two loops on two threads wake each other in turn             */
/* ------------------------------------------------------------------ */

static struct {
  vg_loop_t *loop_a, *loop_b;
  vg_async_t a, b;
  unsigned n, count;
  int done;
} as;

static void as_a_cb(vg_async_t *h) {      /* main thread */
  if (++as.count == as.n) {
    perf_end();
    __atomic_store_n(&as.done, 1, __ATOMIC_RELEASE);
    vg_async_send(&as.b);
    vg_close((vg_handle_t *)h, NULL);
    return;
  }
  vg_async_send(&as.b);
}

static void as_b_cb(vg_async_t *h) {      /* worker thread */
  if (__atomic_load_n(&as.done, __ATOMIC_ACQUIRE)) {
    vg_close((vg_handle_t *)h, NULL);
    return;
  }
  vg_async_send(&as.a);
}

static void *APR_THREAD_FUNC as_worker(apr_thread_t *th, void *arg) {
  (void)arg;
  perf_pin_thread(1);
  vg_run(as.loop_b, VG_RUN_DEFAULT);
  apr_thread_exit(th, APR_SUCCESS);
  return NULL;
}

static int bench_async(unsigned n) {
  apr_pool_t *pool;
  apr_thread_t *th;
  apr_status_t trv;

  perf_pin_thread(0);
  memset(&as, 0, sizeof as);
  as.n = n;
  PERF_CHECK(apr_pool_create(&pool, NULL));
  PERF_CHECK(vg_loop_create(&as.loop_a, NULL));
  PERF_CHECK(vg_loop_create(&as.loop_b, NULL));
  PERF_CHECK(vg_async_init(as.loop_a, &as.a, as_a_cb));
  PERF_CHECK(vg_async_init(as.loop_b, &as.b, as_b_cb));
  PERF_CHECK(apr_thread_create(&th, NULL, as_worker, NULL, pool));
  perf_sleep_ms(10);                        /* let the worker block */
  perf_begin();
  vg_async_send(&as.b);
  vg_run(as.loop_a, VG_RUN_DEFAULT);
  PERF_CHECK(apr_thread_join(&trv, th));
  if (as.count != n) perf_fail("all round trips", as.count);
  PERF_CHECK(vg_loop_close(as.loop_a));
  PERF_CHECK(vg_loop_close(as.loop_b));
  apr_pool_destroy(pool);
  return 0;
}

/* ------------------------------------------------------------------ */
/* spawn: /bin/true (Windows: cmd /c exit 0), one at a time            */
/* ------------------------------------------------------------------ */

static struct {
  vg_loop_t *loop;
  vg_process_t proc;
  vg_process_options_t opts;
  unsigned n, count;
} sp;

static const char *const sp_args[] = PERF_SPAWN_ARGV;

static void sp_spawn(void);

static void sp_close_cb(vg_handle_t *h) {
  (void)h;
  if (++sp.count == sp.n) {
    perf_end();
    return;
  }
  sp_spawn();
}

static void sp_exit_cb(vg_process_t *p, int exit_status, int term_signal) {
  if (exit_status != 0 || term_signal != 0)
    perf_fail("child exit status", exit_status);
  vg_close((vg_handle_t *)p, sp_close_cb);
}

static void sp_spawn(void) {
  apr_status_t rv = vg_spawn(sp.loop, &sp.proc, &sp.opts);
  if (rv != APR_SUCCESS) {                /* say which OS call failed */
    char buf[256];
    fprintf(stderr, "bench_vigil: spawn #%u of %s: %s (%s)\n", sp.count + 1,
            PERF_SPAWN_PATH, vg_strerror(rv, buf, sizeof buf),
            pal_last_call());
    perf_fail("vg_spawn", rv);
  }
}

static int bench_spawn(unsigned n) {
  memset(&sp, 0, sizeof sp);
  sp.n = n;
  sp.opts.file = PERF_SPAWN_PATH;
  sp.opts.args = sp_args;
#ifdef _WIN32
  sp.opts.flags = VG_PROCESS_SEARCH_PATH;   /* "cmd": the system's cmd.exe */
#endif
  sp.opts.exit_cb = sp_exit_cb;
  /* stdio[0..2] zeroed: VG_STDIO_INHERIT, as for every peer. */
  PERF_CHECK(vg_loop_create(&sp.loop, NULL));
  perf_begin();
  sp_spawn();
  vg_run(sp.loop, VG_RUN_DEFAULT);
  if (sp.count != n) perf_fail("all spawns", sp.count);
  PERF_CHECK(vg_loop_close(sp.loop));
  return 0;
}

int main(int argc, char **argv) {
  static const perf_impl_t impl = {
    "vigil", {bench_timers, bench_pingpong, bench_async, bench_spawn}
  };
  PERF_CHECK(vg_initialize());
  return perf_main(argc, argv, &impl);
}
