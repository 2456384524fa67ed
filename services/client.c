/*
 * client.c -- the client side of the control protocol (docs/control.md):
 * the commands of docs/guide.md that talk to a running supervisor.
 *
 *   call()              one request line out, one reply line back, on a
 *                       loop of its own (connect retries, a reply bound)
 *   svc_cli_endpoint()  where the supervisor listens: --control, else the
 *                       <supervisor> of -c FILE
 *   request()           call() and parse the reply as a JSON object
 *   status              the table (or --json) of every service or one
 *   start/stop/restart  the supervisor waits until the services settled
 *                       (the request's "wait"), unless --no-wait
 *   reload, shutdown
 *   logs                the last N lines of a service's capture file,
 *                       then with -f a poll of the file across rotations
 *   events              the supervisor's last events, or with -f each
 *                       event as it happens, one JSON line each
 */
#include "cli.h"
#include "svc_json.h"
#include "svc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_hash.h>
#include <apr_strings.h>

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
  int stream;                   /* events: the lines after the reply go
                                   to stdout, until the end of the stream */
  int replied;                  /* stream: the reply line came */
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

/* Streaming: the first line is the reply (kept in c->reply), each one
 * after it is printed as it comes. */
static void cl_stream(client_t *c, const char *data, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (c->replied) {
      putchar(data[i]);
      if (data[i] == '\n')
        fflush(stdout);
    } else if (data[i] == '\n') {
      c->replied = 1;
    } else if (c->len + 1 < sizeof c->buf) {
      if (!c->reply && !(c->reply = malloc(sizeof c->buf))) {
        cl_finish(c, APR_ENOMEM);
        return;
      }
      c->reply[c->len++] = data[i];
      c->reply[c->len] = '\0';
    }
  }
  fflush(stdout);
}

