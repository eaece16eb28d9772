"""Token authentication against a real OpenID Provider: npm's oidc-provider, started here.

The provider issues what a deployment's would: client_credentials access tokens as RFC 9068 JWTs
for a resource indicator (audience and scopes from the resource server), opaque tokens checked
by introspection (RFC 7662) and revoked at its revocation endpoint (RFC 7009), certificate-bound
tokens (RFC 8705) to a client authenticating with its TLS certificate, and DPoP-bound tokens
(RFC 9449). The gateway finds its keys through OpenID Connect discovery or a JWKS URI, follows
a signing-key rotation without a restart, answers 503 (not 401) when the provider cannot be
reached, and picks the provider up when it comes (back).

One provider and two gateways (plain HTTP, and HTTPS with client certificates) serve the tests
that leave them as they were; the tests that rotate keys or take the provider down start their
own. Everything runs on 127.0.0.1 on ports the kernel chooses.
"""

import concurrent.futures
import http.client
import json
import os
import re
import socket
import tempfile
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import certs
import oidc
from client import header_values, read_response, request, tls_context, tls_request
from conftest import Origin, free_port

pytestmark = pytest.mark.skipif(oidc.missing() is not None,
                                reason=oidc.missing() or "the provider can run")

DEADLINE = 20.0

ORDERS = "https://orders.example.com/"
ORDERS_ES256 = "https://orders-es256.example.com/"
BILLING = "https://billing.example.com/"
ORDERS_SCOPES = "orders:read orders:write"

SECRETS = {"orders-svc": "orders-svc-secret", "gw-basic": "gw-basic-secret",
           "gw-post": "gw-post-secret", "dpop-svc": "dpop-svc-secret"}


# --- what the provider knows ---

def client(client_id, scope=ORDERS_SCOPES, **metadata):
    """A confidential client registered for client_credentials only (RFC 7591 metadata)."""
    meta = {"client_id": client_id, "grant_types": ["client_credentials"], "redirect_uris": [],
            "response_types": []}
    if scope is not None:
        meta["scope"] = scope
    if client_id in SECRETS:
        meta["client_secret"] = SECRETS[client_id]
    meta.update(metadata)
    return meta


def op_clients():
    return [
        client("orders-svc", scope=ORDERS_SCOPES + " billing:read", extraClaims={"tenant": "blue"}),
        # The gateway's own clients, for introspection, each held to one authentication method.
        client("gw-basic", scope=None, token_endpoint_auth_method="client_secret_basic"),
        client("gw-post", scope=None, token_endpoint_auth_method="client_secret_post"),
        client("mtls-svc", token_endpoint_auth_method="tls_client_auth",
               tls_client_auth_subject_dn="CN=mtls-client",
               tls_client_certificate_bound_access_tokens=True),
        client("dpop-svc", dpop_bound_access_tokens=True),
    ]


def op_resource_servers():
    return {
        ORDERS: {"audience": "orders-api", "scope": ORDERS_SCOPES},
        ORDERS_ES256: {"audience": "orders-api", "scope": ORDERS_SCOPES, "alg": "ES256"},
        BILLING: {"audience": "billing-api", "scope": "billing:read"},
    }


def orders_token(op, scope="orders:read", resource=ORDERS, **kw):
    return op.token("orders-svc", SECRETS["orders-svc"], resource=resource, scope=scope,
                    **kw)["access_token"]


def opaque_token(op, scope="orders:read"):
    """A token without a resource indicator: oidc-provider issues it opaque."""
    token = op.token("orders-svc", SECRETS["orders-svc"], scope=scope)["access_token"]
    assert token.count(".") == 0, "expected an opaque token, got %r" % token
    return token


# --- the gateway's configuration ---

def docs(*parts):
    return "\n---\n".join(p.strip("\n") for p in parts if p)


def block(text, indent):
    text = text.decode() if isinstance(text, bytes) else text
    return "".join(" " * indent + line + "\n" for line in text.splitlines())


def route(name, prefix):
    """An HTTPRoute sending everything under prefix to the origin."""
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
""" % (name, prefix)


def client_secret(name, value):
    return """
apiVersion: v1
kind: Secret
metadata:
  name: %s
stringData:
  clientSecret: %s
""" % (name, json.dumps(value))


def policy(name, route_name, spec):
    """An AuthenticationPolicy on one HTTPRoute; spec: the rest of the spec at column 0."""
    return """
apiVersion: portcullis.dev/v1alpha1
kind: AuthenticationPolicy
metadata:
  name: %s
spec:
  targetRefs:
  - {kind: HTTPRoute, name: %s}
%s""" % (name, route_name, block(spec, 2))


def jwt_provider(name, issuer, keys, audiences=("orders-api",), extra=""):
    """spec.jwt with one provider; keys: its key source as YAML ("discovery: true", ...)."""
    return """jwt:
  providers:
  - name: %s
    issuer: %s
    audiences: %s
    algorithms: [RS256, ES256]
    typ: at+jwt
