/*
 * probe.c -- one-shot TCP / HTTP / exec probes (services/include/svc_probe.h).
 *
 * Map: 1. target parsing (host:port, http:// URLs);
 *      2. the probe life cycle (begin, finish, close accounting, delivery,
 *         cancel);
 *      3. TCP and HTTP (connect, request, status line);
 *      4. exec.
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
 *     records status and detail, kills a live exec child's group, and
 *     closes every open handle (P_TIMER / P_TCP / P_PROC say which) with
 *     on_closed(), counting them in `closing`.  Every handle callback
 *     checks `state == RUNNING` first, so completions that arrive while
 *     FINISHING (connect or write cancelled by the close) are ignored.
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

/* ------------------------------------------------------------------------
 * 1. Target parsing
 * --------------------------------------------------------------------- */

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive: does s (len n) equal the lower-case word w? */
static int word_eq(const char *s, size_t n, const char *w) {
  size_t i;
  if (strlen(w) != n)
    return 0;
  for (i = 0; i < n; i++)
    if (lower((unsigned char)s[i]) != w[i])
      return 0;
  return 1;
}

/* Case-insensitive: does s start with the lower-case word w? */
static int prefix_eq(const char *s, const char *w) {
  size_t i;
  for (i = 0; w[i]; i++)   /* s's NUL never equals w[i] */
    if (lower((unsigned char)s[i]) != w[i])
      return 0;
  return 1;
}

/* 1-65535, decimal digits only, no sign, no spaces. */
static int parse_port(const char *s, size_t n) {
  int v = 0;
  size_t i;
  if (n == 0 || n > 5)
    return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v >= 1 && v <= 65535 ? v : -1;
}

/* Parse s[0..n) as HOST[:PORT].  With default_port 0 the port is
 * required.  host_out (SVC_PROBE_HOST_MAX bytes) gets the host as
 * written, brackets stripped. */
static apr_status_t parse_authority(const char *s, size_t n,
                                    int default_port, char *host_out,
                                    int *port_out, vg_addr_t *addr,
                                    const char **why) {
  const char *host, *colon = NULL;
  size_t hlen, i;
  int bracketed = 0, port = default_port;
  vg_addr_t tmp;
  char ip[SVC_PROBE_HOST_MAX];

  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
      *why = "spaces, control or non-ASCII characters in the address";
      return APR_EINVAL;
    }
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (!close) {
      *why = "missing ']' after an IPv6 address";
      return APR_EINVAL;
    }
    bracketed = 1;
    host = s + 1;
    hlen = (size_t)(close - host);
    if (close + 1 < s + n) {
      if (close[1] != ':') {
        *why = "expected ':PORT' after ']'";
        return APR_EINVAL;
      }
      colon = close + 1;
    }
  } else {
    host = s;
    colon = memchr(s, ':', n);
    hlen = colon ? (size_t)(colon - s) : n;
    if (colon && memchr(colon + 1, ':', n - hlen - 1)) {
      *why = "an IPv6 address needs brackets, as in [::1]:80";
      return APR_EINVAL;
    }
  }
  if (hlen == 0) {
    *why = "missing host";
    return APR_EINVAL;
  }
  if (hlen >= SVC_PROBE_HOST_MAX) {
    *why = "host too long";
    return APR_EINVAL;
  }
  if (colon) {
    port = parse_port(colon + 1, (size_t)(s + n - colon - 1));
    if (port < 0) {
      *why = colon + 1 == s + n ? "missing port"
                                : "port must be a number from 1 to 65535";
      return APR_EINVAL;
    }
  } else if (port == 0) {
    *why = "missing ':PORT'";
    return APR_EINVAL;
  }

  memcpy(host_out, host, hlen);
  host_out[hlen] = '\0';
  if (!bracketed && word_eq(host, hlen, "localhost"))
    strcpy(ip, "127.0.0.1");     /* no DNS on the loop: fixed meaning */
  else
    strcpy(ip, host_out);
  if (bracketed && !memchr(ip, ':', hlen)) {
    *why = "brackets are for IPv6 addresses only";
    return APR_EINVAL;
  }
  if (vg_addr_ip(addr ? addr : &tmp, ip, port) != APR_SUCCESS) {
    if (bracketed) {
      *why = "not a valid IPv6 address";
    } else {
      int numeric = 1;
      for (i = 0; i < hlen; i++)
        if ((host[i] < '0' || host[i] > '9') && host[i] != '.')
          numeric = 0;
      *why = numeric ? "not a valid IPv4 address"
                     : "host names are not resolved: use a numeric "
                       "address or localhost";
    }
    return APR_EINVAL;
  }
  *port_out = port;
  return APR_SUCCESS;
}

apr_status_t svc_probe_parse_hostport(const char *hostport, vg_addr_t *addr,
                                      const char **why) {
  const char *dummy;
  char host[SVC_PROBE_HOST_MAX];
  int port;
  if (!why)
    why = &dummy;
  *why = NULL;
  if (!hostport) {
    *why = "missing address";
    return APR_EINVAL;
  }
  return parse_authority(hostport, strlen(hostport), 0, host, &port, addr,
                         why);
}

