"""Native authorization rules through the real binary: every request, principal and peer
condition, deny rules before allow rules, default deny, which policy applies (route over
listener over Gateway), the problem+json refusal, shadow mode, and a policy changed by a reload.

One module-scoped gateway serves almost every case: an HTTP listener, and an HTTPS listener that
asks for client certificates (optional) verified as X.509-SVIDs of prod.example.org. Each HTTPRoute
has its own AuthorizationPolicy whose rules are told apart by path; a Gateway-wide policy and a
policy on the HTTPS listener cover the one route without its own. Tokens are HS256 JWTs, optional
on every route, so the same routes see anonymous and authenticated callers. A refusal is checked
from both sides: the client gets the problem document, the origin's counter does not move.

The OPA, HTTP check and Rego modules (test_authz_opa.py, test_authz_http.py, test_authz_rego.py)
use a stand-in OPA server (opa_server.py), since no OPA binary can be installed here; this module
needs none.
"""

import pytest

from authz_util import (DECISION_ID, PARTNER_ISSUER, TRUST_DOMAIN, Answer, Pki, access_line,
                        assert_allowed, assert_denied, assert_problem, authn_policy, authz_policy,
                        call, docs, gateway_target, metric_sum, mint, raw_call, route,
                        route_target, wait_for)
from conftest import Origin, free_port


# --- the policies, one per route ---

