/*
 * control.c -- the control endpoint: a local stream socket (a Unix socket
 * in the state directory, mode 0600; a named pipe on Windows) speaking
 * line-delimited JSON.  docs/control.md documents the protocol.
 *
 * One request per line, one reply per request, in order:
 *   {"cmd":"status"}                       {"cmd":"status","name":"web"}
 *   {"cmd":"start","name":"web","wait":true}   (also stop, restart; "all")
 *   {"cmd":"reload"}   {"cmd":"shutdown"}   {"cmd":"logs","name":"web"}
 *   {"cmd":"version"}
 * Replies: {"ok":true,...} or {"ok":false,"error":"..."}.
 *
 * Safety: a peer whose uid is neither ours nor root is refused; a line
 * over SVC_CONTROL_MAX_LINE bytes, or one that is not a JSON object with a
 * known "cmd", gets an error reply and the connection is closed after it.
 * Nothing a client sends can crash the supervisor or block its loop.
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_strings.h>

#define SVC_CONTROL_MAX_LINE (64 * 1024)
#define SVC_CONTROL_MAX_CONNS 64

struct svc_wait_s {
  svc_conn_t *conn;             /* NULL once the connection went away */
  int want_up;
  unsigned remaining;           /* services not yet settled */
  int failed;
  char **names;                 /* malloc'ed copies of the names */
  unsigned nnames, cap;
};

struct svc_conn_s {
  svc_conn_t *next;
  svc_sup_t *sup;
  vg_pipe_t pipe;
  size_t len;
  int closing;
  int close_after_write;
  unsigned writes;              /* replies being written */
  unsigned waits;               /* requests waiting for services */
  apr_pool_t *pool;             /* per-request scratch, cleared */
  char buf[SVC_CONTROL_MAX_LINE];
};

typedef struct reply_s {
  vg_write_t req;
  svc_conn_t *conn;
  size_t len;
  char data[];
} reply_t;

static void conn_close(svc_conn_t *c);

/* ---- replies ----------------------------------------------------------- */

static void conn_free_if_done(svc_conn_t *c);

static void on_reply_written(vg_write_t *w, apr_status_t status) {
  reply_t *r = w->data;
  svc_conn_t *c = r->conn;
  (void)status;
  free(r);
  c->writes--;
  if (c->close_after_write && c->writes == 0)
    conn_close(c);
  conn_free_if_done(c);
}

static void send_reply(svc_conn_t *c, const char *json, size_t len) {
  reply_t *r;
  vg_buf_t b;
  if (c->closing)
    return;
  r = malloc(sizeof *r + len + 1);
  if (!r) {
    conn_close(c);
    return;
  }
  r->conn = c;
  r->len = len + 1;
  memcpy(r->data, json, len);
  r->data[len] = '\n';
  r->req.data = r;
  b.base = r->data;
  b.len = r->len;
  if (vg_write(&r->req, &c->pipe, &b, 1, on_reply_written) != APR_SUCCESS) {
    free(r);
    conn_close(c);
    return;
  }
  c->writes++;
}

static void reply_json(svc_conn_t *c, svc_json_w_t *w) {
  const char *out;
  size_t len;
  if (svc_json_w_finish(w, &out, &len) == APR_SUCCESS)
    send_reply(c, out, len);
}

static void reply_error(svc_conn_t *c, const char *msg, int fatal) {
  svc_json_w_t w;
  svc_json_w_init(&w, c->pool, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "ok");
  svc_json_w_bool(&w, 0);
  svc_json_w_key(&w, "error");
  svc_json_w_string(&w, msg);
  svc_json_w_end_object(&w);
  reply_json(c, &w);
  if (fatal) {
    c->close_after_write = 1;
    vg_read_stop(&c->pipe);
    if (c->writes == 0)
      conn_close(c);
  }
}

/* Whether a command or status for `name` (NULL: all) concerns s. */
static int shown(const svc_service_t *s, const char *name) {
  return !s->removing && (!name || strcmp(name, s->name) == 0);
}

