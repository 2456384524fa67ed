/*
 * test_vigil_logs.c -- capture of the services' output (suite vigil_logs):
 * lines land in LOG-DIR/NAME.out.log and NAME.err.log (or where <log>
 * says); size rotation keeps NAME.1 .. NAME.KEEP and loses or repeats no
 * line among them; a child that writes and exits at once loses nothing;
 * timestamps="true" prefixes each line; `vigil logs` prints the tail.
 */
#include "vigil_test.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#if !defined(_WIN32)
#include <sys/stat.h>
#endif

/* The "lines N WIDTH" child writes "%06d " + 'x'... + '\n', WIDTH bytes. */

typedef struct seq_s {
  long first, last, count;
  int bad;             /* a line of another shape, or out of sequence */
} seq_t;

/* Check that `text` is whole numbered lines, each one more than the last
 * (continuing from s->last if s->count > 0); skip `skip` bytes of prefix
 * per line. */
static void seq_scan(const char *text, size_t skip, long width, seq_t *s) {
  const char *p = text;
  while (p && *p) {
    const char *nl = strchr(p, '\n');
    long n;
    char *end;
    if (!nl) {
      s->bad = 1;   /* a partial last line */
      return;
    }
    if ((size_t)(nl - p) != skip + (size_t)width - 1) {
      s->bad = 1;
    } else {
      n = strtol(p + skip, &end, 10);
      if (end != p + skip + 6 || *end != ' ')
        s->bad = 1;
      else if (s->count > 0 && n != s->last + 1)
        s->bad = 1;
      if (s->count == 0)
        s->first = n;
      s->last = n;
      s->count++;
    }
    p = nl + 1;
  }
}

static const char *log_file(vt_t *t, const char *name) {
  return apr_pstrcat(vt_pool(t), vt_log_dir(t), "/", name, NULL);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_capture(void) {
  vt_t *t = vt_begin("capture");
  char *txt;
  vt_res_t *r;
  seq_t s;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "out", "<restart policy=\"never\"/>\n", "lines", "5",
                   "16", NULL),
            vt_svc(t, "err", "<restart policy=\"never\"/>\n", "print-stderr",
                   "oops\n", NULL),
            vt_svc(t, "merged",
                   "<restart policy=\"never\"/>\n"
                   "    <log stdout=\"both.log\" stderr=\"stdout\"/>\n",
                   "print-stderr", "to stderr\n", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "out", "exited", VT_WAIT_MS) != NULL);
  VT_REQUIRE(vt_wait_state(t, "err", "exited", VT_WAIT_MS) != NULL);
  VT_REQUIRE(vt_wait_state(t, "merged", "exited", VT_WAIT_MS) != NULL);

  txt = vt_read_file(t, log_file(t, "out.out.log"), NULL);
  VT_REQUIRE(txt != NULL);
  memset(&s, 0, sizeof s);
  seq_scan(txt, 0, 16, &s);
  CU_ASSERT(!s.bad);
  CU_ASSERT_EQUAL(s.first, 1);
  CU_ASSERT_EQUAL(s.last, 5);
  CU_ASSERT_EQUAL(s.count, 5);
  txt = vt_read_file(t, log_file(t, "err.err.log"), NULL);
  CU_ASSERT_STRING_EQUAL(txt ? txt : "(none)", "oops\n");
  txt = vt_read_file(t, log_file(t, "err.out.log"), NULL);
  CU_ASSERT(txt == NULL || *txt == '\0');
  txt = vt_read_file(t, log_file(t, "both.log"), NULL);
  CU_ASSERT_STRING_EQUAL(txt ? txt : "(none)", "to stderr\n");

  /* vigil logs: the tail */
  r = vt_cli(t, "logs", "out", "-n", "2", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(r->out, "000004 xxxxxxxx\n000005 xxxxxxxx\n");
  r = vt_cli(t, "logs", "err", "--stderr", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(r->out, "oops\n");
  r = vt_cli(t, "logs", "nosuch", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  vt_end(t);
}

/* max-size 1KB, keep 2: NAME.1 and NAME.2 exist, nothing beyond, each
 * file is whole lines within the size, and .2 + .1 + NAME are one run of
 * consecutive lines ending with the last one written. */
static void test_rotation(void) {
  vt_t *t = vt_begin("rotate");
  const char *base;
  char *cur, *one, *two;
  size_t lc, l1, l2;
  seq_t s;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "rot",
                   "<restart policy=\"never\"/>\n"
                   "    <log max-size=\"1KB\" keep=\"2\"/>\n",
                   "lines", "300", "32", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "rot", "exited", VT_WAIT_MS) != NULL);
  base = log_file(t, "rot.out.log");
  cur = vt_read_file(t, base, &lc);
  one = vt_read_file(t, apr_pstrcat(vt_pool(t), base, ".1", NULL), &l1);
  two = vt_read_file(t, apr_pstrcat(vt_pool(t), base, ".2", NULL), &l2);
  VT_REQUIRE(cur != NULL);
  VT_REQUIRE(one != NULL);
  VT_REQUIRE(two != NULL);
  CU_ASSERT(!vt_exists(apr_pstrcat(vt_pool(t), base, ".3", NULL)));
  CU_ASSERT(!vt_exists(apr_pstrcat(vt_pool(t), base, ".3.gz", NULL)));
  CU_ASSERT(l1 > 0 && l1 <= 1024);
  CU_ASSERT(l2 > 0 && l2 <= 1024);
  CU_ASSERT(lc <= 1024);
  CU_ASSERT(l1 % 32 == 0 && l2 % 32 == 0 && lc % 32 == 0);

  memset(&s, 0, sizeof s);
  seq_scan(two, 0, 32, &s);
  CU_ASSERT(!s.bad);
  seq_scan(one, 0, 32, &s);
  CU_ASSERT(!s.bad);
  seq_scan(cur, 0, 32, &s);
  CU_ASSERT(!s.bad);
  CU_ASSERT_EQUAL(s.last, 300);
  CU_ASSERT_EQUAL(s.count, s.last - s.first + 1);
  CU_ASSERT((size_t)s.count * 32 == l2 + l1 + lc);
  vt_end(t);
}

