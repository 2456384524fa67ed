/*
 * main.c -- the vigil executable: subcommands of CONTRACT.md.
 *
 *   vigil run -c FILE               the supervisor, in the foreground
 *   vigil validate -c FILE          check a config; FILE: ok, or one
 *                                   FILE:LINE: error: MESSAGE per problem
 *   vigil status [NAME] [--json]    from the running supervisor
 *   vigil start|stop|restart NAME   wait until settled; --no-wait
 *   vigil reload | shutdown
 *   vigil logs NAME [--stderr] [-n N] [-f]
 *   vigil version
 * Control commands find the supervisor through -c FILE (default
 * ./vigil.xml) or --control ENDPOINT.
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 another
 * instance holds the lock, 4 the supervisor is not reachable.
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_getopt.h>
#include <apr_strings.h>

enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2, EX_LOCKED = 3, EX_UNREACH = 4 };

static void usage(FILE *f) {
  fputs("usage: vigil COMMAND [OPTIONS]\n"
        "\n"
        "  run -c FILE                 run the supervisor in the foreground\n"
        "  validate -c FILE            check a configuration\n"
        "  status [NAME] [--json]      state of every service (or one)\n"
        "  start|stop|restart NAME     act on a service (or all); waits,\n"
        "                              unless --no-wait\n"
        "  reload                      re-read the configuration\n"
        "  logs NAME [--stderr] [-n N] [-f]\n"
        "  shutdown                    stop every service and the supervisor\n"
        "  version                     version, platform and event backend\n"
        "\n"
        "Control commands take -c FILE (default ./vigil.xml) or\n"
        "--control ENDPOINT.  run also takes --log-format text|json and\n"
        "--log-level debug|info|notice|warn|error.\n",
        f);
}

typedef struct args_s {
  const char *config;
  const char *control;
  const char *name;
  int json, no_wait, follow, use_stderr;
  long lines;
  const char *log_format, *log_level;
} args_t;

static int parse_args(int argc, const char *const *argv, args_t *a) {
  int i;
  memset(a, 0, sizeof *a);
  a->lines = 10;
  for (i = 0; i < argc; i++) {
    const char *o = argv[i];
    if ((!strcmp(o, "-c") || !strcmp(o, "--config")) && i + 1 < argc)
      a->config = argv[++i];
    else if (!strcmp(o, "--control") && i + 1 < argc)
      a->control = argv[++i];
    else if (!strcmp(o, "--json"))
      a->json = 1;
    else if (!strcmp(o, "--no-wait"))
      a->no_wait = 1;
    else if (!strcmp(o, "-f") || !strcmp(o, "--follow"))
      a->follow = 1;
    else if (!strcmp(o, "--stderr"))
      a->use_stderr = 1;
    else if (!strcmp(o, "-n") && i + 1 < argc) {
      char *end;
      a->lines = strtol(argv[++i], &end, 10);
      if (*end || a->lines < 0) {
        fprintf(stderr, "vigil: -n wants a number of lines\n");
        return -1;
      }
    } else if (!strcmp(o, "--log-format") && i + 1 < argc)
      a->log_format = argv[++i];
    else if (!strcmp(o, "--log-level") && i + 1 < argc)
      a->log_level = argv[++i];
    else if (o[0] == '-' && o[1]) {
      fprintf(stderr, "vigil: unknown option %s\n", o);
      return -1;
    } else if (!a->name)
      a->name = o;
    else {
      fprintf(stderr, "vigil: unexpected argument %s\n", o);
      return -1;
    }
  }
  return 0;
}

/* ---- validate / run ------------------------------------------------------ */

static int cmd_validate(const args_t *a, apr_pool_t *pool) {
  const char *path = a->config ? a->config : "vigil.xml";
  cfg_errors_t *errs = NULL;
  cfg_t *cfg;
  apr_file_t *err;
  if (cfg_load(&cfg, path, pool, &errs) == APR_SUCCESS) {
    printf("%s: ok\n", path);
    return EX_OK;
  }
  apr_file_open_stderr(&err, pool);
  if (errs)
    cfg_errors_print(errs, err);
  return EX_USAGE;
}

