"""A stand-in for an OPA server: the REST Data API's "Get a Document (with Input)" on the
standard library, for the authorization tests.

No OPA binary can be installed on the test machines (Debian packages none, and the suite takes
nothing from other registries), so this server follows the documented API instead:

  POST /v1/data/<path>   Content-Type: application/json, body {"input": <document>}
    200 {"result": <value>}   the document at <path> evaluated against the input
    200 {}                    the document is undefined: the "result" member is left out
    400 {"code": "invalid_parameter", "message": ...}   the body is not a JSON object
    404 {"code": "resource_not_found", ...}             a method or a path the API does not have
    500 {"code": "internal_error", "message": ...}      the server failed

The policies are Python callables, one per data path ("portcullis/authz" for
/v1/data/portcullis/authz), given the input document and returning the result, or UNDEFINED for
an undefined document; a path without a policy is undefined, as in OPA. Every call is recorded
(method, path, Content-Type, the input), so that tests can check what the gateway sent and count
its calls.

Faults, set per data path, make the server misbehave the ways a decision point can:
  "slow"       the answer comes SLOW_SECONDS late (past any timeout the tests configure)
  "malformed"  200 with a body that is not JSON
  "500"        500 with OPA's error object
  "undefined"  200 {} whatever the policy says
and stop() takes the whole server down: the listener and every open connection are closed, so
that a gateway's pooled keep-alive connections break too. Given a certificate and key, it serves
HTTPS instead.

ThreadedServer, the threaded HTTP/1.1 server underneath (keep-alive, connections tracked so that
stop() can cut them), is also what the HTTP check service of the tests is built on.
"""

import http.server
import json
import socket
import socketserver
import ssl
import threading
import time

SLOW_SECONDS = 2.0


class _Undefined:
    def __repr__(self):
        return "UNDEFINED"


UNDEFINED = _Undefined()


class _TrackingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, handler, tls=None):
        self.open_sockets = set()
        self.sockets_lock = threading.Lock()
        self.tls = tls
        super().__init__(("127.0.0.1", 0), handler)

    def process_request_thread(self, request, client_address):
        with self.sockets_lock:
            self.open_sockets.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(request)

    def finish_request(self, request, client_address):
        if self.tls is not None:
            # In the connection's own thread: a failed handshake ends this connection only.
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def cut_connections(self):
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ThreadedServer:
    """An HTTP/1.1 server on 127.0.0.1 (a kernel-chosen port) in a thread of this process; with
    tls, a (certificate chain path, key path) pair, it serves HTTPS.

    handle(handler, body) is called for each request (a BaseHTTPRequestHandler whose command,
    path and headers are read, and the request body as bytes) and returns (status, headers as a
    list of pairs, body bytes), or None when it has written the answer itself (or nothing)."""

    def __init__(self, tls=None):
        owner = self
        context = None
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
        self.scheme = "https" if tls is not None else "http"

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = owner.handle(self, body)
                if answer is None:
                    return
                status, headers, data = answer
                try:
                    self.send_response(status)
                    for k, v in headers:
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = serve

        self.server = _TrackingServer(Handler, context)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.is_running = True

    @property
    def base_url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def handle(self, handler, body):
        raise NotImplementedError

    def stop(self):
        """Closes the listener and cuts every open connection."""
        if not self.is_running:
            return
        self.is_running = False
        self.server.shutdown()
        self.server.server_close()
        self.server.cut_connections()


def _json(status, doc):
    return status, [("Content-Type", "application/json")], json.dumps(doc).encode()


class OpaServer(ThreadedServer):
    """OPA's Data API with Python policies. policies: {data path: callable(input) -> result or
    UNDEFINED}; faults: {data path: "slow" | "malformed" | "500" | "undefined"}, both changeable
    while it runs; tls as ThreadedServer takes it."""

    def __init__(self, policies=None, faults=None, tls=None):
        self.policies = dict(policies or {})
        self.faults = dict(faults or {})
        self.lock = threading.Lock()
        self.calls = []
        super().__init__(tls)

    def url(self, path):
        """The data URL of a path, as a policy's opa.url names it."""
        return "%s/v1/data/%s" % (self.base_url, path)

    def inputs(self, path=None):
        """The input documents received so far (for one data path, or all)."""
        with self.lock:
            return [c["input"] for c in self.calls if path is None or c["path"] == path]

    def count(self, path=None):
        with self.lock:
            return sum(1 for c in self.calls if path is None or c["path"] == path)

    def handle(self, handler, body):
        target = handler.path.split("?", 1)[0]
        if handler.command != "POST" or not target.startswith("/v1/data/"):
            return _json(404, {"code": "resource_not_found",
                               "message": "%s %s is not served" % (handler.command, target)})
        path = target[len("/v1/data/"):].strip("/")
        # Strict RFC 8259: one JSON value and nothing after it. OPA releases differ on trailing
        # bytes, so a client that sends any is wrong with some of them.
        try:
            doc = json.loads(body.decode("utf-8")) if body else {}
        except ValueError as e:
            return _json(400, {"code": "invalid_parameter",
                               "message": "body contains malformed input document: %s" % e})
        if not isinstance(doc, dict):
            return _json(400, {"code": "invalid_parameter",
                               "message": "body contains malformed input document"})
        with self.lock:
            self.calls.append({"path": path, "method": handler.command,
                               "content_type": handler.headers.get("Content-Type"),
                               "input": doc.get("input"), "has_input": "input" in doc})
            fault = self.faults.get(path)
            policy = self.policies.get(path)
        if fault == "slow":
            time.sleep(SLOW_SECONDS)
        elif fault == "malformed":
            return 200, [("Content-Type", "application/json")], b'{"result": {"allow": tru'
        elif fault == "500":
            return _json(500, {"code": "internal_error",
                               "message": "evaluation failed: storage unavailable"})
        elif fault == "undefined":
            return _json(200, {})
        result = UNDEFINED if policy is None else policy(doc.get("input"))
        if result is UNDEFINED:
            return _json(200, {})
        return _json(200, {"result": result})
