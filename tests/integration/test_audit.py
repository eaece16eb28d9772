"""`portcullis audit verify` on decision logs written by the decision log library.

Logs are written by tests/tools/decision_log_writer.c (built by `make test-tools` into the same
build directory as the binary), which submits lines through src/authz/decision_log.c the way
the gateway does. Each test then damages a copy the way an attacker or a crash would, and
checks the verifier's exit status and the first problem it names. An independent reading of the
format written here (python3-cryptography for Ed25519, hashlib for the chain) checks that the
files follow docs/DECISION_LOG.md, so the verifier and the writer cannot agree on a mistake.
"""

import base64
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import binary

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
ZEROS = "0" * 64


def writer_bin():
    path = os.path.join(os.path.dirname(binary()), "tests", "tools", "decision_log_writer")
    if not os.path.exists(path):
        pytest.fail("no %s: run make test-tools with the binary's BUILD (and SAN) first" % path)
    return path


class Keys:
    """An Ed25519 key pair as PEM files: private (PKCS#8) for the writer, public for verify."""

    def __init__(self, directory, name):
        self.private = Ed25519PrivateKey.generate()
        self.private_path = os.path.join(directory, name + ".pem")
        self.public_path = os.path.join(directory, name + ".pub.pem")
        with open(self.private_path, "wb") as f:
            f.write(self.private.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        os.chmod(self.private_path, 0o600)
        with open(self.public_path, "wb") as f:
            f.write(self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="pc-audit-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def keys(workdir):
    return Keys(workdir, "signing")


def no_sanitizer_report(text):
    for marker in SANITIZER_MARKERS:
        assert marker not in text, text


def write_log(path, keys, lines=20, *extra, limit_bytes=None):
    """Runs the driver to completion; returns its stderr (the library's log lines)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    cmd = [writer_bin(), "--log", path, "--key", keys.private_path, "--lines", str(lines)]
    proc = subprocess.run(cmd + [str(a) for a in extra], capture_output=True, text=True,
                          timeout=120, preexec_fn=limit if limit_bytes else None)
    no_sanitizer_report(proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stderr


def verify(path, *keys_or_flags, expect):
    args = []
    for k in keys_or_flags:
        args += ["--key", k] if not k.startswith("--") else [k]
    proc = subprocess.run([binary(), "audit", "verify", path] + args, capture_output=True,
                          text=True, timeout=120)
    no_sanitizer_report(proc.stderr)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return proc.stdout


def read_lines(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")[:-1]


def save_lines(path, lines):
    with open(path, "wb") as f:
        f.write(b"".join(line + b"\n" for line in lines))


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_format(path, keys):
    """Reads the log as docs/DECISION_LOG.md describes it, without the C code."""
    prev = ZEROS
    public = keys.private.public_key()
    lines = read_lines(path)
    for seq, raw in enumerate(lines):
        doc = json.loads(raw)
        assert raw.startswith(b'{"seq":%d,"prev":"%s",' % (seq, prev.encode())), raw
        if "input_sha256" in doc:
            assert re.fullmatch("[0-9a-f]{64}", doc["input_sha256"])
        else:
            assert doc["type"] == "checkpoint"
            assert doc["key_id"] == keys.key_id
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["ts"])
            assert doc["reason"] in ("start", "restart", "interval", "lines", "close")
            signed, _, rest = raw.rpartition(b',"sig":"')
            assert rest == doc["sig"].encode() + b'"}'
            public.verify(b64url_decode(doc["sig"]), signed)
        prev = hashlib.sha256(raw).hexdigest()
    return lines


def test_intact_log_verifies(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 50, "--checkpoint-lines", 10)
    lines = check_format(log, keys)
    assert len(lines) == 57  # start, 50 decisions, 5 "lines" checkpoints, close
    assert json.loads(lines[1])["input_sha256"] == hashlib.sha256(b"GET /orders/0").hexdigest()
    assert json.loads(lines[1])["decision"] == "deny"
    assert os.stat(log).st_mode & 0o777 == 0o600

    out = verify(log, keys.public_path, expect=0)
    assert out.startswith(log + ": intact: 57 lines (50 decisions, 7 checkpoints), seq 0 to 56, ")
    assert out.rstrip().endswith(", 0 restarts")
    assert len(out.splitlines()) == 1
    # A private key is accepted: its public half is used.
    verify(log, keys.private_path, expect=0)


def test_edited_line_is_named(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 20, "--checkpoint-lines", 5)
    lines = read_lines(log)
    lines[8] = lines[8].replace(b'"decision":"deny"', b'"decision":"allow"')
    assert lines[8] != read_lines(log)[8]
    save_lines(log, lines)
    out = verify(log, keys.public_path, expect=1)
    assert out == ("%s: line 10 (seq 9): prev does not match line 9: line 9 was edited, or a line "
                   "between them was removed\n" % log)


def test_edit_rechained_by_attacker_fails_at_next_checkpoint(workdir, keys):
    """An attacker who fixes every prev after an edit still cannot sign the checkpoint after it."""
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 20, "--checkpoint-lines", 5)
    forger = Ed25519PrivateKey.generate()
    lines = read_lines(log)
    lines[3] = lines[3].replace(b'"decision":"allow"', b'"decision":"deny"')
    for i in range(4, len(lines)):
        doc = json.loads(lines[i])
        old_prev = doc["prev"].encode()
        new_prev = hashlib.sha256(lines[i - 1]).hexdigest().encode()
        line = lines[i].replace(old_prev, new_prev, 1)
        if "sig" in doc:
            signed = line.rpartition(b',"sig":"')[0]
            sig = base64.urlsafe_b64encode(forger.sign(signed)).rstrip(b"=")
            line = signed + b',"sig":"' + sig + b'"}'
        lines[i] = line
    save_lines(log, lines)
    out = verify(log, keys.public_path, expect=1)
    assert out == ("%s: line 7 (seq 6): checkpoint signature does not verify with key_id %s: the "
                   "checkpoint was forged or altered\n" % (log, keys.key_id))


def test_removed_line_is_named(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 20)
    lines = read_lines(log)
    save_lines(log, lines[:5] + lines[6:])
    out = verify(log, keys.public_path, expect=1)
    assert out == ("%s: line 6 (seq 6): seq jumps from 4 to 6: 1 line (seq 5) was removed before "
                   "it\n" % log)

    save_lines(log, lines[:5] + lines[9:])
    out = verify(log, keys.public_path, expect=1)
    assert "line 6 (seq 9): seq jumps from 4 to 9: 4 lines (seq 5 to 8) were removed" in out


def test_swapped_lines_are_named(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 20)
    lines = read_lines(log)
    lines[7], lines[8] = lines[8], lines[7]
    save_lines(log, lines)
    out = verify(log, keys.public_path, expect=1)
    assert out == ("%s: line 8 (seq 8): seq jumps from 6 to 8, and seq 7 is at line 9: lines were "
                   "reordered\n" % log)

    # A line moved further down, and one repeated.
    lines = read_lines(log)
    lines[7], lines[8] = lines[8], lines[7]
    save_lines(log, lines[:3] + lines[4:12] + [lines[3]] + lines[12:])
    out = verify(log, keys.public_path, expect=1)
    assert "line 4 (seq 4): seq jumps from 2 to 4, and seq 3 is at line 12" in out
    save_lines(log, lines[:4] + [lines[3]] + lines[4:])
    out = verify(log, keys.public_path, expect=1)
    assert "line 5 (seq 3): seq goes back (line 4 has seq 3)" in out


def test_truncated_tail_is_named(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 20, "--checkpoint-lines", 8)
    lines = read_lines(log)
    ts = json.loads(lines[9])["ts"]
    assert json.loads(lines[9])["reason"] == "lines"
    save_lines(log, lines[:13])
    out = verify(log, keys.public_path, expect=1)
    assert out == ("%s: the log ends without a close checkpoint: lines after line 10 (the last "
                   "signed checkpoint, at %s) may be missing; 3 lines after it are not covered by "
                   "a signature\n" % (log, ts))
    # Cut right after a checkpoint: nothing uncovered, still not closed.
    save_lines(log, lines[:10])
    out = verify(log, keys.public_path, expect=1)
    assert out.endswith("may be missing\n")


def test_forged_checkpoint_signature_is_named(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 10)
    lines = read_lines(log)
    # The close checkpoint claims lines were dropped; its signature no longer covers it.
    lines[-1] = lines[-1].replace(b'"dropped":0', b'"dropped":7')
    save_lines(log, lines)
    out = verify(log, keys.public_path, expect=1)
    assert out == ("%s: line 12 (seq 11): checkpoint signature does not verify with key_id %s: "
                   "the checkpoint was forged or altered\n" % (log, keys.key_id))

    # A tail forged with the attacker's own key and key_id.
    forger = Keys(workdir, "forger")
    lines = read_lines(log)[:11]
    line = (b'{"seq":11,"prev":"%s","type":"checkpoint","ts":"2026-01-01T00:00:00.000Z",'
            b'"reason":"close","interval_ms":10000,"dropped":0,"key_id":"%s"'
            % (hashlib.sha256(lines[-1]).hexdigest().encode(), forger.key_id.encode()))
    sig = base64.urlsafe_b64encode(forger.private.sign(line)).rstrip(b"=")
    save_lines(log, lines + [line + b',"sig":"' + sig + b'"}'])
    out = verify(log, keys.public_path, expect=1)
    assert ("line 12 (seq 11): checkpoint signed by key_id %s, not by the given key (key_id %s)"
            % (forger.key_id, keys.key_id)) in out


def test_wrong_key_is_named(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 5)
    other = Keys(workdir, "other")
    out = verify(log, other.public_path, expect=1)
    assert out == ("%s: line 1 (seq 0): checkpoint signed by key_id %s, not by the given key "
                   "(key_id %s): wrong --key, or a forged checkpoint\n"
                   % (log, keys.key_id, other.key_id))
    # Given both (a rotated key), each checkpoint finds its own.
    verify(log, other.public_path, keys.public_path, expect=0)


def test_restart_continues_the_chain(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 10)
    first = read_lines(log)
    write_log(log, keys, 10)
    lines = check_format(log, keys)
    restart = json.loads(lines[len(first)])
    assert restart["reason"] == "restart" and restart["truncated_bytes"] == 0
    assert restart["seq"] == len(first)
    assert restart["prev"] == hashlib.sha256(first[-1]).hexdigest()
    out = verify(log, keys.public_path, "--strict", expect=0)
    assert ": intact: 24 lines (20 decisions, 4 checkpoints), seq 0 to 23, " in out
    assert out.rstrip().endswith(", 1 restart")
    assert "warning" not in out


def test_cut_mid_line_then_continued(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 10)
    lines = read_lines(log)
    cut = lines[:8] + [lines[8][:40]]
    with open(log, "wb") as f:
        f.write(b"".join(line + b"\n" for line in cut[:-1]) + cut[-1])
    out = verify(log, keys.public_path, expect=1)
    assert out == ("%s: line 9: incomplete (40 bytes without a newline): the log was cut in the "
                   "middle of a write\n" % log)

    stderr = write_log(log, keys, 5)
    assert "partial_line_cut" in stderr and "bytes=40" in stderr
    lines = check_format(log, keys)
    assert json.loads(lines[8])["reason"] == "restart"
    assert json.loads(lines[8])["truncated_bytes"] == 40
    assert json.loads(lines[8])["seq"] == 8
    out = verify(log, keys.public_path, expect=0)
    assert out.splitlines()[0] == (
        "%s: warning: line 9 (seq 8): restart after an unclean stop (40 bytes of a partial line "
        "cut): the run before it wrote no close checkpoint (a crash, or a cut); lines after line 1 "
        "(the last signed checkpoint, at %s) may be missing" % (log, json.loads(lines[0])["ts"]))
    assert "1 restart (1 after an unclean stop)" in out.splitlines()[1]
    out = verify(log, keys.public_path, "--strict", expect=1)
    assert "line 9 (seq 8): restart after an unclean stop" in out


def test_live_log_with_open_tail(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    out = subprocess.run([writer_bin(), "--log", log, "--key", keys.private_path, "--lines",
                          "30", "--crash"], capture_output=True, text=True, timeout=60)
    no_sanitizer_report(out.stderr)
    assert json.loads(out.stdout)["lines"] == 30
    out = verify(log, keys.public_path, expect=1)
    assert "the log ends without a close checkpoint: lines after line 1" in out
    out = verify(log, keys.public_path, "--live", expect=0)
    assert "intact so far (live): 31 lines" in out
    assert "30 lines after line 1 (the last checkpoint, at " in out

    # A checkpoint older than its interval plus the margin: the writer has stopped.
    stale = os.path.join(workdir, "stale.log")
    subprocess.run([writer_bin(), "--log", stale, "--key", keys.private_path, "--lines", "3",
                    "--crash", "--interval-ms", "1000", "--clock-offset-ms", "60000"],
                   capture_output=True, check=True, timeout=60)
    out = verify(stale, keys.public_path, "--live", expect=1)
    assert "is older than its interval (1000 ms) plus 5000 ms: lines after line 1 may be" in out


def test_full_filesystem_keeps_the_chain(workdir, keys):
    """A file size limit makes writes fail part-way (EFBIG) as a full disk does (ENOSPC)."""
    log = os.path.join(workdir, "decisions.log")
    stderr = write_log(log, keys, 200, limit_bytes=8192)
    assert "error decision_log write_failed" in stderr and "File too large" in stderr
    closed = re.search(r"closed .* lines=(\d+) dropped=(\d+) write_errors=(\d+)", stderr)
    written, dropped, errors = (int(g) for g in closed.groups())
    assert written + dropped == 200 and dropped > 0 and errors > 0
    assert os.path.getsize(log) <= 8192
    with open(log, "rb") as f:
        assert f.read().endswith(b"\n")  # the part of a line that fitted was cut back off
    lines = check_format(log, keys)
    assert len(lines) == written + 1
    out = verify(log, keys.public_path, expect=1)
    assert "the log ends without a close checkpoint" in out

    # Room again: the next run continues the chain from the last whole line.
    write_log(log, keys, 5)
    check_format(log, keys)
    out = verify(log, keys.public_path, expect=0)
    assert "restart after an unclean stop (0 bytes of a partial line cut)" in out


def test_foreign_file_is_refused_by_the_writer(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    with open(log, "w") as f:
        f.write("not a decision log\n")
    proc = subprocess.run([writer_bin(), "--log", log, "--key", keys.private_path],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "the last line (at byte 0) is not a decision log line" in proc.stderr
    out = verify(log, keys.public_path, expect=1)
    assert out == "%s: line 1: not a decision log line: not a JSON object on one line\n" % log


def test_usage_and_io_errors_exit_2(workdir, keys):
    log = os.path.join(workdir, "decisions.log")
    write_log(log, keys, 1)
    for args in (["audit"], ["audit", "verify", log], ["audit", "verify", "--key",
                 keys.public_path], ["audit", "check", log, "--key", keys.public_path],
                 ["audit", "verify", log, "--key", keys.public_path, "--bogus"],
                 ["audit", "verify", os.path.join(workdir, "missing.log"), "--key",
                  keys.public_path],
                 ["audit", "verify", log, "--key", log]):
        proc = subprocess.run([binary()] + args, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stdout == "" and proc.stderr != ""
    proc = subprocess.run([binary(), "--help"], capture_output=True, text=True, timeout=60)
    assert "audit verify FILE --key PUB" in proc.stdout
