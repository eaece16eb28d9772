# Debian packages, shared by scripts/quickstart and scripts/test. Sourced, not run.
#
# install_packages PKG...: installs whichever of PKG are missing, with sudo when not root.
install_packages() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

# What building portcullis needs.
BUILD_PACKAGES=(build-essential pkg-config libuv1-dev node-llhttp libnghttp2-dev libssl-dev
    libyaml-dev libjansson-dev libcurl4-openssl-dev libhiredis-dev libpcre2-dev libprotobuf-c-dev)

# What the test suite needs on top: unit tests, fuzzers, integration peers and tools.
TEST_PACKAGES=(clang llvm libclang-rt-14-dev libcmocka-dev python3 python3-pytest python3-yaml
    python3-requests curl nginx haproxy wrk redis-server procps python3-cryptography
    python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc python3-jwt
    testssl.sh)

# install_node: Node.js and npm for the test peers (oidc-provider). A machine that already has
# them from elsewhere (NodeSource's nodejs bundles npm and conflicts with Debian's npm) keeps its
# own; otherwise Debian's packages are installed.
install_node() {
    command -v node >/dev/null && command -v npm >/dev/null && return 0
    install_packages nodejs npm
}
