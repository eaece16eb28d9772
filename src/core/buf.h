/*
 * Reference-counted I/O buffers from a per-worker free list.
 *
 * Every socket read lands in a pc_buf. Slices of it (a body chunk, say) travel to a write on
 * another socket, each holding a reference, so bytes are never copied just to be forwarded. A
 * buffer goes back to its pool when the last reference is dropped. A pool belongs to one worker
 * loop and takes no locks; buffers never cross threads.
 */
#ifndef PC_CORE_BUF_H
#define PC_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#define PC_BUF_SIZE (32 * 1024)

struct pc_buf_pool;

struct pc_buf {
    uint32_t refs;
    uint32_t size; /* bytes of data[] */
    struct pc_buf_pool *pool;
    struct pc_buf *next_free; /* private to the pool */
    char data[];
};

/* Creates a pool keeping at most max_free idle buffers; NULL when out of memory. */
struct pc_buf_pool *pc_buf_pool_create(size_t max_free);

/* Frees the idle buffers and the pool; buffers still referenced must be released first. */
void pc_buf_pool_destroy(struct pc_buf_pool *pool);

/* Returns a buffer of PC_BUF_SIZE bytes with one reference, or NULL when out of memory. */
struct pc_buf *pc_buf_get(struct pc_buf_pool *pool);

/* Takes one more reference. */
static inline void
pc_buf_ref(struct pc_buf *b)
{
    b->refs++;
}

/* Drops one reference, returning the buffer to its pool with the last; accepts NULL. */
void pc_buf_unref(struct pc_buf *b);

/* Returns how many buffers are out of the pool (referenced), for metrics and leak checks. */
size_t pc_buf_pool_in_use(const struct pc_buf_pool *pool);

#endif