/* 1000 lines (80 KB, more than a pipe holds) written right before exit:
 * every one is in the file, in order, once. */
static void test_last_lines_at_exit(void) {
  vt_t *t = vt_begin("lastlines");
  const svc_json_t *st;
  char *txt;
  vt_res_t *r;
  seq_t s;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "burst", "<restart policy=\"never\"/>\n", "lines",
                   "1000", "80", NULL),
            vt_svc(t, "small", "<restart policy=\"never\"/>\n", "lines",
                   "1000", "8", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  st = vt_wait_state(t, "burst", "exited", VT_WAIT_MS);
  VT_REQUIRE(st != NULL);
  CU_ASSERT_EQUAL(vt_ifield(svc_json_get(st, "last_exit"), "code"), 0);
  VT_REQUIRE(vt_wait_state(t, "small", "exited", VT_WAIT_MS) != NULL);

  txt = vt_read_file(t, log_file(t, "burst.out.log"), NULL);
  VT_REQUIRE(txt != NULL);
  memset(&s, 0, sizeof s);
  seq_scan(txt, 0, 80, &s);
  CU_ASSERT(!s.bad);
  CU_ASSERT_EQUAL(s.first, 1);
  CU_ASSERT_EQUAL(s.last, 1000);
  CU_ASSERT_EQUAL(s.count, 1000);

  txt = vt_read_file(t, log_file(t, "small.out.log"), NULL);
  VT_REQUIRE(txt != NULL);
  memset(&s, 0, sizeof s);
  seq_scan(txt, 0, 8, &s);
  CU_ASSERT(!s.bad);
  CU_ASSERT_EQUAL(s.count, 1000);
  CU_ASSERT_EQUAL(s.last, 1000);

  r = vt_cli(t, "logs", "small", "-n", "3", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(r->out, "000998 \n000999 \n001000 \n");
  vt_end(t);
}

/* The length of a "2026-11-21T23:53:01.123Z " prefix (ISO-8601, then
 * one space) at p, or 0. */
static size_t prefix_len(const char *line) {
  static const char shape[] = "dddd-dd-ddTdd:dd:dd";
  const char *p = line;
  size_t i;
  for (i = 0; shape[i]; i++)
    if (shape[i] == 'd' ? !isdigit((unsigned char)p[i]) : p[i] != shape[i])
      return 0;
  p += i;
  if (*p == '.' || *p == ',') {   /* a fraction */
    p++;
    if (!isdigit((unsigned char)*p))
      return 0;
    while (isdigit((unsigned char)*p))
      p++;
  }
  if (*p == 'Z') {                /* a zone */
    p++;
  } else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
             isdigit((unsigned char)p[2]) && p[3] == ':' &&
             isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
    p += 6;
  } else {
    return 0;
  }
  return *p == ' ' ? (size_t)(p + 1 - line) : 0;
}

