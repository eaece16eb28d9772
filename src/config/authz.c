/*
 * AuthorizationPolicy in the validated model, and ProxyConfig's decisionLog.
 *
 * An AuthorizationPolicy is checked on its own first: one decision source (native rules, OPA, an
 * HTTP check service or in-process Rego), unique rule names, methods, paths and path templates,
 * header, subject and claim tests (regular expressions compiled with PCRE2 as route matches
 * are), CIDR blocks, principal and peer conditions, SPIFFE ID patterns (compiled with
 * src/tls/spiffe.h), object-level path parameters, the decision points' URLs, CA bundles and
 * cache keys. Rego modules are read and compiled here, at load, so a policy that does not
 * compile is a configuration error; the files join the ones the configuration watcher follows.
 * Then its targets are resolved, and it is compiled into struct pc_authz, shared by every rule
 * it covers: the policy naming an HTTPRoute wins over the one naming the route's listener, which
 * wins over the one naming its Gateway, and the winner applies whole.
 *
 * The snapshot owns what the compiled form points to outside its arena (PCRE2 code, the Rego
 * policy and query) through arena cleanups. The decision log's signing key is read once at load
 * to check that it is an Ed25519 key, then wiped; src/authz reads it again itself. Nothing here
 * evaluates a request. Runs on the control thread, inside a load.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pcre2.h>

#include "config/model.h"
#include "config/value.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "rego/rego.h"
#include "route/path.h"
#include "tls/spiffe.h"

/*
 * The options route matches use (src/route/route.c), so one dialect serves the whole
 * configuration: UTF-8 subjects (invalid sequences simply fail to match), the whole value must
 * match, '$' is the very end, \C is refused.
 */
#define REGEX_OPTIONS                                                                              \
    (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_ANCHORED | PCRE2_ENDANCHORED                      \
     | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C)

#define REGEX_HINT                                                                                 \
    "patterns are PCRE2 in UTF-8 mode, kept close to RE2, and must match the whole value"

#define TEMPLATE_HINT                                                                              \
    "write segments such as \"/users/{id}/orders/{rest...}\": a parameter is a whole segment, and {name...} takes the rest of the path as the last one"

#define MAX_REGO_MODULE_BYTES (4u * 1024 * 1024)
#define MAX_SIGNING_KEY_BYTES (64u * 1024)

#define KEYGEN_HINT "make one with `openssl genpkey -algorithm ed25519 -out key.pem`"

/* An AuthorizationPolicy's resource state. */
struct authz_state {
    struct pc_rego_policy *rego_policy; /* compiled at check; released with the load arena */
    struct pc_pem_source ca;            /* the decision point's caBundle, when has_ca */
    bool has_ca;
    const struct pc_authz *compiled; /* snapshot arena, made on first use */
};

/* The snapshot's Rego objects, released by its arena. */
struct rego_hold {
    struct pc_rego_policy *policy;
    struct pc_rego_query *query;
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

/* ---- regular expressions ---- */

static void *
allocate_on_heap(size_t n, void *data)
{
    return pc_malloc(n);
}

static void
free_on_heap(void *p, void *data)
{
    pc_free(p);
}

/*
 * Compiles pattern[0..len) with REGEX_OPTIONS. Returns the code (heap, through pc_malloc), or
 * NULL with msg and *offset set (*is_oom when PCRE2 ran out of memory).
 */
static pcre2_code *
compile_regex(const char *pattern, size_t len, char *msg, size_t size, size_t *offset, bool *is_oom)
{
    pcre2_general_context *gctx =
        pcre2_general_context_create(allocate_on_heap, free_on_heap, NULL);
    pcre2_compile_context *cctx = gctx != NULL ? pcre2_compile_context_create(gctx) : NULL;
    pcre2_code *code = NULL;
    PCRE2_SIZE where = 0;
    uint32_t backrefs = 0;
    int error = PCRE2_ERROR_NOMEMORY;

    *is_oom = false;
    *offset = 0;
    if (cctx != NULL) {
        code = pcre2_compile((PCRE2_SPTR)pattern, len, REGEX_OPTIONS, &error, &where, cctx);
    }
    if (code == NULL) {
        pcre2_get_error_message(error, (PCRE2_UCHAR *)msg, size);
        *offset = where;
        *is_oom = error == PCRE2_ERROR_NOMEMORY || error == PCRE2_ERROR_HEAPLIMIT;
        goto out;
    }
    /* RE2 has no backreferences, and they are what makes matching time explode. */
    pcre2_pattern_info(code, PCRE2_INFO_BACKREFMAX, &backrefs);
    if (backrefs > 0) {
        snprintf(msg, size, "backreferences are not supported");
        pcre2_code_free(code);
        code = NULL;
    }

out:
    pcre2_compile_context_free(cctx);
    pcre2_general_context_free(gctx);
    return code;
}

static void
on_free_regex(void *data)
{
    pcre2_code_free(data);
}

/* ---- paths ---- */

/* The Gateway API rules for Exact and PathPrefix values, as HTTPRoute path matches follow them. */
static const char *
judge_plain_path(const char *v, size_t len)
{
    static const char *const banned[] = { "//", "/./", "/../", "%2f", "%2F", "#" };

    if (v[0] != '/') {
        return "must be an absolute path starting with '/'";
    }
    if (memchr(v, '{', len) != NULL || memchr(v, '}', len) != NULL) {
        return "holds '{' or '}', which only a Template captures with";
    }
    for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
        if (strstr(v, banned[i]) != NULL) {
            return "must not contain \"//\", \"/./\", \"/../\", \"%2F\" or \"#\"";
        }
    }
    if ((len >= 3 && strcmp(v + len - 3, "/..") == 0)
        || (len >= 2 && strcmp(v + len - 2, "/.") == 0)) {
        return "must not end with \"/.\" or \"/..\"";
    }
    if (strlen(v) != len || !pc_value_is_path_chars(v, len)) {
        return "holds a character that is not allowed in a path";
    }
    return NULL;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static bool
is_param_name(const char *s, size_t len)
{
    bool ok = len > 0 && !(s[0] >= '0' && s[0] <= '9');

    for (size_t i = 0; ok && i < len; i++) {
        char c = s[i];

        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }
    return ok;
}

/*
 * Normalises one literal segment as request paths are normalised (route/path.h) into out (at
 * least len + 1 bytes); *out_len receives its length. Returns NULL or what is wrong with it.
 */
static const char *
normalise_segment(const char *seg, size_t len, char *out, size_t *out_len)
{
    char buf[1032];
    size_t n = 0;

    if (len + 1 > sizeof(buf) || memchr(seg, '\0', len) != NULL
        || !pc_value_is_path_chars(seg, len)) {
        return "holds a character that is not allowed in a path";
    }
    buf[0] = '/';
    memcpy(buf + 1, seg, len);
    if (pc_path_normalize(buf, len + 1, buf, &n, false) != 0) {
        return "holds an encoding that request paths cannot have (such as %2F)";
    }
    /* A "." or ".." segment, spelt plainly or with %2E, disappears in normalisation. */
    if (n <= 1 || memchr(buf + 1, '/', n - 1) != NULL) {
        return "is a \".\" or \"..\" segment";
    }
    memcpy(out, buf + 1, n - 1);
    *out_len = n - 1;
    return NULL;
}

/* Reads the parameter segment seg ("{name}" or "{name...}") into out; NULL or the problem. */
static const char *
parse_param(const char *seg, size_t len, bool is_last, struct pc_authz_path_segment *out, char *buf,
            size_t size)
{
    const char *name = seg + 1;
    size_t name_len = len - 2;

    if (len < 2 || seg[len - 1] != '}' || memchr(name, '{', name_len) != NULL
        || memchr(name, '}', name_len) != NULL) {
        snprintf(buf, size, "segment \"%.*s\" is neither a literal nor a whole {name}", (int)len,
                 seg);
        return buf;
    }
    out->is_rest = name_len > 3 && memcmp(name + name_len - 3, "...", 3) == 0;
    name_len -= out->is_rest ? 3 : 0;
    if (!is_param_name(name, name_len) || name_len > 64) {
        snprintf(
            buf, size,
            "parameter name \"%.*s\" is not a letter or '_' followed by letters, digits and '_'",
            (int)name_len, name);
        return buf;
    }
    if (out->is_rest && !is_last) {
        snprintf(buf, size, "{%.*s...} is not the last segment", (int)name_len, name);
        return buf;
    }
    out->text = name;
    out->len = name_len;
    out->is_param = true;
    return NULL;
}

/* Whether segs[0..n) already captures name. */
static bool
is_captured(const struct pc_authz_path_segment *segs, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (segs[i].is_param && segs[i].len == len && memcmp(segs[i].text, name, len) == 0) {
            return true;
        }
    }
    return false;
}

