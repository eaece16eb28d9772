"""Forged and malformed JWTs against the real binary: every one is refused with 401, a
WWW-Authenticate challenge (RFC 6750 section 3) and an access-log line whose "reason" names the
check that failed; genuine RS256, PS256, ES256 and EdDSA tokens are served, and the upstream sees
their claims.

Tokens are minted here: genuine ones with python3-jwt, forgeries by hand (the JWS compact
serialisation is three base64url strings, and an attacker writes whatever bytes they like), so
that each case differs from a good token in one respect only. One module-scoped gateway serves
every case, one route per policy. The other authentication modules (test_authn_policy.py,
test_authn_binding.py) take their minting helpers from here.

Time-sensitive cases (exp and nbf one second either side of the skew) start at the beginning of
a wall-clock second, so that the gateway, which reads whole seconds, sees the second the token
was made for.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import tempfile
import time
import uuid

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from client import header_values, request

DEADLINE = 15.0
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
MAX_TOKEN_BYTES = 8192


# --- keys and tokens (shared with the other authentication modules) ---

def b64u(data):
    """base64url without padding (RFC 7515 section 2)."""
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


def ec_jwk(pub):
    """RFC 7518 section 6.2.1: x and y each exactly the curve's size. python3-jwt 2.6 drops
    their leading zero bytes (about one key in 64), which a strict verifier ignores."""
    size = (pub.curve.key_size + 7) // 8
    numbers = pub.public_numbers()
    crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[pub.curve.name]
    return {"kty": "EC", "crv": crv, "x": b64u(numbers.x.to_bytes(size, "big")),
            "y": b64u(numbers.y.to_bytes(size, "big"))}


def public_jwk(key, kid=None, **extra):
    """The public JWK (a dict) of a private or public key, with kid and any other members."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(pub, rsa.RSAPublicKey):
        jwk = json.loads(RSAAlgorithm.to_jwk(pub))
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        jwk = ec_jwk(pub)
    else:
        jwk = json.loads(OKPAlgorithm.to_jwk(pub))
    for member in ("key_ops", "alg"):
        jwk.pop(member, None)
    if kid is not None:
        jwk["kid"] = kid
    jwk.update(extra)
    return jwk


def thumbprint(jwk):
    """RFC 7638: SHA-256 over the required members in lexicographic order, base64url."""
    members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"),
               "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    text = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64u(hashlib.sha256(text.encode()).digest())


def sign_input(alg, key, data):
    """The JWS signature of data (bytes) with alg: what an honest signer, or an attacker with
    that key, produces."""
    if alg.startswith("HS"):
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
                  "HS512": hashlib.sha512}[alg]
        return hmac.new(key, data, digest).digest()
    hash_alg = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), hash_alg[alg[2:]])
    if alg.startswith("PS"):
        h = hash_alg[alg[2:]]
        return key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    if alg.startswith("ES"):
        h = hash_alg[alg[2:]]
        size = (key.curve.key_size + 7) // 8
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "EdDSA":
        return key.sign(data)
    raise ValueError(alg)


def json_text(part):
    """A header or payload as the bytes that get encoded: a dict is serialised compactly, a str
    or bytes is taken as the exact JSON text (so that it may repeat a member)."""
    if isinstance(part, dict):
        return json.dumps(part, separators=(",", ":")).encode()
    return part.encode() if isinstance(part, str) else part


def compact(header, payload, alg=None, key=None, signature=None):
    """A compact JWS by hand. header and payload as json_text() takes them; signed with key
    under alg unless signature (bytes) is given."""
    signing_input = b64u(json_text(header)) + "." + b64u(json_text(payload))
    if signature is None:
        signature = sign_input(alg, key, signing_input.encode()) if key is not None else b""
    return signing_input + "." + b64u(signature)


def claims(issuer, audience, sub="user-1", lifetime=300, **extra):
    """Registered claims of a token valid from now for lifetime seconds, plus extra (a value of
    None leaves that claim out)."""
    now = int(time.time())
    doc = {"iss": issuer, "sub": sub, "iat": now, "exp": now + lifetime,
           "jti": uuid.uuid4().hex}
    if audience is not None:
        doc["aud"] = audience
    doc.update(extra)
    return {k: v for k, v in doc.items() if v is not None}


def mint(key, alg, payload, kid=None, headers=None):
    """A genuine token from python3-jwt."""
    hdrs = dict(headers or {})
    if kid is not None:
        hdrs["kid"] = kid
    return jwt.encode(payload, key, algorithm=alg, headers=hdrs or None)


def write_jwks(path, keys):
    """Writes a JWK set atomically (a rename), as a deployment would replace it."""
    with open(path + ".tmp", "w") as f:
        json.dump({"keys": keys}, f)
    os.rename(path + ".tmp", path)


