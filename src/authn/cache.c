/*
 * Token and replay caches. The token cache is a chained hash table with an LRU list, private to
 * its worker. The replay cache is a set of SHA-256 digests in open-addressed stripes, each with
 * its own mutex, shared by the workers.
 */
#include "authn/cache.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "authn/principal.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/hash.h"

struct entry {
    struct entry *next_in_bucket;
    struct entry *newer; /* LRU list, most recent at cache->newest */
    struct entry *older;
    uint64_t hash;
    uint64_t expires_ms;
    struct pc_principal *principal;
    char *source;
    size_t len;
    char token[];
};

struct pc_token_cache {
    struct entry **buckets;
    size_t mask;
    size_t n;
    size_t max;
    struct entry *newest;
    struct entry *oldest;
    uint64_t seed;
};

struct pc_token_cache *
pc_token_cache_create(size_t max_entries)
{
    struct pc_token_cache *cache = pc_calloc(1, sizeof(*cache));
    size_t buckets = 16;

    if (cache == NULL) {
        return NULL;
    }
    while (buckets < max_entries * 2) {
        buckets *= 2;
    }
    cache->buckets = pc_calloc(buckets, sizeof(*cache->buckets));
    if (cache->buckets == NULL) {
        pc_free(cache);
        return NULL;
    }
    cache->mask = buckets - 1;
    cache->max = max_entries > 0 ? max_entries : 1;
    cache->seed = pc_hash_seed();
    return cache;
}

static void
free_entry(struct entry *e)
{
    pc_principal_unref(e->principal);
    pc_free(e->source);
    /* The token is a credential: wiped before its memory goes back. */
    pc_free_secret(e, sizeof(*e) + e->len);
}

static void
unlink_lru(struct pc_token_cache *cache, struct entry *e)
{
    if (e->newer != NULL) {
        e->newer->older = e->older;
    } else {
        cache->newest = e->older;
    }
    if (e->older != NULL) {
        e->older->newer = e->newer;
    } else {
        cache->oldest = e->newer;
    }
    e->newer = NULL;
    e->older = NULL;
}

static void
push_lru(struct pc_token_cache *cache, struct entry *e)
{
    e->older = cache->newest;
    e->newer = NULL;
    if (cache->newest != NULL) {
        cache->newest->newer = e;
    }
    cache->newest = e;
    if (cache->oldest == NULL) {
        cache->oldest = e;
    }
}

static void
remove_entry(struct pc_token_cache *cache, struct entry *e)
{
    struct entry **link = &cache->buckets[e->hash & cache->mask];

    while (*link != e) {
        link = &(*link)->next_in_bucket;
    }
    *link = e->next_in_bucket;
    unlink_lru(cache, e);
    cache->n--;
    free_entry(e);
}

void
pc_token_cache_clear(struct pc_token_cache *cache)
{
    while (cache->oldest != NULL) {
        remove_entry(cache, cache->oldest);
    }
}

void
pc_token_cache_destroy(struct pc_token_cache *cache)
{
    if (cache == NULL) {
        return;
    }
    pc_token_cache_clear(cache);
    pc_free(cache->buckets);
    pc_free(cache);
}

static struct entry *
find(struct pc_token_cache *cache, uint64_t hash, const char *token, size_t len)
{
    for (struct entry *e = cache->buckets[hash & cache->mask]; e != NULL; e = e->next_in_bucket) {
        if (e->hash == hash && e->len == len && memcmp(e->token, token, len) == 0) {
            return e;
        }
    }
    return NULL;
}

struct pc_principal *
pc_token_cache_get(struct pc_token_cache *cache, const char *token, size_t len, uint64_t now_ms,
                   const char **source)
{
    uint64_t hash = pc_hash_bytes(cache->seed, token, len);
    struct entry *e = find(cache, hash, token, len);

    if (e == NULL) {
        return NULL;
    }
    if (now_ms >= e->expires_ms) {
        remove_entry(cache, e);
        return NULL;
    }
    unlink_lru(cache, e);
    push_lru(cache, e);
    *source = e->source;
    return e->principal;
}

void
pc_token_cache_put(struct pc_token_cache *cache, const char *token, size_t len, const char *source,
                   struct pc_principal *principal, uint64_t expires_ms)
{
    uint64_t hash = pc_hash_bytes(cache->seed, token, len);
    struct entry *e = find(cache, hash, token, len);

