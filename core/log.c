/*
 * log.c -- structured, line-oriented logging (text or JSON lines).
 *
 *   text: 2026-11-21T23:53:01.123Z INFO  component: message key=value
 *   json: {"ts":"2026-11-21T23:53:01.123Z","level":"info",
 *          "component":"component","msg":"message","key":"value"}
 *
 * Invariants:
 *   - One record is one line, written by exactly one apr_file_write_full()
 *     call while holding the logger's mutex, so lines from concurrent
 *     threads never interleave (even if the OS splits a large write).
 *   - A line is assembled in a stack buffer; a longer one moves to a heap
 *     buffer (malloc, not a pool: loggers live long and lines come from
 *     any thread).  Lines are never truncated, except if malloc fails:
 *     then the record is rendered again within the stack buffer, without
 *     its key/value pairs and with the message cut if need be, and the
 *     line ends in "..." (JSON: it also gets "truncated":true and stays
 *     valid JSON).
 *   - Timestamps are UTC (apr_time_exp_gmt) with milliseconds.
 *   - JSON strings are escaped: '"', '\\', control characters (\b \f \n
 *     \r \t, others as \u00xx, DEL too), and ill-formed UTF-8 becomes
 *     U+FFFD, one per maximal ill-formed subpart, so every line is valid
 *     JSON (vg_json_escape_step(): the protocol writer uses it too).
 *   - Text lines stay single lines: control characters in the message and
 *     values are escaped the same way (quotes and backslashes are left
 *     alone in the message); a value with a space, '"', '=' or an escape,
 *     or an empty value, is written in double quotes, JSON-escaped.
 *   - The level is read and written atomically: vg_log_set_level() may be
 *     called from any thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_time.h>

#include "internal.h"

#define VG__LOG_STACK 1024      /* line buffer on the stack */
#define VG__LOG_MSG_STACK 512   /* formatted message on the stack */

struct vg_log_s {
  apr_file_t *out;
  apr_thread_mutex_t *mu;
  volatile apr_uint32_t level;
  vg_log_format format;
};

static const char *const level_names[] = {"debug", "info", "notice", "warn",
                                          "error"};
/* " %-5s " of each level's name in capitals. */
static const char *const level_head[] = {" DEBUG ", " INFO  ", " NOTICE ",
                                         " WARN  ", " ERROR "};

/* ------------------------------------------------------------------------
 * Line buffer: stack first, heap when it outgrows it.  With `limit` set
 * (the out-of-memory fallback) it never leaves the stack: appends that do
 * not fit are dropped whole (or cut, for plain runs) and `full` is set.
 * --------------------------------------------------------------------- */

typedef struct {
  char *p;
  size_t len, cap;
  size_t limit;                 /* 0: grow on the heap; else hard cap */
  int heap;                     /* p is malloc'ed */
  int full;                     /* something was dropped */
} linebuf_t;

static int lb_reserve(linebuf_t *lb, size_t more) {
  size_t cap;
  char *p;

  if (lb->full)
    return 0;
  if (lb->limit != 0) {
    if (lb->len + more > lb->limit) {
      lb->full = 1;
      return 0;
    }
    return 1;
  }
  if (lb->len + more <= lb->cap)
    return 1;
  cap = lb->cap * 2;
  while (cap < lb->len + more)
    cap *= 2;
  if (lb->heap) {
    p = realloc(lb->p, cap);
  } else {
    p = malloc(cap);
    if (p != NULL)
      memcpy(p, lb->p, lb->len);
  }
  if (p == NULL) {
    lb->full = 1;
    return 0;
  }
  lb->p = p;
  lb->cap = cap;
  lb->heap = 1;
  return 1;
}

/* Append n bytes as one unit: all or nothing. */
static void lb_add(linebuf_t *lb, const char *s, size_t n) {
  if (!lb_reserve(lb, n))
    return;
  memcpy(lb->p + lb->len, s, n);
  lb->len += n;
}

/* Append a run that may be cut anywhere (plain ASCII). */
static void lb_add_cut(linebuf_t *lb, const char *s, size_t n) {
  size_t room;

  if (lb->limit != 0 && !lb->full && lb->len + n > lb->limit) {
    room = lb->limit - lb->len;
    memcpy(lb->p + lb->len, s, room);
    lb->len += room;
    lb->full = 1;
    return;
  }
  lb_add(lb, s, n);
}

static void lb_str(linebuf_t *lb, const char *s) {
  lb_add(lb, s, strlen(s));
}

/* Append s escaped.  json: JSON string content (vg_json_escape_step(),
 * the escaper the protocol writer uses too).  Otherwise (text lines) only
 * control characters and DEL are escaped, the same way, so a line stays
 * one line; quotes, backslashes and other bytes pass as they are. */
