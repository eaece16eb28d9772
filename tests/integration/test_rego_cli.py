"""`portcullis policy eval` and `portcullis policy test` on the small policies in tests/rego/.

eval must print results shaped as `opa eval` prints them (expressions with text and location,
bindings for query variables, {} when undefined, an errors list on failure); test must report
each test_ rule as PASS, FAIL or ERROR and exit non-zero when any did not pass.
"""

import json
import os
import subprocess

from conftest import ROOT, binary

POLICIES = os.path.join(ROOT, "tests", "rego")


def policy(*args, check=None):
    proc = subprocess.run([binary(), "policy", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    if check is not None:
        assert proc.returncode == check, proc.stdout + proc.stderr
    return proc


def eval_json(*args, check=0):
    proc = policy("eval", *args, check=check)
    return json.loads(proc.stdout)


def test_eval_decision_has_opa_shape():
    out = eval_json("-d", "tests/rego/authz", "-i", "tests/rego/inputs/alice_post.json",
                    "data.authz.allow")
    assert out == {"result": [{"expressions": [
        {"value": True, "text": "data.authz.allow", "location": {"row": 1, "col": 1}}]}]}


def test_eval_whole_package_with_denial_reasons():
    out = eval_json("-d", "tests/rego/authz", "-i", "tests/rego/inputs/bob_post.json",
                    "data.authz")
    value = out["result"][0]["expressions"][0]["value"]
    assert value == {"allow": False, "reasons": ["bob may not POST /docs/intro"]}


def test_eval_bindings_for_each_solution():
    out = eval_json("-d", "tests/rego/authz", "x := data.grants.admin[_].method")
    assert [r["bindings"] for r in out["result"]] == [{"x": "GET"}, {"x": "POST"}]
    assert out["result"][0]["expressions"][0]["value"] is True


def test_eval_several_expressions_and_false_values():
    # As opa eval does, every top-level expression is captured: false is a value.
    out = eval_json("1 + 1 == 3; 2 > 1")
    exprs = out["result"][0]["expressions"]
    assert [(e["value"], e["text"]) for e in exprs] == [(False, "1 + 1 == 3"), (True, "2 > 1")]
    assert exprs[1]["location"] == {"row": 1, "col": 13}


def test_eval_undefined_prints_empty_object():
    assert eval_json("-d", "tests/rego/authz", "data.authz.nothing") == {}
    assert eval_json("input.user") == {}


def test_eval_parse_error_names_location(tmp_path):
    bad = tmp_path / "bad.rego"
    bad.write_text("package bad\n\nallow if {\n    input.x ==\n}\n")
    proc = policy("eval", "-d", str(bad), "data.bad.allow")
    assert proc.returncode != 0
    out = json.loads(proc.stdout)
    err = out["errors"][0]
    assert err["code"] == "rego_parse_error"
    assert err["location"]["file"].endswith("bad.rego")
    assert err["location"]["row"] == 5


def test_eval_unsafe_variable_is_a_compile_error(tmp_path):
    bad = tmp_path / "unsafe.rego"
    bad.write_text("package unsafe\n\nallow if { x > 1 }\n")
    proc = policy("eval", "-d", str(bad), "data.unsafe.allow")
    assert proc.returncode != 0
    err = json.loads(proc.stdout)["errors"][0]
    assert err["code"] == "rego_unsafe_var_error"
    assert "var x is unsafe" in err["message"]


def test_eval_unknown_builtin_is_named(tmp_path):
    bad = tmp_path / "unknown.rego"
    bad.write_text("package unknown\n\nallow if not_a_builtin(input)\n")
    proc = policy("eval", "-d", str(bad), "data.unknown.allow")
    assert proc.returncode != 0
    assert "not_a_builtin" in json.loads(proc.stdout)["errors"][0]["message"]


def test_test_passing_suite():
    proc = policy("test", "tests/rego/authz", check=0)
    assert proc.stdout.rstrip().endswith("PASS: 4/4")


def test_test_verbose_lists_every_test():
    proc = policy("test", "-v", "tests/rego/authz", check=0)
    lines = proc.stdout.splitlines()
    assert lines[0].endswith("policy_test.rego:")
    assert "data.authz_test.test_admin_may_post: PASS" in proc.stdout
    assert sum(1 for line in lines if ": PASS (" in line) == 4


def test_test_failures_and_errors_are_reported():
    proc = policy("test", "tests/rego/failing")
    assert proc.returncode != 0
    out = proc.stdout
    assert "data.failing.test_false: FAIL" in out
    assert "data.failing.test_undefined: FAIL" in out
    assert "data.failing.test_conflict: ERROR" in out
    assert "eval_conflict_error" in out
    assert "data.failing.test_passes" not in out
    tail = out.rstrip().splitlines()[-3:]
    assert tail == ["PASS: 1/4", "FAIL: 2/4", "ERROR: 1/4"]
