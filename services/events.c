/*
 * events.c -- the supervisor's event stream: what happened to a service
 * (started, running, exited, restarting, fatal, health-failed, stopped),
 * said once, as one JSON line, to every consumer: the subscribers of the
 * control endpoint (`vigil events`, control.c) and a ring of the last
 * SVC_EVENTS_RING events (what `vigil events` without -f prints); the
 * <on event> commands of the service and of <supervisor>, each a
 * process of its own (never waited for on the loop), killed at its
 * timeout, at most SVC_ON_MAX of a service's at once (more are dropped
 * with a warning: a crash loop cannot pile them up); and the metrics'
 * counters (http.c), counted here per service name and event kind.
 *
 * The counters are Prometheus counters: they only grow.  They are kept
 * by service name, apart from the service's own record, so a reload
 * that keeps (or changes) a service keeps its counts; a removed
 * service's record goes when a new name needs its place (the table
 * never holds more records than services), so memory is bounded by the
 * services configured.  Counting allocates only the first time a name
 * is seen.
 *
 * Emitting never blocks and never fails the caller: without memory an
 * event is lost, nothing else.  docs/control.md documents the lines.
 */
#include "svc_int.h"

#include <apr_hash.h>
#include <apr_strings.h>

#include <stdlib.h>
#include <string.h>

#define SVC_EVENTS_RING 64
#define SVC_ON_MAX 8

/* One <on> command's run.  Its own copies of the names: a reload may
 * free the config, and the service, while it runs. */
typedef struct on_run_s {
  struct on_run_s *next;
  svc_sup_t *sup;
  vg_process_t proc;
  vg_timer_t timer;             /* its timeout */
  unsigned open;                /* handles not yet closed */
  int timed_out;
  uint64_t timeout_ms;
  char *service, *command;      /* malloc'ed */
} on_run_t;

typedef struct ring_line_s {
  char *text;                   /* malloc'ed, no newline */
  size_t len;
} ring_line_t;

/* The counts of one service name (malloc'ed; the name follows). */
typedef struct ev_counts_s {
  uint64_t n[SVC_EVK_N];
  unsigned mark;                /* == ev->mark: a live service's (prune) */
  char name[1];
} ev_counts_t;

struct svc_events_s {
  ring_line_t ring[SVC_EVENTS_RING];
  unsigned head, len;           /* oldest at (head - len) mod N */
  on_run_t *runs;               /* <on> commands running */
  apr_hash_t *counts;           /* name -> ev_counts_t (sup->pool) */
  unsigned mark;
};

const char *svc_evk_name(svc_evk k) {
  return (unsigned)k < SVC_EVK_N ? cfg_event_names[k] : "?";
}

static void run_free(on_run_t *r) {
  free(r->service);
  free(r->command);
  free(r);
}

/* After the loop closed: what still ran at the end (its handles were
 * closed by the supervisor's last walk) is freed here. */
static apr_status_t events_cleanup(void *data) {
  svc_events_t *ev = data;
  unsigned i;
  while (ev->runs) {
    on_run_t *r = ev->runs;
    ev->runs = r->next;
    run_free(r);
  }
  for (i = 0; i < SVC_EVENTS_RING; i++)
    free(ev->ring[i].text);
  if (ev->counts) {
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(NULL, ev->counts); hi; hi = apr_hash_next(hi))
      free(apr_hash_this_val(hi));
  }
  free(ev);
  return APR_SUCCESS;
}

static svc_events_t *events_of(svc_sup_t *sup) {
  if (!sup->events) {
    sup->events = calloc(1, sizeof *sup->events);
    if (sup->events)
      apr_pool_cleanup_register(sup->pool, sup->events, events_cleanup,
                                apr_pool_cleanup_null);
  }
  return sup->events;
}

static void ring_add(svc_sup_t *sup, const char *line, size_t len) {
  svc_events_t *ev = events_of(sup);
  ring_line_t *slot;
  char *copy;
  if (!ev || !(copy = malloc(len)))
    return;
  memcpy(copy, line, len);
  slot = &ev->ring[ev->head];
  free(slot->text);
  slot->text = copy;
  slot->len = len;
  ev->head = (ev->head + 1) % SVC_EVENTS_RING;
  if (ev->len < SVC_EVENTS_RING)
    ev->len++;
}