POLICIES = {
    "methods": """
rules:
- name: reads
  request:
    methods: [GET, HEAD]
""",
    "paths": """
rules:
- name: exact
  request:
    paths: [{type: Exact, value: /paths/exact}]
- name: prefix
  request:
    paths: [{type: PathPrefix, value: /paths/prefix}]
""",
    "tmpl": """
rules:
- name: template
  request:
    paths: [{type: Template, value: "/tmpl/{a}/x/{b}"}]
""",
    "users": """
rules:
- name: owner
  request:
    paths:
    - {type: Template, value: "/users/{id}"}
    - {type: Template, value: "/users/{id}/orders/{rest...}"}
  principal:
    pathParams: [{param: id, claim: sub}]
""",
    "headers": """
rules:
- name: exact
  request:
    paths: [{type: PathPrefix, value: /headers/exact}]
    headers: [{name: x-tenant, type: Exact, value: acme}]
- name: prefix
  request:
    paths: [{type: PathPrefix, value: /headers/prefix}]
    headers: [{name: x-team, type: Prefix, value: team-}]
- name: suffix
  request:
    paths: [{type: PathPrefix, value: /headers/suffix}]
    headers: [{name: x-caller-host, type: Suffix, value: .example.com}]
- name: regex
  request:
    paths: [{type: PathPrefix, value: /headers/regex}]
    headers: [{name: x-version, type: RegularExpression, value: "v[0-9]+(\\\\.[0-9]+)?"}]
- name: present
  request:
    paths: [{type: PathPrefix, value: /headers/present}]
    headers: [{name: x-debug, type: Present}]
- name: absent
  request:
    paths: [{type: PathPrefix, value: /headers/absent}]
    headers: [{name: x-blocked, type: Present, invert: true}]
- name: not-prod
  request:
    paths: [{type: PathPrefix, value: /headers/invert}]
    headers: [{name: x-env, type: Exact, value: prod, invert: true}]
- name: all
  request:
    paths: [{type: PathPrefix, value: /headers/all}]
    headers:
    - {name: x-a, type: Exact, value: "1"}
    - {name: x-b, type: Exact, value: "2"}
""",
    "cidr": """
rules:
- name: loopback
  request:
    paths: [{type: PathPrefix, value: /cidr/in}]
    sourceCIDRs: [127.0.0.0/8]
- name: host
  request:
    paths: [{type: PathPrefix, value: /cidr/host}]
    sourceCIDRs: [127.0.0.1/32]
- name: elsewhere
  request:
    paths: [{type: PathPrefix, value: /cidr/elsewhere}]
    sourceCIDRs: [10.0.0.0/8, "::1/128"]
- name: not-loopback
  request:
    paths: [{type: PathPrefix, value: /cidr/not}]
    notSourceCIDRs: [127.0.0.1/32]
- name: not-private
  request:
    paths: [{type: PathPrefix, value: /cidr/outside}]
    notSourceCIDRs: [10.0.0.0/8, 192.168.0.0/16]
""",
    "principal": """
rules:
- name: authenticated
  request: {paths: [{type: PathPrefix, value: /principal/authn}]}
  principal: {authenticated: true}
- name: anonymous
  request: {paths: [{type: PathPrefix, value: /principal/anon}]}
  principal: {authenticated: false}
- name: subjects
  request: {paths: [{type: PathPrefix, value: /principal/subjects}]}
  principal:
    subjects: [alice, {type: Prefix, value: svc-}]
- name: issuers
  request: {paths: [{type: PathPrefix, value: /principal/issuers}]}
  principal:
    issuers: [%s]
- name: clients
  request: {paths: [{type: PathPrefix, value: /principal/clients}]}
  principal:
    clientIDs: [web]
- name: scopes-all
  request: {paths: [{type: PathPrefix, value: /principal/scopes-all}]}
  principal:
    scopes: {allOf: [orders.read, orders.write]}
- name: scopes-any
  request: {paths: [{type: PathPrefix, value: /principal/scopes-any}]}
  principal:
    scopes: {anyOf: [orders.admin, support]}
- name: roles
  request: {paths: [{type: PathPrefix, value: /principal/roles}]}
  principal:
    roles: {allOf: [staff], anyOf: [admin, support]}
- name: claims
  request: {paths: [{type: PathPrefix, value: /principal/claims}]}
  principal:
    claims:
      allOf: [{path: org.tenant, type: Exact, value: acme}]
      anyOf:
      - {path: groups, type: Prefix, value: eng-}
      - {path: level, type: Exact, value: "3"}
""" % PARTNER_ISSUER,
    "peer": """
rules:
- name: certificate
  request: {paths: [{type: PathPrefix, value: /peer/cert}]}
  peer: {certificate: true}
- name: spiffe
  request: {paths: [{type: PathPrefix, value: /peer/spiffe}]}
  peer:
    spiffeIDs: ["spiffe://%s/ns/orders/*"]
- name: subject
  request: {paths: [{type: PathPrefix, value: /peer/subject}]}
  peer:
    subjects: [{type: Exact, value: "CN=orders-client,O=Example"}]
- name: dns
  request: {paths: [{type: PathPrefix, value: /peer/dns}]}
  peer:
    dnsNames: [orders.client.example.org]
""" % TRUST_DOMAIN,
    "deny": """
rules:
- name: everyone
  request:
    paths: [{type: PathPrefix, value: /deny}]
- name: block-admin
  action: Deny
  request:
    paths: [{type: PathPrefix, value: /deny/admin}]
- name: block-suspended
  action: Deny
  principal:
    roles: {anyOf: [suspended]}
""",
    "denyonly": """
rules:
- name: block-x
  action: Deny
  request:
    paths: [{type: PathPrefix, value: /denyonly/x}]
""",
    "nomatch": """
rules:
- name: patch-only
  request:
    methods: [PATCH]
""",
    "empty": """
rules: []
""",
    "routepol": """
rules:
- name: route-wide
  request:
    paths: [{type: PathPrefix, value: /routepol}]
""",
    "shadow": """
rules:
- name: ok-only
  request:
    paths: [{type: PathPrefix, value: /shadow/ok}]
""",
    "dstatus": """
rules:
- name: nothing
  request:
    methods: [PATCH]
""",
}

GATEWAY_POLICY = """
rules:
- name: gateway-header
  request:
    headers: [{name: x-gw, type: Exact, value: "yes"}]
"""

LISTENER_POLICY = """
rules:
- name: listener-header
  request:
    headers: [{name: x-listener, type: Exact, value: "yes"}]
"""

ROUTES = list(POLICIES) + ["gwpol"]


@pytest.fixture(scope="module")
def pki():
    p = Pki()
    yield p
    p.remove()


@pytest.fixture(scope="module")
def origin():
    o = Origin("origin-authz-rules")
    yield o
    o.stop()


