/*
 * The compiled configuration snapshot: everything the workers read to serve traffic.
 *
 * pc_config_load() reads YAML files of Kubernetes Gateway API resources (Gateway, HTTPRoute,
 * BackendTLSPolicy...), core Secrets and ConfigMaps, and portcullis's own API group
 * (ServiceEndpoints, ClientTrafficPolicy, BackendTrafficPolicy, ProxyConfig, CertificateFiles,
 * WorkloadIdentity, TrustBundle, AuthenticationPolicy, AuthorizationPolicy), validates them whole
 * and compiles one immutable snapshot: listeners grouped by port, each port with a compiled route
 * table, every backendRef resolved to endpoint addresses and every policy folded into the rules it
 * applies to. TLS material is recorded as sources (files, inline PEM, the Workload API) for
 * src/tls to read, never parsed; Rego modules are compiled, and regular expressions and SPIFFE ID
 * patterns of authorization rules too.
 *
 * A snapshot is built on the control thread, published to the workers by an atomic pointer swap,
 * and never modified afterwards; it is reference-counted so requests in flight finish on the one
 * they started with. All memory of a snapshot lives in its own arena.
 */
#ifndef PC_CONFIG_CONFIG_H
#define PC_CONFIG_CONFIG_H

#include <sys/socket.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/diag.h"

struct pc_arena;
struct pc_route_table;
struct pc_rego_policy;
struct pc_rego_query;
struct pc_spiffe_matcher;

/* Defaults applied where no policy sets a value (docs/CONFIGURATION.md lists them too). */
#define PC_CONFIG_DEFAULT_MAX_REQUEST_LINE_BYTES (8u * 1024)
#define PC_CONFIG_DEFAULT_MAX_HEADER_BYTES       (32u * 1024)
#define PC_CONFIG_DEFAULT_MAX_HEADER_COUNT       100u
#define PC_CONFIG_DEFAULT_MAX_BODY_BYTES         (10u * 1024 * 1024)
#define PC_CONFIG_DEFAULT_REQUEST_HEAD_MS        10000u
#define PC_CONFIG_DEFAULT_BODY_PROGRESS_MS       30000u
#define PC_CONFIG_DEFAULT_IDLE_MS                60000u
#define PC_CONFIG_DEFAULT_CONNECT_MS             5000u
#define PC_CONFIG_DEFAULT_RESPONSE_MS            30000u
#define PC_CONFIG_DEFAULT_POOL_MAX_IDLE          64u
#define PC_CONFIG_DEFAULT_POOL_IDLE_TIMEOUT_MS   60000u
#define PC_CONFIG_DEFAULT_ADMIN_PORT             9901u
#define PC_CONFIG_DEFAULT_SHUTDOWN_GRACE_MS      30000u
#define PC_CONFIG_DEFAULT_TLS_TICKET_ROTATION_MS 3600000u

/* AuthenticationPolicy defaults, in milliseconds. */
#define PC_CONFIG_DEFAULT_JWKS_REFRESH_MS            600000u
#define PC_CONFIG_DEFAULT_JWKS_MIN_REFRESH_MS        30000u
#define PC_CONFIG_DEFAULT_JWKS_STALE_MS              3600000u
#define PC_CONFIG_DEFAULT_JWKS_FETCH_TIMEOUT_MS      5000u
#define PC_CONFIG_DEFAULT_JWT_CLOCK_SKEW_MS          30000u
#define PC_CONFIG_DEFAULT_JWT_CACHE_TTL_MS           300000u
#define PC_CONFIG_DEFAULT_INTROSPECTION_TIMEOUT_MS   2000u
#define PC_CONFIG_DEFAULT_INTROSPECTION_CACHE_TTL_MS 30000u
#define PC_CONFIG_DEFAULT_DPOP_MAX_AGE_MS            60000u

/* AuthorizationPolicy and decision log defaults. */
#define PC_CONFIG_DEFAULT_AUTHZ_TIMEOUT_MS          200u /* OPA and HTTP check calls */
#define PC_CONFIG_DEFAULT_AUTHZ_DENY_STATUS         403u
#define PC_CONFIG_DEFAULT_REGO_STEP_LIMIT           100000u
#define PC_CONFIG_DEFAULT_DECISION_CHECKPOINT_MS    10000u
#define PC_CONFIG_DEFAULT_DECISION_CHECKPOINT_LINES 1000u
#define PC_CONFIG_DEFAULT_DECISION_QUEUE_LINES      65536u

