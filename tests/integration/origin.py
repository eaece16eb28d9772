#!/usr/bin/python3
"""A real HTTP/1.1 origin for the integration tests, on the standard library only.

It listens on 127.0.0.1 (port 0 unless given), prints "PORT <n>" on stdout once ready, and
serves until killed. Every answer says which origin answered (the --name given), so that tests
can tell backends apart.

  /echo...            JSON: method, raw target, headers (in order), body length and SHA-256
  /status/<n>         an empty answer with that status (no Content-Length for 1xx and 204)
  /status/<n>?length=N   the same, declaring Content-Length N without a body (for 304)
  /big?bytes=N        N bytes with Content-Length, written in 64 KiB pieces
  /chunked?bytes=N    N bytes with Transfer-Encoding: chunked
  /close-delimited?bytes=N   N bytes, no length, then close (HTTP/1.0 style)
  /slow?ms=N          answers after N milliseconds
  /drip?bytes=N&ms=M  N bytes, one 1 KiB piece every M milliseconds
  /hold?ms=N          waits N ms before reading the request body, then echoes
  /close              closes the connection without answering
  /truncate           promises 100 bytes, sends 10, closes
  /ws                 a WebSocket echo (RFC 6455 handshake, text and binary frames) when the
                      request asks for an upgrade; a plain echo otherwise
  /count              JSON {"served": n, "completed": m, "connections": c}: how many request
                      heads this origin has read, how many requests it read whole (head and
                      body), and how many connections carried any of them, not counting /count
                      itself (tests ask it directly, not through the gateway)

HEAD requests get the head the GET would have and no body.

With --tls-cert and --tls-key it serves HTTPS instead, and with --client-ca it requires client
certificates from that CA; /echo then also reports the SHA-256 of the client's certificate.
"""

import argparse
import base64
import hashlib
import json
import socketserver
import ssl
import threading
import time
import urllib.parse

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

counts_lock = threading.Lock()
counts = {"served": 0, "completed": 0, "connections": 0}


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


def read_head(rfile):
    line = rfile.readline(65537)
    if not line:
        return None
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3:
        raise ValueError("bad request line %r" % line)
    headers = []
    while True:
        h = rfile.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers.append((name, value.strip()))
    return Request(parts[0], parts[1], parts[2], headers)


def read_body(rfile, req):
    te = req.header("transfer-encoding")
    if te is not None and te.lower() == "chunked":
        chunks = []
        while True:
            size_line = rfile.readline()
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunk = rfile.read(size)
            if len(chunk) < size:
                raise ConnectionError("request body cut short")
            chunks.append(chunk)
            rfile.readline()
        return b"".join(chunks)
    length = req.header("content-length")
    if length:
        body = rfile.read(int(length))
        if len(body) < int(length):
            raise ConnectionError("request body cut short")
        return body
    return b""


def count(path, what):
    """Counts a request head read ("served"), a request read whole ("completed") or the first
    request of a connection ("connections")."""
    with counts_lock:
        if path != "/count":
            counts[what] += 1
        return dict(counts)


