/*
 * bench_libevent.c -- the four workloads on libevent 2.1 (comparison
 * peer).
 *
 * Low-level API only (struct event, not bufferevents, which add evbuffer
 * copies on top of the loop): pingpong uses EV_READ|EV_PERSIST events
 * with read()/write() on a TCP pair made by rawsock.c; async uses
 * event_active() from the other thread (evthread_use_pthreads, which is
 * libevent's cross-thread wake-up); spawn uses posix_spawn() and a
 * SIGCHLD signal event with waitpid().  Every base uses epoll.
 */
#define _GNU_SOURCE 1
#include "common.h"
#include "rawsock.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/thread.h>

static struct event_base *new_base(void) {
  struct event_config *cfg = event_config_new();
  struct event_base *base;
  if (!cfg) perf_fail("event_config_new", 0);
  /* Only epoll: the peers and the floor all use it. */
  event_config_avoid_method(cfg, "poll");
  event_config_avoid_method(cfg, "select");
  base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (!base) perf_fail("event_base_new_with_config", 0);
  return base;
}

/* ------------------------------------------------------------------ */
/* timers                                                               */
/* ------------------------------------------------------------------ */

static unsigned timers_fired;

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  timers_fired++;
}

/* timers -t churn: idle timeouts re-armed at random (perf/common.h).
 * evtimer_add() on a pending event moves it in the heap. */
static int bench_timers_churn(unsigned n) {
  struct event_base *base = new_base();
  struct event *timers;
  unsigned i, k, ms;
  struct timeval tv;

  timers = calloc(PERF_CHURN_TIMERS, sizeof *timers);
  if (!timers) return -1;
  timers_fired = 0;
  for (i = 0; i < PERF_CHURN_TIMERS; i++) {
    ms = perf_churn_initial(i);
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    evtimer_assign(&timers[i], base, timer_cb, NULL);
    evtimer_add(&timers[i], &tv);
  }
  perf_begin();
  for (k = 0; k < n; k++) {
    perf_churn_rearm(k, &i, &ms);
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    evtimer_add(&timers[i], &tv);
    if ((k + 1) % PERF_CHURN_TICK == 0)
      event_base_loop(base, EVLOOP_NONBLOCK);
  }
  perf_end();
  for (i = 0; i < PERF_CHURN_TIMERS; i++) evtimer_del(&timers[i]);
  event_base_free(base);
  free(timers);
  return 0;
}

static int bench_timers(unsigned n) {
  struct event_base *base;
  struct event *timers;
  unsigned i;
  int cancel = perf_timers_cancel();

  if (perf_timers_churn()) return bench_timers_churn(n);
  base = new_base();

  timers = malloc((size_t)n * sizeof *timers);
  if (!timers) return -1;
  perf_fault_in(timers, (size_t)n * sizeof *timers);
  timers_fired = 0;

  perf_begin();
  for (i = 0; i < n; i++) {
    unsigned ms = cancel ? perf_timer_timeout_spread(i) : perf_timer_timeout(i);
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    evtimer_assign(&timers[i], base, timer_cb, NULL);
    evtimer_add(&timers[i], &tv);
  }
  if (cancel) {                           /* ... stop all */
    for (i = 0; i < n; i++) evtimer_del(&timers[perf_cancel_order(i, n)]);
    perf_end();
    if (timers_fired != 0) perf_fail("no timer fired", timers_fired);
  } else {                                /* ... fire all */
    perf_pause();
    perf_sleep_ms(PERF_TIMERS_MAXMS + 2);
    perf_resume();
    event_base_dispatch(base);
    perf_end();
    if (timers_fired != n) perf_fail("all timers fired", timers_fired);
  }
  event_base_free(base);
  free(timers);
  return 0;
}

/* ------------------------------------------------------------------ */
/* pingpong                                                             */
/* ------------------------------------------------------------------ */

typedef struct conn_s {
  struct event ev;
  int fd, client;
  size_t have;
} conn_t;

static struct {
  conn_t cli, srv;
  unsigned n, done;
  char msg[PERF_PINGPONG_MSG];
  char rbuf[65536];
} pp;

static void pp_cb(evutil_socket_t fd, short what, void *arg) {
  conn_t *c = arg;
  ssize_t r;
  (void)what;

  r = read(fd, pp.rbuf, sizeof pp.rbuf);
  if (r <= 0) {
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    perf_fail("read", r < 0 ? errno : 0);
  }
  if (!c->client) {
    perf_write_all(fd, pp.rbuf, (size_t)r);
    return;
  }
  c->have += (size_t)r;
  if (c->have < PERF_PINGPONG_MSG) return;
  c->have -= PERF_PINGPONG_MSG;
  if (++pp.done == pp.n) {
    perf_end();
    event_del(&pp.cli.ev);
    event_del(&pp.srv.ev);
    return;
  }
  perf_write_all(fd, pp.msg, sizeof pp.msg);
}

