/*
 * The resource kinds portcullis reads, as decoded structs, and the schema tables that describe
 * them: Gateway API Gateway, HTTPRoute, ReferenceGrant and BackendTLSPolicy, core Namespace,
 * Secret and ConfigMap, and the portcullis.dev/v1alpha1 kinds ServiceEndpoints,
 * ClientTrafficPolicy, BackendTrafficPolicy, ProxyConfig, CertificateFiles, WorkloadIdentity,
 * TrustBundle, AuthenticationPolicy and AuthorizationPolicy.
 *
 * Every struct starts with the node of its mapping. A field that was absent has a NULL node (and
 * the default from the schema, if any); an object that was absent is a NULL pointer. The
 * structs are filled by pc_schema_decode and only read afterwards. Control thread only.
 */
#ifndef PC_CONFIG_RESOURCE_H
#define PC_CONFIG_RESOURCE_H

#include "config/schema.h"

#define PC_RESOURCE_GATEWAY_GROUP "gateway.networking.k8s.io"
#define PC_RESOURCE_OWN_GROUP     "portcullis.dev"

enum pc_resource_kind {
    PC_RESOURCE_GATEWAY = 0,
    PC_RESOURCE_HTTPROUTE,
    PC_RESOURCE_REFERENCE_GRANT,
    PC_RESOURCE_NAMESPACE,
    PC_RESOURCE_SERVICE_ENDPOINTS,
    PC_RESOURCE_CLIENT_POLICY,
    PC_RESOURCE_BACKEND_POLICY,
    PC_RESOURCE_PROXY_CONFIG,
    PC_RESOURCE_SECRET,
    PC_RESOURCE_CONFIG_MAP,
    PC_RESOURCE_CERTIFICATE_FILES,
    PC_RESOURCE_WORKLOAD_IDENTITY,
    PC_RESOURCE_TRUST_BUNDLE,
    PC_RESOURCE_BACKEND_TLS_POLICY,
    PC_RESOURCE_AUTHN_POLICY,
    PC_RESOURCE_AUTHZ_POLICY,
    PC_RESOURCE_COUNT,
};

struct pc_resource_type {
    enum pc_resource_kind kind;
    const char *api_version;
    const char *name; /* the kind, "HTTPRoute" */
    bool is_namespaced;
    const struct pc_schema *schema; /* of the whole document */
};

struct pc_resource_meta {
    const struct pc_yaml_node *node;
    struct pc_schema_string name;
    struct pc_schema_string namespace_;
    struct pc_schema_map labels;
    struct pc_schema_map annotations;
    struct pc_schema_string creation_timestamp;
    const struct pc_yaml_node *uid;
    const struct pc_yaml_node *resource_version;
    const struct pc_yaml_node *generation;
};

/* A whole document; spec points to the kind's spec struct below. */
struct pc_resource_doc {
    const struct pc_yaml_node *node;
    struct pc_schema_string api_version;
    struct pc_schema_string kind;
    struct pc_resource_meta *metadata;
    void *spec;
    const struct pc_yaml_node *status;
    /* Secret and ConfigMap only: they hold their data beside metadata, with no spec. */
    struct pc_schema_string type;     /* Secret; default "Opaque" */
    struct pc_schema_map data;        /* Secret: base64 values (secret); ConfigMap: text */
    struct pc_schema_map string_data; /* Secret: text values (secret) */
    struct pc_schema_int immutable;
};

/* ---- shared ---- */

struct pc_resource_label_expr {
    const struct pc_yaml_node *node;
    struct pc_schema_string key;
    struct pc_schema_string operator_;
    struct pc_schema_list values; /* of struct pc_schema_string */
};

struct pc_resource_selector {
    const struct pc_yaml_node *node;
    struct pc_schema_map match_labels;
    struct pc_schema_list match_expressions; /* of struct pc_resource_label_expr */
};

/* ---- Gateway ---- */

struct pc_resource_route_kind {
    const struct pc_yaml_node *node;
    struct pc_schema_string group;
    struct pc_schema_string kind;
};

