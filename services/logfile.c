/*
 * logfile.c -- log files with rotation, retention, gzip and timestamps,
 * and the captures that feed them from a child's pipes (svc_log.h).
 *
 * Map:
 *   1. names, time stamps, diagnostics, per-thread memory
 *   2. opening NAME, failure and retry
 *   3. writing (timestamps, size rotation at line boundaries)
 *   4. rotation (renames on the loop thread) and daily timer
 *   5. compression (thread pool) and its bookkeeping
 *   6. open / close / stats
 *   7. captures
 *   8. log daemons (logsink.c sends; the file is their fallback)
 *
 * Memory: a log file is one malloc'd block (the object, NAME and
 * need_gz), the other names it works with once it has done file work
 * (a second block), and, while NAME is open, a bare descriptor
 * (pal_file_*): no APR pool of its own, because a pool costs at least
 * one 8 KiB node and a supervisor holds two log files per service.
 * Files to remove go to the thread pool (section 4).  The 64 KiB buffers a
 * capture reads into and timestamps are expanded in are per thread
 * (section 1): both are used only between a read's alloc and its
 * callback, which run back to back on the loop thread on every backend,
 * so one of each serves every log file of that loop.
 *
 * Invariants:
 *   - Only the loop thread renames or opens log files, and removes files
 *     other than NAME.del<k>.tmp.  The compression worker touches only its
 *     job: two already-open files and the atomic `abort` flag; the
 *     removal worker only its NAME.del<k>.tmp (section 4).  Workers allocate
 *     with malloc, never from a pool.
 *   - A lazy log file (opts.lazy) does no file work until it is first
 *     needed (a write, a rotation, a reopen): `prepared` is 0 until then,
 *     and lf->fd is closed without an error.
 *   - lf->fd != PAL_INVALID_FD  <=>  NAME is open and lf->error ==
 *     APR_SUCCESS.  While prepared, NAME is not open and the object is
 *     not closing, the retry timer is armed (or a rotation is about to
 *     reopen).
 *   - need_gz[k] (1 <= k <= keep): slot k holds a plain file that still
 *     needs compression.  At most one job runs per log file; job->slot is
 *     the slot its source file has *now* (keep + 1: orphaned, removed when
 *     the job ends).  NAME.gz.tmp exists only while a job runs.
 *   - lf->size is the size of NAME as we wrote it (plus what was there at
 *     open); rot_limit is the size at which size rotation next happens
 *     (max_size, or further away after a failed rotation).
 *   - The timers are allocated when first armed (most log files never
 *     fail nor rotate daily).  Closing closes those there are at once;
 *     teardown (`torn`) starts when closing && ncaps == 0.  `pending`
 *     counts the timer closes not yet called back, and, once torn, the jobs still running; the object is
 *     freed when it is torn and `pending` is zero, right after the close
 *     callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_time.h>

#include <zlib.h>

#include "logsink.h"
#include "pal.h"
#include "svc_log.h"

#define LF_COMPONENT "logfile"
#define LF_TSBUF 65536            /* timestamp expansion buffer */
#define LF_GZBUF 65536            /* compression block */
#define LF_GZ_LEVEL 6

typedef struct gzjob_s {
  vg_work_t work;
  svc_logfile_t *lf;
  pal_fd_t in, out;
  unsigned slot;
  volatile apr_uint32_t abort;
  apr_status_t rv;                /* worker's result */
  const char *call;               /* what failed, for the report */
} gzjob_t;

/* The removal of one file, renamed to NAME.del<slot>.tmp first
 * (section 4). */
#define LF_DEL_MAX 4              /* removals in flight per log file */
typedef struct deljob_s {
  vg_work_t work;
  svc_logfile_t *lf;
  unsigned slot;
  apr_status_t rv;                /* worker's result */
  char path[];                    /* NAME.del<slot>.tmp */
} deljob_t;

struct svc_logfile_s {
  apr_pool_t *scratch;            /* the thread's; cleared after each use */
  vg_loop_t *loop;
  vg_log_t *diag;
  char *path;                     /* NAME */
  char *names;                    /* the block of the three below, or
                                     NULL until prepared */
  char *tmp;                      /* NAME.gz.tmp */
  char *name_a, *name_b;          /* scratch for NAME.k[.gz] */
  size_t name_size;
  pal_fd_t fd;                    /* NAME, or PAL_INVALID_FD */
  int lazy, prepared;             /* file work deferred / done */
  apr_off_t size, rot_limit, max_size;
  apr_off_t slack;                /* to finish a started line */
  int mid_line;                   /* NAME does not end with '\n' */
  int cut_line;                   /* a failed write left NAME inside a
                                     line: LF_CUT_MARK ends it first */
  unsigned keep;
  int daily, compress, timestamps;
  uint64_t retry_ms;
  vg_timer_t *retry;              /* allocated at the first failure */
  vg_timer_t *daily_timer;        /* allocated with daily rotation */
  int day;                        /* local yyyymmdd when NAME was started */
  svc_logline_t line;             /* for writers without their own */
  apr_status_t error;             /* why NAME is not open */
  apr_status_t reported;          /* last error logged (0: none) */
  uint64_t dropped_since;         /* bytes dropped since `reported` */
  int rot_reported;
  unsigned char *need_gz;         /* [keep + 2] */
  gzjob_t *job;
  unsigned del_busy;              /* slots of removals in flight (bits) */
  unsigned ndel;                  /* their number */
  svc_logfile_stats_t st;
  unsigned ncaps;
  int closing, torn;
  unsigned pending;
  svc_logfile_close_cb close_cb;
  void *close_arg;
  svc_logsink_t *sink;            /* a log daemon first, or NULL */
  svc_logline_t fb_line;          /* the fallback's: whole lines only */
};

static apr_status_t lf_put(svc_logfile_t *lf, const char *p, size_t n);
static apr_status_t lf_do_rotate(svc_logfile_t *lf, const char *why);
static void lf_gz_next(svc_logfile_t *lf);
static void lf_teardown(svc_logfile_t *lf);
static void lf_pending_done(svc_logfile_t *lf);
static void lf_prepare(svc_logfile_t *lf);
static apr_status_t lf_write(svc_logfile_t *lf, svc_logline_t *line,
                             const void *data, size_t len);
