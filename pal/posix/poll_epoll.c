/*
 * poll_epoll.c -- the epoll backend (Linux): the pal__poll_* contract.
 *
 * Level-triggered, except where the owner asks for PAL__EDGE (a TCP
 * stream, the wake-up eventfd): those are EPOLLET, with EPOLLRDHUP and
 * EPOLLPRI so that an event says when a short read does not prove the
 * descriptor drained (pal_posix.h).  Edge triggering spares each wait
 * the kernel's second look at every descriptor it reported the time
 * before (a level-triggered one goes back on the ready list).  The caller
 * (io.c) tracks the interest it registered and calls modify only when
 * that interest changes, so a steady stream of messages costs no
 * epoll_ctl at all (libuv 1.44 makes one per message).
 */
#include "pal_posix.h"

#include <sys/epoll.h>

_Static_assert(EPOLLIN == 0x001 && EPOLLPRI == 0x002 && EPOLLOUT == 0x004 &&
                   EPOLLERR == 0x008 && EPOLLHUP == 0x010 &&
                   EPOLLRDHUP == 0x2000,
               "pal__revents() reads epoll's bits as poll(2)'s");

static apr_status_t ep_create(pal_poll_t *p) {
  p->backend_fd = epoll_create1(EPOLL_CLOEXEC);
  if (p->backend_fd < 0)
    return pal__fail("epoll_create1");
  return APR_SUCCESS;
}

static void ep_destroy(pal_poll_t *p) {
  if (p->backend_fd >= 0)
    close(p->backend_fd);
  p->backend_fd = -1;
}

static apr_status_t ctl(pal_poll_t *p, int op, int fd, unsigned events,
                        uintptr_t token) {
  struct epoll_event ev;
  ev.events = pal__to_pollbits(events);
  if (events & PAL__EDGE)
    ev.events |= EPOLLET | EPOLLRDHUP | EPOLLPRI;
  ev.data.u64 = (uint64_t)token;
  if (PAL__SYS(PAL_SYS_POLL_CTL, epoll_ctl(p->backend_fd, op, fd, &ev)) < 0)
    return pal__fail("epoll_ctl");
  return APR_SUCCESS;
}

static apr_status_t ep_add(pal_poll_t *p, int fd, unsigned events,
                           uintptr_t token) {
  return ctl(p, EPOLL_CTL_ADD, fd, events, token);
}

static apr_status_t ep_modify(pal_poll_t *p, int fd, unsigned events,
                              uintptr_t token) {
  return ctl(p, EPOLL_CTL_MOD, fd, events, token);
}

static apr_status_t ep_del(pal_poll_t *p, int fd) {
  return ctl(p, EPOLL_CTL_DEL, fd, 0, 0);
}

static int ep_wait(pal_poll_t *p, pal__event_t *out, int max,
                   int timeout_ms) {
  struct epoll_event evs[PAL__MAX_EVENTS];
  int i, n;
  if (max > PAL__MAX_EVENTS)
    max = PAL__MAX_EVENTS;
  n = PAL__SYS(PAL_SYS_POLL_WAIT,
               epoll_wait(p->backend_fd, evs, max, timeout_ms));
  if (n < 0)
    return -(int)pal__fail("epoll_wait");
  for (i = 0; i < n; i++) {
    out[i].token = (uintptr_t)evs[i].data.u64;
    out[i].events = pal__revents(evs[i].events);
    out[i].ident = 0;
  }
  return n;
}

/* No keyed sources: children are watched through pidfds (or SIGCHLD),
 * signals through the self-pipe, wake-ups through an eventfd.  Reads are
 * readiness-driven (io.c). */
const pal__backend_t pal__backend_epoll = {
  "epoll", ep_create, ep_destroy, ep_add, ep_modify, ep_del, ep_wait,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};
