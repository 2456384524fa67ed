/*
 * error.c -- the one place where POSIX errno values become apr_status_t,
 * plus messages for Vigil's own codes and the failing-call record.
 */
#include "pal_posix.h"

#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

_Thread_local const char *pal__last_call = "";

apr_status_t pal_err_from_os(int oserr) {
  if (oserr == 0)
    return APR_EGENERAL;
  /* On Unix APR status codes for OS errors are the errno values. */
  return APR_FROM_OS_ERROR(oserr);
}

const char *pal_last_call(void) {
  return pal__last_call ? pal__last_call : "";
}

const char *pal_strerror(apr_status_t rv, char *buf, size_t size) {
  const char *msg = NULL;
  switch (rv) {
  case PAL_ECANCELED: msg = "operation cancelled"; break;
  case PAL_ECLOSING: msg = "handle is closing"; break;
  case PAL_EBUSY: msg = "resource busy (handles or requests still active)";
    break;
  case PAL_EQUEUEFULL: msg = "queue is full"; break;
  case PAL_ELOCKED: msg = "lock is held by another process"; break;
  case PAL_EUNSUPPORTED: msg = "not supported on this platform"; break;
  case PAL_EEXEC: msg = "child process setup failed before exec"; break;
  case PAL_ENOPROC: msg = "no such process"; break;
  default: break;
  }
  if (msg) {
    apr_cpystrn(buf, msg, size);
    return buf;
  }
  return apr_strerror(rv, buf, size);
}
