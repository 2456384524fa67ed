/*
 * test_vigil_config.c -- `vigil validate` and `vigil run` on bad configs:
 * every problem is one "FILE:LINE: error: MESSAGE" line on stderr with the
 * line where the problem is, exit status 2; a good file prints "FILE: ok"
 * and exits 0.  (Suite vigil_config.)
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

/* Write `text` as DIR/name; returns the path. */
static const char *put(vt_t *t, const char *name, const char *text) {
  const char *path = vt_path(t, name);
  CU_ASSERT_EQUAL(vt_write_file(t, path, text), 0);
  return path;
}

/* The line numbers of the "PATH:LINE: error: " lines of stderr, in order;
 * -1 for a line of another shape.  Returns how many lines there were. */
static int error_lines(const char *err, const char *path, int *lines,
                       int max) {
  size_t plen = strlen(path);
  int n = 0;
  const char *p = err;
  while (p && *p && n < max) {
    const char *nl = strchr(p, '\n');
    int line = -1;
    if (strncmp(p, path, plen) == 0 && p[plen] == ':') {
      char *end;
      long v = strtol(p + plen + 1, &end, 10);
      if (end != p + plen + 1 && strncmp(end, ": error: ", 9) == 0)
        line = (int)v;
    }
    lines[n++] = line;
    p = nl ? nl + 1 : NULL;
  }
  return n;
}

/* The stderr line reporting LINE, or NULL. */
static const char *line_for(vt_t *t, const char *err, const char *path,
                            int line) {
  const char *prefix = apr_psprintf(vt_pool(t), "%s:%d: error: ", path,
                                    line);
  const char *p = err;
  while (p && *p) {
    const char *nl = strchr(p, '\n');
    if (strncmp(p, prefix, strlen(prefix)) == 0)
      return apr_pstrndup(vt_pool(t), p, nl ? (size_t)(nl - p) : strlen(p));
    p = nl ? nl + 1 : NULL;
  }
  return NULL;
}

/* validate: exit 2, nothing on stdout, every stderr line well-formed. */
static vt_res_t *validate_bad(vt_t *t, const char *path, int *lines,
                              int *n) {
  vt_res_t *r = vt_vigil(t, 10000, "validate", "-c", path, NULL);
  int i;
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT_EQUAL(r->out_len, 0);
  *n = error_lines(r->err, path, lines, 32);
  CU_ASSERT(*n > 0);
  for (i = 0; i < *n; i++)
    CU_ASSERT(lines[i] > 0);   /* each one FILE:LINE: error: ... */
  return r;
}

/* ---- tests -------------------------------------------------------------- */

