/*
 * test_vigil_hostile.c -- the control endpoint under hostile local
 * clients of the supervisor's own user (suite vigil_hostile), with the
 * real vigil binary and real sockets: none of them may stall the loop or
 * lock the CLI out (docs/control.md, "Limits").
 *
 *   - a connect/close flood (20,000 connections in 10 s at most) while
 *     the CLI's `status` keeps answering within a bound, the supervisor's
 *     memory bounded;
 *   - a client pipelining thousands of status lines while another
 *     client's command is answered within a bound;
 *   - 70 half-sent requests, and 70 `start --wait` of a crash-looping
 *     service whose clients vanish: `status` and `shutdown` still work;
 *   - an idle connection is closed after its deadline;
 *   - a failed accept (ENOMEM through the PAL's fault seam, in a
 *     supervisor run by this binary) leaves the endpoint serving;
 *   - an abstract "@NAME" endpoint (Linux; elsewhere an error at
 *     validate), a status of 8 x 1000 instances, a NUL in a name, a line
 *     of exactly 65,536 bytes.
 *
 * The connections the tests hold are libvigil pipes on the fixture's
 * loop, so the supervisor's output keeps being drained; the flood runs
 * in threads with plain blocking sockets (POSIX: the rate a loop of
 * asynchronous connects reaches is not a flood).
 */
#include "vigil_test.h"
#include "svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_env.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#if !defined(_WIN32)
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#endif

/* ---- connections held from the fixture's loop --------------------------- */

typedef struct hold_s {
  vg_pipe_t pipe;
  vg_connect_t conn;
  vg_write_t wr;
  char *data;
  size_t len;
  int connected, failed, written, closed;
  int paused;                   /* reads nothing until hold_read_start() */
  size_t lines;                 /* reply lines received */
  uint64_t closed_at;
  char rbuf[65536];
} hold_t;

static void hold_alloc(vg_handle_t *h, size_t sug, vg_buf_t *buf) {
  hold_t *c = h->data;
  (void)sug;
  buf->base = c->rbuf;
  buf->len = sizeof c->rbuf;
}

static void hold_read(vg_stream_t *s, apr_status_t st, size_t n,
                      const vg_buf_t *buf) {
  hold_t *c = s->data;
  size_t i;
  if (st != APR_SUCCESS) {
    if (!c->closed)
      c->closed_at = vt_now_ms();
    c->closed = 1;
    return;
  }
  for (i = 0; i < n; i++)
    c->lines += buf->base[i] == '\n';
}

static void hold_written(vg_write_t *w, apr_status_t st) {
  hold_t *c = w->data;
  c->written = st == APR_SUCCESS ? 1 : -1;
}

static void hold_connected(vg_connect_t *req, apr_status_t st) {
  hold_t *c = req->data;
  vg_buf_t b;
  if (st != APR_SUCCESS) {
    c->failed = 1;
    return;
  }
  c->connected = 1;
  if (!c->paused)
    vg_read_start(&c->pipe, hold_alloc, hold_read);
  if (c->len == 0) {
    c->written = 1;
    return;
  }
  b.base = c->data;
  b.len = c->len;
  c->wr.data = c;
  if (vg_write(&c->wr, &c->pipe, &b, 1, hold_written) != APR_SUCCESS)
    c->written = -1;
}

static void hold_freed(vg_handle_t *h) {
  hold_t *c = h->data;
  free(c->data);
  free(c);
}

static void hold_close(hold_t *c) {
  if (c)
    vg_close((vg_handle_t *)&c->pipe, hold_freed);
}

/* Connected and sent; a client that reads nothing may not see its write
 * complete (a named pipe completes it when the server has read it all,
 * and the server stops reading while its replies are unread). */
static int hold_settled(void *arg) {
  hold_t *c = arg;
  return c->failed || (c->connected && (c->written != 0 || c->paused));
}

/* Connect to `endpoint`, send len bytes of data, and keep the connection
 * open.  A connect refused because the backlog is full is tried again.
 * NULL (and a failed assertion) if it cannot be made. */
