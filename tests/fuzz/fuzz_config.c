/*
 * fuzz_config.c -- libFuzzer harness for the configuration loader
 * (config/: libxml2 parse, the structural check and the embedded XSD,
 * ${VAR} / %VAR% substitution, value parsing, includes, the checks over
 * all files, and reload diffs).
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DVIGIL_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_config
 *   build-fuzz/tests/fuzz/fuzz_config -max_total_time=60 \
 *     -dict=tests/fuzz/config.dict CORPUS_DIR tests/fuzz/corpus-config
 *
 * Input: up to five files separated by NUL bytes (XML text cannot hold
 * a NUL, so no file is lost to the split).  They are written, each time,
 * into one private directory made at start (mkdtemp) with fixed names:
 *
 *   part 1  vigil.xml          the file loaded
 *   part 2  a.xml              for <include file="a.xml"/>
 *   part 3  conf.d/b.xml       for <include file="conf.d/?.xml"/>
 *   part 4  conf.d/c.xml
 *   part 5  sub/d.xml          for a relative include from an include
 *
 * A part that is absent is removed, so a pattern sees only this input's
 * files.  Real files, not an in-memory seam: includes go through the
 * loader's own path resolution, apr_dir_open() and the pattern matching,
 * which is what a user's config exercises; the names are fixed, so no
 * input can reach outside the directory through them.  (An input can
 * still name any absolute path in an <include>: the loader only reads
 * it, as `vigil validate` would.)
 *
 * Variables come from a fixed table, not the process environment, so a
 * run is reproducible anywhere.
 *
 * Checked for every input, besides what ASan and UBSan catch:
 *   - CFG_EINVALID with no config and at least one problem, each with a
 *     file, a line >= 0 and a message that formats; or APR_SUCCESS with
 *     a config, no problems, and every service named;
 *   - loading the same files again gives the same status, the same
 *     problems in the same order, and (on success) a diff against the
 *     first load that finds every service kept and no supervisor
 *     setting changed.
 * Any broken invariant aborts.
 */
#define _GNU_SOURCE 1   /* mkdtemp */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "cfg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "fuzz_config: %s:%d: check failed: %s\n", __FILE__,    \
              __LINE__, #cond);                                              \
      abort();                                                               \
    }                                                                        \
  } while (0)

static const char *const part_names[] = {"vigil.xml", "a.xml", "conf.d/b.xml",
                                         "conf.d/c.xml", "sub/d.xml"};
#define NPARTS (sizeof part_names / sizeof part_names[0])

static apr_pool_t *root;
static char dir[64];
static char paths[NPARTS][128];

static const char *const vars[][2] = {
    {"A", "a"},
    {"EMPTY", ""},
    {"PORT", "8080"},
    {"HOST", "127.0.0.1"},
    {"NAME", "svc"},
    {"DOLLAR", "${A}"},     /* values are not expanded again */
    {"PCT", "%A%"},
    {"ProgramFiles(x86)", "C:\\Program Files (x86)"},
    {NULL, NULL}};

static const char *fake_getenv(void *baton, const char *name,
                               apr_pool_t *pool) {
  int i;
  (void)baton;
  (void)pool;
  for (i = 0; vars[i][0]; i++)
    if (strcmp(vars[i][0], name) == 0)
      return vars[i][1];
  return NULL;
}

static const cfg_options_t opts = {fake_getenv, NULL};

static void cleanup(void) {
  size_t i;
  char sub[96];
  for (i = 0; i < NPARTS; i++)
    unlink(paths[i]);
  snprintf(sub, sizeof sub, "%s/conf.d", dir);
  rmdir(sub);
  snprintf(sub, sizeof sub, "%s/sub", dir);
  rmdir(sub);
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *tmp = getenv("TMPDIR");
  char sub[96];
  size_t i;
  (void)argc;
  (void)argv;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != 0)
    abort();
  if (!tmp || !*tmp || strlen(tmp) > 40)
    tmp = "/tmp";
  snprintf(dir, sizeof dir, "%s/fuzz-config-XXXXXX", tmp);
  CHECK(mkdtemp(dir) != NULL);
  snprintf(sub, sizeof sub, "%s/conf.d", dir);
  CHECK(mkdir(sub, 0700) == 0);
  snprintf(sub, sizeof sub, "%s/sub", dir);
  CHECK(mkdir(sub, 0700) == 0);
  for (i = 0; i < NPARTS; i++)
    snprintf(paths[i], sizeof paths[i], "%s/%s", dir, part_names[i]);
  atexit(cleanup);
  return 0;
}

