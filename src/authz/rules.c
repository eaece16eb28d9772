/*
 * Native authorization rules: deny rules, then allow rules, then default deny, evaluated from
 * the request's view against a compiled policy (src/config/config.h).
 *
 * A rule is a list of conditions tested in a fixed order, cheapest and most selective first:
 * the request (method, path, headers, client address), the principal, the path parameters the
 * principal must own, and the TLS peer. Testing stops at the first condition that fails; the
 * number that held before it is what ranks rules for the "nearest rule" detail of a decision.
 *
 * Nothing here allocates or locks: the policy is shared read-only by every worker, the result
 * is the caller's, and PCRE2 works in a stack buffer lent through a general context. Runs on the
 * worker thread that serves the request.
 */
#include "authz/rules.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <netinet/in.h>
#include <sys/socket.h>

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pcre2.h>

#include "authn/principal.h"
#include "core/err.h"
#include "tls/peer.h"
#include "tls/spiffe.h"

/* Backtracking budget of one regular expression match; past it the test is undecided. */
#define REGEX_MATCH_LIMIT 100000

/*
 * Stack bytes lent to PCRE2 for one match: the contexts and match data, plus the 20 KiB frame
 * vector the interpreter takes at its first match (JIT-compiled patterns need none of it).
 */
#define REGEX_SCRATCH (24 * 1024)

/* Longest text a JSON number claim is compared as ("-1.2345678901234567e-308" fits). */
#define NUMBER_TEXT_MAX 32

/* Condition names, as the AuthorizationPolicy resource spells them (decision log details). */
#define COND_METHODS        "request.methods"
#define COND_PATHS          "request.paths"
#define COND_HEADERS        "request.headers"
#define COND_SOURCES        "request.sourceCIDRs"
#define COND_NOT_SOURCES    "request.notSourceCIDRs"
#define COND_AUTHENTICATED  "principal.authenticated"
#define COND_SUBJECTS       "principal.subjects"
#define COND_ISSUERS        "principal.issuers"
#define COND_CLIENT_IDS     "principal.clientIDs"
#define COND_SCOPES_ALL     "principal.scopes.allOf"
#define COND_SCOPES_ANY     "principal.scopes.anyOf"
#define COND_ROLES_ALL      "principal.roles.allOf"
#define COND_ROLES_ANY      "principal.roles.anyOf"
#define COND_CLAIMS_ALL     "principal.claims.allOf"
#define COND_CLAIMS_ANY     "principal.claims.anyOf"
#define COND_PATH_PARAMS    "principal.pathParams"
#define COND_CERTIFICATE    "peer.certificate"
#define COND_SPIFFE_IDS     "peer.spiffeIDs"
#define COND_PEER_SUBJECTS  "peer.subjects"
#define COND_PEER_DNS_NAMES "peer.dnsNames"

/*
 * Where template captures go while one rule is tested: into items, or, when want is set, only
 * the parameter of that name into found (the lookup of a parameter past the recorded ones).
 */
struct captures {
    struct pc_authz_capture items[PC_AUTHZ_MAX_CAPTURES];
    size_t n;
    bool is_truncated;
    const char *want;
    size_t want_len;
    bool is_found;
    const char *found;
    size_t found_len;
};

/* The state of testing one rule. */
struct eval {
    const struct pc_authz_view *view;
    bool is_deny;                             /* an undecided test makes the rule hold */
    const struct pc_authz_path *matched_path; /* the path test that held, NULL: none */
    struct captures caps;
};

/* A bump allocator over a caller's buffer, for PCRE2's general context. */
struct scratch {
    char *buf;
    size_t used;
    size_t cap;
};

/* ---- strings ---- */

static void *
scratch_alloc(size_t n, void *data)
{
    struct scratch *s = data;
    size_t start = (s->used + (alignof(max_align_t) - 1)) & ~(alignof(max_align_t) - 1);

    if (start > s->cap || n > s->cap - start) {
        return NULL;
    }
    s->used = start + n;
    return s->buf + start;
}

static void
scratch_free(void *p, void *data)
{
    /* The whole buffer goes away with the stack frame that lent it. */
}

/*
 * Runs the compiled pattern over the whole subject. Returns 1 for a match, 0 for none, -1 when
 * the match could not be decided (budget or scratch exhausted, invalid UTF-8 in a UTF pattern).
 */
