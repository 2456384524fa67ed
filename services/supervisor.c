/*
 * supervisor.c -- the supervisor: configuration in force, the services,
 * what may start and stop given dependencies, reload, shutdown, and the
 * crash-safety chores (single-instance lock, leftover cleanup).
 *
 * Map:
 *   1. dependencies and the pump: after every state change, services that
 *      want to run start once what they depend on runs, and services that
 *      must stop stop once what depends on them has stopped
 *   2. commands (from the control endpoint): start, stop, restart cascade
 *      along dependencies as systemd's Requires= does
 *   3. reload: the file is read on the work queue, then, on the loop
 *      thread, the new config is diffed against the old; add, remove,
 *      restart (CHANGED) or update in place (UPDATED); an invalid file
 *      changes nothing
 *   4. shutdown: everything wants down, in reverse dependency order, with
 *      the shutdown-timeout as a deadline
 *   5. leftovers: pids and start times of running children in STATE/pids,
 *      so a supervisor that was killed -9 can clean up after itself; the
 *      sweep of what it adopted, at exit
 *   6. cgroups (Linux): the subtree the services' cgroups go under
 *   7. svc_sup_run(): putting it together
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_allocator.h>
#include <apr_file_io.h>
#include <apr_strings.h>

/* ---- 1. dependencies and the pump ---------------------------------------- */

svc_service_t *svc_sup_find(svc_sup_t *sup, const char *name) {
  svc_service_t *s;
  for (s = sup->services; s; s = s->next)
    if (!s->removing && strcmp(s->name, name) == 0)
      return s;
  return NULL;
}

static int active(const svc_service_t *s) {
  return s->state == SVC_STARTING || s->state == SVC_RUNNING ||
         s->state == SVC_STOPPING || s->state == SVC_BACKOFF;
}

/* The first dependency of s that is not up (running, or a oneshot that
 * exited 0), or NULL. */
static svc_service_t *blocking_dep(svc_sup_t *sup, const svc_service_t *s) {
  int i;
  for (i = 0; i < s->cfg->depends_on->nelts; i++) {
    svc_service_t *d =
        svc_sup_find(sup, APR_ARRAY_IDX(s->cfg->depends_on, i, const char *));
    if (d && !svc_service_up(d))
      return d;
  }
  return NULL;
}

static int depends_on(const svc_service_t *s, const char *name) {
  int i;
  for (i = 0; i < s->cfg->depends_on->nelts; i++)
    if (strcmp(APR_ARRAY_IDX(s->cfg->depends_on, i, const char *), name) == 0)
      return 1;
  return 0;
}

/* A service that depends on s and is still up, or NULL. */
static svc_service_t *active_dependent(svc_sup_t *sup,
                                       const svc_service_t *s) {
  svc_service_t *t;
  for (t = sup->services; t; t = t->next)
    if (t != s && active(t) && depends_on(t, s->name))
      return t;
  return NULL;
}

static void finish_shutdown(svc_sup_t *sup);

static void want_up(svc_sup_t *sup, svc_service_t *s, int depth);

/* A restart that follows dependencies (svc_sup_restart) took its
 * services down, dependents first; once the last of them is down they
 * all want up again, and the pump starts them in dependency order. */
static void restart_release(svc_sup_t *sup) {
  svc_service_t *s;
  int pending = 0;
  for (s = sup->services; s; s = s->next) {
    if (!s->restart_pending)
      continue;
    if (active(s) || s->child)
      return;
    pending = 1;
  }
  if (!pending)
    return;
  for (s = sup->services; s; s = s->next)
    if (s->restart_pending) {
      s->restart_pending = 0;
      want_up(sup, s, 0);
    }
}

void svc_sup_pump(svc_sup_t *sup) {
  static int pumping, again;
  svc_service_t *s, *next;
  int settled;
  if (pumping) {
    again = 1;   /* a state change inside the pump: one more pass */
    return;
  }
  pumping = 1;
  do {
    again = 0;
    restart_release(sup);
    for (s = sup->services; s; s = next) {
      next = s->next;
      if (s->want_up && s->state == SVC_STOPPED) {
        svc_service_t *d = blocking_dep(sup, s);
        if (!d)
          svc_service_event(s, SVC_EV_START);
        else
          svc_service_set_reason(s, "waiting for %s", d->name);
      } else if (!s->want_up && (s->state == SVC_STARTING ||
                                 s->state == SVC_RUNNING ||
                                 s->state == SVC_BACKOFF)) {
        if (!active_dependent(sup, s))
          svc_service_event(s, SVC_EV_STOP);
      } else if (s->removing && !active(s) && !s->child) {
        /* A service the reload removed, now down: let it go. */
        svc_service_t **pp;
        for (pp = &sup->services; *pp; pp = &(*pp)->next)
          if (*pp == s) {
            *pp = s->next;
            break;
          }
        sup->nservices--;
        svc_service_destroy(s);
      }
    }
  } while (again);
  pumping = 0;

  if (sup->shutting_down) {
    settled = 1;
    for (s = sup->services; s && settled; s = s->next)
      if (active(s) || s->child || s->hooks)   /* post-stop hooks too */
        settled = 0;
    if (settled)
      finish_shutdown(sup);
  }
}

void svc_sup_state_changed(svc_sup_t *sup, svc_service_t *s, svc_state old) {
  (void)old;
  svc_control_notify(sup, s);
  svc_notify_progress(sup);
  if (s->state == SVC_STOPPED || s->state == SVC_EXITED ||
      s->state == SVC_FATAL || s->state == SVC_RUNNING)
    svc_sup_save_pids(sup);
  svc_sup_pump(sup);
}

/* ---- 2. commands ----------------------------------------------------------- */