static void cl_read(vg_stream_t *s, apr_status_t st, size_t n,
                    const vg_buf_t *buf) {
  client_t *c = s->data;
  char *nl;
  if (c->stream && st == APR_SUCCESS) {
    cl_stream(c, buf->base, n);
    return;
  }
  if (st != APR_SUCCESS) {
    cl_finish(c, st == APR_EOF && !c->replied ? APR_ECONNRESET
                 : st == APR_EOF              ? APR_SUCCESS
                                              : st);
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

/* Send one request line, wait for one reply line.  timeout_ms 0: none.
 * With `stream`, the lines after the reply are printed until the
 * supervisor ends the stream (or the CLI is interrupted). */
static apr_status_t call_ex(const char *endpoint, const char *request,
                            uint64_t timeout_ms, char **reply, int stream,
                            apr_pool_t *pool) {
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
  c->stream = stream;
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

static apr_status_t call(const char *endpoint, const char *request,
                         uint64_t timeout_ms, char **reply, apr_pool_t *pool) {
  return call_ex(endpoint, request, timeout_ms, reply, 0, pool);
}

/* The supervisor's endpoint: --control, else the config's.  Only the
 * <supervisor> paths are read (cfg_load_supervisor()), so every control
 * command -- reload included: the supervisor itself checks the file and
 * answers with its problems -- reaches a supervisor whose file has an
 * error elsewhere (a typo being fixed, a service being added).  If even
 * those paths cannot be read, that is said with FILE:LINE. */
const char *svc_cli_endpoint(const svc_cli_t *a, apr_pool_t *pool) {
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
  return NULL;
}

/* Send `req` to a->endpoint and parse the reply; prints errors. */
static int request(const svc_cli_t *a, const char *req, uint64_t timeout_ms,
                   svc_json_t **reply, apr_pool_t *pool) {
  const char *ep = a->endpoint;
  char *text = NULL, eb[128];
  svc_json_error_t jerr;
  svc_json_limits_t lim = {CLI_MAX_REPLY, 0};
  apr_status_t rv;
  rv = call(ep, req, timeout_ms, &text, pool);
  if (rv == APR_ENOSPC) {
    fprintf(stderr, "vigil: the reply from the supervisor is over %u MB\n",
            (unsigned)(CLI_MAX_REPLY >> 20));
    return SVC_EX_FAIL;
  }
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil: the supervisor is not reachable at %s: %s\n", ep,
            vg_strerror(rv, eb, sizeof eb));
    return SVC_EX_UNREACH;
  }
  if (svc_json_parse_ex(reply, text, strlen(text), &lim, pool, &jerr) !=
          APR_SUCCESS ||
      svc_json_type(*reply) != SVC_JSON_OBJECT) {
    fprintf(stderr, "vigil: malformed reply from the supervisor%s%s\n",
            *reply ? "" : ": ", *reply ? "" : jerr.message);
    return SVC_EX_FAIL;
  }
  return SVC_EX_OK;
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

/* ---- status -------------------------------------------------------------- */

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

/* A scheduled service's next run, in local time: "next run 2026-12-07
 * 02:30", or "" without one. */
static void next_run(char *buf, size_t size, const svc_json_t *v) {
  int64_t ms;
  struct tm tm;
  *buf = '\0';
  if (svc_json_int(v, &ms) && pal_localtime(ms / 1000, &tm) == APR_SUCCESS)
    strftime(buf, size, "next run %Y-%m-%d %H:%M", &tm);
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
    char nextbuf[64];
    const char *reason = svc_json_string(svc_json_get(s, "reason"));
    if (svc_json_int(svc_json_get(s, "pid"), &pid))
      snprintf(pidbuf, sizeof pidbuf, "%lld", (long long)pid);
    svc_json_uint(svc_json_get(s, "uptime_ms"), &up);
    svc_json_uint(svc_json_get(s, "restarts"), &restarts);
    fmt_duration(upbuf, sizeof upbuf, up);
    fmt_bytes(mem, sizeof mem, svc_json_get(s, "rss_bytes"));
    fmt_cpu(cpu, sizeof cpu, svc_json_get(s, "cpu_ms"));
    next_run(nextbuf, sizeof nextbuf, svc_json_get(s, "next_run_ms"));
    le = svc_json_get(s, "last_exit");
    if (le && svc_json_type(le) == SVC_JSON_OBJECT) {
      const char *sig = svc_json_string(svc_json_get(le, "signal"));
      if (sig)
        snprintf(last, sizeof last, "signal %s", sig);
      else if (svc_json_int(svc_json_get(le, "code"), &code))
        snprintf(last, sizeof last, "code %lld", (long long)code);
    }
    printf("%-*s  %-8s  %7s  %8s  %6s  %7s  %8llu  %s%s%s%s%s\n", (int)wname,
           svc_json_string(svc_json_get(s, "name")),
           svc_json_string(svc_json_get(s, "state")), pidbuf, upbuf, mem,
           cpu, (unsigned long long)restarts, last, reason ? "  " : "",
           reason ? reason : "", *nextbuf ? "  " : "", nextbuf);
  }
}

int svc_cli_status(const svc_cli_t *a, apr_pool_t *pool) {
  svc_json_t *r;
  const char *req;
  int code;
  req = a->arg ? apr_psprintf(pool, "{\"cmd\":\"status\",\"name\":%s}\n",
                              json_str(pool, a->arg))
               : "{\"cmd\":\"status\"}\n";
  if ((code = request(a, req, 10000, &r, pool)) != SVC_EX_OK)
    return code;
  if (!reply_ok(r))
    return a->arg ? SVC_EX_USAGE : SVC_EX_FAIL;
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
  return SVC_EX_OK;
}

/* ---- start / stop / restart / reload / shutdown -------------------------- */

int svc_cli_act(const svc_cli_t *a, apr_pool_t *pool) {
  svc_json_t *r;
  const char *req, *cmd = a->verb;
  int code;
  req = apr_psprintf(pool, "{\"cmd\":\"%s\",\"name\":%s,\"wait\":%s}\n", cmd,
                     json_str(pool, a->arg), a->no_wait ? "false" : "true");
  if ((code = request(a, req, a->no_wait ? 10000 : 0, &r, pool)) !=
      SVC_EX_OK)
    return code;
  if (!reply_ok(r)) {
    const char *e = svc_json_string(svc_json_get(r, "error"));
    if (e && !strncmp(e, "no such service", 15))
      return SVC_EX_USAGE;
    if (svc_json_get(r, "services"))
      print_table(svc_json_get(r, "services"));
    return SVC_EX_FAIL;
  }
  if (svc_json_get(r, "services"))
    print_table(svc_json_get(r, "services"));
  return SVC_EX_OK;
}

int svc_cli_simple(const svc_cli_t *a, apr_pool_t *pool) {
  svc_json_t *r;
  const char *cmd = a->verb;
  int code;
  const char *req = apr_psprintf(pool, "{\"cmd\":\"%s\"}\n", cmd);
  if ((code = request(a, req, 60000, &r, pool)) != SVC_EX_OK)
    return code;
  if (!reply_ok(r))
    return strcmp(cmd, "reload") == 0 ? SVC_EX_USAGE : SVC_EX_FAIL;
  return SVC_EX_OK;
}

/* ---- signal, reload NAME -------------------------------------------------- */

/* The reply of signal and reload NAME: a line for each service, on
 * stdout ("web-0: HUP sent to pid 4250") or, for those that failed, on
 * stderr.  2 for a name or signal the supervisor does not know. */
static int service_results(const svc_json_t *r) {
  const svc_json_t *list = svc_json_get(r, "services");
  size_t i;
  int ok = 0;
  svc_json_bool(svc_json_get(r, "ok"), &ok);
  if (!list) {
    const char *e = svc_json_string(svc_json_get(r, "error"));
    fprintf(stderr, "vigil: %s\n", e ? e : "request failed");
    return ok ? SVC_EX_OK
           : e && !strncmp(e, "no such service", 15) ? SVC_EX_USAGE
                                                       : SVC_EX_FAIL;
  }
  for (i = 0; i < svc_json_size(list); i++) {
    const svc_json_t *o = svc_json_at(list, i);
    const char *nm = svc_json_string(svc_json_get(o, "name"));
    const char *d = svc_json_string(svc_json_get(o, "detail"));
    int one = 0;
    svc_json_bool(svc_json_get(o, "ok"), &one);
    if (one)
      printf("%s: %s\n", nm ? nm : "?", d ? d : "done");
    else
      fprintf(stderr, "vigil: %s: %s\n", nm ? nm : "?", d ? d : "failed");
  }
  return ok ? SVC_EX_OK : SVC_EX_FAIL;
}

int svc_cli_reload(const svc_cli_t *a, apr_pool_t *pool) {
  svc_json_t *r;
  const char *req;
  int code;
  if (!a->arg)
    return svc_cli_simple(a, pool);
  /* No bound here: the supervisor bounds a reload command by its
   * <reload timeout>. */
  req = apr_psprintf(pool, "{\"cmd\":\"reload\",\"name\":%s}\n",
                     json_str(pool, a->arg));
  if ((code = request(a, req, 0, &r, pool)) != SVC_EX_OK)
    return code;
  return service_results(r);
}

int svc_cli_signal(const svc_cli_t *a, apr_pool_t *pool) {
  const char *text = a->args[1], *sig;
  svc_json_t *r;
  int signum, native = 0, code;
  apr_status_t rv;
  size_t digits = strspn(text, "0123456789");
  if (digits > 0 && text[digits] == '\0') {
    signum = digits < 5 ? atoi(text) : -1;
    native = 1;
    sig = text;
  } else {
    signum = vg_signal_from_name(text);
    sig = json_str(pool, text);
  }
  rv = signum > 0 ? pal_proc_signal(NULL, signum, native) : APR_EINVAL;
  if (rv == PAL_EUNSUPPORTED) {
    fprintf(stderr, "vigil signal: %s cannot be sent on this platform "
                    "(it can send %s)\n", text,
#if defined(_WIN32)
            "INT, BREAK, TERM or KILL"
#else
            "HUP, INT, QUIT, TERM, KILL, USR1, USR2, CONT, STOP or a number"
#endif
    );
    return SVC_EX_USAGE;
  }
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil signal: unknown signal %s\n", text);
    return SVC_EX_USAGE;
  }
  if ((code = request(a,
                      apr_psprintf(pool, "{\"cmd\":\"signal\",\"name\":%s,"
                                         "\"signal\":%s}\n",
                                   json_str(pool, a->arg), sig),
                      10000, &r, pool)) != SVC_EX_OK)
    return code;
  return service_results(r);
}

