/*
 * time.c -- the monotonic clock.  clock_gettime(CLOCK_MONOTONIC) is served
 * by the vDSO on Linux: no system call, so the loop may read it freely.
 * And the local civil time, for calendar schedules (config/cron.c).
 */
#include "pal_posix.h"

#include <time.h>

uint64_t pal_hrtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

apr_status_t pal_localtime(int64_t t, struct tm *out) {
  time_t tt = (time_t)t;
  if ((int64_t)tt != t || !localtime_r(&tt, out))
    return APR_EINVAL;
  return APR_SUCCESS;
}
