"""In-process Rego authorization through the real binary: modules read from files (one named
by a path relative to the configuration file), boolean and object decisions against the same
input document OPA would get, a module edited on disk picked up without a restart (and an edit
that does not compile refused while the last good policy keeps deciding), and evaluation
errors (a conflict between complete rules, the step limit, an undefined decision) failing
closed.

No OPA binary can be installed on this machine, and none is needed here: the gateway evaluates
the modules itself (test_authz_opa.py covers the remote REST API with a stand-in server).
"""

import os
import shutil
import tempfile

import pytest

from authz_util import (DECISION_ID, access_line, assert_allowed, assert_denied, assert_problem,
                        authn_policy, authz_policy, call, docs, failure_log_pattern,
                        metric_sum, mint, route, route_target, wait_for, wait_log)
from conftest import Origin

ORDERS = """
package portcullis.authz

import rego.v1

import data.portcullis.lib

default allow := false

allow if {
    input.attributes.request.http.method == "GET"
    input.parsed_path[1] == "open"
}

default decision := {"allow": false, "reason": "not_owner"}

decision := {"allow": true, "headers": {
    "x-rego-user": input.principal.sub,
    "x-rego-route": input.route.name,
    "x-rego-path": concat("/", input.parsed_path),
    "x-rego-method": input.attributes.request.http.method,
}} if {
    input.parsed_path[1] == "users"
    lib.is_owner(input.principal, input.parsed_path[2])
}

decision := {"allow": false, "status": 451, "reason": "legal_hold",
             "headers": {"x-rego-why": "hold"}} if {
    input.parsed_path[1] == "hold"
}
"""

LIB = """
package portcullis.lib

import rego.v1

is_owner(principal, id) if {
    principal.authenticated
    principal.sub == id
}
"""

CONFLICT = """
package portcullis.conflict

import rego.v1

decision := true if input.parsed_path[1] == "fine"

decision := true if input.parsed_path[1] == "clash"

decision := false if input.parsed_path[1] == "clash"
"""

STEPS = """
package portcullis.steps

import rego.v1

allow if count([x | some x in numbers.range(1, 100000)]) > 0
"""

EDIT_A = """
package portcullis.edit

import rego.v1

default allow := false

allow if input.parsed_path[1] == "a"
"""

EDIT_B = EDIT_A.replace('"a"', '"b"')

EDIT_BROKEN = EDIT_A.replace('allow if input', 'allow if input ==== ')


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def rego(files, query, extra=""):
    return "rego:\n  files: [%s]\n  query: %s\n%s" % (", ".join(files), query, extra)


@pytest.fixture(scope="module")
def modules():
    d = tempfile.mkdtemp(prefix="portcullis-authz-rego-")
    paths = {}
    for name, text in (("orders", ORDERS), ("lib", LIB), ("conflict", CONFLICT),
                       ("steps", STEPS), ("edit", EDIT_A)):
        paths[name] = os.path.join(d, name + ".rego")
        write(paths[name], text)
    # The gateway's configuration file is written to its own directory under the same
    # temporary directory, so "../<this directory>/lib.rego" is relative to it.
    paths["lib-relative"] = os.path.join("..", os.path.relpath(d, tempfile.gettempdir()),
                                         "lib.rego")
    yield paths
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def origin():
    o = Origin("origin-authz-rego")
    yield o
    o.stop()


@pytest.fixture(scope="module")
def gw(make_module_gateway, origin, modules):
    both = [modules["orders"], modules["lib-relative"]]
    policies = {
        "rego-bool": rego(both, "data.portcullis.authz.allow"),
        "rego-obj": rego(both, "data.portcullis.authz.decision"),
        "rego-conflict": rego([modules["conflict"]], "data.portcullis.conflict.decision"),
        "rego-steps": rego([modules["steps"]], "data.portcullis.steps.allow",
                           "  stepLimit: 1000\n"),
        "rego-edit": rego([modules["edit"]], "data.portcullis.edit.allow"),
    }
    texts = [authn_policy()] + [authz_policy(n, route_target(n), b) for n, b in policies.items()]
    return make_module_gateway(docs(*(route(n, "/" + n) for n in policies)),
                               {"origin": [origin.address]}, policies=docs(*texts))