%s%s""" % (name, issuer, json.dumps(list(audiences)), block(keys, 4), block(extra, 4))


def introspection(op, client_id, method, cache_ttl="30s", secret_ref=None):
    """spec.introspection at op as client_id, its secret in the Secret <client_id>-secret
    unless secret_ref names another."""
    return """introspection:
  endpoint: %s
  clientID: %s
  clientSecretRef: {name: %s}
  authMethod: %s
  issuer: %s
  cacheTTL: %s
""" % (op.url("/token/introspection"), client_id, secret_ref or client_id + "-secret", method,
       op.issuer, cache_ttl)


FORWARD = """claimToHeaders:
- {claim: sub, header: x-user-id}
- {claim: client_id, header: x-client-id}
- {claim: tenant, header: x-tenant}
- {claim: scope, header: x-scope}
"""

REQUIRE_READ = """require:
  scopes: {allOf: ["orders:read"]}
"""


# --- checks ---

def call(port, path, token=None, scheme="Bearer", headers=None):
    """One request through the gateway: (status, headers, the origin's echo or the problem
    body, parsed)."""
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = "%s %s" % (scheme, token)
    status, resp_headers, body = request(port, path=path, headers=hdrs)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return status, resp_headers, doc


class KeepAlive:
    """Requests on one connection. Each worker keeps its own verified-token cache and a
    connection stays on the worker that accepted it, so what the cache does is seen on one
    connection."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(self, path, token):
        self.conn.request("GET", path, headers={"Host": "example.com",
                                                "Authorization": "Bearer " + token})
        resp = self.conn.getresponse()
        body = resp.read()
        assert not resp.will_close, "the gateway closed the connection"
        headers = {k.lower(): v for k, v in resp.getheaders()}
        try:
            return resp.status, headers, json.loads(body)
        except ValueError:
            return resp.status, headers, None

    def close(self):
        self.conn.close()


def wait_log(gw, pattern, start=0, deadline=DEADLINE):
    """The first match of pattern in what the gateway logged after offset start."""
    rx = re.compile(pattern, re.M)
    end = time.time() + deadline
    while True:
        m = rx.search(gw.log()[start:])
        if m:
            return m
        if time.time() > end:
            raise AssertionError("no log line matches %r; the log after offset %d:\n%s"
                                 % (pattern, start, gw.log()[start:][-4000:]))
        time.sleep(0.05)


def metrics(gw):
    """Every sample of the admin /metrics: {"name{labels}": value}."""
    with socket.create_connection(("127.0.0.1", gw.admin_port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n")
        status, _, body, _ = read_response(s)
    assert status == 200
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def failures(sample, reason):
    return sample.get('portcullis_authn_failures_total{reason="%s"}' % reason, 0)


def counter(sample, name):
    return sample.get("portcullis_authn_%s_total" % name, 0)


def until(what, predicate, deadline=DEADLINE, interval=0.1):
    """Calls predicate until it returns something true; returns that, or fails after deadline
    seconds saying what was awaited and what came last."""
    end = time.time() + deadline
    last = None
    while time.time() < end:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)"
                         % (deadline, what, last))


def status_becomes(port, path, token, want, deadline=DEADLINE, **kw):
    """Polls path with token until it answers want; returns (status, headers, doc)."""
    result = {}

    def poll():
        result["last"] = call(port, path, token, **kw)
        return result["last"][0] == want

    try:
        until("%s to answer %d" % (path, want), poll, deadline)
    except AssertionError as e:
        raise AssertionError("%s; last answer %r" % (e, result.get("last"))) from None
    return result["last"]


def assert_invalid_token(status, headers, realm=None):
    assert status == 401
    challenge = headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer ") or challenge.startswith("DPoP "), challenge
    assert 'error="invalid_token"' in challenge, challenge
    if realm is not None:
        assert 'realm="%s"' % realm in challenge, challenge


def access_record(gw, request_id):
    """The access-log record of one request (the log is written in batches)."""
    def find():
        for rec in gw.access_log():
            if rec.get("request_id") == request_id:
                return rec
        return None
    return until("the access-log line of %s" % request_id, find)


def tampered(token):
    """token with its signature changed: a known kid, a signature that does not verify."""
    head, payload, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return "%s.%s.%s%s" % (head, payload, flipped, signature[1:])