static int cmd_run(const args_t *a, apr_pool_t *pool) {
  svc_run_opts_t o;
  apr_file_t *err;
  vg_log_t *log;
  int level = a->log_level ? vg_log_level_parse(a->log_level) : VG_LOG_INFO;
  vg_log_format fmt = VG_LOG_TEXT;
  if (level < 0) {
    fprintf(stderr, "vigil: unknown log level %s\n", a->log_level);
    return EX_USAGE;
  }
  if (a->log_format) {
    if (!strcmp(a->log_format, "json"))
      fmt = VG_LOG_JSON;
    else if (strcmp(a->log_format, "text")) {
      fprintf(stderr, "vigil: --log-format is text or json\n");
      return EX_USAGE;
    }
  }
  apr_file_open_stderr(&err, pool);
  vg_log_create(&log, pool, err, (vg_log_level)level, fmt);
  memset(&o, 0, sizeof o);
  o.config = a->config ? a->config : "vigil.xml";
  o.log = log;
  return svc_run(&o, pool);
}

/* ---- the client side of the control protocol ----------------------------- */

typedef struct client_s {
  vg_pipe_t pipe;
  vg_connect_t conn;
  vg_write_t wr;
  vg_timer_t timer;
  const char *request;
  char *reply;
  size_t len, cap;
  apr_status_t status;
  int done;
  char buf[65536];
} client_t;

static void cl_finish(client_t *c, apr_status_t st) {
  if (c->done)
    return;
  c->done = 1;
  c->status = st;
  vg_close((vg_handle_t *)&c->pipe, NULL);
  vg_close((vg_handle_t *)&c->timer, NULL);
}

static void cl_alloc(vg_handle_t *h, size_t sug, vg_buf_t *buf) {
  client_t *c = h->data;
  (void)sug;
  buf->base = c->buf;
  buf->len = sizeof c->buf;
}

static void cl_read(vg_stream_t *s, apr_status_t st, size_t n,
                    const vg_buf_t *buf) {
  client_t *c = s->data;
  char *nl;
  if (st != APR_SUCCESS) {
    cl_finish(c, st == APR_EOF ? APR_ECONNRESET : st);
    return;
  }
  if (c->len + n + 1 > c->cap) {
    size_t cap = (c->len + n + 1) * 2;
    char *r = realloc(c->reply, cap);
    if (!r) {
      cl_finish(c, APR_ENOMEM);
      return;
    }
    c->reply = r;
    c->cap = cap;
  }
  memcpy(c->reply + c->len, buf->base, n);
  c->len += n;
  c->reply[c->len] = '\0';
  nl = memchr(c->reply, '\n', c->len);
  if (nl) {
    *nl = '\0';
    c->len = (size_t)(nl - c->reply);
    cl_finish(c, APR_SUCCESS);
  }
}

static void cl_written(vg_write_t *w, apr_status_t st) {
  client_t *c = w->data;
  if (st != APR_SUCCESS)
    cl_finish(c, st);
}

static void cl_connected(vg_connect_t *req, apr_status_t st) {
  client_t *c = req->data;
  vg_buf_t b;
  if (st != APR_SUCCESS) {
    cl_finish(c, st);
    return;
  }
  b.base = (char *)c->request;
  b.len = strlen(c->request);
  c->wr.data = c;
  if (vg_write(&c->wr, &c->pipe, &b, 1, cl_written) != APR_SUCCESS ||
      vg_read_start(&c->pipe, cl_alloc, cl_read) != APR_SUCCESS)
    cl_finish(c, APR_EGENERAL);
}

static void cl_timeout(vg_timer_t *t) { cl_finish(t->data, APR_TIMEUP); }

/* Send one request line, wait for one reply line.  timeout_ms 0: none. */
static apr_status_t call(const char *endpoint, const char *request,
                         uint64_t timeout_ms, char **reply, apr_pool_t *pool) {
  vg_loop_t *loop;
  client_t *c;
  apr_status_t rv;
  rv = vg_loop_create(&loop, pool);
  if (rv != APR_SUCCESS)
    return rv;
  c = calloc(1, sizeof *c);
  if (!c)
    return APR_ENOMEM;
  c->request = request;
  vg_pipe_init(loop, &c->pipe);
  c->pipe.data = c;
  vg_timer_init(loop, &c->timer);
  c->timer.data = c;
  if (timeout_ms)
    vg_timer_start(&c->timer, cl_timeout, timeout_ms, 0);
  c->conn.data = c;
  rv = vg_pipe_connect(&c->conn, &c->pipe, endpoint, cl_connected);
  if (rv != APR_SUCCESS)
    cl_finish(c, rv);
  vg_run(loop, VG_RUN_DEFAULT);
  vg_loop_close(loop);
  rv = c->status;
  if (rv == APR_SUCCESS)
    *reply = apr_pstrmemdup(pool, c->reply, c->len);
  free(c->reply);
  free(c);
  return rv;
}

