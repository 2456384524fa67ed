/*
 * test_probe.c -- services/probe.c: TCP probes against real loopback
 * listeners, by address and by name (resolved at each check; a name that
 * does not resolve says why), the reason of a refused connect, HTTP probes against this file's own small server (normal,
 * redirect, error, garbage, 1-byte pieces, interim 1xx, silent, closing),
 * exec probes on `run_tests --child` (exit codes, signals, timeouts,
 * missing programs), cancellation (in flight, twice, from other
 * callbacks, while finishing), reuse from inside the callback, and the
 * exactly-once callback rule.
 *
 * Only loopback addresses are used.  Time bounds are upper bounds, and
 * generous: a slow machine makes no test fail.
 *
 * The target parsers have their own suite (tests/test_target.c).
 *
 * Map: 1. helpers; 2. TCP; 3. the HTTP server and HTTP tests; 4. exec;
 *      5. cancel and reuse; 6. the suite table.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_time.h>

#include "svc_probe.h"
#include "test.h"

static char self_path[4096];

static int suite_init(void) {
#ifdef _WIN32
  /* vg_test_self is the module's absolute path already (run_tests.c). */
  snprintf(self_path, sizeof self_path, "%s", vg_test_self);
  return 0;
#else
  return realpath(vg_test_self, self_path) ? 0 : -1;
#endif
}

/* ------------------------------------------------------------------------
 * 1. Helpers
 * --------------------------------------------------------------------- */

/* What a probe callback saw. */
typedef struct {
  int calls;
  apr_status_t rv;
  int busy_in_cb;
  char detail[SVC_PROBE_DETAIL_MAX];
} result_t;

static void record_cb(svc_probe_t *p, apr_status_t rv, const char *detail) {
  result_t *r = p->data;
  r->calls++;
  r->rv = rv;
  r->busy_in_cb = svc_probe_busy(p);
  snprintf(r->detail, sizeof r->detail, "%s", detail ? detail : "(null)");
  svc_probe_cancel(p);   /* idle here: must be a no-op */
}

static void probe_prepare(svc_probe_t *p, result_t *r) {
  memset(r, 0, sizeof *r);
  svc_probe_init(p);
  p->data = r;
}

/* Run until the probe has answered; then a few more iterations to catch
 * a second (forbidden) callback. */
static void wait_result(vg_loop_t *loop, result_t *r) {
  int i;
  vg_test_run_until(loop, &r->calls, VG_TEST_WAIT_MS);
  for (i = 0; i < 3; i++)
    vg_run(loop, VG_RUN_NOWAIT);
}

/* A listener on 127.0.0.1 (or ::1) with an ephemeral port that accepts
 * and immediately closes what comes in (count kept). */
typedef struct {
  vg_tcp_t tcp;
  vg_tcp_t conns[8];
  int accepted;
  int port;
} listener_t;

static void listener_conn(vg_stream_t *server, apr_status_t status) {
  listener_t *l = server->data;
  if (status != APR_SUCCESS)
    return;
  if (l->accepted < 8) {
    vg_tcp_t *c = &l->conns[l->accepted++];
    vg_tcp_init(server->loop, c);
    vg_accept(server, c);
    vg_close((vg_handle_t *)c, NULL);   /* accepted or not */
  }
}

static apr_status_t listener_open(vg_loop_t *loop, listener_t *l,
                                  const char *ip) {
  vg_addr_t addr;
  apr_status_t rv;
  memset(l, 0, sizeof *l);
  vg_tcp_init(loop, &l->tcp);
  l->tcp.data = l;
  if ((rv = vg_addr_ip(&addr, ip, 0)) != APR_SUCCESS ||
      (rv = vg_tcp_bind(&l->tcp, &addr, 0)) != APR_SUCCESS ||
      (rv = vg_listen(&l->tcp, 16, listener_conn)) != APR_SUCCESS ||
      (rv = vg_tcp_sockname(&l->tcp, &addr)) != APR_SUCCESS)
    return rv;
  l->port = vg_addr_port(&addr);
  return APR_SUCCESS;
}

