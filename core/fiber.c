/*
 * fiber.c -- fibers: green threads over the loop, in blocking style.
 *
 * Map:
 *   1. the scheduler: resume, park, wake, the per-fiber timer
 *   2. create, finish, join, shutdown
 *   3. per-handle state (a stream's reader, a listener's acceptors, a
 *      channel's receivers), kept in a table keyed by the handle
 *   4. the blocking calls: sleep, yield, connect, accept, read, write,
 *      channel send and receive
 *
 * Model (asymmetric coroutines).  Whoever resumes a fiber -- the loop's
 * own stack in a callback, or another fiber -- is its `caller`, and the
 * fiber parks by switching back to it.  A completion callback that runs on
 * the loop's stack (t_current == NULL) resumes its fiber directly, so a
 * blocking read costs what a read callback costs plus two context
 * switches.  A wake-up from anywhere else (a fiber, a cancellation, a
 * handle being closed) is deferred: the fiber's timer is started with
 * timeout 0 and resumes it on the loop's next timer pass.  The same
 * timer runs sleeps and yields and starts new fibers, so each fiber owns
 * exactly one handle, and the loop stays alive exactly while some fiber
 * is runnable or sleeping or some request a fiber waits on is pending.
 *
 * Invariants:
 *   - t_current is the fiber running on this thread, NULL on the loop's
 *     own stack.  Only the running fiber parks itself.
 *   - A parked fiber has `cancel` set (how to withdraw its wait) unless it
 *     is READY (its timer is started and will resume it).  A wake clears
 *     `cancel` first, so a fiber is woken at most once per wait.
 *   - Requests a fiber submits (connect, the remainder of a write) are
 *     malloc'ed with a back-pointer to the fiber, which a cancellation
 *     clears: the request completes later, into nobody, and frees itself.
 *     So a cancelled call returns at once and nothing refers to the
 *     fiber's stack afterwards.
 *   - A fiber's stack is released as soon as it has switched away for the
 *     last time; the vg_fiber_t (and its timer) when it is joined or, if
 *     detached, when it ends -- the timer's close_cb frees the memory.
 */
#include "internal.h"
#include "vigil_fiber.h"
#include "pal_fiber.h"

#include <apr_hash.h>
#include <stdlib.h>
#include <string.h>

enum { F_READY = 1, F_RUNNING, F_PARKED, F_DONE };

struct vg_fiber_s {
  vg_timer_t timer;             /* start, yield, sleep, deferred wake */
  struct vg__fibers_s *sched;
  pal_fiber_t *ctx;             /* NULL once done */
  pal_fiber_t *caller;          /* who resumed it: where it parks to */
  void (*fn)(void *arg);
  void *arg;
  vg_fiber_t *next, *prev;      /* the loop's fibers */
  vg_fiber_t *wnext;            /* a wait queue (acceptors, receivers) */
  int state;
  int detached;
  vg_fiber_t *joiner;
  /* the current wait */
  void (*cancel)(vg_fiber_t *f);
  void *wait;                   /* what it waits on (wait-specific) */
  apr_status_t status;          /* what the wake says */
  size_t n;                     /* read: the bytes read */
  void *msg;                    /* chan: the message */
};

typedef struct vg__fibers_s {
  vg_loop_t *loop;
  vg_fiber_t *all;
  unsigned count;
  int shutdown;
  apr_hash_t *hstates;          /* vg_handle_t * -> hstate_t * */
  struct hstate_s *recent[16];  /* in front of hstates: by handle address */
} sched_t;

static _Thread_local vg_fiber_t *t_current;

/* ---- 1. the scheduler ------------------------------------------------- */

static void fiber_finished(vg_fiber_t *f);

static void resume(vg_fiber_t *f) {
  vg_fiber_t *prev = t_current;
  pal_fiber_t *from = prev != NULL ? prev->ctx : pal_fiber_thread();

  f->caller = from;
  f->state = F_RUNNING;
  t_current = f;
  pal_fiber_switch(from, f->ctx);
  t_current = prev;
  if (f->state == F_DONE)
    fiber_finished(f);
}

/* The running fiber f waits; returns the status its wake gives. */
static apr_status_t park(vg_fiber_t *f) {
  f->state = F_PARKED;
  pal_fiber_switch(f->ctx, f->caller);
  return f->status;
}

static void on_timer(vg_timer_t *timer) {
  vg_fiber_t *f = (vg_fiber_t *)timer;
  f->cancel = NULL;
  f->wait = NULL;
  resume(f);
}

