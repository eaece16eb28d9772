"""The outbound HTTP client (src/core/fetch.c) against local HTTP and HTTPS servers.

tests/fetch/fetch_probe.c (one client on a libuv loop, printing each outcome as a JSON line) is
built here with AddressSanitizer and UBSan from the client's sources. The servers run in this
process on 127.0.0.1, ephemeral ports: an http.server for well-formed answers (plain, TLS, TLS
requiring a client certificate) and raw sockets for the misbehaving ones. Certificates are made
here with python3-cryptography. Every probe run must exit 0 with no sanitizer report, its loop
closed and no byte left allocated.
"""

import base64
import datetime
import http.server
import ipaddress
import json
import os
import shutil
import socket
import socketserver
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
PROBE_SOURCES = ["tests/fetch/fetch_probe.c", "src/core/fetch.c", "src/core/alloc.c",
                 "src/core/err.c", "src/core/log.c"]
EXPIRES = "Thu, 01 Jan 2037 00:00:00 GMT"
EXPIRES_S = 2114380800


@pytest.fixture(scope="module")
def probe_bin():
    """The probe, built with the sanitizers the suite runs under."""
    out = tempfile.mkdtemp(prefix="fetch-probe-")
    path = os.path.join(out, "fetch_probe")
    pkgs = subprocess.run(["pkg-config", "--cflags", "--libs", "libuv", "libcurl", "openssl"],
                          check=True, capture_output=True, text=True)
    cmd = (["cc", "-std=c11", "-D_GNU_SOURCE", "-g", "-O1", "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-Wall",
            "-Wextra", "-Werror", "-Wno-unused-parameter", "-Isrc", "-o", path]
           + PROBE_SOURCES + pkgs.stdout.split())
    build = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    yield path
    shutil.rmtree(out, ignore_errors=True)


class Run:
    def __init__(self, events, log):
        self.events = events
        self.log = log

    def responses(self):
        return [e for e in self.events if e["event"] == "response"]

    def one(self):
        got = self.responses()
        assert len(got) == 1, self.events
        return got[0]


def probe(probe_bin, url, *args, timeout=60):
    """Runs the probe to completion and checks it shut down cleanly."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1")
    cmd = [probe_bin, "--url", url, "--log-level", "debug"] + [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    for marker in SANITIZER_MARKERS:
        assert marker not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    last = events[-1]
    assert last["event"] == "exit", events
    assert (last["alloc_bytes"], last["loop_close"]) == (0, 0), last
    return Run(events, proc.stderr)


# ---- certificates ----

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(key, issuer_key, issuer, cn, sans, is_ca, usage=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer or _name(cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(hours=1))
         .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if usage:
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


class Pki:
    """A CA, and from it a server certificate (localhost, 127.0.0.1), one for another name and
    a client certificate; and a second CA that signed none of them."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fetch-pki-")
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _cert(ca_key, ca_key, None, "fetch test CA", None, True)
        self.ca = self._write("ca.pem", ca)
        other_key = ec.generate_private_key(ec.SECP256R1())
        self.other_ca = self._write("other-ca.pem", _cert(other_key, other_key, None, "other CA",
                                                          None, True))
        local = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        self.server = self._leaf("server", ca_key, ca, "localhost", local,
                                 ExtendedKeyUsageOID.SERVER_AUTH)
        self.wrong = self._leaf("wrong", ca_key, ca, "wrong.example",
                                [x509.DNSName("wrong.example")], ExtendedKeyUsageOID.SERVER_AUTH)
        self.client = self._leaf("client", ca_key, ca, "fetch-client", None,
                                 ExtendedKeyUsageOID.CLIENT_AUTH)

    def _write(self, name, cert):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def _leaf(self, name, ca_key, ca, cn, sans, usage):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._write(name + ".pem", _cert(key, ca_key, ca.subject, cn, sans, False, usage))
        key_path = os.path.join(self.dir, name + ".key")
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        return cert, key_path


@pytest.fixture(scope="module")
def pki():
    p = Pki()
    yield p
    shutil.rmtree(p.dir, ignore_errors=True)