struct pc_resource_route_namespaces {
    const struct pc_yaml_node *node;
    struct pc_schema_string from; /* All, Selector, Same */
    struct pc_resource_selector *selector;
};

struct pc_resource_allowed_routes {
    const struct pc_yaml_node *node;
    struct pc_resource_route_namespaces *namespaces;
    struct pc_schema_list kinds; /* of struct pc_resource_route_kind */
};

/* SecretObjectReference, ObjectReference and LocalObjectReference (no namespace). */
struct pc_resource_object_ref {
    const struct pc_yaml_node *node;
    struct pc_schema_string group;
    struct pc_schema_string kind;
    struct pc_schema_string namespace_; /* absent: the referring resource's namespace */
    struct pc_schema_string name;
};

struct pc_resource_frontend_validation {
    const struct pc_yaml_node *node;
    struct pc_schema_list ca_certificate_refs; /* of struct pc_resource_object_ref */
};

struct pc_resource_listener_tls {
    const struct pc_yaml_node *node;
    struct pc_schema_string mode;           /* Terminate (default) or Passthrough */
    struct pc_schema_list certificate_refs; /* of struct pc_resource_object_ref */
    struct pc_resource_frontend_validation *frontend_validation;
};

struct pc_resource_listener {
    const struct pc_yaml_node *node;
    struct pc_schema_string name;
    struct pc_schema_string hostname;
    struct pc_schema_int port;
    struct pc_schema_string protocol;
    struct pc_resource_listener_tls *tls;
    struct pc_resource_allowed_routes *allowed_routes;
};

struct pc_resource_address {
    const struct pc_yaml_node *node;
    struct pc_schema_string type;
    struct pc_schema_string value;
};

struct pc_resource_gateway_backend_tls {
    const struct pc_yaml_node *node;
    struct pc_resource_object_ref *client_certificate_ref;
};

struct pc_resource_gateway {
    const struct pc_yaml_node *node;
    struct pc_schema_string class_name;
    struct pc_schema_list addresses; /* of struct pc_resource_address */
    struct pc_schema_list listeners; /* of struct pc_resource_listener */
    struct pc_resource_gateway_backend_tls *backend_tls;
};

/* ---- HTTPRoute ---- */

struct pc_resource_parent_ref {
    const struct pc_yaml_node *node;
    struct pc_schema_string group;
    struct pc_schema_string kind;
    struct pc_schema_string namespace_;
    struct pc_schema_string name;
    struct pc_schema_string section_name;
    struct pc_schema_int port;
};

struct pc_resource_path_match {
    const struct pc_yaml_node *node;
    struct pc_schema_string type;
    struct pc_schema_string value;
};

/* A header or query parameter match. */
struct pc_resource_value_match {
    const struct pc_yaml_node *node;
    struct pc_schema_string type;
    struct pc_schema_string name;
    struct pc_schema_string value;
};

struct pc_resource_match {
    const struct pc_yaml_node *node;
    struct pc_resource_path_match *path;
    struct pc_schema_list headers;      /* of struct pc_resource_value_match */
    struct pc_schema_list query_params; /* of struct pc_resource_value_match */
    struct pc_schema_string method;
};

struct pc_resource_header {
    const struct pc_yaml_node *node;
    struct pc_schema_string name;
    struct pc_schema_string value;
};

struct pc_resource_header_filter {
    const struct pc_yaml_node *node;
    struct pc_schema_list set;    /* of struct pc_resource_header */
    struct pc_schema_list add;    /* of struct pc_resource_header */
    struct pc_schema_list remove; /* of struct pc_schema_string */
};

struct pc_resource_path_modifier {
    const struct pc_yaml_node *node;
    struct pc_schema_string type;
    struct pc_schema_string replace_full_path;
    struct pc_schema_string replace_prefix_match;
};

struct pc_resource_redirect {
    const struct pc_yaml_node *node;
    struct pc_schema_string scheme;
    struct pc_schema_string hostname;
    struct pc_resource_path_modifier *path;
    struct pc_schema_int port;
    struct pc_schema_int status_code;
};

