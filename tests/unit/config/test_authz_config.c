/*
 * Unit tests for the AuthorizationPolicy configuration and ProxyConfig's decisionLog: every error
 * the validator reports about them (schema, the decision source, rules, paths and templates,
 * string tests and regular expressions, CIDRs, principal and peer conditions, object-level path
 * parameters, decision points, cache keys, Rego modules and queries, targets, the signing key),
 * with its exact message and location; the struct pc_authz each source compiles into, field by
 * field; which policy a rule gets (route over listener over Gateway); the decision log settings;
 * and `portcullis validate` on the examples.
 *
 * Error tests put the policy under test first (so line numbers are the snippet's own), then a
 * valid base, and assert one complete diagnostic line. Keys, CA bundles and Rego modules are
 * written to a temporary directory for the run.
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
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cli/run.h"
#include "config/config.h"
#include "config/value.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "helpers/config_check.h"
#include "rego/json.h"
#include "rego/rego.h"
#include "route/route.h"
#include "tls/spiffe.h"

#define CERT_B64                                                                                   \
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekNDQVZtZ0F3SUJBZ0lVZTNKdwotLS0tLUVORCBDRVJUSUZJ" \
    "Q0FURS0tLS0tCg=="
#define KEY_B64                                                                                    \
    "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFRwotLS0tLUVORCBQUklWQVRF" \
    "IEtFWS0tLS0tCg=="
#define CERT_PEM                                                                                   \
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUe3Jw\n-----END CERTIFICATE-----\n"
#define CERT_QUOTED                                                                                \
    "\"-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIUe3Jw\\n-----END CERTIFICATE-----\\n\""

/*
 * Gateway "gw" with listener "http" (8080) and listener "https" (8443, which asks clients for
 * certificates), HTTPRoute "r" on both, and what they refer to.
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
    "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"

/* The first five lines of a policy on HTTPRoute r; its spec goes on at line 6. */
#define POLICY                                                                                     \
    "apiVersion: portcullis.dev/v1alpha1\n"                                                        \
    "kind: AuthorizationPolicy\n"                                                                  \
    "metadata: {name: az}\n"                                                                       \
    "spec:\n"                                                                                      \
    "  targetRefs: [{kind: HTTPRoute, name: r}]\n"

/* Lines 6 and 7: a rules list whose first rule starts at line 7. */
#define RULES                                                                                      \
    "  rules:\n"                                                                                   \
    "  - name: first\n"

/* The first four lines of a ProxyConfig; its spec goes on at line 5. */
#define PROXY                                                                                      \
    "apiVersion: portcullis.dev/v1alpha1\n"                                                        \
    "kind: ProxyConfig\n"                                                                          \
    "metadata: {name: proxy}\n"                                                                    \
    "spec:\n"

#define REGO_MODULE                                                                                \
    "package portcullis.authz\n"                                                                   \
    "\n"                                                                                           \
    "import rego.v1\n"                                                                             \
    "\n"                                                                                           \
    "default decision := false\n"                                                                  \
    "\n"                                                                                           \
    "decision if input.attributes.request.http.method == \"GET\"\n"

static char dir[64];

/* ---- files ---- */

