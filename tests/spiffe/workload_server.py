#!/usr/bin/python3
"""A SPIFFE Workload API server for tests: FetchX509SVID and FetchX509Bundles over a Unix socket.

No SPIRE agent can be installed on our machines, so the tests run the client against this
server instead. It follows the public SPIFFE specifications (SPIFFE_Workload_API.md and
SPIFFE_Workload_Endpoint.md in github.com/spiffe/spiffe), not SPIRE's code or behaviour:

- service SpiffeWorkloadAPI from src/tls/workload.proto (no package), served with Debian's
  python3-grpcio; the Python modules are generated at start-up into a temporary directory with
  Debian's protoc and /usr/bin/grpc_python_plugin (nothing generated is kept in the tree);
- every call must carry the metadata workload.spiffe.io: true, else INVALID_ARGUMENT
  (Workload Endpoint section 3);
- the first response is sent at once and a complete new one on every change (section 4.3); the
  stream otherwise stays open.

What it serves is described by DIR/state.json, paths relative to DIR, certificates and keys in
PEM (keys in any form the cryptography package reads; sent as PKCS#8 DER):

    {"svids": [{"spiffe_id": "spiffe://example.org/gw", "chain": "gw.pem", "key": "gw.key",
                "bundle": "ca.pem", "hint": ""}],
     "federated_bundles": {"spiffe://other.org": "other-ca.pem"},
     "bundles": {"spiffe://example.org": "ca.pem", "spiffe://other.org": "other-ca.pem"},
     "crl": ["ca.crl"]}

The state is reloaded and pushed to every open stream on SIGHUP, on the "rotate" command, and
(unless --no-watch) when state.json or any file it names changes. A state that fails to load
is reported and the previous one kept.

Commands, one per line on stdin; FEED is svids, bundles or all (the default) and a fault hits
the streams open at that moment only:

    rotate                 reload the state and push it
    malformed [FEED]       send bytes that are not a protobuf message
    empty [FEED]           send a well-formed response without its mandatory fields
    huge [FEED]            send a 5 MiB response (the client's limit is 4 MiB)
    status CODE [FEED]     end the streams with a gRPC status (name or number) and a message
    close [FEED]           end the streams with status OK
    stall / unstall        from now on, accept calls but send nothing / answer again
    goaway                 shut the gRPC server down (GOAWAY) and serve again on the same socket
    stop / start           stop serving (the socket goes away) / serve again
    quit                   exit

It answers on stdout, one line per event: READY, CALL <method> <n>, REJECTED <method>,
SENT <method> <version>, RELOADED <version>, RELOAD_FAILED <why>, OK <command>, ERROR <why>.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROTO_DIR = os.path.join(ROOT, "src", "tls")
PROTO_FILE = "workload.proto"

METHODS = {"svids": "FetchX509SVID", "bundles": "FetchX509Bundles"}

_print_lock = threading.Lock()


def say(*words):
    with _print_lock:
        print(*words, flush=True)


def load_protos():
    """Compiles workload.proto into a temporary directory and returns (pb2, pb2_grpc)."""
    out = tempfile.mkdtemp(prefix="workload-proto-")
    try:
        subprocess.run(
            ["/usr/bin/protoc", "--proto_path=" + PROTO_DIR, "--python_out=" + out,
             "--grpc_python_out=" + out,
             "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin", PROTO_FILE],
            check=True)
        sys.path.insert(0, out)
        import workload_pb2
        import workload_pb2_grpc
        sys.path.remove(out)
        return workload_pb2, workload_pb2_grpc
    finally:
        shutil.rmtree(out, ignore_errors=True)


PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


def pem_blocks(path, label):
    with open(path, "rb") as f:
        data = f.read()
    blocks = [base64.b64decode(b) for kind, b in PEM_RE.findall(data) if kind.decode() == label]
    if not blocks:
        raise ValueError("%s: no %s block" % (path, label))
    return blocks


def pkcs8_der(path):
    from cryptography.hazmat.primitives import serialization
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class State:
    """One loaded state.json: the serialized responses and the files they came from."""

    def __init__(self, pb2, directory):
        self.directory = directory
        path = os.path.join(directory, "state.json")
        with open(path) as f:
            spec = json.load(f)
        self.files = [path]
        self.svids = self._svids(pb2, spec).SerializeToString()
        self.bundles = self._bundles(pb2, spec).SerializeToString()

    def _path(self, name):
        path = os.path.join(self.directory, name)
        self.files.append(path)
        return path

    def _certs(self, name):
        return b"".join(pem_blocks(self._path(name), "CERTIFICATE"))

    def _crls(self, spec):
        return [b for name in spec.get("crl", []) for b in pem_blocks(self._path(name), "X509 CRL")]

    def _svids(self, pb2, spec):
        resp = pb2.X509SVIDResponse()
        for s in spec.get("svids", []):
            resp.svids.add(spiffe_id=s["spiffe_id"], x509_svid=self._certs(s["chain"]),
                           x509_svid_key=pkcs8_der(self._path(s["key"])),
                           bundle=self._certs(s["bundle"]), hint=s.get("hint", ""))
        for td, name in spec.get("federated_bundles", {}).items():
            resp.federated_bundles[td] = self._certs(name)
        resp.crl.extend(self._crls(spec))
        return resp

    def _bundles(self, pb2, spec):
        resp = pb2.X509BundlesResponse()
        for td, name in spec.get("bundles", {}).items():
            resp.bundles[td] = self._certs(name)
        resp.crl.extend(self._crls(spec))
        return resp

    def fingerprint(self):
        """A digest of every file the state was read from, to notice changes."""
        return files_digest(self.files)


def files_digest(paths):
    h = hashlib.sha256()
    for p in paths:
        try:
            with open(p, "rb") as f:
                h.update(f.read())
        except OSError:
            h.update(b"\0missing\0" + p.encode())
    return h.hexdigest()


class Stream:
    def __init__(self, feed):
        self.feed = feed
        self.events = queue.Queue()


class Service:
    def __init__(self, pb2, directory):
        self.pb2 = pb2
        self.directory = directory
        self.lock = threading.Lock()
        self.state = State(pb2, directory)
        self.version = 1
        self.streams = set()
        self.calls = {"svids": 0, "bundles": 0}
        self.is_stalled = False

    def reload(self):
        try:
            state = State(self.pb2, self.directory)
        except Exception as e:  # a bad file must not take down the server: keep the old state
            say("RELOAD_FAILED", repr(e).replace("\n", " "))
            return
        with self.lock:
            self.state = state
            self.version += 1
            version = self.version
            for s in self.streams:
                s.events.put(("send", version))
        say("RELOADED", version)

    def inject(self, event, feed):
        with self.lock:
            hit = [s for s in self.streams if feed in ("all", s.feed)]
        for s in hit:
            s.events.put(event)
        return len(hit)

    def current(self, feed):
        with self.lock:
            state, version = self.state, self.version
        return (state.svids if feed == "svids" else state.bundles), version

    def handler(self, feed):
        method = METHODS[feed]

        def serve(request, context):
            md = dict(context.invocation_metadata())
            if md.get("workload.spiffe.io") != "true":
                say("REJECTED", method)
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              "security header workload.spiffe.io: true missing")
            stream = Stream(feed)
            with self.lock:
                self.calls[feed] += 1
                n = self.calls[feed]
                self.streams.add(stream)
            say("CALL", method, n)
            try:
                yield from self._follow(stream, context, method)
            finally:
                with self.lock:
                    self.streams.discard(stream)

        return serve

    def _follow(self, stream, context, method):
        if self.is_stalled:
            # A hung endpoint: the call is open and nothing ever comes.
            while context.is_active():
                time.sleep(0.1)
            return
        body, version = self.current(stream.feed)
        yield body
        say("SENT", method, version)
        while context.is_active():
            try:
                event = stream.events.get(timeout=0.2)
            except queue.Empty:
                continue
            kind = event[0]
            if kind == "send":
                body, version = self.current(stream.feed)
                yield body
                say("SENT", method, version)
            elif kind == "raw":
                yield event[1]
            elif kind == "status":
                context.abort(event[1], event[2])
            elif kind == "close":
                return

    def generic_handler(self):
        def raw(b):
            return b

        handlers = {
            METHODS[feed]: grpc.unary_stream_rpc_method_handler(
                self.handler(feed), request_deserializer=req.FromString,
                response_serializer=raw)
            for feed, req in (("svids", self.pb2.X509SVIDRequest),
                              ("bundles", self.pb2.X509BundlesRequest))
        }
        return grpc.method_handlers_generic_handler("SpiffeWorkloadAPI", handlers)


class Server:
    """The gRPC server on the socket, which commands can stop and start again."""

    def __init__(self, service, socket_path):
        self.service = service
        self.socket_path = socket_path
        self.server = None

    def start(self):
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=32),
                                  options=[("grpc.max_send_message_length", 16 << 20)])
        self.server.add_generic_rpc_handlers((self.service.generic_handler(),))
        self.server.add_insecure_port("unix:" + self.socket_path)
        self.server.start()

    def stop(self, grace):
        if self.server is not None:
            self.server.stop(grace).wait()
            self.server = None
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)


def status_code(word):
    if word.isdigit():
        for code in grpc.StatusCode:
            if code.value[0] == int(word):
                return code
    return grpc.StatusCode[word.upper()]


def run_command(line, service, server, pb2):
    words = line.split()
    if not words:
        return True
    cmd, args = words[0], words[1:]
    feed = args[-1] if args and args[-1] in ("svids", "bundles", "all") else "all"
    if cmd == "rotate":
        service.reload()
    elif cmd == "malformed":
        # Field 1 (svids / crl), length-delimited, with a length far past the end.
        service.inject(("raw", b"\x0a\xff\xff\xff\x0f\x01"), feed)
    elif cmd == "empty":
        service.inject(("raw", b""), feed)
    elif cmd == "huge":
        service.inject(("raw", pb2.X509BundlesResponse(crl=[b"\0" * (5 << 20)])
                        .SerializeToString()), feed)
    elif cmd == "status":
        service.inject(("status", status_code(args[0]), "injected by the test"), feed)
    elif cmd == "close":
        service.inject(("close",), feed)
    elif cmd in ("stall", "unstall"):
        service.is_stalled = cmd == "stall"
    elif cmd == "goaway":
        server.stop(0.5)
        server.start()
    elif cmd == "stop":
        server.stop(0)
    elif cmd == "start":
        server.start()
    elif cmd == "quit":
        return False
    else:
        say("ERROR", "unknown command", cmd)
        return True
    say("OK", cmd)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True, help="path of the Unix socket to serve on")
    ap.add_argument("--state", required=True, help="directory holding state.json")
    ap.add_argument("--no-watch", action="store_true", help="reload on SIGHUP or rotate only")
    opts = ap.parse_args()

    pb2, _ = load_protos()
    service = Service(pb2, opts.state)
    server = Server(service, opts.socket)
    reload_asked = threading.Event()
    done = threading.Event()

    signal.signal(signal.SIGHUP, lambda *_: reload_asked.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def read_commands():
        for line in sys.stdin:
            try:
                if not run_command(line, service, server, pb2):
                    break
            except Exception as e:  # report and keep serving: the test decides what it means
                say("ERROR", repr(e).replace("\n", " "))
        done.set()

    threading.Thread(target=read_commands, daemon=True).start()
    server.start()
    say("READY")

    seen = service.state.fingerprint()
    while not done.wait(0.1):
        if reload_asked.is_set():
            reload_asked.clear()
            service.reload()
            seen = service.state.fingerprint()
        elif not opts.no_watch:
            now = files_digest(service.state.files)
            if now != seen:
                service.reload()
                # The reloaded state may name other files; a failed reload waits for the next
                # change rather than retrying every tick.
                seen = service.state.fingerprint() if service.state.fingerprint() == now else now
    server.stop(0)


if __name__ == "__main__":
    main()