static void want_up(svc_sup_t *sup, svc_service_t *s, int depth) {
  int i;
  if (depth > 64)
    return;   /* cycles are refused by the config; this is a guard */
  s->want_up = 1;
  s->restart_pending = 0;   /* an explicit start: up as soon as it can */
  if (s->state == SVC_EXITED || s->state == SVC_FATAL) {
    /* An explicit start forgives the past. */
    s->restart.count = 0;
    svc_restarts_reset(&s->restart.hist);
    s->restart.backoff_ms = 0;
    svc_service_event(s, SVC_EV_STOP);   /* -> STOPPED, then the pump */
  }
  for (i = 0; i < s->cfg->depends_on->nelts; i++) {
    svc_service_t *d =
        svc_sup_find(sup, APR_ARRAY_IDX(s->cfg->depends_on, i, const char *));
    if (d && !d->want_up)
      want_up(sup, d, depth + 1);
  }
}

static void want_down(svc_sup_t *sup, svc_service_t *s, int depth) {
  svc_service_t *t;
  if (depth > 64)
    return;
  s->want_up = 0;
  s->restart_pending = 0;
  if (s->state == SVC_BACKOFF)
    svc_service_event(s, SVC_EV_STOP);
  for (t = sup->services; t; t = t->next)
    if ((t->want_up || t->restart_pending) && depends_on(t, s->name))
      want_down(sup, t, depth + 1);
}

/* s and, transitively, what wants to run depending on it go down for a
 * restart (systemd's Requires=): none wants up until all are down. */
static void restart_down(svc_sup_t *sup, svc_service_t *s, int depth) {
  svc_service_t *t;
  if (depth > 64 || s->restart_pending)
    return;
  s->want_up = 0;
  s->restart_pending = 1;
  /* BACKOFF: cancel the wait; STOPPING: forget a restart of its own. */
  if (s->state == SVC_BACKOFF || s->state == SVC_STOPPING)
    svc_service_event(s, SVC_EV_STOP);
  for (t = sup->services; t; t = t->next)
    if (t != s && (t->want_up || active(t)) && depends_on(t, s->name))
      restart_down(sup, t, depth + 1);
}

/* Something that wants to run depends on s. */
static int wanted_dependent(svc_sup_t *sup, const svc_service_t *s) {
  svc_service_t *t;
  for (t = sup->services; t; t = t->next)
    if (t != s && (t->want_up || t->restart_pending) &&
        depends_on(t, s->name))
      return 1;
  return 0;
}

void svc_sup_start(svc_sup_t *sup, svc_service_t *s) {
  want_up(sup, s, 0);
  if (s->state == SVC_BACKOFF)
    svc_service_event(s, SVC_EV_START);   /* no more waiting */
  svc_sup_pump(sup);
}

void svc_sup_stop(svc_sup_t *sup, svc_service_t *s) {
  want_down(sup, s, 0);
  svc_sup_pump(sup);
}

void svc_sup_restart(svc_sup_t *sup, svc_service_t *s) {
  if (s->restart_pending)
    return;   /* part of a restart under way already */
  if (wanted_dependent(sup, s)) {
    /* Dependents stop first and start after (the pump's order). */
    restart_down(sup, s, 0);
    svc_sup_pump(sup);
  } else if (s->state == SVC_RUNNING || s->state == SVC_STARTING) {
    s->want_up = 1;
    svc_service_event(s, SVC_EV_RESTART);
    svc_sup_pump(sup);
  } else {
    svc_sup_start(sup, s);
  }
}

/* ---- 3. reload ------------------------------------------------------------ */

/* Configurations still referenced by services a reload removed. */
typedef struct retired_s {
  struct retired_s *next;
  cfg_t *cfg;
  apr_pool_t *owner;            /* the reload's pool holding cfg, or NULL */
  apr_pool_t *plans;            /* the plans compiled from cfg, or NULL */
} retired_t;
static retired_t *retired;

static void free_retired(svc_sup_t *sup) {
  svc_service_t *s;
  retired_t *r, *next;
  for (s = sup->services; s; s = s->next)
    if (s->removing)
      return;   /* one still points into an old config */
  for (r = retired; r; r = next) {
    next = r->next;
    if (r->plans)
      apr_pool_destroy(r->plans);
    if (r->owner)
      apr_pool_destroy(r->owner);
    else
      cfg_destroy(r->cfg);
    free(r);
  }
  retired = NULL;
}

/* A reload reads and checks the file on the work queue: a slow disk, a
 * network file system or a file that is not what it seems must not stop
 * the loop (child exits, the control endpoint, timers).  The result is
 * applied here, on the loop thread, where the services are.  One read is
 * in flight at a time; requests that come meanwhile wait for the next
 * one, so that each request sees the file as it was when it was made. */
typedef struct reload_req_s {
  struct reload_req_s *next;
  svc_reload_cb cb;
  void *baton;
} reload_req_t;

typedef struct svc_reload_s svc_reload_t;
struct svc_reload_s {
  vg_work_t work;
  svc_sup_t *sup;
  const char *path;             /* the supervisor's config file */
  int busy;                     /* a read is queued or running */
  reload_req_t *reqs;           /* answered by the read in flight */
  reload_req_t *next;           /* wait for the read after it */
  /* Written by the worker while busy, read on the loop thread after. */
  apr_pool_t *pool;             /* owns cfg and errs; its own allocator */
  cfg_t *cfg;
  cfg_errors_t *errs;
  apr_status_t rv;
  apr_pool_t *owner;            /* pool of the config in force, or NULL
                                   (the first one is in sup->pool) */
};

static void reload_work(vg_work_t *w) {
  svc_reload_t *rl = w->data;
  rl->cfg = NULL;
  rl->errs = NULL;
  rl->rv = svc_config_load(&rl->cfg, rl->path, rl->pool, &rl->errs);
}