/* A port that refuses: bind, note, close. */
static int closed_port(vg_loop_t *loop) {
  listener_t l;
  int port;
  CU_ASSERT_EQUAL_FATAL(listener_open(loop, &l, "127.0.0.1"), APR_SUCCESS);
  port = l.port;
  vg_close((vg_handle_t *)&l.tcp, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  return port;
}

/* "connect ADDR: <the system's message for a refused connection>". */
static void expect_connect_refused(const result_t *r, const char *addr) {
  char want[160], msg[96];
  snprintf(want, sizeof want, "connect %s: %s", addr,
           vg_strerror(r->rv, msg, sizeof msg));
  CU_ASSERT_STRING_EQUAL(r->detail, want);
}

/* ------------------------------------------------------------------------
 * 2. TCP
 * --------------------------------------------------------------------- */

static void test_tcp_ok(void) {
  vg_loop_t *loop = vg_test_new_loop();
  listener_t l;
  svc_probe_t p;
  result_t r;
  char target[64];

  CU_ASSERT_EQUAL_FATAL(listener_open(loop, &l, "127.0.0.1"), APR_SUCCESS);
  probe_prepare(&p, &r);
  CU_ASSERT_FALSE(svc_probe_busy(&p));
  snprintf(target, sizeof target, "127.0.0.1:%d", l.port);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, target, 5000, record_cb),
                  APR_SUCCESS);
  CU_ASSERT_TRUE(svc_probe_busy(&p));
  CU_ASSERT_EQUAL(r.calls, 0);   /* never from inside the start call */
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_EQUAL(r.rv, APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(r.detail, "connected");
  CU_ASSERT_FALSE(r.busy_in_cb);
  CU_ASSERT_FALSE(svc_probe_busy(&p));

  /* Same probe again, through the name "localhost" (resolved: its IPv6
   * address, if it has one, refuses, and the next is tried), without a
   * time limit. */
  r.calls = 0;
  snprintf(target, sizeof target, "localhost:%d", l.port);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, target, 0, record_cb),
                  APR_SUCCESS);
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_EQUAL(r.rv, APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(r.detail, "connected");
  vg_test_close_loop(loop);
}

static void test_tcp_ipv6(void) {
  vg_loop_t *loop = vg_test_new_loop();
  listener_t l;
  svc_probe_t p;
  result_t r;
  char target[64];

  if (listener_open(loop, &l, "::1") != APR_SUCCESS) {
    vg_test_skip("probe-ipv6", "no IPv6 loopback here (listening on ::1 "
                 "failed)");
    vg_test_close_loop(loop);
    return;
  }
  probe_prepare(&p, &r);
  snprintf(target, sizeof target, "[::1]:%d", l.port);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, target, 5000, record_cb),
                  APR_SUCCESS);
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_EQUAL(r.rv, APR_SUCCESS);
  vg_test_close_loop(loop);
}

static void test_tcp_refused(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_probe_t p;
  result_t r;
  char target[64];

  probe_prepare(&p, &r);
  snprintf(target, sizeof target, "127.0.0.1:%d", closed_port(loop));
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, target, 5000, record_cb),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(r.calls, 0);
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_TRUE(APR_STATUS_IS_ECONNREFUSED(r.rv));
  expect_connect_refused(&r, target);
  vg_test_close_loop(loop);
}

/* A name with several addresses (localhost: ::1 and 127.0.0.1 where the
 * hosts file lists both) and a server on the last one only: the probe
 * goes on to the next address after a refusal. */
static void test_tcp_next_address(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_addr_t addrs[8];
  size_t n = 0;
  listener_t l;
  svc_probe_t p;
  result_t r;
  char ip[64], target[64];
  size_t len;

  if (pal_addr_resolve("localhost", 1, 0, addrs, 8, &n) != APR_SUCCESS ||
      n < 2) {
    fprintf(stderr, "\n  NOT RUN: localhost has %u address(es) here, the "
            "test needs 2\n", (unsigned)n);
    vg_test_close_loop(loop);
    return;
  }
  /* "127.0.0.1:1" or "[::1]:1" -> the bare address. */
  vg_addr_format(&addrs[n - 1], ip, sizeof ip);
  len = strlen(ip) - 2;
  ip[len] = '\0';
  if (ip[0] == '[') {
    memmove(ip, ip + 1, len);
    ip[len - 2] = '\0';
  }
  CU_ASSERT_EQUAL_FATAL(listener_open(loop, &l, ip), APR_SUCCESS);
  probe_prepare(&p, &r);
  snprintf(target, sizeof target, "localhost:%d", l.port);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, target, 5000, record_cb),
                  APR_SUCCESS);
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_EQUAL(r.rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(l.accepted, 1);
  vg_test_close_loop(loop);
}

/* RFC 6761: no name under .invalid exists.  The detail names the host
 * and gives the resolver's reason. */
static void test_tcp_unresolvable(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_probe_t p;
  result_t r;
  const char *pre = "resolve no-such-host.vigil-test.invalid: ";

  probe_prepare(&p, &r);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop,
                                "no-such-host.vigil-test.invalid:80", 5000,
                                record_cb),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(r.calls, 0);
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_NOT_EQUAL(r.rv, APR_SUCCESS);
  if (r.rv == APR_TIMEUP) {
    /* No DNS server answered within 5 s: that is said too. */
    CU_ASSERT_STRING_EQUAL(r.detail, "timed out after 5000 ms resolving "
                                     "no-such-host.vigil-test.invalid");
  } else {
    CU_ASSERT_EQUAL(strncmp(r.detail, pre, strlen(pre)), 0);
    CU_ASSERT(strlen(r.detail) > strlen(pre));
  }
  fprintf(stderr, "\n  %s\n", r.detail);
  vg_test_close_loop(loop);
}

