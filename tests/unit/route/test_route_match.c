/*
 * Unit tests for the route table: every match type, and each precedence rule of the Gateway API
 * (plus our RegularExpression placement) in a test named after it. Tables are built directly
 * from specs described by small static fixtures, so no YAML is involved here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "route/route.h"

#define MAX_CONDS     4
#define MAX_RULES     8
#define MAX_ROUTES    6
#define MAX_LISTENERS 4

/* One rule with one match. Conditions are {name, "e" or "r", value}. */
struct t_rule {
    enum pc_route_path_type type;
    const char *path;
    const char *method;
    const char *headers[MAX_CONDS][3];
    const char *query[MAX_CONDS][3];
    const char *also_path; /* a second match on the same rule, PathPrefix */
};

struct t_route {
    const char *name;
    int64_t created_ms; /* 0: absent */
    const char *hosts[4];
    struct t_rule rules[MAX_RULES];
};

struct t_listener {
    const char *name;
    const char *hostname;
    struct t_route routes[MAX_ROUTES];
};

static struct pc_arena *arena;

static int
setup(void **state)
{
    arena = pc_arena_create(64 * 1024);
    return arena == NULL;
}

static int
teardown(void **state)
{
    pc_arena_destroy(arena);
    arena = NULL;
    return 0;
}

static size_t
fill_conds(const char *const (*in)[3], struct pc_route_value_match *out)
{
    size_t n = 0;

    while (n < MAX_CONDS && in[n][0] != NULL) {
        out[n].name = in[n][0];
        out[n].name_len = strlen(in[n][0]);
        out[n].type = in[n][1][0] == 'r' ? PC_ROUTE_VALUE_REGEX : PC_ROUTE_VALUE_EXACT;
        out[n].value = in[n][2];
        out[n].value_len = strlen(in[n][2]);
        n++;
    }
    return n;
}

static void
fill_rule(const struct t_route *tr, size_t i, struct pc_route_spec_rule *out)
{
    const struct t_rule *r = &tr->rules[i];
    struct pc_route_rule *rule = pc_arena_calloc(arena, 1, sizeof(*rule));
    struct pc_route_match_spec *m = pc_arena_calloc(arena, 2, sizeof(*m));
    struct pc_route_value_match *h = pc_arena_calloc(arena, MAX_CONDS, sizeof(*h));
    struct pc_route_value_match *q = pc_arena_calloc(arena, MAX_CONDS, sizeof(*q));

    assert_non_null(rule);
    rule->route_name = tr->name;
    rule->rule_name = pc_arena_sprintf(arena, "%s/%zu", tr->name, i);
    rule->rule_index = (uint32_t)i;

    m[0].path_type = r->type;
    m[0].path = r->path;
    m[0].path_len = strlen(r->path);
    m[0].method = r->method;
    m[0].headers = h;
    m[0].n_headers = fill_conds(r->headers, h);
    m[0].query = q;
    m[0].n_query = fill_conds(r->query, q);
    if (r->also_path != NULL) {
        m[1].path_type = PC_ROUTE_PATH_PREFIX;
        m[1].path = r->also_path;
        m[1].path_len = strlen(r->also_path);
    }

    out->rule = rule;
    out->matches = m;
    out->n_matches = r->also_path != NULL ? 2 : 1;
}

static void
fill_route(const struct t_route *tr, struct pc_route_spec *out)
{
    struct pc_route_spec_rule *rules = pc_arena_calloc(arena, MAX_RULES, sizeof(*rules));
    size_t n = 0;

    out->name = tr->name;
    out->created_ms = tr->created_ms != 0 ? tr->created_ms : INT64_MAX;
    out->hostnames = tr->hosts;
    while (out->n_hostnames < 4 && tr->hosts[out->n_hostnames] != NULL) {
        out->n_hostnames++;
    }
    while (n < MAX_RULES && tr->rules[n].path != NULL) {
        fill_rule(tr, n, &rules[n]);
        n++;
    }
    out->rules = rules;
    out->n_rules = n;
}

