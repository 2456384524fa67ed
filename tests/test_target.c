/*
 * test_target.c -- config/target.c, the one parser of network targets:
 * HOST:PORT and http:// URLs, as the loader validates them and the
 * probes use them (host names, IPv4, bracketed IPv6, ports, junk, the
 * messages that say why).
 */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "cfg.h"

static void test_hostport(void) {
  static const struct {
    const char *in;
    int ok;
    const char *host;   /* when ok */
    int port;
  } cases[] = {
      {"127.0.0.1:8080", 1, "127.0.0.1", 8080},
      {"0.0.0.0:1", 1, "0.0.0.0", 1},
      {"10.1.2.3:65535", 1, "10.1.2.3", 65535},
      {"localhost:80", 1, "localhost", 80},
      {"LocalHost:443", 1, "LocalHost", 443},
      {"db.internal:5432", 1, "db.internal", 5432},
      {"db.internal.:5432", 1, "db.internal.", 5432},   /* rooted */
      {"my_db-1.svc.cluster.local:5432", 1, "my_db-1.svc.cluster.local",
       5432},
      {"1e100.net:80", 1, "1e100.net", 80},
      {"[::1]:80", 1, "::1", 80},
      {"[::]:9000", 1, "::", 9000},
      {"[2001:db8::1]:8080", 1, "2001:db8::1", 8080},
      {"[::ffff:127.0.0.1]:80", 1, "::ffff:127.0.0.1", 80},
      {"127.0.0.1:00080", 1, "127.0.0.1", 80},
      /* ports */
      {"127.0.0.1", 0, NULL, 0},          /* port required */
      {"db.internal", 0, NULL, 0},
      {"127.0.0.1:", 0, NULL, 0},
      {"127.0.0.1:0", 0, NULL, 0},
      {"127.0.0.1:65536", 0, NULL, 0},
      {"127.0.0.1:123456", 0, NULL, 0},
      {"127.0.0.1:99999999999999999999", 0, NULL, 0},
      {"127.0.0.1:-1", 0, NULL, 0},
      {"127.0.0.1:+80", 0, NULL, 0},
      {"127.0.0.1:80x", 0, NULL, 0},
      {"127.0.0.1: 80", 0, NULL, 0},
      {"db:http", 0, NULL, 0},            /* no service names */
      /* hosts */
      {" 127.0.0.1:80", 0, NULL, 0},
      {"127.0.0.1:80\n", 0, NULL, 0},
      {":80", 0, NULL, 0},
      {"", 0, NULL, 0},
      {"256.0.0.1:80", 0, NULL, 0},
      {"127.1:80", 0, NULL, 0},           /* getaddrinfo: 127.0.0.1 */
      {"1.2.3.4.5:80", 0, NULL, 0},
      {"db..internal:80", 0, NULL, 0},
      {".db:80", 0, NULL, 0},
      {"-db:80", 0, NULL, 0},
      {"db-.internal:80", 0, NULL, 0},
      {"db/x:80", 0, NULL, 0},
      {"db%2e:80", 0, NULL, 0},
      {"caf\xc3\xa9.example:80", 0, NULL, 0},
      {"user@db:80", 0, NULL, 0},
      {"::1:80", 0, NULL, 0},             /* IPv6 needs brackets */
      {"[::1]", 0, NULL, 0},
      {"[::1]80", 0, NULL, 0},
      {"[::1:80", 0, NULL, 0},
      {"[127.0.0.1]:80", 0, NULL, 0},
      {"[localhost]:80", 0, NULL, 0},
      {"[fe80::1%lo]:80", 0, NULL, 0},
      {"[:::1]:80", 0, NULL, 0},
      {"[]:80", 0, NULL, 0},
      {"http://127.0.0.1:80", 0, NULL, 0},
  };
  size_t i;
  char longname[300];

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cfg_target_t t;
    const char *why = "unset";
    apr_status_t rv = cfg_parse_hostport(cases[i].in, &t, &why);
    if ((rv == APR_SUCCESS) != cases[i].ok)
      fprintf(stderr, "\n  hostport '%s': rv %d why %s\n", cases[i].in, rv,
              why ? why : "(null)");
    CU_ASSERT_EQUAL(rv == APR_SUCCESS, cases[i].ok);
    if (rv == APR_SUCCESS) {
      CU_ASSERT_PTR_NULL(why);
      CU_ASSERT_STRING_EQUAL(t.host, cases[i].host);
      CU_ASSERT_EQUAL(t.port, cases[i].port);
      CU_ASSERT_STRING_EQUAL(t.path, "");
    } else {
      CU_ASSERT_EQUAL(rv, APR_EINVAL);
      CU_ASSERT_PTR_NOT_NULL(why);
    }
    /* Validation only: no result, no message wanted. */
    CU_ASSERT_EQUAL(cfg_parse_hostport(cases[i].in, NULL, NULL), rv);
  }
  CU_ASSERT_EQUAL(cfg_parse_hostport(NULL, NULL, NULL), APR_EINVAL);

  /* Names: 63 bytes a label, 253 in all. */
  memset(longname, 'a', 63);
  strcpy(longname + 63, ".x:1");
  CU_ASSERT_EQUAL(cfg_parse_hostport(longname, NULL, NULL), APR_SUCCESS);
  memset(longname, 'a', 64);
  strcpy(longname + 64, ".x:1");
  CU_ASSERT_EQUAL(cfg_parse_hostport(longname, NULL, NULL), APR_EINVAL);
  for (i = 0; i < 253; i++)
    longname[i] = i % 2 ? '.' : 'a';
  strcpy(longname + 253, ":1");
  CU_ASSERT_EQUAL(cfg_parse_hostport(longname, NULL, NULL), APR_SUCCESS);
  longname[253] = 'a';
  strcpy(longname + 254, ":1");
  CU_ASSERT_EQUAL(cfg_parse_hostport(longname, NULL, NULL), APR_EINVAL);
}