static void status_body(svc_sup_t *sup, svc_json_w_t *w, const char *name) {
  svc_service_t *s, **list;
  vg_usage_t *usage = NULL;
  size_t i = 0, n = 0;
  svc_json_w_key(w, "supervisor");
  svc_json_w_begin_object(w);
  svc_json_w_key(w, "pid");
  svc_json_w_int64(w, pal_getpid());
  svc_json_w_key(w, "version");
  svc_json_w_string(w, vg_version());
  svc_json_w_key(w, "backend");
  svc_json_w_string(w, vg_backend());
  svc_json_w_key(w, "uptime_ms");
  svc_json_w_uint64(w, vg_now(sup->loop) - sup->started_ms);
  svc_json_w_key(w, "config");
  svc_json_w_string(w, sup->cfg->path);
  svc_json_w_end_object(w);
  svc_json_w_key(w, "services");
  svc_json_w_begin_array(w);
  for (s = sup->services; s; s = s->next)
    n += shown(s, name);
  list = n ? malloc(n * (sizeof *list + sizeof *usage)) : NULL;
  if (list) {
    usage = (vg_usage_t *)(list + n);
    for (s = sup->services; s; s = s->next)
      if (shown(s, name))
        list[i++] = s;
    svc_services_usage(list, n, usage);
    for (i = 0; i < n; i++)
      svc_service_status_json(list[i], &usage[i], w);
    free(list);
  } else {
    for (s = sup->services; s; s = s->next)   /* no memory: one by one */
      if (shown(s, name))
        svc_service_status_json(s, NULL, w);
  }
  svc_json_w_end_array(w);
}

/* ---- waiting for services to settle ------------------------------------- */

static void wait_resolve(svc_wait_t *wt) {
  svc_conn_t *c = wt->conn;
  int i;
  if (c) {
    svc_json_w_t w;
    c->waits--;
    svc_json_w_init(&w, c->pool, 0);
    svc_json_w_begin_object(&w);
    svc_json_w_key(&w, "ok");
    svc_json_w_bool(&w, !wt->failed);
    if (wt->failed) {
      svc_json_w_key(&w, "error");
      svc_json_w_string(&w, wt->want_up ? "did not reach running"
                                        : "did not stop");
    }
    svc_json_w_key(&w, "services");
    svc_json_w_begin_array(&w);
    for (i = 0; i < (int)wt->nnames; i++) {
      svc_service_t *s = svc_sup_find(c->sup, wt->names[i]);
      if (s)
        svc_service_status_json(s, NULL, &w);
    }
    svc_json_w_end_array(&w);
    svc_json_w_end_object(&w);
    reply_json(c, &w);
    conn_free_if_done(c);
  }
  for (i = 0; i < (int)wt->nnames; i++)
    free(wt->names[i]);
  free(wt->names);
  free(wt);
}

static void waiter_settle(svc_waiter_t *wr) {
  svc_wait_t *wt = wr->wait;
  svc_service_t *s = wr->svc;
  if (wt->want_up && s->state != SVC_RUNNING)
    wt->failed = 1;
  if (!wt->want_up && s->state != SVC_STOPPED && s->state != SVC_EXITED &&
      s->state != SVC_FATAL)
    wt->failed = 1;
  free(wr);
  if (--wt->remaining == 0)
    wait_resolve(wt);
}

void svc_control_notify(svc_sup_t *sup, svc_service_t *s) {
  svc_waiter_t **pp = &s->waiters, *wr;
  (void)sup;
  while ((wr = *pp) != NULL) {
    if (svc_service_settled(s, wr->wait->want_up) &&
        !(wr->wait->want_up && s->state == SVC_STOPPED && s->want_up)) {
      *pp = wr->next;
      waiter_settle(wr);
    } else {
      pp = &wr->next;
    }
  }
}

void svc_control_forget(svc_sup_t *sup, svc_service_t *s) {
  svc_waiter_t *wr;
  (void)sup;
  while ((wr = s->waiters) != NULL) {
    s->waiters = wr->next;
    wr->wait->failed = 1;
    waiter_settle(wr);
  }
}

/* ---- commands -------------------------------------------------------------- */

typedef void (*action_fn)(svc_sup_t *, svc_service_t *);

