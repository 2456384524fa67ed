/*
 * pidfile.c -- what a pid file may hold (type="attach"), the same on
 * every platform: one decimal pid and white space around it.  The file
 * is read by pal/posix/pidfile.c or pal/win32/pidfile.c.
 *
 * Strict on purpose: a pid file decides which process a supervisor will
 * signal, so anything but a plain number (a sign, a second number, a
 * stray byte, a value no process can have) is refused rather than read
 * half-way as strtol would.
 */
#include "pal_common.h"

#include <stdio.h>

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

apr_status_t pal_pidfile_parse(const char *buf, size_t len, long *pid,
                               char *why_buf, size_t why_size,
                               const char **why) {
  size_t i = 0, j, start;
  uint64_t v = 0;   /* 64 bits everywhere: Windows' long is 32 */
  const char *w = NULL;
  *pid = 0;
  while (i < len && is_space(buf[i]))
    i++;
  start = i;
  while (i < len && buf[i] >= '0' && buf[i] <= '9') {
    v = v * 10 + (uint64_t)(buf[i] - '0');
    if (v > 0x7fffffffu)
      v = 0x80000000u;   /* sticks: too large, whatever follows */
    i++;
  }
  j = i;
  while (j < len && is_space(buf[j]))
    j++;
  if (len == 0 || (start == len))
    w = "is empty";
  else if (i == start || j < len) {
    /* Quote what is there, printable ASCII only (it may be binary). */
    size_t k, n = 0, end = len;
    char shown[24];
    while (end > start && is_space(buf[end - 1]))
      end--;
    for (k = start; k < end && n < sizeof shown - 4; k++)
      shown[n++] = buf[k] >= 0x20 && buf[k] < 0x7f ? buf[k] : '?';
    if (k < end) {
      shown[n++] = '.';
      shown[n++] = '.';
      shown[n++] = '.';
    }
    shown[n] = '\0';
    if (why_buf && why_size) {
      snprintf(why_buf, why_size, "holds '%s', not a single decimal pid",
               shown);
      w = why_buf;
    } else {
      w = "does not hold a single decimal pid";
    }
  } else if (v >= 0x80000000u) {
    w = "holds a number too large for a pid";
  } else if (v <= 1) {
    w = v == 0 ? "holds pid 0, which no process has"
               : "holds pid 1, the init process, which vigil never "
                 "attaches to";
  }
  if (why)
    *why = w;
  if (w)
    return APR_EINVAL;
  *pid = (long)v;
  return APR_SUCCESS;
}
