/*
 * TLS in the validated model: HTTPS listeners with their certificates and the client
 * certificates they ask for, the ClientTrafficPolicy fields about them, BackendTLSPolicies
 * attached to ServiceEndpoints ports, the Gateway's own certificate towards upstreams, and their
 * compiled forms in the snapshot. What the references name (Secrets, TrustBundles...) is
 * material.c's.
 *
 * Runs on the control thread, inside a load: pc_model_check_tls after the Gateways were
 * checked, pc_model_resolve_tls once policies are attached, pc_model_check_client_modes once
 * listener values are settled, the compile functions while the snapshot is built.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/model.h"
#include "core/arena.h"
#include "core/err.h"

static const char certificate_hint[] =
    "name a Secret of type kubernetes.io/tls, a CertificateFiles or a WorkloadIdentity in tls.certificateRefs";

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

/* ---- checks of single resources ---- */

static bool
is_same_ref(const struct pc_resource_object_ref *a, const struct pc_resource_object_ref *b)
{
    const char *ns_a = a->namespace_.s != NULL ? a->namespace_.s : "";
    const char *ns_b = b->namespace_.s != NULL ? b->namespace_.s : "";

    return is_equal(a->group.s, b->group.s) && is_equal(a->kind.s, b->kind.s)
           && strcmp(ns_a, ns_b) == 0 && is_equal(a->name.s, b->name.s);
}

static void
check_duplicate_refs(struct pc_model *model, const struct pc_schema_list *refs)
{
    const struct pc_resource_object_ref *rs = refs->items;

    for (size_t i = 0; i < refs->n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (is_same_ref(&rs[i], &rs[j])) {
                report(model, rs[i].node, "list each once", "%s \"%s\" is listed twice",
                       rs[i].kind.s, rs[i].name.s);
                break;
            }
        }
    }
}

static void
check_listener_tls(struct pc_model *model, struct pc_model_listener *l)
{
    const struct pc_resource_listener *src = l->src;
    const struct pc_resource_listener_tls *tls = src->tls;

    l->is_https = src->protocol.s != NULL && strcasecmp(src->protocol.s, "HTTPS") == 0;
    if (!l->is_https) {
        if (tls != NULL && src->protocol.s != NULL) {
            report(model, tls->node, "use protocol HTTPS to terminate TLS, or remove tls",
                   "tls must not be set for protocol %s", src->protocol.s);
        }
        return;
    }
    if (tls == NULL) {
        pc_yaml_error(model->diag, src->node, ".tls", certificate_hint,
                      "protocol HTTPS needs tls with certificateRefs");
        return;
    }
    if (is_equal(tls->mode.s, "Passthrough")) {
        report(model, tls->mode.node,
               "portcullis terminates TLS itself: use mode Terminate (the default)",
               "mode Passthrough is not supported");
        return;
    }
    if (tls->certificate_refs.n == 0 && tls->certificate_refs.node != NULL) {
        report(model, tls->certificate_refs.node, certificate_hint,
               "an HTTPS listener needs at least one certificate");
    } else if (tls->certificate_refs.n == 0) {
        pc_yaml_error(model->diag, tls->node, ".certificateRefs", certificate_hint,
                      "an HTTPS listener needs at least one certificate");
    }
    check_duplicate_refs(model, &tls->certificate_refs);
    l->has_frontend_validation = tls->frontend_validation != NULL;
    if (tls->frontend_validation != NULL) {
        check_duplicate_refs(model, &tls->frontend_validation->ca_certificate_refs);
    }
}

static void
check_forward_client_cert(struct pc_model *model, const struct pc_resource_forward_client_cert *x)
{
    const struct pc_schema_string *details = x->details.items;

    if (is_equal(x->mode.s, "Sanitize") && x->details.node != NULL) {
        report(model, x->details.node, "remove details, or use mode SanitizeSet",
               "details only apply with mode SanitizeSet");
    }
    for (size_t i = 0; i < x->details.n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (is_equal(details[i].s, details[j].s)) {
                report(model, details[i].node, "list each detail once", "detail %s is listed twice",
                       details[i].s);
                break;
            }
        }
    }
}

