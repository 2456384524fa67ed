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
 *
 * A console for the children (pal__console_for_children): the stop
 * ladder's first step is CTRL_BREAK_EVENT to a child's process group,
 * and GenerateConsoleCtrlEvent reaches only processes attached to the
 * caller's console.  A supervisor without one (a Windows service, or
 * started detached) makes one, hidden, before its first child, and its
 * children attach to it (proc.c).  What others do: WinSW attaches to
 * each child's console in turn (AttachConsole, send, FreeConsole), which
 * needs a console per child and races between children stopped at once;
 * Go and libuv send nothing (TerminateProcess only).  One shared console
 * keeps the send a single call from any thread.  We are not in the
 * child's group (it has its own, CREATE_NEW_PROCESS_GROUP, whose id is
 * its pid), so the BREAK we send does not reach us; but a child may send
 * Ctrl+C or Ctrl+Break to "group 0", every process on the console, and on
 * a hidden console nobody else can: there we ignore both, or a child's
 * broadcast would stop the supervisor.
 */
#include "proc_win32.h"

/* user32's ShowWindow: apr.h defines NOUSER, which hides winuser.h. */
__declspec(dllimport) BOOL WINAPI ShowWindow(HWND w, int cmd);
#define SHOW_HIDE 0   /* SW_HIDE */

static CRITICAL_SECTION reg_lock;
static INIT_ONCE reg_once = INIT_ONCE_STATIC_INIT;
static pal_poll_t *registry;          /* polls watching any signal */
static int handler_installed;
static volatile LONG hidden_console;  /* we made our console: see top */

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
  int sig;
  if (hidden_console && (event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT))
    return TRUE;   /* a child's broadcast on our hidden console */
  /* A service is told of logoff (any user's) and shutdown as console
   * events too; the SCM's STOP/SHUTDOWN/PRESHUTDOWN controls drive its
   * shutdown.  Pass them on (as Go's runtime does): taking them as TERM
   * would stop every service at a logoff. */
  if (pal__win_as_service &&
      (event == CTRL_LOGOFF_EVENT || event == CTRL_SHUTDOWN_EVENT))
    return FALSE;
  sig = pal_signal_portable((int)event);
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

/* Under reg_lock. */
static apr_status_t install_handler(void) {
  if (handler_installed)
    return APR_SUCCESS;
  if (!SetConsoleCtrlHandler(console_handler, TRUE))
    return pal__fail("SetConsoleCtrlHandler");
  handler_installed = 1;
  return APR_SUCCESS;
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
    rv = install_handler();
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

/* ---- a console for the children ---------------------------------------- */

/* AllocConsoleWithOptions (Windows 11 24H2) makes a console with no
 * window at all; AllocConsole shows one until it is hidden -- a flash on
 * an interactive desktop (none in a service's session), or a tab where
 * Windows Terminal is the default terminal.  Declared here: the mingw
 * and older SDK headers lack it. */
typedef struct {
  int mode;                   /* ALLOC_CONSOLE_MODE_NO_WINDOW = 2 */
  BOOL use_show_window;
  WORD show_window;
} alloc_console_options_t;
typedef HRESULT(WINAPI *alloc_console_fn)(alloc_console_options_t *, int *);

static BOOL alloc_hidden_console(void) {
  HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
  alloc_console_fn with_options =
      k32 ? (alloc_console_fn)(void (*)(void))GetProcAddress(
                k32, "AllocConsoleWithOptions")
          : NULL;
  HWND w;
  if (with_options) {
    alloc_console_options_t opt = {2, FALSE, 0};
    int result = 0;   /* 1: ALLOC_CONSOLE_RESULT_NEW_CONSOLE */
    return SUCCEEDED(with_options(&opt, &result)) && result == 1;
  }
  if (!AllocConsole())
    return FALSE;
  if ((w = GetConsoleWindow()) != NULL)
    ShowWindow(w, SHOW_HIDE);
  return TRUE;
}

static INIT_ONCE console_once = INIT_ONCE_STATIC_INIT;
static int console_ok;

/* Attached to a console?  Not GetConsoleCP() != 0: Wine 8 says 0 on a
 * console without a window. */
static int has_console(void) {
  DWORD pids[1];
  return GetConsoleProcessList(pids, 1) > 0;
}

static BOOL CALLBACK console_init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  static const DWORD ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
                               STD_ERROR_HANDLE};
  HANDLE std[3];
  int i;
  (void)once;
  (void)param;
  (void)ctx;
  if (has_console()) {
    console_ok = 1;   /* a console of our own: the children share it */
    return TRUE;
  }
  for (i = 0; i < 3; i++)
    std[i] = GetStdHandle(ids[i]);
  /* A process Wine starts without a terminal is attached to a console
   * with no process list, and AllocConsole refuses it (access denied):
   * leave that first (it can carry no event to anyone). */
  FreeConsole();
  if (!alloc_hidden_console())
    return TRUE;   /* children get consoles of their own; BREAK fails */
  /* AllocConsole points our stdio at the new console: ours stay what
   * they were (a log file, a pipe, or nothing). */
  for (i = 0; i < 3; i++)
    SetStdHandle(ids[i], std[i]);
  InitOnceExecuteOnce(&reg_once, init_lock, NULL, NULL);
  EnterCriticalSection(&reg_lock);
  InterlockedExchange(&hidden_console, 1);
  /* Without a handler of ours, the default one would end this process
   * on the first broadcast. */
  install_handler();
  LeaveCriticalSection(&reg_lock);
  console_ok = 1;
  return TRUE;
}

int pal__console_for_children(void) {
  InitOnceExecuteOnce(&console_once, console_init, NULL, NULL);
  return console_ok;
}
