/*
 * io.c -- completion-style streams and datagram sockets on a readiness
 * backend (epoll, kqueue).
 *
 * Map:
 *   1. descriptors: non-blocking and close-on-exec flags, open, socket,
 *      bind, pipe, fd_close
 *   2. interest: the one function that talks to the backend, and only
 *      when the wanted interest differs from what is registered
 *   3. readiness dispatch: read / recv / accept side (with the spare
 *      descriptor that sheds connections at EMFILE), connect completion,
 *      then the write side
 *   4. requests: writes, sends, connect and shutdown, tried at submit
 *      time, queued when the descriptor is full, completed through
 *      pal__complete(); listen, accept and read / recv start and stop,
 *      which only change the interest
 *   5. close and busy; addresses, options and the peer checks of a local
 *      stream
 *
 * Invariants:
 *   - io->events is the interest registered with the backend; 0 means
 *     not registered (an empty interest set is removed, because epoll
 *     reports HUP/ERR even for it and a level-triggered HUP would spin).
 *   - No user callback runs from a submitting call: a write that succeeds
 *     at once is still delivered by the completion phase.
 *   - After a callback, the io may have been closed (PAL__F_CLOSED); every
 *     loop below re-checks before touching the descriptor again.
 */
#include "pal_posix.h"

#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

/* Flags of this backend, above the shared ones of pal_common.h. */
enum {
  PAL__F_PASSCRED = PAL__F_BACKEND << 0,  /* bound with PAL_BIND_PASSCRED */
  PAL__F_CRED = PAL__F_BACKEND << 1,      /* SENDER_*: the datagram being
                                             delivered */
  PAL__F_RSUB = PAL__F_BACKEND << 2,      /* a completion read or no-op is
                                             in flight */
  PAL__F_RPOLL = PAL__F_BACKEND << 3,     /* the next read waits for
                                             readiness (section 3b) */
  PAL__F_RCANCEL = PAL__F_BACKEND << 4,   /* reading stopped: the read in
                                             flight is being cancelled */
  PAL__F_RING = PAL__F_BACKEND << 5,      /* read through completions
                                             (ring_reads(), section 3b) */
  PAL__F_EDGE = PAL__F_BACKEND << 6,      /* its interest may be
                                             edge-triggered (section 2) */
  PAL__F_SOCK = PAL__F_BACKEND << 7       /* a stream socket: recv(2) and
                                             send(2), see sock_read() */
};

/* os[0] of a listener: an accepted descriptor the owner has not taken. */
#define PENDING_FD(io) ((io)->os[0])
/* os[1], os[2] of a datagram socket with PAL__F_CRED: the sender's pid
 * and uid, valid while its datagram's recv callback runs. */
#define SENDER_PID(io) ((io)->os[1])
#define SENDER_UID(io) ((io)->os[2])
/* os[3..7] of a stream read through completions (section 3b): the slot
 * of the read in flight (-1 once its last result is out of the kernel),
 * and what was read but not yet delivered: a queue of the backend's
 * buffers (RD_BID first, -1: empty; RD_TAIL last) with the offset of the
 * unread part of the first, then an end (APR_EOF or an error). */
#define RD_SLOT(io) ((io)->os[3])
#define RD_BID(io) ((io)->os[4])
#define RD_OFF(io) ((io)->os[5])
#define RD_TAIL(io) ((io)->os[6])
#define RD_STATUS(io) ((io)->os[7])

/* ---- 1. descriptors --------------------------------------------------- */

apr_status_t pal__set_nonblock(int fd, int on) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return pal__fail("fcntl");
  if (((fl & O_NONBLOCK) != 0) == (on != 0))
    return APR_SUCCESS;   /* already so (pal_pipe's ends, accept4's) */
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, fl) < 0)
    return pal__fail("fcntl");
  return APR_SUCCESS;
}

apr_status_t pal__set_cloexec(int fd, int on) {
  int fl = fcntl(fd, F_GETFD);
  if (fl < 0)
    return pal__fail("fcntl");
  if (((fl & FD_CLOEXEC) != 0) == (on != 0))
    return APR_SUCCESS;
  fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
  if (fcntl(fd, F_SETFD, fl) < 0)
    return pal__fail("fcntl");
  return APR_SUCCESS;
}

static int ring_reads(const pal_io_t *io);

static void io_init(pal_io_t *io, pal_poll_t *p, int kind, int fd) {
  pal__io_init(io, p, kind, fd);
  PENDING_FD(io) = -1;
  RD_SLOT(io) = RD_BID(io) = -1;
  RD_STATUS(io) = 0;
  if (ring_reads(io))
    io->flags |= PAL__F_RING;
  else if (kind == PAL_IO_TCP)
    io->flags |= PAL__F_EDGE;
  if (kind == PAL_IO_TCP || kind == PAL_IO_UNIX)
    io->flags |= PAL__F_SOCK;
}

/* A stream socket is read and written with recv(2) and send(2), which go
 * straight to the socket layer: read(2) and write(2) take the file
 * system's path first (access checks, fsnotify), a measurable part of a
 * small message's cost.  A descriptor that turns out not to be a socket
 * falls back to read(2) and write(2) for good. */
#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL   /* EPIPE, never SIGPIPE */
#else
#define SEND_FLAGS 0              /* SIGPIPE is ignored (poll.c) */
#endif

