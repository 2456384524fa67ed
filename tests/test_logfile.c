/*
 * test_logfile.c -- log capture (services/logfile.c, logtail.c): writing,
 * timestamps, rotation by size and daily, retention, gzip, failures
 * (missing directory, a directory in the way, a FIFO or device, disk
 * full through the PAL's fault seam), captures from
 * real children (nothing lost at exit, shared stdout/stderr), tail and
 * follow.
 *
 * Every test works in its own fresh directory under the APR temp dir and
 * removes it afterwards.  Files are checked byte for byte: the rotated
 * files, concatenated oldest first (and gunzipped with zlib here), must
 * give back exactly what was written, or a suffix of it starting at a
 * line when `keep` dropped older files.  Daily rotation is driven through
 * svc__logfile_daily_fire() with an injected wall-clock time: no test
 * waits for midnight.  Children are `run_tests --child log-lines ...`
 * (tests/child_logfile.c) and `write-bytes` (tests/child.c).
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
#include "test.h"

#define WAIT_MS 20000

static apr_pool_t *tpool;       /* per test */
static const char *tdir;        /* per test, with a trailing separator */
static unsigned tcount;

/* ---- helpers ----------------------------------------------------------- */

static void rm_tree(const char *dir, apr_pool_t *pool) {
  apr_dir_t *d;
  apr_finfo_t fi;
  if (apr_dir_open(&d, dir, pool) != APR_SUCCESS)
    return;
  while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) ==
         APR_SUCCESS) {
    const char *p;
    if (!strcmp(fi.name, ".") || !strcmp(fi.name, ".."))
      continue;
    p = apr_pstrcat(pool, dir, "/", fi.name, NULL);
    if (fi.filetype == APR_DIR)
      rm_tree(p, pool);
    else
      apr_file_remove(p, pool);
  }
  apr_dir_close(d);
  apr_dir_remove(dir, pool);
}

static void setup(void) {
  const char *base;
  apr_pool_create(&tpool, vg_test_pool);
  CU_ASSERT_EQUAL_FATAL(apr_temp_dir_get(&base, tpool), APR_SUCCESS);
  tdir = apr_psprintf(tpool, "%s/vglog-%" APR_TIME_T_FMT "-%u", base,
                      apr_time_now(), ++tcount);
  CU_ASSERT_EQUAL_FATAL(apr_dir_make_recursive(tdir, APR_OS_DEFAULT, tpool),
                        APR_SUCCESS);
  tdir = apr_pstrcat(tpool, tdir, "/", NULL);
}

static void teardown(void) {
  rm_tree(tdir, tpool);
  apr_pool_destroy(tpool);
}

static const char *P(const char *name) {
  return apr_pstrcat(tpool, tdir, name, NULL);
}

static const char *PK(const char *name, unsigned k, int gz) {
  return apr_psprintf(tpool, "%s%s.%u%s", tdir, name, k, gz ? ".gz" : "");
}

static int exists(const char *path) {
  apr_finfo_t fi;
  return apr_stat(&fi, path, APR_FINFO_TYPE, tpool) == APR_SUCCESS;
}

/* Whole file into pool memory (NUL-terminated); NULL if missing. */
static char *slurp(const char *path, size_t *len) {
  apr_file_t *f;
  apr_finfo_t fi;
  char *buf;
  apr_size_t n;
  *len = 0;
  if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, tpool))
    return NULL;
  apr_file_info_get(&fi, APR_FINFO_SIZE, f);
  buf = apr_palloc(tpool, (apr_size_t)fi.size + 1);
  n = (apr_size_t)fi.size;
  if (n > 0)
    apr_file_read_full(f, buf, n, &n);
  buf[n] = '\0';
  apr_file_close(f);
  *len = n;
  return buf;
}

/* gunzip a whole file with zlib; NULL if missing or invalid. */
static char *gunzip(const char *path, size_t *len) {
  size_t zlen, cap = 4096, used = 0;
  char *z = slurp(path, &zlen), *out;
  z_stream zs;
  int zr;
  if (!z)
    return NULL;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 16) != Z_OK)
    return NULL;
  out = malloc(cap);
  zs.next_in = (unsigned char *)z;
  zs.avail_in = (uInt)zlen;
  do {
    if (cap - used < 4096) {
      cap *= 2;
      out = realloc(out, cap);
    }
    zs.next_out = (unsigned char *)out + used;
    zs.avail_out = (uInt)(cap - used - 1);
    zr = inflate(&zs, Z_NO_FLUSH);
    used = cap - 1 - zs.avail_out;
  } while (zr == Z_OK);
  inflateEnd(&zs);
  if (zr != Z_STREAM_END || zs.avail_in != 0) {
    free(out);
    return NULL;
  }
  {
    char *r = apr_palloc(tpool, used + 1);
    memcpy(r, out, used);
    r[used] = '\0';
    free(out);
    *len = used;
    return r;
  }
}

static void put_file(const char *path, const char *data, size_t len) {
  apr_file_t *f;
  CU_ASSERT_EQUAL_FATAL(
      apr_file_open(&f, path,
                    APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE |
                        APR_FOPEN_BINARY,
                    APR_OS_DEFAULT, tpool),
      APR_SUCCESS);
  apr_file_write_full(f, data, len, NULL);
  apr_file_close(f);
}

