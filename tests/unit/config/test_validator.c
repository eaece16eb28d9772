/*
 * Unit tests for the configuration loader, validator and compiler.
 *
 * Each error test loads a small YAML snippet (the resource under test first, so line numbers
 * are the snippet's own, then a valid Gateway and ServiceEndpoints) and asserts one complete
 * diagnostic line: file, line, column, key path, problem and hint. The compile tests load valid
 * configurations and check the snapshot fields the proxy reads, down to routing a request
 * through the compiled table.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

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
#include "config/schema.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "helpers/config_check.h"
#include "route/route.h"

/* A Gateway "gw" (listener "http", port 8080) and ServiceEndpoints "svc" (port 80). */
#define BASE                                                                                       \
    "---\n"                                                                                        \
    "apiVersion: gateway.networking.k8s.io/v1\n"                                                   \
    "kind: Gateway\n"                                                                              \
    "metadata:\n"                                                                                  \
    "  name: gw\n"                                                                                 \
    "spec:\n"                                                                                      \
    "  gatewayClassName: pc\n"                                                                     \
    "  listeners:\n"                                                                               \
    "  - name: http\n"                                                                             \
    "    port: 8080\n"                                                                             \
    "    protocol: HTTP\n"                                                                         \
    "---\n"                                                                                        \
    "apiVersion: portcullis.dev/v1alpha1\n"                                                        \
    "kind: ServiceEndpoints\n"                                                                     \
    "metadata:\n"                                                                                  \
    "  name: svc\n"                                                                                \
    "spec:\n"                                                                                      \
    "  ports:\n"                                                                                   \
    "  - port: 80\n"                                                                               \
    "    endpoints: [\"127.0.0.1:9000\", \"[::1]:9001\"]\n"

#define ROUTE_HEAD                                                                                 \
    "apiVersion: gateway.networking.k8s.io/v1\n"                                                   \
    "kind: HTTPRoute\n"                                                                            \
    "metadata:\n"                                                                                  \
    "  name: r\n"                                                                                  \
    "spec:\n"                                                                                      \
    "  parentRefs: [{name: gw}]\n"

/* ---- schema errors ---- */

static void
test_unknown_field_suggests_nearest(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - matches:\n"
                   "    - path:\n"
                   "        tpye: Exact\n"
                   "        value: /a\n" BASE,
        "t.yaml:10:9: error: spec.rules[0].matches[0].path.tpye: unknown field; did you "
        "mean \"type\"?");
}

static void
test_unknown_field_lists_known_fields(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - matches:\n"
                   "    - path:\n"
                   "        zzzzzz: 1\n" BASE,
        "t.yaml:10:9: error: spec.rules[0].matches[0].path.zzzzzz: unknown field; known "
        "fields: type, value");
}

static void
test_wrong_type_integer_quoted(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - name: x\n"
        "    port: \"8081\"\n"
        "    protocol: HTTP\n" BASE,
        "t.yaml:8:11: error: spec.listeners[0].port: expected an integer, got a string; "
        "write the number without quotes");
}

static void
test_wrong_type_string_given_number(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - matches:\n"
                   "    - headers:\n"
                   "      - name: x-version\n"
                   "        value: 2\n" BASE,
        "t.yaml:11:16: error: spec.rules[0].matches[0].headers[0].value: expected a "
        "string, got an integer; quote it: \"2\"");
}

static void
test_missing_required_field(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - name: x\n"
        "    protocol: HTTP\n" BASE,
        "t.yaml:7:5: error: spec.listeners[0].port: required field is missing");
}

static void
test_value_out_of_range(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - {name: x, port: 70000, protocol: HTTP}\n" BASE,
        "t.yaml:7:21: error: spec.listeners[0].port: must be between 1 and 65535, got "
        "70000");
}

static void
test_bad_enum_suggests_value(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - matches:\n"
                   "    - path: {type: Exakt, value: /a}\n" BASE,
        "t.yaml:9:20: error: spec.rules[0].matches[0].path.type: unknown value \"Exakt\"; "
        "did you mean \"Exact\"? allowed: Exact, PathPrefix, RegularExpression");
}

static void
test_invalid_duration(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - timeouts:\n"
                   "      request: 1.5s\n" BASE,
        "t.yaml:9:16: error: spec.rules[0].timeouts.request: invalid duration \"1.5s\"; "
        "use a Gateway API duration such as \"10s\", \"500ms\" or \"1h30m\"");
}

static void
test_invalid_quantity(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: p}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}]\n"
        "  limits:\n"
        "    maxBodyBytes: 10MB\n" BASE,
        "t.yaml:7:19: error: spec.limits.maxBodyBytes: invalid quantity \"10MB\"; write a "
        "whole number of bytes such as 65536, \"64Ki\", \"10Mi\" or \"1G\"");
}

static void
test_yaml_syntax_error_has_libyaml_location(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: Namespace\n"
        "metadata:\n"
        "  name: [a, b\n",
        "t.yaml:5:1: error: YAML syntax error: did not find expected ',' or ']' while "
        "parsing a flow sequence (line 4)");
}

static void
test_duplicate_key(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: Namespace\n"
        "metadata:\n"
        "  name: a\n"
        "  name: b\n" BASE,
        "t.yaml:5:3: error: metadata.name: duplicate key; it is also set at line 4; "
        "remove one of them");
}

/* The repeated mapping is decoded twice; the second must replace the first, not add to it. */
static void
test_duplicate_map_key_decodes_once(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: c}\n"
        "data: {a: b, c: d, e: f}\n"
        "data: {g: h}\n" BASE,
        "t.yaml:5:1: error: data: duplicate key; it is also set at line 4; remove one of "
        "them");
    assert_int_equal(test_config_diag.n_errors, 1);
}

static void
test_anchors_and_aliases_refused(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\n"
        "kind: Namespace\n"
        "metadata:\n"
        "  labels: &l {a: b}\n"
        "  annotations: *l\n",
        "t.yaml:4:11: error: YAML anchors and aliases are not supported; write the value "
        "out in full");
}

static void
test_unknown_kind_suggests(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoutes\n"
        "metadata: {name: x}\n" BASE,
        "t.yaml:2:7: error: kind: unknown kind \"HTTPRoutes\"; did you mean \"HTTPRoute\"?");
}

static void
test_unknown_kind_lists_kinds(void **state)
{
    test_config_expect_error(
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata: {name: x}\n" BASE,
        "t.yaml:2:7: error: kind: unknown kind \"Deployment\"; known kinds: Gateway, "
        "HTTPRoute, ReferenceGrant, BackendTLSPolicy (gateway.networking.k8s.io); "
        "Namespace, Secret, ConfigMap (v1); ServiceEndpoints, ClientTrafficPolicy, "
        "BackendTrafficPolicy, ProxyConfig, CertificateFiles, WorkloadIdentity, "
        "TrustBundle, AuthenticationPolicy, AuthorizationPolicy (portcullis.dev)");
}

