/*
 * thread_io.c -- synchronous handles: one worker thread per handle.
 *
 * Map:
 *   1. telling a synchronous handle
 *   2. the worker thread
 *   3. the loop's side: start, command, idle, read, stop, free
 *
 * A handle opened without FILE_FLAG_OVERLAPPED -- the child's end of a
 * pal_pipe(), a parent's stdio -- cannot join a port, and every call on
 * it blocks.  One worker thread per such io makes the blocking calls the
 * loop asks for (a zero-byte read, one write chunk) and posts their
 * results as packets, so the other I/O files see what an overlapped
 * handle would give.  The loop reads the data itself (PeekNamedPipe, then
 * a ReadFile of what is there) only while the worker is idle, because a
 * synchronous handle serialises its calls.  Close stops the worker:
 * CancelSynchronousIo() ends its blocking call (retried until it lands),
 * then the thread is joined, so no call is in progress when the handle is
 * closed.  Operations handed to the worker count in ops like any other.
 * Limits: pipes only; a handle that is read and written at once waits
 * for one before the other; the worker's own calls are outside the fault
 * seam (it is not thread-safe), the loop's reads are inside.
 */
#include "io_win32.h"

#include <stdlib.h>

/* A synchronous handle's worker, in IOS(io)->ext. */
typedef struct worker_s {
  HANDLE thread;
  HANDLE h;
  HANDLE port;
  ULONG_PTR key;
  CRITICAL_SECTION lock;
  CONDITION_VARIABLE cv;
  int stop;                    /* pal_io_close / shutdown: exit */
  int busy;                    /* inside a blocking call on h */
  OVERLAPPED *rcmd;            /* a zero-byte read to make */
  OVERLAPPED *wcmd;            /* a write to make: */
  const char *wbase;
  DWORD wlen;
} worker_t;

/* ---- 1. telling a synchronous handle ------------------------------------ */

/* Whether a handle was opened for synchronous I/O (no
 * FILE_FLAG_OVERLAPPED): 1, 0, or -1 when it cannot be told.  Win32 has
 * no call for it; ntdll's NtQueryInformationFile(FileModeInformation)
 * does (as libuv asks it). */
typedef LONG(NTAPI *query_file_fn)(HANDLE, void *, void *, ULONG, int);
static pal__ntdll_t query_file_ntdll = PAL__NTDLL("NtQueryInformationFile");

int pal__handle_is_sync(HANDLE h) {
  struct {
    union {
      LONG status;
      void *pointer;
    } u;
    ULONG_PTR information;
  } iosb;
  ULONG mode = 0;
  query_file_fn query_file = (query_file_fn)pal__ntdll(&query_file_ntdll);
  if (!query_file ||
      query_file(h, &iosb, &mode, sizeof mode, 16 /* FileModeInformation */) <
          0)
    return -1;
  /* FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT */
  return (mode & (0x10 | 0x20)) != 0;
}

/* ---- 2. the worker thread ----------------------------------------------- */

static DWORD WINAPI worker_main(void *arg) {
  worker_t *w = arg;
  EnterCriticalSection(&w->lock);
  for (;;) {
    OVERLAPPED *ov;
    const char *base = NULL;
    DWORD len = 0, n = 0, e = ERROR_OPERATION_ABORTED;
    while (!w->stop && !w->rcmd && !w->wcmd)
      SleepConditionVariableCS(&w->cv, &w->lock, INFINITE);
    if (w->wcmd) {
      ov = w->wcmd;
      base = w->wbase;
      len = w->wlen;
      w->wcmd = NULL;
    } else if (w->rcmd) {
      ov = w->rcmd;
      w->rcmd = NULL;
    } else {
      break;   /* stopped, nothing owed */
    }
    if (!w->stop) {
      BOOL ok;
      w->busy = 1;
      LeaveCriticalSection(&w->lock);
      if (base)
        ok = WriteFile(w->h, base, len, &n, NULL);
      else
        ok = ReadFile(w->h, pal__zero_buf, 0, &n, NULL);
      e = ok ? 0 : GetLastError();
      EnterCriticalSection(&w->lock);
      w->busy = 0;
    }
    /* The packet the operation owes, whatever happened. */
    ov->OffsetHigh = PAL__OV_POSTED;
    ov->Internal = e;
    PostQueuedCompletionStatus(w->port, n, w->key, ov);
  }
  LeaveCriticalSection(&w->lock);
  return 0;
}

