/*
 * Schema tables for every resource kind, and the value checks they name.
 *
 * Bounds follow the Gateway API v1 CRDs where the specification sets them (16 hostnames, 16
 * rules, 64 matches, 16 filters and backendRefs, 1024-byte paths, 4096-byte header values...)
 * and are ours for the portcullis.dev kinds; the defaults of AuthenticationPolicy durations,
 * AuthorizationPolicy decision points and the decision log are config.h's. Tables are listed leaves
 * first because each one names the tables of its nested objects. The tables are constant data, safe
 * from any thread.
 */
#include "config/resource.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "config/value.h"
#include "core/err.h"

#define REQ PC_SCHEMA_REQUIRED
#define DEF PC_SCHEMA_DEFAULTED

#define AT(type, member) .offset = offsetof(type, member)
#define FIELDS(a)        a, sizeof(a) / sizeof((a)[0])
#define SCHEMA(var, type, fields)                                                                  \
    static const struct pc_schema var = { #type, sizeof(type), FIELDS(fields) }

/* Bounds of values that are stored as uint32 milliseconds or counts downstream. */
#define MAX_U32   4294967295LL
#define ONE_DAY   86400000LL
#define ONE_HOUR  3600000LL
#define ONE_MIB   1048576LL
#define ONE_TIB   1099511627776LL
#define STRLEN(n) .min = 1, .max = (n)

/* ---- checks ---- */

#define CHECK(fn, test, ...)                                                                       \
    static bool fn(const char *s, size_t len, struct pc_schema_msg *msg)                           \
    {                                                                                              \
        if (test) {                                                                                \
            return true;                                                                           \
        }                                                                                          \
        snprintf(msg->problem, sizeof(msg->problem), __VA_ARGS__);                                 \
        return false;                                                                              \
    }

CHECK(check_subdomain, pc_value_is_dns_subdomain(s, len),
      "\"%.64s\" is not a valid name: lower-case letters, digits, '-' and '.'", s)
CHECK(check_dns_label, pc_value_is_dns_label(s, len),
      "\"%.64s\" is not a valid namespace: lower-case letters, digits and '-'", s)
CHECK(check_header_name, pc_value_is_header_name(s, len), "\"%.64s\" is not a valid header name", s)
CHECK(check_label_key, pc_value_is_label_key(s, len), "\"%.64s\" is not a valid label key", s)
CHECK(check_label_value, pc_value_is_label_value(s, len), "\"%.64s\" is not a valid label value", s)

static bool
check_header_value(const char *s, size_t len, struct pc_schema_msg *msg)
{
    if (pc_value_is_header_value(s, len)) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "not a valid header value");
    snprintf(msg->hint, sizeof(msg->hint),
             "use printable ASCII, with single spaces or tabs between words and none at the ends");
    return false;
}

static bool
check_hostname(const char *s, size_t len, struct pc_schema_msg *msg, bool allow_wildcard)
{
    if (pc_value_is_hostname(s, len, allow_wildcard)) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not a valid hostname", s);
    snprintf(msg->hint, sizeof(msg->hint),
             "use lower-case DNS labels%s; IP addresses are not hostnames",
             allow_wildcard ? ", optionally after a leading \"*.\"" : "");
    return false;
}

static bool
check_wild_hostname(const char *s, size_t len, struct pc_schema_msg *msg)
{
    return check_hostname(s, len, msg, true);
}

static bool
check_precise_hostname(const char *s, size_t len, struct pc_schema_msg *msg)
{
    return check_hostname(s, len, msg, false);
}

static bool
check_ip(const char *s, size_t len, struct pc_schema_msg *msg)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;

    if (strlen(s) == len && pc_value_ip(s, 0, &addr, &addr_len) == 0) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not an IP address", s);
    snprintf(msg->hint, sizeof(msg->hint), "write an IPv4 or IPv6 literal such as 127.0.0.1");
    return false;
}

static bool
check_endpoint(const char *s, size_t len, struct pc_schema_msg *msg)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char name[64];
    int rc = pc_value_endpoint(s, len, &addr, &addr_len, name, sizeof(name));

    if (rc == 0) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "endpoint \"%.64s\" is not an IP address and port",
             s);
    snprintf(msg->hint, sizeof(msg->hint), "%s",
             rc == PC_ENOENT ? "use an IP address; host names are not resolved"
                             : "write \"IPv4:port\" or \"[IPv6]:port\", e.g. \"127.0.0.1:8080\"");
    return false;
}

static bool
check_timestamp(const char *s, size_t len, struct pc_schema_msg *msg)
{
    int64_t ms;

    if (pc_value_timestamp(s, len, &ms) == 0) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not an RFC 3339 timestamp", s);
    snprintf(msg->hint, sizeof(msg->hint), "write it like \"2024-05-01T10:00:00Z\"");
    return false;
}

static bool
check_protocol(const char *s, size_t len, struct pc_schema_msg *msg)
{
    /* Core protocol names are case-insensitive in the specification. */
    if (strcasecmp(s, "HTTP") == 0 || strcasecmp(s, "HTTPS") == 0) {
        return true;
    }
    if (strcasecmp(s, "TLS") == 0) {
        snprintf(msg->problem, sizeof(msg->problem), "protocol %s is not supported", s);
        snprintf(
            msg->hint, sizeof(msg->hint),
            "TLS passthrough is not supported; use protocol HTTPS to terminate TLS at the gateway");
    } else if (strcasecmp(s, "TCP") == 0 || strcasecmp(s, "UDP") == 0) {
        snprintf(msg->problem, sizeof(msg->problem), "protocol %s is not supported", s);
        snprintf(msg->hint, sizeof(msg->hint), "only HTTP and HTTPS listeners are supported");
    } else {
        snprintf(msg->problem, sizeof(msg->problem), "unknown protocol \"%.64s\"", s);
        snprintf(msg->hint, sizeof(msg->hint), "use HTTP or HTTPS");
    }
    return false;
}

static bool
check_address_type(const char *s, size_t len, struct pc_schema_msg *msg)
{
    if (strcmp(s, "IPAddress") == 0) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "address type \"%.64s\" is not supported", s);
    snprintf(msg->hint, sizeof(msg->hint), "use type IPAddress with an IP literal value");
    return false;
}

static bool
check_app_protocol(const char *s, size_t len, struct pc_schema_msg *msg)
{
    if (strcmp(s, "http") == 0 || strcmp(s, "kubernetes.io/ws") == 0) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "appProtocol \"%.64s\" is not supported", s);
    snprintf(msg->hint, sizeof(msg->hint),
             "backends are spoken to in HTTP/1.1 without TLS: use \"http\" or leave it out");
    return false;
}

static bool
check_data_key(const char *s, size_t len, struct pc_schema_msg *msg)
{
    bool ok = len > 0 && len <= 253;

    for (size_t i = 0; ok && i < len; i++) {
        char c = s[i];

        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
             || c == '_' || c == '.';
    }
    if (ok) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not a valid data key", s);
    snprintf(msg->hint, sizeof(msg->hint), "use letters, digits, '-', '_' and '.'");
    return false;
}

/* Paths reach open(2), which would stop at an embedded NUL and read another file. */
static bool
check_file_path(const char *s, size_t len, struct pc_schema_msg *msg)
{
    if (strlen(s) == len) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "a path must not hold NUL characters");
    return false;
}

static bool
check_trust_domain(const char *s, size_t len, struct pc_schema_msg *msg)
{
    const char *problem = pc_value_trust_domain_problem(s, len);

    if (problem == NULL) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "trust domain \"%.64s\" is not valid: %s", s,
             problem);
    snprintf(
        msg->hint, sizeof(msg->hint),
        "a trust domain is lower-case letters, digits, '.', '-' and '_', such as \"example.org\", without scheme, port or user");
    return false;
}

static bool
check_spiffe_id(const char *s, size_t len, struct pc_schema_msg *msg)
{
    const char *problem = pc_value_spiffe_id_problem(s, len);

    if (problem == NULL) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "SPIFFE ID \"%.128s\" is not valid: %s", s,
             problem);
    snprintf(
        msg->hint, sizeof(msg->hint),
        "write spiffe://<trust domain>/<path>, with path segments of letters, digits, '.', '-' and '_'");
    return false;
}

/* RFC 3986 section 3.1 scheme, ':', then printable characters. */
static bool
is_absolute_uri(const char *s, size_t len)
{
    size_t i = 0;

    if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        return false;
    }
    while (i < len && s[i] != ':') {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+'
              || c == '-' || c == '.')) {
            return false;
        }
        i++;
    }
    if (i + 1 >= len) {
        return false;
    }
    for (i++; i < len; i++) {
        if (s[i] <= ' ' || s[i] > '~') {
            return false;
        }
    }
    return true;
}

/* A URI subject alternative name: SPIFFE IDs get the SPIFFE rules, other URIs only RFC 3986's. */
static bool
check_san_uri(const char *s, size_t len, struct pc_schema_msg *msg)
{
    if (len >= 7 && strncasecmp(s, "spiffe:", 7) == 0) {
        return check_spiffe_id(s, len, msg);
    }
    if (is_absolute_uri(s, len)) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not an absolute URI", s);
    snprintf(msg->hint, sizeof(msg->hint),
             "write a scheme and what follows it, such as spiffe://example.org/ns/default/sa/api");
    return false;
}

static bool
check_workload_socket(const char *s, size_t len, struct pc_schema_msg *msg)
{
    const char *problem = pc_value_workload_socket_problem(s, len);

    if (problem == NULL) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not a Workload API address: %s", s,
             problem);
    snprintf(msg->hint, sizeof(msg->hint), "write unix:///path/to/agent.sock or tcp://IP:port");
    return false;
}

static bool
check_xfcc_detail(const char *s, size_t len, struct pc_schema_msg *msg)
{
    static const char *const details[] = { "Subject", "URI", "DNS", "Cert", "Chain" };

    for (size_t i = 0; i < sizeof(details) / sizeof(details[0]); i++) {
        if (strcmp(s, details[i]) == 0) {
            return true;
        }
    }
    snprintf(msg->problem, sizeof(msg->problem), "unknown detail \"%.64s\"", s);
    snprintf(msg->hint, sizeof(msg->hint), "allowed: Subject, URI, DNS, Cert, Chain");
    return false;
}

/* ---- checks of AuthenticationPolicy values ---- */

/* Issuers, audiences and similar identifiers: printable ASCII without spaces. */
static bool
check_identifier(const char *s, size_t len, struct pc_schema_msg *msg)
{
    bool ok = len > 0 && len <= 2048;

    for (size_t i = 0; ok && i < len; i++) {
        ok = s[i] > ' ' && s[i] <= '~';
    }
    if (ok) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "%s",
             len == 0 ? "must not be empty"
                      : "must be 1 to 2048 printable ASCII characters without spaces");
    return false;
}

static bool
check_algorithm(const char *s, size_t len, struct pc_schema_msg *msg)
{
    size_t n;
    const char *const *names = pc_value_jwt_alg_names(&n);
    const char *near;

    if (pc_value_jwt_alg_index(s, len) >= 0) {
        return true;
    }
    if (strcasecmp(s, "none") == 0) {
        snprintf(msg->problem, sizeof(msg->problem),
                 "algorithm \"none\" is refused: it would accept unsigned tokens as genuine");
        snprintf(msg->hint, sizeof(msg->hint),
                 "list the algorithms your identity provider signs with, such as RS256 or ES256");
        return false;
    }
    near = pc_value_suggest(s, names, n);
    snprintf(msg->problem, sizeof(msg->problem), "unknown algorithm \"%.64s\"", s);
    snprintf(
        msg->hint, sizeof(msg->hint),
        "%s%s%sallowed: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512",
        near != NULL ? "did you mean \"" : "", near != NULL ? near : "",
        near != NULL ? "\"? " : "");
    return false;
}

