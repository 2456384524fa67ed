/*
 * control.c -- the control endpoint: a local stream socket (a Unix socket
 * in the state directory, mode 0600, or a Linux abstract socket "@NAME";
 * a named pipe on Windows) speaking line-delimited JSON.  docs/control.md
 * documents the protocol and its limits.
 *
 * One request per line, one reply per request, in order:
 *   {"cmd":"status"}                       {"cmd":"status","name":"web"}
 *   {"cmd":"start","name":"web","wait":true}   (also stop, restart; "all")
 *   {"cmd":"reload"}   {"cmd":"shutdown"}   {"cmd":"logs","name":"web"}
 *   {"cmd":"signal","name":"web","signal":"HUP"}
 *   {"cmd":"reload","name":"web"}   (its <reload>: a signal or a command)
 *   {"cmd":"version"}
 *   {"cmd":"events","follow":true}   (the connection becomes a
 *                                    subscriber: one event a line)
 * A name is a service, or the base name of a service's instances ("web"
 * for web-0 .. web-N), which addresses each of them.
 * Replies: {"ok":true,...} or {"ok":false,"error":"..."}.
 *
 * Map (one banner each below):
 *   replies      the reply writers and the send queue of a connection
 *   status       the status reply, with the usage cache
 *   waiting      "wait":true requests parked until their services
 *                settle; svc_control_notify/_forget, which the
 *                supervisor calls
 *   commands     each command, then dispatch() and handle_line()
 *   connections  a connection's record, reading lines, pausing, closing
 *   loop's share resuming paused connections; the sweep timer that
 *                enforces the idle deadline
 *   accepting    bounded accepts, evicting past CTL_MAX_CONNS, retry
 *                after running out of memory
 *   start, stop  svc_control_start() / svc_control_stop()
 *
 * Safety: a peer whose uid is neither ours nor root is refused; a line
 * over CTL_MAX_LINE bytes, or one that is not a JSON object with a known
 * "cmd", gets an error reply and the connection is closed after it.
 *
 * Hostile local clients (of our own user) cannot stall the loop or lock
 * the CLI out:
 *   - work per loop iteration is bounded: CTL_ACCEPTS_PER_TURN accepts,
 *     CTL_LINES_PER_TURN requests per connection (the rest wait for the
 *     next iteration, reading paused), and a status reuses the services'
 *     usage for CTL_USAGE_AGE_MS instead of a walk of /proc each;
 *   - a connection costs a small record until a request arrives: its line
 *     buffer grows with the line and is freed when empty;
 *   - a connection that completes no request for CTL_IDLE_MS is closed,
 *     unless it waits for services; a client that ends its side (EOF)
 *     drops its waits at once;
 *   - at most CTL_MAX_CONNS connections; a newcomer past that evicts the
 *     least recently active one that does not wait for services, and
 *     waits hold at most CTL_MAX_WAITING connections, so a slot is always
 *     there for `status` and `shutdown`;
 *   - replies a client does not read pause its requests (CTL_MAX_QUEUED);
 *   - running out of memory while accepting leaves the connection queued
 *     and retries after CTL_RETRY_MS: the endpoint keeps serving.
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_allocator.h>
#include <apr_file_info.h>
#include <apr_hash.h>
#include <apr_strings.h>

#define CTL_MAX_LINE 65536          /* bytes of a request, its "\r\n" aside */
#define CTL_BUF_MAX (CTL_MAX_LINE + 2)
#define CTL_BUF_MIN 1024            /* a first read: most requests are tiny */
#define CTL_MAX_CONNS 64
#define CTL_MAX_WAITING 56          /* the other 8 stay for status/shutdown */
#define CTL_IDLE_MS 10000
#define CTL_SWEEP_MS 1000           /* granularity of the idle deadline */
#define CTL_LINES_PER_TURN 16
#define CTL_ACCEPTS_PER_TURN 16
#define CTL_MAX_QUEUED ((size_t)1 << 20)   /* unread reply bytes */
#define CTL_USAGE_AGE_MS 1000
#define CTL_RETRY_MS 100
#define CTL_FAIL_LOG_MS 10000       /* accept failures: one warning per */
#define CTL_POOL_KEEP ((apr_size_t)4 << 20)  /* free memory kept for reuse */

static const char oom_reply[] = "{\"ok\":false,\"error\":\"out of memory\"}";

typedef struct usage_entry_s {
  const svc_service_t *svc;
  long pid;                     /* of the run it was measured for */
  vg_usage_t u;
} usage_entry_t;

struct svc_ctl_s {
  svc_sup_t *sup;
  apr_pool_t *pool;             /* parent of the per-request pools */
  svc_conn_t *conns;            /* open connections, newest first */
  unsigned nconns;              /* of them admitted (counted) */
  vg_timer_t accept_timer;      /* a connection left queued: take it */
  vg_timer_t resume;            /* requests left for the next iteration */
  vg_timer_t sweep;             /* idle deadlines, while conns are open */
  uint64_t turn;                /* loop iteration the accepts count in */
  unsigned accepts;
  svc_accept_fails_t fails;
  int stopped;
  uint64_t usage_at;            /* loop ms of the cached usage */
  usage_entry_t *usage;         /* sorted by svc */
  size_t nusage;
};

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
  svc_ctl_t *ctl;
  svc_sup_t *sup;
  vg_pipe_t pipe;
  char *buf;                    /* the unhandled input, malloc'ed lazily */
  size_t len, cap;
  size_t scan;                  /* buf[0..scan) holds no '\n' left */
  int closing;                  /* 1: closing, 2: closed */
  int admitted;                 /* counted in ctl->nconns */
  int reading;
  int eof;                      /* the client ended its side */
  int backlog;                  /* lines may wait for the next iteration */
  int due;                      /* on_resume has yet to serve it */
  int close_after_write;
  unsigned writes;              /* replies being written */
  size_t queued;                /* and their bytes */
  unsigned waits;               /* requests waiting for services */
  int subscriber;               /* `events` follows: its lines are events */
  uint64_t active_ms;           /* last request or reply taken */
};

typedef struct reply_s {
  vg_write_t req;
  svc_conn_t *conn;
  size_t len;
  char data[];
} reply_t;

