#!/usr/bin/env bash
# Memory per idle keep-alive client connection: portcullis against nginx and haproxy.
#
# What is measured: how much the resident memory (VmRSS of the proxy process and its children)
# grows per client connection that made one request, got its response and now waits idle with
# keep-alive; over 10,000 such connections, for each proxy in turn, in front of the same origin
# (bench/lib.sh has the configurations; bench/proxy.sh uses the same ones).
#
# How, for each proxy (one at a time; the others are not running):
#   1. start it, with limits that let 10,000 idle connections stay: portcullis a
#      ClientTrafficPolicy `timeouts.idle: 300s`; nginx keepalive_timeout 300s and
#      worker_connections; haproxy maxconn and timeout http-keep-alive / client 300s; all raise
#      their open-file limit;
#   2. bench/idle_client.py makes one request on a warm-up connection, reads RSS, opens the
#      10,000 connections (one full request and response each, then idle), waits, reads RSS
#      again and checks that every connection is still open;
#   3. KiB per connection = (RSS after - RSS before) / connections; the proxy is stopped.
# The bar for portcullis is 2 KiB per idle connection (nginx was measured at about 0.5 KiB,
# haproxy about 1.1 KiB). Kernel socket buffers are not in RSS and not counted, for any proxy.
#
# Exits 1 if a proxy cannot be started or measured, if any connection failed or was closed
# during the measurement (the figure would be wrong), or if a proxy does not exit cleanly on
# SIGTERM once its connections are closed. Missing the bar is a result, not a failure.
#
# Usage: bench/idle_conns.sh [-n CONNECTIONS] [-b BINARY] [-w WORKERS] [options]
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONNECTIONS=10000
WORKERS=1
SETTLE=2
CONCURRENCY=1
PROXIES=(portcullis nginx haproxy)
PC_BIN="$REPO_DIR/build/portcullis"
PROXY_CPUS=""
LOAD_CPUS=""
BAR_KIB=2

usage() {
    cat <<EOF
usage: bench/idle_conns.sh [options]

  -n, --connections N        idle client connections (default $CONNECTIONS)
  -w, --workers N            workers of every proxy (default $WORKERS)
  -b, --binary PATH          portcullis binary (default build/portcullis)
      --settle SECONDS       wait before each RSS reading (default $SETTLE)
      --concurrency N        exchanges in progress at once while opening (default $CONCURRENCY)
      --proxies "A B C"      subset to run, in this order (default "${PROXIES[*]}")
      --proxy-cpus LIST      taskset CPUs of the proxies (default 1)
      --load-cpus LIST       taskset CPUs of the origin and the client (default 0)
      --keep                 keep the run directory (configurations, logs)
EOF
}

