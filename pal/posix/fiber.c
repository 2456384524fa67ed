/*
 * fiber.c -- POSIX execution contexts for fibers: guarded stacks and the
 * context switch.
 *
 * Map:
 *   1. sanitizer and valgrind announcements (every switch goes through
 *      them; they compile to nothing in ordinary builds)
 *   2. the switch: assembly for x86_64 and aarch64 (System V / Apple),
 *      ucontext elsewhere
 *   3. stacks: one anonymous mapping per fiber, guard page at the bottom,
 *      the pal_fiber_t itself in the top bytes; a small cache of
 *      released ones
 *   4. the public functions
 *
 * The assembly switch saves only what the ABI says a callee preserves
 * (x86_64: rbx, rbp, r12-r15, the MXCSR and x87 control words; aarch64:
 * x19-x30 and d8-d15) on the stack being left, stores the stack pointer
 * in `from`, and pops the same frame from `to`'s stack.  No system call:
 * the signal mask belongs to the thread, not to the fiber (ucontext's
 * swapcontext, by contrast, calls sigprocmask on every switch).
 *
 * Guard page: Linux 6.13+ installs it with madvise(MADV_GUARD_INSTALL),
 * which does not split the mapping, so adjacent stacks merge into one
 * VMA and 100,000 fibers stay far below vm.max_map_count.  Elsewhere (or
 * if the kernel refuses) it is mprotect(PROT_NONE), which costs a second
 * VMA per stack: about 32,000 fibers under Linux's default limit of
 * 65,530 mappings, after which creation fails with APR_ENOMEM.  Either
 * way an overflow is a SIGSEGV at the guard, never a silent write into
 * the next stack.
 */
#include "pal_posix.h"
#include "pal_fiber.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- 1. announcements ------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
#define PAL__FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PAL__FIBER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define PAL__FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PAL__FIBER_TSAN 1
#endif
#endif

#ifdef PAL__FIBER_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save,
                                    const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old,
                                     size_t *size_old);
#endif
#ifdef PAL__FIBER_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif
#ifdef PAL_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

/* ---- 2. the switch --------------------------------------------------- */

#if defined(__x86_64__) || defined(__aarch64__)
#define PAL__FIBER_ASM 1
#else
#include <ucontext.h>
#endif

struct pal_fiber_s {
  void *sp;                     /* saved stack pointer (assembly switch) */
  pal_fiber_fn fn;
  void *arg;
  char *map;                    /* the mapping; NULL: a thread's context */
  size_t map_len;
  char *stack_lo;               /* lowest usable byte (above the guard) */
  size_t stack_len;             /* usable bytes, up to this struct */
#ifndef PAL__FIBER_ASM
  ucontext_t uc;
#endif
#ifdef PAL__FIBER_ASAN
  void *fake_stack;
  const void *asan_bottom;      /* a thread's: learnt on the first switch */
  size_t asan_size;
#endif
#ifdef PAL__FIBER_TSAN
  void *tsan;
#endif
#ifdef PAL_HAVE_VALGRIND_H
  unsigned vg_stack_id;
#endif
};

#ifdef PAL__FIBER_ASM
/* PAL__SWAP(from, to): saves into from->sp, loads to->sp (`sp` is the
 * struct's first member); see the top of the file.  Without a sanitizer
 * to tell, it is pal_fiber_switch() itself: a switch is then one call.
 * pal__fiber_start: where a new stack's first switch returns to; it calls
 * fn(arg) from the registers the initial frame loads (x86_64: rbx(r12),
 * aarch64: x19(x20)), and traps if fn ever returns. */
#if !defined(PAL__FIBER_ASAN) && !defined(PAL__FIBER_TSAN)
#define PAL__FIBER_DIRECT 1
#define PAL__SWAP pal_fiber_switch
#else
#define PAL__SWAP pal__fiber_swap
void pal__fiber_swap(pal_fiber_t *from, pal_fiber_t *to);
#endif
void pal__fiber_start(void);
#define PAL__STR2(x) #x
#define PAL__STR(x) PAL__STR2(x)

#if defined(__APPLE__)
#define PAL__ASM_FN(n)                                                       \
  ".text\n.globl _" PAL__STR(n) "\n.p2align 4\n_" PAL__STR(n) ":\n"
