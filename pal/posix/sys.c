/*
 * sys.c -- process-wide facts and settings for a supervisor: the child
 * subreaper, process start times (pid reuse detection), effective uid.
 */
#include "pal_posix.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__APPLE__)
#include <mach-o/dyld.h>
#endif
#if defined(PAL_HAVE_SUBREAPER)
#include <sys/prctl.h>
#endif

apr_status_t pal_set_subreaper(void) {
#if defined(PAL_HAVE_SUBREAPER)
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
    return pal__fail("prctl");
  return APR_SUCCESS;
#else
  return PAL_EUNSUPPORTED;
#endif
}

uint64_t pal_pid_start_time(long pid) {
#if defined(__linux__)
  /* Field 22 of /proc/PID/stat, after the command name, which is in
   * parentheses and may itself hold spaces and parentheses: parse from the
   * last ')'. */
  char path[64], buf[1024], *p;
  unsigned long long start = 0;
  size_t n;
  int field;
  FILE *f;
  if (pid <= 0)
    return 0;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  f = fopen(path, "re");
  if (!f)
    return 0;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  p = strrchr(buf, ')');
  if (!p)
    return 0;
  /* After ')': field 3 (state) onwards; starttime is field 22. */
  for (field = 2; field < 22 && p; field++)   /* to the space before 22 */
    p = strchr(p + 1, ' ');
  if (!p || sscanf(p + 1, "%llu", &start) != 1)
    return 0;
  return (uint64_t)start;
#else
  (void)pid;
  return 0;
#endif
}

extern char **environ;

const char *const *pal_environ(void) { return (const char *const *)environ; }

long pal_geteuid(void) { return (long)geteuid(); }

apr_status_t pal_self_exe(char *buf, size_t size) {
#if defined(__linux__)
  ssize_t n;
  if (size == 0)
    return APR_EINVAL;
  n = readlink("/proc/self/exe", buf, size);
  if (n < 0)
    return pal__fail("readlink");
  if ((size_t)n >= size)
    return APR_ENAMETOOLONG;
  buf[n] = '\0';
  return APR_SUCCESS;
#elif defined(__APPLE__)
  char raw[PATH_MAX], real[PATH_MAX];
  uint32_t len = sizeof raw;
  if (size == 0)
    return APR_EINVAL;
  if (_NSGetExecutablePath(raw, &len) != 0)
    return APR_ENAMETOOLONG;
  if (!realpath(raw, real))
    return pal__fail("realpath");
  if (strlen(real) >= size)
    return APR_ENAMETOOLONG;
  memcpy(buf, real, strlen(real) + 1);
  return APR_SUCCESS;
#else
  (void)buf;
  (void)size;
  return PAL_EUNSUPPORTED;
#endif
}