/* ---- logs ---------------------------------------------------------------- */

/* One log being shown: a service's stdout (or --stderr) file. */
typedef struct src_s {
  const char *name;
  const char *path;
  apr_array_header_t *lines;    /* the tail (const char *) */
  int next;                     /* of lines, the first not yet printed */
  char key[SVC_LOG_TS_LEN];     /* time of the last line met */
  svc_logfollow_t *f;
  char *part;                   /* a line read in part (-f), malloc'ed */
  size_t plen, pcap;
} src_t;

typedef struct logs_s {
  src_t *src;
  int n;
  int prefix;                   /* "NAME | " before each line */
  vg_timer_t timer;
  apr_pool_t *pool;
} logs_t;

/* A line read whole: longer ones are printed in parts of this size. */
#define CLI_LINE_MAX 65536

static void put_line(const logs_t *lg, const src_t *s, const char *line,
                     size_t len) {
  if (lg->prefix)
    printf("%s | ", s->name);
  fwrite(line, 1, len, stdout);
  putchar('\n');
}

/* The time of a line: its own timestamp, else that of the line before it
 * in the same log (s->key: a line without one continues the last). */
static const char *line_key(src_t *s, const char *line) {
  char k[SVC_LOG_TS_LEN];
  if (strlen(line) >= SVC_LOG_TS_LEN - 1 && svc_log_line_time(line, k))
    memcpy(s->key, k, sizeof k);
  return s->key;
}