/* Resume f on the next timer pass. */
static void schedule(vg_fiber_t *f, apr_status_t status) {
  f->cancel = NULL;
  f->wait = NULL;
  f->status = status;
  f->state = F_READY;
  vg_timer_start(&f->timer, on_timer, 0, 0);
}

/* The wait of f is over: resume it now if we are on the loop's stack,
 * otherwise on the next timer pass. */
static void wake(vg_fiber_t *f, apr_status_t status) {
  if (t_current != NULL) {
    schedule(f, status);
    return;
  }
  f->cancel = NULL;
  f->wait = NULL;
  f->status = status;
  resume(f);
}

/* Park the running fiber in a wait that `cancel` can withdraw. */
static apr_status_t wait_on(vg_fiber_t *f, void (*cancel)(vg_fiber_t *),
                            void *what) {
  f->cancel = cancel;
  f->wait = what;
  return park(f);
}

/* ---- 2. create, finish, join, shutdown -------------------------------- */

static sched_t *sched_get(vg_loop_t *loop) {
  sched_t *s = loop->fibers;
  if (s == NULL) {
    s = apr_pcalloc(vg_loop_pool(loop), sizeof *s);
    s->loop = loop;
    s->hstates = apr_hash_make(vg_loop_pool(loop));
    loop->fibers = s;
  }
  return s;
}

static void fiber_main(void *arg) {
  vg_fiber_t *f = arg;
  f->fn(f->arg);
  f->state = F_DONE;
  if (f->joiner != NULL && f->joiner->cancel != NULL)
    schedule(f->joiner, APR_SUCCESS);
  pal_fiber_switch_final(f->ctx, f->caller);
}

static void free_fiber(vg_handle_t *h) { free(h); }

static void release(vg_fiber_t *f) {
  sched_t *s = f->sched;
  if (f->prev != NULL)
    f->prev->next = f->next;
  else
    s->all = f->next;
  if (f->next != NULL)
    f->next->prev = f->prev;
  s->count--;
  vg_close((vg_handle_t *)&f->timer, free_fiber);
  if (s->count == 0 && t_current == NULL)
    pal_fiber_thread_release();
}

/* f has switched away for the last time (we are on its caller's stack). */
static void fiber_finished(vg_fiber_t *f) {
  pal_fiber_destroy(f->ctx);
  f->ctx = NULL;
  if (f->detached)
    release(f);
}

apr_status_t vg_fiber_create(vg_loop_t *loop, vg_fiber_t **out,
                             void (*fn)(void *arg), void *arg,
                             size_t stack_size) {
  sched_t *s;
  vg_fiber_t *f;
  apr_status_t rv;

  if (loop == NULL || fn == NULL)
    return APR_EINVAL;
  s = sched_get(loop);
  if (s->shutdown)
    return VG_ECANCELED;
  /* The thread's own context, which the first switch leaves from (on
   * Windows the thread becomes a fiber here, or we fail here). */
  if (pal_fiber_thread() == NULL)
    return APR_ENOMEM;
  f = calloc(1, sizeof *f);
  if (f == NULL)
    return APR_ENOMEM;
  rv = pal_fiber_create(&f->ctx, stack_size ? stack_size
                                            : VG_FIBER_STACK_DEFAULT,
                        fiber_main, f);
  if (rv != APR_SUCCESS) {
    free(f);
    return rv;
  }
  vg_timer_init(loop, &f->timer);
  f->timer.hflags |= VG__INTERNAL;   /* not the caller's: vg_walk hides it */
  f->sched = s;
  f->fn = fn;
  f->arg = arg;
  f->detached = out == NULL;
  f->next = s->all;
  if (s->all != NULL)
    s->all->prev = f;
  s->all = f;
  s->count++;
  schedule(f, APR_SUCCESS);
  if (out != NULL)
    *out = f;
  return APR_SUCCESS;
}

vg_fiber_t *vg_fiber_self(void) { return t_current; }

static void cancel_join(vg_fiber_t *f) {
  vg_fiber_t *target = f->wait;
  target->joiner = NULL;
  target->detached = 1;
  schedule(f, VG_ECANCELED);
}

apr_status_t vg_fiber_join(vg_fiber_t *target) {
  vg_fiber_t *f = t_current;
  apr_status_t rv;

  if (f == NULL || target == NULL || target == f || target->detached ||
      target->joiner != NULL || target->sched != f->sched)
    return APR_EINVAL;
  if (target->state != F_DONE) {
    if (f->sched->shutdown) {
      target->detached = 1;
      return VG_ECANCELED;
    }
    target->joiner = f;
    rv = wait_on(f, cancel_join, target);
    if (rv != APR_SUCCESS)
      return rv;
  }
  release(target);
  return APR_SUCCESS;
}