/* The number of segments s[0..len) splits into: at most one per '/'. */
static size_t
count_segments(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        n += s[i] == '/';
    }
    return n;
}

/*
 * Splits template s[0..len) into segs (room for count_segments(s, len) entries), whose literal
 * texts are normalised into text (len bytes) and whose parameter names point into s. Returns
 * NULL with *n set, or what is wrong (in buf, size bytes, or static).
 */
static const char *
parse_template(const char *s, size_t len, struct pc_authz_path_segment *segs, size_t *n, char *text,
               char *buf, size_t size)
{
    size_t pos = 1;
    size_t used = 0;

    *n = 0;
    if (len == 0 || s[0] != '/') {
        return "it does not start with '/'";
    }
    while (len > 1 && pos <= len) {
        const char *end = memchr(s + pos, '/', len - pos);
        size_t seg_len = (end != NULL ? (size_t)(end - s) : len) - pos;
        struct pc_authz_path_segment *seg = &segs[*n];
        const char *problem = NULL;

        memset(seg, 0, sizeof(*seg));
        if (seg_len == 0) {
            return "it has an empty segment (\"//\" or a trailing '/')";
        }
        if (s[pos] == '{') {
            problem = parse_param(s + pos, seg_len, end == NULL, seg, buf, size);
            if (problem == NULL && is_captured(segs, *n, seg->text, seg->len)) {
                snprintf(buf, size, "parameter \"%.*s\" is captured twice", (int)seg->len,
                         seg->text);
                problem = buf;
            }
        } else if (memchr(s + pos, '{', seg_len) != NULL || memchr(s + pos, '}', seg_len) != NULL) {
            snprintf(buf, size, "segment \"%.*s\" holds '{' or '}' but is not a whole parameter",
                     (int)seg_len, s + pos);
            problem = buf;
        } else {
            problem = normalise_segment(s + pos, seg_len, text + used, &seg->len);
            if (problem != NULL) {
                snprintf(buf, size, "segment \"%.*s\" %s", (int)seg_len, s + pos, problem);
                problem = buf;
            }
            seg->text = text + used;
            used += seg->len;
        }
        if (problem != NULL) {
            return problem;
        }
        (*n)++;
        pos += seg_len + 1;
    }
    return NULL;
}

/* ---- checks: string tests ---- */

/* Checks a compiled-to-be regular expression; returns PC_ENOMEM or 0. */
static int
check_regex(struct pc_model *model, const struct pc_schema_string *value)
{
    char msg[160];
    size_t offset;
    bool is_oom;
    pcre2_code *code = compile_regex(value->s, value->len, msg, sizeof(msg), &offset, &is_oom);

    if (code != NULL) {
        pcre2_code_free(code);
        return 0;
    }
    if (is_oom) {
        return PC_ENOMEM;
    }
    report(model, value->node, REGEX_HINT, "invalid regular expression: %s at offset %zu", msg,
           offset);
    return 0;
}

/*
 * Checks one string test: node is its mapping (or the plain string that stands for it), type and
 * value its fields. Returns 0 or PC_ENOMEM.
 */
static int
check_matcher(struct pc_model *model, const struct pc_yaml_node *node,
              const struct pc_schema_string *type, const struct pc_schema_string *value)
{
    bool is_present = is_equal(type->s, "Present");

    if (type->s == NULL) {
        return 0;
    }
    if (is_present && value->node != NULL) {
        report(model, value->node, "remove value, or choose another type",
               "value is not used with type Present");
        return 0;
    }
    if (!is_present && value->node == NULL && node->kind == PC_YAML_MAP
        && pc_yaml_get(node, "value") == NULL) {
        pc_yaml_error(model->diag, node, ".value",
                      "give the value to compare with, or use type Present",
                      "required field is missing");
        return 0;
    }
    if (is_equal(type->s, "RegularExpression") && value->s != NULL) {
        return check_regex(model, value);
    }
    return 0;
}

static int
check_string_matches(struct pc_model *model, const struct pc_schema_list *list)
{
    const struct pc_resource_string_match *ms = list->items;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < list->n; i++) {
        rc = check_matcher(model, ms[i].node, &ms[i].type, &ms[i].value);
    }
    return rc;
}

static int
check_claim_tests(struct pc_model *model, const struct pc_schema_list *list)
{
    const struct pc_resource_claim_test *ts = list->items;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < list->n; i++) {
        rc = check_matcher(model, ts[i].node, &ts[i].type, &ts[i].value);
    }
    return rc;
}

/* Reports strings of list that repeat an earlier one (without regard to case when nocase). */
static void
check_unique(struct pc_model *model, const struct pc_schema_list *list, const char *what,
             bool nocase)
{
    const struct pc_schema_string *ss = list->items;

    for (size_t i = 0; i < list->n; i++) {
        for (size_t j = 0; ss[i].s != NULL && j < i; j++) {
            if (ss[j].s != NULL
                && (nocase ? strcasecmp(ss[i].s, ss[j].s) : strcmp(ss[i].s, ss[j].s)) == 0) {
                report(model, ss[i].node, "list each once", "%s \"%.128s\" is listed twice", what,
                       ss[i].s);
                break;
            }
        }
    }
}

/* ---- checks: a rule's request ---- */

static int
check_path(struct pc_model *model, struct pc_arena *arena, const struct pc_resource_authz_path *p)
{
    char buf[256];
    const char *problem;
    size_t n;

    if (p->type.s == NULL || p->value.s == NULL) {
        return 0;
    }
    if (strcmp(p->type.s, "Template") != 0) {
        bool has_brace = memchr(p->value.s, '{', p->value.len) != NULL
                         || memchr(p->value.s, '}', p->value.len) != NULL;

        problem = judge_plain_path(p->value.s, p->value.len);
        if (problem != NULL) {
            report(
                model, p->value.node,
                has_brace
                    ? "to capture segments use type Template, such as {type: Template, value: \"/users/{id}\"}"
                    : "write the path as it appears after normalisation, e.g. \"/api/v1\"",
                "path \"%.64s\" %s", p->value.s, problem);
        }
        return 0;
    }
    struct pc_authz_path_segment *segs =
        pc_arena_calloc(arena, count_segments(p->value.s, p->value.len) + 1, sizeof(*segs));
    char *text = pc_arena_alloc(arena, p->value.len + 1);

    if (segs == NULL || text == NULL) {
        return PC_ENOMEM;
    }
    problem = parse_template(p->value.s, p->value.len, segs, &n, text, buf, sizeof(buf));
    if (problem != NULL) {
        report(model, p->value.node, TEMPLATE_HINT, "template \"%.64s\" is not valid: %s",
               p->value.s, problem);
    }
    return 0;
}

static int
check_request(struct pc_model *model, const struct pc_resource_authz_request *req)
{
    const struct pc_resource_authz_path *ps = req->paths.items;
    const struct pc_resource_authz_header *hs = req->headers.items;
    int rc = 0;

    check_unique(model, &req->methods, "method", false);
    for (size_t i = 0; rc == 0 && i < req->paths.n; i++) {
        rc = check_path(model, model->arena, &ps[i]);
    }
    for (size_t i = 0; rc == 0 && i < req->headers.n; i++) {
        rc = check_matcher(model, hs[i].node, &hs[i].type, &hs[i].value);
    }
    if (req->source_cidrs.node != NULL && req->not_source_cidrs.node != NULL) {
        report(model, req->not_source_cidrs.node,
               "a rule tests the client address one way; split it into two rules",
               "set sourceCIDRs or notSourceCIDRs, not both");
    }
    return rc;
}