/* The tails, merged: each step prints the head line with the earliest
 * time (the first log on a tie).  A log's own order is kept whatever its
 * times say.  A log without timestamps counts as written at its file's
 * last change; lines before the first timestamp of a log with them, as
 * written before any other. */
static void print_merged(logs_t *lg) {
  int i;
  for (i = 0; i < lg->n; i++) {
    src_t *s = &lg->src[i];
    apr_finfo_t fi;
    int j, stamped = 0;
    char k[SVC_LOG_TS_LEN];
    for (j = 0; j < s->lines->nelts && !stamped; j++) {
      const char *l = APR_ARRAY_IDX(s->lines, j, const char *);
      stamped = strlen(l) >= SVC_LOG_TS_LEN - 1 && svc_log_line_time(l, k);
    }
    s->key[0] = '\0';
    if (!stamped && apr_stat(&fi, s->path, APR_FINFO_MTIME, lg->pool) ==
                        APR_SUCCESS)
      svc_log_time_key(fi.mtime, s->key);
    if (s->next < s->lines->nelts)
      line_key(s, APR_ARRAY_IDX(s->lines, s->next, const char *));
  }
  for (;;) {
    src_t *best = NULL;
    const char *l;
    for (i = 0; i < lg->n; i++) {
      src_t *s = &lg->src[i];
      if (s->next < s->lines->nelts &&
          (!best || strcmp(s->key, best->key) < 0))
        best = s;
    }
    if (!best)
      break;
    l = APR_ARRAY_IDX(best->lines, best->next, const char *);
    put_line(lg, best, l, strlen(l));
    if (++best->next < best->lines->nelts)
      line_key(best, APR_ARRAY_IDX(best->lines, best->next, const char *));
  }
  fflush(stdout);
}

/* A line that came in (-f) whole, waiting for the rest of its tick. */
typedef struct fresh_s {
  src_t *src;
  const char *line;
  size_t len;
  char key[SVC_LOG_TS_LEN];
} fresh_t;

static int fresh_cmp(const void *a, const void *b) {
  const fresh_t *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  if (c)
    return c;
  return x < y ? -1 : x > y;   /* qsort is not stable: the order they came */
}

/* Keep the bytes of s up to its last newline as lines in `out`; the rest
 * waits in s->part for its newline (a line over CLI_LINE_MAX goes out in
 * parts).  Lines without a timestamp get the time they were read. */
static void take_lines(src_t *s, const char *buf, size_t n, const char *now,
                       apr_array_header_t *out, apr_pool_t *pool) {
  while (n > 0) {
    const char *nl = memchr(buf, '\n', n);
    size_t seg = nl ? (size_t)(nl - buf) : n;
    if (s->plen + seg > s->pcap) {
      size_t cap = (s->plen + seg) * 2;
      char *np = realloc(s->part, cap);
      if (!np)
        return;
      s->part = np;
      s->pcap = cap;
    }
    memcpy(s->part + s->plen, buf, seg);
    s->plen += seg;
    buf += seg;
    n -= seg;
    if (nl) {
      buf++;
      n--;
    }
    if (nl || s->plen >= CLI_LINE_MAX) {
      fresh_t *f = apr_array_push(out);
      char k[SVC_LOG_TS_LEN];
      f->src = s;
      f->line = apr_pstrmemdup(pool, s->part, s->plen);
      f->len = s->plen;
      if (s->plen >= SVC_LOG_TS_LEN - 1 && svc_log_line_time(f->line, k))
        memcpy(f->key, k, sizeof k);
      else
        memcpy(f->key, now, SVC_LOG_TS_LEN);
      s->plen = 0;
    }
  }
}

