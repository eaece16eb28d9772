/*
 * Native authorization rules micro-benchmark: the cost of one pc_authz_rules_eval on a typical
 * route policy of five rules (one deny rule, four allow rules), for requests that end at
 * different places in it.
 *
 * The policy: a deny rule for /admin from outside 10.0.0.0/8; then allow rules for GET /health
 * (anonymous), GET and HEAD on /users/{id}/orders/{rest...} with a scope and the object-level
 * check that {id} is the caller's sub, POST /orders with an x-tenant header and a role, and
 * PathPrefix /public. Each request is checked once against the outcome it was made for before
 * it is timed; each figure is the best of five timed passes, with and without the decision-log
 * detail. The bar: well under a microsecond per evaluation.
 *
 *   make bench-bins && ./build/bench/authz_bench
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "authn/principal.h"
#include "authz/rules.h"
#include "authz/view.h"

#define ROUNDS 1000000
#define PASSES 5

struct scenario {
    const char *name;
    const char *method;
    const char *path;
    bool want_allowed;
    const char *want_rule;
};

static const char *const get_head[] = { "GET", "HEAD" };
static const char *const get[] = { "GET" };
static const char *const post[] = { "POST" };
static const char *const read_scope[] = { "orders.read" };
static const char *const writer_role[] = { "orders-writer" };

static const struct pc_authz_path_segment orders_segments[] = {
    { "users", 5, false, false },
    { "id", 2, true, false },
    { "orders", 6, false, false },
    { "rest", 4, true, true },
};

static const struct pc_authz_path admin_path = { PC_AUTHZ_PATH_PREFIX, "/admin", 6, NULL, 0 };
static const struct pc_authz_path health_path = { PC_AUTHZ_PATH_EXACT, "/health", 7, NULL, 0 };
static const struct pc_authz_path orders_template = { PC_AUTHZ_PATH_TEMPLATE,
                                                      "/users/{id}/orders/{rest...}", 28,
                                                      orders_segments, 4 };
static const struct pc_authz_path orders_path = { PC_AUTHZ_PATH_EXACT, "/orders", 7, NULL, 0 };
static const struct pc_authz_path public_path = { PC_AUTHZ_PATH_PREFIX, "/public", 7, NULL, 0 };
static const struct pc_authz_param_claim owner = { "id", "sub" };
static const struct pc_authz_header tenant = {
    "x-tenant", 8, { PC_STRING_EXACT, "acme", 4, NULL }, false
};

static const struct pc_header_pair headers[] = {
    { "host", 4, "api.example.com", 15 },
    { "user-agent", 10, "curl/8.5.0", 10 },
    { "accept", 6, "*/*", 3 },
    { "authorization", 13, "Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig", 35 },
    { "x-tenant", 8, "acme", 4 },
    { "x-request-id", 12, "6f1c0d3e-5b7a-4c1e-9f2d-0a1b2c3d4e5f", 36 },
};

static const struct scenario scenarios[] = {
    { "owner reads orders (rule 2 of 4)", "GET", "/users/alice/orders/2024/17", true,
      "owner-reads-orders" },
    { "public prefix (rule 4 of 4)", "GET", "/public/docs/index.html", true, "public" },
    { "no rule matches (all 5 tested)", "PUT", "/users/alice/orders/17", false, NULL },
    { "denied by the deny rule", "GET", "/admin/users", false, "admin-from-outside" },
};

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double
time_pass(const struct pc_authz *authz, const struct pc_authz_view *view, unsigned flags)
{
    volatile size_t sink = 0;
    struct pc_authz_result res;
    double start = now_ns();

    for (int i = 0; i < ROUNDS; i++) {
        pc_authz_rules_eval(authz, view, flags, &res);
        sink += res.is_allowed ? 1 : 0;
    }
    (void)sink;
    return (now_ns() - start) / ROUNDS;
}

