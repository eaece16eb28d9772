/*
 * Checks each resource can make on its own, after schema decoding: the Gateway API rules that a
 * CRD expresses in CEL (listener names unique, filter combinations, path values, ReplacePrefixMatch
 * only after a single PathPrefix match...), regular expressions that must compile, and listener
 * conflicts between Gateways. TLS material, TLS settings, AuthenticationPolicies,
 * AuthorizationPolicies and the decision log have their own checks (material.c, tls.c, authn.c,
 * authz.c), run from here; references to other resources are attach.c's.
 * Runs on the control thread, inside a load.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/model.h"
#include "config/value.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "route/path.h"
#include "route/route.h"

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

/* ---- Gateway ---- */

static void
check_selector(struct pc_model *model, const struct pc_resource_selector *sel)
{
    const struct pc_resource_label_expr *exprs = sel->match_expressions.items;

    for (size_t i = 0; i < sel->match_expressions.n; i++) {
        const struct pc_resource_label_expr *e = &exprs[i];
        bool wants_values =
            e->operator_.s != NULL
            && (strcmp(e->operator_.s, "In") == 0 || strcmp(e->operator_.s, "NotIn") == 0);

        if (e->operator_.s == NULL) {
            continue;
        }
        if (wants_values && e->values.n == 0) {
            report(model, e->node, "list the label values to compare with",
                   "operator %s needs values", e->operator_.s);
        } else if (!wants_values && e->values.n > 0) {
            report(model, e->values.node, "remove the values", "operator %s takes no values",
                   e->operator_.s);
        }
    }
}

static void
check_allowed_routes(struct pc_model *model, const struct pc_resource_allowed_routes *allowed)
{
    const struct pc_resource_route_kind *kinds = allowed->kinds.items;
    const struct pc_resource_route_namespaces *ns = allowed->namespaces;

    for (size_t i = 0; i < allowed->kinds.n; i++) {
        if (kinds[i].kind.s == NULL) {
            continue;
        }
        if (strcmp(kinds[i].kind.s, "HTTPRoute") != 0
            || strcmp(kinds[i].group.s, PC_RESOURCE_GATEWAY_GROUP) != 0) {
            report(model, kinds[i].node,
                   "only HTTPRoute (group " PC_RESOURCE_GATEWAY_GROUP ") is supported",
                   "route kind %s/%s is not supported", kinds[i].group.s, kinds[i].kind.s);
        }
    }
    if (ns == NULL) {
        return;
    }
    if (ns->from.s != NULL && strcmp(ns->from.s, "Selector") == 0 && ns->selector == NULL) {
        report(model, ns->node, "add namespaces.selector, or use from: Same or All",
               "from: Selector needs a selector");
    }
    if (ns->selector != NULL) {
        check_selector(model, ns->selector);
    }
}

static void
check_listener_names(struct pc_model *model, const struct pc_resource_gateway *gw)
{
    const struct pc_resource_listener *ls = gw->listeners.items;

    for (size_t i = 0; i < gw->listeners.n; i++) {
        for (size_t j = 0; j < i && ls[i].name.s != NULL; j++) {
            if (ls[j].name.s != NULL && strcmp(ls[i].name.s, ls[j].name.s) == 0) {
                report(model, ls[i].name.node, "give every listener of a Gateway its own name",
                       "listener name \"%s\" is already used at line %u", ls[i].name.s,
                       ls[j].name.node->line);
                break;
            }
        }
    }
}

static void
check_addresses(struct pc_model *model, const struct pc_resource_gateway *gw)
{
    const struct pc_resource_address *as = gw->addresses.items;

    for (size_t i = 0; i < gw->addresses.n; i++) {
        for (size_t j = 0; j < i && as[i].value.s != NULL; j++) {
            if (as[j].value.s != NULL && strcmp(as[i].value.s, as[j].value.s) == 0) {
                report(model, as[i].value.node, "list each address once",
                       "address %s is listed twice", as[i].value.s);
                break;
            }
        }
    }
}