static void
write_file(const char *name, const char *text)
{
    char path[160];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Writes a fresh key of type ("ED25519", "EC") to name, encrypted with a passphrase if asked. */
static int
write_key(const char *name, const char *type, bool encrypt)
{
    char path[160];
    EVP_PKEY *key = strcmp(type, "EC") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                            : EVP_PKEY_Q_keygen(NULL, NULL, type);
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (key == NULL || f == NULL) {
        return -1;
    }
    ok = PEM_write_PrivateKey(f, key, encrypt ? EVP_aes_256_cbc() : NULL,
                              encrypt ? (unsigned char *)"secret" : NULL, encrypt ? 6 : 0, NULL,
                              NULL);
    EVP_PKEY_free(key);
    return fclose(f) == 0 && ok == 1 ? 0 : -1;
}

static const char *const tmp_files[] = {
    "ed25519.pem", "ec.pem",      "encrypted.pem", "ca.pem",    "authz.rego",
    "broken.rego", "unsafe.rego", "data.rego",     "site.yaml",
};

static int
setup_files(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/pc-authz-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    if (write_key("ed25519.pem", "ED25519", false) != 0 || write_key("ec.pem", "EC", false) != 0
        || write_key("encrypted.pem", "ED25519", true) != 0) {
        return -1;
    }
    write_file("ca.pem", CERT_PEM);
    write_file("authz.rego", REGO_MODULE);
    write_file("broken.rego", "package portcullis.authz\n\ndecision if {\n    input.x ==\n}\n");
    write_file("unsafe.rego", "package portcullis.other\n\nimport rego.v1\n\nx if y == 1\n");
    write_file("data.rego", "package portcullis.data\n\nlimit := 3\n");
    return 0;
}

static int
teardown_files(void **state)
{
    char path[160];

    for (size_t i = 0; i < sizeof(tmp_files) / sizeof(tmp_files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, tmp_files[i]);
        unlink(path);
    }
    return rmdir(dir);
}

/* ---- loading and diagnostics ---- */

/* Formats text around the temporary directory; the caller frees it. */
static char *format_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
format_text(const char *fmt, ...)
{
    va_list ap;
    char *out = malloc(16384);

    assert_non_null(out);
    va_start(ap, fmt);
    vsnprintf(out, 16384, fmt, ap);
    va_end(ap);
    return out;
}

/* The rule that serves GET path on port index port (0: 8080, 1: 8443). */
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

/* The authorization of GET / on port 8080. */
static const struct pc_authz *
authz_of(const struct pc_config *cfg)
{
    const struct pc_authz *a = find_rule(cfg, 0, "/")->authz;

    assert_non_null(a);
    return a;
}

/* ---- schema and the decision source ---- */

static void
test_unknown_fields_suggest(void **state)
{
    test_config_expect_error(
        POLICY "  rulez: []\n" BASE,
        "t.yaml:6:3: error: spec.rulez: unknown field; did you mean \"rules\"?");
    test_config_expect_error(POLICY RULES "    actoin: Deny\n" BASE,
                             "t.yaml:8:5: error: spec.rules[0].actoin: unknown field; did you mean "
                             "\"action\"?");
    test_config_expect_error(
        POLICY RULES "    request: {method: [GET]}\n" BASE,
        "t.yaml:8:15: error: spec.rules[0].request.method: unknown field; did you mean "
        "\"methods\"?");
}

static void
test_fields_of_the_other_decision_point_point_to_their_place(void **state)
{
    test_config_expect_error(
        POLICY "  opa:\n"
               "    url: http://127.0.0.1:8181/v1/data/authz/allow\n"
               "    forwardHeaders: [x-user]\n" BASE,
        "t.yaml:8:5: error: spec.opa.forwardHeaders: not supported; OPA receives request "
        "headers in its input: list them in includeHeaders");
    test_config_expect_error(
        POLICY "  opa:\n"
               "    url: http://127.0.0.1:8181/v1/data/authz/allow\n"
               "    appendPath: true\n" BASE,
        "t.yaml:8:5: error: spec.opa.appendPath: not supported; OPA receives the path in "
        "its input (attributes.request.http.path, parsed_path)");
    test_config_expect_error(
        POLICY "  http:\n"
               "    url: http://127.0.0.1:9000/check\n"
               "    includeHeaders: [x-user]\n" BASE,
        "t.yaml:8:5: error: spec.http.includeHeaders: not supported; a check service "
        "receives the request headers listed in forwardHeaders");
}

static void
test_exactly_one_decision_source(void **state)
{
    test_config_expect_error(POLICY BASE,
                             "t.yaml:5:3: error: spec: the policy has no decision source; set "
                             "rules (rules: [] denies every request), opa, http or rego");
    test_config_expect_error(
        POLICY "  rules: []\n"
               "  opa: {url: \"http://127.0.0.1:8181/v1/data/authz/allow\"}\n" BASE,
        "t.yaml:7:8: error: spec.opa: set only one of rules, opa, http and rego; a "
        "policy takes every decision from one source; put the others in policies of "
        "their own");
    /* The first source in the document is kept, whichever it is. */
    test_config_expect_error(
        POLICY "  http: {url: \"http://127.0.0.1:9000/check\"}\n"
               "  rules: []\n" BASE,
        "t.yaml:7:10: error: spec.rules: set only one of rules, opa, http and rego; a "
        "policy takes every decision from one source; put the others in policies of "
        "their own");
    test_config_expect_error(
        POLICY "  rules:\n" BASE,
        "t.yaml:6:9: error: spec.rules: rules is empty (null); write rules: [] to deny "
        "every request, or list the rules");
}

static void
test_empty_rules_deny_everything(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(POLICY "  rules: []\n" BASE);
    const struct pc_authz *a = authz_of(cfg);

    assert_int_equal(a->source, PC_AUTHZ_RULES);
    assert_int_equal(a->n_deny_rules, 0);
    assert_int_equal(a->n_allow_rules, 0);
    assert_null(a->remote);
    assert_null(a->rego);
    pc_config_unref(cfg);
}

static void
test_policy_settings_are_checked(void **state)
{
    test_config_expect_error(
        POLICY "  denyStatus: 402\n  rules: []\n" BASE,
        "t.yaml:6:15: error: spec.denyStatus: denyStatus 402 is not allowed; use 401 "
        "(the caller must authenticate) or 403 to 499; 403 is the default");
    test_config_expect_error(
        POLICY "  denyStatus: 500\n  rules: []\n" BASE,
        "t.yaml:6:15: error: spec.denyStatus: must be between 401 and 499, got 500");
    test_config_expect_error(
        POLICY "  mode: Audit\n  rules: []\n" BASE,
        "t.yaml:6:9: error: spec.mode: unknown value \"Audit\"; allowed: Enforce, "
        "Shadow");
    test_config_expect_error(
        POLICY "  failureMode: open\n  rules: []\n" BASE,
        "t.yaml:6:16: error: spec.failureMode: unknown value \"open\"; did you mean "
        "\"Open\"? allowed: Closed, Open");
    test_config_expect_error(
        POLICY RULES "    action: Permit\n" BASE,
        "t.yaml:8:13: error: spec.rules[0].action: unknown value \"Permit\"; allowed: "
        "Allow, Deny");
}

/* ---- rules ---- */

static void
test_rule_names_are_unique(void **state)
{
    test_config_expect_error(
        POLICY RULES "  - name: second\n"
                     "  - name: first\n" BASE,
        "t.yaml:9:11: error: spec.rules[2].name: rule name \"first\" is already used at "
        "line 7; give every rule of a policy its own name");
    test_config_expect_error(
        POLICY RULES "  - name: Second\n" BASE,
        "t.yaml:8:11: error: spec.rules[1].name: \"Second\" is not a valid name: "
        "lower-case letters, digits, '-' and '.'");
}

static void
test_methods_are_upper_case_tokens(void **state)
{
    test_config_expect_error(
        POLICY RULES "    request: {methods: [GET, post]}\n" BASE,
        "t.yaml:8:30: error: spec.rules[0].request.methods[1]: method \"post\" is not "
        "upper case; methods are case-sensitive (RFC 9110 section 9.1); write \"POST\"");
    test_config_expect_error(
        POLICY RULES "    request: {methods: [\"GET /\"]}\n" BASE,
        "t.yaml:8:25: error: spec.rules[0].request.methods[0]: \"GET /\" is not a valid "
        "method; a method is a token such as GET or PURGE");
    test_config_expect_error(
        POLICY RULES "    request: {methods: [GET, HEAD, GET]}\n" BASE,
        "t.yaml:8:36: error: spec.rules[0].request.methods[2]: method \"GET\" is listed "
        "twice; list each once");
}

static void
test_exact_and_prefix_paths(void **state)
{
    test_config_expect_error(
        POLICY RULES "    request: {paths: [{type: Exact, value: api}]}\n" BASE,
        "t.yaml:8:44: error: spec.rules[0].request.paths[0].value: path \"api\" must be "
        "an absolute path starting with '/'; write the path as it appears after "
        "normalisation, e.g. \"/api/v1\"");
    test_config_expect_error(
        POLICY RULES "    request: {paths: [{type: PathPrefix, value: \"/a//b\"}]}\n" BASE,
        "t.yaml:8:49: error: spec.rules[0].request.paths[0].value: path \"/a//b\" must "
        "not contain \"//\", \"/./\", \"/../\", \"%2F\" or \"#\"; write the path as it "
        "appears after normalisation, e.g. \"/api/v1\"");
    test_config_expect_error(
        POLICY RULES "    request: {paths: [{type: Exact, value: \"/users/{id}\"}]}\n" BASE,
        "t.yaml:8:44: error: spec.rules[0].request.paths[0].value: path \"/users/{id}\" "
        "holds '{' or '}', which only a Template captures with; to capture segments use "
        "type Template, such as {type: Template, value: \"/users/{id}\"}");
    test_config_expect_error(
        POLICY RULES "    request: {paths: [{value: /a}]}\n" BASE,
        "t.yaml:8:23: error: spec.rules[0].request.paths[0].type: required field is "
        "missing");
    test_config_expect_error(
        POLICY RULES "    request: {paths: [{type: Regex, value: /a}]}\n" BASE,
        "t.yaml:8:30: error: spec.rules[0].request.paths[0].type: unknown value "
        "\"Regex\"; allowed: Exact, PathPrefix, Template");
}

#define TEMPLATE_HINT                                                                              \
    "; write segments such as \"/users/{id}/orders/{rest...}\": a parameter is a whole segment, "  \
    "and {name...} takes the rest of the path as the last one"

static void
test_template_syntax(void **state)
{
    static const struct {
        const char *template;
        const char *problem;
    } cases[] = {
        { "users/{id}", "it does not start with '/'" },
        { "/users//{id}", "it has an empty segment (\"//\" or a trailing '/')" },
        { "/users/{id}/", "it has an empty segment (\"//\" or a trailing '/')" },
        { "/users/{id}/x/{id}", "parameter \"id\" is captured twice" },
        { "/files/{rest...}/x", "{rest...} is not the last segment" },
        { "/users/{1st}",
          "parameter name \"1st\" is not a letter or '_' followed by letters, digits and '_'" },
        { "/users/{a-b}",
          "parameter name \"a-b\" is not a letter or '_' followed by letters, digits and '_'" },
        { "/users/{...}",
          "parameter name \"...\" is not a letter or '_' followed by letters, digits and '_'" },
        { "/users/id-{id}", "segment \"id-{id}\" holds '{' or '}' but is not a whole parameter" },
        { "/users/{id}x", "segment \"{id}x\" is neither a literal nor a whole {name}" },
        { "/users/{id", "segment \"{id\" is neither a literal nor a whole {name}" },
        { "/a/%2E%2E/{id}", "segment \"%2E%2E\" is a \".\" or \"..\" segment" },
        { "/a/./{id}", "segment \".\" is a \".\" or \"..\" segment" },
        { "/a%2Fb/{id}",
          "segment \"a%2Fb\" holds an encoding that request paths cannot have (such as %2F)" },
        { "/a b/{id}", "segment \"a b\" holds a character that is not allowed in a path" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *yaml = format_text(POLICY RULES
                                 "    request: {paths: [{type: Template, value: \"%s\"}]}\n" BASE,
                                 cases[i].template);
        char *want = format_text("t.yaml:8:47: error: spec.rules[0].request.paths[0].value: "
                                 "template \"%s\" is not valid: %s" TEMPLATE_HINT,
                                 cases[i].template, cases[i].problem);

        test_config_expect_error(yaml, want);
        free(yaml);
        free(want);
    }
}

static void
test_header_tests(void **state)
{
    test_config_expect_error(
        POLICY RULES "    request:\n"
                     "      headers: [{name: x-a, type: Present, value: yes}]\n" BASE,
        "t.yaml:9:51: error: spec.rules[0].request.headers[0].value: value is not used "
        "with type Present; remove value, or choose another type");
    test_config_expect_error(
        POLICY RULES "    request:\n"
                     "      headers: [{name: x-a}]\n" BASE,
        "t.yaml:9:17: error: spec.rules[0].request.headers[0].value: required field is "
        "missing; give the value to compare with, or use type Present");
    test_config_expect_error(
        POLICY RULES "    request:\n"
                     "      headers: [{name: \"x a\", value: b}]\n" BASE,
        "t.yaml:9:24: error: spec.rules[0].request.headers[0].name: \"x a\" is not a "
        "valid header name");
    test_config_expect_error(
        POLICY RULES "    request:\n"
                     "      headers:\n"
                     "      - {name: x-a, type: RegularExpression, value: \"(a\"}\n" BASE,
        "t.yaml:10:53: error: spec.rules[0].request.headers[0].value: invalid regular "
        "expression: missing closing parenthesis at offset 2; patterns are PCRE2 in "
        "UTF-8 mode, kept close to RE2, and must match the whole value");
    test_config_expect_error(
        POLICY RULES "    request:\n"
                     "      headers:\n"
                     "      - {name: x-a, type: RegularExpression, value: \"(a)\\\\1\"}\n" BASE,
        "t.yaml:10:53: error: spec.rules[0].request.headers[0].value: invalid regular "
        "expression: backreferences are not supported at offset 0; patterns are PCRE2 "
        "in UTF-8 mode, kept close to RE2, and must match the whole value");
}

static void
test_cidrs(void **state)
{
    test_config_expect_error(
        POLICY RULES "    request: {sourceCIDRs: [10.1.2.3/8]}\n" BASE,
        "t.yaml:8:29: error: spec.rules[0].request.sourceCIDRs[0]: \"10.1.2.3/8\" is not "
        "a CIDR block: it has host bits set; did you mean 10.0.0.0/8? a single address is "
        "written without a prefix, or with /32");
    test_config_expect_error(
        POLICY RULES "    request: {notSourceCIDRs: [\"2001:db8::1/32\"]}\n" BASE,
        "t.yaml:8:32: error: spec.rules[0].request.notSourceCIDRs[0]: \"2001:db8::1/32\" "
        "is not a CIDR block: it has host bits set; did you mean 2001:db8::/32? a single "
        "address is written without a prefix, or with /128");
    test_config_expect_error(
        POLICY RULES "    request: {sourceCIDRs: [10.0.0.0/33]}\n" BASE,
        "t.yaml:8:29: error: spec.rules[0].request.sourceCIDRs[0]: \"10.0.0.0/33\" is "
        "not a CIDR block: its prefix length is not a number from 0 to 32; write an "
        "address and a prefix length, such as 10.0.0.0/8 or 2001:db8::/32");
    test_config_expect_error(
        POLICY RULES "    request: {sourceCIDRs: [10.0.0.0/08]}\n" BASE,
        "t.yaml:8:29: error: spec.rules[0].request.sourceCIDRs[0]: \"10.0.0.0/08\" is "
        "not a CIDR block: its prefix length is not a number from 0 to 32; write an "
        "address and a prefix length, such as 10.0.0.0/8 or 2001:db8::/32");
    test_config_expect_error(
        POLICY RULES "    request: {sourceCIDRs: [localhost]}\n" BASE,
        "t.yaml:8:29: error: spec.rules[0].request.sourceCIDRs[0]: \"localhost\" is not "
        "a CIDR block: it is not an IP address with an optional /prefix length; write an "
        "address and a prefix length, such as 10.0.0.0/8 or 2001:db8::/32");
    test_config_expect_error(
        POLICY RULES "    request:\n"
                     "      sourceCIDRs: [10.0.0.0/8]\n"
                     "      notSourceCIDRs: [\"::1\"]\n" BASE,
        "t.yaml:10:23: error: spec.rules[0].request.notSourceCIDRs: set sourceCIDRs or "
        "notSourceCIDRs, not both; a rule tests the client address one way; split it "
        "into two rules");
}

/* ---- the principal ---- */

static void
test_anonymous_excludes_other_principal_conditions(void **state)
{
    test_config_expect_error(
        POLICY RULES "    principal:\n"
                     "      authenticated: false\n"
                     "      scopes: {allOf: [read]}\n" BASE,
        "t.yaml:9:22: error: spec.rules[0].principal.authenticated: authenticated: false "
        "admits only anonymous callers, and the principal also sets scopes; anonymous "
        "callers have no subject, issuer, client id, scopes, roles or claims: remove "
        "authenticated: false or the other conditions");
}

static void
test_principal_values(void **state)
{
    test_config_expect_error(
        POLICY RULES "    principal: {subjects: [alice, {type: Prefx, value: svc-}]}\n" BASE,
        "t.yaml:8:42: error: spec.rules[0].principal.subjects[1].type: unknown value "
        "\"Prefx\"; did you mean \"Prefix\"? allowed: Exact, Prefix, Suffix, Present, "
        "RegularExpression");
    test_config_expect_error(
        POLICY RULES "    principal: {subjects: [42]}\n" BASE,
        "t.yaml:8:28: error: spec.rules[0].principal.subjects[0]: expected a string, got "
        "an integer; quote it: \"42\"");
    test_config_expect_error(
        POLICY RULES "    principal: {scopes: {allOf: [\"a b\"]}}\n" BASE,
        "t.yaml:8:34: error: spec.rules[0].principal.scopes.allOf[0]: \"a b\" is not a "
        "valid scope: 1 to 256 printable ASCII characters without spaces, '\"' or '\\'");
    test_config_expect_error(
        POLICY RULES "    principal:\n"
                     "      claims:\n"
                     "        anyOf: [{path: \"org..tenant\", value: acme}]\n" BASE,
        "t.yaml:10:24: error: spec.rules[0].principal.claims.anyOf[0].path: claim path "
        "\"org..tenant\" is not valid: it has an empty claim name (a leading, doubled or "
        "trailing '.'); write claim names separated by '.', such as "
        "\"realm_access.roles\"");
    test_config_expect_error(
        POLICY RULES "    principal:\n"
                     "      claims:\n"
                     "        allOf: [{path: tenant, type: RegularExpression, value: "
                     "\"[a\"}]\n" BASE,
        "t.yaml:10:64: error: spec.rules[0].principal.claims.allOf[0].value: invalid "
        "regular expression: missing terminating ] for character class at offset 2; "
        "patterns are PCRE2 in UTF-8 mode, kept close to RE2, and must match the whole "
        "value");
}

static void
test_path_params_need_every_path_to_capture(void **state)
{
    test_config_expect_error(
        POLICY RULES "    principal: {pathParams: [{param: id, claim: sub}]}\n" BASE,
        "t.yaml:8:38: error: spec.rules[0].principal.pathParams[0].param: parameter "
        "\"id\" is not captured: the rule has no Template path; add request.paths with a "
        "Template that captures it, such as {type: Template, value: \"/users/{id}\"}");
    test_config_expect_error(
        POLICY RULES "    request:\n"
                     "      paths:\n"
                     "      - {type: Template, value: \"/users/{id}\"}\n"
                     "      - {type: Exact, value: /users}\n"
                     "    principal: {pathParams: [{param: id, claim: sub}]}\n" BASE,
        "t.yaml:12:38: error: spec.rules[0].principal.pathParams[0].param: parameter "
        "\"id\" is not captured by request.paths[1] (Exact \"/users\"); capture {id} in "
        "every path of the rule, or move the other paths to a rule of their own");
    test_config_expect_error(
        POLICY RULES "    request:\n"
                     "      paths:\n"
                     "      - {type: Template, value: \"/users/{id}/orders\"}\n"
                     "      - {type: Template, value: \"/accounts/{idx}\"}\n"
                     "    principal: {pathParams: [{param: id, claim: sub}]}\n" BASE,
        "t.yaml:12:38: error: spec.rules[0].principal.pathParams[0].param: parameter "
        "\"id\" is not captured by request.paths[1] (Template \"/accounts/{idx}\"); "
        "capture {id} in every path of the rule, or move the other paths to a rule of "
        "their own");
    test_config_expect_error(
        POLICY RULES "    request: {paths: [{type: Template, value: \"/u/{id}\"}]}\n"
                     "    principal: {pathParams: [{param: 1d, claim: sub}]}\n" BASE,
        "t.yaml:9:38: error: spec.rules[0].principal.pathParams[0].param: \"1d\" is not a "
        "parameter name; a parameter name is a letter or '_' followed by letters, digits "
        "and '_', as in {id}");
}

/* ---- the peer ---- */

static void
test_peer_conditions(void **state)
{
    test_config_expect_error(
        POLICY RULES "    peer:\n"
                     "      certificate: false\n"
                     "      dnsNames: [client.example.org]\n" BASE,
        "t.yaml:9:20: error: spec.rules[0].peer.certificate: certificate: false cannot "
        "be combined with dnsNames; the other conditions test a certificate, so they "
        "require one: remove certificate: false");
    test_config_expect_error(
        POLICY RULES "    peer: {spiffeIDs: [\"spiffe://*.example.org/web\"]}\n" BASE,
        "t.yaml:8:24: error: spec.rules[0].peer.spiffeIDs[0]: SPIFFE ID pattern "
        "\"spiffe://*.example.org/web\" refused: pattern_wildcard_in_trust_domain; write "
        "spiffe://<trust domain>/<path>: '*' matches within one segment, \"**\" any "
        "number of whole segments, a trailing '/' every ID below; the trust domain is "
        "always literal");
    test_config_expect_error(
        POLICY RULES "    peer: {spiffeIDs: [\"https://example.org/web\"]}\n" BASE,
        "t.yaml:8:24: error: spec.rules[0].peer.spiffeIDs[0]: SPIFFE ID pattern "
        "\"https://example.org/web\" refused: spiffe_id_scheme; write spiffe://<trust "
        "domain>/<path>: '*' matches within one segment, \"**\" any number of whole "
        "segments, a trailing '/' every ID below; the trust domain is always literal");
    test_config_expect_error(
        POLICY RULES "    peer: {dnsNames: [\"Client.Example.org\"]}\n" BASE,
        "t.yaml:8:23: error: spec.rules[0].peer.dnsNames[0]: \"Client.Example.org\" is "
        "not a valid hostname; use lower-case DNS labels, optionally after a leading "
        "\"*.\"; IP addresses are not hostnames");
}

/* ---- decision points ---- */

static void
test_opa_url(void **state)
{
    test_config_expect_error(
        POLICY "  opa: {url: \"http://127.0.0.1:8181/v1/policies/authz\"}\n" BASE,
        "t.yaml:6:14: error: spec.opa.url: \"http://127.0.0.1:8181/v1/policies/authz\" "
        "names no document under /v1/data/; give OPA's Data API URL of the decision, "
        "such as http://127.0.0.1:8181/v1/data/portcullis/authz");
    test_config_expect_error(
        POLICY "  opa: {url: \"http://127.0.0.1:8181/v1/data/\"}\n" BASE,
        "t.yaml:6:14: error: spec.opa.url: \"http://127.0.0.1:8181/v1/data/\" names no "
        "document under /v1/data/; give OPA's Data API URL of the decision, such as "
        "http://127.0.0.1:8181/v1/data/portcullis/authz");
    test_config_expect_error(
        POLICY "  opa: {url: \"http://opa.internal:8181/v1/data/authz\"}\n" BASE,
        "t.yaml:6:14: error: spec.opa.url: scheme \"http\" refused; use https://; plain "
        "http is allowed only to a loopback address (127.0.0.1, ::1, localhost)");
    test_config_expect_error(
        POLICY "  opa: {url: \"grpc://127.0.0.1:9191/v1/data/authz\"}\n" BASE,
        "t.yaml:6:14: error: spec.opa.url: \"grpc://127.0.0.1:9191/v1/data/authz\" is "
        "not a usable URL: it is not an http:// or https:// URL; write "
        "https://host[:port]/path");
    test_config_expect_error(
        POLICY "  opa: {url: \"http://127.0.0.1:8181/v1/data/a\", timeout: 11s}\n" BASE,
        "t.yaml:6:58: error: spec.opa.timeout: must be between 1ms and 10s");
}

static void
test_ca_bundles(void **state)
{
    char *yaml;

    test_config_expect_error(
        POLICY "  opa:\n"
               "    url: http://127.0.0.1:8181/v1/data/authz\n"
               "    caBundle: {pem: " CERT_QUOTED "}\n" BASE,
        "t.yaml:8:15: error: spec.opa.caBundle: caBundle applies only to an https url; "
        "use an https:// url, or remove caBundle");
    test_config_expect_error(
        POLICY "  http:\n"
               "    url: https://authz.example.com/check\n"
               "    caBundle: {}\n" BASE,
        "t.yaml:8:15: error: spec.http.caBundle: set exactly one of file and pem; a "
        "caBundle reads PEM certificates from a file or holds them inline");
    test_config_expect_error(
        POLICY "  http:\n"
               "    url: https://authz.example.com/check\n"
               "    caBundle: {pem: \"hello\"}\n" BASE,
        "t.yaml:8:21: error: spec.http.caBundle.pem: not a CA bundle: it holds no PEM "
        "certificate (-----BEGIN CERTIFICATE-----); give PEM certificates (-----BEGIN "
        "CERTIFICATE-----)");
    yaml = format_text(POLICY "  http:\n"
                              "    url: https://authz.example.com/check\n"
                              "    caBundle: {file: %s/missing.pem}\n" BASE,
                       dir);
    char *want = format_text("t.yaml:8:22: error: spec.http.caBundle.file: file "
                             "\"%s/missing.pem\" does not exist; check the path",
                             dir);

    test_config_expect_error(yaml, want);
    free(yaml);
    free(want);
}

static void
test_cache_keys(void **state)
{
    test_config_expect_error(
        POLICY "  opa:\n"
               "    url: http://127.0.0.1:8181/v1/data/authz\n"
               "    cache: {ttl: 5s, key: [principal.subject]}\n" BASE,
        "t.yaml:8:28: error: spec.opa.cache.key[0]: \"principal.subject\" is not a cache "
        "key; did you mean \"principal.sub\"? a cache is keyed on input paths that are "
        "always defined: attributes.request.http.method, .path, .host or .headers.<name>, "
        "parsed_path, principal.sub, .iss or .client_id, peer.spiffe_id, "
        "attributes.source.address");
    test_config_expect_error(
        POLICY "  opa:\n"
               "    url: http://127.0.0.1:8181/v1/data/authz\n"
               "    cache: {ttl: 5s, key: [input.claims.tenant]}\n" BASE,
        "t.yaml:8:28: error: spec.opa.cache.key[0]: \"input.claims.tenant\" is not a "
        "cache key; a cache is keyed on input paths that are always defined: "
        "attributes.request.http.method, .path, .host or .headers.<name>, parsed_path, "
        "principal.sub, .iss or .client_id, peer.spiffe_id, attributes.source.address");
    test_config_expect_error(
        POLICY "  opa:\n"
               "    url: http://127.0.0.1:8181/v1/data/authz\n"
               "    cache:\n"
               "      ttl: 5s\n"
               "      key: [attributes.request.http.headers.X-Tenant]\n" BASE,
        "t.yaml:10:13: error: spec.opa.cache.key[0]: header name \"X-Tenant\" in cache "
        "key \"attributes.request.http.headers.X-Tenant\" is not lower case; the input "
        "document names headers in lower case");
    test_config_expect_error(
        POLICY "  http:\n"
               "    url: http://127.0.0.1:9000/check\n"
               "    cache: {ttl: 5s, key: [parsed_path, principal.sub, parsed_path]}\n" BASE,
        "t.yaml:8:56: error: spec.http.cache.key[2]: cache key \"parsed_path\" is listed "
        "twice; list each once");
    test_config_expect_error(POLICY "  http:\n"
                                    "    url: http://127.0.0.1:9000/check\n"
                                    "    cache: {key: [parsed_path]}\n" BASE,
                             "t.yaml:8:12: error: spec.http.cache.ttl: required field is missing");
    test_config_expect_error(POLICY "  http:\n"
                                    "    url: http://127.0.0.1:9000/check\n"
                                    "    cache: {ttl: 2h, key: [parsed_path]}\n" BASE,
                             "t.yaml:8:18: error: spec.http.cache.ttl: must be between 1ms and 1h");
}

static void
test_http_check_headers(void **state)
{
    test_config_expect_error(
        POLICY "  http:\n"
               "    url: \"http://127.0.0.1:9000/check?v=1\"\n"
               "    appendPath: true\n" BASE,
        "t.yaml:7:10: error: spec.http.url: url has a query, and appendPath adds the "
        "request's path after the url; remove the query, or set appendPath: false");
    test_config_expect_error(
        POLICY "  http:\n"
               "    url: http://127.0.0.1:9000/check\n"
               "    forwardHeaders: [authorization, Content-Length]\n" BASE,
        "t.yaml:8:37: error: spec.http.forwardHeaders[1]: header \"Content-Length\" "
        "cannot be copied to the check; the proxy manages this framing and connection "
        "header itself");
    test_config_expect_error(
        POLICY "  http:\n"
               "    url: http://127.0.0.1:9000/check\n"
               "    upstreamHeaders: [x-auth-user, x-request-id]\n" BASE,
        "t.yaml:8:36: error: spec.http.upstreamHeaders[1]: header \"x-request-id\" cannot "
        "be copied to the upstream request; the gateway sets this header itself");
    test_config_expect_error(
        POLICY "  http:\n"
               "    url: http://127.0.0.1:9000/check\n"
               "    upstreamHeaders: [host]\n" BASE,
        "t.yaml:8:23: error: spec.http.upstreamHeaders[0]: header \"host\" cannot be "
        "copied to the upstream request; each request carries the Host of the server it "
        "is sent to");
    test_config_expect_error(
        POLICY "  opa:\n"
               "    url: http://127.0.0.1:8181/v1/data/authz\n"
               "    includeHeaders: []\n" BASE,
        "t.yaml:8:21: error: spec.opa.includeHeaders: includeHeaders is empty; leave "
        "includeHeaders out to put every request header in the input, or list the ones "
        "the policy reads");
    test_config_expect_error(
        POLICY "  opa:\n"
               "    url: http://127.0.0.1:8181/v1/data/authz\n"
               "    includeHeaders: [x-tenant, X-Tenant]\n" BASE,
        "t.yaml:8:32: error: spec.opa.includeHeaders[1]: header \"X-Tenant\" is listed "
        "twice; list each once");
}

/* ---- Rego ---- */

static void
test_rego_module_errors_are_located(void **state)
{
    char *yaml = format_text(POLICY "  rego:\n"
                                    "    files: [%s/authz.rego, %s/broken.rego]\n"
                                    "    query: data.portcullis.authz.decision\n" BASE,
                             dir, dir);
    char *want = format_text(
        "t.yaml:7:%zu: error: spec.rego.files[1]: the Rego module does not "
        "compile: %s/broken.rego:5:1: rego_parse_error: unexpected } token: expected term; "
        "`portcullis policy eval -d FILE QUERY` shows the same errors",
        (size_t)13 + strlen(dir) + strlen("/authz.rego, "), dir);

    test_config_expect_error(yaml, want);
    free(yaml);
    free(want);

    /* A compile error names the module it is in, whichever file it came from. */
    yaml = format_text(POLICY "  rego:\n"
                              "    files:\n"
                              "    - %s/authz.rego\n"
                              "    - %s/unsafe.rego\n"
                              "    query: data.portcullis.authz.decision\n" BASE,
                       dir, dir);
    want = format_text("t.yaml:9:7: error: spec.rego.files[1]: the Rego module does not compile: "
                       "%s/unsafe.rego:5:6: rego_unsafe_var_error: var y is unsafe; `portcullis "
                       "policy eval -d FILE QUERY` shows the same errors",
                       dir);
    test_config_expect_error(yaml, want);
    free(yaml);
    free(want);
}

static void
test_rego_files_and_query(void **state)
{
    char *yaml = format_text(POLICY "  rego:\n"
                                    "    files: [policies/none.rego]\n"
                                    "    query: data.portcullis.authz.decision\n" BASE);
    char cwd[256];
    char *want;

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    want = format_text("t.yaml:7:13: error: spec.rego.files[0]: file \"%s/policies/none.rego\" "
                       "does not exist; relative paths are read from the directory of the file "
                       "that declares them",
                       cwd);
    test_config_expect_error(yaml, want);
    free(yaml);
    free(want);

    yaml = format_text(POLICY "  rego:\n"
                              "    files: [%s/authz.rego]\n"
                              "    query: \"data.portcullis.authz.decision ==\"\n" BASE,
                       dir);
    test_config_expect_error(
        yaml, "t.yaml:8:12: error: spec.rego.query: query \"data.portcullis.authz."
              "decision ==\" does not compile: query:1:34: rego_parse_error: unexpected "
              "eof token: expected term; name the rule that holds the decision, such as "
              "data.portcullis.authz.decision");
    free(yaml);

    yaml = format_text(POLICY "  rego:\n"
                              "    files: [%s/authz.rego]\n"
                              "    query: \"data.portcullis.authz.decision; true\"\n" BASE,
                       dir);
    test_config_expect_error(
        yaml, "t.yaml:8:12: error: spec.rego.query: query \"data.portcullis.authz."
              "decision; true\" has 2 expressions, and a decision is one; name the rule "
              "that holds the decision, such as data.portcullis.authz.decision");
    free(yaml);

    yaml = format_text(POLICY "  rego:\n"
                              "    files: [%s/authz.rego, %s/authz.rego]\n"
                              "    query: data.portcullis.authz.decision\n" BASE,
                       dir, dir);
    want = format_text("t.yaml:7:%zu: error: spec.rego.files[1]: file \"%s/authz.rego\" is "
                       "listed twice; list each once",
                       (size_t)13 + strlen(dir) + strlen("/authz.rego, "), dir);
    test_config_expect_error(yaml, want);
    free(yaml);
    free(want);

    test_config_expect_error(POLICY "  rego: {files: [a.rego]}\n" BASE,
                             "t.yaml:6:9: error: spec.rego.query: required field is missing");
    test_config_expect_error(POLICY "  rego: {files: [], query: data.x}\n" BASE,
                             "t.yaml:6:17: error: spec.rego.files: must not be empty");
}

/* ---- targets ---- */

static void
test_targets_resolve(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: az}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: rr}]\n"
        "  rules: []\n" BASE,
        "t.yaml:5:40: error: spec.targetRefs[0].name: HTTPRoute default/rr not found; did "
        "you mean \"r\"?");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: az}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw, sectionName: htps}]\n"
        "  rules: []\n" BASE,
        "t.yaml:5:55: error: spec.targetRefs[0].sectionName: Gateway default/gw has no "
        "listener \"htps\"; listeners of the Gateway: http, https");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: az}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: r, sectionName: http}]\n"
        "  rules: []\n" BASE,
        "t.yaml:5:56: error: spec.targetRefs[0].sectionName: sectionName is only "
        "supported for Gateway targets; remove it; a route policy applies to the whole "
        "route");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: az}\n"
        "spec:\n"
        "  targetRefs: [{group: example.com, kind: Gateway, name: gw}]\n"
        "  rules: []\n" BASE,
        "t.yaml:5:24: error: spec.targetRefs[0].group: group of a Gateway target must be "
        "\"gateway.networking.k8s.io\"; leave group out");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: az}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}, {kind: Gateway, name: gw}]\n"
        "  rules: []\n" BASE,
        "t.yaml:5:43: error: spec.targetRefs[1]: Gateway gw is targeted twice; list each "
        "target once");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: az}\n"
        "spec:\n"
        "  targetRefs: [{kind: Service, name: svc}]\n"
        "  rules: []\n" BASE,
        "t.yaml:5:23: error: spec.targetRefs[0].kind: unknown value \"Service\"; allowed: "
        "Gateway, HTTPRoute");
}

