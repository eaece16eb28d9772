/*
 * Unit tests for the AuthenticationPolicy configuration: every error the validator reports about
 * one (schema, cross-checks within a policy, references, targets and listeners), and the
 * struct pc_authn it compiles into: defaults, each key source, algorithm bits, token locations,
 * requirements, forwarded headers, which policy a rule gets (route over listener over Gateway),
 * and secrets that are copied, wiped with the snapshot and never printed.
 *
 * Error tests load the policy under test first (so line numbers are the snippet's own) and then
 * a valid base, and assert one complete diagnostic line. A local JWKS file is created in a
 * temporary directory for the run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "helpers/config_check.h"
#include "route/route.h"

#define CERT_B64                                                                                   \
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekNDQVZtZ0F3SUJBZ0lVZTNKdwotLS0tLUVORCBDRVJUSUZJ" \
    "Q0FURS0tLS0tCg=="
#define KEY_B64                                                                                    \
    "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFRwotLS0tLUVORCBQUklWQVRF" \
    "IEtFWS0tLS0tCg=="
#define CERT_QUOTED                                                                                \
    "\"-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIUe3Jw\\n-----END CERTIFICATE-----\\n\""

/* A 64-byte HMAC key, enough for HS512, and a public EC key as a JWK set. */
#define HMAC_KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define JWKS_JSON                                                                                    \
    "{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", \"kid\": \"k1\", \"x\": \"f83OJ3D2xF1Bg8\", " \
    "\"y\": \"x_FEzRu9m36HLN_tue\"}]}"

/*
 * Gateway "gw" with listener "http" (8080) and listener "https" (8443, which asks clients for
 * certificates), HTTPRoute "r" on both, and what policies refer to: Secret "jwt-hmac" (key
 * "secret"), Secret "gw-client" (key "clientSecret") and TrustBundle "example-org" (SPIFFE).
 */
#define BASE                                                                                       \
    "---\n"                                                                                        \
    "apiVersion: gateway.networking.k8s.io/v1\n"                                                   \
    "kind: Gateway\n"                                                                              \
    "metadata: {name: gw}\n"                                                                       \
    "spec:\n"                                                                                      \
    "  gatewayClassName: pc\n"                                                                     \
    "  listeners:\n"                                                                               \
    "  - {name: http, port: 8080, protocol: HTTP}\n"                                               \
    "  - name: https\n"                                                                            \
    "    port: 8443\n"                                                                             \
    "    protocol: HTTPS\n"                                                                        \
    "    tls:\n"                                                                                   \
    "      certificateRefs: [{name: site}]\n"                                                      \
    "      frontendValidation: {caCertificateRefs: [{name: ca}]}\n"                                \
    "---\n"                                                                                        \
    "apiVersion: v1\n"                                                                             \
    "kind: Secret\n"                                                                               \
    "metadata: {name: site}\n"                                                                     \
    "type: kubernetes.io/tls\n"                                                                    \
    "data: {tls.crt: " CERT_B64 ", tls.key: " KEY_B64 "}\n"                                        \
    "---\n"                                                                                        \
    "apiVersion: v1\n"                                                                             \
    "kind: ConfigMap\n"                                                                            \
    "metadata: {name: ca}\n"                                                                       \
    "data: {ca.crt: " CERT_QUOTED "}\n"                                                            \
    "---\n"                                                                                        \
    "apiVersion: portcullis.dev/v1alpha1\n"                                                        \
    "kind: ServiceEndpoints\n"                                                                     \
    "metadata: {name: svc}\n"                                                                      \
    "spec: {ports: [{port: 80, endpoints: [\"127.0.0.1:9000\"]}]}\n"                               \
    "---\n"                                                                                        \
    "apiVersion: gateway.networking.k8s.io/v1\n"                                                   \
    "kind: HTTPRoute\n"                                                                            \
    "metadata: {name: r}\n"                                                                        \
    "spec:\n"                                                                                      \
    "  parentRefs: [{name: gw}]\n"                                                                 \
    "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"                                          \
    "---\n"                                                                                        \
    "apiVersion: v1\n"                                                                             \
    "kind: Secret\n"                                                                               \
    "metadata: {name: jwt-hmac}\n"                                                                 \
    "stringData: {secret: " HMAC_KEY "}\n"                                                         \
    "---\n"                                                                                        \
    "apiVersion: v1\n"                                                                             \
    "kind: Secret\n"                                                                               \
    "metadata: {name: gw-client}\n"                                                                \
    "data: {clientSecret: Z3ctc2VjcmV0LXZhbHVl}\n"                                                 \
    "---\n"                                                                                        \
    "apiVersion: portcullis.dev/v1alpha1\n"                                                        \
    "kind: TrustBundle\n"                                                                          \
    "metadata: {name: example-org}\n"                                                              \
    "spec: {trustDomain: example.org, format: SPIFFE, pem: '{\"keys\": []}'}\n"

/* The first five lines of a policy on the whole Gateway; its spec goes on at line 6. */
#define POLICY                                                                                     \
    "apiVersion: portcullis.dev/v1alpha1\n"                                                        \
    "kind: AuthenticationPolicy\n"                                                                 \
    "metadata: {name: auth}\n"                                                                     \
    "spec:\n"                                                                                      \
    "  targetRefs: [{kind: Gateway, name: gw}]\n"

/* Lines 6 to 8: the start of a provider list. */
#define PROVIDERS                                                                                  \
    "  jwt:\n"                                                                                     \
    "    providers:\n"                                                                             \
    "    - name: corp\n"

/* Lines 6 to 10: one provider with remote keys. */
#define CORP                                                                                       \
    PROVIDERS "      issuer: https://idp.example.com\n"                                            \
              "      remoteJWKS: {uri: \"https://idp.example.com/jwks\"}\n"

static char dir[64];
static char jwks_path[128];

static int
setup_files(void **state)
{
    FILE *f;

    snprintf(dir, sizeof(dir), "/tmp/pc-authn-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(jwks_path, sizeof(jwks_path), "%s/keys.json", dir);
    f = fopen(jwks_path, "w");
    if (f == NULL) {
        return -1;
    }
    fputs(JWKS_JSON "\n", f);
    return fclose(f);
}

static int
teardown_files(void **state)
{
    unlink(jwks_path);
    return rmdir(dir);
}

/* Formats a configuration around the temporary path; the caller frees it. */
static char *format_yaml(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
format_yaml(const char *fmt, ...)
{
    va_list ap;
    char *out = malloc(16384);

    assert_non_null(out);
    va_start(ap, fmt);
    vsnprintf(out, 16384, fmt, ap);
    va_end(ap);
    return out;
}

/* The rule that serves GET / on port index port (0: 8080, 1: 8443). */
static const struct pc_route_rule *
find_rule(const struct pc_config *cfg, size_t port, const char *path)
{
    struct pc_route_request req = { .host = "a.example.com",
                                    .host_len = 13,
                                    .path = path,
                                    .path_len = strlen(path),
                                    .method = "GET",
                                    .method_len = 3 };
    struct pc_route_match m;

    assert_true(port < cfg->n_ports);
    assert_int_equal(pc_route_match(cfg->ports[port].routes, &req, &m), PC_ROUTE_MATCHED);
    return m.rule;
}

/* ---- schema ---- */

static void
test_unknown_field_suggests(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      issuerr: https://idp.example.com\n" BASE,
        "t.yaml:9:7: error: spec.jwt.providers[0].issuerr: unknown field; did you mean "
        "\"issuer\"?");
}

static void
test_algorithm_none_refused(void **state)
{
    test_config_expect_error(
        POLICY CORP "      algorithms: [RS256, none]\n" BASE,
        "t.yaml:11:27: error: spec.jwt.providers[0].algorithms[1]: algorithm \"none\" is "
        "refused: it would accept unsigned tokens as genuine; list the algorithms your "
        "identity provider signs with, such as RS256 or ES256");
}

static void
test_unknown_algorithm_suggests(void **state)
{
    test_config_expect_error(
        POLICY CORP "      algorithms: [ES265]\n" BASE,
        "t.yaml:11:20: error: spec.jwt.providers[0].algorithms[0]: unknown algorithm "
        "\"ES265\"; did you mean \"ES256\"? allowed: RS256, RS384, RS512, PS256, PS384, "
        "PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512");
}

static void
test_algorithm_listed_twice(void **state)
{
    test_config_expect_error(
        POLICY CORP "      algorithms: [RS256, ES256, RS256]\n" BASE,
        "t.yaml:11:34: error: spec.jwt.providers[0].algorithms[2]: algorithm RS256 is "
        "listed twice; list each once");
}

static void
test_remote_jwks_http_refused(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: https://idp.example.com\n"
                         "      remoteJWKS: {uri: \"http://idp.example.com/jwks\"}\n" BASE,
        "t.yaml:10:25: error: spec.jwt.providers[0].remoteJWKS.uri: scheme \"http\" "
        "refused; use https://; plain http is allowed only to a loopback address "
        "(127.0.0.1, ::1, localhost)");
}

