/*
 * test_process.c -- child processes: exit codes and signals, spawn
 * failures, stdio (pipes, files, descriptors, /dev/null), environment
 * and working directory, descriptor hygiene, killing a process tree,
 * resource usage of a tree (POSIX here; pal/win32's job accounting is
 * tested by the win32 suite), and many spawns in a row.
 *
 * Children are this test binary re-run as `run_tests --child MODE ...`
 * (tests/child.c), by absolute path so that a changed cwd still finds it.
 * The order of a child's stdout EOF and its exit callback is not part of
 * the API: tests wait for both and never assert which came first.
 *
 * Windows (pal/win32/proc.c; each test states both expectations where
 * they differ): there are no signals.  TERM, KILL and the other signals
 * whose POSIX default is death are TerminateProcess (exit code 1, which
 * the exit callback reports as -1 and the signal we sent), which a child
 * cannot ignore; a process ending itself reports its exit code with
 * term_signal 0.  Every child is in a job object of its own, which is
 * the "tree" vg_process_kill_tree() terminates, group or not.  Handles
 * play the part of descriptors.
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
#include <windows.h>
#else
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static char self_path[4096];
/* Non-close-on-exec descriptors >= 3 this process inherited from its own
 * parent (a shell, make's jobserver...), in the "fds" child's format.
 * They are not Vigil's to close, so a child legitimately sees them. */
static char inherited_fds[1024];

#ifdef _WIN32
/* Inherited handles keep their values, and the "fds" child looks for
 * the values it is given: it has inherited none of ours when it finds
 * none. */
static void list_inheritable(char *out, size_t size) {
  snprintf(out, size, "0\n");
}

static int count_open_fds(void) { return vg_test_count_handles(); }

static int suite_init(void) {
  snprintf(self_path, sizeof self_path, "%s", vg_test_self);
  list_inheritable(inherited_fds, sizeof inherited_fds);
  return 0;
}
#else
static void list_inheritable(char *out, size_t size) {
  int fds[256], n = 0, i;
  size_t len;
  struct dirent *de;
  DIR *d = opendir("/proc/self/fd");
  out[0] = '\0';
  if (!d)
    return;
  while ((de = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(de->d_name, &end, 10);
    int fl;
    if (*end != '\0' || de->d_name[0] == '\0' || fd < 3 || fd == dirfd(d))
      continue;
    fl = fcntl((int)fd, F_GETFD);
    if (fl < 0 || (fl & FD_CLOEXEC))
      continue;   /* (valgrind's own descriptors answer EBADF) */
    if (n < 256)
      fds[n++] = (int)fd;
  }
  closedir(d);
  for (i = 1; i < n; i++) {
    int v = fds[i], j = i - 1;
    while (j >= 0 && fds[j] > v) {
      fds[j + 1] = fds[j];
      j--;
    }
    fds[j + 1] = v;
  }
  len = (size_t)snprintf(out, size, "%d", n);
  for (i = 0; i < n && len + 16 < size; i++)
    len += (size_t)snprintf(out + len, size - len, " %d", fds[i]);
  snprintf(out + len, size - len, "\n");
}

static int count_open_fds(void) {
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

static int suite_init(void) {
  if (!realpath(vg_test_self, self_path))
    return -1;
  list_inheritable(inherited_fds, sizeof inherited_fds);
  return 0;
}
#endif


/* ------------------------------------------------------------------------
 * A child with optional stdin/stdout/stderr pipes.
 * --------------------------------------------------------------------- */

typedef struct {
  vg_pipe_t p;
  char buf[16384];
  char data[65536];
  size_t len;        /* bytes kept in data */
  size_t total;      /* bytes received */
  int eof;           /* 1 EOF, -1 error */
  int used;
} capture_t;

typedef struct {
  vg_process_t proc;
  capture_t out, err;
  vg_pipe_t in;
  int in_used;
  vg_write_t in_req;
  apr_status_t in_status;
  int exited;
  int exit_status;
  int term_signal;
  long pid_at_spawn;
  int closed;
  const char *argv[16];
  vg_process_options_t opts;
} child_t;

static void cap_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  capture_t *c = h->data;
  (void)suggested;
  buf->base = c->buf;
  buf->len = sizeof c->buf;
}

static void cap_read(vg_stream_t *s, apr_status_t status, size_t nread,
                     const vg_buf_t *buf) {
  capture_t *c = s->data;
  if (status == APR_EOF) {
    c->eof = 1;
    return;
  }
  if (status != APR_SUCCESS) {
    c->eof = -1;
    return;
  }
  /* Keep a contiguous prefix of what arrived. */
  if (nread > 0 && c->len == c->total && c->len + nread < sizeof c->data) {
    memcpy(c->data + c->len, buf->base, nread);
    c->len += nread;
    c->data[c->len] = '\0';
  }
  c->total += nread;
}

static void child_closed(vg_handle_t *h) {
  ((child_t *)h->data)->closed = 1;
}

static void child_exit_cb(vg_process_t *p, int exit_status,
                          int term_signal) {
  child_t *c = p->data;
  c->exited++;
  c->exit_status = exit_status;
  c->term_signal = term_signal;
  vg_close((vg_handle_t *)p, child_closed);
}

/* Fill argv: self --child MODE args... */
static void child_prepare(child_t *c, const char *mode, const char *a1,
                          const char *a2) {
  int n = 0;
  memset(c, 0, sizeof *c);
  c->argv[n++] = self_path;
  c->argv[n++] = "--child";
  c->argv[n++] = mode;
  if (a1)
    c->argv[n++] = a1;
  if (a2)
    c->argv[n++] = a2;
  c->argv[n] = NULL;
  c->opts.file = self_path;
  c->opts.args = c->argv;
  c->opts.exit_cb = child_exit_cb;
  c->exit_status = -100;
  c->term_signal = -100;
}

static void child_pipe(vg_loop_t *loop, child_t *c, int fd) {
  capture_t *cap = fd == 1 ? &c->out : &c->err;
  if (fd == 0) {
    CU_ASSERT_EQUAL_FATAL(vg_pipe_init(loop, &c->in), APR_SUCCESS);
    c->in.data = c;
    c->in_used = 1;
    c->opts.stdio[0].kind = VG_STDIO_PIPE;
    c->opts.stdio[0].pipe = &c->in;
    return;
  }
  CU_ASSERT_EQUAL_FATAL(vg_pipe_init(loop, &cap->p), APR_SUCCESS);
  cap->p.data = cap;
  cap->used = 1;
  c->opts.stdio[fd].kind = VG_STDIO_PIPE;
  c->opts.stdio[fd].pipe = &cap->p;
}

static void child_started(child_t *c) {
  c->proc.data = c;
  c->pid_at_spawn = c->proc.pid;
  if (c->out.used)
    CU_ASSERT_EQUAL(vg_read_start(&c->out.p, cap_alloc, cap_read),
                    APR_SUCCESS);
  if (c->err.used)
    CU_ASSERT_EQUAL(vg_read_start(&c->err.p, cap_alloc, cap_read),
                    APR_SUCCESS);
}

static apr_status_t child_spawn(vg_loop_t *loop, child_t *c) {
  apr_status_t rv = vg_spawn(loop, &c->proc, &c->opts);
  if (rv == APR_SUCCESS)
    child_started(c);
  return rv;
}

/* Close what is left of a finished child (its pipes) so that the
 * child_t can be reused. */
static void child_release(vg_loop_t *loop, child_t *c) {
  if (c->in_used && !vg_is_closing((vg_handle_t *)&c->in))
    vg_close((vg_handle_t *)&c->in, NULL);
  if (c->out.used && !vg_is_closing((vg_handle_t *)&c->out.p))
    vg_close((vg_handle_t *)&c->out.p, NULL);
  if (c->err.used && !vg_is_closing((vg_handle_t *)&c->err.p))
    vg_close((vg_handle_t *)&c->err.p, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
}

static int child_done(void *arg) {
  child_t *c = arg;
  return c->exited && c->closed && (!c->out.used || c->out.eof) &&
         (!c->err.used || c->err.eof);
}

static int child_exited(void *arg) {
  return ((child_t *)arg)->exited;
}

static int out_has_newline(void *arg) {
  child_t *c = arg;
  return strchr(c->out.data, '\n') != NULL || c->out.eof || c->exited;
}

/* A spawn that must fail.  Should it succeed anyway (a bug), the handle
 * gets our data and is waited for, so the test fails instead of crashing
 * in a callback. */
static apr_status_t spawn_expect_fail(vg_loop_t *loop, child_t *c) {
  apr_status_t rv = vg_spawn(loop, &c->proc, &c->opts);
  if (rv == APR_SUCCESS) {
    child_started(c);
    vg_test_run_cond(loop, child_done, c, VG_TEST_WAIT_MS);
    fprintf(stderr, "\n  spawn of %s succeeded (exit %d) instead of "
            "failing\n", c->opts.file, c->exit_status);
  }
  return rv;
}

/* Spawn, wait for exit (and EOF on captured pipes). */
static void child_run(vg_loop_t *loop, child_t *c) {
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, c), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_done, c, VG_TEST_WAIT_MS));
}

/* ------------------------------------------------------------------------
 * Exit codes and signals
 * --------------------------------------------------------------------- */

static void test_exit_code(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  child_prepare(&c, "exit", "7", NULL);
  child_run(loop, &c);
  CU_ASSERT_EQUAL(c.exited, 1);
  CU_ASSERT_EQUAL(c.exit_status, 7);
  CU_ASSERT_EQUAL(c.term_signal, 0);
  CU_ASSERT(c.pid_at_spawn > 0);
  CU_ASSERT_EQUAL(c.proc.pid, 0);   /* 0 after exit */

  child_release(loop, &c);
  child_prepare(&c, "exit", "0", NULL);
  child_run(loop, &c);
  CU_ASSERT_EQUAL(c.exit_status, 0);
  CU_ASSERT_EQUAL(c.term_signal, 0);
  vg_test_close_loop(loop);
}

/* POSIX: a child killed by a signal it raised reports -1 and the
 * signal.  Windows: nothing kills by signal; the CRT's raise(SIGTERM)
 * ends the child with exit code 3, reported as such with term_signal 0,
 * and USR1 does not exist there (the child says so with exit 125). */
static void test_kill_self(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  child_prepare(&c, "kill-self", "TERM", NULL);
  child_run(loop, &c);
  CU_ASSERT_EQUAL(c.exited, 1);
#ifdef _WIN32
  CU_ASSERT_EQUAL(c.exit_status, 3);
  CU_ASSERT_EQUAL(c.term_signal, 0);
#else
  CU_ASSERT_EQUAL(c.exit_status, -1);
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGTERM);
#endif

  child_release(loop, &c);
  child_prepare(&c, "kill-self", "USR1", NULL);
  child_run(loop, &c);
#ifdef _WIN32
  CU_ASSERT_EQUAL(pal_signal_native(VG_SIGUSR1), -1);
  CU_ASSERT_EQUAL(c.exit_status, 125);
  CU_ASSERT_EQUAL(c.term_signal, 0);
