/*
 * svcmgr_stub.c -- the OS service manager section of pal.h on POSIX:
 * nothing here.  systemd and launchd are driven through their own tools
 * (services/main.c) and told of readiness through sd_notify
 * (services/notify.c); the supervisor logs to its own log, not syslog.
 */
#include "pal_posix.h"

apr_status_t pal_svcmgr_install(const pal_svc_install_t *opts) {
  (void)opts;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_svcmgr_uninstall(const char *name, uint64_t timeout_ms) {
  (void)name;
  (void)timeout_ms;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_svcmgr_start(const char *name, uint64_t timeout_ms) {
  (void)name;
  (void)timeout_ms;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_svcmgr_stop(const char *name, uint64_t timeout_ms) {
  (void)name;
  (void)timeout_ms;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_svcmgr_query(const char *name, pal_svc_status_t *st) {
  (void)name;
  (void)st;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_svcmgr_command_line(const char *const *argv, char *buf,
                                     size_t size) {
  (void)argv;
  (void)buf;
  (void)size;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_svcmgr_dispatch(const char *name, pal_svcmgr_main_fn main_fn,
                                 void *arg, int *code) {
  (void)name;
  (void)main_fn;
  (void)arg;
  (void)code;
  return PAL_EUNSUPPORTED;
}

void pal_svcmgr_report(int state, uint64_t wait_hint_ms) {
  (void)state;
  (void)wait_hint_ms;
}

apr_status_t pal_eventlog_report(int level, const char *message) {
  (void)level;
  (void)message;
  return PAL_EUNSUPPORTED;
}

int pal_eventlog_supported(void) { return 0; }

apr_status_t pal_eventlog_register(const char *exe) {
  (void)exe;
  return PAL_EUNSUPPORTED;
}
