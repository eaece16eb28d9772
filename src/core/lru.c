/*
 * The bounded LRU map: a chained hash table whose bucket count is fixed at creation (the next
 * power of two at or above the entry limit, so chains stay short when full), and a doubly
 * linked list from the most to the least recently used entry. An entry is one allocation: its
 * links, then the key bytes, then the value bytes.
 */
#include "core/lru.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/hash.h"

struct entry {
    struct entry *next_in_bucket;
    struct entry *newer;
    struct entry *older;
    uint64_t hash;
    uint64_t expires_ms;
    size_t key_len;
    size_t value_len;
    unsigned char data[]; /* key, then value */
};

struct pc_lru {
    struct entry **buckets;
    size_t mask;
    size_t n;
    size_t max;
    struct entry *newest;
    struct entry *oldest;
    uint64_t seed;
};

struct pc_lru *
pc_lru_create(size_t max_entries)
{
    struct pc_lru *lru = pc_calloc(1, sizeof(*lru));
    size_t n_buckets = 16;

    if (lru == NULL) {
        return NULL;
    }
    lru->max = max_entries > 0 ? max_entries : 1;
    while (n_buckets < lru->max) {
        n_buckets *= 2;
    }
    lru->buckets = pc_calloc(n_buckets, sizeof(struct entry *));
    if (lru->buckets == NULL) {
        pc_free(lru);
        return NULL;
    }
    lru->mask = n_buckets - 1;
    lru->seed = pc_hash_seed();
    return lru;
}

static void
unlink_entry(struct pc_lru *lru, struct entry *e)
{
    struct entry **p = &lru->buckets[e->hash & lru->mask];

    while (*p != e) {
        p = &(*p)->next_in_bucket;
    }
    *p = e->next_in_bucket;
    if (e->newer != NULL) {
        e->newer->older = e->older;
    } else {
        lru->newest = e->older;
    }
    if (e->older != NULL) {
        e->older->newer = e->newer;
    } else {
        lru->oldest = e->newer;
    }
    lru->n--;
}

static void
push_newest(struct pc_lru *lru, struct entry *e)
{
    e->older = lru->newest;
    e->newer = NULL;
    if (lru->newest != NULL) {
        lru->newest->newer = e;
    } else {
        lru->oldest = e;
    }
    lru->newest = e;
}

void
pc_lru_clear(struct pc_lru *lru)
{
    while (lru->oldest != NULL) {
        struct entry *e = lru->oldest;

        unlink_entry(lru, e);
        pc_free(e);
    }
}

void
pc_lru_destroy(struct pc_lru *lru)
{
    if (lru == NULL) {
        return;
    }
    pc_lru_clear(lru);
    pc_free(lru->buckets);
    pc_free(lru);
}

static struct entry *
find(struct pc_lru *lru, const void *key, size_t len, uint64_t hash)
{
    for (struct entry *e = lru->buckets[hash & lru->mask]; e != NULL; e = e->next_in_bucket) {
        if (e->hash == hash && e->key_len == len && memcmp(e->data, key, len) == 0) {
            return e;
        }
    }
    return NULL;
}

const void *
pc_lru_get(struct pc_lru *lru, const void *key, size_t len, uint64_t now_ms, size_t *value_len)
{
    uint64_t hash = pc_hash_bytes(lru->seed, key, len);
    struct entry *e = find(lru, key, len, hash);

    if (e == NULL) {
        return NULL;
    }
    if (e->expires_ms <= now_ms) {
        unlink_entry(lru, e);
        pc_free(e);
        return NULL;
    }
    if (lru->newest != e) {
        /* Move to the front: unlink from the list only, the bucket chain stays. */
        e->newer->older = e->older;
        if (e->older != NULL) {
            e->older->newer = e->newer;
        } else {
            lru->oldest = e->newer;
        }
        push_newest(lru, e);
    }
    *value_len = e->value_len;
    return e->data + e->key_len;
}

int
pc_lru_put(struct pc_lru *lru, const void *key, size_t len, const void *value, size_t value_len,
           uint64_t expires_ms)
{
    uint64_t hash = pc_hash_bytes(lru->seed, key, len);
    struct entry *e = find(lru, key, len, hash);
    size_t slot = hash & lru->mask;

    if (e != NULL) {
        unlink_entry(lru, e);
        pc_free(e);
    }
    if (len > SIZE_MAX / 2 - sizeof(*e) || value_len > SIZE_MAX / 2) {
        return PC_ENOMEM;
    }
    e = pc_malloc(sizeof(*e) + len + value_len);
    if (e == NULL) {
        return PC_ENOMEM;
    }
    if (lru->n == lru->max) {
        struct entry *old = lru->oldest;

        unlink_entry(lru, old);
        pc_free(old);
    }
    e->hash = hash;
    e->expires_ms = expires_ms;
    e->key_len = len;
    e->value_len = value_len;
    if (len > 0) {
        memcpy(e->data, key, len);
    }
    if (value_len > 0) {
        memcpy(e->data + len, value, value_len);
    }
    e->next_in_bucket = lru->buckets[slot];
    lru->buckets[slot] = e;
    push_newest(lru, e);
    lru->n++;
    return 0;
}

size_t
pc_lru_size(const struct pc_lru *lru)
{
    return lru->n;
}
