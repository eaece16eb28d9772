"""The decision log written by the real binary: one hash-chained JSON line per decision
(allowed, denied by a rule, denied for want of one, shadow, failed closed, failed open) with the
contract's members and never a credential, signed checkpoints, `portcullis audit verify`
passing on it, a restarted gateway continuing the same chain (verify passes across the
restart), and an edited line failing verify with the line named.

Two gateways run one after the other on the same log file and signing key: the first serves
one request of each kind and stops (its "close" checkpoint ends its part), the second starts
on the file, serves two more and stops. The failing decisions come from an OPA URL where
nothing listens; no OPA binary can be installed on this machine, and none is needed for that
(test_authz_opa.py uses a stand-in server that follows OPA's REST API).
"""

import base64
import hashlib
import http.client
import os
import re
import shutil
import tempfile

import pytest
from cryptography.hazmat.primitives import serialization

from authz_util import (DECISION_ID, ISSUER, SENT_SECRETS, TRUST_DOMAIN, Pki, access_line,
                        assert_problem, audit_verify, authn_policy, authz_policy, call,
                        check_chain, decision_line, decision_lines, decision_log_settings, docs,
                        has_metric, metric_sum, mint, read_decision_log, route, route_target,
                        write_signing_key)
from conftest import Origin, free_port
from opa_server import OpaServer

COOKIE_SECRET = "session-cookie-value-that-must-stay-out"
CHECKPOINT_LINES = 4

MEMBERS = ["seq", "prev", "input_sha256", "ts", "decision_id", "request_id", "policy", "source",
           "mode", "decision", "effect", "reason", "rule", "detail", "status", "cached",
           "route", "route_rule", "method", "host", "path", "client", "principal",
           "peer_spiffe_id", "peer_fingerprint"]

# Present where they apply: the deciding rule of native rules, a detail, the TLS peer.
OPTIONAL_MEMBERS = ("rule", "detail", "peer_spiffe_id", "peer_fingerprint")

RULES = """
rules:
- name: allow-dl
  request:
    paths: [{type: PathPrefix, value: /dl/allowed}]
- name: no-admin
  action: Deny
  request:
    paths: [{type: PathPrefix, value: /dl/admin}]
- name: admins
  request:
    paths: [{type: PathPrefix, value: /dl/admin}]
"""

SHADOW = """
rules:
- name: ok-only
  request:
    paths: [{type: PathPrefix, value: /dlshadow/ok}]
"""


class Setup:
    def __init__(self):
        self.pki = Pki()
        self.opa = OpaServer({"portcullis/authz": lambda inp: True})
        self.dir = tempfile.mkdtemp(prefix="portcullis-decision-log-")
        self.log_path = os.path.join(self.dir, "decisions.log")
        self.key, self.public_key = write_signing_key(self.dir)
        dead = "http://127.0.0.1:%d/v1/data/portcullis/authz" % free_port()
        opa = "opa:\n  url: %s\n  timeout: 1s\n" % dead
        self.routes = docs(route("dl", "/dl"), route("dlshadow", "/dlshadow"),
                           route("dlfail", "/dlfail"), route("dlopen", "/dlopen"),
                           route("dlshadowfail", "/dlshadowfail"), route("dlcache", "/dlcache"))
        self.policies = docs(authn_policy(),
                             authz_policy("dl", route_target("dl"), RULES),
                             authz_policy("dlshadow", route_target("dlshadow"), SHADOW,
                                          mode="Shadow"),
                             authz_policy("dlfail", route_target("dlfail"), opa),
                             authz_policy("dlopen", route_target("dlopen"), opa,
                                          failure_mode="Open"),
                             authz_policy("dlshadowfail", route_target("dlshadowfail"), opa,
                                          mode="Shadow"),
                             authz_policy("dlcache", route_target("dlcache"), """
opa:
  url: %s
  timeout: 1s
  cache: {ttl: 60s, key: [parsed_path]}
""" % self.opa.url("portcullis/authz")))
        self.proxy_extra = decision_log_settings(self.log_path, self.key,
                                                 lines=CHECKPOINT_LINES)

    def start(self, make_gateway, origin):
        """A gateway on the log, with an HTTP listener and an HTTPS one taking client
        certificates (its port in https_port)."""
        https_port = free_port()
        listeners, tls_docs = self.pki.listeners(https_port)
        gw = make_gateway(self.routes, {"origin": [origin.address]},
                          policies=docs(self.policies, tls_docs), listeners=listeners,
                          proxy_extra=self.proxy_extra)
        gw.https_port = https_port
        return gw