/* Bounds on what a load reads; past them the configuration is refused. */
#define PC_CONFIG_MAX_FILE_BYTES (16u * 1024 * 1024)
#define PC_CONFIG_MAX_NODES      2000000u /* YAML nodes over all files; nesting is capped at 64 */

/* One header name and value; names are stored lower-cased. */
struct pc_header_pair {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Gateway API RequestHeaderModifier / ResponseHeaderModifier, compiled. */
struct pc_header_modifier {
    const struct pc_header_pair *set;
    size_t n_set;
    const struct pc_header_pair *add;
    size_t n_add;
    const struct pc_header_pair *remove; /* value unused */
    size_t n_remove;
};

enum pc_path_modifier_type {
    PC_PATH_MOD_NONE = 0,
    PC_PATH_MOD_REPLACE_FULL,   /* ReplaceFullPath */
    PC_PATH_MOD_REPLACE_PREFIX, /* ReplacePrefixMatch: only with a PathPrefix match */
};

struct pc_path_modifier {
    enum pc_path_modifier_type type;
    const char *value;
    size_t value_len;
};

/* Gateway API RequestRedirect. NULL or 0 fields keep the request's own value. */
struct pc_redirect {
    const char *scheme; /* "http" or "https" */
    const char *hostname;
    struct pc_path_modifier path;
    uint16_t port;        /* 0: derived from the scheme as the specification says */
    uint16_t status_code; /* 301 or 302 */
};

/* Gateway API URLRewrite. */
struct pc_url_rewrite {
    const char *hostname; /* NULL: keep */
    struct pc_path_modifier path;
};

/* Limits on what a client may send, per listener and narrowed per route. */
struct pc_client_limits {
    uint32_t max_request_line_bytes; /* exceeded: 414 */
    uint32_t max_header_bytes;       /* all field lines together; exceeded: 431 */
    uint32_t max_header_count;       /* exceeded: 431 */
    uint64_t max_body_bytes;         /* exceeded: 413 */
};

/* Client-side timeouts, per listener. */
struct pc_client_timeouts {
    uint32_t request_head_ms;  /* from the first byte of a request to the end of its head */
    uint32_t body_progress_ms; /* longest wait for more request-body bytes */
    uint32_t idle_ms;          /* keep-alive connection with no request in progress */
};

/* One upstream address. */
struct pc_endpoint {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const char *name; /* "127.0.0.1:8080" or "[::1]:8080": the pool key and the log label */
};

/*
 * Where PEM material comes from: a file (watched and reloaded when it changes, without a
 * restart), bytes held in the configuration (a Secret's data, reloaded with the configuration),
 * or the SPIFFE Workload API (the gateway's own X.509-SVID and the bundles it streams).
 */
enum pc_pem_origin {
    PC_PEM_FILE = 0,
    PC_PEM_INLINE,
    PC_PEM_WORKLOAD_API,
};

struct pc_pem_source {
    enum pc_pem_origin origin;
    const char *path; /* PC_PEM_FILE: absolute, or relative to the configuration file's directory
                         resolved at load */
    const char *data; /* PC_PEM_INLINE: PEM text (for PC_BUNDLE_SPIFFE, the bundle's JSON), with a
                         NUL after its len bytes; private keys are wiped with the snapshot */
    size_t len;
};

/* A certificate chain (leaf first) and its private key. */
struct pc_tls_certificate {
    const char *name; /* "namespace/name" of the resource it came from, for logs */
    struct pc_pem_source chain;
    struct pc_pem_source key;
    /* PC_PEM_WORKLOAD_API: the SVID to use when the agent serves several; NULL: its first. */
    const char *spiffe_id;
};

enum pc_bundle_format {
    PC_BUNDLE_PEM = 0, /* concatenated PEM certificates */
    PC_BUNDLE_SPIFFE,  /* the SPIFFE bundle format: JWKS whose keys have use "x509-svid" */
};

/* Trusted roots: a plain CA bundle, or the bundle of one SPIFFE trust domain. */
struct pc_trust_bundle {
    const char *name;         /* "namespace/name" of the resource, for logs */
    const char *trust_domain; /* "example.org" for a SPIFFE bundle; NULL for a plain CA bundle */
    enum pc_bundle_format format;
    struct pc_pem_source source; /* PC_PEM_WORKLOAD_API: the trust domain's bundle as streamed */
};

/* What a backend's TLS must present: a DNS name or a URI (a SPIFFE ID) among its SANs. */
enum pc_san_type {
    PC_SAN_DNS = 0,
    PC_SAN_URI,
};

struct pc_subject_alt_name {
    enum pc_san_type type;
    const char *value;
};

/* Gateway API BackendTLSPolicy, compiled, plus the gateway's own client certificate. */
struct pc_backend_tls {
    const char *policy;   /* "namespace/name" of the BackendTLSPolicy, for logs */
    const char *hostname; /* SNI; also the name verified when subject_alt_names is empty */
    const struct pc_subject_alt_name *subject_alt_names; /* any one must match */
    size_t n_subject_alt_names;
    const struct pc_trust_bundle *bundles; /* roots the upstream's chain must lead to */
    size_t n_bundles;
    bool use_system_roots; /* wellKnownCACertificates: System */
    /* The gateway's own certificate for mTLS to the upstream (Gateway spec.backendTLS
     * clientCertificateRef, often its X.509-SVID); NULL: none presented. */
    const struct pc_tls_certificate *client_certificate;
};

/* A backendRef resolved to endpoints, with its weight and upstream settings. */
struct pc_backend {
    const char *name; /* "namespace/service:port" */
    const struct pc_endpoint *endpoints;
    size_t n_endpoints;
    uint32_t weight;
    uint32_t connect_timeout_ms;
    uint32_t pool_max_idle;           /* idle connections kept per endpoint per worker */
    uint32_t pool_idle_timeout_ms;    /* an idle pooled connection older than this is closed */
    const struct pc_backend_tls *tls; /* NULL: plain TCP */
};

/*
 * x-forwarded-client-cert (Envoy's format) towards upstreams. A client's own header is always
 * removed first; SanitizeSet (the default) then sets one describing the verified client
 * certificate of this connection, when there is one, with the chosen details.
 */
enum pc_xfcc_mode {
    PC_XFCC_SANITIZE_SET = 0,
    PC_XFCC_SANITIZE,
};

struct pc_xfcc {
    enum pc_xfcc_mode mode;
    bool subject; /* Subject="..." (Hash= is always set) */
    bool uri;     /* URI=... for each URI SAN (the SPIFFE ID) */
    bool dns;     /* DNS=... for each DNS SAN */
    bool cert;    /* Cert="..." URL-encoded PEM of the leaf */
    bool chain;   /* Chain="..." URL-encoded PEM of the whole chain */
};

/* --- authentication (AuthenticationPolicy) --- */

/* JWS algorithms, as a bit set. "none" has no bit: it is never accepted. */
enum pc_jwt_alg {
    PC_JWT_RS256 = 1u << 0,
    PC_JWT_RS384 = 1u << 1,
    PC_JWT_RS512 = 1u << 2,
    PC_JWT_PS256 = 1u << 3,
    PC_JWT_PS384 = 1u << 4,
    PC_JWT_PS512 = 1u << 5,
    PC_JWT_ES256 = 1u << 6,
    PC_JWT_ES384 = 1u << 7,
    PC_JWT_ES512 = 1u << 8,
    PC_JWT_EDDSA = 1u << 9,
    PC_JWT_HS256 = 1u << 10, /* HS* only with a configured secret */
    PC_JWT_HS384 = 1u << 11,
    PC_JWT_HS512 = 1u << 12,
};

/* Where a provider's verification keys come from. */
enum pc_jwks_origin {
    PC_JWKS_URI = 0,       /* fetched from jwks_uri */
    PC_JWKS_DISCOVERY,     /* jwks_uri read from issuer + /.well-known/openid-configuration */
    PC_JWKS_LOCAL,         /* a JWKS document: a file (watched) or inline */
    PC_JWKS_SPIFFE_BUNDLE, /* the jwt-svid keys of a SPIFFE trust domain's bundle */
    PC_JWKS_HMAC,          /* no public keys: HS* tokens verified with hmac_secret only */
};

/* Where a request carries its token. */
enum pc_token_location {
    PC_TOKEN_BEARER = 0, /* Authorization: Bearer <token> (RFC 6750 section 2.1) */
    PC_TOKEN_HEADER,     /* a named header, with an optional value prefix */
    PC_TOKEN_COOKIE,     /* a named cookie */
};

/*
 * A claim named by a dotted path ("realm_access.roles"), and values it must hold. Claim names
 * may hold dots themselves ("https://example.com/roles"); validated: no empty name, no spaces.
 */
struct pc_claim_requirement {
    const char *path;
    const char *const *values; /* any one of them; n_values 0: the claim must merely exist */
    size_t n_values;
};

/* A claim copied to a request header for the upstream (the client's same-named one removed). */
struct pc_claim_header {
    const char *path;
    const char *header; /* lower-cased */
};

/* One JWT issuer the gateway accepts tokens from. */
struct pc_jwt_provider {
    const char *name;   /* "namespace/policy/provider", for logs and metrics */
    const char *issuer; /* iss must equal this exactly; NULL only for PC_JWKS_SPIFFE_BUNDLE, whose
                           tokens then carry no iss (SPIRE's default) */
    const char *const *audiences; /* aud must hold one of them; none: aud is not checked */
    size_t n_audiences;
    uint32_t algorithms; /* pc_jwt_alg bits; never empty */
    enum pc_jwks_origin key_origin;
    const char *jwks_uri;            /* PC_JWKS_URI; for DISCOVERY it comes from the document */
    struct pc_pem_source jwks;       /* PC_JWKS_LOCAL: the JWKS JSON (file or inline) */
    const char *spiffe_trust_domain; /* PC_JWKS_SPIFFE_BUNDLE: JWT-SVIDs; sub must be an ID of it */
    const struct pc_trust_bundle *spiffe_bundle; /* where that domain's keys come from */
    const char *hmac_secret;                     /* HS* algorithms only; wiped with the snapshot */
    size_t hmac_secret_len;
    const char *typ; /* expected typ header ("at+jwt"), NULL: JWT or absent */
    uint32_t clock_skew_s;
    const struct pc_claim_requirement *required_claims; /* every one must hold */
    size_t n_required_claims;
    uint32_t refresh_ms;     /* JWKS refetched this often */
    uint32_t min_refresh_ms; /* an unknown kid refetches at most this often */
    uint32_t stale_ms;       /* keys kept and used this long while the issuer is unreachable */
    uint32_t fetch_timeout_ms;
    uint32_t cache_ttl_ms; /* verified tokens remembered at most this long (and until exp) */
    bool serve_stale;      /* when keys cannot be fetched: serve from stale ones (else 503) */
};

/* OAuth 2.0 Token Introspection (RFC 7662) for opaque tokens. */
struct pc_introspection {
    const char *endpoint;
    const char *client_id;
    const char *client_secret; /* wiped with the snapshot */
    bool use_basic_auth;       /* client_secret_basic; else client_secret_post */
    const char *issuer;        /* principals from it carry this issuer */
    uint32_t timeout_ms;
    uint32_t cache_ttl_ms; /* active results remembered at most this long (and until exp) */
};

enum pc_sender_binding {
    PC_BINDING_NONE = 0,
    PC_BINDING_CERTIFICATE, /* RFC 8705: cnf.x5t#S256 must be this connection's client cert */
    PC_BINDING_DPOP,        /* RFC 9449: a DPoP proof must accompany the token */
    PC_BINDING_ANY,         /* whichever the token's cnf names; unbound tokens refused */
};

/* What one route requires of the caller's identity. */
struct pc_authn {
    const char *policy;                      /* "namespace/name" of the AuthenticationPolicy */
    const struct pc_jwt_provider *providers; /* chosen by the token's iss */
    size_t n_providers;
    const struct pc_introspection *introspection; /* tokens that are not JWTs; NULL: refused */
    enum pc_token_location location;
    const char *location_name;   /* header or cookie name (lower-cased for headers) */
    const char *location_prefix; /* header value prefix ("Bearer "), may be NULL */
    bool is_optional;            /* no token: served anonymously; a bad token is still refused */
    enum pc_sender_binding binding;
    bool binding_if_present;       /* bound tokens are checked; unbound ones accepted */
    uint32_t dpop_max_age_s;       /* a proof's iat may be this far in the past (or skew ahead) */
    const char *const *scopes_all; /* every scope here must be granted */
    size_t n_scopes_all;
    const char *const *scopes_any; /* one of these */
    size_t n_scopes_any;
    const struct pc_claim_requirement *claims_all;
    size_t n_claims_all;
    const struct pc_claim_requirement *claims_any;
    size_t n_claims_any;
    const char *const *role_paths; /* claim paths holding roles ("realm_access.roles") */
    size_t n_role_paths;
    const char *const *client_id_claims; /* where the client id is ("client_id", "azp") */
    size_t n_client_id_claims;
    const struct pc_claim_header *forward; /* claims sent upstream as headers */
    size_t n_forward;
    const char *realm; /* WWW-Authenticate realm, NULL: none */
};

/* --- Authorization (AuthorizationPolicy) --- */

/* How a string attribute (a header, a claim, a subject) is compared with a configured value. */
enum pc_string_match {
    PC_STRING_EXACT = 0, /* byte for byte */
    PC_STRING_PREFIX,
    PC_STRING_SUFFIX,
    PC_STRING_PRESENT, /* the attribute exists, whatever its value (value is NULL) */
    PC_STRING_REGEX,   /* the whole value matches regex (anchored at both ends) */
};

struct pc_string_matcher {
    enum pc_string_match type;
    const char *value; /* NUL-terminated; NULL for PC_STRING_PRESENT; the pattern for REGEX */
    size_t value_len;
    const void *regex; /* PC_STRING_REGEX: the compiled pcre2_code, JIT-compiled where possible,
                          freed with the snapshot. Compiled as route matches are (PCRE2_UTF,
                          PCRE2_MATCH_INVALID_UTF, anchored at both ends, '$' only at the end,
                          \C and backreferences refused); matching brings its own match data
                          and limits */
};

/* A request header test: the header named (lower case) must exist and match (any one of its
 * values, when repeated). */
struct pc_authz_header {
    const char *name;
    size_t name_len;
    struct pc_string_matcher match;
    bool is_inverted; /* the rule holds when the header does NOT match (or is absent) */
};

/*
 * A path test. Paths are compared after the gateway's normalisation (the path that was routed,
 * without the query). A template ("/users/{id}/orders/{order}") matches segment by segment: a
 * literal segment byte for byte, a "{name}" segment any one non-empty segment, which is captured
 * under that name; a last segment "{name...}" takes the rest of the path (one or more segments).
 */
enum pc_authz_path_type {
    PC_AUTHZ_PATH_EXACT = 0,
    PC_AUTHZ_PATH_PREFIX, /* whole segments, as HTTPRoute's PathPrefix: "/api" matches "/api/x"
                             and "/api", not "/apix" */
    PC_AUTHZ_PATH_TEMPLATE,
};

struct pc_authz_path_segment {
    const char *text; /* the literal (normalised as request paths are), or the parameter's name */
    size_t len;
    bool is_param;
    bool is_rest; /* "{name...}": the rest of the path; only the last segment */
};

struct pc_authz_path {
    enum pc_authz_path_type type;
    const char *value; /* EXACT and PREFIX: normalised as request paths are (a PREFIX without a
                          trailing '/', except "/" itself); TEMPLATE: the template's text, for
                          logs */
    size_t value_len;
    const struct pc_authz_path_segment *segments; /* TEMPLATE only */
    size_t n_segments;
};

/* A claim of the principal, by dotted path ("realm_access.roles"), tested with a matcher; a
 * claim that is an array holds when any element matches. Numbers and booleans compare as their
 * JSON text. */
struct pc_authz_claim {
    const char *path;
    struct pc_string_matcher match;
};

/* The object-level check: a parameter the path template captured must equal a claim (the
 * "/users/{id}" rule holds only when id equals the caller's sub). Compared byte for byte after
 * percent-decoding the captured segment; a claim that is an array holds when any element
 * equals it. */
struct pc_authz_param_claim {
    const char *param; /* a parameter of every template path of the rule */
    const char *claim; /* a claim path */
};

/* One CIDR block of client addresses. */
struct pc_authz_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix_len;
};

