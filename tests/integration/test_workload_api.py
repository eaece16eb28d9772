"""The SPIFFE Workload API client against a Workload API server, both real processes.

tests/spiffe/workload_probe.c (the client on a libuv loop, printing each update and failure as
a JSON line) is built here with AddressSanitizer and UBSan from the client's sources; the server
is tests/spiffe/workload_server.py (Debian python3-grpcio), fed certificates made here with
python3-cryptography. Each test checks behaviour from outside: what the owner is told, what the
client logs, how many calls the server saw.
"""

import datetime
import hashlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPIFFE_DIR = os.path.join(ROOT, "tests", "spiffe")
sys.path.insert(0, SPIFFE_DIR)
import workload_server  # noqa: E402  (for its proto loader, used by the metadata test)

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
PROBE_SOURCES = ["tests/spiffe/workload_probe.c", "src/tls/workload.c", "src/tls/workload_msg.c",
                 "src/tls/workload.pb-c.c", "src/tls/spiffe.c", "src/core/alloc.c",
                 "src/core/arena.c", "src/core/err.c", "src/core/log.c"]
MAX_BACKOFF_MS = 800


@pytest.fixture(scope="module")
def probe_bin():
    """The probe, built with the sanitizers the suite runs under."""
    out = tempfile.mkdtemp(prefix="workload-probe-")
    path = os.path.join(out, "workload_probe")
    pkgs = subprocess.run(["pkg-config", "--cflags", "--libs", "libuv", "openssl", "libnghttp2",
                           "libprotobuf-c"], check=True, capture_output=True, text=True)
    cmd = (["cc", "-std=c11", "-D_GNU_SOURCE", "-g", "-O1", "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-Wall",
            "-Wextra", "-Werror", "-Wno-unused-parameter", "-Isrc", "-o", path]
           + PROBE_SOURCES + pkgs.stdout.split())
    build = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    yield path
    shutil.rmtree(out, ignore_errors=True)


# ---- certificates ----

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject_key, issuer_key, issuer_name, cn, uri, is_ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn)).issuer_name(issuer_name or _name(cn))
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.SubjectAlternativeName(
                   [x509.UniformResourceIdentifier(uri)]), critical=False)
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if not is_ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