/* Names listed per kind in a reload's summary; the rest are counted (a
 * reload of 1000 instances stays one readable line). */
#define RELOAD_NAMES_MAX 16

/* "1 added (db), 0 removed, 2 changed (web-0, web-1), 1 updated (api),
 * 3 kept": the counts, and the services each names but the kept ones. */
static const char *reload_summary(const cfg_diff_t *diff, apr_pool_t *pool) {
  static const cfg_change order[] = {CFG_ADDED, CFG_REMOVED, CFG_CHANGED,
                                     CFG_UPDATED};
  const int counts[] = {diff->added, diff->removed, diff->changed,
                        diff->updated};
  const char *out = "";
  size_t k;
  int i;
  for (k = 0; k < sizeof order / sizeof order[0]; k++) {
    const char *names = NULL;
    int listed = 0;
    for (i = 0; i < diff->entries->nelts; i++) {
      const cfg_diff_entry_t *e =
          &APR_ARRAY_IDX(diff->entries, i, cfg_diff_entry_t);
      if (e->kind != order[k] || listed++ >= RELOAD_NAMES_MAX)
        continue;
      names = names ? apr_pstrcat(pool, names, ", ", e->name, NULL)
                    : e->name;
    }
    if (listed > RELOAD_NAMES_MAX)
      names = apr_psprintf(pool, "%s and %d more", names,
                           listed - RELOAD_NAMES_MAX);
    out = apr_psprintf(pool, "%s%d %s%s%s%s, ", out, counts[k],
                       cfg_change_name(order[k]), names ? " (" : "",
                       names ? names : "", names ? ")" : "");
  }
  return apr_psprintf(pool, "%s%d kept", out, diff->kept);
}

/* What the config will meet on this host (svc_config_warnings), at
 * WARN: it runs all the same. */
static void config_warn(svc_sup_t *sup, const cfg_t *cfg,
                        const char *component) {
  apr_pool_t *tmp;
  cfg_errors_t *w;
  int i;
  if (apr_pool_create(&tmp, sup->pool) != APR_SUCCESS)
    return;
  w = cfg_errors_create(tmp);
  svc_config_warnings(cfg, tmp, w);
  for (i = 0; i < cfg_errors_count(w); i++) {
    const cfg_error_t *e = cfg_errors_get(w, i);
    vg_log(sup->log, VG_LOG_WARN, component, "%s:%d: %s", e->file, e->line,
           e->message);
  }
  apr_pool_destroy(tmp);
}

/* Apply a loaded configuration (loop thread). */
static void reload_apply(svc_sup_t *sup, cfg_t *ncfg, apr_pool_t *owner) {
  cfg_diff_t *diff;
  svc_service_t *s, **tail;
  retired_t *r;
  apr_pool_t *pool, *plans = sup->plans;
  int i;

  apr_pool_create(&pool, sup->pool);
  sup->plans = NULL;            /* ncfg's plans: a pool of their own */
  diff = cfg_diff(sup->cfg, ncfg, pool);
  if (diff->supervisor & CFG_S_CGROUP)
    vg_log(sup->log, VG_LOG_WARN, "reload",
           "<cgroup> changed: it takes effect when vigil next starts");
  vg_log(sup->log, VG_LOG_NOTICE, "reload", "applying: %s",
         reload_summary(diff, pool));
  config_warn(sup, ncfg, "reload");

  for (i = 0; i < diff->entries->nelts; i++) {
    cfg_diff_entry_t *e = &APR_ARRAY_IDX(diff->entries, i, cfg_diff_entry_t);
    switch (e->kind) {
    case CFG_ADDED:
      s = svc_service_create(sup, e->new_svc);
      if (!s)
        break;
      s->want_up = e->new_svc->autostart;
      for (tail = &sup->services; *tail; tail = &(*tail)->next)
        ;
      *tail = s;
      sup->nservices++;
      break;
    case CFG_REMOVED:
      s = svc_sup_find(sup, e->name);
      if (s) {
        want_down(sup, s, 0);
        s->removing = 1;
      }
      break;
    case CFG_CHANGED:
      s = svc_sup_find(sup, e->name);
      if (!s)
        break;
      vg_log(sup->log, VG_LOG_INFO, "reload", "%s: %s changed; restarting",
             e->name, cfg_fields_string(e->fields & CFG_F_NEEDS_RESTART,
                                        pool));
      svc_service_update(s, e->new_svc, e->fields);
      /* A restart like `vigil restart`: what depends on it too. */
      if (s->state == SVC_RUNNING || s->state == SVC_STARTING)
        svc_sup_restart(sup, s);
      break;
    case CFG_UPDATED:
    case CFG_KEPT:
      s = svc_sup_find(sup, e->name);
      if (s)
        svc_service_update(s, e->new_svc, e->fields);
      break;
    }
  }
  apr_pool_destroy(pool);
  r = calloc(1, sizeof *r);
  if (r) {
    r->cfg = sup->cfg;
    r->owner = sup->reload->owner;
    r->plans = plans;
    r->next = retired;
    retired = r;
  }
  sup->cfg = ncfg;
  sup->reload->owner = owner;
  svc_http_reload(sup);
  svc_sup_pump(sup);
  free_retired(sup);
  svc_notify_ready(sup);
}

static apr_status_t reload_read(svc_sup_t *sup);