static void
test_known_kind_wrong_api_version(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1beta1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: x}\n" BASE,
        "t.yaml:2:7: error: kind: kind HTTPRoute is not served by apiVersion "
        "gateway.networking.k8s.io/v1beta1; use apiVersion: gateway.networking.k8s.io/v1");
}

static void
test_duplicate_resource(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ServiceEndpoints\n"
        "metadata: {name: svc, namespace: default}\n"
        "spec:\n"
        "  ports: [{port: 80, endpoints: [\"127.0.0.1:1\"]}]\n" BASE,
        "t.yaml:21:9: error: metadata.name: ServiceEndpoints default/svc is defined twice; "
        "the first is at t.yaml:1; rename one of them or remove the copy");
}

static void
test_regex_error_reports_offset(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - matches:\n"
                   "    - path: {type: RegularExpression, value: \"/a(b\"}\n" BASE,
        "t.yaml:9:46: error: spec.rules[0].matches[0].path.value: invalid regular "
        "expression for the path: missing closing parenthesis at offset 4; patterns are "
        "PCRE2 in UTF-8 mode, kept close to RE2, and must match the whole value");
}

static void
test_regex_header_error(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - matches:\n"
                   "    - headers: [{type: RegularExpression, name: x, value: \"[z-a]\"}]\n" BASE,
        "t.yaml:9:59: error: spec.rules[0].matches[0].headers[0].value: invalid regular "
        "expression for a header: range out of order in character class at offset 3; "
        "patterns are PCRE2 in UTF-8 mode, kept close to RE2, and must match the whole "
        "value");
}

/* ---- dangling references ---- */

static void
test_parent_ref_to_missing_gateway(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r}\n"
        "spec:\n"
        "  parentRefs: [{name: gx}]\n" BASE,
        "t.yaml:5:23: error: spec.parentRefs[0].name: Gateway default/gx not found; did "
        "you mean \"gw\"?");
}

static void
test_parent_ref_to_missing_section(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r}\n"
        "spec:\n"
        "  parentRefs: [{name: gw, sectionName: https}]\n" BASE,
        "t.yaml:5:40: error: spec.parentRefs[0].sectionName: Gateway default/gw has no "
        "listener \"https\"; listeners of the Gateway: http");
}

static void
test_backend_ref_to_missing_service(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - backendRefs: [{name: svx, port: 80}]\n" BASE,
        "t.yaml:8:26: error: spec.rules[0].backendRefs[0].name: Service default/svx has "
        "no ServiceEndpoints; did you mean \"svc\"?");
}

static void
test_backend_ref_to_missing_port(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - backendRefs: [{name: svc, port: 8080}]\n" BASE,
        "t.yaml:8:37: error: spec.rules[0].backendRefs[0].port: ServiceEndpoints "
        "default/svc has no port 8080; ports of default/svc: 80");
}

static void
test_backend_ref_without_port(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - backendRefs: [{name: svc}]\n" BASE,
        "t.yaml:8:19: error: spec.rules[0].backendRefs[0].port: port is required for a "
        "Service backend; name the Service port to use");
}

static void
test_cross_namespace_backend_needs_grant(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r}\n"
        "spec:\n"
        "  parentRefs: [{name: gw}]\n"
        "  rules:\n"
        "  - backendRefs: [{name: far, namespace: ops, port: 80}]\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ServiceEndpoints\n"
        "metadata: {name: far, namespace: ops}\n"
        "spec:\n"
        "  ports: [{port: 80, endpoints: [\"10.0.0.1:80\"]}]\n" BASE,
        "t.yaml:7:42: error: spec.rules[0].backendRefs[0].namespace: backendRef to "
        "namespace \"ops\" is not allowed by any ReferenceGrant; add a ReferenceGrant in "
        "namespace \"ops\" that allows HTTPRoutes from namespace \"default\" to reach "
        "Service \"far\"");
}

static void
test_policy_target_missing(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: BackendTrafficPolicy\n"
        "metadata: {name: p}\n"
        "spec:\n"
        "  targetRefs: [{kind: HTTPRoute, name: nope}]\n"
        "  timeouts: {connect: 1s}\n" BASE,
        "t.yaml:5:40: error: spec.targetRefs[0].name: HTTPRoute default/nope not found; "
        "policies target resources in their own namespace");
}

/* ---- listeners ---- */

static void
test_tls_passthrough_listener_refused(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - name: tls\n"
        "    port: 8443\n"
        "    protocol: TLS\n"
        "    tls: {mode: Passthrough}\n" BASE,
        "t.yaml:9:15: error: spec.listeners[0].protocol: protocol TLS is not "
        "supported; TLS passthrough is not supported; use protocol HTTPS to terminate "
        "TLS at the gateway");
}

static void
test_listener_name_repeated(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - {name: a, port: 81, protocol: HTTP}\n"
        "  - {name: a, port: 82, protocol: HTTP}\n" BASE,
        "t.yaml:8:12: error: spec.listeners[1].name: listener name \"a\" is already used "
        "at line 7; give every listener of a Gateway its own name");
}

static void
test_listeners_conflict_on_address_port_hostname(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - {name: other, port: 8080, protocol: HTTP}\n" BASE,
        "t.yaml:16:5: error: spec.listeners[0]: listener \"http\" conflicts with listener "
        "\"other\" of Gateway default/g2 (t.yaml:7): both bind 0.0.0.0:8080 for any "
        "hostname; give one of them another port or hostname");
}

static void
test_listeners_share_port_with_distinct_hostnames(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok("apiVersion: gateway.networking.k8s.io/v1\n"
                              "kind: Gateway\n"
                              "metadata: {name: g2}\n"
                              "spec:\n"
                              "  gatewayClassName: pc\n"
                              "  listeners:\n"
                              "  - {name: a, port: 8080, protocol: HTTP, hostname: "
                              "a.example.com}\n"
                              "  - {name: b, port: 9090, protocol: http}\n" BASE);

    assert_int_equal(cfg->n_ports, 2);
    assert_string_equal(cfg->ports[0].name, "0.0.0.0:8080");
    assert_int_equal(cfg->ports[0].n_listeners, 2);
    assert_string_equal(cfg->ports[0].listeners[0].name, "a");
    assert_string_equal(cfg->ports[0].listeners[0].hostname, "a.example.com");
    assert_null(cfg->ports[0].listeners[1].hostname);
    assert_string_equal(cfg->ports[1].name, "0.0.0.0:9090");
    pc_config_unref(cfg);
}

