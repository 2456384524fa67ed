/*
 * probe.c -- one-shot TCP / HTTP / exec probes (services/include/svc_probe.h).
 *
 * Map: 1. the probe life cycle (begin, finish, close accounting, delivery,
 *         cancel);
 *      2. TCP and HTTP (reply parsing; then resolve, connect to each
 *         address in turn, request, status line);
 *      3. exec.
 *
 * Targets are parsed by config/target.c, the parser the loader validated
 * them with.  A host name is resolved at every check (vg_getaddrinfo, on
 * the work queue), never once for all: what a name means can change
 * while vigil runs.  A numeric host is used as it is.
 *
 * Life cycle.  A probe is IDLE, RUNNING or FINISHING:
 *
 *   IDLE --start--> RUNNING --finish()--> FINISHING --last close_cb--> IDLE
 *                                                        (then cb runs)
 *
 * Invariants:
 *   - IDLE owns no handle.  RUNNING always owns the timer (initialised at
 *     begin, even with no time limit), so finish() always has at least one
 *     handle to close and the result is always delivered from the close
 *     phase, never from inside a start call or from inside cancel.
 *   - finish() is the only way out of RUNNING and runs once per check: it
 *     records status and detail, kills a live exec child's group, closes
 *     every open handle (P_TIMER / P_TCP / P_PROC say which) with
 *     on_closed(), cancels a resolution in flight (P_RESOLVING), and
 *     counts each of those callbacks, and a socket already closing
 *     between two addresses (P_NEXT), in `closing`.  Every callback
 *     checks `state == RUNNING` first, so completions that arrive while
 *     FINISHING (connect or write cancelled by the close, a cancelled
 *     resolution) only count down.
 *   - cb is called by the last on_closed(), after `state` went back to
 *     IDLE, with a copy of the detail on the stack: cb may restart or free
 *     the probe, and nothing touches the probe after cb.
 *   - P_CANCELED, once set, makes the delivered status VG_ECANCELED
 *     whatever finish() recorded.
 *   - exec: a timeout or cancel with the child alive does not finish at
 *     once: it kills the group, sets P_KILLED and re-arms the timer for
 *     SVC_PROBE_KILL_GRACE_MS; the exit callback (normally) or the grace
 *     timer then finishes.  So cb normally runs with the child reaped,
 *     and never leaves a zombie to the SIGCHLD fallback's orphan list.
 *   - reply_len < SVC_PROBE_REPLY_MAX while reading: parse_reply() fails
 *     the check as soon as the buffer is full without a verdict, so the
 *     alloc callback never hands out an empty buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "svc_probe.h"

enum { SVC__PROBE_TCP = 1, SVC__PROBE_HTTP, SVC__PROBE_EXEC };
enum { ST_IDLE = 0, ST_RUNNING, ST_FINISHING };

#define P_TIMER    0x01u   /* timer initialised, not closed */
#define P_TCP      0x02u   /* tcp initialised, not closed */
#define P_PROC     0x04u   /* child spawned, handle not closed */
#define P_EXITED   0x08u   /* exit_cb ran */
#define P_KILLED   0x10u   /* group killed (timeout, cancel): awaiting exit */
#define P_CANCELED 0x20u
#define P_RESOLVING 0x40u  /* vg_getaddrinfo in flight */
#define P_NEXT     0x80u   /* tcp closing, to try the next address */
#define P_CONNECTING 0x100u /* connect in flight */

/* ------------------------------------------------------------------------
 * 1. Life cycle
 * --------------------------------------------------------------------- */

static void on_timeout(vg_timer_t *timer);
static void on_next_closed(vg_handle_t *h);

void svc_probe_init(svc_probe_t *p) {
  size_t off = offsetof(svc_probe_t, loop);
  memset((char *)p + off, 0, sizeof *p - off);
  p->state = ST_IDLE;
}

int svc_probe_busy(const svc_probe_t *p) {
  return p->state != ST_IDLE;
}

