"""TLS through the real binary: termination (versions, ciphers, ALPN, session tickets), SNI,
client certificates, SPIFFE X.509-SVIDs from federated trust domains, TLS to upstreams, rotation
of certificate, key and bundle files (also under wrk load), and a testssl.sh scan.

Certificates are made here with python3-cryptography (certs.py), clients are Python's ssl module
(client.py), upstreams are origin.py serving HTTPS. A refusal is checked from both sides: the
client gets no answer, and the gateway's warn line and metric name the reason. In TLS 1.3 a
client finishes its handshake before the server has looked at its certificate, so a refused
client only learns it from the alert that ends its first read.

Gateways that many tests share are started once per module (make_module_gateway); a refusal
test finds its own log line by reading only what was written after it began. Anything that
waits polls with a generous deadline: the machine is shared.
"""

import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

import pytest

import certs
from client import (echo, header_values, parse_responses, read_response, request,
                    send_request, tls_connect, tls_context, tls_echo, tls_request)
from conftest import Origin, binary, free_port, simple_route
from test_lifecycle import admin_get, metric, wait_for
from test_streaming import BIG_BODIES

DEADLINE = 15.0
SPIFFE_A = "example.org"
SPIFFE_B = "partner.example"


# --- configuration documents ---

def block(pem, indent):
    """PEM (or any) text as the lines of a YAML literal block at `indent` spaces."""
    text = pem.decode() if isinstance(pem, bytes) else pem
    return "".join(" " * indent + line + "\n" for line in text.splitlines())


def secret(name, cert):
    """A kubernetes.io/tls Secret holding cert's chain and key as stringData."""
    return """
apiVersion: v1
kind: Secret
metadata:
  name: %s
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s  tls.key: |
%s""" % (name, block(cert.chain_pem(), 4), block(cert.key_pem, 4))


def certificate_files(name, crt, key):
    return """
apiVersion: portcullis.dev/v1alpha1
kind: CertificateFiles
metadata:
  name: %s
spec:
  certificate: %s
  privateKey: %s
""" % (name, crt, key)


def config_map(name, *cas):
    return """
apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
data:
  ca.crt: |
%s""" % (name, block(b"".join(c.pem for c in cas), 4))


def trust_bundle(name, trust_domain=None, fmt=None, file=None, pem=None):
    """A TrustBundle from a file, or inline (pem: PEM text, or JSON for format SPIFFE)."""
    spec = ""
    if trust_domain:
        spec += "  trustDomain: %s\n" % trust_domain
    if fmt:
        spec += "  format: %s\n" % fmt
    if file:
        spec += "  file: %s\n" % file
    if pem is not None:
        spec += "  pem: |\n" + block(pem, 4)
    return """
apiVersion: portcullis.dev/v1alpha1
kind: TrustBundle
metadata:
  name: %s
spec:
%s""" % (name, spec)


def files_ref(name):
    return "{group: portcullis.dev, kind: CertificateFiles, name: %s}" % name


def bundle_ref(name):
    return "{group: portcullis.dev, kind: TrustBundle, name: %s}" % name


def https_listener(name, refs, port="{port}", hostname=None, client_refs=None):
    """A Gateway listener (YAML at column 0, as gateway_config's `listeners` takes it)."""
    text = "\n- name: %s\n  port: %s\n  protocol: HTTPS\n" % (name, port)
    if hostname:
        text += "  hostname: %s\n" % json.dumps(hostname)
    text += "  tls:\n    certificateRefs:\n" + "".join("    - %s\n" % r for r in refs)
    if client_refs:
        text += "    frontendValidation:\n      caCertificateRefs:\n"
        text += "".join("      - %s\n" % r for r in client_refs)
    return text


def client_policy(name, target, mode=None, xfcc_mode=None):
    """A ClientTrafficPolicy; target is the flow mapping of one targetRef."""
    spec = "  targetRefs:\n  - %s\n" % target
    if mode:
        spec += "  tls:\n    clientCertificate:\n      mode: %s\n" % mode
    if xfcc_mode:
        spec += "  forwardClientCert:\n    mode: %s\n" % xfcc_mode
    return """
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: %s
spec:
%s""" % (name, spec)


def backend_tls_policy(hostname, ca_ref, sans=(), service="origin"):
    """A BackendTLSPolicy on every port of a Service; sans: (type, value) pairs."""
    text = """
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata:
  name: %s-tls
spec:
  targetRefs:
  - {group: "", kind: Service, name: %s}
  validation:
    hostname: %s
    caCertificateRefs:
    - %s
""" % (service, service, hostname, ca_ref)
    if sans:
        text += "    subjectAltNames:\n"
        for kind, value in sans:
            key = "uri" if kind == "URI" else "hostname"
            text += "    - {type: %s, %s: %s}\n" % (kind, key, json.dumps(value))
    return text


def backend_client_certificate(ref):
    """gateway_extra: the certificate the Gateway presents to TLS backends."""
    return "\n  backendTLS:\n    clientCertificateRef: %s" % ref


def no_pooling(service="origin"):
    return """
apiVersion: portcullis.dev/v1alpha1
kind: BackendTrafficPolicy
metadata:
  name: %s-no-pool
spec:
  targetRefs:
  - {group: "", kind: Service, name: %s}
  connectionPool:
    maxIdlePerEndpoint: 0
""" % (service, service)


def docs(*parts):
    return "\n---\n".join(p.strip("\n") for p in parts if p)


# --- checks ---

def wait_log(gw, pattern, start=0, deadline=DEADLINE):
    """The first match of pattern in what the gateway logged after offset start."""
    rx = re.compile(pattern, re.M)
    end = time.time() + deadline
    while True:
        m = rx.search(gw.log()[start:])
        if m:
            return m
        if time.time() > end:
            raise AssertionError("no log line matches %r; the log after the test began:\n%s"
                                 % (pattern, gw.log()[start:][-4000:]))
        time.sleep(0.05)


def counter(gw, name, reason=None):
    value = metric(gw, name, 'reason="%s"' % reason if reason else None)
    return value or 0