struct pc_resource_rewrite {
    const struct pc_yaml_node *node;
    struct pc_schema_string hostname;
    struct pc_resource_path_modifier *path;
};

struct pc_resource_filter {
    const struct pc_yaml_node *node;
    struct pc_schema_string type;
    struct pc_resource_header_filter *request_header_modifier;
    struct pc_resource_header_filter *response_header_modifier;
    struct pc_resource_redirect *request_redirect;
    struct pc_resource_rewrite *url_rewrite;
    const struct pc_yaml_node *request_mirror;
    const struct pc_yaml_node *extension_ref;
    const struct pc_yaml_node *cors;
    const struct pc_yaml_node *external_auth;
};

struct pc_resource_backend_ref {
    const struct pc_yaml_node *node;
    struct pc_schema_string group;
    struct pc_schema_string kind;
    struct pc_schema_string name;
    struct pc_schema_string namespace_;
    struct pc_schema_int port;
    struct pc_schema_int weight;
};

struct pc_resource_route_timeouts {
    const struct pc_yaml_node *node;
    struct pc_schema_int request;         /* ms */
    struct pc_schema_int backend_request; /* ms */
};

struct pc_resource_rule {
    const struct pc_yaml_node *node;
    struct pc_schema_string name;
    struct pc_schema_list matches;      /* of struct pc_resource_match */
    struct pc_schema_list filters;      /* of struct pc_resource_filter */
    struct pc_schema_list backend_refs; /* of struct pc_resource_backend_ref */
    struct pc_resource_route_timeouts *timeouts;
};

struct pc_resource_httproute {
    const struct pc_yaml_node *node;
    struct pc_schema_list parent_refs; /* of struct pc_resource_parent_ref */
    struct pc_schema_list hostnames;   /* of struct pc_schema_string */
    struct pc_schema_list rules;       /* of struct pc_resource_rule */
};

/* ---- ReferenceGrant ---- */

struct pc_resource_grant_from {
    const struct pc_yaml_node *node;
    struct pc_schema_string group;
    struct pc_schema_string kind;
    struct pc_schema_string namespace_;
};

struct pc_resource_grant_to {
    const struct pc_yaml_node *node;
    struct pc_schema_string group;
    struct pc_schema_string kind;
    struct pc_schema_string name;
};

struct pc_resource_reference_grant {
    const struct pc_yaml_node *node;
    struct pc_schema_list from; /* of struct pc_resource_grant_from */
    struct pc_schema_list to;   /* of struct pc_resource_grant_to */
};

/* ---- ServiceEndpoints ---- */

struct pc_resource_service_port {
    const struct pc_yaml_node *node;
    struct pc_schema_int port;
    struct pc_schema_string name;
    struct pc_schema_string app_protocol;
    struct pc_schema_list endpoints; /* of struct pc_schema_string, each a valid "IP:port" */
};

struct pc_resource_service_endpoints {
    const struct pc_yaml_node *node;
    struct pc_schema_list ports; /* of struct pc_resource_service_port */
};

/* ---- policies ---- */

struct pc_resource_target_ref {
    const struct pc_yaml_node *node;
    struct pc_schema_string group;
    struct pc_schema_string kind;
    struct pc_schema_string name;
    struct pc_schema_string section_name;
};

struct pc_resource_client_limits {
    const struct pc_yaml_node *node;
    struct pc_schema_int max_request_line_bytes;
    struct pc_schema_int max_header_bytes;
    struct pc_schema_int max_header_count;
    struct pc_schema_int max_body_bytes;
};

struct pc_resource_client_timeouts {
    const struct pc_yaml_node *node;
    struct pc_schema_int request_head;
    struct pc_schema_int body_progress;
    struct pc_schema_int idle;
};

struct pc_resource_request_id {
    const struct pc_yaml_node *node;
    struct pc_schema_int trust_client;
};

struct pc_resource_path_policy {
    const struct pc_yaml_node *node;
    struct pc_schema_string encoded_slashes;
};

struct pc_resource_websocket {
    const struct pc_yaml_node *node;
    struct pc_schema_int enabled;
};