static void cmd_act(svc_conn_t *c, const svc_json_t *req, const char *cmd) {
  svc_sup_t *sup = c->sup;
  const char *name = svc_json_string(svc_json_get(req, "name"));
  const char *only;             /* the one service, NULL for "all" */
  int wait = 0, want_up;
  svc_wait_t *wt = NULL;
  svc_service_t *s;
  action_fn act;
  unsigned n = 0;

  if (!name) {
    reply_error(c, "missing \"name\" (a service, or \"all\")", 0);
    return;
  }
  svc_json_bool(svc_json_get(req, "wait"), &wait);
  if (strcmp(cmd, "start") == 0)
    act = svc_sup_start, want_up = 1;
  else if (strcmp(cmd, "stop") == 0)
    act = svc_sup_stop, want_up = 0;
  else
    act = svc_sup_restart, want_up = 1;
  if (sup->shutting_down) {
    reply_error(c, "the supervisor is shutting down", 0);
    return;
  }
  only = strcmp(name, "all") == 0 ? NULL : name;
  if (only && !svc_sup_find(sup, only)) {
    char msg[160];
    snprintf(msg, sizeof msg, "no such service: %s", name);
    reply_error(c, msg, 0);
    return;
  }
  if (wait) {
    wt = calloc(1, sizeof *wt);
    if (!wt) {
      reply_error(c, "out of memory", 0);
      return;
    }
    wt->conn = c;
    wt->want_up = want_up;
    wt->remaining = 1;   /* held until every waiter is registered */
    c->waits++;
  }
  for (s = sup->services; s; s = s->next) {
    if (!shown(s, only))
      continue;
    if (wt) {
      svc_waiter_t *wr = calloc(1, sizeof *wr);
      if (wt->nnames == wt->cap) {
        unsigned cap = wt->cap ? wt->cap * 2 : 4;
        char **nn = realloc(wt->names, cap * sizeof *nn);
        if (nn) {
          wt->names = nn;
          wt->cap = cap;
        }
      }
      if (wr && wt->nnames < wt->cap) {
        wr->wait = wt;
        wr->svc = s;
        wr->next = s->waiters;
        s->waiters = wr;
        wt->remaining++;
        wt->names[wt->nnames++] = strdup(s->name);
      } else {
        free(wr);
        wt->failed = 1;
      }
    }
    n++;
  }
  /* Act after registering, so that an immediate settle is seen. */
  for (s = sup->services; s; s = s->next)
    if (shown(s, only))
      act(sup, s);
  if (wt) {
    /* Those already where they were asked to be (start of a running
     * service, stop of a stopped one) settle now; restart waits for a
     * state change. */
    if (strcmp(cmd, "restart") != 0)
      for (s = sup->services; s; s = s->next)
        svc_control_notify(sup, s);
    if (--wt->remaining == 0)
      wait_resolve(wt);
  } else {
    svc_json_w_t w;
    svc_json_w_init(&w, c->pool, 0);
    svc_json_w_begin_object(&w);
    svc_json_w_key(&w, "ok");
    svc_json_w_bool(&w, 1);
    svc_json_w_key(&w, "count");
    svc_json_w_uint64(&w, n);
    svc_json_w_end_object(&w);
    reply_json(c, &w);
  }
}

/* The reload is read off the loop thread; the connection waits for its
 * answer like a start with "wait" (c->waits keeps it allocated, and a
 * reply to a connection that closed meanwhile goes nowhere). */
static void reload_done(svc_sup_t *sup, void *baton, apr_status_t rv,
                        const cfg_errors_t *errs) {
  svc_conn_t *c = baton;
  svc_json_w_t w;
  char eb[128];
  int i;
  (void)sup;
  c->waits--;
  svc_json_w_init(&w, c->pool, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "ok");
  svc_json_w_bool(&w, rv == APR_SUCCESS);
  if (rv != APR_SUCCESS) {
    svc_json_w_key(&w, "error");
    if (rv == CFG_EINVALID)
      svc_json_w_string(&w, "invalid configuration; the running one stays");
    else if (rv == VG_ECANCELED)
      svc_json_w_string(&w, "the supervisor is shutting down");
    else
      svc_json_w_string(&w, apr_pstrcat(c->pool, "reload failed: ",
                                        vg_strerror(rv, eb, sizeof eb),
                                        NULL));
    svc_json_w_key(&w, "errors");
    svc_json_w_begin_array(&w);
    for (i = 0; errs && i < cfg_errors_count(errs); i++)
      svc_json_w_string(&w, cfg_error_format(cfg_errors_get(errs, i),
                                             c->pool));
    svc_json_w_end_array(&w);
  }
  svc_json_w_end_object(&w);
  reply_json(c, &w);
  conn_free_if_done(c);
}

static void cmd_reload(svc_conn_t *c) {
  c->waits++;
  if (svc_sup_reload(c->sup, reload_done, c) != APR_SUCCESS) {
    c->waits--;
    reply_error(c, "out of memory", 0);
  }
}

