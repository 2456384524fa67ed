/*
 * action.c -- what an administrator does to one running service besides
 * start and stop: `vigil signal NAME SIGNAL` (svc_service_signal) and
 * `vigil reload NAME` (svc_service_reload), as <reload> says: a signal to
 * the main process (HUP by default) or a command.  control.c addresses
 * the services and answers the client.
 *
 * A reload command runs as a probe does (svc_probe_exec_as): its own
 * process group, the null device for stdio, the service's user, umask,
 * environment and working directory (and MAINPID, as systemd's
 * ExecReload= has it), and
 * a bound: at <reload timeout> (CFG_RELOAD_TIMEOUT_MS by default) its
 * group is killed.  The loop never waits for it.
 *
 * Invariants:
 *   - a service has at most one reload command running (s->reloading);
 *     a second request while it runs is refused (VG_EBUSY), not queued;
 *   - the command's callback runs exactly once: with the command's
 *     verdict, or VG_ECANCELED when the service is freed meanwhile
 *     (svc_service_reload_cancel(), from svc_control_forget(): then at
 *     once, and the record lives on until its probe is idle).
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

struct svc_reload_run_s {
  svc_probe_t probe;            /* first: the probe's callback finds us */
  svc_service_t *svc;           /* NULL once the service let go */
  svc_action_cb cb;             /* NULL once told (canceled) */
  void *baton;
  apr_pool_t *owner;            /* canceled: frees us if the probe never
                                   reports (the loop closed its handles) */
};

static apr_status_t run_free(void *data) {
  free(data);
  return APR_SUCCESS;
}

/* A line of the supervisor's log about s, as service.c writes them. */
static void say(const svc_service_t *s, vg_log_level lvl, const char *msg) {
  const char *kv[] = {"service", s->name, NULL};
  vg_log_kv(s->sup->log, lvl, "service", kv, "%s: %s", s->name, msg);
}

static int has_main(const svc_service_t *s) {
  return s->child && !s->child->exited && s->child->proc.pid > 0;
}

static const char *sig_text(int signum, int native, char *buf, size_t n) {
  const char *name = native ? NULL : vg_signal_name(signum);
  if (name)
    return name;
  snprintf(buf, n, "signal %d", signum);
  return buf;
}

apr_status_t svc_service_signal(svc_service_t *s, int signum, int native,
                                char *detail, size_t size) {
  char nb[24], eb[96];
  const char *what = sig_text(signum, native, nb, sizeof nb);
  apr_status_t rv;
  if (!has_main(s)) {
    snprintf(detail, size, "not running (%s)", svc_state_name(s->state));
    return PAL_ENOPROC;
  }
  rv = pal_proc_signal(&s->child->proc.proc, signum, native);
  if (rv == APR_SUCCESS) {
    snprintf(detail, size, "%s sent to pid %ld", what, s->child->proc.pid);
    say(s, VG_LOG_NOTICE, detail);
  } else if (rv == PAL_ENOPROC) {
    snprintf(detail, size, "not running (it has just exited)");
  } else if (rv == PAL_EUNSUPPORTED) {
    snprintf(detail, size, "%s cannot be sent on this platform", what);
  } else {
    const char *call = pal_last_call();
    snprintf(detail, size, "cannot send %s: %s%s%s%s", what,
             vg_strerror(rv, eb, sizeof eb), *call ? " (" : "", call,
             *call ? ")" : "");
    say(s, VG_LOG_WARN, detail);
  }
  return rv;
}

static void reload_cmd_done(svc_probe_t *p, apr_status_t st,
                            const char *detail) {
  struct svc_reload_run_s *run = (struct svc_reload_run_s *)p;
  svc_service_t *s = run->svc;
  if (s) {
    char msg[192];
    s->reloading = NULL;
    snprintf(msg, sizeof msg, "reload command %s: %s",
             st == APR_SUCCESS ? "done" : "failed", detail);
    if (st != VG_ECANCELED)
      say(s, st == APR_SUCCESS ? VG_LOG_NOTICE : VG_LOG_ERROR, msg);
  }
  if (run->cb)
    run->cb(s, run->baton, st, detail);
  if (run->owner)
    apr_pool_cleanup_kill(run->owner, run, run_free);
  free(run);
}

