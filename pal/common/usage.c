/*
 * usage.c -- pal_proc_usage_many() where the OS answers per child anyway
 * (a job object on Windows, proc_pidinfo on macOS): one call each.  Linux
 * has its own, one walk of /proc for all (pal/posix/proc.c).
 */
#include "pal.h"

#include <string.h>

#if !defined(__linux__)
void pal_proc_usage_many(pal_proc_t *const *procs, size_t n,
                         pal_usage_t *out) {
  size_t i;
  for (i = 0; i < n; i++)
    if (!procs[i] || pal_proc_usage(procs[i], &out[i]) != APR_SUCCESS)
      memset(&out[i], 0, sizeof out[i]);
}
#else
typedef int pal__usage_linux_has_its_own;   /* ISO C: no empty unit */
#endif
