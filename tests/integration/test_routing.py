"""Routing as the Gateway API specifies it: matches, hostnames, precedence, path normalisation,
filters, weighted backends and request ids, checked through the real binary.

Most tests tag each rule with a RequestHeaderModifier that sets X-Rule, and read which rule
served a request from the headers the origin's echo saw (RequestHeaderModifier itself is
tested on its own below). Routes are written as Python dicts and dumped to YAML.
"""

import http.client
import json
import re

import pytest
import yaml

from client import echo, header_values, parse_responses, raw_closed, request
from conftest import simple_route

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# --- building configurations ---

def rule(tag=None, matches=None, filters=None, backends=None, **extra):
    """One rule to Service origin; `tag` sets X-Rule on the request it forwards."""
    r = {"backendRefs": backends if backends is not None else [{"name": "origin", "port": 80}]}
    filters = list(filters or [])
    if tag is not None:
        filters.append({"type": "RequestHeaderModifier",
                        "requestHeaderModifier": {"set": [{"name": "X-Rule", "value": tag}]}})
    if filters:
        r["filters"] = filters
    if matches is not None:
        r["matches"] = matches
    r.update(extra)
    return r


def httproute(name, rules, hostnames=None, created=None, namespace=None, section=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if created:
        meta["creationTimestamp"] = created
    parent = {"name": "edge"}
    if namespace:
        parent["namespace"] = "default"
    if section:
        parent["sectionName"] = section
    spec = {"parentRefs": [parent], "rules": rules}
    if hostnames:
        spec["hostnames"] = hostnames
    return yaml.safe_dump({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                           "metadata": meta, "spec": spec}, sort_keys=False)


def routes(*docs):
    return "\n---\n".join(docs)


def path(kind, value):
    return {"path": {"type": kind, "value": value}}


def prefix(value):
    return path("PathPrefix", value)


def exact(value):
    return path("Exact", value)


def served_by(gw, target="/", host="example.com", headers=None, method="GET"):
    """The X-Rule tag of the rule that served the request, or its status when not 200."""
    status, _, body = request(gw.port, method=method, path=target, host=host, headers=headers)
    if status != 200:
        return status
    doc = json.loads(body)
    tags = header_values(doc, "x-rule")
    return tags[0] if tags else None


def origin_saw(gw, target, host="example.com", headers=None):
    """The target the origin received, or the status when not 200."""
    status, _, doc = echo(gw.port, path=target, host=host, headers=headers)
    return doc["target"] if status == 200 else status


# --- path matches ---

def test_exact_path_matches_only_itself(make_gateway, origin):
    gw = make_gateway(httproute("r", [rule("exact", [exact("/exact")])]),
                      {"origin": [origin.address]})
    assert served_by(gw, "/exact") == "exact"
    assert served_by(gw, "/exact?q=1") == "exact"
    for other in ("/exact/", "/exact/x", "/exactly", "/EXACT", "/"):
        assert served_by(gw, other) == 404, other


def test_path_prefix_matches_whole_elements(make_gateway, origin):
    gw = make_gateway(httproute("r", [rule("abc", [prefix("/abc")])]),
                      {"origin": [origin.address]})
    for p in ("/abc", "/abc/", "/abc/def", "/abc/def/ghi", "/abc?x=1"):
        assert served_by(gw, p) == "abc", p
    for p in ("/abcd", "/ab", "/abcd/e", "/ABC", "/"):
        assert served_by(gw, p) == 404, p


def test_path_prefix_with_trailing_slash_matches_the_bare_element(make_gateway, origin):
    gw = make_gateway(httproute("r", [rule("abc", [prefix("/abc/")])]),
                      {"origin": [origin.address]})
    for p in ("/abc", "/abc/", "/abc/def"):
        assert served_by(gw, p) == "abc", p
    assert served_by(gw, "/abcd") == 404


def test_regular_expression_path_must_match_the_whole_path(make_gateway, origin):
    gw = make_gateway(httproute("r", [rule("re", [path("RegularExpression", "/users/[0-9]+")])]),
                      {"origin": [origin.address]})
    assert served_by(gw, "/users/42") == "re"
    assert served_by(gw, "/users/42?x=y") == "re"
    for p in ("/users/42/x", "/users/abc", "/x/users/42", "/users/"):
        assert served_by(gw, p) == 404, p


def test_header_exact_match_is_case_insensitive_in_name_only(make_gateway, origin):
    m = [{"path": {"type": "PathPrefix", "value": "/"},
          "headers": [{"name": "X-Version", "value": "v2"}]}]
    gw = make_gateway(httproute("r", [rule("v2", m)]), {"origin": [origin.address]})
    assert served_by(gw, headers={"X-Version": "v2"}) == "v2"
    assert served_by(gw, headers={"x-version": "v2"}) == "v2"
    assert served_by(gw, headers={"X-Version": "V2"}) == 404
    assert served_by(gw, headers={"X-Version": "v22"}) == 404
    assert served_by(gw) == 404


def test_header_regular_expression_match(make_gateway, origin):
    m = [{"headers": [{"type": "RegularExpression", "name": "X-Version", "value": "v[0-9]+"}]}]
    gw = make_gateway(httproute("r", [rule("re", m)]), {"origin": [origin.address]})
    assert served_by(gw, headers={"X-Version": "v12"}) == "re"
    assert served_by(gw, headers={"X-Version": "v12x"}) == 404
    assert served_by(gw, headers={"X-Version": "xv12"}) == 404


def test_repeated_header_is_matched_on_its_joined_values(make_gateway, origin):
    m = [{"headers": [{"name": "X-Tag", "value": "a,b"}]}]
    gw = make_gateway(httproute("r", [rule("joined", m)]), {"origin": [origin.address]})
    resp, _ = raw_closed(gw.port, b"GET / HTTP/1.1\r\nHost: h\r\nX-Tag: a\r\nX-Tag: b\r\n"
                                  b"Connection: close\r\n\r\n")
    ((status, _, body),) = parse_responses(resp)
    assert status == 200
    assert header_values(json.loads(body), "x-rule") == ["joined"]


def test_query_param_exact_and_regular_expression_matches(make_gateway, origin):
    gw = make_gateway(httproute("r", [
        rule("exact", [{"queryParams": [{"name": "format", "value": "json"}]}]),
        rule("re", [{"queryParams": [{"type": "RegularExpression", "name": "page",
                                      "value": "[0-9]+"}]}]),
    ]), {"origin": [origin.address]})
    assert served_by(gw, "/?format=json") == "exact"
    assert served_by(gw, "/x?a=1&format=json&b=2") == "exact"
    assert served_by(gw, "/?format=xml") == 404
    assert served_by(gw, "/?Format=json") == 404
    assert served_by(gw, "/?page=12") == "re"
    assert served_by(gw, "/?page=12a") == 404
    assert served_by(gw, "/") == 404


def test_query_param_values_are_percent_decoded_and_first_occurrence_counts(make_gateway, origin):
    gw = make_gateway(httproute("r", [
        rule("space", [{"queryParams": [{"name": "q", "value": "a b"}]}]),
    ]), {"origin": [origin.address]})
    assert served_by(gw, "/?q=a%20b") == "space"
    assert served_by(gw, "/?q=a+b") == 404
    assert served_by(gw, "/?q=a%20b&q=other") == "space"
    assert served_by(gw, "/?q=other&q=a%20b") == 404


def test_method_match(make_gateway, origin):
    gw = make_gateway(httproute("r", [rule("post", [{"method": "POST"}])]),
                      {"origin": [origin.address]})
    assert served_by(gw, method="POST") == "post"
    assert served_by(gw, method="GET") == 404
    assert served_by(gw, method="PUT") == 404


def test_rule_applies_when_any_of_its_matches_does(make_gateway, origin):
    gw = make_gateway(httproute("r", [rule("either", [exact("/a"), exact("/b")])]),
                      {"origin": [origin.address]})
    assert served_by(gw, "/a") == "either"
    assert served_by(gw, "/b") == "either"
    assert served_by(gw, "/c") == 404


def test_all_conditions_of_one_match_must_hold(make_gateway, origin):
    m = [{"path": {"type": "PathPrefix", "value": "/api"}, "method": "GET",
          "headers": [{"name": "X-A", "value": "1"}],
          "queryParams": [{"name": "q", "value": "1"}]}]
    gw = make_gateway(httproute("r", [rule("all", m)]), {"origin": [origin.address]})
    assert served_by(gw, "/api?q=1", headers={"X-A": "1"}) == "all"
    assert served_by(gw, "/api?q=2", headers={"X-A": "1"}) == 404
    assert served_by(gw, "/api?q=1") == 404
    assert served_by(gw, "/other?q=1", headers={"X-A": "1"}) == 404
    assert served_by(gw, "/api?q=1", headers={"X-A": "1"}, method="POST") == 404


# --- hostnames ---

def test_route_hostnames_exact_and_wildcard(make_gateway, origin):
    gw = make_gateway(routes(
        httproute("exact", [rule("exact")], hostnames=["api.example.com"]),
        httproute("wild", [rule("wild")], hostnames=["*.example.com"]),
    ), {"origin": [origin.address]})
    assert served_by(gw, host="api.example.com") == "exact"
    assert served_by(gw, host="API.Example.COM") == "exact"
    assert served_by(gw, host="api.example.com:8080") == "exact"
    assert served_by(gw, host="api.example.com.") == "exact"
    assert served_by(gw, host="www.example.com") == "wild"
    assert served_by(gw, host="a.b.example.com") == "wild"
    assert served_by(gw, host="example.com") == 404
    assert served_by(gw, host="example.org") == 404


def test_longer_wildcard_route_hostname_wins(make_gateway, origin):
    gw = make_gateway(routes(
        httproute("short", [rule("short")], hostnames=["*.example.com"]),
        httproute("long", [rule("long")], hostnames=["*.api.example.com"]),
        httproute("none", [rule("none")]),
    ), {"origin": [origin.address]})
    assert served_by(gw, host="v1.api.example.com") == "long"
    assert served_by(gw, host="www.example.com") == "short"
    assert served_by(gw, host="other.org") == "none"


def test_next_hostname_group_is_tried_when_the_best_has_no_matching_rule(make_gateway, origin):
    gw = make_gateway(routes(
        httproute("exact", [rule("exact", [prefix("/only")])], hostnames=["api.example.com"]),
        httproute("wild", [rule("wild")], hostnames=["*.example.com"]),
    ), {"origin": [origin.address]})
    assert served_by(gw, "/only", host="api.example.com") == "exact"
    assert served_by(gw, "/other", host="api.example.com") == "wild"


LISTENERS = """
- name: api
  port: {port}
  protocol: HTTP
  hostname: api.example.com
- name: wild
  port: {port}
  protocol: HTTP
  hostname: "*.example.com"
- name: any
  port: {port}
  protocol: HTTP
"""


def listener_gateway(make_gateway, origin, docs):
    """A gateway whose three listeners share one port."""
    return make_gateway(docs, {"origin": [origin.address]}, listeners=LISTENERS)


def test_listener_hostnames_choose_which_routes_apply(make_gateway, origin):
    gw = listener_gateway(make_gateway, origin, routes(
        httproute("on-api", [rule("api")], section="api"),
        httproute("on-wild", [rule("wild")], section="wild"),
        httproute("on-any", [rule("any")], section="any"),
    ))
    assert served_by(gw, host="api.example.com") == "api"
    assert served_by(gw, host="www.example.com") == "wild"
    assert served_by(gw, host="x.y.example.com") == "wild"
    assert served_by(gw, host="example.org") == "any"


def test_listener_isolation_gives_404_rather_than_another_listeners_route(make_gateway, origin):
    gw = listener_gateway(make_gateway, origin, routes(
        httproute("on-api", [rule("api", [prefix("/api")])], section="api"),
        httproute("on-wild", [rule("wild")], section="wild"),
        httproute("on-any", [rule("any")], section="any"),
    ))
    assert served_by(gw, "/api", host="api.example.com") == "api"
    assert served_by(gw, "/other", host="api.example.com") == 404


def test_no_listener_for_the_host_gives_404(make_gateway, origin):
    listeners = """
- name: api
  port: {port}
  protocol: HTTP
  hostname: api.example.com
"""
    gw = make_gateway(httproute("r", [rule("api")]), {"origin": [origin.address]},
                      listeners=listeners)
    assert served_by(gw, host="api.example.com") == "api"
    assert served_by(gw, host="other.example.com") == 404


# --- precedence: one test per rule, each within one route and across two ---

def place(within, first, second, **route_kw):
    """Two rules in one route (in this order), or each in its own route (first in "a-first")."""
    if within:
        return httproute("both", [first, second], **route_kw)
    return routes(httproute("a-first", [first], **route_kw),
                  httproute("b-second", [second], **route_kw))


ACROSS = pytest.mark.parametrize("within", [True, False], ids=["within-route", "across-routes"])


@ACROSS
def test_exact_path_wins_over_prefix(make_gateway, origin, within):
    gw = make_gateway(place(within, rule("prefix", [prefix("/api/x")]),
                            rule("exact", [exact("/api/x")])), {"origin": [origin.address]})
    assert served_by(gw, "/api/x") == "exact"
    assert served_by(gw, "/api/x/y") == "prefix"


@ACROSS
def test_regular_expression_path_ranks_between_exact_and_prefix(make_gateway, origin, within):
    gw = make_gateway(place(within, rule("prefix", [prefix("/api/items/42")]),
                            rule("regex", [path("RegularExpression", "/api/items/[0-9]+")])),
                      {"origin": [origin.address]})
    assert served_by(gw, "/api/items/42") == "regex"
    gw2 = make_gateway(place(within, rule("regex", [path("RegularExpression", "/api/.*")]),
                             rule("exact", [exact("/api/x")])), {"origin": [origin.address]})
    assert served_by(gw2, "/api/x") == "exact"
    assert served_by(gw2, "/api/y") == "regex"


@ACROSS
def test_longest_prefix_wins(make_gateway, origin, within):
    gw = make_gateway(place(within, rule("short", [prefix("/api")]),
                            rule("long", [prefix("/api/v1")])), {"origin": [origin.address]})
    assert served_by(gw, "/api/v1/users") == "long"
    assert served_by(gw, "/api/v1") == "long"
    assert served_by(gw, "/api/v10") == "short"
    assert served_by(gw, "/api/v2") == "short"


@ACROSS
def test_method_match_wins_over_none(make_gateway, origin, within):
    gw = make_gateway(place(within, rule("any", [prefix("/m")]),
                            rule("get", [{"path": {"type": "PathPrefix", "value": "/m"},
                                          "method": "GET"}])), {"origin": [origin.address]})
    assert served_by(gw, "/m", method="GET") == "get"
    assert served_by(gw, "/m", method="POST") == "any"


@ACROSS
def test_more_header_matches_win(make_gateway, origin, within):
    one = [{"headers": [{"name": "X-A", "value": "1"}]}]
    two = [{"headers": [{"name": "X-A", "value": "1"}, {"name": "X-B", "value": "2"}]}]
    gw = make_gateway(place(within, rule("one", one), rule("two", two)),
                      {"origin": [origin.address]})
    assert served_by(gw, headers={"X-A": "1", "X-B": "2"}) == "two"
    assert served_by(gw, headers={"X-A": "1"}) == "one"


@ACROSS
def test_more_query_param_matches_win(make_gateway, origin, within):
    one = [{"queryParams": [{"name": "a", "value": "1"}]}]
    two = [{"queryParams": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]}]
    gw = make_gateway(place(within, rule("one", one), rule("two", two)),
                      {"origin": [origin.address]})
    assert served_by(gw, "/?a=1&b=2") == "two"
    assert served_by(gw, "/?a=1") == "one"


