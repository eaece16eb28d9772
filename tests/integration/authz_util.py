"""What the authorization modules (test_authz_*.py) share: configuration documents, tokens,
client certificates (X.509-SVIDs) and an HTTPS listener asking for them, requests and the checks
every answer gets, the access and decision logs, `portcullis audit verify`, metrics, and an HTTP
check service.

Tokens are HS256 JWTs minted with python3-jwt for an AuthenticationPolicy on the Gateway whose
tokens are optional, so that the same routes see anonymous and authenticated callers; the
principal's roles come from the "roles" claim, its scopes from "scope", its client id from
"client_id".
"""

import datetime
import hashlib
import http
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import certs
from client import parse_one, send_request, tls_connect, tls_context
from conftest import binary
from opa_server import ThreadedServer
from test_lifecycle import admin_get
from test_tls import bundle_ref, client_policy, https_listener, secret, trust_bundle

DEADLINE = 15.0

ISSUER = "https://idp.authz.test"
PARTNER_ISSUER = "https://partner.authz.test"
AUDIENCE = "api://authz"
HMAC_SECRET = "an HMAC secret for the authorization tests, over 32 bytes"

TRUST_DOMAIN = "prod.example.org"

DECISION_ID = re.compile(r"^[0-9a-f]{32}$")


# --- configuration documents ---

def docs(*parts):
    return "\n---\n".join(p.strip("\n") for p in parts if p)


def indent(text, n):
    """text (YAML at column 0) moved right by n spaces."""
    return "".join(" " * n + line + "\n" if line.strip() else "\n"
                   for line in text.strip("\n").split("\n"))


def route(name, path, service="origin"):
    """An HTTPRoute of one rule on Gateway edge (every listener), for requests under path."""
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
    - name: %s
      port: 80
""" % (name, path, service)


def route_target(name):
    return "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: %s}" % name


def gateway_target(section=None):
    if section:
        return "{group: gateway.networking.k8s.io, kind: Gateway, name: edge, sectionName: %s}" \
            % section
    return "{group: gateway.networking.k8s.io, kind: Gateway, name: edge}"


def authz_policy(name, target, body, mode=None, failure_mode=None, deny_status=None):
    """An AuthorizationPolicy in namespace default. target: the flow mapping of its targetRef;
    body: the decision source (rules:, opa:, http: or rego:) as YAML at column 0."""
    spec = "  targetRefs:\n  - %s\n" % target
    if mode:
        spec += "  mode: %s\n" % mode
    if failure_mode:
        spec += "  failureMode: %s\n" % failure_mode
    if deny_status:
        spec += "  denyStatus: %d\n" % deny_status
    return """
apiVersion: portcullis.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: %s
  namespace: default
spec:
%s%s""" % (name, spec, indent(body, 2))


def authn_policy(target=None):
    """Optional HS256 tokens of ISSUER and PARTNER_ISSUER on the whole Gateway (or target), and
    the Secret holding their key."""
    provider = """
    - name: %s
      issuer: %s
      audiences: [%s]
      algorithms: [HS256]
      hmacSecretRef: {name: authz-hmac}"""
    return """
apiVersion: v1
kind: Secret
metadata:
  name: authz-hmac
  namespace: default
stringData:
  secret: %s
---
apiVersion: portcullis.dev/v1alpha1
kind: AuthenticationPolicy
metadata:
  name: tokens
  namespace: default
spec:
  targetRefs:
  - %s
  jwt:
    providers:%s%s
  optional: true
  principal:
    roleClaims: [roles]
""" % (json.dumps(HMAC_SECRET), target or gateway_target(),
       provider % ("main", json.dumps(ISSUER), json.dumps(AUDIENCE)),
       provider % ("partner", json.dumps(PARTNER_ISSUER), json.dumps(AUDIENCE)))


def decision_log_settings(path, key_path, interval=None, lines=None):
    """ProxyConfig spec.decisionLog, for gateway_config's proxy_extra."""
    text = "  decisionLog:\n    path: %s\n    signingKey: {file: %s}\n" % (
        json.dumps(path), json.dumps(key_path))
    if interval:
        text += "    checkpointInterval: %s\n" % interval
    if lines:
        text += "    checkpointLines: %d\n" % lines
    return text