static void
test_two_policies_on_one_target(void **state)
{
    test_config_expect_error(
        POLICY "  rules: []\n"
               "---\n"
               "apiVersion: portcullis.dev/v1alpha1\n"
               "kind: AuthorizationPolicy\n"
               "metadata: {name: other}\n"
               "spec:\n"
               "  targetRefs: [{kind: HTTPRoute, name: r}]\n"
               "  rules: []\n" BASE,
        "t.yaml:12:16: error: spec.targetRefs[0]: AuthorizationPolicy default/az and "
        "AuthorizationPolicy default/other both target HTTPRoute default/r; keep one "
        "AuthorizationPolicy per target; a policy on a listener or route wins over one "
        "on its Gateway");
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: a}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw, sectionName: https}]\n"
        "  rules: []\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: b}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw, sectionName: https}]\n"
        "  rules: []\n" BASE,
        "t.yaml:12:16: error: spec.targetRefs[0]: AuthorizationPolicy default/a and "
        "AuthorizationPolicy default/b both target Gateway default/gw listener \"https\"; "
        "keep one AuthorizationPolicy per target; a policy on a listener or route wins "
        "over one on its Gateway");
}

/* ---- the decision log ---- */

static void
test_decision_log_errors(void **state)
{
    char *yaml;
    char *want;

    test_config_expect_error(
        PROXY "  decisionLog: {path: /tmp/d.log}\n" BASE,
        "t.yaml:5:16: error: spec.decisionLog.signingKey: required field is missing");
    test_config_expect_error(
        PROXY "  decisionLog: {signingKey: {file: k.pem}}\n" BASE,
        "t.yaml:5:16: error: spec.decisionLog.path: required field is missing");
    yaml = format_text(
        PROXY "  decisionLog: {path: \"-\", signingKey: {file: %s/ed25519.pem}}\n" BASE, dir);
    test_config_expect_error(
        yaml, "t.yaml:5:23: error: spec.decisionLog.path: the decision log is written to "
              "a file, not to standard output; give a file path; the hash chain "
              "continues across restarts");
    free(yaml);
    yaml = format_text(PROXY "  accessLog: {path: /var/log/p.log}\n"
                             "  decisionLog: {path: /var/log/p.log, signingKey: {file: "
                             "%s/ed25519.pem}}\n" BASE,
                       dir);
    test_config_expect_error(
        yaml, "t.yaml:6:23: error: spec.decisionLog.path: path \"/var/log/p.log\" is also "
              "the access log's; give each log a file of its own");
    free(yaml);
    yaml = format_text(PROXY "  decisionLog:\n"
                             "    path: /var/log/d.log\n"
                             "    signingKey: {file: %s/ed25519.pem}\n"
                             "    checkpointInterval: 2h\n"
                             "    queueLines: 10\n" BASE,
                       dir);
    test_config_expect_error(
        yaml, "t.yaml:8:25: error: spec.decisionLog.checkpointInterval: must be between "
              "100ms and 1h");
    test_config_expect_error(
        yaml, "t.yaml:9:17: error: spec.decisionLog.queueLines: must be between 64 and "
              "1048576, got 10");
    free(yaml);

    yaml = format_text(
        PROXY "  decisionLog: {path: /var/log/d.log, signingKey: {file: %s/ec.pem}}\n" BASE, dir);
    want = format_text("t.yaml:5:58: error: spec.decisionLog.signingKey.file: signing key "
                       "\"%s/ec.pem\" is not an unencrypted PKCS#8 Ed25519 private key: it holds "
                       "an EC key, and checkpoints are signed with Ed25519; make one with "
                       "`openssl genpkey -algorithm ed25519 -out key.pem`",
                       dir);
    test_config_expect_error(yaml, want);
    free(yaml);
    free(want);

    yaml = format_text(PROXY "  decisionLog: {path: /var/log/d.log, signingKey: {file: "
                             "%s/encrypted.pem}}\n" BASE,
                       dir);
    want = format_text("t.yaml:5:58: error: spec.decisionLog.signingKey.file: signing key "
                       "\"%s/encrypted.pem\" is not an unencrypted PKCS#8 Ed25519 private key: it "
                       "is an encrypted private key, which cannot be used without its passphrase; "
                       "make one with `openssl genpkey -algorithm ed25519 -out key.pem`",
                       dir);
    test_config_expect_error(yaml, want);
    free(yaml);
    free(want);

    yaml = format_text(
        PROXY "  decisionLog: {path: /var/log/d.log, signingKey: {file: %s/ca.pem}}\n" BASE, dir);
    want = format_text("t.yaml:5:58: error: spec.decisionLog.signingKey.file: signing key "
                       "\"%s/ca.pem\" is not an unencrypted PKCS#8 Ed25519 private key: it holds a "
                       "PEM block that is not a private key; make one with `openssl genpkey "
                       "-algorithm ed25519 -out key.pem`",
                       dir);
    test_config_expect_error(yaml, want);
    free(yaml);
    free(want);

    yaml = format_text(
        PROXY "  decisionLog: {path: /var/log/d.log, signingKey: {file: %s/no.pem}}\n" BASE, dir);
    want = format_text("t.yaml:5:58: error: spec.decisionLog.signingKey.file: file \"%s/no.pem\" "
                       "does not exist; check the path",
                       dir);
    test_config_expect_error(yaml, want);
    free(yaml);
    free(want);
}

