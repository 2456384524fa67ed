/*
 * plan.c -- a service's config compiled into what runs (svc_plan.h).
 *
 * One function, svc_plan_compile(), turns a cfg_service_t into the
 * child's argv and environment, its limits placed (the cgroup's, the
 * spawn's rlimits or job object, or not applied and said so), its check
 * targets parsed and its stop signal mapped.  `vigil validate`, the
 * supervisor's first load and every reload run it (svc_config_load()),
 * so what validates is what runs.  Platform policy is asked of pal/
 * (pal_limit_hold, pal_rlimit_unenforced, pal_stop_signal); nothing here
 * is #if'd.
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

const char **svc_plan_argv(const char *command,
                           const apr_array_header_t *args,
                           apr_pool_t *pool) {
  const char **argv =
      apr_palloc(pool, (size_t)(args->nelts + 2) * sizeof *argv);
  int i;
  argv[0] = command;
  for (i = 0; i < args->nelts; i++)
    argv[i + 1] = APR_ARRAY_IDX(args, i, const char *);
  argv[args->nelts + 1] = NULL;
  return argv;
}

/* Why the cgroup does not hold a limit of controller `ctrl`. */
static const char *no_cgroup_why(const svc_plan_where_t *w, unsigned ctrl,
                                 const char *name, apr_pool_t *pool) {
  if (!w->cgroup_dir)
    return w->cgroup_why ? w->cgroup_why : "cgroups are not used";
  if (!w->cgroup)
    return "the service's cgroup could not be created";
  if (!(w->cgroup_ctrl & ctrl))
    return apr_psprintf(pool,
                        "the cgroup v2 %s controller is not available in %s",
                        name, w->cgroup_dir);
  return apr_psprintf(pool, "writing %s.max failed", name);
}

/* One limit the cgroup does not hold: what the platform's spawn makes of
 * it, as a warning when that is not the limit as written.  An rlimit the
 * OS does not hold the child to is said not to be enforced
 * (pal_rlimit_unenforced: RLIMIT_NPROC under root, RLIMIT_AS on macOS),
 * never that it is applied. */
static void place(svc_plan_t *p, const svc_plan_where_t *w, int which,
                  const char *what, unsigned ctrl, const char *ctrl_name,
                  apr_pool_t *pool) {
  const char *rlimit, *counts, *why, *caveat;
  const char *msg = NULL;
  switch (pal_limit_hold(which, &rlimit, &counts, &why)) {
  case PAL_HOLD_EXACT:
    return;
  case PAL_HOLD_RLIMIT:
    caveat = pal_rlimit_unenforced(which);
    /* RLIMIT_NPROC binds once the child has switched to its <user>. */
    if (which == PAL_LIMIT_PROCESSES && p->cfg->user)
      caveat = NULL;
    msg = apr_psprintf(
        pool, "limit %s %s %s%s%s, not as %s.max: %s", what,
        caveat ? "is not enforced: it is set as" : "is applied as", rlimit,
        caveat ? ", which " : apr_psprintf(pool, " (%s)", counts),
        caveat ? caveat : "", ctrl_name,
        no_cgroup_why(w, ctrl, ctrl_name, pool));
    break;
  default:
    msg = apr_psprintf(pool, "limit %s is not applied: %s", what,
                       why ? why : no_cgroup_why(w, ctrl, ctrl_name, pool));
    break;
  }
  APR_ARRAY_PUSH(p->warnings, const char *) = msg;
}

/* Where each limit goes.  The service's cgroup holds memory, cpu and
 * processes where it can, and a limit it holds is not set again as an
 * rlimit: RLIMIT_AS counts address space, not memory, and RLIMIT_NPROC
 * every process of the user.  The rest goes to the spawn (rlimits, or a
 * Windows job object, which also takes the CPU rate). */
