/*
 * Reference resolution: which listeners each HTTPRoute attaches to (parentRefs, allowedRoutes,
 * hostname intersection), whether every backendRef resolves to a ServiceEndpoints port (and,
 * across namespaces, is granted by a ReferenceGrant), and which ClientTrafficPolicy and
 * BackendTrafficPolicy values apply to each target, and the targets of the policies that apply
 * whole (pc_model_resolve_target); TLS references are tls.c's, AuthenticationPolicy references
 * authn.c's and AuthorizationPolicy references authz.c's, called from here once the policies are
 * known. Every
 * dangling reference, refused attachment and conflicting policy becomes an error at the node that
 * made it. Runs on the control thread, inside a load, after check.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/model.h"
#include "config/value.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"

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

/* ---- lookups ---- */

const char *
pc_model_suggest(const struct pc_model *model, enum pc_resource_kind kind, const char *ns,
                 const char *name, char *hint, size_t size, const char *otherwise)
{
    const char **names = pc_malloc((model->n_res[kind] + 1) * sizeof(*names));
    const char *near = NULL;
    size_t n = 0;

    if (names != NULL) {
        for (size_t i = 0; i < model->n_res[kind]; i++) {
            if (strcmp(model->res[kind][i]->ns, ns) == 0) {
                names[n++] = model->res[kind][i]->name;
            }
        }
        near = pc_value_suggest(name, names, n);
    }
    if (near != NULL) {
        snprintf(hint, size, "did you mean \"%s\"?", near);
    } else {
        snprintf(hint, size, "%s", otherwise);
    }
    pc_free(names);
    return hint;
}

static const char *
pick_namespace(const struct pc_schema_string *ns, const struct pc_model_resource *owner)
{
    return ns->s != NULL ? ns->s : owner->ns;
}

/* ---- allowedRoutes ---- */

static bool
find_label(const struct pc_model *model, const char *ns, const char *key, const char **value)
{
    const struct pc_model_resource *res = pc_model_find(model, PC_RESOURCE_NAMESPACE, "", ns);
    const struct pc_schema_map *labels = res != NULL ? &res->doc->metadata->labels : NULL;

    /* Kubernetes labels every namespace with its own name; selectors commonly rely on it. */
    if (strcmp(key, "kubernetes.io/metadata.name") == 0) {
        *value = ns;
        return true;
    }
    for (size_t i = 0; labels != NULL && i < labels->n; i++) {
        if (strcmp(labels->keys[i].s, key) == 0 && labels->values[i].s != NULL) {
            *value = labels->values[i].s;
            return true;
        }
    }
    return false;
}

static bool
check_expression(const struct pc_model *model, const char *ns,
                 const struct pc_resource_label_expr *e)
{
    const struct pc_schema_string *values = e->values.items;
    const char *v = NULL;
    bool has = e->key.s != NULL && find_label(model, ns, e->key.s, &v);
    bool in = false;

    if (e->operator_.s == NULL) {
        return false;
    }
    for (size_t i = 0; has && i < e->values.n; i++) {
        in = in || (values[i].s != NULL && strcmp(values[i].s, v) == 0);
    }
    if (strcmp(e->operator_.s, "In") == 0) {
        return in;
    }
    if (strcmp(e->operator_.s, "NotIn") == 0) {
        return !in;
    }
    return strcmp(e->operator_.s, "Exists") == 0 ? has : !has;
}

static bool
check_selector(const struct pc_model *model, const char *ns, const struct pc_resource_selector *sel)
{
    const struct pc_resource_label_expr *exprs = sel->match_expressions.items;

    for (size_t i = 0; i < sel->match_labels.n; i++) {
        const char *v = NULL;

        if (!find_label(model, ns, sel->match_labels.keys[i].s, &v)
            || sel->match_labels.values[i].s == NULL
            || strcmp(v, sel->match_labels.values[i].s) != 0) {
            return false;
        }
    }
    for (size_t i = 0; i < sel->match_expressions.n; i++) {
        if (!check_expression(model, ns, &exprs[i])) {
            return false;
        }
    }
    return true;
}

/* Returns NULL when the listener admits routes of route's namespace, else why not. */
static const char *
explain_namespace_refusal(const struct pc_model *model, const struct pc_model_listener *l,
                          const struct pc_model_resource *route, char *buf, size_t size)
{
    const struct pc_resource_allowed_routes *allowed = l->src->allowed_routes;
    const struct pc_resource_route_namespaces *ns = allowed != NULL ? allowed->namespaces : NULL;
    const char *from = ns != NULL && ns->from.s != NULL ? ns->from.s : "Same";

    if (strcmp(from, "All") == 0) {
        return NULL;
    }
    if (strcmp(from, "Selector") == 0) {
        if (ns->selector != NULL && check_selector(model, route->ns, ns->selector)) {
            return NULL;
        }
        snprintf(
            buf, size,
            "listener \"%s\" admits routes only from namespaces its selector matches, and \"%s\" does not",
            l->src->name.s, route->ns);
        return buf;
    }
    if (strcmp(route->ns, l->gateway->ns) == 0) {
        return NULL;
    }
    snprintf(
        buf, size,
        "listener \"%s\" admits routes only from its own namespace \"%s\" (allowedRoutes.namespaces.from: Same)",
        l->src->name.s, l->gateway->ns);
    return buf;
}