static ssize_t sock_read(pal_io_t *io, void *buf, size_t len) {
  if (io->flags & PAL__F_SOCK) {
    ssize_t n = recv((int)io->fd, buf, len, 0);
    if (n >= 0 || errno != ENOTSOCK)
      return n;
    io->flags &= ~PAL__F_SOCK;
  }
  return read((int)io->fd, buf, len);
}

static ssize_t sock_write(pal_io_t *io, const void *buf, size_t len) {
  if (io->flags & PAL__F_SOCK) {
    ssize_t n = send((int)io->fd, buf, len, SEND_FLAGS);
    if (n >= 0 || errno != ENOTSOCK)
      return n;
    io->flags &= ~PAL__F_SOCK;
  }
  return write((int)io->fd, buf, len);
}

apr_status_t pal_io_open(pal_io_t *io, pal_poll_t *p, int kind, pal_fd_t fd) {
  apr_status_t rv;
  if (fd < 0)
    return APR_EBADF;
  /* pal_pipe()'s end is both already: four fcntl() calls a spawn saved. */
  if (!(kind & PAL_IO_PREPARED)) {
    if ((rv = pal__set_nonblock((int)fd, 1)) != APR_SUCCESS)
      return rv;
    if ((rv = pal__set_cloexec((int)fd, 1)) != APR_SUCCESS)
      return rv;
  }
  io_init(io, p, kind & ~PAL_IO_PREPARED, (int)fd);
  return APR_SUCCESS;
}

static int family_to_domain(int family) {
  switch (family) {
  case PAL_AF_INET: return AF_INET;
  case PAL_AF_INET6: return AF_INET6;
  case PAL_AF_UNIX: return AF_UNIX;
  default: return -1;
  }
}

apr_status_t pal_io_socket(pal_io_t *io, pal_poll_t *p, int kind,
                           int family) {
  int domain, type, fd = -1;
  apr_status_t rv;
  if (kind == PAL_IO_UNIX || kind == PAL_IO_UNIXDGRAM)
    family = PAL_AF_UNIX;
  domain = family_to_domain(family);
  if (domain < 0)
    return APR_EINVAL;
  type = (kind == PAL_IO_UDP || kind == PAL_IO_UNIXDGRAM) ? SOCK_DGRAM
                                                          : SOCK_STREAM;
  if ((rv = pal__socket(domain, type, &fd)) != APR_SUCCESS)
    return rv;
  io_init(io, p, kind, fd);
  return APR_SUCCESS;
}

apr_status_t pal__socket(int domain, int type, int *out) {
  int fd;
#ifdef PAL_HAVE_SOCK_CLOEXEC
  fd = PAL__SYS(PAL_SYS_SOCKET,
                socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd < 0)
    return pal__fail("socket");
#else
  fd = PAL__SYS(PAL_SYS_SOCKET, socket(domain, type, 0));
  if (fd < 0)
    return pal__fail("socket");
  if (pal__set_nonblock(fd, 1) || pal__set_cloexec(fd, 1)) {
    apr_status_t rv = pal_err_from_os(errno);
    close(fd);
    return rv;
  }
#endif
  *out = fd;
  return APR_SUCCESS;
}

apr_status_t pal_io_bind(pal_io_t *io, const pal_addr_t *addr,
                         unsigned flags) {
  const struct sockaddr *sa = (const struct sockaddr *)addr->u.bytes;
  int on = 1;
  if (io->fd < 0)
    return APR_EBADF;
  if ((flags & PAL_BIND_REUSEADDR) && sa->sa_family != AF_UNIX)
    if (setsockopt((int)io->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on))
      return pal__fail("setsockopt");
  if (sa->sa_family == AF_INET6) {
    int v6only = (flags & PAL_BIND_IPV6ONLY) != 0;
    setsockopt((int)io->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
               sizeof v6only);
  }
#if defined(PAL_HAVE_SCM_CREDENTIALS)
  /* Before bind: no datagram may arrive without its credentials. */
  if ((flags & PAL_BIND_PASSCRED) && sa->sa_family == AF_UNIX) {
    if (setsockopt((int)io->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on))
      return pal__fail("setsockopt");
    io->flags |= PAL__F_PASSCRED;
  }
#endif
  if (bind((int)io->fd, sa, (socklen_t)addr->len) < 0)
    return pal__fail("bind");
  return APR_SUCCESS;
}

apr_status_t pal_pipe(pal_fd_t fds[2], int child_end) {
  int p[2];
  apr_status_t rv;
#ifdef PAL_HAVE_PIPE2
  if (pipe2(p, O_CLOEXEC) < 0)
    return pal__fail("pipe2");
#else
  if (pipe(p) < 0)
    return pal__fail("pipe");
  pal__set_cloexec(p[0], 1);
  pal__set_cloexec(p[1], 1);
#endif
  /* The parent's end is non-blocking; the child's end stays blocking,
   * as programs expect of their standard descriptors.  A new pipe's ends
   * have no status flag yet, so O_NONBLOCK is set without reading them. */
  if (fcntl(p[child_end ? 0 : 1], F_SETFL, O_NONBLOCK) < 0) {
    rv = pal__fail("fcntl");
    close(p[0]);
    close(p[1]);
    return rv;
  }
  fds[0] = p[0];
  fds[1] = p[1];
  return APR_SUCCESS;
}

void pal_fd_close(pal_fd_t fd) {
  if (fd >= 0)
    close((int)fd);
}

/* ---- 2. interest ------------------------------------------------------ */

