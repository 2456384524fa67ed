/*
 * test_config.c -- the configuration layer (config/, prefix cfg_).
 *
 * Most tests load a file from tests/data/config/ and assert the values
 * loaded or the exact problems reported: count, FILE, LINE and a part of
 * the message.  Counting matters: a problem that both the structural walk
 * and the XSD validator see must be reported once.  Short inputs that
 * need no file of their own are written to a temp file
 * (vg_test_write_temp()).
 *
 * Environment variables come from a fixed table through cfg_options_t
 * (fake_env) so results do not depend on the machine, except in the one
 * test that checks the process environment is the default.
 *
 * The data directory is found from __FILE__ (CMake compiles with full
 * paths); VIGIL_TEST_DATA_DIR overrides it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_strings.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlschemastypes.h>

#include "test.h"
#include "cfg.h"
#include "../config/cfg_int.h"

/* ------------------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------------- */

static const char *data_dir(void) {
  static char dir[1024];
#ifdef VIGIL_TEST_DATA_DIR
  if (!dir[0])
    apr_cpystrn(dir, VIGIL_TEST_DATA_DIR, sizeof(dir));
#else
  if (!dir[0]) {
    const char *f = __FILE__, *slash = strrchr(f, '/');
    const char *bslash = strrchr(f, '\\');
    size_t n;
    if (bslash && (!slash || bslash > slash))
      slash = bslash;
    n = slash ? (size_t)(slash - f) : 0;
    if (n == 0)
      apr_cpystrn(dir, "data/config", sizeof(dir));
    else
      apr_snprintf(dir, sizeof(dir), "%.*s/data/config", (int)n, f);
  }
#endif
  return dir;
}

static const char *data(const char *name) {
  return apr_pstrcat(vg_test_pool, data_dir(), "/", name, NULL);
}

static const char *const fake_vars[][2] = {
  {"BIN_DIR", "/opt/bin"},
  {"EMPTY", ""},
  {"ENV_NAME", "MODE"},
  {"HOME", "/home/u"},
  {"DELAY", NULL},
  {NULL, NULL}
};

static const char *fake_getenv(void *baton, const char *name,
                               apr_pool_t *pool) {
  int i;
  (void)baton;
  (void)pool;
  for (i = 0; fake_vars[i][0]; i++)
    if (strcmp(fake_vars[i][0], name) == 0)
      return fake_vars[i][1];
  return NULL;
}

static const cfg_options_t fake_env = {fake_getenv, NULL};

static void print_errors(const cfg_errors_t *errs) {
  int i;
  for (i = 0; i < cfg_errors_count(errs); i++)
    fprintf(stderr, "    | %s\n",
            cfg_error_format(cfg_errors_get(errs, i), vg_test_pool));
}

/* Load `path`; it must succeed. */
static cfg_t *load_path_ok(const char *path) {
  cfg_t *cfg = NULL;
  cfg_errors_t *errs = NULL;
  apr_status_t rv = cfg_load_ex(&cfg, path, &fake_env, vg_test_pool, &errs);
  if (rv != APR_SUCCESS) {
    fprintf(stderr, "\n    unexpected problems in %s:\n", path);
    print_errors(errs);
  }
  CU_ASSERT_EQUAL(rv, APR_SUCCESS);
  CU_ASSERT_EQUAL(cfg_errors_count(errs), 0);
  return rv == APR_SUCCESS ? cfg : NULL;
}

static cfg_t *load_ok(const char *name) { return load_path_ok(data(name)); }

/* Load `path`; it must fail with exactly `count` problems. */
static cfg_errors_t *load_path_bad(const char *path, int count) {
  cfg_t *cfg = (cfg_t *)&cfg;   /* must be reset to NULL */
  cfg_errors_t *errs = NULL;
  apr_status_t rv = cfg_load_ex(&cfg, path, &fake_env, vg_test_pool, &errs);
  CU_ASSERT_EQUAL(rv, CFG_EINVALID);
  CU_ASSERT_PTR_NULL(cfg);
  CU_ASSERT_PTR_NOT_NULL_FATAL(errs);
  if (cfg_errors_count(errs) != count) {
    fprintf(stderr, "\n    %s: expected %d problems, got %d:\n", path, count,
            cfg_errors_count(errs));
    print_errors(errs);
  }
  CU_ASSERT_EQUAL(cfg_errors_count(errs), count);
  return errs;
}

static cfg_errors_t *load_bad(const char *name, int count) {
  return load_path_bad(data(name), count);
}

/* Problem i is FILE:LINE and its message holds `part`. */
static void expect_at(const cfg_errors_t *errs, int i, const char *file,
                      int line, const char *part) {
  const cfg_error_t *e = cfg_errors_get(errs, i);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_STRING_EQUAL(e->file, file);
  CU_ASSERT_EQUAL(e->line, line);
  if (!strstr(e->message, part)) {
    fprintf(stderr, "\n    problem %d: '%s' does not contain '%s'\n", i,
            e->message, part);
    CU_FAIL("message");
  }
}

static void expect(const cfg_errors_t *errs, int i, const char *name,
                   int line, const char *part) {
  expect_at(errs, i, data(name), line, part);
}

static const char *tmp_dir(void) {
  const char *dir = NULL;
  CU_ASSERT_FATAL(apr_temp_dir_get(&dir, vg_test_pool) == APR_SUCCESS);
  return dir;
}

/* Load XML text that must fail with `count` problems (the temp file is
 * removed). */
static cfg_errors_t *bad_text(const char *xml, int count,
                              const char **path_out) {
  const char *path = vg_test_write_temp("vigil-cfg", xml);
  cfg_errors_t *errs = load_path_bad(path, count);
  if (path_out)
    *path_out = path;
  apr_file_remove(path, vg_test_pool);
  return errs;
}

static cfg_t *ok_text(const char *xml) {
  const char *path = vg_test_write_temp("vigil-cfg", xml);
  cfg_t *cfg = load_path_ok(path);
  apr_file_remove(path, vg_test_pool);
  return cfg;
}

static const cfg_service_t *svc(const cfg_t *cfg, const char *name) {
  const cfg_service_t *s = cfg_service_find(cfg, name);
  if (!s)
    fprintf(stderr, "\n    no service '%s'\n", name);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  return s;
}

static const char *arg(const apr_array_header_t *a, int i) {
  CU_ASSERT_FATAL(i < a->nelts);
  return APR_ARRAY_IDX(a, i, const char *);
}

static const cfg_env_t *env_at(const cfg_service_t *s, int i) {
  CU_ASSERT_FATAL(i < s->env->nelts);
  return &APR_ARRAY_IDX(s->env, i, cfg_env_t);
}

/* An absolute path as the loader makes it ("/srv" is "Z:/srv" under
 * Wine). */
static const char *absolute(const char *path) {
  char *out = NULL;
  CU_ASSERT_FATAL(apr_filepath_merge(&out, NULL, path, 0, vg_test_pool) ==
                  APR_SUCCESS);
  return out;
}

/* A file of the data directory, absolute. */
static const char *in_dir(const char *file) {
  return absolute(apr_pstrcat(vg_test_pool, data_dir(), "/", file, NULL));
}

/* A whole text file (NUL-terminated), or a failed test. */
static char *read_text(const char *path) {
  apr_file_t *f;
  apr_finfo_t fi;
  apr_size_t n;
  char *text;
  CU_ASSERT_EQUAL_FATAL(apr_file_open(&f, path, APR_FOPEN_READ, 0,
                                      vg_test_pool), APR_SUCCESS);
  apr_file_info_get(&fi, APR_FINFO_SIZE, f);
  text = apr_palloc(vg_test_pool, (apr_size_t)fi.size + 1);
  n = (apr_size_t)fi.size;
  apr_file_read_full(f, text, n, &n);
  text[n] = '\0';
  apr_file_close(f);
  return text;
}

static const char *config_readme(void) {
  return apr_pstrcat(vg_test_pool, data_dir(), "/../../../config/README.md",
                     NULL);
}

#define MB ((uint64_t)1 << 20)

/* ------------------------------------------------------------------------
 * Values
 * --------------------------------------------------------------------- */

static void test_durations(void) {
  uint64_t ms = 7;
  CU_ASSERT_EQUAL(cfg_parse_duration("250ms", &ms), APR_SUCCESS);
  CU_ASSERT_EQUAL(ms, 250);
  CU_ASSERT_EQUAL(cfg_parse_duration("10s", &ms), APR_SUCCESS);
  CU_ASSERT_EQUAL(ms, 10000);
  CU_ASSERT_EQUAL(cfg_parse_duration("5m", &ms), APR_SUCCESS);
  CU_ASSERT_EQUAL(ms, 300000);
  CU_ASSERT_EQUAL(cfg_parse_duration("1h", &ms), APR_SUCCESS);
  CU_ASSERT_EQUAL(ms, 3600000);
  CU_ASSERT_EQUAL(cfg_parse_duration("0", &ms), APR_SUCCESS);
  CU_ASSERT_EQUAL(ms, 0);
  CU_ASSERT_EQUAL(cfg_parse_duration("0ms", &ms), APR_SUCCESS);

  ms = 7;
  CU_ASSERT_EQUAL(cfg_parse_duration("10", &ms), APR_EINVAL);  /* no unit */
  CU_ASSERT_EQUAL(cfg_parse_duration("", &ms), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_duration("s", &ms), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_duration("1.5s", &ms), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_duration("-1s", &ms), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_duration("10 s", &ms), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_duration(" 10s", &ms), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_duration("10S", &ms), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_duration("10sec", &ms), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_duration("1d", &ms), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_duration("99999999999999999999s", &ms),
                  APR_ERANGE);
  CU_ASSERT_EQUAL(cfg_parse_duration("9999999999999h", &ms), APR_ERANGE);
  CU_ASSERT_EQUAL(ms, 7);       /* unchanged on failure */
}

static void test_sizes(void) {
  uint64_t b = 7;
  CU_ASSERT_EQUAL(cfg_parse_size("4096", &b), APR_SUCCESS);
  CU_ASSERT_EQUAL(b, 4096);
  CU_ASSERT_EQUAL(cfg_parse_size("512KB", &b), APR_SUCCESS);
  CU_ASSERT_EQUAL(b, 512 * 1024);
  CU_ASSERT_EQUAL(cfg_parse_size("10MB", &b), APR_SUCCESS);
  CU_ASSERT_EQUAL(b, 10 * MB);
  CU_ASSERT_EQUAL(cfg_parse_size("1GB", &b), APR_SUCCESS);
  CU_ASSERT_EQUAL(b, (uint64_t)1 << 30);
  CU_ASSERT_EQUAL(cfg_parse_size("2TB", &b), APR_SUCCESS);
  CU_ASSERT_EQUAL(b, (uint64_t)2 << 40);
  CU_ASSERT_EQUAL(cfg_parse_size("1kb", &b), APR_SUCCESS);
  CU_ASSERT_EQUAL(b, 1024);
  CU_ASSERT_EQUAL(cfg_parse_size("3MiB", &b), APR_SUCCESS);
  CU_ASSERT_EQUAL(b, 3 * MB);
  CU_ASSERT_EQUAL(cfg_parse_size("64K", &b), APR_SUCCESS);
  CU_ASSERT_EQUAL(b, 64 * 1024);
  CU_ASSERT_EQUAL(cfg_parse_size("100B", &b), APR_SUCCESS);
  CU_ASSERT_EQUAL(b, 100);

  b = 7;
  CU_ASSERT_EQUAL(cfg_parse_size("10XB", &b), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_size("MB", &b), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_size("", &b), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_size("1.5GB", &b), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_size("10 MB", &b), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_size("-1", &b), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_size("99999999999TB", &b), APR_ERANGE);
  CU_ASSERT_EQUAL(cfg_parse_size("99999999999999999999", &b), APR_ERANGE);
  CU_ASSERT_EQUAL(b, 7);
}

static void test_other_values(void) {
  int v = 5;
  uint64_t n = 0;

  CU_ASSERT_EQUAL(cfg_parse_bool("true", &v), APR_SUCCESS);
  CU_ASSERT_EQUAL(v, 1);
  CU_ASSERT_EQUAL(cfg_parse_bool("No", &v), APR_SUCCESS);
  CU_ASSERT_EQUAL(v, 0);
  CU_ASSERT_EQUAL(cfg_parse_bool("on", &v), APR_SUCCESS);
  CU_ASSERT_EQUAL(v, 1);
  CU_ASSERT_EQUAL(cfg_parse_bool("0", &v), APR_SUCCESS);
  CU_ASSERT_EQUAL(v, 0);
  CU_ASSERT_EQUAL(cfg_parse_bool("yes please", &v), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_bool("", &v), APR_EINVAL);

  CU_ASSERT_EQUAL(cfg_parse_uint("42", 1, 100, &n), APR_SUCCESS);
  CU_ASSERT_EQUAL(n, 42);
  CU_ASSERT_EQUAL(cfg_parse_uint("0", 1, 100, &n), APR_ERANGE);
  CU_ASSERT_EQUAL(cfg_parse_uint("101", 1, 100, &n), APR_ERANGE);
  CU_ASSERT_EQUAL(cfg_parse_uint("4x", 1, 100, &n), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_uint("+4", 1, 100, &n), APR_EINVAL);
  CU_ASSERT_EQUAL(n, 42);

  /* HOST:PORT and URLs: suite target (tests/test_target.c). */
}

