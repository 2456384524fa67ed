/*
 * main.c -- the vigil executable: the commands of docs/guide.md ("The
 * CLI"), docs/systemd.md and docs/windows.md, dispatched from one table.
 *
 *   opts[]    every option, once: its names, its value, its help
 *   cmds[]    every command: its handler, synopsis, summary, the options
 *             and positional arguments it takes, and whether it talks to
 *             the supervisor (the endpoint is resolved before it runs) or
 *             reads the whole configuration (-c FILE)
 *   parse()   the one argument parser: apr_getopt_long() with options
 *             and arguments in any order, `--` ending the options
 *   main()    picks the command, parses, runs it
 *
 * The commands live in client.c (those that talk to a running supervisor
 * through its control endpoint) and install.c (those that talk to the
 * operating system's service manager); run, validate, version and help
 * are here.
 *
 * Every command answers the same way to a bad command line: an unknown
 * option, an option without its value, a flag given a value, a missing
 * or an extra argument print what is wrong and the command's synopsis on
 * stderr, and exit 2.  -h or --help prints the command's help on stdout.
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 another
 * instance holds the lock, 4 the supervisor is not reachable.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_getopt.h>
#include <apr_strings.h>

/* ---- options ------------------------------------------------------------- */

/* An option's id is what apr_getopt_long() returns for it: its short
 * name, or for a long-only one a value past every character, since the
 * parser compares a short option with every id of its table. */
enum {
  ID_CONFIG = 'c',
  ID_FOLLOW = 'f',
  ID_HELP = 'h',
  ID_LINES = 'n',
  ID_CONTROL = 256,
  ID_JSON,
  ID_NO_WAIT,
  ID_STDERR,
  ID_LOG_FORMAT,
  ID_LOG_LEVEL,
  ID_SERVICE,
  ID_NAME,
  ID_PRINT,
  ID_ACCOUNT,
  ID_PASSWORD
};

/* opts[]'s indexes; a command's mask has bit (1 << index) of each option
 * it takes.  -c means one of four things, each with its own help; a
 * command takes at most one of them. */
enum {
  O_CONFIG,        /* the configuration, loaded whole */
  O_CONFIG_REQ,    /* the same, and no default */
  O_CONFIG_SUP,    /* where to find the supervisor */
  O_CONFIG_NAME,   /* where a service's name comes from */
  O_CONTROL,
  O_JSON,
  O_NO_WAIT,
  O_STDERR,
  O_LINES,
  O_FOLLOW,
  O_LOG_FORMAT,
  O_LOG_LEVEL,
  O_SERVICE,
  O_NAME,
  O_PRINT,
  O_ACCOUNT,
  O_PASSWORD,
  O_HELP,
  O_COUNT
};

#define B(o) (1u << (o))

typedef struct opt_s {
  int id;
  const char *name;    /* the long name, without "--" */
  const char *value;   /* the value's name in help ("FILE"), NULL: a flag */
  const char *help;    /* lines after the first start with '\n' */
} opt_t;