static hold_t *hold_open_ex(vt_t *t, const char *endpoint, const char *data,
                            size_t len, int paused) {
  int tries;
  for (tries = 0; tries < 100; tries++) {
    hold_t *c = calloc(1, sizeof *c);
    if (!c || !(c->data = malloc(len ? len : 1))) {
      free(c);
      break;
    }
    memcpy(c->data, data, len);
    c->len = len;
    c->paused = paused;
    vg_pipe_init(vt_loop(t), &c->pipe);
    c->pipe.data = c;
    c->conn.data = c;
    if (vg_pipe_connect(&c->conn, &c->pipe, endpoint, hold_connected) !=
        APR_SUCCESS)
      c->failed = 1;
    vg_test_run_cond(vt_loop(t), hold_settled, c, 5000);
    if (c->connected && (c->written == 1 || (c->paused && !c->written)))
      return c;
    hold_close(c);
    vt_sleep(t, 20);
  }
  CU_FAIL("cannot hold a connection to the control endpoint");
  return NULL;
}

static hold_t *hold_open(vt_t *t, const char *endpoint, const char *data,
                         size_t len) {
  return hold_open_ex(t, endpoint, data, len, 0);
}

/* `vigil ARGS --control ENDPOINT`, timed. */
static vt_res_t *timed_cli(vt_t *t, uint64_t *ms, const char *a,
                           const char *b) {
  uint64_t t0 = vt_now_ms();
  vt_res_t *r = b ? vt_vigil(t, 20000, a, b, "--control", vt_control_path(t),
                             NULL)
                  : vt_vigil(t, 20000, a, "--control", vt_control_path(t),
                             NULL);
  *ms = vt_now_ms() - t0;
  return r;
}

static vt_t *start(const char *tag, const char *services) {
  vt_t *t = vt_begin(tag);
  if (!t)
    return NULL;
  vt_config(t, "vigil.xml",
            services ? services
                     : vt_svc(t, "a", READY_FAST, "sleep", "60000", NULL),
            NULL);
  if (!vt_sup_start_ready(t, vt_path(t, "vigil.xml"))) {
    CU_FAIL("the supervisor did not come up");
    vt_end(t);
    return NULL;
  }
  return t;
}

static void shutdown_ok(vt_t *t) {
  uint64_t ms;
  vt_res_t *r = timed_cli(t, &ms, "shutdown", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
}

/* ---- connect/close flood ------------------------------------------------ */

#if !defined(_WIN32)
/* The supervisor's resident memory in bytes (Linux), or -1. */
static long long sup_rss(vt_t *t) {
#if defined(__linux__)
  char line[256];
  long long kb = -1;
  FILE *f = fopen(apr_psprintf(vt_pool(t), "/proc/%ld/status", vt_sup_pid(t)),
                  "r");
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0)
      kb = atoll(line + 6);
  if (f)
    fclose(f);
  return kb < 0 ? -1 : kb * 1024;
#else
  (void)t;
  return -1;
#endif
}

#define FLOOD_N 20000
#define FLOOD_MS 10000

typedef struct flood_s {
  struct sockaddr_un su;
  uint64_t until;
  volatile apr_uint32_t done, failed;
} flood_t;

static void *APR_THREAD_FUNC flood_main(apr_thread_t *th, void *arg) {
  flood_t *f = arg;
  struct timeval tv = {1, 0};
  while (vt_now_ms() < f->until && apr_atomic_read32(&f->done) < FLOOD_N) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
      break;
    /* A connect that waits for room in the backlog waits 1 s at most. */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&f->su, sizeof f->su) == 0)
      apr_atomic_inc32(&f->done);
    else
      apr_atomic_inc32(&f->failed);
    close(fd);
  }
  apr_thread_exit(th, APR_SUCCESS);
  return NULL;
}

