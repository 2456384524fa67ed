/*
 * stream.c -- TCP connections and pipes (local sockets, child stdio,
 * later Windows named pipes) over the PAL's completion-style pal_io_t.
 *
 * The stream handle is active while it reads or listens.  Requests
 * (write, connect, shutdown) count on the loop while pending, and a
 * closing stream stays out of the close phase until they have completed
 * (cancelled ones with VG_ECANCELED), so close_cb may free everything.
 *
 * write_queue_size counts the bytes that the PAL could not write at submit
 * time; a write that went through at once adds nothing.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void stream_init(vg_loop_t *loop, vg_stream_t *s, vg_handle_type t) {
  vg__handle_init(loop, (vg_handle_t *)s, t);
  memset(&s->io, 0, sizeof s->io);
  s->io.fd = PAL_INVALID_FD;
  s->io.data = s;
  s->alloc_cb = NULL;
  s->read_cb = NULL;
  s->connection_cb = NULL;
  s->write_queue_size = 0;
  s->write_queue_count = 0;
  s->sflags = 0;
}

apr_status_t vg_tcp_init(vg_loop_t *loop, vg_tcp_t *tcp) {
  stream_init(loop, tcp, VG_TCP);
  return APR_SUCCESS;
}

apr_status_t vg_pipe_init(vg_loop_t *loop, vg_pipe_t *pipe) {
  stream_init(loop, pipe, VG_PIPE);
  return APR_SUCCESS;
}

static apr_status_t ensure_socket(vg_stream_t *s, int kind, int family) {
  apr_status_t rv;
  if (s->sflags & VG__S_OPEN)
    return APR_SUCCESS;
  if (vg__is_closing(s))
    return VG_ECLOSING;
  rv = pal_io_socket(&s->io, s->loop->poll, kind, family);
  if (rv == APR_SUCCESS)
    s->sflags |= VG__S_OPEN;
  return rv;
}

apr_status_t vg_tcp_bind(vg_tcp_t *tcp, const vg_addr_t *addr,
                         unsigned flags) {
  apr_status_t rv = ensure_socket(tcp, PAL_IO_TCP, pal_addr_family(addr));
  if (rv != APR_SUCCESS)
    return rv;
  return pal_io_bind(&tcp->io, addr, flags | PAL_BIND_REUSEADDR);
}

apr_status_t vg__pipe_open(vg_pipe_t *pipe, pal_fd_t fd, int prepared) {
  apr_status_t rv;
  if (pipe->sflags & VG__S_OPEN)
    return PAL_EBUSY;
  rv = pal_io_open(&pipe->io, pipe->loop->poll,
                   PAL_IO_PIPE | (prepared ? PAL_IO_PREPARED : 0), fd);
  if (rv == APR_SUCCESS)
    pipe->sflags |= VG__S_OPEN;
  return rv;
}

apr_status_t vg_pipe_open(vg_pipe_t *pipe, pal_fd_t fd) {
  return vg__pipe_open(pipe, fd, 0);
}

apr_status_t vg_pipe_bind(vg_pipe_t *pipe, const char *path) {
  vg_addr_t addr;
  apr_status_t rv = pal_addr_local(&addr, path);
  if (rv != APR_SUCCESS)
    return rv;
  rv = ensure_socket(pipe, PAL_IO_UNIX, PAL_AF_UNIX);
  if (rv != APR_SUCCESS)
    return rv;
  return pal_io_bind(&pipe->io, &addr, 0);
}

static void on_connect(pal_req_t *r, apr_status_t status) {
  vg_connect_t *req = r->data;
  vg_stream_t *s = req->handle;
  s->sflags &= ~VG__S_CONNECTING;
  vg__req_unregister(s->loop);
  if (req->cb)
    req->cb(req, status);
}

static apr_status_t do_connect(vg_connect_t *req, vg_stream_t *s,
                               const vg_addr_t *addr, vg_connect_cb cb) {
  apr_status_t rv;
  req->handle = s;
  req->cb = cb;
  req->req.data = req;
  rv = pal_io_connect(&s->io, &req->req, addr, on_connect);
  if (rv != APR_SUCCESS)
    return rv;
  s->sflags |= VG__S_CONNECTING;
  vg__req_register(s->loop);
  return APR_SUCCESS;
}

apr_status_t vg_tcp_connect(vg_connect_t *req, vg_tcp_t *tcp,
                            const vg_addr_t *addr, vg_connect_cb cb) {
  apr_status_t rv = ensure_socket(tcp, PAL_IO_TCP, pal_addr_family(addr));
  if (rv != APR_SUCCESS)
    return rv;
  return do_connect(req, tcp, addr, cb);
}

apr_status_t vg_pipe_connect(vg_connect_t *req, vg_pipe_t *pipe,
                             const char *path, vg_connect_cb cb) {
  vg_addr_t addr;
  apr_status_t rv = pal_addr_local(&addr, path);
  if (rv != APR_SUCCESS)
    return rv;
  rv = ensure_socket(pipe, PAL_IO_UNIX, PAL_AF_UNIX);
  if (rv != APR_SUCCESS)
    return rv;
  return do_connect(req, pipe, &addr, cb);
}

apr_status_t vg_tcp_nodelay(vg_tcp_t *tcp, int on) {
  if (!(tcp->sflags & VG__S_OPEN))
    return APR_EBADF;
  return pal_io_nodelay(&tcp->io, on);
}

apr_status_t vg_tcp_sockname(const vg_tcp_t *tcp, vg_addr_t *addr) {
  if (!(tcp->sflags & VG__S_OPEN))
    return APR_EBADF;
  return pal_io_sockname(&tcp->io, addr);
}

apr_status_t vg_tcp_peername(const vg_tcp_t *tcp, vg_addr_t *addr) {
  if (!(tcp->sflags & VG__S_OPEN))
    return APR_EBADF;
  return pal_io_peername(&tcp->io, addr);
}

apr_status_t vg_pipe_peer_uid(const vg_pipe_t *pipe, long *uid) {
  if (!(pipe->sflags & VG__S_OPEN))
    return APR_EBADF;
  return pal_io_peer_uid(&pipe->io, uid);
}

apr_status_t vg_pipe_peer_trusted(const vg_pipe_t *pipe, int *trusted) {
  if (!(pipe->sflags & VG__S_OPEN))
    return APR_EBADF;
  return pal_io_peer_trusted(&pipe->io, trusted);
}

static void on_connection(pal_io_t *io, apr_status_t status) {
  vg_stream_t *s = io->data;
  if (s->connection_cb)
    s->connection_cb(s, status);
}

apr_status_t vg_listen(vg_stream_t *s, int backlog, vg_connection_cb cb) {
  apr_status_t rv;
  if (vg__is_closing(s))
    return VG_ECLOSING;
  if (!(s->sflags & VG__S_OPEN))
    return APR_EBADF;
  s->connection_cb = cb;
  rv = pal_io_listen(&s->io, backlog, on_connection);
  if (rv != APR_SUCCESS)
    return rv;
  s->sflags |= VG__S_LISTENING;
  vg__handle_start((vg_handle_t *)s);
  return APR_SUCCESS;
}

apr_status_t vg_accept(vg_stream_t *server, vg_stream_t *client) {
  apr_status_t rv;
  if (vg__is_closing(client) || vg__is_closing(server))
    return VG_ECLOSING;
  if (client->sflags & VG__S_OPEN)
    return PAL_EBUSY;
  rv = pal_io_accept(&server->io, &client->io);
  if (rv == APR_SUCCESS)
    client->sflags |= VG__S_OPEN;
  return rv;
}

static void on_alloc(pal_io_t *io, size_t suggested, pal_buf_t *buf) {
  vg_stream_t *s = io->data;
  s->alloc_cb((vg_handle_t *)s, suggested, buf);
}

static void on_read(pal_io_t *io, apr_status_t status, size_t nread,
                    const pal_buf_t *buf) {
  vg_stream_t *s = io->data;
  if (status != APR_SUCCESS) {
    s->sflags &= ~VG__S_READING;
    if (!(s->sflags & VG__S_LISTENING))
      vg__handle_stop((vg_handle_t *)s);
  }
  s->read_cb(s, status, nread, buf);
}

apr_status_t vg_read_start(vg_stream_t *s, vg_alloc_cb alloc_cb,
                           vg_read_cb read_cb) {
  apr_status_t rv;
  if (!alloc_cb || !read_cb)
    return APR_EINVAL;
  if (vg__is_closing(s))
    return VG_ECLOSING;
  if (!(s->sflags & VG__S_OPEN))
    return APR_EBADF;
  s->alloc_cb = alloc_cb;
  s->read_cb = read_cb;
  rv = pal_io_read_start(&s->io, on_alloc, on_read);
  if (rv != APR_SUCCESS)
    return rv;
  s->sflags |= VG__S_READING;
  vg__handle_start((vg_handle_t *)s);
  return APR_SUCCESS;
}

apr_status_t vg_read_stop(vg_stream_t *s) {
  if (!(s->sflags & VG__S_READING))
    return APR_SUCCESS;
  pal_io_read_stop(&s->io);
  s->sflags &= ~VG__S_READING;
  if (!(s->sflags & VG__S_LISTENING))
    vg__handle_stop((vg_handle_t *)s);
  return APR_SUCCESS;
}

static void on_write(pal_req_t *r, apr_status_t status) {
  vg_write_t *req = r->data;
  vg_stream_t *s = req->handle;
  s->write_queue_size -= req->size;
  s->write_queue_count--;
  vg__req_unregister(s->loop);
  if (req->bufs != req->bufsml) {
    free(req->bufs);
    req->bufs = NULL;
  }
  if (req->cb)
    req->cb(req, status);
}

apr_status_t vg__bufs_copy_many(vg_buf_t **out, vg_buf_t *small,
                                const vg_buf_t *bufs, unsigned nbufs) {
  if (nbufs <= VG_WRITE_BUFS_SMALL)
    *out = small;
  else if (!(*out = malloc(nbufs * sizeof *bufs)))
    return APR_ENOMEM;
  memcpy(*out, bufs, nbufs * sizeof *bufs);
  return APR_SUCCESS;
}

apr_status_t vg_write(vg_write_t *req, vg_stream_t *s, const vg_buf_t bufs[],
                      unsigned nbufs, vg_write_cb cb) {
  apr_status_t rv;
  if (vg__is_closing(s))
    return VG_ECLOSING;
  if (!(s->sflags & VG__S_OPEN))
    return APR_EBADF;
  rv = vg__bufs_copy(&req->bufs, req->bufsml, bufs, nbufs);
  if (rv != APR_SUCCESS)
    return rv;
  req->handle = s;
  req->cb = cb;
  req->req.data = req;
  rv = pal_io_write(&s->io, &req->req, req->bufs, nbufs, on_write);
  if (rv != APR_SUCCESS) {
    if (req->bufs != req->bufsml)
      free(req->bufs);
    return rv;
  }
  req->size = pal_req_pending_bytes(&req->req);
  s->write_queue_size += req->size;
  s->write_queue_count++;
  vg__req_register(s->loop);
  return APR_SUCCESS;
}

apr_status_t vg_try_write(vg_stream_t *s, const vg_buf_t bufs[],
                          unsigned nbufs, size_t *written) {
  *written = 0;
  if (vg__is_closing(s))
    return VG_ECLOSING;
  if (!(s->sflags & VG__S_OPEN))
    return APR_EBADF;
  return pal_io_try_write(&s->io, bufs, nbufs, written);
}

static void on_shutdown(pal_req_t *r, apr_status_t status) {
  vg_shutdown_req_t *req = r->data;
  vg_stream_t *s = req->handle;
  s->sflags &= ~VG__S_SHUTTING;
  vg__req_unregister(s->loop);
  if (req->cb)
    req->cb(req, status);
}

apr_status_t vg_shutdown(vg_shutdown_req_t *req, vg_stream_t *s,
                         vg_shutdown_cb cb) {
  apr_status_t rv;
  if (vg__is_closing(s))
    return VG_ECLOSING;
  if (!(s->sflags & VG__S_OPEN))
    return APR_EBADF;
  req->handle = s;
  req->cb = cb;
  req->req.data = req;
  rv = pal_io_shutdown(&s->io, &req->req, on_shutdown);
  if (rv != APR_SUCCESS)
    return rv;
  s->sflags |= VG__S_SHUTTING;
  vg__req_register(s->loop);
  return APR_SUCCESS;
}

size_t vg_stream_write_queue_size(const vg_stream_t *s) {
  return s->write_queue_size;
}

void vg__stream_close(vg_stream_t *s) {
  if (s->sflags & VG__S_OPEN)
    pal_io_close(&s->io);
  s->sflags &= ~(VG__S_READING | VG__S_LISTENING);
}

int vg__stream_busy(const vg_stream_t *s) {
  return s->write_queue_count > 0 ||
         (s->sflags & (VG__S_CONNECTING | VG__S_SHUTTING)) != 0 ||
         ((s->sflags & VG__S_OPEN) && pal_io_busy(&s->io));
}
