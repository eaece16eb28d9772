/*
 * Unit tests for the native authorization rules (src/authz/rules.c): every condition of struct
 * pc_authz_rule, deny before allow, the default deny, path templates and their captures
 * (percent-encoded ones included), object-level parameter checks, IPv4, IPv6 and IPv4-mapped
 * client addresses, claims that are arrays, numbers or booleans, undecidable regular expressions
 * resolving to the safe side, and the nearest-rule detail. Policies are built by hand here, as
 * the configuration compiler would build them.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <pcre2.h>

#include "authn/principal.h"
#include "authz/rules.h"
#include "authz/view.h"
#include "core/arena.h"
#include "tls/peer.h"
#include "tls/spiffe.h"

/* ---- building views, principals and policies ---- */

struct fixture {
    struct pc_arena *arena;
    struct pc_authz_view view;
    struct pc_header_pair headers[8];
    struct pc_principal *principal;
    pcre2_code *regexes[8];
    size_t n_regexes;
};

static struct fixture fx;

static int
setup(void **state)
{
    memset(&fx, 0, sizeof(fx));
    fx.arena = pc_arena_create(4096);
    assert_non_null(fx.arena);
    fx.view.method = "GET";
    fx.view.method_len = 3;
    fx.view.path = "/";
    fx.view.path_len = 1;
    fx.view.scheme = "https";
    fx.view.protocol = "HTTP/1.1";
    fx.view.headers = fx.headers;
    return 0;
}

static int
teardown(void **state)
{
    for (size_t i = 0; i < fx.n_regexes; i++) {
        pcre2_code_free(fx.regexes[i]);
    }
    pc_principal_unref(fx.principal);
    pc_arena_destroy(fx.arena);
    return 0;
}

static void
set_path(const char *path)
{
    fx.view.path = path;
    fx.view.path_len = strlen(path);
}

static void
set_method(const char *method)
{
    fx.view.method = method;
    fx.view.method_len = strlen(method);
}

static void
add_header(const char *name, const char *value)
{
    assert_true(fx.view.n_headers < 8);
    fx.headers[fx.view.n_headers++] =
        (struct pc_header_pair){ name, strlen(name), value, strlen(value) };
}

static void
set_client(const char *addr)
{
    memset(&fx.view.client_addr, 0, sizeof(fx.view.client_addr));
    if (strchr(addr, ':') != NULL) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&fx.view.client_addr;

        sin6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
        sin6->sin6_port = htons(40000);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&fx.view.client_addr;

        sin->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
        sin->sin_port = htons(40000);
    }
}

/* Authenticates the view's caller with the claims in JSON text; roles come from "roles". */
static void
set_principal(const char *claims_json)
{
    static const char *const client_id_claims[] = { "client_id", "azp" };
    static const char *const role_paths[] = { "roles", "realm_access.roles" };
    struct pc_principal_spec spec = { client_id_claims, 2, role_paths, 2 };
    json_t *claims = json_loads(claims_json, 0, NULL);

    assert_non_null(claims);
    pc_principal_unref(fx.principal);
    fx.principal = pc_principal_create(claims, &spec);
    json_decref(claims);
    assert_non_null(fx.principal);
    fx.view.principal = fx.principal;
}

static struct pc_peer_identity *
make_peer(const char *subject, const char *spiffe_id, const char *dns)
{
    struct pc_peer_identity *peer = pc_arena_calloc(fx.arena, 1, sizeof(*peer));
    const char **names = pc_arena_calloc(fx.arena, 1, sizeof(*names));

    assert_non_null(peer);
    peer->subject = subject;
    peer->spiffe_id = spiffe_id;
    if (dns != NULL) {
        names[0] = dns;
        peer->dns = names;
        peer->n_dns = 1;
    }
    memcpy(peer->sha256_hex, "00", 3);
    return peer;
}

static struct pc_string_matcher
exact(const char *value)
{
    return (struct pc_string_matcher){ PC_STRING_EXACT, value, strlen(value), NULL };
}

static struct pc_string_matcher
matcher(enum pc_string_match type, const char *value)
{
    return (struct pc_string_matcher){ type, value, value != NULL ? strlen(value) : 0, NULL };
}

/* A regular expression compiled as the configuration compiles them, unless anchored is false. */
static struct pc_string_matcher
regex(const char *pattern, bool is_anchored)
{
    uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code *re;

    if (is_anchored) {
        options |= PCRE2_ANCHORED | PCRE2_ENDANCHORED;
    }
    re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, options, &code, &offset, NULL);
    assert_non_null(re);
    assert_true(fx.n_regexes < 8);
    fx.regexes[fx.n_regexes++] = re;
    return (struct pc_string_matcher){ PC_STRING_REGEX, pattern, strlen(pattern), re };
}

static struct pc_authz_path
exact_path(const char *value)
{
    return (struct pc_authz_path){ PC_AUTHZ_PATH_EXACT, value, strlen(value), NULL, 0 };
}

static struct pc_authz_path
prefix_path(const char *value)
{
    return (struct pc_authz_path){ PC_AUTHZ_PATH_PREFIX, value, strlen(value), NULL, 0 };
}

