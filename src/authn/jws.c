/*
 * Compact JWS parsing and signature verification.
 *
 * The steps run cheapest first, so that junk costs little: the size bound, the segment split,
 * base64url decoding into the arena, the header JSON and its refusal rules, key selection, then
 * one signature check with OpenSSL. Message digests are fetched once per process (an implicit
 * fetch per call is a measurable part of a verify in OpenSSL 3), and so are the curve orders
 * the ECDSA range check compares against. Every OpenSSL failure leaves the thread's error queue
 * empty: a refused token is not an error to be reported by whichever TLS call comes next.
 */
#include "authn/jws.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

#include "authn/jwks.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"

/* One line of the algorithm table: the name, the bit, the hash and the signature shape. */
struct alg_info {
    const char *name;
    uint32_t bit;
    int hash; /* 0: SHA-256, 1: SHA-384, 2: SHA-512; -1: none (EdDSA) */
    bool is_pss;
};

static const struct alg_info algs[] = {
    { "RS256", PC_JWS_ALG_RS256, 0, false }, { "RS384", PC_JWS_ALG_RS384, 1, false },
    { "RS512", PC_JWS_ALG_RS512, 2, false }, { "PS256", PC_JWS_ALG_PS256, 0, true },
    { "PS384", PC_JWS_ALG_PS384, 1, true },  { "PS512", PC_JWS_ALG_PS512, 2, true },
    { "ES256", PC_JWS_ALG_ES256, 0, false }, { "ES384", PC_JWS_ALG_ES384, 1, false },
    { "ES512", PC_JWS_ALG_ES512, 2, false }, { "EdDSA", PC_JWS_ALG_EDDSA, -1, false },
    { "HS256", PC_JWS_ALG_HS256, 0, false }, { "HS384", PC_JWS_ALG_HS384, 1, false },
    { "HS512", PC_JWS_ALG_HS512, 2, false },
};

#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

/* The largest curve order (P-521) and ECDSA DER signature we handle. */
#define EC_MAX_SIZE 66
#define DER_SIG_MAX (3 + 2 * (2 + EC_MAX_SIZE + 1))

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static EVP_MD *digests[3];
static unsigned char ec_orders[3][EC_MAX_SIZE]; /* P-256, P-384, P-521, big-endian, padded */
static bool is_crypto_ready;

static bool
load_order(int nid, size_t size, unsigned char *out)
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name(nid);
    bool ok =
        group != NULL && BN_bn2binpad(EC_GROUP_get0_order(group), out, (int)size) == (int)size;

    EC_GROUP_free(group);
    return ok;
}

static void
init_crypto(void)
{
    static const char *const names[3] = { "SHA256", "SHA384", "SHA512" };
    bool ok = true;

    for (int i = 0; i < 3; i++) {
        digests[i] = EVP_MD_fetch(NULL, names[i], NULL);
        ok = ok && digests[i] != NULL;
    }
    ok = ok && load_order(NID_X9_62_prime256v1, 32, ec_orders[0]);
    ok = ok && load_order(NID_secp384r1, 48, ec_orders[1]);
    ok = ok && load_order(NID_secp521r1, 66, ec_orders[2]);
    ERR_clear_error();
    is_crypto_ready = ok;
}

static const struct alg_info *
find_alg(uint32_t bit)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        if (algs[i].bit == bit) {
            return &algs[i];
        }
    }
    return NULL;
}

uint32_t
pc_jws_alg_parse(const char *name, size_t len)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        if (strlen(algs[i].name) == len && memcmp(algs[i].name, name, len) == 0) {
            return algs[i].bit;
        }
    }
    return 0;
}

const char *
pc_jws_alg_name(uint32_t alg)
{
    const struct alg_info *info = find_alg(alg);

    return info != NULL ? info->name : NULL;
}

json_t *
pc_jws_json_object(const unsigned char *json, size_t len, enum pc_authn_reason *reason)
{
    json_error_t jerr;
    json_t *v = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);

    if (v == NULL) {
        switch (json_error_code(&jerr)) {
        case json_error_duplicate_key:
            *reason = PC_AUTHN_DUPLICATE_KEY;
            break;
        case json_error_out_of_memory:
            *reason = PC_AUTHN_INTERNAL;
            break;
        default:
            *reason = PC_AUTHN_BAD_JSON;
            break;
        }
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        *reason = PC_AUTHN_BAD_JSON;
        return NULL;
    }
    return v;
}

