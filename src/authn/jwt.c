/*
 * Claims validation and the verify pipeline. Times are compared as doubles: NumericDate may be
 * fractional (RFC 7519 section 2), and a double holds every realistic second exactly while
 * absurd values (1e300) cannot overflow an addition.
 */
#include "authn/jwt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "authn/principal.h"
#include "core/arena.h"
#include "core/err.h"
#include "tls/spiffe.h"

static int
refuse(enum pc_authn_reason *reason, enum pc_authn_reason why)
{
    *reason = why;
    return why == PC_AUTHN_INTERNAL ? PC_ENOMEM : PC_EACCES;
}

/* Drops an "application/" prefix (any case); RFC 7515 section 4.1.9 implies it when absent. */
static const char *
strip_application(const char *type)
{
    static const char prefix[] = "application/";

    if (strncasecmp(type, prefix, sizeof(prefix) - 1) == 0) {
        return type + sizeof(prefix) - 1;
    }
    return type;
}

bool
pc_jwt_typ_matches(const char *typ, const char *expected)
{
    const char *got;

    if (expected != NULL) {
        return typ != NULL && strcasecmp(strip_application(typ), strip_application(expected)) == 0;
    }
    /*
     * RFC 8725 section 3.11: without an expected type, still refuse the explicitly typed JWTs
     * of other protocols (DPoP proofs, logout tokens, security events) used as access tokens.
     */
    if (typ == NULL) {
        return true;
    }
    got = strip_application(typ);
    return strcasecmp(got, "JWT") == 0 || strcasecmp(got, "at+jwt") == 0;
}

/* JWT-SVID section 2.3: an SVID's typ, when present, is "JWT" or "JOSE". */
static bool
is_svid_typ(const char *typ, const struct pc_jwt_options *opts)
{
    return opts->spiffe_trust_domain != NULL && opts->typ == NULL && typ != NULL
           && strcasecmp(strip_application(typ), "JOSE") == 0;
}

/* Reads a NumericDate claim; absent is fine (*value untouched), another type is not. */
static enum pc_authn_reason
read_time(const json_t *claims, const char *name, bool *is_present, double *value)
{
    const json_t *v = json_object_get(claims, name);

    *is_present = v != NULL;
    if (v == NULL) {
        return PC_AUTHN_OK;
    }
    if (!json_is_number(v)) {
        return PC_AUTHN_BAD_CLAIM;
    }
    *value = json_number_value(v);
    return PC_AUTHN_OK;
}

/* RFC 7519 sections 4.1.4 to 4.1.6, each widened by the skew. */
static enum pc_authn_reason
check_times(const json_t *claims, double now, double skew)
{
    double exp = 0;
    double nbf = 0;
    double iat = 0;
    bool has_exp;
    bool has_nbf;
    bool has_iat;
    enum pc_authn_reason why = read_time(claims, "exp", &has_exp, &exp);

    if (why == PC_AUTHN_OK) {
        why = read_time(claims, "nbf", &has_nbf, &nbf);
    }
    if (why == PC_AUTHN_OK) {
        why = read_time(claims, "iat", &has_iat, &iat);
    }
    if (why != PC_AUTHN_OK) {
        return why;
    }
    /* An access token without an expiry would be valid forever; RFC 9068 section 2.2 requires it.
     */
    if (!has_exp) {
        return PC_AUTHN_MISSING_CLAIM;
    }
    /* "The current date/time MUST be before the expiration date/time." */
    if (now >= exp + skew) {
        return PC_AUTHN_EXPIRED;
    }
    if (has_nbf && now + skew < nbf) {
        return PC_AUTHN_NOT_YET_VALID;
    }
    if (has_iat && iat > now + skew) {
        return PC_AUTHN_IAT_IN_FUTURE;
    }
    return PC_AUTHN_OK;
}