static void place_limits(svc_plan_t *p, const cfg_limits_t *l,
                         const svc_plan_where_t *w, apr_pool_t *pool) {
  vg_limits_t *o = &p->limits;
  memset(o, 0, sizeof *o);
  if (!(w->cgroup_held & PAL_CGROUP_MEMORY))
    o->memory = l->memory;
  o->open_files = l->open_files;
  if (!(w->cgroup_held & PAL_CGROUP_PIDS))
    o->processes = l->processes;
  o->cpu_percent = l->cpu_percent;
  p->has_limits = o->memory || o->open_files || o->processes ||
                  o->cpu_percent;
  if (l->memory && !(w->cgroup_held & PAL_CGROUP_MEMORY))
    place(p, w, PAL_LIMIT_MEMORY,
          apr_psprintf(pool, "memory=%" APR_UINT64_T_FMT,
                       (apr_uint64_t)l->memory),
          PAL_CGROUP_MEMORY, "memory", pool);
  if (l->processes && !(w->cgroup_held & PAL_CGROUP_PIDS))
    place(p, w, PAL_LIMIT_PROCESSES,
          apr_psprintf(pool, "processes=%" APR_UINT64_T_FMT,
                       (apr_uint64_t)l->processes),
          PAL_CGROUP_PIDS, "pids", pool);
  if (l->cpu_percent && !(w->cgroup_held & PAL_CGROUP_CPU))
    place(p, w, PAL_LIMIT_CPU, apr_psprintf(pool, "cpu=%u%%", l->cpu_percent),
          PAL_CGROUP_CPU, "cpu", pool);
  if (l->open_files)
    place(p, w, PAL_LIMIT_OPEN_FILES,
          apr_psprintf(pool, "open-files=%" APR_UINT64_T_FMT,
                       (apr_uint64_t)l->open_files),
          0, "open-files", pool);
}

/* A check's target, by the loader's own parser. */
static cfg_target_t *target(const cfg_service_t *c, const char *what,
                            const char *s, int url, apr_pool_t *pool,
                            cfg_errors_t *errs, apr_status_t *rv) {
  cfg_target_t *t = apr_pcalloc(pool, sizeof *t);
  const char *why = NULL;
  if ((url ? cfg_parse_url(s ? s : "", t, &why)
           : cfg_parse_hostport(s ? s : "", t, &why)) == APR_SUCCESS)
    return t;
  if (errs)
    cfg_errors_add(errs, c->file, c->line, "service %s: %s target '%s': %s",
                   c->name, what, s ? s : "", why ? why : "invalid");
  *rv = CFG_EINVALID;
  return NULL;
}

