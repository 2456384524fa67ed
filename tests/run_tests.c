/*
 * run_tests.c -- the one CUnit runner for every suite.
 *
 *   run_tests              run every suite
 *   run_tests SUITE...     run the named suites (one ctest per suite)
 *   run_tests --list       print the suite names
 *   run_tests --child NAME ARGS...   act as a child process for a test
 *
 * On Windows vg_test_self, with which the tests re-run this binary as a
 * child, is the module's own path (GetModuleFileNameW): under Wine, the
 * Windows build's ctest emulator, argv[0] happens to be an absolute
 * Windows path too ("Z:\\work\\...\\run_tests.exe"), but a parent may
 * write any argv[0].
 *
 * Exit status is 0 only if every test ran and passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "test.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#endif

const char *vg_test_self;
apr_pool_t *vg_test_pool;
int vg_test_suites_skipped;

typedef struct {
  const char *name;
  CU_SuiteInfo *suite;
} suite_entry_t;

#define X(n) {#n, &n##_suite},
static suite_entry_t all_suites[] = {VG_TEST_SUITES(X){NULL, NULL}};
#undef X

static const vg_child_mode_t *child_tables[] = {
    vg_child_modes, vg_child_lock_modes, vg_child_logfile_modes,
    vg_child_integ_modes, vg_child_fiber_modes,
    vg_child_hostile_modes,
#ifdef _WIN32
    vg_child_win32_modes,
#endif
    NULL};

static int run_child(int argc, char **argv) {
  const vg_child_mode_t *const *t;
  const vg_child_mode_t *m;
  for (t = child_tables; *t; t++)
    for (m = *t; m->name; m++)
      if (strcmp(m->name, argv[0]) == 0)
        return m->fn(argc, argv);
  fprintf(stderr, "run_tests: unknown child mode '%s'\n", argv[0]);
  return 125;
}

typedef struct {
  vg_timer_t timer;
  int fired;
} until_t;

static void until_cb(vg_timer_t *t) {
  ((until_t *)t->data)->fired = 1;
}

int vg_test_run_until(vg_loop_t *loop, volatile int *flag, uint64_t ms) {
  until_t u;
  u.fired = 0;
  vg_timer_init(loop, &u.timer);
  u.timer.data = &u;
  vg_timer_start(&u.timer, until_cb, ms, 0);
  while (!*flag && !u.fired)
    if (!vg_run(loop, VG_RUN_ONCE) && !*flag)
      break;
  vg_close((vg_handle_t *)&u.timer, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  return *flag;
}

static void cond_guard_cb(vg_timer_t *t) { (void)t; }

int vg_test_run_cond(vg_loop_t *loop, int (*cond)(void *), void *arg,
                     uint64_t ms) {
  vg_timer_t guard;
  uint64_t start = vg_now(loop);
  int ok;
  vg_timer_init(loop, &guard);
  vg_timer_start(&guard, cond_guard_cb, 10, 10);
  vg_unref((vg_handle_t *)&guard);
  while (!(ok = cond(arg)) && vg_now(loop) - start < ms)
    if (!vg_run(loop, VG_RUN_ONCE) && !(ok = cond(arg)))
      break;
  vg_close((vg_handle_t *)&guard, NULL);
  vg_run(loop, VG_RUN_NOWAIT);
  return ok;
}

vg_loop_t *vg_test_new_loop(void) {
  vg_loop_t *loop = NULL;
  CU_ASSERT_EQUAL_FATAL(vg_loop_create(&loop, vg_test_pool), APR_SUCCESS);
  CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
  return loop;
}

void vg_test_fault_reset(void) {
  pal_fault_clear();
}

int vg_test_fault_clean(void) {
  pal_fault_clear();
  return 0;
}

static void close_walk_cb(vg_handle_t *h, void *arg) {
  (void)arg;
  if (!vg_is_closing(h))
    vg_close(h, NULL);
}

void vg_test_close_loop(vg_loop_t *loop) {
  vg_walk(loop, close_walk_cb, NULL);
  vg_run(loop, VG_RUN_DEFAULT);
  CU_ASSERT_EQUAL(vg_loop_close(loop), APR_SUCCESS);
}

int main(int argc, char **argv) {
  CU_pSuite s;
  unsigned failures, run = 0;
  int i, any = 0;
  suite_entry_t *e;

  vg_test_self = argv[0];
#ifdef _WIN32
  {
    /* argv[0] is whatever the parent wrote first on the command line
     * (Wine: "Z:\\...\\run_tests.exe"); the module's own path is
     * absolute in every case, so a child spawned with another cwd still
     * finds us. */
    static char self[MAX_PATH * 3 + 1];
    wchar_t w[MAX_PATH + 1];
    DWORD n = GetModuleFileNameW(NULL, w, MAX_PATH);
    if (n > 0 && n < MAX_PATH &&
        WideCharToMultiByte(CP_UTF8, 0, w, -1, self, (int)sizeof self, NULL,
                            NULL) > 0)
      vg_test_self = self;
  }