/* ---- checks: the principal ---- */

/* Whether template s[0..len) has the whole segment "{name}" or "{name...}". */
static bool
template_captures(const char *s, size_t len, const char *name)
{
    size_t name_len = strlen(name);

    for (size_t i = 0; i + name_len + 2 <= len; i++) {
        const char *p = s + i;
        size_t rest;

        if (p[0] != '{' || (i > 0 && p[-1] != '/') || memcmp(p + 1, name, name_len) != 0) {
            continue;
        }
        rest = len - i - 1 - name_len;
        if ((rest >= 1 && p[1 + name_len] == '}' && (rest == 1 || p[2 + name_len] == '/'))
            || (rest == 4 && memcmp(p + 1 + name_len, "...}", 4) == 0)) {
            return true;
        }
    }
    return false;
}

/* An object-level check compares a captured segment: every path of the rule must capture it. */
static void
check_path_param(struct pc_model *model, const struct pc_resource_authz_rule *rule,
                 const struct pc_resource_path_param *pp)
{
    const struct pc_schema_list *paths = rule->request != NULL ? &rule->request->paths : NULL;
    const struct pc_resource_authz_path *ps = paths != NULL ? paths->items : NULL;
    size_t n = paths != NULL ? paths->n : 0;
    bool has_template = false;
    char hint[200];

    for (size_t i = 0; i < n; i++) {
        has_template = has_template || is_equal(ps[i].type.s, "Template");
    }
    if (!has_template) {
        snprintf(
            hint, sizeof(hint),
            "add request.paths with a Template that captures it, such as {type: Template, value: \"/users/{%s}\"}",
            pp->param.s);
        report(model, pp->param.node, hint,
               "parameter \"%s\" is not captured: the rule has no Template path", pp->param.s);
        return;
    }
    snprintf(
        hint, sizeof(hint),
        "capture {%s} in every path of the rule, or move the other paths to a rule of their own",
        pp->param.s);
    for (size_t i = 0; i < n; i++) {
        if (ps[i].type.s == NULL || ps[i].value.s == NULL) {
            continue;
        }
        if (!is_equal(ps[i].type.s, "Template")
            || !template_captures(ps[i].value.s, ps[i].value.len, pp->param.s)) {
            report(model, pp->param.node, hint,
                   "parameter \"%s\" is not captured by request.paths[%zu] (%s \"%.64s\")",
                   pp->param.s, i, ps[i].type.s, ps[i].value.s);
            return;
        }
    }
}

static void
check_path_params(struct pc_model *model, const struct pc_resource_authz_rule *rule)
{
    const struct pc_schema_list *list = &rule->principal->path_params;
    const struct pc_resource_path_param *pps = list->items;

    for (size_t i = 0; i < list->n; i++) {
        bool is_repeat = false;

        for (size_t j = 0; j < i && !is_repeat; j++) {
            is_repeat = is_equal(pps[i].param.s, pps[j].param.s)
                        && is_equal(pps[i].claim.s, pps[j].claim.s);
        }
        if (is_repeat) {
            report(model, pps[i].node, "list each once",
                   "parameter \"%s\" is compared with claim \"%s\" twice", pps[i].param.s,
                   pps[i].claim.s);
        } else if (pps[i].param.s != NULL) {
            check_path_param(model, rule, &pps[i]);
        }
    }
}

/* The first principal condition besides authenticated, by its key, or NULL. */
static const char *
find_principal_condition(const struct pc_resource_authz_principal *p)
{
    static const char *const keys[] = { "subjects", "issuers", "clientIDs", "scopes",
                                        "roles",    "claims",  "pathParams" };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (pc_yaml_get(p->node, keys[i]) != NULL) {
            return keys[i];
        }
    }
    return NULL;
}

static int
check_principal(struct pc_model *model, const struct pc_resource_authz_rule *rule)
{
    const struct pc_resource_authz_principal *p = rule->principal;
    const char *other = find_principal_condition(p);
    int rc;

    if (p->authenticated.node != NULL && p->authenticated.v == 0 && other != NULL) {
        report(
            model, p->authenticated.node,
            "anonymous callers have no subject, issuer, client id, scopes, roles or claims: remove authenticated: false or the other conditions",
            "authenticated: false admits only anonymous callers, and the principal also sets %s",
            other);
    }
    rc = check_string_matches(model, &p->subjects);
    if (rc == 0 && p->claims != NULL) {
        rc = check_claim_tests(model, &p->claims->all_of);
    }
    if (rc == 0 && p->claims != NULL) {
        rc = check_claim_tests(model, &p->claims->any_of);
    }
    check_path_params(model, rule);
    return rc;
}

/* ---- checks: the peer ---- */

static int
check_spiffe_patterns(struct pc_model *model, const struct pc_schema_list *list)
{
    const struct pc_schema_string *ss = list->items;

    for (size_t i = 0; i < list->n; i++) {
        struct pc_err err = { 0 };

        if (ss[i].s == NULL) {
            continue;
        }
        if (strlen(ss[i].s) != ss[i].len) {
            report(model, ss[i].node, NULL, "a SPIFFE ID pattern must not hold NUL characters");
            continue;
        }
        if (pc_spiffe_matcher_compile(ss[i].s, model->arena, &err) != NULL) {
            continue;
        }
        if (err.code == PC_ENOMEM) {
            return PC_ENOMEM;
        }
        report(
            model, ss[i].node,
            "write spiffe://<trust domain>/<path>: '*' matches within one segment, \"**\" any number of whole segments, a trailing '/' every ID below; the trust domain is always literal",
            "%s", err.msg);
    }
    return 0;
}

static int
check_peer(struct pc_model *model, const struct pc_resource_authz_peer *peer)
{
    static const char *const keys[] = { "spiffeIDs", "subjects", "dnsNames" };
    int rc;

    for (size_t i = 0; peer->certificate.node != NULL && peer->certificate.v == 0 && i < 3; i++) {
        if (pc_yaml_get(peer->node, keys[i]) != NULL) {
            report(
                model, peer->certificate.node,
                "the other conditions test a certificate, so they require one: remove certificate: false",
                "certificate: false cannot be combined with %s", keys[i]);
            break;
        }
    }
    rc = check_spiffe_patterns(model, &peer->spiffe_ids);
    return rc == 0 ? check_string_matches(model, &peer->subjects) : rc;
}

/* ---- checks: rules ---- */

static int
check_rule(struct pc_model *model, const struct pc_resource_authz_rule *rule)
{
    int rc = 0;

    if (rule->request != NULL) {
        rc = check_request(model, rule->request);
    }
    if (rc == 0 && rule->principal != NULL) {
        rc = check_principal(model, rule);
    }
    if (rc == 0 && rule->peer != NULL) {
        rc = check_peer(model, rule->peer);
    }
    return rc;
}

static int
check_rules(struct pc_model *model, const struct pc_schema_list *rules)
{
    const struct pc_resource_authz_rule *rs = rules->items;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < rules->n; i++) {
        for (size_t j = 0; rs[i].name.s != NULL && j < i; j++) {
            if (is_equal(rs[i].name.s, rs[j].name.s)) {
                report(model, rs[i].name.node, "give every rule of a policy its own name",
                       "rule name \"%s\" is already used at line %u", rs[i].name.s,
                       rs[j].name.node->line);
                break;
            }
        }
        rc = check_rule(model, &rs[i]);
    }
    return rc;
}

/* ---- checks: the decision source ---- */