static void
test_decision_log_compiles(void **state)
{
    char *yaml = format_text(PROXY "  decisionLog:\n"
                                   "    path: /var/log/portcullis/decisions.log\n"
                                   "    signingKey: {file: %s/ed25519.pem}\n"
                                   "    checkpointInterval: 30s\n"
                                   "    checkpointLines: 500\n"
                                   "    queueLines: 4096\n" BASE,
                             dir);
    struct pc_config *cfg = test_config_expect_ok(yaml);
    const struct pc_decision_log_settings *d = &cfg->proxy.decision_log;
    char key[160];

    snprintf(key, sizeof(key), "%s/ed25519.pem", dir);
    assert_string_equal(d->path, "/var/log/portcullis/decisions.log");
    assert_string_equal(d->signing_key_file, key);
    assert_int_equal(d->checkpoint_interval_ms, 30000);
    assert_int_equal(d->checkpoint_lines, 500);
    assert_int_equal(d->queue_lines, 4096);
    pc_config_unref(cfg);
    free(yaml);

    yaml = format_text(
        PROXY "  decisionLog: {path: d.log, signingKey: {file: %s/ed25519.pem}}\n" BASE, dir);
    cfg = test_config_expect_ok(yaml);
    d = &cfg->proxy.decision_log;
    assert_string_equal(d->path, "d.log");
    assert_int_equal(d->checkpoint_interval_ms, PC_CONFIG_DEFAULT_DECISION_CHECKPOINT_MS);
    assert_int_equal(d->checkpoint_lines, PC_CONFIG_DEFAULT_DECISION_CHECKPOINT_LINES);
    assert_int_equal(d->queue_lines, PC_CONFIG_DEFAULT_DECISION_QUEUE_LINES);
    pc_config_unref(cfg);
    free(yaml);

    cfg = test_config_expect_ok(BASE);
    assert_null(cfg->proxy.decision_log.path);
    assert_null(cfg->proxy.decision_log.signing_key_file);
    assert_int_equal(cfg->proxy.decision_log.queue_lines, PC_CONFIG_DEFAULT_DECISION_QUEUE_LINES);
    pc_config_unref(cfg);
}

