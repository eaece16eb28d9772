"""Authorization by OPA's REST Data API through the real binary: the input document as the
decision point receives it, boolean and object decisions (status, headers, reason), the
decision cache and its key, every way the decision point can fail (503 authz_unavailable, the
specific reason in the access log, metrics and a warn line), and failureMode Open.

No OPA binary can be installed on this machine (Debian packages none, and nothing is taken from
other registries), so opa_server.py stands in for it: a server that follows OPA's documented
REST Data API ("Get a Document (with Input)": POST /v1/data/<path> with {"input": ...}, answered
200 {"result": ...}, or 200 {} for an undefined document), with policies written as Python
functions, every input it receives recorded, and faults on demand.

One module-scoped gateway serves every case, with an HTTP and an HTTPS listener (client
certificates optional, verified as X.509-SVIDs) and one route per policy. The gateway logs at
most a few decision-point failures per minute, so each failure test makes exactly one failing
request and the module makes fewer than ten.
"""

import http.client
import json

import pytest

from authz_util import (AUDIENCE, DECISION_ID, ISSUER, TRUST_DOMAIN, Pki, access_line,
                        assert_allowed, assert_denied, assert_problem, authn_policy, authz_policy,
                        call, docs, failure_log_pattern, metric_sum, mint, raw_call, route,
                        route_target, wait_log)
from conftest import Origin, free_port
from opa_server import UNDEFINED, OpaServer

TIMEOUT = "1s"          # ordinary routes: generous, the machine is shared
SLOW_TIMEOUT = "300ms"  # the slow fault answers after opa_server.SLOW_SECONDS


def main_policy(inp):
    """data.portcullis.authz: the decision named by the second path segment."""
    sub = inp["principal"].get("sub", "anonymous")
    return {
        "allow": True,
        "deny": False,
        "obj-allow": {"allow": True, "headers": {"x-opa-user": sub, "x-opa-tenant": "acme"},
                      "reason": "owner", "extra": [1, 2]},
        "obj-deny": {"allow": False, "status": 429, "reason": "quota_exceeded",
                     "headers": {"retry-after": "7", "x-opa-why": "quota"}},
        "obj-deny-plain": {"allow": False},
        "deny-401": {"allow": False, "status": 401, "reason": "login_required"},
    }.get(inp["parsed_path"][1] if len(inp["parsed_path"]) > 1 else "", True)


POLICIES = {
    "portcullis/authz": main_policy,
    "portcullis/headers": lambda inp: True,
    "portcullis/cached": lambda inp: {"allow": True, "headers": {"x-opa-cached": "yes"}},
    "portcullis/cached_sub": lambda inp: True,
    "faults/slow": lambda inp: True,
    "faults/malformed": lambda inp: True,
    "faults/500": lambda inp: True,
    "faults/undefined": lambda inp: True,
    "faults/bad_types": lambda inp: {"allow": "yes"},
    "faults/no_allow": lambda inp: {"status": 403, "reason": "nope"},
    "faults/stopped": lambda inp: True,
    "open/undefined": lambda inp: UNDEFINED,
}

FAULTS = {"faults/slow": "slow", "faults/malformed": "malformed", "faults/500": "500",
          "faults/undefined": "undefined"}


def opa(url, timeout=TIMEOUT, extra=""):
    return "opa:\n  url: %s\n  timeout: %s\n%s" % (url, timeout, extra)


@pytest.fixture(scope="module")
def opa_server():
    s = OpaServer(POLICIES, FAULTS)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def stopped_opa():
    """A second server, for the test that takes it down."""
    s = OpaServer({"faults/stopped": lambda inp: True})
    yield s
    s.stop()


@pytest.fixture(scope="module")
def tls_opa(pki):
    """The main policy served over HTTPS by a certificate of the decision-point CA."""
    s = OpaServer({"portcullis/authz": main_policy}, tls=pki.point_files)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def pki():
    p = Pki()
    yield p
    p.remove()


@pytest.fixture(scope="module")
def origin():
    o = Origin("origin-authz-opa")
    yield o
    o.stop()


