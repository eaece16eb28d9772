/*
 * The validated model: every decoded resource of one load, indexed by kind, namespace and name,
 * plus what validation worked out about them (which listeners each route attaches to with which
 * hostnames, which policy values apply where, which certificates and trust bundles each listener
 * and backend uses, which AuthenticationPolicy and AuthorizationPolicy protect each target). It is
 * the hand-off between the loader, the checks (check.c, attach.c, material.c, tls.c, authn.c,
 * authz.c) and the compiler (compile.c, with material.c and tls.c for TLS, authn.c for
 * authentication and authz.c for authorization and the decision log).
 *
 * Everything lives in the load arena and dies with it; the compiled snapshot copies what it
 * keeps. Control thread only.
 */
#ifndef PC_CONFIG_MODEL_H
#define PC_CONFIG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "config/resource.h"

struct pc_arena;

/* ClientTrafficPolicy fields, each one settable by one policy per target. */
enum pc_model_client_field {
    PC_MODEL_CLIENT_MAX_REQUEST_LINE = 0,
    PC_MODEL_CLIENT_MAX_HEADER_BYTES,
    PC_MODEL_CLIENT_MAX_HEADER_COUNT,
    PC_MODEL_CLIENT_MAX_BODY,
    PC_MODEL_CLIENT_REQUEST_HEAD,
    PC_MODEL_CLIENT_BODY_PROGRESS,
    PC_MODEL_CLIENT_IDLE,
    PC_MODEL_CLIENT_TRUST_REQUEST_ID,
    PC_MODEL_CLIENT_ENCODED_SLASHES, /* 1: Keep */
    PC_MODEL_CLIENT_WEBSOCKET,
    PC_MODEL_CLIENT_CERT_MODE, /* enum pc_client_cert_mode */
    PC_MODEL_CLIENT_XFCC,      /* PC_MODEL_XFCC_* bits */
    PC_MODEL_CLIENT_COUNT,
};

/* spec.forwardClientCert as one policy value: the details to send, or mode Sanitize. */
#define PC_MODEL_XFCC_SUBJECT  0x01
#define PC_MODEL_XFCC_URI      0x02
#define PC_MODEL_XFCC_DNS      0x04
#define PC_MODEL_XFCC_CERT     0x08
#define PC_MODEL_XFCC_CHAIN    0x10
#define PC_MODEL_XFCC_SANITIZE 0x20 /* remove the header and set none */
#define PC_MODEL_XFCC_DEFAULT  (PC_MODEL_XFCC_SUBJECT | PC_MODEL_XFCC_URI | PC_MODEL_XFCC_DNS)

/* BackendTrafficPolicy fields. */
enum pc_model_backend_field {
    PC_MODEL_BACKEND_CONNECT = 0,
    PC_MODEL_BACKEND_RESPONSE,
    PC_MODEL_BACKEND_POOL_MAX_IDLE,
    PC_MODEL_BACKEND_POOL_IDLE_TIMEOUT,
    PC_MODEL_BACKEND_COUNT,
};

/* A policy value applied to one target; owner NULL: not set. */
struct pc_model_slot {
    int64_t v;
    const struct pc_model_resource *owner;
    const struct pc_yaml_node *node;
};

struct pc_model_resource {
    enum pc_resource_kind kind;
    const struct pc_resource_type *type;
    const struct pc_resource_doc *doc;
    const char *ns; /* "" for cluster-scoped kinds */
    const char *name;
    const char *id;     /* "namespace/name", or the name for cluster-scoped kinds */
    int64_t created_ms; /* INT64_MAX when absent */
    bool is_valid;      /* decoded without a schema error */
    void *state;        /* per kind: struct pc_model_gateway, _route or _service; or NULL */
};

struct pc_model_listener {
    const struct pc_model_resource *gateway;
    const struct pc_resource_listener *src;
    size_t index;
    bool is_usable; /* decoded without error; routes may attach */
    /* Policies naming this listener as their sectionName. */
    struct pc_model_slot client_policy[PC_MODEL_CLIENT_COUNT];
    struct pc_model_slot authn; /* owner: the AuthenticationPolicy; node: its targetRef */
    struct pc_model_slot authz; /* owner: the AuthorizationPolicy; node: its targetRef */
    /* HTTPRoutes attached, in load order. */
    struct pc_model_resource **routes;
    size_t n_routes;
    size_t cap_routes;
    /* Effective values, filled by pc_model_resolve. */
    struct pc_client_limits limits;
    struct pc_client_timeouts timeouts;
    bool trust_request_id;
    bool keep_encoded_slashes;
    enum pc_client_cert_mode client_mode; /* NONE without tls.frontendValidation */
    uint32_t xfcc;                        /* PC_MODEL_XFCC_* for routes that set none */
    /* TLS, filled by pc_model_check_tls and pc_model_resolve_tls. */
    bool is_https;
    bool has_frontend_validation;
    const struct pc_model_resource **certificates; /* resolved certificateRefs, in order */
    size_t n_certificates;
    const struct pc_model_resource **client_bundles; /* resolved caCertificateRefs */
    size_t n_client_bundles;
};

