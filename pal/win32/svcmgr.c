/*
 * svcmgr.c -- the Windows Service Control Manager, and the Event Log.
 *
 * Map:
 *   1. helpers: UTF-8 <-> UTF-16, opening the manager and a service
 *   2. install / uninstall / start / stop / query (the `vigil service`
 *      verbs; the CLI side may wait by polling, as sc.exe does: the
 *      manager has no completion notice older than Vista's
 *      NotifyServiceStatusChange, which Wine does not implement)
 *   3. running as a service: the dispatcher, ServiceMain, the control
 *      handler and status reports
 *   4. the Event Log
 *
 * Threads when running as a service: the process's main thread sits in
 * StartServiceCtrlDispatcherW and runs the control handler; ServiceMain
 * runs on a thread the dispatcher creates and calls the caller's main_fn
 * (the supervisor and its loop).  The handler reaches the loop the way a
 * console Ctrl+C does: pal_signal_raise(PAL_SIGTERM) posts a packet to
 * every poll that watches TERM (vg_graceful watches it), so a stop is the
 * same graceful shutdown, taken up on the loop thread.  `state` is shared
 * by both threads and guarded by `lock`.
 */
#include "proc_win32.h"

#include <stdlib.h>
#include <string.h>

/* Recovery: the manager restarts a failed vigil after 5 s, then 10 s,
 * then 30 s (and 30 s for each later failure), and forgets the count
 * after a day without one. */
static const DWORD restart_delays_ms[] = {5000, 10000, 30000};
#define FAILURE_RESET_S (24 * 60 * 60)

/* Wait hint while ServiceMain loads the configuration and sets up. */
#define START_HINT_MS 30000
/* Wait hint the handler reports on a stop control, until the supervisor
 * reports its own (shutdown-timeout based) one. */
#define STOP_HINT_MS 30000

/* ---- 1. helpers ----------------------------------------------------------- */

/* Convert, or fail with the conversion's error. */
static apr_status_t wide(const char *s, wchar_t **out) {
  *out = NULL;
  if (!s)
    return APR_SUCCESS;
  *out = pal__to_wide(s);
  return *out ? APR_SUCCESS : pal__fail("MultiByteToWideChar");
}

static void utf8_into(const wchar_t *w, char *buf, size_t size) {
  char *u = w ? pal__from_wide(w) : NULL;
  size_t n = u ? strlen(u) : 0;
  if (size == 0)
    return;
  if (n >= size)
    n = size - 1;
  if (u)
    memcpy(buf, u, n);
  buf[n] = '\0';
  free(u);
}

static apr_status_t open_manager(DWORD access, SC_HANDLE *scm) {
  *scm = OpenSCManagerW(NULL, NULL, access);
  return *scm ? APR_SUCCESS : pal__fail("OpenSCManagerW");
}

/* The manager and one service of it; both closed by close_pair(). */
static apr_status_t open_service(const char *name, DWORD scm_access,
                                 DWORD access, SC_HANDLE *scm,
                                 SC_HANDLE *svc) {
  wchar_t *wname;
  apr_status_t rv;
  *svc = NULL;
  if ((rv = wide(name, &wname)) != APR_SUCCESS)
    return rv;
  rv = open_manager(scm_access, scm);
  if (rv == APR_SUCCESS) {
    *svc = OpenServiceW(*scm, wname, access);
    if (!*svc) {
      rv = pal__fail("OpenServiceW");
      CloseServiceHandle(*scm);
      *scm = NULL;
    }
  }
  free(wname);
  return rv;
}

static void close_pair(SC_HANDLE scm, SC_HANDLE svc) {
  if (svc)
    CloseServiceHandle(svc);
  if (scm)
    CloseServiceHandle(scm);
}

/* ---- 2. install / uninstall / start / stop / query ------------------------ */

/* The SCM keeps the command line as the service's ImagePath, a
 * REG_EXPAND_SZ: %NAME% in it is expanded at every start, and nothing
 * escapes a '%'.  So an argument with a '%' is refused rather than let a
 * path become another one; so is a line break, which no file name holds
 * and a registry editor would show as another line.  Then the quoting of
 * CreateProcess (pal__win_quote_args(), which refuses a '"' in argv[0]). */
static apr_status_t scm_quote_args(const char *const *argv, wchar_t **line) {
  size_t i;
  for (i = 0; argv && argv[i]; i++)
    if (strpbrk(argv[i], "%\r\n"))
      return APR_EINVAL;
  return pal__win_quote_args(argv, 0, line);
}

