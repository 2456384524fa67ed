/*
 * test_json.c -- the strict JSON parser and writer (services/json.c).
 *
 * Inputs that must be rejected are parsed from heap buffers of exactly
 * their length (malloc, not a pool), so that under ASan or valgrind any
 * read past `len` is caught.  The writer is checked by round trip:
 * parse(write(s)) == s for tricky strings, and write(parse(doc)) is a
 * fixed point.  The mutation test runs 10,000 deterministic mutants of a
 * valid document through parse and, when they parse, a write/re-parse
 * round trip.
 */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "test.h"
#include "svc_json.h"

/* A pool per test, so each starts from nothing. */
static apr_pool_t *new_pool(void) {
  apr_pool_t *pool = NULL;
  CU_ASSERT_FATAL(apr_pool_create(&pool, vg_test_pool) == APR_SUCCESS);
  return pool;
}

/* Parse s[0..len) from an exact-size heap copy. */
static apr_status_t parse_exact(svc_json_t **out, const char *s, size_t len,
                                const svc_json_limits_t *lim,
                                apr_pool_t *pool, svc_json_error_t *err) {
  char *copy = malloc(len ? len : 1);
  apr_status_t rv;

  CU_ASSERT_FATAL(copy != NULL);
  memcpy(copy, s, len);
  rv = svc_json_parse_ex(out, copy, len, lim, pool, err);
  free(copy);
  return rv;
}

static svc_json_t *parse_ok(const char *s, apr_pool_t *pool) {
  svc_json_t *v = NULL;
  svc_json_error_t err;
  apr_status_t rv = parse_exact(&v, s, strlen(s), NULL, pool, &err);
  if (rv != APR_SUCCESS)
    fprintf(stderr, "\n  parse of <%s> failed: %s\n", s, err.message);
  CU_ASSERT_EQUAL(rv, APR_SUCCESS);
  return v;
}

/* Serialise a tree compactly (the canonical form used for comparisons). */
static const char *write_tree(const svc_json_t *v, apr_pool_t *pool) {
  svc_json_w_t w;
  const char *out = NULL;

  svc_json_w_init(&w, pool, 0);
  svc_json_w_value(&w, v);
  CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, NULL), APR_SUCCESS);
  return out;
}

/* ------------------------------------------------------------------------
 * Parser: accepted input
 * --------------------------------------------------------------------- */

static void test_json_scalars(void) {
  apr_pool_t *pool = new_pool();
  svc_json_t *v;
  int b = -1;
  int64_t i = -1;
  double d = -1;

  v = parse_ok("null", pool);
  CU_ASSERT_EQUAL(svc_json_type(v), SVC_JSON_NULL);
  CU_ASSERT(svc_json_is_null(v));
  CU_ASSERT(!svc_json_bool(v, &b));
  CU_ASSERT(!svc_json_int(v, &i));
  CU_ASSERT_PTR_NULL(svc_json_string(v));

  v = parse_ok(" \t\r\ntrue\n", pool);
  CU_ASSERT(svc_json_bool(v, &b) && b == 1);
  CU_ASSERT(!svc_json_is_null(v));
  v = parse_ok("false", pool);
  CU_ASSERT(svc_json_bool(v, &b) && b == 0);
  CU_ASSERT_STRING_EQUAL(svc_json_type_name(svc_json_type(v)), "bool");

  v = parse_ok("\"hi\"", pool);
  CU_ASSERT_STRING_EQUAL(svc_json_string(v), "hi");
  CU_ASSERT(!svc_json_double(v, &d));
  CU_ASSERT_PTR_NULL(svc_json_number_lexeme(v, NULL));
  CU_ASSERT_EQUAL(svc_json_size(v), 0);
  CU_ASSERT_PTR_NULL(svc_json_at(v, 0));
  CU_ASSERT_PTR_NULL(svc_json_get(v, "x"));

  /* NULL is accepted everywhere, so lookups chain. */
  CU_ASSERT_EQUAL(svc_json_type(NULL), SVC_JSON_NULL);
  CU_ASSERT(!svc_json_is_null(NULL));
  CU_ASSERT(!svc_json_int(NULL, &i));
  CU_ASSERT(!svc_json_bool(NULL, &b));
  CU_ASSERT_PTR_NULL(svc_json_string(NULL));
  CU_ASSERT_PTR_NULL(svc_json_get(NULL, "a"));
  CU_ASSERT_PTR_NULL(svc_json_key_at(NULL, 0, NULL));
  apr_pool_destroy(pool);
}

static void test_json_numbers(void) {
  apr_pool_t *pool = new_pool();
  svc_json_t *v;
  int64_t i;
  uint64_t u;
  double d;
  size_t len;

  v = parse_ok("0", pool);
  CU_ASSERT(svc_json_int(v, &i) && i == 0);
  v = parse_ok("-0", pool);
  CU_ASSERT(svc_json_int(v, &i) && i == 0);
  CU_ASSERT(svc_json_uint(v, &u) && u == 0);
  CU_ASSERT(svc_json_double(v, &d) && d == 0 && signbit(d));
  v = parse_ok("-42", pool);
  CU_ASSERT(svc_json_int(v, &i) && i == -42);
  CU_ASSERT(!svc_json_uint(v, &u));
  CU_ASSERT(svc_json_double(v, &d) && d == -42.0);

  v = parse_ok("9223372036854775807", pool);
  CU_ASSERT(svc_json_int(v, &i) && i == INT64_MAX);
  v = parse_ok("-9223372036854775808", pool);
  CU_ASSERT(svc_json_int(v, &i) && i == INT64_MIN);
  v = parse_ok("9223372036854775808", pool);
  CU_ASSERT(!svc_json_int(v, &i));
  CU_ASSERT(svc_json_uint(v, &u) && u == (uint64_t)INT64_MAX + 1);
  v = parse_ok("-9223372036854775809", pool);
  CU_ASSERT(!svc_json_int(v, &i));
  CU_ASSERT(svc_json_double(v, &d) && d == -9223372036854775808.0);
  v = parse_ok("18446744073709551615", pool);
  CU_ASSERT(svc_json_uint(v, &u) && u == UINT64_MAX);

  /* Beyond 64 bits: still a number, as a double, lexeme kept. */
  v = parse_ok("18446744073709551616", pool);
  CU_ASSERT(!svc_json_uint(v, &u));
  CU_ASSERT(svc_json_double(v, &d) && d == 18446744073709551616.0);
  v = parse_ok("123456789012345678901234567890", pool);
  CU_ASSERT(!svc_json_int(v, &i));
  CU_ASSERT(svc_json_double(v, &d) && d == 1.2345678901234568e29);
  CU_ASSERT_STRING_EQUAL(svc_json_number_lexeme(v, &len),
                         "123456789012345678901234567890");
  CU_ASSERT_EQUAL(len, 30);
  v = parse_ok("1e400", pool);
  CU_ASSERT(svc_json_double(v, &d) && isinf(d) && d > 0);
  CU_ASSERT_STRING_EQUAL(svc_json_number_lexeme(v, NULL), "1e400");
  v = parse_ok("-1E+400", pool);
  CU_ASSERT(svc_json_double(v, &d) && isinf(d) && d < 0);
  v = parse_ok("1e-400", pool);
  CU_ASSERT(svc_json_double(v, &d) && d == 0);
  CU_ASSERT_STRING_EQUAL(write_tree(v, pool), "1e-400");

  /* Fractions and exponents are never "exact integers". */
  v = parse_ok("1.0", pool);
  CU_ASSERT(!svc_json_int(v, &i));
  CU_ASSERT(svc_json_double(v, &d) && d == 1.0);
  v = parse_ok("1e2", pool);
  CU_ASSERT(!svc_json_int(v, &i));
  CU_ASSERT(svc_json_double(v, &d) && d == 100.0);
  v = parse_ok("-0.5e-3", pool);
  CU_ASSERT(svc_json_double(v, &d) && d == -0.0005);
  v = parse_ok("0.1", pool);
  CU_ASSERT(svc_json_double(v, &d) && d == 0.1);
  v = parse_ok("2.2250738585072014E-308", pool);
  CU_ASSERT(svc_json_double(v, &d) && d == 2.2250738585072014E-308);
  CU_ASSERT_STRING_EQUAL(svc_json_number_lexeme(v, NULL),
                         "2.2250738585072014E-308");
  apr_pool_destroy(pool);
}

