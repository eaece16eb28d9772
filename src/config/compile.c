/*
 * Compilation of a validated model into the snapshot the workers read.
 *
 * Listeners are grouped by bind address and port into pc_port entries; every HTTPRoute rule is
 * compiled once per listener it is served on (its limits, client certificate forwarding,
 * authentication and authorization depend on the listener), with its filters, resolved backends
 * (and their TLS) and effective timeouts; HTTPS listeners get their certificates and client
 * bundles, and each port gets its route table. All of it is copied into the snapshot's own arena:
 * nothing points back into the load arena, which the loader frees as soon as this returns. Runs on
 * the control thread; the snapshot is read-only from the moment it is returned.
 */
#include <stdlib.h>
#include <string.h>

#include "config/model.h"
#include "config/value.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "route/path.h"
#include "route/route.h"

#define SNAPSHOT_BLOCK_BYTES (64 * 1024)

struct compiler {
    struct pc_model *model;
    struct pc_arena *arena; /* the snapshot's */
    struct pc_config *cfg;
    struct pc_model_tls_compiler tls;
    const struct pc_route_rule **rules; /* heap vector, copied into the arena at the end */
    size_t n_rules;
    size_t cap_rules;
};

/* ---- small copies ---- */

static char *
copy_lower(struct pc_arena *arena, const char *s, size_t len)
{
    char *d = pc_arena_strndup(arena, s, len);

    for (size_t i = 0; d != NULL && i < len; i++) {
        if (d[i] >= 'A' && d[i] <= 'Z') {
            d[i] = (char)(d[i] - 'A' + 'a');
        }
    }
    return d;
}

/*
 * Copies an optional string into *out, NULL when absent. Returns 0 or PC_ENOMEM: a copy that
 * failed must not read as "absent", which would silently change what the field means.
 */
static int
copy_opt(struct pc_arena *arena, const struct pc_schema_string *s, const char **out)
{
    *out = NULL;
    if (s->s == NULL) {
        return 0;
    }
    *out = pc_arena_strndup(arena, s->s, s->len);
    return *out != NULL ? 0 : PC_ENOMEM;
}

static int
copy_pairs(struct pc_arena *arena, const struct pc_schema_list *list, bool is_names,
           const struct pc_header_pair **out, size_t *n)
{
    struct pc_header_pair *pairs = pc_arena_calloc(arena, list->n + 1, sizeof(*pairs));

    if (pairs == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct pc_schema_string *name =
            is_names ? (const struct pc_schema_string *)list->items + i
                     : &((const struct pc_resource_header *)list->items)[i].name;

        pairs[i].name = copy_lower(arena, name->s, name->len);
        pairs[i].name_len = name->len;
        if (!is_names) {
            const struct pc_schema_string *v =
                &((const struct pc_resource_header *)list->items)[i].value;

            pairs[i].value = pc_arena_strndup(arena, v->s, v->len);
            pairs[i].value_len = v->len;
        }
        if (pairs[i].name == NULL || (!is_names && pairs[i].value == NULL)) {
            return PC_ENOMEM;
        }
    }
    *out = pairs;
    *n = list->n;
    return 0;
}

static int
compile_header_filter(struct pc_arena *arena, const struct pc_resource_header_filter *f,
                      struct pc_header_modifier *out)
{
    if (copy_pairs(arena, &f->set, false, &out->set, &out->n_set) != 0
        || copy_pairs(arena, &f->add, false, &out->add, &out->n_add) != 0
        || copy_pairs(arena, &f->remove, true, &out->remove, &out->n_remove) != 0) {
        return PC_ENOMEM;
    }
    return 0;
}

static int
compile_path_modifier(struct pc_arena *arena, const struct pc_resource_path_modifier *m,
                      struct pc_path_modifier *out)
{
    bool is_full = strcmp(m->type.s, "ReplaceFullPath") == 0;
    const struct pc_schema_string *v = is_full ? &m->replace_full_path : &m->replace_prefix_match;

    out->type = is_full ? PC_PATH_MOD_REPLACE_FULL : PC_PATH_MOD_REPLACE_PREFIX;
    out->value = pc_arena_strndup(arena, v->s != NULL ? v->s : "", v->len);
    out->value_len = v->len;
    return out->value != NULL ? 0 : PC_ENOMEM;
}