@pytest.fixture(scope="module")
def gw(make_module_gateway, origin, pki):
    https_port = free_port()
    listeners, tls_docs = pki.listeners(https_port)
    policies = [authn_policy(), tls_docs,
                authz_policy("gateway-wide", gateway_target(), GATEWAY_POLICY),
                authz_policy("https-listener", gateway_target("https"), LISTENER_POLICY)]
    for name, body in POLICIES.items():
        policies.append(authz_policy(name, route_target(name), body,
                                     mode="Shadow" if name == "shadow" else None,
                                     deny_status=404 if name == "dstatus" else None))
    g = make_module_gateway(docs(*(route(n, "/" + n) for n in ROUTES)),
                            {"origin": [origin.address]}, listeners=listeners,
                            policies=docs(*policies))
    g.https_port = https_port
    return g


def tls_call(gw, pki, client, path, headers=None):
    return pki.call(gw.https_port, client, path, headers)


def allowed(gw, origin, path, **kw):
    return assert_allowed(gw.port, path, origin, **kw)


def denied(gw, origin, path, reason="no_rule_matched", status=403, **kw):
    return assert_denied(gw.port, path, origin, status=status, reason=reason, **kw)


# --- the request ---

def test_methods(gw, origin):
    allowed(gw, origin, "/methods/x")
    before = origin.served()
    a = call(gw.port, "/methods/x", method="HEAD")
    assert a.status == 200 and a.body == b""
    assert origin.served() == before + 1
    for method in ("POST", "DELETE", "PUT", "OPTIONS"):
        denied(gw, origin, "/methods/x", method=method)


@pytest.mark.parametrize("path, ok", [
    ("/paths/exact", True),
    ("/paths/exact?x=1", True),
    ("/paths/exact/", False),
    ("/paths/exact/more", False),
    ("/paths/exactly", False),
    ("/paths/prefix", True),
    ("/paths/prefix/", True),
    ("/paths/prefix/deep/er", True),
    ("/paths/prefixed", False),
    ("/paths/other", False),
])
def test_exact_and_prefix_paths(gw, origin, path, ok):
    if ok:
        allowed(gw, origin, path)
    else:
        denied(gw, origin, path)


@pytest.mark.parametrize("path, ok", [
    ("/tmpl/1/x/2", True),
    ("/tmpl/abc/x/def?q=1", True),
    ("/tmpl/1/y/2", False),
    ("/tmpl/1/x", False),
    ("/tmpl/1/x/2/3", False),
    ("/tmpl/x/2", False),
])
def test_template_literal_and_parameter_segments(gw, origin, path, ok):
    if ok:
        allowed(gw, origin, path)
    else:
        denied(gw, origin, path)


def test_path_parameter_must_equal_the_callers_sub(gw, origin):
    alice = mint("alice")
    allowed(gw, origin, "/users/alice", token=alice)
    allowed(gw, origin, "/users/alice/orders/7", token=alice)
    allowed(gw, origin, "/users/alice/orders/7/items/3", token=alice)
    denied(gw, origin, "/users/bob", token=alice)
    denied(gw, origin, "/users/bob/orders/7", token=alice)
    denied(gw, origin, "/users/alicex", token=alice)
    # {rest...} takes one or more segments; a path not of the template is not the rule's.
    denied(gw, origin, "/users/alice/orders", token=alice)
    denied(gw, origin, "/users/alice/profile", token=alice)
    # No principal, no claim to compare with.
    denied(gw, origin, "/users/alice")


def test_path_parameter_is_percent_decoded_before_comparing(gw, origin):
    allowed(gw, origin, "/users/jos%C3%A9", token=mint("jos\u00e9"))
    denied(gw, origin, "/users/jose", token=mint("jos\u00e9"))
    allowed(gw, origin, "/users/j%20doe/orders/1", token=mint("j doe"))
    allowed(gw, origin, "/users/%61lice", token=mint("alice"))
    # '+' is a space only in form encoding, never in a path.
    denied(gw, origin, "/users/j+doe", token=mint("j doe"))
    # The decoded capture of another user's id stays another user's.
    denied(gw, origin, "/users/%62ob", token=mint("alice"))


