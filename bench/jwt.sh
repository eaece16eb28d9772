#!/usr/bin/env bash
# JWT verification benchmark: portcullis verifying RS256 tokens, against its own plain proxying
# and against haproxy 2.6's jwt_verify, same origin, same run.
#
# What is measured, per row: requests per second, p50 and p99 latency, and the CPU time the
# proxy spends per request, when wrk drives CONNECTIONS keep-alive connections through it to an
# origin answering every request with 13 bytes (bench/lib.sh's origin and proxy layout).
#
# Rows (one process per configuration; only one is under load at a time):
#   portcullis plain          the route without an AuthenticationPolicy; one token, not read
#   portcullis jwt cached     the same route with an AuthenticationPolicy (cacheTTL 5m, the
#                             default); one token, repeated: the verified-token cache answers
#   portcullis jwt ttl0       the policy with cacheTTL 0s; the same one token, verified on
#                             every request (what one verification costs)
#   portcullis jwt cached 10k the cacheTTL 5m process; 10,000 distinct tokens in rotation: each
#                             worker verifies each token once (in the warm-up, as a rule) and
#                             finds it in its verified-token cache (16,384 entries) afterwards
#   portcullis jwt ttl0 10k   the cacheTTL 0s process; the same rotation, every token verified
#   haproxy jwt_verify 10k    jwt_verify plus the alg, iss, aud and exp checks the gateway
#                             makes; the same 10,000 tokens in rotation (haproxy keeps no cache,
#                             so every request pays a verification)
#   haproxy plain 10k         the same haproxy without the JWT rules; the same rotation
#
# Bars: "portcullis jwt cached" req/s >= 0.90 x "portcullis plain"; "portcullis jwt cached 10k"
# req/s >= 1.50 x "haproxy jwt_verify 10k". The ttl0 rows show what one verification costs when
# no cache helps (about what haproxy pays). Missing a bar is a result, printed as MISSED, not a
# failure.
#
# A run fails loudly (exit 1) if a process cannot be started, wrk fails, any response is not 2xx
# (wrk's count and the proxy's own counters), a proxy dies or stops answering, the counters show
# the wrong path was measured (the cached row not answered by the cache, a ttl0 row answered by
# it, the plain row authenticating), a JWT proxy accepts a request without a token or with one of
# the refused tokens (forged signature, other issuer or audience, expired, alg none), or a proxy
# does not exit cleanly on SIGTERM at the end.
#
# Tokens: a fresh RSA-2048 key per run (never written out); the tokens expire a few minutes
# after the run's planned end. Everything binds 127.0.0.1; every process is stopped by its PID.
#
# Usage: bench/jwt.sh [-d SECONDS] [-c CONNECTIONS] [-w WORKERS] [-b BINARY] [options]
#        (bench/jwt.sh --help lists them all)
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=10
CONNECTIONS=50
WORKERS=1
REPEATS=3
WARMUP=2
TOKEN_COUNT=10000
PC_BIN="$REPO_DIR/build/portcullis"
PROXY_CPUS=""
LOAD_CPUS=""
ISSUER="https://idp.bench.test"
AUDIENCE="api://bench"
BAR_CACHED=0.90
BAR_HAPROXY=1.50

# The rows: name|instance|load|expected authentication path. load: "one" (the same token on
# every request, wrk without Lua per request) or "rotation" (bench/jwt_rotate.lua). path: "none"
# (no authentication), "cache" (the verified-token cache answers), "verify" (a signature check
# on every request), "proxy" (haproxy: no counters of its own, only 2xx and others).
ROWS=(
    "portcullis plain|pc_plain|one|none"
    "portcullis jwt cached|pc_cached|one|cache"
    "portcullis jwt ttl0|pc_ttl0|one|verify"
    "portcullis jwt cached 10k|pc_cached|rotation|rotation_cache"
    "portcullis jwt ttl0 10k|pc_ttl0|rotation|verify"
    "haproxy jwt_verify 10k|hap_jwt|rotation|proxy"
    "haproxy plain 10k|hap_plain|rotation|proxy"
)

declare -A ADMIN_PORT=()
declare -A STATS_SOCKET=()
declare -A DEAD=()
TOKENS_DIR=""
ONE_TOKEN=""