/* Reports a policy with no decision source, or with more than one (each after the first). */
static void
check_source(struct pc_model *model, const struct pc_resource_authz_policy *spec)
{
    static const char *const keys[] = { "rules", "opa", "http", "rego" };
    const struct pc_yaml_node *nodes[4];
    const struct pc_yaml_node *first = NULL;
    const struct pc_yaml_node *null_rules = NULL;

    for (size_t i = 0; i < 4; i++) {
        nodes[i] = pc_yaml_get(spec->node, keys[i]);
        if (nodes[i] != NULL && nodes[i]->kind == PC_YAML_SCALAR
            && nodes[i]->type == PC_YAML_NULL) {
            null_rules = i == 0 ? nodes[i] : null_rules;
            nodes[i] = NULL;
        }
        if (nodes[i] != NULL && (first == NULL || is_before(nodes[i], first))) {
            first = nodes[i];
        }
    }
    for (size_t i = 0; i < 4; i++) {
        if (nodes[i] != NULL && nodes[i] != first) {
            report(
                model, nodes[i],
                "a policy takes every decision from one source; put the others in policies of their own",
                "set only one of rules, opa, http and rego");
        }
    }
    if (first == NULL && null_rules != NULL) {
        report(model, null_rules, "write rules: [] to deny every request, or list the rules",
               "rules is empty (null)");
    } else if (first == NULL) {
        report(model, spec->node, "set rules (rules: [] denies every request), opa, http or rego",
               "the policy has no decision source");
    }
}

/* Why name cannot be copied between the request, a check service and the upstream, or NULL. */
static const char *
judge_copied_header(const char *name, bool is_upstream)
{
    static const char *const framing[] = { "content-length",   "transfer-encoding",
                                           "connection",       "keep-alive",
                                           "proxy-connection", "te",
                                           "trailer",          "upgrade" };

    for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++) {
        if (strcasecmp(name, framing[i]) == 0) {
            return "the proxy manages this framing and connection header itself";
        }
    }
    if (strcasecmp(name, "host") == 0) {
        return "each request carries the Host of the server it is sent to";
    }
    if (is_upstream
        && (strncasecmp(name, "x-forwarded-", 12) == 0 || strcasecmp(name, "forwarded") == 0
            || strcasecmp(name, "x-request-id") == 0)) {
        return "the gateway sets this header itself";
    }
    return NULL;
}

static void
check_copied_headers(struct pc_model *model, const struct pc_schema_list *list, bool is_upstream)
{
    const struct pc_schema_string *ss = list->items;

    for (size_t i = 0; i < list->n; i++) {
        const char *why = ss[i].s != NULL ? judge_copied_header(ss[i].s, is_upstream) : NULL;

        if (why != NULL) {
            report(model, ss[i].node, why, "header \"%s\" cannot be copied %s", ss[i].s,
                   is_upstream ? "to the upstream request" : "to the check");
        }
    }
}

static int
check_ca_bundle(struct pc_model *model, const struct pc_resource_pem_bundle *ca, bool is_https,
                struct authz_state *st)
{
    const char *problem;
    int rc;

    if (!is_https) {
        report(model, ca->node, "use an https:// url, or remove caBundle",
               "caBundle applies only to an https url");
        return 0;
    }
    if ((ca->file.node != NULL) == (ca->pem.node != NULL)) {
        report(model, ca->node,
               "a caBundle reads PEM certificates from a file or holds them inline",
               "set exactly one of file and pem");
        return 0;
    }
    if (ca->file.s != NULL) {
        rc = pc_model_check_file(model, &ca->file, "name the PEM file itself", &st->ca.path);
        st->has_ca = rc == 0;
        return rc == PC_ENOMEM ? rc : 0;
    }
    if (ca->pem.s == NULL) {
        return 0;
    }
    problem = pc_value_pem_problem(ca->pem.s, ca->pem.len, PC_VALUE_PEM_CERTIFICATES);
    if (problem != NULL) {
        report(model, ca->pem.node, "give PEM certificates (-----BEGIN CERTIFICATE-----)",
               "not a CA bundle: %s", problem);
        return 0;
    }
    st->ca =
        (struct pc_pem_source){ .origin = PC_PEM_INLINE, .data = ca->pem.s, .len = ca->pem.len };
    st->has_ca = true;
    return 0;
}

static int
check_remote(struct pc_model *model, const struct pc_resource_authz_remote *r, bool is_http,
             struct authz_state *st)
{
    bool is_https = r->url.s != NULL && strncasecmp(r->url.s, "https://", 8) == 0;

    if (is_http && r->append_path.v != 0 && r->url.s != NULL && strchr(r->url.s, '?') != NULL) {
        report(model, r->url.node, "remove the query, or set appendPath: false",
               "url has a query, and appendPath adds the request's path after the url");
    }
    /* Compiled, an empty list reads as no list, which for OPA means every header. */
    if (!is_http && r->headers.node != NULL && r->headers.n == 0) {
        report(
            model, r->headers.node,
            "leave includeHeaders out to put every request header in the input, or list the ones the policy reads",
            "includeHeaders is empty");
    }
    check_unique(model, &r->headers, "header", true);
    check_unique(model, &r->upstream_headers, "header", true);
    if (is_http) {
        check_copied_headers(model, &r->headers, false);
        check_copied_headers(model, &r->upstream_headers, true);
    }
    if (r->cache != NULL) {
        check_unique(model, &r->cache->key, "cache key", false);
    }
    if (r->ca_bundle != NULL && r->url.s != NULL) {
        return check_ca_bundle(model, r->ca_bundle, is_https, st);
    }
    return 0;
}

/* ---- checks: Rego ---- */

static int
push_read_file(struct pc_model *model, const char *path)
{
    for (size_t i = 0; i < model->n_read_files; i++) {
        if (strcmp(model->read_files[i], path) == 0) {
            return 0;
        }
    }
    if (model->n_read_files == model->cap_read_files) {
        size_t cap = model->cap_read_files == 0 ? 8 : model->cap_read_files * 2;
        const char **v = pc_arena_calloc(model->arena, cap, sizeof(*v));

        if (v == NULL) {
            return PC_ENOMEM;
        }
        if (model->n_read_files > 0) {
            memcpy(v, model->read_files, model->n_read_files * sizeof(*v));
        }
        model->read_files = v;
        model->cap_read_files = cap;
    }
    model->read_files[model->n_read_files++] = path;
    return 0;
}

/*
 * Reads the regular file at path, at most max bytes, into a heap buffer with a NUL after it
 * (the caller frees it). Returns 0; PC_ELIMIT when it is larger; PC_ENOMEM; or a negated errno.
 */
static int
read_small_file(const char *path, size_t max, char **out, size_t *len)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    size_t got = 0;
    int rc = 0;

    *out = NULL;
    if (fd == -1) {
        return -errno;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        rc = PC_EIO;
        goto out_close;
    }
    if ((uint64_t)st.st_size > max) {
        rc = PC_ELIMIT;
        goto out_close;
    }
    *out = pc_malloc((size_t)st.st_size + 1);
    if (*out == NULL) {
        rc = PC_ENOMEM;
        goto out_close;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, *out + got, (size_t)st.st_size - got);

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    (*out)[got] = '\0';
    *len = got;

out_close:
    close(fd);
    return rc;
}

/* Cites a Rego error at the files entry that names its module (else at the list). */
static void
report_rego(struct pc_model *model, const struct pc_resource_authz_rego *rego,
            const struct pc_rego_error *err)
{
    const struct pc_schema_string *fs = rego->files.items;
    const struct pc_yaml_node *at = rego->files.node;
    char text[PC_REGO_ERROR_FILE_MAX + PC_REGO_ERROR_MSG_MAX + 64];

    for (size_t i = 0; i < rego->files.n; i++) {
        if (is_equal(fs[i].s, err->file)) {
            at = fs[i].node;
            break;
        }
    }
    pc_rego_error_format(err, text, sizeof(text));
    report(model, at, "`portcullis policy eval -d FILE QUERY` shows the same errors",
           "the Rego module does not compile: %s", text);
}

