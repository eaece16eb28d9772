#!/usr/bin/env bash
# TLS benchmarks: portcullis against nginx with the same ECDSA P-256 certificate, in one run
# each.
#
#   1. full TLS 1.3 handshakes per second: one request per connection (wrk with
#      Connection: close reconnects for every request and resumes no session);
#   2. keep-alive throughput over TLS: requests per second on long-lived TLS connections.
#
# Both go through bench/proxy.sh (--tls, and --close for the first), so the CPU layout, the
# repeats, the CPU-per-request figures and the failure checks are those of the plain benchmark.
# Options are passed on to bench/proxy.sh (see bench/proxy.sh --help).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

echo "== TLS 1.3 full handshakes (one request per connection)"
"$here/proxy.sh" --tls --close --proxies "portcullis nginx" "$@"
echo
echo "== keep-alive requests over TLS"
"$here/proxy.sh" --tls --proxies "portcullis nginx" "$@"
