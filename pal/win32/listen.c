/*
 * listen.c -- listeners of both kinds: TCP (AcceptEx, tcp.c) and local
 * stream servers (ConnectNamedPipe, pipe.c).
 *
 * Map:
 *   1. the listener's state: new, free, close
 *   2. slots: arming them, and their packets
 *   3. listen and accept
 *
 * A listener keeps slots in flight -- AcceptEx operations, or pipe
 * instances in ConnectNamedPipe -- and queues the connected ones in a
 * ready FIFO.  conn_cb is called once per ready connection while the
 * owner takes them; one it leaves waits for pal_io_accept().  A failure
 * that leaves no slot in flight is posted to the read side, so that it
 * reaches conn_cb and the next try happens, as a level-triggered POSIX
 * listener reports a failing accept() each iteration.
 */
#include "io_win32.h"

#include <stdlib.h>

/* ---- 1. the listener's state -------------------------------------------- */

listener_t *pal__listener_new(pal_io_t *io, unsigned nslots) {
  listener_t *l;
  unsigned i;
  l = calloc(1, sizeof *l + nslots * sizeof(slot_t));
  if (!l)
    return NULL;
  l->nslots = nslots;
  l->lsock = INVALID_SOCKET;
  for (i = 0; i < nslots; i++) {
    l->slots[i].io = io;
    l->slots[i].fd = PAL_INVALID_FD;
  }
  return l;
}

void pal__listener_free(listener_t *l) {
  free(l->path);
  free(l->name);
  free(l);
}

void pal__slot_close(pal_io_t *io, slot_t *s) {
  if (s->fd == PAL_INVALID_FD)
    return;
  if (io->kind == PAL_IO_TCP) {
    closesocket((SOCKET)s->fd);
  } else {
    CancelIoEx((HANDLE)s->fd, NULL);
    CloseHandle((HANDLE)s->fd);
  }
  s->fd = PAL_INVALID_FD;
}

/* pal_io_close() of a listener: its slots' sockets or instances, in
 * flight or ready and not taken, are closed (what is in flight ends with
 * a packet), and the ready FIFO is emptied. */
void pal__listener_close(pal_io_t *io) {
  listener_t *l;
  unsigned i;
  if ((io->flags & PAL__F_SYNC) || (l = LST(io)) == NULL)
    return;
  for (i = 0; i < l->nslots; i++)
    pal__slot_close(io, &l->slots[i]);
  l->ready_head = l->ready_tail = NULL;
}

/* ---- 2. slots ----------------------------------------------------------- */

static const char *accept_call(const pal_io_t *io) {
  return io->kind == PAL_IO_TCP ? "AcceptEx" : "ConnectNamedPipe";
}

/* Start a slot's operation.  0 when it is in flight (or its result is
 * posted), else the error (the slot stays idle). */
static DWORD slot_post(pal_io_t *io, slot_t *s) {
  return io->kind == PAL_IO_TCP ? pal__tcp_slot_post(io, s)
                                : pal__pipe_slot_post(io, s);
}

/* Start every idle slot.  If none is left in flight, nothing would ever
 * report the failure: with `report`, post it to the read side, where it
 * reaches conn_cb (and the next try happens), as a level-triggered POSIX
 * listener reports a failing accept() each iteration.  Without, return
 * it. */
static DWORD listener_arm_err(pal_io_t *io) {
  listener_t *l = LST(io);
  unsigned i, posted = 0;
  DWORD err = 0;
  for (i = 0; i < l->nslots; i++) {
    slot_t *s = &l->slots[i];
    if (s->state == PAL__SLOT_IDLE) {
      DWORD e = slot_post(io, s);
      if (e && !err)
        err = e;
    }
    if (s->state == PAL__SLOT_POSTED)
      posted++;
  }
  return posted ? 0 : err;
}

static void listener_arm(pal_io_t *io, int report) {
  DWORD e;
  if (io->flags & PAL__F_CLOSED)
    return;
  e = listener_arm_err(io);
  if (e && report && !(io->flags & PAL__F_RPOSTED) &&
      pal__io_post(io, &IOS(io)->rov, PAL__OV_READ, e) == 0)
    io->flags |= PAL__F_RPOSTED;
}

/* Tell the owner about ready connections, one conn_cb each, while it
 * takes them; one it leaves waits for pal_io_accept(). */