usage() {
    cat <<EOF
usage: bench/jwt.sh [options]

  -d, --duration SECONDS     length of each measured run (default $DURATION)
  -c, --connections N        wrk keep-alive connections (default $CONNECTIONS)
  -w, --workers N            workers of every proxy (default $WORKERS)
  -b, --binary PATH          portcullis binary (default build/portcullis)
  -r, --repeats N            measured runs per row, interleaved (default $REPEATS)
      --warmup SECONDS       unmeasured run per row first (default $WARMUP; 0: none)
      --tokens N             distinct tokens in the rotation rows (default $TOKEN_COUNT)
      --proxy-cpus LIST      taskset CPUs of the proxies (default 1)
      --load-cpus LIST       taskset CPUs of the origin and wrk (default 0)
      --keep                 keep the run directory (configurations, tokens, logs, wrk output)
EOF
}

# is_count VALUE MIN: VALUE is a whole number of at least MIN.
is_count() {
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ]
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
        --tokens) TOKEN_COUNT=$2; shift 2 ;;
        --proxy-cpus) PROXY_CPUS=$2; shift 2 ;;
        --load-cpus) LOAD_CPUS=$2; shift 2 ;;
        --keep) KEEP_RUN_DIR=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
        esac
    done
    is_count "$DURATION" 1 || die "--duration: expected a whole number >= 1"
    is_count "$CONNECTIONS" 1 || die "--connections: expected a whole number >= 1"
    is_count "$WORKERS" 1 || die "--workers: expected a whole number >= 1"
    is_count "$REPEATS" 1 || die "--repeats: expected a whole number >= 1"
    is_count "$WARMUP" 0 || die "--warmup: expected a whole number"
    is_count "$TOKEN_COUNT" 1 || die "--tokens: expected a whole number >= 1"
    PC_BIN="$(realpath "$PC_BIN")"
}

# --- tokens ---

# The key and tokens, valid from now until a few minutes after the run's planned end: every row
# gets a warm-up and its measured runs, each with a few seconds of probes and counter readings
# around it, and starting the proxies takes a few seconds each.
make_tokens() {
    local rows=${#ROWS[@]} planned lifetime
    planned=$((rows * (WARMUP + 5 + REPEATS * (DURATION + 5)) + 60))
    lifetime=$((planned + 300))
    TOKENS_DIR="$RUN_DIR/tokens"
    say "making an RSA-2048 key and $TOKEN_COUNT RS256 tokens valid for ${lifetime}s" \
        "(the run should take about ${planned}s)"
    run_tracked "$RUN_DIR/jwt_tokens.log" timeout -k 5 600 /usr/bin/python3 \
        "$BENCH_DIR/jwt_tokens.py" --out "$TOKENS_DIR" --count "$TOKEN_COUNT" \
        --issuer "$ISSUER" --audience "$AUDIENCE" --lifetime "$lifetime" \
        || { cat "$RUN_DIR/jwt_tokens.log" >&2; die "bench/jwt_tokens.py failed"; }
    ONE_TOKEN="$(head -n 1 "$TOKENS_DIR/tokens.txt")"
    [ -n "$ONE_TOKEN" ] || die "bench/jwt_tokens.py wrote no tokens"
}

# --- probes ---

# probe_with PORT TOKEN: one GET / on a fresh connection, with "Authorization: Bearer TOKEN"
# unless TOKEN is empty; prints "STATUS BODY-LENGTH BODY" or "- 0 error".
probe_with() {
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import http.client, sys
try:
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=3)
    headers = {"Host": "127.0.0.1"}
    if sys.argv[2]:
        headers["Authorization"] = "Bearer " + sys.argv[2]
    c.request("GET", "/", headers=headers)
    r = c.getresponse()
    body = r.read()
    text = " ".join(body.decode("latin-1").split())
    print(r.status, len(body), (text[:100] + "...") if len(text) > 100 else (text or "-"))
except Exception as e:
    print("-", 0, type(e).__name__)
EOF
}

# lib.sh's readiness check (wait_ready, from start_server) calls probe PORT and wants 200 and the
# origin's body; the JWT-protected proxies give that only to a request with a good token, so the
# probe here carries the benchmark's one token. The origin and the plain proxies ignore it.
probe() {
    probe_with "$1" "$ONE_TOKEN"
}

