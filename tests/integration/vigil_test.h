/*
 * vigil_test.h -- shared helpers of the end-to-end supervisor suites
 * (tests/integration/test_vigil_*.c, prefix vt_).
 *
 * Each test owns a fixture (vt_t): a temporary directory, a libvigil loop
 * and, once started, the real `vigil run` as a child whose stdout and
 * stderr are captured.  Everything a test does -- running the CLI,
 * polling `vigil status --json`, talking to the control socket, sleeping
 * -- runs that loop, so the supervisor's output is drained all along.
 *
 * Services in the configs run this test binary (`run_tests --child MODE
 * ...`, tests/child.c and tests/integration/child_integ.c) by absolute
 * path, so nothing depends on programs installed on the host.
 *
 * Waits are bounded polls (vt_wait_*), never fixed sleeps that assume a
 * timing.  vt_end() stops the supervisor, kills every process the test
 * ever saw (service pids from status, pids a child wrote to a file),
 * closes the loop and removes the directory -- also after a failed
 * assertion, since tests leave through VT_REQUIRE (a plain return), not
 * through CUnit's longjmp-ing *_FATAL asserts.  When a test failed, the
 * supervisor's log is copied to stderr.  VT_KEEP=1 in the environment
 * keeps the directory.
 *
 * The vigil binary: $VIGIL_BIN if set, else the VIGIL_BIN compile
 * definition (tests/CMakeLists.txt: $<TARGET_FILE:vigil-bin>, behind
 * Wine's "Z:" when cross-built).
 *
 * Windows (the suites run under Wine there): vigil.exe is spawned
 * directly -- a child of a Wine process is a Wine process -- in the
 * runner's job, which PDEATHSIG maps to; the control endpoint is the
 * named pipe the supervisor derives from the config's path
 * (vt_control_path()); CLI output comes in text mode and is compared with
 * its "\r\n" folded to "\n" (vt_res_t).  Cases that have no Windows
 * meaning (SIGHUP, SIGTERM to the supervisor, sd_notify, systemd units)
 * are POSIX-only, each saying so.
 */
#ifndef VIGIL_TEST_INTEG_H
#define VIGIL_TEST_INTEG_H

#include <stdint.h>

#include "test.h"
#include "svc_json.h"

/* Default bound of every wait. */
#define VT_WAIT_MS 10000

typedef struct vt_s vt_t;

/* The result of one CLI run.  out/err are NUL-terminated (pool); on
 * Windows with each "\r\n" folded to "\n". */
typedef struct vt_res_s {
  int code;          /* exit code; -1 if killed or timed out */
  int sig;           /* portable signal that ended it, or 0 */
  int timed_out;
  const char *out;
  size_t out_len;
  const char *err;
  size_t err_len;
} vt_res_t;