static void cmd_logs(svc_conn_t *c, const svc_json_t *req) {
  const char *name = svc_json_string(svc_json_get(req, "name"));
  svc_service_t *s = name ? svc_sup_find(c->sup, name) : NULL;
  const cfg_log_t *lg;
  svc_json_w_t w;
  if (!s) {
    reply_error(c, name ? "no such service" : "missing \"name\"", 0);
    return;
  }
  lg = &s->cfg->log;
  svc_json_w_init(&w, c->pool, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "ok");
  svc_json_w_bool(&w, 1);
  svc_json_w_key(&w, "stdout");
  if (lg->out.kind == CFG_LOG_FILE)
    svc_json_w_string(&w, lg->out.path);
  else
    svc_json_w_null(&w);
  svc_json_w_key(&w, "stderr");
  if (lg->err.kind == CFG_LOG_FILE)
    svc_json_w_string(&w, lg->err.path);
  else if (lg->err.kind == CFG_LOG_STDOUT && lg->out.kind == CFG_LOG_FILE)
    svc_json_w_string(&w, lg->out.path);
  else
    svc_json_w_null(&w);
  svc_json_w_end_object(&w);
  reply_json(c, &w);
}

static void handle_line(svc_conn_t *c, const char *line, size_t len) {
  svc_json_t *req;
  svc_json_error_t jerr;
  const char *cmd;
  svc_json_w_t w;
  char msg[200];

  apr_pool_clear(c->pool);
  if (svc_json_parse(&req, line, len, c->pool, &jerr) != APR_SUCCESS) {
    snprintf(msg, sizeof msg, "malformed request: %s", jerr.message);
    reply_error(c, msg, 1);
    return;
  }
  cmd = svc_json_type(req) == SVC_JSON_OBJECT
            ? svc_json_string(svc_json_get(req, "cmd"))
            : NULL;
  if (!cmd) {
    reply_error(c, "malformed request: expected an object with \"cmd\"", 1);
    return;
  }
  if (strcmp(cmd, "status") == 0) {
    const char *name = svc_json_string(svc_json_get(req, "name"));
    if (name && !svc_sup_find(c->sup, name)) {
      snprintf(msg, sizeof msg, "no such service: %s", name);
      reply_error(c, msg, 0);
      return;
    }
    svc_json_w_init(&w, c->pool, 0);
    svc_json_w_begin_object(&w);
    svc_json_w_key(&w, "ok");
    svc_json_w_bool(&w, 1);
    status_body(c->sup, &w, name);
    svc_json_w_end_object(&w);
    reply_json(c, &w);
  } else if (!strcmp(cmd, "start") || !strcmp(cmd, "stop") ||
             !strcmp(cmd, "restart")) {
    cmd_act(c, req, cmd);
  } else if (strcmp(cmd, "reload") == 0) {
    cmd_reload(c);
  } else if (strcmp(cmd, "logs") == 0) {
    cmd_logs(c, req);
  } else if (strcmp(cmd, "shutdown") == 0) {
    svc_json_w_init(&w, c->pool, 0);
    svc_json_w_begin_object(&w);
    svc_json_w_key(&w, "ok");
    svc_json_w_bool(&w, 1);
    svc_json_w_end_object(&w);
    reply_json(c, &w);
    vg_graceful_request(&c->sup->shutdown, 0);
  } else if (strcmp(cmd, "version") == 0) {
    svc_json_w_init(&w, c->pool, 0);
    svc_json_w_begin_object(&w);
    svc_json_w_key(&w, "ok");
    svc_json_w_bool(&w, 1);
    svc_json_w_key(&w, "version");
    svc_json_w_string(&w, vg_version());
    svc_json_w_key(&w, "backend");
    svc_json_w_string(&w, vg_backend());
    svc_json_w_end_object(&w);
    reply_json(c, &w);
  } else {
    snprintf(msg, sizeof msg, "unknown command: %.60s", cmd);
    reply_error(c, msg, 1);
  }
}

/* ---- connections ---------------------------------------------------------- */

static void conn_alloc(vg_handle_t *h, size_t sug, vg_buf_t *buf) {
  svc_conn_t *c = h->data;
  (void)sug;
  buf->base = c->buf + c->len;
  buf->len = sizeof c->buf - c->len;
}

static void conn_read(vg_stream_t *st, apr_status_t status, size_t n,
                      const vg_buf_t *buf) {
  svc_conn_t *c = st->data;
  char *start, *nl;
  (void)buf;
  if (status != APR_SUCCESS) {
    c->close_after_write = 1;   /* EOF: answer what is queued, then go */
    if (c->writes == 0 && c->waits == 0)
      conn_close(c);
    return;
  }
  c->len += n;
  start = c->buf;
  while (!c->closing && !c->close_after_write &&
         (nl = memchr(start, '\n', c->len - (size_t)(start - c->buf)))) {
    size_t len = (size_t)(nl - start);
    if (len > 0 && start[len - 1] == '\r')
      len--;
    if (len > 0)
      handle_line(c, start, len);
    start = nl + 1;
  }
  if (c->closing || c->close_after_write)
    return;
  c->len -= (size_t)(start - c->buf);
  memmove(c->buf, start, c->len);
  if (c->len == sizeof c->buf)
    reply_error(c, "request too long (limit 65536 bytes per line)", 1);
}

