/*
 * svc_int.h -- private to services/: the supervisor's and the services'
 * structures, shared by service.c (the state machine), supervisor.c
 * (configuration, ordering, reload, shutdown) and control.c (the control
 * endpoint).
 */
#ifndef VIGIL_SVC_INT_H
#define VIGIL_SVC_INT_H

#include "svc.h"
#include "svc_json.h"
#include "svc_log.h"
#include "svc_plan.h"
#include "svc_probe.h"

typedef struct svc_child_s svc_child_t;
typedef struct svc_waiter_s svc_waiter_t;
typedef struct svc_conn_s svc_conn_t;
typedef struct svc_ctl_s svc_ctl_t;
typedef struct svc_http_s svc_http_t;
typedef struct svc_notify_s svc_notify_t;
typedef struct svc_events_s svc_events_t;

/* One run of the child: the process and its output captures.  It
 * outlives its service's interest in it until every handle it owns has
 * closed. */
struct svc_child_s {
  svc_service_t *svc;           /* NULL once the service let go of it */
  vg_process_t proc;
  svc_logcap_t out, err;        /* captures of stdout and stderr */
  int exited;                   /* exit_cb ran */
  int code, sig;
  long pid;                     /* proc.pid, kept after the exit */
  int oom_killed;               /* the cgroup's OOM killer struck */
  int drains;                   /* captures still reading */
  int reported;                 /* SVC_EV_EXIT delivered */
  unsigned open;                /* handles and captures not yet closed */
  uint64_t start_ms;            /* loop time of the spawn */
  /* A hook's run (<hook>): the same record, on the service's hooks list
   * instead of s->child; its timer bounds it (its timeout) until it
   * exits. */
  int hook;                     /* 1 + cfg_hook_when, or 0: the service */
  int hook_index;               /* its index in cfg->hooks */
  int chain;                    /* the hooks after it run when it ends */
  int timed_out;                /* killed at its timeout */
  uint64_t timeout_ms;          /* the hook's timeout */
  svc_child_t *next_hook;       /* the service's hooks list */
  uint64_t start_stamp;         /* pal_pid_start_time(), read once */
  char mark[64];                /* "VIGIL_INVOCATION_ID=ID" of this run:
                                   finds what left its process group */
  vg_timer_t *timer;            /* bounds the wait for EOF after exit
                                   (a hook's: its timeout), or NULL */
  int attach;                   /* type="attach": SVC_RUN_*, else 0 */
};

/* The runs of a type="attach" service (attach.c). */
enum {
  SVC_RUN_LAUNCHER = 1,         /* its <command>, which starts the daemon
                                   and exits 0: its tree is not killed at
                                   its exit, since the daemon is in it */
  SVC_RUN_ATTACHED              /* the daemon, named by the pid file: not
                                   our child (vg_process_attach); signalled
                                   alone, never its group or marks */
};

/* A control-endpoint request (start/stop/restart with wait) waiting for
 * its services to settle; one waiter per service links to it. */
typedef struct svc_wait_s svc_wait_t;
struct svc_waiter_s {
  svc_waiter_t *next;           /* the service's list */
  svc_wait_t *wait;
  svc_service_t *svc;
};

/* The restarts of the max-restarts window (restarts.c): at most 512 bytes
 * whatever max-restarts is, none before the first restart; exact up to
 * SVC_RESTARTS_EXACT. */
#define SVC_RESTARTS_EXACT 64
#define SVC_RESTARTS_SLICES 64
typedef struct svc_restarts_s {
  uint64_t *times;              /* exact: ring of restart times (ms) */
  uint32_t *counts;             /* else: restarts per slice of the window */
  unsigned max, len, head;
  uint64_t window, width, epoch;   /* ms; slices: width, latest slice */
} svc_restarts_t;

apr_status_t svc_restarts_init(svc_restarts_t *h, unsigned max,
                               uint64_t window_ms);
void svc_restarts_free(svc_restarts_t *h);
/* Forget every restart (an explicit start forgives the past). */
void svc_restarts_reset(svc_restarts_t *h);
/* New settings (a reload): the history goes when its layout must change;
 * on APR_ENOMEM the old one stays. */
apr_status_t svc_restarts_config(svc_restarts_t *h, unsigned max,
                                 uint64_t window_ms);
