#!/usr/bin/env bash
# Keep-alive reverse-proxy benchmark: portcullis against nginx and haproxy, same origin, same run.
#
# What is measured: requests per second, median (p50) and 99th percentile (p99) latency, and the
# CPU time each proxy spends per request, when wrk drives CONNECTIONS keep-alive connections
# through a proxy to an origin that answers every request with 13 bytes.
#
# How:
#   - one origin, nginx with `return 200`, one worker;
#   - three proxies in front of it, each with WORKERS workers and a keep-alive upstream pool:
#     portcullis (--workers), nginx (worker_processes, upstream keepalive, HTTP/1.1 upstream)
#     and haproxy (nbthread, http-reuse always, option http-keep-alive), none logging;
#   - CPU layout (2 cores): every proxy is pinned to CPU 1 and has it alone while it is measured
#     (only one proxy is under load at a time); the origin and wrk share CPU 0. The proxy is the
#     thing measured, so it gets a whole core and cannot steal from, or be slowed by, the load
#     generator; the origin's `return 200` is cheap next to proxying, which handles two
#     connections per request. If wrk + origin saturate CPU 0 first, req/s is capped by them for
#     all three proxies alike: the "proxy CPU %" column shows it (well under 100 %), and CPU per
#     request stays the fair comparison.
#   - after a warm-up run per proxy, REPEATS measured runs each, interleaved (A B C A B C ...) so
#     slow drift of the machine spreads over all proxies;
#   - CPU per request: utime + stime of the proxy process and its children (nginx's workers) from
#     /proc/PID/stat, before and after each run, over the requests wrk counted. It barely depends
#     on what else runs on the machine, unlike req/s.
#
# A run fails (exit 1) if a process cannot be started, wrk cannot run, a proxy dies, gives wrk
# any socket error or status >= 400, or answers a probe wrongly (such figures are not
# comparable), or if a proxy does not exit cleanly on SIGTERM at the end. A proxy being slower
# than nginx is a result, not a failure.
#
# Usage: bench/proxy.sh [-d SECONDS] [-c CONNECTIONS] [-w WORKERS] [-b BINARY] [options]
#        (bench/proxy.sh --help lists them all)
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=10
CONNECTIONS=50
WORKERS=1
REPEATS=3
WARMUP=2
PROXIES=(portcullis nginx haproxy)
PC_BIN="$REPO_DIR/build/portcullis"
PROXY_CPUS=""
LOAD_CPUS=""
WRK_ARGS=()
WANT_TLS=0

usage() {
    cat <<EOF
usage: bench/proxy.sh [options]

  -d, --duration SECONDS     length of each measured run (default $DURATION)
  -c, --connections N        wrk keep-alive connections (default $CONNECTIONS)
  -w, --workers N            workers of every proxy (default $WORKERS)
  -b, --binary PATH          portcullis binary (default build/portcullis)
  -r, --repeats N            measured runs per proxy, interleaved (default $REPEATS)
      --warmup SECONDS       unmeasured run per proxy first (default $WARMUP; 0: none)
      --proxies "A B C"      subset to run, in this order (default "${PROXIES[*]}")
      --proxy-cpus LIST      taskset CPUs of the proxies (default 1)
      --load-cpus LIST       taskset CPUs of the origin and wrk (default 0)
      --tls                  clients speak TLS to the proxies (portcullis and nginx only)
      --close                one request per connection (wrk sends Connection: close): with
                             --tls, every request is a TLS handshake, resumed with the ticket
                             wrk kept from the connection before
      --no-tickets           with --tls, the proxies issue no session tickets, so every
                             handshake is a full one (portcullis's count of resumptions is
                             checked to stay 0)
      --keep                 keep the run directory (configurations, logs, wrk output)
EOF
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
        -d | --duration) DURATION=$2; shift 2 ;;
        -c | --connections) CONNECTIONS=$2; shift 2 ;;
        -w | --workers) WORKERS=$2; shift 2 ;;
        -b | --binary) PC_BIN=$2; shift 2 ;;
        -r | --repeats) REPEATS=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --proxies) read -ra PROXIES <<<"$2"; shift 2 ;;
        --proxy-cpus) PROXY_CPUS=$2; shift 2 ;;
        --load-cpus) LOAD_CPUS=$2; shift 2 ;;
        --keep) KEEP_RUN_DIR=1; shift ;;
        --tls) WANT_TLS=1; shift ;;
        --no-tickets) TLS_TICKETS=0; shift ;;
        --close) WRK_ARGS=(-H "Connection: close"); shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
        esac
    done
    local n
    for n in "$DURATION" "$CONNECTIONS" "$WORKERS" "$REPEATS" "$WARMUP"; do
        [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got \"$n\""
    done
    for n in "$DURATION" "$CONNECTIONS" "$WORKERS" "$REPEATS"; do
        [ "$n" -ge 1 ] || die "duration, connections, workers and repeats must be >= 1"
    done
    PC_BIN="$(realpath "$PC_BIN")"
}