static void test_json_strings(void) {
  apr_pool_t *pool = new_pool();
  svc_json_t *v;
  const char *s;
  size_t len;

  v = parse_ok("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", pool);
  CU_ASSERT_STRING_EQUAL(svc_json_string(v), "a\"b\\c/d\be\ff\ng\rh\ti");
  v = parse_ok("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"", pool);
  CU_ASSERT_STRING_EQUAL(svc_json_string(v),
                         "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  v = parse_ok("\"\\uDBFF\\uDFFF\"", pool);          /* U+10FFFF */
  CU_ASSERT_STRING_EQUAL(svc_json_string(v), "\xF4\x8F\xBF\xBF");
  /* Raw UTF-8 of every length passes through. */
  v = parse_ok("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xEF\xBF\xBF\x7F\"",
               pool);
  CU_ASSERT_STRING_EQUAL(svc_json_string(v),
                         "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xEF\xBF\xBF"
                         "\x7F");
  v = parse_ok("\"\"", pool);
  CU_ASSERT(svc_json_stringn(v, &len) != NULL && len == 0);

  /* U+0000 is legal JSON, but svc_json_string() refuses to let it
   * truncate a value; svc_json_stringn() has the whole string. */
  v = parse_ok("\"web\\u0000x\"", pool);
  CU_ASSERT_PTR_NULL(svc_json_string(v));
  s = svc_json_stringn(v, &len);
  CU_ASSERT(s != NULL && len == 5 && memcmp(s, "web\0x", 6) == 0);
  apr_pool_destroy(pool);
}

static void test_json_containers(void) {
  apr_pool_t *pool = new_pool();
  svc_json_t *v, *e;
  const char *k;
  size_t len;
  int64_t i;
  char *doc;
  int n;

  v = parse_ok("[]", pool);
  CU_ASSERT_EQUAL(svc_json_type(v), SVC_JSON_ARRAY);
  CU_ASSERT_EQUAL(svc_json_size(v), 0);
  CU_ASSERT_PTR_NULL(svc_json_at(v, 0));
  v = parse_ok("{ }", pool);
  CU_ASSERT_EQUAL(svc_json_type(v), SVC_JSON_OBJECT);
  CU_ASSERT_EQUAL(svc_json_size(v), 0);

  v = parse_ok(" [ 1 , \"two\" , [ ] , { \"x\" : null } , true ] ", pool);
  CU_ASSERT_EQUAL(svc_json_size(v), 5);
  CU_ASSERT(svc_json_int(svc_json_at(v, 0), &i) && i == 1);
  CU_ASSERT_STRING_EQUAL(svc_json_string(svc_json_at(v, 1)), "two");
  CU_ASSERT_EQUAL(svc_json_type(svc_json_at(v, 2)), SVC_JSON_ARRAY);
  CU_ASSERT(svc_json_is_null(svc_json_get(svc_json_at(v, 3), "x")));
  CU_ASSERT_PTR_NULL(svc_json_at(v, 5));

  /* Members keep their order; keys may be any string. */
  v = parse_ok("{\"z\":1,\"a\":2,\"\":3,\"k\\u0000\":4,\"m\":{\"n\":[5]}}",
               pool);
  CU_ASSERT_EQUAL(svc_json_size(v), 5);
  CU_ASSERT_STRING_EQUAL(svc_json_key_at(v, 0, NULL), "z");
  CU_ASSERT_STRING_EQUAL(svc_json_key_at(v, 1, NULL), "a");
  CU_ASSERT_STRING_EQUAL(svc_json_key_at(v, 2, &len), "");
  CU_ASSERT_EQUAL(len, 0);
  k = svc_json_key_at(v, 3, &len);
  CU_ASSERT(k != NULL && len == 2 && memcmp(k, "k\0", 3) == 0);
  CU_ASSERT_PTR_NULL(svc_json_key_at(v, 5, NULL));
  CU_ASSERT(svc_json_int(svc_json_get(v, "a"), &i) && i == 2);
  CU_ASSERT(svc_json_int(svc_json_get(v, ""), &i) && i == 3);
  CU_ASSERT(svc_json_int(svc_json_at(v, 0), &i) && i == 1);
  CU_ASSERT_PTR_NULL(svc_json_get(v, "k"));          /* not "k\0" */
  CU_ASSERT(svc_json_int(svc_json_getn(v, "k\0", 2), &i) && i == 4);
  CU_ASSERT_PTR_NULL(svc_json_get(v, "missing"));
  e = svc_json_at(svc_json_get(svc_json_get(v, "m"), "n"), 0);
  CU_ASSERT(svc_json_int(e, &i) && i == 5);

  /* A large object (hash index): every key found, order kept. */
  doc = apr_pstrdup(pool, "{");
  for (n = 0; n < 200; n++)
    doc = apr_psprintf(pool, "%s%s\"key%d\":%d", doc, n ? "," : "", n, n);
  doc = apr_pstrcat(pool, doc, "}", NULL);
  v = parse_ok(doc, pool);
  CU_ASSERT_EQUAL(svc_json_size(v), 200);
  for (n = 0; n < 200; n++) {
    char key[16];
    apr_snprintf(key, sizeof(key), "key%d", n);
    CU_ASSERT(svc_json_int(svc_json_get(v, key), &i) && i == n);
    CU_ASSERT_STRING_EQUAL(svc_json_key_at(v, (size_t)n, NULL), key);
  }
  CU_ASSERT_PTR_NULL(svc_json_get(v, "key200"));
  apr_pool_destroy(pool);
}

/* Duplicate keys are an error, before and after the hash index starts. */
static void test_json_duplicates(void) {
  apr_pool_t *pool = new_pool();
  svc_json_t *v = NULL;
  svc_json_error_t err;
  const char *doc;
  int n, dup;

  doc = "{\"a\":1,\"b\":2,\"a\":3}";
  CU_ASSERT_EQUAL(svc_json_parse(&v, doc, strlen(doc), pool, &err),
                  SVC_JSON_ESYNTAX);
  CU_ASSERT_PTR_NULL(v);
  CU_ASSERT_EQUAL(err.offset, 13);
  CU_ASSERT_STRING_EQUAL(err.message, "duplicate key at offset 13");
  /* Same key spelled with an escape. */
  doc = "{\"ab\":1,\"a\\u0062\":2}";
  CU_ASSERT_EQUAL(svc_json_parse(&v, doc, strlen(doc), pool, &err),
                  SVC_JSON_ESYNTAX);
  /* Keys that differ only after a NUL are different keys. */
  v = parse_ok("{\"a\\u0000b\":1,\"a\\u0000c\":2,\"a\":3}", pool);
  CU_ASSERT_EQUAL(svc_json_size(v), 3);

  for (dup = 0; dup < 30; dup += 3) {
    char *big = apr_pstrdup(pool, "{");
    for (n = 0; n < 30; n++)
      big = apr_psprintf(pool, "%s\"k%d\":%d,", big, n, n);
    big = apr_psprintf(pool, "%s\"k%d\":0}", big, dup);
    CU_ASSERT_EQUAL(svc_json_parse(&v, big, strlen(big), pool, &err),
                    SVC_JSON_ESYNTAX);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "duplicate key"));
  }
  apr_pool_destroy(pool);
}

/* ------------------------------------------------------------------------
 * Parser: rejected input
 * --------------------------------------------------------------------- */

typedef struct {
  const char *text;
  size_t len;                 /* 0: strlen(text) */
  apr_status_t rv;
  size_t offset;
  const char *message;        /* exact */
} bad_case_t;

#define E SVC_JSON_ESYNTAX