/* The CEL rules of SubjectAltName: each type has its own field, and only that one. */
static void
check_subject_alt_names(struct pc_model *model, const struct pc_schema_list *sans)
{
    const struct pc_resource_subject_alt_name *ss = sans->items;

    for (size_t i = 0; i < sans->n; i++) {
        const struct pc_resource_subject_alt_name *s = &ss[i];
        bool is_uri = is_equal(s->type.s, "URI");
        const struct pc_schema_string *want = is_uri ? &s->uri : &s->hostname;
        const struct pc_schema_string *other = is_uri ? &s->hostname : &s->uri;

        if (s->type.s == NULL) {
            continue;
        }
        if (want->node == NULL) {
            pc_yaml_error(model->diag, s->node, is_uri ? ".uri" : ".hostname", NULL,
                          "%s is required when type is %s", is_uri ? "uri" : "hostname", s->type.s);
        }
        if (other->node != NULL) {
            report(model, other->node, "remove it, or change the type",
                   "must not be set when type is %s", s->type.s);
        }
    }
}

static void
check_validation(struct pc_model *model, const struct pc_resource_tls_validation *v)
{
    bool has_refs = v->ca_certificate_refs.n > 0;
    bool has_system = v->well_known_ca_certificates.s != NULL;

    if (has_refs && has_system) {
        report(model, v->well_known_ca_certificates.node,
               "use caCertificateRefs or wellKnownCACertificates, not both",
               "wellKnownCACertificates must not be set together with caCertificateRefs");
    } else if (!has_refs && !has_system && v->well_known_ca_certificates.node == NULL) {
        pc_yaml_error(
            model->diag, v->node, ".caCertificateRefs",
            "name a ConfigMap or TrustBundle in caCertificateRefs, or set wellKnownCACertificates: System",
            "validation needs caCertificateRefs or wellKnownCACertificates");
    }
    check_duplicate_refs(model, &v->ca_certificate_refs);
    check_subject_alt_names(model, &v->subject_alt_names);
}

/* Gateway API: targets are distinct, and a Service named twice has a sectionName each time. */
static void
check_policy_targets(struct pc_model *model, const struct pc_schema_list *targets)
{
    const struct pc_resource_target_ref *ts = targets->items;

    for (size_t i = 0; i < targets->n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (!is_equal(ts[i].name.s, ts[j].name.s)) {
                continue;
            }
            if (ts[i].section_name.s == NULL || ts[j].section_name.s == NULL) {
                report(model, ts[i].node, "name one port of the Service in each",
                       "Service %s is targeted twice, so each target needs a sectionName",
                       ts[i].name.s);
                break;
            }
            if (is_equal(ts[i].section_name.s, ts[j].section_name.s)) {
                report(model, ts[i].node, "list each target once",
                       "port \"%s\" of Service %s is targeted twice", ts[i].section_name.s,
                       ts[i].name.s);
                break;
            }
        }
    }
}

int
pc_model_check_tls(struct pc_model *model)
{
    for (size_t g = 0; g < model->n_res[PC_RESOURCE_GATEWAY]; g++) {
        struct pc_model_gateway *gw = model->res[PC_RESOURCE_GATEWAY][g]->state;

        for (size_t i = 0; gw != NULL && i < gw->n_listeners; i++) {
            check_listener_tls(model, &gw->listeners[i]);
        }
    }
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_CLIENT_POLICY]; i++) {
        const struct pc_resource_client_policy *spec =
            model->res[PC_RESOURCE_CLIENT_POLICY][i]->doc->spec;

        if (spec != NULL && spec->forward_client_cert != NULL) {
            check_forward_client_cert(model, spec->forward_client_cert);
        }
    }
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_BACKEND_TLS_POLICY]; i++) {
        const struct pc_resource_backend_tls_policy *spec =
            model->res[PC_RESOURCE_BACKEND_TLS_POLICY][i]->doc->spec;

        if (spec != NULL) {
            check_policy_targets(model, &spec->target_refs);
        }
        if (spec != NULL && spec->validation != NULL) {
            check_validation(model, spec->validation);
        }
    }
    return 0;
}