static void lf_fallback(void *arg, const char *p, size_t len);

/* ---- 1. names, time stamps, diagnostics, per-thread memory ------------ */

/* What every log file of one thread's loop shares: a scratch pool for
 * path operations (each use clears it), and the capture and timestamp
 * buffers, allocated at their first use (an idle service never touches
 * them).  A pool per log file cost a page or two each; a buffer per
 * capture up to 64 KiB of resident memory per service that ever wrote a
 * burst.  It lives until apr_terminate(): the pool is a child of APR's
 * global pool, so nothing is lost when a thread ends. */
typedef struct lf_thread_s {
  apr_pool_t *pool;               /* the buffers */
  apr_pool_t *scratch;            /* a subpool, cleared after each use */
  char *capbuf;                   /* SVC_LOGCAP_BUFSIZE */
  char *tsbuf;                    /* LF_TSBUF */
} lf_thread_t;

static lf_thread_t *lf_thread(void) {
  static _Thread_local lf_thread_t t;
  if (!t.pool) {
    apr_pool_t *p;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
      return NULL;
    if (apr_pool_create(&t.scratch, p) != APR_SUCCESS) {
      apr_pool_destroy(p);
      return NULL;
    }
    t.pool = p;
  }
  return &t;
}

/* The thread's capture (ts == 0) or timestamp (ts == 1) buffer,
 * allocated at its first use; NULL if memory is short. */
static char *lf_thread_buf(int ts) {
  lf_thread_t *t = lf_thread();
  char **slot;
  if (!t)
    return NULL;
  slot = ts ? &t->tsbuf : &t->capbuf;
  if (!*slot)
    *slot = apr_palloc(t->pool, ts ? LF_TSBUF : SVC_LOGCAP_BUFSIZE);
  return *slot;
}

static const char *slot_name(svc_logfile_t *lf, char *buf, unsigned k,
                             int gz) {
  snprintf(buf, lf->name_size, "%s.%u%s", lf->path, k, gz ? ".gz" : "");
  return buf;
}

static int local_day(apr_time_t t) {
  apr_time_exp_t tm;
  if (apr_time_exp_lt(&tm, t) != APR_SUCCESS)
    return 0;
  return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* "2026-11-21T23:53:01.123Z ", formatted at most once per millisecond
 * per thread (the stamp depends on the time alone). */
static const char *lf_stamp(svc_logfile_t *lf) {
  static _Thread_local char ts[48];
  static _Thread_local apr_time_t ts_ms = -1;
  apr_time_t now = apr_time_now();
  apr_time_t ms = now / 1000;
  (void)lf;
  if (ms != ts_ms) {
    apr_time_exp_t tm;
    apr_time_exp_gmt(&tm, now);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, tm.tm_usec / 1000);
    ts_ms = ms;
  }
  return ts;
}

static void lf_warn(svc_logfile_t *lf, const char *path, apr_status_t rv,
                    const char *msg) {
  char err[160];
  const char *kv[5];
  kv[0] = "path";
  kv[1] = path;
  kv[2] = "error";
  kv[3] = vg_strerror(rv, err, sizeof err);
  kv[4] = NULL;
  vg_log_kv(lf->diag, VG_LOG_WARN, LF_COMPONENT, kv, "%s", msg);
}

/* Remove a file; a missing one is fine. */
static apr_status_t rm_quiet(svc_logfile_t *lf, const char *path) {
  apr_status_t rv = apr_file_remove(path, lf->scratch);
  return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
}

/* Rename a file; a missing source is fine. */
static apr_status_t mv_quiet(svc_logfile_t *lf, const char *from,
                             const char *to) {
  apr_status_t rv = apr_file_rename(from, to, lf->scratch);
  return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
}

/* ---- 2. opening NAME, failure and retry -------------------------------- */

static int lf_is_open(const svc_logfile_t *lf) {
  return lf->fd != PAL_INVALID_FD;
}

static apr_status_t lf_open_file(svc_logfile_t *lf) {
  apr_status_t rv = pal_file_open(&lf->fd, lf->path, PAL_FILE_APPEND);
  if (rv != APR_SUCCESS)
    return rv;
  if (pal_file_size(lf->fd, &lf->size) != APR_SUCCESS)
    lf->size = 0;
  lf->mid_line = 0;   /* unknown for an existing file: assume a line end */
  lf->error = APR_SUCCESS;
  lf->rot_limit = lf->max_size;
  return APR_SUCCESS;
}

static void lf_close_file(svc_logfile_t *lf) {
  pal_file_close(lf->fd);
  lf->fd = PAL_INVALID_FD;
}

static void retry_cb(vg_timer_t *t);

/* A timer of lf's, allocated at its first use; it never keeps the loop
 * alive on its own.  NULL when memory runs out (said): the retry or the
 * daily rotation is lost, the output is not. */
static vg_timer_t *lf_timer(svc_logfile_t *lf, vg_timer_t **tp) {
  vg_timer_t *t = *tp;
  if (t)
    return t;
  if (!(t = malloc(sizeof *t)) || vg_timer_init(lf->loop, t) != APR_SUCCESS) {
    free(t);
    lf_warn(lf, lf->path, APR_ENOMEM, "cannot arm a log file's timer");
    return NULL;
  }
  t->data = lf;
  vg_unref((vg_handle_t *)t);
  *tp = t;
  return t;
}

/* NAME cannot be used: report (once per distinct error), drop output and
 * retry opening later. */
static void lf_broken(svc_logfile_t *lf, apr_status_t rv, const char *msg) {
  if (rv != lf->reported) {
    lf_warn(lf, lf->path, rv, msg);
    if (lf->reported == APR_SUCCESS)
      lf->dropped_since = 0;
    lf->reported = rv;
  }
  lf_close_file(lf);
  lf->error = rv;
  if (!lf->closing && lf_timer(lf, &lf->retry))   /* else it is closed */
    vg_timer_start(lf->retry, retry_cb, lf->retry_ms, 0);
}

