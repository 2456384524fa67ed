/*
 * pal_win32.h -- internals of the Windows PAL (I/O completion ports).
 *
 * Map:
 *   1. the poll object: one completion port per loop (poll_iocp.c)
 *   2. completion keys: what a dequeued packet belongs to
 *   3. per-module entry points (stream.c, proc.c, signal.c)
 *   4. errors, the fault seam, UTF-8/UTF-16 helpers and ntdll look-ups
 *      (error.c)
 *
 * The model is native here: every operation is started with an
 * OVERLAPPED and its result is dequeued from the port.  Handles are never
 * given FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, so even an operation that
 * finishes at once completes through the port, and no callback ever runs
 * inside the call that submitted it -- the same promise the POSIX
 * backends keep with their completion queue.
 *
 * Memory rule: an OVERLAPPED belongs to the kernel from the moment an
 * operation is started until its packet is dequeued, even after the
 * handle is closed (the packet then says ERROR_OPERATION_ABORTED).  Each
 * pal_io_t counts its started operations; pal_io_busy() reports it, and
 * the core keeps a closing handle (and its requests) allocated until it
 * drops to zero.
 */
#ifndef PAL_WIN32_H
#define PAL_WIN32_H

#include "pal_common.h"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

/* ---- 1. the poll object ------------------------------------------------ */

#define PAL__MAX_ENTRIES 128

struct pal_poll_s {
  HANDLE iocp;
  pal__doneq_t done;              /* results known at submit time */
  unsigned pending;               /* submitted, not completed */
  volatile LONG woken;            /* a wake-up packet is in flight */
  pal_wakeup_cb wakeup_cb;
  void *wakeup_data;
  pal_waited_cb waited_cb;     /* right after the OS wait */
  void *waited_data;
  pal_signal_cb signal_cb;
  void *signal_data;
  volatile LONG sig_user;         /* portable signals watched (bit mask) */
  pal_poll_t *sig_next;           /* console-control registry (signal.c) */
  pal_proc_t *orphans;            /* closed handles whose child lives */
};

/* pal__complete() (pal_common.h) queues on `done`: poll_iocp.c. */

/* ---- 2. completion keys ----------------------------------------------- */

/* Keys are tagged pointers (objects are at least 4-byte aligned). */
enum {
  PAL__KEY_IO = 0,     /* a socket or pipe handle: pal_io_t *           */
  PAL__KEY_PROC = 1,   /* a job object's messages: proc.c's job context
                          (its first member is a pal_proc_t)           */
  PAL__KEY_WAKE = 2,   /* pal_poll_wakeup(): pal_poll_t *               */
  PAL__KEY_SIG = 3,    /* a console control event: pal_poll_t *, signal
                          number in the byte count                      */
  PAL__KEY_MASK = 3
};
#define PAL__KEY(ptr, tag) ((ULONG_PTR)(ptr) | (ULONG_PTR)(tag))
#define PAL__KEY_PTR(key) ((void *)((key) & ~(ULONG_PTR)PAL__KEY_MASK))
#define PAL__KEY_TAG(key) ((int)((key) & PAL__KEY_MASK))

/* Associate a handle with the poll's port. */
apr_status_t pal__port_add(pal_poll_t *p, HANDLE h, ULONG_PTR key);

/* The Win32 error of a dequeued packet (0: success). */
DWORD pal__packet_error(const OVERLAPPED_ENTRY *e);

/* ---- 3. modules --------------------------------------------------------- */

/* stream.c: a packet for an operation started on io; err is its Win32
 * error (ERROR_OPERATION_ABORTED after a close).  `io` is the key's
 * object; the I/O files route by the tag they keep in the OVERLAPPED
 * (io_win32.h), and for an accepted pipe instance the key names the
 * listener, which may be gone. */
void pal__io_completion(pal_io_t *io, OVERLAPPED *ov, DWORD bytes, DWORD err);
/* proc.c: a job-object message (JOB_OBJECT_MSG_*) about process `pid`;
 * `proc` is the job context the key names. */
void pal__proc_message(pal_proc_t *proc, DWORD msg, DWORD pid);
void pal__proc_destroy(pal_poll_t *p);
/* Set while the process runs under the service dispatcher (svcmgr.c). */
extern volatile LONG pal__win_as_service;
/* signal.c: leave the console-control registry. */
void pal__signal_destroy(pal_poll_t *p);
/* winsock: WSAStartup once per process (declared in pal_common.h, for
 * common/resolve.c too). */

/* ---- 4. errors, fault seam, strings ------------------------------------ */

/* Read the error before touching the thread-local call record: mingw's
 * emulated TLS calls TlsGetValue(), which resets GetLastError() to 0. */
static inline apr_status_t pal__fail(const char *call) {
  DWORD err = GetLastError();
  pal__last_call = call;
  return pal_err_from_os((int)err);
}

static inline apr_status_t pal__wsafail(const char *call) {
  int err = WSAGetLastError();
  pal__last_call = call;
  return pal_err_from_os(err);
}

/* Fault injection: PAL__SYS(PAL_SYS_READ, ReadFile(...), FALSE) evaluates
 * to the failure value with the injected error in GetLastError() (and
 * WSAGetLastError()) when a fault is armed for that call. */
static inline int pal__fault_hit(int call) {
  int e = pal__fault_take(call);
  if (e) {
    SetLastError((DWORD)e);
    WSASetLastError(e);
  }
  return e != 0;
}
#define PAL__SYS(call, expr, failval)                                        \
  ((PAL__UNLIKELY(pal__faults_armed) && pal__fault_hit(call)) ? (failval)    \
                                                              : (expr))

/* UTF-8 to UTF-16 and back; malloc'ed, NULL on failure (GetLastError()
 * set; ERROR_NO_UNICODE_TRANSLATION for bad UTF-8). */
wchar_t *pal__to_wide(const char *s);
char *pal__from_wide(const wchar_t *w);

/* A function of ntdll.dll that Win32 does not wrap, looked up once
 * (INIT_ONCE) and kept; NULL if ntdll lacks it.  The pointer comes as
 * void (*)(void), to be cast to the function's type. */
typedef void (*pal__ntdll_fn_t)(void);
typedef struct pal__ntdll_s {
  INIT_ONCE once;
  const char *name;
  pal__ntdll_fn_t fn;
} pal__ntdll_t;
#define PAL__NTDLL(name) {INIT_ONCE_STATIC_INIT, (name), NULL}
pal__ntdll_fn_t pal__ntdll(pal__ntdll_t *f);

#endif