# check_refusals NAME: the proxy must refuse a request without a token and every token of
# refused.txt; a 200 means it does not make the checks this benchmark compares.
check_refusals() {
    local name=$1 port=${PROXY_PORT[$1]} answer what token
    answer="$(probe_with "$port" "")"
    case "$answer" in
    401\ * | 403\ *) ;;
    *) fail_loudly "$name answered a request without a token with \"$answer\" instead of 401 or 403" ;;
    esac
    while read -r what token; do
        answer="$(probe_with "$port" "$token")"
        case "$answer" in
        401\ * | 403\ *) ;;
        *) fail_loudly "$name answered a token with $what with \"$answer\" instead of 401 or 403" ;;
        esac
    done <"$TOKENS_DIR/refused.txt"
}

# --- the proxies under test ---

# The AuthenticationPolicy of the JWT instances, appended to lib.sh's portcullis configuration.
portcullis_policy() {
    local cache_ttl=$1
    cat <<EOF
---
# JWT verification on the benchmark route: RS256 tokens of one issuer, for one audience, with
# keys from a local JWK set; exp, nbf and iat checked with the default 30 s clock skew.
apiVersion: portcullis.dev/v1alpha1
kind: AuthenticationPolicy
metadata:
  name: bench-jwt
spec:
  targetRefs:
    - {kind: HTTPRoute, name: bench}
  jwt:
    providers:
      - name: bench
        issuer: "$ISSUER"
        audiences: ["$AUDIENCE"]
        algorithms: [RS256]
        localJWKS: {file: $TOKENS_DIR/jwks.json}
        cacheTTL: $cache_ttl
EOF
}

# write_pc NAME CACHE_TTL PORT: lib.sh's portcullis configuration (one route to the origin,
# access log off) in RUN_DIR/NAME.yaml, with the JWT policy unless CACHE_TTL is "none".
write_pc() {
    local name=$1 cache_ttl=$2 port=$3 conf="$RUN_DIR/$1.yaml"
    write_portcullis_config "$port"
    mv "$RUN_DIR/portcullis.yaml" "$conf"
    [ "$cache_ttl" = none ] || portcullis_policy "$cache_ttl" >>"$conf"
    "$PC_BIN" validate -c "$conf" >"$RUN_DIR/$name-validate.log" 2>&1 \
        || { cat "$RUN_DIR/$name-validate.log" >&2; die "portcullis refused $conf"; }
    ADMIN_PORT[$name]=$PORTCULLIS_ADMIN_PORT
}

write_pc_plain() { write_pc pc_plain none "$1"; }
write_pc_cached() { write_pc pc_cached 5m "$1"; }
write_pc_ttl0() { write_pc pc_ttl0 0s "$1"; }

# haproxy's JWT rules, as its 2.6 manual gives the converters: the token is the second word of
# Authorization; its header must say RS256, its payload carry the issuer, the audience (one
# string: json_query reads no arrays) and an exp not past (with the gateway's 30 s skew); then
# the signature, against the PEM public key loaded at start. Cheap checks first, as anyone
# would order them; every request of the benchmark passes them all.
haproxy_jwt_rules() {
    cat <<EOF
    http-request set-var(txn.bearer) req.hdr(authorization),word(2," ")
    http-request deny unless { var(txn.bearer),jwt_header_query('\$.alg') -m str "RS256" }
    http-request deny unless { var(txn.bearer),jwt_payload_query('\$.iss') -m str "$ISSUER" }
    http-request deny unless { var(txn.bearer),jwt_payload_query('\$.aud') -m str "$AUDIENCE" }
    http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
    http-request set-var(txn.now) date(-30)
    http-request deny unless { var(txn.exp),sub(txn.now) -m int gt 0 }
    http-request deny unless { var(txn.bearer),jwt_verify("RS256","$TOKENS_DIR/public.pem") -m int 1 }
EOF
}

