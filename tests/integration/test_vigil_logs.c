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

static CU_TestInfo vigil_logs_tests[] = {
    {"stdout/stderr captured; vigil logs", test_capture},
    {"size rotation keeps KEEP files, no line lost", test_rotation},
    {"last lines before exit are all kept", test_last_lines_at_exit},
    {"timestamps prefix every line", test_timestamps},
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_logs_suite = {.pName = "vigil_logs",
                                 .pInitFunc = NULL,
                                 .pCleanupFunc = NULL,
                                 .pSetUpFunc = NULL,
                                 .pTearDownFunc = NULL,
                                 .pTests = vigil_logs_tests};