static int
run_regex(const pcre2_code *code, const char *subject, size_t len)
{
    alignas(max_align_t) char buf[REGEX_SCRATCH];
    struct scratch s = { buf, 0, sizeof(buf) };
    pcre2_general_context *gctx;
    pcre2_match_context *mctx;
    pcre2_match_data *md;
    uint32_t compiled = 0;
    uint32_t options = 0;
    int rc;

    gctx = pcre2_general_context_create(scratch_alloc, scratch_free, &s);
    mctx = gctx != NULL ? pcre2_match_context_create(gctx) : NULL;
    md = mctx != NULL ? pcre2_match_data_create(1, gctx) : NULL;
    if (md == NULL) {
        return -1;
    }
    pcre2_set_match_limit(mctx, REGEX_MATCH_LIMIT);

    /* The configuration compiles patterns anchored at both ends; one that is not is anchored
     * here, at the price of the interpreter (JIT code cannot take these options late). */
    pcre2_pattern_info(code, PCRE2_INFO_ARGOPTIONS, &compiled);
    if ((compiled & PCRE2_ANCHORED) == 0) {
        options |= PCRE2_ANCHORED;
    }
    if ((compiled & PCRE2_ENDANCHORED) == 0) {
        options |= PCRE2_ENDANCHORED;
    }
    rc = pcre2_match(code, (PCRE2_SPTR)subject, len, 0, options, md, mctx);

    /* 0 is a match whose groups did not fit in the one-pair vector. */
    if (rc >= 0) {
        return 1;
    }
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/*
 * Whether the len bytes at s satisfy m. on_undecided is the answer when a regular expression
 * cannot decide: the caller picks whichever keeps its rule on the safe side.
 */
static bool
string_matches(const struct pc_string_matcher *m, const char *s, size_t len, bool on_undecided)
{
    switch (m->type) {
    case PC_STRING_EXACT:
        return len == m->value_len && memcmp(s, m->value, len) == 0;
    case PC_STRING_PREFIX:
        return len >= m->value_len && memcmp(s, m->value, m->value_len) == 0;
    case PC_STRING_SUFFIX:
        return len >= m->value_len && memcmp(s + len - m->value_len, m->value, m->value_len) == 0;
    case PC_STRING_PRESENT:
        return true;
    case PC_STRING_REGEX: {
        int rc = m->regex != NULL ? run_regex(m->regex, s, len) : -1;

        return rc < 0 ? on_undecided : rc == 1;
    }
    }
    return on_undecided;
}

static bool
any_string_matches(const struct pc_string_matcher *ms, size_t n, const char *s, size_t len,
                   bool on_undecided)
{
    for (size_t i = 0; i < n; i++) {
        if (string_matches(&ms[i], s, len, on_undecided)) {
            return true;
        }
    }
    return false;
}

static bool
any_equal(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i], s) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- the request ---- */

static bool
method_matches(const struct pc_authz_rule *rule, const struct pc_authz_view *view)
{
    for (size_t i = 0; i < rule->n_methods; i++) {
        const char *m = rule->methods[i];

        if (strlen(m) == view->method_len && memcmp(m, view->method, view->method_len) == 0) {
            return true;
        }
    }
    return false;
}

static void
capture(struct captures *caps, const struct pc_authz_path_segment *seg, const char *value,
        size_t len)
{
    if (caps->want != NULL) {
        if (!caps->is_found && seg->len == caps->want_len
            && memcmp(seg->text, caps->want, seg->len) == 0) {
            caps->is_found = true;
            caps->found = value;
            caps->found_len = len;
        }
        return;
    }
    if (caps->n == PC_AUTHZ_MAX_CAPTURES) {
        caps->is_truncated = true;
        return;
    }
    caps->items[caps->n] = (struct pc_authz_capture){ seg->text, seg->len, value, len };
    caps->n++;
}

/*
 * Matches a template segment by segment. Every segment of the path is introduced by '/'; a
 * literal must equal its segment, "{name}" takes one non-empty segment, "{name...}" the rest of
 * the path (non-empty). caps may be NULL.
 */
