/*
 * test_dns.c -- vg_getaddrinfo: real lookups through the system resolver
 * on the work queue (localhost, numeric hosts, a name under the reserved
 * .invalid domain, which never exists), cancellation while queued and
 * after the lookup has run, reuse from the callback, argument checks,
 * and a loop that closes cleanly after each.
 */
#include <stdio.h>
#include <string.h>

#include <apr_time.h>

#include "test.h"

#define WAIT_MS 20000   /* a resolver with a dead DNS server retries */

typedef struct {
  vg_getaddrinfo_t req;
  int calls;
  apr_status_t status;
  size_t naddrs;
  vg_addr_t addrs[VG_GETADDRINFO_MAX];
  int cancel_rv_in_cb;
} gai_t;

static void gai_cb(vg_getaddrinfo_t *req, apr_status_t status,
                   const vg_addr_t *addrs, size_t naddrs) {
  gai_t *g = req->data;
  g->calls++;
  g->status = status;
  g->naddrs = naddrs;
  if (status == APR_SUCCESS) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(addrs);
    CU_ASSERT(naddrs >= 1 && naddrs <= VG_GETADDRINFO_MAX);
    memcpy(g->addrs, addrs, naddrs * sizeof *addrs);
  } else {
    CU_ASSERT_PTR_NULL(addrs);
    CU_ASSERT_EQUAL(naddrs, 0);
  }
  /* Idle again inside its callback: nothing left to cancel. */
  g->cancel_rv_in_cb = vg_getaddrinfo_cancel(req);
}

static int gai_done(void *arg) { return ((gai_t *)arg)->calls > 0; }

static void start(vg_loop_t *loop, gai_t *g, const char *host, int port,
                  int family) {
  memset(g, 0, sizeof *g);
  g->req.data = g;
  CU_ASSERT_EQUAL_FATAL(vg_getaddrinfo(loop, &g->req, gai_cb, host, port,
                                       family),
                        APR_SUCCESS);
}

static void wait_for(vg_loop_t *loop, gai_t *g) {
  vg_test_run_cond(loop, gai_done, g, WAIT_MS);
  CU_ASSERT_EQUAL(g->calls, 1);
}

