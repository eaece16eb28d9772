/*
 * The authentication step: who is calling, from the token the request carries.
 *
 * A token found where the route's AuthenticationPolicy says is looked up in the worker's
 * verified-token cache first; a miss is a JWT verified against its provider's keys (chosen by
 * the token's iss), or an opaque token sent to the introspection endpoint. The principal that
 * comes out is bound to the sender when the policy asks (the client certificate of this
 * connection, or a DPoP proof), checked against the route's scope and claim requirements, and
 * kept on the exchange for authorization, the access log and the claims forwarded upstream.
 *
 * Two kinds of failure stay apart, in answers, counters and logs: a bad token (401, with
 * WWW-Authenticate as RFC 6750 section 3 defines) and an identity provider that cannot be
 * reached (503, or stale keys where configured). The step suspends twice at most: waiting for
 * keys refetched because of an unknown kid, and waiting for an introspection answer; both
 * resume on this worker's loop.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "authn/cache.h"
#include "authn/dpop.h"
#include "authn/jwks.h"
#include "authn/jws.h"
#include "authn/jwt.h"
#include "authn/keyring.h"
#include "authn/principal.h"
#include "authn/reason.h"
#include "core/arena.h"
#include "core/fetch.h"
#include "core/log.h"
#include "observe/metrics.h"
#include "proxy/conn.h"
#include "tls/peer.h"

_Static_assert((unsigned)PC_JWT_RS256 == (unsigned)PC_JWS_ALG_RS256, "alg bits agree");
_Static_assert((unsigned)PC_JWT_EDDSA == (unsigned)PC_JWS_ALG_EDDSA, "alg bits agree");
_Static_assert((unsigned)PC_JWT_HS512 == (unsigned)PC_JWS_ALG_HS512, "alg bits agree");

#define MAX_TOKEN_BYTES 8192
#define DPOP_SKEW_S     5
/* The proof algorithms check_dpop accepts (PC_JWS_ALG_ASYMMETRIC), for the challenge's algs. */
#define DPOP_ALGS       "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"
#define INTROSPECT_MAX  (64 * 1024)

enum authn_outcome {
    AUTHN_OK = 0,   /* a principal (or an anonymous caller where allowed): go on */
    AUTHN_ANSWERED, /* refused: the answer is made */
    AUTHN_WAITING,  /* suspended; the step resumes later */
};

static struct pc_log_limit unavailable_limit = PC_LOG_LIMIT_INIT(10, 60000);

/* Seconds since the epoch for token lifetimes. time() reads the clock as of the last timer tick,
 * up to a tick behind the precise clock that token issuers read, so a token issued this instant
 * could seem to come from the future; the precise clock is read instead. */
static int64_t
wall_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* --- answers --- */

static const char *
describe(enum pc_authn_reason reason)
{
    switch (reason) {
    case PC_AUTHN_EXPIRED:
        return "The access token expired";
    case PC_AUTHN_NOT_YET_VALID:
    case PC_AUTHN_IAT_IN_FUTURE:
        return "The access token is not valid yet";
    case PC_AUTHN_WRONG_AUDIENCE:
        return "The access token is not for this audience";
    case PC_AUTHN_DPOP_WRONG_HTM:
    case PC_AUTHN_DPOP_WRONG_HTU:
    case PC_AUTHN_DPOP_STALE:
    case PC_AUTHN_DPOP_WRONG_ATH:
    case PC_AUTHN_DPOP_WRONG_JKT:
    case PC_AUTHN_DPOP_BAD_KEY:
    case PC_AUTHN_DPOP_PRIVATE_KEY:
    case PC_AUTHN_DPOP_MISSING:
        return "The DPoP proof is not valid";
    case PC_AUTHN_DPOP_AS_BEARER:
        return "The access token is bound to a DPoP key";
    default:
        /* Which check failed is for the operator's log, not for the caller. */
        return "The access token is not valid";
    }
}

/*
 * RFC 6750 section 3, or RFC 9449 section 7.1 for DPoP-bound routes, whose challenge names the
 * proof algorithms accepted whether or not it names an error.
 */
