#!/usr/bin/python3
"""Prints bench/authz.sh's table and its bar verdict from its results file.

    authz_table.py RESULTS.tsv CLK_TCK BAR_PCT

RESULTS.tsv has one line per measured run: variant, run, status ("ok" or "FAIL(...)"),
requests, duration_us, p50_us, p99_us, cpu_ticks (utime + stime of the gateway, every thread,
during the run), the part of them spent off the workers (the decision log's writer), then the gateway's own counts over the run: 2xx responses, other responses,
allowed decisions, decision log lines written and dropped ("-" without a decision log).

Per variant: the median of the runs (and each run) of req/s, the median p50 and p99, the median
CPU time per request, how busy the gateway's CPU was, the overhead against the first variant
(plain proxying) in req/s and in CPU/req, and what the decision log wrote. Then the bar for the
second variant (native rules, no decision log) on CPU/req and on req/s, each a ratio of medians
from the same run, with the per-run pairs beside it (run i of a variant against run i of plain:
the runs are interleaved, so a pair shares the machine's state); the same figures for the third
(the rules with the decision log), reported and not held to the bar; and what the decision log
and authentication add. Failed runs are shown but left out of the medians.
"""

import statistics
import sys


def number(text):
    return int(text) if text.isdigit() else None


def read_runs(path):
    order, runs = [], {}
    with open(path) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 14:
                continue
            name = cols[0]
            if name not in runs:
                order.append(name)
            vals = [number(c) for c in cols[3:]]
            (requests, duration_us, p50_us, p99_us, ticks, others, ok, other, allowed, lines,
             dropped) = vals
            runs.setdefault(name, []).append({
                "run": int(cols[1]), "status": cols[2], "requests": requests or 0,
                "duration_us": duration_us or 0, "p50_us": p50_us or 0, "p99_us": p99_us or 0,
                "ticks": ticks or 0, "others": others or 0, "ok": ok or 0, "lines": lines,
                "dropped": dropped,
            })
    return order, runs


def good(r):
    return r["status"] == "ok" and r["requests"] > 0 and r["duration_us"] > 0


def rps(r):
    return r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0


def cpu_us(r, clk_tck):
    return r["ticks"] / clk_tck * 1e6 / r["requests"]


def summarize(runs, clk_tck):
    every_rps = [rps(r) for r in runs]
    ok_runs = [r for r in runs if good(r)]
    if not ok_runs:
        return {"ok": False, "every_rps": every_rps, "failed": len(runs)}
    s = {
        "ok": True,
        "failed": len(runs) - len(ok_runs),
        "rps": statistics.median(rps(r) for r in ok_runs),
        "every_rps": every_rps,
        "p50_us": statistics.median(r["p50_us"] for r in ok_runs),
        "p99_us": statistics.median(r["p99_us"] for r in ok_runs),
        "cpu_us": statistics.median(cpu_us(r, clk_tck) for r in ok_runs),
        "others_us": statistics.median(r["others"] / clk_tck * 1e6 / r["requests"]
                                       for r in ok_runs),
        "every_cpu": [cpu_us(r, clk_tck) if r["requests"] else 0.0 for r in runs],
        "busy": statistics.median(r["ticks"] / clk_tck / (r["duration_us"] / 1e6)
                                  for r in ok_runs),
        "log": "-",
        "runs": {r["run"]: r for r in ok_runs},
    }
    if all(r["lines"] is not None for r in ok_runs):
        lines = sum(r["lines"] for r in ok_runs)
        ok = sum(r["ok"] for r in ok_runs)
        dropped = sum(r["dropped"] or 0 for r in ok_runs)
        s["log"] = "%d lines for %d 2xx, %d dropped" % (lines, ok, dropped)
    return s


def ms(us):
    return "%.2f ms" % (us / 1000.0)


def pct(a, b):
    return "%+.1f %%" % (100.0 * (a / b - 1.0))


