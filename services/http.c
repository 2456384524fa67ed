/*
 * http.c -- the <http> endpoint: GET /metrics (the Prometheus text
 * exposition format 0.0.4), GET /status (the JSON of `vigil status
 * --json`) and GET /healthz, served from the supervisor's loop.
 * config/README.md documents the element, docs/guide.md the metrics.
 *
 * HTTP/1.1 with one request per connection: every reply says
 * "Connection: close" and the connection is closed once it is written.
 * Only GET and HEAD (405 otherwise), no request body, no keep-alive.
 *
 * Hostile clients (anyone who can reach the address) cannot stall the
 * loop nor hold the endpoint:
 *   - at most HTTP_ACCEPTS_PER_TURN accepts per loop iteration; the rest
 *     stay queued for the accept timer (a listener whose connection is
 *     never taken hears of no other);
 *   - at most HTTP_MAX_CONNS connections: a newcomer past that evicts
 *     the connection that has been open longest, so a crowd of idle
 *     clients delays a scraper by at most one round of eviction;
 *   - a connection costs a small record until it sends: the request
 *     buffer grows with the request, up to HTTP_MAX_HEAD (431 past it);
 *   - the whole request must arrive within HTTP_READ_MS of the accept
 *     (one byte at a time does not extend it: slowloris), and the whole
 *     reply must be taken within HTTP_WRITE_MS of the request (a client
 *     that does not read holds one reply, for a bounded time);
 *   - /metrics and /status reuse the control endpoint's usage cache
 *     instead of a walk of /proc per request.
 * With a token (token-file), /metrics and /status require
 * "Authorization: Bearer TOKEN", compared in constant time; /healthz
 * tells only that vigil runs and stays open (load balancers and
 * liveness probes send no token).
 *
 * This is a design of its own, not the control endpoint's: a request
 * here is one line-less head and one reply, so there is nothing to
 * pause, resume or wait for; the limits are the same kinds.
 */
#include "svc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#define HTTP_MAX_HEAD 8192          /* request line and headers */
#define HTTP_BUF_MIN 1024
#define HTTP_MAX_CONNS 64
#define HTTP_ACCEPTS_PER_TURN 16
#define HTTP_READ_MS 5000           /* from the accept to the whole head */
#define HTTP_WRITE_MS 10000         /* from the request to the reply taken */
#define HTTP_SWEEP_MS 250           /* granularity of those deadlines */
#define HTTP_RETRY_MS 100           /* accept again after no memory */

typedef struct http_conn_s http_conn_t;

struct svc_http_s {
  svc_sup_t *sup;
  vg_tcp_t *server;             /* malloc'ed: a closing one may still be
                                   in the loop when a reload binds anew */
  int listening;                /* server is open */
  char *listen;                 /* malloc'ed copy of cfg->http_listen */
  char *token;                  /* malloc'ed, or NULL: none asked */
  size_t token_len;
  http_conn_t *conns;           /* newest first */
  unsigned nconns;
  vg_timer_t accept_timer;
  vg_timer_t sweep;
  uint64_t turn;
  unsigned accepts;
  svc_accept_fails_t fails;
};

struct http_conn_s {
  http_conn_t *next;
  svc_http_t *h;
  vg_tcp_t tcp;
  char *buf;                    /* the request so far, malloc'ed lazily */
  size_t len, cap;
  uint64_t deadline;            /* loop ms: read, then write deadline */
  uint64_t opened_ms;           /* for eviction: the oldest goes */
  int writing;                  /* a reply is queued */
  int closing;                  /* 1: closing, 2: closed */
  vg_write_t wreq;
  char *reply;                  /* malloc'ed head and body */
};

static void conn_close(http_conn_t *c);
static void on_accept_timer(vg_timer_t *t);

/* ---- metrics ------------------------------------------------------------ */

