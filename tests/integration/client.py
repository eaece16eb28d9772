"""Small HTTP/1.1 clients for the tests: a parsed one over http.client and a raw-socket one
for what well-behaved clients never send."""

import http.client
import json
import socket
import time


def request(port, method="GET", path="/", headers=None, body=None, host="example.com",
            timeout=10.0):
    """One request on a fresh connection. Returns (status, headers dict lower-cased, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        hdrs = {"Host": host}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def echo(port, path="/echo", **kw):
    """A request to the origin's echo; returns (status, headers, parsed JSON or None)."""
    status, headers, body = request(port, path=path, **kw)
    try:
        return status, headers, json.loads(body)
    except ValueError:
        return status, headers, None


def header_values(doc, name):
    """Every value of header `name` (any case) the origin saw, in order."""
    return [v for k, v in doc["headers"] if k.lower() == name]


def raw(port, data, timeout=5.0, shutdown=False):
    """Sends bytes and reads until the peer closes or `timeout` passes with nothing new."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        s.settimeout(timeout)
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def is_closed(sock, timeout=2.0):
    """Whether the peer closed sock (EOF or reset) within timeout, reading what comes first."""
    sock.settimeout(timeout)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            b = sock.recv(65536)
            if not b:
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
    return False


def parse_responses(data):
    """Splits a byte stream into responses: [(status, headers dict, body)], honouring
    Content-Length and chunked framing; stops at the first incomplete one."""
    out = []
    while data:
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            break
        lines = data[:head_end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        rest = data[head_end + 4:]
        if "content-length" in headers:
            n = int(headers["content-length"])
            body, data = rest[:n], rest[n:]
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                line_end = rest.find(b"\r\n")
                size = int(rest[:line_end], 16)
                rest = rest[line_end + 2:]
                if size == 0:
                    rest = rest[rest.find(b"\r\n") + 2:]
                    break
                body += rest[:size]
                rest = rest[size + 2:]
            data = rest
        else:
            body, data = (b"" if status in (204, 304) or status < 200 else rest), b""
        out.append((status, headers, body))
    return out