/* Like CU_ASSERT, and leave the test function when it fails. */
#define VT_REQUIRE(cond)                                                     \
  do {                                                                       \
    if (!CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, __LINE__,      \
                                 #cond, __FILE__, "", CU_FALSE))             \
      return;                                                                \
  } while (0)

/* ---- fixture -------------------------------------------------------------- */

/* A fresh fixture with its own temp directory; NULL (and a failed assert)
 * if that is impossible. */
vt_t *vt_begin(const char *tag);
/* Stop and kill everything, remove the directory, free the fixture. */
void vt_end(vt_t *t);
apr_pool_t *vt_pool(vt_t *t);
vg_loop_t *vt_loop(vt_t *t);
/* DIR/rel (rel NULL: DIR). */
const char *vt_path(vt_t *t, const char *rel);
/* The vigil binary and this test binary, absolute. */
const char *vt_vigil_bin(void);
const char *vt_self(vt_t *t);

/* ---- files ---------------------------------------------------------------- */

int vt_write_file(vt_t *t, const char *path, const char *text);
/* The whole file (NUL-terminated), or NULL if it cannot be read. */
char *vt_read_file(vt_t *t, const char *path, size_t *len);
int vt_exists(const char *path);
/* Non-zero if `text` contains `needle`. */
int vt_contains(const char *text, const char *needle);
/* The number of lines of `text` that contain `needle`. */
int vt_count_lines(const char *text, const char *needle);
/* Offset of the first line containing all of a, b (b may be NULL), or
 * -1.  For ordering assertions on logs. */
long vt_line_offset(const char *text, const char *a, const char *b);
/* A long integer read from a file written by a child (0 if none yet). */
long vt_read_pid_file(vt_t *t, const char *path);
/* vt_read_pid_file() until a pid is there or timeout_ms pass (0). */
long vt_wait_pid_file(vt_t *t, const char *path, uint64_t timeout_ms);

/* ---- configs -------------------------------------------------------------- */

/* The <ready> of a service that counts as running 100 ms after it starts
 * (most tests need no more). */
#define READY_FAST "<ready after=\"100ms\"/>\n"

/* A <service> running this binary:  <command>SELF</command>
 * <arg>--child</arg><arg>MODE</arg> <arg>...</arg> then `extra` (raw XML,
 * may be NULL).  Args are NULL-terminated and XML-escaped.  Windows:
 * without a <stop> in `extra`, <stop timeout="1s"/> (see the .c). */
const char *vt_svc(vt_t *t, const char *name, const char *extra,
                   const char *mode, ...);
/* The fixture of one service on a free TCP port: DIR/vigil.xml
 * (vt_config()) with the service `name` running this binary's child
 * `mode` PORT ARGS... (NULL-terminated) and `extra`, in which each
 * "{port}" stands for the port; then a supervisor on it, started and
 * answering (vt_sup_start_ready()).  The port, or 0 if a step failed
 * (a test failure is recorded). */
int vt_fixture_service(vt_t *t, const char *name, const char *extra,
                       const char *mode, ...);
/* Write DIR/FILE with a <supervisor> section (state-dir DIR/state,
 * log-dir DIR/logs, shutdown-timeout 10s) and the given service XML
 * (concatenated, NULL-terminated).  Returns the path. */
const char *vt_config(vt_t *t, const char *file, ...);
/* Set the <shutdown-timeout> of the config vt_config() wrote last (10s)
 * to `value` ("500ms").  0, or -1 (nothing changed). */
int vt_config_shutdown_timeout(vt_t *t, const char *value);
/* The default control endpoint of the config written by vt_config():
 * STATE/control.sock, or on Windows the named pipe named after the
 * config's path (svc_default_endpoint()). */
const char *vt_control_path(vt_t *t);
const char *vt_log_dir(vt_t *t);
/* XML-escape. */
const char *vt_xml(vt_t *t, const char *s);

/* ---- processes ------------------------------------------------------------ */

/* Run `vigil ARGS...` (NULL-terminated) to completion (killed after
 * timeout_ms).  Never NULL. */
vt_res_t *vt_vigil(vt_t *t, uint64_t timeout_ms, ...);
/* The same with `-c CONFIG` appended (the fixture's current config). */
vt_res_t *vt_cli(vt_t *t, ...);
/* Run `file ARGS...` (NULL-terminated; file absolute, or looked up on
 * PATH) to completion (killed after timeout_ms).  Never NULL. */
vt_res_t *vt_run(vt_t *t, uint64_t timeout_ms, const char *file, ...);
/* Run this binary's child MODE ARGS... (NULL-terminated) as uid/gid
 * (POSIX, as root), to completion (VT_WAIT_MS at most).  It runs from a
 * copy in a new directory under /tmp (mode 0755, removed afterwards, the
 * child's working directory), so the build tree may be anywhere, e.g. a
 * clone in /root; a failed run prints its exit and stderr. */
vt_res_t *vt_child_as(vt_t *t, long uid, long gid, const char *mode, ...);
/* The directories above `path` that another user (neither owner nor in
 * the group) cannot search, as "DIR (mode 700), ...", or NULL. */
const char *vt_unreachable(vt_t *t, const char *path);

/* Start `vigil run -c config` (becomes the fixture's current config),
 * then the arguments of vt_sup_args(). */
int vt_sup_start(vt_t *t, const char *config);
/* Extra arguments (NULL-terminated, at most 8) for the next `vigil run`s
 * of this fixture, e.g. "--log-level", "debug". */
void vt_sup_args(vt_t *t, ...);
/* The same with another command line (argv[0] the program), which runs
 * a supervisor for config: this binary's child modes. */
int vt_sup_start_argv(vt_t *t, const char *config, const char *const *argv);
/* Start it and wait until `status` answers.  1 on success. */
int vt_sup_start_ready(vt_t *t, const char *config);
long vt_sup_pid(vt_t *t);
int vt_sup_running(vt_t *t);
/* Wait for the supervisor's exit (and its output's EOF, bounded).
 * Returns its exit code, -1 on timeout (it is then still running), -2 if
 * killed by a signal. */
int vt_sup_wait_exit(vt_t *t, uint64_t ms);
/* The supervisor's stderr (its log) so far, and its stdout. */
const char *vt_sup_log(vt_t *t);
const char *vt_sup_out(vt_t *t);
/* Signal the supervisor (portable signal number). */
int vt_sup_kill(vt_t *t, int signum);
/* Wait until the supervisor log holds `needle`. */
int vt_wait_log(vt_t *t, const char *needle, uint64_t ms);

/* Remember a pid for the cleanup of vt_end(). */
void vt_track(vt_t *t, long pid);
/* A stamp of pid's start (Linux: /proc's start time in clock ticks
 * since boot), 0 if there is no such process.  Equal stamps: the same
 * process, not a reused pid. */
uint64_t vt_start_time(long pid);
/* Non-zero if pid is a live process (a zombie counts as gone). */
int vt_pid_alive(long pid);
/* Wait until pid is gone.  1 when gone. */
int vt_wait_pid_gone(vt_t *t, long pid, uint64_t ms);

/* Run the loop for ms (the supervisor's output keeps being drained). */
void vt_sleep(vt_t *t, uint64_t ms);
/* Milliseconds since an arbitrary origin (wall clock). */
uint64_t vt_now_ms(void);

/* ---- status ---------------------------------------------------------------- */

/* `vigil status --json -c CONFIG`, parsed; NULL if it failed. */
svc_json_t *vt_status(vt_t *t);
/* on: status polls use `--control ENDPOINT` instead of `-c CONFIG` (for
 * tests that leave an invalid config file in place). */
void vt_use_control(vt_t *t, int on);
/* The entry of service `name` in a status, or NULL. */
const svc_json_t *vt_svc_of(const svc_json_t *status, const char *name);
/* Its field as a string / integer (-1 when null or missing). */
const char *vt_sfield(const svc_json_t *svc, const char *key);
int64_t vt_ifield(const svc_json_t *svc, const char *key);
/* One service's state ("" if unknown) / pid (-1) from a fresh status. */
const char *vt_state(vt_t *t, const char *name);
long vt_pid(vt_t *t, const char *name);
/* Poll until service `name` is in `state`; returns its status entry (from
 * the fixture pool), NULL on timeout. */
const svc_json_t *vt_wait_state(vt_t *t, const char *name,
                                const char *state, uint64_t ms);
/* Poll until `pred(entry, arg)` holds for service name's entry (or the
 * fixture's own supervisor exited). */
typedef int (*vt_pred_fn)(const svc_json_t *svc, void *arg);
const svc_json_t *vt_wait_svc(vt_t *t, const char *name, vt_pred_fn pred,
                              void *arg, uint64_t ms);

/* ---- control socket --------------------------------------------------------- */

/* Connect to the control endpoint, send `len` bytes, and read until
 * `lines` newlines came (0: until EOF), EOF, or timeout.  *reply: what
 * came (NUL-terminated, pool); *closed: the server closed the connection.
 * Returns 0 if connected and something was read, else -1. */
int vt_control_raw(vt_t *t, const char *data, size_t len, int lines,
                   uint64_t timeout_ms, const char **reply, int *closed);

/* ---- network ---------------------------------------------------------------- */

/* The same exchange as vt_control_raw() with 127.0.0.1:port over TCP
 * (libvigil's own stream, on the fixture's loop), e.g. an HTTP request
 * with "Connection: close" read until EOF (lines 0). */
int vt_tcp_raw(vt_t *t, int port, const char *data, size_t len, int lines,
               uint64_t timeout_ms, const char **reply, int *closed);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int vt_free_port(vt_t *t);

#endif