def test_path_outranks_method_headers_and_query(make_gateway, origin):
    """The criteria apply in order: a longer prefix wins over a rule with more of the rest."""
    rich = [{"path": {"type": "PathPrefix", "value": "/api"}, "method": "GET",
             "headers": [{"name": "X-A", "value": "1"}],
             "queryParams": [{"name": "q", "value": "1"}]}]
    gw = make_gateway(routes(httproute("a", [rule("rich", rich)]),
                             httproute("b", [rule("long", [prefix("/api/v1")])])),
                      {"origin": [origin.address]})
    assert served_by(gw, "/api/v1?q=1", headers={"X-A": "1"}) == "long"


def test_method_outranks_headers(make_gateway, origin):
    by_method = [{"method": "GET"}]
    by_headers = [{"headers": [{"name": "X-A", "value": "1"}, {"name": "X-B", "value": "1"}]}]
    gw = make_gateway(routes(httproute("a", [rule("headers", by_headers)]),
                             httproute("b", [rule("method", by_method)])),
                      {"origin": [origin.address]})
    assert served_by(gw, headers={"X-A": "1", "X-B": "1"}) == "method"


def test_older_creation_timestamp_wins_across_routes(make_gateway, origin):
    gw = make_gateway(routes(
        httproute("a-newer", [rule("newer")], created="2024-06-01T00:00:00Z"),
        httproute("b-older", [rule("older")], created="2023-01-01T00:00:00Z"),
    ), {"origin": [origin.address]})
    assert served_by(gw, "/x") == "older"


