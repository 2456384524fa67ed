/*
 * logsink.c -- a log file's lines sent to a log daemon instead: syslog
 * (RFC 5424), journald (native protocol) or the Windows Event Log, with
 * the file as the fallback (svc_log.h, "Log daemons").
 *
 * Invariants:
 *   - fd != PAL_INVALID_FD  <=>  connected (syslog, journal); for the
 *     Event Log `up` alone says whether the last report worked.
 *   - !up: every record goes to the fallback; retry_at is when the next
 *     record tries the daemon again.  `warned` is 1 from the warning of
 *     an outage until the daemon answers again: one warning per outage.
 *   - lost_lines: records lost to a full queue since the last notice.
 *     `slow` is 1 from a "not keeping up" warning until the next record
 *     that gets through, which logs the notice with lost_lines.  The
 *     warning comes at most once every SVC_LOGSINK_RETRY_MS (slow_at),
 *     and so does a notice that follows no warning (notice_at): a daemon
 *     that keeps falling behind costs a few lines per 10 s, and the
 *     losses of the quiet stretches go into the next notice.
 *   - buf holds a record's header (HDR_MAX); the message is sent from
 *     where it lies, as a piece of its own.  The Event Log takes one
 *     string: its buf holds the header, the message and a NUL.
 *   - a journal record too large for a datagram (PAL_ETOOBIG) goes as a
 *     sealed memory file (pal_logsock_send_fd()); if that fails, in
 *     datagrams of SVC_LOGSINK_JOURNAL_PIECE, with one warning
 *     (fd_warned).  A line is never lost to that path failing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_time.h>

#include "logsink.h"

#define SK_COMPONENT "logfile"
#define SK_IDENT_MAX 48           /* RFC 5424 APP-NAME */
#define SK_HOST_MAX 255           /* RFC 5424 HOSTNAME */
/* The longest header: syslog's "<PRI>1 TS HOST APP PROCID MSGID - " or
 * journald's fields before MESSAGE=. */
#define HDR_MAX (SK_HOST_MAX + SK_IDENT_MAX + 192)
/* A held line's buffer starts at SK_HOLD_MIN bytes and is freed once a
 * line longer than SK_HOLD_KEEP was sent. */
#define SK_HOLD_MIN 4096
#define SK_HOLD_KEEP 65536

struct svc_logsink_s {
  int kind;                       /* SVC_LOGSINK_* */
  int is_err;
  pal_fd_t fd;
  int up, warned, slow;
  int fd_warned;                  /* the journal's memory file failed */
  apr_time_t retry_at, slow_at, notice_at;
  int64_t pid;
  uint64_t sent, dropped, lost_lines;
  size_t msg_max;
  vg_log_t *diag;
  svc_logsink_fallback_cb fallback;
  void *fallback_arg;
  const char *path;               /* the fallback file */
  char ident[SK_IDENT_MAX + 1];
  char host[SK_HOST_MAX + 1];
  char *buf;                      /* HDR_MAX + msg_max + 2 */
};

static const char *sink_name(const svc_logsink_t *sk) {
  switch (sk->kind) {
  case SVC_LOGSINK_SYSLOG: return "syslog";
  case SVC_LOGSINK_JOURNAL: return "journal";
  default: return "eventlog";
  }
}

static void sk_say(svc_logsink_t *sk, vg_log_level level, apr_status_t rv,
                   const char *detail, const char *msg) {
  char err[160];
  const char *kv[9], *where = pal_logsock_path(sk->kind ==
                                                       SVC_LOGSINK_SYSLOG
                                                   ? PAL_LOGSOCK_SYSLOG
                                                   : PAL_LOGSOCK_JOURNAL);
  int k = 0;
  kv[k++] = "target";
  kv[k++] = sk->kind == SVC_LOGSINK_EVENTLOG || !where ? sink_name(sk)
                                                       : where;
  kv[k++] = "fallback";
  kv[k++] = sk->path;
  if (rv != APR_SUCCESS) {
    kv[k++] = "error";
    kv[k++] = vg_strerror(rv, err, sizeof err);
  }
  if (detail) {
    kv[k++] = "lost";
    kv[k++] = detail;
  }
  kv[k] = NULL;
  vg_log_kv(sk->diag, level, SK_COMPONENT, kv, "%s: %s", sk->ident, msg);
}

/* Connect (syslog, journal); the Event Log needs nothing. */
static apr_status_t sk_connect(svc_logsink_t *sk) {
  switch (sk->kind) {
  case SVC_LOGSINK_SYSLOG:
    return pal_logsock_open(&sk->fd, PAL_LOGSOCK_SYSLOG);
  case SVC_LOGSINK_JOURNAL:
    return pal_logsock_open(&sk->fd, PAL_LOGSOCK_JOURNAL);
  default:
    return APR_SUCCESS;
  }
}