static void block_work(vg_work_t *w) {
  (void)w;
  apr_sleep(apr_time_from_msec(1500));
}

/* The resolution cannot start (the one pool thread is busy): the probe's
 * time limit still holds, says where it was, and the probe is delivered
 * without waiting for the pool. */
static void test_timeout_while_resolving(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_work_t blocker;
  svc_probe_t p;
  result_t r;
  apr_time_t t0;

  CU_ASSERT_EQUAL(vg_loop_set_pool_size(loop, 1), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_queue_work(loop, &blocker, block_work, NULL),
                  APR_SUCCESS);
  probe_prepare(&p, &r);
  t0 = apr_time_now();
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, "localhost:80", 100, record_cb),
                  APR_SUCCESS);
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_EQUAL(r.rv, APR_TIMEUP);
  CU_ASSERT_STRING_EQUAL(r.detail,
                         "timed out after 100 ms resolving localhost");
  CU_ASSERT(apr_time_now() - t0 < apr_time_from_msec(1400));
  vg_test_close_loop(loop);   /* waits for the blocker */
}

/* Cancelled while its name is being resolved. */
static void test_cancel_while_resolving(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_probe_t p;
  result_t r;

  probe_prepare(&p, &r);
  CU_ASSERT_EQUAL(svc_probe_http(&p, loop, "http://localhost:1/", 5000,
                                 record_cb),
                  APR_SUCCESS);
  svc_probe_cancel(&p);
  CU_ASSERT_EQUAL(r.calls, 0);
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_EQUAL(r.rv, VG_ECANCELED);
  CU_ASSERT_STRING_EQUAL(r.detail, "canceled");
  vg_test_close_loop(loop);
}

