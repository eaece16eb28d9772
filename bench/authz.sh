#!/usr/bin/env bash
# Authorization benchmark: what native AuthorizationPolicy rules, and the decision log on top of
# them, add to portcullis's own plain proxying, same origin, same binary, same run.
#
# What is measured, per variant: requests per second, p50 and p99 latency, and the CPU time the
# gateway spends per request (utime + stime of the process, every thread: the workers and the
# decision log's writer), when wrk drives CONNECTIONS keep-alive connections through it to an
# origin answering every request with 13 bytes (bench/lib.sh's origin and proxy layout). Every
# variant gets the same request: GET /api/v1/tenants/acme/items/42 with an x-tenant header and
# a bearer token (read only where a policy asks for it).
#
# Variants (one gateway process each, all started first; only one is under load at a time):
#   plain            the route, no policy (the baseline)
#   rules, no log    an AuthorizationPolicy of five native rules on the route (a public health
#                    path, a deny rule on methods and notSourceCIDRs, a PathPrefix with
#                    sourceCIDRs, templates, header conditions); the request is allowed by the
#                    fifth, so every rule is tested
#   rules + log      the same policy with the decision log on, signed with an Ed25519 key made
#                    for the run: what the log adds on top of the rules
#   zero trust       an HS256 AuthenticationPolicy (one token, repeated: the verified-token cache
#                    answers) and the same rules, the fifth also requiring a scope and that the
#                    {tenant} path segment is the token's tenant claim (pathParams); log on.
#                    Reported, not held to the bar.
#
# The bar: native rules on a route ("rules, no log") cost at most 5 % more CPU per request than
# "plain", and serve at most 5 % fewer requests per second, both ratios of medians from the same
# run. CPU per request is the steadier figure on a busy 2-core machine. The same two ratios for
# "rules + log" are printed beside it as what the decision log adds on top, not held to the bar.
# Missing the bar is a result, printed as MISSED, not a failure.
#
# A run fails loudly (exit 1) if a process cannot be started, wrk fails or counts any response
# with status 400 or above, the gateway counts a response that is not 2xx, a policy does not
# refuse what it must (checked before measuring) or the plain route does, the counters show the
# wrong path (decisions on the plain route; a decision missing for a 2xx on a policy route; the
# zero-trust route verifying the token more than once per worker), the decision log drops or
# fails to write a line, its lines counter does not equal the 2xx count over a run or the
# decisions made over the process's life, a gateway dies or stops answering, a gateway does not
# exit cleanly on SIGTERM, or `portcullis audit verify --strict` does not pass a log.
#
# Everything binds 127.0.0.1; every process is stopped by its PID.
#
# Usage: bench/authz.sh [-d SECONDS] [-c CONNECTIONS] [-w WORKERS] [-b BINARY] [options]
#        (bench/authz.sh --help lists them all)
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=8
CONNECTIONS=50
WORKERS=1
REPEATS=7
WARMUP=2
PC_BIN="$REPO_DIR/build/portcullis"
PROXY_CPUS=""
LOAD_CPUS=""
WITH_ZT=1
BAR_PCT=5
ISSUER="https://idp.bench.test"
AUDIENCE="api://bench"

# The request every variant gets, and the rule that must allow it.
REQUEST_PATH="/api/v1/tenants/acme/items/42"
TENANT="acme"
ALLOWING_RULE="tenant-reads-items"

# The variants: label|instance|decision log (1 on)|path checked by the counters: "none" (no
# decision), "rules" (a decision per request), "zt" (rules after authentication by the cache).
VARIANTS=(
    "plain|pc_plain|0|none"
    "rules, no log|pc_nolog|0|rules"
    "rules + log|pc_rules|1|rules"
    "zero trust (HS256 + rules + log)|pc_zt|1|zt"
)

declare -A ADMIN_PORT=()
declare -A DECISION_LOG=()
declare -A DEAD=()
KEYS_DIR=""
TOKEN=""
HMAC_SECRET=""