/* A relative key path is read from the directory of the file that names it. */
static void
test_decision_key_relative_to_its_file(void **state)
{
    char path[160];
    char key[160];
    struct pc_config *cfg;

    write_file("site.yaml",
               PROXY "  decisionLog: {path: d.log, signingKey: {file: ed25519.pem}}\n" BASE);
    snprintf(path, sizeof(path), "%s/site.yaml", dir);
    snprintf(key, sizeof(key), "%s/ed25519.pem", dir);
    cfg = pc_config_load(path, &test_config_diag);
    if (cfg == NULL) {
        test_config_dump();
        fail_msg("configuration was refused");
    }
    assert_string_equal(cfg->proxy.decision_log.signing_key_file, key);
    pc_config_unref(cfg);
}

/* ---- compilation ---- */

static void
test_rules_policy_compiles_field_by_field(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: orders, namespace: default}\n"
        "spec:\n"
        "  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n"
        "  mode: Shadow\n"
        "  failureMode: Open\n"
        "  denyStatus: 401\n"
        "  rules:\n"
        "  - name: owner-reads-orders\n"
        "    request:\n"
        "      methods: [GET, HEAD]\n"
        "      paths:\n"
        "      - {type: Template, value: \"/users/{id}/orders/{rest...}\"}\n"
        "      - {type: Template, value: \"/users/{id}/%7Eme/%c3%a9\"}\n"
        "      headers:\n"
        "      - {name: X-Tenant, type: Exact, value: acme}\n"
        "      - {name: x-debug, type: Present, invert: true}\n"
        "      - {name: x-env, type: RegularExpression, value: \"prod|stage\"}\n"
        "      sourceCIDRs: [10.0.0.0/8, \"::1/128\", 192.168.1.7]\n"
        "    principal:\n"
        "      authenticated: true\n"
        "      subjects: [alice, {type: Prefix, value: \"svc-\"}, {type: Suffix, value: "
        "\"@example.com\"}]\n"
        "      issuers: [\"https://idp.example.com\"]\n"
        "      clientIDs: [web]\n"
        "      scopes: {allOf: [orders.read], anyOf: []}\n"
        "      roles: {allOf: [], anyOf: [admin, support]}\n"
        "      claims:\n"
        "        allOf: [{path: org.tenant, type: Exact, value: acme}]\n"
        "        anyOf: [{path: groups, type: RegularExpression, value: \"ops-.*\"}, {path: vip, "
        "type: Present}]\n"
        "      pathParams: [{param: id, claim: sub}]\n"
        "    peer:\n"
        "      certificate: true\n"
        "      spiffeIDs: [\"spiffe://prod.example.org/ns/orders/*\"]\n"
        "      subjects: [{type: Exact, value: \"CN=client,O=Example\"}]\n"
        "      dnsNames: [client.example.org]\n"
        "  - action: Deny\n"
        "    request:\n"
        "      methods: [DELETE]\n"
        "      paths: [{type: PathPrefix, value: /admin/}, {type: Exact, value: \"/a/%7e\"}]\n"
        "      notSourceCIDRs: [127.0.0.0/8]\n"
        "  - name: anonymous-health\n"
        "    request: {paths: [{type: PathPrefix, value: /}]}\n"
        "    principal: {authenticated: false}\n"
        "  - name: mtls-only\n"
        "    peer: {dnsNames: [\"*.example.org\"]}\n" BASE);
    const struct pc_authz *a = authz_of(cfg);
    const struct pc_authz_rule *r = &a->allow_rules[0];
    const struct pc_authz_rule *d = &a->deny_rules[0];

    assert_string_equal(a->policy, "default/orders");
    assert_int_equal(a->source, PC_AUTHZ_RULES);
    assert_true(a->is_shadow);
    assert_true(a->fail_open);
    assert_int_equal(a->deny_status, 401);
    assert_int_equal(a->n_deny_rules, 1);
    assert_int_equal(a->n_allow_rules, 3);

    assert_string_equal(r->name, "owner-reads-orders");
    assert_int_equal(r->effect, PC_AUTHZ_ALLOW);
    assert_int_equal(r->n_methods, 2);
    assert_string_equal(r->methods[0], "GET");
    assert_string_equal(r->methods[1], "HEAD");

    /* Templates: segments, parameters, the rest, literals normalised as request paths are. */
    assert_int_equal(r->n_paths, 2);
    assert_int_equal(r->paths[0].type, PC_AUTHZ_PATH_TEMPLATE);
    assert_string_equal(r->paths[0].value, "/users/{id}/orders/{rest...}");
    assert_int_equal(r->paths[0].n_segments, 4);
    assert_memory_equal(r->paths[0].segments[0].text, "users", 5);
    assert_int_equal(r->paths[0].segments[0].len, 5);
    assert_false(r->paths[0].segments[0].is_param);
    assert_memory_equal(r->paths[0].segments[1].text, "id", 2);
    assert_int_equal(r->paths[0].segments[1].len, 2);
    assert_true(r->paths[0].segments[1].is_param);
    assert_false(r->paths[0].segments[1].is_rest);
    assert_memory_equal(r->paths[0].segments[3].text, "rest", 4);
    assert_int_equal(r->paths[0].segments[3].len, 4);
    assert_true(r->paths[0].segments[3].is_param);
    assert_true(r->paths[0].segments[3].is_rest);
    assert_int_equal(r->paths[1].n_segments, 4);
    assert_memory_equal(r->paths[1].segments[2].text, "~me", 3);
    assert_int_equal(r->paths[1].segments[2].len, 3);
    assert_memory_equal(r->paths[1].segments[3].text, "%C3%A9", 6);
    assert_int_equal(r->paths[1].segments[3].len, 6);

    /* Header names lower-cased; each test compiled. */
    assert_int_equal(r->n_headers, 3);
    assert_string_equal(r->headers[0].name, "x-tenant");
    assert_int_equal(r->headers[0].name_len, 8);
    assert_int_equal(r->headers[0].match.type, PC_STRING_EXACT);
    assert_string_equal(r->headers[0].match.value, "acme");
    assert_int_equal(r->headers[0].match.value_len, 4);
    assert_false(r->headers[0].is_inverted);
    assert_int_equal(r->headers[1].match.type, PC_STRING_PRESENT);
    assert_null(r->headers[1].match.value);
    assert_true(r->headers[1].is_inverted);
    assert_int_equal(r->headers[2].match.type, PC_STRING_REGEX);
    assert_non_null(r->headers[2].match.regex);
    assert_string_equal(r->headers[2].match.value, "prod|stage");

    assert_int_equal(r->n_sources, 3);
    assert_false(r->is_sources_inverted);
    assert_int_equal(r->sources[0].family, AF_INET);
    assert_int_equal(r->sources[0].prefix_len, 8);
    assert_memory_equal(r->sources[0].addr, "\x0a\x00\x00\x00", 4);
    assert_int_equal(r->sources[1].family, AF_INET6);
    assert_int_equal(r->sources[1].prefix_len, 128);
    assert_int_equal(r->sources[1].addr[15], 1);
    assert_int_equal(r->sources[2].prefix_len, 32);
    assert_memory_equal(r->sources[2].addr, "\xc0\xa8\x01\x07", 4);

    /* The principal. */
    assert_true(r->require_authenticated);
    assert_false(r->require_anonymous);
    assert_int_equal(r->n_subjects, 3);
    assert_int_equal(r->subjects[0].type, PC_STRING_EXACT);
    assert_string_equal(r->subjects[0].value, "alice");
    assert_int_equal(r->subjects[1].type, PC_STRING_PREFIX);
    assert_string_equal(r->subjects[1].value, "svc-");
    assert_int_equal(r->subjects[2].type, PC_STRING_SUFFIX);
    assert_int_equal(r->n_issuers, 1);
    assert_string_equal(r->issuers[0], "https://idp.example.com");
    assert_int_equal(r->n_client_ids, 1);
    assert_string_equal(r->client_ids[0], "web");
    assert_int_equal(r->n_scopes_all, 1);
    assert_string_equal(r->scopes_all[0], "orders.read");
    assert_int_equal(r->n_scopes_any, 0);
    assert_int_equal(r->n_roles_all, 0);
    assert_int_equal(r->n_roles_any, 2);
    assert_string_equal(r->roles_any[1], "support");
    assert_int_equal(r->n_claims_all, 1);
    assert_string_equal(r->claims_all[0].path, "org.tenant");
    assert_string_equal(r->claims_all[0].match.value, "acme");
    assert_int_equal(r->n_claims_any, 2);
    assert_int_equal(r->claims_any[0].match.type, PC_STRING_REGEX);
    assert_non_null(r->claims_any[0].match.regex);
    assert_int_equal(r->claims_any[1].match.type, PC_STRING_PRESENT);
    assert_int_equal(r->n_param_claims, 1);
    assert_string_equal(r->param_claims[0].param, "id");
    assert_string_equal(r->param_claims[0].claim, "sub");

    /* The peer. */
    assert_true(r->require_peer_certificate);
    assert_int_equal(r->n_spiffe_ids, 1);
    assert_true(pc_spiffe_match(r->spiffe_ids[0], "spiffe://prod.example.org/ns/orders/api", 39));
    assert_false(pc_spiffe_match(r->spiffe_ids[0], "spiffe://prod.example.org/ns/web/api", 36));
    assert_int_equal(r->n_peer_subjects, 1);
    assert_string_equal(r->peer_subjects[0].value, "CN=client,O=Example");
    assert_int_equal(r->n_peer_dns_names, 1);
    assert_string_equal(r->peer_dns_names[0], "client.example.org");

    /* The deny rule: default name, prefix without its trailing '/', normalised exact path. */
    assert_string_equal(d->name, "default/orders/rules/1");
    assert_int_equal(d->effect, PC_AUTHZ_DENY);
    assert_int_equal(d->paths[0].type, PC_AUTHZ_PATH_PREFIX);
    assert_string_equal(d->paths[0].value, "/admin");
    assert_int_equal(d->paths[0].value_len, 6);
    assert_int_equal(d->paths[1].type, PC_AUTHZ_PATH_EXACT);
    assert_string_equal(d->paths[1].value, "/a/~");
    assert_true(d->is_sources_inverted);
    assert_int_equal(d->n_sources, 1);
    assert_false(d->require_authenticated);
    assert_false(d->require_peer_certificate);

    /* authenticated: false; a peer condition implies the certificate. */
    assert_string_equal(a->allow_rules[1].name, "anonymous-health");
    assert_true(a->allow_rules[1].require_anonymous);
    assert_false(a->allow_rules[1].require_authenticated);
    assert_string_equal(a->allow_rules[1].paths[0].value, "/");
    assert_true(a->allow_rules[2].require_peer_certificate);
    assert_string_equal(a->allow_rules[2].peer_dns_names[0], "*.example.org");
    pc_config_unref(cfg);
}

