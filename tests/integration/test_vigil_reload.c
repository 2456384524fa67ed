/*
 * test_vigil_reload.c -- `vigil reload` and SIGHUP (suite vigil_reload):
 * an added service starts, a removed one stops and leaves the status, a
 * changed one restarts (new pid), an unchanged or live-updated one keeps
 * its pid; an invalid new file is refused with FILE:LINE errors and the
 * old services keep running as they were.  SIGHUP is POSIX-only.
 */
#include "vigil_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

static int pid_not(const svc_json_t *s, void *arg) {
  int64_t pid = vt_ifield(s, "pid");
  const char *st = vt_sfield(s, "state");
  return pid > 0 && pid != *(long *)arg && st && !strcmp(st, "running");
}

/* Poll until `name` is no longer in the status. */
static int wait_absent(vt_t *t, const char *name, uint64_t ms) {
  uint64_t deadline = vt_now_ms() + ms;
  for (;;) {
    svc_json_t *st = vt_status(t);
    if (st && !vt_svc_of(st, name))
      return 1;
    if (vt_now_ms() >= deadline)
      return 0;
    vt_sleep(t, 25);
  }
}

/* The pids of the named services, all running. */
static int running_pids(vt_t *t, const char *const *names, long *pids) {
  int i;
  for (i = 0; names[i]; i++) {
    const svc_json_t *s = vt_wait_state(t, names[i], "running", VT_WAIT_MS);
    if (!s)
      return 0;
    pids[i] = (long)vt_ifield(s, "pid");
  }
  return 1;
}

/* The error line for LINE of FILE in text, or NULL. */
static int has_error_line(const char *text, const char *file, int line) {
  char prefix[1024];
  snprintf(prefix, sizeof prefix, "%s:%d: error: ", file, line);
  return vt_contains(text, prefix);
}

/* An invalid version of the config: unknown element on line 12, a bad
 * duration on line 15. */
static const char *bad_config(vt_t *t) {
  return apr_psprintf(
      vt_pool(t),
      "<?xml version=\"1.0\"?>\n"                          /* 1 */
      "<vigil>\n"                                          /* 2 */
      "  <supervisor>\n"                                   /* 3 */
      "    <state-dir>%s</state-dir>\n"                    /* 4 */
      "    <log-dir>%s</log-dir>\n"                        /* 5 */
      "  </supervisor>\n"                                  /* 6 */
      "  <service name=\"a\">\n"                           /* 7 */
      "    <command>%s</command>\n"                        /* 8 */
      "    <arg>--child</arg><arg>sleep</arg><arg>1</arg>\n" /* 9 */
      "  </service>\n"                                     /* 10 */
      "  <service name=\"new\">\n"                         /* 11 */
      "    <comand>/bin/true</comand>\n"                   /* 12 */
      "  </service>\n"                                     /* 13 */
      "  <service name=\"b\">\n"                           /* 14 */
      "    <command>/bin/true</command><stop timeout=\"1x\"/>\n" /* 15 */
      "  </service>\n"                                     /* 16 */
      "</vigil>\n",
      vt_xml(t, vt_path(t, "state")), vt_xml(t, vt_log_dir(t)),
      vt_xml(t, vt_self(t)));
}

/* ---- tests ------------------------------------------------------------------ */