static void conn_close(svc_conn_t *c);
static void conn_free_if_done(svc_conn_t *c);
static void conn_settle(svc_conn_t *c);
static void resume_soon(svc_ctl_t *ctl);
static void conn_unwait(svc_conn_t *c);
static void on_accept_timer(vg_timer_t *t);
static void conn_read(vg_stream_t *st, apr_status_t status, size_t n,
                      const vg_buf_t *buf);

/* ---- replies ------------------------------------------------------------ */

static void on_reply_written(vg_write_t *w, apr_status_t status) {
  reply_t *r = w->data;
  svc_conn_t *c = r->conn;
  c->writes--;
  c->queued -= r->len;
  free(r);
  if (status == APR_SUCCESS && !c->closing) {
    c->active_ms = vg_now(c->sup->loop);
    /* Requests paused behind unread replies go on next iteration (not
     * from here: a fast reader would otherwise chain them unbounded). */
    if (c->backlog)
      resume_soon(c->ctl);
  }
  if (c->close_after_write && c->writes == 0)
    conn_close(c);
  else if (!c->closing)
    conn_settle(c);
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
  c->queued += r->len;
}

static void reply_json(svc_conn_t *c, svc_json_w_t *w) {
  const char *out;
  size_t len;
  if (svc_json_w_finish(w, &out, &len) == APR_SUCCESS)
    send_reply(c, out, len);
  else
    send_reply(c, oom_reply, sizeof oom_reply - 1);
}

static void stop_reading(svc_conn_t *c) {
  if (c->reading) {
    c->reading = 0;
    vg_read_stop(&c->pipe);
  }
}

/* An error reply; with `fatal` the connection is closed after it.  p: the
 * request's pool, or NULL outside a request. */
static void reply_error(svc_conn_t *c, apr_pool_t *p, const char *msg,
                        int fatal) {
  apr_pool_t *own = NULL;
  svc_json_w_t w;
  if (!p && apr_pool_create(&own, c->ctl->pool) == APR_SUCCESS)
    p = own;
  if (p) {
    svc_json_w_init(&w, p, 0);
    svc_json_w_begin_object(&w);
    svc_json_w_key(&w, "ok");
    svc_json_w_bool(&w, 0);
    svc_json_w_key(&w, "error");
    svc_json_w_string(&w, msg);
    svc_json_w_end_object(&w);
    reply_json(c, &w);
  } else {
    send_reply(c, oom_reply, sizeof oom_reply - 1);
  }
  if (own)
    apr_pool_destroy(own);
  if (fatal && !c->closing) {
    c->close_after_write = 1;
    stop_reading(c);
    if (c->writes == 0)
      conn_close(c);
  }
}

/* ---- status ------------------------------------------------------------- */

/* Whether a command or status for `name` (NULL: all) concerns s: its own
 * name, or the base name of its instances ("web" for web-0 .. web-N). */
static int shown(const svc_service_t *s, const char *name) {
  return !s->removing &&
         (!name || strcmp(name, s->name) == 0 ||
          (s->cfg->instances > 1 && strcmp(name, s->cfg->group) == 0));
}

/* How many services `name` addresses. */
static unsigned count_shown(svc_sup_t *sup, const char *name) {
  const svc_service_t *s;
  unsigned n = 0;
  for (s = sup->services; s; s = s->next)
    n += shown(s, name);
  return n;
}

static int live(const svc_service_t *s) {
  return s->child && !s->child->exited && s->child->proc.pid > 0;
}

static int usage_cmp(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const usage_entry_t *)a)->svc;
  uintptr_t y = (uintptr_t)((const usage_entry_t *)b)->svc;
  return x < y ? -1 : x > y;
}

/* Measure every service with a live run in one pass (on Linux without
 * cgroups that is a walk of all of /proc, a few ms on a busy machine). */
static void usage_refresh(svc_ctl_t *ctl) {
  svc_service_t *s, **list;
  vg_usage_t *out;
  usage_entry_t *e;
  size_t i, n = 0;
  free(ctl->usage);
  ctl->usage = NULL;
  ctl->nusage = 0;
  ctl->usage_at = vg_now(ctl->sup->loop);
  for (s = ctl->sup->services; s; s = s->next)
    n += live(s);
  if (n == 0)
    return;
  list = malloc(n * sizeof *list);
  out = malloc(n * sizeof *out);
  e = malloc(n * sizeof *e);
  if (list && out && e) {
    i = 0;
    for (s = ctl->sup->services; s; s = s->next)
      if (live(s))
        list[i++] = s;
    svc_services_usage(list, n, out);
    for (i = 0; i < n; i++) {
      e[i].svc = list[i];
      e[i].pid = list[i]->child->proc.pid;
      e[i].u = out[i];
    }
    qsort(e, n, sizeof *e, usage_cmp);
    ctl->usage = e;
    ctl->nusage = n;
    e = NULL;
  }
  free(list);
  free(out);
  free(e);
}

/* The usage of s for a status: from a measurement of all services at most
 * CTL_USAGE_AGE_MS old, taken again (once per request: *fresh) when it
 * is older or does not know s's current run.  Never NULL for a live run,
 * so that svc_service_status_json() does not measure s alone. */
static const vg_usage_t *usage_of_svc(svc_ctl_t *ctl, const svc_service_t *s,
                                      int *fresh) {
  static const vg_usage_t none;   /* processes 0: reported as null */
  usage_entry_t key, *e = NULL;
  int pass;
  if (!live(s))
    return NULL;
  key.svc = s;
  for (pass = 0; pass < 2; pass++) {
    if (ctl->usage &&
        vg_now(ctl->sup->loop) - ctl->usage_at <= CTL_USAGE_AGE_MS)
      e = bsearch(&key, ctl->usage, ctl->nusage, sizeof *e, usage_cmp);
    if (e && e->pid == s->child->proc.pid)
      return &e->u;
    e = NULL;
    if (*fresh)
      break;
    usage_refresh(ctl);
    *fresh = 1;
  }
  return &none;
}

static void status_of(svc_ctl_t *ctl, const svc_service_t *s,
                      svc_json_w_t *w, int *fresh) {
  svc_service_status_json(s, usage_of_svc(ctl, s, fresh), w);
}