static void
test_listener_port_is_admin_port(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - {name: a, port: 9901, protocol: HTTP}\n" BASE,
        "t.yaml:7:21: error: spec.listeners[0].port: port 9901 is also the admin "
        "listener's port; move the listener, or the admin port with a ProxyConfig "
        "(spec.admin.port)");
}

/* ---- attachment ---- */

static void
test_route_attached_to_no_listener_by_hostname(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r}\n"
        "spec:\n"
        "  parentRefs: [{name: g2}]\n"
        "  hostnames: [b.example.com]\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  listeners:\n"
        "  - {name: a, port: 81, protocol: HTTP, hostname: \"*.a.example.com\"}\n" BASE,
        "t.yaml:5:16: error: spec.parentRefs[0]: the route attaches to no listener of "
        "Gateway default/g2: listener \"a\" hostname \"*.a.example.com\" matches none of "
        "the route's hostnames; fix the route's hostnames or namespace, or the "
        "listener's allowedRoutes");
}

static void
test_route_attached_to_no_listener_by_namespace(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r, namespace: team}\n"
        "spec:\n"
        "  parentRefs: [{name: gw, namespace: default}]\n" BASE,
        "t.yaml:5:16: error: spec.parentRefs[0]: the route attaches to no listener of "
        "Gateway default/gw: listener \"http\" admits routes only from its own namespace "
        "\"default\" (allowedRoutes.namespaces.from: Same); fix the route's hostnames or "
        "namespace, or the listener's allowedRoutes");
}

static void
test_route_without_parent_refs(void **state)
{
    test_config_expect_error(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r}\n"
        "spec:\n"
        "  hostnames: [a.example.com]\n" BASE,
        "t.yaml:5:3: error: spec: the route has no parentRefs, so it would never receive "
        "traffic; add a parentRef naming the Gateway (and listener) to serve it on");
}

/* ---- HTTPRoute rules ---- */

static void
test_unsupported_filter_type(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - filters:\n"
                   "    - type: RequestMirror\n"
                   "      requestMirror: {backendRef: {name: svc, port: 80}}\n" BASE,
        "t.yaml:9:13: error: spec.rules[0].filters[0].type: RequestMirror filters are "
        "not supported; supported filters: RequestHeaderModifier, "
        "ResponseHeaderModifier, RequestRedirect, URLRewrite");
}

static void
test_redirect_and_rewrite_together(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - filters:\n"
                   "    - {type: RequestRedirect, requestRedirect: {scheme: https}}\n"
                   "    - {type: URLRewrite, urlRewrite: {hostname: a.example.com}}\n" BASE,
        "t.yaml:10:7: error: spec.rules[0].filters[1]: RequestRedirect and URLRewrite "
        "filters cannot be used in the same rule; use one or the other");
}

static void
test_redirect_with_backend_refs(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - filters:\n"
                   "    - {type: RequestRedirect, requestRedirect: {scheme: https}}\n"
                   "    backendRefs: [{name: svc, port: 80}]\n" BASE,
        "t.yaml:10:18: error: spec.rules[0].backendRefs: a rule with a RequestRedirect "
        "filter must not have backendRefs; remove the backendRefs or the redirect");
}

static void
test_replace_prefix_needs_path_prefix_match(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - matches: [{path: {type: Exact, value: /a}}]\n"
                   "    filters:\n"
                   "    - type: URLRewrite\n"
                   "      urlRewrite:\n"
                   "        path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}\n"
                   "    backendRefs: [{name: svc, port: 80}]\n" BASE,
        "t.yaml:12:15: error: spec.rules[0].filters[0].urlRewrite.path: "
        "ReplacePrefixMatch is only allowed with a single PathPrefix match; give the "
        "rule exactly one match, of type PathPrefix");
}

static void
test_filter_repeated(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - filters:\n"
                   "    - {type: RequestHeaderModifier, requestHeaderModifier: {remove: "
                   "[a]}}\n"
                   "    - {type: RequestHeaderModifier, requestHeaderModifier: {remove: "
                   "[b]}}\n" BASE,
        "t.yaml:10:7: error: spec.rules[0].filters[1]: RequestHeaderModifier filter "
        "cannot be repeated; merge them into one filter");
}

static void
test_filter_member_must_match_type(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - filters:\n"
                   "    - {type: RequestHeaderModifier, urlRewrite: {hostname: a.b}}\n" BASE,
        "t.yaml:9:7: error: spec.rules[0].filters[0]: requestHeaderModifier is required "
        "when type is RequestHeaderModifier");
    assert_true(test_config_has_error(
        "t.yaml:9:7: error: spec.rules[0].filters[0]: urlRewrite must not be "
        "set when type is RequestHeaderModifier; remove it, or change the type"));
}

static void
test_header_modifier_refuses_framing_headers(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - filters:\n"
                   "    - type: RequestHeaderModifier\n"
                   "      requestHeaderModifier:\n"
                   "        set: [{name: Transfer-Encoding, value: chunked}]\n" BASE,
        "t.yaml:11:22: error: spec.rules[0].filters[0].requestHeaderModifier.set[0].name: "
        "header \"Transfer-Encoding\" cannot be modified; the proxy manages this header "
        "itself");
}

static void
test_header_modifier_one_action_per_name(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - filters:\n"
                   "    - type: ResponseHeaderModifier\n"
                   "      responseHeaderModifier:\n"
                   "        set: [{name: X-A, value: \"1\"}]\n"
                   "        remove: [x-a]\n" BASE,
        "t.yaml:12:18: error: spec.rules[0].filters[0].responseHeaderModifier.remove[0]: "
        "header \"x-a\" already has an action in this filter; use one action per header "
        "name");
}

static void
test_header_value_refuses_control_characters(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - filters:\n"
                   "    - type: RequestHeaderModifier\n"
                   "      requestHeaderModifier:\n"
                   "        add: [{name: X-A, value: \"a\\r\\nb: c\"}]\n" BASE,
        "t.yaml:11:34: error: spec.rules[0].filters[0].requestHeaderModifier.add[0]."
        "value: not a valid header value; use printable ASCII, with single spaces or "
        "tabs between words and none at the ends");
}

static void
test_duplicate_header_match(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - matches:\n"
                   "    - headers: [{name: X-A, value: \"1\"}, {name: x-a, value: \"2\"}]\n" BASE,
        "t.yaml:9:49: error: spec.rules[0].matches[0].headers[1].name: header \"x-a\" is "
        "matched twice; only the first would count; merge the two conditions into one");
}

