"""Small HTTP/1.1 clients for the tests: a parsed one over http.client, a raw-socket one for
what well-behaved clients never send, and one over TLS with the versions, ciphers, ALPN, SNI,
client certificate and session the test chooses."""

import http.client
import json
import socket
import ssl
import time
import warnings


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


def raw_closed(port, data, timeout=5.0):
    """Like raw(), and also says how it ended: returns (bytes, closed), closed being whether
    the peer closed (EOF or reset) rather than `timeout` passing with nothing new."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    chunks = []
    closed = False
    try:
        s.sendall(data)
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not b:
                closed = True
                break
            chunks.append(b)
        return b"".join(chunks), closed
    finally:
        s.close()


def read_response(sock, timeout=10.0, head_only=False):
    """Reads one response from sock: (status, headers dict, body, bytes read past it).
    head_only: the answer to a HEAD request, which has no body whatever its headers say."""
    sock.settimeout(timeout)
    data = b""
    while True:
        one = parse_one(data, head_only)
        if one is not None:
            return one
        b = sock.recv(65536)
        if not b:
            raise ConnectionError("closed before a whole response: %r" % data[:300])
        data += b


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


def parse_one(data, head_only=False, at_eof=False):
    """Parses the first response in data: (status, headers dict, body, rest), or None while it
    is incomplete. A body delimited by close is complete only at_eof."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    lines = data[:head_end].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    rest = data[head_end + 4:]
    if head_only or status in (204, 304) or status < 200:
        return status, headers, b"", rest
    if headers.get("transfer-encoding") == "chunked":
        return parse_chunked(status, headers, rest)
    if "content-length" in headers:
        n = int(headers["content-length"])
        if len(rest) < n:
            return None
        return status, headers, rest[:n], rest[n:]
    if not at_eof:
        return None
    return status, headers, rest, b""


def parse_chunked(status, headers, rest):
    """The chunked body at the start of rest: (status, headers, body, what follows), or None
    while it is incomplete. Extensions and trailers are skipped."""
    pieces = []
    pos = 0
    while True:
        line_end = rest.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(rest[pos:line_end].split(b";")[0], 16)
        pos = line_end + 2
        if size == 0:
            end = rest.find(b"\r\n", pos)
            while end > pos:  # a trailer line: skip to the empty line ending the trailers
                pos = end + 2
                end = rest.find(b"\r\n", pos)
            if end < 0:
                return None
            return status, headers, b"".join(pieces), rest[end + 2:]
        if len(rest) < pos + size + 2:
            return None
        pieces.append(rest[pos:pos + size])
        pos += size + 2


def parse_responses(data):
    """Splits a byte stream (read until the peer closed) into responses:
    [(status, headers dict, body)], honouring Content-Length and chunked framing; stops at the
    first incomplete one."""
    out = []
    while data:
        one = parse_one(data, at_eof=True)
        if one is None:
            break
        status, headers, body, data = one
        out.append((status, headers, body))
    return out


class SocketReader:
    """A file-like read(n) over a socket that returns exactly n bytes (fewer only at EOF),
    starting with bytes already read past a response head; for origin.read_ws_frame."""

    def __init__(self, sock, pending=b""):
        self.sock = sock
        self.pending = pending

    def read(self, n):
        while len(self.pending) < n:
            b = self.sock.recv(65536)
            if not b:
                break
            self.pending += b
        out, self.pending = self.pending[:n], self.pending[n:]
        return out


def rss_bytes(pid):
    """A process's resident set size, from /proc/PID/status (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for %d" % pid)


# --- TLS ---

def tls_context(ca=None, cert=None, minimum=ssl.TLSVersion.TLSv1_2, maximum=None,
                alpn=("http/1.1",), ciphers=None, check_hostname=True):
    """A client context. ca: PEM text (str or bytes) of the roots to verify the server with, or
    None to accept any server certificate; cert: (chain path, key path) to present; minimum and
    maximum: ssl.TLSVersion bounds; alpn: protocols to offer (empty: no ALPN); ciphers: an
    OpenSSL TLS 1.2 cipher list (OpenSSL's security level 0 is allowed, so that legacy versions
    and ciphers are really offered and the server is the one to refuse them)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cadata=ca.decode() if isinstance(ca, bytes) else ca)
        ctx.check_hostname = check_hostname
    if cert is not None:
        ctx.load_cert_chain(*cert)
    if ciphers is not None or (minimum is not None and minimum < ssl.TLSVersion.TLSv1_2):
        ctx.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")
    with warnings.catch_warnings():
        # Python deprecates TLS 1.0 and 1.1; tests still offer them, to see them refused.
        warnings.simplefilter("ignore", DeprecationWarning)
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def tls_connect(port, ctx, sni=None, session=None, timeout=10.0):
    """A TLS connection to 127.0.0.1:port after a completed handshake (SNI sni, or none), or the
    ssl.SSLError / OSError of a failed one."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return ctx.wrap_socket(sock, server_hostname=sni, session=session)
    except BaseException:
        sock.close()
        raise


def send_request(sock, path="/echo", host="example.com", headers=None, method="GET"):
    """Writes one request (no body) on sock and reads its response: (status, headers, body)."""
    head = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, host)
    for k, v in (headers or {}).items():
        head += "%s: %s\r\n" % (k, v)
    sock.sendall((head + "\r\n").encode("latin-1"))
    status, hdrs, body, _ = read_response(sock, head_only=method == "HEAD")
    return status, hdrs, body


def tls_request(port, ctx, sni=None, host=None, path="/echo", headers=None):
    """One request on a fresh TLS connection: (status, headers, body). Host defaults to the
    SNI name, else example.com."""
    with tls_connect(port, ctx, sni) as sock:
        return send_request(sock, path, host or sni or "example.com", headers)


def tls_echo(port, ctx, sni=None, host=None, path="/echo", headers=None):
    """tls_request to the origin's echo: (status, headers, parsed JSON or None)."""
    status, headers, body = tls_request(port, ctx, sni, host, path, headers)
    try:
        return status, headers, json.loads(body)
    except ValueError:
        return status, headers, None
