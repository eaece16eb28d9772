#!/usr/bin/python3
"""Reads a proxy's own request counters for bench/jwt.sh, as one line.

    jwt_counters.py portcullis ADMIN_PORT   from portcullis's /metrics on 127.0.0.1
    jwt_counters.py haproxy SOCKET          from haproxy's stats socket (`show stat`)

Prints "ok=N other=N verified=N hits=N": responses with a 2xx status, responses sent with any
other status, and (portcullis only; "-" for haproxy) tokens whose signature was verified and
tokens found in the verified-token cache. bench/jwt.sh reads them before and after each run and
uses the differences: a cross-check of wrk's counts, and which authentication path the run took.

Exits 1, printing nothing, when the proxy does not answer.
"""

import socket
import sys
import urllib.request


def portcullis(port):
    url = "http://127.0.0.1:%d/metrics" % port
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode("utf-8", "replace")
    ok = other = verified = hits = 0
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("portcullis_http_requests_total{"):
            if 'code="2xx"' in name:
                ok += int(value)
            else:
                other += int(value)
        elif name == "portcullis_authn_tokens_verified_total":
            verified = int(value)
        elif name == "portcullis_authn_cache_hits_total":
            hits = int(value)
    return ok, other, verified, hits


def haproxy(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(b"show stat\n")
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    lines = b"".join(chunks).decode("utf-8", "replace").splitlines()
    header = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "bench" and row.get("svname") == "FRONTEND":
            ok = int(row["hrsp_2xx"] or 0)
            other = sum(int(row[k] or 0)
                        for k in ("hrsp_1xx", "hrsp_3xx", "hrsp_5xx", "hrsp_other"))
            # haproxy counts a request the client abandoned half-sent (wrk closing its
            # connections at the end of a run) as a request error with a 400 that is never sent:
            # ereq. Denials (http-request deny, 403) and every other 4xx stay in "other".
            other += max(0, int(row["hrsp_4xx"] or 0) - int(row["ereq"] or 0))
            return ok, other, "-", "-"
    raise LookupError("no FRONTEND row for the frontend \"bench\"")


def main(argv):
    if len(argv) != 3 or argv[1] not in ("portcullis", "haproxy"):
        sys.stderr.write("usage: jwt_counters.py portcullis ADMIN_PORT | haproxy SOCKET\n")
        return 2
    try:
        if argv[1] == "portcullis":
            counts = portcullis(int(argv[2]))
        else:
            counts = haproxy(argv[2])
    except (OSError, ValueError, LookupError, IndexError) as e:
        sys.stderr.write("jwt_counters.py: %s: %s\n" % (argv[1], e))
        return 1
    print("ok=%s other=%s verified=%s hits=%s" % counts)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