enum pc_authz_effect {
    PC_AUTHZ_ALLOW = 0,
    PC_AUTHZ_DENY,
};

/*
 * One native rule. Every condition that is set must hold (an empty list is no condition); within
 * a list, any one entry is enough (paths, methods, CIDRs, subjects...), except the all-of
 * lists (scopes_all, roles_all, claims_all, headers).
 */
struct pc_authz_rule {
    const char *name; /* the rule's name, or "<namespace>/<policy>/rules/<index>": logs, metrics,
                         reasons */
    enum pc_authz_effect effect;

    /* The request. */
    const char *const *methods; /* upper case, as sent */
    size_t n_methods;
    const struct pc_authz_path *paths;
    size_t n_paths;
    const struct pc_authz_header *headers; /* all of them */
    size_t n_headers;
    const struct pc_authz_cidr *sources; /* the client address (the TCP peer) */
    size_t n_sources;
    bool is_sources_inverted; /* the rule holds for addresses OUTSIDE sources */

    /* The principal (authentication's outcome). */
    bool require_authenticated; /* a principal must exist; set by any principal condition */
    bool require_anonymous;     /* no principal may exist */
    const struct pc_string_matcher *subjects; /* sub */
    size_t n_subjects;
    const char *const *issuers; /* iss, exact */
    size_t n_issuers;
    const char *const *client_ids; /* exact */
    size_t n_client_ids;
    const char *const *scopes_all; /* granted scopes */
    size_t n_scopes_all;
    const char *const *scopes_any;
    size_t n_scopes_any;
    const char *const *roles_all;
    size_t n_roles_all;
    const char *const *roles_any;
    size_t n_roles_any;
    const struct pc_authz_claim *claims_all;
    size_t n_claims_all;
    const struct pc_authz_claim *claims_any;
    size_t n_claims_any;
    const struct pc_authz_param_claim *param_claims; /* all of them */
    size_t n_param_claims;

