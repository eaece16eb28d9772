/*
 * A bounded map from byte strings to byte strings with an expiry time per entry, evicting the
 * least recently used entry when full: the per-worker caches of decisions from remote policy
 * points. Keys and values are copied in; nothing is shared, nothing is locked, so one instance
 * belongs to one thread (a worker's loop). The hash is seeded per instance from getrandom, so
 * a client that chooses key bytes (a path, a header) cannot aim its entries at one bucket.
 */
#ifndef PC_CORE_LRU_H
#define PC_CORE_LRU_H

#include <stddef.h>
#include <stdint.h>

struct pc_lru;

/* Creates a map holding at most max_entries (at least 1). Returns NULL when out of memory. */
struct pc_lru *pc_lru_create(size_t max_entries);

/* Frees the map and every entry; accepts NULL. */
void pc_lru_destroy(struct pc_lru *lru);

/*
 * Looks key (len bytes, borrowed for the call) up. Returns the value (owned by the map, valid
 * until the next put, clear or destroy) and its length in *value_len, or NULL when absent or
 * expired at now_ms (an expired entry is removed). A hit makes the entry the most recent.
 */
const void *pc_lru_get(struct pc_lru *lru, const void *key, size_t len, uint64_t now_ms,
                       size_t *value_len);

/*
 * Stores a copy of key and value until expires_ms, replacing an entry with the same key and
 * evicting the least recently used one when full. Returns 0 or PC_ENOMEM (the map is then
 * unchanged, except that an entry with the same key is gone).
 */
int pc_lru_put(struct pc_lru *lru, const void *key, size_t len, const void *value, size_t value_len,
               uint64_t expires_ms);

/* Removes every entry. */
void pc_lru_clear(struct pc_lru *lru);

/* Returns the number of entries held, expired ones not yet removed included. */
size_t pc_lru_size(const struct pc_lru *lru);

#endif
