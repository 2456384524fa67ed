/*
 * test_tcp.c -- TCP streams over loopback: listen/connect/echo, EOF on
 * shutdown, write-queue accounting under backpressure, refused connects,
 * cancellation of pending writes on close, a thousand concurrent
 * connections, and injected EAGAIN / EINTR on the hot paths.
 *
 * Map: 1. a small echo server and client used by most tests;
 *      2. the tests; 3. the suite table.
 */
#define _GNU_SOURCE 1

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/resource.h>
#include <sys/socket.h>
#endif

#include "test.h"

static unsigned char pattern_byte(size_t i) {
  return (unsigned char)((i * 7 + 3) % 251);
}

/* ------------------------------------------------------------------------
 * 1. Echo server.  Each accepted connection is a malloc'd sconn_t freed
 * in its close_cb; the server keeps them on a list so that a test can
 * close the survivors before vg_test_close_loop() (which would close
 * them with a NULL close_cb and leak them).
 * --------------------------------------------------------------------- */

typedef struct server_s server_t;

typedef struct sconn_s {
  vg_tcp_t tcp;
  server_t *server;
  struct sconn_s *next, *prev;
  char rbuf[65536];
  size_t total;          /* bytes received */
  size_t bad;            /* bytes that broke the pattern (count mode) */
  int eof;
} sconn_t;

struct server_s {
  vg_tcp_t tcp;
  vg_loop_t *loop;
  pal_addr_t addr;       /* where it listens (port filled in) */
  int echo;              /* 1: echo back; 0: accept but do not read */
  int accepted;
  int conn_errors;
  int eofs;
  sconn_t *spare;        /* initialised, waiting for vg_accept */
  sconn_t *conns;
};

typedef struct {
  vg_write_t req;
  size_t len;
  char data[];
} echo_write_t;

static void sconn_close_cb(vg_handle_t *h) {
  sconn_t *c = h->data;
  if (c->prev)
    c->prev->next = c->next;
  else if (c->server->conns == c)
    c->server->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c);
}

static void sconn_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  sconn_t *c = h->data;
  (void)suggested;
  buf->base = c->rbuf;
  buf->len = sizeof c->rbuf;
}

static void echo_write_cb(vg_write_t *req, apr_status_t status) {
  (void)status;
  free(req->data);
}

static void sconn_shutdown_cb(vg_shutdown_req_t *req, apr_status_t status) {
  sconn_t *c = req->data;
  (void)status;
  free(req);
  if (!vg_is_closing((vg_handle_t *)&c->tcp))
    vg_close((vg_handle_t *)&c->tcp, sconn_close_cb);
}

static void sconn_echo_read(vg_stream_t *s, apr_status_t status,
                            size_t nread, const vg_buf_t *buf) {
  sconn_t *c = s->data;
  if (status == APR_SUCCESS) {
    echo_write_t *w;
    vg_buf_t b;
    if (nread == 0)
      return;
    c->total += nread;
    w = malloc(sizeof *w + nread);
    if (!w)
      return;
    memcpy(w->data, buf->base, nread);
    w->len = nread;
    w->req.data = w;
    b.base = w->data;
    b.len = nread;
    if (vg_write(&w->req, s, &b, 1, echo_write_cb) != APR_SUCCESS)
      free(w);
    return;
  }
  /* EOF or error: half-close after the queued echoes, then close. */
  if (status == APR_EOF) {
    vg_shutdown_req_t *sr = malloc(sizeof *sr);
    c->eof = 1;
    c->server->eofs++;
    if (sr) {
      sr->data = c;
      if (vg_shutdown(sr, s, sconn_shutdown_cb) == APR_SUCCESS)
        return;
      free(sr);
    }
  }
  vg_close((vg_handle_t *)s, sconn_close_cb);
}

/* Count mode: verify the pattern, do not echo. */
static void sconn_count_read(vg_stream_t *s, apr_status_t status,
                             size_t nread, const vg_buf_t *buf) {
  sconn_t *c = s->data;
  size_t i;
  if (status != APR_SUCCESS) {
    c->eof = 1;
    return;
  }
  for (i = 0; i < nread; i++)
    if ((unsigned char)buf->base[i] != pattern_byte(c->total + i))
      c->bad++;
  c->total += nread;
}

static sconn_t *sconn_new(server_t *srv) {
  sconn_t *c = calloc(1, sizeof *c);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  c->server = srv;
  CU_ASSERT_EQUAL(vg_tcp_init(srv->loop, &c->tcp), APR_SUCCESS);
  c->tcp.data = c;
  c->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = c;
  srv->conns = c;
  return c;
}

static void on_connection(vg_stream_t *server, apr_status_t status) {
  server_t *srv = server->data;
  sconn_t *c;
  apr_status_t rv;
  if (status != APR_SUCCESS) {
    srv->conn_errors++;
    return;
  }
  if (!srv->spare)
    srv->spare = sconn_new(srv);
  c = srv->spare;
  rv = vg_accept(server, &c->tcp);
  if (APR_STATUS_IS_EAGAIN(rv))
    return;   /* keep the spare for the next callback */
  CU_ASSERT_EQUAL(rv, APR_SUCCESS);
  if (rv != APR_SUCCESS)
    return;
  srv->spare = NULL;
  srv->accepted++;
  if (srv->echo)
    CU_ASSERT_EQUAL(vg_read_start(&c->tcp, sconn_alloc, sconn_echo_read),
                    APR_SUCCESS);
}