/* Reads module file (checked: abs is its absolute path) into compiler c. */
static int
add_module(struct pc_model *model, const struct pc_resource_authz_rego *rego,
           const struct pc_schema_string *file, const char *abs, struct pc_rego_compiler *c)
{
    struct pc_rego_error err;
    char *src = NULL;
    size_t len = 0;
    int rc = read_small_file(abs, MAX_REGO_MODULE_BYTES, &src, &len);

    if (rc == PC_ELIMIT) {
        report(model, file->node, "split the policy into several modules",
               "file \"%s\" is larger than 4 MiB", abs);
        return PC_EINVAL;
    }
    if (rc != 0 && rc != PC_ENOMEM) {
        report(model, file->node, NULL, "cannot read file \"%s\": %s", abs, pc_strerror(rc));
        return PC_EINVAL;
    }
    if (rc == 0) {
        rc = push_read_file(model, abs);
    }
    if (rc == 0) {
        rc = pc_rego_compiler_add_module(c, file->s, src, len, &err);
        rc = rc == PC_REGO_ENOMEM ? PC_ENOMEM : rc;
    }
    if (rc != 0 && rc != PC_ENOMEM) {
        report_rego(model, rego, &err);
        rc = PC_EINVAL;
    }
    pc_free(src);
    return rc;
}

static void
on_release_policy(void *data)
{
    pc_rego_policy_unref(data);
}

/* The query names the decision: one expression, compiled against the policy. */
static int
check_query(struct pc_model *model, const struct pc_resource_authz_rego *rego,
            struct pc_rego_policy *policy)
{
    struct pc_rego_error err;
    char text[PC_REGO_ERROR_FILE_MAX + PC_REGO_ERROR_MSG_MAX + 64];
    struct pc_rego_query *q;
    size_t n;

    if (rego->query.s == NULL) {
        return 0;
    }
    q = pc_rego_query_compile(policy, rego->query.s, rego->query.len, 0, &err);
    if (q == NULL && err.code == PC_REGO_ENOMEM) {
        return PC_ENOMEM;
    }
    n = q != NULL ? pc_rego_query_nexprs(q) : 0;
    pc_rego_query_free(q);
    if (q == NULL) {
        pc_rego_error_format(&err, text, sizeof(text));
        report(model, rego->query.node,
               "name the rule that holds the decision, such as data.portcullis.authz.decision",
               "query \"%.128s\" does not compile: %s", rego->query.s, text);
    } else if (n != 1) {
        report(model, rego->query.node,
               "name the rule that holds the decision, such as data.portcullis.authz.decision",
               "query \"%.128s\" has %zu expressions, and a decision is one", rego->query.s, n);
    }
    return 0;
}

/* Compiles the modules into a policy kept in st (released with the load arena). */
static int
compile_modules(struct pc_model *model, const struct pc_resource_authz_rego *rego,
                struct pc_rego_compiler *c, struct authz_state *st)
{
    struct pc_rego_error err;
    struct pc_rego_policy *policy = pc_rego_compiler_compile(c, &err);

    if (policy == NULL) {
        if (err.code == PC_REGO_ENOMEM) {
            return PC_ENOMEM;
        }
        report_rego(model, rego, &err);
        return 0;
    }
    if (pc_arena_cleanup_add(model->arena, on_release_policy, policy) != 0) {
        pc_rego_policy_unref(policy);
        return PC_ENOMEM;
    }
    st->rego_policy = policy;
    return check_query(model, rego, policy);
}

static int
check_rego(struct pc_model *model, const struct pc_resource_authz_rego *rego,
           struct authz_state *st)
{
    const struct pc_schema_string *fs = rego->files.items;
    struct pc_rego_compiler *c = pc_rego_compiler_create();
    bool is_complete = rego->files.n > 0;
    int rc = c != NULL ? 0 : PC_ENOMEM;

    check_unique(model, &rego->files, "file", false);
    for (size_t i = 0; rc == 0 && i < rego->files.n; i++) {
        const char *abs = NULL;
        bool is_repeat = false;

        for (size_t j = 0; j < i && fs[i].s != NULL; j++) {
            is_repeat = is_repeat || is_equal(fs[i].s, fs[j].s);
        }
        if (fs[i].s == NULL || is_repeat) {
            is_complete = is_complete && is_repeat;
            continue;
        }
        rc = pc_model_check_file(model, &fs[i], "name the Rego module file itself", &abs);
        if (rc == 0) {
            rc = add_module(model, rego, &fs[i], abs, c);
        }
        is_complete = is_complete && rc == 0;
        rc = rc == PC_ENOMEM ? rc : 0;
    }
    if (rc == 0 && is_complete) {
        rc = compile_modules(model, rego, c, st);
    }
    pc_rego_compiler_free(c);
    return rc;
}

/* ---- checks: the policy ---- */

static int
check_policy(struct pc_model *model, struct pc_model_resource *res)
{
    const struct pc_resource_authz_policy *spec = res->doc->spec;
    struct authz_state *st = pc_arena_calloc(model->arena, 1, sizeof(*st));
    int rc = 0;

    if (st == NULL) {
        return PC_ENOMEM;
    }
    res->state = st;
    check_source(model, spec);
    if (spec->deny_status.node != NULL && spec->deny_status.v == 402) {
        report(model, spec->deny_status.node,
               "use 401 (the caller must authenticate) or 403 to 499; 403 is the default",
               "denyStatus 402 is not allowed");
    }
    pc_model_check_target_list(model, &spec->target_refs);
    rc = check_rules(model, &spec->rules);
    if (rc == 0 && spec->opa != NULL) {
        rc = check_remote(model, spec->opa, false, st);
    }
    if (rc == 0 && spec->http != NULL) {
        rc = check_remote(model, spec->http, true, st);
    }
    if (rc == 0 && spec->rego != NULL) {
        rc = check_rego(model, spec->rego, st);
    }
    return rc;
}

int
pc_model_check_authz(struct pc_model *model)
{
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_AUTHZ_POLICY]; i++) {
        struct pc_model_resource *res = model->res[PC_RESOURCE_AUTHZ_POLICY][i];

        const struct pc_resource_authz_policy *spec = res->doc->spec;

        /* A spec that is missing or not a mapping was reported by the decoder; nothing more. */
        if (spec != NULL && spec->node->kind == PC_YAML_MAP && check_policy(model, res) != 0) {
            return PC_ENOMEM;
        }
    }
    return 0;
}

/* ---- targets ---- */

static void
claim_slot(struct pc_model *model, const struct pc_model_resource *policy,
           const struct pc_resource_target_ref *t, struct pc_model_slot *slot, const char *what)
{
    if (slot->owner != NULL && slot->owner != policy) {
        report(
            model, t->node,
            "keep one AuthorizationPolicy per target; a policy on a listener or route wins over one on its Gateway",
            "AuthorizationPolicy %s and AuthorizationPolicy %s both target %s", slot->owner->id,
            policy->id, what);
        return;
    }
    *slot = (struct pc_model_slot){ 0, policy, t->node };
}

int
pc_model_resolve_authz(struct pc_model *model)
{
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_AUTHZ_POLICY]; i++) {
        const struct pc_model_resource *policy = model->res[PC_RESOURCE_AUTHZ_POLICY][i];
        const struct pc_resource_authz_policy *spec = policy->doc->spec;
        const struct pc_resource_target_ref *ts = spec != NULL ? spec->target_refs.items : NULL;

        for (size_t t = 0; policy->state != NULL && t < spec->target_refs.n; t++) {
            struct pc_model_target target;

            if (ts[t].kind.s == NULL || ts[t].name.s == NULL
                || !pc_model_resolve_target(model, policy, &ts[t], &target)) {
                continue;
            }
            if (target.route != NULL) {
                claim_slot(model, policy, &ts[t], &target.route->authz, target.what);
            } else if (target.listener != NULL) {
                claim_slot(model, policy, &ts[t], &target.listener->authz, target.what);
            } else {
                claim_slot(model, policy, &ts[t], &target.gateway->authz, target.what);
            }
        }
    }
    return 0;
}

/* ---- compilation: small copies ---- */

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

/* Copies a decoded list of strings (lower-cased when lower); NULL (n 0) for an empty one. */
static const char *const *
copy_strings(struct pc_arena *arena, const struct pc_schema_list *list, bool lower, size_t *n,
             bool *failed)
{
    const struct pc_schema_string *ss = list->items;
    const char **out = list->n > 0 ? pc_arena_calloc(arena, list->n, sizeof(*out)) : NULL;

    *n = 0;
    if (list->n > 0 && out == NULL) {
        *failed = true;
        return NULL;
    }
    for (size_t i = 0; i < list->n; i++) {
        out[i] = lower ? copy_lower(arena, ss[i].s, failed) : copy_string(arena, ss[i].s, failed);
    }
    *n = list->n;
    return out;
}