static void
test_path_value_rules(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - matches: [{path: {type: PathPrefix, value: \"/a//b\"}}]\n" BASE,
        "t.yaml:8:48: error: spec.rules[0].matches[0].path.value: path \"/a//b\" must not "
        "contain \"//\", \"/./\", \"/../\", \"%2F\" or \"#\"; write the path as it appears "
        "after normalisation, e.g. \"/api/v1\"");
}

static void
test_backend_request_longer_than_request(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - timeouts: {request: 5s, backendRequest: 1m}\n" BASE,
        "t.yaml:8:45: error: spec.rules[0].timeouts.backendRequest: backendRequest "
        "timeout 1m is longer than the request timeout 5s; lower backendRequest or raise "
        "request");
}

static void
test_redirect_status_code(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules:\n"
                   "  - filters:\n"
                   "    - {type: RequestRedirect, requestRedirect: {statusCode: 307}}\n" BASE,
        "t.yaml:9:61: error: spec.rules[0].filters[0].requestRedirect.statusCode: status "
        "code 307 is not supported yet; use 301 or 302");
}

static void
test_hostname_syntax(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  hostnames: [Example.COM]\n" BASE,
        "t.yaml:7:15: error: spec.hostnames[0]: \"Example.COM\" is not a valid hostname; "
        "use lower-case DNS labels, optionally after a leading \"*.\"; IP addresses are "
        "not hostnames");
}

static void
test_endpoint_must_be_ip(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ServiceEndpoints\n"
        "metadata: {name: other}\n"
        "spec:\n"
        "  ports:\n"
        "  - port: 80\n"
        "    endpoints: [\"backend.local:80\"]\n" BASE,
        "t.yaml:7:17: error: spec.ports[0].endpoints[0]: endpoint \"backend.local:80\" is "
        "not an IP address and port; use an IP address; host names are not resolved");
}

/* ---- policies ---- */

static void
test_conflicting_policies_name_both(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: a}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}]\n"
        "  limits: {maxBodyBytes: 1Mi}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: b}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}]\n"
        "  limits: {maxBodyBytes: 2Mi}\n" BASE,
        "t.yaml:13:26: error: spec.limits.maxBodyBytes: ClientTrafficPolicy default/a and "
        "ClientTrafficPolicy default/b both set spec.limits.maxBodyBytes for Gateway "
        "default/gw; set it in one policy only");
}

static void
test_route_limit_above_listener(void **state)
{
    test_config_expect_error(
        ROUTE_HEAD "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"
                   "---\n"
                   "apiVersion: portcullis.dev/v1alpha1\n"
                   "kind: ClientTrafficPolicy\n"
                   "metadata: {name: p}\n"
                   "spec:\n"
                   "  targetRefs: [{kind: HTTPRoute, name: r}]\n"
                   "  limits: {maxBodyBytes: 20Mi}\n" BASE,
        "t.yaml:14:26: error: spec.limits.maxBodyBytes: spec.limits.maxBodyBytes "
        "20971520 is above the 10485760 of Gateway default/gw listener \"http\"; a route "
        "policy can only lower a limit; raise the listener's with a ClientTrafficPolicy "
        "on its Gateway");
}

static void
test_policy_field_at_wrong_level(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: p}\n"
        "spec:\n"
        "  targetRefs: [{kind: Gateway, name: gw}]\n"
        "  websocket: {enabled: true}\n" BASE,
        "t.yaml:6:24: error: spec.websocket.enabled: spec.websocket.enabled cannot apply "
        "to Gateway targets; attach this setting to an HTTPRoute");
}

static void
test_second_proxy_config(void **state)
{
    test_config_expect_error(
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ProxyConfig\n"
        "metadata: {name: a}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ProxyConfig\n"
        "metadata: {name: b}\n" BASE,
        "t.yaml:7:18: error: metadata.name: only one ProxyConfig is allowed; another is at "
        "t.yaml:1; merge the two into one");
}

/* ---- bounds and reporting ---- */

static void
test_nesting_too_deep(void **state)
{
    char yaml[512];
    size_t pos = (size_t)snprintf(yaml, sizeof(yaml), "a: ");

    for (int i = 0; i < 70; i++) {
        yaml[pos++] = '[';
    }
    yaml[pos] = '\0';
    test_config_expect_error(
        yaml, "t.yaml:1:67: error: YAML nesting is deeper than 64 levels; flatten the "
              "document");
}

static void
test_too_many_nodes(void **state)
{
    size_t n = PC_CONFIG_MAX_NODES + 10000;
    char *yaml = pc_malloc(n * 3 + 16);
    size_t pos = (size_t)snprintf(yaml, 16, "a: [");
    char want[160];

    for (size_t i = 0; i < n; i++) {
        memcpy(yaml + pos, "1, ", 3);
        pos += 3;
    }
    memcpy(yaml + pos, "1]\n", 4);
    /* The node past the limit is the scalar at column 3 * limit - 4 of the flow sequence. */
    snprintf(want, sizeof(want),
             "t.yaml:1:%u: error: more YAML nodes than the configuration may hold; split the "
             "configuration or simplify it",
             3 * PC_CONFIG_MAX_NODES - 4);
    test_config_expect_error(yaml, want);
    pc_free(yaml);
}

static void
test_file_too_large(void **state)
{
    size_t n = PC_CONFIG_MAX_FILE_BYTES + 1;
    char *yaml = pc_malloc(n);
    struct pc_config *cfg;

    memset(yaml, '#', n);
    cfg = pc_config_load_buffer("big.yaml", yaml, n, &test_config_diag);
    assert_null(cfg);
    assert_true(test_config_has_error("big.yaml:1:1: error: configuration is larger than 16 MiB"));
    pc_free(yaml);
}

static void
test_errors_are_capped_and_counted(void **state)
{
    char yaml[4096];
    size_t pos = (size_t)snprintf(yaml, sizeof(yaml),
                                  "apiVersion: v1\nkind: Namespace\n"
                                  "metadata:\n  name: n\n");

    for (int i = 0; i < 25; i++) {
        pos += (size_t)snprintf(yaml + pos, sizeof(yaml) - pos, "  bad%d: 1\n", i);
    }
    assert_null(test_config_load(yaml));
    assert_int_equal(test_config_diag.n_entries, PC_DIAG_MAX);
    assert_true(test_config_diag.n_errors >= 25);

    char out[8192] = { 0 };
    FILE *f = fmemopen(out, sizeof(out) - 1, "w");

    pc_diag_print(&test_config_diag, f);
    fclose(f);
    assert_non_null(strstr(out, "more errors\n"));
}

