/*
 * io.c -- streams and datagram sockets on an I/O completion port.
 *
 * Map:
 *   0. layout: what lives in io->os, req->os and the heap; packet tags
 *   1. helpers: errors and the fault seam, extension functions, names
 *   2. handles: open, socket, bind, pipe, fd_close
 *   3. the read side: a zero-byte read, then non-blocking reads
 *   4. listeners: AcceptEx / ConnectNamedPipe slots and the ready FIFO
 *   5. the write side: the write queue, connect, shutdown, try_write
 *   6. synchronous handles: one worker thread per handle
 *   7. packets: pal__io_completion()
 *   8. close and busy
 *   9. addresses and options; the peer check of a local stream
 *
 * How each kind maps:
 *   TCP   overlapped, non-blocking sockets.  Reads: a zero-byte WSARecv
 *         waits for data without pinning a buffer (as libuv does); its
 *         packet starts a batch of alloc_cb / recv() / read_cb until
 *         WSAEWOULDBLOCK (the buffer is handed back with nread 0) or
 *         PAL__READ_BATCH reads.  Writes: WSASend.  ConnectEx, AcceptEx.
 *   UDP   the same with a zero-byte WSARecv(MSG_PEEK) and recvfrom();
 *         sends with WSASendTo.
 *   PIPE  pipe handles.  Overlapped ones: a zero-byte ReadFile (it pends
 *         until data or EOF on a pipe), then ReadFile with an OVERLAPPED
 *         whose event has its low bit set (no packet; a read that would
 *         block is cancelled: libuv's non-blocking read); writes with
 *         WriteFile.  Synchronous handles (a child's end of pal_pipe(),
 *         inherited stdio) cannot join a port (Windows refuses): a
 *         worker thread makes their blocking calls (section 6).
 *   UNIX  named pipes.  The name is a pal_addr_local() path used as is
 *         when it starts with \\.\pipe\ (or //./pipe/), else prefixed
 *         with \\.\pipe\ and its backslashes turned into slashes (a pipe
 *         name may not contain one).  bind creates the first instance
 *         (FILE_FLAG_FIRST_PIPE_INSTANCE: a name in use fails there, as
 *         a Unix path does); listen keeps the backlog's worth of
 *         instances (4 to 16) in ConnectNamedPipe, the listening queue;
 *         connect opens the name with CreateFileW, and if every instance
 *         is taken waits for one on a pool thread (WaitNamedPipeW blocks).
 *         Every instance has a DACL for our user, LocalSystem and
 *         Administrators alone (pipe_security()), the named pipe's
 *         equivalent of a socket file of mode 0600; pal_io_peer_trusted()
 *         checks the client process's token on top.
 *
 * Why a zero-byte read for pipes too, and not ReadFile into a buffer from
 * alloc_cb: a pending read owns its buffer until its packet, and after
 * pal_io_close() no callback may hand it back, so every close of a
 * reading pipe (each child restart) would lose a 64 KiB buffer, and
 * read_stop could not stop a read that already owns data.  Zero-byte
 * reads pend until data arrives on Windows (libuv relies on it) and on
 * Wine (checked), so pipes follow the same protocol as sockets and an idle
 * pipe pins no memory.
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
 *     are in flight per io.  Writes behind it wait in wq, in order.
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
#include "pal_win32.h"

#include <afunix.h>
#include <ctype.h>
#include <limits.h>
#include <sddl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- 0. layout ---------------------------------------------------------- */

enum {
  PAL__F_READING = 1u << 0,
  PAL__F_LISTENING = 1u << 1,
  PAL__F_RECVING = 1u << 2,
  PAL__F_CLOSED = 1u << 3,
  PAL__F_SHUT = 1u << 4,     /* write side shut down (or shutting) */
  PAL__F_RPOSTED = 1u << 5,  /* the read-side operation is in flight */
  PAL__F_WPOSTED = 1u << 6,  /* a request operation is in flight ... */
  PAL__F_WKICK = 1u << 7,    /* ... and it is a retry the PAL posted */
  PAL__F_WEARLY = 1u << 8,   /* ... and it finished at once: counted */
  PAL__F_BOUND = 1u << 9,
  PAL__F_SYNC = 1u << 10,    /* a synchronous handle: worker thread */
  PAL__F_INREAD = 1u << 11   /* in a read batch: it posts the next read */
};

#define PAL__READ_BATCH 32       /* reads per packet, for fairness */
#define PAL__SUGGESTED 65536
#define PAL__IOV_MAX 64          /* WSABUFs per try_write */
#define PAL__INLINE_BUFS 2       /* WSABUFs kept in req->os */
#define PAL__TCP_ACCEPTS 8       /* AcceptEx operations per listener */
#define PAL__PIPE_INSTANCES 4    /* instances in ConnectNamedPipe: at */
#define PAL__PIPE_INSTANCES_MAX 16 /* least, and at most (the backlog) */
#define PAL__PIPE_WAIT_MS 10000  /* a connect waits this long for one */
#define PAL__CHUNK_MAX (1u << 30) /* bytes per WSABUF or WriteFile */
#define PAL__ADDRLEN (sizeof(SOCKADDR_STORAGE) + 16)

/* Packet tags (OVERLAPPED.Offset), and the mark of a packet the PAL
 * posted itself (OVERLAPPED.OffsetHigh); its Win32 error is in Internal,
 * which PostQueuedCompletionStatus leaves alone. */
enum { PAL__OV_READ = 0x56470001, PAL__OV_REQ, PAL__OV_SLOT };
#define PAL__OV_POSTED 1u

/* io->os: the read side's OVERLAPPED (zero-byte reads, and the packets
 * the PAL posts for the read side or a listener), the count of operations
 * owed a packet, and the heap state of a listener or a synchronous
 * handle.  Freed (ext) when the io is closed and the count is zero. */
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

/* A synchronous handle's worker (section 6). */
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

static void read_done(pal_io_t *io, DWORD err, int posted);
static void slot_close(pal_io_t *io, struct slot_s *s);
static void write_next(pal_io_t *io);
static void listener_arm(pal_io_t *io, int report);
static void cancel_all(pal_io_t *io);
static DWORD worker_start(pal_io_t *io);
static void worker_stop(pal_io_t *io);
static void worker_command(pal_io_t *io, OVERLAPPED *ov, const char *base,
                           DWORD len);
static int worker_idle(pal_io_t *io);

/* ---- 1. helpers --------------------------------------------------------- */

static apr_status_t os_fail(const char *call, DWORD e) {
  pal__last_call = call;
  return pal_err_from_os((int)e);
}

/* The fault seam injects APR_TO_OS_ERROR(status).  For APR's canonical
 * codes (APR_EINTR is EINTR, 4, from the C library) that is a large
 * negative number, not a Win32 or Winsock error: recognise both forms.
 * Any other injected code round-trips through pal_err_from_os() to the
 * status the test asked for. */
static int is_intr(DWORD e) {
  return e == WSAEINTR || e == (DWORD)APR_TO_OS_ERROR(APR_EINTR);
}

static int is_again(DWORD e) {
  return e == WSAEWOULDBLOCK || e == (DWORD)APR_TO_OS_ERROR(APR_EAGAIN);
}

/* The end of a pipe: the writer is gone (or was never there). */
static int pipe_eof(DWORD e) {
  return e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF ||
         e == ERROR_PIPE_NOT_CONNECTED;
}

static int is_sock(const pal_io_t *io) {
  return io->kind == PAL_IO_TCP || io->kind == PAL_IO_UDP;
}

/* A failed socket operation's Winsock error (WSAECONNREFUSED rather than
 * the ERROR_CONNECTION_REFUSED its NTSTATUS maps to): APR's
 * APR_STATUS_IS_* tests know the Winsock codes. */
static DWORD sock_error(SOCKET s, OVERLAPPED *ov, DWORD err) {
  DWORD n, flags;
  if (WSAGetOverlappedResult(s, ov, &n, FALSE, &flags))
    return err;
  n = (DWORD)WSAGetLastError();
  return n ? n : err;
}

/* Post a packet for ov: it counts as an operation, and its handler sees
 * `err` as the operation's error.  The PAL's way of delivering what is
 * known at submit time without calling back from the submitting call. */
static DWORD post_packet(pal_io_t *io, OVERLAPPED *ov, DWORD tag, DWORD err) {
  memset(ov, 0, sizeof *ov);
  ov->Offset = tag;
  ov->OffsetHigh = PAL__OV_POSTED;
  ov->Internal = err;
  if (!PostQueuedCompletionStatus(io->poll->iocp, 0,
                                  PAL__KEY(io, PAL__KEY_IO), ov))
    return GetLastError();
  IOS(io)->ops++;
  return 0;
}

static void ov_init(OVERLAPPED *ov, DWORD tag) {
  memset(ov, 0, sizeof *ov);
  ov->Offset = tag;
}

/* Extension functions, fetched once per process (every TCP provider
 * gives the same pointers). */
static DWORD ext_function(SOCKET s, GUID id, void *fn, size_t size) {
  DWORD n;
  if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, fn,
               (DWORD)size, &n, NULL, NULL) == SOCKET_ERROR)
    return (DWORD)WSAGetLastError();
  return 0;
}

static SRWLOCK ext_lock = SRWLOCK_INIT;
static LPFN_ACCEPTEX accept_ex_fn;
static LPFN_CONNECTEX connect_ex_fn;

static DWORD get_accept_ex(SOCKET s, LPFN_ACCEPTEX *fn) {
  DWORD e = 0;
  AcquireSRWLockExclusive(&ext_lock);
  if (!accept_ex_fn) {
    GUID id = WSAID_ACCEPTEX;
    e = ext_function(s, id, &accept_ex_fn, sizeof accept_ex_fn);
  }
  *fn = accept_ex_fn;
  ReleaseSRWLockExclusive(&ext_lock);
  return e;
}

static DWORD get_connect_ex(SOCKET s, LPFN_CONNECTEX *fn) {
  DWORD e = 0;
  AcquireSRWLockExclusive(&ext_lock);
  if (!connect_ex_fn) {
    GUID id = WSAID_CONNECTEX;
    e = ext_function(s, id, &connect_ex_fn, sizeof connect_ex_fn);
  }
  *fn = connect_ex_fn;
  ReleaseSRWLockExclusive(&ext_lock);
  return e;
}

/* The path of a local address, NUL-terminated into buf. */
static apr_status_t local_path(const pal_addr_t *addr, char *buf,
                               size_t size) {
  const struct sockaddr_un *su = (const void *)addr->u.bytes;
  size_t n;
  if (su->sun_family != AF_UNIX)
    return APR_EINVAL;
  n = strnlen(su->sun_path, sizeof su->sun_path);
  if (n == 0 || n >= size)
    return APR_ENAMETOOLONG;
  memcpy(buf, su->sun_path, n);
  buf[n] = '\0';
  return APR_SUCCESS;
}

