/*
 * test_util.c -- the portability helpers of test.h: what the suites need
 * from the OS besides libvigil (temporary names, raw pipe I/O, whether a
 * pid lives, the environment, handle counts), once for POSIX and once for
 * Windows.  Like the children, this file may use the OS directly.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "test.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <dirent.h>
#include <signal.h>
#include <unistd.h>
#endif

#ifdef _WIN32

int vg_test_is_wine(void) {
  HMODULE nt = GetModuleHandleW(L"ntdll.dll");
  return nt && GetProcAddress(nt, "wine_get_version") != NULL;
}

const char *vg_test_tmpdir(void) {
  static char dir[MAX_PATH * 3 + 1];
  wchar_t w[MAX_PATH + 1];
  DWORD n;
  size_t len;
  if (dir[0])
    return dir;
  n = GetTempPathW(MAX_PATH, w);
  if (n == 0 || n > MAX_PATH ||
      !WideCharToMultiByte(CP_UTF8, 0, w, -1, dir, (int)sizeof dir, NULL,
                           NULL)) {
    strcpy(dir, "C:\\Windows\\Temp");
    return dir;
  }
  len = strlen(dir);
  while (len > 3 && (dir[len - 1] == '\\' || dir[len - 1] == '/'))
    dir[--len] = '\0';
  return dir;
}

void vg_test_local_name(char *buf, size_t size, const char *tag) {
  static int n;
  snprintf(buf, size, "\\\\.\\pipe\\vg-%s-%ld-%d", tag, pal_getpid(), n++);
}

/* An OVERLAPPED whose event has its low bit set posts no packet to a
 * completion port the handle may belong to; on a synchronous handle the
 * call simply completes. */
static long fd_io(pal_fd_t fd, void *buf, size_t n, int writing) {
  OVERLAPPED ov;
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  DWORD done = 0, len = n > 0x40000000u ? 0x40000000u : (DWORD)n;
  BOOL ok;
  if (!ev)
    return -1;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = (HANDLE)((ULONG_PTR)ev | 1);
  ok = writing ? WriteFile((HANDLE)fd, buf, len, &done, &ov)
               : ReadFile((HANDLE)fd, buf, len, &done, &ov);
  if (!ok && GetLastError() == ERROR_IO_PENDING)
    ok = GetOverlappedResult((HANDLE)fd, &ov, &done, TRUE);
  if (!ok) {
    DWORD e = GetLastError();
    CloseHandle(ev);
    if (!writing && (e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF))
      return 0;
    return -1;
  }
  CloseHandle(ev);
  return (long)done;
}

long vg_test_fd_write(pal_fd_t fd, const void *buf, size_t n) {
  return fd_io(fd, (void *)(uintptr_t)buf, n, 1);
}

long vg_test_fd_read(pal_fd_t fd, void *buf, size_t n) {
  return fd_io(fd, buf, n, 0);
}

int vg_test_pid_alive(long pid) {
  HANDLE h;
  DWORD w;
  if (pid <= 0)
    return 0;
  h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
                  (DWORD)pid);
  if (!h)
    return GetLastError() == ERROR_ACCESS_DENIED;
  w = WaitForSingleObject(h, 0);
  CloseHandle(h);
  return w == WAIT_TIMEOUT;
}

void vg_test_pid_kill(long pid) {
  HANDLE h = OpenProcess(PROCESS_TERMINATE, FALSE, (DWORD)pid);
  if (h) {
    TerminateProcess(h, 1);
    CloseHandle(h);
  }
}

void vg_test_setenv(const char *name, const char *value) {
  /* The Win32 environment is what CreateProcessW passes on; keep the
   * CRT's copy (getenv) in step as well. */
  _putenv_s(name, value ? value : "");
  SetEnvironmentVariableA(name, value);
}

int vg_test_proc_stat(long pid, vg_test_proc_t *out) {
  (void)pid;
  (void)out;
  return 0;   /* no /proc */
}

/* GetProcessHandleCount() would do, but Wine 8 answers 0.  Handle values
 * are multiples of 4 from a table: probe them. */
int vg_test_count_handles(void) {
  ULONG_PTR v;
  DWORD flags;
  int n = 0;
  for (v = 4; v < 0x20000; v += 4)
    if (GetHandleInformation((HANDLE)v, &flags))
      n++;
  return n;
}

#else /* POSIX */

