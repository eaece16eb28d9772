/*
 * DPoP proof verification. The proof goes through jws.c's parser with the "jwk" header allowed
 * and HS* removed from the algorithm set, its key is built from that header (refusing private
 * members), and the claims are then matched against the request. The request URI and htu are
 * normalised into arena buffers before they are compared.
 */
#include "authn/dpop.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "authn/jwks.h"
#include "authn/jws.h"
#include "authn/jwt.h"
#include "core/arena.h"
#include "core/err.h"
#include "tls/jwk.h"

/* --- htu normalisation (RFC 3986 sections 6.2.2 and 6.2.3) --- */

static bool
is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '.' || c == '_' || c == '~';
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (unsigned char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Section 6.2.2.2: decode what needs no encoding, upper-case the hex digits of the rest. */
static size_t
normalize_percent(const char *in, size_t len, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        int hi;
        int lo;

        if (in[i] != '%') {
            out[n++] = in[i];
            continue;
        }
        hi = i + 2 < len ? hex_value((unsigned char)in[i + 1]) : -1;
        lo = i + 2 < len ? hex_value((unsigned char)in[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            return SIZE_MAX;
        }
        if (is_unreserved((unsigned char)(hi * 16 + lo))) {
            out[n++] = (char)(hi * 16 + lo);
        } else {
            out[n++] = '%';
            out[n++] = hex[hi];
            out[n++] = hex[lo];
        }
        i += 2;
    }
    return n;
}

/* Writes a '/' at w when the segment just consumed was the last one; returns the new w. */
static size_t
end_directory(char *p, size_t w, bool is_last)
{
    if (is_last) {
        p[w++] = '/';
    }
    return w;
}

/*
 * Section 5.2.4, in place over p[0, len) (a path starting with '/'): "." segments vanish, ".."
 * removes the segment before it, and a final "." or ".." leaves a trailing '/'. The write
 * position never passes the read position, so one buffer serves both.
 */
static size_t
remove_dot_segments(char *p, size_t len)
{
    size_t r = 0;
    size_t w = 0;

    while (r < len) {
        const char *next = memchr(p + r + 1, '/', len - r - 1);
        size_t seg_len = (next != NULL ? (size_t)(next - p) : len) - r - 1;
        bool is_last = next == NULL;

        if (seg_len == 1 && p[r + 1] == '.') {
            w = end_directory(p, w, is_last);
        } else if (seg_len == 2 && p[r + 1] == '.' && p[r + 2] == '.') {
            while (w > 0 && p[--w] != '/') {
            }
            w = end_directory(p, w, is_last);
        } else {
            memmove(p + w, p + r, seg_len + 1);
            w += seg_len + 1;
        }
        r += seg_len + 1;
    }
    return w == 0 ? end_directory(p, 0, true) : w;
}

/* Returns the length of the host in the authority a (an IPv6 literal keeps its brackets). */
static size_t
host_length(const char *a, size_t len)
{
    const char *close;
    const char *colon;

    if (len > 0 && a[0] == '[') {
        close = memchr(a, ']', len);
        return close != NULL ? (size_t)(close - a) + 1 : SIZE_MAX;
    }
    colon = memchr(a, ':', len);
    return colon != NULL ? (size_t)(colon - a) : len;
}

/* Reads the port after the host: "" or ":" give 0 (none), else a number up to 65535. */
static bool
parse_port(const char *s, size_t len, unsigned long *port)
{
    *port = 0;
    if (len == 0) {
        return true;
    }
    if (s[0] != ':') {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        *port = *port * 10 + (unsigned long)(s[i] - '0');
        if (*port > 65535) {
            return false;
        }
    }
    return true;
}

/* Lower-cases the host and writes the port only when it is not the scheme's default. */
static size_t
normalize_authority(const char *a, size_t len, unsigned long default_port, char *out)
{
    size_t host_len = host_length(a, len);
    unsigned long port;
    size_t n = 0;

    if (host_len == 0 || host_len > len || memchr(a, '@', len) != NULL
        || !parse_port(a + host_len, len - host_len, &port)) {
        return SIZE_MAX;
    }
    for (size_t i = 0; i < host_len; i++) {
        out[n++] = (a[i] >= 'A' && a[i] <= 'Z') ? (char)(a[i] | 0x20) : a[i];
    }
    if (port != 0 && port != default_port) {
        n += (size_t)sprintf(out + n, ":%lu", port);
    }
    return n;
}

/* The length of uri before any query or fragment; a NUL byte makes the URI unusable. */
static size_t
cut_query(const char *uri, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (uri[i] == '?' || uri[i] == '#') {
            return i;
        }
        if (uri[i] == '\0') {
            return SIZE_MAX;
        }
    }
    return len;
}

