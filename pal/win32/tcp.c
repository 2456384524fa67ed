/*
 * tcp.c -- sockets on the completion port: stream sockets with AcceptEx
 * and ConnectEx, and what datagram sockets share with them.
 *
 * Map:
 *   1. helpers: Winsock errors, extension functions
 *   2. sockets: open, socket, bind
 *   3. connect: ConnectEx
 *   4. listeners: listen, AcceptEx slots, the accepted socket
 *   5. addresses and options
 *
 * TCP sockets are overlapped and non-blocking.  Reads: a zero-byte
 * WSARecv, then recv() (stream.c).  Writes: WSASend.  Connect: ConnectEx
 * on a socket bound to the wildcard if it was not bound.  Listeners keep
 * PAL__TCP_ACCEPTS AcceptEx operations in flight (listen.c has the slots
 * and the ready FIFO).
 */
#include "io_win32.h"

#include <stdlib.h>

/* ---- 1. helpers --------------------------------------------------------- */

/* A failed socket operation's Winsock error (WSAECONNREFUSED rather than
 * the ERROR_CONNECTION_REFUSED its NTSTATUS maps to): APR's
 * APR_STATUS_IS_* tests know the Winsock codes. */
DWORD pal__sock_error(SOCKET s, OVERLAPPED *ov, DWORD err) {
  DWORD n, flags;
  if (WSAGetOverlappedResult(s, ov, &n, FALSE, &flags))
    return err;
  n = (DWORD)WSAGetLastError();
  return n ? n : err;
}

/* Extension functions, fetched once per process (every TCP provider
 * gives the same pointers) into *cache, and copied to *fn.  Kept as
 * void (*)(void), the type every function pointer converts to and back. */
typedef void (*ext_fn_t)(void);
static SRWLOCK ext_lock = SRWLOCK_INIT;
static ext_fn_t accept_ex_fn, connect_ex_fn;

static DWORD ext_function(SOCKET s, GUID id, ext_fn_t *cache, ext_fn_t *fn) {
  DWORD e = 0, n;
  AcquireSRWLockExclusive(&ext_lock);
  if (!*cache &&
      WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, cache,
               sizeof *cache, &n, NULL, NULL) == SOCKET_ERROR)
    e = (DWORD)WSAGetLastError();
  *fn = *cache;
  ReleaseSRWLockExclusive(&ext_lock);
  return e;
}

/* ---- 2. sockets --------------------------------------------------------- */

static apr_status_t set_nonblock(SOCKET s) {
  u_long on = 1;
  if (ioctlsocket(s, FIONBIO, &on) == SOCKET_ERROR)
    return pal__wsafail("ioctlsocket");
  return APR_SUCCESS;
}

apr_status_t pal__sock_open(pal_io_t *io, pal_poll_t *p, int kind,
                            pal_fd_t fd) {
  apr_status_t rv;
  if ((rv = set_nonblock((SOCKET)fd)) != APR_SUCCESS)
    return rv;
  SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, 0);
  pal__io_init(io, p, kind, fd);
  return pal__io_port_add(io, (HANDLE)fd);
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
    if (pal__is_intr(*err))
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
    pal__io_init(io, p, kind, PAL_INVALID_FD);
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
    return pal__os_fail("WSASocketW", e);
  if ((rv = set_nonblock(s)) != APR_SUCCESS)
    goto fail_sock;
  if (kind == PAL_IO_UDP)
    pal__udp_socket_init(s);
  pal__io_init(io, p, kind, (pal_fd_t)s);
  if ((rv = pal__io_port_add(io, (HANDLE)s)) != APR_SUCCESS)
    goto fail_port;
  return APR_SUCCESS;

fail_port:
  io->fd = PAL_INVALID_FD;
fail_sock:
  closesocket(s);
  return rv;
}

apr_status_t pal_io_bind(pal_io_t *io, const pal_addr_t *addr,
                         unsigned flags) {
  const struct sockaddr *sa = (const void *)addr->u.bytes;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->kind == PAL_IO_UNIX)
    return pal__pipe_bind(io, addr);
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

/* ---- 3. connect --------------------------------------------------------- */

apr_status_t pal_io_connect(pal_io_t *io, pal_req_t *req,
                            const pal_addr_t *addr, pal_req_cb cb) {
  req_os_t *ros = ROS(req);
  GUID id = WSAID_CONNECTEX;
  LPFN_CONNECTEX connect_ex;
  ext_fn_t fn;
  DWORD e;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->connect_req)
    return PAL_EBUSY;
  if (io->kind == PAL_IO_UNIX)
    return pal__pipe_connect(io, req, addr, cb);
  if (io->fd == PAL_INVALID_FD)
    return APR_EBADF;
  if (io->kind != PAL_IO_TCP)
    return pal__udp_connect(io, req, addr, cb);
  pal__io_req_start(req, io, PAL_REQ_CONNECT, NULL, 0, cb);
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
  if ((e = ext_function(SOCK(io), id, &connect_ex_fn, &fn)) != 0) {
    pal__complete(io->poll, req, pal__os_fail("WSAIoctl", e));
    return APR_SUCCESS;
  }
  connect_ex = (LPFN_CONNECTEX)fn;
  for (;;) {
    pal__ov_init(&ros->ov, PAL__OV_REQ);
    if (PAL__SYS(PAL_SYS_CONNECT,
                 connect_ex(SOCK(io), (const struct sockaddr *)addr->u.bytes,
                            (int)addr->len, NULL, 0, NULL, &ros->ov),
                 FALSE) ||
        (e = (DWORD)WSAGetLastError()) == WSA_IO_PENDING)
      break;
    if (!pal__is_intr(e)) {
      pal__complete(io->poll, req, pal__os_fail("ConnectEx", e));
      return APR_SUCCESS;
    }
  }
  io->connect_req = req;
  io->flags |= PAL__F_WPOSTED;
  IOS(io)->ops++;
  return APR_SUCCESS;
}

