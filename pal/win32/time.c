/*
 * time.c -- the monotonic clock: QueryPerformanceCounter, which never goes
 * back and does not follow wall-clock changes; and the local civil time.
 */
#include "pal_win32.h"

#include <time.h>

uint64_t pal_hrtime(void) {
  static LARGE_INTEGER freq;   /* fixed at boot; racing writers agree */
  LARGE_INTEGER now;
  if (freq.QuadPart == 0)
    QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&now);
  /* Split to avoid overflowing 64 bits at high frequencies. */
  return (uint64_t)(now.QuadPart / freq.QuadPart) * 1000000000u +
         (uint64_t)(now.QuadPart % freq.QuadPart) * 1000000000u /
             (uint64_t)freq.QuadPart;
}

apr_status_t pal_localtime(int64_t t, struct tm *out) {
  __time64_t tt = (__time64_t)t;
  return _localtime64_s(out, &tt) == 0 ? APR_SUCCESS : APR_EINVAL;
}