@pytest.fixture(scope="module")
def gw(make_module_gateway, origin, pki, opa_server, stopped_opa, tls_opa):
    down_port = free_port()
    policies = {
        "opa": opa(opa_server.url("portcullis/authz")),
        "opahdrs": opa(opa_server.url("portcullis/headers"),
                       extra="  includeHeaders: [x-tenant]\n"),
        "opacache": opa(opa_server.url("portcullis/cached"), extra="""
  cache:
    ttl: 30s
    key: [attributes.request.http.method, parsed_path]
"""),
        "opacachesub": opa(opa_server.url("portcullis/cached_sub"), extra="""
  cache:
    ttl: 30s
    key: [principal.sub]
"""),
        "f-slow": opa(opa_server.url("faults/slow"), timeout=SLOW_TIMEOUT),
        "f-malformed": opa(opa_server.url("faults/malformed")),
        "f-500": opa(opa_server.url("faults/500")),
        "f-undefined": opa(opa_server.url("faults/undefined")),
        "f-badtypes": opa(opa_server.url("faults/bad_types")),
        "f-noallow": opa(opa_server.url("faults/no_allow")),
        "f-down": opa("http://127.0.0.1:%d/v1/data/portcullis/authz" % down_port),
        "f-stopped": opa(stopped_opa.url("faults/stopped")),
        "f-open": opa(opa_server.url("open/undefined")),
        "opatls": opa(tls_opa.url("portcullis/authz"),
                      extra="  caBundle: {file: %s}\n" % pki.point_ca_path),
    }
    https_port = free_port()
    listeners, tls_docs = pki.listeners(https_port)
    texts = [authn_policy(), tls_docs]
    for name, body in policies.items():
        texts.append(authz_policy(name, route_target(name), body,
                                  failure_mode="Open" if name == "f-open" else None))
    routes = docs(*(route(n, "/" + n) for n in list(policies) + ["open"]))
    g = make_module_gateway(routes, {"origin": [origin.address]}, listeners=listeners,
                            policies=docs(*texts))
    g.https_port = https_port
    return g


def last_input(server, path):
    inputs = server.inputs(path)
    assert inputs, "the decision point was not called"
    return inputs[-1]


# --- the call and the input document ---

def test_call_is_a_post_of_json_with_input(gw, opa_server, origin):
    before = opa_server.count("portcullis/authz")
    assert_allowed(gw.port, "/opa/allow", origin)
    assert opa_server.count("portcullis/authz") == before + 1
    call_doc = [c for c in opa_server.calls if c["path"] == "portcullis/authz"][-1]
    assert call_doc["method"] == "POST"
    assert call_doc["content_type"].split(";")[0].strip() == "application/json"
    assert call_doc["has_input"] is True
    assert isinstance(call_doc["input"], dict)


def test_input_document_of_an_authenticated_http_request(gw, opa_server, origin):
    token = mint("alice", client_id="web", scope="orders.read profile", roles=["staff"],
                 org={"tenant": "acme"})
    (status, headers, body), local_port = raw_call(gw.port, [
        "GET /opa/echo/42?x=1&x=2&y=z HTTP/1.1",
        "Host: api.example.com",
        "Authorization: Bearer " + token,
        "X-Tenant: acme",
        "X-Multi: a",
        "X-Multi: b",
        "Cookie: a=1",
        "Cookie: b=2",
        "Connection: close",
    ])
    assert status == 200, body
    inp = last_input(opa_server, "portcullis/authz")
    http_req = inp["attributes"]["request"]["http"]
    assert http_req["method"] == "GET"
    assert http_req["path"] == "/opa/echo/42?x=1&x=2&y=z"
    assert http_req["host"] == "api.example.com"
    assert http_req["scheme"] == "http"
    assert http_req["protocol"] == "HTTP/1.1"
    assert http_req["headers"]["x-tenant"] == "acme"
    assert http_req["headers"]["x-multi"] == "a, b"
    assert http_req["headers"]["cookie"] == "a=1; b=2"
    # OPA gets the credentials as sent, as opa-envoy does; the names are lower case.
    assert http_req["headers"]["authorization"] == "Bearer " + token
    assert all(name == name.lower() for name in http_req["headers"])
    echo = json.loads(body)
    assert http_req["id"] == [v for k, v in echo["headers"] if k.lower() == "x-request-id"][0]

    source = inp["attributes"]["source"]["address"]["socketAddress"]
    assert source == {"address": "127.0.0.1", "portValue": local_port}
    dest = inp["attributes"]["destination"]["address"]["socketAddress"]
    assert dest == {"address": "127.0.0.1", "portValue": gw.port}
    assert "principal" not in inp["attributes"]["source"]

    assert inp["parsed_path"] == ["opa", "echo", "42"]
    assert inp["parsed_query"] == {"x": ["1", "2"], "y": ["z"]}

    principal = inp["principal"]
    assert principal["authenticated"] is True
    assert principal["sub"] == "alice"
    assert principal["iss"] == ISSUER
    assert principal["client_id"] == "web"
    assert sorted(principal["scopes"]) == ["orders.read", "profile"]
    assert principal["roles"] == ["staff"]
    assert principal["claims"]["org"] == {"tenant": "acme"}
    assert principal["claims"]["aud"] == AUDIENCE
    assert principal["claims"]["sub"] == "alice"

    assert "peer" not in inp
    assert inp["route"] == {"name": "default/opa", "rule": 0, "listener": "default/edge/http"}