static void expect_why(const char *in, int url, const char *part) {
  const char *why = NULL;
  apr_status_t rv = url ? cfg_parse_url(in, NULL, &why)
                        : cfg_parse_hostport(in, NULL, &why);
  CU_ASSERT_EQUAL(rv, APR_EINVAL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(why);
  if (!strstr(why, part))
    fprintf(stderr, "\n  '%s': '%s' lacks '%s'\n", in, why, part);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, part));
}

static void test_messages(void) {
  expect_why("::1:80", 0, "brackets");
  expect_why("127.0.0.1:70000", 0, "65535");
  expect_why("127.0.0.1:0", 0, "65535");
  expect_why("127.0.0.1", 0, "PORT");
  expect_why("127.0.0.1:", 0, "missing port");
  expect_why("127.1:80", 0, "IPv4");
  expect_why("[127.0.0.1]:80", 0, "IPv6 addresses only");
  expect_why("[zz::1]:80", 0, "IPv6");
  expect_why("db..x:80", 0, "host name");
  expect_why("a b:80", 0, "spaces");
  expect_why(":80", 0, "missing host");
  expect_why("https://127.0.0.1/", 1, "https is not supported");
  expect_why("ftp://127.0.0.1/", 1, "only http://");
  expect_why("127.0.0.1:80/x", 1, "not an http:// URL");
  expect_why("http://u:p@db/", 1, "user info");
  expect_why("http://db:0/", 1, "65535");
}