# --- tokens ---

SENT_SECRETS = []


def mint(sub="alice", issuer=ISSUER, lifetime=600, **claims):
    """A genuine HS256 token for sub; claims add to (a value of None removes) the registered
    ones."""
    now = int(time.time())
    doc = {"iss": issuer, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + lifetime,
           "jti": uuid.uuid4().hex}
    doc.update(claims)
    token = jwt.encode({k: v for k, v in doc.items() if v is not None}, HMAC_SECRET,
                       algorithm="HS256")
    SENT_SECRETS.append(token)
    return token


# --- certificates ---

def svid(issuer, cn, spiffe_id, dns, org=None):
    """An X.509-SVID for a client: one URI SAN, a DNS SAN, client authentication only."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = ([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []) + \
        [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(spiffe_id), x509.DNSName(dns)]), critical=False)
            .sign(issuer.key, hashes.SHA256()))
    return certs.Cert(cert, key, issuer)


class Pki:
    """An HTTPS listener's certificate (api.example.com) and X.509-SVIDs of TRUST_DOMAIN for
    clients: "orders" (spiffe://prod.example.org/ns/orders/api, orders.client.example.org,
    subject CN=orders-client,O=Example), "web" (.../ns/web/api, web.client.example.org) and
    "deep" (.../ns/orders/api/extra, deep.client.example.org). For decision points served over
    HTTPS: point_files, a certificate for 127.0.0.1 and its key, issued by point_ca (whose PEM
    is in point_ca_path)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="portcullis-authz-pki-")
        self.server_ca = certs.ca("Server Root CA")
        self.server = certs.leaf(self.server_ca, cn="api.example.com", dns=["api.example.com"],
                                 client=False)
        self.td = certs.ca("prod.example.org CA", uris=["spiffe://" + TRUST_DOMAIN])
        self.clients = {
            "orders": svid(self.td, "orders-client",
                           "spiffe://%s/ns/orders/api" % TRUST_DOMAIN,
                           "orders.client.example.org", org="Example"),
            "web": svid(self.td, "web-client", "spiffe://%s/ns/web/api" % TRUST_DOMAIN,
                        "web.client.example.org"),
            "deep": svid(self.td, "deep-client",
                         "spiffe://%s/ns/orders/api/extra" % TRUST_DOMAIN,
                         "deep.client.example.org"),
        }
        self.contexts = {None: tls_context(ca=self.server_ca.pem)}
        for name, cert in self.clients.items():
            self.contexts[name] = tls_context(ca=self.server_ca.pem,
                                              cert=cert.write(self.dir, name))
        self.point_ca = certs.ca("Decision Point CA")
        self.point_files = certs.leaf(self.point_ca, cn="127.0.0.1", ips=["127.0.0.1"],
                                      client=False).write(self.dir, "point")
        self.point_ca_path = os.path.join(self.dir, "point-ca.pem")
        with open(self.point_ca_path, "wb") as f:
            f.write(self.point_ca.pem)

    def listeners(self, https_port):
        """(listeners text for gateway_config, with an HTTP listener "http" on the gateway's
        port and an HTTPS listener "https" on https_port that asks for SVIDs but serves
        connections without one; the documents it needs)."""
        listeners = ("\n- name: http\n  port: {port}\n  protocol: HTTP\n"
                     + https_listener("https", ["{name: server}"], port=https_port,
                                      client_refs=[bundle_ref("prod")]))
        texts = docs(secret("server", self.server),
                     trust_bundle("prod", TRUST_DOMAIN, pem=self.td.pem),
                     client_policy("optional-certs",
                                   "{kind: Gateway, name: edge, sectionName: https}",
                                   mode="Optional"))
        return listeners, texts

    def call(self, port, client, path, headers=None):
        """One request over HTTPS to api.example.com, presenting the named client's
        certificate (None: none)."""
        with tls_connect(port, self.contexts[client], "api.example.com") as sock:
            status, hdrs, body = send_request(sock, path, "api.example.com", headers)
        return Answer(status, hdrs, body)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# --- requests ---

