/*
 * signal.c -- signal watchers.  The PAL delivers each signal once per
 * poll; here it fans out to every watcher of that signal on the loop.
 * Names are portable: "TERM", "SIGTERM" and "term" all mean VG_SIGTERM.
 */
#include "internal.h"

#include <ctype.h>

static const struct {
  int num;
  const char *name;
} names[] = {
    {VG_SIGHUP, "HUP"},    {VG_SIGINT, "INT"},     {VG_SIGQUIT, "QUIT"},
    {VG_SIGKILL, "KILL"},  {VG_SIGUSR1, "USR1"},   {VG_SIGUSR2, "USR2"},
    {VG_SIGTERM, "TERM"},  {VG_SIGBREAK, "BREAK"}, {VG_SIGWINCH, "WINCH"},
    {VG_SIGCHLD, "CHLD"},  {PAL_SIGPIPE, "PIPE"},  {PAL_SIGALRM, "ALRM"},
    {PAL_SIGCONT, "CONT"}, {PAL_SIGSTOP, "STOP"},
};
#define NNAMES (sizeof names / sizeof names[0])

const char *vg_signal_name(int signum) {
  size_t i;
  for (i = 0; i < NNAMES; i++)
    if (names[i].num == signum)
      return names[i].name;
  return NULL;
}

static int same_ci(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (toupper((unsigned char)*a) != toupper((unsigned char)*b))
      return 0;
  return *a == *b;
}

int vg_signal_from_name(const char *name) {
  size_t i;
  if (!name)
    return 0;
  if (toupper((unsigned char)name[0]) == 'S' &&
      toupper((unsigned char)name[1]) == 'I' &&
      toupper((unsigned char)name[2]) == 'G')
    name += 3;
  for (i = 0; i < NNAMES; i++)
    if (same_ci(name, names[i].name))
      return names[i].num;
  return 0;
}

apr_status_t vg_signal_init(vg_loop_t *loop, vg_signal_t *sig) {
  vg__handle_init(loop, (vg_handle_t *)sig, VG_SIGNAL);
  sig->cb = NULL;
  sig->signum = 0;
  sig->sig_next = NULL;
  return APR_SUCCESS;
}

apr_status_t vg_signal_start(vg_signal_t *sig, vg_signal_cb cb, int signum) {
  vg_loop_t *loop = sig->loop;
  apr_status_t rv;
  if (!cb || signum <= 0 || signum >= PAL_NSIG)
    return APR_EINVAL;
  if (vg__is_closing(sig))
    return VG_ECLOSING;
  if (vg__is_active(sig)) {
    if (sig->signum == signum) {
      sig->cb = cb;
      return APR_SUCCESS;
    }
    vg_signal_stop(sig);
  }
  if (loop->signals[signum] == NULL) {
    rv = pal_signal_watch(loop->poll, signum, 1);
    if (rv != APR_SUCCESS)
      return rv;
  }
  sig->cb = cb;
  sig->signum = signum;
  sig->sig_next = loop->signals[signum];
  loop->signals[signum] = sig;
  vg__handle_start((vg_handle_t *)sig);
  return APR_SUCCESS;
}

apr_status_t vg_signal_stop(vg_signal_t *sig) {
  vg_loop_t *loop = sig->loop;
  vg_signal_t **pp;
  if (!vg__is_active(sig))
    return APR_SUCCESS;
  for (pp = &loop->signals[sig->signum]; *pp; pp = &(*pp)->sig_next)
    if (*pp == sig) {
      *pp = sig->sig_next;
      break;
    }
  /* sig_next is left as it was: a dispatch in progress may still follow
   * it to the watchers after this one. */
  if (loop->signals[sig->signum] == NULL)
    pal_signal_watch(loop->poll, sig->signum, 0);
  vg__handle_stop((vg_handle_t *)sig);
  return APR_SUCCESS;
}

void vg__signal_close(vg_signal_t *sig) { vg_signal_stop(sig); }

void vg__signal_dispatch(pal_poll_t *poll, int signum, void *data) {
  vg_loop_t *loop = data;
  vg_signal_t *s, *next;
  (void)poll;
  if (signum <= 0 || signum >= PAL_NSIG)
    return;
  for (s = loop->signals[signum]; s; s = next) {
    next = s->sig_next;
    if (vg__is_active(s) && s->signum == signum)
      s->cb(s, signum);
  }
}
