/*
 * poll_kqueue.c -- the kqueue backend (macOS, FreeBSD): the pal__poll_*
 * contract.  Everything else -- completion emulation, interest tracking,
 * spawning, signals -- is the shared POSIX code the epoll build runs.
 *
 * Map:
 *   descriptors   EVFILT_READ / EVFILT_WRITE, token in udata; level-
 *                 triggered (no EV_CLEAR), like the epoll backend
 *   keyed sources EVFILT_PROC + NOTE_EXIT (child exits), EVFILT_SIGNAL
 *                 (signals), EVFILT_USER (the cross-thread wake-up)
 *   wait          kevent() into the poll's batch, filters mapped to
 *                 PAL__IN / OUT / ERR / HUP
 *
 * kqueue filters are independent, so an interest change is a list of
 * EV_ADD / EV_DELETE changes.  The contract passes the wanted set only,
 * so modify deletes the filter not wanted whether or not it is there;
 * EV_RECEIPT returns each change's own result, and ENOENT for a delete
 * counts as done.  This file is compiled for macOS in CI but not run
 * there (docs/macos.md).
 */
#include "pal_posix.h"

#include <sys/event.h>
#include <time.h>

static apr_status_t kq_create(pal_poll_t *p) {
  p->backend_fd = kqueue();
  if (p->backend_fd < 0)
    return pal__fail("kqueue");
  /* Not inherited by fork() anyway; close-on-exec for a child that was
   * started some other way. */
  pal__set_cloexec(p->backend_fd, 1);
  return APR_SUCCESS;
}

static void kq_destroy(pal_poll_t *p) {
  if (p->backend_fd >= 0)
    close(p->backend_fd);
  p->backend_fd = -1;
}

/* Apply up to 2 changes in one call, each with its own receipt. */
static apr_status_t change(pal_poll_t *p, struct kevent *ch, int n) {
  static const struct timespec zero = {0, 0};
  struct kevent res[2];
  int i, r;
  for (i = 0; i < n; i++)
    ch[i].flags |= EV_RECEIPT;
  r = PAL__SYS(PAL_SYS_POLL_CTL,
               kevent(p->backend_fd, ch, n, res, n, &zero));
  if (r < 0)
    return pal__fail("kevent");
  for (i = 0; i < r; i++) {
    /* Receipts come in the order of the changes. */
    int err = (res[i].flags & EV_ERROR) ? (int)res[i].data : 0;
    if (err == 0 || (err == ENOENT && (ch[i].flags & EV_DELETE)))
      continue;
    errno = err;
    return pal__fail("kevent");
  }
  return APR_SUCCESS;
}

/* Changes that make fd's filters match `events`: EV_DELETE for the ones
 * not wanted only when `del_unwanted` (modify, del). */