@pytest.mark.parametrize("path, headers, ok", [
    ("/headers/exact", {"x-tenant": "acme"}, True),
    ("/headers/exact", {"X-Tenant": "acme"}, True),
    ("/headers/exact", {"x-tenant": "ACME"}, False),
    ("/headers/exact", {"x-tenant": "acme-corp"}, False),
    ("/headers/exact", {}, False),
    ("/headers/prefix", {"x-team": "team-blue"}, True),
    ("/headers/prefix", {"x-team": "blue-team-"}, False),
    ("/headers/suffix", {"x-caller-host": "api.example.com"}, True),
    ("/headers/suffix", {"x-caller-host": "api.example.com.evil"}, False),
    ("/headers/regex", {"x-version": "v12"}, True),
    ("/headers/regex", {"x-version": "v1.2"}, True),
    ("/headers/regex", {"x-version": "xv12"}, False),
    ("/headers/regex", {"x-version": "v12x"}, False),
    ("/headers/regex", {"x-version": "v"}, False),
    ("/headers/present", {"x-debug": ""}, True),
    ("/headers/present", {"x-debug": "1"}, True),
    ("/headers/present", {}, False),
    ("/headers/absent", {}, True),
    ("/headers/absent", {"x-blocked": "no"}, False),
    ("/headers/invert", {}, True),
    ("/headers/invert", {"x-env": "dev"}, True),
    ("/headers/invert", {"x-env": "prod"}, False),
    ("/headers/all", {"x-a": "1", "x-b": "2"}, True),
    ("/headers/all", {"x-a": "1"}, False),
    ("/headers/all", {"x-a": "1", "x-b": "3"}, False),
], ids=lambda v: repr(v) if isinstance(v, dict) else None)
def test_header_conditions(gw, origin, path, headers, ok):
    if ok:
        allowed(gw, origin, path, headers=headers)
    else:
        denied(gw, origin, path, headers=headers)


@pytest.mark.parametrize("values, ok", [
    (["other", "acme"], True),
    (["acme", "other"], True),
    (["other", "globex"], False),
])
def test_repeated_header_matches_when_any_value_does(gw, origin, values, ok):
    before = origin.served()
    (status, headers, body), _ = raw_call(gw.port, [
        "GET /headers/exact HTTP/1.1", "Host: example.com", "Connection: close"]
        + ["X-Tenant: %s" % v for v in values])
    if ok:
        assert status == 200, body
        assert origin.served() == before + 1
    else:
        assert_problem(Answer(status, headers, body), 403, "no_rule_matched")
        assert origin.served() == before


@pytest.mark.parametrize("path, ok", [
    ("/cidr/in", True),
    ("/cidr/host", True),
    ("/cidr/elsewhere", False),
    ("/cidr/not", False),
    ("/cidr/outside", True),
])
def test_source_cidrs_seen_from_127_0_0_1(gw, origin, path, ok):
    if ok:
        allowed(gw, origin, path)
    else:
        denied(gw, origin, path)


# --- the principal ---

def test_authenticated_and_anonymous(gw, origin):
    token = mint("alice")
    allowed(gw, origin, "/principal/authn", token=token)
    denied(gw, origin, "/principal/authn")
    allowed(gw, origin, "/principal/anon")
    denied(gw, origin, "/principal/anon", token=token)


def test_subjects_exact_and_prefix(gw, origin):
    allowed(gw, origin, "/principal/subjects", token=mint("alice"))
    allowed(gw, origin, "/principal/subjects", token=mint("svc-billing"))
    denied(gw, origin, "/principal/subjects", token=mint("bob"))
    denied(gw, origin, "/principal/subjects", token=mint("alice2"))
    denied(gw, origin, "/principal/subjects", token=mint("my-svc-billing"))
    denied(gw, origin, "/principal/subjects")


def test_issuers(gw, origin):
    allowed(gw, origin, "/principal/issuers", token=mint("alice", issuer=PARTNER_ISSUER))
    denied(gw, origin, "/principal/issuers", token=mint("alice"))


def test_client_ids(gw, origin):
    allowed(gw, origin, "/principal/clients", token=mint("alice", client_id="web"))
    denied(gw, origin, "/principal/clients", token=mint("alice", client_id="mobile"))
    denied(gw, origin, "/principal/clients", token=mint("alice"))


def test_scopes_all_of_and_any_of(gw, origin):
    allowed(gw, origin, "/principal/scopes-all",
            token=mint("alice", scope="orders.read profile orders.write"))
    denied(gw, origin, "/principal/scopes-all", token=mint("alice", scope="orders.read"))
    denied(gw, origin, "/principal/scopes-all", token=mint("alice"))
    allowed(gw, origin, "/principal/scopes-any", token=mint("alice", scope="support"))
    allowed(gw, origin, "/principal/scopes-any", token=mint("alice", scope="x orders.admin"))
    denied(gw, origin, "/principal/scopes-any", token=mint("alice", scope="orders.read"))


