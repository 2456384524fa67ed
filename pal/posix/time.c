/*
 * time.c -- the monotonic clock.  clock_gettime(CLOCK_MONOTONIC) is served
 * by the vDSO on Linux: no system call, so the loop may read it freely.
 */
#include "pal_posix.h"

#include <time.h>

uint64_t pal_hrtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