static bool
admits_httproute(const struct pc_model_listener *l)
{
    const struct pc_resource_allowed_routes *allowed = l->src->allowed_routes;
    const struct pc_resource_route_kind *kinds = allowed != NULL ? allowed->kinds.items : NULL;

    if (allowed == NULL || allowed->kinds.n == 0) {
        return true;
    }
    for (size_t i = 0; i < allowed->kinds.n; i++) {
        if (kinds[i].kind.s != NULL && strcmp(kinds[i].kind.s, "HTTPRoute") == 0
            && strcmp(kinds[i].group.s, PC_RESOURCE_GATEWAY_GROUP) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- attachment ---- */

/* Keeps the route hostnames that intersect the listener's; all of them when it has none. */
static int
intersect_hostnames(struct pc_model *model, const struct pc_model_listener *l,
                    const struct pc_resource_httproute *route, struct pc_model_attachment *a)
{
    const struct pc_schema_string *hosts = route->hostnames.items;
    const char *lh = l->src->hostname.s;

    a->hostnames = pc_arena_calloc(model->arena, route->hostnames.n + 1, sizeof(*a->hostnames));
    if (a->hostnames == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < route->hostnames.n; i++) {
        if (hosts[i].s != NULL && (lh == NULL || pc_model_hostname_intersects(lh, hosts[i].s))) {
            a->hostnames[a->n_hostnames++] = hosts[i].s;
        }
    }
    return 0;
}

/* Appends to an arena vector, doubling it (the old copy stays in the arena). */
static int
push_to_arena(struct pc_arena *arena, void **items, size_t *n, size_t *cap, size_t size,
              const void *item)
{
    if (*n == *cap) {
        size_t cap_new = *cap == 0 ? 4 : *cap * 2;
        void *v = pc_arena_alloc(arena, cap_new * size);

        if (v == NULL) {
            return PC_ENOMEM;
        }
        if (*n > 0) {
            memcpy(v, *items, *n * size);
        }
        *items = v;
        *cap = cap_new;
    }
    memcpy((char *)*items + *n * size, item, size);
    (*n)++;
    return 0;
}

static int
add_attachment(struct pc_model *model, struct pc_model_resource *route_res,
               const struct pc_model_attachment *a)
{
    struct pc_model_route *state = route_res->state;
    struct pc_model_listener *l = a->listener;

    for (size_t i = 0; i < state->n_attachments; i++) {
        if (state->attachments[i].listener == l) {
            return 0;
        }
    }
    if (push_to_arena(model->arena, (void **)&state->attachments, &state->n_attachments,
                      &state->cap_attachments, sizeof(*a), a)
            != 0
        || push_to_arena(model->arena, (void **)&l->routes, &l->n_routes, &l->cap_routes,
                         sizeof(route_res), &route_res)
               != 0) {
        return PC_ENOMEM;
    }
    return 0;
}

/*
 * Tries to attach route to listener l. Returns 1 when attached, 0 when refused (the reason is
 * appended to why), or PC_ENOMEM.
 */
static int
try_attach(struct pc_model *model, struct pc_model_resource *route_res, struct pc_model_listener *l,
           char *why, size_t size)
{
    const struct pc_resource_httproute *route = route_res->doc->spec;
    struct pc_model_attachment a = { .listener = l };
    char reason[320];
    const char *refusal = NULL;
    size_t used = strlen(why);

    if (!admits_httproute(l)) {
        snprintf(reason, sizeof(reason), "listener \"%s\" does not admit HTTPRoutes",
                 l->src->name.s);
        refusal = reason;
    }
    if (refusal == NULL) {
        refusal = explain_namespace_refusal(model, l, route_res, reason, sizeof(reason));
    }
    if (refusal == NULL) {
        if (intersect_hostnames(model, l, route, &a) != 0) {
            return PC_ENOMEM;
        }
        if (route->hostnames.n > 0 && a.n_hostnames == 0) {
            snprintf(reason, sizeof(reason),
                     "listener \"%s\" hostname \"%s\" matches none of the route's hostnames",
                     l->src->name.s, l->src->hostname.s);
            refusal = reason;
        }
    }
    if (refusal != NULL) {
        snprintf(why + used, size - used, "%s%s", used > 0 ? "; " : "", refusal);
        return 0;
    }
    return add_attachment(model, route_res, &a) == 0 ? 1 : PC_ENOMEM;
}

struct pc_model_listener *
pc_model_find_listener(const struct pc_model_gateway *gw, const char *name)
{
    for (size_t i = 0; i < gw->n_listeners; i++) {
        if (gw->listeners[i].src->name.s != NULL
            && strcmp(gw->listeners[i].src->name.s, name) == 0) {
            return &gw->listeners[i];
        }
    }
    return NULL;
}

void
pc_model_list_listeners(const struct pc_model_gateway *gw, char *buf, size_t size)
{
    size_t pos = (size_t)snprintf(buf, size, "listeners of the Gateway: ");

    for (size_t i = 0; i < gw->n_listeners && pos < size; i++) {
        int n = snprintf(buf + pos, size - pos, "%s%s", i > 0 ? ", " : "",
                         gw->listeners[i].src->name.s != NULL ? gw->listeners[i].src->name.s : "?");

        pos += n > 0 ? (size_t)n : 0;
    }
}

static const struct pc_model_gateway *
find_parent(struct pc_model *model, const struct pc_model_resource *route_res,
            const struct pc_resource_parent_ref *p)
{
    const char *ns = pick_namespace(&p->namespace_, route_res);
    const struct pc_model_resource *gw = pc_model_find(model, PC_RESOURCE_GATEWAY, ns, p->name.s);
    char hint[320];

    if (gw == NULL) {
        report(model, p->name.node,
               pc_model_suggest(model, PC_RESOURCE_GATEWAY, ns, p->name.s, hint, sizeof(hint),
                                "declare the Gateway or fix the name (and namespace)"),
               "Gateway %s/%s not found", ns, p->name.s);
    }
    return gw != NULL ? gw->state : NULL;
}

/* Attaches route to the listeners one parentRef selects; reports a parentRef that gets none. */
static int
attach_parent(struct pc_model *model, struct pc_model_resource *route_res,
              const struct pc_resource_parent_ref *p)
{
    const struct pc_model_gateway *gw = find_parent(model, route_res, p);
    char why[1024] = "";
    size_t candidates = 0;
    int attached = 0;

    if (gw == NULL) {
        return 0;
    }
    if (p->section_name.s != NULL && pc_model_find_listener(gw, p->section_name.s) == NULL) {
        char hint[512];

        pc_model_list_listeners(gw, hint, sizeof(hint));
        report(model, p->section_name.node, hint, "Gateway %s/%s has no listener \"%s\"",
               pick_namespace(&p->namespace_, route_res), p->name.s, p->section_name.s);
        return 0;
    }
    for (size_t i = 0; i < gw->n_listeners; i++) {
        struct pc_model_listener *l = &gw->listeners[i];
        int rc;

        if (!l->is_usable
            || (p->section_name.s != NULL && strcmp(l->src->name.s, p->section_name.s) != 0)
            || (p->port.node != NULL && l->src->port.v != p->port.v)) {
            continue;
        }
        candidates++;
        rc = try_attach(model, route_res, l, why, sizeof(why));
        if (rc < 0) {
            return rc;
        }
        attached += rc;
    }
    if (attached == 0 && candidates == 0 && p->port.node != NULL) {
        report(model, p->port.node, "use the port of one of the Gateway's listeners",
               "Gateway %s/%s has no usable listener on port %lld",
               pick_namespace(&p->namespace_, route_res), p->name.s, (long long)p->port.v);
    } else if (attached == 0 && candidates > 0) {
        report(model, p->node,
               "fix the route's hostnames or namespace, or the listener's allowedRoutes",
               "the route attaches to no listener of Gateway %s/%s: %s",
               pick_namespace(&p->namespace_, route_res), p->name.s, why);
    }
    return 0;
}

/* ---- backendRefs ---- */

bool
pc_model_is_granted(const struct pc_model *model, const char *from_kind, const char *from_ns,
                    const char *to_group, const char *to_kind, const char *to_ns,
                    const char *to_name)
{
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_REFERENCE_GRANT]; i++) {
        const struct pc_model_resource *res = model->res[PC_RESOURCE_REFERENCE_GRANT][i];
        const struct pc_resource_reference_grant *g = res->doc->spec;
        bool from_ok = false;

        if (g == NULL || strcmp(res->ns, to_ns) != 0) {
            continue;
        }
        for (size_t f = 0; f < g->from.n; f++) {
            const struct pc_resource_grant_from *from =
                (const struct pc_resource_grant_from *)g->from.items + f;

            from_ok =
                from_ok
                || (from->group.s != NULL && strcmp(from->group.s, PC_RESOURCE_GATEWAY_GROUP) == 0
                    && from->kind.s != NULL && strcmp(from->kind.s, from_kind) == 0
                    && from->namespace_.s != NULL && strcmp(from->namespace_.s, from_ns) == 0);
        }
        for (size_t t = 0; from_ok && t < g->to.n; t++) {
            const struct pc_resource_grant_to *to =
                (const struct pc_resource_grant_to *)g->to.items + t;

            if (to->group.s != NULL && strcmp(to->group.s, to_group) == 0 && to->kind.s != NULL
                && strcmp(to->kind.s, to_kind) == 0
                && (to->name.s == NULL || strcmp(to->name.s, to_name) == 0)) {
                return true;
            }
        }
    }
    return false;
}

static bool
has_port(const struct pc_resource_service_endpoints *se, int64_t port, char *ports, size_t size)
{
    const struct pc_resource_service_port *ps = se->ports.items;
    size_t pos = 0;

    ports[0] = '\0';
    for (size_t i = 0; i < se->ports.n; i++) {
        if (ps[i].port.node != NULL && ps[i].port.v == port) {
            return true;
        }
        if (pos < size) {
            int n = snprintf(ports + pos, size - pos, "%s%lld", i > 0 ? ", " : "",
                             (long long)ps[i].port.v);

            pos += n > 0 ? (size_t)n : 0;
        }
    }
    return false;
}

static void
resolve_backend(struct pc_model *model, const struct pc_model_resource *route_res,
                const struct pc_resource_backend_ref *b)
{
    const char *ns = pick_namespace(&b->namespace_, route_res);
    const struct pc_model_resource *se =
        pc_model_find(model, PC_RESOURCE_SERVICE_ENDPOINTS, ns, b->name.s);
    char hint[320];
    char ports[160];

    if (se == NULL) {
        snprintf(ports, sizeof(ports),
                 "add a ServiceEndpoints named \"%s\" in namespace \"%s\" listing its endpoints",
                 b->name.s, ns);
        report(model, b->name.node,
               pc_model_suggest(model, PC_RESOURCE_SERVICE_ENDPOINTS, ns, b->name.s, hint,
                                sizeof(hint), ports),
               "Service %s/%s has no ServiceEndpoints", ns, b->name.s);
        return;
    }
    if (strcmp(ns, route_res->ns) != 0
        && !pc_model_is_granted(model, "HTTPRoute", route_res->ns, "", "Service", ns, b->name.s)) {
        snprintf(
            hint, sizeof(hint),
            "add a ReferenceGrant in namespace \"%s\" that allows HTTPRoutes from namespace \"%s\" to reach Service \"%s\"",
            ns, route_res->ns, b->name.s);
        report(model, b->namespace_.node, hint,
               "backendRef to namespace \"%s\" is not allowed by any ReferenceGrant", ns);
        return;
    }
    if (se->doc->spec != NULL && !has_port(se->doc->spec, b->port.v, ports, sizeof(ports))) {
        snprintf(hint, sizeof(hint), "ports of %s: %s", se->id, ports);
        report(model, b->port.node, hint, "ServiceEndpoints %s has no port %lld", se->id,
               (long long)b->port.v);
    }
}

static int
resolve_route(struct pc_model *model, struct pc_model_resource *res)
{
    const struct pc_resource_httproute *route = res->doc->spec;
    const struct pc_resource_parent_ref *ps = route->parent_refs.items;
    const struct pc_resource_rule *rules = route->rules.items;

    for (size_t i = 0; i < route->parent_refs.n; i++) {
        const struct pc_resource_parent_ref *p = &ps[i];

        if (p->name.s == NULL || strcmp(p->kind.s, "Gateway") != 0
            || strcmp(p->group.s, PC_RESOURCE_GATEWAY_GROUP) != 0) {
            continue;
        }
        if (attach_parent(model, res, p) != 0) {
            return PC_ENOMEM;
        }
    }
    for (size_t r = 0; r < route->rules.n; r++) {
        const struct pc_resource_backend_ref *bs = rules[r].backend_refs.items;

        for (size_t i = 0; i < rules[r].backend_refs.n; i++) {
            if (bs[i].name.s != NULL && bs[i].port.node != NULL && bs[i].group.len == 0
                && strcmp(bs[i].kind.s, "Service") == 0) {
                resolve_backend(model, res, &bs[i]);
            }
        }
    }
    return 0;
}

/* ---- policies ---- */

#define LEVEL_GATEWAY 1u
#define LEVEL_ROUTE   2u

/* Reads a field that is not a plain integer from its sub-object; returns NULL when unset. */
typedef const struct pc_yaml_node *(*read_field_fn)(const char *obj, int64_t *v);

struct field_desc {
    const char *path;
    size_t obj_offset; /* of the sub-object pointer in the policy spec */
    size_t val_offset; /* of the value in the sub-object, when read is NULL */
    read_field_fn read;
    unsigned levels;
};

static const struct pc_yaml_node *
read_encoded_slashes(const char *obj, int64_t *v)
{
    const struct pc_resource_path_policy *path = (const void *)obj;

    *v = path->encoded_slashes.s != NULL && strcmp(path->encoded_slashes.s, "Keep") == 0;
    return path->encoded_slashes.node;
}

static const struct pc_yaml_node *
read_client_cert_mode(const char *obj, int64_t *v)
{
    const struct pc_resource_client_tls *tls = (const void *)obj;
    const struct pc_resource_client_certificate *cc = tls->client_certificate;

    if (cc == NULL || cc->mode.s == NULL) {
        return NULL;
    }
    *v = strcmp(cc->mode.s, "Optional") == 0 ? PC_CLIENT_CERT_OPTIONAL : PC_CLIENT_CERT_REQUIRE;
    return cc->mode.node;
}

/* forwardClientCert folds into PC_MODEL_XFCC_* bits, so one slot holds mode and details. */
static const struct pc_yaml_node *
read_xfcc(const char *obj, int64_t *v)
{
    static const char *const names[] = { "Subject", "URI", "DNS", "Cert", "Chain" };
    const struct pc_resource_forward_client_cert *xfcc = (const void *)obj;
    const struct pc_schema_string *details = xfcc->details.items;

    if (xfcc->mode.s != NULL && strcmp(xfcc->mode.s, "Sanitize") == 0) {
        *v = PC_MODEL_XFCC_SANITIZE;
        return xfcc->node;
    }
    *v = xfcc->details.node == NULL ? PC_MODEL_XFCC_DEFAULT : 0;
    for (size_t i = 0; i < xfcc->details.n; i++) {
        for (size_t b = 0; details[i].s != NULL && b < 5; b++) {
            *v |= strcmp(details[i].s, names[b]) == 0 ? (int64_t)1 << b : 0;
        }
    }
    return xfcc->node;
}

static const struct field_desc client_fields[PC_MODEL_CLIENT_COUNT] = {
    [PC_MODEL_CLIENT_MAX_REQUEST_LINE] = { "spec.limits.maxRequestLineBytes",
                                           offsetof(struct pc_resource_client_policy, limits),
                                           offsetof(struct pc_resource_client_limits,
                                                    max_request_line_bytes),
                                           NULL, LEVEL_GATEWAY | LEVEL_ROUTE },
    [PC_MODEL_CLIENT_MAX_HEADER_BYTES] = { "spec.limits.maxHeaderBytes",
                                           offsetof(struct pc_resource_client_policy, limits),
                                           offsetof(struct pc_resource_client_limits,
                                                    max_header_bytes),
                                           NULL, LEVEL_GATEWAY | LEVEL_ROUTE },
    [PC_MODEL_CLIENT_MAX_HEADER_COUNT] = { "spec.limits.maxHeaderCount",
                                           offsetof(struct pc_resource_client_policy, limits),
                                           offsetof(struct pc_resource_client_limits,
                                                    max_header_count),
                                           NULL, LEVEL_GATEWAY | LEVEL_ROUTE },
    [PC_MODEL_CLIENT_MAX_BODY] = { "spec.limits.maxBodyBytes",
                                   offsetof(struct pc_resource_client_policy, limits),
                                   offsetof(struct pc_resource_client_limits, max_body_bytes), NULL,
                                   LEVEL_GATEWAY | LEVEL_ROUTE },
    [PC_MODEL_CLIENT_REQUEST_HEAD] = { "spec.timeouts.requestHead",
                                       offsetof(struct pc_resource_client_policy, timeouts),
                                       offsetof(struct pc_resource_client_timeouts, request_head),
                                       NULL, LEVEL_GATEWAY },
    [PC_MODEL_CLIENT_BODY_PROGRESS] = { "spec.timeouts.bodyProgress",
                                        offsetof(struct pc_resource_client_policy, timeouts),
                                        offsetof(struct pc_resource_client_timeouts, body_progress),
                                        NULL, LEVEL_GATEWAY },
    [PC_MODEL_CLIENT_IDLE] = { "spec.timeouts.idle",
                               offsetof(struct pc_resource_client_policy, timeouts),
                               offsetof(struct pc_resource_client_timeouts, idle), NULL,
                               LEVEL_GATEWAY },
    [PC_MODEL_CLIENT_TRUST_REQUEST_ID] = { "spec.requestId.trustClient",
                                           offsetof(struct pc_resource_client_policy, request_id),
                                           offsetof(struct pc_resource_request_id, trust_client),
                                           NULL, LEVEL_GATEWAY },
    [PC_MODEL_CLIENT_ENCODED_SLASHES] = { "spec.path.encodedSlashes",
                                          offsetof(struct pc_resource_client_policy, path), 0,
                                          read_encoded_slashes, LEVEL_GATEWAY },
    [PC_MODEL_CLIENT_WEBSOCKET] = { "spec.websocket.enabled",
                                    offsetof(struct pc_resource_client_policy, websocket),
                                    offsetof(struct pc_resource_websocket, enabled), NULL,
                                    LEVEL_ROUTE },
    [PC_MODEL_CLIENT_CERT_MODE] = { "spec.tls.clientCertificate.mode",
                                    offsetof(struct pc_resource_client_policy, tls), 0,
                                    read_client_cert_mode, LEVEL_GATEWAY },
    [PC_MODEL_CLIENT_XFCC] = { "spec.forwardClientCert",
                               offsetof(struct pc_resource_client_policy, forward_client_cert), 0,
                               read_xfcc, LEVEL_GATEWAY | LEVEL_ROUTE },
};

static const struct field_desc backend_fields[PC_MODEL_BACKEND_COUNT] = {
    [PC_MODEL_BACKEND_CONNECT] = { "spec.timeouts.connect",
                                   offsetof(struct pc_resource_backend_policy, timeouts),
                                   offsetof(struct pc_resource_backend_timeouts, connect), NULL,
                                   LEVEL_GATEWAY | LEVEL_ROUTE },
    [PC_MODEL_BACKEND_RESPONSE] = { "spec.timeouts.response",
                                    offsetof(struct pc_resource_backend_policy, timeouts),
                                    offsetof(struct pc_resource_backend_timeouts, response), NULL,
                                    LEVEL_GATEWAY | LEVEL_ROUTE },
    [PC_MODEL_BACKEND_POOL_MAX_IDLE] = { "spec.connectionPool.maxIdlePerEndpoint",
                                         offsetof(struct pc_resource_backend_policy,
                                                  connection_pool),
                                         offsetof(struct pc_resource_pool, max_idle_per_endpoint),
                                         NULL, LEVEL_GATEWAY | LEVEL_ROUTE },
    [PC_MODEL_BACKEND_POOL_IDLE_TIMEOUT] = { "spec.connectionPool.idleTimeout",
                                             offsetof(struct pc_resource_backend_policy,
                                                      connection_pool),
                                             offsetof(struct pc_resource_pool, idle_timeout), NULL,
                                             LEVEL_GATEWAY | LEVEL_ROUTE },
};

/* Reads one policy field: returns its node (NULL when unset) and the value in *v. */
static const struct pc_yaml_node *
get_field(const void *spec, const struct field_desc *d, int64_t *v)
{
    const char *obj = *(const char *const *)(const void *)((const char *)spec + d->obj_offset);

    if (obj == NULL) {
        return NULL;
    }
    if (d->read != NULL) {
        return d->read(obj, v);
    }
    *v = ((const struct pc_schema_int *)(const void *)(obj + d->val_offset))->v;
    return ((const struct pc_schema_int *)(const void *)(obj + d->val_offset))->node;
}

/* Applies every field policy sets that the target level allows to slots. */
static void
apply_policy(struct pc_model *model, const struct pc_model_resource *policy,
             const struct field_desc *fields, size_t n_fields, unsigned level,
             struct pc_model_slot *slots, const char *target)
{
    for (size_t f = 0; f < n_fields; f++) {
        int64_t v = 0;
        const struct pc_yaml_node *node = get_field(policy->doc->spec, &fields[f], &v);

        if (node == NULL || !(fields[f].levels & level)) {
            continue;
        }
        if (slots[f].owner != NULL && slots[f].owner != policy) {
            report(model, node, "set it in one policy only", "%s %s and %s %s both set %s for %s",
                   slots[f].owner->type->name, slots[f].owner->id, policy->type->name, policy->id,
                   fields[f].path, target);
            continue;
        }
        slots[f] = (struct pc_model_slot){ v, policy, node };
    }
}

/* Reports fields a policy sets that none of its targets can take. */
static void
check_levels(struct pc_model *model, const struct pc_model_resource *policy,
             const struct field_desc *fields, size_t n_fields, unsigned levels_targeted)
{
    for (size_t f = 0; f < n_fields; f++) {
        int64_t v;
        const struct pc_yaml_node *node = get_field(policy->doc->spec, &fields[f], &v);

        if (node != NULL && levels_targeted != 0 && !(fields[f].levels & levels_targeted)) {
            report(model, node,
                   fields[f].levels == LEVEL_ROUTE ? "attach this setting to an HTTPRoute"
                                                   : "attach this setting to a Gateway or listener",
                   "%s cannot apply to %s targets", fields[f].path,
                   levels_targeted == LEVEL_ROUTE ? "HTTPRoute" : "Gateway");
        }
    }
}

static void
check_target_group(struct pc_model *model, const struct pc_resource_target_ref *t, const char *want)
{
    if (t->group.node != NULL && strcmp(t->group.s, want) != 0) {
        report(model, t->group.node, NULL, "group of a %s target must be \"%s\"", t->kind.s, want);
    }
}

static void
resolve_client_target(struct pc_model *model, const struct pc_model_resource *policy,
                      const struct pc_resource_target_ref *t, unsigned *levels)
{
    char what[600];
    char hint[320];
    bool is_gateway = strcmp(t->kind.s, "Gateway") == 0;
    enum pc_resource_kind kind = is_gateway ? PC_RESOURCE_GATEWAY : PC_RESOURCE_HTTPROUTE;
    struct pc_model_resource *target = pc_model_find(model, kind, policy->ns, t->name.s);

    check_target_group(model, t, PC_RESOURCE_GATEWAY_GROUP);
    if (target == NULL) {
        report(model, t->name.node,
               pc_model_suggest(model, kind, policy->ns, t->name.s, hint, sizeof(hint),
                                "policies target resources in their own namespace"),
               "%s %s/%s not found", t->kind.s, policy->ns, t->name.s);
        return;
    }
    if (!is_gateway) {
        struct pc_model_route *route = target->state;

        if (t->section_name.node != NULL) {
            report(model, t->section_name.node,
                   "remove it; a route policy applies to the whole route",
                   "sectionName is only supported for Gateway targets");
        }
        *levels |= LEVEL_ROUTE;
        snprintf(what, sizeof(what), "HTTPRoute %s", target->id);
        if (route != NULL) {
            apply_policy(model, policy, client_fields, PC_MODEL_CLIENT_COUNT, LEVEL_ROUTE,
                         route->client_policy, what);
        }
        return;
    }

    *levels |= LEVEL_GATEWAY;
    struct pc_model_gateway *gw = target->state;
    struct pc_model_listener *l = NULL;

    if (gw == NULL) {
        return;
    }
    if (t->section_name.s != NULL) {
        l = pc_model_find_listener(gw, t->section_name.s);
        if (l == NULL) {
            pc_model_list_listeners(gw, hint, sizeof(hint));
            report(model, t->section_name.node, hint, "Gateway %s has no listener \"%s\"",
                   target->id, t->section_name.s);
            return;
        }
    }
    snprintf(what, sizeof(what), "Gateway %s%s%s%s", target->id, l != NULL ? " listener \"" : "",
             l != NULL ? t->section_name.s : "", l != NULL ? "\"" : "");
    apply_policy(model, policy, client_fields, PC_MODEL_CLIENT_COUNT, LEVEL_GATEWAY,
                 l != NULL ? l->client_policy : gw->client_policy, what);
}

static void
resolve_backend_target(struct pc_model *model, const struct pc_model_resource *policy,
                       const struct pc_resource_target_ref *t)
{
    char what[600];
    char hint[320];
    bool is_route = strcmp(t->kind.s, "HTTPRoute") == 0;
    enum pc_resource_kind kind = is_route ? PC_RESOURCE_HTTPROUTE : PC_RESOURCE_SERVICE_ENDPOINTS;
    struct pc_model_resource *target = pc_model_find(model, kind, policy->ns, t->name.s);
    struct pc_model_slot *slots;

    check_target_group(model, t, is_route ? PC_RESOURCE_GATEWAY_GROUP : "");
    if (target == NULL) {
        report(model, t->name.node,
               pc_model_suggest(model, kind, policy->ns, t->name.s, hint, sizeof(hint),
                                "policies target resources in their own namespace"),
               is_route ? "HTTPRoute %s/%s not found" : "Service %s/%s has no ServiceEndpoints",
               policy->ns, t->name.s);
        return;
    }
    if (target->state == NULL) {
        return;
    }
    slots = is_route ? ((struct pc_model_route *)target->state)->backend_policy
                     : ((struct pc_model_service *)target->state)->backend_policy;
    snprintf(what, sizeof(what), "%s %s", is_route ? "HTTPRoute" : "Service", target->id);
    apply_policy(model, policy, backend_fields, PC_MODEL_BACKEND_COUNT, LEVEL_GATEWAY | LEVEL_ROUTE,
                 slots, what);
}

static void
resolve_policies(struct pc_model *model)
{
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_CLIENT_POLICY]; i++) {
        const struct pc_model_resource *policy = model->res[PC_RESOURCE_CLIENT_POLICY][i];
        const struct pc_resource_client_policy *spec = policy->doc->spec;
        const struct pc_resource_target_ref *ts = spec != NULL ? spec->target_refs.items : NULL;
        unsigned levels = 0;

        for (size_t t = 0; spec != NULL && t < spec->target_refs.n; t++) {
            if (ts[t].kind.s != NULL && ts[t].name.s != NULL) {
                resolve_client_target(model, policy, &ts[t], &levels);
            }
        }
        if (spec != NULL && levels != (LEVEL_GATEWAY | LEVEL_ROUTE)) {
            check_levels(model, policy, client_fields, PC_MODEL_CLIENT_COUNT, levels);
        }
    }
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_BACKEND_POLICY]; i++) {
        const struct pc_model_resource *policy = model->res[PC_RESOURCE_BACKEND_POLICY][i];
        const struct pc_resource_backend_policy *spec = policy->doc->spec;
        const struct pc_resource_target_ref *ts = spec != NULL ? spec->target_refs.items : NULL;

        for (size_t t = 0; spec != NULL && t < spec->target_refs.n; t++) {
            if (ts[t].kind.s != NULL && ts[t].name.s != NULL) {
                resolve_backend_target(model, policy, &ts[t]);
            }
        }
    }
}