static void reload_after(vg_work_t *w, apr_status_t status) {
  svc_reload_t *rl = w->data;
  svc_sup_t *sup = rl->sup;
  reload_req_t *q, *next;
  apr_status_t rv = status == APR_SUCCESS ? rl->rv : status;
  apr_pool_t *pool = rl->pool;

  rl->busy = 0;
  rl->pool = NULL;
  if (rv == APR_SUCCESS && sup->shutting_down)
    rv = VG_ECANCELED;          /* nothing to apply it to any more */
  if (rv == APR_SUCCESS) {
    reload_apply(sup, rl->cfg, pool);
  } else if (rv != CFG_EINVALID && rv != VG_ECANCELED) {
    char eb[128];
    svc_notify_send(sup, "READY=1\nSTATUS=reload failed");
    vg_log(sup->log, VG_LOG_ERROR, "reload", "failed: %s",
           cfg_strerror(rv, eb, sizeof eb));
  } else if (rv == CFG_EINVALID) {
    int n = cfg_errors_count(rl->errs);
    svc_notify_send(sup, "READY=1\nSTATUS=reload refused: invalid config");
    vg_log(sup->log, VG_LOG_ERROR, "reload",
           "refused: %s has %d problem(s); the running configuration "
           "stays in force",
           sup->config_path, n);
    svc_notify_event(sup, VG_LOG_ERROR,
                     "reload refused: %s has %d problem(s); the running "
                     "configuration stays in force (vigil validate -c %s)",
                     sup->config_path, n, sup->config_path);
  }
  for (q = rl->reqs; q; q = next) {
    next = q->next;
    if (q->cb)
      q->cb(sup, q->baton, rv, rv == APR_SUCCESS ? NULL : rl->errs);
    free(q);
  }
  rl->reqs = NULL;
  rl->cfg = NULL;
  rl->errs = NULL;
  if (rv != APR_SUCCESS && pool)
    apr_pool_destroy(pool);
  if (rl->next)
    reload_read(sup);
}

/* Start a read for the requests waiting in rl->next. */
static apr_status_t reload_read(svc_sup_t *sup) {
  svc_reload_t *rl = sup->reload;
  apr_allocator_t *al = NULL;
  apr_status_t rv;

  rl->reqs = rl->next;
  rl->next = NULL;
  /* The worker allocates from this pool while the loop thread allocates
   * from sup->pool: so it has an allocator of its own (an allocator is
   * not shared across threads without a mutex), and nothing else
   * touches it until reload_after(). */
  rv = apr_allocator_create(&al);
  if (rv == APR_SUCCESS) {
    rv = apr_pool_create_ex(&rl->pool, sup->pool, NULL, al);
    if (rv == APR_SUCCESS)
      apr_allocator_owner_set(al, rl->pool);
    else
      apr_allocator_destroy(al);
  }
  if (rv == APR_SUCCESS) {
    svc_notify_send(sup, "RELOADING=1");
    rv = vg_queue_work(sup->loop, &rl->work, reload_work, reload_after);
    if (rv == APR_SUCCESS) {
      rl->busy = 1;
      return APR_SUCCESS;
    }
    apr_pool_destroy(rl->pool);
    rl->pool = NULL;
  }
  rl->rv = rv;
  rl->busy = 1;
  reload_after(&rl->work, rv);
  return rv;
}

apr_status_t svc_sup_reload(svc_sup_t *sup, svc_reload_cb cb, void *baton) {
  svc_reload_t *rl = sup->reload;
  reload_req_t *q, **tail;
  if (!rl) {
    rl = sup->reload = apr_pcalloc(sup->pool, sizeof *rl);
    rl->sup = sup;
    rl->path = sup->config_path;
    rl->work.data = rl;
  }
  q = calloc(1, sizeof *q);
  if (!q)
    return APR_ENOMEM;
  q->cb = cb;
  q->baton = baton;
  for (tail = &rl->next; *tail; tail = &(*tail)->next)
    ;
  *tail = q;
  if (!rl->busy)
    reload_read(sup);
  return APR_SUCCESS;
}

/* SIGHUP: nobody to answer, so the problems go to the log. */
static void sighup_done(svc_sup_t *sup, void *baton, apr_status_t rv,
                        const cfg_errors_t *errs) {
  apr_pool_t *tmp;
  int i;
  (void)baton;
  (void)rv;
  if (!errs || cfg_errors_count(errs) == 0)
    return;
  apr_pool_create(&tmp, sup->pool);
  for (i = 0; i < cfg_errors_count(errs); i++)
    vg_log(sup->log, VG_LOG_ERROR, "reload", "%s",
           cfg_error_format(cfg_errors_get(errs, i), tmp));
  apr_pool_destroy(tmp);
}

static void on_sighup(vg_signal_t *sig, int signum) {
  svc_sup_t *sup = sig->data;
  (void)signum;
  if (svc_sup_reload(sup, sighup_done, NULL) != APR_SUCCESS)
    vg_log(sup->log, VG_LOG_ERROR, "reload", "SIGHUP: out of memory");
}

/* ---- 4. shutdown ---------------------------------------------------------- */

void svc_sup_shutdown(svc_sup_t *sup) {
  svc_service_t *s;
  if (sup->shutting_down)
    return;
  sup->shutting_down = 1;
  svc_notify_stopping(sup);
  vg_log(sup->log, VG_LOG_NOTICE, "supervisor", "shutting down");
  /* A stop on its way (a restart's, a failed start's) must not start
   * the service again once it is down: the STOP in STOPPING drops that
   * wish. */
  for (s = sup->services; s; s = s->next) {
    s->want_up = 0;
    s->restart_pending = 0;
    if (s->state == SVC_BACKOFF || s->state == SVC_STOPPING)
      svc_service_event(s, SVC_EV_STOP);
  }
  svc_sup_pump(sup);
}

