/*
 * cli.h -- private to the vigil executable: what main.c (the command
 * table and the one argument parser) hands to the commands of client.c
 * (those that talk to a running supervisor) and install.c (those that
 * talk to the operating system's service manager).
 *
 * A command runs with its command line already parsed and checked
 * against its entry of the table: every option it got is one it takes,
 * its positional arguments are as many as it takes, and the commands
 * that talk to the supervisor have its endpoint resolved.  The commands
 * return the exit codes below and print their own messages.
 */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include "svc.h"

/* The exit codes of docs/guide.md. */
enum {
  SVC_EX_OK = 0,
  SVC_EX_FAIL = 1,       /* a runtime failure */
  SVC_EX_USAGE = 2,      /* a usage or configuration error */
  SVC_EX_LOCKED = 3,     /* another instance holds the state directory */
  SVC_EX_UNREACH = 4     /* the supervisor is not reachable */
};

/* One parsed command line.  Strings point into argv or the pool; an
 * option not given is NULL or 0. */
typedef struct svc_cli_s {
  const char *cmd;        /* the table's name: "logs", "service install" */
  const char *verb;       /* the table's verb: "stop", "install" */
  const char *arg;        /* the first positional argument, or NULL */
  const char *const *args; /* every positional argument */
  int nargs;
  const char *config;     /* -c FILE (the commands default it themselves) */
  const char *control;    /* --control ENDPOINT */
  const char *endpoint;   /* the supervisor's: --control, else -c's */
  int json;               /* --json */
  int no_wait;            /* --no-wait */
  int follow;             /* -f, --follow */
  int use_stderr;         /* --stderr */
  unsigned lines;         /* -n N (10 unless given) */
  const char *log_format; /* --log-format text|json */
  const char *log_level;  /* --log-level LEVEL */
  const char *service;    /* run --service NAME (Windows) */
  const char *name;       /* service --name NAME */
  int print;              /* service install --print */
  const char *account;    /* service install --account USER (Windows) */
  const char *password;   /* service install --password PW|- (Windows) */
} svc_cli_t;

/* ---- client.c: the client side of the control protocol ------------------- */

/* The endpoint of the supervisor of a->config (default ./vigil.xml),
 * reading only its <supervisor> paths, or a->control.  NULL, and a
 * message with FILE:LINE printed, if even those cannot be read. */
const char *svc_cli_endpoint(const svc_cli_t *a, apr_pool_t *pool);

int svc_cli_status(const svc_cli_t *a, apr_pool_t *pool);
/* start, stop, restart (a->verb): wait until settled unless --no-wait. */
int svc_cli_act(const svc_cli_t *a, apr_pool_t *pool);
/* shutdown (a->verb). */
int svc_cli_simple(const svc_cli_t *a, apr_pool_t *pool);
/* reload: the configuration, or with a NAME that service (<reload>). */
int svc_cli_reload(const svc_cli_t *a, apr_pool_t *pool);
/* signal NAME SIGNAL: exit 2 for a signal unknown or not sendable here,
 * 1 when a service addressed is not running. */
int svc_cli_signal(const svc_cli_t *a, apr_pool_t *pool);
int svc_cli_logs(const svc_cli_t *a, apr_pool_t *pool);
/* events [-f]: the supervisor's last events, or (-f) each one from now
 * on until interrupted; one JSON object a line. */
int svc_cli_events(const svc_cli_t *a, apr_pool_t *pool);

/* ---- install.c: the operating system's service manager ------------------- */

/* `vigil service VERB`: install, uninstall, start, stop (and status on
 * Windows) through systemd, launchd or the Service Control Manager. */
int svc_cli_service(const svc_cli_t *a, apr_pool_t *pool);
/* `vigil run --service NAME`: the supervisor as the Windows service
 * NAME, with its log at `level` in `fmt`. */
int svc_cli_run_service(const svc_cli_t *a, vg_log_level level,
                        vg_log_format fmt, apr_pool_t *pool);

/* ---- main.c -------------------------------------------------------------- */

/* The supervisor of a->config (default ./vigil.xml) in the foreground,
 * its log on `out`; returns its exit code. */
int svc_cli_supervise(const svc_cli_t *a, apr_file_t *out,
                      vg_log_level level, vg_log_format fmt,
                      apr_pool_t *pool);

#endif