static void status_body(svc_ctl_t *ctl, svc_json_w_t *w, const char *name) {
  svc_sup_t *sup = ctl->sup;
  svc_service_t *s;
  int fresh = 0;
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
    if (shown(s, name))
      status_of(ctl, s, w, &fresh);
  svc_json_w_end_array(w);
}

void svc_control_status(svc_sup_t *sup, svc_json_w_t *w) {
  status_body(sup->ctl, w, NULL);
}

const vg_usage_t *svc_control_usage(svc_sup_t *sup, const svc_service_t *s,
                                    int *fresh) {
  return usage_of_svc(sup->ctl, s, fresh);
}

/* ---- waiting for services to settle ------------------------------------- */

static void wait_resolve(svc_wait_t *wt) {
  svc_conn_t *c = wt->conn;
  unsigned i;
  if (c) {
    svc_ctl_t *ctl = c->ctl;
    apr_pool_t *p = NULL;
    conn_unwait(c);
    if (apr_pool_create(&p, ctl->pool) != APR_SUCCESS) {
      send_reply(c, oom_reply, sizeof oom_reply - 1);
    } else {
      svc_json_w_t w;
      apr_hash_t *names = apr_hash_make(p);
      svc_service_t *s;
      int fresh = 0;
      svc_json_w_init(&w, p, 0);
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
      /* One pass over the services, whatever the number of names. */
      for (i = 0; i < wt->nnames; i++)
        apr_hash_set(names, wt->names[i], APR_HASH_KEY_STRING, "");
      for (s = c->sup->services; s; s = s->next)
        if (!s->removing && apr_hash_get(names, s->name, APR_HASH_KEY_STRING))
          status_of(ctl, s, &w, &fresh);
      svc_json_w_end_array(&w);
      svc_json_w_end_object(&w);
      reply_json(c, &w);
      apr_pool_destroy(p);
    }
    if (!c->closing)
      conn_settle(c);
    conn_free_if_done(c);
  }
  for (i = 0; i < wt->nnames; i++)
    free(wt->names[i]);
  free(wt->names);
  free(wt);
}

static void waiter_settle(svc_waiter_t *wr) {
  svc_wait_t *wt = wr->wait;
  svc_service_t *s = wr->svc;
  if (wt->want_up && !svc_service_up(s))
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
  svc_service_reload_cancel(s);
  while ((wr = s->waiters) != NULL) {
    s->waiters = wr->next;
    wr->wait->failed = 1;
    waiter_settle(wr);
  }
}

/* The waits of c now answer no one (the client went away). */
static void conn_drop_waits(svc_conn_t *c) {
  svc_service_t *s;
  if (c->waits == 0)
    return;
  for (s = c->sup->services; s; s = s->next) {
    svc_waiter_t *wr;
    for (wr = s->waiters; wr; wr = wr->next)
      if (wr->wait->conn == c) {
        wr->wait->conn = NULL;
        conn_unwait(c);
      }
  }
}

/* Connections with a live client waiting for services. */
static unsigned waiting_conns(const svc_ctl_t *ctl) {
  const svc_conn_t *c;
  unsigned n = 0;
  for (c = ctl->conns; c; c = c->next)
    n += c->waits > 0 && !c->closing;
  return n;
}

/* ---- commands ----------------------------------------------------------- */

/* The request's "name" into *name: absent (NULL) or a string without NUL.
 * Anything else gets an error reply and 0: "web\u0000x" must not pass as
 * "web", nor a name that is not a string as no name at all ("all"). */
static int get_name(svc_conn_t *c, apr_pool_t *p, const svc_json_t *req,
                    const char **name) {
  const svc_json_t *v = svc_json_get(req, "name");
  *name = NULL;
  if (!v)
    return 1;
  *name = svc_json_string(v);
  if (*name)
    return 1;
  reply_error(c, p,
              svc_json_type(v) == SVC_JSON_STRING
                  ? "invalid \"name\": contains a NUL character"
                  : "invalid \"name\": not a string",
              0);
  return 0;
}

typedef void (*action_fn)(svc_sup_t *, svc_service_t *);