    /* The TLS peer (the client certificate of this connection). */
    bool require_peer_certificate;                     /* set by any peer condition too */
    const struct pc_spiffe_matcher *const *spiffe_ids; /* the peer's SPIFFE ID, any of these
                                                          patterns (tls/spiffe.h) */
    size_t n_spiffe_ids;
    const struct pc_string_matcher *peer_subjects; /* the certificate subject as RFC 4514 text */
    size_t n_peer_subjects;
    const char *const *peer_dns_names; /* a DNS SAN, exact; "*.example.com" in a SAN is compared
                                          as text */
    size_t n_peer_dns_names;
};

/* Where a decision comes from: exactly one source per policy. */
enum pc_authz_source {
    PC_AUTHZ_RULES = 0, /* native rules: deny rules first, then allow rules, else deny */
    PC_AUTHZ_OPA,       /* OPA's REST Data API: POST <url>/v1/data/<path> {"input": ...} */
    PC_AUTHZ_HTTP,      /* a plain check service: 2xx allows (auth_request / ext_authz HTTP) */
    PC_AUTHZ_REGO,      /* Rego modules evaluated in process */
};

/* A remote decision point (OPA or an HTTP check service). */
struct pc_authz_remote {
    const char *url;            /* OPA: the whole data URL, ".../v1/data/<path>"; HTTP: the
                                   check URL, to which the request's path is appended when
                                   append_path is set (the URL then has no query and no
                                   trailing '/') */
    bool append_path;           /* HTTP only */
    uint32_t timeout_ms;        /* default 200 ms */
    const char *const *headers; /* HTTP: request headers copied to the check (lower case);
                                   OPA: headers included in the input (none listed:
                                   every header, as Envoy's external authorization sends
                                   them) */
    size_t n_headers;
    const char *const *response_headers; /* HTTP: headers of a 2xx check answer copied to the
                                            upstream request (lower case) */
    size_t n_response_headers;
    struct pc_pem_source ca; /* https: the CA bundle, a watched file or inline PEM; unset (path
                                and data NULL): the system's roots */
    /* Decision cache (per worker): off when ttl_ms is 0. Keyed by the values at these input
     * paths ("attributes.request.http.method", "principal.sub", "parsed_path"); never keyed on
     * anything else, so the operator decides what may share a decision. */
    uint32_t cache_ttl_ms;
    const char *const *cache_key;
    size_t n_cache_key;
};