static void sk_disconnect(svc_logsink_t *sk) {
  if (sk->fd != PAL_INVALID_FD)
    pal_fd_close(sk->fd);
  sk->fd = PAL_INVALID_FD;
}

svc_logsink_t *svc_logsink_new(int kind, const char *ident, int is_err,
                               const char *fallback, vg_log_t *diag,
                               svc_logsink_fallback_cb cb, void *cb_arg) {
  svc_logsink_t *sk = calloc(1, sizeof *sk);
  size_t i;
  if (!sk)
    return NULL;
  sk->kind = kind;
  sk->msg_max = kind == SVC_LOGSINK_SYSLOG    ? SVC_LOGSINK_SYSLOG_MSG
                : kind == SVC_LOGSINK_JOURNAL ? SVC_LOGSINK_JOURNAL_MSG
                                              : SVC_LOGSINK_EVENTLOG_MSG;
  sk->is_err = is_err;
  sk->fd = PAL_INVALID_FD;
  sk->diag = diag;
  sk->fallback = cb;
  sk->fallback_arg = cb_arg;
  sk->path = fallback;
  /* RFC 5424's APP-NAME is printable US-ASCII without spaces; service
   * names are, but a cut or replaced byte is better than a record a
   * daemon rejects. */
  snprintf(sk->ident, sizeof sk->ident, "%s", ident && *ident ? ident : "-");
  for (i = 0; sk->ident[i]; i++)
    if ((unsigned char)sk->ident[i] <= 32 ||
        (unsigned char)sk->ident[i] >= 127)
      sk->ident[i] = '_';
  sk->up = 1;   /* not yet tried: the first record connects */
  sk->retry_at = 0;
  return sk;
}

void svc_logsink_free(svc_logsink_t *sk) {
  if (!sk)
    return;
  sk_disconnect(sk);
  free(sk->buf);
  free(sk);
}

void svc_logsink_set_pid(svc_logsink_t *sk, int64_t pid) {
  sk->pid = pid;
}

void svc_logsink_counts(const svc_logsink_t *sk, uint64_t *sent,
                        uint64_t *dropped) {
  *sent = sk->sent;
  *dropped = sk->dropped;
}

/* The buffer and the host name, at the first record.  The buffer holds
 * a header (the message is sent from where it is, as a piece of its
 * own), but for the Event Log, which takes one string. */
static apr_status_t sk_prepare(svc_logsink_t *sk) {
  apr_pool_t *p;
  if (sk->buf)
    return APR_SUCCESS;
  if ((sk->buf = malloc(HDR_MAX + (sk->kind == SVC_LOGSINK_EVENTLOG
                                       ? sk->msg_max + 1
                                       : 0))) == NULL)
    return APR_ENOMEM;
  strcpy(sk->host, "-");
  if (sk->kind == SVC_LOGSINK_SYSLOG &&
      apr_pool_create(&p, NULL) == APR_SUCCESS) {
    char h[SK_HOST_MAX + 1];
    size_t i;
    if (apr_gethostname(h, sizeof h, p) == APR_SUCCESS && h[0]) {
      for (i = 0; h[i] && i < SK_HOST_MAX; i++)
        sk->host[i] = (unsigned char)h[i] > 32 && (unsigned char)h[i] < 127
                          ? h[i] : '_';
      sk->host[i] = '\0';
    }
    apr_pool_destroy(p);
  }
  return APR_SUCCESS;
}

/* A record's header, formatted into buf; its length. */
static size_t sk_header(svc_logsink_t *sk) {
  char *b = sk->buf;
  int n;
  int sev = sk->is_err ? 3 : 6;   /* err, info */
  long long pid = (long long)sk->pid;
  if (sk->kind == SVC_LOGSINK_SYSLOG) {
    apr_time_exp_t tm;
    apr_time_exp_gmt(&tm, apr_time_now());
    /* facility daemon (3) */
    n = snprintf(b, HDR_MAX,
                 "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06dZ %s %s %lld %s - ",
                 3 * 8 + sev, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_usec, sk->host,
                 sk->ident, pid, sk->is_err ? "stderr" : "stdout");
  } else if (sk->kind == SVC_LOGSINK_JOURNAL) {
    /* A line has no "\n" (it was split there), so every field takes the
     * plain KEY=VALUE form. */
    n = snprintf(b, HDR_MAX,
                 "PRIORITY=%d\nSYSLOG_FACILITY=3\nSYSLOG_IDENTIFIER=%s\n"
                 "SYSLOG_PID=%lld\nMESSAGE=", sev, sk->ident, pid);
  } else {
    n = snprintf(b, HDR_MAX, "%s: ", sk->ident);
  }
  return n < 0 || n >= HDR_MAX ? 0 : (size_t)n;
}

