/*
 * AuthenticationPolicy in the validated model: the checks one policy can make on its own (a key
 * source per provider, algorithms that fit it, discovery from an https issuer, local JWK sets
 * holding public keys only, sender constraints, forwarded headers), the resolution of what it
 * names (its targets, HMAC and client secrets, SPIFFE trust bundles, the listeners a
 * certificate-bound policy relies on), and its compiled form, struct pc_authn, shared by every
 * rule the policy covers.
 *
 * A policy naming an HTTPRoute wins over one naming the route's listener (sectionName), which
 * wins over one naming the whole Gateway; the winner applies whole, never merged field by field,
 * so what protects a route can be read from one resource. Nothing here fetches or parses keys:
 * src/authn does that when the snapshot is applied. Secret values never reach a message, and
 * every copy of one is wiped with its arena. Runs on the control thread, inside a load.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "config/model.h"
#include "config/value.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"

/* JWT-SVIDs are signed with RS*, ES* or PS* (SPIFFE JWT-SVID specification, section 3). */
#define SPIFFE_ALGORITHMS                                                                          \
    (PC_JWT_RS256 | PC_JWT_RS384 | PC_JWT_RS512 | PC_JWT_PS256 | PC_JWT_PS384 | PC_JWT_PS512       \
     | PC_JWT_ES256 | PC_JWT_ES384 | PC_JWT_ES512)
#define HMAC_ALGORITHMS (PC_JWT_HS256 | PC_JWT_HS384 | PC_JWT_HS512)

#define N_KEY_SOURCES 5

/* src/authn refuses a JWK set with more keys; config cannot include it, layers point down. */
#define MAX_JWKS_KEYS 256

_Static_assert(PC_JWT_HS512 == 1u << 12, "pc_value_jwt_alg_index follows the pc_jwt_alg bits");

/* What one provider resolved to. */
struct provider_state {
    enum pc_jwks_origin origin;
    bool has_keys;                          /* exactly one key source was set */
    uint32_t algorithms;                    /* pc_jwt_alg bits */
    struct pc_pem_source jwks;              /* PC_JWKS_LOCAL */
    const struct pc_model_resource *bundle; /* PC_JWKS_SPIFFE_BUNDLE */
    const char *hmac_secret;                /* load arena, wiped with it */
    size_t hmac_secret_len;
};

/* An AuthenticationPolicy's resource state. */
struct authn_state {
    struct provider_state *providers; /* one per spec.jwt.providers item */
    const char *client_secret;        /* introspection; load arena, wiped with it */
    size_t client_secret_len;
    const struct pc_authn *compiled; /* snapshot arena, made on first use */
};