void vg_fiber_shutdown(vg_loop_t *loop) {
  sched_t *s = sched_get(loop);
  vg_fiber_t *f;

  s->shutdown = 1;
  for (f = s->all; f != NULL; f = f->next)
    if (f->state == F_PARKED && f->cancel != NULL)
      f->cancel(f);
}

unsigned vg_fiber_count(const vg_loop_t *loop) {
  return loop->fibers != NULL ? loop->fibers->count : 0;
}

const char *vg_fiber_impl(void) { return pal_fiber_impl(); }

/* ---- 3. per-handle state ---------------------------------------------- */

typedef struct hstate_s {
  vg_handle_t *h;
  /* a stream being read */
  vg_fiber_t *reader;
  void *rbuf;
  size_t rlen;
  /* a listener: fibers waiting in accept, connections not yet taken */
  vg_fiber_t *acc_head, *acc_tail;
  unsigned pending;
  apr_status_t acc_error;
  /* a fiber channel: receivers, and messages nobody waited for yet */
  vg_fiber_t *rcv_head, *rcv_tail;
  void **msgs;
  size_t mhead, mcount, mcap;
} hstate_t;

/* The slot of `recent` for h: handles are at least 64 bytes apart. */
#define RECENT(s, h) ((s)->recent[((uintptr_t)(h) >> 6) & 15])

/* A stream being read is looked up three times per read; the small
 * direct-mapped `recent` table spares the hash most of them. */
static hstate_t *hstate_find(const vg_handle_t *h) {
  sched_t *s = h->loop->fibers;
  hstate_t *st;
  if (s == NULL || !(h->hflags & VG__FIBER))
    return NULL;
  st = RECENT(s, h);
  if (st != NULL && st->h == h)
    return st;
  st = apr_hash_get(s->hstates, &h, sizeof h);
  RECENT(s, h) = st;
  return st;
}

static hstate_t *hstate_get(vg_handle_t *h) {
  hstate_t *st = hstate_find(h);
  if (st != NULL)
    return st;
  st = calloc(1, sizeof *st);
  if (st == NULL)
    return NULL;
  st->h = h;
  apr_hash_set(sched_get(h->loop)->hstates, &st->h, sizeof st->h, st);
  h->hflags |= VG__FIBER;
  return st;
}

static void queue_push(vg_fiber_t **head, vg_fiber_t **tail, vg_fiber_t *f) {
  f->wnext = NULL;
  if (*tail != NULL)
    (*tail)->wnext = f;
  else
    *head = f;
  *tail = f;
}

static vg_fiber_t *queue_pop(vg_fiber_t **head, vg_fiber_t **tail) {
  vg_fiber_t *f = *head;
  if (f != NULL) {
    *head = f->wnext;
    if (*head == NULL)
      *tail = NULL;
  }
  return f;
}

static void queue_remove(vg_fiber_t **head, vg_fiber_t **tail,
                         vg_fiber_t *f) {
  vg_fiber_t **pp, *prev = NULL;
  for (pp = head; *pp != NULL; prev = *pp, pp = &(*pp)->wnext)
    if (*pp == f) {
      *pp = f->wnext;
      if (*tail == f)
        *tail = prev;
      return;
    }
}

/* vg_close() of a handle with fiber state: every fiber blocked on it
 * leaves with VG_ECLOSING; messages nobody received go to drop_cb first
 * (they were sent before anything still in the ring, which the channel
 * drops next). */
void vg__fiber_handle_closing(vg_handle_t *h) {
  hstate_t *st = hstate_find(h);
  vg_fiber_t *f;

  h->hflags &= ~VG__FIBER;
  if (st == NULL)
    return;
  apr_hash_set(h->loop->fibers->hstates, &st->h, sizeof st->h, NULL);
  if (RECENT(h->loop->fibers, h) == st)
    RECENT(h->loop->fibers, h) = NULL;
  if (st->reader != NULL)
    schedule(st->reader, VG_ECLOSING);
  while ((f = queue_pop(&st->acc_head, &st->acc_tail)) != NULL)
    schedule(f, VG_ECLOSING);
  while ((f = queue_pop(&st->rcv_head, &st->rcv_tail)) != NULL)
    schedule(f, VG_ECLOSING);
  if (h->type == VG_CHAN) {
    vg_chan_t *chan = (vg_chan_t *)h;
    for (; st->mcount > 0; st->mcount--) {
      void *msg = st->msgs[st->mhead];
      st->mhead = (st->mhead + 1) % st->mcap;
      if (chan->drop_cb != NULL)
        chan->drop_cb(chan, msg);
    }
  }
  free(st->msgs);
  free(st);
}

