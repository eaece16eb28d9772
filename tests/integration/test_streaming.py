"""Streaming: slow readers and writers on either side, bounded memory, Expect: 100-continue,
pipelined bodies, bodiless answers (HEAD, 204, 304), and WebSocket tunnels.

The memory checks read the gateway's VmRSS from /proc and are coarse on purpose: they prove
that a body is not held whole (growth stays well under the body's size), not any exact figure,
since allocator and sanitizer behaviour move RSS by megabytes.
"""

import hashlib
import json
import os
import socket
import threading
import time

import pytest

from client import SocketReader, header_values, parse_responses, raw, read_response, rss_bytes
from conftest import simple_route
from origin import read_ws_frame, ws_frame

MIB = 1024 * 1024

BIG_BODIES = """
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
    maxBodyBytes: 64Mi
"""

PATTERN = bytes(i % 251 for i in range(65536))  # what the origin's /big repeats


class RssWatch:
    """Samples a process's RSS in a thread; .peak is the highest value seen."""

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.start = rss_bytes(pid)
        self.peak = self.start
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, args=(interval,), daemon=True)
        self.thread.start()

    def run(self, interval):
        while not self.stop_flag.wait(interval):
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
            except (OSError, RuntimeError):
                return

    def growth(self):
        self.stop_flag.set()
        self.thread.join()
        return self.peak - self.start


def warm_up(gw, n=3):
    """A few requests first, so that pools and arenas exist before RSS is measured."""
    for _ in range(n):
        raw(gw.port, b"GET /big?bytes=1048576 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")