@pytest.fixture(scope="module")
def setup():
    s = Setup()
    yield s
    s.opa.stop()
    s.pki.remove()
    shutil.rmtree(s.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def origin():
    o = Origin("origin-decision-log")
    yield o
    o.stop()


def request_id_of(a):
    return a.headers.get("x-request-id") or a.request_id


@pytest.fixture(scope="module")
def first_run(make_module_gateway, setup, origin):
    """The first gateway's decisions: {kind: (answer, decision id)}, the metrics it reported
    and the number of log lines it left."""
    gw = setup.start(make_module_gateway, origin)
    token = mint("alice", client_id="web")
    cookie = {"Cookie": "session=" + COOKIE_SECRET}
    answers = {
        "allowed": call(gw.port, "/dl/allowed", token=token, headers=cookie),
        "rule_denied": call(gw.port, "/dl/admin", token=token, headers=cookie),
        "no_rule": call(gw.port, "/dl/other"),
        "shadow": call(gw.port, "/dlshadow/nope", token=token),
        "failed_closed": call(gw.port, "/dlfail/x", token=token, headers=cookie),
        "failed_open": call(gw.port, "/dlopen/x", token=token,
                            headers={"Proxy-Authorization": "Basic cHJveHk6c2VjcmV0"}),
        "shadow_failed": call(gw.port, "/dlshadowfail/x"),
        "peer": setup.pki.call(gw.https_port, "orders", "/dl/allowed"),
    }
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=15)
    try:
        answers["opa"] = call(gw.port, "/dlcache/x", conn=conn)
        answers["cached"] = call(gw.port, "/dlcache/x", conn=conn)
    finally:
        conn.close()
    decisions = {}
    for kind, a in answers.items():
        rec = access_line(gw, request_id_of(a))
        assert DECISION_ID.match(rec.get("decision_id", "")), (kind, rec)
        decisions[kind] = (a, rec["decision_id"])
    for _, decision_id in decisions.values():
        decision_line(setup.log_path, decision_id)
    metrics = {name: metric_sum(gw, name) if has_metric(gw, name) else None for name in (
        "portcullis_decision_log_lines_total", "portcullis_decision_log_dropped_total",
        "portcullis_decision_log_write_errors_total")}
    gw.stop()
    return {"decisions": decisions, "metrics": metrics,
            "lines": len(read_decision_log(setup.log_path))}


@pytest.fixture(scope="module")
def second_run(make_module_gateway, setup, origin, first_run):
    """A second gateway on the same file: two more decisions, then stopped."""
    gw = setup.start(make_module_gateway, origin)
    ids = []
    for path in ("/dl/allowed", "/dl/other"):
        a = call(gw.port, path)
        ids.append(access_line(gw, request_id_of(a))["decision_id"])
    for decision_id in ids:
        decision_line(setup.log_path, decision_id)
    gw.stop()
    return ids


def line_of(setup, decision_id):
    return decision_line(setup.log_path, decision_id, deadline=0)


# --- the lines of one run ---

def test_answers_of_the_first_run(first_run):
    d = first_run["decisions"]
    assert d["allowed"][0].status == 200
    assert assert_problem(d["rule_denied"][0], 403, "rule_denied")["decision_id"] == \
        d["rule_denied"][1]
    assert_problem(d["no_rule"][0], 403, "no_rule_matched")
    assert d["shadow"][0].status == 200
    assert_problem(d["failed_closed"][0], 503, "authz_unavailable")
    assert d["failed_open"][0].status == 200
    assert d["shadow_failed"][0].status == 200
    assert d["opa"][0].status == 200 and d["cached"][0].status == 200
    assert d["peer"][0].status == 200


