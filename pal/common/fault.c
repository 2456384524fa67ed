/*
 * fault.c -- the fault-injection seam, shared by all backends: tests
 * make a system call fail with EINTR, EAGAIN or ENOMEM on demand, so the
 * error paths that a real machine reaches only rarely run in every test.
 *
 * Call sites wrap each system call (see PAL__SYS in pal_posix.h).  While
 * no fault is armed that is a single branch on pal__faults_armed.  A test
 * arms a fault with pal_fault_inject(): after `skip` calls pass, the next
 * `count` calls fail with the given status.  EINTR and EAGAIN injected
 * this way exercise the retry and wait paths for real.
 */
#include "pal_common.h"

#include <string.h>

typedef struct {
  int err;              /* OS error number to inject */
  unsigned skip, count; /* calls to let through, calls to fail */
  unsigned fired;
} fault_t;

int pal__faults_armed;
static fault_t faults[PAL_SYS_COUNT_];

void pal_fault_inject(int call, apr_status_t err, unsigned skip,
                      unsigned count) {
  if (call < 0 || call >= PAL_SYS_COUNT_)
    return;
  faults[call].err = APR_TO_OS_ERROR(err);
  faults[call].skip = skip;
  faults[call].count = count;
  pal__faults_armed = 1;
}

void pal_fault_clear(void) {
  memset(faults, 0, sizeof faults);
  pal__faults_armed = 0;
}

unsigned pal_fault_fired(int call) {
  if (call < 0 || call >= PAL_SYS_COUNT_)
    return 0;
  return faults[call].fired;
}

int pal__fault_take(int call) {
  fault_t *f = &faults[call];
  if (f->count == 0)
    return 0;
  if (f->skip > 0) {
    f->skip--;
    return 0;
  }
  f->count--;
  f->fired++;
  return f->err;
}
