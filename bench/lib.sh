# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts that source it
# Shared by the bench/ scripts: sourced, not run.
#
# What lives here: the run directory, the list of processes a script started and their cleanup,
# free ports, the origin (nginx answering `return 200`), the three proxies in front of it
# (portcullis, nginx, haproxy) with the configurations both benchmarks use, and readers of
# /proc (CPU ticks and resident memory of a process and its children).
#
# Every server binds 127.0.0.1 on a port picked free just before it starts; if another process
# takes that port first, the server fails to start and is started again on a new one. Every
# process started here is recorded by PID and stopped by that PID when the script exits.
#
# Callers set, before calling the start functions:
#   PROXY_CPUS   taskset CPU list for the proxies (e.g. "1")
#   LOAD_CPUS    taskset CPU list for the origin and the load generator (e.g. "0")
#   WORKERS      worker count of each proxy (portcullis workers, nginx worker_processes,
#                haproxy nbthread)
#   PC_BIN       the portcullis binary
#   POOL_SIZE    idle upstream connections each proxy may keep to the origin
# and call raise_fd_limit (which sets FD_LIMIT) and init_run (which sets RUN_DIR).
# With TLS=1 (set after make_tls_material and start_origin: the origin stays plain HTTP),
# portcullis and nginx listen with TLS on the same ECDSA P-256 certificate and probes speak HTTPS;
# with TLS_TICKETS=0 as well, neither issues session tickets, so no connection resumes a session.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"

# The origin's answer: 13 bytes, so the body copy costs nothing next to the proxying.
ORIGIN_BODY='hello, world'
ORIGIN_BODY_LEN=13

# Generous client-side limits shared by both benchmarks: a keep-alive connection may stay idle
# for 5 minutes and each proxy accepts MAX_CONNS connections, so neither the throughput run nor
# the 10,000 idle connections hit a limit (idle_conns.sh raises MAX_CONNS for larger counts).
IDLE_TIMEOUT_S=300
MAX_CONNS=12000
FD_LIMIT=""

RUN_DIR=""
STARTED_PIDS=()
KEEP_RUN_DIR=0
FAILED=0
STOP_STATUS=0
CLK_TCK="$(getconf CLK_TCK)"

declare -A PROXY_PORT=()
declare -A PROXY_PID=()
declare -A PROXY_LOG=()
ORIGIN_PORT=""
ORIGIN_PID=""
TLS=0
TLS_TICKETS=1

# The URL scheme clients use towards the proxies.
scheme() {
    if [ "$TLS" -eq 1 ]; then echo https; else echo http; fi
}

# make_tls_material: an ECDSA P-256 certificate for 127.0.0.1 and localhost, in $RUN_DIR/tls.
make_tls_material() {
    mkdir -p "$RUN_DIR/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$RUN_DIR/tls/key.pem" -out "$RUN_DIR/tls/cert.pem" -days 30 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        >"$RUN_DIR/tls/openssl.log" 2>&1 || die "openssl could not make the test certificate"
}

say() {
    printf '%s\n' "$*" >&2
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# describe_run REQUESTS DURATION_US P99_US CPU_TICKS [DIGITS]: one line for a benchmark's
# progress report; CPU per request with DIGITS decimals (default 1).
describe_run() {
    awk -v r="${1:-0}" -v d="${2:-0}" -v p="${3:-0}" -v t="$4" -v hz="$CLK_TCK" -v k="${5:-1}" \
        'BEGIN {
        printf "%d requests, %.0f req/s, p99 %.2f ms, CPU %.*f us/req",
            r, d ? r / (d / 1e6) : 0, p / 1000, k, r ? t / hz * 1e6 / r : 0 }'
}

# Loud enough to be seen in the middle of a table: the run counts as failed.
fail_loudly() {
    FAILED=1
    printf '\n!!! FAILURE: %s\n\n' "$*" >&2
}

# --- run directory and cleanup ---

# Creates RUN_DIR and installs the exit trap. The directory is removed at exit unless the run
# failed or --keep was given, so the logs of a failed run stay for reading.
init_run() {
    RUN_DIR="$(mktemp -d /tmp/portcullis-bench.XXXXXX)"
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

on_exit() {
    local rc=$?
    stop_all
    if [ -n "$RUN_DIR" ]; then
        if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ] || [ "$KEEP_RUN_DIR" -eq 1 ]; then
            say "logs and configurations kept in $RUN_DIR"
        else
            rm -rf "$RUN_DIR"
        fi
    fi
    exit "$rc"
}