/* \\.\pipe\ or //./pipe/, any case, either slash. */
static int has_pipe_prefix(const char *p) {
  static const char want[] = "//./pipe/";
  size_t i;
  for (i = 0; want[i]; i++) {
    char c = p[i];
    if (want[i] == '/') {
      if (c != '/' && c != '\\')
        return 0;
    } else if (c == '\0' || tolower((unsigned char)c) != want[i]) {
      return 0;
    }
  }
  return 1;
}

/* The pipe name of a local path (see the map); malloc'ed, NULL with
 * GetLastError() set on failure. */
static wchar_t *pipe_name(const char *path) {
  static const char prefix[] = "\\\\.\\pipe\\";
  size_t plen = sizeof prefix - 1, n = strlen(path), i;
  const char *rest = path;
  char *s;
  wchar_t *w;
  int keep = has_pipe_prefix(path);
  if (keep) {
    rest = path + plen;
    n -= plen;
  }
  s = malloc(plen + n + 1);
  if (!s) {
    SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    return NULL;
  }
  memcpy(s, prefix, plen);
  for (i = 0; i <= n; i++)
    s[plen + i] = (!keep && rest[i] == '\\') ? '/' : rest[i];
  w = pal__to_wide(s);
  free(s);
  return w;
}

/* The user (SID) of token `tok`, malloc'ed; NULL with GetLastError()
 * set. */
static TOKEN_USER *token_user(HANDLE tok) {
  TOKEN_USER *tu;
  DWORD n = 0;
  GetTokenInformation(tok, TokenUser, NULL, 0, &n);
  if (n == 0)
    return NULL;
  if (!(tu = malloc(n))) {
    SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    return NULL;
  }
  if (!GetTokenInformation(tok, TokenUser, tu, n, &n)) {
    DWORD e = GetLastError();
    free(tu);
    SetLastError(e);
    return NULL;
  }
  return tu;
}

/* Built once per process (INIT_ONCE): our own user, and the attributes
 * every local-stream pipe instance is created with. */
static INIT_ONCE sec_once = INIT_ONCE_STATIC_INIT;
static TOKEN_USER *sec_self;          /* our token's user */
static SECURITY_ATTRIBUTES sec_attr;  /* the endpoint DACL, below */
static DWORD sec_err;                 /* why it could not be built */
static const char *sec_call;

/* The DACL of a local stream server (vigil's control endpoint): full
 * access for our own user, LocalSystem and Administrators, and nothing
 * for anyone else.  Without one, CreateNamedPipeW gives the default DACL,
 * which lets Everyone (and anonymous logons) read, so any local user
 * could open the pipe.  "P" protects it from inheritable ACEs; the owner
 * SID is written out rather than as CREATOR OWNER, which only means
 * something in inheritable ACEs.  The SDDL string is the readable form of
 * InitializeAcl + AddAccessAllowedAce, which Wine implements as well. */
static BOOL CALLBACK sec_init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  HANDLE tok;
  wchar_t *sid = NULL, sddl[256];
  PSECURITY_DESCRIPTOR sd = NULL;
  (void)once;
  (void)param;
  (void)ctx;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
    sec_call = "OpenProcessToken";
    goto fail;
  }
  sec_self = token_user(tok);
  CloseHandle(tok);
  if (!sec_self) {
    sec_call = "GetTokenInformation";
    goto fail;
  }
  if (!ConvertSidToStringSidW(sec_self->User.Sid, &sid)) {
    sec_call = "ConvertSidToStringSidW";
    goto fail;
  }
  _snwprintf(sddl, sizeof sddl / sizeof sddl[0] - 1,
             L"D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;%ls)", sid);
  sddl[sizeof sddl / sizeof sddl[0] - 1] = L'\0';
  LocalFree(sid);
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
          sddl, SDDL_REVISION_1, &sd, NULL)) {
    sec_call = "ConvertStringSecurityDescriptorToSecurityDescriptorW";
    goto fail;
  }
  sec_attr.nLength = sizeof sec_attr;
  sec_attr.lpSecurityDescriptor = sd;   /* kept for the process's life */
  sec_attr.bInheritHandle = FALSE;
  return TRUE;

fail:
  sec_err = GetLastError();
  return TRUE;   /* built or not, once: callers read sec_err */
}

/* Our user and the endpoint's attributes; 0, or the Win32 error (and the
 * failed call in *call). */
static DWORD pipe_security(const char **call) {
  InitOnceExecuteOnce(&sec_once, sec_init, NULL, NULL);
  *call = sec_call;
  return sec_err;
}

/* A server instance of a local-socket pipe, with the endpoint's DACL
 * (pipe_security() must have succeeded).  PIPE_REJECT_REMOTE_CLIENTS:
 * the endpoint is local, like a Unix socket; SMB clients are refused
 * before they reach the DACL. */
static HANDLE pipe_instance(const wchar_t *name, int first) {
  DWORD omode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED |
                (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
  DWORD mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
               PIPE_REJECT_REMOTE_CLIENTS;
  return CreateNamedPipeW(name, omode, mode, PIPE_UNLIMITED_INSTANCES,
                          PAL__SUGGESTED, PAL__SUGGESTED, 0, &sec_attr);
}

/* ---- 2. handles --------------------------------------------------------- */

static void io_init(pal_io_t *io, pal_poll_t *p, int kind, pal_fd_t fd) {
  void *data = io->data;
  memset(io, 0, sizeof *io);
  io->data = data;
  io->poll = p;
  io->kind = kind;
  io->fd = fd;
}

static apr_status_t port_add(pal_io_t *io, HANDLE h) {
  return pal__port_add(io->poll, h, PAL__KEY(io, PAL__KEY_IO));
}

/* Whether a handle was opened for synchronous I/O (no
 * FILE_FLAG_OVERLAPPED): 1, 0, or -1 when it cannot be told.  Win32 has
 * no call for it; ntdll's NtQueryInformationFile(FileModeInformation)
 * does (as libuv asks it). */
typedef LONG(NTAPI *query_file_fn)(HANDLE, void *, void *, ULONG, int);
static query_file_fn query_file;
static INIT_ONCE query_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK load_query(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  (void)once;
  (void)param;
  (void)ctx;
  if (ntdll)
    query_file = (query_file_fn)(void (*)(void))GetProcAddress(
        ntdll, "NtQueryInformationFile");
  return TRUE;
}

static int handle_is_sync(HANDLE h) {
  struct {
    union {
      LONG status;
      void *pointer;
    } u;
    ULONG_PTR information;
  } iosb;
  ULONG mode = 0;
  InitOnceExecuteOnce(&query_once, load_query, NULL, NULL);
  if (!query_file ||
      query_file(h, &iosb, &mode, sizeof mode, 16 /* FileModeInformation */) <
          0)
    return -1;
  /* FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT */
  return (mode & (0x10 | 0x20)) != 0;
}

static apr_status_t set_nonblock(SOCKET s) {
  u_long on = 1;
  if (ioctlsocket(s, FIONBIO, &on) == SOCKET_ERROR)
    return pal__wsafail("ioctlsocket");
  return APR_SUCCESS;
}

apr_status_t pal_io_open(pal_io_t *io, pal_poll_t *p, int kind, pal_fd_t fd) {
  apr_status_t rv;
  DWORD e;
  int sync;
  if (fd == PAL_INVALID_FD || fd == 0)
    return APR_EBADF;
  if (kind == PAL_IO_TCP || kind == PAL_IO_UDP) {
    if ((rv = set_nonblock((SOCKET)fd)) != APR_SUCCESS)
      return rv;
    SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, 0);
    io_init(io, p, kind, fd);
    return port_add(io, (HANDLE)fd);
  }
  if (kind != PAL_IO_PIPE && kind != PAL_IO_UNIX)
    return APR_EINVAL;
  /* Pipes only: files and consoles have byte offsets or no overlapped
   * I/O (and the packet tags live in OVERLAPPED.Offset). */
  SetLastError(NO_ERROR);
  if (GetFileType((HANDLE)fd) != FILE_TYPE_PIPE) {
    if (GetLastError() != NO_ERROR)
      return pal__fail("GetFileType");
    return PAL_EUNSUPPORTED;
  }
  SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, 0);
  io_init(io, p, kind, fd);
  /* A synchronous handle cannot join a port (Windows and Wine say
   * ERROR_INVALID_PARAMETER): a worker thread serves it. */
  sync = handle_is_sync((HANDLE)fd);
  if (sync != 1) {
    if (PAL__SYS(PAL_SYS_POLL_CTL,
                 CreateIoCompletionPort((HANDLE)fd, p->iocp,
                                        PAL__KEY(io, PAL__KEY_IO), 0),
                 NULL) != NULL)
      return APR_SUCCESS;
    e = GetLastError();
    if (sync == 0 || e != ERROR_INVALID_PARAMETER)
      return os_fail("CreateIoCompletionPort", e);
  }
  if ((e = worker_start(io)) != 0)
    return os_fail("CreateThread", e);
  return APR_SUCCESS;
}

static SOCKET new_socket(int af, int type, int proto, DWORD *err) {
  SOCKET s;
  for (;;) {
    s = PAL__SYS(PAL_SYS_SOCKET,
                 WSASocketW(af, type, proto, NULL, 0,
                            WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT),
                 INVALID_SOCKET);
    if (s != INVALID_SOCKET)
      return s;
    *err = (DWORD)WSAGetLastError();
    if (is_intr(*err))
      continue;
    if (*err != WSAEINVAL)
      return INVALID_SOCKET;
    /* Before Windows 7 SP1 the flag is unknown. */
    s = WSASocketW(af, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s == INVALID_SOCKET) {
      *err = (DWORD)WSAGetLastError();
      return INVALID_SOCKET;
    }
    SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    return s;
  }
}

apr_status_t pal_io_socket(pal_io_t *io, pal_poll_t *p, int kind,
                           int family) {
  SOCKET s;
  DWORD e = 0;
  int af;
  apr_status_t rv;
  if (kind == PAL_IO_UNIXDGRAM)
    return PAL_EUNSUPPORTED;   /* no AF_UNIX datagrams on Windows */
  if (kind == PAL_IO_UNIX) {
    /* A named pipe: made by bind (server) or connect (client). */
    io_init(io, p, kind, PAL_INVALID_FD);
    return APR_SUCCESS;
  }
  if (kind != PAL_IO_TCP && kind != PAL_IO_UDP)
    return APR_EINVAL;
  if (family == PAL_AF_INET)
    af = AF_INET;
  else if (family == PAL_AF_INET6)
    af = AF_INET6;
  else
    return APR_EINVAL;
  s = new_socket(af, kind == PAL_IO_TCP ? SOCK_STREAM : SOCK_DGRAM,
                 kind == PAL_IO_TCP ? IPPROTO_TCP : IPPROTO_UDP, &e);
  if (s == INVALID_SOCKET)
    return os_fail("WSASocketW", e);
  if ((rv = set_nonblock(s)) != APR_SUCCESS)
    goto fail_sock;
  if (kind == PAL_IO_UDP) {
    /* Do not fail the next recvfrom() with WSAECONNRESET because an
     * earlier datagram drew an ICMP port unreachable (POSIX does not). */
    BOOL off = FALSE;
    DWORD n;
    WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &n, NULL,
             NULL);
  }
  io_init(io, p, kind, (pal_fd_t)s);
  if ((rv = port_add(io, (HANDLE)s)) != APR_SUCCESS)
    goto fail_port;
  return APR_SUCCESS;

