/*
 * vigil_test.c -- helpers of the end-to-end supervisor suites (see
 * vigil_test.h).
 *
 * Map:
 *   1. small things: buffers, time, strings, files
 *   2. processes: one child with captured stdout/stderr (the supervisor,
 *      or one CLI run), pid liveness and tracking
 *   3. the fixture: temp directory, loop, cleanup
 *   4. configs
 *   5. status polling
 *   6. a raw control-socket or TCP client, a free TCP port
 *
 * Only libvigil, APR and the runner's portability helpers (test.h): pid
 * liveness is vg_test_pid_alive() (a zombie is not alive: PID 1 of a
 * container may never reap it).
 */
#include "vigil_test.h"
#include "svc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_env.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include <apr_time.h>

#ifndef VIGIL_BIN
#define VIGIL_BIN "vigil"
#endif

/* ---- 1. small things ------------------------------------------------------ */

typedef struct vt_buf_s {
  char *p;
  size_t len, cap;
} vt_buf_t;

static void buf_add(vt_buf_t *b, const char *d, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    char *p;
    while (cap < b->len + n + 1)
      cap *= 2;
    p = realloc(b->p, cap);
    if (!p)
      return;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, d, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static const char *buf_str(const vt_buf_t *b) { return b->p ? b->p : ""; }

uint64_t vt_now_ms(void) { return (uint64_t)(apr_time_now() / 1000); }

int vt_contains(const char *text, const char *needle) {
  return text && needle && strstr(text, needle) != NULL;
}

int vt_count_lines(const char *text, const char *needle) {
  int n = 0;
  const char *p = text;
  while (p && *p) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    const char *hit = strstr(p, needle);
    if (hit && (size_t)(hit - p) < len)
      n++;
    p = nl ? nl + 1 : NULL;
  }
  return n;
}

long vt_line_offset(const char *text, const char *a, const char *b) {
  const char *p = text;
  while (p && *p) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    const char *ha = strstr(p, a);
    const char *hb = b ? strstr(p, b) : p;
    if (ha && hb && (size_t)(ha - p) < len && (size_t)(hb - p) < len)
      return (long)(p - text);
    p = nl ? nl + 1 : NULL;
  }
  return -1;
}

int vt_exists(const char *path) {
  apr_finfo_t fi;
  apr_pool_t *p;
  int ok;
  apr_pool_create(&p, NULL);
  ok = apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS;
  apr_pool_destroy(p);
  return ok;
}

/* ---- 2. processes ----------------------------------------------------------- */

typedef struct vt_cap_s {
  vg_pipe_t pipe;
  vt_buf_t buf;
  int eof;
  char rbuf[65536];
} vt_cap_t;

typedef struct vt_run_s {
  vg_process_t proc;
  vt_cap_t out, err;
  int exited, code, sig;
  int closing;          /* handles not yet closed */
} vt_run_t;

static void cap_alloc(vg_handle_t *h, size_t sug, vg_buf_t *buf) {
  vt_cap_t *c = h->data;
  (void)sug;
  buf->base = c->rbuf;
  buf->len = sizeof c->rbuf;
}

static void cap_read(vg_stream_t *s, apr_status_t st, size_t n,
                     const vg_buf_t *buf) {
  vt_cap_t *c = s->data;
  if (st != APR_SUCCESS) {
    c->eof = 1;
    return;
  }
  buf_add(&c->buf, buf->base, n);
}

static void run_exit(vg_process_t *p, int code, int sig) {
  vt_run_t *r = p->data;
  r->exited = 1;
  r->code = code;
  r->sig = sig;
}

static void run_free(vt_run_t *r) {
  free(r->out.buf.p);
  free(r->err.buf.p);
  free(r);
}

static void run_closed(vg_handle_t *h) {
  vt_run_t *r = h->data;
  if (--r->closing == 0)
    run_free(r);
}

/* Spawn argv with both outputs captured; NULL on failure (*why set).
 * uid/gid are used with the VG_PROCESS_SETUID/SETGID flags. */
static vt_run_t *run_spawn_as(vg_loop_t *loop, const char *const *argv,
                              unsigned flags, long uid, long gid,
                              const char *cwd, apr_status_t *why) {
  vg_process_options_t o;
  vt_run_t *r = calloc(1, sizeof *r);
  apr_status_t rv;
  if (!r) {
    *why = APR_ENOMEM;
    return NULL;
  }
  vg_pipe_init(loop, &r->out.pipe);
  vg_pipe_init(loop, &r->err.pipe);
  r->out.pipe.data = &r->out;
  r->err.pipe.data = &r->err;
  memset(&o, 0, sizeof o);
  o.file = argv[0];
  o.args = argv;
  o.flags = flags;
  o.uid = uid;
  o.gid = gid;
  o.cwd = cwd;
  o.stdio[0].kind = VG_STDIO_IGNORE;
  o.stdio[1].kind = VG_STDIO_PIPE;
  o.stdio[1].pipe = &r->out.pipe;
  o.stdio[2].kind = VG_STDIO_PIPE;
  o.stdio[2].pipe = &r->err.pipe;
  o.exit_cb = run_exit;
  r->proc.data = r;
  rv = vg_spawn(loop, &r->proc, &o);
  if (rv != APR_SUCCESS) {
    /* The pipes were initialised but never opened: close them anyway so
     * the loop holds no handle of ours. */
    r->closing = 2;
    r->out.pipe.data = r;
    r->err.pipe.data = r;
    vg_close((vg_handle_t *)&r->out.pipe, run_closed);
    vg_close((vg_handle_t *)&r->err.pipe, run_closed);
    *why = rv;
    return NULL;
  }
  vg_read_start(&r->out.pipe, cap_alloc, cap_read);
  vg_read_start(&r->err.pipe, cap_alloc, cap_read);
  return r;
}

