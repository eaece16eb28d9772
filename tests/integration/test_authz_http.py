"""Authorization by a plain HTTP check service through the real binary (the auth_request /
ext_authz HTTP contract): what the check receives (GET, the request's path and query appended
or not, the forwarded headers and the X-Forwarded-* set, never the body), how its status
decides (2xx allows; 401 and 403 deny with that status; other 3xx and 4xx deny with 403; 5xx,
a timeout or no answer fail), which of its answer's headers reach the upstream (and that a
client cannot send them itself), the decision cache, and failureMode Open.

The check service is authz_util.CheckServer, a recording server in this process; its answer
depends on the path it is asked about. OPA itself is not involved here (no OPA binary can be
installed on this machine; test_authz_opa.py uses a stand-in that follows its REST API).
"""

import http.client

import pytest

from authz_util import (DECISION_ID, CheckServer, Pki, access_line, assert_allowed,
                        assert_denied, assert_problem, authz_policy, call, docs,
                        failure_log_pattern, header_of, indent, metric_sum, route, route_target,
                        wait_log)
from conftest import Origin, free_port

TIMEOUT = "1s"
SLOW_TIMEOUT = "300ms"

ANSWERS = {
    "allow": (200, [("X-Auth-User", "alice"), ("X-Auth-Unlisted", "no")]),
    "created": (201, [("X-Auth-User", "carol")]),
    "nocontent": (204, []),
    "deny401": (401, [("WWW-Authenticate", 'Bearer realm="check"')]),
    "deny403": (403, []),
    "redirect": (302, [("Location", "https://login.example.com/")]),
    "notfound": (404, []),
    "teapot": (418, []),
    "error": (500, []),
    "unavailable": (503, []),
}


def respond(req):
    """The answer for the path the check is asked about: /check/<route>/<answer>...;
    /check-slow... answers late; /check-open... fails; anything else is allowed."""
    if req["path"].startswith("/check-slow"):
        return "slow"
    if req["path"].startswith("/check-open"):
        return (500, [])
    parts = req["path"].split("/")
    if len(parts) > 3 and parts[1] == "check" and parts[3] in ANSWERS:
        return ANSWERS[parts[3]]
    return (200, [("X-Auth-User", "default")])


def check(url, timeout=TIMEOUT, extra=""):
    return "http:\n  url: %s\n  timeout: %s\n%s" % (url, timeout, extra)


@pytest.fixture(scope="module")
def checker():
    s = CheckServer(respond)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def pki():
    p = Pki()
    yield p
    p.remove()


@pytest.fixture(scope="module")
def tls_checker(pki):
    s = CheckServer(respond, tls=pki.point_files)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def origin():
    o = Origin("origin-authz-http")
    yield o
    o.stop()


@pytest.fixture(scope="module")
def gw(make_module_gateway, origin, checker, tls_checker, pki):
    base = checker.base_url

    def inline_ca(ca):
        return "  caBundle:\n    pem: |\n" + indent(ca.pem.decode(), 6)

    policies = {
        "http": check(base + "/check", extra="""
  appendPath: true
  forwardHeaders: [authorization, x-user]
  upstreamHeaders: [x-auth-user]
"""),
        "httpplain": check(base + "/plain-check", extra="  appendPath: false\n"),
        "httpcache": check(base + "/check", extra="""
  appendPath: true
  cache:
    ttl: 30s
    key: [attributes.request.http.method, parsed_path]
"""),
        "httpslow": check(base + "/check-slow", timeout=SLOW_TIMEOUT),
        "httpdown": check("http://127.0.0.1:%d/check" % free_port()),
        "httpopen": check(base + "/check-open"),
        "httpshadow": check(base + "/check", extra="  appendPath: true\n"),
        "httptls": check(tls_checker.base_url + "/check",
                         extra="  appendPath: true\n" + inline_ca(pki.point_ca)),
        "httptlsbad": check(tls_checker.base_url + "/check",
                            extra="  appendPath: true\n" + inline_ca(pki.server_ca)),
    }
    texts = [authz_policy(name, route_target(name), body,
                          failure_mode="Open" if name == "httpopen" else None,
                          mode="Shadow" if name == "httpshadow" else None)
             for name, body in policies.items()]
    return make_module_gateway(docs(*(route(n, "/" + n) for n in policies)),
                               {"origin": [origin.address]}, policies=docs(*texts))