# True while PID runs (a zombie counts as gone: it is only waiting to be reaped).
is_running() {
    local state
    state="$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != "Z" ]
}

# stop_pid PID: SIGTERM, up to 5 s to exit, then SIGKILL; reaps it and sets STOP_STATUS to its
# exit status (128 + N when signal N ended it; 127 when it was reaped before).
stop_pid() {
    local pid=$1 i
    if is_running "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 50); do
            is_running "$pid" || break
            sleep 0.1
        done
        if is_running "$pid"; then
            say "pid $pid ignored SIGTERM for 5 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    STOP_STATUS=0
    wait "$pid" 2>/dev/null || STOP_STATUS=$?
}

# stop_proxy NAME: stops a proxy by its PID; returns 1 and reports loudly unless it ended
# cleanly: status 0, or 143 (haproxy ends on SIGTERM by the signal). A crash on the way out
# (139 = SIGSEGV, 134 = SIGABRT), or a SIGKILL after ignoring SIGTERM for 5 s, is a failure.
stop_proxy() {
    local name=$1 why=""
    stop_pid "${PROXY_PID[$name]}"
    case "$STOP_STATUS" in
    0 | 143) return 0 ;;
    esac
    [ "$STOP_STATUS" -le 128 ] || why=" (signal SIG$(kill -l $((STOP_STATUS - 128))))"
    fail_loudly "$name exited with status $STOP_STATUS$why when stopped with SIGTERM; its log: ${PROXY_LOG[$name]}"
    tail -n 20 "${PROXY_LOG[$name]}" >&2 || true
    return 1
}

# Stops every process this script started, newest first.
stop_all() {
    local i
    for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${STARTED_PIDS[$i]}"
    done
    STARTED_PIDS=()
}

# run_tracked OUT CMD...: runs CMD in the background with its output in OUT and waits for it,
# so that a signal to the script stops CMD too (the exit trap stops every tracked PID); returns
# CMD's exit status. (OUT is an argument: a redirection of the call itself would also swallow
# the exit trap's messages when a signal arrives during the wait.)
run_tracked() {
    local out=$1 pid rc=0
    shift
    "$@" >"$out" 2>&1 </dev/null &
    pid=$!
    STARTED_PIDS+=("$pid")
    wait "$pid" || rc=$?
    unset 'STARTED_PIDS[-1]'
    return "$rc"
}

# --- tools and limits ---

# require_tools CMD...: installs from Debian (saying so) the package of every CMD missing.
require_tools() {
    local missing=() tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "missing: ${missing[*]}; installing them from Debian (scripts/deps.sh)"
    # shellcheck source=../scripts/deps.sh
    . "$REPO_DIR/scripts/deps.sh"
    local pkgs=() t
    for t in "${missing[@]}"; do
        case "$t" in
        taskset) pkgs+=(util-linux) ;;
        *) pkgs+=("$t") ;;
        esac
    done
    install_packages "${pkgs[@]}"
    for tool in "${missing[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is still missing after installing"
    done
}

# raise_fd_limit MIN: raises the open-file limit of this shell (and so of every process it
# starts) towards 2 x MAX_CONNS + 1000, what a proxy with MAX_CONNS client connections and as
# many upstream ones could need; as root the hard limit is raised too when the system allows.
# Dies if the limit stays below MIN. Sets FD_LIMIT.
raise_fd_limit() {
    local min=$1 want=$((2 * MAX_CONNS + 1000)) hard
    hard="$(ulimit -Hn)"
    if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$want" ]; then
        ulimit -Hn "$want" 2>/dev/null || true
        hard="$(ulimit -Hn)"
    fi
    if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$want" ]; then
        want=$hard
    fi
    [ "$want" -ge "$min" ] || die "open-file hard limit is $hard, need at least $min: raise it (ulimit -Hn $min as root, or LimitNOFILE)"
    ulimit -Sn "$want" || die "cannot raise the open-file limit to $want"
    FD_LIMIT=$want
}

