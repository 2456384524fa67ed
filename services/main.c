/*
 * main.c -- the vigil executable: the subcommands of docs/guide.md.
 *
 *   vigil run -c FILE               the supervisor, in the foreground
 *   vigil validate -c FILE          check a config; FILE: ok, or one
 *                                   FILE:LINE: error: MESSAGE per problem
 *   vigil status [NAME] [--json]    from the running supervisor
 *   vigil start|stop|restart NAME   wait until settled; --no-wait
 *   vigil reload | shutdown
 *   vigil logs NAME [--stderr] [-n N] [-f]
 *   vigil version
 *   vigil service install -c FILE [--name NAME] [--print] | uninstall |
 *                 start | stop      systemd unit / launchd plist
 *   vigil service install -c FILE [--name NAME] [--account USER
 *                 --password PW] [--print] | uninstall | start | stop |
 *                 status            Windows: the Service Control Manager
 *   vigil run -c FILE --service NAME
 *                                   Windows: as that service, under the
 *                                   SCM (what `service install` registers)
 * Control commands find the supervisor through -c FILE (default
 * ./vigil.xml; only its <supervisor> paths are read, so that a file with
 * an error elsewhere still leads to it) or --control ENDPOINT.
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 another
 * instance holds the lock, 4 the supervisor is not reachable.
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_env.h>
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
        "  service install -c FILE [--name NAME] [--print]\n"
        "  service uninstall|start|stop [--name NAME]\n"
        "                              register with systemd / launchd\n"
        "  service install -c FILE [--name NAME] [--account USER\n"
        "          --password PW] [--print]\n"
        "  service uninstall|start|stop|status [--name NAME]\n"
        "                              Windows: the Service Control Manager\n"
        "                              (NAME: vigil)\n"
        "\n"
        "Control commands take -c FILE (default ./vigil.xml; only its\n"
        "<supervisor> state-dir and control are read) or --control\n"
        "ENDPOINT.  run also takes --log-format text|json and\n"
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
  const char *service;          /* run: as this Windows service */
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
    else if (!strcmp(o, "--service") && i + 1 < argc)
      a->service = argv[++i];
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
  if (svc_config_load(&cfg, path, pool, &errs) == APR_SUCCESS) {
    printf("%s: ok\n", path);
    return EX_OK;
  }
  apr_file_open_stderr(&err, pool);
  if (errs)
    cfg_errors_print(errs, err);
  return EX_USAGE;
}

/* The supervisor with its log on `out`. */
static int run_supervisor(const args_t *a, apr_file_t *out,
                          vg_log_level level, vg_log_format fmt,
                          apr_pool_t *pool) {
  svc_sup_opts_t o;
  vg_log_t *log;
  vg_log_create(&log, pool, out, level, fmt);
  memset(&o, 0, sizeof o);
  o.config = a->config ? a->config : "vigil.xml";
  o.log = log;
  return svc_sup_run(&o, pool);
}

/* `run --service NAME`: main_fn of pal_svcmgr_dispatch(), on the
 * service's thread.  Under the Service Control Manager there is no
 * console and stdout/stderr lead nowhere, so the supervisor's log is
 * appended to STATE-DIR/vigil.log, and what stops the start before that
 * file exists (a configuration that does not load) goes to the Event
 * Log.  The exit status reaches the manager (see pal_svcmgr_dispatch). */
typedef struct service_run_s {
  const args_t *a;
  vg_log_level level;
  vg_log_format fmt;
  apr_pool_t *pool;
} service_run_t;

static int service_main(void *arg) {
  service_run_t *r = arg;
  const char *path = r->a->config ? r->a->config : "vigil.xml", *logpath;
  cfg_errors_t *errs = NULL;
  apr_file_t *f;
  cfg_t *cfg;
  char eb[128];
  apr_status_t rv;
  int i, code;

  if (cfg_load(&cfg, path, r->pool, &errs) != APR_SUCCESS) {
    const char *msg = apr_psprintf(r->pool, "service %s: %s does not load; "
                                   "vigil did not start:", r->a->service,
                                   path);
    for (i = 0; errs && i < cfg_errors_count(errs); i++)
      msg = apr_pstrcat(r->pool, msg, "\r\n",
                        cfg_error_format(cfg_errors_get(errs, i), r->pool),
                        NULL);
    pal_eventlog_report(PAL_EVENT_ERROR, msg);
    return EX_USAGE;
  }
  logpath = apr_pstrcat(r->pool, cfg->state_dir, "/vigil.log", NULL);
  rv = apr_dir_make_recursive(cfg->state_dir, APR_FPROT_OS_DEFAULT, r->pool);
  if (rv == APR_SUCCESS)
    rv = apr_file_open(&f, logpath,
                       APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND,
                       APR_FPROT_OS_DEFAULT, r->pool);
  if (rv != APR_SUCCESS) {
    pal_eventlog_report(PAL_EVENT_ERROR,
                        apr_psprintf(r->pool, "service %s: cannot open %s: "
                                     "%s; vigil did not start",
                                     r->a->service, logpath,
                                     vg_strerror(rv, eb, sizeof eb)));
    return EX_FAIL;
  }
  code = run_supervisor(r->a, f, r->level, r->fmt, r->pool);
  apr_file_close(f);
  return code;
}