static void
test_url_shapes(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: https://idp.example.com\n"
                         "      remoteJWKS: {uri: \"https://user:pw@idp.example.com/\"}\n" BASE,
        "t.yaml:10:25: error: spec.jwt.providers[0].remoteJWKS.uri: "
        "\"https://user:pw@idp.example.com/\" is not a usable URL: it holds user "
        "information (user@host); put credentials elsewhere; write "
        "https://host[:port]/path");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: https://idp.example.com\n"
                         "      remoteJWKS: {uri: \"https://idp.example.com:0/k\"}\n" BASE,
        "t.yaml:10:25: error: spec.jwt.providers[0].remoteJWKS.uri: "
        "\"https://idp.example.com:0/k\" is not a usable URL: its port is not a number "
        "from 1 to 65535; write https://host[:port]/path");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: https://idp.example.com\n"
                         "      remoteJWKS: {uri: \"https://idp.example.com/k#x\"}\n" BASE,
        "t.yaml:10:25: error: spec.jwt.providers[0].remoteJWKS.uri: "
        "\"https://idp.example.com/k#x\" is not a usable URL: it has a fragment (#...); "
        "write https://host[:port]/path");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: https://idp.example.com\n"
                         "      remoteJWKS: {uri: \"ftp://idp.example.com/k\"}\n" BASE,
        "t.yaml:10:25: error: spec.jwt.providers[0].remoteJWKS.uri: "
        "\"ftp://idp.example.com/k\" is not a usable URL: it is not an http:// or "
        "https:// URL; write https://host[:port]/path");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: https://idp.example.com\n"
                         "      remoteJWKS: {uri: \"https://idp_x/k\"}\n" BASE,
        "t.yaml:10:25: error: spec.jwt.providers[0].remoteJWKS.uri: \"https://idp_x/k\" "
        "is not a usable URL: its host is neither a DNS name nor an IP address; write "
        "https://host[:port]/path");
}

static void
test_moved_fields_point_to_their_place(void **state)
{
    test_config_expect_error(
        POLICY CORP "    optional: true\n" BASE,
        "t.yaml:11:5: error: spec.jwt.optional: not supported; set spec.optional; it "
        "applies to JWTs and opaque tokens alike");
    test_config_expect_error(
        POLICY PROVIDERS
        "      issuer: https://idp.example.com\n"
        "      remoteJWKS: {uri: \"https://idp.example.com/jwks\", timeout: 2s}\n" BASE,
        "t.yaml:10:57: error: spec.jwt.providers[0].remoteJWKS.timeout: not supported; "
        "set refresh.timeout on the provider; it bounds every key fetch, discovery "
        "included");
    test_config_expect_error(
        POLICY CORP "      claimToHeaders: [{claim: sub, header: x-sub}]\n" BASE,
        "t.yaml:11:7: error: spec.jwt.providers[0].claimToHeaders: not supported; set "
        "spec.claimToHeaders; claims are copied whichever provider verified the token");
}

static void
test_durations_are_bounded(void **state)
{
    test_config_expect_error(
        POLICY CORP "      clockSkew: 10m\n" BASE,
        "t.yaml:11:18: error: spec.jwt.providers[0].clockSkew: must be between 0s and "
        "5m");
    test_config_expect_error(
        POLICY CORP "      clockSkew: 1500ms\n" BASE,
        "t.yaml:11:18: error: spec.jwt.providers[0].clockSkew: must be a whole number of "
        "seconds; write it in seconds, such as \"30s\"");
    test_config_expect_error(
        POLICY CORP "      refresh: {timeout: 2m}\n" BASE,
        "t.yaml:11:26: error: spec.jwt.providers[0].refresh.timeout: must be between "
        "100ms and 1m");
}

static void
test_value_syntax(void **state)
{
    test_config_expect_error(
        POLICY CORP "  require: {claims: {allOf: [{name: \"realm_access..roles\"}]}}\n" BASE,
        "t.yaml:11:37: error: spec.require.claims.allOf[0].name: claim path "
        "\"realm_access..roles\" is not valid: it has an empty claim name (a leading, "
        "doubled or trailing '.'); write claim names separated by '.', such as "
        "\"realm_access.roles\"");
    test_config_expect_error(
        POLICY CORP "  require: {scopes: {anyOf: [\"orders read\"]}}\n" BASE,
        "t.yaml:11:30: error: spec.require.scopes.anyOf[0]: \"orders read\" is not a "
        "valid scope: 1 to 256 printable ASCII characters without spaces, '\"' or '\\'");
    test_config_expect_error(
        POLICY CORP "  realm: 'say \"hi\"'\n" BASE,
        "t.yaml:11:10: error: spec.realm: not a valid realm; use 1 to 128 printable "
        "ASCII characters without '\"' or '\\'");
    test_config_expect_error(
        POLICY CORP "      typ: \"at jwt\"\n" BASE,
        "t.yaml:11:12: error: spec.jwt.providers[0].typ: \"at jwt\" is not a media type; "
        "write it like \"at+jwt\" or \"application/jwt\"");
    test_config_expect_error(
        POLICY CORP "      hmacSecretRef: {kind: ConfigMap, name: jwt-hmac}\n" BASE,
        "t.yaml:11:29: error: spec.jwt.providers[0].hmacSecretRef.kind: unknown value "
        "\"ConfigMap\"; allowed: Secret");
    test_config_expect_error(
        POLICY CORP "  tokenLocation: {header: {name: \"X Token\"}}\n" BASE,
        "t.yaml:11:34: error: spec.tokenLocation.header.name: \"X Token\" is not a valid "
        "header name");
}

/* ---- a policy on its own ---- */

static void
test_policy_needs_a_verifier(void **state)
{
    test_config_expect_error(
        POLICY "  realm: api\n" BASE,
        "t.yaml:5:3: error: spec: the policy has no way to verify a token; add "
        "jwt.providers for JWTs, introspection for opaque tokens, or both");
}

static void
test_provider_needs_one_key_source(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: https://idp.example.com\n" BASE,
        "t.yaml:8:7: error: spec.jwt.providers[0]: the provider has no source of "
        "verification keys; set remoteJWKS, discovery: true, localJWKS, spiffe or "
        "hmacSecretRef");
    test_config_expect_error(
        POLICY CORP "      discovery: true\n" BASE,
        "t.yaml:11:18: error: spec.jwt.providers[0].discovery: set only one of "
        "remoteJWKS, discovery, localJWKS, spiffe and hmacSecretRef; a provider takes "
        "its keys from one source");
}