static char *
challenge(struct pc_exchange *x, const struct pc_authn *a, const char *error, const char *desc,
          const char *scope)
{
    bool is_dpop = a->binding == PC_BINDING_DPOP && !a->binding_if_present;
    const char *scheme = is_dpop ? "DPoP" : "Bearer";
    const char *algs = is_dpop ? "algs=\"" DPOP_ALGS "\"" : "";
    const char *comma = a->realm != NULL ? "," : "";
    char realm[160] = "";

    if (a->realm != NULL) {
        snprintf(realm, sizeof(realm), " realm=\"%s\"", a->realm);
    }
    if (error == NULL) {
        return pc_arena_sprintf(x->arena, "%s%s%s%s%s", scheme, realm, is_dpop ? comma : "",
                                is_dpop ? " " : "", algs);
    }
    return pc_arena_sprintf(x->arena, "%s%s%s error=\"%s\", error_description=\"%s\"%s%s%s%s%s",
                            scheme, realm, comma, error, desc, scope != NULL ? ", scope=\"" : "",
                            scope != NULL ? scope : "", scope != NULL ? "\"" : "",
                            is_dpop ? ", " : "", algs);
}

static void
answer(struct pc_exchange *x, unsigned status, const char *reason, const char *www_authenticate)
{
    struct pc_header_pair h = { .name = "www-authenticate", .name_len = 16 };
    char body[256];
    int n;

    n = snprintf(body, sizeof(body),
                 "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%u,\"request_id\":\"%s\"}",
                 pc_h1_reason_phrase(status), status, exchange_request_id(x));
    h.value = www_authenticate;
    h.value_len = www_authenticate != NULL ? strlen(www_authenticate) : 0;
    exchange_answer_with(x, status, reason, &h, www_authenticate != NULL ? 1 : 0,
                         "application/problem+json", body, (size_t)n);
}

/*
 * A 401 names nobody: a token may have verified while its sender failed to prove that it holds
 * it (RFC 8705, RFC 9449), and the access log must not attribute the refused request to the
 * token's subject. The arena keeps the reference until it is reset.
 */
static void
forget_principal(struct pc_exchange *x)
{
    x->principal = NULL;
}

/* Answers 401 with error (RFC 6750 section 3.1, RFC 9449 section 7.1), or 503 for INTERNAL. */
static enum authn_outcome
refuse_with(struct pc_exchange *x, const struct pc_authn *a, enum pc_authn_reason reason,
            const char *error, const char *desc)
{
    const char *name = pc_authn_reason_name(reason);

    if (reason == PC_AUTHN_INTERNAL) {
        pc_metrics_add(server_metrics(x->server), PC_M_OUT_OF_MEMORY, 1);
        answer(x, 503, "authn_internal", NULL);
        return AUTHN_ANSWERED;
    }
    /* A bad token is the client's doing: a counter and a debug line, never a warning. */
    pc_metrics_authn_failure(server_metrics(x->server), name);
    pc_log(PC_LOG_DEBUG, "authn", "token_refused", "policy=%s reason=%s error=%s", a->policy, name,
           error);
    forget_principal(x);
    answer(x, 401, name, challenge(x, a, error, desc, NULL));
    return AUTHN_ANSWERED;
}

static enum authn_outcome
refuse(struct pc_exchange *x, const struct pc_authn *a, enum pc_authn_reason reason)
{
    return refuse_with(x, a, reason, "invalid_token", describe(reason));
}

/*
 * RFC 9449 section 7.1: a proof that fails a check of section 4.3 is "invalid_dpop_proof",
 * whichever check it was; a proof by another key than the token's is a failed key binding,
 * which the RFC's own example answers with "invalid_token".
 */
static enum authn_outcome
refuse_proof(struct pc_exchange *x, const struct pc_authn *a, enum pc_authn_reason reason)
{
    if (reason == PC_AUTHN_DPOP_WRONG_JKT) {
        return refuse(x, a, reason);
    }
    return refuse_with(x, a, reason, "invalid_dpop_proof", "The DPoP proof is not valid");
}

static enum authn_outcome
unavailable(struct pc_exchange *x, const struct pc_authn *a, const char *what, const char *who)
{
    pc_metrics_add(server_metrics(x->server), PC_M_AUTHN_UNAVAILABLE, 1);
    if (pc_log_limit_allow(&unavailable_limit)) {
        pc_log(PC_LOG_WARN, "authn", "identity_provider_unavailable",
               "policy=%s source=%s reason=%s effect=503", a->policy, who, what);
    }
    answer(x, 503, what, NULL);
    return AUTHN_ANSWERED;
}

/* --- finding the token --- */

/* RFC 6750 section 2.1: b64token characters. */
static bool
is_token68(const char *s, size_t len)
{
    /* One bit per byte 0..127: ALPHA DIGIT - . _ ~ + / and '='. A table and no branch per
     * character: a token is hundreds of bytes, read on every request, cache hits included. */
    static const uint64_t allowed[2] = { 0x23ffe80000000000ull, 0x47fffffe87fffffeull };
    uint64_t missing = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        uint64_t word = c < 128 ? allowed[c >> 6] : 0;

        missing |= ~(word >> (c & 63)) & 1;
    }
    return len > 0 && missing == 0;
}