static vt_run_t *run_spawn(vg_loop_t *loop, const char *const *argv,
                           unsigned flags, apr_status_t *why) {
  return run_spawn_as(loop, argv, flags, -1, -1, NULL, why);
}

static void run_close(vt_run_t *r) {
  r->closing = 3;
  r->proc.data = r;
  r->out.pipe.data = r;
  r->err.pipe.data = r;
  vg_close((vg_handle_t *)&r->proc, run_closed);
  vg_close((vg_handle_t *)&r->out.pipe, run_closed);
  vg_close((vg_handle_t *)&r->err.pipe, run_closed);
}

typedef int (*cond_fn)(void *arg);

static void guard_cb(vg_timer_t *t) { (void)t; }

/* Run the loop until cond holds or ms pass.  Returns cond's value. */
static int run_cond(vg_loop_t *loop, cond_fn cond, void *arg, uint64_t ms) {
  vg_timer_t guard;
  uint64_t deadline = vt_now_ms() + ms;
  int ok;
  vg_timer_init(loop, &guard);
  vg_timer_start(&guard, guard_cb, 10, 10);
  while (!(ok = cond(arg)) && vt_now_ms() < deadline)
    vg_run(loop, VG_RUN_ONCE);
  vg_close((vg_handle_t *)&guard, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  return ok;
}

static int run_done(void *arg) {
  vt_run_t *r = arg;
  return r->exited && r->out.eof && r->err.eof;
}

static int run_exited(void *arg) { return ((vt_run_t *)arg)->exited; }

static int never(void *arg) {
  (void)arg;
  return 0;
}

int vt_pid_alive(long pid) { return vg_test_pid_alive(pid); }

/* A start-time stamp of pid, 0 if none.  Read here rather than through
 * pal_pid_start_time(), so that the cleanup does not depend on the code
 * under test. */
uint64_t vt_start_time(long pid) {
#if defined(__linux__)
  vg_test_proc_t p;
  return vg_test_proc_stat(pid, &p) ? p.start : 0;
#else
  return pal_pid_start_time(pid);
#endif
}

/* ---- 3. the fixture ------------------------------------------------------- */

typedef struct tracked_s {
  long pid;
  uint64_t start;
} tracked_t;

struct vt_s {
  apr_pool_t *pool;
  vg_loop_t *loop;
  const char *dir;
  const char *self;
  const char *config;           /* current config (vt_config / run) */
  vt_run_t *sup;                /* the supervisor, or NULL */
  const char *prev_log;         /* logs of supervisors that exited */
  int via_control;              /* status polls use --control */
  int answered;                 /* a status poll has succeeded */
  apr_array_header_t *tracked;  /* tracked_t */
  const char *sup_args[9];      /* vt_sup_args(), NULL-terminated */
  unsigned failures_at_begin;
  char tag[32];
};

static const char *self_abs(apr_pool_t *pool) {
  char *out = NULL;
  if (apr_filepath_merge(&out, NULL, vg_test_self, APR_FILEPATH_TRUENAME,
                         pool) != APR_SUCCESS)
    return vg_test_self;
  return out;
}

const char *vt_vigil_bin(void) {
  const char *e = getenv("VIGIL_BIN");
  return e && *e ? e : VIGIL_BIN;
}

vt_t *vt_begin(const char *tag) {
  static unsigned counter;
  apr_pool_t *pool;
  const char *tmp = NULL;
  vt_t *t;
  apr_pool_create(&pool, vg_test_pool);
  t = apr_pcalloc(pool, sizeof *t);
  t->pool = pool;
  t->failures_at_begin = CU_get_number_of_failures();
  snprintf(t->tag, sizeof t->tag, "%s", tag);
  t->tracked = apr_array_make(pool, 16, sizeof(tracked_t));
  t->self = self_abs(pool);
  if (apr_temp_dir_get(&tmp, pool) != APR_SUCCESS)
    tmp = "/tmp";
  /* In APR's form, which is how vigil names paths it made absolute
   * (Windows: "C:/Users/..." from GetTempPathW's "C:\Users\..."). */
  {
    char *canon = NULL;
    if (apr_filepath_merge(&canon, NULL, tmp, 0, pool) == APR_SUCCESS)
      tmp = canon;
  }
  t->dir = apr_psprintf(pool, "%s/vt-%ld-%u-%.12s", tmp, pal_getpid(),
                        ++counter, tag);
  if (apr_dir_make_recursive(t->dir, APR_FPROT_OS_DEFAULT, pool) !=
      APR_SUCCESS) {
    CU_FAIL("cannot create the test directory");
    apr_pool_destroy(pool);
    return NULL;
  }
  if (vg_loop_create(&t->loop, pool) != APR_SUCCESS) {
    CU_FAIL("cannot create a loop");
    apr_pool_destroy(pool);
    return NULL;
  }
  return t;
}

apr_pool_t *vt_pool(vt_t *t) { return t->pool; }
vg_loop_t *vt_loop(vt_t *t) { return t->loop; }
const char *vt_self(vt_t *t) { return t->self; }

const char *vt_path(vt_t *t, const char *rel) {
  if (!rel)
    return t->dir;
  return apr_pstrcat(t->pool, t->dir, "/", rel, NULL);
}

static void rm_rf(const char *path, apr_pool_t *parent) {
  apr_pool_t *p;
  apr_dir_t *d;
  apr_finfo_t fi;
  apr_pool_create(&p, parent);
  if (apr_dir_open(&d, path, p) == APR_SUCCESS) {
    while (apr_dir_read(&fi, APR_FINFO_TYPE | APR_FINFO_NAME, d) ==
           APR_SUCCESS) {
      const char *full;
      if (!strcmp(fi.name, ".") || !strcmp(fi.name, ".."))
        continue;
      full = apr_pstrcat(p, path, "/", fi.name, NULL);
      if (fi.filetype == APR_DIR)
        rm_rf(full, p);
      else
        apr_file_remove(full, p);
    }
    apr_dir_close(d);
    apr_dir_remove(path, p);
  }
  apr_pool_destroy(p);
}

void vt_track(vt_t *t, long pid) {
  int i;
  tracked_t *e;
  if (pid <= 1 || pid == pal_getpid())
    return;
  for (i = 0; i < t->tracked->nelts; i++)
    if (APR_ARRAY_IDX(t->tracked, i, tracked_t).pid == pid)
      return;
  e = &APR_ARRAY_PUSH(t->tracked, tracked_t);
  e->pid = pid;
  e->start = vt_start_time(pid);
}

static void close_walk(vg_handle_t *h, void *arg) {
  (void)arg;
  if (!vg_is_closing(h))
    vg_close(h, NULL);
}

void vt_end(vt_t *t) {
  int i;
  if (!t)
    return;
  if (t->sup && !t->sup->exited) {
    vg_process_kill(&t->sup->proc, VG_SIGTERM);
    if (!run_cond(t->loop, run_exited, t->sup, 5000)) {
      vg_process_kill(&t->sup->proc, VG_SIGKILL);
      run_cond(t->loop, run_exited, t->sup, 2000);
    }
  }
  /* Whatever the test saw: the same process (start time) gets SIGKILL,
   * its group too (services lead their own group). */
  for (i = 0; i < t->tracked->nelts; i++) {
    tracked_t *e = &APR_ARRAY_IDX(t->tracked, i, tracked_t);
    if (e->start != 0 && vt_start_time(e->pid) == e->start) {
      pal_pid_kill(e->pid, VG_SIGKILL, 1);
      pal_pid_kill(e->pid, VG_SIGKILL, 0);
    }
  }
  if (CU_get_number_of_failures() != t->failures_at_begin) {
    fprintf(stderr, "\n---- %s: supervisor log (%s) ----\n%s%s\n---- end ----\n",
            t->tag, t->dir, t->prev_log ? t->prev_log : "",
            t->sup ? buf_str(&t->sup->err.buf) : "(none)");
  }
  if (t->sup) {
    if (t->sup->exited)
      run_close(t->sup);
    t->sup = NULL;
  }
  vg_walk(t->loop, close_walk, NULL);
  vg_run(t->loop, VG_RUN_DEFAULT);
  CU_ASSERT_EQUAL(vg_loop_close(t->loop), APR_SUCCESS);
  if (!getenv("VT_KEEP"))
    rm_rf(t->dir, t->pool);
  apr_pool_destroy(t->pool);
}

/* ---- files ---------------------------------------------------------------- */

int vt_write_file(vt_t *t, const char *path, const char *text) {
  apr_file_t *f;
  apr_size_t n = strlen(text);
  const char *tmp = apr_pstrcat(t->pool, path, ".tmp", NULL);
  if (apr_file_open(&f, tmp,
                    APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                    APR_FPROT_OS_DEFAULT, t->pool) != APR_SUCCESS)
    return -1;
  if (apr_file_write_full(f, text, n, NULL) != APR_SUCCESS) {
    apr_file_close(f);
    return -1;
  }
  apr_file_close(f);
  /* Atomic replacement: a reload never sees half a file. */
  return apr_file_rename(tmp, path, t->pool) == APR_SUCCESS ? 0 : -1;
}

char *vt_read_file(vt_t *t, const char *path, size_t *len) {
  apr_file_t *f;
  apr_finfo_t fi;
  char *buf;
  apr_size_t n;
  if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0,
                    t->pool) != APR_SUCCESS)
    return NULL;
  if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS) {
    apr_file_close(f);
    return NULL;
  }
  buf = apr_palloc(t->pool, (apr_size_t)fi.size + 1);
  n = (apr_size_t)fi.size;
  if (n > 0 && apr_file_read_full(f, buf, n, &n) != APR_SUCCESS &&
      n != (apr_size_t)fi.size)
    n = 0;
  apr_file_close(f);
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