/* URLs the gateway fetches itself: https, or plain http to a loopback address only. */
static bool
check_url(const char *s, size_t len, struct pc_schema_msg *msg)
{
    bool is_http;
    bool is_loopback;
    const char *problem = pc_value_url_problem(s, len, &is_http, &is_loopback);

    if (problem == NULL && (!is_http || is_loopback)) {
        return true;
    }
    if (problem == NULL) {
        snprintf(msg->problem, sizeof(msg->problem), "scheme \"http\" refused");
        snprintf(
            msg->hint, sizeof(msg->hint),
            "use https://; plain http is allowed only to a loopback address (127.0.0.1, ::1, localhost)");
        return false;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not a usable URL: %s", s, problem);
    snprintf(msg->hint, sizeof(msg->hint), "write https://host[:port]/path");
    return false;
}

static bool
check_claim_path(const char *s, size_t len, struct pc_schema_msg *msg)
{
    const char *problem = pc_value_claim_path_problem(s, len);

    if (problem == NULL) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "claim path \"%.64s\" is not valid: %s", s,
             problem);
    snprintf(msg->hint, sizeof(msg->hint),
             "write claim names separated by '.', such as \"realm_access.roles\"");
    return false;
}

static bool
check_claim_value(const char *s, size_t len, struct pc_schema_msg *msg)
{
    if (len > 0 && len <= 1024 && strlen(s) == len) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "%s",
             len == 0 ? "must not be empty" : "must be 1 to 1024 characters without NUL");
    return false;
}

/* A media type without parameters (RFC 7515 section 4.1.9): "at+jwt", "application/jwt". */
static bool
check_typ(const char *s, size_t len, struct pc_schema_msg *msg)
{
    const char *slash = memchr(s, '/', len);
    size_t head = slash != NULL ? (size_t)(slash - s) : len;

    if (len <= 128 && pc_value_is_header_name(s, head)
        && (slash == NULL || pc_value_is_header_name(slash + 1, len - head - 1))) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not a media type", s);
    snprintf(msg->hint, sizeof(msg->hint), "write it like \"at+jwt\" or \"application/jwt\"");
    return false;
}

/* A header value prefix ("Bearer "): printable ASCII, spaces allowed after the first character. */
static bool
check_token_prefix(const char *s, size_t len, struct pc_schema_msg *msg)
{
    bool ok = len > 0 && len <= 64 && s[0] != ' ';

    for (size_t i = 0; ok && i < len; i++) {
        ok = s[i] >= ' ' && s[i] <= '~';
    }
    if (ok) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "not a valid header value prefix");
    snprintf(
        msg->hint, sizeof(msg->hint),
        "use 1 to 64 printable ASCII characters that do not start with a space, such as \"Bearer \"");
    return false;
}

CHECK(check_cookie_name, pc_value_is_header_name(s, len), "\"%.64s\" is not a valid cookie name", s)
CHECK(
    check_scope, pc_value_is_scope(s, len),
    "\"%.64s\" is not a valid scope: 1 to 256 printable ASCII characters without spaces, '\"' or '\\'",
    s)

/* OAuth 2.0 client identifiers are VSCHAR (RFC 6749 appendix A.1): spaces are allowed. */
static bool
check_client_id(const char *s, size_t len, struct pc_schema_msg *msg)
{
    bool ok = len > 0 && len <= 256;

    for (size_t i = 0; ok && i < len; i++) {
        ok = s[i] >= ' ' && s[i] <= '~';
    }
    if (ok) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "must be 1 to 256 printable ASCII characters");
    return false;
}

/* The realm goes into WWW-Authenticate as a quoted-string (RFC 9110 section 5.6.4). */
static bool
check_realm(const char *s, size_t len, struct pc_schema_msg *msg)
{
    bool ok = len > 0 && len <= 128;

    for (size_t i = 0; ok && i < len; i++) {
        ok = s[i] >= ' ' && s[i] <= '~' && s[i] != '"' && s[i] != '\\';
    }
    if (ok) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "not a valid realm");
    snprintf(msg->hint, sizeof(msg->hint),
             "use 1 to 128 printable ASCII characters without '\"' or '\\'");
    return false;
}

/* Secrets are core resources: group "". */
static bool
check_core_group(const char *s, size_t len, struct pc_schema_msg *msg)
{
    if (len == 0) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "group of a Secret must be \"\"");
    snprintf(msg->hint, sizeof(msg->hint), "leave group out");
    return false;
}

/* ---- checks of AuthorizationPolicy values ---- */

/* Methods are case-sensitive tokens (RFC 9110 section 9.1); every registered one is upper case. */
static bool
check_method(const char *s, size_t len, struct pc_schema_msg *msg)
{
    char upper[33];

    if (!pc_value_is_header_name(s, len) || len > 32) {
        snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not a valid method", s);
        snprintf(msg->hint, sizeof(msg->hint), "a method is a token such as GET or PURGE");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        upper[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 'a' + 'A') : s[i];
    }
    upper[len] = '\0';
    if (memcmp(upper, s, len) == 0) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "method \"%s\" is not upper case", s);
    snprintf(msg->hint, sizeof(msg->hint),
             "methods are case-sensitive (RFC 9110 section 9.1); write \"%s\"", upper);
    return false;
}

static bool
check_cidr(const char *s, size_t len, struct pc_schema_msg *msg)
{
    struct pc_value_cidr cidr;
    const char *problem = pc_value_cidr_problem(s, len, &cidr);
    char block[64];

    if (problem == NULL) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not a CIDR block: %s", s, problem);
    if (cidr.family != 0 && strcmp(problem, "it has host bits set") == 0) {
        pc_value_format_cidr(&cidr, block, sizeof(block));
        snprintf(msg->hint, sizeof(msg->hint),
                 "did you mean %s? a single address is written without a prefix, or with /%u",
                 block, cidr.family == AF_INET ? 32u : 128u);
    } else {
        snprintf(msg->hint, sizeof(msg->hint),
                 "write an address and a prefix length, such as 10.0.0.0/8 or 2001:db8::/32");
    }
    return false;
}

/* A path template parameter: [A-Za-z_][A-Za-z0-9_]*, as in OpenAPI and most routers. */
static bool
is_identifier(const char *s, size_t len)
{
    bool ok = len > 0 && len <= 64 && !(s[0] >= '0' && s[0] <= '9');

    for (size_t i = 0; ok && i < len; i++) {
        char c = s[i];

        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }
    return ok;
}

static bool
check_param_name(const char *s, size_t len, struct pc_schema_msg *msg)
{
    if (is_identifier(s, len)) {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.64s\" is not a parameter name", s);
    snprintf(msg->hint, sizeof(msg->hint),
             "a parameter name is a letter or '_' followed by letters, digits and '_', as in {id}");
    return false;
}

/* Input document paths a decision cache may be keyed on: each is always defined, perhaps null. */
static const char *const cache_keys[] = {
    "attributes.request.http.method",
    "attributes.request.http.path",
    "attributes.request.http.host",
    "attributes.request.http.headers.<name>",
    "parsed_path",
    "principal.sub",
    "principal.iss",
    "principal.client_id",
    "peer.spiffe_id",
    "attributes.source.address",
};

#define HEADER_KEY_PREFIX "attributes.request.http.headers."

static bool
check_header_key(const char *s, size_t len, struct pc_schema_msg *msg)
{
    const char *name = s + strlen(HEADER_KEY_PREFIX);
    size_t name_len = len - strlen(HEADER_KEY_PREFIX);

    if (!pc_value_is_header_name(name, name_len)) {
        snprintf(msg->problem, sizeof(msg->problem),
                 "\"%.64s\" is not a header name in cache key \"%.128s\"", name, s);
        return false;
    }
    for (size_t i = 0; i < name_len; i++) {
        if (name[i] >= 'A' && name[i] <= 'Z') {
            snprintf(msg->problem, sizeof(msg->problem),
                     "header name \"%.64s\" in cache key \"%.128s\" is not lower case", name, s);
            snprintf(msg->hint, sizeof(msg->hint),
                     "the input document names headers in lower case");
            return false;
        }
    }
    return true;
}

static bool
check_cache_key(const char *s, size_t len, struct pc_schema_msg *msg)
{
    size_t n = sizeof(cache_keys) / sizeof(cache_keys[0]);
    size_t pos = 0;
    const char *near;

    if (len > strlen(HEADER_KEY_PREFIX)
        && strncmp(s, HEADER_KEY_PREFIX, strlen(HEADER_KEY_PREFIX)) == 0) {
        return check_header_key(s, len, msg);
    }
    for (size_t i = 0; i < n; i++) {
        if (strlen(cache_keys[i]) == len && strcmp(s, cache_keys[i]) == 0) {
            return true;
        }
    }
    near = pc_value_suggest(s, cache_keys, n);
    snprintf(msg->problem, sizeof(msg->problem), "\"%.128s\" is not a cache key", s);
    if (near != NULL) {
        pos = (size_t)snprintf(msg->hint, sizeof(msg->hint), "did you mean \"%s\"? ", near);
    }
    snprintf(
        msg->hint + pos, sizeof(msg->hint) - pos,
        "a cache is keyed on input paths that are always defined: attributes.request.http.method, .path, .host or .headers.<name>, parsed_path, principal.sub, .iss or .client_id, peer.spiffe_id, attributes.source.address");
    return false;
}

/*
 * OPA's REST Data API answers POST <opa>/v1/data/<package path> with the value of that document
 * (OPA REST API, "Get a Document (with Input)"); a URL without a document path would ask for
 * the whole data tree.
 */
static bool
check_opa_url(const char *s, size_t len, struct pc_schema_msg *msg)
{
    const char *data = strstr(s, "/v1/data/");
    size_t path_start = data != NULL ? (size_t)(data - s) + strlen("/v1/data/") : len;

    if (!check_url(s, len, msg)) {
        return false;
    }
    if (data != NULL && path_start < len && s[path_start] != '?' && s[path_start] != '/') {
        return true;
    }
    snprintf(msg->problem, sizeof(msg->problem), "\"%.128s\" names no document under /v1/data/", s);
    snprintf(
        msg->hint, sizeof(msg->hint),
        "give OPA's Data API URL of the decision, such as http://127.0.0.1:8181/v1/data/portcullis/authz");
    return false;
}

/* ---- enums ---- */

static const char *const from_values[] = { "All", "Selector", "Same", NULL };
static const char *const operator_values[] = { "In", "NotIn", "Exists", "DoesNotExist", NULL };
static const char *const path_types[] = { "Exact", "PathPrefix", "RegularExpression", NULL };
static const char *const value_types[] = { "Exact", "RegularExpression", NULL };
static const char *const methods[] = { "GET",     "HEAD",    "POST",  "PUT",   "DELETE",
                                       "CONNECT", "OPTIONS", "TRACE", "PATCH", NULL };
static const char *const filter_types[] = {
    "RequestHeaderModifier",
    "ResponseHeaderModifier",
    "RequestRedirect",
    "URLRewrite",
    "RequestMirror",
    "ExtensionRef",
    "CORS",
    "ExternalAuth",
    NULL,
};
static const char *const schemes[] = { "http", "https", NULL };
static const char *const path_modifier_types[] = { "ReplaceFullPath", "ReplacePrefixMatch", NULL };
static const char *const ctp_kinds[] = { "Gateway", "HTTPRoute", NULL };
static const char *const btp_kinds[] = { "HTTPRoute", "Service", NULL };
static const char *const slash_modes[] = { "Reject", "Keep", NULL };
static const char *const log_levels[] = { "debug", "info", "notice", "warn", "error", NULL };
static const char *const log_formats[] = { "text", "json", NULL };
static const char *const tls_modes[] = { "Terminate", "Passthrough", NULL };
static const char *const client_cert_modes[] = { "Require", "Optional", NULL };
static const char *const xfcc_modes[] = { "SanitizeSet", "Sanitize", NULL };
static const char *const bundle_formats[] = { "PEM", "SPIFFE", NULL };
static const char *const service_kinds[] = { "Service", NULL };
static const char *const well_known_cas[] = { "System", NULL };
static const char *const san_types[] = { "Hostname", "URI", NULL };
static const char *const own_groups[] = { PC_RESOURCE_OWN_GROUP, NULL };
static const char *const secret_kinds[] = { "Secret", NULL };
static const char *const trust_bundle_kinds[] = { "TrustBundle", NULL };
static const char *const auth_methods[] = { "client_secret_basic", "client_secret_post", NULL };
static const char *const binding_modes[] = { "None", "Certificate", "DPoP", "Any", NULL };
static const char *const string_match_types[] = {
    "Exact", "Prefix", "Suffix", "Present", "RegularExpression", NULL
};
static const char *const authz_path_types[] = { "Exact", "PathPrefix", "Template", NULL };
static const char *const authz_actions[] = { "Allow", "Deny", NULL };
static const char *const authz_modes[] = { "Enforce", "Shadow", NULL };
static const char *const failure_modes[] = { "Closed", "Open", NULL };