#else
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGUSR1);
#endif
  vg_test_close_loop(loop);
}

/* vg_process_kill(TERM) on a sleeping child; then the handle's pid is
 * gone and killing again reports so. */
static void test_process_kill(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  child_prepare(&c, "sleep", "20000", NULL);
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  CU_ASSERT(vg_is_active((vg_handle_t *)&c.proc));
  CU_ASSERT_EQUAL(vg_process_kill(&c.proc, VG_SIGTERM), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_exited, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.exit_status, -1);
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGTERM);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  vg_test_close_loop(loop);
}

static void keep_exit_cb(vg_process_t *p, int exit_status, int term_signal) {
  child_t *c = p->data;
  c->exited++;
  c->exit_status = exit_status;
  c->term_signal = term_signal;
}

/* After the exit callback (handle still open), kill says the process is
 * gone rather than signalling a recycled pid. */
static void test_kill_after_exit(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  apr_status_t rv;
  child_prepare(&c, "exit", "0", NULL);
  c.opts.exit_cb = keep_exit_cb;
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_exited, &c, VG_TEST_WAIT_MS));
  rv = vg_process_kill(&c.proc, VG_SIGTERM);
  CU_ASSERT_EQUAL(rv, PAL_ENOPROC);
  vg_close((vg_handle_t *)&c.proc, child_closed);
  vg_test_close_loop(loop);
  CU_ASSERT(c.closed);
}

/* POSIX: a child that ignores TERM survives it and dies of KILL.
 * Windows: TERM is TerminateProcess, which no handler can refuse (the
 * child ignores every console control event): it dies of TERM. */
static void test_ignore_term_then_kill(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  volatile int never = 0;
  child_prepare(&c, "ignore-term", NULL, NULL);
  child_pipe(loop, &c, 1);
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, out_has_newline, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_STRING_EQUAL(c.out.data, "ready\n");
  CU_ASSERT_EQUAL(vg_process_kill(&c.proc, VG_SIGTERM), APR_SUCCESS);
#ifdef _WIN32
  (void)never;
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.exited, 1);
  CU_ASSERT_EQUAL(c.exit_status, -1);
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGTERM);
  vg_test_close_loop(loop);
  return;
#endif
  vg_test_run_until(loop, &never, 100);
  CU_ASSERT_EQUAL(c.exited, 0);
  CU_ASSERT_EQUAL(vg_process_kill(&c.proc, VG_SIGKILL), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGKILL);
  vg_test_close_loop(loop);
}

/* vg_kill on a bare pid. */
static void test_vg_kill_pid(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  child_prepare(&c, "sleep", "20000", NULL);
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_kill(c.proc.pid, VG_SIGTERM), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGTERM);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * Spawn failures
 * --------------------------------------------------------------------- */

/* A missing program: APR_ENOENT from vg_spawn, the handle is not
 * initialised, PIPE stdio are not opened, nothing leaks, the loop
 * closes. */
static void test_spawn_enoent(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  apr_status_t rv;
  int fds_before, fds_after;
  child_prepare(&c, "exit", "0", NULL);
  c.opts.file = "/nonexistent/vigil-test/no-such-program";
  c.argv[0] = c.opts.file;
  child_pipe(loop, &c, 0);
  child_pipe(loop, &c, 1);
  fds_before = count_open_fds();
  rv = spawn_expect_fail(loop, &c);
  CU_ASSERT(APR_STATUS_IS_ENOENT(rv));
  CU_ASSERT(!pal_spawn_permanent(rv));   /* an install may bring it */
  if (rv != APR_SUCCESS) {
    fds_after = count_open_fds();
    CU_ASSERT_EQUAL(fds_after, fds_before);
    CU_ASSERT_EQUAL(c.exited, 0);
  }
  /* Pipes were initialised by us: not opened, but ours to close. */
  child_release(loop, &c);
  vg_test_close_loop(loop);

  /* The same through PATH search. */
  loop = vg_test_new_loop();
  child_prepare(&c, "x", NULL, NULL);
  c.opts.file = "vigil-no-such-program-on-path";
  c.argv[0] = c.opts.file;
  c.opts.flags = VG_PROCESS_SEARCH_PATH;
  rv = spawn_expect_fail(loop, &c);
  CU_ASSERT(APR_STATUS_IS_ENOENT(rv));
  vg_test_close_loop(loop);
}

#ifdef _WIN32
/* Windows has no execute permission bit; what cannot be run is a file
 * that is no executable image: CreateProcessW fails with
 * ERROR_BAD_EXE_FORMAT, and the spawn with its status. */
static void test_spawn_eacces(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  apr_status_t rv;
  char path[1024];
  FILE *f;
  snprintf(path, sizeof path, "%s\\vg-noexec-%ld.exe", vg_test_tmpdir(),
           pal_getpid());
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("this is not a program\r\n", f);
  fclose(f);
  child_prepare(&c, "x", NULL, NULL);
  c.opts.file = path;
  c.argv[0] = path;
  rv = spawn_expect_fail(loop, &c);
  CU_ASSERT_EQUAL(rv, APR_FROM_OS_ERROR(ERROR_BAD_EXE_FORMAT));
  CU_ASSERT(pal_spawn_permanent(rv));
  CU_ASSERT_STRING_EQUAL(pal_last_call(), "CreateProcessW");
  remove(path);
  vg_test_close_loop(loop);
}
#else
/* Spawn a file holding text with permissions mode: how it fails. */
static apr_status_t spawn_file(vg_loop_t *loop, const char *text,
                               mode_t mode) {
  child_t c;
  apr_status_t rv;
  char path[128];
  FILE *f;
  snprintf(path, sizeof path, "/tmp/vg-noexec-%ld", (long)getpid());
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
  child_prepare(&c, "x", NULL, NULL);
  c.opts.file = path;
  c.argv[0] = path;
  rv = spawn_expect_fail(loop, &c);
  unlink(path);
  return rv;
}

/* A file without execute permission: APR_EACCES.  Executable, but not a
 * format the kernel runs, and no "#!": ENOEXEC.  No retry fixes either. */
static void test_spawn_eacces(void) {
  vg_loop_t *loop = vg_test_new_loop();
  apr_status_t rv = spawn_file(loop, "#!/bin/sh\nexit 0\n", 0644);
  CU_ASSERT(APR_STATUS_IS_EACCES(rv));
  CU_ASSERT(pal_spawn_permanent(rv));
  rv = spawn_file(loop, "this is not a program\n", 0755);
  CU_ASSERT_EQUAL(rv, APR_FROM_OS_ERROR(ENOEXEC));
  CU_ASSERT(pal_spawn_permanent(rv));
  vg_test_close_loop(loop);
}
#endif

/* Which rlimits do not bind: RLIMIT_NPROC under root (POSIX); none on
 * Windows, where job objects hold the limits. */
static void test_rlimit_unenforced(void) {
#ifdef _WIN32
  CU_ASSERT_PTR_NULL(pal_rlimit_unenforced(PAL_LIMIT_PROCESSES));
  CU_ASSERT_PTR_NULL(pal_rlimit_unenforced(PAL_LIMIT_MEMORY));
#else
  const char *c = pal_rlimit_unenforced(PAL_LIMIT_PROCESSES);
  CU_ASSERT_EQUAL(c != NULL, geteuid() == 0);
  if (c)
    CU_ASSERT(strstr(c, "root") != NULL);
#if defined(__linux__)
  CU_ASSERT_PTR_NULL(pal_rlimit_unenforced(PAL_LIMIT_MEMORY));
#endif
#endif
}

/* An injected failure of the spawn call itself. */
static void test_spawn_fault(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  apr_status_t rv;
  int fds_before;
  child_prepare(&c, "exit", "0", NULL);
  child_pipe(loop, &c, 1);
  fds_before = count_open_fds();
  pal_fault_inject(PAL_SYS_SPAWN, APR_EAGAIN, 0, 1);
  rv = vg_spawn(loop, &c.proc, &c.opts);
  CU_ASSERT(APR_STATUS_IS_EAGAIN(rv));
  CU_ASSERT(!pal_spawn_permanent(rv));   /* a lack of resources passes */
  CU_ASSERT_EQUAL(pal_fault_fired(PAL_SYS_SPAWN), 1);
  CU_ASSERT_EQUAL(count_open_fds(), fds_before);
  /* And the next spawn with the same pipe handle works. */
  CU_ASSERT_EQUAL(child_spawn(loop, &c), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.exit_status, 0);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * Stdio
 * --------------------------------------------------------------------- */

static void test_stdout_pipe(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  child_prepare(&c, "print", "hello from the child", NULL);
  child_pipe(loop, &c, 1);
  child_run(loop, &c);
  CU_ASSERT_EQUAL(c.out.eof, 1);
  CU_ASSERT_STRING_EQUAL(c.out.data, "hello from the child");
  CU_ASSERT_EQUAL(c.exit_status, 0);
  vg_test_close_loop(loop);
}

#ifndef _WIN32
/* The parent's end of a stdio pipe is non-blocking and close-on-exec,
 * set once by pal_pipe() and not asked again when the pipe handle opens
 * it; the child's end (its stdin here) stays blocking: "echo" copies a
 * line it waits for. */
static void test_pipe_end_flags(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  int fl;
  child_prepare(&c, "echo", NULL, NULL);
  child_pipe(loop, &c, 0);
  child_pipe(loop, &c, 1);
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  fl = fcntl((int)c.out.p.io.fd, F_GETFL);
  CU_ASSERT(fl >= 0 && (fl & O_NONBLOCK));
  fl = fcntl((int)c.out.p.io.fd, F_GETFD);
  CU_ASSERT(fl >= 0 && (fl & FD_CLOEXEC));
  fl = fcntl((int)c.in.io.fd, F_GETFL);
  CU_ASSERT(fl >= 0 && (fl & O_NONBLOCK));
  fl = fcntl((int)c.in.io.fd, F_GETFD);
  CU_ASSERT(fl >= 0 && (fl & FD_CLOEXEC));
  vg_close((vg_handle_t *)&c.in, NULL);   /* EOF: the child exits */
  c.in_used = 0;
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.exit_status, 0);
  vg_test_close_loop(loop);
}
#endif

#ifndef _WIN32
/* The PAL reads its own pid once; the child of a fork() has another.  A
 * spawn with the parent-death signal, made in a forked copy of this
 * process, must check the new child's parent against the copy's pid (a
 * stale one makes the new child give up at once, exit 127). */