def start_of_second():
    """Sleeps to the beginning of the next wall-clock second and returns it (an int)."""
    now = time.time()
    time.sleep(1.0 - (now - int(now)) + 0.01)
    return int(time.time())


# --- configuration documents ---

def docs(*parts):
    return "\n---\n".join(p.strip("\n") for p in parts if p)


def route(name, path, service="origin"):
    """An HTTPRoute of one rule on edge, for requests under path."""
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


def indent(text, n):
    return "".join(" " * n + line + "\n" if line else "\n" for line in text.strip("\n").split("\n"))


def authn_policy(name, target, providers, extra=""):
    """An AuthenticationPolicy. target: the flow mapping of one targetRef; providers: the YAML
    list items of spec.jwt.providers (at column 0); extra: more spec fields (at column 0)."""
    return """
apiVersion: portcullis.dev/v1alpha1
kind: AuthenticationPolicy
metadata:
  name: %s
spec:
  targetRefs:
  - %s
  jwt:
    providers:
%s%s""" % (name, target, indent(providers, 4), indent(extra, 2) if extra else "")


def route_target(name):
    return "{kind: HTTPRoute, name: %s}" % name


def hmac_secret(name, secret):
    """A Secret holding an HMAC key under "secret" (stringData)."""
    return """
apiVersion: v1
kind: Secret
metadata:
  name: %s
stringData:
  secret: %s
""" % (name, json.dumps(secret))


BIG_HEADERS = """
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: big-heads
spec:
  targetRefs:
  - {kind: Gateway, name: edge}
  limits:
    maxHeaderBytes: 256Ki
"""


# --- checks ---

SENT_TOKENS = []


def access_line(gw, request_id, deadline=DEADLINE):
    """The access-log record of one request (the log is flushed every 250 ms)."""
    end = time.time() + deadline
    while time.time() < end:
        for rec in gw.access_log():
            if rec.get("request_id") == request_id:
                return rec
        time.sleep(0.05)
    raise AssertionError("no access-log line for request %s" % request_id)


def call(gw, path, token=None, scheme="Bearer", headers=None, host="example.com",
         method="GET"):
    """One request; token goes in Authorization under scheme. Returns (status, headers, doc)
    where doc is the origin's echo (parsed) or the problem body."""
    hdrs = dict(headers or {})
    if token is not None:
        SENT_TOKENS.append(token)
        hdrs["Authorization"] = "%s %s" % (scheme, token) if scheme else token
    status, resp_headers, body = request(gw.port, method=method, path=path, headers=hdrs,
                                         host=host)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return status, resp_headers, doc


def challenge_params(value):
    """The auth-params of one challenge (RFC 9110 section 11.2): (scheme, {name: value})."""
    scheme, _, rest = value.partition(" ")
    params = dict(re.findall(r'([A-Za-z_]+)="([^"]*)"', rest))
    return scheme, params


def assert_challenge(challenge, error, scheme="Bearer", realm=None):
    """challenge is a WWW-Authenticate value of scheme naming error with a description."""
    got_scheme, params = challenge_params(challenge)
    assert got_scheme == scheme, challenge
    assert params.get("error") == error, challenge
    assert params.get("error_description"), challenge
    if realm is not None:
        assert params.get("realm") == realm, challenge
    return params


def assert_refused(gw, path, token, reason, status=401, scheme="Bearer", headers=None,
                   error="invalid_token", challenge_scheme="Bearer", realm=None):
    """The request is refused with status, a challenge naming error, and an access-log line
    whose reason is the given one (a str, or a tuple of acceptable names). Returns the
    challenge's parameters."""
    code, hdrs, doc = call(gw, path, token, scheme=scheme, headers=headers)
    assert code == status, (code, reason, hdrs.get("www-authenticate"))
    params = assert_challenge(hdrs.get("www-authenticate", ""), error, challenge_scheme, realm)
    # The client learns a status and the request id; which check failed stays in the log.
    assert doc == {"type": "about:blank", "title": doc["title"], "status": status,
                   "request_id": hdrs["x-request-id"]}, doc
    rec = access_line(gw, hdrs["x-request-id"])
    assert rec["status"] == status
    wanted = reason if isinstance(reason, tuple) else (reason,)
    assert rec.get("reason") in wanted, (rec.get("reason"), wanted)
    if status == 401:
        # Nobody was authenticated; a 403 names the caller it refuses.
        assert "subject" not in rec
    return params


def assert_served(gw, path, token, sub="user-1", scheme="Bearer", headers=None,
                  claim_header="x-user-id"):
    """The request reaches the origin, which sees the forwarded claim header, and the access
    log names the subject. Returns the origin's echo."""
    code, hdrs, doc = call(gw, path, token, scheme=scheme, headers=headers)
    assert code == 200, (code, hdrs.get("www-authenticate"))
    if claim_header:
        assert header_values(doc, claim_header) == [sub]
    rec = access_line(gw, hdrs["x-request-id"])
    assert rec.get("subject") == sub
    assert "reason" not in rec
    return doc


