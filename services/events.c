/*
 * events.c -- the supervisor's event stream: what happened to a service
 * (started, running, exited, restarting, fatal, health-failed, stopped),
 * said once, as one JSON line, to every consumer: the subscribers of the
 * control endpoint (`vigil events`, control.c) and a ring of the last
 * SVC_EVENTS_RING events (what `vigil events` without -f prints).
 *
 * Emitting never blocks and never fails the caller: without memory an
 * event is lost, nothing else.  docs/control.md documents the lines.
 */
#include "svc_int.h"

#include <apr_strings.h>

#include <stdlib.h>
#include <string.h>

#define SVC_EVENTS_RING 64

typedef struct ring_line_s {
  char *text;                   /* malloc'ed, no newline */
  size_t len;
} ring_line_t;

struct svc_events_s {
  ring_line_t ring[SVC_EVENTS_RING];
  unsigned head, len;           /* oldest at (head - len) mod N */
};

static const char *const names[SVC_EVK_N] = {
    "started", "running", "exited", "restarting", "fatal", "health-failed",
    "stopped"};

const char *svc_evk_name(svc_evk k) {
  return (unsigned)k < SVC_EVK_N ? names[k] : "?";
}

static apr_status_t events_cleanup(void *data) {
  svc_events_t *ev = data;
  unsigned i;
  for (i = 0; i < SVC_EVENTS_RING; i++)
    free(ev->ring[i].text);
  free(ev);
  return APR_SUCCESS;
}

static svc_events_t *events_of(svc_sup_t *sup) {
  if (!sup->events) {
    sup->events = calloc(1, sizeof *sup->events);
    if (sup->events)
      apr_pool_cleanup_register(sup->pool, sup->events, events_cleanup,
                                apr_pool_cleanup_null);
  }
  return sup->events;
}

static void ring_add(svc_sup_t *sup, const char *line, size_t len) {
  svc_events_t *ev = events_of(sup);
  ring_line_t *slot;
  char *copy;
  if (!ev || !(copy = malloc(len)))
    return;
  memcpy(copy, line, len);
  slot = &ev->ring[ev->head];
  free(slot->text);
  slot->text = copy;
  slot->len = len;
  ev->head = (ev->head + 1) % SVC_EVENTS_RING;
  if (ev->len < SVC_EVENTS_RING)
    ev->len++;
}

void svc_events_replay(svc_sup_t *sup,
                       void (*fn)(void *, const char *, size_t),
                       void *baton) {
  svc_events_t *ev = sup->events;
  unsigned i;
  if (!ev)
    return;
  for (i = 0; i < ev->len; i++) {
    const ring_line_t *l =
        &ev->ring[(ev->head + SVC_EVENTS_RING - ev->len + i) %
                  SVC_EVENTS_RING];
    fn(baton, l->text, l->len);
  }
}

void svc_events_emit(svc_service_t *s, svc_evk kind, long pid) {
  svc_sup_t *sup = s->sup;
  apr_pool_t *p;
  svc_json_w_t w;
  const char *out;
  size_t len;
  int ended = kind == SVC_EVK_EXITED && s->last.has;

  if (apr_pool_create(&p, sup->pool) != APR_SUCCESS)
    return;
  svc_json_w_init(&w, p, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "at_ms");
  svc_json_w_int64(&w, (int64_t)(apr_time_now() / 1000));
  svc_json_w_key(&w, "service");
  svc_json_w_string(&w, s->name);
  svc_json_w_key(&w, "event");
  svc_json_w_string(&w, svc_evk_name(kind));
  svc_json_w_key(&w, "state");
  svc_json_w_string(&w, svc_state_name(s->state));
  svc_json_w_key(&w, "pid");
  if (pid > 0)
    svc_json_w_int64(&w, pid);
  else
    svc_json_w_null(&w);
  /* code and signal: of the exit an "exited" event reports; null else
   * (and code is null when a signal ended it). */
  svc_json_w_key(&w, "code");
  if (ended && !s->last.signal)
    svc_json_w_int64(&w, s->last.code);
  else
    svc_json_w_null(&w);
  svc_json_w_key(&w, "signal");
  if (ended && s->last.signal && vg_signal_name(s->last.signal))
    svc_json_w_string(&w, vg_signal_name(s->last.signal));
  else
    svc_json_w_null(&w);
  /* reason: how the process ended for "exited"; none when it starts;
   * else the service's, as its status says it. */
  svc_json_w_key(&w, "reason");
  if (ended && s->last.signal)
    svc_json_w_string(&w, apr_psprintf(p, "killed by signal %s",
                                       vg_signal_name(s->last.signal)
                                           ? vg_signal_name(s->last.signal)
                                           : "?"));
  else if (ended)
    svc_json_w_string(&w,
                      apr_psprintf(p, "exited with code %d", s->last.code));
  else if (kind == SVC_EVK_STARTED || kind == SVC_EVK_RUNNING)
    svc_json_w_string(&w, "");
  else
    svc_json_w_string(&w, s->reason);
  svc_json_w_end_object(&w);
  if (svc_json_w_finish(&w, &out, &len) == APR_SUCCESS) {
    ring_add(sup, out, len);
    svc_control_event(sup, out, len);
  }
  apr_pool_destroy(p);
}
