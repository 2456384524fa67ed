/*
 * service.c -- one service: an explicit state x event table.
 *
 * Map (in file order):
 *   1. the child: one run of it (svc_child_t) with its captures, spawned
 *      from the service's plan (plan.c); its exit is reported to the
 *      table only when the child has exited AND its output pipes are
 *      drained (bounded by a short grace, since a grandchild may hold a
 *      pipe open), so no line written before the exit is lost
 *   2. readiness and health checks, and the notify socket
 *   3. actions: spawn, stop ladder, exit handling (restart policy,
 *      exponential backoff with jitter, max-restarts in a window -> fatal)
 *   4. the table: table[state][event] -> action; an empty cell ignores
 *      the event (logged at debug level), so every transition is visible
 *      in one place
 *   5. life cycle: log files, the plan, the cgroup and its limits,
 *      create, destroy, update on reload
 *   6. status
 *
 * Invariants:
 *   - s->child is the current run of the child, NULL in STOPPED, BACKOFF,
 *     EXITED and FATAL; a run whose service let go of it (r->svc == NULL)
 *     closes its handles and frees itself.
 *   - s->timer serves one purpose per state: BACKOFF the restart delay,
 *     STARTING the readiness delay or deadline, STOPPING the stop ladder.
 *     Every transition stops it first (set_state).
 *   - The supervisor is told of every state change (svc_sup_state_changed)
 *     and decides what else may start or stop (dependencies).
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#define DRAIN_GRACE_MS 500      /* after an exit, wait this long for EOF */
#define TCP_READY_RETRY_MS 100  /* between readiness connection attempts */

static const char *const state_names[SVC_NSTATES] = {
    "stopped", "starting", "running", "backoff", "stopping", "exited",
    "fatal"};
static const char *const event_names[SVC_NEVENTS] = {
    "start", "stop", "restart", "exit", "ready", "timeout", "health",
    "hook", "watchdog"};

const char *svc_state_name(svc_state s) {
  return (unsigned)s < SVC_NSTATES ? state_names[s] : "unknown";
}

const char *svc_event_name(svc_event e) {
  return (unsigned)e < SVC_NEVENTS ? event_names[e] : "unknown";
}