static int
check_gateway(struct pc_model *model, struct pc_model_resource *res)
{
    const struct pc_resource_gateway *gw = res->doc->spec;
    const struct pc_resource_listener *ls = gw->listeners.items;
    struct pc_model_gateway *state = pc_arena_calloc(model->arena, 1, sizeof(*state));

    if (state == NULL) {
        return PC_ENOMEM;
    }
    state->listeners =
        pc_arena_calloc(model->arena, gw->listeners.n + 1, sizeof(*state->listeners));
    if (state->listeners == NULL) {
        return PC_ENOMEM;
    }
    res->state = state;

    check_listener_names(model, gw);
    check_addresses(model, gw);
    for (size_t i = 0; i < gw->listeners.n; i++) {
        struct pc_model_listener *l = &state->listeners[state->n_listeners++];

        l->gateway = res;
        l->src = &ls[i];
        l->index = i;
        l->is_usable = res->is_valid && ls[i].name.node != NULL && ls[i].port.node != NULL
                       && ls[i].protocol.node != NULL;
        if (ls[i].allowed_routes != NULL) {
            check_allowed_routes(model, ls[i].allowed_routes);
        }
    }
    return 0;
}

/* ---- listener conflicts between Gateways ---- */

struct bind {
    const char *addr;
    int64_t port;
    const char *hostname; /* "" for none */
    const struct pc_model_listener *listener;
    size_t order; /* document order, so the later of two conflicting listeners is reported */
};

static int
compare_binds(const void *pa, const void *pb)
{
    const struct bind *a = pa;
    const struct bind *b = pb;
    int rc = strcmp(a->addr, b->addr);

    if (rc != 0) {
        return rc;
    }
    if (a->port != b->port) {
        return a->port < b->port ? -1 : 1;
    }
    rc = strcmp(a->hostname, b->hostname);
    if (rc != 0) {
        return rc;
    }
    return a->order < b->order ? -1 : (a->order > b->order);
}

static size_t
collect_binds(struct pc_model *model, struct bind *binds)
{
    size_t n = 0;

    for (size_t g = 0; g < model->n_res[PC_RESOURCE_GATEWAY]; g++) {
        const struct pc_model_resource *res = model->res[PC_RESOURCE_GATEWAY][g];
        const struct pc_model_gateway *state = res->state;
        const struct pc_resource_gateway *gw = res->doc->spec;

        if (state == NULL) {
            continue;
        }
        for (size_t a = 0; a < (gw->addresses.n > 0 ? gw->addresses.n : 1); a++) {
            const struct pc_resource_address *as = gw->addresses.items;
            const char *addr = gw->addresses.n > 0 ? as[a].value.s : "0.0.0.0";

            for (size_t i = 0; addr != NULL && i < state->n_listeners; i++) {
                const struct pc_model_listener *l = &state->listeners[i];

                if (l->is_usable) {
                    const char *host = l->src->hostname.s != NULL ? l->src->hostname.s : "";

                    binds[n] = (struct bind){ addr, l->src->port.v, host, l, n };
                    n++;
                }
            }
        }
    }
    return n;
}

static void
report_conflict(struct pc_model *model, const struct bind *first, const struct bind *second)
{
    const struct pc_resource_listener *a = first->listener->src;
    const struct pc_resource_listener *b = second->listener->src;

    report(
        model, b->node, "give one of them another port or hostname",
        "listener \"%s\" conflicts with listener \"%s\" of Gateway %s (%s:%u): both bind %s:%lld for %s",
        b->name.s, a->name.s, first->listener->gateway->id, a->node->file, a->node->line,
        first->addr, (long long)first->port,
        first->hostname[0] != '\0' ? first->hostname : "any hostname");
}