/* Open NAME, or report why not and arm the retry. */
static apr_status_t lf_try_open(svc_logfile_t *lf) {
  apr_status_t rv = lf_open_file(lf);
  if (rv != APR_SUCCESS)
    lf_broken(lf, rv, "cannot open log file; output is dropped until it "
                      "can be opened");
  return rv;
}

static void retry_cb(vg_timer_t *t) {
  svc_logfile_t *lf = t->data;
  if (lf_is_open(lf) || lf->closing)
    return;
  if (!lf->prepared)
    lf_prepare(lf);
  else
    (void)lf_try_open(lf);
}

/* ---- 3. writing -------------------------------------------------------- */

static size_t last_newline_before(const char *p, size_t n) {
  while (n > 0) {
    if (p[n - 1] == '\n')
      return n;
    n--;
  }
  return 0;
}

/* What ends a line a failed write cut short (a full disk, a quota, an
 * I/O error), once NAME can be written again: the next line must not be
 * glued to the torn one, and a reader should see that something is
 * missing there (how much is in the supervisor's log: "dropped"). */
#define LF_CUT_MARK " [vigil: line cut short: log write failed]\n"

static apr_status_t lf_write_file(svc_logfile_t *lf, const char *p,
                                  size_t n) {
  size_t done = 0;
  apr_status_t rv = pal_file_write(lf->fd, p, n, &done);
  lf->size += (apr_off_t)done;
  lf->st.written += done;
  if (done > 0)
    lf->mid_line = p[done - 1] != '\n';
  if (rv != APR_SUCCESS) {
    /* NAME is reopened later, as it is: its last line stays open. */
    if (lf->mid_line)
      lf->cut_line = 1;
    /* Counted after lf_broken(), which starts the count of a new failure
     * at zero: these bytes are the first it drops. */
    lf_broken(lf, rv, "cannot write log file; output is dropped until it "
                      "can be written again");
    lf->st.dropped += n - done;
    lf->dropped_since += n - done;
    return rv;
  }
  if (lf->reported != APR_SUCCESS) {
    char dropped[32];
    const char *kv[5];
    snprintf(dropped, sizeof dropped, "%llu",
             (unsigned long long)lf->dropped_since);
    kv[0] = "path";
    kv[1] = lf->path;
    kv[2] = "dropped";
    kv[3] = dropped;
    kv[4] = NULL;
    vg_log_kv(lf->diag, VG_LOG_NOTICE, LF_COMPONENT, kv,
              "log file writable again");
    lf->reported = APR_SUCCESS;
    lf->dropped_since = 0;
  }
  return APR_SUCCESS;
}

static size_t first_newline_within(const char *p, size_t n) {
  const char *nl = memchr(p, '\n', n);
  return nl ? (size_t)(nl - p) + 1 : 0;
}

/* Append raw bytes, rotating by size.  A write that would pass rot_limit
 * is cut after its last newline that fits, NAME is rotated, and the rest
 * continues in the new NAME.  If NAME ends inside a line, that line is
 * finished first, past rot_limit by up to `slack` bytes (min(max_size,
 * 64 KiB)), so rotated files end at line boundaries.  Otherwise, without
 * a newline that fits, a non-empty NAME is rotated first, and an empty
 * one takes what fits (a line longer than max_size is split).  Progress:
 * a rotation is never followed by another without a write in between
 * (a failed rotation, or a NAME refilled by someone else, would loop). */
static apr_status_t lf_put(svc_logfile_t *lf, const char *p, size_t n) {
  apr_status_t rv = APR_SUCCESS;
  int rotated = 0;
  while (n > 0) {
    size_t take = n;
    if (!lf_is_open(lf)) {
      lf->st.dropped += n;
      lf->dropped_since += n;
      return lf->error != APR_SUCCESS ? lf->error : VG_ECLOSING;
    }
    if (lf->cut_line) {
      uint64_t dropped = lf->st.dropped, since = lf->dropped_since;
      lf->cut_line = 0;
      lf->mid_line = 1;   /* what NAME is, whatever the reopen assumed */
      if (lf_write_file(lf, LF_CUT_MARK, sizeof LF_CUT_MARK - 1) !=
          APR_SUCCESS) {
        lf->st.dropped = dropped;   /* the mark is not the service's */
        lf->dropped_since = since;
        continue;                   /* broken again: dropped above */
      }
    }
    if (lf->max_size > 0 && lf->size + (apr_off_t)n > lf->rot_limit) {
      size_t room = lf->rot_limit > lf->size
                        ? (size_t)(lf->rot_limit - lf->size) : 0;
      size_t cut = last_newline_before(p, room < n ? room : n);
      if (cut == 0 && lf->mid_line) {
        apr_off_t hard = lf->rot_limit + lf->slack;
        size_t hroom = hard > lf->size ? (size_t)(hard - lf->size) : 0;
        cut = first_newline_within(p, hroom < n ? hroom : n);
        if (cut == 0 && n <= hroom)
          cut = n;   /* the line goes on, and still fits in the slack */
      }
      if (cut > 0) {
        take = cut;
      } else if (lf->size > 0 && !rotated) {
        apr_status_t r = lf_do_rotate(lf, "size");
        if (r != APR_SUCCESS)
          rv = r;
        rotated = 1;
        continue;
      } else if (room > 0 && room < n) {
        take = room;   /* split a line longer than max_size */
      }
    }
    {
      apr_status_t r = lf_write_file(lf, p, take);
      if (r != APR_SUCCESS)
        rv = r;   /* the rest is dropped by the next round */
      rotated = 0;
    }
    p += take;
    n -= take;
  }
  return rv;
}

/* Expand with a prefix at every line start, through the thread's
 * timestamp buffer. */