static bool
template_matches(const struct pc_authz_path *t, const char *path, size_t len, struct captures *caps)
{
    size_t pos = 0;

    if (t->n_segments == 0) {
        return len == 1 && path[0] == '/';
    }
    for (size_t i = 0; i < t->n_segments; i++) {
        const struct pc_authz_path_segment *seg = &t->segments[i];
        const char *end;
        size_t seg_len;

        if (pos >= len || path[pos] != '/') {
            return false;
        }
        pos++;
        if (seg->is_rest) {
            if (pos == len) {
                return false;
            }
            if (caps != NULL) {
                capture(caps, seg, path + pos, len - pos);
            }
            return true;
        }
        end = memchr(path + pos, '/', len - pos);
        seg_len = (end != NULL ? (size_t)(end - path) : len) - pos;
        if (seg->is_param) {
            if (seg_len == 0) {
                return false;
            }
            if (caps != NULL) {
                capture(caps, seg, path + pos, seg_len);
            }
        } else if (seg_len != seg->len || memcmp(path + pos, seg->text, seg_len) != 0) {
            return false;
        }
        pos += seg_len;
    }
    return pos == len;
}

/* HTTPRoute's PathPrefix: whole segments, and a trailing '/' of the prefix covers nothing. */
static bool
prefix_matches(const char *prefix, size_t prefix_len, const char *path, size_t len)
{
    if (prefix_len > 0 && prefix[prefix_len - 1] == '/') {
        prefix_len--;
    }
    if (len < prefix_len || memcmp(path, prefix, prefix_len) != 0) {
        return false;
    }
    return len == prefix_len || path[prefix_len] == '/';
}

static bool
path_matches(const struct pc_authz_path *p, const char *path, size_t len, struct captures *caps)
{
    switch (p->type) {
    case PC_AUTHZ_PATH_EXACT:
        return len == p->value_len && memcmp(path, p->value, len) == 0;
    case PC_AUTHZ_PATH_PREFIX:
        return prefix_matches(p->value, p->value_len, path, len);
    case PC_AUTHZ_PATH_TEMPLATE:
        return template_matches(p, path, len, caps);
    }
    return false;
}

static bool
paths_hold(const struct pc_authz_rule *rule, struct eval *ev)
{
    for (size_t i = 0; i < rule->n_paths; i++) {
        ev->caps.n = 0;
        ev->caps.is_truncated = false;
        if (path_matches(&rule->paths[i], ev->view->path, ev->view->path_len, &ev->caps)) {
            ev->matched_path = &rule->paths[i];
            return true;
        }
    }
    ev->caps.n = 0;
    ev->caps.is_truncated = false;
    return false;
}

/* A header test: some field of that name matches (or, inverted, none does). */
static bool
header_holds(const struct pc_authz_header *h, const struct pc_authz_view *view, bool is_deny)
{
    /* An undecided match must push the test's final answer toward the rule's safe side. */
    bool on_undecided = h->is_inverted ? !is_deny : is_deny;
    bool is_match = false;

    for (size_t i = 0; i < view->n_headers && !is_match; i++) {
        const struct pc_header_pair *f = &view->headers[i];

        if (f->name_len == h->name_len && memcmp(f->name, h->name, h->name_len) == 0) {
            is_match = string_matches(&h->match, f->value, f->value_len, on_undecided);
        }
    }
    return h->is_inverted ? !is_match : is_match;
}

static bool
headers_hold(const struct pc_authz_rule *rule, const struct eval *ev)
{
    for (size_t i = 0; i < rule->n_headers; i++) {
        if (!header_holds(&rule->headers[i], ev->view, ev->is_deny)) {
            return false;
        }
    }
    return true;
}

static bool
bits_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned bytes = bits / 8;
    unsigned rest = bits % 8;

    if (memcmp(a, b, bytes) != 0) {
        return false;
    }
    if (rest == 0) {
        return true;
    }
    return ((a[bytes] ^ b[bytes]) & (unsigned char)(0xffu << (8 - rest))) == 0;
}

/*
 * Whether the client address is in one of the blocks: 1 in, 0 out, -1 unknown (no IP address).
 * An IPv4-mapped IPv6 address (RFC 4291 section 2.5.5.2) is the IPv4 client it stands for, so it
 * is tested against IPv4 blocks as such, and against IPv6 blocks as written.
 */
