/*
 * test_log.c -- structured logging (core/log.c).
 *
 * Each test logs into a fresh temp file (apr_file_mktemp) and reads the
 * lines back.  JSON lines are checked with a small strict parser below
 * (an object of string or literal values), so escaping is verified by
 * round trip: decode(encode(s)) == s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "test.h"

typedef struct {
  apr_file_t *file;
  char *path;
  vg_log_t *log;
} logfile_t;

static void logfile_open(logfile_t *lf, vg_log_level level,
                         vg_log_format format) {
  const char *tmp = NULL;

  memset(lf, 0, sizeof(*lf));
  CU_ASSERT_FATAL(apr_temp_dir_get(&tmp, vg_test_pool) == APR_SUCCESS);
  lf->path = apr_pstrcat(vg_test_pool, tmp, "/vigil-log-XXXXXX", NULL);
  /* Default flags: create, read/write, exclusive, delete on close; not
   * buffered, so what the logger writes is in the file at once. */
  CU_ASSERT_FATAL(apr_file_mktemp(&lf->file, lf->path, 0, vg_test_pool) ==
                  APR_SUCCESS);
  CU_ASSERT_FATAL(vg_log_create(&lf->log, vg_test_pool, lf->file, level,
                                format) == APR_SUCCESS);
}

/* The whole file, NUL-terminated (read through a second descriptor). */
static char *logfile_read(logfile_t *lf, size_t *len) {
  apr_file_t *f;
  apr_finfo_t fi;
  apr_size_t n;
  char *buf;

  CU_ASSERT_FATAL(apr_file_open(&f, lf->path, APR_FOPEN_READ,
                                APR_FPROT_OS_DEFAULT,
                                vg_test_pool) == APR_SUCCESS);
  CU_ASSERT_FATAL(apr_file_info_get(&fi, APR_FINFO_SIZE, f) == APR_SUCCESS);
  buf = malloc((size_t)fi.size + 1);
  n = (apr_size_t)fi.size;
  if (n > 0)
    CU_ASSERT_FATAL(apr_file_read_full(f, buf, n, &n) == APR_SUCCESS);
  buf[n] = '\0';
  apr_file_close(f);
  if (len != NULL)
    *len = n;
  return buf;
}

static void logfile_close(logfile_t *lf) {
  apr_file_close(lf->file);     /* DELONCLOSE removes it */
}

static unsigned count_lines(const char *s) {
  unsigned n = 0;

  for (; *s != '\0'; s++)
    n += *s == '\n';
  return n;
}

/* "2026-11-21T23:53:01.123Z" at s? */
static int is_timestamp(const char *s) {
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  size_t i;

  for (i = 0; shape[i] != '\0'; i++) {
    if (shape[i] == 'd') {
      if (s[i] < '0' || s[i] > '9')
        return 0;
    } else if (s[i] != shape[i]) {
      return 0;
    }
  }
  return 1;
}

/* ------------------------------------------------------------------------
 * A strict little JSON object reader: {"k":"v","k2":true,...}\n
 * --------------------------------------------------------------------- */

#define JMAX 16