static void deliver(svc_probe_t *p) {
  char detail[SVC_PROBE_DETAIL_MAX];
  svc_probe_cb cb = p->cb;
  apr_status_t rv = p->result;

  if (p->flags & P_CANCELED) {
    rv = VG_ECANCELED;
    strcpy(detail, "canceled");
  } else {
    memcpy(detail, p->detail, sizeof detail);
  }
  p->state = ST_IDLE;
  p->cb = NULL;
  p->flags = 0;
  cb(p, rv, detail);   /* may restart or free p: do not touch it after */
}

/* One of the callbacks finish() counted has come. */
static void count_down(svc_probe_t *p) {
  if (--p->closing == 0)
    deliver(p);
}

static void on_closed(vg_handle_t *h) { count_down(h->data); }

static void close_one(svc_probe_t *p, unsigned flag, vg_handle_t *h) {
  if (!(p->flags & flag))
    return;
  p->flags &= ~flag;
  p->closing++;
  vg_close(h, on_closed);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void finish(svc_probe_t *p, apr_status_t rv, const char *fmt, ...) {
  va_list ap;
  if (p->state != ST_RUNNING)
    return;
  p->state = ST_FINISHING;
  p->result = rv;
  va_start(ap, fmt);
  vsnprintf(p->detail, sizeof p->detail, fmt, ap);
  va_end(ap);
  /* Never leave a check command running behind a verdict. */
  if ((p->flags & P_PROC) && !(p->flags & P_EXITED))
    vg_process_kill_tree(&p->proc, VG_SIGKILL);
  close_one(p, P_TIMER, (vg_handle_t *)&p->timer);
  close_one(p, P_TCP, (vg_handle_t *)&p->tcp);
  close_one(p, P_PROC, (vg_handle_t *)&p->proc);
  if (p->flags & P_NEXT)
    p->closing++;               /* on_next_closed() counts down */
  if (p->flags & P_RESOLVING) {
    p->closing++;               /* on_resolved() counts down */
    vg_getaddrinfo_cancel(&p->gai);
  }
}

/* Says what the check was doing, when that was not yet the reply. */
static void finish_timeout(svc_probe_t *p) {
  char a[64];
  if (p->flags & P_RESOLVING)
    finish(p, APR_TIMEUP, "timed out after %" APR_UINT64_T_FMT
           " ms resolving %s", (apr_uint64_t)p->timeout_ms, p->host);
  else if (p->flags & P_CONNECTING)
    finish(p, APR_TIMEUP, "timed out after %" APR_UINT64_T_FMT
           " ms connecting to %s", (apr_uint64_t)p->timeout_ms,
           vg_addr_format(&p->addr, a, sizeof a));
  else
    finish(p, APR_TIMEUP, "timed out after %" APR_UINT64_T_FMT " ms",
           (apr_uint64_t)p->timeout_ms);
}

/* A failed call: its name and the system's message. */
static void finish_io(svc_probe_t *p, apr_status_t rv, const char *what) {
  char msg[96];
  finish(p, rv, "%s: %s", what, vg_strerror(rv, msg, sizeof msg));
}

/* Common start: checks, reset, the timer.  On APR_SUCCESS the probe is
 * RUNNING and the caller's later failures go through finish(). */
static apr_status_t begin(svc_probe_t *p, vg_loop_t *loop, int kind,
                          uint64_t timeout_ms, svc_probe_cb cb) {
  apr_status_t rv;
  if (p->state != ST_IDLE)
    return VG_EBUSY;
  p->flags = 0;
  p->closing = 0;
  p->result = APR_SUCCESS;
  p->req_len = 0;
  p->reply_len = 0;
  p->detail[0] = '\0';
  rv = vg_timer_init(loop, &p->timer);
  if (rv != APR_SUCCESS)
    return rv;
  p->timer.data = p;
  p->flags = P_TIMER;
  p->loop = loop;
  p->cb = cb;
  p->kind = kind;
  p->timeout_ms = timeout_ms;
  p->state = ST_RUNNING;
  if (timeout_ms > 0) {
    rv = vg_timer_start(&p->timer, on_timeout, timeout_ms, 0);
    if (rv != APR_SUCCESS)
      finish_io(p, rv, "timer");
  }
  return APR_SUCCESS;
}

static apr_status_t kill_and_wait(svc_probe_t *p);

void svc_probe_cancel(svc_probe_t *p) {
  if (p->state == ST_IDLE)
    return;
  p->flags |= P_CANCELED;
  /* A live child: kill its group and deliver once it has been reaped,
   * rather than leave it to an orphan record (which the SIGCHLD fallback
   * reaps only at loop teardown). */
  if (p->state == ST_RUNNING && kill_and_wait(p) == APR_SUCCESS)
    return;
  finish(p, VG_ECANCELED, "canceled");   /* no-op when FINISHING */
}

/* ------------------------------------------------------------------------
 * 2. TCP and HTTP
 * --------------------------------------------------------------------- */

static void on_http_write(vg_write_t *req, apr_status_t status) {
  svc_probe_t *p = req->data;
  if (p->state != ST_RUNNING || status == APR_SUCCESS)
    return;
  finish_io(p, status, "write");
}

static void on_http_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  svc_probe_t *p = h->data;
  (void)suggested;
  buf->base = p->reply + p->reply_len;
  buf->len = sizeof p->reply - p->reply_len;
}

