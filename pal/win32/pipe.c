/*
 * pipe.c -- pipes on the completion port: a child's stdio, and named
 * pipes as local stream endpoints (PAL_IO_UNIX).
 *
 * Map:
 *   1. names: local paths and pipe names
 *   2. security: the endpoint's DACL
 *   3. handles: pal_io_open() of a pipe, pal_pipe() for a child's stdio
 *   4. servers: bind, listen, ConnectNamedPipe slots
 *   5. clients: connect, and waiting for a free instance
 *   6. the read side: a non-blocking ReadFile
 *   7. the peer check
 *
 * PIPE  pipe handles.  Overlapped ones: a zero-byte ReadFile (it pends
 *       until data or EOF on a pipe), then ReadFile with an OVERLAPPED
 *       whose event has its low bit set (no packet; a read that would
 *       block is cancelled: libuv's non-blocking read); writes with
 *       WriteFile.  Synchronous handles (a child's end of pal_pipe(),
 *       inherited stdio) cannot join a port (Windows refuses): a worker
 *       thread makes their blocking calls (thread_io.c).
 * UNIX  named pipes.  The name is a pal_addr_local() path used as is
 *       when it starts with \\.\pipe\ (or //./pipe/), else prefixed
 *       with \\.\pipe\ and its backslashes turned into slashes (a pipe
 *       name may not contain one).  bind creates the first instance
 *       (FILE_FLAG_FIRST_PIPE_INSTANCE: a name in use fails there, as
 *       a Unix path does); listen keeps the backlog's worth of
 *       instances (4 to 16) in ConnectNamedPipe, the listening queue;
 *       connect opens the name with CreateFileW, and if every instance
 *       is taken waits for one on a pool thread (WaitNamedPipeW blocks).
 *       Every instance has a DACL for our user, LocalSystem and
 *       Administrators alone (pipe_security()), the named pipe's
 *       equivalent of a socket file of mode 0600; pal_io_peer_trusted()
 *       checks the client process's token on top.
 */
#include "io_win32.h"

#include <afunix.h>
#include <ctype.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

/* ---- 1. names ----------------------------------------------------------- */


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

/* ---- 2. security -------------------------------------------------------- */

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

/* ---- 3. handles --------------------------------------------------------- */

/* Pipes only: files and consoles have byte offsets or no overlapped I/O
 * (and the packet tags live in OVERLAPPED.Offset). */
apr_status_t pal__pipe_open(pal_io_t *io, pal_poll_t *p, int kind,
                            pal_fd_t fd) {
  DWORD e;
  int sync;
  SetLastError(NO_ERROR);
  if (GetFileType((HANDLE)fd) != FILE_TYPE_PIPE) {
    if (GetLastError() != NO_ERROR)
      return pal__fail("GetFileType");
    return PAL_EUNSUPPORTED;
  }
  SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, 0);
  pal__io_init(io, p, kind, fd);
  /* A synchronous handle cannot join a port (Windows and Wine say
   * ERROR_INVALID_PARAMETER): a worker thread serves it. */
  sync = pal__handle_is_sync((HANDLE)fd);
  if (sync != 1) {
    if (PAL__SYS(PAL_SYS_POLL_CTL,
                 CreateIoCompletionPort((HANDLE)fd, p->iocp,
                                        PAL__KEY(io, PAL__KEY_IO), 0),
                 NULL) != NULL)
      return APR_SUCCESS;
    e = GetLastError();
    if (sync == 0 || e != ERROR_INVALID_PARAMETER)
      return pal__os_fail("CreateIoCompletionPort", e);
  }
  if ((e = pal__worker_start(io)) != 0)
    return pal__os_fail("CreateThread", e);
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
      return pal__os_fail("CreateNamedPipeW", e);
    }
    cli = CreateFileW(name, acc, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (cli != INVALID_HANDLE_VALUE)
      break;
    e = GetLastError();
    CloseHandle(srv);
    if (e == ERROR_PIPE_BUSY && tries < 16)
      continue;     /* somebody else connected first */
    return pal__os_fail("CreateFileW", e);
  }
  fds[0] = (pal_fd_t)(child_end ? srv : cli);
  fds[1] = (pal_fd_t)(child_end ? cli : srv);
  return APR_SUCCESS;
}

/* ---- 4. servers --------------------------------------------------------- */

/* A local stream server: remember the name and create its first
 * instance now, so that a name in use fails here. */
