/*
 * test.h -- shared declarations for the CUnit suites.
 *
 * Each tests/test_<module>.c defines `CU_SuiteInfo <module>_suite`
 * (designated initialisers; CUnit 2.1-3 has six fields) over a
 * `CU_TestInfo <module>_tests[]`.  run_tests.c lists every suite once.
 * Tests that need a real child process re-run this binary as
 * `run_tests --child NAME ARGS...` (see child mode table in run_tests.c).
 */
#ifndef VIGIL_TEST_H
#define VIGIL_TEST_H

#include <CUnit/CUnit.h>
#include "vigil.h"

/* Absolute path of the test binary (argv[0]), for child modes. */
extern const char *vg_test_self;
/* A pool that lives for the whole suite run. */
extern apr_pool_t *vg_test_pool;

/* Run the loop until `*flag` becomes non-zero or `ms` of loop time pass.
 * Returns the flag's value.  Uses a private timer; never busy-waits. */
int vg_test_run_until(vg_loop_t *loop, volatile int *flag, uint64_t ms);
/* Close every handle still open on the loop, run the close phase, then
 * assert that vg_loop_close() succeeds. */
void vg_test_close_loop(vg_loop_t *loop);

/* Suites. */
#define VG_TEST_SUITES(X)                                                    \
  X(pal) X(loop) X(timer) X(tcp) X(pipe) X(udp) X(process) X(signal)        \
  X(async) X(work) X(chan) X(lockfile) X(graceful) X(log) X(json) X(probe)  \
  X(config) X(logfile) X(vigil_config) X(vigil_run) X(vigil_logs)          \
  X(vigil_reload) X(vigil_control) X(vigil_deps)

#define X(name) extern CU_SuiteInfo name##_suite;
VG_TEST_SUITES(X)
#undef X

/* Child modes: `run_tests --child NAME args...` calls fn(argc, argv) with
 * argv[0] == NAME and exits with its return value. */
typedef int (*vg_child_fn)(int argc, char **argv);
typedef struct { const char *name; vg_child_fn fn; } vg_child_mode_t;
/* tests/child.c: generic children (exit codes, echo, sleep, ignore TERM,
 * grandchildren, ...).  tests/child_lock.c: lockfile holder. */
extern const vg_child_mode_t vg_child_modes[];
extern const vg_child_mode_t vg_child_lock_modes[];
extern const vg_child_mode_t vg_child_logfile_modes[];
extern const vg_child_mode_t vg_child_integ_modes[];

#endif
