/*
 * logsock.c -- the local log daemons' datagram sockets (pal.h, "Local log
 * daemons"): syslog's /dev/log and journald's native socket.
 *
 * One connected, non-blocking AF_UNIX SOCK_DGRAM socket per user: a
 * datagram is one record, sent whole or not at all, and a daemon that
 * does not read fills its queue, after which a send fails at once
 * (EAGAIN, or ENOBUFS on some kernels) instead of blocking the loop.
 */
#include "pal_posix.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

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

apr_status_t pal_logsock_send(pal_fd_t fd, const void *buf, size_t len) {
  ssize_t n;
  int flags = 0;
#ifdef MSG_NOSIGNAL
  flags |= MSG_NOSIGNAL;
#endif
  do
    n = send((int)fd, buf, len, flags);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return APR_SUCCESS;
  /* The daemon's queue is full (Linux says EAGAIN; BSDs and some
   * configurations ENOBUFS): the record is lost, the socket is fine. */
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
    return APR_EAGAIN;
  return pal__fail("send");
}
