/*
 * Region allocator: a chain of blocks carved front to back, and a list of cleanups.
 *
 * The arena header and its first block are one heap allocation, so a short-lived arena costs
 * one malloc. Cleanups are themselves carved from the arena.
 */
#include "core/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/err.h"

#define ALIGN 16

struct block {
    struct block *next;
    size_t size;
    /* data follows, ALIGN-aligned */
};

struct cleanup {
    struct cleanup *next;
    pc_arena_cleanup_fn fn;
    void *data;
};

struct pc_arena {
    char *pos;
    char *end;
    struct block *extra; /* blocks after the first, newest first */
    struct cleanup *cleanups;
    size_t block_bytes;
    size_t heap_bytes;
    char *first_start;
    char *first_end;
};

static size_t
align_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

struct pc_arena *
pc_arena_create(size_t block_bytes)
{
    size_t head = align_up(sizeof(struct pc_arena));
    struct pc_arena *arena;

    block_bytes = align_up(block_bytes < 256 ? 256 : block_bytes);
    arena = pc_malloc(head + block_bytes);
    if (arena == NULL) {
        return NULL;
    }

    arena->first_start = (char *)arena + head;
    arena->first_end = arena->first_start + block_bytes;
    arena->pos = arena->first_start;
    arena->end = arena->first_end;
    arena->extra = NULL;
    arena->cleanups = NULL;
    arena->block_bytes = block_bytes;
    arena->heap_bytes = head + block_bytes;
    return arena;
}

static void
run_cleanups(struct pc_arena *arena)
{
    /* Cleanups were pushed in front, so this walk runs them newest first. */
    while (arena->cleanups != NULL) {
        struct cleanup *c = arena->cleanups;

        arena->cleanups = c->next;
        c->fn(c->data);
    }
}

static void
free_extra(struct pc_arena *arena)
{
    while (arena->extra != NULL) {
        struct block *b = arena->extra;

        arena->extra = b->next;
        arena->heap_bytes -= sizeof(struct block) + b->size + ALIGN;
        pc_free(b);
    }
}

void
pc_arena_destroy(struct pc_arena *arena)
{
    if (arena == NULL) {
        return;
    }
    run_cleanups(arena);
    free_extra(arena);
    pc_free(arena);
}

void
pc_arena_reset(struct pc_arena *arena)
{
    run_cleanups(arena);
    free_extra(arena);
    arena->pos = arena->first_start;
    arena->end = arena->first_end;
}

static void *
alloc_block(struct pc_arena *arena, size_t n)
{
    size_t size = n > arena->block_bytes ? n : arena->block_bytes;
    struct block *b = pc_malloc(sizeof(struct block) + size + ALIGN);
    char *data;

    if (b == NULL) {
        return NULL;
    }
    b->size = size;
    b->next = arena->extra;
    arena->extra = b;
    arena->heap_bytes += sizeof(struct block) + size + ALIGN;

    data = (char *)(((uintptr_t)(b + 1) + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1));
    if (n > arena->block_bytes) {
        /* An oversized request gets its own block; keep carving from the current one. */
        return data;
    }
    arena->pos = data + n;
    arena->end = data + size;
    return data;
}

void *
pc_arena_alloc(struct pc_arena *arena, size_t n)
{
    char *p;

    n = align_up(n == 0 ? 1 : n);
    if ((size_t)(arena->end - arena->pos) >= n) {
        p = arena->pos;
        arena->pos += n;
        return p;
    }
    return alloc_block(arena, n);
}

void *
pc_arena_calloc(struct pc_arena *arena, size_t count, size_t n)
{
    void *p;

    if (n != 0 && count > SIZE_MAX / n) {
        return NULL;
    }
    p = pc_arena_alloc(arena, count * n);
    if (p != NULL) {
        memset(p, 0, count * n);
    }
    return p;
}

char *
pc_arena_strndup(struct pc_arena *arena, const char *s, size_t n)
{
    char *d = pc_arena_alloc(arena, n + 1);

    if (d == NULL) {
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
pc_arena_strdup(struct pc_arena *arena, const char *s)
{
    return pc_arena_strndup(arena, s, strlen(s));
}

void *
pc_arena_memdup(struct pc_arena *arena, const void *p, size_t n)
{
    void *d = pc_arena_alloc(arena, n);

    if (d != NULL && n > 0) {
        memcpy(d, p, n);
    }
    return d;
}

char *
pc_arena_sprintf(struct pc_arena *arena, const char *fmt, ...)
{
    va_list ap;
    int len;
    char *d;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0) {
        return NULL;
    }

    d = pc_arena_alloc(arena, (size_t)len + 1);
    if (d == NULL) {
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(d, (size_t)len + 1, fmt, ap);
    va_end(ap);
    return d;
}

int
pc_arena_cleanup_add(struct pc_arena *arena, pc_arena_cleanup_fn fn, void *data)
{
    struct cleanup *c = pc_arena_alloc(arena, sizeof(*c));

    if (c == NULL) {
        return PC_ENOMEM;
    }
    c->fn = fn;
    c->data = data;
    c->next = arena->cleanups;
    arena->cleanups = c;
    return 0;
}

size_t
pc_arena_bytes(const struct pc_arena *arena)
{
    return arena->heap_bytes;
}