/* The command line and environment of s's reload command, in pool. */
static apr_status_t reload_argv(svc_service_t *s, apr_pool_t *pool,
                                const char *const **argv,
                                const char *const **env,
                                vg_process_options_t *as, const char **why) {
  const cfg_command_t *r = &s->cfg->reload.cmd;
  const char *const *base;
  apr_status_t rv = svc_service_env(s, pool, &base, as, why);
  apr_array_header_t *e = apr_array_make(pool, 64, sizeof(const char *));
  if (rv != APR_SUCCESS)
    return rv;
  for (; base && *base; base++)
    if (strncmp(*base, "MAINPID=", 8) != 0)
      APR_ARRAY_PUSH(e, const char *) = *base;
  APR_ARRAY_PUSH(e, const char *) =
      apr_psprintf(pool, "MAINPID=%ld", s->child->proc.pid);
  APR_ARRAY_PUSH(e, const char *) = NULL;
  *argv = svc_plan_argv(r->command, r->args, pool);
  *env = (const char *const *)e->elts;
  return APR_SUCCESS;
}

apr_status_t svc_service_reload(svc_service_t *s, svc_action_cb cb,
                                void *baton, char *detail, size_t size) {
  const cfg_command_t *r = &s->cfg->reload.cmd;
  struct svc_reload_run_s *run;
  const char *const *argv, *const *env;
  vg_process_options_t as;
  const char *why;
  apr_pool_t *tmp;
  apr_status_t rv;

  if (!r->command)
    return svc_service_signal(s, s->cfg->reload.signal, 0, detail, size);
  if (!has_main(s)) {
    snprintf(detail, size, "not running (%s)", svc_state_name(s->state));
    return PAL_ENOPROC;
  }
  if (s->reloading) {
    snprintf(detail, size, "its reload command is still running");
    return VG_EBUSY;
  }
  if (!(run = calloc(1, sizeof *run))) {
    snprintf(detail, size, "out of memory");
    return APR_ENOMEM;
  }
  svc_probe_init(&run->probe);
  run->svc = s;
  run->cb = cb;
  run->baton = baton;
  if (apr_pool_create(&tmp, s->sup->pool) != APR_SUCCESS) {
    free(run);
    snprintf(detail, size, "out of memory");
    return APR_ENOMEM;
  }
  if ((rv = reload_argv(s, tmp, &argv, &env, &as, &why)) != APR_SUCCESS) {
    free(run);
    snprintf(detail, size, "cannot run %s: %s", r->command, why);
    apr_pool_destroy(tmp);
    return rv;
  }
  rv = svc_probe_exec_as(&run->probe, s->sup->loop, argv, env,
                         s->cfg->workdir, &as, r->timeout_ms,
                         reload_cmd_done);
  apr_pool_destroy(tmp);
  if (rv != APR_SUCCESS) {
    char eb[96];
    free(run);
    snprintf(detail, size, "cannot run %s: %s", r->command,
             vg_strerror(rv, eb, sizeof eb));
    return rv;
  }
  s->reloading = run;
  {
    char msg[192];
    snprintf(msg, sizeof msg, "running its reload command %s", r->command);
    say(s, VG_LOG_NOTICE, msg);
  }
  snprintf(detail, size, "reload command started");
  return APR_INCOMPLETE;
}

/* The waiting client is told at once.  The probe reports its end later,
 * from the loop -- or never, at shutdown, when the loop closes what is
 * left of it: the supervisor's pool frees the record then. */
void svc_service_reload_cancel(svc_service_t *s) {
  struct svc_reload_run_s *run = s->reloading;
  svc_action_cb cb;
  if (!run)
    return;
  s->reloading = NULL;
  run->svc = NULL;
  cb = run->cb;
  run->cb = NULL;
  run->owner = s->sup->pool;
  apr_pool_cleanup_register(run->owner, run, run_free,
                            apr_pool_cleanup_null);
  svc_probe_cancel(&run->probe);
  cb(NULL, run->baton, VG_ECANCELED, "canceled");
}