static int
compile_redirect(struct pc_arena *arena, const struct pc_resource_redirect *src,
                 const struct pc_redirect **out)
{
    struct pc_redirect *r = pc_arena_calloc(arena, 1, sizeof(*r));

    if (r == NULL || copy_opt(arena, &src->scheme, &r->scheme) != 0
        || copy_opt(arena, &src->hostname, &r->hostname) != 0
        || (src->path != NULL && compile_path_modifier(arena, src->path, &r->path) != 0)) {
        return PC_ENOMEM;
    }
    r->port = (uint16_t)(src->port.node != NULL ? src->port.v : 0);
    r->status_code = (uint16_t)src->status_code.v;
    *out = r;
    return 0;
}

static int
compile_rewrite(struct pc_arena *arena, const struct pc_resource_rewrite *src,
                const struct pc_url_rewrite **out)
{
    struct pc_url_rewrite *w = pc_arena_calloc(arena, 1, sizeof(*w));

    if (w == NULL || copy_opt(arena, &src->hostname, &w->hostname) != 0
        || (src->path != NULL && compile_path_modifier(arena, src->path, &w->path) != 0)) {
        return PC_ENOMEM;
    }
    *out = w;
    return 0;
}

static int
compile_filters(struct pc_arena *arena, const struct pc_resource_rule *rule,
                struct pc_route_rule *out)
{
    const struct pc_resource_filter *fs = rule->filters.items;

