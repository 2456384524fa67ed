/*
 * pidfile.c -- type="attach" on Windows: reading a pid file (no reparse
 * point followed, nothing but a disk file read) and who a process is.
 */
#include "pal_win32.h"

#include <apr_time.h>

#include <stdlib.h>
#include <string.h>

apr_status_t pal_pidfile_read(const char *path, long *pid, int64_t *mtime,
                              char *why_buf, size_t why_size,
                              const char **why) {
  char buf[PAL_PIDFILE_MAX + 1];
  BY_HANDLE_FILE_INFORMATION fi;
  DWORD got = 0, n;
  wchar_t *w;
  HANDLE h;
  uint64_t ft;
  *pid = 0;
  *mtime = 0;
  if (why)
    *why = NULL;
  if (!(w = pal__to_wide(path)))
    return pal__fail("MultiByteToWideChar");
  /* FILE_FLAG_OPEN_REPARSE_POINT: a symbolic link or junction is opened
   * itself, and refused below, never followed. */
  h = CreateFileW(w, GENERIC_READ,
                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                  OPEN_EXISTING,
                  FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE)
    return pal__fail("CreateFileW");
  if (GetFileType(h) != FILE_TYPE_DISK ||
      !GetFileInformationByHandle(h, &fi) ||
      (fi.dwFileAttributes &
       (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT))) {
    CloseHandle(h);
    return PAL_ENOTREG;
  }
  /* FILETIME: 100 ns since 1601. */
  ft = ((uint64_t)fi.ftLastWriteTime.dwHighDateTime << 32) |
       fi.ftLastWriteTime.dwLowDateTime;
  *mtime = (apr_time_t)(ft / 10) - APR_INT64_C(11644473600000000);
  while (got < sizeof buf) {
    if (!ReadFile(h, buf + got, (DWORD)sizeof buf - got, &n, NULL)) {
      apr_status_t rv = pal__fail("ReadFile");
      CloseHandle(h);
      return rv;
    }
    if (n == 0)
      break;
    got += n;
  }
  CloseHandle(h);
  if (got > PAL_PIDFILE_MAX) {
    if (why)
      *why = "is longer than 64 bytes, more than any pid file";
    return APR_EINVAL;
  }
  return pal_pidfile_parse(buf, got, pid, why_buf, why_size, why);
}

/* The user SID of a process token, in a buffer of size bytes. */
static int token_user(HANDLE process, TOKEN_USER *tu, DWORD size) {
  HANDLE tok;
  DWORD n;
  int ok;
  if (!OpenProcessToken(process, TOKEN_QUERY, &tok))
    return 0;
  ok = GetTokenInformation(tok, TokenUser, tu, size, &n) != 0;
  CloseHandle(tok);
  return ok;
}

apr_status_t pal_pid_info(long pid, pal_pidinfo_t *out) {
  union {
    TOKEN_USER tu;
    char raw[256];
  } a, b;
  FILETIME created, exited, kernel, user;
  DWORD code;
  HANDLE h;
  uint64_t ft;
  memset(out, 0, sizeof *out);
  out->uid = out->euid = -1;
  if (pid <= 0)
    return APR_EINVAL;
  h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
  if (!h) {
    if (GetLastError() == ERROR_INVALID_PARAMETER)
      return PAL_ENOPROC;
    return pal__fail("OpenProcess");
  }
  /* A process object outlives its process while a handle holds it. */
  if (GetExitCodeProcess(h, &code) && code != STILL_ACTIVE) {
    CloseHandle(h);
    return PAL_ENOPROC;
  }
  if (GetProcessTimes(h, &created, &exited, &kernel, &user)) {
    ft = ((uint64_t)created.dwHighDateTime << 32) | created.dwLowDateTime;
    out->start = (apr_time_t)(ft / 10) - APR_INT64_C(11644473600000000);
    out->id = ft;
  }
  out->same_user = token_user(h, &a.tu, sizeof a) &&
                   token_user(GetCurrentProcess(), &b.tu, sizeof b) &&
                   EqualSid(a.tu.User.Sid, b.tu.User.Sid);
  CloseHandle(h);
  return APR_SUCCESS;
}