static void test_connect_flood(void) {
  apr_thread_t *th[2];
  flood_t f;
  uint64_t ms, worst = 0;
  long long rss0, rss1, peak = 0;
  unsigned polls = 0, during = 0, bad = 0, i;
  apr_status_t rv;
  vt_t *t = start("hostile-flood", NULL);
  if (!t)
    return;
  memset(&f, 0, sizeof f);
  f.su.sun_family = AF_UNIX;
  snprintf(f.su.sun_path, sizeof f.su.sun_path, "%s", vt_control_path(t));
  rss0 = sup_rss(t);
  f.until = vt_now_ms() + FLOOD_MS;
  for (i = 0; i < 2; i++)
    VT_REQUIRE(apr_thread_create(&th[i], NULL, flood_main, &f,
                                 vt_pool(t)) == APR_SUCCESS);
  /* While the flood lasts, `status` answers, each time within 3 s. */
  while (vt_now_ms() < f.until + 500 &&
         apr_atomic_read32(&f.done) < FLOOD_N) {
    vt_res_t *r;
    long long rss;
    /* Asked while the flood is still under way (on a quiet machine two
     * threads may finish it within a few polls). */
    during += apr_atomic_read32(&f.done) < FLOOD_N;
    r = timed_cli(t, &ms, "status", "--json");
    rss = sup_rss(t);
    polls++;
    bad += r->code != 0;
    if (ms > worst)
      worst = ms;
    if (rss > peak)
      peak = rss;
    vt_sleep(t, 50);
  }
  for (i = 0; i < 2; i++)
    apr_thread_join(&rv, th[i]);
  rss1 = sup_rss(t);
  fprintf(stderr, "\n  [flood] %u connections (%u refused) in %d s at most; "
                  "%u status polls (%u during it), the slowest %llu ms; "
                  "RSS %lld -> peak %lld -> %lld KiB\n",
          (unsigned)f.done, (unsigned)f.failed, FLOOD_MS / 1000, polls,
          during, (unsigned long long)worst, rss0 / 1024, peak / 1024,
          rss1 / 1024);
  CU_ASSERT(f.done >= 2000);    /* a flood indeed */
  CU_ASSERT(during >= 1);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(worst <= 3000);
  if (rss0 > 0) {
    CU_ASSERT(peak < rss0 + (64LL << 20));
  } else {
    fprintf(stderr, "  [flood] the supervisor's RSS is not known here: "
                    "not checked\n");
  }
  shutdown_ok(t);
  vt_end(t);
}

/* A service's NOTIFY_SOCKET flooded with datagrams: the supervisor reads
 * a bounded batch per loop iteration, so `status` keeps answering. */
typedef struct dflood_s {
  vg_addr_t addr;
  uint64_t until;
  volatile apr_uint32_t sent;
} dflood_t;

static void *APR_THREAD_FUNC dflood_main(apr_thread_t *th, void *arg) {
  dflood_t *f = arg;
  static const char msg[] = "STATUS=flooded\n";
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  while (fd >= 0 && vt_now_ms() < f->until) {
    if (sendto(fd, msg, sizeof msg - 1, MSG_DONTWAIT,
               (const struct sockaddr *)f->addr.u.bytes,
               (socklen_t)f->addr.len) > 0)
      apr_atomic_inc32(&f->sent);
  }
  if (fd >= 0)
    close(fd);
  apr_thread_exit(th, APR_SUCCESS);
  return NULL;
}

static void test_service_notify_flood(void) {
  apr_thread_t *th;
  apr_status_t rv;
  dflood_t f;
  const char *name;
  uint64_t ms, worst = 0;
  unsigned polls = 0, bad = 0;
  vt_t *t = vt_begin("hostile-dgram");
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "n", "<ready notify=\"true\" timeout=\"60s\"/>\n",
                   "sleep", "60000", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "n", "starting", VT_WAIT_MS) != NULL);
  memset(&f, 0, sizeof f);
#if defined(__linux__)
  name = apr_psprintf(vt_pool(t), "@vigil-%ld-n", vt_sup_pid(t));
#else
  name = vt_path(t, "state/notify-n.sock");