static enum pc_authn_reason
check_issuer(const json_t *claims, const struct pc_jwt_options *opts)
{
    const json_t *iss = json_object_get(claims, "iss");
    const char *issuer = opts->issuer;

    if (iss == NULL) {
        return issuer != NULL ? PC_AUTHN_MISSING_CLAIM : PC_AUTHN_OK;
    }
    if (!json_is_string(iss)) {
        return PC_AUTHN_BAD_CLAIM;
    }
    /* A JWT-SVID provider without an issuer takes the SVIDs that name none; one that names an
     * issuer belongs to the provider configured with it, alone on its route or not. */
    if (issuer == NULL && opts->spiffe_trust_domain != NULL) {
        return PC_AUTHN_WRONG_ISSUER;
    }
    /* RFC 7519 section 4.1.1: StringOrURI values compare as strings, no normalisation. */
    if (issuer != NULL
        && (json_string_length(iss) != strlen(issuer)
            || memcmp(json_string_value(iss), issuer, json_string_length(iss)) != 0)) {
        return PC_AUTHN_WRONG_ISSUER;
    }
    return PC_AUTHN_OK;
}

static bool
is_expected_audience(const json_t *v, const struct pc_jwt_options *opts)
{
    for (size_t i = 0; i < opts->n_audiences; i++) {
        if (json_string_length(v) == strlen(opts->audiences[i])
            && memcmp(json_string_value(v), opts->audiences[i], json_string_length(v)) == 0) {
            return true;
        }
    }
    return false;
}

/* RFC 7519 section 4.1.3: a string or an array of strings, one of which must be ours. */
static enum pc_authn_reason
check_audience(const json_t *claims, const struct pc_jwt_options *opts)
{
    const json_t *aud = json_object_get(claims, "aud");
    bool is_match = false;
    const json_t *v;
    size_t i;

    if (aud == NULL) {
        bool is_required = opts->n_audiences > 0 || opts->spiffe_trust_domain != NULL;

        return is_required ? PC_AUTHN_WRONG_AUDIENCE : PC_AUTHN_OK;
    }
    if (json_is_string(aud)) {
        is_match = is_expected_audience(aud, opts);
    } else if (json_is_array(aud)) {
        json_array_foreach(aud, i, v)
        {
            if (!json_is_string(v)) {
                return PC_AUTHN_BAD_CLAIM;
            }
            is_match = is_match || is_expected_audience(v, opts);
        }
    } else {
        return PC_AUTHN_BAD_CLAIM;
    }
    if (opts->n_audiences == 0) {
        /* JWT-SVID section 3: aud must be present (and non-empty) even when we accept any. */
        bool is_empty = json_is_array(aud) && json_array_size(aud) == 0;

        return opts->spiffe_trust_domain != NULL && is_empty ? PC_AUTHN_WRONG_AUDIENCE
                                                             : PC_AUTHN_OK;
    }
    return is_match ? PC_AUTHN_OK : PC_AUTHN_WRONG_AUDIENCE;
}

/*
 * JWT-SVID section 3: sub is the workload's SPIFFE ID, of the trust domain whose keys signed
 * the token; an ID without a path names a trust domain, not a workload.
 */
static enum pc_authn_reason
check_spiffe_sub(const json_t *claims, const char *trust_domain)
{
    const json_t *sub = json_object_get(claims, "sub");
    struct pc_spiffe_id id;

    if (sub == NULL) {
        return PC_AUTHN_MISSING_CLAIM;
    }
    if (!json_is_string(sub)
        || pc_spiffe_id_parse(json_string_value(sub), json_string_length(sub), &id, NULL) != 0
        || id.path_len == 0 || id.trust_domain_len != strlen(trust_domain)
        || memcmp(id.trust_domain, trust_domain, id.trust_domain_len) != 0) {
        return PC_AUTHN_BAD_SUB;
    }
    return PC_AUTHN_OK;
}

/* Compares one scalar claim value with an accepted value as text. */
static bool
is_scalar_match(const json_t *v, const char *want)
{
    char text[32];

    if (json_is_string(v)) {
        return json_string_length(v) == strlen(want)
               && memcmp(json_string_value(v), want, json_string_length(v)) == 0;
    }
    if (json_is_boolean(v)) {
        return strcmp(want, json_is_true(v) ? "true" : "false") == 0;
    }
    if (json_is_integer(v)) {
        snprintf(text, sizeof(text), "%" PRId64, (int64_t)json_integer_value(v));
        return strcmp(want, text) == 0;
    }
    return false;
}