static void lb_escape(linebuf_t *lb, const char *str, int json) {
  const unsigned char *s = (const unsigned char *)str;
  size_t n = strlen(str), i = 0, k, m;
  const char *piece;

  while (i < n) {
    if (json) {
      k = vg_json_escape_step(str + i, n - i, &piece, &m);
    } else {
      for (k = 0; i + k < n && s[i + k] >= 0x20 && s[i + k] != 0x7f; k++)
        ;
      piece = str + i;
      m = k;
      if (k == 0)               /* a control character or DEL */
        k = vg_json_escape_step(str + i, 1, &piece, &m);
    }
    /* Fallback mode cuts only runs of input (in JSON only ASCII ones): an
     * escape or a JSON UTF-8 sequence is appended whole or not at all. */
    if (piece == str + i && (!json || s[i] < 0x80))
      lb_add_cut(lb, piece, m);
    else
      lb_add(lb, piece, m);
    i += k;
  }
}

static void lb_json_string(linebuf_t *lb, const char *s) {
  lb_add(lb, "\"", 1);
  lb_escape(lb, s, 1);
  lb_add(lb, "\"", 1);
}

/* A text value needs quotes if empty or if it has a space, '"', '=',
 * a backslash or a control character. */
static int text_needs_quotes(const char *s) {
  const unsigned char *p = (const unsigned char *)s;

  if (*p == '\0')
    return 1;
  for (; *p != '\0'; p++)
    if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
      return 1;
  return 0;
}

/* "2026-11-21T23:53:01.123Z".  The part up to the seconds is formatted
 * once per second per thread (the date's conversion and a snprintf were
 * most of a short line's cost); the milliseconds are added by hand. */
static void lb_timestamp(linebuf_t *lb) {
  static _Thread_local char ts[40];
  static _Thread_local size_t ts_len;
  static _Thread_local apr_time_t ts_sec = -1;
  apr_time_t now = apr_time_now();
  apr_time_t sec = apr_time_sec(now);
  int ms = (int)(apr_time_usec(now) / 1000);
  char tail[5];

  if (sec != ts_sec) {
    apr_time_exp_t tm;
    int n;
    apr_time_exp_gmt(&tm, now);
    n = snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
    if (n < 0 || (size_t)n >= sizeof(ts))
      n = 0;
    ts_len = (size_t)n;
    ts_sec = sec;
  }
  tail[0] = '.';
  tail[1] = (char)('0' + ms / 100);
  tail[2] = (char)('0' + ms / 10 % 10);
  tail[3] = (char)('0' + ms % 10);
  tail[4] = 'Z';
  lb_add(lb, ts, ts_len);
  lb_add(lb, tail, sizeof(tail));
}

/* ------------------------------------------------------------------------
 * Public API
 * --------------------------------------------------------------------- */

apr_status_t vg_log_create(vg_log_t **logp, apr_pool_t *pool, apr_file_t *out,
                           vg_log_level level, vg_log_format format) {
  vg_log_t *log;
  apr_status_t rv;

  if (logp == NULL || pool == NULL || out == NULL ||
      (unsigned)level > VG_LOG_ERROR ||
      (format != VG_LOG_TEXT && format != VG_LOG_JSON))
    return APR_EINVAL;
  log = apr_pcalloc(pool, sizeof(*log));
  rv = apr_thread_mutex_create(&log->mu, APR_THREAD_MUTEX_DEFAULT, pool);
  if (rv != APR_SUCCESS)
    return rv;
  log->out = out;
  log->format = format;
  apr_atomic_set32(&log->level, (apr_uint32_t)level);
  *logp = log;
  return APR_SUCCESS;
}

void vg_log_set_level(vg_log_t *log, vg_log_level level) {
  if ((unsigned)level <= VG_LOG_ERROR)
    apr_atomic_set32(&log->level, (apr_uint32_t)level);
}

vg_log_level vg_log_get_level(const vg_log_t *log) {
  return (vg_log_level)apr_atomic_read32(
      (volatile apr_uint32_t *)&log->level);
}

const char *vg_log_level_name(vg_log_level level) {
  if ((unsigned)level > VG_LOG_ERROR)
    return "unknown";
  return level_names[level];
}

int vg_log_level_parse(const char *name) {
  static const struct { const char *name; int level; } names[] = {
    {"debug", VG_LOG_DEBUG}, {"info", VG_LOG_INFO},
    {"notice", VG_LOG_NOTICE}, {"warn", VG_LOG_WARN},
    {"warning", VG_LOG_WARN}, {"error", VG_LOG_ERROR},
    {"err", VG_LOG_ERROR}};
  size_t i, j;

  if (name == NULL)
    return -1;
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    for (j = 0; name[j] != '\0' && names[i].name[j] != '\0'; j++) {
      char c = name[j];
      if (c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
      if (c != names[i].name[j])
        break;
    }
    if (name[j] == '\0' && names[i].name[j] == '\0')
      return names[i].level;
  }
  return -1;
}

/* Render one record into lb.  In fallback mode (lb->limit set) the kv
 * pairs are left out and the message may be cut; the caller then appends
 * a marked ending that keeps the line valid. */