static const struct pc_header_pair *
only_header(const struct pc_h1_head *req, const char *name, size_t len, bool *is_repeated)
{
    const struct pc_header_pair *found = NULL;

    *is_repeated = false;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct pc_header_pair *h = &req->headers[i];

        if (h->name_len == len && memcmp(h->name, name, len) == 0) {
            *is_repeated = found != NULL;
            found = h;
        }
    }
    return found;
}

/* Reads "<scheme> <token>" where the auth-scheme is compared case-insensitively (RFC 9110
 * section 11.1). */
static bool
take_scheme(const struct pc_header_pair *h, const char *scheme, const char **token, size_t *len)
{
    size_t n = strlen(scheme);

    if (h->value_len <= n + 1 || strncasecmp(h->value, scheme, n) != 0 || h->value[n] != ' ') {
        return false;
    }
    *token = h->value + n + 1;
    *len = h->value_len - n - 1;
    while (*len > 0 && **token == ' ') {
        (*token)++;
        (*len)--;
    }
    return true;
}

static bool
find_cookie(const struct pc_h1_head *req, const char *name, const char **token, size_t *len)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < req->n_headers; i++) {
        const struct pc_header_pair *h = &req->headers[i];
        const char *p = h->value;
        const char *end = h->value + h->value_len;

        if (h->name_len != 6 || memcmp(h->name, "cookie", 6) != 0) {
            continue;
        }
        while (p < end) {
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *stop = semi != NULL ? semi : end;

            while (p < stop && *p == ' ') {
                p++;
            }
            if ((size_t)(stop - p) > n && memcmp(p, name, n) == 0 && p[n] == '=') {
                *token = p + n + 1;
                *len = (size_t)(stop - p) - n - 1;
                return true;
            }
            p = stop + 1;
        }
    }
    return false;
}

/*
 * Finds the token. Returns 1 with *token set, 0 when the request carries none, -1 when what it
 * carries is malformed (two Authorization fields, a token with characters no token has).
 */
static int
find_token(struct pc_exchange *x, const struct pc_authn *a, const char **token, size_t *len,
           bool *is_dpop_scheme)
{
    const struct pc_header_pair *h;
    bool is_repeated = false;

    *is_dpop_scheme = false;
    switch (a->location) {
    case PC_TOKEN_BEARER:
        h = only_header(x->req, "authorization", 13, &is_repeated);
        if (h == NULL) {
            return 0;
        }
        if (take_scheme(h, "DPoP", token, len)) {
            *is_dpop_scheme = true;
        } else if (!take_scheme(h, "Bearer", token, len)) {
            return 0;
        }
        break;
    case PC_TOKEN_HEADER:
        h = only_header(x->req, a->location_name, strlen(a->location_name), &is_repeated);
        if (h == NULL) {
            return 0;
        }
        *token = h->value;
        *len = h->value_len;
        if (a->location_prefix != NULL) {
            size_t n = strlen(a->location_prefix);

            if (*len < n || strncasecmp(*token, a->location_prefix, n) != 0) {
                return 0;
            }
            *token += n;
            *len -= n;
        }
        break;
    case PC_TOKEN_COOKIE:
        if (!find_cookie(x->req, a->location_name, token, len)) {
            return 0;
        }
        break;
    }
    if (is_repeated || !is_token68(*token, *len)) {
        return -1;
    }
    return 1;
}

/* --- the principal's checks --- */

static bool
claim_holds(const struct pc_principal *p, const struct pc_claim_requirement *r)
{
    /* The two claim-rule layouts agree field for field (asserted beside fill_options). */
    return pc_jwt_claim_holds(pc_principal_claims(p), (const struct pc_jwt_claim_rule *)r)
           == PC_AUTHN_OK;
}

/*
 * RFC 6750 section 3: the scope attribute names what a token needs here, so that a client asking
 * for a token with exactly those scopes gets one that passes: every allOf scope, and one anyOf
 * scope (the one already granted, else the first). Returns arena memory, or NULL.
 */