# Checks the portcullis binary and prints what it is.
check_binary() {
    [ -x "$PC_BIN" ] || die "no portcullis binary at $PC_BIN: run make (or pass --binary PATH)"
    "$PC_BIN" --version >/dev/null 2>&1 || die "$PC_BIN --version failed"
}

# Count of CPUs in a taskset list such as "1", "0,2" or "2-5".
cpu_count() {
    local list=$1 n=0 part
    IFS=',' read -ra parts <<<"$list"
    for part in "${parts[@]}"; do
        if [[ "$part" == *-* ]]; then
            n=$((n + ${part#*-} - ${part%-*} + 1))
        else
            n=$((n + 1))
        fi
    done
    echo "$n"
}

# Default layout: the proxy alone on CPU 1, origin and load generator on CPU 0.
default_cpu_layout() {
    local ncpu
    ncpu="$(nproc --all)"
    if [ "$ncpu" -lt 2 ]; then
        say "warning: one CPU only: proxy, origin and load generator share it"
        : "${PROXY_CPUS:=0}" "${LOAD_CPUS:=0}"
    else
        : "${PROXY_CPUS:=1}" "${LOAD_CPUS:=0}"
    fi
}

print_environment() {
    say "machine: $(nproc --all) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
    local head dirty=""
    head="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    git -C "$REPO_DIR" diff --quiet HEAD -- src 2>/dev/null || dirty=", src/ has uncommitted changes"
    say "portcullis: $PC_BIN ($("$PC_BIN" --version 2>&1 | head -1)); tree at $head$dirty"
    say "nginx: $(nginx -v 2>&1 | head -1 | sed 's/^nginx version: //'); haproxy:" \
        "$(haproxy -v 2>&1 | head -1 | awk '{print $3}'); wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
}

# --- ports and HTTP probes ---

# A port the kernel just gave out on 127.0.0.1. Another process may take it before our server
# binds it: the start functions below detect that and retry on a new port.
free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# probe PORT: one GET / on a fresh connection; prints "STATUS BODY-LENGTH BODY" or "- 0 error".
probe() {
    /usr/bin/python3 - "$1" "$TLS" <<'EOF'
import http.client, ssl, sys
try:
    if sys.argv[2] == "1":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), timeout=3, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=3)
    c.request("GET", "/", headers={"Host": "127.0.0.1"})
    r = c.getresponse()
    body = r.read()
    text = " ".join(body.decode("latin-1").split())
    print(r.status, len(body), (text[:100] + "...") if len(text) > 100 else (text or "-"))
except Exception as e:
    print("-", 0, type(e).__name__)
EOF
}

# wait_ready PID PORT NAME: waits up to 15 s until PORT answers GET / with 200 and the origin's
# body. Returns 1 if PID exits first (its port was probably taken), 2 on timeout or a wrong
# answer.
wait_ready() {
    local pid=$1 port=$2 name=$3 deadline answer
    deadline=$((SECONDS + 15))
    while [ "$SECONDS" -lt "$deadline" ]; do
        is_running "$pid" || return 1
        answer="$(probe "$port")"
        if [ "$answer" = "200 $ORIGIN_BODY_LEN $ORIGIN_BODY" ]; then
            return 0
        fi
        sleep 0.1
    done
    say "$name on port $port did not answer 200 \"$ORIGIN_BODY\" within 15 s; last answer: $answer"
    return 2
}

# launch LOG CPUS CMD...: starts CMD pinned to CPUS in the background; sets LAUNCHED_PID.
# taskset execs CMD, so the PID is the server's own.
launch() {
    local log=$1 cpus=$2
    shift 2
    taskset -c "$cpus" "$@" >"$log" 2>&1 </dev/null &
    LAUNCHED_PID=$!
    STARTED_PIDS+=("$LAUNCHED_PID")
}

# start_server NAME WRITE_CONFIG_FN CPUS CMD...: picks a free port, has WRITE_CONFIG_FN write the
# configuration for it (as PORT), launches CMD and waits until it proxies to the origin. Up to
# three attempts, each on a new port. Sets PROXY_PORT[NAME], PROXY_PID[NAME], PROXY_LOG[NAME].
start_server() {
    local name=$1 write_config=$2 cpus=$3
    shift 3
    local attempt port log rc
    for attempt in 1 2 3; do
        port="$(free_port)"
        log="$RUN_DIR/$name.log"
        "$write_config" "$port"
        launch "$log" "$cpus" "$@"
        rc=0
        wait_ready "$LAUNCHED_PID" "$port" "$name" || rc=$?
        if [ "$rc" -eq 0 ]; then
            PROXY_PORT[$name]=$port
            PROXY_PID[$name]=$LAUNCHED_PID
            PROXY_LOG[$name]=$log
            return 0
        fi
        stop_pid "$LAUNCHED_PID"
        # Only a lost race for the port is worth another attempt.
        if [ "$rc" -ne 1 ] || ! grep -qi 'in use' "$log"; then
            break
        fi
        say "$name: port $port was taken before it could bind it (attempt $attempt); retrying on another port"
    done
    say "--- last lines of $log ---"
    tail -n 20 "$log" >&2 || true
    die "$name did not start"
}

# --- the origin: nginx, one worker, `return 200` ---

write_origin_config() {
    local port=$1 dir="$RUN_DIR/origin"
    mkdir -p "$dir/logs"
    cat >"$dir/nginx.conf" <<EOF
# Origin for the benchmarks: one worker answering every request with 13 bytes.
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_timeout ${IDLE_TIMEOUT_S}s;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / {
            return 200 "$ORIGIN_BODY\n";
        }
    }
}
EOF
    ORIGIN_PORT=$port
}

