/*
 * bench_libuv.c -- the four workloads on libuv (comparison peer).
 *
 * Written the way a careful libuv user would: caller-embedded handles,
 * a static read buffer, pre-allocated write requests (libuv's own
 * benchmark-ping-pongs.c mallocs one per write; we do not, so that the
 * comparison measures the loop, not malloc).
 */
#define _GNU_SOURCE 1
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define CHECK_UV(expr) PERF_CHECK(expr)

/* ------------------------------------------------------------------ */
/* timers                                                               */
/* ------------------------------------------------------------------ */

static unsigned timers_fired;

static void timer_cb(uv_timer_t *t) {
  (void)t;
  timers_fired++;
}

/* timers -t churn: idle timeouts re-armed at random (perf/common.h).
 * uv_timer_start() on an active timer moves it. */
static int bench_timers_churn(unsigned n) {
  uv_loop_t loop;
  uv_timer_t *timers;
  unsigned i, k, ms;

  timers = calloc(PERF_CHURN_TIMERS, sizeof *timers);
  if (!timers) return -1;
  CHECK_UV(uv_loop_init(&loop));
  uv_update_time(&loop);
  timers_fired = 0;
  for (i = 0; i < PERF_CHURN_TIMERS; i++) {
    uv_timer_init(&loop, &timers[i]);
    uv_timer_start(&timers[i], timer_cb, perf_churn_initial(i), 0);
  }
  perf_begin();
  for (k = 0; k < n; k++) {
    perf_churn_rearm(k, &i, &ms);
    uv_timer_start(&timers[i], timer_cb, ms, 0);
    if ((k + 1) % PERF_CHURN_TICK == 0) uv_run(&loop, UV_RUN_NOWAIT);
  }
  perf_end();
  for (i = 0; i < PERF_CHURN_TIMERS; i++)
    uv_close((uv_handle_t *)&timers[i], NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_UV(uv_loop_close(&loop));
  free(timers);
  return 0;
}

static int bench_timers(unsigned n) {
  uv_loop_t loop;
  uv_timer_t *timers;
  unsigned i;

  if (perf_timers_churn()) return bench_timers_churn(n);

  timers = malloc((size_t)n * sizeof *timers);
  if (!timers) return -1;
  perf_fault_in(timers, (size_t)n * sizeof *timers);
  CHECK_UV(uv_loop_init(&loop));
  uv_update_time(&loop);
  timers_fired = 0;

  perf_begin();
  if (perf_timers_cancel()) {             /* start all, stop all */
    for (i = 0; i < n; i++) {
      uv_timer_init(&loop, &timers[i]);
      uv_timer_start(&timers[i], timer_cb, perf_timer_timeout_spread(i), 0);
    }
    for (i = 0; i < n; i++) uv_timer_stop(&timers[perf_cancel_order(i, n)]);
    perf_end();
    if (timers_fired != 0) perf_fail("no timer fired", timers_fired);
  } else {                                /* start all, fire all */
    for (i = 0; i < n; i++) {
      uv_timer_init(&loop, &timers[i]);
      uv_timer_start(&timers[i], timer_cb, perf_timer_timeout(i), 0);
    }
    perf_pause();
    perf_sleep_ms(PERF_TIMERS_MAXMS + 2); /* every deadline has passed */
    perf_resume();
    uv_run(&loop, UV_RUN_DEFAULT);
    perf_end();
    if (timers_fired != n) perf_fail("all timers fired", timers_fired);
  }
  for (i = 0; i < n; i++) uv_close((uv_handle_t *)&timers[i], NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_UV(uv_loop_close(&loop));
  free(timers);
  return 0;
}

/* ------------------------------------------------------------------ */
/* pingpong                                                             */
/* ------------------------------------------------------------------ */

#define NSLOTS 4

typedef struct conn_s {
  uv_tcp_t tcp;
  int client;
  size_t have;                    /* client: bytes of the reply so far */
  uv_write_t wreq[NSLOTS];
  int wbusy[NSLOTS];
  char wbuf[NSLOTS][256];
  char rbuf[65536];
} conn_t;

static struct {
  uv_loop_t loop;
  uv_tcp_t server;
  conn_t cli, srv;
  uv_connect_t creq;
  unsigned n, done, ready;
  char msg[PERF_PINGPONG_MSG];
} pp;

static void pp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn_t *c = h->data;
  (void)suggested;
  buf->base = c->rbuf;
  buf->len = sizeof c->rbuf;
}

static void pp_write_cb(uv_write_t *req, int status) {
  conn_t *c = req->data;
  if (status) perf_fail("write", status);
  c->wbusy[req - c->wreq] = 0;
}

static void pp_send(conn_t *c, const char *data, size_t len) {
  int i;
  uv_buf_t b;
  for (i = 0; i < NSLOTS && c->wbusy[i]; i++) {
  }
  if (i == NSLOTS || len > sizeof c->wbuf[0]) perf_fail("write slot", len);
  memcpy(c->wbuf[i], data, len);
  c->wbusy[i] = 1;
  c->wreq[i].data = c;
  b = uv_buf_init(c->wbuf[i], (unsigned)len);
  CHECK_UV(uv_write(&c->wreq[i], (uv_stream_t *)&c->tcp, &b, 1,
                    pp_write_cb));
}

static void pp_finish(void) {
  perf_end();
  uv_close((uv_handle_t *)&pp.cli.tcp, NULL);
  uv_close((uv_handle_t *)&pp.srv.tcp, NULL);
  uv_close((uv_handle_t *)&pp.server, NULL);
}

static void pp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  if (nread < 0) {
    if (nread == UV_EOF && pp.done == pp.n) return;
    perf_fail("read", (long)nread);
  }
  if (nread == 0) return;
  if (!c->client) {               /* server: echo what arrived */
    pp_send(c, buf->base, (size_t)nread);
    return;
  }
  c->have += (size_t)nread;
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
  CHECK_UV(uv_read_start((uv_stream_t *)&pp.cli.tcp, pp_alloc, pp_read));
  CHECK_UV(uv_read_start((uv_stream_t *)&pp.srv.tcp, pp_alloc, pp_read));
  perf_begin();
  pp_send(&pp.cli, pp.msg, sizeof pp.msg);
}