static const struct pc_route_table *
build(const struct t_listener *tl, size_t n_listeners)
{
    struct pc_route_listener_spec specs[MAX_LISTENERS] = { 0 };
    const struct pc_route_table *table = NULL;
    struct pc_err err = { 0 };

    for (size_t i = 0; i < n_listeners; i++) {
        struct pc_listener *l = pc_arena_calloc(arena, 1, sizeof(*l));
        struct pc_route_spec *routes = pc_arena_calloc(arena, MAX_ROUTES, sizeof(*routes));

        l->name = tl[i].name;
        l->hostname = tl[i].hostname;
        specs[i].listener = l;
        specs[i].routes = routes;
        while (specs[i].n_routes < MAX_ROUTES && tl[i].routes[specs[i].n_routes].name != NULL) {
            fill_route(&tl[i].routes[specs[i].n_routes], &routes[specs[i].n_routes]);
            specs[i].n_routes++;
        }
    }
    assert_int_equal(pc_route_table_build(arena, specs, n_listeners, &table, &err), 0);
    return table;
}

/*
 * Routes one request; returns the winning rule's name, "404 listener" or "404 rule". headers is
 * "name: value" lines joined by '\n'.
 */
static const char *
route(const struct pc_route_table *t, const char *host, const char *method, const char *path,
      const char *query, const char *headers)
{
    static char buf[128];
    struct pc_header_pair pairs[8];
    char copy[512];
    struct pc_route_request req = { 0 };
    struct pc_route_match out;
    size_t n = 0;

    if (headers != NULL) {
        char *line;
        char *save = NULL;

        snprintf(copy, sizeof(copy), "%s", headers);
        for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
            char *colon = strchr(line, ':');

            pairs[n].name = line;
            pairs[n].name_len = (size_t)(colon - line);
            pairs[n].value = colon + 2;
            pairs[n].value_len = strlen(colon + 2);
            n++;
        }
    }
    req.host = host;
    req.host_len = strlen(host);
    req.method = method;
    req.method_len = strlen(method);
    req.path = path;
    req.path_len = strlen(path);
    req.query = query;
    req.query_len = query != NULL ? strlen(query) : 0;
    req.headers = pairs;
    req.n_headers = n;

    switch (pc_route_match(t, &req, &out)) {
    case PC_ROUTE_NO_LISTENER:
        assert_null(out.listener);
        return "404 listener";
    case PC_ROUTE_NO_RULE:
        assert_non_null(out.listener);
        return "404 rule";
    case PC_ROUTE_MATCHED:
    default:
        snprintf(buf, sizeof(buf), "%s", out.rule->rule_name);
        return buf;
    }
}

static const char *
get(const struct pc_route_table *t, const char *path)
{
    return route(t, "example.com", "GET", path, NULL, NULL);
}

#define PREFIX PC_ROUTE_PATH_PREFIX
#define EXACT  PC_ROUTE_PATH_EXACT
#define REGEX  PC_ROUTE_PATH_REGEX

#define P(p)                                                                                       \
    {                                                                                              \
        .type = PREFIX, .path = (p)                                                                \
    }
#define E(p)                                                                                       \
    {                                                                                              \
        .type = EXACT, .path = (p)                                                                 \
    }
#define R(p)                                                                                       \
    {                                                                                              \
        .type = REGEX, .path = (p)                                                                 \
    }

/* ---- match types ---- */

static void
test_exact_path_matches_only_itself(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               E("/abc"),
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/abc"), "ns/r/0");
    assert_string_equal(get(t, "/abc/"), "404 rule");
    assert_string_equal(get(t, "/Abc"), "404 rule");
    assert_string_equal(get(t, "/abcd"), "404 rule");
}

static void
test_prefix_matches_whole_path_elements(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               P("/abc"),
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/abc"), "ns/r/0");
    assert_string_equal(get(t, "/abc/"), "ns/r/0");
    assert_string_equal(get(t, "/abc/def"), "ns/r/0");
    assert_string_equal(get(t, "/abcd"), "404 rule");
    assert_string_equal(get(t, "/ab"), "404 rule");
    assert_string_equal(get(t, "/"), "404 rule");
}

static void
test_prefix_trailing_slash_is_ignored(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               P("/abc/"),
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/abc"), "ns/r/0");
    assert_string_equal(get(t, "/abc/x"), "ns/r/0");
    assert_string_equal(get(t, "/abcd"), "404 rule");
}

