/*
 * test_envfile.c -- <env-file> files (config/envfile.c): systemd's
 * EnvironmentFile= syntax, case by case as systemd reads it (comments,
 * blanks, quotes, escapes, continuations, CRLF), the lines it refuses
 * with their number, and the file itself: missing, too large, not a
 * regular file (a FIFO is refused at once, never waited on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "test.h"
#include "cfg.h"

#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>
#endif

/* Parse text; NULL-separated "NAME=VALUE" pairs joined by '|' for one
 * comparison, or "ERROR LINE: WHY". */
static const char *parse(const char *text) {
  apr_array_header_t *out = apr_array_make(vg_test_pool, 4,
                                           sizeof(cfg_env_t));
  const char *why = NULL, *s = "";
  int line = -1, i;
  apr_status_t rv = cfg_envfile_parse(text, strlen(text), out, vg_test_pool,
                                      &line, &why);
  if (rv != APR_SUCCESS)
    return apr_psprintf(vg_test_pool, "ERROR %d: %s", line,
                        why ? why : "(no reason)");
  for (i = 0; i < out->nelts; i++) {
    const cfg_env_t *e = &APR_ARRAY_IDX(out, i, cfg_env_t);
    s = apr_psprintf(vg_test_pool, "%s%s%s=%s", s, i ? "|" : "", e->name,
                     e->value);
  }
  return s;
}

