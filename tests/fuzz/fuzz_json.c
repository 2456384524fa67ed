/*
 * fuzz_json.c -- libFuzzer harness for services/json.c.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -I services/include $(pkg-config --cflags apr-1) \
 *     tests/fuzz/fuzz_json.c services/json.c \
 *     $(pkg-config --libs apr-1) -lm -o fuzz_json
 *   ./fuzz_json -max_total_time=60 CORPUS_DIR
 *
 * Each input is used twice:
 *   1. as a JSON text: it must parse or fail cleanly (a JSON error code,
 *      NULL tree, offset <= size, a printable message).  What parses is
 *      written back (compact and spaced); both must parse, and writing
 *      the re-parsed tree must give the same text again (a fixed point).
 *   2. as the bytes of a string value and key: the writer's output must
 *      always parse, and the decoded string written again must give the
 *      same text (ill-formed UTF-8 is replaced once, then stable).
 * The input buffer is exactly `size` bytes, so ASan catches any read past
 * the end.  Any broken invariant aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "svc_json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *root;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "fuzz_json: %s:%d: check failed: %s\n", __FILE__,      \
              __LINE__, #cond);                                              \
      abort();                                                               \
    }                                                                        \
  } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != 0)
    abort();
  return 0;
}

static const char *write_value(const svc_json_t *v, unsigned flags,
                               apr_pool_t *pool) {
  svc_json_w_t w;
  const char *out = NULL;

  svc_json_w_init(&w, pool, flags);
  svc_json_w_value(&w, v);
  CHECK(svc_json_w_finish(&w, &out, NULL) == APR_SUCCESS);
  return out;
}

static svc_json_t *must_parse(const char *text, apr_pool_t *pool) {
  svc_json_t *v = NULL;
  svc_json_error_t err;
  apr_status_t rv = svc_json_parse(&v, text, strlen(text), pool, &err);
  if (rv != APR_SUCCESS)
    fprintf(stderr, "fuzz_json: own output rejected: %s\n", err.message);
  CHECK(rv == APR_SUCCESS && v != NULL);
  return v;
}

static void as_document(const uint8_t *data, size_t size, apr_pool_t *pool) {
  svc_json_t *v = (svc_json_t *)1;
  svc_json_error_t err;
  apr_status_t rv;
  const char *once, *s;

  rv = svc_json_parse(&v, (const char *)data, size, pool, &err);
  if (rv != APR_SUCCESS) {
    CHECK(rv == SVC_JSON_ESYNTAX || rv == SVC_JSON_EDEPTH);
    CHECK(v == NULL);
    CHECK(err.offset <= size);
    CHECK(err.message[0] != '\0');
    for (s = err.message; *s; s++)
      CHECK(*s >= 0x20 && *s < 0x7F);
    return;
  }
  CHECK(v != NULL);
  once = write_value(v, 0, pool);
  CHECK(strcmp(write_value(must_parse(once, pool), 0, pool), once) == 0);
  CHECK(strcmp(write_value(must_parse(write_value(v, SVC_JSON_W_SPACED,
                                                  pool), pool), 0, pool),
               once) == 0);
}

static void as_string(const uint8_t *data, size_t size, apr_pool_t *pool) {
  svc_json_w_t w;
  const char *once = NULL, *again = NULL, *s;
  svc_json_t *v;
  size_t n;

  svc_json_w_init(&w, pool, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_keyn(&w, (const char *)data, size);
  svc_json_w_stringn(&w, (const char *)data, size);
  svc_json_w_end_object(&w);
  CHECK(svc_json_w_finish(&w, &once, NULL) == APR_SUCCESS);
  v = must_parse(once, pool);
  CHECK(svc_json_size(v) == 1);
  s = svc_json_stringn(svc_json_at(v, 0), &n);
  CHECK(s != NULL);

  svc_json_w_init(&w, pool, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_keyn(&w, s, n);
  svc_json_w_stringn(&w, s, n);
  svc_json_w_end_object(&w);
  CHECK(svc_json_w_finish(&w, &again, NULL) == APR_SUCCESS);
  CHECK(strcmp(once, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  apr_pool_t *pool = NULL;

  if (apr_pool_create(&pool, root) != APR_SUCCESS)
    abort();
  as_document(data, size, pool);
  as_string(data, size, pool);
  apr_pool_destroy(pool);
  return 0;
}