/* Is io read through the backend's completions (io_uring)?  Streams
 * only: a datagram's recv needs its sender, and pipes (io_uring honours
 * O_NONBLOCK on them: a read would only say EAGAIN) wait for readiness. */
static int ring_reads(const pal_io_t *io) {
  return io->poll->be->read_submit &&
         (io->kind == PAL_IO_TCP || io->kind == PAL_IO_UNIX);
}

static apr_status_t read_submit(pal_io_t *io);

/* A completion read to start or to cancel as reading starts or stops. */
static void ring_interest(pal_io_t *io) {
  if ((io->flags & PAL__F_READING) && !(io->flags & PAL__F_RPOLL)) {
    if (!(io->flags & PAL__F_RSUB) && read_submit(io) != APR_SUCCESS)
      io->flags |= PAL__F_RPOLL;   /* fall back to readiness */
  } else if (!(io->flags & PAL__F_READING) &&
             (io->flags & (PAL__F_RSUB | PAL__F_RCANCEL)) == PAL__F_RSUB &&
             RD_SLOT(io) >= 0) {
    /* Stopped: keep no more bytes than are in flight already. */
    io->poll->be->read_cancel(io->poll, RD_SLOT(io), 0);
    io->flags |= PAL__F_RCANCEL;
  }
}

/* Bring the registered interest in line with what the io wants.  Fails
 * only if the backend refuses the descriptor (a regular file on epoll,
 * ENOMEM); the caller then undoes what it asked for and reports it.
 *
 * Edge triggering (PAL__EDGE) is asked for a TCP stream on a readiness
 * backend (PAL__F_EDGE): do_read() reads it until a read proves it
 * drained, flush_writes() writes until the kernel is full (which arms
 * its wake-up for space), the 32-read batch re-arms it, and every change
 * of interest reports the current readiness again.  Not for listeners
 * (an accept failing with EMFILE leaves connections in the backlog),
 * pipes (a terminal's read stops at a line end with more buffered),
 * local streams (a read stops after the bytes that carried descriptors)
 * or datagrams; not on a completion backend either, whose readiness
 * serves only writes and the rare fallback read. */
static apr_status_t update_interest(pal_io_t *io) {
  unsigned want = 0, flags = io->flags;
  apr_status_t rv;
  if (io->fd < 0 || (flags & PAL__F_CLOSED))
    return APR_SUCCESS;
  if (flags & PAL__F_RING) {
    ring_interest(io);
    flags = io->flags;
  }
  if ((flags & (PAL__F_READING | PAL__F_RSUB)) == PAL__F_READING ||
      (flags & PAL__F_RECVING) ||
      ((flags & PAL__F_LISTENING) && PENDING_FD(io) < 0))
    want = PAL__IN;
  if (io->writes_head || io->connect_req)
    want |= PAL__OUT;
  if (want && (flags & (PAL__F_EDGE | PAL__F_LISTENING)) == PAL__F_EDGE)
    want |= PAL__EDGE;
  if (want == io->events)
    return APR_SUCCESS;
  if (want == 0) {
    pal__unwatch(io->poll, (int)io->fd, PAL__TOKEN(io, PAL__TOK_IO));
  } else if (io->events == 0) {
    rv = pal__poll_add(io->poll, (int)io->fd, want,
                       PAL__TOKEN(io, PAL__TOK_IO));
    if (rv != APR_SUCCESS)
      return rv;   /* events stays 0: nothing registered */
  } else {
    rv = pal__poll_modify(io->poll, (int)io->fd, want,
                          PAL__TOKEN(io, PAL__TOK_IO));
    if (rv != APR_SUCCESS)
      return rv;
  }
  io->events = want;
  return APR_SUCCESS;
}

/* ---- 3. readiness ------------------------------------------------------ */

static void deliver(pal_io_t *io);

/* The owner's buffer for the next bytes: 1, or 0 when it stopped reading
 * in alloc_cb or gave no buffer (then told APR_ENOMEM, reading off). */
static int read_buf(pal_io_t *io, pal_buf_t *buf) {
  io->alloc_cb(io, PAL__SUGGESTED, buf);
  if (!(io->flags & PAL__F_READING))
    return 0;
  if (buf->base == NULL || buf->len == 0) {
    io->flags &= ~PAL__F_READING;
    io->rcb.read(io, APR_ENOMEM, 0, buf);
    return 0;
  }
  return 1;
}

/* Report an edge-triggered io again at the next wait, its bytes being
 * left in the kernel (a modify re-reads the descriptor's state). */
static void rearm(pal_io_t *io) {
  int e = errno;
  if ((io->events & PAL__EDGE) && !(io->flags & PAL__F_CLOSED))
    (void)pal__poll_modify(io->poll, (int)io->fd, io->events,
                           PAL__TOKEN(io, PAL__TOK_IO));
  errno = e;
}

/* Read for as long as the owner reads, up to a batch.  A read shorter
 * than its buffer drained the descriptor (the next bytes are a new event,
 * edge-triggered or not) unless the event also said the peer shut down
 * (the end of the stream waits behind the bytes), an error, or urgent
 * data (TCP stops a read at its mark): then read on until the kernel
 * says EAGAIN.  Returns 1 if reading stopped (the interest changes). */
