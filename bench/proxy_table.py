#!/usr/bin/python3
"""Prints bench/proxy.sh's table from its results file.

    proxy_table.py RESULTS.tsv CLK_TCK PROXY...

RESULTS.tsv has one line per measured run: proxy, run, status ("ok" or "FAIL(...)"), requests,
duration_us, p50_us, p99_us, cpu_ticks (utime + stime of the proxy's processes during the run).

Per proxy: the median of the runs (and each run) of req/s, the median p50 and p99, the median CPU
time per request and how busy the proxy's CPU was; then each proxy against nginx: req/s ratio
(above 1 is faster), p99 ratio and CPU-per-request ratio (below 1 is better). Failed runs are
shown but left out of the medians.
"""

import statistics
import sys


def read_runs(path):
    runs = {}
    with open(path) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 8:
                continue
            name, run, status = cols[0], int(cols[1]), cols[2]
            nums = [int(c) if c.isdigit() else 0 for c in cols[3:]]
            requests, duration_us, p50_us, p99_us, ticks = nums
            runs.setdefault(name, []).append({
                "run": run, "status": status, "requests": requests,
                "duration_us": duration_us, "p50_us": p50_us, "p99_us": p99_us, "ticks": ticks,
            })
    return runs


def summarize(runs, clk_tck):
    good = [r for r in runs if r["status"] == "ok" and r["requests"] > 0 and r["duration_us"] > 0]
    every_rps = [r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
                 for r in runs]
    if not good:
        return {"ok": False, "every_rps": every_rps, "failed": len(runs)}
    cpu_s = [r["ticks"] / clk_tck for r in good]
    return {
        "ok": True,
        "failed": len(runs) - len(good),
        "rps": statistics.median(r["requests"] / (r["duration_us"] / 1e6) for r in good),
        "every_rps": every_rps,
        "p50_us": statistics.median(r["p50_us"] for r in good),
        "p99_us": statistics.median(r["p99_us"] for r in good),
        "cpu_us_per_req": statistics.median(
            c * 1e6 / r["requests"] for c, r in zip(cpu_s, good)),
        "cpu_busy": statistics.median(
            c / (r["duration_us"] / 1e6) for c, r in zip(cpu_s, good)),
    }


def ms(us):
    return "%.2f ms" % (us / 1000.0)


def ratio(a, b):
    return "%.2fx" % (a / b) if b else "-"


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    runs = read_runs(argv[1])
    clk_tck = int(argv[2])
    names = argv[3:]
    stats = {n: summarize(runs.get(n, []), clk_tck) for n in names}
    base = stats.get("nginx")
    base = base if base and base["ok"] else None

    header = ("proxy", "req/s (median)", "each run", "p50", "p99", "req/s vs nginx",
              "p99 vs nginx", "CPU/req", "CPU/req vs nginx", "proxy CPU busy")
    rows = []
    for n in names:
        s = stats[n]
        each = " ".join("%.0f" % x for x in s["every_rps"])
        if not s["ok"]:
            rows.append((n, "FAILED", each, "-", "-", "-", "-", "-", "-", "-"))
            continue
        rows.append((
            n + (" (%d run(s) failed)" % s["failed"] if s["failed"] else ""),
            "%.0f" % s["rps"], each, ms(s["p50_us"]), ms(s["p99_us"]),
            ratio(s["rps"], base["rps"]) if base else "-",
            ratio(s["p99_us"], base["p99_us"]) if base else "-",
            "%.1f us" % s["cpu_us_per_req"],
            ratio(s["cpu_us_per_req"], base["cpu_us_per_req"]) if base else "-",
            "%.0f %%" % (100 * s["cpu_busy"]),
        ))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print()
    print("req/s vs nginx above 1 is faster; p99 and CPU/req vs nginx below 1 is better.")
    print("CPU/req: utime+stime of the proxy's processes per request wrk counted (median of runs);")
    print("proxy CPU busy: that CPU time over the run's length (100 % = one core saturated).")
    if base is None and "nginx" in names:
        print("nginx had no successful run: no ratios.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
