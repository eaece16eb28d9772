/*
 * Buffer pool: a singly linked free list per worker. Buffers beyond max_free are returned to the
 * heap, so a burst of large transfers does not pin memory forever.
 */
#include "core/buf.h"

#include "core/alloc.h"

struct pc_buf_pool {
    struct pc_buf *free;
    size_t n_free;
    size_t max_free;
    size_t in_use;
};

struct pc_buf_pool *
pc_buf_pool_create(size_t max_free)
{
    struct pc_buf_pool *pool = pc_calloc(1, sizeof(*pool));

    if (pool != NULL) {
        pool->max_free = max_free;
    }
    return pool;
}

void
pc_buf_pool_destroy(struct pc_buf_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    while (pool->free != NULL) {
        struct pc_buf *b = pool->free;

        pool->free = b->next_free;
        pc_free(b);
    }
    pc_free(pool);
}

struct pc_buf *
pc_buf_get(struct pc_buf_pool *pool)
{
    struct pc_buf *b = pool->free;

    if (b != NULL) {
        pool->free = b->next_free;
        pool->n_free--;
    } else {
        b = pc_malloc(sizeof(*b) + PC_BUF_SIZE);
        if (b == NULL) {
            return NULL;
        }
        b->pool = pool;
        b->size = PC_BUF_SIZE;
    }
    b->refs = 1;
    b->next_free = NULL;
    pool->in_use++;
    return b;
}

void
pc_buf_unref(struct pc_buf *b)
{
    struct pc_buf_pool *pool;

    if (b == NULL || --b->refs > 0) {
        return;
    }

    pool = b->pool;
    pool->in_use--;
    if (pool->n_free >= pool->max_free) {
        pc_free(b);
        return;
    }
    b->next_free = pool->free;
    pool->free = b;
    pool->n_free++;
}

size_t
pc_buf_pool_in_use(const struct pc_buf_pool *pool)
{
    return pool->in_use;
}
