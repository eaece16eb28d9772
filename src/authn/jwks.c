/*
 * Key sets. Parsing reads the whole document with jansson (duplicates refused), checks every
 * entry's shape first, then converts the usable ones with tls/jwk.c's pc_jwk_public_key (which
 * validates sizes and curve points). The set is one allocation with the keys inline; nothing in
 * it changes after it is returned, so workers read it without locks, and the count of
 * references is the only shared write.
 */
#include "authn/jwks.h"

#include <stdatomic.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "core/alloc.h"
#include "core/err.h"
#include "tls/jwk.h"

struct pc_jwks {
    _Atomic size_t refs;
    size_t n_keys;
    size_t n_ignored;
    struct pc_jwks_key keys[];
};

bool
pc_jwks_has_private_members(const json_t *jwk)
{
    static const char *const names[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (json_object_get(jwk, names[i]) != NULL) {
            return true;
        }
    }
    return false;
}

void
pc_jwks_key_clear(struct pc_jwks_key *key)
{
    if (key == NULL) {
        return;
    }
    EVP_PKEY_free(key->pkey);
    pc_free(key->kid);
    pc_free_secret(key->secret, key->secret_len);
    memset(key, 0, sizeof(*key));
}

/* The algorithms an EC key fits follow from its curve (RFC 7518 section 3.4). */
static int
classify_ec(struct pc_jwks_key *key)
{
    char group[32];

    if (EVP_PKEY_get_utf8_string_param(key->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL)
        != 1) {
        ERR_clear_error();
        return PC_ENOTSUP;
    }
    if (strcmp(group, "prime256v1") == 0) {
        key->fits = PC_JWS_ALG_ES256;
        key->ec_size = 32;
    } else if (strcmp(group, "secp384r1") == 0) {
        key->fits = PC_JWS_ALG_ES384;
        key->ec_size = 48;
    } else if (strcmp(group, "secp521r1") == 0) {
        key->fits = PC_JWS_ALG_ES512;
        key->ec_size = 66;
    } else {
        return PC_ENOTSUP;
    }
    return 0;
}

/*
 * Sets kty, fits and ec_size from key->pkey. RSA keys are checked for size here too, because
 * keys handed over by pc_jwks_from_pkeys did not pass through the JWK conversion.
 */
static int
classify_pkey(struct pc_jwks_key *key)
{
    if (EVP_PKEY_is_a(key->pkey, "RSA")) {
        key->kty = PC_JWKS_KTY_RSA;
        key->fits = PC_JWS_ALG_RSA;
        return EVP_PKEY_get_bits(key->pkey) >= 2048 ? 0 : PC_ENOTSUP;
    }
    if (EVP_PKEY_is_a(key->pkey, "EC")) {
        key->kty = PC_JWKS_KTY_EC;
        return classify_ec(key);
    }
    if (EVP_PKEY_is_a(key->pkey, "ED25519") || EVP_PKEY_is_a(key->pkey, "ED448")) {
        key->kty = PC_JWKS_KTY_OKP;
        key->fits = PC_JWS_ALG_EDDSA;
        return 0;
    }
    return PC_ENOTSUP;
}

/*
 * Applies the key's own "alg" (RFC 7517 section 4.4): the key then fits that algorithm only,
 * and an algorithm we do not implement leaves it fitting nothing.
 */
static void
restrict_alg(struct pc_jwks_key *key, const char *alg)
{
    if (alg == NULL) {
        return;
    }
    key->alg = pc_jws_alg_parse(alg, strlen(alg));
    key->fits &= key->alg;
}

static int
copy_kid(struct pc_jwks_key *key, const char *kid, size_t len)
{
    if (kid == NULL) {
        return 0;
    }
    key->kid = pc_strndup(kid, len);
    if (key->kid == NULL) {
        return PC_ENOMEM;
    }
    key->kid_len = len;
    return 0;
}

/* Checks the types of the members this module reads; wrong types refuse the whole document. */
static int
check_entry_shape(const json_t *jwk, size_t index, struct pc_err *err)
{
    static const char *const strings[] = { "kid", "alg", "use", "kty" };
    const json_t *ops = json_object_get(jwk, "key_ops");

    if (!json_is_object(jwk)) {
        return pc_err_set(err, PC_EPARSE, "JWKS keys[%zu] is not an object", index);
    }
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        const json_t *v = json_object_get(jwk, strings[i]);

        if (v != NULL && !json_is_string(v)) {
            return pc_err_set(err, PC_EPARSE, "JWKS keys[%zu].%s is not a string", index,
                              strings[i]);
        }
    }
    if (ops != NULL && !json_is_array(ops)) {
        return pc_err_set(err, PC_EPARSE, "JWKS keys[%zu].key_ops is not an array", index);
    }
    if (pc_jwks_has_private_members(jwk)) {
        /* A published private or symmetric key means the issuer leaked it: trust nothing. */
        return pc_err_set(err, PC_EPARSE, "JWKS keys[%zu] carries private key material", index);
    }
    return 0;
}