/* Compiles a template the way the configuration does: "/users/{id}/x/{rest...}". */
static struct pc_authz_path
template_path(const char *text)
{
    struct pc_authz_path_segment *segs = pc_arena_calloc(fx.arena, 32, sizeof(*segs));
    size_t n = 0;
    const char *p = text + 1;

    assert_non_null(segs);
    while (strcmp(text, "/") != 0) {
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

        assert_true(n < 32);
        if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
            bool is_rest = len > 5 && memcmp(p + len - 4, "...}", 4) == 0;

            segs[n] =
                (struct pc_authz_path_segment){ p + 1, len - (is_rest ? 5 : 2), true, is_rest };
        } else {
            segs[n] = (struct pc_authz_path_segment){ p, len, false, false };
        }
        n++;
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    return (struct pc_authz_path){ PC_AUTHZ_PATH_TEMPLATE, text, strlen(text), segs, n };
}

static struct pc_authz_cidr
cidr(const char *addr, unsigned prefix_len)
{
    struct pc_authz_cidr c = { 0 };

    c.family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(c.family, addr, c.addr), 1);
    c.prefix_len = prefix_len;
    return c;
}

static struct pc_authz
policy(const struct pc_authz_rule *deny, size_t n_deny, const struct pc_authz_rule *allow,
       size_t n_allow)
{
    struct pc_authz a = { 0 };

    a.policy = "default/test";
    a.source = PC_AUTHZ_RULES;
    a.deny_rules = deny;
    a.n_deny_rules = n_deny;
    a.allow_rules = allow;
    a.n_allow_rules = n_allow;
    a.deny_status = 403;
    return a;
}

/* Whether the single allow rule r allows the fixture's request. */
static bool
allows(const struct pc_authz_rule *r)
{
    struct pc_authz a = policy(NULL, 0, r, 1);
    struct pc_authz_result res;

    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_true(res.is_allowed ? strcmp(res.reason, "rule_allowed") == 0
                               : strcmp(res.reason, "no_rule_matched") == 0);
    return res.is_allowed;
}

/* Whether the single deny rule r (followed by an allow-all rule) denies the request. */
static bool
denies(const struct pc_authz_rule *r)
{
    static const struct pc_authz_rule allow_all = { .name = "allow-all" };
    struct pc_authz_rule deny = *r;
    struct pc_authz a;
    struct pc_authz_result res;

    deny.effect = PC_AUTHZ_DENY;
    a = policy(&deny, 1, &allow_all, 1);
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    return !res.is_allowed;
}

/* ---- outcomes ---- */

static void
test_rules_empty_policy_denies(void **state)
{
    struct pc_authz a = policy(NULL, 0, NULL, 0);
    struct pc_authz_result res;

    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_false(res.is_allowed);
    assert_string_equal(res.reason, "no_rule_matched");
    assert_null(res.rule);
    assert_null(res.detail_rule);
    assert_null(res.detail);
    assert_int_equal(res.n_captures, 0);
}

static void
test_rules_deny_before_allow(void **state)
{
    static const char *const get[] = { "GET" };
    struct pc_authz_rule deny = { .name = "no-admin", .effect = PC_AUTHZ_DENY };
    struct pc_authz_rule allow[2] = { { .name = "gets", .methods = get, .n_methods = 1 },
                                      { .name = "all" } };
    struct pc_authz_path admin = prefix_path("/admin");
    struct pc_authz a;
    struct pc_authz_result res;

    deny.paths = &admin;
    deny.n_paths = 1;
    a = policy(&deny, 1, allow, 2);

    set_path("/admin/users");
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_false(res.is_allowed);
    assert_string_equal(res.reason, "rule_denied");
    assert_string_equal(res.rule, "no-admin");

    /* The first allow rule that holds is the one reported. */
    set_path("/orders");
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_true(res.is_allowed);
    assert_string_equal(res.reason, "rule_allowed");
    assert_string_equal(res.rule, "gets");

    set_method("DELETE");
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_true(res.is_allowed);
    assert_string_equal(res.rule, "all");
}

static void
test_rules_nothing_matched_denies(void **state)
{
    static const char *const post[] = { "POST" };
    struct pc_authz_rule allow = { .name = "posts", .methods = post, .n_methods = 1 };
    struct pc_authz a = policy(NULL, 0, &allow, 1);
    struct pc_authz_result res;

    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_false(res.is_allowed);
    assert_string_equal(res.reason, "no_rule_matched");
    assert_null(res.rule);
    assert_null(res.detail);
}

static void
test_rules_detail_names_nearest_rule(void **state)
{
    static const char *const get[] = { "GET" };
    static const char *const read[] = { "orders.read" };
    struct pc_authz_path orders = prefix_path("/orders");
    struct pc_authz_path users = prefix_path("/users");
    struct pc_authz_rule allow[3] = {
        { .name = "users", .methods = get, .n_methods = 1, .paths = &users, .n_paths = 1 },
        { .name = "orders-read",
          .methods = get,
          .n_methods = 1,
          .paths = &orders,
          .n_paths = 1,
          .scopes_all = read,
          .n_scopes_all = 1 },
        { .name = "users-any", .paths = &users, .n_paths = 1 },
    };
    struct pc_authz_rule deny = { .name = "deny-users", .effect = PC_AUTHZ_DENY };
    struct pc_authz a = policy(NULL, 0, allow, 3);
    struct pc_authz_result res;

    deny.paths = &users;
    deny.n_paths = 1;
    set_path("/orders/7");
    set_principal("{\"sub\":\"alice\",\"scope\":\"orders.write\"}");
    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_false(res.is_allowed);
    assert_string_equal(res.detail_rule, "orders-read");
    assert_string_equal(res.detail, "principal.scopes.allOf");

    /* Without the flag no detail is computed. */
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_null(res.detail_rule);
    assert_null(res.detail);

    /* Allowed: the detail is the deny rule that came nearest and what it missed. */
    set_principal("{\"sub\":\"alice\",\"scope\":\"orders.read\"}");
    a = policy(&deny, 1, allow, 3);
    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_true(res.is_allowed);
    assert_string_equal(res.rule, "orders-read");
    assert_string_equal(res.detail_rule, "deny-users");
    assert_string_equal(res.detail, "request.paths");

    /* Denied by a deny rule: the rule is the whole story. */
    set_path("/users/1");
    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_false(res.is_allowed);
    assert_string_equal(res.rule, "deny-users");
    assert_null(res.detail_rule);
    assert_null(res.detail);
}

