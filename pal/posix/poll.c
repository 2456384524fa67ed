/*
 * poll.c -- the POSIX poll object, shared by every backend.
 *
 * Map:
 *   create / destroy    backend + wake-up (the backend's USER source, else
 *                       an eventfd or a pipe)
 *   pal_poll_wait       one wait, dispatch of the fetched batch by token,
 *                       then the completion phase
 *   pal__complete       the completion queue: results known at submit time
 *                       are delivered here, never from the submitting call,
 *                       which is how a completion port behaves
 *   pal__unwatch        forget a descriptor, including events of it that
 *                       were fetched but not yet dispatched
 */
#include "pal_posix.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#ifdef PAL_HAVE_EVENTFD
#include <sys/eventfd.h>
#endif

static pthread_once_t sigpipe_once = PTHREAD_ONCE_INIT;

/* ---- the backend, chosen once per process --------------------------- */

#if defined(PAL_HAVE_EPOLL)
#define PAL__NATIVE (&pal__backend_epoll)
#elif defined(PAL_HAVE_KQUEUE)
#define PAL__NATIVE (&pal__backend_kqueue)
#endif

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
/* NULL: backend_err says why.  Written once by backend_choose(), and
 * again only by fall_back(), which any thread creating a loop may run. */
static _Atomic(const pal__backend_t *) backend;
static apr_status_t backend_err;
static const char *backend_call;        /* what failed (pal_last_call) */
static char backend_desc[96];
static int backend_named;               /* VIGIL_BACKEND chose it */
/* Why the default is not io_uring (pal_poll_fallback): written by the
 * first fall_back() (fallback_state 1), readable once it is 2. */
static atomic_int fallback_state;
static char fallback_why[160];

/* VIGIL_BACKEND names the backend (epoll, io_uring, kqueue).  Unset or
 * empty: io_uring where it is compiled in and the kernel runs all that
 * poll_uring.c needs and can use (pal__backend_uring_probe: Linux 6.13,
 * not disabled, not filtered), else the build's readiness backend (epoll,
 * kqueue).  Without MSG_RING from no ring (6.0 to 6.12) io_uring runs,
 * but its wake-ups are slower than epoll's, and the default must not be
 * slower than epoll anywhere (docs/PERFORMANCE.md): only a named one. A
 * named backend that is not compiled in or that this kernel refuses is
 * an error at pal_poll_create(), never a silent fallback: a test run or
 * a benchmark that asked for io_uring must not measure epoll. */
#ifdef PAL_HAVE_IO_URING
/* The default leaves io_uring for the readiness backend, saying why
 * once (rv: the error, call: the call that failed; rv 0: a kernel
 * without MSG_RING from no ring). */
static void fall_back(apr_status_t rv, const char *call) {
  int expect = 0;
  if (atomic_compare_exchange_strong(&fallback_state, &expect, 1)) {
    char eb[96];
    if (rv == APR_SUCCESS)
      snprintf(fallback_why, sizeof fallback_why,
               "io_uring not used: no MSG_RING from no ring (Linux 6.13), "
               "its wake-ups would be slower than epoll's");
    else
      snprintf(fallback_why, sizeof fallback_why,
               "io_uring unavailable: %s failed: %s", call ? call : "setup",
               pal_strerror(rv, eb, sizeof eb));
    atomic_store(&fallback_state, 2);
  }
  atomic_store(&backend, PAL__NATIVE);
}
#endif

static void backend_choose(void) {
  const char *want = getenv("VIGIL_BACKEND");
  if (want && *want == '\0')
    want = NULL;
  backend_named = want != NULL;
#ifdef PAL_HAVE_IO_URING
  if (!want || !strcmp(want, "io_uring")) {
    int full;
    apr_status_t rv = pal__backend_uring_probe(&full);
    if (rv == APR_SUCCESS && (full || want)) {
      atomic_store(&backend, &pal__backend_uring);
      return;
    }
    if (!want) {
      fall_back(rv, pal__last_call);
      return;
    }
    backend_err = rv;
    backend_call = pal__last_call;
    snprintf(backend_desc, sizeof backend_desc,
             "io_uring (unavailable: %s failed)",
             backend_call ? backend_call : "setup");
    return;
  }
#endif
  if (!want || !strcmp(want, PAL__NATIVE->name)) {
    atomic_store(&backend, PAL__NATIVE);
    return;
  }
  backend_err = PAL_EUNSUPPORTED;
  backend_call = "VIGIL_BACKEND";
  snprintf(backend_desc, sizeof backend_desc, "%.40s (not available)", want);
}

const char *pal_poll_name(void) {
  const pal__backend_t *be;
  pthread_once(&backend_once, backend_choose);
  be = atomic_load(&backend);
  return be ? be->name : backend_desc;
}