/* ---- shared ---- */

static const struct pc_schema_field label_expr_fields[] = {
    { "key", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_label_expr, key),
      .check = check_label_key },
    { "operator", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_label_expr, operator_),
      .values = operator_values },
    { "values", PC_SCHEMA_LIST, 0, AT(struct pc_resource_label_expr, values),
      .check = check_label_value },
};
SCHEMA(label_expr_schema, struct pc_resource_label_expr, label_expr_fields);

static const struct pc_schema_field selector_fields[] = {
    { "matchLabels", PC_SCHEMA_MAP, 0, AT(struct pc_resource_selector, match_labels),
      .key_check = check_label_key, .check = check_label_value },
    { "matchExpressions", PC_SCHEMA_LIST, 0, AT(struct pc_resource_selector, match_expressions),
      .sub = &label_expr_schema },
};
SCHEMA(selector_schema, struct pc_resource_selector, selector_fields);

/* ---- Gateway ---- */

static const struct pc_schema_field route_kind_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_route_kind, group),
      .def_str = PC_RESOURCE_GATEWAY_GROUP },
    { "kind", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_route_kind, kind), STRLEN(63) },
};
SCHEMA(route_kind_schema, struct pc_resource_route_kind, route_kind_fields);

static const struct pc_schema_field route_ns_fields[] = {
    { "from", PC_SCHEMA_STRING, 0, AT(struct pc_resource_route_namespaces, from),
      .values = from_values, .def_str = "Same" },
    { "selector", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_route_namespaces, selector),
      .sub = &selector_schema },
};
SCHEMA(route_ns_schema, struct pc_resource_route_namespaces, route_ns_fields);

static const struct pc_schema_field allowed_fields[] = {
    { "namespaces", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_allowed_routes, namespaces),
      .sub = &route_ns_schema },
    { "kinds", PC_SCHEMA_LIST, 0, AT(struct pc_resource_allowed_routes, kinds), .min = 0, .max = 8,
      .sub = &route_kind_schema },
};
SCHEMA(allowed_schema, struct pc_resource_allowed_routes, allowed_fields);

/* A certificateRef (SecretObjectReference): a Secret unless group and kind say otherwise. */
static const struct pc_schema_field secret_ref_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, group), .def_str = "" },
    { "kind", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, kind), .def_str = "Secret" },
    { "namespace", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, namespace_),
      .check = check_dns_label },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_object_ref, name),
      .check = check_subdomain },
};
SCHEMA(secret_ref_schema, struct pc_resource_object_ref, secret_ref_fields);

/* A caCertificateRef (ObjectReference): a ConfigMap unless group and kind say otherwise. */
static const struct pc_schema_field ca_ref_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, group), .def_str = "" },
    { "kind", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, kind),
      .def_str = "ConfigMap" },
    { "namespace", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, namespace_),
      .check = check_dns_label },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_object_ref, name),
      .check = check_subdomain },
};
SCHEMA(ca_ref_schema, struct pc_resource_object_ref, ca_ref_fields);

/* The same, local to the referring resource's namespace (LocalObjectReference). */
static const struct pc_schema_field local_ca_ref_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, group), .def_str = "" },
    { "kind", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, kind),
      .def_str = "ConfigMap" },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_object_ref, name),
      .check = check_subdomain },
};
SCHEMA(local_ca_ref_schema, struct pc_resource_object_ref, local_ca_ref_fields);

static const struct pc_schema_field frontend_validation_fields[] = {
    { "caCertificateRefs", PC_SCHEMA_LIST, REQ,
      AT(struct pc_resource_frontend_validation, ca_certificate_refs), .min = 1, .max = 8,
      .sub = &ca_ref_schema },
    { "mode", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint =
          "set it in a ClientTrafficPolicy targeting the Gateway or listener: spec.tls.clientCertificate.mode, Require or Optional" },
};
SCHEMA(frontend_validation_schema, struct pc_resource_frontend_validation,
       frontend_validation_fields);

static const struct pc_schema_field listener_tls_fields[] = {
    { "mode", PC_SCHEMA_STRING, 0, AT(struct pc_resource_listener_tls, mode), .values = tls_modes,
      .def_str = "Terminate" },
    { "certificateRefs", PC_SCHEMA_LIST, 0, AT(struct pc_resource_listener_tls, certificate_refs),
      .min = 0, .max = 64, .sub = &secret_ref_schema },
    { "frontendValidation", PC_SCHEMA_OBJECT, 0,
      AT(struct pc_resource_listener_tls, frontend_validation),
      .sub = &frontend_validation_schema },
    { "options", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "remove it; listeners speak TLS 1.2 and 1.3 with AEAD ciphers only" },
};
SCHEMA(listener_tls_schema, struct pc_resource_listener_tls, listener_tls_fields);

static const struct pc_schema_field listener_fields[] = {
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_listener, name),
      .check = check_subdomain },
    { "hostname", PC_SCHEMA_STRING, 0, AT(struct pc_resource_listener, hostname),
      .check = check_wild_hostname },
    { "port", PC_SCHEMA_INT, REQ, AT(struct pc_resource_listener, port), .min = 1, .max = 65535 },
    { "protocol", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_listener, protocol),
      .check = check_protocol },
    { "tls", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_listener, tls),
      .sub = &listener_tls_schema },
    { "allowedRoutes", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_listener, allowed_routes),
      .sub = &allowed_schema },
};
SCHEMA(listener_schema, struct pc_resource_listener, listener_fields);

static const struct pc_schema_field address_fields[] = {
    { "type", PC_SCHEMA_STRING, 0, AT(struct pc_resource_address, type),
      .check = check_address_type, .def_str = "IPAddress" },
    { "value", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_address, value), .check = check_ip },
};
SCHEMA(address_schema, struct pc_resource_address, address_fields);

static const struct pc_schema_field gateway_backend_tls_fields[] = {
    { "clientCertificateRef", PC_SCHEMA_OBJECT, 0,
      AT(struct pc_resource_gateway_backend_tls, client_certificate_ref),
      .sub = &secret_ref_schema },
};
SCHEMA(gateway_backend_tls_schema, struct pc_resource_gateway_backend_tls,
       gateway_backend_tls_fields);

static const struct pc_schema_field gateway_fields[] = {
    { "gatewayClassName", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_gateway, class_name),
      STRLEN(253) },
    { "addresses", PC_SCHEMA_LIST, 0, AT(struct pc_resource_gateway, addresses), .min = 0,
      .max = 16, .sub = &address_schema },
    { "listeners", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_gateway, listeners), .min = 1,
      .max = 64, .sub = &listener_schema },
    { "backendTLS", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_gateway, backend_tls),
      .sub = &gateway_backend_tls_schema },
    { "tls", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint =
          "give each listener its tls, and the gateway's client certificate towards backends in spec.backendTLS.clientCertificateRef" },
    { "infrastructure", PC_SCHEMA_UNSUPPORTED, 0, 0, .hint = "remove it" },
    { "allowedListeners", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "ListenerSets are not supported; declare listeners in the Gateway" },
};
SCHEMA(gateway_schema, struct pc_resource_gateway, gateway_fields);

/* ---- HTTPRoute ---- */

static const struct pc_schema_field parent_ref_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_parent_ref, group),
      .def_str = PC_RESOURCE_GATEWAY_GROUP },
    { "kind", PC_SCHEMA_STRING, 0, AT(struct pc_resource_parent_ref, kind), .def_str = "Gateway" },
    { "namespace", PC_SCHEMA_STRING, 0, AT(struct pc_resource_parent_ref, namespace_),
      .check = check_dns_label },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_parent_ref, name), STRLEN(253) },
    { "sectionName", PC_SCHEMA_STRING, 0, AT(struct pc_resource_parent_ref, section_name),
      .check = check_subdomain },
    { "port", PC_SCHEMA_INT, 0, AT(struct pc_resource_parent_ref, port), .min = 1, .max = 65535 },
};
SCHEMA(parent_ref_schema, struct pc_resource_parent_ref, parent_ref_fields);

static const struct pc_schema_field path_match_fields[] = {
    { "type", PC_SCHEMA_STRING, 0, AT(struct pc_resource_path_match, type), .values = path_types,
      .def_str = "PathPrefix" },
    { "value", PC_SCHEMA_STRING, 0, AT(struct pc_resource_path_match, value), STRLEN(1024),
      .def_str = "/" },
};
SCHEMA(path_match_schema, struct pc_resource_path_match, path_match_fields);

static const struct pc_schema_field header_match_fields[] = {
    { "type", PC_SCHEMA_STRING, 0, AT(struct pc_resource_value_match, type), .values = value_types,
      .def_str = "Exact" },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_value_match, name),
      .check = check_header_name },
    { "value", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_value_match, value), STRLEN(4096) },
};
SCHEMA(header_match_schema, struct pc_resource_value_match, header_match_fields);

static const struct pc_schema_field query_match_fields[] = {
    { "type", PC_SCHEMA_STRING, 0, AT(struct pc_resource_value_match, type), .values = value_types,
      .def_str = "Exact" },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_value_match, name),
      .check = check_header_name },
    { "value", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_value_match, value), STRLEN(1024) },
};
SCHEMA(query_match_schema, struct pc_resource_value_match, query_match_fields);

static const struct pc_schema_field match_fields[] = {
    { "path", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_match, path), .sub = &path_match_schema },
    { "headers", PC_SCHEMA_LIST, 0, AT(struct pc_resource_match, headers), .min = 0, .max = 16,
      .sub = &header_match_schema },
    { "queryParams", PC_SCHEMA_LIST, 0, AT(struct pc_resource_match, query_params), .min = 0,
      .max = 16, .sub = &query_match_schema },
    { "method", PC_SCHEMA_STRING, 0, AT(struct pc_resource_match, method), .values = methods },
};
SCHEMA(match_schema, struct pc_resource_match, match_fields);

static const struct pc_schema_field header_fields[] = {
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_header, name),
      .check = check_header_name },
    { "value", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_header, value), STRLEN(4096),
      .check = check_header_value },
};
SCHEMA(header_schema, struct pc_resource_header, header_fields);

static const struct pc_schema_field header_filter_fields[] = {
    { "set", PC_SCHEMA_LIST, 0, AT(struct pc_resource_header_filter, set), .min = 0, .max = 16,
      .sub = &header_schema },
    { "add", PC_SCHEMA_LIST, 0, AT(struct pc_resource_header_filter, add), .min = 0, .max = 16,
      .sub = &header_schema },
    { "remove", PC_SCHEMA_LIST, 0, AT(struct pc_resource_header_filter, remove), .min = 0,
      .max = 16, .check = check_header_name },
};
SCHEMA(header_filter_schema, struct pc_resource_header_filter, header_filter_fields);

static const struct pc_schema_field path_modifier_fields[] = {
    { "type", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_path_modifier, type),
      .values = path_modifier_types },
    { "replaceFullPath", PC_SCHEMA_STRING, 0,
      AT(struct pc_resource_path_modifier, replace_full_path), .min = 0, .max = 1024 },
    { "replacePrefixMatch", PC_SCHEMA_STRING, 0,
      AT(struct pc_resource_path_modifier, replace_prefix_match), .min = 0, .max = 1024 },
};
SCHEMA(path_modifier_schema, struct pc_resource_path_modifier, path_modifier_fields);

