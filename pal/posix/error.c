/*
 * error.c -- the one place where POSIX errno values become apr_status_t.
 */
#include "pal_posix.h"

apr_status_t pal_err_from_os(int oserr) {
  if (oserr == 0)
    return APR_EGENERAL;
  /* On Unix APR status codes for OS errors are the errno values. */
  return APR_FROM_OS_ERROR(oserr);
}