/* Rego modules evaluated in process against the same input document OPA would receive. */
struct pc_authz_rego {
    const char *const *files; /* the module files, as named (for logs) */
    size_t n_files;
    const char *query; /* "data.portcullis.authz.decision": a boolean or a decision object */
    const struct pc_rego_policy *policy; /* compiled once at load, shared read-only by workers,
                                            freed with the snapshot */
    const struct pc_rego_query *compiled_query;
    uint64_t step_limit; /* evaluation steps per decision; past it: an error (fail closed) */
};

/* What one route requires before a request may pass; shared by every rule the policy covers. */
struct pc_authz {
    const char *policy; /* "namespace/name" of the AuthorizationPolicy */
    uint32_t id;        /* dense and unique within the snapshot: 0 .. pc_config.n_authzs - 1 */
    enum pc_authz_source source;
    const struct pc_authz_rule *deny_rules; /* PC_AUTHZ_RULES: any match denies */
    size_t n_deny_rules;
    const struct pc_authz_rule *allow_rules; /* then any match allows; nothing matched denies */
    size_t n_allow_rules;
    const struct pc_authz_remote *remote; /* PC_AUTHZ_OPA and PC_AUTHZ_HTTP */
    const struct pc_authz_rego *rego;     /* PC_AUTHZ_REGO */
    bool fail_open;       /* the decision point failing (timeout, down, malformed): allow, logged;
                             default false: 503 */
    bool is_shadow;       /* decisions are logged and counted, never enforced */
    uint16_t deny_status; /* default 403 */
};