static void test_spawn_after_fork(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  pid_t pid;
  int st = 0;
  child_prepare(&c, "exit", "0", NULL);
  c.opts.flags |= VG_PROCESS_PDEATHSIG;
  child_run(loop, &c);   /* our pid is read (and kept) here */
  CU_ASSERT_EQUAL(c.exit_status, 0);
  vg_test_close_loop(loop);
  fflush(NULL);
  pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if (pid == 0) {
    vg_loop_t *l2;
    child_t c2;
    alarm(20);
    l2 = vg_test_new_loop();
    child_prepare(&c2, "exit", "5", NULL);
    c2.opts.flags |= VG_PROCESS_PDEATHSIG;
    if (vg_spawn(l2, &c2.proc, &c2.opts) != APR_SUCCESS)
      _exit(2);
    child_started(&c2);
    vg_test_run_cond(l2, child_done, &c2, VG_TEST_WAIT_MS);
    _exit(c2.exited == 1 && c2.exit_status == 5 ? 0 : 10 + c2.exit_status);
  }
  CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
  CU_ASSERT(WIFEXITED(st));
  CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fprintf(stderr, "\n  forked copy: status %d\n", st);
}
#endif

static void test_stderr_pipe(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  child_prepare(&c, "print-stderr", "oops", NULL);
  child_pipe(loop, &c, 1);
  child_pipe(loop, &c, 2);
  child_run(loop, &c);
  CU_ASSERT_STRING_EQUAL(c.err.data, "oops");
  CU_ASSERT_EQUAL(c.out.len, 0);
  CU_ASSERT_EQUAL(c.exit_status, 0);
  vg_test_close_loop(loop);
}

/* 2 MiB through a stdout pipe, byte-exact. */
static void test_stdout_bulk(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t *c = calloc(1, sizeof *c);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  child_prepare(c, "write-bytes", "2097152", NULL);
  child_pipe(loop, c, 1);
  child_run(loop, c);
  CU_ASSERT_EQUAL(c->out.total, 2097152);
  CU_ASSERT_EQUAL(c->exit_status, 0);
  {
    /* The first 64 KiB were kept: check them. */
    size_t i, bad = 0;
    for (i = 0; i < c->out.len; i++)
      if ((unsigned char)c->out.data[i] != (unsigned char)((i * 7 + 3) % 251))
        bad++;
    CU_ASSERT_EQUAL(bad, 0);
  }
  vg_test_close_loop(loop);
  free(c);
}

static void in_write_cb(vg_write_t *req, apr_status_t status) {
  child_t *c = req->data;
  c->in_status = status;
  /* Closing our end is the child's EOF. */
  vg_close((vg_handle_t *)&c->in, NULL);
}

static void test_stdin_echo(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  static char text[] = "line one\nline two\n\nlast line without newline";
  vg_buf_t b;
  child_prepare(&c, "echo", NULL, NULL);
  child_pipe(loop, &c, 0);
  child_pipe(loop, &c, 1);
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  b.base = text;
  b.len = strlen(text);
  c.in_req.data = &c;
  c.in_status = -1;
  CU_ASSERT_EQUAL(vg_write(&c.in_req, &c.in, &b, 1, in_write_cb),
                  APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.in_status, APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(c.out.data, text);
  CU_ASSERT_EQUAL(c.exit_status, 0);
  vg_test_close_loop(loop);
}

/* stdin from /dev/null: immediate EOF; stdout to /dev/null. */
static void test_stdio_ignore(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  child_prepare(&c, "echo", NULL, NULL);
  c.opts.stdio[0].kind = VG_STDIO_IGNORE;
  child_pipe(loop, &c, 1);
  child_run(loop, &c);
  CU_ASSERT_EQUAL(c.exit_status, 0);
  CU_ASSERT_EQUAL(c.out.total, 0);

  child_release(loop, &c);
  child_prepare(&c, "print", "into the void", NULL);
  c.opts.stdio[1].kind = VG_STDIO_IGNORE;
  child_run(loop, &c);
  CU_ASSERT_EQUAL(c.exit_status, 0);
  vg_test_close_loop(loop);
}

#ifndef _WIN32
/* Put `with` under the number of every descriptor the PAL keeps for
 * /dev/null (close-on-exec ones only: those we inherited are not the
 * PAL's), of access mode `mode` (O_ACCMODE bits; -1: any), as a program
 * that closed them and got their numbers back would.  Their numbers go
 * to mine[] (at most KEPT_MAX), to be closed by the caller. */
#define KEPT_MAX 64
static int replace_kept_null(int with, int mode, int mine[KEPT_MAX]) {
  char link[64], target[256];
  int fd, replaced = 0;
  ssize_t n;
  for (fd = 3; fd < 1024 && replaced < KEPT_MAX; fd++) {
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, target, sizeof target - 1);
    if (n <= 0 || fd == with)
      continue;
    target[n] = '\0';
    if (strcmp(target, "/dev/null") == 0 &&
        (fcntl(fd, F_GETFD) & FD_CLOEXEC) &&
        (mode < 0 || (fcntl(fd, F_GETFL) & O_ACCMODE) == mode) &&
        dup3(with, fd, O_CLOEXEC) == fd)
      mine[replaced++] = fd;
  }
  return replaced;
}

/* The PAL keeps /dev/null open for the next spawn.  A program that closes
 * that descriptor and gets its number back for a file of its own (here:
 * replaced by a file with content) must
 * not have the file given to its next child as stdin: the child still
 * reads nothing, and the file is not touched.  (Every close-on-exec
 * /dev/null descriptor >= 3 is replaced.) */
static void test_stdio_ignore_reused(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  char path[1024];
  int file, replaced, mine[KEPT_MAX];
  child_prepare(&c, "echo", NULL, NULL);
  c.opts.stdio[0].kind = VG_STDIO_IGNORE;
  child_pipe(loop, &c, 1);
  child_run(loop, &c);   /* /dev/null is kept from here */
  CU_ASSERT_EQUAL(c.out.total, 0);
  child_release(loop, &c);

  snprintf(path, sizeof path, "%s/vg-notnull-%ld.txt", vg_test_tmpdir(),
           pal_getpid());
  file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CU_ASSERT_FATAL(file >= 0);
  CU_ASSERT_EQUAL_FATAL(write(file, "secret\n", 7), 7);
  replaced = replace_kept_null(file, -1, mine);
  if (replaced == 0)
    fprintf(stderr, "\n  (no /dev/null descriptor kept: nothing to "
                    "replace)\n");
  lseek(file, 0, SEEK_SET);

  child_prepare(&c, "echo", NULL, NULL);
  c.opts.stdio[0].kind = VG_STDIO_IGNORE;
  child_pipe(loop, &c, 1);
  child_run(loop, &c);
  CU_ASSERT_EQUAL(c.exit_status, 0);
  CU_ASSERT_EQUAL(c.out.total, 0);   /* not "secret" */
  CU_ASSERT_EQUAL(lseek(file, 0, SEEK_CUR), 0);
  child_release(loop, &c);
  close(file);
  while (replaced > 0)   /* the replaced numbers are ours */
    close(mine[--replaced]);
  remove(path);
  vg_test_close_loop(loop);
}

/* The same, with /dev/null itself: a program that closes the kept
 * descriptors and gets their numbers back for a /dev/null opened
 * read-only must not have it given to its next child as stdout (the
 * child's writes would fail: "print" exits 1). */
static void test_stdio_ignore_reused_readonly(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  int ro, replaced, mine[KEPT_MAX];
  child_prepare(&c, "print", "x", NULL);
  c.opts.stdio[0].kind = VG_STDIO_IGNORE;
  c.opts.stdio[1].kind = VG_STDIO_IGNORE;
  child_run(loop, &c);   /* both ends of /dev/null are kept from here */
  CU_ASSERT_EQUAL(c.exit_status, 0);
  child_release(loop, &c);

  ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CU_ASSERT_FATAL(ro >= 0);
  replaced = replace_kept_null(ro, O_WRONLY, mine);
  close(ro);
  CU_ASSERT(replaced >= 1);   /* the kept write end was there */

  child_prepare(&c, "print", "written to /dev/null", NULL);
  c.opts.stdio[1].kind = VG_STDIO_IGNORE;
  child_run(loop, &c);
  CU_ASSERT_EQUAL(c.exit_status, 0);
  child_release(loop, &c);
  while (replaced > 0)   /* the replaced numbers are ours */
    close(mine[--replaced]);
  vg_test_close_loop(loop);
}
#endif

