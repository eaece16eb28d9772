/*
 * The key ring: one slot per JWT key source, refreshed on the control loop.
 *
 * Slot states, per slot, all driven on the control thread:
 *
 *     idle --timer or refresh request--> fetching --success--> idle (keys published)
 *                                                 --failure--> idle (keys kept, retry sooner)
 *
 * start_fetch() leaves idle; on_jwks_fetched() / on_discovered() / fail() / publish() return to
 * it and arm the timer for the next refresh. Workers see only the atomics: the key set pointer,
 * the time of the last success, whether the last attempt failed, whether a fetch is under way,
 * and a version number.
 *
 * Slots are never freed while the ring lives (a configuration that drops a provider only stops
 * its refreshing): workers find them on an append-only list without locks, and there are as
 * many as distinct key sources ever configured.
 */
#include "authn/keyring.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "authn/jwks.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/fetch.h"
#include "core/log.h"
#include "tls/bundle.h"

#define RETIRE_GRACE_MS     30000 /* a replaced key set outlives any verification by far */
#define SWEEP_INTERVAL_MS   10000
#define FIRST_RETRY_MS      1000
#define MAX_RETRY_MS        30000
#define MAX_DISCOVERY_BYTES (256 * 1024)

struct retired {
    struct retired *next;
    struct pc_jwks *set;
    uint64_t at_ms;
};

struct pc_keyring_slot {
    struct pc_keyring_slot *next; /* published list */
    struct pc_keyring *ring;

    /* What identifies the key source, copied from the provider that made the slot. */
    enum pc_jwks_origin origin;
    char *name;
    char *issuer;
    char *jwks_uri; /* configured; for discovery, the one the document named */
    char *path;     /* PC_JWKS_LOCAL from a file, or a SPIFFE bundle file */
    char *inline_data;
    size_t inline_len;
    char *trust_domain;
    uint32_t refresh_ms;
    uint32_t min_refresh_ms;
    uint32_t stale_ms;
    uint32_t timeout_ms;

    _Atomic(struct pc_jwks *) keys;
    struct pc_jwks *hmac;
    _Atomic uint64_t fetched_ms;
    _Atomic uint64_t last_attempt_ms;
    _Atomic uint64_t version;
    _Atomic bool is_failing;
    _Atomic bool is_refresh_wanted;
    _Atomic bool is_fetching; /* written by the control thread only */

    uv_timer_t timer;
    struct pc_fetch_transfer *transfer;
    uint32_t failures;
    bool is_used;
};

struct pc_keyring {
    uv_loop_t *loop;
    struct pc_fetch *fetch;
    pc_keyring_notify_fn notify;
    void *notify_data;
    _Atomic(struct pc_keyring_slot *) slots;
    uv_async_t wake;
    uv_timer_t sweep;
    struct retired *retired;
    int open_handles;
    bool is_destroying;
};

static struct pc_log_limit fetch_limit = PC_LOG_LIMIT_INIT(10, 60000);

static void start_fetch(struct pc_keyring_slot *slot);
static void on_refresh_timer(uv_timer_t *timer);

/* --- publishing --- */

static uint64_t
now_ms(const struct pc_keyring *ring)
{
    return uv_now(ring->loop);
}

static void
retire(struct pc_keyring *ring, struct pc_jwks *set)
{
    struct retired *r;

    if (set == NULL) {
        return;
    }
    r = pc_malloc(sizeof(*r));
    if (r == NULL) {
        /* Better to keep a few KiB than to free what a worker may be reading. */
        return;
    }
    r->set = set;
    r->at_ms = now_ms(ring);
    r->next = ring->retired;
    ring->retired = r;
}

static void
on_sweep(uv_timer_t *timer)
{
    struct pc_keyring *ring = timer->data;
    struct retired **link = &ring->retired;
    uint64_t now = now_ms(ring);

    while (*link != NULL) {
        struct retired *r = *link;

        if (now - r->at_ms < RETIRE_GRACE_MS) {
            link = &r->next;
            continue;
        }
        *link = r->next;
        pc_jwks_unref(r->set);
        pc_free(r);
    }
}

static void
schedule(struct pc_keyring_slot *slot, uint64_t delay_ms)
{
    if (!slot->ring->is_destroying && slot->is_used && delay_ms > 0) {
        uv_timer_start(&slot->timer, on_refresh_timer, delay_ms, 0);
    }
}