void svc_events_replay(svc_sup_t *sup,
                       void (*fn)(void *, const char *, size_t),
                       void *baton) {
  svc_events_t *ev = sup->events;
  unsigned i;
  if (!ev)
    return;
  for (i = 0; i < ev->len; i++) {
    const ring_line_t *l =
        &ev->ring[(ev->head + SVC_EVENTS_RING - ev->len + i) %
                  SVC_EVENTS_RING];
    fn(baton, l->text, l->len);
  }
}

/* ---- the metrics' counters -------------------------------------------- */

/* Forget the counts of names no live service has (removed by a reload):
 * the live services' records are marked, the others deleted (deleting
 * the entry an iteration is on is allowed by APR).  O(services). */
static void counts_prune(svc_sup_t *sup, svc_events_t *ev) {
  apr_hash_index_t *hi;
  const svc_service_t *s;
  ev_counts_t *c;
  ev->mark++;
  for (s = sup->services; s; s = s->next)
    if (!s->removing &&
        (c = apr_hash_get(ev->counts, s->name, APR_HASH_KEY_STRING)))
      c->mark = ev->mark;
  for (hi = apr_hash_first(NULL, ev->counts); hi; hi = apr_hash_next(hi)) {
    c = apr_hash_this_val(hi);
    if (c->mark != ev->mark) {
      apr_hash_set(ev->counts, c->name, APR_HASH_KEY_STRING, NULL);
      free(c);
    }
  }
}

static void count(svc_service_t *s, svc_evk kind) {
  svc_events_t *ev;
  ev_counts_t *c;
  size_t len;
  /* A service a reload removed is no longer listed: what it still says
   * while it stops is not counted (and would outlive it). */
  if (s->removing || (unsigned)kind >= SVC_EVK_N ||
      !(ev = events_of(s->sup)))
    return;
  if (!ev->counts && !(ev->counts = apr_hash_make(s->sup->pool)))
    return;
  c = apr_hash_get(ev->counts, s->name, APR_HASH_KEY_STRING);
  if (!c) {
    /* As many records as services (removing ones included): one at
     * least is stale, as this live service has none.  So the table
     * never holds more than the services listed, and a prune, which
     * walks them all, comes only after a reload removed some. */
    if (apr_hash_count(ev->counts) >= s->sup->nservices)
      counts_prune(s->sup, ev);
    len = strlen(s->name);
    if (!(c = calloc(1, sizeof *c + len)))
      return;
    memcpy(c->name, s->name, len + 1);
    apr_hash_set(ev->counts, c->name, APR_HASH_KEY_STRING, c);
  }
  c->n[kind]++;
}

uint64_t svc_events_count(svc_sup_t *sup, const char *service,
                          svc_evk kind) {
  const ev_counts_t *c;
  if (!sup->events || !sup->events->counts || (unsigned)kind >= SVC_EVK_N)
    return 0;
  c = apr_hash_get(sup->events->counts, service, APR_HASH_KEY_STRING);
  return c ? c->n[kind] : 0;
}

/* ---- <on event> commands ----------------------------------------------- */