long vt_read_pid_file(vt_t *t, const char *path) {
  char *s = vt_read_file(t, path, NULL);
  long pid = s ? strtol(s, NULL, 10) : 0;
  if (pid > 0)
    vt_track(t, pid);
  return pid > 0 ? pid : 0;
}

long vt_wait_pid_file(vt_t *t, const char *path, uint64_t timeout_ms) {
  uint64_t deadline = vt_now_ms() + timeout_ms;
  long pid;
  while ((pid = vt_read_pid_file(t, path)) == 0 && vt_now_ms() < deadline)
    vt_sleep(t, 20);
  return pid;
}

/* ---- 4. configs ------------------------------------------------------------ */

const char *vt_xml(vt_t *t, const char *s) {
  vt_buf_t b = {0};
  const char *out;
  for (; *s; s++) {
    switch (*s) {
    case '&': buf_add(&b, "&amp;", 5); break;
    case '<': buf_add(&b, "&lt;", 4); break;
    case '>': buf_add(&b, "&gt;", 4); break;
    case '"': buf_add(&b, "&quot;", 6); break;
    default: buf_add(&b, s, 1);
    }
  }
  out = apr_pstrdup(t->pool, buf_str(&b));
  free(b.p);
  return out;
}

/* vt_svc() with its arguments `first` (may be NULL: none) then `ap`. */
static const char *svc_xml(vt_t *t, const char *name, const char *extra,
                           const char *mode, const char *first, va_list ap) {
  const char *a;
  const char *s = apr_psprintf(
      t->pool,
      "  <service name=\"%s\">\n    <command>%s</command>\n"
      "    <arg>--child</arg><arg>%s</arg>",
      name, vt_xml(t, t->self), vt_xml(t, mode));
  if (first)
    s = apr_psprintf(t->pool, "%s<arg>%s</arg>", s, vt_xml(t, first));
  while ((a = va_arg(ap, const char *)) != NULL)
    s = apr_psprintf(t->pool, "%s<arg>%s</arg>", s, vt_xml(t, a));
#if defined(_WIN32)
  /* The stop ladder starts with CTRL_BREAK to the child's group, which
   * Wine refuses: there every stop waits for its timeout before the job
   * is terminated.  A service that does not set its own waits 1 s, not
   * the default 10 s, so that the suites stay quick. */
  if (!extra || !strstr(extra, "<stop"))
    extra = apr_pstrcat(t->pool, extra ? extra : "",
                        extra ? "    " : "", "<stop timeout=\"1s\"/>\n",
                        NULL);
#endif
  return apr_psprintf(t->pool, "%s\n%s%s  </service>\n", s,
                      extra ? "    " : "", extra ? extra : "");
}

