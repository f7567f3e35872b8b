"""Batch issuing throughput: receipts signed and stored per second, against bare signxml.

    python -m bench.issue [--n 2000] [--pg URL]     (from the repository root)

Baseline, measured in the same run on the same documents: signxml's ``XAdESSigner`` signing
each receipt's XML in one process, nothing stored. Ours: ``issue_batch`` with two signing
workers (numbers taken, receipts sealed, signed, stored, events chained, heads signed). Target:
the ledger costs less than 30 %, i.e. ratio >= 0.7. PostgreSQL is measured when ``--pg`` or
RECEIPTS_TEST_PG_URL gives a URL.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from signxml.algorithms import SignatureMethod
from signxml.xades.xades import XAdESSigner

from receipts.domain.xmlcodec import receipt_to_element
from receipts.issuing.issue import issue_batch
from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from tests.support.factories import make_receipt
from tests.support.ledger import make_issuer, request, stock_city
from tests.support.postgres import PgSchemas
from tests.support.tier_pki import tier_pki


def bare_signxml(n: int) -> float:
    """Receipts/s signing with bare signxml XAdES (one process)."""
    signer = tier_pki().signers["640100"]
    docs = [receipt_to_element(make_receipt(number=i + 1)) for i in range(n)]
    start = time.perf_counter()
    for doc in docs:
        XAdESSigner(signature_algorithm=SignatureMethod.ECDSA_SHA256).sign(
            doc, key=signer.key, cert=[signer.certificate, *signer.intermediates]
        )
    return n / (time.perf_counter() - start)


def ours(url: str, tmp: Path, n: int, workers: int) -> float:
    """Receipts/s through ``issue_batch`` on the ledger at ``url``."""
    db = Database(url)
    initialise(db, "640100")
    stock_city(db, tmp, count=n)
    issuer = make_issuer(workers=workers)
    requests = [request(f"B{i}", amount=f"{100 + i}.00") for i in range(n)]
    start = time.perf_counter()
    count = sum(1 for _ in issue_batch(db, issuer, requests))
    elapsed = time.perf_counter() - start
    issuer.pool.close()
    db.dispose()
    assert count == n
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("RECEIPTS_TEST_PG_URL"))
    args = parser.parse_args()
    tier_pki()
    # Alternating rounds, best of each: the machine's load moves; the ratio should not.
    best = {"bare": 0.0, "sqlite": 0.0, "pg": 0.0}
    for round_ in range(args.rounds):
        best["bare"] = max(best["bare"], bare_signxml(args.n))
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/ledger.sqlite"
            best["sqlite"] = max(best["sqlite"], ours(url, Path(tmp), args.n, args.workers))
            if args.pg:
                schemas = PgSchemas(args.pg, prefix="bench")
                try:
                    best["pg"] = max(
                        best["pg"], ours(schemas.new(), Path(tmp), args.n, args.workers)
                    )
                finally:
                    schemas.drop_all()
        del round_
    baseline = best["bare"]
    print(
        f"bare signxml XAdES sign (1 process): {baseline:8.0f} receipts/s (best of {args.rounds})"
    )
    for key, label in (("sqlite", "SQLite"), ("pg", "PostgreSQL")):
        if best[key]:
            print(
                f"issue_batch, {label} ({args.workers} workers): {best[key]:8.0f} receipts/s  "
                f"ratio {best[key] / baseline:.2f}x (target >= 0.7x)"
            )


if __name__ == "__main__":
    main()
