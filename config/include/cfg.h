/*
 * cfg.h -- the Vigil configuration layer (prefix cfg_).
 *
 * Loads a vigil XML file (and the files it includes) into a plain tree of
 * structs, reporting every problem it finds -- not only the first -- as
 * FILE:LINE: error: MESSAGE.  The steps, for each file:
 *
 *   1. libxml2 parses it (no network, no DTD, line numbers beyond 65535);
 *      a file that is not well-formed stops there (its errors are kept);
 *   2. a structural check and the embedded XSD (config/vigil.xsd) reject
 *      unknown or misplaced elements, unknown attributes, missing required
 *      attributes and stray text;
 *   3. ${VAR} and ${VAR:-default} are substituted in every text and
 *      attribute value (cfg_subst());
 *   4. values are parsed and checked (durations, sizes, numbers, booleans,
 *      signals, addresses, log targets, ...);
 * then, over all files: unique names, depends-on targets, dependency
 * cycles, log files shared by two services.
 *
 * Instances are expanded here, not in the supervisor: a <service> with
 * <instances>N</instances> (N > 1) becomes N records named NAME-0 ...
 * NAME-(N-1), each loaded with ${VIGIL_INSTANCE} = its index and with
 * VIGIL_INSTANCE=index first in its environment.  A service with one
 * instance keeps its plain NAME (${VIGIL_INSTANCE} is "0" there and is
 * not added to its environment).  So the supervisor sees exactly one
 * cfg_service_t per process it runs.
 *
 * Everything lives in pools: cfg_load() makes a subpool of the caller's
 * pool for the configuration (cfg_t.pool; cfg_destroy() frees it, e.g.
 * the old config after a reload), and allocates the error list from the
 * caller's pool.  Nothing here touches global state except libxml2's
 * per-thread error handlers, which are restored before returning, so
 * loads may run on any thread (one load per thread at a time).
 *
 * Element and attribute reference, with defaults: config/README.md.
 */
#ifndef VIGIL_CFG_H
#define VIGIL_CFG_H

#include <stddef.h>
#include <stdint.h>

#include <apr.h>
#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include <apr_file_io.h>
#include "vigil.h"   /* vg_cpuset_t */

#include "cfg_cron.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The config has errors: see the cfg_errors_t list.  (The PAL uses
 * APR_OS_START_USERERR + 1..99.) */
#define CFG_EINVALID (APR_OS_START_USERERR + 100)

/* A message for CFG_E* codes, or vg_strerror()'s for any other status. */
const char *cfg_strerror(apr_status_t rv, char *buf, size_t size);

/* ------------------------------------------------------------------------
 * Errors
 * --------------------------------------------------------------------- */

typedef struct cfg_error_s {
  const char *file;     /* as it was named: the path given to cfg_load(),
                           or an included file relative to that path */
  int line;             /* 1-based; 0 when the problem has no line */
  const char *message;  /* no trailing newline, no "error:" prefix */
} cfg_error_t;

/* A list of problems.  `items` (an array of cfg_error_t) is public and
 * read-only; the rest is private.  The same (file, line, message) is
 * recorded once. */
typedef struct cfg_errors_s {
  apr_array_header_t *items;
  apr_pool_t *pool;
  apr_hash_t *seen;             /* file/line/message already recorded */
  apr_hash_t *keys;             /* structural problems already reported */
  apr_hash_t *files;            /* file -> order of first appearance */
} cfg_errors_t;

/* An empty list, allocated from pool. */
cfg_errors_t *cfg_errors_create(apr_pool_t *pool);
/* Record a problem (printf-style message).  Callers above this layer may
 * add their own (for example a limit the platform cannot apply). */