static void test_url(void) {
  static const struct {
    const char *in;
    int ok;
    const char *host, *path;
    int port;
  } cases[] = {
      {"http://127.0.0.1:8080/health", 1, "127.0.0.1", "/health", 8080},
      {"http://127.0.0.1/", 1, "127.0.0.1", "/", 80},
      {"http://127.0.0.1", 1, "127.0.0.1", "/", 80},
      {"HTTP://localhost:81", 1, "localhost", "/", 81},
      {"http://app.internal:8080/", 1, "app.internal", "/", 8080},
      {"http://example.com/a?b", 1, "example.com", "/a?b", 80},
      {"http://[::1]:8080/a/b?x=1&y=2", 1, "::1", "/a/b?x=1&y=2", 8080},
      {"http://[::1]/", 1, "::1", "/", 80},
      {"http://127.0.0.1?ready", 1, "127.0.0.1", "/?ready", 80},
      {"http://127.0.0.1/p#frag", 1, "127.0.0.1", "/p", 80},
      {"http://127.0.0.1#frag", 1, "127.0.0.1", "/", 80},
      {"http://127.0.0.1/a%20b", 1, "127.0.0.1", "/a%20b", 80},
      {"https://127.0.0.1/", 0, NULL, NULL, 0},
      {"ftp://127.0.0.1/", 0, NULL, NULL, 0},
      {"127.0.0.1:80/health", 0, NULL, NULL, 0},
      {"http://", 0, NULL, NULL, 0},
      {"http:///path", 0, NULL, NULL, 0},
      {"http://user:pw@127.0.0.1/", 0, NULL, NULL, 0},
      {"http://127.0.0.1:0/", 0, NULL, NULL, 0},
      {"http://127.0.0.1:99999/", 0, NULL, NULL, 0},
      {"http://127.0.0.1:/", 0, NULL, NULL, 0},
      {"http://::1/", 0, NULL, NULL, 0},
      {"http://bad..name/", 0, NULL, NULL, 0},
      {"http://127.0.0.1/a b", 0, NULL, NULL, 0},
      {"http://127.0.0.1/a\r\nX-Injected: 1", 0, NULL, NULL, 0},
      {"http://127.0.0.1/\x7f", 0, NULL, NULL, 0},
      {"http://127.0.0.1/caf\xc3\xa9", 0, NULL, NULL, 0},
      {"", 0, NULL, NULL, 0},
  };
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cfg_target_t t;
    const char *why = "unset";
    apr_status_t rv = cfg_parse_url(cases[i].in, &t, &why);
    if ((rv == APR_SUCCESS) != cases[i].ok)
      fprintf(stderr, "\n  url '%s': rv %d why %s\n", cases[i].in, rv,
              why ? why : "(null)");
    CU_ASSERT_EQUAL(rv == APR_SUCCESS, cases[i].ok);
    if (rv == APR_SUCCESS) {
      CU_ASSERT_STRING_EQUAL(t.host, cases[i].host);
      CU_ASSERT_STRING_EQUAL(t.path, cases[i].path);
      CU_ASSERT_EQUAL(t.port, cases[i].port);
    } else {
      CU_ASSERT_PTR_NOT_NULL(why);
    }
    CU_ASSERT_EQUAL(cfg_parse_url(cases[i].in, NULL, NULL), rv);
  }
  CU_ASSERT_EQUAL(cfg_parse_url(NULL, NULL, NULL), APR_EINVAL);
}

static void test_url_path_limit(void) {
  char url[CFG_URL_PATH_MAX + 64];
  size_t pre = strlen("http://127.0.0.1");
  memcpy(url, "http://127.0.0.1", pre);
  /* A path of exactly PATH_MAX - 1 bytes fits; one more does not. */
  memset(url + pre, 'a', CFG_URL_PATH_MAX - 1);
  url[pre] = '/';
  url[pre + CFG_URL_PATH_MAX - 1] = '\0';
  CU_ASSERT_EQUAL(cfg_parse_url(url, NULL, NULL), APR_SUCCESS);
  url[pre + CFG_URL_PATH_MAX - 1] = 'a';
  url[pre + CFG_URL_PATH_MAX] = '\0';
  CU_ASSERT_EQUAL(cfg_parse_url(url, NULL, NULL), APR_EINVAL);
}

static CU_TestInfo target_tests[] = {
    {"hostport", test_hostport},
    {"messages", test_messages},
    {"url", test_url},
    {"url_path_limit", test_url_path_limit},
    CU_TEST_INFO_NULL};

CU_SuiteInfo target_suite = {
    .pName = "target",
    .pInitFunc = NULL,
    .pCleanupFunc = NULL,
    .pSetUpFunc = NULL,
    .pTearDownFunc = NULL,
    .pTests = target_tests};