static int
refuse(enum pc_authn_reason *reason, enum pc_authn_reason why)
{
    *reason = why;
    return why == PC_AUTHN_INTERNAL ? PC_ENOMEM : PC_EACCES;
}

/*
 * The base64url alphabet's values by byte, BASE64URL_BAD for every other byte. Decoding looks
 * each character up, without a branch: tls/jwk.c's decoder tests character ranges, which
 * mispredicts on most characters of a signature (they are random), and cost about 6 us of every
 * RS256 token the gateway verified, for a 342-character signature.
 */
#define BASE64URL_BAD 0xff

static unsigned char base64url_values[256];
static pthread_once_t base64url_once = PTHREAD_ONCE_INIT;

static void
init_base64url(void)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    memset(base64url_values, BASE64URL_BAD, sizeof(base64url_values));
    for (unsigned i = 0; i < 64; i++) {
        base64url_values[(unsigned char)alphabet[i]] = (unsigned char)i;
    }
}

/*
 * RFC 7515 section 2: base64url without padding, so '=', '+', '/' and blanks are refused; and
 * only the canonical encoding, as tls/jwk.c's decoder: the bits past the last whole byte must be
 * zero (else two spellings would decode to one value), and a lone trailing character, which
 * cannot hold a byte, is malformed. out has room for len / 4 * 3 + 2 bytes.
 */
static int
decode_base64url(const char *in, size_t len, unsigned char *out, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)in;
    const unsigned char *v = base64url_values;
    size_t whole = len / 4 * 4;
    size_t rest = len - whole;
    unsigned seen = 0;
    size_t o = 0;

    if (rest == 1) {
        return PC_EPARSE;
    }
    pthread_once(&base64url_once, init_base64url);
    for (size_t i = 0; i < whole; i += 4) {
        unsigned a = v[s[i]];
        unsigned b = v[s[i + 1]];
        unsigned c = v[s[i + 2]];
        unsigned d = v[s[i + 3]];
        uint32_t quantum = a << 18 | b << 12 | c << 6 | d;

        /* A bad character sets bit 7 in seen; what it wrote is never read. */
        seen |= a | b | c | d;
        out[o] = (unsigned char)(quantum >> 16);
        out[o + 1] = (unsigned char)(quantum >> 8);
        out[o + 2] = (unsigned char)quantum;
        o += 3;
    }
    if (rest >= 2) {
        unsigned a = v[s[whole]];
        unsigned b = v[s[whole + 1]];
        unsigned c = rest == 3 ? v[s[whole + 2]] : 0;
        unsigned left = rest == 3 ? c & 0x03 : b & 0x0f;

        seen |= a | b | c;
        if (left != 0) {
            return PC_EPARSE;
        }
        out[o++] = (unsigned char)(a << 2 | b >> 4);
        if (rest == 3) {
            out[o++] = (unsigned char)((b & 0x0f) << 4 | c >> 2);
        }
    }
    if ((seen & 0x80) != 0) {
        return PC_EPARSE;
    }
    *out_len = o;
    return 0;
}

/* Decodes one base64url segment into arena memory, NUL-terminated. */
static int
decode_segment(const char *s, size_t len, struct pc_arena *arena, const unsigned char **out,
               size_t *out_len, enum pc_authn_reason *reason)
{
    size_t cap = len / 4 * 3 + 2;
    unsigned char *buf = pc_arena_alloc(arena, cap + 1);

    if (buf == NULL) {
        return refuse(reason, PC_AUTHN_INTERNAL);
    }
    if (decode_base64url(s, len, buf, out_len) != 0) {
        return refuse(reason, PC_AUTHN_BAD_BASE64);
    }
    buf[*out_len] = '\0';
    *out = buf;
    return 0;
}

static void
release_json(void *data)
{
    json_decref(data);
}

/* Splits header.payload.signature; exactly two dots (RFC 7515 section 7.1). */
static int
split_token(const char *token, size_t len, const char *dots[2])
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if (token[i] == '.') {
            if (n == 2) {
                return PC_EPARSE;
            }
            dots[n++] = token + i;
        }
    }
    return n == 2 ? 0 : PC_EPARSE;
}