static void conn_closed(vg_handle_t *h) {
  svc_conn_t *c = h->data;
  c->closing = 2;
  conn_free_if_done(c);
}

static void conn_free_if_done(svc_conn_t *c) {
  if (c->closing == 2 && c->writes == 0 && c->waits == 0) {
    apr_pool_destroy(c->pool);
    free(c);
  }
}

static void conn_close(svc_conn_t *c) {
  svc_conn_t **pp;
  svc_service_t *s;
  if (c->closing)
    return;
  c->closing = 1;
  for (pp = &c->sup->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  /* Waits of this connection now answer no one. */
  for (s = c->sup->services; s; s = s->next) {
    svc_waiter_t *wr;
    for (wr = s->waiters; wr; wr = wr->next)
      if (wr->wait->conn == c) {
        wr->wait->conn = NULL;
        c->waits--;
      }
  }
  vg_close((vg_handle_t *)&c->pipe, conn_closed);
}

static void on_connection(vg_stream_t *server, apr_status_t status) {
  svc_sup_t *sup = server->data;
  svc_conn_t *c;
  unsigned n = 0;
  int trusted = 0;
  apr_status_t rv;
  if (status != APR_SUCCESS)
    return;
  c = calloc(1, sizeof *c);
  if (!c)
    return;
  c->sup = sup;
  apr_pool_create(&c->pool, sup->pool);
  vg_pipe_init(sup->loop, &c->pipe);
  c->pipe.data = c;
  if (vg_accept(server, &c->pipe) != APR_SUCCESS) {
    c->closing = 1;
    vg_close((vg_handle_t *)&c->pipe, conn_closed);
    return;
  }
  c->next = sup->conns;
  sup->conns = c;
  for (svc_conn_t *o = sup->conns; o; o = o->next)
    n++;
  /* Only the supervisor's user and the administrator (root; SYSTEM or
   * an elevated Administrator on Windows) may control it.  The endpoint's
   * permissions (socket mode 0600; the pipe's DACL) say the same; this
   * check also holds where they cannot be set.  A peer that cannot be
   * identified is refused, except where the OS has no way to tell. */
  rv = vg_pipe_peer_trusted(&c->pipe, &trusted);
  if (rv == VG_EUNSUPPORTED)
    trusted = 1;
  else if (rv != APR_SUCCESS)
    trusted = 0;
  if (!trusted) {
    reply_error(c, "permission denied: not the supervisor's user", 1);
    return;
  }
  if (n > SVC_CONTROL_MAX_CONNS) {
    reply_error(c, "too many control connections", 1);
    return;
  }
  vg_read_start(&c->pipe, conn_alloc, conn_read);
}

apr_status_t svc_control_start(svc_sup_t *sup) {
  apr_status_t rv;
  /* A copy: the config it came from is freed by a later reload. */
  sup->control_path =
      apr_pstrdup(sup->pool, svc_control_endpoint(sup->cfg, sup->pool));
  /* We hold the state directory's lock: a socket file here is a leftover
   * of a supervisor that died, not a live one. */
  apr_file_remove(sup->control_path, sup->pool);
  vg_pipe_init(sup->loop, &sup->control);
  sup->control.data = sup;
  rv = vg_pipe_bind(&sup->control, sup->control_path);
  if (rv == APR_SUCCESS)
    rv = apr_file_perms_set(sup->control_path,
                            APR_FPROT_UREAD | APR_FPROT_UWRITE);
  if (rv == APR_ENOTIMPL)
    rv = APR_SUCCESS;   /* Windows: the pipe's DACL does this */
  if (rv == APR_SUCCESS)
    rv = vg_listen(&sup->control, 64, on_connection);
  if (rv != APR_SUCCESS)
    vg_close((vg_handle_t *)&sup->control, NULL);
  return rv;
}

void svc_control_stop(svc_sup_t *sup) {
  while (sup->conns)
    conn_close(sup->conns);
  if (!vg_is_closing((vg_handle_t *)&sup->control)) {
    vg_close((vg_handle_t *)&sup->control, NULL);
    apr_file_remove(sup->control_path, sup->pool);
  }
}
