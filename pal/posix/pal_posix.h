/*
 * pal_posix.h -- shared internals of the POSIX PAL (epoll and kqueue).
 *
 * Map:
 *   1. the backend contract (pal__poll_*), one file per backend:
 *      poll_epoll.c, poll_kqueue.c; descriptors, plus keyed sources
 *      (pid, signal, user event) where the backend has them
 *   2. struct pal_poll_s: batch of fetched events, completion queue,
 *      wake-up and signal descriptors (poll.c)
 *   3. tokens: what an event's user word points at
 *   4. error and fault-injection helpers (error.c, sys.c)
 *
 * Everything else -- completion emulation for streams (io.c), process
 * spawning (proc.c), signals (signal.c) -- is shared by every POSIX
 * backend and lives once.
 */
#ifndef PAL_POSIX_H
#define PAL_POSIX_H

#include "pal_common.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- 1. backend contract --------------------------------------------- */

/* Readiness bits understood by every backend. */
/* PAL__EDGE (add, modify): the owner drains the descriptor at every
 * event, so reporting new readiness only is enough; a backend may use
 * that (epoll: EPOLLET; io_uring: a multishot poll) or ignore it.  An
 * edge-triggered backend also reports PAL__HUP when the peer shut its
 * side down and PAL__PRI for urgent data: a read shorter than its buffer
 * proves the descriptor drained only when neither is set (io.c).
 * Adding or modifying a descriptor reports its current readiness again,
 * whatever the trigger. */
/* The readiness bits have poll(2)'s values (POLLIN, POLLPRI, POLLOUT,
 * POLLERR, POLLHUP; epoll's EPOLL* have the same), so that translating
 * an event is a mask, not a bit at a time: the backends assert it. */
enum { PAL__IN = 0x001, PAL__PRI = 0x002, PAL__OUT = 0x004,
       PAL__ERR = 0x008, PAL__HUP = 0x010,
       PAL__DONE = 0x100, PAL__MORE = 0x200, PAL__EDGE = 0x400 };

/* PAL__IN / PAL__OUT as poll(2)'s POLLIN / POLLOUT, and poll(2)'s revents
 * (POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLRDHUP) as PAL__*
 * bits. */
static inline unsigned pal__to_pollbits(unsigned ev) {
  return ev & (PAL__IN | PAL__OUT);
}

static inline unsigned pal__revents(unsigned r) {
  return (r & (PAL__IN | PAL__PRI | PAL__OUT | PAL__ERR | PAL__HUP)) |
         ((r & 0x2000) ? PAL__HUP : 0u);   /* POLLRDHUP */
}

/* A readiness event, or (PAL__DONE, completion backends) a finished read
 * of a stream: `res` is its result (bytes, 0 at EOF, or -errno) and
 * `ident` the backend's buffer holding the bytes (-1: none). */
typedef struct pal__event_s {
  uintptr_t token;     /* 0: dropped (its watcher was removed) */
  unsigned events;     /* PAL__* */
  int ident;           /* a signal source's native signal number, or the
                          buffer of a PAL__DONE read; else 0 */
  int res;             /* PAL__DONE: the read's result */
} pal__event_t;

/* A backend is a table of these calls; the poll holds the one it was
 * created with (p->be).  Several can be compiled in (Linux: io_uring and
 * epoll), and pal_poll_create() picks one at run time (poll.c). */
typedef struct pal__backend_s {
  const char *name;                  /* "epoll", "io_uring", "kqueue" */
  apr_status_t (*create)(pal_poll_t *p);
  void (*destroy)(pal_poll_t *p);
  /* Start watching fd for `events`; token comes back with each event. */
  apr_status_t (*add)(pal_poll_t *p, int fd, unsigned events,
                      uintptr_t token);
  apr_status_t (*modify)(pal_poll_t *p, int fd, unsigned events,
                         uintptr_t token);
  apr_status_t (*del)(pal_poll_t *p, int fd);
  /* Wait; fill at most max events; returns the count, or -status. */
  int (*wait)(pal_poll_t *p, pal__event_t *out, int max, int timeout_ms);
  /* Keyed sources (below); NULL: none, the shared code uses
   * descriptors. */
  apr_status_t (*add_source)(pal_poll_t *p, int kind, long ident,
                             uintptr_t token);
  apr_status_t (*del_source)(pal_poll_t *p, int kind, long ident);
  apr_status_t (*trigger)(pal_poll_t *p, long ident, uintptr_t token);
  /* Completion reads of streams (NULL on a readiness-only backend;
   * io.c, section 3b).  read_submit starts reading io into buffers of
   * the backend's choosing (or, with nop, a no-op that completes at the
   * next wait) and stores its slot.  Each completion is a PAL__DONE event
   * (res; ident: its buffer, or PAL__READ_NONE; PAL__MORE: more follow).
   * read_cancel stops it: what completes meanwhile is still reported,
   * unless `detach` (a closing stream), when the slot forgets io and
   * gives the buffers back itself.  buf: a buffer's bytes and their
   * count; buf_link chains a buffer after another of a stream's queue;
   * buf_release gives one back and returns the one chained after it
   * (-1: none). */
  apr_status_t (*read_submit)(pal_poll_t *p, pal_io_t *io, int nop,
                              intptr_t *slot);
  void (*read_cancel)(pal_poll_t *p, intptr_t slot, int detach);
  char *(*buf)(pal_poll_t *p, int bid, size_t *len);
  void (*buf_link)(pal_poll_t *p, int bid, int next);
  int (*buf_release)(pal_poll_t *p, int bid);
} pal__backend_t;