/* RFC 7515 section 4.1.1 and RFC 8725 sections 2.1 and 3.1: the alg decides nothing by itself. */
static enum pc_authn_reason
check_alg(const json_t *header, uint32_t algorithms, uint32_t *alg)
{
    const json_t *v = json_object_get(header, "alg");

    if (!json_is_string(v)) {
        return PC_AUTHN_MALFORMED;
    }
    if (strcasecmp(json_string_value(v), "none") == 0 && json_string_length(v) == 4) {
        return PC_AUTHN_ALG_NONE;
    }
    *alg = pc_jws_alg_parse(json_string_value(v), json_string_length(v));
    if (*alg == 0 || (*alg & algorithms) == 0) {
        return PC_AUTHN_ALG_NOT_ALLOWED;
    }
    return PC_AUTHN_OK;
}

static enum pc_authn_reason
check_header(const json_t *header, unsigned flags, struct pc_jws *out)
{
    const json_t *kid = json_object_get(header, "kid");
    const json_t *typ = json_object_get(header, "typ");

    /* RFC 7515 section 4.1.11: an extension we do not implement must refuse the token. */
    if (json_object_get(header, "crit") != NULL) {
        return PC_AUTHN_CRIT;
    }
    /*
     * RFC 8725 section 3.10: a key location chosen by the token is never fetched or trusted;
     * "x5c" and "x5t" are ignored rather than refused, as no key is ever taken from them.
     */
    if (json_object_get(header, "jku") != NULL || json_object_get(header, "x5u") != NULL
        || ((flags & PC_JWS_ALLOW_JWK_HEADER) == 0 && json_object_get(header, "jwk") != NULL)) {
        return PC_AUTHN_UNTRUSTED_KEY_HEADER;
    }
    if ((kid != NULL && !json_is_string(kid)) || (typ != NULL && !json_is_string(typ))) {
        return PC_AUTHN_MALFORMED;
    }
    out->kid = json_string_value(kid);
    out->kid_len = json_string_length(kid);
    out->typ = json_string_value(typ);
    return PC_AUTHN_OK;
}

static int
parse_header(const unsigned char *json, size_t len, uint32_t algorithms, unsigned flags,
             struct pc_arena *arena, struct pc_jws *out, enum pc_authn_reason *reason)
{
    json_t *header = pc_jws_json_object(json, len, reason);
    enum pc_authn_reason why;

    if (header == NULL) {
        return refuse(reason, *reason);
    }
    if (pc_arena_cleanup_add(arena, release_json, header) != 0) {
        json_decref(header);
        return refuse(reason, PC_AUTHN_INTERNAL);
    }
    out->header = header;
    why = check_alg(header, algorithms, &out->alg);
    if (why == PC_AUTHN_OK) {
        why = check_header(header, flags, out);
    }
    return why == PC_AUTHN_OK ? 0 : refuse(reason, why);
}

int
pc_jws_parse(const char *token, size_t len, uint32_t algorithms, size_t max_bytes, unsigned flags,
             struct pc_arena *arena, struct pc_jws *out, enum pc_authn_reason *reason)
{
    const char *dots[2];
    const unsigned char *header;
    size_t header_len;
    int rc;

    memset(out, 0, sizeof(*out));
    *reason = PC_AUTHN_OK;
    if (len > (max_bytes != 0 ? max_bytes : PC_JWS_DEFAULT_MAX_BYTES)) {
        return refuse(reason, PC_AUTHN_TOKEN_TOO_LARGE);
    }
    if (split_token(token, len, dots) != 0) {
        return refuse(reason, PC_AUTHN_MALFORMED);
    }
    rc = decode_segment(token, (size_t)(dots[0] - token), arena, &header, &header_len, reason);
    if (rc == 0) {
        rc = parse_header(header, header_len, algorithms, flags, arena, out, reason);
    }
    if (rc == 0) {
        rc = decode_segment(dots[0] + 1, (size_t)(dots[1] - dots[0] - 1), arena, &out->payload,
                            &out->payload_len, reason);
    }
    if (rc == 0) {
        rc = decode_segment(dots[1] + 1, (size_t)(token + len - dots[1] - 1), arena,
                            &out->signature, &out->signature_len, reason);
    }
    out->signing_input = token;
    out->signing_input_len = (size_t)(dots[1] - token);
    return rc;
}

