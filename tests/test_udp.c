/*
 * test_udp.c -- datagram sockets: IPv4 UDP round trip on loopback with
 * sender addresses, gather sends, recv_stop/start, and local datagram
 * sockets as used for the systemd notify protocol ("READY=1").
 */
#define _GNU_SOURCE 1

#include <stdio.h>
#include <string.h>
#ifndef _WIN32
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include "test.h"

#ifndef _WIN32
static void temp_path(char *buf, size_t size, const char *tag) {
  vg_test_local_name(buf, size, tag);
}
#endif


/* A receiver that logs up to 8 datagrams and their senders. */
typedef struct {
  vg_udp_t udp;
  char rbuf[2048];
  char msgs[8][256];
  size_t lens[8];
  pal_addr_t from[8];
  int has_from[8];
  int n;
  int errors;
  apr_status_t cred[8];         /* vg_udp_sender() in the callback */
  long pid[8], uid[8];
} rx_t;

static void rx_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  rx_t *r = h->data;
  (void)suggested;
  buf->base = r->rbuf;
  buf->len = sizeof r->rbuf;
}

static void rx_recv(vg_udp_t *u, apr_status_t status, size_t nread,
                    const vg_buf_t *buf, const vg_addr_t *from) {
  rx_t *r = u->data;
  if (status != APR_SUCCESS) {
    r->errors++;
    return;
  }
  if (nread == 0 && from == NULL)
    return;   /* nothing to read now */
  if (r->n < 8) {
    size_t n = nread < 255 ? nread : 255;
    memcpy(r->msgs[r->n], buf->base, n);
    r->msgs[r->n][n] = '\0';
    r->lens[r->n] = nread;
    if (from) {
      r->from[r->n] = *from;
      r->has_from[r->n] = 1;
    }
    r->cred[r->n] = vg_udp_sender(u, &r->pid[r->n], &r->uid[r->n]);
  }
  r->n++;
}

static int rx_target;
static int rx_has(void *arg) {
  return ((rx_t *)arg)->n >= rx_target;
}

typedef struct {
  vg_send_t req;
  int called;
  apr_status_t status;
} tx_t;

static void tx_cb(vg_send_t *req, apr_status_t status) {
  tx_t *t = req->data;
  t->called++;
  t->status = status;
}

static void send_str(vg_udp_t *u, tx_t *t, const char *s,
                     const pal_addr_t *to) {
  vg_buf_t b;
  memset(t, 0, sizeof *t);
  t->req.data = t;
  b.base = (char *)(uintptr_t)s;
  b.len = strlen(s);
  CU_ASSERT_EQUAL(vg_udp_send(&t->req, u, &b, 1, to, tx_cb), APR_SUCCESS);
}

static void bind_ip(vg_loop_t *loop, rx_t *r) {
  pal_addr_t a;
  memset(r, 0, sizeof *r);
  CU_ASSERT_EQUAL_FATAL(vg_udp_init(loop, &r->udp, PAL_AF_INET),
                        APR_SUCCESS);
  r->udp.data = r;
  pal_addr_ip(&a, "127.0.0.1", 0);
  CU_ASSERT_EQUAL_FATAL(vg_udp_bind(&r->udp, &a, 0), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_udp_recv_start(&r->udp, rx_alloc, rx_recv),
                        APR_SUCCESS);
}

/* ------------------------------------------------------------------------
 * IPv4
 * --------------------------------------------------------------------- */

