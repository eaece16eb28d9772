#!/usr/bin/python3
"""Prints bench/jwt.sh's table, its bars and the cost of authentication from its results file.

    jwt_table.py RESULTS.tsv CLK_TCK BAR_CACHED BAR_HAPROXY

RESULTS.tsv has one line per measured run: row, run, status ("ok" or "FAIL(...)"), requests,
duration_us, p50_us, p99_us, cpu_ticks (utime + stime of the proxy's process during the run),
then the proxy's own counts over the run: 2xx responses, other responses, tokens verified and
verified-token cache hits ("-" where the proxy has no such counter).

Per row: the median of the runs (and each run) of req/s, the median p50 and p99, the median CPU
time per request, how busy the proxy's CPU was, and which share of the requests was verified or
answered by the cache. Then the two bars, each a ratio of medians from the same run, and the CPU
time per request that authentication adds to the plain proxying of the same server. Failed runs
are shown but left out of the medians.
"""

import statistics
import sys

PLAIN = "portcullis plain"
CACHED = "portcullis jwt cached"
TTL0 = "portcullis jwt ttl0"
ROTATION_CACHED = "portcullis jwt cached 10k"
ROTATION = "portcullis jwt ttl0 10k"
HAPROXY = "haproxy jwt_verify 10k"
HAPROXY_PLAIN = "haproxy plain 10k"


def number(text):
    return int(text) if text.isdigit() else None


def read_runs(path):
    order, runs = [], {}
    with open(path) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 12:
                continue
            name = cols[0]
            if name not in runs:
                order.append(name)
            vals = [number(c) for c in cols[3:]]
            requests, duration_us, p50_us, p99_us, ticks, ok, other, verified, hits = vals
            runs.setdefault(name, []).append({
                "status": cols[2], "requests": requests or 0, "duration_us": duration_us or 0,
                "p50_us": p50_us or 0, "p99_us": p99_us or 0, "ticks": ticks or 0,
                "verified": verified, "hits": hits,
            })
    return order, runs


def summarize(runs, clk_tck):
    every_rps = [r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
                 for r in runs]
    good = [r for r in runs if r["status"] == "ok" and r["requests"] > 0 and r["duration_us"] > 0]
    if not good:
        return {"ok": False, "every_rps": every_rps, "failed": len(runs)}
    cpu_s = [r["ticks"] / clk_tck for r in good]
    s = {
        "ok": True,
        "failed": len(runs) - len(good),
        "rps": statistics.median(r["requests"] / (r["duration_us"] / 1e6) for r in good),
        "every_rps": every_rps,
        "p50_us": statistics.median(r["p50_us"] for r in good),
        "p99_us": statistics.median(r["p99_us"] for r in good),
        "cpu_us": statistics.median(c * 1e6 / r["requests"] for c, r in zip(cpu_s, good)),
        "busy": statistics.median(c / (r["duration_us"] / 1e6) for c, r in zip(cpu_s, good)),
        "path": "-",
    }
    if all(r["verified"] is not None for r in good):
        verified = sum(r["verified"] for r in good)
        hits = sum(r["hits"] for r in good)
        total = verified + hits
        if total:
            s["path"] = "verified %.0f %%, cache %.0f %%" % (100.0 * verified / total,
                                                            100.0 * hits / total)
        else:
            s["path"] = "no authentication"
    return s


def ms(us):
    return "%.2f ms" % (us / 1000.0)


def print_table(order, stats):
    header = ("row", "req/s (median)", "each run", "p50", "p99", "CPU/req", "proxy CPU busy",
              "tokens (proxy's counters)")
    rows = []
    for n in order:
        s = stats[n]
        each = " ".join("%.0f" % x for x in s["every_rps"])
        if not s["ok"]:
            rows.append((n, "FAILED", each, "-", "-", "-", "-", "-"))
            continue
        rows.append((
            n + (" (%d run(s) failed)" % s["failed"] if s["failed"] else ""),
            "%.0f" % s["rps"], each, ms(s["p50_us"]), ms(s["p99_us"]),
            "%.1f us" % s["cpu_us"], "%.0f %%" % (100 * s["busy"]), s["path"],
        ))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def print_bar(stats, row, base, bar):
    a, b = stats.get(row), stats.get(base)
    if not (a and b and a["ok"] and b["ok"]):
        print("  %s vs %s: no ratio (a row has no successful run)" % (row, base))
        return
    rps = a["rps"] / b["rps"]
    print("  %s vs %s: req/s %.2fx (bar >= %.2fx: %s); CPU/req %.2fx" % (
        row, base, rps, bar, "met" if rps >= bar else "MISSED", a["cpu_us"] / b["cpu_us"]))


def print_cost(stats, row, base, what):
    a, b = stats.get(row), stats.get(base)
    if a and b and a["ok"] and b["ok"]:
        print("  %-58s %+7.1f us  (%s %.1f us - %s %.1f us)" % (
            what, a["cpu_us"] - b["cpu_us"], row, a["cpu_us"], base, b["cpu_us"]))


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    order, runs = read_runs(argv[1])
    clk_tck = int(argv[2])
    bar_cached, bar_haproxy = float(argv[3]), float(argv[4])
    stats = {n: summarize(runs[n], clk_tck) for n in order}

    print_table(order, stats)
    print()
    print("bars (ratios of the medians above, same run):")
    print_bar(stats, CACHED, PLAIN, bar_cached)
    print_bar(stats, ROTATION_CACHED, HAPROXY, bar_haproxy)
    print()
    print("CPU time per request that authentication adds to the same server's plain proxying:")
    print_cost(stats, CACHED, PLAIN, "portcullis, token from the verified-token cache")
    print_cost(stats, TTL0, PLAIN, "portcullis, one verification (one token, cacheTTL 0)")
    print_cost(stats, ROTATION, PLAIN, "portcullis, one verification (10k tokens, cacheTTL 0)")
    print_cost(stats, HAPROXY, HAPROXY_PLAIN, "haproxy, jwt_verify and claim checks (10k tokens)")
    print()
    print("req/s ratios above 1 are faster; CPU/req ratios below 1 are cheaper. CPU/req: utime +")
    print("stime of the proxy's process per request wrk counted (median of runs); proxy CPU busy:")
    print("that CPU time over the run's length (100 % = one core saturated).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