def test_route_without_creation_timestamp_counts_as_newest(make_gateway, origin):
    gw = make_gateway(routes(
        httproute("a-undated", [rule("undated")]),
        httproute("b-dated", [rule("dated")], created="2030-01-01T00:00:00Z"),
    ), {"origin": [origin.address]})
    assert served_by(gw, "/x") == "dated"


def test_alphabetical_name_breaks_ties_across_routes(make_gateway, origin):
    gw = make_gateway(routes(
        httproute("zeta", [rule("zeta")], created="2024-01-01T00:00:00Z"),
        httproute("alpha", [rule("alpha")], created="2024-01-01T00:00:00Z"),
        httproute("beta", [rule("beta")], created="2024-01-01T00:00:00Z"),
    ), {"origin": [origin.address]})
    assert served_by(gw, "/x") == "alpha"


NAMESPACED = """
apiVersion: portcullis.dev/v1alpha1
kind: ServiceEndpoints
metadata:
  name: origin
  namespace: %s
spec:
  ports:
  - port: 80
    endpoints:
    - "%s"
"""


def test_alphabetical_namespace_breaks_ties_before_name(make_gateway, origin):
    listeners = """
- name: http
  port: {port}
  protocol: HTTP
  allowedRoutes:
    namespaces:
      from: All
"""
    gw = make_gateway(routes(
        httproute("aaa", [rule("beta/aaa")], namespace="beta"),
        httproute("zzz", [rule("alpha/zzz")], namespace="alpha"),
    ), {"origin": [origin.address]}, listeners=listeners,
        policies=routes(NAMESPACED % ("alpha", origin.address),
                        NAMESPACED % ("beta", origin.address)))
    assert served_by(gw, "/x") == "alpha/zzz"