/* Checks that the big-endian value v of size bytes lies in [1, order - 1]. */
static bool
is_in_range(const unsigned char *v, const unsigned char *order, size_t size)
{
    unsigned char any = 0;

    for (size_t i = 0; i < size; i++) {
        any |= v[i];
    }
    return any != 0 && memcmp(v, order, size) < 0;
}

/* Appends a DER INTEGER holding the positive big-endian value v (no leading zero bytes kept). */
static size_t
put_der_integer(unsigned char *out, const unsigned char *v, size_t size)
{
    size_t skip = 0;
    size_t n;

    while (skip < size - 1 && v[skip] == 0) {
        skip++;
    }
    n = size - skip;
    out[0] = 0x02;
    if ((v[skip] & 0x80) != 0) {
        out[1] = (unsigned char)(n + 1);
        out[2] = 0x00;
        memcpy(out + 3, v + skip, n);
        return n + 3;
    }
    out[1] = (unsigned char)n;
    memcpy(out + 2, v + skip, n);
    return n + 2;
}

/*
 * RFC 7518 section 3.4: JOSE sends R || S, each exactly the curve's size; OpenSSL verifies an
 * ECDSA-Sig-Value in DER. r and s are checked to be in [1, n-1] here first: a verifier that
 * skipped it would accept r = s = 0 for every message ("psychic signatures").
 */
static bool
ecdsa_to_der(const struct pc_jws *jws, const struct pc_jwks_key *key, unsigned char *der,
             size_t *der_len)
{
    size_t size = key->ec_size;
    const unsigned char *order = ec_orders[size == 32 ? 0 : size == 48 ? 1 : 2];
    const unsigned char *r = jws->signature;
    const unsigned char *s = jws->signature + size;
    unsigned char body[2 * (3 + EC_MAX_SIZE)];
    size_t n;

    if (jws->signature_len != 2 * size || !is_in_range(r, order, size)
        || !is_in_range(s, order, size)) {
        return false;
    }
    n = put_der_integer(body, r, size);
    n += put_der_integer(body + n, s, size);
    der[0] = 0x30;
    if (n < 0x80) {
        der[1] = (unsigned char)n;
        memcpy(der + 2, body, n);
        *der_len = n + 2;
    } else {
        der[1] = 0x81;
        der[2] = (unsigned char)n;
        memcpy(der + 3, body, n);
        *der_len = n + 3;
    }
    return true;
}

/*
 * The verifier: a few EVP_PKEY_CTX objects initialised for verification with one key, digest
 * and padding each. An EVP_PKEY_CTX holds a reference to its key, so a cached key pointer can
 * never be freed and reused for another key while its slot lives: the pointer is a safe
 * identity. Slots are replaced round-robin.
 */
#define VERIFIER_SLOTS 8

struct verifier_slot {
    const EVP_PKEY *pkey;
    uint32_t alg;
    EVP_PKEY_CTX *ctx;
};

struct pc_jws_verifier {
    struct verifier_slot slots[VERIFIER_SLOTS];
    size_t next;
};

struct pc_jws_verifier *
pc_jws_verifier_create(void)
{
    return pc_calloc(1, sizeof(struct pc_jws_verifier));
}

void
pc_jws_verifier_free(struct pc_jws_verifier *verifier)
{
    if (verifier == NULL) {
        return;
    }
    for (size_t i = 0; i < VERIFIER_SLOTS; i++) {
        EVP_PKEY_CTX_free(verifier->slots[i].ctx);
    }
    pc_free(verifier);
}

/* A context ready for EVP_PKEY_verify over a digest made with md (RFC 7518 3.3, 3.4, 3.5). */
static EVP_PKEY_CTX *
new_verify_ctx(EVP_PKEY *pkey, const EVP_MD *md, bool is_pss)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1 || EVP_PKEY_CTX_set_signature_md(ctx, md) != 1
        || (is_pss
            && (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1
                || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1
                || EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) != 1))) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static EVP_PKEY_CTX *
find_verify_ctx(struct pc_jws_verifier *verifier, EVP_PKEY *pkey, const struct alg_info *info)
{
    struct verifier_slot *slot;

    for (size_t i = 0; i < VERIFIER_SLOTS; i++) {
        slot = &verifier->slots[i];
        if (slot->ctx != NULL && slot->pkey == pkey && slot->alg == info->bit) {
            return slot->ctx;
        }
    }
    slot = &verifier->slots[verifier->next];
    verifier->next = (verifier->next + 1) % VERIFIER_SLOTS;
    EVP_PKEY_CTX_free(slot->ctx);
    slot->ctx = new_verify_ctx(pkey, digests[info->hash], info->is_pss);
    slot->pkey = pkey;
    slot->alg = info->bit;
    return slot->ctx;
}