/* One HTTPRoute rule, compiled: what to do with a request that matched it. */
struct pc_route_rule {
    const char *route_name; /* "namespace/name" */
    const char *rule_name;  /* the rule's name, or "namespace/name/<index>": metrics label */
    uint32_t rule_index;
    uint32_t id; /* dense and unique within the snapshot: 0 .. pc_config.n_rules - 1 */

    struct pc_header_modifier request_headers;
    struct pc_header_modifier response_headers;
    const struct pc_redirect *redirect;   /* NULL: none */
    const struct pc_url_rewrite *rewrite; /* NULL: none */

    const struct pc_backend *backends;
    size_t n_backends;
    uint32_t total_weight; /* 0: every request answers 500, as the specification requires */

    uint32_t request_timeout_ms;         /* HTTPRoute timeouts.request; 0: none */
    uint32_t backend_request_timeout_ms; /* timeouts.backendRequest or the policy's; 0: none */

    struct pc_client_limits limits; /* the listener's, narrowed by policies on the route */
    bool allow_websocket;           /* Upgrade: websocket is tunnelled */
    struct pc_xfcc xfcc;
    const struct pc_authn *authn; /* NULL: no authentication required */
    const struct pc_authz *authz; /* NULL: no authorization policy applies (allowed) */
};