/* A label value: backslash, double quote and newline escaped. */
static const char *label(apr_pool_t *p, const char *s) {
  char *out = apr_palloc(p, strlen(s) * 2 + 1), *o = out;
  for (; *s; s++) {
    if (*s == '\\' || *s == '"')
      *o++ = '\\', *o++ = *s;
    else if (*s == '\n')
      *o++ = '\\', *o++ = 'n';
    else
      *o++ = *s;
  }
  *o = '\0';
  return out;
}

static void family(apr_array_header_t *out, const char *name,
                   const char *type, const char *help) {
  APR_ARRAY_PUSH(out, const char *) =
      apr_psprintf(out->pool, "# HELP %s %s\n# TYPE %s %s\n", name, help,
                   name, type);
}

static void sample(apr_array_header_t *out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sample(apr_array_header_t *out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  APR_ARRAY_PUSH(out, const char *) = apr_pvsprintf(out->pool, fmt, ap);
  va_end(ap);
}

static int listed(const svc_service_t *s) { return !s->removing; }

static int live(const svc_service_t *s) {
  return s->child && !s->child->exited && s->child->proc.pid > 0;
}

/* The metrics, one family at a time (the format wants each family's
 * samples together).  Names and meanings: docs/guide.md, "Metrics". */
static const char *metrics_text(svc_sup_t *sup, apr_pool_t *p) {
  apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
  const svc_service_t *s;
  int fresh = 0;
  unsigned st;
  uint64_t now = vg_now(sup->loop);
  double wall = (double)apr_time_now() / APR_USEC_PER_SEC;
  const char *nm;

  family(out, "vigil_up", "gauge", "1 while the supervisor runs.");
  sample(out, "vigil_up 1\n");
  family(out, "vigil_build_info", "gauge",
         "The supervisor's version and event backend (always 1).");
  sample(out, "vigil_build_info{version=\"%s\",backend=\"%s\"} 1\n",
         label(p, vg_version()), label(p, vg_backend()));

  family(out, "vigil_service_up", "gauge",
         "1 when the service is up (running, or a oneshot that "
         "succeeded), else 0.");
  for (s = sup->services; s; s = s->next)
    if (listed(s))
      sample(out, "vigil_service_up{service=\"%s\"} %d\n",
             label(p, s->name), svc_service_up(s) ? 1 : 0);

  family(out, "vigil_service_state", "gauge",
         "1 for the service's current state, 0 for the others.");
  for (s = sup->services; s; s = s->next) {
    if (!listed(s))
      continue;
    nm = label(p, s->name);
    for (st = 0; st < SVC_NSTATES; st++)
      sample(out, "vigil_service_state{service=\"%s\",state=\"%s\"} %d\n",
             nm, svc_state_name((svc_state)st), (unsigned)s->state == st);
  }

  /* Counted from the event stream (events.c): one per "restarting"
   * event, so it agrees with `vigil events`. */
  family(out, "vigil_service_restarts_total", "counter",
         "Restarts by the restart policy since vigil started.");
  for (s = sup->services; s; s = s->next)
    if (listed(s))
      sample(out, "vigil_service_restarts_total{service=\"%s\"} %"
             APR_UINT64_T_FMT "\n", label(p, s->name),
             (apr_uint64_t)svc_events_count(sup, s->name,
                                            SVC_EVK_RESTARTING));

  family(out, "vigil_service_events_total", "counter",
         "Events of the service since vigil started, by kind (the "
         "events of `vigil events`).");
  for (s = sup->services; s; s = s->next) {
    unsigned k;
    if (!listed(s))
      continue;
    nm = label(p, s->name);
    for (k = 0; k < SVC_EVK_N; k++)
      sample(out, "vigil_service_events_total{service=\"%s\",event=\"%s\"} "
             "%" APR_UINT64_T_FMT "\n", nm, svc_evk_name((svc_evk)k),
             (apr_uint64_t)svc_events_count(sup, s->name, (svc_evk)k));
  }

  family(out, "vigil_service_start_time_seconds", "gauge",
         "When the current run started, seconds since the Unix epoch "
         "(services with a live process only).");
  for (s = sup->services; s; s = s->next)
    if (listed(s) && live(s)) {
      uint64_t age = now > s->child->start_ms ? now - s->child->start_ms : 0;
      sample(out, "vigil_service_start_time_seconds{service=\"%s\"} %.3f\n",
             label(p, s->name), wall - (double)age / 1000.0);
    }

  {
    /* One measurement of every live service, for both families. */
    unsigned i = 0, n = 0;
    int64_t *rss, *cpu;
    for (s = sup->services; s; s = s->next)
      n++;
    rss = apr_pcalloc(p, (n + 1) * sizeof *rss);
    cpu = apr_pcalloc(p, (n + 1) * sizeof *cpu);
    for (s = sup->services; s; s = s->next, i++) {
      rss[i] = cpu[i] = -1;
      if (listed(s) && live(s))
        svc_service_usage(s, svc_control_usage(sup, s, &fresh), &rss[i],
                          &cpu[i]);
    }
    family(out, "vigil_service_memory_bytes", "gauge",
           "Resident memory of the service's processes (where known).");
    for (s = sup->services, i = 0; s && i < n; s = s->next, i++)
      if (rss[i] >= 0)
        sample(out, "vigil_service_memory_bytes{service=\"%s\"} %"
               APR_INT64_T_FMT "\n", label(p, s->name), (apr_int64_t)rss[i]);
    family(out, "vigil_service_cpu_seconds_total", "counter",
           "CPU time of the service's current run (where known).");
    for (s = sup->services, i = 0; s && i < n; s = s->next, i++)
      if (cpu[i] >= 0)
        sample(out, "vigil_service_cpu_seconds_total{service=\"%s\"} "
               "%.3f\n", label(p, s->name), (double)cpu[i] / 1000.0);
  }

  /* Every failed check, not the "health-failed" events: that event
   * says only the failure that reached <health failures=N> and restarts
   * the service (vigil_service_events_total counts those). */
  family(out, "vigil_service_health_failures_total", "counter",
         "Failed health checks since vigil started.");
  for (s = sup->services; s; s = s->next)
    if (listed(s))
      sample(out,
             "vigil_service_health_failures_total{service=\"%s\"} %"
             APR_UINT64_T_FMT "\n", label(p, s->name),
             (apr_uint64_t)s->checks.health_fails_total);

  family(out, "vigil_log_dropped_bytes_total", "counter",
         "Output bytes lost to log file errors (stream: stdout or "
         "stderr; a shared file counts under stdout).");
  for (s = sup->services; s; s = s->next) {
    svc_logfile_stats_t ls;
    if (!listed(s))
      continue;
    nm = label(p, s->name);
    if (s->logs.out) {
      svc_logfile_get_stats(s->logs.out, &ls);
      sample(out, "vigil_log_dropped_bytes_total{service=\"%s\","
             "stream=\"stdout\"} %" APR_UINT64_T_FMT "\n", nm,
             (apr_uint64_t)ls.dropped);
    }
    if (s->logs.err && s->logs.err != s->logs.out) {
      svc_logfile_get_stats(s->logs.err, &ls);
      sample(out, "vigil_log_dropped_bytes_total{service=\"%s\","
             "stream=\"stderr\"} %" APR_UINT64_T_FMT "\n", nm,
             (apr_uint64_t)ls.dropped);
    }
  }
  return apr_array_pstrcat(p, out, '\0');
}

/* ---- requests ----------------------------------------------------------- */

static void on_written(vg_write_t *w, apr_status_t status) {
  http_conn_t *c = w->data;
  (void)status;
  c->writing = 0;
  free(c->reply);
  c->reply = NULL;
  if (c->closing == 2)
    free(c);
  else
    conn_close(c);
}

/* Queue the reply and stop reading: the connection closes once it is
 * written, or at the write deadline. */
static void respond(http_conn_t *c, int code, const char *reason,
                    const char *type, const char *extra, const char *body,
                    size_t blen, int head_only) {
  char head[512];
  int hn;
  vg_buf_t b;
  vg_read_stop(&c->tcp);
  free(c->buf);
  c->buf = NULL;
  c->len = c->cap = 0;
  hn = snprintf(head, sizeof head,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                "Content-Length: %lu\r\nCache-Control: no-store\r\n"
                "Connection: close\r\n%s\r\n",
                code, reason, type, (unsigned long)blen, extra ? extra : "");
  if (hn < 0 || (size_t)hn >= sizeof head) {
    conn_close(c);
    return;
  }
  if (head_only)
    blen = 0;
  c->reply = malloc((size_t)hn + blen);
  if (!c->reply) {
    conn_close(c);
    return;
  }
  memcpy(c->reply, head, (size_t)hn);
  if (blen)
    memcpy(c->reply + hn, body, blen);
  c->wreq.data = c;
  b.base = c->reply;
  b.len = (size_t)hn + blen;
  if (vg_write(&c->wreq, &c->tcp, &b, 1, on_written) != APR_SUCCESS) {
    free(c->reply);
    c->reply = NULL;
    conn_close(c);
    return;
  }
  c->writing = 1;
  c->deadline = vg_now(c->h->sup->loop) + HTTP_WRITE_MS;
}

static void respond_text(http_conn_t *c, int code, const char *reason,
                         const char *extra, const char *text, int head_only) {
  respond(c, code, reason, "text/plain; charset=utf-8", extra, text,
          strlen(text), head_only);
}

/* Whether s[0..n) starts with pre, ASCII case-insensitive. */
static int has_prefix(const char *s, size_t n, const char *pre) {
  size_t k = strlen(pre), i;
  if (n < k)
    return 0;
  for (i = 0; i < k; i++)
    if (apr_tolower((unsigned char)s[i]) != apr_tolower((unsigned char)pre[i]))
      return 0;
  return 1;
}

/* Whether the token sent equals ours, in time that depends on the length
 * of ours alone. */
static int token_ok(const svc_http_t *h, const char *got, size_t n) {
  unsigned char d = n != h->token_len;
  size_t i;
  for (i = 0; i < h->token_len; i++)
    d |= (unsigned char)((i < n ? got[i] : 0) ^ h->token[i]);
  return d == 0;
}

/* "Authorization: Bearer TOKEN" among the header lines of head[0..n). */
static int authorized(const svc_http_t *h, const char *head, size_t n) {
  const char *p = memchr(head, '\n', n), *end = head + n;
  while (p && p + 1 < end) {
    const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
    size_t ln = eol ? (size_t)(eol - line) : (size_t)(end - line);
    if (ln > 0 && line[ln - 1] == '\r')
      ln--;
    if (has_prefix(line, ln, "authorization:")) {
      const char *v = line + 14, *ve = line + ln;
      while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
      if (!has_prefix(v, (size_t)(ve - v), "bearer "))
        return 0;
      v += 7;
      while (v < ve && *v == ' ')
        v++;
      return token_ok(h, v, (size_t)(ve - v));
    }
    p = eol;
  }
  return 0;
}

static void handle(http_conn_t *c, const char *head, size_t n) {
  svc_http_t *h = c->h;
  const char *sp1, *sp2, *eol = memchr(head, '\n', n), *path;
  size_t ml, pl, ll = eol ? (size_t)(eol - head) : n;
  int is_head;
  apr_pool_t *p;

  if (ll > 0 && head[ll - 1] == '\r')
    ll--;
  sp1 = memchr(head, ' ', ll);
  sp2 = sp1 ? memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - head)) : NULL;
  if (!sp1 || !sp2 || !has_prefix(sp2 + 1, ll - (size_t)(sp2 + 1 - head),
                                   "HTTP/1.")) {
    respond_text(c, 400, "Bad Request", NULL, "bad request\n", 0);
    return;
  }
  ml = (size_t)(sp1 - head);
  is_head = ml == 4 && memcmp(head, "HEAD", 4) == 0;
  if (!is_head && !(ml == 3 && memcmp(head, "GET", 3) == 0)) {
    respond_text(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n",
                 "only GET and HEAD\n", 0);
    return;
  }
  path = sp1 + 1;
  pl = (size_t)(sp2 - path);
  {
    const char *q = memchr(path, '?', pl);
    if (q)
      pl = (size_t)(q - path);
  }