# --- the gateway ---

ISSUER = "https://issuer.tokens.test"
OTHER_ISSUER = "https://other.tokens.test"
AUDIENCE = "api://tokens"
SKEW = 30
HMAC_SECRET = "an HMAC secret of more than thirty-two bytes"


class Keys:
    """The issuer's keys (in its JWK set) and an attacker's (in no set)."""

    def __init__(self):
        self.rsa = rsa_key()
        self.ec = ec_key()
        self.ed = ed_key()
        self.twin_a = rsa_key()
        self.twin_b = rsa_key()
        self.pair_a = rsa_key()
        self.pair_b = rsa_key()
        self.other = rsa_key()
        self.evil_rsa = rsa_key()
        self.evil_ec = ec_key()


@pytest.fixture(scope="module")
def keys():
    return Keys()


@pytest.fixture(scope="module")
def module_origin():
    from conftest import Origin
    o = Origin("origin-authn")
    yield o
    o.stop()


@pytest.fixture(scope="module")
def gw(make_module_gateway, module_origin, keys):
    """Routes: /tok (RS256, PS256, ES256, EdDSA; skew 30 s), /typed (typ at+jwt), /twins (a key
    set where two keys share a kid), /pair (two RSA keys, distinct kids), /multi (the main
    issuer and another, each with its own keys) and /hmac (HS256 with a configured secret)."""
    tmp = tempfile.mkdtemp(prefix="authn-tokens-")
    paths = {name: os.path.join(tmp, name + ".json")
             for name in ("main", "twins", "pair", "other")}
    write_jwks(paths["main"], [public_jwk(keys.rsa, "rsa1"), public_jwk(keys.ec, "ec1"),
                               public_jwk(keys.ed, "ed1")])
    write_jwks(paths["twins"], [public_jwk(keys.twin_a, "twin"), public_jwk(keys.twin_b, "twin")])
    write_jwks(paths["pair"], [public_jwk(keys.pair_a, "a"), public_jwk(keys.pair_b, "b")])
    write_jwks(paths["other"], [public_jwk(keys.other, "other1")])

    def provider(jwks, extra="", name="main", issuer=ISSUER):
        return """
- name: %s
  issuer: %s
  audiences: [%s]
  algorithms: [RS256, PS256, ES256, EdDSA]
  clockSkew: %ds
  localJWKS: {file: %s}
%s""" % (name, json.dumps(issuer), json.dumps(AUDIENCE), SKEW, jwks, extra)

    headers = """
claimToHeaders:
- {claim: sub, header: x-user-id}
- {claim: tenant, header: x-tenant}
- {claim: org.id, header: x-org-id}
realm: tokens
"""
    hmac_provider = """
- name: shared
  issuer: %s
  audiences: [%s]
  algorithms: [HS256]
  hmacSecretRef: {name: jwt-hmac}
""" % (json.dumps(ISSUER), json.dumps(AUDIENCE))
    policies = docs(
        authn_policy("tok", route_target("tok"), provider(paths["main"]), headers),
        authn_policy("typed", route_target("typed"), provider(paths["main"], "  typ: at+jwt"),
                     headers),
        authn_policy("twins", route_target("twins"), provider(paths["twins"]), headers),
        authn_policy("pair", route_target("pair"), provider(paths["pair"]), headers),
        authn_policy("multi", route_target("multi"),
                     provider(paths["main"]) + provider(paths["other"], name="other",
                                                        issuer=OTHER_ISSUER), headers),
        authn_policy("hmac", route_target("hmac"), hmac_provider, headers),
        hmac_secret("jwt-hmac", HMAC_SECRET),
        BIG_HEADERS)
    routes = docs(*(route(n, "/" + n) for n in ("tok", "typed", "twins", "pair", "multi",
                                                 "hmac")))
    return make_module_gateway(routes, {"origin": [module_origin.address]}, policies=policies)


def good(**extra):
    return claims(ISSUER, AUDIENCE, **extra)


def rs256(keys, payload, header=None):
    """A token signed by the issuer's RSA key under RS256, header and payload written as given
    (json_text), kid rsa1 unless the header says otherwise."""
    return compact(header or {"alg": "RS256", "typ": "JWT", "kid": "rsa1"}, payload, "RS256",
                   keys.rsa)


# --- genuine tokens ---

@pytest.mark.parametrize("alg, which, kid", [
    ("RS256", "rsa", "rsa1"), ("PS256", "rsa", "rsa1"), ("ES256", "ec", "ec1"),
    ("EdDSA", "ed", "ed1"), ("RS256", "rsa", None)],
    ids=["RS256", "PS256", "ES256", "EdDSA", "RS256-without-kid"])