static void
test_root_prefix_matches_every_path(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               P("/"),
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/"), "ns/r/0");
    assert_string_equal(get(t, "/x/y/z"), "ns/r/0");
}

static void
test_prefix_len_covers_prefix_without_trailing_slash(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               P("/api/"),
                                                               P("/"),
                                                               E("/exact"),
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);
    struct pc_route_request req = { .host = "", .method = "GET", .method_len = 3 };
    struct pc_route_match out;

    req.path = "/api/v1";
    req.path_len = 7;
    assert_int_equal(pc_route_match(t, &req, &out), PC_ROUTE_MATCHED);
    assert_int_equal(out.prefix_len, 4);

    req.path = "/other";
    req.path_len = 6;
    assert_int_equal(pc_route_match(t, &req, &out), PC_ROUTE_MATCHED);
    assert_int_equal(out.prefix_len, 0);

    req.path = "/exact";
    assert_int_equal(pc_route_match(t, &req, &out), PC_ROUTE_MATCHED);
    assert_int_equal(out.rule->rule_index, 2);
    assert_int_equal(out.prefix_len, 0);
}

static void
test_regex_path_must_match_whole_path(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               R("/users/[0-9]+"),
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/users/42"), "ns/r/0");
    assert_string_equal(get(t, "/users/42/x"), "404 rule");
    assert_string_equal(get(t, "/x/users/42"), "404 rule");
    assert_string_equal(get(t, "/users/"), "404 rule");
}

static void
test_method_match(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = { { .name = "ns/r",
                                .rules = {
                                    { .type = PREFIX, .path = "/", .method = "POST" },
                                } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "h", "POST", "/a", NULL, NULL), "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/a", NULL, NULL), "404 rule");
    assert_string_equal(route(t, "h", "post", "/a", NULL, NULL), "404 rule");
}

static void
test_header_exact_match(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               { .type = PREFIX,
                                                                 .path = "/",
                                                                 .headers = { { "x-version", "e",
                                                                                "v2" } } },
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "h", "GET", "/", NULL, "x-version: v2"), "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/", NULL, "a: b\nx-version: v2"), "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/", NULL, "x-version: V2"), "404 rule");
    assert_string_equal(route(t, "h", "GET", "/", NULL, "x-version: v22"), "404 rule");
    assert_string_equal(route(t, "h", "GET", "/", NULL, NULL), "404 rule");
}

static void
test_header_repeated_values_are_joined_with_commas(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = {
                      { .name = "ns/r",
                        .rules = {
                            { .type = EXACT, .path = "/e", .headers = { { "x-tag", "e", "a,b" } } },
                            { .type = EXACT,
                              .path = "/r",
                              .headers = { { "x-tag", "r", "a,[b-c]" } } },
                        } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "h", "GET", "/e", NULL, "x-tag: a\nx-other: z\nx-tag: b"),
                        "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/e", NULL, "x-tag: a,b"), "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/e", NULL, "x-tag: a"), "404 rule");
    assert_string_equal(route(t, "h", "GET", "/e", NULL, "x-tag: a\nx-tag: b\nx-tag: c"),
                        "404 rule");
    assert_string_equal(route(t, "h", "GET", "/r", NULL, "x-tag: a\nx-tag: c"), "ns/r/1");
    assert_string_equal(route(t, "h", "GET", "/r", NULL, "x-tag: a\nx-tag: d"), "404 rule");
}

static void
test_header_regex_match(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               { .type = PREFIX,
                                                                 .path = "/",
                                                                 .headers = { { "user-agent", "r",
                                                                                ".*curl.*" } } },
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "h", "GET", "/", NULL, "user-agent: curl/8.0"), "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/", NULL, "user-agent: wget"), "404 rule");
}

static void
test_query_exact_match_decodes_values(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = {
                      { .name = "ns/r",
                        .rules = {
                            { .type = PREFIX, .path = "/", .query = { { "q", "e", "a b/c" } } },
                        } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "h", "GET", "/", "q=a%20b%2Fc", NULL), "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/", "x=1&q=a%20b/c&y", NULL), "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/", "q=a+b/c", NULL), "404 rule");
    assert_string_equal(route(t, "h", "GET", "/", "Q=a%20b/c", NULL), "404 rule");
    assert_string_equal(route(t, "h", "GET", "/", NULL, NULL), "404 rule");
}