/* ---- references ---- */

/*
 * Resolves every reference of refs for use into *found, an arena array with one entry per
 * reference (NULL where it did not resolve). Returns 0 or PC_ENOMEM.
 */
static int
resolve_list(struct pc_model *model, const struct pc_model_resource *owner,
             const struct pc_schema_list *refs, enum pc_model_material_use use,
             const struct pc_model_resource ***found)
{
    const struct pc_resource_object_ref *rs = refs->items;

    *found = pc_arena_calloc(model->arena, refs->n + 1, sizeof(**found));
    if (*found == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < refs->n; i++) {
        (*found)[i] = pc_model_resolve_material(model, owner, &rs[i], use);
    }
    return 0;
}

/* Moves the resolved entries of found[0..n) to its front; returns how many there are. */
static size_t
compact(const struct pc_model_resource **found, size_t n)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        if (found[i] != NULL) {
            found[kept++] = found[i];
        }
    }
    return kept;
}

static const char *
get_trust_domain(const struct pc_model_resource *res)
{
    return ((const struct pc_model_material *)res->state)->bundle.trust_domain;
}

/*
 * One bundle per trust domain (federation lists one for each), and either SPIFFE bundles only
 * or plain CA bundles only: a client or backend is verified against the bundle of its SPIFFE
 * ID's trust domain, which a plain bundle does not have.
 */
static void
check_bundle_set(struct pc_model *model, const struct pc_schema_list *refs,
                 const struct pc_model_resource *const *found)
{
    const struct pc_resource_object_ref *rs = refs->items;
    size_t spiffe = 0;
    size_t plain = 0;

    for (size_t i = 0; i < refs->n; i++) {
        const char *td = found[i] != NULL ? get_trust_domain(found[i]) : NULL;

        if (found[i] == NULL) {
            continue;
        }
        td != NULL ? spiffe++ : plain++;
        for (size_t j = 0; td != NULL && j < i; j++) {
            if (found[j] != NULL && found[j] != found[i]
                && is_equal(get_trust_domain(found[j]), td)) {
                report(model, rs[i].node, "reference one bundle per trust domain",
                       "TrustBundle %s and TrustBundle %s are both for trust domain \"%s\"",
                       found[j]->id, found[i]->id, td);
                break;
            }
        }
    }
    if (spiffe > 0 && plain > 0) {
        report(model, refs->node,
               "give every TrustBundle of the list a trustDomain, or list plain CA bundles only",
               "the list mixes SPIFFE trust bundles (with a trustDomain) and plain CA bundles");
    }
}

static int
resolve_listener(struct pc_model *model, struct pc_model_listener *l)
{
    const struct pc_resource_listener_tls *tls = l->src->tls;
    const struct pc_resource_frontend_validation *fv = tls->frontend_validation;
    const struct pc_model_resource **found = NULL;

    if (resolve_list(model, l->gateway, &tls->certificate_refs, PC_MODEL_USE_CERTIFICATE, &found)
        != 0) {
        return PC_ENOMEM;
    }
    l->certificates = found;
    l->n_certificates = compact(found, tls->certificate_refs.n);
    if (fv == NULL) {
        return 0;
    }
    if (resolve_list(model, l->gateway, &fv->ca_certificate_refs, PC_MODEL_USE_BUNDLE, &found)
        != 0) {
        return PC_ENOMEM;
    }
    check_bundle_set(model, &fv->ca_certificate_refs, found);
    l->client_bundles = found;
    l->n_client_bundles = compact(found, fv->ca_certificate_refs.n);
    return 0;
}