static void put_gz(const char *path, const char *data, size_t len) {
  z_stream zs;
  size_t cap = len + len / 2 + 128;
  unsigned char *out = apr_palloc(tpool, cap);
  memset(&zs, 0, sizeof zs);
  CU_ASSERT_EQUAL_FATAL(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8,
                                     Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = (unsigned char *)data;
  zs.avail_in = (uInt)len;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  CU_ASSERT_EQUAL(deflate(&zs, Z_FINISH), Z_STREAM_END);
  put_file(path, (char *)out, cap - zs.avail_out);
  deflateEnd(&zs);
}

/* Deterministic lines of varying length: "line 00042 xxxx...\n". */
static char *make_lines(unsigned first, unsigned n, size_t *len) {
  size_t cap = (size_t)n * 110 + 1, used = 0;
  char *buf = apr_palloc(tpool, cap);
  unsigned i;
  for (i = first; i < first + n; i++) {
    unsigned pad = (i * 37) % 90;
    used += (size_t)snprintf(buf + used, cap - used, "line %05u ", i);
    memset(buf + used, 'a' + (char)(i % 26), pad);
    used += pad;
    buf[used++] = '\n';
  }
  buf[used] = '\0';
  *len = used;
  return buf;
}

/* Write data in chunks of varying size (splitting lines). */
static void write_chunked(svc_logfile_t *lf, svc_logline_t *line,
                          const char *data, size_t len) {
  size_t off = 0, i = 0;
  while (off < len) {
    size_t c = 1 + (i * 131 + 17) % 257;
    if (c > len - off)
      c = len - off;
    svc_logfile_write(lf, line, data + off, c);
    off += c;
    i++;
  }
}

static void guard_cb(vg_timer_t *t) { (void)t; }

/* Run the loop until cond(arg) or ms of loop time, keeping it alive.
 * Unlike vg_test_run_cond() the guard timer is referenced: a log file's retry
 * timer is not (it must not keep the supervisor's loop alive), so the
 * loop would otherwise stop before a retry that the test waits for. */
static int run_cond_alive(vg_loop_t *loop, int (*cond)(void *), void *arg,
                          uint64_t ms) {
  vg_timer_t guard;
  uint64_t start = vg_now(loop);
  int ok;
  vg_timer_init(loop, &guard);
  vg_timer_start(&guard, guard_cb, 5, 5);
  while (!(ok = cond(arg)) && vg_now(loop) - start < ms)
    vg_run(loop, VG_RUN_ONCE);
  vg_close((vg_handle_t *)&guard, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  return ok;
}

static int flag_set(void *arg) { return *(int *)arg != 0; }

static void closed_cb(void *arg) { *(int *)arg = 1; }

/* Close lf and wait for its callback. */
static void close_lf(vg_loop_t *loop, svc_logfile_t *lf) {
  int done = 0;
  svc_logfile_close(lf, closed_cb, &done);
  CU_ASSERT_TRUE(run_cond_alive(loop, flag_set, &done, WAIT_MS));
}

static int compress_idle(void *arg) {
  svc_logfile_stats_t st;
  svc_logfile_get_stats(arg, &st);
  return st.compress_pending == 0;
}

static svc_logfile_opts_t opts_for(const char *name) {
  svc_logfile_opts_t o;
  memset(&o, 0, sizeof o);
  o.path = P(name);
  o.retry_ms = 50;
  return o;
}

/* Concatenate NAME.k (plain or .gz) for k = kmax..1, then NAME. */
static char *concat_rotated(const char *name, unsigned kmax, size_t *len) {
  size_t cap = 1 << 20, used = 0, l;
  char *all = apr_palloc(tpool, cap);
  unsigned k;
  for (k = kmax; k >= 1; k--) {
    char *d = slurp(PK(name, k, 0), &l);
    if (!d)
      d = gunzip(PK(name, k, 1), &l);
    if (!d)
      continue;
    CU_ASSERT_FATAL(used + l < cap);
    memcpy(all + used, d, l);
    used += l;
  }
  {
    char *d = slurp(P(name), &l);
    if (d) {
      CU_ASSERT_FATAL(used + l < cap);
      memcpy(all + used, d, l);
      used += l;
    }
  }
  all[used] = '\0';
  *len = used;
  return all;
}

/* A diagnostics logger writing to DIAG in the test dir. */
static vg_log_t *diag_log(void) {
  apr_file_t *f;
  vg_log_t *log;
  CU_ASSERT_EQUAL_FATAL(
      apr_file_open(&f, P("diag.txt"),
                    APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND,
                    APR_OS_DEFAULT, tpool),
      APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(vg_log_create(&log, tpool, f, VG_LOG_DEBUG,
                                      VG_LOG_TEXT), APR_SUCCESS);
  return log;
}

static unsigned count_substr(const char *hay, const char *needle) {
  unsigned n = 0;
  size_t nl = strlen(needle);
  const char *p = hay;
  while (hay && (p = strstr(p, needle)) != NULL) {
    n++;
    p += nl;
  }
  return n;
}

/* ---- writing, timestamps ----------------------------------------------- */

static void test_write_plain(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("out.log");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  size_t len, got;
  char *data = make_lines(0, 300, &len), *file;

  put_file(P("out.log"), "before\n", 7);   /* appended to, not replaced */
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  write_chunked(lf, NULL, data, len);
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT_EQUAL(st.written, len);
  CU_ASSERT_EQUAL(st.dropped, 0);
  CU_ASSERT_EQUAL(st.size, (apr_off_t)(len + 7));
  CU_ASSERT_EQUAL(st.error, APR_SUCCESS);
  CU_ASSERT_EQUAL(st.next_daily, 0);
  CU_ASSERT_STRING_EQUAL(svc_logfile_path(lf), P("out.log"));
  close_lf(loop, lf);
  file = slurp(P("out.log"), &got);
  CU_ASSERT_EQUAL_FATAL(got, len + 7);
  CU_ASSERT(memcmp(file, "before\n", 7) == 0);
  CU_ASSERT(memcmp(file + 7, data, len) == 0);
  vg_test_close_loop(loop);
}

/* Every line of `file` is "<24-char ISO time> " + the original line. */
static int check_stamped(const char *file, size_t flen, const char *orig,
                         size_t olen) {
  size_t i = 0, j = 0;
  while (i < flen) {
    const char *ts = file + i;
    const char *nl;
    size_t l;
    if (flen - i < SVC_LOG_TS_LEN)
      return 0;
    /* 2026-11-21T23:53:01.123Z */
    if (ts[4] != '-' || ts[7] != '-' || ts[10] != 'T' || ts[13] != ':' ||
        ts[16] != ':' || ts[19] != '.' || ts[23] != 'Z' || ts[24] != ' ')
      return 0;
    i += SVC_LOG_TS_LEN;
    nl = memchr(file + i, '\n', flen - i);
    l = nl ? (size_t)(nl - (file + i)) + 1 : flen - i;
    if (j + l > olen || memcmp(file + i, orig + j, l) != 0)
      return 0;
    i += l;
    j += l;
  }
  return j == olen;
}

static void test_timestamps(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("ts.log");
  svc_logfile_t *lf;
  svc_logline_t a = SVC_LOGLINE_INIT, b = SVC_LOGLINE_INIT;
  size_t len, got;
  char *data = make_lines(0, 500, &len), *file;
  apr_time_exp_t now;

  o.timestamps = 1;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  write_chunked(lf, NULL, data, len);   /* lines split across writes */
  svc_logfile_write(lf, NULL, "", 0);
  close_lf(loop, lf);
  file = slurp(P("ts.log"), &got);
  CU_ASSERT_EQUAL(got, len + 500 * SVC_LOG_TS_LEN);
  CU_ASSERT_TRUE(check_stamped(file, got, data, len));
  apr_time_exp_gmt(&now, apr_time_now());
  CU_ASSERT(strncmp(file, apr_psprintf(tpool, "%04d-", now.tm_year + 1900),
                    5) == 0);

  /* Two writers, each with its own partial-line state: a line continued
   * by its own writer gets no second prefix. */
  o.path = P("ts2.log");
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  svc_logfile_write(lf, &a, "out one", 7);
  CU_ASSERT_EQUAL(a.partial, 1);
  svc_logfile_write(lf, &b, "err one\n", 8);
  svc_logfile_write(lf, &a, " more\nout two\n", 14);
  svc_logfile_write(lf, &b, "\n\nerr", 5);
  CU_ASSERT_EQUAL(a.partial, 0);
  CU_ASSERT_EQUAL(b.partial, 1);
  close_lf(loop, lf);
  file = slurp(P("ts2.log"), &got);
  CU_ASSERT_EQUAL(got, 7 + 8 + 14 + 5 + 6 * SVC_LOG_TS_LEN);
  CU_ASSERT_EQUAL(count_substr(file, "Z out one" ), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(file, "Z err one\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(file, " more\n"));
  CU_ASSERT_EQUAL(count_substr(file, "Z \n"), 2);   /* two empty lines */
  CU_ASSERT_PTR_NOT_NULL(strstr(file, "Z err"));
  vg_test_close_loop(loop);
}

/* ---- rotation by size -------------------------------------------------- */

static void test_rotate_size_lossless(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("r.log");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  size_t len, got, l;
  char *data = make_lines(0, 400, &len), *all;
  unsigned k;

  o.max_size = 1000;
  o.keep = 200;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  write_chunked(lf, NULL, data, len);
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT(st.rotations >= len / 2000);
  CU_ASSERT(st.size <= 2000);
  close_lf(loop, lf);
  /* NAME.1 .. NAME.rotations, each ending with a line, and at most
   * max_size plus the slack for finishing a line (min(max_size, 64K)). */
  for (k = 1; k <= st.rotations; k++) {
    char *d = slurp(PK("r.log", k, 0), &l);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT(l <= 2000 && l > 0);
    CU_ASSERT(l > 0 && d[l - 1] == '\n');
  }
  CU_ASSERT_FALSE(exists(PK("r.log", st.rotations + 1, 0)));
  all = concat_rotated("r.log", st.rotations, &got);
  CU_ASSERT_EQUAL(got, len);
  CU_ASSERT(got == len && memcmp(all, data, len) == 0);
  vg_test_close_loop(loop);
}

/* Offset of the last `lines` lines of data. */
static size_t suffix_lines(const char *data, size_t len, unsigned lines) {
  size_t off = len;
  unsigned c = 0;
  while (off > 0) {
    if (data[off - 1] == '\n') {
      if (c == lines)
        break;
      c++;
    }
    off--;
  }
  return off;
}

static void test_rotate_keep(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("k.log");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  size_t len, got;
  char *data = make_lines(0, 400, &len), *all;
  unsigned k;

  o.max_size = 1000;
  o.keep = 3;
  o.timestamps = 1;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  write_chunked(lf, NULL, data, len);
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT(st.rotations > 3);
  close_lf(loop, lf);
  for (k = 1; k <= 3; k++)
    CU_ASSERT_TRUE(exists(PK("k.log", k, 0)));
  CU_ASSERT_FALSE(exists(PK("k.log", 4, 0)));
  CU_ASSERT_FALSE(exists(PK("k.log", 4, 1)));
  /* The oldest files went through the removal workers: none is left. */
  for (k = 0; k < 4; k++)
    CU_ASSERT_FALSE(exists(apr_psprintf(tpool, "%sk.log.del%u.tmp", tdir, k)));
  all = concat_rotated("k.log", 3, &got);
  /* Stamped lines, whole, and a suffix of what was written. */
  {
    size_t i, off;
    unsigned lines = 0;
    for (i = 0; i < got; i++)
      lines += all[i] == '\n';
    CU_ASSERT(lines > 0 && lines < 400);
    off = suffix_lines(data, len, lines);
    CU_ASSERT_TRUE(check_stamped(all, got, data + off, len - off));
  }
  vg_test_close_loop(loop);
}

static void test_rotate_long_line(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("long.log");
  svc_logfile_t *lf;
  size_t got, l;
  char data[1001], *all;
  unsigned k;

  memset(data, 'z', sizeof data);
  data[999] = '\n';
  memcpy(data, "short\n", 6);   /* then a 993-byte line */
  o.max_size = 100;
  o.keep = 50;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  svc_logfile_write(lf, NULL, data, 1000);
  close_lf(loop, lf);
  for (k = 1; exists(PK("long.log", k, 0)); k++) {
    slurp(PK("long.log", k, 0), &l);
    CU_ASSERT(l <= 100);
  }
  CU_ASSERT(k >= 10);
  all = concat_rotated("long.log", k, &got);
  CU_ASSERT(got == 1000 && memcmp(all, data, 1000) == 0);
  /* The short line went alone, before the long one was split. */
  all = slurp(PK("long.log", k - 1, 0), &l);
  CU_ASSERT(l == 6 && memcmp(all, "short\n", 6) == 0);
  vg_test_close_loop(loop);
}

static void test_keep_zero(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("z.log");
  svc_logfile_t *lf;
  size_t len, got;
  char *data = make_lines(0, 100, &len), *file;

  o.max_size = 500;
  o.keep = 0;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  svc_logfile_write(lf, NULL, data, len);
  CU_ASSERT_EQUAL(svc_logfile_rotate(lf), APR_SUCCESS);
  svc_logfile_write(lf, NULL, "last\n", 5);
  close_lf(loop, lf);
  CU_ASSERT_FALSE(exists(PK("z.log", 1, 0)));
  file = slurp(P("z.log"), &got);
  CU_ASSERT(got == 5 && memcmp(file, "last\n", 5) == 0);
  vg_test_close_loop(loop);
}

/* A rotation that cannot rename (NAME.1 is a non-empty directory): the
 * file keeps growing, nothing is lost, the failure is reported once. */
static void test_rotate_fails(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("rf.log");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  vg_log_t *diag = diag_log();
  size_t len, got, l;
  char *data = make_lines(0, 200, &len), *file, *d;

  CU_ASSERT_EQUAL(apr_dir_make(PK("rf.log", 1, 0), APR_OS_DEFAULT, tpool),
                  APR_SUCCESS);
  put_file(apr_pstrcat(tpool, PK("rf.log", 1, 0), "/keep", NULL), "x", 1);
  o.max_size = 300;
  o.keep = 1;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, diag),
                        APR_SUCCESS);
  write_chunked(lf, NULL, data, len);
  svc_logfile_write(lf, NULL, data, len);   /* one big write too */
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT_EQUAL(st.rotations, 0);
  CU_ASSERT_EQUAL(st.dropped, 0);
  CU_ASSERT_EQUAL(st.error, APR_SUCCESS);
  close_lf(loop, lf);
  file = slurp(P("rf.log"), &got);
  CU_ASSERT_EQUAL_FATAL(got, 2 * len);
  CU_ASSERT(memcmp(file, data, len) == 0 &&
            memcmp(file + len, data, len) == 0);
  d = slurp(P("diag.txt"), &l);
  CU_ASSERT_EQUAL(count_substr(d, "cannot rotate log file"), 1);
  vg_test_close_loop(loop);
}

/* ---- compression ------------------------------------------------------- */

static void test_compress(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("c.log");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  size_t len, got, l;
  char *data = make_lines(0, 300, &len), *all;
  unsigned k, off = 0;

  o.max_size = 2000;
  o.keep = 100;
  o.compress = 1;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  /* Let the loop run between writes, as captures would. */
  while (off < len) {
    size_t c = len - off < 700 ? len - off : 700;
    svc_logfile_write(lf, NULL, data + off, c);
    off += (unsigned)c;
    vg_run(loop, VG_RUN_NOWAIT);
  }
  CU_ASSERT_TRUE(run_cond_alive(loop, compress_idle, lf, WAIT_MS));
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT(st.rotations >= len / 2000);
  CU_ASSERT_EQUAL(st.compressed, st.rotations);
  close_lf(loop, lf);
  for (k = 1; k <= st.rotations; k++) {
    CU_ASSERT_FALSE(exists(PK("c.log", k, 0)));
    CU_ASSERT_PTR_NOT_NULL(gunzip(PK("c.log", k, 1), &l));
  }
  CU_ASSERT_FALSE(exists(P("c.log.gz.tmp")));
  all = concat_rotated("c.log", st.rotations, &got);
  CU_ASSERT(got == len && memcmp(all, data, len) == 0);
  vg_test_close_loop(loop);
}

/* Many rotations in one go, while the worker compresses: names shift
 * under the job, the oldest is dropped while being compressed. */
static void check_consistent(const char *name, unsigned keep,
                             const char *data, size_t len, int all_gz) {
  size_t got;
  char *all;
  unsigned k;
  for (k = 1; k <= keep; k++) {
    int plain = exists(PK(name, k, 0)), gz = exists(PK(name, k, 1));
    CU_ASSERT_EQUAL(plain + gz, 1);
    if (all_gz)
      CU_ASSERT_TRUE(gz);
  }
  CU_ASSERT_FALSE(exists(PK(name, keep + 1, 0)));
  CU_ASSERT_FALSE(exists(PK(name, keep + 1, 1)));
  CU_ASSERT_FALSE(exists(apr_pstrcat(tpool, P(name), ".gz.tmp", NULL)));
  all = concat_rotated(name, keep, &got);
  CU_ASSERT_FATAL(got <= len);
  CU_ASSERT(memcmp(all, data + len - got, got) == 0);
  CU_ASSERT(got == len || data[len - got - 1] == '\n');
}

static void test_compress_backlog(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("b.log");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  size_t len;
  char *data = make_lines(0, 3000, &len);

  o.max_size = 4000;
  o.keep = 4;
  o.compress = 1;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  write_chunked(lf, NULL, data, len);   /* ~40 rotations, no loop run */
  CU_ASSERT_TRUE(run_cond_alive(loop, compress_idle, lf, WAIT_MS));
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT(st.rotations > 20);
  CU_ASSERT(st.compressed >= 1);
  close_lf(loop, lf);
  check_consistent("b.log", 4, data, len, 1);

  /* Close at once, with compression in progress: aborted, consistent,
   * and the plain files are compressed at the next open. */
  rm_tree(tdir, tpool);
  apr_dir_make(apr_pstrndup(tpool, tdir, strlen(tdir) - 1), APR_OS_DEFAULT,
               tpool);
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  write_chunked(lf, NULL, data, len);
  close_lf(loop, lf);
  check_consistent("b.log", 4, data, len, 0);
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  CU_ASSERT_TRUE(run_cond_alive(loop, compress_idle, lf, WAIT_MS));
  close_lf(loop, lf);
  check_consistent("b.log", 4, data, len, 1);
  vg_test_close_loop(loop);
}

static void test_prune_at_open(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("p.log");
  svc_logfile_t *lf;
  size_t l;
  char *d;

  put_file(P("p.log"), "cur\n", 4);
  put_file(PK("p.log", 2, 0), "two\n", 4);
  put_file(PK("p.log", 3, 1), "not really gz", 13);
  put_file(PK("p.log", 4, 0), "four\n", 5);     /* beyond keep: removed */
  put_file(PK("p.log", 5, 1), "x", 1);
  put_file(PK("p.log", 6, 0), "six\n", 4);
  put_file(PK("p.log", 6, 1), "x", 1);
  put_file(PK("p.log", 8, 0), "eight\n", 6);   /* after a gap: left */
  put_file(P("p.log.gz.tmp"), "stale", 5);
  put_file(P("p.log.backup"), "other", 5);
  o.keep = 3;
  o.compress = 1;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  CU_ASSERT_TRUE(run_cond_alive(loop, compress_idle, lf, WAIT_MS));
  close_lf(loop, lf);
  CU_ASSERT_FALSE(exists(PK("p.log", 4, 0)));
  CU_ASSERT_FALSE(exists(PK("p.log", 5, 1)));
  CU_ASSERT_FALSE(exists(PK("p.log", 6, 0)));
  CU_ASSERT_FALSE(exists(PK("p.log", 6, 1)));
  CU_ASSERT_TRUE(exists(PK("p.log", 8, 0)));
  CU_ASSERT_FALSE(exists(P("p.log.gz.tmp")));
  CU_ASSERT_TRUE(exists(P("p.log.backup")));
  CU_ASSERT_TRUE(exists(PK("p.log", 3, 1)));
  CU_ASSERT_FALSE(exists(PK("p.log", 2, 0)));   /* compressed */
  d = gunzip(PK("p.log", 2, 1), &l);
  CU_ASSERT(d && l == 4 && memcmp(d, "two\n", 4) == 0);
  d = slurp(P("p.log"), &l);
  CU_ASSERT(l == 4 && memcmp(d, "cur\n", 4) == 0);
  vg_test_close_loop(loop);
}

/* A lazy log file does no file work until its first write, then prunes,
 * opens and writes as an eager one does; a NAME that cannot be opened is
 * reported at that first write, not before. */
static void test_lazy(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("y.log");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  vg_log_t *diag = diag_log();
  size_t l;
  char *d;

  put_file(PK("y.log", 2, 0), "beyond keep\n", 12);
  put_file(P("y.log.del3.tmp"), "stale", 5);
  o.keep = 1;
  o.lazy = 1;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, diag),
                        APR_SUCCESS);
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT_EQUAL(st.error, APR_SUCCESS);
  CU_ASSERT_FALSE(exists(P("y.log")));
  CU_ASSERT_TRUE(exists(PK("y.log", 2, 0)));
  CU_ASSERT_TRUE(exists(P("y.log.del3.tmp")));
  CU_ASSERT_EQUAL(svc_logfile_write(lf, NULL, "one\n", 4), APR_SUCCESS);
  CU_ASSERT_FALSE(exists(PK("y.log", 2, 0)));
  CU_ASSERT_FALSE(exists(P("y.log.del3.tmp")));
  close_lf(loop, lf);
  d = slurp(P("y.log"), &l);
  CU_ASSERT(d && l == 4 && memcmp(d, "one\n", 4) == 0);

  CU_ASSERT_EQUAL(apr_dir_make(P("ydir"), APR_OS_DEFAULT, tpool),
                  APR_SUCCESS);
  o.path = P("ydir");
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, diag),
                        APR_SUCCESS);
  d = slurp(P("diag.txt"), &l);
  CU_ASSERT_EQUAL(count_substr(d, "cannot open log file"), 0);
  CU_ASSERT_NOT_EQUAL(svc_logfile_write(lf, NULL, "two\n", 4), APR_SUCCESS);
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT_NOT_EQUAL(st.error, APR_SUCCESS);
  CU_ASSERT_EQUAL(st.dropped, 4);
  close_lf(loop, lf);
  d = slurp(P("diag.txt"), &l);
  CU_ASSERT_EQUAL(count_substr(d, "cannot open log file"), 1);
  vg_test_close_loop(loop);
}

