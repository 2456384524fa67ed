/*
 * file.c -- plain files for the log writer (pal.h, "Files"): open, size,
 * write, read, sync, close on a bare descriptor.  No buffering, no memory:
 * what a log file needs between two rotations is its descriptor.
 */
#include "pal_posix.h"

#include <fcntl.h>
#include <sys/stat.h>

apr_status_t pal_file_open(pal_fd_t *fd, const char *path, int mode) {
  int flags, f;
  *fd = PAL_INVALID_FD;
  switch (mode) {
  case PAL_FILE_READ: flags = O_RDONLY; break;
  case PAL_FILE_APPEND: flags = O_WRONLY | O_CREAT | O_APPEND; break;
  case PAL_FILE_TRUNCATE: flags = O_WRONLY | O_CREAT | O_TRUNC; break;
  default: return APR_EINVAL;
  }
  /* O_NONBLOCK: the open of a FIFO returns at once (ENXIO for writing
   * with no reader), so fstat() can refuse it; the flag is cleared for
   * the regular file that remains (where it changes nothing anyway). */
  do
    f = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
  while (f < 0 && errno == EINTR);
  if (f < 0) {
    struct stat st;
    if (errno == ENXIO && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
      return PAL_ENOTREG;
    return pal__fail("open");
  }
  {
    struct stat st;
    apr_status_t rv = APR_SUCCESS;
    if (fstat(f, &st) < 0)
      rv = pal__fail("fstat");
    else if (!S_ISREG(st.st_mode))
      rv = PAL_ENOTREG;
    if (rv != APR_SUCCESS) {
      close(f);
      return rv;
    }
  }
  (void)pal__set_nonblock(f, 0);
  *fd = (pal_fd_t)f;
  return APR_SUCCESS;
}

apr_status_t pal_file_size(pal_fd_t fd, apr_off_t *size) {
  struct stat st;
  if (fstat((int)fd, &st) < 0)
    return pal__fail("fstat");
  *size = (apr_off_t)st.st_size;
  return APR_SUCCESS;
}

apr_status_t pal_file_write(pal_fd_t fd, const void *buf, size_t len,
                            size_t *done) {
  const char *p = buf;
  size_t n = 0;
  apr_status_t rv = APR_SUCCESS;
  while (n < len) {
    ssize_t w = PAL__SYS(PAL_SYS_WRITE, write((int)fd, p + n, len - n));
    if (w < 0) {
      if (errno == EINTR)
        continue;
      rv = pal__fail("write");
      break;
    }
    n += (size_t)w;
  }
  if (done)
    *done = n;
  return rv;
}

apr_status_t pal_file_read(pal_fd_t fd, void *buf, size_t len, size_t *got) {
  ssize_t r;
  *got = 0;
  do
    r = read((int)fd, buf, len);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return pal__fail("read");
  if (r == 0 && len > 0)
    return APR_EOF;
  *got = (size_t)r;
  return APR_SUCCESS;
}

apr_status_t pal_file_sync(pal_fd_t fd) {
  int r;
  do
    r = fsync((int)fd);
  while (r < 0 && errno == EINTR);
  return r < 0 ? pal__fail("fsync") : APR_SUCCESS;
}

void pal_file_close(pal_fd_t fd) {
  if (fd != PAL_INVALID_FD)
    close((int)fd);
}

apr_status_t pal_file_remove(const char *path) {
  return unlink(path) < 0 ? pal__fail("unlink") : APR_SUCCESS;
}