static char *
needed_scopes(struct pc_exchange *x, const struct pc_authn *a, const char *any)
{
    size_t len = any != NULL ? strlen(any) + 1 : 1;
    char *out;
    char *p;

    for (size_t i = 0; i < a->n_scopes_all; i++) {
        len += strlen(a->scopes_all[i]) + 1;
    }
    out = pc_arena_alloc(x->arena, len);
    if (out == NULL) {
        return NULL;
    }
    p = out;
    for (size_t i = 0; i < a->n_scopes_all; i++) {
        p += sprintf(p, "%s%s", p == out ? "" : " ", a->scopes_all[i]);
    }
    if (any != NULL) {
        sprintf(p, "%s%s", p == out ? "" : " ", any);
    }
    return out;
}

static enum authn_outcome
check_scopes(struct pc_exchange *x, const struct pc_authn *a)
{
    const struct pc_principal *p = x->principal;
    const char *any = NULL;
    bool ok = true;

    for (size_t i = 0; ok && i < a->n_scopes_all; i++) {
        ok = pc_principal_has_scope(p, a->scopes_all[i], strlen(a->scopes_all[i]));
    }
    for (size_t i = 0; any == NULL && i < a->n_scopes_any; i++) {
        if (pc_principal_has_scope(p, a->scopes_any[i], strlen(a->scopes_any[i]))) {
            any = a->scopes_any[i];
        }
    }
    if (ok && (any != NULL || a->n_scopes_any == 0)) {
        return AUTHN_OK;
    }
    if (any == NULL && a->n_scopes_any > 0) {
        any = a->scopes_any[0];
    }
    pc_metrics_authn_failure(server_metrics(x->server), "insufficient_scope");
    answer(x, 403, "insufficient_scope",
           challenge(x, a, "insufficient_scope", "The access token lacks a required scope",
                     needed_scopes(x, a, any)));
    return AUTHN_ANSWERED;
}

static enum authn_outcome
check_requirements(struct pc_exchange *x, const struct pc_authn *a)
{
    const struct pc_principal *p = x->principal;
    bool ok = true;

    if (check_scopes(x, a) != AUTHN_OK) {
        return AUTHN_ANSWERED;
    }
    for (size_t i = 0; ok && i < a->n_claims_all; i++) {
        ok = claim_holds(p, &a->claims_all[i]);
    }
    if (ok && a->n_claims_any > 0) {
        ok = false;
        for (size_t i = 0; !ok && i < a->n_claims_any; i++) {
            ok = claim_holds(p, &a->claims_any[i]);
        }
    }
    if (!ok) {
        pc_metrics_authn_failure(server_metrics(x->server), "insufficient_claims");
        answer(x, 403, "insufficient_claims", NULL);
        return AUTHN_ANSWERED;
    }
    return AUTHN_OK;
}

/* RFC 8705 section 3: the token's cnf x5t#S256 against this connection's client certificate. */
static enum authn_outcome
check_certificate_binding(struct pc_exchange *x, const struct pc_authn *a)
{
    const struct pc_peer_identity *peer = x->conn->peer_identity;
    enum pc_authn_reason reason = PC_AUTHN_CNF_MISMATCH;
    unsigned char *der = NULL;
    int len;
    int rc = PC_EACCES;

    if (peer != NULL && peer->leaf != NULL) {
        len = i2d_X509(peer->leaf, &der);
        if (len > 0) {
            rc = pc_principal_check_certificate(x->principal, der, (size_t)len, &reason);
        }
        OPENSSL_free(der);
    }
    return rc == 0 ? AUTHN_OK : refuse(x, a, reason);
}

/* The URI a DPoP proof's htu names: the request's own, without query. */
static char *
request_uri(struct pc_exchange *x, size_t *len)
{
    const char *q = memchr(x->req->target, '?', x->req->target_len);
    size_t path_len = q != NULL ? (size_t)(q - x->req->target) : x->req->target_len;
    char *uri = pc_arena_sprintf(x->arena, "%s://%.*s%.*s", x->conn->tls != NULL ? "https" : "http",
                                 (int)x->authority_len, x->authority != NULL ? x->authority : "",
                                 (int)path_len, x->req->target);

    *len = uri != NULL ? strlen(uri) : 0;
    return uri;
}

/* RFC 9449 section 4.3 and 7.1: a proof for this request, by the key the token is bound to,
 * never seen before. */