apr_status_t pal_svcmgr_command_line(const char *const *argv, char *buf,
                                     size_t size) {
  wchar_t *line;
  char *u;
  apr_status_t rv = scm_quote_args(argv, &line);
  if (rv != APR_SUCCESS)
    return rv;
  u = pal__from_wide(line);
  free(line);
  if (!u)
    return pal__fail("WideCharToMultiByte");
  if (strlen(u) >= size)
    rv = APR_ENAMETOOLONG;
  else
    memcpy(buf, u, strlen(u) + 1);
  free(u);
  return rv;
}

/* "user" is a local account (".\user"); LocalService and NetworkService
 * are the built-in ones of that name; "DOMAIN\user" and "user@domain"
 * pass as given. */
static const char *account_name(const char *a, char *buf, size_t size) {
  if (!a || strchr(a, '\\') || strchr(a, '@'))
    return a;
  if (!_stricmp(a, "LocalService") || !_stricmp(a, "NetworkService"))
    _snprintf(buf, size, "NT AUTHORITY\\%s", a);
  else
    _snprintf(buf, size, ".\\%s", a);
  buf[size - 1] = '\0';
  return buf;
}

/* One ChangeServiceConfig2W level.  `optional`: a manager that does not
 * know the level (ERROR_INVALID_LEVEL) goes without it. */
static apr_status_t config2(SC_HANDLE svc, DWORD level, void *info,
                            const char *call, int optional) {
  if (ChangeServiceConfig2W(svc, level, info))
    return APR_SUCCESS;
  if (optional && GetLastError() == ERROR_INVALID_LEVEL)
    return APR_SUCCESS;
  return pal__fail(call);
}

/* The parts of the configuration that CreateServiceW cannot set:
 * description, delayed start, recovery, pre-shutdown timeout.  Wine 8
 * knows neither the delayed start nor the non-crash flag: there vigil
 * starts with the other automatic services and is restarted when it
 * crashes (not when it exits non-zero); pal_svcmgr_query tells. */
static apr_status_t configure(SC_HANDLE svc, const pal_svc_install_t *o) {
  SERVICE_DELAYED_AUTO_START_INFO delayed;
  SERVICE_FAILURE_ACTIONSW fa;
  SERVICE_FAILURE_ACTIONS_FLAG flag;
  SC_ACTION actions[sizeof restart_delays_ms / sizeof restart_delays_ms[0]];
  size_t i;
  apr_status_t rv;

  if (o->description) {
    SERVICE_DESCRIPTIONW d;
    if ((rv = wide(o->description, &d.lpDescription)) != APR_SUCCESS)
      return rv;
    rv = config2(svc, SERVICE_CONFIG_DESCRIPTION, &d,
                 "ChangeServiceConfig2W(DESCRIPTION)", 0);
    free(d.lpDescription);
    if (rv != APR_SUCCESS)
      return rv;
  }
  /* Delayed: after the boot's other automatic services, so that vigil's
   * start does not compete with them. */
  delayed.fDelayedAutostart = TRUE;
  rv = config2(svc, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed,
               "ChangeServiceConfig2W(DELAYED_AUTO_START_INFO)", 1);
  if (rv != APR_SUCCESS)
    return rv;

  for (i = 0; i < sizeof actions / sizeof actions[0]; i++) {
    actions[i].Type = SC_ACTION_RESTART;
    actions[i].Delay = restart_delays_ms[i];
  }
  memset(&fa, 0, sizeof fa);
  fa.dwResetPeriod = FAILURE_RESET_S;
  fa.cActions = (DWORD)(sizeof actions / sizeof actions[0]);
  fa.lpsaActions = actions;
  rv = config2(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa,
               "ChangeServiceConfig2W(FAILURE_ACTIONS)", 0);
  if (rv != APR_SUCCESS)
    return rv;
  /* Also when vigil exits by itself with a non-zero status (reported as
   * ERROR_SERVICE_SPECIFIC_ERROR), not only when it crashes. */
  flag.fFailureActionsOnNonCrashFailures = TRUE;
  rv = config2(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag,
               "ChangeServiceConfig2W(FAILURE_ACTIONS_FLAG)", 1);
  if (rv != APR_SUCCESS || !o->preshutdown_ms)
    return rv;
  {
    SERVICE_PRESHUTDOWN_INFO pre;
    pre.dwPreshutdownTimeout = o->preshutdown_ms > 0xffffffffu
                                   ? 0xffffffffu
                                   : (DWORD)o->preshutdown_ms;
    return config2(svc, SERVICE_CONFIG_PRESHUTDOWN_INFO, &pre,
                   "ChangeServiceConfig2W(PRESHUTDOWN_INFO)", 0);
  }
}