struct pc_resource_client_certificate {
    const struct pc_yaml_node *node;
    struct pc_schema_string mode; /* Require or Optional */
};

struct pc_resource_client_tls {
    const struct pc_yaml_node *node;
    struct pc_resource_client_certificate *client_certificate;
};

struct pc_resource_forward_client_cert {
    const struct pc_yaml_node *node;
    struct pc_schema_string mode;  /* SanitizeSet (default) or Sanitize */
    struct pc_schema_list details; /* of struct pc_schema_string: Subject, URI, DNS, Cert, Chain */
};

struct pc_resource_client_policy {
    const struct pc_yaml_node *node;
    struct pc_schema_list target_refs; /* of struct pc_resource_target_ref */
    struct pc_resource_client_limits *limits;
    struct pc_resource_client_timeouts *timeouts;
    struct pc_resource_request_id *request_id;
    struct pc_resource_path_policy *path;
    struct pc_resource_websocket *websocket;
    struct pc_resource_client_tls *tls;
    struct pc_resource_forward_client_cert *forward_client_cert;
};

struct pc_resource_backend_timeouts {
    const struct pc_yaml_node *node;
    struct pc_schema_int connect;
    struct pc_schema_int response;
};

struct pc_resource_pool {
    const struct pc_yaml_node *node;
    struct pc_schema_int max_idle_per_endpoint;
    struct pc_schema_int idle_timeout;
};

struct pc_resource_backend_policy {
    const struct pc_yaml_node *node;
    struct pc_schema_list target_refs; /* of struct pc_resource_target_ref (sectionName unused) */
    struct pc_resource_backend_timeouts *timeouts;
    struct pc_resource_pool *connection_pool;
};

/* ---- ProxyConfig ---- */

struct pc_resource_admin {
    const struct pc_yaml_node *node;
    struct pc_schema_string address;
    struct pc_schema_int port;
    struct pc_schema_int enabled;
};

struct pc_resource_access_log {
    const struct pc_yaml_node *node;
    struct pc_schema_string path;
    struct pc_schema_int enabled;
};

struct pc_resource_log {
    const struct pc_yaml_node *node;
    struct pc_schema_string level;
    struct pc_schema_string format;
};

struct pc_resource_shutdown {
    const struct pc_yaml_node *node;
    struct pc_schema_int grace_period;
};

struct pc_resource_watch {
    const struct pc_yaml_node *node;
    struct pc_schema_int enabled;
};

struct pc_resource_proxy_tls {
    const struct pc_yaml_node *node;
    struct pc_schema_int session_ticket_rotation; /* ms */
    struct pc_schema_int session_tickets;         /* bool */
};

struct pc_resource_spiffe {
    const struct pc_yaml_node *node;
    struct pc_schema_string workload_api_socket;
};

struct pc_resource_signing_key {
    const struct pc_yaml_node *node;
    struct pc_schema_string file; /* a PKCS#8 Ed25519 private key, PEM */
};

struct pc_resource_decision_log {
    const struct pc_yaml_node *node;
    struct pc_schema_string path;
    struct pc_resource_signing_key *signing_key;
    struct pc_schema_int checkpoint_interval; /* ms */
    struct pc_schema_int checkpoint_lines;
    struct pc_schema_int queue_lines;
};

struct pc_resource_proxy_config {
    const struct pc_yaml_node *node;
    struct pc_resource_admin *admin;
    struct pc_resource_access_log *access_log;
    struct pc_resource_log *log;
    struct pc_resource_shutdown *shutdown;
    struct pc_resource_watch *watch;
    struct pc_resource_proxy_tls *tls;
    struct pc_resource_spiffe *spiffe;
    struct pc_resource_decision_log *decision_log;
};

/* ---- certificate and trust material ---- */

struct pc_resource_certificate_files {
    const struct pc_yaml_node *node;
    struct pc_schema_string certificate; /* PEM chain, leaf first */
    struct pc_schema_string private_key;
};

struct pc_resource_workload_identity {
    const struct pc_yaml_node *node;
    struct pc_schema_string spiffe_id; /* absent: the first SVID the agent sends */
};

