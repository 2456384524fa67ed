/*
 * error.c -- the one place where Win32 and Winsock error numbers become
 * apr_status_t, plus UTF-8 / UTF-16 conversion, ntdll look-ups and
 * Winsock start-up.
 */
#include "pal_win32.h"

#include <stdlib.h>

apr_status_t pal_err_from_os(int oserr) {
  if (oserr == 0)
    return APR_EGENERAL;
  switch (oserr) {   /* the service manager's own conditions */
  case ERROR_SERVICE_EXISTS:
  case ERROR_DUPLICATE_SERVICE_NAME: return PAL_ESVCEXISTS;
  case ERROR_SERVICE_DOES_NOT_EXIST: return PAL_ESVCNOENT;
  case ERROR_SERVICE_MARKED_FOR_DELETE: return PAL_ESVCDELETED;
  case ERROR_SERVICE_ALREADY_RUNNING: return PAL_ESVCRUNNING;
  case ERROR_SERVICE_NOT_ACTIVE: return PAL_ESVCSTOPPED;
  case ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: return PAL_ESVCNOTSCM;
  default: break;
  }
  /* APR's Windows status space: APR_STATUS_IS_ENOENT() and friends know
   * ERROR_FILE_NOT_FOUND, WSAECONNREFUSED, ... in this form. */
  return APR_FROM_OS_ERROR(oserr);
}

/* getaddrinfo() returns a WSA error number (WSAHOST_NOT_FOUND, ...). */
apr_status_t pal__gai_error(int rc) { return pal_err_from_os(rc); }

static BOOL CALLBACK ntdll_load(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  pal__ntdll_t *f = param;
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");   /* always loaded */
  (void)once;
  (void)ctx;
  if (ntdll)
    f->fn = (pal__ntdll_fn_t)GetProcAddress(ntdll, f->name);
  return TRUE;
}

pal__ntdll_fn_t pal__ntdll(pal__ntdll_t *f) {
  InitOnceExecuteOnce(&f->once, ntdll_load, f, NULL);
  return f->fn;
}

wchar_t *pal__to_wide(const char *s) {
  int n;
  wchar_t *w;
  n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  if (n <= 0)
    return NULL;
  w = malloc((size_t)n * sizeof *w);
  if (!w) {
    SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    return NULL;
  }
  if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
    free(w);
    return NULL;
  }
  return w;
}

char *pal__from_wide(const wchar_t *w) {
  int n;
  char *s;
  n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  if (n <= 0)
    return NULL;
  s = malloc((size_t)n);
  if (!s) {
    SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    return NULL;
  }
  if (WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
    free(s);
    return NULL;
  }
  return s;
}

static INIT_ONCE wsa_once = INIT_ONCE_STATIC_INIT;
static int wsa_error;

static BOOL CALLBACK wsa_start(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  WSADATA data;
  (void)once;
  (void)param;
  (void)ctx;
  wsa_error = WSAStartup(MAKEWORD(2, 2), &data);
  return TRUE;
}

apr_status_t pal__winsock_init(void) {
  InitOnceExecuteOnce(&wsa_once, wsa_start, NULL, NULL);
  if (wsa_error) {
    pal__last_call = "WSAStartup";
    return pal_err_from_os(wsa_error);
  }
  return APR_SUCCESS;
}