static double
best_of(const struct pc_authz *authz, const struct pc_authz_view *view, unsigned flags)
{
    double best = 0;

    for (int p = 0; p < PASSES; p++) {
        double ns = time_pass(authz, view, flags);

        if (p == 0 || ns < best) {
            best = ns;
        }
    }
    return best;
}

static bool
check(const struct pc_authz *authz, const struct pc_authz_view *view, const struct scenario *s)
{
    struct pc_authz_result res;

    pc_authz_rules_eval(authz, view, 0, &res);
    if (res.is_allowed != s->want_allowed) {
        return false;
    }
    if (s->want_rule == NULL) {
        return res.rule == NULL;
    }
    return res.rule != NULL && strcmp(res.rule, s->want_rule) == 0;
}

int
main(void)
{
    static const char *const role_paths[] = { "roles" };
    struct pc_principal_spec spec = { NULL, 0, role_paths, 1 };
    struct pc_authz_cidr inside = { AF_INET, { 10 }, 8 };
    struct pc_authz_rule deny = { .name = "admin-from-outside",
                                  .effect = PC_AUTHZ_DENY,
                                  .paths = &admin_path,
                                  .n_paths = 1,
                                  .sources = &inside,
                                  .n_sources = 1,
                                  .is_sources_inverted = true };
    struct pc_authz_rule allow[4] = {
        { .name = "health",
          .methods = get,
          .n_methods = 1,
          .paths = &health_path,
          .n_paths = 1,
          .require_anonymous = true },
        { .name = "owner-reads-orders",
          .methods = get_head,
          .n_methods = 2,
          .paths = &orders_template,
          .n_paths = 1,
          .require_authenticated = true,
          .scopes_all = read_scope,
          .n_scopes_all = 1,
          .param_claims = &owner,
          .n_param_claims = 1 },
        { .name = "writers-post-orders",
          .methods = post,
          .n_methods = 1,
          .paths = &orders_path,
          .n_paths = 1,
          .headers = &tenant,
          .n_headers = 1,
          .roles_any = writer_role,
          .n_roles_any = 1 },
        { .name = "public", .paths = &public_path, .n_paths = 1 },
    };
    struct pc_authz authz = { .policy = "default/orders",
                              .source = PC_AUTHZ_RULES,
                              .deny_rules = &deny,
                              .n_deny_rules = 1,
                              .allow_rules = allow,
                              .n_allow_rules = 4,
                              .deny_status = 403 };
    json_t *claims = json_loads("{\"sub\":\"alice\",\"iss\":\"https://idp.example.com\","
                                "\"scope\":\"openid orders.read profile\",\"roles\":[\"user\"]}",
                                0, NULL);
    struct pc_principal *principal = claims != NULL ? pc_principal_create(claims, &spec) : NULL;
    struct pc_authz_view view = { 0 };
    struct sockaddr_in *sin = (struct sockaddr_in *)&view.client_addr;
    int rc = 0;

    if (principal == NULL) {
        fprintf(stderr, "authz_bench: cannot build the principal\n");
        return 1;
    }
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, "203.0.113.9", &sin->sin_addr);
    view.headers = headers;
    view.n_headers = sizeof(headers) / sizeof(headers[0]);
    view.principal = principal;
    view.scheme = "https";
    view.protocol = "HTTP/1.1";

    printf("%-36s %12s %12s\n", "request (5-rule policy)", "ns/eval", "with detail");
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        const struct scenario *s = &scenarios[i];

        view.method = s->method;
        view.method_len = strlen(s->method);
        view.path = s->path;
        view.path_len = strlen(s->path);
        if (!check(&authz, &view, s)) {
            fprintf(stderr, "authz_bench: %s: unexpected decision\n", s->name);
            rc = 1;
            continue;
        }
        printf("%-36s %12.1f %12.1f\n", s->name, best_of(&authz, &view, 0),
               best_of(&authz, &view, PC_AUTHZ_EVAL_DETAIL));
    }
    pc_principal_unref(principal);
    json_decref(claims);
    return rc;
}