/* Restarts within the window ending at now (ms): `now - t < window`. */
unsigned svc_restarts_recent(const svc_restarts_t *h, uint64_t now);
/* Record a restart at now; the history is allocated at the first one
 * (APR_ENOMEM: not recorded). */
apr_status_t svc_restarts_add(svc_restarts_t *h, uint64_t now);

/* A service's restarts: how many, when (the max-restarts window) and the
 * next backoff. */
typedef struct svc_restart_s {
  unsigned count;               /* since the last explicit start */
  svc_restarts_t hist;          /* within the max-restarts window */
  uint64_t backoff_ms;          /* the next backoff's base */
  uint64_t up_since;            /* loop ms when the current run began */
} svc_restart_t;

/* How the last run ended. */
typedef struct svc_exit_s {
  int has;                      /* there was one */
  int code, signal;
  int oom;                      /* it was the OOM killer (cgroup) */
  apr_time_t at;                /* wall clock */
} svc_exit_t;

/* Readiness and health checks.  What only a service with a TCP
 * readiness check or a health check uses is allocated when first used:
 * the probes, their timer (freed when a reload takes the checks away)
 * and the last failure's text. */
typedef struct svc_probes_s {
  svc_probe_t *ready;
  svc_probe_t *health;
  char *ready_last;             /* last failed readiness check (malloc'd),
                                   or NULL */
  vg_timer_t *timer;            /* paces health checks (RUNNING) and
                                   readiness attempts (STARTING), or NULL */
  unsigned health_fails;
  uint64_t health_fails_total;  /* failed health checks, ever (metrics) */
} svc_probes_t;

/* The service's NOTIFY_SOCKET, when its readiness is notify or it has a
 * watchdog: allocated when opened, freed when its handle has closed. */
typedef struct svc_notify_sock_s {
  vg_udp_t udp;                 /* first: the record is freed through it */
  uint64_t quiet_until;         /* loop ms: refused senders go unlogged */
  unsigned unsaid;              /* refused since the last warning */
  char name[108];
} svc_notify_sock_t;

/* Log files (shared by both captures when stderr="stdout"). */
typedef struct svc_logs_s {
  svc_logfile_t *out, *err;
} svc_logs_t;

/* cgroup v2 (Linux; see supervisor.c): the service's own. */
typedef struct svc_cgroup_s {
  char *path;                   /* DIR/svc-NAME, or NULL */
  unsigned held;                /* PAL_CGROUP_*: limits the cgroup holds
                                   (the others fall back to rlimits) */
  int64_t oom_base;             /* memory.events oom_kill at the spawn */
  int64_t cpu_base;             /* cpu.stat usage_usec at the spawn */
} svc_cgroup_t;

/* Limits reached, and the throttle on saying so (allocated at the
 * first limit reached). */
typedef struct svc_limit_say_s {
  uint64_t said_ms[PAL_LIMIT_OOM_KILL + 1];  /* last warning, by kind */
  unsigned unsaid[PAL_LIMIT_OOM_KILL + 1];   /* events since, unsaid */
} svc_limit_say_t;

typedef struct svc_limit_log_s {
  unsigned events;              /* limits reached, OOM kills included */
  unsigned unapplied_said;      /* 1u << PAL_LIMIT_* already warned of */
  svc_limit_say_t *say;         /* NULL until a limit is reached */
} svc_limit_log_t;

/* The longest status reason kept (longer ones are cut). */
#define SVC_REASON_MAX 256

/* A service.  What only some services use (the notify socket, the
 * watchdog, schedule and health timers, the texts of failures, the limit
 * warnings' throttle) is allocated when first needed and freed when no
 * longer needed: a thousand plain services cost a thousand small records. */