#endif
  VT_REQUIRE(pal_addr_local(&f.addr, name) == APR_SUCCESS);
  f.until = vt_now_ms() + 5000;
  VT_REQUIRE(apr_thread_create(&th, NULL, dflood_main, &f, vt_pool(t)) ==
             APR_SUCCESS);
  while (vt_now_ms() < f.until) {
    vt_res_t *r = timed_cli(t, &ms, "status", "--json");
    polls++;
    bad += r->code != 0;
    if (ms > worst)
      worst = ms;
    vt_sleep(t, 50);
  }
  apr_thread_join(&rv, th);
  fprintf(stderr, "\n  [dgram] %u datagrams in 5 s; %u status polls, the "
                  "slowest %llu ms\n",
          (unsigned)f.sent, polls, (unsigned long long)worst);
  CU_ASSERT(f.sent > 1000);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(worst <= 2000);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "n"), "starting");
  shutdown_ok(t);
  vt_end(t);
}

/* vigil's own NOTIFY_SOCKET (systemd's, normally) never read, with a
 * 1 ms watchdog: the messages it cannot take are dropped past a few, not
 * queued in the supervisor's memory for good. */
static void test_notify_unread(void) {
  vg_udp_t *u;
  vg_addr_t addr;
  const char *sock, *cfg;
  long long rss1, rss2;
  int ok;
  vt_t *t = vt_begin("hostile-notify");
  if (!t)
    return;
  u = apr_pcalloc(vt_pool(t), sizeof *u);
  sock = vt_path(t, "notify.sock");
  VT_REQUIRE(pal_addr_local(&addr, sock) == APR_SUCCESS);
  VT_REQUIRE(vg_udp_init(vt_loop(t), u, PAL_AF_UNIX) == APR_SUCCESS);
  VT_REQUIRE(vg_udp_bind(u, &addr, 0) == APR_SUCCESS);   /* never read */
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "a", READY_FAST, "sleep", "60000", NULL), NULL);
  apr_env_set("NOTIFY_SOCKET", sock, vt_pool(t));
  apr_env_set("WATCHDOG_USEC", "2000", vt_pool(t));
  ok = vt_sup_start_ready(t, cfg);
  apr_env_delete("NOTIFY_SOCKET", vt_pool(t));
  apr_env_delete("WATCHDOG_USEC", vt_pool(t));
  VT_REQUIRE(ok);
  vt_sleep(t, 1000);
  rss1 = sup_rss(t);
  vt_sleep(t, 8000);   /* 8000 watchdog messages */
  rss2 = sup_rss(t);
  fprintf(stderr, "\n  [notify] RSS %lld -> %lld KiB over 8000 unread "
                  "messages\n", rss1 / 1024, rss2 / 1024);
  if (rss1 > 0) {
    CU_ASSERT(rss2 < rss1 + 512 * 1024);
  } else {
    fprintf(stderr, "  [notify] the supervisor's RSS is not known here: "
                    "not checked\n");
  }
  CU_ASSERT_PTR_NOT_NULL(vt_status(t));
  shutdown_ok(t);
  vg_close((vg_handle_t *)u, NULL);
  vt_end(t);
}
#endif

/* ---- pipelining --------------------------------------------------------- */

/* One client sends 10,000 status lines at once and reads nothing for a
 * while; each status lists 64 running instances (a walk of /proc each
 * without the usage cache).  Another client's commands are answered
 * promptly all along, and the pipeline in full once it reads. */
