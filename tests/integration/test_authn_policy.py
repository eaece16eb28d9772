"""AuthenticationPolicy behaviour through the real binary: which provider a token goes to, where
the token is read, which policy covers a rule (route over listener over Gateway), optional
authentication, claims forwarded as headers, scope and claim requirements, HMAC providers,
SPIFFE JWT-SVIDs, the verified-token cache (told apart through /metrics, not timing) and a
reload that changes the policy.

Tokens and configuration documents come from test_authn_tokens.py. The gateways that most
tests share run one worker, so that the per-worker token cache and its counters can be read
exactly; the reload test starts its own.
"""

import base64
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from client import header_values, read_response
from conftest import binary, free_port
from test_authn_tokens import (access_line, assert_challenge, assert_refused, assert_served,
                               authn_policy, call, claims, compact, docs, ec_key, hmac_secret,
                               mint, public_jwk, route, route_target, rsa_key, write_jwks)
from test_lifecycle import metric, wait_for

AUD = "api://policy"
ISS_A = "https://a.policy.test"
ISS_B = "https://b.policy.test"
HMAC_SECRET = "a shared secret that is longer than thirty-two bytes"
TRUST_DOMAIN = "example.org"
SVID_AUD = "spiffe://example.org/gateway"

FORWARD = """
claimToHeaders:
- {claim: sub, header: x-user-id}
realm: policy
"""


class Keys:
    def __init__(self):
        self.a = rsa_key()
        self.b = ec_key()
        self.svid = ec_key()
        self.evil = ec_key()


@pytest.fixture(scope="module")
def keys():
    return Keys()


@pytest.fixture(scope="module")
def module_origin():
    from conftest import Origin
    o = Origin("origin-policy")
    yield o
    o.stop()


def provider(name, issuer, jwks, algorithms="[RS256, ES256]", audience=AUD, extra=""):
    return """
- name: %s
  issuer: %s
  audiences: [%s]
  algorithms: %s
  localJWKS: {file: %s}
%s""" % (name, json.dumps(issuer), json.dumps(audience), algorithms, jwks, extra)


def spiffe_bundle_doc(name, path):
    return """
apiVersion: portcullis.dev/v1alpha1
kind: TrustBundle
metadata:
  name: %s
spec:
  trustDomain: %s
  format: SPIFFE
  file: %s
""" % (name, TRUST_DOMAIN, path)


ROUTES = ("multi", "bearer", "header", "cookie", "optional", "scopes-all", "scopes-any",
          "claims", "hmac", "svid", "cached", "uncached")


