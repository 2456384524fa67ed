/*
 * signal.c -- console control events as loop signals.
 *
 * Windows has no POSIX signals; what a service or console program gets
 * are console control events, delivered on a thread the system creates.
 * The handler maps them onto the portable numbers (Ctrl+C -> INT,
 * Ctrl+Break -> BREAK, console close -> HUP, logoff and shutdown -> TERM)
 * and posts one packet to the port of every poll that watches that
 * signal; the loop thread then runs the callbacks.
 *
 * For close, logoff and shutdown, Windows ends the process as soon as the
 * handler returns, so the handler holds on (as libuv does) to give the
 * loop its chance to shut down; the system's own timeout still applies.
 */
#include "pal_win32.h"

static CRITICAL_SECTION reg_lock;
static INIT_ONCE reg_once = INIT_ONCE_STATIC_INIT;
static pal_poll_t *registry;          /* polls watching any signal */
static int handler_installed;

static const struct {
  int portable;
  DWORD event;
} sigmap[] = {
    {PAL_SIGINT, CTRL_C_EVENT},         {PAL_SIGBREAK, CTRL_BREAK_EVENT},
    {PAL_SIGHUP, CTRL_CLOSE_EVENT},     {PAL_SIGTERM, CTRL_SHUTDOWN_EVENT},
};

int pal_signal_native(int signum) {
  size_t i;
  if (signum == PAL_SIGKILL)
    return 9;   /* TerminateProcess: no console event, but meaningful */
  for (i = 0; i < sizeof sigmap / sizeof sigmap[0]; i++)
    if (sigmap[i].portable == signum)
      return (int)sigmap[i].event;
  return -1;
}

int pal_signal_portable(int native) {
  switch (native) {
  case CTRL_C_EVENT: return PAL_SIGINT;
  case CTRL_BREAK_EVENT: return PAL_SIGBREAK;
  case CTRL_CLOSE_EVENT: return PAL_SIGHUP;
  case CTRL_LOGOFF_EVENT:
  case CTRL_SHUTDOWN_EVENT: return PAL_SIGTERM;
  default: return 0;
  }
}

static BOOL CALLBACK init_lock(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once;
  (void)param;
  (void)ctx;
  InitializeCriticalSection(&reg_lock);
  return TRUE;
}

/* Post `sig` to every poll that watches it; 1 if any did. */
static int dispatch(int sig) {
  pal_poll_t *p;
  int any = 0;
  EnterCriticalSection(&reg_lock);
  for (p = registry; p; p = p->sig_next) {
    if (p->sig_user & (1L << sig)) {
      PostQueuedCompletionStatus(p->iocp, (DWORD)sig,
                                 PAL__KEY(p, PAL__KEY_SIG), NULL);
      any = 1;
    }
  }
  LeaveCriticalSection(&reg_lock);
  return any;
}

static BOOL WINAPI console_handler(DWORD event) {
  int sig = pal_signal_portable((int)event);
  if (sig == 0 || !dispatch(sig))
    return FALSE;   /* not ours: the next handler (or the default) acts */
  if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT ||
      event == CTRL_SHUTDOWN_EVENT)
    Sleep(INFINITE);   /* returning would end the process at once */
  return TRUE;
}

static void registry_add(pal_poll_t *p) {
  pal_poll_t *q;
  for (q = registry; q; q = q->sig_next)
    if (q == p)
      return;
  p->sig_next = registry;
  registry = p;
}

static void registry_del(pal_poll_t *p) {
  pal_poll_t **pp;
  for (pp = &registry; *pp; pp = &(*pp)->sig_next)
    if (*pp == p) {
      *pp = p->sig_next;
      break;
    }
  p->sig_next = NULL;
}

apr_status_t pal_signal_watch(pal_poll_t *p, int signum, int on) {
  apr_status_t rv = APR_SUCCESS;
  if (signum <= 0 || signum >= PAL_NSIG)
    return APR_EINVAL;
  if (signum == PAL_SIGKILL || pal_signal_native(signum) < 0)
    return PAL_EUNSUPPORTED;
  InitOnceExecuteOnce(&reg_once, init_lock, NULL, NULL);
  EnterCriticalSection(&reg_lock);
  if (on) {
    if (!handler_installed) {
      if (SetConsoleCtrlHandler(console_handler, TRUE))
        handler_installed = 1;
      else
        rv = pal__fail("SetConsoleCtrlHandler");
    }
    if (rv == APR_SUCCESS) {
      p->sig_user |= 1L << signum;
      registry_add(p);
    }
  } else {
    p->sig_user &= ~(1L << signum);
    if (p->sig_user == 0)
      registry_del(p);
  }
  LeaveCriticalSection(&reg_lock);
  return rv;
}

void pal__signal_destroy(pal_poll_t *p) {
  InitOnceExecuteOnce(&reg_once, init_lock, NULL, NULL);
  EnterCriticalSection(&reg_lock);
  p->sig_user = 0;
  registry_del(p);
  LeaveCriticalSection(&reg_lock);
}

/* To the calling process only, as POSIX raise() does: posted to the
 * watching polls exactly as the console handler posts an event.  Not
 * GenerateConsoleCtrlEvent(event, 0): process group 0 is every process
 * attached to our console -- the children that share it, and the shell
 * or test driver that started us, which a Ctrl+C would stop -- and our
 * own group cannot be named instead (only a group leader has an id, and
 * CTRL_C_EVENT cannot be sent to a group at all).  A signal no poll
 * watches is dropped (POSIX would apply the default action). */
apr_status_t pal_signal_raise(int signum) {
  int native = pal_signal_native(signum);
  if (native < 0 || signum == PAL_SIGKILL)
    return PAL_EUNSUPPORTED;
  InitOnceExecuteOnce(&reg_once, init_lock, NULL, NULL);
  dispatch(signum);
  return APR_SUCCESS;
}