static void
test_provider_names_and_issuers_unique(void **state)
{
    test_config_expect_error(
        POLICY CORP "    - name: corp\n"
                    "      issuer: https://other.example.com\n"
                    "      discovery: true\n" BASE,
        "t.yaml:11:13: error: spec.jwt.providers[1].name: provider name \"corp\" is "
        "already used at line 8; give every provider of a policy its own name");
    test_config_expect_error(
        POLICY CORP "    - name: second\n"
                    "      issuer: https://idp.example.com\n"
                    "      discovery: true\n" BASE,
        "t.yaml:12:15: error: spec.jwt.providers[1].issuer: providers \"corp\" and "
        "\"second\" have the same issuer \"https://idp.example.com\"; a token's iss picks "
        "its provider: merge the two providers");
}

static void
test_issuer_required_except_for_spiffe(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      remoteJWKS: {uri: \"https://idp.example.com/jwks\"}\n" BASE,
        "t.yaml:8:7: error: spec.jwt.providers[0].issuer: required field is missing; "
        "name the iss of the tokens; only a spiffe provider may leave it out");
}

static void
test_hmac_algorithms_need_the_secret(void **state)
{
    test_config_expect_error(
        POLICY CORP "      algorithms: [RS256, HS256]\n" BASE,
        "t.yaml:11:27: error: spec.jwt.providers[0].algorithms[1]: algorithm HS256 needs "
        "hmacSecretRef; HMAC algorithms verify with a shared secret: use hmacSecretRef as "
        "the provider's only key source");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: internal\n"
                         "      hmacSecretRef: {name: jwt-hmac}\n"
                         "      algorithms: [HS256, ES256]\n" BASE,
        "t.yaml:11:27: error: spec.jwt.providers[0].algorithms[1]: algorithm ES256 needs "
        "public keys, and the provider has only an HMAC secret; with hmacSecretRef list "
        "HS256, HS384 or HS512 only; public-key algorithms need a key source such as "
        "remoteJWKS");
}

static void
test_hmac_secret_must_be_long_enough(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: internal\n"
                         "      hmacSecretRef: {name: short}\n"
                         "      algorithms: [HS256, HS384]\n"
                         "---\n"
                         "apiVersion: v1\n"
                         "kind: Secret\n"
                         "metadata: {name: short}\n"
                         "data: {secret: c2hvcnQtYnV0LW5vdC10b28tc2hvcnQ=}\n" BASE,
        "t.yaml:10:29: error: spec.jwt.providers[0].hmacSecretRef.name: Secret "
        "default/short key \"secret\" holds 23 bytes, and HS384 needs at least 48; an "
        "HMAC key is at least as long as the hash (RFC 7518 section 3.2); `openssl rand "
        "-base64 64` makes one");
    assert_false(test_config_mentions("short-but"));
}

static void
test_hmac_secret_reference(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: internal\n"
                         "      hmacSecretRef: {name: jwt-hmca}\n" BASE,
        "t.yaml:10:29: error: spec.jwt.providers[0].hmacSecretRef.name: Secret "
        "default/jwt-hmca not found; did you mean \"jwt-hmac\"?");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: internal\n"
                         "      hmacSecretRef: {name: gw-client}\n" BASE,
        "t.yaml:10:29: error: spec.jwt.providers[0].hmacSecretRef.name: Secret "
        "default/gw-client has no key \"secret\"; put it under data (base64) or "
        "stringData, key \"secret\"");
}

static void
test_discovery_needs_an_https_issuer(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: http://idp.example.com\n"
                         "      discovery: true\n" BASE,
        "t.yaml:9:15: error: spec.jwt.providers[0].issuer: issuer "
        "\"http://idp.example.com\" cannot be used for discovery: scheme \"http\" "
        "refused; use an https:// issuer; plain http is allowed only to a loopback "
        "address (127.0.0.1, ::1, localhost)");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: corp-idp\n"
                         "      discovery: true\n" BASE,
        "t.yaml:9:15: error: spec.jwt.providers[0].issuer: issuer \"corp-idp\" cannot be "
        "used for discovery: it is not an http:// or https:// URL; discovery reads "
        "<issuer>/.well-known/openid-configuration: give the issuer as "
        "https://host[/path], or the keys' URL in remoteJWKS");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: \"https://idp.example.com/?realm=a\"\n"
                         "      discovery: true\n" BASE,
        "t.yaml:9:15: error: spec.jwt.providers[0].issuer: issuer "
        "\"https://idp.example.com/?realm=a\" cannot be used for discovery: an OpenID "
        "issuer has no query; discovery reads <issuer>/.well-known/openid-configuration: "
        "give the issuer as https://host[/path], or the keys' URL in remoteJWKS");
}

static void
test_local_jwks_is_checked(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: local\n"
                         "      localJWKS: {}\n" BASE,
        "t.yaml:10:18: error: spec.jwt.providers[0].localJWKS: set exactly one of file "
        "and inline; a localJWKS reads the keys from a file or holds them inline");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: local\n"
                         "      localJWKS: {inline: '{\"keys\": [}'}\n" BASE,
        "t.yaml:10:27: error: spec.jwt.providers[0].localJWKS.inline: not a JWK set: it "
        "is not JSON (line 1, column 11); give the JSON of a JWK set of public keys: "
        "{\"keys\": [{\"kty\": ...}]}");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: local\n"
                         "      localJWKS: {inline: '{\"keys\": []}'}\n" BASE,
        "t.yaml:10:27: error: spec.jwt.providers[0].localJWKS.inline: not a JWK set: its "
        "\"keys\" list is empty; give the JSON of a JWK set of public keys: {\"keys\": "
        "[{\"kty\": ...}]}");
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: local\n"
                         "      localJWKS: {inline: '{\"keys\": [{\"kty\": \"oct\", \"k\": "
                         "\"c2VjcmV0\"}]}'}\n" BASE,
        "t.yaml:10:27: error: spec.jwt.providers[0].localJWKS.inline: not a JWK set: key "
        "0 is a symmetric key (kty \"oct\"); use hmacSecretRef; give the JSON of a JWK "
        "set of public keys: {\"keys\": [{\"kty\": ...}]}");
    assert_false(test_config_mentions("c2VjcmV0"));
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: local\n"
                         "      localJWKS: {inline: '{\"keys\": [{\"kty\": \"RSA\"}, "
                         "{\"kty\": \"RSA\", \"d\": \"cHJpdmF0ZQ\"}]}'}\n" BASE,
        "t.yaml:10:27: error: spec.jwt.providers[0].localJWKS.inline: not a JWK set: key "
        "1 holds a private key (member \"d\"); give the JSON of a JWK set of public keys: "
        "{\"keys\": [{\"kty\": ...}]}");
    assert_false(test_config_mentions("cHJpdmF0ZQ"));
}

static void
test_local_jwks_key_count_is_bounded(void **state)
{
    char *yaml = malloc(32768);
    size_t pos;

    assert_non_null(yaml);
    pos = (size_t)snprintf(yaml, 32768, "%s",
                           POLICY PROVIDERS "      issuer: local\n"
                                            "      localJWKS: {inline: '{\"keys\": [");
    for (int i = 0; i < 257; i++) {
        pos += (size_t)snprintf(yaml + pos, 32768 - pos, "%s{\"kty\": \"EC\"}", i > 0 ? "," : "");
    }
    snprintf(yaml + pos, 32768 - pos, "%s", "]}'}\n" BASE);
    test_config_expect_error(
        yaml, "t.yaml:10:27: error: spec.jwt.providers[0].localJWKS.inline: not a JWK set: "
              "it holds 257 keys, and at most 256 are accepted; give the JSON of a JWK set "
              "of public keys: {\"keys\": [{\"kty\": ...}]}");
    free(yaml);
}

