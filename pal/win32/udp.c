/*
 * udp.c -- datagram sockets on the completion port.
 *
 * Map:
 *   1. the socket: connection resets, the default peer
 *   2. receiving: a batch of recvfrom() per packet
 *   3. sending: WSASendTo
 *
 * Like TCP (tcp.c) but with a zero-byte WSARecv(MSG_PEEK) for the read
 * side, recvfrom() for the reads and WSASendTo for the sends.  A datagram
 * goes in one call, whole or not at all.
 */
#include "io_win32.h"

#include <limits.h>
#include <stdlib.h>

/* ---- 1. the socket ------------------------------------------------------ */

/* Do not fail the next recvfrom() with WSAECONNRESET because an earlier
 * datagram drew an ICMP port unreachable (POSIX does not). */
void pal__udp_socket_init(SOCKET s) {
  BOOL off = FALSE;
  DWORD n;
  WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &n, NULL, NULL);
}

/* A datagram socket's default peer: known at once. */
apr_status_t pal__udp_connect(pal_io_t *io, pal_req_t *req,
                              const pal_addr_t *addr, pal_req_cb cb) {
  apr_status_t rv = APR_SUCCESS;
  pal__io_req_start(req, io, PAL_REQ_CONNECT, NULL, 0, cb);
  if (connect(SOCK(io), (const struct sockaddr *)addr->u.bytes,
              (int)addr->len) == SOCKET_ERROR)
    rv = pal__wsafail("connect");
  pal__complete(io->poll, req, rv);
  return APR_SUCCESS;
}

/* ---- 2. receiving ------------------------------------------------------- */

/* A datagram socket's read-side packet (POSIX do_recv()): errors are
 * reported and receiving goes on. */
void pal__udp_recv(pal_io_t *io, DWORD first) {
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
      io->rcb.recv(io, pal__os_fail("WSARecv", first), 0, &buf, NULL);
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
    } while (r < 0 && pal__is_intr(e));
    if (r < 0 && e == WSAEMSGSIZE) {
      r = len;   /* truncated to the buffer, as POSIX recvfrom() does */
      e = 0;
    }
    if (r >= 0) {
      from.len = (unsigned)fromlen;
      io->rcb.recv(io, APR_SUCCESS, (size_t)r, &buf, &from);
    } else if (pal__is_again(e)) {
      io->rcb.recv(io, APR_SUCCESS, 0, &buf, NULL);
      break;
    } else {
      io->rcb.recv(io, pal__os_fail("recvfrom", e), 0, &buf, NULL);
      break;
    }
  }
  io->flags &= ~PAL__F_INREAD;
  if ((io->flags & PAL__F_RECVING) &&
      (rv = pal__read_post(io)) != APR_SUCCESS) {
    pal_buf_t none = {NULL, 0};
    io->rcb.recv(io, rv, 0, &none, NULL);
  }
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
  if ((rv = pal__read_post(io)) != APR_SUCCESS)
    io->flags &= ~PAL__F_RECVING;
  return rv;
}

apr_status_t pal_io_recv_stop(pal_io_t *io) {
  io->flags &= ~PAL__F_RECVING;
  return APR_SUCCESS;
}

/* ---- 3. sending --------------------------------------------------------- */

/* What the WSABUFs of a send of more than PAL__INLINE_BUFS buffers took,
 * freed once the operation is over. */
void pal__udp_free_bufs(pal_req_t *req) {
  if (req->type == PAL_REQ_SEND && req->nbufs > PAL__INLINE_BUFS) {
    free(ROS(req)->b.heap);
    ROS(req)->b.heap = NULL;
  }
}

/* Start a send's WSASendTo: every buffer in one call, as a datagram goes
 * whole.  0 when in flight (*early: it finished at once), else the
 * error. */
DWORD pal__udp_send_post(pal_io_t *io, pal_req_t *req, int *early) {
  req_os_t *ros = ROS(req);
  WSABUF *wb = ros->b.inl;
  unsigned i, n = req->nbufs ? req->nbufs : 1;
  const struct sockaddr *to = NULL;
  int tolen = 0;
  DWORD e = 0;
  if (n > PAL__INLINE_BUFS) {
    if (!(wb = ros->b.heap = malloc(n * sizeof *wb)))
      return ERROR_NOT_ENOUGH_MEMORY;
  }
  wb[0].buf = pal__zero_buf;
  wb[0].len = 0;
  for (i = 0; i < req->nbufs; i++) {
    if (req->bufs[i].len > ULONG_MAX) {
      pal__udp_free_bufs(req);
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
               WSASendTo(SOCK(io), wb, n, NULL, 0, to, tolen, &ros->ov, NULL),
               SOCKET_ERROR) == 0)
    *early = 1;
  else if ((e = (DWORD)WSAGetLastError()) == WSA_IO_PENDING)
    e = 0;
  if (e)
    pal__udp_free_bufs(req);
  return e;
}

apr_status_t pal_io_send(pal_io_t *io, pal_req_t *req, const pal_buf_t *bufs,
                         unsigned nbufs, const pal_addr_t *addr,
                         pal_req_cb cb) {
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd == PAL_INVALID_FD)
    return APR_EBADF;
  if (!pal__is_sock(io))
    return APR_ENOTSOCK;
  pal__io_req_start(req, io, PAL_REQ_SEND, bufs, nbufs, cb);
  req->addr = (pal_addr_t *)addr;
  pal__writes_push(io, req);
  pal__write_next(io);
  return APR_SUCCESS;
}