const char *vt_svc(vt_t *t, const char *name, const char *extra,
                   const char *mode, ...) {
  va_list ap;
  const char *s;
  va_start(ap, mode);
  s = svc_xml(t, name, extra, mode, NULL, ap);
  va_end(ap);
  return s;
}

/* `s` with every "{port}" replaced by `port`. */
static const char *with_port(vt_t *t, const char *s, int port) {
  const char *out = "", *p;
  while ((p = strstr(s, "{port}")) != NULL) {
    out = apr_psprintf(t->pool, "%s%.*s%d", out, (int)(p - s), s, port);
    s = p + strlen("{port}");
  }
  return apr_pstrcat(t->pool, out, s, NULL);
}

int vt_fixture_service(vt_t *t, const char *name, const char *extra,
                       const char *mode, ...) {
  va_list ap;
  const char *svc;
  int port = vt_free_port(t);
  if (port <= 0) {
    CU_FAIL("no free TCP port");
    return 0;
  }
  va_start(ap, mode);
  svc = svc_xml(t, name, extra ? with_port(t, extra, port) : NULL, mode,
                apr_psprintf(t->pool, "%d", port), ap);
  va_end(ap);
  if (!vt_sup_start_ready(t, vt_config(t, "vigil.xml", svc, NULL))) {
    CU_FAIL("the supervisor did not start");
    return 0;
  }
  return port;
}

const char *vt_log_dir(vt_t *t) { return vt_path(t, "logs"); }

/* The supervisor's own function: on Windows the pipe's name is a hash of
 * the config's path, which the CLI must find the same way. */
const char *vt_control_path(vt_t *t) {
  return svc_default_endpoint(t->config ? t->config : vt_path(t, "vigil.xml"),
                              vt_path(t, "state"), t->pool);
}

const char *vt_config(vt_t *t, const char *file, ...) {
  va_list ap;
  const char *s, *path = vt_path(t, file);
  const char *text = apr_psprintf(
      t->pool,
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<vigil>\n"
      "  <supervisor>\n"
      "    <state-dir>%s</state-dir>\n"
      "    <log-dir>%s</log-dir>\n"
      "    <shutdown-timeout>10s</shutdown-timeout>\n"
      "  </supervisor>\n",
      vt_xml(t, vt_path(t, "state")), vt_xml(t, vt_log_dir(t)));
  va_start(ap, file);
  while ((s = va_arg(ap, const char *)) != NULL)
    text = apr_pstrcat(t->pool, text, s, NULL);
  va_end(ap);
  text = apr_pstrcat(t->pool, text, "</vigil>\n", NULL);
  if (vt_write_file(t, path, text) != 0) {
    CU_FAIL("cannot write the config");
    return path;
  }
  t->config = path;
  return path;
}

int vt_config_shutdown_timeout(vt_t *t, const char *value) {
  char *text = t->config ? vt_read_file(t, t->config, NULL) : NULL;
  const char *at = text ? strstr(text, "<shutdown-timeout>10s<") : NULL;
  if (!at)
    return -1;
  at += strlen("<shutdown-timeout>");
  return vt_write_file(t, t->config,
                       apr_psprintf(t->pool, "%.*s%s%s", (int)(at - text),
                                    text, value, at + 3));
}

/* ---- CLI -------------------------------------------------------------------- */

/* What a CLI run printed, as the tests compare it.  A Windows program's
 * stdout and stderr are in text mode, which writes "\r\n" for "\n":
 * folded back here, so that the assertions on lines are the same on both
 * (a "\r" without "\n" after it is kept). */
static const char *text_of(vt_t *t, const vt_buf_t *b, size_t *len) {
  char *s = apr_pstrmemdup(t->pool, buf_str(b), b->len);
#if defined(_WIN32)
  size_t i, n = 0;
  for (i = 0; i < b->len; i++)
    if (!(s[i] == '\r' && i + 1 < b->len && s[i + 1] == '\n'))
      s[n++] = s[i];
  s[n] = '\0';
  *len = n;
#else
  *len = b->len;
#endif
  return s;
}