usage() {
    cat <<EOF
usage: bench/authz.sh [options]

  -d, --duration SECONDS     length of each measured run (default $DURATION)
  -c, --connections N        wrk keep-alive connections (default $CONNECTIONS)
  -w, --workers N            workers of every gateway (default $WORKERS)
  -b, --binary PATH          portcullis binary (default build/portcullis)
  -r, --repeats N            measured runs per variant, interleaved (default $REPEATS)
      --warmup SECONDS       unmeasured run per variant first (default $WARMUP; 0: none)
      --no-zt                leave out the zero-trust variant (HS256 + rules + log)
      --proxy-cpus LIST      taskset CPUs of the gateways (default 1)
      --load-cpus LIST       taskset CPUs of the origin and wrk (default 0)
      --keep                 keep the run directory (configurations, keys, decision logs, output)
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
        --no-zt) WITH_ZT=0; shift ;;
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
    PC_BIN="$(realpath "$PC_BIN")"
    if [ "$WITH_ZT" -eq 0 ]; then
        unset 'VARIANTS[3]'
    fi
}

# --- keys and the token ---

# The decision log's Ed25519 key (and its public half, for audit verify) and the HS256 secret
# and token of the zero-trust variant, valid from a minute ago until a few minutes after the
# run's planned end.
make_keys() {
    local planned lifetime
    KEYS_DIR="$RUN_DIR/keys"
    mkdir -p "$KEYS_DIR"
    chmod 700 "$KEYS_DIR"
    openssl genpkey -algorithm ed25519 -out "$KEYS_DIR/decision-log.pem" \
        >"$KEYS_DIR/openssl.log" 2>&1 || die "openssl could not make an Ed25519 key"
    openssl pkey -in "$KEYS_DIR/decision-log.pem" -pubout -out "$KEYS_DIR/decision-log.pub.pem" \
        >>"$KEYS_DIR/openssl.log" 2>&1 || die "openssl could not write the Ed25519 public key"
    HMAC_SECRET="$(openssl rand -hex 32)"
    planned=$((${#VARIANTS[@]} * (WARMUP + 5 + REPEATS * (DURATION + 5)) + 60))
    lifetime=$((planned + 300))
    TOKEN="$(/usr/bin/python3 - "$HMAC_SECRET" "$ISSUER" "$AUDIENCE" "$TENANT" "$lifetime" <<'EOF'
import base64, hashlib, hmac, json, sys, time
secret, iss, aud, tenant, lifetime = sys.argv[1:6]
def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
now = int(time.time())
header = {"alg": "HS256", "typ": "JWT"}
claims = {"iss": iss, "aud": aud, "sub": "alice", "tenant": tenant,
          "scope": "items.read orders.read", "iat": now - 60, "exp": now + int(lifetime)}
signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
print(signing_input + "." + b64(sig))
EOF
)"
    [ -n "$TOKEN" ] || die "could not make the HS256 token"
    say "made an Ed25519 decision-log key and an HS256 token valid for ${lifetime}s" \
        "(the run should take about ${planned}s)"
}

# --- probes ---

# probe_req PORT PATH TOKEN [NAME: VALUE]...: one GET PATH on a fresh connection with the
# token as a bearer token (none when empty) and the fields given; prints "STATUS BODY-LENGTH
# BODY" or "- 0 error".
probe_req() {
    /usr/bin/python3 - "$@" <<'EOF'
import http.client, sys
try:
    port, path, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    headers = {"Host": "127.0.0.1"}
    if token:
        headers["Authorization"] = "Bearer " + token
    for field in sys.argv[4:]:
        name, value = field.split(": ", 1)
        headers[name] = value
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    body = r.read()
    text = " ".join(body.decode("latin-1").split())
    print(r.status, len(body), (text[:100] + "...") if len(text) > 100 else (text or "-"))
except Exception as e:
    print("-", 0, type(e).__name__)
EOF
}

# lib.sh's readiness check (wait_ready, from start_server) calls probe PORT and wants 200 and
# the origin's body: the benchmark's own request gives that on every variant (the origin
# answers every path).
probe() {
    probe_req "$1" "$REQUEST_PATH" "$TOKEN" "x-tenant: $TENANT"
}

# expect NAME WHAT STATUS PATH TOKEN [FIELD]...: the answer to that request must have STATUS.
expect() {
    local name=$1 what=$2 want=$3 answer
    shift 3
    answer="$(probe_req "${PROXY_PORT[$name]}" "$@")"
    case "$answer" in
    "$want "*) ;;
    *) fail_loudly "$name answered a request $what with \"$answer\" instead of $want" ;;
    esac
}