fail_port:
  io->fd = PAL_INVALID_FD;
fail_sock:
  closesocket(s);
  return rv;
}

static listener_t *listener_new(pal_io_t *io, unsigned nslots) {
  listener_t *l;
  unsigned i;
  l = calloc(1, sizeof *l + nslots * sizeof(slot_t));
  if (!l)
    return NULL;
  l->nslots = nslots;
  l->lsock = INVALID_SOCKET;
  for (i = 0; i < nslots; i++) {
    l->slots[i].io = io;
    l->slots[i].fd = PAL_INVALID_FD;
  }
  return l;
}

static void listener_free(listener_t *l) {
  free(l->path);
  free(l->name);
  free(l);
}

/* A local stream server: remember the name and create its first
 * instance now, so that a name in use fails here. */
static apr_status_t pipe_bind(pal_io_t *io, const pal_addr_t *addr) {
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  listener_t *l;
  wchar_t *name;
  HANDLE h;
  DWORD e;
  const char *call;
  apr_status_t rv;
  if (IOS(io)->ext || io->fd != PAL_INVALID_FD)
    return APR_EINVAL;
  if ((rv = local_path(addr, path, sizeof path)) != APR_SUCCESS)
    return rv;
  if ((e = pipe_security(&call)) != 0)
    return os_fail(call, e);
  if (!(name = pipe_name(path)))
    return pal__fail("MultiByteToWideChar");
  /* FILE_FLAG_FIRST_PIPE_INSTANCE is the guard; Wine does not enforce
   * it, so first ask whether the name exists (a vanishing race on
   * Windows, where the flag still decides).  Anything but "there" or
   * "busy" is left for CreateNamedPipeW to report. */
  if (WaitNamedPipeW(name, 1) || GetLastError() == ERROR_SEM_TIMEOUT) {
    rv = os_fail("CreateNamedPipeW", WSAEADDRINUSE);
    goto fail_name;
  }
  h = pipe_instance(name, 1);
  if (h == INVALID_HANDLE_VALUE) {
    /* Another server holds the name (ACCESS_DENIED with the flag):
     * report it as the address in use, like a Unix socket path. */
    e = GetLastError();
    if (e == ERROR_ACCESS_DENIED || e == ERROR_PIPE_BUSY)
      e = WSAEADDRINUSE;
    rv = os_fail("CreateNamedPipeW", e);
    goto fail_name;
  }
  if (!(l = listener_new(io, PAL__PIPE_INSTANCES_MAX)) ||
      !(l->path = _strdup(path))) {
    rv = APR_ENOMEM;
    goto fail_listener;
  }
  if ((rv = port_add(io, h)) != APR_SUCCESS)
    goto fail_listener;
  l->name = name;
  l->slots[0].fd = (pal_fd_t)h;
  IOS(io)->ext = l;
  io->flags |= PAL__F_BOUND;
  return APR_SUCCESS;

fail_listener:
  if (l)
    listener_free(l);
  CloseHandle(h);
fail_name:
  free(name);
  return rv;
}

apr_status_t pal_io_bind(pal_io_t *io, const pal_addr_t *addr,
                         unsigned flags) {
  const struct sockaddr *sa = (const void *)addr->u.bytes;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->kind == PAL_IO_UNIX)
    return pipe_bind(io, addr);
  if (io->fd == PAL_INVALID_FD)
    return APR_EBADF;
  if (io->kind == PAL_IO_TCP) {
    /* SO_EXCLUSIVEADDRUSE, not SO_REUSEADDR.  What POSIX programs want
     * from SO_REUSEADDR -- rebinding a port that has connections in
     * TIME_WAIT -- Windows allows by default; its SO_REUSEADDR instead
     * lets any other socket bind the same port, even one a live listener
     * has, and take its connections.  Exclusive use shuts that door.  Its
     * cost: while a connection accepted by a previous exclusive listener
     * on the port is still open, the bind fails (WSAEADDRINUSE). */
    BOOL on = TRUE;
    if (setsockopt(SOCK(io), SOL_SOCKET, SO_EXCLUSIVEADDRUSE,
                   (const char *)&on, sizeof on) == SOCKET_ERROR)
      return pal__wsafail("setsockopt");
  } else if (flags & PAL_BIND_REUSEADDR) {
    BOOL on = TRUE;
    if (setsockopt(SOCK(io), SOL_SOCKET, SO_REUSEADDR, (const char *)&on,
                   sizeof on) == SOCKET_ERROR)
      return pal__wsafail("setsockopt");
  }
  if (sa->sa_family == AF_INET6) {
    DWORD v6only = (flags & PAL_BIND_IPV6ONLY) != 0;
    setsockopt(SOCK(io), IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&v6only,
               sizeof v6only);
  }
  if (bind(SOCK(io), sa, (int)addr->len) == SOCKET_ERROR)
    return pal__wsafail("bind");
  io->flags |= PAL__F_BOUND;
  return APR_SUCCESS;
}

/* A pipe for a child's stdio: anonymous pipes cannot do overlapped I/O,
 * so the parent's end is the server end of a one-instance named pipe
 * (overlapped, inbound or outbound as the parent reads or writes) and the
 * child's end is a client handle opened without FILE_FLAG_OVERLAPPED --
 * synchronous, as programs expect of their stdio.  Both handles are
 * created non-inheritable: the spawn code lets the child inherit its end
 * alone (PROC_THREAD_ATTRIBUTE_HANDLE_LIST).  The name is unique per
 * process (pid, counter); FILE_FLAG_FIRST_PIPE_INSTANCE and the single
 * instance make a squatter or an intruding client fail the call rather
 * than share the pipe, and the next name is tried. */
static volatile LONG pipe_serial;