/* A decimal id ("1000"): what pal_user_lookup() also takes. */
static int is_number(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

apr_status_t svc_plan_creds(const cfg_service_t *c, svc_creds_t *cr,
                            apr_pool_t *pool, const char **why, int *line) {
  pal_user_t u;
  long euid = pal_geteuid(), *groups = NULL;
  int ngroups = 0;
  apr_status_t rv;
  char eb[128];

  memset(cr, 0, sizeof *cr);
  *why = NULL;
  *line = 0;
  if (!c->user && !c->user_group)
    return APR_SUCCESS;
  if (pal_spawn_unsupported(VG_PROCESS_SETUID)) {
    *line = c->user ? c->user_line : c->user_group_line;
    *why = apr_psprintf(
        pool, "<%s> is not supported here: %s; run vigil itself as that "
        "account instead (vigil service install --account NAME "
        "--password PASSWORD)", c->user ? "user" : "group",
        pal_spawn_unsupported(VG_PROCESS_SETUID));
    return PAL_EUNSUPPORTED;
  }
  memset(&u, 0, sizeof u);
  if (c->user) {
    *line = c->user_line;
    rv = pal_user_lookup(c->user, &u, pool);
    if (rv == APR_ENOENT && is_number(c->user) && c->user_group) {
      /* A uid with no entry (a container's): no name, no home, no
       * groups but the one given. */
      u.uid = atol(c->user);
      u.name = c->user;
      u.home = "/";
      u.gid = -1;
    } else if (rv == APR_ENOENT) {
      *why = apr_psprintf(pool, "unknown user '%s'%s", c->user,
                          is_number(c->user)
                              ? " (a uid with no entry in the user "
                                "database needs a <group>)"
                              : "");
      return rv;
    } else if (rv != APR_SUCCESS) {
      *why = apr_psprintf(pool, "cannot look up user '%s': %s", c->user,
                          vg_strerror(rv, eb, sizeof eb));
      return rv;
    }
    cr->uid = u.uid;
    cr->gid = u.gid;
    cr->name = u.name;
    cr->home = u.home;
  }
  if (c->user_group) {
    *line = c->user_group_line;
    rv = pal_group_lookup(c->user_group, &cr->gid);
    if (rv == APR_ENOENT) {
      *why = apr_psprintf(pool, "unknown group '%s'", c->user_group);
      return rv;
    } else if (rv != APR_SUCCESS) {
      *why = apr_psprintf(pool, "cannot look up group '%s': %s",
                          c->user_group, vg_strerror(rv, eb, sizeof eb));
      return rv;
    }
  }
  *line = c->user ? c->user_line : c->user_group_line;
  if (euid != 0) {
    /* Only root may become another user; running as that user already,
     * there is nothing to switch (supervisord: "Can't drop privilege as
     * nonroot user"; said here, at load, rather than at each start). */
    if (c->user && cr->uid != euid) {
      *why = apr_psprintf(pool, "vigil runs as uid %ld, not as root: it "
                          "cannot run the service as user '%s' (uid %ld); "
                          "run vigil as root, or as that user", euid,
                          c->user, cr->uid);
      return APR_EACCES;
    }
    if (c->user_group)
      cr->flags = VG_PROCESS_SETGID;   /* one of our own groups, or EPERM */
    return APR_SUCCESS;
  }
  /* initgroups' list, for the group the child gets. */
  if (c->user && u.gid >= 0 &&
      (rv = pal_user_groups(u.name, cr->gid, &groups, &ngroups, pool)) !=
          APR_SUCCESS) {
    *why = apr_psprintf(pool, "cannot list the groups of user '%s': %s",
                        c->user, vg_strerror(rv, eb, sizeof eb));
    return rv;
  }
  if (c->user && u.gid < 0) {
    groups = apr_palloc(pool, sizeof *groups);
    groups[0] = cr->gid;
    ngroups = 1;
  }
  cr->groups = groups;
  cr->ngroups = ngroups;
  cr->flags = VG_PROCESS_SETGID | (c->user ? VG_PROCESS_SETUID : 0);
  return APR_SUCCESS;
}

/* NAME=VALUE into vars, replacing an earlier one of the same name in
 * place (index: name -> position). */
static void env_put(apr_array_header_t *vars, apr_hash_t *index,
                    const char *name, const char *value, apr_pool_t *pool) {
  const char *kv = apr_pstrcat(pool, name, "=", value, NULL);
  int *at = apr_hash_get(index, name, APR_HASH_KEY_STRING);
  if (at) {
    APR_ARRAY_IDX(vars, *at, const char *) = kv;
    return;
  }
  at = apr_palloc(pool, sizeof *at);
  *at = vars->nelts;
  APR_ARRAY_PUSH(vars, const char *) = kv;
  apr_hash_set(index, name, APR_HASH_KEY_STRING, at);
}

apr_status_t svc_plan_env(const svc_plan_t *pl, const svc_creds_t *cr,
                          apr_pool_t *pool, apr_array_header_t **out,
                          const char **why, int *line) {
  const cfg_service_t *c = pl->cfg;
  apr_array_header_t *vars = apr_array_make(pool, 16, sizeof(const char *));
  apr_hash_t *index = apr_hash_make(pool);
  int i, j;

  *why = NULL;
  *line = 0;
  if (cr && cr->name) {
    env_put(vars, index, "HOME", cr->home, pool);
    env_put(vars, index, "USER", cr->name, pool);
    env_put(vars, index, "LOGNAME", cr->name, pool);
  }
  for (i = 0; c->env_files && i < c->env_files->nelts; i++) {
    const cfg_env_file_t *f = &APR_ARRAY_IDX(c->env_files, i, cfg_env_file_t);
    apr_array_header_t *got = apr_array_make(pool, 16, sizeof(cfg_env_t));
    const char *w = NULL;
    int at = 0;
    apr_status_t rv = cfg_envfile_read(f->path, got, pool, &at, &w);
    if (rv == APR_ENOENT && f->optional)
      continue;
    if (rv != APR_SUCCESS) {
      *line = f->line;
      *why = at ? apr_psprintf(pool, "env-file %s:%d: %s", f->path, at, w)
                : apr_psprintf(pool, "env-file %s: %s", f->path,
                               w ? w : "cannot be read");
      return rv;
    }
    for (j = 0; j < got->nelts; j++) {
      const cfg_env_t *e = &APR_ARRAY_IDX(got, j, cfg_env_t);
      if (strcmp(e->name, "VIGIL_INVOCATION_ID") != 0)   /* vigil's own */
        env_put(vars, index, e->name, e->value, pool);
    }
  }
  for (i = 0; i < pl->nenv; i++) {
    const char *eq = strchr(pl->env[i], '=');
    env_put(vars, index,
            apr_pstrmemdup(pool, pl->env[i], (size_t)(eq - pl->env[i])),
            eq + 1, pool);
  }
  *out = vars;
  return APR_SUCCESS;
}

/* umask, nice and CPU affinity into the plan; one the platform lacks is
 * not applied, and said. */
static void place_sched(svc_plan_t *p, const cfg_service_t *c,
                        apr_pool_t *pool) {
  const char *lack;
  if (c->umask >= 0) {
    if ((lack = pal_spawn_unsupported(VG_PROCESS_UMASK)) != NULL) {
      APR_ARRAY_PUSH(p->warnings, const char *) = apr_psprintf(
          pool, "umask %04o is not applied: %s", (unsigned)c->umask, lack);
    } else {
      p->sched_flags |= VG_PROCESS_UMASK;
      p->umask = (unsigned)c->umask;
    }
  }
  if (c->has_nice) {
    p->sched_flags |= VG_PROCESS_NICE;
    p->nice = c->nice;
  }
  if (c->cpus) {
    if ((lack = pal_spawn_unsupported(VG_PROCESS_AFFINITY)) != NULL) {
      APR_ARRAY_PUSH(p->warnings, const char *) =
          apr_psprintf(pool, "cpu-affinity is not applied: %s", lack);
    } else {
      p->sched_flags |= VG_PROCESS_AFFINITY;
      p->cpus = *c->cpus;
    }
  }
}

apr_status_t svc_plan_compile(svc_plan_t **plan, const cfg_service_t *c,
                              const svc_plan_where_t *where,
                              apr_pool_t *pool, cfg_errors_t *errs) {
  static const svc_plan_where_t nowhere;
  svc_plan_t *p = apr_pcalloc(pool, sizeof *p);
  apr_status_t rv = APR_SUCCESS;
  int i, n = 0;

  if (!where)
    where = &nowhere;
  p->cfg = c;
  p->argv = svc_plan_argv(c->command, c->args, pool);
  p->env = apr_palloc(pool, (size_t)(c->env->nelts + 1) * sizeof *p->env);
  for (i = 0; i < c->env->nelts; i++) {
    const cfg_env_t *v = &APR_ARRAY_IDX(c->env, i, cfg_env_t);
    if (strcmp(v->name, "VIGIL_INVOCATION_ID") != 0)   /* vigil's own */
      p->env[n++] = apr_pstrcat(pool, v->name, "=", v->value, NULL);
  }
  p->env[n] = NULL;
  p->nenv = n;
  p->warnings = apr_array_make(pool, 4, sizeof(const char *));
  place_limits(p, &c->limits, where, pool);
  if (c->ready.kind == CFG_READY_TCP)
    p->ready_target = target(c, "ready", c->ready.target, 0, pool, errs, &rv);
  switch (c->health.type) {
  case CFG_HEALTH_TCP:
  case CFG_HEALTH_HTTP:
    p->health_target = target(c, "health", c->health.target,
                              c->health.type == CFG_HEALTH_HTTP, pool, errs,
                              &rv);
    break;
  case CFG_HEALTH_EXEC:
    p->health_argv = svc_plan_argv(c->health.command, c->health.args, pool);
    break;
  default:
    break;
  }
  p->hook_argv = apr_palloc(pool, (size_t)(c->hooks->nelts + 1) *
                                      sizeof *p->hook_argv);
  for (i = 0; i < c->hooks->nelts; i++) {
    const cfg_hook_t *h = &APR_ARRAY_IDX(c->hooks, i, cfg_hook_t);
    p->hook_argv[i] = svc_plan_argv(h->cmd.command, h->cmd.args, pool);
  }
  p->stop_signal = pal_stop_signal(c->stop.signal);
  place_sched(p, c, pool);
  {
    /* The user and group must exist now (they are looked up again at
     * each start). */
    svc_creds_t cr;
    const char *why;
    int line;
    if (svc_plan_creds(c, &cr, pool, &why, &line) != APR_SUCCESS) {
      if (errs)
        cfg_errors_add(errs, c->file, line ? line : c->line,
                       "service %s: %s", c->name, why);
      rv = CFG_EINVALID;
    }
  }
  /* A <reload signal> this platform cannot send is refused now, not at
   * the first `vigil reload NAME` (the default HUP, on Windows, then). */
  if (!c->reload.cmd.command && c->reload.signal != VG_SIGHUP &&
      pal_proc_signal(NULL, c->reload.signal, 0) != APR_SUCCESS) {
    if (errs)
      cfg_errors_add(errs, c->file, c->line,
                     "service %s: <reload signal=\"%s\"> cannot be sent "
                     "on this platform", c->name,
                     vg_signal_name(c->reload.signal));
    rv = CFG_EINVALID;
  }
  *plan = p;
  return rv;
}

/* ---- warnings ------------------------------------------------------------ */

/* Why log daemon `sink` cannot be reached now, or NULL.  *where: the
 * socket's path (NULL: the platform has no such daemon). */
static const char *sink_problem(cfg_log_sink sink, const char **where,
                                apr_pool_t *pool) {
  apr_finfo_t fi;
  apr_status_t rv;
  *where = NULL;
  if (sink == CFG_SINK_EVENTLOG)
    return pal_eventlog_supported()
               ? NULL
               : "there is no Windows Event Log on this platform";
  *where = pal_logsock_path(sink == CFG_SINK_SYSLOG ? PAL_LOGSOCK_SYSLOG
                                                     : PAL_LOGSOCK_JOURNAL);
  if (!*where)
    return sink == CFG_SINK_SYSLOG
               ? "this platform has no syslog socket"
               : "this platform has no journald";
  rv = apr_stat(&fi, *where, APR_FINFO_TYPE, pool);
  if (APR_STATUS_IS_ENOENT(rv))
    return apr_psprintf(pool, "%s does not exist (is %s running?)", *where,
                        sink == CFG_SINK_SYSLOG ? "a syslog daemon"
                                                : "systemd-journald");
  if (rv == APR_SUCCESS && fi.filetype != APR_SOCK)
    return apr_psprintf(pool, "%s is not a socket", *where);
  return NULL;
}

int svc_config_warnings(const cfg_t *cfg, apr_pool_t *pool,
                        cfg_errors_t *warns) {
  static const char *const names[] = {"", "syslog", "journal", "eventlog"};
  const cfg_service_t *first[4] = {NULL, NULL, NULL, NULL};
  const char *attr[4] = {NULL, NULL, NULL, NULL};
  const char *file[4] = {NULL, NULL, NULL, NULL};
  int uses[4] = {0, 0, 0, 0};
  int i, k, n = 0;
  for (i = 0; i < cfg->services->nelts; i++) {
    const cfg_service_t *c =
        APR_ARRAY_IDX(cfg->services, i, const cfg_service_t *);
    const cfg_log_target_t *tg[2];
    int j;
    tg[0] = &c->log.out;
    tg[1] = &c->log.err;
    for (j = 0; j < 2; j++) {
      k = (int)tg[j]->sink;
      if (tg[j]->kind != CFG_LOG_FILE || k <= 0 || k > 3 ||
          (j == 1 && tg[1]->sink == tg[0]->sink))
        continue;
      if (!first[k]) {
        first[k] = c;
        attr[k] = j ? "stderr" : "stdout";
        file[k] = tg[j]->path;
      }
      uses[k]++;
    }
  }
  for (k = 1; k <= 3; k++) {
    const char *where, *why;
    if (!first[k] || !(why = sink_problem((cfg_log_sink)k, &where, pool)))
      continue;
    cfg_errors_add(warns, first[k]->file, first[k]->line,
                   "service %s%s: <log %s=\"%s\">: %s; the lines go to "
                   "%s%s",
                   first[k]->name,
                   uses[k] > 1 ? apr_psprintf(pool, " (and %d more "
                                              "services)", uses[k] - 1)
                               : "",
                   attr[k], names[k], why,
                   uses[k] > 1 ? "the fallback files (NAME.out.log, "
                                 "NAME.err.log)"
                               : apr_pstrcat(pool, "the fallback file ",
                                             file[k], NULL),
                   where ? " until it can be reached (tried again every "
                           "10 s)"
                         : "");
    n++;
  }
  return n;
}

apr_status_t svc_config_check_env(const cfg_t *cfg, apr_pool_t *pool,
                                  cfg_errors_t *errs) {
  apr_status_t rv = APR_SUCCESS;
  int i;
  for (i = 0; i < cfg->services->nelts; i++) {
    const cfg_service_t *c =
        APR_ARRAY_IDX(cfg->services, i, const cfg_service_t *);
    svc_plan_t pl;
    apr_array_header_t *vars;
    const char *why;
    int line;
    /* Every instance: ${VIGIL_INSTANCE} may name a file of its own (the
     * same problem twice at one line is listed once). */
    memset(&pl, 0, sizeof pl);
    pl.cfg = c;
    if (svc_plan_env(&pl, NULL, pool, &vars, &why, &line) != APR_SUCCESS) {
      cfg_errors_add(errs, c->file, line ? line : c->line,
                     "service %s: %s", *c->group ? c->group : c->name, why);
      rv = CFG_EINVALID;
    }
  }
  return rv;
}

apr_status_t svc_config_load(cfg_t **cfg, const char *path, apr_pool_t *pool,
                             cfg_errors_t **errs) {
  cfg_errors_t *list = NULL;
  apr_status_t rv = cfg_load(cfg, path, pool, &list);
  apr_pool_t *tmp;
  svc_plan_t *plan;
  int i;
  if (rv == APR_SUCCESS) {
    apr_pool_create(&tmp, pool);
    for (i = 0; i < (*cfg)->services->nelts; i++)
      if (svc_plan_compile(&plan,
                           APR_ARRAY_IDX((*cfg)->services, i,
                                         const cfg_service_t *),
                           NULL, tmp, list) != APR_SUCCESS)
        rv = CFG_EINVALID;
    apr_pool_destroy(tmp);
    if (rv != APR_SUCCESS) {
      cfg_errors_sort(list);
      *cfg = NULL;
    }
  }
  if (errs)
    *errs = list;
  return rv;
}