/* One record of `len` <= msg_max bytes to the daemon, the memory file
 * first when it is a journal record too large for a datagram (`big`). */
static apr_status_t sk_send(svc_logsink_t *sk, const char *msg, size_t len,
                            int big) {
  pal_buf_t parts[3];
  size_t h = sk_header(sk);
  if (sk->kind == SVC_LOGSINK_EVENTLOG) {
    memcpy(sk->buf + h, msg, len);
    sk->buf[h + len] = '\0';
    return pal_eventlog_report(sk->is_err ? PAL_EVENT_ERROR
                                          : PAL_EVENT_INFO,
                               sk->buf);
  }
  parts[0].base = sk->buf;
  parts[0].len = h;
  parts[1].base = (char *)msg;
  parts[1].len = len;
  parts[2].base = (char *)"\n";
  parts[2].len = 1;
  /* journald's fields end with "\n"; a syslog datagram has no end. */
  if (big)
    return pal_logsock_send_fd(sk->fd, parts, 3);
  return pal_logsock_send(sk->fd, parts,
                          sk->kind == SVC_LOGSINK_JOURNAL ? 3 : 2);
}

/* A journal record too large for a datagram: as a memory file, or, when
 * that fails, in pieces of SVC_LOGSINK_JOURNAL_PIECE (each a datagram,
 * as when lines were always split).  The first failure of a piece ends
 * it; *done: the bytes that reached the daemon. */
static apr_status_t sk_send_big(svc_logsink_t *sk, const char *msg,
                                size_t len, size_t *done) {
  apr_status_t rv = sk_send(sk, msg, len, 1);
  *done = 0;
  if (rv == APR_SUCCESS)
    *done = len;
  if (rv == APR_SUCCESS || rv == APR_EAGAIN)
    return rv;
  if (!sk->fd_warned) {
    sk_say(sk, VG_LOG_WARN, rv, NULL,
           "cannot pass a long line to the journal as a memory file; "
           "long lines are split");
    sk->fd_warned = 1;
  }
  while (*done < len) {
    size_t c = len - *done;
    if (c > SVC_LOGSINK_JOURNAL_PIECE)
      c = SVC_LOGSINK_JOURNAL_PIECE;
    if ((rv = sk_send(sk, msg + *done, c, 0)) != APR_SUCCESS)
      return rv;
    *done += c;
  }
  return APR_SUCCESS;
}

static void sk_to_file(svc_logsink_t *sk, const char *msg, size_t len) {
  sk->fallback(sk->fallback_arg, msg, len);
  sk->fallback(sk->fallback_arg, "\n", 1);
}

/* The daemon failed with rv: to the file until it answers again. */
static void sk_down(svc_logsink_t *sk, apr_status_t rv) {
  sk_disconnect(sk);
  sk->up = 0;
  sk->retry_at = apr_time_now() + apr_time_from_msec(SVC_LOGSINK_RETRY_MS);
  if (!sk->warned) {
    sk_say(sk, VG_LOG_WARN, rv, NULL,
           "log daemon unavailable; lines go to the fallback file, and "
           "the daemon is tried again every 10 s");
    sk->warned = 1;
  }
}

