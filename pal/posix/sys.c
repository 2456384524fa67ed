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
  pal__proc_adopting();
  return APR_SUCCESS;
#else
  return PAL_EUNSUPPORTED;
#endif
}

uint64_t pal_pid_start_time(long pid) {
#if defined(__linux__)
  pal__pstat_t st;   /* field 22 of /proc/PID/stat */
  if (pid <= 0 || !pal__proc_stat(pid, &st))
    return 0;
  return (uint64_t)st.start;
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

apr_status_t pal_control_endpoint(char *buf, size_t size,
                                  const char *config_path,
                                  const char *state_dir) {
  int n = snprintf(buf, size, "%s/control.sock", state_dir);
  (void)config_path;
  return n < 0 || (size_t)n >= size ? APR_ENAMETOOLONG : APR_SUCCESS;
}