static void
test_local_jwks_file_must_exist(void **state)
{
    char *yaml = format_yaml(POLICY PROVIDERS "      issuer: local\n"
                                              "      localJWKS: {file: %s/missing.json}\n" BASE,
                             dir);
    char want[512];

    snprintf(want, sizeof(want),
             "t.yaml:10:25: error: spec.jwt.providers[0].localJWKS.file: file "
             "\"%s/missing.json\" does not exist; check the path",
             dir);
    test_config_expect_error(yaml, want);
    free(yaml);
    yaml = format_yaml(POLICY PROVIDERS "      issuer: local\n"
                                        "      localJWKS: {file: %s}\n" BASE,
                       dir);
    snprintf(want, sizeof(want),
             "t.yaml:10:25: error: spec.jwt.providers[0].localJWKS.file: \"%s\" is not a regular "
             "file; name the JWKS file itself",
             dir);
    test_config_expect_error(yaml, want);
    free(yaml);
}

static void
test_spiffe_provider_rules(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      spiffe: {trustDomain: example.org, bundleRef: {name: "
                         "example-org}}\n" BASE,
        "t.yaml:8:7: error: spec.jwt.providers[0].audiences: required for a spiffe "
        "provider; a JWT-SVID names the audience it is for (SPIFFE JWT-SVID section 3): "
        "list the audiences this gateway accepts");
    test_config_expect_error(
        POLICY PROVIDERS "      audiences: [gateway]\n"
                         "      spiffe: {trustDomain: example.org, bundleRef: {name: "
                         "example-org}}\n"
                         "      algorithms: [ES256, EdDSA]\n" BASE,
        "t.yaml:11:27: error: spec.jwt.providers[0].algorithms[1]: algorithm EdDSA is "
        "not used for JWT-SVIDs; JWT-SVIDs are signed with RS*, ES* or PS* algorithms");
    test_config_expect_error(
        POLICY PROVIDERS "      audiences: [gateway]\n"
                         "      spiffe: {trustDomain: example.com, bundleRef: {name: "
                         "example-org}}\n" BASE,
        "t.yaml:10:60: error: spec.jwt.providers[0].spiffe.bundleRef.name: TrustBundle "
        "default/example-org is for trust domain \"example.org\", not \"example.com\"; "
        "name the TrustBundle of the provider's trust domain");
    test_config_expect_error(
        POLICY PROVIDERS "      audiences: [gateway]\n"
                         "      spiffe: {trustDomain: example.org, bundleRef: {name: "
                         "pem}}\n"
                         "---\n"
                         "apiVersion: portcullis.dev/v1alpha1\n"
                         "kind: TrustBundle\n"
                         "metadata: {name: pem}\n"
                         "spec: {trustDomain: example.org, pem: " CERT_QUOTED "}\n" BASE,
        "t.yaml:10:60: error: spec.jwt.providers[0].spiffe.bundleRef.name: TrustBundle "
        "default/pem holds PEM certificates, which carry no JWT-SVID keys; use a "
        "TrustBundle with format: SPIFFE or workloadAPI: true");
    test_config_expect_error(
        POLICY PROVIDERS "      audiences: [gateway]\n"
                         "      spiffe: {trustDomain: example.org, bundleRef: {name: "
                         "nope}}\n" BASE,
        "t.yaml:10:60: error: spec.jwt.providers[0].spiffe.bundleRef.name: TrustBundle "
        "default/nope not found; declare it, or fix the name (and namespace)");
}

static void
test_spiffe_providers_without_issuer(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      audiences: [gateway]\n"
                         "      spiffe: {trustDomain: example.org, bundleRef: {name: "
                         "example-org}}\n"
                         "    - name: again\n"
                         "      audiences: [gateway]\n"
                         "      spiffe: {trustDomain: example.org, bundleRef: {name: "
                         "example-org}}\n" BASE,
        "t.yaml:13:29: error: spec.jwt.providers[1].spiffe.trustDomain: providers "
        "\"corp\" and \"again\" both take JWT-SVIDs of trust domain \"example.org\" "
        "without an issuer; give one of them the issuer its tokens carry, or merge the "
        "two");
}

static void
test_refresh_rules(void **state)
{
    test_config_expect_error(
        POLICY PROVIDERS "      issuer: local\n"
                         "      localJWKS: {inline: '" JWKS_JSON "'}\n"
                         "      refresh: {interval: 1m}\n" BASE,
        "t.yaml:11:16: error: spec.jwt.providers[0].refresh: refresh applies only to "
        "keys fetched from remoteJWKS or discovery; remove it: local files are watched, "
        "and SPIFFE keys follow their TrustBundle");
    test_config_expect_error(
        POLICY CORP "      refresh: {interval: 1m, minInterval: 5m}\n" BASE,
        "t.yaml:11:44: error: spec.jwt.providers[0].refresh.minInterval: minInterval 5m "
        "is longer than interval 1m; lower minInterval or raise interval");
    test_config_expect_error(
        POLICY CORP "      refresh: {minInterval: 15m}\n" BASE,
        "t.yaml:11:30: error: spec.jwt.providers[0].refresh.minInterval: minInterval "
        "15m is longer than interval 10m; lower minInterval or raise interval");
}

static void
test_token_location_in_one_place(void **state)
{
    test_config_expect_error(
        POLICY CORP "  tokenLocation: {header: {name: x-token}, cookie: {name: s}}\n" BASE,
        "t.yaml:11:52: error: spec.tokenLocation.cookie: set header or cookie, not both; "
        "a token is read from one place");
    test_config_expect_error(
        POLICY CORP "  tokenLocation: {}\n" BASE,
        "t.yaml:11:18: error: spec.tokenLocation: set header or cookie; name the header "
        "(with its prefix) or the cookie holding the token");
}

static void
test_sender_constraint_fields(void **state)
{
    test_config_expect_error(
        POLICY CORP "  senderConstraint: {ifPresent: true}\n" BASE,
        "t.yaml:11:33: error: spec.senderConstraint.ifPresent: ifPresent applies only "
        "with mode Certificate, DPoP or Any; choose a mode, or remove ifPresent");
    test_config_expect_error(
        POLICY CORP "  senderConstraint: {mode: Certificate, dpopMaxAge: 30s}\n" BASE,
        "t.yaml:11:53: error: spec.senderConstraint.dpopMaxAge: dpopMaxAge applies only "
        "with mode DPoP or Any; use mode DPoP or Any, or remove dpopMaxAge");
    test_config_expect_error(
        POLICY CORP "  senderConstraint: {mode: DPoP, dpopMaxAge: 20m}\n" BASE,
        "t.yaml:11:46: error: spec.senderConstraint.dpopMaxAge: must be between 1s and "
        "10m");
    test_config_expect_error(
        POLICY CORP "  senderConstraint: {mode: MTLS}\n" BASE,
        "t.yaml:11:28: error: spec.senderConstraint.mode: unknown value \"MTLS\"; "
        "allowed: None, Certificate, DPoP, Any");
}

static void
test_certificate_binding_needs_client_certificates(void **state)
{
    test_config_expect_error(
        POLICY CORP "  senderConstraint: {mode: Certificate}\n" BASE,
        "t.yaml:11:28: error: spec.senderConstraint.mode: mode Certificate needs client "
        "certificates, and Gateway default/gw listener \"http\" asks for none; give the "
        "listener protocol HTTPS and tls.frontendValidation, or use mode DPoP");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: auth}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: r}]\n" CORP
        "  senderConstraint: {mode: Certificate}\n" BASE,
        "t.yaml:11:28: error: spec.senderConstraint.mode: mode Certificate needs client "
        "certificates, and Gateway default/gw listener \"http\" asks for none; give the "
        "listener protocol HTTPS and tls.frontendValidation, or use mode DPoP");
}

