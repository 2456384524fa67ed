/*
 * test_pipe.c -- local streams: a Unix-socket server (bind, listen,
 * connect, echo, peer credentials), and vg_pipe_open() over the two ends
 * of a pal_pipe() pair (small and bulk transfers, EOF).
 *
 * Windows: a local stream is a named pipe (\\.\pipe\NAME; pal.h), which
 * exists while a server instance does and leaves no file behind; its
 * peer is an account SID, not a uid (VG_EUNSUPPORTED).  pal_pipe() pairs
 * are named pipes too (a uniquely named overlapped server end and a
 * synchronous client end).
 */
#define _GNU_SOURCE 1

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_thread_proc.h>

#include "test.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <unistd.h>
#endif

static void temp_path(char *buf, size_t size, const char *tag) {
  vg_test_local_name(buf, size, tag);
}

/* Whether a bound local name is there for clients: the socket file on
 * POSIX; on Windows a pipe instance waiting for a client. */
static int local_name_exists(const char *path) {
#ifdef _WIN32
  return WaitNamedPipeA(path, 1000) != 0;
#else
  return access(path, F_OK) == 0;
#endif
}

/* A Unix socket's file outlives its socket; a pipe name does not. */
static void local_name_remove(const char *path) {
#ifdef _WIN32
  (void)path;
#else
  unlink(path);
#endif
}

static unsigned char pattern_byte(size_t i) {
  return (unsigned char)((i * 7 + 3) % 251);
}


/* ------------------------------------------------------------------------
 * A one-connection echo server on a local socket.
 * --------------------------------------------------------------------- */

typedef struct {
  vg_pipe_t server;
  vg_pipe_t conn;
  int accepted;
  int conn_inited;
  long peer_uid;
  apr_status_t peer_rv;
  char rbuf[4096];
  vg_write_t wreqs[16];
  int nw;
  char echo[4096];
  size_t echo_len;
  int eof;
} lserver_t;

typedef struct {
  vg_pipe_t pipe;
  vg_connect_t creq;
  vg_write_t wreq;
  const char *msg;
  char got[4096];
  size_t gotlen;
  char rbuf[4096];
  apr_status_t connect_status;
  int connected;
  int done;
  long peer_uid;
  apr_status_t peer_rv;
} lclient_t;

static void ls_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  lserver_t *s = h->data;
  (void)suggested;
  buf->base = s->rbuf;
  buf->len = sizeof s->rbuf;
}

static void ls_write_cb(vg_write_t *req, apr_status_t status) {
  (void)req;
  CU_ASSERT_EQUAL(status, APR_SUCCESS);
}

static void ls_read(vg_stream_t *st, apr_status_t status, size_t nread,
                    const vg_buf_t *buf) {
  lserver_t *s = st->data;
  vg_buf_t b;
  if (status != APR_SUCCESS) {
    s->eof = 1;
    return;
  }
  if (nread == 0 || s->echo_len + nread > sizeof s->echo)
    return;
  /* One echo write at a time is enough for short messages. */
  memcpy(s->echo + s->echo_len, buf->base, nread);
  b.base = s->echo + s->echo_len;
  b.len = nread;
  s->echo_len += nread;
  if (s->nw < 16)
    vg_write(&s->wreqs[s->nw++], st, &b, 1, ls_write_cb);
}

static void ls_connection(vg_stream_t *server, apr_status_t status) {
  lserver_t *s = server->data;
  CU_ASSERT_EQUAL(status, APR_SUCCESS);
  if (status != APR_SUCCESS || s->accepted)
    return;
  if (!s->conn_inited) {
    CU_ASSERT_EQUAL(vg_pipe_init(server->loop, &s->conn), APR_SUCCESS);
    s->conn.data = s;
    s->conn_inited = 1;
  }
  if (vg_accept(server, &s->conn) != APR_SUCCESS)
    return;
  s->accepted = 1;
  s->peer_rv = vg_pipe_peer_uid(&s->conn, &s->peer_uid);
  vg_read_start(&s->conn, ls_alloc, ls_read);
}

static void lc_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  lclient_t *c = h->data;
  (void)suggested;
  buf->base = c->rbuf;
  buf->len = sizeof c->rbuf;
}