/* ---- targets of policies that apply whole ---- */

bool
pc_model_resolve_target(struct pc_model *model, const struct pc_model_resource *policy,
                        const struct pc_resource_target_ref *t, struct pc_model_target *out)
{
    bool is_gateway = strcmp(t->kind.s, "Gateway") == 0;
    enum pc_resource_kind kind = is_gateway ? PC_RESOURCE_GATEWAY : PC_RESOURCE_HTTPROUTE;
    struct pc_model_resource *target = pc_model_find(model, kind, policy->ns, t->name.s);
    char hint[320];

    memset(out, 0, sizeof(*out));
    if (t->group.s != NULL && strcmp(t->group.s, PC_RESOURCE_GATEWAY_GROUP) != 0) {
        report(model, t->group.node, "leave group out",
               "group of a %s target must be \"" PC_RESOURCE_GATEWAY_GROUP "\"", t->kind.s);
        return false;
    }
    if (target == NULL) {
        report(model, t->name.node,
               pc_model_suggest(model, kind, policy->ns, t->name.s, hint, sizeof(hint),
                                "policies target resources in their own namespace"),
               "%s %s/%s not found", t->kind.s, policy->ns, t->name.s);
        return false;
    }
    out->res = target;
    if (!is_gateway) {
        if (t->section_name.node != NULL) {
            report(model, t->section_name.node,
                   "remove it; a route policy applies to the whole route",
                   "sectionName is only supported for Gateway targets");
            return false;
        }
        out->route = target->state;
        snprintf(out->what, sizeof(out->what), "HTTPRoute %s", target->id);
        return out->route != NULL;
    }
    out->gateway = target->state;
    if (out->gateway == NULL) {
        return false;
    }
    if (t->section_name.s != NULL) {
        out->listener = pc_model_find_listener(out->gateway, t->section_name.s);
        if (out->listener == NULL) {
            pc_model_list_listeners(out->gateway, hint, sizeof(hint));
            report(model, t->section_name.node, hint, "Gateway %s has no listener \"%s\"",
                   target->id, t->section_name.s);
            return false;
        }
    }
    snprintf(out->what, sizeof(out->what), "Gateway %s%s%.64s%s", target->id,
             out->listener != NULL ? " listener \"" : "",
             out->listener != NULL ? t->section_name.s : "", out->listener != NULL ? "\"" : "");
    return true;
}

