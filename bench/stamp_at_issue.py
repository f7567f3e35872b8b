"""Time-stamping just-issued receipts over HTTP, against one connection per request, in the
same run.

    python -m bench.stamp_at_issue [--n 200]     (from the repository root)

Baseline: :func:`receipts.tsa.stamping.stamp_receipts` with ``http_stamper(url, timeout)``,
which opens a connection per token (``httpx.post``), as ``tsa stamp`` does. Ours: the same with
one ``httpx.Client`` for the round (``receipts.tsa.at_issue``, ``[tsa] stamp_at_issue``). Both
ask the product's own authority (``receipts.tsa.http.tsa_app``) served on a loopback port, one
token per receipt, each checked and kept in the ledger (SQLite). No target: the figure says what
an issue of N receipts waits for after it committed.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from receipts.issuing.issue import issue_batch
from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from receipts.tsa.http import tsa_app
from receipts.tsa.stamping import http_stamper, stamp_receipts
from signing.keys import generate_key
from signing.timestamp_authority import TimeStampAuthority
from signing.tsa_certificate import issue_tsa_certificate
from tests.support.ledger import make_issuer, request, stock_city
from tests.support.tier_node import free_port
from tests.support.tier_pki import tier_pki


def _serve() -> tuple[uvicorn.Server, threading.Thread, str]:
    pki = tier_pki()
    key = generate_key()
    cert = issue_tsa_certificate(pki.prov_ca, pki.prov_ca_key, key.public_key())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            tsa_app(TimeStampAuthority(key, [cert, pki.prov_ca])),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}/tsa"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="receipts per round")
    args = parser.parse_args()
    pki = tier_pki()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'ledger.sqlite'}")
        initialise(db, "640100")
        stock_city(db, Path(tmp), count=2 * args.n)
        issued = list(issue_batch(db, make_issuer(), [request(f"B{n}") for n in range(2 * args.n)]))
        keys = [(o.ref.code, o.ref.number) for o in issued]
        server, thread, url = _serve()
        try:
            started = time.perf_counter()
            base = stamp_receipts(
                db, http_stamper(url, 10), pki.validator(), pki.signers["640100"], keys[: args.n]
            )
            base_s = time.perf_counter() - started
            with httpx.Client(timeout=10) as client:
                started = time.perf_counter()
                ours = stamp_receipts(
                    db,
                    http_stamper(url, 10, client),
                    pki.validator(),
                    pki.signers["640100"],
                    keys[args.n :],
                )
                ours_s = time.perf_counter() - started
        finally:
            server.should_exit = True
            thread.join(10)
            db.dispose()
    assert (base.stamped, ours.stamped) == (args.n, args.n), (base, ours)
    print(f"one connection per token: {args.n / base_s:8.1f} receipts/s ({base_s:.2f} s)")
    print(f"one connection per issue: {args.n / ours_s:8.1f} receipts/s ({ours_s:.2f} s)")
    print(f"ratio: {base_s / ours_s:.2f}x")


if __name__ == "__main__":
    main()