apr_status_t pal_svcmgr_install(const pal_svc_install_t *o) {
  wchar_t *name = NULL, *display = NULL, *line = NULL, *account = NULL,
          *password = NULL;
  char abuf[512];
  SC_HANDLE scm = NULL, svc = NULL;
  apr_status_t rv;

  if (!o || !o->name || !*o->name || !o->argv || !o->argv[0])
    return APR_EINVAL;
  if ((rv = wide(o->name, &name)) != APR_SUCCESS ||
      (rv = wide(o->display_name ? o->display_name : o->name, &display)) !=
          APR_SUCCESS ||
      (rv = wide(account_name(o->account, abuf, sizeof abuf), &account)) !=
          APR_SUCCESS ||
      (rv = wide(o->password, &password)) != APR_SUCCESS)
    goto fail_strings;
  if ((rv = scm_quote_args(o->argv, &line)) != APR_SUCCESS)
    goto fail_strings;
  if ((rv = open_manager(SC_MANAGER_CREATE_SERVICE, &scm)) != APR_SUCCESS)
    goto fail_strings;
  svc = CreateServiceW(scm, name, display, SERVICE_ALL_ACCESS,
                       SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                       SERVICE_ERROR_NORMAL, line, NULL, NULL, NULL, account,
                       password);
  if (!svc) {
    rv = pal__fail("CreateServiceW");
    goto fail_manager;
  }
  if ((rv = configure(svc, o)) != APR_SUCCESS)
    goto fail_service;
  close_pair(scm, svc);
  goto done;

  /* Half a service (no recovery, say) is worse than none. */
fail_service:
  DeleteService(svc);
  CloseServiceHandle(svc);
fail_manager:
  CloseServiceHandle(scm);
fail_strings:
done:
  if (password)
    SecureZeroMemory(password, wcslen(password) * sizeof *password);
  free(name);
  free(display);
  free(line);
  free(account);
  free(password);
  return rv;
}

static apr_status_t query_status(SC_HANDLE svc, SERVICE_STATUS_PROCESS *ss) {
  DWORD need;
  if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)ss,
                            sizeof *ss, &need))
    return pal__fail("QueryServiceStatusEx");
  return APR_SUCCESS;
}

/* Wait while the service is in `pending`, up to timeout_ms, polling at a
 * tenth of its wait hint (1 s at most, 100 ms at least), as Microsoft's
 * own sample does.  The state it settled in is in *ss. */
static apr_status_t wait_while(SC_HANDLE svc, DWORD pending,
                               uint64_t timeout_ms,
                               SERVICE_STATUS_PROCESS *ss) {
  uint64_t start = GetTickCount64();
  apr_status_t rv;
  for (;;) {
    DWORD step;
    if ((rv = query_status(svc, ss)) != APR_SUCCESS)
      return rv;
    if (ss->dwCurrentState != pending)
      return APR_SUCCESS;
    if (GetTickCount64() - start >= timeout_ms)
      return APR_TIMEUP;
    step = ss->dwWaitHint / 10;
    step = step < 100 ? 100 : step > 1000 ? 1000 : step;
    Sleep(step);
  }
}

/* Send STOP (unless it is stopping already) and wait for STOPPED. */
static apr_status_t stop_and_wait(SC_HANDLE svc, uint64_t timeout_ms) {
  SERVICE_STATUS_PROCESS ss;
  SERVICE_STATUS st;
  apr_status_t rv = query_status(svc, &ss);
  if (rv != APR_SUCCESS)
    return rv;
  if (ss.dwCurrentState == SERVICE_STOPPED)
    return PAL_ESVCSTOPPED;
  if (ss.dwCurrentState != SERVICE_STOP_PENDING &&
      !ControlService(svc, SERVICE_CONTROL_STOP, &st))
    return pal__fail("ControlService");
  rv = wait_while(svc, SERVICE_STOP_PENDING, timeout_ms, &ss);
  if (rv == APR_SUCCESS && ss.dwCurrentState != SERVICE_STOPPED)
    rv = APR_EGENERAL;
  return rv;
}