static void test_valid_ok(void) {
  vt_t *t = vt_begin("cfg-ok");
  const char *cfg;
  vt_res_t *r;
  if (!t)
    return;
  cfg = vt_config(
      t, "vigil.xml",
      vt_svc(t, "db", "<restart policy=\"always\" delay=\"50ms\"/>\n"
                      "    <ready after=\"100ms\"/>\n",
             "sleep", "30000", NULL),
      vt_svc(t, "web", "<depends-on>db</depends-on>\n"
                       "    <stop signal=\"TERM\" timeout=\"300ms\"/>\n"
                       "    <log max-size=\"1MB\" keep=\"2\" "
                       "timestamps=\"true\"/>\n",
             "sleep", "30000", NULL),
      NULL);
  r = vt_vigil(t, 10000, "validate", "-c", cfg, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(r->out, apr_pstrcat(vt_pool(t), cfg, ": ok\n",
                                             NULL));
  CU_ASSERT_EQUAL(r->err_len, 0);
  vt_end(t);
}

static void test_not_well_formed(void) {
  vt_t *t = vt_begin("cfg-xml");
  const char *f1, *f2, *f3;
  int lines[32], n, i;
  if (!t)
    return;
  /* A mismatched end tag on line 6. */
  f1 = put(t, "mismatch.xml",
           "<?xml version=\"1.0\"?>\n"        /* 1 */
           "<vigil>\n"                        /* 2 */
           "  <service name=\"a\">\n"         /* 3 */
           "    <command>/bin/true</command>\n" /* 4 */
           "    <arg>one</arg>\n"             /* 5 */
           "    <arg>two</ARG>\n"             /* 6 */
           "  </service>\n"                   /* 7 */
           "</vigil>\n");                     /* 8 */
  validate_bad(t, f1, lines, &n);
  CU_ASSERT(n >= 1);
  if (n >= 1)
    CU_ASSERT_EQUAL(lines[0], 6);
  for (i = 0; i < n; i++)
    CU_ASSERT(lines[i] >= 6);   /* nothing blamed on the good lines */

  /* A bare '&' on line 5. */
  f2 = put(t, "amp.xml",
           "<?xml version=\"1.0\"?>\n"
           "<vigil>\n"
           "  <service name=\"a\">\n"
           "    <command>/bin/true</command>\n"
           "    <arg>this & that</arg>\n"
           "  </service>\n"
           "</vigil>\n");
  validate_bad(t, f2, lines, &n);
  if (n >= 1)
    CU_ASSERT_EQUAL(lines[0], 5);

  /* An unquoted attribute value on line 3. */
  f3 = put(t, "unquoted.xml",
           "<?xml version=\"1.0\"?>\n"
           "<vigil>\n"
           "  <service name=a>\n"
           "    <command>/bin/true</command>\n"
           "  </service>\n"
           "</vigil>\n");
  validate_bad(t, f3, lines, &n);
  if (n >= 1)
    CU_ASSERT_EQUAL(lines[0], 3);
  vt_end(t);
}

static void test_unknown_element(void) {
  vt_t *t = vt_begin("cfg-elem");
  const char *f, *l;
  vt_res_t *r;
  int lines[32], n;
  if (!t)
    return;
  f = put(t, "elem.xml",
          "<?xml version=\"1.0\"?>\n"            /* 1 */
          "<vigil>\n"                            /* 2 */
          "  <service name=\"a\">\n"             /* 3 */
          "    <command>/bin/true</command>\n"   /* 4 */
          "    <arg>x</arg>\n"                   /* 5 */
          "    <restrat policy=\"always\"/>\n"   /* 6 */
          "  </service>\n"                       /* 7 */
          "  <service name=\"b\">\n"             /* 8 */
          "    <command>/bin/true</command>\n"   /* 9 */
          "    <evn name=\"A\" value=\"1\"/>\n"  /* 10 */
          "  </service>\n"                       /* 11 */
          "  <servcie name=\"c\"/>\n"            /* 12 */
          "</vigil>\n");
  r = validate_bad(t, f, lines, &n);
  CU_ASSERT_EQUAL(n, 3);
  l = line_for(t, r->err, f, 6);
  CU_ASSERT_PTR_NOT_NULL(l);
  CU_ASSERT(vt_contains(l, "restrat"));
  l = line_for(t, r->err, f, 10);
  CU_ASSERT_PTR_NOT_NULL(l);
  CU_ASSERT(vt_contains(l, "evn"));
  l = line_for(t, r->err, f, 12);
  CU_ASSERT_PTR_NOT_NULL(l);
  CU_ASSERT(vt_contains(l, "servcie"));
  vt_end(t);
}

static void test_unknown_attribute(void) {
  vt_t *t = vt_begin("cfg-attr");
  const char *f, *l;
  vt_res_t *r;
  int lines[32], n;
  if (!t)
    return;
  f = put(t, "attr.xml",
          "<?xml version=\"1.0\"?>\n"                  /* 1 */
          "<vigil>\n"                                  /* 2 */
          "  <service name=\"a\" nmae=\"x\">\n"        /* 3 */
          "    <command>/bin/true</command>\n"         /* 4 */
          "    <restart policy=\"always\"\n"           /* 5 */
          "             delay=\"1s\"\n"                /* 6 */
          "             dealy=\"1s\"/>\n"              /* 7 */
          "  </service>\n"                             /* 8 */
          "</vigil>\n");
  r = validate_bad(t, f, lines, &n);
  CU_ASSERT_EQUAL(n, 2);
  l = line_for(t, r->err, f, 3);
  CU_ASSERT_PTR_NOT_NULL(l);
  CU_ASSERT(vt_contains(l, "nmae"));
  /* The attribute's own line, not the line its element starts on. */
  l = line_for(t, r->err, f, 7);
  CU_ASSERT_PTR_NOT_NULL(l);
  CU_ASSERT(vt_contains(l, "dealy"));
  vt_end(t);
}

static void test_bad_duration(void) {
  vt_t *t = vt_begin("cfg-dur");
  const char *f, *l;
  vt_res_t *r;
  int lines[32], n;
  if (!t)
    return;
  f = put(t, "dur.xml",
          "<?xml version=\"1.0\"?>\n"                         /* 1 */
          "<vigil>\n"                                         /* 2 */
          "  <supervisor>\n"                                  /* 3 */
          "    <shutdown-timeout>forever</shutdown-timeout>\n" /* 4 */
          "  </supervisor>\n"                                 /* 5 */
          "  <service name=\"a\">\n"                          /* 6 */
          "    <command>/bin/true</command>\n"                /* 7 */
          "    <restart delay=\"5 sec\"/>\n"                  /* 8 */
          "    <stop timeout=\"10\"/>\n"                      /* 9 */
          "    <ready after=\"250ms\"/>\n"                    /* 10 */
          "  </service>\n"                                    /* 11 */
          "</vigil>\n");
  r = validate_bad(t, f, lines, &n);
  CU_ASSERT_EQUAL(n, 3);
  l = line_for(t, r->err, f, 4);
  CU_ASSERT(vt_contains(l, "forever"));
  l = line_for(t, r->err, f, 8);
  CU_ASSERT(vt_contains(l, "5 sec"));
  l = line_for(t, r->err, f, 9);
  CU_ASSERT(vt_contains(l, "'10'"));
  CU_ASSERT_PTR_NULL(line_for(t, r->err, f, 10));   /* 250ms is fine */
  vt_end(t);
}

static void test_dependency_cycle(void) {
  vt_t *t = vt_begin("cfg-dep");
  const char *f, *l5, *l9, *l13;
  vt_res_t *r;
  int lines[32], n, i, cycles = 0;
  if (!t)
    return;
  f = put(t, "deps.xml",
          "<?xml version=\"1.0\"?>\n"                /* 1 */
          "<vigil>\n"                                /* 2 */
          "  <service name=\"a\">\n"                 /* 3 */
          "    <command>/bin/true</command>\n"       /* 4 */
          "    <depends-on>b</depends-on>\n"         /* 5 */
          "  </service>\n"                           /* 6 */
          "  <service name=\"b\">\n"                 /* 7 */
          "    <command>/bin/true</command>\n"       /* 8 */
          "    <depends-on>a</depends-on>\n"         /* 9 */
          "  </service>\n"                           /* 10 */
          "  <service name=\"c\">\n"                 /* 11 */
          "    <command>/bin/true</command>\n"       /* 12 */
          "    <depends-on>nosuch</depends-on>\n"    /* 13 */
          "  </service>\n"                           /* 14 */
          "</vigil>\n");
  r = validate_bad(t, f, lines, &n);
  /* The cycle is blamed on one of its <depends-on> lines. */
  l5 = line_for(t, r->err, f, 5);
  l9 = line_for(t, r->err, f, 9);
  if (vt_contains(l5, "cycle"))
    cycles++;
  if (vt_contains(l9, "cycle"))
    cycles++;
  CU_ASSERT(cycles >= 1);
  CU_ASSERT_EQUAL(vt_count_lines(r->err, "cycle"), cycles);
  l13 = line_for(t, r->err, f, 13);
  CU_ASSERT(vt_contains(l13, "nosuch"));
  for (i = 0; i < n; i++)
    CU_ASSERT(lines[i] == 5 || lines[i] == 9 || lines[i] == 13);
  vt_end(t);
}

/* `vigil run` checks the same way, says the same, and exits 2 before
 * starting anything. */
static void test_run_bad_config(void) {
  vt_t *t = vt_begin("cfg-run");
  const char *f;
  vt_res_t *v, *r;
  if (!t)
    return;
  f = put(t, "bad.xml",
          apr_psprintf(vt_pool(t),
                       "<?xml version=\"1.0\"?>\n"
                       "<vigil>\n"
                       "  <supervisor><state-dir>%s</state-dir>"
                       "</supervisor>\n"
                       "  <service name=\"a\">\n"
                       "    <command>%s</command>\n"
                       "    <arg>--child</arg><arg>print</arg>"
                       "<arg>x</arg>\n"
                       "    <stop timeout=\"soon\"/>\n"
                       "    <bogus/>\n"
                       "  </service>\n"
                       "</vigil>\n",
                       vt_xml(t, vt_path(t, "state")),
                       vt_xml(t, vt_self(t))));
  v = vt_vigil(t, 10000, "validate", "-c", f, NULL);
  r = vt_vigil(t, 10000, "run", "-c", f, NULL);
  CU_ASSERT_EQUAL(v->code, 2);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT_PTR_NOT_NULL(line_for(t, r->err, f, 7));
  CU_ASSERT_PTR_NOT_NULL(line_for(t, r->err, f, 8));
  CU_ASSERT_STRING_EQUAL(r->err, v->err);
  CU_ASSERT(!vt_exists(vt_path(t, "state/vigil.lock")));
  CU_ASSERT(!vt_exists(vt_path(t, "logs/a.out.log")));
  /* A file that does not exist: exit 2 and a message naming it. */
  r = vt_vigil(t, 10000, "validate", "-c", vt_path(t, "nope.xml"), NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "nope.xml"));
  vt_end(t);
}

