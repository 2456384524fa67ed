/*
 * child.c -- behaviours of `run_tests --child NAME ARGS...`, used by the
 * process, pipe and signal suites to get a real child with a known
 * behaviour without depending on any program installed on the host.
 *
 *   exit CODE          exit with CODE
 *   echo               copy stdin to stdout until EOF, exit 0
 *   print TEXT         write TEXT (verbatim, no newline) to stdout
 *   print-stderr TEXT  the same on stderr
 *   sleep MS           sleep MS milliseconds, exit 0
 *   ignore-term        ignore SIGTERM, print "ready\n", sleep 30 s
 *   spawn-grandchild   fork a grandchild that sleeps 30 s, print its pid
 *                      and "\n", sleep 30 s
 *   env NAME           print the value of NAME and "\n" ("(unset)\n")
 *   cwd                print the working directory and "\n"
 *   backend [later] [REFUSED]
 *                      create a loop: "NAME ok\n" or "NAME: CALL failed\n";
 *                      REFUSED ("setup", "disabled", "nomem", "probe",
 *                      "pbuf", "msgring", "memlock"; Linux) has the kernel refuse
 *                      that part of io_uring first (a seccomp filter)
 *                      and wakes the loop once: "NAME ok woke\n";
 *                      "later": after a first loop was made.  Then the
 *                      reason the default is not io_uring, if any
 *   refuse-exec REFUSED PROG ARGS...
 *                      (POSIX) the same refusal, then exec PROG ARGS
 *                      with VIGIL_BACKEND unset
 *   kill-self SIG      raise SIG ("TERM", "SIGKILL", ... or a portable
 *                      number) on itself
 *   fds                print the open descriptors >= 3 as
 *                      "COUNT[ FD...]\n" (the descriptor used to list
 *                      them is not counted); "0\n" when nothing leaked
 *   write-bytes N      write N bytes of the vg_test pattern (byte i is
 *                      (i * 7 + 3) % 251) to stdout
 *
 * Resource limits and usage (tests/test_process.c, the vigil_limits
 * suite, and on Windows tests/test_win32.c):
 *   burn MS            spin until this process has used MS ms of CPU
 *                      time, print "burned\n", sleep 30 s
 *   alloc MB           allocate and touch MB megabytes, print "ready\n",
 *                      sleep 30 s; exit 1 if the allocation fails
 * POSIX only:
 *   rlimits            print "AS=V NOFILE=V NPROC=V\n", the soft limits
 *                      (a number or "unlimited")
 *   daemon FILE        fork a child that leaves the process group and
 *                      session (setsid), writes its pid to FILE (whole,
 *                      by rename) and sleeps 30 s; the parent sleeps 30 s
 *   comm NAME          (Linux) set the command name, the one /proc/PID/stat
 *                      shows in parentheses, to NAME; print "ready\n",
 *                      sleep 30 s
 *   creds              print "uid=U gid=G groups=G1,G2 umask=0NNN nice=N"
 *                      and, on Linux, " cpus=0,2 pdeath=SIG" (the
 *                      allowed CPUs, the parent-death signal number), "\n"
 *                      (groups sorted, "-" when none)
 *
 * Children are not bound by the layering rule: they use the OS directly
 * (Linux first; /proc/self/fd for "fds").  Sleeps are bounded so that a
 * test that fails to kill a child never leaves it behind for long.
 *
 * Windows (the same modes, other means; the suites state what differs):
 *   stdio goes through the std HANDLEs with ReadFile/WriteFile (no CRT
 *   text-mode "\r\n" translation);
 *   ignore-term       ignores the console control events (Ctrl+C, Break,
 *                     close) -- TerminateProcess, which is what the PAL's
 *                     TERM is, cannot be ignored;
 *   spawn-grandchild  CreateProcessW of `run_tests --child sleep 30000`,
 *                     which lands in our job object; no handle inherited;
 *   env, cwd          GetEnvironmentVariableW, GetCurrentDirectoryW, in
 *                     UTF-8;
 *   kill-self SIG     TERM, INT, BREAK: the CRT's raise(), whose default
 *                     action is _exit(3) (there are no signals that kill);
 *                     other names exit 125;
 *   fds H...          the handle values H (hexadecimal, as the parent
 *                     holds them) that are valid here as an object of
 *                     the same kind: "COUNT[ H...]\n"; inherited handles
 *                     keep their value, so "0\n" means none leaked.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <windows.h>
#include <time.h>   /* clock_gettime (winpthreads) */
#else
#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#ifdef __linux__
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif
#endif

