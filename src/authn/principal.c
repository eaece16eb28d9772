/*
 * Principals. pc_principal_create walks the claims twice: once to count scopes and roles, once
 * to fill them into the array that follows the structure in the same allocation. Every string
 * is a slice of the claims tree, which the principal keeps a reference to and nobody modifies,
 * so nothing is copied and the principal can be shared freely.
 */
#include "authn/principal.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/err.h"
#include "tls/jwk.h"

struct pc_principal {
    _Atomic size_t refs;
    json_t *claims;
    const char *subject;
    const char *issuer;
    const char *client_id;
    const char *cnf_jkt;
    const char *cnf_x5t;
    int64_t expires;
    struct pc_principal_name *scopes;
    size_t n_scopes;
    struct pc_principal_name *roles;
    size_t n_roles;
    struct pc_principal_name names[];
};

/* Appends a name when out is non-NULL; always counts it. */
static void
add_name(struct pc_principal_name *out, size_t *n, const char *ptr, size_t len)
{
    if (out != NULL) {
        out[*n].ptr = ptr;
        out[*n].len = len;
    }
    (*n)++;
}

/* RFC 6749 section 3.3: scope tokens are separated by single spaces; empty ones are skipped. */
static void
split_scopes(const json_t *v, struct pc_principal_name *out, size_t *n)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == ' ') {
            if (i > start) {
                add_name(out, n, s + start, i - start);
            }
            start = i + 1;
        }
    }
}

static void
collect_scopes(const json_t *claims, struct pc_principal_name *out, size_t *n)
{
    const json_t *scope = json_object_get(claims, "scope");
    const json_t *scp = json_object_get(claims, "scp");
    const json_t *v;
    size_t i;

    if (json_is_string(scope)) {
        split_scopes(scope, out, n);
    }
    if (json_is_string(scp)) {
        split_scopes(scp, out, n);
    }
    json_array_foreach(scp, i, v)
    {
        if (json_is_string(v) && json_string_length(v) > 0) {
            add_name(out, n, json_string_value(v), json_string_length(v));
        }
    }
}

static void
collect_roles(const json_t *claims, const struct pc_principal_spec *spec,
              struct pc_principal_name *out, size_t *n)
{
    for (size_t p = 0; p < spec->n_role_paths; p++) {
        const json_t *roles = pc_principal_lookup(claims, spec->role_paths[p]);
        const json_t *v;
        size_t i;

        if (json_is_string(roles)) {
            add_name(out, n, json_string_value(roles), json_string_length(roles));
        }
        json_array_foreach(roles, i, v)
        {
            if (json_is_string(v)) {
                add_name(out, n, json_string_value(v), json_string_length(v));
            }
        }
    }
}

static int64_t
read_expires(const json_t *claims)
{
    const json_t *exp = json_object_get(claims, "exp");
    double v;

    if (json_is_integer(exp)) {
        return (int64_t)json_integer_value(exp);
    }
    if (!json_is_real(exp)) {
        return INT64_MAX;
    }
    v = floor(json_real_value(exp));
    /* 2^63 as a double; anything at or past it (or NaN) means "never" here. */
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0 ? (int64_t)v : INT64_MAX;
}

static void
fill_strings(struct pc_principal *p, const struct pc_principal_spec *spec)
{
    const json_t *cnf = json_object_get(p->claims, "cnf");

    p->subject = json_string_value(json_object_get(p->claims, "sub"));
    p->issuer = json_string_value(json_object_get(p->claims, "iss"));
    for (size_t i = 0; i < spec->n_client_id_claims && p->client_id == NULL; i++) {
        p->client_id = json_string_value(json_object_get(p->claims, spec->client_id_claims[i]));
    }
    p->cnf_jkt = json_string_value(json_object_get(cnf, "jkt"));
    p->cnf_x5t = json_string_value(json_object_get(cnf, "x5t#S256"));
    p->expires = read_expires(p->claims);
}

struct pc_principal *
pc_principal_create(json_t *claims, const struct pc_principal_spec *spec)
{
    static const struct pc_principal_spec no_spec = { 0 };
    struct pc_principal *p;
    size_t n_scopes = 0;
    size_t n_roles = 0;

    spec = spec != NULL ? spec : &no_spec;
    collect_scopes(claims, NULL, &n_scopes);
    collect_roles(claims, spec, NULL, &n_roles);
    p = pc_calloc(1, sizeof(*p) + (n_scopes + n_roles) * sizeof(p->names[0]));
    if (p == NULL) {
        return NULL;
    }
    atomic_init(&p->refs, 1);
    p->claims = json_incref(claims);
    p->scopes = n_scopes > 0 ? p->names : NULL;
    p->roles = n_roles > 0 ? p->names + n_scopes : NULL;
    collect_scopes(claims, p->scopes, &p->n_scopes);
    collect_roles(claims, spec, p->roles, &p->n_roles);
    fill_strings(p, spec);
    return p;
}

