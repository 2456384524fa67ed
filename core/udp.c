/*
 * udp.c -- datagram sockets: UDP over IPv4/IPv6 and local (Unix)
 * datagram sockets, the transport of the systemd notify protocol.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

apr_status_t vg_udp_init(vg_loop_t *loop, vg_udp_t *udp, int family) {
  apr_status_t rv;
  int kind = family == PAL_AF_UNIX ? PAL_IO_UNIXDGRAM : PAL_IO_UDP;
  memset(&udp->io, 0, sizeof udp->io);
  udp->io.data = udp;
  rv = pal_io_socket(&udp->io, loop->poll, kind, family);
  if (rv != APR_SUCCESS)
    return rv;
  vg__handle_init(loop, (vg_handle_t *)udp, VG_UDP);
  udp->alloc_cb = NULL;
  udp->recv_cb = NULL;
  udp->send_queue_size = 0;
  udp->send_queue_count = 0;
  return APR_SUCCESS;
}

apr_status_t vg_udp_bind(vg_udp_t *udp, const vg_addr_t *addr,
                         unsigned flags) {
  if (vg__is_closing(udp))
    return VG_ECLOSING;
  return pal_io_bind(&udp->io, addr, flags);
}

apr_status_t vg_udp_sockname(const vg_udp_t *udp, vg_addr_t *addr) {
  return pal_io_sockname(&udp->io, addr);
}

apr_status_t vg_udp_sender(const vg_udp_t *udp, long *pid, long *uid) {
  return pal_io_sender(&udp->io, pid, uid);
}

static void on_alloc(pal_io_t *io, size_t suggested, pal_buf_t *buf) {
  vg_udp_t *u = io->data;
  u->alloc_cb((vg_handle_t *)u, suggested, buf);
}

static void on_recv(pal_io_t *io, apr_status_t status, size_t nread,
                    const pal_buf_t *buf, const pal_addr_t *from) {
  vg_udp_t *u = io->data;
  u->recv_cb(u, status, nread, buf, from);
}

apr_status_t vg_udp_recv_start(vg_udp_t *udp, vg_alloc_cb alloc_cb,
                               vg_recv_cb recv_cb) {
  apr_status_t rv;
  if (!alloc_cb || !recv_cb)
    return APR_EINVAL;
  if (vg__is_closing(udp))
    return VG_ECLOSING;
  udp->alloc_cb = alloc_cb;
  udp->recv_cb = recv_cb;
  rv = pal_io_recv_start(&udp->io, on_alloc, on_recv);
  if (rv == APR_SUCCESS)
    vg__handle_start((vg_handle_t *)udp);
  return rv;
}

apr_status_t vg_udp_recv_stop(vg_udp_t *udp) {
  pal_io_recv_stop(&udp->io);
  vg__handle_stop((vg_handle_t *)udp);
  return APR_SUCCESS;
}

static void on_send(pal_req_t *r, apr_status_t status) {
  vg_send_t *req = r->data;
  vg_udp_t *u = req->handle;
  u->send_queue_size -= req->size;
  u->send_queue_count--;
  vg__req_unregister(u->loop);
  if (req->bufs != req->bufsml) {
    free(req->bufs);
    req->bufs = NULL;
  }
  if (req->cb)
    req->cb(req, status);
}

apr_status_t vg_udp_send(vg_send_t *req, vg_udp_t *udp, const vg_buf_t bufs[],
                         unsigned nbufs, const vg_addr_t *addr,
                         vg_send_cb cb) {
  apr_status_t rv;
  if (vg__is_closing(udp))
    return VG_ECLOSING;
  rv = vg__bufs_copy(&req->bufs, req->bufsml, bufs, nbufs);
  if (rv != APR_SUCCESS)
    return rv;
  if (addr)
    req->addr = *addr;
  req->handle = udp;
  req->cb = cb;
  req->req.data = req;
  rv = pal_io_send(&udp->io, &req->req, req->bufs, nbufs,
                   addr ? &req->addr : NULL, on_send);
  if (rv != APR_SUCCESS) {
    if (req->bufs != req->bufsml)
      free(req->bufs);
    return rv;
  }
  req->size = pal_req_pending_bytes(&req->req);
  udp->send_queue_size += req->size;
  udp->send_queue_count++;
  vg__req_register(udp->loop);
  return APR_SUCCESS;
}

void vg__udp_close(vg_udp_t *u) { pal_io_close(&u->io); }

int vg__udp_busy(const vg_udp_t *u) {
  return u->send_queue_count > 0 || pal_io_busy(&u->io);
}