static int run_service(const args_t *a, vg_log_level level,
                       vg_log_format fmt, apr_pool_t *pool) {
  service_run_t r;
  char eb[128];
  int code = EX_FAIL;
  apr_status_t rv;
  r.a = a;
  r.level = level;
  r.fmt = fmt;
  r.pool = pool;
  rv = pal_svcmgr_dispatch(a->service, service_main, &r, &code);
  if (rv == APR_SUCCESS)
    return code;
  if (rv == PAL_ESVCNOTSCM) {
    fprintf(stderr, "vigil: run --service is how the Service Control "
                    "Manager starts vigil (vigil service start --name %s); "
                    "in a console, leave --service out\n", a->service);
    return EX_USAGE;
  }
  if (rv == PAL_EUNSUPPORTED) {
    fprintf(stderr, "vigil: run --service is for Windows services; "
                    "systemd and launchd run `vigil run -c FILE` as it "
                    "is\n");
    return EX_USAGE;
  }
  fprintf(stderr, "vigil: cannot run as service %s: %s (%s)\n", a->service,
          vg_strerror(rv, eb, sizeof eb), pal_last_call());
  return EX_FAIL;
}

static int cmd_run(const args_t *a, apr_pool_t *pool) {
  apr_file_t *err;
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
  if (a->service)
    return run_service(a, (vg_log_level)level, fmt, pool);
  apr_file_open_stderr(&err, pool);
  return run_supervisor(a, err, (vg_log_level)level, fmt, pool);
}

/* ---- the client side of the control protocol ----------------------------- */

/* The longest reply the CLI takes.  A status grows with the services:
 * about 250 bytes each, so 8 services of 1000 instances make 2 MB; the
 * parser's default (1 MB) was too small for that.  256 MB is a million
 * services with room to spare, and still a bound on what a rogue
 * endpoint can make the CLI hold. */
#define CLI_MAX_REPLY ((size_t)256 << 20)

/* A local socket whose backlog is full refuses a connect at once
 * (EAGAIN) rather than queueing it: while someone floods the endpoint,
 * try again every CLI_RETRY_MS for CLI_CONNECT_MS at most. */
#define CLI_RETRY_MS 10
#define CLI_CONNECT_MS 5000

typedef struct client_s {
  vg_loop_t *loop;
  vg_pipe_t *pipe;              /* malloc'ed: a retry needs a fresh one */
  vg_connect_t conn;
  vg_write_t wr;
  vg_timer_t timer;
  vg_timer_t retry;
  const char *endpoint;
  const char *request;
  uint64_t give_up;             /* loop ms after which EAGAIN is final */
  char *reply;
  size_t len, cap;
  apr_status_t status;
  int done;
  char buf[65536];
} client_t;

static void cl_pipe_closed(vg_handle_t *h) { free(h); }

static void cl_drop_pipe(client_t *c) {
  if (c->pipe)
    vg_close((vg_handle_t *)c->pipe, cl_pipe_closed);
  c->pipe = NULL;
}