apr_status_t pal_pipe(pal_fd_t fds[2], int child_end) {
  wchar_t name[64];
  HANDLE srv, cli;
  DWORD omode, acc, e;
  int tries;
  omode = (child_end ? PIPE_ACCESS_INBOUND : PIPE_ACCESS_OUTBOUND) |
          FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE;
  /* The attribute rights let the child query or set the pipe's state
   * (as libuv gives them). */
  acc = child_end ? (GENERIC_WRITE | FILE_READ_ATTRIBUTES)
                  : (GENERIC_READ | FILE_WRITE_ATTRIBUTES);
  for (tries = 0;; tries++) {
    _snwprintf(name, sizeof name / sizeof name[0] - 1,
               L"\\\\.\\pipe\\vigil-%lu-%ld",
               (unsigned long)GetCurrentProcessId(),
               (long)InterlockedIncrement(&pipe_serial));
    name[sizeof name / sizeof name[0] - 1] = L'\0';
    srv = CreateNamedPipeW(name, omode,
                           PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                               PIPE_REJECT_REMOTE_CLIENTS,
                           1, PAL__SUGGESTED, PAL__SUGGESTED, 0, NULL);
    if (srv == INVALID_HANDLE_VALUE) {
      e = GetLastError();
      if ((e == ERROR_ACCESS_DENIED || e == ERROR_PIPE_BUSY) && tries < 16)
        continue;   /* the name is taken: next one */
      return os_fail("CreateNamedPipeW", e);
    }
    cli = CreateFileW(name, acc, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (cli != INVALID_HANDLE_VALUE)
      break;
    e = GetLastError();
    CloseHandle(srv);
    if (e == ERROR_PIPE_BUSY && tries < 16)
      continue;     /* somebody else connected first */
    return os_fail("CreateFileW", e);
  }
  fds[0] = (pal_fd_t)(child_end ? srv : cli);
  fds[1] = (pal_fd_t)(child_end ? cli : srv);
  return APR_SUCCESS;
}

/* pal_fd_t carries HANDLEs and SOCKETs alike.  A SOCKET is what
 * getsockopt() accepts (anything else fails with WSAENOTSOCK); sockets
 * are closed with closesocket() so that layered providers see it. */
void pal_fd_close(pal_fd_t fd) {
  int type;
  int len = sizeof type;
  DWORD saved;
  if (fd == PAL_INVALID_FD || fd == 0)
    return;
  saved = GetLastError();
  if (getsockopt((SOCKET)fd, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == 0)
    closesocket((SOCKET)fd);
  else
    CloseHandle((HANDLE)fd);
  SetLastError(saved);
}

/* ---- 3. the read side --------------------------------------------------- */

static char zero_buf[1];

/* Start the read side's operation: a zero-byte read that completes when
 * data, EOF or an error is there (a worker's blocking one for a
 * synchronous handle).  If it fails at once, its outcome is posted: an
 * injected would-block as "read now", anything else as the read's error.
 * Fails only if even that packet cannot be posted. */
static apr_status_t read_post(pal_io_t *io) {
  io_os_t *os = IOS(io);
  DWORD e;
  if (io->flags & (PAL__F_RPOSTED | PAL__F_CLOSED | PAL__F_INREAD) ||
      io->fd == PAL_INVALID_FD || io->connect_req)
    return APR_SUCCESS;   /* in flight, or after the connect or batch */
  if (io->flags & PAL__F_SYNC) {
    ov_init(&os->rov, PAL__OV_READ);
    worker_command(io, &os->rov, NULL, 0);
    io->flags |= PAL__F_RPOSTED;
    return APR_SUCCESS;
  }
  for (;;) {
    ov_init(&os->rov, PAL__OV_READ);
    if (is_sock(io)) {
      WSABUF b;
      DWORD flags = io->kind == PAL_IO_UDP ? MSG_PEEK : 0;
      b.len = 0;
      b.buf = zero_buf;
      if (PAL__SYS(PAL_SYS_READ,
                   WSARecv(SOCK(io), &b, 1, NULL, &flags, &os->rov, NULL),
                   SOCKET_ERROR) == 0)
        e = 0;
      else if ((e = (DWORD)WSAGetLastError()) == WSA_IO_PENDING ||
               e == WSAEMSGSIZE)
        e = 0;   /* WSAEMSGSIZE: see below */
    } else {
      if (PAL__SYS(PAL_SYS_READ,
                   ReadFile(HND(io), zero_buf, 0, NULL, &os->rov), FALSE))
        e = 0;
      else if ((e = GetLastError()) == ERROR_IO_PENDING ||
               e == ERROR_MORE_DATA)
        e = 0;
    }
    /* WSAEMSGSIZE (a datagram is there: the peek is too short) and
     * ERROR_MORE_DATA (a message-mode pipe) report a warning status,
     * STATUS_BUFFER_OVERFLOW, and unlike errors, warnings still queue
     * the packet: the read has started and completed. */
    if (!is_intr(e))
      break;
  }
  if (e == 0) {
    os->ops++;   /* started: its packet will come, even on success */
  } else {
    if (is_again(e))
      e = 0;
    if ((e = post_packet(io, &os->rov, PAL__OV_READ, e)) != 0)
      return os_fail("PostQueuedCompletionStatus", e);
  }
  io->flags |= PAL__F_RPOSTED;
  return APR_SUCCESS;
}

enum { PAL__RD_DATA, PAL__RD_AGAIN, PAL__RD_EOF, PAL__RD_ERR };

/* What a read error means. */
static int read_class(const pal_io_t *io, DWORD e, const char *call,
                      apr_status_t *rv) {
  if (is_again(e))
    return PAL__RD_AGAIN;
  if (!is_sock(io) && pipe_eof(e))
    return PAL__RD_EOF;
  *rv = os_fail(call, e);
  return PAL__RD_ERR;
}

/* One event per thread for pipe reads that must not post a packet (the
 * low bit of OVERLAPPED.hEvent); created on first use, kept for the
 * thread's life.  (Touching it may reset GetLastError(): mingw's TLS.) */
static _Thread_local HANDLE read_event;

/* A non-blocking read into buf. */
static int read_nb(pal_io_t *io, const pal_buf_t *buf, size_t *n,
                   apr_status_t *rv) {
  DWORD e, got, len;
  HANDLE ev;
  len = buf->len > PAL__CHUNK_MAX ? PAL__CHUNK_MAX : (DWORD)buf->len;
  *n = 0;
  if (is_sock(io)) {
    for (;;) {
      int r = PAL__SYS(PAL_SYS_READ, recv(SOCK(io), buf->base, (int)len, 0),
                       SOCKET_ERROR);
      if (r > 0) {
        *n = (size_t)r;
        return PAL__RD_DATA;
      }
      if (r == 0)
        return PAL__RD_EOF;
      e = (DWORD)WSAGetLastError();
      if (!is_intr(e))
        return read_class(io, e, "recv", rv);
    }
  }
  if (io->flags & PAL__F_SYNC) {
    /* Read what is there, which cannot block -- unless the worker is in
     * a call (a write, on a handle that is read and written), which the
     * handle would make us wait for: then read after its next read. */
    DWORD avail = 0;
    if (!worker_idle(io))
      return PAL__RD_AGAIN;
    if (!PeekNamedPipe(HND(io), NULL, 0, NULL, &avail, NULL))
      return read_class(io, GetLastError(), "PeekNamedPipe", rv);
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
      if (!is_intr(e))
        return read_class(io, e, "ReadFile", rv);
    }
  }
  if (!(ev = read_event)) {
    if (!(ev = CreateEventW(NULL, TRUE, FALSE, NULL))) {
      *rv = pal__fail("CreateEventW");
      return PAL__RD_ERR;
    }
    read_event = ev;
  }
  for (;;) {
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.hEvent = (HANDLE)((ULONG_PTR)ev | 1);
    got = 0;
    if (PAL__SYS(PAL_SYS_READ, ReadFile(HND(io), buf->base, len, &got, &ov),
                 FALSE)) {
      *n = got;
      return got ? PAL__RD_DATA : PAL__RD_AGAIN;
    }
    e = GetLastError();
    if (e == ERROR_IO_PENDING) {
      /* Nothing there: withdraw the read.  Data may have raced in. */
      CancelIoEx(HND(io), &ov);
      e = GetOverlappedResult(HND(io), &ov, &got, TRUE) ? 0 : GetLastError();
      if (e == 0 || e == ERROR_OPERATION_ABORTED) {
        *n = got;
        return got ? PAL__RD_DATA : PAL__RD_AGAIN;
      }
    }
    if (e == ERROR_MORE_DATA) {   /* a message-mode pipe */
      GetOverlappedResult(HND(io), &ov, &got, FALSE);
      *n = got;
      return PAL__RD_DATA;
    }
    if (!is_intr(e))
      return read_class(io, e, "ReadFile", rv);
  }
}

/* A stream's read-side packet: a batch of reads (POSIX do_read()).
 * `first` is the error of a read that failed at once, delivered as the
 * first read's result. */
static void do_read(pal_io_t *io, DWORD first) {
  int count = PAL__READ_BATCH;
  apr_status_t rv = APR_SUCCESS;
  io->flags |= PAL__F_INREAD;   /* a read_start in a callback waits */
  while ((io->flags & PAL__F_READING) && count-- > 0) {
    pal_buf_t buf = {NULL, 0};
    size_t n = 0;
    int r;
    io->alloc_cb(io, PAL__SUGGESTED, &buf);
    if (!(io->flags & PAL__F_READING))
      break;
    if (buf.base == NULL || buf.len == 0) {
      io->flags &= ~PAL__F_READING;
      io->rcb.read(io, APR_ENOMEM, 0, &buf);
      break;
    }
    if (first) {
      r = read_class(io, first, is_sock(io) ? "WSARecv" : "ReadFile", &rv);
      first = 0;
    } else {
      r = read_nb(io, &buf, &n, &rv);
    }
    if (r == PAL__RD_DATA) {
      io->rcb.read(io, APR_SUCCESS, n, &buf);
      if (n < buf.len)
        break;   /* drained: wait for more instead of reading EAGAIN */
    } else if (r == PAL__RD_AGAIN) {
      io->rcb.read(io, APR_SUCCESS, 0, &buf);
      break;
    } else {
      io->flags &= ~PAL__F_READING;
      io->rcb.read(io, r == PAL__RD_EOF ? APR_EOF : rv, 0, &buf);
      break;
    }
  }
  io->flags &= ~PAL__F_INREAD;
  if ((io->flags & PAL__F_READING) && (rv = read_post(io)) != APR_SUCCESS) {
    pal_buf_t none = {NULL, 0};
    io->flags &= ~PAL__F_READING;
    io->rcb.read(io, rv, 0, &none);
  }
}

/* A datagram socket's read-side packet (POSIX do_recv()): errors are
 * reported and receiving goes on. */
static void do_recv(pal_io_t *io, DWORD first) {
  int count = PAL__READ_BATCH;
  apr_status_t rv;
  io->flags |= PAL__F_INREAD;
  while ((io->flags & PAL__F_RECVING) && count-- > 0) {
    pal_buf_t buf = {NULL, 0};
    pal_addr_t from;
    int len, fromlen, r;
    DWORD e;
    io->alloc_cb(io, PAL__SUGGESTED, &buf);
    if (!(io->flags & PAL__F_RECVING))
      break;
    if (buf.base == NULL || buf.len == 0) {
      io->flags &= ~PAL__F_RECVING;
      io->rcb.recv(io, APR_ENOMEM, 0, &buf, NULL);
      break;
    }
    if (first) {
      io->rcb.recv(io, os_fail("WSARecv", first), 0, &buf, NULL);
      first = 0;
      break;
    }
    len = buf.len > INT_MAX ? INT_MAX : (int)buf.len;
    do {
      memset(&from, 0, sizeof from);
      fromlen = (int)sizeof from.u.bytes;
      r = PAL__SYS(PAL_SYS_RECVFROM,
                   recvfrom(SOCK(io), buf.base, len, 0,
                            (struct sockaddr *)from.u.bytes, &fromlen),
                   SOCKET_ERROR);
      e = r < 0 ? (DWORD)WSAGetLastError() : 0;
    } while (r < 0 && is_intr(e));
    if (r < 0 && e == WSAEMSGSIZE) {
      r = len;   /* truncated to the buffer, as POSIX recvfrom() does */
      e = 0;
    }
    if (r >= 0) {
      from.len = (unsigned)fromlen;
      io->rcb.recv(io, APR_SUCCESS, (size_t)r, &buf, &from);
    } else if (is_again(e)) {
      io->rcb.recv(io, APR_SUCCESS, 0, &buf, NULL);
      break;
    } else {
      io->rcb.recv(io, os_fail("recvfrom", e), 0, &buf, NULL);
      break;
    }
  }
  io->flags &= ~PAL__F_INREAD;
  if ((io->flags & PAL__F_RECVING) && (rv = read_post(io)) != APR_SUCCESS) {
    pal_buf_t none = {NULL, 0};
    io->rcb.recv(io, rv, 0, &none, NULL);
  }
}

apr_status_t pal_io_read_start(pal_io_t *io, pal_alloc_cb alloc_cb,
                               pal_read_cb read_cb) {
  apr_status_t rv;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd == PAL_INVALID_FD && !io->connect_req)
    return APR_EBADF;
  io->alloc_cb = alloc_cb;
  io->rcb.read = read_cb;
  io->flags |= PAL__F_READING;
  if ((rv = read_post(io)) != APR_SUCCESS)
    io->flags &= ~PAL__F_READING;
  return rv;
}

/* A pending zero-byte read cannot be withdrawn without a packet either
 * way; it has read nothing, so it is left to complete, and its packet
 * then finds the io not reading and calls nothing.  A read_start before
 * that packet reuses it. */
apr_status_t pal_io_read_stop(pal_io_t *io) {
  io->flags &= ~PAL__F_READING;
  return APR_SUCCESS;
}

apr_status_t pal_io_recv_start(pal_io_t *io, pal_alloc_cb alloc_cb,
                               pal_recv_cb recv_cb) {
  apr_status_t rv;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd == PAL_INVALID_FD)
    return APR_EBADF;
  io->alloc_cb = alloc_cb;
  io->rcb.recv = recv_cb;
  io->flags |= PAL__F_RECVING;
  if ((rv = read_post(io)) != APR_SUCCESS)
    io->flags &= ~PAL__F_RECVING;
  return rv;
}

apr_status_t pal_io_recv_stop(pal_io_t *io) {
  io->flags &= ~PAL__F_RECVING;
  return APR_SUCCESS;
}

/* ---- 4. listeners ------------------------------------------------------- */

/* Start a slot's operation.  0 when it is in flight (or its result is
 * posted), else the error (the slot stays idle). */