static const struct pc_schema_field redirect_fields[] = {
    { "scheme", PC_SCHEMA_STRING, 0, AT(struct pc_resource_redirect, scheme), .values = schemes },
    { "hostname", PC_SCHEMA_STRING, 0, AT(struct pc_resource_redirect, hostname),
      .check = check_precise_hostname },
    { "path", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_redirect, path),
      .sub = &path_modifier_schema },
    { "port", PC_SCHEMA_INT, 0, AT(struct pc_resource_redirect, port), .min = 1, .max = 65535 },
    { "statusCode", PC_SCHEMA_INT, DEF, AT(struct pc_resource_redirect, status_code),
      .def_int = 302 },
};
SCHEMA(redirect_schema, struct pc_resource_redirect, redirect_fields);

static const struct pc_schema_field rewrite_fields[] = {
    { "hostname", PC_SCHEMA_STRING, 0, AT(struct pc_resource_rewrite, hostname),
      .check = check_precise_hostname },
    { "path", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_rewrite, path),
      .sub = &path_modifier_schema },
};
SCHEMA(rewrite_schema, struct pc_resource_rewrite, rewrite_fields);

static const struct pc_schema_field filter_fields[] = {
    { "type", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_filter, type), .values = filter_types },
    { "requestHeaderModifier", PC_SCHEMA_OBJECT, 0,
      AT(struct pc_resource_filter, request_header_modifier), .sub = &header_filter_schema },
    { "responseHeaderModifier", PC_SCHEMA_OBJECT, 0,
      AT(struct pc_resource_filter, response_header_modifier), .sub = &header_filter_schema },
    { "requestRedirect", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_filter, request_redirect),
      .sub = &redirect_schema },
    { "urlRewrite", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_filter, url_rewrite),
      .sub = &rewrite_schema },
    { "requestMirror", PC_SCHEMA_ANY, 0, AT(struct pc_resource_filter, request_mirror) },
    { "extensionRef", PC_SCHEMA_ANY, 0, AT(struct pc_resource_filter, extension_ref) },
    { "cors", PC_SCHEMA_ANY, 0, AT(struct pc_resource_filter, cors) },
    { "externalAuth", PC_SCHEMA_ANY, 0, AT(struct pc_resource_filter, external_auth) },
};
SCHEMA(filter_schema, struct pc_resource_filter, filter_fields);

static const struct pc_schema_field backend_ref_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_backend_ref, group), .def_str = "" },
    { "kind", PC_SCHEMA_STRING, 0, AT(struct pc_resource_backend_ref, kind), .def_str = "Service" },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_backend_ref, name), STRLEN(253) },
    { "namespace", PC_SCHEMA_STRING, 0, AT(struct pc_resource_backend_ref, namespace_),
      .check = check_dns_label },
    { "port", PC_SCHEMA_INT, 0, AT(struct pc_resource_backend_ref, port), .min = 1, .max = 65535 },
    { "weight", PC_SCHEMA_INT, DEF, AT(struct pc_resource_backend_ref, weight), .min = 0,
      .max = 1000000, .def_int = 1 },
    { "filters", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "backendRef filters are not supported; put the filters on the rule" },
};
SCHEMA(backend_ref_schema, struct pc_resource_backend_ref, backend_ref_fields);

static const struct pc_schema_field route_timeouts_fields[] = {
    { "request", PC_SCHEMA_DURATION, 0, AT(struct pc_resource_route_timeouts, request), .min = 0,
      .max = MAX_U32 },
    { "backendRequest", PC_SCHEMA_DURATION, 0,
      AT(struct pc_resource_route_timeouts, backend_request), .min = 0, .max = MAX_U32 },
};
SCHEMA(route_timeouts_schema, struct pc_resource_route_timeouts, route_timeouts_fields);

static const struct pc_schema_field rule_fields[] = {
    { "name", PC_SCHEMA_STRING, 0, AT(struct pc_resource_rule, name), .check = check_subdomain },
    { "matches", PC_SCHEMA_LIST, 0, AT(struct pc_resource_rule, matches), .min = 0, .max = 64,
      .sub = &match_schema },
    { "filters", PC_SCHEMA_LIST, 0, AT(struct pc_resource_rule, filters), .min = 0, .max = 16,
      .sub = &filter_schema },
    { "backendRefs", PC_SCHEMA_LIST, 0, AT(struct pc_resource_rule, backend_refs), .min = 0,
      .max = 16, .sub = &backend_ref_schema },
    { "timeouts", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_rule, timeouts),
      .sub = &route_timeouts_schema },
    { "retry", PC_SCHEMA_UNSUPPORTED, 0, 0, .hint = "retries are not supported yet; remove it" },
    { "sessionPersistence", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "session persistence is not supported; remove it" },
};
SCHEMA(rule_schema, struct pc_resource_rule, rule_fields);

static const struct pc_schema_field httproute_fields[] = {
    { "parentRefs", PC_SCHEMA_LIST, 0, AT(struct pc_resource_httproute, parent_refs), .min = 0,
      .max = 32, .sub = &parent_ref_schema },
    { "hostnames", PC_SCHEMA_LIST, 0, AT(struct pc_resource_httproute, hostnames), .min = 0,
      .max = 16, .check = check_wild_hostname },
    { "rules", PC_SCHEMA_LIST, 0, AT(struct pc_resource_httproute, rules), .min = 1, .max = 16,
      .sub = &rule_schema },
};
SCHEMA(httproute_schema, struct pc_resource_httproute, httproute_fields);

/* ---- ReferenceGrant ---- */

static const struct pc_schema_field grant_from_fields[] = {
    { "group", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_grant_from, group) },
    { "kind", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_grant_from, kind), STRLEN(63) },
    { "namespace", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_grant_from, namespace_),
      .check = check_dns_label },
};
SCHEMA(grant_from_schema, struct pc_resource_grant_from, grant_from_fields);

static const struct pc_schema_field grant_to_fields[] = {
    { "group", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_grant_to, group) },
    { "kind", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_grant_to, kind), STRLEN(63) },
    { "name", PC_SCHEMA_STRING, 0, AT(struct pc_resource_grant_to, name), STRLEN(253) },
};
SCHEMA(grant_to_schema, struct pc_resource_grant_to, grant_to_fields);

static const struct pc_schema_field grant_fields[] = {
    { "from", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_reference_grant, from), .min = 1,
      .max = 16, .sub = &grant_from_schema },
    { "to", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_reference_grant, to), .min = 1, .max = 16,
      .sub = &grant_to_schema },
};
SCHEMA(grant_schema, struct pc_resource_reference_grant, grant_fields);

/* ---- ServiceEndpoints ---- */

static const struct pc_schema_field service_port_fields[] = {
    { "port", PC_SCHEMA_INT, REQ, AT(struct pc_resource_service_port, port), .min = 1,
      .max = 65535 },
    { "name", PC_SCHEMA_STRING, 0, AT(struct pc_resource_service_port, name),
      .check = check_dns_label },
    { "appProtocol", PC_SCHEMA_STRING, 0, AT(struct pc_resource_service_port, app_protocol),
      .check = check_app_protocol },
    { "endpoints", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_service_port, endpoints), .min = 1,
      .max = 1024, .check = check_endpoint },
};
SCHEMA(service_port_schema, struct pc_resource_service_port, service_port_fields);

static const struct pc_schema_field service_fields[] = {
    { "ports", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_service_endpoints, ports), .min = 1,
      .max = 64, .sub = &service_port_schema },
};
SCHEMA(service_schema, struct pc_resource_service_endpoints, service_fields);

/* ---- ClientTrafficPolicy ---- */

static const struct pc_schema_field ctp_target_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_target_ref, group),
      .def_str = PC_RESOURCE_GATEWAY_GROUP },
    { "kind", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_target_ref, kind), .values = ctp_kinds },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_target_ref, name), STRLEN(253) },
    { "sectionName", PC_SCHEMA_STRING, 0, AT(struct pc_resource_target_ref, section_name),
      .check = check_subdomain },
};
SCHEMA(ctp_target_schema, struct pc_resource_target_ref, ctp_target_fields);

static const struct pc_schema_field client_limits_fields[] = {
    { "maxRequestLineBytes", PC_SCHEMA_QUANTITY, 0,
      AT(struct pc_resource_client_limits, max_request_line_bytes), .min = 256, .max = ONE_MIB },
    { "maxHeaderBytes", PC_SCHEMA_QUANTITY, 0,
      AT(struct pc_resource_client_limits, max_header_bytes), .min = 1024, .max = ONE_MIB },
    { "maxHeaderCount", PC_SCHEMA_INT, 0, AT(struct pc_resource_client_limits, max_header_count),
      .min = 1, .max = 10000 },
    { "maxBodyBytes", PC_SCHEMA_QUANTITY, 0, AT(struct pc_resource_client_limits, max_body_bytes),
      .min = 0, .max = ONE_TIB },
};
SCHEMA(client_limits_schema, struct pc_resource_client_limits, client_limits_fields);

static const struct pc_schema_field client_timeouts_fields[] = {
    { "requestHead", PC_SCHEMA_DURATION, 0, AT(struct pc_resource_client_timeouts, request_head),
      .min = 1, .max = ONE_DAY },
    { "bodyProgress", PC_SCHEMA_DURATION, 0, AT(struct pc_resource_client_timeouts, body_progress),
      .min = 1, .max = ONE_DAY },
    { "idle", PC_SCHEMA_DURATION, 0, AT(struct pc_resource_client_timeouts, idle), .min = 1,
      .max = ONE_DAY },
};
SCHEMA(client_timeouts_schema, struct pc_resource_client_timeouts, client_timeouts_fields);

static const struct pc_schema_field request_id_fields[] = {
    { "trustClient", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_request_id, trust_client) },
};
SCHEMA(request_id_schema, struct pc_resource_request_id, request_id_fields);

static const struct pc_schema_field path_policy_fields[] = {
    { "encodedSlashes", PC_SCHEMA_STRING, 0, AT(struct pc_resource_path_policy, encoded_slashes),
      .values = slash_modes },
};
SCHEMA(path_policy_schema, struct pc_resource_path_policy, path_policy_fields);

static const struct pc_schema_field websocket_fields[] = {
    { "enabled", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_websocket, enabled) },
};
SCHEMA(websocket_schema, struct pc_resource_websocket, websocket_fields);

static const struct pc_schema_field client_certificate_fields[] = {
    { "mode", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_client_certificate, mode),
      .values = client_cert_modes },
};
SCHEMA(client_certificate_schema, struct pc_resource_client_certificate, client_certificate_fields);

static const struct pc_schema_field client_tls_fields[] = {
    { "clientCertificate", PC_SCHEMA_OBJECT, 0,
      AT(struct pc_resource_client_tls, client_certificate), .sub = &client_certificate_schema },
};
SCHEMA(client_tls_schema, struct pc_resource_client_tls, client_tls_fields);

static const struct pc_schema_field forward_client_cert_fields[] = {
    { "mode", PC_SCHEMA_STRING, 0, AT(struct pc_resource_forward_client_cert, mode),
      .values = xfcc_modes, .def_str = "SanitizeSet" },
    { "details", PC_SCHEMA_LIST, 0, AT(struct pc_resource_forward_client_cert, details), .min = 0,
      .max = 5, .check = check_xfcc_detail },
};
SCHEMA(forward_client_cert_schema, struct pc_resource_forward_client_cert,
       forward_client_cert_fields);

static const struct pc_schema_field client_policy_fields[] = {
    { "targetRefs", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_client_policy, target_refs),
      .min = 1, .max = 16, .sub = &ctp_target_schema },
    { "limits", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_client_policy, limits),
      .sub = &client_limits_schema },
    { "timeouts", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_client_policy, timeouts),
      .sub = &client_timeouts_schema },
    { "requestId", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_client_policy, request_id),
      .sub = &request_id_schema },
    { "path", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_client_policy, path),
      .sub = &path_policy_schema },
    { "websocket", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_client_policy, websocket),
      .sub = &websocket_schema },
    { "tls", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_client_policy, tls),
      .sub = &client_tls_schema },
    { "forwardClientCert", PC_SCHEMA_OBJECT, 0,
      AT(struct pc_resource_client_policy, forward_client_cert),
      .sub = &forward_client_cert_schema },
};
SCHEMA(client_policy_schema, struct pc_resource_client_policy, client_policy_fields);

