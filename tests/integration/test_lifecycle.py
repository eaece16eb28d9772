"""The process from outside: command line, reloads (signal and file change), graceful shutdown,
admin endpoints, metrics, the access log and what reaches stderr.

Reload tests poll for the change with a generous deadline instead of sleeping a fixed time:
the file watcher debounces, and the machine is shared.
"""

import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time

from client import raw, read_response, request
from conftest import ROOT, binary, free_port, gateway_config, simple_route
from test_streaming import SHORT_GRACE, WS_POLICY, ws_handshake, ws_roundtrip, ws_routes

DEADLINE = 15.0
DIAG = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): error: (?P<key>[^:]+): "
                  r"(?P<problem>[^;]+)(; (?P<hint>.+))?$")


def wait_for(predicate, deadline=DEADLINE, what="condition"):
    end = time.time() + deadline
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out after %.0fs waiting for %s" % (deadline, what))


def admin_get(gw, path):
    """(status, body text) of an admin endpoint."""
    with socket.create_connection(("127.0.0.1", gw.admin_port), timeout=10) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: admin\r\n\r\n" % path.encode())
        status, _, body, _ = read_response(s)
    return status, body.decode()


def metric(gw, name, labels=None):
    """The value of one sample from /metrics (labels: a regex over the label text), or None."""
    _, text = admin_get(gw, "/metrics")
    pattern = re.escape(name) + (r"\{%s\}" % labels if labels else "") + r" (\S+)$"
    for line in text.splitlines():
        m = re.match(pattern, line)
        if m:
            return float(m.group(1))
    return None


def prefix_route(name, path):
    return """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: %s
spec:
  parentRefs:
  - name: edge
  rules:
  - matches:
    - path: {type: PathPrefix, value: %s}
    backendRefs:
    - name: origin
      port: 80
""" % (name, path)


def status_of(gw, path):
    return request(gw.port, path=path)[0]


NO_WATCH = """  watch:
    enabled: false
"""


# --- command line ---