struct pc_resource_trust_bundle {
    const struct pc_yaml_node *node;
    struct pc_schema_string trust_domain;
    struct pc_schema_string format; /* PEM (default) or SPIFFE */
    struct pc_schema_string file;
    struct pc_schema_string pem;
    struct pc_schema_int workload_api;
};

/* ---- BackendTLSPolicy ---- */

struct pc_resource_subject_alt_name {
    const struct pc_yaml_node *node;
    struct pc_schema_string type; /* Hostname or URI */
    struct pc_schema_string hostname;
    struct pc_schema_string uri;
};

struct pc_resource_tls_validation {
    const struct pc_yaml_node *node;
    struct pc_schema_list ca_certificate_refs; /* of struct pc_resource_object_ref, local */
    struct pc_schema_string well_known_ca_certificates; /* System */
    struct pc_schema_string hostname;
    struct pc_schema_list subject_alt_names; /* of struct pc_resource_subject_alt_name */
};

struct pc_resource_backend_tls_policy {
    const struct pc_yaml_node *node;
    struct pc_schema_list target_refs; /* of struct pc_resource_target_ref */
    struct pc_resource_tls_validation *validation;
};

/* ---- AuthenticationPolicy ---- */

/* A claim named by a claim path, and the values it may hold (none: it must merely exist). */
struct pc_resource_claim_match {
    const struct pc_yaml_node *node;
    struct pc_schema_string name;
    struct pc_schema_list values; /* of struct pc_schema_string */
};

struct pc_resource_remote_jwks {
    const struct pc_yaml_node *node;
    struct pc_schema_string uri;
};

struct pc_resource_local_jwks {
    const struct pc_yaml_node *node;
    struct pc_schema_string file;    /* relative to the declaring file */
    struct pc_schema_string inline_; /* the JWK set's JSON */
};

struct pc_resource_spiffe_keys {
    const struct pc_yaml_node *node;
    struct pc_schema_string trust_domain;
    struct pc_resource_object_ref *bundle_ref; /* a TrustBundle in the policy's namespace */
};

struct pc_resource_key_refresh {
    const struct pc_yaml_node *node;
    struct pc_schema_int interval;     /* ms */
    struct pc_schema_int min_interval; /* ms */
    struct pc_schema_int stale;        /* ms */
    struct pc_schema_int serve_stale;
    struct pc_schema_int timeout; /* ms, of each fetch */
};

struct pc_resource_jwt_provider {
    const struct pc_yaml_node *node;
    struct pc_schema_string name;
    struct pc_schema_string issuer;
    struct pc_schema_list audiences;  /* of struct pc_schema_string */
    struct pc_schema_list algorithms; /* of struct pc_schema_string; absent: the default */
    struct pc_resource_remote_jwks *remote_jwks;
    struct pc_schema_int discovery;
    struct pc_resource_local_jwks *local_jwks;
    struct pc_resource_spiffe_keys *spiffe;
    struct pc_resource_object_ref *hmac_secret_ref; /* a Secret in the policy's namespace */
    struct pc_schema_string typ;
    struct pc_schema_int clock_skew;       /* ms */
    struct pc_schema_list required_claims; /* of struct pc_resource_claim_match */
    struct pc_resource_key_refresh *refresh;
    struct pc_schema_int cache_ttl; /* ms */
};

struct pc_resource_jwt {
    const struct pc_yaml_node *node;
    struct pc_schema_list providers; /* of struct pc_resource_jwt_provider */
};

struct pc_resource_token_header {
    const struct pc_yaml_node *node;
    struct pc_schema_string name;
    struct pc_schema_string prefix;
};

struct pc_resource_token_cookie {
    const struct pc_yaml_node *node;
    struct pc_schema_string name;
};

struct pc_resource_token_location {
    const struct pc_yaml_node *node;
    struct pc_resource_token_header *header;
    struct pc_resource_token_cookie *cookie;
};