typedef struct {
  char *keys[JMAX];
  char *vals[JMAX];             /* decoded strings; literals as text */
  int n;
} jobj_t;

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void put_utf8(char **o, unsigned long cp) {
  unsigned char *p = (unsigned char *)*o;

  if (cp < 0x80) {
    *p++ = (unsigned char)cp;
  } else if (cp < 0x800) {
    *p++ = (unsigned char)(0xc0 | (cp >> 6));
    *p++ = (unsigned char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    *p++ = (unsigned char)(0xe0 | (cp >> 12));
    *p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    *p++ = (unsigned char)(0x80 | (cp & 0x3f));
  } else {
    *p++ = (unsigned char)(0xf0 | (cp >> 18));
    *p++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    *p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    *p++ = (unsigned char)(0x80 | (cp & 0x3f));
  }
  *o = (char *)p;
}

static int read_hex4(const char **s, unsigned long *v) {
  int i, h;

  *v = 0;
  for (i = 0; i < 4; i++) {
    h = hexval((*s)[i]);
    if (h < 0)
      return 0;
    *v = (*v << 4) | (unsigned long)h;
  }
  *s += 4;
  return 1;
}

/* Parse a JSON string at *s (at the opening quote); NULL if malformed. */
static char *jstring(const char **s) {
  const char *p = *s, *eol;
  char *out, *o;
  unsigned long cp, lo;

  if (*p++ != '"')
    return NULL;
  /* Decoded text is never longer than the rest of its line. */
  eol = strchr(p, '\n');
  out = o = malloc((eol != NULL ? (size_t)(eol - p) : strlen(p)) + 1);
  while (*p != '"') {
    unsigned char c = (unsigned char)*p;
    if (c == '\0' || c < 0x20) {      /* raw control chars are invalid */
      free(out);
      return NULL;
    }
    if (c != '\\') {
      *o++ = *p++;
      continue;
    }
    p++;
    switch (*p++) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '/': *o++ = '/'; break;
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u':
      if (!read_hex4(&p, &cp)) {
        free(out);
        return NULL;
      }
      if (cp >= 0xd800 && cp <= 0xdbff && p[0] == '\\' && p[1] == 'u') {
        p += 2;
        if (!read_hex4(&p, &lo)) {
          free(out);
          return NULL;
        }
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      }
      put_utf8(&o, cp);
      break;
    default:
      free(out);
      return NULL;
    }
  }
  *o = '\0';
  *s = p + 1;
  return out;
}

static void jobj_free(jobj_t *j) {
  int i;

  for (i = 0; i < j->n; i++) {
    free(j->keys[i]);
    free(j->vals[i]);
  }
  j->n = 0;
}

/* Parse one line (up to and including '\n'); advance *s past it. */
static int jparse(const char **s, jobj_t *j) {
  const char *p = *s;
  char *k, *v;

  j->n = 0;
  if (*p++ != '{')
    return 0;
  for (;;) {
    if (j->n == JMAX || (k = jstring(&p)) == NULL)
      goto fail;
    if (*p++ != ':') {
      free(k);
      goto fail;
    }
    if (*p == '"') {
      v = jstring(&p);
    } else if (strncmp(p, "true", 4) == 0) {
      v = malloc(5);
      memcpy(v, "true", 5);
      p += 4;
    } else {
      v = NULL;
    }
    if (v == NULL) {
      free(k);
      goto fail;
    }
    j->keys[j->n] = k;
    j->vals[j->n] = v;
    j->n++;
    if (*p == ',') {
      p++;
      continue;
    }
    if (p[0] == '}' && p[1] == '\n') {
      *s = p + 2;
      return 1;
    }
    goto fail;
  }
fail:
  jobj_free(j);
  return 0;
}

static const char *jget(const jobj_t *j, const char *key) {
  int i;

  for (i = 0; i < j->n; i++)
    if (strcmp(j->keys[i], key) == 0)
      return j->vals[i];
  return NULL;
}

/* ------------------------------------------------------------------------
 * Tests
 * --------------------------------------------------------------------- */

static void test_log_text(void) {
  logfile_t lf;
  char *s;

  logfile_open(&lf, VG_LOG_INFO, VG_LOG_TEXT);
  vg_log(lf.log, VG_LOG_INFO, "comp", "hello %d", 42);
  vg_log(lf.log, VG_LOG_ERROR, NULL, "no component");
  s = logfile_read(&lf, NULL);
  CU_ASSERT_EQUAL(count_lines(s), 2);
  CU_ASSERT(is_timestamp(s));
  CU_ASSERT_NSTRING_EQUAL(s + 24, " INFO  comp: hello 42\n", 22);
  {
    const char *l2 = strchr(s, '\n') + 1;
    CU_ASSERT(is_timestamp(l2));
    CU_ASSERT_STRING_EQUAL(l2 + 24, " ERROR no component\n");
  }
  free(s);
  logfile_close(&lf);
}