static void report(struct pc_model *model, const struct pc_yaml_node *node, const char *hint,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Adds an error at node, whose location and key path the message cites. */
static void
report(struct pc_model *model, const struct pc_yaml_node *node, const char *hint, const char *fmt,
       ...)
{
    va_list ap;

    va_start(ap, fmt);
    pc_yaml_verror(model->diag, node, NULL, hint, fmt, ap);
    va_end(ap);
}

static bool
is_equal(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool
is_before(const struct pc_yaml_node *a, const struct pc_yaml_node *b)
{
    return a->line < b->line || (a->line == b->line && a->col < b->col);
}

/* ---- one provider ---- */

/*
 * Picks the provider's key source, reporting every source after the first and a provider with
 * none. Returns whether there is exactly one.
 */
static bool
pick_key_source(struct pc_model *model, const struct pc_resource_jwt_provider *p,
                enum pc_jwks_origin *origin)
{
    static const enum pc_jwks_origin origins[N_KEY_SOURCES] = {
        PC_JWKS_URI, PC_JWKS_DISCOVERY, PC_JWKS_LOCAL, PC_JWKS_SPIFFE_BUNDLE, PC_JWKS_HMAC,
    };
    const struct pc_yaml_node *sources[N_KEY_SOURCES] = {
        p->remote_jwks != NULL ? p->remote_jwks->node : NULL,
        p->discovery.v != 0 ? p->discovery.node : NULL,
        p->local_jwks != NULL ? p->local_jwks->node : NULL,
        p->spiffe != NULL ? p->spiffe->node : NULL,
        p->hmac_secret_ref != NULL ? p->hmac_secret_ref->node : NULL,
    };
    size_t first = N_KEY_SOURCES;
    size_t n = 0;

    for (size_t i = 0; i < N_KEY_SOURCES; i++) {
        if (sources[i] != NULL
            && (first == N_KEY_SOURCES || is_before(sources[i], sources[first]))) {
            first = i;
        }
    }
    for (size_t i = 0; i < N_KEY_SOURCES; i++) {
        n += sources[i] != NULL;
        if (sources[i] != NULL && i != first) {
            report(model, sources[i], "a provider takes its keys from one source",
                   "set only one of remoteJWKS, discovery, localJWKS, spiffe and hmacSecretRef");
        }
    }
    if (n == 0) {
        report(model, p->node,
               "set remoteJWKS, discovery: true, localJWKS, spiffe or hmacSecretRef",
               "the provider has no source of verification keys");
        return false;
    }
    *origin = origins[first];
    return n == 1;
}

static uint32_t
default_algorithms(enum pc_jwks_origin origin)
{
    if (origin == PC_JWKS_SPIFFE_BUNDLE) {
        return SPIFFE_ALGORITHMS;
    }
    return origin == PC_JWKS_HMAC ? PC_JWT_HS256 : PC_JWT_RS256;
}

/* Says why algorithm bit does not fit a provider whose keys come from origin, or NULL. */
static const char *
judge_algorithm(uint32_t bit, enum pc_jwks_origin origin, const char **hint)
{
    if (origin == PC_JWKS_HMAC && !(bit & HMAC_ALGORITHMS)) {
        *hint =
            "with hmacSecretRef list HS256, HS384 or HS512 only; public-key algorithms need a key source such as remoteJWKS";
        return "needs public keys, and the provider has only an HMAC secret";
    }
    if (origin != PC_JWKS_HMAC && (bit & HMAC_ALGORITHMS)) {
        *hint =
            "HMAC algorithms verify with a shared secret: use hmacSecretRef as the provider's only key source";
        return "needs hmacSecretRef";
    }
    if (origin == PC_JWKS_SPIFFE_BUNDLE && !(bit & SPIFFE_ALGORITHMS)) {
        *hint = "JWT-SVIDs are signed with RS*, ES* or PS* algorithms";
        return "is not used for JWT-SVIDs";
    }
    return NULL;
}

/* Returns the algorithm bits of p, reporting repeats and algorithms its key source cannot use. */
static uint32_t
check_algorithms(struct pc_model *model, const struct pc_resource_jwt_provider *p,
                 enum pc_jwks_origin origin, bool has_keys)
{
    const struct pc_schema_string *algs = p->algorithms.items;
    uint32_t bits = 0;

    if (p->algorithms.node == NULL) {
        return default_algorithms(origin);
    }
    for (size_t i = 0; i < p->algorithms.n; i++) {
        int index = algs[i].s != NULL ? pc_value_jwt_alg_index(algs[i].s, algs[i].len) : -1;
        uint32_t bit = index >= 0 ? 1u << index : 0;
        const char *hint = NULL;
        const char *problem = has_keys ? judge_algorithm(bit, origin, &hint) : NULL;

        if (bit == 0) {
            continue;
        }
        if (bits & bit) {
            report(model, algs[i].node, "list each once", "algorithm %s is listed twice",
                   algs[i].s);
        } else if (problem != NULL) {
            report(model, algs[i].node, hint, "algorithm %s %s", algs[i].s, problem);
        }
        bits |= bit;
    }
    return bits;
}

/* OpenID Connect Discovery 1.0, section 4: the document is under the issuer, an https URL. */
static void
check_discovery_issuer(struct pc_model *model, const struct pc_schema_string *issuer)
{
    bool is_http;
    bool is_loopback;
    const char *problem = pc_value_url_problem(issuer->s, issuer->len, &is_http, &is_loopback);

    if (problem == NULL && memchr(issuer->s, '?', issuer->len) != NULL) {
        problem = "an OpenID issuer has no query";
    }
    if (problem != NULL) {
        report(
            model, issuer->node,
            "discovery reads <issuer>/.well-known/openid-configuration: give the issuer as https://host[/path], or the keys' URL in remoteJWKS",
            "issuer \"%.64s\" cannot be used for discovery: %s", issuer->s, problem);
    } else if (is_http && !is_loopback) {
        report(
            model, issuer->node,
            "use an https:// issuer; plain http is allowed only to a loopback address (127.0.0.1, ::1, localhost)",
            "issuer \"%.64s\" cannot be used for discovery: scheme \"http\" refused", issuer->s);
    }
}

static void
check_issuer(struct pc_model *model, const struct pc_resource_jwt_provider *p,
             enum pc_jwks_origin origin, bool has_keys)
{
    /* A value the decoder refused leaves the field empty: only a missing key is reported here. */
    if (pc_yaml_get(p->node, "issuer") == NULL && has_keys && origin != PC_JWKS_SPIFFE_BUNDLE) {
        pc_yaml_error(model->diag, p->node, ".issuer",
                      "name the iss of the tokens; only a spiffe provider may leave it out",
                      "required field is missing");
    }
    if (p->issuer.s != NULL && has_keys && origin == PC_JWKS_DISCOVERY) {
        check_discovery_issuer(model, &p->issuer);
    }
    if (has_keys && origin == PC_JWKS_SPIFFE_BUNDLE && pc_yaml_get(p->node, "audiences") == NULL) {
        pc_yaml_error(
            model->diag, p->node, ".audiences",
            "a JWT-SVID names the audience it is for (SPIFFE JWT-SVID section 3): list the audiences this gateway accepts",
            "required for a spiffe provider");
    }
}

/* Says what is wrong with a JWK set meant to hold public keys only, or NULL (buf holds it). */
static const char *
judge_jwks(const char *text, size_t len, char *buf, size_t size)
{
    json_error_t error;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    json_t *keys = json_object_get(root, "keys");
    const char *problem = NULL;

    if (root == NULL) {
        /* Only the position: jansson's own text may quote the input. */
        snprintf(buf, size, "it is not JSON (line %d, column %d)", error.line, error.column);
        return buf;
    }
    if (!json_is_object(root) || !json_is_array(keys)) {
        problem = "it is not a JWK set with a \"keys\" list";
    } else if (json_array_size(keys) == 0) {
        problem = "its \"keys\" list is empty";
    } else if (json_array_size(keys) > MAX_JWKS_KEYS) {
        snprintf(buf, size, "it holds %zu keys, and at most %d are accepted", json_array_size(keys),
                 MAX_JWKS_KEYS);
        problem = buf;
    }
    for (size_t i = 0; problem == NULL && i < json_array_size(keys); i++) {
        json_t *key = json_array_get(keys, i);
        const char *kty = json_string_value(json_object_get(key, "kty"));

        /* Secret material in a field nobody treats as secret would end up in backups and diffs. */
        if (kty == NULL) {
            snprintf(buf, size, "key %zu has no \"kty\"", i);
        } else if (strcmp(kty, "oct") == 0) {
            snprintf(buf, size, "key %zu is a symmetric key (kty \"oct\"); use hmacSecretRef", i);
        } else if (json_object_get(key, "d") != NULL) {
            snprintf(buf, size, "key %zu holds a private key (member \"d\")", i);
        } else {
            continue;
        }
        problem = buf;
    }
    json_decref(root);
    return problem;
}

/* Checks a localJWKS and records it in st. Returns 0 or PC_ENOMEM. */
static int
check_local_jwks(struct pc_model *model, const struct pc_resource_local_jwks *local,
                 struct provider_state *st)
{
    char buf[128];
    const char *problem;
    int rc;

    if ((local->file.node != NULL) == (local->inline_.node != NULL)) {
        report(model, local->node, "a localJWKS reads the keys from a file or holds them inline",
               "set exactly one of file and inline");
        return 0;
    }
    if (local->file.s != NULL) {
        st->jwks.origin = PC_PEM_FILE;
        rc = pc_model_check_file(model, &local->file, "name the JWKS file itself", &st->jwks.path);
        return rc == PC_ENOMEM ? rc : 0;
    }
    if (local->inline_.s == NULL) {
        return 0;
    }
    st->jwks = (struct pc_pem_source){ .origin = PC_PEM_INLINE,
                                       .data = local->inline_.s,
                                       .len = local->inline_.len };
    problem = judge_jwks(local->inline_.s, local->inline_.len, buf, sizeof(buf));
    if (problem != NULL) {
        report(model, local->inline_.node,
               "give the JSON of a JWK set of public keys: {\"keys\": [{\"kty\": ...}]}",
               "not a JWK set: %s", problem);
    }
    return 0;
}

static void
check_whole_seconds(struct pc_model *model, const struct pc_schema_int *ms)
{
    if (ms->node != NULL && ms->v % 1000 != 0) {
        report(model, ms->node, "write it in seconds, such as \"30s\"",
               "must be a whole number of seconds");
    }
}

/* Whether the field key of map decoded (node set) or was absent, so its value means something. */
static bool
is_set_or_absent(const struct pc_yaml_node *map, const char *key, const struct pc_yaml_node *node)
{
    return node != NULL || pc_yaml_get(map, key) == NULL;
}

static void
check_refresh(struct pc_model *model, const struct pc_resource_key_refresh *r,
              enum pc_jwks_origin origin, bool has_keys)
{
    char a[32];
    char b[32];

    if (has_keys && origin != PC_JWKS_URI && origin != PC_JWKS_DISCOVERY) {
        report(model, r->node,
               "remove it: local files are watched, and SPIFFE keys follow their TrustBundle",
               "refresh applies only to keys fetched from remoteJWKS or discovery");
        return;
    }
    /* Compared with the defaults too; a value the decoder refused is left out. */
    if ((r->min_interval.node != NULL || r->interval.node != NULL)
        && is_set_or_absent(r->node, "interval", r->interval.node)
        && is_set_or_absent(r->node, "minInterval", r->min_interval.node)
        && r->min_interval.v > r->interval.v) {
        report(model, r->min_interval.node != NULL ? r->min_interval.node : r->interval.node,
               "lower minInterval or raise interval", "minInterval %s is longer than interval %s",
               pc_schema_format_ms((uint64_t)r->min_interval.v, a, sizeof(a)),
               pc_schema_format_ms((uint64_t)r->interval.v, b, sizeof(b)));
    }
}

static int
check_provider(struct pc_model *model, const struct pc_resource_jwt_provider *p,
               struct provider_state *st)
{
    st->has_keys = pick_key_source(model, p, &st->origin);
    st->algorithms = check_algorithms(model, p, st->origin, st->has_keys);
    check_issuer(model, p, st->origin, st->has_keys);
    check_whole_seconds(model, &p->clock_skew);
    if (p->refresh != NULL) {
        check_refresh(model, p->refresh, st->origin, st->has_keys);
    }
    if (st->has_keys && st->origin == PC_JWKS_LOCAL) {
        return check_local_jwks(model, p->local_jwks, st);
    }
    return 0;
}

/* Provider names are unique in a policy, and so are issuers: a token's iss picks its provider. */
static void
check_provider_set(struct pc_model *model, const struct pc_resource_jwt *jwt)
{
    const struct pc_resource_jwt_provider *ps = jwt->providers.items;

    for (size_t i = 0; i < jwt->providers.n; i++) {
        const struct pc_resource_jwt_provider *p = &ps[i];

        for (size_t j = 0; j < i; j++) {
            const struct pc_resource_jwt_provider *q = &ps[j];

            if (is_equal(p->name.s, q->name.s)) {
                report(model, p->name.node, "give every provider of a policy its own name",
                       "provider name \"%s\" is already used at line %u", p->name.s,
                       q->name.node->line);
            }
            if (is_equal(p->issuer.s, q->issuer.s)) {
                report(model, p->issuer.node,
                       "a token's iss picks its provider: merge the two providers",
                       "providers \"%s\" and \"%s\" have the same issuer \"%.64s\"", q->name.s,
                       p->name.s, p->issuer.s);
            }
            if (p->issuer.node == NULL && q->issuer.node == NULL && p->spiffe != NULL
                && q->spiffe != NULL
                && is_equal(p->spiffe->trust_domain.s, q->spiffe->trust_domain.s)) {
                report(
                    model, p->spiffe->trust_domain.node,
                    "give one of them the issuer its tokens carry, or merge the two",
                    "providers \"%s\" and \"%s\" both take JWT-SVIDs of trust domain \"%s\" without an issuer",
                    q->name.s, p->name.s, p->spiffe->trust_domain.s);
            }
        }
    }
}

/* ---- the rest of a policy ---- */

static void
check_token_location(struct pc_model *model, const struct pc_resource_token_location *t)
{
    if (t->header != NULL && t->cookie != NULL) {
        report(model, t->cookie->node, "a token is read from one place",
               "set header or cookie, not both");
    } else if (t->header == NULL && t->cookie == NULL) {
        report(model, t->node, "name the header (with its prefix) or the cookie holding the token",
               "set header or cookie");
    }
}

static void
check_sender_constraint(struct pc_model *model, const struct pc_resource_sender_constraint *c)
{
    bool is_none = c->mode.s == NULL || strcmp(c->mode.s, "None") == 0;
    bool has_dpop = is_equal(c->mode.s, "DPoP") || is_equal(c->mode.s, "Any");

    if (is_none && c->if_present.node != NULL) {
        report(model, c->if_present.node, "choose a mode, or remove ifPresent",
               "ifPresent applies only with mode Certificate, DPoP or Any");
    }
    if (!has_dpop && c->dpop_max_age.node != NULL) {
        report(model, c->dpop_max_age.node, "use mode DPoP or Any, or remove dpopMaxAge",
               "dpopMaxAge applies only with mode DPoP or Any");
    }
    check_whole_seconds(model, &c->dpop_max_age);
}

/* Why header must not carry a claim, or NULL. */
static const char *
judge_forward_header(const char *name)
{
    static const char *const framing[] = { "content-length",   "transfer-encoding",
                                           "connection",       "keep-alive",
                                           "proxy-connection", "te",
                                           "trailer",          "upgrade" };
    static const char *const credentials[] = { "authorization", "proxy-authorization", "cookie" };

    for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++) {
        if (strcasecmp(name, framing[i]) == 0) {
            return "the proxy manages this framing and connection header itself";
        }
    }
    for (size_t i = 0; i < sizeof(credentials) / sizeof(credentials[0]); i++) {
        if (strcasecmp(name, credentials[i]) == 0) {
            return "it carries the client's credentials; pick a header of your own, such as x-user-id";
        }
    }
    if (strcasecmp(name, "host") == 0) {
        return "Host names the site asked for, which routing and the upstream rely on";
    }
    if (strncasecmp(name, "x-forwarded-", 12) == 0 || strcasecmp(name, "forwarded") == 0
        || strcasecmp(name, "x-request-id") == 0) {
        return "the gateway sets this header itself";
    }
    return NULL;
}

static void
check_claim_headers(struct pc_model *model, const struct pc_resource_authn_policy *spec)
{
    const struct pc_resource_claim_header *hs = spec->claim_to_headers.items;
    const struct pc_resource_token_location *loc = spec->token_location;
    const char *token_header = loc != NULL && loc->header != NULL ? loc->header->name.s : NULL;

    for (size_t i = 0; i < spec->claim_to_headers.n; i++) {
        const struct pc_schema_string *h = &hs[i].header;
        const char *why = h->s != NULL ? judge_forward_header(h->s) : NULL;

        if (h->s == NULL) {
            continue;
        }
        if (why != NULL) {
            report(model, h->node, why, "header \"%s\" cannot carry a claim", h->s);
            continue;
        }
        if (token_header != NULL && strcasecmp(h->s, token_header) == 0) {
            report(model, h->node, "pick another header", "header \"%s\" carries the token", h->s);
        }
        for (size_t j = 0; j < i; j++) {
            if (hs[j].header.s != NULL && strcasecmp(hs[j].header.s, h->s) == 0) {
                report(model, h->node, "copy one claim per header",
                       "header \"%s\" already carries claim \"%s\"", h->s, hs[j].claim.s);
                break;
            }
        }
    }
}

/* A policy lists each of its targets once. */
static void
check_target_list(struct pc_model *model, const struct pc_schema_list *targets)
{
    const struct pc_resource_target_ref *ts = targets->items;

    for (size_t i = 0; i < targets->n; i++) {
        for (size_t j = 0; j < i; j++) {
            bool same_section = ts[i].section_name.s == NULL
                                    ? ts[j].section_name.s == NULL
                                    : is_equal(ts[i].section_name.s, ts[j].section_name.s);

            if (is_equal(ts[i].kind.s, ts[j].kind.s) && is_equal(ts[i].name.s, ts[j].name.s)
                && same_section) {
                report(model, ts[i].node, "list each target once", "%s %s is targeted twice",
                       ts[i].kind.s, ts[i].name.s);
                break;
            }
        }
    }
}

static int
check_policy(struct pc_model *model, struct pc_model_resource *res)
{
    const struct pc_resource_authn_policy *spec = res->doc->spec;
    const struct pc_resource_jwt *jwt = spec->jwt;
    const struct pc_resource_jwt_provider *ps = jwt != NULL ? jwt->providers.items : NULL;
    size_t n = jwt != NULL ? jwt->providers.n : 0;
    struct authn_state *st = pc_arena_calloc(model->arena, 1, sizeof(*st));
    int rc = 0;

    if (st == NULL) {
        return PC_ENOMEM;
    }
    st->providers = pc_arena_calloc(model->arena, n + 1, sizeof(*st->providers));
    if (st->providers == NULL) {
        return PC_ENOMEM;
    }
    res->state = st;
    if (jwt == NULL && spec->introspection == NULL) {
        report(model, spec->node,
               "add jwt.providers for JWTs, introspection for opaque tokens, or both",
               "the policy has no way to verify a token");
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = check_provider(model, &ps[i], &st->providers[i]);
    }
    if (jwt != NULL) {
        check_provider_set(model, jwt);
    }
    check_target_list(model, &spec->target_refs);
    if (spec->token_location != NULL) {
        check_token_location(model, spec->token_location);
    }
    if (spec->sender_constraint != NULL) {
        check_sender_constraint(model, spec->sender_constraint);
    }
    check_claim_headers(model, spec);
    return rc;
}

int
pc_model_check_authn(struct pc_model *model)
{
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_AUTHN_POLICY]; i++) {
        struct pc_model_resource *res = model->res[PC_RESOURCE_AUTHN_POLICY][i];

        /* A missing spec was reported by the decoder; there is nothing more to say. */
        if (res->doc->spec != NULL && check_policy(model, res) != 0) {
            return PC_ENOMEM;
        }
    }
    return 0;
}