static void lc_read(vg_stream_t *st, apr_status_t status, size_t nread,
                    const vg_buf_t *buf) {
  lclient_t *c = st->data;
  if (status != APR_SUCCESS) {
    c->done = 1;
    return;
  }
  if (c->gotlen + nread <= sizeof c->got) {
    memcpy(c->got + c->gotlen, buf->base, nread);
    c->gotlen += nread;
  }
  if (c->gotlen >= strlen(c->msg))
    c->done = 1;
}

static void lc_write_cb(vg_write_t *req, apr_status_t status) {
  (void)req;
  CU_ASSERT_EQUAL(status, APR_SUCCESS);
}

static void lc_connect_cb(vg_connect_t *req, apr_status_t status) {
  lclient_t *c = req->data;
  vg_buf_t b;
  c->connected = 1;
  c->connect_status = status;
  if (status != APR_SUCCESS) {
    c->done = 1;
    return;
  }
  c->peer_rv = vg_pipe_peer_uid(&c->pipe, &c->peer_uid);
  b.base = (char *)(uintptr_t)c->msg;
  b.len = strlen(c->msg);
  vg_write(&c->wreq, &c->pipe, &b, 1, lc_write_cb);
  vg_read_start(&c->pipe, lc_alloc, lc_read);
}

static void test_local_echo(void) {
  vg_loop_t *loop = vg_test_new_loop();
  lserver_t s;
  lclient_t c;
  char path[128];
  temp_path(path, sizeof path, "echo");
  memset(&s, 0, sizeof s);
  memset(&c, 0, sizeof c);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_init(loop, &s.server), APR_SUCCESS);
  s.server.data = &s;
  CU_ASSERT_EQUAL_FATAL(vg_pipe_bind(&s.server, path), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_listen(&s.server, 16, ls_connection),
                        APR_SUCCESS);
  CU_ASSERT(local_name_exists(path));

  CU_ASSERT_EQUAL_FATAL(vg_pipe_init(loop, &c.pipe), APR_SUCCESS);
  c.pipe.data = &c;
  c.creq.data = &c;
  c.msg = "through a local socket";
  c.connect_status = -1;
  CU_ASSERT_EQUAL(vg_pipe_connect(&c.creq, &c.pipe, path, lc_connect_cb),
                  APR_SUCCESS);
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.connect_status, APR_SUCCESS);
  CU_ASSERT_EQUAL(c.gotlen, strlen(c.msg));
  CU_ASSERT_EQUAL(memcmp(c.got, c.msg, strlen(c.msg)), 0);
  CU_ASSERT(s.accepted);

#ifdef _WIN32
  /* A pipe client is an account SID, with no uid to report: both ends
   * say VG_EUNSUPPORTED. */
  CU_ASSERT_EQUAL(s.peer_rv, VG_EUNSUPPORTED);
  CU_ASSERT_EQUAL(c.peer_rv, VG_EUNSUPPORTED);
#else
  /* SO_PEERCRED both ways: it is us. */
  CU_ASSERT_EQUAL(s.peer_rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(s.peer_uid, (long)getuid());
  CU_ASSERT_EQUAL(c.peer_rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(c.peer_uid, (long)getuid());
#endif

  /* Client goes away: the server connection sees EOF. */
  vg_close((vg_handle_t *)&c.pipe, NULL);
  CU_ASSERT(vg_test_run_until(loop, &s.eof, VG_TEST_WAIT_MS));
  vg_test_close_loop(loop);
  local_name_remove(path);
}

/* A second bind of a live socket's path fails instead of stealing it. */
static void test_bind_in_use(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_pipe_t a, b;
  char path[128];
  temp_path(path, sizeof path, "inuse");
  vg_pipe_init(loop, &a);
  vg_pipe_init(loop, &b);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_bind(&a, path), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_listen(&a, 4, ls_connection), APR_SUCCESS);
  CU_ASSERT_NOT_EQUAL(vg_pipe_bind(&b, path), APR_SUCCESS);
  vg_test_close_loop(loop);
  local_name_remove(path);
}

/* Connecting to a path nobody listens on fails with ENOENT, either at
 * once or through the callback. */