/* The config of test_control_while_broken(): a custom state dir (by
 * ${VAR:-default}) and a custom control endpoint; `broken` adds a bad
 * duration (line 10), an unknown element (11) and an unknown depends-on
 * (12).  The <supervisor> lines stay where they are. */
static const char *ctl_config(vt_t *t, const char *control, int broken) {
  return apr_psprintf(
      vt_pool(t),
      "<?xml version=\"1.0\"?>\n"                                    /* 1 */
      "<vigil>\n"                                                    /* 2 */
      "  <supervisor>\n"                                             /* 3 */
      "    <state-dir>${VIGIL_TEST_UNSET_DIR:-%s}</state-dir>\n"     /* 4 */
      "    <control>%s</control>\n"                                  /* 5 */
      "    <log-dir>%s</log-dir>\n"                                  /* 6 */
      "  </supervisor>\n"                                            /* 7 */
      "  <service name=\"a\">\n"                                     /* 8 */
      "    <command>%s</command>\n"                                  /* 9 */
      "    <arg>--child</arg><arg>sleep</arg><arg>30000</arg>%s\n"   /* 10 */
      "    %s\n"                                                     /* 11 */
      "    %s\n"                                                     /* 12 */
      "    " READY_FAST                                              /* 13 */
      "  </service>\n"
      "</vigil>\n",
      vt_xml(t, vt_path(t, "st")), vt_xml(t, control),
      vt_xml(t, vt_log_dir(t)), vt_xml(t, vt_self(t)),
      /* 1s: Wine cannot send the console BREAK of a stop */
      broken ? "<stop timeout=\"soon\"/>" : "<stop timeout=\"1s\"/>",
      broken ? "<bogus/>" : "",
      broken ? "<depends-on>nobody</depends-on>" : "");
}

