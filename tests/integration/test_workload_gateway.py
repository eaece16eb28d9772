"""The gateway on material from the SPIFFE Workload API: its own X.509-SVID as the HTTPS
listener's certificate and as its client certificate towards an upstream, and a trust bundle
streamed by the API verifying client SVIDs.

No SPIRE agent can be installed here: tests/spiffe/workload_server.py serves the public
Workload API specification instead (see its docstring).
"""

import hashlib
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time

import pytest
from cryptography.hazmat.primitives import serialization

import certs
from conftest import Gateway, free_port
from test_workload_api import Pki, Server, _pem

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def pki():
    p = Pki()
    yield p


@pytest.fixture
def agent_socket():
    d = tempfile.mkdtemp(prefix="wl-gw-")
    yield os.path.join(d, "agent.sock")


def svid(pki, trust_domain, spiffe_id, client=True, server=False):
    """An X.509-SVID as the specification requires it (keyUsage digitalSignature, not a CA),
    issued by the PKI's CA of trust_domain."""
    ca_key, ca_cert = pki.cas[trust_domain]
    return certs.leaf(certs.Cert(ca_cert, ca_key), cn=spiffe_id.rsplit("/", 1)[-1],
                      uris=[spiffe_id], client=client, server=server)


class ClientSvid:
    """A client workload: its X.509-SVID (issued by the CA of trust_domain) and key files, and
    the example.org CA it verifies the gateway with."""

    def __init__(self, pki, spiffe_id="spiffe://example.org/client", trust_domain="example.org"):
        ca_cert = pki.cas["example.org"][1]
        issued = svid(pki, trust_domain, spiffe_id)
        cert, key = issued.cert, issued.key
        self.dir = tempfile.mkdtemp(prefix="wl-client-")
        self.cert = os.path.join(self.dir, "client.pem")
        self.key = os.path.join(self.dir, "client.key")
        self.ca = os.path.join(self.dir, "ca.pem")
        with open(self.cert, "wb") as f:
            f.write(_pem(cert))
        with open(self.key, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(self.ca, "wb") as f:
            f.write(_pem(ca_cert))
        self.spiffe_id = spiffe_id


def tls_get(port, svid, path="/echo"):
    """One HTTPS request presenting the client SVID; the gateway's SVID has no DNS name, so
    the chain is verified against the trust domain's CA without a host name check.
    Returns (status, body, sha256 of the server's leaf)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(svid.ca)
    ctx.load_cert_chain(svid.cert, svid.key)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="gw.example.org") as s:
            leaf = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()
            s.sendall(b"GET %s HTTP/1.1\r\nHost: gw.example.org\r\nConnection: close\r\n\r\n"
                      % path.encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body, leaf


def readyz(admin_port):
    try:
        with socket.create_connection(("127.0.0.1", admin_port), timeout=2) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n")
            return int(s.recv(1024).split(b" ")[1])
    except OSError:
        return 0


def wait_for(pred, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


def gateway_yaml(port, admin_port, socket_path, origin_port, backend_tls=""):
    return """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: portcullis
  addresses: [{type: IPAddress, value: 127.0.0.1}]
%s  listeners:
  - name: https
    port: %d
    protocol: HTTPS
    tls:
      certificateRefs: [{group: portcullis.dev, kind: WorkloadIdentity, name: me}]
      frontendValidation:
        caCertificateRefs: [{group: portcullis.dev, kind: TrustBundle, name: example-org}]
---
apiVersion: portcullis.dev/v1alpha1
kind: WorkloadIdentity
metadata: {name: me}
---
apiVersion: portcullis.dev/v1alpha1
kind: TrustBundle
metadata: {name: example-org}
spec: {trustDomain: example.org, workloadAPI: true}
---
apiVersion: portcullis.dev/v1alpha1
kind: ServiceEndpoints
metadata: {name: origin}
spec:
  ports: [{port: 80, endpoints: ["127.0.0.1:%d"]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: origin, port: 80}]}]
---
apiVersion: portcullis.dev/v1alpha1
kind: ProxyConfig
metadata: {name: proxy}
spec:
  admin: {address: 127.0.0.1, port: %d}
  log: {level: info}
  spiffe: {workloadAPISocket: "unix://%s"}
