/*
 * bench_libev.c -- the four workloads on libev (comparison peer).
 *
 * libev is a readiness loop with no stream or process API: pingpong uses
 * ev_io watchers with read()/write() on a TCP pair made by rawsock.c,
 * spawn uses posix_spawn() and an ev_child watcher (default loop only,
 * as libev requires).  Every loop uses the epoll backend.
 */
#define _GNU_SOURCE 1
#include "common.h"
#include "rawsock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#define BACKEND EVBACKEND_EPOLL

/* ------------------------------------------------------------------ */
/* timers                                                               */
/* ------------------------------------------------------------------ */

static unsigned timers_fired;

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
  timers_fired++;
}

/* timers -t churn: idle timeouts re-armed at random (perf/common.h), the
 * way libev's manual recommends for a timeout that is reset often: set
 * `repeat` and call ev_timer_again(), which moves an active timer in the
 * heap in place instead of a stop and a start. */
static int bench_timers_churn(unsigned n) {
  struct ev_loop *loop = ev_loop_new(BACKEND);
  ev_timer *timers;
  unsigned i, k, ms;

  if (!loop) perf_fail("ev_loop_new", 0);
  timers = calloc(PERF_CHURN_TIMERS, sizeof *timers);
  if (!timers) return -1;
  ev_now_update(loop);
  timers_fired = 0;
  for (i = 0; i < PERF_CHURN_TIMERS; i++) {
    ev_timer_init(&timers[i], timer_cb, 0., perf_churn_initial(i) / 1000.0);
    ev_timer_again(loop, &timers[i]);
  }
  perf_begin();
  for (k = 0; k < n; k++) {
    perf_churn_rearm(k, &i, &ms);
    timers[i].repeat = ms / 1000.0;
    ev_timer_again(loop, &timers[i]);
    if ((k + 1) % PERF_CHURN_TICK == 0) ev_run(loop, EVRUN_NOWAIT);
  }
  perf_end();
  ev_loop_destroy(loop);
  free(timers);
  return 0;
}

static int bench_timers(unsigned n) {
  struct ev_loop *loop;
  ev_timer *timers;
  unsigned i;

  if (perf_timers_churn()) return bench_timers_churn(n);
  loop = ev_loop_new(BACKEND);

  if (!loop) perf_fail("ev_loop_new", 0);
  timers = malloc((size_t)n * sizeof *timers);
  if (!timers) return -1;
  perf_fault_in(timers, (size_t)n * sizeof *timers);
  ev_now_update(loop);
  timers_fired = 0;

  perf_begin();
  if (perf_timers_cancel()) {             /* start all, stop all */
    for (i = 0; i < n; i++) {
      ev_timer_init(&timers[i], timer_cb,
                    perf_timer_timeout_spread(i) / 1000.0, 0.);
      ev_timer_start(loop, &timers[i]);
    }
    for (i = 0; i < n; i++)
      ev_timer_stop(loop, &timers[perf_cancel_order(i, n)]);
    perf_end();
    if (timers_fired != 0) perf_fail("no timer fired", timers_fired);
  } else {                                /* start all, fire all */
    for (i = 0; i < n; i++) {
      ev_timer_init(&timers[i], timer_cb, perf_timer_timeout(i) / 1000.0,
                    0.);
      ev_timer_start(loop, &timers[i]);
    }
    perf_pause();
    perf_sleep_ms(PERF_TIMERS_MAXMS + 2);
    perf_resume();
    ev_run(loop, 0);
    perf_end();
    if (timers_fired != n) perf_fail("all timers fired", timers_fired);
  }
  ev_loop_destroy(loop);
  free(timers);
  return 0;
}

/* ------------------------------------------------------------------ */
/* pingpong                                                             */
/* ------------------------------------------------------------------ */

typedef struct conn_s {
  ev_io w;
  int fd, client;
  size_t have;
} conn_t;

static struct {
  conn_t cli, srv;
  unsigned n, done;
  char msg[PERF_PINGPONG_MSG];
  char rbuf[65536];
} pp;

static void pp_cb(struct ev_loop *loop, ev_io *w, int revents) {
  conn_t *c = (conn_t *)w;
  ssize_t r;
  (void)revents;

  r = read(c->fd, pp.rbuf, sizeof pp.rbuf);
  if (r <= 0) {
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    perf_fail("read", r < 0 ? errno : 0);
  }
  if (!c->client) {
    perf_write_all(c->fd, pp.rbuf, (size_t)r);
    return;
  }
  c->have += (size_t)r;
  if (c->have < PERF_PINGPONG_MSG) return;
  c->have -= PERF_PINGPONG_MSG;
  if (++pp.done == pp.n) {
    perf_end();
    ev_io_stop(loop, &pp.cli.w);
    ev_io_stop(loop, &pp.srv.w);
    return;
  }
  perf_write_all(c->fd, pp.msg, sizeof pp.msg);
}