/* "HTTP/1.x DDD[ reason]" -> DDD, or -1. */
static int parse_status_line(const char *s, size_t n) {
  int code;
  if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 ||
      (s[7] != '0' && s[7] != '1') || s[8] != ' ')
    return -1;
  if (s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
      s[11] < '0' || s[11] > '9')
    return -1;
  if (n > 12 && s[12] != ' ')
    return -1;
  code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
  return code;
}

/* Offset just past the blank line that ends the header block whose
 * status line ends at `nl`, or 0 if it has not arrived yet. */
static size_t header_end(const char *s, size_t n, size_t nl) {
  size_t i;
  for (i = nl; i < n; i++) {
    if (s[i] != '\n')
      continue;
    if (i + 1 < n && s[i + 1] == '\n')
      return i + 2;
    if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n')
      return i + 3;
  }
  return 0;
}

/* Look for a verdict in what arrived so far.  Tolerates any split. */
static void parse_reply(svc_probe_t *p) {
  for (;;) {
    size_t n = p->reply_len, len, end;
    const char *nl;
    int code;

    if (memcmp(p->reply, "HTTP/", n < 5 ? n : 5) != 0) {
      finish(p, APR_EGENERAL, "bad HTTP reply");
      return;
    }
    nl = memchr(p->reply, '\n', n);
    if (!nl) {
      if (n >= sizeof p->reply)
        finish(p, APR_EGENERAL, "bad HTTP reply (status line too long)");
      return;
    }
    len = (size_t)(nl - p->reply);
    if (len > 0 && p->reply[len - 1] == '\r')
      len--;
    code = parse_status_line(p->reply, len);
    if (code < 0) {
      finish(p, APR_EGENERAL, "bad HTTP reply");
      return;
    }
    if (code >= 200) {
      finish(p, code < 400 ? APR_SUCCESS : APR_EGENERAL, "HTTP %d", code);
      return;
    }
    if (code == 101) {   /* we asked for no upgrade */
      finish(p, APR_EGENERAL, "HTTP 101");
      return;
    }
    /* Interim 1xx (100, 103 Early Hints...): skip its headers. */
    end = header_end(p->reply, n, (size_t)(nl - p->reply));
    if (end == 0) {
      if (n >= sizeof p->reply)
        finish(p, APR_EGENERAL, "bad HTTP reply (headers too long)");
      return;
    }
    memmove(p->reply, p->reply + end, n - end);
    p->reply_len = n - end;
  }
}

static void on_http_read(vg_stream_t *s, apr_status_t status, size_t nread,
                         const vg_buf_t *buf) {
  svc_probe_t *p = s->data;
  (void)buf;
  if (p->state != ST_RUNNING)
    return;
  if (status == APR_SUCCESS) {
    if (nread > 0) {
      p->reply_len += nread;
      parse_reply(p);
    }
  } else if (APR_STATUS_IS_EOF(status)) {
    finish(p, status, p->reply_len == 0
                          ? "connection closed without a reply"
                          : "connection closed before a complete status "
                            "line");
  } else {
    finish_io(p, status, "read");
  }
}

static void start_connect(svc_probe_t *p);