/* ---- daily ------------------------------------------------------------- */

static int day_of(apr_time_t t) {
  apr_time_exp_t tm;
  apr_time_exp_lt(&tm, t);
  return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

static void test_next_midnight(void) {
  apr_time_t base = apr_time_now();
  const apr_time_t hour = apr_time_from_sec(3600);
  int i;
  /* Every 7 hours over ~400 days from now: the result is the first
   * second of the next local day. */
  for (i = 0; i < 1400; i++) {
    apr_time_t now = base + (apr_time_t)i * 7 * hour + i * 7919;
    apr_time_t m = svc_logfile_next_midnight(now);
    apr_time_exp_t tm;
    CU_ASSERT(m > now);
    CU_ASSERT(m - now <= 25 * hour);
    CU_ASSERT_NOT_EQUAL(day_of(m), day_of(now));
    CU_ASSERT_EQUAL(day_of(m - apr_time_from_sec(1)), day_of(now));
    apr_time_exp_lt(&tm, m);
    CU_ASSERT(tm.tm_min == 0 && tm.tm_sec == 0 && tm.tm_usec == 0);
  }
}

static void test_daily_fire(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("d.log");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  apr_time_t now = apr_time_now(), m1, m2;
  size_t l;
  char *d;

  o.daily = 1;
  o.keep = 5;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  svc_logfile_get_stats(lf, &st);
  m1 = svc_logfile_next_midnight(now);
  CU_ASSERT_EQUAL(st.next_daily, m1);
  svc_logfile_write(lf, NULL, "day1\n", 5);
  svc__logfile_daily_fire(lf, now);           /* same day: re-arm only */
  CU_ASSERT_FALSE(exists(PK("d.log", 1, 0)));
  svc__logfile_daily_fire(lf, m1 + 1000);     /* 1 ms after midnight */
  d = slurp(PK("d.log", 1, 0), &l);
  CU_ASSERT(d && l == 5 && memcmp(d, "day1\n", 5) == 0);
  svc_logfile_get_stats(lf, &st);
  m2 = svc_logfile_next_midnight(m1 + 1000);
  CU_ASSERT_EQUAL(st.next_daily, m2);
  CU_ASSERT_EQUAL(st.size, 0);
  svc__logfile_daily_fire(lf, m1 + 5000);     /* same (new) day */
  CU_ASSERT_FALSE(exists(PK("d.log", 2, 0)));
  svc__logfile_daily_fire(lf, m2 + 1000);     /* empty: not rotated */
  CU_ASSERT_FALSE(exists(PK("d.log", 2, 0)));
  svc_logfile_write(lf, NULL, "day3\n", 5);
  svc__logfile_daily_fire(lf, svc_logfile_next_midnight(m2 + 1000) + 1000);
  d = slurp(PK("d.log", 1, 0), &l);
  CU_ASSERT(d && l == 5 && memcmp(d, "day3\n", 5) == 0);
  d = slurp(PK("d.log", 2, 0), &l);
  CU_ASSERT(d && l == 5 && memcmp(d, "day1\n", 5) == 0);
  close_lf(loop, lf);
  vg_test_close_loop(loop);
}

static void test_daily_stale_at_open(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("s.log");
  svc_logfile_t *lf;
  size_t l;
  char *d;

  put_file(P("s.log"), "old\n", 4);
  CU_ASSERT_EQUAL(apr_file_mtime_set(P("s.log"), apr_time_now() -
                                     apr_time_from_sec(2 * 86400), tpool),
                  APR_SUCCESS);
  o.daily = 1;
  o.keep = 2;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  svc_logfile_write(lf, NULL, "new\n", 4);
  close_lf(loop, lf);
  d = slurp(PK("s.log", 1, 0), &l);
  CU_ASSERT(d && l == 4 && memcmp(d, "old\n", 4) == 0);
  d = slurp(P("s.log"), &l);
  CU_ASSERT(d && l == 4 && memcmp(d, "new\n", 4) == 0);

  /* Today's file is not rotated. */
  o.path = P("t.log");
  put_file(P("t.log"), "today\n", 6);
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  close_lf(loop, lf);
  CU_ASSERT_FALSE(exists(PK("t.log", 1, 0)));
  vg_test_close_loop(loop);
}

/* ---- captures from real children --------------------------------------- */

typedef struct {
  vg_process_t proc;
  svc_logcap_t out, err;
  int exited, out_done, err_done, code;
  int nstreams;
} job_t;

static void on_exit_cb(vg_process_t *p, int status, int sig) {
  job_t *j = p->data;
  (void)sig;
  j->exited = 1;
  j->code = status;
}

static void on_drained(svc_logcap_t *cap) {
  job_t *j = cap->data;
  if (cap == &j->out)
    j->out_done = 1;
  else
    j->err_done = 1;
  CU_ASSERT_FALSE(svc_logcap_is_open(cap));
}

static int job_done(void *arg) {
  job_t *j = arg;
  return j->exited && j->out_done && (j->nstreams < 2 || j->err_done);
}

/* Spawn `run_tests --child ARGS`, capturing stdout into lf_out and (if
 * lf_err) stderr into lf_err. */
static void spawn_job(vg_loop_t *loop, job_t *j, const char *const *args,
                      svc_logfile_t *lf_out, svc_logfile_t *lf_err) {
  vg_process_options_t po;
  const char *argv[16];
  int i;

  memset(j, 0, sizeof *j);
  argv[0] = vg_test_self;
  argv[1] = "--child";
  for (i = 0; args[i] && i < 12; i++)
    argv[2 + i] = args[i];
  argv[2 + i] = NULL;
  memset(&po, 0, sizeof po);
  po.args = argv;
  po.exit_cb = on_exit_cb;
  po.stdio[0].kind = VG_STDIO_IGNORE;
  CU_ASSERT_EQUAL_FATAL(svc_logcap_init(loop, &j->out), APR_SUCCESS);
  CU_ASSERT_TRUE(svc_logcap_is_open(&j->out));
  j->out.data = j;
  po.stdio[1].kind = VG_STDIO_PIPE;
  po.stdio[1].pipe = &j->out.pipe;
  j->nstreams = 1;
  po.stdio[2].kind = VG_STDIO_INHERIT;
  if (lf_err) {
    CU_ASSERT_EQUAL_FATAL(svc_logcap_init(loop, &j->err), APR_SUCCESS);
    j->err.data = j;
    po.stdio[2].kind = VG_STDIO_PIPE;
    po.stdio[2].pipe = &j->err.pipe;
    j->nstreams = 2;
  }
  j->proc.data = j;
  CU_ASSERT_EQUAL_FATAL(vg_spawn(loop, &j->proc, &po), APR_SUCCESS);
  CU_ASSERT_EQUAL(svc_logcap_start(&j->out, lf_out, on_drained),
                  APR_SUCCESS);
  if (lf_err)
    CU_ASSERT_EQUAL(svc_logcap_start(&j->err, lf_err, on_drained),
                    APR_SUCCESS);
}

/* The file holds exactly "PFX 0\n" .. "PFX n-1\n" in order. */
static void check_lines(const char *path, const char *pfx, unsigned n) {
  size_t l, off = 0;
  char *d = slurp(path, &l);
  unsigned i;
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  for (i = 0; i < n; i++) {
    char want[64];
    int wl = snprintf(want, sizeof want, "%s %u\n", pfx, i);
    if (off + (size_t)wl > l || memcmp(d + off, want, (size_t)wl) != 0) {
      CU_FAIL("line missing or out of order");
      fprintf(stderr, "\n  %s: line %u of %u missing (size %lu)\n", path, i,
              n, (unsigned long)l);
      return;
    }
    off += (size_t)wl;
  }
  CU_ASSERT_EQUAL(off, l);
}

static void test_capture_exit(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t oo = opts_for("child.out"), oe = opts_for("child.err");
  svc_logfile_t *lo, *le;
  static const char *const args[] = {"log-lines", "20000", "both", NULL};
  job_t j;

  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lo, loop, &oo, tpool, NULL),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&le, loop, &oe, tpool, NULL),
                        APR_SUCCESS);
  spawn_job(loop, &j, args, lo, le);
  CU_ASSERT_TRUE(run_cond_alive(loop, job_done, &j, WAIT_MS));
  CU_ASSERT_EQUAL(j.code, 0);
  CU_ASSERT_EQUAL(j.out.status, APR_EOF);
  CU_ASSERT_EQUAL(j.err.status, APR_EOF);
  /* All lines are in the files once both captures have drained. */
  check_lines(P("child.out"), "out", 20000);
  check_lines(P("child.err"), "err", 20000);
  vg_close((vg_handle_t *)&j.proc, NULL);
  close_lf(loop, lo);
  close_lf(loop, le);
  vg_test_close_loop(loop);
}