def test_genuine_token_is_served_with_its_claims(gw, keys, alg, which, kid):
    token = mint(getattr(keys, which), alg,
                 good(sub="user-%s" % alg, tenant="blue", org={"id": 42}), kid=kid)
    doc = assert_served(gw, "/tok/x", token, sub="user-%s" % alg)
    assert header_values(doc, "x-tenant") == ["blue"]
    assert header_values(doc, "x-org-id") == ["42"]


def test_forwarded_claim_headers_replace_the_clients(gw, keys):
    token = mint(keys.rsa, "RS256", good(sub="alice", tenant="blue"), kid="rsa1")
    doc = assert_served(gw, "/tok/x", token, sub="alice",
                        headers={"X-User-Id": "admin", "X-TENANT": "red", "x-org-id": "1"})
    assert header_values(doc, "x-tenant") == ["blue"]
    # The token has no org.id: the client's value is dropped and nothing takes its place.
    assert header_values(doc, "x-org-id") == []


# --- the algorithm ---

@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", [b"", b"anything"], ids=["unsigned", "with-signature"])
def test_alg_none_in_any_case_refused(gw, keys, alg, signature):
    token = compact({"alg": alg, "typ": "JWT"}, good(), signature=signature)
    assert_refused(gw, "/tok/x", token, "alg_none", realm="tokens")


def test_alg_missing_refused(gw, keys):
    token = compact({"typ": "JWT", "kid": "rsa1"}, good(), "RS256", keys.rsa)
    assert_refused(gw, "/tok/x", token, "malformed")


def test_alg_not_listed_refused(gw, keys):
    token = mint(keys.rsa, "RS384", good(), kid="rsa1")
    assert_refused(gw, "/tok/x", token, "alg_not_allowed")