def foreign_jwt(issuer, audience="orders-api"):
    """A well-formed RS256 JWT naming issuer, signed by a key the provider never had."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    return jwt.encode({"iss": issuer, "aud": audience, "sub": "nobody", "iat": now,
                       "exp": now + 300, "scope": "orders:read", "jti": uuid.uuid4().hex},
                      key, algorithm="RS256", headers={"typ": "at+jwt", "kid": "foreign"})


# --- fixtures ---

@pytest.fixture(scope="module")
def workdir():
    return tempfile.mkdtemp(prefix="portcullis-oidc-")


@pytest.fixture(scope="module")
def pki(workdir):
    """One CA for every certificate: the provider's and the gateway's server certificates, the
    certificate-bound client's and another client's."""
    root = certs.ca("OIDC Test CA")
    made = {
        "op": certs.leaf(root, "op", ips=["127.0.0.1"], client=False),
        "gateway": certs.leaf(root, "gateway", dns=["example.com"], client=False),
        "mtls": certs.leaf(root, "mtls-client", server=False),
        "other": certs.leaf(root, "other-client", server=False),
    }
    paths = {name: c.write(workdir, name) for name, c in made.items()}
    ca_path = os.path.join(workdir, "ca.pem")
    with open(ca_path, "wb") as f:
        f.write(root.pem)
    return {"root": root, "certs": made, "paths": paths, "ca_path": ca_path}


@pytest.fixture(scope="module")
def op(workdir, pki):
    """The module's provider: an RS256 and an ES256 key, plain HTTP and TLS (client
    certificates of the test CA)."""
    crt, key = pki["paths"]["op"]
    provider = oidc.Provider(workdir, [oidc.signing_key("rs-1"), oidc.signing_key("es-1", "EC")],
                             op_clients(), op_resource_servers(),
                             tls={"cert": crt, "key": key, "clientCA": pki["ca_path"]})
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def module_origin():
    o = Origin("origin-oidc")
    yield o
    o.stop()


@pytest.fixture(scope="module")
def gw(make_module_gateway, module_origin, op):
    """The HTTP gateway: one route per way of checking tokens."""
    discovery = "discovery: true"
    routes = docs(*[route(name, "/" + name) for name in (
        "discovery", "jwks-uri", "introspect-basic", "introspect-post", "introspect-bad-secret",
        "revocable", "dpop")])
    policies = docs(
        client_secret("gw-basic-secret", SECRETS["gw-basic"]),
        client_secret("gw-post-secret", SECRETS["gw-post"]),
        client_secret("gw-bad-secret", "not-the-" + SECRETS["gw-post"]),
        policy("by-discovery", "discovery",
               jwt_provider("op", op.issuer, discovery) + REQUIRE_READ + FORWARD
               + "realm: orders\n"),
        policy("by-jwks-uri", "jwks-uri",
               jwt_provider("op-jwks", op.issuer, "remoteJWKS: {uri: %s}" % op.url("/jwks"))
               + REQUIRE_READ + FORWARD),
        policy("by-introspection-basic", "introspect-basic",
               introspection(op, "gw-basic", "client_secret_basic") + REQUIRE_READ + FORWARD),
        policy("by-introspection-post", "introspect-post",
               introspection(op, "gw-post", "client_secret_post") + REQUIRE_READ + FORWARD),
        policy("by-introspection-bad-secret", "introspect-bad-secret",
               introspection(op, "gw-post", "client_secret_post", secret_ref="gw-bad-secret")),
        policy("revocable", "revocable",
               introspection(op, "gw-basic", "client_secret_basic", cache_ttl="3s") + FORWARD),
        policy("dpop-bound", "dpop",
               jwt_provider("op-dpop", op.issuer, discovery)
               + "senderConstraint: {mode: DPoP, dpopMaxAge: 60s}\n" + FORWARD),
    )
    gateway = make_module_gateway(routes, {"origin": [module_origin.address]}, policies=policies)
    # Keys are fetched once the gateway serves: two slots, the discovery one and the JWKS URI.
    wait_log(gateway, r"authn keys_refreshed provider=default/by-discovery/op keys=2")
    wait_log(gateway, r"authn keys_refreshed provider=default/by-jwks-uri/op-jwks keys=2")
    return gateway


# --- discovery and JWT access tokens ---

def test_discovery_verifies_jwt_access_token_and_forwards_claims(gw, op):
    token = orders_token(op)
    header, claims = oidc.jws_header(token), oidc.jwt_claims(token)
    assert header["typ"] == "at+jwt" and header["kid"] == "rs-1" and header["alg"] == "RS256"
    assert claims["aud"] == "orders-api" and claims["iss"] == op.issuer

    status, _, doc = call(gw.port, "/discovery/echo", token)
    assert status == 200, doc
    assert header_values(doc, "x-user-id") == ["orders-svc"]
    assert header_values(doc, "x-client-id") == ["orders-svc"]
    assert header_values(doc, "x-tenant") == ["blue"]
    assert header_values(doc, "x-scope") == ["orders:read"]
    # The token itself still reaches the upstream, as the client sent it.
    assert header_values(doc, "authorization") == ["Bearer " + token]
    # The keys were found from the issuer alone.
    discovered = op.requests("/.well-known/openid-configuration")
    assert discovered and all(r["status"] == "200" for r in discovered)


def test_discovery_verifies_es256_token(gw, op):
    token = orders_token(op, resource=ORDERS_ES256)
    assert oidc.jws_header(token)["alg"] == "ES256"
    assert oidc.jws_header(token)["kid"] == "es-1"
    status, _, doc = call(gw.port, "/discovery/echo", token)
    assert status == 200, doc
    assert header_values(doc, "x-user-id") == ["orders-svc"]


def test_client_cannot_pose_as_another_user(gw, op):
    status, _, doc = call(gw.port, "/discovery/echo", orders_token(op),
                          headers={"X-User-Id": "admin", "X-Tenant": "red"})
    assert status == 200, doc
    assert header_values(doc, "x-user-id") == ["orders-svc"]
    assert header_values(doc, "x-tenant") == ["blue"]


def test_token_for_another_audience_is_invalid(gw, op):
    token = op.token("orders-svc", SECRETS["orders-svc"], resource=BILLING,
                     scope="billing:read")["access_token"]
    assert oidc.jwt_claims(token)["aud"] == "billing-api"
    before = metrics(gw)
    status, headers, _ = call(gw.port, "/discovery/echo", token)
    assert_invalid_token(status, headers, realm="orders")
    assert failures(metrics(gw), "wrong_audience") == failures(before, "wrong_audience") + 1


def test_missing_scope_is_insufficient_scope(gw, op):
    token = orders_token(op, scope="orders:write")
    assert oidc.jwt_claims(token)["scope"] == "orders:write"
    status, headers, _ = call(gw.port, "/discovery/echo", token)
    assert status == 403
    challenge = headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge, challenge
    assert 'scope="orders:read"' in challenge, challenge


def test_token_signed_by_another_key_is_invalid(gw, op):
    status, headers, _ = call(gw.port, "/discovery/echo", foreign_jwt(op.issuer))
    assert_invalid_token(status, headers)


def test_jwks_uri_without_discovery(gw, op):
    token = orders_token(op)
    status, _, doc = call(gw.port, "/jwks-uri/echo", token)
    assert status == 200, doc
    assert header_values(doc, "x-user-id") == ["orders-svc"]
    status, headers, _ = call(gw.port, "/jwks-uri/echo", foreign_jwt(op.issuer))
    assert_invalid_token(status, headers)


# --- introspection of opaque tokens ---

@pytest.mark.parametrize("path,client_id,method", [
    ("/introspect-basic", "gw-basic", "client_secret_basic"),
    ("/introspect-post", "gw-post", "client_secret_post"),
])
def test_introspection_client_authentication(gw, op, path, client_id, method):
    token = opaque_token(op)
    asked = len(op.requests("/token/introspection"))
    conn = KeepAlive(gw.port)
    try:
        before = metrics(gw)
        status, _, doc = conn.call(path + "/echo", token)
        assert status == 200, doc
        assert header_values(doc, "x-client-id") == ["orders-svc"]
        assert header_values(doc, "x-tenant") == ["blue"]
        assert header_values(doc, "x-scope") == ["orders:read"]
        # The provider saw the gateway's client authenticate as configured.
        seen = op.requests("/token/introspection")[asked:]
        assert [(r["client_id"], r["client_auth"], r["status"]) for r in seen] == \
            [(client_id, method, "200")]
        # The second request is answered from the cache, without asking the provider again.
        status, _, _ = conn.call(path + "/echo", token)
        assert status == 200
    finally:
        conn.close()
    after = metrics(gw)
    assert counter(after, "cache_hits") == counter(before, "cache_hits") + 1
    assert counter(after, "unavailable") == counter(before, "unavailable")
    assert len(op.requests("/token/introspection")) == asked + 1


def test_introspection_refused_client_is_unavailable(gw, op):
    """The provider refuses the gateway's client (a wrong secret): a fault of the gateway's
    configuration, not of the caller's token, so 503 and no challenge."""
    start = len(gw.log())
    before = metrics(gw)
    status, headers, _ = call(gw.port, "/introspect-bad-secret/echo", opaque_token(op))
    assert status == 503
    assert "www-authenticate" not in headers
    assert op.requests("/token/introspection")[-1]["status"] == "401"
    wait_log(gw, r"warn authn identity_provider_unavailable "
                 r"policy=default/by-introspection-bad-secret "
                 r".*reason=introspection_unavailable effect=503", start)
    after = metrics(gw)
    assert counter(after, "unavailable") == counter(before, "unavailable") + 1