static void
test_every_error_in_one_run(void **state)
{
    assert_null(test_config_load("apiVersion: gateway.networking.k8s.io/v1\n"
                                 "kind: HTTPRoute\n"
                                 "metadata: {name: r}\n"
                                 "spec:\n"
                                 "  parentRefs: [{name: nope}]\n"
                                 "  hostnames: [BAD]\n"
                                 "  rules:\n"
                                 "  - backendRefs: [{name: svc, port: 1}]\n"
                                 "    timeouts: {request: forever}\n" BASE));
    assert_true(test_config_diag.n_errors >= 3);
    assert_true(
        test_config_has_error("t.yaml:6:15: error: spec.hostnames[0]: \"BAD\" is not a valid "
                              "hostname; use lower-case DNS labels, optionally after a leading "
                              "\"*.\"; IP addresses are not hostnames"));
    assert_true(test_config_has_error(
        "t.yaml:9:25: error: spec.rules[0].timeouts.request: invalid duration "
        "\"forever\"; use a Gateway API duration such as \"10s\", \"500ms\" or "
        "\"1h30m\""));
    assert_true(test_config_has_error(
        "t.yaml:5:23: error: spec.parentRefs[0].name: Gateway default/nope not "
        "found; declare the Gateway or fix the name (and namespace)"));
}

static void
test_secret_fields_never_echo_values(void **state)
{
    static const char *const modes[] = { "open", "sesame", NULL };

    struct secret {
        const struct pc_yaml_node *node;
        struct pc_schema_string token;
    };
    static const struct pc_schema_field fields[] = {
        { "token", PC_SCHEMA_STRING, PC_SCHEMA_SECRET, offsetof(struct secret, token),
          .values = modes },
    };
    static const struct pc_schema schema = { "secret", sizeof(struct secret), fields, 1 };
    struct pc_arena *arena = pc_arena_create(4096);
    struct pc_schema_ctx ctx = { arena, &test_config_diag, 0 };
    struct pc_yaml_node **docs = NULL;
    size_t n_docs = 0;
    size_t budget = 100;
    char line[1024];
    const char *yaml = "token: hunter2\n";

    assert_int_equal(pc_yaml_parse(arena, "s.yaml", yaml, strlen(yaml), &budget, &test_config_diag,
                                   &docs, &n_docs),
                     0);
    pc_schema_decode(&ctx, &schema, docs[0]);
    assert_int_equal(test_config_diag.n_entries, 1);
    pc_diag_format(&test_config_diag, 0, line, sizeof(line));
    assert_null(strstr(line, "hunter2"));
    assert_string_equal(line, "s.yaml:1:8: error: token: unknown value; allowed: open, sesame");
    pc_arena_destroy(arena);
}

static void
test_no_gateway(void **state)
{
    test_config_expect_error(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
        "t.yaml:1:1: error: the configuration has no Gateway, so nothing would be "
        "served; declare a Gateway with at least one listener");
}

/* ---- compiled snapshots ---- */

static const char *
route_request(const struct pc_config *cfg, size_t port, const char *host, const char *path,
              struct pc_route_match *out)
{
    struct pc_route_request req = { .host = host,
                                    .host_len = strlen(host),
                                    .path = path,
                                    .path_len = strlen(path),
                                    .method = "GET",
                                    .method_len = 3 };

    if (pc_route_match(cfg->ports[port].routes, &req, out) != PC_ROUTE_MATCHED) {
        return "404";
    }
    return out->rule->rule_name;
}

static void
test_quickstart_example_compiles(void **state)
{
    struct pc_config *cfg = pc_config_load("examples/quickstart/gateway.yaml", &test_config_diag);
    struct pc_route_match m;
    const struct sockaddr_in *admin;

    if (cfg == NULL) {
        test_config_dump();
        fail_msg("the quickstart example must validate");
    }
    assert_int_equal(cfg->n_ports, 1);
    assert_string_equal(cfg->ports[0].name, "127.0.0.1:8080");
    assert_int_equal(cfg->n_rules, 3);
    assert_int_equal(cfg->n_files, 1);
    assert_string_equal(cfg->files[0], "examples/quickstart/gateway.yaml");
    assert_false(cfg->source_is_dir);

    assert_string_equal(route_request(cfg, 0, "localhost", "/old/page", &m), "legacy-redirect");
    assert_non_null(m.rule->redirect);
    assert_int_equal(m.rule->redirect->status_code, 301);
    assert_int_equal(m.rule->redirect->path.type, PC_PATH_MOD_REPLACE_PREFIX);
    assert_string_equal(m.rule->redirect->path.value, "/new");
    assert_int_equal(m.prefix_len, 4);
    assert_string_equal(route_request(cfg, 0, "localhost", "/api/x", &m), "api");
    assert_int_equal(m.rule->request_headers.n_set, 1);
    assert_string_equal(m.rule->request_headers.set[0].name, "x-served-by");
    assert_string_equal(m.rule->request_headers.remove[0].name, "x-debug");
    assert_int_equal(m.rule->request_timeout_ms, 10000);
    assert_string_equal(route_request(cfg, 0, "localhost", "/", &m), "default");
    assert_string_equal(m.rule->backends[0].name, "default/origin:80");
    assert_string_equal(m.rule->backends[0].endpoints[0].name, "127.0.0.1:8081");

    admin = (const struct sockaddr_in *)&cfg->proxy.admin_addr;
    assert_int_equal(ntohs(admin->sin_port), 9901);
    assert_true(cfg->proxy.admin_enabled);
    pc_config_unref(cfg);
}

static void
test_defaults_compile(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok(ROUTE_HEAD "  rules: [{backendRefs: [{name: svc, port: "
                                         "80}]}]\n" BASE);
    const struct pc_listener *l = &cfg->ports[0].listeners[0];
    const struct pc_route_rule *rule = cfg->rules[0];
    const struct pc_backend *b = &rule->backends[0];

    assert_int_equal(l->limits.max_request_line_bytes, 8192);
    assert_int_equal(l->limits.max_header_bytes, 32768);
    assert_int_equal(l->limits.max_header_count, 100);
    assert_int_equal(l->limits.max_body_bytes, 10485760);
    assert_int_equal(l->timeouts.request_head_ms, 10000);
    assert_int_equal(l->timeouts.body_progress_ms, 30000);
    assert_int_equal(l->timeouts.idle_ms, 60000);
    assert_false(l->trust_request_id);
    assert_false(l->keep_encoded_slashes);
    assert_string_equal(l->gateway, "default/gw");

    assert_string_equal(rule->route_name, "default/r");
    assert_string_equal(rule->rule_name, "default/r/0");
    assert_int_equal(rule->id, 0);
    assert_int_equal(rule->backend_request_timeout_ms, 30000);
    assert_int_equal(rule->request_timeout_ms, 0);
    assert_false(rule->allow_websocket);
    assert_int_equal(rule->total_weight, 1);
    assert_int_equal(b->n_endpoints, 2);
    assert_string_equal(b->endpoints[1].name, "[::1]:9001");
    assert_int_equal(b->endpoints[1].addr.ss_family, AF_INET6);
    assert_int_equal(b->connect_timeout_ms, 5000);
    assert_int_equal(b->pool_max_idle, 64);
    assert_int_equal(b->pool_idle_timeout_ms, 60000);

    assert_string_equal(cfg->proxy.log_level, "notice");
    assert_string_equal(cfg->proxy.log_format, "text");
    assert_string_equal(cfg->proxy.access_log_path, "-");
    assert_int_equal(cfg->proxy.shutdown_grace_ms, 30000);
    assert_true(cfg->proxy.watch_files);
    pc_config_unref(cfg);
}