class Pki:
    """CAs for example.org and other.org, an SVID for spiffe://example.org/gw, and the server's
    state.json pointing at them. Every change writes new files, then replaces state.json with a
    rename, so a watching server never reads half a rotation."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="workload-state-")
        self.generation = 0
        self.cas = {}
        for td in ("example.org", "other.org"):
            key = ec.generate_private_key(ec.SECP256R1())
            self.cas[td] = (key, _cert(key, key, None, td + " CA", "spiffe://" + td, True))
        self.extra_ca = None
        self.rotate()

    def _write(self, name, data):
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)
        return name

    def rotate(self, spiffe_id="spiffe://example.org/gw"):
        """Issues a new leaf and key and publishes them; returns the leaf's SHA-256 (hex)."""
        self.generation += 1
        g = self.generation
        ca_key, ca_cert = self.cas["example.org"]
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _cert(key, ca_key, ca_cert.subject, "gw", spiffe_id, False)
        self.spiffe_id = spiffe_id
        self.leaf_sha256 = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
        self.chain = self._write("svid-%d.pem" % g, _pem(leaf))
        self.key = self._write("svid-%d.key" % g, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.publish()
        return self.leaf_sha256

    def add_ca(self):
        """Adds a second CA certificate to example.org's bundle (a CA rotation starting)."""
        key = ec.generate_private_key(ec.SECP256R1())
        self.extra_ca = _cert(key, key, None, "example.org CA 2", "spiffe://example.org", True)
        self.publish()

    def publish(self):
        g = self.generation
        local = _pem(self.cas["example.org"][1]) + (_pem(self.extra_ca) if self.extra_ca else b"")
        bundle = self._write("bundle-%d.pem" % g, local)
        other = self._write("other.pem", _pem(self.cas["other.org"][1]))
        state = {
            "svids": [{"spiffe_id": self.spiffe_id, "chain": self.chain, "key": self.key,
                       "bundle": bundle}],
            "federated_bundles": {"spiffe://other.org": other},
            "bundles": {"spiffe://example.org": bundle, "spiffe://other.org": other},
        }
        tmp = os.path.join(self.dir, "state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, os.path.join(self.dir, "state.json"))


# ---- processes ----

class Lines:
    """Lines a process writes, collected by a thread so waits can time out."""

    def __init__(self, stream, parse):
        self.q = queue.Queue()
        self.seen = []     # everything read, in order
        self.pending = []  # read but not yet returned by wait()
        self.parse = parse
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.q.put(self.parse(line))

    def wait(self, pred, timeout=10.0, what="line"):
        """Returns the oldest line not returned before that pred accepts."""
        for i, item in enumerate(self.pending):
            if pred(item):
                return self.pending.pop(i)
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no %s in %ss; seen: %r" % (what, timeout, self.seen[-20:]))
            try:
                item = self.q.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(item)
            if pred(item):
                return item
            self.pending.append(item)

    def drain(self, seconds):
        """Collects whatever arrives for a while; returns it."""
        got = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                item = self.q.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            self.seen.append(item)
            self.pending.append(item)
            got.append(item)
        return got


class Server:
    def __init__(self, socket_path, pki, extra=()):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SPIFFE_DIR, "workload_server.py"),
             "--socket", socket_path, "--state", pki.dir] + list(extra),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            bufsize=1)
        self.out = Lines(self.proc.stdout, lambda line: line.split())
        self.out.wait(lambda w: w == ["READY"], timeout=20, what="READY")

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        cmd = line.split()[0]
        self.out.wait(lambda w: w[:2] == ["OK", cmd] or w[:1] == ["ERROR"], what="OK " + cmd)

    def calls(self, method):
        self.out.drain(0.05)
        return [w for w in self.out.seen if w[:2] == ["CALL", method]]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Probe:
    def __init__(self, binary, endpoint, extra=()):
        self.stderr_path = tempfile.mktemp(prefix="workload-probe-", suffix=".log")
        self.stderr = open(self.stderr_path, "w")
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1")
        self.proc = subprocess.Popen(
            [binary, endpoint, "--max-backoff-ms", str(MAX_BACKOFF_MS)] + list(extra),
            stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env)
        self.out = Lines(self.proc.stdout, json.loads)
        self.out.wait(lambda e: e["event"] == "started", what="start")

    def event(self, kind, pred=lambda e: True, timeout=10.0):
        try:
            return self.out.wait(lambda e: e["event"] == kind and pred(e), timeout, kind)
        except TimeoutError:
            if self.proc.poll() is not None:
                raise AssertionError("probe exited %d:\n%s" % (self.proc.returncode, self.log()))
            raise

    def failures(self):
        return [e for e in self.out.seen if e["event"] == "failure"]

    def log(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self):
        """SIGTERM; the client must close everything and the process exit 0 without leaks."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.stderr.close()
        text = self.log()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, text
        assert self.proc.returncode == 0, text
        os.unlink(self.stderr_path)


@pytest.fixture
def pki():
    p = Pki()
    yield p
    shutil.rmtree(p.dir, ignore_errors=True)


@pytest.fixture
def endpoint():
    # Not pytest's tmp_path: a socket path must fit in 108 bytes.
    d = tempfile.mkdtemp(prefix="workload-sock-")
    yield os.path.join(d, "agent.sock")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def run(probe_bin, pki, endpoint):
    """Starts servers and probes on the test's socket and stops them all afterwards."""
    started = []

    class Runner:
        def server(self, extra=()):
            s = Server(endpoint, pki, extra)
            started.append(s)
            return s

        def probe(self, extra=()):
            p = Probe(probe_bin, "unix://" + endpoint, extra)
            started.append(p)
            return p

    yield Runner()
    for item in reversed(started):
        if isinstance(item, Probe):
            item.stop()
        else:
            item.kill()


def first_svid(probe):
    return probe.event("svids")["svids"][0]


# ---- tests ----

def test_first_svid_carries_identity_key_and_bundles(run, pki):
    server = run.server()
    probe = run.probe()

    svid = first_svid(probe)
    assert svid["spiffe_id"] == "spiffe://example.org/gw"
    assert svid["leaf_sha256"] == pki.leaf_sha256
    assert svid["key_matches"] is True
    assert (svid["chain_certs"], svid["bundle_certs"]) == (1, 1)
    event = probe.out.seen[-1]
    assert event["federated"] == ["other.org"]
    assert len(server.calls("FetchX509SVID")) == 1
    assert "svids_updated" in probe.log()