static apr_status_t lf_write_ts(svc_logfile_t *lf, svc_logline_t *line,
                                const char *p, size_t n) {
  const char *ts = lf_stamp(lf);
  char *o = lf_thread_buf(1);
  size_t used = 0;
  apr_status_t rv = APR_SUCCESS, r;

  if (!o) {
    lf->st.dropped += n;
    lf->dropped_since += n;
    return APR_ENOMEM;
  }
  while (n > 0) {
    const char *nl;
    size_t seg;
    if (!line->partial) {
      if (LF_TSBUF - used < SVC_LOG_TS_LEN) {
        if ((r = lf_put(lf, o, used)) != APR_SUCCESS)
          rv = r;
        used = 0;
      }
      memcpy(o + used, ts, SVC_LOG_TS_LEN);
      used += SVC_LOG_TS_LEN;
      line->partial = 1;
    }
    nl = memchr(p, '\n', n);
    seg = nl ? (size_t)(nl - p) + 1 : n;
    if (nl)
      line->partial = 0;
    n -= seg;
    while (seg > 0) {
      size_t c = LF_TSBUF - used;
      if (c == 0) {
        if ((r = lf_put(lf, o, used)) != APR_SUCCESS)
          rv = r;
        used = 0;
        c = LF_TSBUF;
      }
      if (c > seg)
        c = seg;
      memcpy(o + used, p, c);
      used += c;
      p += c;
      seg -= c;
    }
  }
  if (used > 0 && (r = lf_put(lf, o, used)) != APR_SUCCESS)
    rv = r;
  return rv;
}

apr_status_t svc_logfile_write(svc_logfile_t *lf, svc_logline_t *line,
                               const void *data, size_t len) {
  if (len == 0)
    return APR_SUCCESS;
  if (lf->sink) {   /* the file is touched only as the fallback */
    svc_logsink_write(lf->sink, line ? line : &lf->line, data, len);
    return APR_SUCCESS;
  }
  return lf_write(lf, line, data, len);
}

/* Into the file (a file target, or a sink's fallback). */
static apr_status_t lf_write(svc_logfile_t *lf, svc_logline_t *line,
                             const void *data, size_t len) {
  if (!lf->prepared && !lf->torn)
    lf_prepare(lf);
  if (line == NULL)
    line = &lf->line;
  if (lf->timestamps)
    return lf_write_ts(lf, line, data, len);
  if (len > 0)
    line->partial = ((const char *)data)[len - 1] != '\n';
  return lf_put(lf, data, len);
}

/* ---- 4. rotation ------------------------------------------------------- */

/* Removing a rotated file frees its blocks (on tmpfs, its page cache):
 * about a millisecond per 10 MB, which at full log speed was 15% of the
 * loop thread.  So a file to discard is renamed to NAME.del<k>.tmp on
 * the loop (a metadata call, and renames stay on the loop thread) and
 * removed by the thread pool.  Up to LF_DEL_MAX removals run at once per
 * log file (at full speed a rotation comes every few milliseconds, and a
 * removal's completion waits for the loop); past that, the file is
 * removed on the loop, as before. */
static const char *del_name(svc_logfile_t *lf, char *buf, unsigned slot) {
  snprintf(buf, lf->name_size, "%s.del%u.tmp", lf->path, slot);
  return buf;
}

static void del_work(vg_work_t *req) {
  deljob_t *job = req->data;
  job->rv = pal_file_remove(job->path);
}

static void del_after(vg_work_t *req, apr_status_t status) {
  deljob_t *job = req->data;
  svc_logfile_t *lf = job->lf;
  apr_status_t rv = status == APR_SUCCESS ? job->rv : status;

  lf->del_busy &= ~(1u << job->slot);
  lf->ndel--;
  if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
    /* The worker failed (or never ran): once more, here. */
    if ((rv = rm_quiet(lf, job->path)) != APR_SUCCESS)
      lf_warn(lf, job->path, rv, "cannot remove old log file");
    apr_pool_clear(lf->scratch);
  }
  free(job);
  if (lf->torn)
    lf_pending_done(lf);
}

/* Remove path (a missing one is fine), off the loop thread if it can.
 * Only a regular file goes to the pool: anything else (a directory in
 * the way) fails here, as a rotation that cannot remove it must. */
static apr_status_t lf_discard(svc_logfile_t *lf, const char *path) {
  deljob_t *job;
  apr_finfo_t fi;
  apr_status_t rv;
  unsigned slot;

  rv = apr_stat(&fi, path, APR_FINFO_TYPE, lf->scratch);
  if (APR_STATUS_IS_ENOENT(rv))
    return APR_SUCCESS;
  for (slot = 0; slot < LF_DEL_MAX && (lf->del_busy & (1u << slot)); slot++)
    ;
  if (slot == LF_DEL_MAX || lf->torn || rv != APR_SUCCESS ||
      fi.filetype != APR_REG ||
      (job = calloc(1, sizeof *job + lf->name_size)) == NULL)
    return rm_quiet(lf, path);
  rv = apr_file_rename(path, del_name(lf, job->path, slot), lf->scratch);
  if (rv != APR_SUCCESS) {
    free(job);
    return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
  }
  job->lf = lf;
  job->slot = slot;
  job->work.data = job;
  if (vg_queue_work(lf->loop, &job->work, del_work, del_after) !=
      APR_SUCCESS) {
    rv = rm_quiet(lf, job->path);
    free(job);
    return rv;
  }
  lf->del_busy |= 1u << slot;
  lf->ndel++;
  return APR_SUCCESS;
}

/* Shift NAME.k -> NAME.k+1 (both forms) and NAME -> NAME.1, keeping the
 * job's slot and need_gz in step.  Returns the error of the last rename
 * (NAME -> NAME.1), the one that matters; others are reported. */
