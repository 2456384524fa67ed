/*
 * stream.c -- the I/O machinery every kind of io shares on the completion
 * port: packets, the read side, the write queue, close.
 *
 * Map:
 *   1. packets the PAL posts, and handles: open, fd_close
 *   2. the read side: a zero-byte read, then non-blocking reads
 *   3. the write side: the write queue, try_write, shutdown
 *   4. request packets: the connect, the head write
 *   5. packets: pal__io_completion()
 *   6. close and busy
 *
 * The read side of every kind is a zero-byte read that waits for data
 * without pinning a buffer (as libuv does): WSARecv on a socket (with
 * MSG_PEEK on a datagram socket), ReadFile on an overlapped pipe, the
 * worker's blocking ReadFile on a synchronous handle (thread_io.c).  Its
 * packet starts a batch of alloc_cb / non-blocking read / read_cb until
 * the read would block (the buffer is handed back with nread 0) or
 * PAL__READ_BATCH reads.
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
 * Writes go out one operation at a time from the head of the write queue:
 * WSASend on a stream socket, WSASendTo on a datagram socket (udp.c),
 * WriteFile on a pipe, the worker's WriteFile on a synchronous handle.
 */
#include "io_win32.h"
#include <limits.h>
#include <stdlib.h>

/* ---- 1. packets and handles --------------------------------------------- */

char pal__zero_buf[1];

