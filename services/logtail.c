/*
 * logtail.c -- reading captured logs back: the last N lines
 * (svc_logfile_tail, `vigil logs -n N`) and following (svc_logfollow_*,
 * `vigil logs -f`).  See svc_log.h.
 *
 * Neither touches a loop: they run in the CLI process or on a worker
 * thread, with the caller's pool, and never write to a log.
 *
 * Invariants:
 *   - tail: a plain file is read backwards in TAIL_BLOCK blocks until
 *     n + 1 line starts are known (the final '\n' of a file ends its last
 *     line and starts nothing), then the tail is read forwards once.  A
 *     .gz file cannot be read backwards: it is inflated as a stream,
 *     keeping only a window that holds the last n lines (trimmed when it
 *     grows past TAIL_TRIM), so memory stays bounded by the lines kept.
 *   - both keep at most TAIL_LINE_MAX bytes of a line (the rest is
 *     counted and named by a marker): n lines cost at most n times that,
 *     however long a line in the file is.
 *   - only regular files are opened (pal_file_open_apr): a FIFO or a
 *     device at a log's path is an error at once, never a wait.
 *   - follow: `f->file` is open at `f->off`.  New bytes are read from the
 *     open file first; only when it has nothing more is PATH checked: if
 *     it now names another file (identity) or shrank below `off`, the old
 *     file is done (a renamed file can no longer grow: only NAME is
 *     written) and the new one is read from its start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_time.h>

#include <zlib.h>

#include "pal.h"
#include "svc_log.h"

#define TAIL_BLOCK 65536
#define TAIL_TRIM (256 * 1024)
/* The bytes of one line that `vigil logs -n` shows; the rest of a longer
 * line is replaced by TAIL_CUT_MARK (how many bytes were left out). */
#define TAIL_LINE_MAX 65536
#define TAIL_CUT_MARK " [vigil: %llu more bytes not shown]"

/* ---- tail -------------------------------------------------------------- */

/* The lines being gathered, each cut to TAIL_LINE_MAX bytes and marked
 * with how much was left out, so that memory is bounded by the number of
 * lines asked for, never by how long one line is (a 10 MB line without a
 * newline is a log too). */
typedef struct tail_win_s {
  char *w;                      /* malloc'd */
  size_t len, cap;
  size_t nl;                    /* newlines in w[0..len) */
  size_t cur;                   /* bytes kept of the line not yet ended */
  apr_off_t cut;                /* bytes left out of that line */
} tail_win_t;

static apr_status_t win_reserve(tail_win_t *t, size_t more) {
  size_t cap = t->cap ? t->cap : 4096;
  char *nw;
  if (t->cap - t->len >= more)
    return APR_SUCCESS;
  while (cap - t->len < more)
    cap *= 2;
  if (!(nw = realloc(t->w, cap)))
    return APR_ENOMEM;
  t->w = nw;
  t->cap = cap;
  return APR_SUCCESS;
}

/* The current line is complete (or the input ended): mark its cut. */
static apr_status_t win_end_line(tail_win_t *t) {
  char m[96];
  int k;
  apr_status_t rv;
  if (t->cut > 0) {
    k = snprintf(m, sizeof m, TAIL_CUT_MARK, (unsigned long long)t->cut);
    if ((rv = win_reserve(t, (size_t)k)) != APR_SUCCESS)
      return rv;
    memcpy(t->w + t->len, m, (size_t)k);
    t->len += (size_t)k;
  }
  t->cur = 0;
  t->cut = 0;
  return APR_SUCCESS;
}

/* Append p[0..n), keeping at most TAIL_LINE_MAX bytes of each line. */
static apr_status_t win_put(tail_win_t *t, const char *p, size_t n) {
  apr_status_t rv;
  while (n > 0) {
    const char *eol = memchr(p, '\n', n);
    size_t seg = eol ? (size_t)(eol - p) : n, keep = seg;
    if (keep > TAIL_LINE_MAX - t->cur)
      keep = TAIL_LINE_MAX - t->cur;
    if ((rv = win_reserve(t, keep + 1)) != APR_SUCCESS)
      return rv;
    memcpy(t->w + t->len, p, keep);
    t->len += keep;
    t->cur += keep;
    t->cut += (apr_off_t)(seg - keep);
    if (!eol)
      break;
    if ((rv = win_end_line(t)) != APR_SUCCESS ||
        (rv = win_reserve(t, 1)) != APR_SUCCESS)
      return rv;
    t->w[t->len++] = '\n';
    t->nl++;
    p += seg + 1;
    n -= seg + 1;
  }
  return APR_SUCCESS;
}