def test_introspection_inactive_token_is_invalid(gw, op):
    """active=false, for a token never issued and for a revoked one, is a bad token: 401."""
    revoked = opaque_token(op)
    op.revoke(revoked, "orders-svc", SECRETS["orders-svc"])
    for token in ("x" * 43, revoked):
        assert op.introspect(token, "gw-basic", SECRETS["gw-basic"]) == {"active": False}
        before = metrics(gw)
        asked = len(op.requests("/token/introspection"))
        for path in ("/introspect-basic/echo", "/introspect-post/echo"):
            status, headers, _ = call(gw.port, path, token)
            assert_invalid_token(status, headers)
        assert len(op.requests("/token/introspection")) == asked + 2
        assert counter(metrics(gw), "unavailable") == counter(before, "unavailable")


def test_inactive_token_is_not_reported_as_expired(gw, op):
    """An inactive introspection answer (a revoked or never issued token) is refused for what
    it is: the client is not told that its token expired, and the operator's access log and
    metrics do not count an expiry."""
    token = opaque_token(op)
    op.revoke(token, "orders-svc", SECRETS["orders-svc"])
    before = metrics(gw)
    status, headers, doc = call(gw.port, "/introspect-post/echo", token)
    assert_invalid_token(status, headers)
    assert "expired" not in headers["www-authenticate"], headers["www-authenticate"]
    assert access_record(gw, doc["request_id"])["reason"] != "expired"
    assert failures(metrics(gw), "expired") == failures(before, "expired")


def test_introspection_missing_scope_is_insufficient_scope(gw, op):
    status, headers, _ = call(gw.port, "/introspect-basic/echo",
                              opaque_token(op, scope="orders:write"))
    assert status == 403
    assert 'error="insufficient_scope"' in headers["www-authenticate"]


