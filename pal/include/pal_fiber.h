/*
 * pal_fiber.h -- execution contexts with their own stacks (the machine
 * part of core/fiber.c's green threads).
 *
 * A pal_fiber_t is a stack plus the registers saved while it is not
 * running.  pal_fiber_switch() saves the callee-saved state of the
 * running context into `from` and resumes `to`; nothing else happens (no
 * system call, no signal mask), so a switch costs a few nanoseconds.
 *
 *   POSIX x86_64 / aarch64: a dozen instructions of assembly
 *   (pal/posix/fiber.c); other POSIX CPUs: ucontext (one sigprocmask per
 *   switch), as a portable fallback.
 *   Windows: CreateFiberEx / SwitchToFiber (pal/win32/fiber.c), which keep
 *   the TIB's stack limits, the exception chain and the XMM registers of
 *   the x64 ABI right.
 *
 * Stacks are mapped with a guard page below them: an overflow faults
 * (SIGSEGV, or a stack-overflow exception on Windows) instead of
 * corrupting the neighbouring memory.  Under ASan, TSan and valgrind
 * every switch is announced to the tool.
 *
 * A context is used by one thread at a time; switching to a context that
 * runs on another thread is undefined.
 */
#ifndef PAL_FIBER_H
#define PAL_FIBER_H

#include <stddef.h>

#include <apr.h>
#include <apr_errno.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pal_fiber_s pal_fiber_t;
/* A fiber's body.  It must never return: it ends by switching away with
 * pal_fiber_switch_final(). */
typedef void (*pal_fiber_fn)(void *arg);

/* Create a context that will run fn(arg) on a new stack of at least
 * stack_size usable bytes (rounded up to whole pages), with a guard page
 * below it.  fn starts on the first switch to it. */
apr_status_t pal_fiber_create(pal_fiber_t **fiber, size_t stack_size,
                              pal_fiber_fn fn, void *arg);
/* Release a context and its stack.  Never the running one. */
void pal_fiber_destroy(pal_fiber_t *fiber);
/* The calling thread's own context (its native stack), created on first
 * use and valid until pal_fiber_thread_release() on that thread.  NULL
 * if the OS refuses (Windows: ConvertThreadToFiber). */
pal_fiber_t *pal_fiber_thread(void);
/* Give back what pal_fiber_thread() took (no fiber of this thread may be
 * running).  Harmless if nothing was taken. */
void pal_fiber_thread_release(void);
/* Save the running context into `from` and resume `to`.  Returns when
 * something switches back to `from`. */
void pal_fiber_switch(pal_fiber_t *from, pal_fiber_t *to);
/* The last switch of a fiber whose body is done: like pal_fiber_switch()
 * but `from` is never resumed (the sanitizers forget its stack). */
void pal_fiber_switch_final(pal_fiber_t *from, pal_fiber_t *to)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;
/* The implementation's name: "asm-x86_64", "asm-aarch64", "ucontext",
 * "winfiber". */
const char *pal_fiber_impl(void);
/* Bytes of address space a stack of `stack_size` takes (guard included). */
size_t pal_fiber_stack_footprint(size_t stack_size);

#ifdef __cplusplus
}
#endif
#endif /* PAL_FIBER_H */