/* ---- targets ---- */

static const char *
describe_mode(const struct pc_resource_authn_policy *spec)
{
    const struct pc_resource_sender_constraint *c = spec->sender_constraint;

    return c != NULL && c->mode.s != NULL ? c->mode.s : "None";
}

/* A certificate-bound token is checked against the client certificate of its connection. */
static bool
check_certificate_listener(struct pc_model *model, const struct pc_model_resource *policy,
                           const struct pc_model_listener *l)
{
    const struct pc_resource_authn_policy *spec = policy->doc->spec;

    if (l->is_https && l->has_frontend_validation) {
        return true;
    }
    report(
        model, spec->sender_constraint->mode.node,
        "give the listener protocol HTTPS and tls.frontendValidation, or use mode DPoP",
        "mode Certificate needs client certificates, and Gateway %s listener \"%s\" asks for none",
        l->gateway->id, l->src->name.s);
    return false;
}

static void
check_certificate_target(struct pc_model *model, const struct pc_model_resource *policy,
                         const struct pc_model_gateway *gw, const struct pc_model_listener *l,
                         const struct pc_model_route *route)
{
    if (strcmp(describe_mode(policy->doc->spec), "Certificate") != 0) {
        return;
    }
    if (l != NULL) {
        check_certificate_listener(model, policy, l);
        return;
    }
    for (size_t i = 0; gw != NULL && i < gw->n_listeners; i++) {
        if (gw->listeners[i].is_usable
            && !check_certificate_listener(model, policy, &gw->listeners[i])) {
            return;
        }
    }
    for (size_t i = 0; route != NULL && i < route->n_attachments; i++) {
        if (!check_certificate_listener(model, policy, route->attachments[i].listener)) {
            return;
        }
    }
}