static void test_capture_shared_ts(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("both.log");
  svc_logfile_t *lf;
  static const char *const args[] = {"log-lines", "5000", "both", NULL};
  unsigned char *seen_out, *seen_err;
  size_t l, i = 0;
  unsigned lines = 0;
  char *d;
  job_t j;

  o.timestamps = 1;
  o.max_size = 64 * 1024;   /* and rotation under way */
  o.keep = 20;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  spawn_job(loop, &j, args, lf, lf);   /* stderr="stdout" */
  CU_ASSERT_TRUE(run_cond_alive(loop, job_done, &j, WAIT_MS));
  vg_close((vg_handle_t *)&j.proc, NULL);
  close_lf(loop, lf);
  d = concat_rotated("both.log", 20, &l);
  seen_out = apr_pcalloc(tpool, 5000);
  seen_err = apr_pcalloc(tpool, 5000);
  while (i < l) {
    unsigned long n;
    char kind[4], *end;
    const char *nl = memchr(d + i, '\n', l - i);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
    CU_ASSERT_FATAL((size_t)(nl - (d + i)) > SVC_LOG_TS_LEN + 4);
    CU_ASSERT_FATAL(d[i + 23] == 'Z' && d[i + 24] == ' ');
    memcpy(kind, d + i + SVC_LOG_TS_LEN, 3);
    kind[3] = '\0';
    n = strtoul(d + i + SVC_LOG_TS_LEN + 4, &end, 10);
    CU_ASSERT_FATAL(end == nl && n < 5000);
    if (!strcmp(kind, "out"))
      seen_out[n]++;
    else if (!strcmp(kind, "err"))
      seen_err[n]++;
    else
      CU_FAIL("bad line");
    lines++;
    i = (size_t)(nl - d) + 1;
  }
  CU_ASSERT_EQUAL(lines, 10000);
  for (i = 0; i < 5000; i++)
    CU_ASSERT_FATAL(seen_out[i] == 1 && seen_err[i] == 1);
  vg_test_close_loop(loop);
}