static enum authn_outcome
check_dpop(struct pc_exchange *x, const struct pc_authn *a, const char *token, size_t token_len)
{
    struct pc_dpop_options opts = {
        .algorithms = PC_JWS_ALG_ASYMMETRIC,
        .max_age_s = a->dpop_max_age_s > 0 ? a->dpop_max_age_s : 60,
        .clock_skew_s = DPOP_SKEW_S,
    };
    bool is_repeated = false;
    const struct pc_header_pair *h = only_header(x->req, "dpop", 4, &is_repeated);
    struct pc_dpop_request req = { .method = x->req->method, .method_len = x->req->method_len };
    enum pc_authn_reason reason = PC_AUTHN_DPOP_BAD_KEY;
    struct pc_dpop_proof proof;
    uint64_t now = uv_now(server_loop(x->server));
    int rc;

    if (h == NULL || is_repeated) {
        return refuse_proof(x, a, PC_AUTHN_DPOP_MISSING);
    }
    req.uri = request_uri(x, &req.uri_len);
    req.access_token = token;
    req.access_token_len = token_len;
    req.jkt = pc_principal_cnf_jkt(x->principal);
    if (req.uri == NULL || req.jkt == NULL) {
        return refuse(x, a, req.uri == NULL ? PC_AUTHN_INTERNAL : PC_AUTHN_CNF_MISSING);
    }
    rc = pc_dpop_verify(h->value, h->value_len, &opts, &req, wall_seconds(), x->arena, &proof,
                        &reason);
    if (rc != 0) {
        return refuse_proof(x, a, reason);
    }
    rc = pc_replay_cache_check(server_replay(x->server), proof.thumbprint, sizeof(proof.thumbprint),
                               proof.jti, proof.jti_len, now,
                               now + 1000ull * (opts.max_age_s + 2 * DPOP_SKEW_S));
    if (rc != 0) {
        pc_metrics_authn_failure(server_metrics(x->server), "dpop_replay");
        forget_principal(x);
        answer(x, 401, "dpop_replay",
               challenge(x, a, "invalid_dpop_proof", "The DPoP proof was used before", NULL));
        return AUTHN_ANSWERED;
    }
    return AUTHN_OK;
}

static enum authn_outcome
check_binding(struct pc_exchange *x, const struct pc_authn *a, const char *token, size_t len,
              bool is_dpop_scheme)
{
    bool has_jkt = pc_principal_cnf_jkt(x->principal) != NULL;
    bool has_x5t = pc_principal_cnf_x5t(x->principal) != NULL;
    enum pc_sender_binding b = a->binding;

    if (is_dpop_scheme && b != PC_BINDING_CERTIFICATE) {
        /* RFC 9449 section 7.1: the DPoP scheme always comes with a proof, checked whatever the
         * policy asks of tokens sent as bearer tokens. */
        return check_dpop(x, a, token, len);
    }
    if (has_jkt && !is_dpop_scheme && a->location == PC_TOKEN_BEARER
        && b != PC_BINDING_CERTIFICATE) {
        /* RFC 9449 section 7.2: these routes take the DPoP scheme, so a DPoP-bound token sent as
         * a bearer token is refused on each of them, even where no binding is required: one
         * stolen token would otherwise be a bearer token wherever a policy asks for none. */
        return refuse(x, a, PC_AUTHN_DPOP_AS_BEARER);
    }
    if (b == PC_BINDING_NONE) {
        return AUTHN_OK;
    }
    if (a->binding_if_present && !has_jkt && !has_x5t) {
        return AUTHN_OK;
    }
    if (b == PC_BINDING_ANY) {
        b = has_jkt ? PC_BINDING_DPOP : has_x5t ? PC_BINDING_CERTIFICATE : PC_BINDING_NONE;
        if (b == PC_BINDING_NONE) {
            return refuse(x, a, PC_AUTHN_CNF_MISSING);
        }
    }
    if (b == PC_BINDING_CERTIFICATE) {
        return check_certificate_binding(x, a);
    }
    if (!is_dpop_scheme && a->location == PC_TOKEN_BEARER) {
        /* A token bound to a certificate only, sent without a proof to a DPoP route. */
        return refuse(x, a, PC_AUTHN_CNF_MISSING);
    }
    return check_dpop(x, a, token, len);
}

/* Claims forwarded upstream as headers (build_request_head drops the client's same names). */
static void
collect_forwarded_claims(struct pc_exchange *x, const struct pc_authn *a)
{
    struct pc_header_pair *out = pc_arena_calloc(x->arena, a->n_forward + 1, sizeof(*out));
    size_t n = 0;

    for (size_t i = 0; out != NULL && i < a->n_forward; i++) {
        const json_t *v = pc_principal_claim(x->principal, a->forward[i].path);
        char *text = NULL;

        if (v == NULL) {
            continue;
        }
        if (json_is_string(v)) {
            text = pc_arena_strdup(x->arena, json_string_value(v));
        } else {
            char *dumped = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

            text = dumped != NULL ? pc_arena_strdup(x->arena, dumped) : NULL;
            free(dumped);
        }
        if (text == NULL || !pc_h1_is_safe_value(text, strlen(text))) {
            continue;
        }
        out[n].name = a->forward[i].header;
        out[n].name_len = strlen(a->forward[i].header);
        out[n].value = text;
        out[n].value_len = strlen(text);
        n++;
    }
    x->identity_headers = out;
    x->n_identity_headers = n;
}