static void cmd_act(svc_conn_t *c, apr_pool_t *p, const svc_json_t *req,
                    const char *cmd) {
  svc_sup_t *sup = c->sup;
  const char *name;
  const char *only;             /* the one service, NULL for "all" */
  int wait = 0, want_up;
  svc_wait_t *wt = NULL;
  svc_service_t *s;
  action_fn act;
  unsigned n = 0;

  if (!get_name(c, p, req, &name))
    return;
  if (!name) {
    reply_error(c, p, "missing \"name\" (a service, or \"all\")", 0);
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
    reply_error(c, p, "the supervisor is shutting down", 0);
    return;
  }
  only = strcmp(name, "all") == 0 ? NULL : name;
  if (only && count_shown(sup, only) == 0) {
    reply_error(c, p, apr_psprintf(p, "no such service: %s", name), 0);
    return;
  }
  if (wait && c->eof)
    wait = 0;   /* no one to tell: answer at once */
  if (wait && c->waits == 0 && waiting_conns(c->ctl) >= CTL_MAX_WAITING) {
    reply_error(c, p,
                apr_psprintf(p, "too many clients waiting for services "
                                "(%d); try again, or without waiting",
                             CTL_MAX_WAITING),
                0);
    return;
  }
  if (wait) {
    wt = calloc(1, sizeof *wt);
    if (!wt) {
      reply_error(c, p, "out of memory", 0);
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
      if (wr && wt->nnames < wt->cap &&
          (wt->names[wt->nnames] = strdup(s->name)) != NULL) {
        wr->wait = wt;
        wr->svc = s;
        wr->next = s->waiters;
        s->waiters = wr;
        wt->remaining++;
        wt->nnames++;
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
    svc_json_w_init(&w, p, 0);
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
 * answer like a start with "wait": c->waits keeps it allocated, neither
 * idle nor evicted, and a reply to a connection that closed meanwhile
 * goes nowhere. */
static void reload_done(svc_sup_t *sup, void *baton, apr_status_t rv,
                        const cfg_errors_t *errs) {
  svc_conn_t *c = baton;
  apr_pool_t *p = NULL;
  (void)sup;
  conn_unwait(c);
  if (!c->closing && apr_pool_create(&p, c->ctl->pool) != APR_SUCCESS) {
    send_reply(c, oom_reply, sizeof oom_reply - 1);
  } else if (!c->closing) {
    svc_json_w_t w;
    char eb[128];
    int i;
    svc_json_w_init(&w, p, 0);
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
        svc_json_w_string(&w, apr_pstrcat(p, "reload failed: ",
                                          vg_strerror(rv, eb, sizeof eb),
                                          NULL));
      svc_json_w_key(&w, "errors");
      svc_json_w_begin_array(&w);
      for (i = 0; errs && i < cfg_errors_count(errs); i++)
        svc_json_w_string(&w, cfg_error_format(cfg_errors_get(errs, i), p));
      svc_json_w_end_array(&w);
    }
    svc_json_w_end_object(&w);
    reply_json(c, &w);
  }
  if (p)
    apr_pool_destroy(p);
  if (!c->closing)
    conn_settle(c);
  conn_free_if_done(c);
}

/* `signal` and `reload NAME`: one result per service addressed, in
 * config order.  A reload command answers later: the batch then holds
 * the connection (c->waits, as a reload of the config does) until the
 * last command is done. */
typedef struct batch_s batch_t;
typedef struct batch_one_s {
  batch_t *batch;
  char *name;                   /* malloc'ed */
  apr_status_t rv;
  char detail[160];
} batch_one_t;

struct batch_s {
  svc_conn_t *conn;
  unsigned n, pending;
  batch_one_t one[];
};

static void batch_free(batch_t *b) {
  unsigned i;
  for (i = 0; i < b->n; i++)
    free(b->one[i].name);
  free(b);
}

/* The reply: ok when every service did as asked; else "error" names
 * each that did not ("web-1: not running (stopped)"). */
static void batch_reply(batch_t *b, apr_pool_t *p) {
  svc_conn_t *c = b->conn;
  const char *err = NULL;
  svc_json_w_t w;
  unsigned i;
  for (i = 0; i < b->n; i++)
    if (b->one[i].rv != APR_SUCCESS) {
      const char *e = apr_pstrcat(p, b->one[i].name, ": ", b->one[i].detail,
                                  NULL);
      err = err ? apr_pstrcat(p, err, "; ", e, NULL) : e;
    }
  svc_json_w_init(&w, p, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "ok");
  svc_json_w_bool(&w, err == NULL);
  if (err) {
    svc_json_w_key(&w, "error");
    svc_json_w_string(&w, err);
  }
  svc_json_w_key(&w, "services");
  svc_json_w_begin_array(&w);
  for (i = 0; i < b->n; i++) {
    svc_json_w_begin_object(&w);
    svc_json_w_key(&w, "name");
    svc_json_w_string(&w, b->one[i].name);
    svc_json_w_key(&w, "ok");
    svc_json_w_bool(&w, b->one[i].rv == APR_SUCCESS);
    svc_json_w_key(&w, "detail");
    svc_json_w_string(&w, b->one[i].detail);
    svc_json_w_end_object(&w);
  }
  svc_json_w_end_array(&w);
  svc_json_w_end_object(&w);
  reply_json(c, &w);
}

static void batch_one_done(svc_service_t *s, void *baton, apr_status_t rv,
                           const char *detail) {
  batch_one_t *o = baton;
  batch_t *b = o->batch;
  svc_conn_t *c = b->conn;
  apr_pool_t *p = NULL;
  o->rv = rv;
  if (s)
    snprintf(o->detail, sizeof o->detail, "reload command: %s", detail);
  else
    snprintf(o->detail, sizeof o->detail,
             "reload command canceled: the service was removed");
  if (--b->pending > 0)
    return;
  conn_unwait(c);
  if (!c->closing && apr_pool_create(&p, c->ctl->pool) != APR_SUCCESS)
    send_reply(c, oom_reply, sizeof oom_reply - 1);
  else if (!c->closing)
    batch_reply(b, p);
  if (p)
    apr_pool_destroy(p);
  batch_free(b);
  if (!c->closing)
    conn_settle(c);
  conn_free_if_done(c);
}

/* The signal of a request: a name ("HUP", "SIGHUP", "hup": portable) or
 * a number (the OS's own, as kill(1) takes it).  0 and a reply sent if
 * it is neither, or cannot be sent on this platform. */
static int get_signal(svc_conn_t *c, apr_pool_t *p, const svc_json_t *req,
                      int *signum, int *native) {
  const svc_json_t *v = svc_json_get(req, "signal");
  const char *text = svc_json_string(v);
  int64_t num = 0;
  apr_status_t rv;
  *native = 0;
  if (text) {
    *signum = vg_signal_from_name(text);
  } else if (svc_json_int(v, &num)) {
    *signum = num > 0 && num < 1024 ? (int)num : -1;
    *native = 1;
  } else {
    reply_error(c, p, "missing \"signal\" (a name such as \"HUP\", or a "
                      "number)", 0);
    return 0;
  }
  rv = *signum > 0 ? pal_proc_signal(NULL, *signum, *native) : APR_EINVAL;
  if (rv == APR_SUCCESS)
    return 1;
  if (rv == PAL_EUNSUPPORTED)
    reply_error(c, p, text ? apr_psprintf(p, "signal %s cannot be sent on "
                                             "this platform", text)
                           : apr_psprintf(p, "signal %" APR_INT64_T_FMT
                                             " cannot be sent on this "
                                             "platform", (apr_int64_t)num),
                0);
  else
    reply_error(c, p, text ? apr_psprintf(p, "unknown signal: %s", text)
                           : apr_psprintf(p, "no such signal number: %"
                                          APR_INT64_T_FMT, (apr_int64_t)num),
                0);
  return 0;
}

/* {"cmd":"signal","name":N,"signal":S} and {"cmd":"reload","name":N}. */
static void cmd_service_action(svc_conn_t *c, apr_pool_t *p,
                               const svc_json_t *req, int reload) {
  svc_sup_t *sup = c->sup;
  const char *name;
  int signum = 0, native = 0;
  unsigned n, i = 0;
  svc_service_t *s;
  batch_t *b;

  if (!get_name(c, p, req, &name))
    return;
  if (!name) {
    reply_error(c, p, "missing \"name\" (a service, or the base name of "
                      "its instances)", 0);
    return;
  }
  if (!reload && !get_signal(c, p, req, &signum, &native))
    return;
  if ((n = count_shown(sup, name)) == 0) {
    reply_error(c, p, apr_psprintf(p, "no such service: %s", name), 0);
    return;
  }
  if (reload && c->waits == 0 &&
      waiting_conns(c->ctl) >= CTL_MAX_WAITING) {
    reply_error(c, p,
                apr_psprintf(p, "too many clients waiting for services "
                                "(%d); try again", CTL_MAX_WAITING),
                0);
    return;
  }
  b = calloc(1, sizeof *b + n * sizeof b->one[0]);
  if (!b) {
    reply_error(c, p, "out of memory", 0);
    return;
  }
  b->conn = c;
  b->pending = 1;   /* held until every service was asked */
  for (s = sup->services; s && i < n; s = s->next) {
    batch_one_t *o = &b->one[i];
    if (!shown(s, name))
      continue;
    o->batch = b;
    o->name = strdup(s->name);
    b->n = ++i;
    if (!o->name) {
      o->rv = APR_ENOMEM;
      snprintf(o->detail, sizeof o->detail, "out of memory");
    } else if (!reload) {
      o->rv = svc_service_signal(s, signum, native, o->detail,
                                 sizeof o->detail);
    } else {
      o->rv = svc_service_reload(s, batch_one_done, o, o->detail,
                                 sizeof o->detail);
      if (o->rv == APR_INCOMPLETE)
        b->pending++;
    }
  }
  if (--b->pending == 0) {
    batch_reply(b, p);
    batch_free(b);
  } else {
    c->waits++;
  }
}

static void cmd_reload(svc_conn_t *c, apr_pool_t *p, const svc_json_t *req) {
  if (svc_json_get(req, "name")) {
    cmd_service_action(c, p, req, 1);
    return;
  }
  c->waits++;
  if (svc_sup_reload(c->sup, reload_done, c) != APR_SUCCESS) {
    conn_unwait(c);
    reply_error(c, p, "out of memory", 0);
  }
}

/* The files of s's stdout and stderr (null for null/inherit), as
 * members "stdout" and "stderr" of the object being written. */
static void log_paths(const svc_service_t *s, svc_json_w_t *w) {
  const cfg_log_t *lg = &s->cfg->log;
  svc_json_w_key(w, "stdout");
  if (lg->out.kind == CFG_LOG_FILE)
    svc_json_w_string(w, lg->out.path);
  else
    svc_json_w_null(w);
  svc_json_w_key(w, "stderr");
  if (lg->err.kind == CFG_LOG_FILE)
    svc_json_w_string(w, lg->err.path);
  else if (lg->err.kind == CFG_LOG_STDOUT && lg->out.kind == CFG_LOG_FILE)
    svc_json_w_string(w, lg->out.path);
  else
    svc_json_w_null(w);
}

/* One service by its exact name: its files as members of the reply (as
 * before groups were addressed).  Every request: "services", the files
 * of each service addressed (all without a name), in config order. */
static void cmd_logs(svc_conn_t *c, apr_pool_t *p, const svc_json_t *req) {
  const char *name;
  svc_service_t *s, *one;
  svc_json_w_t w;
  if (!get_name(c, p, req, &name))
    return;
  if (name && count_shown(c->sup, name) == 0) {
    reply_error(c, p, apr_psprintf(p, "no such service: %s", name), 0);
    return;
  }
  one = name ? svc_sup_find(c->sup, name) : NULL;
  svc_json_w_init(&w, p, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "ok");
  svc_json_w_bool(&w, 1);
  if (one)
    log_paths(one, &w);
  svc_json_w_key(&w, "services");
  svc_json_w_begin_array(&w);
  for (s = c->sup->services; s; s = s->next)
    if (shown(s, name)) {
      svc_json_w_begin_object(&w);
      svc_json_w_key(&w, "name");
      svc_json_w_string(&w, s->name);
      log_paths(s, &w);
      svc_json_w_end_object(&w);
    }
  svc_json_w_end_array(&w);
  svc_json_w_end_object(&w);
  reply_json(c, &w);
}

static void cmd_status(svc_conn_t *c, apr_pool_t *p, const svc_json_t *req) {
  const char *name;
  svc_json_w_t w;
  if (!get_name(c, p, req, &name))
    return;
  if (name && count_shown(c->sup, name) == 0) {
    reply_error(c, p, apr_psprintf(p, "no such service: %s", name), 0);
    return;
  }
  svc_json_w_init(&w, p, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "ok");
  svc_json_w_bool(&w, 1);
  status_body(c->ctl, &w, name);
  svc_json_w_end_object(&w);
  reply_json(c, &w);
}

/* ---- events ------------------------------------------------------------- */

static void send_event(void *baton, const char *line, size_t len) {
  send_reply(baton, line, len);
}

/* {"cmd":"events"}: {"ok":true}, then the ring's events, and the
 * connection closes.  With "follow": no history; it stays open and gets
 * each event as it happens (svc_control_event) until the client goes. */
static void cmd_events(svc_conn_t *c, apr_pool_t *p, const svc_json_t *req) {
  static const char ok[] = "{\"ok\":true}";
  int follow = 0;
  (void)p;
  svc_json_bool(svc_json_get(req, "follow"), &follow);
  send_reply(c, ok, sizeof ok - 1);
  if (follow) {
    c->subscriber = 1;
    return;
  }
  svc_events_replay(c->sup, send_event, c);
  c->close_after_write = 1;
  stop_reading(c);
}

/* A subscriber that does not read is dropped once its unread events
 * reach CTL_MAX_QUEUED: an event never waits for a reader. */
void svc_control_event(svc_sup_t *sup, const char *line, size_t len) {
  svc_conn_t *c, *next;
  if (!sup->ctl)
    return;
  for (c = sup->ctl->conns; c; c = next) {
    next = c->next;   /* conn_close() unlinks c alone */
    if (!c->subscriber || c->closing)
      continue;
    if (c->queued + len + 1 > CTL_MAX_QUEUED) {
      vg_log(sup->log, VG_LOG_WARN, "control",
             "an events subscriber left %lu bytes unread: dropped",
             (unsigned long)c->queued);
      conn_close(c);
      continue;
    }
    send_reply(c, line, len);
  }
}

static void reply_ok(svc_conn_t *c, apr_pool_t *p, int version) {
  svc_json_w_t w;
  svc_json_w_init(&w, p, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "ok");
  svc_json_w_bool(&w, 1);
  if (version) {
    svc_json_w_key(&w, "version");
    svc_json_w_string(&w, vg_version());
    svc_json_w_key(&w, "backend");
    svc_json_w_string(&w, vg_backend());
  }
  svc_json_w_end_object(&w);
  reply_json(c, &w);
}

static void dispatch(svc_conn_t *c, apr_pool_t *p, const char *line,
                     size_t len) {
  svc_json_t *req;
  svc_json_error_t jerr;
  const char *cmd;

  if (svc_json_parse(&req, line, len, p, &jerr) != APR_SUCCESS) {
    reply_error(c, p, apr_psprintf(p, "malformed request: %s", jerr.message),
                1);
    return;
  }
  cmd = svc_json_type(req) == SVC_JSON_OBJECT
            ? svc_json_string(svc_json_get(req, "cmd"))
            : NULL;
  if (!cmd) {
    reply_error(c, p, "malformed request: expected an object with \"cmd\"",
                1);
    return;
  }
  if (strcmp(cmd, "status") == 0) {
    cmd_status(c, p, req);
  } else if (!strcmp(cmd, "start") || !strcmp(cmd, "stop") ||
             !strcmp(cmd, "restart")) {
    cmd_act(c, p, req, cmd);
  } else if (strcmp(cmd, "reload") == 0) {
    cmd_reload(c, p, req);
  } else if (strcmp(cmd, "signal") == 0) {
    cmd_service_action(c, p, req, 0);
  } else if (strcmp(cmd, "logs") == 0) {
    cmd_logs(c, p, req);
  } else if (strcmp(cmd, "shutdown") == 0) {
    reply_ok(c, p, 0);
    vg_graceful_request(&c->sup->shutdown, 0);
  } else if (strcmp(cmd, "version") == 0) {
    reply_ok(c, p, 1);
  } else if (strcmp(cmd, "events") == 0) {
    cmd_events(c, p, req);
  } else {
    reply_error(c, p, apr_psprintf(p, "unknown command: %.60s", cmd), 1);
  }
}

/* One request, with a pool of its own (freed after: its memory goes back
 * to ctl->pool's allocator, which keeps at most CTL_POOL_KEEP). */
static void handle_line(svc_conn_t *c, const char *line, size_t len) {
  apr_pool_t *p;
  c->active_ms = vg_now(c->sup->loop);
  if (c->subscriber)
    return;   /* a subscriber's requests are not answered */
  if (apr_pool_create(&p, c->ctl->pool) != APR_SUCCESS) {
    send_reply(c, oom_reply, sizeof oom_reply - 1);
    return;
  }
  dispatch(c, p, line, len);
  apr_pool_destroy(p);
}

/* ---- connections -------------------------------------------------------- */

void svc_buf_grow(char **buf, size_t *cap, size_t len, size_t min,
                  size_t max, vg_buf_t *out) {
  if (len == *cap && *cap < max) {
    size_t ncap = *cap ? *cap * 2 : min;
    char *nb;
    if (ncap > max)
      ncap = max;
    nb = realloc(*buf, ncap);
    if (nb) {
      *buf = nb;
      *cap = ncap;
    }
  }
  out->base = *buf ? *buf + len : NULL;
  out->len = *cap - len;   /* 0 (no memory): the read fails ENOMEM */
}

static void conn_alloc(vg_handle_t *h, size_t sug, vg_buf_t *buf) {
  svc_conn_t *c = h->data;
  (void)sug;
  svc_buf_grow(&c->buf, &c->cap, c->len, CTL_BUF_MIN, CTL_BUF_MAX, buf);
}

/* Reading, paused or done, and closing, as c's state says.  Called after
 * anything that changes it. */
static void conn_settle(svc_conn_t *c) {
  if (c->closing)
    return;
  if (c->close_after_write) {
    if (c->writes == 0)
      conn_close(c);
    return;
  }
  if (c->eof) {
    if (!c->backlog && c->writes == 0 && c->waits == 0)
      conn_close(c);
    return;
  }
  if (c->backlog) {
    stop_reading(c);
  } else if (!c->reading) {
    c->reading = 1;
    if (vg_read_start(&c->pipe, conn_alloc, conn_read) !=
        APR_SUCCESS)
      conn_close(c);
  }
}

/* Handle up to CTL_LINES_PER_TURN complete lines of c's input, fewer if
 * its unread replies reach CTL_MAX_QUEUED.  What is left waits for the
 * next iteration (the resume timer, or a reply taken), reading paused,
 * so that one client's pipeline cannot hold the loop. */
static void conn_process(svc_conn_t *c) {
  size_t start = 0;
  unsigned n = 0;
  c->backlog = 0;
  while (!c->closing && !c->close_after_write && !c->ctl->stopped) {
    char *nl;
    size_t len;
    if (n == CTL_LINES_PER_TURN || c->queued >= CTL_MAX_QUEUED) {
      c->backlog = 1;
      break;
    }
    nl = c->len > c->scan ? memchr(c->buf + c->scan, '\n', c->len - c->scan)
                          : NULL;
    if (!nl) {
      c->scan = c->len;
      break;
    }
    if (c->waits > 0) {
      /* Replies go out in the order of the requests: a line behind one
       * still waiting for services (a start with "wait", a reload) waits
       * for its answer, reading paused (conn_unwait resumes it). */
      c->backlog = 1;
      break;
    }
    len = (size_t)(nl - (c->buf + start));
    if (len > 0 && nl[-1] == '\r')
      len--;
    if (len > CTL_MAX_LINE) {
      reply_error(c, NULL, "request too long (limit 65536 bytes per line)", 1);
      break;
    }
    c->scan = (size_t)(nl + 1 - c->buf);
    if (len > 0) {
      handle_line(c, c->buf + start, len);
      n++;
    }
    start = c->scan;
  }
  if (c->closing || c->close_after_write)
    return;
  c->len -= start;
  c->scan -= start;
  if (c->len == 0) {
    free(c->buf);   /* an idle connection holds no buffer */
    c->buf = NULL;
    c->cap = c->scan = 0;
  } else if (start > 0) {
    memmove(c->buf, c->buf + start, c->len);
  }
  if (c->len == CTL_BUF_MAX && !c->backlog) {
    reply_error(c, NULL, "request too long (limit 65536 bytes per line)", 1);
    return;
  }
  if (c->backlog && c->queued < CTL_MAX_QUEUED)
    resume_soon(c->ctl);
  conn_settle(c);
}

static void conn_read(vg_stream_t *st, apr_status_t status, size_t n,
                      const vg_buf_t *buf) {
  svc_conn_t *c = st->data;
  (void)buf;
  if (status == APR_SUCCESS) {
    c->len += n;
    if (n > 0)
      conn_process(c);
    return;
  }
  c->reading = 0;   /* the stream stopped reading */
  if (status == APR_ENOMEM) {
    send_reply(c, oom_reply, sizeof oom_reply - 1);
    c->close_after_write = 1;
    conn_settle(c);
    return;
  }
  /* EOF (or a reset): the client is gone, or at least will read nothing
   * it has not asked for yet.  What it sent in full is still answered;
   * its waits for services are dropped at once, so that clients that
   * vanish (an interrupted `vigil start`) hold nothing. */
  c->eof = 1;
  conn_drop_waits(c);
  if (status != APR_EOF) {
    conn_close(c);
    return;
  }
  conn_settle(c);
}

static void conn_closed(vg_handle_t *h) {
  svc_conn_t *c = h->data;
  c->closing = 2;
  conn_free_if_done(c);
}

static void conn_free_if_done(svc_conn_t *c) {
  if (c->closing == 2 && c->writes == 0 && c->waits == 0) {
    free(c->buf);
    free(c);
  }
}

static void conn_close(svc_conn_t *c) {
  svc_conn_t **pp;
  if (c->closing)
    return;
  c->closing = 1;
  c->reading = 0;
  for (pp = &c->ctl->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  if (c->admitted)
    c->ctl->nconns--;
  conn_drop_waits(c);
  vg_close((vg_handle_t *)&c->pipe, conn_closed);
}

/* ---- the loop's share: deferred work and deadlines ---------------------- */

static void on_resume(vg_timer_t *t) {
  svc_ctl_t *ctl = t->data;
  svc_conn_t *c;
  /* Each connection with lines left gets one more share: those due now
   * are marked first; a request may close others (or all, at shutdown),
   * so the list is searched again after each. */
  for (c = ctl->conns; c; c = c->next)
    c->due = c->backlog && c->queued < CTL_MAX_QUEUED && c->waits == 0;
  while (!ctl->stopped) {
    for (c = ctl->conns; c && !c->due; c = c->next)
      ;
    if (!c)
      break;
    c->due = 0;
    conn_process(c);
  }
}

/* One of c's requests waiting for services is answered (or dropped):
 * the lines held behind it may go on. */
static void conn_unwait(svc_conn_t *c) {
  if (--c->waits == 0 && c->backlog && !c->closing)
    resume_soon(c->ctl);
}

static void resume_soon(svc_ctl_t *ctl) {
  if (!ctl->stopped && !vg_is_active((vg_handle_t *)&ctl->resume))
    vg_timer_start(&ctl->resume, on_resume, 0, 0);
}

/* Close what completed no request for CTL_IDLE_MS: idle clients, lines
 * sent in part, replies left unread.  A client waiting for services is
 * not idle (a start may take long). */
static void on_sweep(vg_timer_t *t) {
  svc_ctl_t *ctl = t->data;
  uint64_t now = vg_now(ctl->sup->loop);
  svc_conn_t *c, *next;
  for (c = ctl->conns; c; c = next) {
    next = c->next;   /* conn_close() unlinks c alone */
    if (c->waits == 0 && !c->subscriber &&
        now - c->active_ms >= CTL_IDLE_MS)
      conn_close(c);
  }
  if (!ctl->conns)
    vg_timer_stop(&ctl->sweep);
}

/* ---- accepting ---------------------------------------------------------- */

/* When the table is full: the admitted connection without waits that was
 * active least recently (idle, a line sent in part, replies unread), or
 * NULL.  At most CTL_MAX_WAITING connections wait, so there is one. */
static svc_conn_t *victim(svc_ctl_t *ctl) {
  svc_conn_t *c, *best = NULL;
  for (c = ctl->conns; c; c = c->next)
    if (c->admitted && !c->closing && c->waits == 0 &&
        (!best || c->active_ms <= best->active_ms))
      best = c;
  return best;
}

static void accept_later(svc_ctl_t *ctl, uint64_t ms) {
  if (!ctl->stopped && !vg_is_active((vg_handle_t *)&ctl->accept_timer))
    vg_timer_start(&ctl->accept_timer, on_accept_timer, ms, 0);
}

/* Take one queued connection.  0 when there was none, or it must wait
 * (the iteration's share is used, or no memory: it stays queued, and the
 * accept timer takes it later; a listener whose connection is never
 * taken would hear of no other). */
static int accept_one(svc_ctl_t *ctl) {
  svc_sup_t *sup = ctl->sup;
  uint64_t turn = vg_loop_iterations(sup->loop);
  svc_conn_t *c;
  int trusted = 0;
  apr_status_t rv;
  if (ctl->stopped)
    return 0;
  if (turn != ctl->turn) {
    ctl->turn = turn;
    ctl->accepts = 0;
  }
  if (ctl->accepts >= CTL_ACCEPTS_PER_TURN) {
    accept_later(ctl, 0);
    return 0;
  }
  c = calloc(1, sizeof *c);
  if (!c) {
    accept_later(ctl, CTL_RETRY_MS);
    return 0;
  }
  c->ctl = ctl;
  c->sup = sup;
  vg_pipe_init(sup->loop, &c->pipe);
  c->pipe.data = c;
  if (vg_accept(&sup->control, &c->pipe) != APR_SUCCESS) {
    c->closing = 1;
    vg_close((vg_handle_t *)&c->pipe, conn_closed);
    return 0;
  }
  ctl->accepts++;
  c->active_ms = vg_now(sup->loop);
  c->next = ctl->conns;
  ctl->conns = c;
  if (!vg_is_active((vg_handle_t *)&ctl->sweep))
    vg_timer_start(&ctl->sweep, on_sweep, CTL_SWEEP_MS, CTL_SWEEP_MS);
  /* Only the supervisor's user and the administrator (root; SYSTEM or
   * an elevated Administrator on Windows) may control it.  The endpoint's
   * permissions (socket mode 0600; the pipe's DACL) say the same; this
   * check also holds where they cannot be set (an abstract socket).  A
   * peer that cannot be identified is refused, except where the OS has no
   * way to tell. */
  rv = vg_pipe_peer_trusted(&c->pipe, &trusted);
  if (rv == VG_EUNSUPPORTED)
    trusted = 1;
  else if (rv != APR_SUCCESS)
    trusted = 0;
  if (!trusted) {
    reply_error(c, NULL, "permission denied: not the supervisor's user", 1);
    return 1;
  }
  if (ctl->nconns >= CTL_MAX_CONNS) {
    svc_conn_t *v = victim(ctl);
    if (!v) {
      reply_error(c, NULL, "too many control connections", 1);
      return 1;
    }
    conn_close(v);
  }
  c->admitted = 1;
  ctl->nconns++;
  conn_settle(c);   /* starts reading */
  return 1;
}

static void on_accept_timer(vg_timer_t *t) {
  accept_one(t->data);
}

void svc_accept_failed(svc_sup_t *sup, svc_accept_fails_t *f,
                       const char *topic, const char *what,
                       apr_status_t status) {
  uint64_t now = vg_now(sup->loop);
  char eb[128];
  f->fails++;
  if (f->said && now - f->said_ms < CTL_FAIL_LOG_MS)
    return;
  vg_log(sup->log, VG_LOG_WARN, topic,
         "cannot accept %s: %s (%s; %u time(s) since the last warning); "
         "trying again",
         what, vg_strerror(status, eb, sizeof eb), pal_last_call(),
         f->fails);
  f->said = 1;
  f->said_ms = now;
  f->fails = 0;
}

static void on_connection(vg_stream_t *server, apr_status_t status) {
  svc_sup_t *sup = server->data;
  svc_ctl_t *ctl = sup->ctl;
  if (status == APR_SUCCESS)
    accept_one(ctl);
  else
    svc_accept_failed(sup, &ctl->fails, "control", "a control connection",
                      status);
}

/* ---- start and stop ----------------------------------------------------- */

static void ctl_timer(svc_ctl_t *ctl, vg_timer_t *t) {
  vg_timer_init(ctl->sup->loop, t);
  t->data = ctl;
  vg_unref((vg_handle_t *)t);   /* connections keep nothing alive */
}

apr_status_t svc_control_start(svc_sup_t *sup) {
  apr_allocator_t *al = NULL;
  svc_ctl_t *ctl;
  apr_status_t rv;
  int abstract;
  ctl = apr_pcalloc(sup->pool, sizeof *ctl);
  ctl->sup = sup;
  sup->ctl = ctl;
  ctl_timer(ctl, &ctl->accept_timer);
  ctl_timer(ctl, &ctl->resume);
  ctl_timer(ctl, &ctl->sweep);
  vg_pipe_init(sup->loop, &sup->control);
  sup->control.data = sup;
  /* A copy: the config it came from is freed by a later reload. */
  sup->control_path =
      apr_pstrdup(sup->pool, svc_control_endpoint(sup->cfg, sup->pool));
  /* Request pools come from an allocator of their own, which keeps at
   * most CTL_POOL_KEEP of what they freed: a status of thousands of
   * services once does not stay in the supervisor's memory for good. */
  rv = apr_allocator_create(&al);
  if (rv == APR_SUCCESS) {
    apr_allocator_max_free_set(al, CTL_POOL_KEEP);
    rv = apr_pool_create_ex(&ctl->pool, sup->pool, NULL, al);
    if (rv == APR_SUCCESS)
      apr_allocator_owner_set(al, ctl->pool);
    else
      apr_allocator_destroy(al);
  }
  if (rv != APR_SUCCESS) {
    vg_close((vg_handle_t *)&sup->control, NULL);
    return rv;
  }
  /* "@NAME", a Linux abstract socket, has no file: nothing to remove and
   * no mode to set (the peer check below is its protection). */
  abstract = sup->control_path[0] == '@';
  /* We hold the state directory's lock: a socket file here is a leftover
   * of a supervisor that died, not a live one. */
  if (!abstract)
    apr_file_remove(sup->control_path, sup->pool);
  rv = vg_pipe_bind(&sup->control, sup->control_path);
  if (rv == APR_SUCCESS && !abstract)
    rv = apr_file_perms_set(sup->control_path,
                            APR_FPROT_UREAD | APR_FPROT_UWRITE);
  if (rv == APR_ENOTIMPL)
    rv = APR_SUCCESS;   /* Windows: the pipe's DACL does this */
  if (rv == APR_SUCCESS)
    rv = vg_listen(&sup->control, CTL_MAX_CONNS, on_connection);
  if (rv != APR_SUCCESS)
    vg_close((vg_handle_t *)&sup->control, NULL);
  return rv;
}

void svc_control_stop(svc_sup_t *sup) {
  svc_ctl_t *ctl = sup->ctl;
  if (!ctl || ctl->stopped)
    return;
  ctl->stopped = 1;
  while (ctl->conns)
    conn_close(ctl->conns);
  vg_close((vg_handle_t *)&ctl->accept_timer, NULL);
  vg_close((vg_handle_t *)&ctl->resume, NULL);
  vg_close((vg_handle_t *)&ctl->sweep, NULL);
  free(ctl->usage);
  ctl->usage = NULL;
  ctl->nusage = 0;
  if (!vg_is_closing((vg_handle_t *)&sup->control)) {
    vg_close((vg_handle_t *)&sup->control, NULL);
    if (sup->control_path[0] != '@')
      apr_file_remove(sup->control_path, sup->pool);
  }
}
