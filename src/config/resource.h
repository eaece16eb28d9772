/*
 * The resource kinds portcullis reads, as decoded structs, and the schema tables that describe
 * them: Gateway API Gateway, HTTPRoute and ReferenceGrant, core Namespace, and the
 * portcullis.dev/v1alpha1 kinds ServiceEndpoints, ClientTrafficPolicy, BackendTrafficPolicy and
 * ProxyConfig.
 *
 * Every struct starts with the node of its mapping. A field that was absent has a NULL node (and
 * the default from the schema, if any); an object that was absent is a NULL pointer. The
 * structs are filled by pc_schema_decode and only read afterwards. Control thread only.
 */
#ifndef PC_CONFIG_RESOURCES_H
#define PC_CONFIG_RESOURCES_H

#include "config/schema.h"

#define PC_GATEWAY_GROUP "gateway.networking.k8s.io"
#define PC_OWN_GROUP     "portcullis.dev"

enum pc_res_kind {
    PC_RES_GATEWAY = 0,
    PC_RES_HTTPROUTE,
    PC_RES_REFERENCE_GRANT,
    PC_RES_NAMESPACE,
    PC_RES_SERVICE_ENDPOINTS,
    PC_RES_CLIENT_POLICY,
    PC_RES_BACKEND_POLICY,
    PC_RES_PROXY_CONFIG,
    PC_RES_COUNT,
};

struct pc_res_type {
    enum pc_res_kind kind;
    const char *api_version;
    const char *name; /* the kind, "HTTPRoute" */
    bool is_namespaced;
    const struct pc_schema *schema; /* of the whole document */
};

struct pc_res_meta {
    const struct pc_yaml_node *node;
    struct pc_ystr name;
    struct pc_ystr namespace_;
    struct pc_ymap labels;
    struct pc_ymap annotations;
    struct pc_ystr creation_timestamp;
    const struct pc_yaml_node *uid;
    const struct pc_yaml_node *resource_version;
    const struct pc_yaml_node *generation;
};

/* A whole document; spec points to the kind's spec struct below. */
struct pc_res_doc {
    const struct pc_yaml_node *node;
    struct pc_ystr api_version;
    struct pc_ystr kind;
    struct pc_res_meta *metadata;
    void *spec;
    const struct pc_yaml_node *status;
};

/* ---- shared ---- */

struct pc_res_label_expr {
    const struct pc_yaml_node *node;
    struct pc_ystr key;
    struct pc_ystr operator_;
    struct pc_ylist values; /* of struct pc_ystr */
};

struct pc_res_selector {
    const struct pc_yaml_node *node;
    struct pc_ymap match_labels;
    struct pc_ylist match_expressions; /* of struct pc_res_label_expr */
};

/* ---- Gateway ---- */

struct pc_res_route_kind {
    const struct pc_yaml_node *node;
    struct pc_ystr group;
    struct pc_ystr kind;
};

struct pc_res_route_namespaces {
    const struct pc_yaml_node *node;
    struct pc_ystr from; /* All, Selector, Same */
    struct pc_res_selector *selector;
};

struct pc_res_allowed_routes {
    const struct pc_yaml_node *node;
    struct pc_res_route_namespaces *namespaces;
    struct pc_ylist kinds; /* of struct pc_res_route_kind */
};

struct pc_res_listener {
    const struct pc_yaml_node *node;
    struct pc_ystr name;
    struct pc_ystr hostname;
    struct pc_yint port;
    struct pc_ystr protocol;
    struct pc_res_allowed_routes *allowed_routes;
};

struct pc_res_address {
    const struct pc_yaml_node *node;
    struct pc_ystr type;
    struct pc_ystr value;
};

struct pc_res_gateway {
    const struct pc_yaml_node *node;
    struct pc_ystr class_name;
    struct pc_ylist addresses; /* of struct pc_res_address */
    struct pc_ylist listeners; /* of struct pc_res_listener */
};

/* ---- HTTPRoute ---- */

struct pc_res_parent_ref {
    const struct pc_yaml_node *node;
    struct pc_ystr group;
    struct pc_ystr kind;
    struct pc_ystr namespace_;
    struct pc_ystr name;
    struct pc_ystr section_name;
    struct pc_yint port;
};