# write_hap NAME JWT PORT: lib.sh's haproxy configuration in RUN_DIR/NAME.cfg with a stats
# socket (for bench/jwt_counters.py) and, when JWT is 1, the JWT rules in the frontend.
write_hap() {
    local name=$1 jwt=$2 port=$3 conf="$RUN_DIR/$1.cfg" rules="$RUN_DIR/$1.rules"
    STATS_SOCKET[$name]="$RUN_DIR/$name.sock"
    write_haproxy_config "$port"
    : >"$rules"
    [ "$jwt" -eq 0 ] || haproxy_jwt_rules >"$rules"
    awk -v sock="${STATS_SOCKET[$name]}" -v rules="$rules" '
        { print }
        /^global$/ { print "    stats socket " sock " mode 600 level user" }
        /^frontend bench$/ { in_frontend = 1 }
        in_frontend && /^    bind / {
            while ((getline line < rules) > 0) print line
            in_frontend = 0
        }' "$RUN_DIR/haproxy.cfg" >"$conf"
    rm -f "$RUN_DIR/haproxy.cfg"
    grep -q "stats socket" "$conf" || die "could not add the stats socket to $conf"
    if [ "$jwt" -eq 1 ]; then
        grep -q "jwt_verify" "$conf" || die "could not add the JWT rules to $conf"
    fi
    haproxy -c -f "$conf" >"$RUN_DIR/$name-check.log" 2>&1 \
        || { cat "$RUN_DIR/$name-check.log" >&2; die "haproxy refused $conf"; }
}

write_hap_jwt() { write_hap hap_jwt 1 "$1"; }
write_hap_plain() { write_hap hap_plain 0 "$1"; }

start_instance() {
    local name=$1
    case "$name" in
    pc_*)
        start_server "$name" "write_$name" "$PROXY_CPUS" \
            "$PC_BIN" run -c "$RUN_DIR/$name.yaml" --workers "$WORKERS"
        ;;
    hap_*)
        start_server "$name" "write_$name" "$PROXY_CPUS" haproxy -db -f "$RUN_DIR/$name.cfg"
        ;;
    esac
    say "started $name on 127.0.0.1:${PROXY_PORT[$name]} (pid ${PROXY_PID[$name]})"
}

# counters NAME: the proxy's own counts, "ok=N other=N verified=N hits=N".
counters() {
    local name=$1
    case "$name" in
    pc_*) /usr/bin/python3 "$BENCH_DIR/jwt_counters.py" portcullis "${ADMIN_PORT[$name]}" ;;
    hap_*) /usr/bin/python3 "$BENCH_DIR/jwt_counters.py" haproxy "${STATS_SOCKET[$name]}" ;;
    esac
}

# --- one run ---

# run_wrk PORT LOAD SECONDS OUT: wrk pinned to the load CPUs, bounded in time.
run_wrk() {
    local port=$1 load=$2 seconds=$3 out=$4 threads url
    threads="$(cpu_count "$LOAD_CPUS")"
    [ "$threads" -le "$CONNECTIONS" ] || threads=$CONNECTIONS
    url="http://127.0.0.1:$port/"
    if [ "$load" = one ]; then
        run_tracked "$out" taskset -c "$LOAD_CPUS" timeout -k 5 $((seconds + 30)) \
            wrk -t "$threads" -c "$CONNECTIONS" -d "${seconds}s" --timeout 2s --latency \
            -H "Authorization: Bearer $ONE_TOKEN" -s "$BENCH_DIR/wrk_report.lua" "$url"
    else
        run_tracked "$out" taskset -c "$LOAD_CPUS" timeout -k 5 $((seconds + 30)) \
            wrk -t "$threads" -c "$CONNECTIONS" -d "${seconds}s" --timeout 2s --latency \
            -s "$BENCH_DIR/jwt_rotate.lua" "$url" -- "$TOKENS_DIR/tokens.txt" "$threads"
    fi
}

# field NAME LINE: the value of NAME=value in a "RESULT ..." or counters line ("-" stays "-").
field() {
    sed -n "s/.*\(^\|[ ]\)$1=\([0-9-]*\).*/\2/p" <<<"$2"
}

# check_alive NAME WHEN: the proxy still runs and still answers the good token with the origin's
# body.
check_alive() {
    local name=$1 when=$2 answer
    if ! is_running "${PROXY_PID[$name]}"; then
        fail_loudly "$name (pid ${PROXY_PID[$name]}) is no longer running $when; its log: ${PROXY_LOG[$name]}"
        tail -n 20 "${PROXY_LOG[$name]}" >&2 || true
        DEAD[$name]=1
        return 1
    fi
    answer="$(probe "${PROXY_PORT[$name]}")"
    if [ "$answer" != "200 $ORIGIN_BODY_LEN $ORIGIN_BODY" ]; then
        fail_loudly "$name answered a probe $when with \"$answer\" instead of 200 \"$ORIGIN_BODY\""
        return 1
    fi
}