/* ---- BackendTrafficPolicy ---- */

static const struct pc_schema_field btp_target_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_target_ref, group) },
    { "kind", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_target_ref, kind), .values = btp_kinds },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_target_ref, name), STRLEN(253) },
};
SCHEMA(btp_target_schema, struct pc_resource_target_ref, btp_target_fields);

static const struct pc_schema_field backend_timeouts_fields[] = {
    { "connect", PC_SCHEMA_DURATION, 0, AT(struct pc_resource_backend_timeouts, connect), .min = 1,
      .max = ONE_HOUR },
    { "response", PC_SCHEMA_DURATION, 0, AT(struct pc_resource_backend_timeouts, response),
      .min = 0, .max = MAX_U32 },
};
SCHEMA(backend_timeouts_schema, struct pc_resource_backend_timeouts, backend_timeouts_fields);

static const struct pc_schema_field pool_fields[] = {
    { "maxIdlePerEndpoint", PC_SCHEMA_INT, 0, AT(struct pc_resource_pool, max_idle_per_endpoint),
      .min = 0, .max = 10000 },
    { "idleTimeout", PC_SCHEMA_DURATION, 0, AT(struct pc_resource_pool, idle_timeout), .min = 1,
      .max = ONE_DAY },
};
SCHEMA(pool_schema, struct pc_resource_pool, pool_fields);

static const struct pc_schema_field backend_policy_fields[] = {
    { "targetRefs", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_backend_policy, target_refs),
      .min = 1, .max = 16, .sub = &btp_target_schema },
    { "timeouts", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_backend_policy, timeouts),
      .sub = &backend_timeouts_schema },
    { "connectionPool", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_backend_policy, connection_pool),
      .sub = &pool_schema },
};
SCHEMA(backend_policy_schema, struct pc_resource_backend_policy, backend_policy_fields);

/* ---- ProxyConfig ---- */

static const struct pc_schema_field admin_fields[] = {
    { "address", PC_SCHEMA_STRING, 0, AT(struct pc_resource_admin, address), .check = check_ip },
    { "port", PC_SCHEMA_INT, 0, AT(struct pc_resource_admin, port), .min = 1, .max = 65535 },
    { "enabled", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_admin, enabled) },
};
SCHEMA(admin_schema, struct pc_resource_admin, admin_fields);

static const struct pc_schema_field access_log_fields[] = {
    { "path", PC_SCHEMA_STRING, 0, AT(struct pc_resource_access_log, path), STRLEN(4096) },
    { "enabled", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_access_log, enabled) },
};
SCHEMA(access_log_schema, struct pc_resource_access_log, access_log_fields);

static const struct pc_schema_field log_fields[] = {
    { "level", PC_SCHEMA_STRING, 0, AT(struct pc_resource_log, level), .values = log_levels },
    { "format", PC_SCHEMA_STRING, 0, AT(struct pc_resource_log, format), .values = log_formats },
};
SCHEMA(log_schema, struct pc_resource_log, log_fields);

static const struct pc_schema_field shutdown_fields[] = {
    { "gracePeriod", PC_SCHEMA_DURATION, 0, AT(struct pc_resource_shutdown, grace_period), .min = 0,
      .max = ONE_HOUR },
};
SCHEMA(shutdown_schema, struct pc_resource_shutdown, shutdown_fields);

static const struct pc_schema_field watch_fields[] = {
    { "enabled", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_watch, enabled) },
};
SCHEMA(watch_schema, struct pc_resource_watch, watch_fields);

static const struct pc_schema_field proxy_tls_fields[] = {
    { "sessionTicketRotation", PC_SCHEMA_DURATION, 0,
      AT(struct pc_resource_proxy_tls, session_ticket_rotation), .min = 60000, .max = ONE_DAY },
    { "sessionTickets", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_proxy_tls, session_tickets) },
};
SCHEMA(proxy_tls_schema, struct pc_resource_proxy_tls, proxy_tls_fields);

static const struct pc_schema_field spiffe_fields[] = {
    { "workloadAPISocket", PC_SCHEMA_STRING, 0, AT(struct pc_resource_spiffe, workload_api_socket),
      .min = 1, .max = 4096, .check = check_workload_socket },
};
SCHEMA(spiffe_schema, struct pc_resource_spiffe, spiffe_fields);

static const struct pc_schema_field signing_key_fields[] = {
    { "file", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_signing_key, file), STRLEN(4096),
      .check = check_file_path },
};
SCHEMA(signing_key_schema, struct pc_resource_signing_key, signing_key_fields);

static const struct pc_schema_field decision_log_fields[] = {
    { "path", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_decision_log, path), STRLEN(4096),
      .check = check_file_path },
    { "signingKey", PC_SCHEMA_OBJECT, REQ, AT(struct pc_resource_decision_log, signing_key),
      .sub = &signing_key_schema },
    { "checkpointInterval", PC_SCHEMA_DURATION, DEF,
      AT(struct pc_resource_decision_log, checkpoint_interval), .min = 100, .max = ONE_HOUR,
      .def_int = PC_CONFIG_DEFAULT_DECISION_CHECKPOINT_MS },
    { "checkpointLines", PC_SCHEMA_INT, DEF, AT(struct pc_resource_decision_log, checkpoint_lines),
      .min = 1, .max = 1000000, .def_int = PC_CONFIG_DEFAULT_DECISION_CHECKPOINT_LINES },
    { "queueLines", PC_SCHEMA_INT, DEF, AT(struct pc_resource_decision_log, queue_lines), .min = 64,
      .max = 1048576, .def_int = PC_CONFIG_DEFAULT_DECISION_QUEUE_LINES },
};
SCHEMA(decision_log_schema, struct pc_resource_decision_log, decision_log_fields);

static const struct pc_schema_field proxy_config_fields[] = {
    { "admin", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_proxy_config, admin),
      .sub = &admin_schema },
    { "accessLog", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_proxy_config, access_log),
      .sub = &access_log_schema },
    { "log", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_proxy_config, log), .sub = &log_schema },
    { "shutdown", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_proxy_config, shutdown),
      .sub = &shutdown_schema },
    { "watch", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_proxy_config, watch),
      .sub = &watch_schema },
    { "tls", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_proxy_config, tls),
      .sub = &proxy_tls_schema },
    { "spiffe", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_proxy_config, spiffe),
      .sub = &spiffe_schema },
    { "decisionLog", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_proxy_config, decision_log),
      .sub = &decision_log_schema },
};
SCHEMA(proxy_config_schema, struct pc_resource_proxy_config, proxy_config_fields);

/* ---- certificate and trust material ---- */

static const struct pc_schema_field certificate_files_fields[] = {
    { "certificate", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_certificate_files, certificate),
      STRLEN(4096), .check = check_file_path },
    { "privateKey", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_certificate_files, private_key),
      STRLEN(4096), .check = check_file_path },
};
SCHEMA(certificate_files_schema, struct pc_resource_certificate_files, certificate_files_fields);

static const struct pc_schema_field workload_identity_fields[] = {
    { "spiffeID", PC_SCHEMA_STRING, 0, AT(struct pc_resource_workload_identity, spiffe_id),
      .check = check_spiffe_id },
};
SCHEMA(workload_identity_schema, struct pc_resource_workload_identity, workload_identity_fields);

static const struct pc_schema_field trust_bundle_fields[] = {
    { "trustDomain", PC_SCHEMA_STRING, 0, AT(struct pc_resource_trust_bundle, trust_domain),
      .check = check_trust_domain },
    { "format", PC_SCHEMA_STRING, 0, AT(struct pc_resource_trust_bundle, format),
      .values = bundle_formats, .def_str = "PEM" },
    { "file", PC_SCHEMA_STRING, 0, AT(struct pc_resource_trust_bundle, file), STRLEN(4096),
      .check = check_file_path },
    { "pem", PC_SCHEMA_STRING, 0, AT(struct pc_resource_trust_bundle, pem), STRLEN(4 * ONE_MIB) },
    { "workloadAPI", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_trust_bundle, workload_api) },
};
SCHEMA(trust_bundle_schema, struct pc_resource_trust_bundle, trust_bundle_fields);

/* ---- BackendTLSPolicy ---- */

static const struct pc_schema_field btls_target_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_target_ref, group), .def_str = "" },
    { "kind", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_target_ref, kind),
      .values = service_kinds },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_target_ref, name), STRLEN(253) },
    { "sectionName", PC_SCHEMA_STRING, 0, AT(struct pc_resource_target_ref, section_name),
      .check = check_subdomain },
};
SCHEMA(btls_target_schema, struct pc_resource_target_ref, btls_target_fields);

static const struct pc_schema_field san_fields[] = {
    { "type", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_subject_alt_name, type),
      .values = san_types },
    { "hostname", PC_SCHEMA_STRING, 0, AT(struct pc_resource_subject_alt_name, hostname),
      .check = check_wild_hostname },
    { "uri", PC_SCHEMA_STRING, 0, AT(struct pc_resource_subject_alt_name, uri), STRLEN(253),
      .check = check_san_uri },
};
SCHEMA(san_schema, struct pc_resource_subject_alt_name, san_fields);

static const struct pc_schema_field tls_validation_fields[] = {
    { "caCertificateRefs", PC_SCHEMA_LIST, 0,
      AT(struct pc_resource_tls_validation, ca_certificate_refs), .min = 0, .max = 8,
      .sub = &local_ca_ref_schema },
    { "wellKnownCACertificates", PC_SCHEMA_STRING, 0,
      AT(struct pc_resource_tls_validation, well_known_ca_certificates), .values = well_known_cas },
    { "hostname", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_tls_validation, hostname),
      .check = check_precise_hostname },
    { "subjectAltNames", PC_SCHEMA_LIST, 0,
      AT(struct pc_resource_tls_validation, subject_alt_names), .min = 0, .max = 5,
      .sub = &san_schema },
};
SCHEMA(tls_validation_schema, struct pc_resource_tls_validation, tls_validation_fields);

static const struct pc_schema_field backend_tls_policy_fields[] = {
    { "targetRefs", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_backend_tls_policy, target_refs),
      .min = 1, .max = 16, .sub = &btls_target_schema },
    { "validation", PC_SCHEMA_OBJECT, REQ, AT(struct pc_resource_backend_tls_policy, validation),
      .sub = &tls_validation_schema },
    { "options", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "remove it; upstream connections speak TLS 1.2 and 1.3 with AEAD ciphers only" },
};
SCHEMA(backend_tls_policy_schema, struct pc_resource_backend_tls_policy, backend_tls_policy_fields);

/* ---- AuthenticationPolicy ---- */

#define ONE_WEEK (7 * ONE_DAY)

/* A Secret in the policy's own namespace. */
static const struct pc_schema_field secret_local_ref_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, group), .def_str = "",
      .check = check_core_group },
    { "kind", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, kind), .def_str = "Secret",
      .values = secret_kinds },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_object_ref, name),
      .check = check_subdomain },
};
SCHEMA(secret_local_ref_schema, struct pc_resource_object_ref, secret_local_ref_fields);

/* A TrustBundle in the policy's own namespace. */
static const struct pc_schema_field bundle_local_ref_fields[] = {
    { "group", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, group),
      .def_str = PC_RESOURCE_OWN_GROUP, .values = own_groups },
    { "kind", PC_SCHEMA_STRING, 0, AT(struct pc_resource_object_ref, kind),
      .def_str = "TrustBundle", .values = trust_bundle_kinds },
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_object_ref, name),
      .check = check_subdomain },
};
SCHEMA(bundle_local_ref_schema, struct pc_resource_object_ref, bundle_local_ref_fields);