static void test_pipelined_status_flood(void) {
  const char line[] = "{\"cmd\":\"status\"}\n";
  const size_t n = 10000;
  char *data, *p;
  hold_t *c;
  uint64_t ms, worst = 0, until;
  unsigned polls = 0, bad = 0;
  size_t i;
  const char *svcs = "";
  vt_t *t = vt_begin("hostile-pipe");
  if (!t)
    return;
  for (i = 0; i < 8; i++)
    svcs = apr_pstrcat(vt_pool(t), svcs,
                       vt_svc(t, apr_psprintf(vt_pool(t), "s%d", (int)i),
                              "<instances>8</instances>\n    " READY_FAST,
                              "sleep", "60000", NULL),
                       NULL);
  vt_config(t, "vigil.xml", svcs, NULL);
  if (!vt_sup_start_ready(t, vt_path(t, "vigil.xml"))) {
    CU_FAIL("the supervisor did not come up");
    vt_end(t);
    return;
  }
  VT_REQUIRE(vt_wait_state(t, "s7-7", "running", VT_WAIT_MS) != NULL);
  data = malloc(n * (sizeof line - 1));
  VT_REQUIRE(data != NULL);
  for (i = 0, p = data; i < n; i++, p += sizeof line - 1)
    memcpy(p, line, sizeof line - 1);
  c = hold_open_ex(t, vt_control_path(t), data, n * (sizeof line - 1), 1);
  free(data);
  VT_REQUIRE(c != NULL);
  while (polls < 10) {
    vt_res_t *r = timed_cli(t, &ms, "status", "s3-3");
    polls++;
    bad += r->code != 0;
    if (ms > worst)
      worst = ms;
  }
  fprintf(stderr, "\n  [pipeline] %u status of another client while one "
                  "pipelines %u: the slowest %llu ms\n",
          polls, (unsigned)n, (unsigned long long)worst);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(worst <= 1000);
  /* Now it reads: every reply comes. */
  vg_read_start(&c->pipe, hold_alloc, hold_read);
  until = vt_now_ms() + 60000;
  while (c->lines < n && !c->closed && vt_now_ms() < until)
    vt_sleep(t, 50);
  CU_ASSERT_EQUAL(c->lines, n);
  hold_close(c);
  shutdown_ok(t);
  vt_end(t);
}

/* ---- slots held by half-sent requests and abandoned waits --------------- */

static void test_half_sent_requests(void) {
  const char part[] = "{\"cmd\":\"sta";
  hold_t *held[70];
  uint64_t ms;
  vt_res_t *r;
  int i, closed = 0;
  vt_t *t = start("hostile-half", NULL);
  if (!t)
    return;
  memset(held, 0, sizeof held);
  for (i = 0; i < 70; i++)
    if (!(held[i] = hold_open(t, vt_control_path(t), part, sizeof part - 1)))
      break;
  vt_sleep(t, 300);
  r = timed_cli(t, &ms, "status", "--json");
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "\"a\""));
  for (i = 0; i < 70; i++)
    closed += held[i] && held[i]->closed;
  /* Those evicted for it were the oldest. */
  CU_ASSERT(closed >= 6);
  CU_ASSERT(held[0] && held[0]->closed);
  CU_ASSERT(held[69] && !held[69]->closed);
  shutdown_ok(t);
  for (i = 0; i < 70; i++)
    hold_close(held[i]);
  vt_end(t);
}

static void test_abandoned_waits(void) {
  const char req[] = "{\"cmd\":\"start\",\"name\":\"crash\",\"wait\":true}\n";
  uint64_t ms;
  vt_res_t *r;
  int i;
  vt_t *t = vt_begin("hostile-waits");
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "60000", NULL),
            vt_svc(t, "crash",
                   "<restart policy=\"always\" delay=\"100ms\" "
                   "max-delay=\"200ms\" max-restarts=\"1000000\"/>\n"
                   "    " READY_FAST,
                   "exit", "1", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  /* 70 clients ask to wait for a start that never comes, and vanish. */
  for (i = 0; i < 70; i++) {
    hold_t *c = hold_open(t, vt_control_path(t), req, sizeof req - 1);
    VT_REQUIRE(c != NULL);
    vt_sleep(t, 5);
    hold_close(c);
  }
  vt_sleep(t, 300);
  r = timed_cli(t, &ms, "status", "--json");
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "\"crash\""));
  /* A live waiter is still answered: stop of the crash loop. */
  r = timed_cli(t, &ms, "stop", "crash");
  CU_ASSERT_EQUAL(r->code, 0);
  shutdown_ok(t);
  vt_end(t);
}

/* ---- deadlines ---------------------------------------------------------- */

static int both_closed(void *arg) {
  hold_t **h = arg;
  return h[0]->closed && h[1]->closed;
}