# check_path LABEL PATH REQUESTS OK OTHER VERIFIED HITS: the proxy's own counters over the run
# agree with wrk and show the authentication path the row is meant to measure. Counters and wrk
# may differ by the requests in flight when wrk stops (at most one per connection).
check_path() {
    local label=$1 path=$2 requests=$3 ok=$4 other=$5 verified=$6 hits=$7 slack
    slack=$((CONNECTIONS + 5))
    if [ "$other" -ne 0 ]; then
        fail_loudly "$label: the proxy counted $other responses that were not 2xx"
        return 1
    fi
    if [ "$ok" -lt $((requests - slack)) ] || [ "$ok" -gt $((requests + slack)) ]; then
        fail_loudly "$label: the proxy counted $ok 2xx responses, wrk $requests: not the run measured"
        return 1
    fi
    case "$path" in
    none)
        if [ "$verified" -ne 0 ] || [ "$hits" -ne 0 ]; then
            fail_loudly "$label: the plain route authenticated ($verified verified, $hits cache hits)"
            return 1
        fi
        ;;
    cache)
        # Each worker verifies the token once and then finds it in its own cache (again once
        # should the 5 min cacheTTL run out during the run).
        if [ "$verified" -gt "$WORKERS" ] || [ "$hits" -lt $((ok - slack)) ]; then
            fail_loudly "$label: meant to be answered by the cache, but $verified verified and $hits hits for $ok requests"
            return 1
        fi
        ;;
    rotation_cache)
        # At most one verification per token and worker over the whole benchmark; the rest of
        # the requests are answered by the cache.
        if [ "$verified" -gt $((TOKEN_COUNT * WORKERS)) ] || [ $((hits + verified)) -lt $((ok - slack)) ]; then
            fail_loudly "$label: meant to be answered by the cache after one verification per token, but $verified verified and $hits hits for $ok requests"
            return 1
        fi
        ;;
    verify)
        if [ "$hits" -ne 0 ] || [ "$verified" -lt $((ok - slack)) ]; then
            fail_loudly "$label: meant to verify every token, but $verified verified and $hits cache hits for $ok requests"
            return 1
        fi
        ;;
    esac
}