struct pc_resource_introspection {
    const struct pc_yaml_node *node;
    struct pc_schema_string endpoint;
    struct pc_schema_string client_id;
    struct pc_resource_object_ref *client_secret_ref; /* a Secret in the policy's namespace */
    struct pc_schema_string auth_method; /* client_secret_basic (default) or client_secret_post */
    struct pc_schema_string issuer;
    struct pc_schema_int timeout;   /* ms */
    struct pc_schema_int cache_ttl; /* ms */
};

struct pc_resource_sender_constraint {
    const struct pc_yaml_node *node;
    struct pc_schema_string mode; /* None (default), Certificate, DPoP or Any */
    struct pc_schema_int if_present;
    struct pc_schema_int dpop_max_age; /* ms */
};

struct pc_resource_scope_requirement {
    const struct pc_yaml_node *node;
    struct pc_schema_list all_of; /* of struct pc_schema_string */
    struct pc_schema_list any_of;
};

struct pc_resource_claim_requirement {
    const struct pc_yaml_node *node;
    struct pc_schema_list all_of; /* of struct pc_resource_claim_match */
    struct pc_schema_list any_of;
};

struct pc_resource_identity_requirement {
    const struct pc_yaml_node *node;
    struct pc_resource_scope_requirement *scopes;
    struct pc_resource_claim_requirement *claims;
};

struct pc_resource_principal {
    const struct pc_yaml_node *node;
    struct pc_schema_list client_id_claims; /* of struct pc_schema_string; absent: the default */
    struct pc_schema_list role_claims;      /* of struct pc_schema_string */
};

struct pc_resource_claim_header {
    const struct pc_yaml_node *node;
    struct pc_schema_string claim;
    struct pc_schema_string header;
};

struct pc_resource_authn_policy {
    const struct pc_yaml_node *node;
    struct pc_schema_list target_refs; /* of struct pc_resource_target_ref */
    struct pc_resource_jwt *jwt;
    struct pc_resource_introspection *introspection;
    struct pc_resource_token_location *token_location;
    struct pc_schema_int optional;
    struct pc_resource_sender_constraint *sender_constraint;
    struct pc_resource_identity_requirement *require;
    struct pc_resource_principal *principal;
    struct pc_schema_list claim_to_headers; /* of struct pc_resource_claim_header */
    struct pc_schema_string realm;
};

/* ---- AuthorizationPolicy ---- */

/* A string test {type, value}; a plain string stands for {type: Exact, value: <it>}. */
struct pc_resource_string_match {
    const struct pc_yaml_node *node;
    struct pc_schema_string type; /* Exact (default), Prefix, Suffix, Present, RegularExpression */
    struct pc_schema_string value;
};

struct pc_resource_authz_path {
    const struct pc_yaml_node *node;
    struct pc_schema_string type; /* Exact, PathPrefix or Template */
    struct pc_schema_string value;
};

struct pc_resource_authz_header {
    const struct pc_yaml_node *node;
    struct pc_schema_string name;
    struct pc_schema_string type; /* as pc_resource_string_match */
    struct pc_schema_string value;
    struct pc_schema_int invert;
};

struct pc_resource_authz_request {
    const struct pc_yaml_node *node;
    struct pc_schema_list methods;          /* of struct pc_schema_string */
    struct pc_schema_list paths;            /* of struct pc_resource_authz_path */
    struct pc_schema_list headers;          /* of struct pc_resource_authz_header */
    struct pc_schema_list source_cidrs;     /* of struct pc_schema_string */
    struct pc_schema_list not_source_cidrs; /* of struct pc_schema_string */
};

/* A claim test: a claim path, and how its value is compared. */
struct pc_resource_claim_test {
    const struct pc_yaml_node *node;
    struct pc_schema_string path;
    struct pc_schema_string type;
    struct pc_schema_string value;
};

struct pc_resource_claim_tests {
    const struct pc_yaml_node *node;
    struct pc_schema_list all_of; /* of struct pc_resource_claim_test */
    struct pc_schema_list any_of;
};

struct pc_resource_path_param {
    const struct pc_yaml_node *node;
    struct pc_schema_string param;
    struct pc_schema_string claim;
};

