/*
 * error.c -- library-wide odds and ends: messages, version, backend name,
 * and the one-time APR initialisation.
 */
#include "internal.h"

#include <apr_general.h>

const char *vg_strerror(apr_status_t rv, char *buf, size_t size) {
  return pal_strerror(rv, buf, size);
}

const char *vg_backend(void) { return pal_poll_name(); }

const char *vg_version(void) { return VG_VERSION_STRING; }

apr_status_t vg_initialize(void) {
  static int done;
  apr_status_t rv;
  if (done)
    return APR_SUCCESS;
  rv = apr_initialize();
  if (rv == APR_SUCCESS)
    done = 1;
  return rv;
}