static const bad_case_t bad_cases[] = {
  /* empty */
  {"", 0, E, 0, "empty input"},
  {" \n\t\r ", 0, E, 5, "empty input"},
  /* truncated */
  {"[1,2", 0, E, 4, "truncated at offset 4"},
  {"[1,2,", 0, E, 5, "truncated at offset 5"},
  {"{\"a\":", 0, E, 5, "truncated at offset 5"},
  {"{\"a\"", 0, E, 4, "truncated at offset 4"},
  {"{\"a", 0, E, 3, "truncated at offset 3"},
  {"{", 0, E, 1, "truncated at offset 1"},
  {"\"abc", 0, E, 4, "truncated at offset 4"},
  {"\"abc\\", 0, E, 5, "truncated at offset 5"},
  {"\"\\u12", 0, E, 5, "truncated at offset 5"},
  {"\"\\ud83d", 0, E, 7, "truncated at offset 7"},
  {"\"\\ud83d\\", 0, E, 8, "truncated at offset 8"},
  {"\"\\ud83d\\ude0", 0, E, 12, "truncated at offset 12"},
  {"\"\xF0\x9F\x98", 0, E, 4, "truncated at offset 4"},
  {"tru", 0, E, 3, "truncated at offset 3"},
  {"nul", 0, E, 3, "truncated at offset 3"},
  {"-", 0, E, 1, "truncated at offset 1"},
  {"1e", 0, E, 2, "truncated at offset 2"},
  {"1e+", 0, E, 3, "truncated at offset 3"},
  {"1.", 0, E, 2, "truncated at offset 2"},
  /* bad escapes */
  {"\"\\x\"", 0, E, 1, "invalid escape '\\x' at offset 1"},
  {"\"\\U0041\"", 0, E, 1, "invalid escape '\\U' at offset 1"},
  {"\"\\'\"", 0, E, 1, "invalid escape '\\'' at offset 1"},
  {"\"\\\x01\"", 0, E, 1, "invalid escape at offset 1"},
  {"\"ab\\u12G4\"", 0, E, 3, "invalid \\u escape at offset 3"},
  {"\"\\u-123\"", 0, E, 1, "invalid \\u escape at offset 1"},
  /* bad UTF-8 */
  {"\"\xC3(\"", 0, E, 1, "invalid UTF-8 at offset 1"},
  {"\"\xC0\xAF\"", 0, E, 1, "invalid UTF-8 at offset 1"},      /* overlong */
  {"\"\xC1\xBF\"", 0, E, 1, "invalid UTF-8 at offset 1"},
  {"\"\xE0\x80\xAF\"", 0, E, 1, "invalid UTF-8 at offset 1"},
  {"\"\xF0\x80\x80\xAF\"", 0, E, 1, "invalid UTF-8 at offset 1"},
  {"\"\xED\xA0\x80\"", 0, E, 1, "invalid UTF-8 at offset 1"}, /* D800 */
  {"\"\xED\xBF\xBF\"", 0, E, 1, "invalid UTF-8 at offset 1"}, /* DFFF */
  {"\"\xF4\x90\x80\x80\"", 0, E, 1, "invalid UTF-8 at offset 1"},
  {"\"\xF5\x80\x80\x80\"", 0, E, 1, "invalid UTF-8 at offset 1"},
  {"\"a\x80\"", 0, E, 2, "invalid UTF-8 at offset 2"},
  {"\"\xFF\"", 0, E, 1, "invalid UTF-8 at offset 1"},
  {"\"\xFE\xFF\"", 0, E, 1, "invalid UTF-8 at offset 1"},
  {"\"\xE2\x82\"", 0, E, 1, "invalid UTF-8 at offset 1"},
  /* lone surrogates */
  {"\"\\ud800\"", 0, E, 1, "unpaired surrogate at offset 1"},
  {"\"\\udc00\"", 0, E, 1, "unpaired surrogate at offset 1"},
  {"\"x\\uDFFF\\uD800\"", 0, E, 2, "unpaired surrogate at offset 2"},
  {"\"\\ud800\\u0041\"", 0, E, 1, "unpaired surrogate at offset 1"},
  {"\"\\ud800\\ud800\"", 0, E, 1, "unpaired surrogate at offset 1"},
  {"\"\\ud800x\"", 0, E, 1, "unpaired surrogate at offset 1"},
  {"\"\\ud800\\n\"", 0, E, 1, "unpaired surrogate at offset 1"},
  /* numbers */
  {"01", 0, E, 0, "leading zero at offset 0"},
  {"-01", 0, E, 1, "leading zero at offset 1"},
  {"00", 0, E, 0, "leading zero at offset 0"},
  {"[1,012]", 0, E, 3, "leading zero at offset 3"},
  {"1.]", 0, E, 2, "unexpected character ']' at offset 2"},
  {"[1.]", 0, E, 3, "unexpected character ']' at offset 3"},
  {"1.e5", 0, E, 2, "unexpected character 'e' at offset 2"},
  {".5", 0, E, 0, "unexpected character '.' at offset 0"},
  {"+1", 0, E, 0, "unexpected character '+' at offset 0"},
  {"-a", 0, E, 1, "unexpected character 'a' at offset 1"},
  {"1e+x", 0, E, 3, "unexpected character 'x' at offset 3"},
  {"0x10", 0, E, 1, "trailing garbage at offset 1"},
  {"NaN", 0, E, 0, "unexpected character 'N' at offset 0"},
  {"nan", 0, E, 1, "unexpected character 'a' at offset 1"},
  {"Infinity", 0, E, 0, "unexpected character 'I' at offset 0"},
  {"-Infinity", 0, E, 1, "unexpected character 'I' at offset 1"},
  {"[NaN]", 0, E, 1, "unexpected character 'N' at offset 1"},
  /* trailing commas, missing elements */
  {"[1,]", 0, E, 3, "trailing comma at offset 3"},
  {"[1, ]", 0, E, 4, "trailing comma at offset 4"},
  {"{\"a\":1,}", 0, E, 7, "trailing comma at offset 7"},
  {"[,1]", 0, E, 1, "unexpected character ',' at offset 1"},
  {"[1,,2]", 0, E, 3, "unexpected character ',' at offset 3"},
  {"[1 2]", 0, E, 3, "unexpected character '2' at offset 3"},
  {"{\"a\":1 \"b\":2}", 0, E, 7, "unexpected character '\"' at offset 7"},
  {"{,}", 0, E, 1, "unexpected character ',' at offset 1"},
  /* keys */
  {"{a:1}", 0, E, 1, "unexpected character 'a' at offset 1"},
  {"{'a':1}", 0, E, 1, "unexpected character ''' at offset 1"},
  {"{1:1}", 0, E, 1, "unexpected character '1' at offset 1"},
  {"{\"a\" 1}", 0, E, 5, "unexpected character '1' at offset 5"},
  {"{\"a\"=1}", 0, E, 4, "unexpected character '=' at offset 4"},
  {"{\"a\":}", 0, E, 5, "unexpected character '}' at offset 5"},
  /* control characters */
  {"\"a\nb\"", 0, E, 2, "control character 0x0a in string at offset 2"},
  {"\"\t\"", 0, E, 1, "control character 0x09 in string at offset 1"},
  {"\"\x1f\"", 0, E, 1, "control character 0x1f in string at offset 1"},
  {"\"a\0b\"", 5, E, 2, "control character 0x00 in string at offset 2"},
  {"\0", 1, E, 0, "unexpected byte 0x00 at offset 0"},
  {"[1,\0]", 5, E, 3, "unexpected byte 0x00 at offset 3"},
  /* literals and other junk */
  {"True", 0, E, 0, "unexpected character 'T' at offset 0"},
  {"trUe", 0, E, 2, "unexpected character 'U' at offset 2"},
  {"nulll", 0, E, 4, "trailing garbage at offset 4"},
  {"undefined", 0, E, 0, "unexpected character 'u' at offset 0"},
  {"'a'", 0, E, 0, "unexpected character ''' at offset 0"},
  {"\xEF\xBB\xBF{}", 0, E, 0, "unexpected byte 0xef at offset 0"},
  {"// c\n1", 0, E, 0, "unexpected character '/' at offset 0"},
  {"1 /* c */", 0, E, 2, "trailing garbage at offset 2"},
  {"\v1", 0, E, 0, "unexpected byte 0x0b at offset 0"},
  {"\f1", 0, E, 0, "unexpected byte 0x0c at offset 0"},
  {"\xC2\xA0" "1", 0, E, 0, "unexpected byte 0xc2 at offset 0"},
  /* trailing garbage */
  {"1 2", 0, E, 2, "trailing garbage at offset 2"},
  {"{} x", 0, E, 3, "trailing garbage at offset 3"},
  {"null null", 0, E, 5, "trailing garbage at offset 5"},
  {"[]]", 0, E, 2, "trailing garbage at offset 2"},
  {"\"a\"\"b\"", 0, E, 3, "trailing garbage at offset 3"},
  {"{}\0", 3, E, 2, "trailing garbage at offset 2"},
  {"1\n\n{", 0, E, 3, "trailing garbage at offset 3"},
  /* unbalanced */
  {"]", 0, E, 0, "unexpected character ']' at offset 0"},
  {"[}", 0, E, 1, "unexpected character '}' at offset 1"},
  {"{]", 0, E, 1, "unexpected character ']' at offset 1"},
  {"[1}", 0, E, 2, "unexpected character '}' at offset 2"},
  {NULL, 0, 0, 0, NULL}
};

