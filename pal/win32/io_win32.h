/*
 * io_win32.h -- what the I/O files of the Windows PAL share: streams and
 * datagram sockets on an I/O completion port.
 *
 * Map:
 *   1. flags and sizes
 *   2. layout: what lives in io->os, req->os and the heap; packet tags
 *   3. listeners: accept slots and the ready FIFO
 *   4. helpers every file uses: errors, packets
 *   5. entry points, by file
 *
 * The files, by kind (as libuv splits src/win/):
 *   stream.c    the machinery every kind shares: packets, the read side
 *               (a zero-byte read, then non-blocking reads), the write
 *               queue, requests' packets, close
 *   tcp.c       sockets: creation, bind, ConnectEx, AcceptEx slots,
 *               addresses and options
 *   udp.c       datagrams: recvfrom batches, WSASendTo
 *   pipe.c      pipes: child stdio (pal_pipe), named pipes as local
 *               stream endpoints, their security, non-blocking reads
 *   listen.c    listeners of both kinds: slots, the ready FIFO, accept
 *   thread_io.c synchronous handles: one worker thread per handle
 *
 * Invariants:
 *   - Every OS operation that will post a packet, and every packet the
 *     PAL posts itself, counts in IOS(io)->ops until it is dequeued.
 *     pal_io_busy() is that count, and the memory the packets point to --
 *     io->os (the read side), req->os (requests), the listener state
 *     (accept slots) -- stays allocated while it is non-zero.
 *   - Packets are routed by the tag in OVERLAPPED.Offset, never by the
 *     completion key: an accepted pipe instance keeps the listener's key
 *     (a handle joins a port once) and may outlive the listener.  Sockets
 *     and pipes have no byte offsets and ignore the field; pal_io_open()
 *     refuses other handle types.
 *   - At most one read-side operation (F_RPOSTED) and one request
 *     operation (F_WPOSTED: the connect, or the head of the write queue)
 *     are in flight per io.  Writes behind it wait in writes_head, in order.
 *   - No callback from a submitting call: results known at submit time go
 *     through pal__complete() (requests) or a packet the PAL posts itself
 *     (read side, listeners: OffsetHigh == PAL__OV_POSTED, with the Win32
 *     error in Internal).
 *   - After pal_io_close() the only callbacks are the requests'
 *     PAL_ECANCELED completions, in submission order (connect, writes,
 *     shutdown).  While a request's OVERLAPPED is with the kernel they
 *     wait for its packet: a callback would let the owner free it.
 *   - Callbacks may close the io: every loop re-checks F_CLOSED.
 */
#ifndef IO_WIN32_H
#define IO_WIN32_H

#include "pal_win32.h"

#include <stddef.h>
#include <string.h>

/* ---- 1. flags and sizes ------------------------------------------------- */

/* The backend's io->flags, above the common ones (pal_common.h). */
enum {
  PAL__F_RPOSTED = PAL__F_BACKEND << 0,  /* the read-side op is in flight */
  PAL__F_WPOSTED = PAL__F_BACKEND << 1,  /* a request op is in flight ... */
  PAL__F_WKICK = PAL__F_BACKEND << 2,    /* ... a retry the PAL posted */
  PAL__F_WEARLY = PAL__F_BACKEND << 3,   /* ... finished at once: counted */
  PAL__F_BOUND = PAL__F_BACKEND << 4,
  PAL__F_SYNC = PAL__F_BACKEND << 5,     /* synchronous: worker thread */
  PAL__F_INREAD = PAL__F_BACKEND << 6    /* in a read batch: it posts the
                                            next read */
};

#define PAL__INLINE_BUFS 2       /* WSABUFs kept in req->os */
#define PAL__TCP_ACCEPTS 8       /* AcceptEx operations per listener */
#define PAL__PIPE_INSTANCES 4    /* instances in ConnectNamedPipe: at */
#define PAL__PIPE_INSTANCES_MAX 16 /* least, and at most (the backlog) */
#define PAL__PIPE_WAIT_MS 10000  /* a connect waits this long for one */
#define PAL__CHUNK_MAX (1u << 30) /* bytes per WSABUF or WriteFile */
#define PAL__ADDRLEN (sizeof(SOCKADDR_STORAGE) + 16)