static DWORD slot_post(pal_io_t *io, slot_t *s) {
  listener_t *l = LST(io);
  DWORD e, n;
  if (io->kind == PAL_IO_TCP) {
    SOCKET a = new_socket(l->family, SOCK_STREAM, IPPROTO_TCP, &e);
    if (a == INVALID_SOCKET)
      return e;
    for (;;) {
      ov_init(&s->ov, PAL__OV_SLOT);
      if (PAL__SYS(PAL_SYS_ACCEPT,
                   l->accept_ex(l->lsock, a, s->addrs, 0, PAL__ADDRLEN,
                                PAL__ADDRLEN, &n, &s->ov),
                   FALSE) ||
          (e = (DWORD)WSAGetLastError()) == WSA_IO_PENDING)
        break;
      if (is_intr(e))
        continue;
      if (is_again(e)) {
        /* Cannot start now: the slot's packet retries it. */
        s->fd = (pal_fd_t)a;
        if ((e = post_packet(io, &s->ov, PAL__OV_SLOT, e)) != 0) {
          slot_close(io, s);
          return e;
        }
        s->state = PAL__SLOT_POSTED;
        return 0;
      }
      closesocket(a);
      return e;
    }
    s->fd = (pal_fd_t)a;
  } else {
    if (s->fd == PAL_INVALID_FD) {
      HANDLE h = pipe_instance(l->name, 0);
      apr_status_t rv;
      if (h == INVALID_HANDLE_VALUE)
        return GetLastError();
      if ((rv = port_add(io, h)) != APR_SUCCESS) {
        CloseHandle(h);   /* (GetLastError() is gone: TLS touched it) */
        return (DWORD)APR_TO_OS_ERROR(rv);
      }
      s->fd = (pal_fd_t)h;
    }
    for (;;) {
      ov_init(&s->ov, PAL__OV_SLOT);
      if (PAL__SYS(PAL_SYS_ACCEPT, ConnectNamedPipe((HANDLE)s->fd, &s->ov),
                   FALSE) ||
          (e = GetLastError()) == ERROR_IO_PENDING)
        break;
      if (e == ERROR_PIPE_CONNECTED) {
        /* A client came before the call: no packet, so post one. */
        if ((e = post_packet(io, &s->ov, PAL__OV_SLOT, 0)) != 0)
          return e;
        s->state = PAL__SLOT_POSTED;
        return 0;
      }
      if (e == ERROR_NO_DATA || is_again(e)) {
        /* A client came and went (or the call could not start): its
         * packet recycles the instance and tries again. */
        if ((e = post_packet(io, &s->ov, PAL__OV_SLOT, ERROR_NO_DATA)) != 0)
          return e;
        s->state = PAL__SLOT_POSTED;
        return 0;
      }
      if (is_intr(e))
        continue;
      return e;
    }
  }
  s->state = PAL__SLOT_POSTED;
  IOS(io)->ops++;
  return 0;
}

/* Start every idle slot.  If none is left in flight, nothing would ever
 * report the failure: with `report`, post it to the read side, where it
 * reaches conn_cb (and the next try happens), as a level-triggered POSIX
 * listener reports a failing accept() each iteration.  Without, return
 * it. */
static DWORD listener_arm_err(pal_io_t *io) {
  listener_t *l = LST(io);
  unsigned i, posted = 0;
  DWORD err = 0;
  for (i = 0; i < l->nslots; i++) {
    slot_t *s = &l->slots[i];
    if (s->state == PAL__SLOT_IDLE) {
      DWORD e = slot_post(io, s);
      if (e && !err)
        err = e;
    }
    if (s->state == PAL__SLOT_POSTED)
      posted++;
  }
  return posted ? 0 : err;
}

static void listener_arm(pal_io_t *io, int report) {
  DWORD e;
  if (io->flags & PAL__F_CLOSED)
    return;
  e = listener_arm_err(io);
  if (e && report && !(io->flags & PAL__F_RPOSTED) &&
      post_packet(io, &IOS(io)->rov, PAL__OV_READ, e) == 0)
    io->flags |= PAL__F_RPOSTED;
}

/* Tell the owner about ready connections, one conn_cb each, while it
 * takes them; one it leaves waits for pal_io_accept(). */
static void listener_announce(pal_io_t *io) {
  listener_t *l = LST(io);
  l->announcing = 1;
  while ((io->flags & PAL__F_LISTENING) && l->ready_head && !l->announced) {
    l->announced = 1;
    io->conn_cb(io, APR_SUCCESS);
  }
  if (!(io->flags & PAL__F_CLOSED))
    l->announcing = 0;   /* else l may be freed already */
}

static void slot_close(pal_io_t *io, slot_t *s) {
  if (s->fd == PAL_INVALID_FD)
    return;
  if (io->kind == PAL_IO_TCP) {
    closesocket((SOCKET)s->fd);
  } else {
    CancelIoEx((HANDLE)s->fd, NULL);
    CloseHandle((HANDLE)s->fd);
  }
  s->fd = PAL_INVALID_FD;
}

/* A slot's packet. */
static void slot_done(pal_io_t *io, slot_t *s, DWORD err, int posted) {
  listener_t *l = LST(io);
  s->state = PAL__SLOT_IDLE;
  if (io->flags & PAL__F_CLOSED) {
    slot_close(io, s);
    return;
  }
  if (io->kind == PAL_IO_TCP) {
    if (err && !posted)
      err = sock_error(l->lsock, &s->ov, err);
    if (!err && setsockopt((SOCKET)s->fd, SOL_SOCKET,
                           SO_UPDATE_ACCEPT_CONTEXT, (char *)&l->lsock,
                           sizeof l->lsock) == SOCKET_ERROR)
      err = WSAECONNABORTED;
    if (err) {
      slot_close(io, s);
      /* A connection reset before it was taken: try again quietly, as
       * POSIX retries ECONNABORTED. */
      if (err != WSAECONNRESET && err != WSAECONNABORTED &&
          err != ERROR_NETNAME_DELETED && !is_again(err))
        io->conn_cb(io, os_fail("AcceptEx", err));
      listener_arm(io, 1);
      return;
    }
  } else if (err) {
    if (err == ERROR_NO_DATA || pipe_eof(err) || is_again(err)) {
      DisconnectNamedPipe((HANDLE)s->fd);   /* the client left: recycle */
    } else {
      slot_close(io, s);
      io->conn_cb(io, os_fail("ConnectNamedPipe", err));
    }
    listener_arm(io, 1);
    return;
  }
  s->state = PAL__SLOT_READY;
  s->next = NULL;
  if (l->ready_tail)
    l->ready_tail->next = s;
  else
    l->ready_head = s;
  l->ready_tail = s;
  listener_announce(io);
  listener_arm(io, 1);
}

apr_status_t pal_io_listen(pal_io_t *io, int backlog, pal_conn_cb cb) {
  listener_t *l;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  DWORD e;
  apr_status_t rv;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->flags & PAL__F_LISTENING) {
    io->conn_cb = cb;
    return APR_SUCCESS;
  }
  if (io->kind == PAL_IO_UNIX) {
    if (!(l = LST(io)))
      return APR_EINVAL;   /* not bound */
    /* The instances waiting in ConnectNamedPipe are the backlog: a
     * connect that finds none waits for one (pipe_wait_main()). */
    l->nslots = backlog < PAL__PIPE_INSTANCES       ? PAL__PIPE_INSTANCES
                : backlog > PAL__PIPE_INSTANCES_MAX ? PAL__PIPE_INSTANCES_MAX
                                                    : (unsigned)backlog;
  } else if (io->kind == PAL_IO_TCP) {
    if (io->fd == PAL_INVALID_FD)
      return APR_EBADF;
    if (listen(SOCK(io), backlog) == SOCKET_ERROR)
      return pal__wsafail("listen");
    if (getsockname(SOCK(io), (struct sockaddr *)&ss, &len) == SOCKET_ERROR)
      return pal__wsafail("getsockname");
    if (!(l = listener_new(io, PAL__TCP_ACCEPTS)))
      return APR_ENOMEM;
    if ((e = get_accept_ex(SOCK(io), &l->accept_ex)) != 0) {
      listener_free(l);
      return os_fail("WSAIoctl", e);
    }
    l->lsock = SOCK(io);
    l->family = ss.ss_family;
    IOS(io)->ext = l;
  } else {
    return APR_ENOTSOCK;
  }
  io->conn_cb = cb;
  io->flags |= PAL__F_LISTENING;
  if ((e = listener_arm_err(io)) == 0)
    return APR_SUCCESS;
  /* Nothing could be started: fail the call, not a later callback. */
  rv = os_fail(io->kind == PAL_IO_TCP ? "AcceptEx" : "ConnectNamedPipe", e);
  io->flags &= ~PAL__F_LISTENING;
  if (io->kind == PAL_IO_TCP) {
    unsigned i;
    for (i = 0; i < l->nslots; i++)
      slot_close(io, &l->slots[i]);
    listener_free(l);
    IOS(io)->ext = NULL;
  }
  return rv;
}

apr_status_t pal_io_accept(pal_io_t *server, pal_io_t *client) {
  listener_t *l = LST(server);
  slot_t *s;
  pal_fd_t fd;
  apr_status_t rv = APR_SUCCESS;
  if (!(server->flags & PAL__F_LISTENING) || !l || !(s = l->ready_head))
    return APR_EAGAIN;
  l->ready_head = s->next;
  if (!l->ready_head)
    l->ready_tail = NULL;
  s->next = NULL;
  s->state = PAL__SLOT_IDLE;
  l->announced = 0;
  fd = s->fd;
  s->fd = PAL_INVALID_FD;
  io_init(client, server->poll, server->kind, fd);
  if (server->kind == PAL_IO_TCP) {
    if ((rv = set_nonblock((SOCKET)fd)) == APR_SUCCESS)
      rv = port_add(client, (HANDLE)fd);
    if (rv != APR_SUCCESS) {
      closesocket((SOCKET)fd);
      client->fd = PAL_INVALID_FD;
    }
  }
  /* A pipe instance joined the port with the listener's key when it was
   * created; packets are routed by their tags, so it stays. */
  listener_arm(server, 1);
  if (l->ready_head && !l->announcing && !(server->flags & PAL__F_RPOSTED) &&
      post_packet(server, &IOS(server)->rov, PAL__OV_READ, 0) == 0)
    server->flags |= PAL__F_RPOSTED;   /* announce the next one */
  return rv;
}

/* ---- 5. the write side -------------------------------------------------- */

static void req_init(pal_req_t *req, pal_io_t *io, int type,
                     const pal_buf_t *bufs, unsigned nbufs, pal_req_cb cb) {
  pal__req_init(req, io, type, bufs, nbufs, cb);
  req->addr = NULL;
  memset(req->os, 0, sizeof req->os);
  io->poll->pending++;
}

/* Up to `max` WSABUFs for the unwritten rest of a stream write; returns
 * the count and the byte total in *chunk. */
static unsigned fill_wsabuf(const pal_req_t *req, WSABUF *wb, unsigned max,
                            size_t *chunk) {
  unsigned i, n = 0;
  *chunk = 0;
  for (i = req->bufidx; i < req->nbufs && n < max; i++) {
    size_t off = (i == req->bufidx) ? req->bufoff : 0;
    size_t len = req->bufs[i].len - off;
    if (len == 0)
      continue;
    if (len > PAL__CHUNK_MAX)
      len = PAL__CHUNK_MAX;
    wb[n].buf = req->bufs[i].base + off;
    wb[n].len = (ULONG)len;
    *chunk += len;
    n++;
    if (len < req->bufs[i].len - off)
      break;   /* a longer buffer ends the chunk */
  }
  return n;
}