def test_roles(gw, origin):
    allowed(gw, origin, "/principal/roles", token=mint("alice", roles=["staff", "support"]))
    allowed(gw, origin, "/principal/roles", token=mint("alice", roles=["admin", "staff"]))
    denied(gw, origin, "/principal/roles", token=mint("alice", roles=["staff"]))
    denied(gw, origin, "/principal/roles", token=mint("alice", roles=["support"]))
    denied(gw, origin, "/principal/roles", token=mint("alice"))


def test_claims_all_of_and_any_of(gw, origin):
    org = {"tenant": "acme"}
    allowed(gw, origin, "/principal/claims", token=mint("alice", org=org, groups=["eng-core"]))
    # An array claim holds when any element matches; numbers compare as their JSON text.
    allowed(gw, origin, "/principal/claims",
            token=mint("alice", org=org, groups=["sales", "eng-web"]))
    allowed(gw, origin, "/principal/claims", token=mint("alice", org=org, level=3))
    denied(gw, origin, "/principal/claims", token=mint("alice", org=org, groups=["sales"]))
    denied(gw, origin, "/principal/claims", token=mint("alice", org=org, level=4))
    denied(gw, origin, "/principal/claims",
           token=mint("alice", org={"tenant": "globex"}, groups=["eng-core"]))
    denied(gw, origin, "/principal/claims", token=mint("alice", groups=["eng-core"]))


# --- the TLS peer ---

def tls_allowed(gw, pki, origin, client, path, headers=None):
    before = origin.served()
    a = tls_call(gw, pki, client, path, headers)
    assert a.status == 200, (client, path, a)
    assert origin.served() == before + 1
    return a


def tls_denied(gw, pki, origin, client, path, headers=None):
    before = origin.served()
    a = tls_call(gw, pki, client, path, headers)
    assert_problem(a, 403, "no_rule_matched")
    assert origin.served() == before
    return a


def test_peer_certificate_required(gw, pki, origin):
    tls_allowed(gw, pki, origin, "orders", "/peer/cert")
    tls_allowed(gw, pki, origin, "web", "/peer/cert")
    tls_denied(gw, pki, origin, None, "/peer/cert")
    denied(gw, origin, "/peer/cert")


def test_peer_spiffe_ids(gw, pki, origin):
    tls_allowed(gw, pki, origin, "orders", "/peer/spiffe")
    tls_denied(gw, pki, origin, "web", "/peer/spiffe")
    tls_denied(gw, pki, origin, "deep", "/peer/spiffe")
    tls_denied(gw, pki, origin, None, "/peer/spiffe")


def test_peer_subjects(gw, pki, origin):
    tls_allowed(gw, pki, origin, "orders", "/peer/subject")
    tls_denied(gw, pki, origin, "web", "/peer/subject")
    tls_denied(gw, pki, origin, None, "/peer/subject")


def test_peer_dns_names(gw, pki, origin):
    tls_allowed(gw, pki, origin, "orders", "/peer/dns")
    tls_denied(gw, pki, origin, "web", "/peer/dns")
    tls_denied(gw, pki, origin, None, "/peer/dns")


# --- evaluation order and defaults ---

def test_deny_rules_come_before_allow_rules(gw, origin):
    allowed(gw, origin, "/deny/x")
    allowed(gw, origin, "/deny/x", token=mint("alice", roles=["staff"]))
    denied(gw, origin, "/deny/admin", reason="rule_denied")
    denied(gw, origin, "/deny/admin/users", reason="rule_denied")
    denied(gw, origin, "/deny/x", reason="rule_denied", token=mint("alice", roles=["suspended"]))


def test_nothing_allowed_is_denied(gw, origin):
    denied(gw, origin, "/denyonly/y")
    denied(gw, origin, "/denyonly/x", reason="rule_denied")
    denied(gw, origin, "/nomatch/x")
    allowed(gw, origin, "/nomatch/x", method="PATCH")


def test_empty_rule_list_denies_everything(gw, origin):
    denied(gw, origin, "/empty")
    denied(gw, origin, "/empty/x", token=mint("alice", roles=["admin"]))
    denied(gw, origin, "/empty/x", method="POST")