struct pc_model_gateway {
    struct pc_model_listener *listeners;
    size_t n_listeners;
    struct pc_model_slot
        client_policy[PC_MODEL_CLIENT_COUNT]; /* policies naming the whole Gateway */
    struct pc_model_slot authn; /* the AuthenticationPolicy naming the whole Gateway */
    struct pc_model_slot authz; /* the AuthorizationPolicy naming the whole Gateway */
    /* spec.backendTLS.clientCertificateRef, resolved; NULL: none. */
    const struct pc_model_resource *client_certificate;
};

/* A route attached to one listener, with the route hostnames that intersect the listener's. */
struct pc_model_attachment {
    struct pc_model_listener *listener;
    const char **hostnames;
    size_t n_hostnames;
};

struct pc_model_route {
    struct pc_model_attachment *attachments;
    size_t n_attachments;
    size_t cap_attachments;
    struct pc_model_slot client_policy[PC_MODEL_CLIENT_COUNT];
    struct pc_model_slot backend_policy[PC_MODEL_BACKEND_COUNT];
    struct pc_model_slot authn; /* the AuthenticationPolicy naming the route */
    struct pc_model_slot authz; /* the AuthorizationPolicy naming the route */
};

/* A BackendTLSPolicy targeting a ServiceEndpoints, or one of its ports by name. */
struct pc_model_tls_target {
    const char *section; /* the port's name; NULL: every port */
    const struct pc_model_resource *policy;
    const struct pc_yaml_node *node; /* the targetRef, for conflict messages */
};

struct pc_model_service {
    struct pc_model_slot backend_policy[PC_MODEL_BACKEND_COUNT];
    struct pc_model_tls_target *tls_targets;
    size_t n_tls_targets;
    size_t cap_tls_targets;
};

/*
 * What a Secret, ConfigMap, CertificateFiles, WorkloadIdentity or TrustBundle provides, worked
 * out by pc_model_check_material. Sources point into the load arena (decoded Secret bytes,
 * absolute paths).
 */
struct pc_model_material {
    bool is_usable;       /* checked without error, so references to it may resolve */
    bool has_certificate; /* chain and key are set */
    bool has_bundle;      /* bundle is set */
    struct pc_pem_source chain;
    struct pc_pem_source key;
    const char *spiffe_id; /* WorkloadIdentity: the SVID to pick; NULL: the agent's first */
    struct pc_trust_bundle bundle;
    /* Snapshot copies, made on first use by the compiler and shared by every user. */
    const struct pc_tls_certificate *compiled_certificate;
    const struct pc_trust_bundle *compiled_bundle;
};

/* A BackendTLSPolicy's resolved trust bundles, and its compilations per Gateway. */
struct pc_model_backend_tls {
    const struct pc_model_resource **bundles;
    size_t n_bundles;

    struct pc_model_backend_tls_copy {
        const struct pc_model_resource *gateway; /* whose client certificate it presents */
        const struct pc_backend_tls *tls;        /* snapshot arena */
    } * compiled;

    size_t n_compiled;
    size_t cap_compiled;
};

/* How a material reference is used, which decides the kinds it may name. */
enum pc_model_material_use {
    PC_MODEL_USE_CERTIFICATE = 0, /* Secret, CertificateFiles, WorkloadIdentity */
    PC_MODEL_USE_BUNDLE,          /* ConfigMap, TrustBundle */
};

/*
 * The compiler's state for shared material (TLS and authentication): the snapshot arena and
 * what the snapshot must list.
 */
struct pc_model_tls_compiler {
    struct pc_model *model;
    struct pc_arena *arena; /* the snapshot's */
    const char **files;     /* heap vector of snapshot strings: material files, deduplicated */
    size_t n_files;
    size_t cap_files;
    bool uses_workload_api;         /* a compiled source comes from the Workload API */
    const struct pc_authn **authns; /* heap vector of every compiled pc_authn, once each */
    size_t n_authns;
    size_t cap_authns;
    const struct pc_authz **authzs; /* heap vector of every compiled pc_authz, by id */
    size_t n_authzs;
    size_t cap_authzs;
};

