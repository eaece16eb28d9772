#!/usr/bin/python3
"""Idle keep-alive client for bench/idle_conns.sh: how much resident memory a proxy needs per
client connection that made one request and now waits, idle, with keep-alive.

    idle_client.py --port PORT --pid PID [-n 10000] [--concurrency 200] [--settle 2]
                   [--admin-port PORT] [--deadline 180]

Steps:
 1. one warm-up connection makes a request (the proxy connects to the origin, fills its pool
    and allocates whatever it allocates once); it stays open;
 2. after --settle seconds, RSS before: VmRSS (and RssAnon) of PID and its children;
 3. N connections, at most --concurrency in progress at a time, each sends
    `GET / HTTP/1.1` and reads the full response (status 200, Content-Length body), then stays
    open and idle;
 4. after --settle seconds, RSS after;
 5. checks that every connection is still open (no EOF, no reset, nothing unexpected to read);
    with --admin-port, also reads portcullis_connections_open from portcullis's /metrics;
 6. closes everything and prints one line:
      RESULT n=... ok=... errors=... closed=... rss_before_kib=... rss_after_kib=...
             anon_before_kib=... anon_after_kib=... open_seconds=... gauge_open=...

Exits 0 when it could measure (errors are in the RESULT line for the caller to judge), 1 when
it could not (the proxy refused the warm-up, the deadline passed, too few file descriptors).
Standard library only; one thread, epoll through selectors.
"""

import argparse
import errno
import os
import resource
import select
import selectors
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procinfo  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: portcullis-idle-bench\r\n\r\n"
MAX_HEAD = 16384


class Conn:
    """One client connection: connecting, then sending, then reading, then idle."""

    __slots__ = ("sock", "state", "sent", "buf", "need")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connect"
        self.sent = 0
        self.buf = b""
        self.need = -1  # total response bytes once the head is parsed