/* Any principal condition requires a principal, and any peer condition a certificate. */
static void
test_conditions_imply_their_requirements(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok(POLICY RULES "    principal: {roles: {anyOf: [admin]}}\n"
                                           "    peer: {subjects: [\"CN=a\"]}\n"
                                           "  - name: second\n"
                                           "    principal: {}\n"
                                           "    peer: {certificate: false}\n" BASE);
    const struct pc_authz *a = authz_of(cfg);

    assert_true(a->allow_rules[0].require_authenticated);
    assert_true(a->allow_rules[0].require_peer_certificate);
    assert_false(a->allow_rules[1].require_authenticated);
    assert_false(a->allow_rules[1].require_anonymous);
    assert_false(a->allow_rules[1].require_peer_certificate);
    pc_config_unref(cfg);
}

static void
test_opa_policy_compiles(void **state)
{
    char *yaml = format_text(POLICY "  failureMode: Open\n"
                                    "  opa:\n"
                                    "    url: https://opa.example.com/v1/data/portcullis/authz\n"
                                    "    timeout: 150ms\n"
                                    "    includeHeaders: [X-Tenant, authorization]\n"
                                    "    caBundle: {file: %s/ca.pem}\n"
                                    "    cache:\n"
                                    "      ttl: 5s\n"
                                    "      key:\n"
                                    "      - attributes.request.http.method\n"
                                    "      - parsed_path\n"
                                    "      - principal.sub\n"
                                    "      - attributes.request.http.headers.x-tenant\n" BASE,
                             dir);
    struct pc_config *cfg = test_config_expect_ok(yaml);
    const struct pc_authz *a = authz_of(cfg);
    const struct pc_authz_remote *o = a->remote;
    char ca[160];
    bool is_watched = false;

    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    assert_int_equal(a->source, PC_AUTHZ_OPA);
    assert_true(a->fail_open);
    assert_false(a->is_shadow);
    assert_int_equal(a->deny_status, PC_CONFIG_DEFAULT_AUTHZ_DENY_STATUS);
    assert_string_equal(o->url, "https://opa.example.com/v1/data/portcullis/authz");
    assert_false(o->append_path);
    assert_int_equal(o->timeout_ms, 150);
    assert_int_equal(o->n_headers, 2);
    assert_string_equal(o->headers[0], "x-tenant");
    assert_string_equal(o->headers[1], "authorization");
    assert_int_equal(o->n_response_headers, 0);
    assert_int_equal(o->ca.origin, PC_PEM_FILE);
    assert_string_equal(o->ca.path, ca);
    assert_int_equal(o->cache_ttl_ms, 5000);
    assert_int_equal(o->n_cache_key, 4);
    assert_string_equal(o->cache_key[0], "attributes.request.http.method");
    assert_string_equal(o->cache_key[3], "attributes.request.http.headers.x-tenant");
    /* The CA file is watched with the TLS material. */
    for (size_t i = 0; i < cfg->n_material_files; i++) {
        is_watched = is_watched || strcmp(cfg->material_files[i], ca) == 0;
    }
    assert_true(is_watched);
    assert_null(a->rego);
    assert_int_equal(a->n_allow_rules, 0);
    pc_config_unref(cfg);
    free(yaml);
}