/* tail -F of every log: what was appended since the last tick (across a
 * rotation, the rest of the old file first, then the new one); the
 * lines of one tick in time order, each log's own order kept. */
static void follow_tick(vg_timer_t *t) {
  logs_t *lg = t->data;
  apr_pool_t *p;
  apr_array_header_t *fresh;
  char buf[65536], now[SVC_LOG_TS_LEN];
  size_t n;
  int i;
  if (apr_pool_create(&p, lg->pool) != APR_SUCCESS)
    return;
  fresh = apr_array_make(p, 64, sizeof(fresh_t));
  svc_log_time_key(apr_time_now(), now);
  for (i = 0; i < lg->n; i++) {
    src_t *s = &lg->src[i];
    while (s->f && svc_logfollow_read(s->f, buf, sizeof buf, &n) ==
                       APR_SUCCESS && n > 0) {
      if (!lg->prefix)
        fwrite(buf, 1, n, stdout);   /* one log: as it comes */
      else
        take_lines(s, buf, n, now, fresh, p);
    }
  }
  if (fresh->nelts > 1) {
    /* A log's own lines must keep their order: sort only by time, ties
     * (and a log whose clock went back) in the order they came. */
    for (i = 1; i < fresh->nelts; i++) {
      fresh_t *f = &APR_ARRAY_IDX(fresh, i, fresh_t);
      fresh_t *prev = &APR_ARRAY_IDX(fresh, i - 1, fresh_t);
      if (f->src == prev->src && strcmp(f->key, prev->key) < 0)
        memcpy(f->key, prev->key, SVC_LOG_TS_LEN);
    }
    qsort(fresh->elts, (size_t)fresh->nelts, sizeof(fresh_t), fresh_cmp);
  }
  for (i = 0; i < fresh->nelts; i++) {
    fresh_t *f = &APR_ARRAY_IDX(fresh, i, fresh_t);
    put_line(lg, f->src, f->line, f->len);
  }
  fflush(stdout);
  apr_pool_destroy(p);
}

/* Whether the log at path has no line (or no file). */
static int log_empty(const char *path, apr_pool_t *pool) {
  apr_array_header_t *l;
  return svc_logfile_tail(path, 1, pool, &l) != APR_SUCCESS || l->nelts == 0;
}

/* The services of every name asked for (all without one), each once, in
 * the order asked; *exact: one name, naming one service (not a group). */
static int gather(const svc_cli_t *a, apr_array_header_t *svcs, int *exact,
                  apr_pool_t *pool) {
  apr_hash_t *seen = apr_hash_make(pool);
  int k, nreq = a->nargs > 0 ? a->nargs : 1, code;
  size_t i;
  *exact = 0;
  for (k = 0; k < nreq; k++) {
    svc_json_t *r;
    const svc_json_t *list;
    const char *req =
        a->nargs > 0
            ? apr_psprintf(pool, "{\"cmd\":\"logs\",\"name\":%s}\n",
                           json_str(pool, a->args[k]))
            : "{\"cmd\":\"logs\"}\n";
    if ((code = request(a, req, 10000, &r, pool)) != SVC_EX_OK)
      return code;
    if (!reply_ok(r))
      return SVC_EX_USAGE;
    list = svc_json_get(r, "services");
    for (i = 0; list && i < svc_json_size(list); i++) {
      const svc_json_t *o = svc_json_at(list, i);
      const char *nm = svc_json_string(svc_json_get(o, "name"));
      if (!nm || apr_hash_get(seen, nm, APR_HASH_KEY_STRING))
        continue;
      apr_hash_set(seen, nm, APR_HASH_KEY_STRING, "");
      APR_ARRAY_PUSH(svcs, const svc_json_t *) = o;
    }
    if (a->nargs == 1 && list && svc_json_size(list) == 1 && svc_json_string(
            svc_json_get(svc_json_at(list, 0), "name")) &&
        !strcmp(svc_json_string(svc_json_get(svc_json_at(list, 0), "name")),
                a->args[0]))
      *exact = 1;
  }
  return SVC_EX_OK;
}