const char *vg_test_tmpdir(void) {
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

void vg_test_local_name(char *buf, size_t size, const char *tag) {
  static int n;
  /* Always /tmp: sun_path is short, and $TMPDIR may be long. */
  snprintf(buf, size, "/tmp/vg-%s-%ld-%d.sock", tag, (long)getpid(), n++);
  unlink(buf);
}

long vg_test_fd_write(pal_fd_t fd, const void *buf, size_t n) {
  ssize_t w;
  do
    w = write((int)fd, buf, n);
  while (w < 0 && errno == EINTR);
  return (long)w;
}

long vg_test_fd_read(pal_fd_t fd, void *buf, size_t n) {
  ssize_t r;
  do
    r = read((int)fd, buf, n);
  while (r < 0 && errno == EINTR);
  return (long)r;
}

int vg_test_proc_stat(long pid, vg_test_proc_t *out) {
  char path[64], buf[1024], *open, *close, *p;
  unsigned long long start = 0;
  size_t n;
  int field;
  FILE *f;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  f = fopen(path, "r");
  if (!f)
    return 0;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* Field 2 (comm) is in parentheses and may itself hold spaces and
   * parentheses: it ends at the last ')'.  Then state, ppid, pgid, ...,
   * starttime (field 22). */
  open = strchr(buf, '(');
  close = strrchr(buf, ')');
  if (!open || !close || close < open || close[1] != ' ' || !close[2])
    return 0;
  memset(out, 0, sizeof *out);
  out->pid = pid;
  snprintf(out->comm, sizeof out->comm, "%.*s", (int)(close - open - 1),
           open + 1);
  out->state = close[2];
  out->ppid = strtol(close + 3, &p, 10);
  out->pgid = strtol(p, NULL, 10);
  for (p = close, field = 2; p && field < 22; field++)
    p = strchr(p + 1, ' ');
  if (p)
    sscanf(p + 1, "%llu", &start);
  out->start = (uint64_t)start;
  return 1;
}

int vg_test_pid_alive(long pid) {
  vg_test_proc_t p;
  if (pid <= 0)
    return 0;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
    return 0;
  /* Reparented to a PID 1 that does not reap (containers): a zombie is
   * dead for our purpose. */
  if (!vg_test_proc_stat(pid, &p))
    return 0;
  return p.state != 'Z' && p.state != 'X';
}

void vg_test_pid_kill(long pid) {
  if (pid > 0)
    kill((pid_t)pid, SIGKILL);
}

void vg_test_setenv(const char *name, const char *value) {
  if (value)
    setenv(name, value, 1);
  else
    unsetenv(name);
}

int vg_test_count_handles(void) {
  int n = 0;
  struct dirent *de;
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return -1;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1;   /* the directory's own descriptor */
}

#endif

void vg_test_skip(const char *tag, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "\n  SKIPPED [%s]: ", tag);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
}

/* errno values without an APR_STATUS_IS_ test (POSIX: the status is
 * errno itself). */
static int is_erofs(apr_status_t rv) {
#ifdef EROFS
  return rv == APR_FROM_OS_ERROR(EROFS);
#else
  (void)rv;
  return 0;
#endif
}

static int is_eperm(apr_status_t rv) {
  return rv == APR_FROM_OS_ERROR(EPERM);
}

/* Why this machine offers this process no cgroup v2 to create test
 * cgroups in, or NULL if it does (then self is its own cgroup).  Each
 * answer is something the machine decides, not vigil: no cgroup2 mount;
 * a mount this mount namespace hides (a tmpfs over /sys/fs/cgroup, as
 * containers have); a read-only mount (a container's default); a
 * cgroup not delegated to this user.  Anything else is an error of the
 * code under test: *fatal is then set. */
static const char *cgroup_unavailable(char *self, size_t size, char *why,
                                      size_t wsize, int *fatal) {
  char eb[128];
  unsigned mask;
  int is_root = 0;
  apr_status_t rv = pal_cgroup_self(self, size, &is_root);
  *fatal = 0;
  if (rv == PAL_EUNSUPPORTED) {
    snprintf(why, wsize, "no cgroup2 file system is mounted (no cgroup2 "
             "line in /proc/self/mountinfo, or no 0:: line in "
             "/proc/self/cgroup)");
    return why;
  }
  if (rv != APR_SUCCESS) {
    *fatal = 1;
    snprintf(why, wsize, "cannot tell this process's cgroup v2: %s (%s)",
             vg_strerror(rv, eb, sizeof eb), pal_last_call());
    return why;
  }
  rv = pal_cgroup_controllers(self, &mask);
  if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
    snprintf(why, wsize, "cgroup2 is mounted, but this process's cgroup "
             "%s is not visible in this mount namespace (another mount "
             "hides it, e.g. a tmpfs on /sys/fs/cgroup)", self);
    return why;
  }
  if (rv != APR_SUCCESS) {
    *fatal = 1;
    snprintf(why, wsize, "cannot read %s/cgroup.controllers: %s (%s)", self,
             vg_strerror(rv, eb, sizeof eb), pal_last_call());
    return why;
  }
  rv = pal_cgroup_writable(self);
  if (is_erofs(rv)) {
    snprintf(why, wsize, "the cgroup2 mount holding %s is read-only (a "
             "container's default)", self);
    return why;
  }
  if (APR_STATUS_IS_EACCES(rv) || is_eperm(rv)) {
    snprintf(why, wsize, "this process's cgroup %s is not delegated to "
             "uid %ld (run as root, or in a delegated cgroup: systemd "
             "Delegate=yes)", self, pal_geteuid());
    return why;
  }
  if (rv != APR_SUCCESS) {
    *fatal = 1;
    snprintf(why, wsize, "cannot tell whether %s is writable: %s (%s)", self,
             vg_strerror(rv, eb, sizeof eb), pal_last_call());
    return why;
  }
  return NULL;
}