static int
resolve_gateway(struct pc_model *model, const struct pc_model_resource *res)
{
    const struct pc_resource_gateway *spec = res->doc->spec;
    struct pc_model_gateway *gw = res->state;

    if (spec->backend_tls != NULL && spec->backend_tls->client_certificate_ref != NULL) {
        gw->client_certificate = pc_model_resolve_material(
            model, res, spec->backend_tls->client_certificate_ref, PC_MODEL_USE_CERTIFICATE);
    }
    for (size_t i = 0; i < gw->n_listeners; i++) {
        struct pc_model_listener *l = &gw->listeners[i];

        if (l->is_https && l->src->tls != NULL && !is_equal(l->src->tls->mode.s, "Passthrough")
            && resolve_listener(model, l) != 0) {
            return PC_ENOMEM;
        }
    }
    return 0;
}

/* ---- BackendTLSPolicy ---- */

/* A SPIFFE ID subject alternative name is verified against the bundle of its trust domain. */
static void
check_san_domains(struct pc_model *model, const struct pc_resource_tls_validation *v,
                  const struct pc_model_resource *const *bundles, size_t n_bundles)
{
    const struct pc_resource_subject_alt_name *ss = v->subject_alt_names.items;

    if (n_bundles == 0 || get_trust_domain(bundles[0]) == NULL) {
        return;
    }
    for (size_t i = 0; i < v->subject_alt_names.n; i++) {
        const char *uri = ss[i].uri.s;
        const char *end;
        bool found = false;

        if (uri == NULL || strncmp(uri, "spiffe://", 9) != 0 || !is_equal(ss[i].type.s, "URI")) {
            continue;
        }
        end = strchr(uri + 9, '/');
        end = end != NULL ? end : uri + strlen(uri);
        for (size_t b = 0; b < n_bundles && !found; b++) {
            const char *td = get_trust_domain(bundles[b]);

            found = td != NULL && strlen(td) == (size_t)(end - (uri + 9))
                    && memcmp(td, uri + 9, strlen(td)) == 0;
        }
        if (!found) {
            report(model, ss[i].uri.node,
                   "add the TrustBundle of that trust domain to caCertificateRefs",
                   "no referenced TrustBundle is for trust domain \"%.*s\"", (int)(end - (uri + 9)),
                   uri + 9);
        }
    }
}

static bool
has_port_name(const struct pc_model_resource *se, const char *name, char *names, size_t size)
{
    const struct pc_resource_service_endpoints *spec = se->doc->spec;
    const struct pc_resource_service_port *ps = spec->ports.items;
    size_t pos = 0;

    names[0] = '\0';
    for (size_t i = 0; i < spec->ports.n; i++) {
        if (is_equal(ps[i].name.s, name)) {
            return true;
        }
        if (ps[i].name.s != NULL && pos < size) {
            int n = snprintf(names + pos, size - pos, "%s%s", pos > 0 ? ", " : "", ps[i].name.s);

            pos += n > 0 ? (size_t)n : 0;
        }
    }
    return false;
}

static int
add_tls_target(struct pc_model *model, struct pc_model_service *svc,
               const struct pc_model_tls_target *target)
{
    if (svc->n_tls_targets == svc->cap_tls_targets) {
        size_t cap = svc->cap_tls_targets == 0 ? 2 : svc->cap_tls_targets * 2;
        struct pc_model_tls_target *v = pc_arena_alloc(model->arena, cap * sizeof(*v));

        if (v == NULL) {
            return PC_ENOMEM;
        }
        if (svc->n_tls_targets > 0) {
            memcpy(v, svc->tls_targets, svc->n_tls_targets * sizeof(*v));
        }
        svc->tls_targets = v;
        svc->cap_tls_targets = cap;
    }
    svc->tls_targets[svc->n_tls_targets++] = *target;
    return 0;
}

/*
 * Gateway API resolves two policies on one target by age; portcullis refuses the pair instead,
 * so which one protects a backend never depends on timestamps a file may not carry.
 */