/* Gives slot to policy, or reports the policy that holds it already. */
static void
claim_slot(struct pc_model *model, const struct pc_model_resource *policy,
           const struct pc_resource_target_ref *t, struct pc_model_slot *slot, const char *what)
{
    if (slot->owner != NULL && slot->owner != policy) {
        report(
            model, t->node,
            "keep one AuthenticationPolicy per target; a policy on a listener or route wins over one on its Gateway",
            "AuthenticationPolicy %s and AuthenticationPolicy %s both target %s", slot->owner->id,
            policy->id, what);
        return;
    }
    *slot = (struct pc_model_slot){ 0, policy, t->node };
}

static void
attach_gateway(struct pc_model *model, const struct pc_model_resource *policy,
               const struct pc_resource_target_ref *t, const struct pc_model_resource *target)
{
    struct pc_model_gateway *gw = target->state;
    struct pc_model_listener *l = NULL;
    char what[600];

    if (gw == NULL) {
        return;
    }
    if (t->section_name.s != NULL) {
        l = pc_model_find_listener(gw, t->section_name.s);
        if (l == NULL) {
            pc_model_list_listeners(gw, what, sizeof(what));
            report(model, t->section_name.node, what, "Gateway %s has no listener \"%s\"",
                   target->id, t->section_name.s);
            return;
        }
    }
    snprintf(what, sizeof(what), "Gateway %s%s%s%s", target->id, l != NULL ? " listener \"" : "",
             l != NULL ? l->src->name.s : "", l != NULL ? "\"" : "");
    claim_slot(model, policy, t, l != NULL ? &l->authn : &gw->authn, what);
    check_certificate_target(model, policy, gw, l, NULL);
}