static int do_read(pal_io_t *io, unsigned events) {
  int count = PAL__READ_BATCH;
  int short_drains = !(events & (PAL__HUP | PAL__ERR | PAL__PRI));
  if (RD_BID(io) >= 0 || RD_STATUS(io))
    deliver(io);   /* what a completion read got comes first */
  while ((io->flags & PAL__F_READING) && count-- > 0) {
    pal_buf_t buf = {NULL, 0};
    ssize_t n;
    if (!read_buf(io, &buf))
      return 1;
    do {
      if (PAL__UNLIKELY(pal__faults_armed) && pal__fault_hit(PAL_SYS_READ)) {
        /* An injected failure leaves the bytes in the kernel, where a
         * real EAGAIN proves there are none: as if they came after. */
        rearm(io);
        n = -1;
      } else {
        n = sock_read(io, buf.base, buf.len);
      }
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      io->rcb.read(io, APR_SUCCESS, (size_t)n, &buf);
      if ((size_t)n < buf.len && short_drains)
        break;   /* drained: skip the read that would say EAGAIN */
    } else if (n == 0) {
      io->flags &= ~PAL__F_READING;
      io->rcb.read(io, APR_EOF, 0, &buf);
      return 1;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      io->rcb.read(io, APR_SUCCESS, 0, &buf);
      break;
    } else {
      apr_status_t rv = pal__fail("read");
      io->flags &= ~PAL__F_READING;
      io->rcb.read(io, rv, 0, &buf);
      return 1;
    }
  }
  if (!(io->flags & PAL__F_READING))
    return 1;
  if (count < 0)
    rearm(io);   /* the batch is used up, with bytes maybe left */
  return 0;
}

/* One datagram into buf; with PAL__F_PASSCRED, its sender's credentials
 * into SENDER_* (and PAL__F_CRED set) when the kernel attached them. */
static ssize_t recv_one(pal_io_t *io, const pal_buf_t *buf, pal_addr_t *from,
                        socklen_t *slen) {
#if defined(PAL_HAVE_SCM_CREDENTIALS)
  if (io->flags & PAL__F_PASSCRED) {
    /* Room for the credentials only: descriptors a sender attaches
     * (SCM_RIGHTS) do not fit, so the kernel drops them (MSG_CTRUNC)
     * instead of opening them in this process. */
    union {
      struct cmsghdr align;
      char bytes[CMSG_SPACE(sizeof(struct ucred))];
    } ctl;
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *c;
    ssize_t n;
    io->flags &= ~PAL__F_CRED;
    iov.iov_base = buf->base;
    iov.iov_len = buf->len;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = from->u.bytes;
    msg.msg_namelen = *slen;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.bytes;
    msg.msg_controllen = sizeof ctl.bytes;
    n = PAL__SYS(PAL_SYS_RECVFROM,
                 recvmsg((int)io->fd, &msg, MSG_CMSG_CLOEXEC));
    if (n < 0)
      return n;
    *slen = msg.msg_namelen;
    for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
          c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        SENDER_PID(io) = (intptr_t)cred.pid;
        SENDER_UID(io) = (intptr_t)cred.uid;
        io->flags |= PAL__F_CRED;
      }
    return n;
  }
#endif
  return PAL__SYS(PAL_SYS_RECVFROM,
                  recvfrom((int)io->fd, buf->base, buf->len, 0,
                           (struct sockaddr *)from->u.bytes, slen));
}

static void do_recv(pal_io_t *io) {
  int count = PAL__READ_BATCH;
  while ((io->flags & PAL__F_RECVING) && count-- > 0) {
    pal_buf_t buf = {NULL, 0};
    pal_addr_t from;
    socklen_t slen = sizeof from.u.bytes;
    ssize_t n;
    io->alloc_cb(io, PAL__SUGGESTED, &buf);
    if (!(io->flags & PAL__F_RECVING))
      return;
    if (buf.base == NULL || buf.len == 0) {
      io->flags &= ~PAL__F_RECVING;
      io->rcb.recv(io, APR_ENOMEM, 0, &buf, NULL);
      return;
    }
    memset(&from, 0, sizeof from);
    do
      n = recv_one(io, &buf, &from, &slen);
    while (n < 0 && errno == EINTR);
    if (n >= 0) {
      from.len = (unsigned)slen;
      io->rcb.recv(io, APR_SUCCESS, (size_t)n, &buf, &from);
      io->flags &= ~PAL__F_CRED;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      io->rcb.recv(io, APR_SUCCESS, 0, &buf, NULL);
      return;
    } else {
      io->rcb.recv(io, pal__fail("recvfrom"), 0, &buf, NULL);
      return;
    }
  }
}

/* A descriptor kept in reserve for EMFILE: when the process is out of
 * descriptors, a level-triggered listener would report the same pending
 * connection forever.  Give the reserve back, accept and drop what is
 * pending (the peers see a reset instead of hanging), take it again, and
 * tell the owner once. */
static atomic_int reserve_fd = -1;

static void reserve_open(void) {
  int expected = -1;
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && !atomic_compare_exchange_strong(&reserve_fd, &expected, fd))
    close(fd);
}