static void slog(svc_service_t *s, vg_log_level lvl, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void slog(svc_service_t *s, vg_log_level lvl, const char *fmt, ...) {
  char msg[512];
  const char *kv[] = {"service", s->name, NULL};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  vg_log_kv(s->sup->log, lvl, "service", kv, "%s: %s", s->name, msg);
}

/* ---- small helpers -------------------------------------------------------- */

static uint64_t now_ms(const svc_service_t *s) { return vg_now(s->sup->loop); }

/* The states an event names on entry (started and exited are said where
 * the process starts and ends; health-failed where a check fails). */
static void events_of_state(svc_service_t *s, svc_state st) {
  long pid = s->child ? s->child->proc.pid : 0;
  if (st == SVC_RUNNING)
    svc_events_emit(s, SVC_EVK_RUNNING, pid);
  else if (st == SVC_BACKOFF)
    svc_events_emit(s, SVC_EVK_RESTARTING, 0);
  else if (st == SVC_FATAL)
    svc_events_emit(s, SVC_EVK_FATAL, 0);
  else if (st == SVC_STOPPED)
    svc_events_emit(s, SVC_EVK_STOPPED, 0);
}

static void set_state(svc_service_t *s, svc_state st) {
  svc_state old = s->state;
  vg_timer_stop(&s->timer);
  s->state = st;
  if (old != st)
    svc_sup_state_changed(s->sup, s, old);
  /* backoff and fatal are entered anew from themselves (a start from
   * there that fails again): each entry is an event, one restart
   * scheduled or one more failure, as the restart counter says. */
  if (old != st || st == SVC_BACKOFF || st == SVC_FATAL)
    events_of_state(s, st);
}

/* The loop's time is read once per iteration, after the wait: callbacks
 * that ran before this one in the same iteration (a burst of exits, a
 * status of many services) may have taken milliseconds, and a backoff,
 * start or stop deadline must count from now, not from the wait's end.
 * One clock read (vDSO) per state change is nothing beside a spawn. */
static void arm(svc_service_t *s, uint64_t ms, vg_timer_cb cb) {
  vg_update_time(s->sup->loop);
  vg_timer_start(&s->timer, cb, ms, 0);
}

static void on_state_timer(vg_timer_t *t) {
  svc_service_event(t->data, SVC_EV_TIMEOUT);
}

/* ---- the parts only some services use ------------------------------------ */

static void reason_put(svc_service_t *s, const char *text);
static void hook_fail_clear(svc_service_t *s);

/* A handle of the service has closed; the last one of a service being
 * freed frees it (and what hangs off it). */
static void service_unref(svc_service_t *s) {
  if (--s->handles == 0 && s->removing) {
    svc_restarts_free(&s->restart.hist);
    free(s->limit.say);
    reason_put(s, NULL);
    hook_fail_clear(s);
    free(s->checks.ready_last);
    free(s);
  }
}

static void service_handle_closed(vg_handle_t *h) {
  service_unref(h->data);
}

static void aux_timer_closed(vg_handle_t *h) {
  svc_service_t *s = h->data;
  free(h);
  service_unref(s);
}

/* A timer only some services need (<watchdog>, <schedule>, the checks),
 * allocated at its first use; NULL (said) when memory runs out. */
static vg_timer_t *aux_timer(svc_service_t *s, vg_timer_t **tp) {
  vg_timer_t *t = *tp;
  if (t)
    return t;
  if (!(t = malloc(sizeof *t))) {
    vg_log(s->sup->log, VG_LOG_ERROR, "service", "%s: out of memory for "
           "a timer", s->name);
    return NULL;
  }
  vg_timer_init(s->sup->loop, t);
  t->data = s;
  s->handles++;
  *tp = t;
  return t;
}

/* No longer needed: stopped now, freed once closed. */
static void aux_timer_drop(vg_timer_t **tp) {
  if (*tp) {
    vg_close((vg_handle_t *)*tp, aux_timer_closed);
    *tp = NULL;
  }
}

static void aux_timer_stop(vg_timer_t *t) {
  if (t)
    vg_timer_stop(t);
}

/* A text kept for later (a failure's), or NULL: set, replaced or
 * cleared; *p is malloc'd or NULL.  Out of memory, the text is lost,
 * which costs a message, not a state. */
static void text_set(char **p, const char *text) {
  char *n = NULL;
  if (text && *text) {
    size_t len = strlen(text);
    if ((n = malloc(len + 1)) != NULL)
      memcpy(n, text, len + 1);
  }
  free(*p);
  *p = n;
}

static void reason_put(svc_service_t *s, const char *text) {
  char *old = *s->reason ? (char *)s->reason : NULL;
  char *n = NULL;
  if (!strcmp(s->reason, text ? text : ""))
    return;   /* the same (a service waiting for a dependency) */
  text_set(&n, text);
  s->reason = n ? n : "";
  free(old);
}

void svc_service_set_reason(svc_service_t *s, const char *fmt, ...) {
  char buf[SVC_REASON_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);   /* fmt's arguments may be it */
  va_end(ap);
  reason_put(s, buf);
}

/* xorshift64*: jitter only, seeded from the clock. */
static uint64_t rnd(void) {
  static uint64_t x;
  if (x == 0)
    x = pal_hrtime() | 1;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  return x * 2685821657736338717ull;
}

/* ---- 1. the child -------------------------------------------------------- */

static void child_free_if_done(svc_child_t *r) {
  if (r->open == 0 && r->svc == NULL)
    free(r);
}

static void child_handle_closed(vg_handle_t *h) {
  svc_child_t *r = h->data;
  r->open--;
  child_free_if_done(r);
}

static void child_cap_closed(svc_logcap_t *cap) {
  svc_child_t *r = cap->data;
  r->open--;
  child_free_if_done(r);
}

static void child_close_handle(svc_child_t *r, vg_handle_t *h) {
  if (!vg_is_closing(h)) {
    h->data = r;
    vg_close(h, child_handle_closed);
  }
}

/* The run's timer (the drain grace after its exit, a hook's timeout),
 * allocated when needed: most runs end with their pipes at EOF and
 * need none. */
static void child_timer_closed(vg_handle_t *h) {
  svc_child_t *r = h->data;
  free(h);
  r->open--;
  child_free_if_done(r);
}

static vg_timer_t *child_timer(svc_child_t *r, vg_loop_t *loop) {
  vg_timer_t *t = r->timer;
  if (!t && (t = malloc(sizeof *t)) != NULL) {
    vg_timer_init(loop, t);
    t->data = r;
    r->open++;
    r->timer = t;
  }
  return t;
}

static void child_timer_close(svc_child_t *r) {
  if (r->timer) {
    vg_close((vg_handle_t *)r->timer, child_timer_closed);
    r->timer = NULL;
  }
}

static void child_close_caps(svc_child_t *r) {
  if (svc_logcap_is_open(&r->out))
    svc_logcap_close(&r->out, child_cap_closed);
  if (svc_logcap_is_open(&r->err))
    svc_logcap_close(&r->err, child_cap_closed);
}

static void hook_ended(svc_child_t *r);
static void hooks_run(svc_service_t *s, cfg_hook_when when, int from,
                      int gate);
static void watchdog_stop(svc_service_t *s);

/* The child's exit, with its output drained: tell the table (a hook's:
 * hook_ended()). */
static void child_report(svc_child_t *r) {
  svc_service_t *s = r->svc;
  if (r->reported)
    return;
  r->reported = 1;
  child_timer_close(r);
  /* Whatever still holds a pipe after the grace does not delay the exit
   * any longer; what it writes from now on is lost. */
  child_close_caps(r);
  if (!s) {
    child_free_if_done(r);
    return;
  }
  if (r->hook) {
    hook_ended(r);
    return;
  }
  if (r->attach == SVC_RUN_LAUNCHER) {
    /* Not the service's end: attach.c reads the pid file next. */
    s->child = NULL;
    r->svc = NULL;
    svc_attach_launched(s, r->code, r->sig);
    child_free_if_done(r);
    return;
  }
  watchdog_stop(s);
  s->last.has = 1;
  s->last.code = r->code;
  s->last.signal = r->sig;
  s->last.oom = r->oom_killed;
  s->last.at = apr_time_now();
  s->child = NULL;
  r->svc = NULL;
  /* The process is gone, whatever ended it: post-stop hooks start now,
   * before the table may start the next run. */
  hooks_run(s, CFG_HOOK_POST_STOP, 0, 0);
  svc_events_emit(s, SVC_EVK_EXITED, r->pid);
  svc_service_event(s, SVC_EV_EXIT);
  child_free_if_done(r);
}

static void on_drain_timeout(vg_timer_t *t) {
  child_report(t->data);
}

static void on_drained(svc_logcap_t *cap) {
  svc_child_t *r = cap->data;
  r->drains--;
  r->open--;
  if (r->exited && r->drains == 0)
    child_report(r);
  else
    child_free_if_done(r);
}

/* A new invocation id for the run about to start (as systemd's
 * INVOCATION_ID: 128 random bits in hex).  Every process of the run
 * inherits it in its environment, which is how, without a cgroup, what
 * left the process group is still found at stop (proc_tree.c).  A hook
 * gets its own: the sweep after the service's exit must not reach it. */
static void new_invocation(char id[33]) {
  static const char hex[] = "0123456789abcdef";
  /* The random bytes of 64 ids, read at once: one system call per 64
   * spawns, not one each (a crash loop restarts every millisecond).
   * Loop thread only. */
  static unsigned char pool[64 * 16];
  static size_t used = sizeof pool;
  unsigned char b[16];
  size_t i;
  if (used == sizeof pool &&
      apr_generate_random_bytes(pool, sizeof pool) == APR_SUCCESS)
    used = 0;
  if (used < sizeof pool) {
    memcpy(b, pool + used, sizeof b);
    memset(pool + used, 0, sizeof b);   /* each id used once */
    used += sizeof b;
  } else {
    uint64_t x = rnd(), y = rnd();   /* unique is what matters */
    memcpy(b, &x, 8);
    memcpy(b + 8, &y, 8);
  }
  for (i = 0; i < sizeof b; i++) {
    id[2 * i] = hex[b[i] >> 4];
    id[2 * i + 1] = hex[b[i] & 15];
  }
  id[32] = '\0';
}

/* The search for what a run left outside its process group, where no
 * cgroup holds its tree (pal_proc_kill_escaped_all): without cgroups it
 * walks /proc, milliseconds on a busy host and more the more processes
 * it has, so it runs on the thread pool, never on the loop.  One search
 * at a time: what is asked while it runs waits, and the next search
 * covers all of it in one walk -- a shutdown of N services, or a crash
 * loop, costs one walk per search, not one per signal.  Each entry keeps
 * its order (a stop signal, then SIGCONT; SIGKILL last).  A run that
 * has exited is searched for by its mark alone (pid 0), since its pid
 * and group may be reused by then (what was still in the group was
 * killed with it).  The drain grace bounds how long a pipe such a
 * process holds can delay an exit's report.  Loop thread only (one
 * supervisor a process). */
#define MARK_LEN sizeof ((svc_child_t *)0)->mark
typedef struct escape_s {
  long pid, pgid;
  uint64_t start;               /* pal_proc_start_id(pid) when asked */
  int signum;
  char mark[MARK_LEN];
} escape_t;

typedef struct escape_work_s {
  vg_work_t work;
  apr_status_t rv;              /* the worker's, read after it */
  size_t n;
  escape_t v[];
} escape_work_t;

static struct {
  int busy;                     /* a search is under way */
  int unsupported;              /* the platform has no such search */
  escape_t *pending;            /* for the next one */
  size_t n, cap;
  vg_timer_t timer;             /* ESCAPE_DELAY_MS after an exit */
  vg_loop_t *timer_loop;        /* the loop it was made on, or NULL */
  int urgent;                   /* a signal to a running child pends */
  int closed;                   /* the supervisor is ending: no timer */
} sweeps;

/* The search after an exit waits this long, so that a crash loop (a
 * program that exits at once, restarted at once) pays for one search per
 * ESCAPE_DELAY_MS instead of one per exit, and the pool thread and the
 * wake-up of the loop after it stay off the exit->spawn path, where they
 * competed with the new child for the CPUs.  What escaped lives that
 * much longer; the signals of a stop (a pid still running) are sent at
 * once. */
#define ESCAPE_DELAY_MS 10

/* Any thread: touches nothing but its arguments.  PAL_EUNSUPPORTED if
 * the platform has no such search. */
static apr_status_t escape_run(const escape_t *v, size_t n) {
  pal_escape_t b[64];
  size_t i, k;
  for (i = 0; i < n; i += k) {
    for (k = 0; k < 64 && i + k < n; k++) {
      b[k].pid = v[i + k].pid;
      b[k].pgid = v[i + k].pgid;
      b[k].start = v[i + k].start;
      b[k].mark = v[i + k].mark;
      b[k].signum = v[i + k].signum;
    }
    if (pal_proc_kill_escaped_all(b, k, NULL) == PAL_EUNSUPPORTED)
      return PAL_EUNSUPPORTED;
  }
  return APR_SUCCESS;
}

static void escape_work(vg_work_t *w) {
  escape_work_t *e = w->data;
  e->rv = escape_run(e->v, e->n);
}

static void sweep_next(vg_loop_t *loop);

static void escape_after(vg_work_t *w, apr_status_t status) {
  escape_work_t *e = w->data;
  vg_loop_t *loop = w->loop;
  (void)status;
  if (e->rv == PAL_EUNSUPPORTED)
    sweeps.unsupported = 1;
  free(e);
  sweeps.busy = 0;
  sweep_next(loop);
}

/* Hand the pending searches to the pool (or, out of memory, run them
 * now: late is worse than slow). */
static void sweep_start(vg_loop_t *loop) {
  size_t n = sweeps.n;
  escape_work_t *e = malloc(sizeof *e + n * sizeof(escape_t));
  sweeps.n = 0;
  sweeps.urgent = 0;
  if (e) {
    memcpy(e->v, sweeps.pending, n * sizeof(escape_t));
    e->n = n;
    e->work.data = e;
    if (vg_queue_work(loop, &e->work, escape_work, escape_after) ==
        APR_SUCCESS) {
      sweeps.busy = 1;
      return;
    }
    free(e);
  }
  if (escape_run(sweeps.pending, n) == PAL_EUNSUPPORTED)
    sweeps.unsupported = 1;
}

static void on_sweep_timer(vg_timer_t *t) {
  if (sweeps.n && !sweeps.busy)
    sweep_start(t->loop);
}

/* Arm (or find armed) the timer that starts the search after an exit:
 * 0 if there is none (the supervisor has ended: its handles are closed;
 * then the search starts now). */
static int sweep_delay(vg_loop_t *loop) {
  vg_timer_t *t = &sweeps.timer;
  if (sweeps.closed)
    return 0;
  if (!sweeps.timer_loop) {
    if (vg_timer_init(loop, t) != APR_SUCCESS)
      return 0;
    vg_unref((vg_handle_t *)t);   /* never what keeps the loop running */
    sweeps.timer_loop = loop;
  }
  if (sweeps.timer_loop != loop || vg_is_closing((vg_handle_t *)t))
    return 0;
  if (!vg_is_active((vg_handle_t *)t) &&
      vg_timer_start(t, on_sweep_timer, ESCAPE_DELAY_MS, 0) != APR_SUCCESS)
    return 0;
  return 1;
}

/* Start the search for what pends, now if a running child is to be
 * signalled, else after ESCAPE_DELAY_MS. */
static void sweep_next(vg_loop_t *loop) {
  if (sweeps.n && (sweeps.urgent || !sweep_delay(loop)))
    sweep_start(loop);
}

void svc_service_sweeps_close(void) {
  sweeps.closed = 1;
  if (sweeps.timer_loop && !vg_is_closing((vg_handle_t *)&sweeps.timer))
    vg_close((vg_handle_t *)&sweeps.timer, NULL);
  if (sweeps.n && !sweeps.busy && sweeps.timer_loop)
    sweep_start(sweeps.timer_loop);   /* what waited for the timer */
}

static void escape_later(vg_loop_t *loop, long pid, long pgid,
                         const char *mark, int signum) {
  escape_t *x;
  if (sweeps.unsupported)
    return;
  if (sweeps.n == sweeps.cap) {
    size_t cap = sweeps.cap ? sweeps.cap * 2 : 16;
    escape_t *p = realloc(sweeps.pending, cap * sizeof *p);
    if (!p) {
      escape_t one;
      one.pid = pid;
      one.pgid = pgid;
      one.start = 0;   /* searched now: the pid is still the child's */
      one.signum = signum;
      snprintf(one.mark, sizeof one.mark, "%s", mark);
      if (escape_run(&one, 1) == PAL_EUNSUPPORTED)
        sweeps.unsupported = 1;
      return;
    }
    sweeps.pending = p;
    sweeps.cap = cap;
  }
  x = &sweeps.pending[sweeps.n++];
  x->pid = pid;
  x->pgid = pgid;
  /* Searched later, maybe after the child is gone and its pid reused. */
  x->start = pid > 0 ? pal_proc_start_id(pid) : 0;
  if (pid > 0 && x->start == 0)
    x->pid = x->pgid = 0;   /* gone already (or not Linux): the mark */
  x->signum = signum;
  snprintf(x->mark, sizeof x->mark, "%s", mark);
  if (x->pid > 0)
    sweeps.urgent = 1;
  if (!sweeps.busy)   /* else escape_after() starts the next one */
    sweep_next(loop);
}

/* Signal the run's whole tree: its process group now and, where no
 * cgroup holds the tree, what left the group (a daemon that setsid()s
 * away) through the search above.  A cgroup, when there is one, is the
 * caller's to signal. */
static apr_status_t child_signal(svc_child_t *r, const char *cgroup, int sig) {
  apr_status_t rv = vg_process_kill_tree(&r->proc, sig);
  if (cgroup)
    pal_cgroup_signal(cgroup, sig, pal_proc_group(&r->proc.proc));
  else if (!r->exited && r->attach != SVC_RUN_ATTACHED)
    escape_later(r->proc.loop, r->proc.pid, pal_proc_group(&r->proc.proc),
                 r->mark, sig);
  return rv;
}

static void limit_event(svc_service_t *s, int which);

/* With a cgroup: did its OOM killer strike during this run? */
static int cgroup_oom_since_spawn(svc_service_t *s) {
  pal_cgroup_stat_t st;
  return s->cg.path && (s->sup->cgroup_ctrl & PAL_CGROUP_MEMORY) &&
         pal_cgroup_stat(s->cg.path, &st) == APR_SUCCESS &&
         st.oom_kills > s->cg.oom_base;
}

static void on_child_exit(vg_process_t *p, int code, int sig) {
  svc_child_t *r = p->data;
  svc_service_t *s = r->svc;
  r->exited = 1;
  r->code = code;
  r->sig = sig;
  /* Whatever the child left in its process group goes with it: no orphan
   * of a dead service lingers (systemd's KillMode=control-group), and the
   * pipes it may hold reach EOF now.  (The group id cannot have been
   * reused: members keep it alive, and without members the kill finds
   * nothing.)  What left the group (setsid) is in the cgroup, or else
   * found by its invocation id.  Not so for type="attach": the daemon
   * its launcher started is what the launcher leaves behind, and an
   * attached daemon's group and marks are not ours. */
  if (r->attach)
    s = NULL;
  else
    vg_process_kill_tree(p, VG_SIGKILL);
  if (r->hook)
    s = NULL;   /* a hook's run: not in the service's cgroup */
  if (!r->attach && (!s || !s->cg.path))
    escape_later(p->loop, 0, 0, r->mark, VG_SIGKILL);
  if (s && s->cg.path) {
    pal_cgroup_kill(s->cg.path);
    if (cgroup_oom_since_spawn(s)) {
      r->oom_killed = sig != 0;   /* else a helper of it was the victim */
      limit_event(s, PAL_LIMIT_OOM_KILL);
    }
  }
  child_close_handle(r, (vg_handle_t *)p);
  if (r->drains == 0) {
    child_report(r);
  } else if (!r->hook && !child_timer(r, p->loop)) {
    child_report(r);   /* out of memory: no grace for the pipes */
  } else {
    /* (A hook's timer, its timeout until now, becomes the grace.) */
    vg_timer_start(r->timer, on_drain_timeout, DRAIN_GRACE_MS, 0);
  }
}

/* The OS says the child's tree reached a limit (Windows job messages). */
static void on_limit(vg_process_t *p, int which) {
  svc_child_t *r = p->data;
  if (r->svc)
    limit_event(r->svc, which);
}

/* The environment of a child: the supervisor's own, with the service's
 * variables over it (`vars`, one per name: svc_plan_env), then
 * VIGIL_SERVICE, VIGIL_INVOCATION_ID and NOTIFY_SOCKET; the service's own
 * process (not its checks) also gets WATCHDOG_USEC.  A hook (`hook`: its
 * when, or -1) gets VIGIL_HOOK and its own invocation id `id`, and neither
 * of the notify variables: what it would send is not the service's to
 * say. */
static const char *const *child_env(svc_service_t *s,
                                    const apr_array_header_t *vars,
                                    apr_pool_t *pool, int hook, int main,
                                    const char *id) {
  static const char *const whens[CFG_HOOK_NWHEN] = {
      "pre-start", "post-start", "pre-stop", "post-stop"};
  const char *const *base = pal_environ();
  const char *const *own = (const char *const *)vars->elts;
  apr_array_header_t *env = apr_array_make(pool, 64, sizeof(const char *));
  int i;
  for (; base && *base; base++) {
    const char *e = *base;
    const char *eq = strchr(e, '=');
    size_t n = eq ? (size_t)(eq - e) : strlen(e);
    int overridden = 0;
    for (i = 0; i < vars->nelts && !overridden; i++)
      overridden = strncmp(own[i], e, n) == 0 && own[i][n] == '=';
    if (!overridden && !(n == 13 && strncmp(e, "VIGIL_SERVICE", 13) == 0) &&
        !(n == 13 && strncmp(e, "NOTIFY_SOCKET", 13) == 0) &&
        !(n == 13 && strncmp(e, "WATCHDOG_USEC", 13) == 0) &&
        !(n == 12 && strncmp(e, "WATCHDOG_PID", 12) == 0) &&
        !(n == 10 && strncmp(e, "VIGIL_HOOK", 10) == 0) &&
        !(n == 19 && strncmp(e, "VIGIL_INVOCATION_ID", 19) == 0))
      APR_ARRAY_PUSH(env, const char *) = e;
  }
  for (i = 0; i < vars->nelts; i++)
    APR_ARRAY_PUSH(env, const char *) = own[i];
  APR_ARRAY_PUSH(env, const char *) =
      apr_pstrcat(pool, "VIGIL_SERVICE=", s->name, NULL);
  if (id[0])
    APR_ARRAY_PUSH(env, const char *) =
        apr_pstrcat(pool, "VIGIL_INVOCATION_ID=", id, NULL);
  if (hook >= 0 && hook < CFG_HOOK_NWHEN)
    APR_ARRAY_PUSH(env, const char *) =
        apr_pstrcat(pool, "VIGIL_HOOK=", whens[hook], NULL);
  if (s->notify && hook < 0)
    APR_ARRAY_PUSH(env, const char *) =
        apr_pstrcat(pool, "NOTIFY_SOCKET=", s->notify->name, NULL);
  /* No WATCHDOG_PID: the child's pid is not known before the spawn, and
   * sd_watchdog_enabled(3) takes its absence as "meant for me". */
  if (main && s->cfg->watchdog_ms)
    APR_ARRAY_PUSH(env, const char *) =
        apr_psprintf(pool, "WATCHDOG_USEC=%" APR_UINT64_T_FMT,
                     (apr_uint64_t)s->cfg->watchdog_ms * 1000u);
  APR_ARRAY_PUSH(env, const char *) = NULL;
  return (const char *const *)env->elts;
}

apr_status_t svc_service_env(svc_service_t *s, apr_pool_t *pool,
                             const char *const **env,
                             vg_process_options_t *as, const char **why) {
  apr_array_header_t *vars;
  svc_creds_t cr;
  apr_status_t rv;
  int line;
  /* As for the child: its user's variables and its <env-file>s, read
   * now. */
  if ((rv = svc_plan_creds(s->cfg, &cr, pool, why, &line)) != APR_SUCCESS ||
      (rv = svc_plan_env(s->plan, &cr, pool, &vars, why, &line)) !=
          APR_SUCCESS)
    return rv;
  *env = child_env(s, vars, pool, -1, 0, s->invocation);
  if (as) {
    memset(as, 0, sizeof *as);
    as->flags = cr.flags | (s->plan->sched_flags & VG_PROCESS_UMASK);
    as->uid = cr.uid;
    as->gid = cr.gid;
    as->groups = cr.groups;
    as->ngroups = cr.ngroups;
    as->umask = s->plan->umask;
  }
  return APR_SUCCESS;
}

/* stdio for one stream: a capture into `lf` when the target is a file. */
static void stdio_for(svc_child_t *r, vg_loop_t *loop,
                      const cfg_log_target_t *t, svc_logfile_t *lf,
                      svc_logcap_t *cap, vg_stdio_t *out) {
  memset(out, 0, sizeof *out);
  if (t->kind == CFG_LOG_FILE && lf &&
      svc_logcap_init(loop, cap) == APR_SUCCESS) {
    out->kind = VG_STDIO_PIPE;
    out->pipe = &cap->pipe;
    cap->data = r;
    r->open++;
    return;
  }
  out->kind = t->kind == CFG_LOG_INHERIT ? VG_STDIO_INHERIT
                                         : VG_STDIO_IGNORE;
}

static void on_hook_timeout(vg_timer_t *t);

/* Spawn the child, or with `hook` one of its hooks (same user, environment,
 * directory and log files; not its limits or cgroup, which are the
 * service's own process tree's).  On failure nothing is left running and
 * the status says why; when what failed comes before the spawn itself
 * (the user database, an <env-file>), *why says it in a sentence (in
 * SVC_REASON_MAX), else it is "". */
static apr_status_t child_spawn(svc_service_t *s, const cfg_hook_t *hook,
                                char *why, size_t wsize) {
  svc_sup_t *sup = s->sup;
  const cfg_service_t *c = s->cfg;
  const cfg_log_target_t *errt;
  svc_logfile_t *errlf;
  vg_process_options_t o;
  vg_limits_t limits;
  apr_array_header_t *vars;
  svc_creds_t cr;
  const char *prep;
  apr_pool_t *tmp;
  svc_child_t *r;
  apr_status_t rv;
  int line;
  char hook_id[33];
  const char *id = s->invocation;

  why[0] = '\0';
  apr_pool_create(&tmp, sup->pool);
  /* Resolved and read now, at each start: a user's groups and the
   * <env-file>s may have changed since the load. */
  if ((rv = svc_plan_creds(c, &cr, tmp, &prep, &line)) != APR_SUCCESS ||
      (rv = svc_plan_env(s->plan, &cr, tmp, &vars, &prep, &line)) !=
          APR_SUCCESS) {
    snprintf(why, wsize, "%s", prep);
    apr_pool_destroy(tmp);
    return rv;
  }
  r = calloc(1, sizeof *r);
  if (!r) {
    apr_pool_destroy(tmp);
    return APR_ENOMEM;
  }

  if (hook) {
    new_invocation(hook_id);
    id = hook_id;
  } else {
    new_invocation(s->invocation);
  }
  snprintf(r->mark, sizeof r->mark, "VIGIL_INVOCATION_ID=%s", id);
  memset(&o, 0, sizeof o);
  o.file = hook ? hook->cmd.command : c->command;
  o.args = hook ? s->plan->hook_argv[hook - &APR_ARRAY_IDX(c->hooks, 0,
                                                           cfg_hook_t)]
                : s->plan->argv;
  o.env = child_env(s, vars, tmp, hook ? (int)hook->when : -1, !hook, id);
  o.cwd = c->workdir;
  /* Own process group: the stop ladder and the leftover sweep reach the
   * whole tree.  PDEATHSIG: if the supervisor is killed, so is the child
   * (Linux; Windows job objects do the same). */
  o.flags = VG_PROCESS_NEW_GROUP | VG_PROCESS_PDEATHSIG |
            VG_PROCESS_SEARCH_PATH | cr.flags | s->plan->sched_flags;
  o.uid = cr.uid;
  o.gid = cr.gid;
  o.groups = cr.groups;
  o.ngroups = cr.ngroups;
  o.umask = s->plan->umask;
  o.nice = s->plan->nice;
  o.cpus = &s->plan->cpus;
  o.stdio[0].kind = VG_STDIO_IGNORE;
  /* stdout per its target; stderr per its own, or -- stderr="stdout" --
   * per stdout's: a second capture into the same file, so each stream
   * keeps its own partial line. */
  stdio_for(r, sup->loop, &c->log.out, s->logs.out, &r->out, &o.stdio[1]);
  errt = c->log.err.kind == CFG_LOG_STDOUT ? &c->log.out : &c->log.err;
  errlf = c->log.err.kind == CFG_LOG_STDOUT ? s->logs.out : s->logs.err;
  stdio_for(r, sup->loop, errt, errlf, &r->err, &o.stdio[2]);
  /* Limits as the plan placed them (the cgroup holds the rest). */
  limits = s->plan->limits;
  if (s->plan->has_limits && !hook)
    o.limits = &limits;
  o.cgroup = hook ? NULL : s->cg.path;
  if (o.cgroup) {
    /* Its counters are cumulative: this run's share starts here. */
    pal_cgroup_stat_t st;
    if (pal_cgroup_stat(s->cg.path, &st) == APR_SUCCESS) {
      s->cg.oom_base = st.oom_kills;
      s->cg.cpu_base = st.cpu_usec;
    }
  }
  o.exit_cb = on_child_exit;
  o.limit_cb = on_limit;
  r->proc.data = r;

  /* A hook's timeout is armed at once: its timer first. */
  rv = hook && !child_timer(r, sup->loop) ? APR_ENOMEM
                                          : vg_spawn(sup->loop, &r->proc, &o);
  apr_pool_destroy(tmp);
  if (rv != APR_SUCCESS) {
    child_close_caps(r);   /* r frees itself when they have closed */
    child_timer_close(r);
    if (r->open == 0)
      free(r);
    return rv;
  }
  r->open++;   /* the process */
  r->pid = r->proc.pid;
  r->svc = s;
  r->start_ms = now_ms(s);

  /* A log daemon's records name the last process spawned: the
   * service's, or a hook's while it runs. */
  if (s->logs.out)
    svc_logfile_set_pid(s->logs.out, r->proc.pid);
  if (errlf && errlf != s->logs.out)
    svc_logfile_set_pid(errlf, r->proc.pid);
  if (o.stdio[1].kind == VG_STDIO_PIPE) {
    if (svc_logcap_start(&r->out, s->logs.out, on_drained) == APR_SUCCESS)
      r->drains++;
    else
      svc_logcap_close(&r->out, child_cap_closed);
  }
  if (o.stdio[2].kind == VG_STDIO_PIPE) {
    if (svc_logcap_start(&r->err, errlf, on_drained) == APR_SUCCESS)
      r->drains++;
    else
      svc_logcap_close(&r->err, child_cap_closed);
  }
  if (hook) {
    r->hook = (int)hook->when + 1;
    r->hook_index = (int)(hook - &APR_ARRAY_IDX(c->hooks, 0, cfg_hook_t));
    r->next_hook = s->hooks;
    s->hooks = r;
    vg_timer_start(r->timer, on_hook_timeout, hook->cmd.timeout_ms, 0);
    return APR_SUCCESS;
  }
  s->child = r;
  s->restart.up_since = r->start_ms;
  svc_sup_save_pids(sup);
  return APR_SUCCESS;
}

/* The service no longer wants this run (it is being freed): stop
 * listening; the run closes its handles and frees itself. */
static void child_detach(svc_child_t *r) {
  r->svc = NULL;
  child_close_caps(r);
  if (r->exited)
    child_report(r);
  else
    child_free_if_done(r);
}

/* ---- 1b. hooks ----------------------------------------------------------- */

static const char *const hook_names[CFG_HOOK_NWHEN] = {
    "pre-start", "post-start", "pre-stop", "post-stop"};

static void fmt_ms(char *buf, size_t size, uint64_t ms);

/* A hook past its timeout: its whole tree is killed; its end says so. */
static void on_hook_timeout(vg_timer_t *t) {
  svc_child_t *r = t->data;
  if (r->exited)
    return;
  r->timed_out = 1;
  child_signal(r, NULL, VG_SIGKILL);
}

/* Why the pre-start hooks failed (SVC_EV_HOOK then fails the start), or
 * NULL; out of memory, a text that says less but still fails it. */
static char hook_fail_oom[] = "a pre-start hook failed";

static void hook_fail_clear(svc_service_t *s) {
  if (s->hook_fail != hook_fail_oom)
    free(s->hook_fail);
  s->hook_fail = NULL;
}

static void hook_fail_set(svc_service_t *s, const char *why) {
  hook_fail_clear(s);
  text_set(&s->hook_fail, why);
  if (!s->hook_fail)
    s->hook_fail = hook_fail_oom;
}

/* Run the hooks of `when` from index `from` on, one after the other, in
 * file order.  With `gate`, the state machine waits for them: s->gate is
 * the one running, and SVC_EV_HOOK comes when none is left, or when a
 * pre-start hook failed (s->hook_fail says why).  Never blocks: each
 * hook is a spawned process; its end is hook_ended(). */
static void hooks_run(svc_service_t *s, cfg_hook_when when, int from,
                      int gate) {
  const apr_array_header_t *hs = s->cfg->hooks;
  char eb[SVC_REASON_MAX];
  int i;
  for (i = from; i < hs->nelts; i++) {
    const cfg_hook_t *h = &APR_ARRAY_IDX(hs, i, cfg_hook_t);
    char prep[SVC_REASON_MAX];
    apr_status_t rv;
    if (h->when != when)
      continue;
    rv = child_spawn(s, h, prep, sizeof prep);
    if (rv != APR_SUCCESS && prep[0])   /* its user, an <env-file> */
      snprintf(eb, sizeof eb, "%s", prep);
    else if (rv != APR_SUCCESS)
      vg_strerror(rv, eb, sizeof eb);
    if (rv == APR_SUCCESS) {
      s->hooks->chain = 1;
      s->hooks->timeout_ms = h->cmd.timeout_ms;
      if (gate)
        s->gate = s->hooks;
      slog(s, VG_LOG_INFO, "%s hook %s started, pid %ld", hook_names[when],
           h->cmd.command, s->hooks->proc.pid);
      return;
    }
    if (gate && when == CFG_HOOK_PRE_START) {
      char fail[SVC_REASON_MAX];   /* cut to the reason's size */
      if (snprintf(fail, sizeof fail, "pre-start hook %s could not run: %s",
                   h->cmd.command, eb) < 0)
        fail[0] = '\0';
      hook_fail_set(s, fail);
      s->gate = NULL;
      svc_service_event(s, SVC_EV_HOOK);
      return;
    }
    slog(s, VG_LOG_WARN, "%s hook %s could not run: %s", hook_names[when],
         h->cmd.command, eb);
  }
  if (gate) {
    s->gate = NULL;
    svc_service_event(s, SVC_EV_HOOK);
  }
}

/* A hook's run ended, its output drained: said in the log, and the next
 * hook of its kind runs.  A failed pre-start hook the state machine waits
 * for ends the chain: the start failed. */
static void hook_ended(svc_child_t *r) {
  svc_service_t *s = r->svc;
  svc_child_t **pp;
  cfg_hook_when when = (cfg_hook_when)(r->hook - 1);
  int gating = s->gate == r;
  int failed = r->timed_out || r->code != 0 || r->sig != 0;
  char what[128], d[32];
  for (pp = &s->hooks; *pp; pp = &(*pp)->next_hook)
    if (*pp == r) {
      *pp = r->next_hook;
      break;
    }
  r->svc = NULL;
  if (r->timed_out) {
    fmt_ms(d, sizeof d, r->timeout_ms);
    snprintf(what, sizeof what, "%s hook timed out after %s",
             hook_names[when], d);
  } else if (r->sig) {
    snprintf(what, sizeof what, "%s hook killed by signal %s",
             hook_names[when],
             vg_signal_name(r->sig) ? vg_signal_name(r->sig) : "?");
  } else {
    snprintf(what, sizeof what, "%s hook exited %d", hook_names[when],
             r->code);
  }
  /* A failed start says so itself (a_prestart_done). */
  if (!(gating && failed && when == CFG_HOOK_PRE_START &&
        s->state == SVC_STARTING))
    slog(s, failed ? VG_LOG_WARN : VG_LOG_INFO, "%s", what);
  if (gating) {
    s->gate = NULL;
    if (when == CFG_HOOK_PRE_START && s->state == SVC_STOPPING) {
      svc_service_event(s, SVC_EV_HOOK);   /* the stop waited for it */
    } else if (failed && when == CFG_HOOK_PRE_START) {
      hook_fail_set(s, what);
      svc_service_event(s, SVC_EV_HOOK);
    } else {
      hooks_run(s, when, r->hook_index + 1, 1);
    }
  } else if (r->chain) {
    hooks_run(s, when, r->hook_index + 1, 0);
  }
  child_free_if_done(r);
  /* A shutdown waits for the hooks too. */
  if (!s->hooks && s->sup->shutting_down)
    svc_sup_pump(s->sup);
}

/* The state machine no longer waits for its gate (an exit during the
 * pre-stop hooks; a_stop waits for a pre-start one): the hook runs on,
 * bounded by its timeout, and the hooks after it do not run. */
static void gate_cancel(svc_service_t *s) {
  svc_child_t *r = s->gate;
  if (!r)
    return;
  s->gate = NULL;
  r->chain = 0;
}

/* ---- 2. readiness and health --------------------------------------------- */

static void health_arm(svc_service_t *s);

static void on_ready_retry(vg_timer_t *t);

/* While STARTING, checks.timer paces the readiness attempts (health
 * checks only run in RUNNING). */
static void on_ready_probe(svc_probe_t *p, apr_status_t st,
                           const char *detail) {
  svc_service_t *s = p->data;
  vg_timer_t *t;
  if (st == VG_ECANCELED || s->state != SVC_STARTING)
    return;
  if (st == APR_SUCCESS) {
    svc_service_event(s, SVC_EV_READY);
    return;
  }
  /* Said once per reason, and kept for the timeout's message. */
  if (strcmp(detail, s->checks.ready_last ? s->checks.ready_last : "")) {
    slog(s, VG_LOG_INFO, "not ready yet: %s", detail);
    text_set(&s->checks.ready_last, detail);
  }
  /* Not yet: try again shortly; the state timer bounds the wait. */
  if ((t = aux_timer(s, &s->checks.timer)) != NULL)
    vg_timer_start(t, on_ready_retry, TCP_READY_RETRY_MS, 0);
}

static void ready_try(svc_service_t *s) {
  const cfg_ready_t *rd = &s->cfg->ready;
  apr_status_t rv;
  if (!s->checks.ready) {
    s->checks.ready = calloc(1, sizeof *s->checks.ready);
    if (!s->checks.ready)
      return;
    svc_probe_init(s->checks.ready);
    s->checks.ready->data = s;
  }
  if (svc_probe_busy(s->checks.ready))
    return;
  rv = svc_probe_tcp_at(s->checks.ready, s->sup->loop, s->plan->ready_target,
                        TCP_READY_RETRY_MS * 10, on_ready_probe);
  if (rv != APR_SUCCESS) {
    char eb[96], why[SVC_PROBE_DETAIL_MAX];
    snprintf(why, sizeof why, "cannot probe %s: %s", rd->target,
             vg_strerror(rv, eb, sizeof eb));
    text_set(&s->checks.ready_last, why);
    slog(s, VG_LOG_ERROR, "%s", why);
  }
}

static void on_ready_retry(vg_timer_t *t) {
  svc_service_t *s = t->data;
  if (s->state == SVC_STARTING && s->cfg->ready.kind == CFG_READY_TCP)
    ready_try(s);
}

static void on_health_probe(svc_probe_t *p, apr_status_t st,
                            const char *detail) {
  svc_service_t *s = p->data;
  if (st == VG_ECANCELED || s->state != SVC_RUNNING)
    return;
  if (st == APR_SUCCESS) {
    if (s->checks.health_fails)
      slog(s, VG_LOG_INFO, "health check passes again (%s)", detail);
    s->checks.health_fails = 0;
  } else {
    s->checks.health_fails++;
    s->checks.health_fails_total++;
    slog(s, VG_LOG_WARN, "health check failed (%u of %u): %s",
         s->checks.health_fails, s->cfg->health.failures, detail);
    if (s->checks.health_fails >= s->cfg->health.failures) {
      svc_service_set_reason(s, "restarted: health check failed %u times "
                             "(%s)", s->checks.health_fails, detail);
      svc_service_event(s, SVC_EV_HEALTH);
      return;
    }
  }
  health_arm(s);
}

static void on_health_timer(vg_timer_t *t) {
  svc_service_t *s = t->data;
  const cfg_health_t *h = &s->cfg->health;
  apr_status_t rv = APR_EINVAL;
  if (s->state != SVC_RUNNING)
    return;
  if (!s->checks.health) {
    s->checks.health = calloc(1, sizeof *s->checks.health);
    if (!s->checks.health)
      return;
    svc_probe_init(s->checks.health);
    s->checks.health->data = s;
  }
  if (svc_probe_busy(s->checks.health))
    return;
  switch (h->type) {
  case CFG_HEALTH_TCP:
    rv = svc_probe_tcp_at(s->checks.health, s->sup->loop,
                          s->plan->health_target, h->timeout_ms,
                          on_health_probe);
    break;
  case CFG_HEALTH_HTTP:
    rv = svc_probe_http_at(s->checks.health, s->sup->loop,
                           s->plan->health_target, h->timeout_ms,
                           on_health_probe);
    break;
  case CFG_HEALTH_EXEC: {
    /* As the service's own processes run, as its hooks and its <reload>
     * command do: its user, groups and umask, its variables (HOME, USER,
     * LOGNAME) and its <env-file>s read again.  Running it as vigil's
     * user (root) would hand a check that an unprivileged user may edit
     * root's rights.  A user or an env-file that cannot be read now is
     * said, and the check waits for its next turn: a problem there is
     * the next start's to report. */
    apr_pool_t *tmp;
    const char *const *env;
    vg_process_options_t as;
    const char *why = NULL;
    apr_pool_create(&tmp, s->sup->pool);
    if (svc_service_env(s, tmp, &env, &as, &why) != APR_SUCCESS) {
      slog(s, VG_LOG_ERROR, "cannot run health check: %s",
           why ? why : "its user or environment cannot be read");
      apr_pool_destroy(tmp);
      health_arm(s);
      return;
    }
    rv = svc_probe_exec_as(s->checks.health, s->sup->loop,
                           s->plan->health_argv, env, s->cfg->workdir, &as,
                           h->timeout_ms, on_health_probe);
    apr_pool_destroy(tmp);
    break;
  }
  default:
    return;
  }
  if (rv != APR_SUCCESS) {
    char eb[128];
    slog(s, VG_LOG_ERROR, "cannot run health check: %s",
         vg_strerror(rv, eb, sizeof eb));
    health_arm(s);
  }
}

static void health_arm(svc_service_t *s) {
  vg_timer_t *t;
  if (s->cfg->health.type == CFG_HEALTH_NONE || s->state != SVC_RUNNING)
    return;
  if ((t = aux_timer(s, &s->checks.timer)) != NULL)
    vg_timer_start(t, on_health_timer, s->cfg->health.interval_ms, 0);
}

static void checks_stop(svc_service_t *s) {
  aux_timer_stop(s->checks.timer);
  if (s->checks.health)
    svc_probe_cancel(s->checks.health);
  if (s->checks.ready)
    svc_probe_cancel(s->checks.ready);
  s->checks.health_fails = 0;
}

/* <watchdog>: one timer per service, re-armed by each WATCHDOG=1; never
 * polled.  Armed from READY=1 with notify readiness, else from the spawn
 * (systemd's WatchdogSec= counts from the start-up's end), and stopped
 * when the process is gone or being stopped. */
static void on_watchdog(vg_timer_t *t) {
  svc_service_t *s = t->data;
  s->watchdog_due = 0;
  svc_service_event(s, SVC_EV_WATCHDOG);
}

static void watchdog_arm(svc_service_t *s) {
  vg_timer_t *t;
  if (!s->cfg->watchdog_ms || !s->child || s->child->exited ||
      !(t = aux_timer(s, &s->watchdog)))
    return;
  vg_update_time(s->sup->loop);   /* counts from now (see arm()) */
  s->watchdog_due = vg_now(s->sup->loop) + s->cfg->watchdog_ms;
  vg_timer_start(t, on_watchdog, s->cfg->watchdog_ms, 0);
}

/* Disarmed; the timer goes once the config has no watchdog. */
static void watchdog_stop(svc_service_t *s) {
  aux_timer_stop(s->watchdog);
  s->watchdog_due = 0;
  if (!s->cfg->watchdog_ms)
    aux_timer_drop(&s->watchdog);
}

/* NOTIFY_SOCKET: a datagram socket per service that asks for it. */
static void notify_alloc(vg_handle_t *h, size_t sug, vg_buf_t *buf) {
  static char dgram[4096];   /* loop thread only; consumed in recv_cb */
  (void)h;
  (void)sug;
  buf->base = dgram;
  buf->len = sizeof dgram;
}

static void on_notify(vg_udp_t *u, apr_status_t st, size_t n,
                      const vg_buf_t *buf, const vg_addr_t *from) {
  svc_service_t *s = u->data;
  const char *p, *end;
  (void)from;
  if (st != APR_SUCCESS || n == 0 || !svc_notify_sender_ok(s))
    return;
  /* Newline-separated assignments, as sd_notify(3) sends them. */
  for (p = buf->base, end = buf->base + n; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (len == 7 && memcmp(p, "READY=1", 7) == 0) {
      /* Only where readiness is notify's to say (the socket may be open
       * for the watchdog alone), and not for a oneshot. */
      if (s->state == SVC_STARTING && s->child &&
          s->cfg->ready.kind == CFG_READY_NOTIFY &&
          s->cfg->type != CFG_TYPE_ONESHOT)
        svc_service_event(s, SVC_EV_READY);
    } else if (len == 10 && memcmp(p, "WATCHDOG=1", 10) == 0) {
      if (s->watchdog_due)
        watchdog_arm(s);
    } else if (len == 16 && memcmp(p, "WATCHDOG=trigger", 16) == 0) {
      /* systemd's: the service says it is stuck. */
      if (s->watchdog_due) {
        watchdog_stop(s);
        svc_service_event(s, SVC_EV_WATCHDOG);
        return;
      }
    } else if (len > 7 && memcmp(p, "STATUS=", 7) == 0) {
      svc_service_set_reason(s, "%.*s", (int)(len - 7), p + 7);
    }
    p += len + 1;
  }
}

static void notify_closed(vg_handle_t *h) {
  svc_service_t *s = h->data;
  free(h);   /* the record: udp is its first member */
  service_unref(s);
}

static apr_status_t notify_open(svc_service_t *s) {
  svc_notify_sock_t *n;
  vg_addr_t addr;
  apr_status_t rv;
  if (s->notify)
    return APR_SUCCESS;
  if (!(n = calloc(1, sizeof *n)))
    return APR_ENOMEM;
  /* The abstract namespace on Linux: no stale files, no permissions to
   * get wrong; elsewhere a socket file in the state directory. */
  snprintf(n->name, sizeof n->name, "@vigil-%ld-%s", pal_getpid(), s->name);
  rv = pal_addr_local(&addr, n->name);
  if (rv == PAL_EUNSUPPORTED) {
    snprintf(n->name, sizeof n->name, "%s/notify-%s.sock",
             s->sup->cfg->state_dir, s->name);
    apr_file_remove(n->name, s->sup->pool);
    rv = pal_addr_local(&addr, n->name);
  }
  if (rv == APR_SUCCESS)
    rv = vg_udp_init(s->sup->loop, &n->udp, PAL_AF_UNIX);
  if (rv != APR_SUCCESS) {
    free(n);
    return rv;
  }
  n->udp.data = s;
  s->handles++;
  rv = vg_udp_bind(&n->udp, &addr, PAL_BIND_PASSCRED);
  if (rv == APR_SUCCESS)
    rv = vg_udp_recv_start(&n->udp, notify_alloc, on_notify);
  if (rv != APR_SUCCESS) {
    vg_close((vg_handle_t *)&n->udp, notify_closed);
    return rv;
  }
  vg_unref((vg_handle_t *)&n->udp);
  s->notify = n;
  return APR_SUCCESS;
}

/* No longer needed (the service goes, or its next run neither notifies
 * nor has a watchdog): closed, and freed once its handle has closed. */
static void notify_close(svc_service_t *s) {
  svc_notify_sock_t *n = s->notify;
  if (!n)
    return;
  s->notify = NULL;
  if (n->name[0] != '@')
    apr_file_remove(n->name, s->sup->pool);
  vg_close((vg_handle_t *)&n->udp, notify_closed);
}

/* ---- 3. actions ---------------------------------------------------------- */

static void enter_fatal(svc_service_t *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void enter_fatal(svc_service_t *s, const char *fmt, ...) {
  char why[SVC_REASON_MAX];
  va_list ap;
  /* Formatted aside: an argument may be the reason itself (the cause the
   * new reason keeps). */
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  reason_put(s, why);
  slog(s, VG_LOG_ERROR, "fatal: %s", s->reason);
  svc_notify_event(s->sup, VG_LOG_ERROR, "service %s is fatal: %s", s->name,
                   s->reason);
  set_state(s, SVC_FATAL);
}

/* The first step of the stop ladder: the plan's, mapped for the
 * platform (pal_stop_signal). */
static int stop_signal(const svc_service_t *s) {
  return s->plan->stop_signal;
}

/* The first rung of the stop ladder: the stop signal to the whole tree,
 * then SIGCONT (as systemd does), so that a stopped process (SIGSTOP, a
 * debugger's ^Z) handles the signal now rather than being killed at the
 * timeout.  SIGCONT is not sent after KILL or CONT itself, nor where
 * there is no such signal (Windows). */
static apr_status_t stop_send_to(svc_service_t *s, svc_child_t *r,
                                 const char *cgroup) {
  int sig = stop_signal(s);
  apr_status_t rv = child_signal(r, cgroup, sig);
  if (sig != VG_SIGKILL && sig != PAL_SIGCONT && rv == APR_SUCCESS)
    child_signal(r, cgroup, PAL_SIGCONT);
  return rv;
}

static apr_status_t stop_send(svc_service_t *s) {
  return stop_send_to(s, s->child, s->cg.path);
}

static void schedule_restart(svc_service_t *s, vg_log_level lvl,
                             const char *why);

/* A limit the OS refused at spawn (a Windows CPU cap before Windows 8):
 * the child runs without it, and that is said once, not at every
 * restart. */
static void warn_unapplied(svc_service_t *s) {
  unsigned fresh = s->child->proc.proc.unapplied & ~s->limit.unapplied_said;
  if (fresh & (1u << PAL_LIMIT_CPU))
    slog(s, VG_LOG_WARN,
         "limit cpu=%u%% is not applied: this system refuses a job CPU "
         "rate cap (Windows 8 or later needed)",
         s->cfg->limits.cpu_percent);
  s->limit.unapplied_said |= fresh;
}

/* A start that failed (a pre-start hook, a spawn error, readiness or the
 * watchdog): the restart policy decides, as for a crash; with "never" it
 * stays `exited`. */
static void fail_start(svc_service_t *s, vg_log_level lvl, const char *why) {
  char buf[SVC_REASON_MAX];   /* why may be the reason itself */
  snprintf(buf, sizeof buf, "%s", why);
  slog(s, lvl, "start failed: %s", buf);
  if (s->cfg->restart.policy == CFG_RESTART_NEVER) {
    reason_put(s, buf);
    s->want_up = 0;
    set_state(s, SVC_EXITED);
  } else {
    schedule_restart(s, lvl, buf);   /* "...; restarting in N ms" */
  }
}

static void spawn_main(svc_service_t *s);

/* Start: the pre-start hooks first, if any (STARTING without a child
 * until they end: SVC_EV_HOOK), then the service's own process. */
static void a_spawn(svc_service_t *s) {
  s->stop_step = 0;
  s->restart_after_stop = 0;
  s->done = 0;
  s->restart.up_since = now_ms(s);   /* a failed start counts from here */
  hook_fail_clear(s);
  if (!s->gate) {
    int i;
    for (i = 0; i < s->cfg->hooks->nelts; i++)
      if (APR_ARRAY_IDX(s->cfg->hooks, i, cfg_hook_t).when ==
          CFG_HOOK_PRE_START) {
        set_state(s, SVC_STARTING);
        hooks_run(s, CFG_HOOK_PRE_START, 0, 1);
        return;
      }
  }
  spawn_main(s);
}

static void a_prestart_done(svc_service_t *s) {
  if (s->child)
    return;   /* not waiting for pre-start hooks */
  if (s->hook_fail) {
    fail_start(s, VG_LOG_WARN, s->hook_fail);
    hook_fail_clear(s);
    return;
  }
  spawn_main(s);
}

static void run_started(svc_service_t *s);

/* type="attach": a run that watches pid, a process we did not spawn. */
static apr_status_t child_attach(svc_service_t *s, long pid, uint64_t id) {
  svc_child_t *r = calloc(1, sizeof *r);
  apr_status_t rv;
  if (!r)
    return APR_ENOMEM;
  r->proc.data = r;
  rv = vg_process_attach(s->sup->loop, &r->proc, pid, id, on_child_exit);
  if (rv != APR_SUCCESS) {
    free(r);
    return rv;
  }
  r->attach = SVC_RUN_ATTACHED;
  r->open++;   /* the process */
  r->pid = pid;
  r->svc = s;
  r->start_ms = now_ms(s);
  s->child = r;
  s->restart.up_since = r->start_ms;
  svc_sup_save_pids(s->sup);   /* the launcher's line goes */
  return APR_SUCCESS;
}

void svc_service_attached(svc_service_t *s, long pid, uint64_t id) {
  char eb[128], why[SVC_REASON_MAX];
  apr_status_t rv = child_attach(s, pid, id);
  if (rv != APR_SUCCESS) {
    snprintf(why, sizeof why, "cannot watch pid %ld (from %s): %s%s%s%s",
             pid, s->cfg->pid_file, vg_strerror(rv, eb, sizeof eb),
             *pal_last_call() ? " (" : "", pal_last_call(),
             *pal_last_call() ? ")" : "");
    fail_start(s, VG_LOG_ERROR, why);
    return;
  }
  slog(s, VG_LOG_INFO, "attached to pid %ld (from %s)", pid,
       s->cfg->pid_file);
  run_started(s);
}

void svc_service_fail_start(svc_service_t *s, const char *why) {
  fail_start(s, VG_LOG_WARN, why);
}

static void spawn_main(svc_service_t *s) {
  apr_status_t rv;
  const cfg_ready_t *rd = &s->cfg->ready;
  /* Room for "cannot start: " before it in a reason. */
  char eb[128], prep[SVC_REASON_MAX - 16];
  char found[SVC_REASON_MAX];
  int launch = 0;
  if (s->cfg->type == CFG_TYPE_ATTACH) {
    uint64_t id;
    long pid;
    switch (svc_attach_find(s, &pid, &id, found, sizeof found)) {
    case SVC_PIDFILE_LIVE:
      svc_service_attached(s, pid, id);
      return;
    case SVC_PIDFILE_BAD:
      fail_start(s, VG_LOG_ERROR, found);
      return;
    default:
      launch = 1;   /* no daemon: <command> starts it */
    }
  }
  if (!launch && rd->kind != CFG_READY_NOTIFY && !s->cfg->watchdog_ms)
    notify_close(s);   /* a reload took away what it was for */
  else if (!launch && (rv = notify_open(s)) != APR_SUCCESS) {
    enter_fatal(s, "cannot open the notify socket: %s",
                vg_strerror(rv, eb, sizeof eb));
    return;
  }
  rv = child_spawn(s, NULL, prep, sizeof prep);
  if (rv != APR_SUCCESS && prep[0]) {
    /* Before the spawn (a user, an <env-file>): a failed start, through
     * the restart policy -- the file may be fixed, the user created. */
    char why[SVC_REASON_MAX];
    snprintf(why, sizeof why, "cannot start: %s", prep);
    fail_start(s, VG_LOG_ERROR, why);
    return;
  }
  if (rv != APR_SUCCESS) {
    const char *call = pal_last_call();
    char why[SVC_REASON_MAX];
    snprintf(why, sizeof why, "cannot run %s: %s%s%s%s", s->cfg->command,
             vg_strerror(rv, eb, sizeof eb), *call ? " (" : "", call,
             *call ? ")" : "");
    /* What no retry can fix is fatal at once; a missing program is
     * retried like a crash (systemd does so too): an install may bring
     * it, and max-restarts bounds the wait. */
    if (pal_spawn_permanent(rv)) {
      enter_fatal(s, "%s", why);
      return;
    }
    s->restart.up_since = now_ms(s);
    schedule_restart(s, VG_LOG_ERROR, why);
    return;
  }
  if (launch) {
    /* Its whole run, the pid file after it included, is bounded by the
     * start's deadline (a_starting_timeout). */
    s->child->attach = SVC_RUN_LAUNCHER;
    slog(s, VG_LOG_INFO, "%s; running %s to start it, pid %ld", found,
         s->cfg->command, s->child->proc.pid);
    set_state(s, SVC_STARTING);
    arm(s, rd->timeout_ms, on_state_timer);
    return;
  }
  slog(s, VG_LOG_INFO, "started, pid %ld", s->child->proc.pid);
  warn_unapplied(s);
  run_started(s);
}

/* The service's process runs (spawned, or attached to): STARTING until
 * its <ready> says. */
static void run_started(svc_service_t *s) {
  const cfg_ready_t *rd = &s->cfg->ready;
  set_state(s, SVC_STARTING);
  svc_events_emit(s, SVC_EVK_STARTED, s->child->proc.pid);
  if (rd->kind != CFG_READY_NOTIFY)
    watchdog_arm(s);
  if (s->cfg->type == CFG_TYPE_ONESHOT)
    return;   /* up when it exits 0; no start timeout (systemd's neither) */
  switch (rd->kind) {
  case CFG_READY_AFTER:
    arm(s, rd->after_ms, on_state_timer);
    break;
  case CFG_READY_TCP:
    arm(s, rd->timeout_ms, on_state_timer);
    text_set(&s->checks.ready_last, NULL);
    ready_try(s);
    break;
  case CFG_READY_NOTIFY:
    arm(s, rd->timeout_ms, on_state_timer);
    break;
  }
}

static void a_ready(svc_service_t *s) {
  if (!s->child)
    return;   /* its pre-start hooks still run */
  if (s->checks.ready)
    svc_probe_cancel(s->checks.ready);
  reason_put(s, NULL);
  slog(s, VG_LOG_INFO, "running");
  if (s->cfg->ready.kind == CFG_READY_NOTIFY)
    watchdog_arm(s);
  hooks_run(s, CFG_HOOK_POST_START, 0, 0);
  set_state(s, SVC_RUNNING);
  health_arm(s);
}

static void a_starting_timeout(svc_service_t *s) {
  const char *last = s->checks.ready_last;
  if (s->cfg->type == CFG_TYPE_ATTACH &&
      (!s->child || s->child->attach == SVC_RUN_LAUNCHER)) {
    /* Its launcher runs still, or its pid file names no daemon yet. */
    char why[SVC_REASON_MAX];
    svc_attach_timeout(s, why, sizeof why);
    svc_service_set_reason(s, "%s", why);
    if (!s->child) {
      fail_start(s, VG_LOG_WARN, s->reason);
      return;
    }
  } else if (s->cfg->ready.kind == CFG_READY_AFTER) {
    a_ready(s);
    return;
  } else {
    /* Not ready in time: a failed start.  Stop it; the exit counts. */
    svc_service_set_reason(s, "not ready within %llu ms%s%s%s",
                           (unsigned long long)s->cfg->ready.timeout_ms,
                           last ? " (last check: " : "", last ? last : "",
                           last ? ")" : "");
  }
  slog(s, VG_LOG_WARN, "%s; stopping it", s->reason);
  s->restart_after_stop = 0;
  s->failed_start = 1;   /* its exit goes through the restart policy */
  s->stop_step = 1;
  checks_stop(s);
  watchdog_stop(s);
  if (s->child)
    stop_send(s);
  set_state(s, SVC_STOPPING);
  arm(s, s->cfg->stop.timeout_ms, on_state_timer);
}

/* The stop ladder's first rung: the stop signal, then the stop timeout. */
static void stop_now(svc_service_t *s) {
  char eb[128];
  apr_status_t rv;
  if (s->stop_step != 3)   /* the deadline's kill is already on its way */
    s->stop_step = 1;
  rv = stop_send(s);
  if (rv != APR_SUCCESS && rv != VG_ENOPROC)
    slog(s, VG_LOG_WARN, "cannot send %s: %s%s%s%s",
         vg_signal_name(stop_signal(s)), vg_strerror(rv, eb, sizeof eb),
         *pal_last_call() ? " (" : "", pal_last_call(),
         *pal_last_call() ? ")" : "");
  set_state(s, SVC_STOPPING);
  arm(s, s->cfg->stop.timeout_ms, on_state_timer);
}

/* Stop: the pre-stop hooks first, if any (STOPPING with stop_step 0
 * until they end: SVC_EV_HOOK), then the ladder. */
static void a_stop(svc_service_t *s) {
  int i;
  checks_stop(s);
  watchdog_stop(s);
  s->restart_after_stop = 0;
  s->failed_start = 0;
  s->health_restart = 0;
  if (!s->child && s->gate && !s->gate->exited) {
    /* Its pre-start hook runs: it gets the stop signal, the hooks after
     * it do not run, and the service is `stopping` until it has ended
     * (the stop timeout's kill bounds it), so that no start runs a
     * second one beside it (systemd waits for ExecStartPre= too). */
    s->gate->chain = 0;
    s->stop_step = 1;
    stop_send_to(s, s->gate, NULL);
    set_state(s, SVC_STOPPING);
    arm(s, s->cfg->stop.timeout_ms, on_state_timer);
    return;
  }
  if (!s->child) {
    gate_cancel(s);
    set_state(s, SVC_STOPPED);
    return;
  }
  if (s->stop_step != 3 && !s->gate)
    for (i = 0; i < s->cfg->hooks->nelts; i++)
      if (APR_ARRAY_IDX(s->cfg->hooks, i, cfg_hook_t).when ==
          CFG_HOOK_PRE_STOP) {
        s->stop_step = 0;
        set_state(s, SVC_STOPPING);
        hooks_run(s, CFG_HOOK_PRE_STOP, 0, 1);
        return;
      }
  stop_now(s);
}

static void a_prestop_done(svc_service_t *s) {
  if (!s->child) {
    /* The pre-start hook a stop waited for has ended (a_stop). */
    svc_service_set_reason(s, "stopped during its pre-start hooks");
    s->stop_step = 0;
    if (s->restart_after_stop) {
      s->restart_after_stop = 0;
      s->want_up = 1;
    }
    set_state(s, SVC_STOPPED);
    return;
  }
  if (s->stop_step == 0)
    stop_now(s);
}

static void a_restart_stop(svc_service_t *s) {
  a_stop(s);
  s->restart_after_stop = 1;
}

static void a_stop_timeout(svc_service_t *s) {
  if (s->stop_step == 1 && s->child) {
    slog(s, VG_LOG_WARN, "did not stop within %llu ms of %s; killing it",
         (unsigned long long)s->cfg->stop.timeout_ms,
         vg_signal_name(stop_signal(s)));
    s->stop_step = 2;
    svc_service_kill(s);
  } else if (s->stop_step == 1 && !s->child && s->gate) {
    slog(s, VG_LOG_WARN, "pre-start hook did not stop within %llu ms of "
         "%s; killing it", (unsigned long long)s->cfg->stop.timeout_ms,
         vg_signal_name(stop_signal(s)));
    s->stop_step = 2;
    child_signal(s->gate, NULL, VG_SIGKILL);
  }
}

/* A duration as the config would write it: "30s", "1500ms". */
static void fmt_ms(char *buf, size_t size, uint64_t ms) {
  if (ms % 1000 == 0)
    snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
  else
    snprintf(buf, size, "%llums", (unsigned long long)ms);
}

static void a_stopped(svc_service_t *s) {
  const char *how;
  char deadline[96];
  gate_cancel(s);   /* pre-stop hooks: their service is gone */
  if (s->stop_step == 3) {
    /* Killed at the shutdown deadline, whatever it was doing. */
    char d[32];
    fmt_ms(d, sizeof d, s->sup->cfg->shutdown_timeout_ms);
    if (s->sup->shutdown_forced)
      snprintf(deadline, sizeof deadline,
               "killed at a second shutdown request");
    else
      snprintf(deadline, sizeof deadline,
               "killed after shutdown timeout %s", d);
    s->failed_start = 0;
    s->restart_after_stop = 0;
    s->want_up = 0;
  }
  if (s->failed_start) {
    /* A start that was not ready in time, a missed watchdog: a failure
     * like any other. */
    s->failed_start = 0;
    s->stop_step = 0;
    fail_start(s, VG_LOG_WARN, s->reason);
    return;
  }
  how = s->stop_step == 3   ? deadline
        : s->stop_step == 2 ? "killed after the stop timeout"
        : s->stop_step == 0 ? "exited during its pre-stop hooks"
                            : "stopped by its stop signal";
  if (s->stop_step == 1 && s->last.signal == 0)
    how = "exited after its stop signal";
  slog(s, VG_LOG_INFO, "%s", how);
  /* A restart for failed health checks keeps saying why until the new
   * run is ready. */
  if (!(s->health_restart && s->restart_after_stop))
    svc_service_set_reason(s, "%s", how);
  s->health_restart = 0;
  s->stop_step = 0;
  if (s->restart_after_stop) {
    s->restart_after_stop = 0;
    s->want_up = 1;
  }
  set_state(s, SVC_STOPPED);
}

static void a_cancel(svc_service_t *s) { set_state(s, SVC_STOPPED); }

static void a_want_up(svc_service_t *s) { s->restart_after_stop = 1; }

static void a_want_down(svc_service_t *s) {
  s->restart_after_stop = 0;
  s->failed_start = 0;   /* a stop asked for now wins over a retry */
}

static void a_backoff_start(svc_service_t *s) { a_spawn(s); }

/* Restart policy after an exit in STARTING or RUNNING. */
static void a_exited(svc_service_t *s) {
  const cfg_restart_t *rp = &s->cfg->restart;
  int failed = s->last.code != 0 || s->last.signal != 0;
  int was_starting = s->state == SVC_STARTING;
  char what[96];
  checks_stop(s);
  if (s->stop_step == 3) {
    /* Still up at the shutdown deadline (waiting for a dependent to
     * stop): no restart policy, the kill is said as such. */
    a_stopped(s);
    return;
  }
  if (s->last.signal && s->last.oom)
    snprintf(what, sizeof what, "killed by the OOM killer (memory limit)");
  else if (s->last.signal)
    snprintf(what, sizeof what, "killed by signal %s",
                 vg_signal_name(s->last.signal)
                     ? vg_signal_name(s->last.signal)
                     : "?");
  else if (s->cfg->type == CFG_TYPE_ATTACH && s->last.code < 0)
    snprintf(what, sizeof what, "exited (status unknown: vigil did not "
             "start it)");   /* a failure, whatever it was */
  else
    snprintf(what, sizeof what, "exited with code %d", s->last.code);
  if (s->cfg->type == CFG_TYPE_ONESHOT && !failed) {
    /* Done: `exited`, still wanted up, which is what its dependents
     * wait for. */
    slog(s, VG_LOG_INFO, "%s: done", what);
    svc_service_set_reason(s, "%s", what);
    s->done = 1;
    hooks_run(s, CFG_HOOK_POST_START, 0, 0);
    set_state(s, SVC_EXITED);
    return;
  }
  if (was_starting)
    failed = 1;   /* dying before ready is a failed start, even with 0 */
  if (rp->policy == CFG_RESTART_ALWAYS ||
      (rp->policy == CFG_RESTART_ON_FAILURE && failed)) {
    if (was_starting)
      strncat(what, " while starting", sizeof what - strlen(what) - 1);
    schedule_restart(s, failed ? VG_LOG_WARN : VG_LOG_INFO, what);
  } else {
    slog(s, VG_LOG_INFO, "%s; not restarted (policy %s)", what,
         rp->policy == CFG_RESTART_NEVER ? "never" : "on-failure");
    svc_service_set_reason(s, "%s", what);
    s->want_up = 0;
    set_state(s, SVC_EXITED);
  }
}

/* No WATCHDOG=1 in time: stopped (pre-stop hooks, then the ladder), and
 * its end goes through the restart policy, as systemd's WatchdogSec=. */
static void a_watchdog(svc_service_t *s) {
  char d[32];
  fmt_ms(d, sizeof d, s->cfg->watchdog_ms);
  slog(s, VG_LOG_WARN, "watchdog timeout: no WATCHDOG=1 within %s; "
       "stopping it", d);
  a_stop(s);
  svc_service_set_reason(s, "watchdog timeout");
  s->failed_start = 1;
}

static void a_health(svc_service_t *s) {
  slog(s, VG_LOG_WARN, "%s", s->reason);
  svc_events_emit(s, SVC_EVK_HEALTH_FAILED,
                  s->child ? s->child->proc.pid : 0);
  a_restart_stop(s);
  s->health_restart = 1;
}

/* Exponential backoff with jitter; more than max-restarts restarts in the
 * window -> fatal.  The log line (at lvl) says why and the wait chosen:
 * "exited with code 1; restarting in 1013 ms". */
static void schedule_restart(svc_service_t *s, vg_log_level lvl,
                             const char *why) {
  const cfg_restart_t *rp = &s->cfg->restart;
  uint64_t now = now_ms(s), ran = now - s->restart.up_since, delay;
  unsigned recent = svc_restarts_recent(&s->restart.hist, now);

  if (recent >= rp->max_restarts) {
    enter_fatal(s, "%s; restarted %u times within %llu ms, giving up", why,
                recent, (unsigned long long)rp->window_ms);
    s->want_up = 0;
    return;
  }
  if (ran >= rp->window_ms || s->restart.backoff_ms == 0)
    s->restart.backoff_ms = rp->delay_ms;
  else if (s->restart.backoff_ms < rp->max_delay_ms)
    s->restart.backoff_ms = s->restart.backoff_ms * 2 > rp->max_delay_ms
                                ? rp->max_delay_ms
                                : s->restart.backoff_ms * 2;
  delay = s->restart.backoff_ms;
  if (delay >= 10)
    delay += rnd() % (delay / 10 + 1);   /* up to 10% jitter */
  (void)svc_restarts_add(&s->restart.hist, now);   /* ENOMEM: uncounted */
  s->restart.count++;
  svc_service_set_reason(s, "%s; restarting in %llu ms", why,
                         (unsigned long long)delay);
  slog(s, lvl, "%s", s->reason);
  set_state(s, SVC_BACKOFF);
  arm(s, delay, on_state_timer);
}

/* ---- 4. the table -------------------------------------------------------- */

typedef void (*action_fn)(svc_service_t *s);

static const action_fn table[SVC_NSTATES][SVC_NEVENTS] = {
    /*               START            STOP         RESTART
                     EXIT             READY        TIMEOUT
                     HEALTH           HOOK         WATCHDOG */
    [SVC_STOPPED] = {a_spawn,         NULL,        a_spawn,
                     NULL,            NULL,        NULL,
                     NULL,            NULL,        NULL},
    [SVC_STARTING] = {NULL,           a_stop,      a_restart_stop,
                      a_exited,       a_ready,     a_starting_timeout,
                      NULL,           a_prestart_done, a_watchdog},
    [SVC_RUNNING] = {NULL,            a_stop,      a_restart_stop,
                     a_exited,        NULL,        NULL,
                     a_health,        NULL,        a_watchdog},
    [SVC_BACKOFF] = {a_backoff_start, a_cancel,    a_backoff_start,
                     NULL,            NULL,        a_backoff_start,
                     NULL,            NULL,        NULL},
    [SVC_STOPPING] = {a_want_up,      a_want_down, a_want_up,
                      a_stopped,      NULL,        a_stop_timeout,
                      NULL,           a_prestop_done, NULL},
    [SVC_EXITED] = {a_spawn,          a_cancel,    a_spawn,
                    NULL,             NULL,        NULL,
                    NULL,             NULL,        NULL},
    [SVC_FATAL] = {a_spawn,           a_cancel,    a_spawn,
                   NULL,              NULL,        NULL,
                   NULL,              NULL,        NULL},
};

void svc_service_event(svc_service_t *s, svc_event ev) {
  action_fn fn;
  if ((unsigned)s->state >= SVC_NSTATES || (unsigned)ev >= SVC_NEVENTS)
    return;
  fn = table[s->state][ev];
  vg_log(s->sup->log, VG_LOG_DEBUG, "service", "%s: %s in %s%s", s->name,
         svc_event_name(ev), svc_state_name(s->state), fn ? "" : " (ignored)");
  if (fn)
    fn(s);
}

/* ---- 5. life cycle ------------------------------------------------------- */

static void probe_free_cb(svc_probe_t *p, apr_status_t st, const char *d) {
  (void)st;
  (void)d;
  free(p);
}

static svc_logfile_t *open_log(svc_service_t *s, const cfg_log_t *lg,
                               const cfg_log_target_t *t, int is_err) {
  svc_logfile_opts_t o;
  svc_logfile_t *lf = NULL;
  memset(&o, 0, sizeof o);
  o.path = t->path;
  /* A log daemon, the file as its fallback. */
  _Static_assert((int)CFG_SINK_EVENTLOG == SVC_LOGSINK_EVENTLOG &&
                     (int)CFG_SINK_JOURNAL == SVC_LOGSINK_JOURNAL &&
                     (int)CFG_SINK_SYSLOG == SVC_LOGSINK_SYSLOG,
                 "cfg_log_sink and SVC_LOGSINK_* are numbered alike");
  o.sink = (int)t->sink;
  o.ident = s->name;
  o.is_err = is_err;
  o.max_size = (apr_off_t)lg->max_size;
  o.keep = lg->keep;
  o.daily = lg->rotate_daily;
  o.compress = lg->compress;
  o.timestamps = lg->timestamps;
  /* No file work until the service first writes: starting a thousand
   * services must not first open, stat and prune two thousand files. */
  o.lazy = 1;
  if (svc_logfile_open(&lf, s->sup->loop, &o, s->sup->pool, s->sup->log) !=
      APR_SUCCESS)
    return NULL;
  return lf;
}

/* The log files of a service: stdout's, and stderr's unless it shares
 * stdout's or is not a file. */
static void open_logs(svc_service_t *s, const cfg_service_t *cfg) {
  if (cfg->log.out.kind == CFG_LOG_FILE)
    s->logs.out = open_log(s, &cfg->log, &cfg->log.out, 0);
  if (cfg->log.err.kind == CFG_LOG_FILE)
    s->logs.err = open_log(s, &cfg->log, &cfg->log.err, 1);
}

/* Closing waits for the captures still attached (their lines are
 * written) and for compression work in progress. */
static void close_logs(svc_service_t *s) {
  if (s->logs.out)
    svc_logfile_close(s->logs.out, NULL, NULL);
  if (s->logs.err)
    svc_logfile_close(s->logs.err, NULL, NULL);
  s->logs.out = s->logs.err = NULL;
}

/* ---- 5. life cycle: cgroup and limits ------------------------------------ */

/* Indexed by PAL_LIMIT_*. */
static const char *const limit_events[] = {
    "reached a limit", "reached its memory limit",
    "reached its processes limit", "reached its cpu limit",
    "a process of it was killed by the OOM killer (memory limit)"};

/* A limit reached: counted (status "limit_events") and said, at most
 * once per kind every 10 s: a child retrying failed allocations can hit
 * a job's memory limit thousands of times a second. */
#define LIMIT_SAY_EVERY_MS 10000
static void limit_event(svc_service_t *s, int which) {
  uint64_t now = now_ms(s);
  int k = which > 0 && which <= PAL_LIMIT_OOM_KILL ? which : 0;
  svc_limit_say_t *say = s->limit.say;
  s->limit.events++;
  if (!say && !(say = s->limit.say = calloc(1, sizeof *say))) {
    slog(s, VG_LOG_WARN, "%s", limit_events[k]);   /* unthrottled */
    return;
  }
  if (say->said_ms[k] && now - say->said_ms[k] < LIMIT_SAY_EVERY_MS) {
    say->unsaid[k]++;
    return;
  }
  if (say->unsaid[k])
    slog(s, VG_LOG_WARN, "%s (%u more times since the last warning)",
         limit_events[k], say->unsaid[k]);
  else
    slog(s, VG_LOG_WARN, "%s", limit_events[k]);
  say->said_ms[k] = now ? now : 1;
  say->unsaid[k] = 0;
}

/* The service's own cgroup, DIR/svc-NAME, when the supervisor has a
 * subtree (supervisor.c).  A failure leaves it without: process groups
 * and rlimits, as everywhere else, and warn_limits() says so. */
static void cgroup_open(svc_service_t *s) {
  svc_sup_t *sup = s->sup;
  pal_cgroup_stat_t st;
  apr_status_t rv;
  char eb[128], *path;
  /* An attached daemon is not in it, nor put in it (attach.c). */
  if (!sup->cgroup || s->cfg->type == CFG_TYPE_ATTACH)
    return;
  path = malloc(strlen(sup->cgroup) + strlen(s->name) + 6);
  if (!path)
    return;
  sprintf(path, "%s/svc-%s", sup->cgroup, s->name);
  rv = pal_cgroup_create(path);
  if (rv != APR_SUCCESS) {
    slog(s, VG_LOG_WARN, "cannot create the cgroup %s: %s (%s)", path,
         vg_strerror(rv, eb, sizeof eb), pal_last_call());
    free(path);
    return;
  }
  /* What a supervisor that was killed left behind is all in there,
   * wherever in the process tree it went. */
  if (pal_cgroup_stat(path, &st) == APR_SUCCESS && st.populated) {
    slog(s, VG_LOG_WARN, "killing the leftovers of a previous supervisor "
         "in %s", path);
    pal_cgroup_kill(path);
  }
  s->cg.path = path;
}

static void cgroup_close(svc_service_t *s) {
  apr_status_t rv;
  char eb[128];
  if (!s->cg.path)
    return;
  pal_cgroup_kill(s->cg.path);
  rv = pal_cgroup_remove(s->cg.path);
  if (rv != APR_SUCCESS)
    slog(s, VG_LOG_WARN, "cannot remove the cgroup %s: %s (%s)", s->cg.path,
         vg_strerror(rv, eb, sizeof eb), pal_last_call());
  free(s->cg.path);
  s->cg.path = NULL;
}

/* Write one limit file ("max" when the limit is not given, so a reload
 * that drops a limit lifts it); 1 if the cgroup holds the limit. */
static int cgroup_set(svc_service_t *s, unsigned ctrl, const char *file,
                      const char *value) {
  apr_status_t rv;
  char eb[128];
  if (!(s->sup->cgroup_ctrl & ctrl))
    return 0;
  rv = pal_cgroup_write(s->cg.path, file, value);
  if (rv != APR_SUCCESS) {
    slog(s, VG_LOG_WARN, "cannot write %s to %s/%s: %s", value, s->cg.path,
         file, vg_strerror(rv, eb, sizeof eb));
    return 0;
  }
  return 1;
}

static void cgroup_limits(svc_service_t *s, const cfg_limits_t *l) {
  char v[64];
  s->cg.held = 0;
  if (!s->cg.path)
    return;
  if (l->memory)
    snprintf(v, sizeof v, "%llu", (unsigned long long)l->memory);
  if (cgroup_set(s, PAL_CGROUP_MEMORY, "memory.max", l->memory ? v : "max"))
    s->cg.held |= PAL_CGROUP_MEMORY;
  /* cpu.max is "QUOTA PERIOD" in microseconds: 50% = 50000 of 100000. */
  if (l->cpu_percent)
    snprintf(v, sizeof v, "%llu 100000",
             (unsigned long long)l->cpu_percent * 1000u);
  else
    snprintf(v, sizeof v, "max 100000");
  if (cgroup_set(s, PAL_CGROUP_CPU, "cpu.max", v))
    s->cg.held |= PAL_CGROUP_CPU;
  if (l->processes)
    snprintf(v, sizeof v, "%llu", (unsigned long long)l->processes);
  if (cgroup_set(s, PAL_CGROUP_PIDS, "pids.max",
                 l->processes ? v : "max"))
    s->cg.held |= PAL_CGROUP_PIDS;
}

/* The plan of `cfg` where this service runs (its cgroup as it is now);
 * the old plan goes.  Limits it could not place as written are said
 * when `say` (a new service, new limits): once per plan, never at each
 * spawn. */
static void plan_make(svc_service_t *s, const cfg_service_t *cfg,
                      unsigned changed, int say) {
  svc_plan_where_t w;
  svc_plan_t *plan;
  int i;
  memset(&w, 0, sizeof w);
  w.cgroup_dir = s->sup->cgroup;
  w.cgroup_why = s->sup->cgroup_why;
  w.cgroup = s->cg.path;
  w.cgroup_ctrl = s->sup->cgroup_ctrl;
  w.cgroup_held = s->cg.held;
  /* One pool for the plans of a config, not one (at least an 8 KiB
   * block) per service: a plan lives as long as the config it points
   * into, and the pool is freed with it (supervisor.c, reload_apply). */
  if (!s->sup->plans)
    apr_pool_create(&s->sup->plans, s->sup->pool);
  /* The load compiled this config already (svc_config_load): it cannot
   * fail here but for memory, which APR aborts on. */
  svc_plan_compile(&plan, cfg, &w, s->sup->plans, NULL);
  plan->changed = changed;
  s->plan = plan;
  if (!say)
    return;
  s->limit.unapplied_said = 0;   /* new limits: a refusal is said again */
  for (i = 0; i < plan->warnings->nelts; i++)
    slog(s, VG_LOG_WARN, "%s", APR_ARRAY_IDX(plan->warnings, i, const char *));
}

void svc_service_kill(svc_service_t *s) {
  if (s->child)
    child_signal(s->child, s->cg.path, VG_SIGKILL);
  if (s->cg.path)
    pal_cgroup_kill(s->cg.path);
}

/* The shutdown waits for hooks too (svc_sup_pump): at the deadline they
 * are killed with the service. */
void svc_service_kill_deadline(svc_service_t *s) {
  svc_child_t *r;
  s->stop_step = 3;
  svc_service_kill(s);
  for (r = s->hooks; r; r = r->next_hook)
    if (!r->exited)
      child_signal(r, NULL, VG_SIGKILL);
}

/* ---- 5. life cycle: the schedule ------------------------------------------ */

static void sched_arm(svc_service_t *s);

/* The next run is due.  The timer waits on the monotonic clock, so the
 * wall clock is read again: set back meanwhile, the wait goes on for
 * the rest; set forward (or the machine slept), the run is now, once,
 * and the next one counts from now. */
static void on_sched(vg_timer_t *t) {
  svc_service_t *s = t->data;
  int64_t now = (int64_t)apr_time_as_msec(apr_time_now());
  if (now < s->next_run * 1000) {
    vg_timer_start(t, on_sched, (uint64_t)(s->next_run * 1000 - now), 0);
    return;
  }
  if (!s->sup->shutting_down && !s->removing) {
    if (s->state == SVC_STOPPED || s->state == SVC_EXITED ||
        s->state == SVC_FATAL) {
      slog(s, VG_LOG_INFO, "scheduled start (%s)", s->cfg->schedule);
      svc_sup_start(s->sup, s);
    } else {
      slog(s, VG_LOG_INFO, "scheduled start skipped: it is %s",
           svc_state_name(s->state));
    }
  }
  sched_arm(s);
}

/* One timer to the next match of <schedule> (none without one). */
static void sched_arm(svc_service_t *s) {
  int64_t now, next;
  vg_timer_t *t;
  aux_timer_stop(s->sched);
  s->next_run = 0;
  if (!s->cfg->schedule) {
    aux_timer_drop(&s->sched);
    return;
  }
  now = (int64_t)apr_time_as_msec(apr_time_now());
  if (cfg_cron_next(&s->cfg->cron, now / 1000, NULL, &next) !=
      APR_SUCCESS) {
    slog(s, VG_LOG_WARN, "schedule '%s' has no next run",
         s->cfg->schedule);
    return;
  }
  if (!(t = aux_timer(s, &s->sched)))
    return;
  s->next_run = next;
  vg_timer_start(t, on_sched, (uint64_t)(next * 1000 - now), 0);
}

/* ---- 5. life cycle, continued -------------------------------------------- */

svc_service_t *svc_service_create(svc_sup_t *sup, const cfg_service_t *cfg) {
  svc_service_t *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  if (svc_restarts_init(&s->restart.hist, cfg->restart.max_restarts,
                        cfg->restart.window_ms) != APR_SUCCESS) {
    svc_restarts_free(&s->restart.hist);
    free(s);
    return NULL;
  }
  s->sup = sup;
  s->cfg = cfg;
  s->name = cfg->name;
  s->state = SVC_STOPPED;
  s->reason = "";
  vg_timer_init(sup->loop, &s->timer);
  s->timer.data = s;
  s->handles = 1;   /* the state's timer; the others when allocated */
  open_logs(s, cfg);
  cgroup_open(s);
  cgroup_limits(s, &cfg->limits);
  plan_make(s, cfg, 0, 1);
  sched_arm(s);
  return s;
}

void svc_service_destroy(svc_service_t *s) {
  s->removing = 1;
  checks_stop(s);
  svc_control_forget(s->sup, s);
  if (s->child) {
    svc_child_t *r = s->child;
    s->child = NULL;
    child_detach(r);
  }
  s->gate = NULL;
  while (s->hooks) {   /* they finish on their own, bounded by timeouts */
    svc_child_t *r = s->hooks;
    s->hooks = r->next_hook;
    r->chain = 0;
    child_detach(r);
  }
  if (s->checks.ready) {
    if (svc_probe_busy(s->checks.ready))
      s->checks.ready->cb = probe_free_cb;   /* frees itself when it ends */
    else
      free(s->checks.ready);
  }
  if (s->checks.health) {
    if (svc_probe_busy(s->checks.health))
      s->checks.health->cb = probe_free_cb;
    else
      free(s->checks.health);
  }
  close_logs(s);
  cgroup_close(s);
  svc_attach_destroy(s);
  s->plan = NULL;                /* freed with its config's plans */
  notify_close(s);
  aux_timer_drop(&s->checks.timer);
  aux_timer_drop(&s->watchdog);
  aux_timer_drop(&s->sched);
  vg_close((vg_handle_t *)&s->timer, service_handle_closed);
}

void svc_service_update(svc_service_t *s, const cfg_service_t *cfg,
                        unsigned changed) {
  s->cfg = cfg;
  s->name = cfg->name;
  svc_restarts_config(&s->restart.hist, cfg->restart.max_restarts,
                      cfg->restart.window_ms);
  /* Log settings (file names, rotation, or the kind of a target): new
   * file objects for the next run; a capture of the current run finishes
   * into the file it started with (which closes when it is done). */
  if (changed & (CFG_F_LOG | CFG_F_STDIO)) {
    close_logs(s);
    open_logs(s, cfg);
  }
  /* Limits: the cgroup's apply to the running tree at once; rlimits from
   * the next spawn (a change of limits restarts the service). */
  if (changed & CFG_F_LIMITS)
    cgroup_limits(s, &cfg->limits);
  plan_make(s, cfg, changed, (changed & CFG_F_LIMITS) != 0);
  /* Health: restart the schedule with the new settings. */
  if (s->state == SVC_RUNNING) {
    checks_stop(s);
    health_arm(s);
  }
  /* What the new settings no longer use goes (an armed watchdog runs
   * out first: watchdog_stop). */
  if (cfg->health.type == CFG_HEALTH_NONE && cfg->ready.kind != CFG_READY_TCP)
    aux_timer_drop(&s->checks.timer);
  if (!cfg->watchdog_ms && !s->watchdog_due)
    aux_timer_drop(&s->watchdog);
  if (changed & CFG_F_SCHEDULE)
    sched_arm(s);
}

int svc_service_up(const svc_service_t *s) {
  return s->state == SVC_RUNNING ||
         (s->state == SVC_EXITED && s->done &&
          s->cfg->type == CFG_TYPE_ONESHOT);
}

uint64_t svc_service_uptime(const svc_service_t *s) {
  if (!s->child || (s->state != SVC_RUNNING && s->state != SVC_STARTING &&
                  s->state != SVC_STOPPING))
    return 0;
  return vg_now(s->sup->loop) - s->restart.up_since;
}

int svc_service_settled(const svc_service_t *s, int want_up) {
  if (want_up && s->restart_pending)
    return 0;   /* down only until its restart's other services are */
  if (want_up)
    return s->state == SVC_RUNNING || s->state == SVC_FATAL ||
           s->state == SVC_EXITED ||
           (s->state == SVC_STOPPED && !s->want_up);
  return s->state == SVC_STOPPED || s->state == SVC_EXITED ||
         s->state == SVC_FATAL;
}

/* ---- 6. status ----------------------------------------------------------- */

/* Memory and CPU time of the current run's tree; -1 where unknown.  The
 * service's cgroup counts every member, also those that left the process
 * group: memory.current and cpu.stat, or without those controllers the
 * members cgroup.procs lists, each from its own /proc entry.  Without a
 * cgroup, the process group (pal_proc_usage: on Linux its members' own
 * /proc entries, found as proc_usage.c says). */
static void usage_of(const svc_service_t *s, const vg_usage_t *pu,
                     int64_t *rss, int64_t *cpu_ms) {
  pal_cgroup_stat_t st;
  vg_usage_t u;
  *rss = *cpu_ms = -1;
  if (!s->child || s->child->exited)
    return;
  if (s->cg.path && pal_cgroup_stat(s->cg.path, &st) == APR_SUCCESS) {
    *rss = st.memory_current;
    if (st.cpu_usec >= 0 && st.cpu_usec >= s->cg.cpu_base)
      *cpu_ms = (st.cpu_usec - s->cg.cpu_base) / 1000;
    if ((*rss < 0 || *cpu_ms < 0) &&
        pal_cgroup_usage(s->cg.path, &u) == APR_SUCCESS) {
      if (*rss < 0)
        *rss = (int64_t)u.rss_bytes;
      if (*cpu_ms < 0)
        *cpu_ms = (int64_t)(u.cpu_usec / 1000);
    }
    return;   /* never the process group's: svc_services_usage skips s */
  }
  if (!pu || s->cg.path) {   /* s->cg.path: its cgroup is gone */
    if (vg_process_usage(&s->child->proc, &u) != APR_SUCCESS)
      return;
    pu = &u;
  } else if (pu->processes == 0) {
    return;
  }
  if (*rss < 0)
    *rss = (int64_t)pu->rss_bytes;
  if (*cpu_ms < 0)
    *cpu_ms = (int64_t)(pu->cpu_usec / 1000);
}

void svc_services_usage(svc_service_t *const *list, size_t n,
                        vg_usage_t *out) {
  pal_proc_t **procs = calloc(n ? n : 1, sizeof *procs);
  size_t i;
  if (!procs) {
    memset(out, 0, n * sizeof *out);   /* status without usage, not none */
    return;
  }
  /* A service in a cgroup is measured from it (usage_of). */
  for (i = 0; i < n; i++)
    if (list[i]->child && !list[i]->child->exited && !list[i]->cg.path)
      procs[i] = &list[i]->child->proc.proc;
  pal_proc_usage_many(procs, n, out);
  free(procs);
}

static void w_int_or_null(svc_json_w_t *w, const char *key, int64_t v) {
  svc_json_w_key(w, key);
  if (v >= 0)
    svc_json_w_int64(w, v);
  else
    svc_json_w_null(w);
}

void svc_service_usage(const svc_service_t *s, const vg_usage_t *u,
                       int64_t *rss, int64_t *cpu_ms) {
  usage_of(s, u, rss, cpu_ms);
}

void svc_service_status_json(const svc_service_t *s, const vg_usage_t *u,
                             svc_json_w_t *w) {
  int64_t rss, cpu_ms;
  svc_json_w_begin_object(w);
  svc_json_w_key(w, "name");
  svc_json_w_string(w, s->name);
  svc_json_w_key(w, "state");
  svc_json_w_string(w, svc_state_name(s->state));
  svc_json_w_key(w, "pid");
  if (s->child && s->child->proc.pid > 0)
    svc_json_w_int64(w, s->child->proc.pid);
  else
    svc_json_w_null(w);
  svc_json_w_key(w, "restarts");
  svc_json_w_uint64(w, s->restart.count);
  svc_json_w_key(w, "uptime_ms");
  svc_json_w_uint64(w, svc_service_uptime(s));
  svc_json_w_key(w, "last_exit");
  if (s->last.has) {
    svc_json_w_begin_object(w);
    svc_json_w_key(w, "code");
    if (s->last.signal || s->last.code < 0)   /* < 0: unknown (attach) */
      svc_json_w_null(w);
    else
      svc_json_w_int64(w, s->last.code);
    svc_json_w_key(w, "signal");
    if (s->last.signal && vg_signal_name(s->last.signal))
      svc_json_w_string(w, vg_signal_name(s->last.signal));
    else if (s->last.signal)
      svc_json_w_int64(w, s->last.signal);
    else
      svc_json_w_null(w);
    svc_json_w_key(w, "at_ms");
    svc_json_w_int64(w, (int64_t)apr_time_as_msec(s->last.at));
    svc_json_w_end_object(w);
  } else {
    svc_json_w_null(w);
  }
  svc_json_w_key(w, "reason");
  if (s->reason[0])
    svc_json_w_string(w, s->reason);
  else
    svc_json_w_null(w);
  usage_of(s, u, &rss, &cpu_ms);
  w_int_or_null(w, "rss_bytes", rss);
  w_int_or_null(w, "cpu_ms", cpu_ms);
  svc_json_w_key(w, "limit_events");
  svc_json_w_uint64(w, s->limit.events);
  svc_json_w_key(w, "type");
  svc_json_w_string(w, s->cfg->type == CFG_TYPE_ONESHOT  ? "oneshot"
                       : s->cfg->type == CFG_TYPE_ATTACH ? "attach"
                                                         : "simple");
  if (s->cfg->type == CFG_TYPE_ATTACH) {
    svc_json_w_key(w, "pid_file");
    svc_json_w_string(w, s->cfg->pid_file);
  }
  /* Wall-clock times, ms since the Unix epoch, as last_exit.at_ms. */
  w_int_or_null(w, "next_run_ms", s->next_run ? s->next_run * 1000 : -1);
  {
    uint64_t now = vg_now(s->sup->loop);
    w_int_or_null(w, "watchdog_deadline_ms",
                  s->watchdog_due
                      ? (int64_t)apr_time_as_msec(apr_time_now()) +
                            (int64_t)(s->watchdog_due > now
                                          ? s->watchdog_due - now
                                          : 0)
                      : -1);
  }
  svc_json_w_end_object(w);
}