static vt_res_t *run_argv_as(vt_t *t, const char *const *argv, uint64_t ms,
                             unsigned flags, long uid, long gid,
                             const char *cwd) {
  vt_res_t *res = apr_pcalloc(t->pool, sizeof *res);
  apr_status_t why = APR_SUCCESS;
  vt_run_t *r = run_spawn_as(t->loop, argv, flags, uid, gid, cwd, &why);
  char eb[128];
#if defined(_WIN32)
  /* Wine's CreateProcess fails now and then with ERROR_INTERNAL_ERROR
   * ("Internal error") when many processes start in a row (seen in
   * vigil_hostile and vigil_deps, never on Windows): that is the test's
   * own spawn of the CLI, not vigil's work, so it is tried again, and
   * said. */
  {
    int tries;
    for (tries = 0; !r && tries < 3; tries++) {
      fprintf(stderr, "\n  note: cannot spawn %s (%s): trying again\n",
              argv[0], vg_strerror(why, eb, sizeof eb));
      apr_sleep(apr_time_from_msec(100));
      r = run_spawn_as(t->loop, argv, flags, uid, gid, cwd, &why);
    }
  }
#endif
  res->code = -1;
  res->out = "";
  res->err = "";
  if (!r) {
    res->err = apr_psprintf(t->pool, "cannot spawn %s: %s", argv[0],
                            vg_strerror(why, eb, sizeof eb));
    return res;
  }
  if (!run_cond(t->loop, run_done, r, ms)) {
    res->timed_out = 1;
    if (!r->exited) {
      vg_process_kill(&r->proc, VG_SIGKILL);
      run_cond(t->loop, run_exited, r, 2000);
    }
  }
  res->code = r->exited && !r->sig && !res->timed_out ? r->code : -1;
  res->sig = r->sig;
  res->out = text_of(t, &r->out.buf, &res->out_len);
  res->err = text_of(t, &r->err.buf, &res->err_len);
  run_close(r);
  vg_run(t->loop, VG_RUN_NOWAIT);
  return res;
}

static vt_res_t *run_argv(vt_t *t, const char *const *argv, uint64_t ms) {
  return run_argv_as(t, argv, ms, 0, -1, -1, NULL);
}

/* The directories above `path` that a user who is neither their owner
 * nor in their group cannot search (no o+x), as "DIR (mode 700)", or
 * NULL when there is none.  Mode bits only: ACLs are not read.  (APR's
 * permission bits are one hex digit per class: 0x755 reads as 755.) */
const char *vt_unreachable(vt_t *t, const char *path) {
  char *dir = apr_pstrdup(t->pool, path), *slash;
  const char *bad = NULL;
  apr_finfo_t fi;
  while ((slash = strrchr(dir, '/')) != NULL) {
    *slash = '\0';
    if (apr_stat(&fi, *dir ? dir : "/", APR_FINFO_PROT, t->pool) ==
            APR_SUCCESS &&
        !(fi.protection & APR_FPROT_WEXECUTE))
      bad = apr_psprintf(t->pool, "%s%s%s (mode %03x)", bad ? bad : "",
                         bad ? ", " : "", *dir ? dir : "/",
                         (unsigned)fi.protection & 0x777);
  }
  return bad;
}

/* A copy of this binary in a new directory under /tmp, both mode 0755,
 * so that another user can run it wherever the build tree is (a clone in
 * /root is mode 0700).  /tmp is world-searchable by the FHS; the
 * directory is made here (apr_dir_make fails if it exists), so nobody
 * else can have put anything in it. */
static const char *self_copy(vt_t *t, long uid, const char **dirp) {
  static unsigned seq;
  const apr_fileperms_t rx = APR_FPROT_UREAD | APR_FPROT_UWRITE |
                             APR_FPROT_UEXECUTE | APR_FPROT_GREAD |
                             APR_FPROT_GEXECUTE | APR_FPROT_WREAD |
                             APR_FPROT_WEXECUTE;
  const char *dir = NULL, *copy, *base;
  apr_status_t rv = APR_EEXIST;
  char eb[128];
  int i;
  for (i = 0; i < 100 && APR_STATUS_IS_EEXIST(rv); i++) {
    dir = apr_psprintf(t->pool, "/tmp/vigil-as-%ld-%ld-%u", uid,
                       pal_getpid(), ++seq);
    rv = apr_dir_make(dir, rx, t->pool);
  }
  if (rv == APR_SUCCESS)
    rv = apr_file_perms_set(dir, rx);   /* whatever the umask */
  base = strrchr(t->self, '/');
  copy = apr_pstrcat(t->pool, dir, "/", base ? base + 1 : t->self, NULL);
  if (rv == APR_SUCCESS)
    rv = apr_file_copy(t->self, copy, rx, t->pool);
  if (rv == APR_SUCCESS)
    rv = apr_file_perms_set(copy, rx);
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "\n  [%s] cannot copy %s to %s for uid %ld: %s\n",
            t->tag, t->self, dir ? dir : "/tmp", uid,
            vg_strerror(rv, eb, sizeof eb));
    CU_FAIL("cannot copy the test binary where another user can run it");
    if (dir)
      rm_rf(dir, t->pool);
    return NULL;
  }
  *dirp = dir;
  return copy;
}

/* Append the NULL-terminated arguments of ap to argv[0..n-1], keeping
 * room for `spare` more and the NULL; returns the new count (argv is not
 * terminated). */
static int argv_add(const char **argv, int n, int spare, va_list ap) {
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL && n < 63 - spare)
    argv[n++] = a;
  return n;
}