static void
finish(struct pc_keyring_slot *slot)
{
    /* Cleared before the workers are told, so a worker that still sees a fetch under way
     * registers its waiter before this notification reaches it. */
    atomic_store(&slot->is_fetching, false);
    slot->transfer = NULL;
    if (slot->ring->notify != NULL) {
        slot->ring->notify(slot->ring->notify_data, slot);
    }
}

static void
publish(struct pc_keyring_slot *slot, struct pc_jwks *set)
{
    struct pc_jwks *old = atomic_exchange(&slot->keys, set);

    retire(slot->ring, old);
    atomic_store(&slot->fetched_ms, now_ms(slot->ring));
    atomic_store(&slot->is_failing, false);
    atomic_fetch_add(&slot->version, 1);
    slot->failures = 0;
    pc_log(PC_LOG_INFO, "authn", "keys_refreshed", "provider=%s keys=%zu", slot->name,
           pc_jwks_count(set));
    schedule(slot, slot->refresh_ms);
    finish(slot);
}

/*
 * A failed refresh keeps the keys there were. Retries come sooner than the regular interval,
 * doubling from a second, so an issuer back from an outage is noticed quickly.
 */
static void
fail(struct pc_keyring_slot *slot, const char *reason, const char *detail)
{
    uint64_t retry = (uint64_t)FIRST_RETRY_MS << (slot->failures < 5 ? slot->failures : 5);

    if (retry > MAX_RETRY_MS) {
        retry = MAX_RETRY_MS;
    }
    if (retry > slot->refresh_ms) {
        retry = slot->refresh_ms;
    }
    slot->failures++;
    atomic_store(&slot->is_failing, true);
    if (pc_log_limit_allow(&fetch_limit)) {
        /* An operator must act: requests for this issuer answer 503 once keys run out. */
        pc_log(PC_LOG_WARN, "authn", "keys_unavailable",
               "provider=%s reason=%s detail=\"%s\" has_keys=%s retry_ms=%llu", slot->name, reason,
               detail, atomic_load(&slot->keys) != NULL ? "yes" : "no", (unsigned long long)retry);
    }
    atomic_fetch_add(&slot->version, 1);
    schedule(slot, retry);
    finish(slot);
}

/* --- sources --- */

static void
parse_and_publish(struct pc_keyring_slot *slot, const char *json, size_t len)
{
    struct pc_err err = { 0 };
    struct pc_jwks *set = pc_jwks_parse(json, len, &err);

    if (set == NULL) {
        fail(slot, "bad_jwks", err.msg);
        return;
    }
    publish(slot, set);
}