void
pc_model_check_target_list(struct pc_model *model, const struct pc_schema_list *targets)
{
    const struct pc_resource_target_ref *ts = targets->items;

    for (size_t i = 0; i < targets->n; i++) {
        for (size_t j = 0; j < i; j++) {
            bool same_section =
                ts[i].section_name.s == NULL
                    ? ts[j].section_name.s == NULL
                    : ts[j].section_name.s != NULL
                          && strcmp(ts[i].section_name.s, ts[j].section_name.s) == 0;

            if (ts[i].kind.s != NULL && ts[j].kind.s != NULL && ts[i].name.s != NULL
                && ts[j].name.s != NULL && strcmp(ts[i].kind.s, ts[j].kind.s) == 0
                && strcmp(ts[i].name.s, ts[j].name.s) == 0 && same_section) {
                report(model, ts[i].node, "list each target once", "%s %s is targeted twice",
                       ts[i].kind.s, ts[i].name.s);
                break;
            }
        }
    }
}

/* ---- effective values ---- */

static int64_t
pick(const struct pc_model_slot *section, const struct pc_model_slot *gateway, size_t f,
     int64_t dflt)
{
    if (section[f].owner != NULL) {
        return section[f].v;
    }
    return gateway[f].owner != NULL ? gateway[f].v : dflt;
}