struct pc_res_path_match {
    const struct pc_yaml_node *node;
    struct pc_ystr type;
    struct pc_ystr value;
};

/* A header or query parameter match. */
struct pc_res_value_match {
    const struct pc_yaml_node *node;
    struct pc_ystr type;
    struct pc_ystr name;
    struct pc_ystr value;
};

struct pc_res_match {
    const struct pc_yaml_node *node;
    struct pc_res_path_match *path;
    struct pc_ylist headers;      /* of struct pc_res_value_match */
    struct pc_ylist query_params; /* of struct pc_res_value_match */
    struct pc_ystr method;
};

struct pc_res_header {
    const struct pc_yaml_node *node;
    struct pc_ystr name;
    struct pc_ystr value;
};

struct pc_res_header_filter {
    const struct pc_yaml_node *node;
    struct pc_ylist set;    /* of struct pc_res_header */
    struct pc_ylist add;    /* of struct pc_res_header */
    struct pc_ylist remove; /* of struct pc_ystr */
};

struct pc_res_path_modifier {
    const struct pc_yaml_node *node;
    struct pc_ystr type;
    struct pc_ystr replace_full_path;
    struct pc_ystr replace_prefix_match;
};

struct pc_res_redirect {
    const struct pc_yaml_node *node;
    struct pc_ystr scheme;
    struct pc_ystr hostname;
    struct pc_res_path_modifier *path;
    struct pc_yint port;
    struct pc_yint status_code;
};

struct pc_res_rewrite {
    const struct pc_yaml_node *node;
    struct pc_ystr hostname;
    struct pc_res_path_modifier *path;
};

struct pc_res_filter {
    const struct pc_yaml_node *node;
    struct pc_ystr type;
    struct pc_res_header_filter *request_header_modifier;
    struct pc_res_header_filter *response_header_modifier;
    struct pc_res_redirect *request_redirect;
    struct pc_res_rewrite *url_rewrite;
    const struct pc_yaml_node *request_mirror;
    const struct pc_yaml_node *extension_ref;
    const struct pc_yaml_node *cors;
    const struct pc_yaml_node *external_auth;
};

struct pc_res_backend_ref {
    const struct pc_yaml_node *node;
    struct pc_ystr group;
    struct pc_ystr kind;
    struct pc_ystr name;
    struct pc_ystr namespace_;
    struct pc_yint port;
    struct pc_yint weight;
};

struct pc_res_route_timeouts {
    const struct pc_yaml_node *node;
    struct pc_yint request;         /* ms */
    struct pc_yint backend_request; /* ms */
};

struct pc_res_rule {
    const struct pc_yaml_node *node;
    struct pc_ystr name;
    struct pc_ylist matches;      /* of struct pc_res_match */
    struct pc_ylist filters;      /* of struct pc_res_filter */
    struct pc_ylist backend_refs; /* of struct pc_res_backend_ref */
    struct pc_res_route_timeouts *timeouts;
};

struct pc_res_httproute {
    const struct pc_yaml_node *node;
    struct pc_ylist parent_refs; /* of struct pc_res_parent_ref */
    struct pc_ylist hostnames;   /* of struct pc_ystr */
    struct pc_ylist rules;       /* of struct pc_res_rule */
};

/* ---- ReferenceGrant ---- */

struct pc_res_grant_from {
    const struct pc_yaml_node *node;
    struct pc_ystr group;
    struct pc_ystr kind;
    struct pc_ystr namespace_;
};

struct pc_res_grant_to {
    const struct pc_yaml_node *node;
    struct pc_ystr group;
    struct pc_ystr kind;
    struct pc_ystr name;
};

struct pc_res_reference_grant {
    const struct pc_yaml_node *node;
    struct pc_ylist from; /* of struct pc_res_grant_from */
    struct pc_ylist to;   /* of struct pc_res_grant_to */
};

/* ---- ServiceEndpoints ---- */