@pytest.fixture(scope="module")
def pgw(make_module_gateway, module_origin, keys):
    tmp = tempfile.mkdtemp(prefix="authn-policy-")
    jwks_a = os.path.join(tmp, "a.json")
    jwks_b = os.path.join(tmp, "b.json")
    write_jwks(jwks_a, [public_jwk(keys.a, "a1")])
    write_jwks(jwks_b, [public_jwk(keys.b, "b1")])
    bundle = os.path.join(tmp, "example.org.json")
    with open(bundle, "w") as f:
        json.dump({"keys": [public_jwk(keys.svid, "svid1", use="jwt-svid")],
                   "spiffe_refresh_hint": 300}, f)

    a = provider("a", ISS_A, jwks_a)
    policies = [
        authn_policy("multi", route_target("multi"),
                     a + provider("b", ISS_B, jwks_b, audience="api://b"), FORWARD),
        authn_policy("bearer", route_target("bearer"), a, FORWARD),
        authn_policy("header", route_target("header"), a, FORWARD + """
tokenLocation:
  header: {name: X-Api-Token, prefix: "Token "}
"""),
        authn_policy("cookie", route_target("cookie"), a, FORWARD + """
tokenLocation:
  cookie: {name: session}
"""),
        authn_policy("optional", route_target("optional"), a, FORWARD + "optional: true\n"),
        authn_policy("scopes-all", route_target("scopes-all"), a, FORWARD + """
require:
  scopes: {allOf: ["orders:read", "orders:write"]}
"""),
        authn_policy("scopes-any", route_target("scopes-any"), a, FORWARD + """
require:
  scopes: {allOf: ["orders:read"], anyOf: [admin, support]}
"""),
        authn_policy("claims", route_target("claims"),
                     provider("a", ISS_A, jwks_a, extra="""  requiredClaims:
  - {name: tenant, values: [blue, green]}
"""), FORWARD + """
require:
  claims:
    allOf:
    - {name: email_verified, values: ["true"]}
    - {name: realm_access.roles, values: [ops]}
    anyOf:
    - {name: "https://example.com/vip"}
    - {name: level, values: ["42"]}
    - {name: tier, values: [gold]}
"""),
        authn_policy("hmac", route_target("hmac"), """
- name: shared
  issuer: %s
  audiences: [%s]
  algorithms: [HS256]
  hmacSecretRef: {name: jwt-hmac}
""" % (json.dumps(ISS_A), json.dumps(AUD)), FORWARD),
        authn_policy("svid", route_target("svid"), """
- name: mesh
  audiences: [%s]
  spiffe:
    trustDomain: %s
    bundleRef: {name: example-org}
""" % (json.dumps(SVID_AUD), TRUST_DOMAIN), FORWARD),
        authn_policy("cached", route_target("cached"),
                     provider("a", ISS_A, jwks_a, extra="  clockSkew: 0s\n"), FORWARD),
        authn_policy("uncached", route_target("uncached"),
                     provider("a", ISS_A, jwks_a, extra="  cacheTTL: 0s\n"), FORWARD),
        hmac_secret("jwt-hmac", HMAC_SECRET),
        spiffe_bundle_doc("example-org", bundle),
    ]
    routes = docs(*(route(n, "/" + n) for n in ROUTES))
    return make_module_gateway(routes, {"origin": [module_origin.address]}, workers=1,
                               policies=docs(*policies))


def token_a(keys, **extra):
    return mint(keys.a, "RS256", claims(ISS_A, AUD, **extra), kid="a1")


def token_b(keys, audience="api://b", **extra):
    return mint(keys.b, "ES256", claims(ISS_B, audience, **extra), kid="b1")


# --- several providers on one route ---

def test_provider_chosen_by_iss(pgw, keys):
    assert_served(pgw, "/multi/x", token_a(keys, sub="from-a"), sub="from-a")
    assert_served(pgw, "/multi/x", token_b(keys, sub="from-b"), sub="from-b")


def test_each_provider_applies_its_own_settings(pgw, keys):
    """B's audience is not A's: a token of B for A's audience is refused, and the reverse."""
    assert_refused(pgw, "/multi/x", token_b(keys, audience=AUD), "wrong_audience")
    assert_refused(pgw, "/multi/x", mint(keys.a, "RS256", claims(ISS_A, "api://b"), kid="a1"),
                   "wrong_audience")


def test_token_of_one_issuer_signed_by_the_others_key_refused(pgw, keys):
    forged = mint(keys.a, "RS256", claims(ISS_B, "api://b"), kid="a1")
    assert_refused(pgw, "/multi/x", forged, "kid_unknown")


@pytest.mark.parametrize("iss", ["https://c.policy.test", None], ids=["unknown", "missing"])
def test_issuer_that_names_no_provider_refused(pgw, keys, iss):
    token = mint(keys.a, "RS256", claims(iss, AUD), kid="a1")
    assert_refused(pgw, "/multi/x", token, "wrong_issuer")


# --- where the token is read ---

@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_authorization_scheme_is_case_insensitive(pgw, keys, scheme):
    assert_served(pgw, "/bearer/x", token_a(keys, sub="cased"), sub="cased", scheme=scheme)


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc.def.ghi"],
                         ids=["basic", "no-token", "other-scheme"])