static void test_udp4_round_trip(void) {
  vg_loop_t *loop = vg_test_new_loop();
  rx_t srv, cli;
  pal_addr_t srv_addr, cli_addr, reply_to;
  tx_t t1, t2;
  char s1[128], s2[128];

  bind_ip(loop, &srv);
  bind_ip(loop, &cli);
  CU_ASSERT_EQUAL(vg_udp_sockname(&srv.udp, &srv_addr), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_udp_sockname(&cli.udp, &cli_addr), APR_SUCCESS);
  CU_ASSERT_EQUAL(pal_addr_family(&srv_addr), PAL_AF_INET);
  CU_ASSERT(pal_addr_port(&srv_addr) > 0);
  CU_ASSERT_NOT_EQUAL(pal_addr_port(&srv_addr), pal_addr_port(&cli_addr));

  send_str(&cli.udp, &t1, "ping", &srv_addr);
  rx_target = 1;
  CU_ASSERT(vg_test_run_cond(loop, rx_has, &srv, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL(t1.called, 1);
  CU_ASSERT_EQUAL(t1.status, APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(srv.n, 1);
  CU_ASSERT_EQUAL(srv.lens[0], 4);
  CU_ASSERT_STRING_EQUAL(srv.msgs[0], "ping");
  CU_ASSERT_FATAL(srv.has_from[0]);
  CU_ASSERT_STRING_EQUAL(pal_addr_format(&srv.from[0], s1, sizeof s1),
                         pal_addr_format(&cli_addr, s2, sizeof s2));

  /* Reply to the address we were given (copied: `from` lives only for
   * the callback). */
  reply_to = srv.from[0];
  send_str(&srv.udp, &t2, "pong", &reply_to);
  CU_ASSERT(vg_test_run_cond(loop, rx_has, &cli, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL_FATAL(cli.n, 1);
  CU_ASSERT_STRING_EQUAL(cli.msgs[0], "pong");
  CU_ASSERT_EQUAL(pal_addr_port(&cli.from[0]), pal_addr_port(&srv_addr));
  CU_ASSERT_EQUAL(t2.status, APR_SUCCESS);
  CU_ASSERT_EQUAL(cli.udp.send_queue_size, 0);
  CU_ASSERT_EQUAL(cli.udp.send_queue_count, 0);
  CU_ASSERT_EQUAL(srv.errors + cli.errors, 0);
  vg_test_close_loop(loop);
}

/* Several buffers make one datagram; datagram boundaries are kept. */
static void test_udp4_gather_and_boundaries(void) {
  vg_loop_t *loop = vg_test_new_loop();
  rx_t srv;
  vg_udp_t tx;
  pal_addr_t to;
  tx_t t1, t2, t3;
  vg_buf_t b[3];
  char p1[] = "READY", p2[] = "=", p3[] = "1";
  bind_ip(loop, &srv);
  vg_udp_sockname(&srv.udp, &to);
  CU_ASSERT_EQUAL_FATAL(vg_udp_init(loop, &tx, PAL_AF_INET), APR_SUCCESS);
  b[0].base = p1;
  b[0].len = 5;
  b[1].base = p2;
  b[1].len = 1;
  b[2].base = p3;
  b[2].len = 1;
  memset(&t1, 0, sizeof t1);
  t1.req.data = &t1;
  CU_ASSERT_EQUAL(vg_udp_send(&t1.req, &tx, b, 3, &to, tx_cb), APR_SUCCESS);
  send_str(&tx, &t2, "second", &to);
  send_str(&tx, &t3, "third!", &to);
  rx_target = 3;
  CU_ASSERT(vg_test_run_cond(loop, rx_has, &srv, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL_FATAL(srv.n, 3);
  CU_ASSERT_STRING_EQUAL(srv.msgs[0], "READY=1");
  CU_ASSERT_STRING_EQUAL(srv.msgs[1], "second");
  CU_ASSERT_STRING_EQUAL(srv.msgs[2], "third!");
  CU_ASSERT_EQUAL(t1.called, 1);
  CU_ASSERT_EQUAL(t1.status, APR_SUCCESS);
  CU_ASSERT_EQUAL(t2.called, 1);
  CU_ASSERT_EQUAL(t3.called, 1);
  vg_test_close_loop(loop);
}

/* recv_stop: nothing is delivered while stopped; the kernel keeps the
 * datagram, and it arrives after recv_start. */
static void test_udp4_recv_stop(void) {
  vg_loop_t *loop = vg_test_new_loop();
  rx_t srv;
  vg_udp_t tx;
  pal_addr_t to;
  tx_t t1;
  volatile int never = 0;
  bind_ip(loop, &srv);
  vg_udp_sockname(&srv.udp, &to);
  vg_udp_init(loop, &tx, PAL_AF_INET);
  CU_ASSERT_EQUAL(vg_udp_recv_stop(&srv.udp), APR_SUCCESS);
  send_str(&tx, &t1, "queued", &to);
  vg_test_run_until(loop, &never, 50);
  CU_ASSERT_EQUAL(t1.called, 1);
  CU_ASSERT_EQUAL(srv.n, 0);
  CU_ASSERT_EQUAL(vg_udp_recv_start(&srv.udp, rx_alloc, rx_recv),
                  APR_SUCCESS);
  rx_target = 1;
  CU_ASSERT(vg_test_run_cond(loop, rx_has, &srv, VG_TEST_WAIT_MS));
  CU_ASSERT_STRING_EQUAL(srv.msgs[0], "queued");
  vg_test_close_loop(loop);
}

/* ------------------------------------------------------------------------
 * Local datagrams: the notify socket.
 *
 * Windows has no AF_UNIX datagrams (Winsock's AF_UNIX is stream-only):
 * vg_udp_init(PAL_AF_UNIX) refuses with VG_EUNSUPPORTED, and an IP
 * datagram socket refuses a local address.  The three tests below assert
 * that instead.
 * --------------------------------------------------------------------- */

#ifdef _WIN32

/* No local datagram socket: refused at init, the handle is not
 * initialised (nothing to close), and the loop closes. */
static void test_local_notify(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_udp_t u;
  memset(&u, 0, sizeof u);
  CU_ASSERT_EQUAL(vg_udp_init(loop, &u, PAL_AF_UNIX), VG_EUNSUPPORTED);
  CU_ASSERT_EQUAL(vg_loop_alive(loop), 0);
  vg_test_close_loop(loop);
}

/* A local address cannot be bound by an IP datagram socket either. */
static void test_local_sender_address(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_udp_t u;
  pal_addr_t a;
  char path[128];
  vg_test_local_name(path, sizeof path, "rx");
  CU_ASSERT_EQUAL_FATAL(vg_udp_init(loop, &u, PAL_AF_INET), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(pal_addr_local(&a, path), APR_SUCCESS);
  CU_ASSERT_NOT_EQUAL(vg_udp_bind(&u, &a, 0), APR_SUCCESS);
  vg_test_close_loop(loop);
}

/* Sending to a local address fails, by the call or by the callback,
 * never silently. */
static void test_local_send_nowhere(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_udp_t u;
  pal_addr_t to;
  char path[128];
  tx_t t;
  vg_buf_t b;
  apr_status_t rv;
  char msg[] = "READY=1";
  vg_test_local_name(path, sizeof path, "nowhere");
  CU_ASSERT_EQUAL_FATAL(vg_udp_init(loop, &u, PAL_AF_INET), APR_SUCCESS);
  pal_addr_local(&to, path);
  memset(&t, 0, sizeof t);
  t.req.data = &t;
  b.base = msg;
  b.len = 7;
  rv = vg_udp_send(&t.req, &u, &b, 1, &to, tx_cb);
  if (rv == APR_SUCCESS) {
    int i;
    for (i = 0; i < 100 && !t.called; i++)
      vg_run(loop, VG_RUN_ONCE);
    CU_ASSERT_EQUAL(t.called, 1);
    rv = t.status;
  }
  CU_ASSERT_NOT_EQUAL(rv, APR_SUCCESS);
  vg_test_close_loop(loop);
}

#else

static void bind_local_flags(vg_loop_t *loop, rx_t *r, const char *path,
                             unsigned flags) {
  pal_addr_t a;
  memset(r, 0, sizeof *r);
  CU_ASSERT_EQUAL_FATAL(vg_udp_init(loop, &r->udp, PAL_AF_UNIX),
                        APR_SUCCESS);
  r->udp.data = r;
  CU_ASSERT_EQUAL_FATAL(pal_addr_local(&a, path), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_udp_bind(&r->udp, &a, flags), APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_udp_recv_start(&r->udp, rx_alloc, rx_recv),
                        APR_SUCCESS);
}

static void bind_local(vg_loop_t *loop, rx_t *r, const char *path) {
  bind_local_flags(loop, r, path, 0);
}

/* What sd_notify() does: an unbound datagram socket sends to the path. */
static int raw_notify(const char *path, const char *msg) {
  struct sockaddr_un su;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ssize_t n;
  if (fd < 0)
    return -1;
  memset(&su, 0, sizeof su);
  su.sun_family = AF_UNIX;
  snprintf(su.sun_path, sizeof su.sun_path, "%s", path);
  n = sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&su, sizeof su);
  close(fd);
  return n == (ssize_t)strlen(msg) ? 0 : -1;
}

static void test_local_notify(void) {
  vg_loop_t *loop = vg_test_new_loop();
  rx_t r;
  char path[128];
  pal_addr_t a;
  char s[256];
  temp_path(path, sizeof path, "notify");
  bind_local(loop, &r, path);
  CU_ASSERT_EQUAL(vg_udp_sockname(&r.udp, &a), APR_SUCCESS);
  CU_ASSERT_EQUAL(pal_addr_family(&a), PAL_AF_UNIX);
  CU_ASSERT_STRING_EQUAL(pal_addr_format(&a, s, sizeof s), path);

  CU_ASSERT_EQUAL(raw_notify(path, "READY=1"), 0);
  CU_ASSERT_EQUAL(raw_notify(path, "STATUS=serving\nMAINPID=42"), 0);
  rx_target = 2;
  CU_ASSERT(vg_test_run_cond(loop, rx_has, &r, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL_FATAL(r.n, 2);
  CU_ASSERT_STRING_EQUAL(r.msgs[0], "READY=1");
  CU_ASSERT_EQUAL(r.lens[0], 7);
  CU_ASSERT_STRING_EQUAL(r.msgs[1], "STATUS=serving\nMAINPID=42");
  CU_ASSERT_EQUAL(r.errors, 0);
  /* An unbound sender has an unnamed address; whatever is reported for
   * it must be a local address or nothing. */
  if (r.has_from[0] && r.from[0].len > 0)
    CU_ASSERT_EQUAL(pal_addr_family(&r.from[0]), PAL_AF_UNIX);
  vg_test_close_loop(loop);
  unlink(path);
}

/* A bound local sender is reported by its path. */
static void test_local_sender_address(void) {
  vg_loop_t *loop = vg_test_new_loop();
  rx_t r, sender;
  char rpath[128], spath[128], s[256];
  pal_addr_t to;
  tx_t t;
  temp_path(rpath, sizeof rpath, "rx");
  temp_path(spath, sizeof spath, "tx");
  bind_local(loop, &r, rpath);
  bind_local(loop, &sender, spath);
  pal_addr_local(&to, rpath);
  send_str(&sender.udp, &t, "READY=1", &to);
  rx_target = 1;
  CU_ASSERT(vg_test_run_cond(loop, rx_has, &r, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL_FATAL(r.n, 1);
  CU_ASSERT_STRING_EQUAL(r.msgs[0], "READY=1");
  CU_ASSERT_EQUAL(t.called, 1);
  CU_ASSERT_EQUAL(t.status, APR_SUCCESS);
  CU_ASSERT_FATAL(r.has_from[0]);
  CU_ASSERT_EQUAL(pal_addr_family(&r.from[0]), PAL_AF_UNIX);
  CU_ASSERT_STRING_EQUAL(pal_addr_format(&r.from[0], s, sizeof s), spath);
  vg_test_close_loop(loop);
  unlink(rpath);
  unlink(spath);
}

#if defined(__linux__)
/* Send msg with our descriptor `fd` attached (SCM_RIGHTS). */
static int raw_send_fd(const char *path, const char *msg, int fd) {
  union {
    struct cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct sockaddr_un su;
  struct iovec iov;
  struct msghdr m;
  struct cmsghdr *c;
  ssize_t n;
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return -1;
  memset(&su, 0, sizeof su);
  su.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof su.sun_path) {
    close(s);
    return -1;
  }
  memcpy(su.sun_path, path, strlen(path) + 1);
  iov.iov_base = (void *)(uintptr_t)msg;
  iov.iov_len = strlen(msg);
  memset(&m, 0, sizeof m);
  memset(&ctl, 0, sizeof ctl);
  m.msg_name = &su;
  m.msg_namelen = sizeof su;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl.bytes;
  m.msg_controllen = sizeof ctl.bytes;
  c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  n = sendmsg(s, &m, 0);
  close(s);
  return n == (ssize_t)strlen(msg) ? 0 : -1;
}
#endif

/* PAL_BIND_PASSCRED: the kernel names each datagram's sender (Linux:
 * this process's pid and uid, whatever the datagram says); without the
 * flag nothing is known (APR_ENOENT); elsewhere PAL_EUNSUPPORTED.  A
 * descriptor a sender attaches is not left open in the receiver. */
static void test_local_sender_creds(void) {
  vg_loop_t *loop = vg_test_new_loop();
  rx_t r, plain;
  char path[128], ppath[128];
  temp_path(path, sizeof path, "cred");
  temp_path(ppath, sizeof ppath, "nocred");
  bind_local_flags(loop, &r, path, PAL_BIND_PASSCRED);
  bind_local(loop, &plain, ppath);
  CU_ASSERT_EQUAL(raw_notify(path, "MAINPID=1\nREADY=1"), 0);
  CU_ASSERT_EQUAL(raw_notify(ppath, "READY=1"), 0);
  rx_target = 1;
  CU_ASSERT(vg_test_run_cond(loop, rx_has, &r, VG_TEST_WAIT_MS));
  CU_ASSERT(vg_test_run_cond(loop, rx_has, &plain, VG_TEST_WAIT_MS));
  CU_ASSERT_EQUAL_FATAL(r.n, 1);
  CU_ASSERT_EQUAL_FATAL(plain.n, 1);
#if defined(__linux__)
  CU_ASSERT_EQUAL(r.cred[0], APR_SUCCESS);
  CU_ASSERT_EQUAL(r.pid[0], (long)getpid());
  CU_ASSERT_EQUAL(r.uid[0], (long)geteuid());
  CU_ASSERT_EQUAL(plain.cred[0], APR_ENOENT);
  {
    int before = dup(0), after, fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(before);   /* the lowest free descriptor */
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(raw_send_fd(path, "READY=1", fd), 0);
    close(fd);
    rx_target = 2;
    CU_ASSERT(vg_test_run_cond(loop, rx_has, &r, VG_TEST_WAIT_MS));
    CU_ASSERT_EQUAL(r.n, 2);
    CU_ASSERT_EQUAL(r.cred[1], APR_SUCCESS);
    after = dup(0);
    CU_ASSERT_EQUAL(after, before);   /* the passed one was closed */
    close(after);
  }
#else
  CU_ASSERT_EQUAL(r.cred[0], PAL_EUNSUPPORTED);
  CU_ASSERT_EQUAL(plain.cred[0], PAL_EUNSUPPORTED);
#endif
  CU_ASSERT_EQUAL(r.errors, 0);
  vg_test_close_loop(loop);
  unlink(path);
  unlink(ppath);
}

/* Sending to a path nobody is bound to fails (ENOENT / ECONNREFUSED),
 * reported by the call or by the callback, never silently. */
static void test_local_send_nowhere(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_udp_t u;
  pal_addr_t to;
  char path[128];
  tx_t t;
  vg_buf_t b;
  apr_status_t rv;
  char msg[] = "READY=1";
  temp_path(path, sizeof path, "nowhere");
  CU_ASSERT_EQUAL_FATAL(vg_udp_init(loop, &u, PAL_AF_UNIX), APR_SUCCESS);
  pal_addr_local(&to, path);
  memset(&t, 0, sizeof t);
  t.req.data = &t;
  b.base = msg;
  b.len = 7;
  rv = vg_udp_send(&t.req, &u, &b, 1, &to, tx_cb);
  if (rv == APR_SUCCESS) {
    int i;
    for (i = 0; i < 100 && !t.called; i++)
      vg_run(loop, VG_RUN_ONCE);
    CU_ASSERT_EQUAL(t.called, 1);
    rv = t.status;
  }
  CU_ASSERT_NOT_EQUAL(rv, APR_SUCCESS);
  vg_test_close_loop(loop);
}

#endif

static CU_TestInfo udp_tests[] = {
    {"udp4_round_trip", test_udp4_round_trip},
    {"udp4_gather_and_boundaries", test_udp4_gather_and_boundaries},
    {"udp4_recv_stop", test_udp4_recv_stop},
    {"local_notify_ready", test_local_notify},
    {"local_sender_address", test_local_sender_address},
#if !defined(_WIN32)
    {"local_sender_creds", test_local_sender_creds},
#endif
    {"local_send_nowhere", test_local_send_nowhere},
    CU_TEST_INFO_NULL};

CU_SuiteInfo udp_suite = {
    .pName = "udp",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = udp_tests};