struct pc_res_service_port {
    const struct pc_yaml_node *node;
    struct pc_yint port;
    struct pc_ystr name;
    struct pc_ystr app_protocol;
    struct pc_ylist endpoints; /* of struct pc_ystr, each a valid "IP:port" */
};

struct pc_res_service_endpoints {
    const struct pc_yaml_node *node;
    struct pc_ylist ports; /* of struct pc_res_service_port */
};

/* ---- policies ---- */

struct pc_res_target_ref {
    const struct pc_yaml_node *node;
    struct pc_ystr group;
    struct pc_ystr kind;
    struct pc_ystr name;
    struct pc_ystr section_name;
};

struct pc_res_client_limits {
    const struct pc_yaml_node *node;
    struct pc_yint max_request_line_bytes;
    struct pc_yint max_header_bytes;
    struct pc_yint max_header_count;
    struct pc_yint max_body_bytes;
};

struct pc_res_client_timeouts {
    const struct pc_yaml_node *node;
    struct pc_yint request_head;
    struct pc_yint body_progress;
    struct pc_yint idle;
};

struct pc_res_request_id {
    const struct pc_yaml_node *node;
    struct pc_yint trust_client;
};

struct pc_res_path_policy {
    const struct pc_yaml_node *node;
    struct pc_ystr encoded_slashes;
};

struct pc_res_websocket {
    const struct pc_yaml_node *node;
    struct pc_yint enabled;
};

struct pc_res_client_policy {
    const struct pc_yaml_node *node;
    struct pc_ylist target_refs; /* of struct pc_res_target_ref */
    struct pc_res_client_limits *limits;
    struct pc_res_client_timeouts *timeouts;
    struct pc_res_request_id *request_id;
    struct pc_res_path_policy *path;
    struct pc_res_websocket *websocket;
};

struct pc_res_backend_timeouts {
    const struct pc_yaml_node *node;
    struct pc_yint connect;
    struct pc_yint response;
};

struct pc_res_pool {
    const struct pc_yaml_node *node;
    struct pc_yint max_idle_per_endpoint;
    struct pc_yint idle_timeout;
};

struct pc_res_backend_policy {
    const struct pc_yaml_node *node;
    struct pc_ylist target_refs; /* of struct pc_res_target_ref (sectionName unused) */
    struct pc_res_backend_timeouts *timeouts;
    struct pc_res_pool *connection_pool;
};

/* ---- ProxyConfig ---- */

struct pc_res_admin {
    const struct pc_yaml_node *node;
    struct pc_ystr address;
    struct pc_yint port;
    struct pc_yint enabled;
};

struct pc_res_access_log {
    const struct pc_yaml_node *node;
    struct pc_ystr path;
    struct pc_yint enabled;
};

struct pc_res_log {
    const struct pc_yaml_node *node;
    struct pc_ystr level;
    struct pc_ystr format;
};

struct pc_res_shutdown {
    const struct pc_yaml_node *node;
    struct pc_yint grace_period;
};

struct pc_res_watch {
    const struct pc_yaml_node *node;
    struct pc_yint enabled;
};

struct pc_res_proxy_config {
    const struct pc_yaml_node *node;
    struct pc_res_admin *admin;
    struct pc_res_access_log *access_log;
    struct pc_res_log *log;
    struct pc_res_shutdown *shutdown;
    struct pc_res_watch *watch;
};

/*
 * Returns the type for apiVersion and kind, or NULL. When NULL, *known_kind tells whether kind
 * itself is known (under another apiVersion), for a better message.
 */
const struct pc_res_type *pc_res_lookup(const char *api_version, const char *kind,
                                        bool *known_kind);

/* Returns the (first) apiVersion that serves kind, or NULL for an unknown kind. */
const char *pc_res_api_version_of(const char *kind);

/* Writes "Gateway (gateway.networking.k8s.io/v1), HTTPRoute (...), ..." into buf. */
void pc_res_list_kinds(char *buf, size_t size);

/* Every kind name, for suggestions; *n receives the count. */
const char *const *pc_res_kind_names(size_t *n);

/* The schema of a document whose kind is unknown: apiVersion, kind and metadata only. */
extern const struct pc_schema pc_res_header_schema;

#endif