struct pc_model {
    struct pc_arena *arena;
    struct pc_diag *diag;
    struct pc_model_resource **res[PC_RESOURCE_COUNT];
    size_t n_res[PC_RESOURCE_COUNT];
    size_t cap_res[PC_RESOURCE_COUNT];
    struct pc_model_resource **index; /* open addressing on (kind, ns, name) */
    size_t index_mask;
    size_t n_indexed;
    bool skip_references; /* a file failed to parse: reference errors would mislead */
    /* The SPIFFE Workload API address: ProxyConfig's, else SPIFFE_ENDPOINT_SOCKET; or NULL. */
    const char *workload_api_socket;
    bool is_socket_from_env;
    bool is_socket_refused; /* the ProxyConfig's address was reported bad: say nothing more */
    /* Files read besides the configuration (Rego modules), absolute, for the file watcher;
     * an arena vector. */
    const char **read_files;
    size_t n_read_files;
    size_t cap_read_files;
    /* The decision log's signing key, absolute, once checked; NULL otherwise. */
    const char *decision_key_file;
};

/* What a policy's targetRef resolved to: a whole Gateway, one of its listeners, or a route. */
struct pc_model_target {
    const struct pc_model_resource *res; /* the Gateway or HTTPRoute */
    struct pc_model_gateway *gateway;    /* Gateway targets */
    struct pc_model_listener *listener;  /* Gateway targets with a sectionName */
    struct pc_model_route *route;        /* HTTPRoute targets */
    char what[300]; /* "Gateway default/gw listener \"https\"", "HTTPRoute default/r" */
};

/* Prepares an empty model over arena (borrowed) reporting to diag (borrowed). */
void pc_model_init(struct pc_model *model, struct pc_arena *arena, struct pc_diag *diag);

/* Releases the model's heap vectors; the arena keeps the rest. Accepts NULL. */
void pc_model_free(struct pc_model *model);

/*
 * Adds a decoded resource (arena memory) to the model. Returns 0; PC_EEXIST when one of the same
 * kind, namespace and name exists (the caller reports it; *first receives the earlier one);
 * PC_ENOMEM.
 */
int pc_model_add(struct pc_model *model, struct pc_model_resource *res,
                 const struct pc_model_resource **first);

/* Finds a resource by kind, namespace ("" for cluster-scoped) and name; NULL when absent. */
struct pc_model_resource *pc_model_find(const struct pc_model *model, enum pc_resource_kind kind,
                                        const char *ns, const char *name);

/* Runs the checks of each resource on its own (check.c). Returns 0 or PC_ENOMEM. */
int pc_model_check_resources(struct pc_model *model);

/*
 * Resolves references (check.c / attach.c): route attachment, backendRefs, policy targets and
 * their merged values. Skipped, except for purely local checks, when model->skip_references.
 * Returns 0 or PC_ENOMEM.
 */
int pc_model_resolve(struct pc_model *model);

/*
 * Compiles a model that validated without errors into a snapshot (compile.c). files lists what
 * was read (borrowed, copied). Returns the snapshot with one reference, or NULL with an error
 * in model->diag.
 */
struct pc_config *pc_model_compile(struct pc_model *model, const char *const *files,
                                   size_t n_files);

/* The hostname rules shared by the checks and the compiler. */
bool pc_model_hostname_intersects(const char *a, const char *b);

/*
 * Writes into hint (size bytes) "did you mean ...?" naming the resource of kind in ns whose name
 * is closest to name, or otherwise when none is close (attach.c). Returns hint.
 */
const char *pc_model_suggest(const struct pc_model *model, enum pc_resource_kind kind,
                             const char *ns, const char *name, char *hint, size_t size,
                             const char *otherwise);

/* The listener of gw named name, or NULL (attach.c). */
struct pc_model_listener *pc_model_find_listener(const struct pc_model_gateway *gw,
                                                 const char *name);

/* Writes "listeners of the Gateway: a, b" into buf (size bytes), for hints (attach.c). */
void pc_model_list_listeners(const struct pc_model_gateway *gw, char *buf, size_t size);

/*
 * Whether a ReferenceGrant in to_ns lets resources of from_kind (group gateway.networking.k8s.io)
 * in from_ns refer to the to_group/to_kind resource named to_name (attach.c).
 */
