/*
 * attach.c -- type="attach": a daemon vigil did not start, named by its
 * <pid-file>.
 *
 * A start reads the pid file (svc_attach_find).  If it names the daemon,
 * service.c attaches to that pid (vg_process_attach: a pidfd on Linux,
 * EVFILT_PROC on BSD/macOS), and from then on the daemon is the
 * service's run: its exit goes through the restart policy (as a failure,
 * since the status of a process that is not our child is unknown), the
 * stop ladder signals it alone, usage and health checks are its own.
 * If there is no pid file, or it is stale, service.c runs <command> (the
 * launcher, an init script): it must start the daemon and exit 0, and
 * then the pid file is read again every RETRY_MS until it names the
 * daemon or the start's deadline (<ready timeout>) passes.
 *
 * A pid file decides which process vigil will signal, so a pid is
 * trusted only if all of this holds, and otherwise it is an error, said
 * in the log and the status, and nothing is signalled:
 *   - the file is a regular file (no symbolic link followed, a FIFO never
 *     waited for), of at most 64 bytes, holding one decimal pid;
 *   - that process is alive and is not vigil;
 *   - it belongs to the service's <user> (vigil's own user without one),
 *     real and effective uid;
 *   - it started before the file was written (with START_SLACK_US of
 *     slack for clock granularity): a process that started after the
 *     file was written cannot be the one the file names, but a later
 *     process that was given the same pid (pid reuse).
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#define RETRY_MS 50
/* File times come from a coarse clock (a few ms behind), Linux start
 * times are whole clock ticks, and a daemon writes its pid file a moment
 * after its fork: a second of slack, far less than a pid takes to be
 * reused. */
#define START_SLACK_US APR_USEC_PER_SEC

struct svc_attach_s {
  svc_service_t *s;             /* NULL once the service is freed */
  vg_timer_t retry;             /* reads the pid file again */
  int waiting;                  /* the launcher exited 0: reading */
  char last[256];               /* what the last read said */
};

static void retry_closed(vg_handle_t *h) { free(h->data); }

static struct svc_attach_s *state_of(svc_service_t *s) {
  struct svc_attach_s *a = s->attach;
  if (a)
    return a;
  a = calloc(1, sizeof *a);
  if (!a)
    return NULL;
  a->s = s;
  vg_timer_init(s->sup->loop, &a->retry);
  a->retry.data = a;
  s->attach = a;
  return a;
}

void svc_attach_destroy(svc_service_t *s) {
  struct svc_attach_s *a = s->attach;
  if (!a)
    return;
  s->attach = NULL;
  a->s = NULL;
  vg_close((vg_handle_t *)&a->retry, retry_closed);
}

/* The uid the daemon must run as: the service's <user>, else vigil's
 * own (-1 on Windows, where pal_pidinfo_t.same_user says). */
static apr_status_t expected_uid(svc_service_t *s, long *uid, char *why,
                                 size_t size) {
  apr_pool_t *tmp;
  pal_user_t u;
  apr_status_t rv;
  char eb[128];
  *uid = pal_geteuid();
  if (!s->cfg->user)
    return APR_SUCCESS;
  apr_pool_create(&tmp, s->sup->pool);
  rv = pal_user_lookup(s->cfg->user, &u, tmp);
  if (rv == APR_SUCCESS)
    *uid = u.uid;
  else
    snprintf(why, size, "cannot look up user '%s': %s", s->cfg->user,
             vg_strerror(rv, eb, sizeof eb));
  apr_pool_destroy(tmp);
  return rv;
}