static void test_bad_arguments(void) {
  vg_loop_t *loop = vg_test_new_loop();
  static const char *const empty_argv[] = {NULL};
  svc_probe_t p;
  result_t r;

  probe_prepare(&p, &r);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, "bad..name:80", 100, record_cb),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, "127.1:80", 100, record_cb),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, NULL, 100, record_cb), APR_EINVAL);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, "127.0.0.1:1", 100, NULL),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(svc_probe_http(&p, loop, "https://127.0.0.1/", 100,
                                 record_cb),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(svc_probe_exec(&p, loop, empty_argv, NULL, NULL, 100,
                                 record_cb),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(svc_probe_exec(&p, loop, NULL, NULL, NULL, 100, record_cb),
                  APR_EINVAL);
  CU_ASSERT_FALSE(svc_probe_busy(&p));
  vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(r.calls, 0);
  svc_probe_cancel(&p);   /* idle: no-op */
  vg_run(loop, VG_RUN_NOWAIT);
  CU_ASSERT_EQUAL(r.calls, 0);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * 3. HTTP: a server whose connections read the request, then act.
 * --------------------------------------------------------------------- */

typedef enum {
  H_REPLY,      /* write `reply` at once, then close */
  H_DRIP,       /* write `reply` one byte per timer tick, then close */
  H_SILENT,     /* never answer, keep the connection open */
  H_CLOSE       /* close without a word */
} hmode_t;

#define HCONNS 4

typedef struct hserver_s hserver_t;

typedef struct {
  vg_tcp_t tcp;
  vg_timer_t drip;
  vg_write_t wreq;
  hserver_t *srv;
  char rbuf[1024];
  char req[2048];
  size_t req_len;
  size_t sent;
  int acted;
  int open;
} hconn_t;

struct hserver_s {
  vg_tcp_t tcp;
  vg_loop_t *loop;
  hconn_t conns[HCONNS];
  int nconns;
  int port;
  hmode_t mode;
  const char *reply;
  int requests;          /* complete requests received */
};

static void hconn_close(hconn_t *c) {
  if (!c->open)
    return;
  c->open = 0;
  vg_close((vg_handle_t *)&c->tcp, NULL);
  vg_close((vg_handle_t *)&c->drip, NULL);
}

static void hconn_written(vg_write_t *req, apr_status_t status);

static void hconn_drip(vg_timer_t *t) {
  hconn_t *c = t->data;
  vg_buf_t b;
  b.base = (char *)c->srv->reply + c->sent;
  b.len = 1;
  if (vg_write(&c->wreq, &c->tcp, &b, 1, hconn_written) != APR_SUCCESS)
    hconn_close(c);
}

static void hconn_written(vg_write_t *req, apr_status_t status) {
  hconn_t *c = req->data;
  if (!c->open)
    return;
  if (status != APR_SUCCESS) {
    hconn_close(c);
    return;
  }
  if (c->srv->mode == H_DRIP) {
    c->sent++;
    if (c->srv->reply[c->sent] != '\0') {
      vg_timer_start(&c->drip, hconn_drip, 2, 0);
      return;
    }
  }
  hconn_close(c);
}

static void hconn_act(hconn_t *c) {
  hserver_t *s = c->srv;
  vg_buf_t b;
  c->acted = 1;
  s->requests++;
  switch (s->mode) {
  case H_REPLY:
    b.base = (char *)s->reply;
    b.len = strlen(s->reply);
    if (vg_write(&c->wreq, &c->tcp, &b, 1, hconn_written) != APR_SUCCESS)
      hconn_close(c);
    break;
  case H_DRIP:
    vg_timer_start(&c->drip, hconn_drip, 2, 0);
    break;
  case H_SILENT:
    break;
  case H_CLOSE:
    hconn_close(c);
    break;
  }
}

static void hconn_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  hconn_t *c = h->data;
  (void)suggested;
  buf->base = c->rbuf;
  buf->len = sizeof c->rbuf;
}

static void hconn_read(vg_stream_t *st, apr_status_t status, size_t nread,
                       const vg_buf_t *buf) {
  hconn_t *c = st->data;
  if (status != APR_SUCCESS) {
    hconn_close(c);
    return;
  }
  if (nread > sizeof c->req - 1 - c->req_len)
    nread = sizeof c->req - 1 - c->req_len;
  memcpy(c->req + c->req_len, buf->base, nread);
  c->req_len += nread;
  c->req[c->req_len] = '\0';
  if (!c->acted && strstr(c->req, "\r\n\r\n"))
    hconn_act(c);
}

static void hserver_conn(vg_stream_t *server, apr_status_t status) {
  hserver_t *s = server->data;
  hconn_t *c;
  if (status != APR_SUCCESS || s->nconns >= HCONNS)
    return;
  c = &s->conns[s->nconns++];
  memset(c, 0, sizeof *c);
  c->srv = s;
  vg_tcp_init(s->loop, &c->tcp);
  vg_timer_init(s->loop, &c->drip);
  c->tcp.data = c->drip.data = c->wreq.data = c;
  c->open = 1;
  if (vg_accept(server, &c->tcp) != APR_SUCCESS ||
      vg_read_start(&c->tcp, hconn_alloc, hconn_read) != APR_SUCCESS)
    hconn_close(c);
}

static void hserver_open(vg_loop_t *loop, hserver_t *s, hmode_t mode,
                         const char *reply) {
  vg_addr_t addr;
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->mode = mode;
  s->reply = reply;
  vg_tcp_init(loop, &s->tcp);
  s->tcp.data = s;
  CU_ASSERT_EQUAL_FATAL(vg_addr_ip(&addr, "127.0.0.1", 0), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_bind(&s->tcp, &addr, 0), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_listen(&s->tcp, 16, hserver_conn), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_tcp_sockname(&s->tcp, &addr), APR_SUCCESS);
  s->port = vg_addr_port(&addr);
}

/* One HTTP probe of `path` against a fresh server; returns the result. */
static void http_once(hmode_t mode, const char *reply, const char *path,
                      uint64_t timeout_ms, result_t *r, hserver_t *s,
                      vg_loop_t *loop) {
  svc_probe_t p;
  char url[128];

  hserver_open(loop, s, mode, reply);
  probe_prepare(&p, r);
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
  CU_ASSERT_EQUAL_FATAL(svc_probe_http(&p, loop, url, timeout_ms,
                                       record_cb),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL(r->calls, 0);
  wait_result(loop, r);
  CU_ASSERT_EQUAL(r->calls, 1);
  CU_ASSERT_FALSE(svc_probe_busy(&p));
}

static void test_http_replies(void) {
  static const struct {
    hmode_t mode;
    const char *reply;
    int ok;
    const char *detail;   /* NULL: don't check */
  } cases[] = {
      {H_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1,
       "HTTP 200"},
      {H_REPLY, "HTTP/1.1 204 No Content\r\n\r\n", 1, "HTTP 204"},
      {H_REPLY, "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", 1, "HTTP 302"},
      {H_REPLY, "HTTP/1.0 200 OK\r\n\r\n", 1, "HTTP 200"},
      {H_REPLY, "HTTP/1.1 200\r\n\r\n", 1, "HTTP 200"},
      {H_REPLY, "HTTP/1.1 200 OK\n\n", 1, "HTTP 200"},
      {H_REPLY, "HTTP/1.1 399 Odd\r\n\r\n", 1, "HTTP 399"},
      {H_REPLY, "HTTP/1.1 400 Bad Request\r\n\r\n", 0, "HTTP 400"},
      {H_REPLY, "HTTP/1.1 404 Not Found\r\n\r\n", 0, "HTTP 404"},
      {H_REPLY, "HTTP/1.1 503 Service Unavailable\r\n\r\n", 0, "HTTP 503"},
      {H_REPLY, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 1,
       "HTTP 200"},
      {H_REPLY,
       "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
       "HTTP/1.1 500 Oops\r\n\r\n",
       0, "HTTP 500"},
      {H_REPLY, "HTTP/1.1 101 Switching Protocols\r\n\r\n", 0, "HTTP 101"},
      {H_REPLY, "SSH-2.0-OpenSSH_9.2\r\n", 0, "bad HTTP reply"},
      {H_REPLY, "hello", 0, "bad HTTP reply"},
      {H_REPLY, "HTTP/2 200\r\n\r\n", 0, "bad HTTP reply"},
      {H_REPLY, "HTTP/1.1 2000 OK\r\n\r\n", 0, "bad HTTP reply"},
      {H_REPLY, "HTTP/1.1 abc OK\r\n\r\n", 0, "bad HTTP reply"},
      {H_REPLY, "HTTP/1.1 200", 0, NULL},   /* then EOF */
      {H_DRIP, "HTTP/1.1 200 OK\r\n\r\n", 1, "HTTP 200"},
      {H_DRIP, "HTTP/1.0 503 Busy\r\n\r\n", 0, "HTTP 503"},
      {H_DRIP, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 301 Moved\r\n\r\n", 1,
       "HTTP 301"},
      {H_CLOSE, NULL, 0, "connection closed without a reply"},
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    vg_loop_t *loop = vg_test_new_loop();
    hserver_t s;
    result_t r;
    http_once(cases[i].mode, cases[i].reply, "/health", 5000, &r, &s, loop);
    if ((r.rv == APR_SUCCESS) != cases[i].ok ||
        (cases[i].detail && strcmp(r.detail, cases[i].detail) != 0))
      fprintf(stderr, "\n  http case %u: rv %d detail '%s'\n", (unsigned)i,
              r.rv, r.detail);
    CU_ASSERT_EQUAL(r.rv == APR_SUCCESS, cases[i].ok);
    if (!cases[i].ok)
      CU_ASSERT_NOT_EQUAL(r.rv, VG_ECANCELED);
    if (cases[i].detail)
      CU_ASSERT_STRING_EQUAL(r.detail, cases[i].detail);
    CU_ASSERT_EQUAL(s.requests, 1);
    vg_test_close_loop(loop);
  }
}

static void test_http_request_format(void) {
  vg_loop_t *loop = vg_test_new_loop();
  hserver_t s;
  result_t r;
  char want[512];

  http_once(H_REPLY, "HTTP/1.1 200 OK\r\n\r\n", "/health?full=1#x", 5000,
            &r, &s, loop);
  CU_ASSERT_EQUAL(r.rv, APR_SUCCESS);
  snprintf(want, sizeof want,
           "GET /health?full=1 HTTP/1.1\r\n"
           "Host: 127.0.0.1:%d\r\n"
           "User-Agent: vigil/%d.%d\r\n"
           "Connection: close\r\n"
           "\r\n",
           s.port, VG_VERSION_MAJOR, VG_VERSION_MINOR);
  CU_ASSERT_EQUAL_FATAL(s.nconns, 1);
  CU_ASSERT_STRING_EQUAL(s.conns[0].req, want);
  vg_test_close_loop(loop);
}

static void test_http_too_long(void) {
  static char reply[SVC_PROBE_REPLY_MAX + 64];
  vg_loop_t *loop = vg_test_new_loop();
  hserver_t s;
  result_t r;

  memcpy(reply, "HTTP/1.1 200 ", 13);
  memset(reply + 13, 'x', sizeof reply - 14);
  reply[sizeof reply - 1] = '\0';   /* no newline within the bound */
  http_once(H_REPLY, reply, "/", 5000, &r, &s, loop);
  CU_ASSERT_EQUAL(r.rv, APR_EGENERAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.detail, "too long"));
  vg_test_close_loop(loop);
}

static void test_http_timeout(void) {
  vg_loop_t *loop = vg_test_new_loop();
  hserver_t s;
  result_t r;
  uint64_t t0 = vg_now(loop);

  http_once(H_SILENT, NULL, "/", 200, &r, &s, loop);
  CU_ASSERT_EQUAL(r.rv, APR_TIMEUP);
  CU_ASSERT_STRING_EQUAL(r.detail, "timed out after 200 ms");
  CU_ASSERT_TRUE(vg_now(loop) - t0 < 5000);
  CU_ASSERT_EQUAL(s.requests, 1);
  vg_test_close_loop(loop);
}

static void test_http_refused(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_probe_t p;
  result_t r;
  char url[64];

  probe_prepare(&p, &r);
  snprintf(url, sizeof url, "http://localhost:%d/", closed_port(loop));
  CU_ASSERT_EQUAL(svc_probe_http(&p, loop, url, 5000, record_cb),
                  APR_SUCCESS);
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_TRUE(APR_STATUS_IS_ECONNREFUSED(r.rv));
  /* localhost resolved: the address that refused last is named. */
  CU_ASSERT_EQUAL(strncmp(r.detail, "connect ", 8), 0);
  CU_ASSERT(strstr(r.detail, "127.0.0.1:") != NULL ||
            strstr(r.detail, "[::1]:") != NULL);
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * 4. exec
 * --------------------------------------------------------------------- */

/* Run one exec probe on a new loop.  *pid (if not NULL) gets the child's
 * pid, or 0 if the spawn failed; *elapsed the loop time it took. */
static void exec_once(const char *const *argv, const char *const *env,
                      const char *cwd, uint64_t timeout_ms, result_t *r,
                      uint64_t *elapsed, long *pid) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_probe_t p;
  uint64_t t0 = vg_now(loop);

  probe_prepare(&p, r);
  CU_ASSERT_EQUAL_FATAL(svc_probe_exec(&p, loop, argv, env, cwd, timeout_ms,
                                       record_cb),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL(r->calls, 0);
  if (pid)
    *pid = p.proc.pid;   /* private, peeked at for the test only */
  wait_result(loop, r);
  CU_ASSERT_EQUAL(r->calls, 1);
  CU_ASSERT_FALSE(svc_probe_busy(&p));
  if (elapsed)
    *elapsed = vg_now(loop) - t0;
  vg_test_close_loop(loop);
}

static void test_exec_exit_codes(void) {
  const char *ok[] = {self_path, "--child", "exit", "0", NULL};
  const char *two[] = {self_path, "--child", "exit", "2", NULL};
  const char *sig[] = {self_path, "--child", "kill-self", "TERM", NULL};
  result_t r;

  exec_once(ok, NULL, NULL, 10000, &r, NULL, NULL);
  CU_ASSERT_EQUAL(r.rv, APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(r.detail, "exit 0");

  exec_once(two, NULL, NULL, 10000, &r, NULL, NULL);
  CU_ASSERT_EQUAL(r.rv, APR_EGENERAL);
  CU_ASSERT_STRING_EQUAL(r.detail, "exit 2");

  /* Windows: no signal kills a process; the child's raise(SIGTERM) is
   * the C runtime's _exit(3), reported as an exit code. */
  exec_once(sig, NULL, NULL, 0, &r, NULL, NULL);
  CU_ASSERT_EQUAL(r.rv, APR_EGENERAL);
#ifdef _WIN32
  CU_ASSERT_STRING_EQUAL(r.detail, "exit 3");
#else
  CU_ASSERT_STRING_EQUAL(r.detail, "killed by signal TERM");
#endif
}

static void test_exec_timeout(void) {
  const char *argv[] = {self_path, "--child", "sleep", "5000", NULL};
  result_t r;
  uint64_t elapsed = 0;

  long pid = 0;

  exec_once(argv, NULL, NULL, 200, &r, &elapsed, &pid);
  CU_ASSERT_EQUAL(r.rv, APR_TIMEUP);
  CU_ASSERT_STRING_EQUAL(r.detail, "timed out after 200 ms");
  CU_ASSERT_TRUE(elapsed < 4000);   /* killed, not waited for */
  /* Killed and reaped before the callback: the pid is gone. */
  CU_ASSERT_TRUE(pid > 0);
  CU_ASSERT_FALSE(vg_test_pid_alive(pid));
}

static void test_exec_spawn_errors(void) {
  const char *missing[] = {"/nonexistent/vigil-probe-none", NULL};
  const char *unfound[] = {"vigil-probe-no-such-program", NULL};
  const char *sh[] = {"sh", "-c", "exit 0", NULL};
  const char *env[] = {"PATH=/nonexistent", NULL};
  const char *ok[] = {self_path, "--child", "exit", "0", NULL};
  result_t r;

  exec_once(missing, NULL, NULL, 5000, &r, NULL, NULL);
  CU_ASSERT_TRUE(APR_STATUS_IS_ENOENT(r.rv));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.detail,
                                "exec /nonexistent/vigil-probe-none: "));

  exec_once(unfound, NULL, NULL, 5000, &r, NULL, NULL);
  CU_ASSERT_TRUE(APR_STATUS_IS_ENOENT(r.rv));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.detail, "vigil-probe-no-such-program"));

  /* env is passed: PATH from it finds no "sh". */
  exec_once(sh, env, NULL, 5000, &r, NULL, NULL);
  CU_ASSERT_TRUE(APR_STATUS_IS_ENOENT(r.rv));

  /* A working directory that does not exist. */
  exec_once(ok, NULL, "/nonexistent/vigil-probe-dir", 5000, &r, NULL, NULL);
  CU_ASSERT_NOT_EQUAL(r.rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(strncmp(r.detail, "exec ", 5), 0);
}