static void
settle_listener(struct pc_model_listener *l, const struct pc_model_gateway *gw)
{
    const struct pc_model_slot *s = l->client_policy;
    const struct pc_model_slot *g = gw->client_policy;

    l->limits.max_request_line_bytes = (uint32_t)pick(s, g, PC_MODEL_CLIENT_MAX_REQUEST_LINE,
                                                      PC_CONFIG_DEFAULT_MAX_REQUEST_LINE_BYTES);
    l->limits.max_header_bytes =
        (uint32_t)pick(s, g, PC_MODEL_CLIENT_MAX_HEADER_BYTES, PC_CONFIG_DEFAULT_MAX_HEADER_BYTES);
    l->limits.max_header_count =
        (uint32_t)pick(s, g, PC_MODEL_CLIENT_MAX_HEADER_COUNT, PC_CONFIG_DEFAULT_MAX_HEADER_COUNT);
    l->limits.max_body_bytes =
        (uint64_t)pick(s, g, PC_MODEL_CLIENT_MAX_BODY, PC_CONFIG_DEFAULT_MAX_BODY_BYTES);
    l->timeouts.request_head_ms =
        (uint32_t)pick(s, g, PC_MODEL_CLIENT_REQUEST_HEAD, PC_CONFIG_DEFAULT_REQUEST_HEAD_MS);
    l->timeouts.body_progress_ms =
        (uint32_t)pick(s, g, PC_MODEL_CLIENT_BODY_PROGRESS, PC_CONFIG_DEFAULT_BODY_PROGRESS_MS);
    l->timeouts.idle_ms = (uint32_t)pick(s, g, PC_MODEL_CLIENT_IDLE, PC_CONFIG_DEFAULT_IDLE_MS);
    l->trust_request_id = pick(s, g, PC_MODEL_CLIENT_TRUST_REQUEST_ID, 0) != 0;
    l->keep_encoded_slashes = pick(s, g, PC_MODEL_CLIENT_ENCODED_SLASHES, 0) != 0;
    /* GEP-91: once frontendValidation names CAs, a valid client certificate is required. */
    l->client_mode = PC_CLIENT_CERT_NONE;
    if (l->has_frontend_validation) {
        l->client_mode =
            (enum pc_client_cert_mode)pick(s, g, PC_MODEL_CLIENT_CERT_MODE, PC_CLIENT_CERT_REQUIRE);
    }
    l->xfcc = (uint32_t)pick(s, g, PC_MODEL_CLIENT_XFCC, PC_MODEL_XFCC_DEFAULT);
}

