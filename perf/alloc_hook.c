/*
 * alloc_hook.c -- count heap allocations made by the whole process.
 *
 * Linked into every benchmark program (built with ENABLE_EXPORTS so the
 * definitions below interpose on the shared libraries too):
 *
 *  - malloc, calloc, realloc, memalign, posix_memalign and aligned_alloc
 *    are defined here and forward to glibc's __libc_* entry points, which
 *    implement the same allocator, after one relaxed atomic increment;
 *  - apr_palloc and apr_pcalloc (APR pool allocations, which reach malloc
 *    only when a pool grows) are counted and forwarded with
 *    dlsym(RTLD_NEXT).  Programs that do not link APR never call them.
 *
 * common.c snapshots the counters around each timed section, so
 * "allocates nothing on the hot path" can be checked as a number.  The
 * cost (one uncontended atomic add per allocation) is charged equally to
 * every implementation, and is zero for one that does not allocate.
 *
 * glibc only; elsewhere (PERF_NO_ALLOC_HOOK) the counters read zero.
 */
#define _GNU_SOURCE 1
#include "common.h"

#include <stddef.h>

#if defined(__GLIBC__) && !defined(PERF_NO_ALLOC_HOOK)
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static uint64_t n_malloc, n_palloc;

#define COUNT(c) __atomic_fetch_add(&(c), 1, __ATOMIC_RELAXED)

void *malloc(size_t size) {
  COUNT(n_malloc);
  return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
  COUNT(n_malloc);
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
  COUNT(n_malloc);
  return __libc_realloc(p, size);
}

void free(void *p) {
  __libc_free(p);
}

void *memalign(size_t align, size_t size) {
  COUNT(n_malloc);
  return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size) {
  COUNT(n_malloc);
  return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size) {
  void *p;
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  COUNT(n_malloc);
  p = __libc_memalign(align, size);
  if (!p && size) return ENOMEM;
  *out = p;
  return 0;
}

/* APR pools.  The prototypes match apr_pools.h without including it. */
void *apr_palloc(void *pool, size_t size);
void *apr_pcalloc(void *pool, size_t size);

typedef void *(*palloc_fn)(void *, size_t);
static palloc_fn real_palloc, real_pcalloc;

void *apr_palloc(void *pool, size_t size) {
  palloc_fn f = __atomic_load_n(&real_palloc, __ATOMIC_ACQUIRE);
  COUNT(n_palloc);
  if (!f) {
    f = (palloc_fn)dlsym(RTLD_NEXT, "apr_palloc");
    __atomic_store_n(&real_palloc, f, __ATOMIC_RELEASE);
  }
  return f(pool, size);
}

void *apr_pcalloc(void *pool, size_t size) {
  palloc_fn f = __atomic_load_n(&real_pcalloc, __ATOMIC_ACQUIRE);
  COUNT(n_palloc);
  if (!f) {
    f = (palloc_fn)dlsym(RTLD_NEXT, "apr_pcalloc");
    __atomic_store_n(&real_pcalloc, f, __ATOMIC_RELEASE);
  }
  return f(pool, size);
}

uint64_t perf_malloc_count(void) {
  return __atomic_load_n(&n_malloc, __ATOMIC_RELAXED);
}

uint64_t perf_palloc_count(void) {
  return __atomic_load_n(&n_palloc, __ATOMIC_RELAXED);
}

#else

uint64_t perf_malloc_count(void) { return 0; }
uint64_t perf_palloc_count(void) { return 0; }

#endif