static void free_heap_bufs(pal_req_t *req) {
  if (req->type == PAL_REQ_SEND && req->nbufs > PAL__INLINE_BUFS) {
    free(ROS(req)->b.heap);
    ROS(req)->b.heap = NULL;
  }
}

/* Start the operation for the head request of the write queue: 0 when
 * one is in flight (its packet will come), else the error with which the
 * request has failed. */
static DWORD write_post(pal_io_t *io, pal_req_t *req) {
  req_os_t *ros = ROS(req);
  for (;;) {
    size_t chunk = 0;
    DWORD e = 0;
    int early = 0;
    ov_init(&ros->ov, PAL__OV_REQ);
    if (io->flags & PAL__F_SYNC) {
      const pal_buf_t *b = &req->bufs[req->bufidx];
      size_t len = b->len - req->bufoff;
      worker_command(io, &ros->ov, b->base + req->bufoff,
                     len > PAL__CHUNK_MAX ? PAL__CHUNK_MAX : (DWORD)len);
      io->flags |= PAL__F_WPOSTED;
      return 0;
    }
    if (req->type == PAL_REQ_SEND) {
      WSABUF *wb = ros->b.inl;
      unsigned i, n = req->nbufs ? req->nbufs : 1;
      const struct sockaddr *to = NULL;
      int tolen = 0;
      if (n > PAL__INLINE_BUFS) {
        if (!(wb = ros->b.heap = malloc(n * sizeof *wb)))
          return ERROR_NOT_ENOUGH_MEMORY;
      }
      wb[0].buf = zero_buf;
      wb[0].len = 0;
      for (i = 0; i < req->nbufs; i++) {
        if (req->bufs[i].len > ULONG_MAX) {
          free_heap_bufs(req);
          return WSAEMSGSIZE;
        }
        wb[i].buf = req->bufs[i].base;
        wb[i].len = (ULONG)req->bufs[i].len;
      }
      if (req->addr) {
        to = (const struct sockaddr *)req->addr->u.bytes;
        tolen = (int)req->addr->len;
      }
      if (PAL__SYS(PAL_SYS_SENDMSG,
                   WSASendTo(SOCK(io), wb, n, NULL, 0, to, tolen, &ros->ov,
                             NULL),
                   SOCKET_ERROR) == 0)
        early = 1;
      else if ((e = (DWORD)WSAGetLastError()) == WSA_IO_PENDING)
        e = 0;
      if (e)
        free_heap_bufs(req);
    } else if (is_sock(io)) {
      unsigned n = fill_wsabuf(req, ros->b.inl, PAL__INLINE_BUFS, &chunk);
      if (PAL__SYS(PAL_SYS_WRITEV,
                   WSASend(SOCK(io), ros->b.inl, n, NULL, 0, &ros->ov, NULL),
                   SOCKET_ERROR) == 0)
        early = 1;
      else if ((e = (DWORD)WSAGetLastError()) == WSA_IO_PENDING)
        e = 0;
    } else {
      /* WriteFile takes one buffer: the rest of the current one. */
      const pal_buf_t *b = &req->bufs[req->bufidx];
      chunk = b->len - req->bufoff;
      if (chunk > PAL__CHUNK_MAX)
        chunk = PAL__CHUNK_MAX;
      if (PAL__SYS(PAL_SYS_WRITEV,
                   WriteFile(HND(io), b->base + req->bufoff, (DWORD)chunk,
                             NULL, &ros->ov),
                   FALSE))
        early = 1;
      else if ((e = GetLastError()) == ERROR_IO_PENDING)
        e = 0;
    }
    if (e == 0) {
      /* In flight; a packet comes even when it finished at once, but
       * then its bytes are written already (pending_bytes says so, as a
       * POSIX write done at submit time). */
      io->flags |= PAL__F_WPOSTED;
      IOS(io)->ops++;
      if (early) {
        io->flags |= PAL__F_WEARLY;
        if (req->type == PAL_REQ_SEND)
          req->bufidx = req->nbufs;
        else
          pal__req_advance(req, chunk);
      }
      return 0;
    }
    if (is_intr(e))
      continue;
    if (is_again(e)) {
      /* Cannot start now: retry on the next iteration. */
      if ((e = post_packet(io, &ros->ov, PAL__OV_REQ, 0)) != 0)
        return e;
      io->flags |= PAL__F_WPOSTED | PAL__F_WKICK;
      return 0;
    }
    return e;
  }
}

static void dequeue_head(pal_io_t *io) {
  io->wq_head = io->wq_head->next;
  if (!io->wq_head)
    io->wq_tail = NULL;
}

/* The head request failed: it completes with rv; on a stream, what is
 * queued behind it fails the same way (POSIX flush_writes()). */
static void fail_head(pal_io_t *io, apr_status_t rv) {
  pal_req_t *req = io->wq_head;
  dequeue_head(io);
  pal__complete(io->poll, req, rv);
  if (req->type == PAL_REQ_SEND)
    return;
  while ((req = io->wq_head) != NULL) {
    dequeue_head(io);
    pal__complete(io->poll, req, rv);
  }
}

static apr_status_t write_fail(const pal_io_t *io, const pal_req_t *req,
                               DWORD e) {
  if (req->type == PAL_REQ_SEND)
    return os_fail("WSASendTo", e);
  if (is_sock(io))
    return os_fail("WSASend", e);
  /* A pipe whose reader is gone says ERROR_NO_DATA, which APR would
   * take for EAGAIN: report it as the broken pipe it is. */
  if (e == ERROR_NO_DATA)
    e = ERROR_BROKEN_PIPE;
  return os_fail("WriteFile", e);
}

static void do_shutdown(pal_io_t *io, pal_req_t *req) {
  apr_status_t rv = APR_SUCCESS;
  if (is_sock(io)) {
    if (shutdown(SOCK(io), SD_SEND) == SOCKET_ERROR) {
      DWORD e = (DWORD)WSAGetLastError();
      if (e != WSAENOTCONN)
        rv = os_fail("shutdown", e);
    }
  } else if (io->kind == PAL_IO_PIPE) {
    /* A plain pipe end: closing it is how its reader sees EOF.  An
     * operation still on it (a read) ends with a packet. */
    if (io->flags & PAL__F_SYNC)
      worker_stop(io);
    CancelIoEx(HND(io), NULL);
    CloseHandle(HND(io));
    io->fd = PAL_INVALID_FD;
  }
  /* UNIX (a named pipe) has no half-close: closing would end our read
   * side too.  The shutdown completes once the writes have; the peer
   * sees no EOF until the io is closed. */
  pal__complete(io->poll, req, rv);
}

/* Start the next write, if nothing is in flight: completes what is done
 * or failed, stops at the first operation in flight, then runs a queued
 * shutdown once the queue is empty. */
static void write_next(pal_io_t *io) {
  pal_req_t *req;
  while (!(io->flags & (PAL__F_WPOSTED | PAL__F_CLOSED)) && !io->connect_req &&
         (req = io->wq_head) != NULL) {
    DWORD e;
    if (req->type != PAL_REQ_SEND && req->bufidx >= req->nbufs) {
      dequeue_head(io);
      pal__complete(io->poll, req, APR_SUCCESS);
      continue;
    }
    if (io->fd == PAL_INVALID_FD) {
      fail_head(io, APR_EPIPE);
      continue;
    }
    if ((e = write_post(io, req)) == 0)
      return;
    fail_head(io, write_fail(io, req, e));
  }
  if (!io->wq_head && io->shutdown_req && !io->connect_req &&
      !(io->flags & (PAL__F_WPOSTED | PAL__F_CLOSED))) {
    req = io->shutdown_req;
    io->shutdown_req = NULL;
    do_shutdown(io, req);
  }
}

apr_status_t pal_io_write(pal_io_t *io, pal_req_t *req, const pal_buf_t *bufs,
                          unsigned nbufs, pal_req_cb cb) {
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if ((io->fd == PAL_INVALID_FD && !io->connect_req) ||
      (io->flags & PAL__F_SHUT))
    return APR_EPIPE;
  req_init(req, io, PAL_REQ_WRITE, bufs, nbufs, cb);
  pal__req_advance(req, 0);   /* skip empty buffers */
  pal__wq_push(io, req);
  write_next(io);
  return APR_SUCCESS;
}

apr_status_t pal_io_send(pal_io_t *io, pal_req_t *req, const pal_buf_t *bufs,
                         unsigned nbufs, const pal_addr_t *addr,
                         pal_req_cb cb) {
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd == PAL_INVALID_FD)
    return APR_EBADF;
  if (!is_sock(io))
    return APR_ENOTSOCK;
  req_init(req, io, PAL_REQ_SEND, bufs, nbufs, cb);
  req->addr = (pal_addr_t *)addr;
  pal__wq_push(io, req);
  write_next(io);
  return APR_SUCCESS;
}

/* Sockets only.  A pipe cannot be written without blocking or a packet:
 * a write with a packet-less OVERLAPPED that would block must be
 * cancelled, and a cancelled pipe write may have written part of its
 * data.  So pipes say APR_EAGAIN and the caller queues (as libuv does). */
apr_status_t pal_io_try_write(pal_io_t *io, const pal_buf_t *bufs,
                              unsigned nbufs, size_t *written) {
  WSABUF wb[PAL__IOV_MAX];
  unsigned i, n = 0;
  DWORD sent = 0, e;
  *written = 0;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd == PAL_INVALID_FD || (io->flags & PAL__F_SHUT))
    return APR_EPIPE;
  if (io->wq_head || io->connect_req || (io->flags & PAL__F_WPOSTED) ||
      !is_sock(io))
    return APR_EAGAIN;
  for (i = 0; i < nbufs && n < PAL__IOV_MAX; i++) {
    size_t len = bufs[i].len;
    if (len == 0)
      continue;
    wb[n].buf = bufs[i].base;
    wb[n].len = len > PAL__CHUNK_MAX ? PAL__CHUNK_MAX : (ULONG)len;
    n++;
    if (len > PAL__CHUNK_MAX)
      break;
  }
  if (n == 0)
    return APR_SUCCESS;
  for (;;) {
    if (PAL__SYS(PAL_SYS_WRITEV,
                 WSASend(SOCK(io), wb, n, &sent, 0, NULL, NULL),
                 SOCKET_ERROR) == 0) {
      *written = sent;
      return sent ? APR_SUCCESS : APR_EAGAIN;
    }
    e = (DWORD)WSAGetLastError();
    if (is_intr(e))
      continue;
    if (is_again(e))
      return APR_EAGAIN;
    return os_fail("WSASend", e);
  }
}

/* Open a local socket's pipe as a client.  SECURITY_IDENTIFICATION: the
 * server may learn who we are, not act as us. */