# --- what the check receives ---

def test_check_request_carries_path_query_and_forwarded_headers(gw, checker, origin):
    before = checker.count()
    a = assert_allowed(gw.port, "/http/allow?q=1&r=two", origin, host="api.example.com",
                       headers={"Authorization": "Bearer opaque-credential", "X-User": "u1",
                                "X-Other": "not-forwarded"})
    assert checker.count() == before + 1
    req = checker.last()
    assert req["method"] == "GET"
    assert req["target"] == "/check/http/allow?q=1&r=two"
    assert req["body_len"] == 0
    assert header_of(req, "authorization") == ["Bearer opaque-credential"]
    assert header_of(req, "x-user") == ["u1"]
    assert header_of(req, "x-other") == []
    assert header_of(req, "x-forwarded-method") == ["GET"]
    assert header_of(req, "x-forwarded-uri") == ["/http/allow?q=1&r=two"]
    assert header_of(req, "x-forwarded-host") == ["api.example.com"]
    assert header_of(req, "x-forwarded-proto") == ["http"]
    assert header_of(req, "x-forwarded-for") == ["127.0.0.1"]
    assert header_of(req, "x-request-id") == a.upstream_values("x-request-id")
    assert header_of(req, "x-request-id") != []


def test_client_cannot_choose_what_the_check_is_told(gw, checker, origin):
    assert_allowed(gw.port, "/http/allow", origin,
                   headers={"X-Forwarded-Uri": "/public", "X-Forwarded-Method": "HEAD",
                            "X-Forwarded-Host": "public.example.com",
                            "X-Forwarded-Proto": "https"})
    req = checker.last()
    assert header_of(req, "x-forwarded-uri") == ["/http/allow"]
    assert header_of(req, "x-forwarded-method") == ["GET"]
    assert header_of(req, "x-forwarded-host") == ["example.com"]
    assert header_of(req, "x-forwarded-proto") == ["http"]


def test_check_of_a_post_is_a_get_without_the_body(gw, checker, origin):
    a = assert_allowed(gw.port, "/http/allow", origin, method="POST", body=b"x" * 1000,
                       headers={"Content-Type": "text/plain"})
    assert a.doc["body_len"] == 1000
    req = checker.last()
    assert req["method"] == "GET"
    assert req["body_len"] == 0
    assert header_of(req, "x-forwarded-method") == ["POST"]


def test_check_url_without_the_path_appended(gw, checker, origin):
    assert_allowed(gw.port, "/httpplain/x?y=1", origin)
    req = checker.last()
    assert req["target"] == "/plain-check"
    assert header_of(req, "x-forwarded-uri") == ["/httpplain/x?y=1"]
    assert header_of(req, "x-user") == []


# --- what its answer decides ---

def test_upstream_headers_come_from_the_check_answer_only(gw, origin):
    a = assert_allowed(gw.port, "/http/allow", origin, headers={"X-Auth-User": "mallory"})
    assert a.upstream_values("x-auth-user") == ["alice"]
    assert a.upstream_values("x-auth-unlisted") == []
    rec = access_line(gw, a.request_id)
    assert rec["authz"] == "allowed" and DECISION_ID.match(rec["decision_id"])
    # Where the check names none, the client's own field is still removed.
    b = assert_allowed(gw.port, "/http/nocontent", origin, headers={"X-Auth-User": "mallory"})
    assert b.upstream_values("x-auth-user") == []


def test_any_2xx_allows(gw, origin):
    a = assert_allowed(gw.port, "/http/created", origin)
    assert a.upstream_values("x-auth-user") == ["carol"]
    assert_allowed(gw.port, "/http/nocontent", origin)