/* ---- 2. layout ---------------------------------------------------------- */

/* Packet tags (OVERLAPPED.Offset), and the mark of a packet the PAL
 * posted itself (OVERLAPPED.OffsetHigh); its Win32 error is in Internal,
 * which PostQueuedCompletionStatus leaves alone. */
enum { PAL__OV_READ = 0x56470001, PAL__OV_REQ, PAL__OV_SLOT };
#define PAL__OV_POSTED 1u

/* io->os: the read side's OVERLAPPED (zero-byte reads, and the packets
 * the PAL posts for the read side or a listener), the count of operations
 * owed a packet, and the heap state of a listener (listen.c) or a
 * synchronous handle (thread_io.c).  Freed (ext) when the io is closed
 * and the count is zero. */
typedef struct io_os_s {
  OVERLAPPED rov;
  unsigned ops;
  void *ext;
} io_os_t;

/* req->os: the request's OVERLAPPED, and the WSABUFs of the operation in
 * flight (WSASend wants them valid until it completes).  A stream write
 * of more buffers goes out PAL__INLINE_BUFS at a time, one operation
 * after the other; a datagram must go in one call, so more buffers take
 * a heap array for the duration of the operation.  A local-socket connect
 * that waits for a pipe instance keeps its state there instead. */
typedef struct req_os_s {
  OVERLAPPED ov;
  union {
    WSABUF inl[PAL__INLINE_BUFS];
    WSABUF *heap;
    struct {
      wchar_t *name;            /* the pipe to open */
      HANDLE h;                 /* the result */
      volatile LONG cancel;     /* pal_io_close(): give up */
    } pw;
  } b;
} req_os_t;

_Static_assert(sizeof(io_os_t) <= sizeof(((pal_io_t *)0)->os),
               "io_os_t does not fit in pal_io_t.os");
_Static_assert(sizeof(req_os_t) <= sizeof(((pal_req_t *)0)->os),
               "req_os_t does not fit in pal_req_t.os");
_Static_assert(offsetof(io_os_t, rov) == 0 && offsetof(req_os_t, ov) == 0,
               "OVERLAPPEDs must open io->os and req->os");

#define IOS(io) ((io_os_t *)(void *)(io)->os)
#define ROS(req) ((req_os_t *)(void *)(req)->os)
#define SOCK(io) ((SOCKET)(io)->fd)
#define HND(io) ((HANDLE)(io)->fd)
#define IO_OF_ROV(ov)                                                        \
  ((pal_io_t *)(void *)((char *)(ov) - offsetof(pal_io_t, os)))
#define REQ_OF_OV(ov)                                                        \
  ((pal_req_t *)(void *)((char *)(ov) - offsetof(pal_req_t, os)))

/* ---- 3. listeners ------------------------------------------------------- */

/* A listener's accept slot: one AcceptEx or ConnectNamedPipe. */
enum { PAL__SLOT_IDLE, PAL__SLOT_POSTED, PAL__SLOT_READY };

typedef struct slot_s {
  OVERLAPPED ov;               /* first: packets point here */
  pal_io_t *io;                /* the listener */
  pal_fd_t fd;                 /* accept socket / pipe instance, or -1 */
  int state;
  struct slot_s *next;         /* ready FIFO */
  char addrs[2 * PAL__ADDRLEN]; /* AcceptEx: local and remote address */
} slot_t;

/* A listener's state, from pal_io_listen() (TCP) or pal_io_bind()
 * (UNIX) until the closed io's last packet. */