# check_policies: each policy refuses what no rule allows, and the plain route refuses nothing;
# otherwise the variants would not measure what they claim to.
check_policies() {
    local name
    expect pc_plain "without x-tenant" 200 "$REQUEST_PATH" "$TOKEN"
    for name in pc_rules pc_nolog pc_zt; do
        [ -n "${PROXY_PID[$name]:-}" ] || continue
        expect "$name" "without x-tenant" 403 "$REQUEST_PATH" "$TOKEN"
        expect "$name" "with x-debug" 403 "$REQUEST_PATH" "$TOKEN" "x-tenant: $TENANT" "x-debug: 1"
        expect "$name" "for another path" 403 "/api/v1/tenants/acme/orders" "$TOKEN" \
            "x-tenant: $TENANT"
    done
    if [ -n "${PROXY_PID[pc_zt]:-}" ]; then
        expect pc_zt "without a token" 401 "$REQUEST_PATH" "" "x-tenant: $TENANT"
        expect pc_zt "for another tenant's items" 403 "/api/v1/tenants/globex/items/42" "$TOKEN" \
            "x-tenant: $TENANT"
    fi
}

# --- the gateways under test ---

# The AuthorizationPolicy: five rules, the request allowed by the last. With zt=1 the fifth
# also wants a scope and the {tenant} segment to be the caller's tenant claim.
authz_policy() {
    local zt=$1
    cat <<EOF
---
# Five native rules. Deny rules are tried first, then allow rules in order; the benchmark's
# request (GET $REQUEST_PATH with x-tenant: $TENANT) fails rules 2, 1, 3 and 4 and is allowed
# by rule 5, so every rule is tested on every request.
apiVersion: portcullis.dev/v1alpha1
kind: AuthorizationPolicy
metadata:
  name: bench-authz
spec:
  targetRefs:
    - {kind: HTTPRoute, name: bench}
  rules:
    - name: health-is-public
      request:
        methods: [GET, HEAD]
        paths:
          - {type: Exact, value: /health}
          - {type: Exact, value: /ready}
    - name: no-remote-writes
      action: Deny
      request:
        methods: [PUT, PATCH, DELETE]
        notSourceCIDRs: [127.0.0.0/8, 10.0.0.0/8, "::1/128"]
    - name: admin-from-inside
      request:
        paths:
          - {type: PathPrefix, value: /admin}
        sourceCIDRs: [10.0.0.0/8]
    - name: tenant-creates-orders
      request:
        methods: [POST]
        paths:
          - {type: Template, value: "/api/{version}/tenants/{tenant}/orders"}
        headers:
          - {name: content-type, type: Prefix, value: application/json}
    - name: $ALLOWING_RULE
      request:
        methods: [GET, HEAD]
        paths:
          - {type: Template, value: "/api/{version}/tenants/{tenant}/items/{rest...}"}
        headers:
          - {name: x-tenant, type: Exact, value: $TENANT}
          - {name: x-debug, type: Present, invert: true}
EOF
    [ "$zt" -eq 1 ] || return 0
    cat <<EOF
      principal:
        scopes: {allOf: [items.read]}
        pathParams:
          - {param: tenant, claim: tenant}
EOF
}

# The zero-trust variant's authentication: HS256 tokens of one issuer, for one audience.
authn_policy() {
    cat <<EOF
---
apiVersion: v1
kind: Secret
metadata:
  name: bench-jwt
stringData:
  secret: "$HMAC_SECRET"
---
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
        algorithms: [HS256]
        hmacSecretRef: {name: bench-jwt}
EOF
}