static void test_idle_deadline(void) {
  hold_t *h[2];
  uint64_t t0;
  vt_t *t = start("hostile-idle", NULL);
  if (!t)
    return;
  t0 = vt_now_ms();
  h[0] = hold_open(t, vt_control_path(t), "", 0);
  h[1] = hold_open(t, vt_control_path(t), "{\"cmd\":", 7);
  VT_REQUIRE(h[0] && h[1]);
  /* Closed after 10 s without a request, not before. */
  vt_sleep(t, 8000);
  CU_ASSERT(!h[0]->closed && !h[1]->closed);
  CU_ASSERT(vg_test_run_cond(vt_loop(t), both_closed, h, 6000));
  if (both_closed(h))
    fprintf(stderr, "\n  [idle] closed after %llu and %llu ms\n",
            (unsigned long long)(h[0]->closed_at - t0),
            (unsigned long long)(h[1]->closed_at - t0));
  hold_close(h[0]);
  hold_close(h[1]);
  CU_ASSERT_PTR_NOT_NULL(vt_status(t));
  vt_end(t);
}

/* ---- hostile contents --------------------------------------------------- */

static int is_error(vt_t *t, const char *reply) {
  svc_json_t *v = NULL;
  svc_json_error_t jerr;
  const char *nl = strchr(reply, '\n');
  int ok = 1;
  return nl &&
         svc_json_parse(&v, reply, (size_t)(nl - reply), vt_pool(t), &jerr) ==
             APR_SUCCESS &&
         svc_json_bool(svc_json_get(v, "ok"), &ok) && !ok;
}

static void test_nul_in_name(void) {
  static const char *const reqs[] = {
      "{\"cmd\":\"status\",\"name\":\"a\\u0000b\"}\n",
      "{\"cmd\":\"status\",\"name\":\"\\u0000\"}\n",
      "{\"cmd\":\"stop\",\"name\":\"all\\u0000\"}\n",
      "{\"cmd\":\"stop\",\"name\":\"a\\u0000\"}\n",
      "{\"cmd\":\"status\",\"name\":7}\n",
      NULL};
  const char *reply;
  long pid;
  int closed, i;
  vt_t *t = start("hostile-nul", NULL);
  if (!t)
    return;
  VT_REQUIRE(vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL);
  pid = vt_pid(t, "a");
  for (i = 0; reqs[i]; i++) {
    CU_ASSERT_EQUAL(vt_control_raw(t, reqs[i], strlen(reqs[i]), 1, 5000,
                                   &reply, &closed),
                    0);
    CU_ASSERT(is_error(t, reply));
    CU_ASSERT(!vt_contains(reply, "\"services\""));
  }
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "running");
  CU_ASSERT_EQUAL(vt_pid(t, "a"), pid);
  vt_end(t);
}

/* A request line of exactly 65,536 bytes (its "\n", or "\r\n", aside) is
 * served; one byte more is refused. */