char *vg_test_cgroup_create(const char *tag) {
  static unsigned seq;
  const char *req = getenv("VIGIL_TEST_REQUIRE_CGROUP");
  char self[4096], why[4400], eb[128], *dir;
  apr_status_t rv;
  int fatal, n;
  if (cgroup_unavailable(self, sizeof self, why, sizeof why, &fatal)) {
    if (!fatal && !(req && strcmp(req, "1") == 0)) {
      vg_test_skip(tag, "%s", why);
      return NULL;
    }
    fprintf(stderr, "\n  [%s] no cgroup v2 for the test: %s%s\n", tag, why,
            fatal ? "" : " (VIGIL_TEST_REQUIRE_CGROUP=1: a failure)");
    CU_FAIL("no cgroup v2 for the test (see stderr)");
    return NULL;
  }
  /* The machine offers a writable cgroup: from here on, any failure is
   * a failure. */
  n = snprintf(NULL, 0, "%s/vigil-test-%s-%ld-%u", self, tag, pal_getpid(),
               seq + 1);
  dir = malloc((size_t)n + 1);
  if (!dir) {
    CU_FAIL("out of memory");
    return NULL;
  }
  snprintf(dir, (size_t)n + 1, "%s/vigil-test-%s-%ld-%u", self, tag,
           pal_getpid(), ++seq);
  rv = pal_cgroup_create(dir);
  if (rv == APR_SUCCESS)
    return dir;
  fprintf(stderr, "\n  [%s] %s is writable, yet the test cgroup %s cannot "
          "be created: %s (%s)\n", tag, self, dir,
          vg_strerror(rv, eb, sizeof eb), pal_last_call());
  CU_FAIL("cannot create a test cgroup (see stderr)");
  free(dir);
  return NULL;
}

/* ------------------------------------------------------------------------
 * Shared test data
 * --------------------------------------------------------------------- */

#define R "\xEF\xBF\xBD"              /* U+FFFD in UTF-8 */
#define C(what, in, out) {what, in, sizeof(in) - 1, out}
const vg_test_json_case_t vg_test_json_cases[] = {
  C("empty", "", ""),
  C("quote, backslash, slash", "a\"b\\c/d", "a\\\"b\\\\c/d"),
  C("short escapes", "\b\f\n\r\t", "\\b\\f\\n\\r\\t"),
  C("other controls and DEL", "\x01\x1f\x7f" "x", "\\u0001\\u001f\\u007fx"),
  C("NUL inside", "a\0b", "a\\u0000b"),
  C("valid 2, 3, 4 bytes, U+2028",
    "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x80\xA8",
    "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x80\xA8"),
  C("valid boundaries",
    "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF"
    "\xEE\x80\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF",
    "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF"
    "\xEE\x80\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"),
  C("overlong 2 bytes", "\xC0\xAF" "z", R R "z"),
  C("overlong 3 bytes", "\xE0\x80\xAF", R R R),
  C("overlong 4 bytes", "\xF0\x8F\xBF\xBF", R R R R),
  C("surrogate", "\xED\xA0\x80" "z", R R R "z"),
  C("above U+10FFFF", "\xF4\x90\x80\x80", R R R R),
  C("5-byte form", "\xF8\x88\x80\x80\x80", R R R R R),
  C("truncated 3 bytes, then ASCII", "a\xE2\x82" "z", "a" R "z"),
  C("truncated 4 bytes at the end", "a\xF0\x9F\x98", "a" R),
  C("lead then lead", "\xC3\xC3\xA9", R "\xC3\xA9"),
  C("lone continuation, C1, F5, FF", "\x80\xBF\xC1\xF5\xFF", R R R R R),
  {NULL, NULL, 0, NULL}
};
#undef C
#undef R

const char *vg_test_write_temp(const char *prefix, const char *text) {
  apr_file_t *f;
  char *path = apr_pstrcat(vg_test_pool, vg_test_tmpdir(), "/", prefix,
                           "-XXXXXX", NULL);
  CU_ASSERT_FATAL(apr_file_mktemp(&f, path,
                                  APR_FOPEN_CREATE | APR_FOPEN_READ |
                                      APR_FOPEN_WRITE | APR_FOPEN_EXCL,
                                  vg_test_pool) == APR_SUCCESS);
  CU_ASSERT_FATAL(apr_file_write_full(f, text, strlen(text), NULL) ==
                  APR_SUCCESS);
  apr_file_close(f);
  return path;
}