static void on_shutdown_request(vg_shutdown_t *sd, int signum) {
  svc_sup_t *sup = sd->data;
  vg_update_time(sup->loop);
  if (signum)
    vg_log(sup->log, VG_LOG_NOTICE, "supervisor", "received SIG%s",
           vg_signal_name(signum) ? vg_signal_name(signum) : "?");
  svc_sup_shutdown(sup);
}

static void on_shutdown_deadline(vg_shutdown_t *sd, int signum) {
  svc_sup_t *sup = sd->data;
  svc_service_t *s;
  /* The graceful helper calls this at the deadline and also at a second
   * request (a second Ctrl+C, SIGTERM from a service manager after
   * SIGINT): say which, so that the log does not blame a timeout that
   * did not pass. */
  if (sd->again) {
    sup->shutdown_forced = 1;
    if (signum)
      vg_log(sup->log, VG_LOG_WARN, "supervisor",
             "received SIG%s again; killing what is left now",
             vg_signal_name(signum) ? vg_signal_name(signum) : "?");
    else
      vg_log(sup->log, VG_LOG_WARN, "supervisor",
             "shutdown asked again; killing what is left now");
  } else {
    vg_log(sup->log, VG_LOG_WARN, "supervisor",
           "shutdown deadline passed; killing what is left");
  }
  /* A service with no process may still have hooks the shutdown waits
   * for (a pre-start hook that ignores its stop signal). */
  for (s = sup->services; s; s = s->next)
    if (s->child || s->hooks)
      svc_service_kill_deadline(s);
}

static void close_walk(vg_handle_t *h, void *arg) {
  (void)arg;
  if (!vg_is_closing(h))
    vg_close(h, NULL);
}

static void finish_shutdown(svc_sup_t *sup) {
  svc_service_t *s, *next;
  if (sup->finished)
    return;
  sup->finished = 1;
  vg_log(sup->log, VG_LOG_NOTICE, "supervisor", "all services stopped");
  svc_control_stop(sup);
  svc_http_stop(sup);
  svc_notify_close(sup);
  vg_graceful_done(&sup->shutdown);
  if (!vg_is_closing((vg_handle_t *)&sup->sighup))
    vg_close((vg_handle_t *)&sup->sighup, NULL);
  if (!vg_is_closing((vg_handle_t *)&sup->pids_timer))
    vg_close((vg_handle_t *)&sup->pids_timer, NULL);
  svc_service_sweeps_close();
  for (s = sup->services; s; s = next) {
    next = s->next;
    svc_service_destroy(s);
  }
  sup->services = NULL;
  /* Whatever is left (probe handles finishing) closes now. */
  vg_walk(sup->loop, close_walk, NULL);
}

/* ---- 5. leftovers ---------------------------------------------------------- */

/* On a pool thread: the text to STATE/pids.tmp, renamed over STATE/pids
 * (so a reader sees the old file or the new, never half of one).  A disk
 * that is slow to create and rename a file (a journal commit) delays no
 * child exit this way. */
static void pids_work(vg_work_t *w) {
  svc_sup_t *sup = w->data;
  apr_pool_t *tmp;
  apr_file_t *f;
  apr_size_t n = sup->pids_len;
  const char *tmppath;
  if (apr_pool_create(&tmp, NULL) != APR_SUCCESS)
    return;
  tmppath = apr_pstrcat(tmp, sup->pids_path, ".tmp", NULL);
  if (apr_file_open(&f, tmppath,
                    APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                    APR_FPROT_UREAD | APR_FPROT_UWRITE, tmp) == APR_SUCCESS) {
    apr_status_t rv = apr_file_write_full(f, sup->pids_text, n, NULL);
    if (apr_file_close(f) == APR_SUCCESS && rv == APR_SUCCESS)
      apr_file_rename(tmppath, sup->pids_path, tmp);
  }
  apr_pool_destroy(tmp);
}

static void pids_after(vg_work_t *w, apr_status_t status) {
  svc_sup_t *sup = w->data;
  (void)status;
  free(sup->pids_text);
  sup->pids_text = NULL;
  sup->pids_busy = 0;
  if (sup->pids_again) {
    sup->pids_again = 0;
    svc_sup_save_pids(sup);
  }
}

/* The text, on the loop thread (where the services are): one line per
 * running child, "PID START-STAMP NAME INVOCATION-ID". */
static void write_pids(vg_timer_t *t) {
  svc_sup_t *sup = t->data;
  svc_service_t *s;
  size_t cap = 256, len = 0;
  char *text;
  if (sup->pids_busy) {
    sup->pids_again = 1;   /* written again when this one is done */
    return;
  }
  for (s = sup->services; s; s = s->next)
    cap += 48 + strlen(s->name) + sizeof s->invocation;
  if (!(text = malloc(cap)))
    return;   /* the file matters only after a kill -9: next change */
  for (s = sup->services; s; s = s->next)
    if (s->child && s->child->proc.pid > 0 && !s->child->exited &&
        s->child->attach != SVC_RUN_ATTACHED) {   /* not ours to kill */
      int n;
      if (!s->child->start_stamp)
        s->child->start_stamp = pal_pid_start_time(s->child->proc.pid);
      n = snprintf(text + len, cap - len, "%ld %llu %s %s\n",
                   s->child->proc.pid,
                   (unsigned long long)s->child->start_stamp, s->name,
                   s->invocation);
      if (n > 0 && (size_t)n < cap - len)
        len += (size_t)n;
    }
  sup->pids_text = text;
  sup->pids_len = len;
  sup->pids_work.data = sup;
  if (vg_queue_work(sup->loop, &sup->pids_work, pids_work, pids_after) !=
      APR_SUCCESS) {
    free(text);
    sup->pids_text = NULL;
    return;
  }
  sup->pids_busy = 1;
}