/* The ident of a PAL__DONE event without a buffer: a no-op completed. */
#define PAL__READ_NONE (-2)

/* The compiled backends; pal__backend_uring_probe() says whether this
 * kernel runs io_uring (APR_SUCCESS) or why not, and whether with all it
 * can use (*full: MSG_RING from no ring, Linux 6.13). */
extern const pal__backend_t pal__backend_epoll;
extern const pal__backend_t pal__backend_kqueue;
extern const pal__backend_t pal__backend_uring;
apr_status_t pal__backend_uring_probe(int *full);

#define pal__poll_add(p, fd, ev, tok) ((p)->be->add((p), (fd), (ev), (tok)))
#define pal__poll_modify(p, fd, ev, tok)                                     \
  ((p)->be->modify((p), (fd), (ev), (tok)))
#define pal__poll_del(p, fd) ((p)->be->del((p), (fd)))

/* Sources keyed by something other than a descriptor: a child's pid, a
 * signal number, a user event (kqueue's EVFILT_PROC with NOTE_EXIT,
 * EVFILT_SIGNAL, EVFILT_USER).  A backend that has no such kind returns
 * PAL_EUNSUPPORTED from add (or has no add_source), for every ident, and
 * the shared code falls back to descriptors: a pidfd or SIGCHLD for
 * children, the self-pipe for signals, an eventfd or a pipe for
 * wake-ups.  A PROC source reports once (the child has exited: reap it,
 * waiting if need be); its event and a SIGNAL source's event carry the
 * kind's token, a SIGNAL event also the native signal number in
 * pal__event_t.ident.  Deleting a source that is gone already (a process
 * that exited) succeeds.  trigger fires a USER source (added with the
 * same ident and token): any thread, and async-signal-safe: it records no
 * failing call (pal__fail). */
enum { PAL__SRC_PROC = 1, PAL__SRC_SIGNAL = 2, PAL__SRC_USER = 3 };
apr_status_t pal__poll_add_source(pal_poll_t *p, int kind, long ident,
                                  uintptr_t token);
apr_status_t pal__poll_del_source(pal_poll_t *p, int kind, long ident);
apr_status_t pal__poll_trigger(pal_poll_t *p, long ident, uintptr_t token);

/* ---- 2. the poll object ------------------------------------------------ */

#define PAL__MAX_EVENTS 256

struct pal_poll_s {
  const pal__backend_t *be;             /* the backend it was created with */
  int backend_fd;                       /* epoll / kqueue / io_uring fd */
  void *backend;                        /* the backend's own state */
  pal__event_t events[PAL__MAX_EVENTS]; /* batch being dispatched */
  int nevents, cur;
  pal__doneq_t done;                    /* completions to deliver */
  unsigned pending;                     /* submitted, not completed */
  int wake_rfd, wake_wfd;               /* eventfd (same), pipe, or -1:
                                           the backend's USER source */
  atomic_int woken;                     /* a wake-up byte is in flight */
  pal_wakeup_cb wakeup_cb;
  void *wakeup_data;
  pal_waited_cb waited_cb;     /* right after the OS wait */
  void *waited_data;
  pal_signal_cb signal_cb;
  void *signal_data;
  int sig_rfd, sig_wfd;                 /* self-pipe, created on demand
                                           (-1 with SIGNAL sources) */
  int sig_slot;                         /* index in signal.c's registry */
  uint32_t sig_user;                    /* signals the user watches */
  uint32_t sig_internal;                /* signals the PAL needs (CHLD) */
  pal_proc_t *procs;                    /* children reaped via SIGCHLD */
  pal_proc_t *orphans;                  /* closed handles, child alive */
  int reaps_adopted;                    /* watches SIGCHLD for orphans
                                           (pal_set_subreaper) */
};

/* pal__complete(), the completion phase's queue: pal_common.h. */
/* Drop the readiness events carrying token from the batch being
 * dispatched, and with `reads` its completion reads too (a closing
 * stream). */
void pal__forget(pal_poll_t *p, uintptr_t token, int reads);
/* Forget fd's events in the batch being dispatched, then unwatch it. */
void pal__unwatch(pal_poll_t *p, int fd, uintptr_t token);
/* The same for a keyed source (pal__poll_del_source). */
void pal__unwatch_source(pal_poll_t *p, int kind, long ident,
                         uintptr_t token);