/* Closing the log file waits for attached captures to drain. */
static int lf_done;
static void lf_closed_cb(void *arg) {
  job_t *j = arg;
  CU_ASSERT_TRUE(j->out_done);   /* after the capture drained */
  lf_done = 1;
}

static void test_close_waits_for_capture(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("w.log");
  svc_logfile_t *lf;
  static const char *const args[] = {"log-lines", "3000", "out", NULL};
  job_t j;

  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  spawn_job(loop, &j, args, lf, NULL);
  lf_done = 0;
  svc_logfile_close(lf, lf_closed_cb, &j);
  svc_logfile_close(lf, lf_closed_cb, &j);   /* ignored */
  CU_ASSERT_TRUE(run_cond_alive(loop, flag_set, &lf_done, WAIT_MS));
  CU_ASSERT_TRUE(run_cond_alive(loop, job_done, &j, WAIT_MS));
  check_lines(P("w.log"), "out", 3000);
  vg_close((vg_handle_t *)&j.proc, NULL);
  vg_test_close_loop(loop);
}

/* A capture never started (e.g. spawn failed) and one closed early. */
static int cap_closed;
static void cap_closed_cb(svc_logcap_t *cap) {
  (void)cap;
  cap_closed++;
}

static void test_capture_close(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logcap_t cap;
  svc_logfile_opts_t o = opts_for("cc.log");
  svc_logfile_t *lf;
  static const char *const args[] = {"sleep", "5000", NULL};
  job_t j;

  cap_closed = 0;
  CU_ASSERT_EQUAL_FATAL(svc_logcap_init(loop, &cap), APR_SUCCESS);
  svc_logcap_close(&cap, cap_closed_cb);
  svc_logcap_close(&cap, cap_closed_cb);   /* ignored */
  CU_ASSERT_TRUE(run_cond_alive(loop, flag_set, &cap_closed, WAIT_MS));
  CU_ASSERT_EQUAL(cap.status, VG_ECANCELED);
  CU_ASSERT_FALSE(svc_logcap_is_open(&cap));

  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, NULL),
                        APR_SUCCESS);
  spawn_job(loop, &j, args, lf, NULL);
  cap_closed = 0;
  svc_logcap_close(&j.out, cap_closed_cb);
  CU_ASSERT_TRUE(run_cond_alive(loop, flag_set, &cap_closed, WAIT_MS));
  CU_ASSERT_FALSE(j.out_done);   /* on_drained is not called */
  vg_process_kill(&j.proc, VG_SIGKILL);
  CU_ASSERT_TRUE(run_cond_alive(loop, flag_set, &j.exited, WAIT_MS));
  vg_close((vg_handle_t *)&j.proc, NULL);
  close_lf(loop, lf);
  vg_test_close_loop(loop);
}