static void test_connect_missing(void) {
  vg_loop_t *loop = vg_test_new_loop();
  lclient_t c;
  char path[128];
  apr_status_t rv;
  temp_path(path, sizeof path, "missing");
  memset(&c, 0, sizeof c);
  vg_pipe_init(loop, &c.pipe);
  c.pipe.data = &c;
  c.creq.data = &c;
  c.msg = "x";
  rv = vg_pipe_connect(&c.creq, &c.pipe, path, lc_connect_cb);
  if (rv == APR_SUCCESS) {
    CU_ASSERT(vg_test_run_until(loop, &c.connected, VG_TEST_WAIT_MS));
    rv = c.connect_status;
  } else {
    vg_run(loop, VG_RUN_NOWAIT);
    CU_ASSERT_EQUAL(c.connected, 0);   /* no callback as well */
  }
  CU_ASSERT(APR_STATUS_IS_ENOENT(rv));
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * vg_pipe_open over pal_pipe() ends.
 * --------------------------------------------------------------------- */

typedef struct {
  vg_pipe_t r, w;
  vg_write_t wreq;
  char rbuf[65536];
  size_t total, bad;
  int eof;
  int write_called;
  apr_status_t write_status;
  int write_closed;
} ppair_t;

static void pp_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  ppair_t *p = h->data;
  (void)suggested;
  buf->base = p->rbuf;
  buf->len = sizeof p->rbuf;
}

static void pp_read(vg_stream_t *s, apr_status_t status, size_t nread,
                    const vg_buf_t *buf) {
  ppair_t *p = s->data;
  size_t i;
  if (status == APR_EOF) {
    p->eof = 1;
    return;
  }
  CU_ASSERT_EQUAL(status, APR_SUCCESS);
  if (status != APR_SUCCESS) {
    p->eof = -1;
    return;
  }
  for (i = 0; i < nread; i++)
    if ((unsigned char)buf->base[i] != pattern_byte(p->total + i))
      p->bad++;
  p->total += nread;
}

static void pp_closed(vg_handle_t *h) {
  ((ppair_t *)h->data)->write_closed = 1;
}

static void pp_write_cb(vg_write_t *req, apr_status_t status) {
  ppair_t *p = req->data;
  p->write_called++;
  p->write_status = status;
  /* Closing the write end is how a pipe says EOF. */
  vg_close((vg_handle_t *)&p->w, pp_closed);
}

static void open_pair(vg_loop_t *loop, ppair_t *p) {
  pal_fd_t fds[2];
  memset(p, 0, sizeof *p);
  CU_ASSERT_EQUAL_FATAL(pal_pipe(fds, 1), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_init(loop, &p->r), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_init(loop, &p->w), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_open(&p->r, fds[0]), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_open(&p->w, fds[1]), APR_SUCCESS);
  p->r.data = p->w.data = p;
  p->wreq.data = p;
}

static int pp_done(void *arg) {
  ppair_t *p = arg;
  return p->eof != 0 && p->write_closed;
}