/* Split the window into lines (in a copy from the pool), appending them
 * to `out`. */
static void win_lines(const tail_win_t *t, apr_pool_t *pool,
                      apr_array_header_t *out) {
  char *buf = apr_palloc(pool, t->len + 1);
  size_t i, start = 0;
  memcpy(buf, t->w ? t->w : "", t->len);
  for (i = 0; i < t->len; i++)
    if (buf[i] == '\n') {
      buf[i] = '\0';
      APR_ARRAY_PUSH(out, const char *) = buf + start;
      start = i + 1;
    }
  if (start < t->len) {   /* a last line without its newline */
    buf[t->len] = '\0';
    APR_ARRAY_PUSH(out, const char *) = buf + start;
  }
}

/* The last `want` lines of a plain file. */
static apr_status_t tail_plain(const char *path, unsigned want,
                               apr_pool_t *pool, apr_array_header_t *out) {
  apr_file_t *f;
  apr_finfo_t fi;
  apr_off_t size, pos, start = 0;
  apr_status_t rv;
  unsigned count = 0;
  char *block;
  apr_size_t len;
  tail_win_t win;

  memset(&win, 0, sizeof win);
  if ((rv = pal_file_open_apr(&f, path, pool)) != APR_SUCCESS)
    return rv;
  if ((rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f)) != APR_SUCCESS)
    goto done;
  size = fi.size;
  if (want == 0 || size == 0)
    goto done;
  block = apr_palloc(pool, TAIL_BLOCK);
  pos = size;
  while (pos > 0) {
    apr_off_t at;
    apr_size_t i;
    len = pos > TAIL_BLOCK ? TAIL_BLOCK : (apr_size_t)pos;
    at = pos - (apr_off_t)len;
    if ((rv = apr_file_seek(f, APR_SET, &at)) != APR_SUCCESS ||
        (rv = apr_file_read_full(f, block, len, NULL)) != APR_SUCCESS)
      goto done;
    for (i = len; i-- > 0;)
      if (block[i] == '\n' && at + (apr_off_t)i != size - 1 &&
          ++count == want) {
        start = at + (apr_off_t)i + 1;
        goto found;
      }
    pos = at;
  }
found:
  if ((rv = apr_file_seek(f, APR_SET, &start)) != APR_SUCCESS)
    goto done;
  /* Forwards in blocks, through the window that cuts long lines.  The
   * file may have shrunk meanwhile: take what is there. */
  for (pos = start; pos < size && rv == APR_SUCCESS; pos += (apr_off_t)len) {
    len = size - pos > TAIL_BLOCK ? TAIL_BLOCK : (apr_size_t)(size - pos);
    rv = apr_file_read_full(f, block, len, &len);
    if (len > 0 && (rv == APR_SUCCESS || APR_STATUS_IS_EOF(rv))) {
      apr_status_t wr = win_put(&win, block, len);
      if (wr != APR_SUCCESS)
        rv = wr;
    }
    if (len == 0)
      break;
  }
  if (APR_STATUS_IS_EOF(rv))
    rv = APR_SUCCESS;
  if (rv == APR_SUCCESS)
    rv = win_end_line(&win);
  if (rv == APR_SUCCESS)
    win_lines(&win, pool, out);
done:
  free(win.w);
  apr_file_close(f);
  return rv;
}

/* Drop whole lines at the front of the window until at most `want`
 * newlines remain. */
static void trim_window(tail_win_t *t, unsigned want) {
  size_t i, drop = t->nl - want;
  if (t->nl <= want)
    return;
  for (i = 0; i < t->len; i++)
    if (t->w[i] == '\n' && --drop == 0)
      break;
  memmove(t->w, t->w + i + 1, t->len - (i + 1));
  t->len -= i + 1;
  t->nl = want;
}

