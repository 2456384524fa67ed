/*
 * fiber.c -- Windows execution contexts for fibers: the OS's own fibers.
 *
 * CreateFiberEx / SwitchToFiber are the right tool here: besides the
 * registers of the x64 ABI (XMM6-XMM15 included) a Windows context
 * carries the TIB's stack base, limit and deallocation stack, the SEH
 * chain and the fiber-local storage, which SwitchToFiber keeps right and
 * a hand-written switch would have to chase.  The stack is reserved by
 * the OS with its guard page, so an overflow raises
 * EXCEPTION_STACK_OVERFLOW instead of corrupting memory.  A switch costs
 * a few tens of nanoseconds (no kernel transition).
 *
 * A thread must be a fiber itself before it can switch to one:
 * pal_fiber_thread() converts it (ConvertThreadToFiberEx) unless it
 * already is one, and pal_fiber_thread_release() converts it back.
 */
#include "pal_win32.h"
#include "pal_fiber.h"

#include <stdlib.h>

struct pal_fiber_s {
  void *os;                     /* the OS fiber */
  pal_fiber_fn fn;
  void *arg;
  int converted;                /* a thread's: we converted it */
};

static VOID CALLBACK fiber_entry(LPVOID param) {
  pal_fiber_t *f = param;
  f->fn(f->arg);
  abort();   /* a body must end with pal_fiber_switch_final() */
}

/* The OS rounds the reservation to its allocation granularity (64 KiB);
 * the commit is one page, the rest faults in as the stack grows. */
size_t pal_fiber_stack_footprint(size_t stack_size) {
  size_t g = 65536;
  return (stack_size + g - 1) / g * g;
}

apr_status_t pal_fiber_create(pal_fiber_t **out, size_t stack_size,
                              pal_fiber_fn fn, void *arg) {
  pal_fiber_t *f;

  if (fn == NULL)
    return APR_EINVAL;
  f = calloc(1, sizeof *f);
  if (f == NULL)
    return APR_ENOMEM;
  f->fn = fn;
  f->arg = arg;
  f->os = CreateFiberEx(4096, stack_size, FIBER_FLAG_FLOAT_SWITCH,
                        fiber_entry, f);
  if (f->os == NULL) {
    apr_status_t rv = pal__fail("CreateFiberEx");
    free(f);
    return rv;
  }
  *out = f;
  return APR_SUCCESS;
}

void pal_fiber_destroy(pal_fiber_t *f) {
  if (f == NULL || f->os == NULL)
    return;
  DeleteFiber(f->os);
  free(f);
}

static __thread pal_fiber_t t_thread_ctx;

/* GetCurrentFiber() reads the TIB through gs:[0x20]; mingw's inline
 * __readgsqword trips gcc's -Warray-bounds (a false positive). */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
static void *current_os_fiber(void) { return GetCurrentFiber(); }
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

pal_fiber_t *pal_fiber_thread(void) {
  if (t_thread_ctx.os != NULL)
    return &t_thread_ctx;
  if (IsThreadAFiber()) {
    t_thread_ctx.os = current_os_fiber();
    t_thread_ctx.converted = 0;
  } else {
    t_thread_ctx.os = ConvertThreadToFiberEx(NULL, FIBER_FLAG_FLOAT_SWITCH);
    if (t_thread_ctx.os == NULL) {
      (void)pal__fail("ConvertThreadToFiberEx");
      return NULL;
    }
    t_thread_ctx.converted = 1;
  }
  return &t_thread_ctx;
}

void pal_fiber_thread_release(void) {
  if (t_thread_ctx.os != NULL && t_thread_ctx.converted)
    ConvertFiberToThread();
  t_thread_ctx.os = NULL;
}

void pal_fiber_switch(pal_fiber_t *from, pal_fiber_t *to) {
  (void)from;
  SwitchToFiber(to->os);
}

void pal_fiber_switch_final(pal_fiber_t *from, pal_fiber_t *to) {
  (void)from;
  SwitchToFiber(to->os);
  abort();   /* nothing resumes a finished fiber */
}

const char *pal_fiber_impl(void) { return "winfiber"; }
