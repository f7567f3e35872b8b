"""The product's RFC 3161 authority in process: tokens per second, against a bare ECDSA
signature, in the same run.

    python -m bench.tsa [--n 200]     (from the repository root)

Ours: ``TimeStampAuthority.stamp`` (request built, answered, reply read whole and checked, as
``receipts/tsa/stamping.py`` does in process) and ``TimeStampAuthority.respond`` alone (what
``receipts tsa serve`` and the node's POST /tsa do per query), over N distinct digests, with the
tests' tier PKI (a TSA certificate under the provincial CA, both carried in the token).
Baseline: the same TSA key's ECDSA P-256 signature (SHA-256) over each token's bytes, with
``cryptography`` alone: the one cost no authority avoids. Each token is checked with
``check_token`` after the timing, so a fast but wrong token would not pass unnoticed.
"""

from __future__ import annotations

import argparse
import hashlib
import time

from asn1crypto import tsp  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signing.keys import generate_key
from signing.timestamp_authority import TimeStampAuthority
from signing.timestamps import TokenCheck, check_token
from signing.tsa_certificate import issue_tsa_certificate
from tests.support.tier_pki import tier_pki


def _query(data: bytes) -> bytes:
    imprint = {
        "hash_algorithm": {"algorithm": "sha256"},
        "hashed_message": hashlib.sha256(data).digest(),
    }
    return bytes(
        tsp.TimeStampReq(
            {"version": "v1", "message_imprint": imprint, "nonce": 1, "cert_req": True}
        ).dump()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="tokens per measurement")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be at least 1")
    pki = tier_pki()
    key = generate_key()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    cert = issue_tsa_certificate(pki.prov_ca, pki.prov_ca_key, key.public_key())
    authority = TimeStampAuthority(key, [cert, pki.prov_ca])
    data = [f"receipt {n}".encode() for n in range(args.n)]
    queries = [_query(d) for d in data]
    authority.stamp(b"warm-up")

    started = time.perf_counter()
    tokens = [authority.stamp(d) for d in data]
    stamp_s = time.perf_counter() - started

    started = time.perf_counter()
    for query in queries:
        authority.respond(query)
    respond_s = time.perf_counter() - started

    started = time.perf_counter()
    for token in tokens:
        key.sign(token, ec.ECDSA(hashes.SHA256()))
    bare_s = time.perf_counter() - started

    validator = pki.validator()
    checks = [check_token(t, d, validator) for t, d in zip(tokens, data, strict=True)]
    bad = [c for c in checks if not isinstance(c, TokenCheck)]
    if bad:
        raise SystemExit(f"{len(bad)} of {args.n} tokens do not verify: {bad[0]}")
    if len({c.serial for c in checks if isinstance(c, TokenCheck)}) != args.n:
        raise SystemExit("serial numbers repeat")

    n = args.n
    print(f"tokens: {n}, {len(tokens[0])} bytes each (all verify, serials unique)")
    print(f"stamp (in process, reply checked): {n / stamp_s:8.1f} tokens/s")
    print(f"respond (authority alone):         {n / respond_s:8.1f} replies/s")
    print(f"bare ECDSA P-256 over the token:   {n / bare_s:8.1f} signatures/s")
    print(f"stamp / bare signature: {stamp_s / bare_s:.1f}x the time")
    print(f"respond / bare signature: {respond_s / bare_s:.1f}x the time")


if __name__ == "__main__":
    main()