# --- decisions ---

def test_boolean_decision(gw, origin):
    a = assert_allowed(gw.port, "/rego-bool/open", origin)
    rec = access_line(gw, a.request_id)
    assert rec["authz"] == "allowed" and DECISION_ID.match(rec["decision_id"])
    assert_denied(gw.port, "/rego-bool/open", origin, reason="policy_denied", method="POST")
    assert_denied(gw.port, "/rego-bool/closed", origin, reason="policy_denied")


def test_object_decision_allows_with_headers_from_the_input(gw, origin):
    a = assert_allowed(gw.port, "/rego-obj/users/alice", origin, token=mint("alice"),
                       headers={"X-Rego-User": "mallory"})
    assert a.upstream_values("x-rego-user") == ["alice"]
    assert a.upstream_values("x-rego-route") == ["default/rego-obj"]
    assert a.upstream_values("x-rego-path") == ["rego-obj/users/alice"]
    assert a.upstream_values("x-rego-method") == ["GET"]


def test_object_decision_denies_with_reason(gw, origin):
    assert_denied(gw.port, "/rego-obj/users/alice", origin, reason="not_owner",
                  token=mint("bob"))
    assert_denied(gw.port, "/rego-obj/users/alice", origin, reason="not_owner")


def test_object_decision_denies_with_status_and_headers(gw, origin):
    before = origin.served()
    a = call(gw.port, "/rego-obj/hold/x")
    assert_problem(a, 451, "legal_hold")
    assert a.headers.get("x-rego-why") == "hold"
    assert origin.served() == before


# --- errors fail closed ---

def assert_fails_closed(gw, origin, path, policy, reasons):
    start = len(gw.log())
    closed = metric_sum(gw, "portcullis_authz_decisions_total", effect="failed_closed")
    before = origin.served()
    a = call(gw.port, path)
    assert_problem(a, 503, "authz_unavailable")
    assert origin.served() == before
    assert access_line(gw, a.headers["x-request-id"])["authz"] == "failed_closed"
    assert metric_sum(gw, "portcullis_authz_decisions_total", effect="failed_closed") == \
        closed + 1
    m = wait_log(gw, failure_log_pattern("default/" + policy, "rego", r"(\w+)"), start)
    assert m.group(1) in reasons, m.group(0)
    assert metric_sum(gw, "portcullis_authz_refusals_total", reason=m.group(1)) >= 1


def test_conflict_at_runtime_fails_closed(gw, origin):
    assert_allowed(gw.port, "/rego-conflict/fine", origin)
    assert_fails_closed(gw, origin, "/rego-conflict/clash", "rego-conflict",
                        ("authz_eval_error",))


def test_undefined_decision_fails_closed(gw, origin):
    assert_fails_closed(gw, origin, "/rego-conflict/other", "rego-conflict",
                        ("decision_undefined",))


def test_step_limit_fails_closed(gw, origin):
    assert_fails_closed(gw, origin, "/rego-steps/x", "rego-steps", ("authz_eval_error",))


# --- a module edited on disk ---

def test_module_edit_is_picked_up_without_a_restart(gw, origin, modules):
    pid = gw.proc.pid
    assert_allowed(gw.port, "/rego-edit/a", origin)
    assert_denied(gw.port, "/rego-edit/b", origin, reason="policy_denied")

    write(modules["edit"], EDIT_B)
    wait_for(lambda: call(gw.port, "/rego-edit/b").status == 200, what="the edited module")
    assert_allowed(gw.port, "/rego-edit/b", origin)
    assert_denied(gw.port, "/rego-edit/a", origin, reason="policy_denied")

    # An edit that does not compile is refused whole: the last good module keeps deciding.
    failures = metric_sum(gw, "portcullis_config_reload_failures_total")
    write(modules["edit"], EDIT_BROKEN)
    wait_for(lambda: metric_sum(gw, "portcullis_config_reload_failures_total") > failures,
             what="the broken module to be refused")
    assert_allowed(gw.port, "/rego-edit/b", origin)
    assert_denied(gw.port, "/rego-edit/a", origin, reason="policy_denied")
    assert gw.proc.poll() is None and gw.proc.pid == pid