static int bench_pingpong(unsigned n) {
  struct ev_loop *loop = ev_loop_new(BACKEND);

  if (!loop) perf_fail("ev_loop_new", 0);
  memset(&pp, 0, sizeof pp);
  memset(pp.msg, 'x', sizeof pp.msg);
  pp.n = n;
  pp.cli.client = 1;
  perf_tcp_pair(&pp.cli.fd, &pp.srv.fd);
  ev_io_init(&pp.cli.w, pp_cb, pp.cli.fd, EV_READ);
  ev_io_init(&pp.srv.w, pp_cb, pp.srv.fd, EV_READ);
  ev_io_start(loop, &pp.cli.w);
  ev_io_start(loop, &pp.srv.w);

  perf_begin();
  perf_write_all(pp.cli.fd, pp.msg, sizeof pp.msg);
  ev_run(loop, 0);

  if (pp.done != n) perf_fail("all round trips", pp.done);
  close(pp.cli.fd);
  close(pp.srv.fd);
  ev_loop_destroy(loop);
  return 0;
}

/* ------------------------------------------------------------------ */
/* async: two loops on two threads wake each other in turn             */
/* ------------------------------------------------------------------ */

static struct {
  struct ev_loop *loop_a, *loop_b;
  ev_async a, b;
  unsigned n, count;
  int done;
} as;

static void as_a_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)revents;
  if (++as.count == as.n) {
    perf_end();
    __atomic_store_n(&as.done, 1, __ATOMIC_RELEASE);
    ev_async_send(as.loop_b, &as.b);
    ev_async_stop(loop, w);
    return;
  }
  ev_async_send(as.loop_b, &as.b);
}

static void as_b_cb(struct ev_loop *loop, ev_async *w, int revents) {
  (void)revents;
  if (__atomic_load_n(&as.done, __ATOMIC_ACQUIRE)) {
    ev_async_stop(loop, w);
    return;
  }
  ev_async_send(as.loop_a, &as.a);
}

static void *as_worker(void *arg) {
  (void)arg;
  perf_pin_thread(1);
  ev_run(as.loop_b, 0);
  return NULL;
}

static int bench_async(unsigned n) {
  pthread_t th;

  perf_pin_thread(0);
  memset(&as, 0, sizeof as);
  as.n = n;
  as.loop_a = ev_loop_new(BACKEND);
  as.loop_b = ev_loop_new(BACKEND);
  if (!as.loop_a || !as.loop_b) perf_fail("ev_loop_new", 0);
  ev_async_init(&as.a, as_a_cb);
  ev_async_init(&as.b, as_b_cb);
  ev_async_start(as.loop_a, &as.a);
  ev_async_start(as.loop_b, &as.b);
  PERF_CHECK(pthread_create(&th, NULL, as_worker, NULL));
  perf_sleep_ms(10);
  perf_begin();
  ev_async_send(as.loop_b, &as.b);
  ev_run(as.loop_a, 0);
  PERF_CHECK(pthread_join(th, NULL));
  if (as.count != n) perf_fail("all round trips", as.count);
  ev_loop_destroy(as.loop_a);
  ev_loop_destroy(as.loop_b);
  return 0;
}

/* ------------------------------------------------------------------ */
/* spawn: posix_spawn + ev_child, one at a time                         */
/* ------------------------------------------------------------------ */

static struct {
  ev_child w;
  unsigned n, count;
} sp;

static void sp_cb(struct ev_loop *loop, ev_child *w, int revents) {
  (void)revents;
  ev_child_stop(loop, w);
  perf_check_status(w->rstatus);
  if (++sp.count == sp.n) {
    perf_end();
    return;
  }
  ev_child_set(w, perf_spawn_true(), 0);
  ev_child_start(loop, w);
}

static int bench_spawn(unsigned n) {
  struct ev_loop *loop = ev_default_loop(BACKEND);

  if (!loop) perf_fail("ev_default_loop", 0);
  memset(&sp, 0, sizeof sp);
  sp.n = n;
  ev_child_init(&sp.w, sp_cb, 0, 0);
  perf_begin();
  ev_child_set(&sp.w, perf_spawn_true(), 0);
  ev_child_start(loop, &sp.w);
  ev_run(loop, 0);
  if (sp.count != n) perf_fail("all spawns", sp.count);
  return 0;
}

int main(int argc, char **argv) {
  static const perf_impl_t impl = {
    "libev", {bench_timers, bench_pingpong, bench_async, bench_spawn}
  };
  return perf_main(argc, argv, &impl);
}