/* ---- 4. the blocking calls -------------------------------------------- */

/* Common entry checks: a fiber, and no shutdown. */
static apr_status_t enter(vg_fiber_t **f) {
  *f = t_current;
  if (*f == NULL)
    return APR_EINVAL;
  if ((*f)->sched->shutdown)
    return VG_ECANCELED;
  return APR_SUCCESS;
}

/* ... and a handle to wait on, not closing. */
static apr_status_t enter_on(vg_fiber_t **f, const void *h) {
  apr_status_t rv = enter(f);
  if (rv != APR_SUCCESS)
    return rv;
  if (h == NULL)
    return APR_EINVAL;
  return vg__is_closing((const vg_handle_t *)h) ? VG_ECLOSING : APR_SUCCESS;
}

void vg_fiber_yield(void) {
  vg_fiber_t *f = t_current;
  if (f == NULL)
    return;
  schedule(f, APR_SUCCESS);
  (void)park(f);
}

static void cancel_sleep(vg_fiber_t *f) { schedule(f, VG_ECANCELED); }

apr_status_t vg_fiber_sleep(uint64_t ms) {
  vg_fiber_t *f;
  apr_status_t rv = enter(&f);
  if (rv != APR_SUCCESS)
    return rv;
  f->status = APR_SUCCESS;
  vg_timer_start(&f->timer, on_timer, ms, 0);
  return wait_on(f, cancel_sleep, NULL);
}

/* A request that may outlive the call that made it (see the top). */
typedef struct {
  vg_fiber_t *fiber;            /* NULL once the call was cancelled */
  union {
    vg_connect_t connect;
    vg_write_t write;
  } u;
  char data[];                  /* write: the bytes not written at once */
} req_t;

static void cancel_req(vg_fiber_t *f) {
  ((req_t *)f->wait)->fiber = NULL;
  schedule(f, VG_ECANCELED);
}

static void req_done(req_t *r, apr_status_t status) {
  vg_fiber_t *f = r->fiber;
  free(r);
  if (f != NULL)
    wake(f, status);
}

static void on_connect(vg_connect_t *req, apr_status_t status) {
  req_done(req->data, status);
}

apr_status_t vg_fiber_tcp_connect(vg_tcp_t *tcp, const vg_addr_t *addr) {
  vg_fiber_t *f;
  req_t *r;
  apr_status_t rv = enter(&f);

  if (rv != APR_SUCCESS)
    return rv;
  if (tcp == NULL || addr == NULL)
    return APR_EINVAL;
  r = calloc(1, sizeof *r);
  if (r == NULL)
    return APR_ENOMEM;
  r->fiber = f;
  r->u.connect.data = r;
  rv = vg_tcp_connect(&r->u.connect, tcp, addr, on_connect);
  if (rv != APR_SUCCESS) {
    free(r);
    return rv;
  }
  return wait_on(f, cancel_req, r);
}

static void on_write(vg_write_t *req, apr_status_t status) {
  req_done(req->data, status);
}

apr_status_t vg_fiber_write(vg_stream_t *s, const void *buf, size_t len) {
  vg_fiber_t *f;
  vg_buf_t b;
  size_t done = 0;
  req_t *r;
  apr_status_t rv = enter(&f);

  if (rv != APR_SUCCESS)
    return rv;
  if (s == NULL || (buf == NULL && len > 0))
    return APR_EINVAL;
  if (len == 0)
    return APR_SUCCESS;
  /* Nothing queued ahead: most writes go out here, with no request. */
  if (s->write_queue_count == 0) {
    b.base = (char *)buf;
    b.len = len;
    rv = vg_try_write(s, &b, 1, &done);
    if (rv == APR_SUCCESS && done == len)
      return APR_SUCCESS;
    if (rv != APR_SUCCESS && rv != APR_EAGAIN)
      return rv;
  }
  r = malloc(sizeof *r + (len - done));
  if (r == NULL)
    return APR_ENOMEM;
  memset(r, 0, sizeof *r);
  memcpy(r->data, (const char *)buf + done, len - done);
  r->fiber = f;
  r->u.write.data = r;
  b.base = r->data;
  b.len = len - done;
  rv = vg_write(&r->u.write, s, &b, 1, on_write);
  if (rv != APR_SUCCESS) {
    free(r);
    return rv;
  }
  return wait_on(f, cancel_req, r);
}