static void
test_claim_headers_are_checked(void **state)
{
    test_config_expect_error(
        POLICY CORP "  claimToHeaders: [{claim: sub, header: X-Forwarded-User}]\n" BASE,
        "t.yaml:11:41: error: spec.claimToHeaders[0].header: header \"X-Forwarded-User\" "
        "cannot carry a claim; the gateway sets this header itself");
    test_config_expect_error(
        POLICY CORP "  claimToHeaders: [{claim: sub, header: Transfer-Encoding}]\n" BASE,
        "t.yaml:11:41: error: spec.claimToHeaders[0].header: header \"Transfer-Encoding\" "
        "cannot carry a claim; the proxy manages this framing and connection header "
        "itself");
    test_config_expect_error(
        POLICY CORP "  claimToHeaders: [{claim: sub, header: Host}]\n" BASE,
        "t.yaml:11:41: error: spec.claimToHeaders[0].header: header \"Host\" cannot carry "
        "a claim; Host names the site asked for, which routing and the upstream rely "
        "on");
    test_config_expect_error(
        POLICY CORP "  claimToHeaders: [{claim: sub, header: cookie}]\n" BASE,
        "t.yaml:11:41: error: spec.claimToHeaders[0].header: header \"cookie\" cannot "
        "carry a claim; it carries the client's credentials; pick a header of your own, "
        "such as x-user-id");
    test_config_expect_error(
        POLICY CORP "  claimToHeaders:\n"
                    "  - {claim: sub, header: x-user}\n"
                    "  - {claim: email, header: X-User}\n" BASE,
        "t.yaml:13:28: error: spec.claimToHeaders[1].header: header \"X-User\" already "
        "carries claim \"sub\"; copy one claim per header");
    test_config_expect_error(
        POLICY CORP "  tokenLocation: {header: {name: x-token}}\n"
                    "  claimToHeaders: [{claim: sub, header: X-Token}]\n" BASE,
        "t.yaml:12:41: error: spec.claimToHeaders[0].header: header \"X-Token\" carries "
        "the token; pick another header");
}

/* ---- targets ---- */

static void
test_targets_resolve(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: auth}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: rr}]\n" CORP BASE,
        "t.yaml:5:40: error: spec.targetRefs[0].name: HTTPRoute default/rr not found; "
        "did you mean \"r\"?");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: auth}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw, sectionName: grpc}]\n" CORP BASE,
        "t.yaml:5:55: error: spec.targetRefs[0].sectionName: Gateway default/gw has no "
        "listener \"grpc\"; listeners of the Gateway: http, https");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: auth}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: r, sectionName: http}]\n" CORP BASE,
        "t.yaml:5:56: error: spec.targetRefs[0].sectionName: sectionName is only "
        "supported for Gateway targets; remove it; a route policy applies to the whole "
        "route");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: auth}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}, {kind: Gateway, name: gw}]\n" CORP BASE,
        "t.yaml:5:43: error: spec.targetRefs[1]: Gateway gw is targeted twice; list each "
        "target once");
}

static void
test_two_policies_on_one_target(void **state)
{
    test_config_expect_error(
        POLICY CORP "---\n"
                    "apiVersion: portcullis.dev/v1alpha1\n"
                    "kind: AuthenticationPolicy\n"
                    "metadata: {name: other}\n"
                    "spec:\n"
                    "  targetRefs: [{kind: Gateway, name: gw}]\n" CORP BASE,
        "t.yaml:16:16: error: spec.targetRefs[0]: AuthenticationPolicy default/auth and "
        "AuthenticationPolicy default/other both target Gateway default/gw; keep one "
        "AuthenticationPolicy per target; a policy on a listener or route wins over one "
        "on its Gateway");
    test_config_expect_error(
        POLICY CORP "---\n"
                    "apiVersion: portcullis.dev/v1alpha1\n"
                    "kind: AuthenticationPolicy\n"
                    "metadata: {name: other}\n"
                    "spec:\n"
                    "  targetRefs: [{kind: HTTPRoute, name: r}, {kind: Gateway, name: gw, "
                    "sectionName: https}]\n"
                    "  jwt: {providers: [{name: p, issuer: i, discovery: false, "
                    "remoteJWKS: {uri: \"https://i.example.com/k\"}}]}\n"
                    "---\n"
                    "apiVersion: portcullis.dev/v1alpha1\n"
                    "kind: AuthenticationPolicy\n"
                    "metadata: {name: third}\n"
                    "spec:\n"
                    "  targetRefs: [{kind: HTTPRoute, name: r}]\n" CORP BASE,
        "t.yaml:23:16: error: spec.targetRefs[0]: AuthenticationPolicy default/other and "
        "AuthenticationPolicy default/third both target HTTPRoute default/r; keep one "
        "AuthenticationPolicy per target; a policy on a listener or route wins over one "
        "on its Gateway");
}

/* ---- introspection ---- */

static void
test_introspection_is_checked(void **state)
{
    test_config_expect_error(
        POLICY "  introspection:\n"
               "    endpoint: https://idp.example.com/introspect\n"
               "    clientID: gateway\n" BASE,
        "t.yaml:7:5: error: spec.introspection.clientSecretRef: required field is "
        "missing");
    test_config_expect_error(
        POLICY "  introspection:\n"
               "    endpoint: http://idp.example.com/introspect\n"
               "    clientID: gateway\n"
               "    clientSecretRef: {name: gw-client}\n" BASE,
        "t.yaml:7:15: error: spec.introspection.endpoint: scheme \"http\" refused; use "
        "https://; plain http is allowed only to a loopback address (127.0.0.1, ::1, "
        "localhost)");
    test_config_expect_error(
        POLICY "  introspection:\n"
               "    endpoint: https://idp.example.com/introspect\n"
               "    clientID: gateway\n"
               "    clientSecretRef: {name: jwt-hmac}\n" BASE,
        "t.yaml:9:29: error: spec.introspection.clientSecretRef.name: Secret "
        "default/jwt-hmac has no key \"clientSecret\"; put it under data (base64) or "
        "stringData, key \"clientSecret\"");
    test_config_expect_error(
        POLICY "  introspection:\n"
               "    endpoint: https://idp.example.com/introspect\n"
               "    clientID: gateway\n"
               "    clientSecretRef: {name: gw-client}\n"
               "    authMethod: private_key_jwt\n" BASE,
        "t.yaml:10:17: error: spec.introspection.authMethod: unknown value "
        "\"private_key_jwt\"; allowed: client_secret_basic, client_secret_post");
}

static void
test_secret_values_never_printed(void **state)
{
    struct pc_config *cfg =
        test_config_load(POLICY PROVIDERS "      issuer: internal\n"
                                          "      hmacSecretRef: {name: leaky}\n"
                                          "  introspection:\n"
                                          "    endpoint: https://idp.example.com/i\n"
                                          "    clientID: gateway\n"
                                          "    clientSecretRef: {name: leaky}\n"
                                          "---\n"
                                          "apiVersion: v1\n"
                                          "kind: Secret\n"
                                          "metadata: {name: leaky}\n"
                                          "data: {secret: \"hunter2hunter2=!\"}\n"
                                          "stringData: {clientSecret: [sw0rdf1sh]}\n" BASE);

    assert_null(cfg);
    assert_true(test_config_has_error(
        "t.yaml:19:16: error: data.secret: not valid base64 (at byte 16 of the "
        "value); encode the file with `base64 -w0 FILE`, or put the PEM text "
        "under stringData"));
    assert_true(test_config_has_error(
        "t.yaml:20:28: error: stringData.clientSecret: expected a string, got a "
        "list"));
    /* The policy adds nothing about values already reported bad. */
    assert_int_equal(test_config_diag.n_errors, 2);
    assert_false(test_config_mentions("hunter2"));
    assert_false(test_config_mentions("sw0rdf1sh"));
}