    if (e != NULL) {
        remove_entry(cache, e);
    }
    if (cache->n >= cache->max) {
        remove_entry(cache, cache->oldest);
    }
    e = pc_malloc(sizeof(*e) + len);
    if (e == NULL) {
        return;
    }
    e->source = pc_strdup(source);
    if (e->source == NULL) {
        pc_free(e);
        return;
    }
    memcpy(e->token, token, len);
    e->len = len;
    e->hash = hash;
    e->expires_ms = expires_ms;
    e->principal = pc_principal_ref(principal);
    e->next_in_bucket = cache->buckets[hash & cache->mask];
    cache->buckets[hash & cache->mask] = e;
    push_lru(cache, e);
    cache->n++;
}

size_t
pc_token_cache_size(const struct pc_token_cache *cache)
{
    return cache->n;
}

/* --- the replay cache --- */

#define STRIPES       16
#define REPLAY_PROBES 64

struct replay_slot {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    uint64_t expires_ms; /* 0: empty */
};

struct stripe {
    pthread_mutex_t lock;
    struct replay_slot *slots;
    size_t cap;
};

struct pc_replay_cache {
    struct stripe stripes[STRIPES];
};

struct pc_replay_cache *
pc_replay_cache_create(size_t max_entries)
{
    struct pc_replay_cache *cache = pc_calloc(1, sizeof(*cache));
    size_t cap = max_entries / STRIPES + 1;

    if (cache == NULL) {
        return NULL;
    }
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&cache->stripes[i].lock, NULL);
        cache->stripes[i].slots = pc_calloc(cap, sizeof(struct replay_slot));
        cache->stripes[i].cap = cap;
        if (cache->stripes[i].slots == NULL) {
            pc_replay_cache_destroy(cache);
            return NULL;
        }
    }
    return cache;
}

void
pc_replay_cache_destroy(struct pc_replay_cache *cache)
{
    if (cache == NULL) {
        return;
    }
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_destroy(&cache->stripes[i].lock);
        pc_free(cache->stripes[i].slots);
    }
    pc_free(cache);
}

static int
replay_digest(const unsigned char *thumbprint, size_t tlen, const char *jti, size_t jlen,
              unsigned char out[SHA256_DIGEST_LENGTH])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sep = 0;
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
             && EVP_DigestUpdate(md, thumbprint, tlen) == 1 && EVP_DigestUpdate(md, &sep, 1) == 1
             && EVP_DigestUpdate(md, jti, jlen) == 1 && EVP_DigestFinal_ex(md, out, NULL) == 1;

    EVP_MD_CTX_free(md);
    return ok ? 0 : PC_ENOMEM;
}

/*
 * Linear probing over the stripe, at most REPLAY_PROBES slots from the digest's home: an entry
 * is only ever written within them, so a live one is always found there, and a check costs the
 * same however many expired entries the table has seen. An expired slot is as good as an empty
 * one.
 */
static int
record(struct stripe *st, const unsigned char *digest, uint64_t now_ms, uint64_t expires_ms)
{
    size_t probes = st->cap < REPLAY_PROBES ? st->cap : REPLAY_PROBES;
    size_t start;
    size_t free_at = SIZE_MAX;

    /* The stripe was chosen by the first byte; the home slot comes from others. */
    memcpy(&start, digest + 8, sizeof(start));
    for (size_t i = 0; i < probes; i++) {
        struct replay_slot *slot = &st->slots[(start + i) % st->cap];

        if (slot->expires_ms > now_ms && memcmp(slot->digest, digest, SHA256_DIGEST_LENGTH) == 0) {
            return PC_EEXIST;
        }
        if (slot->expires_ms <= now_ms && free_at == SIZE_MAX) {
            free_at = (start + i) % st->cap;
        }
        if (slot->expires_ms == 0) {
            break;
        }
    }
    if (free_at == SIZE_MAX) {
        return PC_ELIMIT;
    }
    memcpy(st->slots[free_at].digest, digest, SHA256_DIGEST_LENGTH);
    st->slots[free_at].expires_ms = expires_ms;
    return 0;
}

int
pc_replay_cache_check(struct pc_replay_cache *cache, const unsigned char *thumbprint,
                      size_t thumbprint_len, const char *jti, size_t jti_len, uint64_t now_ms,
                      uint64_t expires_ms)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    struct stripe *st;
    int rc;

    if (replay_digest(thumbprint, thumbprint_len, jti, jti_len, digest) != 0) {
        return PC_ENOMEM;
    }
    st = &cache->stripes[digest[0] % STRIPES];
    pthread_mutex_lock(&st->lock);
    rc = record(st, digest, now_ms, expires_ms);
    pthread_mutex_unlock(&st->lock);
    return rc;
}