#endif
  if (argc >= 3 && strcmp(argv[1], "--child") == 0) {
    if (vg_initialize() != APR_SUCCESS)
      return 124;
    return run_child(argc - 2, argv + 2);
  }
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (e = all_suites; e->name; e++)
      printf("%s\n", e->name);
    return 0;
  }
  if (vg_initialize() != APR_SUCCESS) {
    fprintf(stderr, "run_tests: vg_initialize failed\n");
    return 1;
  }
  apr_pool_create(&vg_test_pool, NULL);
  {
    /* A backend that VIGIL_BACKEND names and this machine cannot run
     * (io_uring on an old or locked-down kernel): skipped, saying why,
     * unless VIGIL_TEST_REQUIRE_IO_URING=1; the same for the default
     * when it is epoll for that reason. */
    pal_poll_t *probe;
    apr_status_t rv = pal_poll_create(&probe);
    if (rv == APR_SUCCESS) {
      pal_poll_destroy(probe);
    } else {
      const char *req = getenv("VIGIL_TEST_REQUIRE_IO_URING");
      int fatal = req && strcmp(req, "1") == 0;
      char msg[128];
      printf("SKIPPED [backend]: %s: %s (%s)%s\n", pal_poll_name(),
             pal_last_call() ? pal_last_call() : "?",
             pal_strerror(rv, msg, sizeof msg),
             fatal ? " (VIGIL_TEST_REQUIRE_IO_URING=1: a failure)" : "");
      return fatal ? 1 : 77;
    }
    if (pal_poll_fallback()) {
      /* The default, io_uring, is refused here: this runs on epoll. */
      const char *req = getenv("VIGIL_TEST_REQUIRE_IO_URING");
      int fatal = req && strcmp(req, "1") == 0;
      printf("SKIPPED [backend]: io_uring as the default (this runs on "
             "epoll): %s%s\n",
             pal_poll_fallback(),
             fatal ? " (VIGIL_TEST_REQUIRE_IO_URING=1: a failure)" : "");
      if (fatal)
        return 1;
    }
  }

  if (CU_initialize_registry() != CUE_SUCCESS)
    return 1;
  for (e = all_suites; e->name; e++) {
    int wanted = argc < 2;
    for (i = 1; i < argc; i++)
      if (strcmp(argv[i], e->name) == 0)
        wanted = 1;
    if (!wanted)
      continue;
    any = 1;
    {
      CU_SuiteInfo one[2];
      memset(one, 0, sizeof one);
      one[0] = *e->suite;
      if (CU_register_suites(one) != CUE_SUCCESS) {
        fprintf(stderr, "run_tests: cannot register %s: %s\n", e->name,
                CU_get_error_msg());
        return 1;
      }
    }
  }
  if (!any) {
    fprintf(stderr, "run_tests: no such suite\n");
    CU_cleanup_registry();
    return 2;
  }
  (void)s;
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  run = CU_get_number_of_tests_run();
  failures += CU_get_number_of_suites_failed() -
              (unsigned)vg_test_suites_skipped;
  CU_cleanup_registry();
  apr_pool_destroy(vg_test_pool);
  apr_terminate();
  if (failures == 0 && run == 0 && vg_test_suites_skipped > 0)
    return 77;   /* ctest: skipped (each suite said why) */
  return (failures == 0 && run > 0) ? 0 : 1;
}