# write_pc NAME LOG POLICY PORT: lib.sh's portcullis configuration (one route to the origin,
# access log off) in RUN_DIR/NAME.yaml; LOG 1 adds a decision log to its ProxyConfig (a file
# per attempt, so a start retried on another port begins a log of its own); POLICY is none,
# rules or zt.
write_pc() {
    local name=$1 log=$2 policy=$3 port=$4 conf="$RUN_DIR/$1.yaml"
    write_portcullis_config "$port"
    mv "$RUN_DIR/portcullis.yaml" "$conf"
    # The decision log belongs to the ProxyConfig's spec, the last resource lib.sh writes.
    [ "$(grep '^kind:' "$conf" | tail -n 1)" = "kind: ProxyConfig" ] \
        || die "lib.sh's configuration no longer ends with the ProxyConfig: cannot add decisionLog"
    if [ "$log" -eq 1 ]; then
        DECISION_LOG[$name]="$RUN_DIR/$name-$port.decisions.log"
        cat >>"$conf" <<EOF
  decisionLog:
    path: ${DECISION_LOG[$name]}
    signingKey: {file: $KEYS_DIR/decision-log.pem}
EOF
    fi
    case "$policy" in
    rules) authz_policy 0 >>"$conf" ;;
    zt) authn_policy >>"$conf" && authz_policy 1 >>"$conf" ;;
    esac
    "$PC_BIN" validate -c "$conf" >"$RUN_DIR/$name-validate.log" 2>&1 \
        || { cat "$RUN_DIR/$name-validate.log" >&2; die "portcullis refused $conf"; }
    ADMIN_PORT[$name]=$PORTCULLIS_ADMIN_PORT
}

write_pc_plain() { write_pc pc_plain 0 none "$1"; }
write_pc_rules() { write_pc pc_rules 1 rules "$1"; }
write_pc_nolog() { write_pc pc_nolog 0 rules "$1"; }
write_pc_zt() { write_pc pc_zt 1 zt "$1"; }

start_instance() {
    local name=$1
    start_server "$name" "write_$name" "$PROXY_CPUS" \
        "$PC_BIN" run -c "$RUN_DIR/$name.yaml" --workers "$WORKERS"
    say "started $name on 127.0.0.1:${PROXY_PORT[$name]} (pid ${PROXY_PID[$name]})"
}

# counters NAME [SETTLE]: the gateway's own counts (bench/authz_counters.py), after giving the
# decision log's writer up to SETTLE seconds to write what it holds.
counters() {
    local args=("${ADMIN_PORT[$1]}")
    [ -z "${2:-}" ] || args+=(--settle "$2")
    /usr/bin/python3 "$BENCH_DIR/authz_counters.py" "${args[@]}"
}

# thread_cpu PID: "total=N workers=N others=N", the gateway's CPU ticks (utime + stime) in all,
# on its workers and on its other threads (the decision log's writer; the main thread idles).
thread_cpu() {
    /usr/bin/python3 "$BENCH_DIR/thread_cpu.py" "$1" 2>/dev/null || echo "total=0 workers=0 others=0"
}

# --- one run ---

# run_wrk PORT SECONDS OUT: wrk pinned to the load CPUs, bounded in time; the same request on
# every variant.
run_wrk() {
    local port=$1 seconds=$2 out=$3 threads
    threads="$(cpu_count "$LOAD_CPUS")"
    [ "$threads" -le "$CONNECTIONS" ] || threads=$CONNECTIONS
    run_tracked "$out" taskset -c "$LOAD_CPUS" timeout -k 5 $((seconds + 30)) \
        wrk -t "$threads" -c "$CONNECTIONS" -d "${seconds}s" --timeout 2s --latency \
        -H "Authorization: Bearer $TOKEN" -H "x-tenant: $TENANT" \
        -s "$BENCH_DIR/wrk_report.lua" "http://127.0.0.1:$port$REQUEST_PATH"
}