static void
test_query_first_occurrence_decides(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = { { .name = "ns/r",
                                .rules = {
                                    { .type = PREFIX, .path = "/", .query = { { "v", "e", "1" } } },
                                } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "h", "GET", "/", "v=1&v=2", NULL), "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/", "v=2&v=1", NULL), "404 rule");
    assert_string_equal(route(t, "h", "GET", "/", "v", NULL), "404 rule");
}

static void
test_query_regex_match(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = {
                      { .name = "ns/r",
                        .rules = {
                            { .type = PREFIX, .path = "/", .query = { { "id", "r", "[0-9]{3}" } } },
                        } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "h", "GET", "/", "id=%31%32%33", NULL), "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/", "id=1234", NULL), "404 rule");
}

/* ---- listener selection ---- */

static void
test_listener_exact_over_wildcard_over_none(void **state)
{
    static const struct t_listener l[] = {
        { .name = "any", .routes = { { .name = "ns/any", .rules = { P("/") } } } },
        { .name = "wild",
          .hostname = "*.example.com",
          .routes = { { .name = "ns/wild", .rules = { P("/") } } } },
        { .name = "exact",
          .hostname = "foo.example.com",
          .routes = { { .name = "ns/exact", .rules = { P("/") } } } },
    };
    const struct pc_route_table *t = build(l, 3);

    assert_string_equal(route(t, "foo.example.com", "GET", "/", NULL, NULL), "ns/exact/0");
    assert_string_equal(route(t, "bar.example.com", "GET", "/", NULL, NULL), "ns/wild/0");
    assert_string_equal(route(t, "a.b.example.com", "GET", "/", NULL, NULL), "ns/wild/0");
    assert_string_equal(route(t, "example.com", "GET", "/", NULL, NULL), "ns/any/0");
    assert_string_equal(route(t, "", "GET", "/", NULL, NULL), "ns/any/0");
}

static void
test_listener_more_specific_wildcard_first(void **state)
{
    static const struct t_listener l[] = {
        { .name = "short",
          .hostname = "*.example.com",
          .routes = { { .name = "ns/short", .rules = { P("/") } } } },
        { .name = "long",
          .hostname = "*.foo.example.com",
          .routes = { { .name = "ns/long", .rules = { P("/") } } } },
    };
    const struct pc_route_table *t = build(l, 2);

    assert_string_equal(route(t, "a.foo.example.com", "GET", "/", NULL, NULL), "ns/long/0");
    assert_string_equal(route(t, "foo.example.com", "GET", "/", NULL, NULL), "ns/short/0");
    assert_string_equal(route(t, "example.com", "GET", "/", NULL, NULL), "404 listener");
}

static void
test_listener_isolation_does_not_fall_back(void **state)
{
    static const struct t_listener l[] = {
        { .name = "any", .routes = { { .name = "ns/any", .rules = { P("/") } } } },
        { .name = "exact",
          .hostname = "api.example.com",
          .routes = { { .name = "ns/api", .rules = { E("/v1") } } } },
    };
    const struct pc_route_table *t = build(l, 2);

    assert_string_equal(route(t, "api.example.com", "GET", "/v1", NULL, NULL), "ns/api/0");
    assert_string_equal(route(t, "api.example.com", "GET", "/v2", NULL, NULL), "404 rule");
}

static void
test_listener_host_trailing_dot_is_ignored(void **state)
{
    static const struct t_listener l[] = {
        { .name = "exact",
          .hostname = "example.com",
          .routes = { { .name = "ns/r", .rules = { P("/") } } } },
    };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "example.com.", "GET", "/", NULL, NULL), "ns/r/0");
    assert_string_equal(route(t, "other.com", "GET", "/", NULL, NULL), "404 listener");
}

/* ---- precedence across routes by hostname ---- */

static void
test_hostname_precedence_exact_route_hostname_first(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = {
                      { .name = "ns/wild", .hosts = { "*.example.com" }, .rules = { E("/x") } },
                      { .name = "ns/exact", .hosts = { "foo.example.com" }, .rules = { P("/") } },
                  } } };
    const struct pc_route_table *t = build(l, 1);

    /* The exact-hostname route wins even though the other has an Exact path. */
    assert_string_equal(route(t, "foo.example.com", "GET", "/x", NULL, NULL), "ns/exact/0");
    assert_string_equal(route(t, "bar.example.com", "GET", "/x", NULL, NULL), "ns/wild/0");
}