apr_status_t pal_svcmgr_uninstall(const char *name, uint64_t timeout_ms) {
  SC_HANDLE scm, svc;
  apr_status_t rv = open_service(
      name, SC_MANAGER_CONNECT,
      SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, &scm, &svc);
  if (rv != APR_SUCCESS)
    return rv;
  rv = stop_and_wait(svc, timeout_ms);
  if (rv == PAL_ESVCSTOPPED)
    rv = APR_SUCCESS;
  if (rv == APR_SUCCESS && !DeleteService(svc))
    rv = pal__fail("DeleteService");
  close_pair(scm, svc);
  return rv;
}

apr_status_t pal_svcmgr_start(const char *name, uint64_t timeout_ms) {
  SERVICE_STATUS_PROCESS ss;
  SC_HANDLE scm, svc;
  apr_status_t rv = open_service(name, SC_MANAGER_CONNECT,
                                 SERVICE_START | SERVICE_QUERY_STATUS, &scm,
                                 &svc);
  if (rv != APR_SUCCESS)
    return rv;
  if (!StartServiceW(svc, 0, NULL))
    rv = pal__fail("StartServiceW");
  else
    rv = wait_while(svc, SERVICE_START_PENDING, timeout_ms, &ss);
  if (rv == APR_SUCCESS && ss.dwCurrentState != SERVICE_RUNNING)
    rv = APR_EGENERAL;   /* it stopped again: the exit code says why */
  close_pair(scm, svc);
  return rv;
}

apr_status_t pal_svcmgr_stop(const char *name, uint64_t timeout_ms) {
  SC_HANDLE scm, svc;
  apr_status_t rv = open_service(name, SC_MANAGER_CONNECT,
                                 SERVICE_STOP | SERVICE_QUERY_STATUS, &scm,
                                 &svc);
  if (rv != APR_SUCCESS)
    return rv;
  rv = stop_and_wait(svc, timeout_ms);
  close_pair(scm, svc);
  return rv;
}

/* QueryServiceConfig2W into a heap buffer sized by a first call. */
static void *query_config2(SC_HANDLE svc, DWORD level) {
  DWORD need = 0;
  void *buf;
  if (QueryServiceConfig2W(svc, level, NULL, 0, &need) ||
      GetLastError() != ERROR_INSUFFICIENT_BUFFER || need == 0)
    return NULL;
  buf = malloc(need);
  if (buf && !QueryServiceConfig2W(svc, level, buf, need, &need)) {
    free(buf);
    buf = NULL;
  }
  return buf;
}

apr_status_t pal_svcmgr_query(const char *name, pal_svc_status_t *st) {
  SERVICE_STATUS_PROCESS ss;
  QUERY_SERVICE_CONFIGW *qc = NULL;
  SERVICE_DELAYED_AUTO_START_INFO *delayed;
  SC_HANDLE scm, svc;
  DWORD need = 0;
  apr_status_t rv;

  memset(st, 0, sizeof *st);
  rv = open_service(name, SC_MANAGER_CONNECT,
                    SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG, &scm, &svc);
  if (rv != APR_SUCCESS)
    return rv;
  if ((rv = query_status(svc, &ss)) != APR_SUCCESS)
    goto done;
  st->state = (int)ss.dwCurrentState;
  st->pid = (long)ss.dwProcessId;
  st->exit_code = ss.dwWin32ExitCode;
  st->service_exit_code = ss.dwServiceSpecificExitCode;

  if (!QueryServiceConfigW(svc, NULL, 0, &need) &&
      GetLastError() == ERROR_INSUFFICIENT_BUFFER && need)
    qc = malloc(need);
  if (!qc || !QueryServiceConfigW(svc, qc, need, &need)) {
    rv = qc ? pal__fail("QueryServiceConfigW") : APR_ENOMEM;
    goto done;
  }
  utf8_into(qc->lpBinaryPathName, st->command_line, sizeof st->command_line);
  utf8_into(qc->lpServiceStartName, st->account, sizeof st->account);
  st->auto_start = qc->dwStartType == SERVICE_AUTO_START;
  delayed = query_config2(svc, SERVICE_CONFIG_DELAYED_AUTO_START_INFO);
  st->delayed = delayed && delayed->fDelayedAutostart;
  free(delayed);
done:
  free(qc);
  close_pair(scm, svc);
  return rv;
}

/* ---- 3. running as a service ---------------------------------------------- */

static struct {
  CRITICAL_SECTION lock;
  SERVICE_STATUS_HANDLE handle;   /* NULL outside ServiceMain */
  SERVICE_STATUS status;
  int stop_raised;                /* TERM raised once; later stops wait */
  wchar_t *name;
  pal_svcmgr_main_fn main_fn;
  void *arg;
  int code;
} svc;

