/*
 * Heap hooks and the region allocator of the Rego engine (see mem.h).
 *
 * Regular blocks form a list that survives resets: after a reset, allocation restarts in the
 * first block and moves along the list, allocating a new block only when the list is used up.
 * Requests larger than a quarter of a block get a block of their own on a separate list that a
 * reset releases, so one huge evaluation does not pin its memory for the context's lifetime.
 */
#include "rego/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN     16
#define ARENA_MIN_BLOCK 1024

struct block {
    struct block *next;
    size_t cap;
    size_t used;
    size_t pad; /* keeps data 16-aligned on every ABI we build for */
    unsigned char data[];
};

struct pc_rego_arena {
    struct block *first;
    struct block *cur;
    struct block *big;
    size_t block_bytes;
    size_t heap_bytes;
    size_t limit; /* 0: none */
};

static void *
libc_malloc(size_t n, void *ud)
{
    (void)ud;
    return malloc(n);
}

static void *
libc_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    return realloc(p, n);
}

static void
libc_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static struct pc_rego_alloc_hooks hooks = { libc_malloc, libc_realloc, libc_free, NULL };

void
pc_rego_set_alloc_hooks(const struct pc_rego_alloc_hooks *h)
{
    if (h == NULL) {
        hooks.malloc_fn = libc_malloc;
        hooks.realloc_fn = libc_realloc;
        hooks.free_fn = libc_free;
        hooks.ud = NULL;
        return;
    }
    hooks = *h;
}

void *
pc_rego_malloc(size_t n)
{
    return hooks.malloc_fn(n == 0 ? 1 : n, hooks.ud);
}

void *
pc_rego_calloc(size_t count, size_t n)
{
    if (n != 0 && count > SIZE_MAX / n) {
        return NULL;
    }
    void *p = pc_rego_malloc(count * n);
    if (p != NULL) {
        memset(p, 0, count * n);
    }
    return p;
}

void *
pc_rego_realloc(void *p, size_t n)
{
    return hooks.realloc_fn(p, n == 0 ? 1 : n, hooks.ud);
}

void
pc_rego_free(void *p)
{
    if (p != NULL) {
        hooks.free_fn(p, hooks.ud);
    }
}

static struct block *
block_new(struct pc_rego_arena *arena, size_t cap)
{
    if (cap > SIZE_MAX - sizeof(struct block)) {
        return NULL;
    }
    if (arena->limit != 0 && sizeof(struct block) + cap > arena->limit - arena->heap_bytes) {
        return NULL;
    }
    struct block *b = pc_rego_malloc(sizeof(*b) + cap);
    if (b == NULL) {
        return NULL;
    }
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    arena->heap_bytes += sizeof(*b) + cap;
    return b;
}

struct pc_rego_arena *
pc_rego_arena_create(size_t block_bytes)
{
    struct pc_rego_arena *arena = pc_rego_malloc(sizeof(*arena));
    if (arena == NULL) {
        return NULL;
    }
    arena->block_bytes = block_bytes < ARENA_MIN_BLOCK ? ARENA_MIN_BLOCK : block_bytes;
    arena->heap_bytes = sizeof(*arena);
    arena->limit = 0;
    arena->big = NULL;
    arena->first = block_new(arena, arena->block_bytes);
    if (arena->first == NULL) {
        pc_rego_free(arena);
        return NULL;
    }
    arena->cur = arena->first;
    return arena;
}

static void
free_list(struct block *b)
{
    while (b != NULL) {
        struct block *next = b->next;
        pc_rego_free(b);
        b = next;
    }
}

void
pc_rego_arena_destroy(struct pc_rego_arena *arena)
{
    if (arena == NULL) {
        return;
    }
    free_list(arena->first);
    free_list(arena->big);
    pc_rego_free(arena);
}

void
pc_rego_arena_reset(struct pc_rego_arena *arena)
{
    for (struct block *b = arena->first; b != NULL; b = b->next) {
        b->used = 0;
    }
    for (struct block *b = arena->big; b != NULL; b = b->next) {
        arena->heap_bytes -= sizeof(*b) + b->cap;
    }
    free_list(arena->big);
    arena->big = NULL;
    arena->cur = arena->first;
}

static void *
alloc_big(struct pc_rego_arena *arena, size_t n)
{
    struct block *b = block_new(arena, n);
    if (b == NULL) {
        return NULL;
    }
    b->next = arena->big;
    arena->big = b;
    b->used = n;
    return b->data;
}

void *
pc_rego_arena_alloc(struct pc_rego_arena *arena, size_t n)
{
    if (n > SIZE_MAX - ARENA_ALIGN) {
        return NULL;
    }
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0) {
        n = ARENA_ALIGN;
    }
    if (n > arena->block_bytes / 4) {
        return alloc_big(arena, n);
    }

    struct block *b = arena->cur;
    while (b->cap - b->used < n) {
        if (b->next == NULL) {
            b->next = block_new(arena, arena->block_bytes);
            if (b->next == NULL) {
                return NULL;
            }
        }
        b = b->next;
        arena->cur = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void *
pc_rego_arena_calloc(struct pc_rego_arena *arena, size_t count, size_t n)
{
    if (n != 0 && count > SIZE_MAX / n) {
        return NULL;
    }
    void *p = pc_rego_arena_alloc(arena, count * n);
    if (p != NULL) {
        memset(p, 0, count * n);
    }
    return p;
}

char *
pc_rego_arena_strndup(struct pc_rego_arena *arena, const char *s, size_t n)
{
    char *p = pc_rego_arena_alloc(arena, n + 1);
    if (p == NULL) {
        return NULL;
    }
    if (n > 0) {
        memcpy(p, s, n);
    }
    p[n] = '\0';
    return p;
}

size_t
pc_rego_arena_bytes(const struct pc_rego_arena *arena)
{
    return arena->heap_bytes;
}

void
pc_rego_arena_set_limit(struct pc_rego_arena *arena, size_t max_bytes)
{
    arena->limit = max_bytes != 0 && max_bytes < arena->heap_bytes ? arena->heap_bytes : max_bytes;
}