/* ------------------------------------------------------------------------
 * 5. Cancel and reuse
 * --------------------------------------------------------------------- */

static void test_cancel_http_in_flight(void) {
  vg_loop_t *loop = vg_test_new_loop();
  hserver_t s;
  svc_probe_t p;
  result_t r;
  char url[64];

  hserver_open(loop, &s, H_SILENT, NULL);
  probe_prepare(&p, &r);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
  CU_ASSERT_EQUAL(svc_probe_http(&p, loop, url, 0, record_cb), APR_SUCCESS);
  /* Wait until the server holds the request: the probe is reading. */
  vg_test_run_until(loop, &s.requests, VG_TEST_WAIT_MS);
  CU_ASSERT_EQUAL_FATAL(s.requests, 1);
  CU_ASSERT_EQUAL(svc_probe_http(&p, loop, url, 0, record_cb), VG_EBUSY);
  svc_probe_cancel(&p);
  svc_probe_cancel(&p);   /* twice: ignored */
  CU_ASSERT_EQUAL(r.calls, 0);   /* never from inside cancel */
  CU_ASSERT_TRUE(svc_probe_busy(&p));
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_EQUAL(r.rv, VG_ECANCELED);
  CU_ASSERT_STRING_EQUAL(r.detail, "canceled");
  CU_ASSERT_FALSE(svc_probe_busy(&p));
  vg_test_close_loop(loop);
}