static void transfer(size_t n) {
  vg_loop_t *loop = vg_test_new_loop();
  ppair_t p;
  vg_buf_t b;
  char *data = malloc(n ? n : 1);
  size_t i;
  CU_ASSERT_PTR_NOT_NULL_FATAL(data);
  for (i = 0; i < n; i++)
    data[i] = (char)pattern_byte(i);
  open_pair(loop, &p);
  CU_ASSERT_EQUAL(vg_read_start(&p.r, pp_alloc, pp_read), APR_SUCCESS);
  b.base = data;
  b.len = n;
  CU_ASSERT_EQUAL(vg_write(&p.wreq, &p.w, &b, 1, pp_write_cb), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, pp_done, &p, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(p.write_called, 1);
  CU_ASSERT_EQUAL(p.write_status, APR_SUCCESS);
  CU_ASSERT_EQUAL(p.eof, 1);
  CU_ASSERT_EQUAL(p.total, n);
  CU_ASSERT_EQUAL(p.bad, 0);
  vg_test_close_loop(loop);
  free(data);
}

static void test_open_small(void) { transfer(5); }

/* 4 MiB: many times the pipe buffer, so writes hit EAGAIN and resume. */
static void test_open_bulk(void) { transfer(4u * 1024 * 1024); }

/* Several queued writes complete in order with the data in order. */
static int multi_order[8];
static int multi_n;
static void multi_cb(vg_write_t *req, apr_status_t status) {
  CU_ASSERT_EQUAL(status, APR_SUCCESS);
  if (multi_n < 8)
    multi_order[multi_n] = (int)(intptr_t)req->data;
  multi_n++;
}

static int multi_done(void *arg) {
  (void)arg;
  return multi_n >= 8;
}

static void test_open_multi_write(void) {
  vg_loop_t *loop = vg_test_new_loop();
  ppair_t p;
  vg_write_t reqs[8];
  vg_buf_t bufs[8][2];
  char *data = malloc(8 * 20000);
  size_t i;
  int k;
  CU_ASSERT_PTR_NOT_NULL_FATAL(data);
  for (i = 0; i < 8 * 20000; i++)
    data[i] = (char)pattern_byte(i);
  open_pair(loop, &p);
  multi_n = 0;
  vg_read_start(&p.r, pp_alloc, pp_read);
  for (k = 0; k < 8; k++) {
    /* two buffers per request: 7000 + 13000 bytes */
    bufs[k][0].base = data + k * 20000;
    bufs[k][0].len = 7000;
    bufs[k][1].base = data + k * 20000 + 7000;
    bufs[k][1].len = 13000;
    reqs[k].data = (void *)(intptr_t)k;
    CU_ASSERT_EQUAL(vg_write(&reqs[k], &p.w, bufs[k], 2, multi_cb),
                    APR_SUCCESS);
  }
  /* The array is copied by vg_write: scribbling on it is harmless. */
  memset(bufs, 0, sizeof bufs);
  CU_ASSERT_EQUAL(p.w.write_queue_count + (unsigned)multi_n, 8);
  CU_ASSERT(vg_test_run_cond(loop, multi_done, NULL, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(multi_n, 8);
  for (k = 0; k < 8 && k < multi_n; k++)
    CU_ASSERT_EQUAL(multi_order[k], k);
  vg_close((vg_handle_t *)&p.w, pp_closed);
  CU_ASSERT(vg_test_run_cond(loop, pp_done, &p, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(p.total, 8 * 20000);
  CU_ASSERT_EQUAL(p.bad, 0);
  vg_test_close_loop(loop);
  free(data);
}

/* Writing into a pipe whose reader is gone: the write fails with EPIPE
 * (reported by the call or its callback) and SIGPIPE does not kill us. */
static int epipe_called;
static apr_status_t epipe_status;
static void epipe_cb(vg_write_t *req, apr_status_t status) {
  (void)req;
  epipe_called++;
  epipe_status = status;
}

static void test_write_epipe(void) {
  vg_loop_t *loop = vg_test_new_loop();
  ppair_t p;
  vg_buf_t b;
  char data[] = "nobody reads this";
  apr_status_t rv;
  open_pair(loop, &p);
  vg_close((vg_handle_t *)&p.r, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  b.base = data;
  b.len = sizeof data - 1;
  epipe_called = 0;
  rv = vg_write(&p.wreq, &p.w, &b, 1, epipe_cb);
  if (rv == APR_SUCCESS) {
    int i;
    for (i = 0; i < 100 && !epipe_called; i++)
      vg_run(loop, VG_RUN_ONCE);
    CU_ASSERT_EQUAL(epipe_called, 1);
    rv = epipe_status;
  }
  CU_ASSERT(APR_STATUS_IS_EPIPE(rv));
  CU_ASSERT_EQUAL(p.w.write_queue_size, 0);
  vg_test_close_loop(loop);
}

/* read_stop / read_start: nothing is delivered while stopped, nothing is
 * lost, order is kept. */
static int stop_after_first;
static void stop_read(vg_stream_t *s, apr_status_t status, size_t nread,
                      const vg_buf_t *buf) {
  pp_read(s, status, nread, buf);
  if (stop_after_first && nread > 0) {
    CU_ASSERT_EQUAL(vg_read_stop(s), APR_SUCCESS);
    stop_after_first = 0;
  }
}

static void test_read_stop_start(void) {
  vg_loop_t *loop = vg_test_new_loop();
  ppair_t p;
  vg_buf_t b;
  char *data = malloc(300000);
  size_t i, seen;
  volatile int never = 0;
  CU_ASSERT_PTR_NOT_NULL_FATAL(data);
  for (i = 0; i < 300000; i++)
    data[i] = (char)pattern_byte(i);
  open_pair(loop, &p);
  stop_after_first = 1;
  vg_read_start(&p.r, pp_alloc, stop_read);
  b.base = data;
  b.len = 300000;
  CU_ASSERT_EQUAL(vg_write(&p.wreq, &p.w, &b, 1, pp_write_cb), APR_SUCCESS);
  vg_test_run_until(loop, &never, 50);
  seen = p.total;
  CU_ASSERT(seen > 0);
  CU_ASSERT(seen < 300000);      /* the pipe buffer cannot hold it all */
  vg_test_run_until(loop, &never, 30);
  CU_ASSERT_EQUAL(p.total, seen); /* stopped: nothing more delivered */
  CU_ASSERT_EQUAL(p.write_called, 0);
  CU_ASSERT_EQUAL(vg_read_start(&p.r, pp_alloc, pp_read), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, pp_done, &p, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(p.total, 300000);
  CU_ASSERT_EQUAL(p.bad, 0);
  CU_ASSERT_EQUAL(p.write_status, APR_SUCCESS);
  vg_test_close_loop(loop);
  free(data);
}

#ifndef _WIN32
/* Bytes another thread wrote are there for a loop run that may not wait
 * (VG_RUN_NOWAIT), even when the loop's thread has made no system call
 * since: io_uring leaves the poll's completion to task work that runs
 * only when that thread next enters the kernel, so such a run must
 * enter it whenever the ring says task work is pending.  The loop's
 * thread spins on flags, never entering the kernel, from the moment it
 * lets the other one write until the bytes are written. */
typedef struct {
  int fd;
  apr_uint32_t go, written;
} nowait_writer_t;

static void *APR_THREAD_FUNC nowait_writer(apr_thread_t *th, void *arg) {
  nowait_writer_t *w = arg;
  while (!apr_atomic_read32(&w->go)) {
  }
  CU_ASSERT_EQUAL(write(w->fd, "hello", 5), 5);
  apr_atomic_set32(&w->written, 1);
  apr_thread_exit(th, APR_SUCCESS);
  return NULL;
}

static void test_nowait_sees_other_thread(void) {
  vg_loop_t *loop = vg_test_new_loop();
  ppair_t p;
  pal_fd_t fds[2];
  nowait_writer_t w;
  apr_thread_t *th;
  apr_status_t trv;
  int i;
  memset(&p, 0, sizeof p);
  CU_ASSERT_EQUAL_FATAL(pal_pipe(fds, 1), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_init(loop, &p.r), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_pipe_open(&p.r, fds[0]), APR_SUCCESS);
  p.r.data = &p;
  CU_ASSERT_EQUAL(vg_read_start(&p.r, pp_alloc, pp_read), APR_SUCCESS);
  for (i = 0; i < 3; i++)   /* the interest reaches the kernel */
    vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(p.total, 0);
  w.fd = (int)fds[1];
  apr_atomic_set32(&w.go, 0);
  apr_atomic_set32(&w.written, 0);
  CU_ASSERT_EQUAL_FATAL(
      apr_thread_create(&th, NULL, nowait_writer, &w, vg_test_pool),
      APR_SUCCESS);
  apr_atomic_set32(&w.go, 1);
  while (!apr_atomic_read32(&w.written)) {
  }
  vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(p.total, 5);
  apr_thread_join(&trv, th);
  pal_fd_close(fds[1]);
  vg_test_close_loop(loop);
}
#endif

static CU_TestInfo pipe_tests[] = {
    {"local_echo_peer_uid", test_local_echo},
    {"bind_in_use", test_bind_in_use},
    {"connect_missing", test_connect_missing},
    {"open_small", test_open_small},
    {"open_bulk", test_open_bulk},
    {"open_multi_write", test_open_multi_write},
    {"write_epipe", test_write_epipe},
    {"read_stop_start", test_read_stop_start},
#ifndef _WIN32
    {"nowait_sees_other_thread", test_nowait_sees_other_thread},
#endif
    CU_TEST_INFO_NULL};

CU_SuiteInfo pipe_suite = {
    .pName = "pipe",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = pipe_tests};