bool pc_model_is_granted(const struct pc_model *model, const char *from_kind, const char *from_ns,
                         const char *to_group, const char *to_kind, const char *to_ns,
                         const char *to_name);

/*
 * Checks every Secret, ConfigMap, CertificateFiles, WorkloadIdentity and TrustBundle on its own
 * and gives each its struct pc_model_material (material.c): base64 and PEM shapes, files that
 * must exist and be readable (relative paths made absolute from the declaring file's
 * directory), trust domains, the Workload API address. Returns 0 or PC_ENOMEM.
 */
int pc_model_check_material(struct pc_model *model);

/*
 * Resolves ref, made by owner, to the material resource it names for use, reporting a kind the
 * use does not allow, a missing resource, a cross-namespace reference no ReferenceGrant allows,
 * or material that cannot serve the use (a Secret that is not kubernetes.io/tls, a ConfigMap
 * without ca.crt). Returns the resource, or NULL (also, silently, for material whose own errors
 * were reported already).
 */
const struct pc_model_resource *pc_model_resolve_material(struct pc_model *model,
                                                          const struct pc_model_resource *owner,
                                                          const struct pc_resource_object_ref *ref,
                                                          enum pc_model_material_use use);

/*
 * Copies a resolved certificate or trust bundle into the snapshot arena, once per resource (later
 * calls return the same copy), and records its files in tc. Returns 0 or PC_ENOMEM.
 */
int pc_model_compile_certificate(struct pc_model_tls_compiler *tc,
                                 const struct pc_model_resource *res,
                                 const struct pc_tls_certificate **out);
int pc_model_compile_bundle(struct pc_model_tls_compiler *tc, const struct pc_model_resource *res,
                            const struct pc_trust_bundle **out);

/* Has bytes[0..len) wiped when arena is destroyed (material.c). Returns 0 or PC_ENOMEM. */
int pc_model_wipe_later(struct pc_arena *arena, const void *bytes, size_t len);

/*
 * Checks that the file path names exists, is a regular file and can be opened for reading
 * (material.c); what is the hint when it is not a regular file. *abs receives its absolute path
 * (load arena), relative paths being read from the directory of the declaring file. Returns 0;
 * PC_EINVAL when a problem was reported; PC_ENOMEM.
 */
int pc_model_check_file(struct pc_model *model, const struct pc_schema_string *path,
                        const char *what, const char **abs);

/*
 * Finds the value of key in Secret secret, stringData winning over data, and gives its bytes
 * (data decoded from base64) in *bytes and *len (load arena, wiped with it, NUL after len bytes)
 * (material.c). Returns 0; PC_ENOENT when the Secret has no such key; PC_EINVAL when the value
 * was reported bad already; PC_ENOMEM.
 */
int pc_model_secret_value(struct pc_model *model, const struct pc_model_resource *secret,
                          const char *key, const char **bytes, size_t *len);

/*
 * Copies src into the snapshot arena as *out (material.c): a file's path, recorded in
 * tc->files for watching; inline data, wiped with the snapshot when is_secret; or the Workload
 * API origin, noted in tc. Returns 0 or PC_ENOMEM.
 */
int pc_model_compile_source(struct pc_model_tls_compiler *tc, const struct pc_pem_source *src,
                            bool is_secret, struct pc_pem_source *out);

/*
 * Checks every AuthenticationPolicy on its own (authn.c): key sources, algorithms, URLs,
 * discovery, local JWKS, sender constraints, requirements, forwarded headers. Runs after the
 * material checks. Returns 0 or PC_ENOMEM.
 */
int pc_model_check_authn(struct pc_model *model);

/*
 * Resolves what AuthenticationPolicies refer to (authn.c): their targets (two policies on one
 * target are an error naming both), HMAC and client secrets, SPIFFE trust bundles, and the
 * listeners a certificate-bound policy needs to ask for client certificates. Runs once routes
 * are attached and listener TLS is known. Returns 0 or PC_ENOMEM.
 */
int pc_model_resolve_authn(struct pc_model *model);

/*
 * The authentication of the rules of route served on listener l (authn.c): the policy naming
 * the route, else the listener, else its Gateway. *out is NULL when none applies, else the
 * policy's snapshot copy, made on first use, shared by every rule it covers and listed once in
 * tc->authns. Returns 0 or PC_ENOMEM.
 */
