/*
 * units.c -- value parsers: durations, sizes, booleans, counts (network
 * targets: target.c).
 *
 * All of them take the whole string: no sign, no blanks, no trailing
 * garbage, and a number's digits are checked for overflow before they are
 * accumulated.  The caller trims element text before calling them.
 */
#include <string.h>

#include <apr_strings.h>

#include "cfg_int.h"

/* Leading decimal digits of s into *v; returns how many there were, or -1
 * on overflow past `max`. */
static int digits(const char *s, uint64_t max, uint64_t *v) {
  uint64_t n = 0;
  int i;
  for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (n > (max - d) / 10)
      return -1;
    n = n * 10 + d;
  }
  *v = n;
  return i;
}

/* ASCII case-insensitive equality (no locale). */
static int ci_eq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char x = *a, y = *b;
    if (x >= 'A' && x <= 'Z')
      x = (char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = (char)(y - 'A' + 'a');
    if (x != y)
      return 0;
  }
  return *a == *b;
}

#define CFG__MAX_MS ((uint64_t)1 << 53)

apr_status_t cfg_parse_duration(const char *s, uint64_t *ms) {
  static const struct { const char *unit; uint64_t ms; } units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}
  };
  uint64_t n;
  size_t i;
  int nd;

  if (!s || !*s)
    return APR_EINVAL;
  nd = digits(s, UINT64_MAX, &n);
  if (nd < 0)
    return APR_ERANGE;
  if (nd == 0)
    return APR_EINVAL;
  if (s[nd] == '\0') {
    /* A bare number is ambiguous (seconds? milliseconds?) unless 0. */
    if (n != 0)
      return APR_EINVAL;
    *ms = 0;
    return APR_SUCCESS;
  }
  for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
    if (strcmp(s + nd, units[i].unit) == 0) {
      if (n > CFG__MAX_MS / units[i].ms)
        return APR_ERANGE;
      *ms = n * units[i].ms;
      return APR_SUCCESS;
    }
  return APR_EINVAL;
}

apr_status_t cfg_parse_size(const char *s, uint64_t *bytes) {
  static const struct { const char *unit; unsigned shift; } units[] = {
    {"b", 0},   {"k", 10},  {"kb", 10}, {"kib", 10}, {"m", 20},
    {"mb", 20}, {"mib", 20}, {"g", 30}, {"gb", 30},  {"gib", 30},
    {"t", 40},  {"tb", 40}, {"tib", 40}
  };
  const uint64_t max = (uint64_t)1 << 63;
  uint64_t n;
  size_t i;
  int nd;

  if (!s || !*s)
    return APR_EINVAL;
  nd = digits(s, UINT64_MAX, &n);
  if (nd < 0)
    return APR_ERANGE;
  if (nd == 0)
    return APR_EINVAL;
  if (s[nd] == '\0') {
    if (n > max)
      return APR_ERANGE;
    *bytes = n;
    return APR_SUCCESS;
  }
  for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
    if (ci_eq(s + nd, units[i].unit)) {
      if (n > (max >> units[i].shift))
        return APR_ERANGE;
      *bytes = n << units[i].shift;
      return APR_SUCCESS;
    }
  return APR_EINVAL;
}

apr_status_t cfg_parse_bool(const char *s, int *value) {
  static const char *const yes[] = {"true", "yes", "on", "1", NULL};
  static const char *const no[] = {"false", "no", "off", "0", NULL};
  int i;
  if (!s)
    return APR_EINVAL;
  for (i = 0; yes[i]; i++)
    if (ci_eq(s, yes[i])) {
      *value = 1;
      return APR_SUCCESS;
    }
  for (i = 0; no[i]; i++)
    if (ci_eq(s, no[i])) {
      *value = 0;
      return APR_SUCCESS;
    }
  return APR_EINVAL;
}

apr_status_t cfg_parse_uint(const char *s, uint64_t min, uint64_t max,
                            uint64_t *value) {
  uint64_t n;
  int nd;
  if (!s || !*s)
    return APR_EINVAL;
  nd = digits(s, UINT64_MAX, &n);
  if (nd == 0 || (nd > 0 && s[nd] != '\0'))
    return APR_EINVAL;
  if (nd < 0 || n < min || n > max)
    return APR_ERANGE;
  *value = n;
  return APR_SUCCESS;
}

apr_status_t cfg_parse_umask(const char *s, unsigned *mask) {
  unsigned v = 0;
  size_t i, n = s ? strlen(s) : 0;
  if (n == 0 || n > 4)
    return APR_EINVAL;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '7')
      return APR_EINVAL;
    v = v * 8 + (unsigned)(s[i] - '0');
  }
  if (v > 0777)
    return APR_ERANGE;   /* setuid/setgid/sticky bits: not a umask's */
  *mask = v;
  return APR_SUCCESS;
}

apr_status_t cfg_parse_nice(const char *s, int *nice) {
  uint64_t v;
  int neg = 0;
  apr_status_t rv;
  if (s && (*s == '-' || *s == '+')) {
    neg = *s == '-';
    s++;
  }
  rv = cfg_parse_uint(s, 0, neg ? 20 : 19, &v);
  if (rv != APR_SUCCESS)
    return rv;
  *nice = neg ? -(int)v : (int)v;
  return APR_SUCCESS;
}

/* Items separated by commas or blanks, each N or N-M (N <= M). */
apr_status_t cfg_parse_cpus(const char *s, vg_cpuset_t *set) {
  vg_cpuset_t out;
  int any = 0;
  memset(&out, 0, sizeof out);
  if (!s)
    return APR_EINVAL;
  while (*s) {
    uint64_t lo, hi;
    int nd;
    if (*s == ',' || *s == ' ' || *s == '\t') {
      s++;
      continue;
    }
    nd = digits(s, UINT64_MAX, &lo);
    if (nd == 0)
      return APR_EINVAL;
    if (nd < 0)
      return APR_ERANGE;
    s += nd;
    hi = lo;
    if (*s == '-') {
      s++;
      nd = digits(s, UINT64_MAX, &hi);
      if (nd == 0)
        return APR_EINVAL;
      if (nd < 0)
        return APR_ERANGE;
      s += nd;
      if (hi < lo)
        return APR_EINVAL;
    }
    if (*s && *s != ',' && *s != ' ' && *s != '\t')
      return APR_EINVAL;
    if (hi >= PAL_CPUSET_MAX)
      return APR_ERANGE;
    for (; lo <= hi; lo++)
      out.bits[lo / 64] |= (uint64_t)1 << (lo % 64);
    any = 1;
  }
  if (!any)
    return APR_EINVAL;
  *set = out;
  return APR_SUCCESS;
}