/* Upper bound of every "sleep long" in a child. */
#define CHILD_LONG_SLEEP_MS 30000

#ifdef _WIN32

static void sleep_ms(long ms) { Sleep((DWORD)ms); }

static HANDLE std_handle(int fd) {
  return GetStdHandle(fd == 0 ? STD_INPUT_HANDLE
                              : fd == 1 ? STD_OUTPUT_HANDLE
                                        : STD_ERROR_HANDLE);
}

static int write_all(int fd, const char *p, size_t n) {
  HANDLE h = std_handle(fd);
  while (n > 0) {
    DWORD w = 0, want = n > 65536 ? 65536 : (DWORD)n;
    if (!WriteFile(h, p, want, &w, NULL))
      return -1;
    p += w;
    n -= w;
  }
  return 0;
}

/* A wide string as UTF-8, malloc'ed. */
static char *utf8(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  char *s;
  if (n <= 0 || !(s = malloc((size_t)n)))
    return NULL;
  WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
  return s;
}

#else

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

#endif

static int write_str(int fd, const char *s) {
  return write_all(fd, s, strlen(s));
}

static int need_args(int argc, char **argv, int n) {
  if (argc < n + 1) {
    fprintf(stderr, "child %s: needs %d argument(s)\n", argv[0], n);
    return 0;
  }
  return 1;
}

static int child_exit(int argc, char **argv) {
  if (!need_args(argc, argv, 1))
    return 125;
  return atoi(argv[1]);
}

static int child_echo(int argc, char **argv) {
  char buf[16384];
  (void)argc;
  (void)argv;
  for (;;) {
#ifdef _WIN32
    DWORD n = 0;
    if (!ReadFile(std_handle(0), buf, sizeof buf, &n, NULL))
      return GetLastError() == ERROR_BROKEN_PIPE ? 0 : 1;
    if (n == 0)
      return 0;   /* NUL, or a file at its end */
#else
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0)
      return 0;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return 1;
    }
#endif
    if (write_all(1, buf, (size_t)n) != 0)
      return 1;
  }
}

static int child_print(int argc, char **argv) {
  if (!need_args(argc, argv, 1))
    return 125;
  return write_str(1, argv[1]) == 0 ? 0 : 1;
}

static int child_print_stderr(int argc, char **argv) {
  if (!need_args(argc, argv, 1))
    return 125;
  return write_str(2, argv[1]) == 0 ? 0 : 1;
}

static int child_sleep(int argc, char **argv) {
  if (!need_args(argc, argv, 1))
    return 125;
  sleep_ms(atol(argv[1]));
  return 0;
}

#ifdef _WIN32
static BOOL WINAPI ignore_ctrl(DWORD event) {
  (void)event;
  return TRUE;   /* handled: Ctrl+C, Break, close are all ignored */
}
#endif

static int child_ignore_term(int argc, char **argv) {
  (void)argc;
  (void)argv;
#ifdef _WIN32
  SetConsoleCtrlHandler(NULL, TRUE);
  SetConsoleCtrlHandler(ignore_ctrl, TRUE);
#else
  signal(SIGTERM, SIG_IGN);
#endif
  if (write_str(1, "ready\n") != 0)
    return 1;
  sleep_ms(CHILD_LONG_SLEEP_MS);
  return 0;
}

#ifdef _WIN32
/* The grandchild is this binary sleeping; created by us, it is in our job
 * (no breakaway), which is what vg_process_kill_tree() terminates.  It
 * inherits nothing: the parent test reads our stdout until EOF, which
 * must come when we die. */
static int child_spawn_grandchild(int argc, char **argv) {
  wchar_t self[MAX_PATH + 1], cmd[MAX_PATH + 64];
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  char line[32];
  DWORD n;
  (void)argc;
  (void)argv;
  n = GetModuleFileNameW(NULL, self, MAX_PATH);
  if (n == 0 || n >= MAX_PATH)
    return 1;
  _snwprintf(cmd, sizeof cmd / sizeof cmd[0] - 1,
             L"\"%ls\" --child sleep %d", self, CHILD_LONG_SLEEP_MS);
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
  if (write_str(1, line) != 0)
    return 1;
  sleep_ms(CHILD_LONG_SLEEP_MS);
  return 0;
}
#else
static int child_spawn_grandchild(int argc, char **argv) {
  char line[32];
  pid_t pid;
  (void)argc;
  (void)argv;
  pid = fork();
  if (pid < 0)
    return 1;
  if (pid == 0) {
    /* The grandchild keeps nothing of ours open: the parent test reads
     * our stdout until EOF, which must come when we die. */
    int fd;
    for (fd = 0; fd < 3; fd++)
      close(fd);
    sleep_ms(CHILD_LONG_SLEEP_MS);
    _exit(0);
  }
  snprintf(line, sizeof line, "%ld\n", (long)pid);
  if (write_str(1, line) != 0)
    return 1;
  sleep_ms(CHILD_LONG_SLEEP_MS);
  return 0;
}
#endif