/* Every address of the target failed, or this was the last: report the
 * address and the system's reason ("connect 127.0.0.1:5432: Connection
 * refused").  With addresses left (a name with an IPv6 and an IPv4
 * address, a service that listens on one of them), close this socket and
 * try the next. */
static void connect_failed(svc_probe_t *p, apr_status_t rv) {
  char a[64], msg[96];
  p->flags &= ~P_CONNECTING;
  if (p->next_addr < p->naddrs) {
    p->flags = (p->flags & ~P_TCP) | P_NEXT;
    vg_close((vg_handle_t *)&p->tcp, on_next_closed);
    return;
  }
  finish(p, rv, "connect %s: %s", vg_addr_format(&p->addr, a, sizeof a),
         vg_strerror(rv, msg, sizeof msg));
}

static void on_next_closed(vg_handle_t *h) {
  svc_probe_t *p = h->data;
  p->flags &= ~P_NEXT;
  if (p->state != ST_RUNNING)
    count_down(p);
  else
    start_connect(p);
}

static void on_connect(vg_connect_t *req, apr_status_t status) {
  svc_probe_t *p = req->data;
  vg_buf_t buf;
  apr_status_t rv;

  if (p->state != ST_RUNNING)
    return;
  if (status != APR_SUCCESS) {
    connect_failed(p, status);
    return;
  }
  p->flags &= ~P_CONNECTING;
  if (p->kind == SVC__PROBE_TCP) {
    finish(p, APR_SUCCESS, "connected");
    return;
  }
  buf.base = p->req;
  buf.len = p->req_len;
  p->write_req.data = p;
  rv = vg_write(&p->write_req, &p->tcp, &buf, 1, on_http_write);
  if (rv != APR_SUCCESS) {
    finish_io(p, rv, "write");
    return;
  }
  rv = vg_read_start(&p->tcp, on_http_alloc, on_http_read);
  if (rv != APR_SUCCESS)
    finish_io(p, rv, "read");
}

/* Open a socket and connect to the next address of the target. */
static void start_connect(svc_probe_t *p) {
  apr_status_t rv;
  p->addr = p->addrs[p->next_addr++];
  rv = vg_tcp_init(p->loop, &p->tcp);
  if (rv != APR_SUCCESS) {
    finish_io(p, rv, "socket");
    return;
  }
  p->tcp.data = p;
  p->flags |= P_TCP | P_CONNECTING;
  p->connect_req.data = p;
  rv = vg_tcp_connect(&p->connect_req, &p->tcp, &p->addr, on_connect);
  if (rv != APR_SUCCESS)
    connect_failed(p, rv);
}

static void on_resolved(vg_getaddrinfo_t *req, apr_status_t status,
                        const vg_addr_t *addrs, size_t naddrs) {
  svc_probe_t *p = req->data;
  char msg[96];
  size_t i;

  p->flags &= ~P_RESOLVING;
  if (p->state != ST_RUNNING) {
    count_down(p);              /* cancelled by finish() */
    return;
  }
  if (status != APR_SUCCESS) {
    finish(p, status, "resolve %s: %s", p->host,
           vg_strerror(status, msg, sizeof msg));
    return;
  }
  for (i = 0; i < naddrs && i < SVC_PROBE_ADDRS_MAX; i++)
    p->addrs[i] = addrs[i];
  p->naddrs = (unsigned)i;
  p->next_addr = 0;
  start_connect(p);
}

/* After begin(): connect to target `t`, resolving its host first unless
 * it is a numeric address. */
static void start_target(svc_probe_t *p, const cfg_target_t *t) {
  char msg[96];
  apr_status_t rv;
  if (p->state != ST_RUNNING)   /* begin() failed to arm the timer */
    return;
  snprintf(p->host, sizeof p->host, "%s", t->host);
  p->next_addr = 0;
  if (vg_addr_ip(&p->addrs[0], t->host, t->port) == APR_SUCCESS) {
    p->naddrs = 1;
    start_connect(p);
    return;
  }
  p->gai.data = p;
  rv = vg_getaddrinfo(p->loop, &p->gai, on_resolved, t->host, t->port, 0);
  if (rv != APR_SUCCESS) {
    finish(p, rv, "resolve %s: %s", t->host,
           vg_strerror(rv, msg, sizeof msg));
    return;
  }
  p->flags |= P_RESOLVING;
}