def print_table(order, stats):
    base = stats[order[0]]
    header = ("variant", "req/s (median)", "each run", "p50", "p99", "CPU/req", "each run",
              "off workers", "CPU busy", "req/s vs plain", "CPU/req vs plain",
              "decision log (over the runs)")
    rows = []
    for n in order:
        s = stats[n]
        each = " ".join("%.0f" % x for x in s["every_rps"])
        if not s["ok"]:
            rows.append((n, "FAILED", each) + ("-",) * 9)
            continue
        each_cpu = " ".join("%.2f" % x for x in s["every_cpu"])
        vs = (pct(s["rps"], base["rps"]), pct(s["cpu_us"], base["cpu_us"])) if base["ok"] \
            else ("-", "-")
        rows.append((
            n + (" (%d run(s) failed)" % s["failed"] if s["failed"] else ""),
            "%.0f" % s["rps"], each, ms(s["p50_us"]), ms(s["p99_us"]), "%.2f us" % s["cpu_us"],
            each_cpu, "%.2f us" % s["others_us"], "%.0f %%" % (100 * s["busy"])) + vs
            + (s["log"],))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def paired(a, b, clk_tck):
    """Per-run overheads of a against b (runs of the same round), CPU/req and req/s, in %."""
    cpu, slower = [], []
    for run, ra in sorted(a["runs"].items()):
        rb = b["runs"].get(run)
        if rb is None:
            continue
        cpu.append(100.0 * (cpu_us(ra, clk_tck) / cpu_us(rb, clk_tck) - 1.0))
        slower.append(100.0 * (1.0 - rps(ra) / rps(rb)))
    return cpu, slower


def print_overhead(a, b, bar_pct, clk_tck):
    """a against b: CPU/req and req/s overheads of the medians, and of each pair of runs;
    with a verdict when bar_pct is given."""
    if not (a["ok"] and b["ok"]):
        print("  no figures: a variant has no successful run")
        return
    cpu_over = 100.0 * (a["cpu_us"] / b["cpu_us"] - 1.0)
    rps_over = 100.0 * (1.0 - a["rps"] / b["rps"])
    cpu_pairs, rps_pairs = paired(a, b, clk_tck)

    def verdict(over):
        if bar_pct is None:
            return "reported"
        return "met" if over <= bar_pct else "MISSED"

    print("  CPU/req: %+.1f %% (%.2f us against %.2f us): %s   per run: %s (median %+.1f %%)" % (
        cpu_over, a["cpu_us"], b["cpu_us"], verdict(cpu_over),
        " ".join("%+.1f" % x for x in cpu_pairs),
        statistics.median(cpu_pairs) if cpu_pairs else float("nan")))
    print("  req/s:   %+.1f %% fewer (%.0f against %.0f): %s   per run: %s (median %+.1f %%)" % (
        rps_over, a["rps"], b["rps"], verdict(rps_over),
        " ".join("%+.1f" % x for x in rps_pairs),
        statistics.median(rps_pairs) if rps_pairs else float("nan")))


def print_bar(order, stats, bar_pct, clk_tck):
    if len(order) < 2:
        return
    base = order[0]
    print("the bar: %s adds at most %d %% to %s, same run:" % (order[1], bar_pct, base))
    print_overhead(stats[order[1]], stats[base], bar_pct, clk_tck)
    if len(order) >= 3:
        print("%s against %s, same run (not held to the bar):" % (order[2], base))
        print_overhead(stats[order[2]], stats[base], None, clk_tck)


def print_cost(stats, row, base, what):
    a, b = stats.get(row), stats.get(base)
    if a and b and a["ok"] and b["ok"]:
        print("  %-44s %+6.2f us  (%s %.2f us - %s %.2f us)" % (
            what, a["cpu_us"] - b["cpu_us"], row, a["cpu_us"], base, b["cpu_us"]))


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    order, runs = read_runs(argv[1])
    clk_tck = int(argv[2])
    bar_pct = int(argv[3])
    if not order:
        print("no measured run")
        return 0
    stats = {n: summarize(runs[n], clk_tck) for n in order}

    print_table(order, stats)
    print()
    print_bar(order, stats, bar_pct, clk_tck)
    print()
    print("CPU time per request, differences of the medians above:")
    names = order + [None] * 4
    print_cost(stats, names[1], names[0], "rules alone")
    print_cost(stats, names[2], names[0], "rules and the decision log")
    print_cost(stats, names[2], names[1], "the decision log alone")
    if names[3]:
        print_cost(stats, names[3], names[0], "authentication (cached), rules and the log")
    print()
    print("vs plain: req/s and CPU/req against the first variant, + is more. CPU/req: utime +")
    print("stime of the gateway (every thread, the decision log's writer included) per request")
    print("wrk counted, median of the runs; off workers: the part of it spent on threads other")
    print("than the workers (the decision log's writer); CPU busy: that CPU time over the run's")
    print("length (100 % = one core saturated).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
