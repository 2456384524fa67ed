/*
 * svc.h -- the supervisor (prefix svc_): services as explicit state
 * machines on one libvigil loop, driven by a configuration from config/.
 *
 * Every event -- a child's exit, a timer, a readiness or health probe
 * result, a command from the control endpoint, a signal -- arrives on the
 * loop thread and goes through svc_service_event(), which looks up the
 * action in a state x event table (services/service.c).  Nothing polls:
 * a supervisor with idle services sleeps in the loop's one blocking wait
 * until a timer is due or something happens.
 *
 * Ownership: the supervisor (svc_sup_t) owns the loop, the current
 * configuration (cfg_t, replaced on reload), and the services.  A service
 * record (svc_service_t) is created from one cfg_service_t and points at
 * it; on reload it is pointed at the new record (UPDATED), restarted with
 * it (CHANGED), or stopped and freed (REMOVED).  Each run of a child has
 * its own record (svc_run_t) that lives until all of its handles closed.
 */
#ifndef VIGIL_SVC_H
#define VIGIL_SVC_H

#include "vigil.h"
#include "cfg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct svc_sup_s svc_sup_t;
typedef struct svc_service_s svc_service_t;

/* States, as docs/guide.md names them. */
typedef enum {
  SVC_STOPPED = 0,   /* not running, not wanted (or waiting for deps) */
  SVC_STARTING,      /* spawned, not yet ready (or its pre-start hooks
                        run; a oneshot: until it exits) */
  SVC_RUNNING,       /* ready */
  SVC_BACKOFF,       /* waiting to restart after a failure */
  SVC_STOPPING,      /* stop signal sent, waiting for the exit */
  SVC_EXITED,        /* ended and not restarted (policy); a oneshot
                        that exited 0 (done: its dependents start) */
  SVC_FATAL,         /* gave up: too many restarts, or cannot spawn */
  SVC_NSTATES
} svc_state;

/* Events of the state machine. */
typedef enum {
  SVC_EV_START = 0,  /* command: start (deps permitting) */
  SVC_EV_STOP,       /* command: stop (also shutdown and removal) */
  SVC_EV_RESTART,    /* command: restart (also a changed config) */
  SVC_EV_EXIT,       /* the child exited and its output is drained */
  SVC_EV_READY,      /* the readiness condition was met */
  SVC_EV_TIMEOUT,    /* the state's timer fired */
  SVC_EV_HEALTH,     /* health check failed `failures` times in a row */
  SVC_EV_HOOK,       /* the pre-start or pre-stop hooks it waited for
                        ended (s->hook_fail says whether they passed) */
  SVC_EV_WATCHDOG,   /* no WATCHDOG=1 within <watchdog timeout> */
  SVC_NEVENTS
} svc_event;

const char *svc_state_name(svc_state s);
const char *svc_event_name(svc_event e);

/* Run the supervisor in the foreground until it is told to stop (signal,
 * control command).  Returns the exit code of docs/guide.md: 0 ok,
 * 1 runtime failure, 2 config error, 3 another instance holds the lock. */
typedef struct svc_sup_opts_s {
  const char *config;           /* path of the XML file */
  vg_log_t *log;                /* the supervisor's own log */
  int foreground_notify;        /* reserved: systemd Type=notify */
} svc_sup_opts_t;

int svc_sup_run(const svc_sup_opts_t *opts, apr_pool_t *pool);

/* cfg_load() and then every service compiled into the plan it runs by
 * (services/plan.c): what `vigil validate` checks, and what the
 * supervisor loads at start and at every reload, so the three accept and
 * refuse the same files with the same messages.  As cfg_load(). */
apr_status_t svc_config_load(cfg_t **cfg, const char *path, apr_pool_t *pool,
                             cfg_errors_t **errs);
/* What `vigil validate` checks beyond the load: each service's
 * <env-file>s, read and parsed now as a start would (a missing file that
 * is not optional, one that cannot be read, a malformed line), each
 * problem added to errs at the <env-file>'s line.  The supervisor does
 * not refuse a config for them: the files are read at every start, and a
 * start that cannot read one fails. */
/* What a loaded config will meet on this host, said as warnings (it
 * loads and runs all the same): a log daemon target (<log stdout=
 * "syslog|journal|eventlog">) this platform does not have, or whose
 * socket is missing or is not a socket now.  The lines then go to the
 * fallback file, and a socket is tried again every 10 s, so a daemon
 * that starts later is used: a warning, not an error.  One problem per
 * target (at the first service that names it, with how many others do)
 * added to warns; their number is returned.  `vigil validate` prints
 * them as "FILE:LINE: warning: ...", the supervisor logs them at WARN at
 * its start and at each reload. */
int svc_config_warnings(const cfg_t *cfg, apr_pool_t *pool,
                        cfg_errors_t *warns);
apr_status_t svc_config_check_env(const cfg_t *cfg, apr_pool_t *pool,
                                  cfg_errors_t *errs);

/* The control endpoint of a configuration (its <control>, or the
 * default below), allocated from pool. */
const char *svc_control_endpoint(const cfg_t *cfg, apr_pool_t *pool);
/* The default endpoint of the config at `config_path` (absolute) whose
 * state directory is `state_dir`: STATE-DIR/control.sock on POSIX; on
 * Windows the named pipe \\.\pipe\vigil-HASH, HASH the FNV-1a 64-bit
 * hash (16 hex digits) of the path with ASCII letters folded to lower
 * case and '/' to '\'. */
const char *svc_default_endpoint(const char *config_path,
                                 const char *state_dir, apr_pool_t *pool);

/* The files `vigil service install` writes (services/svcfile.c): a
 * systemd unit and a launchd plist running `EXE run -c CONFIG` for the
 * service NAME ([A-Za-z0-9_.-]{1,64}, checked by the caller), with a stop
 * timeout of stop_ms.  The paths are quoted as each format requires; a
 * path a format cannot hold (a newline in a unit, a control character in
 * XML, invalid UTF-8) gives NULL and *why says which and why. */
const char *svc_systemd_unit(const char *name, const char *exe,
                             const char *config, uint64_t stop_ms,
                             apr_pool_t *pool, const char **why);
const char *svc_launchd_plist(const char *name, const char *exe,
                              const char *config, uint64_t stop_ms,
                              apr_pool_t *pool, const char **why);

#ifdef __cplusplus
}
#endif
#endif