def public_key_bytes(key, form):
    pub = key.public_key()
    if form == "pem":
        return pub.public_bytes(serialization.Encoding.PEM,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
    if form == "pem-pkcs1":
        return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("form", ["pem", "pem-pkcs1", "der"])
@pytest.mark.parametrize("kid", ["rsa1", None], ids=["kid", "no-kid"])
def test_hs256_signed_with_the_rsa_public_key_refused(gw, keys, form, kid):
    """Algorithm confusion: the verifier must never use a public key as an HMAC secret."""
    header = {"alg": "HS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    token = compact(header, good(), "HS256", public_key_bytes(keys.rsa, form))
    assert_refused(gw, "/tok/x", token, "alg_not_allowed")


@pytest.mark.parametrize("form", ["pem", "der"])
def test_hs256_signed_with_the_rsa_public_key_refused_where_hs256_is_allowed(gw, keys, form):
    token = compact({"alg": "HS256", "typ": "JWT"}, good(), "HS256",
                    public_key_bytes(keys.rsa, form))
    assert_refused(gw, "/hmac/x", token, "bad_signature")


def test_hs256_with_the_configured_secret_served(gw, keys):
    token = compact({"alg": "HS256", "typ": "JWT"}, good(sub="hmac-user"), "HS256",
                    HMAC_SECRET.encode())
    assert_served(gw, "/hmac/x", token, sub="hmac-user")


# --- keys the token names itself ---

def self_signed(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.tokens.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


@pytest.mark.parametrize("member", ["jku", "x5u", "jwk"])
@pytest.mark.parametrize("kid", ["rsa1", None], ids=["kid", "no-kid"])
def test_key_location_headers_refused(gw, keys, member, kid):
    """RFC 8725 section 3.10: a token never chooses the key that verifies it."""
    value = {"jku": "https://evil.example/jwks.json", "x5u": "https://evil.example/cert.pem",
             "jwk": public_jwk(keys.evil_rsa)}[member]
    header = {"alg": "RS256", "typ": "JWT", member: value}
    if kid:
        header["kid"] = kid
    token = compact(header, good(), "RS256", keys.evil_rsa)
    assert_refused(gw, "/tok/x", token, "untrusted_key_header")


@pytest.mark.parametrize("kid", ["rsa1", None], ids=["kid", "no-kid"])
def test_x5c_with_the_attackers_certificate_refused(gw, keys, kid):
    """x5c is ignored: the configured key verifies, and the attacker's signature fails."""
    header = {"alg": "RS256", "typ": "JWT", "x5c": [self_signed(keys.evil_rsa)]}
    if kid:
        header["kid"] = kid
    token = compact(header, good(), "RS256", keys.evil_rsa)
    assert_refused(gw, "/tok/x", token, "bad_signature")


def test_signed_by_an_unknown_key_refused(gw, keys):
    token = mint(keys.evil_rsa, "RS256", good(), kid="rsa1")
    assert_refused(gw, "/tok/x", token, "bad_signature")


# --- kid ---

KID_TRICKS = {
    "path-traversal": "../../dev/null",
    "absolute-path": "/dev/null",
    "sql": "x' UNION SELECT 'secret' --",
    "url": "https://evil.example/jwks.json#rsa1",
    "empty": "",
    "long": "k" * 4000,
    "prefix": "rsa",
    "case": "RSA1",
}


@pytest.mark.parametrize("trick", sorted(KID_TRICKS))
def test_kid_tricks_refused(gw, keys, trick):
    """A kid is only ever compared byte for byte with the kids of the provider's set."""
    header = {"alg": "RS256", "typ": "JWT", "kid": KID_TRICKS[trick]}
    token = compact(header, good(), "RS256", keys.evil_rsa)
    assert_refused(gw, "/tok/x", token, "kid_unknown")


@pytest.mark.parametrize("trick, secret", [("path-traversal", b""), ("absolute-path", b""),
                                           ("sql", b"secret"), ("empty", b"")])
def test_kid_tricks_with_hmac_refused(gw, trick, secret):
    """The classic: a kid pointing at an empty file, or a row the attacker chose, as the key."""
    header = {"alg": "HS256", "typ": "JWT", "kid": KID_TRICKS[trick]}
    token = compact(header, good(), "HS256", secret)
    assert_refused(gw, "/hmac/x", token, "kid_unknown")


def test_kid_with_the_real_key_but_a_wrong_kid_refused(gw, keys):
    """Even the right signature is refused under a kid the set does not hold."""
    token = mint(keys.rsa, "RS256", good(), kid="../rsa1")
    assert_refused(gw, "/tok/x", token, "kid_unknown")


def test_kid_of_another_policys_provider_refused(gw, keys):
    token = mint(keys.twin_a, "RS256", good(), kid="twin")
    assert_refused(gw, "/tok/x", token, "kid_unknown")


def test_kid_of_the_other_provider_on_the_route_refused(gw, keys):
    """A token claiming the main issuer, signed by the other issuer's key under its kid."""
    token = mint(keys.other, "RS256", good(), kid="other1")
    assert_refused(gw, "/multi/x", token, "kid_unknown")
    forged = mint(keys.other, "RS256", good(), kid="rsa1")
    assert_refused(gw, "/multi/x", forged, "bad_signature")


def test_each_issuer_on_a_route_verified_with_its_own_keys(gw, keys):
    assert_served(gw, "/multi/x", mint(keys.rsa, "RS256", good(sub="main-user"), kid="rsa1"),
                  sub="main-user")
    other = claims(OTHER_ISSUER, AUDIENCE, sub="other-user")
    assert_served(gw, "/multi/x", mint(keys.other, "RS256", other, kid="other1"),
                  sub="other-user")


def test_kid_missing_when_the_provider_has_several_keys_refused(gw, keys):
    token = mint(keys.pair_a, "RS256", good())
    assert_refused(gw, "/pair/x", token, "kid_required")
    assert_served(gw, "/pair/x", mint(keys.pair_a, "RS256", good(sub="pair-user"), kid="a"),
                  sub="pair-user")


def test_kid_shared_by_two_keys_refused(gw, keys):
    token = mint(keys.twin_a, "RS256", good(), kid="twin")
    assert_refused(gw, "/twins/x", token, "kid_ambiguous")


def test_kid_of_a_key_that_cannot_verify_the_alg_refused(gw, keys):
    """ES256 under the RSA key's kid: the kid names a key, and that key must fit the alg."""
    token = mint(keys.ec, "ES256", good(), kid="rsa1")
    assert_refused(gw, "/tok/x", token, "key_alg_mismatch")


# --- ECDSA ---

def es256_with(keys, r=None, s=None):
    """An ES256 token under ec1 whose signature's r and/or s are replaced."""
    header = {"alg": "ES256", "typ": "JWT", "kid": "ec1"}
    signing_input = b64u(json_text(header)) + "." + b64u(json_text(good()))
    sig = sign_input("ES256", keys.ec, signing_input.encode())
    real_r, real_s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    r = real_r if r is None else r
    s = real_s if s is None else s
    return signing_input + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@pytest.mark.parametrize("r, s", [
    (0, 0), (P256_ORDER, P256_ORDER), (0, None), (None, 0), (P256_ORDER, None),
    (None, P256_ORDER)],
    ids=["r0-s0", "rn-sn", "r0", "s0", "rn", "sn"])
def test_ecdsa_values_out_of_range_refused(gw, keys, r, s):
    """r and s must lie in [1, n-1] (FIPS 186-4, section 6.4); r = s = 0 verifies every
    message under a verifier that forgets it."""
    assert_refused(gw, "/tok/x", es256_with(keys, r, s), "bad_signature")


def test_ecdsa_der_signature_refused(gw, keys):
    """RFC 7518 section 3.4: R || S, not the DER sequence OpenSSL produces."""
    header = {"alg": "ES256", "typ": "JWT", "kid": "ec1"}
    signing_input = b64u(json_text(header)) + "." + b64u(json_text(good()))
    der = keys.ec.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    assert_refused(gw, "/tok/x", signing_input + "." + b64u(der), "bad_signature")


def test_ecdsa_real_signature_of_the_same_token_served(gw, keys):
    """The control for the cases above: es256_with changing nothing is a good token."""
    assert_served(gw, "/tok/x", es256_with(keys))


# --- time ---

def test_expiry_one_second_past_the_skew_refused_and_within_it_served(gw, keys):
    now = start_of_second()
    inside = mint(keys.rsa, "RS256", good(sub="still-valid", iat=now - 600,
                                          exp=now - SKEW + 1), kid="rsa1")
    outside = mint(keys.rsa, "RS256", good(iat=now - 600, exp=now - SKEW - 1), kid="rsa1")
    assert_served(gw, "/tok/x", inside, sub="still-valid")
    assert_refused(gw, "/tok/x", outside, "expired")


def test_not_before_one_second_past_the_skew_refused_and_within_it_served(gw, keys):
    now = start_of_second()
    inside = mint(keys.rsa, "RS256", good(sub="nearly-valid", nbf=now + SKEW - 1), kid="rsa1")
    outside = mint(keys.rsa, "RS256", good(nbf=now + SKEW + 1), kid="rsa1")
    assert_served(gw, "/tok/x", inside, sub="nearly-valid")
    assert_refused(gw, "/tok/x", outside, "not_yet_valid")


def test_issued_in_the_future_past_the_skew_refused(gw, keys):
    now = start_of_second()
    assert_refused(gw, "/tok/x", mint(keys.rsa, "RS256", good(iat=now + SKEW + 1), kid="rsa1"),
                   "iat_in_future")


@pytest.mark.parametrize("claim, value, reason", [
    ("exp", None, "missing_claim"),
    ("exp", "never", "bad_claim"),
    ("nbf", "now", "bad_claim"),
])
def test_time_claims_required_and_numeric(gw, keys, claim, value, reason):
    token = rs256(keys, good(**{claim: value}))
    assert_refused(gw, "/tok/x", token, reason)


# --- iss, aud, typ ---

@pytest.mark.parametrize("iss", ["https://evil.example", ISSUER + "/", ISSUER.upper(), None],
                         ids=["other", "trailing-slash", "case", "missing"])
def test_wrong_issuer_refused(gw, keys, iss):
    token = mint(keys.rsa, "RS256", claims(iss, AUDIENCE), kid="rsa1")
    assert_refused(gw, "/tok/x", token, "missing_claim" if iss is None else "wrong_issuer")


def test_issuer_no_provider_on_a_multi_provider_route_names_refused(gw, keys):
    token = mint(keys.rsa, "RS256", claims("https://evil.example", AUDIENCE), kid="rsa1")
    assert_refused(gw, "/multi/x", token, "wrong_issuer")


@pytest.mark.parametrize("aud", ["api://other", [], ["api://other", "api://more"], None],
                         ids=["other", "empty-list", "list-without-ours", "missing"])
def test_wrong_audience_refused(gw, keys, aud):
    token = mint(keys.rsa, "RS256", claims(ISSUER, aud), kid="rsa1")
    assert_refused(gw, "/tok/x", token, "wrong_audience")


def test_audience_list_holding_ours_served(gw, keys):
    token = mint(keys.rsa, "RS256", claims(ISSUER, ["api://other", AUDIENCE], sub="aud-user"),
                 kid="rsa1")
    assert_served(gw, "/tok/x", token, sub="aud-user")


@pytest.mark.parametrize("typ", ["JWT", None, "dpop+jwt", "at+jwt+extra"],
                         ids=["JWT", "absent", "dpop", "suffix"])
def test_wrong_typ_refused_where_at_jwt_is_required(gw, keys, typ):
    header = {"alg": "RS256", "kid": "rsa1"}
    if typ is not None:
        header["typ"] = typ
    assert_refused(gw, "/typed/x", rs256(keys, good(), header), "wrong_typ")


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_at_jwt_served_where_required(gw, keys, typ):
    header = {"alg": "RS256", "kid": "rsa1", "typ": typ}
    assert_served(gw, "/typed/x", rs256(keys, good(sub="typed-user"), header), sub="typed-user")


@pytest.mark.parametrize("typ", ["dpop+jwt", "logout+jwt", "secevent+jwt"])
def test_tokens_of_other_protocols_refused_by_default(gw, keys, typ):
    """RFC 8725 section 3.11: explicitly typed JWTs of other kinds are not access tokens."""
    header = {"alg": "RS256", "kid": "rsa1", "typ": typ}
    assert_refused(gw, "/tok/x", rs256(keys, good(), header), "wrong_typ")


# --- duplicate members ---

def test_duplicate_claim_refused(gw, keys):
    """Parsers disagree on which of two "sub" wins; the gateway accepts neither."""
    body = json.dumps(good(sub="user-1"))[:-1] + ', "sub": "admin"}'
    assert_refused(gw, "/tok/x", rs256(keys, body), "duplicate_key")


def test_duplicate_nested_claim_refused(gw, keys):
    body = json.dumps(good())[:-1] + ', "org": {"id": 1, "id": 2}}'
    assert_refused(gw, "/tok/x", rs256(keys, body), "duplicate_key")


@pytest.mark.parametrize("header", [
    '{"alg":"RS256","typ":"JWT","kid":"rsa1","kid":"ec1"}',
    '{"alg":"none","typ":"JWT","kid":"rsa1","alg":"RS256"}',
    '{"alg":"RS256","typ":"JWT","typ":"at+jwt","kid":"rsa1"}',
], ids=["kid", "alg", "typ"])
def test_duplicate_header_member_refused(gw, keys, header):
    assert_refused(gw, "/tok/x", rs256(keys, good(), header), "duplicate_key")


# --- size ---

def token_of_length(keys, length):
    """A genuine RS256 token exactly length bytes long (a filler claim and a header member
    adjusted until the base64url segments add up)."""
    for pad in range(4):
        header = {"alg": "RS256", "typ": "JWT", "kid": "rsa1", "x": "p" * pad}
        base = good(sub="big-user", filler="")
        fixed = len(compact(header, base, "RS256", keys.rsa))
        guess = max(0, (length - fixed) * 3 // 4 - 4)
        for n in range(guess, guess + 12):
            base["filler"] = "f" * n
            token = compact(header, base, "RS256", keys.rsa)
            if len(token) == length:
                return token
    raise AssertionError("no token of %d bytes" % length)


def test_token_at_the_size_limit_served(gw, keys):
    token = token_of_length(keys, MAX_TOKEN_BYTES)
    assert len(token) == MAX_TOKEN_BYTES
    assert_served(gw, "/tok/x", token, sub="big-user")


def test_token_one_byte_over_the_limit_refused(gw, keys):
    assert_refused(gw, "/tok/x", token_of_length(keys, MAX_TOKEN_BYTES + 1), "token_too_large")


def test_token_of_64_kib_refused(gw, keys):
    token = token_of_length(keys, 64 * 1024)
    assert_refused(gw, "/tok/x", token, "token_too_large")


# --- encoding ---

def with_padding(segment):
    """A base64url segment with the "=" padding RFC 7515 section 2 leaves out (at least one)."""
    return segment + "=" * (-len(segment) % 4 or 1)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["header", "payload", "signature"])
def test_padded_base64_refused(gw, keys, which):
    parts = mint(keys.rsa, "RS256", good(), kid="rsa1").split(".")
    parts[which] = with_padding(parts[which])
    assert_refused(gw, "/tok/x", ".".join(parts), "bad_base64")


def standard_alphabet_token(keys):
    """A genuine token whose signature segment holds "-" or "_", re-encoded with "+" and "/"."""
    for _ in range(64):
        parts = mint(keys.rsa, "RS256", good(), kid="rsa1").split(".")
        if "-" in parts[2] and "_" in parts[2]:
            parts[2] = parts[2].replace("-", "+").replace("_", "/")
            return ".".join(parts)
    raise AssertionError("no signature with both '-' and '_'")


def test_standard_base64_alphabet_refused(gw, keys):
    token = standard_alphabet_token(keys)
    assert "+" in token and "/" in token
    assert_refused(gw, "/tok/x", token, "bad_base64")


def test_whitespace_inside_a_segment_refused(gw, keys):
    parts = mint(keys.rsa, "RS256", good(), kid="rsa1").split(".")
    parts[1] = parts[1][:10] + " " + parts[1][10:]
    assert_refused(gw, "/tok/x", ".".join(parts), "malformed")


def test_kid_with_a_nul_refused(gw, keys):
    """A kid "rsa1\\u0000" must not be cut short to "rsa1": JSON with NUL is not read."""
    header = '{"alg":"RS256","typ":"JWT","kid":"rsa1\\u0000"}'
    assert_refused(gw, "/tok/x", rs256(keys, good(), header), "bad_json")


# --- crit ---

@pytest.mark.parametrize("crit", [["exp"], ["b64"], [], "exp"],
                         ids=["registered", "b64", "empty", "not-a-list"])
def test_crit_refused(gw, keys, crit):
    """RFC 7515 section 4.1.11: no extension is understood, so none can be critical."""
    header = {"alg": "RS256", "typ": "JWT", "kid": "rsa1", "crit": crit, "b64": True}
    assert_refused(gw, "/tok/x", rs256(keys, good(), header), "crit")


# --- framing ---

def test_empty_segments_refused(gw, keys):
    header = b64u(json_text({"alg": "RS256", "typ": "JWT", "kid": "rsa1"}))
    payload = b64u(json_text(good()))
    good_sig = b64u(sign_input("RS256", keys.rsa, (header + "." + payload).encode()))
    empty_payload_sig = b64u(sign_input("RS256", keys.rsa, (header + ".").encode()))
    assert_refused(gw, "/tok/x", "..", "bad_json")
    assert_refused(gw, "/tok/x", "." + payload + "." + good_sig, "bad_json")
    assert_refused(gw, "/tok/x", header + "." + payload + ".", "bad_signature")
    # Signed by the issuer's own key, and still no claims to check.
    assert_refused(gw, "/tok/x", header + ".." + empty_payload_sig, "bad_json")


@pytest.mark.parametrize("extra", [".", ".x", ".x.y", "." + b64u(b"{}")],
                         ids=["trailing-dot", "four", "five", "four-json"])
def test_extra_segments_refused(gw, keys, extra):
    token = mint(keys.rsa, "RS256", good(), kid="rsa1") + extra
    assert_refused(gw, "/tok/x", token, "malformed")


def test_two_segments_refused(gw, keys):
    """A JWT without its signature part is not a JWT: no provider or introspection takes it."""
    header, payload, _ = mint(keys.rsa, "RS256", good(), kid="rsa1").split(".")
    assert_refused(gw, "/tok/x", header + "." + payload, "malformed")


@pytest.mark.parametrize("payload", [b"not json", b"{\"sub\": \"user-1\"", b"\xff\xfe{}",
                                     b'{"sub": "user-1\\u0000admin"}'],
                         ids=["text", "truncated", "not-utf8", "nul-in-string"])
def test_payload_not_json_refused(gw, keys, payload):
    assert_refused(gw, "/tok/x", rs256(keys, payload), "bad_json")


@pytest.mark.parametrize("payload", [b"[]", b'"user-1"', b"42", b"null", b"true"])
def test_payload_json_not_an_object_refused(gw, keys, payload):
    assert_refused(gw, "/tok/x", rs256(keys, payload), "bad_json")


@pytest.mark.parametrize("header", [b"RS256", b'["RS256"]', b'"RS256"', b"{", b"null"])
def test_header_not_a_json_object_refused(gw, keys, header):
    assert_refused(gw, "/tok/x", rs256(keys, good(), header), "bad_json")


@pytest.mark.parametrize("header", [
    {"alg": ["RS256"], "typ": "JWT", "kid": "rsa1"},
    {"alg": "RS256", "typ": "JWT", "kid": 1},
    {"alg": "RS256", "typ": ["JWT"], "kid": "rsa1"},
], ids=["alg", "kid", "typ"])
def test_header_member_of_the_wrong_type_refused(gw, keys, header):
    assert_refused(gw, "/tok/x", rs256(keys, good(), header), "malformed")


def test_token_with_characters_no_token_has_refused(gw, keys):
    token = mint(keys.rsa, "RS256", good(), kid="rsa1")
    assert_refused(gw, "/tok/x", token[:20] + "!" + token[20:], "malformed")


# --- what the gateway says, and what it never writes down ---

def test_missing_token_challenged_without_an_error(gw):
    code, hdrs, _ = call(gw, "/tok/x")
    assert code == 401
    assert hdrs["www-authenticate"] == 'Bearer realm="tokens"'
    assert access_line(gw, hdrs["x-request-id"])["reason"] == "missing_token"


def test_refusals_are_counted_by_reason(gw, keys):
    from test_lifecycle import metric
    name = "portcullis_authn_failures_total"
    before = metric(gw, name, 'reason="alg_none"') or 0
    assert_refused(gw, "/tok/x", compact({"alg": "none"}, good()), "alg_none")
    assert metric(gw, name, 'reason="alg_none"') == before + 1


def test_no_token_reaches_the_logs(gw, keys):
    """Run last: nothing the module sent as a token appears in stderr or the access log."""
    assert_served(gw, "/tok/x", mint(keys.rsa, "RS256", good(), kid="rsa1"))
    with open(gw.access_path) as f:
        text = gw.log() + f.read()
    signatures = {t.rsplit(".", 1)[-1] for t in SENT_TOKENS}
    leaked = [s for s in signatures if len(s) >= 16 and s in text]
    assert leaked == []
