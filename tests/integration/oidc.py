"""npm's oidc-provider as a real OpenID Provider for the authentication tests.

tests/peers/oidc/server.mjs runs oidc-provider from a JSON configuration on 127.0.0.1 (see its
header for the fields). Provider here writes that configuration and a signing-key file into a
directory of the test's, starts the wrapper, waits a bounded time for its "PORT n" line (and
"TLS_PORT n" when it serves TLS), and stops it by the PID it was started with. It also plays
the OAuth client: tokens by client_credentials (with a resource indicator, DPoP or a client
certificate), introspection and revocation, over plain HTTP or TLS.

Keys, DPoP proofs and thumbprints are made with Debian's python3-cryptography and python3-jwt.
"""

import base64
import hashlib
import http.client
import json
import os
import queue
import shutil
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEER_DIR = os.path.join(ROOT, "tests", "peers", "oidc")
START_DEADLINE = 30.0


def missing():
    """Why the provider cannot run on this machine, with the command that fixes it; or None."""
    if shutil.which("node") is None:
        return ("node is not installed; scripts/test installs it (install_node in "
                "scripts/deps.sh), or run: apt-get install nodejs npm")
    if not os.path.isdir(os.path.join(PEER_DIR, "node_modules", "oidc-provider")):
        return ("tests/peers/oidc/node_modules is missing; scripts/test installs it, or run: "
                "npm ci --prefix tests/peers/oidc --no-audit --no-fund")
    return None


# --- keys, thumbprints, DPoP proofs ---

def b64u(data):
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ec_jwk(key):
    """The JWK of an EC P-256 key (private members too when key is private). RFC 7518 section
    6.2.1.2 and 6.2.2.1 fix x, y and d at the curve's 32 bytes; python3-jwt's to_jwk drops
    leading zero bytes (one key in about 120), which a strict verifier rightly refuses."""
    private = isinstance(key, ec.EllipticCurvePrivateKey)
    numbers = key.public_key().public_numbers() if private else key.public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64u(numbers.x.to_bytes(32, "big")),
           "y": b64u(numbers.y.to_bytes(32, "big"))}
    if private:
        jwk["d"] = b64u(key.private_numbers().private_value.to_bytes(32, "big"))
    return jwk


def signing_key(kid, kind="RSA"):
    """A private signing JWK (a dict) for the provider's key file: RSA 2048 (RS256) or EC P-256
    (ES256), with kid, use and alg."""
    if kind == "RSA":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(key))
        jwk.pop("key_ops", None)
        jwk["alg"] = "RS256"
    else:
        jwk = ec_jwk(ec.generate_private_key(ec.SECP256R1()))
        jwk["alg"] = "ES256"
    jwk.update(kid=kid, use="sig")
    return jwk


def jwk_thumbprint(jwk):
    """RFC 7638 section 3: SHA-256 over the required members, sorted, without whitespace."""
    members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}[jwk["kty"]]
    text = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64u(hashlib.sha256(text.encode()).digest())


def cert_thumbprint(der):
    """RFC 8705 section 3.1: x5t#S256, the base64url SHA-256 of the certificate's DER."""
    return b64u(hashlib.sha256(der).digest())


class DPoPKey:
    """An EC P-256 key a client proves possession of (RFC 9449)."""

    def __init__(self, key=None):
        self.key = key or ec.generate_private_key(ec.SECP256R1())
        self.jwk = ec_jwk(self.key.public_key())
        self.thumbprint = jwk_thumbprint(self.jwk)
        self.pem = self.key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())

    def proof(self, htm, htu, access_token=None, iat=None, jti=None):
        """A DPoP proof JWT (RFC 9449 section 4.2) for a request of method htm to htu; with
        access_token, its ath (section 4.3, the base64url SHA-256 of the token)."""
        claims = {"htm": htm, "htu": htu, "iat": int(time.time()) if iat is None else iat,
                  "jti": jti or uuid.uuid4().hex}
        if access_token is not None:
            claims["ath"] = b64u(hashlib.sha256(access_token.encode()).digest())
        return jwt.encode(claims, self.pem, algorithm="ES256",
                          headers={"typ": "dpop+jwt", "jwk": self.jwk})


def jws_header(token):
    """The protected header of a compact JWS, decoded (no verification)."""
    return jwt.get_unverified_header(token)


def jwt_claims(token):
    """The claims of a JWT, decoded without verifying anything: what the provider issued."""
    return jwt.decode(token, options={"verify_signature": False})


# --- the provider ---

class ProviderError(Exception):
    """The provider answered an OAuth request with an error."""

    def __init__(self, status, body):
        super().__init__("%d %s" % (status, body))
        self.status = status
        self.body = body