/* ---- compilation: tests ---- */

static enum pc_string_match
decode_match_type(const char *type)
{
    static const char *const names[] = { "Exact", "Prefix", "Suffix", "Present",
                                         "RegularExpression" };

    /* names[] is in the order of enum pc_string_match. */
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (is_equal(type, names[i])) {
            return (enum pc_string_match)i;
        }
    }
    return PC_STRING_EXACT;
}

static void
compile_matcher(struct pc_arena *arena, const struct pc_schema_string *type,
                const struct pc_schema_string *value, struct pc_string_matcher *out, bool *failed)
{
    char msg[160];
    size_t offset;
    bool is_oom;
    pcre2_code *code;

    out->type = decode_match_type(type->s);
    if (out->type == PC_STRING_PRESENT) {
        return;
    }
    out->value = copy_string(arena, value->s, failed);
    out->value_len = value->len;
    if (out->type != PC_STRING_REGEX || out->value == NULL) {
        return;
    }
    /* Validation compiled it already: only memory can run out here. */
    code = compile_regex(value->s, value->len, msg, sizeof(msg), &offset, &is_oom);
    if (code == NULL || pc_arena_cleanup_add(arena, on_free_regex, code) != 0) {
        pcre2_code_free(code);
        *failed = true;
        return;
    }
    /* JIT is an optimisation: where it is unavailable the interpreter gives the same answers. */
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    out->regex = code;
}

static const struct pc_string_matcher *
compile_string_matches(struct pc_arena *arena, const struct pc_schema_list *list, size_t *n,
                       bool *failed)
{
    const struct pc_resource_string_match *ms = list->items;
    struct pc_string_matcher *out =
        list->n > 0 ? pc_arena_calloc(arena, list->n, sizeof(*out)) : NULL;

    *n = out != NULL ? list->n : 0;
    *failed = *failed || (list->n > 0 && out == NULL);
    for (size_t i = 0; out != NULL && i < list->n; i++) {
        compile_matcher(arena, &ms[i].type, &ms[i].value, &out[i], failed);
    }
    return out;
}

static const struct pc_authz_claim *
compile_claims(struct pc_arena *arena, const struct pc_schema_list *list, size_t *n, bool *failed)
{
    const struct pc_resource_claim_test *ts = list->items;
    struct pc_authz_claim *out = list->n > 0 ? pc_arena_calloc(arena, list->n, sizeof(*out)) : NULL;

    *n = out != NULL ? list->n : 0;
    *failed = *failed || (list->n > 0 && out == NULL);
    for (size_t i = 0; out != NULL && i < list->n; i++) {
        out[i].path = copy_string(arena, ts[i].path.s, failed);
        compile_matcher(arena, &ts[i].type, &ts[i].value, &out[i].match, failed);
    }
    return out;
}

static int
compile_path(struct pc_arena *arena, const struct pc_resource_authz_path *src,
             struct pc_authz_path *out)
{
    char *value = pc_arena_strndup(arena, src->value.s, src->value.len);
    char buf[256];
    size_t n = src->value.len;

    if (value == NULL) {
        return PC_ENOMEM;
    }
    out->value = value;
    out->value_len = n;
    if (is_equal(src->type.s, "Template")) {
        struct pc_authz_path_segment *segs =
            pc_arena_calloc(arena, count_segments(value, n) + 1, sizeof(*segs));
        char *text = pc_arena_alloc(arena, n + 1);

        out->type = PC_AUTHZ_PATH_TEMPLATE;
        if (segs == NULL || text == NULL) {
            return PC_ENOMEM;
        }
        out->segments = segs;
        return parse_template(value, n, segs, &out->n_segments, text, buf, sizeof(buf)) == NULL
                   ? 0
                   : PC_EINVAL;
    }
    out->type = is_equal(src->type.s, "PathPrefix") ? PC_AUTHZ_PATH_PREFIX : PC_AUTHZ_PATH_EXACT;
    /* Requests are tested after normalisation, so the value is normalised the same way. */
    if (pc_path_normalize(value, n, value, &n, true) != 0) {
        return PC_EINVAL;
    }
    if (out->type == PC_AUTHZ_PATH_PREFIX && n > 1 && value[n - 1] == '/') {
        n--;
    }
    value[n] = '\0';
    out->value_len = n;
    return 0;
}

static const struct pc_authz_cidr *
compile_cidrs(struct pc_arena *arena, const struct pc_schema_list *list, size_t *n, bool *failed)
{
    const struct pc_schema_string *ss = list->items;
    struct pc_authz_cidr *out = list->n > 0 ? pc_arena_calloc(arena, list->n, sizeof(*out)) : NULL;

    *n = out != NULL ? list->n : 0;
    *failed = *failed || (list->n > 0 && out == NULL);
    for (size_t i = 0; out != NULL && i < list->n; i++) {
        struct pc_value_cidr cidr;

        *failed = *failed || pc_value_cidr_problem(ss[i].s, ss[i].len, &cidr) != NULL;
        out[i].family = cidr.family;
        memcpy(out[i].addr, cidr.addr, sizeof(out[i].addr));
        out[i].prefix_len = cidr.prefix_len;
    }
    return out;
}

/* ---- compilation: a rule ---- */

static int
compile_request(struct pc_arena *arena, const struct pc_resource_authz_request *req,
                struct pc_authz_rule *out)
{
    const struct pc_resource_authz_path *ps = req->paths.items;
    const struct pc_resource_authz_header *hs = req->headers.items;
    struct pc_authz_path *paths = pc_arena_calloc(arena, req->paths.n + 1, sizeof(*paths));
    struct pc_authz_header *headers = pc_arena_calloc(arena, req->headers.n + 1, sizeof(*headers));
    bool is_inverted = req->not_source_cidrs.node != NULL;
    bool failed = paths == NULL || headers == NULL;

    out->methods = copy_strings(arena, &req->methods, false, &out->n_methods, &failed);
    for (size_t i = 0; !failed && i < req->paths.n; i++) {
        failed = compile_path(arena, &ps[i], &paths[i]) != 0;
    }
    for (size_t i = 0; !failed && i < req->headers.n; i++) {
        headers[i].name = copy_lower(arena, hs[i].name.s, &failed);
        headers[i].name_len = hs[i].name.len;
        headers[i].is_inverted = hs[i].invert.v != 0;
        compile_matcher(arena, &hs[i].type, &hs[i].value, &headers[i].match, &failed);
    }
    out->paths = paths;
    out->n_paths = req->paths.n;
    out->headers = headers;
    out->n_headers = req->headers.n;
    out->sources = compile_cidrs(arena, is_inverted ? &req->not_source_cidrs : &req->source_cidrs,
                                 &out->n_sources, &failed);
    out->is_sources_inverted = is_inverted;
    return failed ? PC_ENOMEM : 0;
}

static const struct pc_authz_param_claim *
compile_param_claims(struct pc_arena *arena, const struct pc_schema_list *list, size_t *n,
                     bool *failed)
{
    const struct pc_resource_path_param *pps = list->items;
    struct pc_authz_param_claim *out =
        list->n > 0 ? pc_arena_calloc(arena, list->n, sizeof(*out)) : NULL;

    *n = out != NULL ? list->n : 0;
    *failed = *failed || (list->n > 0 && out == NULL);
    for (size_t i = 0; out != NULL && i < list->n; i++) {
        out[i].param = copy_string(arena, pps[i].param.s, failed);
        out[i].claim = copy_string(arena, pps[i].claim.s, failed);
    }
    return out;
}

static int
compile_principal(struct pc_arena *arena, const struct pc_resource_authz_principal *p,
                  struct pc_authz_rule *out)
{
    const struct pc_resource_scope_requirement *scopes = p->scopes;
    const struct pc_resource_scope_requirement *roles = p->roles;
    bool failed = false;