# measure ROW RUN: one run of the row (RUN 0 is the warm-up, not recorded). Appends a line to
# results.tsv: row, run, status, requests, duration_us, p50_us, p99_us, cpu_ticks, ok, other,
# verified, hits.
measure() {
    local row=$1 run=$2 label name load path seconds=$DURATION out result status=ok
    IFS='|' read -r label name load path <<<"$row"
    [ "$run" -gt 0 ] || seconds=$WARMUP
    out="$RUN_DIR/wrk-$name-$load-$run.txt"
    if [ "${DEAD[$name]:-0}" -ne 0 ]; then
        [ "$run" -eq 0 ] || printf '%s\t%s\tFAIL(not running)\t0\t0\t0\t0\t0\t0\t0\t0\t0\n' \
            "$label" "$run" >>"$RUN_DIR/results.tsv"
        return 0
    fi

    local before after ticks_before ticks_after rc=0
    before="$(counters "$name" || true)"
    ticks_before="$(tree_cpu_ticks "${PROXY_PID[$name]}" 2>/dev/null || echo 0)"
    run_wrk "${PROXY_PORT[$name]}" "$load" "$seconds" "$out" || rc=$?
    ticks_after="$(tree_cpu_ticks "${PROXY_PID[$name]}" 2>/dev/null || echo "$ticks_before")"
    after="$(counters "$name" || true)"

    result="$(grep '^RESULT ' "$out" || true)"
    if [ "$rc" -ne 0 ] || [ -z "$result" ]; then
        fail_loudly "$label run $run: wrk failed (exit $rc); its output:"
        cat "$out" >&2
        status="FAIL(wrk)"
        result="RESULT requests=0 duration_us=0 p50_us=0 p99_us=0"
    fi
    local kind n
    for kind in connect read write timeout; do
        n="$(field "err_$kind" "$result")"
        if [ "${n:-0}" -gt 0 ]; then
            fail_loudly "$label run $run: wrk counted $n socket $kind errors"
            status="FAIL(socket errors)"
        fi
    done
    n="$(field err_status "$result")"
    if [ "${n:-0}" -gt 0 ]; then
        fail_loudly "$label run $run: $n responses with status >= 400; every token is good and the origin only answers 200"
        status="FAIL(non-2xx)"
    fi

    local requests ok other verified hits
    requests="$(field requests "$result")"
    if [ -z "$before" ] || [ -z "$after" ]; then
        fail_loudly "$label run $run: the proxy's counters could not be read"
        status="FAIL(counters)"
        ok=0 other=0 verified=0 hits=0
    else
        ok=$(($(field ok "$after") - $(field ok "$before")))
        other=$(($(field other "$after") - $(field other "$before")))
        verified="-" hits="-"
        if [ "$path" != proxy ]; then
            verified=$(($(field verified "$after") - $(field verified "$before")))
            hits=$(($(field hits "$after") - $(field hits "$before")))
        fi
        check_path "$label run $run" "$path" "${requests:-0}" "$ok" "$other" \
            "${verified/-/0}" "${hits/-/0}" || status="FAIL(counters)"
    fi
    check_alive "$name" "after $label run $run" || status="FAIL(proxy)"

    [ "$run" -gt 0 ] || return 0
    local duration_us p50_us p99_us ticks=$((ticks_after - ticks_before))
    duration_us="$(field duration_us "$result")"
    p50_us="$(field p50_us "$result")"
    p99_us="$(field p99_us "$result")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$run" "$status" \
        "$requests" "$duration_us" "$p50_us" "$p99_us" "$ticks" "$ok" "$other" "$verified" \
        "$hits" >>"$RUN_DIR/results.tsv"
    say "  $label run $run: $(describe_run "$requests" "$duration_us" "$p99_us" "$ticks"):" \
        "$status"
}

main() {
    parse_args "$@"
    require_tools nginx haproxy wrk taskset curl
    # shellcheck source=../scripts/deps.sh
    . "$REPO_DIR/scripts/deps.sh"
    install_packages python3-jwt python3-cryptography >&2
    check_binary
    default_cpu_layout
    POOL_SIZE=$((CONNECTIONS > 64 ? CONNECTIONS : 64))
    raise_fd_limit $((2 * CONNECTIONS + 100))
    init_run

    print_environment
    say "(a busy machine makes req/s and p99 noisy; CPU per request is the steadier figure)"
    say "layout: proxies on CPU $PROXY_CPUS, origin and wrk on CPU $LOAD_CPUS;" \
        "$WORKERS worker(s) each; wrk $CONNECTIONS connections, ${DURATION}s x $REPEATS runs," \
        "warm-up ${WARMUP}s"
    make_tokens

    start_origin
    local instance row run
    for instance in pc_plain pc_cached pc_ttl0 hap_jwt hap_plain; do
        start_instance "$instance"
    done
    for instance in pc_cached pc_ttl0 hap_jwt; do
        check_refusals "$instance"
    done
    [ "$FAILED" -eq 0 ] || die "a JWT proxy accepted what it must refuse: nothing measured"
    say "every JWT proxy refused a missing token and each token of refused.txt"
    : >"$RUN_DIR/results.tsv"

    if [ "$WARMUP" -gt 0 ]; then
        for row in "${ROWS[@]}"; do
            measure "$row" 0
        done
    fi
    for run in $(seq "$REPEATS"); do
        for row in "${ROWS[@]}"; do
            measure "$row" "$run"
        done
    done
    is_running "$ORIGIN_PID" || fail_loudly "the origin died during the runs"
    for instance in pc_plain pc_cached pc_ttl0 hap_jwt hap_plain; do
        [ "${DEAD[$instance]:-0}" -ne 0 ] || stop_proxy "$instance" || true
    done

    echo
    /usr/bin/python3 "$BENCH_DIR/jwt_table.py" "$RUN_DIR/results.tsv" "$CLK_TCK" \
        "$BAR_CACHED" "$BAR_HAPROXY"
    if [ "$FAILED" -ne 0 ]; then
        say "FAILED: see the messages above; wrk output and logs are in $RUN_DIR"
        exit 1
    fi
}

main "$@"