static void test_cancel_before_connect(void) {
  vg_loop_t *loop = vg_test_new_loop();
  listener_t l;
  svc_probe_t p;
  result_t r;
  char target[64];

  CU_ASSERT_EQUAL_FATAL(listener_open(loop, &l, "127.0.0.1"), APR_SUCCESS);
  probe_prepare(&p, &r);
  snprintf(target, sizeof target, "127.0.0.1:%d", l.port);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, target, 5000, record_cb),
                  APR_SUCCESS);
  svc_probe_cancel(&p);   /* connect still pending */
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_EQUAL(r.rv, VG_ECANCELED);
  vg_test_close_loop(loop);
}

/* A spawn failure decides the result inside the start call; a cancel
 * before delivery still wins. */
static void test_cancel_while_finishing(void) {
  vg_loop_t *loop = vg_test_new_loop();
  const char *missing[] = {"/nonexistent/vigil-probe-none", NULL};
  svc_probe_t p;
  result_t r;

  probe_prepare(&p, &r);
  CU_ASSERT_EQUAL(svc_probe_exec(&p, loop, missing, NULL, NULL, 5000,
                                 record_cb),
                  APR_SUCCESS);
  CU_ASSERT_TRUE(svc_probe_busy(&p));
  svc_probe_cancel(&p);
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_EQUAL(r.rv, VG_ECANCELED);
  vg_test_close_loop(loop);
}

