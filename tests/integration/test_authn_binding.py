"""Sender-constrained tokens through the real binary: certificate-bound tokens (RFC 8705) over
an HTTPS listener that asks for client certificates, and DPoP (RFC 9449): the proof's
signature, type, key, htm, htu, iat window, ath and jti, its binding to the token's cnf "jkt",
bound tokens sent with the Bearer scheme, and the DPoP WWW-Authenticate challenge.

Proofs are written by hand (test_authn_tokens.compact), each differing from a good one in one
respect. Two gateways: "tls_gw" (one HTTPS listener, client certificates optional, so that the
same listener serves clients with, without and with other certificates) and "dpop_gw" (plain
HTTP). The DPoP iat window is tested with margins of several seconds either side, not at its
edge.
"""

import base64
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import certs
from client import header_values, read_response, tls_context, tls_request
from test_authn_tokens import (access_line, assert_challenge, assert_refused, assert_served,
                               authn_policy, b64u, call, challenge_params, claims, compact,
                               docs, ec_key, ed_key, mint, public_jwk, route, route_target,
                               rsa_key, thumbprint, write_jwks)
from test_lifecycle import metric
from test_tls import client_policy, config_map, https_listener, secret

ISSUER = "https://issuer.binding.test"
AUD = "api://binding"
HOST = "api.example.com"
MAX_AGE = 30
FORWARD = """
claimToHeaders:
- {claim: sub, header: x-user-id}
realm: bound
"""


class Keys:
    def __init__(self):
        self.issuer = rsa_key()
        self.client = ec_key()
        self.other_client = ec_key()
        self.client_rsa = rsa_key()
        self.client_ed = ed_key()


@pytest.fixture(scope="module")
def keys():
    return Keys()


@pytest.fixture(scope="module")
def module_origin():
    from conftest import Origin
    o = Origin("origin-binding")
    yield o
    o.stop()


def provider(jwks):
    return """
- name: idp
  issuer: %s
  audiences: [%s]
  algorithms: [RS256]
  localJWKS: {file: %s}
""" % (json.dumps(ISSUER), json.dumps(AUD), jwks)


def binding(mode, if_present=False, max_age=None):
    text = "senderConstraint:\n  mode: %s\n" % mode
    if if_present:
        text += "  ifPresent: true\n"
    if max_age is not None:
        text += "  dpopMaxAge: %ds\n" % max_age
    return text


def issuer_jwks(keys):
    tmp = tempfile.mkdtemp(prefix="authn-binding-")
    path = os.path.join(tmp, "idp.json")
    write_jwks(path, [public_jwk(keys.issuer, "idp1")])
    return path


def token(keys, sub="bound-user", cnf=None, **extra):
    if cnf is not None:
        extra["cnf"] = cnf
    return mint(keys.issuer, "RS256", claims(ISSUER, AUD, sub=sub, **extra), kid="idp1")


def x5t(cert):
    """RFC 8705 section 3.1: base64url SHA-256 of the certificate's DER."""
    return b64u(hashlib.sha256(cert.der).digest())


# --- certificate-bound tokens (RFC 8705) ---

class Pki:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="authn-binding-pki-")
        self.server_ca = certs.ca("Binding Server CA")
        self.server = certs.leaf(self.server_ca, cn=HOST, dns=[HOST], client=False)
        self.client_ca = certs.ca("Binding Client CA")
        self.alice = certs.leaf(self.client_ca, cn="alice", server=False)
        self.bob = certs.leaf(self.client_ca, cn="bob", server=False)
        self.files = {name: getattr(self, name).write(self.dir, name)
                      for name in ("alice", "bob")}

    def ctx(self, who=None):
        return tls_context(ca=self.server_ca.pem, cert=self.files[who] if who else None)