size_t
pc_dpop_normalize_uri(const char *uri, size_t len, char *out, size_t cap)
{
    size_t end = cut_query(uri, len);
    bool is_https = end != SIZE_MAX && end >= 8 && strncasecmp(uri, "https://", 8) == 0;
    bool is_http = end != SIZE_MAX && end >= 7 && strncasecmp(uri, "http://", 7) == 0;
    size_t start = is_https ? 8 : 7;
    const char *slash;
    size_t authority_len;
    size_t n;
    size_t part;

    /* The output is never longer than the input plus a '/' for an empty path, and the NUL. */
    if ((!is_https && !is_http) || cap < end + 2) {
        return 0;
    }
    slash = memchr(uri + start, '/', end - start);
    authority_len = (slash != NULL ? (size_t)(slash - uri) : end) - start;
    memcpy(out, is_https ? "https://" : "http://", start);
    part = normalize_authority(uri + start, authority_len, is_https ? 443 : 80, out + start);
    if (part == SIZE_MAX) {
        return 0;
    }
    n = start + part;
    part = normalize_percent(uri + start + authority_len, end - start - authority_len, out + n);
    if (part == SIZE_MAX) {
        return 0;
    }
    n += part == 0 ? end_directory(out + n, 0, true) : remove_dot_segments(out + n, part);
    out[n] = '\0';
    return n;
}

/* --- RFC 7638 thumbprint --- */

/* A member value goes into the hash input verbatim: only if JSON would not escape it. */
static bool
is_plain_json_string(const json_t *v)
{
    const char *s = json_string_value(v);

    if (s == NULL) {
        return false;
    }
    for (size_t i = 0; i < json_string_length(v); i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            return false;
        }
    }
    return true;
}

/* The required members of each key type, already in lexicographic order (section 3.2). */
static const char *const *
thumbprint_members(const char *kty)
{
    static const char *const ec[] = { "crv", "kty", "x", "y", NULL };
    static const char *const rsa[] = { "e", "kty", "n", NULL };
    static const char *const okp[] = { "crv", "kty", "x", NULL };

    if (kty == NULL) {
        return NULL;
    }
    if (strcmp(kty, "EC") == 0) {
        return ec;
    }
    if (strcmp(kty, "RSA") == 0) {
        return rsa;
    }
    return strcmp(kty, "OKP") == 0 ? okp : NULL;
}

/* Feeds {"m1":"v1","m2":"v2",...} to the digest, piece by piece, so nothing is copied. */
static int
hash_members(EVP_MD_CTX *ctx, const json_t *jwk, const char *const *members)
{
    int ok = EVP_DigestUpdate(ctx, "{", 1);

    for (size_t i = 0; ok == 1 && members[i] != NULL; i++) {
        const json_t *v = json_object_get(jwk, members[i]);

        if (!is_plain_json_string(v)) {
            return PC_EPARSE;
        }
        ok = EVP_DigestUpdate(ctx, i == 0 ? "\"" : ",\"", i == 0 ? 1 : 2) == 1
             && EVP_DigestUpdate(ctx, members[i], strlen(members[i])) == 1
             && EVP_DigestUpdate(ctx, "\":\"", 3) == 1
             && EVP_DigestUpdate(ctx, json_string_value(v), json_string_length(v)) == 1
             && EVP_DigestUpdate(ctx, "\"", 1) == 1;
    }
    return ok == 1 && EVP_DigestUpdate(ctx, "}", 1) == 1 ? 0 : PC_ENOMEM;
}