static int bench_pingpong(unsigned n) {
  struct event_base *base = new_base();

  memset(&pp, 0, sizeof pp);
  memset(pp.msg, 'x', sizeof pp.msg);
  pp.n = n;
  pp.cli.client = 1;
  perf_tcp_pair(&pp.cli.fd, &pp.srv.fd);
  PERF_CHECK(event_assign(&pp.cli.ev, base, pp.cli.fd, EV_READ | EV_PERSIST,
                          pp_cb, &pp.cli));
  PERF_CHECK(event_assign(&pp.srv.ev, base, pp.srv.fd, EV_READ | EV_PERSIST,
                          pp_cb, &pp.srv));
  PERF_CHECK(event_add(&pp.cli.ev, NULL));
  PERF_CHECK(event_add(&pp.srv.ev, NULL));

  perf_begin();
  perf_write_all(pp.cli.fd, pp.msg, sizeof pp.msg);
  event_base_dispatch(base);

  if (pp.done != n) perf_fail("all round trips", pp.done);
  close(pp.cli.fd);
  close(pp.srv.fd);
  event_base_free(base);
  return 0;
}

/* ------------------------------------------------------------------ */
/* async: two bases on two threads activate each other's event         */
/* ------------------------------------------------------------------ */

static struct {
  struct event_base *base_a, *base_b;
  struct event *a, *b;
  unsigned n, count;
  int done;
} as;

static void as_a_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  if (++as.count == as.n) {
    perf_end();
    __atomic_store_n(&as.done, 1, __ATOMIC_RELEASE);
    event_active(as.b, EV_READ, 0);
    event_base_loopbreak(as.base_a);
    return;
  }
  event_active(as.b, EV_READ, 0);
}

static void as_b_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  if (__atomic_load_n(&as.done, __ATOMIC_ACQUIRE)) {
    event_base_loopbreak(as.base_b);
    return;
  }
  event_active(as.a, EV_READ, 0);
}

static void *as_worker(void *arg) {
  (void)arg;
  perf_pin_thread(1);
  event_base_loop(as.base_b, EVLOOP_NO_EXIT_ON_EMPTY);
  return NULL;
}

static int bench_async(unsigned n) {
  pthread_t th;

  PERF_CHECK(evthread_use_pthreads());
  perf_pin_thread(0);
  memset(&as, 0, sizeof as);
  as.n = n;
  as.base_a = new_base();
  as.base_b = new_base();
  as.a = event_new(as.base_a, -1, 0, as_a_cb, NULL);
  as.b = event_new(as.base_b, -1, 0, as_b_cb, NULL);
  if (!as.a || !as.b) perf_fail("event_new", 0);
  PERF_CHECK(pthread_create(&th, NULL, as_worker, NULL));
  perf_sleep_ms(10);
  perf_begin();
  event_active(as.b, EV_READ, 0);
  event_base_loop(as.base_a, EVLOOP_NO_EXIT_ON_EMPTY);
  PERF_CHECK(pthread_join(th, NULL));
  if (as.count != n) perf_fail("all round trips", as.count);
  event_free(as.a);
  event_free(as.b);
  event_base_free(as.base_a);
  event_base_free(as.base_b);
  return 0;
}

/* ------------------------------------------------------------------ */
/* spawn: posix_spawn + SIGCHLD event + waitpid, one at a time          */
/* ------------------------------------------------------------------ */

static struct {
  struct event_base *base;
  struct event sigchld;
  pid_t pid;
  unsigned n, count;
} sp;

static void sp_cb(evutil_socket_t fd, short what, void *arg) {
  int status;
  pid_t r;
  (void)fd;
  (void)what;
  (void)arg;

  for (;;) {
    r = waitpid(sp.pid, &status, WNOHANG);
    if (r == 0) return;                   /* not ours yet */
    if (r < 0) {
      if (errno == EINTR) continue;
      perf_fail("waitpid", errno);
    }
    break;
  }
  perf_check_status(status);
  if (++sp.count == sp.n) {
    perf_end();
    event_del(&sp.sigchld);
    return;
  }
  sp.pid = perf_spawn_true();
}

static int bench_spawn(unsigned n) {
  memset(&sp, 0, sizeof sp);
  sp.n = n;
  sp.base = new_base();
  PERF_CHECK(event_assign(&sp.sigchld, sp.base, SIGCHLD,
                          EV_SIGNAL | EV_PERSIST, sp_cb, NULL));
  PERF_CHECK(event_add(&sp.sigchld, NULL));
  perf_begin();
  sp.pid = perf_spawn_true();
  event_base_dispatch(sp.base);
  if (sp.count != n) perf_fail("all spawns", sp.count);
  event_base_free(sp.base);
  return 0;
}

int main(int argc, char **argv) {
  static const perf_impl_t impl = {
    "libevent", {bench_timers, bench_pingpong, bench_async, bench_spawn}
  };
  return perf_main(argc, argv, &impl);
}