static void
attach_target(struct pc_model *model, const struct pc_model_resource *policy,
              const struct pc_resource_target_ref *t)
{
    bool is_gateway = strcmp(t->kind.s, "Gateway") == 0;
    enum pc_resource_kind kind = is_gateway ? PC_RESOURCE_GATEWAY : PC_RESOURCE_HTTPROUTE;
    struct pc_model_resource *target = pc_model_find(model, kind, policy->ns, t->name.s);
    struct pc_model_route *route = target != NULL && !is_gateway ? target->state : NULL;
    char hint[320];
    char what[300];

    if (t->group.s != NULL && strcmp(t->group.s, PC_RESOURCE_GATEWAY_GROUP) != 0) {
        report(model, t->group.node, "leave group out",
               "group of a %s target must be \"" PC_RESOURCE_GATEWAY_GROUP "\"", t->kind.s);
        return;
    }
    if (target == NULL) {
        report(model, t->name.node,
               pc_model_suggest(model, kind, policy->ns, t->name.s, hint, sizeof(hint),
                                "policies target resources in their own namespace"),
               "%s %s/%s not found", t->kind.s, policy->ns, t->name.s);
        return;
    }
    if (is_gateway) {
        attach_gateway(model, policy, t, target);
        return;
    }
    if (t->section_name.node != NULL) {
        report(model, t->section_name.node, "remove it; a route policy applies to the whole route",
               "sectionName is only supported for Gateway targets");
        return;
    }
    if (route != NULL) {
        snprintf(what, sizeof(what), "HTTPRoute %s", target->id);
        claim_slot(model, policy, t, &route->authn, what);
        check_certificate_target(model, policy, NULL, NULL, route);
    }
}

/* ---- secrets and bundles ---- */

/*
 * Resolves ref (a Secret in policy's namespace) and the value of its key into *bytes and *len.
 * Returns true when found; reports what is missing otherwise (never the value).
 */
static bool
resolve_secret(struct pc_model *model, const struct pc_model_resource *policy,
               const struct pc_resource_object_ref *ref, const char *key, const char **bytes,
               size_t *len, int *rc)
{
    const struct pc_model_resource *secret =
        ref->name.s != NULL ? pc_model_find(model, PC_RESOURCE_SECRET, policy->ns, ref->name.s)
                            : NULL;
    char hint[320];
    int found;

    if (ref->name.s == NULL) {
        return false;
    }
    if (secret == NULL) {
        report(model, ref->name.node,
               pc_model_suggest(model, PC_RESOURCE_SECRET, policy->ns, ref->name.s, hint,
                                sizeof(hint), "declare the Secret in the policy's namespace"),
               "Secret %s/%s not found", policy->ns, ref->name.s);
        return false;
    }
    found = pc_model_secret_value(model, secret, key, bytes, len);
    if (found == PC_ENOENT) {
        snprintf(hint, sizeof(hint), "put it under data (base64) or stringData, key \"%s\"", key);
        report(model, ref->name.node, hint, "Secret %s has no key \"%s\"", secret->id, key);
    } else if (found == 0 && *len == 0) {
        report(model, ref->name.node, "give it a value", "Secret %s key \"%s\" is empty",
               secret->id, key);
        found = PC_EINVAL;
    }
    *rc = found == PC_ENOMEM ? found : 0;
    return found == 0;
}