#undef E

static void test_json_malformed(void) {
  apr_pool_t *pool = new_pool();
  const bad_case_t *c;

  for (c = bad_cases; c->text != NULL; c++) {
    svc_json_t *v = (svc_json_t *)1;
    svc_json_error_t err;
    size_t len = c->len ? c->len : strlen(c->text);
    apr_status_t rv = parse_exact(&v, c->text, len, NULL, pool, &err);

    if (rv != c->rv || err.offset != c->offset ||
        strcmp(err.message, c->message) != 0)
      fprintf(stderr, "\n  case %d: rv %d offset %d \"%s\" (want \"%s\")",
              (int)(c - bad_cases), (int)rv, (int)err.offset, err.message,
              c->message);
    CU_ASSERT_EQUAL(rv, c->rv);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(err.offset, c->offset);
    CU_ASSERT_STRING_EQUAL(err.message, c->message);
  }
  apr_pool_destroy(pool);
}

/* Every proper prefix of a document is "truncated" at its own length, and
 * no parse reads past the end (exact heap copies; ASan and valgrind). */
static void test_json_prefixes(void) {
  static const char doc[] =
      "{\"a\": [1, -2.5e+3, true, false, null, \"x\\u00e9\\ud83d\\ude00\xC3"
      "\xA9\"], \"b\": {\"c\": {}}, \"d\": []}";
  apr_pool_t *pool = new_pool();
  size_t n, len = sizeof(doc) - 1;

  for (n = 0; n < len; n++) {
    svc_json_t *v = NULL;
    svc_json_error_t err;
    apr_status_t rv = parse_exact(&v, doc, n, NULL, pool, &err);

    CU_ASSERT_EQUAL(rv, SVC_JSON_ESYNTAX);
    CU_ASSERT_EQUAL(err.offset, n);
    if (n > 0 && strncmp(err.message, "truncated", 9) != 0)
      fprintf(stderr, "\n  prefix %d: %s", (int)n, err.message);
    CU_ASSERT(n == 0 || strncmp(err.message, "truncated", 9) == 0);
  }
  CU_ASSERT_PTR_NOT_NULL(parse_ok(doc, pool));
  apr_pool_destroy(pool);
}

static char *nest(apr_pool_t *pool, int depth, char open, char close) {
  char *s = apr_palloc(pool, (size_t)depth * 2 + 1);
  memset(s, open, (size_t)depth);
  memset(s + depth, close, (size_t)depth);
  s[depth * 2] = '\0';
  return s;
}

static void test_json_limits(void) {
  apr_pool_t *pool = new_pool();
  svc_json_t *v = NULL;
  svc_json_error_t err;
  svc_json_limits_t lim;
  char *s, *big;
  size_t size;

  /* Default depth: 32 levels parse, 33 do not. */
  CU_ASSERT_PTR_NOT_NULL(parse_ok(nest(pool, 32, '[', ']'), pool));
  s = nest(pool, 33, '[', ']');
  CU_ASSERT_EQUAL(parse_exact(&v, s, strlen(s), NULL, pool, &err),
                  SVC_JSON_EDEPTH);
  CU_ASSERT_EQUAL(err.offset, 32);
  CU_ASSERT_STRING_EQUAL(err.message,
                         "nesting too deep (limit 32) at offset 32");
  s = apr_pstrdup(pool, "{\"a\":{\"a\":{\"a\":{\"a\":1}}}}");
  memset(&lim, 0, sizeof(lim));
  lim.max_depth = 3;
  CU_ASSERT_EQUAL(parse_exact(&v, s, strlen(s), &lim, pool, &err),
                  SVC_JSON_EDEPTH);
  CU_ASSERT_EQUAL(err.offset, 15);
  lim.max_depth = 4;
  CU_ASSERT_EQUAL(parse_exact(&v, s, strlen(s), &lim, pool, &err),
                  APR_SUCCESS);

  /* A huge max_depth is clamped, so the parser's recursion stays bounded
   * (and an unterminated deep prefix fails on depth, not the stack). */
  lim.max_depth = 100000;
  s = nest(pool, SVC_JSON_MAX_DEPTH_CAP, '[', ']');
  CU_ASSERT_EQUAL(parse_exact(&v, s, strlen(s), &lim, pool, &err),
                  APR_SUCCESS);
  s = nest(pool, 100000, '[', ']');
  CU_ASSERT_EQUAL(parse_exact(&v, s, 100000, &lim, pool, &err),
                  SVC_JSON_EDEPTH);
  CU_ASSERT_EQUAL(err.offset, SVC_JSON_MAX_DEPTH_CAP);

  /* Size limit: the caller's, or 1 MiB. */
  lim.max_depth = 0;
  lim.max_size = 8;
  CU_ASSERT_EQUAL(parse_exact(&v, "[1,2,3,4]", 9, &lim, pool, &err),
                  SVC_JSON_ETOOBIG);
  CU_ASSERT_STRING_EQUAL(err.message, "input too large (9 bytes, limit 8)");
  CU_ASSERT_EQUAL(parse_exact(&v, "[1,2,3]", 7, &lim, pool, &err),
                  APR_SUCCESS);
  size = SVC_JSON_DEFAULT_MAX_SIZE + 1;
  big = malloc(size);
  CU_ASSERT_FATAL(big != NULL);
  memset(big, ' ', size);
  big[0] = '1';
  CU_ASSERT_EQUAL(svc_json_parse(&v, big, size, pool, &err),
                  SVC_JSON_ETOOBIG);
  CU_ASSERT_EQUAL(svc_json_parse(&v, big, size - 1, pool, &err),
                  APR_SUCCESS);
  /* A 1 MiB string of escapes and a 1 MiB number are fine (and fast). */
  big[0] = '"';
  for (size = 1; size + 6 < SVC_JSON_DEFAULT_MAX_SIZE; size += 6)
    memcpy(big + size, "\\u00e9", 6);
  big[size] = '"';
  CU_ASSERT_EQUAL(svc_json_parse(&v, big, size + 1, pool, &err),
                  APR_SUCCESS);
  memset(big, '7', SVC_JSON_DEFAULT_MAX_SIZE);
  CU_ASSERT_EQUAL(svc_json_parse(&v, big, SVC_JSON_DEFAULT_MAX_SIZE, pool,
                                 &err), APR_SUCCESS);
  CU_ASSERT(svc_json_type(v) == SVC_JSON_NUMBER);
  free(big);

  /* Arguments. */
  CU_ASSERT_EQUAL(svc_json_parse(NULL, "1", 1, pool, &err), APR_EINVAL);
  CU_ASSERT_EQUAL(svc_json_parse(&v, NULL, 1, pool, &err), APR_EINVAL);
  CU_ASSERT_EQUAL(svc_json_parse(&v, "1", 1, NULL, &err), APR_EINVAL);
  CU_ASSERT_EQUAL(svc_json_parse(&v, NULL, 0, pool, &err), SVC_JSON_ESYNTAX);
  CU_ASSERT_EQUAL(svc_json_parse(&v, "1", 1, pool, NULL), APR_SUCCESS);
  CU_ASSERT_EQUAL(svc_json_parse(&v, "x", 1, pool, NULL), SVC_JSON_ESYNTAX);
  CU_ASSERT_STRING_EQUAL(svc_json_strerror(SVC_JSON_EDEPTH),
                         "JSON nesting too deep");
  CU_ASSERT_PTR_NULL(svc_json_strerror(APR_EINVAL));
  apr_pool_destroy(pool);
}

