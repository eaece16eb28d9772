/*
 * Unit tests for the authorization input document (src/authz/input.c): the whole document for a
 * full view, read back with jansson and checked member by member; anonymous callers and
 * connections without a client certificate; string escaping of arbitrary bytes (invalid UTF-8
 * becomes U+FFFD); redaction of credentials for the decision log; header selection and joining;
 * Go's query parsing; cache-key values; and the facts object of native-rule decisions.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "authn/principal.h"
#include "authz/input.h"
#include "authz/view.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/err.h"
#include "tls/peer.h"

#define TOKEN "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"

struct fixture {
    struct pc_arena *arena;
    struct pc_authz_view view;
    struct pc_header_pair headers[16];
    struct pc_principal *principal;
    struct pc_peer_identity peer;
    json_t *doc;
};

static struct fixture fx;

static const char *const peer_dns[] = { "client.example.org", "alt.example.org" };
static const char *const peer_uris[] = { "spiffe://prod.example.org/ns/web/sa/web" };

static void
set_addr(struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(addr, ':') != NULL) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        assert_int_equal(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
    }
}

static void
add_header(const char *name, const char *value)
{
    assert_true(fx.view.n_headers < 16);
    fx.headers[fx.view.n_headers++] =
        (struct pc_header_pair){ name, strlen(name), value, strlen(value) };
}

static void
set_principal(const char *claims_json)
{
    static const char *const client_id_claims[] = { "client_id", "azp" };
    static const char *const role_paths[] = { "roles" };
    struct pc_principal_spec spec = { client_id_claims, 2, role_paths, 1 };
    json_t *claims = json_loads(claims_json, 0, NULL);

    assert_non_null(claims);
    pc_principal_unref(fx.principal);
    fx.principal = pc_principal_create(claims, &spec);
    json_decref(claims);
    assert_non_null(fx.principal);
    fx.view.principal = fx.principal;
}

/* The view of the input document's example: GET /users/42?x=1 by alice over mTLS. */
static int
setup(void **state)
{
    memset(&fx, 0, sizeof(fx));
    fx.arena = pc_arena_create(4096);
    assert_non_null(fx.arena);
    fx.view.method = "GET";
    fx.view.method_len = 3;
    fx.view.path = "/users/42";
    fx.view.path_len = 9;
    fx.view.query = "x=1";
    fx.view.query_len = 3;
    fx.view.host = "api.example.com";
    fx.view.host_len = 15;
    fx.view.scheme = "https";
    fx.view.protocol = "HTTP/1.1";
    fx.view.request_id = "b7c1e2d4";
    fx.view.request_id_len = 8;
    fx.view.headers = fx.headers;
    set_addr(&fx.view.client_addr, "10.0.0.5", 51234);
    set_addr(&fx.view.local_addr, "10.0.0.1", 8443);
    fx.view.route_name = "default/orders";
    fx.view.rule_index = 2;
    fx.view.listener = "default/gw/https";

    fx.peer.subject = "CN=web,O=Example";
    fx.peer.spiffe_id = "spiffe://prod.example.org/ns/web/sa/web";
    fx.peer.dns = peer_dns;
    fx.peer.n_dns = 2;
    fx.peer.uris = peer_uris;
    fx.peer.n_uris = 1;
    memset(fx.peer.sha256_hex, 'a', 64);
    fx.peer.sha256_hex[64] = '\0';
    return 0;
}

static int
teardown(void **state)
{
    pc_alloc_fail_reset();
    json_decref(fx.doc);
    pc_principal_unref(fx.principal);
    pc_arena_destroy(fx.arena);
    return 0;
}

