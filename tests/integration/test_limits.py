"""Size limits on requests: the request line (414), header bytes and count (431) and the body
(413), at their defaults, set per listener by a ClientTrafficPolicy on the Gateway, and narrowed
per route by a ClientTrafficPolicy on an HTTPRoute.

Sizes are checked with a margin around each limit where the exact accounting (what counts
toward "line" or "header bytes") is an implementation choice, and exactly where the limit is a
count (headers, body bytes).
"""

import socket
import subprocess
import threading

import pytest

from client import parse_responses, raw_closed, read_response
from conftest import binary, gateway_config, simple_route

KIB = 1024
MIB = 1024 * 1024


def build(target="/echo", headers=(), body=None, method=None, chunked=False, close=True):
    """A request's bytes: Host first, then headers [(name, value)], then framing."""
    method = method or ("POST" if body is not None else "GET")
    lines = [b"%s %s HTTP/1.1" % (method.encode(), target.encode()), b"Host: a"]
    lines += [b"%s: %s" % (k.encode(), v.encode()) for k, v in headers]
    if close:
        lines.append(b"Connection: close")
    if body is not None and chunked:
        lines.append(b"Transfer-Encoding: chunked")
    elif body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    data = b"\r\n".join(lines) + b"\r\n\r\n"
    if body is not None and chunked:
        for i in range(0, len(body), 16 * KIB):
            piece = body[i:i + 16 * KIB]
            data += b"%x\r\n%s\r\n" % (len(piece), piece)
        data += b"0\r\n\r\n"
    elif body is not None:
        data += body
    return data


def status_of(gw, data, timeout=20.0):
    resp, _ = raw_closed(gw.port, data, timeout=timeout)
    responses = parse_responses(resp)
    assert responses, "no answer: %r" % resp[:200]
    return responses[0][0], responses[0][1]


def headers_totalling(n_bytes, name="X-Fill"):
    """Field lines (besides Host and Connection) whose name, value and 4 bytes of ": " and CRLF
    each add up to about n_bytes, in 1000-byte lines."""
    out = []
    i = 0
    while n_bytes > 0:
        size = min(1000, n_bytes)
        field = "%s-%d" % (name, i)
        out.append((field, "v" * max(1, size - len(field) - 4)))
        n_bytes -= size
        i += 1
    return out


def many_headers(total):
    """Exactly `total` field lines including Host and Connection."""
    return [("X-H%d" % i, "1") for i in range(total - 2)]


def gateway_policy(**limits):
    lines = "".join("    %s: %s\n" % kv for kv in limits.items())
    return """
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: listener-limits
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: edge
  limits:
%s""" % lines


def route_policy(route, **limits):
    lines = "".join("    %s: %s\n" % kv for kv in limits.items())
    return """
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: %s-limits
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: %s
  limits:
%s""" % (route, route, lines)


def two_routes():
    """Route "small" serves /small, route "web" everything else; both to the origin."""
    return simple_route(name="web") + "\n---\n" + """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: small
spec:
  parentRefs:
  - name: edge
  rules:
  - matches:
    - path: {type: PathPrefix, value: /small}
    backendRefs:
    - name: origin
      port: 80
"""


# --- defaults ---

@pytest.fixture
def default_gw(make_gateway, origin):
    return make_gateway(simple_route(), {"origin": [origin.address]})


def test_default_request_line_limit_is_8_kib(default_gw):
    assert status_of(default_gw, build("/echo?" + "a" * (8 * KIB - 200)))[0] == 200
    status, headers = status_of(default_gw, build("/echo?" + "a" * (8 * KIB + 100)))
    assert status == 414
    assert headers["connection"] == "close"


def test_default_header_bytes_limit_is_32_kib(default_gw):
    assert status_of(default_gw, build(headers=headers_totalling(31 * KIB)))[0] == 200
    status, headers = status_of(default_gw, build(headers=headers_totalling(33 * KIB)))
    assert status == 431
    assert headers["connection"] == "close"


def test_one_huge_header_over_the_default_is_refused_with_431(default_gw):
    status, _ = status_of(default_gw, build(headers=[("Cookie", "c" * (40 * KIB))]))
    assert status == 431


def test_default_header_count_limit_is_100(default_gw):
    assert status_of(default_gw, build(headers=many_headers(100)))[0] == 200
    status, headers = status_of(default_gw, build(headers=many_headers(101)))
    assert status == 431
    assert headers["connection"] == "close"


def test_default_body_limit_is_10_mib(default_gw, origin):
    status, _ = status_of(default_gw, build(body=b"b" * (10 * MIB)), timeout=60)
    assert status == 200
    before = origin.served()
    s = socket.create_connection(("127.0.0.1", default_gw.port))
    try:
        s.sendall(build(body=b"", close=False).replace(b"Content-Length: 0",
                                                        b"Content-Length: %d" % (10 * MIB + 1)))
        status, headers, _, _ = read_response(s)
    finally:
        s.close()
    assert status == 413
    assert headers["connection"] == "close"
    assert origin.served() == before


# --- per listener ---

def test_request_line_limit_set_per_listener(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]},
                      policies=gateway_policy(maxRequestLineBytes="1Ki"))
    assert status_of(gw, build("/echo?" + "a" * 900))[0] == 200
    assert status_of(gw, build("/echo?" + "a" * 1100))[0] == 414


def test_header_bytes_limit_set_per_listener(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]},
                      policies=gateway_policy(maxHeaderBytes="2Ki"))
    assert status_of(gw, build(headers=headers_totalling(1500)))[0] == 200
    assert status_of(gw, build(headers=headers_totalling(2600)))[0] == 431