static apr_status_t lf_shift(svc_logfile_t *lf) {
  unsigned k, keep = lf->keep;
  apr_status_t rv;
  int gz;

  if (keep == 0)
    return lf_discard(lf, lf->path);

  /* The oldest goes, unless it is being compressed: then it becomes the
   * orphan NAME.(keep+1), removed when its job ends. */
  if (lf->job && lf->job->slot == keep) {
    rv = mv_quiet(lf, slot_name(lf, lf->name_a, keep, 0),
                  slot_name(lf, lf->name_b, keep + 1, 0));
    if (rv != APR_SUCCESS)
      lf_warn(lf, lf->name_a, rv, "cannot rename rotated log file");
    lf->job->slot = keep + 1;
  } else if ((rv = lf_discard(lf, slot_name(lf, lf->name_a, keep, 0))) !=
             APR_SUCCESS) {
    lf_warn(lf, lf->name_a, rv, "cannot remove old log file");
  }
  if ((rv = lf_discard(lf, slot_name(lf, lf->name_a, keep, 1))) !=
      APR_SUCCESS)
    lf_warn(lf, lf->name_a, rv, "cannot remove old log file");

  for (k = keep - 1; k >= 1; k--) {
    for (gz = 0; gz <= 1; gz++) {
      rv = mv_quiet(lf, slot_name(lf, lf->name_a, k, gz),
                    slot_name(lf, lf->name_b, k + 1, gz));
      if (rv != APR_SUCCESS)
        lf_warn(lf, lf->name_a, rv, "cannot rename rotated log file");
    }
    lf->need_gz[k + 1] = lf->need_gz[k];
    if (lf->job && lf->job->slot == k)
      lf->job->slot = k + 1;
  }
  lf->need_gz[1] = 0;
  rv = apr_file_rename(lf->path, slot_name(lf, lf->name_a, 1, 0),
                       lf->scratch);
  if (rv == APR_SUCCESS)
    lf->need_gz[1] = (unsigned char)(lf->compress != 0);
  else if (APR_STATUS_IS_ENOENT(rv))
    rv = APR_SUCCESS;   /* NAME was removed behind our back */
  return rv;
}

static apr_status_t lf_do_rotate(svc_logfile_t *lf, const char *why) {
  apr_status_t rv;

  lf_close_file(lf);
  rv = lf_shift(lf);
  apr_pool_clear(lf->scratch);
  if (rv != APR_SUCCESS) {
    if (!lf->rot_reported)
      lf_warn(lf, lf->path, rv, "cannot rotate log file; it keeps growing");
    lf->rot_reported = 1;
  } else {
    lf->rot_reported = 0;
    lf->cut_line = 0;   /* the torn line went with NAME to NAME.1 */
    lf->st.rotations++;
    {
      const char *kv[] = {"path", lf->path, "reason", why, NULL};
      vg_log_kv(lf->diag, VG_LOG_DEBUG, LF_COMPONENT, kv, "rotated");
    }
  }
  if (!lf->torn) {
    apr_status_t orv = lf_try_open(lf);
    if (orv != APR_SUCCESS) {
      rv = rv != APR_SUCCESS ? rv : orv;
    } else if (rv != APR_SUCCESS && lf->max_size > 0) {
      /* Could not rotate: try again after another max_size. */
      lf->rot_limit = lf->size + lf->max_size;
    }
  }
  lf_gz_next(lf);
  return rv;
}

apr_status_t svc_logfile_rotate(svc_logfile_t *lf) {
  if (lf->torn)
    return VG_ECLOSING;
  if (!lf->prepared)
    lf_prepare(lf);
  if (!lf->prepared)
    return lf->error;
  return lf_do_rotate(lf, "request");
}

apr_status_t svc_logfile_reopen(svc_logfile_t *lf) {
  if (lf->torn)
    return VG_ECLOSING;
  if (!lf->prepared) {
    lf_prepare(lf);
    return lf->error;
  }
  lf_close_file(lf);
  if (lf->retry)
    vg_timer_stop(lf->retry);
  return lf_try_open(lf);
}

apr_time_t svc_logfile_next_midnight(apr_time_t now) {
  const apr_time_t day = apr_time_from_sec(86400);
  apr_time_exp_t tm, chk;
  apr_time_t wall, t, t2;
  int today;

  if (apr_time_exp_lt(&tm, now) != APR_SUCCESS)
    return now + day;
  today = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
  tm.tm_usec = 0;
  tm.tm_sec = 0;
  tm.tm_min = 0;
  tm.tm_hour = 0;
  tm.tm_mday += 1;   /* apr_time_exp_get counts days linearly */
  /* Tomorrow's 00:00 as if it were UTC, then shifted by the offset in
   * force at that moment, which differs from now's across a DST change. */
  if (apr_time_exp_get(&wall, &tm) != APR_SUCCESS)
    return now + day;
  t = wall - apr_time_from_sec(tm.tm_gmtoff);
  if (apr_time_exp_lt(&chk, t) == APR_SUCCESS &&
      chk.tm_gmtoff != tm.tm_gmtoff) {
    t2 = wall - apr_time_from_sec(chk.tm_gmtoff);
    if (t2 > now && local_day(t2) != today)
      t = t2;
  }
  if (t <= now)   /* no such local time: be late rather than spin */
    t = now + apr_time_from_sec(3600);
  return t;
}

static void daily_cb(vg_timer_t *t);

static void lf_arm_daily(svc_logfile_t *lf, apr_time_t now) {
  apr_time_t next = svc_logfile_next_midnight(now);
  /* Round up, plus 1 ms: firing a hair early would only re-arm. */
  uint64_t ms = (uint64_t)((next - now + 999) / 1000) + 1;
  lf->st.next_daily = next;
  if (lf_timer(lf, &lf->daily_timer))
    vg_timer_start(lf->daily_timer, daily_cb, ms, 0);
}

void svc__logfile_daily_fire(svc_logfile_t *lf, apr_time_t now) {
  int today = local_day(now);
  if (lf->closing)
    return;
  if (today != lf->day) {
    /* Early (the wall clock stepped back) is today == lf->day: re-arm. */
    if (lf_is_open(lf) && lf->size > 0)
      lf_do_rotate(lf, "daily");
    lf->day = today;
  }
  lf_arm_daily(lf, now);
}

static void daily_cb(vg_timer_t *t) {
  svc__logfile_daily_fire(t->data, apr_time_now());
}

/* ---- 5. compression ---------------------------------------------------- */

