/*
 * test_lockfile.c -- the single-instance lock (core/lockfile.c).
 *
 * fcntl locks never conflict within one process, so contention is tested
 * against real child processes: `run_tests --child lock-try PATH` (exit 0
 * acquired, 3 refused with "holder PID" on stdout) and `lock-hold PATH`
 * (prints "locked PID", holds until stdin EOF or death), both in
 * tests/child_lock.c, spawned with vg_spawn().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "test.h"

typedef struct {
  vg_process_t proc;
  vg_pipe_t out;                /* child's stdout */
  vg_pipe_t in;                 /* child's stdin (lock-hold) */
  char buf[256];
  size_t len;
  int exited, eof;
  int exit_status, term_signal;
  int nhandles, nclosed, all_closed;
} child_t;

static const char *lock_path(const char *tag) {
  const char *tmp = NULL;

  CU_ASSERT_FATAL(apr_temp_dir_get(&tmp, vg_test_pool) == APR_SUCCESS);
  return apr_psprintf(vg_test_pool, "%s/vigil-test-%ld-%s.lock", tmp,
                      pal_getpid(), tag);
}

static long file_pid(const char *path) {
  apr_file_t *f;
  char buf[32];
  apr_size_t n = sizeof(buf) - 1;

  if (apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT,
                    vg_test_pool) != APR_SUCCESS)
    return -1;
  if (apr_file_read(f, buf, &n) != APR_SUCCESS)
    n = 0;
  apr_file_close(f);
  buf[n] = '\0';
  return strtol(buf, NULL, 10);
}

static int file_exists(const char *path) {
  apr_finfo_t fi;

  return apr_stat(&fi, path, APR_FINFO_TYPE, vg_test_pool) == APR_SUCCESS;
}

static void child_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  child_t *c = h->data;

  (void)suggested;
  buf->base = c->buf + c->len;
  buf->len = sizeof(c->buf) - 1 - c->len;
}

static void child_closed(vg_handle_t *h) {
  child_t *c = h->data;

  if (++c->nclosed == c->nhandles)
    c->all_closed = 1;
}

static void child_close(child_t *c, vg_handle_t *h) {
  h->data = c;
  if (!vg_is_closing(h))
    vg_close(h, child_closed);
}

static void child_read(vg_stream_t *s, apr_status_t status, size_t nread,
                       const vg_buf_t *buf) {
  child_t *c = s->data;

  (void)buf;
  if (status != APR_SUCCESS) {
    c->eof = 1;
    child_close(c, (vg_handle_t *)s);
    return;
  }
  c->len += nread;
  c->buf[c->len] = '\0';
  if (c->len == sizeof(c->buf) - 1) {   /* more than we expect: stop */
    c->eof = 1;
    child_close(c, (vg_handle_t *)s);
  }
}

static void child_exit(vg_process_t *p, int exit_status, int term_signal) {
  child_t *c = p->data;

  c->exited = 1;
  c->exit_status = exit_status;
  c->term_signal = term_signal;
  child_close(c, (vg_handle_t *)p);
}

/* Close its stdin, wait for exit and EOF, close what is left, and run
 * the loop until every handle of c has gone through the close phase (c
 * is on the caller's stack).  Returns the exit status, or -100 if it
 * never came. */
static int child_finish(vg_loop_t *loop, child_t *c) {
  if (c->nhandles == 3)         /* EOF on its stdin: a holder lets go */
    child_close(c, (vg_handle_t *)&c->in);
  vg_test_run_until(loop, &c->exited, 30000);
  vg_test_run_until(loop, &c->eof, 30000);
  if (!c->exited)
    vg_process_kill(&c->proc, VG_SIGKILL);
  vg_test_run_until(loop, &c->exited, 30000);
  if (!c->eof)
    child_close(c, (vg_handle_t *)&c->out);
  vg_test_run_until(loop, &c->all_closed, 30000);
  CU_ASSERT(c->all_closed);
  return c->exited ? c->exit_status : -100;
}

/* Spawn `run_tests --child MODE PATH` with stdout (and, for lock-hold,
 * stdin) on pipes. */