static void shed_connections(pal_io_t *io) {
  int fd = atomic_exchange(&reserve_fd, -1);
  if (fd < 0)
    return;
  close(fd);
  for (;;) {
    int c = accept((int)io->fd, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    close(c);
  }
  reserve_open();
}

static void do_accept(pal_io_t *io) {
  while ((io->flags & PAL__F_LISTENING) && PENDING_FD(io) < 0) {
    int fd;
#ifdef PAL_HAVE_ACCEPT4
#define PAL__ACCEPT_N "accept4"
    fd = PAL__SYS(PAL_SYS_ACCEPT, accept4((int)io->fd, NULL, NULL,
                                          SOCK_NONBLOCK | SOCK_CLOEXEC));
#else
#define PAL__ACCEPT_N "accept"
    fd = PAL__SYS(PAL_SYS_ACCEPT, accept((int)io->fd, NULL, NULL));
    if (fd >= 0 && (pal__set_nonblock(fd, 1) || pal__set_cloexec(fd, 1))) {
      close(fd);
      continue;
    }
#endif
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return;
      {
        apr_status_t rv = pal__fail(PAL__ACCEPT_N);
        if (errno == EMFILE || errno == ENFILE)
          shed_connections(io);
        io->conn_cb(io, rv);
      }
      return;
    }
    PENDING_FD(io) = fd;
    io->conn_cb(io, APR_SUCCESS);
  }
}

static inline apr_status_t write_req(pal_io_t *io, pal_req_t *req);
static void flush_writes(pal_io_t *io);

static void finish_connect(pal_io_t *io) {
  pal_req_t *req = io->connect_req;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt((int)io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err == EINPROGRESS)
    return;   /* spurious */
  io->connect_req = NULL;
  pal__complete(io->poll, req,
                err ? (pal__last_call = "connect", pal_err_from_os(err))
                    : APR_SUCCESS);
}

/* Serve an event: the read side, then the write side, then the interest
 * if the PAL changed what it needs.  (What the owner changes from its
 * callbacks -- reading, writing, accepting -- updated the interest
 * already, so a stream that keeps reading skips the recomputation.) */
void pal__io_ready(pal_io_t *io, unsigned events) {
  int changed = 0;
  if (events & (PAL__IN | PAL__ERR | PAL__HUP | PAL__PRI)) {
    if (io->flags & PAL__F_READING) {
      /* Never beside a completion read in flight: bytes would be
       * delivered out of order. */
      if (!(io->flags & PAL__F_RSUB)) {
        changed = do_read(io, events);
        if (io->flags & PAL__F_RPOLL) {
          io->flags &= ~PAL__F_RPOLL;   /* back to completion reads */
          changed = 1;
        }
      }
    } else if (io->flags & PAL__F_RECVING) {
      do_recv(io);
      changed = 1;
    } else if (io->flags & PAL__F_LISTENING) {
      do_accept(io);
      changed = 1;
    }
  }
  if (io->flags & PAL__F_CLOSED)
    return;
  if (events & (PAL__OUT | PAL__ERR | PAL__HUP)) {
    if (io->connect_req)
      finish_connect(io);
    if (!io->connect_req && (io->writes_head || io->shutdown_req))
      flush_writes(io);
    changed = 1;
  }
  if (changed)
    (void)update_interest(io);
}

/* ---- 3b. completion reads ---------------------------------------------- */

/* On a completion backend (io_uring) a reading stream has one multishot
 * read in flight: the kernel fills one of the backend's buffers each
 * time bytes arrive, so no buffer of the owner is held while nothing
 * comes, and alloc_cb is called only when there are bytes to copy, as on
 * a readiness backend.  Bytes are queued (RD_*) and handed over while the
 * owner reads.  read_stop cancels the read; what completes meanwhile is
 * kept and delivered first when reading starts again, through a no-op
 * that completes at the next wait, never from pal_io_read_start()
 * itself.  EAGAIN (the kernel may say so for an O_NONBLOCK socket) and
 * ENOBUFS (every buffer is taken) fall back to readiness for one round
 * (PAL__F_RPOLL). */

static apr_status_t read_submit(pal_io_t *io) {
  int nop = RD_BID(io) >= 0 || RD_STATUS(io) != 0;
  apr_status_t rv;
  if (!nop && PAL__UNLIKELY(pal__faults_armed) &&
      pal__fault_hit(PAL_SYS_READ)) {
    if (errno == EAGAIN || errno == EINTR)
      return APR_EAGAIN;   /* wait for readiness, as a read would */
    RD_STATUS(io) = pal__fail("recv");
    nop = 1;
  }
  rv = io->poll->be->read_submit(io->poll, io, nop, &RD_SLOT(io));
  if (rv == APR_SUCCESS)
    io->flags |= PAL__F_RSUB;
  return rv;
}

/* Hand what was read and not yet delivered to the owner, for as long as
 * it reads. */
static void deliver(pal_io_t *io) {
  pal_poll_t *p = io->poll;
  while ((io->flags & PAL__F_READING) &&
         (RD_BID(io) >= 0 || RD_STATUS(io))) {
    pal_buf_t buf = {NULL, 0};
    if (!read_buf(io, &buf))
      return;
    if (RD_BID(io) >= 0) {
      int bid = (int)RD_BID(io);
      size_t len, n;
      const char *base = p->be->buf(p, bid, &len);
      n = len - (size_t)RD_OFF(io);
      if (n > buf.len)
        n = buf.len;
      memcpy(buf.base, base + RD_OFF(io), n);
      RD_OFF(io) += (intptr_t)n;
      if ((size_t)RD_OFF(io) == len) {
        RD_BID(io) = p->be->buf_release(p, bid);
        RD_OFF(io) = 0;
      }
      io->rcb.read(io, APR_SUCCESS, n, &buf);
    } else {
      apr_status_t rv = (apr_status_t)RD_STATUS(io);
      RD_STATUS(io) = 0;
      io->flags &= ~PAL__F_READING;
      io->rcb.read(io, rv, 0, &buf);
      return;
    }
  }
}