/* ------------------------------------------------------------------------
 * Writer
 * --------------------------------------------------------------------- */

static void test_json_writer(void) {
  apr_pool_t *pool = new_pool();
  svc_json_w_t w;
  const char *out = NULL;
  size_t len = 0;

  svc_json_w_init(&w, pool, 0);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "s");
  svc_json_w_string(&w, "x");
  svc_json_w_key(&w, "n");
  svc_json_w_string(&w, NULL);
  svc_json_w_key(&w, "a");
  svc_json_w_begin_array(&w);
  svc_json_w_int64(&w, INT64_MIN);
  svc_json_w_int64(&w, INT64_MAX);
  svc_json_w_int64(&w, 0);
  svc_json_w_int64(&w, -7);
  svc_json_w_uint64(&w, UINT64_MAX);
  svc_json_w_bool(&w, 1);
  svc_json_w_bool(&w, 0);
  svc_json_w_null(&w);
  svc_json_w_begin_object(&w);
  svc_json_w_end_object(&w);
  svc_json_w_begin_array(&w);
  svc_json_w_end_array(&w);
  svc_json_w_raw(&w, "{\"r\":[1]}", 9);
  svc_json_w_end_array(&w);
  svc_json_w_key(&w, "d");
  svc_json_w_begin_array(&w);
  svc_json_w_double(&w, 0.1);
  svc_json_w_double(&w, 1.5);
  svc_json_w_double(&w, -0.0);
  svc_json_w_double(&w, 1e300);
  svc_json_w_double(&w, 5e-324);
  svc_json_w_double(&w, 100);
  svc_json_w_double(&w, 1.0 / 3);
  svc_json_w_double(&w, NAN);
  svc_json_w_double(&w, INFINITY);
  svc_json_w_double(&w, -INFINITY);
  svc_json_w_end_array(&w);
  svc_json_w_end_object(&w);
  CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, &len), APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(out,
      "{\"s\":\"x\",\"n\":null,\"a\":[-9223372036854775808,"
      "9223372036854775807,0,-7,18446744073709551615,true,false,null,{},[],"
      "{\"r\":[1]}],\"d\":[0.1,1.5,-0,1e+300,4.94065645841247e-324,100,"
      "0.3333333333333333,null,null,null]}");
  CU_ASSERT_EQUAL(len, strlen(out));
  CU_ASSERT_PTR_NOT_NULL(parse_ok(out, pool));
  /* Finishing again gives the same result. */
  CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, NULL), APR_SUCCESS);

  /* Spaced mode and a scalar document. */
  svc_json_w_init(&w, pool, SVC_JSON_W_SPACED);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "a");
  svc_json_w_begin_array(&w);
  svc_json_w_int64(&w, 1);
  svc_json_w_int64(&w, 2);
  svc_json_w_end_array(&w);
  svc_json_w_key(&w, "b");
  svc_json_w_begin_object(&w);
  svc_json_w_end_object(&w);
  svc_json_w_end_object(&w);
  CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, NULL), APR_SUCCESS);
  CU_ASSERT_STRING_EQUAL(out, "{\"a\": [1, 2], \"b\": {}}");
  svc_json_w_init(&w, pool, 0);
  svc_json_w_string(&w, "");
  CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, &len), APR_SUCCESS);
  CU_ASSERT(strcmp(out, "\"\"") == 0 && len == 2);

  /* A long document forces the buffer to grow several times. */
  {
    int n;
    svc_json_w_init(&w, pool, 0);
    svc_json_w_begin_array(&w);
    for (n = 0; n < 10000; n++)
      svc_json_w_string(&w, "0123456789");
    svc_json_w_end_array(&w);
    CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, &len), APR_SUCCESS);
    CU_ASSERT_EQUAL(len, 2 + 10000 * 12 + 9999);
    CU_ASSERT_EQUAL(svc_json_size(parse_ok(out, pool)), 10000);
  }
  apr_pool_destroy(pool);
}

static void test_json_writer_misuse(void) {
  apr_pool_t *pool = new_pool();
  svc_json_w_t w;
  const char *out = NULL;
  int n;

#define EXPECT_EINVAL(calls)                                                 \
  do {                                                                       \
    svc_json_w_init(&w, pool, 0);                                            \
    calls;                                                                   \
    CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, NULL), APR_EINVAL);          \
  } while (0)

  EXPECT_EINVAL((void)0);                                  /* nothing */
  EXPECT_EINVAL(svc_json_w_begin_object(&w));              /* unclosed */
  EXPECT_EINVAL(svc_json_w_end_object(&w));
  EXPECT_EINVAL(svc_json_w_key(&w, "a"));                  /* not in obj */
  EXPECT_EINVAL(svc_json_w_int64(&w, 1); svc_json_w_int64(&w, 2));
  EXPECT_EINVAL(svc_json_w_begin_array(&w); svc_json_w_key(&w, "a");
                svc_json_w_end_array(&w));
  EXPECT_EINVAL(svc_json_w_begin_object(&w); svc_json_w_int64(&w, 1);
                svc_json_w_end_object(&w));                /* no key */
  EXPECT_EINVAL(svc_json_w_begin_object(&w); svc_json_w_key(&w, "a");
                svc_json_w_end_object(&w));                /* no value */
  EXPECT_EINVAL(svc_json_w_begin_object(&w); svc_json_w_key(&w, "a");
                svc_json_w_key(&w, "b"); svc_json_w_int64(&w, 1);
                svc_json_w_end_object(&w));
  EXPECT_EINVAL(svc_json_w_begin_object(&w); svc_json_w_end_array(&w));
  EXPECT_EINVAL(svc_json_w_begin_array(&w); svc_json_w_end_object(&w));
  EXPECT_EINVAL(svc_json_w_begin_object(&w); svc_json_w_key(&w, NULL);
                svc_json_w_int64(&w, 1); svc_json_w_end_object(&w));
  EXPECT_EINVAL(svc_json_w_raw(&w, NULL, 0));
  EXPECT_EINVAL(svc_json_w_stringn(&w, NULL, 3));
  /* Too deep. */
  EXPECT_EINVAL(
      for (n = 0; n <= SVC_JSON_W_MAX_DEPTH; n++) svc_json_w_begin_array(&w);
      for (n = 0; n <= SVC_JSON_W_MAX_DEPTH; n++) svc_json_w_end_array(&w));
  /* Errors are sticky: a later valid document does not clear them. */
  EXPECT_EINVAL(svc_json_w_end_array(&w); svc_json_w_null(&w));
  /* Extending a finished document fails too. */
  svc_json_w_init(&w, pool, 0);
  svc_json_w_null(&w);
  CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, NULL), APR_SUCCESS);
  svc_json_w_null(&w);
  CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, NULL), APR_EINVAL);

  /* Exactly the maximum depth is fine. */
  svc_json_w_init(&w, pool, 0);
  for (n = 0; n < SVC_JSON_W_MAX_DEPTH; n++)
    svc_json_w_begin_array(&w);
  for (n = 0; n < SVC_JSON_W_MAX_DEPTH; n++)
    svc_json_w_end_array(&w);
  CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, NULL), APR_SUCCESS);
#undef EXPECT_EINVAL
  apr_pool_destroy(pool);
}

static const char *write_string(apr_pool_t *pool, const char *s, size_t n) {
  svc_json_w_t w;
  const char *out = NULL;
  svc_json_w_init(&w, pool, 0);
  svc_json_w_stringn(&w, s, n);
  CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, NULL), APR_SUCCESS);
  return out;
}