static bool
check_target_conflict(struct pc_model *model, const struct pc_model_service *svc,
                      const struct pc_model_resource *se, const struct pc_model_tls_target *target)
{
    for (size_t i = 0; i < svc->n_tls_targets; i++) {
        const struct pc_model_tls_target *t = &svc->tls_targets[i];
        bool same_section =
            t->section == NULL ? target->section == NULL : is_equal(t->section, target->section);

        if (same_section && t->policy != target->policy) {
            report(model, target->node, "keep one BackendTLSPolicy per Service port",
                   "BackendTLSPolicy %s and BackendTLSPolicy %s both target Service %s%s%s%s",
                   t->policy->id, target->policy->id, se->id,
                   target->section != NULL ? " port \"" : "",
                   target->section != NULL ? target->section : "",
                   target->section != NULL ? "\"" : "");
            return false;
        }
    }
    return true;
}

static int
attach_target(struct pc_model *model, const struct pc_model_resource *policy,
              const struct pc_resource_target_ref *t)
{
    struct pc_model_resource *se =
        pc_model_find(model, PC_RESOURCE_SERVICE_ENDPOINTS, policy->ns, t->name.s);
    struct pc_model_tls_target target = { t->section_name.s, policy, t->node };
    char hint[320];

    if (t->group.s != NULL && t->group.len > 0) {
        report(model, t->group.node, NULL, "group of a Service target must be \"\"");
        return 0;
    }
    if (se == NULL) {
        report(model, t->name.node,
               pc_model_suggest(model, PC_RESOURCE_SERVICE_ENDPOINTS, policy->ns, t->name.s, hint,
                                sizeof(hint), "policies target resources in their own namespace"),
               "Service %s/%s has no ServiceEndpoints", policy->ns, t->name.s);
        return 0;
    }
    if (se->state == NULL || se->doc->spec == NULL) {
        return 0;
    }
    if (t->section_name.s != NULL && !has_port_name(se, t->section_name.s, hint, sizeof(hint))) {
        char names[400];

        snprintf(names, sizeof(names), "%s%s", hint[0] != '\0' ? "port names: " : "",
                 hint[0] != '\0' ? hint : "name the port in the ServiceEndpoints (ports[].name)");
        report(model, t->section_name.node, names, "ServiceEndpoints %s has no port named \"%s\"",
               se->id, t->section_name.s);
        return 0;
    }
    if (!check_target_conflict(model, se->state, se, &target)) {
        return 0;
    }
    return add_tls_target(model, se->state, &target);
}

static int
resolve_policy(struct pc_model *model, struct pc_model_resource *res)
{
    const struct pc_resource_backend_tls_policy *spec = res->doc->spec;
    const struct pc_resource_tls_validation *v = spec->validation;
    const struct pc_resource_target_ref *ts = spec->target_refs.items;
    struct pc_model_backend_tls *state = pc_arena_calloc(model->arena, 1, sizeof(*state));
    const struct pc_model_resource **found = NULL;

    if (state == NULL) {
        return PC_ENOMEM;
    }
    res->state = state;
    if (v != NULL) {
        if (resolve_list(model, res, &v->ca_certificate_refs, PC_MODEL_USE_BUNDLE, &found) != 0) {
            return PC_ENOMEM;
        }
        check_bundle_set(model, &v->ca_certificate_refs, found);
        state->bundles = found;
        state->n_bundles = compact(found, v->ca_certificate_refs.n);
        check_san_domains(model, v, state->bundles, state->n_bundles);
    }
    for (size_t i = 0; i < spec->target_refs.n; i++) {
        if (ts[i].name.s != NULL && ts[i].kind.s != NULL
            && attach_target(model, res, &ts[i]) != 0) {
            return PC_ENOMEM;
        }
    }
    return 0;
}