DWORD pal__io_post(pal_io_t *io, OVERLAPPED *ov, DWORD tag, DWORD err) {
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

apr_status_t pal__io_port_add(pal_io_t *io, HANDLE h) {
  return pal__port_add(io->poll, h, PAL__KEY(io, PAL__KEY_IO));
}

apr_status_t pal_io_open(pal_io_t *io, pal_poll_t *p, int kind, pal_fd_t fd) {
  kind &= ~PAL_IO_PREPARED;   /* nothing to skip here */
  if (fd == PAL_INVALID_FD || fd == 0)
    return APR_EBADF;
  if (kind == PAL_IO_TCP || kind == PAL_IO_UDP)
    return pal__sock_open(io, p, kind, fd);
  if (kind != PAL_IO_PIPE && kind != PAL_IO_UNIX)
    return APR_EINVAL;
  return pal__pipe_open(io, p, kind, fd);
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

/* ---- 2. the read side --------------------------------------------------- */

/* Start the read side's operation: a zero-byte read that completes when
 * data, EOF or an error is there (a worker's blocking one for a
 * synchronous handle).  If it fails at once, its outcome is posted: an
 * injected would-block as "read now", anything else as the read's error.
 * Fails only if even that packet cannot be posted. */
apr_status_t pal__read_post(pal_io_t *io) {
  io_os_t *os = IOS(io);
  DWORD e;
  if (io->flags & (PAL__F_RPOSTED | PAL__F_CLOSED | PAL__F_INREAD) ||
      io->fd == PAL_INVALID_FD || io->connect_req)
    return APR_SUCCESS;   /* in flight, or after the connect or batch */
  if (io->flags & PAL__F_SYNC) {
    pal__ov_init(&os->rov, PAL__OV_READ);
    pal__worker_command(io, &os->rov, NULL, 0);
    io->flags |= PAL__F_RPOSTED;
    return APR_SUCCESS;
  }
  for (;;) {
    pal__ov_init(&os->rov, PAL__OV_READ);
    if (pal__is_sock(io)) {
      WSABUF b;
      DWORD flags = io->kind == PAL_IO_UDP ? MSG_PEEK : 0;
      b.len = 0;
      b.buf = pal__zero_buf;
      if (PAL__SYS(PAL_SYS_READ,
                   WSARecv(SOCK(io), &b, 1, NULL, &flags, &os->rov, NULL),
                   SOCKET_ERROR) == 0)
        e = 0;
      else if ((e = (DWORD)WSAGetLastError()) == WSA_IO_PENDING ||
               e == WSAEMSGSIZE)
        e = 0;   /* WSAEMSGSIZE: see below */
    } else {
      if (PAL__SYS(PAL_SYS_READ,
                   ReadFile(HND(io), pal__zero_buf, 0, NULL, &os->rov), FALSE))
        e = 0;
      else if ((e = GetLastError()) == ERROR_IO_PENDING ||
               e == ERROR_MORE_DATA)
        e = 0;
    }
    /* WSAEMSGSIZE (a datagram is there: the peek is too short) and
     * ERROR_MORE_DATA (a message-mode pipe) report a warning status,
     * STATUS_BUFFER_OVERFLOW, and unlike errors, warnings still queue
     * the packet: the read has started and completed. */
    if (!pal__is_intr(e))
      break;
  }
  if (e == 0) {
    os->ops++;   /* started: its packet will come, even on success */
  } else {
    if (pal__is_again(e))
      e = 0;
    if ((e = pal__io_post(io, &os->rov, PAL__OV_READ, e)) != 0)
      return pal__os_fail("PostQueuedCompletionStatus", e);
  }
  io->flags |= PAL__F_RPOSTED;
  return APR_SUCCESS;
}

/* What a read error means. */
int pal__read_class(const pal_io_t *io, DWORD e, const char *call,
                    apr_status_t *rv) {
  if (pal__is_again(e))
    return PAL__RD_AGAIN;
  if (!pal__is_sock(io) && pal__pipe_eof(e))
    return PAL__RD_EOF;
  *rv = pal__os_fail(call, e);
  return PAL__RD_ERR;
}

/* A non-blocking read into buf: recv() on a socket, else the pipe's
 * kind of read (pipe.c, thread_io.c). */
static int read_nb(pal_io_t *io, const pal_buf_t *buf, size_t *n,
                   apr_status_t *rv) {
  DWORD e, len;
  len = buf->len > PAL__CHUNK_MAX ? PAL__CHUNK_MAX : (DWORD)buf->len;
  *n = 0;
  if (!pal__is_sock(io)) {
    if (io->flags & PAL__F_SYNC)
      return pal__worker_read(io, buf, len, n, rv);
    return pal__pipe_read(io, buf, len, n, rv);
  }
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
    if (!pal__is_intr(e))
      return pal__read_class(io, e, "recv", rv);
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
      r = pal__read_class(io, first,
                          pal__is_sock(io) ? "WSARecv" : "ReadFile", &rv);
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
  if ((io->flags & PAL__F_READING) &&
      (rv = pal__read_post(io)) != APR_SUCCESS) {
    pal_buf_t none = {NULL, 0};
    io->flags &= ~PAL__F_READING;
    io->rcb.read(io, rv, 0, &none);
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
  if ((rv = pal__read_post(io)) != APR_SUCCESS)
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

/* ---- 3. the write side -------------------------------------------------- */

void pal__io_req_start(pal_req_t *req, pal_io_t *io, int type,
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

/* Start the operation for the head request of the write queue: 0 when
 * one is in flight (its packet will come), else the error with which the
 * request has failed. */
static DWORD write_post(pal_io_t *io, pal_req_t *req) {
  req_os_t *ros = ROS(req);
  for (;;) {
    size_t chunk = 0;
    DWORD e = 0;
    int early = 0;
    pal__ov_init(&ros->ov, PAL__OV_REQ);
    if (io->flags & PAL__F_SYNC) {
      const pal_buf_t *b = &req->bufs[req->bufidx];
      size_t len = b->len - req->bufoff;
      pal__worker_command(io, &ros->ov, b->base + req->bufoff,
                          len > PAL__CHUNK_MAX ? PAL__CHUNK_MAX : (DWORD)len);
      io->flags |= PAL__F_WPOSTED;
      return 0;
    }
    if (req->type == PAL_REQ_SEND) {
      e = pal__udp_send_post(io, req, &early);
    } else if (pal__is_sock(io)) {
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
    if (pal__is_intr(e))
      continue;
    if (pal__is_again(e)) {
      /* Cannot start now: retry on the next iteration. */
      if ((e = pal__io_post(io, &ros->ov, PAL__OV_REQ, 0)) != 0)
        return e;
      io->flags |= PAL__F_WPOSTED | PAL__F_WKICK;
      return 0;
    }
    return e;
  }
}

/* The head request failed: it completes with rv; on a stream, what is
 * queued behind it fails the same way (POSIX flush_writes()). */
static void fail_head(pal_io_t *io, apr_status_t rv) {
  pal_req_t *req = pal__writes_pop(io);
  pal__complete(io->poll, req, rv);
  if (req->type != PAL_REQ_SEND)
    pal__writes_complete_all(io, rv);
}

static apr_status_t write_fail(const pal_io_t *io, const pal_req_t *req,
                               DWORD e) {
  if (req->type == PAL_REQ_SEND)
    return pal__os_fail("WSASendTo", e);
  if (pal__is_sock(io))
    return pal__os_fail("WSASend", e);
  /* A pipe whose reader is gone says ERROR_NO_DATA, which APR would
   * take for EAGAIN: report it as the broken pipe it is. */
  if (e == ERROR_NO_DATA)
    e = ERROR_BROKEN_PIPE;
  return pal__os_fail("WriteFile", e);
}

static void do_shutdown(pal_io_t *io, pal_req_t *req) {
  apr_status_t rv = APR_SUCCESS;
  if (pal__is_sock(io)) {
    if (shutdown(SOCK(io), SD_SEND) == SOCKET_ERROR) {
      DWORD e = (DWORD)WSAGetLastError();
      if (e != WSAENOTCONN)
        rv = pal__os_fail("shutdown", e);
    }
  } else if (io->kind == PAL_IO_PIPE) {
    /* A plain pipe end: closing it is how its reader sees EOF.  An
     * operation still on it (a read) ends with a packet. */
    if (io->flags & PAL__F_SYNC)
      pal__worker_stop(io);
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
void pal__write_next(pal_io_t *io) {
  pal_req_t *req;
  while (!(io->flags & (PAL__F_WPOSTED | PAL__F_CLOSED)) && !io->connect_req &&
         (req = io->writes_head) != NULL) {
    DWORD e;
    if (req->type != PAL_REQ_SEND && req->bufidx >= req->nbufs) {
      pal__writes_pop(io);
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
  if (!io->writes_head && io->shutdown_req && !io->connect_req &&
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
  pal__io_req_start(req, io, PAL_REQ_WRITE, bufs, nbufs, cb);
  pal__req_advance(req, 0);   /* skip empty buffers */
  pal__writes_push(io, req);
  pal__write_next(io);
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
  if (io->writes_head || io->connect_req || (io->flags & PAL__F_WPOSTED) ||
      !pal__is_sock(io))
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
    if (pal__is_intr(e))
      continue;
    if (pal__is_again(e))
      return APR_EAGAIN;
    return pal__os_fail("WSASend", e);
  }
}

apr_status_t pal_io_shutdown(pal_io_t *io, pal_req_t *req, pal_req_cb cb) {
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if ((io->fd == PAL_INVALID_FD && !io->connect_req) ||
      (io->flags & PAL__F_SHUT))
    return APR_EPIPE;
  pal__io_req_start(req, io, PAL_REQ_SHUTDOWN, NULL, 0, cb);
  io->flags |= PAL__F_SHUT;
  io->shutdown_req = req;
  pal__write_next(io);   /* runs it now if nothing is queued */
  return APR_SUCCESS;
}

/* ---- 4. request packets ------------------------------------------------- */

/* The connect's packet: its outcome (pipe.c, tcp.c), then the reads and
 * writes that waited for it. */
static void connect_done(pal_io_t *io, pal_req_t *req, DWORD err,
                         int posted) {
  apr_status_t rv = io->kind == PAL_IO_UNIX
                        ? pal__pipe_connected(io, req, err)
                        : pal__tcp_connected(io, req, err, posted);
  io->connect_req = NULL;
  pal__complete(io->poll, req, rv);
  if (io->flags & (PAL__F_READING | PAL__F_RECVING)) {
    apr_status_t r = pal__read_post(io);   /* waited for the connect */
    if (r != APR_SUCCESS && (io->flags & PAL__F_READING)) {
      pal_buf_t none = {NULL, 0};
      io->flags &= ~PAL__F_READING;
      io->rcb.read(io, r, 0, &none);
    }
  }
  pal__write_next(io);
}

/* A request operation's packet: the connect, or the head write/send. */
static void req_done(pal_io_t *io, pal_req_t *req, DWORD bytes, DWORD err,
                     int posted) {
  unsigned fl = io->flags;
  io->flags &= ~(PAL__F_WPOSTED | PAL__F_WKICK | PAL__F_WEARLY);
  if (!(fl & PAL__F_WKICK))
    pal__udp_free_bufs(req);
  if (req->type == PAL_REQ_CONNECT && io->kind == PAL_IO_UNIX)
    pal__pipe_connect_free(req, (fl & PAL__F_CLOSED) != 0);
  if (fl & PAL__F_CLOSED) {
    pal__io_cancel_all(io);   /* they waited for this packet */
    return;
  }
  if (req->type == PAL_REQ_CONNECT) {
    connect_done(io, req, err, posted);
    return;
  }
  if (fl & PAL__F_WKICK) {
    pal__write_next(io);
    return;
  }
  if (err) {
    if (!posted && pal__is_sock(io))
      err = pal__sock_error(SOCK(io), &ROS(req)->ov, err);
    fail_head(io, write_fail(io, req, err));
    pal__write_next(io);
    return;
  }
  if (req->type == PAL_REQ_SEND)
    req->bufidx = req->nbufs;
  else if (!(fl & PAL__F_WEARLY))
    pal__req_advance(req, bytes);
  if (req->type == PAL_REQ_SEND || req->bufidx >= req->nbufs) {
    pal__writes_pop(io);
    pal__complete(io->poll, req, APR_SUCCESS);
  }
  pal__write_next(io);
}

/* ---- 5. packets --------------------------------------------------------- */

static void read_done(pal_io_t *io, DWORD err, int posted) {
  io->flags &= ~PAL__F_RPOSTED;
  if (io->flags & PAL__F_CLOSED)
    return;
  if (io->flags & PAL__F_LISTENING) {
    pal__listener_packet(io, err);
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
    pal__udp_recv(io, err);
  else if (io->flags & PAL__F_READING)
    do_read(io, err);
}

/* The heap state of a closed io that owes no packet any more. */
static void ext_free(pal_io_t *io) {
  void *ext = IOS(io)->ext;
  if (!ext)
    return;
  IOS(io)->ext = NULL;
  if (io->flags & PAL__F_SYNC)
    pal__worker_free(ext);
  else
    pal__listener_free(ext);
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
    pal__slot_packet(s, err, posted);
    break;
  }
  default:
    return;
  }
  if ((io->flags & PAL__F_CLOSED) && IOS(io)->ops == 0)
    ext_free(io);
}

/* ---- 6. close and busy -------------------------------------------------- */

void pal_io_close(pal_io_t *io) {
  if (io->flags & PAL__F_CLOSED)
    return;
  io->flags |= PAL__F_CLOSED;
  io->flags &= ~(PAL__F_READING | PAL__F_RECVING | PAL__F_LISTENING);
  if (io->flags & PAL__F_SYNC)
    pal__worker_stop(io);
  if (io->kind == PAL_IO_UNIX && io->connect_req &&
      (io->flags & PAL__F_WPOSTED))
    pal__pipe_connect_cancel(io);
  if (io->fd != PAL_INVALID_FD) {
    /* Every operation still on the handle ends with a packet
     * (ERROR_OPERATION_ABORTED); ops counts them. */
    CancelIoEx(HND(io), NULL);
    if (pal__is_sock(io))
      closesocket(SOCK(io));
    else
      CloseHandle(HND(io));
    io->fd = PAL_INVALID_FD;
  }
  pal__listener_close(io);
  /* A request whose OVERLAPPED is with the kernel keeps its owner's
   * memory until its packet; the cancellations wait for it so that they
   * stay in order. */
  if (!(io->flags & PAL__F_WPOSTED))
    pal__io_cancel_all(io);
  if (IOS(io)->ops == 0)
    ext_free(io);
}

int pal_io_busy(const pal_io_t *io) {
  return ((const io_os_t *)(const void *)io->os)->ops != 0;
}