apr_status_t svc_probe_tcp_at(svc_probe_t *p, vg_loop_t *loop,
                              const cfg_target_t *t, uint64_t timeout_ms,
                              svc_probe_cb cb) {
  apr_status_t rv;
  if (!p || !loop || !cb || !t)
    return APR_EINVAL;
  if (p->state != ST_IDLE)
    return VG_EBUSY;
  rv = begin(p, loop, SVC__PROBE_TCP, timeout_ms, cb);
  if (rv != APR_SUCCESS)
    return rv;
  start_target(p, t);
  return APR_SUCCESS;
}

/* The string forms: the target parsed by the loader's parser, then as
 * the _at forms.  An idle probe and a valid target, or the error. */
static apr_status_t parse_target(svc_probe_t *p, vg_loop_t *loop,
                                 svc_probe_cb cb, const char *s, int url,
                                 cfg_target_t *t) {
  if (!p || !loop || !cb)
    return APR_EINVAL;
  if (p->state != ST_IDLE)
    return VG_EBUSY;
  if ((url ? cfg_parse_url(s, t, NULL) : cfg_parse_hostport(s, t, NULL)) !=
      APR_SUCCESS)
    return APR_EINVAL;
  return APR_SUCCESS;
}

apr_status_t svc_probe_tcp(svc_probe_t *p, vg_loop_t *loop,
                           const char *hostport, uint64_t timeout_ms,
                           svc_probe_cb cb) {
  cfg_target_t t;
  apr_status_t rv = parse_target(p, loop, cb, hostport, 0, &t);
  return rv != APR_SUCCESS ? rv
                           : svc_probe_tcp_at(p, loop, &t, timeout_ms, cb);
}

apr_status_t svc_probe_http_at(svc_probe_t *p, vg_loop_t *loop,
                               const cfg_target_t *t, uint64_t timeout_ms,
                               svc_probe_cb cb) {
  char port[8] = "";
  int ipv6, n;
  apr_status_t rv;

  if (!p || !loop || !cb || !t)
    return APR_EINVAL;
  if (p->state != ST_IDLE)
    return VG_EBUSY;
  ipv6 = strchr(t->host, ':') != NULL;
  if (t->port != 80)
    snprintf(port, sizeof port, ":%d", t->port);
  n = snprintf(p->req, sizeof p->req,
               "GET %s HTTP/1.1\r\n"
               "Host: %s%s%s%s\r\n"
               "User-Agent: vigil/%d.%d\r\n"
               "Connection: close\r\n"
               "\r\n",
               t->path, ipv6 ? "[" : "", t->host, ipv6 ? "]" : "", port,
               VG_VERSION_MAJOR, VG_VERSION_MINOR);
  if (n < 0 || (size_t)n >= sizeof p->req)
    return APR_EINVAL;   /* cannot happen with the parser's bounds */
  rv = begin(p, loop, SVC__PROBE_HTTP, timeout_ms, cb);
  if (rv != APR_SUCCESS)
    return rv;
  p->req_len = (size_t)n;
  start_target(p, t);
  return APR_SUCCESS;
}

apr_status_t svc_probe_http(svc_probe_t *p, vg_loop_t *loop,
                            const char *url, uint64_t timeout_ms,
                            svc_probe_cb cb) {
  cfg_target_t t;
  apr_status_t rv = parse_target(p, loop, cb, url, 1, &t);
  return rv != APR_SUCCESS ? rv
                           : svc_probe_http_at(p, loop, &t, timeout_ms, cb);
}

/* ------------------------------------------------------------------------
 * 3. exec
 * --------------------------------------------------------------------- */

static void on_exec_exit(vg_process_t *proc, int exit_status,
                         int term_signal) {
  svc_probe_t *p = proc->data;
  const char *name;

  p->flags |= P_EXITED;
  /* Whatever the command left in its group dies with it.  The kernel
   * does not reuse the group id while a member lives. */
  vg_process_kill_tree(proc, VG_SIGKILL);
  if (p->state != ST_RUNNING)
    return;
  if (p->flags & P_KILLED) {
    finish_timeout(p);
  } else if (term_signal != 0) {
    name = vg_signal_name(term_signal);
    if (name)
      finish(p, APR_EGENERAL, "killed by signal %s", name);
    else
      finish(p, APR_EGENERAL, "killed by signal %d", term_signal);
  } else if (exit_status == 0) {
    finish(p, APR_SUCCESS, "exit 0");
  } else {
    finish(p, APR_EGENERAL, "exit %d", exit_status);
  }
}

