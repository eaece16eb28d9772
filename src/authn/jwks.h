/*
 * Key sets for JWS verification: the public keys of a JWK Set document (RFC 7517 section 5), a
 * configured HMAC secret, or keys handed over by another module (a SPIFFE trust bundle's
 * JWT-SVID keys).
 *
 * A set is built once, on the thread that loads configuration or refreshes the JWKS, and is
 * immutable afterwards: reference counted with atomics, read by every worker without locks.
 * Each key carries its EVP_PKEY, built when the set is made, so verification never parses a key.
 * HMAC keys come only from pc_jwks_from_secret: a JWK Set holding a symmetric key (or any
 * private member) is refused, since a public document can never hold a secret.
 */
#ifndef PC_AUTHN_JWKS_H
#define PC_AUTHN_JWKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "authn/jws.h"

struct pc_err;

#define PC_JWKS_MAX_BYTES (1024u * 1024) /* a larger document is refused unread */
#define PC_JWKS_MAX_KEYS  256            /* entries in "keys", ignored ones included */

/* HMAC secrets must be at least as long as the hash output (RFC 7518 section 3.2). */
#define PC_JWKS_MIN_SECRET_BYTES 32

enum pc_jwks_kty {
    PC_JWKS_KTY_RSA = 1,
    PC_JWKS_KTY_EC,
    PC_JWKS_KTY_OKP,
    PC_JWKS_KTY_OCT,
};

/*
 * One verification key. The layout is public so that a DPoP proof's key can live on the stack
 * (pc_jwks_key_from_jwk); callers only read it. Keys inside a set belong to the set.
 */
struct pc_jwks_key {
    char *kid; /* NUL-terminated; NULL when the JWK has none */
    size_t kid_len;
    enum pc_jwks_kty kty;
    uint32_t alg;          /* the JWK's own "alg" as a PC_JWS_ALG_* bit; 0 when it names none */
    uint32_t fits;         /* the PC_JWS_ALG_* bits this key may verify (pc_jwks_key_fits) */
    size_t ec_size;        /* EC: bytes per coordinate (32, 48, 66); 0 otherwise */
    EVP_PKEY *pkey;        /* public key; NULL for oct; shared read-only between threads */
    unsigned char *secret; /* oct only; wiped when the set is released */
    size_t secret_len;
};

/* A key handed over already built, for pc_jwks_from_pkeys. */
struct pc_jwks_pkey {
    const char *kid; /* may be NULL */
    const char *alg; /* the key's "alg" name, NULL when none */
    EVP_PKEY *pkey;  /* public key */
};

struct pc_jwks;

/*
 * Parses a JWK Set document (the len bytes at json, borrowed for the call). Refused whole, with
 * err (may be NULL) saying why: more than PC_JWKS_MAX_BYTES (PC_ELIMIT), JSON that is not an
 * object with a "keys" array or that repeats a member name (PC_EPARSE), more than
 * PC_JWKS_MAX_KEYS entries (PC_ELIMIT), an entry that is not an object or whose "kid", "alg",
 * "use" or "key_ops" has the wrong type (PC_EPARSE), any entry with private or symmetric key
 * members (PC_EPARSE), PC_ENOMEM. Ignored, as RFC 7517 section 5 asks: entries whose "use" is
 * not "sig" or whose "key_ops" lacks "verify", unknown key types and curves, entries without
 * key members, and keys that do not decode or are too weak (RSA below 2048 bits);
 * pc_jwks_ignored says how many. Keys that remain are RSA, EC P-256/P-384/P-521, Ed25519 and
 * Ed448. Returns the set (one reference, owned by the caller: pc_jwks_unref) or NULL.
 */
struct pc_jwks *pc_jwks_parse(const char *json, size_t len, struct pc_err *err);

/*
 * Makes a set of one HMAC key from len bytes of secret (copied; the caller keeps and wipes its
 * own), with kid (NUL-terminated, copied; NULL: none). The key fits HS256, and HS384 / HS512
 * when it is at least 48 / 64 bytes long. Returns the set (one reference, owned by the caller)
 * or NULL with err: PC_EINVAL for a secret shorter than PC_JWKS_MIN_SECRET_BYTES, PC_ENOMEM.
 */
struct pc_jwks *pc_jwks_from_secret(const void *secret, size_t len, const char *kid,
                                    struct pc_err *err);

/*
 * Makes a set from n keys already built (a trust bundle's JWT-SVID keys): kid and alg are
 * copied, each EVP_PKEY is up-referenced (the caller keeps its own reference). Keys of a type
 * or size pc_jwks_parse would ignore are ignored here too. Returns the set (one reference,
 * owned by the caller) or NULL with err: PC_EINVAL, PC_ELIMIT past PC_JWKS_MAX_KEYS, PC_ENOMEM.
 */
struct pc_jwks *pc_jwks_from_pkeys(const struct pc_jwks_pkey *keys, size_t n, struct pc_err *err);

/* Takes one more reference to set and returns it. Any thread. */
struct pc_jwks *pc_jwks_ref(struct pc_jwks *set);

/* Drops one reference; the last one releases the set, wiping secrets. Accepts NULL. */
void pc_jwks_unref(struct pc_jwks *set);

/* The number of usable keys, and of entries the document held that were ignored. */
size_t pc_jwks_count(const struct pc_jwks *set);
size_t pc_jwks_ignored(const struct pc_jwks *set);

/* Returns key i (i < pc_jwks_count), borrowed from the set. */
const struct pc_jwks_key *pc_jwks_key_at(const struct pc_jwks *set, size_t i);

/*
 * Returns the first key whose kid is the kid_len bytes at kid (compared byte for byte; nothing
 * in a kid is interpreted), or NULL. Borrowed from the set. set may be NULL.
 */
const struct pc_jwks_key *pc_jwks_find(const struct pc_jwks *set, const char *kid, size_t kid_len);

/*
 * Whether key may verify alg (one PC_JWS_ALG_* bit): RS* and PS* need an RSA key, ES256 P-256,
 * ES384 P-384, ES512 P-521, EdDSA an OKP key, HS* an HMAC secret long enough; a key that names
 * its own "alg" fits that alg only (RFC 7517 section 4.4, RFC 8725 section 3.1).
 */
bool pc_jwks_key_fits(const struct pc_jwks_key *key, uint32_t alg);

/*
 * Whether the JWK object jwk (borrowed) holds private or symmetric key members ("d", "p", "q",
 * "dp", "dq", "qi", "oth", "k").
 */
bool pc_jwks_has_private_members(const json_t *jwk);

/*
 * Builds a standalone key from one public JWK object (borrowed; a DPoP proof's "jwk" header):
 * the kinds pc_jwks_parse keeps, with "kid" and "alg" honoured as there. Returns 0 with *key
 * filled (owned by the caller: pc_jwks_key_clear), PC_EACCES for private members, PC_ENOTSUP
 * for a key of another kind, PC_EPARSE for a malformed one, or PC_ENOMEM; err (may be NULL)
 * says why.
 */
int pc_jwks_key_from_jwk(const json_t *jwk, struct pc_jwks_key *key, struct pc_err *err);

/* Releases what pc_jwks_key_from_jwk filled in and zeroes *key; accepts NULL and a zeroed key. */
void pc_jwks_key_clear(struct pc_jwks_key *key);

#endif