/* ---- failures ---------------------------------------------------------- */

static int lf_healthy(void *arg) {
  svc_logfile_stats_t st;
  svc_logfile_get_stats(arg, &st);
  return st.error == APR_SUCCESS;
}

static void test_missing_dir(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("nodir/out.log");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  static const char *const args[] = {"write-bytes", "4194304", NULL};
  vg_log_t *diag = diag_log();
  size_t l;
  char *d;
  job_t j;

  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, diag),
                        APR_SUCCESS);
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT_TRUE(APR_STATUS_IS_ENOENT(st.error));
  /* The child writes 4 MiB into the pipe and is not blocked. */
  spawn_job(loop, &j, args, lf, NULL);
  CU_ASSERT_TRUE(run_cond_alive(loop, job_done, &j, WAIT_MS));
  CU_ASSERT_EQUAL(j.code, 0);
  CU_ASSERT_EQUAL(j.out.bytes, 4194304);
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT_EQUAL(st.dropped, 4194304);
  CU_ASSERT_EQUAL(st.written, 0);
  vg_close((vg_handle_t *)&j.proc, NULL);
  d = slurp(P("diag.txt"), &l);
  CU_ASSERT_EQUAL(count_substr(d, "cannot open log file"), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(d, "nodir"));

  /* The directory appears: the retry timer reopens, writing resumes. */
  CU_ASSERT_EQUAL(apr_dir_make(P("nodir"), APR_OS_DEFAULT, tpool),
                  APR_SUCCESS);
  CU_ASSERT_TRUE(run_cond_alive(loop, lf_healthy, lf, WAIT_MS));
  CU_ASSERT_EQUAL(svc_logfile_write(lf, NULL, "back\n", 5), APR_SUCCESS);
  close_lf(loop, lf);
  d = slurp(P("nodir/out.log"), &l);
  CU_ASSERT(d && l == 5 && memcmp(d, "back\n", 5) == 0);
  d = slurp(P("diag.txt"), &l);
  CU_ASSERT_PTR_NOT_NULL(strstr(d, "writable again"));
  CU_ASSERT_PTR_NOT_NULL(strstr(d, "dropped=4194304"));
  vg_test_close_loop(loop);
}

static void test_path_is_dir(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("adir");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  static const char *const args[] = {"log-lines", "10000", "out", NULL};
  vg_log_t *diag = diag_log();
  size_t l;
  char *d;
  job_t j;

  CU_ASSERT_EQUAL(apr_dir_make(P("adir"), APR_OS_DEFAULT, tpool),
                  APR_SUCCESS);
  o.max_size = 100;
  o.keep = 2;
  o.timestamps = 1;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, diag),
                        APR_SUCCESS);
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT_NOT_EQUAL(st.error, APR_SUCCESS);
  spawn_job(loop, &j, args, lf, NULL);
  CU_ASSERT_TRUE(run_cond_alive(loop, job_done, &j, WAIT_MS));
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT(st.dropped > j.out.bytes);   /* with the prefixes */
  CU_ASSERT_EQUAL(st.rotations, 0);
  vg_close((vg_handle_t *)&j.proc, NULL);
  close_lf(loop, lf);
  d = slurp(P("diag.txt"), &l);
  CU_ASSERT_EQUAL(count_substr(d, "WARN"), 1);
  vg_test_close_loop(loop);
}

/* A log file that is a FIFO or a device: refused at open, at once (the
 * open of a FIFO used to wait for a reader, on the loop thread), reported
 * once, its output dropped; and never rotated (that would rename the
 * device node: /dev/null.1).  ENOSPC itself: the next test. */