struct svc_service_s {
  svc_sup_t *sup;
  svc_service_t *next;          /* supervisor's list, config order */
  const cfg_service_t *cfg;
  const char *name;             /* == cfg->name */
  svc_plan_t *plan;             /* cfg compiled (plan.c), in
                                   sup->plans of cfg's generation */
  /* the state machine (service.c) */
  svc_state state;
  int want_up;                  /* desired: running (1) or stopped (0) */
  int restart_after_stop;       /* STOPPING, then start again */
  int removing;                 /* reload removed it: free when stopped */
  int restart_pending;          /* down for a restart that follows
                                   dependencies: up again once every
                                   service of that restart is down */
  int stop_step;                /* 1: signal sent, 2: tree killed at the
                                   stop timeout, 3: at the shutdown
                                   deadline */
  int failed_start;             /* STOPPING because of a failure (a start
                                   that timed out, a missed watchdog): the
                                   exit goes through the restart policy */
  int done;                     /* a oneshot whose last run exited 0 */
  int health_restart;           /* STOPPING to restart after failed health
                                   checks: the reason keeps that cause */
  unsigned handles;             /* timers etc. not yet closed */
  svc_child_t *child;           /* current run of the child, or NULL */
  vg_timer_t timer;             /* the state's timer (backoff, ready,
                                   stop ladder) */
  const char *reason;           /* why fatal / last event, for status:
                                   never NULL ("" or malloc'd; set with
                                   svc_service_set_reason) */
  svc_child_t *hooks;           /* hook runs not yet ended */
  svc_child_t *gate;            /* the pre-start or pre-stop hook the state
                                   machine waits for (SVC_EV_HOOK), or
                                   NULL */
  char *hook_fail;              /* why the pre-start hooks failed
                                   (malloc'd), or NULL */
  vg_timer_t *watchdog;         /* <watchdog>: the deadline, or NULL */
  uint64_t watchdog_due;        /* its loop ms, 0 when not armed */
  vg_timer_t *sched;            /* <schedule>: the next run, or NULL */
  int64_t next_run;             /* its wall time (s since the epoch), 0:
                                   none */
  svc_restart_t restart;
  svc_exit_t last;
  svc_probes_t checks;
  svc_notify_sock_t *notify;    /* open NOTIFY_SOCKET, or NULL */
  svc_logs_t logs;
  svc_waiter_t *waiters;        /* control requests waiting (control.c) */
  svc_cgroup_t cg;
  svc_limit_log_t limit;
  struct svc_reload_run_s *reloading;  /* its reload command (action.c) */
  struct svc_attach_s *attach;  /* type="attach": attach.c's, or NULL */
  char invocation[33];          /* VIGIL_INVOCATION_ID of the current or
                                   last run: 32 hex digits, new each spawn */
};

struct svc_sup_s {
  apr_pool_t *pool;
  vg_loop_t *loop;
  vg_log_t *log;
  cfg_t *cfg;                   /* in force */
  apr_pool_t *plans;            /* the services' plans of cfg (NULL until
                                   the first); retired with the config a
                                   reload replaces, as they point into it */
  const char *config_path;
  svc_service_t *services;      /* config order */
  unsigned nservices;
  vg_lockfile_t *lock;
  vg_shutdown_t shutdown;
  vg_signal_t sighup;
  int shutting_down;
  int shutdown_forced;          /* a second request, not the deadline,
                                   killed what was left */
  int finished;                 /* shutdown complete: handles closing */
  int exit_code;
  apr_time_t started_at;
  uint64_t started_ms;
  /* control endpoint */
  vg_pipe_t control;
  const char *control_path;
  svc_ctl_t *ctl;               /* its connections and limits (control.c) */
  svc_http_t *http;             /* <http>: metrics and status (http.c) */
  svc_events_t *events;         /* the last events (events.c), or NULL */
  /* leftovers file: pids and start times of running children */
  const char *pids_path;
  vg_timer_t pids_timer;        /* coalesces writes of the pids file */
  vg_work_t pids_work;          /* writes it off the loop thread */
  char *pids_text;              /* what the work writes (malloc'd) */
  size_t pids_len;
  int pids_busy, pids_again;    /* a write in flight; another due after */
  svc_notify_t *notify;         /* our own NOTIFY_SOCKET (notify.c) */
  struct svc_reload_s *reload;  /* reloads (supervisor.c), or NULL */
  /* cgroup v2 (Linux): the directory the services' cgroups go under, or
   * NULL, and then cgroup_why says why not */
  const char *cgroup;
  unsigned cgroup_ctrl;         /* PAL_CGROUP_* enabled for services */
  const char *cgroup_why;
};