# field NAME LINE: the value of NAME=value in a "RESULT ..." or counters line ("-" stays "-").
field() {
    sed -n "s/.*\(^\|[ ]\)$1=\([0-9-]*\).*/\2/p" <<<"$2"
}

# delta NAME BEFORE AFTER: the counter's growth over the run, "-" where it does not exist.
delta() {
    local a b
    a="$(field "$1" "$3")"
    b="$(field "$1" "$2")"
    if [ "$a" = "-" ] || [ "$b" = "-" ] || [ -z "$a" ] || [ -z "$b" ]; then
        echo "-"
    else
        echo $((a - b))
    fi
}

# check_alive NAME WHEN: the gateway still runs and still answers the benchmark's request with
# the origin's body.
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

# check_log LABEL AFTER: the decision log kept up: nothing dropped, no write error, no line
# that could not be built, and every decision made so far written (lines = decisions).
check_log() {
    local label=$1 after=$2 lines dropped errors unrecorded decisions
    lines="$(field lines "$after")"
    dropped="$(field dropped "$after")"
    errors="$(field write_errors "$after")"
    unrecorded="$(field unrecorded "$after")"
    decisions="$(field decisions "$after")"
    if [ "$dropped" != 0 ] || [ "$errors" != 0 ] || [ "$unrecorded" != 0 ]; then
        fail_loudly "$label: the decision log lost lines: $dropped dropped, $errors write errors, $unrecorded unrecorded"
        return 1
    fi
    if [ "$lines" != "$decisions" ]; then
        fail_loudly "$label: the decision log holds $lines lines for $decisions decisions made so far"
        return 1
    fi
}

# check_path LABEL PATH LOG REQUESTS BEFORE AFTER: the gateway's own counters over the run
# agree with wrk and show the path the variant is meant to measure. wrk's count may differ
# from the gateway's by the requests in flight when wrk stops (at most one per connection); the
# gateway's counters agree with each other exactly.
check_path() {
    local label=$1 path=$2 log=$3 requests=$4 before=$5 after=$6 slack ok other allowed
    local decisions lines verified hits
    slack=$((CONNECTIONS + 5))
    ok="$(delta ok "$before" "$after")"
    other="$(delta other "$before" "$after")"
    allowed="$(delta allowed "$before" "$after")"
    decisions="$(delta decisions "$before" "$after")"
    lines="$(delta lines "$before" "$after")"
    verified="$(delta verified "$before" "$after")"
    hits="$(delta hits "$before" "$after")"
    if [ "$other" -ne 0 ]; then
        fail_loudly "$label: the gateway counted $other responses that were not 2xx"
        return 1
    fi
    if [ "$ok" -lt $((requests - slack)) ] || [ "$ok" -gt $((requests + slack)) ]; then
        fail_loudly "$label: the gateway counted $ok 2xx responses, wrk $requests: not the run measured"
        return 1
    fi
    if [ "$path" = none ]; then
        if [ "$decisions" -ne 0 ] || [ "$verified" -ne 0 ] || [ "$hits" -ne 0 ]; then
            fail_loudly "$label: the plain route authorized or authenticated ($decisions decisions, $verified verified, $hits cache hits)"
            return 1
        fi
    elif [ "$allowed" -ne "$ok" ] || [ "$decisions" -ne "$ok" ]; then
        fail_loudly "$label: $ok 2xx responses but $allowed allowed of $decisions decisions"
        return 1
    fi
    if [ "$path" = zt ] && { [ "$verified" -gt "$WORKERS" ] || [ "$hits" -lt $((ok - slack)) ]; }; then
        fail_loudly "$label: meant to be authenticated by the cache, but $verified verified and $hits hits for $ok requests"
        return 1
    fi
    if [ "$path" != zt ] && [ "$path" != none ] && { [ "$verified" -ne 0 ] || [ "$hits" -ne 0 ]; }; then
        fail_loudly "$label: the rules route authenticated ($verified verified, $hits cache hits)"
        return 1
    fi
    [ "$log" -eq 1 ] || return 0
    check_log "$label" "$after" || return 1
    if [ "$lines" -ne "$ok" ]; then
        fail_loudly "$label: the decision log wrote $lines lines for $ok authorized (2xx) requests"
        return 1
    fi
}

