/*
 * JSON Web Signature verification, compact serialization only (RFC 7515 section 7.1), with the
 * algorithms of RFC 7518 section 3 and EdDSA (RFC 8037): RS*, PS*, ES*, EdDSA and, with a
 * configured secret, HS*.
 *
 * The module owns the parsing and the refusal rules; keys come from a key set (jwks.h) the
 * caller holds, and what the payload means is jwt.h's business. It is strict by design: the
 * token size is bounded before anything is read; every segment must be unpadded base64url; the
 * header must be a JSON object without repeated members; "none" (any letter case) and any alg
 * outside the caller's set are refused, so are "crit" (no extension is implemented, RFC 7515
 * section 4.1.11) and the headers that point at a key of the token's own choosing ("jku",
 * "x5u", "jwk": RFC 8725 section 3.10). "x5c", "x5t" and "x5t#S256" are ignored: a key is never
 * taken from them, so a token carrying an attacker's certificate fails its signature check.
 * Every refusal has a stable reason (reason.h).
 *
 * Pure functions over caller memory and an arena; any thread. Keys are shared, read-only
 * EVP_PKEY objects; no key is parsed per verification, and a per-thread verifier keeps OpenSSL
 * contexts ready between calls.
 */
#ifndef PC_AUTHN_JWS_H
#define PC_AUTHN_JWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "authn/reason.h"

struct pc_arena;
struct pc_jwks;
struct pc_jwks_key;

/*
 * JWS algorithms as bits of a set. The values and order equal src/config's enum pc_jwt_alg, so
 * a configured set maps one to one. "none" has no bit: it is never accepted.
 */
enum pc_jws_alg {
    PC_JWS_ALG_RS256 = 1u << 0,
    PC_JWS_ALG_RS384 = 1u << 1,
    PC_JWS_ALG_RS512 = 1u << 2,
    PC_JWS_ALG_PS256 = 1u << 3,
    PC_JWS_ALG_PS384 = 1u << 4,
    PC_JWS_ALG_PS512 = 1u << 5,
    PC_JWS_ALG_ES256 = 1u << 6,
    PC_JWS_ALG_ES384 = 1u << 7,
    PC_JWS_ALG_ES512 = 1u << 8,
    PC_JWS_ALG_EDDSA = 1u << 9,
    PC_JWS_ALG_HS256 = 1u << 10,
    PC_JWS_ALG_HS384 = 1u << 11,
    PC_JWS_ALG_HS512 = 1u << 12,
};

#define PC_JWS_ALG_RSA        0x003fu /* RS* and PS* */
#define PC_JWS_ALG_ASYMMETRIC 0x03ffu /* everything but HS* */
#define PC_JWS_ALG_HMAC       0x1c00u /* HS* */

/* The token size limit when the caller sets none. */
#define PC_JWS_DEFAULT_MAX_BYTES 8192

/* Flags for pc_jws_parse. */
#define PC_JWS_ALLOW_JWK_HEADER 0x1u /* DPoP proofs carry their key in "jwk" (RFC 9449 4.2) */

/*
 * Returns the PC_JWS_ALG_* bit named by the len bytes at name ("RS256", case-sensitive as RFC
 * 7515 section 4.1.1 requires), or 0 for a name this module does not implement.
 */
uint32_t pc_jws_alg_parse(const char *name, size_t len);

/* Returns the static name of one PC_JWS_ALG_* bit, or NULL when alg is not exactly one bit. */
const char *pc_jws_alg_name(uint32_t alg);

struct pc_jws_verifier;

/* What a verification accepts. */
struct pc_jws_options {
    uint32_t algorithms;              /* PC_JWS_ALG_* bits; an empty set refuses everything */
    size_t max_bytes;                 /* token size limit; 0: PC_JWS_DEFAULT_MAX_BYTES */
    const struct pc_jwks *keys;       /* asymmetric keys (borrowed); NULL: none */
    const struct pc_jwks *hmac_keys;  /* the configured secret (borrowed); NULL: HS* refused */
    struct pc_jws_verifier *verifier; /* this thread's context cache (borrowed); may be NULL */
};

