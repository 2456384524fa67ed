/*
 * install.c -- vigil and the operating system's service manager: `vigil
 * service install|uninstall|start|stop` (docs/systemd.md, docs/windows.md)
 * and, on Windows, `vigil run --service NAME`, the command line that
 * `service install` registers with the Service Control Manager.
 *
 *   run_tool(), write_whole()  systemctl/launchctl, and the unit or plist
 *                              (its text from svcfile.c) put in place
 *   scm_*()                    Windows: the SCM through pal_svcmgr_*()
 *   svc_cli_service()          the name, then systemd, launchd or the SCM
 *   svc_cli_run_service()      Windows: the supervisor under the SCM
 */
#include "cli.h"
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_env.h>
#include <apr_file_info.h>
#include <apr_strings.h>

/* ---- systemd, launchd: the tools and the files --------------------------- */

/* Linux: a systemd unit vigil-NAME.service in /etc/systemd/system (or
 * $VIGIL_SYSTEMD_DIR), Type=notify (notify.c speaks the protocol).
 * macOS: a launchd plist org.vigil.NAME.plist in /Library/LaunchDaemons
 * (or $VIGIL_LAUNCHD_DIR).  NAME: --name, else the config file's base
 * name without its extension (/etc/vigil/web.xml: web), else "vigil".
 * systemctl/launchctl run only when the manager is running here and no
 * *_DIR override is set; otherwise the file is written and a note says
 * what to run (exit 0). */

typedef struct svcmgr_s {
  const svc_cli_t *cli;         /* verb, config, print, account, password */
  const char *name;             /* the service's: given, or derived */
  int launchd;                  /* macOS */
  int scm;                      /* Windows: the SCM */
} svcmgr_t;

typedef struct spawned_s {
  int code;
} spawned_t;

static void on_tool_exit(vg_process_t *p, int code, int sig) {
  spawned_t *s = p->data;
  s->code = sig ? 128 + sig : code;
  vg_close((vg_handle_t *)p, NULL);
}

/* Run a tool (searched in PATH) with inherited stdio; its exit code, or
 * -1 if it could not be started. */
static int run_tool(apr_pool_t *pool, const char *const *argv) {
  vg_loop_t *loop;
  vg_process_t proc;
  vg_process_options_t o;
  spawned_t st;
  char eb[128];
  apr_status_t rv;
  int i;
  if (vg_loop_create(&loop, pool) != APR_SUCCESS)
    return -1;
  memset(&o, 0, sizeof o);
  o.file = argv[0];
  o.args = argv;
  o.flags = VG_PROCESS_SEARCH_PATH;
  for (i = 0; i < 3; i++)
    o.stdio[i].kind = VG_STDIO_INHERIT;
  o.exit_cb = on_tool_exit;
  st.code = -1;
  proc.data = &st;
  printf("+");
  for (i = 0; argv[i]; i++)
    printf(" %s", argv[i]);
  printf("\n");
  fflush(stdout);
  rv = vg_spawn(loop, &proc, &o);
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil: cannot run %s: %s\n", argv[0],
            vg_strerror(rv, eb, sizeof eb));
    vg_loop_close(loop);
    return -1;
  }
  proc.data = &st;
  vg_run(loop, VG_RUN_DEFAULT);
  vg_loop_close(loop);
  return st.code;
}

static int dir_exists(const char *path, apr_pool_t *pool) {
  apr_finfo_t fi;
  return apr_stat(&fi, path, APR_FINFO_TYPE, pool) == APR_SUCCESS &&
         fi.filetype == APR_DIR;
}

static int write_whole(const char *path, const char *text, apr_pool_t *pool) {
  const char *tmp = apr_pstrcat(pool, path, ".tmp", NULL);
  apr_file_t *f;
  apr_size_t n = strlen(text);
  char eb[128];
  apr_status_t rv = apr_file_open(
      &f, tmp, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
      APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD | APR_FPROT_WREAD,
      pool);
  if (rv == APR_SUCCESS) {
    rv = apr_file_write_full(f, text, n, NULL);
    if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS)
      rv = APR_EGENERAL;
    if (rv == APR_SUCCESS)
      rv = apr_file_rename(tmp, path, pool);
    if (rv != APR_SUCCESS)
      apr_file_remove(tmp, pool);
  }
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil: cannot write %s: %s\n", path,
            vg_strerror(rv, eb, sizeof eb));
    return SVC_EX_FAIL;
  }
  return SVC_EX_OK;
}

