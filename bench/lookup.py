"""Does the public look-up's timing tell whether a receipt exists?

    python -m bench.lookup [--receipts 10000] [--rounds 20000]     (from the repository root)

A SQLite ledger of synthetic receipts; then, interleaved so that drift in the machine's speed
touches both alike, ``receipts.lookup.lookup`` of an existing receipt with a wrong check code and
of a receipt that does not exist. Prints both medians and their ratio (1.00 = the same time).
Issue 14 found the existing receipt 8-10 % slower (an ORM object was built only for it).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from receipts.domain.model import ReceiptRef
from receipts.ledger.database import Database, default_url
from receipts.ledger.migrate import initialise
from receipts.lookup import lookup
from tests.support.reconcile import CODE, add_receipts, row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receipts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(14)  # which receipts to ask for: reproducible, not secret
    with tempfile.TemporaryDirectory() as folder:
        db = Database(default_url(Path(folder)))
        initialise(db, "640100")
        add_receipts(db, (row(n) for n in range(1, args.receipts + 1)))
        timings: dict[str, list[int]] = {"existing": [], "missing": []}
        for _ in range(200):  # warm up: caches, the statement cache, the connection pool
            lookup(db, ReceiptRef(CODE, 1), "zzzzzz")
        for i in range(args.rounds):
            cases = [("existing", rng.randint(1, args.receipts))]
            cases.append(("missing", args.receipts + rng.randint(1, args.receipts)))
            for name, number in cases if i % 2 else reversed(cases):
                start = time.perf_counter_ns()
                lookup(db, ReceiptRef(CODE, number), "zzzzzz")
                timings[name].append(time.perf_counter_ns() - start)
        db.dispose()
    existing = statistics.median(timings["existing"]) / 1000
    missing = statistics.median(timings["missing"]) / 1000
    print(f"existing receipt, wrong check code: median {existing:.1f} µs")
    print(f"missing receipt:                    median {missing:.1f} µs")
    print(f"ratio existing / missing: {existing / missing:.3f}")


if __name__ == "__main__":
    main()