/* service.c */
svc_service_t *svc_service_create(svc_sup_t *sup, const cfg_service_t *cfg);
/* Feed an event to the state machine. */
void svc_service_event(svc_service_t *s, svc_event ev);
/* Close every handle; the record frees itself when they have closed. */
void svc_service_destroy(svc_service_t *s);
/* The supervisor ends: the searches for escaped processes after exits
 * wait for no timer from now on (service.c). */
void svc_service_sweeps_close(void);
/* Point the service at a new config record and compile its plan; what
 * changed (CFG_F_*, the reload's diff) and applies live is applied now:
 * log files, the cgroup's limits, the health schedule.  What needs a new
 * process (CFG_F_NEEDS_RESTART) is the caller's restart to make. */
void svc_service_update(svc_service_t *s, const cfg_service_t *cfg,
                        unsigned changed);
/* The status reason (printf-style, cut at SVC_REASON_MAX - 1 bytes);
 * an argument may be the reason itself. */
void svc_service_set_reason(svc_service_t *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The status object of a service.  u: its usage from
 * svc_services_usage(), or NULL to ask the OS for this one alone. */
void svc_service_status_json(const svc_service_t *s, const vg_usage_t *u,
                             svc_json_w_t *w);
/* Memory and CPU of the current runs of n services in one pass (one walk
 * of /proc on Linux instead of one per service). */
void svc_services_usage(svc_service_t *const *list, size_t n,
                        vg_usage_t *out);
/* Milliseconds the current run has been up (0 if none). */
uint64_t svc_service_uptime(const svc_service_t *s);
/* Up, as what depends on it needs: running, or a oneshot that exited 0. */
int svc_service_up(const svc_service_t *s);
/* The memory (bytes) and CPU time (ms) of s's current run, -1 where
 * unknown; u as for svc_service_status_json(). */
void svc_service_usage(const svc_service_t *s, const vg_usage_t *u,
                       int64_t *rss, int64_t *cpu_ms);
/* True when the state is one a waiter for `want_up` can settle on. */
int svc_service_settled(const svc_service_t *s, int want_up);
/* SIGKILL the whole tree: the process group and, with a cgroup, every
 * member of it (daemons that left the group too). */
void svc_service_kill(svc_service_t *s);
/* The shutdown deadline passed: svc_service_kill(), and its end is said
 * to be that ("killed after shutdown timeout 30s"). */
void svc_service_kill_deadline(svc_service_t *s);

/* The environment of s's processes, as its child gets it: the
 * supervisor's, its user's variables, its <env-file>s read now, its <env>,
 * and vigil's own (VIGIL_SERVICE, ...); *env NULL-terminated, in pool.
 * With `as`, also who they run as: its uid, gid, groups and umask (the
 * flags VG_PROCESS_SETUID, _SETGID, _UMASK; in pool).  On failure (an
 * <env-file> unreadable or malformed, an unknown user), *why says so. */
apr_status_t svc_service_env(svc_service_t *s, apr_pool_t *pool,
                             const char *const **env,
                             vg_process_options_t *as, const char **why);

/* For attach.c: attach the service to pid (STARTING, then ready as its
 * <ready> says), or fail the start; fail a start with `why` (the restart
 * policy decides). */
void svc_service_attached(svc_service_t *s, long pid, uint64_t id);
void svc_service_fail_start(svc_service_t *s, const char *why);

/* attach.c: type="attach".  What the pid file says now: SVC_PIDFILE_LIVE
 * (*pid is the daemon: alive, of the service's user, started before the
 * file was written; *id: pal_pidinfo_t.id, for vg_process_attach), _NONE (no file, or a stale one: <command> must start
 * the daemon) or _BAD (never signalled: malformed, not a regular file, of
 * another user, a reused pid); why (size bytes) says it in a clause. */
enum { SVC_PIDFILE_LIVE = 0, SVC_PIDFILE_NONE, SVC_PIDFILE_BAD };
int svc_attach_find(svc_service_t *s, long *pid, uint64_t *id, char *why,
                    size_t size);
/* The launcher (<command>) exited: with 0, wait for the pid file (read
 * again every 50 ms, bounded by the start's deadline, <ready timeout>),
 * then svc_service_attached(); else a failed start. */
void svc_attach_launched(svc_service_t *s, int code, int sig);
/* The start's deadline passed before the daemon was attached: why, into
 * buf (the launcher did not exit, or the pid file named no process that
 * could be it); the wait for the pid file ends. */
void svc_attach_timeout(svc_service_t *s, char *buf, size_t size);
/* The service is being freed: attach.c's state goes with its timer. */
void svc_attach_destroy(svc_service_t *s);

/* action.c: `vigil signal` and `vigil reload NAME` on one service.
 * detail (size bytes) gets a sentence for the client and the log: "HUP
 * sent to pid 4250", "not running (stopped)". */
typedef void (*svc_action_cb)(svc_service_t *s, void *baton,
                              apr_status_t rv, const char *detail);
/* Send s's main process a signal (pal_proc_signal: portable, or the OS's
 * own number with `native`).  PAL_ENOPROC when it has none running. */
apr_status_t svc_service_signal(svc_service_t *s, int signum, int native,
                                char *detail, size_t size);
/* Reload s as its <reload> says.  A signal is sent at once, and its
 * status returned (cb is not called).  A command returns APR_INCOMPLETE:
 * cb(s, baton, status, detail) follows once, from the loop, when it
 * exited (APR_SUCCESS: exit 0) or was killed at its timeout (APR_TIMEUP),
 * or with s NULL and VG_ECANCELED when the service was freed meanwhile.
 * VG_EBUSY while its previous reload command runs; PAL_ENOPROC when s
 * is not running. */
apr_status_t svc_service_reload(svc_service_t *s, svc_action_cb cb,
                                void *baton, char *detail, size_t size);
/* s is being freed: cancel its reload command (its cb says so). */
void svc_service_reload_cancel(svc_service_t *s);

/* supervisor.c */
svc_service_t *svc_sup_find(svc_sup_t *sup, const char *name);
/* Re-evaluate what can start (dependencies running) and what can stop
 * (dependents stopped); called after every state change. */
void svc_sup_pump(svc_sup_t *sup);
/* A service changed state (waiters, pump, logging). */
void svc_sup_state_changed(svc_sup_t *sup, svc_service_t *s, svc_state old);
/* Commands; each cascades along dependencies (start pulls in what the
 * service depends on, stop takes down what depends on it). */
void svc_sup_start(svc_sup_t *sup, svc_service_t *s);
void svc_sup_stop(svc_sup_t *sup, svc_service_t *s);
void svc_sup_restart(svc_sup_t *sup, svc_service_t *s);
/* The result of a reload, on the loop thread: APR_SUCCESS (applied),
 * CFG_EINVALID with the problems in errs (refused: the running config
 * stays), VG_ECANCELED (the supervisor is shutting down) or another
 * status.  errs is NULL on success and lives until the callback returns. */
typedef void (*svc_reload_cb)(svc_sup_t *sup, void *baton, apr_status_t rv,
                              const cfg_errors_t *errs);
/* Reload the configuration: the file is read and checked on the work
 * queue, never on the loop thread (config I/O may be slow or, for a file
 * that is not what it seems, blocking), and the difference is applied on
 * the loop thread; then cb (may be NULL) runs.  A request made while a
 * read is under way waits for the next read.  APR_ENOMEM, and no
 * callback, if the request cannot be recorded. */
apr_status_t svc_sup_reload(svc_sup_t *sup, svc_reload_cb cb, void *baton);
void svc_sup_shutdown(svc_sup_t *sup);
/* Record running children for leftover cleanup after a crash. */
void svc_sup_save_pids(svc_sup_t *sup);

/* control.c */
apr_status_t svc_control_start(svc_sup_t *sup);
void svc_control_stop(svc_sup_t *sup);
/* The body of `vigil status --json` ("supervisor" and "services"
 * members) into the object being written, with the endpoint's usage
 * cache; and the usage of one service from that cache (NULL when s has
 * no live run; *fresh: 0 before the first call of a request). */
void svc_control_status(svc_sup_t *sup, svc_json_w_t *w);
const vg_usage_t *svc_control_usage(svc_sup_t *sup, const svc_service_t *s,
                                    int *fresh);

/* A failed accept (ENOMEM, EMFILE) took nothing: the listener reports
 * the connection again.  svc_accept_failed() says so once per 10 s, with
 * the count since the last warning ("cannot accept WHAT: ..."). */
typedef struct svc_accept_fails_s {
  unsigned fails;               /* since the last warning */
  int said;
  uint64_t said_ms;
} svc_accept_fails_t;
void svc_accept_failed(svc_sup_t *sup, svc_accept_fails_t *f,
                       const char *topic, const char *what,
                       apr_status_t status);

/* A connection's read buffer, allocated when a read needs it and grown
 * with what it holds: when full (len == *cap) and below max, doubled
 * from min (left as it is when memory runs out).  *out: its free tail,
 * empty when full at max or out of memory.  Both endpoints use it. */
void svc_buf_grow(char **buf, size_t *cap, size_t len, size_t min,
                  size_t max, vg_buf_t *out);

/* http.c: the <http> endpoint.  start: bind and listen as sup->cfg
 * says (nothing without <http>); reload: follow a new sup->cfg (rebind
 * on a new address, read the token again); stop: close everything. */
apr_status_t svc_http_start(svc_sup_t *sup);
void svc_http_reload(svc_sup_t *sup);
void svc_http_stop(svc_sup_t *sup);
/* A service settled: answer the waiters that asked for it. */
void svc_control_notify(svc_sup_t *sup, svc_service_t *s);
/* Drop the waiters of a service being freed. */
void svc_control_forget(svc_sup_t *sup, svc_service_t *s);

/* events.c: the event stream.  svc_events_emit() says what happened to s
 * (pid: of the process it concerns, 0 for none) to the control
 * endpoint's subscribers and the ring; svc_events_replay() calls fn
 * with each line of the ring, oldest first. */
typedef enum {
  SVC_EVK_STARTED = CFG_EVENT_STARTED,
  SVC_EVK_RUNNING = CFG_EVENT_RUNNING,
  SVC_EVK_EXITED = CFG_EVENT_EXITED,
  SVC_EVK_RESTARTING = CFG_EVENT_RESTARTING,
  SVC_EVK_FATAL = CFG_EVENT_FATAL,
  SVC_EVK_HEALTH_FAILED = CFG_EVENT_HEALTH_FAILED,
  SVC_EVK_STOPPED = CFG_EVENT_STOPPED,
  SVC_EVK_N = CFG_EVENT_N
} svc_evk;
const char *svc_evk_name(svc_evk k);
void svc_events_emit(svc_service_t *s, svc_evk kind, long pid);
/* How many events of kind the service named so has had (the metrics;
 * kept across reloads that keep the service). */
uint64_t svc_events_count(svc_sup_t *sup, const char *service,
                          svc_evk kind);
void svc_events_replay(svc_sup_t *sup,
                       void (*fn)(void *, const char *, size_t),
                       void *baton);
/* control.c: one event line (no newline) to every subscriber. */
void svc_control_event(svc_sup_t *sup, const char *line, size_t len);

/* notify.c: the systemd notify protocol towards our own manager; every
 * call is a no-op when NOTIFY_SOCKET was not set. */
void svc_notify_open(svc_sup_t *sup);
void svc_notify_send(svc_sup_t *sup, const char *msg);
/* The supervisor is up: READY=1 and STATUS=N services; SCM RUNNING. */
void svc_notify_ready(svc_sup_t *sup);
/* Shutdown began: STOPPING=1; SCM STOP_PENDING. */
void svc_notify_stopping(svc_sup_t *sup);
/* A service changed state: during shutdown, SCM progress (checkpoint). */
void svc_notify_progress(svc_sup_t *sup);
/* One line to the system log (Windows Event Log; no-op on POSIX): the
 * supervisor's start and stop, a fatal service, a refused reload. */
void svc_notify_event(svc_sup_t *sup, vg_log_level level, const char *fmt,
                      ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* How long a stop of the whole supervisor may take: shutdown-timeout and
 * a margin (systemd TimeoutStopSec, launchd ExitTimeOut, SCM wait hint
 * and pre-shutdown timeout). */
uint64_t svc_stop_budget_ms(const cfg_t *cfg);
void svc_notify_close(svc_sup_t *sup);
/* Whether the datagram being received on service s's own NOTIFY_SOCKET
 * may act on s: sent by its main process (systemd's NotifyAccess=main),
 * or sent where the OS cannot name the sender (the socket file is then
 * in the 0700 state directory).  Anyone else's is refused, with a
 * warning at most once per NOTIFY_WARN_MS per service. */
int svc_notify_sender_ok(svc_service_t *s);

#endif