static void test_line_at_the_limit(void) {
  const size_t limit = 65536;
  char *data;
  const char *reply;
  int closed, crlf;
  vt_t *t = start("hostile-line", NULL);
  if (!t)
    return;
  data = apr_palloc(vt_pool(t), limit + 3);
  for (crlf = 0; crlf < 2; crlf++) {
    size_t len = limit;
    memset(data, 'x', len);
    memcpy(data, "{\"cmd\":\"status\",\"pad\":\"", 23);
    memcpy(data + len - 2, "\"}", 2);
    memcpy(data + len, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
    CU_ASSERT_EQUAL(vt_control_raw(t, data, len + 1 + crlf, 1, 5000, &reply,
                                   &closed),
                    0);
    CU_ASSERT(!is_error(t, reply));
    CU_ASSERT(vt_contains(reply, "\"services\""));
    if (is_error(t, reply))
      fprintf(stderr, "\n  [line] %.200s\n", reply);
  }
  /* One more byte. */
  memset(data, 'x', limit + 1);
  memcpy(data, "{\"cmd\":\"status\",\"pad\":\"", 23);
  memcpy(data + limit - 1, "\"}\n", 3);
  CU_ASSERT_EQUAL(vt_control_raw(t, data, limit + 2, 0, 5000, &reply,
                                 &closed),
                  0);
  CU_ASSERT(is_error(t, reply));
  CU_ASSERT(closed);
  CU_ASSERT_PTR_NOT_NULL(vt_status(t));
  vt_end(t);
}

/* 8 services of 1000 instances (not started): the status is about 2 MB,
 * over the JSON parser's default limit; the CLI prints it whole. */
static void test_status_of_8000(void) {
  const char *svcs = "";
  svc_json_t *v = NULL;
  svc_json_error_t jerr;
  svc_json_limits_t lim = {(size_t)64 << 20, 0};
  vt_res_t *r;
  int i;
  vt_t *t = vt_begin("hostile-8000");
  if (!t)
    return;
  for (i = 0; i < 8; i++)
    svcs = apr_pstrcat(
        vt_pool(t), svcs,
        vt_svc(t, apr_psprintf(vt_pool(t), "s%d", i),
               "<instances>1000</instances>\n    <autostart>false</autostart>\n"
               "    " READY_FAST,
               "sleep", "60000", NULL),
        NULL);
  vt_config(t, "vigil.xml", svcs, NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  r = vt_cli(t, "status", "--json", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(r->out_len > ((size_t)1 << 20));
  CU_ASSERT(svc_json_parse_ex(&v, r->out, r->out_len, &lim, vt_pool(t),
                              &jerr) == APR_SUCCESS);
  CU_ASSERT_EQUAL(svc_json_size(svc_json_get(v, "services")), 8000);
  r = vt_cli(t, "status", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(vt_count_lines(r->out, "stopped"), 8000);
  vt_end(t);
}

/* <control>@NAME</control>: a Linux abstract socket, no file anywhere;
 * elsewhere the config is refused at validate. */
static void test_abstract_endpoint(void) {
  const char *name, *cfg;
  vt_res_t *r;
  vt_t *t = vt_begin("hostile-abstract");
  if (!t)
    return;
  name = apr_psprintf(vt_pool(t), "@vigil-test-%ld-%llu", pal_getpid(),
                      (unsigned long long)vt_now_ms());
  cfg = vt_path(t, "vigil.xml");
  VT_REQUIRE(vt_write_file(
                 t, cfg,
                 apr_pstrcat(
                     vt_pool(t),
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<vigil>\n"
                     "  <supervisor>\n    <state-dir>",
                     vt_xml(t, vt_path(t, "state")),
                     "</state-dir>\n    <log-dir>",
                     vt_xml(t, vt_log_dir(t)),
                     "</log-dir>\n    <control>", name,
                     "</control>\n  </supervisor>\n",
                     vt_svc(t, "a", READY_FAST, "sleep", "60000", NULL),
                     "</vigil>\n", NULL)) == 0);
#if defined(__linux__)
  VT_REQUIRE(vt_sup_start_ready(t, cfg));
  r = vt_cli(t, "status", "--json", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "\"a\""));
  r = vt_vigil(t, 10000, "status", "--control", name, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(!vt_exists(name));   /* no file "@..." in the working dir */
  CU_ASSERT(!vt_exists(vt_path(t, name)));
  r = vt_cli(t, "shutdown", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, 15000), 0);
#else
  r = vt_vigil(t, 10000, "validate", "-c", cfg, NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "only on Linux"));
#endif
  vt_end(t);
}

/* ---- a failed accept ---------------------------------------------------- */

/* faulty-sup CONFIG SKIP COUNT [memfd]: the supervisor (svc_sup_run, as
 * `vigil run -c CONFIG`) with accepts (or with "memfd", memfd_create:
 * vigil_logtarget) failing ENOMEM through the PAL's fault seam: after
 * SKIP calls pass, the next COUNT. */
static int child_faulty_sup(int argc, char **argv) {
  apr_pool_t *pool;
  apr_file_t *err;
  vg_log_t *log;
  svc_sup_opts_t o;
  int rc;
  if (argc < 4)
    return 125;
  apr_pool_create(&pool, NULL);
  apr_file_open_stderr(&err, pool);
  if (vg_log_create(&log, pool, err, VG_LOG_INFO, VG_LOG_TEXT) !=
      APR_SUCCESS)
    return 124;
  memset(&o, 0, sizeof o);
  o.config = argv[1];
  o.log = log;
  pal_fault_inject(argc > 4 && strcmp(argv[4], "memfd") == 0
                       ? PAL_SYS_MEMFD
                       : PAL_SYS_ACCEPT,
                   APR_ENOMEM, (unsigned)atoi(argv[2]),
                   (unsigned)atoi(argv[3]));
  rc = svc_sup_run(&o, pool);
  apr_pool_destroy(pool);
  return rc;
}

const vg_child_mode_t vg_child_hostile_modes[] = {
    {"faulty-sup", child_faulty_sup}, {NULL, NULL}};

/* The accepts of the first connections pass (on Windows the listener
 * starts its pipe instances with them), then 200 fail: every status
 * still gets through, and on POSIX the log says what happened. */
static void test_accept_enomem(void) {
  const char *argv[7];
  const char *cfg;
  int i, bad = 0;
  vt_t *t = vt_begin("hostile-enomem");
  if (!t)
    return;
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "a", READY_FAST, "sleep", "60000", NULL), NULL);
  argv[0] = vt_self(t);
  argv[1] = "--child";
  argv[2] = "faulty-sup";
  argv[3] = cfg;
  argv[4] = "20";
  argv[5] = "200";
  argv[6] = NULL;
  VT_REQUIRE(vt_sup_start_argv(t, cfg, argv) == 0);
  for (i = 0; i < 200 && !vt_status(t); i++)
    vt_sleep(t, 50);
  for (i = 0; i < 40; i++)
    bad += vt_status(t) == NULL;
  CU_ASSERT_EQUAL(bad, 0);
#if defined(_WIN32)
  /* A pipe instance that cannot be restarted leaves the others listening
   * and is tried again with the next connection: nothing to report. */
  CU_ASSERT(!vt_contains(vt_sup_log(t), "cannot open the control"));
#else
  CU_ASSERT(vt_wait_log(t, "cannot accept a control connection", 5000));
#endif
  shutdown_ok(t);
  vt_end(t);
}