static void cl_finish(client_t *c, apr_status_t st) {
  if (c->done)
    return;
  c->done = 1;
  c->status = st;
  cl_drop_pipe(c);
  vg_close((vg_handle_t *)&c->timer, NULL);
  vg_close((vg_handle_t *)&c->retry, NULL);
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
  if (c->len + n > CLI_MAX_REPLY) {
    cl_finish(c, APR_ENOSPC);
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
  nl = memchr(c->reply + c->len - n, '\n', n);
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

static apr_status_t cl_connect(client_t *c);

static void cl_retry(vg_timer_t *t) {
  client_t *c = t->data;
  apr_status_t rv = cl_connect(c);
  if (rv != APR_SUCCESS)
    cl_finish(c, rv);
}

static void cl_connected(vg_connect_t *req, apr_status_t st) {
  client_t *c = req->data;
  vg_buf_t b;
  if (c->done)
    return;
  if (APR_STATUS_IS_EAGAIN(st) && vg_now(c->loop) < c->give_up) {
    cl_drop_pipe(c);
    vg_timer_start(&c->retry, cl_retry, CLI_RETRY_MS, 0);
    return;
  }
  if (st != APR_SUCCESS) {
    cl_finish(c, st);
    return;
  }
  b.base = (char *)c->request;
  b.len = strlen(c->request);
  c->wr.data = c;
  if (vg_write(&c->wr, c->pipe, &b, 1, cl_written) != APR_SUCCESS ||
      vg_read_start(c->pipe, cl_alloc, cl_read) != APR_SUCCESS)
    cl_finish(c, APR_EGENERAL);
}

static apr_status_t cl_connect(client_t *c) {
  c->pipe = calloc(1, sizeof *c->pipe);
  if (!c->pipe)
    return APR_ENOMEM;
  vg_pipe_init(c->loop, c->pipe);
  c->pipe->data = c;
  c->conn.data = c;
  return vg_pipe_connect(&c->conn, c->pipe, c->endpoint, cl_connected);
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
  c->loop = loop;
  c->endpoint = endpoint;
  c->request = request;
  c->give_up = vg_now(loop) + CLI_CONNECT_MS;
  vg_timer_init(loop, &c->timer);
  c->timer.data = c;
  vg_timer_init(loop, &c->retry);
  c->retry.data = c;
  if (timeout_ms)
    vg_timer_start(&c->timer, cl_timeout, timeout_ms, 0);
  rv = cl_connect(c);
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

/* The supervisor's endpoint: --control, else the config's.  Only the
 * <supervisor> paths are read (cfg_load_supervisor()), so every control
 * command -- reload included: the supervisor itself checks the file and
 * answers with its problems -- reaches a supervisor whose file has an
 * error elsewhere (a typo being fixed, a service being added).  If even
 * those paths cannot be read, that is said with FILE:LINE. */
static const char *endpoint_of(const args_t *a, apr_pool_t *pool,
                               int *code) {
  const char *path = a->config ? a->config : "vigil.xml";
  cfg_errors_t *errs = NULL;
  cfg_t *cfg;
  apr_file_t *err;
  if (a->control)
    return a->control;
  if (cfg_load_supervisor(&cfg, path, NULL, pool, &errs) == APR_SUCCESS)
    return svc_control_endpoint(cfg, pool);
  apr_file_open_stderr(&err, pool);
  if (errs)
    cfg_errors_print(errs, err);
  fprintf(stderr, "vigil: cannot find the supervisor's control endpoint "
                  "in %s (or give --control ENDPOINT)\n", path);
  *code = EX_USAGE;
  return NULL;
}

/* Send `request` and parse the reply; prints errors. */
static int request(const args_t *a, const char *req, uint64_t timeout_ms,
                   svc_json_t **reply, apr_pool_t *pool) {
  const char *ep;
  char *text = NULL, eb[128];
  svc_json_error_t jerr;
  svc_json_limits_t lim = {CLI_MAX_REPLY, 0};
  int code = EX_OK;
  apr_status_t rv;
  ep = endpoint_of(a, pool, &code);
  if (!ep)
    return code;
  rv = call(ep, req, timeout_ms, &text, pool);
  if (rv == APR_ENOSPC) {
    fprintf(stderr, "vigil: the reply from the supervisor is over %u MB\n",
            (unsigned)(CLI_MAX_REPLY >> 20));
    return EX_FAIL;
  }
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil: the supervisor is not reachable at %s: %s\n", ep,
            vg_strerror(rv, eb, sizeof eb));
    return EX_UNREACH;
  }
  if (svc_json_parse_ex(reply, text, strlen(text), &lim, pool, &jerr) !=
          APR_SUCCESS ||
      svc_json_type(*reply) != SVC_JSON_OBJECT) {
    fprintf(stderr, "vigil: malformed reply from the supervisor%s%s\n",
            *reply ? "" : ": ", *reply ? "" : jerr.message);
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

/* 1536 -> "1.5K", 268435456 -> "256M" (1024-based, as config sizes). */
static void fmt_bytes(char *buf, size_t size, const svc_json_t *v) {
  static const char units[] = "BKMGTP";
  uint64_t b;
  double x;
  int u = 0;
  if (!svc_json_uint(v, &b)) {
    snprintf(buf, size, "-");
    return;
  }
  for (x = (double)b; x >= 1024 && units[u + 1]; u++)
    x /= 1024;
  if (u == 0)
    snprintf(buf, size, "%lluB", (unsigned long long)b);
  else
    snprintf(buf, size, x < 10 ? "%.1f%c" : "%.0f%c", x, units[u]);
}

/* CPU time: "0.25s", "12.4s", then as an uptime ("3m04s"). */
static void fmt_cpu(char *buf, size_t size, const svc_json_t *v) {
  uint64_t ms;
  if (!svc_json_uint(v, &ms))
    snprintf(buf, size, "-");
  else if (ms < 10000)
    snprintf(buf, size, "%.2fs", (double)ms / 1000);
  else if (ms < 60000)
    snprintf(buf, size, "%.1fs", (double)ms / 1000);
  else
    fmt_duration(buf, size, ms);
}

static void print_table(const svc_json_t *services) {
  size_t i, n = svc_json_size(services), wname = 4;
  for (i = 0; i < n; i++) {
    const char *nm = svc_json_string(svc_json_get(svc_json_at(services, i),
                                                  "name"));
    if (nm && strlen(nm) > wname)
      wname = strlen(nm);
  }
  printf("%-*s  %-8s  %7s  %8s  %6s  %7s  %8s  %s\n", (int)wname, "NAME",
         "STATE", "PID", "UPTIME", "MEM", "CPU", "RESTARTS", "LAST EXIT");
  for (i = 0; i < n; i++) {
    const svc_json_t *s = svc_json_at(services, i), *le;
    int64_t pid = 0, code = 0;
    uint64_t up = 0, restarts = 0;
    char pidbuf[24] = "-", upbuf[32], last[96] = "-", mem[16], cpu[32];
    const char *reason = svc_json_string(svc_json_get(s, "reason"));
    if (svc_json_int(svc_json_get(s, "pid"), &pid))
      snprintf(pidbuf, sizeof pidbuf, "%lld", (long long)pid);
    svc_json_uint(svc_json_get(s, "uptime_ms"), &up);
    svc_json_uint(svc_json_get(s, "restarts"), &restarts);
    fmt_duration(upbuf, sizeof upbuf, up);
    fmt_bytes(mem, sizeof mem, svc_json_get(s, "rss_bytes"));
    fmt_cpu(cpu, sizeof cpu, svc_json_get(s, "cpu_ms"));
    le = svc_json_get(s, "last_exit");
    if (le && svc_json_type(le) == SVC_JSON_OBJECT) {
      const char *sig = svc_json_string(svc_json_get(le, "signal"));
      if (sig)
        snprintf(last, sizeof last, "signal %s", sig);
      else if (svc_json_int(svc_json_get(le, "code"), &code))
        snprintf(last, sizeof last, "code %lld", (long long)code);
    }
    printf("%-*s  %-8s  %7s  %8s  %6s  %7s  %8llu  %s%s%s\n", (int)wname,
           svc_json_string(svc_json_get(s, "name")),
           svc_json_string(svc_json_get(s, "state")), pidbuf, upbuf, mem,
           cpu, (unsigned long long)restarts, last, reason ? "  " : "",
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
  if ((code = request(a, req, 10000, &r, pool)) != EX_OK)
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
  if ((code = request(a, req, a->no_wait ? 10000 : 0, &r, pool)) !=
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
  if ((code = request(a, req, 60000, &r, pool)) != EX_OK)
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
  if ((code = request(a, req, 10000, &r, pool)) != EX_OK)
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

/* ---- service: register vigil with the OS service manager ------------------ */

/* Linux: a systemd unit vigil-NAME.service in /etc/systemd/system (or
 * $VIGIL_SYSTEMD_DIR), Type=notify (notify.c speaks the protocol).
 * macOS: a launchd plist org.vigil.NAME.plist in /Library/LaunchDaemons
 * (or $VIGIL_LAUNCHD_DIR).  NAME: --name, else the config file's base
 * name without its extension (/etc/vigil/web.xml: web), else "vigil".
 * systemctl/launchctl run only when the manager is running here and no
 * *_DIR override is set; otherwise the file is written and a note says
 * what to run (exit 0). */

typedef struct svcmgr_s {
  const char *sub, *config, *name;
  const char *account, *password;   /* Windows */
  int print;
  int launchd;
  int scm;                          /* Windows: the SCM */
} svcmgr_t;

typedef struct spawned_s {
  int code;
} spawned_t;

static void on_tool_exit(vg_process_t *p, int code, int sig) {
  spawned_t *s = p->data;
  s->code = sig ? 128 + sig : code;
  vg_close((vg_handle_t *)p, NULL);
}

/* Run a tool (searched in PATH) with inherited stdio; its exit code, or
 * -1 if it could not be started. */
static int run_tool(apr_pool_t *pool, const char *const *argv) {
  vg_loop_t *loop;
  vg_process_t proc;
  vg_process_options_t o;
  spawned_t st;
  char eb[128];
  apr_status_t rv;
  int i;
  if (vg_loop_create(&loop, pool) != APR_SUCCESS)
    return -1;
  memset(&o, 0, sizeof o);
  o.file = argv[0];
  o.args = argv;
  o.flags = VG_PROCESS_SEARCH_PATH;
  for (i = 0; i < 3; i++)
    o.stdio[i].kind = VG_STDIO_INHERIT;
  o.exit_cb = on_tool_exit;
  st.code = -1;
  proc.data = &st;
  printf("+");
  for (i = 0; argv[i]; i++)
    printf(" %s", argv[i]);
  printf("\n");
  fflush(stdout);
  rv = vg_spawn(loop, &proc, &o);
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil: cannot run %s: %s\n", argv[0],
            vg_strerror(rv, eb, sizeof eb));
    vg_loop_close(loop);
    return -1;
  }
  proc.data = &st;
  vg_run(loop, VG_RUN_DEFAULT);
  vg_loop_close(loop);
  return st.code;
}

static int dir_exists(const char *path, apr_pool_t *pool) {
  apr_finfo_t fi;
  return apr_stat(&fi, path, APR_FINFO_TYPE, pool) == APR_SUCCESS &&
         fi.filetype == APR_DIR;
}

static int write_whole(const char *path, const char *text, apr_pool_t *pool) {
  const char *tmp = apr_pstrcat(pool, path, ".tmp", NULL);
  apr_file_t *f;
  apr_size_t n = strlen(text);
  char eb[128];
  apr_status_t rv = apr_file_open(
      &f, tmp, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
      APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD | APR_FPROT_WREAD,
      pool);
  if (rv == APR_SUCCESS) {
    rv = apr_file_write_full(f, text, n, NULL);
    if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS)
      rv = APR_EGENERAL;
    if (rv == APR_SUCCESS)
      rv = apr_file_rename(tmp, path, pool);
    if (rv != APR_SUCCESS)
      apr_file_remove(tmp, pool);
  }
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil: cannot write %s: %s\n", path,
            vg_strerror(rv, eb, sizeof eb));
    return EX_FAIL;
  }
  return EX_OK;
}

/* What every install needs: the config, loaded (else validate's messages
 * and EX_USAGE), and the absolute path of this executable. */
static int install_inputs(const svcmgr_t *m, apr_pool_t *pool, cfg_t **cfg,
                          char *exe, size_t exe_size) {
  cfg_errors_t *errs = NULL;
  char eb[128];
  apr_status_t rv;
  if (!m->config) {
    fprintf(stderr, "vigil: service install needs -c FILE\n");
    return EX_USAGE;
  }
  if (cfg_load(cfg, m->config, pool, &errs) != APR_SUCCESS) {
    apr_file_t *err;
    apr_file_open_stderr(&err, pool);
    if (errs)
      cfg_errors_print(errs, err);
    return EX_USAGE;
  }
  if ((rv = pal_self_exe(exe, exe_size)) != APR_SUCCESS) {
    fprintf(stderr, "vigil: cannot find my own executable: %s\n",
            vg_strerror(rv, eb, sizeof eb));
    return EX_FAIL;
  }
  return EX_OK;
}

/* Windows: the Service Control Manager (pal_svcmgr_*).  NAME defaults to
 * "vigil".  The installed command line is
 *   "C:\...\vigil.exe" run -c "C:\...\vigil.xml" --service NAME
 * (quoted as CommandLineToArgvW reads it back; --print shows it).  Start
 * and stop wait for the service to settle (SCM_WAIT_MS at most), as
 * `net start` does; start and stop of a service already there are not
 * errors, as with systemctl. */
#define SCM_WAIT_MS 120000

static int scm_fail(const svcmgr_t *m, const char *verb, apr_status_t rv) {
  char eb[128];
  if (APR_STATUS_IS_EACCES(rv)) {
    fprintf(stderr, "vigil: cannot %s service %s: access denied: run as "
                    "Administrator (from an elevated prompt)\n",
            verb, m->name);
    return EX_FAIL;
  }
  switch (rv) {
  case PAL_ESVCEXISTS:
    fprintf(stderr, "vigil: service %s is already installed (vigil service "
                    "uninstall --name %s removes it)\n", m->name, m->name);
    return EX_FAIL;
  case PAL_ESVCNOENT:
    fprintf(stderr, "vigil: no such service %s (vigil service install -c "
                    "FILE --name %s installs it)\n", m->name, m->name);
    return EX_USAGE;
  case PAL_ESVCDELETED:
    fprintf(stderr, "vigil: service %s is marked for deletion: Windows "
                    "removes it once nothing holds it open; close the "
                    "Services console (services.msc) and Event Viewer, "
                    "then try again\n", m->name);
    return EX_FAIL;
  case APR_TIMEUP:
    fprintf(stderr, "vigil: service %s did not settle within %d s; "
                    "vigil service status --name %s tells when it has\n",
            m->name, SCM_WAIT_MS / 1000, m->name);
    return EX_FAIL;
  default:
    fprintf(stderr, "vigil: cannot %s service %s: %s (%s)\n", verb, m->name,
            vg_strerror(rv, eb, sizeof eb), pal_last_call());
    return EX_FAIL;
  }
}

static const char *scm_state_name(int state) {
  static const char *const names[] = {
      "unknown", "stopped", "starting", "stopping", "running",
      "continuing", "pausing", "paused"};
  return state > 0 && state <= PAL_SVC_PAUSED ? names[state] : names[0];
}

/* The last run's end, from the manager's two codes: vigil's own exit
 * status (ERROR_SERVICE_SPECIFIC_ERROR carries it), else the manager's
 * Windows error (1077: it never started). */
static const char *scm_last_exit(const pal_svc_status_t *st, char *buf,
                                 size_t size) {
  char eb[128];
  if (st->exit_code == 1066 /* ERROR_SERVICE_SPECIFIC_ERROR */)
    snprintf(buf, size, "exit status %lu",
             (unsigned long)st->service_exit_code);
  else if (st->exit_code == 0)
    snprintf(buf, size, "exit status 0");
  else
    snprintf(buf, size, "Windows error %lu: %s",
             (unsigned long)st->exit_code,
             vg_strerror(pal_err_from_os((int)st->exit_code), eb,
                         sizeof eb));
  return buf;
}

static int scm_install(const svcmgr_t *m, apr_pool_t *pool) {
  pal_svc_install_t o;
  pal_svc_status_t st;
  cfg_t *cfg;
  char exe[4096], eb[128], line[8192], pw[512];
  const char *argv[7];
  char *abs;
  apr_status_t rv;
  int code;

  if (m->password && !m->account) {
    fprintf(stderr, "vigil: --password goes with --account\n");
    return EX_USAGE;
  }
  if ((code = install_inputs(m, pool, &cfg, exe, sizeof exe)) != EX_OK)
    return code;
  /* The service starts in %SystemRoot%\System32: the path must be
   * absolute, and in the native form an administrator reads. */
  if (apr_filepath_merge(&abs, NULL, cfg->path, APR_FILEPATH_NATIVE, pool) !=
      APR_SUCCESS)
    abs = apr_pstrdup(pool, cfg->path);
  argv[0] = exe;
  argv[1] = "run";
  argv[2] = "-c";
  argv[3] = abs;
  argv[4] = "--service";
  argv[5] = m->name;
  argv[6] = NULL;
  rv = pal_svcmgr_command_line(argv, line, sizeof line);
  if (rv == APR_EINVAL) {
    fprintf(stderr, "vigil: cannot install: the path %s or %s holds a '%%', "
                    "a '\"' or a line break, which a service's command line "
                    "cannot hold (the Service Control Manager expands "
                    "%%NAME%% in it); move it\n", exe, abs);
    return EX_USAGE;
  }
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil: cannot quote the command line: %s\n",
            vg_strerror(rv, eb, sizeof eb));
    return EX_FAIL;
  }
  if (m->print) {
    printf("%s\n", line);
    return EX_OK;
  }
  memset(&o, 0, sizeof o);
  o.name = m->name;
  o.display_name = apr_psprintf(pool, "Vigil (%s)", m->name);
  o.description = apr_psprintf(pool, "Vigil process supervisor: the "
                               "services of %s", abs);
  o.argv = argv;
  o.account = m->account;
  o.password = m->password;
  /* --password -: read it from stdin, not from the command line (which
   * other users may see). */
  if (m->password && !strcmp(m->password, "-")) {
    size_t n;
    if (!fgets(pw, sizeof pw, stdin)) {
      fprintf(stderr, "vigil: --password -: no password on stdin\n");
      return EX_USAGE;
    }
    n = strcspn(pw, "\r\n");
    pw[n] = '\0';
    o.password = pw;
  }
  o.preshutdown_ms = svc_stop_budget_ms(cfg);
  rv = pal_svcmgr_install(&o);
  memset(pw, 0, sizeof pw);
  if (rv != APR_SUCCESS)
    return scm_fail(m, "install", rv);
  printf("vigil: installed service %s (%s) for %s, automatic%s start; "
         "start it now with: vigil service start --name %s\n",
         m->name, o.display_name, abs,
         pal_svcmgr_query(m->name, &st) == APR_SUCCESS && st.delayed
             ? " (delayed)" : "",
         m->name);
  return EX_OK;
}

