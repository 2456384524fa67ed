/*
 * error.c -- the one place where POSIX errno values become apr_status_t.
 */
#include "pal_posix.h"

#include <netdb.h>

apr_status_t pal_err_from_os(int oserr) {
  if (oserr == 0)
    return APR_EGENERAL;
  /* On Unix APR status codes for OS errors are the errno values. */
  return APR_FROM_OS_ERROR(oserr);
}

/* As APR's own apr_sockaddr_info_get() does, so that apr_strerror() gives
 * gai_strerror()'s text: EAI_* codes (negative in glibc) are offset into
 * APR's resolver range; EAI_SYSTEM means errno tells. */
apr_status_t pal__gai_error(int rc) {
  if (rc == EAI_SYSTEM)
    return pal_err_from_os(errno);
  return APR_OS_START_EAIERR + (rc < 0 ? -rc : rc);
}