static bool
is_rule_match(const json_t *v, const struct pc_jwt_claim_rule *rule)
{
    const json_t *elem;
    size_t i;

    for (size_t k = 0; k < rule->n_values; k++) {
        if (is_scalar_match(v, rule->values[k])) {
            return true;
        }
        json_array_foreach(v, i, elem)
        {
            if (is_scalar_match(elem, rule->values[k])) {
                return true;
            }
        }
    }
    return false;
}

enum pc_authn_reason
pc_jwt_claim_holds(const json_t *claims, const struct pc_jwt_claim_rule *rule)
{
    const json_t *v = pc_principal_lookup(claims, rule->path);

    if (v == NULL || json_is_null(v)) {
        return PC_AUTHN_MISSING_CLAIM;
    }
    if (rule->n_values > 0 && !is_rule_match(v, rule)) {
        return PC_AUTHN_CLAIM_MISMATCH;
    }
    return PC_AUTHN_OK;
}

static enum pc_authn_reason
check_required(const json_t *claims, const struct pc_jwt_options *opts)
{
    enum pc_authn_reason why = PC_AUTHN_OK;

    for (size_t i = 0; why == PC_AUTHN_OK && i < opts->n_required; i++) {
        why = pc_jwt_claim_holds(claims, &opts->required[i]);
    }
    return why;
}

int
pc_jwt_check_claims(const json_t *claims, const char *typ, const struct pc_jwt_options *opts,
                    int64_t now, enum pc_authn_reason *reason)
{
    enum pc_authn_reason why = PC_AUTHN_OK;

    if (!pc_jwt_typ_matches(typ, opts->typ) && !is_svid_typ(typ, opts)) {
        why = PC_AUTHN_WRONG_TYP;
    }
    if (why == PC_AUTHN_OK) {
        why = check_times(claims, (double)now, (double)opts->clock_skew_s);
    }
    if (why == PC_AUTHN_OK) {
        why = check_issuer(claims, opts);
    }
    if (why == PC_AUTHN_OK) {
        why = check_audience(claims, opts);
    }
    if (why == PC_AUTHN_OK && opts->spiffe_trust_domain != NULL) {
        why = check_spiffe_sub(claims, opts->spiffe_trust_domain);
    }
    if (why == PC_AUTHN_OK) {
        why = check_required(claims, opts);
    }
    *reason = why;
    return why == PC_AUTHN_OK ? 0 : PC_EACCES;
}

static void
release_principal(void *data)
{
    pc_principal_unref(data);
}

int
pc_jwt_verify(const char *token, size_t len, const struct pc_jwt_options *opts, int64_t now,
              struct pc_arena *arena, struct pc_principal **out, enum pc_authn_reason *reason)
{
    struct pc_principal_spec spec = { opts->client_id_claims, opts->n_client_id_claims,
                                      opts->role_paths, opts->n_role_paths };
    struct pc_principal *p = NULL;
    struct pc_jws jws;
    json_t *claims = NULL;
    int rc;

    *out = NULL;
    rc = pc_jws_verify(token, len, &opts->jws, arena, &jws, reason);
    if (rc != 0) {
        return rc;
    }
    claims = pc_jws_json_object(jws.payload, jws.payload_len, reason);
    if (claims == NULL) {
        return refuse(reason, *reason);
    }
    rc = pc_jwt_check_claims(claims, jws.typ, opts, now, reason);
    if (rc != 0) {
        goto out;
    }
    p = pc_principal_create(claims, &spec);
    if (p == NULL || pc_arena_cleanup_add(arena, release_principal, p) != 0) {
        pc_principal_unref(p);
        rc = refuse(reason, PC_AUTHN_INTERNAL);
        goto out;
    }
    *out = p;

out:
    json_decref(claims);
    return rc;
}