/*
 * A cache of ready OpenSSL verification contexts, one per recently used (key, alg), so that a
 * worker verifying RS*, PS* and ES* tokens skips OpenSSL 3's per-call context setup (the
 * provider and algorithm lookups of EVP_DigestVerifyInit, about a fifth of an RSA-2048 verify).
 * Owned by one thread (a worker) and never shared; it holds a reference to each cached key, so
 * a replaced key set's keys are released when their entries are evicted (a few at most) or the
 * verifier is freed. Returns NULL when out of memory.
 */
struct pc_jws_verifier *pc_jws_verifier_create(void);

/* Releases the verifier and its contexts; accepts NULL. */
void pc_jws_verifier_free(struct pc_jws_verifier *verifier);

/*
 * A parsed compact JWS. Slices point into the token, decoded bytes into the arena; everything
 * stays valid while both do. Read-only for callers.
 */
struct pc_jws {
    uint32_t alg;    /* one PC_JWS_ALG_* bit */
    json_t *header;  /* the protected header; the arena holds the reference */
    const char *kid; /* header "kid" (in header), NULL when absent */
    size_t kid_len;
    const char *typ;           /* header "typ" (in header), NULL when absent */
    const char *signing_input; /* "<header>.<payload>" as sent (slice of the token) */
    size_t signing_input_len;
    const unsigned char *payload; /* decoded payload (arena), NUL-terminated for convenience */
    size_t payload_len;
    const unsigned char *signature; /* decoded signature (arena) */
    size_t signature_len;
    const struct pc_jwks_key *key; /* set by pc_jws_verify: the key that verified it */
};

/*
 * Parses the len bytes at token (borrowed; must outlive out) and checks everything that needs no
 * key: size (max_bytes, 0 for the default), three segments, strict base64url, the header (a
 * JSON object without repeated members), alg in algorithms, no "crit", no "jku"/"x5u", and no
 * "jwk" unless flags holds PC_JWS_ALLOW_JWK_HEADER; "kid" and "typ" must be strings when
 * present. The signature is not verified. Returns 0 with *out filled (decoded parts and a header
 * reference in arena, released when it is reset), PC_EACCES with *reason saying why the token
 * is refused, or PC_ENOMEM with *reason PC_AUTHN_INTERNAL.
 */
int pc_jws_parse(const char *token, size_t len, uint32_t algorithms, size_t max_bytes,
                 unsigned flags, struct pc_arena *arena, struct pc_jws *out,
                 enum pc_authn_reason *reason);

/*
 * Verifies jws's signature with key (borrowed), which must fit jws->alg (pc_jwks_key_fits);
 * ECDSA values are checked to lie in [1, n-1] before OpenSSL sees them. verifier (this thread's,
 * may be NULL) supplies cached contexts for RS*, PS* and ES*. Returns 0, PC_EACCES with *reason
 * PC_AUTHN_BAD_SIGNATURE or PC_AUTHN_KEY_ALG_MISMATCH, or PC_ENOMEM with PC_AUTHN_INTERNAL.
 * Allocates nothing but what OpenSSL allocates.
 */
int pc_jws_verify_signature(const struct pc_jws *jws, const struct pc_jwks_key *key,
                            struct pc_jws_verifier *verifier, enum pc_authn_reason *reason);

/*
 * Parses and verifies a compact JWS against the caller's keys. The key is chosen by kid: with a
 * kid, the one key of opts->keys or opts->hmac_keys with that kid that fits the alg; without, the
 * one key that fits it. Only one key is ever tried. Returns 0 with *out filled as by
 * pc_jws_parse and out->key set (borrowed from the key set, which the caller keeps alive), or
 * PC_EACCES / PC_ENOMEM with *reason set.
 */
int pc_jws_verify(const char *token, size_t len, const struct pc_jws_options *opts,
                  struct pc_arena *arena, struct pc_jws *out, enum pc_authn_reason *reason);

/*
 * Reads a JSON object from the len bytes at json (borrowed) as JOSE requires: strict UTF-8, no
 * repeated member names. Returns the object (a new reference, owned by the caller) or NULL with
 * *reason PC_AUTHN_BAD_JSON, PC_AUTHN_DUPLICATE_KEY or PC_AUTHN_INTERNAL.
 */
json_t *pc_jws_json_object(const unsigned char *json, size_t len, enum pc_authn_reason *reason);

#endif