static int
address_in(const struct sockaddr_storage *ss, const struct pc_authz_cidr *cidrs, size_t n)
{
    static const unsigned char mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    const unsigned char *v4 = NULL;
    const unsigned char *v6 = NULL;

    if (ss->ss_family == AF_INET) {
        v4 = (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
    } else if (ss->ss_family == AF_INET6) {
        v6 = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
        if (memcmp(v6, mapped_prefix, sizeof(mapped_prefix)) == 0) {
            v4 = v6 + 12;
        }
    } else {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct pc_authz_cidr *c = &cidrs[i];

        if (c->family == AF_INET && v4 != NULL && c->prefix_len <= 32
            && bits_equal(v4, c->addr, c->prefix_len)) {
            return 1;
        }
        if (c->family == AF_INET6 && v6 != NULL && c->prefix_len <= 128
            && bits_equal(v6, c->addr, c->prefix_len)) {
            return 1;
        }
    }
    return 0;
}

static bool
sources_hold(const struct pc_authz_rule *rule, const struct eval *ev)
{
    int in = address_in(&ev->view->client_addr, rule->sources, rule->n_sources);

    if (in < 0) {
        return ev->is_deny;
    }
    return rule->is_sources_inverted ? in == 0 : in == 1;
}

/* ---- the principal ---- */

static bool
has_principal_conditions(const struct pc_authz_rule *r)
{
    return r->require_authenticated || r->n_subjects > 0 || r->n_issuers > 0 || r->n_client_ids > 0
           || r->n_scopes_all > 0 || r->n_scopes_any > 0 || r->n_roles_all > 0 || r->n_roles_any > 0
           || r->n_claims_all > 0 || r->n_claims_any > 0 || r->n_param_claims > 0;
}

static bool
string_claim_holds(const struct pc_string_matcher *m, const char *s, size_t n, bool is_deny)
{
    return s != NULL && any_string_matches(m, n, s, strlen(s), is_deny);
}

static bool
granted_all(const struct pc_principal *p, const char *const *names, size_t n, bool is_role)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        bool has = is_role ? pc_principal_has_role(p, names[i], len)
                           : pc_principal_has_scope(p, names[i], len);

        if (!has) {
            return false;
        }
    }
    return true;
}

static bool
granted_any(const struct pc_principal *p, const char *const *names, size_t n, bool is_role)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        bool has = is_role ? pc_principal_has_role(p, names[i], len)
                           : pc_principal_has_scope(p, names[i], len);

        if (has) {
            return true;
        }
    }
    return false;
}

/*
 * The text a scalar claim is compared as: a string's bytes, a number's or boolean's JSON text
 * (numbers in their shortest form that reads back to the same double, as OPA prints them).
 * Returns false for null, objects and arrays.
 */
static bool
scalar_text(const json_t *v, char *buf, const char **s, size_t *len)
{
    int n = 0;

    switch (json_typeof(v)) {
    case JSON_STRING:
        *s = json_string_value(v);
        *len = json_string_length(v);
        return true;
    case JSON_INTEGER:
        n = snprintf(buf, NUMBER_TEXT_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        for (int precision = 15; precision <= 17; precision++) {
            n = snprintf(buf, NUMBER_TEXT_MAX, "%.*g", precision, json_real_value(v));
            if (strtod(buf, NULL) == json_real_value(v)) {
                break;
            }
        }
        break;
    case JSON_TRUE:
        *s = "true";
        *len = 4;
        return true;
    case JSON_FALSE:
        *s = "false";
        *len = 5;
        return true;
    default:
        return false;
    }
    if (n <= 0 || n >= NUMBER_TEXT_MAX) {
        return false;
    }
    *s = buf;
    *len = (size_t)n;
    return true;
}

static bool
claim_value_matches(const json_t *v, const struct pc_string_matcher *m, bool is_deny)
{
    char buf[NUMBER_TEXT_MAX];
    const char *s;
    size_t len;

    return scalar_text(v, buf, &s, &len) && string_matches(m, s, len, is_deny);
}

/* A claim test: the claim exists and it (or, for an array, any element) matches. */
static bool
claim_holds(const struct pc_principal *p, const struct pc_authz_claim *c, bool is_deny)
{
    const json_t *v = pc_principal_claim(p, c->path);

    if (v == NULL) {
        return false;
    }
    if (c->match.type == PC_STRING_PRESENT) {
        return true;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (claim_value_matches(json_array_get(v, i), &c->match, is_deny)) {
                return true;
            }
        }
        return false;
    }
    return claim_value_matches(v, &c->match, is_deny);
}