apr_status_t pal__pipe_bind(pal_io_t *io, const pal_addr_t *addr) {
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
    return pal__os_fail(call, e);
  if (!(name = pipe_name(path)))
    return pal__fail("MultiByteToWideChar");
  /* FILE_FLAG_FIRST_PIPE_INSTANCE is the guard; Wine does not enforce
   * it, so first ask whether the name exists (a vanishing race on
   * Windows, where the flag still decides).  Anything but "there" or
   * "busy" is left for CreateNamedPipeW to report. */
  if (WaitNamedPipeW(name, 1) || GetLastError() == ERROR_SEM_TIMEOUT) {
    rv = pal__os_fail("CreateNamedPipeW", WSAEADDRINUSE);
    goto fail_name;
  }
  h = pipe_instance(name, 1);
  if (h == INVALID_HANDLE_VALUE) {
    /* Another server holds the name (ACCESS_DENIED with the flag):
     * report it as the address in use, like a Unix socket path. */
    e = GetLastError();
    if (e == ERROR_ACCESS_DENIED || e == ERROR_PIPE_BUSY)
      e = WSAEADDRINUSE;
    rv = pal__os_fail("CreateNamedPipeW", e);
    goto fail_name;
  }
  if (!(l = pal__listener_new(io, PAL__PIPE_INSTANCES_MAX)) ||
      !(l->path = _strdup(path))) {
    rv = APR_ENOMEM;
    goto fail_listener;
  }
  if ((rv = pal__io_port_add(io, h)) != APR_SUCCESS)
    goto fail_listener;
  l->name = name;
  l->slots[0].fd = (pal_fd_t)h;
  IOS(io)->ext = l;
  io->flags |= PAL__F_BOUND;
  return APR_SUCCESS;

fail_listener:
  if (l)
    pal__listener_free(l);
  CloseHandle(h);
fail_name:
  free(name);
  return rv;
}


/* The backlog: the instances waiting in ConnectNamedPipe.  A connect
 * that finds none waits for one (pipe_wait_main()). */
void pal__pipe_listen(pal_io_t *io, int backlog) {
  LST(io)->nslots = backlog < PAL__PIPE_INSTANCES ? PAL__PIPE_INSTANCES
                    : backlog > PAL__PIPE_INSTANCES_MAX
                        ? PAL__PIPE_INSTANCES_MAX
                        : (unsigned)backlog;
}

/* Start a slot's ConnectNamedPipe, on a new instance if it has none.  0
 * when it is in flight (or its result is posted), else the error (the
 * slot stays idle). */
DWORD pal__pipe_slot_post(pal_io_t *io, slot_t *s) {
  listener_t *l = LST(io);
  DWORD e;
  if (s->fd == PAL_INVALID_FD) {
    HANDLE h = pipe_instance(l->name, 0);
    apr_status_t rv;
    if (h == INVALID_HANDLE_VALUE)
      return GetLastError();
    if ((rv = pal__io_port_add(io, h)) != APR_SUCCESS) {
      CloseHandle(h);   /* (GetLastError() is gone: TLS touched it) */
      return (DWORD)APR_TO_OS_ERROR(rv);
    }
    s->fd = (pal_fd_t)h;
  }
  for (;;) {
    pal__ov_init(&s->ov, PAL__OV_SLOT);
    if (PAL__SYS(PAL_SYS_ACCEPT, ConnectNamedPipe((HANDLE)s->fd, &s->ov),
                 FALSE) ||
        (e = GetLastError()) == ERROR_IO_PENDING)
      break;
    if (e == ERROR_PIPE_CONNECTED) {
      /* A client came before the call: no packet, so post one. */
      if ((e = pal__io_post(io, &s->ov, PAL__OV_SLOT, 0)) != 0)
        return e;
      s->state = PAL__SLOT_POSTED;
      return 0;
    }
    if (e == ERROR_NO_DATA || pal__is_again(e)) {
      /* A client came and went (or the call could not start): its
       * packet recycles the instance and tries again. */
      if ((e = pal__io_post(io, &s->ov, PAL__OV_SLOT, ERROR_NO_DATA)) != 0)
        return e;
      s->state = PAL__SLOT_POSTED;
      return 0;
    }
    if (pal__is_intr(e))
      continue;
    return e;
  }
  s->state = PAL__SLOT_POSTED;
  IOS(io)->ops++;
  return 0;
}

/* A slot's packet with an error: a client that left is recycled, any
 * other error closes the instance and goes to conn_cb.  Nonzero when the
 * slot brought no connection. */
int pal__pipe_slot_failed(pal_io_t *io, slot_t *s, DWORD err) {
  if (!err)
    return 0;
  if (err == ERROR_NO_DATA || pal__pipe_eof(err) || pal__is_again(err)) {
    DisconnectNamedPipe((HANDLE)s->fd);   /* the client left: recycle */
  } else {
    pal__slot_close(io, s);
    io->conn_cb(io, pal__os_fail("ConnectNamedPipe", err));
  }
  return 1;
}

/* ---- 5. clients --------------------------------------------------------- */

/* Open a local socket's pipe as a client.  SECURITY_IDENTIFICATION: the
 * server may learn who we are, not act as us. */