/* Coalesced, and kept off the restart path: due 20 ms after the change,
 * so a restart (or a readiness) due now goes first and one write covers
 * every child that came and went meanwhile.  With 1 ms, a program that
 * exits at once and is restarted at once had the write (its start time
 * read from /proc, the text, the pool's create and rename) between its
 * exit and the next spawn on every restart.  The file matters only after
 * a kill -9 of the supervisor, when PDEATHSIG has already ended the
 * direct children; what it names are their process groups. */
#define PIDS_DELAY_MS 20

void svc_sup_save_pids(svc_sup_t *sup) {
  if (!vg_is_active((vg_handle_t *)&sup->pids_timer) && !sup->finished)
    vg_timer_start(&sup->pids_timer, write_pids, PIDS_DELAY_MS, 0);
}

/* A supervisor that was killed left its children's pids behind.  Each
 * one whose start time still matches is ours: kill its process group.
 * What left the group (a daemon that setsid()s) is found by the
 * invocation id of its run, in its environment, wherever it went. */
static void kill_leftovers(svc_sup_t *sup) {
  apr_pool_t *tmp;
  apr_file_t *f;
  apr_array_header_t *marks;
  char line[512];
  unsigned n = 0;
  apr_pool_create(&tmp, sup->pool);
  marks = apr_array_make(tmp, 16, sizeof(const char *));
  if (apr_file_open(&f, sup->pids_path, APR_FOPEN_READ, 0, tmp) ==
      APR_SUCCESS) {
    while (apr_file_gets(line, sizeof line, f) == APR_SUCCESS) {
      long pid = 0;
      unsigned long long start = 0;
      uint64_t now_start;
      char name[256] = "", id[64] = "";
      if (sscanf(line, "%ld %llu %255s %63s", &pid, &start, name, id) < 2 ||
          pid <= 0)
        continue;
      if (id[0])
        APR_ARRAY_PUSH(marks, const char *) =
            apr_pstrcat(tmp, "VIGIL_INVOCATION_ID=", id, NULL);
      now_start = pal_pid_start_time(pid);
      if (start != 0 && now_start == start) {
        vg_log(sup->log, VG_LOG_WARN, "supervisor",
               "killing leftover %s (pid %ld) of a previous supervisor",
               name, pid);
        pal_pid_kill(pid, VG_SIGKILL, 1);
        pal_pid_kill(pid, VG_SIGKILL, 0);
      } else if (start != 0 && now_start == 0) {
        /* The leader is gone (PDEATHSIG killed it) but its process group
         * may live on in grandchildren.  The id cannot belong to another
         * group: Linux does not reuse a pid while a group of that id
         * exists, and with no members the kill finds nothing. */
        if (pal_pid_kill(pid, VG_SIGKILL, 1) == APR_SUCCESS)
          vg_log(sup->log, VG_LOG_WARN, "supervisor",
                 "killed the leftover process group of %s (%ld)", name,
                 pid);
      }
    }
    apr_file_close(f);
  }
  if (pal_proc_kill_marked((const char *const *)marks->elts,
                           (size_t)marks->nelts, VG_SIGKILL, &n) ==
          APR_SUCCESS &&
      n)
    vg_log(sup->log, VG_LOG_WARN, "supervisor",
           "killed %u leftover process(es) of a previous supervisor that "
           "had left their service's process group", n);
  apr_file_remove(sup->pids_path, tmp);
  apr_pool_destroy(tmp);
}

/* Every service is down and no handle is left: whatever still descends
 * from us was adopted and owned by no service any more (an orphan that
 * replaced its environment, one of a service a reload removed).  Nothing
 * vigil adopted outlives it: SIGKILL, and the orphans reaped (a second at
 * most: a process stuck in the kernel is left to init).  Windows: the
 * job objects closed with their handles. */
#define SWEEP_WAIT_MS 1000

static void sweep_adopted(svc_sup_t *sup) {
  unsigned n = 0;
  if (pal_proc_sweep(VG_SIGKILL, SWEEP_WAIT_MS, &n) == APR_SUCCESS && n)
    vg_log(sup->log, VG_LOG_WARN, "supervisor",
           "killed %u process(es) vigil adopted that no service owned", n);
}

/* ---- 6. cgroups ---------------------------------------------------------- */

/* Where the services' cgroups go (<cgroup>, config/README.md):
 *   auto  our own cgroup v2 DIR, when it is delegated to us (systemd
 *         Delegate=yes) and not the root of the hierarchy (a root
 *         supervisor without a unit of its own must not fill the
 *         machine's top level with its cgroups, nor share them with a
 *         second vigil)
 *   PATH  that directory, created if missing
 * Processes may live only in the leaves of a cgroup whose controllers are
 * enabled for its children ("no internal processes"), so when vigil is
 * itself in DIR it moves to the leaf DIR/supervisor first; then the
 * controllers among memory, cpu and pids that DIR has are enabled for
 * its children, and each service gets DIR/svc-NAME (service.c).  If any
 * step fails, cgroups are not used: one line says why, and every limit
 * that needed them is warned about per service. */
static void cgroup_none(svc_sup_t *sup, vg_log_level lvl, const char *why) {
  sup->cgroup = NULL;
  sup->cgroup_ctrl = 0;
  sup->cgroup_why = apr_pstrcat(sup->pool, "cgroups are not used: ", why,
                                NULL);
  vg_log(sup->log, lvl, "supervisor", "%s", sup->cgroup_why);
}

static const char *os_why(svc_sup_t *sup, const char *what, const char *dir,
                          apr_status_t rv) {
  char eb[128];
  return apr_psprintf(sup->pool, "%s %s: %s (%s)", what, dir,
                      vg_strerror(rv, eb, sizeof eb), pal_last_call());
}