static void
test_hostname_precedence_longer_wildcard_first(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = {
                      { .name = "ns/short", .hosts = { "*.example.com" }, .rules = { P("/") } },
                      { .name = "ns/long", .hosts = { "*.foo.example.com" }, .rules = { P("/") } },
                  } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "a.foo.example.com", "GET", "/", NULL, NULL), "ns/long/0");
    assert_string_equal(route(t, "a.bar.example.com", "GET", "/", NULL, NULL), "ns/short/0");
}

static void
test_hostname_precedence_routes_without_hostnames_last(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = {
                                                 { .name = "ns/none", .rules = { E("/a") } },
                                                 { .name = "ns/host",
                                                   .hosts = { "example.com" },
                                                   .rules = { P("/") } },
                                             } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "example.com", "GET", "/a", NULL, NULL), "ns/host/0");
    assert_string_equal(route(t, "other.com", "GET", "/a", NULL, NULL), "ns/none/0");
}

static void
test_hostname_precedence_falls_back_when_no_rule_matches(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = {
                                                 { .name = "ns/exact",
                                                   .hosts = { "foo.example.com" },
                                                   .rules = { E("/only") } },
                                                 { .name = "ns/wild",
                                                   .hosts = { "*.example.com" },
                                                   .rules = { P("/") } },
                                             } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "foo.example.com", "GET", "/only", NULL, NULL), "ns/exact/0");
    assert_string_equal(route(t, "foo.example.com", "GET", "/else", NULL, NULL), "ns/wild/0");
}

static void
test_hostname_wildcard_does_not_match_bare_domain(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = {
                                                 { .name = "ns/wild",
                                                   .hosts = { "*.example.com" },
                                                   .rules = { P("/") } },
                                             } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "example.com", "GET", "/", NULL, NULL), "404 rule");
    assert_string_equal(route(t, "x.example.com", "GET", "/", NULL, NULL), "ns/wild/0");
}

/* ---- precedence across rules ---- */

static void
test_precedence_exact_over_regex_over_prefix(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               P("/a"),
                                                               R("/a/.*"),
                                                               E("/a/b"),
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/a/b"), "ns/r/2");
    assert_string_equal(get(t, "/a/c"), "ns/r/1");
    assert_string_equal(get(t, "/a"), "ns/r/0");
}

static void
test_precedence_longest_prefix(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               P("/"),
                                                               P("/a"),
                                                               P("/a/b/c"),
                                                               P("/a/b"),
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/a/b/c/d"), "ns/r/2");
    assert_string_equal(get(t, "/a/b/x"), "ns/r/3");
    assert_string_equal(get(t, "/a/bb"), "ns/r/1");
    assert_string_equal(get(t, "/z"), "ns/r/0");
}

static void
test_precedence_longest_prefix_across_routes(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = {
                      { .name = "ns/old", .created_ms = 1000, .rules = { P("/a") } },
                      { .name = "ns/new", .created_ms = 2000, .rules = { P("/a/b") } },
                  } } };
    const struct pc_route_table *t = build(l, 1);

    /* Age only breaks ties: the longer prefix of the newer route wins. */
    assert_string_equal(get(t, "/a/b/c"), "ns/new/0");
    assert_string_equal(get(t, "/a/c"), "ns/old/0");
}

static void
test_precedence_longer_prefix_falls_back_to_shorter_when_conditions_fail(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = {
                                                 { .name = "ns/r",
                                                   .rules = {
                                                       { .type = PREFIX, .path = "/a" },
                                                       { .type = PREFIX,
                                                         .path = "/a/b",
                                                         .headers = { { "x-beta", "e", "1" } } },
                                                   } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "h", "GET", "/a/b", NULL, "x-beta: 1"), "ns/r/1");
    assert_string_equal(route(t, "h", "GET", "/a/b", NULL, NULL), "ns/r/0");
}