/* Report the current status; with the lock held. */
static void report_locked(void) {
  if (svc.handle)
    SetServiceStatus(svc.handle, &svc.status);
}

static void set_locked(DWORD state, DWORD hint_ms) {
  SERVICE_STATUS *s = &svc.status;
  if (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING) {
    s->dwCheckPoint = s->dwCurrentState == state ? s->dwCheckPoint + 1 : 1;
    s->dwControlsAccepted = 0;
  } else {
    s->dwCheckPoint = 0;
    s->dwControlsAccepted =
        state == SERVICE_RUNNING
            ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
                  SERVICE_ACCEPT_PRESHUTDOWN
            : 0;
  }
  s->dwCurrentState = state;
  s->dwWaitHint = hint_ms;
  report_locked();
}

static DWORD hint(uint64_t ms) {
  return ms > 0xffffffffu ? 0xffffffffu : (DWORD)ms;
}

void pal_svcmgr_report(int state, uint64_t wait_hint_ms) {
  if (!svc.handle)
    return;
  EnterCriticalSection(&svc.lock);
  if (state == PAL_SVC_RUNNING) {
    /* Not after a stop began (a reload's READY while shutting down). */
    if (svc.status.dwCurrentState != SERVICE_STOP_PENDING)
      set_locked(SERVICE_RUNNING, 0);
  } else if (state == PAL_SVC_START_PENDING) {
    if (svc.status.dwCurrentState == SERVICE_START_PENDING)
      set_locked(SERVICE_START_PENDING, hint(wait_hint_ms));
  } else if (state == PAL_SVC_STOP_PENDING) {
    set_locked(SERVICE_STOP_PENDING, hint(wait_hint_ms));
  }
  LeaveCriticalSection(&svc.lock);
}

/* The control handler, on the dispatcher's thread.  Stop, shutdown and
 * pre-shutdown all ask for the same graceful shutdown, once: a second
 * TERM would be taken for impatience (vg_graceful kills at once). */