def parse_head(buf):
    """Returns (total response length, error) once buf holds the whole head; (-1, None) before."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return (-1, "head too long") if len(buf) > MAX_HEAD else (-1, None)
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or parts[0] != "HTTP/1.1":
        return -1, "bad status line %r" % lines[0][:60]
    if parts[1] != "200":
        return -1, "status %s" % parts[1]
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and "close" in value:
            return -1, "proxy answered Connection: close"
    if length is None:
        return -1, "no Content-Length"
    return end + 4 + length, None


def step(conn):
    """Advances conn as far as its socket allows. Returns None, "idle" or an error text."""
    s = conn.sock
    if conn.state == "connect":
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            return "connect: %s" % os.strerror(err)
        conn.state = "send"
    if conn.state == "send":
        try:
            conn.sent += s.send(REQUEST[conn.sent:])
        except BlockingIOError:
            return None
        except OSError as e:
            return "send: %s" % e.strerror
        if conn.sent < len(REQUEST):
            return None
        conn.state = "read"
        return None
    try:
        data = s.recv(65536)
    except BlockingIOError:
        return None
    except OSError as e:
        return "recv: %s" % e.strerror
    if not data:
        return "closed before the response ended"
    conn.buf += data
    if conn.need < 0:
        conn.need, err = parse_head(conn.buf)
        if err:
            return err
    if 0 <= conn.need <= len(conn.buf):
        if len(conn.buf) > conn.need:
            return "bytes after the response"
        conn.state = "idle"
        conn.buf = b""
        return "idle"
    return None


def start_connect(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rc = s.connect_ex(("127.0.0.1", port))
    if rc not in (0, errno.EINPROGRESS):
        s.close()
        raise OSError(rc, os.strerror(rc))
    return Conn(s)


def open_idle(port, n, concurrency, deadline):
    """Opens n connections, each making one exchange. Returns (idle sockets, error counts)."""
    sel = selectors.DefaultSelector()
    idle, errors = [], {}
    started = in_flight = 0

    def fail(conn, why):
        errors[why] = errors.get(why, 0) + 1
        sel.unregister(conn.sock)
        conn.sock.close()

    while len(idle) + sum(errors.values()) < n:
        while in_flight < concurrency and started < n:
            try:
                conn = start_connect(port)
            except OSError as e:
                errors["connect: %s" % e.strerror] = errors.get("connect: %s" % e.strerror, 0) + 1
                started += 1
                continue
            sel.register(conn.sock, selectors.EVENT_WRITE, conn)
            started += 1
            in_flight += 1
        if time.monotonic() > deadline:
            raise TimeoutError("%d of %d connections done at the deadline" % (len(idle), n))
        for key, _ in sel.select(timeout=1.0):
            conn = key.data
            outcome = step(conn)
            if outcome is None:
                want = selectors.EVENT_READ if conn.state == "read" else selectors.EVENT_WRITE
                if key.events != want:
                    sel.modify(conn.sock, want, conn)
                continue
            in_flight -= 1
            if outcome == "idle":
                sel.unregister(conn.sock)
                idle.append(conn.sock)
            else:
                fail(conn, outcome)
    sel.close()
    return idle, errors


def count_closed(socks):
    """Connections the proxy closed (or that have anything unexpected to read) by now."""
    ep = select.epoll(sizehint=len(socks) + 1)
    for s in socks:
        ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
    ready = ep.poll(0, maxevents=len(socks) + 1)
    ep.close()
    return len(ready)


def gauge_open(admin_port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("portcullis_connections_open"):
                    return int(float(line.split()[-1]))
    except OSError:
        pass
    return -1


def warm_up(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(REQUEST)
    buf = b""
    need = -1
    while need < 0 or len(buf) < need:
        data = s.recv(65536)
        if not data:
            raise OSError("warm-up connection closed before the response ended")
        buf += data
        if need < 0:
            need, err = parse_head(buf)
            if err:
                raise OSError("warm-up: " + err)
    return s


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise OSError("open-file limit %d is below the %d this needs" % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True, help="the proxy's listening port")
    ap.add_argument("--pid", type=int, required=True, help="the proxy's process (and children)")
    ap.add_argument("-n", "--connections", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=200, help="exchanges in progress at once")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds before each RSS reading")
    ap.add_argument("--admin-port", type=int, default=0, help="portcullis admin port")
    ap.add_argument("--deadline", type=float, default=180.0, help="give up after this many s")
    args = ap.parse_args()

    try:
        raise_nofile(args.connections)
        warm = warm_up(args.port)
        time.sleep(args.settle)
        rss_before = procinfo.rss_kib(args.pid)
        anon_before = procinfo.rss_kib(args.pid, "RssAnon")

        t0 = time.monotonic()
        idle, errors = open_idle(args.port, args.connections, args.concurrency,
                                 t0 + args.deadline)
        open_seconds = time.monotonic() - t0

        time.sleep(args.settle)
        rss_after = procinfo.rss_kib(args.pid)
        anon_after = procinfo.rss_kib(args.pid, "RssAnon")
        closed = count_closed(idle + [warm])
        gauge = gauge_open(args.admin_port) if args.admin_port else -1
    except (OSError, TimeoutError) as e:
        print("idle_client: %s" % e, file=sys.stderr)
        return 1

    for s in idle:
        s.close()
    warm.close()
    for why, count in sorted(errors.items()):
        print("idle_client: %d connection(s) failed: %s" % (count, why), file=sys.stderr)
    print("RESULT n=%d ok=%d errors=%d closed=%d rss_before_kib=%d rss_after_kib=%d "
          "anon_before_kib=%d anon_after_kib=%d open_seconds=%.1f gauge_open=%d"
          % (args.connections, len(idle), sum(errors.values()), closed, rss_before, rss_after,
             anon_before, anon_after, open_seconds, gauge))
    return 0


if __name__ == "__main__":
    sys.exit(main())
