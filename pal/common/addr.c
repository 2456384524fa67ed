/*
 * addr.c -- socket addresses: numeric IPv4/IPv6 and local names, shared by
 * every backend.  pal_addr_t is opaque storage large enough for a
 * sockaddr_storage.  A local name is a Unix socket path on POSIX and a
 * named pipe name (\\.\pipe\NAME) on Windows; both are kept in a
 * sockaddr_un, whose sun_path holds 108 bytes on either.
 */
#include "pal_common.h"

#include <stdio.h>
#include <string.h>
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <afunix.h>   /* struct sockaddr_un: local names, also pipe names */
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#endif

_Static_assert(sizeof(((pal_addr_t *)0)->u) >= sizeof(struct sockaddr_storage),
               "pal_addr_t too small for sockaddr_storage");

apr_status_t pal_addr_ip(pal_addr_t *addr, const char *host, int port) {
  memset(addr, 0, sizeof *addr);
  if (!host || port < 0 || port > 65535)
    return APR_EINVAL;
  if (strchr(host, ':')) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)addr->u.bytes;
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
      return APR_EINVAL;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    addr->len = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)addr->u.bytes;
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
      return APR_EINVAL;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    addr->len = sizeof *s4;
  }
  return APR_SUCCESS;
}

apr_status_t pal_addr_local(pal_addr_t *addr, const char *path) {
  struct sockaddr_un *su = (struct sockaddr_un *)addr->u.bytes;
  size_t n;
  memset(addr, 0, sizeof *addr);
  if (!path)
    return APR_EINVAL;
  n = strlen(path);
  if (n == 0 || n >= sizeof su->sun_path)
    return APR_ENAMETOOLONG;
  su->sun_family = AF_UNIX;
#ifdef __linux__
  if (path[0] == '@') {
    /* Linux abstract namespace, written "@name" as systemd's NOTIFY_SOCKET
     * does: no file, no path length worries, gone with its last user. */
    memcpy(su->sun_path + 1, path + 1, n - 1);
    addr->len = (unsigned)(offsetof(struct sockaddr_un, sun_path) + n);
    return APR_SUCCESS;
  }
#else
  if (path[0] == '@')
    return PAL_EUNSUPPORTED;   /* no abstract namespace here */
#endif
  memcpy(su->sun_path, path, n + 1);
  addr->len = (unsigned)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  return APR_SUCCESS;
}

int pal_addr_family(const pal_addr_t *addr) {
  switch (((const struct sockaddr *)addr->u.bytes)->sa_family) {
  case AF_INET: return PAL_AF_INET;
  case AF_INET6: return PAL_AF_INET6;
  case AF_UNIX: return PAL_AF_UNIX;
  default: return 0;
  }
}

int pal_addr_port(const pal_addr_t *addr) {
  const struct sockaddr *sa = (const struct sockaddr *)addr->u.bytes;
  if (sa->sa_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
  if (sa->sa_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
  return 0;
}

const char *pal_addr_format(const pal_addr_t *addr, char *buf, size_t size) {
  const struct sockaddr *sa = (const struct sockaddr *)addr->u.bytes;
  char host[INET6_ADDRSTRLEN];
  if (size == 0)
    return buf;
  buf[0] = '\0';
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    snprintf(buf, size, "%s:%d", host, ntohs(s4->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
    snprintf(buf, size, "[%s]:%d", host, ntohs(s6->sin6_port));
  } else if (sa->sa_family == AF_UNIX) {
    const struct sockaddr_un *su = (const struct sockaddr_un *)sa;
    size_t max = addr->len > offsetof(struct sockaddr_un, sun_path)
                     ? addr->len - offsetof(struct sockaddr_un, sun_path)
                     : 0;
    if (max > sizeof su->sun_path)
      max = sizeof su->sun_path;
    if (max > 1 && su->sun_path[0] == '\0')   /* abstract: "@name" */
      snprintf(buf, size, "@%.*s", (int)(max - 1), su->sun_path + 1);
    else
      snprintf(buf, size, "%.*s", (int)strnlen(su->sun_path, max),
               su->sun_path);
  }
  return buf;
}
