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

/* Requests (common/req.c): fill in a write/send request (the caller then
 * counts it as pending on its poll), and move its cursor past `w` bytes
 * written. */
void pal__req_init(pal_req_t *req, pal_io_t *io, int type,
                   const pal_buf_t *bufs, unsigned nbufs, pal_req_cb cb);
void pal__req_advance(pal_req_t *req, size_t w);

/* Append a request to an io's write queue (writes complete in order). */
static inline void pal__wq_push(pal_io_t *io, pal_req_t *req) {
  req->next = NULL;
  if (io->wq_tail)
    io->wq_tail->next = req;
  else
    io->wq_head = req;
  io->wq_tail = req;
}

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

#endif