#define EXPECT(text, want)                                                   \
  do {                                                                       \
    const char *got_ = parse(text);                                          \
    CU_ASSERT_STRING_EQUAL(got_, want);                                      \
    if (strcmp(got_, want) != 0)                                             \
      fprintf(stderr, "\n  %s -> [%s], want [%s]", #text, got_, want);      \
  } while (0)

/* An error at `line` whose reason contains `part`. */
#define EXPECT_ERR(text, line, part)                                         \
  do {                                                                       \
    const char *got_ = parse(text);                                          \
    char pre_[32];                                                           \
    snprintf(pre_, sizeof pre_, "ERROR %d: ", line);                         \
    CU_ASSERT(strncmp(got_, pre_, strlen(pre_)) == 0 &&                      \
              strstr(got_, part) != NULL);                                   \
    if (strncmp(got_, pre_, strlen(pre_)) != 0 || !strstr(got_, part))       \
      fprintf(stderr, "\n  %s -> [%s], want line %d with [%s]", #text,       \
              got_, line, part);                                             \
  } while (0)

static void test_plain(void) {
  EXPECT("", "");
  EXPECT("\n\n   \n\t\n", "");
  EXPECT("A=1\nB=two words\n", "A=1|B=two words");
  EXPECT("A=1", "A=1");                        /* no final newline */
  EXPECT("  A  =  spaced  \n", "A=spaced");    /* blanks around */
  EXPECT("A=\n", "A=");
  EXPECT("A=", "A=");
  EXPECT("A=x=y\n", "A=x=y");                  /* only the first = */
  EXPECT("A=1\nA=2\n", "A=1|A=2");             /* in order: last wins */
  EXPECT("_x9=a\n", "_x9=a");
  EXPECT("A=1\r\nB=2\r\n", "A=1|B=2");         /* CRLF */
}

/* A file saved by a Windows editor (Notepad before Windows 10 1903,
 * PowerShell 5's Out-File -Encoding utf8): a UTF-8 byte-order mark first,
 * which is not part of the first name; UTF-16 (PowerShell 5's `>`) is
 * named as such, not reported as a NUL byte or a bad name. */
static void test_bom(void) {
  EXPECT("\xef\xbb\xbf" "A=1\r\nB=2\r\n", "A=1|B=2");
  EXPECT("\xef\xbb\xbf", "");
  EXPECT("\xef\xbb\xbf# c\nA=1\n", "A=1");
  EXPECT("A=\xef\xbb\xbfx\n", "A=\xef\xbb\xbfx");   /* a value's: kept */
  EXPECT_ERR("A=1\n\xef\xbb\xbf" "B=2\n", 2, "not a variable name");
  EXPECT_ERR("\xff\xfe" "A", 1, "UTF-16");
  EXPECT_ERR("\xfe\xff", 1, "UTF-16");
}

static void test_comments(void) {
  EXPECT("# comment\n; also\nA=1\n  # indented\n", "A=1");
  EXPECT("A=1 # not a comment\n", "A=1 # not a comment");
  EXPECT("A=#x\n", "A=#x");
  /* A comment is never continued (systemd 254 and later). */
  EXPECT("# comment \\\nA=1\n", "A=1");
  EXPECT("#", "");
}

static void test_quotes(void) {
  EXPECT("A='single $HOME \\n'\n", "A=single $HOME \\n");
  EXPECT("A=\"dq \\\"in\\\" \\\\ \\$ \\` \\n\"\n",
         "A=dq \"in\" \\ $ ` \\n");
  EXPECT("A=\"  kept  \"\n", "A=  kept  ");
  EXPECT("A=  'x'  \n", "A=x");
  EXPECT("A=\"x\"y\n", "A=xy");                /* text after the quote */
  EXPECT("A='x' 'y'\n", "A=xy");
  EXPECT("A=x \"y\"\n", "A=x \"y\"");          /* quotes only at the start */
  EXPECT("A='line1\nline2'\nB=1\n", "A=line1\nline2|B=1");
  EXPECT("A=\"a\\\nb\"\n", "A=ab");            /* continuation in quotes */
  EXPECT("A=''\n", "A=");
}

static void test_escapes(void) {
  EXPECT("A=a\\ b\\\\c\n", "A=a b\\c");
  EXPECT("A=trail\\ \n", "A=trail ");          /* escaped blank stays */
  EXPECT("A=one \\\n  two\nB=3\n", "A=one   two|B=3");
  EXPECT("A=\\\nx\n", "A=x");
  EXPECT("A=x\\", "A=x");                      /* backslash at the end */
}

static void test_malformed(void) {
  EXPECT_ERR("A=1\nNOEQUALS\nB=2\n", 2, "'NOEQUALS' has no '='");
  EXPECT_ERR("A=1\nLAST", 2, "has no '='");
  EXPECT_ERR("export A=1\n", 1, "\"export\" is shell syntax");
  EXPECT_ERR("\n\n1A=x\n", 3, "not a variable name");
  EXPECT_ERR("A-B=x\n", 1, "'A-B' is not a variable name");
  EXPECT_ERR("=x\n", 1, "no variable name");
  EXPECT_ERR("A=1\nB='open\n\nC=2\n", 2, "not closed");
  EXPECT_ERR("A=\"open\\\"\n", 1, "not closed");
  EXPECT_ERR("A=\xff\xfe\n", 1, "not UTF-8");
  EXPECT_ERR("A=\xed\xa0\x80\n", 1, "not UTF-8");   /* a surrogate */
  EXPECT("A=\xc3\xa9t\xc3\xa9\n", "A=\xc3\xa9t\xc3\xa9");
  {
    /* A NUL byte: not a text file. */
    static const char bin[] = "A=1\nB=\0x\n";
    apr_array_header_t *out =
        apr_array_make(vg_test_pool, 4, sizeof(cfg_env_t));
    const char *why = NULL;
    int line = 0;
    CU_ASSERT_EQUAL(cfg_envfile_parse(bin, sizeof bin - 1, out, vg_test_pool,
                                      &line, &why),
                    CFG_EINVALID);
    CU_ASSERT_EQUAL(line, 2);
    CU_ASSERT_PTR_NOT_NULL(why && strstr(why, "NUL"));
  }
}

/* The file: read, missing, too large, not regular. */
static void test_read(void) {
  apr_array_header_t *out = apr_array_make(vg_test_pool, 4,
                                           sizeof(cfg_env_t));
  const char *why = NULL, *path;
  char *big;
  int line = -1;
  apr_status_t rv;

  path = vg_test_write_temp("vigil-envfile", "# db\nPGDATA=/var/lib/db\n");
  CU_ASSERT_EQUAL(cfg_envfile_read(path, out, vg_test_pool, &line, &why),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL_FATAL(out->nelts, 1);
  CU_ASSERT_STRING_EQUAL(APR_ARRAY_IDX(out, 0, cfg_env_t).value,
                         "/var/lib/db");

  rv = cfg_envfile_read(apr_pstrcat(vg_test_pool, path, ".missing", NULL),
                        out, vg_test_pool, &line, &why);
  CU_ASSERT_EQUAL(rv, APR_ENOENT);
  CU_ASSERT_PTR_NOT_NULL(why);

  /* A directory is not read. */
  rv = cfg_envfile_read(vg_test_tmpdir(), out, vg_test_pool, &line, &why);
  CU_ASSERT_EQUAL(rv, CFG_EINVALID);
  CU_ASSERT_PTR_NOT_NULL(why && strstr(why, "not a regular file"));

  /* One byte over the cap. */
  big = malloc(CFG_ENVFILE_MAX + 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  memset(big, '#', CFG_ENVFILE_MAX + 1);
  big[CFG_ENVFILE_MAX + 1] = '\0';
  path = vg_test_write_temp("vigil-envfile-big", big);
  free(big);
  rv = cfg_envfile_read(path, out, vg_test_pool, &line, &why);
  CU_ASSERT_EQUAL(rv, CFG_EINVALID);
  CU_ASSERT_PTR_NOT_NULL(why && strstr(why, "larger than"));
  apr_file_remove(path, vg_test_pool);
}

#ifndef _WIN32
/* A FIFO with no writer: refused by its type at once.  Opening it for a
 * blocking read would wait forever; the test would hang, not fail. */
static void test_fifo(void) {
  apr_array_header_t *out = apr_array_make(vg_test_pool, 4,
                                           sizeof(cfg_env_t));
  const char *why = NULL;
  char path[512];
  int line = -1;
  snprintf(path, sizeof path, "%s/vigil-envfile-fifo-%ld", vg_test_tmpdir(),
           (long)getpid());
  unlink(path);
  CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
  CU_ASSERT_EQUAL(cfg_envfile_read(path, out, vg_test_pool, &line, &why),
                  CFG_EINVALID);
  CU_ASSERT_PTR_NOT_NULL(why && strstr(why, "FIFO"));
  unlink(path);
}
#endif

static CU_TestInfo envfile_tests[] = {
    {"plain", test_plain},
    {"a byte-order mark: UTF-8 skipped, UTF-16 named", test_bom},
    {"comments", test_comments},
    {"quotes", test_quotes},
    {"escapes", test_escapes},
    {"malformed", test_malformed},
    {"read", test_read},
#ifndef _WIN32
    {"fifo", test_fifo},
#endif
    CU_TEST_INFO_NULL};

CU_SuiteInfo envfile_suite = {
    .pName = "envfile",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = envfile_tests};