/* ---- the request ---- */

static void
test_rules_methods(void **state)
{
    static const char *const methods[] = { "GET", "HEAD" };
    struct pc_authz_rule r = { .name = "m", .methods = methods, .n_methods = 2 };

    assert_true(allows(&r));
    set_method("HEAD");
    assert_true(allows(&r));
    set_method("POST");
    assert_false(allows(&r));
    set_method("get");
    assert_false(allows(&r));
    set_method("GETX");
    assert_false(allows(&r));
    fx.view.method = "GE";
    fx.view.method_len = 2;
    assert_false(allows(&r));
}

static void
test_rules_exact_path(void **state)
{
    struct pc_authz_path p = exact_path("/health");
    struct pc_authz_rule r = { .name = "p", .paths = &p, .n_paths = 1 };

    set_path("/health");
    assert_true(allows(&r));
    set_path("/health/");
    assert_false(allows(&r));
    set_path("/healthz");
    assert_false(allows(&r));
    set_path("/Health");
    assert_false(allows(&r));
}

static void
test_rules_prefix_path_whole_segments(void **state)
{
    struct pc_authz_path p[2] = { prefix_path("/api"), prefix_path("/v2/") };
    struct pc_authz_path root = prefix_path("/");
    struct pc_authz_rule r = { .name = "p", .paths = p, .n_paths = 2 };
    struct pc_authz_rule all = { .name = "root", .paths = &root, .n_paths = 1 };

    set_path("/api");
    assert_true(allows(&r));
    set_path("/api/");
    assert_true(allows(&r));
    set_path("/api/x/y");
    assert_true(allows(&r));
    set_path("/apix");
    assert_false(allows(&r));
    set_path("/ap");
    assert_false(allows(&r));
    /* A trailing slash in the prefix covers nothing: "/v2/" is "/v2" and below. */
    set_path("/v2");
    assert_true(allows(&r));
    set_path("/v2/items");
    assert_true(allows(&r));
    set_path("/v20");
    assert_false(allows(&r));
    set_path("/anything/at/all");
    assert_true(allows(&all));
}

static void
test_rules_template_captures(void **state)
{
    struct pc_authz_path p = template_path("/users/{id}/orders/{rest...}");
    struct pc_authz_rule r = { .name = "t", .paths = &p, .n_paths = 1 };
    struct pc_authz a = policy(NULL, 0, &r, 1);
    struct pc_authz_result res;

    set_path("/users/42/orders/a/b");
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_true(res.is_allowed);
    assert_int_equal(res.n_captures, 2);
    assert_false(res.is_captures_truncated);
    assert_int_equal(res.captures[0].name_len, 2);
    assert_memory_equal(res.captures[0].name, "id", 2);
    assert_int_equal(res.captures[0].value_len, 2);
    assert_memory_equal(res.captures[0].value, "42", 2);
    assert_int_equal(res.captures[1].name_len, 4);
    assert_memory_equal(res.captures[1].name, "rest", 4);
    assert_int_equal(res.captures[1].value_len, 3);
    assert_memory_equal(res.captures[1].value, "a/b", 3);
    assert_ptr_equal(res.captures[1].value, fx.view.path + 17);

    /* Percent-encoded captures are returned as they are in the path. */
    set_path("/users/a%20b/orders/x%2Fy");
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_true(res.is_allowed);
    assert_int_equal(res.captures[0].value_len, 5);
    assert_memory_equal(res.captures[0].value, "a%20b", 5);
    assert_int_equal(res.captures[1].value_len, 5);

    /* "{rest...}" needs at least one non-empty segment; "{id}" exactly one non-empty one. */
    set_path("/users/42/orders");
    assert_false(allows(&r));
    set_path("/users/42/orders/");
    assert_false(allows(&r));
    set_path("/users//orders/x");
    assert_false(allows(&r));
    set_path("/users/42/43/orders/x");
    assert_false(allows(&r));
    set_path("/users/42/order/x");
    assert_false(allows(&r));
    set_path("/users/42/orders/x/");
    assert_true(allows(&r));
}