static void test_json_escaping(void) {
  apr_pool_t *pool = new_pool();

  CU_ASSERT_STRING_EQUAL(write_string(pool, "a\"b\\c/d", 7),
                         "\"a\\\"b\\\\c/d\"");
  CU_ASSERT_STRING_EQUAL(write_string(pool, "\b\f\n\r\t", 5),
                         "\"\\b\\f\\n\\r\\t\"");
  CU_ASSERT_STRING_EQUAL(write_string(pool, "\0\x01\x1f\x7f", 4),
                         "\"\\u0000\\u0001\\u001f\\u007f\"");
  /* Well-formed UTF-8 passes through untouched. */
  CU_ASSERT_STRING_EQUAL(
      write_string(pool, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x80\xA8",
                   12),
      "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x80\xA8\"");
  /* Ill-formed: one U+FFFD per maximal subpart (Unicode 3.9). */
  CU_ASSERT_STRING_EQUAL(write_string(pool, "\xC3(", 2),
                         "\"\xEF\xBF\xBD(\"");
  CU_ASSERT_STRING_EQUAL(write_string(pool, "a\xF0\x9F\x98", 4),
                         "\"a\xEF\xBF\xBD\"");
  CU_ASSERT_STRING_EQUAL(write_string(pool, "\xE0\x80\xAF", 3),
                         "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  CU_ASSERT_STRING_EQUAL(write_string(pool, "\xED\xA0\x80z", 4),
                         "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz\"");
  CU_ASSERT_STRING_EQUAL(write_string(pool, "\xFF\xFE", 2),
                         "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  CU_ASSERT_STRING_EQUAL(write_string(pool, "\xF4\x90\x80\x80", 4),
                         "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                         "\xEF\xBF\xBD\"");
  apr_pool_destroy(pool);
}

/* The protocol writer escapes exactly as the logger does (test_log.c
 * checks the same table), NUL inside a length-delimited string included. */
static void test_json_escape_table(void) {
  apr_pool_t *pool = new_pool();
  const vg_test_json_case_t *c;
  char in[3], *want;
  unsigned b;

  for (c = vg_test_json_cases; c->in != NULL; c++) {
    const char *got = write_string(pool, c->in, c->len);
    want = apr_pstrcat(pool, "\"", c->out, "\"", NULL);
    if (got == NULL || strcmp(got, want) != 0) {
      fprintf(stderr, "\n  writer escaping [%s]: got %s\n", c->what,
              got ? got : "(null)");
      CU_FAIL("writer escaping differs from the table");
    }
  }
  /* Every byte 0x80-0xFF alone is one U+FFFD. */
  for (b = 0x80; b <= 0xFF; b++) {
    in[0] = 'x'; in[1] = (char)b; in[2] = 'y';
    CU_ASSERT_STRING_EQUAL(write_string(pool, in, 3),
                           "\"x\xEF\xBF\xBDy\"");
  }
  apr_pool_destroy(pool);
}

/* parse(write(s)) == s, for strings as values and as keys. */
static void test_json_escape_round_trip(void) {
  static const struct {
    const char *s;
    size_t len;
  } cases[] = {
    {"", 0},
    {"plain", 5},
    {"\"\\/\b\f\n\r\t", 8},
    {"\0", 1},
    {"a\0b\0", 4},
    {"\x01\x02\x1e\x1f\x7f", 5},
    {"</script>", 9},
    {"\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF", 16},
    {"\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\xF0\x9F\x98\x80", 12},
    {"\xE2\x80\xA8\xE2\x80\xA9\xEF\xBB\xBF", 9},
    {"\\u0041 \\ud800", 13},
  };
  apr_pool_t *pool = new_pool();
  size_t k;
  unsigned c;
  char all[128];

  for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    svc_json_w_t w;
    const char *out, *s;
    size_t len, n;
    svc_json_t *v;

    svc_json_w_init(&w, pool, SVC_JSON_W_SPACED);
    svc_json_w_begin_object(&w);
    svc_json_w_keyn(&w, cases[k].s, cases[k].len);
    svc_json_w_stringn(&w, cases[k].s, cases[k].len);
    svc_json_w_end_object(&w);
    CU_ASSERT_EQUAL_FATAL(svc_json_w_finish(&w, &out, &len), APR_SUCCESS);
    v = parse_ok(out, pool);
    s = svc_json_stringn(svc_json_getn(v, cases[k].s, cases[k].len), &n);
    CU_ASSERT(s != NULL && n == cases[k].len &&
              memcmp(s, cases[k].s, n) == 0);
    s = svc_json_key_at(v, 0, &n);
    CU_ASSERT(s != NULL && n == cases[k].len &&
              memcmp(s, cases[k].s, n) == 0);
  }

  /* Every ASCII byte, in one string. */
  for (c = 0; c < 128; c++)
    all[c] = (char)c;
  {
    const char *out = write_string(pool, all, 128), *s;
    size_t n;
    s = svc_json_stringn(parse_ok(out, pool), &n);
    CU_ASSERT(s != NULL && n == 128 && memcmp(s, all, 128) == 0);
  }
  apr_pool_destroy(pool);
}

/* The writer always produces valid JSON, even from random bytes, and
 * well-formed UTF-8 survives the trip unchanged. */
static void test_json_random_strings(void) {
  apr_pool_t *pool = new_pool();
  uint64_t x = 0x9E3779B97F4A7C15ull;
  int round;

  for (round = 0; round < 2000; round++) {
    unsigned char buf[64];
    size_t len, i, n;
    const char *out, *s;
    svc_json_t *v = NULL;
    svc_json_error_t err;

    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    len = (size_t)(x % sizeof(buf));
    for (i = 0; i < len; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      /* Bias towards the bytes that matter. */
      if (round & 1)
        buf[i] = (unsigned char)x;
      else
        buf[i] = (unsigned char)"\x00\x1f\"\\\x7f\x80\xBF\xC2\xE0\xED\xF0"
                                "\xF4\xFF" "a"[x % 14];
    }
    out = write_string(pool, (const char *)buf, len);
    CU_ASSERT_EQUAL_FATAL(svc_json_parse(&v, out, strlen(out), pool, &err),
                          APR_SUCCESS);
    s = svc_json_stringn(v, &n);
    CU_ASSERT_PTR_NOT_NULL(s);
    /* Valid UTF-8 in, same bytes out; otherwise what comes back is
     * itself stable under another round trip. */
    if (n == len && memcmp(s, buf, len) == 0)
      continue;
    CU_ASSERT_STRING_EQUAL(write_string(pool, s, n), out);
    if (round % 256 == 0)
      apr_pool_clear(pool);
  }
  apr_pool_destroy(pool);
}

/* ------------------------------------------------------------------------
 * docs/control.md's `vigil status --json` example
 * --------------------------------------------------------------------- */

static const char contract_status[] =
    "{\"supervisor\": {\"pid\": 4242, \"version\": \"0.1.0\", \"backend\": "
    "\"epoll\", \"uptime_ms\": 5231, \"config\": \"/srv/vigil.xml\"},\n"
    " \"services\": [\n"
    "   {\"name\": \"web\", \"state\": \"running\", \"pid\": 4250, "
    "\"restarts\": 0, \"uptime_ms\": 5100,\n"
    "    \"last_exit\": null},\n"
    "   {\"name\": \"worker\", \"state\": \"backoff\", \"pid\": null, "
    "\"restarts\": 3, \"uptime_ms\": 0,\n"
    "    \"last_exit\": {\"code\": 1, \"signal\": null, \"at_ms\": "
    "1735000000000}}\n"
    " ]}\n";