/* The step of a failed spawn, when it says more than "the exec failed". */
static const char *spawn_step(void) {
  const char *c = pal_last_call();
  if (!c || !*c || strncmp(c, "exec", 4) == 0 ||
      strncmp(c, "posix_spawn", 11) == 0 ||
      strncmp(c, "CreateProcess", 13) == 0)
    return NULL;
  return c;
}

apr_status_t svc_probe_exec(svc_probe_t *p, vg_loop_t *loop,
                            const char *const *argv, const char *const *env,
                            const char *cwd, uint64_t timeout_ms,
                            svc_probe_cb cb) {
  return svc_probe_exec_as(p, loop, argv, env, cwd, NULL, timeout_ms, cb);
}

apr_status_t svc_probe_exec_as(svc_probe_t *p, vg_loop_t *loop,
                               const char *const *argv,
                               const char *const *env, const char *cwd,
                               const vg_process_options_t *as,
                               uint64_t timeout_ms, svc_probe_cb cb) {
  vg_process_options_t o;
  apr_status_t rv;
  int i;

  if (!p || !loop || !cb || !argv || !argv[0] || !argv[0][0])
    return APR_EINVAL;
  rv = begin(p, loop, SVC__PROBE_EXEC, timeout_ms, cb);
  if (rv != APR_SUCCESS || p->state != ST_RUNNING)
    return rv;
  memset(&o, 0, sizeof o);
  o.args = argv;
  o.env = env;
  o.cwd = cwd;
  o.flags = VG_PROCESS_NEW_GROUP | VG_PROCESS_SEARCH_PATH;
  if (as) {
    o.flags |= as->flags &
               (VG_PROCESS_SETUID | VG_PROCESS_SETGID | VG_PROCESS_UMASK);
    o.uid = as->uid;
    o.gid = as->gid;
    o.groups = as->groups;
    o.ngroups = as->ngroups;
    o.umask = as->umask;
  }
  for (i = 0; i < 3; i++)
    o.stdio[i].kind = VG_STDIO_IGNORE;
  o.exit_cb = on_exec_exit;
  p->proc.data = p;
  rv = vg_spawn(loop, &p->proc, &o);
  if (rv != APR_SUCCESS) {
    char msg[80];
    const char *step = spawn_step();
    finish(p, rv, "exec %s: %s%s%s%s", argv[0],
           vg_strerror(rv, msg, sizeof msg), step ? " (" : "",
           step ? step : "", step ? ")" : "");
    return APR_SUCCESS;
  }
  p->flags |= P_PROC;
  return APR_SUCCESS;
}

/* exec, timeout or cancel: kill the group, then wait (bounded) for the
 * exit, so that the verdict comes with the child gone.  APR_SUCCESS if
 * waiting; anything else means "finish now". */
static apr_status_t kill_and_wait(svc_probe_t *p) {
  if (p->kind != SVC__PROBE_EXEC || !(p->flags & P_PROC) ||
      (p->flags & P_EXITED))
    return APR_EINVAL;
  if (p->flags & P_KILLED)
    return APR_SUCCESS;   /* already waiting */
  p->flags |= P_KILLED;
  vg_process_kill_tree(&p->proc, VG_SIGKILL);
  return vg_timer_start(&p->timer, on_timeout, SVC_PROBE_KILL_GRACE_MS, 0);
}

/* Shared by all kinds.  With P_KILLED set, this is the end of the grace
 * period: give up waiting (the PAL's orphan record reaps the child). */
static void on_timeout(vg_timer_t *timer) {
  svc_probe_t *p = timer->data;
  if (p->state != ST_RUNNING)
    return;
  if (!(p->flags & P_KILLED) && kill_and_wait(p) == APR_SUCCESS)
    return;
  finish_timeout(p);
}