def test_revoked_token_served_until_cache_ttl_then_refused(gw, op):
    """The route remembers an active introspection result for 3 s (cacheTTL): a token revoked
    at the provider is still served until then, and refused once the gateway asks again."""
    token = opaque_token(op)
    conn = KeepAlive(gw.port)
    try:
        status, _, doc = conn.call("/revocable/echo", token)
        cached_at = time.monotonic()
        assert status == 200, doc
        assert header_values(doc, "x-client-id") == ["orders-svc"]

        op.revoke(token, "orders-svc", SECRETS["orders-svc"])
        assert op.introspect(token, "gw-basic", SECRETS["gw-basic"]) == {"active": False}

        # Within cacheTTL the gateway does not ask: the revocation is not seen yet.
        before = metrics(gw)
        status, _, _ = conn.call("/revocable/echo", token)
        assert status == 200
        assert counter(metrics(gw), "cache_hits") == counter(before, "cache_hits") + 1

        seen = []

        def refused():
            status, headers, _ = conn.call("/revocable/echo", token)
            seen.append((time.monotonic() - cached_at, status))
            return (status, headers) if status != 200 else None

        status, headers = until("the revoked token to be refused", refused,
                                deadline=3 + DEADLINE, interval=0.25)
        assert_invalid_token(status, headers)
        # Never refused before cacheTTL passed (up to the poll's step), served until then.
        assert seen[-1][0] >= 3 - 0.3, seen
        assert all(s == 200 for _, s in seen[:-1]), seen
        # And refused from then on: an inactive answer is not remembered as a good one.
        status, headers, _ = conn.call("/revocable/echo", token)
        assert_invalid_token(status, headers)
    finally:
        conn.close()


# --- DPoP-bound tokens (RFC 9449) ---

DPOP_URL = "http://example.com/dpop/echo"


@pytest.fixture(scope="module")
def dpop_token(op):
    """A DPoP-bound JWT from the provider: (the client's key, the token)."""
    key = oidc.DPoPKey()
    answer = op.token("dpop-svc", SECRETS["dpop-svc"], resource=ORDERS, scope="orders:read",
                      dpop=key)
    assert answer["token_type"] == "DPoP"
    token = answer["access_token"]
    assert oidc.jwt_claims(token)["cnf"] == {"jkt": key.thumbprint}
    return key, token


def dpop_call(gw, token, proof, path="/dpop/echo", scheme="DPoP"):
    headers = {"DPoP": proof} if proof is not None else {}
    return call(gw.port, path, token, scheme=scheme, headers=headers)


def assert_dpop_refused(status, headers):
    """401 with a DPoP challenge (RFC 9449 section 7.1) naming an error."""
    assert status == 401
    challenge = headers.get("www-authenticate", "")
    assert challenge.startswith("DPoP ") and ' error="' in challenge, challenge


def test_dpop_proof_accepted(gw, dpop_token):
    key, token = dpop_token
    status, _, doc = dpop_call(gw, token, key.proof("GET", DPOP_URL, token))
    assert status == 200, doc
    assert header_values(doc, "x-client-id") == ["dpop-svc"]
    # Every request carries a fresh proof (a new jti).
    status, _, doc = dpop_call(gw, token, key.proof("GET", DPOP_URL, token))
    assert status == 200, doc


def test_dpop_replayed_proof_refused(gw, dpop_token):
    key, token = dpop_token
    proof = key.proof("GET", DPOP_URL, token)
    status, _, doc = dpop_call(gw, token, proof)
    assert status == 200, doc
    before = metrics(gw)
    # The replay cache is shared by the workers: a new connection changes nothing.
    status, headers, _ = dpop_call(gw, token, proof)
    assert_dpop_refused(status, headers)
    assert failures(metrics(gw), "dpop_replay") == failures(before, "dpop_replay") + 1


@pytest.mark.parametrize("htm,htu,reason", [
    ("POST", DPOP_URL, "dpop_wrong_htm"),
    ("GET", "http://example.com/other/echo", "dpop_wrong_htu"),
    ("GET", "https://example.com/dpop/echo", "dpop_wrong_htu"),
    ("GET", "http://another.example.com/dpop/echo", "dpop_wrong_htu"),
])
def test_dpop_proof_for_another_request_refused(gw, dpop_token, htm, htu, reason):
    key, token = dpop_token
    before = metrics(gw)
    status, headers, _ = dpop_call(gw, token, key.proof(htm, htu, token))
    assert_dpop_refused(status, headers)
    assert failures(metrics(gw), reason) == failures(before, reason) + 1


def test_dpop_key_with_a_leading_zero_byte(gw, op):
    """A key whose x or y starts with a zero byte (about one in 120): its JWK still carries all
    32 bytes (RFC 7518 section 6.2.1.2), and the proof and the token's cnf.jkt agree on it."""
    def padded():
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        return key if min(numbers.x, numbers.y) < 1 << 248 else None

    key = oidc.DPoPKey(until("a key with a leading zero byte", padded, interval=0))
    answer = op.token("dpop-svc", SECRETS["dpop-svc"], resource=ORDERS, scope="orders:read",
                      dpop=key)
    token = answer["access_token"]
    assert oidc.jwt_claims(token)["cnf"] == {"jkt": key.thumbprint}
    status, _, doc = dpop_call(gw, token, key.proof("GET", DPOP_URL, token))
    assert status == 200, doc