typedef struct listener_s {
  char *path;                  /* UNIX: the name as given (sockname) */
  wchar_t *name;               /* UNIX: the pipe's name */
  LPFN_ACCEPTEX accept_ex;     /* TCP */
  SOCKET lsock;                /* TCP: the listening socket */
  int family;                  /* TCP: of the listening socket */
  slot_t *ready_head, *ready_tail;  /* connected, not yet accepted */
  int announced;               /* conn_cb ran for ready_head */
  int announcing;              /* inside listener_announce() */
  unsigned nslots;
  slot_t slots[];
} listener_t;

#define LST(io) ((listener_t *)IOS(io)->ext)

/* ---- 4. helpers --------------------------------------------------------- */

static inline apr_status_t pal__os_fail(const char *call, DWORD e) {
  pal__last_call = call;
  return pal_err_from_os((int)e);
}

/* The fault seam injects APR_TO_OS_ERROR(status).  For APR's canonical
 * codes (APR_EINTR is EINTR, 4, from the C library) that is a large
 * negative number, not a Win32 or Winsock error: recognise both forms.
 * Any other injected code round-trips through pal_err_from_os() to the
 * status the test asked for. */
static inline int pal__is_intr(DWORD e) {
  return e == WSAEINTR || e == (DWORD)APR_TO_OS_ERROR(APR_EINTR);
}

static inline int pal__is_again(DWORD e) {
  return e == WSAEWOULDBLOCK || e == (DWORD)APR_TO_OS_ERROR(APR_EAGAIN);
}

/* The end of a pipe: the writer is gone (or was never there). */
static inline int pal__pipe_eof(DWORD e) {
  return e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF ||
         e == ERROR_PIPE_NOT_CONNECTED;
}

static inline int pal__is_sock(const pal_io_t *io) {
  return io->kind == PAL_IO_TCP || io->kind == PAL_IO_UDP;
}

static inline void pal__ov_init(OVERLAPPED *ov, DWORD tag) {
  memset(ov, 0, sizeof *ov);
  ov->Offset = tag;
}

/* ---- 5. entry points ---------------------------------------------------- */

/* stream.c */
extern char pal__zero_buf[1];           /* the buffer of zero-byte reads */
/* Post a packet for ov: it counts as an operation, and its handler sees
 * `err` as the operation's error.  The PAL's way of delivering what is
 * known at submit time without calling back from the submitting call.
 * 0 or the Win32 error. */
DWORD pal__io_post(pal_io_t *io, OVERLAPPED *ov, DWORD tag, DWORD err);
/* Associate a handle with the io's port, keyed by the io. */
apr_status_t pal__io_port_add(pal_io_t *io, HANDLE h);
/* Start a request: fill it in, count it pending. */
void pal__io_req_start(pal_req_t *req, pal_io_t *io, int type,
                       const pal_buf_t *bufs, unsigned nbufs, pal_req_cb cb);
/* Start the read side's operation if none is in flight. */
apr_status_t pal__read_post(pal_io_t *io);
/* Start the next write, completing what is done or failed. */
void pal__write_next(pal_io_t *io);
/* What a read error means: a PAL__RD_* (and *rv for PAL__RD_ERR). */
enum { PAL__RD_DATA, PAL__RD_AGAIN, PAL__RD_EOF, PAL__RD_ERR };
int pal__read_class(const pal_io_t *io, DWORD e, const char *call,
                    apr_status_t *rv);

/* tcp.c */
/* A failed socket operation's Winsock error (WSAECONNREFUSED rather than
 * the ERROR_CONNECTION_REFUSED its NTSTATUS maps to). */
DWORD pal__sock_error(SOCKET s, OVERLAPPED *ov, DWORD err);
/* pal_io_open() of a socket. */
apr_status_t pal__sock_open(pal_io_t *io, pal_poll_t *p, int kind,
                            pal_fd_t fd);
/* A connect's outcome, from its packet. */
apr_status_t pal__tcp_connected(pal_io_t *io, pal_req_t *req, DWORD err,
                                int posted);
/* Listeners: listen(); start a slot's AcceptEx; its packet (nonzero: no
 * connection came of it, the slot is handled); the accepted socket. */