static void test_reload_applies_diff(void) {
  vt_t *t = vt_begin("reload");
  static const char *const names[] = {"keep", "change", "gone", "tuned",
                                      NULL};
  long pids[4], pid;
  const svc_json_t *s;
  vt_res_t *r;
  if (!t)
    return;
  vt_config(t, "vigil.xml",
            vt_svc(t, "keep", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "change", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "gone", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "tuned",
                   "<restart delay=\"100ms\"/>\n    " READY_FAST, "sleep",
                   "30000", NULL),
            NULL);
  VT_REQUIRE(vt_sup_start_ready(t, vt_path(t, "vigil.xml")));
  VT_REQUIRE(running_pids(t, names, pids));

  vt_config(t, "vigil.xml",
            vt_svc(t, "keep", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "change", READY_FAST, "sleep", "29000", NULL),
            vt_svc(t, "tuned",
                   "<restart delay=\"200ms\"/>\n    " READY_FAST, "sleep",
                   "30000", NULL),
            vt_svc(t, "added", READY_FAST, "sleep", "30000", NULL), NULL);
  r = vt_cli(t, "reload", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_EQUAL(r->err_len, 0);

  /* added: starts */
  s = vt_wait_state(t, "added", "running", VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL(s);
  /* removed: stops, and is no longer listed */
  CU_ASSERT(wait_absent(t, "gone", VT_WAIT_MS));
  CU_ASSERT(vt_wait_pid_gone(t, pids[2], 2000));
  /* changed args: restarted with a new pid */
  s = vt_wait_svc(t, "change", pid_not, &pids[1], VT_WAIT_MS);
  CU_ASSERT_PTR_NOT_NULL(s);
  CU_ASSERT(vt_wait_pid_gone(t, pids[1], 2000));
  /* unchanged, and changed only in what applies live: same pid */
  s = vt_svc_of(vt_status(t), "keep");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "running");
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), pids[0]);
  s = vt_svc_of(vt_status(t), "tuned");
  CU_ASSERT_STRING_EQUAL(vt_sfield(s, "state"), "running");
  CU_ASSERT_EQUAL(vt_ifield(s, "pid"), pids[3]);
  CU_ASSERT(vt_contains(vt_sup_log(t), "1 added, 1 removed, 1 changed"));

  /* The status lists exactly the new config's services. */
  {
    svc_json_t *st = vt_status(t);
    CU_ASSERT_EQUAL(svc_json_size(svc_json_get(st, "services")), 4);
  }
  /* A second reload with nothing changed changes nothing. */
  pid = vt_pid(t, "change");
  r = vt_cli(t, "reload", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  vt_sleep(t, 200);
  CU_ASSERT_EQUAL(vt_pid(t, "change"), pid);
  CU_ASSERT_EQUAL(vt_pid(t, "keep"), pids[0]);
  vt_end(t);
}

static void test_reload_invalid_refused(void) {
  vt_t *t = vt_begin("reload-bad");
  static const char *const names[] = {"a", "b", NULL};
  long pids[2];
  const char *cfg;
  vt_res_t *r;
  if (!t)
    return;
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
                  vt_svc(t, "b", READY_FAST, "sleep", "30000", NULL), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, cfg));
  VT_REQUIRE(running_pids(t, names, pids));
  VT_REQUIRE(vt_write_file(t, cfg, bad_config(t)) == 0);

  /* Through the config file, as a user types it. */
  r = vt_cli(t, "reload", NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(has_error_line(r->err, cfg, 12));
  CU_ASSERT(has_error_line(r->err, cfg, 15));

  /* Through the endpoint: the supervisor itself refuses, with the same
   * lines. */
  r = vt_vigil(t, 30000, "reload", "--control", vt_control_path(t), NULL);
  CU_ASSERT_EQUAL(r->code, 2);
  CU_ASSERT(has_error_line(r->err, cfg, 12));
  CU_ASSERT(has_error_line(r->err, cfg, 15));
  CU_ASSERT(vt_wait_log(t, "refused", 2000));

  /* The old services run on, untouched. */
  vt_sleep(t, 200);
  r = vt_vigil(t, 10000, "status", "--json", "--control",
               vt_control_path(t), NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  {
    svc_json_t *st = NULL;
    svc_json_error_t jerr;
    if (svc_json_parse(&st, r->out, r->out_len, vt_pool(t), &jerr) ==
        APR_SUCCESS) {
      const svc_json_t *sa = vt_svc_of(st, "a"), *sb = vt_svc_of(st, "b");
      CU_ASSERT_STRING_EQUAL(vt_sfield(sa, "state"), "running");
      CU_ASSERT_STRING_EQUAL(vt_sfield(sb, "state"), "running");
      CU_ASSERT_EQUAL(vt_ifield(sa, "pid"), pids[0]);
      CU_ASSERT_EQUAL(vt_ifield(sb, "pid"), pids[1]);
      CU_ASSERT_PTR_NULL(vt_svc_of(st, "new"));
      CU_ASSERT_EQUAL(svc_json_size(svc_json_get(st, "services")), 2);
    } else {
      CU_FAIL("status --json after a refused reload is not JSON");
    }
  }
  CU_ASSERT(vt_pid_alive(pids[0]));
  CU_ASSERT(vt_pid_alive(pids[1]));

  /* A good file again: the next reload works. */
  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "b", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "c", READY_FAST, "sleep", "30000", NULL), NULL);
  r = vt_cli(t, "reload", NULL);
  CU_ASSERT_EQUAL(r->code, 0);
  CU_ASSERT_PTR_NOT_NULL(vt_wait_state(t, "c", "running", VT_WAIT_MS));
  CU_ASSERT_EQUAL(vt_pid(t, "a"), pids[0]);
  CU_ASSERT_EQUAL(vt_pid(t, "b"), pids[1]);
  vt_end(t);
}

