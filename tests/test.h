/*
 * test.h -- shared declarations for the CUnit suites.
 *
 * Each tests/test_<module>.c defines `CU_SuiteInfo <module>_suite`
 * (designated initialisers; CUnit 2.1-3 has six fields) over a
 * `CU_TestInfo <module>_tests[]`.  run_tests.c lists every suite once.
 * Tests that need a real child process re-run this binary as
 * `run_tests --child NAME ARGS...` (see child mode table in run_tests.c).
 */
#ifndef VIGIL_TEST_H
#define VIGIL_TEST_H

#include <CUnit/CUnit.h>
#include "vigil.h"

/* Absolute path of the test binary (argv[0]), for child modes. */
extern const char *vg_test_self;
/* A pool that lives for the whole suite run. */
extern apr_pool_t *vg_test_pool;
/* Suites that cannot run on this machine: a suite's init that finds
 * something it needs missing prints a "SKIP: SUITE: why" line, adds one
 * here and returns non-zero.  run_tests does not count such a suite as
 * failed, and exits 77 (ctest's SKIP_RETURN_CODE) when nothing else ran.
 * Never silent: the line says what is missing and how to get it. */
extern int vg_test_suites_skipped;

/* Run the loop until `*flag` becomes non-zero or `ms` of loop time pass.
 * Returns the flag's value.  Uses a private timer; never busy-waits. */
int vg_test_run_until(vg_loop_t *loop, volatile int *flag, uint64_t ms);
/* Run the loop until cond(arg) holds or `ms` of loop time pass; also
 * stops when nothing keeps the loop alive.  Returns cond's last value.
 * A 10 ms guard timer (unreferenced) makes each iteration come back to
 * test cond. */
int vg_test_run_cond(vg_loop_t *loop, int (*cond)(void *), void *arg,
                     uint64_t ms);
/* A new loop on vg_test_pool; a fatal assertion if it cannot be made.
 * Pair with vg_test_close_loop(). */
vg_loop_t *vg_test_new_loop(void);
/* Close every handle still open on the loop, run the close phase, then
 * assert that vg_loop_close() succeeds. */
void vg_test_close_loop(vg_loop_t *loop);
/* Suites that inject faults (pal_fault_inject) clear them before and after
 * each test and when the suite ends, so an assertion that fails in the
 * middle of a test never leaks a fault into the next one:
 * .pSetUpFunc = .pTearDownFunc = vg_test_fault_reset,
 * .pCleanupFunc = vg_test_fault_clean. */
void vg_test_fault_reset(void);
int vg_test_fault_clean(void);
/* How long a suite waits for one event before failing: far above what
 * any event takes, so only a hang fails, even on a loaded machine. */
#define VG_TEST_WAIT_MS 10000

/* Suites.  The same core suites run on every platform; where Windows
 * behaves differently a test asserts the Windows behaviour (#ifdef
 * _WIN32), it is never skipped.  `win32` (tests/test_win32.c) holds the
 * Windows-only cases.  The end-to-end supervisor suites (tests/integration)
 * run on both; vigil_win (tests/integration/test_vigil_win.c) holds their
 * Windows-only cases. */
#define VG_TEST_CORE_SUITES(X)                                               \
  X(pal) X(loop) X(timer) X(tcp) X(pipe) X(udp) X(process) X(signal)        \
  X(async) X(work) X(dns) X(chan) X(lockfile) X(graceful) X(log) X(json)  \
  X(probe) X(target) X(config) X(plan) X(cron) X(restarts) X(logfile) X(fiber) X(envfile)
/* vigil_service (systemd units and sd_notify) is POSIX-only: on Windows
 * `vigil service` talks to the SCM (suite vigil_winsvc). */
#define VG_TEST_INTEG_SUITES(X)                                              \
  X(vigil_config) X(vigil_run) X(vigil_logs) X(vigil_reload)                \
  X(vigil_control) X(vigil_deps) X(vigil_limits) X(vigil_probe) \
  X(vigil_hostile) X(vigil_cli) X(vigil_admin) X(vigil_life)              \
  X(vigil_events) X(vigil_attach)
#ifdef _WIN32
#define VG_TEST_SUITES(X)                                                    \
  VG_TEST_CORE_SUITES(X) X(win32) VG_TEST_INTEG_SUITES(X) X(vigil_win)     \
  X(vigil_winsvc)
#elif defined(__linux__)
/* vigil_real (tests/real): real daemons from Debian's packages. */
#define VG_TEST_SUITES(X)                                                    \
  VG_TEST_CORE_SUITES(X) VG_TEST_INTEG_SUITES(X) X(vigil_service)          \
  X(vigil_spawn) X(vigil_http) X(vigil_real) X(vigil_logtarget)
#else
#define VG_TEST_SUITES(X)                                                    \
  VG_TEST_CORE_SUITES(X) VG_TEST_INTEG_SUITES(X) X(vigil_service)          \
  X(vigil_spawn) X(vigil_http)
#endif

#define X(name) extern CU_SuiteInfo name##_suite;
VG_TEST_SUITES(X)
#undef X

/* Child modes: `run_tests --child NAME args...` calls fn(argc, argv) with
 * argv[0] == NAME and exits with its return value. */