vt_res_t *vt_child_as(vt_t *t, long uid, long gid, const char *mode, ...) {
  const char *argv[64];
  const char *dir = NULL, *why;
  vt_res_t *r;
  va_list ap;
  int n;
  argv[0] = self_copy(t, uid, &dir);
  if (!argv[0]) {
    r = apr_pcalloc(t->pool, sizeof *r);
    r->code = -1;
    r->out = r->err = "";
    return r;
  }
  if ((why = vt_unreachable(t, argv[0])) != NULL)
    fprintf(stderr, "\n  [%s] uid %ld may not reach %s: %s\n", t->tag, uid,
            argv[0], why);
  argv[1] = "--child";
  argv[2] = mode;
  va_start(ap, mode);
  n = argv_add(argv, 3, 0, ap);
  va_end(ap);
  argv[n] = NULL;
  r = run_argv_as(t, argv, VT_WAIT_MS, VG_PROCESS_SETUID | VG_PROCESS_SETGID,
                  uid, gid, dir);
  if (r->code != 0)
    fprintf(stderr, "\n  [%s] as uid %ld, %s --child %s: exit %d, signal "
            "%d%s\n  stderr: %s\n", t->tag, uid, argv[0], mode, r->code,
            r->sig, r->timed_out ? ", timed out" : "", r->err);
  rm_rf(dir, t->pool);
  return r;
}

vt_res_t *vt_run(vt_t *t, uint64_t timeout_ms, const char *file, ...) {
  const char *argv[64];
  va_list ap;
  int n;
  argv[0] = file;
  va_start(ap, file);
  n = argv_add(argv, 1, 0, ap);
  va_end(ap);
  argv[n] = NULL;
  return run_argv_as(t, argv, timeout_ms, VG_PROCESS_SEARCH_PATH, -1, -1,
                     NULL);
}

static vt_res_t *vigil_va(vt_t *t, uint64_t ms, int with_config,
                          va_list ap) {
  const char *argv[64];
  int n;
  argv[0] = vt_vigil_bin();
  n = argv_add(argv, 1, 3, ap);
  if (with_config && t->config) {
    argv[n++] = "-c";
    argv[n++] = t->config;
  }
  argv[n] = NULL;
  return run_argv(t, argv, ms);
}

vt_res_t *vt_vigil(vt_t *t, uint64_t timeout_ms, ...) {
  va_list ap;
  vt_res_t *r;
  va_start(ap, timeout_ms);
  r = vigil_va(t, timeout_ms, 0, ap);
  va_end(ap);
  return r;
}

vt_res_t *vt_cli(vt_t *t, ...) {
  va_list ap;
  vt_res_t *r;
  va_start(ap, t);
  r = vigil_va(t, 30000, 1, ap);
  va_end(ap);
  return r;
}

/* ---- the supervisor -------------------------------------------------------- */

void vt_sup_args(vt_t *t, ...) {
  va_list ap;
  const char *a;
  int n = 0;
  va_start(ap, t);
  while ((a = va_arg(ap, const char *)) != NULL && n < 8)
    t->sup_args[n++] = apr_pstrdup(t->pool, a);
  va_end(ap);
  t->sup_args[n] = NULL;
}

int vt_sup_start(vt_t *t, const char *config) {
  const char *argv[14];
  int n;
  argv[0] = vt_vigil_bin();
  argv[1] = "run";
  argv[2] = "-c";
  argv[3] = config;
  for (n = 0; t->sup_args[n]; n++)
    argv[4 + n] = t->sup_args[n];
  argv[4 + n] = NULL;
  return vt_sup_start_argv(t, config, argv);
}

int vt_sup_start_argv(vt_t *t, const char *config, const char *const *argv) {
  apr_status_t why = APR_SUCCESS;
  char eb[128];
  if (t->sup && !t->sup->exited) {
    CU_FAIL("a supervisor is already running in this fixture");
    return -1;
  }
  if (t->sup) {
    /* The previous one exited: keep its log, start another. */
    t->prev_log = apr_pstrcat(t->pool, t->prev_log ? t->prev_log : "",
                              buf_str(&t->sup->err.buf),
                              "---- (next supervisor) ----\n", NULL);
    run_close(t->sup);
    t->sup = NULL;
    vg_run(t->loop, VG_RUN_NOWAIT);
  }
  t->config = config;
  t->answered = 0;   /* until this one answers */
  /* PDEATHSIG: a crashed test runner takes the supervisor (and, through
   * the supervisor's own PDEATHSIG, its children) with it. */
  t->sup = run_spawn(t->loop, argv, VG_PROCESS_PDEATHSIG, &why);
  if (!t->sup) {
    fprintf(stderr, "cannot spawn %s: %s\n", argv[0],
            vg_strerror(why, eb, sizeof eb));
    return -1;
  }
  vt_track(t, t->sup->proc.pid);
  return 0;
}

int vt_sup_start_ready(vt_t *t, const char *config) {
  uint64_t deadline = vt_now_ms() + VT_WAIT_MS;
  if (vt_sup_start(t, config) != 0)
    return 0;
  while (vt_now_ms() < deadline) {
    if (t->sup->exited)
      return 0;
    if (vt_status(t))
      return 1;
    vt_sleep(t, 20);
  }
  return 0;
}

long vt_sup_pid(vt_t *t) { return t->sup ? t->sup->proc.pid : 0; }

int vt_sup_running(vt_t *t) { return t->sup && !t->sup->exited; }

