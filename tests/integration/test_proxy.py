"""Proxying through the real binary to a real origin: headers, keep-alive, pipelining, bodies."""

import hashlib
import re
import socket
import time

from client import echo, header_values, parse_responses, raw, request
from conftest import free_port, simple_route

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_get_is_proxied_with_forwarding_headers(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    status, headers, doc = echo(gw.port, path="/echo/a?x=1", host="api.example.com")
    assert status == 200
    assert doc["target"] == "/echo/a?x=1"
    assert header_values(doc, "host") == ["api.example.com"]
    assert header_values(doc, "x-forwarded-for") == ["127.0.0.1"]
    assert header_values(doc, "x-forwarded-proto") == ["http"]
    assert header_values(doc, "x-forwarded-host") == ["api.example.com"]
    (rid,) = header_values(doc, "x-request-id")
    assert UUID.match(rid)
    assert headers["x-request-id"] == rid
    assert headers["x-origin"] == "origin-a"


def test_client_forwarding_headers_are_appended_or_replaced(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    _, _, doc = echo(gw.port, headers={
        "X-Forwarded-For": "10.0.0.1",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        "X-Request-Id": "client-chosen",
        "X-Original-URL": "/admin",
        "X-Rewrite-URL": "/admin",
        "Forwarded": "for=1.2.3.4",
        "X-Real-IP": "1.2.3.4",
    })
    assert header_values(doc, "x-forwarded-for") == ["10.0.0.1, 127.0.0.1"]
    assert header_values(doc, "x-forwarded-proto") == ["http"]
    assert header_values(doc, "x-forwarded-host") == ["example.com"]
    assert header_values(doc, "x-request-id") != ["client-chosen"]
    for name in ("x-original-url", "x-rewrite-url", "forwarded", "x-real-ip"):
        assert header_values(doc, name) == [], name


def test_hop_by_hop_headers_are_removed_both_ways(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    _, _, doc = echo(gw.port, headers={
        "Connection": "keep-alive, X-Secret-Hop",
        "X-Secret-Hop": "1",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Proxy-Connection": "keep-alive",
        "Upgrade": "h2c",
        "X-Kept": "yes",
    })
    for name in ("connection", "x-secret-hop", "keep-alive", "te", "proxy-connection",
                 "upgrade"):
        assert header_values(doc, name) == [], name
    assert header_values(doc, "x-kept") == ["yes"]


def test_keep_alive_reuses_the_client_connection(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        for i in range(5):
            s.sendall(b"GET /echo/%d HTTP/1.1\r\nHost: a\r\n\r\n" % i)
            data = b""
            while not parse_responses(data):
                data += s.recv(65536)
            ((status, headers, body),) = parse_responses(data)
            assert status == 200
            assert b"/echo/%d" % i in body
    finally:
        s.close()


def test_pipelined_requests_are_answered_in_order(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    burst = b"".join(b"GET /slow?ms=%d&n=%d HTTP/1.1\r\nHost: a\r\n\r\n" % (ms, i)
                     for i, ms in enumerate([200, 0, 100, 0]))
    burst += b"GET /echo/last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    responses = parse_responses(raw(gw.port, burst))
    assert [r[0] for r in responses] == [200] * 5
    for i in range(4):
        assert b"n=%d" % i in responses[i][2]
    assert b"/echo/last" in responses[4][2]


def test_post_body_with_content_length_reaches_the_origin(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    body = b"x" * 100000
    status, _, doc = echo(gw.port, method="POST", body=body)
    assert status == 200
    assert doc["body_len"] == len(body)
    assert header_values(doc, "content-length") == [str(len(body))]


def test_chunked_request_body_is_rechunked(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    payload = b"hello" * 1000
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(payload[i:i + 777]), payload[i:i + 777])
                      for i in range(0, len(payload), 777))
    req = (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n" + chunks + b"0\r\nX-Trailer: t\r\n\r\n")
    ((status, _, body),) = parse_responses(raw(gw.port, req))
    assert status == 200
    assert b'"body_len": 5000' in body
    assert hashlib.sha256(payload).hexdigest().encode() in body
    assert b"transfer-encoding" in body.lower()


def test_head_request_gets_length_and_no_body(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    resp = raw(gw.port, b"HEAD /big?bytes=12345 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    head, _, rest = resp.partition(b"\r\n\r\n")
    assert b" 200 " in head
    assert b"content-length: 12345" in head.lower()
    assert rest == b""


def test_large_bodies_stream_both_ways(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]},
                      policies=LARGE_BODY_POLICY)
    size = 64 * 1024 * 1024
    status, headers, body = request(gw.port, path="/big?bytes=%d" % size, timeout=60)
    assert status == 200 and len(body) == size
    expected = bytes(i % 251 for i in range(65536))
    assert body[:65536] == expected and body[-1] == (size - 1) % 65536 % 251

    status, _, body = request(gw.port, path="/chunked?bytes=%d" % (8 * 1024 * 1024), timeout=60)
    assert status == 200 and len(body) == 8 * 1024 * 1024

    upload = bytes(range(256)) * (size // 256)
    status, _, doc = echo(gw.port, method="POST", body=upload, timeout=60)
    assert status == 200
    assert doc["body_len"] == size
    assert doc["body_sha256"] == hashlib.sha256(upload).hexdigest()


LARGE_BODY_POLICY = """
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: big-bodies
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: edge
  limits:
    maxBodyBytes: 128Mi
"""


def test_http10_client_gets_close_delimited_answer(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    resp = raw(gw.port, b"GET /chunked?bytes=3000 HTTP/1.0\r\nHost: a\r\n\r\n")
    head, _, body = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower()
    assert len(body) == 3000


def test_no_route_answers_404_problem_json(make_gateway, origin):
    routes = simple_route(hostnames=["api.example.com"])
    gw = make_gateway(routes, {"origin": [origin.address]})
    status, headers, body = request(gw.port, path="/x", host="other.example.com")
    assert status == 404
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-request-id"] in body.decode()
    assert b'"status":404' in body


def test_drain_with_idle_keep_alive_connections_exits_cleanly(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    idle = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", gw.port))
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n")
        data = b""
        while not parse_responses(data):
            data += s.recv(65536)
        idle.append(s)
    gw.stop()  # asserts exit code 0 and no sanitizer report
    for s in idle:
        assert s.recv(1) == b""
        s.close()


def test_local_answer_keeps_the_connection_alive(make_gateway, origin):
    closed = "127.0.0.1:%d" % free_port()
    routes = simple_route(service="dead", name="dead", hostnames=["dead.example"]) + "---\n" + \
        simple_route(name="web", hostnames=["web.example"])
    gw = make_gateway(routes, {"origin": [origin.address], "dead": [closed]})
    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        for host, expected in ((b"dead.example", 502), (b"nowhere.example", 404),
                               (b"web.example", 200)):
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: %s\r\n\r\n" % host)
            data = b""
            while not parse_responses(data):
                chunk = s.recv(65536)
                assert chunk, "connection closed after %r" % host
                data += chunk
            ((status, headers, _),) = parse_responses(data)
            assert status == expected
            assert headers.get("connection") != "close"
    finally:
        s.close()