static void child_spawn(vg_loop_t *loop, child_t *c, const char *mode,
                        const char *path, int stdin_pipe) {
  vg_process_options_t opts;
  const char *args[5];

  memset(c, 0, sizeof(*c));
  c->nhandles = stdin_pipe ? 3 : 2;
  args[0] = vg_test_self;
  args[1] = "--child";
  args[2] = mode;
  args[3] = path;
  args[4] = NULL;
  memset(&opts, 0, sizeof(opts));
  opts.file = vg_test_self;
  opts.args = args;
  opts.exit_cb = child_exit;
  CU_ASSERT_FATAL(vg_pipe_init(loop, &c->out) == APR_SUCCESS);
  c->out.data = c;
  opts.stdio[1].kind = VG_STDIO_PIPE;
  opts.stdio[1].pipe = &c->out;
  opts.stdio[2].kind = VG_STDIO_INHERIT;
  if (stdin_pipe) {
    CU_ASSERT_FATAL(vg_pipe_init(loop, &c->in) == APR_SUCCESS);
    opts.stdio[0].kind = VG_STDIO_PIPE;
    opts.stdio[0].pipe = &c->in;
  } else {
    opts.stdio[0].kind = VG_STDIO_IGNORE;
  }
  c->proc.data = c;
  CU_ASSERT_FATAL(vg_spawn(loop, &c->proc, &opts) == APR_SUCCESS);
  CU_ASSERT_FATAL(vg_read_start(&c->out, child_alloc, child_read) ==
                  APR_SUCCESS);
}

/* Run a lock-try child to completion; its exit status (or -100). */
static int run_lock_try(vg_loop_t *loop, const char *path, long *holder) {
  child_t c;
  int status;

  child_spawn(loop, &c, "lock-try", path, 0);
  status = child_finish(loop, &c);
  *holder = 0;
  if (strncmp(c.buf, "holder ", 7) == 0)
    *holder = strtol(c.buf + 7, NULL, 10);
  return status;
}