static void
test_http_policy_compiles(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok(POLICY "  http:\n"
                                     "    url: https://authz.example.com:8443/check/\n"
                                     "    appendPath: true\n"
                                     "    forwardHeaders: [Authorization, x-user]\n"
                                     "    upstreamHeaders: [X-Auth-User]\n"
                                     "    caBundle: {pem: " CERT_QUOTED "}\n" BASE);
    const struct pc_authz *a = authz_of(cfg);
    const struct pc_authz_remote *h = a->remote;

    assert_int_equal(a->source, PC_AUTHZ_HTTP);
    assert_false(a->fail_open);
    /* The request's path starts with '/', so the URL's trailing one goes. */
    assert_string_equal(h->url, "https://authz.example.com:8443/check");
    assert_true(h->append_path);
    assert_int_equal(h->timeout_ms, PC_CONFIG_DEFAULT_AUTHZ_TIMEOUT_MS);
    assert_int_equal(h->n_headers, 2);
    assert_string_equal(h->headers[0], "authorization");
    assert_int_equal(h->n_response_headers, 1);
    assert_string_equal(h->response_headers[0], "x-auth-user");
    assert_int_equal(h->ca.origin, PC_PEM_INLINE);
    assert_string_equal(h->ca.data, CERT_PEM);
    assert_int_equal(h->ca.len, strlen(CERT_PEM));
    assert_int_equal(h->cache_ttl_ms, 0);
    assert_int_equal(h->n_cache_key, 0);
    pc_config_unref(cfg);

    /* Without a caBundle, the system's roots: no path, no data. */
    cfg = test_config_expect_ok(POLICY "  http: {url: \"http://127.0.0.1:9000/\"}\n" BASE);
    h = authz_of(cfg)->remote;
    assert_string_equal(h->url, "http://127.0.0.1:9000/");
    assert_false(h->append_path);
    assert_null(h->ca.path);
    assert_null(h->ca.data);
    pc_config_unref(cfg);
}

static void
test_rego_policy_compiles_and_decides(void **state)
{
    char *yaml = format_text(POLICY "  rego:\n"
                                    "    files: [%s/authz.rego, %s/data.rego]\n"
                                    "    query: data.portcullis.authz.decision\n" BASE,
                             dir, dir);
    struct pc_config *cfg = test_config_expect_ok(yaml);
    const struct pc_authz *a = authz_of(cfg);
    const struct pc_authz_rego *r = a->rego;
    struct pc_rego_ctx *ctx = pc_rego_ctx_create(0);
    const struct pc_rego_value *input;
    const struct pc_rego_value *out = NULL;
    struct pc_rego_error err;
    static const char get[] = "{\"attributes\": {\"request\": {\"http\": {\"method\": \"GET\"}}}}";
    char module[160];
    bool is_watched = false;

    assert_int_equal(a->source, PC_AUTHZ_REGO);
    assert_int_equal(r->n_files, 2);
    snprintf(module, sizeof(module), "%s/data.rego", dir);
    assert_string_equal(r->files[1], module);
    assert_string_equal(r->query, "data.portcullis.authz.decision");
    assert_int_equal(r->step_limit, PC_CONFIG_DEFAULT_REGO_STEP_LIMIT);
    assert_non_null(r->policy);
    assert_non_null(r->compiled_query);

    /* The modules join the files the configuration watcher follows. */
    snprintf(module, sizeof(module), "%s/authz.rego", dir);
    for (size_t i = 0; i < cfg->n_files; i++) {
        is_watched = is_watched || strcmp(cfg->files[i], module) == 0;
    }
    assert_true(is_watched);
    assert_int_equal(cfg->n_files, 3);

    /* The compiled query is usable as it stands. */
    assert_non_null(ctx);
    input = pc_rego_json_parse(pc_rego_ctx_arena(ctx), get, strlen(get), &err);
    assert_non_null(input);
    assert_int_equal(pc_rego_eval_value(ctx, r->compiled_query, input, &out, &err), 0);
    assert_non_null(out);
    assert_int_equal(out->kind, PC_REGO_BOOLEAN);
    assert_true(out->u.b);
    pc_rego_ctx_free(ctx);
    pc_config_unref(cfg);
    free(yaml);
}

static void
test_rego_step_limit(void **state)
{
    char *yaml = format_text(POLICY "  rego:\n"
                                    "    files: [%s/authz.rego]\n"
                                    "    query: data.portcullis.authz.decision\n"
                                    "    stepLimit: 5000\n" BASE,
                             dir);
    struct pc_config *cfg = test_config_expect_ok(yaml);

    assert_int_equal(authz_of(cfg)->rego->step_limit, 5000);
    pc_config_unref(cfg);
    free(yaml);
    test_config_expect_error(
        POLICY "  rego: {files: [a.rego], query: data.x, stepLimit: 10}\n" BASE,
        "t.yaml:6:53: error: spec.rego.stepLimit: must be between 100 and 1000000000, "
        "got 10");
}