/* What every install needs: the config (-c FILE: main.c requires it),
 * loaded (else validate's messages and SVC_EX_USAGE), and the absolute
 * path of this executable. */
static int install_inputs(const svcmgr_t *m, apr_pool_t *pool, cfg_t **cfg,
                          char *exe, size_t exe_size) {
  cfg_errors_t *errs = NULL;
  char eb[128];
  apr_status_t rv;
  if (cfg_load(cfg, m->cli->config, pool, &errs) != APR_SUCCESS) {
    apr_file_t *err;
    apr_file_open_stderr(&err, pool);
    if (errs)
      cfg_errors_print(errs, err);
    return SVC_EX_USAGE;
  }
  if ((rv = pal_self_exe(exe, exe_size)) != APR_SUCCESS) {
    fprintf(stderr, "vigil: cannot find my own executable: %s\n",
            vg_strerror(rv, eb, sizeof eb));
    return SVC_EX_FAIL;
  }
  return SVC_EX_OK;
}

/* ---- Windows: the Service Control Manager -------------------------------- */

/* Windows: the Service Control Manager (pal_svcmgr_*).  NAME defaults to
 * "vigil".  The installed command line is
 *   "C:\...\vigil.exe" run -c "C:\...\vigil.xml" --service NAME
 * (quoted as CommandLineToArgvW reads it back; --print shows it).  Start
 * and stop wait for the service to settle (SCM_WAIT_MS at most), as
 * `net start` does; start and stop of a service already there are not
 * errors, as with systemctl. */
#define SCM_WAIT_MS 120000

static int scm_fail(const svcmgr_t *m, const char *verb, apr_status_t rv) {
  char eb[128];
  if (APR_STATUS_IS_EACCES(rv)) {
    fprintf(stderr, "vigil: cannot %s service %s: access denied: run as "
                    "Administrator (from an elevated prompt)\n",
            verb, m->name);
    return SVC_EX_FAIL;
  }
  switch (rv) {
  case PAL_ESVCEXISTS:
    fprintf(stderr, "vigil: service %s is already installed (vigil service "
                    "uninstall --name %s removes it)\n", m->name, m->name);
    return SVC_EX_FAIL;
  case PAL_ESVCNOENT:
    fprintf(stderr, "vigil: no such service %s (vigil service install -c "
                    "FILE --name %s installs it)\n", m->name, m->name);
    return SVC_EX_USAGE;
  case PAL_ESVCDELETED:
    fprintf(stderr, "vigil: service %s is marked for deletion: Windows "
                    "removes it once nothing holds it open; close the "
                    "Services console (services.msc) and Event Viewer, "
                    "then try again\n", m->name);
    return SVC_EX_FAIL;
  case APR_TIMEUP:
    fprintf(stderr, "vigil: service %s did not settle within %d s; "
                    "vigil service status --name %s tells when it has\n",
            m->name, SCM_WAIT_MS / 1000, m->name);
    return SVC_EX_FAIL;
  default:
    fprintf(stderr, "vigil: cannot %s service %s: %s (%s)\n", verb, m->name,
            vg_strerror(rv, eb, sizeof eb), pal_last_call());
    return SVC_EX_FAIL;
  }
}

static const char *scm_state_name(int state) {
  static const char *const names[] = {
      "unknown", "stopped", "starting", "stopping", "running",
      "continuing", "pausing", "paused"};
  return state > 0 && state <= PAL_SVC_PAUSED ? names[state] : names[0];
}

/* The last run's end, from the manager's two codes: vigil's own exit
 * status (ERROR_SERVICE_SPECIFIC_ERROR carries it), else the manager's
 * Windows error (1077: it never started). */