/* ---- compiled snapshots ---- */

static void
test_defaults_compile(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(POLICY CORP BASE);
    const struct pc_route_rule *rule = find_rule(cfg, 0, "/");
    const struct pc_authn *a = rule->authn;
    const struct pc_jwt_provider *p;

    assert_non_null(a);
    assert_int_equal(cfg->n_authns, 1);
    assert_ptr_equal(cfg->authns[0], a);
    assert_ptr_equal(find_rule(cfg, 1, "/")->authn, a);
    assert_string_equal(a->policy, "default/auth");
    assert_int_equal(a->n_providers, 1);
    p = &a->providers[0];
    assert_string_equal(p->name, "default/auth/corp");
    assert_string_equal(p->issuer, "https://idp.example.com");
    assert_int_equal(p->n_audiences, 0);
    assert_int_equal(p->algorithms, PC_JWT_RS256);
    assert_int_equal(p->key_origin, PC_JWKS_URI);
    assert_string_equal(p->jwks_uri, "https://idp.example.com/jwks");
    assert_null(p->typ);
    assert_null(p->hmac_secret);
    assert_int_equal(p->clock_skew_s, 30);
    assert_int_equal(p->n_required_claims, 0);
    assert_int_equal(p->refresh_ms, 600000);
    assert_int_equal(p->min_refresh_ms, 30000);
    assert_int_equal(p->stale_ms, 3600000);
    assert_int_equal(p->fetch_timeout_ms, 5000);
    assert_int_equal(p->cache_ttl_ms, 300000);
    assert_false(p->serve_stale);
    assert_null(a->introspection);
    assert_int_equal(a->location, PC_TOKEN_BEARER);
    assert_string_equal(a->location_name, "authorization");
    assert_string_equal(a->location_prefix, "Bearer ");
    assert_false(a->is_optional);
    assert_int_equal(a->binding, PC_BINDING_NONE);
    assert_false(a->binding_if_present);
    assert_int_equal(a->dpop_max_age_s, 60);
    assert_int_equal(a->n_scopes_all + a->n_scopes_any + a->n_claims_all + a->n_claims_any, 0);
    assert_int_equal(a->n_client_id_claims, 2);
    assert_string_equal(a->client_id_claims[0], "client_id");
    assert_string_equal(a->client_id_claims[1], "azp");
    assert_int_equal(a->n_role_paths, 0);
    assert_int_equal(a->n_forward, 0);
    assert_null(a->realm);
    pc_config_unref(cfg);
}

static void
test_no_policy_no_authn(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(BASE);

    assert_null(find_rule(cfg, 0, "/")->authn);
    assert_int_equal(cfg->n_authns, 0);
    pc_config_unref(cfg);
}

static void
test_each_key_source_compiles(void **state)
{
    char *yaml = format_yaml(
        POLICY PROVIDERS "      issuer: https://idp.example.com\n"
                         "      discovery: true\n"
                         "      refresh: {interval: 1h, minInterval: 1m, stale: 2h, serveStale: "
                         "true, timeout: 1500ms}\n"
                         "    - name: file\n"
                         "      issuer: file-issuer\n"
                         "      localJWKS: {file: %s}\n"
                         "    - name: inline\n"
                         "      issuer: inline-issuer\n"
                         "      localJWKS: {inline: '" JWKS_JSON "'}\n"
                         "    - name: mesh\n"
                         "      audiences: [gateway, api]\n"
                         "      spiffe: {trustDomain: example.org, bundleRef: {name: "
                         "example-org}}\n"
                         "    - name: shared\n"
                         "      issuer: internal\n"
                         "      hmacSecretRef: {name: jwt-hmac}\n"
                         "      algorithms: [HS512, HS256]\n"
                         "    - name: local-idp\n"
                         "      issuer: http://127.0.0.1:9999/realms/test\n"
                         "      discovery: true\n" BASE,
        jwks_path);
    struct pc_config *cfg = test_config_expect_ok(yaml);
    const struct pc_authn *a = find_rule(cfg, 0, "/")->authn;
    const struct pc_jwt_provider *p = a->providers;

    assert_int_equal(a->n_providers, 6);
    assert_int_equal(p[0].key_origin, PC_JWKS_DISCOVERY);
    assert_null(p[0].jwks_uri);
    assert_int_equal(p[0].refresh_ms, 3600000);
    assert_int_equal(p[0].min_refresh_ms, 60000);
    assert_int_equal(p[0].stale_ms, 7200000);
    assert_int_equal(p[0].fetch_timeout_ms, 1500);
    assert_true(p[0].serve_stale);

    assert_int_equal(p[1].key_origin, PC_JWKS_LOCAL);
    assert_int_equal(p[1].jwks.origin, PC_PEM_FILE);
    assert_string_equal(p[1].jwks.path, jwks_path);
    assert_int_equal(cfg->n_material_files, 1);
    assert_string_equal(cfg->material_files[0], jwks_path);

    assert_int_equal(p[2].key_origin, PC_JWKS_LOCAL);
    assert_int_equal(p[2].jwks.origin, PC_PEM_INLINE);
    assert_string_equal(p[2].jwks.data, JWKS_JSON);
    assert_int_equal(p[2].jwks.len, strlen(JWKS_JSON));

    assert_int_equal(p[3].key_origin, PC_JWKS_SPIFFE_BUNDLE);
    assert_null(p[3].issuer);
    assert_int_equal(p[3].n_audiences, 2);
    assert_string_equal(p[3].audiences[1], "api");
    assert_string_equal(p[3].spiffe_trust_domain, "example.org");
    assert_non_null(p[3].spiffe_bundle);
    assert_string_equal(p[3].spiffe_bundle->name, "default/example-org");
    assert_string_equal(p[3].spiffe_bundle->trust_domain, "example.org");
    assert_int_equal(p[3].spiffe_bundle->format, PC_BUNDLE_SPIFFE);
    assert_int_equal(p[3].algorithms, PC_JWT_RS256 | PC_JWT_RS384 | PC_JWT_RS512 | PC_JWT_PS256
                                          | PC_JWT_PS384 | PC_JWT_PS512 | PC_JWT_ES256
                                          | PC_JWT_ES384 | PC_JWT_ES512);

    assert_int_equal(p[4].key_origin, PC_JWKS_HMAC);
    assert_int_equal(p[4].algorithms, PC_JWT_HS256 | PC_JWT_HS512);
    assert_int_equal(p[4].hmac_secret_len, 64);
    assert_memory_equal(p[4].hmac_secret, HMAC_KEY, 64);

    assert_int_equal(p[5].key_origin, PC_JWKS_DISCOVERY);
    assert_string_equal(p[5].issuer, "http://127.0.0.1:9999/realms/test");
    pc_config_unref(cfg);
    free(yaml);
}