static void server_start(vg_loop_t *loop, server_t *srv, int echo) {
  memset(srv, 0, sizeof *srv);
  srv->loop = loop;
  srv->echo = echo;
  CU_ASSERT_EQUAL_FATAL(vg_tcp_init(loop, &srv->tcp), APR_SUCCESS);
  srv->tcp.data = srv;
  CU_ASSERT_EQUAL_FATAL(pal_addr_ip(&srv->addr, "127.0.0.1", 0),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(
      vg_tcp_bind(&srv->tcp, &srv->addr, PAL_BIND_REUSEADDR), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_listen(&srv->tcp, 1024, on_connection),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_sockname(&srv->tcp, &srv->addr),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL(pal_addr_family(&srv->addr), PAL_AF_INET);
  CU_ASSERT(pal_addr_port(&srv->addr) > 0);
}

/* Close the listener and every connection, freeing them. */
static void server_stop(server_t *srv) {
  sconn_t *c;
  if (!vg_is_closing((vg_handle_t *)&srv->tcp))
    vg_close((vg_handle_t *)&srv->tcp, NULL);
  for (c = srv->conns; c; c = c->next)
    if (!vg_is_closing((vg_handle_t *)&c->tcp))
      vg_close((vg_handle_t *)&c->tcp, sconn_close_cb);
  srv->spare = NULL;
  vg_run(srv->loop, VG_RUN_DEFAULT);
  CU_ASSERT_PTR_NULL(srv->conns);
}

/* ------------------------------------------------------------------------
 * Echo client: connect, write msg, (optionally shut down), read until
 * the whole echo (and, if shut down, EOF) arrived, then close.
 * --------------------------------------------------------------------- */

typedef struct {
  vg_tcp_t tcp;
  vg_connect_t creq;
  vg_write_t wreq;
  vg_shutdown_req_t sreq;
  char msg[64];
  size_t msglen;
  char got[256];
  size_t gotlen;
  char rbuf[4096];
  apr_status_t connect_status;
  apr_status_t write_status;
  apr_status_t shutdown_status;
  int connected, wrote, shut, eof, mismatch, closed, done;
  int use_shutdown;
  int *done_counter;
} client_t;

static void client_close_cb(vg_handle_t *h) {
  client_t *c = h->data;
  c->closed = 1;
  if (c->done_counter)
    (*c->done_counter)++;
}

static void client_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  client_t *c = h->data;
  (void)suggested;
  buf->base = c->rbuf;
  buf->len = sizeof c->rbuf;
}

static void client_finish(client_t *c) {
  c->done = 1;
  if (!vg_is_closing((vg_handle_t *)&c->tcp))
    vg_close((vg_handle_t *)&c->tcp, client_close_cb);
}

static void client_read(vg_stream_t *s, apr_status_t status, size_t nread,
                        const vg_buf_t *buf) {
  client_t *c = s->data;
  if (status == APR_SUCCESS) {
    if (nread == 0)
      return;
    if (c->gotlen + nread > sizeof c->got) {
      c->mismatch = 1;
      client_finish(c);
      return;
    }
    memcpy(c->got + c->gotlen, buf->base, nread);
    c->gotlen += nread;
    if (!c->use_shutdown && c->gotlen == c->msglen) {
      c->mismatch = memcmp(c->got, c->msg, c->msglen) != 0;
      client_finish(c);
    }
    return;
  }
  if (status == APR_EOF)
    c->eof = 1;
  c->mismatch = c->gotlen != c->msglen ||
                memcmp(c->got, c->msg, c->msglen) != 0;
  client_finish(c);
}

static void client_write_cb(vg_write_t *req, apr_status_t status) {
  client_t *c = req->data;
  c->write_status = status;
  c->wrote = 1;
}

static void client_shutdown_cb(vg_shutdown_req_t *req, apr_status_t status) {
  client_t *c = req->data;
  c->shutdown_status = status;
  c->shut = 1;
}

static void client_connect_cb(vg_connect_t *req, apr_status_t status) {
  client_t *c = req->data;
  vg_buf_t b;
  c->connect_status = status;
  c->connected = 1;
  if (status != APR_SUCCESS) {
    client_finish(c);
    return;
  }
  b.base = c->msg;
  b.len = c->msglen;
  c->wreq.data = c;
  CU_ASSERT_EQUAL(vg_write(&c->wreq, &c->tcp, &b, 1, client_write_cb),
                  APR_SUCCESS);
  if (c->use_shutdown) {
    c->sreq.data = c;
    CU_ASSERT_EQUAL(vg_shutdown(&c->sreq, &c->tcp, client_shutdown_cb),
                    APR_SUCCESS);
  }
  CU_ASSERT_EQUAL(vg_read_start(&c->tcp, client_alloc, client_read),
                  APR_SUCCESS);
}

static void client_start(vg_loop_t *loop, client_t *c, const pal_addr_t *to,
                         const char *msg) {
  memset(c, 0, sizeof *c);
  c->connect_status = c->write_status = c->shutdown_status = -1;
  snprintf(c->msg, sizeof c->msg, "%s", msg);
  c->msglen = strlen(c->msg);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_init(loop, &c->tcp), APR_SUCCESS);
  c->tcp.data = c;
  c->creq.data = c;
  CU_ASSERT_EQUAL(vg_tcp_connect(&c->creq, &c->tcp, to, client_connect_cb),
                  APR_SUCCESS);
}

/* ------------------------------------------------------------------------
 * 2. Tests
 * --------------------------------------------------------------------- */