static const opt_t opts[O_COUNT] = {
    [O_CONFIG] = {ID_CONFIG, "config", "FILE",
                  "the configuration (default ./vigil.xml)"},
    [O_CONFIG_REQ] = {ID_CONFIG, "config", "FILE",
                      "the configuration (required)"},
    [O_CONFIG_SUP] = {ID_CONFIG, "config", "FILE",
                      "find the supervisor through this configuration\n"
                      "(default ./vigil.xml; only its <supervisor>\n"
                      "state-dir and control are read)"},
    [O_CONFIG_NAME] = {ID_CONFIG, "config", "FILE",
                       "NAME from this file's base name (web.xml: web)"},
    [O_CONTROL] = {ID_CONTROL, "control", "ENDPOINT",
                   "the supervisor's control endpoint, instead of -c"},
    [O_JSON] = {ID_JSON, "json", NULL,
                "the status object of docs/control.md, not a table"},
    [O_NO_WAIT] = {ID_NO_WAIT, "no-wait", NULL,
                   "return once the supervisor has the request; do\n"
                   "not wait until the services settle"},
    [O_STDERR] = {ID_STDERR, "stderr", NULL,
                  "the captured stderr instead of stdout"},
    [O_LINES] = {ID_LINES, NULL, "N", "the last N lines (default 10)"},
    [O_FOLLOW] = {ID_FOLLOW, "follow", NULL,
                  "then print what comes (logs: across rotations;\n"
                  "events: from now on), until interrupted"},
    [O_LOG_FORMAT] = {ID_LOG_FORMAT, "log-format", "FORMAT",
                      "the supervisor's log: text (default) or json"},
    [O_LOG_LEVEL] = {ID_LOG_LEVEL, "log-level", "LEVEL",
                     "debug, info (default), notice, warn or error"},
    [O_SERVICE] = {ID_SERVICE, "service", "NAME",
                   "Windows: run as the service NAME, under the\n"
                   "Service Control Manager (the command line that\n"
                   "`vigil service install` registers)"},
#if defined(_WIN32)
    [O_NAME] = {ID_NAME, "name", "NAME",
                "the service's name (default vigil)"},
    [O_PRINT] = {ID_PRINT, "print", NULL,
                 "print the service's command line; install nothing"},
#else
    [O_NAME] = {ID_NAME, "name", "NAME",
                "the service's name, as in vigil-NAME.service\n"
                "or org.vigil.NAME (default: the base name of\n"
                "-c FILE, else vigil)"},
    [O_PRINT] = {ID_PRINT, "print", NULL,
                 "print the unit (the plist); install nothing"},
#endif
    [O_ACCOUNT] = {ID_ACCOUNT, "account", "USER",
                   "the account the service runs as (default\n"
                   "LocalSystem)"},
    [O_PASSWORD] = {ID_PASSWORD, "password", "PW",
                    "the account's password; - reads it from stdin"},
    [O_HELP] = {ID_HELP, "help", NULL, "this help"},
};

/* ---- commands ------------------------------------------------------------ */

enum {
  NEEDS_ENDPOINT = 1,     /* talks to the supervisor: takes -c FILE (only
                             its <supervisor> is read) or --control */
  NEEDS_CONFIG = 2,       /* reads the whole -c FILE (./vigil.xml) */
  NEEDS_CONFIG_REQ = 4    /* the same, and -c FILE must be given */
};

typedef struct cmd_s {
  const char *name;       /* "logs", "service install" */
  const char *verb;       /* svc_cli_t.verb */
  int (*run)(const svc_cli_t *a, apr_pool_t *pool);
  const char *synopsis;   /* after "vigil " */
  const char *summary;    /* for the overview and the help */
  unsigned opts;          /* B(O_...) it takes, but -c/--control/--help */
  unsigned needs;
  int min_args, max_args; /* positional arguments */
  const char *missing;    /* when fewer than min_args */
} cmd_t;

static int cmd_run(const svc_cli_t *a, apr_pool_t *pool);
static int cmd_validate(const svc_cli_t *a, apr_pool_t *pool);
static int cmd_version(const svc_cli_t *a, apr_pool_t *pool);
static int cmd_help(const svc_cli_t *a, apr_pool_t *pool);

#if defined(_WIN32)
#define SVC_NAME_OPTS B(O_NAME)
#define SVC_INSTALL_OPTS (B(O_NAME) | B(O_PRINT) | B(O_ACCOUNT) | B(O_PASSWORD))
#define SVC_INSTALL_SYNOPSIS                                                 \
  "service install -c FILE [--name NAME]\n"                                  \
  "[--account USER --password PW|-] [--print]"
#define SVC_MANAGER "the Service Control Manager"
#else
#define SVC_NAME_OPTS (B(O_NAME) | B(O_CONFIG_NAME))
#define SVC_INSTALL_OPTS (B(O_NAME) | B(O_PRINT))
#define SVC_INSTALL_SYNOPSIS "service install -c FILE [--name NAME] [--print]"
#define SVC_MANAGER "systemd (launchd on macOS)"
#endif

/* What `vigil signal` can send here (pal_proc_signal). */
#if defined(_WIN32)
#define SVC_SIGNALS                                                          \
  "INT or BREAK (console events to its process\n"                           \
  "group), TERM or KILL (terminate it)"
#else
#define SVC_SIGNALS                                                          \
  "HUP, INT, QUIT, TERM, KILL, USR1, USR2, CONT,\n"                         \
  "STOP (SIG optional, any case) or a number"
