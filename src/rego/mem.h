/*
 * Memory for the Rego engine: replaceable heap hooks and a region allocator.
 *
 * The engine is a library of its own, so it does not use the gateway's allocator; instead every
 * heap allocation it makes goes through the hooks installed here (libc by default). The gateway
 * routes them to its counting allocator, and the benchmark counts calls to prove that a warm
 * evaluation allocates nothing outside its arena.
 *
 * An arena hands out bump-pointer memory from blocks it keeps across resets, so that once an
 * evaluation context has grown to its working size, reset-and-evaluate never touches the heap.
 * An arena belongs to one thread at a time and takes no locks; the hooks must be thread-safe.
 */
#ifndef PC_REGO_MEM_H
#define PC_REGO_MEM_H

#include <stddef.h>

typedef void *(*pc_rego_malloc_fn)(size_t n, void *ud);
typedef void *(*pc_rego_realloc_fn)(void *p, size_t n, void *ud);
typedef void (*pc_rego_free_fn)(void *p, void *ud);

/* Heap hooks: all three are required; ud is passed back to each call. */
struct pc_rego_alloc_hooks {
    pc_rego_malloc_fn malloc_fn;
    pc_rego_realloc_fn realloc_fn;
    pc_rego_free_fn free_fn;
    void *ud;
};

/*
 * Installs hooks (copied), or restores libc when hooks is NULL. Call it before creating any
 * engine object: memory must be released through the hooks that allocated it.
 */
void pc_rego_set_alloc_hooks(const struct pc_rego_alloc_hooks *hooks);

/* Heap allocation through the hooks; NULL when out of memory. pc_rego_free accepts NULL. */
void *pc_rego_malloc(size_t n);
void *pc_rego_calloc(size_t count, size_t n);
void *pc_rego_realloc(void *p, size_t n);
void pc_rego_free(void *p);

struct pc_rego_arena;

/*
 * Creates an arena whose blocks hold block_bytes (at least 1 KiB); the first block is
 * allocated now. Returns NULL when out of memory. Destroy with pc_rego_arena_destroy.
 */
struct pc_rego_arena *pc_rego_arena_create(size_t block_bytes);

/* Releases every block and the arena; accepts NULL. */
void pc_rego_arena_destroy(struct pc_rego_arena *arena);

/*
 * Forgets every allocation but keeps the blocks for reuse (oversized blocks are released), so a
 * context reset between evaluations does not touch the heap.
 */
void pc_rego_arena_reset(struct pc_rego_arena *arena);

/* Returns n bytes aligned to 16, valid until reset or destroy; NULL when out of memory. */
void *pc_rego_arena_alloc(struct pc_rego_arena *arena, size_t n);

/* As pc_rego_arena_alloc, zeroed; NULL on overflow of count * n or when out of memory. */
void *pc_rego_arena_calloc(struct pc_rego_arena *arena, size_t count, size_t n);

/* Copies n bytes of s and a NUL into the arena; NULL when out of memory. */
char *pc_rego_arena_strndup(struct pc_rego_arena *arena, const char *s, size_t n);

/* Returns the number of heap bytes the arena holds, blocks included. */
size_t pc_rego_arena_bytes(const struct pc_rego_arena *arena);

/*
 * Caps the heap bytes the arena may hold (0: no cap; a cap below what it holds now keeps what it
 * holds). Allocations that would pass the cap return NULL, as when out of memory, so a hostile
 * policy or input cannot make one evaluation take the process's memory.
 */
void pc_rego_arena_set_limit(struct pc_rego_arena *arena, size_t max_bytes);

#endif