static void test_json_contract_parse(void) {
  static const char *const sup_keys[] = {"pid", "version", "backend",
                                         "uptime_ms", "config"};
  apr_pool_t *pool = new_pool();
  svc_json_t *root, *sup, *svcs, *web, *worker, *last;
  int64_t i;
  uint64_t u;
  size_t k;

  root = parse_ok(contract_status, pool);
  CU_ASSERT_FATAL(root != NULL);
  CU_ASSERT_STRING_EQUAL(svc_json_key_at(root, 0, NULL), "supervisor");
  CU_ASSERT_STRING_EQUAL(svc_json_key_at(root, 1, NULL), "services");
  sup = svc_json_get(root, "supervisor");
  CU_ASSERT_EQUAL(svc_json_size(sup), 5);
  for (k = 0; k < 5; k++)
    CU_ASSERT_STRING_EQUAL(svc_json_key_at(sup, k, NULL), sup_keys[k]);
  CU_ASSERT(svc_json_int(svc_json_get(sup, "pid"), &i) && i == 4242);
  CU_ASSERT_STRING_EQUAL(svc_json_string(svc_json_get(sup, "version")),
                         "0.1.0");
  CU_ASSERT_STRING_EQUAL(svc_json_string(svc_json_get(sup, "backend")),
                         "epoll");
  CU_ASSERT(svc_json_int(svc_json_get(sup, "uptime_ms"), &i) && i == 5231);
  CU_ASSERT_STRING_EQUAL(svc_json_string(svc_json_get(sup, "config")),
                         "/srv/vigil.xml");

  svcs = svc_json_get(root, "services");
  CU_ASSERT_EQUAL(svc_json_type(svcs), SVC_JSON_ARRAY);
  CU_ASSERT_EQUAL_FATAL(svc_json_size(svcs), 2);
  web = svc_json_at(svcs, 0);
  CU_ASSERT_STRING_EQUAL(svc_json_string(svc_json_get(web, "name")), "web");
  CU_ASSERT_STRING_EQUAL(svc_json_string(svc_json_get(web, "state")),
                         "running");
  CU_ASSERT(svc_json_int(svc_json_get(web, "pid"), &i) && i == 4250);
  CU_ASSERT(svc_json_int(svc_json_get(web, "restarts"), &i) && i == 0);
  CU_ASSERT(svc_json_int(svc_json_get(web, "uptime_ms"), &i) && i == 5100);
  CU_ASSERT(svc_json_is_null(svc_json_get(web, "last_exit")));

  worker = svc_json_at(svcs, 1);
  CU_ASSERT_STRING_EQUAL(svc_json_string(svc_json_get(worker, "name")),
                         "worker");
  CU_ASSERT_STRING_EQUAL(svc_json_string(svc_json_get(worker, "state")),
                         "backoff");
  CU_ASSERT(svc_json_is_null(svc_json_get(worker, "pid")));
  CU_ASSERT(!svc_json_int(svc_json_get(worker, "pid"), &i));
  CU_ASSERT(svc_json_int(svc_json_get(worker, "restarts"), &i) && i == 3);
  last = svc_json_get(worker, "last_exit");
  CU_ASSERT_EQUAL(svc_json_type(last), SVC_JSON_OBJECT);
  CU_ASSERT(svc_json_int(svc_json_get(last, "code"), &i) && i == 1);
  CU_ASSERT(svc_json_is_null(svc_json_get(last, "signal")));
  CU_ASSERT(svc_json_int(svc_json_get(last, "at_ms"), &i) &&
            i == 1735000000000);
  CU_ASSERT(svc_json_uint(svc_json_get(last, "at_ms"), &u) &&
            u == 1735000000000u);
  apr_pool_destroy(pool);
}

/* The supervisor's way of writing the document: spaced, in key order. */
static void test_json_contract_write(void) {
  apr_pool_t *pool = new_pool();
  svc_json_w_t w;
  const char *out = NULL;
  size_t len;

  svc_json_w_init(&w, pool, SVC_JSON_W_SPACED);
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "supervisor");
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "pid");
  svc_json_w_int64(&w, 4242);
  svc_json_w_key(&w, "version");
  svc_json_w_string(&w, "0.1.0");
  svc_json_w_key(&w, "backend");
  svc_json_w_string(&w, "epoll");
  svc_json_w_key(&w, "uptime_ms");
  svc_json_w_uint64(&w, 5231);
  svc_json_w_key(&w, "config");
  svc_json_w_string(&w, "/srv/vigil.xml");
  svc_json_w_end_object(&w);
  svc_json_w_key(&w, "services");
  svc_json_w_begin_array(&w);

  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "name");
  svc_json_w_string(&w, "web");
  svc_json_w_key(&w, "state");
  svc_json_w_string(&w, "running");
  svc_json_w_key(&w, "pid");
  svc_json_w_int64(&w, 4250);
  svc_json_w_key(&w, "restarts");
  svc_json_w_int64(&w, 0);
  svc_json_w_key(&w, "uptime_ms");
  svc_json_w_uint64(&w, 5100);
  svc_json_w_key(&w, "last_exit");
  svc_json_w_null(&w);
  svc_json_w_end_object(&w);

  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "name");
  svc_json_w_string(&w, "worker");
  svc_json_w_key(&w, "state");
  svc_json_w_string(&w, "backoff");
  svc_json_w_key(&w, "pid");
  svc_json_w_null(&w);
  svc_json_w_key(&w, "restarts");
  svc_json_w_int64(&w, 3);
  svc_json_w_key(&w, "uptime_ms");
  svc_json_w_uint64(&w, 0);
  svc_json_w_key(&w, "last_exit");
  svc_json_w_begin_object(&w);
  svc_json_w_key(&w, "code");
  svc_json_w_int64(&w, 1);
  svc_json_w_key(&w, "signal");
  svc_json_w_null(&w);
  svc_json_w_key(&w, "at_ms");
  svc_json_w_int64(&w, 1735000000000);
  svc_json_w_end_object(&w);
  svc_json_w_end_object(&w);

  svc_json_w_end_array(&w);
  svc_json_w_end_object(&w);
  CU_ASSERT_EQUAL_FATAL(svc_json_w_finish(&w, &out, &len), APR_SUCCESS);

  /* docs/control.md's example on one line: same tokens, same spacing. */
  CU_ASSERT_STRING_EQUAL(out,
      "{\"supervisor\": {\"pid\": 4242, \"version\": \"0.1.0\", "
      "\"backend\": \"epoll\", \"uptime_ms\": 5231, \"config\": "
      "\"/srv/vigil.xml\"}, \"services\": [{\"name\": \"web\", \"state\": "
      "\"running\", \"pid\": 4250, \"restarts\": 0, \"uptime_ms\": 5100, "
      "\"last_exit\": null}, {\"name\": \"worker\", \"state\": \"backoff\", "
      "\"pid\": null, \"restarts\": 3, \"uptime_ms\": 0, \"last_exit\": "
      "{\"code\": 1, \"signal\": null, \"at_ms\": 1735000000000}}]}");
  /* And it is the same document, token for token. */
  CU_ASSERT_STRING_EQUAL(write_tree(parse_ok(out, pool), pool),
                         write_tree(parse_ok(contract_status, pool), pool));
  apr_pool_destroy(pool);
}

/* write(parse(doc)) is canonical and a fixed point. */
static void test_json_tree_round_trip(void) {
  static const char doc[] =
      " { \"a\" : [ 1 , -0 , 2.50 , 1E+2 , 1e400 , 12345678901234567890123 ] ,"
      " \"s\" : \"\\u00e9\\ud83d\\ude00\\/\\u0007\" , \"o\" : { } ,"
      " \"l\" : [ true , false , null , [ [ ] ] ] } ";
  apr_pool_t *pool = new_pool();
  const char *once, *twice;

  once = write_tree(parse_ok(doc, pool), pool);
  CU_ASSERT_STRING_EQUAL(once,
      "{\"a\":[1,-0,2.50,1E+2,1e400,12345678901234567890123],"
      "\"s\":\"\xC3\xA9\xF0\x9F\x98\x80/\\u0007\",\"o\":{},"
      "\"l\":[true,false,null,[[]]]}");
  twice = write_tree(parse_ok(once, pool), pool);
  CU_ASSERT_STRING_EQUAL(once, twice);
  apr_pool_destroy(pool);
}

/* Under a locale whose decimal point is ',' numbers still mean the same.
 * Skipped, with a line saying so, where no such locale is installed. */
static void test_json_locale(void) {
  static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "de_DE",
                                      "fr_FR.UTF-8", "fr_FR.utf8", NULL};
  apr_pool_t *pool = new_pool();
  const char *const *name;
  svc_json_w_t w;
  const char *out = NULL;
  double d = 0;

  for (name = names; *name != NULL; name++)
    if (setlocale(LC_NUMERIC, *name) != NULL &&
        strcmp(localeconv()->decimal_point, ",") == 0)
      break;
  if (*name != NULL) {
    CU_ASSERT(svc_json_double(svc_json_at(parse_ok("[1.5e1]", pool), 0),
                              &d));
    CU_ASSERT_EQUAL(d, 15.0);
    svc_json_w_init(&w, pool, 0);
    svc_json_w_double(&w, 0.25);
    CU_ASSERT_EQUAL(svc_json_w_finish(&w, &out, NULL), APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(out, "0.25");
  } else {
    vg_test_skip("json-locale", "no locale with a decimal comma is "
                 "installed (de_DE, fr_FR)");
  }
  setlocale(LC_NUMERIC, "C");
  apr_pool_destroy(pool);
}

