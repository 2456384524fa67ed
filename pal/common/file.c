/*
 * file.c -- opening a file to read it with APR's file API, refusing what
 * is not a regular file without waiting for it (shared by every backend).
 */
#include "pal_common.h"

#include <apr_file_info.h>
#include <apr_file_io.h>

/* APR opens with O_NONBLOCK where the OS has it (so that the open of a
 * FIFO returns at once instead of waiting for a writer); Windows has no
 * such flag (apr_file_open refuses it) and no FIFO that a path in a
 * directory could name: a device there (CON) opens without waiting and
 * is refused by its type below. */
#if defined(_WIN32)
#define PAL__FOPEN_NOWAIT 0
#else
#define PAL__FOPEN_NOWAIT APR_FOPEN_NONBLOCK
#endif

apr_status_t pal_file_open_apr(apr_file_t **f, const char *path,
                               apr_pool_t *pool) {
  apr_finfo_t fi;
  apr_status_t rv;
  rv = apr_file_open(f, path, APR_FOPEN_READ | APR_FOPEN_BINARY |
                                  APR_FOPEN_LARGEFILE | PAL__FOPEN_NOWAIT,
                     APR_FPROT_OS_DEFAULT, pool);
  if (rv != APR_SUCCESS)
    return rv;
  rv = apr_file_info_get(&fi, APR_FINFO_TYPE, *f);
  if (rv == APR_SUCCESS && fi.filetype != APR_REG)
    rv = PAL_ENOTREG;
  if (rv != APR_SUCCESS) {
    apr_file_close(*f);
    *f = NULL;
  }
  return rv;
}
