#ifndef NATSCOPE_ALLOC_COUNTER_H
#define NATSCOPE_ALLOC_COUNTER_H

/// The number of heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc,
/// memalign) made by the process since it started. Linked into the benchmark only.
unsigned long long natscope_alloc_count(void);

#endif
