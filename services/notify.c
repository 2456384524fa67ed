/*
 * notify.c -- vigil as a systemd Type=notify service: the sd_notify(3)
 * protocol spoken directly over a local datagram socket (no libsystemd).
 *
 * When `vigil run` starts with NOTIFY_SOCKET set (a socket path, or
 * "@name" for the Linux abstract namespace), the supervisor sends:
 *   READY=1 + STATUS=N services   once the control endpoint listens and
 *                                 the first pump has started (asked to
 *                                 start) every autostart service -- not
 *                                 when they are all `running`, so a slow
 *                                 service cannot time out vigil's start
 *   RELOADING=1 ... READY=1       around a reload (also a refused one)
 *   STOPPING=1                    when shutdown begins
 *   WATCHDOG=1                    every WATCHDOG_USEC/2 when WATCHDOG_USEC
 *                                 is set (and WATCHDOG_PID, if set, is us)
 * NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are removed from the
 * environment at once, so no child or probe inherits them (child_env in
 * service.c also filters NOTIFY_SOCKET and sets its own per service).
 * Send failures are ignored: the notify socket is advisory (and at most
 * NOTIFY_MAX_PENDING messages wait while the manager does not read).
 *
 * The same hooks tell the Windows Service Control Manager when vigil runs
 * as a service (pal_svcmgr_dispatch in services/main.c; elsewhere these
 * PAL calls do nothing): svc_notify_open advances START_PENDING's
 * checkpoint, svc_notify_ready reports RUNNING, svc_notify_stopping
 * STOP_PENDING with the shutdown budget as the wait hint, and
 * svc_notify_progress advances its checkpoint as services stop.
 * svc_notify_event writes what an administrator looks for (start, stop,
 * a fatal service, a refused reload) to the system log: the Windows Event
 * Log (no-op on POSIX, where the supervisor's own log is the record).
 */
#include "svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>

#include <apr_env.h>
#include <apr_strings.h>

/* START_PENDING wait hint once the loop is up (the control endpoint and
 * the first pump are still to come: milliseconds, normally). */
#define NOTIFY_START_HINT_MS 30000
/* The stop budget beyond shutdown-timeout: the deadline's kill, the
 * children's exit notices, the last log lines. */
#define NOTIFY_STOP_MARGIN_MS 5000

/* Messages queued because the manager's socket is full.  The protocol
 * is advisory: past this many, new ones are dropped rather than kept in
 * memory for a manager that does not read (each WATCHDOG=1 would stay). */
#define NOTIFY_MAX_PENDING 16

/* A refused sender is logged at most this often per service: a local
 * flood must not fill the supervisor's log. */
#define NOTIFY_WARN_MS 10000

struct svc_notify_s {
  vg_udp_t udp;
  vg_addr_t addr;
  vg_timer_t watchdog;
  int watchdog_on;
  int closed;
  unsigned pending;             /* sends not yet completed */
};

typedef struct notify_msg_s {
  vg_send_t req;
  svc_notify_t *n;
  char text[1];
} notify_msg_t;

static void on_sent(vg_send_t *req, apr_status_t status) {
  notify_msg_t *m = req->data;
  (void)status;
  m->n->pending--;
  free(m);
}

void svc_notify_send(svc_sup_t *sup, const char *msg) {
  svc_notify_t *n = sup->notify;
  notify_msg_t *m;
  vg_buf_t b;
  size_t len;
  if (!n || n->closed || n->pending >= NOTIFY_MAX_PENDING)
    return;
  len = strlen(msg);
  m = malloc(sizeof *m + len);
  if (!m)
    return;
  memcpy(m->text, msg, len + 1);
  m->n = n;
  m->req.data = m;
  b.base = m->text;
  b.len = len;
  if (vg_udp_send(&m->req, &n->udp, &b, 1, &n->addr, on_sent) !=
      APR_SUCCESS)
    free(m);
  else
    n->pending++;
}

static void on_watchdog(vg_timer_t *t) {
  svc_sup_t *sup = t->data;
  svc_notify_send(sup, "WATCHDOG=1");
}