const char *pal_poll_fallback(void) {
  pthread_once(&backend_once, backend_choose);
  return atomic_load(&fallback_state) == 2 ? fallback_why : NULL;
}

apr_status_t pal__poll_add_source(pal_poll_t *p, int kind, long ident,
                                  uintptr_t token) {
  if (!p->be->add_source)
    return PAL_EUNSUPPORTED;
  return p->be->add_source(p, kind, ident, token);
}

apr_status_t pal__poll_del_source(pal_poll_t *p, int kind, long ident) {
  if (!p->be->del_source)
    return PAL_EUNSUPPORTED;
  return p->be->del_source(p, kind, ident);
}

apr_status_t pal__poll_trigger(pal_poll_t *p, long ident, uintptr_t token) {
  if (!p->be->trigger)
    return PAL_EUNSUPPORTED;
  return p->be->trigger(p, ident, token);
}

/* Writing to a socket or pipe whose reader is gone must fail with EPIPE,
 * not kill the process.  Children get SIGPIPE back to default (proc.c). */
static void ignore_sigpipe(void) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
  }
}

/* The wake-up: the backend's own user event (kqueue EVFILT_USER), else an
 * eventfd or a pipe watched for reading. */
static apr_status_t wake_open(pal_poll_t *p) {
  uintptr_t token = PAL__TOKEN(p, PAL__TOK_WAKE);
  apr_status_t rv = pal__poll_add_source(p, PAL__SRC_USER, 0, token);
  if (rv != PAL_EUNSUPPORTED)
    return rv;
#ifdef PAL_HAVE_EVENTFD
  p->wake_rfd = p->wake_wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (p->wake_rfd < 0)
    return pal__fail("eventfd");
#else
  {
    int fds[2];
    if (pipe(fds) < 0)
      return pal__fail("pipe");
    p->wake_rfd = fds[0];
    p->wake_wfd = fds[1];
    pal__set_nonblock(fds[0], 1);
    pal__set_nonblock(fds[1], 1);
    pal__set_cloexec(fds[0], 1);
    pal__set_cloexec(fds[1], 1);
  }
#endif
  /* wake_ready() drains it at every event. */
  rv = pal__poll_add(p, p->wake_rfd, PAL__IN | PAL__EDGE, token);
  if (rv) {
    close(p->wake_rfd);
    if (p->wake_wfd != p->wake_rfd)
      close(p->wake_wfd);
    p->wake_rfd = p->wake_wfd = -1;
  }
  return rv;
}

apr_status_t pal_poll_create(pal_poll_t **pp) {
  const pal__backend_t *be;
  pal_poll_t *p;
  apr_status_t rv;

  pthread_once(&sigpipe_once, ignore_sigpipe);
  pthread_once(&backend_once, backend_choose);
  be = atomic_load(&backend);
  if (!be) {
    pal__last_call = backend_call;
    return backend_err;
  }
  p = calloc(1, sizeof *p);
  if (!p)
    return APR_ENOMEM;
  p->backend_fd = p->wake_rfd = p->wake_wfd = -1;
  p->sig_rfd = p->sig_wfd = p->sig_slot = -1;

  p->be = be;
  rv = p->be->create(p);
#ifdef PAL_HAVE_IO_URING
  if (rv && p->be == &pal__backend_uring && !backend_named) {
    /* The probe passed, but this ring could not be made (no memory for
     * it, a limit reached since): the default does not fail a loop that
     * the readiness backend can run, for this loop and the later ones. */
    apr_status_t urv = rv;
    const char *call = pal__last_call;
    p->be = PAL__NATIVE;
    rv = p->be->create(p);
    if (rv == APR_SUCCESS)
      fall_back(urv, call);
  }
#endif
  if (rv)
    goto fail_backend;
  rv = wake_open(p);
  if (rv)
    goto fail_wake;
  *pp = p;
  return APR_SUCCESS;

fail_wake:
  p->be->destroy(p);
fail_backend:
  free(p);
  return rv;
}

void pal_poll_destroy(pal_poll_t *p) {
  if (!p)
    return;
  pal__proc_destroy(p);
  pal__signal_destroy(p);
  if (p->wake_rfd >= 0)
    close(p->wake_rfd);
  if (p->wake_wfd >= 0 && p->wake_wfd != p->wake_rfd)
    close(p->wake_wfd);
  p->be->destroy(p);
  free(p);
}

unsigned pal_poll_pending(const pal_poll_t *p) { return p->pending; }

void pal_poll_set_wakeup_cb(pal_poll_t *p, pal_wakeup_cb cb, void *data) {
  p->wakeup_cb = cb;
  p->wakeup_data = data;
}

void pal_poll_set_waited_cb(pal_poll_t *p, pal_waited_cb cb, void *data) {
  p->waited_cb = cb;
  p->waited_data = data;
}