/* RFC 7517 sections 4.2 and 4.3: keys meant for something other than verifying are skipped. */
static bool
is_for_signatures(const json_t *jwk)
{
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const json_t *ops = json_object_get(jwk, "key_ops");
    size_t i;
    const json_t *op;

    if (use != NULL && strcmp(use, "sig") != 0) {
        return false;
    }
    if (ops == NULL) {
        return true;
    }
    json_array_foreach(ops, i, op)
    {
        if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Converts one entry into key. Returns 0, 1 when the entry is to be ignored (key left zeroed),
 * or PC_ENOMEM.
 */
static int
build_key(const json_t *jwk, struct pc_jwks_key *key)
{
    const json_t *kid = json_object_get(jwk, "kid");
    int rc;

    if (!is_for_signatures(jwk)) {
        return 1;
    }
    rc = pc_jwk_public_key(jwk, &key->pkey, NULL);
    if (rc == PC_ENOMEM) {
        return rc;
    }
    if (rc != 0 || classify_pkey(key) != 0) {
        pc_jwks_key_clear(key);
        return 1;
    }
    restrict_alg(key, json_string_value(json_object_get(jwk, "alg")));
    rc = copy_kid(key, json_string_value(kid), json_string_length(kid));
    if (rc != 0) {
        pc_jwks_key_clear(key);
    }
    return rc;
}

static struct pc_jwks *
set_new(size_t n)
{
    struct pc_jwks *set = pc_calloc(1, sizeof(*set) + n * sizeof(set->keys[0]));

    if (set != NULL) {
        atomic_init(&set->refs, 1);
    }
    return set;
}

static void
set_free(struct pc_jwks *set)
{
    for (size_t i = 0; i < set->n_keys; i++) {
        pc_jwks_key_clear(&set->keys[i]);
    }
    pc_free(set);
}

static const json_t *
load_keys_array(const char *json, size_t len, json_t **root, struct pc_err *err)
{
    json_error_t jerr;
    const json_t *keys;

    if (len > PC_JWKS_MAX_BYTES) {
        pc_err_set(err, PC_ELIMIT, "JWKS of %zu bytes; at most %u are read", len,
                   PC_JWKS_MAX_BYTES);
        return NULL;
    }
    *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL) {
        pc_err_set(err, json_error_code(&jerr) == json_error_out_of_memory ? PC_ENOMEM : PC_EPARSE,
                   "JWKS is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                   jerr.column);
        return NULL;
    }
    keys = json_object_get(*root, "keys");
    if (!json_is_array(keys)) {
        pc_err_set(err, PC_EPARSE, "JWKS has no \"keys\" array");
        return NULL;
    }
    if (json_array_size(keys) > PC_JWKS_MAX_KEYS) {
        pc_err_set(err, PC_ELIMIT, "JWKS holds %zu keys; at most %u are accepted",
                   json_array_size(keys), PC_JWKS_MAX_KEYS);
        return NULL;
    }
    return keys;
}

struct pc_jwks *
pc_jwks_parse(const char *json, size_t len, struct pc_err *err)
{
    json_t *root = NULL;
    struct pc_jwks *set = NULL;
    const json_t *keys = load_keys_array(json, len, &root, err);
    const json_t *jwk;
    size_t i;
    int rc = 0;

    if (keys == NULL) {
        goto out;
    }
    json_array_foreach(keys, i, jwk)
    {
        rc = check_entry_shape(jwk, i, err);
        if (rc != 0) {
            goto out;
        }
    }
    set = set_new(json_array_size(keys));
    if (set == NULL) {
        pc_err_set(err, PC_ENOMEM, "out of memory reading a JWKS");
        goto out;
    }
    json_array_foreach(keys, i, jwk)
    {
        rc = build_key(jwk, &set->keys[set->n_keys]);
        if (rc < 0) {
            pc_err_set(err, rc, "out of memory reading a JWKS");
            set_free(set);
            set = NULL;
            goto out;
        }
        set->n_keys += rc == 0 ? 1 : 0;
        set->n_ignored += rc == 1 ? 1 : 0;
    }

out:
    json_decref(root);
    return set;
}

struct pc_jwks *
pc_jwks_from_secret(const void *secret, size_t len, const char *kid, struct pc_err *err)
{
    struct pc_jwks *set;
    struct pc_jwks_key *key;

    if (len < PC_JWKS_MIN_SECRET_BYTES) {
        pc_err_set(err, PC_EINVAL, "HMAC secret of %zu bytes; at least %d are required", len,
                   PC_JWKS_MIN_SECRET_BYTES);
        return NULL;
    }
    set = set_new(1);
    if (set == NULL) {
        goto fail_nomem;
    }
    set->n_keys = 1;
    key = &set->keys[0];
    key->kty = PC_JWKS_KTY_OCT;
    key->fits =
        PC_JWS_ALG_HS256 | (len >= 48 ? PC_JWS_ALG_HS384 : 0) | (len >= 64 ? PC_JWS_ALG_HS512 : 0);
    key->secret = pc_malloc(len);
    if (key->secret == NULL || copy_kid(key, kid, kid != NULL ? strlen(kid) : 0) != 0) {
        goto fail_nomem;
    }
    memcpy(key->secret, secret, len);
    key->secret_len = len;
    return set;

fail_nomem:
    pc_jwks_unref(set);
    pc_err_set(err, PC_ENOMEM, "out of memory building an HMAC key");
    return NULL;
}

static int
adopt_pkey(const struct pc_jwks_pkey *in, struct pc_jwks_key *key)
{
    if (EVP_PKEY_up_ref(in->pkey) != 1) {
        return PC_ENOMEM;
    }
    key->pkey = in->pkey;
    if (classify_pkey(key) != 0) {
        pc_jwks_key_clear(key);
        return 1;
    }
    restrict_alg(key, in->alg);
    if (copy_kid(key, in->kid, in->kid != NULL ? strlen(in->kid) : 0) != 0) {
        pc_jwks_key_clear(key);
        return PC_ENOMEM;
    }
    return 0;
}

struct pc_jwks *
pc_jwks_from_pkeys(const struct pc_jwks_pkey *keys, size_t n, struct pc_err *err)
{
    struct pc_jwks *set;

    if (n > PC_JWKS_MAX_KEYS) {
        pc_err_set(err, PC_ELIMIT, "%zu keys; at most %u are accepted", n, PC_JWKS_MAX_KEYS);
        return NULL;
    }
    set = set_new(n);
    if (set == NULL) {
        pc_err_set(err, PC_ENOMEM, "out of memory building a key set");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = keys[i].pkey != NULL ? adopt_pkey(&keys[i], &set->keys[set->n_keys]) : 1;

        if (rc < 0) {
            set_free(set);
            pc_err_set(err, rc, "out of memory building a key set");
            return NULL;
        }
        set->n_keys += rc == 0 ? 1 : 0;
        set->n_ignored += rc == 1 ? 1 : 0;
    }
    return set;
}

struct pc_jwks *
pc_jwks_ref(struct pc_jwks *set)
{
    atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    return set;
}

void
pc_jwks_unref(struct pc_jwks *set)
{
    if (set == NULL) {
        return;
    }
    /* Release publishes this thread's reads of the keys; acquire on the last one orders the free.
     */
    if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) == 1) {
        set_free(set);
    }
}