void svc_notify_open(svc_sup_t *sup) {
  char *sock = NULL, *usec = NULL, *wpid = NULL;
  char eb[128];
  svc_notify_t *n;
  apr_status_t rv;
  long long us = 0;

  /* The loop is up: progress for a manager waiting on our start. */
  pal_svcmgr_report(PAL_SVC_START_PENDING, NOTIFY_START_HINT_MS);
  if (apr_env_get(&sock, "NOTIFY_SOCKET", sup->pool) != APR_SUCCESS ||
      !sock || !*sock)
    return;
  sock = apr_pstrdup(sup->pool, sock);
  if (apr_env_get(&usec, "WATCHDOG_USEC", sup->pool) == APR_SUCCESS && usec)
    us = strtoll(usec, NULL, 10);
  if (apr_env_get(&wpid, "WATCHDOG_PID", sup->pool) == APR_SUCCESS && wpid &&
      *wpid && strtol(wpid, NULL, 10) != pal_getpid())
    us = 0;   /* the watchdog is meant for another process */
  apr_env_delete("NOTIFY_SOCKET", sup->pool);
  apr_env_delete("WATCHDOG_USEC", sup->pool);
  apr_env_delete("WATCHDOG_PID", sup->pool);

  n = apr_pcalloc(sup->pool, sizeof *n);
  rv = pal_addr_local(&n->addr, sock);
  if (rv == APR_SUCCESS)
    rv = vg_udp_init(sup->loop, &n->udp, PAL_AF_UNIX);
  if (rv != APR_SUCCESS) {
    vg_log(sup->log, VG_LOG_WARN, "notify",
           "cannot use NOTIFY_SOCKET %s: %s", sock,
           vg_strerror(rv, eb, sizeof eb));
    return;
  }
  n->udp.data = sup;
  vg_unref((vg_handle_t *)&n->udp);
  sup->notify = n;
  if (us > 0) {
    uint64_t ms = (uint64_t)us / 2000;
    if (ms == 0)
      ms = 1;
    vg_timer_init(sup->loop, &n->watchdog);
    n->watchdog.data = sup;
    vg_timer_start(&n->watchdog, on_watchdog, ms, ms);
    vg_unref((vg_handle_t *)&n->watchdog);
    n->watchdog_on = 1;
  }
  vg_log(sup->log, VG_LOG_INFO, "notify", "NOTIFY_SOCKET %s%s", sock,
         us > 0 ? " (watchdog on)" : "");
}

void svc_notify_ready(svc_sup_t *sup) {
  char msg[64];
  pal_svcmgr_report(PAL_SVC_RUNNING, 0);
  if (!sup->notify)
    return;
  snprintf(msg, sizeof msg, "READY=1\nSTATUS=%u services\n", sup->nservices);
  svc_notify_send(sup, msg);
}

uint64_t svc_stop_budget_ms(const cfg_t *cfg) {
  return cfg->shutdown_timeout_ms + NOTIFY_STOP_MARGIN_MS;
}

void svc_notify_stopping(svc_sup_t *sup) {
  pal_svcmgr_report(PAL_SVC_STOP_PENDING, svc_stop_budget_ms(sup->cfg));
  svc_notify_send(sup, "STOPPING=1");
}

void svc_notify_progress(svc_sup_t *sup) {
  if (sup->shutting_down && !sup->finished)
    pal_svcmgr_report(PAL_SVC_STOP_PENDING, svc_stop_budget_ms(sup->cfg));
}

void svc_notify_event(svc_sup_t *sup, vg_log_level level, const char *fmt,
                      ...) {
  char msg[1024], eb[128];
  va_list ap;
  apr_status_t rv;
  int kind = level >= VG_LOG_ERROR  ? PAL_EVENT_ERROR
             : level >= VG_LOG_WARN ? PAL_EVENT_WARN
                                    : PAL_EVENT_INFO;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  rv = pal_eventlog_report(kind, msg);
  if (rv != APR_SUCCESS && rv != PAL_EUNSUPPORTED)
    vg_log(sup->log, VG_LOG_WARN, "notify",
           "cannot write to the event log: %s (%s)",
           vg_strerror(rv, eb, sizeof eb), pal_last_call());
}

void svc_notify_close(svc_sup_t *sup) {
  svc_notify_t *n = sup->notify;
  if (!n || n->closed)
    return;
  n->closed = 1;
  if (n->watchdog_on && !vg_is_closing((vg_handle_t *)&n->watchdog))
    vg_close((vg_handle_t *)&n->watchdog, NULL);
  if (!vg_is_closing((vg_handle_t *)&n->udp))
    vg_close((vg_handle_t *)&n->udp, NULL);
}

int svc_notify_sender_ok(svc_service_t *s) {
  const char *kv[] = {"service", s->name, NULL};
  char who[64], mainw[32] = "none runs", more[64] = "";
  long pid = -1, uid = -1;
  long main = s->child && !s->child->exited ? s->child->proc.pid : 0;
  apr_status_t rv = vg_udp_sender(&s->notify->udp, &pid, &uid);
  uint64_t now;
  if (rv == PAL_EUNSUPPORTED)
    return 1;   /* no sender to check; the directory keeps others out */
  if (rv == APR_SUCCESS && main > 0 && pid == main)
    return 1;
  now = vg_now(s->sup->loop);
  if (now < s->notify->quiet_until) {
    s->notify->unsaid++;
    return 0;
  }
  if (rv == APR_SUCCESS)
    snprintf(who, sizeof who, "pid %ld (uid %ld)", pid, uid);
  else
    snprintf(who, sizeof who, "an unknown sender");
  if (main > 0)
    snprintf(mainw, sizeof mainw, "pid %ld", main);
  if (s->notify->unsaid)
    snprintf(more, sizeof more, "; %u more since the last warning",
             s->notify->unsaid);
  vg_log_kv(s->sup->log, VG_LOG_WARN, "service", kv,
            "%s: notify message from %s ignored: only the main process "
            "(%s) may send%s", s->name, who, mainw, more);
  s->notify->quiet_until = now + NOTIFY_WARN_MS;
  s->notify->unsaid = 0;
  return 0;
}