static int scm_status(const svcmgr_t *m) {
  pal_svc_status_t st;
  char buf[256];
  apr_status_t rv = pal_svcmgr_query(m->name, &st);
  if (rv != APR_SUCCESS)
    return scm_fail(m, "query", rv);
  printf("service:  %s\n", m->name);
  if (st.pid)
    printf("state:    %s (pid %ld)\n", scm_state_name(st.state), st.pid);
  else
    printf("state:    %s\n", scm_state_name(st.state));
  if (st.state == PAL_SVC_STOPPED)
    printf("last run: %s\n", scm_last_exit(&st, buf, sizeof buf));
  printf("start:    %s%s\n", st.auto_start ? "automatic" : "manual",
         st.auto_start && st.delayed ? " (delayed)" : "");
  printf("account:  %s\n", st.account);
  printf("command:  %s\n", st.command_line);
  return EX_OK;
}

static int scm_service(const svcmgr_t *m, apr_pool_t *pool) {
  pal_svc_status_t st;
  char buf[256];
  apr_status_t rv;
  if (!strcmp(m->sub, "install"))
    return scm_install(m, pool);
  if (m->print || m->config || m->account || m->password) {
    fprintf(stderr, "vigil: service %s takes --name NAME only\n", m->sub);
    return EX_USAGE;
  }
  if (!strcmp(m->sub, "status"))
    return scm_status(m);
  if (!strcmp(m->sub, "uninstall")) {
    if ((rv = pal_svcmgr_uninstall(m->name, SCM_WAIT_MS)) != APR_SUCCESS)
      return scm_fail(m, "uninstall", rv);
    printf("vigil: removed service %s\n", m->name);
    return EX_OK;
  }
  if (!strcmp(m->sub, "start")) {
    rv = pal_svcmgr_start(m->name, SCM_WAIT_MS);
    if (rv == PAL_ESVCRUNNING) {
      printf("vigil: service %s is already running\n", m->name);
      return EX_OK;
    }
    if (rv == APR_EGENERAL && pal_svcmgr_query(m->name, &st) == APR_SUCCESS) {
      fprintf(stderr, "vigil: service %s stopped at once (%s): see vigil.log "
                      "in its state directory and the Event Log (source "
                      "Vigil)\n", m->name,
              scm_last_exit(&st, buf, sizeof buf));
      return EX_FAIL;
    }
    if (rv != APR_SUCCESS)
      return scm_fail(m, "start", rv);
    if (pal_svcmgr_query(m->name, &st) == APR_SUCCESS && st.pid)
      printf("vigil: service %s is running (pid %ld)\n", m->name, st.pid);
    else
      printf("vigil: service %s is running\n", m->name);
    return EX_OK;
  }
  /* stop */
  rv = pal_svcmgr_stop(m->name, SCM_WAIT_MS);
  if (rv == PAL_ESVCSTOPPED) {
    printf("vigil: service %s is not running\n", m->name);
    return EX_OK;
  }
  if (rv != APR_SUCCESS)
    return scm_fail(m, "stop", rv);
  printf("vigil: service %s stopped\n", m->name);
  return EX_OK;
}