def test_version_prints_the_version_and_exits_0():
    proc = subprocess.run([binary(), "--version"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0
    with open(os.path.join(ROOT, "VERSION")) as f:
        version = f.read().strip()
    assert re.match(r"^portcullis %s \(\S+\)$" % re.escape(version), proc.stdout.strip())


def test_help_prints_usage_and_exits_0():
    proc = subprocess.run([binary(), "--help"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0
    assert "usage: portcullis" in proc.stdout
    for word in ("run", "validate", "SIGHUP"):
        assert word in proc.stdout


def test_unknown_command_exits_non_zero_with_usage():
    proc = subprocess.run([binary(), "frobnicate"], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "usage: portcullis" in proc.stderr


def test_validate_accepts_a_good_file(tmp_path, origin):
    path = tmp_path / "good.yaml"
    path.write_text(gateway_config(free_port(), free_port(), simple_route(),
                                   {"origin": [origin.address]}))
    proc = subprocess.run([binary(), "validate", "-c", str(path)], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "valid" in proc.stdout


BAD_FILE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: edge
spec:
  gatewayClassName: portcullis
  listeners:
  - name: http
    port: 8080
    protocol: HTTP
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  parentRefs:
  - name: edge
  rules:
  - matches:
    - path: {tpye: Exact, value: /x}
    backendRefs:
    - name: orign
      port: 80
---
apiVersion: portcullis.dev/v1alpha1
kind: ServiceEndpoints
metadata:
  name: origin
spec:
  ports:
  - port: 80
    endpoints: ["127.0.0.1:9"]
"""


def test_validate_reports_every_error_with_its_location_and_exits_1(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_FILE)
    proc = subprocess.run([binary(), "validate", "-c", str(path)], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    diags = [DIAG.match(line) for line in lines]
    assert all(diags), proc.stderr
    by_key = {d.group("key"): d for d in diags}
    typo = by_key["spec.rules[0].matches[0].path.tpye"]
    assert typo.group("file") == str(path)
    assert (typo.group("line"), typo.group("col")) == ("21", "14")
    assert typo.group("hint") == 'did you mean "type"?'
    missing = by_key["spec.rules[0].backendRefs[0].name"]
    assert (missing.group("line"), missing.group("col")) == ("23", "13")
    assert "origin" in missing.group("hint")


def test_validate_reports_yaml_syntax_errors_with_a_location(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: v1\nkind: [unclosed\n")
    proc = subprocess.run([binary(), "validate", "-c", str(path)], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1
    assert re.match(r"^%s:\d+:\d+: error: " % re.escape(str(path)), proc.stderr)


def test_run_refuses_an_invalid_file_and_exits_1(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_FILE)
    proc = subprocess.run([binary(), "run", "-c", str(path)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 1
    assert "tpye" in proc.stderr


# --- reloads ---

def test_sighup_reloads_and_a_new_route_starts_answering(make_gateway, origin):
    backends = {"origin": [origin.address]}
    gw = make_gateway(prefix_route("a", "/a"), backends, proxy_extra=NO_WATCH)
    assert status_of(gw, "/a") == 200
    assert status_of(gw, "/b") == 404
    gw.write_config(gw.render(prefix_route("a", "/a") + "\n---\n" + prefix_route("b", "/b"),
                              backends, proxy_extra=NO_WATCH))
    time.sleep(0.5)
    assert status_of(gw, "/b") == 404, "reloaded without a signal while watching is off"
    gw.signal(signal.SIGHUP)
    wait_for(lambda: status_of(gw, "/b") == 200, what="the new route")
    assert status_of(gw, "/a") == 200
    assert wait_for(lambda: metric(gw, "portcullis_config_reloads_total") == 1)


def test_file_change_reloads_without_a_signal(make_gateway, origin):
    backends = {"origin": [origin.address]}
    gw = make_gateway(prefix_route("a", "/a"), backends)
    assert status_of(gw, "/b") == 404
    gw.write_config(gw.render(prefix_route("b", "/b"), backends))
    wait_for(lambda: status_of(gw, "/b") == 200, what="the file change to apply")
    assert status_of(gw, "/a") == 404


def test_invalid_file_on_reload_is_refused_logged_and_old_config_keeps_serving(
        make_gateway, origin):
    backends = {"origin": [origin.address]}
    gw = make_gateway(prefix_route("a", "/a"), backends, proxy_extra=NO_WATCH)
    assert metric(gw, "portcullis_config_reload_failures_total") == 0
    bad = gw.render(prefix_route("a", "/a"), backends, proxy_extra=NO_WATCH)
    bad = bad.replace("type: PathPrefix", "tpye: PathPrefix")
    gw.write_config(bad)
    gw.signal(signal.SIGHUP)
    wait_for(lambda: metric(gw, "portcullis_config_reload_failures_total") == 1,
             what="the failure counter")
    assert status_of(gw, "/a") == 200
    assert metric(gw, "portcullis_config_reloads_total") == 0
    log = gw.log()
    located = re.search(re.escape(gw.config_path) + r":\d+:\d+: error: \S*tpye: unknown field",
                        log)
    assert located, log


def test_reload_under_load_fails_no_request(make_gateway, origin):
    backends = {"origin": [origin.address]}
    configs = []
    for tag in ("blue", "green"):
        route = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  parentRefs:
  - name: edge
  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Config, value: %s}]
    backendRefs:
    - name: origin
      port: 80
""" % tag
        configs.append(route)
    gw = make_gateway(configs[0], backends, proxy_extra=NO_WATCH)
    stop = threading.Event()
    failures = []
    counts = []
    seen = set()

    def client():
        n = 0
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        try:
            while not stop.is_set():
                try:
                    conn.request("GET", "/echo", headers={"Host": "example.com"})
                    resp = conn.getresponse()
                    body = resp.read()
                    if resp.status != 200:
                        failures.append(resp.status)
                    elif b"blue" in body:
                        seen.add("blue")
                    elif b"green" in body:
                        seen.add("green")
                    n += 1
                    if resp.getheader("connection", "").lower() == "close":
                        conn.close()
                except (OSError, http.client.HTTPException) as e:
                    failures.append(repr(e))
                    conn.close()
        finally:
            conn.close()
            counts.append(n)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(10):
            time.sleep(0.5)
            gw.write_config(gw.render(configs[(i + 1) % 2], backends, proxy_extra=NO_WATCH))
            gw.signal(signal.SIGHUP)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert failures == [], failures[:10]
    assert sum(counts) > 100, counts
    assert seen == {"blue", "green"}
    assert wait_for(lambda: metric(gw, "portcullis_config_reloads_total") == 10)


def test_websocket_tunnel_survives_a_reload(make_gateway, origin):
    backends = {"origin": [origin.address]}
    gw = make_gateway(ws_routes(), backends, policies=WS_POLICY,
                      proxy_extra=NO_WATCH + SHORT_GRACE)
    s, reader, status, _ = ws_handshake(gw.port)
    try:
        assert status == 101
        assert ws_roundtrip(s, reader, 1, b"before") == (1, b"before")
        gw.write_config(gw.render(ws_routes() + "\n---\n" + prefix_route("extra", "/extra"),
                                  backends, policies=WS_POLICY,
                                  proxy_extra=NO_WATCH + SHORT_GRACE))
        gw.signal(signal.SIGHUP)
        wait_for(lambda: status_of(gw, "/extra") == 200, what="the reload")
        assert ws_roundtrip(s, reader, 1, b"after") == (1, b"after")
    finally:
        s.close()


# --- shutdown ---

def test_graceful_shutdown_finishes_requests_in_flight_and_exits_0(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]},
                      proxy_extra="  shutdown:\n    gracePeriod: 20s\n")
    result = {}

    def slow():
        try:
            result["response"] = request(gw.port, path="/slow?ms=2000", timeout=30)
        except Exception as e:  # reported by the assertions below
            result["error"] = repr(e)

    t = threading.Thread(target=slow)
    t.start()
    wait_for(lambda: origin.served() >= 1, what="the slow request to reach the origin")
    gw.signal(signal.SIGTERM)

    def refused():
        try:
            socket.create_connection(("127.0.0.1", gw.port), timeout=1).close()
            return False
        except ConnectionRefusedError:
            return True

    wait_for(refused, deadline=5, what="the listener to close")
    status, body = admin_get(gw, "/readyz")
    assert status == 503, body
    t.join(30)
    assert "error" not in result, result
    status, headers, body = result["response"]
    assert status == 200
    assert b"/slow?ms=2000" in body
    assert gw.proc.wait(timeout=30) == 0


def test_idle_connections_are_closed_on_shutdown(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n")
        assert read_response(s)[0] == 200
        gw.signal(signal.SIGTERM)
        s.settimeout(10)
        assert s.recv(1) == b""
    finally:
        s.close()
    assert gw.proc.wait(timeout=30) == 0


# --- admin and metrics ---

def test_admin_health_and_readiness(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    assert admin_get(gw, "/healthz")[0] == 200
    assert admin_get(gw, "/readyz")[0] == 200
    assert admin_get(gw, "/nope")[0] == 404


def test_metrics_count_requests_errors_and_state(make_gateway, origin):
    closed = "127.0.0.1:%d" % free_port()
    routes = simple_route(name="web") + "\n---\n" + """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: dead
spec:
  parentRefs:
  - name: edge
  rules:
  - matches:
    - path: {type: PathPrefix, value: /dead}
    backendRefs:
    - name: dead
      port: 80
"""
    gw = make_gateway(routes, {"origin": [origin.address], "dead": [closed]})
    for _ in range(3):
        assert status_of(gw, "/echo") == 200
    assert status_of(gw, "/dead") == 502

    s = socket.create_connection(("127.0.0.1", gw.port))
    try:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n")
        read_response(s)
        assert metric(gw, "portcullis_connections_open") >= 1
    finally:
        s.close()

    web = r'route="default/web",rule="[^"]*"'
    assert metric(gw, "portcullis_http_requests_total", web + r',code="2xx"') >= 3
    assert metric(gw, "portcullis_http_request_duration_seconds_bucket",
                  web + r',le="\+Inf"') >= 3
    assert metric(gw, "portcullis_http_request_duration_seconds_count", web) >= 3
    assert metric(gw, "portcullis_http_requests_total",
                  r'route="default/dead",rule="[^"]*",code="5xx"') == 1
    assert metric(gw, "portcullis_upstream_connect_errors_total") >= 1
    assert metric(gw, "portcullis_config_reloads_total") == 0
    assert metric(gw, "portcullis_build_info", r'version="[^"]+",revision="[^"]+"') == 1
    wait_for(lambda: metric(gw, "portcullis_connections_open") == 0,
             what="the open-connections gauge to fall back")


def test_rejected_requests_are_counted_by_reason(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    raw(gw.port, b"GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n")
    assert metric(gw, "portcullis_requests_rejected_total", r'reason="[^"]+"') >= 1


# --- access log and stderr ---

def test_access_log_has_one_json_line_per_request(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]})
    answers = [request(gw.port, path="/echo/a?secret=1"),
               request(gw.port, method="POST", path="/echo/b", body=b"x" * 1234),
               request(gw.port, path="/status/404")]
    lines = wait_for(lambda: len(gw.access_log()) >= 3 and gw.access_log(),
                     what="three access-log lines")
    assert len(lines) == 3
    by_id = {line["request_id"]: line for line in lines}
    for (status, headers, body), (method, path) in zip(
            answers, [("GET", "/echo/a"), ("POST", "/echo/b"), ("GET", "/status/404")]):
        line = by_id[headers["x-request-id"]]
        for key in ("time", "request_id", "route", "method", "path", "status", "bytes_in",
                    "bytes_out", "duration_ms", "upstream_ms", "upstream", "client"):
            assert key in line, (key, line)
        assert line["method"] == method
        assert line["path"] == path
        assert line["status"] == status
        assert line["bytes_out"] == len(body)
        assert line["route"] == "default/web"
        assert line["upstream"] == origin.address
        assert re.match(r"^127\.0\.0\.1:\d+$", line["client"])
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", line["time"])
        assert line["duration_ms"] >= line["upstream_ms"] >= 0
    assert by_id[answers[1][1]["x-request-id"]]["bytes_in"] == 1234
    assert by_id[answers[0][1]["x-request-id"]]["bytes_in"] == 0


def test_access_log_records_refusals_without_an_upstream(make_gateway, origin):
    gw = make_gateway(simple_route(hostnames=["only.example.com"]), {"origin": [origin.address]})
    status, headers, _ = request(gw.port, path="/x", host="other.example.com")
    assert status == 404
    (line,) = wait_for(lambda: gw.access_log(), what="an access-log line")
    assert line["request_id"] == headers["x-request-id"]
    assert line["status"] == 404
    assert line["upstream"] is None
    assert line["upstream_ms"] is None


def test_no_per_request_lines_on_stderr_at_the_default_log_level(make_gateway, origin):
    gw = make_gateway(simple_route(), {"origin": [origin.address]}, log_level=None)
    before = gw.log()
    for _ in range(5):
        assert status_of(gw, "/echo") == 200
    raw(gw.port, b"GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n")
    assert status_of(gw, "/close") == 502
    assert status_of(gw, "/%zz") == 400
    time.sleep(0.5)
    assert gw.log() == before, "per-request lines on stderr:\n" + gw.log()[len(before):]
    for line in before.splitlines():
        assert " notice " in line, line