def test_rotation_follows_the_open_stream(run, pki):
    server = run.server()
    probe = run.probe()
    first = first_svid(probe)["leaf_sha256"]

    rotated = pki.rotate()
    svid = probe.event("svids", lambda e: e["svids"][0]["leaf_sha256"] != first)["svids"][0]

    assert svid["leaf_sha256"] == rotated
    assert svid["key_matches"] is True
    assert probe.failures() == []
    assert len(server.calls("FetchX509SVID")) == 1
    assert probe.log().count(" connected ") == 1


def test_sighup_pushes_a_rotation(run, pki):
    server = run.server(["--no-watch"])
    probe = run.probe()
    first = first_svid(probe)["leaf_sha256"]

    rotated = pki.rotate()
    assert [e for e in probe.out.drain(0.6) if e["event"] == "svids"] == []
    server.proc.send_signal(signal.SIGHUP)

    svid = probe.event("svids", lambda e: e["svids"][0]["leaf_sha256"] != first)["svids"][0]
    assert svid["leaf_sha256"] == rotated
    assert len(server.calls("FetchX509SVID")) == 1


def test_server_restart_reconnects_and_fetches_afresh(run, pki):
    server = run.server()
    probe = run.probe()
    first = first_svid(probe)["leaf_sha256"]

    server.kill()
    lost = probe.event("failure")
    assert lost["reason"] == "unavailable"
    assert lost["kept_leaf_sha256"] == first

    rotated = pki.rotate()
    run.server()
    svid = probe.event("svids", lambda e: e["svids"][0]["leaf_sha256"] == rotated,
                       timeout=15)["svids"][0]
    assert svid["key_matches"] is True
    assert "reason=unavailable" in probe.log()


def test_server_down_at_start_then_appears(run, pki, endpoint):
    probe = run.probe()

    failures = [probe.event("failure") for _ in range(4)]
    assert {f["detail"] for f in failures} == {"connect_failed"}
    assert {f["code"] for f in failures} == {-2}  # ENOENT: no socket yet
    assert [f["attempt"] for f in failures] == [1, 2, 3, 4]
    # Equal jitter: each delay lies between half the ceiling and the ceiling, which doubles
    # from 100 ms up to the cap.
    for f in failures:
        ceiling = min(100 * 2 ** (f["attempt"] - 1), MAX_BACKOFF_MS)
        assert ceiling // 2 <= f["retry_ms"] <= ceiling, f

    run.server()
    svid = first_svid(probe)
    assert svid["leaf_sha256"] == pki.leaf_sha256


def test_refused_connection_is_retried(run, pki, endpoint):
    # A socket file nobody listens on, as a crashed agent leaves behind.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(endpoint)
    stale.close()
    probe = run.probe()

    refused = probe.event("failure")
    assert (refused["detail"], refused["code"]) == ("connect_failed", -111)  # ECONNREFUSED

    run.server()
    assert first_svid(probe)["leaf_sha256"] == pki.leaf_sha256


@pytest.mark.parametrize("fault, detail", [
    ("malformed svids", "malformed_message"),
    ("empty svids", "no_svids"),
    ("huge svids", "message_too_large"),
])
def test_bad_message_is_refused_and_previous_svid_kept(run, pki, fault, detail):
    server = run.server()
    probe = run.probe()
    first = first_svid(probe)["leaf_sha256"]

    server.command(fault)
    failure = probe.event("failure")
    assert (failure["reason"], failure["feed"], failure["detail"]) == (
        "bad_response", "svids", detail)
    assert failure["kept_leaf_sha256"] == first
    assert "reason=bad_response feed=svids detail=%s" % detail in probe.log()

    # The client reconnects and gets the endpoint's current state again.
    again = probe.event("svids", timeout=15)["svids"][0]
    assert again["leaf_sha256"] == first
    assert len(server.calls("FetchX509SVID")) == 2