static void
release_principal(void *p)
{
    pc_principal_unref(p);
}

static int
adopt(struct pc_exchange *x, struct pc_principal *p)
{
    if (pc_arena_cleanup_add(x->arena, release_principal, pc_principal_ref(p)) != 0) {
        pc_principal_unref(p);
        return PC_ENOMEM;
    }
    x->principal = p;
    return 0;
}

/* Everything after the principal is known. */
static enum authn_outcome
accept_principal(struct pc_exchange *x, const struct pc_authn *a, const char *token, size_t len,
                 bool is_dpop_scheme)
{
    enum authn_outcome o = check_binding(x, a, token, len, is_dpop_scheme);

    if (o != AUTHN_OK) {
        return o;
    }
    o = check_requirements(x, a);
    if (o == AUTHN_OK) {
        collect_forwarded_claims(x, a);
    }
    return o;
}

/* --- JWTs --- */

static bool
looks_like_jwt(const char *token, size_t len)
{
    const char *dot = memchr(token, '.', len);

    return dot != NULL && memchr(dot + 1, '.', len - (size_t)(dot + 1 - token)) != NULL;
}

/* The provider whose issuer the token names. With one provider there is nothing to choose. */
static const struct pc_jwt_provider *
choose_provider(struct pc_exchange *x, const struct pc_authn *a, const char *token, size_t len,
                enum pc_authn_reason *reason)
{
    struct pc_jws jws;
    json_t *claims;
    const char *iss;

    if (a->n_providers == 1) {
        return &a->providers[0];
    }
    if (pc_jws_parse(token, len, PC_JWS_ALG_ASYMMETRIC | PC_JWS_ALG_HMAC, MAX_TOKEN_BYTES, 0,
                     x->arena, &jws, reason)
        != 0) {
        return NULL;
    }
    claims = pc_jws_json_object(jws.payload, jws.payload_len, reason);
    iss = json_string_value(json_object_get(claims, "iss"));
    /* A token without iss can only be a JWT-SVID of a provider configured without one. */
    for (size_t i = 0; i < a->n_providers; i++) {
        const char *want = a->providers[i].issuer;

        if (iss == NULL ? want == NULL : want != NULL && strcmp(want, iss) == 0) {
            json_decref(claims);
            return &a->providers[i];
        }
    }
    json_decref(claims);
    if (*reason == PC_AUTHN_OK) {
        *reason = PC_AUTHN_WRONG_ISSUER;
    }
    return NULL;
}

static void
fill_options(struct pc_jwt_options *o, struct pc_exchange *x, const struct pc_jwt_provider *p,
             const struct pc_authn *a, const struct pc_jwks *keys, const struct pc_jwks *hmac)
{
    memset(o, 0, sizeof(*o));
    o->jws.verifier = server_jws_verifier(x->server);
    o->jws.algorithms = p->algorithms;
    o->jws.max_bytes = MAX_TOKEN_BYTES;
    o->jws.keys = keys;
    o->jws.hmac_keys = hmac;
    o->issuer = p->issuer;
    o->audiences = p->audiences;
    o->n_audiences = p->n_audiences;
    o->typ = p->typ;
    o->clock_skew_s = p->clock_skew_s;
    /* The two claim-rule layouts agree field for field; the snapshot's are borrowed as is. */
    o->required = (const struct pc_jwt_claim_rule *)p->required_claims;
    o->n_required = p->n_required_claims;
    o->spiffe_trust_domain = p->spiffe_trust_domain;
    o->client_id_claims = a->client_id_claims;
    o->n_client_id_claims = a->n_client_id_claims;
    o->role_paths = a->role_paths;
    o->n_role_paths = a->n_role_paths;
}

_Static_assert(sizeof(struct pc_jwt_claim_rule) == sizeof(struct pc_claim_requirement),
               "claim rules agree");

/* Remembers a verified token for at most ttl_ms (0: not at all) and never past its exp. */
static void
remember(struct pc_exchange *x, const char *token, size_t len, const char *source,
         struct pc_principal *p, uint32_t ttl_ms)
{
    int64_t left_s = pc_principal_expires(p) - wall_seconds();
    uint64_t ttl = ttl_ms;