struct pc_principal *
pc_principal_ref(struct pc_principal *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void
pc_principal_unref(struct pc_principal *p)
{
    if (p == NULL) {
        return;
    }
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
        json_decref(p->claims);
        pc_free(p);
    }
}

const char *
pc_principal_subject(const struct pc_principal *p)
{
    return p->subject;
}

const char *
pc_principal_issuer(const struct pc_principal *p)
{
    return p->issuer;
}

const char *
pc_principal_client_id(const struct pc_principal *p)
{
    return p->client_id;
}

int64_t
pc_principal_expires(const struct pc_principal *p)
{
    return p->expires;
}

const struct pc_principal_name *
pc_principal_scopes(const struct pc_principal *p, size_t *n)
{
    *n = p->n_scopes;
    return p->scopes;
}

const struct pc_principal_name *
pc_principal_roles(const struct pc_principal *p, size_t *n)
{
    *n = p->n_roles;
    return p->roles;
}

static bool
has_name(const struct pc_principal_name *names, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (names[i].len == len && memcmp(names[i].ptr, name, len) == 0) {
            return true;
        }
    }
    return false;
}

bool
pc_principal_has_scope(const struct pc_principal *p, const char *name, size_t len)
{
    return has_name(p->scopes, p->n_scopes, name, len);
}

bool
pc_principal_has_role(const struct pc_principal *p, const char *name, size_t len)
{
    return has_name(p->roles, p->n_roles, name, len);
}

const json_t *
pc_principal_claims(const struct pc_principal *p)
{
    return p->claims;
}

const json_t *
pc_principal_claim(const struct pc_principal *p, const char *path)
{
    return pc_principal_lookup(p->claims, path);
}

/* Finds the member named by the longest dot-delimited prefix of path; *rest follows it. */
static const json_t *
lookup_step(const json_t *obj, const char *path, size_t len, const char **rest)
{
    size_t end = len;

    for (;;) {
        const json_t *v = json_object_getn(obj, path, end);

        if (v != NULL) {
            *rest = end < len ? path + end + 1 : NULL;
            return v;
        }
        while (end > 0 && path[--end] != '.') {
        }
        if (end == 0) {
            return NULL;
        }
    }
}

const json_t *
pc_principal_lookup(const json_t *root, const char *path)
{
    const json_t *v = root;
    const char *rest = path;

    while (v != NULL && rest != NULL) {
        if (!json_is_object(v)) {
            return NULL;
        }
        v = lookup_step(v, rest, strlen(rest), &rest);
    }
    return v;
}

const char *
pc_principal_cnf_jkt(const struct pc_principal *p)
{
    return p->cnf_jkt;
}

const char *
pc_principal_cnf_x5t(const struct pc_principal *p)
{
    return p->cnf_x5t;
}

int
pc_principal_check_certificate(const struct pc_principal *p, const unsigned char *der,
                               size_t der_len, enum pc_authn_reason *reason)
{
    unsigned char want[32];
    unsigned char got[EVP_MAX_MD_SIZE];
    unsigned int got_len = 0;
    size_t want_len = 0;

    if (p->cnf_x5t == NULL) {
        *reason = PC_AUTHN_CNF_MISSING;
        return PC_EACCES;
    }
    /* A strict decode: one accepted spelling per hash, and exactly 32 bytes. */
    if (pc_jwk_base64_decode_to(p->cnf_x5t, strlen(p->cnf_x5t), true, want, sizeof(want), &want_len)
            != 0
        || want_len != sizeof(want)) {
        *reason = PC_AUTHN_CNF_MISMATCH;
        return PC_EACCES;
    }
    if (EVP_Digest(der, der_len, got, &got_len, EVP_sha256(), NULL) != 1) {
        *reason = PC_AUTHN_INTERNAL;
        return PC_ENOMEM;
    }
    if (CRYPTO_memcmp(want, got, sizeof(want)) != 0) {
        *reason = PC_AUTHN_CNF_MISMATCH;
        return PC_EACCES;
    }
    *reason = PC_AUTHN_OK;
    return 0;
}