static void test_cancel_exec(void) {
  vg_loop_t *loop = vg_test_new_loop();
  const char *argv[] = {self_path, "--child", "sleep", "5000", NULL};
  svc_probe_t p;
  result_t r;
  long pid;
  int never = 0;
  uint64_t t0 = vg_now(loop);

  probe_prepare(&p, &r);
  CU_ASSERT_EQUAL(svc_probe_exec(&p, loop, argv, NULL, NULL, 0, record_cb),
                  APR_SUCCESS);
  pid = p.proc.pid;   /* private, peeked at for the test only */
  CU_ASSERT_TRUE(pid > 0);
  vg_test_run_until(loop, &never, 100);
  CU_ASSERT_EQUAL(r.calls, 0);
  svc_probe_cancel(&p);
  CU_ASSERT_EQUAL(r.calls, 0);
  wait_result(loop, &r);
  CU_ASSERT_EQUAL(r.calls, 1);
  CU_ASSERT_EQUAL(r.rv, VG_ECANCELED);
  CU_ASSERT_TRUE(vg_now(loop) - t0 < 4000);
  /* Killed and reaped before the callback: the pid is gone. */
  CU_ASSERT_FALSE(vg_test_pid_alive(pid));
  vg_test_close_loop(loop);
}

/* Cancel from inside unrelated callbacks: a timer, and the callback of
 * another probe. */
typedef struct {
  svc_probe_t *victim;
} canceller_t;

static void cancel_from_timer(vg_timer_t *t) {
  canceller_t *c = t->data;
  svc_probe_cancel(c->victim);
  vg_close((vg_handle_t *)t, NULL);
}

static result_t other_r;
static svc_probe_t *other_victim;
static void cancel_other_cb(svc_probe_t *p, apr_status_t rv,
                            const char *detail) {
  record_cb(p, rv, detail);
  svc_probe_cancel(other_victim);
}