def test_header_count_limit_set_per_listener(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]},
                      policies=gateway_policy(maxHeaderCount=10))
    assert status_of(gw, build(headers=many_headers(10)))[0] == 200
    assert status_of(gw, build(headers=many_headers(11)))[0] == 431


def test_body_limit_set_per_listener_counts_exact_bytes(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]},
                      policies=gateway_policy(maxBodyBytes=1024))
    assert status_of(gw, build(body=b"x" * 1024))[0] == 200
    assert status_of(gw, build(body=b"x" * 1025))[0] == 413
    assert status_of(gw, build(body=b"x" * 1024, chunked=True))[0] == 200


def test_content_length_over_the_limit_is_refused_before_the_origin_is_contacted(
        make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]},
                      policies=gateway_policy(maxBodyBytes="1Ki"))
    before = origin.counts()
    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n")
        status, headers, body, _ = read_response(s)
    finally:
        s.close()
    assert status == 413
    assert headers["connection"] == "close"
    assert b'"status":413' in body
    assert origin.counts() == before


def test_413_reaches_a_client_that_sends_its_whole_body_at_once(make_gateway, origin):
    """The refusal must not be lost to a reset when the client's unread body is still arriving
    (RFC 9112 section 9.6: close in stages)."""
    gw = make_gateway(simple_route(), {"origin": [origin.address]},
                      policies=gateway_policy(maxBodyBytes="1Ki"))
    data = build(body=b"x" * (16 * MIB))
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", gw.port))

        def send():
            try:
                s.sendall(data)
            except OSError:
                pass  # the gateway stopped reading: expected once it has answered

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            status, headers, _, _ = read_response(s)
        finally:
            s.close()
            sender.join(10)
        assert status == 413
        assert headers["connection"] == "close"


def test_chunked_body_growing_past_the_limit_is_refused_with_413(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]},
                      policies=gateway_policy(maxBodyBytes="4Ki"))
    before = origin.counts()["completed"]
    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        s.sendall(b"800\r\n" + b"x" * 0x800 + b"\r\n")
        s.sendall(b"800\r\n" + b"x" * 0x800 + b"\r\n")
        s.sendall(b"800\r\n" + b"x" * 0x800 + b"\r\n")
        status, headers, _, _ = read_response(s)
    finally:
        s.close()
    assert status == 413
    assert headers["connection"] == "close"
    assert origin.counts()["completed"] == before


# --- per route ---

def test_route_policy_narrows_the_body_limit(make_gateway, origin):
    gw = make_gateway(two_routes(), {"origin": [origin.address]},
                      policies=route_policy("small", maxBodyBytes=100))
    body = b"y" * 500
    assert status_of(gw, build("/other", body=body))[0] == 200
    assert status_of(gw, build("/small", body=body))[0] == 413
    assert status_of(gw, build("/small", body=b"y" * 100))[0] == 200


def test_route_policy_narrows_the_header_count(make_gateway, origin):
    gw = make_gateway(two_routes(), {"origin": [origin.address]},
                      policies=route_policy("small", maxHeaderCount=5))
    assert status_of(gw, build("/other", headers=many_headers(8)))[0] == 200
    assert status_of(gw, build("/small", headers=many_headers(8)))[0] == 431
    assert status_of(gw, build("/small", headers=many_headers(5)))[0] == 200


def test_route_policy_narrows_the_header_bytes(make_gateway, origin):
    gw = make_gateway(two_routes(), {"origin": [origin.address]},
                      policies=route_policy("small", maxHeaderBytes="2Ki"))
    assert status_of(gw, build("/other", headers=headers_totalling(4000)))[0] == 200
    assert status_of(gw, build("/small", headers=headers_totalling(4000)))[0] == 431
    assert status_of(gw, build("/small", headers=headers_totalling(1000)))[0] == 200


def test_route_policy_narrows_the_request_line(make_gateway, origin):
    gw = make_gateway(two_routes(), {"origin": [origin.address]},
                      policies=route_policy("small", maxRequestLineBytes=512))
    assert status_of(gw, build("/other?" + "q" * 1000))[0] == 200
    assert status_of(gw, build("/small?" + "q" * 1000))[0] == 414
    assert status_of(gw, build("/small?" + "q" * 300))[0] == 200


def test_route_policy_combines_with_listener_policy(make_gateway, origin):
    """The listener's limit applies to every route; the route's own narrows it further."""
    gw = make_gateway(two_routes(), {"origin": [origin.address]},
                      policies=gateway_policy(maxBodyBytes=1000) + "\n---\n"
                      + route_policy("small", maxBodyBytes=100))
    assert status_of(gw, build("/other", body=b"z" * 1000))[0] == 200
    assert status_of(gw, build("/other", body=b"z" * 1001))[0] == 413
    assert status_of(gw, build("/small", body=b"z" * 101))[0] == 413


def test_route_policy_raising_a_listener_limit_is_a_config_error(tmp_path):
    """docs/CONFIGURATION.md: a route limit above its listeners' is an error."""
    text = gateway_config(18080, 18081, two_routes(), {"origin": ["127.0.0.1:9"]},
                          policies=gateway_policy(maxBodyBytes=1000) + "\n---\n"
                          + route_policy("small", maxBodyBytes=5000))
    path = tmp_path / "gw.yaml"
    path.write_text(text)
    proc = subprocess.run([binary(), "validate", "-c", str(path)], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "maxBodyBytes" in proc.stderr
