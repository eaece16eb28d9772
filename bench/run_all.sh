#!/usr/bin/env bash
# Runs the five benchmarks in sequence with their defaults: the keep-alive proxy benchmark
# (bench/proxy.sh), JWT verification (bench/jwt.sh), authorization rules with the decision log
# (bench/authz.sh), memory per idle connection (bench/idle_conns.sh) and route-matching scale
# (bench/route_scale.sh). About 13 minutes in all.
#
# Usage: bench/run_all.sh [-b BINARY]   (the portcullis binary, default build/portcullis)
#
# Every benchmark runs even if an earlier one failed; the exit status is 1 if any failed.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary_args=()

case "${1:-}" in
-b | --binary)
    [ $# -ge 2 ] || { echo "usage: bench/run_all.sh [-b BINARY]" >&2; exit 1; }
    binary_args=(--binary "$2")
    ;;
-h | --help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
"") ;;
*)
    echo "usage: bench/run_all.sh [-b BINARY]" >&2
    exit 1
    ;;
esac

failed=()

# run TITLE CMD...: runs one benchmark under a heading and remembers whether it failed.
run() {
    local title=$1
    shift
    printf '\n===== %s =====\n\n' "$title"
    "$@" || failed+=("$title")
}

run "keep-alive proxy benchmark (bench/proxy.sh)" "$BENCH_DIR/proxy.sh" "${binary_args[@]}"
run "JWT verification (bench/jwt.sh)" "$BENCH_DIR/jwt.sh" "${binary_args[@]}"
run "authorization rules and the decision log (bench/authz.sh)" "$BENCH_DIR/authz.sh" \
    "${binary_args[@]}"
run "memory per idle connection (bench/idle_conns.sh)" "$BENCH_DIR/idle_conns.sh" \
    "${binary_args[@]}"
run "route matching scale (bench/route_scale.sh)" "$BENCH_DIR/route_scale.sh"

echo
if [ ${#failed[@]} -ne 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "all benchmarks ran"