int
pc_model_resolve_tls(struct pc_model *model)
{
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_GATEWAY]; i++) {
        const struct pc_model_resource *res = model->res[PC_RESOURCE_GATEWAY][i];

        if (res->state != NULL && resolve_gateway(model, res) != 0) {
            return PC_ENOMEM;
        }
    }
    for (size_t i = 0; i < model->n_res[PC_RESOURCE_BACKEND_TLS_POLICY]; i++) {
        struct pc_model_resource *res = model->res[PC_RESOURCE_BACKEND_TLS_POLICY][i];

        if (res->doc->spec != NULL && resolve_policy(model, res) != 0) {
            return PC_ENOMEM;
        }
    }
    return 0;
}

void
pc_model_check_client_modes(struct pc_model *model)
{
    static const char hint[] =
        "add tls.frontendValidation.caCertificateRefs to the listener, naming the CAs client certificates must lead to";

    for (size_t g = 0; g < model->n_res[PC_RESOURCE_GATEWAY]; g++) {
        const struct pc_model_resource *res = model->res[PC_RESOURCE_GATEWAY][g];
        const struct pc_model_gateway *gw = res->state;
        const struct pc_model_slot *slot;
        bool any = false;

        for (size_t i = 0; gw != NULL && i < gw->n_listeners; i++) {
            const struct pc_model_listener *l = &gw->listeners[i];

            any = any || l->has_frontend_validation;
            slot = &l->client_policy[PC_MODEL_CLIENT_CERT_MODE];
            if (slot->owner != NULL && !l->has_frontend_validation) {
                report(
                    model, slot->node, hint,
                    "Gateway %s listener \"%s\" has no tls.frontendValidation, so it asks for no client certificate",
                    res->id, l->src->name.s);
            }
        }
        slot = gw != NULL ? &gw->client_policy[PC_MODEL_CLIENT_CERT_MODE] : NULL;
        if (slot != NULL && slot->owner != NULL && !any) {
            report(
                model, slot->node, hint,
                "no listener of Gateway %s has tls.frontendValidation, so none asks for a client certificate",
                res->id);
        }
    }
}

/* ---- compilation ---- */

static int
compile_bundles(struct pc_model_tls_compiler *tc, const struct pc_model_resource *const *res,
                size_t n, const struct pc_trust_bundle **out)
{
    struct pc_trust_bundle *bundles = pc_arena_calloc(tc->arena, n + 1, sizeof(*bundles));

    if (bundles == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct pc_trust_bundle *b;

        if (pc_model_compile_bundle(tc, res[i], &b) != 0) {
            return PC_ENOMEM;
        }
        bundles[i] = *b;
    }
    *out = bundles;
    return 0;
}

int
pc_model_compile_listener_tls(struct pc_model_tls_compiler *tc, const struct pc_model_listener *l,
                              const struct pc_listener_tls **out)
{
    struct pc_listener_tls *tls = pc_arena_calloc(tc->arena, 1, sizeof(*tls));
    struct pc_tls_certificate *certs =
        pc_arena_calloc(tc->arena, l->n_certificates + 1, sizeof(*certs));

    if (tls == NULL || certs == NULL
        || compile_bundles(tc, l->client_bundles, l->n_client_bundles, &tls->client_bundles) != 0) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < l->n_certificates; i++) {
        const struct pc_tls_certificate *c;

        if (pc_model_compile_certificate(tc, l->certificates[i], &c) != 0) {
            return PC_ENOMEM;
        }
        certs[i] = *c;
    }
    tls->certificates = certs;
    tls->n_certificates = l->n_certificates;
    tls->n_client_bundles = l->n_client_bundles;
    tls->client_mode = l->client_mode;
    *out = tls;
    return 0;
}

/* A policy naming the port wins over one naming the whole Service. */
static const struct pc_model_resource *
find_policy(const struct pc_model_service *svc, const char *port_name)
{
    const struct pc_model_resource *whole = NULL;

    for (size_t i = 0; i < svc->n_tls_targets; i++) {
        const struct pc_model_tls_target *t = &svc->tls_targets[i];

        if (t->section == NULL) {
            whole = t->policy;
        } else if (is_equal(t->section, port_name)) {
            return t->policy;
        }
    }
    return whole;
}