/* ------------------------------------------------------------------------
 * Mutation test
 * --------------------------------------------------------------------- */

#define MUTANTS 10000

static uint64_t rnd_state;

static uint64_t rnd(void) {
  /* xorshift64*: deterministic, so a failure can be replayed. */
  rnd_state ^= rnd_state >> 12;
  rnd_state ^= rnd_state << 25;
  rnd_state ^= rnd_state >> 27;
  return rnd_state * 0x2545F4914F6CDD1Dull;
}

static size_t rnd_below(size_t n) {
  return n == 0 ? 0 : (size_t)(rnd() % n);
}

/* Apply one random mutation to buf[0..*len) (capacity cap). */
static void mutate(char *buf, size_t *len, size_t cap) {
  static const char bytes[] = "\"\\[]{},:0-e.u \x00\x1f\x7f\x80\xBF\xC3\xED"
                              "\xF4\xFF";
  static const char *const tokens[] = {
    "\\u", "\\ud800", "\\udc00", "\\ud83d\\ude00", "[[[[[[[[", "]]]]",
    "{\"a\":", "1e999", "-0", "01", "NaN", "\xF0\x9F\x98", "\xED\xA0\x80",
    "\"", ",", "null", "true", "\\", "\"\":", "{}", "[]", "-", "1.", "e+",
    "\xEF\xBB\xBF", "\\u0000", "\":1,\""};
  size_t n = *len, at = rnd_below(n + 1), k;

  switch (rnd() % 8) {
  case 0:                                       /* flip a bit */
    if (n > 0)
      buf[rnd_below(n)] ^= (char)(1u << (rnd() % 8));
    break;
  case 1:                                       /* random byte */
    if (n > 0)
      buf[rnd_below(n)] = (char)rnd();
    break;
  case 2:                                       /* interesting byte */
    if (n > 0)
      buf[rnd_below(n)] = bytes[rnd_below(sizeof(bytes) - 1)];
    break;
  case 3:                                       /* delete a range */
    k = 1 + rnd_below(8);
    if (at + k > n)
      k = n - at;
    memmove(buf + at, buf + at + k, n - at - k);
    *len = n - k;
    break;
  case 4: {                                     /* insert a token */
    const char *t = tokens[rnd_below(sizeof(tokens) / sizeof(tokens[0]))];
    k = strlen(t);
    if (n + k > cap)
      break;
    memmove(buf + at + k, buf + at, n - at);
    memcpy(buf + at, t, k);
    *len = n + k;
    break;
  }
  case 5:                                       /* truncate */
    *len = at;
    break;
  case 6: {                                     /* duplicate a slice */
    size_t from = rnd_below(n), span = 1 + rnd_below(16);
    if (from + span > n)
      span = n - from;
    if (n + span > cap || span == 0)
      break;
    memmove(buf + at + span, buf + at, n - at);
    memmove(buf + at, buf + (from < at ? from : from + span), span);
    *len = n + span;
    break;
  }
  default:                                      /* deep nesting */
    k = 20 + rnd_below(20);
    if (n + k > cap)
      break;
    memmove(buf + at + k, buf + at, n - at);
    memset(buf + at, rnd() & 1 ? '[' : '{', k);
    *len = n + k;
  }
}

static int printable(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E)
      return 0;
  return 1;
}

static void test_json_mutations(void) {
  static const char seed[] =
      "{\"supervisor\": {\"pid\": 4242, \"version\": \"0.1.0\", \"backend\": "
      "\"epoll\", \"uptime_ms\": 5231, \"config\": \"/srv/vigil.xml\"}, "
      "\"services\": [{\"name\": \"web\", \"state\": \"running\", \"pid\": "
      "4250, \"restarts\": 0, \"uptime_ms\": 5100, \"last_exit\": null}, "
      "{\"name\": \"w\\u00e9\\ud83d\\ude00\xC3\xA9\\n\", \"state\": "
      "\"backoff\", \"pid\": null, \"restarts\": -3.5e-2, \"uptime_ms\": 0, "
      "\"last_exit\": {\"code\": 1, \"signal\": null, \"at_ms\": "
      "1735000000000, \"ok\": [true, false, [], {}]}}]}";
  apr_pool_t *pool = new_pool();
  char work[1024];
  size_t len;
  int i, m, ok = 0, bad = 0, failures = 0;

  rnd_state = 0x5EED5EED12345678ull;
  for (i = 0; i < MUTANTS; i++) {
    svc_json_t *v = (svc_json_t *)1, *v2 = NULL;
    svc_json_error_t err;
    apr_status_t rv;
    int nmut = 1 + (int)rnd_below(4);
    char *exact;

    memcpy(work, seed, sizeof(seed) - 1);
    len = sizeof(seed) - 1;
    for (m = 0; m < nmut; m++)
      mutate(work, &len, sizeof(work));
    exact = malloc(len ? len : 1);
    CU_ASSERT_FATAL(exact != NULL);
    memcpy(exact, work, len);

    rv = svc_json_parse(&v, exact, len, pool, &err);
    if (rv == APR_SUCCESS) {
      const char *once, *twice;
      svc_json_w_t w;

      ok++;
      if (v == NULL)
        failures++;
      /* What parses can be written, and what is written parses back
       * to the same canonical text. */
      svc_json_w_init(&w, pool, 0);
      svc_json_w_value(&w, v);
      if (svc_json_w_finish(&w, &once, NULL) != APR_SUCCESS ||
          svc_json_parse(&v2, once, strlen(once), pool, &err) !=
              APR_SUCCESS) {
        failures++;
      } else {
        svc_json_w_init(&w, pool, 0);
        svc_json_w_value(&w, v2);
        if (svc_json_w_finish(&w, &twice, NULL) != APR_SUCCESS ||
            strcmp(once, twice) != 0)
          failures++;
      }
    } else {
      bad++;
      if ((rv != SVC_JSON_ESYNTAX && rv != SVC_JSON_EDEPTH) || v != NULL ||
          err.offset > len || err.message[0] == '\0' ||
          !printable(err.message)) {
        if (failures < 5)
          fprintf(stderr, "\n  mutant %d: rv %d offset %d \"%s\"", i,
                  (int)rv, (int)err.offset, err.message);
        failures++;
      }
    }
    free(exact);
    if (i % 128 == 0)
      apr_pool_clear(pool);
  }
  CU_ASSERT_EQUAL(failures, 0);
  /* The mutator must produce both kinds, or it tests nothing. */
  CU_ASSERT(ok > MUTANTS / 50);
  CU_ASSERT(bad > MUTANTS / 2);
  apr_pool_destroy(pool);
}

static CU_TestInfo json_tests[] = {
  {"scalars and accessors", test_json_scalars},
  {"numbers: exact ints, doubles, lexemes", test_json_numbers},
  {"strings: escapes, surrogates, UTF-8, NUL", test_json_strings},
  {"arrays and objects, order, lookup", test_json_containers},
  {"duplicate keys are errors", test_json_duplicates},
  {"malformed input: code, offset, message", test_json_malformed},
  {"every prefix is truncated, no over-read", test_json_prefixes},
  {"depth and size limits, arguments", test_json_limits},
  {"writer output", test_json_writer},
  {"writer misuse fails cleanly", test_json_writer_misuse},
  {"writer escaping and U+FFFD", test_json_escaping},
  {"writer escapes as the logger", test_json_escape_table},
  {"escaping round trips through the parser", test_json_escape_round_trip},
  {"random strings always give valid JSON", test_json_random_strings},
  {"control.md status example parses", test_json_contract_parse},
  {"control.md status example is written", test_json_contract_write},
  {"tree round trip is a fixed point", test_json_tree_round_trip},
  {"numbers are locale-independent", test_json_locale},
  {"10k mutants parse or fail cleanly", test_json_mutations},
  CU_TEST_INFO_NULL
};

CU_SuiteInfo json_suite = {
  .pName = "json",
  .pInitFunc = NULL,
  .pCleanupFunc = NULL,
  .pSetUpFunc = NULL,
  .pTearDownFunc = NULL,
  .pTests = json_tests
};