void cfg_errors_add(cfg_errors_t *errs, const char *file, int line,
                    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* How many problems (0 for NULL). */
int cfg_errors_count(const cfg_errors_t *errs);
/* The i-th problem (0-based), or NULL. */
const cfg_error_t *cfg_errors_get(const cfg_errors_t *errs, int i);
/* Sort by file (in the order files were first named) then line; stable. */
void cfg_errors_sort(cfg_errors_t *errs);
/* "FILE:LINE: error: MESSAGE" ("FILE: error: MESSAGE" when line is 0). */
const char *cfg_error_format(const cfg_error_t *err, apr_pool_t *pool);
/* Write one formatted line per problem to `out`. */
apr_status_t cfg_errors_print(const cfg_errors_t *errs, apr_file_t *out);

/* ------------------------------------------------------------------------
 * The configuration tree.  Durations are milliseconds, sizes bytes.
 * Strings are never NULL unless documented; arrays are never NULL.
 * --------------------------------------------------------------------- */

typedef enum {
  CFG_RESTART_ON_FAILURE = 0,   /* non-zero exit or killed by a signal */
  CFG_RESTART_ALWAYS,
  CFG_RESTART_NEVER
} cfg_restart_policy;

typedef struct cfg_restart_s {
  cfg_restart_policy policy;    /* default on-failure */
  uint64_t delay_ms;            /* default 100ms */
  uint64_t max_delay_ms;        /* default 30s; >= delay */
  unsigned max_restarts;        /* default 5 */
  uint64_t window_ms;           /* default 60s; > 0 */
} cfg_restart_t;

typedef enum {
  CFG_READY_AFTER = 0,          /* running once up for after_ms */
  CFG_READY_TCP,                /* running once host:port accepts */
  CFG_READY_NOTIFY              /* running on READY=1 (sd_notify) */
} cfg_ready_kind;

typedef struct cfg_ready_s {
  cfg_ready_kind kind;
  uint64_t after_ms;            /* AFTER: default 1s */
  const char *target;           /* TCP: HOST:PORT as written; else NULL */
  const char *host;             /* TCP: without [] for IPv6; else NULL */
  int port;                     /* TCP: 1..65535; else 0 */
  uint64_t timeout_ms;          /* TCP, NOTIFY: default 60s; a start that
                                   takes longer failed */
} cfg_ready_t;

typedef struct cfg_stop_s {
  int signal;                   /* portable number (VG_SIGTERM, ...) */
  uint64_t timeout_ms;          /* default 10s, then kill the tree */
} cfg_stop_t;

typedef enum {
  CFG_HEALTH_NONE = 0, CFG_HEALTH_TCP, CFG_HEALTH_HTTP, CFG_HEALTH_EXEC
} cfg_health_type;

typedef struct cfg_health_s {
  cfg_health_type type;         /* default none */
  const char *target;           /* as written (substituted); NULL for none */
  const char *host;             /* TCP, HTTP; else NULL */
  int port;                     /* TCP, HTTP (default 80); else 0 */
  const char *path;             /* HTTP: path and query, default "/" */
  const char *command;          /* EXEC: the program (= target) */
  apr_array_header_t *args;     /* EXEC: const char *, the <arg>s */
  uint64_t interval_ms;         /* default 10s */
  uint64_t timeout_ms;          /* default 2s */
  unsigned failures;            /* default 3 */
} cfg_health_t;

typedef enum {
  CFG_LOG_FILE = 0,             /* captured into a file */
  CFG_LOG_NULL,                 /* discarded */
  CFG_LOG_INHERIT,              /* the supervisor's own stdout/stderr */
  CFG_LOG_STDOUT                /* stderr only: into the stdout target */
} cfg_log_kind;

/* A log daemon a FILE target sends its lines to instead (the file, the
 * default NAME.out.log / NAME.err.log, is then the fallback used while
 * the daemon cannot be reached). */
typedef enum {
  CFG_SINK_NONE = 0,            /* the file itself */
  CFG_SINK_SYSLOG,              /* "syslog": RFC 5424 to /dev/log */
  CFG_SINK_JOURNAL,             /* "journal": journald's native socket */
  CFG_SINK_EVENTLOG             /* "eventlog": the Windows Event Log */
} cfg_log_sink;

typedef struct cfg_log_target_s {
  cfg_log_kind kind;
  const char *name;             /* FILE: as written, or the default name */
  const char *path;             /* FILE: absolute (log-dir joined); NULL
                                   for the other kinds */
  cfg_log_sink sink;            /* FILE only; NONE for the others */
} cfg_log_target_t;

typedef struct cfg_log_s {
  cfg_log_target_t out;         /* default file NAME.out.log */
  cfg_log_target_t err;         /* default file NAME.err.log */
  uint64_t max_size;            /* default 10MB; 0 = no size rotation */
  unsigned keep;                /* default 5 rotated files */
  int rotate_daily;             /* rotate="daily"; default 0 ("size") */
  int compress;                 /* default 0 */
  int timestamps;               /* default 0 */
} cfg_log_t;

/* 0 means "not limited" in every field. */
typedef struct cfg_limits_s {
  uint64_t memory;              /* bytes */
  unsigned cpu_percent;         /* 100 = one CPU; 1..102400 */
  uint64_t processes;
  uint64_t open_files;
} cfg_limits_t;

typedef struct cfg_env_s {
  const char *name;
  const char *value;
} cfg_env_t;

/* <env-file>: read at every start of the service (cfg_envfile_read). */
typedef struct cfg_env_file_s {
  const char *path;             /* absolute (the config's directory joined) */
  int optional;                 /* written "-PATH": a missing file is none */
  int line;                     /* of its <env-file> */
} cfg_env_file_t;
/* A command vigil runs beside a service: a <hook>'s, an <on>'s, a
 * <reload>'s.  Each runs in its own process group and is killed at
 * `timeout_ms` (30 s unless the element's timeout says otherwise). */
#define CFG_COMMAND_TIMEOUT_MS 30000
typedef struct cfg_command_s {
  const char *command;          /* as written (looked up on PATH) */
  apr_array_header_t *args;     /* const char *, the <arg>s */
  uint64_t timeout_ms;
  int line;                     /* of its element */
} cfg_command_t;

/* <reload>: what `vigil reload NAME` does.  Without a command, send
 * `signal` to the main process (HUP by default); with one, run it. */
#define CFG_RELOAD_TIMEOUT_MS CFG_COMMAND_TIMEOUT_MS
typedef struct cfg_reload_s {
  int signal;                   /* portable (VG_SIG*) */
  cfg_command_t cmd;            /* cmd.command NULL: send `signal` */
} cfg_reload_t;
/* <service type>. */
typedef enum {
  CFG_TYPE_SIMPLE = 0,          /* up while its process runs */
  CFG_TYPE_ONESHOT,             /* runs to completion: exit 0 is `exited`,
                                   which satisfies its dependents */
  CFG_TYPE_ATTACH               /* a daemon vigil did not start, found by
                                   its <pid-file>; <command> launches it */
} cfg_service_type;

/* <hook when>. */
typedef enum {
  CFG_HOOK_PRE_START = 0,       /* before the spawn; failing fails it */
  CFG_HOOK_POST_START,          /* once it runs (is ready) */
  CFG_HOOK_PRE_STOP,            /* before the stop signal */
  CFG_HOOK_POST_STOP,           /* once its process is gone */
  CFG_HOOK_NWHEN
} cfg_hook_when;

typedef struct cfg_hook_s {
  cfg_hook_when when;
  cfg_command_t cmd;
} cfg_hook_t;

/* <on event>: what happened to a service, in this order (the names of
 * cfg_event_names; the event stream's own order too). */
typedef enum {
  CFG_EVENT_STARTED = 0,
  CFG_EVENT_RUNNING,
  CFG_EVENT_EXITED,
  CFG_EVENT_RESTARTING,
  CFG_EVENT_FATAL,
  CFG_EVENT_HEALTH_FAILED,
  CFG_EVENT_STOPPED,
  CFG_EVENT_N
} cfg_event;
extern const char *const cfg_event_names[CFG_EVENT_N + 1];

/* <on event="..."><command/><arg/></on>: a command run when the event
 * happens (per service, or under <supervisor> for every service). */
typedef struct cfg_on_s {
  cfg_event event;
  cfg_command_t cmd;
} cfg_on_t;

typedef struct cfg_service_s {
  const char *name;             /* unique: NAME, or NAME-i for instances */
  const char *group;            /* the <service name="..."> */
  int instance;                 /* 0 .. instances-1 */
  int instances;                /* default 1 */
  const char *command;          /* as written: the supervisor looks it up
                                   on PATH when it has no directory part */
  apr_array_header_t *args;     /* const char *, verbatim (argv[1..]) */
  const char *workdir;          /* absolute, or NULL: inherit */
  apr_array_header_t *env;      /* cfg_env_t, in file order; added to the
                                   supervisor's environment */
  int autostart;                /* default 1 */
  cfg_restart_t restart;
  cfg_ready_t ready;
  cfg_stop_t stop;
  apr_array_header_t *depends_on;  /* const char *, resolved service
                                      names (a group names all of its
                                      instances); no duplicates */
  cfg_health_t health;
  cfg_log_t log;
  cfg_limits_t limits;
  /* Who the child runs as and how it is scheduled. */
  const char *user;             /* <user>: a name or uid, as written; NULL:
                                   vigil's own */
  int user_line;                /* line of <user>, 0 when none */
  const char *user_group;       /* <group>: a name or gid; NULL: the
                                   user's primary group */
  int user_group_line;
  apr_array_header_t *env_files;  /* cfg_env_file_t, in file order */
  int umask;                    /* <umask> 0..0777, or -1: vigil's own */
  int has_nice;                 /* <nice> given */
  int nice;                     /* -20..19 */
  const vg_cpuset_t *cpus;      /* <cpu-affinity>, or NULL: vigil's */
  cfg_reload_t reload;
  cfg_service_type type;        /* default simple */
  apr_array_header_t *hooks;    /* cfg_hook_t, file order */
  apr_array_header_t *on;       /* cfg_on_t, file order */
  uint64_t watchdog_ms;         /* <watchdog timeout>; 0: none */
  const char *schedule;         /* <schedule> as written, or NULL */
  cfg_cron_t cron;              /* parsed, when schedule is set */
  const char *pid_file;         /* <pid-file>: absolute; type="attach" */
  const char *file;             /* where the <service> is, as in errors */
  int line;                     /* line of its <service> start tag */
} cfg_service_t;

/* <supervisor><cgroup>: where services get their cgroups (Linux). */
typedef enum {
  CFG_CGROUP_AUTO = 0,          /* our own cgroup v2, if delegated */
  CFG_CGROUP_OFF,               /* none: process groups only */
  CFG_CGROUP_PATH               /* the cgroup directory given */
} cfg_cgroup_mode;

typedef struct cfg_s {
  apr_pool_t *pool;             /* owns everything below */
  const char *file;             /* the path as given to cfg_load() */
  const char *path;             /* absolute */
  const char *dir;              /* absolute directory of `path` */
  const char *state_dir;        /* absolute; default DIR/.vigil */
  const char *control;          /* a path (made absolute), or a name
                                   taken as written: \\.\pipe\NAME or
                                   @NAME (Linux abstract socket); NULL:
                                   the supervisor's default */
  const char *log_dir;          /* absolute; default STATE-DIR/logs */
  uint64_t shutdown_timeout_ms; /* default 30s */
  cfg_cgroup_mode cgroup_mode;  /* <cgroup>: default CFG_CGROUP_AUTO */
  const char *cgroup;           /* CFG_CGROUP_PATH: the directory */
  /* <http listen token-file>: the metrics and status endpoint. */
  apr_array_header_t *on;       /* <supervisor>'s <on>s (cfg_on_t), or
                                   NULL: none */
  const char *http_listen;      /* as written, or NULL: off (default) */
  const char *http_host;        /* numeric IPv4 or IPv6, brackets off */
  int http_port;
  int http_loopback;            /* the host is 127.0.0.0/8 or ::1 */
  const char *http_token_file;  /* absolute, or NULL: no token asked */
  apr_array_header_t *services; /* cfg_service_t *, in file order,
                                   instances expanded */
  apr_array_header_t *files;    /* const char *: every file read, absolute,
                                   the main one first */
  apr_hash_t *by_name;          /* name -> cfg_service_t * */
} cfg_t;

/* The bearer token in `path` (<http token-file>): the file's content
 * without a trailing newline ("\n" or "\r\n").  An error, with *why
 * set (in `pool`), when the file cannot be read, is readable by every
 * user (where the OS says so), is empty, or holds more than 4 KiB. */
apr_status_t cfg_http_token_read(const char *path, const char **token,
                                 const char **why, apr_pool_t *pool);

/* ------------------------------------------------------------------------
 * Loading
 * --------------------------------------------------------------------- */

/* Look up an environment variable for substitution: its value, or NULL
 * if it is not set.  `pool` may hold the result. */
typedef const char *(*cfg_getenv_fn)(void *baton, const char *name,
                                     apr_pool_t *pool);

typedef struct cfg_options_s {
  cfg_getenv_fn lookup;         /* NULL: the process environment */
  void *baton;
} cfg_options_t;

/* Load `path` (and its includes).  On success *out is the configuration
 * and *errs an empty list.  Otherwise *out is NULL, *errs lists every
 * problem (sorted by file and line) and the status is CFG_EINVALID -- also
 * when the file cannot be read, which is reported as a problem of line 0.
 * errs may be NULL if the caller does not want the list. */
apr_status_t cfg_load(cfg_t **out, const char *path, apr_pool_t *pool,
                      cfg_errors_t **errs);
/* The same, with options (NULL: the defaults). */
apr_status_t cfg_load_ex(cfg_t **out, const char *path,
                         const cfg_options_t *opts, apr_pool_t *pool,
                         cfg_errors_t **errs);
/* Only what locates a running supervisor, for the control commands
 * (status, stop, logs, ...), which must work while the file has an error
 * elsewhere: the main file's <supervisor> <state-dir>, <control> and
 * <log-dir>, substituted and made absolute as cfg_load() does, with
 * their defaults.  Nothing else is checked (no schema, no <service>, no
 * <include>), and a file that is not well-formed is read as far as
 * libxml2 can recover it.  *out has path, dir, state_dir, control and
 * log_dir set and no services.  Fails (CFG_EINVALID, FILE:LINE problems
 * in *errs) when the file cannot be read, has no <vigil> root, or one
 * of those three values is empty or its substitution fails. */
apr_status_t cfg_load_supervisor(cfg_t **out, const char *path,
                                 const cfg_options_t *opts, apr_pool_t *pool,
                                 cfg_errors_t **errs);
/* Free a configuration (its pool).  The caller's pool frees it anyway. */
void cfg_destroy(cfg_t *cfg);

/* The service record of that name, or NULL. */
const cfg_service_t *cfg_service_find(const cfg_t *cfg, const char *name);

/* The text of config/vigil.xsd, compiled into the library
 * (NUL-terminated; *len, if not NULL, gets its length). */
const char *cfg_schema_text(size_t *len);

/* ------------------------------------------------------------------------
 * Environment files (<env-file>): systemd's EnvironmentFile= syntax,
 * described in config/README.md.  Read by the supervisor at every start
 * of a service, and by `vigil validate`.
 * --------------------------------------------------------------------- */

/* The largest environment file read (bytes). */
#define CFG_ENVFILE_MAX (1u << 20)

/* Parse `len` bytes of an environment file, appending one cfg_env_t per
 * assignment to `out` in file order (a later one of the same name
 * replaces an earlier one when applied in order).  CFG_EINVALID on the
 * first malformed line: *line (1-based) and *why say which and why. */
apr_status_t cfg_envfile_parse(const char *text, size_t len,
                               apr_array_header_t *out, apr_pool_t *pool,
                               int *line, const char **why);
/* Read and parse the file at `path` (no "-" prefix here).  APR_ENOENT
 * when it does not exist (the caller decides whether that matters);
 * CFG_EINVALID when it is not a regular file (refused by its type,
 * without waiting: a FIFO is never opened for a blocking read), larger
 * than CFG_ENVFILE_MAX or malformed (*line, or 0 for the whole file, and
 * *why); an APR status when it cannot be read (*why). */
apr_status_t cfg_envfile_read(const char *path, apr_array_header_t *out,
                              apr_pool_t *pool, int *line,
                              const char **why);

/* ------------------------------------------------------------------------
 * Reload: what changed between two configurations.
 *
 * Services are matched by name.  A service whose command, arguments,
 * environment, working directory, limits or stdio wiring (the kind of
 * its stdout/stderr target: file, null, inherit, stdout) changed must be
 * restarted: CFG_CHANGED.  Changes to anything else -- autostart, restart
 * policy, ready, stop, depends-on, health, log file names and rotation
 * -- apply live: CFG_UPDATED.  Where it was declared (file, line) and
 * its instance count do not matter.  This is the one comparison a reload
 * makes: the supervisor hands each service its entry's fields, and
 * config/README.md's table "What reload does, field by field" (checked
 * by the test suite `plan`) says what each one does.
 * --------------------------------------------------------------------- */

typedef enum {
  CFG_KEPT = 0,                 /* identical */
  CFG_ADDED,                    /* only in the new config */
  CFG_REMOVED,                  /* only in the old config */
  CFG_CHANGED,                  /* restart it */
  CFG_UPDATED                   /* apply the new settings live */
} cfg_change;

/* Fields of a service, for cfg_diff_entry_t.fields.  Each is owned by
 * one row of config/fields.def, which names its equality function. */
enum {
  CFG_F_COMMAND   = 1u << 0,
  CFG_F_ARGS      = 1u << 1,
  CFG_F_WORKDIR   = 1u << 2,
  CFG_F_ENV       = 1u << 3,
  CFG_F_LIMITS    = 1u << 4,
  CFG_F_STDIO     = 1u << 5,    /* kind of the stdout or stderr target */
  CFG_F_AUTOSTART = 1u << 6,
  CFG_F_RESTART   = 1u << 7,
  CFG_F_READY     = 1u << 8,
  CFG_F_STOP      = 1u << 9,
  CFG_F_DEPENDS   = 1u << 10,
  CFG_F_HEALTH    = 1u << 11,
  CFG_F_LOG       = 1u << 12,   /* file names, rotation, timestamps */
  CFG_F_USER      = 1u << 13,
  CFG_F_GROUP     = 1u << 14,
  CFG_F_ENV_FILE  = 1u << 15,   /* the <env-file> list (not their text,
                                   read at every start) */
  CFG_F_UMASK     = 1u << 16,
  CFG_F_NICE      = 1u << 17,
  CFG_F_CPU_AFFINITY = 1u << 18,
  CFG_F_RELOAD    = 1u << 19,
  CFG_F_TYPE      = 1u << 20,
  CFG_F_HOOKS     = 1u << 21,
  CFG_F_WATCHDOG  = 1u << 22,
  CFG_F_SCHEDULE  = 1u << 23,
  CFG_F_ON        = 1u << 24,
  CFG_F_PID_FILE  = 1u << 25
};
/* The fields whose change needs a restart.  (The watchdog's timeout is
 * in the child's environment, WATCHDOG_USEC.) */
#define CFG_F_NEEDS_RESTART                                                  \
  (CFG_F_COMMAND | CFG_F_ARGS | CFG_F_WORKDIR | CFG_F_ENV | CFG_F_LIMITS |   \
   CFG_F_STDIO | CFG_F_USER | CFG_F_GROUP | CFG_F_ENV_FILE | CFG_F_UMASK |   \
   CFG_F_NICE | CFG_F_CPU_AFFINITY | CFG_F_TYPE | CFG_F_WATCHDOG |          \
   CFG_F_PID_FILE)

/* Supervisor settings, for cfg_diff_t.supervisor. */
enum {
  CFG_S_STATE_DIR        = 1u << 0,
  CFG_S_CONTROL          = 1u << 1,
  CFG_S_LOG_DIR          = 1u << 2,
  CFG_S_SHUTDOWN_TIMEOUT = 1u << 3,
  CFG_S_CGROUP           = 1u << 4
};

typedef struct cfg_diff_entry_s {
  const char *name;
  cfg_change kind;
  unsigned fields;              /* CFG_F_* that differ (CHANGED, UPDATED) */
  const cfg_service_t *old_svc; /* NULL for ADDED */
  const cfg_service_t *new_svc; /* NULL for REMOVED */
} cfg_diff_entry_t;

typedef struct cfg_diff_s {
  apr_array_header_t *entries;  /* cfg_diff_entry_t: the new config's
                                   services in order, then the removed
                                   ones in the old order */
  unsigned supervisor;          /* CFG_S_* that differ */
  int added, removed, changed, updated, kept;   /* counts */
} cfg_diff_t;

/* Compare two loaded configurations.  The result points into both. */
cfg_diff_t *cfg_diff(const cfg_t *old_cfg, const cfg_t *new_cfg,
                     apr_pool_t *pool);
/* "kept", "added", "removed", "changed", "updated". */
const char *cfg_change_name(cfg_change kind);
/* "command,args,env" for a CFG_F_* mask ("" for 0). */
const char *cfg_fields_string(unsigned fields, apr_pool_t *pool);

/* ------------------------------------------------------------------------
 * Values.  Each parser takes the whole string (no surrounding spaces) and
 * returns APR_SUCCESS, APR_EINVAL for a malformed value or APR_ERANGE for
 * one out of range; the output is unchanged on failure.
 * --------------------------------------------------------------------- */

/* "250ms", "10s", "5m", "1h" (a whole number and a unit; "0" alone is
 * allowed) -> milliseconds.  APR_ERANGE beyond 2^53 ms. */
apr_status_t cfg_parse_duration(const char *s, uint64_t *ms);
/* "4096", "512KB", "10MB", "1GB" (1024-based; units B K KB KiB M MB MiB
 * G GB GiB T TB TiB, case-insensitive) -> bytes.  APR_ERANGE beyond
 * 2^63. */
apr_status_t cfg_parse_size(const char *s, uint64_t *bytes);
/* true/false, yes/no, on/off, 1/0 (case-insensitive). */
apr_status_t cfg_parse_bool(const char *s, int *value);
/* Decimal digits only, within [min, max]. */
apr_status_t cfg_parse_uint(const char *s, uint64_t min, uint64_t max,
                            uint64_t *value);
/* A umask: 1 to 4 octal digits, 0000..0777. */
apr_status_t cfg_parse_umask(const char *s, unsigned *mask);
/* A nice value: -20..19 (an optional sign, then decimal digits). */
apr_status_t cfg_parse_nice(const char *s, int *nice);
/* A CPU list as Linux writes one ("0,2-3", taskset -c, cpuset.cpus):
 * CPU numbers and N-M ranges, separated by commas or blanks; each CPU
 * below PAL_CPUSET_MAX (1024), at least one. */
apr_status_t cfg_parse_cpus(const char *s, vg_cpuset_t *set);
/* Network targets (config/target.c), the one parser for the loader and
 * for the probes.  HOST is a host name (resolved later, at each probe),
 * an IPv4 address or an IPv6 address in brackets. */
#define CFG_HOST_MAX 254              /* a DNS name: 253 bytes, the NUL */
#define CFG_URL_PATH_MAX 1024         /* path + query, with the NUL */
typedef struct cfg_target_s {
  char host[CFG_HOST_MAX];            /* as written, brackets stripped */
  int port;                           /* 1..65535 */
  char path[CFG_URL_PATH_MAX];        /* URL: "/" when absent, query kept,
                                         fragment dropped; else "" */
} cfg_target_t;
/* "HOST:PORT" (the port is required) into `t` (may be NULL: validate
 * only).  APR_EINVAL on error, with `why` (may be NULL) set to a static
 * message such as "port must be a number from 1 to 65535". */
apr_status_t cfg_parse_hostport(const char *s, cfg_target_t *t,
                                const char **why);
/* "http://HOST[:PORT][/PATH][?QUERY][#FRAGMENT]" (port 80 by default; the
 * scheme is case-insensitive; user info, https, spaces and control or
 * non-ASCII bytes are rejected), as cfg_parse_hostport. */
apr_status_t cfg_parse_url(const char *s, cfg_target_t *t, const char **why);

/* ------------------------------------------------------------------------
 * Substitution.  In `in`:
 *   ${NAME}            the variable's value; an error if it is not set
 *   ${NAME:-DEFAULT}   its value, or DEFAULT if it is unset or empty;
 *                      DEFAULT may itself hold ${...} and $$
 *   $$                 a literal '$'
 *   any other '$'      itself ("$HOME" stays "$HOME": no shell here)
 * NAME is [A-Za-z_][A-Za-z0-9_]*.  This is the one place where values are
 * expanded (Windows' %VAR% will be added here).
 * --------------------------------------------------------------------- */

/* lookup NULL: the process environment.  On failure (APR_EINVAL) *errmsg
 * says why and *erroff is the offset in `in` of the '$' at fault; *out is
 * unchanged.  errmsg and erroff may be NULL. */
apr_status_t cfg_subst(const char **out, const char *in, cfg_getenv_fn lookup,
                       void *baton, apr_pool_t *pool, const char **errmsg,
                       size_t *erroff);

#ifdef __cplusplus
}
#endif
#endif /* VIGIL_CFG_H */