#define PAL__ASM_END(n) ""
#else
#define PAL__ASM_FN(n)                                                       \
  ".text\n.globl " PAL__STR(n) "\n.type " PAL__STR(n) ",@function\n"       \
  ".p2align 4\n" PAL__STR(n) ":\n"
#define PAL__ASM_END(n) ".size " PAL__STR(n) ", .-" PAL__STR(n) "\n"
#endif

#if defined(__x86_64__)
__asm__(PAL__ASM_FN(PAL__SWAP)
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq (%rsi), %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        PAL__ASM_END(PAL__SWAP)
        PAL__ASM_FN(pal__fiber_start)
        "  movq %r12, %rdi\n"
        "  callq *%rbx\n"
        "  ud2\n"
        PAL__ASM_END(pal__fiber_start));

/* The frame PAL__SWAP pops, lowest address first. */
enum { PAL__FRAME_WORDS = 8 };

static void frame_init(pal_fiber_t *f, uintptr_t top, uintptr_t entry) {
  uintptr_t *w = (uintptr_t *)(top - PAL__FRAME_WORDS * sizeof(uintptr_t));
  /* After the final `ret` rsp == top (16-aligned), so the `call` in
   * pal__fiber_start enters fn with the alignment the ABI wants. */
  w[0] = 0x1F80u | ((uintptr_t)0x037Fu << 32);  /* MXCSR, x87 CW */
  w[1] = w[2] = w[3] = 0;                        /* r15 r14 r13 */
  w[4] = (uintptr_t)f;                           /* r12: arg */
  w[5] = entry;                                  /* rbx: fn */
  w[6] = 0;                                      /* rbp: end of chain */
  w[7] = (uintptr_t)pal__fiber_start;            /* return address */
  f->sp = w;
}
#else /* __aarch64__ */
__asm__(PAL__ASM_FN(PAL__SWAP)
        "  sub sp, sp, #176\n"
        "  stp x19, x20, [sp, #0]\n"
        "  stp x21, x22, [sp, #16]\n"
        "  stp x23, x24, [sp, #32]\n"
        "  stp x25, x26, [sp, #48]\n"
        "  stp x27, x28, [sp, #64]\n"
        "  stp x29, x30, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n"
        "  stp d10, d11, [sp, #112]\n"
        "  stp d12, d13, [sp, #128]\n"
        "  stp d14, d15, [sp, #144]\n"
        "  mov x9, sp\n"
        "  str x9, [x0]\n"
        "  ldr x9, [x1]\n"
        "  mov sp, x9\n"
        "  ldp x19, x20, [sp, #0]\n"
        "  ldp x21, x22, [sp, #16]\n"
        "  ldp x23, x24, [sp, #32]\n"
        "  ldp x25, x26, [sp, #48]\n"
        "  ldp x27, x28, [sp, #64]\n"
        "  ldp x29, x30, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n"
        "  ldp d10, d11, [sp, #112]\n"
        "  ldp d12, d13, [sp, #128]\n"
        "  ldp d14, d15, [sp, #144]\n"
        "  add sp, sp, #176\n"
        "  ret\n"
        PAL__ASM_END(PAL__SWAP)
        PAL__ASM_FN(pal__fiber_start)
        "  mov x0, x20\n"
        "  blr x19\n"
        "  brk #0\n"
        PAL__ASM_END(pal__fiber_start));

enum { PAL__FRAME_WORDS = 22 };   /* 176 bytes */

static void frame_init(pal_fiber_t *f, uintptr_t top, uintptr_t entry) {
  uintptr_t *w = (uintptr_t *)(top - PAL__FRAME_WORDS * sizeof(uintptr_t));
  memset(w, 0, PAL__FRAME_WORDS * sizeof(uintptr_t));
  w[0] = entry;                                  /* x19: fn */
  w[1] = (uintptr_t)f;                           /* x20: arg */
  w[10] = 0;                                     /* x29: end of chain */
  w[11] = (uintptr_t)pal__fiber_start;           /* x30: return address */
  f->sp = w;
}
#endif
#endif /* PAL__FIBER_ASM */

#ifdef PAL__FIBER_ASAN
static _Thread_local pal_fiber_t *t_switch_from;  /* for announce_finish */
#endif