/* stdout to a file, appended. */
static void test_stdio_file(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  char path[1024], fresh[1024], got[256];
  FILE *f;
  size_t n;
  snprintf(path, sizeof path, "%s/vg-stdout-%ld.txt", vg_test_tmpdir(),
           pal_getpid());
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("pre:", f);
  fclose(f);
  child_prepare(&c, "print", "written by child", NULL);
  c.opts.stdio[1].kind = VG_STDIO_FILE;
  c.opts.stdio[1].path = path;
  child_run(loop, &c);
  CU_ASSERT_EQUAL(c.exit_status, 0);
  f = fopen(path, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  n = fread(got, 1, sizeof got - 1, f);
  got[n] = '\0';
  fclose(f);
  CU_ASSERT_STRING_EQUAL(got, "pre:written by child");

  /* A file that does not exist yet is created.  (Another name: on
   * Windows a removed file lingers until its last handle closes, and
   * under Wine the exited child's handles may close a moment after its
   * exit callback.) */
  snprintf(fresh, sizeof fresh, "%s/vg-stdout-%ld-fresh.txt",
           vg_test_tmpdir(), pal_getpid());
  remove(fresh);
  child_release(loop, &c);
  child_prepare(&c, "print", "fresh", NULL);
  c.opts.stdio[1].kind = VG_STDIO_FILE;
  c.opts.stdio[1].path = fresh;
  child_run(loop, &c);
  f = fopen(fresh, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  n = fread(got, 1, sizeof got - 1, f);
  got[n] = '\0';
  fclose(f);
  CU_ASSERT_STRING_EQUAL(got, "fresh");
  vg_test_close_loop(loop);
  remove(path);
  remove(fresh);
}

/* stdout to a descriptor we pass (one end of a pal_pipe). */
static void test_stdio_fd(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  capture_t *cap = &c.out;
  pal_fd_t fds[2];
  child_prepare(&c, "print", "via a descriptor", NULL);
  CU_ASSERT_EQUAL_FATAL(pal_pipe(fds, 1), APR_SUCCESS);
  c.opts.stdio[1].kind = VG_STDIO_FD;
  c.opts.stdio[1].fd = fds[1];
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  pal_fd_close(fds[1]);   /* the child has its copy */
  CU_ASSERT_EQUAL_FATAL(vg_pipe_init(loop, &cap->p), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_open(&cap->p, fds[0]), APR_SUCCESS);
  cap->p.data = cap;
  cap->used = 1;
  vg_read_start(&cap->p, cap_alloc, cap_read);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_STRING_EQUAL(cap->data, "via a descriptor");
  CU_ASSERT_EQUAL(c.exit_status, 0);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * Environment, cwd, descriptors
 * --------------------------------------------------------------------- */

static void test_env(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  static const char *const env[] = {"VG_TEST_VAR=hello-env",
                                    "OTHER=1", NULL};
  child_prepare(&c, "env", "VG_TEST_VAR", NULL);
  child_pipe(loop, &c, 1);
  c.opts.env = env;
  child_run(loop, &c);
  CU_ASSERT_STRING_EQUAL(c.out.data, "hello-env\n");

  /* An explicit env replaces ours entirely. */
  vg_test_setenv("VG_TEST_INHERITED", "from-parent");
  child_release(loop, &c);
  child_prepare(&c, "env", "VG_TEST_INHERITED", NULL);
  child_pipe(loop, &c, 1);
  c.opts.env = env;
  child_run(loop, &c);
  CU_ASSERT_STRING_EQUAL(c.out.data, "(unset)\n");

  /* NULL inherits. */
  child_release(loop, &c);
  child_prepare(&c, "env", "VG_TEST_INHERITED", NULL);
  child_pipe(loop, &c, 1);
  child_run(loop, &c);
  CU_ASSERT_STRING_EQUAL(c.out.data, "from-parent\n");
  vg_test_setenv("VG_TEST_INHERITED", NULL);
  vg_test_close_loop(loop);
}

#ifndef _WIN32
/* VIGIL_BACKEND names the backend; one that is not there (unknown, or
 * io_uring where the kernel refuses it) makes loop creation fail and
 * says so, never a quiet fallback to another. */
static void test_backend_named(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  static const char *const bogus[] = {"VIGIL_BACKEND=nonesuch", NULL};
  static const char *const unset[] = {"VIGIL_BACKEND=", NULL};
  child_prepare(&c, "backend", NULL, NULL);
  child_pipe(loop, &c, 1);
  c.opts.env = bogus;
  child_run(loop, &c);
  CU_ASSERT_STRING_EQUAL(c.out.data,
                         "nonesuch (not available): VIGIL_BACKEND failed\n");
  child_release(loop, &c);
  child_prepare(&c, "backend", NULL, NULL);
  child_pipe(loop, &c, 1);
  c.opts.env = unset;   /* empty: the default, whichever it is here */
  child_run(loop, &c);
  CU_ASSERT(strstr(c.out.data, " ok\n") != NULL);
#ifdef __linux__
  {
    static const char *const ep[] = {"VIGIL_BACKEND=epoll", NULL};
    child_release(loop, &c);
    child_prepare(&c, "backend", NULL, NULL);
    child_pipe(loop, &c, 1);
    c.opts.env = ep;
    child_run(loop, &c);
    CU_ASSERT_STRING_EQUAL(c.out.data, "epoll ok\n");
  }
#endif
  vg_test_close_loop(loop);
}

#ifdef __linux__
/* backend_run: the "backend" child's lines with VIGIL_BACKEND=env, the
 * kernel refusing `refused` (after a first loop with `later`). */
static void backend_run(vg_loop_t *loop, child_t *c, const char *env,
                        const char *later, const char *refused) {
  const char *envv[2];
  envv[0] = env;
  envv[1] = NULL;
  if (later)
    child_prepare(c, "backend", later, refused);
  else
    child_prepare(c, "backend", refused, NULL);
  child_pipe(loop, c, 1);
  c->opts.env = envv;
  child_run(loop, c);
}

#define NO_MSG_RING                                                         \
  "io_uring not used: no MSG_RING from no ring (Linux 6.13), its "         \
  "wake-ups would be slower than epoll's\n"

/* A kernel that refuses io_uring or lacks what the backend needs (too
 * old, io_uring_disabled, a seccomp profile such as Docker's, no memory
 * for a ring): named, it is an error; the default runs on epoll instead,
 * never fails, and says why in one line (pal_poll_fallback: the
 * supervisor's start line, `vigil version`).  A kernel without MSG_RING
 * from no ring (before 6.13) runs a named io_uring, the wake-up through
 * the eventfd, and the default on epoll.  The refusals are real: a
 * seccomp filter in the child. */
static void test_backend_refused(void) {
  static const struct {
    const char *refused, *call, *err;
  } cases[] = {
      {"setup", "io_uring_setup", "Function not implemented"},
      {"disabled", "io_uring_setup", "Operation not permitted"},
      {"nomem", "io_uring_setup", "Cannot allocate memory"},
      {"probe", "io_uring_register", "Invalid argument"},
      {"pbuf", "io_uring_register", "Invalid argument"},
  };
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  char want[256];
  size_t i;
  backend_run(loop, &c, "VIGIL_BACKEND=io_uring", NULL, NULL);
  if (strcmp(c.out.data, "io_uring ok\n") != 0) {
    printf("\n    SKIPPED: io_uring does not run here (%s)", c.out.data);
    child_release(loop, &c);
    vg_test_close_loop(loop);
    return;
  }
  child_release(loop, &c);
  /* The default, unrefused: io_uring, no reason given, where the kernel
   * has MSG_RING from no ring (6.13); before, epoll, saying so. */
  backend_run(loop, &c, "VIGIL_BACKEND=", NULL, NULL);
  if (strcmp(c.out.data, "io_uring ok\n") != 0) {
    CU_ASSERT_STRING_EQUAL(c.out.data, "epoll ok\n" NO_MSG_RING);
    printf("\n    (this kernel lacks MSG_RING from no ring: the default is "
           "epoll)");
  }
  child_release(loop, &c);
  /* A kernel without it: io_uring runs when named, woken through the
   * eventfd; the default is epoll, whose wake-ups are faster then. */
  backend_run(loop, &c, "VIGIL_BACKEND=", NULL, "msgring");
  CU_ASSERT_STRING_EQUAL(c.out.data, "epoll ok woke\n" NO_MSG_RING);
  child_release(loop, &c);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    backend_run(loop, &c, "VIGIL_BACKEND=io_uring", NULL, cases[i].refused);
    snprintf(want, sizeof want, "io_uring (unavailable: %s failed): %s "
             "failed\n", cases[i].call, cases[i].call);
    CU_ASSERT_STRING_EQUAL(c.out.data, want);
    child_release(loop, &c);
    backend_run(loop, &c, "VIGIL_BACKEND=", NULL, cases[i].refused);
    snprintf(want, sizeof want, "epoll ok woke\nio_uring unavailable: %s "
             "failed: %s\n", cases[i].call, cases[i].err);
    CU_ASSERT_STRING_EQUAL(c.out.data, want);
    CU_ASSERT_EQUAL(c.exit_status, 0);
    child_release(loop, &c);
  }
  /* The probe passed and a first ring was made, then the kernel refuses
   * the next one (no memory left for it): the default makes that loop,
   * and the later ones, on epoll; a named io_uring fails it. */
  backend_run(loop, &c, "VIGIL_BACKEND=", "later", "nomem");
  CU_ASSERT_STRING_EQUAL(c.out.data, "epoll ok woke\nio_uring unavailable: "
                                     "io_uring_setup failed: Cannot "
                                     "allocate memory\n");
  child_release(loop, &c);
  backend_run(loop, &c, "VIGIL_BACKEND=io_uring", "later", "nomem");
  CU_ASSERT_STRING_EQUAL(c.out.data, "io_uring: io_uring_setup failed\n");
  child_release(loop, &c);
  backend_run(loop, &c, "VIGIL_BACKEND=io_uring", NULL, "msgring");
  CU_ASSERT_STRING_EQUAL(c.out.data, "io_uring ok woke\n");
  child_release(loop, &c);
  /* No locked memory at all: a kernel that charges rings to
   * RLIMIT_MEMLOCK (before 5.12) refuses the ring, and the default is
   * epoll; later ones do not charge it.  Either way the loop runs. */
  backend_run(loop, &c, "VIGIL_BACKEND=", NULL, "memlock");
  CU_ASSERT(!strcmp(c.out.data, "io_uring ok woke\n") ||
            !strncmp(c.out.data, "epoll ok woke\nio_uring unavailable: ",
                     37));
  CU_ASSERT_EQUAL(c.exit_status, 0);
  child_release(loop, &c);
  backend_run(loop, &c, "VIGIL_BACKEND=io_uring", NULL, "none");
  CU_ASSERT_EQUAL(c.exit_status, 125);   /* an unknown refusal */
  vg_test_close_loop(loop);
}
#endif
#endif

#ifdef _WIN32
/* Our working directory (the child prints it as GetCurrentDirectoryW
 * does). */
static char *get_cwd(char *buf, size_t size) {
  wchar_t w[4096];
  DWORD n = GetCurrentDirectoryW(4096, w);
  if (n == 0 || n >= 4096 ||
      !WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, (int)size, NULL, NULL))
    return NULL;
  return buf;
}
#else
static char *get_cwd(char *buf, size_t size) { return getcwd(buf, size); }
#endif

/* The child runs in the directory given: /tmp (resolved) on POSIX, the
 * temporary directory on Windows, printed back as given. */
static void test_cwd(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  char dir[4096], want[4096 + 2], here[4096];
#ifdef _WIN32
  snprintf(dir, sizeof dir, "%s", vg_test_tmpdir());
#else
  CU_ASSERT_PTR_NOT_NULL_FATAL(realpath("/tmp", dir));
#endif
  CU_ASSERT_PTR_NOT_NULL_FATAL(get_cwd(here, sizeof here));
  snprintf(want, sizeof want, "%s\n", dir);
  child_prepare(&c, "cwd", NULL, NULL);
  child_pipe(loop, &c, 1);
  c.opts.cwd = dir;
  child_run(loop, &c);
  CU_ASSERT_STRING_EQUAL(c.out.data, want);
  CU_ASSERT_EQUAL(c.exit_status, 0);

  /* Our own cwd is untouched; a missing cwd fails the spawn. */
  {
    char now[4096];
    CU_ASSERT_PTR_NOT_NULL(get_cwd(now, sizeof now));
    CU_ASSERT_STRING_EQUAL(now, here);
  }
  child_release(loop, &c);
  child_prepare(&c, "cwd", NULL, NULL);
  c.opts.cwd = "/nonexistent/vigil-test-dir";
  CU_ASSERT_NOT_EQUAL(spawn_expect_fail(loop, &c), APR_SUCCESS);
  vg_test_close_loop(loop);
}

/* With stdio inherited or piped, the child sees no descriptor >= 3 but
 * those this process inherited itself -- even while we hold sockets,
 * pipes and a pal_pipe() pair. */
static void no_conn_cb(vg_stream_t *server, apr_status_t status) {
  (void)server;
  (void)status;
}

static void test_no_fd_leaks(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  vg_tcp_t listener;
  pal_addr_t a;
  pal_fd_t raw[2];
  vg_pipe_t extra_r;
  pal_fd_t extra[2];

  vg_tcp_init(loop, &listener);
  pal_addr_ip(&a, "127.0.0.1", 0);
  CU_ASSERT_EQUAL(vg_tcp_bind(&listener, &a, 0), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_listen(&listener, 8, no_conn_cb), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(pal_pipe(raw, 1), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(pal_pipe(extra, 0), APR_SUCCESS);
  vg_pipe_init(loop, &extra_r);
  vg_pipe_open(&extra_r, extra[0]);

  child_prepare(&c, "fds", NULL, NULL);
#ifdef _WIN32
  {
    /* The child is told which handle values we hold (see child.c). */
    static char hv[5][32];
    snprintf(hv[0], sizeof hv[0], "s%llx",
             (unsigned long long)listener.io.fd);
    snprintf(hv[1], sizeof hv[1], "p%llx", (unsigned long long)raw[0]);
    snprintf(hv[2], sizeof hv[2], "p%llx", (unsigned long long)raw[1]);
    snprintf(hv[3], sizeof hv[3], "p%llx", (unsigned long long)extra[0]);
    snprintf(hv[4], sizeof hv[4], "p%llx", (unsigned long long)extra[1]);
    c.argv[3] = hv[0];
    c.argv[4] = hv[1];
    c.argv[5] = hv[2];
    c.argv[6] = hv[3];
    c.argv[7] = hv[4];
    c.argv[8] = NULL;
  }
#endif
  child_pipe(loop, &c, 0);
  child_pipe(loop, &c, 1);
  child_run(loop, &c);
  CU_ASSERT_EQUAL(c.exit_status, 0);
  CU_ASSERT_STRING_EQUAL(c.out.data, inherited_fds);
  if (strcmp(c.out.data, inherited_fds) != 0)
    fprintf(stderr, "\n  child saw fds \"%s\", expected \"%s\"\n",
            c.out.data, inherited_fds);

  pal_fd_close(raw[0]);
  pal_fd_close(raw[1]);
  pal_fd_close(extra[1]);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * Kill tree
 * --------------------------------------------------------------------- */

/* kill(pid, 0) and /proc on POSIX (a zombie is gone), OpenProcess and a
 * signalled process object on Windows. */
static int pid_gone(long pid) { return !vg_test_pid_alive(pid); }

static long gone_pid;
static int gone_flag;
/* Keeps repeating after success: vg_test_run_until checks the flag
 * between iterations, and a stopped timer would leave the next ONCE
 * iteration blocked until the bound. */
static void gone_poll_cb(vg_timer_t *t) {
  (void)t;
  if (pid_gone(gone_pid))
    gone_flag = 1;
}

static void test_kill_tree(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  vg_timer_t poll_timer;
  long gpid;
  child_prepare(&c, "spawn-grandchild", NULL, NULL);
  child_pipe(loop, &c, 1);
  c.opts.flags = VG_PROCESS_NEW_GROUP;
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, out_has_newline, &c, VG_TEST_WAIT_MS));
  gpid = atol(c.out.data);
  CU_ASSERT_FATAL(gpid > 1);
  CU_ASSERT_NOT_EQUAL(gpid, c.proc.pid);
  CU_ASSERT_EQUAL(pid_gone(gpid), 0);

  CU_ASSERT_EQUAL(vg_process_kill_tree(&c.proc, VG_SIGTERM), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGTERM);

  /* The grandchild went too: poll with a timer, bounded. */
  gone_pid = gpid;
  gone_flag = 0;
  vg_timer_init(loop, &poll_timer);
  vg_timer_start(&poll_timer, gone_poll_cb, 0, 10);
  CU_ASSERT(vg_test_run_until(loop, &gone_flag, 5000));
  vg_close((vg_handle_t *)&poll_timer, NULL);
  if (!gone_flag)
    vg_test_pid_kill(gpid);
  vg_test_close_loop(loop);
}

#if defined(__linux__)
/* The pid a "daemon" child wrote to path, once it is there (0: not yet). */
static long daemon_pid(const char *path) {
  long pid = 0;
  FILE *f = fopen(path, "r");
  if (f) {
    if (fscanf(f, "%ld", &pid) != 1)
      pid = 0;
    fclose(f);
  }
  return pid;
}

static int daemon_ready(void *arg) { return daemon_pid(arg) > 0; }

/* What a child left outside its process group (setsid): its daemon,
 * found by descent from the child, is signalled by kill_escaped; the
 * child and its group are not (they are kill_tree's), nor the daemon of
 * another child. */
static void test_kill_escaped(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t a, b;
  char pa[128], pb[128];
  long da, db;
  unsigned n = 99;
  vg_timer_t poll_timer;
  snprintf(pa, sizeof pa, "/tmp/vg-esc-a-%ld", (long)getpid());
  snprintf(pb, sizeof pb, "/tmp/vg-esc-b-%ld", (long)getpid());
  unlink(pa);
  unlink(pb);
  child_prepare(&a, "daemon", pa, NULL);
  a.opts.flags = VG_PROCESS_NEW_GROUP;
  child_prepare(&b, "daemon", pb, NULL);
  b.opts.flags = VG_PROCESS_NEW_GROUP;
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &a), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &b), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, daemon_ready, pa, VG_TEST_WAIT_MS));
  CU_ASSERT(vg_test_run_cond(loop, daemon_ready, pb, VG_TEST_WAIT_MS));
  da = daemon_pid(pa);
  db = daemon_pid(pb);
  CU_ASSERT_FATAL(da > 0 && db > 0);

  CU_ASSERT_EQUAL(pal_proc_kill_escaped(&a.proc.proc, "VG_NO_SUCH=1",
                                        VG_SIGKILL, &n),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(n, 1);
  gone_pid = da;
  gone_flag = 0;
  vg_timer_init(loop, &poll_timer);
  vg_timer_start(&poll_timer, gone_poll_cb, 0, 10);
  CU_ASSERT(vg_test_run_until(loop, &gone_flag, 5000));
  vg_close((vg_handle_t *)&poll_timer, NULL);
  CU_ASSERT(!pid_gone(a.proc.pid));
  CU_ASSERT(!pid_gone(db));

  CU_ASSERT_EQUAL(vg_process_kill_tree(&a.proc, VG_SIGKILL), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_process_kill_tree(&b.proc, VG_SIGKILL), APR_SUCCESS);
  vg_test_pid_kill(db);
  if (!gone_flag)
    vg_test_pid_kill(da);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &a, VG_TEST_WAIT_MS));
  CU_ASSERT(vg_test_run_cond(loop, child_done, &b, VG_TEST_WAIT_MS));
  unlink(pa);
  unlink(pb);
  vg_test_close_loop(loop);
}
#endif