/* Listen on an ephemeral port, connect, echo, close. */
static void test_echo(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  client_t c;
  server_start(loop, &srv, 1);
  client_start(loop, &c, &srv.addr, "hello, vigil");
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.connect_status, APR_SUCCESS);
  CU_ASSERT_EQUAL(c.write_status, APR_SUCCESS);
  CU_ASSERT_EQUAL(c.mismatch, 0);
  CU_ASSERT_EQUAL(c.gotlen, c.msglen);
  CU_ASSERT_EQUAL(srv.accepted, 1);
  CU_ASSERT_EQUAL(srv.conn_errors, 0);
  server_stop(&srv);
  CU_ASSERT(c.closed);
  vg_test_close_loop(loop);
}

/* peername / sockname / nodelay on an established connection. */
static int addr_conn_done;
static void addr_connect_cb(vg_connect_t *req, apr_status_t status) {
  CU_ASSERT_EQUAL(status, APR_SUCCESS);
  (void)req;
  addr_conn_done = 1;
}

static void test_addresses(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  vg_tcp_t cli;
  vg_connect_t creq;
  pal_addr_t a, b;
  char s1[128], s2[128];
  server_start(loop, &srv, 1);
  vg_tcp_init(loop, &cli);
  addr_conn_done = 0;
  CU_ASSERT_EQUAL(vg_tcp_connect(&creq, &cli, &srv.addr, addr_connect_cb),
                  APR_SUCCESS);
  CU_ASSERT(vg_test_run_until(loop, &addr_conn_done, VG_TEST_WAIT_MS));
  while (srv.accepted == 0 && vg_run(loop, VG_RUN_ONCE))
    ;
  CU_ASSERT_EQUAL_FATAL(srv.accepted, 1);
  CU_ASSERT_EQUAL(vg_tcp_peername(&cli, &a), APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(pal_addr_format(&a, s1, sizeof s1),
                         pal_addr_format(&srv.addr, s2, sizeof s2));
  CU_ASSERT_EQUAL(vg_tcp_sockname(&cli, &a), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_tcp_peername(&srv.conns->tcp, &b), APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(pal_addr_format(&a, s1, sizeof s1),
                         pal_addr_format(&b, s2, sizeof s2));
  CU_ASSERT_EQUAL(vg_tcp_nodelay(&cli, 1), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_tcp_nodelay(&cli, 0), APR_SUCCESS);
  vg_close((vg_handle_t *)&cli, NULL);
  server_stop(&srv);
  vg_test_close_loop(loop);
}

/* The client shuts down after writing: the server sees the data then
 * EOF, echoes, shuts down in turn; the client sees the echo then EOF. */
static void test_shutdown_eof(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  client_t c;
  server_start(loop, &srv, 1);
  client_start(loop, &c, &srv.addr, "half-close me");
  c.use_shutdown = 1;
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(c.write_status, APR_SUCCESS);
  CU_ASSERT(c.shut);
  CU_ASSERT_EQUAL(c.shutdown_status, APR_SUCCESS);
  CU_ASSERT(c.eof);
  CU_ASSERT_EQUAL(c.mismatch, 0);
  CU_ASSERT_EQUAL(srv.eofs, 1);
  server_stop(&srv);
  vg_test_close_loop(loop);
}

/* vg_try_write writes what it can at once. */
static void test_try_write(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  vg_tcp_t cli;
  vg_connect_t creq;
  vg_buf_t b[2];
  size_t written = 0;
  char one[] = "abc", two[] = "defg";
  server_start(loop, &srv, 0);
  vg_tcp_init(loop, &cli);
  addr_conn_done = 0;
  vg_tcp_connect(&creq, &cli, &srv.addr, addr_connect_cb);
  CU_ASSERT(vg_test_run_until(loop, &addr_conn_done, VG_TEST_WAIT_MS));
  while (srv.accepted == 0 && vg_run(loop, VG_RUN_ONCE))
    ;
  CU_ASSERT_EQUAL_FATAL(srv.accepted, 1);
  vg_read_start(&srv.conns->tcp, sconn_alloc, sconn_count_read);
  b[0].base = one;
  b[0].len = 3;
  b[1].base = two;
  b[1].len = 4;
  CU_ASSERT_EQUAL(vg_try_write(&cli, b, 2, &written), APR_SUCCESS);
  CU_ASSERT_EQUAL(written, 7);
  CU_ASSERT_EQUAL(cli.write_queue_size, 0);
  {
    int i;
    for (i = 0; i < 200 && srv.conns->total < 7; i++)
      vg_run(loop, VG_RUN_ONCE);
  }
  CU_ASSERT_EQUAL(srv.conns->total, 7);
  CU_ASSERT_EQUAL(memcmp(srv.conns->rbuf, "abcdefg", 7), 0);
  vg_close((vg_handle_t *)&cli, NULL);
  server_stop(&srv);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * Backpressure: 16 MiB to a peer that does not read.  The queue holds
 * the rest (write_queue_size > 0, one request pending, no callback);
 * once the peer reads, everything arrives intact, the callback reports
 * success and the queue is empty.
 * --------------------------------------------------------------------- */

#define BIG (16u * 1024 * 1024)

typedef struct {
  vg_write_t req;
  apr_status_t status;
  int called;
  int order;
} wr_t;

static int order_counter;

static void wr_cb(vg_write_t *req, apr_status_t status) {
  wr_t *w = req->data;
  w->status = status;
  w->called++;
  w->order = ++order_counter;
}

static char *big_buffer(void) {
  char *p = malloc(BIG);
  size_t i;
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  for (i = 0; i < BIG; i++)
    p[i] = (char)pattern_byte(i);
  return p;
}

static void connect_pair(vg_loop_t *loop, server_t *srv, vg_tcp_t *cli,
                         vg_connect_t *creq) {
  CU_ASSERT_EQUAL_FATAL(vg_tcp_init(loop, cli), APR_SUCCESS);
  addr_conn_done = 0;
  CU_ASSERT_EQUAL_FATAL(
      vg_tcp_connect(creq, cli, &srv->addr, addr_connect_cb), APR_SUCCESS);
  CU_ASSERT_FATAL(vg_test_run_until(loop, &addr_conn_done, VG_TEST_WAIT_MS));
  while (srv->accepted == 0 && vg_run(loop, VG_RUN_ONCE))
    ;
  CU_ASSERT_EQUAL_FATAL(srv->accepted, 1);
}

static wr_t *drain_w;
static sconn_t *drain_sc;
static int drained(void *arg) {
  (void)arg;
  return drain_w->called && (drain_sc->total >= BIG || drain_sc->eof);
}

static void test_write_queue_backpressure(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  vg_tcp_t cli;
  vg_connect_t creq;
  wr_t w;
  vg_buf_t b;
  char *big = big_buffer();
  volatile int never = 0;
  sconn_t *sc;

  server_start(loop, &srv, 0);
  connect_pair(loop, &srv, &cli, &creq);
  sc = srv.conns;

  memset(&w, 0, sizeof w);
  w.req.data = &w;
  b.base = big;
  b.len = BIG;
  CU_ASSERT_EQUAL(cli.write_queue_size, 0);
  CU_ASSERT_EQUAL(vg_write(&w.req, &cli, &b, 1, wr_cb), APR_SUCCESS);
  CU_ASSERT(cli.write_queue_size > 0);
  CU_ASSERT(cli.write_queue_size <= BIG);
  CU_ASSERT_EQUAL(cli.write_queue_count, 1);
  CU_ASSERT_EQUAL(vg_stream_write_queue_size(&cli), cli.write_queue_size);
  CU_ASSERT(vg_loop_alive(loop));

  /* Let the kernel buffers fill: the peer does not read. */
  vg_test_run_until(loop, &never, 100);
  CU_ASSERT_EQUAL(w.called, 0);
  CU_ASSERT(cli.write_queue_size > 0);
#ifdef _WIN32
  /* Windows: one overlapped WSASend owns the whole buffer until it
   * completes; the kernel reports no partial progress, so the queue
   * still counts all of it (as libuv's write_queue_size does). */
  CU_ASSERT_EQUAL(cli.write_queue_size, BIG);
#else
  CU_ASSERT(cli.write_queue_size < BIG);    /* some of it went out */
#endif
  CU_ASSERT_EQUAL(cli.write_queue_count, 1);

  /* Now drain. */
  CU_ASSERT_EQUAL(vg_read_start(&sc->tcp, sconn_alloc, sconn_count_read),
                  APR_SUCCESS);
  drain_w = &w;
  drain_sc = sc;
  CU_ASSERT(vg_test_run_cond(loop, drained, NULL, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(w.called, 1);
  CU_ASSERT_EQUAL(w.status, APR_SUCCESS);
  CU_ASSERT_EQUAL(cli.write_queue_size, 0);
  CU_ASSERT_EQUAL(cli.write_queue_count, 0);
  CU_ASSERT_EQUAL(sc->total, BIG);
  CU_ASSERT_EQUAL(sc->bad, 0);

  vg_close((vg_handle_t *)&cli, NULL);
  server_stop(&srv);
  vg_test_close_loop(loop);
  free(big);
}

/* Close with writes pending: each write callback gets VG_ECANCELED, in
 * order, before close_cb. */
static int cancel_close_order;
static void cancel_close_cb(vg_handle_t *h) {
  (void)h;
  cancel_close_order = ++order_counter;
}

static void test_close_cancels_writes(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  vg_tcp_t cli;
  vg_connect_t creq;
  wr_t w1, w2;
  vg_buf_t b1, b2;
  char *big = big_buffer();
  char small[] = "tail";
  volatile int never = 0;

  server_start(loop, &srv, 0);
  connect_pair(loop, &srv, &cli, &creq);
  memset(&w1, 0, sizeof w1);
  memset(&w2, 0, sizeof w2);
  w1.req.data = &w1;
  w2.req.data = &w2;
  b1.base = big;
  b1.len = BIG;
  b2.base = small;
  b2.len = 4;
  order_counter = 0;
  cancel_close_order = 0;
  CU_ASSERT_EQUAL(vg_write(&w1.req, &cli, &b1, 1, wr_cb), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_write(&w2.req, &cli, &b2, 1, wr_cb), APR_SUCCESS);
  CU_ASSERT_EQUAL(cli.write_queue_count, 2);
  vg_test_run_until(loop, &never, 50);
  CU_ASSERT_EQUAL(w1.called, 0);
  vg_close((vg_handle_t *)&cli, cancel_close_cb);
  /* Not from inside vg_close. */
  CU_ASSERT_EQUAL(w1.called + w2.called + cancel_close_order, 0);
  vg_run(loop, VG_RUN_NOWAIT);
  vg_run(loop, VG_RUN_NOWAIT);
  {
    int i;
    for (i = 0; i < 100 && cancel_close_order == 0; i++)
      vg_run(loop, VG_RUN_ONCE);
  }
  CU_ASSERT_EQUAL(w1.called, 1);
  CU_ASSERT_EQUAL(w2.called, 1);
  CU_ASSERT_EQUAL(w1.status, VG_ECANCELED);
  CU_ASSERT_EQUAL(w2.status, VG_ECANCELED);
  CU_ASSERT(cancel_close_order > 0);
  CU_ASSERT(w1.order < w2.order);
  CU_ASSERT(w2.order < cancel_close_order);
  server_stop(&srv);
  vg_test_close_loop(loop);
  free(big);
}

/* Connecting to a bound but not listening port is refused, reported in
 * the connect callback; the handle then closes normally. */
static void test_connect_refused(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_tcp_t holder;
  client_t c;
  pal_addr_t a;
  vg_tcp_init(loop, &holder);
  pal_addr_ip(&a, "127.0.0.1", 0);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_bind(&holder, &a, 0), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_sockname(&holder, &a), APR_SUCCESS);
  client_start(loop, &c, &a, "nobody home");
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT(c.connected);
  CU_ASSERT(APR_STATUS_IS_ECONNREFUSED(c.connect_status));
  CU_ASSERT_EQUAL(c.wrote, 0);
  vg_close((vg_handle_t *)&holder, NULL);
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT(c.closed);
  vg_test_close_loop(loop);
}

/* Closing a connecting handle cancels the connect. */
static apr_status_t cc_status;
static int cc_called;
static void cc_cb(vg_connect_t *req, apr_status_t status) {
  (void)req;
  cc_status = status;
  cc_called++;
}

static void test_close_while_connecting(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  vg_tcp_t cli;
  vg_connect_t creq;
  server_start(loop, &srv, 1);
  vg_tcp_init(loop, &cli);
  cc_called = 0;
  CU_ASSERT_EQUAL(vg_tcp_connect(&creq, &cli, &srv.addr, cc_cb),
                  APR_SUCCESS);
  vg_close((vg_handle_t *)&cli, NULL);
  CU_ASSERT_EQUAL(cc_called, 0);
  vg_run(loop, VG_RUN_NOWAIT);
  vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(cc_called, 1);
  CU_ASSERT_EQUAL(cc_status, VG_ECANCELED);
  server_stop(&srv);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * A thousand concurrent connections in one loop.
 * --------------------------------------------------------------------- */

#define MANY 1000

#ifdef _WIN32
/* Windows has no descriptor limit to raise: a socket is a handle, and a
 * process may hold millions of them (bounded by memory only). */
static int raise_nofile(unsigned long need) {
  (void)need;
  return 1;
}
#else
static int raise_nofile(rlim_t need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    rl.rlim_cur = rl.rlim_max;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max > need * 4)
      rl.rlim_cur = need * 4;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need;
}
#endif

static int many_done;
static int all_many_done(void *arg) {
  (void)arg;
  return many_done >= MANY;
}

static void test_thousand_connections(void) {
  vg_loop_t *loop;
  server_t srv;
  client_t *cs;
  int i, ok = 0, failed = 0;

  /* Two descriptors per connection in this process plus slack. */
  CU_ASSERT_FATAL(raise_nofile(2 * MANY + 64));
  cs = calloc(MANY, sizeof *cs);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cs);
  loop = vg_test_new_loop();
  server_start(loop, &srv, 1);
  many_done = 0;
  for (i = 0; i < MANY; i++) {
    char msg[64];
    snprintf(msg, sizeof msg, "client %d says hi", i);
    client_start(loop, &cs[i], &srv.addr, msg);
    cs[i].done_counter = &many_done;
  }
  CU_ASSERT(vg_test_run_cond(loop, all_many_done, NULL, 30000));
  for (i = 0; i < MANY; i++) {
    if (cs[i].done && cs[i].connect_status == APR_SUCCESS &&
        !cs[i].mismatch && cs[i].gotlen == cs[i].msglen)
      ok++;
    if (cs[i].connected && cs[i].connect_status != APR_SUCCESS)
      failed++;
  }
  CU_ASSERT_EQUAL(many_done, MANY);
  CU_ASSERT_EQUAL(ok, MANY);
  CU_ASSERT_EQUAL(failed, 0);
  CU_ASSERT_EQUAL(srv.accepted, MANY);
  CU_ASSERT_EQUAL(srv.conn_errors, 0);
  if (ok != MANY)
    fprintf(stderr, "\n  %d/%d ok, %d connect errors, %d accepted, "
            "%d accept errors\n", ok, MANY, failed, srv.accepted,
            srv.conn_errors);
  for (i = 0; i < MANY; i++)
    if (!vg_is_closing((vg_handle_t *)&cs[i].tcp))
      vg_close((vg_handle_t *)&cs[i].tcp, NULL);
  server_stop(&srv);
  vg_test_close_loop(loop);
  free(cs);
}

/* Reading stopped at every callback and started again, into a small
 * buffer, on more connections than io_uring's backend has buffers: every
 * echoed byte arrives once and in order.  (There a read in flight when
 * reading stops completes anyway: its bytes are kept and come first when
 * reading starts again; with every buffer kept, reads wait for
 * readiness.) */
#define SS_CONNS 24
#define SS_LEN (256u * 1024)

typedef struct {
  vg_tcp_t tcp;
  vg_connect_t creq;
  vg_write_t wreq;
  int connected, stopped, failed;
  size_t total, bad;
  char buf[1000];
} ss_t;

static void ss_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  ss_t *c = h->data;
  (void)suggested;
  buf->base = c->buf;
  buf->len = sizeof c->buf;
}

static void ss_read(vg_stream_t *s, apr_status_t status, size_t nread,
                    const vg_buf_t *buf) {
  ss_t *c = s->data;
  size_t i;
  if (status != APR_SUCCESS) {
    c->failed = 1;
    return;
  }
  for (i = 0; i < nread; i++)
    if ((unsigned char)buf->base[i] != pattern_byte(c->total + i))
      c->bad++;
  c->total += nread;
  vg_read_stop(s);
  c->stopped = 1;
}

static void ss_write_cb(vg_write_t *req, apr_status_t status) {
  ss_t *c = req->data;
  if (status != APR_SUCCESS)
    c->failed = 1;
}

static void ss_connect_cb(vg_connect_t *req, apr_status_t status) {
  ss_t *c = req->data;
  c->connected = 1;
  if (status != APR_SUCCESS)
    c->failed = 1;
}

static char *ss_data;

/* Start again the readers that stopped; all done (or one failed)? */
static int ss_restart(void *arg) {
  ss_t *cs = arg;
  int i, done = 1;
  for (i = 0; i < SS_CONNS; i++) {
    ss_t *c = &cs[i];
    if (c->failed)
      return 1;
    if (c->connected && c->stopped && c->total < SS_LEN) {
      c->stopped = 0;
      if (vg_read_start(&c->tcp, ss_alloc, ss_read) != APR_SUCCESS)
        c->failed = 1;
    }
    if (c->total < SS_LEN)
      done = 0;
  }
  return done;
}

static void test_read_stop_start(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  ss_t *cs = calloc(SS_CONNS, sizeof *cs);
  vg_buf_t b;
  size_t i;
  CU_ASSERT_PTR_NOT_NULL_FATAL(cs);
  ss_data = malloc(SS_LEN);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ss_data);
  for (i = 0; i < SS_LEN; i++)
    ss_data[i] = (char)pattern_byte(i);
  server_start(loop, &srv, 1);
  b.base = ss_data;
  b.len = SS_LEN;
  for (i = 0; i < SS_CONNS; i++) {
    ss_t *c = &cs[i];
    CU_ASSERT_EQUAL_FATAL(vg_tcp_init(loop, &c->tcp), APR_SUCCESS);
    c->tcp.data = c->creq.data = c->wreq.data = c;
    CU_ASSERT_EQUAL(vg_tcp_connect(&c->creq, &c->tcp, &srv.addr,
                                   ss_connect_cb), APR_SUCCESS);
    CU_ASSERT_EQUAL(vg_write(&c->wreq, &c->tcp, &b, 1, ss_write_cb),
                    APR_SUCCESS);
    CU_ASSERT_EQUAL(vg_read_start(&c->tcp, ss_alloc, ss_read), APR_SUCCESS);
  }
  CU_ASSERT(vg_test_run_cond(loop, ss_restart, cs, 4 * VG_TEST_WAIT_MS));
  for (i = 0; i < SS_CONNS; i++) {
    CU_ASSERT_EQUAL(cs[i].failed, 0);
    CU_ASSERT_EQUAL(cs[i].total, SS_LEN);
    CU_ASSERT_EQUAL(cs[i].bad, 0);
    vg_close((vg_handle_t *)&cs[i].tcp, NULL);
  }
  server_stop(&srv);
  vg_test_close_loop(loop);
  free(ss_data);
  free(cs);
}

#ifndef _WIN32
/* A stream that becomes writable and receives bytes in the same loop
 * iteration: its queued write finishing (the write interest dropped)
 * must not drop the bytes (on io_uring, the read's completion sits in
 * the same batch as the writability).  The peer is the accepted socket,
 * driven directly. */
static char wr_chunk[65536];
static char wr_rbuf[64];
static size_t wr_got;

static void wr_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = wr_rbuf;
  buf->len = sizeof wr_rbuf;
}