# The origin is probed directly: start_server's readiness check is GET / answering the body.
start_origin() {
    local dir="$RUN_DIR/origin"
    start_server origin write_origin_config "$LOAD_CPUS" \
        nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" -g 'daemon off;'
    ORIGIN_PORT=${PROXY_PORT[origin]}
    ORIGIN_PID=${PROXY_PID[origin]}
    unset 'PROXY_PORT[origin]' 'PROXY_PID[origin]' 'PROXY_LOG[origin]'
}

# --- portcullis ---

# The protocol lines of the benchmark listener, and its certificate when TLS=1.
portcullis_listener_tls() {
    if [ "$TLS" -ne 1 ]; then
        echo "      protocol: HTTP"
        return
    fi
    cat <<EOF
      protocol: HTTPS
      tls:
        certificateRefs:
          - {group: portcullis.dev, kind: CertificateFiles, name: bench}
---
apiVersion: portcullis.dev/v1alpha1
kind: CertificateFiles
metadata:
  name: bench
spec:
  certificate: $RUN_DIR/tls/cert.pem
  privateKey: $RUN_DIR/tls/key.pem
EOF
}

write_portcullis_config() {
    local port=$1 admin_port
    admin_port="$(free_port)"
    cat >"$RUN_DIR/portcullis.yaml" <<EOF
# portcullis for the benchmarks: one route to the origin, access log off.
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: edge
spec:
  gatewayClassName: portcullis
  addresses:
    - type: IPAddress
      value: 127.0.0.1
  listeners:
    - name: http
      port: $port
$(portcullis_listener_tls)
---
apiVersion: portcullis.dev/v1alpha1
kind: ServiceEndpoints
metadata:
  name: origin
spec:
  ports:
    - port: 80
      endpoints:
        - "127.0.0.1:$ORIGIN_PORT"
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bench
spec:
  parentRefs:
    - name: edge
      sectionName: http
  rules:
    - backendRefs:
        - name: origin
          port: 80
---
# Idle keep-alive client connections stay open for ${IDLE_TIMEOUT_S} s (the idle benchmark).
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: bench-client
spec:
  targetRefs:
    - kind: Gateway
      name: edge
  timeouts:
    idle: ${IDLE_TIMEOUT_S}s
---
# As many pooled origin connections as nginx's upstream keepalive pool holds.
apiVersion: portcullis.dev/v1alpha1
kind: BackendTrafficPolicy
metadata:
  name: bench-backend
spec:
  targetRefs:
    - group: ""
      kind: Service
      name: origin
  connectionPool:
    maxIdlePerEndpoint: $POOL_SIZE
    idleTimeout: ${IDLE_TIMEOUT_S}s
---
apiVersion: portcullis.dev/v1alpha1
kind: ProxyConfig
metadata:
  name: proxy
spec:
  admin:
    address: 127.0.0.1
    port: $admin_port
  accessLog:
    enabled: false
  log:
    level: warn
  shutdown:
    gracePeriod: 1s
  watch:
    enabled: false
$([ "$TLS" -eq 1 ] && [ "$TLS_TICKETS" -eq 0 ] && printf '  tls:\n    sessionTickets: false')
EOF
    PORTCULLIS_ADMIN_PORT=$admin_port
    "$PC_BIN" validate -c "$RUN_DIR/portcullis.yaml" >"$RUN_DIR/portcullis-validate.log" 2>&1 \
        || { cat "$RUN_DIR/portcullis-validate.log" >&2; die "portcullis refused the benchmark configuration"; }
}

