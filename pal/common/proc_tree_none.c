/*
 * proc_tree_none.c -- the search for what a child left outside its
 * process group, and the exit sweep, where they are not needed or not
 * possible: Windows, whose job objects hold a child's whole tree
 * (pal/win32/proc.c), and POSIX systems without /proc (macOS, the BSDs).
 * Linux: pal/posix/proc_tree.c.
 */
#include "pal_common.h"

#if !defined(__linux__)

apr_status_t pal_proc_kill_escaped(pal_proc_t *proc, const char *mark,
                                   int signum, unsigned *count) {
  (void)proc;
  (void)mark;
  (void)signum;
  if (count)
    *count = 0;
  return PAL_EUNSUPPORTED;
}

uint64_t pal_proc_start_id(long pid) {
  (void)pid;
  return 0;
}

apr_status_t pal_proc_kill_escaped_all(const pal_escape_t *v, size_t n,
                                       unsigned *count) {
  (void)v;
  (void)n;
  if (count)
    *count = 0;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_proc_kill_marked(const char *const *marks, size_t nmarks,
                                  int signum, unsigned *count) {
  (void)marks;
  (void)nmarks;
  (void)signum;
  if (count)
    *count = 0;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_proc_sweep(int signum, unsigned wait_ms, unsigned *count) {
  (void)signum;
  (void)wait_ms;
  if (count)
    *count = 0;
  return PAL_EUNSUPPORTED;
}

#endif
