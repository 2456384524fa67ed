/*
 * time.c -- the monotonic clock: QueryPerformanceCounter, which never goes
 * back and does not follow wall-clock changes.
 */
#include "pal_win32.h"

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