# is_count VALUE MIN: VALUE is a whole number of at least MIN.
is_count() {
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ]
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
        -n | --connections) CONNECTIONS=$2; shift 2 ;;
        -w | --workers) WORKERS=$2; shift 2 ;;
        -b | --binary) PC_BIN=$2; shift 2 ;;
        --settle) SETTLE=$2; shift 2 ;;
        --concurrency) CONCURRENCY=$2; shift 2 ;;
        --proxies) read -ra PROXIES <<<"$2"; shift 2 ;;
        --proxy-cpus) PROXY_CPUS=$2; shift 2 ;;
        --load-cpus) LOAD_CPUS=$2; shift 2 ;;
        --keep) KEEP_RUN_DIR=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
        esac
    done
    is_count "$CONNECTIONS" 100 || die "--connections: expected a whole number >= 100"
    is_count "$WORKERS" 1 || die "--workers: expected a whole number >= 1"
    is_count "$CONCURRENCY" 1 || die "--concurrency: expected a whole number >= 1"
    [[ "$SETTLE" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--settle: expected seconds"
    PC_BIN="$(realpath "$PC_BIN")"
}

# field NAME LINE: the value of NAME=value in idle_client.py's RESULT line.
field() {
    sed -n "s/.*[ ]$1=\([-0-9.]*\).*/\1/p" <<<" $2"
}

# measure NAME: starts the proxy, runs the idle client against it, stops it. Appends a line to
# results.tsv: name, status, n, ok, errors, closed, rss_before, rss_after, anon_before,
# anon_after, open_seconds.
measure() {
    local name=$1
    local out="$RUN_DIR/idle-$name.txt" rc=0 admin=() result status=ok
    start_proxy "$name"
    say "$name on 127.0.0.1:${PROXY_PORT[$name]} (pid ${PROXY_PID[$name]}): opening" \
        "$CONNECTIONS idle connections"
    [ "$name" != portcullis ] || admin=(--admin-port "$PORTCULLIS_ADMIN_PORT")

    run_tracked "$out" taskset -c "$LOAD_CPUS" timeout -k 5 300 \
        /usr/bin/python3 "$BENCH_DIR/idle_client.py" --port "${PROXY_PORT[$name]}" \
        --pid "${PROXY_PID[$name]}" -n "$CONNECTIONS" --settle "$SETTLE" \
        --concurrency "$CONCURRENCY" "${admin[@]}" || rc=$?
    sed '/^RESULT /d; s/^/  /' "$out" >&2
    result="$(grep '^RESULT ' "$out" || true)"

    if [ "$rc" -ne 0 ] || [ -z "$result" ]; then
        fail_loudly "$name: the idle client could not measure (exit $rc)"
        status="FAIL(client)"
    else
        local errors closed gauge
        errors="$(field errors "$result")"
        closed="$(field closed "$result")"
        gauge="$(field gauge_open "$result")"
        if [ "$errors" -gt 0 ]; then
            fail_loudly "$name: $errors of $CONNECTIONS connections failed (see above)"
            status="FAIL(errors)"
        fi
        if [ "$closed" -gt 0 ]; then
            fail_loudly "$name: $closed idle connections were closed by the proxy during the measurement"
            status="FAIL(closed)"
        fi
        if [ "$gauge" -ge 0 ] && [ "$gauge" -ne $((CONNECTIONS + 1)) ]; then
            say "  note: portcullis_connections_open read $gauge while the client held" \
                "$((CONNECTIONS + 1)) connections"
        elif [ "$gauge" -ge 0 ]; then
            say "  portcullis_connections_open while idle: $gauge, as the client holds"
        fi
    fi
    if ! is_running "${PROXY_PID[$name]}"; then
        fail_loudly "$name (pid ${PROXY_PID[$name]}) died during the measurement; its log: ${PROXY_LOG[$name]}"
        tail -n 20 "${PROXY_LOG[$name]}" >&2 || true
        status="FAIL(died)"
    fi
    if ! stop_proxy "$name" && [ "$status" = ok ]; then
        status="FAIL(stop)"
    fi

    local f values=()
    for f in n ok errors closed rss_before_kib rss_after_kib anon_before_kib anon_after_kib \
        open_seconds; do
        values+=("$(field "$f" "$result")")
    done
    (IFS=$'\t'; printf '%s\n' "$name"$'\t'"$status"$'\t'"${values[*]}") >>"$RUN_DIR/results.tsv"
}

print_table() {
    /usr/bin/python3 - "$RUN_DIR/results.tsv" "$BAR_KIB" <<'EOF'
import sys

rows, bar = [], float(sys.argv[2])
for line in open(sys.argv[1]):
    c = line.rstrip("\n").split("\t")
    name, status, nums = c[0], c[1], c[2:]
    if status != "ok" or not all(nums):
        rows.append((name, status, None))
        continue
    n, ok, errors, closed, before, after, anon_before, anon_after = map(int, nums[:8])
    rows.append((name, status, {
        "n": n, "before": before, "after": after,
        "per_conn": (after - before) / n, "anon_per_conn": (anon_after - anon_before) / n,
    }))
base = next((r[2] for r in rows if r[0] == "nginx" and r[2]), None)

header = ("proxy", "RSS before", "RSS after", "KiB/conn", "anon KiB/conn", "vs nginx", "status")
table = [header]
for name, status, r in rows:
    if r is None:
        table.append((name, "-", "-", "-", "-", "-", status))
        continue
    vs = "%.2fx" % (r["per_conn"] / base["per_conn"]) if base and base["per_conn"] > 0 else "-"
    table.append((name, "%.1f MiB" % (r["before"] / 1024), "%.1f MiB" % (r["after"] / 1024),
                  "%.2f" % r["per_conn"], "%.2f" % r["anon_per_conn"], vs, status))
widths = [max(len(t[i]) for t in table) for i in range(len(header))]
for t in table:
    print("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())
print()
print("KiB/conn = (VmRSS after - VmRSS before) / connections, VmRSS summed over the proxy's")
print("processes; anon KiB/conn: the same for RssAnon (heap and stacks only).")
pc = next((r for r in rows if r[0] == "portcullis"), None)
if pc and pc[2]:
    verdict = "met" if pc[2]["per_conn"] <= bar else "NOT met"
    print("portcullis bar <= %.0f KiB per idle connection: %s (%.2f KiB)"
          % (bar, verdict, pc[2]["per_conn"]))
EOF
}

main() {
    parse_args "$@"
    require_tools nginx haproxy taskset
    check_binary
    default_cpu_layout
    POOL_SIZE=64
    MAX_CONNS=$((CONNECTIONS + 2000))
    raise_fd_limit $((CONNECTIONS + 500))
    init_run

    print_environment
    say "layout: proxy on CPU $PROXY_CPUS, origin and client on CPU $LOAD_CPUS; $WORKERS" \
        "worker(s); $CONNECTIONS idle connections; open-file limit $FD_LIMIT"
    start_origin
    : >"$RUN_DIR/results.tsv"
    local name
    for name in "${PROXIES[@]}"; do
        measure "$name"
    done
    is_running "$ORIGIN_PID" || fail_loudly "the origin died during the runs"

    echo
    print_table
    if [ "$FAILED" -ne 0 ]; then
        say "FAILED: see the messages above; logs are in $RUN_DIR"
        exit 1
    fi
}

main "$@"