static void wr_read(vg_stream_t *s, apr_status_t status, size_t nread,
                    const vg_buf_t *buf) {
  (void)s;
  (void)buf;
  if (status == APR_SUCCESS)
    wr_got += nread;
}

static void test_writable_and_read_together(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  vg_tcp_t cli;
  vg_connect_t creq;
  wr_t *w = calloc(4096, sizeof *w);
  vg_buf_t b;
  char tmp[65536];
  int i, peer;
  volatile int never = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  server_start(loop, &srv, 0);
  connect_pair(loop, &srv, &cli, &creq);
  peer = (int)srv.conns->tcp.io.fd;
  wr_got = 0;
  CU_ASSERT_EQUAL(vg_read_start(&cli, wr_alloc, wr_read), APR_SUCCESS);
  b.base = wr_chunk;
  b.len = sizeof wr_chunk;
  for (i = 0; i < 4096 && cli.write_queue_size == 0; i++) {
    w[i].req.data = &w[i];
    CU_ASSERT_EQUAL(vg_write(&w[i].req, &cli, &b, 1, wr_cb), APR_SUCCESS);
  }
  CU_ASSERT(cli.write_queue_size > 0);   /* the socket is full */
  vg_test_run_until(loop, &never, 50);    /* the write waits */
  /* The peer takes everything (the rest of the write fits now), then
   * sends: both reach the loop at its next wait. */
  while (recv(peer, tmp, sizeof tmp, MSG_DONTWAIT) > 0)
    ;
  CU_ASSERT_EQUAL(send(peer, "hello", 5, 0), 5);
  vg_test_run_until(loop, &never, 200);
  CU_ASSERT_EQUAL(cli.write_queue_size, 0);
  CU_ASSERT_EQUAL(wr_got, 5);
  vg_close((vg_handle_t *)&cli, NULL);
  server_stop(&srv);
  vg_test_close_loop(loop);
  free(w);
}
#endif

