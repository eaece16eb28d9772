"""The Rego engine against OPA's conformance cases, and the conformance runner's own contract.

The cases live outside the repository, in ../shared/conformance/opa next to the repository
root. When that folder is there, every case runs and the suite fails if a case recorded in
tests/rego/conformance-baseline.txt fails or if fewer cases pass than the baseline records.
When it is absent (a clone of the repository alone) that test is skipped and says so. The
runner's output format is checked on cases written here, so it is tested either way.
"""

import os
import re
import subprocess
import textwrap

import pytest

from conftest import ROOT, binary

SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "conformance", "opa"))
BASELINE = os.path.join(ROOT, "tests", "rego", "conformance-baseline.txt")
SUMMARY = re.compile(r"(\d+) passed, (\d+) failed")


def conformance(*args):
    return subprocess.run([binary(), "policy", "conformance", *args], capture_output=True,
                          text=True, timeout=900, cwd=ROOT)


def baseline_ids():
    with open(BASELINE, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]


def test_shared_conformance_does_not_regress():
    if not os.path.isdir(SHARED):
        pytest.skip("OPA conformance cases not found at %s: this clone has no ../shared "
                    "folder, so the conformance run is skipped" % SHARED)
    proc = conformance("--baseline", BASELINE, SHARED)
    lines = proc.stdout.rstrip().splitlines()
    last = SUMMARY.fullmatch(lines[-1])
    assert last, "last line is not the summary: %r" % lines[-1]
    regressions = [line for line in lines if line.endswith("[baseline]")]
    assert not regressions, "cases that used to pass now fail:\n" + "\n".join(regressions)
    assert proc.returncode == 0, proc.stderr
    assert int(last.group(1)) >= len(baseline_ids())


def write_cases(folder, name, cases):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(cases))


def test_runner_reports_per_folder_and_total(tmp_path):
    write_cases(tmp_path / "v1" / "alpha", "cases.yaml", """\
        cases:
          - note: alpha/passes
            query: data.t.p = x
            modules:
              - |
                package t
                p := 1 + 1
            want_result:
              - x: 2
          - note: alpha/fails
            query: data.t.p = x
            modules:
              - |
                package t
                p := 3
            want_result:
              - x: 4
        """)
    write_cases(tmp_path / "v1" / "beta", "cases.yaml", """\
        cases:
          - note: beta/error
            query: data.t.p = x
            modules:
              - |
                package t
                p := x if { x := to_number("nope") }
            strict_error: true
            want_error_code: eval_builtin_error
        """)
    proc = conformance(str(tmp_path))
    lines = proc.stdout.rstrip().splitlines()
    assert lines[-1] == "2 passed, 1 failed"
    assert lines[-3:-1] == ["alpha: 1 passed, 1 failed", "beta: 1 passed, 0 failed"]
    fails = [line for line in lines if line.startswith("FAIL ")]
    assert len(fails) == 1 and "alpha/fails" in fails[0]
    assert proc.returncode == 0

    # A failing case listed in the baseline makes the run fail.
    ids = tmp_path / "baseline.txt"
    proc = conformance("--write-baseline", str(ids), str(tmp_path))
    recorded = ids.read_text().split("\n")
    assert "v1/alpha/cases.yaml#1:alpha/passes" in recorded
    ids.write_text("# comment\nv1/alpha/cases.yaml#2:alpha/fails\n")
    proc = conformance("--baseline", str(ids), str(tmp_path))
    assert proc.returncode != 0
    assert any(line.endswith("[baseline]") for line in proc.stdout.splitlines())
