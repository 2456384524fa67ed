/*
 * sys.c -- process-wide facts for a supervisor, Windows side.  There is
 * no subreaper: job objects (KILL_ON_JOB_CLOSE) contain process trees.
 */
#include "pal_win32.h"

#include <string.h>

apr_status_t pal_set_subreaper(void) { return PAL_EUNSUPPORTED; }

uint64_t pal_pid_start_time(long pid) {
  FILETIME created, exited, kernel, user;
  uint64_t t = 0;
  HANDLE h;
  if (pid <= 0)
    return 0;
  h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
  if (!h)
    return 0;
  if (GetProcessTimes(h, &created, &exited, &kernel, &user))
    t = ((uint64_t)created.dwHighDateTime << 32) | created.dwLowDateTime;
  CloseHandle(h);
  return t;
}

long pal_geteuid(void) { return -1; }

unsigned pal_ncpu(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwNumberOfProcessors ? si.dwNumberOfProcessors : 1u;
}

apr_status_t pal_hostname(char *buf, size_t size) {
  DWORD n = (DWORD)size;
  if (size == 0)
    return APR_EINVAL;
  if (!GetComputerNameA(buf, &n))
    return pal__fail("GetComputerNameA");
  return APR_SUCCESS;
}