    for (size_t i = 0; i < rule->filters.n; i++) {
        const struct pc_resource_filter *f = &fs[i];
        int rc = 0;

        if (f->request_header_modifier != NULL) {
            rc = compile_header_filter(arena, f->request_header_modifier, &out->request_headers);
        } else if (f->response_header_modifier != NULL) {
            rc = compile_header_filter(arena, f->response_header_modifier, &out->response_headers);
        } else if (f->request_redirect != NULL) {
            rc = compile_redirect(arena, f->request_redirect, &out->redirect);
        } else if (f->url_rewrite != NULL) {
            rc = compile_rewrite(arena, f->url_rewrite, &out->rewrite);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- backends ---- */

static const struct pc_resource_service_port *
find_port(const struct pc_model_resource *se, int64_t port)
{
    const struct pc_resource_service_endpoints *spec = se->doc->spec;
    const struct pc_resource_service_port *ps = spec->ports.items;

    for (size_t i = 0; i < spec->ports.n; i++) {
        if (ps[i].port.v == port) {
            return &ps[i];
        }
    }
    return NULL;
}

static int
compile_endpoints(struct pc_arena *arena, const struct pc_resource_service_port *port,
                  struct pc_backend *out)
{
    const struct pc_schema_string *eps = port->endpoints.items;
    struct pc_endpoint *ends = pc_arena_calloc(arena, port->endpoints.n + 1, sizeof(*ends));

    if (ends == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < port->endpoints.n; i++) {
        char name[64];

        if (pc_value_endpoint(eps[i].s, eps[i].len, &ends[i].addr, &ends[i].addr_len, name,
                              sizeof(name))
            != 0) {
            return PC_EINVAL;
        }
        ends[i].name = pc_arena_strdup(arena, name);
        if (ends[i].name == NULL) {
            return PC_ENOMEM;
        }
    }
    out->endpoints = ends;
    out->n_endpoints = port->endpoints.n;
    return 0;
}

static int64_t
pick_backend_value(const struct pc_model_route *route, const struct pc_model_service *svc, size_t f,
                   int64_t dflt)
{
    if (route->backend_policy[f].owner != NULL) {
        return route->backend_policy[f].v;
    }
    return svc != NULL && svc->backend_policy[f].owner != NULL ? svc->backend_policy[f].v : dflt;
}

static int
compile_backend(struct compiler *c, const struct pc_model_resource *route_res,
                const struct pc_model_listener *l, const struct pc_resource_backend_ref *b,
                struct pc_backend *out)
{
    const char *ns = b->namespace_.s != NULL ? b->namespace_.s : route_res->ns;
    const struct pc_model_resource *se =
        pc_model_find(c->model, PC_RESOURCE_SERVICE_ENDPOINTS, ns, b->name.s);
    const struct pc_model_route *route = route_res->state;
    const struct pc_model_service *svc = se != NULL ? se->state : NULL;
    const struct pc_resource_service_port *port = se != NULL ? find_port(se, b->port.v) : NULL;

    if (port == NULL) {
        return PC_EINVAL;
    }
    out->name = pc_arena_sprintf(c->arena, "%s/%s:%lld", ns, b->name.s, (long long)b->port.v);
    out->weight = (uint32_t)b->weight.v;
    out->connect_timeout_ms = (uint32_t)pick_backend_value(route, svc, PC_MODEL_BACKEND_CONNECT,
                                                           PC_CONFIG_DEFAULT_CONNECT_MS);
    out->pool_max_idle = (uint32_t)pick_backend_value(route, svc, PC_MODEL_BACKEND_POOL_MAX_IDLE,
                                                      PC_CONFIG_DEFAULT_POOL_MAX_IDLE);
    out->pool_idle_timeout_ms = (uint32_t)pick_backend_value(
        route, svc, PC_MODEL_BACKEND_POOL_IDLE_TIMEOUT, PC_CONFIG_DEFAULT_POOL_IDLE_TIMEOUT_MS);
    if (out->name == NULL
        || pc_model_compile_backend_tls(&c->tls, se, port, l->gateway, &out->tls) != 0) {
        return PC_ENOMEM;
    }
    return compile_endpoints(c->arena, port, out);
}

static int
compile_backends(struct compiler *c, const struct pc_model_resource *route_res,
                 const struct pc_model_listener *l, const struct pc_resource_rule *rule,
                 struct pc_route_rule *out)
{
    const struct pc_resource_backend_ref *bs = rule->backend_refs.items;
    struct pc_backend *backends =
        pc_arena_calloc(c->arena, rule->backend_refs.n + 1, sizeof(*backends));

    if (backends == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < rule->backend_refs.n; i++) {
        int rc = compile_backend(c, route_res, l, &bs[i], &backends[i]);

        if (rc != 0) {
            return rc;
        }
        out->total_weight += backends[i].weight;
    }
    out->backends = backends;
    out->n_backends = rule->backend_refs.n;
    return 0;
}

/* The rule's backendRequest, else the route's policy, else what its Services' policies agree on. */
static uint32_t
pick_backend_request_ms(const struct compiler *c, const struct pc_model_resource *route_res,
                        const struct pc_resource_rule *rule)
{
    const struct pc_model_route *route = route_res->state;
    const struct pc_resource_backend_ref *bs = rule->backend_refs.items;

    if (rule->timeouts != NULL && rule->timeouts->backend_request.node != NULL) {
        return (uint32_t)rule->timeouts->backend_request.v;
    }
    if (route->backend_policy[PC_MODEL_BACKEND_RESPONSE].owner != NULL) {
        return (uint32_t)route->backend_policy[PC_MODEL_BACKEND_RESPONSE].v;
    }
    if (rule->backend_refs.n > 0) {
        const char *ns = bs[0].namespace_.s != NULL ? bs[0].namespace_.s : route_res->ns;
        const struct pc_model_resource *se =
            pc_model_find(c->model, PC_RESOURCE_SERVICE_ENDPOINTS, ns, bs[0].name.s);
        const struct pc_model_service *svc = se != NULL ? se->state : NULL;

        if (svc != NULL && svc->backend_policy[PC_MODEL_BACKEND_RESPONSE].owner != NULL) {
            return (uint32_t)svc->backend_policy[PC_MODEL_BACKEND_RESPONSE].v;
        }
    }
    return PC_CONFIG_DEFAULT_RESPONSE_MS;
}

/* ---- rules ---- */

static void
narrow_limits(const struct pc_model_route *route, struct pc_client_limits *limits)
{
    const struct pc_model_slot *s = route->client_policy;

    if (s[PC_MODEL_CLIENT_MAX_REQUEST_LINE].owner != NULL) {
        limits->max_request_line_bytes = (uint32_t)s[PC_MODEL_CLIENT_MAX_REQUEST_LINE].v;
    }
    if (s[PC_MODEL_CLIENT_MAX_HEADER_BYTES].owner != NULL) {
        limits->max_header_bytes = (uint32_t)s[PC_MODEL_CLIENT_MAX_HEADER_BYTES].v;
    }
    if (s[PC_MODEL_CLIENT_MAX_HEADER_COUNT].owner != NULL) {
        limits->max_header_count = (uint32_t)s[PC_MODEL_CLIENT_MAX_HEADER_COUNT].v;
    }
    if (s[PC_MODEL_CLIENT_MAX_BODY].owner != NULL) {
        limits->max_body_bytes = (uint64_t)s[PC_MODEL_CLIENT_MAX_BODY].v;
    }
}

static void
decode_xfcc(uint32_t bits, struct pc_xfcc *out)
{
    out->mode = (bits & PC_MODEL_XFCC_SANITIZE) ? PC_XFCC_SANITIZE : PC_XFCC_SANITIZE_SET;
    out->subject = (bits & PC_MODEL_XFCC_SUBJECT) != 0;
    out->uri = (bits & PC_MODEL_XFCC_URI) != 0;
    out->dns = (bits & PC_MODEL_XFCC_DNS) != 0;
    out->cert = (bits & PC_MODEL_XFCC_CERT) != 0;
    out->chain = (bits & PC_MODEL_XFCC_CHAIN) != 0;
}

static int
push_rule(struct compiler *c, struct pc_route_rule *rule)
{
    if (c->n_rules == c->cap_rules) {
        size_t cap = c->cap_rules == 0 ? 64 : c->cap_rules * 2;
        const struct pc_route_rule **v = pc_realloc(c->rules, cap * sizeof(*v));

        if (v == NULL) {
            return PC_ENOMEM;
        }
        c->rules = v;
        c->cap_rules = cap;
    }
    rule->id = (uint32_t)c->n_rules;
    c->rules[c->n_rules++] = rule;
    return 0;
}

static struct pc_route_rule *
compile_rule(struct compiler *c, const struct pc_model_resource *route_res,
             const struct pc_resource_rule *src, size_t index, const struct pc_model_listener *l)
{
    const struct pc_model_route *state = route_res->state;
    struct pc_route_rule *rule = pc_arena_calloc(c->arena, 1, sizeof(*rule));

    if (rule == NULL) {
        return NULL;
    }
    rule->route_name = pc_arena_strdup(c->arena, route_res->id);
    rule->rule_name = src->name.s != NULL
                          ? pc_arena_strdup(c->arena, src->name.s)
                          : pc_arena_sprintf(c->arena, "%s/%zu", route_res->id, index);
    rule->rule_index = (uint32_t)index;
    rule->request_timeout_ms = src->timeouts != NULL ? (uint32_t)src->timeouts->request.v : 0;
    rule->backend_request_timeout_ms = pick_backend_request_ms(c, route_res, src);
    rule->limits = l->limits;
    narrow_limits(state, &rule->limits);
    rule->allow_websocket = state->client_policy[PC_MODEL_CLIENT_WEBSOCKET].owner != NULL
                            && state->client_policy[PC_MODEL_CLIENT_WEBSOCKET].v != 0;
    /* The route's own forwardClientCert, else its listener's (or Gateway's), else the default. */
    decode_xfcc(state->client_policy[PC_MODEL_CLIENT_XFCC].owner != NULL
                    ? (uint32_t)state->client_policy[PC_MODEL_CLIENT_XFCC].v
                    : l->xfcc,
                &rule->xfcc);

    if (rule->route_name == NULL || rule->rule_name == NULL
        || pc_model_compile_authn(&c->tls, route_res, l, &rule->authn) != 0
        || pc_model_compile_authz(&c->tls, route_res, l, &rule->authz) != 0
        || compile_filters(c->arena, src, rule) != 0
        || compile_backends(c, route_res, l, src, rule) != 0 || push_rule(c, rule) != 0) {
        return NULL;
    }
    return rule;
}

/* ---- matches ---- */

static int
copy_value_matches(struct pc_arena *arena, const struct pc_schema_list *list, bool lower,
                   const struct pc_route_value_match **out, size_t *n)
{
    const struct pc_resource_value_match *ms = list->items;
    struct pc_route_value_match *vm = pc_arena_calloc(arena, list->n + 1, sizeof(*vm));

    if (vm == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < list->n; i++) {
        vm[i].name = lower ? copy_lower(arena, ms[i].name.s, ms[i].name.len)
                           : pc_arena_strndup(arena, ms[i].name.s, ms[i].name.len);
        vm[i].name_len = ms[i].name.len;
        vm[i].type = strcmp(ms[i].type.s, "RegularExpression") == 0 ? PC_ROUTE_VALUE_REGEX
                                                                    : PC_ROUTE_VALUE_EXACT;
        vm[i].value = pc_arena_strndup(arena, ms[i].value.s, ms[i].value.len);
        vm[i].value_len = ms[i].value.len;
        if (vm[i].name == NULL || vm[i].value == NULL) {
            return PC_ENOMEM;
        }
    }
    *out = vm;
    *n = list->n;
    return 0;
}

static int
compile_path(struct pc_arena *arena, const struct pc_resource_path_match *path,
             struct pc_route_match_spec *out)
{
    const char *type = path != NULL ? path->type.s : "PathPrefix";
    const char *value = path != NULL ? path->value.s : "/";
    size_t len = strlen(value);
    char *copy = pc_arena_strndup(arena, value, len);

    if (copy == NULL) {
        return PC_ENOMEM;
    }
    out->path = copy;
    out->path_len = len;
    if (strcmp(type, "RegularExpression") == 0) {
        out->path_type = PC_ROUTE_PATH_REGEX;
        return 0;
    }
    out->path_type = strcmp(type, "Exact") == 0 ? PC_ROUTE_PATH_EXACT : PC_ROUTE_PATH_PREFIX;
    /* Requests are matched after normalisation, so the value is normalised the same way. */
    if (pc_path_normalize(copy, len, copy, &out->path_len, true) != 0) {
        return PC_EINVAL;
    }
    copy[out->path_len] = '\0';
    return 0;
}

static int
compile_matches(struct pc_arena *arena, const struct pc_resource_rule *rule,
                struct pc_route_spec_rule *out)
{
    const struct pc_resource_match *ms = rule->matches.items;
    size_t n = rule->matches.n > 0 ? rule->matches.n : 1;
    struct pc_route_match_spec *specs = pc_arena_calloc(arena, n, sizeof(*specs));

    if (specs == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < rule->matches.n; i++) {
        int rc = compile_path(arena, ms[i].path, &specs[i]);

        if (rc == 0) {
            rc = copy_value_matches(arena, &ms[i].headers, true, &specs[i].headers,
                                    &specs[i].n_headers);
        }
        if (rc == 0) {
            rc = copy_value_matches(arena, &ms[i].query_params, false, &specs[i].query,
                                    &specs[i].n_query);
        }
        if (rc == 0) {
            rc = copy_opt(arena, &ms[i].method, &specs[i].method);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (rule->matches.n == 0 && compile_path(arena, NULL, &specs[0]) != 0) {
        return PC_ENOMEM;
    }
    out->matches = specs;
    out->n_matches = n;
    return 0;
}

/* ---- routes per listener ---- */

static const struct pc_model_attachment *
find_attachment(const struct pc_model_resource *route_res, const struct pc_model_listener *l)
{
    const struct pc_model_route *state = route_res->state;

    for (size_t i = 0; i < state->n_attachments; i++) {
        if (state->attachments[i].listener == l) {
            return &state->attachments[i];
        }
    }
    return NULL;
}

static int
compile_route_spec(struct compiler *c, const struct pc_model_resource *route_res,
                   const struct pc_model_listener *l, struct pc_route_spec *out)
{
    /* A route without rules has the specification's default: one rule matching every path. */
    static const struct pc_resource_rule default_rule;
    const struct pc_resource_httproute *route = route_res->doc->spec;
    const struct pc_resource_rule *rules = route->rules.n > 0 ? route->rules.items : &default_rule;
    size_t n_rules = route->rules.n > 0 ? route->rules.n : 1;
    const struct pc_model_attachment *a = find_attachment(route_res, l);
    struct pc_route_spec_rule *specs = pc_arena_calloc(c->model->arena, n_rules, sizeof(*specs));
    const char **hosts = pc_arena_calloc(c->arena, a->n_hostnames + 1, sizeof(*hosts));

    if (specs == NULL || hosts == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < a->n_hostnames; i++) {
        hosts[i] = pc_arena_strdup(c->arena, a->hostnames[i]);
        if (hosts[i] == NULL) {
            return PC_ENOMEM;
        }
    }
    for (size_t i = 0; i < n_rules; i++) {
        specs[i].rule = compile_rule(c, route_res, &rules[i], i, l);
        if (specs[i].rule == NULL || compile_matches(c->arena, &rules[i], &specs[i]) != 0) {
            return PC_ENOMEM;
        }
    }
    out->name = specs[0].rule->route_name;
    out->created_ms = route_res->created_ms;
    out->hostnames = hosts;
    out->n_hostnames = a->n_hostnames;
    out->rules = specs;
    out->n_rules = n_rules;
    return 0;
}

static int
compile_listener(struct compiler *c, const struct pc_model_listener *l, struct pc_listener *out,
                 struct pc_route_listener_spec *spec)
{
    struct pc_route_spec *routes =
        pc_arena_calloc(c->model->arena, l->n_routes + 1, sizeof(*routes));

    out->gateway = pc_arena_strdup(c->arena, l->gateway->id);
    out->name = pc_arena_strdup(c->arena, l->src->name.s);
    if (copy_opt(c->arena, &l->src->hostname, &out->hostname) != 0) {
        return PC_ENOMEM;
    }
    out->protocol = l->is_https ? PC_PROTO_HTTPS : PC_PROTO_HTTP;
    if (l->is_https && pc_model_compile_listener_tls(&c->tls, l, &out->tls) != 0) {
        return PC_ENOMEM;
    }
    out->limits = l->limits;
    out->timeouts = l->timeouts;
    out->trust_request_id = l->trust_request_id;
    out->keep_encoded_slashes = l->keep_encoded_slashes;
    if (routes == NULL || out->gateway == NULL || out->name == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < l->n_routes; i++) {
        int rc = compile_route_spec(c, l->routes[i], l, &routes[i]);

        if (rc != 0) {
            return rc;
        }
    }
    spec->listener = out;
    spec->routes = routes;
    spec->n_routes = l->n_routes;
    return 0;
}

/* ---- ports ---- */

struct bind {
    const char *addr;
    int64_t port;
    const struct pc_model_listener *listener;
    size_t order;
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
    return a->order < b->order ? -1 : (a->order > b->order);
}

static struct bind *
collect_binds(const struct pc_model *model, size_t *n)
{
    size_t cap = 1;
    struct bind *binds;

    *n = 0;
    for (size_t g = 0; g < model->n_res[PC_RESOURCE_GATEWAY]; g++) {
        const struct pc_resource_gateway *gw = model->res[PC_RESOURCE_GATEWAY][g]->doc->spec;

        cap += gw->listeners.n * (gw->addresses.n > 0 ? gw->addresses.n : 1);
    }
    binds = pc_malloc(cap * sizeof(*binds));
    for (size_t g = 0; binds != NULL && g < model->n_res[PC_RESOURCE_GATEWAY]; g++) {
        const struct pc_model_resource *res = model->res[PC_RESOURCE_GATEWAY][g];
        const struct pc_resource_gateway *gw = res->doc->spec;
        const struct pc_model_gateway *state = res->state;
        const struct pc_resource_address *as = gw->addresses.items;

        for (size_t a = 0; a < (gw->addresses.n > 0 ? gw->addresses.n : 1); a++) {
            for (size_t i = 0; i < state->n_listeners; i++) {
                if (!state->listeners[i].is_usable) {
                    continue;
                }
                binds[*n] =
                    (struct bind){ gw->addresses.n > 0 ? as[a].value.s : "0.0.0.0",
                                   state->listeners[i].src->port.v, &state->listeners[i], *n };
                (*n)++;
            }
        }
    }
    return binds;
}

static void
widen_head(struct pc_port *port, const struct pc_listener *l)
{
    struct pc_client_limits *h = &port->head_limits;
    struct pc_client_timeouts *t = &port->head_timeouts;

    h->max_request_line_bytes = h->max_request_line_bytes > l->limits.max_request_line_bytes
                                    ? h->max_request_line_bytes
                                    : l->limits.max_request_line_bytes;
    h->max_header_bytes = h->max_header_bytes > l->limits.max_header_bytes
                              ? h->max_header_bytes
                              : l->limits.max_header_bytes;
    h->max_header_count = h->max_header_count > l->limits.max_header_count
                              ? h->max_header_count
                              : l->limits.max_header_count;
    h->max_body_bytes =
        h->max_body_bytes > l->limits.max_body_bytes ? h->max_body_bytes : l->limits.max_body_bytes;
    t->request_head_ms = t->request_head_ms > l->timeouts.request_head_ms
                             ? t->request_head_ms
                             : l->timeouts.request_head_ms;
    t->body_progress_ms = t->body_progress_ms > l->timeouts.body_progress_ms
                              ? t->body_progress_ms
                              : l->timeouts.body_progress_ms;
    t->idle_ms = t->idle_ms > l->timeouts.idle_ms ? t->idle_ms : l->timeouts.idle_ms;
}

static int
compile_port(struct compiler *c, const struct bind *binds, size_t n, struct pc_port *port)
{
    struct pc_listener *listeners = pc_arena_calloc(c->arena, n, sizeof(*listeners));
    struct pc_route_listener_spec *specs = pc_arena_calloc(c->model->arena, n, sizeof(*specs));
    char name[80];
    struct pc_err err = { 0 };
    int rc;

    if (listeners == NULL || specs == NULL) {
        return PC_ENOMEM;
    }
    if (pc_value_ip(binds[0].addr, (uint16_t)binds[0].port, &port->addr, &port->addr_len) != 0) {
        return PC_EINVAL;
    }
    pc_value_format_addr(&port->addr, name, sizeof(name));
    port->name = pc_arena_strdup(c->arena, name);
    if (port->name == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        rc = compile_listener(c, binds[i].listener, &listeners[i], &specs[i]);
        if (rc != 0) {
            return rc;
        }
        widen_head(port, &listeners[i]);
    }
    port->listeners = listeners;
    port->n_listeners = n;
    /* Validation refused ports mixing HTTP and HTTPS, so the first listener speaks for all. */
    port->is_tls = listeners[0].protocol == PC_PROTO_HTTPS;

    rc = pc_route_table_build(c->arena, specs, n, &port->routes, &err);
    if (rc != 0 && rc != PC_ENOMEM) {
        pc_diag_add(c->model->diag, "", 0, 0, "", NULL, "route table for %s: %s", name, err.msg);
    }
    return rc;
}

static int
compile_ports(struct compiler *c)
{
    size_t n = 0;
    size_t n_ports = 0;
    struct bind *binds = collect_binds(c->model, &n);
    struct pc_port *ports;
    int rc = 0;

    if (binds == NULL) {
        return PC_ENOMEM;
    }
    qsort(binds, n, sizeof(*binds), compare_binds);
    ports = pc_arena_calloc(c->arena, n + 1, sizeof(*ports));
    for (size_t i = 0; ports != NULL && i < n && rc == 0;) {
        size_t j = i + 1;

        while (j < n && strcmp(binds[j].addr, binds[i].addr) == 0
               && binds[j].port == binds[i].port) {
            j++;
        }
        rc = compile_port(c, binds + i, j - i, &ports[n_ports++]);
        i = j;
    }
    pc_free(binds);
    if (ports == NULL) {
        return PC_ENOMEM;
    }
    c->cfg->ports = ports;
    c->cfg->n_ports = n_ports;
    return rc;
}

/* ---- proxy settings ---- */

static int
compile_proxy(struct compiler *c)
{
    const struct pc_model *m = c->model;
    const struct pc_resource_proxy_config *spec =
        m->n_res[PC_RESOURCE_PROXY_CONFIG] > 0 ? m->res[PC_RESOURCE_PROXY_CONFIG][0]->doc->spec
                                               : NULL;
    const struct pc_resource_admin *admin = spec != NULL ? spec->admin : NULL;
    const struct pc_resource_access_log *alog = spec != NULL ? spec->access_log : NULL;
    const struct pc_resource_log *log = spec != NULL ? spec->log : NULL;
    struct pc_proxy_settings *p = &c->cfg->proxy;
    const char *addr = admin != NULL && admin->address.s != NULL ? admin->address.s : "127.0.0.1";
    int64_t port =
        admin != NULL && admin->port.node != NULL ? admin->port.v : PC_CONFIG_DEFAULT_ADMIN_PORT;

    if (pc_value_ip(addr, (uint16_t)port, &p->admin_addr, &p->admin_addr_len) != 0) {
        return PC_EINVAL;
    }
    p->admin_enabled = admin == NULL || admin->enabled.node == NULL || admin->enabled.v != 0;
    p->access_log_path = NULL;
    if (alog == NULL || alog->enabled.node == NULL || alog->enabled.v != 0) {
        p->access_log_path = "-";
        if (alog != NULL && alog->path.s != NULL
            && copy_opt(c->arena, &alog->path, &p->access_log_path) != 0) {
            return PC_ENOMEM;
        }
    }
    p->log_level = "notice";
    p->log_format = "text";
    if (log != NULL
        && (copy_opt(c->arena, &log->level, &p->log_level) != 0
            || copy_opt(c->arena, &log->format, &p->log_format) != 0)) {
        return PC_ENOMEM;
    }
    p->log_level = p->log_level != NULL ? p->log_level : "notice";
    p->log_format = p->log_format != NULL ? p->log_format : "text";
    p->shutdown_grace_ms =
        spec != NULL && spec->shutdown != NULL && spec->shutdown->grace_period.node != NULL
            ? (uint32_t)spec->shutdown->grace_period.v
            : PC_CONFIG_DEFAULT_SHUTDOWN_GRACE_MS;
    p->watch_files = spec == NULL || spec->watch == NULL || spec->watch->enabled.node == NULL
                     || spec->watch->enabled.v != 0;
    p->tls_ticket_rotation_ms =
        spec != NULL && spec->tls != NULL && spec->tls->session_ticket_rotation.node != NULL
            ? (uint32_t)spec->tls->session_ticket_rotation.v
            : PC_CONFIG_DEFAULT_TLS_TICKET_ROTATION_MS;
    p->tls_session_tickets = spec == NULL || spec->tls == NULL
                             || spec->tls->session_tickets.node == NULL
                             || spec->tls->session_tickets.v != 0;
    return pc_model_compile_decision_log(m, c->arena, &p->decision_log);
}

/* The Workload API address is kept only when some compiled source streams from it. */
static int
compile_workload_socket(struct compiler *c)
{
    const char *socket = c->model->workload_api_socket;

    c->cfg->proxy.workload_api_socket = NULL;
    if (!c->tls.uses_workload_api || socket == NULL) {
        return 0;
    }
    c->cfg->proxy.workload_api_socket = pc_arena_strdup(c->arena, socket);
    return c->cfg->proxy.workload_api_socket != NULL ? 0 : PC_ENOMEM;
}

/* ---- the snapshot ---- */

/* The configuration files, then the other files the load read (Rego modules), once each. */
static int
copy_files(struct compiler *c, const char *const *files, size_t n_files)
{
    size_t n_read = c->model->n_read_files;
    const char **names = pc_arena_calloc(c->arena, n_files + n_read + 1, sizeof(*names));
    size_t n = 0;

    if (names == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < n_files + n_read; i++) {
        const char *f = i < n_files ? files[i] : c->model->read_files[i - n_files];
        bool seen = false;

        for (size_t j = n_files; j < n && !seen; j++) {
            seen = strcmp(names[j], f) == 0;
        }
        if (seen) {
            continue;
        }
        names[n] = pc_arena_strdup(c->arena, f);
        if (names[n++] == NULL) {
            return PC_ENOMEM;
        }
    }
    c->cfg->files = names;
    c->cfg->n_files = n;
    return 0;
}

static int
copy_lists(struct compiler *c, const char *const *files, size_t n_files)
{
    const struct pc_route_rule **rules = pc_arena_calloc(c->arena, c->n_rules + 1, sizeof(*rules));
    const char **material = pc_arena_calloc(c->arena, c->tls.n_files + 1, sizeof(*material));
    const struct pc_authn **authns =
        pc_arena_calloc(c->arena, c->tls.n_authns + 1, sizeof(*authns));
    const struct pc_authz **authzs =
        pc_arena_calloc(c->arena, c->tls.n_authzs + 1, sizeof(*authzs));

    if (rules == NULL || material == NULL || authns == NULL || authzs == NULL
        || copy_files(c, files, n_files) != 0) {
        return PC_ENOMEM;
    }
    if (c->tls.n_authns > 0) {
        memcpy(authns, c->tls.authns, c->tls.n_authns * sizeof(*authns));
    }
    c->cfg->authns = authns;
    c->cfg->n_authns = c->tls.n_authns;
    if (c->tls.n_authzs > 0) {
        memcpy(authzs, c->tls.authzs, c->tls.n_authzs * sizeof(*authzs));
    }
    c->cfg->authzs = authzs;
    c->cfg->n_authzs = c->tls.n_authzs;
    /* The material paths are snapshot strings already; only the vector moves to the arena. */
    if (c->tls.n_files > 0) {
        memcpy(material, c->tls.files, c->tls.n_files * sizeof(*material));
    }
    c->cfg->material_files = material;
    c->cfg->n_material_files = c->tls.n_files;
    if (c->n_rules > 0) {
        memcpy(rules, c->rules, c->n_rules * sizeof(*rules));
    }
    c->cfg->rules = rules;
    c->cfg->n_rules = c->n_rules;
    return 0;
}

struct pc_config *
pc_model_compile(struct pc_model *model, const char *const *files, size_t n_files)
{
    struct compiler c = { .model = model };
    int rc = PC_ENOMEM;

    c.arena = pc_arena_create(SNAPSHOT_BLOCK_BYTES);
    if (c.arena == NULL) {
        goto fail;
    }
    c.cfg = pc_arena_calloc(c.arena, 1, sizeof(*c.cfg));
    if (c.cfg == NULL) {
        goto fail_destroy;
    }
    c.cfg->arena = c.arena;
    atomic_init(&c.cfg->refs, 1);
    c.tls.model = model;
    c.tls.arena = c.arena;

    rc = compile_proxy(&c);
    if (rc == 0) {
        rc = compile_ports(&c);
    }
    if (rc == 0) {
        rc = compile_workload_socket(&c);
    }
    if (rc == 0) {
        rc = copy_lists(&c, files, n_files);
    }
    if (rc != 0) {
        goto fail_destroy;
    }
    pc_free(c.rules);
    pc_free(c.tls.files);
    pc_free(c.tls.authns);
    pc_free(c.tls.authzs);
    return c.cfg;

fail_destroy:
    pc_arena_destroy(c.arena);
fail:
    pc_free(c.rules);
    pc_free(c.tls.files);
    pc_free(c.tls.authns);
    pc_free(c.tls.authzs);
    if (rc == PC_ENOMEM) {
        pc_diag_add(model->diag, "", 0, 0, "", NULL,
                    "out of memory while compiling the configuration");
    } else if (model->diag->n_errors == 0) {
        pc_diag_add(model->diag, "", 0, 0, "", NULL, "configuration could not be compiled: %s",
                    pc_strerror(rc));
    }
    return NULL;
}