/* The supervisor's endpoint: --control, else the config's.  For a reload
 * (strict) a config that does not load is refused here, with the
 * messages of `vigil validate`: the running configuration stays.  Other
 * commands still try its default endpoint (STATE-DIR = .vigil beside the
 * file), so `status` works while the file is being edited. */
static const char *endpoint_of(const args_t *a, int strict, apr_pool_t *pool,
                               int *code) {
  const char *path = a->config ? a->config : "vigil.xml";
  cfg_errors_t *errs = NULL;
  cfg_t *cfg;
  char *abs = NULL;
  const char *slash, *dir;
  if (a->control)
    return a->control;
  if (cfg_load(&cfg, path, pool, &errs) == APR_SUCCESS)
    return svc_control_endpoint(cfg, pool);
  if (strict) {
    apr_file_t *err;
    apr_file_open_stderr(&err, pool);
    if (errs)
      cfg_errors_print(errs, err);
    fprintf(stderr, "vigil: %s is not valid; nothing was reloaded\n", path);
    *code = EX_USAGE;
    return NULL;
  }
  if (apr_filepath_merge(&abs, NULL, path, APR_FILEPATH_NATIVE, pool) !=
      APR_SUCCESS)
    abs = apr_pstrdup(pool, path);
  slash = strrchr(abs, '/');
  dir = slash ? apr_pstrndup(pool, abs, (apr_size_t)(slash - abs + 1)) : "./";
  fprintf(stderr, "vigil: warning: %s does not load (see vigil validate); "
                  "trying the default endpoint\n", path);
  return apr_pstrcat(pool, dir, ".vigil/control.sock", NULL);
}

/* Send `request` and parse the reply; prints errors. */
static int request(const args_t *a, const char *req, uint64_t timeout_ms,
                   int strict, svc_json_t **reply, apr_pool_t *pool) {
  const char *ep;
  char *text = NULL, eb[128];
  svc_json_error_t jerr;
  int code = EX_OK;
  apr_status_t rv;
  ep = endpoint_of(a, strict, pool, &code);
  if (!ep)
    return code;
  rv = call(ep, req, timeout_ms, &text, pool);
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil: the supervisor is not reachable at %s: %s\n", ep,
            vg_strerror(rv, eb, sizeof eb));
    return EX_UNREACH;
  }
  if (svc_json_parse(reply, text, strlen(text), pool, &jerr) != APR_SUCCESS ||
      svc_json_type(*reply) != SVC_JSON_OBJECT) {
    fprintf(stderr, "vigil: malformed reply from the supervisor\n");
    return EX_FAIL;
  }
  return EX_OK;
}

static int reply_ok(const svc_json_t *r) {
  int ok = 0;
  svc_json_bool(svc_json_get(r, "ok"), &ok);
  if (!ok) {
    const char *e = svc_json_string(svc_json_get(r, "error"));
    const svc_json_t *errs = svc_json_get(r, "errors");
    size_t i;
    for (i = 0; errs && i < svc_json_size(errs); i++)
      fprintf(stderr, "%s\n", svc_json_string(svc_json_at(errs, i)));
    fprintf(stderr, "vigil: %s\n", e ? e : "request failed");
  }
  return ok;
}

static const char *json_str(apr_pool_t *pool, const char *s) {
  svc_json_w_t w;
  const char *out;
  size_t len;
  svc_json_w_init(&w, pool, 0);
  svc_json_w_string(&w, s);
  svc_json_w_finish(&w, &out, &len);
  return out;
}

/* ---- status --------------------------------------------------------------- */

