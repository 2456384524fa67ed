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
apr_status_t svc_plan_compile(svc_plan_t **plan, const cfg_service_t *cfg,
                              const svc_plan_where_t *where,
                              apr_pool_t *pool, cfg_errors_t *errs);

#endif