static int64_t
get_listener_limit(const struct pc_model_listener *l, size_t f)
{
    switch (f) {
    case PC_MODEL_CLIENT_MAX_REQUEST_LINE:
        return l->limits.max_request_line_bytes;
    case PC_MODEL_CLIENT_MAX_HEADER_BYTES:
        return l->limits.max_header_bytes;
    case PC_MODEL_CLIENT_MAX_HEADER_COUNT:
        return l->limits.max_header_count;
    default:
        return (int64_t)l->limits.max_body_bytes;
    }
}

/* A route policy may only narrow the limits of every listener the route is served on. */
static void
check_route_limits(struct pc_model *model, const struct pc_model_route *route)
{
    for (size_t f = PC_MODEL_CLIENT_MAX_REQUEST_LINE; f <= PC_MODEL_CLIENT_MAX_BODY; f++) {
        const struct pc_model_slot *slot = &route->client_policy[f];

        for (size_t a = 0; slot->owner != NULL && a < route->n_attachments; a++) {
            const struct pc_model_listener *l = route->attachments[a].listener;
            int64_t cap = get_listener_limit(l, f);

            if (slot->v > cap) {
                report(
                    model, slot->node,
                    "a route policy can only lower a limit; raise the listener's with a ClientTrafficPolicy on its Gateway",
                    "%s %lld is above the %lld of Gateway %s listener \"%s\"",
                    client_fields[f].path, (long long)slot->v, (long long)cap, l->gateway->id,
                    l->src->name.s);
                break;
            }
        }
    }
}

