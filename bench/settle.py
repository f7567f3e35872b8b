"""A period's settlement over stored shares, against a bare SQL GROUP BY over the same rows.

    python -m bench.settle [--n 1000000] [--pg URL]     (from the repository root)

Rows are generated straight into ``receipt_shares`` (one row per receipt of one item, shares
computed by the product's ``shares_of`` under the default table, memoised per amount so that
generating a million rows takes seconds), all in one issuer's month. Then, in the same run:

* baseline: ``SELECT item_code, SUM(amount_fen) FROM receipt_shares WHERE issuer = ? AND
  period = ? GROUP BY item_code`` — the bare GROUP BY over the same rows;
* ours: ``period_totals``, the settlement as the product computes it (what ``receipts settle
  statement`` states and ``settle balance`` owes: one GROUP BY summing the five parties'
  columns, then the parties summed by tier).

Target: ours <= 2x the baseline. Also printed, for information: ``period_shares`` (the (item,
party) figures the vouchers read: five sums per item), the rate at which ``shares_of`` computes
shares at issue, and with ``--listing`` the statement's per-receipt listing.
PostgreSQL is measured when ``--pg`` or RECEIPTS_TEST_PG_URL gives a URL.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.domain.sharing import PARTY_ORDER, PayerSituation, shares_of
from receipts.domain.sharing_codec import default_sharing_rules
from receipts.issuing.receipt_rows import bulk_insert
from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from receipts.ledger.models import ReceiptShareRow
from receipts.settlement.shares import period_shares, period_totals
from receipts.settlement.statement import period_receipts
from tests.support.postgres import PgSchemas

ISSUER, PERIOD, DAY = "640100", "2026-10", date(2026, 10, 15)
RULES = default_sharing_rules()


@cache
def _split(fen: int) -> tuple[int, ...]:
    shares = shares_of(Decimal(fen) / 100, "01", PayerSituation.ENTERPRISE_FULL, DAY, RULES)
    return tuple(int(shares[p] * 100) for p in PARTY_ORDER)


def generate(db: Database, n: int) -> None:
    """``n`` receipts' share rows of one issuer and month (and a month of noise beside it)."""
    rng = random.Random(17)
    amounts = [rng.randrange(1, 10_000_000) for _ in range(5_000)]
    rows = []
    with db.write() as (session, _):
        for i in range(n + n // 10):
            fen = amounts[i % len(amounts)]
            split = _split(fen)
            rows.append(
                {
                    "code": "64710126",
                    "number": i + 1,
                    "line": 1,
                    "issuer": ISSUER,
                    "period": PERIOD if i < n else "2026-09",
                    "item_code": "01",
                    "situation": "enterprise_full",
                    "rules_digest": "0" * 64,
                    "amount_fen": fen,
                    **{f"{p.value}_fen": s for p, s in zip(PARTY_ORDER, split, strict=True)},
                }
            )
            if len(rows) == 50_000:
                _insert(session, rows)
                rows = []
        if rows:
            _insert(session, rows)


def _insert(session: Session, rows: list[dict[str, object]]) -> None:
    """COPY on PostgreSQL (``bulk_insert``); the driver's executemany on SQLite (SQLAlchemy's
    per-row bookkeeping would make generating the rows the slowest part of the bench)."""
    if session.connection().dialect.name == "postgresql":
        bulk_insert(session, ReceiptShareRow, rows)
        return
    columns = list(rows[0])
    statement = (
        f"INSERT INTO receipt_shares ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.executemany(statement, [tuple(row[c] for c in columns) for row in rows])


def best(run: object, repeat: int = 3) -> float:
    """The best of ``repeat`` timings of ``run()`` (seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def measure(url: str, n: int, label: str, listing: bool) -> None:
    db = Database(url)
    initialise(db, ISSUER)
    start = time.perf_counter()
    generate(db, n)
    print(f"[{label}] generated {n:,} receipts' shares in {time.perf_counter() - start:.1f} s")
    bare = (
        select(ReceiptShareRow.item_code, func.sum(ReceiptShareRow.amount_fen))
        .where(ReceiptShareRow.issuer == ISSUER, ReceiptShareRow.period == PERIOD)
        .group_by(ReceiptShareRow.item_code)
    )
    with db.read() as session:
        total = session.execute(bare).all()
        baseline = best(lambda: session.execute(bare).all())
        totals = period_totals(session, ISSUER, PERIOD)
        assert totals.income == total[0][1], (totals, total)
        ours = best(lambda: period_totals(session, ISSUER, PERIOD))
        shares = best(lambda: period_shares(session, ISSUER, PERIOD))
        listed = best(lambda: period_receipts(session, ISSUER, PERIOD), 1) if listing else 0.0
    db.dispose()
    print(f"[{label}] bare GROUP BY          {baseline * 1000:9.1f} ms")
    print(f"[{label}] settlement (ours)      {ours * 1000:9.1f} ms   ratio {ours / baseline:.2f}x")
    ratio = shares / baseline
    print(f"[{label}] period_shares (info)   {shares * 1000:9.1f} ms   ratio {ratio:.2f}x")
    if listing:
        print(f"[{label}] statement listing      {listed * 1000:9.1f} ms   (per receipt, info)")
    verdict = "meets" if ours <= 2 * baseline else "MISSES"
    print(f"[{label}] target <= 2.00x: {verdict}")


def shares_rate(count: int = 20_000) -> float:
    """Receipts/s through ``shares_of`` (what issuing adds per receipt), distinct amounts."""
    start = time.perf_counter()
    for fen in range(1, count + 1):
        shares_of(Decimal(fen * 37) / 100, "01", PayerSituation.ENTERPRISE_FULL, DAY, RULES)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--pg", default=os.environ.get("RECEIPTS_TEST_PG_URL"))
    parser.add_argument("--listing", action="store_true", help="time the per-receipt listing")
    args = parser.parse_args()
    print(f"shares_of at issue: {shares_rate():,.0f} receipts/s (information)")
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{Path(tmp) / 'bench.sqlite'}", args.n, "sqlite", args.listing)
    if args.pg:
        schemas = PgSchemas(args.pg, prefix="bench")
        try:
            measure(schemas.new(), args.n, "postgresql", args.listing)
        finally:
            schemas.drop_all()


if __name__ == "__main__":
    main()