class Provider:
    """tests/peers/oidc/server.mjs in its own process.

    directory: where the configuration, the key file and the provider's stderr go; keys: the
    private JWKs it signs with (the first of each algorithm signs); clients, resource_servers,
    features, delays: as server.mjs takes them; port: the HTTP port (0: the kernel chooses);
    tls: a dict {cert, key, clientCA} of PEM paths to also serve HTTPS (mutual TLS)."""

    def __init__(self, directory, keys, clients, resource_servers=None, port=0, tls=None,
                 features=None, delays=None):
        self.dir = directory
        self.key_path = os.path.join(directory, "op-keys.json")
        self.config_path = os.path.join(directory, "op.json")
        self.stderr_path = os.path.join(directory, "op-stderr.log")
        self.write_keys(keys)
        config = {"port": port, "keyFile": self.key_path, "clients": clients,
                  "resourceServers": resource_servers or {}}
        if tls:
            config["tls"] = dict(tls)
        if features:
            config["features"] = features
        if delays:
            config["delays"] = delays
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        self.lines = queue.Queue()
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(["node", os.path.join(PEER_DIR, "server.mjs"),
                                      self.config_path],
                                     cwd=PEER_DIR, stdout=subprocess.PIPE, stderr=self.stderr,
                                     text=True)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        try:
            self.port = int(self.expect("PORT"))
            self.tls_port = int(self.expect("TLS_PORT")) if tls else None
        except BaseException:
            self.stop()
            raise
        self.issuer = "http://127.0.0.1:%d" % self.port

    def _read_stdout(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def requests(self, path):
        """The provider's "oidc request" lines for requests to path, answered so far, as dicts
        of their fields (method, path, status, client_id, client_auth)."""
        out = []
        for line in self.log().splitlines():
            if line.startswith("oidc request "):
                fields = dict(f.split("=", 1) for f in line.split()[2:])
                if fields.get("path") == path:
                    out.append(fields)
        return out

    def expect(self, word, deadline=START_DEADLINE):
        """The rest of the next stdout line, which must start with word; waits at most
        deadline seconds."""
        try:
            line = self.lines.get(timeout=deadline)
        except queue.Empty:
            line = "(nothing after %.0fs)" % deadline
        if line is None or not line.startswith(word + " "):
            raise RuntimeError("oidc-provider: expected %s, got %r; its stderr:\n%s"
                               % (word, line, self.log()))
        return line[len(word) + 1:]

    def log(self):
        """What the provider wrote on stderr so far."""
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def write_keys(self, keys):
        tmp = self.key_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"keys": keys}, f)
        os.rename(tmp, self.key_path)

    def rotate(self, keys):
        """Replaces the signing keys: writes the key file, sends SIGHUP and waits until the
        provider says it serves them."""
        self.write_keys(keys)
        self.proc.send_signal(signal.SIGHUP)
        kids = self.expect("KEYS").split()
        assert kids == [k["kid"] for k in keys], kids

    def stop(self):
        """SIGTERM by PID, then SIGKILL if it has not exited within 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.stderr.closed:
            self.stderr.close()

    # --- the OAuth client's side ---

    def url(self, path, secure=False):
        if secure:
            return "https://127.0.0.1:%d%s" % (self.tls_port, path)
        return self.issuer + path

    def post(self, path, form, auth=None, headers=None, tls=None):
        """POSTs a form. auth: (client_id, secret) sent as HTTP Basic (RFC 6749 section
        2.3.1); tls: an ssl.SSLContext to go to the TLS port with. Returns (status, parsed JSON
        or the raw text)."""
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"}
        if auth is not None:
            pair = "%s:%s" % (urllib.parse.quote(auth[0], safe=""),
                              urllib.parse.quote(auth[1], safe=""))
            hdrs["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        hdrs.update(headers or {})
        if tls is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.tls_port, timeout=10,
                                               context=tls)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", path, body=urllib.parse.urlencode(form), headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text

    def token(self, client_id, secret=None, resource=None, scope=None, dpop=None, tls=None):
        """An access token by client_credentials: the token endpoint's whole answer (a dict).
        secret: sent with HTTP Basic (None: the client authenticates by its TLS certificate);
        resource: the resource indicator (RFC 8707), which makes the token a JWT for that
        resource server; dpop: a DPoPKey to bind the token to (RFC 9449 section 5)."""
        form = {"grant_type": "client_credentials"}
        if resource is not None:
            form["resource"] = resource
        if scope is not None:
            form["scope"] = scope
        if secret is None:
            form["client_id"] = client_id
        headers = {}
        if dpop is not None:
            headers["DPoP"] = dpop.proof("POST", self.url("/token"))
        status, doc = self.post("/token", form, auth=(client_id, secret) if secret else None,
                                headers=headers, tls=tls)
        if status != 200:
            raise ProviderError(status, doc)
        return doc

    def introspect(self, token, client_id, secret):
        """RFC 7662 introspection, as the client given (HTTP Basic): the parsed answer."""
        status, doc = self.post("/token/introspection", {"token": token},
                                auth=(client_id, secret))
        if status != 200:
            raise ProviderError(status, doc)
        return doc

    def revoke(self, token, client_id, secret):
        """RFC 7009 revocation by the client the token was issued to."""
        status, doc = self.post("/token/revocation", {"token": token},
                                auth=(client_id, secret))
        if status != 200:
            raise ProviderError(status, doc)


def tls_client(ca_pem, cert=None):
    """An ssl.SSLContext to reach the provider's TLS port: trusting ca_pem (bytes), presenting
    cert, a (chain path, key path) pair, if given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca_pem.decode())
    if cert is not None:
        ctx.load_cert_chain(*cert)
    return ctx