# ---- servers ----

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def reply(self, status, body, ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def route(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
        if parts[0] == "hello":
            self.reply(200, b"hello world", "text/plain; charset=utf-8",
                       [("Cache-Control", "public, max-age=300"), ("Expires", EXPIRES)])
        elif parts[0] == "echo":
            self.echo(body)
        elif parts[0] == "fields":
            self.reply(200, b"fields", extra=[("X-Auth-User", "alice"), ("X-Other", "no"),
                                              ("x-auth-user", " bob "), ("X-Auth-Role", "")])
        elif parts[0] == "status":
            self.reply(int(parts[1]), b"status " + parts[1].encode())
        elif parts[0] == "big":
            self.reply(200, b"x" * int(parts[1]))
        elif parts[0] == "stream":
            self.stream(int(parts[1]))
        elif parts[0] == "slow":
            time.sleep(int(parts[1]) / 1000.0)
            self.reply(200, b"late")
        else:
            self.reply(404, b"no such path")

    def echo(self, body):
        peer = None
        if isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert()
            if cert:
                peer = dict(x[0] for x in cert["subject"])["commonName"]
        self.reply(200, json.dumps({
            "method": self.command,
            "authorization": self.headers.get("Authorization"),
            "content_type": self.headers.get("Content-Type"),
            "expect": self.headers.get("Expect"),
            "user_agent": self.headers.get("User-Agent"),
            "x_test": self.headers.get("X-Test"),
            "body": body.decode("latin-1"),
            "client_cn": peer,
        }).encode(), "application/json")

    def stream(self, total):
        """Chunked, until total bytes or the client goes away; says which on server.streams."""
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"y" * 65536
        sent = 0
        error = None
        try:
            while sent < total:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            self.wfile.write(b"0\r\n\r\n")
        except OSError as e:
            error = type(e).__name__
            self.close_connection = True
        with self.server.lock:
            self.server.streams.append((sent, error))


class HttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, ctx=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.connections = 0
        self.streams = []
        if ctx is not None:
            # The handshake runs in the connection's thread (Handler.setup), not in accept().
            self.socket = ctx.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]

    def handle_error(self, request, client_address):
        pass  # failed handshakes and clients that hang up are part of the tests

    def stop(self):
        self.shutdown()
        self.server_close()


def tls_context(pki, cert, require_client=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    ctx.load_verify_locations(pki.ca)
    ctx.verify_mode = {None: ssl.CERT_OPTIONAL, True: ssl.CERT_REQUIRED}[require_client]
    return ctx


class RawServer:
    """Accepts connections and hands each to behave(conn) in its own thread."""

    def __init__(self, behave):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.behave = behave
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            read_head(conn)
            self.behave(conn)
        except OSError:
            pass

    def stop(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        got = conn.recv(4096)
        if not got:
            break
        data += got
    return data


@pytest.fixture
def servers():
    started = []

    class Factory:
        def http(self, ctx=None):
            s = HttpServer(ctx)
            started.append(s)
            return s

        def raw(self, behave):
            s = RawServer(behave)
            started.append(s)
            return s

    yield Factory()
    for s in started:
        s.stop()


@pytest.fixture
def web(servers):
    return servers.http()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- plain HTTP ----

def test_kept_response_fields_come_back_in_order(probe_bin, web):
    run = probe(probe_bin, "http://127.0.0.1:%d/fields" % web.port,
                "--keep-header", "x-auth-user", "--keep-header", "X-Auth-Role")

    r = run.one()
    assert r["status"] == 200
    assert r["headers"] == [["x-auth-user", "alice"], ["x-auth-user", "bob"], ["X-Auth-Role", ""]]


def test_no_fields_kept_unless_asked(probe_bin, web):
    r = probe(probe_bin, "http://127.0.0.1:%d/fields" % web.port).one()

    assert r["headers"] == []


def test_get_returns_body_status_and_caching_fields(probe_bin, web):
    run = probe(probe_bin, "http://127.0.0.1:%d/hello?token=secret-query" % web.port,
                "--print-body")

    r = run.one()
    assert (r["result"], r["status"], r["code"], r["detail"]) == ("ok", 200, 0, "")
    assert (r["body"], r["body_len"]) == ("hello world", 11)
    assert r["content_type"] == "text/plain; charset=utf-8"
    assert (r["max_age"], r["expires"], r["freshness"]) == (300, EXPIRES_S, 300)
    assert abs(r["date"] - time.time()) < 60
    assert r["after_return"] is True
    assert "fetch_done method=GET target=http://127.0.0.1:%d/hello status=200" % web.port in run.log
    # The query may carry tokens: it never reaches the log.
    assert "secret-query" not in run.log


def test_empty_body_is_an_empty_string(probe_bin, web):
    r = probe(probe_bin, "http://127.0.0.1:%d/big/0" % web.port, "--print-body").one()
    assert (r["result"], r["body"], r["body_len"], r["body_null"]) == ("ok", "", 0, False)


def test_post_form_with_basic_auth_is_received_and_kept_out_of_logs(probe_bin, web):
    run = probe(probe_bin, "http://127.0.0.1:%d/echo" % web.port, "--method", "POST",
                "--form", "token=a b&c=d/é", "--form", "token_type_hint=access_token",
                "--user", "gateway", "--password", "s3cr:et-pw", "--header", "X-Test: yes",
                "--print-body")

    r = run.one()
    assert (r["result"], r["status"]) == ("ok", 200)
    seen = json.loads(r["body"])
    assert seen["method"] == "POST"
    assert seen["content_type"] == "application/x-www-form-urlencoded"
    assert seen["body"] == "token=a+b%26c%3Dd%2F%C3%A9&token_type_hint=access_token"
    assert seen["authorization"] == "Basic " + base64.b64encode(b"gateway:s3cr:et-pw").decode()
    assert (seen["x_test"], seen["expect"], seen["user_agent"]) == ("yes", None, "portcullis")
    for secret in ("s3cr:et-pw", "Authorization", seen["authorization"][6:], "token_type_hint"):
        assert secret not in run.log


def test_oauth_client_auth_form_encodes_credentials(probe_bin, web):
    r = probe(probe_bin, "http://127.0.0.1:%d/echo" % web.port, "--method", "POST",
              "--body", "token=t", "--header", "Content-Type: application/x-www-form-urlencoded",
              "--user", "my client", "--password", "p@ss:word", "--oauth-client-auth",
              "--print-body").one()

    seen = json.loads(r["body"])
    assert seen["authorization"] == "Basic " + base64.b64encode(b"my+client:p%40ss%3Aword").decode()
    assert seen["body"] == "token=t"


@pytest.mark.parametrize("status", [301, 404, 500, 503])
def test_error_statuses_are_statuses_not_failures(probe_bin, web, status):
    r = probe(probe_bin, "http://127.0.0.1:%d/status/%d" % (web.port, status), "--print-body").one()
    assert (r["result"], r["status"], r["code"]) == ("ok", status, 0)
    assert r["body"] == "status %d" % status


def test_connect_refused_is_unreachable(probe_bin):
    run = probe(probe_bin, "http://127.0.0.1:%d/" % closed_port())

    r = run.one()
    assert (r["result"], r["detail"], r["code"], r["status"]) == (
        "unreachable", "connect_failed", -111, 0)  # ECONNREFUSED
    assert r["body_null"] is True
    assert "fetch_failed" in run.log and "result=unreachable detail=connect_failed" in run.log


def test_unresolvable_name_is_unreachable(probe_bin):
    r = probe(probe_bin, "http://no-such-host.invalid/").one()
    assert (r["result"], r["detail"]) == ("unreachable", "resolve_failed")


def test_server_that_never_answers_times_out(probe_bin, servers):
    silent = servers.raw(lambda conn: time.sleep(30))

    r = probe(probe_bin, "http://127.0.0.1:%d/" % silent.port, "--timeout-ms", 500).one()
    assert (r["result"], r["detail"], r["code"]) == ("unreachable", "timeout", -110)  # ETIMEDOUT
    assert 450 <= r["total_ms"] < 5000


def test_late_response_times_out(probe_bin, web):
    r = probe(probe_bin, "http://127.0.0.1:%d/slow/3000" % web.port, "--timeout-ms", 300).one()
    assert (r["result"], r["detail"]) == ("unreachable", "timeout")
    assert r["total_ms"] < 2500


def test_reset_connection_is_unreachable(probe_bin, servers):
    def reset(conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    r = probe(probe_bin, "http://127.0.0.1:%d/" % servers.raw(reset).port).one()
    assert (r["result"], r["code"]) == ("unreachable", -104)  # ECONNRESET
    assert r["detail"] == "connection_closed"


def test_oversized_streamed_body_is_refused_and_transfer_stopped(probe_bin, web):
    started = time.time()
    r = probe(probe_bin, "http://127.0.0.1:%d/stream/%d" % (web.port, 512 << 20),
              "--max-bytes", 100000).one()

    assert (r["result"], r["detail"], r["code"]) == ("bad_response", "too_large", -10002)
    assert (r["status"], r["body_null"], r["body_len"]) == (200, True, 0)
    # The client hung up: the server's writes failed long before 512 MiB.
    deadline = time.time() + 10
    while not web.streams and time.time() < deadline:
        time.sleep(0.05)
    sent, error = web.streams[0]
    assert error is not None and sent < (64 << 20), web.streams
    assert time.time() - started < 20


def test_oversized_declared_body_is_refused_before_reading(probe_bin, web):
    r = probe(probe_bin, "http://127.0.0.1:%d/big/200000" % web.port, "--max-bytes", 1000).one()
    assert (r["result"], r["detail"]) == ("bad_response", "too_large")


def test_body_at_the_limit_is_accepted(probe_bin, web):
    r = probe(probe_bin, "http://127.0.0.1:%d/big/1000" % web.port, "--max-bytes", 1000).one()
    assert (r["result"], r["body_len"]) == ("ok", 1000)


def _send_garbage(conn):
    conn.sendall(b"this is not HTTP\r\n\r\n")
    conn.close()


def _send_bad_status(conn):
    conn.sendall(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")
    conn.close()


def _send_bad_chunk(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n")
    time.sleep(1)
    conn.close()


def _send_huge_head(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for i in range(100):
        conn.sendall(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000))
    conn.sendall(b"Content-Length: 0\r\n\r\n")
    time.sleep(1)
    conn.close()


@pytest.mark.parametrize("behave, detail", [
    (_send_garbage, "malformed"),
    (_send_bad_status, "malformed"),
    (_send_bad_chunk, "malformed"),
    (_send_huge_head, "head_too_large"),
])
def test_malformed_responses_are_bad_responses(probe_bin, servers, behave, detail):
    r = probe(probe_bin, "http://127.0.0.1:%d/" % servers.raw(behave).port).one()
    assert (r["result"], r["detail"], r["body_null"]) == ("bad_response", detail, True), r


def test_refused_scheme_is_reported_after_start_returns(probe_bin):
    r = probe(probe_bin, "ftp://127.0.0.1/file").one()
    assert (r["result"], r["detail"], r["code"]) == ("invalid_request", "scheme_refused", -95)
    assert r["after_return"] is True


def test_header_injection_is_refused(probe_bin, web):
    r = probe(probe_bin, "http://127.0.0.1:%d/echo" % web.port,
              "--header", "X-Test: a\r\nX-Evil: 1").one()
    assert (r["result"], r["detail"]) == ("invalid_request", "bad_header")


# ---- concurrency, reuse, cancellation ----

def test_hundred_concurrent_requests_complete_over_few_connections(probe_bin, web):
    run = probe(probe_bin, "http://127.0.0.1:%d/hello" % web.port, "--count", 100,
                "--max-transfers", 8)

    got = run.responses()
    assert len(got) == 100
    assert sorted(r["i"] for r in got) == list(range(100))
    assert {(r["result"], r["status"]) for r in got} == {("ok", 200)}
    # At most one connection per transfer slot, then kept alive and reused.
    assert 1 <= web.connections <= 8


def test_sequential_requests_reuse_one_connection(probe_bin, web):
    run = probe(probe_bin, "http://127.0.0.1:%d/hello" % web.port, "--count", 20,
                "--sequential", "--take-body")

    assert [r["result"] for r in run.responses()] == ["ok"] * 20
    assert web.connections == 1


def test_cancel_before_completion_never_calls_back(probe_bin, web):
    run = probe(probe_bin, "http://127.0.0.1:%d/slow/1500" % web.port, "--count", 3,
                "--cancel-after-ms", 200, "--linger-ms", 2000)

    assert run.responses() == []
    assert {"event": "cancelled", "n": 3} in run.events
    assert run.events[-1]["callbacks"] == 0
    assert "fetch_cancelled" in run.log


def test_cancel_leaves_queued_and_finished_requests_alone(probe_bin, web):
    # With one slot, the first request runs and the rest queue; cancelling all of them at once
    # must free queued transfers too.
    run = probe(probe_bin, "http://127.0.0.1:%d/slow/1000" % web.port, "--count", 4,
                "--max-transfers", 1, "--cancel-after-ms", 300, "--linger-ms", 1500)

    assert run.responses() == []
    assert {"event": "cancelled", "n": 4} in run.events


def test_destroy_with_requests_in_flight(probe_bin, web):
    run = probe(probe_bin, "http://127.0.0.1:%d/slow/1500" % web.port, "--count", 5,
                "--max-transfers", 2, "--destroy-after-ms", 200)

    assert run.responses() == []
    assert run.events[-1]["callbacks"] == 0
    assert "fetch_destroyed queued=3 active=2 done=0" in run.log


# ---- TLS ----

@pytest.fixture
def tls_web(servers, pki):
    return servers.http(tls_context(pki, pki.server))


def test_untrusted_certificate_is_unreachable(probe_bin, tls_web, pki):
    url = "https://127.0.0.1:%d/hello" % tls_web.port

    # The system roots do not know our CA, and neither does another private CA.
    for extra in ([], ["--ca", pki.other_ca]):
        r = probe(probe_bin, url, *extra).one()
        assert (r["result"], r["detail"], r["code"]) == (
            "unreachable", "tls_verify_failed", -13), r  # EACCES


def test_trusted_ca_gives_200(probe_bin, tls_web, pki):
    for host in ("127.0.0.1", "localhost"):
        r = probe(probe_bin, "https://%s:%d/hello" % (host, tls_web.port), "--ca", pki.ca,
                  "--print-body").one()
        assert (r["result"], r["status"], r["body"]) == ("ok", 200, "hello world")


def test_ca_given_as_pem_text_replaces_system_roots(probe_bin, tls_web, pki):
    url = "https://127.0.0.1:%d/hello" % tls_web.port

    ok = probe(probe_bin, url, "--ca-pem", pki.ca).one()
    other = probe(probe_bin, url, "--ca-pem", pki.other_ca).one()
    both = probe(probe_bin, url, "--ca-pem", pki.ca, "--ca", pki.ca).one()

    assert (ok["result"], ok["status"]) == ("ok", 200)
    assert (other["result"], other["detail"]) == ("unreachable", "tls_verify_failed")
    assert (both["result"], both["detail"]) == ("invalid_request", "tls_files")


def test_certificate_for_another_name_is_refused(probe_bin, servers, pki):
    wrong = servers.http(tls_context(pki, pki.wrong))

    r = probe(probe_bin, "https://127.0.0.1:%d/hello" % wrong.port, "--ca", pki.ca).one()
    assert (r["result"], r["detail"]) == ("unreachable", "tls_verify_failed")


def test_mtls_presents_client_certificate(probe_bin, servers, pki):
    mtls = servers.http(tls_context(pki, pki.server, require_client=True))
    url = "https://127.0.0.1:%d/echo" % mtls.port

    r = probe(probe_bin, url, "--ca", pki.ca, "--cert", pki.client[0], "--key", pki.client[1],
              "--print-body").one()
    assert (r["result"], r["status"]) == ("ok", 200)
    assert json.loads(r["body"])["client_cn"] == "fetch-client"

    refused = probe(probe_bin, url, "--ca", pki.ca).one()
    assert refused["result"] == "unreachable", refused


def test_unreadable_tls_files_are_invalid_requests(probe_bin, tls_web, pki):
    url = "https://127.0.0.1:%d/hello" % tls_web.port

    r = probe(probe_bin, url, "--ca", "/nonexistent/ca.pem").one()
    assert (r["result"], r["detail"]) == ("invalid_request", "tls_files")
    r = probe(probe_bin, url, "--ca", pki.ca, "--cert", "/nonexistent/c.pem",
              "--key", pki.client[1]).one()
    assert (r["result"], r["detail"]) == ("invalid_request", "tls_files")


def test_https_requests_share_keepalive_connections(probe_bin, tls_web, pki):
    run = probe(probe_bin, "https://127.0.0.1:%d/hello" % tls_web.port, "--ca", pki.ca,
                "--count", 30, "--max-transfers", 3)

    assert {r["result"] for r in run.responses()} == {"ok"}
    assert len(run.responses()) == 30
    assert 1 <= tls_web.connections <= 3