    out->require_anonymous = p->authenticated.node != NULL && p->authenticated.v == 0;
    out->subjects = compile_string_matches(arena, &p->subjects, &out->n_subjects, &failed);
    out->issuers = copy_strings(arena, &p->issuers, false, &out->n_issuers, &failed);
    out->client_ids = copy_strings(arena, &p->client_ids, false, &out->n_client_ids, &failed);
    if (scopes != NULL) {
        out->scopes_all = copy_strings(arena, &scopes->all_of, false, &out->n_scopes_all, &failed);
        out->scopes_any = copy_strings(arena, &scopes->any_of, false, &out->n_scopes_any, &failed);
    }
    if (roles != NULL) {
        out->roles_all = copy_strings(arena, &roles->all_of, false, &out->n_roles_all, &failed);
        out->roles_any = copy_strings(arena, &roles->any_of, false, &out->n_roles_any, &failed);
    }
    if (p->claims != NULL) {
        out->claims_all = compile_claims(arena, &p->claims->all_of, &out->n_claims_all, &failed);
        out->claims_any = compile_claims(arena, &p->claims->any_of, &out->n_claims_any, &failed);
    }
    out->param_claims = compile_param_claims(arena, &p->path_params, &out->n_param_claims, &failed);
    /* Any condition on the principal needs one; validation refused one with "false". */
    out->require_authenticated =
        (p->authenticated.node != NULL && p->authenticated.v != 0) || out->n_subjects > 0
        || out->n_issuers > 0 || out->n_client_ids > 0 || out->n_scopes_all > 0
        || out->n_scopes_any > 0 || out->n_roles_all > 0 || out->n_roles_any > 0
        || out->n_claims_all > 0 || out->n_claims_any > 0 || out->n_param_claims > 0;
    return failed ? PC_ENOMEM : 0;
}

static int
compile_peer(struct pc_arena *arena, const struct pc_resource_authz_peer *peer,
             struct pc_authz_rule *out)
{
    const struct pc_schema_string *ids = peer->spiffe_ids.items;
    const struct pc_spiffe_matcher **matchers =
        peer->spiffe_ids.n > 0 ? pc_arena_calloc(arena, peer->spiffe_ids.n, sizeof(*matchers))
                               : NULL;
    bool failed = peer->spiffe_ids.n > 0 && matchers == NULL;

    for (size_t i = 0; !failed && i < peer->spiffe_ids.n; i++) {
        matchers[i] = pc_spiffe_matcher_compile(ids[i].s, arena, NULL);
        failed = matchers[i] == NULL;
    }
    out->spiffe_ids = matchers;
    out->n_spiffe_ids = failed ? 0 : peer->spiffe_ids.n;
    out->peer_subjects =
        compile_string_matches(arena, &peer->subjects, &out->n_peer_subjects, &failed);
    out->peer_dns_names =
        copy_strings(arena, &peer->dns_names, false, &out->n_peer_dns_names, &failed);
    out->require_peer_certificate = peer->certificate.v != 0 || out->n_spiffe_ids > 0
                                    || out->n_peer_subjects > 0 || out->n_peer_dns_names > 0;
    return failed ? PC_ENOMEM : 0;
}

static int
compile_rule(struct pc_arena *arena, const struct pc_model_resource *policy, size_t index,
             const struct pc_resource_authz_rule *src, struct pc_authz_rule *out)
{
    int rc = 0;

    out->name = src->name.s != NULL ? pc_arena_strdup(arena, src->name.s)
                                    : pc_arena_sprintf(arena, "%s/rules/%zu", policy->id, index);
    out->effect = is_equal(src->action.s, "Deny") ? PC_AUTHZ_DENY : PC_AUTHZ_ALLOW;
    if (out->name == NULL) {
        return PC_ENOMEM;
    }
    if (src->request != NULL) {
        rc = compile_request(arena, src->request, out);
    }
    if (rc == 0 && src->principal != NULL) {
        rc = compile_principal(arena, src->principal, out);
    }
    if (rc == 0 && src->peer != NULL) {
        rc = compile_peer(arena, src->peer, out);
    }
    return rc;
}

/* Deny rules and allow rules, each kept in the policy's order. */
static int
compile_rules(struct pc_arena *arena, const struct pc_model_resource *policy,
              const struct pc_schema_list *rules, struct pc_authz *out)
{
    const struct pc_resource_authz_rule *rs = rules->items;
    struct pc_authz_rule *deny = pc_arena_calloc(arena, rules->n + 1, sizeof(*deny));
    struct pc_authz_rule *allow = pc_arena_calloc(arena, rules->n + 1, sizeof(*allow));
    int rc = deny != NULL && allow != NULL ? 0 : PC_ENOMEM;

    for (size_t i = 0; rc == 0 && i < rules->n; i++) {
        bool is_deny = is_equal(rs[i].action.s, "Deny");
        struct pc_authz_rule *slot =
            is_deny ? &deny[out->n_deny_rules++] : &allow[out->n_allow_rules++];

        rc = compile_rule(arena, policy, i, &rs[i], slot);
    }
    out->deny_rules = deny;
    out->allow_rules = allow;
    return rc;
}

/* ---- compilation: decision points ---- */

static int
compile_remote(struct pc_model_tls_compiler *tc, const struct pc_resource_authz_remote *src,
               const struct authz_state *st, bool is_http, const struct pc_authz_remote **out)
{
    struct pc_authz_remote *r = pc_arena_calloc(tc->arena, 1, sizeof(*r));
    bool failed = r == NULL;
    char *url;

    if (failed) {
        return PC_ENOMEM;
    }
    url = (char *)copy_string(tc->arena, src->url.s, &failed);
    r->append_path = is_http && src->append_path.v != 0;
    /* The request's path starts with '/': the URL's own trailing one would double it. */
    if (url != NULL && r->append_path && strlen(url) > 8 && url[strlen(url) - 1] == '/') {
        url[strlen(url) - 1] = '\0';
    }
    r->url = url;
    r->timeout_ms = (uint32_t)src->timeout.v;
    r->headers = copy_strings(tc->arena, &src->headers, true, &r->n_headers, &failed);
    r->response_headers =
        copy_strings(tc->arena, &src->upstream_headers, true, &r->n_response_headers, &failed);
    if (src->cache != NULL) {
        r->cache_ttl_ms = (uint32_t)src->cache->ttl.v;
        r->cache_key = copy_strings(tc->arena, &src->cache->key, false, &r->n_cache_key, &failed);
    }
    if (failed || (st->has_ca && pc_model_compile_source(tc, &st->ca, false, &r->ca) != 0)) {
        return PC_ENOMEM;
    }
    *out = r;
    return 0;
}

static void
on_release_rego(void *data)
{
    struct rego_hold *hold = data;

    pc_rego_query_free(hold->query);
    pc_rego_policy_unref(hold->policy);
}

/* The snapshot takes its own reference to the policy and its own copy of the query. */
static int
compile_rego(struct pc_arena *arena, const struct pc_resource_authz_rego *src,
             const struct authz_state *st, const struct pc_authz_rego **out)
{
    struct pc_authz_rego *r = pc_arena_calloc(arena, 1, sizeof(*r));
    struct rego_hold *hold = pc_arena_calloc(arena, 1, sizeof(*hold));
    struct pc_rego_error err;
    bool failed = r == NULL || hold == NULL;

    if (failed || st->rego_policy == NULL) {
        return PC_ENOMEM;
    }
    r->files = copy_strings(arena, &src->files, false, &r->n_files, &failed);
    r->query = copy_string(arena, src->query.s, &failed);
    r->step_limit = (uint64_t)src->step_limit.v;
    if (failed) {
        return PC_ENOMEM;
    }
    hold->policy = pc_rego_policy_ref(st->rego_policy);
    hold->query = pc_rego_query_compile(hold->policy, src->query.s, src->query.len, 0, &err);
    if (hold->query == NULL || pc_arena_cleanup_add(arena, on_release_rego, hold) != 0) {
        on_release_rego(hold);
        return PC_ENOMEM;
    }
    r->policy = hold->policy;
    r->compiled_query = hold->query;
    *out = r;
    return 0;
}