def test_dpop_missing_proof_refused(gw, dpop_token):
    _, token = dpop_token
    status, headers, _ = dpop_call(gw, token, None)
    assert_dpop_refused(status, headers)


def test_dpop_proof_by_another_key_refused(gw, dpop_token):
    _, token = dpop_token
    thief = oidc.DPoPKey()
    status, headers, _ = dpop_call(gw, token, thief.proof("GET", DPOP_URL, token))
    assert_dpop_refused(status, headers)


# --- certificate-bound tokens (RFC 8705) ---

def tls_secret(name, cert):
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


def ca_config_map(name, cert):
    return """
apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
data:
  ca.crt: |
%s""" % (name, block(cert.pem, 4))


@pytest.fixture(scope="module")
def mtls_gw(make_module_gateway, module_origin, op, pki):
    """An HTTPS listener asking for client certificates of the test CA (Optional, so that a
    client without one reaches authentication), and a route taking certificate-bound tokens."""
    listeners = """
- name: https
  port: {port}
  protocol: HTTPS
  tls:
    certificateRefs:
    - {name: gateway-tls}
    frontendValidation:
      caCertificateRefs:
      - {name: client-ca}
"""
    policies = docs(
        tls_secret("gateway-tls", pki["certs"]["gateway"]),
        ca_config_map("client-ca", pki["root"]),
        """
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: optional-client-certificates
spec:
  targetRefs:
  - {kind: Gateway, name: edge}
  tls:
    clientCertificate: {mode: Optional}
""",
        policy("certificate-bound", "bound",
               jwt_provider("op", op.issuer, "discovery: true")
               + "senderConstraint: {mode: Certificate}\n" + FORWARD))
    gateway = make_module_gateway(route("bound", "/bound"), {"origin": [module_origin.address]},
                                  listeners=listeners, policies=policies)
    wait_log(gateway, r"authn keys_refreshed provider=default/certificate-bound/op keys=2")
    return gateway


@pytest.fixture(scope="module")
def bound_token(op, pki):
    """A token from the provider's TLS port to mtls-svc, which authenticates with its
    certificate (tls_client_auth): bound to that certificate."""
    ctx = oidc.tls_client(pki["root"].pem, pki["paths"]["mtls"])
    token = op.token("mtls-svc", resource=ORDERS, scope="orders:read", tls=ctx)["access_token"]
    assert oidc.jwt_claims(token)["cnf"] == {
        "x5t#S256": oidc.cert_thumbprint(pki["certs"]["mtls"].der)}
    assert op.requests("/token")[-1]["client_auth"] == "certificate"
    return token


def bound_call(gw, pki, token, cert_name):
    """A request over TLS presenting the named client certificate (None: none)."""
    ctx = tls_context(ca=pki["root"].pem,
                      cert=pki["paths"][cert_name] if cert_name else None)
    status, headers, body = tls_request(gw.port, ctx, sni="example.com", path="/bound/echo",
                                        headers={"Authorization": "Bearer " + token})
    try:
        return status, headers, json.loads(body)
    except ValueError:
        return status, headers, None


def test_certificate_bound_token_with_its_certificate(mtls_gw, pki, bound_token):
    status, _, doc = bound_call(mtls_gw, pki, bound_token, "mtls")
    assert status == 200, doc
    assert header_values(doc, "x-client-id") == ["mtls-svc"]


@pytest.mark.parametrize("cert_name", ["other", None])
def test_certificate_bound_token_with_another_or_no_certificate(mtls_gw, pki, bound_token,
                                                               cert_name):
    before = metrics(mtls_gw)
    status, headers, _ = bound_call(mtls_gw, pki, bound_token, cert_name)
    assert_invalid_token(status, headers)
    assert failures(metrics(mtls_gw), "cnf_mismatch") == failures(before, "cnf_mismatch") + 1
    # The same token still works from its own certificate: nothing was spoilt by the refusal.
    assert bound_call(mtls_gw, pki, bound_token, "mtls")[0] == 200


# --- the provider's life: key rotation, outages ---

@pytest.fixture
def make_provider(workdir):
    """Providers of one test's own (signing keys, port), stopped after it."""
    started = []

    def make(keys, port=0, delays=None):
        provider = oidc.Provider(tempfile.mkdtemp(prefix="op-", dir=workdir), keys,
                                 op_clients(), op_resource_servers(), port=port, delays=delays)
        started.append(provider)
        return provider

    yield make
    for provider in started:
        provider.stop()