/* The time of a line's stamp, in ms since the epoch (UTC). */
static apr_time_t stamp_ms(const char *s) {
  apr_time_exp_t tm;
  apr_time_t t;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = atoi(s) - 1900;
  tm.tm_mon = atoi(s + 5) - 1;
  tm.tm_mday = atoi(s + 8);
  tm.tm_hour = atoi(s + 11);
  tm.tm_min = atoi(s + 14);
  tm.tm_sec = atoi(s + 17);
  if (apr_time_exp_gmt_get(&t, &tm) != APR_SUCCESS)
    return 0;
  return t / 1000 + atoi(s + 20);
}

/* The stamp's date and time up to the second are kept from line to line
 * within a second (per thread): lines that cross second boundaries (and
 * every millisecond in between) still carry the time they were written,
 * to the millisecond, in both formats. */
static void test_log_stamps_follow_clock(void) {
  int fmt;
  for (fmt = 0; fmt < 2; fmt++) {
    logfile_t lf;
    apr_time_t before[12], after[12];
    char *s, *line;
    int i;
    logfile_open(&lf, VG_LOG_INFO, fmt ? VG_LOG_JSON : VG_LOG_TEXT);
    for (i = 0; i < 12; i++) {
      before[i] = apr_time_now() / 1000;
      vg_log(lf.log, VG_LOG_INFO, "c", "line %d", i);
      after[i] = apr_time_now() / 1000;
      apr_sleep(i % 3 == 2 ? 450000 : 7000);   /* 3 s in all */
    }
    s = logfile_read(&lf, NULL);
    CU_ASSERT_EQUAL(count_lines(s), 12);
    for (i = 0, line = s; i < 12 && line && *line; i++) {
      const char *ts = fmt ? strstr(line, "\"ts\":\"") + 6 : line;
      apr_time_t t = stamp_ms(ts);
      CU_ASSERT(is_timestamp(ts));
      CU_ASSERT(t >= before[i] && t <= after[i]);
      if (t < before[i] || t > after[i])
        fprintf(stderr, "\n  line %d stamped %.24s, written between "
                "%lld and %lld ms\n", i, ts, (long long)before[i],
                (long long)after[i]);
      line = strchr(line, '\n');
      if (line)
        line++;
    }
    free(s);
    logfile_close(&lf);
  }
}