static void pp_connection(uv_stream_t *server, int status) {
  if (status) perf_fail("connection", status);
  CHECK_UV(uv_tcp_init(&pp.loop, &pp.srv.tcp));
  pp.srv.tcp.data = &pp.srv;
  CHECK_UV(uv_accept(server, (uv_stream_t *)&pp.srv.tcp));
  CHECK_UV(uv_tcp_nodelay(&pp.srv.tcp, 1));
  pp_start_if_ready();
}

static void pp_connect(uv_connect_t *req, int status) {
  (void)req;
  if (status) perf_fail("connect", status);
  CHECK_UV(uv_tcp_nodelay(&pp.cli.tcp, 1));
  pp_start_if_ready();
}

static int bench_pingpong(unsigned n) {
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof bound;

  memset(&pp, 0, sizeof pp);
  memset(pp.msg, 'x', sizeof pp.msg);
  pp.n = n;
  pp.cli.client = 1;
  CHECK_UV(uv_loop_init(&pp.loop));
  CHECK_UV(uv_ip4_addr("127.0.0.1", 0, &addr));
  CHECK_UV(uv_tcp_init(&pp.loop, &pp.server));
  CHECK_UV(uv_tcp_bind(&pp.server, (struct sockaddr *)&addr, 0));
  CHECK_UV(uv_listen((uv_stream_t *)&pp.server, 16, pp_connection));
  CHECK_UV(uv_tcp_getsockname(&pp.server, (struct sockaddr *)&bound, &len));
  CHECK_UV(uv_tcp_init(&pp.loop, &pp.cli.tcp));
  pp.cli.tcp.data = &pp.cli;
  CHECK_UV(uv_tcp_connect(&pp.creq, &pp.cli.tcp, (struct sockaddr *)&bound,
                          pp_connect));
  uv_run(&pp.loop, UV_RUN_DEFAULT);
  if (pp.done != n) perf_fail("all round trips", pp.done);
  CHECK_UV(uv_loop_close(&pp.loop));
  return 0;
}