def test_authorization_without_a_bearer_token_is_a_missing_token(pgw, value):
    code, hdrs, _ = call(pgw, "/bearer/x", headers={"Authorization": value})
    assert code == 401
    assert hdrs["www-authenticate"] == 'Bearer realm="policy"'
    assert access_line(pgw, hdrs["x-request-id"])["reason"] == "missing_token"


def raw_request(port, head):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode())
        status, hdrs, body, _ = read_response(s)
    return status, hdrs, body


def test_two_authorization_fields_refused(pgw, keys):
    """Which of two credentials counts is not for the gateway to guess."""
    token = token_a(keys)
    status, hdrs, _ = raw_request(pgw.port, "GET /bearer/x HTTP/1.1\r\nHost: example.com\r\n"
                                  "Authorization: Bearer %s\r\nAuthorization: Bearer %s\r\n"
                                  "Connection: close\r\n\r\n" % (token, token))
    assert status == 401
    assert_challenge(hdrs["www-authenticate"], "invalid_token", realm="policy")
    assert access_line(pgw, hdrs["x-request-id"])["reason"] == "malformed"


@pytest.mark.parametrize("prefix", ["Token ", "token ", "TOKEN "])
def test_token_from_a_named_header_with_a_prefix(pgw, keys, prefix):
    token = token_a(keys, sub="from-header")
    assert_served(pgw, "/header/x", None, sub="from-header",
                  headers={"X-Api-Token": prefix + token})


def test_named_header_ignores_authorization_and_needs_its_prefix(pgw, keys):
    token = token_a(keys)
    for headers in ({"Authorization": "Bearer " + token}, {"X-Api-Token": token},
                    {"X-Api-Token": "Bearer " + token}):
        code, hdrs, _ = call(pgw, "/header/x", headers=headers)
        assert code == 401, headers
        assert access_line(pgw, hdrs["x-request-id"])["reason"] == "missing_token"


def test_named_header_with_a_bad_token_refused(pgw, keys):
    forged = mint(keys.evil, "ES256", claims(ISS_A, AUD), kid="a1")
    assert_refused(pgw, "/header/x", None, "key_alg_mismatch",
                   headers={"X-Api-Token": "Token " + forged}, realm="policy")


@pytest.mark.parametrize("cookie", ["session=%s", "theme=dark; session=%s; lang=en",
                                    "theme=dark;session=%s"],
                         ids=["alone", "among-others", "no-space"])
def test_token_from_a_cookie(pgw, keys, cookie):
    token = token_a(keys, sub="from-cookie")
    assert_served(pgw, "/cookie/x", None, sub="from-cookie", headers={"Cookie": cookie % token})


def test_cookie_location_ignores_other_cookies_and_authorization(pgw, keys):
    token = token_a(keys)
    for headers in ({"Authorization": "Bearer " + token}, {"Cookie": "xsession=" + token},
                    {"Cookie": "sessions=" + token}, {"Cookie": "Session=" + token}):
        code, hdrs, _ = call(pgw, "/cookie/x", headers=headers)
        assert code == 401, headers
        assert access_line(pgw, hdrs["x-request-id"])["reason"] == "missing_token"


def test_cookie_with_a_bad_token_refused(pgw, keys):
    expired = mint(keys.a, "RS256", claims(ISS_A, AUD, lifetime=-3600), kid="a1")
    assert_refused(pgw, "/cookie/x", None, "expired", headers={"Cookie": "session=" + expired})


# --- optional authentication ---

def test_optional_without_a_token_served_anonymously(pgw):
    code, hdrs, doc = call(pgw, "/optional/x", headers={"X-User-Id": "admin"})
    assert code == 200
    # The identity header is the gateway's to set: an anonymous caller cannot set it either.
    assert header_values(doc, "x-user-id") == []
    rec = access_line(pgw, hdrs["x-request-id"])
    assert "subject" not in rec and "reason" not in rec