@pytest.fixture(scope="module")
def pki():
    p = Pki()
    yield p
    shutil.rmtree(p.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_gw(make_module_gateway, module_origin, keys, pki):
    """One HTTPS listener asking for client certificates (Optional). Routes: /cert
    (Certificate), /cert-if-present (Certificate, ifPresent), /any (Any), /dpop-tls (DPoP)."""
    jwks = issuer_jwks(keys)
    names = ("cert", "cert-if-present", "any", "dpop-tls")
    policies = docs(
        authn_policy("cert", route_target("cert"), provider(jwks),
                     FORWARD + binding("Certificate")),
        authn_policy("cert-if-present", route_target("cert-if-present"), provider(jwks),
                     FORWARD + binding("Certificate", if_present=True)),
        authn_policy("any", route_target("any"), provider(jwks), FORWARD + binding("Any")),
        authn_policy("dpop-tls", route_target("dpop-tls"), provider(jwks),
                     FORWARD + binding("DPoP", max_age=MAX_AGE)),
        secret("server", pki.server), config_map("client-ca", pki.client_ca),
        client_policy("optional-certs", "{kind: Gateway, name: edge}", mode="Optional"))
    return make_module_gateway(
        docs(*(route(n, "/" + n) for n in names)), {"origin": [module_origin.address]},
        listeners=https_listener("https", ["{name: server}"], client_refs=["{name: client-ca}"]),
        policies=policies)


def tls_call(gw, pki, who, path, tok=None, scheme="Bearer", headers=None):
    """One request over a fresh TLS connection presenting who's certificate (None: none).
    Returns (status, headers, parsed body or None)."""
    hdrs = dict(headers or {})
    if tok is not None:
        hdrs["Authorization"] = "%s %s" % (scheme, tok)
    status, resp_headers, body = tls_request(gw.port, pki.ctx(who), sni=HOST, path=path,
                                             headers=hdrs)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return status, resp_headers, doc


def tls_refused(gw, pki, who, path, tok, reason, error="invalid_token", scheme="Bearer",
                headers=None, challenge_scheme="Bearer"):
    status, hdrs, _ = tls_call(gw, pki, who, path, tok, scheme, headers)
    assert status == 401, (status, reason, hdrs.get("www-authenticate"))
    params = assert_challenge(hdrs["www-authenticate"], error, challenge_scheme, "bound")
    rec = access_line(gw, hdrs["x-request-id"])
    assert rec.get("reason") == reason, (rec.get("reason"), reason)
    assert "subject" not in rec
    return params


def tls_served(gw, pki, who, path, tok, sub="bound-user", scheme="Bearer", headers=None):
    status, hdrs, doc = tls_call(gw, pki, who, path, tok, scheme, headers)
    assert status == 200, (status, hdrs.get("www-authenticate"))
    assert header_values(doc, "x-user-id") == [sub]
    assert access_line(gw, hdrs["x-request-id"]).get("subject") == sub
    return doc


def test_token_bound_to_the_client_certificate_served(tls_gw, pki, keys):
    tok = token(keys, cnf={"x5t#S256": x5t(pki.alice)})
    tls_served(tls_gw, pki, "alice", "/cert/x", tok)


def test_token_bound_to_another_certificate_refused(tls_gw, pki, keys):
    tok = token(keys, cnf={"x5t#S256": x5t(pki.alice)})
    tls_refused(tls_gw, pki, "bob", "/cert/x", tok, "cnf_mismatch")


def test_bound_token_without_a_client_certificate_refused(tls_gw, pki, keys):
    tok = token(keys, cnf={"x5t#S256": x5t(pki.alice)})
    tls_refused(tls_gw, pki, None, "/cert/x", tok, "cnf_mismatch")


def test_token_without_cnf_refused_where_binding_is_required(tls_gw, pki, keys):
    tls_refused(tls_gw, pki, "alice", "/cert/x", token(keys), "cnf_missing")
    tls_refused(tls_gw, pki, "alice", "/cert/x", token(keys, cnf={"jkt": "x" * 43}),
                "cnf_missing")


@pytest.mark.parametrize("value", ["padded=", "sha1", "hex", 42],
                         ids=["padded", "sha1-length", "hex", "not-a-string"])
def test_malformed_certificate_thumbprint_refused(tls_gw, pki, keys, value):
    digest = hashlib.sha256(pki.alice.der).digest()
    thumb = {"padded=": base64.urlsafe_b64encode(digest).decode(),
             "sha1": b64u(hashlib.sha1(pki.alice.der).digest()),
             "hex": digest.hex(), 42: 42}[value]
    reason = "cnf_missing" if value == 42 else "cnf_mismatch"
    tls_refused(tls_gw, pki, "alice", "/cert/x", token(keys, cnf={"x5t#S256": thumb}), reason)


def test_cached_bound_token_still_checked_against_each_connection(tls_gw, pki, keys):
    """The verified-token cache remembers the token, never the connection it came on."""
    tok = token(keys, sub="cache-bound", cnf={"x5t#S256": x5t(pki.alice)})
    tls_served(tls_gw, pki, "alice", "/cert/x", tok, sub="cache-bound")
    hits = metric(tls_gw, "portcullis_authn_cache_hits_total")
    tls_refused(tls_gw, pki, "bob", "/cert/x", tok, "cnf_mismatch")
    tls_refused(tls_gw, pki, None, "/cert/x", tok, "cnf_mismatch")
    tls_served(tls_gw, pki, "alice", "/cert/x", tok, sub="cache-bound")
    assert metric(tls_gw, "portcullis_authn_cache_hits_total") > hits


def test_if_present_accepts_unbound_tokens_and_checks_bound_ones(tls_gw, pki, keys):
    tls_served(tls_gw, pki, None, "/cert-if-present/x", token(keys, sub="plain"), sub="plain")
    bound = token(keys, cnf={"x5t#S256": x5t(pki.alice)})
    tls_served(tls_gw, pki, "alice", "/cert-if-present/x", bound)
    tls_refused(tls_gw, pki, "bob", "/cert-if-present/x", bound, "cnf_mismatch")


def test_any_binding_takes_the_one_the_token_names(tls_gw, pki, keys):
    tls_served(tls_gw, pki, "alice", "/any/x", token(keys, cnf={"x5t#S256": x5t(pki.alice)}))
    tls_refused(tls_gw, pki, "bob", "/any/x", token(keys, cnf={"x5t#S256": x5t(pki.alice)}),
                "cnf_mismatch")
    tls_refused(tls_gw, pki, "alice", "/any/x", token(keys), "cnf_missing")
    jwk = public_jwk(keys.client)
    bound = token(keys, cnf={"jkt": thumbprint(jwk)})
    url = "https://%s/any/x" % HOST
    tls_served(tls_gw, pki, None, "/any/x", bound, scheme="DPoP",
               headers={"DPoP": proof(keys.client, "GET", url, bound)})


def test_dpop_over_https_binds_the_https_uri(tls_gw, pki, keys):
    bound = token(keys, cnf={"jkt": thumbprint(public_jwk(keys.client))})
    good = proof(keys.client, "GET", "https://%s/dpop-tls/x" % HOST, bound)
    tls_served(tls_gw, pki, None, "/dpop-tls/x", bound, scheme="DPoP", headers={"DPoP": good})
    plain = proof(keys.client, "GET", "http://%s/dpop-tls/x" % HOST, bound)
    tls_refused(tls_gw, pki, None, "/dpop-tls/x", bound, "dpop_wrong_htu",
                error="invalid_dpop_proof", scheme="DPoP", headers={"DPoP": plain},
                challenge_scheme="DPoP")


# --- DPoP (RFC 9449) ---

def ath(tok):
    return b64u(hashlib.sha256(tok.encode()).digest())


def proof_alg(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ES256"
    return "RS256" if isinstance(key, rsa.RSAPrivateKey) else "EdDSA"


def proof(key, htm, htu, tok=None, alg=None, typ="dpop+jwt", jwk=None, iat=None, jti=None,
          sign_with=None, drop=(), **extra):
    """A DPoP proof for (htm, htu) by key, with ath for tok; any part may be overridden, and
    drop names claims or header members to leave out."""
    alg = alg or proof_alg(key)
    header = {"typ": typ, "alg": alg, "jwk": jwk if jwk is not None else public_jwk(key)}
    payload = {"jti": jti or uuid.uuid4().hex, "htm": htm, "htu": htu,
               "iat": int(time.time()) if iat is None else iat}
    if tok is not None:
        payload["ath"] = ath(tok)
    payload.update(extra)
    for name in drop:
        header.pop(name, None)
        payload.pop(name, None)
    return compact(header, payload, alg, sign_with or key)


def raw_request(port, head):
    """One request written as is (repeated fields included): (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode())
        status, hdrs, body, _ = read_response(s)
    return status, hdrs, body


@pytest.fixture(scope="module")
def dpop_gw(make_module_gateway, module_origin, keys):
    """Plain HTTP. Routes: /dpop (DPoP, dpopMaxAge 30 s), /dpop-if-present (DPoP, ifPresent),
    /bearer (no binding)."""
    jwks = issuer_jwks(keys)
    policies = docs(
        authn_policy("dpop", route_target("dpop"), provider(jwks),
                     FORWARD + binding("DPoP", max_age=MAX_AGE)),
        authn_policy("dpop-if-present", route_target("dpop-if-present"), provider(jwks),
                     FORWARD + binding("DPoP", if_present=True)),
        authn_policy("bearer", route_target("bearer"), provider(jwks), FORWARD))
    return make_module_gateway(
        docs(route("dpop", "/dpop"), route("dpop-if-present", "/dpop-if-present"),
             route("bearer", "/bearer")),
        {"origin": [module_origin.address]}, policies=policies)


URL = "http://example.com/dpop/x"


def bound_token(keys, key=None, sub="bound-user"):
    return token(keys, sub=sub, cnf={"jkt": thumbprint(public_jwk(key or keys.client))})


def dpop_refused(gw, tok, dpop, reason, error="invalid_dpop_proof", path="/dpop/x",
                 scheme="DPoP"):
    headers = {"DPoP": dpop} if dpop is not None else None
    return assert_refused(gw, path, tok, reason, scheme=scheme, headers=headers, error=error,
                          challenge_scheme="DPoP", realm="bound")


def dpop_served(gw, tok, dpop, sub="bound-user", path="/dpop/x"):
    return assert_served(gw, path, tok, sub=sub, scheme="DPoP", headers={"DPoP": dpop})


@pytest.mark.parametrize("which", ["client", "client_rsa", "client_ed"],
                         ids=["ES256", "RS256", "EdDSA"])
def test_dpop_proof_by_the_bound_key_served(dpop_gw, keys, which):
    key = getattr(keys, which)
    tok = bound_token(keys, key)
    dpop_served(dpop_gw, tok, proof(key, "GET", URL, tok))


def test_dpop_proof_signed_by_another_key_refused(dpop_gw, keys):
    tok = bound_token(keys)
    forged = proof(keys.client, "GET", URL, tok, sign_with=keys.other_client)
    dpop_refused(dpop_gw, tok, forged, "bad_signature")


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", None], ids=["JWT", "at-jwt", "absent"])
def test_dpop_proof_of_another_type_refused(dpop_gw, keys, typ):
    tok = bound_token(keys)
    dpop_refused(dpop_gw, tok, proof(keys.client, "GET", URL, tok, typ=typ,
                                     drop=("typ",) if typ is None else ()), "wrong_typ")


def test_dpop_proof_with_a_symmetric_or_no_algorithm_refused(dpop_gw, keys):
    tok = bound_token(keys)
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": public_jwk(keys.client)}
    payload = {"jti": uuid.uuid4().hex, "htm": "GET", "htu": URL, "iat": int(time.time()),
               "ath": ath(tok)}
    dpop_refused(dpop_gw, tok, compact(header, payload, "HS256", b"k" * 32), "alg_not_allowed")
    header["alg"] = "none"
    dpop_refused(dpop_gw, tok, compact(header, payload), "alg_none")


def test_dpop_proof_whose_key_is_missing_or_private_refused(dpop_gw, keys):
    tok = bound_token(keys)
    dpop_refused(dpop_gw, tok, proof(keys.client, "GET", URL, tok, drop=("jwk",)),
                 "dpop_bad_key")
    private = public_jwk(keys.client)
    private["d"] = b64u(keys.client.private_numbers().private_value.to_bytes(32, "big"))
    dpop_refused(dpop_gw, tok, proof(keys.client, "GET", URL, tok, jwk=private),
                 "dpop_private_key")


@pytest.mark.parametrize("htm", ["POST", "get", "HEAD"])
def test_dpop_proof_for_another_method_refused(dpop_gw, keys, htm):
    tok = bound_token(keys)
    dpop_refused(dpop_gw, tok, proof(keys.client, htm, URL, tok), "dpop_wrong_htm")


@pytest.mark.parametrize("htu", [
    "http://example.com/dpop/y", "http://example.com/dpop", "http://other.example/dpop/x",
    "https://example.com/dpop/x", "http://example.com:8080/dpop/x", "/dpop/x",
    "http://example.com/dpop/x/"],
    ids=["path", "parent", "host", "scheme", "port", "relative", "trailing-slash"])
def test_dpop_proof_for_another_uri_refused(dpop_gw, keys, htu):
    tok = bound_token(keys)
    dpop_refused(dpop_gw, tok, proof(keys.client, "GET", htu, tok), "dpop_wrong_htu")


@pytest.mark.parametrize("htu, target", [
    ("http://example.com/dpop/x?a=1", "/dpop/x"),
    ("http://example.com/dpop/x", "/dpop/x?b=2"),
    ("http://example.com/dpop/x?a=1", "/dpop/x?b=2"),
    ("http://example.com/dpop/x#frag", "/dpop/x"),
    ("HTTP://EXAMPLE.COM/dpop/x", "/dpop/x"),
    ("http://example.com:80/dpop/x", "/dpop/x"),
    ("http://example.com/dpop/%78", "/dpop/x"),
], ids=["query-in-proof", "query-in-request", "both-queries", "fragment", "case",
        "default-port", "percent-encoded"])
def test_dpop_htu_compared_without_query_and_fragment_after_normalisation(dpop_gw, keys, htu,
                                                                          target):
    """RFC 9449 section 4.3 step 9: query and fragment are not compared; RFC 3986 section 6.2
    normalisation is."""
    tok = bound_token(keys)
    dpop_served(dpop_gw, tok, proof(keys.client, "GET", htu, tok), path=target)


@pytest.mark.parametrize("age", [-MAX_AGE - 10, 20], ids=["too-old", "in-the-future"])
def test_dpop_proof_outside_the_iat_window_refused(dpop_gw, keys, age):
    """Window: dpopMaxAge (30 s) into the past, the gateway's 5 s skew into the future."""
    tok = bound_token(keys)
    iat = int(time.time()) + age
    dpop_refused(dpop_gw, tok, proof(keys.client, "GET", URL, tok, iat=iat), "dpop_stale")


@pytest.mark.parametrize("age", [-MAX_AGE + 10, 2], ids=["old-within", "ahead-within"])
def test_dpop_proof_inside_the_iat_window_served(dpop_gw, keys, age):
    tok = bound_token(keys)
    dpop_served(dpop_gw, tok, proof(keys.client, "GET", URL, tok, iat=int(time.time()) + age))


def test_dpop_proof_without_ath_refused(dpop_gw, keys):
    tok = bound_token(keys)
    dpop_refused(dpop_gw, tok, proof(keys.client, "GET", URL), "dpop_wrong_ath")


@pytest.mark.parametrize("value", ["other-token", "padded", "hex"])
def test_dpop_proof_with_a_wrong_ath_refused(dpop_gw, keys, value):
    tok = bound_token(keys)
    digest = hashlib.sha256(tok.encode()).digest()
    wrong = {"other-token": ath(bound_token(keys)),
             "padded": base64.urlsafe_b64encode(digest).decode(),
             "hex": digest.hex()}[value]
    dpop_refused(dpop_gw, tok, proof(keys.client, "GET", URL, ath=wrong), "dpop_wrong_ath")


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
def test_dpop_proof_missing_a_required_claim_refused(dpop_gw, keys, claim):
    tok = bound_token(keys)
    dpop_refused(dpop_gw, tok, proof(keys.client, "GET", URL, tok, drop=(claim,)),
                 "missing_claim")


def test_dpop_proof_replay_refused(dpop_gw, keys):
    tok = bound_token(keys)
    once = proof(keys.client, "GET", URL, tok)
    dpop_served(dpop_gw, tok, once)
    dpop_refused(dpop_gw, tok, once, "dpop_replay")
    # The jti, not the bytes, is what was used: a new proof with the same jti is a replay too.
    again = proof(keys.client, "GET", URL, tok, jti=json.loads(base64.urlsafe_b64decode(
        once.split(".")[1] + "==").decode())["jti"])
    dpop_refused(dpop_gw, tok, again, "dpop_replay")


def test_dpop_proof_by_a_key_other_than_the_tokens_refused(dpop_gw, keys):
    """A proof the attacker made with their own key, for a token bound to the victim's."""
    tok = bound_token(keys)
    params = dpop_refused(dpop_gw, tok, proof(keys.other_client, "GET", URL, tok),
                          "dpop_wrong_jkt", error="invalid_token")
    assert "algs" in params


def test_token_without_cnf_refused_on_a_dpop_route(dpop_gw, keys):
    tok = token(keys)
    dpop_refused(dpop_gw, tok, proof(keys.client, "GET", URL, tok), "cnf_missing",
                 error="invalid_token")


@pytest.mark.parametrize("with_proof", [False, True], ids=["no-proof", "with-proof"])
def test_dpop_bound_token_sent_as_a_bearer_token_refused(dpop_gw, keys, with_proof):
    """RFC 9449 section 7.2: a DPoP-bound token is never accepted under the Bearer scheme."""
    tok = bound_token(keys)
    dpop = proof(keys.client, "GET", URL, tok) if with_proof else None
    dpop_refused(dpop_gw, tok, dpop, "dpop_bound_as_bearer", error="invalid_token",
                 scheme="Bearer")


def test_dpop_scheme_without_a_proof_refused(dpop_gw, keys):
    dpop_refused(dpop_gw, bound_token(keys), None, "dpop_missing")


def test_dpop_with_two_proofs_refused(dpop_gw, keys):
    tok = bound_token(keys)
    one, two = proof(keys.client, "GET", URL, tok), proof(keys.client, "GET", URL, tok)
    status, hdrs, _ = raw_request(dpop_gw.port, "GET /dpop/x HTTP/1.1\r\nHost: example.com\r\n"
                                  "Authorization: DPoP %s\r\nDPoP: %s\r\nDPoP: %s\r\n"
                                  "Connection: close\r\n\r\n" % (tok, one, two))
    assert status == 401
    assert_challenge(hdrs["www-authenticate"], "invalid_dpop_proof", "DPoP", "bound")
    assert access_line(dpop_gw, hdrs["x-request-id"])["reason"] == "dpop_missing"


def test_dpop_challenge_without_a_token_names_the_algorithms(dpop_gw):
    """RFC 9449 section 7.1: no error without a token, and the proof algorithms accepted."""
    code, hdrs, _ = call(dpop_gw, "/dpop/x")
    assert code == 401
    scheme, params = challenge_params(hdrs["www-authenticate"])
    assert scheme == "DPoP"
    assert "error" not in params
    assert params["realm"] == "bound"
    algs = params["algs"].split(" ")
    assert {"ES256", "RS256", "PS256", "EdDSA"} <= set(algs)
    assert not any(a.startswith("HS") or a.lower() == "none" for a in algs)
    assert access_line(dpop_gw, hdrs["x-request-id"])["reason"] == "missing_token"


def test_dpop_challenge_for_a_bad_token_names_the_algorithms(dpop_gw, keys):
    tok = mint(keys.client, "ES256", claims(ISSUER, AUD), kid="idp1")
    params = dpop_refused(dpop_gw, tok, proof(keys.client, "GET", URL, tok),
                          "alg_not_allowed", error="invalid_token")
    assert "ES256" in params["algs"].split(" ")


def test_dpop_if_present_accepts_bearer_tokens_and_checks_bound_ones(dpop_gw, keys):
    assert_served(dpop_gw, "/dpop-if-present/x", token(keys, sub="plain"), sub="plain")
    tok = bound_token(keys)
    url = "http://example.com/dpop-if-present/x"
    dpop_served(dpop_gw, tok, proof(keys.client, "GET", url, tok), path="/dpop-if-present/x")
    assert_refused(dpop_gw, "/dpop-if-present/x", tok, "dpop_bound_as_bearer", realm="bound")
    assert_refused(dpop_gw, "/dpop-if-present/x", tok, "dpop_wrong_jkt", scheme="DPoP",
                   headers={"DPoP": proof(keys.other_client, "GET", url, tok)})


def test_dpop_scheme_checked_on_a_bearer_route_too(dpop_gw, keys):
    """A request that says DPoP brings a proof, whatever the route asks of bearer tokens."""
    tok = bound_token(keys)
    url = "http://example.com/bearer/x"
    assert_served(dpop_gw, "/bearer/x", tok, sub="bound-user", scheme="DPoP",
                  headers={"DPoP": proof(keys.client, "GET", url, tok)})
    assert_refused(dpop_gw, "/bearer/x", tok, "dpop_wrong_htm", scheme="DPoP",
                   headers={"DPoP": proof(keys.client, "POST", url, tok)},
                   error="invalid_dpop_proof")


def test_dpop_bound_token_sent_as_a_bearer_token_refused_where_no_binding_is_required(
        dpop_gw, keys):
    """RFC 9449 section 7.2: the gateway takes the DPoP scheme on every route, so a stolen
    DPoP-bound token is no bearer token anywhere; an unbound token still is."""
    tok = bound_token(keys)
    assert_refused(dpop_gw, "/bearer/x", tok, "dpop_bound_as_bearer", realm="bound")
    assert_served(dpop_gw, "/bearer/x", token(keys, sub="plain"), sub="plain")
    cert_bound = token(keys, sub="cert-bound", cnf={"x5t#S256": b64u(b"c" * 32)})
    assert_served(dpop_gw, "/bearer/x", cert_bound, sub="cert-bound")


def test_cached_dpop_token_still_needs_a_fresh_proof(dpop_gw, keys):
    tok = bound_token(keys, sub="cached-dpop")
    dpop_served(dpop_gw, tok, proof(keys.client, "GET", URL, tok), sub="cached-dpop")
    dpop_served(dpop_gw, tok, proof(keys.client, "GET", URL, tok), sub="cached-dpop")
    dpop_refused(dpop_gw, tok, None, "dpop_missing")
    dpop_refused(dpop_gw, tok, proof(keys.other_client, "GET", URL, tok), "dpop_wrong_jkt",
                 error="invalid_token")