/* RFC 7518 section 3.2: an HMAC key is at least as long as the hash output. */
static void
check_hmac_length(struct pc_model *model, const struct pc_model_resource *policy,
                  const struct pc_resource_object_ref *ref, uint32_t algorithms, size_t len)
{
    size_t need = (algorithms & PC_JWT_HS512) ? 64 : (algorithms & PC_JWT_HS384) ? 48 : 32;
    const char *alg = need == 64 ? "HS512" : need == 48 ? "HS384" : "HS256";

    if (len < need) {
        report(
            model, ref->name.node,
            "an HMAC key is at least as long as the hash (RFC 7518 section 3.2); `openssl rand -base64 64` makes one",
            "Secret %s/%s key \"secret\" holds %zu bytes, and %s needs at least %zu", policy->ns,
            ref->name.s, len, alg, need);
    }
}

/* A JWT-SVID provider's bundle is a TrustBundle of its trust domain that can hold JWT keys. */
static void
resolve_spiffe_bundle(struct pc_model *model, const struct pc_model_resource *policy,
                      const struct pc_resource_spiffe_keys *sp, struct provider_state *st)
{
    const struct pc_model_resource *bundle =
        pc_model_resolve_material(model, policy, sp->bundle_ref, PC_MODEL_USE_BUNDLE);
    const struct pc_model_material *m = bundle != NULL ? bundle->state : NULL;

    if (m == NULL || sp->trust_domain.s == NULL) {
        return;
    }
    if (!is_equal(m->bundle.trust_domain, sp->trust_domain.s)) {
        report(
            model, sp->bundle_ref->name.node, "name the TrustBundle of the provider's trust domain",
            "TrustBundle %s is for trust domain \"%s\", not \"%s\"", bundle->id,
            m->bundle.trust_domain != NULL ? m->bundle.trust_domain : "(none)", sp->trust_domain.s);
        return;
    }
    if (m->bundle.source.origin != PC_PEM_WORKLOAD_API && m->bundle.format != PC_BUNDLE_SPIFFE) {
        report(model, sp->bundle_ref->name.node,
               "use a TrustBundle with format: SPIFFE or workloadAPI: true",
               "TrustBundle %s holds PEM certificates, which carry no JWT-SVID keys", bundle->id);
        return;
    }
    st->bundle = bundle;
}

static int
resolve_providers(struct pc_model *model, const struct pc_model_resource *policy)
{
    const struct pc_resource_authn_policy *spec = policy->doc->spec;
    const struct pc_resource_jwt_provider *ps = spec->jwt->providers.items;
    struct authn_state *st = policy->state;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < spec->jwt->providers.n; i++) {
        struct provider_state *p = &st->providers[i];

        if (!p->has_keys) {
            continue;
        }
        if (p->origin == PC_JWKS_HMAC
            && resolve_secret(model, policy, ps[i].hmac_secret_ref, "secret", &p->hmac_secret,
                              &p->hmac_secret_len, &rc)) {
            check_hmac_length(model, policy, ps[i].hmac_secret_ref, p->algorithms,
                              p->hmac_secret_len);
        }
        if (p->origin == PC_JWKS_SPIFFE_BUNDLE && ps[i].spiffe->bundle_ref != NULL) {
            resolve_spiffe_bundle(model, policy, ps[i].spiffe, p);
        }
    }
    return rc;
}

static int
resolve_policy(struct pc_model *model, const struct pc_model_resource *policy)
{
    const struct pc_resource_authn_policy *spec = policy->doc->spec;
    const struct pc_resource_target_ref *ts = spec->target_refs.items;
    struct authn_state *st = policy->state;
    int rc = 0;

    for (size_t i = 0; i < spec->target_refs.n; i++) {
        if (ts[i].kind.s != NULL && ts[i].name.s != NULL) {
            attach_target(model, policy, &ts[i]);
        }
    }
    if (spec->jwt != NULL) {
        rc = resolve_providers(model, policy);
    }
    if (rc == 0 && spec->introspection != NULL && spec->introspection->client_secret_ref != NULL) {
        resolve_secret(model, policy, spec->introspection->client_secret_ref, "clientSecret",
                       &st->client_secret, &st->client_secret_len, &rc);
    }
    return rc;
}

int
pc_model_resolve_authn(struct pc_model *model)
{
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_AUTHN_POLICY]; i++) {
        const struct pc_model_resource *policy = model->res[PC_RESOURCE_AUTHN_POLICY][i];

        if (policy->state != NULL && resolve_policy(model, policy) != 0) {
            return PC_ENOMEM;
        }
    }
    return 0;
}

/* ---- compilation ---- */

/* Copies s (NULL stays NULL) into arena; *failed turns true when out of memory. */
static const char *
copy_string(struct pc_arena *arena, const char *s, bool *failed)
{
    const char *d = s != NULL ? pc_arena_strdup(arena, s) : NULL;

    *failed = *failed || (s != NULL && d == NULL);
    return d;
}

static const char *
copy_lower(struct pc_arena *arena, const char *s, bool *failed)
{
    char *d = (char *)copy_string(arena, s, failed);

    for (size_t i = 0; d != NULL && d[i] != '\0'; i++) {
        d[i] = d[i] >= 'A' && d[i] <= 'Z' ? (char)(d[i] - 'A' + 'a') : d[i];
    }
    return d;
}

/* Copies a decoded list of strings; returns NULL (n 0) for an empty one. */
static const char *const *
copy_strings(struct pc_arena *arena, const struct pc_schema_list *list, size_t *n, bool *failed)
{
    const struct pc_schema_string *ss = list->items;
    const char **out = list->n > 0 ? pc_arena_calloc(arena, list->n, sizeof(*out)) : NULL;

    *n = 0;
    if (list->n > 0 && out == NULL) {
        *failed = true;
        return NULL;
    }
    for (size_t i = 0; i < list->n; i++) {
        out[i] = copy_string(arena, ss[i].s, failed);
    }
    *n = list->n;
    return out;
}