void pal__io_read_done(pal_io_t *io, unsigned events, int res, int bid) {
  pal_poll_t *p = io->poll;
  if (!(events & PAL__MORE))
    io->flags &= ~(PAL__F_RSUB | PAL__F_RCANCEL);   /* the last one */
  if (bid >= 0 && res <= 0) {
    (void)p->be->buf_release(p, bid);
    bid = -1;
  }
  if (bid >= 0) {
    if (RD_BID(io) < 0) {
      RD_BID(io) = bid;
      RD_OFF(io) = 0;
    } else {
      p->be->buf_link(p, (int)RD_TAIL(io), bid);
    }
    RD_TAIL(io) = bid;
  } else if (bid == PAL__READ_NONE) {
    /* the no-op of a restarted read: deliver what is kept */
  } else if (res == 0) {
    RD_STATUS(io) = APR_EOF;
  } else if (res == -EAGAIN || res == -ENOBUFS) {
    io->flags |= PAL__F_RPOLL;
  } else if (res != -EINTR && res != -ECANCELED) {
    pal__last_call = "recv";
    RD_STATUS(io) = pal_err_from_os(-res);
  }
  deliver(io);
  (void)update_interest(io);
}

/* ---- 4. requests ------------------------------------------------------ */

static void req_init(pal_req_t *req, pal_io_t *io, int type,
                     const pal_buf_t *bufs, unsigned nbufs, pal_req_cb cb) {
  pal__req_init(req, io, type, bufs, nbufs, cb);
  io->poll->pending++;
}

static unsigned fill_iov(const pal_req_t *req, struct iovec *iov) {
  unsigned i, n = 0;
  for (i = req->bufidx; i < req->nbufs && n < PAL__IOV_MAX; i++) {
    size_t off = (i == req->bufidx) ? req->bufoff : 0;
    if (req->bufs[i].len == off)
      continue;
    iov[n].iov_base = req->bufs[i].base + off;
    iov[n].iov_len = req->bufs[i].len - off;
    n++;
  }
  return n;
}

/* write_req() for several buffers, or a datagram. */
static apr_status_t write_vec(pal_io_t *io, pal_req_t *req) {
  struct iovec iov[PAL__IOV_MAX];
  for (;;) {
    unsigned n = fill_iov(req, iov);
    ssize_t w;
    if (n == 0 && req->type != PAL_REQ_SEND)
      return APR_SUCCESS;
    if (req->type == PAL_REQ_SEND) {
      struct msghdr msg;
      memset(&msg, 0, sizeof msg);
      if (req->addr) {
        msg.msg_name = req->addr->u.bytes;
        msg.msg_namelen = (socklen_t)req->addr->len;
      }
      msg.msg_iov = iov;
      msg.msg_iovlen = n;
      w = PAL__SYS(PAL_SYS_SENDMSG, sendmsg((int)io->fd, &msg, 0));
      if (w >= 0) {
        req->bufidx = req->nbufs;   /* a datagram goes whole or not at all */
        return APR_SUCCESS;
      }
    } else if (n == 1) {
      /* The common case (one buffer): write(2) is a little cheaper than
       * writev(2) in the kernel. */
      w = PAL__SYS(PAL_SYS_WRITEV,
                   write((int)io->fd, iov[0].iov_base, iov[0].iov_len));
    } else {
      w = PAL__SYS(PAL_SYS_WRITEV, writev((int)io->fd, iov, (int)n));
    }
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        return APR_EAGAIN;
      return pal__fail(req->type == PAL_REQ_SEND ? "sendmsg" : "writev");
    }
    pal__req_advance(req, (size_t)w);
    if (req->bufidx >= req->nbufs)
      return APR_SUCCESS;
    /* A short write means the buffer is full: wait instead of trying a
     * write that would only say EAGAIN. */
    return APR_EAGAIN;
  }
}

/* Write as much of req as the descriptor takes.  APR_SUCCESS when all of
 * it is written, APR_EAGAIN when the descriptor is full, or an error.
 * Inline for the common case, one buffer left to write: no iovec to
 * build. */
static inline apr_status_t write_req(pal_io_t *io, pal_req_t *req) {
  const pal_buf_t *b;
  ssize_t w;
  if (req->type != PAL_REQ_WRITE || req->nbufs - req->bufidx != 1)
    return write_vec(io, req);
  b = &req->bufs[req->bufidx];
  do
    w = PAL__SYS(PAL_SYS_WRITEV,
                 sock_write(io, b->base + req->bufoff, b->len - req->bufoff));
  while (w < 0 && errno == EINTR);
  if (w < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
      return APR_EAGAIN;
    return pal__fail("write");
  }
  req->bufoff += (size_t)w;
  if (req->bufoff < b->len)
    return APR_EAGAIN;   /* short write: the buffer is full */
  req->bufidx++;
  req->bufoff = 0;
  return APR_SUCCESS;
}

static void do_shutdown(pal_io_t *io, pal_req_t *req) {
  apr_status_t rv = APR_SUCCESS;
  if (shutdown((int)io->fd, SHUT_WR) < 0) {
    if (errno == ENOTSOCK) {
      /* A plain pipe end: closing it is how its reader sees EOF. */
      if (io->events)
        pal__unwatch(io->poll, (int)io->fd, PAL__TOKEN(io, PAL__TOK_IO));
      io->events = 0;
      close((int)io->fd);
      io->fd = -1;
    } else if (errno != ENOTCONN) {
      rv = pal__fail("shutdown");
    }
  }
  pal__complete(io->poll, req, rv);
}