/* Reading: the stream keeps reading between two vg_fiber_read() calls
 * of a fiber that is resumed from the read callback and reads again
 * before it parks elsewhere (the usual loop), so a steady stream costs no
 * re-registration with the poller; otherwise reading stops when the
 * fiber's wait ends. */
static void on_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  hstate_t *st = hstate_find(h);
  (void)suggested;
  buf->base = NULL;
  buf->len = 0;
  if (st != NULL && st->reader != NULL) {
    buf->base = st->rbuf;
    buf->len = st->rlen;
  }
}

static void on_read(vg_stream_t *s, apr_status_t status, size_t nread,
                    const vg_buf_t *buf) {
  hstate_t *st = hstate_find((vg_handle_t *)s);
  vg_fiber_t *f = st != NULL ? st->reader : NULL;

  (void)buf;
  if (f != NULL && status == APR_SUCCESS && nread == 0)
    return;                     /* nothing yet: keep waiting */
  if (f != NULL) {
    st->reader = NULL;
    f->n = nread;
    wake(f, status);
    st = hstate_find((vg_handle_t *)s);   /* it may have closed s */
  }
  if (st == NULL || st->reader == NULL)
    vg_read_stop(s);
}

static void cancel_read(vg_fiber_t *f) {
  hstate_t *st = f->wait;
  st->reader = NULL;
  vg_read_stop((vg_stream_t *)st->h);
  schedule(f, VG_ECANCELED);
}

apr_status_t vg_fiber_read(vg_stream_t *s, void *buf, size_t len,
                           size_t *nread) {
  vg_fiber_t *f;
  hstate_t *st;
  apr_status_t rv = enter_on(&f, s);

  if (nread != NULL)
    *nread = 0;
  if (rv != APR_SUCCESS)
    return rv;
  if (buf == NULL && len > 0)
    return APR_EINVAL;
  if (len == 0)
    return APR_SUCCESS;
  st = hstate_get((vg_handle_t *)s);
  if (st == NULL)
    return APR_ENOMEM;
  if (st->reader != NULL)
    return PAL_EBUSY;
  st->reader = f;
  st->rbuf = buf;
  st->rlen = len;
  if (!(s->sflags & VG__S_READING) || s->read_cb != on_read) {
    rv = vg_read_start(s, on_alloc, on_read);
    if (rv != APR_SUCCESS) {
      st->reader = NULL;
      return rv;
    }
  }
  f->n = 0;
  rv = wait_on(f, cancel_read, st);
  if (nread != NULL)
    *nread = f->n;
  return rv;
}

static void on_connection(vg_stream_t *server, apr_status_t status) {
  hstate_t *st = hstate_find((vg_handle_t *)server);
  vg_fiber_t *f;

  if (st == NULL)
    return;
  if (status == APR_SUCCESS)
    st->pending++;
  else
    st->acc_error = status;
  f = queue_pop(&st->acc_head, &st->acc_tail);
  if (f != NULL)
    wake(f, APR_SUCCESS);
}

static void cancel_accept(vg_fiber_t *f) {
  hstate_t *st = f->wait;
  queue_remove(&st->acc_head, &st->acc_tail, f);
  schedule(f, VG_ECANCELED);
}

apr_status_t vg_fiber_listen(vg_stream_t *server, int backlog) {
  hstate_t *st;
  if (server == NULL)
    return APR_EINVAL;
  if (server->sflags & VG__S_LISTENING)
    return server->connection_cb == on_connection ? APR_SUCCESS : APR_EINVAL;
  st = hstate_get((vg_handle_t *)server);
  if (st == NULL)
    return APR_ENOMEM;
  return vg_listen(server, backlog, on_connection);
}

