/*
 * target.c -- the one parser of network targets: "HOST:PORT" (<ready
 * tcp>, <health type="tcp">) and "http://HOST[:PORT][/PATH]" (<health
 * type="http">).  The loader validates with it; services/probe.c parses
 * with it again at each probe, so a target that loads is a target that
 * probes, under the same rules.
 *
 * HOST is a host name, a dotted-quad IPv4 address or a bracketed IPv6
 * address.  Nothing is resolved here: names are looked up asynchronously
 * at each probe (vg_getaddrinfo), because what a name means can change
 * while vigil runs.  What is rejected here could never resolve: bytes
 * that are not part of a name, an IPv4-looking host that is not one
 * ("127.1", "256.0.0.1": getaddrinfo would read the first as 127.0.0.1),
 * an unbracketed IPv6 address (its last group would read as the port).
 */
#include <string.h>

#include "vigil.h"

#include "cfg_int.h"

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive: does s start with the lower-case word w? */
static int prefix_eq(const char *s, const char *w) {
  size_t i;
  for (i = 0; w[i]; i++)   /* s's NUL never equals w[i] */
    if (lower((unsigned char)s[i]) != w[i])
      return 0;
  return 1;
}

static int printable(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
      return 0;
  return 1;
}

/* 1-65535, decimal digits only, no sign, no spaces. */
static int parse_port(const char *s, size_t n) {
  int v = 0;
  size_t i;
  if (n == 0 || n > 5)
    return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v >= 1 && v <= 65535 ? v : -1;
}

/* RFC 1123 names, plus '_' (seen in container and SRV-style names):
 * labels of 1-63 letters, digits, '-' and '_', not starting or ending
 * with '-', joined by single dots; one final dot (a rooted name) is
 * allowed. */
static int host_name(const char *s, size_t n) {
  size_t i, label = 0;
  if (n > 0 && s[n - 1] == '.')
    n--;
  if (n == 0 || n > 253)
    return 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-')
        return 0;
      label = 0;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return 0;
    if (c == '-' && label == 0)
      return 0;
    if (++label > 63)
      return 0;
  }
  return s[n - 1] != '-';
}

/* s[0..n) as HOST[:PORT] into t.  default_port 0: the port is required. */
static apr_status_t parse_authority(const char *s, size_t n,
                                    int default_port, cfg_target_t *t,
                                    const char **why) {
  const char *host, *colon = NULL;
  size_t hlen, i;
  int bracketed = 0, numeric = 1, port = default_port;
  vg_addr_t addr;

  if (!printable(s, n)) {
    *why = "spaces, control or non-ASCII characters in the address";
    return APR_EINVAL;
  }
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (!close) {
      *why = "missing ']' after an IPv6 address";
      return APR_EINVAL;
    }
    bracketed = 1;
    host = s + 1;
    hlen = (size_t)(close - host);
    if (close + 1 < s + n) {
      if (close[1] != ':') {
        *why = "expected ':PORT' after ']'";
        return APR_EINVAL;
      }
      colon = close + 1;
    }
  } else {
    host = s;
    colon = memchr(s, ':', n);
    hlen = colon ? (size_t)(colon - s) : n;
    if (colon && memchr(colon + 1, ':', n - hlen - 1)) {
      *why = "an IPv6 address needs brackets, as in [::1]:80";
      return APR_EINVAL;
    }
  }
  if (hlen == 0) {
    *why = "missing host";
    return APR_EINVAL;
  }
  if (hlen >= CFG_HOST_MAX) {
    *why = "host too long";
    return APR_EINVAL;
  }
  if (colon) {
    port = parse_port(colon + 1, (size_t)(s + n - colon - 1));
    if (port < 0) {
      *why = colon + 1 == s + n ? "missing port"
                                : "port must be a number from 1 to 65535";
      return APR_EINVAL;
    }
  } else if (port == 0) {
    *why = "missing ':PORT'";
    return APR_EINVAL;
  }

  memcpy(t->host, host, hlen);
  t->host[hlen] = '\0';
  t->port = port;
  for (i = 0; i < hlen; i++)
    if ((host[i] < '0' || host[i] > '9') && host[i] != '.')
      numeric = 0;
  if (bracketed) {
    if (!memchr(t->host, ':', hlen)) {
      *why = "brackets are for IPv6 addresses only";
      return APR_EINVAL;
    }
    if (vg_addr_ip(&addr, t->host, port) != APR_SUCCESS) {
      *why = "not a valid IPv6 address";
      return APR_EINVAL;
    }
  } else if (numeric) {
    if (vg_addr_ip(&addr, t->host, port) != APR_SUCCESS) {
      *why = "not a valid IPv4 address (four numbers 0-255: a.b.c.d)";
      return APR_EINVAL;
    }
  } else if (!host_name(t->host, hlen)) {
    *why = "not a valid host name (letters, digits, '-', '_' and dots)";
    return APR_EINVAL;
  }
  return APR_SUCCESS;
}

apr_status_t cfg_parse_hostport(const char *s, cfg_target_t *out,
                                const char **why) {
  cfg_target_t tmp;
  const char *dummy;
  if (!why)
    why = &dummy;
  *why = NULL;
  if (!out)
    out = &tmp;
  if (!s) {
    *why = "missing address";
    return APR_EINVAL;
  }
  out->path[0] = '\0';
  return parse_authority(s, strlen(s), 0, out, why);
}

apr_status_t cfg_parse_url(const char *url, cfg_target_t *out,
                           const char **why) {
  cfg_target_t tmp;
  const char *dummy, *rest, *path, *end;
  size_t alen, plen, slash;
  apr_status_t rv;

  if (!why)
    why = &dummy;
  *why = NULL;
  if (!out)
    out = &tmp;
  if (!url) {
    *why = "missing URL";
    return APR_EINVAL;
  }
  if (!prefix_eq(url, "http://")) {
    *why = prefix_eq(url, "https://") ? "https is not supported"
           : strstr(url, "://")       ? "only http:// URLs are supported"
                                      : "not an http:// URL";
    return APR_EINVAL;
  }
  /* The whole URL goes into a request line: no byte may break it. */
  if (!printable(url, strlen(url))) {
    *why = "spaces, control or non-ASCII characters in the URL "
           "(percent-encode them)";
    return APR_EINVAL;
  }
  rest = url + 7;
  alen = strcspn(rest, "/?#");
  if (memchr(rest, '@', alen)) {
    *why = "user info in URLs is not supported";
    return APR_EINVAL;
  }
  rv = parse_authority(rest, alen, 80, out, why);
  if (rv != APR_SUCCESS)
    return rv;
  path = rest + alen;
  end = path + strcspn(path, "#");    /* the fragment is never sent */
  plen = (size_t)(end - path);
  slash = plen == 0 || path[0] != '/';   /* "" or "?query": path "/" */
  if (slash + plen + 1 > sizeof out->path) {
    *why = "URL path too long";
    return APR_EINVAL;
  }
  out->path[0] = '/';
  memcpy(out->path + slash, path, plen);
  out->path[slash + plen] = '\0';
  return APR_SUCCESS;
}