static int
check_listener_conflicts(struct pc_model *model)
{
    size_t cap = 0;
    struct bind *binds;
    size_t n;

    for (size_t g = 0; g < model->n_res[PC_RESOURCE_GATEWAY]; g++) {
        const struct pc_resource_gateway *gw = model->res[PC_RESOURCE_GATEWAY][g]->doc->spec;

        if (gw != NULL) {
            cap += gw->listeners.n * (gw->addresses.n > 0 ? gw->addresses.n : 1);
        }
    }
    binds = pc_malloc((cap + 1) * sizeof(*binds));
    if (binds == NULL) {
        return PC_ENOMEM;
    }
    n = collect_binds(model, binds);
    qsort(binds, n, sizeof(*binds), compare_binds);

    for (size_t i = 1; i < n; i++) {
        const struct bind *p = &binds[i - 1];
        const struct bind *q = &binds[i];

        if (strcmp(p->addr, q->addr) != 0 || p->port != q->port) {
            continue;
        }
        if (strcasecmp(p->listener->src->protocol.s, q->listener->src->protocol.s) != 0) {
            report(model, q->listener->src->protocol.node,
                   "a port serves HTTP or HTTPS, not both: use another port for one of them",
                   "listener \"%s\" (%s) and listener \"%s\" (%s) of Gateway %s share %s:%lld",
                   q->listener->src->name.s, q->listener->src->protocol.s, p->listener->src->name.s,
                   p->listener->src->protocol.s, p->listener->gateway->id, p->addr,
                   (long long)p->port);
        } else if (strcmp(p->hostname, q->hostname) == 0) {
            report_conflict(model, p, q);
        }
    }
    pc_free(binds);
    return 0;
}

/* ---- HTTPRoute: matches ---- */

static void
check_regex(struct pc_model *model, const struct pc_schema_string *value, const char *what)
{
    char msg[160];
    size_t offset = 0;
    int rc = pc_route_regex_check(value->s, value->len, msg, sizeof(msg), &offset);

    if (rc == PC_EINVAL) {
        report(
            model, value->node,
            "patterns are PCRE2 in UTF-8 mode, kept close to RE2, and must match the whole value",
            "invalid regular expression for %s: %s at offset %zu", what, msg, offset);
    }
}