static void
test_client_policies_merge_by_specificity(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        ROUTE_HEAD "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"
                   "---\n"
                   "apiVersion: portcullis.dev/v1alpha1\n"
                   "kind: ClientTrafficPolicy\n"
                   "metadata: {name: gateway-wide}\n"
                   "spec:\n"
                   "  targetRefs: [{kind: Gateway, name: gw}]\n"
                   "  limits: {maxBodyBytes: 1Mi, maxHeaderCount: 50}\n"
                   "  timeouts: {idle: 5s}\n"
                   "  requestId: {trustClient: true}\n"
                   "---\n"
                   "apiVersion: portcullis.dev/v1alpha1\n"
                   "kind: ClientTrafficPolicy\n"
                   "metadata: {name: section}\n"
                   "spec:\n"
                   "  targetRefs: [{kind: Gateway, name: gw, sectionName: http}]\n"
                   "  limits: {maxBodyBytes: 2Mi}\n"
                   "  path: {encodedSlashes: Keep}\n"
                   "---\n"
                   "apiVersion: portcullis.dev/v1alpha1\n"
                   "kind: ClientTrafficPolicy\n"
                   "metadata: {name: route}\n"
                   "spec:\n"
                   "  targetRefs: [{kind: HTTPRoute, name: r}]\n"
                   "  limits: {maxBodyBytes: 64Ki}\n"
                   "  websocket: {enabled: true}\n" BASE);
    const struct pc_listener *l = &cfg->ports[0].listeners[0];

    assert_int_equal(l->limits.max_body_bytes, 2 * 1024 * 1024);
    assert_int_equal(l->limits.max_header_count, 50);
    assert_int_equal(l->timeouts.idle_ms, 5000);
    assert_true(l->trust_request_id);
    assert_true(l->keep_encoded_slashes);
    assert_int_equal(cfg->rules[0]->limits.max_body_bytes, 65536);
    assert_int_equal(cfg->rules[0]->limits.max_header_count, 50);
    assert_true(cfg->rules[0]->allow_websocket);
    assert_int_equal(cfg->ports[0].head_limits.max_body_bytes, 2 * 1024 * 1024);
    pc_config_unref(cfg);
}

static void
test_backend_policies_apply(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok(ROUTE_HEAD "  rules:\n"
                                         "  - backendRefs: [{name: svc, port: 80, "
                                         "weight: 3}]\n"
                                         "  - backendRefs: [{name: svc, port: 80}]\n"
                                         "    timeouts: {backendRequest: 2s}\n"
                                         "---\n"
                                         "apiVersion: portcullis.dev/v1alpha1\n"
                                         "kind: BackendTrafficPolicy\n"
                                         "metadata: {name: svc-policy}\n"
                                         "spec:\n"
                                         "  targetRefs: [{group: \"\", kind: Service, "
                                         "name: svc}]\n"
                                         "  timeouts: {connect: 250ms, response: 7s}\n"
                                         "  connectionPool: {maxIdlePerEndpoint: 8}\n"
                                         "---\n"
                                         "apiVersion: portcullis.dev/v1alpha1\n"
                                         "kind: BackendTrafficPolicy\n"
                                         "metadata: {name: route-policy}\n"
                                         "spec:\n"
                                         "  targetRefs: [{kind: HTTPRoute, name: r}]\n"
                                         "  connectionPool: {idleTimeout: 1s}\n" BASE);
    const struct pc_route_rule *r0 = cfg->rules[0];
    const struct pc_route_rule *r1 = cfg->rules[1];

    assert_int_equal(r0->total_weight, 3);
    assert_int_equal(r0->backends[0].connect_timeout_ms, 250);
    assert_int_equal(r0->backends[0].pool_max_idle, 8);
    assert_int_equal(r0->backends[0].pool_idle_timeout_ms, 1000);
    assert_int_equal(r0->backend_request_timeout_ms, 7000);
    assert_int_equal(r1->backend_request_timeout_ms, 2000);
    pc_config_unref(cfg);
}

static void
test_hostnames_intersect_with_listener(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r}\n"
        "spec:\n"
        "  parentRefs: [{name: g2}]\n"
        "  hostnames: [a.example.com, b.other.com]\n"
        "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"
        "---\n"
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: g2}\n"
        "spec:\n"
        "  gatewayClassName: pc\n"
        "  addresses: [{value: 127.0.0.2}]\n"
        "  listeners:\n"
        "  - {name: a, port: 81, protocol: HTTP, hostname: \"*.example.com\"}\n" BASE);
    struct pc_route_match m;
    size_t port = strcmp(cfg->ports[0].name, "127.0.0.2:81") == 0 ? 0 : 1;

    assert_string_equal(cfg->ports[port].name, "127.0.0.2:81");
    assert_string_equal(route_request(cfg, port, "a.example.com", "/", &m), "default/r/0");
    assert_string_equal(route_request(cfg, port, "c.example.com", "/", &m), "404");
    assert_string_equal(route_request(cfg, port, "b.other.com", "/", &m), "404");
    pc_config_unref(cfg);
}

static void
test_allowed_routes_selector_uses_namespace_labels(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok("apiVersion: gateway.networking.k8s.io/v1\n"
                              "kind: Gateway\n"
                              "metadata: {name: shared, namespace: infra}\n"
                              "spec:\n"
                              "  gatewayClassName: pc\n"
                              "  listeners:\n"
                              "  - name: web\n"
                              "    port: 8081\n"
                              "    protocol: HTTP\n"
                              "    allowedRoutes:\n"
                              "      namespaces:\n"
                              "        from: Selector\n"
                              "        selector: {matchLabels: {expose: \"yes\"}}\n"
                              "---\n"
                              "apiVersion: v1\n"
                              "kind: Namespace\n"
                              "metadata: {name: team, labels: {expose: \"yes\"}}\n"
                              "---\n"
                              "apiVersion: gateway.networking.k8s.io/v1\n"
                              "kind: HTTPRoute\n"
                              "metadata: {name: r, namespace: team}\n"
                              "spec:\n"
                              "  parentRefs: [{name: shared, namespace: infra}]\n"
                              "  rules: [{backendRefs: [{name: s, port: 80}]}]\n"
                              "---\n"
                              "apiVersion: portcullis.dev/v1alpha1\n"
                              "kind: ServiceEndpoints\n"
                              "metadata: {name: s, namespace: team}\n"
                              "spec:\n"
                              "  ports: [{port: 80, endpoints: [\"127.0.0.1:1\"]}]\n" BASE);

    assert_int_equal(cfg->n_rules, 1);
    assert_string_equal(cfg->rules[0]->route_name, "team/r");
    pc_config_unref(cfg);
}

