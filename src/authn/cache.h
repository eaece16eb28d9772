/*
 * The verified-token cache of one worker: token bytes -> the principal they proved, until the
 * earlier of the token's own expiry and a configured time to live.
 *
 * A repeated token then costs a hash and a comparison instead of a signature verification (or
 * an introspection round trip). Entries keep the whole token and are found only by comparing
 * it byte for byte, so a hash collision can only cost time, never lend one token another's
 * identity; the hash is keyed with a per-process random seed so collisions cannot be planned.
 * Bounded: the least recently used entry makes room. One cache per worker loop, no locks.
 */
#ifndef PC_AUTHN_CACHE_H
#define PC_AUTHN_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct pc_token_cache;
struct pc_principal;

/* Creates a cache of at most max_entries; NULL when out of memory. */
struct pc_token_cache *pc_token_cache_create(size_t max_entries);

/* Releases every entry (and its principal reference) and the cache; accepts NULL. */
void pc_token_cache_destroy(struct pc_token_cache *cache);

/*
 * Looks the token up. Returns its principal (borrowed: valid until the next put or eviction on
 * this cache; take a reference to keep it) and sets *source to the name it was verified under
 * (a provider's name, or an introspection endpoint), or NULL when absent or expired at now_ms.
 */
struct pc_principal *pc_token_cache_get(struct pc_token_cache *cache, const char *token, size_t len,
                                        uint64_t now_ms, const char **source);

/*
 * Remembers that token proved principal (a reference is taken) under source (copied) until
 * expires_ms. Out of memory only skips remembering.
 */
void pc_token_cache_put(struct pc_token_cache *cache, const char *token, size_t len,
                        const char *source, struct pc_principal *principal, uint64_t expires_ms);

/* Forgets every entry (a new configuration may judge the tokens differently). */
void pc_token_cache_clear(struct pc_token_cache *cache);

/* Entries held, for metrics and tests. */
size_t pc_token_cache_size(const struct pc_token_cache *cache);

/*
 * The DPoP proof replay cache (RFC 9449 section 11.1), shared by every worker: a proof's jti,
 * under the key that signed it, is accepted once while the proof could still be presented.
 * Thread-safe (striped locks, taken only for DPoP requests).
 */
struct pc_replay_cache;

struct pc_replay_cache *pc_replay_cache_create(size_t max_entries);
void pc_replay_cache_destroy(struct pc_replay_cache *cache);

/*
 * Records (thumbprint, jti) until expires_ms. Returns 0 when first seen, PC_EEXIST when already
 * recorded and not expired (a replay), PC_ELIMIT when every slot the entry could take holds a
 * live one (the proof is refused: better than forgetting one).
 */
int pc_replay_cache_check(struct pc_replay_cache *cache, const unsigned char *thumbprint,
                          size_t thumbprint_len, const char *jti, size_t jti_len, uint64_t now_ms,
                          uint64_t expires_ms);

#endif