def test_slow_client_gets_every_byte_and_gateway_memory_stays_bounded(make_gateway, origin):
    size = 64 * MIB
    rate = 8 * MIB  # bytes per second the client reads at
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    warm_up(gw)
    watch = RssWatch(gw.proc.pid)

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    s.connect(("127.0.0.1", gw.port))
    s.settimeout(30)
    received = 0
    mismatch = None
    try:
        s.sendall(b"GET /big?bytes=%d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % size)
        status, headers, _, pending = read_response(s, head_only=True)
        assert status == 200 and int(headers["content-length"]) == size
        start = time.time()
        while True:
            data = pending or s.recv(64 * 1024)
            pending = b""
            if not data:
                break
            offset = received % 65536
            expected = (PATTERN[offset:] + PATTERN * (len(data) // 65536 + 2))[:len(data)]
            if mismatch is None and data != expected:
                mismatch = received
            received += len(data)
            ahead = received / rate - (time.time() - start)
            if ahead > 0:
                time.sleep(ahead)
    finally:
        s.close()
    growth = watch.growth()
    assert received == size
    assert mismatch is None, "bytes differ from offset %d" % mismatch
    assert growth < 64 * MIB, "RSS grew by %.1f MiB while streaming 64 MiB" % (growth / MIB)


def test_slow_upstream_upload_completes_intact(make_gateway, origin):
    size = 32 * MIB
    gw = make_gateway(simple_route(), {"origin": [origin.address]}, policies=BIG_BODIES)
    warm_up(gw)
    body = os.urandom(MIB) * 32
    watch = RssWatch(gw.proc.pid)
    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        s.sendall(b"POST /hold?ms=2000 HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % size)
        s.sendall(body)
        status, _, resp_body, _ = read_response(s, timeout=60)
    finally:
        s.close()
    growth = watch.growth()
    assert status == 200
    doc = json.loads(resp_body)
    assert doc["body_len"] == size
    assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert growth < 32 * MIB, "RSS grew by %.1f MiB for a 32 MiB upload" % (growth / MIB)


# --- Expect: 100-continue ---

def test_expect_100_continue_gets_100_before_the_body_then_the_answer(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 11\r\n\r\n")
        status, _, _, rest = read_response(s)
        assert status == 100
        assert rest == b""
        s.sendall(b"hello world")
        status, _, body, _ = read_response(s)
    finally:
        s.close()
    assert status == 200
    doc = json.loads(body)
    assert doc["body_len"] == 11
    assert header_values(doc, "expect") == []


def test_expect_100_continue_over_the_body_limit_gets_413_without_100(make_gateway, origin):
    policy = BIG_BODIES.replace("64Mi", "1Ki")
    gw = make_gateway(simple_route(), {"origin": [origin.address]}, policies=policy)
    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 5000\r\n\r\n")
        status, headers, _, _ = read_response(s)
    finally:
        s.close()
    assert status == 413
    assert headers["connection"] == "close"
    assert origin.served() == 0


def test_unknown_expectation_gets_417(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    resp = raw(gw.port, b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n"
                        b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    assert parse_responses(resp)[0][0] == 417
    assert origin.served() == 0


# --- pipelining and bodiless answers ---

def test_pipelined_requests_with_bodies_are_answered_in_order(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    bodies = [b"a" * 10, b"b" * 70000, b"", b"d" * 3]
    burst = b""
    for i, body in enumerate(bodies):
        burst += b"POST /echo/%d HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s" % (
            i, len(body), body)
    burst += (b"POST /echo/4 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nchunk\r\n0\r\n\r\n")
    burst += b"GET /echo/5 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    responses = parse_responses(raw(gw.port, burst, timeout=10))
    assert [r[0] for r in responses] == [200] * 6
    docs = [json.loads(r[2]) for r in responses]
    assert [d["target"] for d in docs] == ["/echo/%d" % i for i in range(6)]
    for doc, body in zip(docs, bodies + [b"chunk", b""]):
        assert doc["body_len"] == len(body)
        assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_head_to_a_chunked_resource_has_no_body_and_keeps_the_connection(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        s.sendall(b"HEAD /chunked?bytes=5000 HTTP/1.1\r\nHost: a\r\n\r\n")
        status, headers, _, rest = read_response(s, head_only=True)
        assert status == 200
        assert rest == b""
        s.sendall(b"GET /echo/after HTTP/1.1\r\nHost: a\r\n\r\n")
        status, _, body, _ = read_response(s)
    finally:
        s.close()
    assert status == 200
    assert json.loads(body)["target"] == "/echo/after"


@pytest.mark.parametrize("target", ["/status/204", "/status/304", "/status/304?length=1234"],
                         ids=["204", "304", "304-with-length"])
def test_bodiless_statuses_are_relayed_without_a_body(make_gateway, origin, target):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % target.encode())
        status, headers, _, rest = read_response(s)
        assert status == int(target.split("/")[2][:3])
        assert "transfer-encoding" not in headers
        if status == 204:
            assert "content-length" not in headers
        s.settimeout(0.3)
        try:
            rest += s.recv(65536)
        except socket.timeout:
            pass
        assert rest == b"", "bytes after a %d: %r" % (status, rest[:100])
        s.sendall(b"GET /echo/after HTTP/1.1\r\nHost: a\r\n\r\n")
        status, _, body, _ = read_response(s)
    finally:
        s.close()
    assert status == 200
    assert json.loads(body)["target"] == "/echo/after"


# --- WebSocket ---

def ws_routes():
    return simple_route(name="web") + "\n---\n" + """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: sockets
spec:
  parentRefs:
  - name: edge
  rules:
  - matches:
    - path: {type: Exact, value: /ws}
    backendRefs:
    - name: origin
      port: 80
"""


WS_POLICY = """
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: sockets
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: sockets
  websocket:
    enabled: true
"""

# A short drain, so that a tunnel the gateway fails to close costs seconds, not the default
# 30 s grace, at teardown; the tests below check closing explicitly.
SHORT_GRACE = "  shutdown:\n    gracePeriod: 3s\n"

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 section 1.3's example


def ws_handshake(port):
    """Opens a WebSocket through the gateway; returns (socket, reader, status, headers)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % WS_KEY).encode())
    status, headers, body, rest = read_response(s)
    return s, SocketReader(s, body + rest), status, headers


def ws_roundtrip(sock, reader, opcode, payload):
    sock.sendall(ws_frame(opcode, payload, mask=os.urandom(4)))
    return read_ws_frame(reader)


def test_websocket_upgrade_is_tunnelled_when_the_route_enables_it(make_gateway, origin):
    gw = make_gateway(ws_routes(), {"origin": [origin.address]}, policies=WS_POLICY,
                      proxy_extra=SHORT_GRACE)
    s, reader, status, headers = ws_handshake(gw.port)
    try:
        assert status == 101
        assert headers["upgrade"].lower() == "websocket"
        assert headers["connection"].lower() == "upgrade"
        assert headers["sec-websocket-accept"] == WS_ACCEPT
        assert ws_roundtrip(s, reader, 1, b"hello") == (1, b"hello")
        big = os.urandom(200000)
        assert ws_roundtrip(s, reader, 2, big) == (2, big)
        for i in range(20):
            assert ws_roundtrip(s, reader, 1, b"msg %d" % i) == (1, b"msg %d" % i)
        assert ws_roundtrip(s, reader, 8, b"\x03\xe8") == (8, b"\x03\xe8")
        s.settimeout(5)
        assert reader.read(1) == b"", "the tunnel stayed open after the origin closed"
    finally:
        s.close()


def test_websocket_upgrade_is_dropped_when_the_route_does_not_enable_it(make_gateway, origin):
    gw = make_gateway(ws_routes(), {"origin": [origin.address]})
    s, reader, status, headers = ws_handshake(gw.port)
    try:
        assert status == 200
        doc = json.loads(reader.read(int(headers["content-length"])))
    finally:
        s.close()
    assert doc["target"] == "/ws"
    assert header_values(doc, "upgrade") == []
    assert header_values(doc, "connection") == []
    assert header_values(doc, "sec-websocket-key") == [WS_KEY]


def test_websocket_is_not_tunnelled_on_a_route_without_the_policy(make_gateway, origin):
    """The policy names route "sockets"; route "web" (everything else) stays plain HTTP."""
    gw = make_gateway(ws_routes(), {"origin": [origin.address]}, policies=WS_POLICY)
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    try:
        s.sendall(("GET /ws/other HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" % WS_KEY).encode())
        status, _, body, _ = read_response(s)
    finally:
        s.close()
    assert status == 200
    assert header_values(json.loads(body), "upgrade") == []


def gauge(gw, name):
    with socket.create_connection(("127.0.0.1", gw.admin_port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n")
        _, _, body, _ = read_response(s)
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_client_closing_a_tunnel_closes_it_on_both_sides(make_gateway, origin):
    gw = make_gateway(ws_routes(), {"origin": [origin.address]}, policies=WS_POLICY,
                      proxy_extra=SHORT_GRACE)
    s, reader, status, _ = ws_handshake(gw.port)
    try:
        assert status == 101
        assert ws_roundtrip(s, reader, 1, b"ping") == (1, b"ping")
        assert gauge(gw, "portcullis_websocket_tunnels_open") == 1
    finally:
        s.close()
    deadline = time.time() + 10
    while time.time() < deadline:
        if (gauge(gw, "portcullis_websocket_tunnels_open") == 0
                and gauge(gw, "portcullis_connections_open") == 0):
            return
        time.sleep(0.05)
    raise AssertionError("tunnel still open 10 s after its client left: tunnels=%s conns=%s" % (
        gauge(gw, "portcullis_websocket_tunnels_open"), gauge(gw, "portcullis_connections_open")))


def test_upgraded_upstream_connection_is_never_reused_for_another_request(make_gateway, origin):
    """One worker, so the next request would find the tunnel's upstream connection in the pool
    if it were put there."""
    gw = make_gateway(ws_routes(), {"origin": [origin.address]}, policies=WS_POLICY,
                      proxy_extra=SHORT_GRACE, workers=1)
    s, reader, status, _ = ws_handshake(gw.port)
    try:
        assert status == 101
        for i in range(3):
            status, _, body = request_once(gw.port, "/echo/%d" % i)
            assert status == 200, body[:200]
    finally:
        s.close()


def request_once(port, target):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % target.encode())
        status, headers, body, _ = read_response(s)
        return status, headers, body
    finally:
        s.close()
