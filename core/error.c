/*
 * error.c -- library-wide odds and ends: messages, backend name, version,
 * the one-time APR initialisation, and numeric addresses.
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

apr_status_t vg_addr_ip(pal_addr_t *addr, const char *host, int port) {
  return pal_addr_ip(addr, host, port);
}

const char *vg_addr_format(const pal_addr_t *addr, char *buf, size_t size) {
  return pal_addr_format(addr, buf, size);
}

int vg_addr_port(const pal_addr_t *addr) { return pal_addr_port(addr); }