static void cgroup_setup(svc_sup_t *sup) {
  const cfg_t *cfg = sup->cfg;
  char self[4096];
  const char *dir, *leaf;
  unsigned avail = 0;
  int is_root = 0, in_dir;
  apr_status_t rv;

  if (cfg->cgroup_mode == CFG_CGROUP_OFF) {
    cgroup_none(sup, VG_LOG_INFO, "<cgroup>off</cgroup> in the config");
    return;
  }
  rv = pal_cgroup_self(self, sizeof self, &is_root);
  if (rv == PAL_EUNSUPPORTED) {
    cgroup_none(sup, cfg->cgroup_mode == CFG_CGROUP_PATH ? VG_LOG_WARN
                                                         : VG_LOG_INFO,
                "this system has no cgroup v2 hierarchy");
    return;
  }
  if (rv != APR_SUCCESS) {
    cgroup_none(sup, VG_LOG_WARN,
                os_why(sup, "cannot tell the cgroup of", "vigil", rv));
    return;
  }
  if (cfg->cgroup_mode == CFG_CGROUP_AUTO) {
    if (is_root) {
      cgroup_none(sup, VG_LOG_INFO,
                  apr_psprintf(sup->pool,
                               "vigil runs in the root cgroup %s (run it "
                               "in a delegated one, e.g. systemd "
                               "Delegate=yes, or name one with <cgroup>)",
                               self));
      return;
    }
    dir = apr_pstrdup(sup->pool, self);
    if ((rv = pal_cgroup_writable(dir)) != APR_SUCCESS) {
      cgroup_none(sup, VG_LOG_INFO,
                  os_why(sup, "vigil's cgroup is not delegated to it:", dir,
                         rv));
      return;
    }
  } else {
    dir = cfg->cgroup;
    if ((rv = pal_cgroup_create(dir)) != APR_SUCCESS ||
        (rv = pal_cgroup_writable(dir)) != APR_SUCCESS) {
      cgroup_none(sup, VG_LOG_WARN, os_why(sup, "cannot use", dir, rv));
      return;
    }
  }
  in_dir = strcmp(self, dir) == 0;
  if (in_dir) {
    leaf = apr_pstrcat(sup->pool, dir, "/supervisor", NULL);
    if ((rv = pal_cgroup_create(leaf)) != APR_SUCCESS ||
        (rv = pal_cgroup_join(leaf, 0)) != APR_SUCCESS) {
      cgroup_none(sup, VG_LOG_WARN,
                  os_why(sup, "cannot move vigil into", leaf, rv));
      return;
    }
  }
  /* Controllers: what DIR has, enabled for its children; what is then
   * in its subtree_control is what the services' cgroups get. */
  pal_cgroup_controllers(dir, &avail);
  if ((rv = pal_cgroup_enable(dir, avail)) != APR_SUCCESS)
    vg_log(sup->log, VG_LOG_WARN, "supervisor", "%s",
           os_why(sup, "cannot enable the controllers of", dir, rv));
  if (pal_cgroup_subtree(dir, &sup->cgroup_ctrl) != APR_SUCCESS)
    sup->cgroup_ctrl = 0;
  sup->cgroup = dir;
  vg_log(sup->log, VG_LOG_INFO, "supervisor",
         "cgroups: services in %s/svc-NAME%s; controllers:%s%s%s%s", dir,
         in_dir ? ", vigil in supervisor/" : "",
         sup->cgroup_ctrl & PAL_CGROUP_MEMORY ? " memory" : "",
         sup->cgroup_ctrl & PAL_CGROUP_CPU ? " cpu" : "",
         sup->cgroup_ctrl & PAL_CGROUP_PIDS ? " pids" : "",
         sup->cgroup_ctrl ? "" : " none of memory, cpu, pids");
}

/* ---- 7. svc_sup_run ------------------------------------------------------ */

/* The platform says where (pal_control_endpoint). */
const char *svc_default_endpoint(const char *config_path,
                                 const char *state_dir, apr_pool_t *pool) {
  size_t size = (state_dir ? strlen(state_dir) : 0) + 64;
  char *buf = apr_palloc(pool, size);
  if (pal_control_endpoint(buf, size, config_path, state_dir) !=
      APR_SUCCESS)
    buf[0] = '\0';   /* cannot happen: sized for both forms */
  return buf;
}

const char *svc_control_endpoint(const cfg_t *cfg, apr_pool_t *pool) {
  if (cfg->control)
    return cfg->control;
  return svc_default_endpoint(cfg->path, cfg->state_dir, pool);
}

