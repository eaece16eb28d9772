/*
 * The heap allocator every module uses instead of calling malloc directly.
 *
 * It counts the bytes held (reported in /metrics and by the memory benchmarks) and lets a test
 * make allocations fail, so that out-of-memory paths are exercised. Thread-safe: the counters
 * are atomics and each wrapper adds one relaxed atomic update to the libc call.
 */
#ifndef PC_CORE_ALLOC_H
#define PC_CORE_ALLOC_H

#include <stddef.h>

/* Like malloc, calloc, realloc and strdup; return NULL when out of memory (or made to fail). */
void *pc_malloc(size_t n);
void *pc_calloc(size_t count, size_t n);
void *pc_realloc(void *p, size_t n);
char *pc_strdup(const char *s);
char *pc_strndup(const char *s, size_t n);

/* Releases memory from the functions above; accepts NULL. */
void pc_free(void *p);

/* Wipes n bytes at p with OPENSSL_cleanse-equivalent semantics, then frees p; accepts NULL. */
void pc_free_secret(void *p, size_t n);

/* Returns the number of bytes currently held through this allocator. */
size_t pc_alloc_bytes(void);

/*
 * Tests only: after `after` more successful allocations, every allocation fails until
 * pc_alloc_fail_reset() is called. A negative `after` disables injection.
 */
void pc_alloc_fail_after(long after);
void pc_alloc_fail_reset(void);

#endif
