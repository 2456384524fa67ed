/*
 * bench_epoll.c -- the floor: the same workloads on a plain epoll loop
 * that does the least work possible, with no library in between.
 *
 *   pingpong  two sockets registered once (level-triggered EPOLLIN);
 *             per event: one read(), one write().
 *   async     two threads, each blocked in epoll_wait() on an eventfd;
 *             a wake-up is one write() to the other's eventfd, and the
 *             woken side read()s its counter: no coalescing flag.
 *   spawn     posix_spawn(), pidfd_open(), epoll_wait() on the pidfd,
 *             waitid(P_PIDFD); the way a Linux >= 5.3 loop watches a
 *             child without SIGCHLD.
 *
 * No timers benchmark: a timer structure is what the libraries differ
 * on, and there is no library-free baseline for it.
 */
#define _GNU_SOURCE 1
#include "common.h"
#include "rawsock.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int ep_create(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) perf_fail("epoll_create1", errno);
  return ep;
}

static void ep_add(int ep, int fd, void *ptr) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.ptr = ptr;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) perf_fail("epoll_ctl", errno);
}

static int ep_wait(int ep, struct epoll_event *evs, int max) {
  int r;
  do {
    r = epoll_wait(ep, evs, max, -1);
  } while (r < 0 && errno == EINTR);
  if (r < 0) perf_fail("epoll_wait", errno);
  return r;
}

/* ------------------------------------------------------------------ */
/* pingpong                                                             */
/* ------------------------------------------------------------------ */

typedef struct conn_s {
  int fd, client;
  size_t have;
} conn_t;

static int bench_pingpong(unsigned n) {
  static char rbuf[65536];
  char msg[PERF_PINGPONG_MSG];
  conn_t cli = {0}, srv = {0};
  struct epoll_event evs[8];
  unsigned done = 0;
  int ep = ep_create();

  memset(msg, 'x', sizeof msg);
  cli.client = 1;
  perf_tcp_pair(&cli.fd, &srv.fd);
  ep_add(ep, cli.fd, &cli);
  ep_add(ep, srv.fd, &srv);

  perf_begin();
  perf_write_all(cli.fd, msg, sizeof msg);
  while (done < n) {
    int i, k = ep_wait(ep, evs, 8);
    for (i = 0; i < k; i++) {
      conn_t *c = evs[i].data.ptr;
      ssize_t r = read(c->fd, rbuf, sizeof rbuf);
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        perf_fail("read", r < 0 ? errno : 0);
      }
      if (!c->client) {
        perf_write_all(c->fd, rbuf, (size_t)r);
        continue;
      }
      c->have += (size_t)r;
      if (c->have < PERF_PINGPONG_MSG) continue;
      c->have -= PERF_PINGPONG_MSG;
      if (++done == n) break;
      perf_write_all(c->fd, msg, sizeof msg);
    }
  }
  perf_end();
  close(cli.fd);
  close(srv.fd);
  close(ep);
  return 0;
}

/* ------------------------------------------------------------------ */
/* async                                                                */
/* ------------------------------------------------------------------ */

typedef struct side_s {
  int ep, efd;
  struct side_s *other;
} side_t;

static struct {
  side_t a, b;
  unsigned n;
  int done;
} as;

static void as_send(side_t *s) {
  uint64_t one = 1;
  ssize_t w;
  do {
    w = write(s->efd, &one, sizeof one);
  } while (w < 0 && errno == EINTR);
  if (w != sizeof one) perf_fail("write(eventfd)", errno);
}

/* Wait for one wake-up on side s; returns after consuming it. */
static void as_wait(side_t *s) {
  struct epoll_event ev;
  uint64_t v;
  ep_wait(s->ep, &ev, 1);
  if (read(s->efd, &v, sizeof v) != sizeof v) perf_fail("read(eventfd)", errno);
}

static void *as_worker(void *arg) {
  (void)arg;
  perf_pin_thread(1);
  for (;;) {
    as_wait(&as.b);
    if (__atomic_load_n(&as.done, __ATOMIC_ACQUIRE)) break;
    as_send(&as.a);
  }
  return NULL;
}

static void side_init(side_t *s) {
  s->ep = ep_create();
  s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->efd < 0) perf_fail("eventfd", errno);
  ep_add(s->ep, s->efd, s);
}

static int bench_async(unsigned n) {
  pthread_t th;
  unsigned count;

  perf_pin_thread(0);
  memset(&as, 0, sizeof as);
  as.n = n;
  side_init(&as.a);
  side_init(&as.b);
  PERF_CHECK(pthread_create(&th, NULL, as_worker, NULL));
  perf_sleep_ms(10);
  perf_begin();
  as_send(&as.b);
  for (count = 0; count < n; count++) {
    as_wait(&as.a);
    if (count + 1 == n) {
      perf_end();
      __atomic_store_n(&as.done, 1, __ATOMIC_RELEASE);
    }
    as_send(&as.b);
  }
  PERF_CHECK(pthread_join(th, NULL));
  close(as.a.efd);
  close(as.b.efd);
  close(as.a.ep);
  close(as.b.ep);
  return 0;
}

/* ------------------------------------------------------------------ */
/* spawn                                                                */
/* ------------------------------------------------------------------ */

static int bench_spawn(unsigned n) {
  struct epoll_event ev;
  unsigned i;
  int ep = ep_create();

  perf_begin();
  for (i = 0; i < n; i++) {
    pid_t pid = perf_spawn_true();
    siginfo_t si;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0) perf_fail("pidfd_open", errno);
    ep_add(ep, pfd, NULL);
    ep_wait(ep, &ev, 1);
    memset(&si, 0, sizeof si);
    if (waitid((idtype_t)P_PIDFD, (id_t)pfd, &si, WEXITED) < 0)
      perf_fail("waitid", errno);
    if (si.si_code != CLD_EXITED || si.si_status != 0)
      perf_fail("child exit status", si.si_status);
    close(pfd);                           /* also leaves the epoll set */
  }
  perf_end();
  close(ep);
  return 0;
}

int main(int argc, char **argv) {
  static const perf_impl_t impl = {
    "epoll", {NULL, bench_pingpong, bench_async, bench_spawn}
  };
  return perf_main(argc, argv, &impl);
}