def test_first_rule_in_a_route_breaks_ties(make_gateway, origin):
    gw = make_gateway(httproute("r", [rule("first", [prefix("/p")]), rule("second", [prefix("/p")]),
                                      rule("third", [prefix("/p")])]),
                      {"origin": [origin.address]})
    assert served_by(gw, "/p") == "first"


# --- path normalisation, as routed and as forwarded ---

@pytest.mark.parametrize("sent,forwarded", [
    ("/echo/a/../b", "/echo/b"),
    ("/echo/./a", "/echo/a"),
    ("/echo/a/%2E%2E/b", "/echo/b"),
    ("/echo/a/%2e/b", "/echo/a/b"),
    ("//echo///a//b", "/echo/a/b"),
    ("/../../echo", "/echo"),
    ("/echo/a/..", "/echo/"),
    ("/echo/%7Euser", "/echo/~user"),
    ("/echo/%41%62%2D%5F%2E", "/echo/Ab-_."),
    ("/echo/%c3%a9", "/echo/%C3%A9"),
    ("/echo/%20", "/echo/%20"),
    ("/echo/a?x=../%2F&y=%7E", "/echo/a?x=../%2F&y=%7E"),
], ids=["dot-dot", "dot", "encoded-dot-dot", "encoded-dot", "duplicate-slashes", "above-root",
        "trailing-dot-dot", "tilde", "unreserved", "upper-cased-hex", "space-kept",
        "query-untouched"])
