/*
 * JSON Web Token validation (RFC 7519) for access tokens (RFC 9068) and SPIFFE JWT-SVIDs: the
 * signature through jws.h, then the claims, then the principal (principal.h).
 *
 * What is checked, in order: the JWS (jws.h); the "typ" header against the expected type; the
 * payload as a JSON object without repeated claims; "exp" (required), "nbf" and "iat" against
 * the caller's clock with a configured skew; "iss"; "aud"; the SPIFFE rules when a trust domain
 * is configured; the required claims. Time is always passed in, so tests and the gateway's
 * cached clock decide what "now" is. Pure functions over caller memory and an arena; any
 * thread; nothing is logged (the reason is returned for the caller to count and log).
 */
#ifndef PC_AUTHN_JWT_H
#define PC_AUTHN_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "authn/jws.h"
#include "authn/reason.h"

struct pc_arena;
struct pc_principal;

/* A claim named by a dotted path that must be present and, when values are given, hold one. */
struct pc_jwt_claim_rule {
    const char *path;
    const char *const *values; /* accepted values; n_values 0: presence is enough */
    size_t n_values;
};

/* Everything a verification needs; borrowed for the call, typically from the config snapshot. */
struct pc_jwt_options {
    struct pc_jws_options jws;
    /* iss must equal it byte for byte; NULL: any iss, except that a JWT-SVID (with
     * spiffe_trust_domain) must then carry none */
    const char *issuer;
    const char *const *audiences; /* aud must hold one; none: aud is not compared */
    size_t n_audiences;
    /* expected typ ("at+jwt"); NULL: absent, JWT or at+jwt, and JOSE for a JWT-SVID */
    const char *typ;
    uint32_t clock_skew_s;
    const struct pc_jwt_claim_rule *required; /* every one must hold */
    size_t n_required;
    const char *spiffe_trust_domain;     /* JWT-SVID: sub must be an ID of it, aud is required */
    const char *const *client_id_claims; /* for the principal: "client_id", "azp", "cid" */
    size_t n_client_id_claims;
    const char *const *role_paths; /* for the principal: "realm_access.roles" */
    size_t n_role_paths;
};

/*
 * Verifies the len bytes at token (borrowed for the call) at time now (seconds since the epoch).
 * Returns 0 with *out set to the principal, or PC_EACCES with *reason saying why the token is
 * refused, or PC_ENOMEM with *reason PC_AUTHN_INTERNAL. The principal belongs to arena: it is
 * released when the arena is reset or destroyed; pc_principal_ref keeps it longer (the token
 * cache does). The key set in opts must outlive the call only.
 */
int pc_jwt_verify(const char *token, size_t len, const struct pc_jwt_options *opts, int64_t now,
                  struct pc_arena *arena, struct pc_principal **out, enum pc_authn_reason *reason);

/*
 * Checks the claims object (borrowed) and the header's typ (NUL-terminated, NULL when absent)
 * as pc_jwt_verify does after the signature. Returns 0 or PC_EACCES with *reason set.
 */
int pc_jwt_check_claims(const json_t *claims, const char *typ, const struct pc_jwt_options *opts,
                        int64_t now, enum pc_authn_reason *reason);

/*
 * Whether the claim rule->path names in claims (both borrowed) holds: present and not null,
 * and, when rule has values, equal to one of them or a list holding one (strings byte for byte,
 * booleans and integers by their JSON text). Returns PC_AUTHN_OK, PC_AUTHN_MISSING_CLAIM or
 * PC_AUTHN_CLAIM_MISMATCH.
 */
enum pc_authn_reason pc_jwt_claim_holds(const json_t *claims, const struct pc_jwt_claim_rule *rule);

/*
 * Whether the typ header value (NULL when absent) is the media type expected (NULL: the default
 * set, see pc_jwt_options.typ). RFC 7515 section 4.1.9: compared case-insensitively, with
 * "application/" implied when the value holds no '/'.
 */
bool pc_jwt_typ_matches(const char *typ, const char *expected);

#endif