static const char *scm_last_exit(const pal_svc_status_t *st, char *buf,
                                 size_t size) {
  char eb[128];
  if (st->exit_code == 1066 /* ERROR_SERVICE_SPECIFIC_ERROR */)
    snprintf(buf, size, "exit status %lu",
             (unsigned long)st->service_exit_code);
  else if (st->exit_code == 0)
    snprintf(buf, size, "exit status 0");
  else
    snprintf(buf, size, "Windows error %lu: %s",
             (unsigned long)st->exit_code,
             vg_strerror(pal_err_from_os((int)st->exit_code), eb,
                         sizeof eb));
  return buf;
}

static int scm_install(const svcmgr_t *m, apr_pool_t *pool) {
  pal_svc_install_t o;
  pal_svc_status_t st;
  cfg_t *cfg;
  char exe[4096], eb[128], line[8192], pw[512];
  const char *argv[7];
  char *abs;
  apr_status_t rv;
  int code;

  if (m->cli->password && !m->cli->account) {
    fprintf(stderr, "vigil: --password goes with --account\n");
    return SVC_EX_USAGE;
  }
  if ((code = install_inputs(m, pool, &cfg, exe, sizeof exe)) != SVC_EX_OK)
    return code;
  /* The service starts in %SystemRoot%\System32: the path must be
   * absolute, and in the native form an administrator reads. */
  if (apr_filepath_merge(&abs, NULL, cfg->path, APR_FILEPATH_NATIVE, pool) !=
      APR_SUCCESS)
    abs = apr_pstrdup(pool, cfg->path);
  argv[0] = exe;
  argv[1] = "run";
  argv[2] = "-c";
  argv[3] = abs;
  argv[4] = "--service";
  argv[5] = m->name;
  argv[6] = NULL;
  rv = pal_svcmgr_command_line(argv, line, sizeof line);
  if (rv == APR_EINVAL) {
    fprintf(stderr, "vigil: cannot install: the path %s or %s holds a '%%', "
                    "a '\"' or a line break, which a service's command line "
                    "cannot hold (the Service Control Manager expands "
                    "%%NAME%% in it); move it\n", exe, abs);
    return SVC_EX_USAGE;
  }
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "vigil: cannot quote the command line: %s\n",
            vg_strerror(rv, eb, sizeof eb));
    return SVC_EX_FAIL;
  }
  if (m->cli->print) {
    printf("%s\n", line);
    return SVC_EX_OK;
  }
  memset(&o, 0, sizeof o);
  o.name = m->name;
  o.display_name = apr_psprintf(pool, "Vigil (%s)", m->name);
  o.description = apr_psprintf(pool, "Vigil process supervisor: the "
                               "services of %s", abs);
  o.argv = argv;
  o.account = m->cli->account;
  o.password = m->cli->password;
  /* --password -: read it from stdin, not from the command line (which
   * other users may see). */
  if (m->cli->password && !strcmp(m->cli->password, "-")) {
    size_t n;
    if (!fgets(pw, sizeof pw, stdin)) {
      fprintf(stderr, "vigil: --password -: no password on stdin\n");
      return SVC_EX_USAGE;
    }
    n = strcspn(pw, "\r\n");
    pw[n] = '\0';
    o.password = pw;
  }
  o.preshutdown_ms = svc_stop_budget_ms(cfg);
  rv = pal_svcmgr_install(&o);
  memset(pw, 0, sizeof pw);
  if (rv != APR_SUCCESS)
    return scm_fail(m, "install", rv);
  /* The Event Log source (<log stdout="eventlog">, and the supervisor's
   * own events): the service works without it, so a failure only warns. */
  if ((rv = pal_eventlog_register(argv[0])) != APR_SUCCESS)
    fprintf(stderr, "vigil: warning: cannot register the Event Log source "
                    "Vigil: %s\n", vg_strerror(rv, eb, sizeof eb));
  printf("vigil: installed service %s (%s) for %s, automatic%s start; "
         "start it now with: vigil service start --name %s\n",
         m->name, o.display_name, abs,
         pal_svcmgr_query(m->name, &st) == APR_SUCCESS && st.delayed
             ? " (delayed)" : "",
         m->name);
  return SVC_EX_OK;
}