#if defined(_WIN32)
static void test_connect_flood(void) {
  fprintf(stderr, "\n  [flood] not run on Windows: the flood uses POSIX "
                  "sockets; the pipe endpoint's other limits are tested\n");
}
#endif

static CU_TestInfo vigil_hostile_tests[] = {
    {"connect/close flood: status answers, memory bounded",
     test_connect_flood},
    {"a pipeline of 10000 status lines does not starve others",
     test_pipelined_status_flood},
    {"70 half-sent requests: status and shutdown get through",
     test_half_sent_requests},
    {"70 abandoned start waits: status and shutdown get through",
     test_abandoned_waits},
    {"an idle connection is closed after 10 s", test_idle_deadline},
    {"accept failing ENOMEM: the endpoint goes on serving",
     test_accept_enomem},
#if !defined(_WIN32)
    {"a service's NOTIFY_SOCKET flooded: status answers",
     test_service_notify_flood},
    {"our NOTIFY_SOCKET unread: messages dropped, not queued",
     test_notify_unread},
#endif
    {"a NUL in a name is an error, not all", test_nul_in_name},
    {"a line of 65,536 bytes is served, one more refused",
     test_line_at_the_limit},
    {"status of 8 x 1000 instances", test_status_of_8000},
    {"@NAME abstract endpoint", test_abstract_endpoint},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_hostile_suite = {.pName = "vigil_hostile",
                                    .pInitFunc = NULL,
                                    .pCleanupFunc = NULL,
                                    .pSetUpFunc = NULL,
                                    .pTearDownFunc = NULL,
                                    .pTests = vigil_hostile_tests};