#ifdef _WIN32
static int child_env(int argc, char **argv) {
  wchar_t name[256], val[4096];
  char *v = NULL;
  DWORD n;
  int rc;
  if (!need_args(argc, argv, 1))
    return 125;
  if (!MultiByteToWideChar(CP_UTF8, 0, argv[1], -1, name, 256))
    return 1;
  n = GetEnvironmentVariableW(name, val, 4096);
  if (n > 0 && n < 4096)
    v = utf8(val);
  rc = write_str(1, v ? v : "(unset)") != 0 || write_str(1, "\n") != 0;
  free(v);
  return rc;
}

static int child_cwd(int argc, char **argv) {
  wchar_t buf[4096];
  char *s;
  int rc;
  DWORD n = GetCurrentDirectoryW(4096, buf);
  (void)argc;
  (void)argv;
  if (n == 0 || n >= 4096 || !(s = utf8(buf)))
    return 1;
  rc = write_str(1, s) != 0 || write_str(1, "\n") != 0;
  free(s);
  return rc;
}
#else
static int child_env(int argc, char **argv) {
  const char *v;
  if (!need_args(argc, argv, 1))
    return 125;
  v = getenv(argv[1]);
  if (write_str(1, v ? v : "(unset)") != 0 || write_str(1, "\n") != 0)
    return 1;
  return 0;
}

static int child_cwd(int argc, char **argv) {
  char buf[4096];
  (void)argc;
  (void)argv;
  if (!getcwd(buf, sizeof buf))
    return 1;
  if (write_str(1, buf) != 0 || write_str(1, "\n") != 0)
    return 1;
  return 0;
}
#endif

#if defined(__linux__) && defined(__NR_io_uring_setup)
/* The kernel refuses part of io_uring, as an old kernel, a seccomp
 * profile (Docker's), io_uring_disabled or a memory limit would, with a
 * seccomp filter (io_uring_register's opcode in args[1]):
 *   setup     io_uring_setup fails with ENOSYS (before 5.1, filtered)
 *   disabled  io_uring_setup fails with EPERM (io_uring_disabled = 2,
 *             or = 1 outside io_uring_group; Docker's profile)
 *   nomem     io_uring_setup fails with ENOMEM (RLIMIT_MEMLOCK before
 *             5.12, no memory)
 *   probe     IORING_REGISTER_PROBE fails with EINVAL (before 5.6)
 *   pbuf      IORING_REGISTER_PBUF_RING fails with EINVAL (before 5.19:
 *             no provided-buffer rings)
 *   msgring   the MSG_RING that needs no ring of its own (opcode 31,
 *             6.13) fails with EINVAL
 *   memlock   no seccomp filter: RLIMIT_MEMLOCK is 0, which refuses a
 *             ring only where rings are charged to it (before 5.12) */