def test_optional_with_a_good_token_served_with_its_identity(pgw, keys):
    assert_served(pgw, "/optional/x", token_a(keys, sub="known"), sub="known",
                  headers={"x-user-id": "admin"})


def test_optional_with_a_bad_token_still_refused(pgw, keys):
    forged = compact({"alg": "none"}, claims(ISS_A, AUD))
    assert_refused(pgw, "/optional/x", forged, "alg_none", realm="policy")
    expired = mint(keys.a, "RS256", claims(ISS_A, AUD, lifetime=-3600), kid="a1")
    assert_refused(pgw, "/optional/x", expired, "expired")


def test_optional_with_an_unusable_authorization_is_anonymous(pgw):
    """A credential of another scheme is no token: the caller stays anonymous."""
    code, hdrs, doc = call(pgw, "/optional/x", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert code == 200
    assert "subject" not in access_line(pgw, hdrs["x-request-id"])


# --- claims to headers ---

@pytest.mark.parametrize("name", ["X-User-Id", "x-user-id", "X-USER-ID"])
def test_client_identity_header_replaced_by_the_claim(pgw, keys, name):
    doc = assert_served(pgw, "/bearer/x", token_a(keys, sub="real-user"), sub="real-user",
                        headers={name: "admin"})
    assert [v for k, v in doc["headers"] if k.lower() == "x-user-id"] == ["real-user"]


def test_identity_header_absent_when_the_claim_is(pgw, keys):
    """No sub in the token: the client's header is still dropped, and none takes its place."""
    token = mint(keys.a, "RS256", claims(ISS_A, AUD, sub=None), kid="a1")
    code, hdrs, doc = call(pgw, "/bearer/x", token, headers={"X-User-Id": "admin"})
    assert code == 200
    assert header_values(doc, "x-user-id") == []


def test_claim_that_would_split_the_header_is_not_forwarded(pgw, keys):
    """A claim value with a line break never becomes a header of its own upstream."""
    token = token_a(keys, sub="evil\r\nX-Injected: yes")
    code, hdrs, doc = call(pgw, "/bearer/x", token, headers={"X-User-Id": "admin"})
    assert code == 200
    assert header_values(doc, "x-user-id") == []
    assert header_values(doc, "x-injected") == []


# --- scopes ---

@pytest.mark.parametrize("grant", [
    {"scope": "orders:read orders:write"},
    {"scope": "orders:write  orders:read profile"},
    {"scp": "orders:read orders:write"},
    {"scp": ["orders:read", "orders:write"]},
    {"scope": "orders:read", "scp": ["orders:write"]},
], ids=["scope", "scope-extra-spaces", "scp-string", "scp-array", "scope-and-scp"])
def test_all_of_scopes_granted(pgw, keys, grant):
    assert_served(pgw, "/scopes-all/x", token_a(keys, sub="scoped", **grant), sub="scoped")


@pytest.mark.parametrize("grant", [
    {"scope": "orders:read"},
    {"scp": ["orders:write"]},
    {"scope": "orders:read orders:writer"},
    {"scope": "orders:read,orders:write"},
    {"scp": ["orders:read orders:write"]},
    {},
], ids=["one-of-two", "other-one", "longer-name", "comma", "array-element-with-space", "none"])
def test_all_of_scopes_missing_one_forbidden(pgw, keys, grant):
    params = assert_refused(pgw, "/scopes-all/x", token_a(keys, **grant), "insufficient_scope",
                            status=403, error="insufficient_scope", realm="policy")
    # RFC 6750 section 3: the scope a token needs to be accepted, all of it.
    assert sorted(params["scope"].split(" ")) == ["orders:read", "orders:write"]


@pytest.mark.parametrize("grant", [
    {"scope": "orders:read support"},
    {"scp": ["orders:read", "admin"]},
    {"scope": "admin orders:read support"},
], ids=["support", "admin", "both"])
def test_any_of_scopes_granted(pgw, keys, grant):
    assert_served(pgw, "/scopes-any/x", token_a(keys, sub="any", **grant), sub="any")


@pytest.mark.parametrize("grant", [
    {"scope": "orders:read"},
    {"scope": "orders:read supporter"},
    {"scope": "admin support"},
], ids=["none-of-any", "near-name", "all-of-missing"])
def test_any_of_scopes_missing_forbidden(pgw, keys, grant):
    params = assert_refused(pgw, "/scopes-any/x", token_a(keys, **grant), "insufficient_scope",
                            status=403, error="insufficient_scope")
    needed = set(params["scope"].split(" "))
    # Every allOf scope, and one of the anyOf ones: a scope that would be accepted.
    assert "orders:read" in needed
    assert len(needed & {"admin", "support"}) == 1, needed


def test_insufficient_scope_is_counted(pgw, keys):
    name = "portcullis_authn_failures_total"
    before = metric(pgw, name, 'reason="insufficient_scope"') or 0
    assert_refused(pgw, "/scopes-all/x", token_a(keys), "insufficient_scope", status=403,
                   error="insufficient_scope")
    assert metric(pgw, name, 'reason="insufficient_scope"') == before + 1


# --- claims ---

def token_without(keys, missing, **over):
    """A token meeting every requirement of /claims, with over changed and missing removed."""
    doc = {"tenant": "blue", "email_verified": True, "realm_access": {"roles": ["dev", "ops"]},
           "https://example.com/vip": "yes"}
    doc.update(over)
    for k in missing:
        doc.pop(k, None)
    payload = claims(ISS_A, AUD, sub="claimed")
    payload.update(doc)  # a None here is sent as JSON null
    return mint(keys.a, "RS256", payload, kid="a1")


def assert_forbidden_claims(pgw, token):
    code, hdrs, _ = call(pgw, "/claims/x", token)
    assert code == 403
    assert "www-authenticate" not in hdrs
    assert access_line(pgw, hdrs["x-request-id"])["reason"] == "insufficient_claims"


VIP = "https://example.com/vip"


@pytest.mark.parametrize("over, missing", [
    ({}, []),
    ({"email_verified": "true"}, []),
    ({"realm_access": {"roles": "ops"}}, []),
    ({"realm_access": {"roles": ["ops"], "other": 1}}, []),
    ({"level": 42}, [VIP]),
    ({"level": "42"}, [VIP]),
    ({"tier": "gold"}, [VIP]),
    ({"tier": ["silver", "gold"]}, [VIP]),
    ({VIP: False}, []),
    ({"tenant": "green"}, []),
], ids=["all", "bool-as-string", "role-string", "nested-extra", "int", "int-as-string", "string",
        "array", "vip-false-is-present", "other-tenant"])
def test_claim_requirements_met(pgw, keys, over, missing):
    assert_served(pgw, "/claims/x", token_without(keys, missing, **over), sub="claimed")


@pytest.mark.parametrize("over, missing", [
    ({"email_verified": False}, []),
    ({}, ["email_verified"]),
    ({"realm_access": {"roles": ["dev"]}}, []),
    ({"realm_access": ["ops"]}, []),
    ({"roles": ["ops"]}, ["realm_access"]),
    ({}, [VIP]),
    ({"tier": "silver"}, [VIP]),
    ({"level": 41}, [VIP]),
    ({"level": 420}, [VIP]),
    ({"tier": 0}, [VIP]),
    ({"tier": True}, [VIP]),
    ({VIP: None}, []),
    ({"level": "42abc"}, [VIP]),
], ids=["false", "absent", "role-missing", "parent-not-object", "top-level-roles", "no-any",
        "any-wrong-string", "any-wrong-int", "any-longer-int", "zero-is-not-gold",
        "true-is-not-gold", "null-is-absent", "text-after-number"])
def test_claim_requirements_not_met_forbidden(pgw, keys, over, missing):
    assert_forbidden_claims(pgw, token_without(keys, missing, **over))


@pytest.mark.parametrize("tenant, reason", [("red", "claim_mismatch"), (None, "missing_claim")])
def test_provider_required_claims_refuse_the_token(pgw, keys, tenant, reason):
    token = token_without(keys, ["tenant"] if tenant is None else [],
                          **({"tenant": tenant} if tenant else {}))
    assert_refused(pgw, "/claims/x", token, reason)


# --- HMAC ---

def hs256(secret, **extra):
    return compact({"alg": "HS256", "typ": "JWT"}, claims(ISS_A, AUD, **extra), "HS256",
                   secret.encode())


def test_hs256_with_the_configured_secret_served(pgw):
    assert_served(pgw, "/hmac/x", hs256(HMAC_SECRET, sub="hmac-user"), sub="hmac-user")


def test_hs256_with_another_secret_refused(pgw):
    assert_refused(pgw, "/hmac/x", hs256("not the secret, but as long as it is"), "bad_signature")


def test_public_key_tokens_refused_by_an_hmac_provider(pgw, keys):
    assert_refused(pgw, "/hmac/x", token_a(keys), "alg_not_allowed")


def test_hs256_refused_by_a_public_key_provider(pgw):
    assert_refused(pgw, "/bearer/x", hs256(HMAC_SECRET), "alg_not_allowed")


def validate(tmp_path, text):
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return subprocess.run([binary(), "validate", "-c", str(path)], capture_output=True,
                          text=True, timeout=30)


def hmac_config(tmp_path, provider_text, secret=None):
    from conftest import gateway_config
    jwks = tmp_path / "keys.json"
    write_jwks(str(jwks), [public_jwk(rsa_key(), "k1")])
    policies = authn_policy("p", route_target("r"), provider_text.replace("@JWKS@", str(jwks)))
    if secret is not None:
        policies = docs(policies, hmac_secret("short", secret))
    return gateway_config(free_port(), free_port(), route("r", "/"), {"origin": ["127.0.0.1:9"]},
                          policies=policies)


def test_hs256_without_a_secret_refused_by_the_configuration(tmp_path):
    proc = validate(tmp_path, hmac_config(tmp_path, """
- name: p
  issuer: https://a.policy.test
  algorithms: [RS256, HS256]
  localJWKS: {file: "@JWKS@"}
"""))
    assert proc.returncode == 1, proc.stdout
    assert "algorithms[1]: algorithm HS256 needs hmacSecretRef" in proc.stderr, proc.stderr


def test_hmac_secret_shorter_than_the_hash_refused_by_the_configuration(tmp_path):
    proc = validate(tmp_path, hmac_config(tmp_path, """
- name: p
  issuer: https://a.policy.test
  algorithms: [HS256]
  hmacSecretRef: {name: short}
""", secret="sixteen bytes!!!"))
    assert proc.returncode == 1, proc.stdout
    assert "hmacSecretRef" in proc.stderr and HMAC_SECRET not in proc.stderr, proc.stderr
    assert "sixteen bytes" not in proc.stderr


# --- SPIFFE JWT-SVIDs ---

def svid(keys, sub="spiffe://example.org/ns/web/sa/frontend", aud=SVID_AUD, key=None,
         kid="svid1", typ="JWT", **extra):
    payload = claims(None, aud, sub=sub, **extra)
    header = {"alg": "ES256", "kid": kid}
    if typ:
        header["typ"] = typ
    return compact(header, payload, "ES256", key or keys.svid)


@pytest.mark.parametrize("typ", ["JWT", "JOSE", None], ids=["JWT", "JOSE", "absent"])
def test_jwt_svid_served(pgw, keys, typ):
    sub = "spiffe://example.org/ns/web/sa/frontend"
    assert_served(pgw, "/svid/x", svid(keys, typ=typ), sub=sub)


def test_jwt_svid_with_an_audience_list_served(pgw, keys):
    sub = "spiffe://example.org/billing"
    assert_served(pgw, "/svid/x", svid(keys, sub=sub, aud=["spiffe://other", SVID_AUD]),
                  sub=sub)


@pytest.mark.parametrize("sub", [
    "spiffe://other.org/ns/web", "spiffe://example.org", "spiffe://example.org/",
    "https://example.org/ns/web", "spiffe://EXAMPLE.org/ns/web", "web",
    "spiffe://example.org.evil/ns/web", "spiffe://example.org/ns/../admin"],
    ids=["other-domain", "domain-only", "empty-path", "https", "upper-case", "plain",
         "suffix-domain", "dot-segment"])
def test_jwt_svid_whose_sub_is_not_an_id_of_the_trust_domain_refused(pgw, keys, sub):
    assert_refused(pgw, "/svid/x", svid(keys, sub=sub), "bad_sub")


def test_jwt_svid_without_sub_refused(pgw, keys):
    assert_refused(pgw, "/svid/x", svid(keys, sub=None), "missing_claim")


@pytest.mark.parametrize("aud", [None, [], "spiffe://example.org/other"],
                         ids=["missing", "empty", "other"])
def test_jwt_svid_audience_required(pgw, keys, aud):
    assert_refused(pgw, "/svid/x", svid(keys, aud=aud), "wrong_audience")


def test_jwt_svid_signed_by_a_key_outside_the_bundle_refused(pgw, keys):
    assert_refused(pgw, "/svid/x", svid(keys, key=keys.evil), "bad_signature")
    assert_refused(pgw, "/svid/x", svid(keys, key=keys.evil, kid="evil"), "kid_unknown")


def test_jwt_svid_with_an_issuer_refused_by_a_provider_without_one(pgw, keys):
    """The provider takes SVIDs without iss; one naming an issuer is another provider's."""
    assert_refused(pgw, "/svid/x", svid(keys, iss="https://evil.example"), "wrong_issuer")


# --- the verified-token cache ---

def counters(gw):
    return (metric(gw, "portcullis_authn_tokens_verified_total") or 0,
            metric(gw, "portcullis_authn_cache_hits_total") or 0)


def test_repeated_token_served_from_the_cache(pgw, keys):
    token = token_a(keys, sub="cached-user")
    verified, hits = counters(pgw)
    for _ in range(4):
        assert_served(pgw, "/cached/x", token, sub="cached-user")
    assert counters(pgw) == (verified + 1, hits + 3)


def test_cache_ttl_zero_verifies_every_time(pgw, keys):
    token = token_a(keys, sub="uncached-user")
    verified, hits = counters(pgw)
    for _ in range(4):
        assert_served(pgw, "/uncached/x", token, sub="uncached-user")
    assert counters(pgw) == (verified + 4, hits)


def test_cached_token_does_not_outlive_its_expiry(pgw, keys):
    """The cached route has no clock skew: a token cached now is refused once exp passes."""
    token = token_a(keys, sub="short-lived", lifetime=2)
    verified, hits = counters(pgw)
    assert_served(pgw, "/cached/x", token, sub="short-lived")
    exp = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==").decode())["exp"]
    time.sleep(max(0.0, exp - time.time()) + 1.1)
    assert_refused(pgw, "/cached/x", token, "expired")
    assert counters(pgw)[1] == hits


def test_cached_token_still_checked_against_another_routes_policy(pgw, keys):
    """A token cached for one policy is judged afresh by another: /scopes-all needs scopes."""
    token = token_a(keys, sub="cached-elsewhere")
    assert_served(pgw, "/cached/x", token, sub="cached-elsewhere")
    assert_refused(pgw, "/scopes-all/x", token, "insufficient_scope", status=403,
                   error="insufficient_scope")


# --- which policy covers a rule ---

@pytest.fixture(scope="module")
def layered(make_module_gateway, module_origin, keys):
    """Listener "http" (the gateway's port) and "other" (gw.other_port). Policies: "gw-wide"
    on the Gateway (issuer G), "listener" on listener http (issuer L), "special" on the route
    /special (issuer R); /plain has no policy of its own."""
    tmp = tempfile.mkdtemp(prefix="authn-layers-")
    jwks = os.path.join(tmp, "a.json")
    write_jwks(jwks, [public_jwk(keys.a, "a1")])
    other_port = free_port()
    listeners = """
- name: http
  port: {port}
  protocol: HTTP
- name: other
  port: %d
  protocol: HTTP
""" % other_port
    policies = docs(
        authn_policy("gw-wide", "{kind: Gateway, name: edge}",
                     provider("g", "https://g.test", jwks), FORWARD),
        authn_policy("listener", "{kind: Gateway, name: edge, sectionName: http}",
                     provider("l", "https://l.test", jwks), FORWARD),
        authn_policy("special", route_target("special"),
                     provider("r", "https://r.test", jwks), FORWARD))
    gw = make_module_gateway(docs(route("special", "/special"), route("plain", "/plain")),
                             {"origin": [module_origin.address]}, listeners=listeners,
                             policies=policies)
    gw.other_port = other_port
    return gw


class OnPort:
    """The gateway seen through another of its listeners (call() reads .port)."""

    def __init__(self, gw, port):
        self.port = port
        self.access_log = gw.access_log


@pytest.mark.parametrize("listener, path, winner", [
    ("http", "/special", "r"), ("http", "/plain", "l"),
    ("other", "/special", "r"), ("other", "/plain", "g")])
def test_route_over_listener_over_gateway(layered, keys, listener, path, winner):
    target = layered if listener == "http" else OnPort(layered, layered.other_port)
    for issuer in ("g", "l", "r"):
        token = mint(keys.a, "RS256", claims("https://%s.test" % issuer, AUD, sub=issuer),
                     kid="a1")
        if issuer == winner:
            assert_served(target, path + "/x", token, sub=issuer)
        else:
            # The winning policy applies whole: the others' providers are not consulted.
            assert_refused(target, path + "/x", token, "wrong_issuer")


# --- reload ---

NO_WATCH = """  watch:
    enabled: false
"""


def test_reload_changing_the_policy_applies_without_restart(make_gateway, module_origin, keys,
                                                             tmp_path):
    jwks = str(tmp_path / "a.json")
    write_jwks(jwks, [public_jwk(keys.a, "a1")])
    backends = {"origin": [module_origin.address]}
    routes = route("api", "/api")

    def policy(audience, extra=""):
        return authn_policy("api", route_target("api"),
                            provider("a", ISS_A, jwks, audience=audience), FORWARD + extra)

    gw = make_gateway(routes, backends, workers=1, policies=policy(AUD), proxy_extra=NO_WATCH)
    pid = gw.proc.pid
    old = mint(keys.a, "RS256", claims(ISS_A, AUD, sub="old-aud"), kid="a1")
    new = mint(keys.a, "RS256", claims(ISS_A, "api://v2", sub="new-aud", scope="read"),
               kid="a1")
    # Verified and cached under the first policy.
    assert_served(gw, "/api/x", old, sub="old-aud")
    assert_served(gw, "/api/x", old, sub="old-aud")
    assert_refused(gw, "/api/x", new, "wrong_audience")

    gw.write_config(gw.render(routes, backends, proxy_extra=NO_WATCH, policies=policy(
        "api://v2", "require:\n  scopes: {allOf: [read]}\n")))
    gw.signal(signal.SIGHUP)
    wait_for(lambda: metric(gw, "portcullis_config_reloads_total") == 1, what="the reload")
    wait_for(lambda: call(gw, "/api/x", old)[0] == 401, what="the new policy to apply")
    assert_refused(gw, "/api/x", old, "wrong_audience")
    assert_served(gw, "/api/x", new, sub="new-aud")
    assert gw.proc.pid == pid and gw.proc.poll() is None