/* localhost: every address is a loopback one, with the port. */
static void test_localhost(void) {
  vg_loop_t *loop = vg_test_new_loop();
  gai_t g;
  size_t i;
  char buf[64];

  start(loop, &g, "localhost", 8080, 0);
  CU_ASSERT_EQUAL(g.calls, 0);   /* never from inside the call */
  wait_for(loop, &g);
  CU_ASSERT_EQUAL(g.status, APR_SUCCESS);
  CU_ASSERT(g.naddrs >= 1);
  CU_ASSERT_EQUAL(g.cancel_rv_in_cb, APR_EINVAL);
  for (i = 0; i < g.naddrs; i++) {
    vg_addr_format(&g.addrs[i], buf, sizeof buf);
    CU_ASSERT(strcmp(buf, "127.0.0.1:8080") == 0 ||
              strcmp(buf, "[::1]:8080") == 0);
    if (strncmp(buf, "127.", 4) != 0 && strcmp(buf, "[::1]:8080") != 0)
      fprintf(stderr, "\n  localhost resolved to %s\n", buf);
  }
  /* IPv4 only: 127.0.0.1 is there. */
  start(loop, &g, "localhost", 1, PAL_AF_INET);
  wait_for(loop, &g);
  CU_ASSERT_EQUAL_FATAL(g.status, APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(vg_addr_format(&g.addrs[0], buf, sizeof buf),
                         "127.0.0.1:1");
  vg_test_close_loop(loop);
}

/* A numeric host is its own answer, without a name lookup. */
static void test_numeric(void) {
  vg_loop_t *loop = vg_test_new_loop();
  gai_t g;
  char buf[64];

  start(loop, &g, "127.0.0.1", 65535, 0);
  wait_for(loop, &g);
  CU_ASSERT_EQUAL_FATAL(g.status, APR_SUCCESS);
  CU_ASSERT_EQUAL(g.naddrs, 1);
  CU_ASSERT_STRING_EQUAL(vg_addr_format(&g.addrs[0], buf, sizeof buf),
                         "127.0.0.1:65535");
  start(loop, &g, "::1", 53, 0);
  wait_for(loop, &g);
  CU_ASSERT_EQUAL_FATAL(g.status, APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(vg_addr_format(&g.addrs[0], buf, sizeof buf),
                         "[::1]:53");
  vg_test_close_loop(loop);
}

/* RFC 6761: nothing under .invalid resolves.  The status is an error
 * (not a cancel), with the resolver's own text. */
static void test_invalid_name(void) {
  vg_loop_t *loop = vg_test_new_loop();
  gai_t g;
  char msg[128];

  start(loop, &g, "no-such-host.vigil-test.invalid", 80, 0);
  wait_for(loop, &g);
  CU_ASSERT_NOT_EQUAL(g.status, APR_SUCCESS);
  CU_ASSERT_NOT_EQUAL(g.status, VG_ECANCELED);
  vg_strerror(g.status, msg, sizeof msg);
  fprintf(stderr, "\n  .invalid: %s\n", msg);
  CU_ASSERT(strlen(msg) > 0);
  CU_ASSERT_PTR_NULL(strstr(msg, "nknown error"));
  CU_ASSERT_PTR_NULL(strstr(msg, "APR does not understand"));
#ifndef _WIN32
  /* glibc and musl: EAI_NONAME; EAI_AGAIN where no DNS server answers. */
  CU_ASSERT(strstr(msg, "not known") != NULL ||
            strstr(msg, "ame resolution") != NULL ||
            strstr(msg, "No address") != NULL);
#endif
  vg_test_close_loop(loop);
}

static void block_work(vg_work_t *w) {
  (void)w;
  apr_sleep(apr_time_from_msec(200));
}

static int block_after_calls;
static void block_after(vg_work_t *w, apr_status_t status) {
  (void)w;
  (void)status;
  block_after_calls++;
}

/* Queued behind busy work on a one-thread pool: the cancel takes it off
 * the queue; the callback says cancelled, from the loop, not from the
 * cancel call. */
static void test_cancel_queued(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_work_t blocker;
  gai_t g;

  CU_ASSERT_EQUAL(vg_loop_set_pool_size(loop, 1), APR_SUCCESS);
  block_after_calls = 0;
  CU_ASSERT_EQUAL(vg_queue_work(loop, &blocker, block_work, block_after),
                  APR_SUCCESS);
  start(loop, &g, "localhost", 80, 0);
  CU_ASSERT_EQUAL(vg_getaddrinfo_cancel(&g.req), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_getaddrinfo_cancel(&g.req), APR_SUCCESS);  /* again */
  CU_ASSERT_EQUAL(g.calls, 0);
  wait_for(loop, &g);
  CU_ASSERT_EQUAL(g.status, VG_ECANCELED);
  vg_test_run_cond(loop, gai_done, &g, 1000);
  CU_ASSERT_EQUAL(g.calls, 1);   /* once only */
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT_EQUAL(block_after_calls, 1);
  vg_test_close_loop(loop);
}

/* The lookup has already run on the pool (the loop thread sleeps while
 * it does), its result not yet delivered: a cancel still wins, the
 * result is dropped, and the loop then has nothing left. */
static void test_cancel_after_lookup(void) {
  vg_loop_t *loop = vg_test_new_loop();
  gai_t g;

  start(loop, &g, "127.0.0.1", 80, 0);
  apr_sleep(apr_time_from_msec(300));
  CU_ASSERT_EQUAL(vg_getaddrinfo_cancel(&g.req), APR_SUCCESS);
  CU_ASSERT_EQUAL(g.calls, 0);
  wait_for(loop, &g);
  CU_ASSERT_EQUAL(g.status, VG_ECANCELED);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(g.calls, 1);
  vg_test_close_loop(loop);
}

/* The request is idle in its callback: start the next lookup there. */
static int chain_left;
static void chain_cb(vg_getaddrinfo_t *req, apr_status_t status,
                     const vg_addr_t *addrs, size_t naddrs) {
  (void)addrs;
  (void)naddrs;
  CU_ASSERT_EQUAL(status, APR_SUCCESS);
  if (--chain_left > 0)
    CU_ASSERT_EQUAL(vg_getaddrinfo(req->loop, req, chain_cb, "localhost",
                                   chain_left, 0),
                    APR_SUCCESS);
}

static void test_reuse_and_busy(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_getaddrinfo_t req;

  memset(&req, 0, sizeof req);
  chain_left = 3;
  CU_ASSERT_EQUAL(vg_getaddrinfo(loop, &req, chain_cb, "localhost", 9, 0),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_getaddrinfo(loop, &req, chain_cb, "localhost", 9, 0),
                  VG_EBUSY);
  CU_ASSERT_EQUAL(vg_run(loop, VG_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(chain_left, 0);
  vg_test_close_loop(loop);
}

static void test_bad_arguments(void) {
  vg_loop_t *loop = vg_test_new_loop();
  vg_getaddrinfo_t req;

  memset(&req, 0, sizeof req);
  CU_ASSERT_EQUAL(vg_getaddrinfo(loop, &req, gai_cb, NULL, 80, 0),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(vg_getaddrinfo(loop, &req, gai_cb, "", 80, 0),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(vg_getaddrinfo(loop, &req, gai_cb, "localhost", 65536, 0),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(vg_getaddrinfo(loop, &req, gai_cb, "localhost", -1, 0),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(vg_getaddrinfo(loop, &req, gai_cb, "localhost", 80,
                                 PAL_AF_UNIX),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(vg_getaddrinfo(loop, &req, NULL, "localhost", 80, 0),
                  APR_EINVAL);
  CU_ASSERT_EQUAL(vg_getaddrinfo_cancel(&req), APR_EINVAL);   /* idle */
  CU_ASSERT_EQUAL(vg_loop_alive(loop), 0);
  vg_test_close_loop(loop);
}

/* The PAL call itself, from this thread (it blocks). */
static void test_pal_resolve(void) {
  vg_addr_t a[4];
  size_t n = 99;
  CU_ASSERT_EQUAL(pal_addr_resolve("127.0.0.1", 7, 0, a, 4, &n),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(n, 1);
  CU_ASSERT_EQUAL(pal_addr_port(&a[0]), 7);
  CU_ASSERT_EQUAL(pal_addr_family(&a[0]), PAL_AF_INET);
  CU_ASSERT_EQUAL(pal_addr_resolve("::1", 7, PAL_AF_INET, a, 4, &n) ==
                      APR_SUCCESS, 0);
  CU_ASSERT_EQUAL(pal_addr_resolve("localhost", 7, 0, a, 0, &n), APR_EINVAL);
  CU_ASSERT_EQUAL(pal_addr_resolve(NULL, 7, 0, a, 4, &n), APR_EINVAL);
}

static CU_TestInfo dns_tests[] = {
    {"localhost", test_localhost},
    {"numeric", test_numeric},
    {"invalid_name", test_invalid_name},
    {"cancel_queued", test_cancel_queued},
    {"cancel_after_lookup", test_cancel_after_lookup},
    {"reuse_and_busy", test_reuse_and_busy},
    {"bad_arguments", test_bad_arguments},
    {"pal_resolve", test_pal_resolve},
    CU_TEST_INFO_NULL};

CU_SuiteInfo dns_suite = {
    .pName = "dns",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = dns_tests};
