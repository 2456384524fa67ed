/*
 * poll_iocp.c -- the IOCP backend: one completion port per loop.
 *
 * Map:
 *   the pal__poll_* contract: create/add/modify/del/wait/destroy/name,
 *     where add associates a handle with the port, and modify and del
 *     have nothing to do (interest is expressed by starting operations;
 *     closing a handle dissociates it)
 *   pal_poll_*: wake-up by PostQueuedCompletionStatus, one wait with
 *     GetQueuedCompletionStatusEx and the next timer as its timeout, then
 *     dispatch by completion key, then the completion phase
 *   pal__complete: the completion queue of results known at submit time
 */
#include "pal_win32.h"

#include <stdlib.h>

typedef ULONG(NTAPI *status_to_error_fn)(LONG);
static pal__ntdll_t status_to_error_ntdll =
    PAL__NTDLL("RtlNtStatusToDosError");

DWORD pal__packet_error(const OVERLAPPED_ENTRY *e) {
  LONG status = (LONG)e->Internal;   /* an NTSTATUS */
  status_to_error_fn status_to_error;
  if (status >= 0)
    return 0;
  status_to_error = (status_to_error_fn)pal__ntdll(&status_to_error_ntdll);
  if (status_to_error)
    return status_to_error(status);
  return ERROR_GEN_FAILURE;
}

/* ---- the backend contract ------------------------------------------------ */

static apr_status_t pal__poll_create(pal_poll_t *p) {
  p->iocp = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (!p->iocp)
    return pal__fail("CreateIoCompletionPort");
  return APR_SUCCESS;
}

static void pal__poll_destroy(pal_poll_t *p) {
  if (p->iocp)
    CloseHandle(p->iocp);
  p->iocp = NULL;
}

apr_status_t pal__port_add(pal_poll_t *p, HANDLE h, ULONG_PTR key) {
  if (PAL__SYS(PAL_SYS_POLL_CTL, CreateIoCompletionPort(h, p->iocp, key, 0),
               NULL) == NULL)
    return pal__fail("CreateIoCompletionPort");
  return APR_SUCCESS;
}

static const char *pal__poll_name(void) { return "iocp"; }

/* Results known at submit time wait for this loop's completion phase. */
void pal__complete(pal_poll_t *p, pal_req_t *req, apr_status_t status) {
  pal__doneq_push(&p->done, req, status);
}

/* ---- the poll object ----------------------------------------------------- */

apr_status_t pal_poll_create(pal_poll_t **pp) {
  pal_poll_t *p;
  apr_status_t rv;
  if ((rv = pal__winsock_init()) != APR_SUCCESS)
    return rv;
  p = calloc(1, sizeof *p);
  if (!p)
    return APR_ENOMEM;
  rv = pal__poll_create(p);
  if (rv != APR_SUCCESS) {
    free(p);
    return rv;
  }
  *pp = p;
  return APR_SUCCESS;
}

void pal_poll_destroy(pal_poll_t *p) {
  if (!p)
    return;
  pal__signal_destroy(p);
  pal__proc_destroy(p);
  pal__poll_destroy(p);
  free(p);
}

const char *pal_poll_name(void) { return pal__poll_name(); }

const char *pal_poll_fallback(void) { return NULL; }

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

apr_status_t pal_poll_wakeup(pal_poll_t *p) {
  if (InterlockedExchange(&p->woken, 1))
    return APR_SUCCESS;   /* one packet in flight is enough */
  if (!PostQueuedCompletionStatus(p->iocp, 0, PAL__KEY(p, PAL__KEY_WAKE),
                                  NULL)) {
    InterlockedExchange(&p->woken, 0);
    return pal__fail("PostQueuedCompletionStatus");
  }
  return APR_SUCCESS;
}

apr_status_t pal_poll_wait(pal_poll_t *p, int64_t timeout_ms) {
  OVERLAPPED_ENTRY entries[PAL__MAX_ENTRIES];
  ULONG n = 0, i;
  DWORD timeout;

  if (p->done.head)
    timeout = 0;
  else if (timeout_ms < 0)
    timeout = INFINITE;
  else if (timeout_ms >= (int64_t)INFINITE)
    timeout = INFINITE - 1;
  else
    timeout = (DWORD)timeout_ms;

  if (!PAL__SYS(PAL_SYS_POLL_WAIT,
                GetQueuedCompletionStatusEx(p->iocp, entries,
                                            PAL__MAX_ENTRIES, &n, timeout,
                                            FALSE),
                FALSE)) {
    DWORD err = GetLastError();
    n = 0;
    /* WAIT_TIMEOUT is the normal idle case; an injected EINTR stands for
     * an interrupted wait and is absorbed the same way. */
    if (err != WAIT_TIMEOUT && err != (DWORD)APR_TO_OS_ERROR(APR_EINTR) &&
        err != ERROR_ABANDONED_WAIT_0) {
      pal__last_call = "GetQueuedCompletionStatusEx";
      return pal_err_from_os((int)err);
    }
  }
  /* The wait may have slept: callbacks below must see the time after it. */
  if (p->waited_cb)
    p->waited_cb(p, p->waited_data);

  for (i = 0; i < n; i++) {
    OVERLAPPED_ENTRY *e = &entries[i];
    void *obj = PAL__KEY_PTR(e->lpCompletionKey);
    switch (PAL__KEY_TAG(e->lpCompletionKey)) {
    case PAL__KEY_IO:
      pal__io_completion(obj, e->lpOverlapped, e->dwNumberOfBytesTransferred,
                         pal__packet_error(e));
      break;
    case PAL__KEY_PROC:
      /* Job messages: the message id in the byte count, the process id
       * in the OVERLAPPED pointer field. */
      pal__proc_message(obj, e->dwNumberOfBytesTransferred,
                        (DWORD)(ULONG_PTR)e->lpOverlapped);
      break;
    case PAL__KEY_WAKE:
      InterlockedExchange(&p->woken, 0);
      if (p->wakeup_cb)
        p->wakeup_cb(p, p->wakeup_data);
      break;
    case PAL__KEY_SIG: {
      int sig = (int)e->dwNumberOfBytesTransferred;
      if ((p->sig_user & (1L << sig)) && p->signal_cb)
        p->signal_cb(p, sig, p->signal_data);
      break;
    }
    default:
      break;
    }
  }
  p->pending -= pal__doneq_run(&p->done);
  return APR_SUCCESS;
}