#define IS(lit) (pl == sizeof lit - 1 && memcmp(path, lit, pl) == 0)
  if (IS("/healthz")) {
    respond_text(c, 200, "OK", NULL, "ok\n", is_head);
    return;
  }
  if (!IS("/metrics") && !IS("/status")) {
    respond_text(c, 404, "Not Found", NULL,
                 "not found: try /metrics, /status or /healthz\n", is_head);
    return;
  }
  if (h->token && !authorized(h, head, n)) {
    respond_text(c, 401, "Unauthorized",
                 "WWW-Authenticate: Bearer realm=\"vigil\"\r\n",
                 "unauthorized: send Authorization: Bearer TOKEN\n",
                 is_head);
    return;
  }
  if (apr_pool_create(&p, h->sup->pool) != APR_SUCCESS) {
    respond_text(c, 503, "Service Unavailable", NULL, "out of memory\n", 0);
    return;
  }
  if (IS("/metrics")) {
    const char *text = metrics_text(h->sup, p);
    respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", NULL,
            text, strlen(text), is_head);
  } else {
    svc_json_w_t w;
    const char *out;
    size_t len;
    svc_json_w_init(&w, p, SVC_JSON_W_SPACED);
    svc_json_w_begin_object(&w);
    svc_control_status(h->sup, &w);
    svc_json_w_end_object(&w);
    if (svc_json_w_finish(&w, &out, &len) == APR_SUCCESS) {
      char *body = apr_pstrcat(p, out, "\n", NULL);
      respond(c, 200, "OK", "application/json", NULL, body, len + 1,
              is_head);
    } else {
      respond_text(c, 503, "Service Unavailable", NULL, "out of memory\n",
                   0);
    }
  }