static void gz_work(vg_work_t *req) {
  gzjob_t *job = req->data;
  unsigned char *ibuf = malloc(LF_GZBUF), *obuf = malloc(LF_GZBUF);
  z_stream zs;
  int flush = Z_NO_FLUSH, zinit = 0;
  apr_status_t rv = APR_SUCCESS;

  memset(&zs, 0, sizeof zs);
  if (!ibuf || !obuf) {
    rv = APR_ENOMEM;
    job->call = "malloc";
    goto done;
  }
  /* windowBits 15 + 16: a gzip header and trailer, as gzip(1) writes. */
  if (deflateInit2(&zs, LF_GZ_LEVEL, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    rv = APR_ENOMEM;
    job->call = "deflateInit2";
    goto done;
  }
  zinit = 1;
  while (flush != Z_FINISH) {
    size_t n = 0;
    if (apr_atomic_read32(&job->abort)) {
      rv = VG_ECANCELED;
      goto done;
    }
    rv = pal_file_read(job->in, ibuf, LF_GZBUF, &n);
    if (APR_STATUS_IS_EOF(rv)) {
      n = 0;
      flush = Z_FINISH;
      rv = APR_SUCCESS;
    } else if (rv != APR_SUCCESS) {
      job->call = "read";
      goto done;
    }
    zs.next_in = ibuf;
    zs.avail_in = (uInt)n;
    do {
      size_t have;
      zs.next_out = obuf;
      zs.avail_out = LF_GZBUF;
      (void)deflate(&zs, flush);   /* no Z_STREAM_ERROR with valid state */
      have = LF_GZBUF - zs.avail_out;
      if (have > 0 &&
          (rv = pal_file_write(job->out, obuf, have, NULL)) != APR_SUCCESS) {
        job->call = "write";
        goto done;
      }
    } while (zs.avail_out == 0);
  }
  /* The .gz replaces the plain file: make it durable first. */
  if ((rv = pal_file_sync(job->out)) != APR_SUCCESS)
    job->call = "sync";
done:
  if (zinit)
    deflateEnd(&zs);
  free(ibuf);
  free(obuf);
  job->rv = rv;
}

static void gz_free(gzjob_t *job) {
  pal_file_close(job->in);
  pal_file_close(job->out);
  free(job);
}

static void gz_after(vg_work_t *req, apr_status_t status) {
  gzjob_t *job = req->data;
  svc_logfile_t *lf = job->lf;
  unsigned slot = job->slot;
  apr_status_t rv = status == APR_SUCCESS ? job->rv : status;
  const char *call = job->call;

  gz_free(job);
  lf->job = NULL;
  if (slot > lf->keep) {
    /* Shifted out while compressed: nothing to keep. */
    rm_quiet(lf, lf->tmp);
    lf_discard(lf, slot_name(lf, lf->name_a, slot, 0));
    rm_quiet(lf, slot_name(lf, lf->name_a, slot, 1));
  } else if (rv == APR_SUCCESS) {
    rv = apr_file_rename(lf->tmp, slot_name(lf, lf->name_a, slot, 1),
                         lf->scratch);
    if (rv == APR_SUCCESS) {
      lf->st.compressed++;
      lf_discard(lf, slot_name(lf, lf->name_a, slot, 0));
    } else {
      call = "rename";
    }
  }
  if (rv != APR_SUCCESS && slot <= lf->keep) {
    rm_quiet(lf, lf->tmp);
    if (rv != VG_ECANCELED) {
      char msg[96];
      snprintf(msg, sizeof msg, "cannot compress rotated log file (%s); "
               "it stays uncompressed", call ? call : "?");
      lf_warn(lf, slot_name(lf, lf->name_a, slot, 0), rv, msg);
    }
  }
  apr_pool_clear(lf->scratch);
  if (lf->torn)
    lf_pending_done(lf);
  else
    lf_gz_next(lf);   /* nothing new once closing */
}

/* Start compressing the newest plain rotated file, if any and if the
 * worker is free. */
static void lf_gz_next(svc_logfile_t *lf) {
  unsigned k;
  while (lf->compress && !lf->job && !lf->closing) {
    gzjob_t *job;
    apr_status_t rv;

    for (k = 1; k <= lf->keep && !lf->need_gz[k]; k++)
      ;
    if (k > lf->keep)
      return;
    lf->need_gz[k] = 0;
    if ((job = calloc(1, sizeof *job)) == NULL)
      return;
    job->lf = lf;
    job->slot = k;
    job->work.data = job;
    job->out = PAL_INVALID_FD;
    rv = pal_file_open(&job->in, slot_name(lf, lf->name_a, k, 0),
                       PAL_FILE_READ);
    if (rv == APR_SUCCESS) {
      rv = pal_file_open(&job->out, lf->tmp, PAL_FILE_TRUNCATE);
      if (rv != APR_SUCCESS)
        lf_warn(lf, lf->tmp, rv, "cannot compress rotated log file");
    } else if (!APR_STATUS_IS_ENOENT(rv)) {
      lf_warn(lf, lf->name_a, rv, "cannot compress rotated log file");
    }
    if (rv == APR_SUCCESS) {
      rv = vg_queue_work(lf->loop, &job->work, gz_work, gz_after);
      if (rv != APR_SUCCESS)
        lf_warn(lf, lf->name_a, rv, "cannot queue log compression");
    }
    if (rv != APR_SUCCESS) {
      gz_free(job);
      continue;
    }
    lf->job = job;
  }
}

/* ---- 6. open / close / stats ------------------------------------------- */

static int file_exists(svc_logfile_t *lf, const char *path) {
  apr_finfo_t fi;
  return apr_stat(&fi, path, APR_FINFO_TYPE, lf->scratch) == APR_SUCCESS;
}

/* Remove NAME.k[.gz] for k = keep+1, keep+2, ... up to the first number
 * with neither (what a larger keep, or a crash mid-rotation, leaves: a
 * contiguous run; probing costs two stats when there is nothing, where a
 * directory scan would cost the whole log-dir per service).  Remove a
 * stale NAME.gz.tmp and NAME.del<k>.tmp.  With compress, queue every plain
 * NAME.k (k <= keep) for compression. */
static void lf_scan(svc_logfile_t *lf) {
  unsigned k;
  rm_quiet(lf, lf->tmp);
  for (k = 0; k < LF_DEL_MAX; k++)
    rm_quiet(lf, del_name(lf, lf->name_a, k));
  for (k = lf->keep + 1; k <= 2 * SVC_LOGFILE_KEEP_MAX; k++) {
    int plain = file_exists(lf, slot_name(lf, lf->name_a, k, 0));
    int gz = file_exists(lf, slot_name(lf, lf->name_b, k, 1));
    if (!plain && !gz)
      break;
    if (plain)
      rm_quiet(lf, lf->name_a);
    if (gz)
      rm_quiet(lf, lf->name_b);
  }
  if (lf->compress)
    for (k = 1; k <= lf->keep; k++)
      if (file_exists(lf, slot_name(lf, lf->name_a, k, 0)))
        lf->need_gz[k] = 1;
  apr_pool_clear(lf->scratch);
}

/* The names of the rotation: NAME.gz.tmp and two scratch buffers for
 * NAME.k[.gz], in one block. */
static apr_status_t lf_alloc_names(svc_logfile_t *lf) {
  size_t n = lf->name_size;
  if ((lf->names = malloc(3 * n)) == NULL)
    return APR_ENOMEM;
  lf->tmp = lf->names;
  lf->name_a = lf->names + n;
  lf->name_b = lf->names + 2 * n;
  snprintf(lf->tmp, n, "%s.gz.tmp", lf->path);
  return APR_SUCCESS;
}

/* The file work of opening: prune and queue (lf_scan), rotate a day-old
 * NAME before anything new goes in, open NAME.  Done once, at open or,
 * for a lazy log file, when it is first needed (and again until the
 * names could be allocated). */
static void lf_prepare(svc_logfile_t *lf) {
  apr_time_t now = apr_time_now();
  apr_finfo_t fi;

  if (lf_alloc_names(lf) != APR_SUCCESS) {
    lf_broken(lf, APR_ENOMEM, "cannot open log file; output is dropped "
                              "until it can be opened");
    return;
  }
  lf->prepared = 1;
  lf_scan(lf);
  if (lf->daily &&
      apr_stat(&fi, lf->path, APR_FINFO_SIZE | APR_FINFO_MTIME,
               lf->scratch) == APR_SUCCESS &&
      fi.size > 0 && fi.mtime < now && local_day(fi.mtime) != lf->day) {
    apr_pool_clear(lf->scratch);
    lf_do_rotate(lf, "daily");   /* reopens (or reports) */
  } else {
    apr_pool_clear(lf->scratch);
    (void)lf_try_open(lf);
  }
  lf_gz_next(lf);
}

apr_status_t svc_logfile_open(svc_logfile_t **lfp,
                              vg_loop_t *loop, const svc_logfile_opts_t *o,
                              apr_pool_t *pool, vg_log_t *diag) {
  svc_logfile_t *lf;
  lf_thread_t *t = lf_thread();
  size_t len;
  apr_time_t now = apr_time_now();

  (void)pool;   /* the object is malloc'd: see "Memory" above */
  *lfp = NULL;
  if (!o || !o->path || !*o->path || o->keep > SVC_LOGFILE_KEEP_MAX ||
      o->max_size < 0)
    return APR_EINVAL;
  /* One block: the object, NAME, need_gz. */
  len = strlen(o->path);
  lf = calloc(1, sizeof *lf + len + 1 + o->keep + 2);
  if (!lf || !t) {
    free(lf);
    return APR_ENOMEM;
  }
  lf->scratch = t->scratch;
  lf->path = (char *)(lf + 1);
  memcpy(lf->path, o->path, len + 1);
  lf->need_gz = (unsigned char *)lf->path + len + 1;
  lf->name_size = len + 32;
  lf->fd = PAL_INVALID_FD;
  lf->loop = loop;
  lf->diag = diag;
  lf->max_size = o->max_size;
  lf->rot_limit = o->max_size;
  lf->slack = o->max_size < SVC_LOGCAP_BUFSIZE ? o->max_size
                                               : SVC_LOGCAP_BUFSIZE;
  lf->keep = o->keep;
  lf->daily = o->daily != 0;
  lf->compress = o->compress != 0;
  lf->timestamps = o->timestamps != 0;
  lf->lazy = o->lazy != 0;
  lf->retry_ms = o->retry_ms ? o->retry_ms : SVC_LOGFILE_RETRY_MS;

  if (o->sink != SVC_LOGSINK_NONE) {
    lf->sink = svc_logsink_new(o->sink, o->ident, o->is_err, lf->path, diag,
                               lf_fallback, lf);
    if (!lf->sink) {
      free(lf);
      return APR_ENOMEM;
    }
    lf->lazy = 1;   /* the fallback: no file work until it is needed */
  }

  lf->day = local_day(now);
  if (!lf->lazy)
    lf_prepare(lf);
  if (lf->daily)
    lf_arm_daily(lf, now);
  *lfp = lf;
  return APR_SUCCESS;
}

static void lf_free(svc_logfile_t *lf) {
  if (lf->close_cb)
    lf->close_cb(lf->close_arg);
  svc_logsink_free(lf->sink);
  free(lf->names);
  free(lf);
}

/* Something teardown waits for (a timer's close, a job) has ended. */
static void lf_pending_done(svc_logfile_t *lf) {
  if (--lf->pending == 0 && lf->torn)
    lf_free(lf);
}

static void lf_timer_closed(vg_handle_t *h) {
  svc_logfile_t *lf = h->data;
  free(h);
  lf_pending_done(lf);
}

static void lf_timer_close(svc_logfile_t *lf, vg_timer_t **tp) {
  if (*tp) {
    lf->pending++;
    vg_close((vg_handle_t *)*tp, lf_timer_closed);
    *tp = NULL;
  }
}

/* Closing, and no capture is attached any more: close NAME, stop the
 * jobs, and free the object once the timers and jobs have ended. */
static void lf_teardown(svc_logfile_t *lf) {
  if (lf->sink)
    svc_logsink_end_line(lf->sink, &lf->line);
  lf->torn = 1;
  lf_close_file(lf);
  if (lf->job) {
    lf->pending++;
    apr_atomic_set32(&lf->job->abort, 1);
    (void)vg_work_cancel(&lf->job->work);   /* or it ends soon */
  }
  lf->pending += lf->ndel;   /* a removal is quick: let it end */
  if (lf->pending == 0)
    lf_free(lf);
}

/* The timers close at once, captures or not: an owner that closes every
 * handle left on its loop at exit (the supervisor does) must not close
 * them first, with no callback for us. */
void svc_logfile_close(svc_logfile_t *lf, svc_logfile_close_cb cb,
                       void *arg) {
  if (lf->closing)
    return;
  lf->closing = 1;
  lf->close_cb = cb;
  lf->close_arg = arg;
  lf_timer_close(lf, &lf->retry);
  lf_timer_close(lf, &lf->daily_timer);
  if (lf->ncaps == 0)
    lf_teardown(lf);
}

void svc_logfile_get_stats(const svc_logfile_t *lf, svc_logfile_stats_t *st) {
  unsigned k;
  *st = lf->st;
  st->compress_pending = lf->job != NULL;
  for (k = 1; k <= lf->keep; k++)
    st->compress_pending += lf->need_gz[k];
  st->size = lf_is_open(lf) ? lf->size : 0;
  if (lf_is_open(lf))
    st->error = APR_SUCCESS;
  else if (lf->error != APR_SUCCESS)
    st->error = lf->error;
  else   /* a lazy file not used yet is fine; else it is closing */
    st->error = !lf->prepared && !lf->torn ? APR_SUCCESS : VG_ECLOSING;
  if (!lf->daily || lf->closing)
    st->next_daily = 0;
  if (lf->sink) {
    uint64_t sent, dropped;
    svc_logsink_counts(lf->sink, &sent, &dropped);
    st->written += sent;
    st->dropped += dropped;
  }
}

const char *svc_logfile_path(const svc_logfile_t *lf) {
  return lf->path;
}

/* ---- 7. captures ------------------------------------------------------- */

enum { CAP_NONE = 0, CAP_INIT, CAP_READING, CAP_CLOSING, CAP_CLOSED };

apr_status_t svc_logcap_init(vg_loop_t *loop, svc_logcap_t *cap) {
  apr_status_t rv = vg_pipe_init(loop, &cap->pipe);
  if (rv != APR_SUCCESS)
    return rv;
  cap->pipe.data = cap;
  cap->status = APR_SUCCESS;
  cap->bytes = 0;
  cap->lf = NULL;
  cap->line.partial = 0;
  cap->cb = NULL;
  cap->state = CAP_INIT;
  return APR_SUCCESS;
}

/* The thread's buffer: the read that follows, and cap_read, use it
 * before anything else can (see "Memory" at the top). */
static void cap_alloc(vg_handle_t *h, size_t suggested, vg_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = lf_thread_buf(0);
  buf->len = buf->base ? SVC_LOGCAP_BUFSIZE : 0;   /* 0: APR_ENOMEM */
}

static void cap_closed(vg_handle_t *h) {
  svc_logcap_t *cap = h->data;
  svc_logfile_t *lf = cap->lf;
  svc_logcap_cb cb = cap->cb;

  if (lf)   /* the line the child did not end */
    svc_logfile_end_line(lf, &cap->line);
  cap->lf = NULL;
  cap->state = CAP_CLOSED;
  if (cb)
    cb(cap);   /* lf is still attached: cb may still write to it */
  if (lf && --lf->ncaps == 0 && lf->closing)
    lf_teardown(lf);
}

static void cap_read(vg_stream_t *s, apr_status_t status, size_t nread,
                     const vg_buf_t *buf) {
  svc_logcap_t *cap = s->data;
  if (status == APR_SUCCESS) {
    if (nread > 0) {
      cap->bytes += nread;
      svc_logfile_write(cap->lf, &cap->line, buf->base, nread);
    }
    return;
  }
  if (!APR_STATUS_IS_EOF(status))
    lf_warn(cap->lf, cap->lf->path, status,
            "cannot read child output; capture ends");
  cap->status = status;
  cap->state = CAP_CLOSING;
  vg_close((vg_handle_t *)&cap->pipe, cap_closed);
}

apr_status_t svc_logcap_start(svc_logcap_t *cap, svc_logfile_t *lf,
                              svc_logcap_cb on_drained) {
  apr_status_t rv;
  if (cap->state != CAP_INIT)
    return cap->state == CAP_READING ? VG_EBUSY : VG_ECLOSING;
  if (lf->closing)
    return VG_ECLOSING;
  rv = vg_read_start(&cap->pipe, cap_alloc, cap_read);
  if (rv != APR_SUCCESS)
    return rv;
  cap->lf = lf;
  cap->cb = on_drained;
  cap->line.partial = 0;
  cap->state = CAP_READING;
  lf->ncaps++;
  return APR_SUCCESS;
}

void svc_logcap_close(svc_logcap_t *cap, svc_logcap_cb cb) {
  if (cap->state != CAP_INIT && cap->state != CAP_READING)
    return;
  cap->cb = cb;
  cap->status = VG_ECANCELED;
  cap->state = CAP_CLOSING;
  vg_close((vg_handle_t *)&cap->pipe, cap_closed);
}

int svc_logcap_is_open(const svc_logcap_t *cap) {
  return cap->state == CAP_INIT || cap->state == CAP_READING ||
         cap->state == CAP_CLOSING;
}

/* ---- 8. log daemons ---------------------------------------------------- */

static void lf_fallback(void *arg, const char *p, size_t len) {
  svc_logfile_t *lf = arg;
  (void)lf_write(lf, &lf->fb_line, p, len);
}

void svc_logfile_end_line(svc_logfile_t *lf, svc_logline_t *line) {
  if (lf->sink)
    svc_logsink_end_line(lf->sink, line);
}

void svc_logfile_set_pid(svc_logfile_t *lf, int64_t pid) {
  if (lf->sink)
    svc_logsink_set_pid(lf->sink, pid);
}
