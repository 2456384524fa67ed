/*
 * test_win32.c -- Windows-only cases (suite `win32`; built on Windows
 * only, see tests/CMakeLists.txt):
 *
 *   1. command lines: argv -> the command line pal/win32/proc.c builds ->
 *      CommandLineToArgvW and the C runtime, in process (many cases) and
 *      through a child that prints what it received (print-argv);
 *   2. job objects: a child that starts a grandchild and exits gets its
 *      exit callback at once, and vg_process_kill_tree() (or closing the
 *      loop) still ends the grandchild;
 *   3. console control events reaching the loop;
 *   4. what Windows refuses (uid/gid, BREAK without a console group) and
 *      handle inheritance limited to the child's stdio;
 *   5. job limits (CPU rate, memory, processes), their messages, and the
 *      usage of a child's tree;
 *   6. BREAK, the stop ladder's first step, from a supervisor that has no
 *      console.
 *
 * Wine runs this suite too, and keeps less of a job object than Windows:
 * no CPU rate control, no accounting times, limits set but not enforced,
 * no CTRL_BREAK_EVENT to a process group.  Those tests assert what
 * Windows does and, under Wine (vg_test_is_wine()), exactly what Wine does
 * instead -- so a Wine that learns more fails them, and they are
 * tightened then.
 *
 * Child modes (`run_tests --child NAME ...`, table vg_child_win32_modes):
 *   print-argv ARGS...       print "W N\n" and N records "LEN:BYTES\n" of
 *                            what CommandLineToArgvW(GetCommandLineW())
 *                            gives after `--child print-argv` (UTF-8),
 *                            then "A N\n" and the records of the C
 *                            runtime's argv (main's, in the ANSI code
 *                            page)
 *   grandchild-exit          start `run_tests --child sleep 30000` (in our
 *                            job, inheriting nothing), print its pid and
 *                            "\n", exit 0 at once
 *   console-event            with a console of its own, send itself Ctrl+C
 *                            and Ctrl+Break and report what its loop saw
 *                            (test_console_event_own_console)
 *   await-break              print "ready" and the pids attached to its
 *                            console, wait for a Ctrl+Break (30 s at most,
 *                            else exit 1), print "break\n", exit 0
 *   headless-break           a supervisor without a console stopping an
 *                            await-break child with BREAK; reports each
 *                            step (test_break_headless)
 */
#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <shellapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* pal/win32/proc.c, exposed for tests by pal/win32/proc_win32.h (which
 * the tests cannot include: it pulls in the PAL's private headers). */
apr_status_t pal__win_quote_args(const char *const *argv, int for_cmd,
                                 wchar_t **out);

/* ------------------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------------- */

static char *to_utf8(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  char *s;
  if (n <= 0 || !(s = malloc((size_t)n)))
    return NULL;
  WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
  return s;
}

static int is_ascii(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80)
      return 0;
  return 1;
}

/* A child with its stdout captured. */
typedef struct {
  vg_process_t proc;
  vg_pipe_t out;
  char rbuf[4096];
  char data[16384];
  size_t len;
  int eof;
  int exited, closed;
  int exit_status, term_signal;
  int limits, last_limit;       /* limit_cb calls, the last PAL_LIMIT_* */
  const char *want;             /* wc_wait_for(): text awaited */
} wchild_t;

static void wc_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  wchild_t *c = h->data;
  (void)suggested;
  buf->base = c->rbuf;
  buf->len = sizeof c->rbuf;
}

static void wc_read(vg_stream_t *s, apr_status_t status, size_t nread,
                    const vg_buf_t *buf) {
  wchild_t *c = s->data;
  if (status != APR_SUCCESS) {
    c->eof = status == APR_EOF ? 1 : -1;
    return;
  }
  if (nread > 0 && c->len + nread < sizeof c->data) {
    memcpy(c->data + c->len, buf->base, nread);
    c->len += nread;
    c->data[c->len] = '\0';
  }
}

static void wc_closed(vg_handle_t *h) { ((wchild_t *)h->data)->closed++; }

/* Records the exit; the handle stays open (the test closes it). */
static void wc_exit(vg_process_t *p, int exit_status, int term_signal) {
  wchild_t *c = p->data;
  c->exited++;
  c->exit_status = exit_status;
  c->term_signal = term_signal;
}

static void wc_limit(vg_process_t *p, int which) {
  wchild_t *c = p->data;
  c->limits++;
  c->last_limit = which;
}

/* nice and cpus for the next wc_spawn_opts() (with VG_PROCESS_NICE,
 * VG_PROCESS_AFFINITY in its flags). */
static int wc_nice;
static const vg_cpuset_t *wc_cpus;

/* With flags (VG_PROCESS_*), and limits (NULL: none) reported to
 * wc_limit.  No CUnit assertion: child modes use it too. */
static apr_status_t wc_spawn_opts(vg_loop_t *loop, wchild_t *c,
                                  const char *const *argv, unsigned flags,
                                  const vg_limits_t *limits) {
  vg_process_options_t o;
  apr_status_t rv;
  memset(c, 0, sizeof *c);
  c->exit_status = c->term_signal = -100;
  if ((rv = vg_pipe_init(loop, &c->out)) != APR_SUCCESS)
    return rv;
  c->out.data = c;
  memset(&o, 0, sizeof o);
  o.file = vg_test_self;
  o.args = argv;
  o.flags = flags;
  o.nice = wc_nice;
  o.cpus = wc_cpus;
  o.limits = limits;
  o.exit_cb = wc_exit;
  o.limit_cb = limits ? wc_limit : NULL;
  o.stdio[0].kind = VG_STDIO_IGNORE;
  o.stdio[1].kind = VG_STDIO_PIPE;
  o.stdio[1].pipe = &c->out;
  rv = vg_spawn(loop, &c->proc, &o);
  if (rv != APR_SUCCESS)
    return rv;
  c->proc.data = c;
  return vg_read_start(&c->out, wc_alloc, wc_read);
}

static apr_status_t wc_spawn(vg_loop_t *loop, wchild_t *c,
                             const char *const *argv) {
  return wc_spawn_opts(loop, c, argv, 0, NULL);
}

static int wc_flag;
static void wc_poll_cb(vg_timer_t *t) {
  wchild_t *c = t->data;
  if (c->exited && c->eof)
    wc_flag = 1;
}

/* Run until the child has exited and its stdout reached EOF. */
static int wc_wait(vg_loop_t *loop, wchild_t *c) {
  vg_timer_t t;
  wc_flag = 0;
  vg_timer_init(loop, &t);
  t.data = c;
  vg_timer_start(&t, wc_poll_cb, 0, 5);
  vg_test_run_until(loop, &wc_flag, VG_TEST_WAIT_MS);
  vg_close((vg_handle_t *)&t, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  return wc_flag;
}

static int wc_has_want(void *arg) {
  const wchild_t *c = arg;
  return strstr(c->data, c->want) != NULL;
}

/* Run until the child's stdout holds `text` (1), or it exited without
 * it, or VG_TEST_WAIT_MS passed (0). */
static int wc_wait_for(vg_loop_t *loop, wchild_t *c, const char *text) {
  c->want = text;
  vg_test_run_cond(loop, wc_has_want, c, VG_TEST_WAIT_MS);
  return wc_has_want(c);
}

/* ------------------------------------------------------------------------
 * Child modes
 * --------------------------------------------------------------------- */

static int put(const char *s, size_t n) {
  HANDLE h = GetStdHandle(STD_OUTPUT_HANDLE);
  DWORD w;
  while (n > 0) {
    if (!WriteFile(h, s, (DWORD)n, &w, NULL))
      return -1;
    s += w;
    n -= w;
  }
  return 0;
}

static int put_record(const char *s) {
  char head[32];
  size_t n = strlen(s);
  snprintf(head, sizeof head, "%lu:", (unsigned long)n);
  return put(head, strlen(head)) || put(s, n) || put("\n", 1);
}

static int child_print_argv(int argc, char **argv) {
  int wargc = 0, i, first = -1, rc = 0;
  wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &wargc);
  char head[32];
  if (!wargv)
    return 1;
  /* Our own arguments follow "--child print-argv". */
  for (i = 0; i + 1 < wargc; i++)
    if (wcscmp(wargv[i], L"--child") == 0 &&
        wcscmp(wargv[i + 1], L"print-argv") == 0) {
      first = i + 2;
      break;
    }
  if (first < 0) {
    LocalFree(wargv);
    return 2;
  }
  snprintf(head, sizeof head, "W %d\n", wargc - first);
  rc |= put(head, strlen(head));
  for (i = first; i < wargc; i++) {
    char *s = to_utf8(wargv[i]);
    rc |= !s || put_record(s);
    free(s);
  }
  LocalFree(wargv);
  snprintf(head, sizeof head, "A %d\n", argc - 1);
  rc |= put(head, strlen(head));
  for (i = 1; i < argc; i++)
    rc |= put_record(argv[i]);
  return rc ? 1 : 0;
}