static int refuse_uring(const char *what) {
  struct sock_filter setup[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  struct sock_filter reg[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
               offsetof(struct seccomp_data, args[1])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 31, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  struct sock_fprog prog;
  if (!strcmp(what, "setup") || !strcmp(what, "disabled") ||
      !strcmp(what, "nomem")) {
    setup[2].k = SECCOMP_RET_ERRNO | (what[0] == 's'   ? ENOSYS
                                      : what[0] == 'd' ? EPERM
                                                       : ENOMEM);
    prog.filter = setup;
    prog.len = sizeof setup / sizeof setup[0];
  } else if (!strcmp(what, "msgring") || !strcmp(what, "probe") ||
             !strcmp(what, "pbuf")) {
    /* IORING_REGISTER_SEND_MSG_RING, _PROBE, _PBUF_RING (the numbers:
     * the uapi header may predate them) */
    reg[3].k = what[0] == 'm' ? 31 : what[1] == 'r' ? 8 : 22;
    prog.filter = reg;
    prog.len = sizeof reg / sizeof reg[0];
  } else if (!strcmp(what, "memlock")) {
    struct rlimit rl = {0, 0};
    return setrlimit(RLIMIT_MEMLOCK, &rl);
  } else {
    return -1;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    return -1;
  return 0;
}
#else
static int refuse_uring(const char *what) {
  (void)what;
  return -1;
}
#endif

static void backend_woken(pal_poll_t *p, void *data) {
  (void)p;
  *(int *)data = 1;
}

/* The backend a loop gets here, and whether it could be made: "NAME
 * ok" or "NAME: CALL failed".  With REFUSED (Linux: refuse_uring's
 * names), the kernel refuses that part of io_uring first, and a loop
 * that could be made is woken once: "NAME ok woke".  With "later
 * REFUSED", a first loop is made before the refusal, and the line is
 * about a second one.  Then pal_poll_fallback()'s reason, if any, on a
 * line of its own. */
static int child_backend(int argc, char **argv) {
  pal_poll_t *p, *first = NULL;
  apr_status_t rv;
  int woken = 0;
  const char *why;
  if (argc > 2 && !strcmp(argv[1], "later")) {
    if (pal_poll_create(&first) != APR_SUCCESS)
      return 125;
    argc--;
    argv++;
  }
  if (argc > 1 && refuse_uring(argv[1]) != 0)
    return 125;
  rv = pal_poll_create(&p);
  if (rv == APR_SUCCESS) {
    if (argc > 1) {
      pal_poll_set_wakeup_cb(p, backend_woken, &woken);
      if (pal_poll_wakeup(p) == APR_SUCCESS)
        (void)pal_poll_wait(p, 10000);
    }
    pal_poll_destroy(p);
  }
  pal_poll_destroy(first);
  if (write_str(1, pal_poll_name()) != 0 ||
      write_str(1, rv != APR_SUCCESS ? ": "
                   : argc < 2        ? " ok\n"
                   : woken           ? " ok woke\n"
                                     : " ok, not woken\n") != 0)
    return 1;
  if (rv != APR_SUCCESS &&
      (write_str(1, pal_last_call() ? pal_last_call() : "?") != 0 ||
       write_str(1, " failed\n") != 0))
    return 1;
  if ((why = pal_poll_fallback()) != NULL &&
      (write_str(1, why) != 0 || write_str(1, "\n") != 0))
    return 1;
  return 0;
}

#ifndef _WIN32
/* refuse-exec REFUSED PROG ARGS...: the kernel refuses that part of
 * io_uring (refuse_uring), then PROG runs on the default backend
 * (VIGIL_BACKEND unset). */
static int child_refuse_exec(int argc, char **argv) {
  if (!need_args(argc, argv, 2) || refuse_uring(argv[1]) != 0)
    return 125;
  unsetenv("VIGIL_BACKEND");
  execv(argv[2], argv + 2);
  return 127;
}
#endif

static int child_kill_self(int argc, char **argv) {
  int portable, native;
  if (!need_args(argc, argv, 1))
    return 125;
  portable = vg_signal_from_name(argv[1]);
  if (portable == 0)
    portable = atoi(argv[1]);
#ifdef _WIN32
  /* pal_signal_native() gives console events here, not CRT signals; the
   * CRT knows INT, BREAK and TERM, and ends the process with exit code 3
   * for each by default. */
  (void)native;
  switch (portable) {
  case VG_SIGTERM: raise(SIGTERM); break;
  case VG_SIGINT: raise(SIGINT); break;
  case VG_SIGBREAK: raise(SIGBREAK); break;
  default:
    fprintf(stderr, "child kill-self: no CRT signal for '%s'\n", argv[1]);
    return 125;
  }
#else
  native = pal_signal_native(portable);
  if (native <= 0) {
    fprintf(stderr, "child kill-self: unknown signal '%s'\n", argv[1]);
    return 125;
  }
  signal(native, SIG_DFL);
  raise(native);
#endif
  sleep_ms(5000);   /* a blocked signal would be a spawn bug */
  return 126;
}

#ifdef _WIN32
/* Each argument is "p<hex>" (a pipe end) or "s<hex>" (a socket) as the
 * parent holds it.  An inherited handle keeps its value; one that merely
 * happens to be valid here would have to be an object of the same kind
 * too, which this fresh process has no reason to own. */
static int child_fds(int argc, char **argv) {
  char out[4096];
  size_t len;
  int i, n = 0;
  long found[256];
  for (i = 1; i < argc; i++) {
    unsigned long long v = strtoull(argv[i] + 1, NULL, 16);
    HANDLE h = (HANDLE)(ULONG_PTR)v;
    DWORD flags;
    int same = 0;
    if (!GetHandleInformation(h, &flags))
      continue;
    if (argv[i][0] == 's') {
      int type, tl = sizeof type;
      same = getsockopt((SOCKET)(ULONG_PTR)v, SOL_SOCKET, SO_TYPE,
                        (char *)&type, &tl) == 0;
    } else {
      same = GetFileType(h) == FILE_TYPE_PIPE;
    }
    if (same && n < 256)
      found[n++] = (long)v;
  }
  len = (size_t)snprintf(out, sizeof out, "%d", n);
  for (i = 0; i < n && len < sizeof out - 24; i++)
    len += (size_t)snprintf(out + len, sizeof out - len, " %lx", found[i]);
  snprintf(out + len, sizeof out - len, "\n");
  return write_str(1, out) == 0 ? 0 : 1;
}
#else
static int child_fds(int argc, char **argv) {
  char out[4096];
  int fds[256];
  int n = 0, i;
  size_t len;
  struct dirent *de;
  DIR *d;
  (void)argc;
  (void)argv;
  d = opendir("/proc/self/fd");
  if (!d)
    return 1;
  while ((de = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(de->d_name, &end, 10);
    if (*end != '\0' || de->d_name[0] == '\0')
      continue;
    if (fd < 3 || fd == dirfd(d))
      continue;
    if (n < (int)(sizeof fds / sizeof fds[0]))
      fds[n++] = (int)fd;
  }
  closedir(d);
  /* readdir order is not numeric: sort for a stable line. */
  for (i = 1; i < n; i++) {
    int v = fds[i], j = i - 1;
    while (j >= 0 && fds[j] > v) {
      fds[j + 1] = fds[j];
      j--;
    }
    fds[j + 1] = v;
  }
  len = (size_t)snprintf(out, sizeof out, "%d", n);
  for (i = 0; i < n && len < sizeof out - 16; i++)
    len += (size_t)snprintf(out + len, sizeof out - len, " %d", fds[i]);
  snprintf(out + len, sizeof out - len, "\n");
  return write_str(1, out) == 0 ? 0 : 1;
}
#endif

static int child_write_bytes(int argc, char **argv) {
  char buf[8192];
  unsigned long long total, i = 0;
  if (!need_args(argc, argv, 1))
    return 125;
  total = strtoull(argv[1], NULL, 10);
  while (i < total) {
    size_t n = 0;
    while (n < sizeof buf && i < total) {
      buf[n++] = (char)((i * 7 + 3) % 251);
      i++;
    }
    if (write_all(1, buf, n) != 0)
      return 1;
  }
  return 0;
}

#ifndef _WIN32
static void rlimit_str(char *buf, size_t size, int which) {
  struct rlimit rl;
  if (getrlimit(which, &rl) != 0)
    snprintf(buf, size, "error");
  else if (rl.rlim_cur == RLIM_INFINITY)
    snprintf(buf, size, "unlimited");
  else
    snprintf(buf, size, "%llu", (unsigned long long)rl.rlim_cur);
}

static int child_rlimits(int argc, char **argv) {
  char as[32], nofile[32], nproc[32], line[128];
  (void)argc;
  (void)argv;
  rlimit_str(as, sizeof as, RLIMIT_AS);
  rlimit_str(nofile, sizeof nofile, RLIMIT_NOFILE);
  rlimit_str(nproc, sizeof nproc, RLIMIT_NPROC);
  snprintf(line, sizeof line, "AS=%s NOFILE=%s NPROC=%s\n", as, nofile,
           nproc);
  return write_str(1, line) == 0 ? 0 : 1;
}
#endif

/* burn and alloc serve Windows too (test_win32.c: job accounting and
 * the job memory limit). */
static int child_burn(int argc, char **argv) {
  long want;
  volatile unsigned long spin = 0;
  if (!need_args(argc, argv, 1))
    return 125;
  want = atol(argv[1]);
  for (;;) {
    struct timespec ts;
    int i;
    for (i = 0; i < 100000; i++)
      spin++;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
      return 1;
    if (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L >= want)
      break;
  }
  if (write_str(1, "burned\n") != 0)
    return 1;
  sleep_ms(CHILD_LONG_SLEEP_MS);
  return 0;
}

static int child_alloc(int argc, char **argv) {
  size_t n, i;
  char *p;
  if (!need_args(argc, argv, 1))
    return 125;
  n = (size_t)atol(argv[1]) * 1024 * 1024;
  p = malloc(n);
  if (!p)
    return 1;
  for (i = 0; i < n; i += 4096)
    p[i] = (char)i;   /* touch every page: resident now */
  if (write_str(1, "ready\n") != 0)
    return 1;
  sleep_ms(CHILD_LONG_SLEEP_MS);
  free(p);
  return 0;
}

#ifndef _WIN32
static int child_daemon(int argc, char **argv) {
  pid_t pid;
  if (!need_args(argc, argv, 1))
    return 125;
  pid = fork();
  if (pid < 0)
    return 1;
  if (pid == 0) {
    char tmp[4096], line[32];
    FILE *f;
    int fd;
    if (setsid() < 0)
      _exit(1);
    for (fd = 0; fd < 3; fd++)
      close(fd);   /* no pipe of the service held open */
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    snprintf(line, sizeof line, "%ld\n", (long)getpid());
    f = fopen(tmp, "w");
    if (!f || fputs(line, f) < 0 || fclose(f) != 0 ||
        rename(tmp, argv[1]) != 0)
      _exit(1);
    sleep_ms(CHILD_LONG_SLEEP_MS);
    _exit(0);
  }
  sleep_ms(CHILD_LONG_SLEEP_MS);
  return 0;
}

static int cmp_gid(const void *a, const void *b) {
  gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
  return x < y ? -1 : x > y;
}

static int child_creds(int argc, char **argv) {
  gid_t groups[256];
  char line[4096];
  size_t len;
  mode_t m;
  int n, i;
  (void)argc;
  (void)argv;
  n = getgroups(256, groups);
  if (n < 0)
    return 1;
  qsort(groups, (size_t)n, sizeof groups[0], cmp_gid);
  len = (size_t)snprintf(line, sizeof line, "uid=%ld gid=%ld groups=",
                         (long)getuid(), (long)getgid());
  for (i = 0; i < n && len + 32 < sizeof line; i++)
    len += (size_t)snprintf(line + len, sizeof line - len, "%s%ld",
                            i ? "," : "", (long)groups[i]);
  if (n == 0)
    len += (size_t)snprintf(line + len, sizeof line - len, "-");
  m = umask(0);
  umask(m);
  errno = 0;
  len += (size_t)snprintf(line + len, sizeof line - len, " umask=%04o nice=%d",
                          (unsigned)m, getpriority(PRIO_PROCESS, 0));
#ifdef __linux__
  {
    cpu_set_t set;
    int pdeath = -1, first = 1;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
      return 1;
    len += (size_t)snprintf(line + len, sizeof line - len, " cpus=");
    for (i = 0; i < CPU_SETSIZE && len + 16 < sizeof line; i++)
      if (CPU_ISSET(i, &set)) {
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%d",
                                first ? "" : ",", i);
        first = 0;
      }
    prctl(PR_GET_PDEATHSIG, &pdeath);
    len += (size_t)snprintf(line + len, sizeof line - len, " pdeath=%d",
                            pdeath);
  }
#endif
  snprintf(line + len, sizeof line - len, "\n");
  return write_str(1, line) == 0 ? 0 : 1;
}

#ifdef __linux__
static int child_comm(int argc, char **argv) {
  if (!need_args(argc, argv, 1))
    return 125;
  if (prctl(PR_SET_NAME, argv[1]) != 0)
    return 1;
  if (write_str(1, "ready\n") != 0)
    return 1;
  sleep_ms(CHILD_LONG_SLEEP_MS);
  return 0;
}
#endif
#endif

const vg_child_mode_t vg_child_modes[] = {
    {"exit", child_exit},
    {"echo", child_echo},
    {"print", child_print},
    {"print-stderr", child_print_stderr},
    {"sleep", child_sleep},
    {"ignore-term", child_ignore_term},
    {"spawn-grandchild", child_spawn_grandchild},
    {"env", child_env},
    {"backend", child_backend},
#ifndef _WIN32
    {"refuse-exec", child_refuse_exec},
#endif
    {"cwd", child_cwd},
    {"kill-self", child_kill_self},
    {"fds", child_fds},
    {"write-bytes", child_write_bytes},
    {"burn", child_burn},
    {"alloc", child_alloc},
#ifndef _WIN32
    {"rlimits", child_rlimits},
    {"daemon", child_daemon},
    {"creds", child_creds},
#ifdef __linux__
    {"comm", child_comm},
#endif
#endif
    {NULL, NULL}};