static void flush_writes(pal_io_t *io) {
  pal_req_t *req;
  while ((req = io->writes_head) != NULL) {
    apr_status_t rv = write_req(io, req);
    if (rv == APR_EAGAIN)
      break;
    pal__complete(io->poll, pal__writes_pop(io), rv);
    if (rv != APR_SUCCESS && req->type != PAL_REQ_SEND)
      pal__writes_complete_all(io, rv);   /* the stream is broken */
  }
  if (!io->writes_head && io->shutdown_req) {
    req = io->shutdown_req;
    io->shutdown_req = NULL;
    do_shutdown(io, req);
  }
}

static apr_status_t submit_write(pal_io_t *io, pal_req_t *req) {
  apr_status_t rv;
  if (!io->writes_head && !io->connect_req) {
    rv = write_req(io, req);
    if (rv != APR_EAGAIN) {
      pal__doneq_push(&io->poll->done, req, rv);   /* pal__complete() */
      return APR_SUCCESS;
    }
  }
  pal__writes_push(io, req);
  if ((rv = update_interest(io)) != APR_SUCCESS)
    pal__writes_complete_all(io, rv);   /* cannot wait for writability */
  return APR_SUCCESS;
}

apr_status_t pal_io_write(pal_io_t *io, pal_req_t *req, const pal_buf_t *bufs,
                          unsigned nbufs, pal_req_cb cb) {
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd < 0 || (io->flags & PAL__F_SHUT))
    return APR_EPIPE;
  req_init(req, io, PAL_REQ_WRITE, bufs, nbufs, cb);
  return submit_write(io, req);
}

apr_status_t pal_io_send(pal_io_t *io, pal_req_t *req, const pal_buf_t *bufs,
                         unsigned nbufs, const pal_addr_t *addr,
                         pal_req_cb cb) {
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd < 0)
    return APR_EBADF;
  req_init(req, io, PAL_REQ_SEND, bufs, nbufs, cb);
  req->addr = (pal_addr_t *)addr;
  return submit_write(io, req);
}

apr_status_t pal_io_try_write(pal_io_t *io, const pal_buf_t *bufs,
                              unsigned nbufs, size_t *written) {
  pal_req_t req;
  apr_status_t rv;
  *written = 0;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd < 0 || (io->flags & PAL__F_SHUT))
    return APR_EPIPE;
  if (io->writes_head || io->connect_req)
    return APR_EAGAIN;
  memset(&req, 0, sizeof req);
  req.type = PAL_REQ_WRITE;
  req.bufs = bufs;
  req.nbufs = nbufs;
  rv = write_req(io, &req);
  {
    unsigned i;
    size_t total = 0;
    for (i = 0; i < nbufs; i++)
      total += bufs[i].len;
    *written = total - pal_req_pending_bytes(&req);
  }
  if (rv == APR_EAGAIN)
    return *written ? APR_SUCCESS : APR_EAGAIN;
  return rv;
}

apr_status_t pal_io_connect(pal_io_t *io, pal_req_t *req,
                            const pal_addr_t *addr, pal_req_cb cb) {
  int r;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd < 0)
    return APR_EBADF;
  if (io->connect_req)
    return PAL_EBUSY;
  req_init(req, io, PAL_REQ_CONNECT, NULL, 0, cb);
  r = PAL__SYS(PAL_SYS_CONNECT,
               connect((int)io->fd, (const struct sockaddr *)addr->u.bytes,
                       (socklen_t)addr->len));
  if (r == 0) {
    pal__complete(io->poll, req, APR_SUCCESS);
  } else if (errno == EINPROGRESS || errno == EINTR) {
    /* EINTR: the connection goes on asynchronously, as with EINPROGRESS. */
    apr_status_t rv;
    io->connect_req = req;
    if ((rv = update_interest(io)) != APR_SUCCESS) {
      io->connect_req = NULL;
      pal__complete(io->poll, req, rv);
    }
  } else {
    pal__complete(io->poll, req, pal__fail("connect"));
  }
  return APR_SUCCESS;
}

apr_status_t pal_io_shutdown(pal_io_t *io, pal_req_t *req, pal_req_cb cb) {
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd < 0 || (io->flags & PAL__F_SHUT))
    return APR_EPIPE;
  req_init(req, io, PAL_REQ_SHUTDOWN, NULL, 0, cb);
  io->flags |= PAL__F_SHUT;
  if (!io->writes_head && !io->connect_req)
    do_shutdown(io, req);
  else
    io->shutdown_req = req;
  return APR_SUCCESS;
}

apr_status_t pal_io_listen(pal_io_t *io, int backlog, pal_conn_cb cb) {
  apr_status_t rv;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd < 0)
    return APR_EBADF;
  if (listen((int)io->fd, backlog) < 0)
    return pal__fail("listen");
  if (atomic_load(&reserve_fd) < 0)
    reserve_open();
  io->conn_cb = cb;
  io->flags |= PAL__F_LISTENING;
  if ((rv = update_interest(io)) != APR_SUCCESS)
    io->flags &= ~PAL__F_LISTENING;
  return rv;
}

apr_status_t pal_io_accept(pal_io_t *server, pal_io_t *client) {
  int fd = (int)PENDING_FD(server);
  if (fd < 0)
    return APR_EAGAIN;
  PENDING_FD(server) = -1;
  io_init(client, server->poll, server->kind, fd);
  (void)update_interest(server);
  return APR_SUCCESS;
}