class Handler(socketserver.StreamRequestHandler):
    name = "origin"
    is_head = False

    def send(self, status, body=b"", headers=(), reason="OK"):
        head = "HTTP/1.1 %d %s\r\n" % (status, reason)
        head += "x-origin: %s\r\n" % self.name
        for k, v in headers:
            head += "%s: %s\r\n" % (k, v)
        head += "content-length: %d\r\n\r\n" % len(body)
        self.wfile.write(head.encode("latin-1") + (b"" if self.is_head else body))
        self.wfile.flush()

    def handle(self):
        self.is_counted = False
        try:
            while self.serve_one():
                pass
        except (ConnectionError, ValueError, OSError):
            pass

    def serve_one(self):
        req = read_head(self.rfile)
        if req is None:
            return False
        url = urllib.parse.urlsplit(req.target)
        query = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        count(path, "served")
        if not self.is_counted and path != "/count":
            self.is_counted = True
            count(path, "connections")
        self.is_head = req.method == "HEAD"
        if path.startswith("/hold"):
            time.sleep(int(query.get("ms", "0")) / 1000)
        if path == "/ws" and req.header("upgrade") is not None:
            return self.websocket(req)
        body = read_body(self.rfile, req)
        now = count(path, "completed")
        if path == "/count":
            self.send(200, json.dumps(now).encode(), [("content-type", "application/json")])
            return False
        if path == "/close":
            return False
        if path == "/truncate":
            self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
            self.wfile.flush()
            return False
        if path.startswith("/status/"):
            return self.status(int(path.split("/")[2]), query.get("length"))
        if path == "/slow":
            time.sleep(int(query.get("ms", "0")) / 1000)
        if path in ("/big", "/chunked", "/close-delimited", "/drip"):
            return self.stream(path, int(query.get("bytes", "0")), int(query.get("ms", "0")))
        self.echo(req, body)
        return req.header("connection") != "close"

    def status(self, status, length):
        """An empty answer; 1xx and 204 carry no Content-Length (RFC 9110 section 8.6), and
        `length` declares one without sending the body (what a 304 may do)."""
        head = "HTTP/1.1 %d Status\r\nx-origin: %s\r\n" % (status, self.name)
        if length is not None:
            head += "content-length: %s\r\n" % length
        elif status >= 200 and status != 204:
            head += "content-length: 0\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n")
        self.wfile.flush()
        return True

    def echo(self, req, body):
        doc = {
            "origin": self.name,
            "method": req.method,
            "target": req.target,
            "version": req.version,
            "headers": [[k, v] for k, v in req.headers],
            "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        peer = getattr(self.connection, "getpeercert", None)
        if peer is not None:
            der = self.connection.getpeercert(binary_form=True)
            doc["client_cert_sha256"] = hashlib.sha256(der).hexdigest() if der else None
        self.send(200, json.dumps(doc).encode(), [("content-type", "application/json")])

    def stream(self, path, size, interval_ms):
        piece = bytes((i % 251 for i in range(65536)))
        if path == "/chunked":
            self.wfile.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        elif path == "/close-delimited":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
        else:
            self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
        if self.is_head:
            self.wfile.flush()
            return path != "/close-delimited"
        sent = 0
        step = 1024 if path == "/drip" else len(piece)
        while sent < size:
            n = min(step, size - sent)
            data = piece[:n]
            if path == "/chunked":
                self.wfile.write(b"%x\r\n" % n + data + b"\r\n")
            else:
                self.wfile.write(data)
            sent += n
            if interval_ms:
                self.wfile.flush()
                time.sleep(interval_ms / 1000)
        if path == "/chunked":
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        return path != "/close-delimited"

    def websocket(self, req):
        key = req.header("sec-websocket-key")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.wfile.write(
            ("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
             "connection: Upgrade\r\nsec-websocket-accept: %s\r\n\r\n" % accept).encode())
        self.wfile.flush()
        while True:
            frame = read_ws_frame(self.rfile)
            if frame is None:
                return False
            opcode, payload = frame
            if opcode == 8:
                self.wfile.write(ws_frame(8, payload))
                self.wfile.flush()
                return False
            self.wfile.write(ws_frame(opcode, payload))
            self.wfile.flush()


def read_ws_frame(rfile):
    head = rfile.read(2)
    if len(head) < 2:
        return None
    opcode = head[0] & 0x0F
    masked = head[1] & 0x80
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(rfile.read(2), "big")
    elif length == 127:
        length = int.from_bytes(rfile.read(8), "big")
    mask = rfile.read(4) if masked else b"\0\0\0\0"
    data = bytearray(rfile.read(length))
    for i in range(len(data)):
        data[i] ^= mask[i % 4]
    return opcode, bytes(data)


def ws_frame(opcode, payload, mask=None):
    head = bytearray([0x80 | opcode])
    mbit = 0x80 if mask else 0
    if len(payload) < 126:
        head.append(mbit | len(payload))
    elif len(payload) < 65536:
        head.append(mbit | 126)
        head += len(payload).to_bytes(2, "big")
    else:
        head.append(mbit | 127)
        head += len(payload).to_bytes(8, "big")
    if mask:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(head) + payload


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512
    tls = None  # an ssl.SSLContext when serving HTTPS

    def finish_request(self, request, client_address):
        if self.tls is not None:
            # The handshake runs in the request's own thread, so a slow or failing client
            # does not hold up the others; a failed one just ends this connection.
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="origin")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM chain")
    parser.add_argument("--tls-key", help="and this PEM key")
    parser.add_argument("--client-ca", help="require client certificates issued by this CA")
    args = parser.parse_args()
    Handler.name = args.name
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        server.tls = ctx
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
