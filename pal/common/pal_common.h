/*
 * pal_common.h -- internals shared by every PAL backend (POSIX and
 * Windows): the failing-call record, the fault-injection seam and the
 * completion queue.  Logic used by more than one backend lives in
 * pal/common/ once; each backend has only what its OS makes different.
 */
#ifndef PAL_COMMON_H
#define PAL_COMMON_H

#include "pal_config.h"
#include "pal.h"

#include <string.h>

#if defined(__GNUC__)
#define PAL__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PAL__LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define PAL__UNLIKELY(x) (x)
#define PAL__LIKELY(x) (x)
#endif

/* The failing OS call's name, for pal_last_call(). */
extern _Thread_local const char *pal__last_call;

/* Fault injection (common/fault.c).  pal__fault_take(call) returns the OS
 * error number to fail this call with, or 0 to let it through; each
 * backend wraps it so the error lands where its OS puts errors (errno,
 * SetLastError, WSASetLastError).  Unarmed, the cost is one branch. */
extern int pal__faults_armed;
int pal__fault_take(int call);

/* A getaddrinfo() result code as a status (each backend's error.c). */
apr_status_t pal__gai_error(int rc);
#ifdef _WIN32
/* WSAStartup once per process (win32/error.c). */
apr_status_t pal__winsock_init(void);
#endif

/* io->flags every backend keeps; a backend adds its own from
 * PAL__F_BACKEND up. */
enum {
  PAL__F_READING = 1u << 0,
  PAL__F_LISTENING = 1u << 1,
  PAL__F_RECVING = 1u << 2,
  PAL__F_CLOSED = 1u << 3,
  PAL__F_SHUT = 1u << 4,    /* write side shut down (or shutting) */
  PAL__F_BACKEND = 1u << 5
};

#define PAL__READ_BATCH 32      /* reads per event or packet, for fairness */
#define PAL__IOV_MAX 64         /* buffers per vectored write */
#define PAL__SUGGESTED 65536    /* the size alloc_cb is asked for */

/* A fresh io on poll p; only the owner's data survives. */
static inline void pal__io_init(pal_io_t *io, pal_poll_t *p, int kind,
                                pal_fd_t fd) {
  void *data = io->data;
  memset(io, 0, sizeof *io);
  io->data = data;
  io->poll = p;
  io->kind = kind;
  io->fd = fd;
}

/* Queue a request result for the completion phase of the poll's next
 * wait (each backend's poll: the completion queue below). */
void pal__complete(pal_poll_t *p, pal_req_t *req, apr_status_t status);

/* Requests: fill in a write/send request (the caller then counts it as
 * pending on its poll; inline, as it is on every write's path), and
 * (common/req.c) move its cursor past `w` bytes written. */
static inline void pal__req_init(pal_req_t *req, pal_io_t *io, int type,
                                 const pal_buf_t *bufs, unsigned nbufs,
                                 pal_req_cb cb) {
  req->cb = cb;
  req->io = io;
  req->next = NULL;
  req->status = APR_SUCCESS;
  req->type = type;
  req->bufs = bufs;
  req->nbufs = nbufs;
  req->bufidx = 0;
  req->bufoff = 0;
}
void pal__req_advance(pal_req_t *req, size_t w);

/* Append a request to an io's write queue (writes complete in order). */
static inline void pal__writes_push(pal_io_t *io, pal_req_t *req) {
  req->next = NULL;
  if (io->writes_tail)
    io->writes_tail->next = req;
  else
    io->writes_head = req;
  io->writes_tail = req;
}

/* Take the head off an io's write queue (which is not empty). */
static inline pal_req_t *pal__writes_pop(pal_io_t *io) {
  pal_req_t *req = io->writes_head;
  io->writes_head = req->next;
  if (!io->writes_head)
    io->writes_tail = NULL;
  return req;
}

/* Complete every queued write or send with `status`, in order (a broken
 * stream fails what waits behind the request that broke it). */
void pal__writes_complete_all(pal_io_t *io, apr_status_t status);

/* pal_io_close()'s cancellations: every pending request completes with
 * PAL_ECANCELED in submission order -- connect, writes, shutdown. */
void pal__io_cancel_all(pal_io_t *io);

/* The completion queue: results known at submit time wait here for the
 * completion phase of the next pal_poll_wait(), as a completion port
 * would deliver them. */
typedef struct pal__doneq_s {
  pal_req_t *head, *tail;
} pal__doneq_t;

static inline void pal__doneq_push(pal__doneq_t *q, pal_req_t *req,
                                   apr_status_t status) {
  req->status = status;
  req->next = NULL;
  if (q->tail)
    q->tail->next = req;
  else
    q->head = req;
  q->tail = req;
}

/* Run the completions queued so far, in order; returns how many ran.
 * Completions queued by these callbacks wait for the next phase (the
 * poll then does not block), so a callback that keeps submitting writes
 * which complete at once cannot starve the loop. */
static inline unsigned pal__doneq_run(pal__doneq_t *q) {
  unsigned n = 0;
  pal_req_t *req = q->head;
  q->head = q->tail = NULL;
  while (req != NULL) {
    pal_req_t *next = req->next;
    req->next = NULL;
    n++;
    req->cb(req, req->status);
    req = next;
  }
  return n;
}

/* A pal_proc_t about to be spawned or attached: every field cleared but
 * the owner's data, no handle, no job (every backend's first step). */
static inline void pal__proc_init(pal_proc_t *proc, pal_poll_t *poll,
                                  pal_exit_cb exit_cb) {
  void *data = proc->data;
  memset(proc, 0, sizeof *proc);
  proc->data = data;
  proc->poll = poll;
  proc->handle = PAL_INVALID_FD;
  proc->job = PAL_INVALID_FD;
  proc->exit_cb = exit_cb;
}

#endif