def test_input_document_of_an_anonymous_request(gw, opa_server, origin):
    assert_allowed(gw.port, "/opa/anon?flag", origin)
    inp = last_input(opa_server, "portcullis/authz")
    assert inp["principal"] == {"authenticated": False}
    assert inp["parsed_path"] == ["opa", "anon"]
    assert "authorization" not in inp["attributes"]["request"]["http"]["headers"]


def test_input_document_of_an_https_request_with_a_client_certificate(gw, pki, opa_server,
                                                                      origin):
    before = origin.served()
    a = pki.call(gw.https_port, "orders", "/opa/tls", {"x-tenant": "acme"})
    assert a.status == 200, a
    assert origin.served() == before + 1
    inp = last_input(opa_server, "portcullis/authz")
    spiffe_id = "spiffe://%s/ns/orders/api" % TRUST_DOMAIN
    assert inp["attributes"]["request"]["http"]["scheme"] == "https"
    assert inp["attributes"]["source"]["principal"] == spiffe_id
    dest = inp["attributes"]["destination"]["address"]["socketAddress"]
    assert dest["portValue"] == gw.https_port
    peer = inp["peer"]
    assert peer["subject"] == "CN=orders-client,O=Example"
    assert peer["spiffe_id"] == spiffe_id
    assert peer["dns_names"] == ["orders.client.example.org"]
    assert peer["uris"] == [spiffe_id]
    assert peer["fingerprint_sha256"] == pki.clients["orders"].fingerprint()
    assert inp["route"]["listener"] == "default/edge/https"


def test_include_headers_limits_the_headers_in_the_input(gw, opa_server, origin):
    assert_allowed(gw.port, "/opahdrs/x", origin,
                   headers={"X-Tenant": "acme", "X-Other": "secret-ish"})
    headers = last_input(opa_server, "portcullis/headers")["attributes"]["request"]["http"][
        "headers"]
    assert headers.get("x-tenant") == "acme"
    assert "x-other" not in headers


# --- decisions ---

def test_boolean_decisions(gw, opa_server, origin):
    assert_allowed(gw.port, "/opa/allow", origin)
    assert_denied(gw.port, "/opa/deny", origin, reason="policy_denied")


def test_object_allow_adds_headers_for_the_upstream_only(gw, origin):
    a = assert_allowed(gw.port, "/opa/obj-allow", origin, token=mint("alice"),
                       headers={"X-Opa-User": "mallory"})
    assert a.upstream_values("x-opa-user") == ["alice"]
    assert a.upstream_values("x-opa-tenant") == ["acme"]
    assert "x-opa-user" not in a.headers
    rec = access_line(gw, a.request_id)
    assert rec["authz"] == "allowed" and DECISION_ID.match(rec["decision_id"])


def test_object_deny_with_status_headers_and_reason(gw, origin):
    before = origin.served()
    a = call(gw.port, "/opa/obj-deny")
    assert_problem(a, 429, "quota_exceeded")
    assert a.headers.get("retry-after") == "7"
    assert a.headers.get("x-opa-why") == "quota"
    assert origin.served() == before


def test_object_deny_without_status_or_reason(gw, origin):
    assert_denied(gw.port, "/opa/obj-deny-plain", origin, reason="policy_denied")
    assert_denied(gw.port, "/opa/deny-401", origin, status=401, reason="login_required")


def test_decision_point_over_https_verified_with_the_ca_bundle(gw, tls_opa, origin):
    assert tls_opa.base_url.startswith("https://")
    before = tls_opa.count()
    assert_allowed(gw.port, "/opatls/allow", origin)
    assert_denied(gw.port, "/opatls/deny", origin, reason="policy_denied")
    assert tls_opa.count() == before + 2


def test_route_without_a_policy_is_not_authorized(gw, opa_server, origin):
    before = opa_server.count()
    a = assert_allowed(gw.port, "/open/x", origin)
    assert opa_server.count() == before
    rec = access_line(gw, a.request_id)
    assert "decision_id" not in rec and "authz" not in rec


# --- the decision cache ---