static int child_grandchild_exit(int argc, char **argv) {
  wchar_t self[MAX_PATH + 1], cmd[MAX_PATH + 64];
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  char line[32];
  DWORD n = GetModuleFileNameW(NULL, self, MAX_PATH);
  (void)argc;
  (void)argv;
  if (n == 0 || n >= MAX_PATH)
    return 1;
  _snwprintf(cmd, sizeof cmd / sizeof cmd[0] - 1,
             L"\"%ls\" --child sleep 30000", self);
  cmd[sizeof cmd / sizeof cmd[0] - 1] = L'\0';
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = si.hStdOutput = si.hStdError = INVALID_HANDLE_VALUE;
  if (!CreateProcessW(self, cmd, NULL, NULL, FALSE, CREATE_NO_WINDOW, NULL,
                      NULL, &si, &pi))
    return 1;
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  snprintf(line, sizeof line, "%lu\n", (unsigned long)pi.dwProcessId);
  return put(line, strlen(line)) ? 1 : 0;
}

static int child_console_event(int argc, char **argv);
static int child_await_break(int argc, char **argv);
static int child_headless_break(int argc, char **argv);

const vg_child_mode_t vg_child_win32_modes[] = {
    {"print-argv", child_print_argv},
    {"grandchild-exit", child_grandchild_exit},
    {"console-event", child_console_event},
    {"await-break", child_await_break},
    {"headless-break", child_headless_break},
    {NULL, NULL}};

/* ------------------------------------------------------------------------
 * 1. Command-line quoting
 * --------------------------------------------------------------------- */

/* Arguments that each parser rule is about: separators, quotes, runs of
 * backslashes before a quote and at the end (the closing quote), empty
 * strings, characters cmd.exe would act on (nothing to quote for a
 * program), and UTF-8 beyond the ANSI code page. */
static const char *const quote_cases[] = {
    "plain",
    "two words",
    "",
    "tab\there",
    "new\nline",
    "quote\"inside",
    "\"",
    "\"\"",
    "\"quoted\"",
    "back\\slash",
    "\\\\server\\share",
    "trailing\\",
    "trailing\\\\",
    "space and trailing\\",
    "C:\\Program Files\\Vigil\\",
    "a\\\"b",
    "a\\\\\"b",
    "\\\"",
    "\\",
    " ",
    "  leading and trailing  ",
    "%PATH%",
    "a&b|c<d>e^f(g)",
    "*?[x]",
    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
    NULL};

/* Each case alone and all of them in one command line: the command line
 * CommandLineToArgvW splits back into exactly the same argv. */