#ifndef _WIN32
/* Bytes already waiting when reading starts, sent by the accepted socket
 * driven directly, and a reader whose read stops short of the end: the
 * epoll backend's edge triggering reports such a stream once, so every
 * byte and the end must come out of that one report. */
static char ew_rbuf[64];
static size_t ew_buflen;        /* what ew_alloc hands out */
static char ew_got[256];
static size_t ew_len;
static int ew_eof;

static void ew_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = ew_rbuf;
  buf->len = ew_buflen;
}

static void ew_read(vg_stream_t *s, apr_status_t status, size_t nread,
                    const vg_buf_t *buf) {
  (void)s;
  if (status != APR_SUCCESS) {
    ew_eof = status == APR_EOF ? 1 : -1;
    return;
  }
  if (nread > sizeof ew_got - ew_len)
    nread = sizeof ew_got - ew_len;
  memcpy(ew_got + ew_len, buf->base, nread);
  ew_len += nread;
}

static int ew_has(void *arg) { return ew_len >= *(size_t *)arg; }

/* Connect, then let the peer's sends arrive before reading starts. */
static int ew_start(vg_loop_t *loop, server_t *srv, vg_tcp_t *cli,
                    vg_connect_t *creq, size_t buflen) {
  server_start(loop, srv, 0);
  connect_pair(loop, srv, cli, creq);
  ew_buflen = buflen;
  ew_len = 0;
  ew_eof = 0;
  return (int)srv->conns->tcp.io.fd;
}

