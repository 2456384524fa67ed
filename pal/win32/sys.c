/*
 * sys.c -- process-wide facts for a supervisor, Windows side.  There is
 * no subreaper: job objects (KILL_ON_JOB_CLOSE) contain process trees.
 */
#include "pal_win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

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

/* A UTF-8 copy of the environment block, rebuilt on each call (the old
 * copy is kept until the next call: callers use it at once). */
const char *const *pal_environ(void) {
  static char **copy;
  static size_t ncopy;
  wchar_t *block = GetEnvironmentStringsW(), *w;
  size_t n = 0, i;
  char **list;
  if (!block)
    return NULL;
  for (w = block; *w; w += wcslen(w) + 1)
    n++;
  list = calloc(n + 1, sizeof *list);
  if (list) {
    for (i = 0, w = block; *w; w += wcslen(w) + 1)
      if (*w != L'=')   /* skip the per-drive "=C:=C:\..." entries */
        list[i++] = pal__from_wide(w);
  }
  FreeEnvironmentStringsW(block);
  if (!list)
    return NULL;
  if (copy) {
    for (i = 0; i < ncopy; i++)
      free(copy[i]);
    free(copy);
  }
  copy = list;
  ncopy = n;
  return (const char *const *)list;
}

long pal_geteuid(void) { return -1; }

apr_status_t pal_self_exe(char *buf, size_t size) {
  wchar_t w[32768];
  DWORD n;
  char *u;
  size_t len;
  if (size == 0)
    return APR_EINVAL;
  n = GetModuleFileNameW(NULL, w, (DWORD)(sizeof w / sizeof w[0]));
  if (n == 0 || n >= sizeof w / sizeof w[0])
    return pal__fail("GetModuleFileNameW");
  u = pal__from_wide(w);
  if (!u)
    return APR_ENOMEM;
  len = strlen(u);
  if (len >= size) {
    free(u);
    return APR_ENAMETOOLONG;
  }
  memcpy(buf, u, len + 1);
  free(u);
  return APR_SUCCESS;
}

apr_status_t pal_control_endpoint(char *buf, size_t size,
                                  const char *config_path,
                                  const char *state_dir) {
  uint64_t h = 14695981039346656037ULL;   /* FNV-1a offset basis */
  const unsigned char *p;
  int n;
  (void)state_dir;   /* a pipe is not a file in it */
  for (p = (const unsigned char *)config_path; *p; p++) {
    unsigned c = *p;
    if (c >= 'A' && c <= 'Z')
      c += 'a' - 'A';
    else if (c == '/')
      c = '\\';
    h = (h ^ c) * 1099511628211ULL;       /* FNV prime */
  }
  n = snprintf(buf, size, "\\\\.\\pipe\\vigil-%016llx",
               (unsigned long long)h);
  return n < 0 || (size_t)n >= size ? APR_ENAMETOOLONG : APR_SUCCESS;
}