/* ------------------------------------------------------------------ */
/* async: two loops on two threads wake each other in turn             */
/* ------------------------------------------------------------------ */

static struct {
  uv_loop_t loop_a, loop_b;
  uv_async_t a, b;
  unsigned n, count;
  int done;
} as;

static void as_a_cb(uv_async_t *h) {      /* main thread */
  if (++as.count == as.n) {
    perf_end();
    __atomic_store_n(&as.done, 1, __ATOMIC_RELEASE);
    uv_async_send(&as.b);
    uv_close((uv_handle_t *)h, NULL);
    return;
  }
  uv_async_send(&as.b);
}

static void as_b_cb(uv_async_t *h) {      /* worker thread */
  if (__atomic_load_n(&as.done, __ATOMIC_ACQUIRE)) {
    uv_close((uv_handle_t *)h, NULL);
    return;
  }
  uv_async_send(&as.a);
}

static void as_worker(void *arg) {
  (void)arg;
  perf_pin_thread(1);
  uv_run(&as.loop_b, UV_RUN_DEFAULT);
}

static int bench_async(unsigned n) {
  uv_thread_t th;

  perf_pin_thread(0);
  memset(&as, 0, sizeof as);
  as.n = n;
  CHECK_UV(uv_loop_init(&as.loop_a));
  CHECK_UV(uv_loop_init(&as.loop_b));
  CHECK_UV(uv_async_init(&as.loop_a, &as.a, as_a_cb));
  CHECK_UV(uv_async_init(&as.loop_b, &as.b, as_b_cb));
  CHECK_UV(uv_thread_create(&th, as_worker, NULL));
  perf_sleep_ms(10);                        /* let the worker block */
  perf_begin();
  uv_async_send(&as.b);
  uv_run(&as.loop_a, UV_RUN_DEFAULT);
  CHECK_UV(uv_thread_join(&th));
  if (as.count != n) perf_fail("all round trips", as.count);
  CHECK_UV(uv_loop_close(&as.loop_a));
  CHECK_UV(uv_loop_close(&as.loop_b));
  return 0;
}

/* ------------------------------------------------------------------ */
/* spawn: /bin/true, one at a time                                      */
/* ------------------------------------------------------------------ */

static struct {
  uv_loop_t loop;
  uv_process_t proc;
  uv_process_options_t opts;
  uv_stdio_container_t stdio[3];
  char *args[2];
  unsigned n, count;
} sp;

static void sp_spawn(void);

static void sp_close_cb(uv_handle_t *h) {
  (void)h;
  if (++sp.count == sp.n) {
    perf_end();
    return;
  }
  sp_spawn();
}

static void sp_exit_cb(uv_process_t *p, int64_t status, int sig) {
  if (status != 0 || sig != 0) perf_fail("child exit status", (long)status);
  uv_close((uv_handle_t *)p, sp_close_cb);
}

static void sp_spawn(void) {
  CHECK_UV(uv_spawn(&sp.loop, &sp.proc, &sp.opts));
}

static int bench_spawn(unsigned n) {
  int i;

  memset(&sp, 0, sizeof sp);
  sp.n = n;
  sp.args[0] = (char *)PERF_SPAWN_PATH;
  sp.args[1] = NULL;
  for (i = 0; i < 3; i++) {
    sp.stdio[i].flags = UV_INHERIT_FD;
    sp.stdio[i].data.fd = i;
  }
  sp.opts.file = PERF_SPAWN_PATH;
  sp.opts.args = sp.args;
  sp.opts.exit_cb = sp_exit_cb;
  sp.opts.stdio = sp.stdio;
  sp.opts.stdio_count = 3;
  CHECK_UV(uv_loop_init(&sp.loop));
  perf_begin();
  sp_spawn();
  uv_run(&sp.loop, UV_RUN_DEFAULT);
  if (sp.count != n) perf_fail("all spawns", sp.count);
  CHECK_UV(uv_loop_close(&sp.loop));
  return 0;
}

int main(int argc, char **argv) {
  static const perf_impl_t impl = {
    "libuv", {bench_timers, bench_pingpong, bench_async, bench_spawn}
  };
  return perf_main(argc, argv, &impl);
}