/* Write the NUL-separated parts of the input to their files. */
static void write_parts(const uint8_t *data, size_t size) {
  size_t i, at = 0;
  for (i = 0; i < NPARTS; i++) {
    const uint8_t *nul;
    size_t n;
    FILE *f;
    if (at > size || (i > 0 && at == size)) {
      unlink(paths[i]);
      continue;
    }
    nul = memchr(data + at, 0, size - at);
    n = nul ? (size_t)(nul - (data + at)) : size - at;
    f = fopen(paths[i], "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data + at, 1, n, f) == n);
    CHECK(fclose(f) == 0);
    /* Past the end when there was no NUL: the next parts are absent. */
    at += n + 1;
  }
}

static void check_errors(apr_status_t rv, const cfg_t *cfg,
                         const cfg_errors_t *errs, apr_pool_t *pool) {
  int i, n = cfg_errors_count(errs);
  if (rv == APR_SUCCESS) {
    CHECK(cfg != NULL);
    CHECK(n == 0);
    for (i = 0; i < cfg->services->nelts; i++) {
      const cfg_service_t *s = APR_ARRAY_IDX(cfg->services, i,
                                             const cfg_service_t *);
      CHECK(s->name && s->name[0]);
      CHECK(cfg_service_find(cfg, s->name) == s);
    }
    return;
  }
  CHECK(rv == CFG_EINVALID);
  CHECK(cfg == NULL);
  CHECK(n > 0);
  for (i = 0; i < n; i++) {
    const cfg_error_t *e = cfg_errors_get(errs, i);
    CHECK(e && e->file && e->message && e->message[0]);
    CHECK(e->line >= 0);
    CHECK(cfg_error_format(e, pool) != NULL);
  }
}

static int same_errors(const cfg_errors_t *a, const cfg_errors_t *b) {
  int i, n = cfg_errors_count(a);
  if (n != cfg_errors_count(b))
    return 0;
  for (i = 0; i < n; i++) {
    const cfg_error_t *x = cfg_errors_get(a, i), *y = cfg_errors_get(b, i);
    if (x->line != y->line || strcmp(x->file, y->file) != 0 ||
        strcmp(x->message, y->message) != 0)
      return 0;
  }
  return 1;
}

static void print_errors(const char *what, const cfg_errors_t *errs,
                         apr_pool_t *pool) {
  int i;
  fprintf(stderr, "fuzz_config: %s:\n", what);
  for (i = 0; i < cfg_errors_count(errs); i++)
    fprintf(stderr, "  %s\n", cfg_error_format(cfg_errors_get(errs, i), pool));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  apr_pool_t *pool = NULL;
  cfg_t *cfg = NULL, *again = NULL;
  cfg_errors_t *errs = NULL, *errs2 = NULL;
  apr_status_t rv, rv2;

  if (apr_pool_create(&pool, root) != APR_SUCCESS)
    abort();
  write_parts(data, size);
  rv = cfg_load_ex(&cfg, paths[0], &opts, pool, &errs);
  check_errors(rv, cfg, errs, pool);
  rv2 = cfg_load_ex(&again, paths[0], &opts, pool, &errs2);
  if (rv2 != rv || !same_errors(errs, errs2)) {
    print_errors("first load", errs, pool);
    print_errors("second load", errs2, pool);
  }
  CHECK(rv2 == rv);
  CHECK(same_errors(errs, errs2));
  if (rv == APR_SUCCESS) {
    cfg_diff_t *d = cfg_diff(cfg, again, pool);
    CHECK(d->kept == cfg->services->nelts);
    CHECK(d->added == 0 && d->removed == 0 && d->changed == 0 &&
          d->updated == 0);
    CHECK(d->supervisor == 0);
    cfg_destroy(again);
    cfg_destroy(cfg);
  }
  apr_pool_destroy(pool);
  return 0;
}
