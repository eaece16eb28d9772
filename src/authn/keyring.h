/*
 * The verification keys of every JWT provider the configuration names, kept fresh.
 *
 * The control thread owns the ring: on each configuration it makes sure every provider has a
 * slot (slots are keyed by what identifies the keys: the provider's issuer and key source, so
 * a reload that keeps a provider keeps its keys), fetches keys (OpenID Connect discovery, then
 * the JWKS; or a JWKS URI; or a local file; or a SPIFFE bundle's jwt-svid keys), refetches them
 * on an interval and when a worker meets an unknown kid (at most once per minimum interval),
 * and keeps the last good set while the issuer is unreachable, for a bounded time.
 *
 * Workers read a slot's current key set with one atomic load and use it synchronously; a set
 * replaced by a refresh is freed only after a grace period far longer than any verification,
 * so readers take no reference and no lock. Workers ask for a refresh through
 * pc_keyring_request_refresh, which wakes the control loop; when new keys are published the
 * ring calls its notify callback (on the control thread) so the workers can resume requests
 * that waited for them.
 */
#ifndef PC_AUTHN_KEYRING_H
#define PC_AUTHN_KEYRING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"

struct pc_keyring;
struct pc_keyring_slot;
struct pc_jwks;
struct pc_fetch;

/* What a worker can learn of a slot's keys right now. */
enum pc_keys_state {
    PC_KEYS_NONE = 0, /* none yet: the first fetch has not succeeded */
    PC_KEYS_FRESH,    /* fetched and not older than the refresh interval allows */
    PC_KEYS_STALE,    /* refreshing fails; the last good keys are still within stale_ms */
    PC_KEYS_EXPIRED,  /* refreshing has failed for longer than stale_ms */
};

/* Called on the control thread after a slot's keys changed (or a refresh ended). */
typedef void (*pc_keyring_notify_fn)(void *data, const struct pc_keyring_slot *slot);

/*
 * Creates the ring on the control loop, fetching through fetch (borrowed for the ring's life).
 * notify (may be NULL) runs after every refresh attempt with data. Returns NULL when out of
 * memory.
 */
struct pc_keyring *pc_keyring_create(uv_loop_t *loop, struct pc_fetch *fetch,
                                     pc_keyring_notify_fn notify, void *data);

/* Stops fetching and frees everything once the loop has closed the handles; accepts NULL. */
void pc_keyring_destroy(struct pc_keyring *ring);

/*
 * Makes the ring follow cfg (borrowed for the call): a slot for every provider of every rule,
 * fetched now when new; slots no rule names any more are dropped after a grace period.
 * Control thread.
 */
void pc_keyring_apply(struct pc_keyring *ring, const struct pc_config *cfg);

/*
 * Reads again every key file (local JWK sets, SPIFFE bundle files) the configuration names, as
 * when a file watcher saw one change. Control thread.
 */
void pc_keyring_reload_files(struct pc_keyring *ring);

/*
 * The slot of provider, or NULL when the ring does not know it (a snapshot newer than the last
 * pc_keyring_apply). Any thread; the slot lives as long as the ring.
 */
struct pc_keyring_slot *pc_keyring_find(struct pc_keyring *ring,
                                        const struct pc_jwt_provider *provider);

/*
 * The slot's current keys and their state. The set is valid, without a reference, until the
 * caller returns to its loop (a replaced set is freed only after a grace period); NULL with
 * PC_KEYS_NONE. now_ms is a monotonic time in milliseconds (uv_now of any loop is fine: all
 * loops share the clock). Any thread.
 */
const struct pc_jwks *pc_keyring_keys(const struct pc_keyring_slot *slot, uint64_t now_ms,
                                      enum pc_keys_state *state);

/* The HMAC key of a provider with a configured secret, or NULL. Any thread. */
const struct pc_jwks *pc_keyring_hmac(const struct pc_keyring_slot *slot);

/*
 * Asks for a refetch because a token named a kid the keys lack. Returns true when a refresh
 * will run (the minimum interval since the last one has passed, or one is running): the caller
 * may wait for the notification; false when it would come too soon, and the token is refused.
 * Any thread.
 */
bool pc_keyring_request_refresh(struct pc_keyring_slot *slot, uint64_t now_ms);

/* A number that changes every time the slot's keys change; waiters compare it. Any thread. */
uint64_t pc_keyring_version(const struct pc_keyring_slot *slot);

/* The provider name the slot was made for, for logs. */
const char *pc_keyring_slot_name(const struct pc_keyring_slot *slot);

#endif
