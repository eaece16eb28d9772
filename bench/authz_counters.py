#!/usr/bin/python3
"""Reads portcullis's own counters for bench/authz.sh from its /metrics, as one line.

    authz_counters.py ADMIN_PORT [--settle SECONDS]

Prints "ok=N other=N allowed=N decisions=N lines=N dropped=N write_errors=N unrecorded=N
verified=N hits=N":
  ok, other      responses with a 2xx status, and with any other (portcullis_http_requests_total)
  allowed        authorization decisions that allowed (portcullis_authz_decisions_total)
  decisions      authorization decisions of every effect
  lines          decision lines written to the decision log (portcullis_decision_log_lines_total;
                 "-" when the process has no decision log)
  dropped        decision lines lost: queue full, record refused, unwritable at close
  write_errors   failed writes and fsyncs of the decision log
  unrecorded     decisions whose line could not be built (portcullis_authz_decisions_unrecorded)
  verified, hits tokens verified and found in the verified-token cache (authentication)

With --settle, the decision log's writer is given up to SECONDS to catch up first: /metrics is
read again every 20 ms until every decision is written or dropped (lines + dropped equal to
decisions), and the last reading is printed. The lines counter only moves once a line has
reached the file, so a reading right after a run may still be short by the lines in the queue.

Exits 1, printing nothing, when the gateway does not answer; exits 3, printing the last reading,
when the writer does not catch up within SECONDS.
"""

import sys
import time
import urllib.request


def read(port):
    url = "http://127.0.0.1:%d/metrics" % port
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode("utf-8", "replace")
    c = {"ok": 0, "other": 0, "allowed": 0, "decisions": 0, "lines": "-", "dropped": "-",
         "write_errors": "-", "unrecorded": 0, "verified": 0, "hits": 0}
    simple = {
        "portcullis_decision_log_lines_total": "lines",
        "portcullis_decision_log_dropped_total": "dropped",
        "portcullis_decision_log_write_errors_total": "write_errors",
        "portcullis_authz_decisions_unrecorded_total": "unrecorded",
        "portcullis_authn_tokens_verified_total": "verified",
        "portcullis_authn_cache_hits_total": "hits",
    }
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("portcullis_http_requests_total{"):
            c["ok" if 'code="2xx"' in name else "other"] += int(value)
        elif name.startswith("portcullis_authz_decisions_total{"):
            c["decisions"] += int(value)
            if 'effect="allowed"' in name:
                c["allowed"] += int(value)
        elif name in simple:
            c[simple[name]] = int(value)
    return c


def caught_up(c):
    return c["lines"] == "-" or c["lines"] + c["dropped"] >= c["decisions"]


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--settle"):
        sys.stderr.write("usage: authz_counters.py ADMIN_PORT [--settle SECONDS]\n")
        return 2
    settle = float(argv[3]) if len(argv) == 4 else 0.0
    deadline = time.monotonic() + settle
    try:
        c = read(int(argv[1]))
        while settle > 0 and not caught_up(c) and time.monotonic() < deadline:
            time.sleep(0.02)
            c = read(int(argv[1]))
    except (OSError, ValueError) as e:
        sys.stderr.write("authz_counters.py: %s\n" % e)
        return 1
    print(" ".join("%s=%s" % (k, c[k]) for k in (
        "ok", "other", "allowed", "decisions", "lines", "dropped", "write_errors", "unrecorded",
        "verified", "hits")))
    return 0 if caught_up(c) else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