static void listener_announce(pal_io_t *io) {
  listener_t *l = LST(io);
  l->announcing = 1;
  while ((io->flags & PAL__F_LISTENING) && l->ready_head && !l->announced) {
    l->announced = 1;
    io->conn_cb(io, APR_SUCCESS);
  }
  if (!(io->flags & PAL__F_CLOSED))
    l->announcing = 0;   /* else l may be freed already */
}

/* A slot's packet: a connection for the ready FIFO, or a failure its
 * kind has dealt with; then the slots are armed again. */
static void slot_done(pal_io_t *io, slot_t *s, DWORD err, int posted) {
  listener_t *l = LST(io);
  s->state = PAL__SLOT_IDLE;
  if (io->flags & PAL__F_CLOSED) {
    pal__slot_close(io, s);
    return;
  }
  if (io->kind == PAL_IO_TCP ? pal__tcp_slot_failed(io, s, err, posted)
                             : pal__pipe_slot_failed(io, s, err)) {
    listener_arm(io, 1);
    return;
  }
  s->state = PAL__SLOT_READY;
  s->next = NULL;
  if (l->ready_tail)
    l->ready_tail->next = s;
  else
    l->ready_head = s;
  l->ready_tail = s;
  listener_announce(io);
  listener_arm(io, 1);
}

/* The read-side packet of a listener, posted by it: an error for
 * conn_cb, or more to tell. */
void pal__listener_packet(pal_io_t *io, DWORD err) {
  if (err) {
    io->conn_cb(io, pal__os_fail(accept_call(io), err));
    listener_arm(io, 1);
  } else {
    listener_announce(io);
  }
}

/* The packet of an accept slot. */
void pal__slot_packet(slot_t *s, DWORD err, int posted) {
  slot_done(s->io, s, err, posted);
}

/* ---- 3. listen and accept ----------------------------------------------- */

apr_status_t pal_io_listen(pal_io_t *io, int backlog, pal_conn_cb cb) {
  listener_t *l;
  DWORD e;
  apr_status_t rv;
  if (io->flags & PAL__F_CLOSED)
    return PAL_ECLOSING;
  if (io->flags & PAL__F_LISTENING) {
    io->conn_cb = cb;
    return APR_SUCCESS;
  }
  if (io->kind == PAL_IO_UNIX) {
    if (!(l = LST(io)))
      return APR_EINVAL;   /* not bound */
    pal__pipe_listen(io, backlog);
  } else if (io->kind == PAL_IO_TCP) {
    if ((rv = pal__tcp_listen(io, backlog, &l)) != APR_SUCCESS)
      return rv;
    IOS(io)->ext = l;
  } else {
    return APR_ENOTSOCK;
  }
  io->conn_cb = cb;
  io->flags |= PAL__F_LISTENING;
  if ((e = listener_arm_err(io)) == 0)
    return APR_SUCCESS;
  /* Nothing could be started: fail the call, not a later callback. */
  rv = pal__os_fail(accept_call(io), e);
  io->flags &= ~PAL__F_LISTENING;
  if (io->kind == PAL_IO_TCP) {
    unsigned i;
    for (i = 0; i < l->nslots; i++)
      pal__slot_close(io, &l->slots[i]);
    pal__listener_free(l);
    IOS(io)->ext = NULL;
  }
  return rv;
}

apr_status_t pal_io_accept(pal_io_t *server, pal_io_t *client) {
  listener_t *l = LST(server);
  slot_t *s;
  pal_fd_t fd;
  apr_status_t rv = APR_SUCCESS;
  if (!(server->flags & PAL__F_LISTENING) || !l || !(s = l->ready_head))
    return APR_EAGAIN;
  l->ready_head = s->next;
  if (!l->ready_head)
    l->ready_tail = NULL;
  s->next = NULL;
  s->state = PAL__SLOT_IDLE;
  l->announced = 0;
  fd = s->fd;
  s->fd = PAL_INVALID_FD;
  pal__io_init(client, server->poll, server->kind, fd);
  if (server->kind == PAL_IO_TCP)
    rv = pal__tcp_accepted(client, fd);
  /* A pipe instance joined the port with the listener's key when it was
   * created; packets are routed by their tags, so it stays. */
  listener_arm(server, 1);
  if (l->ready_head && !l->announcing && !(server->flags & PAL__F_RPOSTED) &&
      pal__io_post(server, &IOS(server)->rov, PAL__OV_READ, 0) == 0)
    server->flags |= PAL__F_RPOSTED;   /* announce the next one */
  return rv;
}