/* The CEL rules of HTTPPathMatch for Exact and PathPrefix values. */
static const char *
describe_path_problem(const char *v, size_t len)
{
    static const char *const banned[] = { "//", "/./", "/../", "%2f", "%2F", "#" };

    if (v[0] != '/') {
        return "must be an absolute path starting with '/'";
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
    if (!pc_value_is_path_chars(v, len)) {
        return "holds a character that is not allowed in a path";
    }
    return NULL;
}

static void
check_path_match(struct pc_model *model, const struct pc_resource_path_match *path)
{
    const char *problem;

    if (path->type.s == NULL || path->value.s == NULL) {
        return;
    }
    if (strcmp(path->type.s, "RegularExpression") == 0) {
        check_regex(model, &path->value, "the path");
        return;
    }
    problem = describe_path_problem(path->value.s, path->value.len);
    if (problem != NULL) {
        const struct pc_yaml_node *at = path->value.node != NULL ? path->value.node : path->node;

        report(model, at, "write the path as it appears after normalisation, e.g. \"/api/v1\"",
               "path \"%.64s\" %s", path->value.s, problem);
    }
}

static void
check_value_matches(struct pc_model *model, const struct pc_schema_list *list, bool is_header)
{
    const struct pc_resource_value_match *ms = list->items;

    for (size_t i = 0; i < list->n; i++) {
        if (ms[i].name.s == NULL) {
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            bool same = ms[j].name.s != NULL
                        && (is_header ? strcasecmp(ms[i].name.s, ms[j].name.s) == 0
                                      : strcmp(ms[i].name.s, ms[j].name.s) == 0);

            if (same) {
                report(model, ms[i].name.node, "merge the two conditions into one",
                       "%s \"%s\" is matched twice; only the first would count",
                       is_header ? "header" : "query parameter", ms[i].name.s);
                break;
            }
        }
        if (ms[i].type.s != NULL && strcmp(ms[i].type.s, "RegularExpression") == 0
            && ms[i].value.s != NULL) {
            check_regex(model, &ms[i].value, is_header ? "a header" : "a query parameter");
        }
    }
}

static void
check_matches(struct pc_model *model, const struct pc_resource_rule *rule)
{
    const struct pc_resource_match *ms = rule->matches.items;

    for (size_t i = 0; i < rule->matches.n; i++) {
        if (ms[i].path != NULL) {
            check_path_match(model, ms[i].path);
        }
        check_value_matches(model, &ms[i].headers, true);
        check_value_matches(model, &ms[i].query_params, false);
    }
}

/* ---- HTTPRoute: filters ---- */

/* Framing and connection headers are the proxy's: rewriting them invites request smuggling. */
static bool
is_protected_header(const char *name, bool is_request)
{
    static const char *const names[] = { "content-length",   "transfer-encoding",
                                         "connection",       "keep-alive",
                                         "proxy-connection", "te",
                                         "trailer",          "upgrade" };

    if (is_request && strcasecmp(name, "host") == 0) {
        return true;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void
check_header_name_once(struct pc_model *model, const struct pc_schema_string *name,
                       const char **seen, size_t *n_seen, bool is_request)
{
    if (name->s == NULL) {
        return;
    }
    if (is_protected_header(name->s, is_request)) {
        report(model, name->node,
               strcasecmp(name->s, "host") == 0 ? "use a URLRewrite filter's hostname"
                                                : "the proxy manages this header itself",
               "header \"%s\" cannot be modified", name->s);
        return;
    }
    for (size_t i = 0; i < *n_seen; i++) {
        if (strcasecmp(seen[i], name->s) == 0) {
            report(model, name->node, "use one action per header name",
                   "header \"%s\" already has an action in this filter", name->s);
            return;
        }
    }
    seen[(*n_seen)++] = name->s;
}

static void
check_header_filter(struct pc_model *model, const struct pc_resource_header_filter *f,
                    bool is_request)
{
    const char *seen[48];
    size_t n_seen = 0;
    const struct pc_resource_header *set = f->set.items;
    const struct pc_resource_header *add = f->add.items;
    const struct pc_schema_string *remove = f->remove.items;

    for (size_t i = 0; i < f->set.n; i++) {
        check_header_name_once(model, &set[i].name, seen, &n_seen, is_request);
    }
    for (size_t i = 0; i < f->add.n; i++) {
        check_header_name_once(model, &add[i].name, seen, &n_seen, is_request);
    }
    for (size_t i = 0; i < f->remove.n; i++) {
        check_header_name_once(model, &remove[i], seen, &n_seen, is_request);
    }
}

/* ReplacePrefixMatch needs exactly one match, and it must be a PathPrefix match. */
static bool
has_single_prefix_match(const struct pc_resource_rule *rule)
{
    const struct pc_resource_match *ms = rule->matches.items;

    if (rule->matches.n == 0) {
        return true;
    }
    return rule->matches.n == 1
           && (ms[0].path == NULL || ms[0].path->type.s == NULL
               || strcmp(ms[0].path->type.s, "PathPrefix") == 0);
}

static void
check_path_modifier(struct pc_model *model, const struct pc_resource_path_modifier *m,
                    const struct pc_resource_rule *rule)
{
    bool is_full = m->type.s != NULL && strcmp(m->type.s, "ReplaceFullPath") == 0;
    const struct pc_schema_string *want =
        is_full ? &m->replace_full_path : &m->replace_prefix_match;
    const struct pc_schema_string *other =
        is_full ? &m->replace_prefix_match : &m->replace_full_path;

    if (m->type.s == NULL) {
        return;
    }
    if (want->node == NULL) {
        report(model, m->node, NULL, "%s is required when type is %s",
               is_full ? "replaceFullPath" : "replacePrefixMatch", m->type.s);
    }
    if (other->node != NULL) {
        report(model, other->node, "remove it", "must not be set when type is %s", m->type.s);
    }
    if (want->node != NULL && want->len > 0
        && (want->s[0] != '/' || !pc_value_is_path_chars(want->s, want->len))) {
        report(model, want->node, "write an absolute path of URL path characters",
               "\"%.64s\" is not a valid path", want->s);
    }
    if (want->node != NULL && want->len == 0 && is_full) {
        report(model, want->node, "use \"/\" for the root", "replaceFullPath must not be empty");
    }
    if (!is_full && !has_single_prefix_match(rule)) {
        report(model, m->node, "give the rule exactly one match, of type PathPrefix",
               "ReplacePrefixMatch is only allowed with a single PathPrefix match");
    }
}

static void
check_redirect(struct pc_model *model, const struct pc_resource_redirect *r,
               const struct pc_resource_rule *rule)
{
    int64_t code = r->status_code.v;

    if (r->status_code.node != NULL && code != 301 && code != 302) {
        bool is_known = code == 303 || code == 307 || code == 308;

        report(model, r->status_code.node, "use 301 or 302",
               is_known ? "status code %lld is not supported yet"
                        : "status code %lld is not a redirect",
               (long long)code);
    }
    if (r->path != NULL) {
        check_path_modifier(model, r->path, rule);
    }
}

/* Which filter member each type needs; the others must be absent. */
static const void *
get_filter_member(const struct pc_resource_filter *f, size_t which)
{
    const void *members[] = { f->request_header_modifier,
                              f->response_header_modifier,
                              f->request_redirect,
                              f->url_rewrite,
                              f->request_mirror,
                              f->extension_ref,
                              f->cors,
                              f->external_auth };

    return members[which];
}

static const char *const filter_types[] = {
    "RequestHeaderModifier",
    "ResponseHeaderModifier",
    "RequestRedirect",
    "URLRewrite",
    "RequestMirror",
    "ExtensionRef",
    "CORS",
    "ExternalAuth",
};
static const char *const filter_members[] = {
    "requestHeaderModifier",
    "responseHeaderModifier",
    "requestRedirect",
    "urlRewrite",
    "requestMirror",
    "extensionRef",
    "cors",
    "externalAuth",
};

#define N_FILTER_TYPES 8
#define N_SUPPORTED    4

static size_t
find_filter_type(const char *type)
{
    for (size_t i = 0; i < N_FILTER_TYPES; i++) {
        if (strcmp(filter_types[i], type) == 0) {
            return i;
        }
    }
    return N_FILTER_TYPES;
}

/* Returns the type index of a well-formed filter, or N_FILTER_TYPES. */
static size_t
check_filter_shape(struct pc_model *model, const struct pc_resource_filter *f)
{
    size_t t = f->type.s != NULL ? find_filter_type(f->type.s) : N_FILTER_TYPES;
    bool ok = t < N_FILTER_TYPES;

    if (!ok) {
        return N_FILTER_TYPES;
    }
    if (t >= N_SUPPORTED) {
        report(
            model, f->type.node,
            "supported filters: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite",
            "%s filters are not supported", f->type.s);
        return N_FILTER_TYPES;
    }
    if (get_filter_member(f, t) == NULL) {
        report(model, f->node, NULL, "%s is required when type is %s", filter_members[t],
               f->type.s);
        ok = false;
    }
    for (size_t i = 0; i < N_FILTER_TYPES; i++) {
        if (i != t && get_filter_member(f, i) != NULL) {
            report(model, f->node, "remove it, or change the type",
                   "%s must not be set when type is %s", filter_members[i], f->type.s);
            ok = false;
        }
    }
    return ok ? t : N_FILTER_TYPES;
}

static void
check_filters(struct pc_model *model, const struct pc_resource_rule *rule)
{
    const struct pc_resource_filter *fs = rule->filters.items;
    const struct pc_resource_filter *seen[N_FILTER_TYPES] = { NULL };

    for (size_t i = 0; i < rule->filters.n; i++) {
        size_t t = check_filter_shape(model, &fs[i]);

        if (t == N_FILTER_TYPES) {
            continue;
        }
        if (seen[t] != NULL) {
            report(model, fs[i].node, "merge them into one filter", "%s filter cannot be repeated",
                   filter_types[t]);
            continue;
        }
        seen[t] = &fs[i];
        if (t <= 1) {
            check_header_filter(model, get_filter_member(&fs[i], t), t == 0);
        } else if (t == 2) {
            check_redirect(model, fs[i].request_redirect, rule);
        } else if (fs[i].url_rewrite->path != NULL) {
            check_path_modifier(model, fs[i].url_rewrite->path, rule);
        }
    }
    if (seen[2] != NULL && seen[3] != NULL) {
        report(model, seen[3]->node, "use one or the other",
               "RequestRedirect and URLRewrite filters cannot be used in the same rule");
    }
    if (seen[2] != NULL && rule->backend_refs.n > 0) {
        report(model, rule->backend_refs.node, "remove the backendRefs or the redirect",
               "a rule with a RequestRedirect filter must not have backendRefs");
    }
}

/* ---- HTTPRoute: the rest ---- */

static void
check_backend_refs(struct pc_model *model, const struct pc_resource_rule *rule)
{
    const struct pc_resource_backend_ref *bs = rule->backend_refs.items;

    for (size_t i = 0; i < rule->backend_refs.n; i++) {
        const struct pc_resource_backend_ref *b = &bs[i];

        if (b->group.s == NULL || b->kind.s == NULL) {
            continue;
        }
        if (b->group.len != 0 || strcmp(b->kind.s, "Service") != 0) {
            report(model, b->kind.node != NULL ? b->kind.node : b->node,
                   "backends are Services (group \"\", kind Service) resolved by ServiceEndpoints",
                   "backend kind %s%s%s is not supported", b->group.s, b->group.len ? "/" : "",
                   b->kind.s);
        } else if (b->port.node == NULL) {
            pc_yaml_error(model->diag, b->node, ".port", "name the Service port to use",
                          "port is required for a Service backend");
        }
    }
}

static void
check_timeouts(struct pc_model *model, const struct pc_resource_route_timeouts *t)
{
    char a[32];
    char b[32];

    if (t->request.node == NULL || t->backend_request.node == NULL || t->request.v == 0) {
        return;
    }
    if (t->backend_request.v > t->request.v) {
        report(model, t->backend_request.node, "lower backendRequest or raise request",
               "backendRequest timeout %s is longer than the request timeout %s",
               pc_schema_format_ms((uint64_t)t->backend_request.v, a, sizeof(a)),
               pc_schema_format_ms((uint64_t)t->request.v, b, sizeof(b)));
    }
}

static void
check_rule_names(struct pc_model *model, const struct pc_resource_httproute *route)
{
    const struct pc_resource_rule *rules = route->rules.items;
    size_t total = 0;

    for (size_t i = 0; i < route->rules.n; i++) {
        total += rules[i].matches.n > 0 ? rules[i].matches.n : 1;
        for (size_t j = 0; j < i && rules[i].name.s != NULL; j++) {
            if (rules[j].name.s != NULL && strcmp(rules[i].name.s, rules[j].name.s) == 0) {
                report(model, rules[i].name.node, "give every rule of a route its own name",
                       "rule name \"%s\" is already used at line %u", rules[i].name.s,
                       rules[j].name.node->line);
                break;
            }
        }
    }
    if (total > 128) {
        report(model, route->rules.node, "split the route",
               "a route may hold at most 128 matches over all its rules, this one has %zu", total);
    }
}

static void
check_parent_refs(struct pc_model *model, const struct pc_resource_httproute *route)
{
    const struct pc_resource_parent_ref *ps = route->parent_refs.items;

    if (route->parent_refs.n == 0) {
        const struct pc_yaml_node *at =
            route->parent_refs.node != NULL ? route->parent_refs.node : route->node;

        report(model, at, "add a parentRef naming the Gateway (and listener) to serve it on",
               "the route has no parentRefs, so it would never receive traffic");
    }
    for (size_t i = 0; i < route->parent_refs.n; i++) {
        const struct pc_resource_parent_ref *p = &ps[i];

        if (p->kind.s != NULL && p->group.s != NULL
            && (strcmp(p->kind.s, "Gateway") != 0
                || strcmp(p->group.s, PC_RESOURCE_GATEWAY_GROUP) != 0)) {
            report(model, p->node,
                   "routes attach to Gateways (group " PC_RESOURCE_GATEWAY_GROUP ")",
                   "parent kind %s/%s is not supported", p->group.s, p->kind.s);
        }
    }
}

static int
check_route(struct pc_model *model, struct pc_model_resource *res)
{
    const struct pc_resource_httproute *route = res->doc->spec;
    const struct pc_resource_rule *rules = route->rules.items;
    struct pc_model_route *state = pc_arena_calloc(model->arena, 1, sizeof(*state));

    if (state == NULL) {
        return PC_ENOMEM;
    }
    res->state = state;

    check_parent_refs(model, route);
    check_rule_names(model, route);
    for (size_t i = 0; i < route->rules.n; i++) {
        check_matches(model, &rules[i]);
        check_filters(model, &rules[i]);
        check_backend_refs(model, &rules[i]);
        if (rules[i].timeouts != NULL) {
            check_timeouts(model, rules[i].timeouts);
        }
    }
    return 0;
}

/* ---- other kinds ---- */

static int
check_service(struct pc_model *model, struct pc_model_resource *res)
{
    const struct pc_resource_service_endpoints *se = res->doc->spec;
    const struct pc_resource_service_port *ps = se->ports.items;

    for (size_t i = 0; i < se->ports.n; i++) {
        const struct pc_schema_string *eps = ps[i].endpoints.items;

        for (size_t j = 0; j < i; j++) {
            if (ps[i].port.node != NULL && ps[i].port.v == ps[j].port.v) {
                report(model, ps[i].port.node, "list each port once", "port %lld is listed twice",
                       (long long)ps[i].port.v);
            }
            if (ps[i].name.s != NULL && ps[j].name.s != NULL
                && strcmp(ps[i].name.s, ps[j].name.s) == 0) {
                report(model, ps[i].name.node, "give every port its own name",
                       "port name \"%s\" is used twice", ps[i].name.s);
            }
        }
        for (size_t e = 0; e < ps[i].endpoints.n; e++) {
            for (size_t f = 0; f < e && eps[e].s != NULL; f++) {
                if (eps[f].s != NULL && strcmp(eps[e].s, eps[f].s) == 0) {
                    report(model, eps[e].node, "list each endpoint once",
                           "endpoint %s is listed twice", eps[e].s);
                    break;
                }
            }
        }
    }
    res->state = pc_arena_calloc(model->arena, 1, sizeof(struct pc_model_service));
    return res->state != NULL ? 0 : PC_ENOMEM;
}

static void
check_namespace(struct pc_model *model, const struct pc_model_resource *res)
{
    const struct pc_resource_meta *meta = res->doc->metadata;

    if (meta->namespace_.node != NULL) {
        report(model, meta->namespace_.node, "remove it", "a Namespace has no namespace");
    }
    if (meta->name.s != NULL && !pc_value_is_dns_label(meta->name.s, meta->name.len)) {
        report(model, meta->name.node, "use lower-case letters, digits and '-', at most 63",
               "\"%s\" is not a valid namespace name", meta->name.s);
    }
}

/* Resources whose spec is missing were reported by the decoder and have nothing to check. */
static bool
has_spec(const struct pc_model_resource *res)
{
    return res->doc->spec != NULL;
}

int
pc_model_check_resources(struct pc_model *model)
{
    int rc = pc_model_check_material(model);

    for (size_t i = 0; rc == 0 && i < model->n_res[PC_RESOURCE_GATEWAY]; i++) {
        struct pc_model_resource *res = model->res[PC_RESOURCE_GATEWAY][i];

        rc = has_spec(res) ? check_gateway(model, res) : 0;
    }
    if (rc == 0) {
        rc = check_listener_conflicts(model);
    }
    for (size_t i = 0; rc == 0 && i < model->n_res[PC_RESOURCE_HTTPROUTE]; i++) {
        struct pc_model_resource *res = model->res[PC_RESOURCE_HTTPROUTE][i];

        rc = has_spec(res) ? check_route(model, res) : 0;
    }
    for (size_t i = 0; rc == 0 && i < model->n_res[PC_RESOURCE_SERVICE_ENDPOINTS]; i++) {
        struct pc_model_resource *res = model->res[PC_RESOURCE_SERVICE_ENDPOINTS][i];

        rc = has_spec(res) ? check_service(model, res) : 0;
    }
    for (size_t i = 0; rc == 0 && i < model->n_res[PC_RESOURCE_NAMESPACE]; i++) {
        check_namespace(model, model->res[PC_RESOURCE_NAMESPACE][i]);
    }
    if (rc == 0) {
        rc = pc_model_check_tls(model);
    }
    if (rc == 0) {
        rc = pc_model_check_authn(model);
    }
    if (rc == 0) {
        rc = pc_model_check_authz(model);
    }
    return rc == 0 ? pc_model_check_decision_log(model) : rc;
}
