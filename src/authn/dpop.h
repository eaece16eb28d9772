/*
 * DPoP proofs (RFC 9449): verification of the proof JWT a client sends in the DPoP header, its
 * binding to the request and to the access token, and the JWK SHA-256 thumbprint (RFC 7638) that
 * ties a token's cnf "jkt" to the proof's key.
 *
 * Here, unlike an access token, the key is in the proof by design ("jwk" header): the proof
 * shows possession of the private key whose thumbprint the token names. The module keeps no
 * state; the replay cache (one use per "jti" within the window) belongs to the caller, which
 * gets the jti back. Pure functions over caller memory and an arena; any thread.
 */
#ifndef PC_AUTHN_DPOP_H
#define PC_AUTHN_DPOP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "authn/reason.h"

struct pc_arena;

#define PC_DPOP_THUMBPRINT_BYTES 32 /* SHA-256 */

/* What a proof may be; borrowed for the call. */
struct pc_dpop_options {
    uint32_t algorithms;   /* PC_JWS_ALG_* bits; HS* are never accepted for a proof */
    size_t max_bytes;      /* proof size limit; 0: PC_JWS_DEFAULT_MAX_BYTES */
    uint32_t max_age_s;    /* iat may lie this far in the past ... */
    uint32_t clock_skew_s; /* ... and this far in the future */
};

/* The request the proof must match; slices borrowed for the call. */
struct pc_dpop_request {
    const char *method; /* "GET": compared case-sensitively with htm */
    size_t method_len;
    const char *uri; /* the absolute URI served: "https://api.example.com/v1/x?y" */
    size_t uri_len;
    const char *access_token; /* the token sent with the proof; NULL: none (ath not read) */
    size_t access_token_len;
    const char *jkt; /* the token's cnf "jkt" (NUL-terminated); NULL: not compared */
};

/* What a verified proof says. */
struct pc_dpop_proof {
    const char *jti; /* NUL-terminated, valid while the arena is: for the replay cache */
    size_t jti_len;
    int64_t iat;                                        /* rounded down */
    unsigned char thumbprint[PC_DPOP_THUMBPRINT_BYTES]; /* of the proof's key */
};

/*
 * Verifies the DPoP proof in the len bytes at proof (borrowed) for req at time now, following
 * RFC 9449 section 4.3: one compact JWS with typ "dpop+jwt", an asymmetric alg in
 * opts->algorithms, a public key without private members in "jwk" that fits the alg and verifies
 * the signature; claims jti, htm, htu and iat present; htm equal to the method; htu equal to the
 * request URI without query and fragment, both normalised (section 4.3 step 9: scheme and host
 * case, default ports, percent-encoding, dot segments); iat inside the window; ath equal to the
 * unpadded base64url SHA-256 of the access token when one is given; the key's thumbprint equal
 * to req->jkt when given. Returns 0 with *out filled (jti in arena-held memory), PC_EACCES with
 * *reason saying why the proof is refused, or PC_ENOMEM with PC_AUTHN_INTERNAL.
 */
int pc_dpop_verify(const char *proof, size_t len, const struct pc_dpop_options *opts,
                   const struct pc_dpop_request *req, int64_t now, struct pc_arena *arena,
                   struct pc_dpop_proof *out, enum pc_authn_reason *reason);

/*
 * Computes the RFC 7638 SHA-256 thumbprint of the public JWK object jwk (borrowed): the required
 * members of its kty ("EC": crv, kty, x, y; "RSA": e, kty, n; "OKP" per RFC 8037: crv, kty, x)
 * in that order, without whitespace. Returns 0 with out filled, PC_EPARSE when a member is
 * missing, not a string, or would need JSON escaping (no valid key needs it), PC_ENOTSUP for
 * another kty, or PC_ENOMEM.
 */
int pc_dpop_thumbprint(const json_t *jwk, unsigned char out[PC_DPOP_THUMBPRINT_BYTES]);

/*
 * Normalises an absolute http or https URI for comparison as RFC 9449 section 4.3 asks, using
 * RFC 3986 sections 6.2.2 and 6.2.3: query and fragment dropped; scheme and host lower-cased;
 * the default port (and an empty one) dropped; percent-encodings of unreserved characters
 * decoded and the rest upper-cased; dot segments removed; an empty path made "/". Writes at most
 * len + 1 bytes and a NUL to out (cap bytes). Returns the length written, or 0 for a URI that
 * is not absolute http(s), has userinfo, a bad port or a bad percent-encoding, or does not fit.
 */
size_t pc_dpop_normalize_uri(const char *uri, size_t len, char *out, size_t cap);

#endif