static void ew_settle(vg_loop_t *loop) {
  volatile int never = 0;
  vg_test_run_until(loop, &never, 20);   /* loopback: the bytes are in */
}

/* The peer sends and shuts down before the first read: the read that
 * gets the bytes is short, yet the end waits behind them. */
static void test_eof_behind_bytes(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  vg_tcp_t cli;
  vg_connect_t creq;
  int peer = ew_start(loop, &srv, &cli, &creq, sizeof ew_rbuf);
  CU_ASSERT_EQUAL(send(peer, "hello", 5, 0), 5);
  CU_ASSERT_EQUAL(shutdown(peer, SHUT_WR), 0);
  ew_settle(loop);
  CU_ASSERT_EQUAL(vg_read_start(&cli, ew_alloc, ew_read), APR_SUCCESS);
  CU_ASSERT(vg_test_run_until(loop, &ew_eof, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(ew_eof, 1);
  CU_ASSERT_EQUAL(ew_len, 5);
  CU_ASSERT(memcmp(ew_got, "hello", 5) == 0);
  vg_close((vg_handle_t *)&cli, NULL);
  server_stop(&srv);
  vg_test_close_loop(loop);
}

/* Urgent data: a TCP read stops at its mark with the bytes after it
 * still queued.  The urgent byte itself is out of band (not read). */
static void test_urgent_mark(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  vg_tcp_t cli;
  vg_connect_t creq;
  size_t want = 4;
  int peer = ew_start(loop, &srv, &cli, &creq, sizeof ew_rbuf);
  CU_ASSERT_EQUAL(send(peer, "ab", 2, 0), 2);
  CU_ASSERT_EQUAL(send(peer, "X", 1, MSG_OOB), 1);
  CU_ASSERT_EQUAL(send(peer, "cd", 2, 0), 2);
  ew_settle(loop);
  CU_ASSERT_EQUAL(vg_read_start(&cli, ew_alloc, ew_read), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, ew_has, &want, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(ew_len, 4);
  CU_ASSERT(memcmp(ew_got, "abcd", 4) == 0);
  vg_close((vg_handle_t *)&cli, NULL);
  server_stop(&srv);
  vg_test_close_loop(loop);
}

/* A one-byte buffer: 200 bytes are more than one batch of reads (32),
 * and nothing more comes to report the stream again. */
static void test_more_than_a_batch(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  vg_tcp_t cli;
  vg_connect_t creq;
  char msg[200];
  size_t i, want = sizeof msg;
  int peer = ew_start(loop, &srv, &cli, &creq, 1);
  for (i = 0; i < sizeof msg; i++)
    msg[i] = (char)pattern_byte(i);
  CU_ASSERT_EQUAL(send(peer, msg, sizeof msg, 0), (ssize_t)sizeof msg);
  ew_settle(loop);
  CU_ASSERT_EQUAL(vg_read_start(&cli, ew_alloc, ew_read), APR_SUCCESS);
  CU_ASSERT(vg_test_run_cond(loop, ew_has, &want, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(ew_len, sizeof msg);
  CU_ASSERT(memcmp(ew_got, msg, sizeof msg) == 0);
  vg_close((vg_handle_t *)&cli, NULL);
  server_stop(&srv);
  vg_test_close_loop(loop);
}
#endif

/* ------------------------------------------------------------------------
 * Fault injection on the hot paths.
 * --------------------------------------------------------------------- */

/* Two reads fail with EAGAIN: the stream simply waits for the next
 * readiness; no data is lost or duplicated. */
static void test_read_eagain(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  client_t c;
  server_start(loop, &srv, 1);
  pal_fault_inject(PAL_SYS_READ, APR_EAGAIN, 0, 2);
  client_start(loop, &c, &srv.addr, "survives EAGAIN");
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(pal_fault_fired(PAL_SYS_READ), 2);
  CU_ASSERT_EQUAL(c.connect_status, APR_SUCCESS);
  CU_ASSERT_EQUAL(c.mismatch, 0);
  CU_ASSERT_EQUAL(c.gotlen, c.msglen);
  server_stop(&srv);
  vg_test_close_loop(loop);
}

/* writev fails with EINTR (retried) and then EAGAIN (waits for
 * writability): the echo is intact. */
static void test_write_eintr(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  client_t c, c2;
  server_start(loop, &srv, 1);
  pal_fault_inject(PAL_SYS_WRITEV, APR_EINTR, 0, 2);
  client_start(loop, &c, &srv.addr, "survives EINTR");
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(pal_fault_fired(PAL_SYS_WRITEV), 2);
  CU_ASSERT_EQUAL(c.write_status, APR_SUCCESS);
  CU_ASSERT_EQUAL(c.mismatch, 0);
  CU_ASSERT_EQUAL(c.gotlen, c.msglen);

  pal_fault_clear();
  pal_fault_inject(PAL_SYS_WRITEV, APR_EAGAIN, 0, 1);
  client_start(loop, &c2, &srv.addr, "survives EAGAIN on write");
  CU_ASSERT(vg_test_run_until(loop, &c2.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(pal_fault_fired(PAL_SYS_WRITEV), 1);
  CU_ASSERT_EQUAL(c2.write_status, APR_SUCCESS);
  CU_ASSERT_EQUAL(c2.mismatch, 0);
  CU_ASSERT_EQUAL(c2.gotlen, c2.msglen);
  server_stop(&srv);
  vg_test_close_loop(loop);
}

/* accept fails with EAGAIN once (a connection that vanished before we
 * took it looks like that): the listener keeps going. */
static void test_accept_eagain(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  client_t c;
  server_start(loop, &srv, 1);
  pal_fault_inject(PAL_SYS_ACCEPT, APR_EAGAIN, 0, 1);
  client_start(loop, &c, &srv.addr, "accepted anyway");
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(pal_fault_fired(PAL_SYS_ACCEPT), 1);
  CU_ASSERT_EQUAL(srv.accepted, 1);
  CU_ASSERT_EQUAL(srv.conn_errors, 0);
  CU_ASSERT_EQUAL(c.mismatch, 0);
  CU_ASSERT_EQUAL(c.gotlen, c.msglen);
  server_stop(&srv);
  vg_test_close_loop(loop);
}

/* accept fails with EINTR twice: retried, not reported. */
static void test_accept_eintr(void) {
  vg_loop_t *loop = vg_test_new_loop();
  server_t srv;
  client_t c;
  server_start(loop, &srv, 1);
  pal_fault_inject(PAL_SYS_ACCEPT, APR_EINTR, 0, 2);
  client_start(loop, &c, &srv.addr, "accepted after EINTR");
  CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(pal_fault_fired(PAL_SYS_ACCEPT), 2);
  CU_ASSERT_EQUAL(srv.conn_errors, 0);
  CU_ASSERT_EQUAL(c.mismatch, 0);
  server_stop(&srv);
  vg_test_close_loop(loop);
}

/* IPv6 loopback, when the host has it. */
static void test_echo_ipv6(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_tcp_t s;
  pal_addr_t a;
  apr_status_t rv;
  vg_tcp_init(loop, &s);
  pal_addr_ip(&a, "::1", 0);
  rv = vg_tcp_bind(&s, &a, PAL_BIND_IPV6ONLY);
  vg_close((vg_handle_t *)&s, NULL);
  if (rv != APR_SUCCESS) {
    vg_test_skip("tcp-ipv6", "no IPv6 loopback here (binding ::1 failed)");
    vg_test_close_loop(loop);
    return;
  }
  {
    server_t srv;
    client_t c;
    memset(&srv, 0, sizeof srv);
    srv.loop = loop;
    srv.echo = 1;
    vg_tcp_init(loop, &srv.tcp);
    srv.tcp.data = &srv;
    pal_addr_ip(&srv.addr, "::1", 0);
    CU_ASSERT_EQUAL_FATAL(vg_tcp_bind(&srv.tcp, &srv.addr, 0), APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(vg_listen(&srv.tcp, 16, on_connection),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(vg_tcp_sockname(&srv.tcp, &srv.addr),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL(pal_addr_family(&srv.addr), PAL_AF_INET6);
    client_start(loop, &c, &srv.addr, "over v6");
    CU_ASSERT(vg_test_run_until(loop, &c.done, VG_TEST_WAIT_MS));
    CU_ASSERT_EQUAL(c.connect_status, APR_SUCCESS);
    CU_ASSERT_EQUAL(c.mismatch, 0);
    server_stop(&srv);
  }
  vg_test_close_loop(loop);
}

static CU_TestInfo tcp_tests[] = {
    {"echo", test_echo},
    {"addresses", test_addresses},
    {"shutdown_eof", test_shutdown_eof},
    {"try_write", test_try_write},
    {"write_queue_backpressure", test_write_queue_backpressure},
    {"close_cancels_writes", test_close_cancels_writes},
    {"connect_refused", test_connect_refused},
    {"close_while_connecting", test_close_while_connecting},
    {"thousand_connections", test_thousand_connections},
    {"read_stop_start", test_read_stop_start},
#ifndef _WIN32
    {"writable_and_read_together", test_writable_and_read_together},
    {"eof_behind_bytes", test_eof_behind_bytes},
    {"urgent_mark", test_urgent_mark},
    {"more_than_a_batch", test_more_than_a_batch},
#endif
    {"read_eagain", test_read_eagain},
    {"write_eintr_eagain", test_write_eintr},
    {"accept_eagain", test_accept_eagain},
    {"accept_eintr", test_accept_eintr},
    {"echo_ipv6", test_echo_ipv6},
    CU_TEST_INFO_NULL};

CU_SuiteInfo tcp_suite = {
    .pName = "tcp",
    .pInitFunc = NULL,
    .pCleanupFunc = vg_test_fault_clean,
    .pSetUpFunc = vg_test_fault_reset,
    .pTearDownFunc = vg_test_fault_reset,
    .pTests = tcp_tests};