static void test_not_regular(void) {
  static const char *const devs[] = {"/dev/full", "/dev/null", NULL};
  vg_loop_t *loop = vg_test_new_loop();
  vg_log_t *diag = diag_log();
  svc_logfile_opts_t o;
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  const char *paths[4];
  int i, k, n = 0;
  size_t l;
  char *d;

#if defined(_WIN32)
  paths[n++] = "NUL";
  fprintf(stderr, "\n    (no FIFO case: Windows has none in its file "
                  "system) ");
#else
  paths[n] = P("fifo.log");
  CU_ASSERT_EQUAL_FATAL(apr_file_namedpipe_create(paths[n], APR_FPROT_UREAD |
                                                  APR_FPROT_UWRITE, tpool),
                        APR_SUCCESS);
  n++;
  for (i = 0; devs[i]; i++)
    if (exists(devs[i]))
      paths[n++] = devs[i];
#endif
  for (k = 0; k < n; k++) {
    o = opts_for("unused");
    o.path = paths[k];
    o.max_size = 4;     /* would rotate at once, were it written */
    CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, diag),
                          APR_SUCCESS);
    for (i = 0; i < 3; i++) {
      CU_ASSERT_NOT_EQUAL(svc_logfile_write(lf, NULL, "0123456789", 10),
                          APR_SUCCESS);
      run_cond_alive(loop, lf_healthy, lf, 80);   /* let the retry try again */
    }
    svc_logfile_get_stats(lf, &st);
    CU_ASSERT_EQUAL(st.dropped, 30);
    CU_ASSERT_EQUAL(st.written, 0);
    CU_ASSERT_EQUAL(st.rotations, 0);
    close_lf(loop, lf);
    CU_ASSERT(!exists(apr_pstrcat(tpool, paths[k], ".1", NULL)));
  }
  d = slurp(P("diag.txt"), &l);
  CU_ASSERT_EQUAL(count_substr(d, "not a regular file"), (unsigned)n);
  vg_test_close_loop(loop);
  (void)devs;
}

/* A write that fails inside a line (ENOSPC through the PAL's fault
 * seam: the first write of a line goes through, the rest of it fails):
 * when the file can be written again, the torn line is ended with the
 * marker and the next line starts on a line of its own; the failure is
 * logged once, and once more when the file is writable again (with the
 * bytes dropped). */
static void test_torn_line_after_write_error(void) {
  vg_loop_t *loop = vg_test_new_loop();
  svc_logfile_opts_t o = opts_for("torn.log");
  svc_logfile_t *lf;
  svc_logfile_stats_t st;
  vg_log_t *diag = diag_log();
  size_t l;
  char *d;

  CU_ASSERT_EQUAL_FATAL(svc_logfile_open(&lf, loop, &o, tpool, diag),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL(svc_logfile_write(lf, NULL, "first\nhalf a ", 13),
                  APR_SUCCESS);
  pal_fault_inject(PAL_SYS_WRITE, APR_ENOSPC, 0, 2);
  CU_ASSERT_NOT_EQUAL(svc_logfile_write(lf, NULL, "line\n", 5),
                      APR_SUCCESS);
  run_cond_alive(loop, lf_healthy, lf, 200);   /* the retry reopens NAME */
  CU_ASSERT_NOT_EQUAL(svc_logfile_write(lf, NULL, "lost\n", 5),
                      APR_SUCCESS);
  CU_ASSERT_EQUAL(pal_fault_fired(PAL_SYS_WRITE), 2);
  pal_fault_clear();
  CU_ASSERT_TRUE(run_cond_alive(loop, lf_healthy, lf, WAIT_MS));
  CU_ASSERT_EQUAL(svc_logfile_write(lf, NULL, "next\n", 5), APR_SUCCESS);
  svc_logfile_get_stats(lf, &st);
  CU_ASSERT_EQUAL(st.dropped, 10);
  close_lf(loop, lf);

  d = slurp(P("torn.log"), &l);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_STRING_EQUAL(d, "first\nhalf a  [vigil: line cut short: log "
                            "write failed]\nnext\n");
  d = slurp(P("diag.txt"), &l);
  CU_ASSERT_EQUAL(count_substr(d, "cannot write log file"), 1);
  CU_ASSERT_EQUAL(count_substr(d, "log file writable again"), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(d, "dropped=10"));
  vg_test_close_loop(loop);
}

/* ---- tail and follow --------------------------------------------------- */

static void check_tail(const char *path, unsigned n, unsigned first,
                       unsigned count) {
  apr_array_header_t *lines;
  size_t l;
  char *expect = make_lines(first, count, &l), *p = expect;
  int i;
  CU_ASSERT_EQUAL_FATAL(svc_logfile_tail(path, n, tpool, &lines),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(lines->nelts, (int)count);
  for (i = 0; i < lines->nelts; i++) {
    const char *got = APR_ARRAY_IDX(lines, i, const char *);
    char *nl = strchr(p, '\n');
    *nl = '\0';
    CU_ASSERT_STRING_EQUAL(got, p);
    p = nl + 1;
  }
}

/* A line longer than 64 KiB is shown cut, with a marker saying how many
 * bytes were left out, from plain and gz files alike: the memory of a
 * tail follows the lines asked for, not the length of a line. */
static void test_tail_long_line(void) {
  const size_t big = 10u * 1000 * 1000, shown = 65536;
  apr_array_header_t *lines;
  char *d = malloc(big + 16), *cut;
  size_t l;
  const char *path[2];
  int i;
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  memcpy(d, "short\n", 6);
  memset(d + 6, 'y', big);
  memcpy(d + 6 + big, "\nlast\n", 6);
  l = 6 + big + 6;
  cut = apr_palloc(tpool, shown + 64);
  memset(cut, 'y', shown);
  snprintf(cut + shown, 64, " [vigil: %lu more bytes not shown]",
           (unsigned long)(big - shown));
  put_file(P("long.log"), d, l);
  put_gz(P("longz.log.1.gz"), d, l);
  put_file(P("longz.log"), "", 0);
  path[0] = P("long.log");
  path[1] = P("longz.log");
  for (i = 0; i < 2; i++) {
    CU_ASSERT_EQUAL_FATAL(svc_logfile_tail(path[i], 3, tpool, &lines),
                          APR_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(lines->nelts, 3);
    CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(lines, 0, const char *), "short");
    CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(lines, 1, const char *), cut);
    CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(lines, 2, const char *), "last");
  }
  /* The long line last, without its newline. */
  put_file(P("long2.log"), d, 6 + big);
  CU_ASSERT_EQUAL_FATAL(svc_logfile_tail(P("long2.log"), 1, tpool, &lines),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(lines->nelts, 1);
  CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(lines, 0, const char *), cut);
  /* Exactly 64 KiB is whole. */
  put_file(P("long3.log"), d + 6, shown);
  CU_ASSERT_EQUAL_FATAL(svc_logfile_tail(P("long3.log"), 1, tpool, &lines),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(lines->nelts, 1);
  CU_ASSERT_EQUAL(strlen(APR_ARRAY_IDX(lines, 0, const char *)), shown);
  free(d);
}

static void test_tail(void) {
  apr_array_header_t *lines;
  size_t l;
  char *d;

  CU_ASSERT_TRUE(APR_STATUS_IS_ENOENT(
      svc_logfile_tail(P("none.log"), 10, tpool, &lines)));
  d = make_lines(0, 100, &l);
  put_file(P("t.log"), d, l);
  check_tail(P("t.log"), 10, 90, 10);
  check_tail(P("t.log"), 1, 99, 1);
  check_tail(P("t.log"), 100, 0, 100);
  check_tail(P("t.log"), 1000, 0, 100);
  CU_ASSERT_EQUAL(svc_logfile_tail(P("t.log"), 0, tpool, &lines),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(lines->nelts, 0);

  /* Across blocks: 20000 lines, ~1.2 MB. */
  d = make_lines(0, 20000, &l);
  put_file(P("big.log"), d, l);
  check_tail(P("big.log"), 5000, 15000, 5000);

  /* Into rotated files, plain and gz. */
  d = make_lines(0, 100, &l);
  put_gz(P("r.log.2.gz"), d, l);
  d = make_lines(100, 50, &l);
  put_file(P("r.log.1"), d, l);
  d = make_lines(150, 10, &l);
  put_file(P("r.log"), d, l);
  check_tail(P("r.log"), 5, 155, 5);
  check_tail(P("r.log"), 30, 130, 30);
  check_tail(P("r.log"), 100, 60, 100);
  check_tail(P("r.log"), 500, 0, 160);
  /* No current file: the rotated ones still answer. */
  apr_file_remove(P("r.log"), tpool);
  check_tail(P("r.log"), 20, 130, 20);

  /* Edge cases: empty lines, no final newline, empty file. */
  put_file(P("e.log"), "a\n\n\nb", 5);
  CU_ASSERT_EQUAL(svc_logfile_tail(P("e.log"), 3, tpool, &lines),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(lines->nelts, 3);
  CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(lines, 0, const char *), "");
  CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(lines, 1, const char *), "");
  CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(lines, 2, const char *), "b");
  put_gz(P("g.log.1.gz"), "x\ny\nz", 5);
  put_file(P("g.log"), "", 0);
  CU_ASSERT_EQUAL(svc_logfile_tail(P("g.log"), 2, tpool, &lines),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(lines->nelts, 2);
  CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(lines, 0, const char *), "y");
  CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(lines, 1, const char *), "z");
}