@pytest.mark.parametrize("answer, status", [
    ("deny401", 401),
    ("deny403", 403),
    ("redirect", 403),
    ("notfound", 403),
    ("teapot", 403),
])
def test_3xx_and_4xx_deny(gw, origin, answer, status):
    denied_before = metric_sum(gw, "portcullis_authz_decisions_total", effect="denied")
    doc = assert_denied(gw.port, "/http/%s" % answer, origin, status=status,
                        reason="check_denied")
    assert metric_sum(gw, "portcullis_authz_decisions_total", effect="denied") == \
        denied_before + 1
    assert doc["status"] == status


def test_cache_by_method_and_path(gw, checker):
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=15)
    try:
        hits = metric_sum(gw, "portcullis_authz_cache_hits_total")
        before = checker.count()
        assert call(gw.port, "/httpcache/a", conn=conn).status == 200
        assert call(gw.port, "/httpcache/a", conn=conn, headers={"X-Other": "1"}).status == 200
        assert checker.count() == before + 1
        assert metric_sum(gw, "portcullis_authz_cache_hits_total") == hits + 1
        assert call(gw.port, "/httpcache/b", conn=conn).status == 200
        assert checker.count() == before + 2
        assert call(gw.port, "/httpcache/a", conn=conn, method="DELETE").status == 200
        assert checker.count() == before + 3
    finally:
        conn.close()


# --- failures ---

def test_check_over_https_verified_with_an_inline_ca_bundle(gw, tls_checker, origin):
    assert tls_checker.base_url.startswith("https://")
    before = tls_checker.count()
    a = assert_allowed(gw.port, "/httptls/allow", origin)
    assert a.upstream_values("x-auth-user") == []
    assert_denied(gw.port, "/httptls/deny403", origin, reason="check_denied")
    assert tls_checker.count() == before + 2
    assert tls_checker.last()["target"] == "/check/httptls/deny403"


@pytest.mark.parametrize("path, policy, reason", [
    ("/http/error", "http", "authz_bad_status"),
    ("/http/unavailable", "http", "authz_bad_status"),
    ("/httpslow/x", "httpslow", "authz_timeout"),
    ("/httpdown/x", "httpdown", "authz_unreachable"),
    ("/httptlsbad/allow", "httptlsbad", "authz_unreachable"),
])
def test_failing_check_fails_closed(gw, origin, path, policy, reason):
    start = len(gw.log())
    refusals = metric_sum(gw, "portcullis_authz_refusals_total", reason=reason)
    closed = metric_sum(gw, "portcullis_authz_decisions_total", effect="failed_closed")
    before = origin.served()
    a = call(gw.port, path)
    assert_problem(a, 503, "authz_unavailable")
    assert origin.served() == before
    assert access_line(gw, a.headers["x-request-id"])["authz"] == "failed_closed"
    assert metric_sum(gw, "portcullis_authz_refusals_total", reason=reason) == refusals + 1
    assert metric_sum(gw, "portcullis_authz_decisions_total", effect="failed_closed") == \
        closed + 1
    wait_log(gw, failure_log_pattern("default/" + policy, "http", reason), start)


def test_failure_mode_open_allows_and_logs(gw, origin):
    start = len(gw.log())
    opened = metric_sum(gw, "portcullis_authz_decisions_total", effect="failed_open")
    a = assert_allowed(gw.port, "/httpopen/x", origin)
    assert access_line(gw, a.request_id)["authz"] == "failed_open"
    assert metric_sum(gw, "portcullis_authz_decisions_total", effect="failed_open") == opened + 1
    wait_log(gw, failure_log_pattern("default/httpopen", "http", "authz_bad_status",
                                     "failed_open"), start)


@pytest.mark.parametrize("answer, effect", [
    ("deny403", "would_deny"),
    ("error", "shadow_failed"),
])
def test_shadow_mode_serves_denials_and_failures(gw, origin, answer, effect):
    before = metric_sum(gw, "portcullis_authz_decisions_total", effect=effect)
    a = assert_allowed(gw.port, "/httpshadow/%s" % answer, origin)
    rec = access_line(gw, a.request_id)
    assert rec["authz"] == effect
    assert DECISION_ID.match(rec["decision_id"])
    assert metric_sum(gw, "portcullis_authz_decisions_total", effect=effect) == before + 1