static void
test_reference_grant_allows_cross_namespace_backend(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok(ROUTE_HEAD "  rules: [{backendRefs: [{name: far, "
                                         "namespace: ops, port: 80}]}]\n"
                                         "---\n"
                                         "apiVersion: gateway.networking.k8s.io/v1beta1\n"
                                         "kind: ReferenceGrant\n"
                                         "metadata: {name: g, namespace: ops}\n"
                                         "spec:\n"
                                         "  from: [{group: gateway.networking.k8s.io, "
                                         "kind: HTTPRoute, namespace: default}]\n"
                                         "  to: [{group: \"\", kind: Service}]\n"
                                         "---\n"
                                         "apiVersion: portcullis.dev/v1alpha1\n"
                                         "kind: ServiceEndpoints\n"
                                         "metadata: {name: far, namespace: ops}\n"
                                         "spec:\n"
                                         "  ports: [{port: 80, endpoints: "
                                         "[\"10.0.0.1:80\"]}]\n" BASE);

    assert_string_equal(cfg->rules[0]->backends[0].name, "ops/far:80");
    pc_config_unref(cfg);
}

static void
test_route_precedence_by_creation_timestamp(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok("apiVersion: gateway.networking.k8s.io/v1\n"
                              "kind: HTTPRoute\n"
                              "metadata: {name: a-new, creationTimestamp: "
                              "\"2024-05-02T00:00:00Z\"}\n"
                              "spec:\n"
                              "  parentRefs: [{name: gw}]\n"
                              "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n"
                              "---\n"
                              "apiVersion: gateway.networking.k8s.io/v1\n"
                              "kind: HTTPRoute\n"
                              "metadata: {name: b-old, creationTimestamp: "
                              "\"2024-05-01T23:59:59+01:00\"}\n"
                              "spec:\n"
                              "  parentRefs: [{name: gw}]\n"
                              "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n" BASE);
    struct pc_route_match m;

    assert_string_equal(route_request(cfg, 0, "x", "/", &m), "default/b-old/0");
    pc_config_unref(cfg);
}

static void
test_paths_are_normalised_before_matching(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok(ROUTE_HEAD "  rules:\n"
                                         "  - matches: [{path: {type: Exact, value: "
                                         "\"/%7euser/caf%c3%a9\"}}]\n"
                                         "    backendRefs: [{name: svc, port: 80}]\n" BASE);
    struct pc_route_match m;

    assert_string_equal(route_request(cfg, 0, "x", "/~user/caf%C3%A9", &m), "default/r/0");
    pc_config_unref(cfg);
}

static void
test_route_without_rules_gets_default_rule(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(ROUTE_HEAD BASE);
    struct pc_route_match m;

    assert_int_equal(cfg->n_rules, 1);
    assert_string_equal(route_request(cfg, 0, "x", "/anything", &m), "default/r/0");
    assert_int_equal(m.rule->n_backends, 0);
    assert_int_equal(m.rule->total_weight, 0);
    pc_config_unref(cfg);
}

static void
test_proxy_config_values(void **state)
{
    struct pc_config *cfg =
        test_config_expect_ok("apiVersion: portcullis.dev/v1alpha1\n"
                              "kind: ProxyConfig\n"
                              "metadata: {name: p}\n"
                              "spec:\n"
                              "  admin: {address: \"::1\", port: 9999, enabled: false}\n"
                              "  accessLog: {enabled: false}\n"
                              "  log: {level: debug, format: json}\n"
                              "  shutdown: {gracePeriod: 5s}\n"
                              "  watch: {enabled: false}\n" BASE);

    assert_int_equal(cfg->proxy.admin_addr.ss_family, AF_INET6);
    assert_false(cfg->proxy.admin_enabled);
    assert_null(cfg->proxy.access_log_path);
    assert_string_equal(cfg->proxy.log_level, "debug");
    assert_string_equal(cfg->proxy.log_format, "json");
    assert_int_equal(cfg->proxy.shutdown_grace_ms, 5000);
    assert_false(cfg->proxy.watch_files);
    pc_config_unref(cfg);
}