def test_every_line_has_the_members_in_order(setup, first_run):
    for kind, (_, decision_id) in first_run["decisions"].items():
        doc = line_of(setup, decision_id)
        keys = list(doc)
        assert keys[:3] == ["seq", "prev", "input_sha256"], (kind, keys)
        missing = [m for m in MEMBERS if m not in doc and m not in OPTIONAL_MEMBERS]
        assert missing == [], (kind, missing, doc)
        order = [k for k in keys if k in MEMBERS]
        assert order == [m for m in MEMBERS if m in doc], (kind, keys)
        assert re.match(r"^[0-9a-f]{64}$", doc["input_sha256"]), doc
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", doc["ts"]), doc
        assert doc["request_id"] == request_id_of(first_run["decisions"][kind][0])
        assert doc["method"] == "GET"
        assert doc["host"] == ("api.example.com" if kind == "peer" else "example.com")
        assert doc["client"].startswith("127.0.0.1"), doc
        assert doc["route_rule"] in (0, doc["route"] + "/0"), doc
        assert doc["cached"] is (kind == "cached")
        if kind != "peer":
            assert doc.get("peer_spiffe_id") is None and doc.get("peer_fingerprint") is None


def test_peer_of_a_client_certificate(setup, first_run):
    doc = line_of(setup, first_run["decisions"]["peer"][1])
    assert doc["effect"] == "allowed"
    assert doc["peer_spiffe_id"] == "spiffe://%s/ns/orders/api" % TRUST_DOMAIN
    assert doc["peer_fingerprint"] == setup.pki.clients["orders"].fingerprint()


def test_allowed_line(setup, first_run):
    doc = line_of(setup, first_run["decisions"]["allowed"][1])
    assert (doc["policy"], doc["source"], doc["mode"]) == ("default/dl", "rules", "enforce")
    assert (doc["decision"], doc["effect"]) == ("allow", "allowed")
    assert doc["rule"] == "allow-dl"
    assert doc["route"] == "default/dl"
    assert doc["path"] == "/dl/allowed"
    assert doc["principal"] == {"sub": "alice", "iss": ISSUER, "client_id": "web"}


def test_denied_lines(setup, first_run):
    doc = line_of(setup, first_run["decisions"]["rule_denied"][1])
    assert (doc["decision"], doc["effect"], doc["reason"]) == ("deny", "denied", "rule_denied")
    assert doc["rule"] == "no-admin"
    assert doc["status"] == 403
    assert doc["principal"]["sub"] == "alice"

    doc = line_of(setup, first_run["decisions"]["no_rule"][1])
    assert (doc["decision"], doc["effect"], doc["reason"]) == \
        ("deny", "denied", "no_rule_matched")
    assert doc["status"] == 403
    assert doc["principal"] is None


def test_cached_line(setup, first_run):
    first = line_of(setup, first_run["decisions"]["opa"][1])
    again = line_of(setup, first_run["decisions"]["cached"][1])
    assert (first["source"], first["effect"], first["cached"]) == ("opa", "allowed", False)
    assert (again["source"], again["effect"], again["cached"]) == ("opa", "allowed", True)
    assert setup.opa.count() == 1


def test_shadow_line(setup, first_run):
    doc = line_of(setup, first_run["decisions"]["shadow"][1])
    assert (doc["policy"], doc["mode"]) == ("default/dlshadow", "shadow")
    assert (doc["decision"], doc["effect"], doc["reason"]) == \
        ("deny", "would_deny", "no_rule_matched")


def test_failed_lines(setup, first_run):
    doc = line_of(setup, first_run["decisions"]["failed_closed"][1])
    assert (doc["policy"], doc["source"]) == ("default/dlfail", "opa")
    assert (doc["decision"], doc["effect"], doc["reason"]) == \
        ("error", "failed_closed", "authz_unreachable")
    assert doc["status"] == 503
    doc = line_of(setup, first_run["decisions"]["failed_open"][1])
    assert (doc["decision"], doc["effect"], doc["reason"]) == \
        ("error", "failed_open", "authz_unreachable")
    doc = line_of(setup, first_run["decisions"]["shadow_failed"][1])
    assert (doc["mode"], doc["decision"], doc["effect"], doc["reason"]) == \
        ("shadow", "error", "shadow_failed", "authz_unreachable")


def test_no_credential_reaches_the_log(setup, first_run):
    with open(setup.log_path, "rb") as f:
        text = f.read().decode()
    assert COOKIE_SECRET not in text
    assert "cHJveHk6c2VjcmV0" not in text
    assert "Bearer" not in text
    leaked = [t for t in SENT_SECRETS if t.rsplit(".", 1)[-1] in text]
    assert leaked == []