int svc_cli_logs(const svc_cli_t *a, apr_pool_t *pool) {
  const char *stream = a->use_stderr ? "stderr" : "stdout";
  apr_array_header_t *svcs = apr_array_make(pool, 8, sizeof(void *));
  logs_t lg;
  int code, i, exact;
  char eb[128];
  apr_status_t rv;

  if ((code = gather(a, svcs, &exact, pool)) != SVC_EX_OK)
    return code;
  memset(&lg, 0, sizeof lg);
  lg.pool = pool;
  lg.prefix = !exact;
  lg.src = apr_pcalloc(pool, (size_t)(svcs->nelts + 1) * sizeof *lg.src);
  for (i = 0; i < svcs->nelts; i++) {
    const svc_json_t *o = APR_ARRAY_IDX(svcs, i, const svc_json_t *);
    const char *nm = svc_json_string(svc_json_get(o, "name"));
    const char *path = svc_json_string(svc_json_get(o, stream));
    const char *err = svc_json_string(svc_json_get(o, "stderr"));
    src_t *s;
    if (!path) {
      /* Asked for by name: say so; "all" shows what is captured. */
      if (a->nargs > 0)
        fprintf(stderr, "vigil: %s's %s is not captured to a file\n", nm,
                stream);
      continue;
    }
    s = &lg.src[lg.n];
    s->name = nm;
    s->path = path;
    rv = svc_logfile_tail(path, a->lines, pool, &s->lines);
    if (APR_STATUS_IS_ENOENT(rv)) {
      s->lines = apr_array_make(pool, 1, sizeof(const char *));
    } else if (rv != APR_SUCCESS) {
      fprintf(stderr, "vigil: cannot read %s: %s\n", path,
              vg_strerror(rv, eb, sizeof eb));
      return SVC_EX_FAIL;
    }
    /* Output that went to stderr only is easily missed. */
    if (!a->use_stderr && err && strcmp(err, path) != 0 &&
        (a->lines > 0 ? s->lines->nelts == 0 : log_empty(path, pool)) &&
        !log_empty(err, pool))
      fprintf(stderr, "vigil: %s's stdout log is empty, but its stderr has "
                      "lines (vigil logs %s --stderr)\n", nm, nm);
    lg.n++;
  }
  if (lg.n == 0) {
    if (a->nargs == 0)
      fprintf(stderr, "vigil: no service's %s is captured to a file\n",
              stream);
    return SVC_EX_FAIL;
  }
  print_merged(&lg);
  if (a->follow) {
    vg_loop_t *loop;
    for (i = 0; i < lg.n; i++) {
      rv = svc_logfollow_open(&lg.src[i].f, lg.src[i].path, 0, pool);
      if (rv != APR_SUCCESS) {
        fprintf(stderr, "vigil: cannot follow %s: %s\n", lg.src[i].path,
                vg_strerror(rv, eb, sizeof eb));
        return SVC_EX_FAIL;
      }
    }
    vg_loop_create(&loop, pool);
    vg_timer_init(loop, &lg.timer);
    lg.timer.data = &lg;
    /* The CLI may poll a file: it is the supervisor that must not. */
    vg_timer_start(&lg.timer, follow_tick, 0, 250);
    vg_run(loop, VG_RUN_DEFAULT);   /* until interrupted */
    for (i = 0; i < lg.n; i++) {
      svc_logfollow_close(lg.src[i].f);
      free(lg.src[i].part);
    }
  }
  return SVC_EX_OK;
}

/* ---- events -------------------------------------------------------------- */

int svc_cli_events(const svc_cli_t *a, apr_pool_t *pool) {
  const char *req = a->follow ? "{\"cmd\":\"events\",\"follow\":true}\n"
                              : "{\"cmd\":\"events\"}\n";
  char *text = NULL, eb[128];
  svc_json_t *r;
  svc_json_error_t jerr;
  apr_status_t rv = call_ex(a->endpoint, req, 0, &text, 1, pool);
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil: the supervisor is not reachable at %s: %s\n",
            a->endpoint, vg_strerror(rv, eb, sizeof eb));
    return SVC_EX_UNREACH;
  }
  if (svc_json_parse(&r, text, strlen(text), pool, &jerr) != APR_SUCCESS ||
      svc_json_type(r) != SVC_JSON_OBJECT) {
    fprintf(stderr, "vigil: malformed reply from the supervisor\n");
    return SVC_EX_FAIL;
  }
  return reply_ok(r) ? SVC_EX_OK : SVC_EX_FAIL;
}