enum pc_listener_protocol {
    PC_PROTO_HTTP = 0,
    PC_PROTO_HTTPS,
};

enum pc_client_cert_mode {
    PC_CLIENT_CERT_NONE = 0, /* no client certificate is asked for */
    PC_CLIENT_CERT_OPTIONAL, /* asked for; a connection without one is served, a bad one refused */
    PC_CLIENT_CERT_REQUIRE,  /* asked for; a connection without a valid one is refused */
};

/* An HTTPS listener's TLS: its certificates and how it verifies clients. */
struct pc_listener_tls {
    /* Chosen by SNI against the DNS names of each certificate (wildcards included), in order;
     * the first is served when nothing matches or no SNI is sent. */
    const struct pc_tls_certificate *certificates;
    size_t n_certificates;
    enum pc_client_cert_mode client_mode;
    /* Roots client chains must lead to. When any has a trust_domain, clients must present
     * X.509-SVIDs and are verified against the bundle of their SPIFFE ID's trust domain. */
    const struct pc_trust_bundle *client_bundles;
    size_t n_client_bundles;
};

/* One Gateway listener. */
struct pc_listener {
    const char *gateway;  /* "namespace/name" */
    const char *name;     /* the listener's sectionName */
    const char *hostname; /* NULL: any host */
    enum pc_listener_protocol protocol;
    struct pc_client_limits limits;
    struct pc_client_timeouts timeouts;
    bool trust_request_id;             /* keep a client's own x-request-id */
    bool keep_encoded_slashes;         /* %2F and %5C in paths are kept instead of refused */
    const struct pc_listener_tls *tls; /* HTTPS listeners; NULL for HTTP */
};

/*
 * One bound socket: every listener that shares an address and port. Limits that apply before
 * the Host header is known (request line, header bytes and count, head timeout) are the
 * largest of those listeners; the chosen listener's own limits apply once it is known.
 */