typedef int (*vg_child_fn)(int argc, char **argv);
typedef struct { const char *name; vg_child_fn fn; } vg_child_mode_t;
/* tests/child.c: generic children (exit codes, echo, sleep, ignore TERM,
 * grandchildren, ...).  tests/child_lock.c: lockfile holder. */
extern const vg_child_mode_t vg_child_modes[];
extern const vg_child_mode_t vg_child_lock_modes[];
extern const vg_child_mode_t vg_child_logfile_modes[];
/* tests/test_fiber.c: fiber-overflow. */
extern const vg_child_mode_t vg_child_fiber_modes[];
/* tests/integration/child_integ.c: service behaviours. */
extern const vg_child_mode_t vg_child_integ_modes[];
/* tests/integration/test_vigil_hostile.c: a supervisor with faults. */
extern const vg_child_mode_t vg_child_hostile_modes[];
#ifdef _WIN32
/* tests/test_win32.c: print-argv, console-event, ... */
extern const vg_child_mode_t vg_child_win32_modes[];
#endif

/* ------------------------------------------------------------------------
 * Portability helpers (tests/test_util.c).  Suites call these where the
 * POSIX and Windows ways differ; children (child*.c) may use the OS
 * directly.
 * --------------------------------------------------------------------- */

/* The directory for temporary files, without a trailing separator:
 * $TMPDIR or /tmp on POSIX, GetTempPathW() on Windows (UTF-8). */
const char *vg_test_tmpdir(void);
/* Write `text` to a new file in vg_test_tmpdir() named PREFIX-XXXXXX;
 * its path (in vg_test_pool).  Fails the test if it cannot. */
const char *vg_test_write_temp(const char *prefix, const char *text);
/* A local stream name unique to this process and call, for
 * vg_pipe_bind()/vg_pipe_connect(): "/tmp/vg-TAG-PID-N.sock" (any stale
 * file removed) on POSIX, the named pipe "\\.\pipe\vg-TAG-PID-N" on
 * Windows. */
void vg_test_local_name(char *buf, size_t size, const char *tag);
/* Blocking write / read on a raw pal_fd_t (a pal_pipe() end, either the
 * overlapped or the synchronous one on Windows).  Bytes moved, 0 at EOF
 * (read), -1 on error. */
long vg_test_fd_write(pal_fd_t fd, const void *buf, size_t n);
long vg_test_fd_read(pal_fd_t fd, void *buf, size_t n);
/* One process as Linux's /proc/PID/stat has it. */
typedef struct vg_test_proc_s {
  long pid, ppid, pgid;
  char state;                   /* R, S, D, Z, X, ... */
  char comm[32];
  uint64_t start;               /* clock ticks after boot: with pid, an
                                   identity that survives pid reuse */
} vg_test_proc_t;
/* 1 and *out filled when /proc/PID/stat was read, else 0 (no such
 * process; always 0 where there is no /proc). */
int vg_test_proc_stat(long pid, vg_test_proc_t *out);
/* 1 while process `pid` runs (a zombie counts as gone), else 0. */
int vg_test_pid_alive(long pid);
/* Kill `pid` outright (cleanup after a failed assertion). */
void vg_test_pid_kill(long pid);
/* Set (value != NULL) or remove an environment variable of this process,
 * where vg_spawn() with env NULL reads it. */
void vg_test_setenv(const char *name, const char *value);
/* Open descriptors (POSIX, /proc/self/fd) or handles (Windows: handle
 * values that GetHandleInformation() accepts) of this process; -1 if
 * that cannot be told. */
int vg_test_count_handles(void);
#ifdef _WIN32
/* 1 when running under Wine (ntdll exports wine_get_version): tests
 * assert what Wine does where it differs from Windows. */
int vg_test_is_wine(void);
#endif
/* Say that (part of) test TAG did not run on this machine, and why: one
 * line on stderr, "  SKIPPED [TAG]: WHY" (scripts/test.sh lists them
 * after the run).  Never skip silently. */
void vg_test_skip(const char *tag, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A new cgroup v2 for a test, under this process's own cgroup
 * (pal_cgroup_self), named vigil-test-TAG-PID-N: its directory
 * (malloc'ed), or NULL.  What the machine offers is found out first:
 * without a cgroup2 mount, with one this mount namespace hides, with a
 * read-only one, or with a cgroup not delegated to this user, NULL after
 * a SKIPPED line (vg_test_skip) -- a failure instead when
 * VIGIL_TEST_REQUIRE_CGROUP=1 (a machine known to have cgroups).  Where
 * the machine offers a writable cgroup, any failure to use it is a
 * failed assertion with the reason on stderr. */
char *vg_test_cgroup_create(const char *tag);


/* ------------------------------------------------------------------------
 * Shared test data and loop helpers (tests/test_util.c).
 * --------------------------------------------------------------------- */

/* JSON string escaping: input bytes and the exact escaped form (without
 * quotes) that both the logger (test_log.c) and the protocol writer
 * (test_json.c) must produce.  The table ends with in == NULL. */
typedef struct {
  const char *what;
  const char *in;
  size_t len;                   /* may hold a NUL before the end */
  const char *out;
} vg_test_json_case_t;
extern const vg_test_json_case_t vg_test_json_cases[];

#endif