#endif

static const cmd_t cmds[] = {
    {"run", "run", cmd_run,
     "run -c FILE [--log-format FORMAT] [--log-level LEVEL]",
     "run the supervisor in the foreground",
     B(O_LOG_FORMAT) | B(O_LOG_LEVEL) | B(O_SERVICE), NEEDS_CONFIG, 0, 0,
     NULL},
    {"validate", "validate", cmd_validate, "validate -c FILE",
     "check a config, its users, env-files, log daemons", 0, NEEDS_CONFIG,
     0, 0, NULL},
    {"status", "status", svc_cli_status, "status [NAME] [--json]",
     "state of every service (or one)", B(O_JSON), NEEDS_ENDPOINT, 0, 1,
     NULL},
    {"start", "start", svc_cli_act, "start NAME|all [--no-wait]",
     "start a service (and what it depends on); waits\n"
     "until it runs (a oneshot: until it exited 0)",
     B(O_NO_WAIT), NEEDS_ENDPOINT, 1, 1, "needs a service name (or all)"},
    {"stop", "stop", svc_cli_act, "stop NAME|all [--no-wait]",
     "stop a service (and what depends on it); waits\n"
     "until it stopped",
     B(O_NO_WAIT), NEEDS_ENDPOINT, 1, 1, "needs a service name (or all)"},
    {"restart", "restart", svc_cli_act, "restart NAME|all [--no-wait]",
     "stop and start again; waits until it runs", B(O_NO_WAIT),
     NEEDS_ENDPOINT, 1, 1, "needs a service name (or all)"},
    {"reload", "reload", svc_cli_reload, "reload [NAME]",
     "re-read the configuration; with NAME, reload\n"
     "that service as its <reload> says (a signal,\n"
     "HUP by default, or a command)",
     0, NEEDS_ENDPOINT, 0, 1, NULL},
    {"signal", "signal", svc_cli_signal, "signal NAME SIGNAL",
     "send a signal to a service's main process:\n"
     SVC_SIGNALS,
     0, NEEDS_ENDPOINT, 2, 2, "needs a service name and a signal"},
    {"logs", "logs", svc_cli_logs, "logs [NAME...] [--stderr] [-n N] [-f]",
     "the last lines of a service's captured output;\n"
     "no NAME or several: every one named (all\n"
     "without a NAME), merged in time order, each\n"
     "line prefixed \"NAME | \"",
     B(O_STDERR) | B(O_LINES) | B(O_FOLLOW), NEEDS_ENDPOINT, 0, INT_MAX,
     NULL},
    {"events", "events", svc_cli_events, "events [-f]",
     "what happened to the services, one JSON object\n"
     "a line: the last 64 events, or with -f each\n"
     "one from now on, until interrupted",
     B(O_FOLLOW), NEEDS_ENDPOINT, 0, 0, NULL},
    {"shutdown", "shutdown", svc_cli_simple, "shutdown",
     "stop every service and the supervisor", 0, NEEDS_ENDPOINT, 0, 0,
     NULL},
    {"version", "version", cmd_version, "version",
     "version, platform and event backend", 0, 0, 0, 0, NULL},
    {"help", "help", cmd_help, "help [COMMAND]",
     "this overview, or a command's options", 0, 0, 0, 1, NULL},
    {"service install", "install", svc_cli_service, SVC_INSTALL_SYNOPSIS,
     "register `vigil run -c FILE` with\n" SVC_MANAGER, SVC_INSTALL_OPTS,
     NEEDS_CONFIG_REQ, 0, 0, NULL},
    {"service uninstall", "uninstall", svc_cli_service,
     "service uninstall [--name NAME]", "remove the service",
     SVC_NAME_OPTS, 0, 0, 0, NULL},
    {"service start", "start", svc_cli_service, "service start [--name NAME]",
     "start the service", SVC_NAME_OPTS, 0, 0, 0, NULL},
    {"service stop", "stop", svc_cli_service, "service stop [--name NAME]",
     "stop the service", SVC_NAME_OPTS, 0, 0, 0, NULL},
#if defined(_WIN32)
    {"service status", "status", svc_cli_service,
     "service status [--name NAME]",
     "the service's state, last exit, start type,\n"
     "account and command line",
     SVC_NAME_OPTS, 0, 0, 0, NULL},
#endif
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

/* The options c takes, -c, --control and --help included. */
static unsigned cmd_opts(const cmd_t *c) {
  unsigned m = c->opts | B(O_HELP);
  if (c->needs & NEEDS_ENDPOINT)
    m |= B(O_CONFIG_SUP) | B(O_CONTROL);
  if (c->needs & NEEDS_CONFIG)
    m |= B(O_CONFIG);
  if (c->needs & NEEDS_CONFIG_REQ)
    m |= B(O_CONFIG_REQ);
  return m;
}

static const cmd_t *find_cmd(const char *name) {
  size_t i;
  for (i = 0; i < NCMDS; i++)
    if (!strcmp(cmds[i].name, name))
      return &cmds[i];
  return NULL;
}

static int is_service(const cmd_t *c) {
  return !strncmp(c->name, "service ", 8);
}

/* ---- help ---------------------------------------------------------------- */

/* `text` at column `col`, its later lines too (after the first '\n's). */
static void put_indented(FILE *f, const char *text, int col) {
  const char *nl;
  while ((nl = strchr(text, '\n'))) {
    fprintf(f, "%.*s\n%*s", (int)(nl - text), text, col, "");
    text = nl + 1;
  }
  fprintf(f, "%s\n", text);
}

static void synopsis(FILE *f, const cmd_t *c) {
  static const char ep[] = "[-c FILE | --control ENDPOINT]";
  fprintf(f, "usage: vigil ");
  if (!(c->needs & NEEDS_ENDPOINT))
    put_indented(f, c->synopsis, 13);
  else if (13 + strlen(c->synopsis) + 1 + strlen(ep) < 80)
    fprintf(f, "%s %s\n", c->synopsis, ep);
  else
    fprintf(f, "%s\n%13s%s\n", c->synopsis, "", ep);
}

/* A bad command line: what is wrong, then the synopsis; exit 2. */
static int usage_error(const cmd_t *c, const char *msg) {
  fprintf(stderr, "vigil %s: %s\n", c->name, msg);
  synopsis(stderr, c);
  return SVC_EX_USAGE;
}

static void overview(FILE *f) {
  size_t i;
  fputs("usage: vigil COMMAND [OPTIONS]\n\n", f);
  for (i = 0; i < NCMDS; i++) {
    const char *nl = strchr(cmds[i].synopsis, '\n');
    int len = nl ? (int)(nl - cmds[i].synopsis)
                 : (int)strlen(cmds[i].synopsis);
    fprintf(f, "  %.*s", len, cmds[i].synopsis);
    if (nl) {   /* a synopsis of two lines: the summary under it */
      fprintf(f, "\n    %s\n%30s", nl + 1, "");
    } else if (len > 26) {
      fprintf(f, "\n%30s", "");
    } else {
      fprintf(f, "%*s", 28 - len, "");
    }
    put_indented(f, cmds[i].summary, 30);
  }
  fputs("\n"
        "Commands that talk to the supervisor (status, start, stop,\n"
        "restart, reload, signal, logs, events, shutdown) take -c\n"
        "FILE (default ./vigil.xml; only its <supervisor> state-dir and\n"
        "control are read) or --control ENDPOINT.  Their NAME may be the base name\n"
        "of a service's instances (web for web-0, web-1, ...): each of\n"
        "them.\n"
        "`vigil COMMAND --help` (or `vigil help COMMAND`) describes a\n"
        "command's options.\n",
        f);
}

/* A command's synopsis, summary and every option it takes. */
static void cmd_usage(FILE *f, const cmd_t *c) {
  unsigned m = cmd_opts(c);
  int i;
  synopsis(f, c);
  fputc('\n', f);
  put_indented(f, c->summary, 0);
  fputs("\noptions:\n", f);
  for (i = 0; i < O_COUNT; i++) {
    char head[64];
    int n;
    if (!(m & B(i)))
      continue;
    if (opts[i].id < 256 && opts[i].name)
      n = snprintf(head, sizeof head, "  -%c, --%s", opts[i].id,
                   opts[i].name);
    else if (opts[i].id < 256)
      n = snprintf(head, sizeof head, "  -%c", opts[i].id);
    else
      n = snprintf(head, sizeof head, "      --%s", opts[i].name);
    if (opts[i].value)
      n += snprintf(head + n, sizeof head - (size_t)n, " %s",
                    opts[i].value);
    if (n > 26)
      fprintf(f, "%s\n%28s", head, "");
    else
      fprintf(f, "%-28s", head);
    put_indented(f, opts[i].help, 28);
  }
}

/* `vigil help service` (and `vigil service --help`): every action. */
static void service_usage(FILE *f) {
  size_t i;
  int first = 1;
  for (i = 0; i < NCMDS; i++) {
    if (!is_service(&cmds[i]))
      continue;
    if (!first)
      fputc('\n', f);
    first = 0;
    cmd_usage(f, &cmds[i]);
  }
}

/* "install, uninstall, start, stop": the actions of `vigil service`. */
static const char *service_actions(apr_pool_t *pool) {
  const char *s = NULL;
  size_t i;
  for (i = 0; i < NCMDS; i++)
    if (is_service(&cmds[i]))
      s = s ? apr_pstrcat(pool, s, ", ", cmds[i].verb, NULL) : cmds[i].verb;
  return s;
}

static int cmd_help(const svc_cli_t *a, apr_pool_t *pool) {
  const cmd_t *c;
  if (!a->arg) {
    overview(stdout);
    return SVC_EX_OK;
  }
  if (!strcmp(a->arg, "service")) {
    service_usage(stdout);
    return SVC_EX_OK;
  }
  if (!(c = find_cmd(a->arg)))
    return usage_error(find_cmd("help"),
                       apr_pstrcat(pool, "unknown command ", a->arg, NULL));
  cmd_usage(stdout, c);
  return SVC_EX_OK;
}

/* ---- the argument parser ------------------------------------------------- */

/* What apr_getopt_long() refused (its own messages are off): the word
 * it was reading is argv[ind - 1], unless it was inside a run of short
 * options ("-fx"), where `place` points at the option it refused. */
static int option_error(const cmd_t *c, const apr_getopt_t *os,
                        apr_status_t rv, apr_pool_t *pool) {
  const char *word = os->argv[os->ind - 1], *opt;
  int is_long = 0;
  if (*os->place)
    opt = apr_psprintf(pool, "-%c", *os->place);
  else if (word[0] == '-' && word[1] == '-') {
    is_long = 1;
    opt = apr_pstrndup(pool, word, strcspn(word, "="));
  } else
    opt = word;   /* "-x", or a bare "-" */
  if (rv == APR_BADCH)
    return usage_error(c, apr_pstrcat(pool, "unknown option ", opt, NULL));
  if (is_long && strchr(word, '='))
    return usage_error(c, apr_pstrcat(pool, "option ", opt,
                                      " takes no value", NULL));
  return usage_error(c, apr_pstrcat(pool, "option ", opt, " needs a value",
                                    NULL));
}

/* One option into *a; non-zero (message printed) if its value is bad. */
static int apply(const cmd_t *c, svc_cli_t *a, int id, const char *v,
                 apr_pool_t *pool) {
  switch (id) {
  case ID_CONFIG: a->config = v; break;
  case ID_CONTROL: a->control = v; break;
  case ID_JSON: a->json = 1; break;
  case ID_NO_WAIT: a->no_wait = 1; break;
  case ID_STDERR: a->use_stderr = 1; break;
  case ID_FOLLOW: a->follow = 1; break;
  case ID_LOG_FORMAT: a->log_format = v; break;
  case ID_LOG_LEVEL: a->log_level = v; break;
  case ID_SERVICE: a->service = v; break;
  case ID_NAME: a->name = v; break;
  case ID_PRINT: a->print = 1; break;
  case ID_ACCOUNT: a->account = v; break;
  case ID_PASSWORD: a->password = v; break;
  case ID_LINES: {
    char *end;
    long n;
    errno = 0;
    n = strtol(v, &end, 10);
    if (end == v || *end || n < 0) {
      usage_error(c, apr_pstrcat(pool, "-n wants a number of lines, not \"",
                                 v, "\"", NULL));
      return -1;
    }
    /* More lines than a file can have: all of them. */
    a->lines = errno == ERANGE || (unsigned long)n > UINT_MAX
                   ? UINT_MAX
                   : (unsigned)n;
    break;
  }
  }
  return 0;
}

/* Parse argv[1..argc) (argv[0]: the command) as command c's.  Options
 * and arguments come in any order (the parser moves the arguments after
 * the options), `--` ends the options, and an option's value is the next
 * word or follows `=` (--name=web) or the letter (-n5).  *help is set
 * when -h/--help came; parsing stops there. */
static int parse(const cmd_t *c, int argc, const char *const *argv,
                 svc_cli_t *a, int *help, apr_pool_t *pool) {
  apr_getopt_option_t table[O_COUNT + 1];
  apr_getopt_t *os;
  unsigned m = cmd_opts(c);
  const char *v;
  apr_status_t rv;
  int i, n = 0, id, nargs;

  for (i = 0; i < O_COUNT; i++)
    if (m & B(i)) {
      table[n].name = opts[i].name;
      table[n].optch = opts[i].id;
      table[n].has_arg = opts[i].value != NULL;
      table[n].description = opts[i].help;
      n++;
    }
  memset(&table[n], 0, sizeof table[n]);
  memset(a, 0, sizeof *a);
  a->cmd = c->name;
  a->verb = c->verb;
  a->lines = 10;
  *help = 0;
  if (apr_getopt_init(&os, pool, argc, argv) != APR_SUCCESS)
    return SVC_EX_FAIL;
  os->errfn = NULL;
  os->interleave = 1;
  while ((rv = apr_getopt_long(os, table, &id, &v)) == APR_SUCCESS) {
    if (id == ID_HELP) {
      *help = 1;
      return SVC_EX_OK;
    }
    if (apply(c, a, id, v, pool) != 0)
      return SVC_EX_USAGE;
  }
  if (rv != APR_EOF)
    return option_error(c, os, rv, pool);
  nargs = argc - os->ind;
  if (nargs < c->min_args)
    return usage_error(c, c->missing);
  if (nargs > c->max_args)
    return usage_error(c, apr_pstrcat(pool, "unexpected argument ",
                                      os->argv[os->ind + c->max_args],
                                      NULL));
  if (nargs > 0)
    a->arg = os->argv[os->ind];
  a->args = os->argv + os->ind;
  a->nargs = nargs;
  if ((c->needs & NEEDS_CONFIG_REQ) && !a->config)
    return usage_error(c, "needs -c FILE");
  if ((c->needs & NEEDS_CONFIG) && !a->config)
    a->config = "vigil.xml";
  return SVC_EX_OK;
}

/* ---- run, validate, version ---------------------------------------------- */

int svc_cli_supervise(const svc_cli_t *a, apr_file_t *out,
                      vg_log_level level, vg_log_format fmt,
                      apr_pool_t *pool) {
  svc_sup_opts_t o;
  vg_log_t *log;
  vg_log_create(&log, pool, out, level, fmt);
  memset(&o, 0, sizeof o);
  o.config = a->config ? a->config : "vigil.xml";
  o.log = log;
  return svc_sup_run(&o, pool);
}

static int cmd_run(const svc_cli_t *a, apr_pool_t *pool) {
  apr_file_t *err;
  int level = a->log_level ? vg_log_level_parse(a->log_level) : VG_LOG_INFO;
  vg_log_format fmt = VG_LOG_TEXT;
  if (level < 0) {
    fprintf(stderr, "vigil: unknown log level %s\n", a->log_level);
    return SVC_EX_USAGE;
  }
  if (a->log_format) {
    if (!strcmp(a->log_format, "json"))
      fmt = VG_LOG_JSON;
    else if (strcmp(a->log_format, "text")) {
      fprintf(stderr, "vigil: --log-format is text or json\n");
      return SVC_EX_USAGE;
    }
  }
  if (a->service)
    return svc_cli_run_service(a, (vg_log_level)level, fmt, pool);
  apr_file_open_stderr(&err, pool);
  return svc_cli_supervise(a, err, (vg_log_level)level, fmt, pool);
}

static int cmd_validate(const svc_cli_t *a, apr_pool_t *pool) {
  cfg_errors_t *errs = NULL;
  cfg_t *cfg;
  apr_file_t *err;
  if (svc_config_load(&cfg, a->config, pool, &errs) == APR_SUCCESS &&
      svc_config_check_env(cfg, pool, errs) == APR_SUCCESS) {
    /* Warnings: valid, and run as it is, but said (stderr). */
    cfg_errors_t *w = cfg_errors_create(pool);
    int i;
    svc_config_warnings(cfg, pool, w);
    for (i = 0; i < cfg_errors_count(w); i++) {
      const cfg_error_t *e = cfg_errors_get(w, i);
      fprintf(stderr, "%s:%d: warning: %s\n", e->file, e->line, e->message);
    }
    printf("%s: ok\n", a->config);
    return SVC_EX_OK;
  }
  apr_file_open_stderr(&err, pool);
  if (errs) {
    cfg_errors_sort(errs);
    cfg_errors_print(errs, err);
  }
  return SVC_EX_USAGE;
}

static int cmd_version(const svc_cli_t *a, apr_pool_t *pool) {
#if defined(_WIN32)
  const char *os = "windows";
#elif defined(__APPLE__)
  const char *os = "macos";
#elif defined(__linux__)
  const char *os = "linux";
#else
  const char *os = "unix";
#endif
  const char *why = pal_poll_fallback();
  (void)a;
  (void)pool;
  printf("vigil %s (%s, %s backend%s%s)\n", vg_version(), os, vg_backend(),
         why ? "; " : "", why ? why : "");
  return SVC_EX_OK;
}

/* ---- main ---------------------------------------------------------------- */

/* The command of argv[1] (and argv[2] for `service ACTION`); *skip: the
 * words before its own argv[0].  NULL, the message printed, if there is
 * none; *code says whether that is help (0) or an error. */
static const cmd_t *pick(int argc, const char *const *argv, int *skip,
                         int *code, apr_pool_t *pool) {
  const char *name = argv[1];
  const cmd_t *c;
  *skip = 1;
  if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
    overview(stdout);
    *code = SVC_EX_OK;
    return NULL;
  }
  if (!strcmp(name, "--version"))
    name = "version";
  if (!strcmp(name, "service")) {
    *skip = 2;
    if (argc < 3) {
      fprintf(stderr, "vigil service: needs an action (%s)\n",
              service_actions(pool));
    } else if (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")) {
      service_usage(stdout);
      *code = SVC_EX_OK;
      return NULL;
    } else if (!(c = find_cmd(apr_pstrcat(pool, "service ", argv[2],
                                          NULL)))) {
      fprintf(stderr, "vigil service: unknown action %s (%s)\n", argv[2],
              service_actions(pool));
    } else {
      return c;
    }
    fputs("usage: vigil service ACTION [OPTIONS]; vigil service --help\n",
          stderr);
    *code = SVC_EX_USAGE;
    return NULL;
  }
  if ((c = find_cmd(name)) && !is_service(c))
    return c;
  fprintf(stderr, "vigil: unknown command %s\n", name);
  overview(stderr);
  *code = SVC_EX_USAGE;
  return NULL;
}

int main(int argc, const char *const *argv) {
  apr_pool_t *pool;
  const cmd_t *c;
  svc_cli_t a;
  int skip, help, code = SVC_EX_OK;

  if (vg_initialize() != APR_SUCCESS) {
    fprintf(stderr, "vigil: cannot initialise APR\n");
    return SVC_EX_FAIL;
  }
  apr_pool_create(&pool, NULL);
  if (argc < 2) {
    overview(stderr);
    code = SVC_EX_USAGE;
  } else if ((c = pick(argc, argv, &skip, &code, pool)) != NULL) {
    code = parse(c, argc - skip, argv + skip, &a, &help, pool);
    if (code == SVC_EX_OK && help)
      cmd_usage(stdout, c);
    else if (code == SVC_EX_OK) {
      if (c->needs & NEEDS_ENDPOINT)
        a.endpoint = svc_cli_endpoint(&a, pool);
      if ((c->needs & NEEDS_ENDPOINT) && !a.endpoint)
        code = SVC_EX_USAGE;
      else
        code = c->run(&a, pool);
    }
  }
  apr_pool_destroy(pool);
  apr_terminate();
  return code;
}