struct pc_port {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const char *name; /* "0.0.0.0:8080" */
    const struct pc_listener *listeners;
    size_t n_listeners;
    struct pc_client_limits head_limits;
    struct pc_client_timeouts head_timeouts;
    const struct pc_route_table *routes;
    bool is_tls; /* its listeners are HTTPS (a port never mixes HTTP and HTTPS) */
};

/*
 * The decision log (ProxyConfig spec.decisionLog): one hash-chained JSON line per authorization
 * decision, with checkpoint lines signed by an Ed25519 key. Disabled when path is NULL.
 */
struct pc_decision_log_settings {
    const char *path;                /* appended to; the chain continues across restarts; as
                                        written (relative to the working directory, like the
                                        access log) */
    const char *signing_key_file;    /* PEM Ed25519 private key (PKCS#8), checked at load;
                                        required with path; absolute (a relative path is read
                                        from the declaring file's directory) */
    uint32_t checkpoint_interval_ms; /* a signed checkpoint at least this often (default 10 s) */
    uint32_t checkpoint_lines;       /* and after this many lines (default 1000) */
    uint32_t queue_lines;            /* lines waiting for the writer; past it lines are dropped
                                        and counted (default 65536) */
};

/* Process-wide settings from the ProxyConfig resource, or defaults. */
struct pc_proxy_settings {
    struct sockaddr_storage admin_addr; /* default 127.0.0.1:9901 */
    socklen_t admin_addr_len;
    bool admin_enabled;
    const char *access_log_path; /* "-" for stdout, NULL when disabled */
    const char *log_level;       /* "debug" .. "error" */
    const char *log_format;      /* "text" or "json" */
    uint32_t shutdown_grace_ms;
    bool watch_files;                /* reload when a config file changes */
    uint32_t tls_ticket_rotation_ms; /* session-ticket keys rotate this often (default 1h) */
    bool tls_session_tickets;        /* TLS listeners issue session tickets (default true) */
    const char *workload_api_socket; /* SPIFFE Workload API: "unix:///path"; NULL when unused */
    struct pc_decision_log_settings decision_log;
};

struct pc_config {
    _Atomic long refs;
    struct pc_arena *arena;

    const struct pc_port *ports;
    size_t n_ports;
    struct pc_proxy_settings proxy;

    const struct pc_route_rule *const *rules; /* every compiled rule, indexed by its id */
    size_t n_rules;

    const char *const *files; /* every file that was read (Rego modules too), for the file
                                 watcher: a change reloads the configuration */
    size_t n_files;
    /* Every certificate, key and bundle file the TLS settings name, and every local JWKS file
     * (PC_PEM_FILE sources, once each), watched for rotation. */
    const char *const *material_files;
    size_t n_material_files;
    /* Every compiled authentication, once each (rules share them): the providers whose keys
     * must be fetched, refreshed or watched. */
    const struct pc_authn *const *authns;
    size_t n_authns;
    /* Every compiled authorization, once each, indexed by its id: per-policy state such as
     * decision caches and Rego contexts can live in arrays. */
    const struct pc_authz *const *authzs;
    size_t n_authzs;
    const char *source;  /* the path given to pc_config_load (the buffer's name for _buffer) */
    bool source_is_dir;  /* source is a directory: watch it for files added or removed too */
    uint64_t generation; /* set by the caller that publishes the snapshot */
};

/*
 * Loads, validates and compiles the configuration at path: one YAML file (several documents
 * allowed) or a directory whose *.yaml and *.yml files are read in name order. Every problem is
 * added to diag (which the caller owns); returns a snapshot with one reference, or NULL when diag
 * holds at least one error. Blocking file I/O: call it off the worker loops.
 */
struct pc_config *pc_config_load(const char *path, struct pc_diag *diag);

/*
 * As pc_config_load, for YAML held in memory: name labels the messages and is recorded as the
 * snapshot's only file; bytes[0..len) is borrowed for the call. For tests, fuzzing and
 * configurations that do not come from disk.
 */
struct pc_config *pc_config_load_buffer(const char *name, const char *bytes, size_t len,
                                        struct pc_diag *diag);

/* Takes a reference; returns cfg. Any thread. */
struct pc_config *pc_config_ref(struct pc_config *cfg);

/* Drops a reference, freeing the snapshot with the last one; accepts NULL. Any thread. */
void pc_config_unref(struct pc_config *cfg);

#endif
