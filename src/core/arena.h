/*
 * Region allocator for memory that lives exactly as long as one request, connection or
 * configuration snapshot.
 *
 * Allocations are bump-pointer carves from blocks; nothing is freed piecemeal. Objects that own
 * outside resources (OpenSSL handles, jansson references, timers) register a cleanup that runs,
 * in reverse order of registration, when the arena is reset or destroyed. An arena belongs to
 * one thread at a time and takes no locks.
 */
#ifndef PC_CORE_ARENA_H
#define PC_CORE_ARENA_H

#include <stddef.h>

struct pc_arena;

typedef void (*pc_arena_cleanup_fn)(void *data);

/*
 * Creates an arena whose blocks hold block_bytes each (larger requests get a block of their own).
 * The first block is allocated with the arena. Returns NULL when out of memory.
 */
struct pc_arena *pc_arena_create(size_t block_bytes);

/* Runs the cleanups and releases every block and the arena itself; accepts NULL. */
void pc_arena_destroy(struct pc_arena *arena);

/*
 * Runs the cleanups and forgets every allocation, keeping the first block for reuse: a
 * connection resets its request arena between requests without touching the heap.
 */
void pc_arena_reset(struct pc_arena *arena);

/* Returns n bytes aligned to 16, valid until reset or destroy; NULL when out of memory. */
void *pc_arena_alloc(struct pc_arena *arena, size_t n);

/* As pc_arena_alloc, zeroed. */
void *pc_arena_calloc(struct pc_arena *arena, size_t count, size_t n);

/* Copies n bytes of s and a terminating NUL into the arena; NULL when out of memory. */
char *pc_arena_strndup(struct pc_arena *arena, const char *s, size_t n);

/* Copies the NUL-terminated s into the arena; NULL when out of memory. */
char *pc_arena_strdup(struct pc_arena *arena, const char *s);

/* Copies n bytes into the arena; NULL when out of memory. */
void *pc_arena_memdup(struct pc_arena *arena, const void *p, size_t n);

/* printf into arena memory; NULL when out of memory. */
char *pc_arena_sprintf(struct pc_arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Registers fn(data) to run when the arena is reset or destroyed. Returns 0, or PC_ENOMEM, in
 * which case fn has not been registered and the caller must release data itself.
 */
int pc_arena_cleanup_add(struct pc_arena *arena, pc_arena_cleanup_fn fn, void *data);

/* Returns the bytes the arena holds from the heap, blocks included. */
size_t pc_arena_bytes(const struct pc_arena *arena);

#endif