apr_status_t pal__tcp_listen(pal_io_t *io, int backlog, listener_t **lp);
DWORD pal__tcp_slot_post(pal_io_t *io, slot_t *s);
int pal__tcp_slot_failed(pal_io_t *io, slot_t *s, DWORD err, int posted);
apr_status_t pal__tcp_accepted(pal_io_t *client, pal_fd_t fd);

/* udp.c */
/* SIO_UDP_CONNRESET off: a new datagram socket behaves as on POSIX. */
void pal__udp_socket_init(SOCKET s);
/* A datagram socket's default peer (pal_io_connect()). */
apr_status_t pal__udp_connect(pal_io_t *io, pal_req_t *req,
                              const pal_addr_t *addr, pal_req_cb cb);
/* The read side's packet: a batch of recvfrom(). */
void pal__udp_recv(pal_io_t *io, DWORD first);
/* Start a send's WSASendTo: 0 (in flight; *early if already done) or
 * the error; and free the WSABUFs a send of many buffers took. */
DWORD pal__udp_send_post(pal_io_t *io, pal_req_t *req, int *early);
void pal__udp_free_bufs(pal_req_t *req);

/* pipe.c */
/* pal_io_open() of a pipe handle. */
apr_status_t pal__pipe_open(pal_io_t *io, pal_poll_t *p, int kind,
                            pal_fd_t fd);
apr_status_t pal__pipe_bind(pal_io_t *io, const pal_addr_t *addr);
apr_status_t pal__pipe_connect(pal_io_t *io, pal_req_t *req,
                               const pal_addr_t *addr, pal_req_cb cb);
/* The pool thread's outcome of a connect that waited for an instance;
 * what it leaves at its packet; pal_io_close() telling it to give up. */
apr_status_t pal__pipe_connected(pal_io_t *io, pal_req_t *req, DWORD err);
void pal__pipe_connect_free(pal_req_t *req, int closed);
void pal__pipe_connect_cancel(pal_io_t *io);
/* Listeners: the backlog; start a slot's ConnectNamedPipe; its packet
 * (nonzero: no connection came of it, the slot is handled). */
void pal__pipe_listen(pal_io_t *io, int backlog);
DWORD pal__pipe_slot_post(pal_io_t *io, slot_t *s);
int pal__pipe_slot_failed(pal_io_t *io, slot_t *s, DWORD err);
/* A non-blocking read of an overlapped pipe (a PAL__RD_*). */
int pal__pipe_read(pal_io_t *io, const pal_buf_t *buf, DWORD len, size_t *n,
                   apr_status_t *rv);
/* A local stream server's name (pal_io_sockname()). */
apr_status_t pal__pipe_sockname(const pal_io_t *io, pal_addr_t *addr);

/* listen.c */
listener_t *pal__listener_new(pal_io_t *io, unsigned nslots);
void pal__listener_free(listener_t *l);
void pal__slot_close(pal_io_t *io, slot_t *s);
/* The read-side packet of a listener: an error or more to announce. */
void pal__listener_packet(pal_io_t *io, DWORD err);
/* pal_io_close(): close every slot's socket or instance. */
void pal__listener_close(pal_io_t *io);
/* The packet of an accept slot (PAL__OV_SLOT). */
void pal__slot_packet(slot_t *s, DWORD err, int posted);

/* thread_io.c */
/* Whether a handle was opened for synchronous I/O: 1, 0, or -1. */
int pal__handle_is_sync(HANDLE h);
DWORD pal__worker_start(pal_io_t *io);
void pal__worker_stop(pal_io_t *io);
/* The worker's memory (IOS(io)->ext), once the io owes no packet. */
void pal__worker_free(void *ext);
/* Hand the worker a zero-byte read (base NULL) or a write. */
void pal__worker_command(pal_io_t *io, OVERLAPPED *ov, const char *base,
                         DWORD len);
/* A read of what is there, made by the loop while the worker is idle
 * (a PAL__RD_*). */
int pal__worker_read(pal_io_t *io, const pal_buf_t *buf, DWORD len,
                     size_t *n, apr_status_t *rv);

#endif