static void
test_directory_is_read_in_name_order(void **state)
{
    char dir[] = "/tmp/pc-config-XXXXXX";
    char path[128];
    FILE *f;
    struct pc_config *cfg;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/20-route.yaml", dir);
    f = fopen(path, "w");
    fputs(ROUTE_HEAD "  rules: [{backendRefs: [{name: svc, port: 80}]}]\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/10-base.yml", dir);
    f = fopen(path, "w");
    fputs(BASE, f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    f = fopen(path, "w");
    fputs("not yaml: [", f);
    fclose(f);

    cfg = pc_config_load(dir, &test_config_diag);
    if (cfg == NULL) {
        test_config_dump();
    }
    assert_non_null(cfg);
    assert_int_equal(cfg->n_files, 2);
    assert_non_null(strstr(cfg->files[0], "10-base.yml"));
    assert_non_null(strstr(cfg->files[1], "20-route.yaml"));
    assert_true(cfg->source_is_dir);
    pc_config_unref(cfg);

    unlink(path);
    snprintf(path, sizeof(path), "%s/10-base.yml", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/20-route.yaml", dir);
    unlink(path);
    rmdir(dir);
}

static void
test_snapshot_refcount(void **state)
{
    struct pc_config *cfg = test_config_expect_ok(BASE);

    assert_ptr_equal(pc_config_ref(cfg), cfg);
    pc_config_unref(cfg);
    assert_int_equal(atomic_load(&cfg->refs), 1);
    pc_config_unref(cfg);
    pc_config_unref(NULL);
}

/* Checks every field the allocation-failure test's configuration must compile to. */
static void
check_full_snapshot(const struct pc_config *cfg)
{
    const struct pc_route_rule *r0 = cfg->rules[0];
    const struct pc_route_rule *r1 = cfg->rules[1];
    struct pc_route_match m;

    assert_int_equal(cfg->n_ports, 1);
    assert_int_equal(cfg->ports[0].n_listeners, 1);
    assert_int_equal(cfg->n_rules, 2);
    assert_int_equal(cfg->n_files, 1);
    assert_string_equal(cfg->proxy.access_log_path, "/tmp/access.log");
    assert_string_equal(cfg->proxy.log_format, "json");
    assert_int_equal(cfg->ports[0].listeners[0].limits.max_body_bytes, 1024);
    assert_int_equal(r0->n_backends, 1);
    assert_int_equal(r0->backends[0].n_endpoints, 2);
    assert_int_equal(r0->backends[0].connect_timeout_ms, 1000);
    assert_int_equal(r0->request_headers.n_set, 1);
    assert_string_equal(r0->request_headers.set[0].name, "x-a");
    assert_non_null(r1->redirect);
    assert_string_equal(r1->redirect->hostname, "new.example.com");
    assert_string_equal(r1->redirect->path.value, "/n");
    assert_string_equal(route_request(cfg, 0, "a.example.com", "/a/xyz", &m), "default/r/0");
    assert_string_equal(route_request(cfg, 0, "a.example.com", "/o/1", &m), "default/r/1");
    assert_string_equal(route_request(cfg, 0, "b.example.com", "/a/xyz", &m), "404");
}

static void
test_load_survives_allocation_failures(void **state)
{
    static const char yaml[] =
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: HTTPRoute\n"
        "metadata: {name: r}\n"
        "spec:\n"
        "  parentRefs: [{name: gw}]\n"
        "  hostnames: [a.example.com]\n"
        "  rules:\n"
        "  - matches: [{path: {type: RegularExpression, value: \"/a/.*\"}, headers: [{name: x, "
        "value: y, type: RegularExpression}]}, {path: {value: /a}, method: GET}]\n"
        "    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-A, "
        "value: b}]}}]\n"
        "    backendRefs: [{name: svc, port: 80}]\n"
        "  - matches: [{path: {value: /o}}]\n"
        "    filters: [{type: RequestRedirect, requestRedirect: {hostname: new.example.com, path: "
        "{type: ReplacePrefixMatch, replacePrefixMatch: /n}}}]\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ClientTrafficPolicy\n"
        "metadata: {name: c}\n"
        "spec: {targetRefs: [{kind: Gateway, name: gw}], limits: {maxBodyBytes: 1Ki}}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: BackendTrafficPolicy\n"
        "metadata: {name: b}\n"
        "spec: {targetRefs: [{kind: HTTPRoute, name: r}], timeouts: {connect: 1s}}\n"
        "---\n"
        "apiVersion: portcullis.dev/v1alpha1\n"
        "kind: ProxyConfig\n"
        "metadata: {name: p}\n"
        "spec: {accessLog: {path: /tmp/access.log}, log: {format: json}}\n" BASE;
    size_t before = pc_alloc_bytes();
    int successes_in_a_row = 0;
    long n;

    /*
     * Fail the n-th allocation, for every n, until loads have succeeded 50 times in a row (past
     * the last allocation a load makes). Each load must either be refused with an error or
     * produce the complete snapshot: never one with a part silently missing, and never a leak.
     */
    for (n = 0; successes_in_a_row < 50 && n < 20000; n++) {
        struct pc_diag d;
        struct pc_config *cfg;

        pc_diag_init(&d);
        pc_alloc_fail_after(n);
        cfg = pc_config_load_buffer("t.yaml", yaml, sizeof(yaml) - 1, &d);
        pc_alloc_fail_reset();
        if (cfg != NULL) {
            check_full_snapshot(cfg);
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
        T(test_unknown_field_suggests_nearest),
        T(test_unknown_field_lists_known_fields),
        T(test_wrong_type_integer_quoted),
        T(test_wrong_type_string_given_number),
        T(test_missing_required_field),
        T(test_value_out_of_range),
        T(test_bad_enum_suggests_value),
        T(test_invalid_duration),
        T(test_invalid_quantity),
        T(test_yaml_syntax_error_has_libyaml_location),
        T(test_duplicate_key),
        T(test_duplicate_map_key_decodes_once),
        T(test_anchors_and_aliases_refused),
        T(test_unknown_kind_suggests),
        T(test_unknown_kind_lists_kinds),
        T(test_known_kind_wrong_api_version),
        T(test_duplicate_resource),
        T(test_regex_error_reports_offset),
        T(test_regex_header_error),
        T(test_parent_ref_to_missing_gateway),
        T(test_parent_ref_to_missing_section),
        T(test_backend_ref_to_missing_service),
        T(test_backend_ref_to_missing_port),
        T(test_backend_ref_without_port),
        T(test_cross_namespace_backend_needs_grant),
        T(test_policy_target_missing),
        T(test_tls_passthrough_listener_refused),
        T(test_listener_name_repeated),
        T(test_listeners_conflict_on_address_port_hostname),
        T(test_listeners_share_port_with_distinct_hostnames),
        T(test_listener_port_is_admin_port),
        T(test_route_attached_to_no_listener_by_hostname),
        T(test_route_attached_to_no_listener_by_namespace),
        T(test_route_without_parent_refs),
        T(test_unsupported_filter_type),
        T(test_redirect_and_rewrite_together),
        T(test_redirect_with_backend_refs),
        T(test_replace_prefix_needs_path_prefix_match),
        T(test_filter_repeated),
        T(test_filter_member_must_match_type),
        T(test_header_modifier_refuses_framing_headers),
        T(test_header_modifier_one_action_per_name),
        T(test_header_value_refuses_control_characters),
        T(test_duplicate_header_match),
        T(test_path_value_rules),
        T(test_backend_request_longer_than_request),
        T(test_redirect_status_code),
        T(test_hostname_syntax),
        T(test_endpoint_must_be_ip),
        T(test_conflicting_policies_name_both),
        T(test_route_limit_above_listener),
        T(test_policy_field_at_wrong_level),
        T(test_second_proxy_config),
        T(test_nesting_too_deep),
        T(test_too_many_nodes),
        T(test_file_too_large),
        T(test_errors_are_capped_and_counted),
        T(test_every_error_in_one_run),
        T(test_secret_fields_never_echo_values),
        T(test_no_gateway),
        T(test_quickstart_example_compiles),
        T(test_defaults_compile),
        T(test_client_policies_merge_by_specificity),
        T(test_backend_policies_apply),
        T(test_hostnames_intersect_with_listener),
        T(test_allowed_routes_selector_uses_namespace_labels),
        T(test_reference_grant_allows_cross_namespace_backend),
        T(test_route_precedence_by_creation_timestamp),
        T(test_paths_are_normalised_before_matching),
        T(test_route_without_rules_gets_default_rule),
        T(test_proxy_config_values),
        T(test_directory_is_read_in_name_order),
        T(test_snapshot_refcount),
        T(test_load_survives_allocation_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
