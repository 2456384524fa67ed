/*
 * svc_plan.h -- private to services/: a service's plan, what its config
 * means on this platform, compiled once by svc_plan_compile() at load, at
 * every reload and by `vigil validate`, so the three agree by
 * construction.  service.c runs the plan; it does not read the config's
 * grammar again.
 */
#ifndef VIGIL_SVC_PLAN_H
#define VIGIL_SVC_PLAN_H

#include "cfg.h"
#include "vigil.h"

/* Where a plan runs: what the supervisor's cgroups offer the service.
 * All zero for `vigil validate` (no cgroup: every limit is placed as the
 * platform holds it without one). */
typedef struct svc_plan_where_s {
  const char *cgroup_dir;       /* the supervisor's subtree, or NULL */
  const char *cgroup_why;       /* why not, when cgroup_dir is NULL */
  const char *cgroup;           /* the service's own cgroup, or NULL */
  unsigned cgroup_ctrl;         /* PAL_CGROUP_* enabled under cgroup_dir */
  unsigned cgroup_held;         /* PAL_CGROUP_* limits its cgroup holds */
} svc_plan_where_t;

typedef struct svc_plan_s {
  const cfg_service_t *cfg;
  /* The child: command line and the service's own variables
   * ("NAME=VALUE", file order; VIGIL_INVOCATION_ID is vigil's own and not
   * among them).  Both NULL-terminated. */
  const char **argv;
  const char **env;
  int nenv;
  /* Limits placed: what the spawn sets (rlimits, a job object), the rest
   * being the cgroup's; has_limits when any is set. */
  vg_limits_t limits;
  int has_limits;
  /* What is not applied as written, one sentence each (const char *),
   * for the caller to say: "limit cpu=50% is not applied: ...". */
  apr_array_header_t *warnings;
  /* Checks, their targets parsed once, by the loader's parser.  Names are
   * resolved at each probe. */
  cfg_target_t *ready_target;   /* ready tcp, else NULL */
  cfg_target_t *health_target;  /* health tcp or http, else NULL */
  const char **health_argv;     /* health exec, else NULL */
  /* The spawn's scheduling: VG_PROCESS_UMASK, _NICE, _AFFINITY as the
   * config asks (an option the platform lacks is left out, and said in
   * warnings), with their values.  The user switch is resolved at each
   * start instead (svc_plan_creds). */
  unsigned sched_flags;
  unsigned umask;
  int nice;
  vg_cpuset_t cpus;
  /* Each <hook>'s command line, as cfg->hooks orders them. */
  const char ***hook_argv;
  /* The stop ladder's first signal, mapped for the platform. */
  int stop_signal;
  /* CFG_F_*: what the reload that made this plan changed (config/diff.c,
   * the one comparison); 0 for the first plan. */
  unsigned changed;
} svc_plan_t;

/* Compile `cfg` into *plan, allocated in `pool`.  CFG_EINVALID when the
 * config cannot be run as written, each problem added to errs (may be
 * NULL) at the service's file and line; *plan is still set. */
/* command and args (const char *), as one NULL-terminated argv in pool. */
const char **svc_plan_argv(const char *command,
                           const apr_array_header_t *args, apr_pool_t *pool);

apr_status_t svc_plan_compile(svc_plan_t **plan, const cfg_service_t *cfg,
                              const svc_plan_where_t *where,
                              apr_pool_t *pool, cfg_errors_t *errs);

/* Who the child runs as (<user>, <group>), resolved in the user
 * database now: at load and reload (to report a problem at its line) and
 * again at every start, as systemd does, so that a user's new groups
 * (usermod -aG) take effect at the next restart. */
typedef struct svc_creds_s {
  unsigned flags;               /* VG_PROCESS_SETUID | _SETGID, or 0 */
  long uid, gid;
  const long *groups;           /* supplementary groups (initgroups') */
  int ngroups;
  const char *name;             /* <user>: for USER and LOGNAME; else NULL */
  const char *home;             /* <user>: for HOME; else NULL */
} svc_creds_t;

/* Resolve cfg's <user> and <group> into *cr (in pool).  On failure: the
 * status, *why (a sentence naming the user or group) and *line (of the
 * element at fault).  Windows has no user to switch to: a clear refusal
 * naming the alternative.  A vigil that is not root may only "switch" to
 * its own user. */
apr_status_t svc_plan_creds(const cfg_service_t *cfg, svc_creds_t *cr,
                            apr_pool_t *pool, const char **why, int *line);

/* The variables the service adds to the supervisor's environment at this
 * start, "NAME=VALUE" each, one per name (a later one replaces an earlier
 * one, in place): HOME, USER, LOGNAME for <user> (cr), then each
 * <env-file> read now (in order), then the service's own <env>, which
 * win.  On failure (an env-file missing and not optional, unreadable or
 * malformed): the status and *why ("env-file PATH:LINE: ..."), *line
 * (of the <env-file>). */
apr_status_t svc_plan_env(const svc_plan_t *plan, const svc_creds_t *cr,
                          apr_pool_t *pool, apr_array_header_t **vars,
                          const char **why, int *line);

#endif