    if (ttl == 0 || left_s <= 0) {
        return;
    }
    if (left_s < (int64_t)(ttl / 1000)) {
        ttl = (uint64_t)left_s * 1000;
    }
    pc_token_cache_put(server_token_cache(x->server), token, len, source, p,
                       uv_now(server_loop(x->server)) + ttl);
}

static enum authn_outcome
verify_jwt(struct pc_exchange *x, const struct pc_authn *a, const char *token, size_t len)
{
    enum pc_authn_reason reason = PC_AUTHN_OK;
    const struct pc_jwt_provider *p = choose_provider(x, a, token, len, &reason);
    uint64_t now = uv_now(server_loop(x->server));
    struct pc_keyring_slot *slot;
    const struct pc_jwks *keys;
    struct pc_principal *principal = NULL;
    enum pc_keys_state state;
    struct pc_jwt_options opts;

    if (p == NULL) {
        return refuse(x, a, reason);
    }
    slot = pc_keyring_find(server_keyring(x->server), p);
    keys = slot != NULL ? pc_keyring_keys(slot, now, &state) : NULL;
    if (keys == NULL || (state == PC_KEYS_EXPIRED && !p->serve_stale)) {
        /* Fail closed: without keys no token can be told good from bad. */
        return unavailable(x, a, "keys_unavailable", p->name);
    }

    fill_options(&opts, x, p, a, keys, pc_keyring_hmac(slot));
    if (pc_jwt_verify(token, len, &opts, wall_seconds(), x->arena, &principal, &reason) != 0) {
        if (reason == PC_AUTHN_KID_UNKNOWN && !x->is_authn_retried
            && pc_keyring_request_refresh(slot, now)) {
            /* The issuer may have rotated its keys: wait for the refetch, then try once more. */
            x->is_authn_retried = true;
            server_wait_keys(x->server, x, slot, pc_keyring_version(slot));
            return AUTHN_WAITING;
        }
        return refuse(x, a, reason);
    }
    if (adopt(x, principal) != 0) {
        return refuse(x, a, PC_AUTHN_INTERNAL);
    }
    pc_metrics_add(server_metrics(x->server), PC_M_AUTHN_VERIFIED, 1);
    remember(x, token, len, p->name, principal, p->cache_ttl_ms);
    return AUTHN_OK;
}

/* --- opaque tokens (RFC 7662) --- */

static enum authn_outcome finish_introspection(struct pc_exchange *x, json_t *doc);

static void
on_introspected(void *data, struct pc_fetch_response *resp)
{
    struct pc_exchange *x = data;
    const struct pc_authn *a = x->match.rule->authn;
    enum authn_outcome o;
    json_t *doc = NULL;

    x->transfer = NULL;
    if (x->is_ended || x->conn == NULL) {
        exchange_unref(x);
        return;
    }
    if (resp->result != PC_FETCH_OK || resp->status != 200) {
        o = unavailable(x, a, "introspection_unavailable", a->introspection->endpoint);
    } else {
        doc = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, NULL);
        o = finish_introspection(x, doc);
        json_decref(doc);
    }
    if (o == AUTHN_OK) {
        exchange_resume(x);
    }
    exchange_unref(x);
}

static enum authn_outcome
introspect(struct pc_exchange *x, const struct pc_authn *a, const char *token, size_t len)
{
    const struct pc_introspection *in = a->introspection;
    struct pc_fetch_pair form[4] = {
        { "token", pc_arena_strndup(x->arena, token, len) },
        { "token_type_hint", "access_token" },
        { "client_id", in->client_id },
        { "client_secret", in->client_secret },
    };
    struct pc_fetch_request req = {
        .method = PC_FETCH_POST,
        .url = in->endpoint,
        .form = form,
        .n_form = in->use_basic_auth ? 2 : 4,
        .timeout_ms = in->timeout_ms,
        .max_response_bytes = INTROSPECT_MAX,
    };

    if (form[0].value == NULL) {
        return refuse(x, a, PC_AUTHN_INTERNAL);
    }
    if (in->use_basic_auth) {
        /* RFC 7662 section 2.1 leaves client authentication to RFC 6749 section 2.3.1. */
        req.username = in->client_id;
        req.password = in->client_secret;
        req.is_oauth_client_auth = true;
    }
    x->transfer = pc_fetch_start(server_fetch(x->server), &req, on_introspected, x);
    if (x->transfer == NULL) {
        return refuse(x, a, PC_AUTHN_INTERNAL);
    }
    exchange_ref(x);
    return AUTHN_WAITING;
}