static const struct pc_schema_field claim_match_fields[] = {
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_claim_match, name),
      .check = check_claim_path },
    { "values", PC_SCHEMA_LIST, 0, AT(struct pc_resource_claim_match, values), .min = 0, .max = 64,
      .check = check_claim_value },
};
SCHEMA(claim_match_schema, struct pc_resource_claim_match, claim_match_fields);

static const struct pc_schema_field remote_jwks_fields[] = {
    { "uri", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_remote_jwks, uri), .check = check_url },
    { "timeout", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint =
          "set refresh.timeout on the provider; it bounds every key fetch, discovery included" },
};
SCHEMA(remote_jwks_schema, struct pc_resource_remote_jwks, remote_jwks_fields);

static const struct pc_schema_field local_jwks_fields[] = {
    { "file", PC_SCHEMA_STRING, 0, AT(struct pc_resource_local_jwks, file), STRLEN(4096),
      .check = check_file_path },
    { "inline", PC_SCHEMA_STRING, 0, AT(struct pc_resource_local_jwks, inline_), STRLEN(ONE_MIB) },
};
SCHEMA(local_jwks_schema, struct pc_resource_local_jwks, local_jwks_fields);

static const struct pc_schema_field spiffe_keys_fields[] = {
    { "trustDomain", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_spiffe_keys, trust_domain),
      .check = check_trust_domain },
    { "bundleRef", PC_SCHEMA_OBJECT, REQ, AT(struct pc_resource_spiffe_keys, bundle_ref),
      .sub = &bundle_local_ref_schema },
};
SCHEMA(spiffe_keys_schema, struct pc_resource_spiffe_keys, spiffe_keys_fields);

static const struct pc_schema_field key_refresh_fields[] = {
    { "interval", PC_SCHEMA_DURATION, DEF, AT(struct pc_resource_key_refresh, interval),
      .min = 1000, .max = ONE_DAY, .def_int = PC_CONFIG_DEFAULT_JWKS_REFRESH_MS },
    { "minInterval", PC_SCHEMA_DURATION, DEF, AT(struct pc_resource_key_refresh, min_interval),
      .min = 1000, .max = ONE_HOUR, .def_int = PC_CONFIG_DEFAULT_JWKS_MIN_REFRESH_MS },
    { "stale", PC_SCHEMA_DURATION, DEF, AT(struct pc_resource_key_refresh, stale), .min = 0,
      .max = ONE_WEEK, .def_int = PC_CONFIG_DEFAULT_JWKS_STALE_MS },
    { "serveStale", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_key_refresh, serve_stale) },
    { "timeout", PC_SCHEMA_DURATION, DEF, AT(struct pc_resource_key_refresh, timeout), .min = 100,
      .max = 60000, .def_int = PC_CONFIG_DEFAULT_JWKS_FETCH_TIMEOUT_MS },
};
SCHEMA(key_refresh_schema, struct pc_resource_key_refresh, key_refresh_fields);

static const struct pc_schema_field jwt_provider_fields[] = {
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_jwt_provider, name),
      .check = check_subdomain },
    { "issuer", PC_SCHEMA_STRING, 0, AT(struct pc_resource_jwt_provider, issuer),
      .check = check_identifier },
    { "audiences", PC_SCHEMA_LIST, 0, AT(struct pc_resource_jwt_provider, audiences), .min = 0,
      .max = 16, .check = check_identifier },
    { "algorithms", PC_SCHEMA_LIST, 0, AT(struct pc_resource_jwt_provider, algorithms), .min = 1,
      .max = 13, .check = check_algorithm },
    { "remoteJWKS", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_jwt_provider, remote_jwks),
      .sub = &remote_jwks_schema },
    { "discovery", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_jwt_provider, discovery) },
    { "localJWKS", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_jwt_provider, local_jwks),
      .sub = &local_jwks_schema },
    { "spiffe", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_jwt_provider, spiffe),
      .sub = &spiffe_keys_schema },
    { "hmacSecretRef", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_jwt_provider, hmac_secret_ref),
      .sub = &secret_local_ref_schema },
    { "typ", PC_SCHEMA_STRING, 0, AT(struct pc_resource_jwt_provider, typ), .check = check_typ },
    { "clockSkew", PC_SCHEMA_DURATION, DEF, AT(struct pc_resource_jwt_provider, clock_skew),
      .min = 0, .max = 300000, .def_int = PC_CONFIG_DEFAULT_JWT_CLOCK_SKEW_MS },
    { "requiredClaims", PC_SCHEMA_LIST, 0, AT(struct pc_resource_jwt_provider, required_claims),
      .min = 0, .max = 16, .sub = &claim_match_schema },
    { "refresh", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_jwt_provider, refresh),
      .sub = &key_refresh_schema },
    { "cacheTTL", PC_SCHEMA_DURATION, DEF, AT(struct pc_resource_jwt_provider, cache_ttl), .min = 0,
      .max = ONE_HOUR, .def_int = PC_CONFIG_DEFAULT_JWT_CACHE_TTL_MS },
    { "claimToHeaders", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "set spec.claimToHeaders; claims are copied whichever provider verified the token" },
    { "extractFrom", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "set spec.tokenLocation; it applies to every provider and to introspection" },
};
SCHEMA(jwt_provider_schema, struct pc_resource_jwt_provider, jwt_provider_fields);

static const struct pc_schema_field jwt_fields[] = {
    { "providers", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_jwt, providers), .min = 1, .max = 16,
      .sub = &jwt_provider_schema },
    { "optional", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "set spec.optional; it applies to JWTs and opaque tokens alike" },
    { "tokenLocation", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "set spec.tokenLocation; it applies to JWTs and opaque tokens alike" },
};
SCHEMA(jwt_schema, struct pc_resource_jwt, jwt_fields);

static const struct pc_schema_field token_header_fields[] = {
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_token_header, name),
      .check = check_header_name },
    { "prefix", PC_SCHEMA_STRING, 0, AT(struct pc_resource_token_header, prefix),
      .check = check_token_prefix },
};
SCHEMA(token_header_schema, struct pc_resource_token_header, token_header_fields);

static const struct pc_schema_field token_cookie_fields[] = {
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_token_cookie, name),
      .check = check_cookie_name },
};
SCHEMA(token_cookie_schema, struct pc_resource_token_cookie, token_cookie_fields);

static const struct pc_schema_field token_location_fields[] = {
    { "header", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_token_location, header),
      .sub = &token_header_schema },
    { "cookie", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_token_location, cookie),
      .sub = &token_cookie_schema },
};
SCHEMA(token_location_schema, struct pc_resource_token_location, token_location_fields);

static const struct pc_schema_field introspection_fields[] = {
    { "endpoint", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_introspection, endpoint),
      .check = check_url },
    { "clientID", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_introspection, client_id),
      .check = check_client_id },
    { "clientSecretRef", PC_SCHEMA_OBJECT, REQ,
      AT(struct pc_resource_introspection, client_secret_ref), .sub = &secret_local_ref_schema },
    { "authMethod", PC_SCHEMA_STRING, 0, AT(struct pc_resource_introspection, auth_method),
      .values = auth_methods, .def_str = "client_secret_basic" },
    { "issuer", PC_SCHEMA_STRING, 0, AT(struct pc_resource_introspection, issuer),
      .check = check_identifier },
    { "timeout", PC_SCHEMA_DURATION, DEF, AT(struct pc_resource_introspection, timeout), .min = 100,
      .max = 60000, .def_int = PC_CONFIG_DEFAULT_INTROSPECTION_TIMEOUT_MS },
    { "cacheTTL", PC_SCHEMA_DURATION, DEF, AT(struct pc_resource_introspection, cache_ttl),
      .min = 0, .max = ONE_HOUR, .def_int = PC_CONFIG_DEFAULT_INTROSPECTION_CACHE_TTL_MS },
};
SCHEMA(introspection_schema, struct pc_resource_introspection, introspection_fields);

static const struct pc_schema_field sender_constraint_fields[] = {
    { "mode", PC_SCHEMA_STRING, 0, AT(struct pc_resource_sender_constraint, mode),
      .values = binding_modes, .def_str = "None" },
    { "ifPresent", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_sender_constraint, if_present) },
    { "dpopMaxAge", PC_SCHEMA_DURATION, DEF, AT(struct pc_resource_sender_constraint, dpop_max_age),
      .min = 1000, .max = 600000, .def_int = PC_CONFIG_DEFAULT_DPOP_MAX_AGE_MS },
};
SCHEMA(sender_constraint_schema, struct pc_resource_sender_constraint, sender_constraint_fields);

static const struct pc_schema_field scope_requirement_fields[] = {
    { "allOf", PC_SCHEMA_LIST, 0, AT(struct pc_resource_scope_requirement, all_of), .min = 0,
      .max = 32, .check = check_scope },
    { "anyOf", PC_SCHEMA_LIST, 0, AT(struct pc_resource_scope_requirement, any_of), .min = 0,
      .max = 32, .check = check_scope },
};
SCHEMA(scope_requirement_schema, struct pc_resource_scope_requirement, scope_requirement_fields);

static const struct pc_schema_field claim_requirement_fields[] = {
    { "allOf", PC_SCHEMA_LIST, 0, AT(struct pc_resource_claim_requirement, all_of), .min = 0,
      .max = 16, .sub = &claim_match_schema },
    { "anyOf", PC_SCHEMA_LIST, 0, AT(struct pc_resource_claim_requirement, any_of), .min = 0,
      .max = 16, .sub = &claim_match_schema },
};
SCHEMA(claim_requirement_schema, struct pc_resource_claim_requirement, claim_requirement_fields);

static const struct pc_schema_field identity_requirement_fields[] = {
    { "scopes", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_identity_requirement, scopes),
      .sub = &scope_requirement_schema },
    { "claims", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_identity_requirement, claims),
      .sub = &claim_requirement_schema },
};
SCHEMA(identity_requirement_schema, struct pc_resource_identity_requirement,
       identity_requirement_fields);

static const struct pc_schema_field principal_fields[] = {
    { "clientIDClaims", PC_SCHEMA_LIST, 0, AT(struct pc_resource_principal, client_id_claims),
      .min = 1, .max = 8, .check = check_claim_path },
    { "roleClaims", PC_SCHEMA_LIST, 0, AT(struct pc_resource_principal, role_claims), .min = 0,
      .max = 8, .check = check_claim_path },
};
SCHEMA(principal_schema, struct pc_resource_principal, principal_fields);

static const struct pc_schema_field claim_header_fields[] = {
    { "claim", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_claim_header, claim),
      .check = check_claim_path },
    { "header", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_claim_header, header),
      .check = check_header_name },
};
SCHEMA(claim_header_schema, struct pc_resource_claim_header, claim_header_fields);

static const struct pc_schema_field authn_policy_fields[] = {
    { "targetRefs", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_authn_policy, target_refs), .min = 1,
      .max = 16, .sub = &ctp_target_schema },
    { "jwt", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authn_policy, jwt), .sub = &jwt_schema },
    { "introspection", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authn_policy, introspection),
      .sub = &introspection_schema },
    { "tokenLocation", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authn_policy, token_location),
      .sub = &token_location_schema },
    { "optional", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_authn_policy, optional) },
    { "senderConstraint", PC_SCHEMA_OBJECT, 0,
      AT(struct pc_resource_authn_policy, sender_constraint), .sub = &sender_constraint_schema },
    { "require", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authn_policy, require),
      .sub = &identity_requirement_schema },
    { "principal", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authn_policy, principal),
      .sub = &principal_schema },
    { "claimToHeaders", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authn_policy, claim_to_headers),
      .min = 0, .max = 32, .sub = &claim_header_schema },
    { "realm", PC_SCHEMA_STRING, 0, AT(struct pc_resource_authn_policy, realm),
      .check = check_realm },
};
SCHEMA(authn_policy_schema, struct pc_resource_authn_policy, authn_policy_fields);

/* ---- AuthorizationPolicy ---- */