def test_signing_key_rotation_without_restart(make_gateway, make_provider, module_origin):
    k1, k2, k3 = (oidc.signing_key(kid) for kid in ("rotate-1", "rotate-2", "rotate-3"))
    op = make_provider([k1])
    # cacheTTL 0s: every request verifies its token with the keys the gateway holds then.
    gw = make_gateway(route("rotating", "/rotating"), {"origin": [module_origin.address]},
                      policies=policy("rotating", "rotating", jwt_provider(
                          "op", op.issuer, "discovery: true",
                          extra="refresh: {interval: 10m, minInterval: 1s}\ncacheTTL: 0s\n")))
    wait_log(gw, r"authn keys_refreshed provider=default/rotating/op keys=1")
    fetched_at = time.monotonic()
    pid = gw.proc.pid

    def settle():
        # A token naming an unknown kid refetches the keys at most once per minInterval (1 s)
        # since the last fetch; wait out what is left of it.
        time.sleep(max(0.0, fetched_at + 1.2 - time.monotonic()))

    t1 = orders_token(op)
    assert oidc.jws_header(t1)["kid"] == "rotate-1"
    assert call(gw.port, "/rotating/echo", t1)[0] == 200

    # The new key signs; the old one is still published.
    op.rotate([k2, k1])
    t2 = orders_token(op)
    assert oidc.jws_header(t2)["kid"] == "rotate-2"
    settle()
    start = len(gw.log())
    status, _, doc = call(gw.port, "/rotating/echo", t2)
    assert status == 200, doc
    wait_log(gw, r"authn keys_refreshed provider=default/rotating/op keys=2", start)
    fetched_at = time.monotonic()
    assert call(gw.port, "/rotating/echo", t1)[0] == 200

    # The old keys are withdrawn: their tokens are refused, the newest key's accepted.
    op.rotate([k3])
    t3 = orders_token(op)
    assert oidc.jws_header(t3)["kid"] == "rotate-3"
    settle()
    start = len(gw.log())
    before = metrics(gw)
    status, _, doc = call(gw.port, "/rotating/echo", t3)
    assert status == 200, doc
    wait_log(gw, r"authn keys_refreshed provider=default/rotating/op keys=1", start)
    for old in (t1, t2):
        status, headers, _ = call(gw.port, "/rotating/echo", old)
        assert_invalid_token(status, headers)
    after = metrics(gw)
    assert failures(after, "kid_unknown") == failures(before, "kid_unknown") + 2
    assert counter(after, "unavailable") == counter(before, "unavailable")

    assert gw.proc.pid == pid and gw.proc.poll() is None
    assert metrics(gw)["portcullis_config_reloads_total"] == 0


def test_rotation_requests_arriving_during_the_refetch_wait_for_it(make_gateway, make_provider,
                                                                   module_origin):
    """Requests carrying tokens of a new key at once: the first makes the gateway refetch the
    keys, and those arriving while that refetch runs wait for it too, rather than being refused
    for a kid the gateway is about to learn. The provider answers /jwks a second late, so they
    surely arrive during the refetch."""
    k1, k2 = oidc.signing_key("burst-1"), oidc.signing_key("burst-2")
    op = make_provider([k1], delays={"/jwks": 1000})
    gw = make_gateway(route("burst", "/burst"), {"origin": [module_origin.address]},
                      policies=policy("burst", "burst", jwt_provider(
                          "op", op.issuer, "discovery: true",
                          extra="refresh: {interval: 10m, minInterval: 1s}\ncacheTTL: 0s\n")))
    wait_log(gw, r"authn keys_refreshed provider=default/burst/op keys=1")
    fetched_at = time.monotonic()

    op.rotate([k2, k1])
    tokens = [orders_token(op) for _ in range(4)]
    assert {oidc.jws_header(t)["kid"] for t in tokens} == {"burst-2"}
    time.sleep(max(0.0, fetched_at + 1.2 - time.monotonic()))  # past minInterval
    discovered = len(op.requests("/.well-known/openid-configuration"))
    jwks_fetched = len(op.requests("/jwks"))

    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        first = pool.submit(call, gw.port, "/burst/echo", tokens[0])
        # The discovery document is answered at once: the refetch is then waiting for /jwks.
        until("the refetch to begin",
              lambda: len(op.requests("/.well-known/openid-configuration")) > discovered,
              interval=0.02)
        assert not first.done()
        rest = [pool.submit(call, gw.port, "/burst/echo", t) for t in tokens[1:]]
        statuses = [f.result()[0] for f in [first] + rest]
    assert statuses == [200] * len(tokens), statuses
    assert len(op.requests("/jwks")) == jwks_fetched + 1