static void test_quote_in_process(void) {
  const char *argv[64];
  size_t n, i;
  for (n = 0; quote_cases[n]; n++)
    ;
  argv[0] = "C:\\Program Files\\x.exe";
  for (i = 0; i <= n; i++) {
    wchar_t *line = NULL, **w;
    int wargc = 0, k, nargs;
    if (i < n) {
      argv[1] = quote_cases[i];
      argv[2] = NULL;
      nargs = 1;
    } else {
      memcpy(argv + 1, quote_cases, (n + 1) * sizeof *argv);
      nargs = (int)n;
    }
    CU_ASSERT_EQUAL_FATAL(pal__win_quote_args(argv, 0, &line), APR_SUCCESS);
    w = CommandLineToArgvW(line, &wargc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_EQUAL(wargc, nargs + 1);
    for (k = 0; k < wargc && k <= nargs; k++) {
      char *s = to_utf8(w[k]);
      CU_ASSERT_PTR_NOT_NULL(s);
      if (s && strcmp(s, argv[k]) != 0) {
        CU_FAIL("argument changed by the round trip");
        fprintf(stderr, "\n  [%d] \"%s\" came back as \"%s\" (line %ls)\n",
                k, argv[k], s, line);
      }
      free(s);
    }
    LocalFree(w);
    free(line);
  }
  /* argv[0] follows the program-name rule (no escapes): a quote cannot
   * be represented and is refused. */
  {
    const char *bad[] = {"x\"y.exe", "a", NULL};
    wchar_t *line = (wchar_t *)1;
    CU_ASSERT_EQUAL(pal__win_quote_args(bad, 0, &line), APR_EINVAL);
    CU_ASSERT_PTR_NULL(line);
  }
  /* For cmd.exe, what it expands or cannot quote is refused. */
  {
    const char *bad[] = {"x.bat", "50%", NULL};
    wchar_t *line = NULL;
    CU_ASSERT_EQUAL(pal__win_quote_args(bad, 1, &line), APR_EINVAL);
    bad[1] = "say \"hi\"";
    CU_ASSERT_EQUAL(pal__win_quote_args(bad, 1, &line), APR_EINVAL);
    bad[1] = "a&b";
    CU_ASSERT_EQUAL(pal__win_quote_args(bad, 1, &line), APR_SUCCESS);
    CU_ASSERT(line && wcsstr(line, L"\"a&b\"") != NULL);
    free(line);
  }
}

/* Parse one "LEN:BYTES\n" record; NULL at a malformed one. */
static const char *take_record(const char *p, char *out, size_t size) {
  char *end;
  unsigned long len = strtoul(p, &end, 10);
  if (end == p || *end != ':' || len >= size)
    return NULL;
  memcpy(out, end + 1, len);
  out[len] = '\0';
  if (end[1 + len] != '\n')
    return NULL;
  return end + 2 + len;
}

/* The same arguments through a real child: CreateProcessW's command line
 * as CommandLineToArgvW splits it (every case), and as the C runtime's
 * main() receives it (the ASCII cases: non-ASCII goes through the ANSI
 * code page there). */
static void test_quote_through_child(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  const char *argv[64];
  char arg[1024];
  const char *p;
  size_t n, i;
  int count;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  argv[0] = vg_test_self;
  argv[1] = "--child";
  argv[2] = "print-argv";
  for (n = 0; quote_cases[n]; n++)
    argv[3 + n] = quote_cases[n];
  argv[3 + n] = NULL;
  CU_ASSERT_EQUAL_FATAL(wc_spawn(loop, c, argv), APR_SUCCESS);
  CU_ASSERT_FATAL(wc_wait(loop, c));
  CU_ASSERT_EQUAL(c->exit_status, 0);
  CU_ASSERT_EQUAL(c->term_signal, 0);

  p = c->data;
  CU_ASSERT_FATAL(sscanf(p, "W %d\n", &count) == 1);
  CU_ASSERT_EQUAL_FATAL((size_t)count, n);
  p = strchr(p, '\n') + 1;
  for (i = 0; i < n; i++) {
    p = take_record(p, arg, sizeof arg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_STRING_EQUAL(arg, quote_cases[i]);
  }
  CU_ASSERT_FATAL(sscanf(p, "A %d\n", &count) == 1);
  CU_ASSERT_EQUAL_FATAL((size_t)count, n);
  p = strchr(p, '\n') + 1;
  for (i = 0; i < n; i++) {
    p = take_record(p, arg, sizeof arg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    if (is_ascii(quote_cases[i]))
      CU_ASSERT_STRING_EQUAL(arg, quote_cases[i]);
  }
  vg_close((vg_handle_t *)&c->proc, NULL);
  vg_test_close_loop(loop);
  free(c);
}

/* A '"' in argv[0] cannot be written (both parsers read the program
 * name up to the next quote, without escapes): the spawn fails with
 * APR_EINVAL before anything runs, and leaves nothing behind. */
static void test_quote_argv0(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_process_t proc;
  vg_process_options_t o;
  const char *argv[] = {"bad\"name.exe", "--child", "exit", "0", NULL};
  memset(&o, 0, sizeof o);
  o.file = vg_test_self;
  o.args = argv;
  o.exit_cb = wc_exit;
  CU_ASSERT_EQUAL(vg_spawn(loop, &proc, &o), APR_EINVAL);
  vg_test_close_loop(loop);
}

/* A batch file runs in cmd.exe with its arguments quoted for cmd:
 * operators inside an argument stay literal; what cmd.exe would expand
 * or cannot quote ('%', '!', '"') is refused before anything runs. */
static void test_quote_batch(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  char path[1024];
  const char *argv[5];
  FILE *f;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  snprintf(path, sizeof path, "%s\\vg-args-%ld.cmd", vg_test_tmpdir(),
           pal_getpid());
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("@echo [%1] [%2]\r\n", f);
  fclose(f);
  argv[0] = path;
  argv[1] = "a b";
  argv[2] = "x&y";
  argv[3] = NULL;
  memset(c, 0, sizeof *c);
  {
    vg_process_options_t o;
    CU_ASSERT_EQUAL_FATAL(vg_pipe_init(loop, &c->out), APR_SUCCESS);
    c->out.data = c;
    memset(&o, 0, sizeof o);
    o.args = argv;
    o.exit_cb = wc_exit;
    o.stdio[0].kind = VG_STDIO_IGNORE;
    o.stdio[1].kind = VG_STDIO_PIPE;
    o.stdio[1].pipe = &c->out;
    CU_ASSERT_EQUAL_FATAL(vg_spawn(loop, &c->proc, &o), APR_SUCCESS);
    c->proc.data = c;
    vg_read_start(&c->out, wc_alloc, wc_read);
  }
  CU_ASSERT(wc_wait(loop, c));
  CU_ASSERT_EQUAL(c->exit_status, 0);
  CU_ASSERT(strstr(c->data, "[\"a b\"] [\"x&y\"]") != NULL);
  if (!strstr(c->data, "[\"a b\"] [\"x&y\"]"))
    fprintf(stderr, "\n  batch printed \"%s\"\n", c->data);
  vg_close((vg_handle_t *)&c->proc, NULL);
  vg_run(loop, VG_RUN_NOWAIT);

  {
    vg_process_t proc;
    vg_process_options_t o;
    memset(&o, 0, sizeof o);
    o.args = argv;
    o.exit_cb = wc_exit;
    argv[1] = "100%";
    CU_ASSERT_EQUAL(vg_spawn(loop, &proc, &o), APR_EINVAL);
    argv[1] = "say \"hi\"";
    CU_ASSERT_EQUAL(vg_spawn(loop, &proc, &o), APR_EINVAL);
  }
  remove(path);
  vg_test_close_loop(loop);
  free(c);
}

/* ------------------------------------------------------------------------
 * 2. Job objects
 * --------------------------------------------------------------------- */

static HANDLE open_pid(long pid) {
  return OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
                     (DWORD)pid);
}

/* The child starts a grandchild in its job and exits: its exit callback
 * arrives (the job still runs something, so this is its
 * EXIT_PROCESS message, not ACTIVE_PROCESS_ZERO), exactly once, and the
 * grandchild lives on; vg_process_kill_tree() on the exited handle then
 * terminates the job, grandchild included. */
static void test_job_grandchild_outlives_child(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  const char *argv[] = {vg_test_self, "--child", "grandchild-exit", NULL};
  volatile int never = 0;
  long gpid;
  HANDLE g;
  DWORD code = 0;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL_FATAL(wc_spawn(loop, c, argv), APR_SUCCESS);
  CU_ASSERT_FATAL(wc_wait(loop, c));
  CU_ASSERT_EQUAL(c->exited, 1);
  CU_ASSERT_EQUAL(c->exit_status, 0);
  CU_ASSERT_EQUAL(c->term_signal, 0);
  CU_ASSERT_EQUAL(c->proc.pid, 0);
  gpid = atol(c->data);
  CU_ASSERT_FATAL(gpid > 0);
  g = open_pid(gpid);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  CU_ASSERT_EQUAL(WaitForSingleObject(g, 0), WAIT_TIMEOUT);
  /* The leader is gone: signalling it alone finds nothing... */
  CU_ASSERT_EQUAL(vg_process_kill(&c->proc, VG_SIGTERM), VG_ENOPROC);
  /* ...its tree is still there. */
  CU_ASSERT_EQUAL(vg_process_kill_tree(&c->proc, VG_SIGTERM), APR_SUCCESS);
  CU_ASSERT_EQUAL(WaitForSingleObject(g, 5000), WAIT_OBJECT_0);
  CU_ASSERT(GetExitCodeProcess(g, &code));
  CU_ASSERT_EQUAL(code, 1);   /* TerminateJobObject's code (proc.c) */
  CloseHandle(g);
  /* The job's end (ACTIVE_PROCESS_ZERO) brings no second callback, and
   * the job is empty now. */
  vg_test_run_until(loop, &never, 100);
  CU_ASSERT_EQUAL(c->exited, 1);
  CU_ASSERT_EQUAL(vg_process_kill_tree(&c->proc, VG_SIGTERM), VG_ENOPROC);
  vg_close((vg_handle_t *)&c->proc, wc_closed);
  vg_test_close_loop(loop);
  CU_ASSERT(c->closed);
  free(c);
}

/* The same tree, left alone: closing the process handle does not kill
 * the grandchild, but the loop's end does (the job's last handle closes,
 * and the job has KILL_ON_JOB_CLOSE): nothing outlives the loop that
 * started it. */
static void test_job_closed_with_loop(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  const char *argv[] = {vg_test_self, "--child", "grandchild-exit", NULL};
  volatile int never = 0;
  long gpid;
  HANDLE g;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL_FATAL(wc_spawn(loop, c, argv), APR_SUCCESS);
  CU_ASSERT_FATAL(wc_wait(loop, c));
  gpid = atol(c->data);
  CU_ASSERT_FATAL(gpid > 0);
  g = open_pid(gpid);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  vg_close((vg_handle_t *)&c->proc, wc_closed);
  vg_test_run_until(loop, &never, 50);
  CU_ASSERT(c->closed);
  CU_ASSERT_EQUAL(WaitForSingleObject(g, 0), WAIT_TIMEOUT);
  vg_test_close_loop(loop);
  CU_ASSERT_EQUAL(WaitForSingleObject(g, 5000), WAIT_OBJECT_0);
  CloseHandle(g);
  free(c);
}

/* ------------------------------------------------------------------------
 * 3. Console control events
 * --------------------------------------------------------------------- */

typedef struct {
  vg_signal_t sig;
  int calls, last;
} sigw_t;

static void sigw_cb(vg_signal_t *s, int signum) {
  sigw_t *w = s->data;
  w->calls++;
  w->last = signum;
}

/* Not GetConsoleCP() != 0 alone: Wine 8 says 0 on a console without a
 * window. */
static int has_console(void) {
  DWORD pids[1];
  return GetConsoleProcessList(pids, 1) > 0;
}

/* Ctrl+C (INT) and Ctrl+Break (BREAK) raised by the process itself reach
 * the loop's watchers, once.  pal_signal_raise() delivers them to this
 * process only -- not with GenerateConsoleCtrlEvent(), whose process
 * group 0 is every process on the console (the shell or ctest that
 * started us included) -- through the path a real event takes from the
 * PAL's console handler on.  A real event: console_event_own_console. */
static void test_console_event_reaches_loop(void) {
  static const int sigs[] = {VG_SIGINT, VG_SIGBREAK};
  vg_loop_t *loop = vg_test_new_loop();
  sigw_t w;
  size_t i;
  memset(&w, 0, sizeof w);
  CU_ASSERT_EQUAL_FATAL(vg_signal_init(loop, &w.sig), APR_SUCCESS);
  w.sig.data = &w;
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    volatile int never = 0;
    w.calls = 0;
    w.last = 0;
    CU_ASSERT_EQUAL(vg_signal_start(&w.sig, sigw_cb, sigs[i]), APR_SUCCESS);
    CU_ASSERT_EQUAL(pal_signal_raise(sigs[i]), APR_SUCCESS);
    CU_ASSERT(vg_test_run_until(loop, &w.calls, VG_TEST_WAIT_MS));
    vg_test_run_until(loop, &never, 30);   /* no duplicate */
    CU_ASSERT_EQUAL(w.calls, 1);
    CU_ASSERT_EQUAL(w.last, sigs[i]);
  }
  /* Nobody watches TERM: a raise is dropped, the process lives on. */
  CU_ASSERT_EQUAL(pal_signal_raise(VG_SIGTERM), APR_SUCCESS);
  vg_test_close_loop(loop);
}

/* The child of console_event_own_console: a console of its own, so that
 * a console event to "process group 0" reaches nobody else; a loop that
 * watches INT and BREAK; then GenerateConsoleCtrlEvent for each.  Prints
 * "no console\n" if it cannot have one, else per event "INT\n" /
 * "BREAK\n" once the loop saw it, or "no INT\n" / "no BREAK\n" when
 * GenerateConsoleCtrlEvent refused to send it. */
static int child_console_event(int argc, char **argv) {
  static const int sigs[] = {VG_SIGINT, VG_SIGBREAK};
  static const DWORD events[] = {CTRL_C_EVENT, CTRL_BREAK_EVENT};
  vg_loop_t *loop;
  sigw_t w;
  size_t i;
  HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
  (void)argc;
  (void)argv;
  FreeConsole();
  if (!AllocConsole())
    return put("no console\n", 11) ? 1 : 0;
  SetStdHandle(STD_OUTPUT_HANDLE, out);   /* AllocConsole replaced it */
  if (GetConsoleWindow())
    ShowWindow(GetConsoleWindow(), SW_HIDE);
  if (vg_loop_create(&loop, NULL) != APR_SUCCESS)
    return 2;
  memset(&w, 0, sizeof w);
  vg_signal_init(loop, &w.sig);
  w.sig.data = &w;
  for (i = 0; i < 2; i++) {
    const char *name = sigs[i] == VG_SIGINT ? "INT" : "BREAK";
    char line[32];
    if (vg_signal_start(&w.sig, sigw_cb, sigs[i]) != APR_SUCCESS)
      return 3;
    w.calls = 0;
    w.last = 0;
    if (!GenerateConsoleCtrlEvent(events[i], 0)) {
      snprintf(line, sizeof line, "no %s\n", name);
    } else {
      vg_test_run_until(loop, &w.calls, VG_TEST_WAIT_MS);
      snprintf(line, sizeof line, "%s\n",
               w.calls == 1 && w.last == sigs[i] ? name : "lost");
    }
    if (put(line, strlen(line)))
      return 1;
  }
  vg_close((vg_handle_t *)&w.sig, NULL);
  vg_run(loop, VG_RUN_DEFAULT);
  return vg_loop_close(loop) == APR_SUCCESS ? 0 : 4;
}

/* A real console event -- GenerateConsoleCtrlEvent, the PAL's console
 * handler on a system thread, a packet to the port -- reaches the loop:
 * in a child with a console of its own.  Windows: "INT\nBREAK\n".
 * Wine 8 (terminal or not): "INT\nno BREAK\n", as it refuses
 * CTRL_BREAK_EVENT to a process group (ERROR_INVALID_HANDLE).  Where no
 * console can be created at all, the child says "no console\n", and
 * then this process has none either. */
static void test_console_event_own_console(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  const char *argv[] = {vg_test_self, "--child", "console-event", NULL};
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL_FATAL(wc_spawn(loop, c, argv), APR_SUCCESS);
  CU_ASSERT(wc_wait(loop, c));
  CU_ASSERT_EQUAL(c->exit_status, 0);
  if (strcmp(c->data, "no console\n") == 0) {
    CU_ASSERT_FALSE(has_console());
  } else if (strcmp(c->data, "INT\nno BREAK\n") != 0) {
    CU_ASSERT_STRING_EQUAL(c->data, "INT\nBREAK\n");
  }
  vg_close((vg_handle_t *)&c->proc, NULL);
  vg_test_close_loop(loop);
  free(c);
}

/* Console events go to every loop of the process that watches them, and
 * only to those. */
static void test_console_event_two_loops(void) {
  vg_loop_t *l1 = vg_test_new_loop(), *l2 = vg_test_new_loop();
  sigw_t a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  vg_signal_init(l1, &a.sig);
  vg_signal_init(l2, &b.sig);
  a.sig.data = &a;
  b.sig.data = &b;
  CU_ASSERT_EQUAL(vg_signal_start(&a.sig, sigw_cb, VG_SIGINT), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_signal_start(&b.sig, sigw_cb, VG_SIGBREAK),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(pal_signal_raise(VG_SIGINT), APR_SUCCESS);
  CU_ASSERT(vg_test_run_until(l1, &a.calls, VG_TEST_WAIT_MS));
  {
    volatile int never = 0;
    vg_test_run_until(l2, &never, 50);
  }
  CU_ASSERT_EQUAL(a.calls, 1);
  CU_ASSERT_EQUAL(b.calls, 0);
  vg_test_close_loop(l1);
  vg_test_close_loop(l2);
}

/* ------------------------------------------------------------------------
 * 4. What Windows refuses; inheritance
 * --------------------------------------------------------------------- */

static void test_spawn_refusals(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_process_t proc;
  vg_process_options_t o;
  wchild_t *c = calloc(1, sizeof *c);
  const char *argv[] = {vg_test_self, "--child", "sleep", "20000", NULL};
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  /* No uids or gids: refused rather than run as ourselves. */
  memset(&o, 0, sizeof o);
  o.file = vg_test_self;
  o.args = argv;
  o.exit_cb = wc_exit;
  o.flags = VG_PROCESS_SETUID;
  o.uid = 1000;
  CU_ASSERT_EQUAL(vg_spawn(loop, &proc, &o), VG_EUNSUPPORTED);
  o.flags = VG_PROCESS_SETGID;
  CU_ASSERT_EQUAL(vg_spawn(loop, &proc, &o), VG_EUNSUPPORTED);

  /* BREAK reaches only a child in a console process group of its own,
   * and only through a console: without CREATE_NEW_PROCESS_GROUP it is
   * VG_EUNSUPPORTED (below: with one).  Signals with no Windows meaning
   * are VG_EUNSUPPORTED too. */
  CU_ASSERT_EQUAL_FATAL(wc_spawn(loop, c, argv), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_process_kill(&c->proc, VG_SIGBREAK), VG_EUNSUPPORTED);
  CU_ASSERT_EQUAL(vg_process_kill(&c->proc, VG_SIGINT), VG_EUNSUPPORTED);
  CU_ASSERT_EQUAL(vg_process_kill(&c->proc, VG_SIGCHLD), VG_EUNSUPPORTED);
  CU_ASSERT_EQUAL(vg_process_kill(&c->proc, VG_SIGWINCH), VG_EUNSUPPORTED);
  /* USR1 has no handler to run: like TERM, it terminates. */
  CU_ASSERT_EQUAL(vg_process_kill(&c->proc, VG_SIGUSR1), APR_SUCCESS);
  CU_ASSERT(wc_wait(loop, c));
  CU_ASSERT_EQUAL(c->exit_status, -1);
  CU_ASSERT_EQUAL(c->term_signal, VG_SIGUSR1);
  vg_close((vg_handle_t *)&c->proc, NULL);
  vg_close((vg_handle_t *)&c->out, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  {
    wchild_t *g = calloc(1, sizeof *g);
    vg_process_options_t go;
    apr_status_t rv;
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    memset(&go, 0, sizeof go);
    go.file = vg_test_self;
    go.args = argv;
    go.exit_cb = wc_exit;
    go.flags = VG_PROCESS_NEW_GROUP;
    go.stdio[0].kind = VG_STDIO_IGNORE;
    CU_ASSERT_EQUAL_FATAL(vg_spawn(loop, &g->proc, &go), APR_SUCCESS);
    g->proc.data = g;
    g->eof = 1;   /* no stdout captured here */
    rv = vg_process_kill(&g->proc, VG_SIGBREAK);
    if (rv == APR_SUCCESS) {
      /* Windows, sharing our console: the child's default Ctrl+Break
       * handler ends it with STATUS_CONTROL_C_EXIT, an exit code. */
      CU_ASSERT(has_console());
      CU_ASSERT(wc_wait(loop, g));
      CU_ASSERT_EQUAL(g->exit_status, (int)0xC000013AL);
      CU_ASSERT_EQUAL(g->term_signal, 0);
    } else {
      /* No console to send it through (or Wine 8, which refuses
       * CTRL_BREAK_EVENT to a process group): the kill fails and says
       * which call did. */
      CU_ASSERT_STRING_EQUAL(pal_last_call(), "GenerateConsoleCtrlEvent");
      CU_ASSERT_EQUAL(vg_process_kill(&g->proc, VG_SIGKILL), APR_SUCCESS);
      CU_ASSERT(wc_wait(loop, g));
      CU_ASSERT_EQUAL(g->exit_status, -1);
      CU_ASSERT_EQUAL(g->term_signal, VG_SIGKILL);
    }
    vg_close((vg_handle_t *)&g->proc, NULL);
    vg_test_close_loop(loop);
    free(g);
  }
  free(c);
}

/* A child inherits its three stdio handles and nothing else, even a
 * handle of ours that is inheritable (PROC_THREAD_ATTRIBUTE_HANDLE_LIST):
 * what another thread creates inheritable at the same moment does not
 * leak into our children. */
static void test_inherit_only_stdio(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  HANDLE r, w;
  char hr[32], hw[32];
  const char *argv[] = {vg_test_self, "--child", "fds", hr, hw, NULL};
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_FATAL(CreatePipe(&r, &w, &sa, 0));
  snprintf(hr, sizeof hr, "p%llx", (unsigned long long)(ULONG_PTR)r);
  snprintf(hw, sizeof hw, "p%llx", (unsigned long long)(ULONG_PTR)w);
  CU_ASSERT_EQUAL_FATAL(wc_spawn(loop, c, argv), APR_SUCCESS);
  CU_ASSERT(wc_wait(loop, c));
  CU_ASSERT_EQUAL(c->exit_status, 0);
  CU_ASSERT_STRING_EQUAL(c->data, "0\n");

  /* The control: a child created the plain way (bInheritHandles, no
   * list) does inherit both, and the "fds" child sees them. */
  {
    wchar_t cmd[2048];
    char out[256];
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    HANDLE or, ow;
    DWORD n = 0;
    long got;
    CU_ASSERT_FATAL(CreatePipe(&or, &ow, &sa, 0));
    SetHandleInformation(or, HANDLE_FLAG_INHERIT, 0);
    _snwprintf(cmd, 2047, L"\"%hs\" --child fds %hs %hs", vg_test_self, hr,
               hw);
    cmd[2047] = L'\0';
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdOutput = ow;
    si.hStdInput = si.hStdError = INVALID_HANDLE_VALUE;
    CU_ASSERT_FATAL(CreateProcessW(NULL, cmd, NULL, NULL, TRUE,
                                   CREATE_NO_WINDOW, NULL, NULL, &si, &pi));
    CloseHandle(ow);
    got = 0;
    while (got < (long)sizeof out - 1 &&
           ReadFile(or, out + got, (DWORD)(sizeof out - 1 - got), &n, NULL) &&
           n > 0)
      got += (long)n;
    out[got] = '\0';
    WaitForSingleObject(pi.hProcess, VG_TEST_WAIT_MS);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    CloseHandle(or);
    CU_ASSERT_EQUAL(atoi(out), 2);
  }
  CloseHandle(r);
  CloseHandle(w);
  vg_close((vg_handle_t *)&c->proc, NULL);
  vg_test_close_loop(loop);
  free(c);
}

/* ------------------------------------------------------------------------
 * 5. Job limits and usage
 * --------------------------------------------------------------------- */

/* pal/win32/proc.c's test seam (proc_win32.h): a job message posted to
 * the child's port under its job's key, as the job would post it. */
apr_status_t pal__proc_post_message(pal_proc_t *proc, unsigned long msg);

static HANDLE job_of_child(wchild_t *c) { return (HANDLE)c->proc.proc.job; }

static int wc_both_closed(void *arg) {
  return ((wchild_t *)arg)->closed == 2;
}

/* Close the child's process and pipe handles, and wait until both are
 * closed: then c may be spawned again. */
static void wc_close(vg_loop_t *loop, wchild_t *c) {
  c->closed = 0;
  vg_close((vg_handle_t *)&c->proc, wc_closed);
  vg_close((vg_handle_t *)&c->out, wc_closed);
  CU_ASSERT(vg_test_run_cond(loop, wc_both_closed, c, VG_TEST_WAIT_MS));
}

/* Kill the child's tree, wait for its exit, close it (wc_close). */
static void wc_finish(vg_loop_t *loop, wchild_t *c) {
  vg_process_kill_tree(&c->proc, VG_SIGKILL);
  CU_ASSERT(wc_wait(loop, c));
  wc_close(loop, c);
}

/* cpu="P%": a hard cap of P/100 CPUs as hundredths of a percent of the
 * whole machine (pal/win32/proc.c, job_cpu_rate). */
static void test_job_cpu_rate(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  const char *argv[] = {vg_test_self, "--child", "sleep", "20000", NULL};
  DWORD ncpu = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  vg_limits_t lim;
  apr_status_t rv;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_FATAL(ncpu > 0);
  memset(&lim, 0, sizeof lim);
  lim.cpu_percent = 50;
  rv = wc_spawn_opts(loop, c, argv, 0, &lim);
  if (vg_test_is_wine()) {
    /* Wine 8 does not know JobObjectCpuRateControlInformation
     * (ERROR_INVALID_PARAMETER): the child runs without the cap, and the
     * process says which limit was not applied (the supervisor warns). */
    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    CU_ASSERT(c->proc.pid > 0);
    CU_ASSERT_EQUAL(c->proc.proc.unapplied, 1u << PAL_LIMIT_CPU);
    wc_finish(loop, c);
  } else {
    JOBOBJECT_CPU_RATE_CONTROL_INFORMATION cr;
    CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
    CU_ASSERT_EQUAL(c->proc.proc.unapplied, 0);
    memset(&cr, 0, sizeof cr);
    CU_ASSERT(QueryInformationJobObject(job_of_child(c),
                                        JobObjectCpuRateControlInformation,
                                        &cr, sizeof cr, NULL));
    CU_ASSERT_EQUAL(cr.ControlFlags, JOB_OBJECT_CPU_RATE_CONTROL_ENABLE |
                                         JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP);
    /* 50% of one CPU: 5000 / ncpu of the machine, rounded. */
    CU_ASSERT_EQUAL(cr.CpuRate, (5000 + ncpu / 2) / ncpu);
    wc_finish(loop, c);
    /* More than every CPU: the whole machine, 10000. */
    lim.cpu_percent = 100 * ncpu + 50;
    CU_ASSERT_EQUAL_FATAL(wc_spawn_opts(loop, c, argv, 0, &lim),
                          APR_SUCCESS);
    CU_ASSERT(QueryInformationJobObject(job_of_child(c),
                                        JobObjectCpuRateControlInformation,
                                        &cr, sizeof cr, NULL));
    CU_ASSERT_EQUAL(cr.CpuRate, 10000);
    wc_finish(loop, c);
  }
  vg_test_close_loop(loop);
  free(c);
}

/* <nice> and <cpu-affinity>: the job's priority class and affinity, so
 * the service's own children get them too.  The class is the nearest
 * one (pal_nice_class); an affinity with no CPU of the machine is
 * refused, as Linux refuses it. */
static void test_job_priority_affinity(void) {
  static const struct { int nice; DWORD cls; const char *name; } map[] = {
    {-20, HIGH_PRIORITY_CLASS, "high"},
    {-11, HIGH_PRIORITY_CLASS, "high"},
    {-10, ABOVE_NORMAL_PRIORITY_CLASS, "above normal"},
    {-1, ABOVE_NORMAL_PRIORITY_CLASS, "above normal"},
    {0, NORMAL_PRIORITY_CLASS, "normal"},
    {1, BELOW_NORMAL_PRIORITY_CLASS, "below normal"},
    {10, BELOW_NORMAL_PRIORITY_CLASS, "below normal"},
    {11, IDLE_PRIORITY_CLASS, "idle"},
    {19, IDLE_PRIORITY_CLASS, "idle"}};
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  const char *argv[] = {vg_test_self, "--child", "sleep", "20000", NULL};
  JOBOBJECT_BASIC_LIMIT_INFORMATION bl;
  vg_cpuset_t cpus;
  size_t i;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  for (i = 0; i < sizeof map / sizeof map[0]; i++)
    CU_ASSERT_STRING_EQUAL(pal_nice_class(map[i].nice), map[i].name);
  CU_ASSERT_PTR_NOT_NULL(pal_spawn_unsupported(VG_PROCESS_UMASK));
  CU_ASSERT_PTR_NULL(pal_spawn_unsupported(VG_PROCESS_AFFINITY));

  memset(&cpus, 0, sizeof cpus);
  cpus.bits[0] = 1;   /* CPU 0 */
  wc_nice = 5;
  wc_cpus = &cpus;
  CU_ASSERT_EQUAL_FATAL(wc_spawn_opts(loop, c, argv,
                                      VG_PROCESS_NICE | VG_PROCESS_AFFINITY,
                                      NULL),
                        APR_SUCCESS);
  memset(&bl, 0, sizeof bl);
  CU_ASSERT(QueryInformationJobObject(job_of_child(c),
                                      JobObjectBasicLimitInformation, &bl,
                                      sizeof bl, NULL));
  if (vg_test_is_wine()) {
    /* Wine 8 takes the job's priority class and affinity (the spawn
     * succeeded) but neither reports nor applies them: only the spawn
     * and the mapping are checked there. */
    fprintf(stderr, "\n  [Wine: job limits 0x%lx, child class %lu: not "
            "applied by Wine, not checked] ", (unsigned long)bl.LimitFlags,
            (unsigned long)GetPriorityClass((HANDLE)c->proc.proc.handle));
  } else {
    DWORD_PTR mine = 0, sys = 0;
    CU_ASSERT(bl.LimitFlags & JOB_OBJECT_LIMIT_PRIORITY_CLASS);
    CU_ASSERT_EQUAL(bl.PriorityClass, BELOW_NORMAL_PRIORITY_CLASS);
    CU_ASSERT(bl.LimitFlags & JOB_OBJECT_LIMIT_AFFINITY);
    CU_ASSERT_EQUAL(bl.Affinity, 1);
    CU_ASSERT_EQUAL(GetPriorityClass((HANDLE)c->proc.proc.handle),
                    BELOW_NORMAL_PRIORITY_CLASS);
    CU_ASSERT(GetProcessAffinityMask((HANDLE)c->proc.proc.handle, &mine,
                                     &sys));
    CU_ASSERT_EQUAL(mine, 1);
  }
  wc_finish(loop, c);

  /* No CPU the machine has: refused. */
  memset(&cpus, 0, sizeof cpus);
  cpus.bits[15] = (uint64_t)1 << 63;
  CU_ASSERT_EQUAL(wc_spawn_opts(loop, c, argv, VG_PROCESS_AFFINITY, NULL),
                  APR_EINVAL);
  vg_close((vg_handle_t *)&c->out, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  wc_nice = 0;
  wc_cpus = NULL;
  vg_test_close_loop(loop);
  free(c);
}

/* vg_process_usage(): the job's CPU time (exited members included), the
 * working sets of its live members, how many live; VG_ENOPROC once the
 * tree is gone and after close. */
static void test_job_usage(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  const char *burn[] = {vg_test_self, "--child", "burn", "300", NULL};
  const char *tree[] = {vg_test_self, "--child", "spawn-grandchild", NULL};
  JOBOBJECT_BASIC_ACCOUNTING_INFORMATION ai;
  vg_usage_t u;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);

  /* Burned 300 ms of CPU, now asleep. */
  CU_ASSERT_EQUAL_FATAL(wc_spawn(loop, c, burn), APR_SUCCESS);
  CU_ASSERT_FATAL(wc_wait_for(loop, c, "burned\n"));
  CU_ASSERT_EQUAL(vg_process_usage(&c->proc, &u), APR_SUCCESS);
  CU_ASSERT_EQUAL(u.processes, 1);
  CU_ASSERT(u.rss_bytes > 0);
  CU_ASSERT(QueryInformationJobObject(job_of_child(c),
                                      JobObjectBasicAccountingInformation,
                                      &ai, sizeof ai, NULL));
  if (vg_test_is_wine()) {
    /* Wine 8 keeps no CPU times in a job's accounting. */
    CU_ASSERT_EQUAL(ai.TotalUserTime.QuadPart, 0);
    CU_ASSERT_EQUAL(ai.TotalKernelTime.QuadPart, 0);
    CU_ASSERT_EQUAL(u.cpu_usec, 0);
  } else {
    CU_ASSERT(u.cpu_usec >= 300000);
  }
  CU_ASSERT_EQUAL(ai.ActiveProcesses, 1);
  CU_ASSERT_EQUAL(vg_process_kill(&c->proc, VG_SIGTERM), APR_SUCCESS);
  CU_ASSERT_FATAL(wc_wait(loop, c));
  CU_ASSERT_EQUAL(vg_process_usage(&c->proc, &u), VG_ENOPROC);
  CU_ASSERT_EQUAL(u.processes, 0);
  wc_close(loop, c);
  CU_ASSERT_EQUAL(vg_process_usage(&c->proc, &u), VG_ENOPROC);

  /* A child and the grandchild it started: both counted.  The
   * grandchild has a console of its own (CREATE_NO_WINDOW), whose host
   * (conhost.exe) Windows may start in the job as well; Wine does not. */
  CU_ASSERT_EQUAL_FATAL(wc_spawn(loop, c, tree), APR_SUCCESS);
  CU_ASSERT_FATAL(wc_wait_for(loop, c, "\n"));
  CU_ASSERT_EQUAL(vg_process_usage(&c->proc, &u), APR_SUCCESS);
  if (vg_test_is_wine()) {
    CU_ASSERT_EQUAL(u.processes, 2);
  } else {
    CU_ASSERT(u.processes >= 2);
  }
  CU_ASSERT(u.rss_bytes > 0);
  wc_finish(loop, c);
  vg_test_close_loop(loop);
  free(c);
}

/* memory="32MB" is the job's memory limit.  Windows reports it back and
 * enforces it: the child's allocation fails (alloc exits 1) and the
 * job's JOB_MEMORY_LIMIT message reaches limit_cb.  Wine 8 accepts it
 * (SetInformationJobObject succeeds: the spawn does), but answers the
 * query with no limits at all, does not enforce it, and sends no
 * message. */
static void test_job_memory_limit(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  const char *argv[] = {vg_test_self, "--child", "alloc", "256", NULL};
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  vg_limits_t lim;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  memset(&lim, 0, sizeof lim);
  lim.memory = 32u << 20;
  CU_ASSERT_EQUAL_FATAL(wc_spawn_opts(loop, c, argv, 0, &lim), APR_SUCCESS);
  memset(&li, 0, sizeof li);
  CU_ASSERT(QueryInformationJobObject(job_of_child(c),
                                      JobObjectExtendedLimitInformation, &li,
                                      sizeof li, NULL));
  if (vg_test_is_wine()) {
    CU_ASSERT_EQUAL(li.BasicLimitInformation.LimitFlags, 0);
    CU_ASSERT(wc_wait_for(loop, c, "ready\n"));
    CU_ASSERT_EQUAL(c->limits, 0);
  } else {
    CU_ASSERT(li.BasicLimitInformation.LimitFlags &
              JOB_OBJECT_LIMIT_JOB_MEMORY);
    CU_ASSERT_EQUAL(li.JobMemoryLimit, 32u << 20);
    CU_ASSERT(wc_wait(loop, c));
    CU_ASSERT_EQUAL(c->exit_status, 1);
    CU_ASSERT(c->limits >= 1);
    CU_ASSERT_EQUAL(c->last_limit, PAL_LIMIT_MEMORY);
  }
  wc_finish(loop, c);
  vg_test_close_loop(loop);
  free(c);
}

/* processes="1": the child cannot start a grandchild (Windows: the
 * job's ACTIVE_PROCESS_LIMIT message reaches limit_cb, and
 * spawn-grandchild exits 1).  Wine 8 accepts the limit, answers the
 * query with none, lets the grandchild start, and sends no message. */
static void test_job_process_limit(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  const char *argv[] = {vg_test_self, "--child", "spawn-grandchild", NULL};
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  vg_limits_t lim;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  memset(&lim, 0, sizeof lim);
  lim.processes = 1;
  CU_ASSERT_EQUAL_FATAL(wc_spawn_opts(loop, c, argv, 0, &lim), APR_SUCCESS);
  memset(&li, 0, sizeof li);
  CU_ASSERT(QueryInformationJobObject(job_of_child(c),
                                      JobObjectExtendedLimitInformation, &li,
                                      sizeof li, NULL));
  if (vg_test_is_wine()) {
    vg_usage_t u;
    CU_ASSERT_EQUAL(li.BasicLimitInformation.LimitFlags, 0);
    CU_ASSERT(wc_wait_for(loop, c, "\n"));
    CU_ASSERT_EQUAL(vg_process_usage(&c->proc, &u), APR_SUCCESS);
    CU_ASSERT_EQUAL(u.processes, 2);
    CU_ASSERT_EQUAL(c->limits, 0);
  } else {
    CU_ASSERT(li.BasicLimitInformation.LimitFlags &
              JOB_OBJECT_LIMIT_ACTIVE_PROCESS);
    CU_ASSERT_EQUAL(li.BasicLimitInformation.ActiveProcessLimit, 1);
    CU_ASSERT(wc_wait(loop, c));
    CU_ASSERT_EQUAL(c->exit_status, 1);
    CU_ASSERT_EQUAL(c->limits, 1);
    CU_ASSERT_EQUAL(c->last_limit, PAL_LIMIT_PROCESSES);
  }
  wc_finish(loop, c);
  vg_test_close_loop(loop);
  free(c);
}

static int wc_limited(void *arg) { return ((wchild_t *)arg)->limits > 0; }

/* The messages Wine never sends, posted to the port as the job would
 * post them: each limit message becomes its PAL_LIMIT_* for a limit the
 * job has, nothing for one it has not (a nested job's), and nothing
 * after close.  The port is FIFO: once a later packet has been handled,
 * every earlier one has. */
static void test_job_limit_messages(void) {
  static const struct {
    unsigned long msg;
    int which;
  } cases[] = {
      {JOB_OBJECT_MSG_JOB_MEMORY_LIMIT, PAL_LIMIT_MEMORY},
      {JOB_OBJECT_MSG_PROCESS_MEMORY_LIMIT, PAL_LIMIT_MEMORY},
      {JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT, PAL_LIMIT_PROCESSES},
  };
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
  const char *argv[] = {vg_test_self, "--child", "sleep", "20000", NULL};
  vg_limits_t mem, all;
  size_t i;
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  memset(&mem, 0, sizeof mem);
  mem.memory = 1u << 30;
  all = mem;
  all.processes = 100;
  CU_ASSERT_EQUAL_FATAL(wc_spawn_opts(loop, a, argv, 0, &all), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(wc_spawn_opts(loop, b, argv, 0, &mem), APR_SUCCESS);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    a->limits = 0;
    CU_ASSERT_EQUAL(pal__proc_post_message(&a->proc.proc, cases[i].msg),
                    APR_SUCCESS);
    CU_ASSERT(vg_test_run_cond(loop, wc_limited, a, VG_TEST_WAIT_MS));
    CU_ASSERT_EQUAL(a->limits, 1);
    CU_ASSERT_EQUAL(a->last_limit, cases[i].which);
  }
  /* b has no process limit and no CPU limit; the memory message after
   * them shows they were handled (and ignored). */
  CU_ASSERT_EQUAL(pal__proc_post_message(&b->proc.proc,
                                         JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(
      pal__proc_post_message(&b->proc.proc, JOB_OBJECT_MSG_END_OF_JOB_TIME),
      APR_SUCCESS);
  CU_ASSERT_EQUAL(pal__proc_post_message(&b->proc.proc,
                                         JOB_OBJECT_MSG_JOB_MEMORY_LIMIT),
                  APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, wc_limited, b, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(b->limits, 1);
  CU_ASSERT_EQUAL(b->last_limit, PAL_LIMIT_MEMORY);
  /* A message on its way when b is closed is not delivered: a's, posted
   * after it, comes back first. */
  b->limits = 0;
  a->limits = 0;
  CU_ASSERT_EQUAL(pal__proc_post_message(&b->proc.proc,
                                         JOB_OBJECT_MSG_JOB_MEMORY_LIMIT),
                  APR_SUCCESS);
  vg_process_kill(&b->proc, VG_SIGKILL);
  vg_close((vg_handle_t *)&b->proc, NULL);
  CU_ASSERT_EQUAL(pal__proc_post_message(&b->proc.proc,
                                         JOB_OBJECT_MSG_JOB_MEMORY_LIMIT),
                  VG_ENOPROC);
  CU_ASSERT_EQUAL(pal__proc_post_message(&a->proc.proc,
                                         JOB_OBJECT_MSG_JOB_MEMORY_LIMIT),
                  APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, wc_limited, a, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(b->limits, 0);
  wc_finish(loop, a);
  vg_close((vg_handle_t *)&b->out, NULL);
  vg_test_close_loop(loop);
  free(a);
  free(b);
}

/* ------------------------------------------------------------------------
 * 6. BREAK from a supervisor without a console
 * --------------------------------------------------------------------- */

static HANDLE break_event;

static BOOL WINAPI on_break(DWORD event) {
  if (event != CTRL_BREAK_EVENT)
    return FALSE;
  SetEvent(break_event);
  return TRUE;
}

static int child_await_break(int argc, char **argv) {
  DWORD pids[32], n, i;
  char line[512];
  size_t len;
  (void)argc;
  (void)argv;
  if (!(break_event = CreateEventW(NULL, TRUE, FALSE, NULL)) ||
      !SetConsoleCtrlHandler(on_break, TRUE))
    return 2;
  n = GetConsoleProcessList(pids, 32);
  len = (size_t)snprintf(line, sizeof line, "ready");
  for (i = 0; i < n && i < 32; i++)
    len += (size_t)snprintf(line + len, sizeof line - len, " %lu",
                            (unsigned long)pids[i]);
  snprintf(line + len, sizeof line - len, "\n");
  if (put(line, strlen(line)))
    return 1;
  if (WaitForSingleObject(break_event, 30000) != WAIT_OBJECT_0)
    return 1;
  return put("break\n", 6) ? 1 : 0;
}

/* Is `pid` among the pids of an await-break "ready" line? */
static int ready_lists(const char *data, unsigned long pid) {
  const char *p = strstr(data, "ready");
  char *end;
  if (!p)
    return 0;
  for (p += 5; *p == ' '; p = end) {
    unsigned long v = strtoul(p + 1, &end, 10);
    if (end == p + 1)
      break;
    if (v == pid)
      return 1;
  }
  return 0;
}

/* Without a console (FreeConsole), spawn an await-break child in a
 * group of its own and stop it with BREAK; then send Ctrl+C to every
 * process on our console, as a child may, and see whether our own loop
 * takes it.  Prints one line per step:
 *   "console N"  whether we have a console after the spawn (N = 1/0)
 *   "shared" / "not shared"  whether the child is on it
 *   "break STATUS seen|lost"  the child's exit after BREAK, or
 *   "refused CALL ERROR"  the kill failed: the call and its Win32 error
 *   "int ignored" / "int seen" / "no int"  Ctrl+C to group 0 */
static int child_headless_break(int argc, char **argv) {
  const char *cargv[] = {vg_test_self, "--child", "await-break", NULL};
  char out[512];
  size_t len = 0;
  vg_loop_t *loop;
  wchild_t *c = calloc(1, sizeof *c);
  sigw_t w;
  apr_status_t rv;
  (void)argc;
  (void)argv;
  FreeConsole();
  if (!c || has_console() || vg_loop_create(&loop, NULL) != APR_SUCCESS)
    return 2;
  if (wc_spawn_opts(loop, c, cargv, VG_PROCESS_NEW_GROUP, NULL) !=
      APR_SUCCESS)
    return 3;
  len += (size_t)snprintf(out + len, sizeof out - len, "console %d\n",
                          has_console());
  if (!wc_wait_for(loop, c, "\n"))
    return 4;
  len += (size_t)snprintf(
      out + len, sizeof out - len, "%s\n",
      ready_lists(c->data, GetCurrentProcessId()) ? "shared" : "not shared");
  rv = vg_process_kill(&c->proc, VG_SIGBREAK);
  if (rv == APR_SUCCESS) {
    wc_wait(loop, c);
    len += (size_t)snprintf(out + len, sizeof out - len, "break %d %s\n",
                            c->exit_status,
                            strstr(c->data, "break\n") ? "seen" : "lost");
  } else {
    len += (size_t)snprintf(out + len, sizeof out - len, "refused %s %lu\n",
                            pal_last_call(),
                            (unsigned long)(rv - APR_OS_START_SYSERR));
  }
  memset(&w, 0, sizeof w);
  vg_signal_init(loop, &w.sig);
  w.sig.data = &w;
  if (vg_signal_start(&w.sig, sigw_cb, VG_SIGINT) != APR_SUCCESS)
    return 5;
  if (!GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0)) {
    len += (size_t)snprintf(out + len, sizeof out - len, "no int\n");
  } else {
    volatile int never = 0;
    vg_test_run_until(loop, &never, 300);
    len += (size_t)snprintf(out + len, sizeof out - len, "int %s\n",
                            w.calls ? "seen" : "ignored");
  }
  vg_process_kill_tree(&c->proc, VG_SIGKILL);
  wc_wait(loop, c);
  vg_close((vg_handle_t *)&w.sig, NULL);
  vg_close((vg_handle_t *)&c->proc, NULL);
  vg_close((vg_handle_t *)&c->out, NULL);
  vg_run(loop, VG_RUN_DEFAULT);
  if (vg_loop_close(loop) != APR_SUCCESS)
    return 6;
  free(c);
  return put(out, len) ? 1 : 0;
}

/* The stop ladder's first step from a supervisor with no console (a
 * service, a detached start): the PAL gives it a hidden console before
 * the first child in a group of its own, the child shares it, BREAK
 * reaches the child's handler (it exits 0), and a Ctrl+C a child sends
 * to the whole console leaves the supervisor's loop alone.  Wine 8 makes
 * the console and puts the child on it, but refuses CTRL_BREAK_EVENT to
 * a process group with ERROR_INVALID_HANDLE (6) -- the error it gives
 * with a console; without one it is ERROR_INVALID_ACCESS (12) -- so
 * there the ladder goes on to its kill. */
static void test_break_headless(void) {
  vg_loop_t *loop = vg_test_new_loop();
  wchild_t *c = calloc(1, sizeof *c);
  const char *argv[] = {vg_test_self, "--child", "headless-break", NULL};
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL_FATAL(wc_spawn(loop, c, argv), APR_SUCCESS);
  CU_ASSERT(wc_wait(loop, c));
  CU_ASSERT_EQUAL(c->exit_status, 0);
  if (vg_test_is_wine()) {
    CU_ASSERT_STRING_EQUAL(c->data, "console 1\nshared\n"
                                    "refused GenerateConsoleCtrlEvent 6\n"
                                    "int ignored\n");
  } else {
    CU_ASSERT_STRING_EQUAL(c->data, "console 1\nshared\nbreak 0 seen\n"
                                    "int ignored\n");
  }
  vg_close((vg_handle_t *)&c->proc, NULL);
  vg_test_close_loop(loop);
  free(c);
}

static CU_TestInfo win32_tests[] = {
    {"quote_in_process", test_quote_in_process},
    {"quote_through_child", test_quote_through_child},
    {"quote_argv0", test_quote_argv0},
    {"quote_batch", test_quote_batch},
    {"job_grandchild_outlives_child", test_job_grandchild_outlives_child},
    {"job_closed_with_loop", test_job_closed_with_loop},
    {"console_event_reaches_loop", test_console_event_reaches_loop},
    {"console_event_own_console", test_console_event_own_console},
    {"console_event_two_loops", test_console_event_two_loops},
    {"spawn_refusals", test_spawn_refusals},
    {"inherit_only_stdio", test_inherit_only_stdio},
    {"job_cpu_rate", test_job_cpu_rate},
    {"job_priority_affinity", test_job_priority_affinity},
    {"job_usage", test_job_usage},
    {"job_memory_limit", test_job_memory_limit},
    {"job_process_limit", test_job_process_limit},
    {"job_limit_messages", test_job_limit_messages},
    {"break_headless", test_break_headless},
    CU_TEST_INFO_NULL};

CU_SuiteInfo win32_suite = {
    .pName = "win32",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = win32_tests};

#endif /* _WIN32 */