static void append(const char *path, const char *s) {
  apr_file_t *f;
  CU_ASSERT_EQUAL_FATAL(apr_file_open(&f, path,
                                      APR_FOPEN_WRITE | APR_FOPEN_CREATE |
                                          APR_FOPEN_APPEND,
                                      APR_OS_DEFAULT, tpool),
                        APR_SUCCESS);
  apr_file_write_full(f, s, strlen(s), NULL);
  apr_file_close(f);
}

/* Everything the follower has now, as a string. */
static char *follow_all(svc_logfollow_t *f) {
  char *acc = apr_pstrdup(tpool, ""), buf[4];
  size_t n;
  do {
    CU_ASSERT_EQUAL_FATAL(svc_logfollow_read(f, buf, sizeof buf - 1, &n),
                          APR_SUCCESS);
    buf[n] = '\0';
    acc = apr_pstrcat(tpool, acc, buf, NULL);
  } while (n > 0);
  return acc;
}

static void test_follow(void) {
  svc_logfollow_t *f, *g, *h;
  append(P("f.log"), "one\n");
  CU_ASSERT_EQUAL_FATAL(svc_logfollow_open(&f, P("f.log"), 0, tpool),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(svc_logfollow_open(&g, P("f.log"), 1, tpool),
                        APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(svc_logfollow_open(&h, P("later.log"), 0, tpool),
                        APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(follow_all(f), "");
  CU_ASSERT_STRING_EQUAL(follow_all(g), "one\n");
  append(P("f.log"), "two\n");
  CU_ASSERT_STRING_EQUAL(follow_all(f), "two\n");
  /* Rotation: the rest of the old file, then the new one. */
  append(P("f.log"), "three\n");
  CU_ASSERT_EQUAL(apr_file_rename(P("f.log"), P("f.log.1"), tpool),
                  APR_SUCCESS);
  append(P("f.log"), "four\n");
  CU_ASSERT_STRING_EQUAL(follow_all(f), "three\nfour\n");
  CU_ASSERT_STRING_EQUAL(follow_all(g), "two\nthree\nfour\n");
  append(P("f.log"), "five\n");
  CU_ASSERT_STRING_EQUAL(follow_all(f), "five\n");
  /* A file that did not exist yet is read from its start. */
  CU_ASSERT_STRING_EQUAL(follow_all(h), "");
  append(P("later.log"), "hello\n");
  CU_ASSERT_STRING_EQUAL(follow_all(h), "hello\n");
  svc_logfollow_close(f);
  svc_logfollow_close(g);
  svc_logfollow_close(h);
}

/* ------------------------------------------------------------------------ */

/* The time of a line, for merging logs: only the exact shape that
 * timestamps="true" writes counts; its key sorts as the times do. */
static void test_line_time(void) {
  char k[SVC_LOG_TS_LEN], k2[SVC_LOG_TS_LEN];
  CU_ASSERT(svc_log_line_time("2026-11-21T23:53:01.123Z hello", k));
  CU_ASSERT_STRING_EQUAL(k, "2026-11-21T23:53:01.123Z");
  CU_ASSERT(svc_log_line_time("2026-11-21T23:53:01.123Z ", k));
  CU_ASSERT(!svc_log_line_time("2026-11-21T23:53:01.123Z", k));   /* short */
  CU_ASSERT(!svc_log_line_time("2026-11-21T23:53:01.123Zx", k));
  CU_ASSERT(!svc_log_line_time("2026-11-21 23:53:01.123Z x", k));
  CU_ASSERT(!svc_log_line_time("2026-1a-21T23:53:01.123Z x", k));
  CU_ASSERT(!svc_log_line_time("", k));
  CU_ASSERT(!svc_log_line_time("hello", k));
  /* A wall-clock time gives the same shape, ordered as the times. */
  svc_log_time_key(apr_time_from_sec(1764979981) + 123000, k);
  CU_ASSERT_STRING_EQUAL(k, "2025-12-06T00:13:01.123Z");
  svc_log_time_key(apr_time_from_sec(1764979981) + 124000, k2);
  CU_ASSERT(strcmp(k, k2) < 0);
}

static CU_TestInfo logfile_tests[] = {
    {"write plain, append to existing", test_write_plain},
    {"timestamps: one prefix per line, per writer", test_timestamps},
    {"rotate by size: lossless, line boundaries", test_rotate_size_lossless},
    {"rotate by size: keep bounds the files", test_rotate_keep},
    {"rotate by size: a line longer than max-size", test_rotate_long_line},
    {"keep 0 starts the file again", test_keep_zero},
    {"rotation that cannot rename: reported, lossless", test_rotate_fails},
    {"compress rotated files (zlib round trip)", test_compress},
    {"compress while rotating fast; close aborts", test_compress_backlog},
    {"open prunes beyond keep, compresses plain", test_prune_at_open},
    {"lazy: no file work before the first write", test_lazy},
    {"next local midnight", test_next_midnight},
    {"daily rotation through the timer hook", test_daily_fire},
    {"daily: a stale file is rotated at open", test_daily_stale_at_open},
    {"capture: every line kept at exit", test_capture_exit},
    {"capture: stderr=stdout with timestamps", test_capture_shared_ts},
    {"close waits for attached captures", test_close_waits_for_capture},
    {"capture close: unstarted and early", test_capture_close},
    {"missing directory: reported, drained, recovers", test_missing_dir},
    {"path is a directory: reported, drained", test_path_is_dir},
    {"FIFO or device: refused at once, reported once", test_not_regular},
    {"a line torn by a failed write is ended, marked",
     test_torn_line_after_write_error},
    {"tail: last N lines, rotated and gz files", test_tail},
    {"tail: a line over 64 KiB is cut and marked", test_tail_long_line},
    {"follow: appends and rotation", test_follow},
    {"the time of a line, for merging", test_line_time},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo logfile_suite = {
    .pName = "logfile",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = setup,
    .pTearDownFunc = teardown,
    .pTests = logfile_tests,
};