static DWORD WINAPI on_control(DWORD control, DWORD type, LPVOID data,
                               LPVOID ctx) {
  int raise = 0;
  (void)type;
  (void)data;
  (void)ctx;
  switch (control) {
  case SERVICE_CONTROL_STOP:
  case SERVICE_CONTROL_SHUTDOWN:
  case SERVICE_CONTROL_PRESHUTDOWN:
    EnterCriticalSection(&svc.lock);
    if (!svc.stop_raised && svc.status.dwCurrentState == SERVICE_RUNNING) {
      svc.stop_raised = raise = 1;
      set_locked(SERVICE_STOP_PENDING, STOP_HINT_MS);
    }
    LeaveCriticalSection(&svc.lock);
    if (raise)
      pal_signal_raise(PAL_SIGTERM);
    return NO_ERROR;
  case SERVICE_CONTROL_INTERROGATE:
    return NO_ERROR;
  default:
    return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

static VOID WINAPI service_main(DWORD argc, LPWSTR *argv) {
  SERVICE_STATUS_HANDLE h;
  (void)argc;
  (void)argv;
  h = RegisterServiceCtrlHandlerExW(svc.name, on_control, NULL);
  if (!h) {
    svc.code = 1;
    return;
  }
  EnterCriticalSection(&svc.lock);
  svc.handle = h;
  svc.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  svc.status.dwCurrentState = SERVICE_STOPPED;
  set_locked(SERVICE_START_PENDING, START_HINT_MS);
  LeaveCriticalSection(&svc.lock);

  svc.code = svc.main_fn(svc.arg);

  /* The last report: the manager may end the process after it. */
  EnterCriticalSection(&svc.lock);
  svc.status.dwWin32ExitCode =
      svc.code ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
  svc.status.dwServiceSpecificExitCode = (DWORD)svc.code;
  set_locked(SERVICE_STOPPED, 0);
  svc.handle = NULL;
  LeaveCriticalSection(&svc.lock);
}

volatile LONG pal__win_as_service;

apr_status_t pal_svcmgr_dispatch(const char *name, pal_svcmgr_main_fn main_fn,
                                 void *arg, int *code) {
  SERVICE_TABLE_ENTRYW table[2];
  apr_status_t rv;
  if (!name || !main_fn || !code)
    return APR_EINVAL;
  if ((rv = wide(name, &svc.name)) != APR_SUCCESS)
    return rv;
  InitializeCriticalSection(&svc.lock);
  svc.main_fn = main_fn;
  svc.arg = arg;
  svc.code = 0;
  table[0].lpServiceName = svc.name;
  table[0].lpServiceProc = service_main;
  table[1].lpServiceName = NULL;
  table[1].lpServiceProc = NULL;
  InterlockedExchange(&pal__win_as_service, 1);
  rv = StartServiceCtrlDispatcherW(table)
           ? APR_SUCCESS
           : pal__fail("StartServiceCtrlDispatcherW");
  InterlockedExchange(&pal__win_as_service, 0);
  *code = svc.code;
  DeleteCriticalSection(&svc.lock);
  free(svc.name);
  svc.name = NULL;
  return rv;
}

/* ---- 4. the Event Log ----------------------------------------------------- */

static INIT_ONCE source_once = INIT_ONCE_STATIC_INIT;
static HANDLE source;   /* for the life of the process */
static DWORD source_err;

static BOOL CALLBACK open_source(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once;
  (void)param;
  (void)ctx;
  source = RegisterEventSourceW(NULL, L"Vigil");
  if (!source)
    source_err = GetLastError();
  return TRUE;
}

int pal_eventlog_supported(void) { return 1; }

apr_status_t pal_eventlog_report(int level, const char *message) {
  static const WORD types[] = {EVENTLOG_INFORMATION_TYPE,
                               EVENTLOG_WARNING_TYPE, EVENTLOG_ERROR_TYPE};
  const wchar_t *strings[1];
  wchar_t *w;
  apr_status_t rv;
  if (level < PAL_EVENT_INFO || level > PAL_EVENT_ERROR || !message)
    return APR_EINVAL;
  InitOnceExecuteOnce(&source_once, open_source, NULL, NULL);
  if (!source) {
    /* Report the registration's failure (it is not retried). */
    SetLastError(source_err);
    return pal__fail("RegisterEventSourceW");
  }
  if ((rv = wide(message, &w)) != APR_SUCCESS)
    return rv;
  strings[0] = w;
  /* Event id 0 and the message as the one insertion string: with no
   * message DLL registered for the source, this is the form every
   * viewer shows in full (see docs/windows.md). */
  rv = ReportEventW(source, types[level], 0, 0, NULL, 1, 0, strings, NULL)
           ? APR_SUCCESS
           : pal__fail("ReportEventW");
  free(w);
  return rv;
}

apr_status_t pal_eventlog_register(const char *exe) {
  static const wchar_t key[] =
      L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\Vigil";
  DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE |
                EVENTLOG_INFORMATION_TYPE;
  wchar_t *w = NULL;
  HKEY h;
  LSTATUS e;
  apr_status_t rv;
  if (!exe)
    return APR_EINVAL;
  if ((rv = wide(exe, &w)) != APR_SUCCESS)
    return rv;
  e = RegCreateKeyExW(HKEY_LOCAL_MACHINE, key, 0, NULL, 0, KEY_SET_VALUE,
                      NULL, &h, NULL);
  if (e == ERROR_SUCCESS) {
    e = RegSetValueExW(h, L"TypesSupported", 0, REG_DWORD,
                       (const BYTE *)&types, sizeof types);
    if (e == ERROR_SUCCESS)
      e = RegSetValueExW(h, L"EventMessageFile", 0, REG_EXPAND_SZ,
                         (const BYTE *)w,
                         (DWORD)((wcslen(w) + 1) * sizeof *w));
    RegCloseKey(h);
  }
  free(w);
  if (e != ERROR_SUCCESS) {
    SetLastError((DWORD)e);
    return pal__fail("RegSetValueExW");
  }
  return APR_SUCCESS;
}

/* No AF_UNIX datagram sockets, and no syslog or journald to send to:
 * the eventlog target is Windows' system log. */
apr_status_t pal_logsock_open(pal_fd_t *fd, int which) {
  (void)which;
  *fd = PAL_INVALID_FD;
  return PAL_EUNSUPPORTED;
}

const char *pal_logsock_path(int which) {
  (void)which;
  return NULL;
}

apr_status_t pal_logsock_send(pal_fd_t fd, const pal_buf_t *parts,
                              unsigned n) {
  (void)fd;
  (void)parts;
  (void)n;
  return PAL_EUNSUPPORTED;
}

apr_status_t pal_logsock_send_fd(pal_fd_t fd, const pal_buf_t *parts,
                                 unsigned n) {
  return pal_logsock_send(fd, parts, n);
}
