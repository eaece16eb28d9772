/*
 * Counting allocator over libc malloc. The byte count comes from malloc_usable_size, so no
 * header is added to blocks and pointers from here may be passed to libraries that free them
 * with free() only if the count is not needed to stay exact (we never do this).
 */
#include "core/alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_size_t held_bytes;
static atomic_long fail_countdown = -1;

static int
should_fail(void)
{
    long left = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

    if (left < 0) {
        return 0;
    }
    if (left == 0) {
        return 1;
    }
    atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
    return 0;
}

static void *
account(void *p)
{
    if (p != NULL) {
        atomic_fetch_add_explicit(&held_bytes, malloc_usable_size(p), memory_order_relaxed);
    }
    return p;
}

void *
pc_malloc(size_t n)
{
    if (should_fail()) {
        return NULL;
    }
    return account(malloc(n == 0 ? 1 : n));
}

void *
pc_calloc(size_t count, size_t n)
{
    if (should_fail()) {
        return NULL;
    }
    return account(calloc(count == 0 ? 1 : count, n == 0 ? 1 : n));
}

void *
pc_realloc(void *p, size_t n)
{
    size_t old = p != NULL ? malloc_usable_size(p) : 0;
    void *q;

    if (should_fail()) {
        return NULL;
    }

    q = realloc(p, n == 0 ? 1 : n);
    if (q == NULL) {
        return NULL;
    }
    atomic_fetch_sub_explicit(&held_bytes, old, memory_order_relaxed);
    return account(q);
}

char *
pc_strndup(const char *s, size_t n)
{
    char *d = pc_malloc(n + 1);

    if (d == NULL) {
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
pc_strdup(const char *s)
{
    return pc_strndup(s, strlen(s));
}

void
pc_free(void *p)
{
    if (p == NULL) {
        return;
    }
    atomic_fetch_sub_explicit(&held_bytes, malloc_usable_size(p), memory_order_relaxed);
    free(p);
}

void
pc_free_secret(void *p, size_t n)
{
    volatile unsigned char *v = p;

    if (p == NULL) {
        return;
    }
    /* A volatile store loop is not removed by the optimiser, unlike a plain memset. */
    for (size_t i = 0; i < n; i++) {
        v[i] = 0;
    }
    pc_free(p);
}

size_t
pc_alloc_bytes(void)
{
    return atomic_load_explicit(&held_bytes, memory_order_relaxed);
}

void
pc_alloc_fail_after(long after)
{
    atomic_store(&fail_countdown, after);
}

void
pc_alloc_fail_reset(void)
{
    atomic_store(&fail_countdown, -1);
}