static void
test_algorithm_bits(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        POLICY CORP "      algorithms: [RS384, RS512, PS256, PS384, PS512, ES384, ES512, EdDSA]\n"
                    "    - name: hs\n"
                    "      issuer: internal\n"
                    "      hmacSecretRef: {name: jwt-hmac}\n"
                    "    - name: loopback\n"
                    "      issuer: loopback\n"
                    "      remoteJWKS: {uri: \"http://[::1]:8080/jwks\"}\n"
                    "      algorithms: [ES256]\n" BASE);
    const struct pc_authn *a = find_rule(cfg, 0, "/")->authn;

    assert_int_equal(a->providers[0].algorithms, PC_JWT_RS384 | PC_JWT_RS512 | PC_JWT_PS256
                                                     | PC_JWT_PS384 | PC_JWT_PS512 | PC_JWT_ES384
                                                     | PC_JWT_ES512 | PC_JWT_EDDSA);
    /* An HMAC provider defaults to HS256, which a 64-byte key more than satisfies. */
    assert_int_equal(a->providers[1].algorithms, PC_JWT_HS256);
    assert_int_equal(a->providers[2].algorithms, PC_JWT_ES256);
    assert_string_equal(a->providers[2].jwks_uri, "http://[::1]:8080/jwks");
    pc_config_unref(cfg);
}

static void
test_token_locations(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        POLICY CORP "  tokenLocation: {header: {name: X-Api-Token, prefix: \"Token \"}}\n" BASE);
    const struct pc_authn *a = find_rule(cfg, 0, "/")->authn;

    assert_int_equal(a->location, PC_TOKEN_HEADER);
    assert_string_equal(a->location_name, "x-api-token");
    assert_string_equal(a->location_prefix, "Token ");
    pc_config_unref(cfg);

    cfg = test_config_expect_ok(POLICY CORP "  tokenLocation: {header: {name: X-Jwt}}\n" BASE);
    a = find_rule(cfg, 0, "/")->authn;
    assert_int_equal(a->location, PC_TOKEN_HEADER);
    assert_string_equal(a->location_name, "x-jwt");
    assert_null(a->location_prefix);
    pc_config_unref(cfg);

    cfg = test_config_expect_ok(POLICY CORP "  tokenLocation: {cookie: {name: Session}}\n"
                                            "  optional: true\n" BASE);
    a = find_rule(cfg, 0, "/")->authn;
    assert_int_equal(a->location, PC_TOKEN_COOKIE);
    assert_string_equal(a->location_name, "Session");
    assert_null(a->location_prefix);
    assert_true(a->is_optional);
    pc_config_unref(cfg);

    cfg = test_config_expect_ok(
        POLICY CORP "  tokenLocation: {header: {name: Authorization, prefix: \"bearer \"}}\n" BASE);
    a = find_rule(cfg, 0, "/")->authn;
    assert_int_equal(a->location, PC_TOKEN_BEARER);
    assert_string_equal(a->location_name, "authorization");
    assert_string_equal(a->location_prefix, "Bearer ");
    pc_config_unref(cfg);
}

static void
test_requirements_and_forwarded_headers(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        POLICY CORP "      audiences: [\"api://orders\"]\n"
                    "      typ: at+jwt\n"
                    "      clockSkew: 5s\n"
                    "      cacheTTL: 0s\n"
                    "      requiredClaims: [{name: tenant, values: [blue, green]}]\n"
                    "  require:\n"
                    "    scopes: {allOf: [\"orders:read\", \"orders:write\"], anyOf: [admin]}\n"
                    "    claims:\n"
                    "      allOf: [{name: email_verified, values: [\"true\"]}]\n"
                    "      anyOf: [{name: \"https://example.com/roles\"}, {name: "
                    "realm_access.roles, values: [ops]}]\n"
                    "  principal:\n"
                    "    clientIDClaims: [cid]\n"
                    "    roleClaims: [realm_access.roles, roles]\n"
                    "  claimToHeaders:\n"
                    "  - {claim: sub, header: X-User-Id}\n"
                    "  - {claim: tenant, header: x-tenant}\n"
                    "  realm: api\n" BASE);
    const struct pc_authn *a = find_rule(cfg, 0, "/")->authn;
    const struct pc_jwt_provider *p = &a->providers[0];

    assert_int_equal(p->n_audiences, 1);
    assert_string_equal(p->audiences[0], "api://orders");
    assert_string_equal(p->typ, "at+jwt");
    assert_int_equal(p->clock_skew_s, 5);
    assert_int_equal(p->cache_ttl_ms, 0);
    assert_int_equal(p->n_required_claims, 1);
    assert_string_equal(p->required_claims[0].path, "tenant");
    assert_int_equal(p->required_claims[0].n_values, 2);
    assert_string_equal(p->required_claims[0].values[1], "green");

    assert_int_equal(a->n_scopes_all, 2);
    assert_string_equal(a->scopes_all[1], "orders:write");
    assert_int_equal(a->n_scopes_any, 1);
    assert_string_equal(a->scopes_any[0], "admin");
    assert_int_equal(a->n_claims_all, 1);
    assert_string_equal(a->claims_all[0].path, "email_verified");
    assert_string_equal(a->claims_all[0].values[0], "true");
    assert_int_equal(a->n_claims_any, 2);
    assert_string_equal(a->claims_any[0].path, "https://example.com/roles");
    assert_int_equal(a->claims_any[0].n_values, 0);
    assert_string_equal(a->claims_any[1].values[0], "ops");

    assert_int_equal(a->n_client_id_claims, 1);
    assert_string_equal(a->client_id_claims[0], "cid");
    assert_int_equal(a->n_role_paths, 2);
    assert_string_equal(a->role_paths[0], "realm_access.roles");
    assert_int_equal(a->n_forward, 2);
    assert_string_equal(a->forward[0].path, "sub");
    assert_string_equal(a->forward[0].header, "x-user-id");
    assert_string_equal(a->forward[1].header, "x-tenant");
    assert_string_equal(a->realm, "api");
    pc_config_unref(cfg);
}

static void
test_introspection_compiles(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok(POLICY "  introspection:\n"
                                     "    endpoint: https://idp.example.com/introspect\n"
                                     "    clientID: gateway one\n"
                                     "    clientSecretRef: {name: gw-client}\n"
                                     "    authMethod: client_secret_post\n"
                                     "    issuer: https://idp.example.com\n"
                                     "    timeout: 500ms\n"
                                     "    cacheTTL: 1m\n" BASE);
    const struct pc_authn *a = find_rule(cfg, 0, "/")->authn;
    const struct pc_introspection *in = a->introspection;

    assert_int_equal(a->n_providers, 0);
    assert_non_null(in);
    assert_string_equal(in->endpoint, "https://idp.example.com/introspect");
    assert_string_equal(in->client_id, "gateway one");
    assert_string_equal(in->client_secret, "gw-secret-value");
    assert_false(in->use_basic_auth);
    assert_string_equal(in->issuer, "https://idp.example.com");
    assert_int_equal(in->timeout_ms, 500);
    assert_int_equal(in->cache_ttl_ms, 60000);
    pc_config_unref(cfg);

    cfg = test_config_expect_ok(POLICY CORP "  introspection:\n"
                                            "    endpoint: http://localhost:9000/introspect\n"
                                            "    clientID: gateway\n"
                                            "    clientSecretRef: {name: gw-client}\n" BASE);
    in = find_rule(cfg, 0, "/")->authn->introspection;
    assert_true(in->use_basic_auth);
    assert_null(in->issuer);
    assert_int_equal(in->timeout_ms, 2000);
    assert_int_equal(in->cache_ttl_ms, 30000);
    pc_config_unref(cfg);
}

static void
test_sender_constraints_compile(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: auth}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw, sectionName: "
        "https}]\n" CORP "  senderConstraint: {mode: Certificate, ifPresent: true}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: dpop}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw, sectionName: "
        "http}]\n" CORP "  senderConstraint: {mode: DPoP, dpopMaxAge: 2m}\n" BASE);
    const struct pc_authn *tls = find_rule(cfg, 1, "/")->authn;
    const struct pc_authn *plain = find_rule(cfg, 0, "/")->authn;

    assert_string_equal(tls->policy, "default/auth");
    assert_int_equal(tls->binding, PC_BINDING_CERTIFICATE);
    assert_true(tls->binding_if_present);
    assert_string_equal(plain->policy, "default/dpop");
    assert_int_equal(plain->binding, PC_BINDING_DPOP);
    assert_false(plain->binding_if_present);
    assert_int_equal(plain->dpop_max_age_s, 120);
    assert_int_equal(cfg->n_authns, 2);
    pc_config_unref(cfg);
}