/* <umask>, <nice>, <cpu-affinity> values. */
static void test_process_values(void) {
  unsigned m = 5;
  int nice = 7;
  vg_cpuset_t set;
  CU_ASSERT_EQUAL(cfg_parse_umask("0027", &m), APR_SUCCESS);
  CU_ASSERT_EQUAL(m, 027);
  CU_ASSERT_EQUAL(cfg_parse_umask("77", &m), APR_SUCCESS);
  CU_ASSERT_EQUAL(m, 077);
  CU_ASSERT_EQUAL(cfg_parse_umask("0", &m), APR_SUCCESS);
  CU_ASSERT_EQUAL(m, 0);
  CU_ASSERT_EQUAL(cfg_parse_umask("1777", &m), APR_ERANGE);
  CU_ASSERT_EQUAL(cfg_parse_umask("0028", &m), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_umask("00277", &m), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_umask("", &m), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_umask("-1", &m), APR_EINVAL);
  CU_ASSERT_EQUAL(m, 0);

  CU_ASSERT_EQUAL(cfg_parse_nice("5", &nice), APR_SUCCESS);
  CU_ASSERT_EQUAL(nice, 5);
  CU_ASSERT_EQUAL(cfg_parse_nice("-20", &nice), APR_SUCCESS);
  CU_ASSERT_EQUAL(nice, -20);
  CU_ASSERT_EQUAL(cfg_parse_nice("+19", &nice), APR_SUCCESS);
  CU_ASSERT_EQUAL(nice, 19);
  CU_ASSERT_EQUAL(cfg_parse_nice("20", &nice), APR_ERANGE);
  CU_ASSERT_EQUAL(cfg_parse_nice("-21", &nice), APR_ERANGE);
  CU_ASSERT_EQUAL(cfg_parse_nice("- 1", &nice), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_nice("", &nice), APR_EINVAL);
  CU_ASSERT_EQUAL(nice, 19);

  CU_ASSERT_EQUAL(cfg_parse_cpus("0,2-3", &set), APR_SUCCESS);
  CU_ASSERT_EQUAL(set.bits[0], 0xd);
  CU_ASSERT_EQUAL(cfg_parse_cpus("1023", &set), APR_SUCCESS);
  CU_ASSERT_EQUAL(set.bits[0], 0);
  CU_ASSERT_EQUAL(set.bits[15], (uint64_t)1 << 63);
  CU_ASSERT_EQUAL(cfg_parse_cpus("0 1,,4-4", &set), APR_SUCCESS);
  CU_ASSERT_EQUAL(set.bits[0], 0x13);
  CU_ASSERT_EQUAL(cfg_parse_cpus("1024", &set), APR_ERANGE);
  CU_ASSERT_EQUAL(cfg_parse_cpus("0-99999999999999999999", &set),
                  APR_ERANGE);
  CU_ASSERT_EQUAL(cfg_parse_cpus("3-1", &set), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_cpus("1-", &set), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_cpus("-1", &set), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_cpus("a", &set), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_cpus("1;2", &set), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_cpus(" , ", &set), APR_EINVAL);
  CU_ASSERT_EQUAL(cfg_parse_cpus("", &set), APR_EINVAL);
  CU_ASSERT_EQUAL(set.bits[0], 0x13);
}

/* The process elements: read, and each bad value at its line. */
static void test_process_elements(void) {
  const char *path;
  cfg_errors_t *errs;
  const cfg_service_t *s;
  const cfg_env_file_t *f;
  cfg_t *cfg = ok_text(
      "<vigil>\n"
      "  <service name=\"a\">\n"
      "    <command>/bin/true</command>\n"
      "    <env-file>/etc/a.env</env-file>\n"
      "    <env-file>-rel.env</env-file>\n"
      "    <umask>0027</umask><nice>-5</nice>\n"
      "    <cpu-affinity>0,2-3</cpu-affinity>\n"
      "    <user>someone</user><group>staff</group>\n"
      "  </service>\n"
      "  <service name=\"b\"><command>/bin/true</command></service>\n"
      "</vigil>\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  s = svc(cfg, "a");
  CU_ASSERT_EQUAL_FATAL(s->env_files->nelts, 2);
  f = &APR_ARRAY_IDX(s->env_files, 0, cfg_env_file_t);
  CU_ASSERT_FALSE(f->optional);
  CU_ASSERT_EQUAL(f->line, 4);
  f = &APR_ARRAY_IDX(s->env_files, 1, cfg_env_file_t);
  CU_ASSERT_TRUE(f->optional);
  /* Relative: made absolute from the config file's directory (the
   * temporary one, in the loader's separators). */
  {
    const char *rest = f->path, *root = NULL;
    size_t n = strlen(f->path);
    CU_ASSERT(n > 8 && strcmp(f->path + n - 8, "/rel.env") == 0);
    CU_ASSERT(apr_filepath_root(&root, &rest, 0, vg_test_pool) ==
              APR_SUCCESS);
  }
  CU_ASSERT_EQUAL(s->umask, 027);
  CU_ASSERT_TRUE(s->has_nice);
  CU_ASSERT_EQUAL(s->nice, -5);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s->cpus);
  CU_ASSERT_EQUAL(s->cpus->bits[0], 0xd);
  CU_ASSERT_STRING_EQUAL(s->user, "someone");
  CU_ASSERT_EQUAL(s->user_line, 8);
  CU_ASSERT_STRING_EQUAL(s->user_group, "staff");
  /* Defaults: vigil's own. */
  s = svc(cfg, "b");
  CU_ASSERT_EQUAL(s->env_files->nelts, 0);
  CU_ASSERT_EQUAL(s->umask, -1);
  CU_ASSERT_FALSE(s->has_nice);
  CU_ASSERT_PTR_NULL(s->cpus);
  CU_ASSERT_PTR_NULL(s->user);
  CU_ASSERT_PTR_NULL(s->user_group);

  errs = bad_text(
      "<vigil>\n"
      "  <service name=\"a\">\n"
      "    <command>/bin/true</command>\n"
      "    <umask>0800</umask>\n"
      "    <nice>20</nice>\n"
      "    <cpu-affinity>0,1024</cpu-affinity>\n"
      "    <env-file>-</env-file>\n"
      "    <user></user>\n"
      "    <umask>0022</umask>\n"
      "  </service>\n"
      "</vigil>\n", 6, &path);
  expect_at(errs, 0, path, 4, "bad umask '0800'");
  expect_at(errs, 1, path, 5, "bad nice value '20'");
  expect_at(errs, 2, path, 6, "a CPU number is too large");
  expect_at(errs, 3, path, 7, "names no file");
  expect_at(errs, 4, path, 8, "empty");
  expect_at(errs, 5, path, 9, "<umask>");
}

/* ------------------------------------------------------------------------
 * Substitution
 * --------------------------------------------------------------------- */

static const char *subst_ok(const char *in) {
  const char *out = NULL, *msg = NULL;
  size_t off = 99;
  apr_status_t rv = cfg_subst(&out, in, fake_getenv, NULL, vg_test_pool, &msg,
                              &off);
  if (rv != APR_SUCCESS)
    fprintf(stderr, "\n    cfg_subst(%s): %s\n", in, msg);
  CU_ASSERT_EQUAL(rv, APR_SUCCESS);
  return out ? out : "";
}

static void subst_bad(const char *in, size_t at, const char *part) {
  const char *out = "unchanged", *msg = NULL;
  size_t off = 99;
  CU_ASSERT_EQUAL(cfg_subst(&out, in, fake_getenv, NULL, vg_test_pool, &msg,
                            &off), APR_EINVAL);
  CU_ASSERT_STRING_EQUAL(out, "unchanged");
  CU_ASSERT_EQUAL(off, at);
  CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
  if (!strstr(msg, part)) {
    fprintf(stderr, "\n    cfg_subst(%s): '%s' lacks '%s'\n", in, msg, part);
    CU_FAIL("message");
  }
}

static void test_subst(void) {
  CU_ASSERT_STRING_EQUAL(subst_ok("plain"), "plain");
  CU_ASSERT_STRING_EQUAL(subst_ok("${BIN_DIR}/app"), "/opt/bin/app");
  CU_ASSERT_STRING_EQUAL(subst_ok("a${HOME}b${BIN_DIR}c"),
                         "a/home/ub/opt/binc");
  CU_ASSERT_STRING_EQUAL(subst_ok("${NOPE:-dflt}"), "dflt");
  CU_ASSERT_STRING_EQUAL(subst_ok("${NOPE:-}"), "");
  CU_ASSERT_STRING_EQUAL(subst_ok("${HOME:-dflt}"), "/home/u");
  CU_ASSERT_STRING_EQUAL(subst_ok("${EMPTY}"), "");
  CU_ASSERT_STRING_EQUAL(subst_ok("${EMPTY:-was empty}"), "was empty");
  CU_ASSERT_STRING_EQUAL(subst_ok("${NOPE:-${HOME}/x}"), "/home/u/x");
  CU_ASSERT_STRING_EQUAL(subst_ok("${NOPE:-${NADA:-deep}}"), "deep");
  /* A default that is not used may name unset variables. */
  CU_ASSERT_STRING_EQUAL(subst_ok("${HOME:-${NOPE}}"), "/home/u");
  CU_ASSERT_STRING_EQUAL(subst_ok("$$"), "$");
  CU_ASSERT_STRING_EQUAL(subst_ok("$${HOME}"), "${HOME}");
  CU_ASSERT_STRING_EQUAL(subst_ok("cost $5 and $HOME $"),
                         "cost $5 and $HOME $");
  CU_ASSERT_STRING_EQUAL(subst_ok("${NOPE:-a$$b}"), "a$b");
  CU_ASSERT_STRING_EQUAL(subst_ok("${NOPE:-{x}"), "{x");

  subst_bad("x ${NOPE} y", 2, "environment variable 'NOPE' is not set");
  subst_bad("${HOME}${NOPE:-${ALSO_NOT}}", 15, "'ALSO_NOT' is not set");
  subst_bad("ab${HOME", 2, "unterminated");
  subst_bad("${NOPE:-x", 0, "unterminated");
  subst_bad("${1X}", 0, "bad variable reference '${1X}'");
  subst_bad("${}", 0, "bad variable reference");
  subst_bad("${A-b}", 0, "expected ${NAME} or ${NAME:-DEFAULT}");
  /* The first problem is the one reported. */
  subst_bad("${A}${B}", 0, "'A' is not set");
}

/* Windows' %NAME%, read on every platform. */
static void test_subst_percent(void) {
  CU_ASSERT_STRING_EQUAL(subst_ok("%BIN_DIR%/app"), "/opt/bin/app");
  CU_ASSERT_STRING_EQUAL(subst_ok("a%HOME%b${BIN_DIR}c"),
                         "a/home/ub/opt/binc");
  CU_ASSERT_STRING_EQUAL(subst_ok("%HOME%%BIN_DIR%"), "/home/u/opt/bin");
  CU_ASSERT_STRING_EQUAL(subst_ok("[%EMPTY%]"), "[]");
  CU_ASSERT_STRING_EQUAL(subst_ok("${NOPE:-%HOME%/x}"), "/home/u/x");
  /* %% is one '%'; a '%' that opens no %NAME% stays, as in cmd.exe:
   * cpu="50%", batch arguments, printf and Python formats. */
  CU_ASSERT_STRING_EQUAL(subst_ok("100%%"), "100%");
  CU_ASSERT_STRING_EQUAL(subst_ok("%%HOME%%"), "%HOME%");
  CU_ASSERT_STRING_EQUAL(subst_ok("50%"), "50%");
  CU_ASSERT_STRING_EQUAL(subst_ok("%"), "%");
  CU_ASSERT_STRING_EQUAL(subst_ok("%1 %~dp0 %(name)s % HOME%"),
                         "%1 %~dp0 %(name)s % HOME%");
  CU_ASSERT_STRING_EQUAL(subst_ok("+%Y-%m-%d"), "+%Y-%m-%d");
  CU_ASSERT_STRING_EQUAL(subst_ok("%HOME"), "%HOME");
  CU_ASSERT_STRING_EQUAL(subst_ok("50% of %HOME%"), "50% of /home/u");
  /* A default that is not used may name unset variables. */
  CU_ASSERT_STRING_EQUAL(subst_ok("${HOME:-%NOPE%}"), "/home/u");

  subst_bad("x %NOPE% y", 2, "environment variable 'NOPE' is not set "
                             "(a literal '%' is written '%%')");
  subst_bad("%HOME%${NOPE:-%ALSO_NOT%}", 14, "'ALSO_NOT' is not set");
  /* Windows names may hold parentheses: %ProgramFiles(x86)%. */
  subst_bad("%ProgramFiles(x86)%\\app", 0,
            "'ProgramFiles(x86)' is not set");
  /* A printf format reads as a reference: the message says how to
   * write it. */
  subst_bad("+%H%M", 1, "'H' is not set (a literal '%' is written '%%')");
  CU_ASSERT_STRING_EQUAL(subst_ok("+%%H%%M"), "+%H%M");
}

/* In a file: string values take %NAME%; cpu="50%" is still 50%; an unset
 * %NAME% is an error at its line. */
static void test_subst_percent_file(void) {
  const char *path;
  cfg_errors_t *errs;
  cfg_t *cfg = ok_text(
      "<vigil>\n"
      "<service name='a'><command>%BIN_DIR%\\app.exe</command>\n"
      "<arg>%%HOME%% is %HOME%</arg><workdir>%HOME%</workdir>\n"
      "<env name='%ENV_NAME%' value='50%'/>\n"
      "<limits cpu='50%'/>\n"
      "</service>\n"
      "</vigil>\n");
  if (cfg) {
    const cfg_service_t *s = svc(cfg, "a");
    CU_ASSERT_STRING_EQUAL(s->command, "/opt/bin\\app.exe");
    CU_ASSERT_STRING_EQUAL(arg(s->args, 0), "%HOME% is /home/u");
    CU_ASSERT_STRING_EQUAL(env_at(s, 0)->name, "MODE");
    CU_ASSERT_STRING_EQUAL(env_at(s, 0)->value, "50%");
    CU_ASSERT_EQUAL(s->limits.cpu_percent, 50);
  }
  errs = bad_text("<vigil>\n"
                  "<service name='a'><command>a</command>\n"
                  "<arg>%NOPE%</arg>\n"                               /* 3 */
                  "</service>\n"
                  "</vigil>\n",
                  1, &path);
  expect_at(errs, 0, path, 3, "environment variable 'NOPE' is not set (a "
                              "literal '%' is written '%%') (in <arg>)");
}