static HANDLE pipe_open(const wchar_t *name) {
  return CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                     OPEN_EXISTING,
                     FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT |
                         SECURITY_IDENTIFICATION,
                     NULL);
}

/* Every instance is taken (the server has not caught up with a burst of
 * clients): wait for one on a pool thread, as waiting (WaitNamedPipeW)
 * blocks.  It waits in slices, so that pal_io_close() is heard within
 * one, for at most PAL__PIPE_WAIT_MS, then posts the outcome -- the
 * handle, or the error -- to the connect's OVERLAPPED. */
static DWORD WINAPI pipe_wait_main(void *arg) {
  pal_req_t *req = arg;
  req_os_t *ros = ROS(req);
  pal_io_t *io = req->io;
  ULONGLONG deadline = GetTickCount64() + PAL__PIPE_WAIT_MS;
  HANDLE h = INVALID_HANDLE_VALUE;
  DWORD e = ERROR_PIPE_BUSY;
  while (!ros->b.pw.cancel && GetTickCount64() < deadline) {
    if (!WaitNamedPipeW(ros->b.pw.name, 100)) {
      e = GetLastError();
      if (e == ERROR_SEM_TIMEOUT) {
        e = ERROR_PIPE_BUSY;
        continue;
      }
      break;   /* gone: ERROR_FILE_NOT_FOUND */
    }
    if ((h = pipe_open(ros->b.pw.name)) != INVALID_HANDLE_VALUE) {
      e = 0;
      break;
    }
    if ((e = GetLastError()) != ERROR_PIPE_BUSY)
      break;   /* another client took it: wait again */
  }
  if (ros->b.pw.cancel && !e)
    e = ERROR_OPERATION_ABORTED;
  ros->b.pw.h = h;
  ros->ov.OffsetHigh = PAL__OV_POSTED;
  ros->ov.Internal = e;
  PostQueuedCompletionStatus(io->poll->iocp, 0, PAL__KEY(io, PAL__KEY_IO),
                             &ros->ov);
  return 0;
}

/* A local stream client: open the name.  Usually the outcome is known at
 * once and delivered in the completion phase; a busy server makes it a
 * wait on a pool thread (above). */
static apr_status_t pipe_connect(pal_io_t *io, pal_req_t *req,
                                 const pal_addr_t *addr, pal_req_cb cb) {
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  req_os_t *ros = ROS(req);
  wchar_t *name;
  HANDLE h;
  DWORD e = 0;
  apr_status_t rv;
  if (io->fd != PAL_INVALID_FD || IOS(io)->ext)
    return APR_EINVAL;   /* connected, or a server */
  if ((rv = local_path(addr, path, sizeof path)) != APR_SUCCESS)
    return rv;
  if (!(name = pipe_name(path)))
    return pal__fail("MultiByteToWideChar");
  req_init(req, io, PAL_REQ_CONNECT, NULL, 0, cb);
  for (;;) {
    h = PAL__SYS(PAL_SYS_CONNECT, pipe_open(name), INVALID_HANDLE_VALUE);
    if (h != INVALID_HANDLE_VALUE || !is_intr(e = GetLastError()))
      break;
  }
  if (h == INVALID_HANDLE_VALUE && e == ERROR_PIPE_BUSY) {
    ov_init(&ros->ov, PAL__OV_REQ);
    ros->b.pw.name = name;
    ros->b.pw.h = INVALID_HANDLE_VALUE;
    ros->b.pw.cancel = 0;
    if (QueueUserWorkItem(pipe_wait_main, req, WT_EXECUTELONGFUNCTION)) {
      io->connect_req = req;
      io->flags |= PAL__F_WPOSTED;
      IOS(io)->ops++;
      return APR_SUCCESS;
    }
    e = GetLastError();
    ros->b.pw.name = NULL;
  }
  free(name);
  if (h == INVALID_HANDLE_VALUE) {
    rv = os_fail("CreateFileW", e);
  } else if ((rv = port_add(io, h)) != APR_SUCCESS) {
    CloseHandle(h);
  } else {
    io->fd = (pal_fd_t)h;
  }
  pal__complete(io->poll, req, rv);
  return APR_SUCCESS;
}

apr_status_t pal_io_connect(pal_io_t *io, pal_req_t *req,
                            const pal_addr_t *addr, pal_req_cb cb) {
  req_os_t *ros = ROS(req);
  LPFN_CONNECTEX connect_ex;
  DWORD e;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->connect_req)
    return PAL_EBUSY;
  if (io->kind == PAL_IO_UNIX)
    return pipe_connect(io, req, addr, cb);
  if (io->fd == PAL_INVALID_FD)
    return APR_EBADF;
  req_init(req, io, PAL_REQ_CONNECT, NULL, 0, cb);
  if (io->kind != PAL_IO_TCP) {
    /* A datagram socket's default peer: known at once. */
    apr_status_t rv = APR_SUCCESS;
    if (connect(SOCK(io), (const struct sockaddr *)addr->u.bytes,
                (int)addr->len) == SOCKET_ERROR)
      rv = pal__wsafail("connect");
    pal__complete(io->poll, req, rv);
    return APR_SUCCESS;
  }
  if (!(io->flags & PAL__F_BOUND)) {
    /* ConnectEx wants a bound socket: the wildcard, any port. */
    struct sockaddr_storage any;
    memset(&any, 0, sizeof any);
    any.ss_family = ((const struct sockaddr *)addr->u.bytes)->sa_family;
    if (bind(SOCK(io), (struct sockaddr *)&any,
             any.ss_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6)
                                       : (int)sizeof(struct sockaddr_in)) ==
        SOCKET_ERROR) {
      pal__complete(io->poll, req, pal__wsafail("bind"));
      return APR_SUCCESS;
    }
    io->flags |= PAL__F_BOUND;
  }
  if ((e = get_connect_ex(SOCK(io), &connect_ex)) != 0) {
    pal__complete(io->poll, req, os_fail("WSAIoctl", e));
    return APR_SUCCESS;
  }
  for (;;) {
    ov_init(&ros->ov, PAL__OV_REQ);
    if (PAL__SYS(PAL_SYS_CONNECT,
                 connect_ex(SOCK(io), (const struct sockaddr *)addr->u.bytes,
                            (int)addr->len, NULL, 0, NULL, &ros->ov),
                 FALSE) ||
        (e = (DWORD)WSAGetLastError()) == WSA_IO_PENDING)
      break;
    if (!is_intr(e)) {
      pal__complete(io->poll, req, os_fail("ConnectEx", e));
      return APR_SUCCESS;
    }
  }
  io->connect_req = req;
  io->flags |= PAL__F_WPOSTED;
  IOS(io)->ops++;
  return APR_SUCCESS;
}

static void connect_done(pal_io_t *io, pal_req_t *req, DWORD err,
                         int posted) {
  apr_status_t rv = APR_SUCCESS;
  if (io->kind == PAL_IO_UNIX) {
    /* The pool thread's outcome. */
    HANDLE h = ROS(req)->b.pw.h;
    if (err)
      rv = os_fail(err == ERROR_PIPE_BUSY ? "WaitNamedPipeW" : "CreateFileW",
                   err);
    else if ((rv = port_add(io, h)) != APR_SUCCESS)
      CloseHandle(h);
    else
      io->fd = (pal_fd_t)h;
  } else if (err) {
    if (!posted)
      err = sock_error(SOCK(io), &ROS(req)->ov, err);
    rv = os_fail("ConnectEx", err);
  } else if (setsockopt(SOCK(io), SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT,
                        NULL, 0) == SOCKET_ERROR) {
    rv = pal__wsafail("setsockopt");
  }
  io->connect_req = NULL;
  pal__complete(io->poll, req, rv);
  if (io->flags & (PAL__F_READING | PAL__F_RECVING)) {
    apr_status_t r = read_post(io);   /* waited for the connect */
    if (r != APR_SUCCESS && (io->flags & PAL__F_READING)) {
      pal_buf_t none = {NULL, 0};
      io->flags &= ~PAL__F_READING;
      io->rcb.read(io, r, 0, &none);
    }
  }
  write_next(io);
}

/* A request operation's packet: the connect, or the head write/send. */
static void req_done(pal_io_t *io, pal_req_t *req, DWORD bytes, DWORD err,
                     int posted) {
  unsigned fl = io->flags;
  io->flags &= ~(PAL__F_WPOSTED | PAL__F_WKICK | PAL__F_WEARLY);
  if (!(fl & PAL__F_WKICK))
    free_heap_bufs(req);
  if (req->type == PAL_REQ_CONNECT && io->kind == PAL_IO_UNIX) {
    free(ROS(req)->b.pw.name);
    ROS(req)->b.pw.name = NULL;
    if ((fl & PAL__F_CLOSED) && ROS(req)->b.pw.h != INVALID_HANDLE_VALUE)
      CloseHandle(ROS(req)->b.pw.h);   /* opened as we closed */
  }
  if (fl & PAL__F_CLOSED) {
    cancel_all(io);   /* they waited for this packet */
    return;
  }
  if (req->type == PAL_REQ_CONNECT) {
    connect_done(io, req, err, posted);
    return;
  }
  if (fl & PAL__F_WKICK) {
    write_next(io);
    return;
  }
  if (err) {
    if (!posted && is_sock(io))
      err = sock_error(SOCK(io), &ROS(req)->ov, err);
    fail_head(io, write_fail(io, req, err));
    write_next(io);
    return;
  }
  if (req->type == PAL_REQ_SEND)
    req->bufidx = req->nbufs;
  else if (!(fl & PAL__F_WEARLY))
    pal__req_advance(req, bytes);
  if (req->type == PAL_REQ_SEND || req->bufidx >= req->nbufs) {
    dequeue_head(io);
    pal__complete(io->poll, req, APR_SUCCESS);
  }
  write_next(io);
}

apr_status_t pal_io_shutdown(pal_io_t *io, pal_req_t *req, pal_req_cb cb) {
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if ((io->fd == PAL_INVALID_FD && !io->connect_req) ||
      (io->flags & PAL__F_SHUT))
    return APR_EPIPE;
  req_init(req, io, PAL_REQ_SHUTDOWN, NULL, 0, cb);
  io->flags |= PAL__F_SHUT;
  io->shutdown_req = req;
  write_next(io);   /* runs it now if nothing is queued */
  return APR_SUCCESS;
}

/* ---- 6. synchronous handles -------------------------------------------- */