void pal_poll_set_signal_cb(pal_poll_t *p, pal_signal_cb cb, void *data) {
  p->signal_cb = cb;
  p->signal_data = data;
}

/* Thread-safe and async-signal-safe: an atomic flag keeps the descriptor
 * from filling up when many threads wake the loop at once. */
apr_status_t pal_poll_wakeup(pal_poll_t *p) {
  static const uint64_t one = 1;
  ssize_t n;
  if (atomic_exchange(&p->woken, 1))
    return APR_SUCCESS;
  if (p->wake_wfd < 0) {
    apr_status_t rv = pal__poll_trigger(p, 0, PAL__TOKEN(p, PAL__TOK_WAKE));
    if (rv != APR_SUCCESS)
      atomic_store(&p->woken, 0);
    return rv;
  }
  do
    n = write(p->wake_wfd, &one, sizeof one);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN) {
    atomic_store(&p->woken, 0);
    return pal_err_from_os(errno);
  }
  return APR_SUCCESS;
}

static void wake_ready(pal_poll_t *p) {
  uint64_t buf[16];
  ssize_t n;
  /* Drain first, then clear the flag: a sender that finds the flag still
   * set skips its write, but its state is seen by the callback below; a
   * sender after the clear writes again and wakes the next wait.  (The
   * other order loses wake-ups: a write drained after the clear leaves
   * the flag set with nothing left to read.)  A USER source (no
   * descriptor) was consumed when the wait returned it. */
  if (p->wake_rfd >= 0)
    do
      n = read(p->wake_rfd, buf, sizeof buf);
    while (n > 0 && p->wake_rfd != p->wake_wfd);
  atomic_store(&p->woken, 0);
  if (p->wakeup_cb)
    p->wakeup_cb(p, p->wakeup_data);
}

void pal__complete(pal_poll_t *p, pal_req_t *req, apr_status_t status) {
  pal__doneq_push(&p->done, req, status);
}

void pal__forget(pal_poll_t *p, uintptr_t token, int reads) {
  int i;
  for (i = p->cur + 1; i < p->nevents; i++) {
    pal__event_t *ev = &p->events[i];
    if (ev->token != token)
      continue;
    if (ev->events & PAL__DONE) {
      /* A completion read is not the descriptor's readiness: it is
       * dropped only with its stream, and its buffer goes back. */
      if (!reads)
        continue;
      if (ev->ident >= 0)
        (void)p->be->buf_release(p, ev->ident);
    }
    ev->token = 0;
  }
}

void pal__unwatch(pal_poll_t *p, int fd, uintptr_t token) {
  pal__forget(p, token, 0);
  pal__poll_del(p, fd);
}

void pal__unwatch_source(pal_poll_t *p, int kind, long ident,
                         uintptr_t token) {
  pal__forget(p, token, 0);
  pal__poll_del_source(p, kind, ident);
}

apr_status_t pal_poll_wait(pal_poll_t *p, int64_t timeout_ms) {
  int n, timeout;

  if (p->done.head)
    timeout = 0;
  else if (timeout_ms < 0)
    timeout = -1;
  else if (timeout_ms > 0x7fffffff)
    timeout = 0x7fffffff;
  else
    timeout = (int)timeout_ms;

  n = p->be->wait(p, p->events, PAL__MAX_EVENTS, timeout);
  if (n < 0) {
    apr_status_t rv = (apr_status_t)-n;
    if (!APR_STATUS_IS_EINTR(rv))
      return rv;
    n = 0;
  }
  /* The wait may have slept: callbacks below must see the time after it. */
  if (p->waited_cb)
    p->waited_cb(p, p->waited_data);
  p->nevents = n;
  for (p->cur = 0; p->cur < p->nevents; p->cur++) {
    pal__event_t *ev = &p->events[p->cur];
    void *obj;
    if (ev->token == 0)
      continue;     /* its watcher went away earlier in this batch */
    obj = PAL__TOKEN_PTR(ev->token);
    switch (PAL__TOKEN_TAG(ev->token)) {
    case PAL__TOK_IO:
      if (ev->events & PAL__DONE)
        pal__io_read_done(obj, ev->events, ev->res, ev->ident);
      else
        pal__io_ready(obj, ev->events);
      break;
    case PAL__TOK_PROC: pal__proc_ready(obj); break;
    case PAL__TOK_WAKE: wake_ready(obj); break;
    case PAL__TOK_SIG: pal__signal_ready(obj, ev->ident); break;
    default: break;
    }
  }
  p->nevents = p->cur = 0;
  /* The completion phase. */
  if (p->done.head)
    p->pending -= pal__doneq_run(&p->done);
  return APR_SUCCESS;
}