# measure VARIANT RUN: one run of the variant (RUN 0 is the warm-up, not recorded). Appends a
# line to results.tsv: label, run, status, requests, duration_us, p50_us, p99_us, cpu_ticks (all
# threads), cpu_ticks off the workers, then the gateway's counts over the run: 2xx, other,
# allowed, log lines, log dropped.
#
# The CPU window runs from before wrk starts until the decision log has written every line of
# the run (one /metrics reading for every variant, more while the writer catches up), so the
# writer's work for the run is inside it.
measure() {
    local variant=$1 run=$2 label name log path seconds=$DURATION out result status=ok
    IFS='|' read -r label name log path <<<"$variant"
    [ "$run" -gt 0 ] || seconds=$WARMUP
    out="$RUN_DIR/wrk-$name-$run.txt"
    if [ "${DEAD[$name]:-0}" -ne 0 ]; then
        [ "$run" -eq 0 ] || printf '%s\t%s\tFAIL(not running)\t0\t0\t0\t0\t0\t0\t0\t0\t0\t-\t-\n' \
            "$label" "$run" >>"$RUN_DIR/results.tsv"
        return 0
    fi

    local before after cpu_before cpu_after rc=0 settle_rc=0
    before="$(counters "$name" || true)"
    cpu_before="$(thread_cpu "${PROXY_PID[$name]}")"
    run_wrk "${PROXY_PORT[$name]}" "$seconds" "$out" || rc=$?
    after="$(counters "$name" 10)" || settle_rc=$?
    cpu_after="$(thread_cpu "${PROXY_PID[$name]}")"

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
        fail_loudly "$label run $run: $n responses with status >= 400; every request must be allowed (a 403 means the policy is wrong)"
        status="FAIL(non-2xx)"
    fi

    local requests
    requests="$(field requests "$result")"
    if [ -z "$before" ] || [ -z "$after" ]; then
        fail_loudly "$label run $run: the gateway's counters could not be read"
        status="FAIL(counters)"
    elif [ "$settle_rc" -ne 0 ]; then
        fail_loudly "$label run $run: the decision log had not written every decision 10 s after the run ($after)"
        status="FAIL(decision log)"
    else
        check_path "$label run $run" "$path" "$log" "${requests:-0}" "$before" "$after" \
            || status="FAIL(counters)"
    fi
    check_alive "$name" "after $label run $run" || status="FAIL(gateway)"

    [ "$run" -gt 0 ] || return 0
    local duration_us p50_us p99_us ticks others
    ticks="$(delta total "$cpu_before" "$cpu_after")"
    others="$(delta others "$cpu_before" "$cpu_after")"
    duration_us="$(field duration_us "$result")"
    p50_us="$(field p50_us "$result")"
    p99_us="$(field p99_us "$result")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$run" \
        "$status" "$requests" "$duration_us" "$p50_us" "$p99_us" "$ticks" "$others" \
        "$(delta ok "$before" "$after")" "$(delta other "$before" "$after")" \
        "$(delta allowed "$before" "$after")" "$(delta lines "$before" "$after")" \
        "$(delta dropped "$before" "$after")" >>"$RUN_DIR/results.tsv"
    say "  $label run $run: $(describe_run "$requests" "$duration_us" "$p99_us" "$ticks" 2):" \
        "$status"
}

# --- the end: stop, then verify each decision log ---