def test_provider_down_at_start(make_gateway, make_provider, module_origin):
    port = free_port()
    issuer = "http://127.0.0.1:%d" % port
    gw = make_gateway(route("early", "/early"), {"origin": [module_origin.address]},
                      policies=policy("early", "early", jwt_provider(
                          "op", issuer, "discovery: true") + REQUIRE_READ + FORWARD))
    wait_log(gw, r"warn authn keys_unavailable provider=default/early/op reason=unreachable "
                 r".*has_keys=no")

    # Without keys no token can be told good from bad: fail closed, and say so.
    before = metrics(gw)
    start = len(gw.log())
    status, headers, doc = call(gw.port, "/early/echo", foreign_jwt(issuer))
    assert status == 503, doc
    assert "www-authenticate" not in headers
    wait_log(gw, r"warn authn identity_provider_unavailable policy=default/early "
                 r"source=default/early/op reason=keys_unavailable effect=503", start)
    record = access_record(gw, doc["request_id"])
    assert (record["status"], record["reason"]) == (503, "keys_unavailable")
    after = metrics(gw)
    assert counter(after, "unavailable") == counter(before, "unavailable") + 1
    assert sum(v for k, v in after.items() if k.startswith("portcullis_authn_failures_total")) \
        == sum(v for k, v in before.items() if k.startswith("portcullis_authn_failures_total"))

    # The provider comes up on the issuer's port; the gateway's retries find it.
    op = make_provider([oidc.signing_key("late-1")], port=port)
    assert op.issuer == issuer
    token = orders_token(op)
    status, _, doc = status_becomes(gw.port, "/early/echo", token, 200, deadline=40)
    assert header_values(doc, "x-user-id") == ["orders-svc"]
    wait_log(gw, r"authn keys_refreshed provider=default/early/op keys=1")
    # Now that keys are at hand, a bad token is what it is: 401.
    status, headers, _ = call(gw.port, "/early/echo", tampered(token))
    assert_invalid_token(status, headers)
    assert metrics(gw)["portcullis_config_reloads_total"] == 0


def test_provider_down_during_operation(make_gateway, make_provider, module_origin):
    key = oidc.signing_key("steady-1")
    op = make_provider([key])
    routes = docs(route("lenient", "/lenient"), route("strict", "/strict"),
                  route("opaque", "/opaque"))
    # Both JWT routes refresh every second and verify every request (cacheTTL 0s); "lenient"
    # keeps using its last keys for an hour of failures, "strict" for one second.
    policies = docs(
        client_secret("gw-basic-secret", SECRETS["gw-basic"]),
        policy("lenient", "lenient", jwt_provider(
            "op", op.issuer, "discovery: true",
            extra="refresh: {interval: 1s, minInterval: 1s, stale: 1h}\ncacheTTL: 0s\n")),
        policy("strict", "strict", jwt_provider(
            "op", op.issuer, "remoteJWKS: {uri: %s}" % op.url("/jwks"),
            extra="refresh: {interval: 1s, minInterval: 1s, stale: 1s}\ncacheTTL: 0s\n")),
        policy("opaque", "opaque", introspection(op, "gw-basic", "client_secret_basic",
                                                 cache_ttl="0s")))
    gw = make_gateway(routes, {"origin": [module_origin.address]}, policies=policies)
    wait_log(gw, r"authn keys_refreshed provider=default/lenient/op keys=1")
    wait_log(gw, r"authn keys_refreshed provider=default/strict/op keys=1")

    token, opaque = orders_token(op), opaque_token(op)
    for path, t in (("/lenient/echo", token), ("/strict/echo", token), ("/opaque/echo", opaque)):
        status, _, doc = call(gw.port, path, t)
        assert status == 200, (path, doc)

    start = len(gw.log())
    op.stop()
    wait_log(gw, r"warn authn keys_unavailable provider=default/lenient/op reason=unreachable "
                 r".*has_keys=yes", start)

    # Keys in hand keep verifying, every time (no cache): the outage costs nothing.
    before = metrics(gw)
    for _ in range(3):
        status, _, doc = call(gw.port, "/lenient/echo", token)
        assert status == 200, doc
    after = metrics(gw)
    assert counter(after, "tokens_verified") == counter(before, "tokens_verified") + 3
    assert counter(after, "cache_hits") == counter(before, "cache_hits")

    # A bad token is still a bad token: 401, counted as a failure, not as unavailability.
    before = metrics(gw)
    status, headers, doc = call(gw.port, "/lenient/echo", tampered(token))
    assert_invalid_token(status, headers)
    record = access_record(gw, doc["request_id"])
    assert (record["status"], record["reason"]) == (401, "bad_signature")
    after = metrics(gw)
    assert failures(after, "bad_signature") == failures(before, "bad_signature") + 1
    assert counter(after, "unavailable") == counter(before, "unavailable")

    # Introspection needs the provider: 503, not 401, logged and counted as unavailable.
    before = metrics(gw)
    start = len(gw.log())
    status, headers, doc = call(gw.port, "/opaque/echo", opaque)
    assert status == 503, doc
    assert "www-authenticate" not in headers
    wait_log(gw, r"warn authn identity_provider_unavailable policy=default/opaque "
                 r"source=%s reason=introspection_unavailable effect=503"
             % re.escape(op.url("/token/introspection")), start)
    record = access_record(gw, doc["request_id"])
    assert (record["status"], record["reason"]) == (503, "introspection_unavailable")
    after = metrics(gw)
    assert counter(after, "unavailable") == counter(before, "unavailable") + 1
    assert {k: v for k, v in after.items() if k.startswith("portcullis_authn_failures_total")} \
        == {k: v for k, v in before.items() if k.startswith("portcullis_authn_failures_total")}

    # Past its stale time the strict route fails closed; the lenient one still serves.
    status_becomes(gw.port, "/strict/echo", token, 503)
    assert call(gw.port, "/lenient/echo", token)[0] == 200

    # The provider comes back (same port, same key): the strict route recovers by itself.
    back = make_provider([key], port=op.port)
    status_becomes(gw.port, "/strict/echo", token, 200)
    assert call(gw.port, "/opaque/echo", opaque_token(back))[0] == 200