static void test_timestamps(void) {
  vt_t *t = vt_begin("stamps");
  char *txt, *p;
  int lines = 0, stamped = 0;
  size_t skip;
  seq_t s;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "ts",
                   "<restart policy=\"never\"/>\n"
                   "    <log timestamps=\"true\"/>\n",
                   "lines", "20", "16", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "ts", "exited", VT_WAIT_MS) != NULL);
  txt = vt_read_file(t, log_file(t, "ts.out.log"), NULL);
  VT_REQUIRE(txt != NULL && *txt);
  skip = prefix_len(txt);
  CU_ASSERT(skip > 0);
  for (p = txt; *p;) {
    char *nl = strchr(p, '\n');
    lines++;
    if (prefix_len(p) == skip && skip > 0)
      stamped++;
    if (!nl)
      break;
    p = nl + 1;
  }
  CU_ASSERT_EQUAL(lines, 20);
  CU_ASSERT_EQUAL(stamped, 20);
  /* ... and the lines themselves intact after the prefix. */
  memset(&s, 0, sizeof s);
  if (skip > 0)
    seq_scan(txt, skip, 16, &s);
  CU_ASSERT(!s.bad);
  CU_ASSERT_EQUAL(s.count, 20);
  vt_end(t);
}

/* `vigil logs` refuses what is not a regular file at once: a FIFO at the
 * log's path (its open would wait for a writer forever) is an error, not
 * a hang.  And `-n` of a log whose line is 10 MB prints that line cut to
 * 64 KiB with a marker of what was left out: the CLI's memory follows the
 * lines asked for, not a line's length. */
static void test_logs_hostile_files(void) {
  const size_t big = 10u * 1000 * 1000, shown = 65536;
  vt_t *t = vt_begin("logs-hostile");
  char *d, *expect;
  vt_res_t *r;
  uint64_t t0;
  size_t l;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "f", "<restart policy=\"never\"/>\n", "lines", "2",
                   "16", NULL),
            vt_svc(t, "big", "<restart policy=\"never\"/>\n", "lines", "2",
                   "16", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(vt_wait_state(t, "f", "exited", VT_WAIT_MS) != NULL);
  VT_REQUIRE(vt_wait_state(t, "big", "exited", VT_WAIT_MS) != NULL);

#if defined(_WIN32)
  fprintf(stderr, "\n  [logs-hostile] no FIFO on Windows: only the long "
                  "line is checked\n");
#else
  VT_REQUIRE(apr_file_remove(log_file(t, "f.out.log"), vt_pool(t)) ==
             APR_SUCCESS);
  VT_REQUIRE(mkfifo(log_file(t, "f.out.log"), 0600) == 0);
  t0 = vt_now_ms();
  r = vt_cli(t, "logs", "f", NULL);
  CU_ASSERT(vt_now_ms() - t0 < 5000);
  CU_ASSERT(!r->timed_out);
  CU_ASSERT_EQUAL(r->code, 1);
  CU_ASSERT(vt_contains(r->err, "not a regular file"));
  CU_ASSERT_STRING_EQUAL(r->out, "");
  r = vt_cli(t, "logs", "f", "-f", NULL);   /* -f first reads the tail */
  CU_ASSERT(!r->timed_out);
  CU_ASSERT_EQUAL(r->code, 1);
#endif
  (void)t0;

  d = malloc(big + 16);
  VT_REQUIRE(d != NULL);
  memcpy(d, "short\n", 6);
  memset(d + 6, 'y', big);
  memcpy(d + 6 + big, "\nlast\n", 7);
  /* As a rotated file: the supervisor holds big.out.log open, and on
   * Windows an open file cannot be replaced. */
  VT_REQUIRE(vt_write_file(t, log_file(t, "big.out.log.1"), d) == 0);
  free(d);
  expect = apr_palloc(vt_pool(t), shown + 128);
  memcpy(expect, "short\n", 6);
  memset(expect + 6, 'y', shown);
  snprintf(expect + 6 + shown, 120, " [vigil: %lu more bytes not shown]\n"
           "last\n000001 xxxxxxxx\n000002 xxxxxxxx\n",
           (unsigned long)(big - shown));
  r = vt_cli(t, "logs", "big", "-n", "5", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  l = strlen(expect);
  CU_ASSERT_EQUAL(r->out_len, l);
  CU_ASSERT(r->out_len == l && memcmp(r->out, expect, l) == 0);
  vt_end(t);
}

static CU_TestInfo vigil_logs_tests[] = {
    {"stdout/stderr captured; vigil logs", test_capture},
    {"size rotation keeps KEEP files, no line lost", test_rotation},
    {"last lines before exit are all kept", test_last_lines_at_exit},
    {"timestamps prefix every line", test_timestamps},
    {"vigil logs: a FIFO is refused at once, a 10 MB line cut",
     test_logs_hostile_files},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_logs_suite = {.pName = "vigil_logs",
                                 .pInitFunc = NULL,
                                 .pCleanupFunc = NULL,
                                 .pSetUpFunc = NULL,
                                 .pTearDownFunc = NULL,
                                 .pTests = vigil_logs_tests};