#if !defined(_WIN32)
/* POSIX-only: Windows has no SIGHUP (a "signal" there ends the process);
 * `vigil reload`, above, is its way. */
static void test_sighup_reloads(void) {
  vt_t *t = vt_begin("sighup");
  const char *cfg;
  long pa;
  if (!t)
    return;
  cfg = vt_config(t, "vigil.xml",
                  vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL), NULL);
  VT_REQUIRE(vt_sup_start_ready(t, cfg));
  VT_REQUIRE(vt_wait_state(t, "a", "running", VT_WAIT_MS) != NULL);
  pa = vt_pid(t, "a");

  vt_config(t, "vigil.xml",
            vt_svc(t, "a", READY_FAST, "sleep", "30000", NULL),
            vt_svc(t, "b", READY_FAST, "sleep", "30000", NULL), NULL);
  CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGHUP), 0);
  CU_ASSERT_PTR_NOT_NULL(vt_wait_state(t, "b", "running", VT_WAIT_MS));
  CU_ASSERT_EQUAL(vt_pid(t, "a"), pa);

  /* An invalid file on SIGHUP: logged with its lines, nothing changes. */
  VT_REQUIRE(vt_write_file(t, cfg, bad_config(t)) == 0);
  vt_use_control(t, 1);   /* `-c` needs a valid file to find the endpoint */
  CU_ASSERT_EQUAL(vt_sup_kill(t, VG_SIGHUP), 0);
  CU_ASSERT(vt_wait_log(t, apr_psprintf(vt_pool(t), "%s:12: error: ", cfg),
                        VT_WAIT_MS));
  CU_ASSERT(vt_wait_log(t, apr_psprintf(vt_pool(t), "%s:15: error: ", cfg),
                        2000));
  CU_ASSERT(vt_sup_running(t));
  CU_ASSERT_STRING_EQUAL(vt_state(t, "a"), "running");
  CU_ASSERT_STRING_EQUAL(vt_state(t, "b"), "running");
  CU_ASSERT_EQUAL(vt_pid(t, "a"), pa);
  vt_end(t);
}
#endif

static CU_TestInfo vigil_reload_tests[] = {
    {"reload: add, remove, change, keep", test_reload_applies_diff},
    {"reload: an invalid file is refused", test_reload_invalid_refused},
#if !defined(_WIN32)
    {"SIGHUP reloads (and refuses a bad file)", test_sighup_reloads},
#endif
    CU_TEST_INFO_NULL};

CU_SuiteInfo vigil_reload_suite = {.pName = "vigil_reload",
                                   .pInitFunc = NULL,
                                   .pCleanupFunc = NULL,
                                   .pSetUpFunc = NULL,
                                   .pTearDownFunc = NULL,
                                   .pTests = vigil_reload_tests};