/* Acquire writes our pid; release removes the file; acquire again. */
static void test_lockfile_basic(void) {
  const char *path = lock_path("basic");
  vg_lockfile_t *lock = NULL;
  long holder = -1;

  CU_ASSERT_FATAL(vg_lockfile_acquire(&lock, path, vg_test_pool, &holder) ==
                  APR_SUCCESS);
  CU_ASSERT_PTR_NOT_NULL(lock);
  CU_ASSERT_EQUAL(file_pid(path), pal_getpid());
  CU_ASSERT_EQUAL(vg_lockfile_release(lock), APR_SUCCESS);
  CU_ASSERT(!file_exists(path));

  /* A stale file with garbage in it is simply taken over. */
  {
    apr_file_t *f;
    CU_ASSERT_FATAL(apr_file_open(&f, path,
                                  APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                                  APR_FPROT_OS_DEFAULT,
                                  vg_test_pool) == APR_SUCCESS);
    apr_file_puts("999999999 junk junk junk\n", f);
    apr_file_close(f);
  }
  CU_ASSERT_FATAL(vg_lockfile_acquire(&lock, path, vg_test_pool, NULL) ==
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(file_pid(path), pal_getpid());   /* truncated, rewritten */
  CU_ASSERT_EQUAL(vg_lockfile_release(lock), APR_SUCCESS);
  CU_ASSERT(!file_exists(path));
}

/* A second acquisition within this process must not open (and by
 * closing, silently drop) the fcntl lock: refused with our own pid. */
static void test_lockfile_same_process(void) {
  const char *path = lock_path("same");
  vg_loop_t *loop = vg_test_new_loop();
  vg_lockfile_t *lock = NULL, *again = NULL;
  long holder = 0;

  CU_ASSERT_FATAL(vg_lockfile_acquire(&lock, path, vg_test_pool, NULL) ==
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_lockfile_acquire(&again, path, vg_test_pool, &holder),
                  VG_ELOCKED);
  CU_ASSERT_PTR_NULL(again);
  CU_ASSERT_EQUAL(holder, pal_getpid());
  /* ... and the lock still holds against another process. */
  CU_ASSERT_EQUAL(run_lock_try(loop, path, &holder), 3);
  CU_ASSERT_EQUAL(holder, pal_getpid());
  CU_ASSERT_EQUAL(vg_lockfile_release(lock), APR_SUCCESS);
  vg_test_close_loop(loop);
}

/* Another process is refused with our pid while we hold the lock, and
 * gets it once we release. */
static void test_lockfile_other_process(void) {
  const char *path = lock_path("other");
  vg_loop_t *loop = vg_test_new_loop();
  vg_lockfile_t *lock = NULL;
  long holder = 0;

  CU_ASSERT_FATAL(vg_lockfile_acquire(&lock, path, vg_test_pool, NULL) ==
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(run_lock_try(loop, path, &holder), 3);
  CU_ASSERT_EQUAL(holder, pal_getpid());
  CU_ASSERT_EQUAL(file_pid(path), pal_getpid());   /* not clobbered */
  CU_ASSERT_EQUAL(vg_lockfile_release(lock), APR_SUCCESS);
  CU_ASSERT_EQUAL(run_lock_try(loop, path, &holder), 0);
  CU_ASSERT(!file_exists(path));                   /* child released */
  vg_test_close_loop(loop);
}

/* A holder killed with SIGKILL leaves its file behind, but the OS drops
 * the lock: we take it over and our pid replaces the dead one. */
static void test_lockfile_takeover(void) {
  const char *path = lock_path("takeover");
  vg_loop_t *loop = vg_test_new_loop();
  vg_lockfile_t *lock = NULL;
  long holder = 0, child_pid;
  child_t c;

  child_spawn(loop, &c, "lock-hold", path, 1);
  /* Wait for "locked PID\n". */
  while (strchr(c.buf, '\n') == NULL && !c.eof && !c.exited)
    if (vg_run(loop, VG_RUN_ONCE) == 0)
      break;
  CU_ASSERT_FATAL(strncmp(c.buf, "locked ", 7) == 0);
  child_pid = strtol(c.buf + 7, NULL, 10);
  CU_ASSERT_EQUAL(child_pid, c.proc.pid);

  CU_ASSERT_EQUAL(vg_lockfile_acquire(&lock, path, vg_test_pool, &holder),
                  VG_ELOCKED);
  CU_ASSERT_EQUAL(holder, child_pid);

  CU_ASSERT_EQUAL(vg_process_kill(&c.proc, VG_SIGKILL), APR_SUCCESS);
  CU_ASSERT_EQUAL(child_finish(loop, &c), -1);
  CU_ASSERT_EQUAL(c.term_signal, VG_SIGKILL);
  CU_ASSERT(file_exists(path));                    /* left behind */
  CU_ASSERT_EQUAL(file_pid(path), child_pid);

  CU_ASSERT_FATAL(vg_lockfile_acquire(&lock, path, vg_test_pool, &holder) ==
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(file_pid(path), pal_getpid());
  CU_ASSERT_EQUAL(run_lock_try(loop, path, &holder), 3);
  CU_ASSERT_EQUAL(holder, pal_getpid());
  CU_ASSERT_EQUAL(vg_lockfile_release(lock), APR_SUCCESS);
  vg_test_close_loop(loop);
}

/* A holder that exits normally (stdin EOF) releases and removes it. */
static void test_lockfile_holder_exits(void) {
  const char *path = lock_path("exits");
  vg_loop_t *loop = vg_test_new_loop();
  vg_lockfile_t *lock = NULL;
  child_t c;

  child_spawn(loop, &c, "lock-hold", path, 1);
  while (strchr(c.buf, '\n') == NULL && !c.eof && !c.exited)
    if (vg_run(loop, VG_RUN_ONCE) == 0)
      break;
  CU_ASSERT_FATAL(strncmp(c.buf, "locked ", 7) == 0);
  /* child_finish closes our end of its stdin: EOF, release, exit 0. */
  CU_ASSERT_EQUAL(child_finish(loop, &c), 0);
  CU_ASSERT(!file_exists(path));
  CU_ASSERT_EQUAL(vg_lockfile_acquire(&lock, path, vg_test_pool, NULL),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_lockfile_release(lock), APR_SUCCESS);
  vg_test_close_loop(loop);
}

/* Destroying the pool releases the lock as vg_lockfile_release would. */
static void test_lockfile_pool_cleanup(void) {
  const char *path = lock_path("pool");
  vg_lockfile_t *lock = NULL;
  apr_pool_t *pool;

  CU_ASSERT_FATAL(apr_pool_create(&pool, vg_test_pool) == APR_SUCCESS);
  CU_ASSERT_FATAL(vg_lockfile_acquire(&lock, path, pool, NULL) ==
                  APR_SUCCESS);
  apr_pool_destroy(pool);
  CU_ASSERT(!file_exists(path));
  CU_ASSERT_EQUAL(vg_lockfile_acquire(&lock, path, vg_test_pool, NULL),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_lockfile_release(lock), APR_SUCCESS);
}

/* A directory that does not exist is an ordinary error, not ELOCKED. */
static void test_lockfile_bad_path(void) {
  vg_lockfile_t *lock = NULL;
  apr_status_t rv;

  rv = vg_lockfile_acquire(&lock, "/nonexistent-vigil-dir/x.lock",
                           vg_test_pool, NULL);
  CU_ASSERT(APR_STATUS_IS_ENOENT(rv));
  CU_ASSERT_PTR_NULL(lock);
}

static CU_TestInfo lockfile_tests[] = {
  {"acquire writes the pid, release removes", test_lockfile_basic},
  {"second acquire in one process refused", test_lockfile_same_process},
  {"another process is refused, then gets it", test_lockfile_other_process},
  {"takeover after the holder is killed", test_lockfile_takeover},
  {"holder exiting releases", test_lockfile_holder_exits},
  {"pool destruction releases", test_lockfile_pool_cleanup},
  {"bad path", test_lockfile_bad_path},
  CU_TEST_INFO_NULL
};

CU_SuiteInfo lockfile_suite = {
  .pName = "lockfile",
  .pInitFunc = NULL,
  .pCleanupFunc = NULL,
  .pSetUpFunc = NULL,
  .pTearDownFunc = NULL,
  .pTests = lockfile_tests
};