int svc_attach_find(svc_service_t *s, long *pid, uint64_t *id, char *why,
                    size_t size) {
  const char *path = s->cfg->pid_file, *pw = NULL;
  char wb[128], eb[128];
  pal_pidinfo_t info;
  int64_t mtime;
  apr_status_t rv;
  long uid;

  *pid = 0;
  *id = 0;
  rv = pal_pidfile_read(path, pid, &mtime, wb, sizeof wb, &pw);
  if (APR_STATUS_IS_ENOENT(rv)) {
    snprintf(why, size, "pid file %s does not exist", path);
    return SVC_PIDFILE_NONE;
  }
  if (rv == PAL_ENOTREG) {
    snprintf(why, size, "pid file %s is not a regular file (a symbolic "
             "link, FIFO, directory or device): not read", path);
    return SVC_PIDFILE_BAD;
  }
  if (rv != APR_SUCCESS) {
    snprintf(why, size, "pid file %s %s", path,
             pw ? pw : vg_strerror(rv, eb, sizeof eb));
    return SVC_PIDFILE_BAD;
  }
  if (*pid == pal_getpid()) {
    snprintf(why, size, "pid file %s names vigil's own pid %ld", path,
             *pid);
    return SVC_PIDFILE_BAD;
  }
  rv = pal_pid_info(*pid, &info);
  if (rv == PAL_ENOPROC) {
    snprintf(why, size, "pid file %s names pid %ld, which is not running "
             "(a stale pid file)", path, *pid);
    return SVC_PIDFILE_NONE;
  }
  if (rv != APR_SUCCESS) {
    snprintf(why, size, "pid file %s names pid %ld, and who that process "
             "is cannot be told: %s", path, *pid,
             vg_strerror(rv, eb, sizeof eb));
    return SVC_PIDFILE_BAD;
  }
  if (expected_uid(s, &uid, why, size) != APR_SUCCESS)
    return SVC_PIDFILE_BAD;
  if (uid >= 0 ? (info.uid != uid || info.euid != uid) : !info.same_user) {
    if (uid >= 0)
      snprintf(why, size, "pid file %s names pid %ld, a process of uid "
               "%ld, not of the service's user (uid %ld): not attached, "
               "never signalled", path, *pid,
               info.euid != uid ? info.euid : info.uid, uid);
    else
      snprintf(why, size, "pid file %s names pid %ld, a process of "
               "another user: not attached, never signalled", path, *pid);
    return SVC_PIDFILE_BAD;
  }
  if (info.start &&
      info.start > mtime + START_SLACK_US + info.start_error) {
    snprintf(why, size, "pid file %s names pid %ld, which started %lld ms "
             "after the file was written, so it cannot be the process the "
             "file names (the pid was reused): not attached, never "
             "signalled", path, *pid,
             (long long)((info.start - mtime) / 1000));
    return SVC_PIDFILE_BAD;
  }
  why[0] = '\0';
  *id = info.id;
  return SVC_PIDFILE_LIVE;
}

/* Read the pid file again while the service waits for it. */
static void on_retry(vg_timer_t *t) {
  struct svc_attach_s *a = t->data;
  svc_service_t *s = a->s;
  uint64_t id;
  long pid;
  /* A stop, or a new start, ended this wait. */
  if (!s || !a->waiting || s->state != SVC_STARTING || s->child) {
    a->waiting = 0;
    return;
  }
  if (svc_attach_find(s, &pid, &id, a->last, sizeof a->last) ==
      SVC_PIDFILE_LIVE) {
    a->waiting = 0;
    svc_service_attached(s, pid, id);
    return;
  }
  vg_timer_start(&a->retry, on_retry, RETRY_MS, 0);
}

void svc_attach_launched(svc_service_t *s, int code, int sig) {
  struct svc_attach_s *a;
  char why[sizeof s->reason];
  if (s->state != SVC_STARTING) {
    /* Stopped (or killed at its deadline) while it ran: its end is the
     * table's, as any run's. */
    s->last.has = 1;
    s->last.code = code;
    s->last.signal = sig;
    s->last.oom = 0;
    s->last.at = apr_time_now();
    svc_service_event(s, SVC_EV_EXIT);
    return;
  }
  if (code != 0 || sig != 0) {
    if (sig)
      snprintf(why, sizeof why, "%s was killed by signal %s (it must start "
               "the daemon and exit 0)", s->cfg->command,
               vg_signal_name(sig) ? vg_signal_name(sig) : "?");
    else
      snprintf(why, sizeof why, "%s exited with code %d (it must start the "
               "daemon and exit 0)", s->cfg->command, code);
    svc_service_fail_start(s, why);
    return;
  }
  if (!(a = state_of(s))) {
    svc_service_fail_start(s, "out of memory");
    return;
  }
  a->waiting = 1;
  a->last[0] = '\0';
  /* Most daemons wrote it before their parent exited: read it now. */
  on_retry(&a->retry);
}

void svc_attach_timeout(svc_service_t *s, char *buf, size_t size) {
  struct svc_attach_s *a = s->attach;
  char d[32];
  uint64_t ms = s->cfg->ready.timeout_ms;
  if (ms % 1000 == 0)
    snprintf(d, sizeof d, "%llus", (unsigned long long)(ms / 1000));
  else
    snprintf(d, sizeof d, "%llums", (unsigned long long)ms);
  if (s->child)
    snprintf(buf, size, "%s did not exit within %s (it must start the "
             "daemon and exit)", s->cfg->command, d);
  else
    snprintf(buf, size, "no daemon to attach to within %s of the start "
             "(%s)", d, a && a->last[0] ? a->last : "no pid file");
  if (a) {
    a->waiting = 0;
    vg_timer_stop(&a->retry);
  }
}