def test_path_is_normalised_before_forwarding(make_gateway, origin, sent, forwarded):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    assert origin_saw(gw, sent) == forwarded


def test_routing_sees_the_normalised_path(make_gateway, origin):
    gw = make_gateway(routes(
        httproute("admin", [rule("admin", [exact("/admin")])]),
        httproute("public", [rule("public", [prefix("/public")])]),
    ), {"origin": [origin.address]})
    assert served_by(gw, "/public/../admin") == "admin"
    assert served_by(gw, "/%61dmin") == "admin"
    assert served_by(gw, "//admin") == "admin"
    assert served_by(gw, "/public/%2e%2e/admin") == "admin"
    assert served_by(gw, "/public/./x") == "public"


@pytest.mark.parametrize("target", ["/echo/a%2Fb", "/echo/a%2fb", "/echo/a%5Cb", "/echo/%2F"])
def test_encoded_slash_is_refused_with_400_by_default(make_gateway, origin, target):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    before = origin.served()
    status, headers, _ = request(gw.port, path=target)
    assert status == 400
    assert origin.served() == before


KEEP_SLASHES = """
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: keep-slashes
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: edge
  path:
    encodedSlashes: Keep
"""


def test_encoded_slash_is_kept_when_the_listener_allows_it(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]}, policies=KEEP_SLASHES)
    assert origin_saw(gw, "/echo/a%2Fb") == "/echo/a%2Fb"
    assert origin_saw(gw, "/echo/a%2fb/../c") == "/echo/c"
    assert origin_saw(gw, "/echo/a%5cb") == "/echo/a%5Cb"