static void test_subst_process_env(void) {
  const char *out = NULL;
  apr_status_t rv;
  CU_ASSERT_EQUAL(apr_env_set("VIGIL_TEST_CFG_VAR", "from-env", vg_test_pool),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(cfg_subst(&out, "<${VIGIL_TEST_CFG_VAR}>", NULL, NULL,
                            vg_test_pool, NULL, NULL), APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(out, "<from-env>");
  CU_ASSERT_EQUAL(cfg_subst(&out, "<%VIGIL_TEST_CFG_VAR%>", NULL, NULL,
                            vg_test_pool, NULL, NULL), APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(out, "<from-env>");
  /* Names in another case: Windows' environment ignores case (%path%
   * is Path), POSIX's does not. */
  rv = cfg_subst(&out, "%vigil_Test_cfg_var%|${VIGIL_test_CFG_VAR}", NULL,
                 NULL, vg_test_pool, NULL, NULL);
#ifdef _WIN32
  CU_ASSERT_EQUAL(rv, APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(out, "from-env|from-env");
  CU_ASSERT_EQUAL(cfg_subst(&out, "%path%", NULL, NULL, vg_test_pool, NULL,
                            NULL), APR_SUCCESS);
  CU_ASSERT(strlen(out) > 0);
#else
  CU_ASSERT_EQUAL(rv, APR_EINVAL);
#endif
  out = "<from-env>";
  CU_ASSERT_EQUAL(apr_env_delete("VIGIL_TEST_CFG_VAR", vg_test_pool),
                  APR_SUCCESS);
  CU_ASSERT_EQUAL(cfg_subst(&out, "${VIGIL_TEST_CFG_VAR}", NULL, NULL,
                            vg_test_pool, NULL, NULL), APR_EINVAL);
  CU_ASSERT_STRING_EQUAL(out, "<from-env>");
}

/* ------------------------------------------------------------------------
 * Good files
 * --------------------------------------------------------------------- */

/* The file is config/README.md's example, which must therefore load
 * (with every value as written) and be in the README verbatim. */
static void test_readme_example(void) {
  cfg_t *cfg = load_ok("readme_example.xml");
  const cfg_service_t *web, *db;
  const char *xml = read_text(data("readme_example.xml"));
  const char *body = strstr(xml, "<vigil>");
  CU_ASSERT_PTR_NOT_NULL_FATAL(body);
  CU_ASSERT_PTR_NOT_NULL(strstr(read_text(config_readme()), body));
  if (!cfg)
    return;
  CU_ASSERT_STRING_EQUAL(cfg->file, data("readme_example.xml"));
  CU_ASSERT_STRING_EQUAL(cfg->state_dir, absolute("/var/lib/vigil"));
  CU_ASSERT_STRING_EQUAL(cfg->control, absolute("/run/vigil.sock"));
  CU_ASSERT_STRING_EQUAL(cfg->log_dir, absolute("/var/log/vigil"));
  CU_ASSERT_EQUAL(cfg->shutdown_timeout_ms, 30000);
  CU_ASSERT_EQUAL(cfg->services->nelts, 2);

  web = svc(cfg, "web");
  CU_ASSERT_PTR_EQUAL(APR_ARRAY_IDX(cfg->services, 0, cfg_service_t *), web);
  CU_ASSERT_STRING_EQUAL(web->group, "web");
  CU_ASSERT_EQUAL(web->instance, 0);
  CU_ASSERT_EQUAL(web->instances, 1);
  CU_ASSERT_EQUAL(web->line, 11);
  CU_ASSERT_STRING_EQUAL(web->file, data("readme_example.xml"));
  CU_ASSERT_STRING_EQUAL(web->command, "/usr/bin/python3");
  CU_ASSERT_EQUAL(web->args->nelts, 2);
  CU_ASSERT_STRING_EQUAL(arg(web->args, 0), "-m");
  CU_ASSERT_STRING_EQUAL(arg(web->args, 1), "http.server");
  CU_ASSERT_STRING_EQUAL(web->workdir, absolute("/srv/web"));
  CU_ASSERT_EQUAL(web->env->nelts, 1);
  CU_ASSERT_STRING_EQUAL(env_at(web, 0)->name, "PORT");
  CU_ASSERT_STRING_EQUAL(env_at(web, 0)->value, "8080");
  CU_ASSERT_EQUAL(web->autostart, 1);
  CU_ASSERT_EQUAL(web->restart.policy, CFG_RESTART_ON_FAILURE);
  CU_ASSERT_EQUAL(web->restart.delay_ms, 100);
  CU_ASSERT_EQUAL(web->restart.max_delay_ms, 30000);
  CU_ASSERT_EQUAL(web->restart.max_restarts, 5);
  CU_ASSERT_EQUAL(web->restart.window_ms, 60000);
  CU_ASSERT_EQUAL(web->ready.kind, CFG_READY_AFTER);
  CU_ASSERT_EQUAL(web->ready.after_ms, 1000);
  CU_ASSERT_EQUAL(web->stop.signal, VG_SIGTERM);
  CU_ASSERT_EQUAL(web->stop.timeout_ms, 10000);
  CU_ASSERT_EQUAL(web->depends_on->nelts, 1);
  CU_ASSERT_STRING_EQUAL(arg(web->depends_on, 0), "db");
  CU_ASSERT_EQUAL(web->health.type, CFG_HEALTH_HTTP);
  CU_ASSERT_STRING_EQUAL(web->health.target,
                         "http://127.0.0.1:8080/health");
  CU_ASSERT_STRING_EQUAL(web->health.host, "127.0.0.1");
  CU_ASSERT_EQUAL(web->health.port, 8080);
  CU_ASSERT_STRING_EQUAL(web->health.path, "/health");
  CU_ASSERT_EQUAL(web->health.interval_ms, 10000);
  CU_ASSERT_EQUAL(web->health.timeout_ms, 2000);
  CU_ASSERT_EQUAL(web->health.failures, 3);
  CU_ASSERT_EQUAL(web->log.out.kind, CFG_LOG_FILE);
  CU_ASSERT_STRING_EQUAL(web->log.out.name, "web.out.log");
  CU_ASSERT_STRING_EQUAL(web->log.out.path,
                         absolute("/var/log/vigil/web.out.log"));
  CU_ASSERT_EQUAL(web->log.err.kind, CFG_LOG_FILE);
  CU_ASSERT_STRING_EQUAL(web->log.err.path,
                         absolute("/var/log/vigil/web.err.log"));
  CU_ASSERT_EQUAL(web->log.max_size, 10 * MB);
  CU_ASSERT_EQUAL(web->log.keep, 5);
  CU_ASSERT_EQUAL(web->log.rotate_daily, 1);
  CU_ASSERT_EQUAL(web->log.compress, 1);
  CU_ASSERT_EQUAL(web->log.timestamps, 1);
  CU_ASSERT_EQUAL(web->limits.memory, 256 * MB);
  CU_ASSERT_EQUAL(web->limits.cpu_percent, 50);
  CU_ASSERT_EQUAL(web->limits.processes, 64);
  CU_ASSERT_EQUAL(web->limits.open_files, 1024);

  db = svc(cfg, "db");
  CU_ASSERT_EQUAL(db->line, 30);
  CU_ASSERT_EQUAL(db->ready.kind, CFG_READY_TCP);
  CU_ASSERT_STRING_EQUAL(db->ready.host, "127.0.0.1");
  CU_ASSERT_EQUAL(db->ready.port, 5432);
  CU_ASSERT_EQUAL(db->ready.timeout_ms, 10000);
  CU_ASSERT_EQUAL(db->stop.signal, VG_SIGINT);
  CU_ASSERT_EQUAL(db->stop.timeout_ms, 30000);
  CU_ASSERT_PTR_NULL(cfg_service_find(cfg, "nope"));
  cfg_destroy(cfg);
}

static void test_defaults(void) {
  cfg_t *cfg = load_ok("defaults.xml");
  const cfg_service_t *s;
  const char *state;
  if (!cfg)
    return;
  state = in_dir(".vigil");
  CU_ASSERT_STRING_EQUAL(cfg->state_dir, state);
  CU_ASSERT_STRING_EQUAL(cfg->log_dir,
                         apr_pstrcat(vg_test_pool, state, "/logs", NULL));
  CU_ASSERT_PTR_NULL(cfg->control);
  CU_ASSERT_EQUAL(cfg->shutdown_timeout_ms, 30000);
  CU_ASSERT_EQUAL(cfg->files->nelts, 1);
  CU_ASSERT_STRING_EQUAL(arg(cfg->files, 0), in_dir("defaults.xml"));

  s = svc(cfg, "app");
  CU_ASSERT_STRING_EQUAL(s->command, "app");
  CU_ASSERT_EQUAL(s->args->nelts, 0);
  CU_ASSERT_PTR_NULL(s->workdir);
  CU_ASSERT_EQUAL(s->env->nelts, 0);
  CU_ASSERT_EQUAL(s->autostart, 1);
  CU_ASSERT_EQUAL(s->instances, 1);
  CU_ASSERT_EQUAL(s->restart.policy, CFG_RESTART_ON_FAILURE);
  CU_ASSERT_EQUAL(s->restart.delay_ms, 100);
  CU_ASSERT_EQUAL(s->restart.max_delay_ms, 30000);
  CU_ASSERT_EQUAL(s->restart.max_restarts, 5);
  CU_ASSERT_EQUAL(s->restart.window_ms, 60000);
  CU_ASSERT_EQUAL(s->ready.kind, CFG_READY_AFTER);
  CU_ASSERT_EQUAL(s->ready.after_ms, 1000);
  CU_ASSERT_EQUAL(s->ready.timeout_ms, 60000);
  CU_ASSERT_EQUAL(s->stop.signal, VG_SIGTERM);
  CU_ASSERT_EQUAL(s->stop.timeout_ms, 10000);
  CU_ASSERT_EQUAL(s->depends_on->nelts, 0);
  CU_ASSERT_EQUAL(s->health.type, CFG_HEALTH_NONE);
  CU_ASSERT_PTR_NULL(s->health.target);
  CU_ASSERT_EQUAL(s->log.out.kind, CFG_LOG_FILE);
  CU_ASSERT_STRING_EQUAL(s->log.out.name, "app.out.log");
  CU_ASSERT_STRING_EQUAL(s->log.out.path,
                         apr_pstrcat(vg_test_pool, state,
                                     "/logs/app.out.log", NULL));
  CU_ASSERT_EQUAL(s->log.err.kind, CFG_LOG_FILE);
  CU_ASSERT_STRING_EQUAL(s->log.err.name, "app.err.log");
  CU_ASSERT_EQUAL(s->log.max_size, 10 * MB);
  CU_ASSERT_EQUAL(s->log.keep, 5);
  CU_ASSERT_EQUAL(s->log.rotate_daily, 0);
  CU_ASSERT_EQUAL(s->log.compress, 0);
  CU_ASSERT_EQUAL(s->log.timestamps, 0);
  CU_ASSERT_EQUAL(s->limits.memory, 0);
  CU_ASSERT_EQUAL(s->limits.cpu_percent, 0);
  CU_ASSERT_EQUAL(s->limits.processes, 0);
  CU_ASSERT_EQUAL(s->limits.open_files, 0);
  cfg_destroy(cfg);
}

/* Every element and attribute at once (kitchen.xml), which also includes
 * conf.d/: relative paths, other value forms, other kinds. */
static void test_every_element(void) {
  cfg_t *cfg = load_ok("kitchen.xml");
  const cfg_service_t *s, *p, *db;
  if (!cfg)
    return;
  CU_ASSERT_STRING_EQUAL(cfg->state_dir, in_dir("state"));
  CU_ASSERT_STRING_EQUAL(cfg->log_dir, in_dir("logs"));
  CU_ASSERT_STRING_EQUAL(cfg->control, "\\\\.\\pipe\\vigil-kitchen");
  CU_ASSERT_EQUAL(cfg->shutdown_timeout_ms, 60000);
  /* the include comes first in the file */
  CU_ASSERT_EQUAL(cfg->services->nelts, 4);
  CU_ASSERT_STRING_EQUAL(
      APR_ARRAY_IDX(cfg->services, 0, cfg_service_t *)->name, "db");
  CU_ASSERT_STRING_EQUAL(
      APR_ARRAY_IDX(cfg->services, 2, cfg_service_t *)->name, "all-in");

  s = svc(cfg, "all-in");
  CU_ASSERT_STRING_EQUAL(s->command, "./bin/server");
  CU_ASSERT_EQUAL(s->args->nelts, 3);
  CU_ASSERT_STRING_EQUAL(arg(s->args, 1), " 8080 ");    /* verbatim */
  CU_ASSERT_STRING_EQUAL(arg(s->args, 2), "");
  CU_ASSERT_STRING_EQUAL(s->workdir, in_dir("srv"));
  CU_ASSERT_EQUAL(s->env->nelts, 2);
  CU_ASSERT_STRING_EQUAL(env_at(s, 1)->name, "B");
  CU_ASSERT_STRING_EQUAL(env_at(s, 1)->value, "");
  CU_ASSERT_EQUAL(s->autostart, 0);
  CU_ASSERT_EQUAL(s->restart.policy, CFG_RESTART_ALWAYS);
  CU_ASSERT_EQUAL(s->restart.delay_ms, 250);
  CU_ASSERT_EQUAL(s->restart.max_delay_ms, 60000);
  CU_ASSERT_EQUAL(s->restart.max_restarts, 0);
  CU_ASSERT_EQUAL(s->restart.window_ms, 3600000);
  CU_ASSERT_EQUAL(s->ready.kind, CFG_READY_NOTIFY);
  CU_ASSERT_EQUAL(s->ready.timeout_ms, 90000);
  CU_ASSERT_PTR_NULL(s->ready.host);
  CU_ASSERT_EQUAL(s->stop.signal, VG_SIGQUIT);
  CU_ASSERT_EQUAL(s->stop.timeout_ms, 0);
  CU_ASSERT_EQUAL(s->depends_on->nelts, 2);
  CU_ASSERT_STRING_EQUAL(arg(s->depends_on, 0), "db");
  CU_ASSERT_STRING_EQUAL(arg(s->depends_on, 1), "cache");
  CU_ASSERT_EQUAL(s->health.type, CFG_HEALTH_EXEC);
  CU_ASSERT_STRING_EQUAL(s->health.command, "/usr/bin/check");
  CU_ASSERT_EQUAL(s->health.args->nelts, 1);
  CU_ASSERT_STRING_EQUAL(arg(s->health.args, 0), "--quick");
  CU_ASSERT_EQUAL(s->health.interval_ms, 5000);
  CU_ASSERT_EQUAL(s->health.timeout_ms, 1000);
  CU_ASSERT_EQUAL(s->health.failures, 2);
  CU_ASSERT_EQUAL(s->log.out.kind, CFG_LOG_NULL);
  CU_ASSERT_PTR_NULL(s->log.out.path);
  CU_ASSERT_EQUAL(s->log.err.kind, CFG_LOG_STDOUT);
  CU_ASSERT_EQUAL(s->log.max_size, 512 * 1024);
  CU_ASSERT_EQUAL(s->log.keep, 0);
  CU_ASSERT_EQUAL(s->log.rotate_daily, 0);
  CU_ASSERT_EQUAL(s->limits.memory, (uint64_t)1 << 30);
  CU_ASSERT_EQUAL(s->limits.cpu_percent, 150);
  CU_ASSERT_EQUAL(s->limits.processes, 10);
  CU_ASSERT_EQUAL(s->limits.open_files, 4096);

  p = svc(cfg, "probe");
  CU_ASSERT_EQUAL(p->health.type, CFG_HEALTH_TCP);
  CU_ASSERT_STRING_EQUAL(p->health.host, "::1");
  CU_ASSERT_EQUAL(p->health.port, 7000);
  CU_ASSERT_EQUAL(p->log.out.kind, CFG_LOG_INHERIT);
  CU_ASSERT_EQUAL(p->log.err.kind, CFG_LOG_INHERIT);

  db = svc(cfg, "db");
  CU_ASSERT_STRING_EQUAL(db->file, data("conf.d/10-db.xml"));
  CU_ASSERT_EQUAL(db->line, 3);
  CU_ASSERT_STRING_EQUAL(db->log.out.path, absolute("/var/log/db.log"));
  CU_ASSERT_EQUAL(db->log.err.kind, CFG_LOG_NULL);
  cfg_destroy(cfg);
}

/* Supervisor paths: relative ones are taken from the config's directory;
 * control names (@NAME, \\.\pipe\NAME) are kept as they are. */
static void test_supervisor_paths(void) {
  const char *real = absolute(tmp_dir());
  cfg_t *cfg;

  cfg = ok_text("<vigil><supervisor>\n"
                "  <state-dir>st</state-dir>\n"
                "  <control>ctl/sock</control>\n"
                "</supervisor></vigil>\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_STRING_EQUAL(cfg->state_dir,
                         apr_pstrcat(vg_test_pool, real, "/st", NULL));
  CU_ASSERT_STRING_EQUAL(cfg->log_dir,
                         apr_pstrcat(vg_test_pool, real, "/st/logs", NULL));
  CU_ASSERT_STRING_EQUAL(cfg->control,
                         apr_pstrcat(vg_test_pool, real, "/ctl/sock", NULL));
  CU_ASSERT_EQUAL(cfg->services->nelts, 0);

#if defined(__linux__)
  cfg = ok_text("<vigil><supervisor><control>@vigil-test</control>"
                "<log-dir>/var/log/x</log-dir>"
                "<shutdown-timeout>0</shutdown-timeout>"
                "</supervisor></vigil>");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_STRING_EQUAL(cfg->control, "@vigil-test");
#else
  {
    /* An abstract socket is Linux's alone: an error at validate. */
    cfg_errors_t *errs = bad_text("<vigil><supervisor>"
                                  "<control>@vigil-test</control>"
                                  "</supervisor></vigil>",
                                  1, NULL);
    CU_ASSERT(errs && strstr(cfg_error_format(cfg_errors_get(errs, 0),
                                              vg_test_pool),
                             "only on Linux") != NULL);
  }
  cfg = ok_text("<vigil><supervisor>"
                "<log-dir>/var/log/x</log-dir>"
                "<shutdown-timeout>0</shutdown-timeout>"
                "</supervisor></vigil>");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
#endif
  {
    /* "/var/log/x" is on the config's drive (Windows) */
    char *expected = NULL;
    CU_ASSERT_FATAL(apr_filepath_merge(&expected, cfg->dir, "/var/log/x", 0,
                                       vg_test_pool) == APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(cfg->log_dir, expected);
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg->log_dir, "/var/log/x"));
  }
  CU_ASSERT_EQUAL(cfg->shutdown_timeout_ms, 0);
}

/* cfg_load_supervisor() on a file with `text`: it must succeed (1) or
 * fail with `count` problems (0). */
static cfg_t *paths_of(const char *text, int count, cfg_errors_t **errs,
                       const char **path_out) {
  const char *path = vg_test_write_temp("vigil-cfg", text);
  cfg_t *cfg = (cfg_t *)&cfg;
  apr_status_t rv = cfg_load_supervisor(&cfg, path, &fake_env, vg_test_pool,
                                        errs);
  if (cfg_errors_count(*errs) != count) {
    fprintf(stderr, "\n    expected %d problems, got %d:\n", count,
            cfg_errors_count(*errs));
    print_errors(*errs);
  }
  CU_ASSERT_EQUAL(cfg_errors_count(*errs), count);
  CU_ASSERT_EQUAL(rv, count ? CFG_EINVALID : APR_SUCCESS);
  if (count)
    CU_ASSERT_PTR_NULL(cfg);
  if (path_out)
    *path_out = path;
  else
    apr_file_remove(path, vg_test_pool);
  return rv == APR_SUCCESS ? cfg : NULL;
}

/* The control commands read only the <supervisor> paths, so that they
 * reach a running supervisor while its file has errors elsewhere. */
static void test_supervisor_paths_lenient(void) {
  const char *real = absolute(tmp_dir());
  cfg_errors_t *errs = NULL;
  const char *path;
  cfg_t *cfg;

  /* errors everywhere but in the paths (substituted as in cfg_load) */
  cfg = paths_of("<vigil>\n"
                 "  <service name=\"a\"><command>x</command>\n"
                 "    <stop timeout=\"soon\"/><depends-on>nobody"
                 "</depends-on>\n"
                 "  </service>\n"
                 "  <bogus/>\n"
                 "  <supervisor>\n"
                 "    <state-dir>${HOME}/st</state-dir>\n"
                 "    <shutdown-timeout>never</shutdown-timeout>\n"
                 "    <control>${EMPTY:-ctl}/sock</control>\n"
                 "    <unknown/>\n"
                 "  </supervisor>\n"
                 "  <include file=\"missing.xml\"/>\n"
                 "</vigil>\n", 0, &errs, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_PTR_NOT_NULL(strstr(cfg->state_dir, "/home/u/st"));
  CU_ASSERT_STRING_EQUAL(cfg->control,
                         apr_pstrcat(vg_test_pool, real, "/ctl/sock", NULL));
  CU_ASSERT_EQUAL(cfg->services->nelts, 0);

  /* the defaults, and a file cut short after its <supervisor> */
  cfg = paths_of("<vigil>\n  <service name=\"a\"><command>x</comand>\n", 0,
                 &errs, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_STRING_EQUAL(cfg->state_dir,
                         apr_pstrcat(vg_test_pool, real, "/.vigil", NULL));
  CU_ASSERT_PTR_NULL(cfg->control);
  cfg = paths_of("<vigil><supervisor><state-dir>/srv/st</state-dir>"
                 "</supervisor>\n<service name=\"a\"><command>x</comm", 0,
                 &errs, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_PTR_NOT_NULL(strstr(cfg->state_dir, "/srv/st"));

  /* the paths themselves cannot be read: said with their line */
  paths_of("<vigil>\n"
           "  <service name=\"a\"><command>x</command></service>\n"
           "  <supervisor>\n"
           "    <state-dir>${NOT_SET}/st</state-dir>\n"
           "    <control></control>\n"
           "  </supervisor>\n"
           "</vigil>\n", 2, &errs, &path);
  expect_at(errs, 0, path, 4, "NOT_SET");
  expect_at(errs, 1, path, 5, "<control> is empty");
  apr_file_remove(path, vg_test_pool);
  paths_of("<config/>\n", 1, &errs, &path);
  expect_at(errs, 0, path, 1, "the root element must be <vigil>");
  apr_file_remove(path, vg_test_pool);
  paths_of("not xml at all\n", 1, &errs, &path);
  expect_at(errs, 0, path, 1, "Start tag expected");
  apr_file_remove(path, vg_test_pool);
  CU_ASSERT_EQUAL(cfg_load_supervisor(&cfg, tmp_dir(), NULL, vg_test_pool,
                                      &errs), CFG_EINVALID);
  CU_ASSERT_EQUAL(cfg_errors_count(errs), 1);
}

/* ------------------------------------------------------------------------
 * The schema
 * --------------------------------------------------------------------- */

static char *read_all(const char *path, apr_size_t *len) {
  apr_file_t *f;
  apr_finfo_t fi;
  char *buf;
  CU_ASSERT_FATAL(apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                                APR_FPROT_OS_DEFAULT, vg_test_pool) ==
                  APR_SUCCESS);
  CU_ASSERT_FATAL(apr_file_info_get(&fi, APR_FINFO_SIZE, f) == APR_SUCCESS);
  *len = (apr_size_t)fi.size;
  buf = apr_palloc(vg_test_pool, *len + 1);
  CU_ASSERT_FATAL(apr_file_read_full(f, buf, *len, NULL) == APR_SUCCESS);
  buf[*len] = '\0';
  apr_file_close(f);
  return buf;
}

/* The library carries config/vigil.xsd byte for byte. */
static void test_schema_embedded(void) {
  size_t len = 0;
  apr_size_t flen = 0;
  const char *xsd = cfg_schema_text(&len);
  const char *file = read_all(data("../../../config/vigil.xsd"), &flen);
  CU_ASSERT_EQUAL(len, flen);
  CU_ASSERT_EQUAL(strlen(xsd), len);
  CU_ASSERT(memcmp(xsd, file, len) == 0);
}

static int validates(xmlSchemaValidCtxtPtr v, const char *path) {
  xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
  int rv;
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  rv = xmlSchemaValidateDoc(v, doc);
  xmlFreeDoc(doc);
  return rv;
}

#if LIBXML_VERSION >= 21200
static void quiet(void *ctx, const xmlError *e) {
#else
static void quiet(void *ctx, xmlErrorPtr e) {
#endif
  (void)ctx;
  (void)e;
}

/* The XSD alone accepts every element and attribute (kitchen.xml) and
 * rejects unknown ones: it has no xs:any or xs:anyAttribute. */
static void test_schema_strict(void) {
  size_t len;
  const char *xsd = cfg_schema_text(&len);
  xmlSchemaParserCtxtPtr pc = xmlSchemaNewMemParserCtxt(xsd, (int)len);
  xmlSchemaPtr schema = xmlSchemaParse(pc);
  xmlSchemaValidCtxtPtr v;
  CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
  v = xmlSchemaNewValidCtxt(schema);
  xmlSchemaSetValidStructuredErrors(v, quiet, NULL);
  CU_ASSERT_EQUAL(validates(v, data("kitchen.xml")), 0);
  CU_ASSERT_EQUAL(validates(v, data("readme_example.xml")), 0);
  CU_ASSERT_NOT_EQUAL(validates(v, data("bad_element.xml")), 0);
  CU_ASSERT_NOT_EQUAL(validates(v, data("bad_attribute.xml")), 0);
  xmlSchemaFreeValidCtxt(v);
  xmlSchemaFree(schema);
  xmlSchemaFreeParserCtxt(pc);
  CU_ASSERT_PTR_NULL(strstr(xsd, "<xs:any"));
}

/* The structural walk's vocabulary (config/vocab.c) and the XSD name the
 * same elements, attributes, required attributes and content kinds. */

static xmlNodePtr xs_child(xmlNodePtr n, const char *name) {
  for (n = n ? n->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE &&
        strcmp((const char *)n->name, name) == 0)
      return n;
  return NULL;
}

static const char *prop(apr_pool_t *p, xmlNodePtr n, const char *name) {
  xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
  const char *s = v ? apr_pstrdup(p, (const char *)v) : NULL;
  xmlFree(v);
  return s;
}

static xmlNodePtr xs_type(xmlNodePtr schema, const char *name) {
  xmlNodePtr n;
  for (n = schema->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE &&
        strcmp((const char *)n->name, "complexType") == 0) {
      const char *tn = prop(vg_test_pool, n, "name");
      if (tn && strcmp(tn, name) == 0)
        return n;
    }
  return NULL;
}

static int list_len(const char *const *l) {
  int n = 0;
  while (l && l[n])
    n++;
  return n;
}

static apr_hash_t *visited;

static void compare_elem(xmlNodePtr schema, const char *name,
                         xmlNodePtr type) {
  const cfg__elem_t *def = cfg__vocab_elem(name);
  xmlNodePtr choice, n;
  int nattrs = 0, nreq = 0, nchildren = 0;
  cfg__content kind;

  if (apr_hash_get(visited, name, APR_HASH_KEY_STRING))
    return;
  apr_hash_set(visited, name, APR_HASH_KEY_STRING, "");
  if (!def)
    fprintf(stderr, "\n    <%s> is in the XSD but not in vocab.c\n", name);
  CU_ASSERT_PTR_NOT_NULL_FATAL(def);
  CU_ASSERT_PTR_NOT_NULL_FATAL(type);

  choice = xs_child(type, "choice");
  kind = choice ? CFG__ELEMENTS
         : xs_child(type, "simpleContent") ? CFG__TEXT : CFG__EMPTY;
  CU_ASSERT_EQUAL(def->content, kind);
  for (n = type->children; n; n = n->next) {
    const char *an, *use;
    if (n->type != XML_ELEMENT_NODE ||
        strcmp((const char *)n->name, "attribute") != 0)
      continue;
    an = prop(vg_test_pool, n, "name");
    use = prop(vg_test_pool, n, "use");
    nattrs++;
    if (!cfg__vocab_has(def->attrs, an))
      fprintf(stderr, "\n    <%s %s> is in the XSD but not in vocab.c\n",
              name, an);
    CU_ASSERT(cfg__vocab_has(def->attrs, an));
    if (use && strcmp(use, "required") == 0) {
      nreq++;
      CU_ASSERT(cfg__vocab_has(def->required, an));
    }
  }
  CU_ASSERT_EQUAL(nattrs, list_len(def->attrs));
  CU_ASSERT_EQUAL(nreq, list_len(def->required));
  for (n = choice ? choice->children : NULL; n; n = n->next) {
    const char *cn, *ct;
    if (n->type != XML_ELEMENT_NODE ||
        strcmp((const char *)n->name, "element") != 0)
      continue;
    cn = prop(vg_test_pool, n, "name");
    ct = prop(vg_test_pool, n, "type");
    nchildren++;
    CU_ASSERT(cfg__vocab_has(def->children, cn));
    compare_elem(schema, cn, xs_type(schema, ct));
  }
  CU_ASSERT_EQUAL(nchildren, list_len(def->children));
}

static void test_schema_matches_vocabulary(void) {
  size_t len;
  const char *xsd = cfg_schema_text(&len);
  xmlDocPtr doc = xmlReadMemory(xsd, (int)len, "vigil.xsd", NULL, 0);
  xmlNodePtr schema, root;
  const cfg__elem_t *const *all;
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  schema = xmlDocGetRootElement(doc);
  visited = apr_hash_make(vg_test_pool);
  root = xs_child(schema, "element");
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  CU_ASSERT_STRING_EQUAL(prop(vg_test_pool, root, "name"), "vigil");
  compare_elem(schema, "vigil", xs_child(root, "complexType"));
  /* and nothing in vocab.c that the XSD lacks */
  for (all = cfg__vocab_all(); *all; all++) {
    if (!apr_hash_get(visited, (*all)->name, APR_HASH_KEY_STRING))
      fprintf(stderr, "\n    <%s> is in vocab.c but not in the XSD\n",
              (*all)->name);
    CU_ASSERT_PTR_NOT_NULL(
        apr_hash_get(visited, (*all)->name, APR_HASH_KEY_STRING));
  }
  xmlFreeDoc(doc);
}

/* ------------------------------------------------------------------------
 * Bad files: each problem with its file and line
 * --------------------------------------------------------------------- */

static void test_not_well_formed(void) {
  cfg_errors_t *errs = load_bad("bad_xml.xml", 3);
  expect(errs, 0, "bad_xml.xml", 6,
         "Opening and ending tag mismatch: arg line 5 and service");
  expect(errs, 1, "bad_xml.xml", 7, "mismatch");
  expect(errs, 2, "bad_xml.xml", 8, "Premature end of data");
}

/* Two unknown elements in one service: both reported (libxml2's
 * validator alone stops at the first). */
static void test_unknown_element(void) {
  cfg_errors_t *errs = load_bad("bad_element.xml", 2);
  expect(errs, 0, "bad_element.xml", 5,
         "unknown element <restrat> in <service> (did you mean <restart>?)");
  expect(errs, 1, "bad_element.xml", 7, "unknown element <evn> in <service>");
}

/* The line of the attribute itself, not of its element's '<' or '>'. */
static void test_unknown_attribute(void) {
  cfg_errors_t *errs = load_bad("bad_attribute.xml", 1);
  expect(errs, 0, "bad_attribute.xml", 6,
         "unknown attribute 'dealy' on <restart> (did you mean 'delay'?)");
}

static void test_bad_duration(void) {
  cfg_errors_t *errs = load_bad("bad_duration.xml", 3);
  expect(errs, 0, "bad_duration.xml", 4,
         "bad duration '30 seconds' in <shutdown-timeout>");
  expect(errs, 1, "bad_duration.xml", 9,
         "bad duration '10x' in attribute 'max-delay' of <restart>");
  expect(errs, 2, "bad_duration.xml", 10,
         "bad duration '10' in attribute 'timeout' of <stop>");
}

static void test_bad_size(void) {
  cfg_errors_t *errs = load_bad("bad_size.xml", 2);
  expect(errs, 0, "bad_size.xml", 5,
         "bad size '10XB' in attribute 'max-size' of <log>");
  expect(errs, 1, "bad_size.xml", 6,
         "bad size '256 MB' in attribute 'memory' of <limits>");
}

static void test_duplicate_name(void) {
  cfg_errors_t *errs = load_bad("dup_name.xml", 1);
  expect(errs, 0, "dup_name.xml", 6,
         "duplicate service name 'web' (first defined at line 3)");
}

static void test_bad_name(void) {
  cfg_errors_t *errs = load_bad("bad_name.xml", 2);
  expect(errs, 0, "bad_name.xml", 3,
         "bad service name 'my web': it may hold only letters");
  expect(errs, 1, "bad_name.xml", 6, "longer than 64 characters");
  errs = bad_text("<vigil><service name='all'><command>x</command>"
                  "</service></vigil>", 1, NULL);
  CU_ASSERT_PTR_NOT_NULL(strstr(cfg_errors_get(errs, 0)->message,
                                "'all': it is reserved"));
}

static void test_unknown_dependency(void) {
  cfg_errors_t *errs = load_bad("unknown_dep.xml", 1);
  expect(errs, 0, "unknown_dep.xml", 5,
         "<depends-on> names an unknown service 'dbb' (did you mean 'db'?)");
}

/* Two names equally close: the suggestion is the same at every load (the
 * first in byte order), not whichever a hash table yields first.  (Found
 * by tests/fuzz/fuzz_config.c, which loads each input twice.) */
static void test_unknown_dependency_tie(void) {
  int i;
  for (i = 0; i < 200; i++) {
    cfg_errors_t *errs = bad_text(
        "<vigil><service name=\"b\"><command>b</command></service>"
        "<service name=\"a\"><command>a</command>"
        "<depends-on>c</depends-on></service></vigil>",
        1, NULL);
    if (!strstr(cfg_errors_get(errs, 0)->message, "(did you mean 'a'?)"))
      fprintf(stderr, "\n    load %d: %s\n", i,
              cfg_errors_get(errs, 0)->message);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(cfg_errors_get(errs, 0)->message, "(did you mean 'a'?)"));
  }
}

/* The cycle is reported once, with its path, at the <depends-on> of the
 * service that closes it (c, lines 11-14); a self-dependency too. */
static void test_dependency_cycle(void) {
  cfg_errors_t *errs = load_bad("cycle.xml", 2);
  expect(errs, 0, "cycle.xml", 13, "dependency cycle: a -> b -> c -> a");
  expect(errs, 1, "cycle.xml", 17, "service 'd' depends on itself");
}

static void test_unset_variable(void) {
  cfg_errors_t *errs = load_bad("unset_var.xml", 3);
  expect(errs, 0, "unset_var.xml", 5,
         "environment variable 'VIGIL_TEST_UNSET_1' is not set (in <arg>)");
  expect(errs, 1, "unset_var.xml", 7,
         "'VIGIL_TEST_UNSET_2' is not set (in attribute 'value' of <env>)");
  /* text on the line after the start tag */
  expect(errs, 2, "unset_var.xml", 9,
         "'VIGIL_TEST_UNSET_3' is not set (in <workdir>)");

  /* The same with the process environment (the default). */
  {
    cfg_t *cfg = NULL;
    CU_ASSERT_EQUAL(cfg_load(&cfg, data("unset_var.xml"), vg_test_pool,
                             &errs), CFG_EINVALID);
    CU_ASSERT_EQUAL(cfg_errors_count(errs), 3);
  }
}

static void test_variable_defaults(void) {
  cfg_t *cfg = load_ok("default_var.xml");
  const cfg_service_t *s;
  if (!cfg)
    return;
  s = svc(cfg, "app");          /* name="${SVC_NAME:-app}" */
  CU_ASSERT_STRING_EQUAL(s->command, "/opt/bin/app");
  CU_ASSERT_EQUAL(s->args->nelts, 4);
  CU_ASSERT_STRING_EQUAL(arg(s->args, 0), "fallback");
  CU_ASSERT_STRING_EQUAL(arg(s->args, 1), "was empty");
  CU_ASSERT_STRING_EQUAL(arg(s->args, 2), "cost: $5 and $HOME");
  CU_ASSERT_STRING_EQUAL(arg(s->args, 3), "/opt/bin/x");
  CU_ASSERT_STRING_EQUAL(env_at(s, 0)->name, "MODE");
  CU_ASSERT_STRING_EQUAL(env_at(s, 0)->value, "0");   /* VIGIL_INSTANCE */
  CU_ASSERT_EQUAL(s->restart.delay_ms, 250);
  CU_ASSERT_EQUAL(s->restart.max_delay_ms, 2000);
}

/* Three independent problems, three messages, in line order. */
static void test_all_errors_reported(void) {
  cfg_errors_t *errs = load_bad("three_errors.xml", 3);
  expect(errs, 0, "three_errors.xml", 5, "unknown element <bogus>");
  expect(errs, 1, "three_errors.xml", 6, "bad size 'big'");
  expect(errs, 2, "three_errors.xml", 8, "duplicate service name 'a'");
}

/* ------------------------------------------------------------------------
 * Structure and values, on short inputs
 * --------------------------------------------------------------------- */

static void test_structure_problems(void) {
  cfg_errors_t *errs;
  const char *path;

  errs = bad_text("<?xml version='1.0'?>\n"
                  "<vigil>\n"
                  "  stray\n"
                  "  <service>\n"                                 /* 4 */
                  "    <command>x<arg>y</arg></command>\n"        /* 5 */
                  "    <env name='A' value='1'>text</env>\n"      /* 6 */
                  "    <supervisor/>\n"                           /* 7 */
                  "    <workdir>/a</workdir>\n"
                  "    <workdir>/b</workdir>\n"                   /* 9 */
                  "  </service>\n"
                  "  <command>top</command>\n"                    /* 11 */
                  "</vigil>\n",
                  7, &path);
  expect_at(errs, 0, path, 3, "unexpected text 'stray' in <vigil>");
  expect_at(errs, 1, path, 4, "<service> needs the attribute 'name'");
  expect_at(errs, 2, path, 5,
            "<command> cannot contain elements (found <arg>)");
  expect_at(errs, 3, path, 6, "<env> must be empty (found text 'text')");
  expect_at(errs, 4, path, 7, "<supervisor> is not allowed inside <service>");
  expect_at(errs, 5, path, 9,
            "<workdir> appears twice in <service> (first at line 8)");
  expect_at(errs, 6, path, 11, "<command> is not allowed inside <vigil>");

  errs = bad_text("<foo/>\n", 1, &path);
  expect_at(errs, 0, path, 1, "the root element must be <vigil>, not <foo>");

  errs = bad_text("<?xml version='1.0'?>\n<!DOCTYPE vigil>\n<vigil/>\n", 1,
                  &path);
  expect_at(errs, 0, path, 2, "DOCTYPE is not allowed");

  errs = bad_text("<vigil xmlns:x='urn:x'>\n"
                  "<service name='a' x:opt='1'><command>a</command>\n"
                  "<x:thing/></service></vigil>\n",
                  2, &path);
  expect_at(errs, 0, path, 2, "unknown attribute 'x:opt' on <service>");
  expect_at(errs, 1, path, 3, "unknown element <x:thing> in <service>");

  /* xsi: attributes (schema hints for editors) are fine */
  CU_ASSERT_PTR_NOT_NULL(ok_text(
      "<vigil xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'\n"
      "  xsi:noNamespaceSchemaLocation='vigil.xsd'/>\n"));
}

/* Lines with a BOM, CRLF line ends, a comment holding a tag, a start tag
 * over several lines and CDATA. */
static void test_line_numbers(void) {
  const char *path;
  cfg_errors_t *errs = bad_text(
      "\xef\xbb\xbf<?xml version=\"1.0\"?>\r\n"
      "<vigil>\r\n"
      "  <!-- <service name=\"zz\"> -->\r\n"
      "  <service\r\n"
      "     name=\"a\">\r\n"
      "<command><![CDATA[\r\n"
      "  /bin/${NOPE}]]></command>\r\n"                   /* 7 */
      " <restart\r\n"
      "   policy=\"never\"\r\n"
      "   delay=\"1x\"/>\r\n"                             /* 10 */
      "  </service>\r\n"
      "  <service name=\"a\"><command>b</command></service>\r\n"  /* 12 */
      "</vigil>\r\n",
      3, &path);
  expect_at(errs, 0, path, 7, "'NOPE' is not set (in <command>)");
  expect_at(errs, 1, path, 10, "bad duration '1x'");
  expect_at(errs, 2, path, 12, "duplicate service name 'a' (first defined "
                               "at line 4)");
}

static void test_value_problems(void) {
  const char *path;
  cfg_errors_t *errs = bad_text(
      "<vigil>\n"
      "<service name='a'><command>a</command>\n"
      "<ready after='1s' tcp='127.0.0.1:80'/>\n"                   /* 3 */
      "<restart policy='sometimes' delay='5s' max-delay='1s'/>\n"  /* 4 */
      "<stop signal='TERMINATE'/>\n"                               /* 5 */
      "<log stdout='stdout' stderr='' keep='many'/>\n"             /* 6 */
      "<limits cpu='0%' processes='-1'/>\n"                        /* 7 */
      "<env name='A' value='1'/><env name='A' value='2'/>\n"       /* 8 */
      "<autostart>maybe</autostart>\n"                             /* 9 */
      "</service>\n"
      "<service name='b'><command>b</command>\n"
      "<ready timeout='5s'/>\n"                                    /* 12 */
      "<health type='http' target='https://x/'/>\n"                /* 13 */
      "</service>\n"
      "<service name='c'><command>c</command>\n"
      "<health type='tcp' target='localhost'><arg>x</arg></health>\n" /* 16 */
      "<log stdout='same.log' stderr='same.log'/>\n"
      "</service>\n"
      "<service name='d'><command>d</command>\n"
      "<health type='pigeon'/>\n"                                  /* 20 */
      "<log stdout='same.log'/>\n"
      "</service>\n"
      "<service name='e'><command>  </command><health type='http'/>\n"  /* 23 */
      "<env name='VIGIL_INSTANCE' value='1'/></service>\n"        /* 24 */
      "</vigil>\n",
      21, &path);
  expect_at(errs, 0, path, 3, "<ready> takes only one of after, tcp and "
                              "notify=\"true\"");
  expect_at(errs, 1, path, 4, "bad value 'sometimes' in attribute 'policy' "
                              "of <restart> (expected on-failure, always or "
                              "never)");
  expect_at(errs, 2, path, 4, "max-delay (1000ms) is less than delay "
                              "(5000ms)");
  expect_at(errs, 3, path, 5, "unknown signal 'TERMINATE'");
  expect_at(errs, 4, path, 6, "stdout=\"stdout\" in <log> makes no sense");
  expect_at(errs, 5, path, 6, "attribute 'stderr' of <log> is empty");
  expect_at(errs, 6, path, 6, "bad number 'many' in attribute 'keep'");
  expect_at(errs, 7, path, 7, "bad cpu limit '0%'");
  expect_at(errs, 8, path, 7, "bad number '-1' in attribute 'processes'");
  expect_at(errs, 9, path, 8, "<env> 'A' is set twice in this service "
                              "(first at line 8)");
  expect_at(errs, 10, path, 9, "bad boolean 'maybe' in <autostart>");
  expect_at(errs, 11, path, 12, "timeout in <ready> applies only with tcp or "
                                "notify");
  expect_at(errs, 12, path, 13, "https is not supported");
  expect_at(errs, 13, path, 15, "stdout and stderr of service 'c' both go to "
                                "'same.log'");
  expect_at(errs, 14, path, 16, "bad health target 'localhost' for type tcp");
  expect_at(errs, 15, path, 16, "<arg> in <health> is only for type=\"exec\"");
  expect_at(errs, 16, path, 19, "log file 'same.log' of service 'd' is also "
                                "written by service 'c' (line 15)");
  expect_at(errs, 17, path, 20, "bad value 'pigeon' in attribute 'type' of "
                                "<health>");
  expect_at(errs, 18, path, 23, "<command> is empty");
  expect_at(errs, 19, path, 23, "<health type=\"http\"> needs a target");
  expect_at(errs, 20, path, 24, "VIGIL_INSTANCE is set by vigil");
}

/* ------------------------------------------------------------------------
 * Includes
 * --------------------------------------------------------------------- */

static void test_include(void) {
  cfg_t *cfg = load_ok("include.xml");
  const char *names[] = {"web", "db", "cache", "last"};
  int i;
  if (!cfg)
    return;
  /* at the place of the include, files in name order; .hidden.xml and
   * README do not match; empty.d/ does not exist, which is fine */
  CU_ASSERT_EQUAL_FATAL(cfg->services->nelts, 4);
  for (i = 0; i < 4; i++)
    CU_ASSERT_STRING_EQUAL(
        APR_ARRAY_IDX(cfg->services, i, cfg_service_t *)->name, names[i]);
  CU_ASSERT_STRING_EQUAL(svc(cfg, "db")->file, data("conf.d/10-db.xml"));
  CU_ASSERT_STRING_EQUAL(svc(cfg, "cache")->file,
                         data("conf.d/20-cache.xml"));
  CU_ASSERT_EQUAL(svc(cfg, "cache")->line, 3);
  CU_ASSERT_STRING_EQUAL(arg(svc(cfg, "web")->depends_on, 0), "cache");
  CU_ASSERT_STRING_EQUAL(arg(svc(cfg, "cache")->depends_on, 0), "db");
  CU_ASSERT_EQUAL(cfg->files->nelts, 3);
  CU_ASSERT_STRING_EQUAL(arg(cfg->files, 0), in_dir("include.xml"));
  CU_ASSERT_STRING_EQUAL(arg(cfg->files, 1), in_dir("conf.d/10-db.xml"));
  CU_ASSERT_STRING_EQUAL(arg(cfg->files, 2), in_dir("conf.d/20-cache.xml"));
  CU_ASSERT_PTR_NULL(cfg_service_find(cfg, "hidden"));
}

/* Problems inside included files name those files and their lines; the
 * main file's problems come first. */
static void test_include_errors(void) {
  cfg_errors_t *errs = load_bad("include_bad.xml", 5);
  expect(errs, 0, "include_bad.xml", 5, "bad duration 'forever'");
  expect(errs, 1, "include_bad.xml", 9,
         "cannot read included file '");
  CU_ASSERT_PTR_NOT_NULL(strstr(cfg_errors_get(errs, 1)->message,
                                "bad.d/missing.xml"));
  expect(errs, 2, "bad.d/broken.xml", 5, "bad duration 'soon'");
  expect(errs, 3, "bad.d/broken.xml", 7,
         "<supervisor> is allowed only in the main config file");
  expect(errs, 4, "bad.d/malformed.xml", 5,
         "Opening and ending tag mismatch: service line 3 and servic");
}

static void test_include_cycle(void) {
  cfg_errors_t *errs = load_bad("include_cycle.xml", 2);
  expect(errs, 0, "include_cycle.xml", 6,
         "is included again (it is the main config file)");
  expect(errs, 1, "include_cycle.xml", 8, "is included again (already "
                                          "included at ");
}

/* A config file, an include or a wildcard match that is a FIFO or a
 * device is refused with its line before anything is read from it: a
 * FIFO without a writer would block the load (on the supervisor's loop,
 * for a reload) and /dev/zero would feed it without end.  Windows has no
 * FIFOs in the file system; its devices (NUL) are refused the same way. */
static void test_include_special_files(void) {
  const char *dir = tmp_dir();
  const char *fifo = apr_pstrcat(vg_test_pool, dir, "/vigil-cfg-fifo.xml",
                                 NULL);
  const char *path;
  cfg_errors_t *errs;
  apr_status_t rv;
#ifdef _WIN32
  const char *dev = "NUL";
  rv = APR_ENOTIMPL;
  fprintf(stderr, "\n    (no FIFO case: Windows has no FIFOs in the file "
                  "system) ");
#else
  const char *dev = "/dev/zero";
  apr_file_remove(fifo, vg_test_pool);
  rv = apr_file_namedpipe_create(fifo, APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                 vg_test_pool);
  CU_ASSERT_EQUAL_FATAL(rv, APR_SUCCESS);
#endif
  if (rv == APR_SUCCESS) {
    errs = bad_text(apr_psprintf(vg_test_pool,
                                 "<vigil>\n"
                                 "  <include file=\"%s\"/>\n"
                                 "  <include file=\"%s\"/>\n"
                                 "</vigil>\n", fifo, dev),
                    2, &path);
    expect_at(errs, 0, path, 2, "it is a FIFO (only regular files");
    expect_at(errs, 1, path, 3, "it is a character device");
    /* the main file itself */
    errs = load_path_bad(fifo, 1);
    expect_at(errs, 0, fifo, 0, "cannot read: it is a FIFO");
    apr_file_remove(fifo, vg_test_pool);
  } else {
    /* Windows: NUL is refused, by type where the system opens it as the
     * device, by name where it does not (Wine: "Invalid parameter"). */
    errs = bad_text(apr_psprintf(vg_test_pool,
                                 "<vigil>\n"
                                 "  <include file=\"%s\"/>\n"
                                 "</vigil>\n", dev),
                    1, &path);
    expect_at(errs, 0, path, 2, "cannot read included file");
  }
}

/* Log file names: relative to log-dir and never out of it (no ".."
 * component, with either separator), or absolute (used as written). */
/* syslog, journal and eventlog: a log daemon before the default file
 * (the fallback); "./syslog" is a file of that name. */
static void test_log_daemons(void) {
  cfg_t *cfg;
  const cfg_service_t *a, *b;
  cfg = ok_text("<vigil><supervisor><log-dir>/srv/logs</log-dir>"
                "</supervisor>\n"
                "  <service name=\"a\"><command>x</command>\n"
                "    <log stdout=\"syslog\" stderr=\"journal\"/></service>\n"
                "  <service name=\"b\"><command>x</command>\n"
                "    <log stdout=\"./syslog\" stderr=\"eventlog\"/>"
                "</service>\n"
                "</vigil>\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  a = svc(cfg, "a");
  b = svc(cfg, "b");
  CU_ASSERT_EQUAL(a->log.out.kind, CFG_LOG_FILE);
  CU_ASSERT_EQUAL(a->log.out.sink, CFG_SINK_SYSLOG);
  CU_ASSERT_PTR_NOT_NULL(strstr(a->log.out.path, "/srv/logs/a.out.log"));
  CU_ASSERT_EQUAL(a->log.err.sink, CFG_SINK_JOURNAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(a->log.err.path, "/srv/logs/a.err.log"));
  CU_ASSERT_EQUAL(b->log.out.sink, CFG_SINK_NONE);
  CU_ASSERT_PTR_NOT_NULL(strstr(b->log.out.path, "/srv/logs/syslog"));
  CU_ASSERT_EQUAL(b->log.err.sink, CFG_SINK_EVENTLOG);
  cfg_destroy(cfg);
}

static void test_log_names(void) {
  const char *path;
  cfg_errors_t *errs;
  cfg_t *cfg;
  char *expected = NULL;

  errs = bad_text("<vigil>\n"
                  "  <service name=\"a\"><command>x</command>\n"
                  "    <log stdout=\"../a.log\"/></service>\n"
                  "  <service name=\"b\"><command>x</command>\n"
                  "    <log stdout=\"sub/../../b.log\"/></service>\n"
                  "  <service name=\"c\"><command>x</command>\n"
                  "    <log stderr=\"..\\\\c.log\"/></service>\n"
                  "  <service name=\"d\"><command>x</command>\n"
                  "    <log stdout=\"${EMPTY:-..}/d.log\"/></service>\n"
                  "  <service name=\"e\"><command>x</command>\n"
                  "    <log stdout=\"sub/.\"/></service>\n"
                  "</vigil>\n",
                  5, &path);
  expect_at(errs, 0, path, 3, "leaves the log directory");
  expect_at(errs, 1, path, 5, "leaves the log directory");
  expect_at(errs, 2, path, 7, "leaves the log directory");
  expect_at(errs, 3, path, 9, "'../d.log'");
  expect_at(errs, 4, path, 11, "names a directory");

  cfg = ok_text("<vigil><supervisor><log-dir>/srv/logs</log-dir>"
                "</supervisor>\n"
                "  <service name=\"a\"><command>x</command>\n"
                "    <log stdout=\"sub/a..b.log\" stderr=\"/var/log/a.err\"/>"
                "</service>\n"
                "</vigil>\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_PTR_NOT_NULL(strstr(svc(cfg, "a")->log.out.path,
                                "/srv/logs/sub/a..b.log"));
  CU_ASSERT_FATAL(apr_filepath_merge(&expected, cfg->dir, "/var/log/a.err",
                                     0, vg_test_pool) == APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(svc(cfg, "a")->log.err.path, expected);
}

/* ------------------------------------------------------------------------
 * Instances
 * --------------------------------------------------------------------- */

static void test_instances(void) {
  cfg_t *cfg = load_ok("instances.xml");
  const cfg_service_t *w;
  int i;
  if (!cfg)
    return;
  CU_ASSERT_EQUAL(cfg->services->nelts, 5);
  CU_ASSERT_PTR_NULL(cfg_service_find(cfg, "worker"));
  for (i = 0; i < 3; i++) {
    char name[32], argv[32], shard[8], log[32];
    apr_snprintf(name, sizeof(name), "worker-%d", i);
    apr_snprintf(argv, sizeof(argv), "--shard=%d", i);
    apr_snprintf(shard, sizeof(shard), "%d", i);
    apr_snprintf(log, sizeof(log), "worker-%d.log", i);
    w = svc(cfg, name);
    CU_ASSERT_PTR_EQUAL(APR_ARRAY_IDX(cfg->services, i, cfg_service_t *), w);
    CU_ASSERT_STRING_EQUAL(w->group, "worker");
    CU_ASSERT_EQUAL(w->instance, i);
    CU_ASSERT_EQUAL(w->instances, 3);
    CU_ASSERT_EQUAL(w->line, 3);
    CU_ASSERT_STRING_EQUAL(arg(w->args, 0), argv);
    CU_ASSERT_EQUAL(w->env->nelts, 2);
    CU_ASSERT_STRING_EQUAL(env_at(w, 0)->name, "VIGIL_INSTANCE");
    CU_ASSERT_STRING_EQUAL(env_at(w, 0)->value, shard);
    CU_ASSERT_STRING_EQUAL(env_at(w, 1)->name, "SHARD");
    CU_ASSERT_STRING_EQUAL(env_at(w, 1)->value,
                           apr_pstrcat(vg_test_pool, "s", shard, NULL));
    CU_ASSERT_STRING_EQUAL(w->log.out.name, log);
    CU_ASSERT_STRING_EQUAL(
        w->log.err.name,
        apr_pstrcat(vg_test_pool, name, ".err.log", NULL));
  }
  /* a single instance: plain name, ${VIGIL_INSTANCE} is 0, not in env */
  w = svc(cfg, "api");
  CU_ASSERT_STRING_EQUAL(arg(w->args, 0), "0");
  CU_ASSERT_EQUAL(w->env->nelts, 0);
  /* depending on a group means all of its instances; on one, that one */
  CU_ASSERT_EQUAL(w->depends_on->nelts, 3);
  CU_ASSERT_STRING_EQUAL(arg(w->depends_on, 0), "worker-0");
  CU_ASSERT_STRING_EQUAL(arg(w->depends_on, 2), "worker-2");
  w = svc(cfg, "one");
  CU_ASSERT_EQUAL(w->depends_on->nelts, 1);
  CU_ASSERT_STRING_EQUAL(arg(w->depends_on, 0), "worker-1");
}

static void test_instances_errors(void) {
  cfg_errors_t *errs = load_bad("instances_bad.xml", 3);
  expect(errs, 0, "instances_bad.xml", 3,
         "instances 'w-0' and 'w-1' both write the log file 'w.log'");
  expect(errs, 1, "instances_bad.xml", 8,
         "service name 'w-1' is already the name of an instance of service "
         "'w' (line 3)");
  expect(errs, 2, "instances_bad.xml", 13, "0 is out of range in "
                                           "<instances> (1 to 1000)");
}

/* ------------------------------------------------------------------------
 * Reload diff
 * --------------------------------------------------------------------- */

static const cfg_diff_entry_t *entry(const cfg_diff_t *d, const char *name) {
  int i;
  for (i = 0; i < d->entries->nelts; i++) {
    const cfg_diff_entry_t *e = &APR_ARRAY_IDX(d->entries, i,
                                               cfg_diff_entry_t);
    if (strcmp(e->name, name) == 0)
      return e;
  }
  fprintf(stderr, "\n    no diff entry '%s'\n", name);
  CU_FAIL_FATAL("entry");
  return NULL;
}

static void expect_change(const cfg_diff_t *d, const char *name,
                          cfg_change kind, unsigned fields) {
  const cfg_diff_entry_t *e = entry(d, name);
  if (e->kind != kind || e->fields != fields)
    fprintf(stderr, "\n    %s: %s [%s], expected %s [%s]\n", name,
            cfg_change_name(e->kind), cfg_fields_string(e->fields,
                                                        vg_test_pool),
            cfg_change_name(kind), cfg_fields_string(fields, vg_test_pool));
  CU_ASSERT_EQUAL(e->kind, kind);
  CU_ASSERT_EQUAL(e->fields, fields);
}

static void test_diff(void) {
  cfg_t *old_cfg = load_ok("diff_old.xml"), *new_cfg = load_ok("diff_new.xml");
  cfg_diff_t *d;
  const cfg_diff_entry_t *e;
  if (!old_cfg || !new_cfg)
    return;
  d = cfg_diff(old_cfg, new_cfg, vg_test_pool);

  expect_change(d, "keep", CFG_KEPT, 0);
  expect_change(d, "fresh", CFG_ADDED, 0);
  expect_change(d, "gone", CFG_REMOVED, 0);
  /* what the process was started with: restart */
  expect_change(d, "cmd", CFG_CHANGED, CFG_F_COMMAND);
  expect_change(d, "args", CFG_CHANGED, CFG_F_ARGS);
  expect_change(d, "envs", CFG_CHANGED, CFG_F_ENV);
  expect_change(d, "wd", CFG_CHANGED, CFG_F_WORKDIR);
  expect_change(d, "lim", CFG_CHANGED, CFG_F_LIMITS);
  expect_change(d, "stdio", CFG_CHANGED, CFG_F_STDIO | CFG_F_LOG);
  /* the supervisor's own behaviour: live */
  expect_change(d, "pol", CFG_UPDATED, CFG_F_RESTART);
  expect_change(d, "hc", CFG_UPDATED, CFG_F_HEALTH);
  expect_change(d, "lg", CFG_UPDATED, CFG_F_LOG);
  /* both kinds: the restart wins */
  expect_change(d, "both", CFG_CHANGED, CFG_F_ARGS | CFG_F_RESTART);
  /* instances 2 -> 3 */
  expect_change(d, "pool-0", CFG_KEPT, 0);
  expect_change(d, "pool-1", CFG_KEPT, 0);
  expect_change(d, "pool-2", CFG_ADDED, 0);

  CU_ASSERT_EQUAL(d->added, 2);
  CU_ASSERT_EQUAL(d->removed, 1);
  CU_ASSERT_EQUAL(d->changed, 7);
  CU_ASSERT_EQUAL(d->updated, 3);
  CU_ASSERT_EQUAL(d->kept, 3);
  CU_ASSERT_EQUAL(d->entries->nelts, 16);
  CU_ASSERT_EQUAL(d->supervisor, CFG_S_SHUTDOWN_TIMEOUT);
  /* new order first, removed last */
  e = &APR_ARRAY_IDX(d->entries, 0, cfg_diff_entry_t);
  CU_ASSERT_STRING_EQUAL(e->name, "fresh");
  CU_ASSERT_PTR_NULL(e->old_svc);
  e = &APR_ARRAY_IDX(d->entries, d->entries->nelts - 1, cfg_diff_entry_t);
  CU_ASSERT_STRING_EQUAL(e->name, "gone");
  CU_ASSERT_PTR_NULL(e->new_svc);
  CU_ASSERT_PTR_EQUAL(e->old_svc, cfg_service_find(old_cfg, "gone"));

  CU_ASSERT_STRING_EQUAL(cfg_fields_string(CFG_F_COMMAND | CFG_F_ENV |
                                               CFG_F_LOG, vg_test_pool),
                         "command,env,log");
  CU_ASSERT_STRING_EQUAL(cfg_change_name(CFG_UPDATED), "updated");

  /* a config against itself: all kept */
  d = cfg_diff(new_cfg, new_cfg, vg_test_pool);
  CU_ASSERT_EQUAL(d->kept, new_cfg->services->nelts);
  CU_ASSERT_EQUAL(d->supervisor, 0);
  cfg_destroy(old_cfg);
  cfg_destroy(new_cfg);
}

/* ------------------------------------------------------------------------
 * Reporting
 * --------------------------------------------------------------------- */

static void test_error_output(void) {
  cfg_errors_t *errs;
  cfg_error_t e;
  apr_file_t *f;
  char *path = apr_pstrcat(vg_test_pool, tmp_dir(), "/vigil-cfg-XXXXXX",
                           NULL);
  apr_size_t len;
  const char *text, *expected;
  char buf[64];

  e.file = "vigil.xml";
  e.line = 12;
  e.message = "bad thing";
  CU_ASSERT_STRING_EQUAL(cfg_error_format(&e, vg_test_pool),
                         "vigil.xml:12: error: bad thing");
  e.line = 0;
  CU_ASSERT_STRING_EQUAL(cfg_error_format(&e, vg_test_pool),
                         "vigil.xml: error: bad thing");

  errs = load_bad("bad_size.xml", 2);
  CU_ASSERT_FATAL(apr_file_mktemp(&f, path,
                                  APR_FOPEN_CREATE | APR_FOPEN_READ |
                                      APR_FOPEN_WRITE | APR_FOPEN_EXCL,
                                  vg_test_pool) == APR_SUCCESS);
  CU_ASSERT_EQUAL(cfg_errors_print(errs, f), APR_SUCCESS);
  apr_file_close(f);
  text = read_all(path, &len);
  apr_file_remove(path, vg_test_pool);
  expected = apr_psprintf(
      vg_test_pool,
      "%s:5: error: bad size '10XB' in attribute 'max-size' of <log> "
      "(expected bytes or a number with KB, MB, GB: 512KB, 10MB, 1GB)\n"
      "%s:6: error: bad size '256 MB' in attribute 'memory' of <limits> "
      "(expected bytes or a number with KB, MB, GB: 512KB, 10MB, 1GB)\n",
      data("bad_size.xml"), data("bad_size.xml"));
  CU_ASSERT_STRING_EQUAL(text, expected);

  /* A file that cannot be read: one problem, line 0. */
  errs = load_bad("no-such-file.xml", 1);
  expect(errs, 0, "no-such-file.xml", 0, "cannot read: ");
  CU_ASSERT_STRING_EQUAL(cfg_strerror(CFG_EINVALID, buf, sizeof(buf)),
                         "invalid configuration");

  /* The same problem added twice is kept once. */
  errs = cfg_errors_create(vg_test_pool);
  cfg_errors_add(errs, "a.xml", 3, "x %d", 1);
  cfg_errors_add(errs, "a.xml", 3, "x %d", 1);
  cfg_errors_add(errs, "a.xml", 4, "x %d", 1);
  CU_ASSERT_EQUAL(cfg_errors_count(errs), 2);
  CU_ASSERT_PTR_NULL(cfg_errors_get(errs, 2));
}

/* The reference (config/README.md) names every element and attribute the
 * schema knows, as `<element>` and as `attribute`: the user guide cannot
 * fall behind the XSD. */
static void collect_names(xmlNode *n, apr_array_header_t *els,
                          apr_array_header_t *atts) {
  for (; n; n = n->next) {
    if (n->type == XML_ELEMENT_NODE) {
      xmlChar *name = xmlGetProp(n, (const xmlChar *)"name");
      if (name) {
        if (xmlStrcmp(n->name, (const xmlChar *)"element") == 0)
          APR_ARRAY_PUSH(els, const char *) =
              apr_pstrdup(vg_test_pool, (const char *)name);
        else if (xmlStrcmp(n->name, (const xmlChar *)"attribute") == 0)
          APR_ARRAY_PUSH(atts, const char *) =
              apr_pstrdup(vg_test_pool, (const char *)name);
        xmlFree(name);
      }
      collect_names(n->children, els, atts);
    }
  }
}

static void test_reference_covers_schema(void) {
  size_t len;
  const char *xsd = cfg_schema_text(&len);
  const char *readme = config_readme();
  apr_array_header_t *els = apr_array_make(vg_test_pool, 64, sizeof(char *));
  apr_array_header_t *atts = apr_array_make(vg_test_pool, 64, sizeof(char *));
  char *text;
  xmlDoc *doc;
  int i;

  doc = xmlReadMemory(xsd, (int)len, "vigil.xsd", NULL, XML_PARSE_NONET);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  collect_names(xmlDocGetRootElement(doc), els, atts);
  xmlFreeDoc(doc);
  CU_ASSERT(els->nelts > 20);
  CU_ASSERT(atts->nelts > 20);

  text = read_text(readme);

  for (i = 0; i < els->nelts; i++) {
    const char *e = APR_ARRAY_IDX(els, i, const char *);
    const char *tag = apr_pstrcat(vg_test_pool, "<", e, NULL);
    if (!strstr(text, tag))
      fprintf(stderr, "config/README.md does not document <%s>\n", e);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, tag));
  }
  for (i = 0; i < atts->nelts; i++) {
    const char *a = APR_ARRAY_IDX(atts, i, const char *);
    const char *tick = apr_pstrcat(vg_test_pool, "`", a, NULL);
    const char *eq = apr_pstrcat(vg_test_pool, " ", a, "=", NULL);
    if (!strstr(text, tick) && !strstr(text, eq))
      fprintf(stderr, "config/README.md does not document %s=\n", a);
    CU_ASSERT(strstr(text, tick) != NULL || strstr(text, eq) != NULL);
  }
}

/* The one table of per-service options (config/fields.def) against
 * what it must agree with, so that an option cannot be half added: each
 * row is a child of <service> in the XSD and in config/README.md's table
 * (with "(once" and "required" as its flags say), and every CFG_F_* bit
 * that cfg.h defines is owned by exactly one row -- a bit no row owns
 * would never be compared on reload. */
typedef struct {
  const char *name;
  unsigned flags;
  unsigned bits[4];             /* CFG_F_* it owns, 0-terminated */
} field_row_t;

static const field_row_t field_rows[] = {
#define CFG__CHILD(name, content, attrs, required, children, flags, parse,  \
                   ...)                                                      \
  {name, flags, {__VA_ARGS__ 0}},
#define CFG__FIELD(bit, name, eq) bit,
#define CFG__NOFIELD
#include "../config/fields.def"
#undef CFG__CHILD
#undef CFG__FIELD
#undef CFG__NOFIELD
};

#define NROWS (sizeof(field_rows) / sizeof(field_rows[0]))

/* The line of the README's <service> table that documents <name>. */
static const char *readme_row(const char *text, const char *name,
                              apr_size_t *len) {
  const char *start = strstr(text, "## `<service name=\"NAME\">`");
  const char *end = start ? strstr(start, "\n#") : NULL;
  const char *key = apr_pstrcat(vg_test_pool, "\n| `<", name, NULL);
  const char *row = start ? strstr(start, key) : NULL;
  const char *nl;
  size_t kl = strlen(key);
  if (!row || (end && row > end) ||
      (row[kl] != '>' && row[kl] != ' ' && row[kl] != '`'))
    return NULL;
  row++;
  nl = strchr(row, '\n');
  *len = nl ? (apr_size_t)(nl - row) : strlen(row);
  return row;
}

static int row_has(const char *row, apr_size_t len, const char *word) {
  const char *w = strstr(apr_pstrmemdup(vg_test_pool, row, len), word);
  return w != NULL;
}

static void test_field_table(void) {
  size_t xlen, nfields, i, k;
  const char *xsd = cfg_schema_text(&xlen);
  const char *readme = read_text(config_readme());
  apr_size_t hlen;
  const char *hdr = read_all(data("../../../config/include/cfg.h"), &hlen);
  const cfg__field_t *fields = cfg__fields(&nfields);
  const cfg__elem_t *svc = cfg__vocab_elem("service");
  xmlDocPtr doc = xmlReadMemory(xsd, (int)xlen, "vigil.xsd", NULL, 0);
  xmlNodePtr choice, n;
  unsigned owned = 0, defined = 0;
  int nxsd = 0, nbits = 0;
  const char *p;

  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  CU_ASSERT_PTR_NOT_NULL_FATAL(svc);
  choice = xs_child(xs_type(xmlDocGetRootElement(doc), "service"), "choice");
  CU_ASSERT_PTR_NOT_NULL_FATAL(choice);

  /* The XSD's <service> children are the table's rows, in its order, and
   * the structural walk's. */
  for (n = choice->children; n; n = n->next) {
    const char *cn;
    if (n->type != XML_ELEMENT_NODE)
      continue;
    cn = prop(vg_test_pool, n, "name");
    if ((size_t)nxsd >= NROWS || strcmp(cn, field_rows[nxsd].name) != 0)
      fprintf(stderr, "\n    vigil.xsd's <service> child %d is <%s>, "
              "fields.def's is <%s>\n", nxsd, cn,
              (size_t)nxsd < NROWS ? field_rows[nxsd].name : "(none)");
    CU_ASSERT((size_t)nxsd < NROWS &&
              strcmp(cn, field_rows[nxsd].name) == 0);
    nxsd++;
  }
  CU_ASSERT_EQUAL((size_t)nxsd, NROWS);
  CU_ASSERT_EQUAL((size_t)list_len(svc->children), NROWS);
  xmlFreeDoc(doc);

  for (i = 0; i < NROWS; i++) {
    const field_row_t *r = &field_rows[i];
    const cfg__elem_t *def = cfg__vocab_elem(r->name);
    apr_size_t rlen = 0;
    const char *row = readme_row(readme, r->name, &rlen);
    CU_ASSERT_PTR_NOT_NULL(def);
    CU_ASSERT(cfg__vocab_has(svc->children, r->name));
    if (def)
      CU_ASSERT_EQUAL(def->flags & CFG__ONCE, r->flags & CFG__ONCE);
    if (!row)
      fprintf(stderr, "\n    config/README.md's <service> table has no "
              "row for <%s>\n", r->name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    CU_ASSERT_EQUAL(row_has(row, rlen, "(once"),
                    (r->flags & CFG__ONCE) != 0);
    CU_ASSERT_EQUAL(row_has(row, rlen, "required)"),
                    (r->flags & CFG__REQUIRED) != 0);
    for (k = 0; r->bits[k]; k++) {
      if (owned & r->bits[k])
        fprintf(stderr, "\n    bit %#x is owned twice (again by <%s>)\n",
                r->bits[k], r->name);
      CU_ASSERT_EQUAL(owned & r->bits[k], 0);
      /* one bit each */
      CU_ASSERT_EQUAL(r->bits[k] & (r->bits[k] - 1), 0);
      owned |= r->bits[k];
    }
  }

  /* Every "CFG_F_NAME = 1u << N" of cfg.h, read from its text: a bit
   * added there with no row fails here. */
  for (p = strstr(hdr, "CFG_F_"); p; p = strstr(p + 1, "CFG_F_")) {
    char name[64];
    unsigned shift;
    if (sscanf(p, "%63[A-Z_] = 1u << %u", name, &shift) != 2)
      continue;
    CU_ASSERT_FATAL(shift < 32);
    nbits++;
    CU_ASSERT_EQUAL(defined & (1u << shift), 0);
    defined |= 1u << shift;
    if (!(owned & (1u << shift)))
      fprintf(stderr, "\n    %s is owned by no row of config/fields.def\n",
              name);
    CU_ASSERT(owned & (1u << shift));
  }
  CU_ASSERT(nbits >= 13);
  CU_ASSERT_EQUAL(owned, defined);
  CU_ASSERT_EQUAL(CFG_F_NEEDS_RESTART & ~owned, 0);

  /* diff.c compares by the same table: one field per owned bit, each
   * with an equality function and its name in cfg_fields_string(). */
  CU_ASSERT_EQUAL(nfields, (size_t)nbits);
  for (i = 0; i < nfields; i++) {
    CU_ASSERT_PTR_NOT_NULL(fields[i].eq);
    CU_ASSERT(fields[i].bit & owned);
    CU_ASSERT_STRING_EQUAL(cfg_fields_string(fields[i].bit, vg_test_pool),
                           fields[i].name);
  }
}

/* <reload>: HUP by default; a signal or a command with its arguments and
 * timeout; every misuse reported at its line. */
static void test_reload_element(void) {
  const char *path;
  cfg_errors_t *errs;
  const cfg_service_t *s;
  cfg_t *cfg = ok_text(
      "<vigil>\n"
      "<service name='dflt'><command>/bin/a</command></service>\n"
      "<service name='sig'><command>/bin/a</command>"
      "<reload signal='sigusr2'/></service>\n"
      "<service name='cmd'><command>/bin/a</command>"
      "<reload timeout='5s'><command>/bin/r</command><arg> -s </arg>"
      "<arg>reload</arg></reload></service>\n"
      "</vigil>\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  s = svc(cfg, "dflt");
  CU_ASSERT_EQUAL(s->reload.signal, VG_SIGHUP);
  CU_ASSERT_PTR_NULL(s->reload.cmd.command);
  CU_ASSERT_EQUAL(s->reload.cmd.timeout_ms, 30000);
  CU_ASSERT_EQUAL(svc(cfg, "sig")->reload.signal, VG_SIGUSR2);
  s = svc(cfg, "cmd");
  CU_ASSERT_STRING_EQUAL(s->reload.cmd.command, "/bin/r");
  CU_ASSERT_EQUAL(s->reload.cmd.args->nelts, 2);
  CU_ASSERT_STRING_EQUAL(arg(s->reload.cmd.args, 0), " -s ");   /* verbatim */
  CU_ASSERT_STRING_EQUAL(arg(s->reload.cmd.args, 1), "reload");
  CU_ASSERT_EQUAL(s->reload.cmd.timeout_ms, 5000);

  errs = bad_text(
      "<vigil>\n"                                                    /* 1 */
      "<service name='a'><command>/bin/a</command>\n"                /* 2 */
      "<reload signal='RELOAD'/></service>\n"                        /* 3 */
      "<service name='b'><command>/bin/a</command>\n"                /* 4 */
      "<reload signal='HUP'><command>/bin/r</command></reload>\n"    /* 5 */
      "</service>\n"                                                 /* 6 */
      "<service name='c'><command>/bin/a</command>\n"                /* 7 */
      "<reload timeout='1s'/></service>\n"                           /* 8 */
      "<service name='d'><command>/bin/a</command>\n"                /* 9 */
      "<reload><arg>x</arg></reload></service>\n"                    /* 10 */
      "<service name='e'><command>/bin/a</command>\n"                /* 11 */
      "<reload timeout='0s'><command>/bin/r</command></reload>\n"    /* 12 */
      "</service>\n"                                                 /* 13 */
      "<service name='f'><command>/bin/a</command>\n"                /* 14 */
      "<reload><command> </command></reload></service>\n"            /* 15 */
      "<service name='g'><command>/bin/a</command>\n"                /* 16 */
      "<reload/><reload/></service>\n"                               /* 17 */
      "</vigil>\n",
      7, &path);
  expect_at(errs, 0, path, 3, "unknown signal 'RELOAD'");
  expect_at(errs, 1, path, 5, "a signal or a <command>, not both");
  expect_at(errs, 2, path, 8, "timeout in <reload> applies only to a "
                              "<command>");
  expect_at(errs, 3, path, 10, "<arg> in <reload> needs a <command>");
  expect_at(errs, 4, path, 12, "must be more than 0");
  expect_at(errs, 5, path, 15, "empty");
  expect_at(errs, 6, path, 17, "reload");
}

/* <on event>: under <supervisor> and per service, and what is refused. */
static void test_on_events(void) {
  cfg_t *cfg = load_ok("on_events.xml");
  const cfg_service_t *s;
  const cfg_on_t *o;
  cfg_errors_t *errs;
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg->on);
  CU_ASSERT_EQUAL_FATAL(cfg->on->nelts, 2);
  o = &APR_ARRAY_IDX(cfg->on, 0, cfg_on_t);
  CU_ASSERT_EQUAL(o->event, CFG_EVENT_FATAL);
  CU_ASSERT_STRING_EQUAL(o->cmd.command, "/usr/local/bin/page");
  CU_ASSERT_EQUAL(o->cmd.args->nelts, 1);
  CU_ASSERT_EQUAL(o->cmd.timeout_ms, 30000);
  o = &APR_ARRAY_IDX(cfg->on, 1, cfg_on_t);
  CU_ASSERT_EQUAL(o->event, CFG_EVENT_EXITED);
  CU_ASSERT_EQUAL(o->cmd.timeout_ms, 5000);
  s = cfg_service_find(cfg, "web");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL_FATAL(s->on->nelts, 1);
  CU_ASSERT_EQUAL(APR_ARRAY_IDX(s->on, 0, cfg_on_t).event,
                  CFG_EVENT_HEALTH_FAILED);
  errs = load_bad("bad_on.xml", 3);
  expect_at(errs, 0, data("bad_on.xml"), 4, "crashed");
  expect_at(errs, 1, data("bad_on.xml"), 8, "more than 0");
  expect_at(errs, 2, data("bad_on.xml"), 9, "<on> has no <command>");
}

/* The libxml2 that vigil links: the bundled build replaces the schema
 * date code's floor() (cmake/libxml2-nolibm.patch) so that vigil needs
 * no libm.  Its date and duration arithmetic must give what Debian's
 * libxml2 gives (these are its outputs, odd signs included: libxml2
 * 2.9.14's own), on negative, fractional and carrying values. */
static void test_libxml2_date_arithmetic(void) {
  static const struct {
    xmlSchemaValType type;
    const char *in, *canon;
  } cases[] = {
    {XML_SCHEMAS_DURATION, "P1Y13M", "-P2Y1M0DT0H0M0S"},
    {XML_SCHEMAS_DURATION, "-P0Y13M", "P1Y1M0DT0H0M0S"},
    {XML_SCHEMAS_DURATION, "PT90061S", "-P0Y0M0DT1H1M1S"},
    {XML_SCHEMAS_DURATION, "-PT90061.5S", "P0Y0M0DT1H1M1.5S"},
    {XML_SCHEMAS_DURATION, "P400DT25H", "-P0Y0M0DT1H0M0S"},
    {XML_SCHEMAS_DURATION, "PT0.75S", "-P0Y0M0DT0H0M0.75S"},
    {XML_SCHEMAS_DATETIME, "2024-02-28T23:30:00-05:00",
     "2024-02-29T04:30:00Z"},
    {XML_SCHEMAS_DATETIME, "1999-12-31T23:59:59.5+14:00",
     "1999-12-31T10:00:59.5Z"},
    {XML_SCHEMAS_DATETIME, "-0001-01-01T00:00:00Z", "-001-01-01T00:00:00Z"},
    {XML_SCHEMAS_DATETIME, "2024-03-01T00:30:00+02:00",
     "2024-02-29T22:30:00Z"},
  };
  size_t i;
  xmlSchemaInitTypes();
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    xmlSchemaValPtr v = NULL;
    const xmlChar *out = NULL;
    CU_ASSERT_EQUAL_FATAL(
        xmlSchemaValPredefTypeNode(xmlSchemaGetBuiltInType(cases[i].type),
                                   (const xmlChar *)cases[i].in, &v, NULL),
        0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL_FATAL(xmlSchemaGetCanonValue(v, &out), 0);
    if (strcmp((const char *)out, cases[i].canon) != 0)
      fprintf(stderr, "%s: %s, expected %s\n", cases[i].in,
              (const char *)out, cases[i].canon);
    CU_ASSERT_STRING_EQUAL((const char *)out, cases[i].canon);
    xmlFree((void *)out);
    xmlSchemaFreeValue(v);
  }
}

static CU_TestInfo config_tests[] = {
  {"<on event>", test_on_events},
  {"durations", test_durations},
  {"<reload>", test_reload_element},
  {"sizes", test_sizes},
  {"booleans, numbers, HOST:PORT", test_other_values},
  {"umask, nice, CPU lists", test_process_values},
  {"user, group, env-file, umask, nice, cpu-affinity", test_process_elements},
  {"substitution", test_subst},
  {"substitution of %NAME%", test_subst_percent},
  {"substitution of %NAME% in a file", test_subst_percent_file},
  {"substitution from the process environment", test_subst_process_env},
  {"the config/README.md example", test_readme_example},
  {"defaults", test_defaults},
  {"every element and attribute", test_every_element},
  {"supervisor paths", test_supervisor_paths},
  {"supervisor paths alone, leniently", test_supervisor_paths_lenient},
  {"the XSD is embedded", test_schema_embedded},
  {"the XSD is strict", test_schema_strict},
  {"the XSD and the vocabulary agree", test_schema_matches_vocabulary},
  {"not well-formed", test_not_well_formed},
  {"unknown element", test_unknown_element},
  {"unknown attribute", test_unknown_attribute},
  {"bad duration", test_bad_duration},
  {"bad size", test_bad_size},
  {"duplicate name", test_duplicate_name},
  {"bad name", test_bad_name},
  {"unknown depends-on", test_unknown_dependency},
  {"unknown depends-on: one suggestion among equals",
   test_unknown_dependency_tie},
  {"dependency cycle", test_dependency_cycle},
  {"unset variable", test_unset_variable},
  {"variable defaults", test_variable_defaults},
  {"all errors reported", test_all_errors_reported},
  {"structure problems", test_structure_problems},
  {"line numbers", test_line_numbers},
  {"value problems", test_value_problems},
  {"include", test_include},
  {"errors in included files", test_include_errors},
  {"include cycle", test_include_cycle},
  {"includes of FIFOs and devices", test_include_special_files},
  {"log file names", test_log_names},
  {"log daemons: syslog, journal, eventlog", test_log_daemons},
  {"instances", test_instances},
  {"instance problems", test_instances_errors},
  {"reload diff", test_diff},
  {"error output", test_error_output},
  {"the reference covers the schema", test_reference_covers_schema},
  {"the per-service field table", test_field_table},
  {"libxml2's date arithmetic (no libm)", test_libxml2_date_arithmetic},
  CU_TEST_INFO_NULL
};

CU_SuiteInfo config_suite = {
  .pName = "config",
  .pInitFunc = NULL,
  .pCleanupFunc = NULL,
  .pSetUpFunc = NULL,
  .pTearDownFunc = NULL,
  .pTests = config_tests
};
