#!/usr/bin/python3
"""Makes the signing key and the RS256 tokens bench/jwt.sh sends.

    jwt_tokens.py --out DIR [--count N] [--issuer ISS] [--audience AUD] [--scope SCOPE]
                  [--lifetime SECONDS]

Writes into DIR:
    jwks.json    the public key as a JWK set (kty RSA, kid "bench-rs256"), for portcullis
    public.pem   the same public key as a PEM SubjectPublicKeyInfo, for haproxy's jwt_verify
    tokens.txt   COUNT distinct tokens, one per line, all signed with that key
    refused.txt  tokens each proxy must refuse, one per line as "WHAT TOKEN": a forged
                 signature, another issuer, another audience, an expired token, alg none

Every token carries the same header (alg RS256, typ JWT, the kid), issuer, audience (a single
string, which both gateways can compare) and scope; `sub` and `jti` differ, so no two tokens
(and no two signatures) are alike. They are valid from a minute ago for LIFETIME seconds.

The key is a fresh RSA-2048 key each time and is never written out: nothing outside this run
can use the tokens. The refused tokens are the good ones with one thing wrong each: a proxy that
answers 200 to any of them does not make the checks the benchmark compares.

Debian's python3-jwt and python3-cryptography only; run with /usr/bin/python3.
"""

import argparse
import base64
import json
import os
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "bench-rs256"


def b64url_uint(value):
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def write_public(key, out):
    numbers = key.public_key().public_numbers()
    jwks = {"keys": [{"kty": "RSA", "kid": KID, "alg": "RS256", "use": "sig",
                      "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e)}]}
    with open(os.path.join(out, "jwks.json"), "w") as f:
        json.dump(jwks, f)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(os.path.join(out, "public.pem"), "wb") as f:
        f.write(pem)


def claims_for(args, i, now):
    return {
        "iss": args.issuer,
        "aud": args.audience,
        "sub": "bench-user-%05d" % i,
        "client_id": "bench-client",
        "scope": args.scope,
        "iat": now - 60,
        "exp": now + args.lifetime,
        "jti": "%08d-%s" % (i, os.urandom(8).hex()),
    }


def write_tokens(key, args, now):
    with open(os.path.join(args.out, "tokens.txt"), "w") as f:
        for i in range(args.count):
            token = jwt.encode(claims_for(args, i, now), key, algorithm="RS256",
                               headers={"kid": KID})
            f.write(token + "\n")


def b64url_json(value):
    raw = json.dumps(value, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def write_refused(key, args, now):
    """Good tokens but for one thing each; every one must be refused."""
    def signed(**changes):
        claims = claims_for(args, args.count, now)
        claims.update(changes)
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})

    good = signed()
    head, payload, sig = good.split(".")
    # Another signature's bytes: the middle character of the signature changed, so the
    # decoded value differs (the last character may only carry padding bits).
    mid = len(sig) // 2
    forged_sig = sig[:mid] + ("A" if sig[mid] != "A" else "B") + sig[mid + 1:]
    unsigned = b64url_json({"alg": "none", "typ": "JWT"}) + "." + payload + "."
    refused = [
        ("forged-signature", ".".join((head, payload, forged_sig))),
        ("other-issuer", signed(iss=args.issuer + "/other")),
        ("other-audience", signed(aud=args.audience + "/other")),
        ("expired", signed(iat=now - 7200, exp=now - 3600)),
        ("alg-none", unsigned),
    ]
    with open(os.path.join(args.out, "refused.txt"), "w") as f:
        for what, token in refused:
            f.write("%s %s\n" % (what, token))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--issuer", default="https://idp.bench.test")
    parser.add_argument("--audience", default="api://bench")
    parser.add_argument("--scope", default="bench:read bench:write")
    parser.add_argument("--lifetime", type=int, default=3600)
    args = parser.parse_args()
    if args.count < 1 or args.lifetime < 120:
        sys.exit("jwt_tokens.py: --count must be >= 1 and --lifetime >= 120")

    os.makedirs(args.out, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    write_public(key, args.out)
    write_tokens(key, args, now)
    write_refused(key, args, now)
    return 0


if __name__ == "__main__":
    sys.exit(main())