static int
compile_names(struct pc_model_tls_compiler *tc, const struct pc_resource_tls_validation *v,
              struct pc_backend_tls *out)
{
    const struct pc_resource_subject_alt_name *ss = v->subject_alt_names.items;
    struct pc_subject_alt_name *sans =
        pc_arena_calloc(tc->arena, v->subject_alt_names.n + 1, sizeof(*sans));

    out->hostname = pc_arena_strdup(tc->arena, v->hostname.s);
    if (sans == NULL || out->hostname == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < v->subject_alt_names.n; i++) {
        bool is_uri = is_equal(ss[i].type.s, "URI");

        sans[i].type = is_uri ? PC_SAN_URI : PC_SAN_DNS;
        sans[i].value = pc_arena_strdup(tc->arena, is_uri ? ss[i].uri.s : ss[i].hostname.s);
        if (sans[i].value == NULL) {
            return PC_ENOMEM;
        }
    }
    out->subject_alt_names = sans;
    out->n_subject_alt_names = v->subject_alt_names.n;
    return 0;
}

static int
compile_policy(struct pc_model_tls_compiler *tc, const struct pc_model_resource *policy,
               const struct pc_model_resource *gw, const struct pc_backend_tls **out)
{
    const struct pc_resource_backend_tls_policy *spec = policy->doc->spec;
    const struct pc_model_backend_tls *state = policy->state;
    const struct pc_model_gateway *gw_state = gw->state;
    struct pc_backend_tls *tls = pc_arena_calloc(tc->arena, 1, sizeof(*tls));

    if (tls == NULL || compile_names(tc, spec->validation, tls) != 0
        || compile_bundles(tc, state->bundles, state->n_bundles, &tls->bundles) != 0) {
        return PC_ENOMEM;
    }
    tls->policy = pc_arena_strdup(tc->arena, policy->id);
    tls->n_bundles = state->n_bundles;
    tls->use_system_roots = spec->validation->well_known_ca_certificates.s != NULL;
    if (tls->policy == NULL
        || (gw_state->client_certificate != NULL
            && pc_model_compile_certificate(tc, gw_state->client_certificate,
                                            &tls->client_certificate)
                   != 0)) {
        return PC_ENOMEM;
    }
    *out = tls;
    return 0;
}

int
pc_model_compile_backend_tls(struct pc_model_tls_compiler *tc, const struct pc_model_resource *se,
                             const struct pc_resource_service_port *port,
                             const struct pc_model_resource *gw, const struct pc_backend_tls **out)
{
    const struct pc_model_resource *policy = find_policy(se->state, port->name.s);
    struct pc_model_backend_tls *state;
    struct pc_model_backend_tls_copy *copies;

    *out = NULL;
    if (policy == NULL) {
        return 0;
    }
    /* One copy per policy and Gateway, however many backends share them. */
    state = policy->state;
    for (size_t i = 0; i < state->n_compiled; i++) {
        if (state->compiled[i].gateway == gw) {
            *out = state->compiled[i].tls;
            return 0;
        }
    }
    if (state->n_compiled == state->cap_compiled) {
        size_t cap = state->cap_compiled == 0 ? 2 : state->cap_compiled * 2;

        copies = pc_arena_alloc(tc->model->arena, cap * sizeof(*copies));
        if (copies == NULL) {
            return PC_ENOMEM;
        }
        if (state->n_compiled > 0) {
            memcpy(copies, state->compiled, state->n_compiled * sizeof(*copies));
        }
        state->compiled = copies;
        state->cap_compiled = cap;
    }
    if (compile_policy(tc, policy, gw, out) != 0) {
        return PC_ENOMEM;
    }
    state->compiled[state->n_compiled++] = (struct pc_model_backend_tls_copy){ gw, *out };
    return 0;
}