/* Hashes the signing input and verifies with the verifier's cached context. */
static int
verify_cached(const struct pc_jws *jws, EVP_PKEY_CTX *ctx, const EVP_MD *md,
              const unsigned char *sig, size_t sig_len)
{
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    int rc;

    if (EVP_Digest(jws->signing_input, jws->signing_input_len, hash, &hash_len, md, NULL) != 1) {
        ERR_clear_error();
        return PC_ENOMEM;
    }
    rc = EVP_PKEY_verify(ctx, sig, sig_len, hash, hash_len) == 1 ? 0 : PC_EACCES;
    ERR_clear_error();
    return rc;
}

/* One EVP_DigestVerify with md (NULL for EdDSA, which hashes internally). */
static int
verify_digest(const struct pc_jws *jws, EVP_PKEY *pkey, const EVP_MD *md, bool is_pss,
              const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int rc = PC_ENOMEM;

    if (ctx == NULL || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey) != 1) {
        goto out;
    }
    /* RFC 7518 section 3.5: MGF1 with the same hash, salt as long as the hash output. */
    if (is_pss
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
        goto out;
    }
    rc = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)jws->signing_input,
                          jws->signing_input_len)
                 == 1
             ? 0
             : PC_EACCES;

out:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* RFC 7518 section 3.2: recompute the MAC and compare in constant time. */
static int
verify_hmac(const struct pc_jws *jws, const struct pc_jwks_key *key, const EVP_MD *md)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int rc;

    if (HMAC(md, key->secret, (int)key->secret_len, (const unsigned char *)jws->signing_input,
             jws->signing_input_len, mac, &mac_len)
        == NULL) {
        ERR_clear_error();
        return PC_ENOMEM;
    }
    rc = mac_len == jws->signature_len && CRYPTO_memcmp(mac, jws->signature, mac_len) == 0
             ? 0
             : PC_EACCES;
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}

/* RS*, PS* and ES*: through the verifier's cached context when there is one. */
static int
verify_hashed(const struct pc_jws *jws, EVP_PKEY *pkey, const struct alg_info *info,
              struct pc_jws_verifier *verifier, const unsigned char *sig, size_t sig_len)
{
    const EVP_MD *md = digests[info->hash];
    EVP_PKEY_CTX *ctx = verifier != NULL ? find_verify_ctx(verifier, pkey, info) : NULL;

    if (verifier != NULL && ctx == NULL) {
        ERR_clear_error();
        return PC_ENOMEM;
    }
    if (ctx != NULL) {
        return verify_cached(jws, ctx, md, sig, sig_len);
    }
    return verify_digest(jws, pkey, md, info->is_pss, sig, sig_len);
}

static int
verify_by_kind(const struct pc_jws *jws, const struct pc_jwks_key *key, const struct alg_info *info,
               struct pc_jws_verifier *verifier)
{
    unsigned char der[DER_SIG_MAX];
    size_t der_len = 0;

    switch (key->kty) {
    case PC_JWKS_KTY_OCT:
        return verify_hmac(jws, key, digests[info->hash]);
    case PC_JWKS_KTY_EC:
        if (!ecdsa_to_der(jws, key, der, &der_len)) {
            return PC_EACCES;
        }
        return verify_hashed(jws, key->pkey, info, verifier, der, der_len);
    case PC_JWKS_KTY_RSA:
        /* RFC 8017 section 8.2.2: the signature is exactly as long as the modulus. */
        if (jws->signature_len != (size_t)EVP_PKEY_get_size(key->pkey)) {
            return PC_EACCES;
        }
        return verify_hashed(jws, key->pkey, info, verifier, jws->signature, jws->signature_len);
    case PC_JWKS_KTY_OKP:
        /* EdDSA hashes internally; OpenSSL 3.0 verifies it only through EVP_DigestVerify. */
        return verify_digest(jws, key->pkey, NULL, false, jws->signature, jws->signature_len);
    }
    return PC_EACCES;
}