static void log_render(const vg_log_t *log, linebuf_t *lb, vg_log_level level,
                       const char *component, const char *const *kv,
                       const char *msg) {
  size_t i;

  if (log->format == VG_LOG_JSON) {
    lb_str(lb, "{\"ts\":\"");
    lb_timestamp(lb);
    lb_str(lb, "\",\"level\":\"");
    lb_str(lb, level_names[level]);
    lb_add(lb, "\"", 1);
    if (component != NULL && lb->limit == 0) {
      lb_str(lb, ",\"component\":");
      lb_json_string(lb, component);
    }
    if (lb->limit != 0) {
      lb_str(lb, ",\"truncated\":true,\"msg\":\"");
      lb_escape(lb, msg, 1);
      return;                   /* caller closes the string */
    }
    lb_str(lb, ",\"msg\":");
    lb_json_string(lb, msg);
    for (i = 0; kv != NULL && kv[i] != NULL && kv[i + 1] != NULL; i += 2) {
      lb_add(lb, ",", 1);
      lb_json_string(lb, kv[i]);
      lb_add(lb, ":", 1);
      lb_json_string(lb, kv[i + 1]);
    }
    lb_str(lb, "}\n");
    return;
  }

  lb_timestamp(lb);
  lb_str(lb, level_head[level]);
  if (component != NULL) {
    lb_escape(lb, component, 0);
    lb_str(lb, ": ");
  }
  lb_escape(lb, msg, 0);
  if (lb->limit != 0)
    return;
  for (i = 0; kv != NULL && kv[i] != NULL && kv[i + 1] != NULL; i += 2) {
    lb_add(lb, " ", 1);
    lb_escape(lb, kv[i], 0);
    lb_add(lb, "=", 1);
    if (text_needs_quotes(kv[i + 1]))
      lb_json_string(lb, kv[i + 1]);
    else
      lb_str(lb, kv[i + 1]);
  }
  lb_str(lb, "\n");
}

static void log_write(vg_log_t *log, vg_log_level level,
                      const char *component, const char *const *kv,
                      const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 0)))
#endif
    ;

static void log_write(vg_log_t *log, vg_log_level level,
                      const char *component, const char *const *kv,
                      const char *fmt, va_list ap) {
  /* The fallback ending must always fit after `limit`. */
  static const char tail_text[] = "...\n";
  static const char tail_json[] = "...\"}\n";
  char stack[VG__LOG_STACK];
  char msgstack[VG__LOG_MSG_STACK];
  char *msg = msgstack;
  int cut = 0, n;
  linebuf_t lb;
  va_list ap2;

  /* Format the message: on the stack if it fits, else exactly sized. */
  va_copy(ap2, ap);
  n = vsnprintf(msgstack, sizeof(msgstack), fmt, ap);
  if (n < 0) {
    msgstack[0] = '\0';
  } else if ((size_t)n >= sizeof(msgstack)) {
    msg = malloc((size_t)n + 1);
    if (msg != NULL) {
      vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    } else {
      msg = msgstack;           /* out of memory: the prefix we have */
      cut = 1;
    }
  }
  va_end(ap2);

  memset(&lb, 0, sizeof(lb));
  lb.p = stack;
  lb.cap = sizeof(stack);
  if (!cut)
    log_render(log, &lb, level, component, kv, msg);
  if (cut || lb.full) {
    /* Out of memory: render again within the stack buffer, without the
     * key/value pairs, and end with a visible "...". */
    if (lb.heap)
      free(lb.p);
    memset(&lb, 0, sizeof(lb));
    lb.p = stack;
    lb.cap = sizeof(stack);
    lb.limit = sizeof(stack) - sizeof(tail_json);
    log_render(log, &lb, level, component, kv, msg);
    if (log->format == VG_LOG_JSON) {
      memcpy(lb.p + lb.len, tail_json, sizeof(tail_json) - 1);
      lb.len += sizeof(tail_json) - 1;
    } else {
      memcpy(lb.p + lb.len, tail_text, sizeof(tail_text) - 1);
      lb.len += sizeof(tail_text) - 1;
    }
  }

  apr_thread_mutex_lock(log->mu);
  (void)apr_file_write_full(log->out, lb.p, lb.len, NULL);
  apr_thread_mutex_unlock(log->mu);

  if (lb.heap)
    free(lb.p);
  if (msg != msgstack)
    free(msg);
}

void vg_log_kv(vg_log_t *log, vg_log_level level, const char *component,
               const char *const *kv, const char *fmt, ...) {
  va_list ap;

  if (log == NULL || (unsigned)level > VG_LOG_ERROR ||
      (apr_uint32_t)level < apr_atomic_read32(&log->level))
    return;
  va_start(ap, fmt);
  log_write(log, level, component, kv, fmt, ap);
  va_end(ap);
}

void vg_log(vg_log_t *log, vg_log_level level, const char *component,
            const char *fmt, ...) {
  va_list ap;

  if (log == NULL || (unsigned)level > VG_LOG_ERROR ||
      (apr_uint32_t)level < apr_atomic_read32(&log->level))
    return;
  va_start(ap, fmt);
  log_write(log, level, component, NULL, fmt, ap);
  va_end(ap);
}