/* The last `want` lines of a gzip file (or several gzip members). */
static apr_status_t tail_gz(const char *path, unsigned want, apr_pool_t *pool,
                            apr_array_header_t *out) {
  apr_file_t *f;
  apr_status_t rv;
  z_stream zs;
  unsigned char *in = NULL;
  char *o = NULL;
  tail_win_t win;
  int zr = Z_OK, eof = 0;

  memset(&win, 0, sizeof win);
  if ((rv = pal_file_open_apr(&f, path, pool)) != APR_SUCCESS)
    return rv;
  memset(&zs, 0, sizeof zs);
  if (want == 0)
    goto done;
  /* 15 + 32: gzip or zlib header, detected. */
  if (inflateInit2(&zs, 15 + 32) != Z_OK) {
    rv = APR_ENOMEM;
    goto done;
  }
  in = malloc(TAIL_BLOCK);
  o = malloc(TAIL_BLOCK);
  if (!in || !o) {
    rv = APR_ENOMEM;
    goto end;
  }
  while (!eof || zs.avail_in > 0) {
    if (zs.avail_in == 0 && !eof) {
      apr_size_t n = TAIL_BLOCK;
      rv = apr_file_read(f, in, &n);
      if (APR_STATUS_IS_EOF(rv)) {
        eof = 1;
        rv = APR_SUCCESS;
        continue;
      }
      if (rv != APR_SUCCESS)
        goto end;
      zs.next_in = in;
      zs.avail_in = (uInt)n;
    }
    zs.next_out = (unsigned char *)o;
    zs.avail_out = TAIL_BLOCK;
    zr = inflate(&zs, Z_NO_FLUSH);
    if ((rv = win_put(&win, o, TAIL_BLOCK - zs.avail_out)) != APR_SUCCESS)
      goto end;
    if (zr == Z_STREAM_END) {
      inflateReset(&zs);   /* another member may follow */
    } else if (zr == Z_BUF_ERROR && eof && zs.avail_in == 0) {
      break;   /* truncated: keep what was inflated */
    } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
      rv = APR_EGENERAL;   /* not gzip, or corrupt */
      goto end;
    }
    if (win.len > TAIL_TRIM)
      trim_window(&win, want);
  }
  if ((rv = win_end_line(&win)) != APR_SUCCESS)
    goto end;
  /* A final newline ends the last line: it needs want of them, else
   * want - 1 plus the partial last line. */
  trim_window(&win, win.len > 0 && win.w[win.len - 1] == '\n' ? want
                                                              : want - 1);
  win_lines(&win, pool, out);
end:
  inflateEnd(&zs);
done:
  free(in);
  free(o);
  free(win.w);
  apr_file_close(f);
  return rv;
}

apr_status_t svc_logfile_tail(const char *path, unsigned n, apr_pool_t *pool,
                              apr_array_header_t **lines) {
  apr_array_header_t *parts[SVC_LOGFILE_KEEP_MAX + 2], *all;
  unsigned have = 0, nparts = 0, k;
  int any = 0;
  apr_status_t rv;

  all = apr_array_make(pool, (int)(n < 1024 ? n + 1 : 1024),
                       sizeof(const char *));
  *lines = all;
  for (k = 0; k <= SVC_LOGFILE_KEEP_MAX && (k == 0 || have < n); k++) {
    apr_array_header_t *a = apr_array_make(pool, 16, sizeof(const char *));
    const char *p = k == 0 ? path : apr_psprintf(pool, "%s.%u", path, k);
    rv = tail_plain(p, n - have, pool, a);
    if (APR_STATUS_IS_ENOENT(rv) && k > 0)
      rv = tail_gz(apr_pstrcat(pool, p, ".gz", NULL), n - have, pool, a);
    if (APR_STATUS_IS_ENOENT(rv)) {
      if (k == 0)
        continue;   /* no current file: the rotated ones may exist */
      break;
    }
    if (rv != APR_SUCCESS)
      return rv;
    any = 1;
    parts[nparts++] = a;
    have += (unsigned)a->nelts;
  }
  if (!any)
    return APR_ENOENT;
  while (nparts-- > 0)   /* oldest file first */
    apr_array_cat(all, parts[nparts]);
  return APR_SUCCESS;
}

/* ---- follow ------------------------------------------------------------ */

struct svc_logfollow_s {
  apr_pool_t *pool;
  apr_pool_t *fpool;              /* the open file */
  apr_pool_t *scratch;
  char *path;
  apr_file_t *file;
  apr_off_t off;
  apr_finfo_t id;                 /* identity of the open file */
};

