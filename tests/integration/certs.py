"""Certificate hierarchies for the TLS tests, made with Debian's python3-cryptography.

Everything is EC P-256 unless asked otherwise. A CA issues leaves with the SANs, key usages,
extended key usages and validity the test wants, including the malformed ones (two URI SANs, a
CA flag on a client certificate, no client-auth usage) that the gateway must refuse.
spiffe_bundle() writes CA certificates in the SPIFFE bundle format (a JWK set).
"""

import base64
import datetime
import ipaddress
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class Cert:
    def __init__(self, cert, key, issuer=None):
        self.cert = cert
        self.key = key
        self.issuer = issuer

    @property
    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self):
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self):
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def chain_pem(self):
        """This certificate and its issuers up to, not including, the root."""
        out = self.pem
        c = self.issuer
        while c is not None and c.issuer is not None:
            out += c.pem
            c = c.issuer
        return out

    def fingerprint(self):
        return self.cert.fingerprint(hashes.SHA256()).hex()

    def write(self, directory, name, chain=True):
        """Writes name.crt (chain, leaf first) and name.key; returns their paths."""
        crt = os.path.join(directory, name + ".crt")
        key = os.path.join(directory, name + ".key")
        with open(crt + ".tmp", "wb") as f:
            f.write(self.chain_pem() if chain else self.pem)
        with open(key + ".tmp", "wb") as f:
            f.write(self.key_pem)
        os.rename(crt + ".tmp", crt)
        os.rename(key + ".tmp", key)
        return crt, key


def ca(cn="Test Root CA", issuer=None, path_length=None, not_before=None, not_after=None,
       uris=()):
    """A CA certificate: self-signed when issuer is None, else an intermediate."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn))
               .issuer_name(issuer.cert.subject if issuer else _name(cn))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
               .not_valid_after(not_after or NOW + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length),
                              critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False,
                                            decipher_only=False), critical=True))
    if uris:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]),
            critical=False)
    signer = issuer.key if issuer else key
    return Cert(builder.sign(signer, hashes.SHA256()), key, issuer)


def leaf(issuer, cn="leaf", dns=(), uris=(), emails=(), ips=(), client=True, server=True,
         is_ca=False, key_usage=True, not_before=None, not_after=None, key_cert_sign=False,
         crl_urls=(), rsa_bits=None):
    """A leaf certificate issued by issuer. client/server choose the extended key usages (both
    False leaves the extension out); key_usage=False leaves keyUsage out. ips are IP address
    SANs, crl_urls the URIs of a CRL distribution point; rsa_bits makes an RSA key of that size
    instead of EC P-256 (its keyUsage then also allows key encipherment)."""
    if rsa_bits:
        key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    sans = ([x509.DNSName(d) for d in dns] + [x509.UniformResourceIdentifier(u) for u in uris]
            + [x509.RFC822Name(e) for e in emails]
            + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips])
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn))
               .issuer_name(issuer.cert.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
               .not_valid_after(not_after or NOW + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if key_usage:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=bool(rsa_bits), data_encipherment=False,
                          key_agreement=False,
                          key_cert_sign=key_cert_sign or is_ca, crl_sign=is_ca,
                          encipher_only=False, decipher_only=False), critical=True)
    ekus = ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else []) + \
        ([ExtendedKeyUsageOID.SERVER_AUTH] if server else [])
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    if crl_urls:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(u) for u in crl_urls], relative_name=None,
            reasons=None, crl_issuer=None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return Cert(builder.sign(issuer.key, hashes.SHA256()), key, issuer)


def _b64url(n, size):
    return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()


def spiffe_bundle(*cas):
    """The SPIFFE bundle format (SPIFFE_Trust_Domain_and_Bundle.md section 4) for these EC P-256
    CA certificates, as JSON text: one JWK per CA with use "x509-svid", its public key members,
    and x5c holding the certificate's DER in standard base64."""
    keys = []
    for c in cas:
        numbers = c.cert.public_key().public_numbers()
        keys.append({
            "use": "x509-svid",
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x, 32),
            "y": _b64url(numbers.y, 32),
            "x5c": [base64.b64encode(c.der).decode()],
        })
    return json.dumps({"keys": keys, "spiffe_refresh_hint": 300}, indent=2)


def days(n):
    return NOW + datetime.timedelta(days=n)