static HANDLE client_open(const wchar_t *name) {
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
    if ((h = client_open(ros->b.pw.name)) != INVALID_HANDLE_VALUE) {
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
apr_status_t pal__pipe_connect(pal_io_t *io, pal_req_t *req,
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
  pal__io_req_start(req, io, PAL_REQ_CONNECT, NULL, 0, cb);
  for (;;) {
    h = PAL__SYS(PAL_SYS_CONNECT, client_open(name), INVALID_HANDLE_VALUE);
    if (h != INVALID_HANDLE_VALUE || !pal__is_intr(e = GetLastError()))
      break;
  }
  if (h == INVALID_HANDLE_VALUE && e == ERROR_PIPE_BUSY) {
    pal__ov_init(&ros->ov, PAL__OV_REQ);
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
    rv = pal__os_fail("CreateFileW", e);
  } else if ((rv = pal__io_port_add(io, h)) != APR_SUCCESS) {
    CloseHandle(h);
  } else {
    io->fd = (pal_fd_t)h;
  }
  pal__complete(io->poll, req, rv);
  return APR_SUCCESS;
}

/* The outcome of a connect that waited on a pool thread. */
apr_status_t pal__pipe_connected(pal_io_t *io, pal_req_t *req, DWORD err) {
  HANDLE h = ROS(req)->b.pw.h;
  apr_status_t rv = APR_SUCCESS;
  if (err)
    rv = pal__os_fail(err == ERROR_PIPE_BUSY ? "WaitNamedPipeW"
                                              : "CreateFileW",
                      err);
  else if ((rv = pal__io_port_add(io, h)) != APR_SUCCESS)
    CloseHandle(h);
  else
    io->fd = (pal_fd_t)h;
  return rv;
}

/* At the connect's packet: the name is no longer needed, and a handle the
 * pool thread opened as the io closed is closed. */
void pal__pipe_connect_free(pal_req_t *req, int closed) {
  free(ROS(req)->b.pw.name);
  ROS(req)->b.pw.name = NULL;
  if (closed && ROS(req)->b.pw.h != INVALID_HANDLE_VALUE)
    CloseHandle(ROS(req)->b.pw.h);   /* opened as we closed */
}

/* pal_io_close() while the pool thread waits: it gives up within a slice
 * and still posts the packet the connect owes. */
void pal__pipe_connect_cancel(pal_io_t *io) {
  InterlockedExchange(&ROS(io->connect_req)->b.pw.cancel, 1);
}

/* ---- 6. the read side --------------------------------------------------- */

/* One event per thread for pipe reads that must not post a packet (the
 * low bit of OVERLAPPED.hEvent); created on first use, kept for the
 * thread's life.  (Touching it may reset GetLastError(): mingw's TLS.) */
static _Thread_local HANDLE read_event;

/* A non-blocking read into buf: a ReadFile whose OVERLAPPED posts no
 * packet, cancelled if it would block. */
int pal__pipe_read(pal_io_t *io, const pal_buf_t *buf, DWORD len, size_t *n,
                   apr_status_t *rv) {
  DWORD e, got;
  HANDLE ev;
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
    if (!pal__is_intr(e))
      return pal__read_class(io, e, "ReadFile", rv);
  }
}

/* ---- 7. the peer check -------------------------------------------------- */

/* A local stream server's name, as it was given to bind. */
apr_status_t pal__pipe_sockname(const pal_io_t *io, pal_addr_t *addr) {
  const listener_t *l = (io->flags & PAL__F_SYNC) ? NULL
                      : ((const io_os_t *)(const void *)io->os)->ext;
  if (io->kind == PAL_IO_UNIX && l && l->path)
    return pal_addr_local(addr, l->path);
  return PAL_EUNSUPPORTED;
}

/* A named pipe client's account is a SID, not a uid: see
 * pal_io_peer_trusted(). */
/* No local datagram sockets here (pal_io_socket refuses them), so no
 * datagram sender to tell. */
apr_status_t pal_io_sender(const pal_io_t *io, long *pid, long *uid) {
  (void)io;
  (void)pid;
  (void)uid;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_io_peer_uid(const pal_io_t *io, long *uid) {
  (void)io;
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
    return pal__os_fail(call, e);
  if (!GetNamedPipeClientProcessId((HANDLE)io->fd, &pid))
    return pal__fail("GetNamedPipeClientProcessId");
  proc = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (!proc)
    return pal__fail("OpenProcess");
  if (!OpenProcessToken(proc, TOKEN_QUERY | TOKEN_DUPLICATE, &tok)) {
    e = GetLastError();
    CloseHandle(proc);
    return pal__os_fail("OpenProcessToken", e);
  }
  CloseHandle(proc);
  e = token_trusted(tok, trusted, &call);
  CloseHandle(tok);
  return e ? pal__os_fail(call, e) : APR_SUCCESS;
}