/* ---- 3. the loop's side ------------------------------------------------- */

DWORD pal__worker_start(pal_io_t *io) {
  worker_t *w = calloc(1, sizeof *w);
  if (!w)
    return ERROR_NOT_ENOUGH_MEMORY;
  w->h = HND(io);
  w->port = io->poll->iocp;
  w->key = PAL__KEY(io, PAL__KEY_IO);
  InitializeCriticalSection(&w->lock);
  InitializeConditionVariable(&w->cv);
  w->thread = CreateThread(NULL, 64 * 1024, worker_main, w,
                           STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
  if (!w->thread) {
    DWORD e = GetLastError();
    DeleteCriticalSection(&w->lock);
    free(w);
    return e;
  }
  IOS(io)->ext = w;
  io->flags |= PAL__F_SYNC;
  return 0;
}

/* Hand an operation to the worker: a zero-byte read (base NULL) or a
 * write.  The read side and the write side have one each at most. */
void pal__worker_command(pal_io_t *io, OVERLAPPED *ov, const char *base,
                         DWORD len) {
  worker_t *w = IOS(io)->ext;
  EnterCriticalSection(&w->lock);
  if (base) {
    w->wcmd = ov;
    w->wbase = base;
    w->wlen = len;
  } else {
    w->rcmd = ov;
  }
  IOS(io)->ops++;
  WakeConditionVariable(&w->cv);
  LeaveCriticalSection(&w->lock);
}

/* Whether the worker is out of calls on the handle (only the loop gives
 * it work, so it stays so until the loop does). */
static int worker_idle(pal_io_t *io) {
  worker_t *w = IOS(io)->ext;
  int idle;
  EnterCriticalSection(&w->lock);
  idle = !w->busy && !w->rcmd && !w->wcmd;
  LeaveCriticalSection(&w->lock);
  return idle;
}

/* Stop and join the worker; what it owed is posted (aborted). */
void pal__worker_stop(pal_io_t *io) {
  worker_t *w = IOS(io)->ext;
  if (!w || !w->thread)
    return;
  EnterCriticalSection(&w->lock);
  w->stop = 1;
  WakeConditionVariable(&w->cv);
  while (w->busy) {
    /* Not found while the worker is between its flag and the kernel:
     * try again until the call is there to cancel. */
    LeaveCriticalSection(&w->lock);
    CancelSynchronousIo(w->thread);
    SwitchToThread();
    EnterCriticalSection(&w->lock);
  }
  LeaveCriticalSection(&w->lock);
  WaitForSingleObject(w->thread, INFINITE);
  CloseHandle(w->thread);
  w->thread = NULL;
}

/* The worker's memory, once the io is closed and owes no packet. */
void pal__worker_free(void *ext) {
  worker_t *w = ext;
  DeleteCriticalSection(&w->lock);
  free(w);
}

/* Read what is there, which cannot block -- unless the worker is in a
 * call (a write, on a handle that is read and written), which the handle
 * would make us wait for: then read after its next read. */
int pal__worker_read(pal_io_t *io, const pal_buf_t *buf, DWORD len,
                     size_t *n, apr_status_t *rv) {
  DWORD avail = 0, got, e;
  if (!worker_idle(io))
    return PAL__RD_AGAIN;
  if (!PeekNamedPipe(HND(io), NULL, 0, NULL, &avail, NULL))
    return pal__read_class(io, GetLastError(), "PeekNamedPipe", rv);
  if (avail == 0)
    return PAL__RD_AGAIN;
  for (;;) {
    if (PAL__SYS(PAL_SYS_READ,
                 ReadFile(HND(io), buf->base, avail < len ? avail : len,
                          &got, NULL),
                 FALSE)) {
      *n = got;
      return got ? PAL__RD_DATA : PAL__RD_AGAIN;
    }
    e = GetLastError();
    if (!pal__is_intr(e))
      return pal__read_class(io, e, "ReadFile", rv);
  }
}