int pc_model_compile_authn(struct pc_model_tls_compiler *tc, const struct pc_model_resource *route,
                           const struct pc_model_listener *l, const struct pc_authn **out);

/*
 * Resolves targetRef t of a policy (Gateway, Gateway listener by sectionName, or HTTPRoute, in
 * the policy's namespace) into *out (attach.c), reporting a wrong group, a missing resource or
 * listener, and a sectionName on a route. out's pointers borrow the model's resources and their
 * states, for as long as the model lives. Returns true when out names a target whose state
 * exists.
 */
bool pc_model_resolve_target(struct pc_model *model, const struct pc_model_resource *policy,
                             const struct pc_resource_target_ref *t, struct pc_model_target *out);

/* Reports a targetRef listed twice in targets (attach.c). */
void pc_model_check_target_list(struct pc_model *model, const struct pc_schema_list *targets);

/*
 * Checks every AuthorizationPolicy on its own (authz.c): one decision source, rule names,
 * methods, paths and templates, header tests, regular expressions (compiled with PCRE2), CIDRs,
 * principal and peer conditions, SPIFFE ID patterns, object-level path parameters, decision
 * point URLs, CA bundles and cache keys; reads and compiles Rego modules and the query (the
 * modules join model->read_files). Runs after the material checks. Returns 0 or PC_ENOMEM.
 */
int pc_model_check_authz(struct pc_model *model);

/*
 * Resolves AuthorizationPolicy targets (authz.c): two policies on one target are an error naming
 * both. Runs once routes are attached. Returns 0 or PC_ENOMEM.
 */
int pc_model_resolve_authz(struct pc_model *model);

/*
 * The authorization of the rules of route served on listener l (authz.c): the policy naming the
 * route, else the listener, else its Gateway. *out is NULL when none applies, else the policy's
 * snapshot copy, made on first use, shared by every rule it covers and listed once in
 * tc->authzs (its id is its index there). Regular expressions, SPIFFE matchers and the Rego
 * policy and query are owned by the snapshot and freed with it. Returns 0 or PC_ENOMEM.
 */
int pc_model_compile_authz(struct pc_model_tls_compiler *tc, const struct pc_model_resource *route,
                           const struct pc_model_listener *l, const struct pc_authz **out);

/*
 * Checks the ProxyConfig's decisionLog (authz.c): a file path, and a signing key file that holds
 * an unencrypted PKCS#8 Ed25519 private key (read, parsed with OpenSSL and wiped). Returns 0 or
 * PC_ENOMEM.
 */
int pc_model_check_decision_log(struct pc_model *model);

/*
 * Fills out from the ProxyConfig's decisionLog, or with defaults and a NULL path when there is
 * none (authz.c); strings go into arena (the snapshot's). Returns 0 or PC_ENOMEM.
 */
int pc_model_compile_decision_log(const struct pc_model *model, struct pc_arena *arena,
                                  struct pc_decision_log_settings *out);

/*
 * The TLS checks of listeners, ClientTrafficPolicy TLS fields and BackendTLSPolicies that need
 * no other resource (tls.c); runs after the Gateways were checked. Returns 0 or PC_ENOMEM.
 */
int pc_model_check_tls(struct pc_model *model);

/*
 * Resolves certificateRefs, frontendValidation and backendTLS references of Gateways, and
 * attaches BackendTLSPolicies to ServiceEndpoints ports (tls.c). Returns 0 or PC_ENOMEM.
 */
int pc_model_resolve_tls(struct pc_model *model);

/* Reports client certificate modes set for listeners that ask for no certificate (tls.c). */
void pc_model_check_client_modes(struct pc_model *model);

/*
 * Compiles listener l's TLS into the snapshot arena (tls.c); l must be HTTPS. Returns 0 or
 * PC_ENOMEM.
 */
int pc_model_compile_listener_tls(struct pc_model_tls_compiler *tc,
                                  const struct pc_model_listener *l,
                                  const struct pc_listener_tls **out);

/*
 * The TLS of a backend on port of ServiceEndpoints se, for a route served by Gateway gw (whose
 * backendTLS certificate it presents): *out is NULL when no BackendTLSPolicy applies, else a
 * snapshot copy shared by every backend with the same policy and Gateway. Returns 0 or PC_ENOMEM.
 */
int pc_model_compile_backend_tls(struct pc_model_tls_compiler *tc,
                                 const struct pc_model_resource *se,
                                 const struct pc_resource_service_port *port,
                                 const struct pc_model_resource *gw,
                                 const struct pc_backend_tls **out);

#endif