static void test_cancel_from_callbacks(void) {
  vg_loop_t *loop = vg_test_new_loop();
  const char *sleeper[] = {self_path, "--child", "sleep", "5000", NULL};
  listener_t l;
  svc_probe_t a, b;
  result_t ra, rb;
  vg_timer_t t;
  canceller_t c;
  char target[64];

  /* A timer cancels a sleeping exec probe. */
  probe_prepare(&a, &ra);
  CU_ASSERT_EQUAL(svc_probe_exec(&a, loop, sleeper, NULL, NULL, 0,
                                 record_cb),
                  APR_SUCCESS);
  c.victim = &a;
  vg_timer_init(loop, &t);
  t.data = &c;
  vg_timer_start(&t, cancel_from_timer, 50, 0);
  wait_result(loop, &ra);
  CU_ASSERT_EQUAL(ra.calls, 1);
  CU_ASSERT_EQUAL(ra.rv, VG_ECANCELED);

  /* A TCP probe's callback cancels an exec probe. */
  CU_ASSERT_EQUAL_FATAL(listener_open(loop, &l, "127.0.0.1"), APR_SUCCESS);
  snprintf(target, sizeof target, "127.0.0.1:%d", l.port);
  probe_prepare(&a, &ra);
  probe_prepare(&b, &rb);
  memset(&other_r, 0, sizeof other_r);
  CU_ASSERT_EQUAL(svc_probe_exec(&a, loop, sleeper, NULL, NULL, 0,
                                 record_cb),
                  APR_SUCCESS);
  other_victim = &a;
  CU_ASSERT_EQUAL(svc_probe_tcp(&b, loop, target, 5000, cancel_other_cb),
                  APR_SUCCESS);
  wait_result(loop, &rb);
  wait_result(loop, &ra);
  CU_ASSERT_EQUAL(rb.calls, 1);
  CU_ASSERT_EQUAL(rb.rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(ra.calls, 1);
  CU_ASSERT_EQUAL(ra.rv, VG_ECANCELED);
  vg_test_close_loop(loop);
}

/* The callback restarts the probe on itself, three times. */
typedef struct {
  result_t r;
  char target[64];
  int rounds;
  apr_status_t restart_rv;
} chain_t;

static void chain_cb(svc_probe_t *p, apr_status_t rv, const char *detail) {
  chain_t *c = p->data;
  c->r.calls++;
  c->r.rv = rv;
  snprintf(c->r.detail, sizeof c->r.detail, "%s", detail);
  if (rv == APR_SUCCESS && ++c->rounds < 3) {
    c->restart_rv = svc_probe_tcp(p, p->loop, c->target, 5000, chain_cb);
    if (c->restart_rv == APR_SUCCESS)
      c->r.calls--;   /* not done yet */
  }
}

static void test_reuse_from_callback(void) {
  vg_loop_t *loop = vg_test_new_loop();
  listener_t l;
  svc_probe_t p;
  chain_t c;

  CU_ASSERT_EQUAL_FATAL(listener_open(loop, &l, "127.0.0.1"), APR_SUCCESS);
  memset(&c, 0, sizeof c);
  svc_probe_init(&p);
  p.data = &c;
  snprintf(c.target, sizeof c.target, "127.0.0.1:%d", l.port);
  CU_ASSERT_EQUAL(svc_probe_tcp(&p, loop, c.target, 5000, chain_cb),
                  APR_SUCCESS);
  wait_result(loop, &c.r);
  CU_ASSERT_EQUAL(c.rounds, 3);
  CU_ASSERT_EQUAL(c.restart_rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(c.r.calls, 1);
  CU_ASSERT_EQUAL(c.r.rv, APR_SUCCESS);
  CU_ASSERT_FALSE(svc_probe_busy(&p));
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * 6. Suite
 * --------------------------------------------------------------------- */

static CU_TestInfo probe_tests[] = {
    {"tcp ok (127.0.0.1, localhost)", test_tcp_ok},
    {"tcp ok ([::1])", test_tcp_ipv6},
    {"tcp refused", test_tcp_refused},
    {"bad arguments: no callback", test_bad_arguments},
    {"http replies", test_http_replies},
    {"http request format", test_http_request_format},
    {"http status line too long", test_http_too_long},
    {"http timeout", test_http_timeout},
    {"http refused", test_http_refused},
    {"tcp unresolvable name", test_tcp_unresolvable},
    {"tcp: the next address after a refusal", test_tcp_next_address},
    {"timeout while resolving", test_timeout_while_resolving},
    {"cancel while resolving", test_cancel_while_resolving},
    {"exec exit codes and signals", test_exec_exit_codes},
    {"exec timeout kills", test_exec_timeout},
    {"exec spawn errors", test_exec_spawn_errors},
    {"cancel http in flight", test_cancel_http_in_flight},
    {"cancel before connect", test_cancel_before_connect},
    {"cancel while finishing", test_cancel_while_finishing},
    {"cancel exec", test_cancel_exec},
    {"cancel from other callbacks", test_cancel_from_callbacks},
    {"reuse from callback", test_reuse_from_callback},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo probe_suite = {
    .pName = "probe",
    .pInitFunc = suite_init,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = probe_tests,
};