def test_kept_encoded_slash_does_not_match_a_slash(make_gateway, origin):
    gw = make_gateway(routes(httproute("ab", [rule("ab", [exact("/a/b")])]),
                             httproute("other", [rule("other")])),
                      {"origin": [origin.address]}, policies=KEEP_SLASHES)
    assert served_by(gw, "/a/b") == "ab"
    assert served_by(gw, "/a%2Fb") == "other"


@pytest.mark.parametrize("target", [b"/echo/%zz", b"/echo/%4", b"/echo/a\\b"],
                         ids=["bad-hex", "short-escape", "backslash"])
def test_malformed_path_is_refused_with_400(make_gateway, origin, target):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    resp, _ = raw_closed(gw.port, b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    assert parse_responses(resp)[0][0] == 400


# --- filters ---

def header_filter(kind, set_=None, add=None, remove=None):
    key = "requestHeaderModifier" if kind == "RequestHeaderModifier" else "responseHeaderModifier"
    body = {}
    if set_:
        body["set"] = [{"name": k, "value": v} for k, v in set_]
    if add:
        body["add"] = [{"name": k, "value": v} for k, v in add]
    if remove:
        body["remove"] = remove
    return {"type": kind, key: body}


def test_request_header_modifier_sets_adds_and_removes(make_gateway, origin):
    f = header_filter("RequestHeaderModifier", set_=[("X-Set", "gateway")],
                      add=[("X-Add", "gateway")], remove=["X-Remove"])
    gw = make_gateway(httproute("r", [rule(filters=[f])]), {"origin": [origin.address]})
    _, _, doc = echo(gw.port, headers={"X-Set": "client", "X-Add": "client", "X-Remove": "x",
                                       "X-Keep": "k"})
    assert header_values(doc, "x-set") == ["gateway"]
    assert header_values(doc, "x-add") == ["client", "gateway"]
    assert header_values(doc, "x-remove") == []
    assert header_values(doc, "x-keep") == ["k"]
    _, _, doc = echo(gw.port)
    assert header_values(doc, "x-set") == ["gateway"]
    assert header_values(doc, "x-add") == ["gateway"]


def test_request_header_modifier_names_are_case_insensitive(make_gateway, origin):
    f = header_filter("RequestHeaderModifier", set_=[("x-set", "gateway")], remove=["x-remove"])
    gw = make_gateway(httproute("r", [rule(filters=[f])]), {"origin": [origin.address]})
    _, _, doc = echo(gw.port, headers={"X-SET": "client", "X-REMOVE": "x"})
    assert header_values(doc, "x-set") == ["gateway"]
    assert header_values(doc, "x-remove") == []


def test_response_header_modifier_sets_adds_and_removes(make_gateway, origin):
    f = header_filter("ResponseHeaderModifier", set_=[("Content-Type", "text/x-set")],
                      add=[("X-Added", "yes")], remove=["X-Origin"])
    gw = make_gateway(httproute("r", [rule(filters=[f])]), {"origin": [origin.address]})
    status, headers, body = request(gw.port, path="/echo")
    assert status == 200
    assert headers["content-type"] == "text/x-set"
    assert headers["x-added"] == "yes"
    assert "x-origin" not in headers
    assert json.loads(body)["origin"] == "origin-a"


def redirect_gateway(make_gateway, origin, redirect, matches=None):
    r = {"filters": [{"type": "RequestRedirect", "requestRedirect": redirect}]}
    if matches is not None:
        r["matches"] = matches
    return make_gateway(httproute("r", [r]), {"origin": [origin.address]})


def location(gw, target, host="example.com"):
    status, headers, body = request(gw.port, path=target, host=host)
    return status, headers.get("location")


def test_redirect_scheme_uses_its_well_known_port(make_gateway, origin):
    gw = redirect_gateway(make_gateway, origin, {"scheme": "https"})
    assert location(gw, "/a/b?q=1") == (302, "https://example.com/a/b?q=1")
    assert location(gw, "/a", host="example.com:8080") == (302, "https://example.com/a")


def test_redirect_without_scheme_or_port_keeps_the_listener_port(make_gateway, origin):
    gw = redirect_gateway(make_gateway, origin, {"hostname": "new.example.com"})
    assert location(gw, "/a?q=1") == (302, "http://new.example.com:%d/a?q=1" % gw.port)


def test_redirect_port_is_written_unless_it_is_the_schemes_default(make_gateway, origin):
    gw = redirect_gateway(make_gateway, origin, {"scheme": "https", "port": 8443})
    assert location(gw, "/a") == (302, "https://example.com:8443/a")
    gw2 = redirect_gateway(make_gateway, origin, {"scheme": "https", "port": 443})
    assert location(gw2, "/a") == (302, "https://example.com/a")
    gw3 = redirect_gateway(make_gateway, origin, {"scheme": "http", "port": 80})
    assert location(gw3, "/a") == (302, "http://example.com/a")
    gw4 = redirect_gateway(make_gateway, origin, {"port": 9000})
    assert location(gw4, "/a") == (302, "http://example.com:9000/a")


def test_redirect_status_code_301(make_gateway, origin):
    gw = redirect_gateway(make_gateway, origin, {"scheme": "https", "statusCode": 301})
    status, loc = location(gw, "/x")
    assert (status, loc) == (301, "https://example.com/x")


def test_redirect_replace_full_path_keeps_the_query(make_gateway, origin):
    gw = redirect_gateway(make_gateway, origin,
                          {"scheme": "https",
                           "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}})
    assert location(gw, "/old/deep?q=1&r=2") == (302, "https://example.com/new?q=1&r=2")


def test_redirect_replace_prefix_match(make_gateway, origin):
    gw = redirect_gateway(make_gateway, origin,
                          {"scheme": "https",
                           "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}},
                          matches=[prefix("/old")])
    assert location(gw, "/old/x/y?q=1") == (302, "https://example.com/new/x/y?q=1")
    assert location(gw, "/old") == (302, "https://example.com/new")
    assert location(gw, "/oldish")[0] == 404


def test_redirect_sends_no_request_upstream(make_gateway, origin):
    gw = redirect_gateway(make_gateway, origin, {"scheme": "https"})
    before = origin.served()
    assert location(gw, "/a")[0] == 302
    assert origin.served() == before


def rewrite_gateway(make_gateway, origin, rewrite, matches=None):
    r = rule(filters=[{"type": "URLRewrite", "urlRewrite": rewrite}], matches=matches)
    return make_gateway(httproute("r", [r]), {"origin": [origin.address]})


def test_url_rewrite_hostname(make_gateway, origin):
    gw = rewrite_gateway(make_gateway, origin, {"hostname": "internal.example"})
    _, _, doc = echo(gw.port, path="/echo", host="public.example.com")
    assert header_values(doc, "host") == ["internal.example"]
    assert header_values(doc, "x-forwarded-host") == ["public.example.com"]


def test_url_rewrite_replace_full_path_keeps_the_query(make_gateway, origin):
    gw = rewrite_gateway(make_gateway, origin,
                         {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/echo/new"}})
    assert origin_saw(gw, "/anything/else?q=1") == "/echo/new?q=1"


@pytest.mark.parametrize("match,replacement,sent,forwarded", [
    ("/api/v1", "/v2", "/api/v1/users", "/v2/users"),
    ("/api/v1", "/v2", "/api/v1", "/v2"),
    ("/api/v1", "/v2", "/api/v1/", "/v2/"),
    ("/api/v1", "/v2/", "/api/v1/users", "/v2/users"),
    ("/api/", "/v2", "/api/users?q=1", "/v2/users?q=1"),
    ("/api", "/", "/api/users", "/users"),
    ("/api", "/", "/api", "/"),
    ("/api", "/", "/api/", "/"),
    ("/", "/prefix", "/users", "/prefix/users"),
], ids=["simple", "whole-prefix", "trailing-slash", "slash-in-replacement", "slash-in-match",
        "root-replacement", "root-replacement-bare", "root-replacement-slash", "root-match"])
def test_url_rewrite_replace_prefix_match(make_gateway, origin, match, replacement, sent,
                                          forwarded):
    rewrite = {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": replacement}}
    gw = rewrite_gateway(make_gateway, origin, rewrite, matches=[prefix(match)])
    assert origin_saw(gw, sent) == forwarded


# --- backends ---

def split(port, n):
    """Which origin answered each of n requests on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    seen = {}
    try:
        for _ in range(n):
            conn.request("GET", "/echo", headers={"Host": "example.com"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
            name = resp.getheader("x-origin")
            seen[name] = seen.get(name, 0) + 1
    finally:
        conn.close()
    return seen


def weighted(weights):
    return httproute("r", [rule(backends=[{"name": name, "port": 80, "weight": w}
                                          for name, w in weights])])


def test_backend_weights_split_traffic_statistically(make_gateway, origin, origin_b):
    """1:3 over 400 requests: origin-b's share is Binomial(400, 0.75), mean 300, sd 8.66; the
    two-sided 99.9% bound (z = 3.29) is +-28.5."""
    gw = make_gateway(weighted([("one", 1), ("three", 3)]),
                      {"one": [origin.address], "three": [origin_b.address]})
    seen = split(gw.port, 400)
    assert sum(seen.values()) == 400
    assert 300 - 28.5 <= seen.get("origin-b", 0) <= 300 + 28.5, seen


def test_backend_with_weight_zero_gets_nothing(make_gateway, origin, origin_b):
    gw = make_gateway(weighted([("zero", 0), ("one", 1)]),
                      {"zero": [origin_b.address], "one": [origin.address]})
    assert split(gw.port, 100) == {"origin-a": 100}
    assert origin_b.served() == 0


def test_rule_whose_weights_are_all_zero_answers_500(make_gateway, origin, origin_b):
    gw = make_gateway(weighted([("a", 0), ("b", 0)]),
                      {"a": [origin.address], "b": [origin_b.address]})
    status, headers, body = request(gw.port, path="/echo")
    assert status == 500
    assert headers["content-type"] == "application/problem+json"
    assert origin.served() == 0 and origin_b.served() == 0


def test_rule_without_backends_answers_500(make_gateway, origin):
    r = {"matches": [prefix("/")]}
    gw = make_gateway(httproute("r", [r]), {"origin": [origin.address]})
    assert request(gw.port, path="/echo")[0] == 500


def test_both_endpoints_of_a_service_receive_traffic(make_gateway, origin, origin_b):
    gw = make_gateway(simple_route(), {"origin": [origin.address, origin_b.address]})
    seen = split(gw.port, 100)
    assert set(seen) == {"origin-a", "origin-b"}, seen


# --- request ids ---

TRUST_IDS = """
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: trust-ids
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: edge
  requestId:
    trustClient: true
"""


def test_trusted_client_request_id_is_kept(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]}, policies=TRUST_IDS)
    for rid in ("abc-123", "trace.1:2_3", "A" * 36):
        _, headers, doc = echo(gw.port, headers={"X-Request-Id": rid})
        assert header_values(doc, "x-request-id") == [rid]
        assert headers["x-request-id"] == rid


@pytest.mark.parametrize("rid", ["has space", "semi;colon", "quote\"d", "x" * 129, "",
                                 "slash/es", "percent%20"],
                         ids=["space", "semicolon", "quote", "too-long", "empty", "slash",
                              "percent"])
def test_invalid_client_request_id_is_replaced_even_when_trusted(make_gateway, origin, rid):
    gw = make_gateway(simple_route(), {"origin": [origin.address]}, policies=TRUST_IDS)
    _, headers, doc = echo(gw.port, headers={"X-Request-Id": rid})
    (seen,) = header_values(doc, "x-request-id")
    assert UUID.match(seen), seen
    assert headers["x-request-id"] == seen


def test_client_request_id_is_replaced_when_not_trusted(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    _, headers, doc = echo(gw.port, headers={"X-Request-Id": "abc-123"})
    (seen,) = header_values(doc, "x-request-id")
    assert UUID.match(seen)
    assert headers["x-request-id"] == seen