""" % (backend_tls, port, origin_port, admin_port, socket_path)


@pytest.fixture
def stack(pki, agent_socket, origin):
    """The gateway on Workload API material, the test agent, and a plain origin."""
    port, admin = free_port(), free_port()
    gw = Gateway(gateway_yaml(port, admin, agent_socket, origin.port), admin, port=port,
                 workers=2, check_ready=False)
    agents = []

    class Stack:
        gateway = gw
        svid = ClientSvid(pki)

        def agent(self):
            a = Server(agent_socket, pki)
            agents.append(a)
            return a

    yield Stack()
    gw.stop()
    for a in agents:
        a.kill()


def test_gateway_is_not_ready_until_the_workload_api_serves_its_svid(stack, pki):
    time.sleep(1.0)
    assert readyz(stack.gateway.admin_port) == 503
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", stack.gateway.port), timeout=1).close()

    stack.agent()
    wait_for(lambda: readyz(stack.gateway.admin_port) == 200, timeout=40, what="ready")
    status, body, leaf = tls_get(stack.gateway.port, stack.svid)
    assert status == 200
    assert leaf == pki.leaf_sha256
    xfcc = [v for k, v in json.loads(body)["headers"] if k == "x-forwarded-client-cert"]
    assert xfcc and "URI=spiffe://example.org/client" in xfcc[0]


def test_a_rotated_svid_is_served_without_a_restart(stack, pki):
    stack.agent()
    wait_for(lambda: readyz(stack.gateway.admin_port) == 200, timeout=40, what="ready")
    first = tls_get(stack.gateway.port, stack.svid)[2]
    second_sha = pki.rotate()
    assert second_sha != first
    wait_for(lambda: tls_get(stack.gateway.port, stack.svid)[2] == second_sha, timeout=20,
             what="the rotated SVID")
    assert "material_reloaded trigger=workload_api" in stack.gateway.log()


def test_the_last_svid_keeps_serving_while_the_agent_is_away(stack, pki):
    agent = stack.agent()
    wait_for(lambda: readyz(stack.gateway.admin_port) == 200, timeout=40, what="ready")
    agent.kill()
    time.sleep(1.0)
    status, _, leaf = tls_get(stack.gateway.port, stack.svid)
    assert status == 200 and leaf == pki.leaf_sha256
    assert readyz(stack.gateway.admin_port) == 200


def test_a_client_svid_from_another_trust_domain_is_refused(stack, pki):
    stack.agent()
    wait_for(lambda: readyz(stack.gateway.admin_port) == 200, timeout=40, what="ready")
    stranger = ClientSvid(pki, "spiffe://other.org/x", trust_domain="other.org")
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls_get(stack.gateway.port, stranger)
    wait_for(lambda: "client_certificate_refused" in stack.gateway.log(), timeout=5,
             what="the refusal in the log")
    assert "reason=foreign_trust_domain" in stack.gateway.log()


def test_the_gateway_presents_its_svid_to_an_upstream(pki, agent_socket):
    """mTLS towards an upstream with the gateway's own SVID as the client certificate."""
    d = tempfile.mkdtemp(prefix="wl-up-")
    api = svid(pki, "example.org", "spiffe://example.org/api", client=False, server=True)
    up_cert, up_key = api.write(d, "up")
    up_ca = os.path.join(d, "ca.pem")
    with open(up_ca, "wb") as f:
        f.write(_pem(pki.cas["example.org"][1]))
    origin = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(HERE, "origin.py"), "--name", "api", "--tls-cert",
         up_cert, "--tls-key", up_key, "--client-ca", up_ca],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    origin_port = int(origin.stdout.readline().split()[1])
    backend_tls = """  backendTLS:
    clientCertificateRef: {group: portcullis.dev, kind: WorkloadIdentity, name: me}
"""
    port, admin = free_port(), free_port()
    text = gateway_yaml(port, admin, agent_socket, origin_port, backend_tls) + """---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: api-tls}
spec:
  targetRefs: [{group: "", kind: Service, name: origin}]
  validation:
    hostname: api.example.org
    caCertificateRefs: [{group: portcullis.dev, kind: TrustBundle, name: example-org}]
    subjectAltNames: [{type: URI, uri: "spiffe://example.org/api"}]
"""
    gw = Gateway(text, admin, port=port, workers=1, check_ready=False)
    agent = Server(agent_socket, pki)
    try:
        wait_for(lambda: readyz(admin) == 200, timeout=40, what="ready")
        status, body, _ = tls_get(port, ClientSvid(pki))
        assert status == 200, body
        assert json.loads(body)["client_cert_sha256"] == pki.leaf_sha256
    finally:
        gw.stop()
        agent.kill()
        origin.kill()
        origin.wait()