/* The leader dies first (killed alone); its grandchild lives on in the
 * group, and kill_tree on the exited handle still reaches it. */
static void test_kill_tree_after_leader_exit(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  vg_timer_t poll_timer;
  long gpid;
  child_prepare(&c, "spawn-grandchild", NULL, NULL);
  child_pipe(loop, &c, 1);
  c.opts.flags = VG_PROCESS_NEW_GROUP;
  c.opts.exit_cb = keep_exit_cb;
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, out_has_newline, &c, VG_TEST_WAIT_MS));
  gpid = atol(c.out.data);
  CU_ASSERT_FATAL(gpid > 1);
  CU_ASSERT_EQUAL(vg_process_kill(&c.proc, VG_SIGKILL), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_exited, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGKILL);
  CU_ASSERT_EQUAL(pid_gone(gpid), 0);

  CU_ASSERT_EQUAL(vg_process_kill_tree(&c.proc, VG_SIGTERM), APR_SUCCESS);
  gone_pid = gpid;
  gone_flag = 0;
  vg_timer_init(loop, &poll_timer);
  vg_timer_start(&poll_timer, gone_poll_cb, 0, 10);
  CU_ASSERT(vg_test_run_until(loop, &gone_flag, 5000));
  vg_close((vg_handle_t *)&poll_timer, NULL);
  if (!gone_flag)
    vg_test_pid_kill(gpid);
  vg_close((vg_handle_t *)&c.proc, child_closed);
  vg_test_close_loop(loop);
}

/* Without a new group, kill_tree must not signal our own group (that
 * would kill the test runner): it is refused or limited to the child.
 * Windows: the child's tree is its own job object, group or not, so
 * kill_tree succeeds and ends the child alone. */
static void test_kill_tree_needs_group(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  apr_status_t rv;
  child_prepare(&c, "sleep", "20000", NULL);
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  rv = vg_process_kill_tree(&c.proc, VG_SIGTERM);
#ifdef _WIN32
  CU_ASSERT_EQUAL(rv, APR_SUCCESS);
#endif
  /* We are still alive to tell; make sure the child goes. */
  if (rv != APR_SUCCESS)
    vg_process_kill(&c.proc, VG_SIGTERM);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGTERM);
  vg_test_close_loop(loop);
}

#ifndef _WIN32
/* ------------------------------------------------------------------------
 * Resource usage (vg_process_usage): the members of the child's process
 * group, from /proc on Linux.
 * --------------------------------------------------------------------- */

/* Spawn `mode a1` in its own group with stdout captured; wait for its
 * first line. */
static void usage_child(vg_loop_t *loop, child_t *c, const char *mode,
                        const char *a1, unsigned flags) {
  child_prepare(c, mode, a1, NULL);
  child_pipe(loop, c, 1);
  c->opts.flags = flags;
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, c), APR_SUCCESS);
  CU_ASSERT_FATAL(vg_test_run_cond(loop, out_has_newline, c, VG_TEST_WAIT_MS));
}

static void usage_child_end(vg_loop_t *loop, child_t *c) {
  vg_process_kill_tree(&c->proc, VG_SIGKILL);
  CU_ASSERT(vg_test_run_cond(loop, child_done, c, VG_TEST_WAIT_MS));
  child_release(loop, c);
}

/* The grandchild is in the group: two members, both resident. */
static void test_usage_group(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_usage_t u;
  child_t c;
  usage_child(loop, &c, "spawn-grandchild", NULL, VG_PROCESS_NEW_GROUP);
  CU_ASSERT_EQUAL(vg_process_usage(&c.proc, &u), APR_SUCCESS);
  CU_ASSERT_EQUAL(u.processes, 2);
  CU_ASSERT(u.rss_bytes > 0);
  usage_child_end(loop, &c);
  vg_test_close_loop(loop);
}

/* Memory the child touched is counted as resident. */
static void test_usage_rss(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_usage_t u;
  child_t c;
  usage_child(loop, &c, "alloc", "64", VG_PROCESS_NEW_GROUP);
  CU_ASSERT_STRING_EQUAL(c.out.data, "ready\n");
  CU_ASSERT_EQUAL(vg_process_usage(&c.proc, &u), APR_SUCCESS);
  CU_ASSERT_EQUAL(u.processes, 1);
  CU_ASSERT(u.rss_bytes >= 64u * 1024 * 1024);
  usage_child_end(loop, &c);
  vg_test_close_loop(loop);
}

/* CPU time the child measured itself using is reported (to the clock
 * tick: /proc counts in 10 ms units, so allow two of them). */
static void test_usage_cpu(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_usage_t u;
  child_t c;
  usage_child(loop, &c, "burn", "300", VG_PROCESS_NEW_GROUP);
  CU_ASSERT_STRING_EQUAL(c.out.data, "burned\n");
  CU_ASSERT_EQUAL(vg_process_usage(&c.proc, &u), APR_SUCCESS);
  CU_ASSERT(u.cpu_usec >= 280000);
  usage_child_end(loop, &c);
  vg_test_close_loop(loop);
}

/* Without a group of its own, the child alone; a command name holding
 * ") (" and spaces does not confuse the parsing of /proc/PID/stat
 * (Linux), and after the exit there is nothing to measure. */
