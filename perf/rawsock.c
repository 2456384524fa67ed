/*
 * rawsock.c -- see rawsock.h.
 */
#define _GNU_SOURCE 1
#include "rawsock.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void prepare(int fd) {
  int one = 1;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    perf_fail("fcntl(O_NONBLOCK)", errno);
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    perf_fail("setsockopt(TCP_NODELAY)", errno);
}

void perf_tcp_pair(int *client, int *server) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int lfd, cfd, sfd;

  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) perf_fail("socket", errno);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
    perf_fail("bind", errno);
  if (listen(lfd, 16) < 0) perf_fail("listen", errno);
  if (getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
    perf_fail("getsockname", errno);
  cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (cfd < 0) perf_fail("socket", errno);
  if (connect(cfd, (struct sockaddr *)&sa, sizeof sa) < 0)
    perf_fail("connect", errno);
  sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (sfd < 0) perf_fail("accept4", errno);
  close(lfd);
  prepare(cfd);
  prepare(sfd);
  *client = cfd;
  *server = sfd;
}

pid_t perf_spawn_true(void) {
  static char *const argv[] = {(char *)PERF_SPAWN_PATH, NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, PERF_SPAWN_PATH, NULL, NULL, argv, environ);
  if (rc != 0) perf_fail("posix_spawn", rc);
  return pid;
}

void perf_check_status(int status) {
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    perf_fail("child exit status", status);
}

void perf_write_all(int fd, const void *buf, size_t len) {
  ssize_t w;
  do {
    w = write(fd, buf, len);
  } while (w < 0 && errno == EINTR);
  if (w != (ssize_t)len) perf_fail("write", w < 0 ? errno : (long)w);
}