static void test_log_levels(void) {
  logfile_t lf;
  char *s;

  logfile_open(&lf, VG_LOG_WARN, VG_LOG_TEXT);
  CU_ASSERT_EQUAL(vg_log_get_level(lf.log), VG_LOG_WARN);
  vg_log(lf.log, VG_LOG_DEBUG, "c", "d");
  vg_log(lf.log, VG_LOG_INFO, "c", "i");
  vg_log(lf.log, VG_LOG_NOTICE, "c", "n");
  vg_log(lf.log, VG_LOG_WARN, "c", "w");
  vg_log(lf.log, VG_LOG_ERROR, "c", "e");
  s = logfile_read(&lf, NULL);
  CU_ASSERT_EQUAL(count_lines(s), 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(s, " WARN  c: w\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(s, " ERROR c: e\n"));
  free(s);

  vg_log_set_level(lf.log, VG_LOG_DEBUG);
  CU_ASSERT_EQUAL(vg_log_get_level(lf.log), VG_LOG_DEBUG);
  vg_log(lf.log, VG_LOG_DEBUG, "c", "d");
  vg_log(lf.log, VG_LOG_NOTICE, "c", "n");
  s = logfile_read(&lf, NULL);
  CU_ASSERT_EQUAL(count_lines(s), 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(s, " DEBUG c: d\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(s, " NOTICE c: n\n"));
  free(s);
  logfile_close(&lf);
}

static void test_log_level_names(void) {
  CU_ASSERT_STRING_EQUAL(vg_log_level_name(VG_LOG_DEBUG), "debug");
  CU_ASSERT_STRING_EQUAL(vg_log_level_name(VG_LOG_INFO), "info");
  CU_ASSERT_STRING_EQUAL(vg_log_level_name(VG_LOG_NOTICE), "notice");
  CU_ASSERT_STRING_EQUAL(vg_log_level_name(VG_LOG_WARN), "warn");
  CU_ASSERT_STRING_EQUAL(vg_log_level_name(VG_LOG_ERROR), "error");
  CU_ASSERT_EQUAL(vg_log_level_parse("debug"), VG_LOG_DEBUG);
  CU_ASSERT_EQUAL(vg_log_level_parse("INFO"), VG_LOG_INFO);
  CU_ASSERT_EQUAL(vg_log_level_parse("Notice"), VG_LOG_NOTICE);
  CU_ASSERT_EQUAL(vg_log_level_parse("warn"), VG_LOG_WARN);
  CU_ASSERT_EQUAL(vg_log_level_parse("warning"), VG_LOG_WARN);
  CU_ASSERT_EQUAL(vg_log_level_parse("error"), VG_LOG_ERROR);
  CU_ASSERT_EQUAL(vg_log_level_parse("errors"), -1);
  CU_ASSERT_EQUAL(vg_log_level_parse(""), -1);
  CU_ASSERT_EQUAL(vg_log_level_parse("verbose"), -1);
  CU_ASSERT_EQUAL(vg_log_level_parse(NULL), -1);
}

/* Text kv pairs: plain values bare, awkward ones quoted and escaped; a
 * newline in the message does not split the record. */
static void test_log_text_kv(void) {
  const char *kv[] = {"pid", "1234", "name", "two words", "empty", "",
                      "q", "say \"hi\"", NULL};
  logfile_t lf;
  char *s;

  logfile_open(&lf, VG_LOG_DEBUG, VG_LOG_TEXT);
  vg_log_kv(lf.log, VG_LOG_NOTICE, "svc", kv, "started\nok");
  s = logfile_read(&lf, NULL);
  CU_ASSERT_EQUAL(count_lines(s), 1);
  CU_ASSERT_STRING_EQUAL(s + 24, " NOTICE svc: started\\nok pid=1234 "
                                 "name=\"two words\" empty=\"\" "
                                 "q=\"say \\\"hi\\\"\"\n");
  free(s);
  logfile_close(&lf);
}

static void test_log_json(void) {
  const char *kv[] = {"service", "web", "pid", "77", NULL};
  logfile_t lf;
  const char *p;
  jobj_t j;
  char *s;

  logfile_open(&lf, VG_LOG_INFO, VG_LOG_JSON);
  vg_log_kv(lf.log, VG_LOG_WARN, "sup", kv, "restart #%d", 3);
  vg_log(lf.log, VG_LOG_INFO, NULL, "plain");
  s = logfile_read(&lf, NULL);
  CU_ASSERT_EQUAL(count_lines(s), 2);
  p = s;
  CU_ASSERT_FATAL(jparse(&p, &j));
  CU_ASSERT_EQUAL(j.n, 6);
  CU_ASSERT_STRING_EQUAL(j.keys[0], "ts");
  CU_ASSERT(is_timestamp(j.vals[0]) && strlen(j.vals[0]) == 24);
  CU_ASSERT_STRING_EQUAL(j.keys[1], "level");
  CU_ASSERT_STRING_EQUAL(j.vals[1], "warn");
  CU_ASSERT_STRING_EQUAL(j.keys[2], "component");
  CU_ASSERT_STRING_EQUAL(j.vals[2], "sup");
  CU_ASSERT_STRING_EQUAL(j.keys[3], "msg");
  CU_ASSERT_STRING_EQUAL(j.vals[3], "restart #3");
  CU_ASSERT_STRING_EQUAL(jget(&j, "service"), "web");
  CU_ASSERT_STRING_EQUAL(jget(&j, "pid"), "77");
  jobj_free(&j);
  CU_ASSERT_FATAL(jparse(&p, &j));
  CU_ASSERT_EQUAL(j.n, 3);                 /* no component key */
  CU_ASSERT_PTR_NULL(jget(&j, "component"));
  CU_ASSERT_STRING_EQUAL(jget(&j, "level"), "info");
  CU_ASSERT_STRING_EQUAL(jget(&j, "msg"), "plain");
  jobj_free(&j);
  CU_ASSERT_EQUAL(*p, '\0');
  free(s);
  logfile_close(&lf);
}

/* Tricky strings survive encode/decode, as message, key and value. */
static void test_log_json_escape(void) {
  static const char *const tricky[] = {
    "quote \" and backslash \\ and slash /",
    "newline\nreturn\rtab\tbackspace\bformfeed\f",
    "controls \x01\x02\x1f and del \x7f",
    "utf-8: \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
    "{\"looks\":\"like json\"}",
    "",
    "trailing backslash \\",
  };
  size_t i, n = sizeof(tricky) / sizeof(tricky[0]);
  logfile_t lf;
  const char *p;
  jobj_t j;
  char *s;

  logfile_open(&lf, VG_LOG_DEBUG, VG_LOG_JSON);
  for (i = 0; i < n; i++) {
    const char *kv[] = {tricky[i], tricky[i], "k", tricky[i], NULL};
    vg_log_kv(lf.log, VG_LOG_INFO, tricky[i], kv, "%s", tricky[i]);
  }
  s = logfile_read(&lf, NULL);
  CU_ASSERT_EQUAL(count_lines(s), n);
  p = s;
  for (i = 0; i < n; i++) {
    CU_ASSERT_FATAL(jparse(&p, &j));
    CU_ASSERT_EQUAL(j.n, 6);
    if (j.n == 6) {
      CU_ASSERT_STRING_EQUAL(j.vals[2], tricky[i]);   /* component */
      CU_ASSERT_STRING_EQUAL(j.vals[3], tricky[i]);   /* msg */
      CU_ASSERT_STRING_EQUAL(j.keys[4], tricky[i]);   /* key */
      CU_ASSERT_STRING_EQUAL(j.vals[4], tricky[i]);
      CU_ASSERT_STRING_EQUAL(j.vals[5], tricky[i]);
    }
    jobj_free(&j);
  }
  free(s);
  logfile_close(&lf);
}

/* The logger writes a JSON string exactly as the protocol writer does
 * (test_json.c checks the same table): the escaped form of each case is
 * what follows "msg":" on its line.  A C string ends at its NUL, so for
 * an input with a NUL inside, the line holds the escaping of its prefix. */
static void check_log_msg(logfile_t *lf, const char *what, const char *in,
                          const char *out, size_t out_len) {
  char *s, *m;

  apr_file_trunc(lf->file, 0);
  vg_log(lf->log, VG_LOG_INFO, NULL, "%s", in);
  s = logfile_read(lf, NULL);
  m = strstr(s, "\"msg\":\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  m += 7;
  if (strncmp(m, out, out_len) != 0 || strcmp(m + out_len, "\"}\n") != 0) {
    fprintf(stderr, "\n  log escaping [%s]: got %s", what, s);
    CU_FAIL("logger escaping differs from the table");
  }
  free(s);
}

static void test_log_json_escape_table(void) {
  const vg_test_json_case_t *c;
  char in[4], out[8];
  logfile_t lf;
  unsigned b;

  logfile_open(&lf, VG_LOG_DEBUG, VG_LOG_JSON);
  for (c = vg_test_json_cases; c->in != NULL; c++) {
    const char *nul = memchr(c->in, '\0', c->len);
    size_t out_len = strlen(c->out);
    if (nul != NULL)
      out_len = (size_t)(strstr(c->out, "\\u0000") - c->out);
    check_log_msg(&lf, c->what, c->in, c->out, out_len);
  }
  /* Every byte 0x80-0xFF alone is one U+FFFD. */
  for (b = 0x80; b <= 0xFF; b++) {
    in[0] = 'x'; in[1] = (char)b; in[2] = 'y'; in[3] = '\0';
    memcpy(out, "x\xEF\xBF\xBDy", 6);
    check_log_msg(&lf, "lone byte", in, out, 5);
  }
  logfile_close(&lf);
}

/* Lines far longer than the stack buffer are written whole. */
static void test_log_long_line(void) {
  size_t big = 100000, len;
  char *msg = malloc(big + 1);
  const char *kv[] = {"k", NULL, NULL};
  logfile_t lf;
  const char *p;
  jobj_t j;
  char *s;

  memset(msg, 'x', big);
  msg[big] = '\0';
  msg[big / 2] = '"';
  kv[1] = msg;
  logfile_open(&lf, VG_LOG_DEBUG, VG_LOG_JSON);
  vg_log_kv(lf.log, VG_LOG_INFO, "long", kv, "%s", msg);
  s = logfile_read(&lf, &len);
  CU_ASSERT(len > 2 * big);
  p = s;
  CU_ASSERT_FATAL(jparse(&p, &j));
  CU_ASSERT_STRING_EQUAL(jget(&j, "msg"), msg);
  CU_ASSERT_STRING_EQUAL(jget(&j, "k"), msg);
  jobj_free(&j);
  free(s);
  logfile_close(&lf);

  logfile_open(&lf, VG_LOG_DEBUG, VG_LOG_TEXT);
  vg_log(lf.log, VG_LOG_INFO, "long", "%s", msg);
  s = logfile_read(&lf, &len);
  CU_ASSERT_EQUAL(len, 24 + strlen(" INFO  long: ") + big + 1);
  CU_ASSERT_EQUAL(count_lines(s), 1);
  free(s);
  logfile_close(&lf);
  free(msg);
}

/* Concurrent writers: every line intact, none interleaved. */
#define LOG_THREADS 4
#define LOG_LINES 500

static void *APR_THREAD_FUNC log_thread(apr_thread_t *t, void *arg) {
  vg_log_t *log = arg;
  const char *kv[] = {"pad", "0123456789012345678901234567890123456789",
                      NULL};
  int i;

  (void)t;
  for (i = 0; i < LOG_LINES; i++)
    vg_log_kv(log, VG_LOG_INFO, "thr", kv, "line %d of a thread", i);
  return NULL;
}

static void test_log_threads(void) {
  apr_thread_t *th[LOG_THREADS];
  apr_status_t ignored;
  unsigned lines = 0;
  logfile_t lf;
  const char *p;
  jobj_t j;
  char *s;
  int i, bad = 0;

  logfile_open(&lf, VG_LOG_DEBUG, VG_LOG_JSON);
  for (i = 0; i < LOG_THREADS; i++)
    CU_ASSERT_FATAL(apr_thread_create(&th[i], NULL, log_thread, lf.log,
                                      vg_test_pool) == APR_SUCCESS);
  for (i = 0; i < LOG_THREADS; i++)
    apr_thread_join(&ignored, th[i]);
  s = logfile_read(&lf, NULL);
  for (p = s; *p != '\0'; lines++) {
    if (!jparse(&p, &j)) {
      bad++;
      break;
    }
    if (j.n != 5 || strncmp(jget(&j, "msg"), "line ", 5) != 0)
      bad++;
    jobj_free(&j);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(lines, LOG_THREADS * LOG_LINES);
  free(s);
  logfile_close(&lf);
}

static void test_log_invalid(void) {
  vg_log_t *log = NULL;
  apr_file_t *f = NULL;

  CU_ASSERT_EQUAL(vg_log_create(&log, vg_test_pool, NULL, VG_LOG_INFO,
                                VG_LOG_TEXT), APR_EINVAL);
  CU_ASSERT_EQUAL(apr_file_open_stderr(&f, vg_test_pool), APR_SUCCESS);
  CU_ASSERT_EQUAL(vg_log_create(&log, vg_test_pool, f, (vg_log_level)9,
                                VG_LOG_TEXT), APR_EINVAL);
  /* A NULL logger is a no-op, not a crash. */
  vg_log(NULL, VG_LOG_ERROR, "x", "nothing");
}

static CU_TestInfo log_tests[] = {
  {"text lines", test_log_text},
  {"stamps follow the clock across seconds", test_log_stamps_follow_clock},
  {"level filtering", test_log_levels},
  {"level names and parsing", test_log_level_names},
  {"text key/value pairs and escaping", test_log_text_kv},
  {"json lines and kv pairs", test_log_json},
  {"json escaping round trip", test_log_json_escape},
  {"json escaping as the protocol writer", test_log_json_escape_table},
  {"long lines are not truncated", test_log_long_line},
  {"concurrent writers do not interleave", test_log_threads},
  {"invalid arguments", test_log_invalid},
  CU_TEST_INFO_NULL
};

CU_SuiteInfo log_suite = {
  .pName = "log",
  .pInitFunc = NULL,
  .pCleanupFunc = NULL,
  .pSetUpFunc = NULL,
  .pTearDownFunc = NULL,
  .pTests = log_tests
};