/* A string test; a plain string in its place is an Exact one. */
static const struct pc_schema_field string_match_fields[] = {
    { "type", PC_SCHEMA_STRING, 0, AT(struct pc_resource_string_match, type),
      .values = string_match_types, .def_str = "Exact" },
    { "value", PC_SCHEMA_STRING, PC_SCHEMA_SHORTHAND, AT(struct pc_resource_string_match, value),
      STRLEN(4096) },
};
SCHEMA(string_match_schema, struct pc_resource_string_match, string_match_fields);

static const struct pc_schema_field authz_path_fields[] = {
    { "type", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_authz_path, type),
      .values = authz_path_types },
    { "value", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_authz_path, value), STRLEN(1024) },
};
SCHEMA(authz_path_schema, struct pc_resource_authz_path, authz_path_fields);

static const struct pc_schema_field authz_header_fields[] = {
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_authz_header, name),
      .check = check_header_name },
    { "type", PC_SCHEMA_STRING, 0, AT(struct pc_resource_authz_header, type),
      .values = string_match_types, .def_str = "Exact" },
    { "value", PC_SCHEMA_STRING, 0, AT(struct pc_resource_authz_header, value), STRLEN(4096) },
    { "invert", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_authz_header, invert) },
};
SCHEMA(authz_header_schema, struct pc_resource_authz_header, authz_header_fields);

static const struct pc_schema_field authz_request_fields[] = {
    { "methods", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_request, methods), .min = 0,
      .max = 16, .check = check_method },
    { "paths", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_request, paths), .min = 0, .max = 32,
      .sub = &authz_path_schema },
    { "headers", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_request, headers), .min = 0,
      .max = 16, .sub = &authz_header_schema },
    { "sourceCIDRs", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_request, source_cidrs),
      .min = 0, .max = 128, .check = check_cidr },
    { "notSourceCIDRs", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_request, not_source_cidrs),
      .min = 0, .max = 128, .check = check_cidr },
};
SCHEMA(authz_request_schema, struct pc_resource_authz_request, authz_request_fields);

static const struct pc_schema_field claim_test_fields[] = {
    { "path", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_claim_test, path),
      .check = check_claim_path },
    { "type", PC_SCHEMA_STRING, 0, AT(struct pc_resource_claim_test, type),
      .values = string_match_types, .def_str = "Exact" },
    { "value", PC_SCHEMA_STRING, 0, AT(struct pc_resource_claim_test, value), STRLEN(4096) },
};
SCHEMA(claim_test_schema, struct pc_resource_claim_test, claim_test_fields);

static const struct pc_schema_field claim_tests_fields[] = {
    { "allOf", PC_SCHEMA_LIST, 0, AT(struct pc_resource_claim_tests, all_of), .min = 0, .max = 16,
      .sub = &claim_test_schema },
    { "anyOf", PC_SCHEMA_LIST, 0, AT(struct pc_resource_claim_tests, any_of), .min = 0, .max = 16,
      .sub = &claim_test_schema },
};
SCHEMA(claim_tests_schema, struct pc_resource_claim_tests, claim_tests_fields);

static const struct pc_schema_field role_requirement_fields[] = {
    { "allOf", PC_SCHEMA_LIST, 0, AT(struct pc_resource_scope_requirement, all_of), .min = 0,
      .max = 32, .check = check_claim_value },
    { "anyOf", PC_SCHEMA_LIST, 0, AT(struct pc_resource_scope_requirement, any_of), .min = 0,
      .max = 32, .check = check_claim_value },
};
SCHEMA(role_requirement_schema, struct pc_resource_scope_requirement, role_requirement_fields);

static const struct pc_schema_field path_param_fields[] = {
    { "param", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_path_param, param),
      .check = check_param_name },
    { "claim", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_path_param, claim),
      .check = check_claim_path },
};
SCHEMA(path_param_schema, struct pc_resource_path_param, path_param_fields);

static const struct pc_schema_field authz_principal_fields[] = {
    { "authenticated", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_authz_principal, authenticated) },
    { "subjects", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_principal, subjects), .min = 0,
      .max = 64, .sub = &string_match_schema },
    { "issuers", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_principal, issuers), .min = 0,
      .max = 16, .check = check_identifier },
    { "clientIDs", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_principal, client_ids), .min = 0,
      .max = 64, .check = check_client_id },
    { "scopes", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_principal, scopes),
      .sub = &scope_requirement_schema },
    { "roles", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_principal, roles),
      .sub = &role_requirement_schema },
    { "claims", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_principal, claims),
      .sub = &claim_tests_schema },
    { "pathParams", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_principal, path_params),
      .min = 0, .max = 8, .sub = &path_param_schema },
};
SCHEMA(authz_principal_schema, struct pc_resource_authz_principal, authz_principal_fields);

static const struct pc_schema_field authz_peer_fields[] = {
    { "certificate", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_authz_peer, certificate) },
    { "spiffeIDs", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_peer, spiffe_ids), .min = 0,
      .max = 64 },
    { "subjects", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_peer, subjects), .min = 0,
      .max = 64, .sub = &string_match_schema },
    { "dnsNames", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_peer, dns_names), .min = 0,
      .max = 64, .check = check_wild_hostname },
};
SCHEMA(authz_peer_schema, struct pc_resource_authz_peer, authz_peer_fields);

static const struct pc_schema_field authz_rule_fields[] = {
    { "name", PC_SCHEMA_STRING, 0, AT(struct pc_resource_authz_rule, name),
      .check = check_subdomain },
    { "action", PC_SCHEMA_STRING, 0, AT(struct pc_resource_authz_rule, action),
      .values = authz_actions, .def_str = "Allow" },
    { "request", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_rule, request),
      .sub = &authz_request_schema },
    { "principal", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_rule, principal),
      .sub = &authz_principal_schema },
    { "peer", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_rule, peer),
      .sub = &authz_peer_schema },
};
SCHEMA(authz_rule_schema, struct pc_resource_authz_rule, authz_rule_fields);

static const struct pc_schema_field pem_bundle_fields[] = {
    { "file", PC_SCHEMA_STRING, 0, AT(struct pc_resource_pem_bundle, file), STRLEN(4096),
      .check = check_file_path },
    { "pem", PC_SCHEMA_STRING, 0, AT(struct pc_resource_pem_bundle, pem), STRLEN(4 * ONE_MIB) },
};
SCHEMA(pem_bundle_schema, struct pc_resource_pem_bundle, pem_bundle_fields);

static const struct pc_schema_field decision_cache_fields[] = {
    { "ttl", PC_SCHEMA_DURATION, REQ, AT(struct pc_resource_decision_cache, ttl), .min = 1,
      .max = ONE_HOUR },
    { "key", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_decision_cache, key), .min = 1, .max = 16,
      .check = check_cache_key },
};
SCHEMA(decision_cache_schema, struct pc_resource_decision_cache, decision_cache_fields);

#define REMOTE_TIMEOUT                                                                             \
    {                                                                                              \
        "timeout", PC_SCHEMA_DURATION, DEF, AT(struct pc_resource_authz_remote, timeout),          \
            .min = 1, .max = 10000, .def_int = PC_CONFIG_DEFAULT_AUTHZ_TIMEOUT_MS                  \
    }

static const struct pc_schema_field authz_opa_fields[] = {
    { "url", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_authz_remote, url),
      .check = check_opa_url },
    REMOTE_TIMEOUT,
    { "includeHeaders", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_remote, headers), .min = 0,
      .max = 64, .check = check_header_name },
    { "caBundle", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_remote, ca_bundle),
      .sub = &pem_bundle_schema },
    { "cache", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_remote, cache),
      .sub = &decision_cache_schema },
    { "forwardHeaders", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "OPA receives request headers in its input: list them in includeHeaders" },
    { "appendPath", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "OPA receives the path in its input (attributes.request.http.path, parsed_path)" },
};
SCHEMA(authz_opa_schema, struct pc_resource_authz_remote, authz_opa_fields);

static const struct pc_schema_field authz_http_fields[] = {
    { "url", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_authz_remote, url), .check = check_url },
    { "appendPath", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_authz_remote, append_path) },
    REMOTE_TIMEOUT,
    { "forwardHeaders", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_remote, headers), .min = 0,
      .max = 64, .check = check_header_name },
    { "upstreamHeaders", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_remote, upstream_headers),
      .min = 0, .max = 32, .check = check_header_name },
    { "caBundle", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_remote, ca_bundle),
      .sub = &pem_bundle_schema },
    { "cache", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_remote, cache),
      .sub = &decision_cache_schema },
    { "includeHeaders", PC_SCHEMA_UNSUPPORTED, 0, 0,
      .hint = "a check service receives the request headers listed in forwardHeaders" },
};
SCHEMA(authz_http_schema, struct pc_resource_authz_remote, authz_http_fields);

static const struct pc_schema_field authz_rego_fields[] = {
    { "files", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_authz_rego, files), .min = 1, .max = 64,
      .check = check_file_path },
    { "query", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_authz_rego, query), STRLEN(1024) },
    { "stepLimit", PC_SCHEMA_INT, DEF, AT(struct pc_resource_authz_rego, step_limit), .min = 100,
      .max = 1000000000, .def_int = PC_CONFIG_DEFAULT_REGO_STEP_LIMIT },
};
SCHEMA(authz_rego_schema, struct pc_resource_authz_rego, authz_rego_fields);

static const struct pc_schema_field authz_policy_fields[] = {
    { "targetRefs", PC_SCHEMA_LIST, REQ, AT(struct pc_resource_authz_policy, target_refs), .min = 1,
      .max = 16, .sub = &ctp_target_schema },
    { "mode", PC_SCHEMA_STRING, 0, AT(struct pc_resource_authz_policy, mode), .values = authz_modes,
      .def_str = "Enforce" },
    { "failureMode", PC_SCHEMA_STRING, 0, AT(struct pc_resource_authz_policy, failure_mode),
      .values = failure_modes, .def_str = "Closed" },
    { "denyStatus", PC_SCHEMA_INT, DEF, AT(struct pc_resource_authz_policy, deny_status),
      .min = 401, .max = 499, .def_int = PC_CONFIG_DEFAULT_AUTHZ_DENY_STATUS },
    { "rules", PC_SCHEMA_LIST, 0, AT(struct pc_resource_authz_policy, rules), .min = 0, .max = 256,
      .sub = &authz_rule_schema },
    { "opa", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_policy, opa),
      .sub = &authz_opa_schema },
    { "http", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_policy, http),
      .sub = &authz_http_schema },
    { "rego", PC_SCHEMA_OBJECT, 0, AT(struct pc_resource_authz_policy, rego),
      .sub = &authz_rego_schema },
};
SCHEMA(authz_policy_schema, struct pc_resource_authz_policy, authz_policy_fields);

/* ---- documents ---- */

static const struct pc_schema_field meta_fields[] = {
    { "name", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_meta, name), .check = check_subdomain },
    { "namespace", PC_SCHEMA_STRING, 0, AT(struct pc_resource_meta, namespace_),
      .check = check_dns_label },
    { "labels", PC_SCHEMA_MAP, 0, AT(struct pc_resource_meta, labels), .key_check = check_label_key,
      .check = check_label_value },
    { "annotations", PC_SCHEMA_MAP, 0, AT(struct pc_resource_meta, annotations),
      .key_check = check_label_key },
    { "creationTimestamp", PC_SCHEMA_STRING, 0, AT(struct pc_resource_meta, creation_timestamp),
      .check = check_timestamp },
    { "uid", PC_SCHEMA_ANY, 0, AT(struct pc_resource_meta, uid) },
    { "resourceVersion", PC_SCHEMA_ANY, 0, AT(struct pc_resource_meta, resource_version) },
    { "generation", PC_SCHEMA_ANY, 0, AT(struct pc_resource_meta, generation) },
};
SCHEMA(meta_schema, struct pc_resource_meta, meta_fields);

