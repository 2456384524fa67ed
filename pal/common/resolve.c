/*
 * resolve.c -- host name resolution: getaddrinfo() into pal_addr_t, the
 * same call on POSIX and Windows (Winsock 2 has it).  The call blocks
 * (files, DNS with its retries), so it runs on a pool thread: core/dns.c
 * puts it on the work queue; nothing here knows about loops.
 *
 * Only the status of a failure differs by platform, and each backend's
 * error.c maps it (pal__gai_error): the resolver's own codes on POSIX
 * (EAI_*, whose message is gai_strerror's), WSA error numbers on Windows.
 */
#include "pal_common.h"

#include <string.h>
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

static int to_os_family(int family) {
  switch (family) {
  case PAL_AF_INET: return AF_INET;
  case PAL_AF_INET6: return AF_INET6;
  default: return AF_UNSPEC;
  }
}

static void set_port(pal_addr_t *a, int port) {
  struct sockaddr *sa = (struct sockaddr *)a->u.bytes;
  if (sa->sa_family == AF_INET)
    ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

/* Seen already?  A name listed twice in the hosts file, or the same
 * address for two socket types, comes back more than once. */
static int seen(const pal_addr_t *out, size_t n, const pal_addr_t *a) {
  size_t i;
  for (i = 0; i < n; i++)
    if (out[i].len == a->len && memcmp(out[i].u.bytes, a->u.bytes,
                                       a->len) == 0)
      return 1;
  return 0;
}

apr_status_t pal_addr_resolve(const char *host, int port, int family,
                              pal_addr_t *out, size_t max, size_t *count) {
  struct addrinfo hints, *res = NULL, *ai;
  size_t n = 0;
  int rc;

  *count = 0;
  if (!host || !*host || port < 0 || port > 65535 || max == 0 ||
      (family != 0 && family != PAL_AF_INET && family != PAL_AF_INET6))
    return APR_EINVAL;
#ifdef _WIN32
  {
    apr_status_t rv = pal__winsock_init();
    if (rv != APR_SUCCESS)
      return rv;
  }
#endif
  memset(&hints, 0, sizeof hints);
  hints.ai_family = to_os_family(family);
  hints.ai_socktype = SOCK_STREAM;   /* one entry per address */
  rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0) {
    pal__last_call = "getaddrinfo";
    return pal__gai_error(rc);
  }
  for (ai = res; ai && n < max; ai = ai->ai_next) {
    pal_addr_t *a = &out[n];
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        (size_t)ai->ai_addrlen > sizeof a->u.bytes)
      continue;
    memset(a, 0, sizeof *a);
    memcpy(a->u.bytes, ai->ai_addr, (size_t)ai->ai_addrlen);
    a->len = (unsigned)ai->ai_addrlen;
    set_port(a, port);
    if (!seen(out, n, a))
      n++;
  }
  freeaddrinfo(res);
  if (n == 0)
    return APR_EAFNOSUPPORT;   /* only families we cannot connect to */
  *count = n;
  return APR_SUCCESS;
}