/* Builds the document and parses it back; the text must be valid JSON that ends exactly. */
static json_t *
build(const struct pc_authz_input_options *opts)
{
    json_error_t err;
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(pc_authz_input_build(&fx.view, opts, fx.arena, &text, &len), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    json_decref(fx.doc);
    fx.doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (fx.doc == NULL) {
        fail_msg("invalid JSON at %d: %s in %s", err.position, err.text, text);
    }
    assert_true(json_is_object(fx.doc));
    return fx.doc;
}

static const char *
str_at(const json_t *root, const char *path)
{
    const json_t *v = pc_principal_lookup(root, path);

    if (v == NULL || !json_is_string(v)) {
        fail_msg("%s is not a string", path);
    }
    return json_string_value(v);
}

static json_int_t
int_at(const json_t *root, const char *path)
{
    const json_t *v = pc_principal_lookup(root, path);

    if (v == NULL || !json_is_integer(v)) {
        fail_msg("%s is not an integer", path);
    }
    return json_integer_value(v);
}

/* The array of strings at path equals the NULL-terminated list want. */
static void
assert_strings_at(const json_t *root, const char *path, const char *const *want)
{
    const json_t *v = pc_principal_lookup(root, path);
    size_t n = 0;

    assert_non_null(v);
    assert_true(json_is_array(v));
    while (want[n] != NULL) {
        assert_true(n < json_array_size(v));
        assert_string_equal(json_string_value(json_array_get(v, n)), want[n]);
        n++;
    }
    assert_int_equal(json_array_size(v), n);
}

static void
assert_json_equal(const json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);

    assert_non_null(want);
    if (!json_equal((json_t *)got, want)) {
        char *text = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);

        fail_msg("got %s, want %s", text, want_text);
    }
    json_decref(want);
}

/* ---- the document ---- */