def test_log_counters(first_run):
    m = first_run["metrics"]
    assert m["portcullis_decision_log_lines_total"] >= len(first_run["decisions"])
    assert m["portcullis_decision_log_dropped_total"] == 0
    assert m["portcullis_decision_log_write_errors_total"] == 0


def test_chain_and_checkpoints_of_the_first_run(setup, first_run):
    lines = check_chain(setup.log_path)[:first_run["lines"]]
    checkpoints = [doc for _, doc in lines if doc.get("type") == "checkpoint"]
    assert len(lines) - len(checkpoints) == len(first_run["decisions"])
    assert lines[0][1].get("type") == "checkpoint" and lines[0][1]["reason"] == "start"
    assert lines[0][1]["prev"] == "0" * 64
    assert lines[-1][1].get("type") == "checkpoint" and lines[-1][1]["reason"] == "close"
    assert any(c["reason"] == "lines" for c in checkpoints), checkpoints
    public = serialization.load_pem_public_key(open(setup.public_key, "rb").read())
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(raw).hexdigest()[:16]
    for raw, doc in lines:
        if doc.get("type") != "checkpoint":
            continue
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", doc["ts"]), doc
        assert doc["dropped"] == 0, doc
        assert doc["key_id"] == key_id, doc
        # The signature covers the line's bytes up to the "sig" member.
        sig = base64.urlsafe_b64decode(doc["sig"] + "=" * (-len(doc["sig"]) % 4))
        public.verify(sig, raw[:raw.index(b',"sig":')])


def test_verify_passes_on_the_first_run(setup, first_run):
    """On what the first gateway left, whether or not the second has run yet."""
    snapshot = os.path.join(setup.dir, "first-run.log")
    with open(snapshot, "wb") as f:
        f.write(b"".join(raw + b"\n"
                         for raw, _ in read_decision_log(setup.log_path)[:first_run["lines"]]))
    rc, out = audit_verify(snapshot, setup.public_key)
    assert rc == 0, out
    assert "intact" in out, out


# --- restart, then tampering ---

def test_restart_continues_the_chain(setup, first_run, second_run):
    lines = check_chain(setup.log_path)
    assert len(lines) > first_run["lines"]
    restart = lines[first_run["lines"]][1]
    assert restart.get("type") == "checkpoint" and restart["reason"] == "restart", restart
    assert lines[first_run["lines"] - 1][1]["reason"] == "close"
    assert lines[-1][1].get("type") == "checkpoint" and lines[-1][1]["reason"] == "close"
    ids = [doc.get("decision_id") for doc in decision_lines(setup.log_path)]
    assert all(i in ids for i in second_run)
    rc, out = audit_verify(setup.log_path, setup.public_key)
    assert rc == 0, out
    assert re.search(r"\bintact\b.*\b1 restart\b", out), out


def tampered_copy(setup, name, change):
    """A copy of the log with change(lines) applied to its list of raw lines."""
    with open(setup.log_path, "rb") as f:
        lines = f.read().split(b"\n")
    change(lines)
    path = os.path.join(setup.dir, name)
    with open(path, "wb") as f:
        f.write(b"\n".join(lines))
    return path


def test_edited_line_fails_verify_naming_it(setup, first_run, second_run):
    denied_id = first_run["decisions"]["rule_denied"][1].encode()
    lines = [raw for raw, _ in read_decision_log(setup.log_path)]
    index = next(i for i, raw in enumerate(lines) if denied_id in raw)

    def edit(raw_lines):
        assert b'"decision":"deny"' in raw_lines[index], raw_lines[index]
        raw_lines[index] = raw_lines[index].replace(b'"decision":"deny"', b'"decision":"allow"')

    path = tampered_copy(setup, "edited.log", edit)
    rc, out = audit_verify(path, setup.public_key)
    assert rc == 1, out
    assert re.search(r"\bline %d\b" % (index + 1), out), out


def test_wrong_key_fails_verify(setup, second_run):
    _, other_public = write_signing_key(setup.dir, "other")
    rc, out = audit_verify(setup.log_path, other_public)
    assert rc == 1, out