static const struct pc_claim_requirement *
copy_claims(struct pc_arena *arena, const struct pc_schema_list *list, size_t *n, bool *failed)
{
    const struct pc_resource_claim_match *ms = list->items;
    struct pc_claim_requirement *out =
        list->n > 0 ? pc_arena_calloc(arena, list->n, sizeof(*out)) : NULL;

    *n = 0;
    if (list->n > 0 && out == NULL) {
        *failed = true;
        return NULL;
    }
    for (size_t i = 0; i < list->n; i++) {
        out[i].path = copy_string(arena, ms[i].name.s, failed);
        out[i].values = copy_strings(arena, &ms[i].values, &out[i].n_values, failed);
    }
    *n = list->n;
    return out;
}

/* Copies secret bytes into the snapshot, wiped with it; the wipe is registered first. */
static const char *
copy_secret(struct pc_arena *arena, const char *bytes, size_t len, bool *failed)
{
    char *d = bytes != NULL ? pc_arena_alloc(arena, len + 1) : NULL;

    if (bytes == NULL) {
        return NULL;
    }
    if (d == NULL || pc_model_wipe_later(arena, d, len + 1) != 0) {
        *failed = true;
        return NULL;
    }
    memcpy(d, bytes, len);
    d[len] = '\0';
    return d;
}

static void
compile_refresh(const struct pc_resource_key_refresh *r, struct pc_jwt_provider *out)
{
    out->refresh_ms = r != NULL ? (uint32_t)r->interval.v : PC_CONFIG_DEFAULT_JWKS_REFRESH_MS;
    out->min_refresh_ms =
        r != NULL ? (uint32_t)r->min_interval.v : PC_CONFIG_DEFAULT_JWKS_MIN_REFRESH_MS;
    out->stale_ms = r != NULL ? (uint32_t)r->stale.v : PC_CONFIG_DEFAULT_JWKS_STALE_MS;
    out->fetch_timeout_ms =
        r != NULL ? (uint32_t)r->timeout.v : PC_CONFIG_DEFAULT_JWKS_FETCH_TIMEOUT_MS;
    out->serve_stale = r != NULL && r->serve_stale.v != 0;
}

static int
compile_keys(struct pc_model_tls_compiler *tc, const struct pc_resource_jwt_provider *p,
             const struct provider_state *st, struct pc_jwt_provider *out, bool *failed)
{
    out->key_origin = st->origin;
    switch (st->origin) {
    case PC_JWKS_URI:
        out->jwks_uri = copy_string(tc->arena, p->remote_jwks->uri.s, failed);
        return 0;
    case PC_JWKS_LOCAL:
        return pc_model_compile_source(tc, &st->jwks, false, &out->jwks);
    case PC_JWKS_SPIFFE_BUNDLE:
        out->spiffe_trust_domain = copy_string(tc->arena, p->spiffe->trust_domain.s, failed);
        return pc_model_compile_bundle(tc, st->bundle, &out->spiffe_bundle);
    case PC_JWKS_HMAC:
        out->hmac_secret = copy_secret(tc->arena, st->hmac_secret, st->hmac_secret_len, failed);
        out->hmac_secret_len = st->hmac_secret_len;
        return 0;
    case PC_JWKS_DISCOVERY:
    default:
        return 0;
    }
}

static int
compile_provider(struct pc_model_tls_compiler *tc, const struct pc_model_resource *policy,
                 const struct pc_resource_jwt_provider *p, const struct provider_state *st,
                 struct pc_jwt_provider *out)
{
    bool failed = false;

    out->name = pc_arena_sprintf(tc->arena, "%s/%s", policy->id, p->name.s);
    out->issuer = copy_string(tc->arena, p->issuer.s, &failed);
    out->audiences = copy_strings(tc->arena, &p->audiences, &out->n_audiences, &failed);
    out->algorithms = st->algorithms;
    out->typ = copy_string(tc->arena, p->typ.s, &failed);
    out->clock_skew_s = (uint32_t)(p->clock_skew.v / 1000);
    out->required_claims =
        copy_claims(tc->arena, &p->required_claims, &out->n_required_claims, &failed);
    out->cache_ttl_ms = (uint32_t)p->cache_ttl.v;
    compile_refresh(p->refresh, out);
    if (compile_keys(tc, p, st, out, &failed) != 0 || out->name == NULL || failed) {
        return PC_ENOMEM;
    }
    return 0;
}

static int
compile_introspection(struct pc_arena *arena, const struct pc_resource_introspection *src,
                      const struct authn_state *st, const struct pc_introspection **out)
{
    struct pc_introspection *in = pc_arena_calloc(arena, 1, sizeof(*in));
    bool failed = false;

    if (in == NULL) {
        return PC_ENOMEM;
    }
    in->endpoint = copy_string(arena, src->endpoint.s, &failed);
    in->client_id = copy_string(arena, src->client_id.s, &failed);
    in->client_secret = copy_secret(arena, st->client_secret, st->client_secret_len, &failed);
    in->use_basic_auth = !is_equal(src->auth_method.s, "client_secret_post");
    in->issuer = copy_string(arena, src->issuer.s, &failed);
    in->timeout_ms = (uint32_t)src->timeout.v;
    in->cache_ttl_ms = (uint32_t)src->cache_ttl.v;
    *out = in;
    return failed ? PC_ENOMEM : 0;
}

/* RFC 6750 section 2.1 is the default: Authorization: Bearer <token>. */
static void
compile_location(struct pc_arena *arena, const struct pc_resource_token_location *t,
                 struct pc_authn *out, bool *failed)
{
    const struct pc_resource_token_header *h = t != NULL ? t->header : NULL;

    if (t != NULL && t->cookie != NULL) {
        out->location = PC_TOKEN_COOKIE;
        out->location_name = copy_string(arena, t->cookie->name.s, failed);
        return;
    }
    if (h != NULL
        && !(strcasecmp(h->name.s, "authorization") == 0 && h->prefix.s != NULL
             && strcasecmp(h->prefix.s, "Bearer ") == 0)) {
        out->location = PC_TOKEN_HEADER;
        out->location_name = copy_lower(arena, h->name.s, failed);
        out->location_prefix = copy_string(arena, h->prefix.s, failed);
        return;
    }
    out->location = PC_TOKEN_BEARER;
    out->location_name = "authorization";
    out->location_prefix = "Bearer ";
}