static int scm_status(const svcmgr_t *m) {
  pal_svc_status_t st;
  char buf[256];
  apr_status_t rv = pal_svcmgr_query(m->name, &st);
  if (rv != APR_SUCCESS)
    return scm_fail(m, "query", rv);
  printf("service:  %s\n", m->name);
  if (st.pid)
    printf("state:    %s (pid %ld)\n", scm_state_name(st.state), st.pid);
  else
    printf("state:    %s\n", scm_state_name(st.state));
  if (st.state == PAL_SVC_STOPPED)
    printf("last run: %s\n", scm_last_exit(&st, buf, sizeof buf));
  printf("start:    %s%s\n", st.auto_start ? "automatic" : "manual",
         st.auto_start && st.delayed ? " (delayed)" : "");
  printf("account:  %s\n", st.account);
  printf("command:  %s\n", st.command_line);
  return SVC_EX_OK;
}

static int scm_service(const svcmgr_t *m, apr_pool_t *pool) {
  pal_svc_status_t st;
  char buf[256];
  apr_status_t rv;
  if (!strcmp(m->cli->verb, "install"))
    return scm_install(m, pool);
  if (!strcmp(m->cli->verb, "status"))
    return scm_status(m);
  if (!strcmp(m->cli->verb, "uninstall")) {
    if ((rv = pal_svcmgr_uninstall(m->name, SCM_WAIT_MS)) != APR_SUCCESS)
      return scm_fail(m, "uninstall", rv);
    printf("vigil: removed service %s\n", m->name);
    return SVC_EX_OK;
  }
  if (!strcmp(m->cli->verb, "start")) {
    rv = pal_svcmgr_start(m->name, SCM_WAIT_MS);
    if (rv == PAL_ESVCRUNNING) {
      printf("vigil: service %s is already running\n", m->name);
      return SVC_EX_OK;
    }
    if (rv == APR_EGENERAL && pal_svcmgr_query(m->name, &st) == APR_SUCCESS) {
      fprintf(stderr, "vigil: service %s stopped at once (%s): see vigil.log "
                      "in its state directory and the Event Log (source "
                      "Vigil)\n", m->name,
              scm_last_exit(&st, buf, sizeof buf));
      return SVC_EX_FAIL;
    }
    if (rv != APR_SUCCESS)
      return scm_fail(m, "start", rv);
    if (pal_svcmgr_query(m->name, &st) == APR_SUCCESS && st.pid)
      printf("vigil: service %s is running (pid %ld)\n", m->name, st.pid);
    else
      printf("vigil: service %s is running\n", m->name);
    return SVC_EX_OK;
  }
  /* stop */
  rv = pal_svcmgr_stop(m->name, SCM_WAIT_MS);
  if (rv == PAL_ESVCSTOPPED) {
    printf("vigil: service %s is not running\n", m->name);
    return SVC_EX_OK;
  }
  if (rv != APR_SUCCESS)
    return scm_fail(m, "stop", rv);
  printf("vigil: service %s stopped\n", m->name);
  return SVC_EX_OK;
}

/* ---- vigil service ACTION ------------------------------------------------ */

