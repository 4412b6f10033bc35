// Counts heap allocations by interposing the allocator entry points in the executable and
// forwarding to glibc's internal implementations (__libc_*). Linux/glibc only; used by
// natscope-bench to report allocations per operation.
#include "CAllocCounter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *ptr);

static _Atomic unsigned long long allocations;

static inline void bump(void) {
  atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
}

unsigned long long natscope_alloc_count(void) {
  return atomic_load_explicit(&allocations, memory_order_relaxed);
}

void *malloc(size_t size) {
  bump();
  return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
  bump();
  return __libc_calloc(count, size);
}

void *realloc(void *ptr, size_t size) {
  bump();
  return __libc_realloc(ptr, size);
}

void free(void *ptr) { __libc_free(ptr); }

void *memalign(size_t alignment, size_t size) {
  bump();
  return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
  bump();
  return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
  bump();
  void *p = __libc_memalign(alignment, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}