int
pc_jws_verify_signature(const struct pc_jws *jws, const struct pc_jwks_key *key,
                        struct pc_jws_verifier *verifier, enum pc_authn_reason *reason)
{
    const struct alg_info *info = find_alg(jws->alg);
    int rc;

    pthread_once(&crypto_once, init_crypto);
    if (!is_crypto_ready) {
        return refuse(reason, PC_AUTHN_INTERNAL);
    }
    if (info == NULL || !pc_jwks_key_fits(key, jws->alg)) {
        return refuse(reason, PC_AUTHN_KEY_ALG_MISMATCH);
    }
    rc = verify_by_kind(jws, key, info, verifier);
    if (rc != 0) {
        return refuse(reason, rc == PC_EACCES ? PC_AUTHN_BAD_SIGNATURE : PC_AUTHN_INTERNAL);
    }
    *reason = PC_AUTHN_OK;
    return 0;
}

/* Counts, over both sets, the keys with the token's kid and those of them fitting alg. */
static void
scan_kid(const struct pc_jwks *set, const struct pc_jws *jws, size_t *n_kid, size_t *n_fit,
         const struct pc_jwks_key **fit)
{
    for (size_t i = 0; i < pc_jwks_count(set); i++) {
        const struct pc_jwks_key *key = pc_jwks_key_at(set, i);

        if (key->kid == NULL || key->kid_len != jws->kid_len
            || memcmp(key->kid, jws->kid, jws->kid_len) != 0) {
            continue;
        }
        (*n_kid)++;
        if (pc_jwks_key_fits(key, jws->alg)) {
            (*n_fit)++;
            *fit = key;
        }
    }
}

static void
scan_fit(const struct pc_jwks *set, uint32_t alg, size_t *n_fit, const struct pc_jwks_key **fit)
{
    for (size_t i = 0; i < pc_jwks_count(set); i++) {
        const struct pc_jwks_key *key = pc_jwks_key_at(set, i);

        if (pc_jwks_key_fits(key, alg)) {
            (*n_fit)++;
            *fit = key;
        }
    }
}

/*
 * RFC 7515 section 4.1.4 and RFC 8725 section 3.1: the kid names the key, the key must fit the
 * alg, and exactly one candidate is tried. A kid is an opaque string: whatever it holds (a path,
 * SQL, a URL) is only ever compared byte for byte with the kids of the set.
 */
static enum pc_authn_reason
select_key(const struct pc_jws_options *opts, const struct pc_jws *jws,
           const struct pc_jwks_key **key)
{
    /* A caller may name one set as both sources (a provider whose only key is its secret): its
     * keys are candidates once, or the secret would always look ambiguous. */
    const struct pc_jwks *hmac_keys = opts->hmac_keys != opts->keys ? opts->hmac_keys : NULL;
    size_t n_kid = 0;
    size_t n_fit = 0;

    if (jws->kid != NULL) {
        scan_kid(opts->keys, jws, &n_kid, &n_fit, key);
        scan_kid(hmac_keys, jws, &n_kid, &n_fit, key);
        if (n_kid == 0) {
            return PC_AUTHN_KID_UNKNOWN;
        }
        return n_fit == 0  ? PC_AUTHN_KEY_ALG_MISMATCH
               : n_fit > 1 ? PC_AUTHN_KID_AMBIGUOUS
                           : PC_AUTHN_OK;
    }
    scan_fit(opts->keys, jws->alg, &n_fit, key);
    scan_fit(hmac_keys, jws->alg, &n_fit, key);
    return n_fit == 0 ? PC_AUTHN_NO_KEY : n_fit > 1 ? PC_AUTHN_KID_REQUIRED : PC_AUTHN_OK;
}

int
pc_jws_verify(const char *token, size_t len, const struct pc_jws_options *opts,
              struct pc_arena *arena, struct pc_jws *out, enum pc_authn_reason *reason)
{
    const struct pc_jwks_key *key = NULL;
    enum pc_authn_reason why;
    int rc;

    rc = pc_jws_parse(token, len, opts->algorithms, opts->max_bytes, 0, arena, out, reason);
    if (rc != 0) {
        return rc;
    }
    why = select_key(opts, out, &key);
    if (why != PC_AUTHN_OK) {
        return refuse(reason, why);
    }
    rc = pc_jws_verify_signature(out, key, opts->verifier, reason);
    if (rc == 0) {
        out->key = key;
    }
    return rc;
}