static void run_closed(vg_handle_t *h) {
  on_run_t *r = h->data;
  on_run_t **pp;
  if (--r->open > 0)
    return;
  for (pp = &r->sup->events->runs; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  run_free(r);
}

static void on_run_timeout(vg_timer_t *t) {
  on_run_t *r = t->data;
  r->timed_out = 1;
  vg_process_kill_tree(&r->proc, VG_SIGKILL);
}

/* Its end, said when it failed. */
static void on_run_exit(vg_process_t *p, int code, int sig) {
  on_run_t *r = p->data;
  if (r->timed_out)
    vg_log(r->sup->log, VG_LOG_WARN, r->service,
           "<on> command %s timed out after %llu ms: killed", r->command,
           (unsigned long long)r->timeout_ms);
  else if (sig)
    vg_log(r->sup->log, VG_LOG_WARN, r->service,
           "<on> command %s killed by signal %s", r->command,
           vg_signal_name(sig) ? vg_signal_name(sig) : "?");
  else if (code != 0)
    vg_log(r->sup->log, VG_LOG_WARN, r->service,
           "<on> command %s exited %d", r->command, code);
  vg_close((vg_handle_t *)&r->proc, run_closed);
  vg_close((vg_handle_t *)&r->timer, run_closed);
}

static unsigned runs_of(const svc_events_t *ev, const char *service) {
  const on_run_t *r;
  unsigned n = 0;
  for (r = ev->runs; r; r = r->next)
    if (strcmp(r->service, service) == 0)
      n++;
  return n;
}

/* The supervisor's environment, but for the variables the event sets. */
static const char *const *on_env(const char *const *vars, apr_pool_t *p) {
  const char *const *base = pal_environ();
  apr_array_header_t *env = apr_array_make(p, 64, sizeof(const char *));
  const char *const *v;
  for (; base && *base; base++) {
    size_t n = strcspn(*base, "=");
    int mine = 0;
    for (v = vars; *v && !mine; v++)
      mine = strncmp(*v, *base, n) == 0 && (*v)[n] == '=';
    if (!mine)
      APR_ARRAY_PUSH(env, const char *) = *base;
  }
  for (v = vars; *v; v++)
    APR_ARRAY_PUSH(env, const char *) = *v;
  APR_ARRAY_PUSH(env, const char *) = NULL;
  return (const char *const *)env->elts;
}

static void on_run(svc_service_t *s, const cfg_on_t *h,
                   const char *const *vars, apr_pool_t *p) {
  svc_sup_t *sup = s->sup;
  svc_events_t *ev = events_of(sup);
  vg_process_options_t o;
  on_run_t *r;
  apr_status_t rv;
  char eb[128];
  if (!ev)
    return;
  if (runs_of(ev, s->name) >= SVC_ON_MAX) {
    vg_log(sup->log, VG_LOG_WARN, s->name,
           "<on event=\"%s\"> command %s not run: %d of its commands "
           "still run", svc_evk_name((svc_evk)h->event), h->cmd.command,
           SVC_ON_MAX);
    return;
  }
  r = calloc(1, sizeof *r);
  if (!r || !(r->service = strdup(s->name)) ||
      !(r->command = strdup(h->cmd.command))) {
    if (r)
      run_free(r);
    return;
  }
  memset(&o, 0, sizeof o);
  o.file = h->cmd.command;
  o.args = svc_plan_argv(h->cmd.command, h->cmd.args, p);
  o.env = on_env(vars, p);
  /* Its own process group: the timeout kills what it started too. */
  o.flags = VG_PROCESS_NEW_GROUP | VG_PROCESS_PDEATHSIG |
            VG_PROCESS_SEARCH_PATH;
  o.stdio[0].kind = VG_STDIO_IGNORE;
  o.stdio[1].kind = VG_STDIO_IGNORE;
  o.stdio[2].kind = VG_STDIO_IGNORE;
  o.exit_cb = on_run_exit;
  r->proc.data = r;
  r->sup = sup;
  r->timeout_ms = h->cmd.timeout_ms;
  if ((rv = vg_spawn(sup->loop, &r->proc, &o)) != APR_SUCCESS) {
    vg_log(sup->log, VG_LOG_WARN, s->name,
           "<on event=\"%s\"> command %s could not run: %s",
           svc_evk_name((svc_evk)h->event), h->cmd.command,
           vg_strerror(rv, eb, sizeof eb));
    run_free(r);
    return;
  }
  vg_timer_init(sup->loop, &r->timer);
  r->timer.data = r;
  r->open = 2;
  vg_timer_start(&r->timer, on_run_timeout, h->cmd.timeout_ms, 0);
  r->next = ev->runs;
  ev->runs = r;
}

/* The <on>s of `list` (may be NULL) for kind. */
static void on_list(svc_service_t *s, const apr_array_header_t *list,
                    svc_evk kind, const char *const *vars, apr_pool_t *p) {
  int i;
  for (i = 0; list && i < list->nelts; i++) {
    const cfg_on_t *h = &APR_ARRAY_IDX(list, i, cfg_on_t);
    if ((int)h->event == (int)kind)
      on_run(s, h, vars, p);
  }
}

static void on_hooks(svc_service_t *s, svc_evk kind, long pid,
                     const char *reason, int ended, apr_pool_t *p) {
  const char *vars[7];
  if ((!s->cfg->on || s->cfg->on->nelts == 0) &&
      (!s->sup->cfg->on || s->sup->cfg->on->nelts == 0))
    return;
  vars[0] = apr_pstrcat(p, "VIGIL_EVENT=", svc_evk_name(kind), NULL);
  vars[1] = apr_pstrcat(p, "VIGIL_SERVICE=", s->name, NULL);
  vars[2] = pid > 0 ? apr_psprintf(p, "VIGIL_PID=%ld", pid) : "VIGIL_PID=";
  vars[3] = ended && !s->last.signal && s->last.code >= 0
                ? apr_psprintf(p, "VIGIL_EXIT_CODE=%d", s->last.code)
                : "VIGIL_EXIT_CODE=";
  vars[4] = apr_pstrcat(
      p, "VIGIL_SIGNAL=",
      ended && s->last.signal && vg_signal_name(s->last.signal)
          ? vg_signal_name(s->last.signal)
          : "",
      NULL);
  vars[5] = apr_pstrcat(p, "VIGIL_REASON=", reason, NULL);
  vars[6] = NULL;
  on_list(s, s->cfg->on, kind, vars, p);
  on_list(s, s->sup->cfg->on, kind, vars, p);
}

/* ---- emitting ------------------------------------------------------------ */

void svc_events_emit(svc_service_t *s, svc_evk kind, long pid) {
  svc_sup_t *sup = s->sup;
  apr_pool_t *p;
  svc_json_w_t w;
  const char *out;
  size_t len;
  const char *reason;
  int ended = kind == SVC_EVK_EXITED && s->last.has;

  count(s, kind);
  if (apr_pool_create(&p, sup->pool) != APR_SUCCESS)
    return;
  svc_json_w_init(&w, p, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "at_ms");
  svc_json_w_int64(&w, (int64_t)(apr_time_now() / 1000));
  svc_json_w_key(&w, "service");
  svc_json_w_string(&w, s->name);
  svc_json_w_key(&w, "event");
  svc_json_w_string(&w, svc_evk_name(kind));
  svc_json_w_key(&w, "state");
  svc_json_w_string(&w, svc_state_name(s->state));
  svc_json_w_key(&w, "pid");
  if (pid > 0)
    svc_json_w_int64(&w, pid);
  else
    svc_json_w_null(&w);
  /* code and signal: of the exit an "exited" event reports; null else
   * (and code is null when a signal ended it, or it is unknown: a
   * type="attach" daemon is not vigil's child). */
  svc_json_w_key(&w, "code");
  if (ended && !s->last.signal && s->last.code >= 0)
    svc_json_w_int64(&w, s->last.code);
  else
    svc_json_w_null(&w);
  svc_json_w_key(&w, "signal");
  if (ended && s->last.signal && vg_signal_name(s->last.signal))
    svc_json_w_string(&w, vg_signal_name(s->last.signal));
  else
    svc_json_w_null(&w);
  /* reason: how the process ended for "exited"; none when it starts;
   * else the service's, as its status says it. */
  if (ended && s->last.signal)
    reason = apr_psprintf(p, "killed by signal %s",
                          vg_signal_name(s->last.signal)
                              ? vg_signal_name(s->last.signal)
                              : "?");
  else if (ended && s->last.code < 0)
    reason = "exited (status unknown: vigil did not start it)";
  else if (ended)
    reason = apr_psprintf(p, "exited with code %d", s->last.code);
  else if (kind == SVC_EVK_STARTED || kind == SVC_EVK_RUNNING)
    reason = "";
  else
    reason = s->reason;
  svc_json_w_key(&w, "reason");
  svc_json_w_string(&w, reason);
  svc_json_w_end_object(&w);
  if (svc_json_w_finish(&w, &out, &len) == APR_SUCCESS) {
    ring_add(sup, out, len);
    svc_control_event(sup, out, len);
  }
  on_hooks(s, kind, pid, reason, ended, p);
  apr_pool_destroy(p);
}