# run_wrk PORT SECONDS OUT: wrk pinned to the load CPUs, bounded in time; its output goes to OUT.
run_wrk() {
    local port=$1 seconds=$2 out=$3 threads
    threads="$(cpu_count "$LOAD_CPUS")"
    [ "$threads" -le "$CONNECTIONS" ] || threads=$CONNECTIONS
    run_tracked "$out" taskset -c "$LOAD_CPUS" timeout -k 5 $((seconds + 30)) \
        wrk -t "$threads" -c "$CONNECTIONS" -d "${seconds}s" --timeout 2s --latency \
        ${WRK_ARGS[@]+"${WRK_ARGS[@]}"} -s "$BENCH_DIR/wrk_report.lua" \
        "$(scheme)://127.0.0.1:$port/"
}

# field NAME LINE: the value of NAME=value in wrk_report.lua's RESULT line.
field() {
    sed -n "s/.*[ ]$1=\([0-9]*\).*/\1/p" <<<"$2"
}

# check_proxy NAME WHEN: the proxy still runs and still answers 200 with the origin's body.
check_proxy() {
    local name=$1 when=$2 answer
    if ! is_running "${PROXY_PID[$name]}"; then
        fail_loudly "$name (pid ${PROXY_PID[$name]}) is no longer running $when; its log: ${PROXY_LOG[$name]}"
        tail -n 20 "${PROXY_LOG[$name]}" >&2 || true
        return 1
    fi
    answer="$(probe "${PROXY_PORT[$name]}")"
    if [ "$answer" != "200 $ORIGIN_BODY_LEN $ORIGIN_BODY" ]; then
        fail_loudly "$name answered a probe $when with \"$answer\" instead of 200 \"$ORIGIN_BODY\""
        return 1
    fi
}

# measure NAME RUN: one run of DURATION seconds (RUN 0 is the warm-up, not recorded). Appends a
# line to results.tsv: name, run, status, requests, duration_us, p50_us, p99_us, cpu_ticks.
measure() {
    local name=$1 run=$2 seconds=$DURATION out result status=ok
    [ "$run" -gt 0 ] || seconds=$WARMUP
    out="$RUN_DIR/wrk-$name-$run.txt"
    DEAD["$name"]=${DEAD["$name"]:-0}
    if [ "${DEAD[$name]}" -ne 0 ]; then
        printf '%s\t%s\tFAIL(not running)\t0\t0\t0\t0\t0\n' "$name" "$run" >>"$RUN_DIR/results.tsv"
        return 0
    fi

    local ticks_before ticks_after rc=0
    ticks_before="$(tree_cpu_ticks "${PROXY_PID[$name]}" 2>/dev/null || echo 0)"
    run_wrk "${PROXY_PORT[$name]}" "$seconds" "$out" || rc=$?
    ticks_after="$(tree_cpu_ticks "${PROXY_PID[$name]}" 2>/dev/null || echo "$ticks_before")"

    result="$(grep '^RESULT ' "$out" || true)"
    if [ "$rc" -ne 0 ] || [ -z "$result" ]; then
        fail_loudly "$name run $run: wrk failed (exit $rc); its output:"
        cat "$out" >&2
        status="FAIL(wrk)"
        result="RESULT requests=0 duration_us=0 p50_us=0 p99_us=0"
    fi

    local errors=0 kind n
    for kind in connect read write timeout; do
        n="$(field "err_$kind" "$result")"
        if [ "${n:-0}" -gt 0 ]; then
            fail_loudly "$name run $run: wrk counted $n socket $kind errors"
            errors=$((errors + n))
        fi
    done
    n="$(field err_status "$result")"
    if [ "${n:-0}" -gt 0 ]; then
        fail_loudly "$name run $run: $n responses with status >= 400 (non-2xx); the origin only answers 200"
        status="FAIL(non-2xx)"
    fi
    [ "$errors" -eq 0 ] || status="FAIL(socket errors)"
    if ! check_proxy "$name" "after run $run"; then
        status="FAIL(proxy)"
        is_running "${PROXY_PID[$name]}" || DEAD["$name"]=1
    fi

    [ "$run" -gt 0 ] || return 0
    local requests duration_us p50_us p99_us ticks=$((ticks_after - ticks_before))
    requests="$(field requests "$result")"
    duration_us="$(field duration_us "$result")"
    p50_us="$(field p50_us "$result")"
    p99_us="$(field p99_us "$result")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$run" "$status" "$requests" \
        "$duration_us" "$p50_us" "$p99_us" "$ticks" >>"$RUN_DIR/results.tsv"
    say "  $name run $run: $(describe_run "$requests" "$duration_us" "$p99_us" "$ticks"): $status"
}