def test_cache_by_method_and_path(gw, opa_server, origin):
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=15)
    try:
        hits = metric_sum(gw, "portcullis_authz_cache_hits_total")
        calls = opa_server.count("portcullis/cached")
        # One connection stays on one worker, and the cache is per worker.
        first = call(gw.port, "/opacache/a", conn=conn)
        assert first.status == 200
        assert opa_server.count("portcullis/cached") == calls + 1
        again = call(gw.port, "/opacache/a", conn=conn, headers={"x-other": "1"})
        other_sub = call(gw.port, "/opacache/a", conn=conn, token=mint("bob"))
        assert again.status == 200 and other_sub.status == 200
        assert opa_server.count("portcullis/cached") == calls + 1
        assert metric_sum(gw, "portcullis_authz_cache_hits_total") == hits + 2
        # A remembered decision still adds its headers.
        for a in (first, again, other_sub):
            assert a.upstream_values("x-opa-cached") == ["yes"]
        assert call(gw.port, "/opacache/b", conn=conn).status == 200
        assert opa_server.count("portcullis/cached") == calls + 2
        assert call(gw.port, "/opacache/a", conn=conn, method="POST").status == 200
        assert opa_server.count("portcullis/cached") == calls + 3
    finally:
        conn.close()


def test_cache_by_subject(gw, opa_server, origin):
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=15)
    try:
        calls = opa_server.count("portcullis/cached_sub")
        assert call(gw.port, "/opacachesub/a", conn=conn, token=mint("alice")).status == 200
        assert call(gw.port, "/opacachesub/b", conn=conn, token=mint("alice")).status == 200
        assert opa_server.count("portcullis/cached_sub") == calls + 1
        assert call(gw.port, "/opacachesub/a", conn=conn, token=mint("bob")).status == 200
        assert opa_server.count("portcullis/cached_sub") == calls + 2
        inputs = opa_server.inputs("portcullis/cached_sub")
        assert [i["principal"]["sub"] for i in inputs[-2:]] == ["alice", "bob"]
    finally:
        conn.close()


# --- failures ---

def assert_failed(gw, origin, route_name, reason, effect="failed_closed", start=None):
    """One request to the route fails its decision point: closed, a 503 problem; open, served.
    The access log, the refusal counter and the warn line name the failure."""
    start = len(gw.log()) if start is None else start
    refusals = metric_sum(gw, "portcullis_authz_refusals_total", reason=reason)
    decisions = metric_sum(gw, "portcullis_authz_decisions_total", effect=effect)
    before = origin.served()
    a = call(gw.port, "/%s/x" % route_name)
    if effect == "failed_closed":
        assert_problem(a, 503, "authz_unavailable")
        assert origin.served() == before
        request_id = a.headers["x-request-id"]
    else:
        assert a.status == 200, a
        assert origin.served() == before + 1
        request_id = a.request_id
    rec = access_line(gw, request_id)
    assert rec["authz"] == effect
    assert DECISION_ID.match(rec["decision_id"])
    assert metric_sum(gw, "portcullis_authz_refusals_total", reason=reason) == refusals + 1
    assert metric_sum(gw, "portcullis_authz_decisions_total", effect=effect) == decisions + 1
    wait_log(gw, failure_log_pattern("default/" + route_name, "opa", reason, effect), start)
    return a


@pytest.mark.parametrize("route_name, reason", [
    ("f-slow", "authz_timeout"),
    ("f-500", "authz_bad_status"),
    ("f-undefined", "decision_undefined"),
    ("f-badtypes", "decision_malformed"),
    ("f-noallow", "decision_malformed"),
    ("f-down", "authz_unreachable"),
])
def test_failing_decision_point_fails_closed(gw, origin, route_name, reason):
    assert_failed(gw, origin, route_name, reason)


def test_answer_that_is_not_json_fails_closed(gw, origin):
    start = len(gw.log())
    refusals = metric_sum(gw, "portcullis_authz_refusals_total")
    a = call(gw.port, "/f-malformed/x")
    assert_problem(a, 503, "authz_unavailable")
    assert metric_sum(gw, "portcullis_authz_refusals_total") == refusals + 1
    m = wait_log(gw, failure_log_pattern("default/f-malformed", "opa", r"(\w+)"), start)
    assert m.group(1) in ("decision_not_json", "decision_malformed"), m.group(0)
    assert metric_sum(gw, "portcullis_authz_refusals_total", reason=m.group(1)) >= 1


def test_stopped_decision_point_fails_closed(gw, origin, stopped_opa):
    assert_allowed(gw.port, "/f-stopped/x", origin)
    stopped_opa.stop()
    assert_failed(gw, origin, "f-stopped", "authz_unreachable")


def test_failure_mode_open_allows_and_logs(gw, origin):
    a = assert_failed(gw, origin, "f-open", "decision_undefined", effect="failed_open")
    assert a.doc["origin"] == "origin-authz-opa"