static void
test_rules_template_exact_segments(void **state)
{
    struct pc_authz_path p = template_path("/users/{id}");
    struct pc_authz_path root = template_path("/");
    struct pc_authz_rule r = { .name = "t", .paths = &p, .n_paths = 1 };
    struct pc_authz_rule rr = { .name = "root", .paths = &root, .n_paths = 1 };
    struct pc_authz_result res;
    struct pc_authz a = policy(NULL, 0, &r, 1);

    set_path("/users/7");
    assert_true(allows(&r));
    set_path("/users/7/");
    assert_false(allows(&r));
    set_path("/users");
    assert_false(allows(&r));
    set_path("/users/");
    assert_false(allows(&r));
    set_path("/usersx/7");
    assert_false(allows(&r));
    set_path("/");
    assert_true(allows(&rr));
    set_path("/x");
    assert_false(allows(&rr));

    /* Only the deciding rule's captures are reported; a failed rule's never leak. */
    set_path("/users/9");
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_int_equal(res.n_captures, 1);
    set_path("/users/9/x");
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_false(res.is_allowed);
    assert_int_equal(res.n_captures, 0);
}

static void
test_rules_template_many_params(void **state)
{
    static const struct pc_authz_param_claim pc = { "j", "sub" };
    struct pc_authz_path p = template_path("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}");
    struct pc_authz_rule r = { .name = "t", .paths = &p, .n_paths = 1 };
    struct pc_authz a = policy(NULL, 0, &r, 1);
    struct pc_authz_result res;

    set_path("/1/2/3/4/5/6/7/8/9/alice");
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_true(res.is_allowed);
    assert_int_equal(res.n_captures, PC_AUTHZ_MAX_CAPTURES);
    assert_true(res.is_captures_truncated);
    assert_memory_equal(res.captures[7].value, "8", 1);

    /* A parameter past the recorded ones is still found for pathParams. */
    r.param_claims = &pc;
    r.n_param_claims = 1;
    set_principal("{\"sub\":\"alice\"}");
    assert_true(allows(&r));
    set_principal("{\"sub\":\"bob\"}");
    assert_false(allows(&r));
}

static void
test_rules_any_path_holds(void **state)
{
    struct pc_authz_path p[3] = { exact_path("/a"), template_path("/b/{x}"), prefix_path("/c") };
    struct pc_authz_rule r = { .name = "any", .paths = p, .n_paths = 3 };
    struct pc_authz a = policy(NULL, 0, &r, 1);
    struct pc_authz_result res;

    set_path("/a");
    assert_true(allows(&r));
    set_path("/b/1");
    assert_true(allows(&r));
    set_path("/c/d");
    pc_authz_rules_eval(&a, &fx.view, 0, &res);
    assert_true(res.is_allowed);
    assert_int_equal(res.n_captures, 0);
    set_path("/d");
    assert_false(allows(&r));
}

static void
test_rules_headers(void **state)
{
    struct pc_authz_header h[2] = {
        { "x-tenant", 8, exact("acme"), false },
        { "x-env", 5, matcher(PC_STRING_PREFIX, "prod"), false },
    };
    struct pc_authz_rule r = { .name = "h", .headers = h, .n_headers = 2 };

    assert_false(allows(&r));
    add_header("x-tenant", "acme");
    assert_false(allows(&r)); /* every header test must hold */
    add_header("x-env", "production");
    assert_true(allows(&r));

    h[1].match = matcher(PC_STRING_SUFFIX, "tion");
    assert_true(allows(&r));
    h[1].match = matcher(PC_STRING_SUFFIX, "xproduction");
    assert_false(allows(&r));
    h[1].match = matcher(PC_STRING_PRESENT, NULL);
    assert_true(allows(&r));
    h[1].match = regex("prod[a-z]+", true);
    assert_true(allows(&r));
    h[1].match = regex("prod", true);
    assert_false(allows(&r));
    h[1].match = exact("Production");
    assert_false(allows(&r));
}

static void
test_rules_repeated_header_any_value(void **state)
{
    struct pc_authz_header h = { "x-group", 7, exact("admins"), false };
    struct pc_authz_rule r = { .name = "h", .headers = &h, .n_headers = 1 };

    add_header("x-group", "users");
    add_header("x-other", "admins");
    assert_false(allows(&r));
    add_header("x-group", "admins");
    assert_true(allows(&r));
}

static void
test_rules_inverted_header(void **state)
{
    struct pc_authz_header h = { "x-debug", 7, matcher(PC_STRING_PRESENT, NULL), true };
    struct pc_authz_header v = { "x-tenant", 8, exact("evil"), true };
    struct pc_authz_rule r = { .name = "h", .headers = &h, .n_headers = 1 };
    struct pc_authz_rule rv = { .name = "v", .headers = &v, .n_headers = 1 };

    /* Absent: an inverted test holds. */
    assert_true(allows(&r));
    assert_true(allows(&rv));
    add_header("x-tenant", "acme");
    assert_true(allows(&rv));
    add_header("x-debug", "1");
    assert_false(allows(&r));
    add_header("x-tenant", "evil");
    assert_false(allows(&rv));
}

static void
test_rules_regex_is_anchored(void **state)
{
    struct pc_authz_header h = { "x-id", 4, regex("[0-9]+", false), false };
    struct pc_authz_rule r = { .name = "h", .headers = &h, .n_headers = 1 };

    add_header("x-id", "abc123def");
    assert_false(allows(&r));
    fx.headers[0].value = "123";
    fx.headers[0].value_len = 3;
    assert_true(allows(&r));
}