static void
compile_binding(const struct pc_resource_sender_constraint *c, struct pc_authn *out)
{
    static const char *const modes[] = { "None", "Certificate", "DPoP", "Any" };

    out->binding = PC_BINDING_NONE;
    out->dpop_max_age_s = PC_CONFIG_DEFAULT_DPOP_MAX_AGE_MS / 1000;
    if (c == NULL) {
        return;
    }
    /* modes[] is in the order of enum pc_sender_binding. */
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (is_equal(c->mode.s, modes[i])) {
            out->binding = (enum pc_sender_binding)i;
        }
    }
    out->binding_if_present = c->if_present.v != 0;
    out->dpop_max_age_s = (uint32_t)(c->dpop_max_age.v / 1000);
}

static const struct pc_claim_header *
copy_forward(struct pc_arena *arena, const struct pc_schema_list *list, bool *failed)
{
    const struct pc_resource_claim_header *hs = list->items;
    struct pc_claim_header *out =
        list->n > 0 ? pc_arena_calloc(arena, list->n, sizeof(*out)) : NULL;

    if (list->n > 0 && out == NULL) {
        *failed = true;
    }
    for (size_t i = 0; out != NULL && i < list->n; i++) {
        out[i].path = copy_string(arena, hs[i].claim.s, failed);
        out[i].header = copy_lower(arena, hs[i].header.s, failed);
    }
    return out;
}

/* Requirements, principal claims, forwarded headers and the realm. */
static void
compile_identity(struct pc_arena *arena, const struct pc_resource_authn_policy *spec,
                 struct pc_authn *out, bool *failed)
{
    static const char *const default_client_ids[] = { "client_id", "azp" };
    const struct pc_resource_identity_requirement *req = spec->require;
    const struct pc_resource_principal *pr = spec->principal;

    if (req != NULL && req->scopes != NULL) {
        out->scopes_all = copy_strings(arena, &req->scopes->all_of, &out->n_scopes_all, failed);
        out->scopes_any = copy_strings(arena, &req->scopes->any_of, &out->n_scopes_any, failed);
    }
    if (req != NULL && req->claims != NULL) {
        out->claims_all = copy_claims(arena, &req->claims->all_of, &out->n_claims_all, failed);
        out->claims_any = copy_claims(arena, &req->claims->any_of, &out->n_claims_any, failed);
    }
    out->client_id_claims = default_client_ids;
    out->n_client_id_claims = 2;
    if (pr != NULL && pr->client_id_claims.node != NULL) {
        out->client_id_claims =
            copy_strings(arena, &pr->client_id_claims, &out->n_client_id_claims, failed);
    }
    if (pr != NULL) {
        out->role_paths = copy_strings(arena, &pr->role_claims, &out->n_role_paths, failed);
    }
    out->forward = copy_forward(arena, &spec->claim_to_headers, failed);
    out->n_forward = spec->claim_to_headers.n;
    out->realm = copy_string(arena, spec->realm.s, failed);
}

static int
compile_policy(struct pc_model_tls_compiler *tc, const struct pc_model_resource *policy,
               const struct authn_state *st, struct pc_authn **out)
{
    const struct pc_resource_authn_policy *spec = policy->doc->spec;
    const struct pc_resource_jwt_provider *ps =
        spec->jwt != NULL ? spec->jwt->providers.items : NULL;
    size_t n = spec->jwt != NULL ? spec->jwt->providers.n : 0;
    struct pc_authn *a = pc_arena_calloc(tc->arena, 1, sizeof(*a));
    struct pc_jwt_provider *providers = pc_arena_calloc(tc->arena, n + 1, sizeof(*providers));
    bool failed = a == NULL || providers == NULL;

    for (size_t i = 0; !failed && i < n; i++) {
        failed = compile_provider(tc, policy, &ps[i], &st->providers[i], &providers[i]) != 0;
    }
    if (failed
        || (spec->introspection != NULL
            && compile_introspection(tc->arena, spec->introspection, st, &a->introspection) != 0)) {
        return PC_ENOMEM;
    }
    a->policy = copy_string(tc->arena, policy->id, &failed);
    a->providers = providers;
    a->n_providers = n;
    compile_location(tc->arena, spec->token_location, a, &failed);
    a->is_optional = spec->optional.v != 0;
    compile_binding(spec->sender_constraint, a);
    compile_identity(tc->arena, spec, a, &failed);
    *out = a;
    return failed ? PC_ENOMEM : 0;
}

static int
push_authn(struct pc_model_tls_compiler *tc, const struct pc_authn *authn)
{
    if (tc->n_authns == tc->cap_authns) {
        size_t cap = tc->cap_authns == 0 ? 8 : tc->cap_authns * 2;
        const struct pc_authn **v = pc_realloc(tc->authns, cap * sizeof(*v));

        if (v == NULL) {
            return PC_ENOMEM;
        }
        tc->authns = v;
        tc->cap_authns = cap;
    }
    tc->authns[tc->n_authns++] = authn;
    return 0;
}

int
pc_model_compile_authn(struct pc_model_tls_compiler *tc, const struct pc_model_resource *route,
                       const struct pc_model_listener *l, const struct pc_authn **out)
{
    const struct pc_model_route *r = route->state;
    const struct pc_model_gateway *gw = l->gateway->state;
    const struct pc_model_resource *policy = r->authn.owner;
    struct authn_state *st;
    struct pc_authn *authn = NULL;

    /* The most specific policy applies whole: route, then listener, then Gateway. */
    policy = policy != NULL ? policy : l->authn.owner;
    policy = policy != NULL ? policy : gw->authn.owner;
    *out = NULL;
    if (policy == NULL) {
        return 0;
    }
    st = policy->state;
    if (st->compiled == NULL) {
        if (compile_policy(tc, policy, st, &authn) != 0 || push_authn(tc, authn) != 0) {
            return PC_ENOMEM;
        }
        st->compiled = authn;
    }
    *out = st->compiled;
    return 0;
}