def test_route_policy_over_listener_policy_over_gateway_policy(gw, pki, origin):
    # /gwpol has no policy of its own: the Gateway's covers it on the HTTP listener...
    denied(gw, origin, "/gwpol/x")
    allowed(gw, origin, "/gwpol/x", headers={"x-gw": "yes"})
    denied(gw, origin, "/gwpol/x", headers={"x-listener": "yes"})
    # ...and the HTTPS listener's own policy replaces it there, whole.
    tls_allowed(gw, pki, origin, None, "/gwpol/x", {"x-listener": "yes"})
    tls_denied(gw, pki, origin, None, "/gwpol/x", {"x-gw": "yes"})
    # A route's policy replaces both.
    allowed(gw, origin, "/routepol/x")
    tls_allowed(gw, pki, origin, None, "/routepol/x")


# --- answers, logs and metrics ---

def test_refusal_is_problem_json_with_decision_and_request_ids(gw, origin):
    a = call(gw.port, "/nomatch/x")
    doc = assert_problem(a, 403, "no_rule_matched")
    rec = access_line(gw, a.headers["x-request-id"])
    assert rec["status"] == 403
    assert rec["decision_id"] == doc["decision_id"]
    assert rec["authz"] == "denied"
    other = call(gw.port, "/nomatch/x")
    assert other.doc["decision_id"] != doc["decision_id"]


def test_deny_status_of_the_policy(gw, origin):
    denied(gw, origin, "/dstatus/x", status=404)


def test_allowed_request_gets_a_decision_id_in_the_access_log(gw, origin):
    a = allowed(gw, origin, "/methods/x")
    rec = access_line(gw, a.request_id)
    assert rec["status"] == 200
    assert DECISION_ID.match(rec["decision_id"]), rec
    assert rec["authz"] == "allowed"


def test_decisions_are_counted_by_effect(gw, origin):
    allowed_before = metric_sum(gw, "portcullis_authz_decisions_total", effect="allowed")
    denied_before = metric_sum(gw, "portcullis_authz_decisions_total", effect="denied")
    allowed(gw, origin, "/methods/x")
    denied(gw, origin, "/methods/x", method="POST")
    assert metric_sum(gw, "portcullis_authz_decisions_total", effect="allowed") == \
        allowed_before + 1
    assert metric_sum(gw, "portcullis_authz_decisions_total", effect="denied") == \
        denied_before + 1


def test_shadow_mode_serves_a_would_be_deny_and_records_it(gw, origin):
    before = metric_sum(gw, "portcullis_authz_decisions_total", effect="would_deny")
    denied_before = metric_sum(gw, "portcullis_authz_decisions_total", effect="denied")
    a = allowed(gw, origin, "/shadow/nope")
    rec = access_line(gw, a.request_id)
    assert rec["status"] == 200
    assert rec["authz"] == "would_deny"
    assert DECISION_ID.match(rec["decision_id"]), rec
    assert metric_sum(gw, "portcullis_authz_decisions_total", effect="would_deny") == before + 1
    assert metric_sum(gw, "portcullis_authz_decisions_total", effect="denied") == denied_before
    ok = allowed(gw, origin, "/shadow/ok")
    assert access_line(gw, ok.request_id)["authz"] == "allowed"


# --- reload ---

def test_reload_changes_the_policy_without_a_restart(make_gateway, origin):
    def policy(allowed_path):
        return authz_policy("reloaded", route_target("reload"), """
rules:
- name: one-path
  request:
    paths: [{type: PathPrefix, value: %s}]
""" % allowed_path)

    backends = {"origin": [origin.address]}
    routes = route("reload", "/reload")
    g = make_gateway(routes, backends, policies=policy("/reload/a"))
    pid = g.proc.pid
    allowed(g, origin, "/reload/a")
    denied(g, origin, "/reload/b")

    g.write_config(g.render(routes, backends, policies=policy("/reload/b")))
    wait_for(lambda: call(g.port, "/reload/b").status == 200, what="the new policy")
    allowed(g, origin, "/reload/b")
    denied(g, origin, "/reload/a")
    assert g.proc.poll() is None and g.proc.pid == pid
    assert metric_sum(g, "portcullis_config_reloads_total") >= 1