/* ---- 3. tokens --------------------------------------------------------- */

/* Objects are at least 4-byte aligned (they hold pointers and ints): the
 * low 2 bits say what they are. */
enum {
  PAL__TOK_IO = 0, PAL__TOK_PROC = 1, PAL__TOK_WAKE = 2, PAL__TOK_SIG = 3,
  PAL__TOK_MASK = 3
};
#define PAL__TOKEN(ptr, tag) ((uintptr_t)(ptr) | (uintptr_t)(tag))
#define PAL__TOKEN_PTR(tok) ((void *)((tok) & ~(uintptr_t)PAL__TOK_MASK))
#define PAL__TOKEN_TAG(tok) ((int)((tok) & PAL__TOK_MASK))

/* io.c: readiness of a stream or datagram socket; a completion read of a
 * stream finished (events: PAL__DONE, PAL__MORE; res: bytes or -errno;
 * bid: the backend's buffer, or -1). */
void pal__io_ready(pal_io_t *io, unsigned events);
void pal__io_read_done(pal_io_t *io, unsigned events, int res, int bid);
/* proc.c: a pidfd became readable, a PROC source fired, or SIGCHLD
 * arrived. */
void pal__proc_ready(pal_proc_t *proc);
void pal__proc_sigchld(pal_poll_t *p);
/* pal_set_subreaper() succeeded: polls that spawn also reap orphans. */
void pal__proc_adopting(void);
/* Reap the exited children no handle waits for (any thread; nothing
 * before pal_set_subreaper()). */
void pal__proc_reap_adopted(void);
/* Is pid a child pal_proc_spawn() made, not yet reaped? */
int pal__proc_known(long pid);
/* pidfile.c: pal_pidinfo_t.id of pid now, 0 if it is gone. */
uint64_t pal__pid_id(long pid);
/* Release orphan records when the poll is destroyed. */
void pal__proc_destroy(pal_poll_t *p);
#if defined(__linux__)
/* What /proc/PID/stat says of a process (proc_tree.c): 1, or 0 if it is
 * gone. */
typedef struct pal__pstat_s {
  char state;                   /* 'R', 'S', ..., 'Z' (zombie) */
  long ppid, pgrp;
  unsigned long long utime, stime;   /* clock ticks */
  unsigned long long start;     /* clock ticks since boot */
  long long rss;                /* pages */
} pal__pstat_t;
int pal__proc_stat(long pid, pal__pstat_t *out);
/* The start of /proc/PID/NAME (one read), NUL-terminated in buf: 1, or 0
 * if it cannot be read (the process is gone). */
int pal__proc_read(long pid, const char *name, char *buf, size_t size);
/* Add process pid's CPU time and resident memory (/proc/PID/stat) to out
 * if it is alive and, with pgid > 0, in that process group: 1 if it was
 * counted (cgroup.c sums a cgroup's members with it; proc_usage.c). */
int pal__proc_usage_add(long pid, long pgid, pal_usage_t *out);
/* proc_usage.c: the usage of each key (a process group id, or -pid for a
 * process alone) of keys[0..n-1], sorted and distinct, into out[i]. */
void pal__usage_keys(const long *keys, size_t n, pal_usage_t *out);
/* Sort keys[0..n-1] and drop duplicates; the count left. */
size_t pal__usage_sort_keys(long *keys, size_t n);
int pal__by_long(const void *a, const void *b);   /* qsort of longs */
#endif
/* signal.c: a SIGNAL source fired (native > 0), or the self-pipe is
 * readable (native == 0): dispatch; tear down. */
void pal__signal_ready(pal_poll_t *p, int native);
void pal__signal_destroy(pal_poll_t *p);
/* Ensure the self-pipe exists and the PAL watches `signum` internally. */
apr_status_t pal__signal_internal(pal_poll_t *p, int signum, int on);

/* ---- 4. errors and the fault seam -------------------------------------- */

/* Record the call that failed and translate errno. */
static inline apr_status_t pal__fail(const char *call) {
  pal__last_call = call;
  return pal_err_from_os(errno);
}

/* Fault injection: a call site reads
 *     n = PAL__SYS(PAL_SYS_READ, read(fd, buf, len));
 * which costs one predictable branch on an unarmed global in production. */
static inline int pal__fault_hit(int call) {
  int e = pal__fault_take(call);
  if (e)
    errno = e;
  return e != 0;
}
#define PAL__SYS(call, expr)                                                 \
  ((PAL__UNLIKELY(pal__faults_armed) && pal__fault_hit(call)) ? -1 : (expr))

/* Descriptor helpers (io.c). */
apr_status_t pal__set_nonblock(int fd, int on);
apr_status_t pal__set_cloexec(int fd, int on);
/* A new non-blocking, close-on-exec socket (io.c). */
apr_status_t pal__socket(int domain, int type, int *fd);

#endif