# Requests by status code as portcullis's own /metrics counted them: a cross-check of wrk.
report_portcullis_metrics() {
    local metrics
    metrics="$(curl -s --max-time 5 "http://127.0.0.1:$PORTCULLIS_ADMIN_PORT/metrics" || true)"
    [ -n "$metrics" ] || { say "portcullis /metrics did not answer"; return 0; }
    say "portcullis /metrics after the runs:"
    grep -E '^portcullis_(http_requests_total|upstream_[a-z_]*_total|requests_rejected_total|client_timeouts_total|out_of_memory_total|tls_handshakes_total|tls_resumed_total)' \
        <<<"$metrics" | grep -v ' 0$' | sed 's/^/  /' >&2 || true
    # A request still in flight when wrk stops is abandoned by wrk, and the gateway records it
    # as nginx does, 499 (client closed); wrk itself counts every 4xx it receives as a failure.
    # So 4xx are allowed up to one per connection per wrk run, anything else is a failure.
    local bad aborted runs
    bad="$(grep -E '^portcullis_http_requests_total\{.*code="[^24]' <<<"$metrics" \
        | grep -v ' 0$' || true)"
    [ -z "$bad" ] || fail_loudly "portcullis counted non-2xx responses: $bad"
    aborted="$(awk '/^portcullis_http_requests_total\{.*code="4xx"/ {n += $2} END {print n + 0}' \
        <<<"$metrics")"
    runs=$((REPEATS + (WARMUP > 0 ? 1 : 0)))
    if [ "$aborted" -gt $((CONNECTIONS * runs)) ]; then
        fail_loudly "portcullis counted $aborted 4xx responses, more than the $((CONNECTIONS * runs)) requests wrk can leave in flight when its $runs runs stop"
    elif [ "$aborted" -gt 0 ]; then
        say "  ($aborted 4xx: requests left in flight when wrk stopped, recorded as 499)"
    fi
    if [ "$TLS" -eq 1 ] && [ "$TLS_TICKETS" -eq 0 ]; then
        bad="$(grep -E '^portcullis_tls_resumed_total ' <<<"$metrics" | grep -v ' 0$' || true)"
        [ -z "$bad" ] || fail_loudly "portcullis resumed sessions without tickets: $bad"
    fi
}

main() {
    parse_args "$@"
    require_tools nginx haproxy wrk taskset curl
    check_binary
    default_cpu_layout
    POOL_SIZE=$((CONNECTIONS > 64 ? CONNECTIONS : 64))
    raise_fd_limit $((2 * CONNECTIONS + 100))
    init_run
    declare -gA DEAD=()
    if [ "$WANT_TLS" -eq 1 ]; then
        make_tls_material
        local p kept=()
        for p in "${PROXIES[@]}"; do
            [ "$p" = haproxy ] || kept+=("$p")
        done
        PROXIES=("${kept[@]}")
        say "TLS: portcullis and nginx on the same ECDSA P-256 certificate, session tickets" \
            "$([ "$TLS_TICKETS" -eq 1 ] && echo on || echo "off (full handshakes only)")"
    fi

    print_environment
    say "(a busy machine makes req/s and p99 noisy; CPU per request is the steadier figure)"
    say "layout: proxies on CPU $PROXY_CPUS, origin and wrk on CPU $LOAD_CPUS;" \
        "$WORKERS worker(s) each; wrk $CONNECTIONS connections, ${DURATION}s x $REPEATS runs," \
        "warm-up ${WARMUP}s"
    [ "$(cpu_count "$PROXY_CPUS")" -ge "$WORKERS" ] \
        || say "note: $WORKERS workers share $(cpu_count "$PROXY_CPUS") proxy CPU(s)"

    start_origin
    [ "$WANT_TLS" -eq 0 ] || TLS=1
    local name run
    for name in "${PROXIES[@]}"; do
        start_proxy "$name"
        say "started $name on 127.0.0.1:${PROXY_PORT[$name]} (pid ${PROXY_PID[$name]})"
    done
    : >"$RUN_DIR/results.tsv"

    if [ "$WARMUP" -gt 0 ]; then
        for name in "${PROXIES[@]}"; do
            measure "$name" 0
        done
    fi
    for run in $(seq "$REPEATS"); do
        for name in "${PROXIES[@]}"; do
            measure "$name" "$run"
        done
    done
    if [ -n "${PROXY_PID[portcullis]:-}" ]; then
        report_portcullis_metrics
    fi
    is_running "$ORIGIN_PID" || fail_loudly "the origin died during the runs"
    for name in "${PROXIES[@]}"; do
        [ "${DEAD[$name]:-0}" -ne 0 ] || stop_proxy "$name" || true
    done

    echo
    /usr/bin/python3 "$BENCH_DIR/proxy_table.py" "$RUN_DIR/results.tsv" "$CLK_TCK" \
        "${PROXIES[@]}"
    if [ "$FAILED" -ne 0 ]; then
        say "FAILED: see the messages above; wrk output and logs are in $RUN_DIR"
        exit 1
    fi
}

main "$@"