@pytest.mark.parametrize("status, code, reason", [
    ("UNAVAILABLE", 14, "unavailable"),
    ("INTERNAL", 13, "unavailable"),
    ("PERMISSION_DENIED", 7, "denied"),
    ("INVALID_ARGUMENT", 3, "rejected"),
])
def test_error_status_is_reported_with_its_reason(run, pki, status, code, reason):
    server = run.server()
    probe = run.probe()
    first = first_svid(probe)["leaf_sha256"]

    server.command("status %s svids" % status)
    failure = probe.event("failure")
    assert (failure["reason"], failure["detail"], failure["grpc_status"]) == (
        reason, "grpc_status", code)
    assert failure["kept_leaf_sha256"] == first
    assert "reason=%s feed=svids detail=grpc_status" % reason in probe.log()
    if reason == "rejected":
        # The specification says not to retry these: only one slow attempt, at the ceiling.
        assert failure["retry_ms"] == MAX_BACKOFF_MS
        assert " error " in probe.log()
    assert probe.event("svids", timeout=15)["svids"][0]["leaf_sha256"] == first


def test_stream_ended_with_ok_reconnects(run, pki):
    server = run.server()
    probe = run.probe()
    first_svid(probe)

    server.command("close svids")
    failure = probe.event("failure")
    assert (failure["reason"], failure["detail"], failure["grpc_status"]) == (
        "unavailable", "stream_ended", 0)
    probe.event("svids", timeout=15)
    assert len(server.calls("FetchX509SVID")) == 2


def test_goaway_reconnects(run, pki):
    server = run.server()
    probe = run.probe()
    first = first_svid(probe)["leaf_sha256"]

    server.command("goaway")
    failure = probe.event("failure")
    assert failure["reason"] == "unavailable"
    assert failure["detail"] in ("goaway", "stream_reset", "connection_closed")
    assert probe.event("svids", timeout=15)["svids"][0]["leaf_sha256"] == first


def test_silent_endpoint_is_given_up_on(run, pki):
    server = run.server()
    server.command("stall")
    probe = run.probe(["--first-response-timeout-ms", "500"])

    late = probe.event("failure")
    assert (late["reason"], late["detail"], late["code"]) == (
        "unavailable", "first_response_timeout", -110)  # ETIMEDOUT
    server.command("unstall")
    assert first_svid(probe)["leaf_sha256"] == pki.leaf_sha256
    assert len(server.calls("FetchX509SVID")) >= 2


def test_metadata_is_required_and_sent(run, pki, endpoint):
    server = run.server()
    probe = run.probe()
    first_svid(probe)

    # The server refuses calls without workload.spiffe.io: true ...
    _, pb2_grpc = workload_server.load_protos()
    pb2 = sys.modules["workload_pb2"]
    with __import__("grpc").insecure_channel("unix:" + endpoint) as channel:
        stub = pb2_grpc.SpiffeWorkloadAPIStub(channel)
        with pytest.raises(Exception) as refused:
            next(stub.FetchX509SVID(pb2.X509SVIDRequest(), timeout=5))
        assert refused.value.code().name == "INVALID_ARGUMENT"
        answer = next(stub.FetchX509SVID(pb2.X509SVIDRequest(), timeout=5,
                                         metadata=[("workload.spiffe.io", "true")]))
        assert answer.svids[0].spiffe_id == "spiffe://example.org/gw"

    # ... so the probe's SVID proves the client sends it, and the server never refused it.
    server.out.drain(0.1)
    rejected = [w for w in server.out.seen if w[0] == "REJECTED"]
    assert len(rejected) == 1


def test_bundles_stream_follows_rotation(run, pki):
    server = run.server()
    probe = run.probe(["--bundles", "--no-svids"])

    first = probe.event("bundles")
    assert first["trust_domains"] == ["example.org", "other.org"]
    assert first["certs"] == [1, 1]

    pki.add_ca()
    grown = probe.event("bundles", lambda e: e["certs"] == [2, 1])
    assert grown["trust_domains"] == ["example.org", "other.org"]
    assert server.calls("FetchX509SVID") == []
    assert len(server.calls("FetchX509Bundles")) == 1

    server.command("malformed bundles")
    failure = probe.event("failure")
    assert (failure["reason"], failure["feed"]) == ("bad_response", "bundles")
    probe.event("bundles", timeout=15)


def test_both_streams_share_one_connection(run, pki):
    server = run.server()
    probe = run.probe(["--bundles"])

    probe.event("svids")
    probe.event("bundles")
    assert probe.log().count(" connected ") == 1
    assert len(server.calls("FetchX509SVID")) == 1
    assert len(server.calls("FetchX509Bundles")) == 1