apr_status_t svc_probe_parse_url(const char *url, svc_probe_url_t *out,
                                 const char **why) {
  svc_probe_url_t tmp;
  const char *dummy, *rest, *path, *end;
  size_t alen, plen, i;
  apr_status_t rv;

  if (!why)
    why = &dummy;
  *why = NULL;
  if (!out)
    out = &tmp;
  if (!url) {
    *why = "missing URL";
    return APR_EINVAL;
  }
  if (!prefix_eq(url, "http://")) {
    *why = prefix_eq(url, "https://") ? "https is not supported"
           : strstr(url, "://")       ? "only http:// URLs are supported"
                                      : "not an http:// URL";
    return APR_EINVAL;
  }
  /* The whole URL goes into a request line: no byte may break it. */
  for (i = 0; url[i]; i++)
    if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
      *why = "spaces, control or non-ASCII characters in the URL "
             "(percent-encode them)";
      return APR_EINVAL;
    }
  rest = url + 7;
  alen = strcspn(rest, "/?#");
  if (memchr(rest, '@', alen)) {
    *why = "user info in URLs is not supported";
    return APR_EINVAL;
  }
  rv = parse_authority(rest, alen, 80, out->host, &out->port, &out->addr,
                       why);
  if (rv != APR_SUCCESS)
    return rv;
  path = rest + alen;
  end = path + strcspn(path, "#");    /* the fragment is never sent */
  plen = (size_t)(end - path);
  if (plen == 0 || path[0] != '/') {
    /* "" or "?query": the path is "/" */
    if (plen + 2 > sizeof out->path) {
      *why = "URL path too long";
      return APR_EINVAL;
    }
    out->path[0] = '/';
    memcpy(out->path + 1, path, plen);
    out->path[plen + 1] = '\0';
  } else {
    if (plen + 1 > sizeof out->path) {
      *why = "URL path too long";
      return APR_EINVAL;
    }
    memcpy(out->path, path, plen);
    out->path[plen] = '\0';
  }
  return APR_SUCCESS;
}

/* ------------------------------------------------------------------------
 * 2. Life cycle
 * --------------------------------------------------------------------- */

static void on_timeout(vg_timer_t *timer);

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

static void on_closed(vg_handle_t *h) {
  svc_probe_t *p = h->data;
  if (--p->closing == 0)
    deliver(p);
}

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
}

static void finish_timeout(svc_probe_t *p) {
  finish(p, APR_TIMEUP, "timed out after %" APR_UINT64_T_FMT " ms",
         (apr_uint64_t)p->timeout_ms);
}

/* A failed I/O call, with a short message for the common cases. */
static void finish_io(svc_probe_t *p, apr_status_t rv, const char *what) {
  char msg[96];
  if (APR_STATUS_IS_ECONNREFUSED(rv))
    finish(p, rv, "connection refused");
  else if (APR_STATUS_IS_ECONNRESET(rv))
    finish(p, rv, "connection reset by peer");
  else
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
 * 3. TCP and HTTP
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

static void on_connect(vg_connect_t *req, apr_status_t status) {
  svc_probe_t *p = req->data;
  vg_buf_t buf;
  apr_status_t rv;

  if (p->state != ST_RUNNING)
    return;
  if (status != APR_SUCCESS) {
    finish_io(p, status, "connect");
    return;
  }
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

/* After begin(): open the socket and connect to p->addr. */
static void start_connect(svc_probe_t *p) {
  apr_status_t rv;
  if (p->state != ST_RUNNING)   /* begin() failed to arm the timer */
    return;
  rv = vg_tcp_init(p->loop, &p->tcp);
  if (rv != APR_SUCCESS) {
    finish_io(p, rv, "socket");
    return;
  }
  p->tcp.data = p;
  p->flags |= P_TCP;
  p->connect_req.data = p;
  rv = vg_tcp_connect(&p->connect_req, &p->tcp, &p->addr, on_connect);
  if (rv != APR_SUCCESS)
    finish_io(p, rv, "connect");
}

apr_status_t svc_probe_tcp(svc_probe_t *p, vg_loop_t *loop,
                           const char *hostport, uint64_t timeout_ms,
                           svc_probe_cb cb) {
  vg_addr_t addr;
  apr_status_t rv;
  if (!p || !loop || !cb)
    return APR_EINVAL;
  if (p->state != ST_IDLE)
    return VG_EBUSY;
  rv = svc_probe_parse_hostport(hostport, &addr, NULL);
  if (rv != APR_SUCCESS)
    return rv;
  rv = begin(p, loop, SVC__PROBE_TCP, timeout_ms, cb);
  if (rv != APR_SUCCESS)
    return rv;
  p->addr = addr;
  start_connect(p);
  return APR_SUCCESS;
}

apr_status_t svc_probe_http(svc_probe_t *p, vg_loop_t *loop,
                            const char *url, uint64_t timeout_ms,
                            svc_probe_cb cb) {
  svc_probe_url_t u;
  char port[8] = "";
  int ipv6, n;
  apr_status_t rv;

  if (!p || !loop || !cb)
    return APR_EINVAL;
  if (p->state != ST_IDLE)
    return VG_EBUSY;
  rv = svc_probe_parse_url(url, &u, NULL);
  if (rv != APR_SUCCESS)
    return rv;
  ipv6 = strchr(u.host, ':') != NULL;
  if (u.port != 80)
    snprintf(port, sizeof port, ":%d", u.port);
  n = snprintf(p->req, sizeof p->req,
               "GET %s HTTP/1.1\r\n"
               "Host: %s%s%s%s\r\n"
               "User-Agent: vigil/%d.%d\r\n"
               "Connection: close\r\n"
               "\r\n",
               u.path, ipv6 ? "[" : "", u.host, ipv6 ? "]" : "", port,
               VG_VERSION_MAJOR, VG_VERSION_MINOR);
  if (n < 0 || (size_t)n >= sizeof p->req)
    return APR_EINVAL;   /* cannot happen with the parser's bounds */
  rv = begin(p, loop, SVC__PROBE_HTTP, timeout_ms, cb);
  if (rv != APR_SUCCESS)
    return rv;
  p->req_len = (size_t)n;
  p->addr = u.addr;
  start_connect(p);
  return APR_SUCCESS;
}

/* ------------------------------------------------------------------------
 * 4. exec
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