static void
settle_listeners(struct pc_model *model)
{
    for (size_t g = 0; g < model->n_res[PC_RESOURCE_GATEWAY]; g++) {
        struct pc_model_gateway *gw = model->res[PC_RESOURCE_GATEWAY][g]->state;

        for (size_t i = 0; gw != NULL && i < gw->n_listeners; i++) {
            settle_listener(&gw->listeners[i], gw);
        }
    }
    for (size_t r = 0; r < model->n_res[PC_RESOURCE_HTTPROUTE]; r++) {
        const struct pc_model_route *route = model->res[PC_RESOURCE_HTTPROUTE][r]->state;

        if (route != NULL) {
            check_route_limits(model, route);
        }
    }
}

static const struct pc_model_slot *
find_service_response(const struct pc_model *model, const struct pc_model_resource *route_res,
                      const struct pc_resource_backend_ref *b)
{
    const struct pc_model_resource *se;
    const struct pc_model_service *svc;

    if (b->name.s == NULL) {
        return NULL;
    }
    se = pc_model_find(model, PC_RESOURCE_SERVICE_ENDPOINTS,
                       pick_namespace(&b->namespace_, route_res), b->name.s);
    svc = se != NULL ? se->state : NULL;
    return svc != NULL && svc->backend_policy[PC_MODEL_BACKEND_RESPONSE].owner != NULL
               ? &svc->backend_policy[PC_MODEL_BACKEND_RESPONSE]
               : NULL;
}

