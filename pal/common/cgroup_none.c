/*
 * cgroup_none.c -- the cgroup v2 calls where there are no cgroups (every
 * system but Linux: macOS, the BSDs, Windows, whose job objects do the
 * same work in pal/win32/proc.c).  Linux: pal/posix/cgroup.c.
 */
#include "pal_common.h"

#include <string.h>

#if !defined(__linux__)

apr_status_t pal_cgroup_self(char *buf, size_t size, int *is_root) {
  (void)buf;
  (void)size;
  *is_root = 0;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_writable(const char *dir) {
  (void)dir;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_create(const char *dir) {
  (void)dir;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_remove(const char *dir) {
  (void)dir;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_read(const char *dir, const char *file, char *buf,
                             size_t size) {
  (void)dir;
  (void)file;
  (void)buf;
  (void)size;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_write(const char *dir, const char *file,
                              const char *value) {
  (void)dir;
  (void)file;
  (void)value;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_controllers(const char *dir, unsigned *mask) {
  (void)dir;
  *mask = 0;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_subtree(const char *dir, unsigned *mask) {
  (void)dir;
  *mask = 0;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_enable(const char *dir, unsigned mask) {
  (void)dir;
  (void)mask;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_join(const char *dir, long pid) {
  (void)dir;
  (void)pid;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_kill(const char *dir) {
  (void)dir;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_signal(const char *dir, int signum,
                               long except_pgid) {
  (void)dir;
  (void)signum;
  (void)except_pgid;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_usage(const char *dir, pal_usage_t *out) {
  (void)dir;
  memset(out, 0, sizeof *out);
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_cgroup_stat(const char *dir, pal_cgroup_stat_t *out) {
  (void)dir;
  out->memory_current = out->cpu_usec = out->oom_kills = -1;
  out->populated = 0;
  return PAL_EUNSUPPORTED;
}

#endif