static void
test_input_full_document(void **state)
{
    static const char *const path[] = { "users", "42", NULL };
    static const char *const scopes[] = { "orders.read", "profile", NULL };
    static const char *const roles[] = { "admin", "support", NULL };
    static const char *const dns[] = { "client.example.org", "alt.example.org", NULL };
    static const char *const uris[] = { "spiffe://prod.example.org/ns/web/sa/web", NULL };
    const char *claims = "{\"sub\":\"alice\",\"iss\":\"https://idp.example.com\",\"azp\":\"web\","
                         "\"scope\":\"orders.read profile\",\"roles\":[\"admin\",\"support\"],"
                         "\"org\":{\"tenant\":\"acme\",\"n\":3},\"ok\":true}";
    json_t *doc;

    add_header("host", "api.example.com");
    add_header("x-tenant", "acme");
    add_header("authorization", "Bearer " TOKEN);
    set_principal(claims);
    fx.view.peer = &fx.peer;
    doc = build(NULL);

    assert_int_equal(json_object_size(doc), 6);
    assert_string_equal(str_at(doc, "attributes.source.address.socketAddress.address"), "10.0.0.5");
    assert_int_equal(int_at(doc, "attributes.source.address.socketAddress.portValue"), 51234);
    assert_string_equal(str_at(doc, "attributes.source.principal"),
                        "spiffe://prod.example.org/ns/web/sa/web");
    assert_string_equal(str_at(doc, "attributes.destination.address.socketAddress.address"),
                        "10.0.0.1");
    assert_int_equal(int_at(doc, "attributes.destination.address.socketAddress.portValue"), 8443);
    assert_string_equal(str_at(doc, "attributes.request.http.id"), "b7c1e2d4");
    assert_string_equal(str_at(doc, "attributes.request.http.method"), "GET");
    assert_string_equal(str_at(doc, "attributes.request.http.path"), "/users/42?x=1");
    assert_string_equal(str_at(doc, "attributes.request.http.host"), "api.example.com");
    assert_string_equal(str_at(doc, "attributes.request.http.scheme"), "https");
    assert_string_equal(str_at(doc, "attributes.request.http.protocol"), "HTTP/1.1");
    assert_json_equal(pc_principal_lookup(doc, "attributes.request.http.headers"),
                      "{\"host\":\"api.example.com\",\"x-tenant\":\"acme\","
                      "\"authorization\":\"Bearer " TOKEN "\"}");

    assert_strings_at(doc, "parsed_path", path);
    assert_json_equal(json_object_get(doc, "parsed_query"), "{\"x\":[\"1\"]}");

    assert_true(json_is_true(pc_principal_lookup(doc, "principal.authenticated")));
    assert_string_equal(str_at(doc, "principal.sub"), "alice");
    assert_string_equal(str_at(doc, "principal.iss"), "https://idp.example.com");
    assert_string_equal(str_at(doc, "principal.client_id"), "web");
    assert_strings_at(doc, "principal.scopes", scopes);
    assert_strings_at(doc, "principal.roles", roles);
    assert_json_equal(pc_principal_lookup(doc, "principal.claims"), claims);

    assert_string_equal(str_at(doc, "peer.subject"), "CN=web,O=Example");
    assert_string_equal(str_at(doc, "peer.spiffe_id"), "spiffe://prod.example.org/ns/web/sa/web");
    assert_strings_at(doc, "peer.dns_names", dns);
    assert_strings_at(doc, "peer.uris", uris);
    assert_string_equal(str_at(doc, "peer.fingerprint_sha256"),
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

    assert_json_equal(json_object_get(doc, "route"),
                      "{\"name\":\"default/orders\",\"rule\":2,\"listener\":\"default/gw/https\"}");
}

static void
test_input_anonymous_without_peer(void **state)
{
    json_t *doc = build(NULL);

    assert_json_equal(json_object_get(doc, "principal"), "{\"authenticated\":false}");
    assert_null(json_object_get(doc, "peer"));
    assert_null(pc_principal_lookup(doc, "attributes.source.principal"));
    assert_non_null(pc_principal_lookup(doc, "attributes.source.address"));
    assert_json_equal(pc_principal_lookup(doc, "attributes.request.http.headers"), "{}");
}

static void
test_input_principal_without_optional_claims(void **state)
{
    json_t *doc;

    set_principal("{\"scp\":[]}");
    doc = build(NULL);
    assert_json_equal(json_object_get(doc, "principal"),
                      "{\"authenticated\":true,\"scopes\":[],\"roles\":[],"
                      "\"claims\":{\"scp\":[]}}");
}

static void
test_input_large_claims(void **state)
{
    char big[6000];
    char claims[6100];
    json_t *doc;

    memset(big, 'c', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(claims, sizeof(claims), "{\"sub\":\"alice\",\"blob\":\"%s\"}", big);
    set_principal(claims);
    doc = build(NULL);
    assert_string_equal(str_at(doc, "principal.claims.blob"), big);
}

static void
test_input_peer_principal_fallbacks(void **state)
{
    json_t *doc;

    fx.view.peer = &fx.peer;
    fx.peer.spiffe_id = NULL;
    doc = build(NULL);
    assert_string_equal(str_at(doc, "attributes.source.principal"), peer_uris[0]);
    assert_null(pc_principal_lookup(doc, "peer.spiffe_id"));

    fx.peer.n_uris = 0;
    doc = build(NULL);
    assert_string_equal(str_at(doc, "attributes.source.principal"), "client.example.org");

    fx.peer.n_dns = 0;
    doc = build(NULL);
    assert_string_equal(str_at(doc, "attributes.source.principal"), "CN=web,O=Example");
    assert_json_equal(pc_principal_lookup(doc, "peer.dns_names"), "[]");
}

static void
test_input_addresses(void **state)
{
    json_t *doc;

    set_addr(&fx.view.client_addr, "::ffff:192.0.2.7", 1);
    set_addr(&fx.view.local_addr, "2001:db8::1", 443);
    doc = build(NULL);
    assert_string_equal(str_at(doc, "attributes.source.address.socketAddress.address"),
                        "192.0.2.7");
    assert_int_equal(int_at(doc, "attributes.source.address.socketAddress.portValue"), 1);
    assert_string_equal(str_at(doc, "attributes.destination.address.socketAddress.address"),
                        "2001:db8::1");

    /* No IP address: the address member is left out, the rest stays valid. */
    memset(&fx.view.client_addr, 0, sizeof(fx.view.client_addr));
    fx.view.peer = &fx.peer;
    doc = build(NULL);
    assert_null(pc_principal_lookup(doc, "attributes.source.address"));
    assert_string_equal(str_at(doc, "attributes.source.principal"), fx.peer.spiffe_id);
}

/* ---- escaping ---- */

static void
test_input_escapes_arbitrary_bytes(void **state)
{
    json_t *doc;
    char *text;
    size_t len;

    add_header("x-quote", "a\"b\\c/d");
    add_header("x-ctl", "\x01\x1f\t\n\r\x7f");
    add_header("x-utf8", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    add_header("x-bad", "\xff|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\x80");
    add_header("x-\xfe", "name");
    fx.view.path = "/a\"b";
    fx.view.path_len = 4;
    doc = build(NULL);

    assert_string_equal(str_at(doc, "attributes.request.http.headers.x-quote"), "a\"b\\c/d");
    assert_string_equal(str_at(doc, "attributes.request.http.headers.x-ctl"), "\x01\x1f\t\n\r\x7f");
    assert_string_equal(str_at(doc, "attributes.request.http.headers.x-utf8"),
                        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* One U+FFFD per byte that does not start a valid sequence, as Go writes them. */
    assert_string_equal(str_at(doc, "attributes.request.http.headers.x-bad"),
                        "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd");
    /* A name that is not a token never reaches the document. */
    assert_int_equal(json_object_size(pc_principal_lookup(doc, "attributes.request.http.headers")),
                     4);
    assert_string_equal(str_at(doc, "attributes.request.http.path"), "/a\"b?x=1");

    /* The escapes themselves: short forms where JSON has them, \u00XX otherwise. */
    assert_int_equal(pc_authz_input_key_value(&fx.view, "attributes.request.http.headers.x-ctl",
                                              fx.arena, &text, &len),
                     0);
    assert_string_equal(text, "\"\\u0001\\u001f\\t\\n\\r\x7f\"");
}

static void
test_input_escapes_nul(void **state)
{
    static const char value[] = { 'a', '\0', 'b' };
    json_t *doc;
    json_error_t err;
    char *text;
    size_t len;

    fx.headers[0] = (struct pc_header_pair){ "x-nul", 5, value, 3 };
    fx.view.n_headers = 1;
    assert_int_equal(pc_authz_input_build(&fx.view, NULL, fx.arena, &text, &len), 0);
    assert_non_null(strstr(text, "\"a\\u0000b\""));
    doc = json_loadb(text, len, JSON_ALLOW_NUL, &err);
    assert_non_null(doc);
    json_decref(doc);
}

/* ---- headers ---- */

static void
test_input_repeated_headers_joined(void **state)
{
    json_t *doc;

    add_header("accept", "text/html");
    add_header("cookie", "a=1");
    add_header("x-forwarded-for", "1.1.1.1");
    add_header("accept", "application/json");
    add_header("cookie", "b=2");
    add_header("x-forwarded-for", "2.2.2.2, 3.3.3.3");
    add_header("set-cookie", "s=1");
    add_header("set-cookie", "t=2");
    doc = build(NULL);
    assert_json_equal(pc_principal_lookup(doc, "attributes.request.http.headers"),
                      "{\"accept\":\"text/html, application/json\",\"cookie\":\"a=1; b=2\","
                      "\"x-forwarded-for\":\"1.1.1.1, 2.2.2.2, 3.3.3.3\","
                      "\"set-cookie\":\"s=1; t=2\"}");
}

static void
test_input_header_selection(void **state)
{
    static const char *const listed[] = { "x-tenant", "Authorization", "x-missing" };
    struct pc_authz_input_options opts = { listed, 3, false };
    struct pc_authz_input_options none = { listed, 0, false };
    json_t *doc;

    add_header("x-tenant", "acme");
    add_header("authorization", "Bearer " TOKEN);
    add_header("x-other", "1");
    add_header("x-tenant", "beta");
    doc = build(&opts);
    assert_json_equal(pc_principal_lookup(doc, "attributes.request.http.headers"),
                      "{\"x-tenant\":\"acme, beta\",\"authorization\":\"Bearer " TOKEN "\"}");

    doc = build(&none);
    assert_json_equal(pc_principal_lookup(doc, "attributes.request.http.headers"), "{}");
}

static void
test_input_redaction_for_log(void **state)
{
    struct pc_authz_input_options log = { NULL, 0, true };
    struct pc_authz_input_options opa = { NULL, 0, false };
    json_t *doc;
    char *text;
    size_t len;

    add_header("authorization", "Bearer " TOKEN);
    add_header("proxy-authorization", "Basic c2VjcmV0LXByb3h5");
    add_header("cookie", "session=s3cr3t-cookie");
    add_header("cookie", "other=s3cr3t-two");
    add_header("x-api-token", "s3cr3t-api-token");
    add_header("x-tenant", "acme");
    fx.view.token_header = "x-api-token";
    fx.view.token_header_len = 11;

    assert_int_equal(pc_authz_input_build(&fx.view, &log, fx.arena, &text, &len), 0);
    assert_null(strstr(text, TOKEN));
    assert_null(strstr(text, "c2VjcmV0LXByb3h5"));
    assert_null(strstr(text, "s3cr3t"));
    doc = build(&log);
    assert_json_equal(pc_principal_lookup(doc, "attributes.request.http.headers"),
                      "{\"authorization\":\"<redacted>\",\"proxy-authorization\":\"<redacted>\","
                      "\"cookie\":\"<redacted>\",\"x-api-token\":\"<redacted>\","
                      "\"x-tenant\":\"acme\"}");

    /* OPA and Rego receive them as sent. */
    doc = build(&opa);
    assert_string_equal(str_at(doc, "attributes.request.http.headers.authorization"),
                        "Bearer " TOKEN);
    assert_string_equal(str_at(doc, "attributes.request.http.headers.x-api-token"),
                        "s3cr3t-api-token");
    assert_string_equal(str_at(doc, "attributes.request.http.headers.cookie"),
                        "session=s3cr3t-cookie; other=s3cr3t-two");

    /* Without a token header of its own, x-api-token is an ordinary header. */
    fx.view.token_header = NULL;
    fx.view.token_header_len = 0;
    doc = build(&log);
    assert_string_equal(str_at(doc, "attributes.request.http.headers.x-api-token"),
                        "s3cr3t-api-token");
    assert_string_equal(str_at(doc, "attributes.request.http.headers.authorization"), "<redacted>");
}

/* ---- path and query ---- */

static void
test_input_parsed_path(void **state)
{
    static const char *const root[] = { "", NULL };
    static const char *const decoded[] = { "a b", "c/d", "\xc3\xa9", "%zz", "", NULL };
    json_t *doc;

    fx.view.path = "/";
    fx.view.path_len = 1;
    doc = build(NULL);
    assert_strings_at(doc, "parsed_path", root);

    fx.view.path = "/a%20b/c%2Fd/%C3%A9/%zz/";
    fx.view.path_len = strlen(fx.view.path);
    doc = build(NULL);
    assert_strings_at(doc, "parsed_path", decoded);
    assert_string_equal(str_at(doc, "attributes.request.http.path"),
                        "/a%20b/c%2Fd/%C3%A9/%zz/?x=1");
}

static void
test_input_parsed_query(void **state)
{
    json_t *doc;

    fx.view.query = "a=1&b=2&a=3&c&d=&e=%41+b%2B&bad=%zz&semi=1;x=2&&=v&f=a=b&%zz=1&g=%4";
    fx.view.query_len = strlen(fx.view.query);
    doc = build(NULL);
    assert_json_equal(json_object_get(doc, "parsed_query"),
                      "{\"a\":[\"1\",\"3\"],\"b\":[\"2\"],\"c\":[\"\"],\"d\":[\"\"],"
                      "\"e\":[\"A b+\"],\"\":[\"v\"],\"f\":[\"a=b\"]}");

    /* No query, and an empty one: an empty object; the path has no '?' without a query. */
    fx.view.query = NULL;
    fx.view.query_len = 0;
    doc = build(NULL);
    assert_json_equal(json_object_get(doc, "parsed_query"), "{}");
    assert_string_equal(str_at(doc, "attributes.request.http.path"), "/users/42");
    fx.view.query = "";
    doc = build(NULL);
    assert_json_equal(json_object_get(doc, "parsed_query"), "{}");
    assert_string_equal(str_at(doc, "attributes.request.http.path"), "/users/42?");

    /* Decoded names that are not UTF-8 are still valid JSON, and group under the one member
     * name they are written as instead of repeating it. */
    fx.view.query = "%FF=%FE&%FE=2&a%C3=3&a%EF%BF%BD=4";
    fx.view.query_len = strlen(fx.view.query);
    doc = build(NULL);
    assert_json_equal(json_object_get(doc, "parsed_query"),
                      "{\"\\ufffd\":[\"\\ufffd\",\"2\"],\"a\\ufffd\":[\"3\",\"4\"]}");
}

/* ---- cache keys ---- */

static const char *
key(const char *path)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(pc_authz_input_key_value(&fx.view, path, fx.arena, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

static void
test_input_key_values(void **state)
{
    add_header("x-tenant", "acme");
    add_header("X-Multi", "1");
    add_header("x-multi", "2");
    assert_string_equal(key("attributes.request.http.method"), "\"GET\"");
    assert_string_equal(key("attributes.request.http.path"), "\"/users/42?x=1\"");
    assert_string_equal(key("attributes.request.http.host"), "\"api.example.com\"");
    assert_string_equal(key("attributes.request.http.headers.x-tenant"), "\"acme\"");
    assert_string_equal(key("attributes.request.http.headers.X-Tenant"), "\"acme\"");
    assert_string_equal(key("attributes.request.http.headers.x-multi"), "\"1, 2\"");
    assert_string_equal(key("attributes.request.http.headers.x-none"), "null");
    assert_string_equal(key("attributes.source.address"), "\"10.0.0.5\"");
    assert_string_equal(key("parsed_path"), "[\"users\",\"42\"]");
    assert_string_equal(key("principal.sub"), "null");
    assert_string_equal(key("principal.iss"), "null");
    assert_string_equal(key("principal.client_id"), "null");
    assert_string_equal(key("peer.spiffe_id"), "null");

    set_principal("{\"sub\":\"al\\\"ice\",\"iss\":\"https://idp\",\"client_id\":\"web\"}");
    fx.view.peer = &fx.peer;
    assert_string_equal(key("principal.sub"), "\"al\\\"ice\"");
    assert_string_equal(key("principal.iss"), "\"https://idp\"");
    assert_string_equal(key("principal.client_id"), "\"web\"");
    assert_string_equal(key("peer.spiffe_id"), "\"spiffe://prod.example.org/ns/web/sa/web\"");

    /* The port is not part of the key: every connection has its own. */
    set_addr(&fx.view.client_addr, "2001:db8::7", 1);
    assert_string_equal(key("attributes.source.address"), "\"2001:db8::7\"");
    memset(&fx.view.client_addr, 0, sizeof(fx.view.client_addr));
    assert_string_equal(key("attributes.source.address"), "null");
}

static void
test_input_key_paths_refused(void **state)
{
    static const char *const refused[] = { "",
                                           "attributes",
                                           "attributes.request.http",
                                           "attributes.request.http.headers",
                                           "attributes.request.http.headers.",
                                           "attributes.request.http.id",
                                           "attributes.request.http.method.x",
                                           "principal",
                                           "principal.claims.sub",
                                           "route.name",
                                           "parsed_query" };
    char *text = NULL;
    size_t len = 0;

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_false(pc_authz_input_key_path_is_valid(refused[i]));
        assert_int_equal(pc_authz_input_key_value(&fx.view, refused[i], fx.arena, &text, &len),
                         PC_EINVAL);
    }
    assert_false(pc_authz_input_key_path_is_valid(NULL));
    assert_true(pc_authz_input_key_path_is_valid("attributes.request.http.headers.x"));
    assert_true(pc_authz_input_key_path_is_valid("peer.spiffe_id"));
}

static void
test_input_cache_key(void **state)
{
    static const char *const paths[] = { "attributes.request.http.method", "parsed_path",
                                         "principal.sub" };
    static const char *const bad[] = { "principal.sub", "principal.name" };
    char *text = NULL;
    size_t len = 0;
    json_t *parsed;

    set_principal("{\"sub\":\"alice\"}");
    assert_int_equal(pc_authz_input_cache_key(&fx.view, paths, 3, fx.arena, &text, &len), 0);
    assert_string_equal(text, "[\"GET\",[\"users\",\"42\"],\"alice\"]");
    parsed = json_loadb(text, len, 0, NULL);
    assert_non_null(parsed);
    json_decref(parsed);

    /* Values that would run together as plain text stay apart. */
    fx.view.method = "GET\",\"x";
    fx.view.method_len = 7;
    assert_int_equal(pc_authz_input_cache_key(&fx.view, paths, 1, fx.arena, &text, &len), 0);
    assert_string_equal(text, "[\"GET\\\",\\\"x\"]");

    assert_int_equal(pc_authz_input_cache_key(&fx.view, bad, 2, fx.arena, &text, &len), PC_EINVAL);
    assert_int_equal(pc_authz_input_cache_key(&fx.view, paths, 0, fx.arena, &text, &len),
                     PC_EINVAL);
}

/* ---- facts ---- */

static void
test_input_facts(void **state)
{
    char *text = NULL;
    size_t len = 0;
    json_t *facts;

    add_header("authorization", "Bearer " TOKEN);
    assert_int_equal(pc_authz_input_facts(&fx.view, fx.arena, &text, &len), 0);
    assert_string_equal(text, "{\"method\":\"GET\",\"path\":\"/users/42\","
                              "\"host\":\"api.example.com\",\"source\":\"10.0.0.5\"}");

    set_principal("{\"sub\":\"alice\",\"iss\":\"https://idp.example.com\",\"azp\":\"web\"}");
    fx.view.peer = &fx.peer;
    assert_int_equal(pc_authz_input_facts(&fx.view, fx.arena, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    assert_null(strstr(text, TOKEN));
    facts = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(facts);
    assert_json_equal(facts, "{\"method\":\"GET\",\"path\":\"/users/42\","
                             "\"host\":\"api.example.com\",\"source\":\"10.0.0.5\","
                             "\"sub\":\"alice\",\"iss\":\"https://idp.example.com\","
                             "\"client_id\":\"web\","
                             "\"spiffe_id\":\"spiffe://prod.example.org/ns/web/sa/web\"}");
    json_decref(facts);

    /* Nothing known but the method and path. */
    memset(&fx.view.client_addr, 0, sizeof(fx.view.client_addr));
    fx.view.host = NULL;
    fx.view.host_len = 0;
    fx.view.principal = NULL;
    fx.view.peer = NULL;
    assert_int_equal(pc_authz_input_facts(&fx.view, fx.arena, &text, &len), 0);
    assert_string_equal(text, "{\"method\":\"GET\",\"path\":\"/users/42\"}");
}

static void
test_input_out_of_memory(void **state)
{
    char value[5000];
    char *text = NULL;
    size_t len = 0;

    /* The document no longer fits the arena's first block, and no other can be had. */
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    add_header("x-big", value);
    pc_alloc_fail_after(0);
    assert_int_equal(pc_authz_input_build(&fx.view, NULL, fx.arena, &text, &len), PC_ENOMEM);
    assert_int_equal(pc_authz_input_key_value(&fx.view, "attributes.request.http.headers.x-big",
                                              fx.arena, &text, &len),
                     PC_ENOMEM);
    pc_alloc_fail_reset();
    assert_int_equal(pc_authz_input_build(&fx.view, NULL, fx.arena, &text, &len), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_input_full_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_anonymous_without_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_principal_without_optional_claims, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_input_large_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_peer_principal_fallbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_escapes_arbitrary_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_escapes_nul, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_repeated_headers_joined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_header_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_redaction_for_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_parsed_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_parsed_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_key_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_key_paths_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_cache_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_facts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_out_of_memory, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