static void test_usage_single_and_exit(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_usage_t u;
  child_t c;
#ifdef __linux__
  usage_child(loop, &c, "comm", "a) 1 (b) 2", 0);
#else
  usage_child(loop, &c, "ignore-term", NULL, 0);
#endif
  CU_ASSERT_STRING_EQUAL(c.out.data, "ready\n");
  CU_ASSERT_EQUAL(vg_process_usage(&c.proc, &u), APR_SUCCESS);
  CU_ASSERT_EQUAL(u.processes, 1);
  CU_ASSERT(u.rss_bytes > 0);
  CU_ASSERT_EQUAL(vg_process_kill(&c.proc, VG_SIGKILL), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(vg_process_usage(&c.proc, &u), VG_ENOPROC);
  child_release(loop, &c);
  vg_test_close_loop(loop);
}

/* Several trees in one pass (pal_proc_usage_many, what a status of many
 * services uses): each slot gets its own tree's members, an empty slot and
 * an exited child read as zeros. */
static void test_usage_many(void) {
  vg_loop_t *loop = vg_test_new_loop();
  pal_usage_t u[4];
  pal_proc_t *procs[4];
  child_t a, b, gone;
  usage_child(loop, &a, "spawn-grandchild", NULL, VG_PROCESS_NEW_GROUP);
  usage_child(loop, &b, "alloc", "64", VG_PROCESS_NEW_GROUP);
  usage_child(loop, &gone, "ignore-term", NULL, 0);
  CU_ASSERT_EQUAL(vg_process_kill(&gone.proc, VG_SIGKILL), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &gone, VG_TEST_WAIT_MS));
  procs[0] = &a.proc.proc;
  procs[1] = NULL;
  procs[2] = &b.proc.proc;
  procs[3] = &gone.proc.proc;
  memset(u, 0xff, sizeof u);
  pal_proc_usage_many(procs, 4, u);
  CU_ASSERT_EQUAL(u[0].processes, 2);
  CU_ASSERT(u[0].rss_bytes > 0 && u[0].rss_bytes < 64u * 1024 * 1024);
  CU_ASSERT_EQUAL(u[1].processes, 0);
  CU_ASSERT_EQUAL(u[1].rss_bytes, 0);
  CU_ASSERT_EQUAL(u[2].processes, 1);
  CU_ASSERT(u[2].rss_bytes >= 64u * 1024 * 1024);
  CU_ASSERT_EQUAL(u[3].processes, 0);
  CU_ASSERT_EQUAL(u[3].cpu_usec, 0);
  usage_child_end(loop, &a);
  usage_child_end(loop, &b);
  child_release(loop, &gone);
  vg_test_close_loop(loop);
}

#ifdef __linux__
static int pid_dead(void *arg) {
  return !vg_test_pid_alive(*(long *)arg);
}

/* The members found are read again each time, each from its own /proc
 * entry (proc_usage.c: no walk of /proc for a group already looked for):
 * a member that died is no longer counted at the next call, and a group
 * started since (a service's new run) has its members found at once. */
static void test_usage_known_members(void) {
  vg_loop_t *loop = vg_test_new_loop();
  pal_usage_t u[2];
  pal_proc_t *procs[2];
  child_t a, b;
  long grandchild;
  usage_child(loop, &a, "spawn-grandchild", NULL, VG_PROCESS_NEW_GROUP);
  grandchild = atol(a.out.data);
  CU_ASSERT_FATAL(grandchild > 0);
  procs[0] = &a.proc.proc;
  pal_proc_usage_many(procs, 1, u);
  CU_ASSERT_EQUAL(u[0].processes, 2);
  pal_proc_usage_many(procs, 1, u);
  CU_ASSERT_EQUAL(u[0].processes, 2);
  vg_test_pid_kill(grandchild);
  CU_ASSERT(vg_test_run_cond(loop, pid_dead, &grandchild, VG_TEST_WAIT_MS));
  pal_proc_usage_many(procs, 1, u);
  CU_ASSERT_EQUAL(u[0].processes, 1);
  usage_child(loop, &b, "spawn-grandchild", NULL, VG_PROCESS_NEW_GROUP);
  procs[1] = &b.proc.proc;
  pal_proc_usage_many(procs, 2, u);
  CU_ASSERT_EQUAL(u[0].processes, 1);
  CU_ASSERT_EQUAL(u[1].processes, 2);
  usage_child_end(loop, &a);
  usage_child_end(loop, &b);
  vg_test_close_loop(loop);
}
#endif

/* ------------------------------------------------------------------------
 * Joining a cgroup v2 before exec (vg_process_options_t.cgroup, Linux).
 * --------------------------------------------------------------------- */

/* A cgroup that cannot be joined fails the spawn like any other step of
 * the child's: the error, and the call named; nothing is left running.
 * Elsewhere than Linux there are no cgroups to join. */
static void test_spawn_cgroup_fails(void) {
  vg_loop_t *loop = vg_test_new_loop();
  char longdir[5000];
  apr_status_t rv;
  child_t c;
  child_prepare(&c, "exit", "0", NULL);
  c.opts.cgroup = "/nonexistent/vigil-test-cgroup";
  rv = spawn_expect_fail(loop, &c);
#ifdef __linux__
  CU_ASSERT(APR_STATUS_IS_ENOENT(rv));
  CU_ASSERT_STRING_EQUAL(pal_last_call(), "open(cgroup.procs)");
#else
  CU_ASSERT_EQUAL(rv, VG_EUNSUPPORTED);
#endif
  CU_ASSERT_EQUAL(c.exited, 0);
  /* A path that cannot be made into DIR/cgroup.procs at all. */
  memset(longdir, 'x', sizeof longdir - 1);
  longdir[0] = '/';
  longdir[sizeof longdir - 1] = '\0';
  child_prepare(&c, "exit", "0", NULL);
  c.opts.cgroup = longdir;
  rv = spawn_expect_fail(loop, &c);
#ifdef __linux__
  CU_ASSERT_EQUAL(rv, APR_ENAMETOOLONG);
#else
  CU_ASSERT_EQUAL(rv, VG_EUNSUPPORTED);
#endif
  vg_test_close_loop(loop);
}

#ifdef __linux__
static int pid_listed(const char *procs, long pid) {
  const char *p = procs;
  char *end;
  while (*p) {
    if (strtol(p, &end, 10) == pid && end != p)
      return 1;
    if (end == p)
      return 0;
    p = end + strspn(end, "\n");
  }
  return 0;
}

/* The child is in the cgroup from its first instruction of the program
 * on; cgroup.kill ends it; the emptied cgroup can be removed. */