int svc_sup_run(const svc_sup_opts_t *opts, apr_pool_t *pool) {
  svc_sup_t *sup;
  cfg_errors_t *errs = NULL;
  apr_status_t rv;
  svc_service_t *s, **tail;
  char eb[256];
  long holder = 0;
  int i;

  sup = apr_pcalloc(pool, sizeof *sup);
  sup->pool = pool;
  sup->log = opts->log;
  sup->config_path = opts->config;
  sup->exit_code = 0;
  /* A pool's freed blocks go back to its allocator, which by default
   * keeps every one: the load's scratch (the parse, each plan compiled
   * to check it: 1.7 MiB at 1000 services) would stay resident for the
   * supervisor's life.  Past 256 KiB kept, they go back to the system. */
  apr_allocator_max_free_set(apr_pool_allocator_get(pool), 256 << 10);

  rv = svc_config_load(&sup->cfg, opts->config, pool, &errs);
  if (rv != APR_SUCCESS) {
    apr_file_t *err;
    apr_file_open_stderr(&err, pool);
    if (errs)
      cfg_errors_print(errs, err);
    return 2;
  }
  rv = apr_dir_make_recursive(sup->cfg->state_dir,
                              APR_FPROT_UREAD | APR_FPROT_UWRITE |
                                  APR_FPROT_UEXECUTE,
                              pool);
  if (rv != APR_SUCCESS) {
    vg_log(sup->log, VG_LOG_ERROR, "supervisor", "cannot create %s: %s",
           sup->cfg->state_dir, vg_strerror(rv, eb, sizeof eb));
    return 1;
  }
  rv = vg_lockfile_acquire(&sup->lock,
                           apr_pstrcat(pool, sup->cfg->state_dir,
                                       "/vigil.lock", NULL),
                           pool, &holder);
  if (rv == VG_ELOCKED) {
    vg_log(sup->log, VG_LOG_ERROR, "supervisor",
           "another vigil (pid %ld) is running with state directory %s",
           holder, sup->cfg->state_dir);
    return 3;
  }
  if (rv != APR_SUCCESS) {
    vg_log(sup->log, VG_LOG_ERROR, "supervisor", "cannot lock %s: %s",
           sup->cfg->state_dir, vg_strerror(rv, eb, sizeof eb));
    return 1;
  }
  rv = apr_dir_make_recursive(sup->cfg->log_dir, APR_FPROT_OS_DEFAULT, pool);
  if (rv != APR_SUCCESS)
    vg_log(sup->log, VG_LOG_WARN, "supervisor",
           "cannot create log directory %s: %s", sup->cfg->log_dir,
           vg_strerror(rv, eb, sizeof eb));

  sup->pids_path = apr_pstrcat(pool, sup->cfg->state_dir, "/pids", NULL);
  kill_leftovers(sup);
  /* Grandchildren whose parent dies come to us, not to init, so nothing a
   * service started can escape the sweep of its group. */
  pal_set_subreaper();

  rv = vg_loop_create(&sup->loop, pool);
  if (rv != APR_SUCCESS) {
    vg_log(sup->log, VG_LOG_ERROR, "supervisor",
           "cannot create loop (%s backend): %s", vg_backend(),
           vg_strerror(rv, eb, sizeof eb));
    vg_lockfile_release(sup->lock);
    return 1;
  }
  sup->started_at = apr_time_now();
  sup->started_ms = vg_now(sup->loop);
  vg_timer_init(sup->loop, &sup->pids_timer);
  sup->pids_timer.data = sup;
  vg_unref((vg_handle_t *)&sup->pids_timer);

  vg_graceful_init(sup->loop, &sup->shutdown, sup->cfg->shutdown_timeout_ms,
                   on_shutdown_request, on_shutdown_deadline);
  sup->shutdown.data = sup;
  vg_signal_init(sup->loop, &sup->sighup);
  sup->sighup.data = sup;
  if (vg_signal_start(&sup->sighup, on_sighup, VG_SIGHUP) == APR_SUCCESS)
    vg_unref((vg_handle_t *)&sup->sighup);

  svc_notify_open(sup);
  rv = svc_control_start(sup);
  if (rv != APR_SUCCESS)
    vg_log(sup->log, VG_LOG_ERROR, "supervisor",
           "cannot open the control endpoint %s: %s (%s)",
           sup->control_path, vg_strerror(rv, eb, sizeof eb),
           pal_last_call());
  else
    rv = svc_http_start(sup);   /* says why itself */
  if (rv != APR_SUCCESS) {
    sup->exit_code = 1;
    sup->shutting_down = 1;
    finish_shutdown(sup);
    vg_run(sup->loop, VG_RUN_DEFAULT);
    vg_loop_close(sup->loop);
    vg_lockfile_release(sup->lock);
    return 1;
  }

  vg_log(sup->log, VG_LOG_NOTICE, "supervisor",
         "vigil %s (%s%s%s) started with %s: %d service(s), control %s",
         vg_version(), vg_backend(), pal_poll_fallback() ? "; " : "",
         pal_poll_fallback() ? pal_poll_fallback() : "", sup->cfg->path,
         sup->cfg->services->nelts, sup->control_path);
  svc_notify_event(sup, VG_LOG_NOTICE,
                   "vigil %s started with %s: %d service(s), control %s",
                   vg_version(), sup->cfg->path, sup->cfg->services->nelts,
                   sup->control_path);
  config_warn(sup, sup->cfg, "supervisor");

  cgroup_setup(sup);
  tail = &sup->services;
  for (i = 0; i < sup->cfg->services->nelts; i++) {
    const cfg_service_t *c =
        APR_ARRAY_IDX(sup->cfg->services, i, const cfg_service_t *);
    s = svc_service_create(sup, c);
    if (!s)
      continue;
    s->want_up = c->autostart;
    *tail = s;
    tail = &s->next;
    sup->nservices++;
  }
  svc_sup_pump(sup);
  svc_notify_ready(sup);

  while (vg_run(sup->loop, VG_RUN_DEFAULT)) {
    if (vg_loop_error(sup->loop) != APR_SUCCESS) {
      vg_log(sup->log, VG_LOG_ERROR, "supervisor", "event loop failed: %s",
             vg_strerror(vg_loop_error(sup->loop), eb, sizeof eb));
      sup->exit_code = 1;
      break;
    }
  }
  vg_loop_close(sup->loop);
  sweep_adopted(sup);
  apr_file_remove(sup->pids_path, pool);
  vg_lockfile_release(sup->lock);
  vg_log(sup->log, VG_LOG_NOTICE, "supervisor", "exiting with status %d",
         sup->exit_code);
  svc_notify_event(sup, sup->exit_code ? VG_LOG_ERROR : VG_LOG_NOTICE,
                   "vigil stopped (%s): exit status %d", sup->cfg->path,
                   sup->exit_code);
  return sup->exit_code;
}