static void
test_precedence_regex_longer_pattern_first(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = { { .name = "ns/r",
                                                           .rules = {
                                                               R("/.*"),
                                                               R("/api/.*"),
                                                           } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/api/x"), "ns/r/1");
    assert_string_equal(get(t, "/web/x"), "ns/r/0");
}

static void
test_precedence_method_over_headers(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = { { .name = "ns/r",
                                .rules = {
                                    { .type = PREFIX,
                                      .path = "/",
                                      .headers = { { "a", "e", "1" }, { "b", "e", "2" } } },
                                    { .type = PREFIX, .path = "/", .method = "GET" },
                                } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "h", "GET", "/", NULL, "a: 1\nb: 2"), "ns/r/1");
    assert_string_equal(route(t, "h", "PUT", "/", NULL, "a: 1\nb: 2"), "ns/r/0");
}

static void
test_precedence_most_header_matches(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = {
                      { .name = "ns/r",
                        .rules = {
                            { .type = PREFIX, .path = "/", .headers = { { "a", "e", "1" } } },
                            { .type = PREFIX,
                              .path = "/",
                              .headers = { { "a", "e", "1" }, { "b", "e", "2" } } },
                        } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(route(t, "h", "GET", "/", NULL, "a: 1\nb: 2"), "ns/r/1");
    assert_string_equal(route(t, "h", "GET", "/", NULL, "a: 1"), "ns/r/0");
}

static void
test_precedence_most_query_matches(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = {
                      { .name = "ns/r",
                        .rules = {
                            { .type = PREFIX, .path = "/", .query = { { "a", "e", "1" } } },
                            { .type = PREFIX,
                              .path = "/",
                              .query = { { "a", "e", "1" }, { "b", "e", "2" } } },
                            { .type = PREFIX, .path = "/", .headers = { { "h", "e", "1" } } },
                        } } } } };
    const struct pc_route_table *t = build(l, 1);

    /* Header matches count before query matches. */
    assert_string_equal(route(t, "h", "GET", "/", "a=1&b=2", "h: 1"), "ns/r/2");
    assert_string_equal(route(t, "h", "GET", "/", "a=1&b=2", NULL), "ns/r/1");
    assert_string_equal(route(t, "h", "GET", "/", "a=1", NULL), "ns/r/0");
}

static void
test_precedence_oldest_route(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = {
                      { .name = "ns/a-newer", .created_ms = 2000, .rules = { P("/") } },
                      { .name = "ns/b-older", .created_ms = 1000, .rules = { P("/") } },
                      { .name = "ns/c-undated", .rules = { P("/") } },
                  } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/x"), "ns/b-older/0");
}

static void
test_precedence_route_name_alphabetical(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = {
                      { .name = "foo/baz", .created_ms = 1000, .rules = { P("/") } },
                      { .name = "foo/bar", .created_ms = 1000, .rules = { P("/") } },
                      { .name = "zoo/aaa", .created_ms = 1000, .rules = { P("/") } },
                  } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/x"), "foo/bar/0");
}

static void
test_precedence_first_rule_in_list_order(void **state)
{
    static const struct t_listener
        l[] = { { .name = "http",
                  .routes = { { .name = "ns/r",
                                .rules = {
                                    P("/x"),
                                    P("/x"),
                                    { .type = PREFIX, .path = "/y", .also_path = "/x" },
                                } } } } };
    const struct pc_route_table *t = build(l, 1);

    assert_string_equal(get(t, "/x"), "ns/r/0");
    assert_string_equal(get(t, "/y"), "ns/r/2");
}

/* ---- properties ---- */

static void
test_match_allocates_nothing(void **state)
{
    static const struct t_listener l[] = { { .name = "http",
                                             .routes = {
                                                 { .name = "ns/r",
                                                   .rules = {
                                                       R("/r/[a-z]+"),
                                                       { .type = PREFIX,
                                                         .path = "/p",
                                                         .headers = { { "x", "r", "a.*" } },
                                                         .query = { { "q", "r", "[0-9]+" } } },
                                                   } } } } };
    const struct pc_route_table *t = build(l, 1);
    size_t before = pc_alloc_bytes();

    pc_alloc_fail_after(0);
    assert_string_equal(get(t, "/r/abc"), "ns/r/0");
    assert_string_equal(route(t, "h", "GET", "/p/1", "q=12", "x: abc\nx: def"), "ns/r/1");
    pc_alloc_fail_reset();
    assert_int_equal(pc_alloc_bytes(), before);
}

static void
test_large_table_matches(void **state)
{
    enum {
        N = 2000
    };
    struct pc_route_spec routes[N];
    struct pc_route_spec_rule rules[N];
    struct pc_route_match_spec matches[N];
    struct pc_route_rule compiled[N];
    struct pc_listener listener = { .name = "http" };
    struct pc_route_listener_spec spec = { &listener, routes, N };
    const struct pc_route_table *t = NULL;
    char path[64];

    memset(routes, 0, sizeof(routes));
    memset(matches, 0, sizeof(matches));
    memset(compiled, 0, sizeof(compiled));
    for (int i = 0; i < N; i++) {
        compiled[i].rule_name = pc_arena_sprintf(arena, "r%d", i);
        matches[i].path_type = i % 2 ? PC_ROUTE_PATH_EXACT : PC_ROUTE_PATH_PREFIX;
        matches[i].path = pc_arena_sprintf(arena, "/svc%d/api", i);
        matches[i].path_len = strlen(matches[i].path);
        rules[i] = (struct pc_route_spec_rule){ &compiled[i], &matches[i], 1 };
        routes[i].name = compiled[i].rule_name;
        routes[i].created_ms = INT64_MAX;
        routes[i].rules = &rules[i];
        routes[i].n_rules = 1;
    }
    assert_int_equal(pc_route_table_build(arena, &spec, 1, &t, NULL), 0);

    for (int i = 0; i < N; i += 97) {
        char want[16];

        snprintf(path, sizeof(path), "/svc%d/api%s", i, i % 2 ? "" : "/deeper");
        snprintf(want, sizeof(want), "r%d", i);
        assert_string_equal(get(t, path), want);
    }
    assert_string_equal(get(t, "/svc1/api/deeper"), "404 rule");
}

static void
test_regex_check_reports_offset(void **state)
{
    char msg[128];
    size_t offset = 99;

    assert_int_equal(pc_route_regex_check("/a(b", 4, msg, sizeof(msg), &offset), PC_EINVAL);
    assert_int_equal(offset, 4);
    assert_non_null(strstr(msg, "parenthesis"));
    assert_int_equal(pc_route_regex_check("(a)\\1", 5, msg, sizeof(msg), &offset), PC_EINVAL);
    assert_non_null(strstr(msg, "backreferences"));
    assert_int_equal(pc_route_regex_check("/ok/[a-z]+", 10, msg, sizeof(msg), &offset), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_exact_path_matches_only_itself),
        T(test_prefix_matches_whole_path_elements),
        T(test_prefix_trailing_slash_is_ignored),
        T(test_root_prefix_matches_every_path),
        T(test_prefix_len_covers_prefix_without_trailing_slash),
        T(test_regex_path_must_match_whole_path),
        T(test_method_match),
        T(test_header_exact_match),
        T(test_header_repeated_values_are_joined_with_commas),
        T(test_header_regex_match),
        T(test_query_exact_match_decodes_values),
        T(test_query_first_occurrence_decides),
        T(test_query_regex_match),
        T(test_listener_exact_over_wildcard_over_none),
        T(test_listener_more_specific_wildcard_first),
        T(test_listener_isolation_does_not_fall_back),
        T(test_listener_host_trailing_dot_is_ignored),
        T(test_hostname_precedence_exact_route_hostname_first),
        T(test_hostname_precedence_longer_wildcard_first),
        T(test_hostname_precedence_routes_without_hostnames_last),
        T(test_hostname_precedence_falls_back_when_no_rule_matches),
        T(test_hostname_wildcard_does_not_match_bare_domain),
        T(test_precedence_exact_over_regex_over_prefix),
        T(test_precedence_longest_prefix),
        T(test_precedence_longest_prefix_across_routes),
        T(test_precedence_longer_prefix_falls_back_to_shorter_when_conditions_fail),
        T(test_precedence_regex_longer_pattern_first),
        T(test_precedence_method_over_headers),
        T(test_precedence_most_header_matches),
        T(test_precedence_most_query_matches),
        T(test_precedence_oldest_route),
        T(test_precedence_route_name_alphabetical),
        T(test_precedence_first_rule_in_list_order),
        T(test_match_allocates_nothing),
        T(test_large_table_matches),
        T(test_regex_check_reports_offset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
