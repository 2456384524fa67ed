/*
 * strerror.c -- messages for Vigil's own status codes, and the record of
 * the OS call that failed last in this thread.
 */
#include "pal_common.h"

#include <apr_strings.h>

_Thread_local const char *pal__last_call = "";

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
  case PAL_ENOPROC: msg = "no such process"; break;
  case PAL_ESVCEXISTS: msg = "the service is already installed"; break;
  case PAL_ESVCNOENT: msg = "no such service"; break;
  case PAL_ESVCDELETED: msg = "the service is marked for deletion"; break;
  case PAL_ESVCRUNNING: msg = "the service is already running"; break;
  case PAL_ESVCSTOPPED: msg = "the service is not running"; break;
  case PAL_ESVCNOTSCM:
    msg = "not started by the service control manager"; break;
  case PAL_ENOTREG: msg = "not a regular file"; break;
  case PAL_ETOOBIG: msg = "too large for one datagram"; break;
  default: break;
  }
  if (msg) {
    apr_cpystrn(buf, msg, size);
    return buf;
  }
  return apr_strerror(rv, buf, size);
}