static void announce_start(pal_fiber_t *from, pal_fiber_t *to, int final) {
#ifdef PAL__FIBER_ASAN
  t_switch_from = from;
  __sanitizer_start_switch_fiber(final ? NULL : &from->fake_stack,
                                 to->asan_bottom, to->asan_size);
#else
  (void)from;
  (void)final;
#endif
#ifdef PAL__FIBER_TSAN
  __tsan_switch_to_fiber(to->tsan, 0);
#else
  (void)to;
#endif
}

/* In the context just resumed: finish the switch, and learn the bounds of
 * the stack we came from (a thread's own stack is known only this way). */
static void announce_finish(pal_fiber_t *self) {
#ifdef PAL__FIBER_ASAN
  pal_fiber_t *from = t_switch_from;
  const void *bottom;
  size_t size;
  __sanitizer_finish_switch_fiber(self->fake_stack, &bottom, &size);
  if (from != NULL && from->map == NULL) {
    from->asan_bottom = bottom;
    from->asan_size = size;
  }
#else
  (void)self;
#endif
}

/* Every new context starts here, on its own stack. */
static void fiber_entry(pal_fiber_t *f) {
  announce_finish(f);
  f->fn(f->arg);
  abort();   /* a body must end with pal_fiber_switch_final() */
}

#ifndef PAL__FIBER_ASM
static _Thread_local pal_fiber_t *t_starting;

static void fiber_uc_entry(void) {
  fiber_entry(t_starting);
}
#endif

static void swap(pal_fiber_t *from, pal_fiber_t *to) {
#ifdef PAL__FIBER_ASM
  PAL__SWAP(from, to);
#else
  t_starting = to;
  if (swapcontext(&from->uc, &to->uc) != 0)
    abort();   /* only EFAULT-like misuse: nothing sane to do */
#endif
}

/* ---- 3. stacks -------------------------------------------------------- */

#if defined(__linux__) && !defined(MADV_GUARD_INSTALL)
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MAP_STACK
#define MAP_STACK 0
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

static size_t page_size(void) {
  static size_t ps;
  if (ps == 0) {
    long v = sysconf(_SC_PAGESIZE);
    ps = v > 0 ? (size_t)v : 4096;
  }
  return ps;
}

/* Usable bytes (the struct's share included) and the mapping's length. */
static size_t stack_usable(size_t stack_size) {
  size_t ps = page_size();
  size_t want = stack_size + sizeof(pal_fiber_t);
  return (want + ps - 1) / ps * ps;
}

size_t pal_fiber_stack_footprint(size_t stack_size) {
  return stack_usable(stack_size) + page_size();
}

static apr_status_t guard(char *lo, size_t len) {
#ifdef MADV_GUARD_INSTALL
  if (madvise(lo, len, MADV_GUARD_INSTALL) == 0)
    return APR_SUCCESS;
#endif
  if (mprotect(lo, len, PROT_NONE) != 0)
    return pal__fail("mprotect");
  return APR_SUCCESS;
}

/* ---- 4. the public functions ------------------------------------------ */

/* Released stacks, kept for the next pal_fiber_create() of the same size:
 * a create + join then costs no mmap, madvise or munmap (and no TLB
 * shootdown), which is most of a fiber's life when it is short.  At most
 * PAL__FIBER_CACHE of them, process-wide; the pages a fiber touched stay
 * resident while cached.  Off under ASan, whose stack poisoning a reused
 * stack would inherit. */
#define PAL__FIBER_CACHE 64

#ifndef PAL__FIBER_ASAN
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct { char *map; size_t len; } cache[PAL__FIBER_CACHE];
static unsigned ncache;
#endif

static char *cache_take(size_t len) {
  char *map = NULL;
#ifndef PAL__FIBER_ASAN
  unsigned i;
  pthread_mutex_lock(&cache_mu);
  for (i = ncache; i-- > 0;)
    if (cache[i].len == len) {
      map = cache[i].map;
      cache[i] = cache[--ncache];
      break;
    }
  pthread_mutex_unlock(&cache_mu);
#else
  (void)len;
#endif
  return map;
}

static int cache_put(char *map, size_t len) {
  int kept = 0;
#ifndef PAL__FIBER_ASAN
  pthread_mutex_lock(&cache_mu);
  if (ncache < PAL__FIBER_CACHE) {
    cache[ncache].map = map;
    cache[ncache++].len = len;
    kept = 1;
  }
  pthread_mutex_unlock(&cache_mu);
#else
  (void)map;
  (void)len;
#endif
  return kept;
}