static void test_spawn_cgroup_join(void) {
  vg_loop_t *loop;
  pal_cgroup_stat_t st;
  pal_usage_t u;
  char procs[4096];
  child_t c;
  char *dir = vg_test_cgroup_create("process-join");
  if (!dir)
    return;
  loop = vg_test_new_loop();
  usage_child(loop, &c, "ignore-term", NULL, VG_PROCESS_NEW_GROUP);
  /* (usage_child spawned without a cgroup: this one is the control.) */
  CU_ASSERT_EQUAL(pal_cgroup_read(dir, "cgroup.procs", procs, sizeof procs),
                  APR_SUCCESS);
  CU_ASSERT(!pid_listed(procs, c.proc.pid));
  usage_child_end(loop, &c);

  child_prepare(&c, "ignore-term", NULL, NULL);
  child_pipe(loop, &c, 1);
  c.opts.cgroup = dir;
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  CU_ASSERT_FATAL(vg_test_run_cond(loop, out_has_newline, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(pal_cgroup_read(dir, "cgroup.procs", procs, sizeof procs),
                  APR_SUCCESS);
  CU_ASSERT(pid_listed(procs, c.proc.pid));
  CU_ASSERT_EQUAL(pal_cgroup_stat(dir, &st), APR_SUCCESS);
  CU_ASSERT_EQUAL(st.populated, 1);
  CU_ASSERT(st.cpu_usec >= 0);   /* cpu.stat is in every cgroup v2 */
  /* Its members' usage, from cgroup.procs: the child alone. */
  CU_ASSERT_EQUAL(pal_cgroup_usage(dir, &u), APR_SUCCESS);
  CU_ASSERT_EQUAL(u.processes, 1);
  CU_ASSERT(u.rss_bytes > 0);

  CU_ASSERT_EQUAL(pal_cgroup_kill(dir), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, child_done, &c, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGKILL);
  child_release(loop, &c);
  CU_ASSERT_EQUAL(pal_cgroup_remove(dir), APR_SUCCESS);
  CU_ASSERT(APR_STATUS_IS_ENOENT(pal_cgroup_stat(dir, &st)));
  CU_ASSERT(APR_STATUS_IS_ENOENT(pal_cgroup_usage(dir, &u)));
  vg_test_close_loop(loop);
  free(dir);
}
#endif
#endif


/* ------------------------------------------------------------------------
 * Credentials and scheduling (POSIX): user, groups, umask, nice, CPUs
 * --------------------------------------------------------------------- */

#ifndef _WIN32
/* The user database through the PAL: by name and by number; a user or
 * group that does not exist is APR_ENOENT, not an error of the call. */
static void test_user_lookup(void) {
  pal_user_t u;
  long gid = -1, *groups = NULL;
  int n = 0, i, has_gid = 0;
  CU_ASSERT_EQUAL_FATAL(pal_user_lookup("root", &u, vg_test_pool),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL(u.uid, 0);
  CU_ASSERT_STRING_EQUAL(u.name, "root");
  CU_ASSERT(u.home[0] == '/');
  memset(&u, 0, sizeof u);
  CU_ASSERT_EQUAL(pal_user_lookup("0", &u, vg_test_pool), APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(u.name, "root");
  CU_ASSERT_EQUAL(pal_user_lookup("vigil-no-such-user", &u, vg_test_pool),
                  APR_ENOENT);
  CU_ASSERT_EQUAL(pal_user_lookup("4000000000", &u, vg_test_pool),
                  APR_ENOENT);
  CU_ASSERT_EQUAL(pal_user_lookup("", &u, vg_test_pool), APR_ENOENT);
  CU_ASSERT_EQUAL(pal_group_lookup("0", &gid), APR_SUCCESS);
  CU_ASSERT_EQUAL(gid, 0);
  CU_ASSERT_EQUAL(pal_group_lookup("vigil-no-such-group", &gid), APR_ENOENT);
  CU_ASSERT_EQUAL(pal_user_groups("root", 0, &groups, &n, vg_test_pool),
                  APR_SUCCESS);
  CU_ASSERT(n >= 1);
  for (i = 0; i < n; i++)
    has_gid |= groups[i] == 0;
  CU_ASSERT(has_gid);
}

/* Run the "creds" child prepared in c (its options set) and return its
 * line. */
static const char *creds_of(vg_loop_t *loop, child_t *c) {
  child_pipe(loop, c, 1);
  child_run(loop, c);
  CU_ASSERT_EQUAL(c->exit_status, 0);
  return c->out.data;
}

/* umask, nice and CPU affinity reach the child; the nice value is
 * absolute.  Neither needs privilege (a higher nice value, a CPU we
 * have). */
static void test_spawn_sched(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_cpuset_t cpus;
  child_t c;
  char want[128];
  const char *line;
  int base;
  errno = 0;
  base = getpriority(PRIO_PROCESS, 0);
  child_prepare(&c, "creds", NULL, NULL);
  memset(&cpus, 0, sizeof cpus);
  cpus.bits[0] = 1;   /* CPU 0 */
  c.opts.flags = VG_PROCESS_UMASK | VG_PROCESS_NICE | VG_PROCESS_AFFINITY;
  c.opts.umask = 027;
  c.opts.nice = base < 5 ? 5 : base;
  c.opts.cpus = &cpus;
  line = creds_of(loop, &c);
  snprintf(want, sizeof want, " umask=0027 nice=%d", c.opts.nice);
  CU_ASSERT_PTR_NOT_NULL(strstr(line, want));
#ifdef __linux__
  CU_ASSERT_PTR_NOT_NULL(strstr(line, " cpus=0 "));
#endif
  if (!strstr(line, want))
    fprintf(stderr, "\n  creds: %s", line);
  child_release(loop, &c);

  /* Without the flags, the child keeps ours. */
  child_prepare(&c, "creds", NULL, NULL);
  c.opts.umask = 0777;
  c.opts.nice = 19;
  line = creds_of(loop, &c);
  snprintf(want, sizeof want, " nice=%d", base);
  CU_ASSERT_PTR_NOT_NULL(strstr(line, want));
  CU_ASSERT_PTR_NULL(strstr(line, "umask=0777"));
  child_release(loop, &c);
  vg_test_close_loop(loop);
}

#ifdef __linux__
/* CPUs the machine does not have: refused, as the kernel does. */
static void test_spawn_affinity_none(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_cpuset_t cpus;
  child_t c;
  apr_status_t rv;
  child_prepare(&c, "exit", "0", NULL);
  memset(&cpus, 0, sizeof cpus);
  cpus.bits[15] = 1ull << 63;   /* CPU 1023 */
  c.opts.flags = VG_PROCESS_AFFINITY;
  c.opts.cpus = &cpus;
  rv = spawn_expect_fail(loop, &c);
  CU_ASSERT_EQUAL(rv, APR_EINVAL);
  CU_ASSERT_STRING_EQUAL(pal_last_call(), "sched_setaffinity");
  vg_test_close_loop(loop);
}
#endif

/* As root: the child runs as nobody, with nobody's groups only (none of
 * root's), and -- Linux -- still has its parent-death signal, which the
 * kernel clears at the credential change: armed after it. */
static void test_spawn_user(void) {
  vg_loop_t *loop;
  pal_user_t u;
  long *groups = NULL;
  int ngroups = 0;
  child_t c;
  char want[256];
  const char *line;
  if (geteuid() != 0) {
    fprintf(stderr, "\n  [skipped: switching user needs root] ");
    return;
  }
  if (pal_user_lookup("nobody", &u, vg_test_pool) != APR_SUCCESS) {
    fprintf(stderr, "\n  [skipped: no user nobody] ");
    return;
  }
  CU_ASSERT_EQUAL_FATAL(pal_user_groups(u.name, u.gid, &groups, &ngroups,
                                        vg_test_pool), APR_SUCCESS);
  loop = vg_test_new_loop();
  child_prepare(&c, "creds", NULL, NULL);
  c.opts.flags = VG_PROCESS_SETUID | VG_PROCESS_SETGID | VG_PROCESS_PDEATHSIG;
  c.opts.uid = u.uid;
  c.opts.gid = u.gid;
  c.opts.groups = groups;
  c.opts.ngroups = ngroups;
  line = creds_of(loop, &c);
  snprintf(want, sizeof want, "uid=%ld gid=%ld ", u.uid, u.gid);
  CU_ASSERT(strncmp(line, want, strlen(want)) == 0);
  CU_ASSERT_PTR_NULL(strstr(line, "groups=0,"));
  CU_ASSERT_PTR_NULL(strstr(line, "groups=0 "));
#ifdef __linux__
  CU_ASSERT_PTR_NOT_NULL(strstr(line, " pdeath=9\n"));
#endif
  if (strncmp(line, want, strlen(want)) != 0 || !strstr(line, "pdeath=9"))
    fprintf(stderr, "\n  creds: %s", line);
  child_release(loop, &c);

  /* A group of its own over the user's primary one, and no supplementary
   * groups at all. */
  child_prepare(&c, "creds", NULL, NULL);
  c.opts.flags = VG_PROCESS_SETUID | VG_PROCESS_SETGID;
  c.opts.uid = u.uid;
  c.opts.gid = 4242;
  line = creds_of(loop, &c);
  snprintf(want, sizeof want, "uid=%ld gid=4242 groups=- ", u.uid);
  CU_ASSERT(strncmp(line, want, strlen(want)) == 0);
  child_release(loop, &c);
  vg_test_close_loop(loop);
}
#endif

/* Closing the handle does not kill the child. */
static void test_close_does_not_kill(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t c;
  long pid;
  int i;
  child_prepare(&c, "sleep", "20000", NULL);
  CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &c), APR_SUCCESS);
  pid = c.proc.pid;
  vg_close((vg_handle_t *)&c.proc, child_closed);
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT(c.closed);
  CU_ASSERT_EQUAL(c.exited, 0);
  CU_ASSERT(vg_test_pid_alive(pid));
  vg_test_pid_kill(pid);
  for (i = 0; i < 500 && !pid_gone(pid); i++) {
    volatile int never = 0;
    vg_test_run_until(loop, &never, 10);
  }
  CU_ASSERT(pid_gone(pid));
  CU_ASSERT_EQUAL(c.exited, 0);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * Many spawns
 * --------------------------------------------------------------------- */

#define MANY_SPAWNS 200

typedef struct {
  vg_process_t proc;
  int status;
  int sig;
  int exited;
} mini_t;

static mini_t *minis;
static int minis_started, minis_exited, minis_closed, minis_errors;
static vg_loop_t *minis_loop;
static char minis_args[MANY_SPAWNS][8];

static void mini_spawn_next(void);

static void mini_closed(vg_handle_t *h) {
  (void)h;
  minis_closed++;
}

static void mini_exit(vg_process_t *p, int status, int sig) {
  mini_t *m = p->data;
  m->status = status;
  m->sig = sig;
  m->exited++;
  minis_exited++;
  vg_close((vg_handle_t *)p, mini_closed);
  mini_spawn_next();   /* spawning from inside an exit callback */
}

static void mini_spawn_next(void) {
  int i = minis_started;
  const char *argv[5];
  vg_process_options_t o;
  if (i >= MANY_SPAWNS)
    return;
  snprintf(minis_args[i], sizeof minis_args[i], "%d", i % 100);
  argv[0] = self_path;
  argv[1] = "--child";
  argv[2] = "exit";
  argv[3] = minis_args[i];
  argv[4] = NULL;
  memset(&o, 0, sizeof o);
  o.file = self_path;
  o.args = argv;
  o.exit_cb = mini_exit;
  o.stdio[0].kind = VG_STDIO_IGNORE;
  minis_started++;
  if (vg_spawn(minis_loop, &minis[i].proc, &o) != APR_SUCCESS) {
    minis_errors++;
    return;
  }
  minis[i].proc.data = &minis[i];
}

static int minis_done(void *arg) {
  (void)arg;
  return minis_closed >= MANY_SPAWNS || minis_errors > 0;
}

static void test_many_spawns(void) {
  int i, bad = 0;
  minis_loop = vg_test_new_loop();
  minis = calloc(MANY_SPAWNS, sizeof *minis);
  CU_ASSERT_PTR_NOT_NULL_FATAL(minis);
  minis_started = minis_exited = minis_closed = minis_errors = 0;
  mini_spawn_next();
  CU_ASSERT(vg_test_run_cond(minis_loop, minis_done, NULL, 60000));
  CU_ASSERT_EQUAL(minis_errors, 0);
  CU_ASSERT_EQUAL(minis_exited, MANY_SPAWNS);
  CU_ASSERT_EQUAL(minis_closed, MANY_SPAWNS);
  for (i = 0; i < MANY_SPAWNS; i++)
    if (minis[i].exited != 1 || minis[i].status != i % 100 ||
        minis[i].sig != 0)
      bad++;
  CU_ASSERT_EQUAL(bad, 0);
  vg_test_close_loop(minis_loop);
  free(minis);
  minis = NULL;
}

/* Several children at once, exiting in an order of their own. */
static void test_concurrent_children(void) {
  enum { N = 16 };
  vg_loop_t *loop = vg_test_new_loop();
  child_t *cs = calloc(N, sizeof *cs);
  char ms[N][16];
  int i, all = 0;
  CU_ASSERT_PTR_NOT_NULL_FATAL(cs);
  for (i = 0; i < N; i++) {
    snprintf(ms[i], sizeof ms[i], "%d", (N - i) * 5);
    child_prepare(&cs[i], "sleep", ms[i], NULL);
    CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &cs[i]), APR_SUCCESS);
  }
  for (i = 0; i < N; i++)
    CU_ASSERT(vg_test_run_cond(loop, child_done, &cs[i], VG_TEST_WAIT_MS));
  for (i = 0; i < N; i++)
    all += cs[i].exited == 1 && cs[i].exit_status == 0;
  CU_ASSERT_EQUAL(all, N);
  vg_test_close_loop(loop);
  free(cs);
}

#ifndef _WIN32
/* ------------------------------------------------------------------------
 * Exit notification without a pidfd (the fault seam's PAL_SYS_PIDFD, as
 * on a kernel before 5.3): the exit comes through SIGCHLD, and each exit
 * is reported exactly once, with its own status.
 * --------------------------------------------------------------------- */

static void count_sigchld(vg_signal_t *s, int signum) {
  (void)signum;
  (*(int *)s->data)++;
}

static int all_exited(void *arg) {
  child_t *cs = arg;
  int i;
  for (i = 0; i < 8; i++)
    if (!cs[i].exited || !cs[i].closed)
      return 0;
  return 1;
}

/* Spawn 8 children that exit with codes 0..7 (the first `faulted` of
 * them without a pidfd), wait for all, and count the SIGCHLDs the
 * process got meanwhile. */
static int spawn_eight(vg_loop_t *loop, child_t *cs, char codes[][4],
                       int faulted) {
  vg_signal_t sig;
  int i, n = 0, sigs = 0;
  CU_ASSERT_EQUAL_FATAL(vg_signal_init(loop, &sig), APR_SUCCESS);
  sig.data = &sigs;
  CU_ASSERT_EQUAL_FATAL(vg_signal_start(&sig, count_sigchld, VG_SIGCHLD),
                        APR_SUCCESS);
  if (faulted)
    pal_fault_inject(PAL_SYS_PIDFD, APR_ENOMEM, 0, (unsigned)faulted);
  for (i = 0; i < 8; i++) {
    snprintf(codes[i], 4, "%d", i);
    child_prepare(&cs[i], "exit", codes[i], NULL);
    CU_ASSERT_EQUAL_FATAL(child_spawn(loop, &cs[i]), APR_SUCCESS);
  }
  CU_ASSERT_EQUAL(pal_fault_fired(PAL_SYS_PIDFD), (unsigned)faulted);
  CU_ASSERT(vg_test_run_cond(loop, all_exited, cs, VG_TEST_WAIT_MS));
  /* A SIGCHLD delivered late would still be counted. */
  vg_test_run_until(loop, &n, 50);
  for (i = 0; i < 8; i++) {
    CU_ASSERT_EQUAL(cs[i].exited, 1);
    CU_ASSERT_EQUAL(cs[i].exit_status, i);
    CU_ASSERT_EQUAL(cs[i].term_signal, 0);
  }
  vg_close((vg_handle_t *)&sig, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  return sigs;
}

/* Without pidfds (the first 5 children: PAL_SYS_PIDFD) the exits come
 * through SIGCHLD, beside children that have theirs: none is lost, none
 * is seen twice. */
static void test_exit_without_pidfd(void) {
  vg_loop_t *loop = vg_test_new_loop();
  child_t *cs = calloc(8, sizeof *cs);
  char codes[8][4];
  int sigs;
  CU_ASSERT_PTR_NOT_NULL_FATAL(cs);
  sigs = spawn_eight(loop, cs, codes, 5);
  CU_ASSERT(sigs >= 1);   /* coalesced, but at least one */
  vg_test_close_loop(loop);
  free(cs);
}
#endif

/* ------------------------------------------------------------------------
 * Attached processes (vg_process_attach): a process we did not spawn
 * --------------------------------------------------------------------- */

typedef struct attach_seen_s {
  int done, status, sig, calls;
} attach_seen_t;

static void on_attached_exit(vg_process_t *p, int status, int sig) {
  attach_seen_t *a = p->data;
  a->done = 1;
  a->calls++;
  a->status = status;
  a->sig = sig;
}

/* A grandchild (our child's child, so not ours to wait for): watched,
 * measured, signalled alone (its parent, our child, lives on), its exit
 * reported once with an unknown status; our own pid and a pid no
 * process has are refused. */
/* Whether this system can watch a process that is not our child: Linux
 * needs pidfd_open (5.3), which valgrind 3.19 does not pass through
 * (ENOSYS); said once per test, never silently. */
static int can_attach(vg_loop_t *loop, long pid, const char *tag) {
  vg_process_t probe;
  apr_status_t rv = vg_process_attach(loop, &probe, pid, 0, NULL);
  if (rv == APR_SUCCESS) {
    vg_close((vg_handle_t *)&probe, NULL);
    vg_run(loop, VG_RUN_NOWAIT);
    return 1;
  }
  if (rv == VG_EUNSUPPORTED) {
    vg_test_skip(tag, "this system cannot watch a process that is not "
                 "its child (%s unavailable: an old kernel, or valgrind)",
                 pal_last_call());
    return 0;
  }
  CU_FAIL("vg_process_attach failed");
  return 0;
}

/* A child (its own group) that started a grandchild: the grandchild's
 * pid, which is not our child. */
static long grandchild(vg_loop_t *loop, child_t *c) {
  child_prepare(c, "spawn-grandchild", NULL, NULL);
  child_pipe(loop, c, 1);
  c->opts.flags = VG_PROCESS_NEW_GROUP;
  if (child_spawn(loop, c) != APR_SUCCESS)
    return 0;
  CU_ASSERT(vg_test_run_cond(loop, out_has_newline, c, VG_TEST_WAIT_MS));
  return atol(c->out.data);
}

/* Kill the child's tree (the grandchild with it) and wait for its end. */
static void grandchild_end(vg_loop_t *loop, child_t *c) {
  vg_process_kill_tree(&c->proc, VG_SIGKILL);
  CU_ASSERT(vg_test_run_cond(loop, child_done, c, VG_TEST_WAIT_MS));
  child_release(loop, c);
}

static void test_attach_non_child(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_process_t ap;
  attach_seen_t seen = {0, 0, 0, 0};
  pal_pidinfo_t info;
  vg_usage_t u;
  child_t c;
  long gpid;
  gpid = grandchild(loop, &c);
  CU_ASSERT_FATAL(gpid > 1);
  if (!can_attach(loop, gpid, "attach_non_child")) {
    grandchild_end(loop, &c);
    vg_test_close_loop(loop);
    return;
  }

  ap.data = &seen;
  CU_ASSERT_EQUAL(vg_process_attach(loop, &ap, pal_getpid(), 0,
                                    on_attached_exit), APR_EINVAL);
#ifndef _WIN32
  CU_ASSERT_EQUAL(vg_process_attach(loop, &ap, 1, 0, on_attached_exit),
                  APR_EINVAL);
#endif
  CU_ASSERT_EQUAL(vg_process_attach(loop, &ap, 0x7ffffff0L, 0,
                                    on_attached_exit), VG_ENOPROC);
  /* Another process than the one checked (the id pal_pid_info gave):
   * refused, as when the pid was given to a new process meanwhile. */
  CU_ASSERT_EQUAL_FATAL(pal_pid_info(gpid, &info), APR_SUCCESS);
  CU_ASSERT(info.id != 0);
  CU_ASSERT_EQUAL(vg_process_attach(loop, &ap, gpid, info.id + 1,
                                    on_attached_exit),
                  VG_ENOPROC);
  CU_ASSERT_EQUAL(pid_gone(gpid), 0);
  ap.data = &seen;
  CU_ASSERT_EQUAL_FATAL(vg_process_attach(loop, &ap, gpid, info.id,
                                          on_attached_exit),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL(ap.pid, gpid);
  CU_ASSERT_EQUAL(vg_process_usage(&ap, &u), APR_SUCCESS);
  CU_ASSERT(u.rss_bytes > 0);
  CU_ASSERT_EQUAL(u.processes, 1);
  /* Nothing happens until it dies: the loop waits. */
  CU_ASSERT(!vg_test_run_until(loop, &seen.done, 100));
  /* "The tree" of an attached process is itself. */
  CU_ASSERT_EQUAL(vg_process_kill_tree(&ap, VG_SIGTERM), APR_SUCCESS);
  CU_ASSERT(vg_test_run_until(loop, &seen.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(seen.status, -1);
  CU_ASSERT_EQUAL(seen.sig, 0);
  CU_ASSERT_EQUAL(ap.pid, 0);
  CU_ASSERT_EQUAL(vg_process_kill(&ap, VG_SIGTERM), VG_ENOPROC);
  CU_ASSERT_EQUAL(pid_gone(c.proc.pid), 0);   /* its parent lives on */
  vg_close((vg_handle_t *)&ap, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(seen.calls, 1);

  grandchild_end(loop, &c);
  vg_test_close_loop(loop);
}

/* Closing an attached handle neither signals the process nor reports
 * its later exit. */
static void test_attach_close(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_process_t ap;
  attach_seen_t seen = {0, 0, 0, 0};
  child_t c;
  long gpid;
  gpid = grandchild(loop, &c);
  CU_ASSERT_FATAL(gpid > 1);
  if (!can_attach(loop, gpid, "attach_close")) {
    grandchild_end(loop, &c);
    vg_test_close_loop(loop);
    return;
  }
  ap.data = &seen;
  CU_ASSERT_EQUAL_FATAL(
      vg_process_attach(loop, &ap, gpid, 0, on_attached_exit), APR_SUCCESS);
  vg_close((vg_handle_t *)&ap, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(pid_gone(gpid), 0);
  grandchild_end(loop, &c);
  vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(seen.calls, 0);
  vg_test_close_loop(loop);
}

static CU_TestInfo process_tests[] = {
    {"exit_code", test_exit_code},
    {"kill_self", test_kill_self},
    {"process_kill_term", test_process_kill},
    {"kill_after_exit", test_kill_after_exit},
    {"ignore_term_then_kill", test_ignore_term_then_kill},
    {"vg_kill_pid", test_vg_kill_pid},
    {"spawn_enoent", test_spawn_enoent},
    {"spawn_eacces", test_spawn_eacces},
    {"spawn_fault", test_spawn_fault},
    {"rlimit_unenforced", test_rlimit_unenforced},
    {"stdout_pipe", test_stdout_pipe},
    {"stderr_pipe", test_stderr_pipe},
#ifndef _WIN32
    {"spawn_after_fork", test_spawn_after_fork},
#endif
#ifndef _WIN32
    {"pipe_end_flags", test_pipe_end_flags},
#endif
    {"stdout_bulk", test_stdout_bulk},
    {"stdin_echo", test_stdin_echo},
    {"stdio_ignore", test_stdio_ignore},
#ifndef _WIN32
    {"stdio_ignore_reused", test_stdio_ignore_reused},
    {"stdio_ignore_reused_readonly", test_stdio_ignore_reused_readonly},
#endif
    {"stdio_file", test_stdio_file},
    {"stdio_fd", test_stdio_fd},
    {"env", test_env},
#ifndef _WIN32
    {"backend_named", test_backend_named},
#ifdef __linux__
    {"backend_refused", test_backend_refused},
#endif
#endif
    {"cwd", test_cwd},
    {"no_fd_leaks", test_no_fd_leaks},
    {"kill_tree", test_kill_tree},
    {"kill_tree_after_leader_exit", test_kill_tree_after_leader_exit},
    {"kill_tree_needs_group", test_kill_tree_needs_group},
#if defined(__linux__)
    {"kill_escaped", test_kill_escaped},
#endif
#ifndef _WIN32
    {"usage_group", test_usage_group},
    {"usage_rss", test_usage_rss},
    {"usage_cpu", test_usage_cpu},
    {"usage_single_and_exit", test_usage_single_and_exit},
    {"usage_many", test_usage_many},
#ifdef __linux__
    {"usage_known_members", test_usage_known_members},
#endif
    {"spawn_cgroup_fails", test_spawn_cgroup_fails},
#ifdef __linux__
    {"spawn_cgroup_join", test_spawn_cgroup_join},
#endif
#endif
#ifndef _WIN32
    {"user_lookup", test_user_lookup},
    {"spawn_sched", test_spawn_sched},
#ifdef __linux__
    {"spawn_affinity_none", test_spawn_affinity_none},
#endif
    {"spawn_user", test_spawn_user},
#endif
    {"close_does_not_kill", test_close_does_not_kill},
    {"attach_non_child", test_attach_non_child},
    {"attach_close", test_attach_close},
    {"many_spawns", test_many_spawns},
    {"concurrent_children", test_concurrent_children},
#ifndef _WIN32
    {"exit_without_pidfd", test_exit_without_pidfd},
#endif
    CU_TEST_INFO_NULL};

CU_SuiteInfo process_suite = {
    .pName = "process",
    .pInitFunc = suite_init,
    .pCleanupFunc = vg_test_fault_clean,
    .pSetUpFunc = vg_test_fault_reset,
    .pTearDownFunc = vg_test_fault_reset,
    .pTests = process_tests};