static apr_status_t follow_open(svc_logfollow_t *f, int at_end) {
  apr_status_t rv;
  apr_finfo_t fi;
  if (apr_pool_create(&f->fpool, f->pool) != APR_SUCCESS)
    return APR_ENOMEM;
  rv = pal_file_open_apr(&f->file, f->path, f->fpool);
  if (rv != APR_SUCCESS) {
    apr_pool_destroy(f->fpool);
    f->fpool = NULL;
    f->file = NULL;
    return rv;
  }
  memset(&fi, 0, sizeof fi);
  (void)apr_file_info_get(&fi, APR_FINFO_IDENT | APR_FINFO_SIZE, f->file);
  f->id = fi;   /* fi.valid says what is known */
  f->off = 0;
  if (at_end && (fi.valid & APR_FINFO_SIZE)) {
    f->off = fi.size;
    apr_file_seek(f->file, APR_SET, &f->off);
  }
  return APR_SUCCESS;
}

static void follow_drop(svc_logfollow_t *f) {
  if (f->fpool)
    apr_pool_destroy(f->fpool);
  f->fpool = NULL;
  f->file = NULL;
}

apr_status_t svc_logfollow_open(svc_logfollow_t **fp, const char *path,
                                int from_start, apr_pool_t *pool) {
  svc_logfollow_t *f;
  apr_pool_t *p;
  apr_status_t rv;
  if (apr_pool_create(&p, pool) != APR_SUCCESS)
    return APR_ENOMEM;
  f = apr_pcalloc(p, sizeof *f);
  f->pool = p;
  f->path = apr_pstrdup(p, path);
  if (apr_pool_create(&f->scratch, p) != APR_SUCCESS) {
    apr_pool_destroy(p);
    return APR_ENOMEM;
  }
  rv = follow_open(f, !from_start);
  if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
    apr_pool_destroy(p);
    return rv;
  }
  *fp = f;
  return APR_SUCCESS;
}

/* Has PATH been replaced (rotated) or truncated since we opened it? */
static int follow_replaced(svc_logfollow_t *f) {
  apr_finfo_t fi;
  apr_status_t rv;
  int replaced = 0;
  rv = apr_stat(&fi, f->path, APR_FINFO_IDENT | APR_FINFO_SIZE, f->scratch);
  if (rv == APR_SUCCESS || APR_STATUS_IS_INCOMPLETE(rv)) {
    if ((fi.valid & APR_FINFO_IDENT) && (f->id.valid & APR_FINFO_IDENT) &&
        (fi.inode != f->id.inode || fi.device != f->id.device))
      replaced = 1;
    else if ((fi.valid & APR_FINFO_SIZE) && fi.size < f->off)
      replaced = 1;   /* truncated, or no identity to compare */
  }
  apr_pool_clear(f->scratch);
  return replaced;
}

apr_status_t svc_logfollow_read(svc_logfollow_t *f, char *buf, size_t size,
                                size_t *n) {
  int round;
  *n = 0;
  for (round = 0; round < 2; round++) {
    apr_size_t len = size;
    apr_status_t rv;
    if (!f->file) {
      rv = follow_open(f, 0);
      if (APR_STATUS_IS_ENOENT(rv))
        return APR_SUCCESS;   /* not (yet) there */
      if (rv != APR_SUCCESS)
        return rv;
    }
    rv = apr_file_read(f->file, buf, &len);
    if (rv == APR_SUCCESS && len > 0) {
      f->off += (apr_off_t)len;
      *n = len;
      return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv))
      return rv;
    if (!follow_replaced(f))
      return APR_SUCCESS;
    follow_drop(f);   /* all of the old file has been read */
  }
  return APR_SUCCESS;
}

void svc_logfollow_close(svc_logfollow_t *f) {
  apr_pool_destroy(f->pool);
}

/* ---- times of lines ---------------------------------------------------- */

int svc_log_line_time(const char *line, char key[SVC_LOG_TS_LEN]) {
  /* "YYYY-MM-DDTHH:MM:SS.mmmZ ": digits but at these places. */
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
  size_t i;
  for (i = 0; i < SVC_LOG_TS_LEN; i++) {
    char c = line[i];
    if (shape[i] == 'd' ? !(c >= '0' && c <= '9') : c != shape[i])
      return 0;
  }
  memcpy(key, line, SVC_LOG_TS_LEN - 1);
  key[SVC_LOG_TS_LEN - 1] = '\0';
  return 1;
}

void svc_log_time_key(apr_time_t t, char key[SVC_LOG_TS_LEN]) {
  apr_time_exp_t tm;
  char buf[80];
  apr_time_exp_gmt(&tm, t);
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec, tm.tm_usec / 1000);
  memcpy(key, buf, SVC_LOG_TS_LEN - 1);
  key[SVC_LOG_TS_LEN - 1] = '\0';
}