size_t
pc_jwks_count(const struct pc_jwks *set)
{
    return set != NULL ? set->n_keys : 0;
}

size_t
pc_jwks_ignored(const struct pc_jwks *set)
{
    return set != NULL ? set->n_ignored : 0;
}

const struct pc_jwks_key *
pc_jwks_key_at(const struct pc_jwks *set, size_t i)
{
    return &set->keys[i];
}

const struct pc_jwks_key *
pc_jwks_find(const struct pc_jwks *set, const char *kid, size_t kid_len)
{
    for (size_t i = 0; set != NULL && i < set->n_keys; i++) {
        const struct pc_jwks_key *key = &set->keys[i];

        if (key->kid != NULL && key->kid_len == kid_len && memcmp(key->kid, kid, kid_len) == 0) {
            return key;
        }
    }
    return NULL;
}

bool
pc_jwks_key_fits(const struct pc_jwks_key *key, uint32_t alg)
{
    /* Exactly one bit: a set of algorithms is never "fitted" as a whole. */
    return alg != 0 && (alg & (alg - 1)) == 0 && (key->fits & alg) != 0;
}

int
pc_jwks_key_from_jwk(const json_t *jwk, struct pc_jwks_key *key, struct pc_err *err)
{
    const json_t *kid = json_object_get(jwk, "kid");
    const json_t *alg = json_object_get(jwk, "alg");
    int rc;

    memset(key, 0, sizeof(*key));
    if (!json_is_object(jwk)) {
        return pc_err_set(err, PC_EPARSE, "JWK is not an object");
    }
    if (pc_jwks_has_private_members(jwk)) {
        return pc_err_set(err, PC_EACCES, "JWK carries private key material");
    }
    if ((kid != NULL && !json_is_string(kid)) || (alg != NULL && !json_is_string(alg))) {
        return pc_err_set(err, PC_EPARSE, "JWK \"kid\" or \"alg\" is not a string");
    }
    rc = pc_jwk_public_key(jwk, &key->pkey, err);
    if (rc == PC_ENOENT) {
        rc = PC_EPARSE;
    }
    if (rc == 0 && classify_pkey(key) != 0) {
        rc = pc_err_set(err, PC_ENOTSUP, "JWK is not a supported signature key");
    }
    if (rc == 0) {
        restrict_alg(key, json_string_value(alg));
        rc = copy_kid(key, json_string_value(kid), json_string_length(kid));
    }
    if (rc != 0) {
        pc_jwks_key_clear(key);
    }
    return rc;
}