def peer_sha256(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def attempt(port, ctx, sni=None, host=None):
    """Handshake and one request: the status, or the exception that ended the attempt."""
    try:
        with tls_connect(port, ctx, sni) as sock:
            return send_request(sock, host=host or sni or "example.com")[0]
    except (ssl.SSLError, OSError) as e:
        return e


def refused_client(gw, ctx, reason, sni=None, port=None):
    """Asserts that a client with ctx gets no answer, that the gateway logs a warn
    client_certificate_refused line with this reason, and counts the handshake failure."""
    before = counter(gw, "portcullis_tls_handshake_failures_total", reason)
    start = len(gw.log())
    outcome = attempt(port or gw.port, ctx, sni)
    assert isinstance(outcome, Exception), "a refused client was answered %r" % outcome
    wait_log(gw, r" warn tls client_certificate_refused .*reason=%s\b" % re.escape(reason),
             start)
    wait_for(lambda: counter(gw, "portcullis_tls_handshake_failures_total", reason) > before,
             what="portcullis_tls_handshake_failures_total{reason=%r}" % reason)
    return outcome


def refused_handshake(gw, ctx, reason, sni=None):
    """Asserts that the handshake itself fails and the gateway counts it under reason."""
    before = counter(gw, "portcullis_tls_handshake_failures_total", reason)
    with pytest.raises(ssl.SSLError) as info:
        tls_connect(gw.port, ctx, sni).close()
    wait_for(lambda: counter(gw, "portcullis_tls_handshake_failures_total", reason) > before,
             what="portcullis_tls_handshake_failures_total{reason=%r}" % reason)
    return info.value


def xfcc(doc):
    return header_values(doc, "x-forwarded-client-cert")


# --- certificates shared by the module ---

class Pki:
    """Every certificate the module's tests use, written once to a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="portcullis-tls-")
        self.server_ca = certs.ca("Server Root CA")
        self.api = certs.leaf(self.server_ca, cn="api.example.com", dns=["api.example.com"],
                              client=False)
        self.files = certs.leaf(self.server_ca, cn="files.example.com",
                                dns=["files.example.com"], client=False)
        self.rsa = certs.leaf(self.server_ca, cn="rsa.example.com", dns=["rsa.example.com"],
                              client=False, rsa_bits=2048)
        self.www = certs.leaf(self.server_ca, cn="www.example.com", dns=["www.example.com"],
                              client=False)
        self.wildcard = certs.leaf(self.server_ca, cn="wildcard", dns=["*.example.com"],
                                   client=False)
        self.default = certs.leaf(self.server_ca, cn="default.test", dns=["default.test"],
                                  client=False)

        self.client_ca = certs.ca("Client Root CA")
        self.client_int = certs.ca("Client Intermediate CA", issuer=self.client_ca)
        self.client = certs.leaf(self.client_ca, cn="client", dns=["client.example.com"],
                                 server=False)
        self.other_ca = certs.ca("Other Root CA")

        self.td_a = certs.ca("example.org CA", uris=["spiffe://" + SPIFFE_A])
        self.td_b = certs.ca("partner.example CA", uris=["spiffe://" + SPIFFE_B])
        self.td_evil = certs.ca("evil.example CA", uris=["spiffe://evil.example"])

        self.upstream_ca = certs.ca("Upstream Root CA")
        self.upstream = certs.leaf(self.upstream_ca, cn="backend", dns=["backend.internal"],
                                   uris=["spiffe://%s/ns/default/sa/api" % SPIFFE_A],
                                   client=False)
        self.gateway_ca = certs.ca("Gateway Client CA")
        self.gateway_client = certs.leaf(self.gateway_ca, cn="gateway", server=False,
                                         uris=["spiffe://%s/ns/edge/sa/gateway" % SPIFFE_A])

        self.paths = {}
        for name in ("client", "files", "upstream", "gateway_client"):
            self.paths[name] = getattr(self, name).write(self.dir, name)
        for name in ("server_ca", "client_ca", "upstream_ca", "gateway_ca"):
            self.paths[name] = self.write_pem(name + ".pem", getattr(self, name).pem)

    def write_pem(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
        return path

    def client_files(self, cert, name, chain=True):
        """(chain path, key path) of a client certificate, for tls_context(cert=...); chain:
        whether the file holds its intermediates too."""
        return cert.write(self.dir, name, chain=chain)


@pytest.fixture(scope="module")
def pki():
    p = Pki()
    yield p
    shutil.rmtree(p.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def module_origin():
    o = Origin("origin-tls")
    yield o
    o.stop()


# --- termination ---

@pytest.fixture(scope="module")
def term_gw(make_module_gateway, module_origin, pki):
    """One listener, three certificates: EC from a Secret (api.example.com, the first, so the
    default), EC from CertificateFiles (files.example.com) and RSA from a Secret
    (rsa.example.com)."""
    crt, key = pki.paths["files"]
    return make_module_gateway(
        simple_route(), {"origin": [module_origin.address]},
        listeners=https_listener("https", ["{name: api}", files_ref("files"), "{name: rsa}"]),
        policies=docs(secret("api", pki.api), certificate_files("files", crt, key),
                      secret("rsa", pki.rsa)))


def test_https_with_ec_certificate_from_secret(term_gw, pki):
    ctx = tls_context(ca=pki.server_ca.pem)
    with tls_connect(term_gw.port, ctx, "api.example.com") as sock:
        assert peer_sha256(sock) == pki.api.fingerprint()
        assert sock.version() == "TLSv1.3"
        assert sock.selected_alpn_protocol() == "http/1.1"
        status, headers, body = send_request(sock, host="api.example.com")
        assert status == 200
        doc = json.loads(body)
        assert header_values(doc, "x-forwarded-proto") == ["https"]
        assert headers["x-origin"] == "origin-tls"
        # The connection stays usable: keep-alive over TLS.
        assert send_request(sock, path="/echo/2", host="api.example.com")[0] == 200


def test_https_with_certificate_files(term_gw, pki):
    ctx = tls_context(ca=pki.server_ca.pem)
    with tls_connect(term_gw.port, ctx, "files.example.com") as sock:
        assert peer_sha256(sock) == pki.files.fingerprint()
        assert send_request(sock, host="files.example.com")[0] == 200


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_tls_versions_offered(term_gw, pki, version):
    ctx = tls_context(ca=pki.server_ca.pem, minimum=version, maximum=version)
    with tls_connect(term_gw.port, ctx, "api.example.com") as sock:
        assert sock.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                  ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        cipher = sock.cipher()[0]
        assert "GCM" in cipher or "CHACHA20" in cipher, cipher
        if version == ssl.TLSVersion.TLSv1_2:
            assert cipher.startswith("ECDHE-"), cipher
        assert send_request(sock, host="api.example.com")[0] == 200


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1],
                         ids=["tls1.0", "tls1.1"])
def test_legacy_tls_versions_refused(term_gw, version):
    ctx = tls_context(minimum=version, maximum=version)
    err = refused_handshake(term_gw, ctx, "unsupported_protocol", "api.example.com")
    assert "version" in str(err).lower() or "protocol" in str(err).lower(), err


@pytest.mark.parametrize("sni, cipher", [
    ("api.example.com", "ECDHE-ECDSA-AES128-SHA256"),
    ("api.example.com", "ECDHE-ECDSA-AES256-SHA"),
    ("rsa.example.com", "ECDHE-RSA-AES128-SHA256"),
    ("rsa.example.com", "AES128-GCM-SHA256"),
    ("rsa.example.com", "AES256-GCM-SHA384"),
    ("rsa.example.com", "DHE-RSA-AES128-GCM-SHA256"),
], ids=["ec-cbc-sha256", "ec-cbc-sha1", "rsa-cbc", "rsa-kx-gcm", "rsa-kx-gcm256", "dhe-gcm"])
def test_tls12_cbc_and_non_ecdhe_ciphers_refused(term_gw, sni, cipher):
    ctx = tls_context(maximum=ssl.TLSVersion.TLSv1_2, ciphers=cipher)
    refused_handshake(term_gw, ctx, "no_shared_cipher", sni)


@pytest.mark.parametrize("sni, cipher", [
    ("api.example.com", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    ("api.example.com", "ECDHE-ECDSA-CHACHA20-POLY1305"),
    ("rsa.example.com", "ECDHE-RSA-AES256-GCM-SHA384"),
], ids=["ec-gcm", "ec-chacha", "rsa-gcm"])
def test_tls12_ecdhe_aead_ciphers_accepted(term_gw, pki, sni, cipher):
    """The counterpart of the refusals: the same client settings with an allowed cipher."""
    ctx = tls_context(ca=pki.server_ca.pem, maximum=ssl.TLSVersion.TLSv1_2, ciphers=cipher)
    with tls_connect(term_gw.port, ctx, sni) as sock:
        assert sock.cipher()[0] == cipher
        assert send_request(sock, host=sni)[0] == 200


def test_alpn_only_h2_refused(term_gw):
    err = refused_handshake(term_gw, tls_context(alpn=("h2",)), "no_application_protocol",
                            "api.example.com")
    assert "no application protocol" in str(err).lower(), err


@pytest.mark.parametrize("alpn, selected", [(("h2", "http/1.1"), "http/1.1"), ((), None)],
                         ids=["h2-and-http1.1", "none"])
def test_alpn_selects_http11(term_gw, pki, alpn, selected):
    ctx = tls_context(ca=pki.server_ca.pem, alpn=alpn)
    with tls_connect(term_gw.port, ctx, "api.example.com") as sock:
        assert sock.selected_alpn_protocol() == selected
        assert send_request(sock, host="api.example.com")[0] == 200


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_session_resumption_with_ticket(term_gw, pki, version):
    ctx = tls_context(ca=pki.server_ca.pem, maximum=version)
    before = counter(term_gw, "portcullis_tls_resumed_total")
    with tls_connect(term_gw.port, ctx, "api.example.com") as sock:
        # TLS 1.3 tickets arrive after the handshake: read a response first.
        assert send_request(sock, host="api.example.com")[0] == 200
        assert not sock.session_reused
        session = sock.session
    assert session is not None and session.has_ticket
    with tls_connect(term_gw.port, ctx, "api.example.com", session=session) as sock:
        assert sock.session_reused
        assert send_request(sock, host="api.example.com")[0] == 200
    wait_for(lambda: counter(term_gw, "portcullis_tls_resumed_total") == before + 1,
             what="portcullis_tls_resumed_total to count one resumption")


def test_tls13_resumption_issues_a_fresh_ticket(term_gw, pki):
    """TLS 1.3 clients use a ticket once (RFC 8446 C.4): a resumed connection gets a new
    ticket, so a client keeps resuming instead of falling back to a full handshake on every
    other connection."""
    ctx = tls_context(ca=pki.server_ca.pem, maximum=ssl.TLSVersion.TLSv1_3)
    before = counter(term_gw, "portcullis_tls_resumed_total")
    with tls_connect(term_gw.port, ctx, "api.example.com") as sock:
        assert send_request(sock, host="api.example.com")[0] == 200
        session = sock.session
    for _ in range(3):
        with tls_connect(term_gw.port, ctx, "api.example.com", session=session) as sock:
            assert sock.session_reused
            assert send_request(sock, host="api.example.com")[0] == 200
            renewed = sock.session
        assert renewed.has_ticket and renewed.id != session.id, "no new ticket after resumption"
        session = renewed
    wait_for(lambda: counter(term_gw, "portcullis_tls_resumed_total") == before + 3,
             what="portcullis_tls_resumed_total to count three resumptions")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_session_tickets_disabled(make_gateway, module_origin, pki, version):
    """ProxyConfig tls.sessionTickets: false: no ticket is issued and every connection is a
    full handshake."""
    gw = make_gateway(
        simple_route(), {"origin": [module_origin.address]},
        listeners=https_listener("https", ["{name: api}"]), policies=secret("api", pki.api),
        proxy_extra="  tls:\n    sessionTickets: false\n")
    ctx = tls_context(ca=pki.server_ca.pem, maximum=version)
    with tls_connect(gw.port, ctx, "api.example.com") as sock:
        assert send_request(sock, host="api.example.com")[0] == 200
        session = sock.session
    assert session is None or not session.has_ticket
    # Offering what the client kept of the session (no ticket) resumes nothing either.
    with tls_connect(gw.port, ctx, "api.example.com", session=session) as sock:
        assert not sock.session_reused
        assert send_request(sock, host="api.example.com")[0] == 200
    assert counter(gw, "portcullis_tls_resumed_total") == 0
    wait_for(lambda: counter(gw, "portcullis_tls_handshakes_total") == 2,
             what="portcullis_tls_handshakes_total to count two full handshakes")


# --- streaming over TLS ---
# A TLS connection keeps reading while its request is served, as a plain one does; these check
# that what arrives meanwhile is held, bounded, and answered in order.

def test_pipelined_requests_over_tls_are_answered_in_order(term_gw, pki):
    bodies = [b"a" * 10, b"b" * 70000, b"", b"d" * 3]
    burst = b""
    for i, body in enumerate(bodies):
        burst += (b"POST /echo/%d HTTP/1.1\r\nHost: api.example.com\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (i, len(body), body))
    burst += b"GET /echo/4 HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n"
    ctx = tls_context(ca=pki.server_ca.pem)
    data = b""
    with tls_connect(term_gw.port, ctx, "api.example.com") as sock:
        sock.sendall(burst)
        while True:
            try:
                chunk = sock.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not chunk:
                break
            data += chunk
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200] * 5
    docs = [json.loads(r[2]) for r in responses]
    assert [d["target"] for d in docs] == ["/echo/%d" % i for i in range(5)]
    for doc, body in zip(docs, bodies + [b""]):
        assert doc["body_len"] == len(body)
        assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_tls_client_gone_mid_request_is_recorded_as_499(term_gw, pki):
    """The connection is read while its request is served, so a client that resets it is seen
    at once: the exchange ends as client_closed (499) before the slow answer would have come."""
    ctx = tls_context(ca=pki.server_ca.pem)
    seen = len(term_gw.access_log())
    sock = tls_connect(term_gw.port, ctx, "api.example.com")
    sock.sendall(b"GET /slow?ms=3000 HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
    time.sleep(0.3)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    start = time.monotonic()
    sock.close()

    def entry():
        return [e for e in term_gw.access_log()[seen:] if e.get("path") == "/slow"]

    found = wait_for(entry, what="an access log line for the abandoned request")
    assert found[0]["status"] == 499
    assert time.monotonic() - start < 2.5, "the reset was noticed only when the answer came"


def test_upload_over_tls_to_a_slow_upstream_is_intact_and_held_back(make_gateway,
                                                                   module_origin, pki):
    """The upstream reads nothing for 2 s: the gateway stops reading the client once it holds
    a buffer of plaintext and a bounded amount of ciphertext, so the client cannot send the
    body meanwhile; then the body arrives whole. (What the client got out is measured rather
    than the gateway's RSS, which under AddressSanitizer follows the allocator's churn: OpenSSL
    takes and gives back a record buffer per record.)"""
    mib = 1024 * 1024
    size = 64 * mib
    gw = make_gateway(simple_route(), {"origin": [module_origin.address]},
                      listeners=https_listener("https", ["{name: api}"]),
                      policies=docs(secret("api", pki.api), BIG_BODIES))
    ctx = tls_context(ca=pki.server_ca.pem)
    body = os.urandom(mib) * 64
    sent = [0]
    failure = []

    with tls_connect(gw.port, ctx, "api.example.com", timeout=60) as sock:
        sock.sendall(b"POST /hold?ms=2000 HTTP/1.1\r\nHost: api.example.com\r\n"
                     b"Content-Length: %d\r\n\r\n" % size)

        def send():
            try:
                view = memoryview(body)
                for off in range(0, size, 65536):
                    sock.sendall(view[off:off + 65536])
                    sent[0] = off + 65536
            except OSError as e:
                failure.append(e)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        time.sleep(1.2)
        early = sent[0]
        sender.join(60)
        status, _, resp_body, _ = read_response(sock, timeout=60)
    assert not failure, failure
    assert early < size // 2, "%.1f MiB went out while the upstream read nothing" % (early / mib)
    assert status == 200
    doc = json.loads(resp_body)
    assert doc["body_len"] == size
    assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_plain_http_on_https_port_gets_no_answer(term_gw):
    before = counter(term_gw, "portcullis_tls_handshake_failures_total", "plain_http_on_tls_port")
    with socket.create_connection(("127.0.0.1", term_gw.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
        data = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        except ConnectionResetError:
            pass
    assert not data.startswith(b"HTTP/"), data[:200]
    wait_for(lambda: counter(term_gw, "portcullis_tls_handshake_failures_total",
                             "plain_http_on_tls_port") > before,
             what="the plain HTTP request to be counted")


# --- SNI ---

@pytest.fixture(scope="module")
def sni_gw(make_module_gateway, module_origin, pki):
    """Three HTTPS listeners on one port: api.example.com, *.example.com with two certificates
    (www.example.com, then *.example.com) and one without a hostname."""
    listeners = (https_listener("api", ["{name: api}"], hostname="api.example.com")
                 + https_listener("wild", ["{name: www}", "{name: wildcard}"],
                                  hostname="*.example.com")
                 + https_listener("default", ["{name: default}"]))
    return make_module_gateway(
        simple_route(), {"origin": [module_origin.address]}, listeners=listeners,
        policies=docs(secret("api", pki.api), secret("www", pki.www),
                      secret("wildcard", pki.wildcard), secret("default", pki.default)))


@pytest.mark.parametrize("sni, cert", [
    ("api.example.com", "api"),
    ("API.Example.com", "api"),
    ("www.example.com", "www"),
    ("foo.example.com", "wildcard"),
    ("other.test", "default"),
], ids=["exact", "exact-case", "wildcard-listener-exact-cert", "wildcard-cert", "no-match"])
def test_sni_chooses_listener_and_certificate(sni_gw, pki, sni, cert):
    expected = getattr(pki, cert)
    # Verifying the chain and the name (for the names a certificate covers) as a browser would.
    covered = cert != "default"
    ctx = tls_context(ca=pki.server_ca.pem, check_hostname=covered)
    with tls_connect(sni_gw.port, ctx, sni) as sock:
        assert peer_sha256(sock) == expected.fingerprint()
        assert send_request(sock, host=sni.lower())[0] == 200


def test_no_sni_gets_the_default_listener_and_certificate(sni_gw, pki):
    ctx = tls_context(ca=pki.server_ca.pem, check_hostname=False)
    with tls_connect(sni_gw.port, ctx, None) as sock:
        assert peer_sha256(sock) == pki.default.fingerprint()
        assert send_request(sock, host="other.test")[0] == 200


@pytest.mark.parametrize("sni, host, status", [
    ("api.example.com", "www.example.com", 421),
    ("www.example.com", "api.example.com", 421),
    ("api.example.com", "other.test", 421),
    (None, "api.example.com", 421),
    ("www.example.com", "foo.example.com", 200),
    ("api.example.com", "api.example.com:443", 200),
], ids=["exact-to-wildcard", "wildcard-to-exact", "exact-to-default", "none-to-exact",
        "same-wildcard-listener", "host-with-port"])
def test_host_selecting_another_listener_than_sni_is_misdirected(sni_gw, sni, host, status):
    ctx = tls_context()
    with tls_connect(sni_gw.port, ctx, sni) as sock:
        got, _, body = send_request(sock, host=host)
        assert got == status, body[:300]


# --- client certificates ---

@pytest.fixture(scope="module")
def mtls_gw(make_module_gateway, module_origin, pki):
    """The gateway's port: listener "mtls" requiring certificates from the client CA, where
    /sanitized is routed under forwardClientCert Sanitize. optional_port: listener "optional"
    asking for certificates from the same CA in mode Optional."""
    optional_port = free_port()
    routes = simple_route() + "\n---\n" + """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: sanitized
spec:
  parentRefs:
  - name: edge
  rules:
  - matches:
    - path: {type: PathPrefix, value: /sanitized}
    backendRefs:
    - name: origin
      port: 80
"""
    listeners = (https_listener("mtls", ["{name: server}"], client_refs=["{name: client-ca}"])
                 + https_listener("optional", ["{name: server}"], port=optional_port,
                                  client_refs=["{name: client-ca}"]))
    gw = make_module_gateway(
        routes, {"origin": [module_origin.address]}, listeners=listeners,
        policies=docs(secret("server", pki.api), config_map("client-ca", pki.client_ca),
                      client_policy("optional-certs",
                                    "{kind: Gateway, name: edge, sectionName: optional}",
                                    mode="Optional"),
                      client_policy("sanitize", "{kind: HTTPRoute, name: sanitized}",
                                    xfcc_mode="Sanitize")))
    gw.optional_port = optional_port
    return gw


def test_client_certificate_accepted_and_forwarded(mtls_gw, pki):
    ctx = tls_context(ca=pki.server_ca.pem, cert=pki.paths["client"])
    status, _, doc = tls_echo(mtls_gw.port, ctx, "api.example.com")
    assert status == 200
    assert xfcc(doc) == ['Hash=%s;Subject="CN=client";DNS=client.example.com'
                         % pki.client.fingerprint()]


def test_client_sent_xfcc_is_replaced(mtls_gw, pki):
    ctx = tls_context(ca=pki.server_ca.pem, cert=pki.paths["client"])
    forged = 'Hash=%s;Subject="CN=admin";URI=spiffe://example.org/admin' % ("0" * 64)
    status, _, doc = tls_echo(mtls_gw.port, ctx, "api.example.com",
                              headers={"X-Forwarded-Client-Cert": forged})
    assert status == 200
    (value,) = xfcc(doc)
    assert value.startswith("Hash=%s;" % pki.client.fingerprint()), value
    assert "admin" not in value


def test_forward_client_cert_sanitize_only_removes(mtls_gw, pki):
    ctx = tls_context(ca=pki.server_ca.pem, cert=pki.paths["client"])
    status, _, doc = tls_echo(mtls_gw.port, ctx, "api.example.com", path="/sanitized/echo",
                              headers={"X-Forwarded-Client-Cert": "Hash=forged"})
    assert status == 200
    assert xfcc(doc) == []


@pytest.mark.parametrize("case, reason", [
    ("unknown_ca", "unknown_ca"),
    ("expired", "expired"),
    ("not_yet_valid", "not_yet_valid"),
    ("ca_as_client", "ca_as_leaf"),
    ("server_only_eku", "wrong_usage"),
    ("intermediate_missing", "unknown_ca"),
])
def test_client_certificate_refused(mtls_gw, pki, case, reason):
    make = {
        "unknown_ca": lambda: certs.leaf(pki.other_ca, cn="client", server=False),
        "expired": lambda: certs.leaf(pki.client_ca, cn="client", server=False,
                                      not_before=certs.days(-30), not_after=certs.days(-1)),
        "not_yet_valid": lambda: certs.leaf(pki.client_ca, cn="client", server=False,
                                            not_before=certs.days(2), not_after=certs.days(30)),
        # An intermediate CA of the trusted root, presenting itself as a client.
        "ca_as_client": lambda: pki.client_int,
        "server_only_eku": lambda: certs.leaf(pki.client_ca, cn="client", client=False),
        # Signed by the intermediate, sent without it: no path to the root.
        "intermediate_missing": lambda: certs.leaf(pki.client_int, cn="client", server=False),
    }[case]
    files = pki.client_files(make(), "refused-" + case, chain=case != "intermediate_missing")
    ctx = tls_context(ca=pki.server_ca.pem, cert=files)
    refused_client(mtls_gw, ctx, reason, "api.example.com")


def test_client_certificate_through_intermediate_accepted(mtls_gw, pki):
    cert = certs.leaf(pki.client_int, cn="client2", server=False)
    ctx = tls_context(ca=pki.server_ca.pem, cert=pki.client_files(cert, "client2"))
    status, _, doc = tls_echo(mtls_gw.port, ctx, "api.example.com")
    assert status == 200
    assert xfcc(doc) == ['Hash=%s;Subject="CN=client2"' % cert.fingerprint()]


def test_no_client_certificate_refused_when_required(mtls_gw, pki):
    ctx = tls_context(ca=pki.server_ca.pem)
    refused_client(mtls_gw, ctx, "no_client_certificate", "api.example.com")


def test_tls12_client_certificate_refused_during_handshake(mtls_gw, pki):
    """In TLS 1.2 the server's verdict comes before the client's handshake ends."""
    cert = certs.leaf(pki.other_ca, cn="client", server=False)
    ctx = tls_context(ca=pki.server_ca.pem, maximum=ssl.TLSVersion.TLSv1_2,
                      cert=pki.client_files(cert, "tls12-unknown"))
    with pytest.raises(ssl.SSLError):
        tls_connect(mtls_gw.port, ctx, "api.example.com").close()


def test_optional_mode_serves_clients_without_certificate(mtls_gw, pki):
    ctx = tls_context(ca=pki.server_ca.pem)
    status, _, doc = tls_echo(mtls_gw.optional_port, ctx, "api.example.com",
                              headers={"X-Forwarded-Client-Cert": "Hash=forged"})
    assert status == 200
    assert xfcc(doc) == []


def test_optional_mode_forwards_a_valid_certificate(mtls_gw, pki):
    ctx = tls_context(ca=pki.server_ca.pem, cert=pki.paths["client"])
    status, _, doc = tls_echo(mtls_gw.optional_port, ctx, "api.example.com")
    assert status == 200
    assert xfcc(doc) == ['Hash=%s;Subject="CN=client";DNS=client.example.com'
                         % pki.client.fingerprint()]


def test_optional_mode_refuses_a_bad_certificate(mtls_gw, pki):
    cert = certs.leaf(pki.other_ca, cn="client", server=False)
    ctx = tls_context(ca=pki.server_ca.pem, cert=pki.client_files(cert, "optional-unknown"))
    refused_client(mtls_gw, ctx, "unknown_ca", "api.example.com", port=mtls_gw.optional_port)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
@pytest.mark.parametrize("listener", ["require", "optional"])
def test_session_resumption_with_client_certificate(mtls_gw, pki, listener, version):
    """A listener that asks for client certificates resumes sessions too, and the resumed
    connection still carries the verified client's identity."""
    port = mtls_gw.port if listener == "require" else mtls_gw.optional_port
    ctx = tls_context(ca=pki.server_ca.pem, cert=pki.paths["client"], maximum=version)
    expected = ['Hash=%s;Subject="CN=client";DNS=client.example.com' % pki.client.fingerprint()]
    with tls_connect(port, ctx, "api.example.com") as sock:
        status, _, body = send_request(sock, host="api.example.com")
        assert status == 200 and xfcc(json.loads(body)) == expected
        session = sock.session
    with tls_connect(port, ctx, "api.example.com", session=session) as sock:
        assert sock.session_reused
        status, _, body = send_request(sock, host="api.example.com")
        assert status == 200
        assert xfcc(json.loads(body)) == expected


def test_resumed_session_cannot_skip_client_authentication(make_gateway, module_origin, pki):
    """A ticket from a listener that asks for no certificate, offered to one that requires
    one (on another port, and on the same port by SNI), must not stand in for a client
    certificate: tickets are encrypted under process-wide keys."""
    other_port = free_port()
    listeners = (https_listener("open", ["{name: server}"], hostname="open.example.com")
                 + https_listener("secure", ["{name: server}"], hostname="secure.example.com",
                                  client_refs=["{name: client-ca}"])
                 + https_listener("secure-port", ["{name: server}"], port=other_port,
                                  client_refs=["{name: client-ca}"]))
    server = certs.leaf(pki.server_ca, cn="server", client=False,
                        dns=["open.example.com", "secure.example.com", "api.example.com"])
    gw = make_gateway(simple_route(), {"origin": [module_origin.address]}, listeners=listeners,
                      policies=docs(secret("server", server),
                                    config_map("client-ca", pki.client_ca)))
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = tls_context(ca=pki.server_ca.pem, maximum=version, check_hostname=False)
        with tls_connect(gw.port, ctx, "open.example.com") as sock:
            assert send_request(sock, host="open.example.com")[0] == 200
            session = sock.session
        for port, sni in ((gw.port, "secure.example.com"), (other_port, "api.example.com")):
            outcome = None
            try:
                with tls_connect(port, ctx, sni, session=session) as sock:
                    outcome = send_request(sock, host=sni)[0]
            except (ssl.SSLError, OSError) as e:
                outcome = e
            assert outcome != 200, (version, port, sni)


# --- SPIFFE ---

@pytest.fixture(scope="module")
def spiffe_gw(make_module_gateway, module_origin, pki):
    """Clients must present X.509-SVIDs of example.org (a PEM TrustBundle) or of the federated
    partner.example (a TrustBundle file in the SPIFFE bundle format)."""
    bundle_b = pki.write_pem("partner.example.json", certs.spiffe_bundle(pki.td_b).encode())
    return make_module_gateway(
        simple_route(), {"origin": [module_origin.address]},
        listeners=https_listener("mesh", ["{name: server}"],
                                 client_refs=[bundle_ref("example-org"), bundle_ref("partner")]),
        policies=docs(secret("server", pki.api),
                      trust_bundle("example-org", SPIFFE_A, pem=pki.td_a.pem),
                      trust_bundle("partner", SPIFFE_B, fmt="SPIFFE", file=bundle_b)))


def svid(pki, issuer, name, uris, **kw):
    cert = certs.leaf(issuer, cn="workload", uris=uris, **kw)
    return cert, tls_context(ca=pki.server_ca.pem, cert=pki.client_files(cert, name))


@pytest.mark.parametrize("domain", ["a", "b"], ids=[SPIFFE_A, SPIFFE_B])
def test_svids_of_both_federated_trust_domains_accepted(spiffe_gw, pki, domain):
    issuer, td = (pki.td_a, SPIFFE_A) if domain == "a" else (pki.td_b, SPIFFE_B)
    spiffe_id = "spiffe://%s/ns/default/sa/client" % td
    cert, ctx = svid(pki, issuer, "svid-" + domain, [spiffe_id])
    status, _, doc = tls_echo(spiffe_gw.port, ctx, "api.example.com")
    assert status == 200
    assert xfcc(doc) == ['Hash=%s;Subject="CN=workload";URI=%s'
                         % (cert.fingerprint(), spiffe_id)]


@pytest.mark.parametrize("uris, reason", [
    (["spiffe://example.org/a", "spiffe://example.org/b"], "svid_multiple_uri_sans"),
    ([], "svid_no_uri_san"),
    (["spiffe://example.org:8443/a"], "spiffe_id_port"),
    (["spiffe://user@example.org/a"], "spiffe_id_userinfo"),
    (["spiffe://example.org/a?b=c"], "spiffe_id_query"),
    (["spiffe://example.org/a//b"], "spiffe_id_empty_segment"),
    (["spiffe://example.org/a/./b"], "spiffe_id_dot_segment"),
    (["spiffe://example.org/a/../b"], "spiffe_id_dot_segment"),
    (["spiffe://example.org/a*b"], "spiffe_id_bad_char"),
    (["spiffe://Example.org/a"], "spiffe_id_uppercase_trust_domain"),
    (["spiffe://example.org"], "svid_no_path"),
], ids=["two-uris", "no-uri", "port", "userinfo", "query", "empty-segment", "dot-segment",
        "dot-dot-segment", "bad-char", "uppercase-trust-domain", "no-path"])
def test_malformed_svid_refused(spiffe_gw, pki, uris, reason):
    kw = {"dns": ["workload.example.org"]} if not uris else {}
    _, ctx = svid(pki, pki.td_a, "bad-svid", uris, **kw)
    refused_client(spiffe_gw, ctx, reason, "api.example.com")


def test_svid_from_foreign_trust_domain_refused(spiffe_gw, pki):
    _, ctx = svid(pki, pki.td_evil, "evil-svid", ["spiffe://evil.example/ns/default/sa/x"])
    refused_client(spiffe_gw, ctx, "foreign_trust_domain", "api.example.com")


def test_svid_signed_by_another_federated_domain_refused(spiffe_gw, pki):
    """partner.example's CA cannot vouch for an example.org ID: each ID is checked against
    its own trust domain's bundle only."""
    _, ctx = svid(pki, pki.td_b, "cross-svid", ["spiffe://example.org/ns/default/sa/x"])
    refused_client(spiffe_gw, ctx, "unknown_ca", "api.example.com")


def test_svid_whose_leaf_is_a_ca_refused(spiffe_gw, pki):
    _, ctx = svid(pki, pki.td_a, "ca-svid", ["spiffe://example.org/ns/default/sa/x"],
                  is_ca=True)
    refused_client(spiffe_gw, ctx, "svid_leaf_is_ca", "api.example.com")


# --- TLS to upstreams ---

@pytest.fixture
def tls_origin(pki):
    o = Origin("origin-https", tls=pki.paths["upstream"])
    yield o
    o.stop()


@pytest.fixture
def mtls_origin(pki):
    """An HTTPS origin requiring client certificates from the gateway's CA."""
    o = Origin("origin-mtls", tls=pki.paths["upstream"], client_ca=pki.paths["gateway_ca"],
               count_client=pki.paths["gateway_client"])
    yield o
    o.stop()


def upstream_refused(gw, reason, path="/echo"):
    """Asserts a 502 for an upstream whose certificate the gateway refuses, with the warn line
    and the metric."""
    before = counter(gw, "portcullis_upstream_tls_failures_total")
    start = len(gw.log())
    status, _, body = request(gw.port, path=path)
    assert status == 502, body[:300]
    wait_log(gw, r" warn tls upstream_certificate_refused .*reason=%s\b" % re.escape(reason),
             start)
    wait_for(lambda: counter(gw, "portcullis_upstream_tls_failures_total") > before,
             what="portcullis_upstream_tls_failures_total")


def test_upstream_hostname_verified(make_gateway, tls_origin, pki):
    gw = make_gateway(simple_route(), {"origin": [tls_origin.address]},
                      policies=docs(backend_tls_policy("backend.internal", "{name: upstream-ca}"),
                                    config_map("upstream-ca", pki.upstream_ca)))
    status, _, doc = echo(gw.port)
    assert status == 200
    assert doc["origin"] == "origin-https"
    assert doc["client_cert_sha256"] is None  # no Gateway backendTLS: no client certificate


@pytest.mark.parametrize("hostname, ca, reason", [
    ("elsewhere.internal", "upstream_ca", "name_mismatch"),
    ("backend.internal", "server_ca", "unknown_ca"),
], ids=["wrong-hostname", "unknown-ca"])
def test_upstream_certificate_refused(make_gateway, tls_origin, pki, hostname, ca, reason):
    gw = make_gateway(simple_route(), {"origin": [tls_origin.address]},
                      policies=docs(backend_tls_policy(hostname, "{name: upstream-ca}"),
                                    config_map("upstream-ca", getattr(pki, ca))))
    upstream_refused(gw, reason)
    assert tls_origin.served() == 0


@pytest.mark.parametrize("spiffe_id, status", [
    ("spiffe://example.org/ns/default/sa/api", 200),
    ("spiffe://example.org/ns/default/sa/other", 502),
], ids=["matching", "other"])
def test_upstream_spiffe_id(make_gateway, tls_origin, pki, spiffe_id, status):
    gw = make_gateway(
        simple_route(), {"origin": [tls_origin.address]},
        policies=docs(backend_tls_policy("backend.internal", bundle_ref("example-org"),
                                         sans=[("URI", spiffe_id)]),
                      trust_bundle("example-org", SPIFFE_A, pem=pki.upstream_ca.pem)))
    if status == 200:
        got, _, doc = echo(gw.port)
        assert got == 200 and doc["origin"] == "origin-https"
    else:
        upstream_refused(gw, "name_mismatch")


def test_gateway_presents_its_client_certificate(make_gateway, mtls_origin, pki):
    gw = make_gateway(
        simple_route(), {"origin": [mtls_origin.address]},
        gateway_extra=backend_client_certificate("{name: gateway-client}"),
        policies=docs(backend_tls_policy("backend.internal", "{name: upstream-ca}"),
                      config_map("upstream-ca", pki.upstream_ca),
                      secret("gateway-client", pki.gateway_client)))
    status, _, doc = echo(gw.port)
    assert status == 200
    assert doc["client_cert_sha256"] == pki.gateway_client.fingerprint()


def test_pooled_tls_upstream_connections_are_reused(make_gateway, tls_origin, pki):
    gw = make_gateway(simple_route(), {"origin": [tls_origin.address]}, workers=1,
                      policies=docs(backend_tls_policy("backend.internal", "{name: upstream-ca}"),
                                    config_map("upstream-ca", pki.upstream_ca)))
    for i in range(6):
        assert echo(gw.port, path="/echo/%d" % i)[0] == 200
    counts = tls_origin.counts()
    assert counts["served"] == 6
    assert counts["connections"] == 1, counts


# --- rotation ---

def rotation_dir(pki, name, cert):
    d = tempfile.mkdtemp(prefix="rotation-", dir=pki.dir)
    return d, cert.write(d, name)


def test_server_certificate_rotation(make_gateway, module_origin, pki):
    d, (crt, key) = rotation_dir(pki, "server", pki.api)
    gw = make_gateway(simple_route(), {"origin": [module_origin.address]},
                      listeners=https_listener("https", [files_ref("server")]),
                      policies=certificate_files("server", crt, key))
    ctx = tls_context(ca=pki.server_ca.pem)
    kept = tls_connect(gw.port, ctx, "api.example.com")
    try:
        assert peer_sha256(kept) == pki.api.fingerprint()
        assert send_request(kept, host="api.example.com")[0] == 200

        new = certs.leaf(pki.server_ca, cn="api.example.com", dns=["api.example.com"],
                         client=False)
        new.write(d, "server")

        def served():
            with tls_connect(gw.port, ctx, "api.example.com") as s:
                return peer_sha256(s) == new.fingerprint()
        wait_for(served, what="new connections to get the new certificate")
        wait_log(gw, r" notice tls material_reloaded ")
        # The connection made before the rotation goes on, on its own session.
        assert send_request(kept, path="/echo/after", host="api.example.com")[0] == 200
        status, _, _ = tls_request(gw.port, ctx, "api.example.com")
        assert status == 200
    finally:
        kept.close()


def test_handshake_begun_before_a_rotation_completes_after_it(make_gateway, module_origin,
                                                              pki):
    """A connection accepted under the old material whose ClientHello arrives after the
    rotation (a slow client, or one racing the reload) is still served."""
    d, (crt, key) = rotation_dir(pki, "server", pki.api)
    gw = make_gateway(simple_route(), {"origin": [module_origin.address]}, workers=1,
                      listeners=https_listener("https", [files_ref("server")]),
                      policies=certificate_files("server", crt, key))
    ctx = tls_context(ca=pki.server_ca.pem)
    early = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    try:
        # The gateway accepts the connection (and prepares its session) before the rotation.
        wait_for(lambda: metric(gw, "portcullis_connections_open") == 1,
                 what="the connection to be accepted")
        new = certs.leaf(pki.server_ca, cn="api.example.com", dns=["api.example.com"],
                         client=False)
        new.write(d, "server")
        wait_log(gw, r" notice tls material_reloaded ")
        # Give the worker time to switch to the new material and drop the old.
        assert tls_request(gw.port, ctx, "api.example.com")[0] == 200
        time.sleep(0.5)
        with ctx.wrap_socket(early, server_hostname="api.example.com") as sock:
            early = None
            assert peer_sha256(sock) in (pki.api.fingerprint(), new.fingerprint())
            assert send_request(sock, host="api.example.com")[0] == 200
    finally:
        if early is not None:
            early.close()
    assert gw.proc.poll() is None, gw.log()[-4000:]


def test_tls_connection_survives_configuration_reload(make_gateway, module_origin, pki):
    """A keep-alive TLS connection made under one configuration serves requests after the
    configuration was replaced (and the old one released)."""
    listeners = https_listener("https", ["{name: server}"])
    policies = secret("server", pki.api)
    gw = make_gateway(simple_route(), {"origin": [module_origin.address]}, workers=1,
                      listeners=listeners, policies=policies)
    ctx = tls_context(ca=pki.server_ca.pem)
    with tls_connect(gw.port, ctx, "api.example.com") as sock:
        assert send_request(sock, host="api.example.com")[0] == 200
        start = len(gw.log())
        gw.write_config(gw.render(simple_route(name="web-renamed"),
                                  {"origin": [module_origin.address]},
                                  listeners=listeners.replace("{port}", str(gw.port)),
                                  policies=policies))
        wait_log(gw, r" notice config reloaded ", start)
        # A request on a fresh connection makes the worker finish with the old snapshot.
        assert tls_request(gw.port, ctx, "api.example.com")[0] == 200
        status, _, _ = send_request(sock, path="/echo/after-reload", host="api.example.com")
        assert status == 200
    assert gw.proc.poll() is None, gw.log()[-4000:]


def test_client_trust_bundle_rotation(make_gateway, module_origin, pki):
    d = tempfile.mkdtemp(prefix="rotation-", dir=pki.dir)
    bundle = os.path.join(d, "clients.pem")
    with open(bundle, "wb") as f:
        f.write(pki.client_ca.pem)
    gw = make_gateway(simple_route(), {"origin": [module_origin.address]},
                      listeners=https_listener("https", ["{name: server}"],
                                               client_refs=[bundle_ref("clients")]),
                      policies=docs(secret("server", pki.api),
                                    trust_bundle("clients", file=bundle)))
    newcomer = certs.leaf(pki.other_ca, cn="newcomer", server=False)
    new_ctx = tls_context(ca=pki.server_ca.pem, cert=pki.client_files(newcomer, "newcomer"))
    old_ctx = tls_context(ca=pki.server_ca.pem, cert=pki.paths["client"])
    assert attempt(gw.port, old_ctx, "api.example.com") == 200
    refused_client(gw, new_ctx, "unknown_ca", "api.example.com")

    with open(bundle + ".tmp", "wb") as f:
        f.write(pki.client_ca.pem + pki.other_ca.pem)
    os.rename(bundle + ".tmp", bundle)
    wait_for(lambda: attempt(gw.port, new_ctx, "api.example.com") == 200,
             what="a client of the new CA to be accepted")
    assert attempt(gw.port, old_ctx, "api.example.com") == 200

    # And back: the CA taken out of the bundle is refused again.
    with open(bundle + ".tmp", "wb") as f:
        f.write(pki.client_ca.pem)
    os.rename(bundle + ".tmp", bundle)
    wait_for(lambda: isinstance(attempt(gw.port, new_ctx, "api.example.com"), Exception),
             what="a client of the removed CA to be refused")


def test_gateway_client_certificate_rotation(make_gateway, mtls_origin, pki):
    d, (crt, key) = rotation_dir(pki, "gw-client", pki.gateway_client)
    gw = make_gateway(
        simple_route(), {"origin": [mtls_origin.address]},
        gateway_extra=backend_client_certificate(files_ref("gw-client")),
        policies=docs(backend_tls_policy("backend.internal", "{name: upstream-ca}"),
                      config_map("upstream-ca", pki.upstream_ca),
                      certificate_files("gw-client", crt, key), no_pooling()))
    status, _, doc = echo(gw.port)
    assert status == 200
    assert doc["client_cert_sha256"] == pki.gateway_client.fingerprint()

    new = certs.leaf(pki.gateway_ca, cn="gateway", server=False)
    new.write(d, "gw-client")
    wait_for(lambda: echo(gw.port)[2]["client_cert_sha256"] == new.fingerprint(),
             what="the origin to see the gateway's new client certificate")


@pytest.mark.parametrize("target", ["certificate", "key", "bundle"])
def test_invalid_replacement_refused_and_old_material_kept(make_gateway, module_origin, pki,
                                                           target):
    d, (crt, key) = rotation_dir(pki, "server", pki.api)
    bundle = os.path.join(d, "clients.pem")
    with open(bundle, "wb") as f:
        f.write(pki.client_ca.pem)
    gw = make_gateway(simple_route(), {"origin": [module_origin.address]},
                      listeners=https_listener("https", [files_ref("server")],
                                               client_refs=[bundle_ref("clients")]),
                      policies=docs(certificate_files("server", crt, key),
                                    trust_bundle("clients", file=bundle)))
    ctx = tls_context(ca=pki.server_ca.pem, cert=pki.paths["client"])
    start = len(gw.log())
    path = {"certificate": crt, "key": key, "bundle": bundle}[target]
    garbage = (b"-----BEGIN %s-----\nbm90IGJhc2U2NCBhdCBhbGwh!!\n-----END %s-----\n"
               % ((b"PRIVATE KEY",) * 2 if target == "key" else (b"CERTIFICATE",) * 2))
    with open(path + ".tmp", "wb") as f:
        f.write(garbage)
    os.rename(path + ".tmp", path)
    wait_log(gw, r" error tls rotation_refused ", start)

    with tls_connect(gw.port, ctx, "api.example.com") as s:
        assert peer_sha256(s) == pki.api.fingerprint()
        assert send_request(s, host="api.example.com")[0] == 200
    assert gw.proc.poll() is None

    # A good file afterwards is taken up.
    new = certs.leaf(pki.server_ca, cn="api.example.com", dns=["api.example.com"], client=False)
    new.write(d, "server")
    with open(bundle + ".tmp", "wb") as f:
        f.write(pki.client_ca.pem)
    os.rename(bundle + ".tmp", bundle)

    def served():
        with tls_connect(gw.port, ctx, "api.example.com") as s:
            return peer_sha256(s) == new.fingerprint() and send_request(s)[0] == 200
    wait_for(served, what="the repaired material to be served")


# --- rotation under load ---

WRK_SCRIPT = """
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  bad = 0
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    b = b + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d ok=%d non2xx=%d connect=%d read=%d write=%d status=%d timeout=%d\\n",
    summary.requests, o, b, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def run_wrk(port, seconds, connections, extra=()):
    script = os.path.join(tempfile.mkdtemp(prefix="wrk-"), "count.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    cmd = (["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--timeout", "10s",
            "-s", script] + list(extra) + ["https://127.0.0.1:%d/echo" % port])
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(proc):
    out, _ = proc.communicate(timeout=120)
    m = re.search(r"RESULT requests=(\d+) ok=(\d+) non2xx=(\d+) connect=(\d+) read=(\d+) "
                  r"write=(\d+) status=(\d+) timeout=(\d+)", out)
    assert m, out
    keys = ("requests", "ok", "non2xx", "connect", "read", "write", "status", "timeout")
    return dict(zip(keys, map(int, m.groups()))), out


def test_rotation_under_load(make_gateway, pki):
    """wrk over TLS, with keep-alive and with a fresh handshake per request, while the server
    certificate, the client trust bundle and the gateway's certificate towards its TLS upstream
    are each replaced several times: no socket error, no non-2xx answer.

    wrk cannot present a client certificate, so the listener asks for one in mode Optional:
    each bundle rotation rebuilds the contexts wrk handshakes with, and a Python client with a
    certificate probes mTLS alongside. The upstream requires the gateway's certificate; pooled
    upstream connections keep the one they were made with, new ones get the current one."""
    d = tempfile.mkdtemp(prefix="load-", dir=pki.dir)
    server_crt, server_key = pki.api.write(d, "server")
    gw_crt, gw_key = pki.gateway_client.write(d, "gw-client")
    bundle = os.path.join(d, "clients.pem")
    with open(bundle, "wb") as f:
        f.write(pki.client_ca.pem)
    origin = Origin("origin-load", tls=pki.paths["upstream"], client_ca=pki.paths["gateway_ca"],
                    count_client=pki.paths["gateway_client"])
    try:
        gw = make_gateway(
            simple_route(), {"origin": [origin.address]},
            listeners=https_listener("https", [files_ref("server")],
                                     client_refs=[bundle_ref("clients")]),
            gateway_extra=backend_client_certificate(files_ref("gw-client")),
            policies=docs(certificate_files("server", server_crt, server_key),
                          trust_bundle("clients", file=bundle),
                          client_policy("optional", "{kind: Gateway, name: edge}",
                                        mode="Optional"),
                          certificate_files("gw-client", gw_crt, gw_key),
                          backend_tls_policy("backend.internal", "{name: upstream-ca}"),
                          config_map("upstream-ca", pki.upstream_ca)),
            log_level="notice")
        ctx = tls_context(ca=pki.server_ca.pem, cert=pki.paths["client"])
        assert tls_request(gw.port, ctx, "api.example.com")[0] == 200
        seconds = 8
        keep_alive = run_wrk(gw.port, seconds, 8)
        closing = run_wrk(gw.port, seconds, 4, ["-H", "Connection: close"])

        # A client with a certificate checks mTLS all along: its CA stays in every bundle.
        probe = {"ok": 0, "failed": []}
        stop = threading.Event()

        def probe_loop():
            while not stop.is_set():
                got = attempt(gw.port, ctx, "api.example.com")
                if got == 200:
                    probe["ok"] += 1
                else:
                    probe["failed"].append(repr(got))
                time.sleep(0.05)
        prober = threading.Thread(target=probe_loop)
        prober.start()

        # Each kind in turn, about half a second apart, so that most are reloads of their own.
        rotations = {"server": 0, "bundle": 0, "gateway_client": 0}
        server_fps = set()
        end = time.time() + seconds - 1
        i = 0
        try:
            while time.time() < end:
                i += 1
                kind = ("server", "bundle", "gateway_client")[i % 3]
                if kind == "server":
                    new = certs.leaf(pki.server_ca, cn="api.example.com",
                                     dns=["api.example.com"], client=False)
                    new.write(d, "server")
                    server_fps.add(new.fingerprint())
                elif kind == "bundle":
                    extra = certs.ca("Extra CA %d" % i).pem if i % 2 else b""
                    with open(bundle + ".tmp", "wb") as f:
                        f.write(pki.client_ca.pem + extra)
                    os.rename(bundle + ".tmp", bundle)
                else:
                    certs.leaf(pki.gateway_ca, cn="gateway", server=False).write(d, "gw-client")
                rotations[kind] += 1
                time.sleep(0.45)
        finally:
            stop.set()
            prober.join()
        ka, ka_out = wrk_result(keep_alive)
        cl, cl_out = wrk_result(closing)
        served = origin.served()
        reloads = len(re.findall(r" notice tls material_reloaded ", gw.log()))
        _, metrics = admin_get(gw, "/metrics")
        failures = [line for line in metrics.splitlines()
                    if line.startswith("portcullis_tls_handshake")]
        print("rotation under load (%s): keep-alive %s; connection-close %s; probe ok=%d "
              "failed=%d; rotations %s; material reloads %d; origin served %d; %s"
              % (binary(), ka, cl, probe["ok"], len(probe["failed"]), rotations, reloads,
                 served, failures))
        for name, r, out in (("keep-alive", ka, ka_out), ("connection-close", cl, cl_out)):
            assert r["requests"] > 0, out
            assert r["non2xx"] == 0, (name, out)
            assert (r["connect"], r["read"], r["write"], r["timeout"]) == (0, 0, 0, 0), \
                (name, out, failures)
        assert probe["failed"] == [], probe["failed"][:5]
        assert probe["ok"] > 0
        assert reloads >= 3, gw.log()[-3000:]
        assert served >= ka["requests"] + cl["requests"]
        with tls_connect(gw.port, ctx, "api.example.com") as s:
            assert peer_sha256(s) in server_fps
    finally:
        origin.stop()


# --- testssl.sh ---

@pytest.mark.slow
def test_testssl_finds_nothing_above_low(make_gateway, module_origin, pki):
    """testssl.sh against a listener with a proper certificate (names for 127.0.0.1 and
    localhost, one year, a CRL distribution point) and no client certificates asked for."""
    d = tempfile.mkdtemp(prefix="testssl-", dir=pki.dir)
    ca = certs.ca("testssl Root CA", not_after=certs.days(3650))
    cert = certs.leaf(ca, cn="localhost", dns=["localhost"], ips=["127.0.0.1"], client=False,
                      not_before=certs.days(-1), not_after=certs.days(364),
                      crl_urls=["http://crl.example.com/testssl.crl"])
    crt, key = cert.write(d, "server")
    ca_path = os.path.join(d, "ca.pem")
    with open(ca_path, "wb") as f:
        f.write(ca.pem)
    gw = make_gateway(simple_route(), {"origin": [module_origin.address]},
                      listeners=https_listener("https", [files_ref("server")]),
                      policies=certificate_files("server", crt, key))
    out = os.path.join(d, "out.json")
    cmd = ["testssl", "--quiet", "--nodns", "none", "--warnings", "batch", "--color", "0",
           "--add-ca", ca_path, "--jsonfile", out, "-p", "-s", "-f", "-E", "-P", "-U", "-S",
           "127.0.0.1:%d" % gw.port]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert os.path.exists(out), run.stdout[-3000:] + run.stderr[-3000:]
    with open(out) as f:
        findings = json.load(f)
    by_severity = {}
    for f in findings:
        by_severity.setdefault(f.get("severity"), []).append(f)
    summary = {k: len(v) for k, v in by_severity.items()}
    low = ["%s: %s" % (f["id"], f["finding"]) for f in by_severity.get("LOW", [])]
    print("testssl severities %s; LOW findings: %s" % (summary, low))
    bad = [f for f in findings if f.get("severity") in ("MEDIUM", "HIGH", "CRITICAL")]
    assert bad == [], "\n".join("%s %s: %s" % (f["severity"], f["id"], f["finding"])
                                for f in bad)
    # The scan really reached the listener.
    assert any(f["id"] == "TLS1_3" and "offered" in f["finding"] for f in findings), summary