/* A new mapping of len bytes with its guard page at the bottom. */
static apr_status_t map_stack(char **out, size_t len) {
  apr_status_t rv;
  char *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE,
                   -1, 0);
  if (map == MAP_FAILED)
    return pal__fail("mmap");
  rv = guard(map, page_size());
  if (rv != APR_SUCCESS) {
    munmap(map, len);
    return rv;
  }
  *out = map;
  return APR_SUCCESS;
}

apr_status_t pal_fiber_create(pal_fiber_t **out, size_t stack_size,
                              pal_fiber_fn fn, void *arg) {
  size_t ps = page_size(), len;
  char *map;
  pal_fiber_t *f;
  uintptr_t top;
  apr_status_t rv;

  if (fn == NULL || stack_size > ((size_t)1 << 40))
    return APR_EINVAL;
  len = stack_usable(stack_size) + ps;
  map = cache_take(len);
  if (map == NULL && (rv = map_stack(&map, len)) != APR_SUCCESS)
    return rv;
  /* The struct sits at the very top; the stack grows down from below it,
   * 16-byte aligned as both ABIs want. */
  f = (pal_fiber_t *)(map + len - sizeof(pal_fiber_t));
  f = (pal_fiber_t *)((uintptr_t)f & ~(uintptr_t)15);
  memset(f, 0, sizeof *f);
  f->fn = fn;
  f->arg = arg;
  f->map = map;
  f->map_len = len;
  f->stack_lo = map + ps;
  top = (uintptr_t)f & ~(uintptr_t)15;
  f->stack_len = (size_t)(top - (uintptr_t)f->stack_lo);
#ifdef PAL__FIBER_ASM
  frame_init(f, top, (uintptr_t)fiber_entry);
#else
  if (getcontext(&f->uc) != 0) {
    rv = pal__fail("getcontext");
    munmap(map, len);
    return rv;
  }
  f->uc.uc_stack.ss_sp = f->stack_lo;
  f->uc.uc_stack.ss_size = f->stack_len;
  f->uc.uc_link = NULL;
  makecontext(&f->uc, fiber_uc_entry, 0);
#endif
#ifdef PAL__FIBER_ASAN
  f->asan_bottom = f->stack_lo;
  f->asan_size = f->stack_len;
#endif
#ifdef PAL__FIBER_TSAN
  f->tsan = __tsan_create_fiber(0);
#endif
#ifdef PAL_HAVE_VALGRIND_H
  f->vg_stack_id = VALGRIND_STACK_REGISTER(f->stack_lo, (char *)top);
#endif
  *out = f;
  return APR_SUCCESS;
}

void pal_fiber_destroy(pal_fiber_t *f) {
  if (f == NULL || f->map == NULL)
    return;
#ifdef PAL__FIBER_TSAN
  __tsan_destroy_fiber(f->tsan);
#endif
#ifdef PAL_HAVE_VALGRIND_H
  VALGRIND_STACK_DEREGISTER(f->vg_stack_id);
#endif
  if (!cache_put(f->map, f->map_len))
    munmap(f->map, f->map_len);
}

static _Thread_local pal_fiber_t t_thread_ctx;
static _Thread_local int t_thread_ready;

pal_fiber_t *pal_fiber_thread(void) {
  if (!t_thread_ready) {
    memset(&t_thread_ctx, 0, sizeof t_thread_ctx);
#ifdef PAL__FIBER_TSAN
    t_thread_ctx.tsan = __tsan_get_current_fiber();
#endif
    t_thread_ready = 1;
  }
  return &t_thread_ctx;
}

void pal_fiber_thread_release(void) { t_thread_ready = 0; }

#if !defined(PAL__FIBER_ASM) || !defined(PAL__FIBER_DIRECT)
void pal_fiber_switch(pal_fiber_t *from, pal_fiber_t *to) {
  announce_start(from, to, 0);
  swap(from, to);
  announce_finish(from);
}
#endif

void pal_fiber_switch_final(pal_fiber_t *from, pal_fiber_t *to) {
  announce_start(from, to, 1);
  swap(from, to);
  abort();   /* nothing resumes a finished fiber */
}

const char *pal_fiber_impl(void) {
#if defined(PAL__FIBER_ASM) && defined(__x86_64__)
  return "asm-x86_64";
#elif defined(PAL__FIBER_ASM)
  return "asm-aarch64";
#else
  return "ucontext";
#endif
}