/* A handle opened without FILE_FLAG_OVERLAPPED -- the child's end of a
 * pal_pipe(), a parent's stdio -- cannot join a port, and every call on
 * it blocks.  One worker thread per such io makes the blocking calls the
 * loop asks for (a zero-byte read, one write chunk) and posts their
 * results as packets, so the rest of this file sees what an overlapped
 * handle would give.  The loop reads the data itself (PeekNamedPipe, then
 * a ReadFile of what is there) only while the worker is idle, because a
 * synchronous handle serialises its calls.  Close stops the worker:
 * CancelSynchronousIo() ends its blocking call (retried until it lands),
 * then the thread is joined, so no call is in progress when the handle is
 * closed.  Operations handed to the worker count in ops like any other.
 * Limits: pipes only; a handle that is read and written at once waits
 * for one before the other; the worker's own calls are outside the fault
 * seam (it is not thread-safe), the loop's reads are inside. */

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
        ok = ReadFile(w->h, zero_buf, 0, &n, NULL);
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

static DWORD worker_start(pal_io_t *io) {
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
static void worker_command(pal_io_t *io, OVERLAPPED *ov, const char *base,
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
static void worker_stop(pal_io_t *io) {
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

static void ext_free(pal_io_t *io) {
  void *ext = IOS(io)->ext;
  if (!ext)
    return;
  IOS(io)->ext = NULL;
  if (io->flags & PAL__F_SYNC) {
    worker_t *w = ext;
    DeleteCriticalSection(&w->lock);
    free(w);
  } else {
    listener_free(ext);
  }
}

/* ---- 7. packets --------------------------------------------------------- */

static void read_done(pal_io_t *io, DWORD err, int posted) {
  io->flags &= ~PAL__F_RPOSTED;
  if (io->flags & PAL__F_CLOSED)
    return;
  if (io->flags & PAL__F_LISTENING) {
    /* Posted by the listener: an error for conn_cb, or more to tell. */
    if (err) {
      io->conn_cb(io, os_fail(io->kind == PAL_IO_TCP ? "AcceptEx"
                                                     : "ConnectNamedPipe",
                              err));
      listener_arm(io, 1);
    } else {
      listener_announce(io);
    }
    return;
  }
  if (io->fd == PAL_INVALID_FD)
    return;   /* a pipe end closed by shutdown: its read is over */
  /* A failed zero-byte read (reset, EOF) is not reported as such: the
   * read that follows meets the same condition and reports it with the
   * Winsock or pipe error.  Only an error the PAL posted is passed on. */
  if (!posted)
    err = 0;
  if (io->flags & PAL__F_RECVING)
    do_recv(io, err);
  else if (io->flags & PAL__F_READING)
    do_read(io, err);
}

void pal__io_completion(pal_io_t *keyio, OVERLAPPED *ov, DWORD bytes,
                        DWORD err) {
  pal_io_t *io;
  int posted;
  (void)keyio;   /* may be a closed listener: see the map */
  if (!ov)
    return;
  posted = ov->OffsetHigh == PAL__OV_POSTED;
  if (posted)
    err = (DWORD)ov->Internal;
  switch (ov->Offset) {
  case PAL__OV_READ:
    io = IO_OF_ROV(ov);
    IOS(io)->ops--;
    read_done(io, err, posted);
    break;
  case PAL__OV_REQ: {
    pal_req_t *req = REQ_OF_OV(ov);
    io = req->io;
    IOS(io)->ops--;
    req_done(io, req, bytes, err, posted);
    break;
  }
  case PAL__OV_SLOT: {
    slot_t *s = (slot_t *)(void *)ov;
    io = s->io;
    IOS(io)->ops--;
    slot_done(io, s, err, posted);
    break;
  }
  default:
    return;
  }
  if ((io->flags & PAL__F_CLOSED) && IOS(io)->ops == 0)
    ext_free(io);
}

/* ---- 8. close and busy -------------------------------------------------- */

/* Complete every pending request with PAL_ECANCELED, in submission
 * order: connect, writes, shutdown. */
static void cancel_all(pal_io_t *io) {
  pal_req_t *req;
  if (io->connect_req) {
    pal__complete(io->poll, io->connect_req, PAL_ECANCELED);
    io->connect_req = NULL;
  }
  while ((req = io->wq_head) != NULL) {
    dequeue_head(io);
    pal__complete(io->poll, req, PAL_ECANCELED);
  }
  if (io->shutdown_req) {
    pal__complete(io->poll, io->shutdown_req, PAL_ECANCELED);
    io->shutdown_req = NULL;
  }
}

void pal_io_close(pal_io_t *io) {
  listener_t *l;
  if (io->flags & PAL__F_CLOSED)
    return;
  io->flags |= PAL__F_CLOSED;
  io->flags &= ~(PAL__F_READING | PAL__F_RECVING | PAL__F_LISTENING);
  if (io->flags & PAL__F_SYNC)
    worker_stop(io);
  if (io->kind == PAL_IO_UNIX && io->connect_req &&
      (io->flags & PAL__F_WPOSTED))
    InterlockedExchange(&ROS(io->connect_req)->b.pw.cancel, 1);
  if (io->fd != PAL_INVALID_FD) {
    /* Every operation still on the handle ends with a packet
     * (ERROR_OPERATION_ABORTED); ops counts them. */
    CancelIoEx(HND(io), NULL);
    if (is_sock(io))
      closesocket(SOCK(io));
    else
      CloseHandle(HND(io));
    io->fd = PAL_INVALID_FD;
  }
  if (!(io->flags & PAL__F_SYNC) && (l = LST(io)) != NULL) {
    unsigned i;
    for (i = 0; i < l->nslots; i++)
      slot_close(io, &l->slots[i]);   /* in flight or ready, untaken */
    l->ready_head = l->ready_tail = NULL;
  }
  /* A request whose OVERLAPPED is with the kernel keeps its owner's
   * memory until its packet; the cancellations wait for it so that they
   * stay in order. */
  if (!(io->flags & PAL__F_WPOSTED))
    cancel_all(io);
  if (IOS(io)->ops == 0)
    ext_free(io);
}

int pal_io_busy(const pal_io_t *io) {
  return ((const io_os_t *)(const void *)io->os)->ops != 0;
}

/* ---- 9. addresses and options ------------------------------------------ */

apr_status_t pal_io_sockname(const pal_io_t *io, pal_addr_t *addr) {
  int len = (int)sizeof addr->u.bytes;
  memset(addr, 0, sizeof *addr);
  if (!is_sock(io)) {
    const listener_t *l = (io->flags & PAL__F_SYNC) ? NULL
                        : ((const io_os_t *)(const void *)io->os)->ext;
    if (io->kind == PAL_IO_UNIX && l && l->path)
      return pal_addr_local(addr, l->path);
    return PAL_EUNSUPPORTED;
  }
  if (getsockname(SOCK(io), (struct sockaddr *)addr->u.bytes, &len) ==
      SOCKET_ERROR)
    return pal__wsafail("getsockname");
  addr->len = (unsigned)len;
  return APR_SUCCESS;
}

apr_status_t pal_io_peername(const pal_io_t *io, pal_addr_t *addr) {
  int len = (int)sizeof addr->u.bytes;
  memset(addr, 0, sizeof *addr);
  if (!is_sock(io))
    return PAL_EUNSUPPORTED;
  if (getpeername(SOCK(io), (struct sockaddr *)addr->u.bytes, &len) ==
      SOCKET_ERROR)
    return pal__wsafail("getpeername");
  addr->len = (unsigned)len;
  return APR_SUCCESS;
}

apr_status_t pal_io_nodelay(pal_io_t *io, int on) {
  BOOL v = on != 0;
  if (io->kind != PAL_IO_TCP || io->fd == PAL_INVALID_FD)
    return APR_ENOTSOCK;
  if (setsockopt(SOCK(io), IPPROTO_TCP, TCP_NODELAY, (const char *)&v,
                 sizeof v) == SOCKET_ERROR)
    return pal__wsafail("setsockopt");
  return APR_SUCCESS;
}

/* A named pipe client's account is a SID, not a uid: see
 * pal_io_peer_trusted(). */
apr_status_t pal_io_peer_uid(const pal_io_t *io, long *uid) {
  (void)io;
  (void)uid;
  return PAL_EUNSUPPORTED;
}

/* No local datagram sockets here (pal_io_socket refuses them), so no
 * datagram sender to tell. */
apr_status_t pal_io_sender(const pal_io_t *io, long *pid, long *uid) {
  (void)io;
  (void)pid;
  (void)uid;
  return PAL_EUNSUPPORTED;
}

/* Whether `tok` is our user, LocalSystem, or has Administrators enabled
 * (a filtered UAC token has it deny-only: not trusted).  0 or the Win32
 * error, with the failed call in *call. */
static DWORD token_trusted(HANDLE tok, int *trusted, const char **call) {
  BYTE admins[SECURITY_MAX_SID_SIZE];
  DWORD n = sizeof admins, e = 0;
  TOKEN_USER *tu;
  HANDLE imp;
  BOOL member = FALSE;
  if (!(tu = token_user(tok))) {
    *call = "GetTokenInformation";
    return GetLastError();
  }
  *trusted = EqualSid(tu->User.Sid, sec_self->User.Sid) ||
             IsWellKnownSid(tu->User.Sid, WinLocalSystemSid);
  free(tu);
  if (*trusted)
    return 0;
  /* CheckTokenMembership wants an impersonation token. */
  if (!CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, admins, &n)) {
    *call = "CreateWellKnownSid";
    return GetLastError();
  }
  if (!DuplicateToken(tok, SecurityIdentification, &imp)) {
    *call = "DuplicateToken";
    return GetLastError();
  }
  if (!CheckTokenMembership(imp, admins, &member)) {
    *call = "CheckTokenMembership";
    e = GetLastError();
  }
  CloseHandle(imp);
  *trusted = e == 0 && member;
  return e;
}

/* The client process of a server pipe instance, by its token.  Not by
 * ImpersonateNamedPipeClient(): that fails until the client has written
 * something (ERROR_CANNOT_IMPERSONATE), and the check is made at accept.
 * The cost: a client process this one may not open (a SYSTEM or elevated
 * process when we run as a plain user) cannot be identified, so it is
 * refused, although the DACL let it connect. */
apr_status_t pal_io_peer_trusted(const pal_io_t *io, int *trusted) {
  ULONG pid;
  HANDLE proc, tok;
  const char *call = NULL;
  DWORD e;
  *trusted = 0;
  if (io->kind != PAL_IO_UNIX || io->fd == PAL_INVALID_FD)
    return APR_EINVAL;
  if ((e = pipe_security(&call)) != 0)
    return os_fail(call, e);
  if (!GetNamedPipeClientProcessId((HANDLE)io->fd, &pid))
    return pal__fail("GetNamedPipeClientProcessId");
  proc = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (!proc)
    return pal__fail("OpenProcess");
  if (!OpenProcessToken(proc, TOKEN_QUERY | TOKEN_DUPLICATE, &tok)) {
    e = GetLastError();
    CloseHandle(proc);
    return os_fail("OpenProcessToken", e);
  }
  CloseHandle(proc);
  e = token_trusted(tok, trusted, &call);
  CloseHandle(tok);
  return e ? os_fail(call, e) : APR_SUCCESS;
}