int
pc_dpop_thumbprint(const json_t *jwk, unsigned char out[PC_DPOP_THUMBPRINT_BYTES])
{
    const char *const *members = thumbprint_members(json_string_value(json_object_get(jwk, "kty")));
    EVP_MD_CTX *ctx = NULL;
    unsigned int len = 0;
    int rc;

    if (members == NULL) {
        return PC_ENOTSUP;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = PC_ENOMEM;
        goto out;
    }
    rc = hash_members(ctx, jwk, members);
    if (rc == 0 && EVP_DigestFinal_ex(ctx, out, &len) != 1) {
        rc = PC_ENOMEM;
    }

out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* --- proof verification --- */

static int
refuse(enum pc_authn_reason *reason, enum pc_authn_reason why)
{
    *reason = why;
    return why == PC_AUTHN_INTERNAL ? PC_ENOMEM : PC_EACCES;
}

/* Section 4.3 steps 5 to 7: the key is the proof's own, public, and fits the alg. */
static enum pc_authn_reason
load_proof_key(const struct pc_jws *jws, struct pc_jwks_key *key)
{
    const json_t *jwk = json_object_get(jws->header, "jwk");
    int rc;

    if (!json_is_object(jwk)) {
        return PC_AUTHN_DPOP_BAD_KEY;
    }
    rc = pc_jwks_key_from_jwk(jwk, key, NULL);
    if (rc == PC_EACCES) {
        return PC_AUTHN_DPOP_PRIVATE_KEY;
    }
    if (rc == PC_ENOMEM) {
        return PC_AUTHN_INTERNAL;
    }
    if (rc != 0) {
        return PC_AUTHN_DPOP_BAD_KEY;
    }
    return pc_jwks_key_fits(key, jws->alg) ? PC_AUTHN_OK : PC_AUTHN_KEY_ALG_MISMATCH;
}

/* A claim that must be a string: absent and mistyped are told apart. */
static enum pc_authn_reason
get_string(const json_t *claims, const char *name, const json_t **out)
{
    *out = json_object_get(claims, name);
    if (*out == NULL) {
        return PC_AUTHN_MISSING_CLAIM;
    }
    return json_is_string(*out) ? PC_AUTHN_OK : PC_AUTHN_BAD_CLAIM;
}

static bool
is_same_uri(const char *a, size_t a_len, const char *b, size_t b_len, struct pc_arena *arena)
{
    char *na = pc_arena_alloc(arena, a_len + 2);
    char *nb = pc_arena_alloc(arena, b_len + 2);
    size_t na_len = na != NULL ? pc_dpop_normalize_uri(a, a_len, na, a_len + 2) : 0;
    size_t nb_len = nb != NULL ? pc_dpop_normalize_uri(b, b_len, nb, b_len + 2) : 0;

    return na_len != 0 && na_len == nb_len && memcmp(na, nb, na_len) == 0;
}

/* Section 4.3 steps 8 and 9: htm is compared exactly (methods are case-sensitive). */
static enum pc_authn_reason
check_request(const json_t *claims, const struct pc_dpop_request *req, struct pc_arena *arena)
{
    const json_t *htm;
    const json_t *htu;
    enum pc_authn_reason why = get_string(claims, "htm", &htm);

    if (why == PC_AUTHN_OK) {
        why = get_string(claims, "htu", &htu);
    }
    if (why != PC_AUTHN_OK) {
        return why;
    }
    if (json_string_length(htm) != req->method_len
        || memcmp(json_string_value(htm), req->method, req->method_len) != 0) {
        return PC_AUTHN_DPOP_WRONG_HTM;
    }
    if (!is_same_uri(json_string_value(htu), json_string_length(htu), req->uri, req->uri_len,
                     arena)) {
        return PC_AUTHN_DPOP_WRONG_HTU;
    }
    return PC_AUTHN_OK;
}

/* Section 4.3 step 11 and section 11.1: a proof is only good for a short window around now. */
static enum pc_authn_reason
check_iat(const json_t *claims, const struct pc_dpop_options *opts, int64_t now, int64_t *iat)
{
    const json_t *v = json_object_get(claims, "iat");
    double t;

    if (v == NULL) {
        return PC_AUTHN_MISSING_CLAIM;
    }
    if (!json_is_number(v)) {
        return PC_AUTHN_BAD_CLAIM;
    }
    t = json_number_value(v);
    if (t < (double)now - (double)opts->max_age_s || t > (double)now + (double)opts->clock_skew_s) {
        return PC_AUTHN_DPOP_STALE;
    }
    *iat = (int64_t)floor(t);
    return PC_AUTHN_OK;
}

/* Compares the strict base64url value of s with the 32 bytes at want, in constant time. */
static bool
is_same_hash(const char *s, size_t len, const unsigned char want[32])
{
    unsigned char got[32];
    size_t got_len = 0;

    return pc_jwk_base64_decode_to(s, len, true, got, sizeof(got), &got_len) == 0
           && got_len == sizeof(got) && CRYPTO_memcmp(got, want, sizeof(got)) == 0;
}

/* Section 4.3 step 12: ath is the hash of the very token presented with the proof. */
static enum pc_authn_reason
check_ath(const json_t *claims, const struct pc_dpop_request *req)
{
    const json_t *ath = json_object_get(claims, "ath");
    unsigned char hash[32];

    if (req->access_token == NULL) {
        return PC_AUTHN_OK;
    }
    if (!json_is_string(ath)) {
        return PC_AUTHN_DPOP_WRONG_ATH;
    }
    if (EVP_Digest(req->access_token, req->access_token_len, hash, NULL, EVP_sha256(), NULL) != 1) {
        return PC_AUTHN_INTERNAL;
    }
    return is_same_hash(json_string_value(ath), json_string_length(ath), hash)
               ? PC_AUTHN_OK
               : PC_AUTHN_DPOP_WRONG_ATH;
}

static enum pc_authn_reason
check_claims(const json_t *claims, const struct pc_dpop_options *opts,
             const struct pc_dpop_request *req, int64_t now, struct pc_arena *arena,
             struct pc_dpop_proof *out)
{
    const json_t *jti;
    enum pc_authn_reason why = get_string(claims, "jti", &jti);

    if (why == PC_AUTHN_OK && json_string_length(jti) == 0) {
        why = PC_AUTHN_MISSING_CLAIM;
    }
    if (why == PC_AUTHN_OK) {
        why = check_request(claims, req, arena);
    }
    if (why == PC_AUTHN_OK) {
        why = check_iat(claims, opts, now, &out->iat);
    }
    if (why == PC_AUTHN_OK) {
        why = check_ath(claims, req);
    }
    out->jti = json_string_value(jti);
    out->jti_len = json_string_length(jti);
    return why;
}

static void
release_json(void *data)
{
    json_decref(data);
}

/* Signature, then claims; the claims object stays with the arena so that jti remains valid. */
static enum pc_authn_reason
verify_proof(const struct pc_jws *jws, const struct pc_jwks_key *key,
             const struct pc_dpop_options *opts, const struct pc_dpop_request *req, int64_t now,
             struct pc_arena *arena, struct pc_dpop_proof *out)
{
    enum pc_authn_reason why;
    json_t *claims;

    if (pc_jws_verify_signature(jws, key, NULL, &why) != 0) {
        return why;
    }
    claims = pc_jws_json_object(jws->payload, jws->payload_len, &why);
    if (claims == NULL) {
        return why;
    }
    if (pc_arena_cleanup_add(arena, release_json, claims) != 0) {
        json_decref(claims);
        return PC_AUTHN_INTERNAL;
    }
    why = check_claims(claims, opts, req, now, arena, out);
    if (why != PC_AUTHN_OK) {
        return why;
    }
    if (pc_dpop_thumbprint(json_object_get(jws->header, "jwk"), out->thumbprint) != 0) {
        return PC_AUTHN_DPOP_BAD_KEY;
    }
    /* Section 6.1 and step 12: the token's cnf "jkt" must name this very key. */
    if (req->jkt != NULL && !is_same_hash(req->jkt, strlen(req->jkt), out->thumbprint)) {
        return PC_AUTHN_DPOP_WRONG_JKT;
    }
    return PC_AUTHN_OK;
}

int
pc_dpop_verify(const char *proof, size_t len, const struct pc_dpop_options *opts,
               const struct pc_dpop_request *req, int64_t now, struct pc_arena *arena,
               struct pc_dpop_proof *out, enum pc_authn_reason *reason)
{
    struct pc_jwks_key key = { 0 };
    struct pc_jws jws;
    enum pc_authn_reason why;
    int rc;

    memset(out, 0, sizeof(*out));
    /* Section 4.3 step 5: a proof is signed with an asymmetric key, never a shared secret. */
    rc = pc_jws_parse(proof, len, opts->algorithms & PC_JWS_ALG_ASYMMETRIC, opts->max_bytes,
                      PC_JWS_ALLOW_JWK_HEADER, arena, &jws, reason);
    if (rc != 0) {
        return rc;
    }
    if (!pc_jwt_typ_matches(jws.typ, "dpop+jwt")) {
        return refuse(reason, PC_AUTHN_WRONG_TYP);
    }
    why = load_proof_key(&jws, &key);
    if (why == PC_AUTHN_OK) {
        why = verify_proof(&jws, &key, opts, req, now, arena, out);
    }
    pc_jwks_key_clear(&key);
    if (why != PC_AUTHN_OK) {
        memset(out, 0, sizeof(*out));
        return refuse(reason, why);
    }
    *reason = PC_AUTHN_OK;
    return 0;
}