class Answer:
    """One answer: status, headers (lower-case names), body bytes and body as JSON (or None)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.doc = json.loads(body) if body else None
        except ValueError:
            self.doc = None

    def upstream_values(self, name):
        """Every value of header name the origin received (its echo), in order."""
        return [v for k, v in self.doc["headers"] if k.lower() == name]

    @property
    def request_id(self):
        """The request's id: the answer's x-request-id, else the one the origin received."""
        rid = self.headers.get("x-request-id")
        if rid is None and self.doc and "headers" in self.doc:
            values = self.upstream_values("x-request-id")
            rid = values[0] if values else None
        return rid

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


def call(port, path, token=None, headers=None, method="GET", host="example.com", conn=None,
         body=None):
    """One request (on conn when given, else a fresh connection); token goes in Authorization
    as a Bearer token."""
    hdrs = {"Host": host}
    hdrs.update(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        body = resp.read()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        if own:
            conn.close()


def raw_call(port, lines):
    """A request written by hand (lines: the request line and header fields, for repeated
    fields), on a socket whose local port is known: ((status, headers, body), local port)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        local_port = s.getsockname()[1]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while True:
            one = parse_one(data)
            if one is not None:
                return one[:3], local_port
            b = s.recv(65536)
            if not b:
                raise ConnectionError("closed before an answer: %r" % data[:300])
            data += b


def served(origin):
    return origin.counts()["served"]


def assert_allowed(port, path, origin=None, **kw):
    """The request reaches the origin's echo and is answered 200; returns the Answer."""
    before = served(origin) if origin else None
    a = call(port, path, **kw)
    assert a.status == 200, (path, a)
    assert a.doc is not None and "headers" in a.doc, a
    if origin:
        assert served(origin) == before + 1
    return a


def assert_problem(a, status, reason):
    """a is an authorization refusal: problem+json with exactly the contract's members."""
    assert a.status == status, a
    assert a.headers.get("content-type", "").split(";")[0].strip() == \
        "application/problem+json", a.headers
    doc = a.doc
    assert isinstance(doc, dict), a
    assert set(doc) == {"type", "title", "status", "reason", "decision_id", "request_id"}, doc
    assert doc["type"] == "about:blank"
    assert doc["title"] == http.HTTPStatus(status).phrase, doc
    assert doc["status"] == status
    assert doc["reason"] == reason, doc
    assert DECISION_ID.match(doc["decision_id"]), doc
    assert doc["request_id"] == a.headers.get("x-request-id"), (doc, a.headers)
    return doc


def assert_denied(port, path, origin, status=403, reason="no_rule_matched", **kw):
    """The request is refused with a problem+json answer and never reaches the origin; returns
    the problem document."""
    before = served(origin)
    a = call(port, path, **kw)
    doc = assert_problem(a, status, reason)
    assert served(origin) == before, "the origin saw a refused request"
    return doc


# --- logs and metrics ---

def access_line(gw, request_id, deadline=DEADLINE):
    """The access-log record of one request (the log is flushed every 250 ms)."""
    end = time.time() + deadline
    while time.time() < end:
        for rec in gw.access_log():
            if rec.get("request_id") == request_id:
                return rec
        time.sleep(0.05)
    raise AssertionError("no access-log line for request %s" % request_id)