int svc_cli_service(const svc_cli_t *cli, apr_pool_t *pool) {
  svcmgr_t m;
  const char *dir, *file, *unit, *label, *env_dir, *text;
  char *envv = NULL;
  int manager_up, code = SVC_EX_OK;

  memset(&m, 0, sizeof m);
#if defined(__APPLE__)
  m.launchd = 1;
#elif defined(_WIN32)
  m.scm = 1;
#endif
  m.cli = cli;
  m.name = cli->name;
  if (m.scm && !m.name)
    m.name = "vigil";   /* one supervisor per machine is the usual case */
  if (!m.name && cli->config) {
    const char *b = strrchr(cli->config, '/'), *dot;
    b = b ? b + 1 : cli->config;
    dot = strrchr(b, '.');
    m.name = dot && dot != b ? apr_pstrndup(pool, b, (apr_size_t)(dot - b))
                             : apr_pstrdup(pool, b);
  }
  if (!m.name || !*m.name)
    m.name = "vigil";
  if (strlen(m.name) > 64 ||
      strspn(m.name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_.-") != strlen(m.name)) {
    fprintf(stderr, "vigil: service: bad name %s ([A-Za-z0-9_.-]{1,64})\n",
            m.name);
    return SVC_EX_USAGE;
  }
  if (m.scm)
    return scm_service(&m, pool);

  if (m.launchd) {
    label = apr_pstrcat(pool, "org.vigil.", m.name, NULL);
    unit = label;
    env_dir = "VIGIL_LAUNCHD_DIR";
    dir = "/Library/LaunchDaemons";
    file = apr_pstrcat(pool, label, ".plist", NULL);
    manager_up = 1;
  } else {
    label = unit = apr_pstrcat(pool, "vigil-", m.name, ".service", NULL);
    env_dir = "VIGIL_SYSTEMD_DIR";
    dir = "/etc/systemd/system";
    file = unit;
    manager_up = dir_exists("/run/systemd/system", pool);
  }
  if (apr_env_get(&envv, env_dir, pool) == APR_SUCCESS && envv && *envv) {
    dir = envv;
    manager_up = 0;   /* a staging directory: never touch the manager */
  }
  file = apr_pstrcat(pool, dir, "/", file, NULL);

  if (!strcmp(cli->verb, "install")) {
    cfg_t *cfg;
    char exe[4096];
    const char *why = NULL;
    if ((code = install_inputs(&m, pool, &cfg, exe, sizeof exe)) != SVC_EX_OK)
      return code;
    text = m.launchd ? svc_launchd_plist(m.name, exe, cfg->path,
                                         svc_stop_budget_ms(cfg), pool, &why)
                     : svc_systemd_unit(m.name, exe, cfg->path,
                                        svc_stop_budget_ms(cfg), pool, &why);
    if (!text) {
      fprintf(stderr, "vigil: cannot install: %s (move it)\n", why);
      return SVC_EX_USAGE;
    }
    if (cli->print) {
      fputs(text, stdout);
      return SVC_EX_OK;
    }
    if ((code = write_whole(file, text, pool)) != SVC_EX_OK)
      return code;
    printf("vigil: wrote %s\n", file);
    if (!manager_up) {
      printf("vigil: %s is not being used here; to start it run: %s\n",
             m.launchd ? "launchd" : "systemd",
             m.launchd ? apr_pstrcat(pool, "launchctl bootstrap system ",
                                     file, NULL)
                       : apr_pstrcat(pool, "systemctl daemon-reload && "
                                           "systemctl enable --now ",
                                     unit, NULL));
      return SVC_EX_OK;
    }
    if (m.launchd) {
      const char *a[] = {"launchctl", "bootstrap", "system", file, NULL};
      return run_tool(pool, a) == 0 ? SVC_EX_OK : SVC_EX_FAIL;
    } else {
      const char *a1[] = {"systemctl", "daemon-reload", NULL};
      const char *a2[] = {"systemctl", "enable", "--now", unit, NULL};
      if (run_tool(pool, a1) != 0 || run_tool(pool, a2) != 0)
        return SVC_EX_FAIL;
      return SVC_EX_OK;
    }
  }
  if (!strcmp(cli->verb, "uninstall")) {
    char eb[128];
    apr_status_t rv;
    if (manager_up) {
      if (m.launchd) {
        const char *a[] = {"launchctl", "bootout",
                           apr_pstrcat(pool, "system/", label, NULL), NULL};
        run_tool(pool, a);
      } else {
        const char *a[] = {"systemctl", "disable", "--now", unit, NULL};
        run_tool(pool, a);
      }
    }
    rv = apr_file_remove(file, pool);
    if (rv != APR_SUCCESS) {
      fprintf(stderr, "vigil: cannot remove %s: %s\n", file,
              vg_strerror(rv, eb, sizeof eb));
      code = SVC_EX_FAIL;
    } else
      printf("vigil: removed %s\n", file);
    if (manager_up && !m.launchd) {
      const char *a[] = {"systemctl", "daemon-reload", NULL};
      run_tool(pool, a);
    }
    return code;
  }
  /* start / stop */
  if (!manager_up) {
    fprintf(stderr, "vigil: %s is not being used here; cannot %s %s\n",
            m.launchd ? "launchd" : "systemd", cli->verb, unit);
    return SVC_EX_FAIL;
  }
  if (m.launchd) {
    const char *target = apr_pstrcat(pool, "system/", label, NULL);
    const char *st[] = {"launchctl", "kickstart", target, NULL};
    const char *sp[] = {"launchctl", "kill", "TERM", target, NULL};
    return run_tool(pool, !strcmp(cli->verb, "start") ? st : sp) == 0
               ? SVC_EX_OK
               : SVC_EX_FAIL;
  } else {
    const char *a[] = {"systemctl", cli->verb, unit, NULL};
    return run_tool(pool, a) == 0 ? SVC_EX_OK : SVC_EX_FAIL;
  }
}

/* ---- vigil run --service NAME (Windows) ---------------------------------- */

/* `run --service NAME`: main_fn of pal_svcmgr_dispatch(), on the
 * service's thread.  Under the Service Control Manager there is no
 * console and stdout/stderr lead nowhere, so the supervisor's log is
 * appended to STATE-DIR/vigil.log, and what stops the start before that
 * file exists (a configuration that does not load) goes to the Event
 * Log.  The exit status reaches the manager (see pal_svcmgr_dispatch). */
typedef struct service_run_s {
  const svc_cli_t *a;
  vg_log_level level;
  vg_log_format fmt;
  apr_pool_t *pool;
} service_run_t;

static int service_main(void *arg) {
  service_run_t *r = arg;
  const char *path = r->a->config ? r->a->config : "vigil.xml", *logpath;
  cfg_errors_t *errs = NULL;
  apr_file_t *f;
  cfg_t *cfg;
  char eb[128];
  apr_status_t rv;
  int i, code;

  if (svc_config_load(&cfg, path, r->pool, &errs) != APR_SUCCESS) {
    const char *msg = apr_psprintf(r->pool, "service %s: %s does not load; "
                                   "vigil did not start:", r->a->service,
                                   path);
    for (i = 0; errs && i < cfg_errors_count(errs); i++)
      msg = apr_pstrcat(r->pool, msg, "\r\n",
                        cfg_error_format(cfg_errors_get(errs, i), r->pool),
                        NULL);
    pal_eventlog_report(PAL_EVENT_ERROR, msg);
    return SVC_EX_USAGE;
  }
  logpath = apr_pstrcat(r->pool, cfg->state_dir, "/vigil.log", NULL);
  rv = apr_dir_make_recursive(cfg->state_dir, APR_FPROT_OS_DEFAULT, r->pool);
  if (rv == APR_SUCCESS)
    rv = apr_file_open(&f, logpath,
                       APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND,
                       APR_FPROT_OS_DEFAULT, r->pool);
  if (rv != APR_SUCCESS) {
    pal_eventlog_report(PAL_EVENT_ERROR,
                        apr_psprintf(r->pool, "service %s: cannot open %s: "
                                     "%s; vigil did not start",
                                     r->a->service, logpath,
                                     vg_strerror(rv, eb, sizeof eb)));
    return SVC_EX_FAIL;
  }
  code = svc_cli_supervise(r->a, f, r->level, r->fmt, r->pool);
  apr_file_close(f);
  return code;
}

int svc_cli_run_service(const svc_cli_t *a, vg_log_level level,
                        vg_log_format fmt, apr_pool_t *pool) {
  service_run_t r;
  char eb[128];
  int code = SVC_EX_FAIL;
  apr_status_t rv;
  r.a = a;
  r.level = level;
  r.fmt = fmt;
  r.pool = pool;
  rv = pal_svcmgr_dispatch(a->service, service_main, &r, &code);
  if (rv == APR_SUCCESS)
    return code;
  if (rv == PAL_ESVCNOTSCM) {
    fprintf(stderr, "vigil: run --service is how the Service Control "
                    "Manager starts vigil (vigil service start --name %s); "
                    "in a console, leave --service out\n", a->service);
    return SVC_EX_USAGE;
  }
  if (rv == PAL_EUNSUPPORTED) {
    fprintf(stderr, "vigil: run --service is for Windows services; "
                    "systemd and launchd run `vigil run -c FILE` as it "
                    "is\n");
    return SVC_EX_USAGE;
  }
  fprintf(stderr, "vigil: cannot run as service %s: %s (%s)\n", a->service,
          vg_strerror(rv, eb, sizeof eb), pal_last_call());
  return SVC_EX_FAIL;
}
