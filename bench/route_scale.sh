#!/usr/bin/env bash
# Route-matching scale: the cost of one route match against a table of 10 rules and one of
# 10,000 (bench/route_bench.c, its own header says how it is built and what its bar is).
#
# This script only builds and runs it: `make bench-bins` (which builds every bench/*.c into
# BUILD/bench/), then BUILD/bench/route_bench pinned to one CPU (the proxies' CPU, 1, on two
# cores) and bounded in time, and prints its output. If bench/route_bench.c is not there yet, or
# does not build and no binary was built before, it says so and exits 0. It exits 1 only when
# the benchmark itself fails (it checks that every timed request lands on the rule it was made
# for, and exits non-zero when one does not).
#
# Usage: bench/route_scale.sh [--build DIR] [--no-make] [--cpu N]
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
BUILD=build
DO_MAKE=1
CPU=""

usage() {
    cat <<EOF
usage: bench/route_scale.sh [options]

  --build DIR     build directory, as the Makefile's BUILD (default $BUILD)
  --no-make       run an existing DIR/bench/route_bench without building
  --cpu N         CPU to pin the benchmark to (default 1 on two or more CPUs, else 0)
EOF
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
        --build) BUILD=$2; shift 2 ;;
        --no-make) DO_MAKE=0; shift ;;
        --cpu) CPU=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; echo "error: unknown option: $1" >&2; exit 1 ;;
        esac
    done
    if [ -z "$CPU" ]; then
        CPU=0
        [ "$(nproc --all)" -lt 2 ] || CPU=1
    fi
}

# Builds BUILD/bench/route_bench; on failure shows the end of make's output and carries on, since
# an earlier binary may still be there to run.
build_bench() {
    local log
    log="$(mktemp /tmp/portcullis-route-make.XXXXXX)"
    if make -C "$REPO_DIR" BUILD="$BUILD" bench-bins >"$log" 2>&1; then
        rm -f "$log"
        return 0
    fi
    echo "make bench-bins failed (BUILD=$BUILD); last lines:" >&2
    tail -n 15 "$log" >&2
    rm -f "$log"
    return 1
}

main() {
    parse_args "$@"
    local bin="$REPO_DIR/$BUILD/bench/route_bench" is_stale=0

    if [ ! -f "$REPO_DIR/bench/route_bench.c" ]; then
        echo "bench/route_bench.c is not there yet: nothing to run."
        exit 0
    fi
    if [ "$DO_MAKE" -eq 1 ]; then
        build_bench || is_stale=1
    fi
    if [ ! -x "$bin" ]; then
        echo "route_bench is not built yet ($bin missing, and it did not build now): nothing to run."
        exit 0
    fi
    if [ "$is_stale" -eq 1 ]; then
        echo "warning: running the route_bench built earlier; it may not match bench/route_bench.c" >&2
    fi

    echo "route_bench ($bin), pinned to CPU $CPU, load average $(cut -d' ' -f1 /proc/loadavg):"
    local rc=0
    taskset -c "$CPU" timeout -k 5 600 "$bin" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "error: route_bench failed (exit $rc)" >&2
        exit 1
    fi
}

main "$@"