static char *
read_file(const char *path, size_t max, size_t *len, struct pc_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;

    if (f == NULL) {
        pc_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    buf = pc_malloc(max + 1);
    *len = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (buf == NULL || *len > max) {
        pc_free(buf);
        pc_err_set(err, PC_ELIMIT, "%s is larger than %zu bytes", path, max);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

static void
load_local(struct pc_keyring_slot *slot)
{
    struct pc_err err = { 0 };
    size_t len = slot->inline_len;
    char *data = slot->inline_data;

    if (slot->path != NULL) {
        data = read_file(slot->path, PC_JWKS_MAX_BYTES, &len, &err);
        if (data == NULL) {
            fail(slot, "unreadable", err.msg);
            return;
        }
    }
    parse_and_publish(slot, data, len);
    if (data != slot->inline_data) {
        pc_free(data);
    }
}

/* JWT-SVID keys: the jwt-svid entries of the trust domain's SPIFFE bundle. */
static void
load_spiffe(struct pc_keyring_slot *slot)
{
    struct pc_bundle_builder *b = pc_bundle_builder_create();
    struct pc_jwks_pkey pkeys[PC_JWKS_MAX_KEYS];
    struct pc_bundle_set *set = NULL;
    const struct pc_bundle *bundle;
    struct pc_err err = { 0 };
    struct pc_jwks *keys;
    size_t n = 0;
    int rc;

    rc = b == NULL ? PC_ENOMEM
         : slot->path != NULL
             ? pc_bundle_builder_add_spiffe_file(b, slot->trust_domain, slot->path, &err)
             : pc_bundle_builder_add_spiffe(b, slot->trust_domain, slot->inline_data,
                                            slot->inline_len, &err);
    set = rc == 0 ? pc_bundle_builder_finish(b, &err) : (pc_bundle_builder_free(b), NULL);
    bundle = set != NULL ? pc_bundle_set_find(set, slot->trust_domain, strlen(slot->trust_domain))
                         : NULL;
    if (bundle == NULL) {
        pc_bundle_set_unref(set);
        fail(slot, "bad_bundle", err.msg[0] != '\0' ? err.msg : "no bundle for the trust domain");
        return;
    }
    for (size_t i = 0; i < pc_bundle_jwt_key_count(bundle) && n < PC_JWKS_MAX_KEYS; i++) {
        const struct pc_bundle_jwt_key *k = pc_bundle_jwt_key_at(bundle, i);

        pkeys[n++] = (struct pc_jwks_pkey){ .kid = k->kid, .alg = k->alg, .pkey = k->key };
    }
    keys = pc_jwks_from_pkeys(pkeys, n, &err);
    pc_bundle_set_unref(set);
    if (keys == NULL) {
        fail(slot, "bad_bundle", err.msg);
        return;
    }
    publish(slot, keys);
}

static void
on_jwks_fetched(void *data, struct pc_fetch_response *resp)
{
    struct pc_keyring_slot *slot = data;

    if (resp->result != PC_FETCH_OK) {
        fail(slot, "unreachable", resp->error);
        return;
    }
    if (resp->status != 200) {
        char detail[64];

        snprintf(detail, sizeof(detail), "HTTP status %d", resp->status);
        fail(slot, "bad_status", detail);
        return;
    }
    parse_and_publish(slot, resp->body, resp->body_len);
}

static void
fetch_url(struct pc_keyring_slot *slot, const char *url, size_t max_bytes, pc_fetch_fn cb)
{
    struct pc_fetch_pair accept = { "Accept", "application/json" };
    struct pc_fetch_request req = {
        .method = PC_FETCH_GET,
        .url = url,
        .headers = &accept,
        .n_headers = 1,
        .timeout_ms = slot->timeout_ms,
        .max_response_bytes = max_bytes,
    };

    slot->transfer = pc_fetch_start(slot->ring->fetch, &req, cb, slot);
    if (slot->transfer == NULL) {
        fail(slot, "internal", "out of memory");
    }
}

/*
 * OpenID Connect Discovery 1.0 section 4.3: the document's issuer must be the one we asked
 * about, or an attacker who controls the document could have us trust another issuer's keys.
 */
static void
on_discovered(void *data, struct pc_fetch_response *resp)
{
    struct pc_keyring_slot *slot = data;
    json_t *doc;
    const char *issuer;
    const char *uri;

    if (resp->result != PC_FETCH_OK || resp->status != 200) {
        fail(slot, resp->result != PC_FETCH_OK ? "unreachable" : "bad_status",
             resp->result != PC_FETCH_OK ? resp->error : "discovery document not served");
        return;
    }
    doc = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, NULL);
    issuer = json_string_value(json_object_get(doc, "issuer"));
    uri = json_string_value(json_object_get(doc, "jwks_uri"));
    if (issuer == NULL || strcmp(issuer, slot->issuer) != 0 || uri == NULL
        || pc_fetch_check_url(uri) != 0) {
        json_decref(doc);
        fail(slot, "bad_discovery", "no jwks_uri, or an issuer other than the configured one");
        return;
    }
    pc_free(slot->jwks_uri);
    slot->jwks_uri = pc_strdup(uri);
    json_decref(doc);
    if (slot->jwks_uri == NULL) {
        fail(slot, "internal", "out of memory");
        return;
    }
    fetch_url(slot, slot->jwks_uri, PC_JWKS_MAX_BYTES, on_jwks_fetched);
}

static void
discover(struct pc_keyring_slot *slot)
{
    size_t n = strlen(slot->issuer);
    char *url = pc_malloc(n + sizeof("/.well-known/openid-configuration"));

    if (url == NULL) {
        fail(slot, "internal", "out of memory");
        return;
    }
    /* Section 4: the issuer with any trailing slash removed, then the well-known path. */
    memcpy(url, slot->issuer, n);
    if (n > 0 && url[n - 1] == '/') {
        n--;
    }
    strcpy(url + n, "/.well-known/openid-configuration");
    fetch_url(slot, url, MAX_DISCOVERY_BYTES, on_discovered);
    pc_free(url);
}

static void
start_fetch(struct pc_keyring_slot *slot)
{
    if (slot->ring->is_destroying) {
        return;
    }
    /* A refresh asked for while a fetch is under way is served by that fetch: its end wakes
     * every waiter. Left set, the flag would make later requests wait for a fetch nobody
     * starts. */
    atomic_store(&slot->is_refresh_wanted, false);
    if (atomic_load(&slot->is_fetching)) {
        return;
    }
    atomic_store(&slot->is_fetching, true);
    atomic_store(&slot->last_attempt_ms, now_ms(slot->ring));
    uv_timer_stop(&slot->timer);

    switch (slot->origin) {
    case PC_JWKS_LOCAL:
        load_local(slot);
        break;
    case PC_JWKS_SPIFFE_BUNDLE:
        load_spiffe(slot);
        break;
    case PC_JWKS_URI:
        fetch_url(slot, slot->jwks_uri, PC_JWKS_MAX_BYTES, on_jwks_fetched);
        break;
    case PC_JWKS_DISCOVERY:
        discover(slot);
        break;
    case PC_JWKS_HMAC:
        /* Only the configured secret: there is nothing to fetch, and nothing ever goes stale. */
        publish(slot, pc_jwks_ref(slot->hmac));
        break;
    }
}

static void
on_refresh_timer(uv_timer_t *timer)
{
    start_fetch(timer->data);
}

/* Workers asked for refreshes (unknown kids): run the ones still wanted. */
static void
on_wake(uv_async_t *handle)
{
    struct pc_keyring *ring = handle->data;

    for (struct pc_keyring_slot *s = atomic_load(&ring->slots); s != NULL; s = s->next) {
        if (atomic_load(&s->is_refresh_wanted) && s->is_used) {
            start_fetch(s);
        }
    }
}

/* --- slots --- */

static bool
same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static const char *
provider_path(const struct pc_jwt_provider *p)
{
    if (p->key_origin == PC_JWKS_LOCAL && p->jwks.origin == PC_PEM_FILE) {
        return p->jwks.path;
    }
    if (p->key_origin == PC_JWKS_SPIFFE_BUNDLE && p->spiffe_bundle != NULL
        && p->spiffe_bundle->source.origin == PC_PEM_FILE) {
        return p->spiffe_bundle->source.path;
    }
    return NULL;
}

static const struct pc_pem_source *
provider_inline(const struct pc_jwt_provider *p)
{
    if (p->key_origin == PC_JWKS_LOCAL && p->jwks.origin == PC_PEM_INLINE) {
        return &p->jwks;
    }
    if (p->key_origin == PC_JWKS_SPIFFE_BUNDLE && p->spiffe_bundle != NULL
        && p->spiffe_bundle->source.origin == PC_PEM_INLINE) {
        return &p->spiffe_bundle->source;
    }
    return NULL;
}

/* Whether slot holds the keys provider names: same source, same issuer, same secret. */
static bool
slot_matches(const struct pc_keyring_slot *slot, const struct pc_jwt_provider *p)
{
    const struct pc_pem_source *in = provider_inline(p);

    if (slot->origin != p->key_origin || !same_str(slot->issuer, p->issuer)
        || !same_str(slot->path, provider_path(p))
        || !same_str(slot->trust_domain, p->spiffe_trust_domain)
        || (p->key_origin == PC_JWKS_URI && !same_str(slot->jwks_uri, p->jwks_uri))) {
        return false;
    }
    if (in != NULL
        && (slot->inline_len != in->len || memcmp(slot->inline_data, in->data, in->len) != 0)) {
        return false;
    }
    return true;
}

struct pc_keyring_slot *
pc_keyring_find(struct pc_keyring *ring, const struct pc_jwt_provider *provider)
{
    for (struct pc_keyring_slot *s = atomic_load_explicit(&ring->slots, memory_order_acquire);
         s != NULL; s = s->next) {
        if (slot_matches(s, provider)) {
            return s;
        }
    }
    return NULL;
}

static void
free_slot_strings(struct pc_keyring_slot *slot)
{
    pc_free(slot->name);
    pc_free(slot->issuer);
    pc_free(slot->jwks_uri);
    pc_free(slot->path);
    if (slot->inline_data != NULL) {
        OPENSSL_cleanse(slot->inline_data, slot->inline_len);
    }
    pc_free(slot->inline_data);
    pc_free(slot->trust_domain);
}

static char *
dup_or_null(const char *s, bool *failed)
{
    char *d = s != NULL ? pc_strdup(s) : NULL;

    if (s != NULL && d == NULL) {
        *failed = true;
    }
    return d;
}

static int
copy_provider(struct pc_keyring_slot *slot, const struct pc_jwt_provider *p)
{
    const struct pc_pem_source *in = provider_inline(p);
    struct pc_err err = { 0 };
    bool failed = false;

    slot->origin = p->key_origin;
    slot->name = dup_or_null(p->name, &failed);
    slot->issuer = dup_or_null(p->issuer, &failed);
    slot->jwks_uri = dup_or_null(p->key_origin == PC_JWKS_URI ? p->jwks_uri : NULL, &failed);
    slot->path = dup_or_null(provider_path(p), &failed);
    slot->trust_domain = dup_or_null(p->spiffe_trust_domain, &failed);
    if (in != NULL) {
        slot->inline_data = pc_strndup(in->data, in->len);
        slot->inline_len = in->len;
        failed = failed || slot->inline_data == NULL;
    }
    if (p->hmac_secret != NULL) {
        slot->hmac = pc_jwks_from_secret(p->hmac_secret, p->hmac_secret_len, NULL, &err);
        failed = failed || slot->hmac == NULL;
    }
    return failed ? PC_ENOMEM : 0;
}

static void
copy_settings(struct pc_keyring_slot *slot, const struct pc_jwt_provider *p)
{
    slot->refresh_ms = p->refresh_ms > 0 ? p->refresh_ms : 600000;
    slot->min_refresh_ms = p->min_refresh_ms;
    slot->stale_ms = p->stale_ms;
    slot->timeout_ms = p->fetch_timeout_ms;
}

static struct pc_keyring_slot *
add_slot(struct pc_keyring *ring, const struct pc_jwt_provider *p)
{
    struct pc_keyring_slot *slot = pc_calloc(1, sizeof(*slot));

    if (slot == NULL) {
        return NULL;
    }
    slot->ring = ring;
    if (copy_provider(slot, p) != 0) {
        free_slot_strings(slot);
        pc_jwks_unref(slot->hmac);
        pc_free(slot);
        return NULL;
    }
    uv_timer_init(ring->loop, &slot->timer);
    slot->timer.data = slot;
    ring->open_handles++;
    slot->next = atomic_load(&ring->slots);
    atomic_store_explicit(&ring->slots, slot, memory_order_release);
    return slot;
}

/* Marks p's slot in use, making it (and fetching its first keys) when it is new. */
static void
use_provider(struct pc_keyring *ring, const struct pc_jwt_provider *p)
{
    struct pc_keyring_slot *slot = pc_keyring_find(ring, p);
    bool was_used;

    if (slot == NULL) {
        slot = add_slot(ring, p);
        if (slot == NULL) {
            pc_log(PC_LOG_ERROR, "authn", "provider_failed", "provider=%s reason=out_of_memory",
                   p->name);
            return;
        }
    }
    was_used = slot->is_used;
    copy_settings(slot, p);
    slot->is_used = true;
    if (!was_used && !atomic_load(&slot->is_fetching)) {
        start_fetch(slot);
    }
}

void
pc_keyring_apply(struct pc_keyring *ring, const struct pc_config *cfg)
{
    for (struct pc_keyring_slot *s = atomic_load(&ring->slots); s != NULL; s = s->next) {
        s->is_used = false;
    }
    for (size_t r = 0; r < cfg->n_rules; r++) {
        const struct pc_authn *authn = cfg->rules[r]->authn;

        for (size_t i = 0; authn != NULL && i < authn->n_providers; i++) {
            use_provider(ring, &authn->providers[i]);
        }
    }
    for (struct pc_keyring_slot *s = atomic_load(&ring->slots); s != NULL; s = s->next) {
        if (!s->is_used) {
            /* No longer configured: keep the keys (a snapshot in flight may read them), stop
             * refreshing them. */
            uv_timer_stop(&s->timer);
        }
    }
}

void
pc_keyring_reload_files(struct pc_keyring *ring)
{
    for (struct pc_keyring_slot *s = atomic_load(&ring->slots); s != NULL; s = s->next) {
        if (s->is_used && s->path != NULL) {
            start_fetch(s);
        }
    }
}

/* --- what workers read --- */

const struct pc_jwks *
pc_keyring_keys(const struct pc_keyring_slot *slot, uint64_t now, enum pc_keys_state *state)
{
    const struct pc_jwks *keys = atomic_load_explicit(&slot->keys, memory_order_acquire);
    uint64_t fetched = atomic_load_explicit(&slot->fetched_ms, memory_order_relaxed);

    if (keys == NULL) {
        *state = PC_KEYS_NONE;
    } else if (!atomic_load_explicit(&slot->is_failing, memory_order_relaxed)) {
        *state = PC_KEYS_FRESH;
    } else if (now - fetched <= slot->stale_ms) {
        *state = PC_KEYS_STALE;
    } else {
        *state = PC_KEYS_EXPIRED;
    }
    return keys;
}

const struct pc_jwks *
pc_keyring_hmac(const struct pc_keyring_slot *slot)
{
    return slot->hmac;
}

bool
pc_keyring_request_refresh(struct pc_keyring_slot *slot, uint64_t now)
{
    uint64_t last = atomic_load_explicit(&slot->last_attempt_ms, memory_order_relaxed);

    if (slot->origin != PC_JWKS_URI && slot->origin != PC_JWKS_DISCOVERY) {
        /* Local keys change with the configuration or the file, not on demand. */
        return false;
    }
    /* During a rotation many requests name the new kid at once: those arriving while the
     * refetch the first one caused is under way wait for it, rather than being refused because
     * the minimum interval since its start has not passed. */
    if (atomic_load(&slot->is_fetching) || atomic_load(&slot->is_refresh_wanted)) {
        return true;
    }
    if (now - last < slot->min_refresh_ms) {
        return false;
    }
    /* Several workers may ask at once: the flag makes it one refresh. */
    if (!atomic_exchange(&slot->is_refresh_wanted, true)) {
        uv_async_send(&slot->ring->wake);
    }
    return true;
}

uint64_t
pc_keyring_version(const struct pc_keyring_slot *slot)
{
    return atomic_load_explicit(&slot->version, memory_order_acquire);
}

const char *
pc_keyring_slot_name(const struct pc_keyring_slot *slot)
{
    return slot->name;
}

/* --- life --- */

struct pc_keyring *
pc_keyring_create(uv_loop_t *loop, struct pc_fetch *fetch, pc_keyring_notify_fn notify, void *data)
{
    struct pc_keyring *ring = pc_calloc(1, sizeof(*ring));

    if (ring == NULL) {
        return NULL;
    }
    ring->loop = loop;
    ring->fetch = fetch;
    ring->notify = notify;
    ring->notify_data = data;
    uv_async_init(loop, &ring->wake, on_wake);
    uv_timer_init(loop, &ring->sweep);
    ring->wake.data = ring;
    ring->sweep.data = ring;
    ring->open_handles = 2;
    uv_timer_start(&ring->sweep, on_sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    return ring;
}

static void
free_ring(struct pc_keyring *ring)
{
    struct pc_keyring_slot *s = atomic_load(&ring->slots);

    while (s != NULL) {
        struct pc_keyring_slot *next = s->next;

        pc_jwks_unref(atomic_load(&s->keys));
        pc_jwks_unref(s->hmac);
        free_slot_strings(s);
        pc_free(s);
        s = next;
    }
    while (ring->retired != NULL) {
        struct retired *r = ring->retired;

        ring->retired = r->next;
        pc_jwks_unref(r->set);
        pc_free(r);
    }
    pc_free(ring);
}

static void
on_closed(uv_handle_t *handle)
{
    struct pc_keyring *ring = handle->data;

    if (handle->type == UV_TIMER && handle != (uv_handle_t *)&ring->sweep) {
        ring = ((struct pc_keyring_slot *)handle->data)->ring;
    }
    if (--ring->open_handles == 0) {
        free_ring(ring);
    }
}

void
pc_keyring_destroy(struct pc_keyring *ring)
{
    if (ring == NULL) {
        return;
    }
    ring->is_destroying = true;
    for (struct pc_keyring_slot *s = atomic_load(&ring->slots); s != NULL; s = s->next) {
        if (s->transfer != NULL) {
            pc_fetch_cancel(s->transfer);
            s->transfer = NULL;
        }
        uv_close((uv_handle_t *)&s->timer, on_closed);
    }
    uv_close((uv_handle_t *)&ring->wake, on_closed);
    uv_close((uv_handle_t *)&ring->sweep, on_closed);
}
