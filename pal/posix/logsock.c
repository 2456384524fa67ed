/*
 * logsock.c -- the local log daemons' datagram sockets (pal.h, "Local log
 * daemons"): syslog's /dev/log and journald's native socket.
 *
 * One connected, non-blocking AF_UNIX SOCK_DGRAM socket per user: a
 * datagram is one record, sent whole or not at all, and a daemon that
 * does not read fills its queue, after which a send fails at once
 * (EAGAIN, or ENOBUFS on some kernels) instead of blocking the loop.
 *
 * A datagram holds at most about the sender's SO_SNDBUF (Linux: 208 KiB
 * by default): larger, send() fails with EMSGSIZE.  journald takes such
 * a record as a file instead (its native protocol): the record goes
 * into a memfd, sealed so that the daemon can map it without fearing a
 * writer that truncates it under its feet, and the descriptor is passed
 * in an empty datagram.  The memfd is ours until the datagram is queued;
 * then the daemon holds the only reference that matters.
 */
#include "pal_posix.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

/* The pieces of one record: a header, a message and its end. */
#define LOGSOCK_PARTS_MAX 8

/* Where each daemon listens.  macOS's syslogd has no /dev/log. */
static const char *logsock_path(int which) {
  switch (which) {
  case PAL_LOGSOCK_SYSLOG:
#ifdef __APPLE__
    return "/var/run/syslog";
#else
    return "/dev/log";
#endif
  case PAL_LOGSOCK_JOURNAL:
#ifdef __linux__
    return "/run/systemd/journal/socket";
#else
    return NULL;
#endif
  default:
    return NULL;
  }
}

const char *pal_logsock_path(int which) {
  return logsock_path(which);
}

apr_status_t pal_logsock_open(pal_fd_t *out, int which) {
  const char *path = logsock_path(which);
  struct sockaddr_un sun;
  apr_status_t rv;
  int fd;

  *out = PAL_INVALID_FD;
  if (!path)
    return PAL_EUNSUPPORTED;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path, strlen(path) + 1);   /* short constants */
  if ((rv = pal__socket(AF_UNIX, SOCK_DGRAM, &fd)) != APR_SUCCESS)
    return rv;
  if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
    rv = pal__fail("connect");
    close(fd);
    return rv;
  }
  *out = fd;
  return APR_SUCCESS;
}

/* parts as iovecs; 0 if there are too many. */
static unsigned to_iov(struct iovec *iov, const pal_buf_t *parts,
                       unsigned n) {
  unsigned i;
  if (n > LOGSOCK_PARTS_MAX)
    return 0;
  for (i = 0; i < n; i++) {
    iov[i].iov_base = parts[i].base;
    iov[i].iov_len = parts[i].len;
  }
  return n;
}

/* sendmsg() on the connected socket, without SIGPIPE, again on EINTR. */
static ssize_t send_msg(int fd, struct msghdr *mh) {
  ssize_t n;
  int flags = 0;
#ifdef MSG_NOSIGNAL
  flags |= MSG_NOSIGNAL;
#endif
  do
    n = PAL__SYS(PAL_SYS_SENDMSG, sendmsg(fd, mh, flags));
  while (n < 0 && errno == EINTR);
  return n;
}

/* What a failed send means to the caller. */
static apr_status_t send_error(void) {
  /* The daemon's queue is full (Linux says EAGAIN; BSDs and some
   * configurations ENOBUFS): the record is lost, the socket is fine. */
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
    return APR_EAGAIN;
  if (errno == EMSGSIZE)
    return PAL_ETOOBIG;
  return pal__fail("sendmsg");
}

apr_status_t pal_logsock_send(pal_fd_t fd, const pal_buf_t *parts,
                              unsigned n) {
  struct iovec iov[LOGSOCK_PARTS_MAX];
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = iov;
  if ((mh.msg_iovlen = to_iov(iov, parts, n)) == 0)
    return APR_EINVAL;
  return send_msg((int)fd, &mh) >= 0 ? APR_SUCCESS : send_error();
}

#if defined(PAL_HAVE_MEMFD_CREATE) && defined(PAL_HAVE_F_ADD_SEALS)

/* The record in a new sealed memfd: its descriptor, or -1 (errno set,
 * pal__last_call the call). */
static int sealed_copy(const struct iovec *iov, unsigned n) {
  unsigned i;
  int fd = PAL__SYS(PAL_SYS_MEMFD,
                    memfd_create("vigil-journal",
                                 MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd < 0) {
    pal__last_call = "memfd_create";
    return -1;
  }
  for (i = 0; i < n; i++) {
    const char *p = iov[i].iov_base;
    size_t left = iov[i].iov_len;
    while (left > 0) {
      ssize_t w = write(fd, p, left);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0) {
        int e = w < 0 ? errno : ENOSPC;
        pal__last_call = "write";
        close(fd);
        errno = e;
        return -1;
      }
      p += w;
      left -= (size_t)w;
    }
  }
  if (fcntl(fd, F_ADD_SEALS,
            F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    int e = errno;
    pal__last_call = "fcntl(F_ADD_SEALS)";
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

apr_status_t pal_logsock_send_fd(pal_fd_t fd, const pal_buf_t *parts,
                                 unsigned n) {
  struct iovec iov[LOGSOCK_PARTS_MAX];
  struct msghdr mh;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct cmsghdr *cm;
  apr_status_t rv;
  int mfd;
  if ((n = to_iov(iov, parts, n)) == 0)
    return APR_EINVAL;
  if ((mfd = sealed_copy(iov, n)) < 0)
    return errno == ENOSYS ? PAL_EUNSUPPORTED : pal_err_from_os(errno);
  memset(&mh, 0, sizeof mh);
  memset(&ctl, 0, sizeof ctl);
  mh.msg_control = ctl.buf;
  mh.msg_controllen = sizeof ctl.buf;
  cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &mfd, sizeof mfd);
  rv = send_msg((int)fd, &mh) >= 0 ? APR_SUCCESS : send_error();
  close(mfd);   /* the datagram holds its own reference */
  return rv;
}

#else /* no sealed memory files */

apr_status_t pal_logsock_send_fd(pal_fd_t fd, const pal_buf_t *parts,
                                 unsigned n) {
  (void)fd;
  (void)parts;
  (void)n;
  return PAL_EUNSUPPORTED;
}

#endif