/* Every control command reaches a running supervisor through -c FILE
 * while FILE has errors outside its <supervisor> paths (they are all
 * that is read), with a custom state dir and control endpoint; reload
 * is answered by the supervisor with the problems of the file.  When
 * the paths themselves cannot be read, that is said with FILE:LINE. */
static void test_control_while_broken(void) {
  vt_t *t = vt_begin("cfg-ctl");
  const char *f, *ctl;
  vt_res_t *r;
  if (!t)
    return;
#if defined(_WIN32)
  ctl = apr_psprintf(vt_pool(t), "\\\\.\\pipe\\vigil-cfg-ctl-%lu",
                     (unsigned long)vt_now_ms());
#else
  ctl = vt_path(t, "ctl.sock");
#endif
  f = put(t, "vigil.xml", ctl_config(t, ctl, 0));
  VT_REQUIRE(vt_sup_start_ready(t, f));
  VT_REQUIRE(vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL);

  put(t, "vigil.xml", ctl_config(t, ctl, 1));
  r = vt_vigil(t, 10000, "validate", "-c", f, NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT_PTR_NOT_NULL(line_for(t, r->err, f, 10));
  CU_ASSERT_PTR_NOT_NULL(line_for(t, r->err, f, 11));
  CU_ASSERT_PTR_NOT_NULL(line_for(t, r->err, f, 12));

  r = vt_vigil(t, 10000, "status", "-c", f, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT(vt_contains(r->out, "running"));
  r = vt_vigil(t, 10000, "logs", "a", "-c", f, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  r = vt_vigil(t, 20000, "stop", "a", "-c", f, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "stopped");
  r = vt_vigil(t, 20000, "start", "a", "-c", f, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  r = vt_vigil(t, 20000, "restart", "a", "-c", f, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "running");

  /* reload: the supervisor checks the file and refuses it, with lines */
  r = vt_vigil(t, 30000, "reload", "-c", f, NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT_PTR_NOT_NULL(line_for(t, r->err, f, 10));
  CU_ASSERT_PTR_NOT_NULL(line_for(t, r->err, f, 12));
  CU_ASSERT(vt_contains(r->err, "the running one stays"));
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "running");

  /* the paths themselves unreadable: exit 2, FILE:LINE, no guessing */
  put(t, "vigil.xml",
      apr_psprintf(vt_pool(t),
                   "<vigil>\n  <supervisor>\n"
                   "    <state-dir>${VIGIL_TEST_UNSET_DIR}</state-dir>\n"
                   "  </supervisor>\n</vigil>\n"));
  r = vt_vigil(t, 10000, "status", "-c", f, NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT_PTR_NOT_NULL(line_for(t, r->err, f, 3));
  CU_ASSERT(vt_contains(r->err, "cannot find the supervisor's control "
                                "endpoint"));

  put(t, "vigil.xml", ctl_config(t, ctl, 1));
  r = vt_vigil(t, 20000, "shutdown", "-c", f, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(vt_sup_wait_exit(t, VT_WAIT_MS), 0);
  vt_end(t);
}

/* A config file, or an include, that is a FIFO or a device: validate
 * and run refuse it at once with FILE:LINE (they used to block on the
 * FIFO and read /dev/zero without end).  POSIX: Windows has neither in
 * its file system (test_config.c covers NUL there). */
static void test_special_files(void) {
#if defined(_WIN32)
  fprintf(stderr, "\n    (POSIX only: no FIFOs or /dev/zero on Windows) ");
#else
  vt_t *t = vt_begin("cfg-fifo");
  const char *f, *fifo;
  vt_res_t *r;
  if (!t)
    return;
  fifo = vt_path(t, "fifo.xml");
  VT_REQUIRE(apr_file_namedpipe_create(fifo, APR_FPROT_UREAD |
                                                 APR_FPROT_UWRITE,
                                       vt_pool(t)) == APR_SUCCESS);
  f = put(t, "vigil.xml",
          apr_psprintf(vt_pool(t),
                       "<vigil>\n"
                       "  <include file=\"fifo.xml\"/>\n"
                       "  <include file=\"/dev/zero\"/>\n"
                       "</vigil>\n"));
  r = vt_vigil(t, 5000, "validate", "-c", f, NULL);
  CU_ASSERT(!r->timed_out);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(line_for(t, r->err, f, 2), "is a FIFO"));
  CU_ASSERT(vt_contains(line_for(t, r->err, f, 3), "character device"));
  r = vt_vigil(t, 5000, "run", "-c", f, NULL);
  CU_ASSERT(!r->timed_out);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(line_for(t, r->err, f, 2), "is a FIFO"));
  /* the config file itself, and a control command given it */
  r = vt_vigil(t, 5000, "validate", "-c", fifo, NULL);
  CU_ASSERT(!r->timed_out);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "it is a FIFO"));
  r = vt_vigil(t, 5000, "status", "-c", fifo, NULL);
  CU_ASSERT(!r->timed_out);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(r->err, "it is a FIFO"));
  vt_end(t);
#endif
}

/* A log name that climbs out of log-dir: validate and run refuse it
 * alike, at its line, and nothing is written outside log-dir. */
static void test_log_name_escapes(void) {
  vt_t *t = vt_begin("cfg-logname");
  const char *f;
  vt_res_t *v, *r;
  if (!t)
    return;
  f = put(t, "vigil.xml",
          apr_psprintf(vt_pool(t),
                       "<vigil>\n"
                       "  <supervisor><state-dir>%s</state-dir>"
                       "<log-dir>%s</log-dir></supervisor>\n"
                       "  <service name=\"a\">\n"
                       "    <command>%s</command>\n"
                       "    <arg>--child</arg><arg>print</arg><arg>x</arg>\n"
                       "    <log stdout=\"../escaped.log\"/>\n"
                       "  </service>\n"
                       "</vigil>\n",
                       vt_xml(t, vt_path(t, "state")),
                       vt_xml(t, vt_path(t, "logs")),
                       vt_xml(t, vt_self(t))));
  v = vt_vigil(t, 10000, "validate", "-c", f, NULL);
  r = vt_vigil(t, 10000, "run", "-c", f, NULL);
  CU_ASSERT_EQUAL(v->code, 2);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(vt_contains(line_for(t, v->err, f, 6),
                        "leaves the log directory"));
  CU_ASSERT_STRING_EQUAL(r->err, v->err);
  CU_ASSERT(!vt_exists(vt_path(t, "escaped.log")));
  vt_end(t);
}

#if defined(_WIN32)
/* Windows: the SCM expands %NAME% in a service's command line, and
 * nothing escapes a '%': a config under a directory with '%' in its name
 * is refused by `service install` (also --print), with the reason.
 * (POSIX: test_vigil_service.c, the systemd unit and launchd plist.) */
static void test_scm_percent(void) {
  vt_t *t = vt_begin("cfg-scm-pct");
  const char *dir, *cfg;
  vt_res_t *r;
  if (!t)
    return;
  dir = vt_path(t, "a%PATH%b");
  VT_REQUIRE(apr_dir_make(dir, APR_FPROT_OS_DEFAULT, vt_pool(t)) ==
             APR_SUCCESS);
  cfg = put(t, "a%PATH%b/vigil.xml", "<vigil/>\n");
  r = vt_vigil(t, VT_WAIT_MS, "service", "install", "-c", cfg, "--name",
               "vigiltestpct", "--print", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT_EQUAL(r->out_len, 0);
  CU_ASSERT(vt_contains(r->err, "expands %NAME%"));
  vt_end(t);
}
#endif

/* A log daemon target this platform does not have (eventlog off
 * Windows, journal on Windows): a warning with the line, not an error
 * (the same file runs on both; the lines go to the fallback file), from
 * validate and in the supervisor's log, and the service runs. */
static void test_log_target_missing(void) {
  vt_t *t = vt_begin("cfg-logtarget");
#if defined(_WIN32)
  const char *target = "journal", *why = "this platform has no journald";
#else
  const char *target = "eventlog",
             *why = "there is no Windows Event Log on this platform";
#endif
  const char *cfg, *want;
  vt_res_t *r;
  if (!t)
    return;
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "app", apr_psprintf(vt_pool(t),
                                                READY_FAST
                                                "    <log stderr=\"%s\"/>\n",
                                                target),
                         "sleep", "30000", NULL),
                  NULL);
  want = apr_psprintf(vt_pool(t), "vigil.xml:8: warning: service app: "
                      "<log stderr=\"%s\">: %s; the lines go to the fallback "
                      "file ", target, why);
  r = vt_vigil(t, 10000, "validate", "-c", cfg, NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_STRING_EQUAL(r->out, apr_pstrcat(vt_pool(t), cfg, ": ok\n",
                                             NULL));
  if (!vt_contains(r->err, want))
    fprintf(stderr, "validate said: %s\n", r->err);
  CU_ASSERT(vt_contains(r->err, want));
  CU_ASSERT(vt_contains(r->err, "app.err.log\n"));
  CU_ASSERT_EQUAL(vt_count_lines(r->err, "warning:"), 1);
  CU_ASSERT(!vt_contains(r->err, "error:"));
  /* The supervisor says it at start, and runs the service. */
  VT_REQUIRE(vt_sup_start_ready(t, cfg));
  CU_ASSERT(vt_wait_log(t, why, VT_WAIT_MS));
  CU_ASSERT(vt_wait_state(t, "app", "running", VT_WAIT_MS) != NULL);
  vt_end(t);
}

static CU_TestInfo vigil_config_tests[] = {
    {"validate: a good file is ok", test_valid_ok},
    {"validate: not well-formed XML, with lines", test_not_well_formed},
    {"validate: unknown elements, with lines", test_unknown_element},
    {"validate: unknown attributes, with lines", test_unknown_attribute},
    {"validate: bad durations, with lines", test_bad_duration},
    {"validate: dependency cycle and unknown name", test_dependency_cycle},
    {"run: a bad config exits 2 with the same errors", test_run_bad_config},
    {"control commands work while the file has errors",
     test_control_while_broken},
    {"validate, run: a FIFO or device is refused", test_special_files},
    {"validate, run: a log name may not leave log-dir",
     test_log_name_escapes},
    {"validate, run: a log target this platform lacks is a warning",
     test_log_target_missing},
#if defined(_WIN32)
    {"service install: a '%' in a path is refused", test_scm_percent},
#endif
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_config_suite = {.pName = "vigil_config",
                                   .pInitFunc = NULL,
                                   .pCleanupFunc = NULL,
                                   .pSetUpFunc = NULL,
                                   .pTearDownFunc = NULL,
                                   .pTests = vigil_config_tests};