#define DOC_FIELDS(spec_schema, spec_flags)                                                        \
    { "apiVersion", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_doc, api_version) },              \
        { "kind", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_doc, kind) },                       \
        { "metadata", PC_SCHEMA_OBJECT, REQ, AT(struct pc_resource_doc, metadata),                 \
          .sub = &meta_schema },                                                                   \
        { "spec", (spec_schema) != NULL ? PC_SCHEMA_OBJECT : PC_SCHEMA_ANY, (spec_flags),          \
          AT(struct pc_resource_doc, spec), .sub = (spec_schema) },                                \
    {                                                                                              \
        "status", PC_SCHEMA_ANY, 0, AT(struct pc_resource_doc, status)                             \
    }

static const struct pc_schema_field gateway_doc[] = { DOC_FIELDS(&gateway_schema, REQ) };
static const struct pc_schema_field httproute_doc[] = { DOC_FIELDS(&httproute_schema, REQ) };
static const struct pc_schema_field grant_doc[] = { DOC_FIELDS(&grant_schema, REQ) };
static const struct pc_schema_field namespace_doc[] = { DOC_FIELDS(NULL, 0) };
static const struct pc_schema_field service_doc[] = { DOC_FIELDS(&service_schema, REQ) };
static const struct pc_schema_field ctp_doc[] = { DOC_FIELDS(&client_policy_schema, REQ) };
static const struct pc_schema_field btp_doc[] = { DOC_FIELDS(&backend_policy_schema, REQ) };
static const struct pc_schema_field proxy_doc[] = { DOC_FIELDS(&proxy_config_schema, 0) };
static const struct pc_schema_field certificate_files_doc[] = { DOC_FIELDS(
    &certificate_files_schema, REQ) };
static const struct pc_schema_field workload_identity_doc[] = { DOC_FIELDS(
    &workload_identity_schema, 0) };
static const struct pc_schema_field trust_bundle_doc[] = { DOC_FIELDS(&trust_bundle_schema, REQ) };
static const struct pc_schema_field btls_doc[] = { DOC_FIELDS(&backend_tls_policy_schema, REQ) };
static const struct pc_schema_field authn_doc[] = { DOC_FIELDS(&authn_policy_schema, REQ) };
static const struct pc_schema_field authz_doc[] = { DOC_FIELDS(&authz_policy_schema, REQ) };

/* Secret and ConfigMap carry their data next to metadata; a Secret's values are secret. */
static const struct pc_schema_field secret_doc[] = {
    { "apiVersion", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_doc, api_version) },
    { "kind", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_doc, kind) },
    { "metadata", PC_SCHEMA_OBJECT, REQ, AT(struct pc_resource_doc, metadata),
      .sub = &meta_schema },
    { "type", PC_SCHEMA_STRING, 0, AT(struct pc_resource_doc, type), STRLEN(253),
      .def_str = "Opaque" },
    { "data", PC_SCHEMA_MAP, PC_SCHEMA_SECRET, AT(struct pc_resource_doc, data),
      .key_check = check_data_key },
    { "stringData", PC_SCHEMA_MAP, PC_SCHEMA_SECRET, AT(struct pc_resource_doc, string_data),
      .key_check = check_data_key },
    { "immutable", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_doc, immutable) },
};

static const struct pc_schema_field config_map_doc[] = {
    { "apiVersion", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_doc, api_version) },
    { "kind", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_doc, kind) },
    { "metadata", PC_SCHEMA_OBJECT, REQ, AT(struct pc_resource_doc, metadata),
      .sub = &meta_schema },
    { "data", PC_SCHEMA_MAP, 0, AT(struct pc_resource_doc, data), .key_check = check_data_key },
    { "binaryData", PC_SCHEMA_UNSUPPORTED, 0, 0, .hint = "put the PEM text under data" },
    { "immutable", PC_SCHEMA_BOOL, 0, AT(struct pc_resource_doc, immutable) },
};

SCHEMA(gateway_doc_schema, struct pc_resource_doc, gateway_doc);
SCHEMA(httproute_doc_schema, struct pc_resource_doc, httproute_doc);
SCHEMA(grant_doc_schema, struct pc_resource_doc, grant_doc);
SCHEMA(namespace_doc_schema, struct pc_resource_doc, namespace_doc);
SCHEMA(service_doc_schema, struct pc_resource_doc, service_doc);
SCHEMA(ctp_doc_schema, struct pc_resource_doc, ctp_doc);
SCHEMA(btp_doc_schema, struct pc_resource_doc, btp_doc);
SCHEMA(proxy_doc_schema, struct pc_resource_doc, proxy_doc);
SCHEMA(certificate_files_doc_schema, struct pc_resource_doc, certificate_files_doc);
SCHEMA(workload_identity_doc_schema, struct pc_resource_doc, workload_identity_doc);
SCHEMA(trust_bundle_doc_schema, struct pc_resource_doc, trust_bundle_doc);
SCHEMA(btls_doc_schema, struct pc_resource_doc, btls_doc);
SCHEMA(authn_doc_schema, struct pc_resource_doc, authn_doc);
SCHEMA(authz_doc_schema, struct pc_resource_doc, authz_doc);
SCHEMA(secret_doc_schema, struct pc_resource_doc, secret_doc);
SCHEMA(config_map_doc_schema, struct pc_resource_doc, config_map_doc);

static const struct pc_schema_field header_doc[] = {
    { "apiVersion", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_doc, api_version) },
    { "kind", PC_SCHEMA_STRING, REQ, AT(struct pc_resource_doc, kind) },
    { "metadata", PC_SCHEMA_ANY, 0, AT(struct pc_resource_doc, metadata) },
    { "spec", PC_SCHEMA_ANY, 0, AT(struct pc_resource_doc, spec) },
    { "status", PC_SCHEMA_ANY, 0, AT(struct pc_resource_doc, status) },
};
static const struct pc_schema unknown_doc_schema = { "document", sizeof(struct pc_resource_doc),
                                                     FIELDS(header_doc) };

const struct pc_schema *
pc_resource_header_schema(void)
{
    return &unknown_doc_schema;
}

static const struct pc_resource_type types[] = {
    { PC_RESOURCE_GATEWAY, PC_RESOURCE_GATEWAY_GROUP "/v1", "Gateway", true, &gateway_doc_schema },
    { PC_RESOURCE_HTTPROUTE, PC_RESOURCE_GATEWAY_GROUP "/v1", "HTTPRoute", true,
      &httproute_doc_schema },
    { PC_RESOURCE_REFERENCE_GRANT, PC_RESOURCE_GATEWAY_GROUP "/v1beta1", "ReferenceGrant", true,
      &grant_doc_schema },
    { PC_RESOURCE_REFERENCE_GRANT, PC_RESOURCE_GATEWAY_GROUP "/v1", "ReferenceGrant", true,
      &grant_doc_schema },
    { PC_RESOURCE_NAMESPACE, "v1", "Namespace", false, &namespace_doc_schema },
    { PC_RESOURCE_SERVICE_ENDPOINTS, PC_RESOURCE_OWN_GROUP "/v1alpha1", "ServiceEndpoints", true,
      &service_doc_schema },
    { PC_RESOURCE_CLIENT_POLICY, PC_RESOURCE_OWN_GROUP "/v1alpha1", "ClientTrafficPolicy", true,
      &ctp_doc_schema },
    { PC_RESOURCE_BACKEND_POLICY, PC_RESOURCE_OWN_GROUP "/v1alpha1", "BackendTrafficPolicy", true,
      &btp_doc_schema },
    { PC_RESOURCE_PROXY_CONFIG, PC_RESOURCE_OWN_GROUP "/v1alpha1", "ProxyConfig", false,
      &proxy_doc_schema },
    { PC_RESOURCE_SECRET, "v1", "Secret", true, &secret_doc_schema },
    { PC_RESOURCE_CONFIG_MAP, "v1", "ConfigMap", true, &config_map_doc_schema },
    { PC_RESOURCE_CERTIFICATE_FILES, PC_RESOURCE_OWN_GROUP "/v1alpha1", "CertificateFiles", true,
      &certificate_files_doc_schema },
    { PC_RESOURCE_WORKLOAD_IDENTITY, PC_RESOURCE_OWN_GROUP "/v1alpha1", "WorkloadIdentity", true,
      &workload_identity_doc_schema },
    { PC_RESOURCE_TRUST_BUNDLE, PC_RESOURCE_OWN_GROUP "/v1alpha1", "TrustBundle", true,
      &trust_bundle_doc_schema },
    /* v1 first: it is the version a hint for a wrong apiVersion names. */
    { PC_RESOURCE_BACKEND_TLS_POLICY, PC_RESOURCE_GATEWAY_GROUP "/v1", "BackendTLSPolicy", true,
      &btls_doc_schema },
    { PC_RESOURCE_BACKEND_TLS_POLICY, PC_RESOURCE_GATEWAY_GROUP "/v1alpha3", "BackendTLSPolicy",
      true, &btls_doc_schema },
    { PC_RESOURCE_AUTHN_POLICY, PC_RESOURCE_OWN_GROUP "/v1alpha1", "AuthenticationPolicy", true,
      &authn_doc_schema },
    { PC_RESOURCE_AUTHZ_POLICY, PC_RESOURCE_OWN_GROUP "/v1alpha1", "AuthorizationPolicy", true,
      &authz_doc_schema },
};

#define N_TYPES (sizeof(types) / sizeof(types[0]))

static const char *const kind_names[] = {
    "Gateway",          "HTTPRoute",           "ReferenceGrant",       "Namespace",
    "ServiceEndpoints", "ClientTrafficPolicy", "BackendTrafficPolicy", "ProxyConfig",
    "Secret",           "ConfigMap",           "CertificateFiles",     "WorkloadIdentity",
    "TrustBundle",      "BackendTLSPolicy",    "AuthenticationPolicy", "AuthorizationPolicy",
};

const struct pc_resource_type *
pc_resource_lookup(const char *api_version, const char *kind, bool *known_kind)
{
    *known_kind = false;
    for (size_t i = 0; i < N_TYPES; i++) {
        if (strcmp(types[i].name, kind) != 0) {
            continue;
        }
        *known_kind = true;
        if (strcmp(types[i].api_version, api_version) == 0) {
            return &types[i];
        }
    }
    return NULL;
}

const char *
pc_resource_api_version_of(const char *kind)
{
    for (size_t i = 0; i < N_TYPES; i++) {
        if (strcmp(types[i].name, kind) == 0) {
            return types[i].api_version;
        }
    }
    return NULL;
}

/* The API group of an apiVersion: "gateway.networking.k8s.io/v1" -> its length up to '/'. */
static size_t
measure_group(const char *api_version)
{
    const char *slash = strchr(api_version, '/');

    return slash != NULL ? (size_t)(slash - api_version) : 0;
}

static bool
is_listed(size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (strcmp(types[j].name, types[i].name) == 0) {
            return true;
        }
    }
    return false;
}

void
pc_resource_list_kinds(char *buf, size_t size)
{
    static const char *const groups[] = { PC_RESOURCE_GATEWAY_GROUP, "", PC_RESOURCE_OWN_GROUP };
    size_t pos = 0;

    /* Kinds grouped by API group: the list stays readable as kinds are added. */
    buf[0] = '\0';
    for (size_t g = 0; g < 3 && pos < size; g++) {
        size_t group_len = strlen(groups[g]);
        size_t listed = 0;

        for (size_t i = 0; i < N_TYPES && pos < size; i++) {
            int n;

            if (measure_group(types[i].api_version) != group_len
                || strncmp(types[i].api_version, groups[g], group_len) != 0 || is_listed(i)) {
                continue;
            }
            n = snprintf(buf + pos, size - pos, "%s%s", listed > 0 ? ", " : (g > 0 ? "; " : ""),
                         types[i].name);
            pos += n > 0 ? (size_t)n : 0;
            listed++;
        }
        if (pos < size) {
            int n = snprintf(buf + pos, size - pos, " (%s)", g == 1 ? "v1" : groups[g]);

            pos += n > 0 ? (size_t)n : 0;
        }
    }
}

const char *const *
pc_resource_kind_names(size_t *n)
{
    *n = sizeof(kind_names) / sizeof(kind_names[0]);
    return kind_names;
}