/* RFC 7662 section 2.2: "active" decides; the rest is claims as a JWT would carry them. */
static enum authn_outcome
finish_introspection(struct pc_exchange *x, json_t *doc)
{
    const struct pc_authn *a = x->match.rule->authn;
    const struct pc_introspection *in = a->introspection;
    struct pc_principal_spec spec = {
        .client_id_claims = a->client_id_claims,
        .n_client_id_claims = a->n_client_id_claims,
        .role_paths = a->role_paths,
        .n_role_paths = a->n_role_paths,
    };
    const char *token = x->authn_token;
    struct pc_principal *p;
    json_t *exp;

    if (!json_is_object(doc)) {
        return unavailable(x, a, "introspection_malformed", in->endpoint);
    }
    exp = json_object_get(doc, "exp");
    /* RFC 7662 section 2.2: an inactive token may be revoked, unknown or expired, and the
     * server need not say which; only a token still active past its exp is known to be
     * expired. */
    if (!json_is_true(json_object_get(doc, "active"))) {
        return refuse(x, a, PC_AUTHN_INACTIVE);
    }
    if (json_is_integer(exp) && json_integer_value(exp) <= (json_int_t)wall_seconds()) {
        return refuse(x, a, PC_AUTHN_EXPIRED);
    }
    if (in->issuer != NULL && json_object_get(doc, "iss") == NULL) {
        json_object_set_new(doc, "iss", json_string(in->issuer));
    }
    p = pc_principal_create(doc, &spec);
    if (p == NULL || adopt(x, p) != 0) {
        return refuse(x, a, PC_AUTHN_INTERNAL);
    }
    remember(x, token, x->authn_token_len, in->endpoint, p, in->cache_ttl_ms);
    pc_principal_unref(p);
    return accept_principal(x, a, token, x->authn_token_len, x->is_authn_dpop);
}

/* --- the step --- */

/* Whether the route still accepts tokens verified under source (a provider or an endpoint). */
static bool
is_source_allowed(const struct pc_authn *a, const char *source)
{
    for (size_t i = 0; i < a->n_providers; i++) {
        if (strcmp(a->providers[i].name, source) == 0) {
            return true;
        }
    }
    return a->introspection != NULL && strcmp(a->introspection->endpoint, source) == 0;
}

static enum authn_outcome
authenticate(struct pc_exchange *x, const struct pc_authn *a)
{
    const char *token = NULL;
    size_t len = 0;
    bool is_dpop = false;
    int found = find_token(x, a, &token, &len, &is_dpop);
    struct pc_principal *cached;
    const char *source = NULL;
    enum authn_outcome o;

    if (found == 0) {
        if (a->is_optional) {
            return AUTHN_OK;
        }
        pc_metrics_authn_failure(server_metrics(x->server), "missing_token");
        answer(x, 401, "missing_token", challenge(x, a, NULL, NULL, NULL));
        return AUTHN_ANSWERED;
    }
    if (found < 0 || len > MAX_TOKEN_BYTES) {
        return refuse(x, a, found < 0 ? PC_AUTHN_MALFORMED : PC_AUTHN_TOKEN_TOO_LARGE);
    }
    x->authn_token = token;
    x->authn_token_len = len;
    x->is_authn_dpop = is_dpop;

    cached = pc_token_cache_get(server_token_cache(x->server), token, len,
                                uv_now(server_loop(x->server)), &source);
    if (cached != NULL && is_source_allowed(a, source)) {
        pc_metrics_add(server_metrics(x->server), PC_M_AUTHN_CACHE_HITS, 1);
        if (adopt(x, cached) != 0) {
            return refuse(x, a, PC_AUTHN_INTERNAL);
        }
        return accept_principal(x, a, token, len, is_dpop);
    }
    if (looks_like_jwt(token, len) && a->n_providers > 0) {
        o = verify_jwt(x, a, token, len);
    } else if (a->introspection != NULL) {
        return introspect(x, a, token, len);
    } else {
        return refuse(x, a, PC_AUTHN_MALFORMED);
    }
    return o == AUTHN_OK ? accept_principal(x, a, token, len, is_dpop) : o;
}

/* Returns true to go on with the next step; false when the request was answered or waits. */
bool
authn_step(struct pc_exchange *x)
{
    const struct pc_authn *a = x->match.rule->authn;

    if (a == NULL) {
        return true;
    }
    return authenticate(x, a) == AUTHN_OK;
}