def parse_metrics(text):
    """[(name, {label: value}, float)] of a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$', line)
        if not m:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                 m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def metric_sum(gw, name, **labels):
    """The sum of the samples of name whose labels include the given ones (0 when none)."""
    _, text = admin_get(gw, "/metrics")
    return sum(v for n, lab, v in parse_metrics(text)
               if n == name and all(lab.get(k) == want for k, want in labels.items()))


def has_metric(gw, name):
    _, text = admin_get(gw, "/metrics")
    return any(n == name for n, _, _ in parse_metrics(text))


def wait_for(predicate, deadline=DEADLINE, what="condition"):
    end = time.time() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > end:
            raise AssertionError("timed out after %.0fs waiting for %s" % (deadline, what))
        time.sleep(0.05)


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


def failure_log_pattern(policy, source, reason, effect="failed_closed"):
    """The warn line of a failing decision point (key=value pairs in this order, others may sit
    between them)."""
    return (r"warn\s+authz\s+decision_point_failed\b.*\bpolicy=%s\b.*\bsource=%s\b"
            r".*\breason=%s\b.*\beffect=%s\b" % (re.escape(policy), source, reason, effect))


# --- the decision log ---

def write_signing_key(directory, name="decision-log"):
    """A fresh Ed25519 key: (PKCS#8 private key path, public key path)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = os.path.join(directory, name + ".pem")
    public = os.path.join(directory, name + ".pub.pem")
    with open(private, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(private, 0o600)
    with open(public, "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def read_decision_log(path):
    """[(raw line bytes, parsed object)] of every complete line."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    return [(raw, json.loads(raw)) for raw in lines[:-1]]


def decision_lines(path):
    """The decision records (not checkpoints) of a decision log."""
    return [doc for _, doc in read_decision_log(path) if doc.get("type") != "checkpoint"]


def decision_line(path, decision_id, deadline=DEADLINE):
    """The decision record with this id, waiting for the writer thread."""
    end = time.time() + deadline
    while True:
        for doc in decision_lines(path):
            if doc.get("decision_id") == decision_id:
                return doc
        if time.time() > end:
            raise AssertionError("no decision-log line for decision %s" % decision_id)
        time.sleep(0.05)


def decision_line_for_request(path, request_id, deadline=DEADLINE):
    end = time.time() + deadline
    while True:
        for doc in decision_lines(path):
            if doc.get("request_id") == request_id:
                return doc
        if time.time() > end:
            raise AssertionError("no decision-log line for request %s" % request_id)
        time.sleep(0.05)


def check_chain(path):
    """The hash chain, checked here as well as by `audit verify` (docs/DECISION_LOG.md): seq
    counts up by one from 0, prev is the SHA-256 of the line before (64 zeros for the first),
    and only decision lines carry input_sha256. Returns the lines."""
    lines = read_decision_log(path)
    assert lines, "empty decision log"
    prev_hash = "0" * 64
    for i, (raw, doc) in enumerate(lines):
        assert raw.startswith(b'{"seq":%d,"prev":"%s",' % (i, prev_hash.encode())), (i, raw)
        assert ("input_sha256" in doc) != (doc.get("type") == "checkpoint"), raw
        prev_hash = hashlib.sha256(raw).hexdigest()
    return lines


def audit_verify(path, public_key, *extra):
    """Runs `portcullis audit verify`: (exit code, stdout + stderr)."""
    proc = subprocess.run([binary(), "audit", "verify", path, "--key", public_key, *extra],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60)
    return proc.returncode, proc.stdout


# --- an HTTP check service ---

class CheckServer(ThreadedServer):
    """A plain authorization check service (auth_request style). respond(request) decides:
    request is a dict with method, target, path, query and headers (a list of (name, value));
    it returns (status, headers as a list of pairs), or the string "slow" to answer 200 after
    SLOW_SECONDS. Every request is recorded. tls as ThreadedServer takes it."""

    SLOW_SECONDS = 2.0

    def __init__(self, respond, tls=None):
        self.respond = respond
        self.lock = threading.Lock()
        self.requests = []
        super().__init__(tls)

    def count(self):
        with self.lock:
            return len(self.requests)

    def last(self):
        with self.lock:
            return self.requests[-1]

    def handle(self, handler, body):
        target = handler.path
        path, _, query = target.partition("?")
        req = {"method": handler.command, "target": target, "path": path, "query": query,
               "headers": [(k.lower(), v) for k, v in handler.headers.items()],
               "body_len": len(body)}
        with self.lock:
            self.requests.append(req)
        answer = self.respond(req)
        if answer == "slow":
            time.sleep(self.SLOW_SECONDS)
            answer = (200, [])
        status, headers = answer
        return status, list(headers), b""


def header_of(req, name):
    """The values of header name in a recorded request."""
    return [v for k, v in req["headers"] if k == name]