static void
test_route_policy_wins_over_listener_and_gateway(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: whole}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}]\n" CORP "  require: {scopes: {allOf: [a]}}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: tls-listener}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw, sectionName: https}]\n" CORP "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: admin-route}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: admin}]\n" CORP "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: admin}\n"
        "spec:\n"
        "  parentRefs: [{name: gw}]\n"
        "  rules: [{matches: [{path: {value: /admin}}], backendRefs: [{name: svc, port: "
        "80}]}]\n" BASE);
    const struct pc_authn *site_http = find_rule(cfg, 0, "/")->authn;
    const struct pc_authn *site_https = find_rule(cfg, 1, "/")->authn;
    const struct pc_authn *admin_http = find_rule(cfg, 0, "/admin")->authn;
    const struct pc_authn *admin_https = find_rule(cfg, 1, "/admin")->authn;

    assert_string_equal(site_http->policy, "default/whole");
    assert_int_equal(site_http->n_scopes_all, 1);
    assert_string_equal(site_https->policy, "default/tls-listener");
    /* The winner applies whole: the Gateway's scope requirement does not leak into it. */
    assert_int_equal(site_https->n_scopes_all, 0);
    assert_string_equal(admin_http->policy, "default/admin-route");
    assert_ptr_equal(admin_http, admin_https);
    assert_int_equal(cfg->n_authns, 3);
    pc_config_unref(cfg);
}

/* The secret's copy lives in the snapshot's first block, which a reset keeps readable. */
static void
expect_wiped(const struct pc_config *cfg, const char *secret, size_t len)
{
    assert_true(secret > (const char *)cfg && secret + len < (const char *)cfg + 60000);
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(secret[i], 0);
    }
}

static void
test_secrets_wiped_with_the_snapshot(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok(POLICY PROVIDERS "      issuer: internal\n"
                                               "      hmacSecretRef: {name: jwt-hmac}\n"
                                               "  introspection:\n"
                                               "    endpoint: https://idp.example.com/i\n"
                                               "    clientID: gateway\n"
                                               "    clientSecretRef: {name: gw-client}\n" BASE);
    const struct pc_authn *a = find_rule(cfg, 0, "/")->authn;
    const char *hmac = a->providers[0].hmac_secret;
    const char *client = a->introspection->client_secret;

    assert_memory_equal(hmac, HMAC_KEY, 64);
    assert_string_equal(client, "gw-secret-value");
    /* Runs the snapshot's cleanups, as its destruction does, but keeps the first block. */
    pc_arena_reset(cfg->arena);
    expect_wiped(cfg, hmac, 64);
    expect_wiped(cfg, client, strlen("gw-secret-value"));
    pc_config_unref(cfg);
}

static void
test_authn_load_survives_allocation_failures(void **state)
{
    static const char yaml[] =
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthenticationPolicy\n"
        "metadata: {name: auth}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}, {kind: HTTPRoute, name: r}]\n"
        "  jwt:\n"
        "    providers:\n"
        "    - {name: a, issuer: \"https://a.example.com\", discovery: true, audiences: [x]}\n"
        "    - {name: b, issuer: b, localJWKS: {inline: '" JWKS_JSON "'}}\n"
        "    - {name: c, audiences: [y], spiffe: {trustDomain: example.org, bundleRef: {name: "
        "example-org}}}\n"
        "    - {name: d, issuer: d, hmacSecretRef: {name: jwt-hmac}, requiredClaims: [{name: t, "
        "values: [u]}]}\n"
        "  introspection: {endpoint: \"https://a.example.com/i\", clientID: g, clientSecretRef: "
        "{name: gw-client}}\n"
        "  require: {scopes: {allOf: [s]}, claims: {anyOf: [{name: a.b}]}}\n"
        "  principal: {roleClaims: [roles]}\n"
        "  claimToHeaders: [{claim: sub, header: x-sub}]\n"
        "  realm: api\n" BASE;
    size_t before = pc_alloc_bytes();
    int successes_in_a_row = 0;

    /* Every load either fails with an error or yields the whole snapshot, and never leaks. */
    for (long n = 0; successes_in_a_row < 50 && n < 20000; n++) {
        struct pc_diag d;
        struct pc_config *cfg;

        pc_diag_init(&d);
        pc_alloc_fail_after(n);
        cfg = pc_config_load_buffer("t.yaml", yaml, sizeof(yaml) - 1, &d);
        pc_alloc_fail_reset();
        if (cfg != NULL) {
            const struct pc_authn *a = cfg->rules[0]->authn;

            assert_int_equal(a->n_providers, 4);
            assert_string_equal(a->providers[1].jwks.data, JWKS_JSON);
            assert_string_equal(a->providers[2].spiffe_bundle->trust_domain, "example.org");
            assert_memory_equal(a->providers[3].hmac_secret, HMAC_KEY, 64);
            assert_string_equal(a->providers[3].required_claims[0].values[0], "u");
            assert_string_equal(a->introspection->client_secret, "gw-secret-value");
            assert_string_equal(a->forward[0].header, "x-sub");
            assert_string_equal(a->realm, "api");
            assert_int_equal(cfg->n_authns, 1);
            successes_in_a_row++;
        } else {
            assert_true(d.n_errors > 0);
            successes_in_a_row = 0;
        }
        pc_config_unref(cfg);
        pc_diag_free(&d);
    }
    assert_int_equal(successes_in_a_row, 50);
    assert_int_equal(pc_alloc_bytes(), before);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, test_config_setup, test_config_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_unknown_field_suggests),
        T(test_algorithm_none_refused),
        T(test_unknown_algorithm_suggests),
        T(test_algorithm_listed_twice),
        T(test_remote_jwks_http_refused),
        T(test_url_shapes),
        T(test_moved_fields_point_to_their_place),
        T(test_durations_are_bounded),
        T(test_value_syntax),
        T(test_policy_needs_a_verifier),
        T(test_provider_needs_one_key_source),
        T(test_provider_names_and_issuers_unique),
        T(test_issuer_required_except_for_spiffe),
        T(test_hmac_algorithms_need_the_secret),
        T(test_hmac_secret_must_be_long_enough),
        T(test_hmac_secret_reference),
        T(test_discovery_needs_an_https_issuer),
        T(test_local_jwks_is_checked),
        T(test_local_jwks_key_count_is_bounded),
        T(test_local_jwks_file_must_exist),
        T(test_spiffe_provider_rules),
        T(test_spiffe_providers_without_issuer),
        T(test_refresh_rules),
        T(test_token_location_in_one_place),
        T(test_sender_constraint_fields),
        T(test_certificate_binding_needs_client_certificates),
        T(test_claim_headers_are_checked),
        T(test_targets_resolve),
        T(test_two_policies_on_one_target),
        T(test_introspection_is_checked),
        T(test_secret_values_never_printed),
        T(test_defaults_compile),
        T(test_no_policy_no_authn),
        T(test_each_key_source_compiles),
        T(test_algorithm_bits),
        T(test_token_locations),
        T(test_requirements_and_forwarded_headers),
        T(test_introspection_compiles),
        T(test_sender_constraints_compile),
        T(test_route_policy_wins_over_listener_and_gateway),
        T(test_secrets_wiped_with_the_snapshot),
        T(test_authn_load_survives_allocation_failures),
    };

    return cmocka_run_group_tests(tests, setup_files, teardown_files);
}