static int
compile_policy(struct pc_model_tls_compiler *tc, const struct pc_model_resource *policy,
               const struct authz_state *st, struct pc_authz **out)
{
    const struct pc_resource_authz_policy *spec = policy->doc->spec;
    struct pc_authz *a = pc_arena_calloc(tc->arena, 1, sizeof(*a));
    bool failed = a == NULL;
    int rc = 0;

    if (failed) {
        return PC_ENOMEM;
    }
    a->policy = copy_string(tc->arena, policy->id, &failed);
    a->fail_open = is_equal(spec->failure_mode.s, "Open");
    a->is_shadow = is_equal(spec->mode.s, "Shadow");
    a->deny_status = (uint16_t)spec->deny_status.v;
    if (spec->opa != NULL) {
        a->source = PC_AUTHZ_OPA;
        rc = compile_remote(tc, spec->opa, st, false, &a->remote);
    } else if (spec->http != NULL) {
        a->source = PC_AUTHZ_HTTP;
        rc = compile_remote(tc, spec->http, st, true, &a->remote);
    } else if (spec->rego != NULL) {
        a->source = PC_AUTHZ_REGO;
        rc = compile_rego(tc->arena, spec->rego, st, &a->rego);
    } else {
        a->source = PC_AUTHZ_RULES;
        rc = compile_rules(tc->arena, policy, &spec->rules, a);
    }
    *out = a;
    return failed || rc != 0 ? PC_ENOMEM : 0;
}

static int
push_authz(struct pc_model_tls_compiler *tc, struct pc_authz *authz)
{
    if (tc->n_authzs == tc->cap_authzs) {
        size_t cap = tc->cap_authzs == 0 ? 8 : tc->cap_authzs * 2;
        const struct pc_authz **v = pc_realloc(tc->authzs, cap * sizeof(*v));

        if (v == NULL) {
            return PC_ENOMEM;
        }
        tc->authzs = v;
        tc->cap_authzs = cap;
    }
    authz->id = (uint32_t)tc->n_authzs;
    tc->authzs[tc->n_authzs++] = authz;
    return 0;
}

int
pc_model_compile_authz(struct pc_model_tls_compiler *tc, const struct pc_model_resource *route,
                       const struct pc_model_listener *l, const struct pc_authz **out)
{
    const struct pc_model_route *r = route->state;
    const struct pc_model_gateway *gw = l->gateway->state;
    const struct pc_model_resource *policy = r->authz.owner;
    struct authz_state *st;
    struct pc_authz *authz = NULL;

    /* The most specific policy applies whole: route, then listener, then Gateway. */
    policy = policy != NULL ? policy : l->authz.owner;
    policy = policy != NULL ? policy : gw->authz.owner;
    *out = NULL;
    if (policy == NULL) {
        return 0;
    }
    st = policy->state;
    if (st->compiled == NULL) {
        if (compile_policy(tc, policy, st, &authz) != 0 || push_authz(tc, authz) != 0) {
            return PC_ENOMEM;
        }
        st->compiled = authz;
    }
    *out = st->compiled;
    return 0;
}

/* ---- the decision log ---- */

static int
no_passphrase(char *buf, int size, int rwflag, void *data)
{
    return -1;
}

/* Says why key text[0..len) cannot sign checkpoints, or NULL (buf holds the sentence). */
static const char *
judge_signing_key(const char *text, size_t len, char *buf, size_t size)
{
    const char *problem = pc_value_pem_problem(text, len, PC_VALUE_PEM_PRIVATE_KEY);
    BIO *bio = problem == NULL ? BIO_new_mem_buf(text, (int)len) : NULL;
    EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;

    if (problem != NULL) {
        snprintf(buf, size, "%s", problem);
    } else if (key == NULL) {
        snprintf(buf, size, "OpenSSL cannot read the private key it holds");
    } else if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
        snprintf(buf, size, "it holds an %s key, and checkpoints are signed with Ed25519",
                 EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key) : "unknown");
    } else {
        buf[0] = '\0';
    }
    EVP_PKEY_free(key);
    BIO_free(bio);
    /* Failed reads leave errors in the thread's queue, where TLS code would find them later. */
    ERR_clear_error();
    return buf[0] != '\0' ? buf : NULL;
}

static int
check_signing_key(struct pc_model *model, const struct pc_schema_string *file, const char *abs)
{
    char buf[160];
    char *text = NULL;
    size_t len = 0;
    const char *problem;
    int rc = read_small_file(abs, MAX_SIGNING_KEY_BYTES, &text, &len);

    if (rc == PC_ENOMEM) {
        return rc;
    }
    if (rc != 0) {
        report(model, file->node, KEYGEN_HINT, "cannot read signing key \"%s\": %s", abs,
               rc == PC_ELIMIT ? "it is larger than 64 KiB" : pc_strerror(rc));
        return 0;
    }
    problem = judge_signing_key(text, len, buf, sizeof(buf));
    pc_free_secret(text, len + 1);
    if (problem != NULL) {
        report(model, file->node, KEYGEN_HINT,
               "signing key \"%s\" is not an unencrypted PKCS#8 Ed25519 private key: %s", abs,
               problem);
        return 0;
    }
    model->decision_key_file = abs;
    return 0;
}

int
pc_model_check_decision_log(struct pc_model *model)
{
    const struct pc_model_resource *pc =
        model->n_res[PC_RESOURCE_PROXY_CONFIG] > 0 ? model->res[PC_RESOURCE_PROXY_CONFIG][0] : NULL;
    const struct pc_resource_proxy_config *spec = pc != NULL ? pc->doc->spec : NULL;
    const struct pc_resource_decision_log *dl = spec != NULL ? spec->decision_log : NULL;
    const struct pc_resource_access_log *alog = spec != NULL ? spec->access_log : NULL;
    const char *abs = NULL;
    int rc;

    if (dl == NULL) {
        return 0;
    }
    if (is_equal(dl->path.s, "-")) {
        report(model, dl->path.node, "give a file path; the hash chain continues across restarts",
               "the decision log is written to a file, not to standard output");
    } else if (alog != NULL && is_equal(dl->path.s, alog->path.s)) {
        report(model, dl->path.node, "give each log a file of its own",
               "path \"%s\" is also the access log's", dl->path.s);
    }
    if (dl->signing_key == NULL || dl->signing_key->file.s == NULL) {
        return 0;
    }
    rc = pc_model_check_file(model, &dl->signing_key->file, "name the PEM key file itself", &abs);
    if (rc != 0) {
        return rc == PC_ENOMEM ? rc : 0;
    }
    return check_signing_key(model, &dl->signing_key->file, abs);
}

int
pc_model_compile_decision_log(const struct pc_model *model, struct pc_arena *arena,
                              struct pc_decision_log_settings *out)
{
    const struct pc_model_resource *pc =
        model->n_res[PC_RESOURCE_PROXY_CONFIG] > 0 ? model->res[PC_RESOURCE_PROXY_CONFIG][0] : NULL;
    const struct pc_resource_proxy_config *spec = pc != NULL ? pc->doc->spec : NULL;
    const struct pc_resource_decision_log *dl = spec != NULL ? spec->decision_log : NULL;
    bool failed = false;

    *out = (struct pc_decision_log_settings){
        .checkpoint_interval_ms = PC_CONFIG_DEFAULT_DECISION_CHECKPOINT_MS,
        .checkpoint_lines = PC_CONFIG_DEFAULT_DECISION_CHECKPOINT_LINES,
        .queue_lines = PC_CONFIG_DEFAULT_DECISION_QUEUE_LINES,
    };
    if (dl == NULL) {
        return 0;
    }
    out->path = copy_string(arena, dl->path.s, &failed);
    out->signing_key_file = copy_string(arena, model->decision_key_file, &failed);
    out->checkpoint_interval_ms = (uint32_t)dl->checkpoint_interval.v;
    out->checkpoint_lines = (uint32_t)dl->checkpoint_lines.v;
    out->queue_lines = (uint32_t)dl->queue_lines.v;
    return failed ? PC_ENOMEM : 0;
}