/* A rule without its own backendRequest timeout takes the one its backends' policies agree on. */
static void
check_rule_responses(struct pc_model *model, const struct pc_model_resource *res)
{
    const struct pc_resource_httproute *route = res->doc->spec;
    const struct pc_model_route *state = res->state;
    const struct pc_resource_rule *rules = route->rules.items;

    if (state->backend_policy[PC_MODEL_BACKEND_RESPONSE].owner != NULL) {
        return;
    }
    for (size_t r = 0; r < route->rules.n; r++) {
        const struct pc_resource_backend_ref *bs = rules[r].backend_refs.items;
        const struct pc_model_slot *first = NULL;

        if (rules[r].timeouts != NULL && rules[r].timeouts->backend_request.node != NULL) {
            continue;
        }
        for (size_t i = 0; i < rules[r].backend_refs.n; i++) {
            const struct pc_model_slot *s = find_service_response(model, res, &bs[i]);

            if (i == 0) {
                first = s;
            } else if ((s == NULL) != (first == NULL) || (s != NULL && s->v != first->v)) {
                report(
                    model, rules[r].backend_refs.node,
                    "set timeouts.backendRequest on the rule, or give its Services one response timeout",
                    "the backends of this rule get different response timeouts from their BackendTrafficPolicies");
                break;
            }
        }
    }
}

static bool
do_addresses_overlap(const char *a, const char *b)
{
    return strcmp(a, b) == 0 || strcmp(a, "0.0.0.0") == 0 || strcmp(b, "0.0.0.0") == 0
           || strcmp(a, "::") == 0 || strcmp(b, "::") == 0;
}

/* The admin listener must not take an address and port a Gateway listener binds. */
static void
check_admin_port(struct pc_model *model)
{
    const struct pc_model_resource *pc =
        model->n_res[PC_RESOURCE_PROXY_CONFIG] > 0 ? model->res[PC_RESOURCE_PROXY_CONFIG][0] : NULL;
    const struct pc_resource_proxy_config *spec = pc != NULL ? pc->doc->spec : NULL;
    const struct pc_resource_admin *admin = spec != NULL ? spec->admin : NULL;
    int64_t port =
        admin != NULL && admin->port.node != NULL ? admin->port.v : PC_CONFIG_DEFAULT_ADMIN_PORT;
    const char *addr = admin != NULL && admin->address.s != NULL ? admin->address.s : "127.0.0.1";

    if (admin != NULL && admin->enabled.node != NULL && admin->enabled.v == 0) {
        return;
    }
    for (size_t g = 0; g < model->n_res[PC_RESOURCE_GATEWAY]; g++) {
        const struct pc_model_resource *res = model->res[PC_RESOURCE_GATEWAY][g];
        const struct pc_model_gateway *gw = res->state;
        const struct pc_resource_gateway *spec_gw = res->doc->spec;
        const struct pc_resource_address *as = spec_gw != NULL ? spec_gw->addresses.items : NULL;
        bool overlaps = spec_gw != NULL && spec_gw->addresses.n == 0;

        for (size_t a = 0; spec_gw != NULL && a < spec_gw->addresses.n; a++) {
            overlaps =
                overlaps || (as[a].value.s != NULL && do_addresses_overlap(as[a].value.s, addr));
        }
        for (size_t i = 0; overlaps && gw != NULL && i < gw->n_listeners; i++) {
            const struct pc_model_listener *l = &gw->listeners[i];

            if (l->is_usable && l->src->port.v == port) {
                report(model, l->src->port.node,
                       "move the listener, or the admin port with a ProxyConfig (spec.admin.port)",
                       "port %lld is also the admin listener's port", (long long)port);
            }
        }
    }
}

int
pc_model_resolve(struct pc_model *model)
{
    if (model->skip_references) {
        return 0;
    }
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_HTTPROUTE]; i++) {
        struct pc_model_resource *res = model->res[PC_RESOURCE_HTTPROUTE][i];

        if (res->state != NULL && resolve_route(model, res) != 0) {
            return PC_ENOMEM;
        }
    }
    resolve_policies(model);
    if (pc_model_resolve_tls(model) != 0 || pc_model_resolve_authn(model) != 0
        || pc_model_resolve_authz(model) != 0) {
        return PC_ENOMEM;
    }
    settle_listeners(model);
    pc_model_check_client_modes(model);
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_HTTPROUTE]; i++) {
        const struct pc_model_resource *res = model->res[PC_RESOURCE_HTTPROUTE][i];

        if (res->state != NULL) {
            check_rule_responses(model, res);
        }
    }
    check_admin_port(model);
    return 0;
}