#undef IS
  apr_pool_destroy(p);
}

/* The end of the head in buf[0..n): just past "\r\n\r\n" (or "\n\n"),
 * or 0. */
static size_t head_end(const char *buf, size_t n) {
  size_t i;
  for (i = 1; i < n; i++)
    if (buf[i] == '\n' &&
        (buf[i - 1] == '\n' ||
         (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')))
      return i + 1;
  return 0;
}

/* ---- connections -------------------------------------------------------- */

static void conn_alloc(vg_handle_t *hd, size_t sug, vg_buf_t *buf) {
  http_conn_t *c = hd->data;
  (void)sug;
  svc_buf_grow(&c->buf, &c->cap, c->len, HTTP_BUF_MIN, HTTP_MAX_HEAD, buf);
}

static void conn_read(vg_stream_t *st, apr_status_t status, size_t n,
                      const vg_buf_t *buf) {
  http_conn_t *c = st->data;
  size_t end;
  (void)buf;
  if (status != APR_SUCCESS) {
    conn_close(c);   /* EOF before a whole request, a reset, no memory */
    return;
  }
  if (n == 0)
    return;
  /* A new byte can complete the terminator with up to 3 before it. */
  end = head_end(c->buf + (c->len > 3 ? c->len - 3 : 0),
                 c->len + n - (c->len > 3 ? c->len - 3 : 0));
  if (end)
    end += c->len > 3 ? c->len - 3 : 0;
  c->len += n;
  if (end) {
    handle(c, c->buf, end);
    return;
  }
  if (c->len >= HTTP_MAX_HEAD)
    respond_text(c, 431, "Request Header Fields Too Large", NULL,
                 "request line and headers over 8192 bytes\n", 0);
}

static void conn_closed(vg_handle_t *hd) {
  http_conn_t *c = hd->data;
  c->closing = 2;
  if (!c->writing)
    free(c);   /* else on_written, which the close cancels, frees it */
}

static void conn_close(http_conn_t *c) {
  http_conn_t **pp;
  if (c->closing)
    return;
  c->closing = 1;
  for (pp = &c->h->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  c->h->nconns--;
  free(c->buf);
  c->buf = NULL;
  vg_close((vg_handle_t *)&c->tcp, conn_closed);
}

/* Past their read or write deadline: closed. */
static void on_sweep(vg_timer_t *t) {
  svc_http_t *h = t->data;
  uint64_t now = vg_now(h->sup->loop);
  http_conn_t *c, *next;
  for (c = h->conns; c; c = next) {
    next = c->next;
    if (now >= c->deadline)
      conn_close(c);
  }
  if (!h->conns)
    vg_timer_stop(&h->sweep);
}

/* ---- accepting ---------------------------------------------------------- */

static void accept_later(svc_http_t *h, uint64_t ms) {
  if (h->listening && !vg_is_active((vg_handle_t *)&h->accept_timer))
    vg_timer_start(&h->accept_timer, on_accept_timer, ms, 0);
}

static void accept_one(svc_http_t *h) {
  vg_loop_t *loop = h->sup->loop;
  uint64_t turn = vg_loop_iterations(loop);
  http_conn_t *c, *v, *oldest = NULL;
  if (!h->listening)
    return;
  if (turn != h->turn) {
    h->turn = turn;
    h->accepts = 0;
  }
  if (h->accepts >= HTTP_ACCEPTS_PER_TURN) {
    accept_later(h, 0);
    return;
  }
  c = calloc(1, sizeof *c);
  if (!c) {
    accept_later(h, HTTP_RETRY_MS);
    return;
  }
  c->h = h;
  vg_tcp_init(loop, &c->tcp);
  c->tcp.data = c;
  if (vg_accept(h->server, &c->tcp) != APR_SUCCESS) {
    c->closing = 1;
    vg_close((vg_handle_t *)&c->tcp, conn_closed);
    return;
  }
  h->accepts++;
  if (h->nconns >= HTTP_MAX_CONNS) {
    for (v = h->conns; v; v = v->next)
      if (!oldest || v->opened_ms <= oldest->opened_ms)
        oldest = v;
    if (oldest)
      conn_close(oldest);
  }
  c->opened_ms = vg_now(loop);
  c->deadline = c->opened_ms + HTTP_READ_MS;
  c->next = h->conns;
  h->conns = c;
  h->nconns++;
  if (!vg_is_active((vg_handle_t *)&h->sweep))
    vg_timer_start(&h->sweep, on_sweep, HTTP_SWEEP_MS, HTTP_SWEEP_MS);
  if (vg_read_start(&c->tcp, conn_alloc, conn_read) != APR_SUCCESS)
    conn_close(c);
}

static void on_accept_timer(vg_timer_t *t) { accept_one(t->data); }

static void on_connection(vg_stream_t *server, apr_status_t status) {
  svc_http_t *h = server->data;
  if (status == APR_SUCCESS)
    accept_one(h);
  else
    svc_accept_failed(h->sup, &h->fails, "http", "an HTTP connection",
                      status);
}

/* ---- start, reload, stop ------------------------------------------------ */

/* The token of cfg's token-file into h (none without one).  An error is
 * logged and leaves the old token. */
static apr_status_t read_token(svc_http_t *h, const cfg_t *cfg) {
  const char *tok = NULL, *why = NULL;
  apr_pool_t *p;
  apr_status_t rv = APR_SUCCESS;
  char *copy = NULL;
  if (cfg->http_token_file) {
    if (apr_pool_create(&p, h->sup->pool) != APR_SUCCESS)
      return APR_ENOMEM;
    rv = cfg_http_token_read(cfg->http_token_file, &tok, &why, p);
    if (rv != APR_SUCCESS)
      vg_log(h->sup->log, VG_LOG_ERROR, "http", "token-file %s %s",
             cfg->http_token_file, why);
    else if ((copy = strdup(tok)) == NULL)
      rv = APR_ENOMEM;
    apr_pool_destroy(p);
    if (rv != APR_SUCCESS)
      return rv;
  }
  free(h->token);
  h->token = copy;
  h->token_len = copy ? strlen(copy) : 0;
  return APR_SUCCESS;
}

static void server_closed(vg_handle_t *hd) { free(hd); }

static apr_status_t listen_on(svc_http_t *h, const cfg_t *cfg) {
  vg_addr_t addr;
  apr_status_t rv;
  char eb[128];
  rv = read_token(h, cfg);
  if (rv == APR_SUCCESS)
    rv = vg_addr_ip(&addr, cfg->http_host, cfg->http_port);
  if (rv == APR_SUCCESS && (h->server = malloc(sizeof *h->server)) == NULL)
    rv = APR_ENOMEM;
  if (rv == APR_SUCCESS && (rv = vg_tcp_init(h->sup->loop, h->server)) !=
                               APR_SUCCESS) {
    free(h->server);
    h->server = NULL;
  }
  if (rv != APR_SUCCESS)
    return rv;
  h->server->data = h;
  rv = vg_tcp_bind(h->server, &addr, PAL_BIND_REUSEADDR);
  if (rv == APR_SUCCESS)
    rv = vg_listen(h->server, HTTP_MAX_CONNS, on_connection);
  if (rv != APR_SUCCESS) {
    vg_log(h->sup->log, VG_LOG_ERROR, "http",
           "cannot listen on %s: %s (%s)", cfg->http_listen,
           vg_strerror(rv, eb, sizeof eb), pal_last_call());
    vg_close((vg_handle_t *)h->server, server_closed);
    h->server = NULL;
    return rv;
  }
  h->listening = 1;
  h->listen = strdup(cfg->http_listen);
  vg_log(h->sup->log, VG_LOG_NOTICE, "http", "serving /metrics, /status "
         "and /healthz on %s%s", cfg->http_listen,
         h->token ? " (with a token)" : "");
  return APR_SUCCESS;
}

static void unlisten(svc_http_t *h) {
  while (h->conns)
    conn_close(h->conns);
  if (h->listening) {
    h->listening = 0;
    vg_close((vg_handle_t *)h->server, server_closed);
    h->server = NULL;
  }
  if (vg_is_active((vg_handle_t *)&h->accept_timer))
    vg_timer_stop(&h->accept_timer);
  free(h->listen);
  h->listen = NULL;
}

static void http_timer(svc_http_t *h, vg_timer_t *t) {
  vg_timer_init(h->sup->loop, t);
  t->data = h;
  vg_unref((vg_handle_t *)t);   /* connections keep nothing alive */
}

apr_status_t svc_http_start(svc_sup_t *sup) {
  svc_http_t *h;
  if (!sup->cfg->http_listen)
    return APR_SUCCESS;
  h = apr_pcalloc(sup->pool, sizeof *h);
  h->sup = sup;
  http_timer(h, &h->accept_timer);
  http_timer(h, &h->sweep);
  sup->http = h;
  return listen_on(h, sup->cfg);
}

void svc_http_reload(svc_sup_t *sup) {
  const cfg_t *cfg = sup->cfg;
  svc_http_t *h = sup->http;
  if (!h) {
    if (cfg->http_listen)
      svc_http_start(sup);
    return;
  }
  if (h->listening && cfg->http_listen &&
      strcmp(h->listen, cfg->http_listen) == 0) {
    read_token(h, cfg);   /* a rotated token takes effect now */
    return;
  }
  unlisten(h);
  if (cfg->http_listen)
    listen_on(h, cfg);
  else
    vg_log(sup->log, VG_LOG_NOTICE, "http", "<http> removed: endpoint "
           "closed");
}

void svc_http_stop(svc_sup_t *sup) {
  svc_http_t *h = sup->http;
  if (!h)
    return;
  unlisten(h);
  free(h->token);
  h->token = NULL;
  vg_close((vg_handle_t *)&h->accept_timer, NULL);
  vg_close((vg_handle_t *)&h->sweep, NULL);
  sup->http = NULL;
}