static int fd_changes(struct kevent *ch, int fd, unsigned events,
                      uintptr_t token, int del_unwanted) {
  int n = 0;
  if (events & PAL__IN)
    EV_SET(&ch[n++], fd, EVFILT_READ, EV_ADD, 0, 0, (void *)token);
  else if (del_unwanted)
    EV_SET(&ch[n++], fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
  if (events & PAL__OUT)
    EV_SET(&ch[n++], fd, EVFILT_WRITE, EV_ADD, 0, 0, (void *)token);
  else if (del_unwanted)
    EV_SET(&ch[n++], fd, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
  return n;
}

static apr_status_t kq_add(pal_poll_t *p, int fd, unsigned events,
                           uintptr_t token) {
  struct kevent ch[2];
  return change(p, ch, fd_changes(ch, fd, events, token, 0));
}

static apr_status_t kq_modify(pal_poll_t *p, int fd, unsigned events,
                              uintptr_t token) {
  struct kevent ch[2];
  return change(p, ch, fd_changes(ch, fd, events, token, 1));
}

static apr_status_t kq_del(pal_poll_t *p, int fd) {
  struct kevent ch[2];
  return change(p, ch, fd_changes(ch, fd, 0, 0, 1));
}

/* Keyed sources.  EVFILT_PROC reports NOTE_EXIT once (EV_ONESHOT) and may
 * fail with ESRCH for a child that is exiting already; proc.c then takes
 * the SIGCHLD path.  EVFILT_SIGNAL records deliveries, even of blocked
 * signals, in every kqueue that watches the signal; it is implicitly
 * EV_CLEAR.  EVFILT_USER with EV_CLEAR is consumed when reported. */
static int source_filter(int kind) {
  switch (kind) {
  case PAL__SRC_PROC: return EVFILT_PROC;
  case PAL__SRC_SIGNAL: return EVFILT_SIGNAL;
#ifdef EVFILT_USER
  case PAL__SRC_USER: return EVFILT_USER;
#endif
  default: return 0;   /* no such filter: the shared code falls back */
  }
}

static apr_status_t kq_add_source(pal_poll_t *p, int kind, long ident,
                                  uintptr_t token) {
  struct kevent ch;
  int filter = source_filter(kind);
  if (filter == 0)
    return PAL_EUNSUPPORTED;
  if (filter == EVFILT_PROC)
    EV_SET(&ch, ident, filter, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0,
           (void *)token);
  else
    EV_SET(&ch, ident, filter, EV_ADD | EV_CLEAR, 0, 0, (void *)token);
  return change(p, &ch, 1);
}

static apr_status_t kq_del_source(pal_poll_t *p, int kind, long ident) {
  struct kevent ch;
  int filter = source_filter(kind);
  if (filter == 0)
    return PAL_EUNSUPPORTED;
  EV_SET(&ch, ident, filter, EV_DELETE, 0, 0, NULL);
  return change(p, &ch, 1);
}

static apr_status_t kq_trigger(pal_poll_t *p, long ident, uintptr_t token) {
#ifdef EVFILT_USER
  /* udata again: a change to a knote replaces its udata.  No fault seam
   * (it is not thread-safe) and no pal__fail (TLS, in a signal handler). */
  struct kevent ch;
  EV_SET(&ch, ident, EVFILT_USER, 0, NOTE_TRIGGER, 0, (void *)token);
  if (kevent(p->backend_fd, &ch, 1, NULL, 0, NULL) < 0)
    return pal_err_from_os(errno);
  return APR_SUCCESS;
#else
  return PAL_EUNSUPPORTED;
#endif
}

static int kq_wait(pal_poll_t *p, pal__event_t *out, int max,
                   int timeout_ms) {
  struct kevent evs[PAL__MAX_EVENTS];
  struct timespec ts, *tsp = NULL;
  int i, n;
  if (max > PAL__MAX_EVENTS)
    max = PAL__MAX_EVENTS;
  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    tsp = &ts;
  }
  n = PAL__SYS(PAL_SYS_POLL_WAIT,
               kevent(p->backend_fd, NULL, 0, evs, max, tsp));
  if (n < 0)
    return -(int)pal__fail("kevent");
  for (i = 0; i < n; i++) {
    const struct kevent *k = &evs[i];
    unsigned e;
    out[i].token = (uintptr_t)k->udata;
    out[i].ident = 0;
    switch (k->filter) {
    case EVFILT_READ: e = PAL__IN; break;
    case EVFILT_WRITE: e = PAL__OUT; break;
    case EVFILT_SIGNAL:
      out[i].ident = (int)k->ident;
      e = PAL__IN;
      break;
    default: e = PAL__IN; break;   /* PROC (exited), USER (triggered) */
    }
    /* EOF: the peer hung up, or the read side of a pipe is gone; fflags
     * holds a socket error if there was one. */
    if ((k->flags & EV_EOF) &&
        (k->filter == EVFILT_READ || k->filter == EVFILT_WRITE)) {
      e |= PAL__HUP;
      if (k->fflags)
        e |= PAL__ERR;
    }
    if (k->flags & EV_ERROR)
      e |= PAL__ERR;
    out[i].events = e;
  }
  return n;
}

const pal__backend_t pal__backend_kqueue = {
  "kqueue", kq_create, kq_destroy, kq_add, kq_modify, kq_del, kq_wait,
  kq_add_source, kq_del_source, kq_trigger, NULL, NULL, NULL, NULL, NULL
};
