/*
 * file.c -- plain files for the log writer (pal.h, "Files"): a HANDLE
 * from CreateFileW, used synchronously.  Append mode asks for
 * FILE_APPEND_DATA without FILE_WRITE_DATA, so that every write goes to
 * the end of the file, as O_APPEND does (no seek, no lock).  Every file
 * is shared for reading, writing and deletion: a follower or an editor
 * holding it open never makes a rotation's rename fail.
 */
#include "pal_win32.h"

#include <stdlib.h>

#define FILE_CHUNK (1u << 30)   /* largest single ReadFile / WriteFile */

apr_status_t pal_file_open(pal_fd_t *fd, const char *path, int mode) {
  DWORD access, disposition;
  wchar_t *w;
  HANDLE h;
  *fd = PAL_INVALID_FD;
  switch (mode) {
  case PAL_FILE_READ:
    access = GENERIC_READ;
    disposition = OPEN_EXISTING;
    break;
  case PAL_FILE_APPEND:
    access = FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE;
    disposition = OPEN_ALWAYS;
    break;
  case PAL_FILE_TRUNCATE:
    access = GENERIC_WRITE;
    disposition = CREATE_ALWAYS;
    break;
  default:
    return APR_EINVAL;
  }
  if (!(w = pal__to_wide(path)))
    return pal__fail("MultiByteToWideChar");
  /* NULL security attributes: not inherited by children. */
  h = CreateFileW(w, access,
                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                  disposition, FILE_ATTRIBUTE_NORMAL, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    apr_status_t rv = pal__fail("CreateFileW");
    free(w);
    return rv;
  }
  free(w);
  /* A pipe, the console or NUL is not a log file (pal.h). */
  if (GetFileType(h) != FILE_TYPE_DISK) {
    CloseHandle(h);
    return PAL_ENOTREG;
  }
  *fd = (pal_fd_t)h;
  return APR_SUCCESS;
}

apr_status_t pal_file_size(pal_fd_t fd, apr_off_t *size) {
  LARGE_INTEGER n;
  if (!GetFileSizeEx((HANDLE)fd, &n))
    return pal__fail("GetFileSizeEx");
  *size = (apr_off_t)n.QuadPart;
  return APR_SUCCESS;
}

apr_status_t pal_file_write(pal_fd_t fd, const void *buf, size_t len,
                            size_t *done) {
  const char *p = buf;
  size_t n = 0;
  apr_status_t rv = APR_SUCCESS;
  while (n < len) {
    DWORD chunk = (DWORD)(len - n > FILE_CHUNK ? FILE_CHUNK : len - n);
    DWORD w = 0;
    if (!PAL__SYS(PAL_SYS_WRITE,
                  WriteFile((HANDLE)fd, p + n, chunk, &w, NULL), FALSE)) {
      rv = pal__fail("WriteFile");
      n += w;
      break;
    }
    n += w;
  }
  if (done)
    *done = n;
  return rv;
}

apr_status_t pal_file_read(pal_fd_t fd, void *buf, size_t len, size_t *got) {
  DWORD chunk = (DWORD)(len > FILE_CHUNK ? FILE_CHUNK : len);
  DWORD r = 0;
  *got = 0;
  if (!ReadFile((HANDLE)fd, buf, chunk, &r, NULL)) {
    if (GetLastError() == ERROR_HANDLE_EOF)
      return APR_EOF;
    return pal__fail("ReadFile");
  }
  if (r == 0 && len > 0)
    return APR_EOF;
  *got = r;
  return APR_SUCCESS;
}

apr_status_t pal_file_sync(pal_fd_t fd) {
  return FlushFileBuffers((HANDLE)fd) ? APR_SUCCESS
                                      : pal__fail("FlushFileBuffers");
}

void pal_file_close(pal_fd_t fd) {
  if (fd != PAL_INVALID_FD)
    CloseHandle((HANDLE)fd);
}

apr_status_t pal_file_remove(const char *path) {
  wchar_t *w = pal__to_wide(path);
  apr_status_t rv = APR_SUCCESS;
  if (!w)
    return pal__fail("MultiByteToWideChar");
  if (!DeleteFileW(w))
    rv = pal__fail("DeleteFileW");
  free(w);
  return rv;
}