apr_status_t pal_io_read_start(pal_io_t *io, pal_alloc_cb alloc_cb,
                               pal_read_cb read_cb) {
  apr_status_t rv;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd < 0)
    return APR_EBADF;
  io->alloc_cb = alloc_cb;
  io->rcb.read = read_cb;
  io->flags |= PAL__F_READING;
  if ((rv = update_interest(io)) != APR_SUCCESS)
    io->flags &= ~PAL__F_READING;
  return rv;
}

apr_status_t pal_io_read_stop(pal_io_t *io) {
  io->flags &= ~PAL__F_READING;
  (void)update_interest(io);
  return APR_SUCCESS;
}

apr_status_t pal_io_recv_start(pal_io_t *io, pal_alloc_cb alloc_cb,
                               pal_recv_cb recv_cb) {
  apr_status_t rv;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->fd < 0)
    return APR_EBADF;
  io->alloc_cb = alloc_cb;
  io->rcb.recv = recv_cb;
  io->flags |= PAL__F_RECVING;
  if ((rv = update_interest(io)) != APR_SUCCESS)
    io->flags &= ~PAL__F_RECVING;
  return rv;
}

apr_status_t pal_io_recv_stop(pal_io_t *io) {
  io->flags &= ~PAL__F_RECVING;
  (void)update_interest(io);
  return APR_SUCCESS;
}

/* ---- 5. close, addresses, options ---------------------------------- */

void pal_io_close(pal_io_t *io) {
  if (io->flags & PAL__F_CLOSED)
    return;
  io->flags |= PAL__F_CLOSED;
  io->flags &= ~(PAL__F_READING | PAL__F_RECVING | PAL__F_LISTENING);
  if (io->flags & PAL__F_RSUB) {
    /* In the kernel still, or reaped into the batch being dispatched
     * (then pal__forget() drops it and gives its buffer back). */
    if (RD_SLOT(io) >= 0)
      io->poll->be->read_cancel(io->poll, RD_SLOT(io), 1);
    pal__forget(io->poll, PAL__TOKEN(io, PAL__TOK_IO), 1);
    io->flags &= ~(PAL__F_RSUB | PAL__F_RCANCEL);
  }
  while (RD_BID(io) >= 0)
    RD_BID(io) = io->poll->be->buf_release(io->poll, (int)RD_BID(io));
  if (io->fd >= 0) {
    if (io->events)
      pal__unwatch(io->poll, (int)io->fd, PAL__TOKEN(io, PAL__TOK_IO));
    close((int)io->fd);
    io->fd = -1;
  }
  io->events = 0;
  if (PENDING_FD(io) >= 0) {
    close((int)PENDING_FD(io));
    PENDING_FD(io) = -1;
  }
  pal__io_cancel_all(io);
}

int pal_io_busy(const pal_io_t *io) {
  (void)io;
  return 0;   /* cancellations were queued by pal_io_close() itself */
}

apr_status_t pal_io_sockname(const pal_io_t *io, pal_addr_t *addr) {
  socklen_t len = sizeof addr->u.bytes;
  memset(addr, 0, sizeof *addr);
  if (getsockname((int)io->fd, (struct sockaddr *)addr->u.bytes, &len) < 0)
    return pal__fail("getsockname");
  addr->len = (unsigned)len;
  return APR_SUCCESS;
}

apr_status_t pal_io_peername(const pal_io_t *io, pal_addr_t *addr) {
  socklen_t len = sizeof addr->u.bytes;
  memset(addr, 0, sizeof *addr);
  if (getpeername((int)io->fd, (struct sockaddr *)addr->u.bytes, &len) < 0)
    return pal__fail("getpeername");
  addr->len = (unsigned)len;
  return APR_SUCCESS;
}

apr_status_t pal_io_nodelay(pal_io_t *io, int on) {
  if (setsockopt((int)io->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0)
    return pal__fail("setsockopt");
  return APR_SUCCESS;
}

apr_status_t pal_io_peer_uid(const pal_io_t *io, long *uid) {
#if defined(PAL_HAVE_SO_PEERCRED)
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt((int)io->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    return pal__fail("getsockopt");
  *uid = (long)cred.uid;
  return APR_SUCCESS;
#elif defined(PAL_HAVE_GETPEEREID)
  uid_t u;
  gid_t g;
  if (getpeereid((int)io->fd, &u, &g) < 0)
    return pal__fail("getpeereid");
  *uid = (long)u;
  return APR_SUCCESS;
#else
  (void)io;
  (void)uid;
  return PAL_EUNSUPPORTED;
#endif
}

apr_status_t pal_io_sender(const pal_io_t *io, long *pid, long *uid) {
#if defined(PAL_HAVE_SCM_CREDENTIALS)
  if (!(io->flags & PAL__F_CRED))
    return APR_ENOENT;
  *pid = (long)SENDER_PID(io);
  *uid = (long)SENDER_UID(io);
  return APR_SUCCESS;
#else
  (void)io;
  (void)pid;
  (void)uid;
  return PAL_EUNSUPPORTED;
#endif
}

apr_status_t pal_io_peer_trusted(const pal_io_t *io, int *trusted) {
  long uid = -1;
  apr_status_t rv = pal_io_peer_uid(io, &uid);
  if (rv == APR_SUCCESS)
    *trusted = uid == (long)geteuid() || uid == 0;
  return rv;
}