int vt_sup_wait_exit(vt_t *t, uint64_t ms) {
  if (!t->sup)
    return -1;
  if (!run_cond(t->loop, run_exited, t->sup, ms))
    return -1;
  /* Its log up to the last line: the write ends close at its exit unless
   * a child inherited them (which would be a descriptor leak). */
  run_cond(t->loop, run_done, t->sup, 2000);
  return t->sup->sig ? -2 : t->sup->code;
}

const char *vt_sup_log(vt_t *t) {
  return t->sup ? buf_str(&t->sup->err.buf) : "";
}

const char *vt_sup_out(vt_t *t) {
  return t->sup ? buf_str(&t->sup->out.buf) : "";
}

int vt_sup_kill(vt_t *t, int signum) {
  if (!t->sup || t->sup->exited)
    return -1;
  return vg_process_kill(&t->sup->proc, signum) == APR_SUCCESS ? 0 : -1;
}

typedef struct log_wait_s {
  vt_t *t;
  const char *needle;
} log_wait_t;

static int log_has(void *arg) {
  log_wait_t *w = arg;
  return vt_contains(vt_sup_log(w->t), w->needle);
}

int vt_wait_log(vt_t *t, const char *needle, uint64_t ms) {
  log_wait_t w;
  w.t = t;
  w.needle = needle;
  return run_cond(t->loop, log_has, &w, ms);
}

void vt_sleep(vt_t *t, uint64_t ms) { run_cond(t->loop, never, NULL, ms); }

typedef struct gone_s {
  long pid;
} gone_t;

static int pid_gone(void *arg) { return !vt_pid_alive(((gone_t *)arg)->pid); }

int vt_wait_pid_gone(vt_t *t, long pid, uint64_t ms) {
  gone_t g;
  g.pid = pid;
  return run_cond(t->loop, pid_gone, &g, ms);
}

/* ---- 5. status -------------------------------------------------------------- */

void vt_use_control(vt_t *t, int on) { t->via_control = on; }

svc_json_t *vt_status(vt_t *t) {
  vt_res_t *r = t->via_control
                    ? vt_vigil(t, 10000, "status", "--json", "--control",
                               vt_control_path(t), NULL)
                    : vt_vigil(t, 10000, "status", "--json", "-c",
                               t->config, NULL);
  svc_json_t *root = NULL;
  svc_json_error_t jerr;
  svc_json_limits_t lim = {(size_t)64 << 20, 0};   /* thousands of services */
  const svc_json_t *svcs;
  size_t i;
  if (r->code != 0) {
    /* Once it answered, a running supervisor should go on answering:
     * say why it did not, for whoever reads a failed test's output. */
    if (t->answered && vt_sup_running(t))
      fprintf(stderr, "\n  [%s] status: exit %d%s: %s\n", t->tag, r->code,
              r->timed_out ? " (timed out)" : "", r->err);
    return NULL;
  }
  t->answered = 1;
  if (svc_json_parse_ex(&root, r->out, r->out_len, &lim, t->pool, &jerr) !=
          APR_SUCCESS ||
      svc_json_type(root) != SVC_JSON_OBJECT) {
    fprintf(stderr, "\n  [%s] status: not a JSON object: %.400s\n", t->tag,
            r->out);
    return NULL;
  }
  svcs = svc_json_get(root, "services");
  for (i = 0; i < svc_json_size(svcs); i++) {
    int64_t pid;
    if (svc_json_int(svc_json_get(svc_json_at(svcs, i), "pid"), &pid))
      vt_track(t, (long)pid);
  }
  return root;
}

const svc_json_t *vt_svc_of(const svc_json_t *status, const char *name) {
  const svc_json_t *svcs = svc_json_get(status, "services");
  size_t i;
  for (i = 0; i < svc_json_size(svcs); i++) {
    const svc_json_t *s = svc_json_at(svcs, i);
    const char *n = svc_json_string(svc_json_get(s, "name"));
    if (n && strcmp(n, name) == 0)
      return s;
  }
  return NULL;
}

const char *vt_sfield(const svc_json_t *svc, const char *key) {
  return svc_json_string(svc_json_get(svc, key));
}

int64_t vt_ifield(const svc_json_t *svc, const char *key) {
  int64_t v;
  return svc_json_int(svc_json_get(svc, key), &v) ? v : -1;
}

const char *vt_state(vt_t *t, const char *name) {
  const char *s = vt_sfield(vt_svc_of(vt_status(t), name), "state");
  return s ? s : "";
}

long vt_pid(vt_t *t, const char *name) {
  return (long)vt_ifield(vt_svc_of(vt_status(t), name), "pid");
}

const svc_json_t *vt_wait_svc(vt_t *t, const char *name, vt_pred_fn pred,
                              void *arg, uint64_t ms) {
  uint64_t deadline = vt_now_ms() + ms;
  for (;;) {
    const svc_json_t *s = vt_svc_of(vt_status(t), name);
    if (s && pred(s, arg))
      return s;
    /* The fixture's own supervisor gone: no use waiting.  One it did not
     * start (the Service Control Manager's, in vigil_winsvc) is polled
     * until the deadline. */
    if (vt_now_ms() >= deadline || (t->sup && t->sup->exited))
      return NULL;
    vt_sleep(t, 25);
  }
}

static int state_is(const svc_json_t *s, void *arg) {
  const char *st = vt_sfield(s, "state");
  return st && strcmp(st, arg) == 0;
}

const svc_json_t *vt_wait_state(vt_t *t, const char *name,
                                const char *state, uint64_t ms) {
  return vt_wait_svc(t, name, state_is, (void *)state, ms);
}

/* ---- 6. raw control client, free port ---------------------------------------- */

