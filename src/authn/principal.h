/*
 * The principal: who a verified token says the caller is. Subject, issuer, client id, scopes and
 * roles are extracted once, when the token is verified; every other claim stays reachable by a
 * dotted path (for headers forwarded upstream and for policies).
 *
 * A principal is immutable and reference counted with atomics. It is one allocation holding
 * slices into its own reference to the claims (a jansson tree it never changes), so the
 * per-worker token cache can keep it across requests, and any thread may read it, without a
 * copy. Request code borrows it from the request arena (pc_jwt_verify registers the release);
 * the cache takes its own reference with pc_principal_ref.
 */
#ifndef PC_AUTHN_PRINCIPAL_H
#define PC_AUTHN_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "authn/reason.h"

/* A string slice inside the principal's claims: NUL-terminated only where stated. */
struct pc_principal_name {
    const char *ptr;
    size_t len;
};

/* Where to look for what is not a registered claim. Borrowed for pc_principal_create only. */
struct pc_principal_spec {
    const char *const *client_id_claims; /* first present string wins ("client_id", "azp") */
    size_t n_client_id_claims;
    const char *const *role_paths; /* dotted paths to arrays of strings or a string */
    size_t n_role_paths;
};

struct pc_principal;

/*
 * Builds a principal from verified claims (a JSON object; the principal takes its own reference
 * and the caller keeps its one). Scopes are read as identity providers send them: "scope" as a
 * space-separated string (RFC 8693 section 4.2, RFC 9068 section 2.2.3) and "scp" as such a
 * string or an array of strings; both are merged when both are present. Roles come from every
 * path of spec: each string of an array (other elements skipped) or a single string. Returns
 * the principal (one reference, owned by the caller: pc_principal_unref) or NULL when out of
 * memory.
 */
struct pc_principal *pc_principal_create(json_t *claims, const struct pc_principal_spec *spec);

/* Takes one more reference and returns p. Any thread. */
struct pc_principal *pc_principal_ref(struct pc_principal *p);

/* Drops one reference; the last releases the principal and its claims. Accepts NULL. */
void pc_principal_unref(struct pc_principal *p);

/*
 * The string claims "sub" and "iss", and the client id: NUL-terminated, borrowed from p, NULL
 * when absent or not a string.
 */
const char *pc_principal_subject(const struct pc_principal *p);
const char *pc_principal_issuer(const struct pc_principal *p);
const char *pc_principal_client_id(const struct pc_principal *p);

/* "exp" in seconds since the epoch, rounded down; INT64_MAX when absent. */
int64_t pc_principal_expires(const struct pc_principal *p);

/* The granted scopes and the roles: arrays borrowed from p (*n set; NULL when *n is 0). */
const struct pc_principal_name *pc_principal_scopes(const struct pc_principal *p, size_t *n);
const struct pc_principal_name *pc_principal_roles(const struct pc_principal *p, size_t *n);

/* Whether the scope (or role) of len bytes at name was granted. */
bool pc_principal_has_scope(const struct pc_principal *p, const char *name, size_t len);
bool pc_principal_has_role(const struct pc_principal *p, const char *name, size_t len);

/* The whole claims object, borrowed from p: never modify it. */
const json_t *pc_principal_claims(const struct pc_principal *p);

/* The claim at a dotted path (see pc_principal_lookup), borrowed from p; NULL when absent. */
const json_t *pc_principal_claim(const struct pc_principal *p, const char *path);

/*
 * Follows the dotted path (NUL-terminated, e.g. "realm_access.roles") from the object root
 * (borrowed). Claim names may themselves hold dots ("https://example.com/roles"), so at each
 * level the longest prefix of the remaining path that names a member is taken, down to the next
 * dot; there is no backtracking. Returns the value (borrowed from root) or NULL.
 */
const json_t *pc_principal_lookup(const json_t *root, const char *path);

/*
 * The confirmation members (RFC 7800 section 3.1) of the token: cnf "jkt" (RFC 9449 section
 * 6.1) and cnf "x5t#S256" (RFC 8705 section 3.1), NUL-terminated and borrowed from p, NULL when
 * absent or not strings.
 */
const char *pc_principal_cnf_jkt(const struct pc_principal *p);
const char *pc_principal_cnf_x5t(const struct pc_principal *p);

/*
 * RFC 8705 section 3: checks that the token is bound to the client certificate whose DER
 * encoding is the der_len bytes at der (borrowed): cnf "x5t#S256" must be the unpadded
 * base64url SHA-256 of it. Returns 0, or PC_EACCES with *reason PC_AUTHN_CNF_MISSING (the token
 * names no certificate) or PC_AUTHN_CNF_MISMATCH (malformed, or another certificate), or
 * PC_ENOMEM with PC_AUTHN_INTERNAL.
 */
int pc_principal_check_certificate(const struct pc_principal *p, const unsigned char *der,
                                   size_t der_len, enum pc_authn_reason *reason);

#endif