apr_status_t vg_fiber_accept(vg_stream_t *server, vg_stream_t *client) {
  vg_fiber_t *f;
  hstate_t *st;
  apr_status_t rv = enter_on(&f, server);

  if (rv != APR_SUCCESS)
    return rv;
  if (client == NULL)
    return APR_EINVAL;
  rv = vg_fiber_listen(server, VG_FIBER_BACKLOG);
  if (rv != APR_SUCCESS)
    return rv;
  st = hstate_find((vg_handle_t *)server);
  for (;;) {
    if (st->pending > 0) {
      st->pending--;
      rv = vg_accept(server, client);
      if (rv != APR_EAGAIN)
        return rv;
      continue;
    }
    if (st->acc_error != APR_SUCCESS) {
      rv = st->acc_error;
      st->acc_error = APR_SUCCESS;
      return rv;
    }
    queue_push(&st->acc_head, &st->acc_tail, f);
    rv = wait_on(f, cancel_accept, st);
    if (rv != APR_SUCCESS)
      return rv;   /* cancelled or closing: st may be gone */
    /* Woken by a connection (or an error) for us: take it.  If the
     * listener has been closed meanwhile, st is gone. */
    st = hstate_find((vg_handle_t *)server);
    if (st == NULL)
      return VG_ECLOSING;
  }
}

/* Channels. */
static void on_message(vg_chan_t *chan, void *msg) {
  hstate_t *st = hstate_find((vg_handle_t *)chan);
  vg_fiber_t *f;
  void **ring;
  size_t cap, i;

  if (st == NULL)
    return;   /* unreachable: the state lives until the channel closes */
  f = queue_pop(&st->rcv_head, &st->rcv_tail);
  if (f != NULL) {
    f->msg = msg;
    wake(f, APR_SUCCESS);
    return;
  }
  if (st->mcount == st->mcap) {
    cap = st->mcap ? st->mcap * 2 : 16;
    ring = malloc(cap * sizeof *ring);
    if (ring == NULL) {
      /* Keep the exactly-once promise: drop what cannot be held. */
      if (chan->drop_cb != NULL)
        chan->drop_cb(chan, msg);
      return;
    }
    for (i = 0; i < st->mcount; i++)
      ring[i] = st->msgs[(st->mhead + i) % st->mcap];
    free(st->msgs);
    st->msgs = ring;
    st->mcap = cap;
    st->mhead = 0;
  }
  st->msgs[(st->mhead + st->mcount++) % st->mcap] = msg;
}

apr_status_t vg_fiber_chan_init(vg_loop_t *loop, vg_chan_t *chan,
                                size_t bound) {
  apr_status_t rv = vg_chan_init(loop, chan, bound, on_message);
  if (rv != APR_SUCCESS)
    return rv;
  if (hstate_get((vg_handle_t *)chan) == NULL) {
    vg_close((vg_handle_t *)chan, NULL);
    return APR_ENOMEM;
  }
  return APR_SUCCESS;
}

static void cancel_recv(vg_fiber_t *f) {
  hstate_t *st = f->wait;
  queue_remove(&st->rcv_head, &st->rcv_tail, f);
  schedule(f, VG_ECANCELED);
}

apr_status_t vg_fiber_chan_recv(vg_chan_t *c, void **msg) {
  vg_fiber_t *f;
  hstate_t *st;
  apr_status_t rv = enter_on(&f, c);

  if (rv != APR_SUCCESS)
    return rv;
  if (msg == NULL)
    return APR_EINVAL;
  if (c->cb != on_message || (st = hstate_find((vg_handle_t *)c)) == NULL)
    return APR_EINVAL;
  if (st->mcount > 0) {
    *msg = st->msgs[st->mhead];
    st->mhead = (st->mhead + 1) % st->mcap;
    st->mcount--;
    return APR_SUCCESS;
  }
  queue_push(&st->rcv_head, &st->rcv_tail, f);
  f->msg = NULL;
  rv = wait_on(f, cancel_recv, st);
  if (rv == APR_SUCCESS)
    *msg = f->msg;
  return rv;
}

apr_status_t vg_fiber_chan_send(vg_chan_t *c, void *msg) {
  vg_fiber_t *f;
  unsigned tries = 0;
  apr_status_t rv = enter(&f);

  if (rv != APR_SUCCESS)
    return rv;
  if (c == NULL)
    return APR_EINVAL;
  /* A full ring is emptied by its consumer's loop: this loop's next
   * iteration if the channel is ours (a few yields), another thread's
   * otherwise (then back off to 1 ms naps rather than spin). */
  while ((rv = vg_chan_try_send(c, msg)) == VG_EQUEUEFULL) {
    if (tries++ < 8) {
      vg_fiber_yield();
      if (f->sched->shutdown)
        return VG_ECANCELED;
    } else if ((rv = vg_fiber_sleep(1)) != APR_SUCCESS) {
      return rv;
    }
  }
  return rv;
}