typedef struct raw_s {
  vg_pipe_t pipe;
  vg_connect_t conn;
  vg_write_t wr;
  vg_timer_t timer;
  vt_buf_t in;
  char *data;
  size_t len;
  int lines;                    /* newlines wanted; 0: until EOF */
  int connected, done, closed, timed_out;
  int closing;
  char rbuf[65536];
} raw_t;

static void raw_free_cb(vg_handle_t *h) {
  raw_t *r = h->data;
  if (--r->closing == 0) {
    free(r->in.p);
    free(r->data);
    free(r);
  }
}

static void raw_alloc(vg_handle_t *h, size_t sug, vg_buf_t *buf) {
  raw_t *r = h->data;
  (void)sug;
  buf->base = r->rbuf;
  buf->len = sizeof r->rbuf;
}

static void raw_read(vg_stream_t *s, apr_status_t st, size_t n,
                     const vg_buf_t *buf) {
  raw_t *r = s->data;
  if (st != APR_SUCCESS) {
    r->closed = 1;
    r->done = 1;
    return;
  }
  buf_add(&r->in, buf->base, n);
  if (r->lines > 0) {
    size_t i;
    int nl = 0;
    for (i = 0; i < r->in.len; i++)
      nl += r->in.p[i] == '\n';
    if (nl >= r->lines)
      r->done = 1;
  }
}

static void raw_written(vg_write_t *w, apr_status_t st) {
  (void)w;
  (void)st;   /* the server may close before it read everything */
}

static void raw_connected(vg_connect_t *req, apr_status_t st) {
  raw_t *r = req->data;
  vg_buf_t b;
  if (st != APR_SUCCESS) {
    r->done = 1;
    return;
  }
  r->connected = 1;
  vg_read_start(&r->pipe, raw_alloc, raw_read);
  b.base = r->data;
  b.len = r->len;
  r->wr.data = r;
  if (vg_write(&r->wr, &r->pipe, &b, 1, raw_written) != APR_SUCCESS)
    r->done = 1;
}

static void raw_timeout(vg_timer_t *tm) {
  raw_t *r = tm->data;
  r->timed_out = 1;
  r->done = 1;
}

static int raw_done(void *arg) { return ((raw_t *)arg)->done; }

/* The exchange of vt_control_raw() and vt_tcp_raw(): to the control
 * endpoint when port is 0, else to 127.0.0.1:port. */
static int raw_exchange(vt_t *t, int port, const char *data, size_t len,
                        int lines, uint64_t timeout_ms, const char **reply,
                        int *closed) {
  raw_t *r = calloc(1, sizeof *r);
  vg_addr_t addr;
  apr_status_t rv;
  int ok;
  *reply = "";
  *closed = 0;
  if (!r)
    return -1;
  r->data = malloc(len ? len : 1);
  if (!r->data) {
    free(r);
    return -1;
  }
  memcpy(r->data, data, len);
  r->len = len;
  r->lines = lines;
  if (port)
    vg_tcp_init(t->loop, &r->pipe);
  else
    vg_pipe_init(t->loop, &r->pipe);
  r->pipe.data = r;
  vg_timer_init(t->loop, &r->timer);
  r->timer.data = r;
  vg_timer_start(&r->timer, raw_timeout, timeout_ms, 0);
  r->conn.data = r;
  if (!port)
    rv = vg_pipe_connect(&r->conn, &r->pipe, vt_control_path(t),
                         raw_connected);
  else if ((rv = vg_addr_ip(&addr, "127.0.0.1", port)) == APR_SUCCESS)
    rv = vg_tcp_connect(&r->conn, &r->pipe, &addr, raw_connected);
  if (rv != APR_SUCCESS)
    r->done = 1;
  run_cond(t->loop, raw_done, r, timeout_ms + 1000);
  *reply = apr_pstrmemdup(t->pool, buf_str(&r->in), r->in.len);
  *closed = r->closed;
  ok = r->connected && r->in.len > 0 ? 0 : -1;
  r->closing = 2;
  vg_close((vg_handle_t *)&r->pipe, raw_free_cb);
  vg_close((vg_handle_t *)&r->timer, raw_free_cb);
  vg_run(t->loop, VG_RUN_NOWAIT);
  return ok;
}

int vt_control_raw(vt_t *t, const char *data, size_t len, int lines,
                   uint64_t timeout_ms, const char **reply, int *closed) {
  return raw_exchange(t, 0, data, len, lines, timeout_ms, reply, closed);
}

int vt_tcp_raw(vt_t *t, int port, const char *data, size_t len, int lines,
               uint64_t timeout_ms, const char **reply, int *closed) {
  if (port <= 0 || port > 65535) {
    *reply = "";
    *closed = 0;
    return -1;
  }
  return raw_exchange(t, port, data, len, lines, timeout_ms, reply, closed);
}

static void port_closed(vg_handle_t *h) { free(h); }

int vt_free_port(vt_t *t) {
  vg_tcp_t *tcp = calloc(1, sizeof *tcp);
  vg_addr_t a;
  int port = 0;
  if (!tcp)
    return 0;
  vg_tcp_init(t->loop, tcp);
  if (vg_addr_ip(&a, "127.0.0.1", 0) == APR_SUCCESS &&
      vg_tcp_bind(tcp, &a, 0) == APR_SUCCESS &&
      vg_tcp_sockname(tcp, &a) == APR_SUCCESS)
    port = vg_addr_port(&a);
  vg_close((vg_handle_t *)tcp, port_closed);
  vg_run(t->loop, VG_RUN_NOWAIT);
  return port;
}