static int cmd_service(int argc, const char *const *argv, apr_pool_t *pool) {
  svcmgr_t m;
  const char *dir, *file, *unit, *label, *env_dir, *text;
  char *envv = NULL;
  int i, manager_up, code = EX_OK;

  memset(&m, 0, sizeof m);
#if defined(__APPLE__)
  m.launchd = 1;
#elif defined(_WIN32)
  m.scm = 1;
#endif
  if (argc < 1) {
    fprintf(stderr, "usage: vigil service install|uninstall|start|stop%s "
                    "[-c FILE] [--name NAME] [--print]\n",
            m.scm ? "|status" : "");
    return EX_USAGE;
  }
  m.sub = argv[0];
  for (i = 1; i < argc; i++) {
    const char *o = argv[i];
    if ((!strcmp(o, "-c") || !strcmp(o, "--config")) && i + 1 < argc)
      m.config = argv[++i];
    else if (!strcmp(o, "--name") && i + 1 < argc)
      m.name = argv[++i];
    else if (!strcmp(o, "--print"))
      m.print = 1;
    else if (!strcmp(o, "--account") && i + 1 < argc && m.scm)
      m.account = argv[++i];
    else if (!strcmp(o, "--password") && i + 1 < argc && m.scm)
      m.password = argv[++i];
    else {
      fprintf(stderr, "vigil: service: unexpected argument %s\n", o);
      return EX_USAGE;
    }
  }
  if (strcmp(m.sub, "install") && strcmp(m.sub, "uninstall") &&
      strcmp(m.sub, "start") && strcmp(m.sub, "stop") &&
      (!m.scm || strcmp(m.sub, "status"))) {
    fprintf(stderr, "vigil: service: unknown action %s (install, "
                    "uninstall, start, stop%s)\n", m.sub,
            m.scm ? ", status" : "");
    return EX_USAGE;
  }
  if (m.scm && !m.name)
    m.name = "vigil";   /* one supervisor per machine is the usual case */
  if (!m.name && m.config) {
    const char *b = strrchr(m.config, '/'), *dot;
    b = b ? b + 1 : m.config;
    dot = strrchr(b, '.');
    m.name = dot && dot != b ? apr_pstrndup(pool, b, (apr_size_t)(dot - b))
                             : apr_pstrdup(pool, b);
  }
  if (!m.name || !*m.name)
    m.name = "vigil";
  if (strlen(m.name) > 64 ||
      strspn(m.name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_.-") != strlen(m.name)) {
    fprintf(stderr, "vigil: service: bad name %s ([A-Za-z0-9_.-]{1,64})\n",
            m.name);
    return EX_USAGE;
  }
  if (m.scm)
    return scm_service(&m, pool);

  if (m.launchd) {
    label = apr_pstrcat(pool, "org.vigil.", m.name, NULL);
    unit = label;
    env_dir = "VIGIL_LAUNCHD_DIR";
    dir = "/Library/LaunchDaemons";
    file = apr_pstrcat(pool, label, ".plist", NULL);
    manager_up = 1;
  } else {
    label = unit = apr_pstrcat(pool, "vigil-", m.name, ".service", NULL);
    env_dir = "VIGIL_SYSTEMD_DIR";
    dir = "/etc/systemd/system";
    file = unit;
    manager_up = dir_exists("/run/systemd/system", pool);
  }
  if (apr_env_get(&envv, env_dir, pool) == APR_SUCCESS && envv && *envv) {
    dir = envv;
    manager_up = 0;   /* a staging directory: never touch the manager */
  }
  file = apr_pstrcat(pool, dir, "/", file, NULL);

  if (!strcmp(m.sub, "install")) {
    cfg_t *cfg;
    char exe[4096];
    const char *why = NULL;
    if ((code = install_inputs(&m, pool, &cfg, exe, sizeof exe)) != EX_OK)
      return code;
    text = m.launchd ? svc_launchd_plist(m.name, exe, cfg->path,
                                         svc_stop_budget_ms(cfg), pool, &why)
                     : svc_systemd_unit(m.name, exe, cfg->path,
                                        svc_stop_budget_ms(cfg), pool, &why);
    if (!text) {
      fprintf(stderr, "vigil: cannot install: %s (move it)\n", why);
      return EX_USAGE;
    }
    if (m.print) {
      fputs(text, stdout);
      return EX_OK;
    }
    if ((code = write_whole(file, text, pool)) != EX_OK)
      return code;
    printf("vigil: wrote %s\n", file);
    if (!manager_up) {
      printf("vigil: %s is not being used here; to start it run: %s\n",
             m.launchd ? "launchd" : "systemd",
             m.launchd ? apr_pstrcat(pool, "launchctl bootstrap system ",
                                     file, NULL)
                       : apr_pstrcat(pool, "systemctl daemon-reload && "
                                           "systemctl enable --now ",
                                     unit, NULL));
      return EX_OK;
    }
    if (m.launchd) {
      const char *a[] = {"launchctl", "bootstrap", "system", file, NULL};
      return run_tool(pool, a) == 0 ? EX_OK : EX_FAIL;
    } else {
      const char *a1[] = {"systemctl", "daemon-reload", NULL};
      const char *a2[] = {"systemctl", "enable", "--now", unit, NULL};
      if (run_tool(pool, a1) != 0 || run_tool(pool, a2) != 0)
        return EX_FAIL;
      return EX_OK;
    }
  }
  if (m.print) {
    fprintf(stderr, "vigil: --print goes with install\n");
    return EX_USAGE;
  }
  if (!strcmp(m.sub, "uninstall")) {
    char eb[128];
    apr_status_t rv;
    if (manager_up) {
      if (m.launchd) {
        const char *a[] = {"launchctl", "bootout",
                           apr_pstrcat(pool, "system/", label, NULL), NULL};
        run_tool(pool, a);
      } else {
        const char *a[] = {"systemctl", "disable", "--now", unit, NULL};
        run_tool(pool, a);
      }
    }
    rv = apr_file_remove(file, pool);
    if (rv != APR_SUCCESS) {
      fprintf(stderr, "vigil: cannot remove %s: %s\n", file,
              vg_strerror(rv, eb, sizeof eb));
      code = EX_FAIL;
    } else
      printf("vigil: removed %s\n", file);
    if (manager_up && !m.launchd) {
      const char *a[] = {"systemctl", "daemon-reload", NULL};
      run_tool(pool, a);
    }
    return code;
  }
  /* start / stop */
  if (!manager_up) {
    fprintf(stderr, "vigil: %s is not being used here; cannot %s %s\n",
            m.launchd ? "launchd" : "systemd", m.sub, unit);
    return EX_FAIL;
  }
  if (m.launchd) {
    const char *target = apr_pstrcat(pool, "system/", label, NULL);
    const char *st[] = {"launchctl", "kickstart", target, NULL};
    const char *sp[] = {"launchctl", "kill", "TERM", target, NULL};
    return run_tool(pool, !strcmp(m.sub, "start") ? st : sp) == 0 ? EX_OK
                                                                  : EX_FAIL;
  } else {
    const char *a[] = {"systemctl", m.sub, unit, NULL};
    return run_tool(pool, a) == 0 ? EX_OK : EX_FAIL;
  }
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
  if (!strcmp(cmd, "service")) {
    code = cmd_service(argc - 2, argv + 2, pool);
    apr_pool_destroy(pool);
    apr_terminate();
    return code;
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
  else {
    fprintf(stderr, "vigil: unknown command %s\n", cmd);
    usage(stderr);
    code = EX_USAGE;
  }
  apr_pool_destroy(pool);
  apr_terminate();
  return code;
}
