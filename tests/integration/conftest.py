"""Fixtures that start real processes on 127.0.0.1: origins and the portcullis binary.

The binary is $PORTCULLIS_BIN, else build-san/portcullis (the sanitizer build the suite runs),
else build/portcullis. Every process started here is stopped by the PID we started it with.
"""

import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes a minute or more; part of the normal suite (-m 'not slow' "
        "leaves it out of a quick run)")


def binary():
    env = os.environ.get("PORTCULLIS_BIN")
    if env:
        return env
    for candidate in ("build-san/portcullis", "build/portcullis"):
        path = os.path.join(ROOT, candidate)
        if os.path.exists(path):
            return path
    pytest.fail("no portcullis binary: run make (or make SAN=1) first")


def free_port():
    """A port the kernel just gave out; servers that must bind it themselves use this."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError("nothing listens on %d" % port)


class Origin:
    """tests/integration/origin.py in its own process.

    tls: (certificate chain path, key path) to serve HTTPS; client_ca: a CA file path, to
    require client certificates from it, and then count_client: the (certificate, key) paths
    counts() presents."""

    def __init__(self, name="origin", tls=None, client_ca=None, count_client=None):
        self.name = name
        self.count_ctx = None
        args = ["/usr/bin/python3", os.path.join(HERE, "origin.py"), "--name", name]
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
            self.count_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.count_ctx.check_hostname = False
            self.count_ctx.verify_mode = ssl.CERT_NONE
            if count_client:
                self.count_ctx.load_cert_chain(*count_client)
        if client_ca:
            args += ["--client-ca", client_ca]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError("origin did not start: %r" % line)
        self.port = int(line.split()[1])

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def counts(self):
        """{"served": request heads read, "completed": requests read whole, "connections":
        connections that carried them}, from the origin's /count, asked directly."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if self.count_ctx is not None:
            s = self.count_ctx.wrap_socket(s)
        with s:
            s.sendall(b"GET /count HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        return json.loads(data.partition(b"\r\n\r\n")[2])

    def served(self):
        """How many request heads this origin has read."""
        return self.counts()["served"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


class Gateway:
    """The real binary on a configuration written to a temporary directory."""

    def __init__(self, config, admin_port, port=None, workers=2, extra_env=None,
                 check_ready=True):
        self.admin_port = admin_port
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="portcullis-test-")
        self.config_path = os.path.join(self.dir, "gateway.yaml")
        self.write_config(config)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.access_path = os.path.join(self.dir, "access.log")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if extra_env:
            env.update(extra_env)
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [binary(), "run", "-c", self.config_path, "--workers", str(workers)],
            stdout=subprocess.DEVNULL, stderr=self.stderr, env=env)
        if check_ready:
            self.wait_ready()

    def render(self, routes, backends, **kw):
        """The configuration text for these routes on this gateway's ports and access log, for
        write_config() on a reload (keywords as gateway_config takes them)."""
        return gateway_config(self.port, self.admin_port, routes, backends,
                              access_log=self.access_path, **kw)

    def write_config(self, config):
        """Replaces the configuration file atomically (a rename, as editors and ConfigMaps do)."""
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(textwrap.dedent(config))
        os.rename(tmp, self.config_path)

    def wait_ready(self, timeout=15.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.admin_port), timeout=0.5) as s:
                    s.sendall(b"GET /readyz HTTP/1.1\r\nHost: admin\r\n\r\n")
                    if b" 200 " in s.recv(1024):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError("gateway not ready:\n" + self.log())

    def log(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def access_log(self):
        try:
            with open(self.access_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30.0):
        """SIGTERM, wait, and fail on a non-zero exit or any sanitizer report."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("gateway did not drain in %ss:\n%s" % (timeout, self.log()))
        self.stderr.close()
        text = self.log()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, text
        assert self.proc.returncode == 0, "exit %d:\n%s" % (self.proc.returncode, text)


def gateway_config(port, admin_port, routes, backends, proxy_extra="", gateway_extra="",
                   listeners=None, access_log=None, policies="", log_level="info"):
    """A Gateway on 127.0.0.1:port with the given HTTPRoute rules and ServiceEndpoints.

    routes: YAML text of HTTPRoute documents (without the leading ---).
    backends: {service_name: [address, ...]} served on Service port 80.
    log_level: ProxyConfig spec.log.level; None leaves it out (the gateway's default).
    """
    listeners = listeners or """
    - name: http
      port: %d
      protocol: HTTP
""" % port
    docs = ["""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: edge
spec:
  gatewayClassName: portcullis
  addresses:
  - type: IPAddress
    value: 127.0.0.1
  listeners:%s%s""" % (textwrap.indent(textwrap.dedent(listeners), "  ").rstrip("\n"),
                        gateway_extra)]
    for name, addresses in backends.items():
        eps = "\n".join("        - %s" % a for a in addresses)
        docs.append("""
apiVersion: portcullis.dev/v1alpha1
kind: ServiceEndpoints
metadata:
  name: %s
spec:
  ports:
    - port: 80
      endpoints:
%s""" % (name, eps))
    docs.append("""
apiVersion: portcullis.dev/v1alpha1
kind: ProxyConfig
metadata:
  name: proxy
spec:
  admin:
    address: 127.0.0.1
    port: %d
  accessLog:
    path: %s
%s%s""" % (admin_port, json.dumps(access_log or "-"),
          "  log:\n    level: %s\n" % log_level if log_level else "", proxy_extra))
    docs.append(textwrap.dedent(routes))
    if policies:
        docs.append(textwrap.dedent(policies))
    return "\n---\n".join(d.strip("\n") for d in docs) + "\n"


@pytest.fixture
def origin():
    o = Origin("origin-a")
    yield o
    o.stop()


@pytest.fixture
def origin_b():
    o = Origin("origin-b")
    yield o
    o.stop()


class Gateways:
    """Calling it as gateways(routes, backends, workers=2, **kw) starts a Gateway on fresh
    ports (keywords as gateway_config takes them; a `listeners` text may say {port} where the
    gateway's own port goes). stop_all() stops every one started and then fails on the first
    bad exit or sanitizer report."""

    def __init__(self):
        self.started = []

    def __call__(self, routes, backends, workers=2, **kw):
        port = free_port()
        admin = free_port()
        gw_dir = tempfile.mkdtemp(prefix="portcullis-access-")
        access = kw.pop("access_log", os.path.join(gw_dir, "access.log"))
        if kw.get("listeners"):
            kw["listeners"] = kw["listeners"].replace("{port}", str(port))
        text = gateway_config(port, admin, routes, backends, access_log=access, **kw)
        gw = Gateway(text, admin, port=port, workers=workers)
        gw.access_path = access
        self.started.append(gw)
        return gw

    def stop_all(self):
        failures = []
        for gw in self.started:
            try:
                gw.stop()
            except AssertionError as e:
                failures.append(e)
        if failures:
            raise failures[0]


@pytest.fixture
def make_gateway():
    """Gateways for one test (see Gateways)."""
    gateways = Gateways()
    yield gateways
    gateways.stop_all()


@pytest.fixture(scope="module")
def make_module_gateway():
    """Gateways shared by the tests of one module, stopped (and checked) after the last."""
    gateways = Gateways()
    yield gateways
    gateways.stop_all()


def simple_route(service="origin", extra_rules="", hostnames=None, name="web"):
    hosts = ""
    if hostnames:
        hosts = "  hostnames:\n" + "".join("  - %s\n" % h for h in hostnames)
    return """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: %s
spec:
  parentRefs:
  - name: edge
%s  rules:%s
  - backendRefs:
    - name: %s
      port: 80
""" % (name, hosts, extra_rules, service)