static void
test_rules_undecided_regex_is_safe(void **state)
{
    /* Catastrophic backtracking: over the match budget, so the test cannot be decided. */
    struct pc_authz_header h = { "x-v", 3, regex("(a+)+[bc]", true), false };
    struct pc_authz_rule r = { .name = "h", .headers = &h, .n_headers = 1 };

    add_header("x-v", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaad");
    assert_false(allows(&r));
    assert_true(denies(&r));

    /* Inverted, the undecided test must still keep an allow rule from holding. */
    h.is_inverted = true;
    assert_false(allows(&r));
    assert_true(denies(&r));

    /* A decided mismatch under inversion holds. */
    fx.headers[0].value = "ccc";
    fx.headers[0].value_len = 3;
    assert_true(allows(&r));
    assert_true(denies(&r));
}

static void
test_rules_jit_regex(void **state)
{
    struct pc_authz_header h = { "x-v", 3, regex("[a-z]+-[0-9]{2,4}", true), false };
    struct pc_authz_header slow = { "x-v", 3, regex("(a+)+[bc]", true), false };
    struct pc_authz_rule r = { .name = "h", .headers = &h, .n_headers = 1 };

    /* The configuration JIT-compiles where it can; the answers must not change. */
    assert_int_equal(pcre2_jit_compile((pcre2_code *)h.match.regex, PCRE2_JIT_COMPLETE), 0);
    assert_int_equal(pcre2_jit_compile((pcre2_code *)slow.match.regex, PCRE2_JIT_COMPLETE), 0);
    add_header("x-v", "abc-123");
    assert_true(allows(&r));
    fx.headers[0].value = "abc-12345";
    fx.headers[0].value_len = 9;
    assert_false(allows(&r));

    r.headers = &slow;
    fx.headers[0].value = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaad";
    fx.headers[0].value_len = strlen(fx.headers[0].value);
    assert_false(allows(&r));
    assert_true(denies(&r));
}

static void
test_rules_source_cidrs_v4(void **state)
{
    struct pc_authz_cidr c[2] = { cidr("10.0.0.0", 8), cidr("192.168.16.0", 20) };
    struct pc_authz_rule r = { .name = "s", .sources = c, .n_sources = 2 };

    set_client("10.1.2.3");
    assert_true(allows(&r));
    set_client("11.0.0.1");
    assert_false(allows(&r));
    set_client("192.168.31.255");
    assert_true(allows(&r));
    set_client("192.168.32.0");
    assert_false(allows(&r));
    set_client("192.168.15.255");
    assert_false(allows(&r));

    /* An IPv4-mapped IPv6 client is the IPv4 client it stands for. */
    set_client("::ffff:10.9.9.9");
    assert_true(allows(&r));
    set_client("::ffff:11.9.9.9");
    assert_false(allows(&r));
    set_client("::10.9.9.9");
    assert_false(allows(&r));
}

static void
test_rules_source_cidrs_v6(void **state)
{
    struct pc_authz_cidr c[3] = { cidr("::1", 128), cidr("2001:db8::", 32), cidr("fd00::", 7) };
    struct pc_authz_rule r = { .name = "s", .sources = c, .n_sources = 3 };

    set_client("::1");
    assert_true(allows(&r));
    set_client("::2");
    assert_false(allows(&r));
    set_client("2001:db8:ffff::1");
    assert_true(allows(&r));
    set_client("2001:db9::1");
    assert_false(allows(&r));
    set_client("fc00::1");
    assert_true(allows(&r));
    set_client("fe00::1");
    assert_false(allows(&r));
    set_client("10.0.0.1");
    assert_false(allows(&r));
}

static void
test_rules_source_edges(void **state)
{
    struct pc_authz_cidr any4 = cidr("0.0.0.0", 0);
    struct pc_authz_cidr host = cidr("203.0.113.7", 32);
    struct pc_authz_rule r = { .name = "s", .sources = &any4, .n_sources = 1 };

    set_client("203.0.113.7");
    assert_true(allows(&r));
    set_client("::1");
    assert_false(allows(&r));
    r.sources = &host;
    set_client("203.0.113.7");
    assert_true(allows(&r));
    set_client("203.0.113.6");
    assert_false(allows(&r));
}

static void
test_rules_inverted_sources(void **state)
{
    struct pc_authz_cidr c = cidr("10.0.0.0", 8);
    struct pc_authz_rule r = {
        .name = "outside", .sources = &c, .n_sources = 1, .is_sources_inverted = true
    };

    set_client("10.0.0.1");
    assert_false(allows(&r));
    set_client("::ffff:10.0.0.1");
    assert_false(allows(&r));
    set_client("8.8.8.8");
    assert_true(allows(&r));

    /* No IP address at all: an allow rule fails, a deny rule holds, inverted or not. */
    memset(&fx.view.client_addr, 0, sizeof(fx.view.client_addr));
    fx.view.client_addr.ss_family = AF_UNIX;
    assert_false(allows(&r));
    assert_true(denies(&r));
    r.is_sources_inverted = false;
    assert_false(allows(&r));
    assert_true(denies(&r));
}

/* ---- the principal ---- */

static void
test_rules_authenticated_and_anonymous(void **state)
{
    struct pc_authz_rule authn = { .name = "a", .require_authenticated = true };
    struct pc_authz_rule anon = { .name = "n", .require_anonymous = true };
    struct pc_authz a = policy(NULL, 0, &authn, 1);
    struct pc_authz_result res;

    assert_false(allows(&authn));
    assert_true(allows(&anon));
    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_string_equal(res.detail, "principal.authenticated");

    set_principal("{\"sub\":\"alice\"}");
    assert_true(allows(&authn));
    assert_false(allows(&anon));
}

static void
test_rules_subjects_issuers_client_ids(void **state)
{
    static const char *const issuers[] = { "https://idp.example.com" };
    static const char *const clients[] = { "web", "cli" };
    struct pc_string_matcher subjects[2] = { exact("alice"), matcher(PC_STRING_PREFIX, "svc-") };
    struct pc_authz_rule r = { .name = "s", .subjects = subjects, .n_subjects = 2 };

    /* Any principal condition implies an authenticated caller. */
    assert_false(allows(&r));
    set_principal("{\"sub\":\"alice\"}");
    assert_true(allows(&r));
    set_principal("{\"sub\":\"svc-orders\"}");
    assert_true(allows(&r));
    set_principal("{\"sub\":\"bob\"}");
    assert_false(allows(&r));
    set_principal("{\"sub\":7}");
    assert_false(allows(&r));

    r.n_subjects = 0;
    r.issuers = issuers;
    r.n_issuers = 1;
    set_principal("{\"sub\":\"x\",\"iss\":\"https://idp.example.com\"}");
    assert_true(allows(&r));
    set_principal("{\"sub\":\"x\",\"iss\":\"https://idp.example.com/\"}");
    assert_false(allows(&r));
    set_principal("{\"sub\":\"x\"}");
    assert_false(allows(&r));

    r.n_issuers = 0;
    r.client_ids = clients;
    r.n_client_ids = 2;
    set_principal("{\"sub\":\"x\",\"azp\":\"cli\"}");
    assert_true(allows(&r));
    set_principal("{\"sub\":\"x\",\"client_id\":\"web\"}");
    assert_true(allows(&r));
    set_principal("{\"sub\":\"x\",\"client_id\":\"webx\"}");
    assert_false(allows(&r));
}

static void
test_rules_scopes_and_roles(void **state)
{
    static const char *const all[] = { "orders.read", "orders.write" };
    static const char *const any[] = { "admin", "support" };
    struct pc_authz_rule r = { .name = "s", .scopes_all = all, .n_scopes_all = 2 };
    struct pc_authz a = policy(NULL, 0, &r, 1);
    struct pc_authz_result res;

    set_principal("{\"scope\":\"orders.read orders.write profile\"}");
    assert_true(allows(&r));
    set_principal("{\"scope\":\"orders.read\"}");
    assert_false(allows(&r));
    set_principal("{\"scp\":[\"orders.write\",\"orders.read\"]}");
    assert_true(allows(&r));

    r.n_scopes_all = 0;
    r.scopes_any = any;
    r.n_scopes_any = 2;
    set_principal("{\"scope\":\"support\"}");
    assert_true(allows(&r));
    set_principal("{\"scope\":\"supporter\"}");
    assert_false(allows(&r));

    r.n_scopes_any = 0;
    r.roles_all = any;
    r.n_roles_all = 2;
    set_principal("{\"roles\":[\"admin\",\"support\"]}");
    assert_true(allows(&r));
    set_principal("{\"realm_access\":{\"roles\":[\"admin\"]},\"roles\":\"support\"}");
    assert_true(allows(&r));
    set_principal("{\"roles\":[\"admin\"]}");
    assert_false(allows(&r));
    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_string_equal(res.detail, "principal.roles.allOf");

    r.n_roles_all = 0;
    r.roles_any = any;
    r.n_roles_any = 2;
    assert_true(allows(&r));
    set_principal("{\"roles\":[\"user\"]}");
    assert_false(allows(&r));
    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_string_equal(res.detail, "principal.roles.anyOf");
}

static void
test_rules_claims_all_and_any(void **state)
{
    struct pc_authz_claim all[2] = { { "org.tenant", exact("acme") },
                                     { "org.tier", matcher(PC_STRING_PREFIX, "gold") } };
    struct pc_authz_claim any[2] = { { "groups", exact("ops") }, { "dept", exact("sre") } };
    struct pc_authz_rule r = { .name = "c", .claims_all = all, .n_claims_all = 2 };

    set_principal("{\"org\":{\"tenant\":\"acme\",\"tier\":\"gold-plus\"}}");
    assert_true(allows(&r));
    set_principal("{\"org\":{\"tenant\":\"acme\",\"tier\":\"silver\"}}");
    assert_false(allows(&r));
    set_principal("{\"org\":{\"tenant\":\"acme\"}}");
    assert_false(allows(&r));

    r.n_claims_all = 0;
    r.claims_any = any;
    r.n_claims_any = 2;
    set_principal("{\"dept\":\"sre\"}");
    assert_true(allows(&r));
    set_principal("{\"groups\":[\"dev\",\"ops\"]}");
    assert_true(allows(&r));
    set_principal("{\"groups\":[\"dev\",[\"ops\"],{\"ops\":1}],\"dept\":\"dev\"}");
    assert_false(allows(&r));
    set_principal("{\"sub\":\"x\"}");
    assert_false(allows(&r));
}

static void
test_rules_claims_numbers_and_booleans(void **state)
{
    struct pc_authz_claim c = { "level", exact("3") };
    struct pc_authz_rule r = { .name = "c", .claims_all = &c, .n_claims_all = 1 };

    set_principal("{\"level\":3}");
    assert_true(allows(&r));
    set_principal("{\"level\":\"3\"}");
    assert_true(allows(&r));
    set_principal("{\"level\":3.5}");
    assert_false(allows(&r));
    c.match = exact("3.5");
    assert_true(allows(&r));
    set_principal("{\"level\":0.1}");
    c.match = exact("0.1");
    assert_true(allows(&r));
    set_principal("{\"level\":-42}");
    c.match = exact("-42");
    assert_true(allows(&r));
    set_principal("{\"level\":[1,2,-42]}");
    assert_true(allows(&r));

    c.path = "email_verified";
    c.match = exact("true");
    set_principal("{\"email_verified\":true}");
    assert_true(allows(&r));
    set_principal("{\"email_verified\":false}");
    assert_false(allows(&r));
    c.match = exact("false");
    assert_true(allows(&r));

    /* null, objects and empty arrays compare as nothing; Present asks only for existence. */
    c.match = exact("null");
    set_principal("{\"email_verified\":null}");
    assert_false(allows(&r));
    c.match = matcher(PC_STRING_PRESENT, NULL);
    assert_true(allows(&r));
    set_principal("{\"email_verified\":{}}");
    assert_true(allows(&r));
    set_principal("{\"sub\":\"x\"}");
    assert_false(allows(&r));
}

static void
test_rules_claims_regex(void **state)
{
    struct pc_authz_claim c = { "email", regex("[a-z]+@example\\.com", true) };
    struct pc_authz_rule r = { .name = "c", .claims_any = &c, .n_claims_any = 1 };

    set_principal("{\"email\":\"alice@example.com\"}");
    assert_true(allows(&r));
    set_principal("{\"email\":\"alice@example.com.evil\"}");
    assert_false(allows(&r));
    set_principal("{\"email\":[\"x@evil.org\",\"bob@example.com\"]}");
    assert_true(allows(&r));
}

static void
test_rules_path_params_object_level(void **state)
{
    static const struct pc_authz_param_claim pc = { "id", "sub" };
    struct pc_authz_path p = template_path("/users/{id}/orders");
    struct pc_authz_rule r = {
        .name = "own", .paths = &p, .n_paths = 1, .param_claims = &pc, .n_param_claims = 1
    };
    struct pc_authz a = policy(NULL, 0, &r, 1);
    struct pc_authz_result res;

    set_path("/users/alice/orders");
    assert_false(allows(&r)); /* anonymous */
    set_principal("{\"sub\":\"alice\"}");
    assert_true(allows(&r));
    set_principal("{\"sub\":\"alicex\"}");
    assert_false(allows(&r));
    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_string_equal(res.detail, "principal.pathParams");
    set_principal("{\"sub\":\"alic\"}");
    assert_false(allows(&r));

    /* The capture is percent-decoded before comparison, in either hex case. */
    set_principal("{\"sub\":\"a b@c\"}");
    set_path("/users/a%20b%40c/orders");
    assert_true(allows(&r));
    set_path("/users/a%20b%40C/orders");
    assert_false(allows(&r));
    set_principal("{\"sub\":\"\xc3\xa9t\xc3\xa9\"}");
    set_path("/users/%C3%A9t%c3%a9/orders");
    assert_true(allows(&r));

    /* Encoded slashes and NULs never match, nor do malformed escapes. */
    set_principal("{\"sub\":\"a/b\"}");
    set_path("/users/a%2Fb/orders");
    assert_false(allows(&r));
    set_path("/users/a%2fb/orders");
    assert_false(allows(&r));
    set_principal("{\"sub\":\"a%2\"}");
    set_path("/users/a%2/orders");
    assert_false(allows(&r));
    set_principal("{\"sub\":\"a%\"}");
    set_path("/users/a%/orders");
    assert_false(allows(&r));
    set_principal("{\"sub\":\"ab\"}");
    set_path("/users/a%00b/orders");
    assert_false(allows(&r));
}

static void
test_rules_path_params_claim_kinds(void **state)
{
    static const struct pc_authz_param_claim pc = { "tenant", "tenants" };
    struct pc_authz_path p = template_path("/t/{tenant}/{rest...}");
    struct pc_authz_rule r = {
        .name = "own", .paths = &p, .n_paths = 1, .param_claims = &pc, .n_param_claims = 1
    };

    set_path("/t/42/x");
    set_principal("{\"tenants\":[\"7\",42]}");
    assert_true(allows(&r));
    set_principal("{\"tenants\":[\"7\",\"41\"]}");
    assert_false(allows(&r));
    set_principal("{\"tenants\":42}");
    assert_true(allows(&r));
    set_principal("{\"tenants\":{\"42\":true}}");
    assert_false(allows(&r));
    set_principal("{\"sub\":\"42\"}");
    assert_false(allows(&r));

    /* The parameter must have been captured by the matching path. */
    struct pc_authz_path plain = prefix_path("/t");
    r.paths = &plain;
    set_principal("{\"tenants\":42}");
    assert_false(allows(&r));
}

/* ---- the TLS peer ---- */

static void
test_rules_peer_certificate(void **state)
{
    struct pc_authz_rule r = { .name = "p", .require_peer_certificate = true };
    struct pc_authz a = policy(NULL, 0, &r, 1);
    struct pc_authz_result res;

    assert_false(allows(&r));
    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_string_equal(res.detail, "peer.certificate");
    fx.view.peer = make_peer("CN=client", NULL, NULL);
    assert_true(allows(&r));
}

static void
test_rules_peer_spiffe_ids(void **state)
{
    struct pc_spiffe_matcher *m[2];
    struct pc_authz_rule r = { .name = "p" };

    m[0] = pc_spiffe_matcher_compile("spiffe://prod.example.org/ns/orders/*", fx.arena, NULL);
    m[1] = pc_spiffe_matcher_compile("spiffe://prod.example.org/ns/web/sa/web", fx.arena, NULL);
    assert_non_null(m[0]);
    assert_non_null(m[1]);
    r.spiffe_ids = (const struct pc_spiffe_matcher *const *)m;
    r.n_spiffe_ids = 2;

    assert_false(allows(&r));
    fx.view.peer = make_peer("", "spiffe://prod.example.org/ns/orders/sa1", NULL);
    assert_true(allows(&r));
    fx.view.peer = make_peer("", "spiffe://prod.example.org/ns/web/sa/web", NULL);
    assert_true(allows(&r));
    fx.view.peer = make_peer("", "spiffe://prod.example.org/ns/orders/sa1/x", NULL);
    assert_false(allows(&r));
    fx.view.peer = make_peer("", "spiffe://dev.example.org/ns/orders/sa1", NULL);
    assert_false(allows(&r));
    fx.view.peer = make_peer("CN=x", NULL, NULL);
    assert_false(allows(&r));
}

static void
test_rules_peer_subjects_and_dns(void **state)
{
    static const char *const dns[] = { "client.example.org", "*.example.net" };
    struct pc_string_matcher subj = exact("CN=client,O=Example");
    struct pc_authz_rule r = { .name = "p", .peer_subjects = &subj, .n_peer_subjects = 1 };

    fx.view.peer = make_peer("CN=client,O=Example", NULL, "client.example.org");
    assert_true(allows(&r));
    fx.view.peer = make_peer("CN=client,O=Example2", NULL, "client.example.org");
    assert_false(allows(&r));

    r.n_peer_subjects = 0;
    r.peer_dns_names = dns;
    r.n_peer_dns_names = 2;
    fx.view.peer = make_peer("CN=x", NULL, "client.example.org");
    assert_true(allows(&r));
    fx.view.peer = make_peer("CN=x", NULL, "a.example.net");
    assert_false(allows(&r));
    fx.view.peer = make_peer("CN=x", NULL, "*.example.net");
    assert_true(allows(&r));
    fx.view.peer = make_peer("CN=x", NULL, NULL);
    assert_false(allows(&r));
}

static void
test_rules_every_condition_together(void **state)
{
    static const char *const get[] = { "GET" };
    static const char *const read[] = { "orders.read" };
    static const struct pc_authz_param_claim pc = { "id", "sub" };
    struct pc_authz_path p = template_path("/users/{id}/orders/{rest...}");
    struct pc_authz_header h = { "x-tenant", 8, exact("acme"), false };
    struct pc_authz_cidr c = cidr("10.0.0.0", 8);
    struct pc_authz_claim cl = { "org.tenant", exact("acme") };
    struct pc_authz_rule r = { .name = "owner-reads-orders",
                               .methods = get,
                               .n_methods = 1,
                               .paths = &p,
                               .n_paths = 1,
                               .headers = &h,
                               .n_headers = 1,
                               .sources = &c,
                               .n_sources = 1,
                               .require_authenticated = true,
                               .scopes_all = read,
                               .n_scopes_all = 1,
                               .claims_all = &cl,
                               .n_claims_all = 1,
                               .param_claims = &pc,
                               .n_param_claims = 1,
                               .require_peer_certificate = true };
    struct pc_authz a = policy(NULL, 0, &r, 1);
    struct pc_authz_result res;

    set_path("/users/alice/orders/17");
    add_header("x-tenant", "acme");
    set_client("10.0.0.5");
    set_principal("{\"sub\":\"alice\",\"scope\":\"orders.read\",\"org\":{\"tenant\":\"acme\"}}");
    fx.view.peer = make_peer("CN=client", NULL, NULL);
    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_true(res.is_allowed);
    assert_string_equal(res.rule, "owner-reads-orders");
    assert_int_equal(res.n_captures, 2);

    fx.view.peer = NULL;
    pc_authz_rules_eval(&a, &fx.view, PC_AUTHZ_EVAL_DETAIL, &res);
    assert_false(res.is_allowed);
    assert_string_equal(res.detail, "peer.certificate");
    assert_int_equal(res.n_captures, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rules_empty_policy_denies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_deny_before_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_nothing_matched_denies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_detail_names_nearest_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_exact_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_prefix_path_whole_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_template_captures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_template_exact_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_template_many_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_any_path_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_repeated_header_any_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_inverted_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_regex_is_anchored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_undecided_regex_is_safe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_jit_regex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_source_cidrs_v4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_source_cidrs_v6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_source_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_inverted_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_authenticated_and_anonymous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_subjects_issuers_client_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_scopes_and_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_claims_all_and_any, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_claims_numbers_and_booleans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_claims_regex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_path_params_object_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_path_params_claim_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_peer_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_peer_spiffe_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_peer_subjects_and_dns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_every_condition_together, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