struct pc_resource_authz_principal {
    const struct pc_yaml_node *node;
    struct pc_schema_int authenticated;
    struct pc_schema_list subjects;   /* of struct pc_resource_string_match */
    struct pc_schema_list issuers;    /* of struct pc_schema_string */
    struct pc_schema_list client_ids; /* of struct pc_schema_string */
    struct pc_resource_scope_requirement *scopes;
    struct pc_resource_scope_requirement *roles; /* the same shape: allOf and anyOf strings */
    struct pc_resource_claim_tests *claims;
    struct pc_schema_list path_params; /* of struct pc_resource_path_param */
};

struct pc_resource_authz_peer {
    const struct pc_yaml_node *node;
    struct pc_schema_int certificate;
    struct pc_schema_list spiffe_ids; /* of struct pc_schema_string: SPIFFE ID patterns */
    struct pc_schema_list subjects;   /* of struct pc_resource_string_match */
    struct pc_schema_list dns_names;  /* of struct pc_schema_string */
};

struct pc_resource_authz_rule {
    const struct pc_yaml_node *node;
    struct pc_schema_string name;
    struct pc_schema_string action; /* Allow (default) or Deny */
    struct pc_resource_authz_request *request;
    struct pc_resource_authz_principal *principal;
    struct pc_resource_authz_peer *peer;
};

/* PEM certificates from a file or held inline. */
struct pc_resource_pem_bundle {
    const struct pc_yaml_node *node;
    struct pc_schema_string file;
    struct pc_schema_string pem;
};

struct pc_resource_decision_cache {
    const struct pc_yaml_node *node;
    struct pc_schema_int ttl;  /* ms */
    struct pc_schema_list key; /* of struct pc_schema_string: input document paths */
};

/* spec.opa and spec.http share this struct; each has its own schema. */
struct pc_resource_authz_remote {
    const struct pc_yaml_node *node;
    struct pc_schema_string url;
    struct pc_schema_int append_path;       /* http */
    struct pc_schema_int timeout;           /* ms */
    struct pc_schema_list headers;          /* opa includeHeaders, http forwardHeaders */
    struct pc_schema_list upstream_headers; /* http */
    struct pc_resource_pem_bundle *ca_bundle;
    struct pc_resource_decision_cache *cache;
};

struct pc_resource_authz_rego {
    const struct pc_yaml_node *node;
    struct pc_schema_list files; /* of struct pc_schema_string, relative to the declaring file */
    struct pc_schema_string query;
    struct pc_schema_int step_limit;
};

struct pc_resource_authz_policy {
    const struct pc_yaml_node *node;
    struct pc_schema_list target_refs;    /* of struct pc_resource_target_ref */
    struct pc_schema_string mode;         /* Enforce (default) or Shadow */
    struct pc_schema_string failure_mode; /* Closed (default) or Open */
    struct pc_schema_int deny_status;
    struct pc_schema_list rules; /* of struct pc_resource_authz_rule; node set even when empty */
    struct pc_resource_authz_remote *opa;
    struct pc_resource_authz_remote *http;
    struct pc_resource_authz_rego *rego;
};

/*
 * Returns the type for apiVersion and kind, or NULL. When NULL, *known_kind tells whether kind
 * itself is known (under another apiVersion), for a better message.
 */
const struct pc_resource_type *pc_resource_lookup(const char *api_version, const char *kind,
                                                  bool *known_kind);

/* Returns the (first) apiVersion that serves kind, or NULL for an unknown kind. */
const char *pc_resource_api_version_of(const char *kind);

/* Writes the kinds grouped by API group, "Gateway, HTTPRoute, ... (gateway.networking.k8s.io);
 * Namespace, ... (v1); ...", into buf. */
void pc_resource_list_kinds(char *buf, size_t size);

/* Every kind name, for suggestions; *n receives the count. */
const char *const *pc_resource_kind_names(size_t *n);

/* Returns the schema of a document whose kind is unknown: apiVersion and kind required. */
const struct pc_schema *pc_resource_header_schema(void);

#endif