/* ConnectEx's packet: the outcome, and the connected socket's context
 * (getpeername() and shutdown() need it). */
apr_status_t pal__tcp_connected(pal_io_t *io, pal_req_t *req, DWORD err,
                                int posted) {
  if (err) {
    if (!posted)
      err = pal__sock_error(SOCK(io), &ROS(req)->ov, err);
    return pal__os_fail("ConnectEx", err);
  }
  if (setsockopt(SOCK(io), SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0) ==
      SOCKET_ERROR)
    return pal__wsafail("setsockopt");
  return APR_SUCCESS;
}

/* ---- 4. listeners ------------------------------------------------------- */

/* listen(), and a listener with PAL__TCP_ACCEPTS slots for the socket's
 * family. */
apr_status_t pal__tcp_listen(pal_io_t *io, int backlog, listener_t **lp) {
  GUID id = WSAID_ACCEPTEX;
  listener_t *l;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  ext_fn_t fn;
  DWORD e;
  if (io->fd == PAL_INVALID_FD)
    return APR_EBADF;
  if (listen(SOCK(io), backlog) == SOCKET_ERROR)
    return pal__wsafail("listen");
  if (getsockname(SOCK(io), (struct sockaddr *)&ss, &len) == SOCKET_ERROR)
    return pal__wsafail("getsockname");
  if (!(l = pal__listener_new(io, PAL__TCP_ACCEPTS)))
    return APR_ENOMEM;
  if ((e = ext_function(SOCK(io), id, &accept_ex_fn, &fn)) != 0) {
    pal__listener_free(l);
    return pal__os_fail("WSAIoctl", e);
  }
  l->accept_ex = (LPFN_ACCEPTEX)fn;
  l->lsock = SOCK(io);
  l->family = ss.ss_family;
  *lp = l;
  return APR_SUCCESS;
}


/* Start a slot's AcceptEx on a new socket.  0 when it is in flight (or
 * its result is posted), else the error (the slot stays idle). */
DWORD pal__tcp_slot_post(pal_io_t *io, slot_t *s) {
  listener_t *l = LST(io);
  DWORD e, n;
  SOCKET a = new_socket(l->family, SOCK_STREAM, IPPROTO_TCP, &e);
  if (a == INVALID_SOCKET)
    return e;
  for (;;) {
    pal__ov_init(&s->ov, PAL__OV_SLOT);
    if (PAL__SYS(PAL_SYS_ACCEPT,
                 l->accept_ex(l->lsock, a, s->addrs, 0, PAL__ADDRLEN,
                              PAL__ADDRLEN, &n, &s->ov),
                 FALSE) ||
        (e = (DWORD)WSAGetLastError()) == WSA_IO_PENDING)
      break;
    if (pal__is_intr(e))
      continue;
    if (pal__is_again(e)) {
      /* Cannot start now: the slot's packet retries it. */
      s->fd = (pal_fd_t)a;
      if ((e = pal__io_post(io, &s->ov, PAL__OV_SLOT, e)) != 0) {
        pal__slot_close(io, s);
        return e;
      }
      s->state = PAL__SLOT_POSTED;
      return 0;
    }
    closesocket(a);
    return e;
  }
  s->fd = (pal_fd_t)a;
  s->state = PAL__SLOT_POSTED;
  IOS(io)->ops++;
  return 0;
}

/* A slot's packet: the accepted socket takes the listener's context, or
 * the error goes to conn_cb -- but a connection reset before it was
 * taken is dropped quietly, as POSIX retries ECONNABORTED.  Nonzero when
 * the slot brought no connection. */
int pal__tcp_slot_failed(pal_io_t *io, slot_t *s, DWORD err, int posted) {
  listener_t *l = LST(io);
  if (err && !posted)
    err = pal__sock_error(l->lsock, &s->ov, err);
  if (!err && setsockopt((SOCKET)s->fd, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                         (char *)&l->lsock, sizeof l->lsock) == SOCKET_ERROR)
    err = WSAECONNABORTED;
  if (!err)
    return 0;
  pal__slot_close(io, s);
  if (err != WSAECONNRESET && err != WSAECONNABORTED &&
      err != ERROR_NETNAME_DELETED && !pal__is_again(err))
    io->conn_cb(io, pal__os_fail("AcceptEx", err));
  return 1;
}

/* An accepted socket for its new io. */
apr_status_t pal__tcp_accepted(pal_io_t *client, pal_fd_t fd) {
  apr_status_t rv;
  if ((rv = set_nonblock((SOCKET)fd)) == APR_SUCCESS)
    rv = pal__io_port_add(client, (HANDLE)fd);
  if (rv != APR_SUCCESS) {
    closesocket((SOCKET)fd);
    client->fd = PAL_INVALID_FD;
  }
  return rv;
}

/* ---- 5. addresses and options ------------------------------------------ */

apr_status_t pal_io_sockname(const pal_io_t *io, pal_addr_t *addr) {
  int len = (int)sizeof addr->u.bytes;
  memset(addr, 0, sizeof *addr);
  if (!pal__is_sock(io))
    return pal__pipe_sockname(io, addr);
  if (getsockname(SOCK(io), (struct sockaddr *)addr->u.bytes, &len) ==
      SOCKET_ERROR)
    return pal__wsafail("getsockname");
  addr->len = (unsigned)len;
  return APR_SUCCESS;
}

apr_status_t pal_io_peername(const pal_io_t *io, pal_addr_t *addr) {
  int len = (int)sizeof addr->u.bytes;
  memset(addr, 0, sizeof *addr);
  if (!pal__is_sock(io))
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