start_portcullis() {
    start_server portcullis write_portcullis_config "$PROXY_CPUS" \
        "$PC_BIN" run -c "$RUN_DIR/portcullis.yaml" --workers "$WORKERS"
}

# --- nginx as a proxy ---

# nginx's TLS settings when TLS=1: the same certificate, TLS 1.2 and 1.3, tickets on (its
# default, as portcullis's) unless TLS_TICKETS=0, no session cache (portcullis keeps none either).
nginx_tls_lines() {
    [ "$TLS" -eq 1 ] || return 0
    cat <<EOF
        ssl_certificate $RUN_DIR/tls/cert.pem;
        ssl_certificate_key $RUN_DIR/tls/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets $([ "$TLS_TICKETS" -eq 1 ] && echo on || echo off);
        ssl_session_cache none;
EOF
}

write_nginx_config() {
    local port=$1 dir="$RUN_DIR/nginx"
    mkdir -p "$dir/logs"
    cat >"$dir/nginx.conf" <<EOF
# nginx as a keep-alive reverse proxy to the origin, access log off.
worker_processes $WORKERS;
worker_rlimit_nofile $FD_LIMIT;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events {
    worker_connections $MAX_CONNS;
}
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    # No cap on requests per client connection (the default, 1000, would make wrk reconnect).
    keepalive_timeout ${IDLE_TIMEOUT_S}s;
    keepalive_requests 100000000;
    upstream origin {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive $POOL_SIZE;
        keepalive_requests 100000000;
        keepalive_timeout ${IDLE_TIMEOUT_S}s;
    }
    server {
        listen 127.0.0.1:$port backlog=4096$([ "$TLS" -eq 1 ] && echo " ssl");
$(nginx_tls_lines)
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}

start_nginx() {
    local dir="$RUN_DIR/nginx"
    start_server nginx write_nginx_config "$PROXY_CPUS" \
        nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" -g 'daemon off;'
}

# --- haproxy ---

write_haproxy_config() {
    local port=$1
    cat >"$RUN_DIR/haproxy.cfg" <<EOF
# haproxy as a keep-alive reverse proxy to the origin, no logging.
global
    nbthread $WORKERS
    maxconn $MAX_CONNS
    # haproxy wants 2 x maxconn descriptors (a server connection per client connection) and
    # refuses to start below that by default. Idle clients need one each, and the fd limit here
    # (FD_LIMIT=$FD_LIMIT) covers them, so start with a warning instead.
    no strict-limits

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client ${IDLE_TIMEOUT_S}s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive ${IDLE_TIMEOUT_S}s

frontend bench
    bind 127.0.0.1:$port
    maxconn $MAX_CONNS
    default_backend origin

backend origin
    server origin 127.0.0.1:$ORIGIN_PORT
EOF
}

start_haproxy() {
    start_server haproxy write_haproxy_config "$PROXY_CPUS" \
        haproxy -db -f "$RUN_DIR/haproxy.cfg"
}

# start_proxy NAME: one of portcullis, nginx, haproxy.
start_proxy() {
    case "$1" in
    portcullis) start_portcullis ;;
    nginx) start_nginx ;;
    haproxy) start_haproxy ;;
    *) die "unknown proxy: $1 (portcullis, nginx or haproxy)" ;;
    esac
}

# --- /proc readers ---

# CPU ticks (utime + stime, all threads) used so far by PID and its children.
tree_cpu_ticks() {
    /usr/bin/python3 "$BENCH_DIR/procinfo.py" cpu "$1"
}