static void fmt_duration(char *buf, size_t size, uint64_t ms) {
  uint64_t s = ms / 1000;
  if (ms == 0)
    snprintf(buf, size, "-");
  else if (s < 60)
    snprintf(buf, size, "%llus", (unsigned long long)s);
  else if (s < 3600)
    snprintf(buf, size, "%llum%02llus", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
  else if (s < 86400)
    snprintf(buf, size, "%lluh%02llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
  else
    snprintf(buf, size, "%llud%02lluh", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600));
}

static void print_table(const svc_json_t *services) {
  size_t i, n = svc_json_size(services), wname = 4;
  for (i = 0; i < n; i++) {
    const char *nm = svc_json_string(svc_json_get(svc_json_at(services, i),
                                                  "name"));
    if (nm && strlen(nm) > wname)
      wname = strlen(nm);
  }
  printf("%-*s  %-8s  %7s  %8s  %8s  %s\n", (int)wname, "NAME", "STATE",
         "PID", "UPTIME", "RESTARTS", "LAST EXIT");
  for (i = 0; i < n; i++) {
    const svc_json_t *s = svc_json_at(services, i), *le;
    int64_t pid = 0, code = 0;
    uint64_t up = 0, restarts = 0;
    char pidbuf[24] = "-", upbuf[32], last[96] = "-";
    const char *reason = svc_json_string(svc_json_get(s, "reason"));
    if (svc_json_int(svc_json_get(s, "pid"), &pid))
      snprintf(pidbuf, sizeof pidbuf, "%lld", (long long)pid);
    svc_json_uint(svc_json_get(s, "uptime_ms"), &up);
    svc_json_uint(svc_json_get(s, "restarts"), &restarts);
    fmt_duration(upbuf, sizeof upbuf, up);
    le = svc_json_get(s, "last_exit");
    if (le && svc_json_type(le) == SVC_JSON_OBJECT) {
      const char *sig = svc_json_string(svc_json_get(le, "signal"));
      if (sig)
        snprintf(last, sizeof last, "signal %s", sig);
      else if (svc_json_int(svc_json_get(le, "code"), &code))
        snprintf(last, sizeof last, "code %lld", (long long)code);
    }
    printf("%-*s  %-8s  %7s  %8s  %8llu  %s%s%s\n", (int)wname,
           svc_json_string(svc_json_get(s, "name")),
           svc_json_string(svc_json_get(s, "state")), pidbuf, upbuf,
           (unsigned long long)restarts, last, reason ? "  " : "",
           reason ? reason : "");
  }
}

static int cmd_status(const args_t *a, apr_pool_t *pool) {
  svc_json_t *r;
  const char *req;
  int code;
  req = a->name ? apr_psprintf(pool, "{\"cmd\":\"status\",\"name\":%s}\n",
                               json_str(pool, a->name))
                : "{\"cmd\":\"status\"}\n";
  if ((code = request(a, req, 10000, 0, &r, pool)) != EX_OK)
    return code;
  if (!reply_ok(r))
    return a->name ? EX_USAGE : EX_FAIL;
  if (a->json) {
    svc_json_w_t w;
    const char *out;
    size_t len;
    svc_json_w_init(&w, pool, SVC_JSON_W_SPACED);
    svc_json_w_begin_object(&w);
    svc_json_w_key(&w, "supervisor");
    svc_json_w_value(&w, svc_json_get(r, "supervisor"));
    svc_json_w_key(&w, "services");
    svc_json_w_value(&w, svc_json_get(r, "services"));
    svc_json_w_end_object(&w);
    svc_json_w_finish(&w, &out, &len);
    printf("%s\n", out);
  } else {
    print_table(svc_json_get(r, "services"));
  }
  return EX_OK;
}

/* ---- start / stop / restart / reload / shutdown --------------------------- */

static int cmd_act(const char *cmd, const args_t *a, apr_pool_t *pool) {
  svc_json_t *r;
  const char *req;
  int code;
  if (!a->name) {
    fprintf(stderr, "vigil: %s needs a service name (or all)\n", cmd);
    return EX_USAGE;
  }
  req = apr_psprintf(pool, "{\"cmd\":\"%s\",\"name\":%s,\"wait\":%s}\n", cmd,
                     json_str(pool, a->name), a->no_wait ? "false" : "true");
  if ((code = request(a, req, a->no_wait ? 10000 : 0, 0, &r, pool)) !=
      EX_OK)
    return code;
  if (!reply_ok(r)) {
    const char *e = svc_json_string(svc_json_get(r, "error"));
    if (e && !strncmp(e, "no such service", 15))
      return EX_USAGE;
    if (svc_json_get(r, "services"))
      print_table(svc_json_get(r, "services"));
    return EX_FAIL;
  }
  if (svc_json_get(r, "services"))
    print_table(svc_json_get(r, "services"));
  return EX_OK;
}

static int cmd_simple(const char *cmd, const args_t *a, apr_pool_t *pool) {
  svc_json_t *r;
  int code;
  const char *req = apr_psprintf(pool, "{\"cmd\":\"%s\"}\n", cmd);
  if ((code = request(a, req, 60000, strcmp(cmd, "reload") == 0, &r,
                      pool)) != EX_OK)
    return code;
  if (!reply_ok(r))
    return strcmp(cmd, "reload") == 0 ? EX_USAGE : EX_FAIL;
  return EX_OK;
}

/* ---- logs ------------------------------------------------------------------ */

typedef struct follow_s {
  vg_timer_t timer;
  svc_logfollow_t *f;
} follow_t;

/* tail -F: what was appended since the last tick; across a rotation, the
 * rest of the old file first, then the new one. */
static void follow_tick(vg_timer_t *t) {
  follow_t *fw = t->data;
  char buf[65536];
  size_t n;
  while (svc_logfollow_read(fw->f, buf, sizeof buf, &n) == APR_SUCCESS &&
         n > 0)
    fwrite(buf, 1, n, stdout);
  fflush(stdout);
}

static int cmd_logs(const args_t *a, apr_pool_t *pool) {
  svc_json_t *r;
  const char *req, *path;
  apr_array_header_t *lines;
  int code, i;
  char eb[128];
  apr_status_t rv;
  if (!a->name) {
    fprintf(stderr, "vigil: logs needs a service name\n");
    return EX_USAGE;
  }
  req = apr_psprintf(pool, "{\"cmd\":\"logs\",\"name\":%s}\n",
                     json_str(pool, a->name));
  if ((code = request(a, req, 10000, 0, &r, pool)) != EX_OK)
    return code;
  if (!reply_ok(r))
    return EX_USAGE;
  path = svc_json_string(svc_json_get(r, a->use_stderr ? "stderr" : "stdout"));
  if (!path) {
    fprintf(stderr, "vigil: %s's %s is not captured to a file\n", a->name,
            a->use_stderr ? "stderr" : "stdout");
    return EX_FAIL;
  }
  rv = svc_logfile_tail(path, (unsigned)a->lines, pool, &lines);
  if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
    fprintf(stderr, "vigil: cannot read %s: %s\n", path,
            vg_strerror(rv, eb, sizeof eb));
    return EX_FAIL;
  }
  for (i = 0; rv == APR_SUCCESS && i < lines->nelts; i++)
    printf("%s\n", APR_ARRAY_IDX(lines, i, const char *));
  fflush(stdout);
  if (a->follow) {
    vg_loop_t *loop;
    follow_t fw;
    memset(&fw, 0, sizeof fw);
    rv = svc_logfollow_open(&fw.f, path, 0, pool);
    if (rv != APR_SUCCESS) {
      fprintf(stderr, "vigil: cannot follow %s: %s\n", path,
              vg_strerror(rv, eb, sizeof eb));
      return EX_FAIL;
    }
    vg_loop_create(&loop, pool);
    vg_timer_init(loop, &fw.timer);
    fw.timer.data = &fw;
    /* The CLI may poll a file: it is the supervisor that must not. */
    vg_timer_start(&fw.timer, follow_tick, 0, 250);
    vg_run(loop, VG_RUN_DEFAULT);   /* until interrupted */
    svc_logfollow_close(fw.f);
  }
  return EX_OK;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, const char *const *argv) {
  apr_pool_t *pool;
  args_t a;
  const char *cmd;
  int code;

  if (vg_initialize() != APR_SUCCESS) {
    fprintf(stderr, "vigil: cannot initialise APR\n");
    return EX_FAIL;
  }
  apr_pool_create(&pool, NULL);
  if (argc < 2) {
    usage(stderr);
    return EX_USAGE;
  }
  cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return EX_OK;
  }
  if (parse_args(argc - 2, argv + 2, &a) != 0) {
    usage(stderr);
    return EX_USAGE;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
#if defined(_WIN32)
    const char *os = "windows";
#elif defined(__APPLE__)
    const char *os = "macos";
#elif defined(__linux__)
    const char *os = "linux";
#else
    const char *os = "unix";
#endif
    printf("vigil %s (%s, %s backend)\n", vg_version(), os, vg_backend());
    code = EX_OK;
  } else if (!strcmp(cmd, "run"))
    code = cmd_run(&a, pool);
  else if (!strcmp(cmd, "validate"))
    code = cmd_validate(&a, pool);
  else if (!strcmp(cmd, "status"))
    code = cmd_status(&a, pool);
  else if (!strcmp(cmd, "start") || !strcmp(cmd, "stop") ||
           !strcmp(cmd, "restart"))
    code = cmd_act(cmd, &a, pool);
  else if (!strcmp(cmd, "reload") || !strcmp(cmd, "shutdown"))
    code = cmd_simple(cmd, &a, pool);
  else if (!strcmp(cmd, "logs"))
    code = cmd_logs(&a, pool);
  else if (!strcmp(cmd, "service")) {
    fprintf(stderr, "vigil: service installation is not available in this "
                    "build yet\n");
    code = EX_USAGE;
  } else {
    fprintf(stderr, "vigil: unknown command %s\n", cmd);
    usage(stderr);
    code = EX_USAGE;
  }
  apr_pool_destroy(pool);
  apr_terminate();
  return code;
}