# finish_instance NAME: the last counters (every decision written), a clean stop (which writes
# the close checkpoint), then audit verify --strict on the log: it must pass, hold as many
# decision lines as the gateway made decisions, and every allowing line must name the rule
# meant to allow the benchmark's request.
finish_instance() {
    local name=$1 last="" decisions summary rc=0 file allowed by_rule
    is_running "${PROXY_PID[$name]}" || DEAD[$name]=1
    if [ "${DEAD[$name]:-0}" -ne 0 ]; then
        return 0
    fi
    file="${DECISION_LOG[$name]:-}"
    if [ -n "$file" ]; then
        last="$(counters "$name" 10)" || fail_loudly "$name: the decision log did not catch up before the stop ($last)"
        check_log "$name at the end" "$last" || true
    fi
    stop_proxy "$name" || true
    [ -n "$file" ] || return 0

    summary="$("$PC_BIN" audit verify "$file" --key "$KEYS_DIR/decision-log.pub.pem" --strict 2>&1)" \
        || rc=$?
    if [ "$rc" -ne 0 ]; then
        fail_loudly "$name: portcullis audit verify --strict failed (exit $rc): $summary"
        return 0
    fi
    AUDIT_SUMMARY[$name]="$summary"
    decisions="$(sed -n 's/.*(\([0-9]*\) decisions,.*/\1/p' <<<"$summary")"
    if [ -n "$last" ] && [ "$decisions" != "$(field decisions "$last")" ]; then
        fail_loudly "$name: the log holds ${decisions:-?} decision lines, the gateway made $(field decisions "$last") decisions"
    fi
    allowed="$(grep -c -F '"effect":"allowed"' "$file" || true)"
    by_rule="$(grep -c -F "\"effect\":\"allowed\",\"reason\":\"rule_allowed\",\"rule\":\"$ALLOWING_RULE\"" \
        "$file" || true)"
    if [ "$allowed" -ne "$by_rule" ] || [ "$allowed" -eq 0 ]; then
        fail_loudly "$name: $allowed allowing lines in the log, $by_rule of them by rule $ALLOWING_RULE"
    fi
}

declare -A AUDIT_SUMMARY=()

main() {
    parse_args "$@"
    require_tools nginx wrk taskset openssl
    check_binary
    default_cpu_layout
    POOL_SIZE=$((CONNECTIONS > 64 ? CONNECTIONS : 64))
    raise_fd_limit $((2 * CONNECTIONS + 100))
    init_run

    print_environment
    say "(a busy machine makes req/s and p99 noisy; CPU per request is the steadier figure)"
    say "layout: gateways on CPU $PROXY_CPUS, origin and wrk on CPU $LOAD_CPUS;" \
        "$WORKERS worker(s) each; wrk $CONNECTIONS connections, ${DURATION}s x $REPEATS runs," \
        "warm-up ${WARMUP}s"
    make_keys

    start_origin
    local variant run label name log path
    for variant in "${VARIANTS[@]}"; do
        IFS='|' read -r label name log path <<<"$variant"
        start_instance "$name"
    done
    check_policies
    [ "$FAILED" -eq 0 ] || die "a policy did not refuse what it must, or the plain route refused: nothing measured"
    say "every policy refused what no rule allows; the plain route refused nothing"
    : >"$RUN_DIR/results.tsv"

    if [ "$WARMUP" -gt 0 ]; then
        for variant in "${VARIANTS[@]}"; do
            measure "$variant" 0
        done
    fi
    for run in $(seq "$REPEATS"); do
        for variant in "${VARIANTS[@]}"; do
            measure "$variant" "$run"
        done
    done
    is_running "$ORIGIN_PID" || fail_loudly "the origin died during the runs"
    for variant in "${VARIANTS[@]}"; do
        IFS='|' read -r label name log path <<<"$variant"
        finish_instance "$name"
    done

    echo
    /usr/bin/python3 "$BENCH_DIR/authz_table.py" "$RUN_DIR/results.tsv" "$CLK_TCK" "$BAR_PCT"
    echo
    echo "decision logs (portcullis audit verify --strict, after a clean stop):"
    for variant in "${VARIANTS[@]}"; do
        IFS='|' read -r label name log path <<<"$variant"
        [ "$log" -eq 1 ] || continue
        echo "  $label: ${AUDIT_SUMMARY[$name]:-NOT VERIFIED}"
    done
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [ "$FAILED" -ne 0 ]; then
        say "FAILED: see the messages above; wrk output, logs and decision logs are in $RUN_DIR"
        exit 1
    fi
}

main "$@"