static bool
claims_hold(const struct pc_principal *p, const struct pc_authz_claim *cs, size_t n, bool is_all,
            bool is_deny)
{
    for (size_t i = 0; i < n; i++) {
        if (claim_holds(p, &cs[i], is_deny) != is_all) {
            return !is_all;
        }
    }
    return is_all;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Whether the percent-decoded capture equals want byte for byte. A capture that decodes to a
 * '/' (an encoded slash the listener kept) or a NUL never equals anything: "/users/a%2F..%2Fb"
 * must not pass for the user "a/../b", and a NUL would let a C string end early downstream.
 */
static bool
decoded_equals(const char *enc, size_t enc_len, const char *want, size_t want_len)
{
    size_t j = 0;

    for (size_t i = 0; i < enc_len; i++, j++) {
        int c = (unsigned char)enc[i];

        if (c == '%') {
            int hi = i + 2 < enc_len ? hex_value(enc[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(enc[i + 2]) : -1;

            if (lo < 0) {
                return false;
            }
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == '/' || c == '\0' || j >= want_len || (unsigned char)want[j] != c) {
            return false;
        }
    }
    return j == want_len;
}

/* Finds the value the matched template gave the parameter named name. */
static bool
find_capture(const struct eval *ev, const char *name, const char **value, size_t *len)
{
    size_t name_len = strlen(name);
    struct captures look = { .want = name, .want_len = name_len };

    for (size_t i = 0; i < ev->caps.n; i++) {
        const struct pc_authz_capture *c = &ev->caps.items[i];

        if (c->name_len == name_len && memcmp(c->name, name, name_len) == 0) {
            *value = c->value;
            *len = c->value_len;
            return true;
        }
    }
    if (!ev->caps.is_truncated || ev->matched_path == NULL) {
        return false;
    }

    /* A template with more parameters than a result records: walk it again for this one. */
    template_matches(ev->matched_path, ev->view->path, ev->view->path_len, &look);
    *value = look.found;
    *len = look.found_len;
    return look.is_found;
}

static bool
param_claim_holds(const struct pc_authz_param_claim *pc, const struct eval *ev)
{
    const json_t *v = pc_principal_claim(ev->view->principal, pc->claim);
    char buf[NUMBER_TEXT_MAX];
    const char *value;
    const char *s;
    size_t value_len;
    size_t len;

    if (v == NULL || !find_capture(ev, pc->param, &value, &value_len)) {
        return false;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (scalar_text(json_array_get(v, i), buf, &s, &len)
                && decoded_equals(value, value_len, s, len)) {
                return true;
            }
        }
        return false;
    }
    return scalar_text(v, buf, &s, &len) && decoded_equals(value, value_len, s, len);
}

static bool
param_claims_hold(const struct pc_authz_rule *rule, const struct eval *ev)
{
    for (size_t i = 0; i < rule->n_param_claims; i++) {
        if (!param_claim_holds(&rule->param_claims[i], ev)) {
            return false;
        }
    }
    return true;
}

/*
 * Who the principal is: subjects, issuers and client ids. Returns the first condition that
 * fails, or NULL; *held counts the set conditions that held before it.
 */
static const char *
identity_fails(const struct pc_authz_rule *r, const struct pc_principal *p, bool is_deny,
               size_t *held)
{
    const char *iss = r->n_issuers > 0 ? pc_principal_issuer(p) : NULL;
    const char *client_id = r->n_client_ids > 0 ? pc_principal_client_id(p) : NULL;

    if (r->n_subjects > 0
        && !string_claim_holds(r->subjects, pc_principal_subject(p), r->n_subjects, is_deny)) {
        return COND_SUBJECTS;
    }
    *held += r->n_subjects > 0;
    if (r->n_issuers > 0 && (iss == NULL || !any_equal(r->issuers, r->n_issuers, iss))) {
        return COND_ISSUERS;
    }
    *held += r->n_issuers > 0;
    if (r->n_client_ids > 0
        && (client_id == NULL || !any_equal(r->client_ids, r->n_client_ids, client_id))) {
        return COND_CLIENT_IDS;
    }
    *held += r->n_client_ids > 0;
    return NULL;
}

/* What the principal was granted: scopes, roles and claims. As identity_fails. */
static const char *
grants_fail(const struct pc_authz_rule *r, const struct pc_principal *p, bool is_deny, size_t *held)
{
    if (r->n_scopes_all > 0 && !granted_all(p, r->scopes_all, r->n_scopes_all, false)) {
        return COND_SCOPES_ALL;
    }
    *held += r->n_scopes_all > 0;
    if (r->n_scopes_any > 0 && !granted_any(p, r->scopes_any, r->n_scopes_any, false)) {
        return COND_SCOPES_ANY;
    }
    *held += r->n_scopes_any > 0;
    if (r->n_roles_all > 0 && !granted_all(p, r->roles_all, r->n_roles_all, true)) {
        return COND_ROLES_ALL;
    }
    *held += r->n_roles_all > 0;
    if (r->n_roles_any > 0 && !granted_any(p, r->roles_any, r->n_roles_any, true)) {
        return COND_ROLES_ANY;
    }
    *held += r->n_roles_any > 0;
    if (r->n_claims_all > 0 && !claims_hold(p, r->claims_all, r->n_claims_all, true, is_deny)) {
        return COND_CLAIMS_ALL;
    }
    *held += r->n_claims_all > 0;
    if (r->n_claims_any > 0 && !claims_hold(p, r->claims_any, r->n_claims_any, false, is_deny)) {
        return COND_CLAIMS_ANY;
    }
    *held += r->n_claims_any > 0;
    return NULL;
}

/*
 * The principal's conditions, in the resource's order, the object-level check last. Returns
 * the name of the first that fails, or NULL; *held counts those that held before it.
 */
static const char *
principal_fails(const struct pc_authz_rule *r, const struct eval *ev, size_t *held)
{
    const struct pc_principal *p = ev->view->principal;
    const char *failed;

    if (r->require_anonymous && p != NULL) {
        return COND_AUTHENTICATED;
    }
    *held += r->require_anonymous;
    if (!has_principal_conditions(r)) {
        return NULL;
    }
    if (p == NULL) {
        return COND_AUTHENTICATED;
    }
    (*held)++;
    failed = identity_fails(r, p, ev->is_deny, held);
    if (failed == NULL) {
        failed = grants_fail(r, p, ev->is_deny, held);
    }
    if (failed != NULL || r->n_param_claims == 0) {
        return failed;
    }
    if (!param_claims_hold(r, ev)) {
        return COND_PATH_PARAMS;
    }
    (*held)++;
    return NULL;
}

/* ---- the TLS peer ---- */

static bool
spiffe_id_holds(const struct pc_authz_rule *r, const struct pc_peer_identity *peer)
{
    if (peer->spiffe_id == NULL) {
        return false;
    }
    for (size_t i = 0; i < r->n_spiffe_ids; i++) {
        if (pc_spiffe_match(r->spiffe_ids[i], peer->spiffe_id, strlen(peer->spiffe_id))) {
            return true;
        }
    }
    return false;
}

static bool
dns_name_holds(const struct pc_authz_rule *r, const struct pc_peer_identity *peer)
{
    for (size_t i = 0; i < peer->n_dns; i++) {
        if (any_equal(r->peer_dns_names, r->n_peer_dns_names, peer->dns[i])) {
            return true;
        }
    }
    return false;
}

static const char *
peer_fails(const struct pc_authz_rule *r, const struct eval *ev, size_t *held)
{
    const struct pc_peer_identity *peer = ev->view->peer;

    if (!r->require_peer_certificate && r->n_spiffe_ids == 0 && r->n_peer_subjects == 0
        && r->n_peer_dns_names == 0) {
        return NULL;
    }
    if (peer == NULL) {
        return COND_CERTIFICATE;
    }
    (*held)++;
    if (r->n_spiffe_ids > 0 && !spiffe_id_holds(r, peer)) {
        return COND_SPIFFE_IDS;
    }
    *held += r->n_spiffe_ids > 0;
    if (r->n_peer_subjects > 0
        && !string_claim_holds(r->peer_subjects, peer->subject, r->n_peer_subjects, ev->is_deny)) {
        return COND_PEER_SUBJECTS;
    }
    *held += r->n_peer_subjects > 0;
    if (r->n_peer_dns_names > 0 && !dns_name_holds(r, peer)) {
        return COND_PEER_DNS_NAMES;
    }
    return NULL;
}

/* ---- rules ---- */

/*
 * Tests every condition of rule in order. Returns the name of the first that fails, or NULL
 * when the rule holds; *held counts the conditions that held before the failing one.
 */
static const char *
rule_fails(const struct pc_authz_rule *r, struct eval *ev, size_t *held)
{
    const char *failed;

    ev->is_deny = r->effect == PC_AUTHZ_DENY;
    ev->matched_path = NULL;
    ev->caps.n = 0;
    ev->caps.is_truncated = false;
    *held = 0;
    if (r->n_methods > 0 && !method_matches(r, ev->view)) {
        return COND_METHODS;
    }
    *held += r->n_methods > 0;
    if (r->n_paths > 0 && !paths_hold(r, ev)) {
        return COND_PATHS;
    }
    *held += r->n_paths > 0;
    if (r->n_headers > 0 && !headers_hold(r, ev)) {
        return COND_HEADERS;
    }
    *held += r->n_headers > 0;
    if (r->n_sources > 0 && !sources_hold(r, ev)) {
        return r->is_sources_inverted ? COND_NOT_SOURCES : COND_SOURCES;
    }
    *held += r->n_sources > 0;
    failed = principal_fails(r, ev, held);
    if (failed != NULL) {
        return failed;
    }
    return peer_fails(r, ev, held);
}

/* The rule that held, or with detail the nearest one. Returns the rule that held or NULL. */
static const struct pc_authz_rule *
first_holding(const struct pc_authz_rule *rules, size_t n, struct eval *ev, bool want_detail,
              struct pc_authz_result *out)
{
    size_t best_held = 0;

    for (size_t i = 0; i < n; i++) {
        size_t held = 0;
        const char *failed = rule_fails(&rules[i], ev, &held);

        if (failed == NULL) {
            return &rules[i];
        }
        if (want_detail && (out->detail_rule == NULL || held > best_held)) {
            out->detail_rule = rules[i].name;
            out->detail = failed;
            best_held = held;
        }
    }
    return NULL;
}

static void
decide(struct pc_authz_result *out, const struct pc_authz_rule *rule, const struct eval *ev,
       bool is_allowed, const char *reason)
{
    out->is_allowed = is_allowed;
    out->reason = reason;
    out->rule = rule != NULL ? rule->name : NULL;
    out->n_captures = 0;
    out->is_captures_truncated = false;
    if (rule == NULL) {
        return;
    }
    memcpy(out->captures, ev->caps.items, ev->caps.n * sizeof(ev->caps.items[0]));
    out->n_captures = ev->caps.n;
    out->is_captures_truncated = ev->caps.is_truncated;
}

void
pc_authz_rules_eval(const struct pc_authz *authz, const struct pc_authz_view *view, unsigned flags,
                    struct pc_authz_result *out)
{
    bool want_detail = (flags & PC_AUTHZ_EVAL_DETAIL) != 0;
    struct eval ev = { .view = view };
    const struct pc_authz_rule *rule;

    PC_ASSERT(authz->source == PC_AUTHZ_RULES);
    out->detail_rule = NULL;
    out->detail = NULL;

    rule = first_holding(authz->deny_rules, authz->n_deny_rules, &ev, want_detail, out);
    if (rule != NULL) {
        out->detail_rule = NULL;
        out->detail = NULL;
        decide(out, rule, &ev, false, PC_AUTHZ_REASON_RULE_DENIED);
        return;
    }

    /* The deny rules' nearest miss is kept only if an allow rule then allows. */
    const char *deny_rule = out->detail_rule;
    const char *deny_detail = out->detail;

    out->detail_rule = NULL;
    out->detail = NULL;
    rule = first_holding(authz->allow_rules, authz->n_allow_rules, &ev, want_detail, out);
    if (rule != NULL) {
        out->detail_rule = deny_rule;
        out->detail = deny_detail;
        decide(out, rule, &ev, true, PC_AUTHZ_REASON_RULE_ALLOWED);
        return;
    }
    decide(out, NULL, &ev, false, PC_AUTHZ_REASON_NO_RULE_MATCHED);
}