static void
test_route_policy_wins_over_listener_and_gateway(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: whole}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}]\n"
        "  rules: [{name: gw-rule}]\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: tls-listener}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw, sectionName: https}]\n"
        "  rules: []\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: admin-route}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: admin}]\n"
        "  http: {url: \"http://127.0.0.1:9000/check\"}\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: admin}\n"
        "spec:\n"
        "  parentRefs: [{name: gw}]\n"
        "  rules: [{matches: [{path: {value: /admin}}], backendRefs: [{name: svc, port: "
        "80}]}]\n" BASE);
    const struct pc_authz *site_http = find_rule(cfg, 0, "/")->authz;
    const struct pc_authz *site_https = find_rule(cfg, 1, "/")->authz;
    const struct pc_authz *admin_http = find_rule(cfg, 0, "/admin")->authz;
    const struct pc_authz *admin_https = find_rule(cfg, 1, "/admin")->authz;

    assert_string_equal(site_http->policy, "default/whole");
    assert_int_equal(site_http->n_allow_rules, 1);
    assert_string_equal(site_https->policy, "default/tls-listener");
    /* The winner applies whole: the Gateway's rule does not leak into it. */
    assert_int_equal(site_https->n_allow_rules, 0);
    assert_string_equal(admin_http->policy, "default/admin-route");
    assert_ptr_equal(admin_http, admin_https);
    assert_int_equal(cfg->n_authzs, 3);
    for (size_t i = 0; i < cfg->n_authzs; i++) {
        assert_int_equal(cfg->authzs[i]->id, i);
    }
    pc_config_unref(cfg);
}

static void
test_no_policy_no_authz(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(BASE);

    assert_null(find_rule(cfg, 0, "/")->authz);
    assert_null(find_rule(cfg, 1, "/")->authz);
    assert_int_equal(cfg->n_authzs, 0);
    assert_non_null(cfg->authzs);
    pc_config_unref(cfg);
}

static void
test_cidr_values(void **state)
{
    static const struct {
        const char *text;
        const char *problem;
        const char *block;
    } cases[] = {
        { "0.0.0.0/0", NULL, "0.0.0.0/0" },
        { "10.1.0.0/16", NULL, "10.1.0.0/16" },
        { "10.1.128.0/17", NULL, "10.1.128.0/17" },
        { "10.1.129.0/17", "it has host bits set", "10.1.128.0/17" },
        { "192.0.2.1", NULL, "192.0.2.1/32" },
        { "::/0", NULL, "::/0" },
        { "fe80::/10", NULL, "fe80::/10" },
        { "fe80::1/64", "it has host bits set", "fe80::/64" },
        { "::ffff:10.0.0.1", NULL, "::ffff:10.0.0.1/128" },
        { "10.0.0.0/", "its prefix length is not a number from 0 to 32", NULL },
        { "10.0.0.0/1a", "its prefix length is not a number from 0 to 32", NULL },
        { "::/129", "its prefix length is not a number from 0 to 128", NULL },
        { "/8", "it is not an IP address with an optional /prefix length", NULL },
        { "10.0.0/8", "it is not an IP address with an optional /prefix length", NULL },
        { "[::1]/128", "it is not an IP address with an optional /prefix length", NULL },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pc_value_cidr cidr;
        const char *problem = pc_value_cidr_problem(cases[i].text, strlen(cases[i].text), &cidr);
        char block[64];

        if (cases[i].problem == NULL) {
            assert_null(problem);
        } else {
            assert_non_null(problem);
            assert_string_equal(problem, cases[i].problem);
        }
        if (cases[i].block != NULL) {
            pc_value_format_cidr(&cidr, block, sizeof(block));
            assert_string_equal(block, cases[i].block);
        }
    }
    /* A NUL inside the text is not an address. */
    struct pc_value_cidr cidr;

    assert_non_null(pc_value_cidr_problem("10.0.0.1\0/8", 11, &cidr));
}

/* ---- the examples ---- */

static int
run_validate(const char *path)
{
    char *argv[] = { "validate", "-c", (char *)path, NULL };

    return pc_cli_validate(3, argv);
}

static void
test_examples_validate(void **state)
{
    struct pc_config *cfg;
    const struct pc_authz *a;

    assert_int_equal(run_validate("examples/authz/rules.yaml"), 0);
    assert_int_equal(run_validate("examples/authz/rego.yaml"), 0);

    cfg = pc_config_load("examples/authz/rules.yaml", &test_config_diag);
    assert_non_null(cfg);
    a = cfg->rules[0]->authz;
    assert_string_equal(a->policy, "default/orders");
    assert_int_equal(a->n_deny_rules, 1);
    assert_int_equal(a->n_allow_rules, 3);
    assert_string_equal(a->deny_rules[0].name, "no-remote-deletes");
    assert_string_equal(a->allow_rules[1].param_claims[0].claim, "sub");
    assert_non_null(cfg->rules[0]->authn);
    pc_config_unref(cfg);

    cfg = pc_config_load("examples/authz/rego.yaml", &test_config_diag);
    assert_non_null(cfg);
    a = cfg->rules[0]->authz;
    assert_int_equal(a->source, PC_AUTHZ_REGO);
    assert_string_equal(a->rego->files[0], "policies/orders.rego");
    assert_int_equal(cfg->n_files, 2);
    assert_non_null(strstr(cfg->files[1], "/examples/authz/policies/orders.rego"));
    pc_config_unref(cfg);
}

/* ---- memory ---- */

static void
test_authz_load_survives_allocation_failures(void **state)
{
    char *yaml = format_text(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r2}\n"
        "spec:\n"
        "  parentRefs: [{name: gw}]\n"
        "  rules: [{matches: [{path: {value: /r2}}], backendRefs: [{name: svc, port: 80}]}]\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: az}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: r2}]\n"
        "  rules:\n"
        "  - request:\n"
        "      methods: [GET]\n"
        "      paths: [{type: Template, value: \"/u/{id}/{rest...}\"}, {type: PathPrefix, value: "
        "/u/}]\n"
        "      headers: [{name: x-a, type: RegularExpression, value: \"a+b\"}]\n"
        "      sourceCIDRs: [10.0.0.0/8]\n"
        "    principal:\n"
        "      subjects: [alice, {type: RegularExpression, value: \"svc-[0-9]+\"}]\n"
        "      claims: {anyOf: [{path: t, value: x}]}\n"
        "    peer: {spiffeIDs: [\"spiffe://example.org/ns/*\"], dnsNames: [a.example.org]}\n"
        "  - {name: deny, action: Deny, request: {notSourceCIDRs: [\"::1\"]}}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: check}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw, sectionName: https}]\n"
        "  opa:\n"
        "    url: https://opa.example.com/v1/data/a\n"
        "    includeHeaders: [x-a]\n"
        "    caBundle: {file: %s/ca.pem}\n"
        "    cache: {ttl: 1s, key: [principal.sub]}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: AuthorizationPolicy\n"
        "metadata: {name: whole}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}]\n"
        "  rego: {files: [%s/authz.rego], query: data.portcullis.authz.decision}\n"
        "---\n" PROXY "  decisionLog: {path: d.log, signingKey: {file: %s/ed25519.pem}}\n" BASE,
        dir, dir, dir);
    size_t before = pc_alloc_bytes();
    int successes_in_a_row = 0;

    /* Every load either fails with an error or yields the whole snapshot, and never leaks. */
    for (long n = 0; successes_in_a_row < 50 && n < 40000; n++) {
        struct pc_diag d;
        struct pc_config *cfg;

        pc_diag_init(&d);
        pc_alloc_fail_after(n);
        cfg = pc_config_load_buffer("t.yaml", yaml, strlen(yaml), &d);
        pc_alloc_fail_reset();
        if (cfg != NULL) {
            const struct pc_authz *a = find_rule(cfg, 0, "/r2")->authz;

            assert_string_equal(find_rule(cfg, 0, "/")->authz->policy, "default/whole");
            assert_non_null(find_rule(cfg, 0, "/")->authz->rego->compiled_query);
            assert_string_equal(find_rule(cfg, 1, "/")->authz->policy, "default/check");
            assert_int_equal(find_rule(cfg, 1, "/")->authz->remote->n_cache_key, 1);
            assert_int_equal(a->n_allow_rules, 1);
            assert_int_equal(a->allow_rules[0].paths[1].value_len, 2);
            assert_non_null(a->allow_rules[0].headers[0].match.regex);
            assert_non_null(a->allow_rules[0].subjects[1].regex);
            assert_int_equal(cfg->n_authzs, 3);
            assert_non_null(cfg->proxy.decision_log.signing_key_file);
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
    free(yaml);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, test_config_setup, test_config_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_unknown_fields_suggest),
        T(test_fields_of_the_other_decision_point_point_to_their_place),
        T(test_exactly_one_decision_source),
        T(test_empty_rules_deny_everything),
        T(test_policy_settings_are_checked),
        T(test_rule_names_are_unique),
        T(test_methods_are_upper_case_tokens),
        T(test_exact_and_prefix_paths),
        T(test_template_syntax),
        T(test_header_tests),
        T(test_cidrs),
        T(test_anonymous_excludes_other_principal_conditions),
        T(test_principal_values),
        T(test_path_params_need_every_path_to_capture),
        T(test_peer_conditions),
        T(test_opa_url),
        T(test_ca_bundles),
        T(test_cache_keys),
        T(test_http_check_headers),
        T(test_rego_module_errors_are_located),
        T(test_rego_files_and_query),
        T(test_targets_resolve),
        T(test_two_policies_on_one_target),
        T(test_decision_log_errors),
        T(test_decision_log_compiles),
        T(test_decision_key_relative_to_its_file),
        T(test_rules_policy_compiles_field_by_field),
        T(test_conditions_imply_their_requirements),
        T(test_opa_policy_compiles),
        T(test_http_policy_compiles),
        T(test_rego_policy_compiles_and_decides),
        T(test_rego_step_limit),
        T(test_route_policy_wins_over_listener_and_gateway),
        T(test_no_policy_no_authz),
        T(test_cidr_values),
        T(test_examples_validate),
        T(test_authz_load_survives_allocation_failures),
    };

    return cmocka_run_group_tests(tests, setup_files, teardown_files);
}
