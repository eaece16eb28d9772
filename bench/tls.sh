#!/usr/bin/env bash
# TLS benchmarks: portcullis against nginx with the same ECDSA P-256 certificate, in one run
# each.
#
#   1. full TLS 1.3 handshakes per second: one request per connection (wrk sends
#      Connection: close and reconnects for every request) and no session tickets on either
#      server, so no connection can resume a session;
#   2. resumed TLS 1.3 handshakes per second: the same with tickets on (both servers' default):
#      wrk offers the ticket its previous connection on the same slot got;
#   3. keep-alive throughput over TLS: requests per second on long-lived TLS connections.
#
# All go through bench/proxy.sh (--tls, --close for the first two, --no-tickets for the first),
# so the CPU layout, the repeats, the CPU-per-request figures and the failure checks are those
# of the plain benchmark. Options are passed on to bench/proxy.sh (see bench/proxy.sh --help).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

echo "== TLS 1.3 full handshakes (one request per connection, no session tickets)"
"$here/proxy.sh" --tls --close --no-tickets --proxies "portcullis nginx" "$@"
echo
echo "== TLS 1.3 resumed handshakes (one request per connection, session tickets on)"
"$here/proxy.sh" --tls --close --proxies "portcullis nginx" "$@"
echo
echo "== keep-alive requests over TLS"
"$here/proxy.sh" --tls --proxies "portcullis nginx" "$@"
