/*
 * diff.c -- what a reload changes, service by service (see cfg.h).
 *
 * Each field is compared by value, by the equality function fields.def
 * names for its CFG_F_* bit.  The split between CHANGED
 * (restart) and UPDATED (live) is CFG_F_NEEDS_RESTART: what the running
 * process was started with -- its command line, environment, directory,
 * limits and where its stdout/stderr go (a file through the supervisor's
 * pipe, /dev/null, or the supervisor's own descriptors) -- cannot change
 * without a new process; the rest is the supervisor's own behaviour.
 */
#include <string.h>

#include <apr_strings.h>

#include "cfg_int.h"

static int str_eq(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

static int strs_eq(const apr_array_header_t *a, const apr_array_header_t *b) {
  int i;
  if (a->nelts != b->nelts)
    return 0;
  for (i = 0; i < a->nelts; i++)
    if (!str_eq(APR_ARRAY_IDX(a, i, const char *),
                APR_ARRAY_IDX(b, i, const char *)))
      return 0;
  return 1;
}

/* The environment is compared in order: a later entry may override an
 * earlier one of the same name in some spawners. */
static int env_eq(const apr_array_header_t *a, const apr_array_header_t *b) {
  int i;
  if (a->nelts != b->nelts)
    return 0;
  for (i = 0; i < a->nelts; i++) {
    const cfg_env_t *x = &APR_ARRAY_IDX(a, i, cfg_env_t);
    const cfg_env_t *y = &APR_ARRAY_IDX(b, i, cfg_env_t);
    if (!str_eq(x->name, y->name) || !str_eq(x->value, y->value))
      return 0;
  }
  return 1;
}

/* depends_on as a set. */
static int set_eq(const apr_array_header_t *a, const apr_array_header_t *b) {
  int i, j;
  if (a->nelts != b->nelts)
    return 0;
  for (i = 0; i < a->nelts; i++) {
    for (j = 0; j < b->nelts; j++)
      if (str_eq(APR_ARRAY_IDX(a, i, const char *),
                 APR_ARRAY_IDX(b, j, const char *)))
        break;
    if (j == b->nelts)
      return 0;
  }
  return 1;
}

static int limits_eq(const cfg_limits_t *a, const cfg_limits_t *b) {
  return a->memory == b->memory && a->cpu_percent == b->cpu_percent &&
         a->processes == b->processes && a->open_files == b->open_files;
}

static int restart_eq(const cfg_restart_t *a, const cfg_restart_t *b) {
  return a->policy == b->policy && a->delay_ms == b->delay_ms &&
         a->max_delay_ms == b->max_delay_ms &&
         a->max_restarts == b->max_restarts && a->window_ms == b->window_ms;
}

static int ready_eq(const cfg_ready_t *a, const cfg_ready_t *b) {
  return a->kind == b->kind && a->after_ms == b->after_ms &&
         str_eq(a->host, b->host) && a->port == b->port &&
         a->timeout_ms == b->timeout_ms;
}

static int health_eq(const cfg_health_t *a, const cfg_health_t *b) {
  return a->type == b->type && str_eq(a->target, b->target) &&
         strs_eq(a->args, b->args) && a->interval_ms == b->interval_ms &&
         a->timeout_ms == b->timeout_ms && a->failures == b->failures;
}

static int log_eq(const cfg_log_t *a, const cfg_log_t *b) {
  return str_eq(a->out.path, b->out.path) && str_eq(a->err.path, b->err.path) &&
         a->out.sink == b->out.sink && a->err.sink == b->err.sink &&
         a->max_size == b->max_size && a->keep == b->keep &&
         a->rotate_daily == b->rotate_daily && a->compress == b->compress &&
         a->timestamps == b->timestamps;
}

/* The equality of each field that fields.def names, over two services. */
typedef const cfg_service_t svc_t;

static int eq_command(svc_t *a, svc_t *b) {
  return str_eq(a->command, b->command);
}
static int eq_args(svc_t *a, svc_t *b) { return strs_eq(a->args, b->args); }
static int eq_workdir(svc_t *a, svc_t *b) {
  return str_eq(a->workdir, b->workdir);
}
static int eq_env(svc_t *a, svc_t *b) { return env_eq(a->env, b->env); }
static int eq_autostart(svc_t *a, svc_t *b) {
  return a->autostart == b->autostart;
}
static int eq_restart(svc_t *a, svc_t *b) {
  return restart_eq(&a->restart, &b->restart);
}
static int eq_ready(svc_t *a, svc_t *b) {
  return ready_eq(&a->ready, &b->ready);
}
static int eq_stop(svc_t *a, svc_t *b) {
  return a->stop.signal == b->stop.signal &&
         a->stop.timeout_ms == b->stop.timeout_ms;
}
/* A <hook>'s, an <on>'s or a <reload>'s command, arguments and timeout
 * (not the line it is written on). */
static int cmd_eq(const cfg_command_t *x, const cfg_command_t *y) {
  return str_eq(x->command, y->command) && strs_eq(x->args, y->args) &&
         x->timeout_ms == y->timeout_ms;
}
static int eq_reload(svc_t *a, svc_t *b) {
  return a->reload.signal == b->reload.signal &&
         cmd_eq(&a->reload.cmd, &b->reload.cmd);
}
static int eq_depends(svc_t *a, svc_t *b) {
  return set_eq(a->depends_on, b->depends_on);
}
static int eq_health(svc_t *a, svc_t *b) {
  return health_eq(&a->health, &b->health);
}
static int eq_stdio(svc_t *a, svc_t *b) {
  return a->log.out.kind == b->log.out.kind &&
         a->log.err.kind == b->log.err.kind;
}
static int eq_log(svc_t *a, svc_t *b) { return log_eq(&a->log, &b->log); }
static int eq_limits(svc_t *a, svc_t *b) {
  return limits_eq(&a->limits, &b->limits);
}
static int eq_type(svc_t *a, svc_t *b) { return a->type == b->type; }
static int eq_on(svc_t *a, svc_t *b) {
  int i;
  if (a->on->nelts != b->on->nelts)
    return 0;
  for (i = 0; i < a->on->nelts; i++) {
    const cfg_on_t *x = &APR_ARRAY_IDX(a->on, i, cfg_on_t);
    const cfg_on_t *y = &APR_ARRAY_IDX(b->on, i, cfg_on_t);
    if (x->event != y->event ||
        !cmd_eq(&x->cmd, &y->cmd))
      return 0;
  }
  return 1;
}
static int eq_hooks(svc_t *a, svc_t *b) {
  int i;
  if (a->hooks->nelts != b->hooks->nelts)
    return 0;
  for (i = 0; i < a->hooks->nelts; i++) {
    const cfg_hook_t *x = &APR_ARRAY_IDX(a->hooks, i, cfg_hook_t);
    const cfg_hook_t *y = &APR_ARRAY_IDX(b->hooks, i, cfg_hook_t);
    if (x->when != y->when ||
        !cmd_eq(&x->cmd, &y->cmd))
      return 0;
  }
  return 1;
}
static int eq_watchdog(svc_t *a, svc_t *b) {
  return a->watchdog_ms == b->watchdog_ms;
}
static int eq_schedule(svc_t *a, svc_t *b) {
  return str_eq(a->schedule, b->schedule);
}

static int eq_pid_file(svc_t *a, svc_t *b) {
  return str_eq(a->pid_file, b->pid_file);
}

static int eq_user(svc_t *a, svc_t *b) { return str_eq(a->user, b->user); }
static int eq_group(svc_t *a, svc_t *b) {
  return str_eq(a->user_group, b->user_group);
}
static int eq_env_files(svc_t *a, svc_t *b) {
  int i;
  if (a->env_files->nelts != b->env_files->nelts)
    return 0;
  for (i = 0; i < a->env_files->nelts; i++) {
    const cfg_env_file_t *x = &APR_ARRAY_IDX(a->env_files, i, cfg_env_file_t);
    const cfg_env_file_t *y = &APR_ARRAY_IDX(b->env_files, i, cfg_env_file_t);
    if (!str_eq(x->path, y->path) || x->optional != y->optional)
      return 0;
  }
  return 1;
}
static int eq_umask(svc_t *a, svc_t *b) { return a->umask == b->umask; }
static int eq_nice(svc_t *a, svc_t *b) {
  return a->has_nice == b->has_nice && (!a->has_nice || a->nice == b->nice);
}
static int eq_cpu_affinity(svc_t *a, svc_t *b) {
  if (!a->cpus || !b->cpus)
    return a->cpus == b->cpus;
  return memcmp(a->cpus, b->cpus, sizeof *a->cpus) == 0;
}

static const cfg__field_t fields[] = {
#define CFG__CHILD(name, content, attrs, required, children, flags, parse,  \
                   ...)                                                      \
  __VA_ARGS__
#define CFG__FIELD(bit, name, eq) {bit, name, eq},
#define CFG__NOFIELD
#include "fields.def"
#undef CFG__CHILD
#undef CFG__FIELD
#undef CFG__NOFIELD
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

const cfg__field_t *cfg__fields(size_t *n) {
  *n = NFIELDS;
  return fields;
}

static unsigned compare(const cfg_service_t *a, const cfg_service_t *b) {
  unsigned f = 0;
  size_t i;
  for (i = 0; i < NFIELDS; i++)
    if (!fields[i].eq(a, b))
      f |= fields[i].bit;
  return f;
}

cfg_diff_t *cfg_diff(const cfg_t *old_cfg, const cfg_t *new_cfg,
                     apr_pool_t *pool) {
  cfg_diff_t *d = apr_pcalloc(pool, sizeof(*d));
  int i;

  d->entries = apr_array_make(pool, new_cfg->services->nelts + 4,
                              sizeof(cfg_diff_entry_t));
  if (!str_eq(old_cfg->state_dir, new_cfg->state_dir))
    d->supervisor |= CFG_S_STATE_DIR;
  if (!str_eq(old_cfg->control, new_cfg->control))
    d->supervisor |= CFG_S_CONTROL;
  if (!str_eq(old_cfg->log_dir, new_cfg->log_dir))
    d->supervisor |= CFG_S_LOG_DIR;
  if (old_cfg->shutdown_timeout_ms != new_cfg->shutdown_timeout_ms)
    d->supervisor |= CFG_S_SHUTDOWN_TIMEOUT;
  if (old_cfg->cgroup_mode != new_cfg->cgroup_mode ||
      !str_eq(old_cfg->cgroup, new_cfg->cgroup))
    d->supervisor |= CFG_S_CGROUP;

  for (i = 0; i < new_cfg->services->nelts; i++) {
    const cfg_service_t *n =
        APR_ARRAY_IDX(new_cfg->services, i, const cfg_service_t *);
    const cfg_service_t *o = cfg_service_find(old_cfg, n->name);
    cfg_diff_entry_t *e = apr_array_push(d->entries);
    e->name = n->name;
    e->new_svc = n;
    e->old_svc = o;
    e->fields = 0;
    if (!o) {
      e->kind = CFG_ADDED;
      d->added++;
      continue;
    }
    e->fields = compare(o, n);
    if (e->fields & CFG_F_NEEDS_RESTART) {
      e->kind = CFG_CHANGED;
      d->changed++;
    } else if (e->fields) {
      e->kind = CFG_UPDATED;
      d->updated++;
    } else {
      e->kind = CFG_KEPT;
      d->kept++;
    }
  }
  for (i = 0; i < old_cfg->services->nelts; i++) {
    const cfg_service_t *o =
        APR_ARRAY_IDX(old_cfg->services, i, const cfg_service_t *);
    cfg_diff_entry_t *e;
    if (cfg_service_find(new_cfg, o->name))
      continue;
    e = apr_array_push(d->entries);
    e->name = o->name;
    e->kind = CFG_REMOVED;
    e->fields = 0;
    e->old_svc = o;
    e->new_svc = NULL;
    d->removed++;
  }
  return d;
}

const char *cfg_change_name(cfg_change kind) {
  switch (kind) {
  case CFG_KEPT:
    return "kept";
  case CFG_ADDED:
    return "added";
  case CFG_REMOVED:
    return "removed";
  case CFG_CHANGED:
    return "changed";
  case CFG_UPDATED:
    return "updated";
  }
  return "?";
}

const char *cfg_fields_string(unsigned fields_mask, apr_pool_t *pool) {
  const char *s = "";
  unsigned bit;
  size_t i;
  /* In bit order, whatever the order of fields.def. */
  for (bit = 1; bit; bit <<= 1)
    for (i = 0; i < NFIELDS; i++)
      if ((fields_mask & bit) && fields[i].bit == bit)
        s = apr_pstrcat(pool, s, *s ? "," : "", fields[i].name, NULL);
  return s;
}