/* One line (or a piece of a long one), without its newline. */
static void sk_record(svc_logsink_t *sk, const char *msg, size_t len) {
  apr_status_t rv;
  size_t done = 0;
  if (sk_prepare(sk) != APR_SUCCESS) {
    sk->dropped += len;
    return;
  }
  if (!sk->up && apr_time_now() >= sk->retry_at)
    sk->up = 1;   /* try again */
  if (sk->up && sk->fd == PAL_INVALID_FD &&
      (rv = sk_connect(sk)) != APR_SUCCESS)
    sk_down(sk, rv);
  if (!sk->up) {
    sk_to_file(sk, msg, len);
    return;
  }
  rv = sk_send(sk, msg, len, 0);
  if (rv == PAL_ETOOBIG && sk->kind == SVC_LOGSINK_JOURNAL)
    rv = sk_send_big(sk, msg, len, &done);
  if (rv == APR_EAGAIN) {
    apr_time_t now = apr_time_now();
    sk->lost_lines++;
    sk->dropped += len - done;
    sk->sent += done;
    if (!sk->slow && now >= sk->slow_at) {
      sk_say(sk, VG_LOG_WARN, rv, NULL,
             "log daemon is not keeping up; lines are dropped until it "
             "reads again");
      sk->slow = 1;
      sk->slow_at = now + apr_time_from_msec(SVC_LOGSINK_RETRY_MS);
    }
    return;
  }
  if (rv != APR_SUCCESS) {
    sk_down(sk, rv);
    sk->sent += done;
    sk_to_file(sk, msg + done, len - done);   /* what did not get there */
    return;
  }
  sk->sent += len;
  if (sk->warned) {
    sk->warned = 0;
    sk_say(sk, VG_LOG_NOTICE, APR_SUCCESS, NULL,
           "log daemon available again; lines go to it again");
  }
  if (sk->lost_lines > 0 &&
      (sk->slow || apr_time_now() >= sk->notice_at)) {
    char lost[32];
    snprintf(lost, sizeof lost, "%llu", (unsigned long long)sk->lost_lines);
    sk->lost_lines = 0;
    sk->slow = 0;
    sk->notice_at = apr_time_now() +
                    apr_time_from_msec(SVC_LOGSINK_RETRY_MS);
    sk_say(sk, VG_LOG_NOTICE, APR_SUCCESS, lost,
           "log daemon reads again (lines lost meanwhile: see 'lost')");
  }
}

/* A line ends at len: without its "\r\n" or "\n". */
static void sk_line(svc_logsink_t *sk, const char *msg, size_t len) {
  if (len > 0 && msg[len - 1] == '\r')
    len--;
  sk_record(sk, msg, len);
}

/* Room for `want` bytes in the hold (at most msg_max): it grows by
 * doubling from SK_HOLD_MIN, so a short partial line costs little and a
 * long one a few reallocations.  0 without memory. */
static int sk_hold_room(svc_logsink_t *sk, svc_logline_t *line,
                        size_t want) {
  size_t cap = line->cap ? line->cap : SK_HOLD_MIN;
  char *nb;
  if (line->held && want <= line->cap)
    return 1;
  while (cap < want)
    cap *= 2;
  if (cap > sk->msg_max)
    cap = sk->msg_max;
  if ((nb = realloc(line->held, cap)) == NULL)
    return 0;
  line->held = nb;
  line->cap = cap;
  return 1;
}

/* The held line was sent: a large hold is given back (a service that
 * once printed a long line does not keep a long buffer). */
static void sk_hold_sent(svc_logline_t *line) {
  line->nheld = 0;
  if (line->cap > SK_HOLD_KEEP) {
    free(line->held);
    line->held = NULL;
    line->cap = 0;
  }
}

/* Add to what `line` holds; a full hold (msg_max) is sent as a record of
 * its own (a longer line is split, not cut). */
static void sk_hold(svc_logsink_t *sk, svc_logline_t *line, const char *p,
                    size_t n) {
  while (n > 0) {
    size_t c = sk->msg_max - line->nheld;
    if (c > n)
      c = n;
    if (!sk_hold_room(sk, line, line->nheld + c)) {
      sk->dropped += n;
      return;
    }
    memcpy(line->held + line->nheld, p, c);
    line->nheld += c;
    p += c;
    n -= c;
    if (line->nheld == sk->msg_max) {
      sk_record(sk, line->held, line->nheld);
      sk_hold_sent(line);
    }
  }
}

void svc_logsink_write(svc_logsink_t *sk, svc_logline_t *line,
                       const char *p, size_t n) {
  while (n > 0) {
    const char *nl = memchr(p, '\n', n);
    size_t seg = nl ? (size_t)(nl - p) : n;
    if (!nl) {
      sk_hold(sk, line, p, n);
      line->partial = 1;
      return;
    }
    if (line->nheld > 0) {
      sk_hold(sk, line, p, seg);
      if (line->nheld > 0)   /* else the hold was just sent, full */
        sk_line(sk, line->held, line->nheld);
      sk_hold_sent(line);
    } else {
      /* Straight from the read buffer, in pieces of msg_max. */
      const char *q = p;
      size_t left = seg;
      while (left > sk->msg_max) {
        sk_record(sk, q, sk->msg_max);
        q += sk->msg_max;
        left -= sk->msg_max;
      }
      sk_line(sk, q, left);
    }
    line->partial = 0;
    p += seg + 1;
    n -= seg + 1;
  }
}

void svc_logsink_end_line(svc_logsink_t *sk, svc_logline_t *line) {
  if (line->nheld > 0)
    sk_line(sk, line->held, line->nheld);
  free(line->held);
  line->held = NULL;
  line->nheld = 0;
  line->cap = 0;
  line->partial = 0;
}
