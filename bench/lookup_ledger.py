"""The public look-up in a national ledger on PostgreSQL, partitioned by year of issue:

    python -m bench.lookup_ledger --pg postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        [--receipts 10000000] [--years 3] [--rounds 20000]

Fills a new schema with synthetic receipts of two provinces over ``--years`` years
(tests/support/national_ledger.py; ten million take a while), prints the plan of the node's
look-up statement (``receipts.lookup.LookupReader``, the SQL it runs), then times, interleaved,
look-ups of random receipts through the reader and a bare primary-key SELECT of one receipt's
check code on a driver connection: look-ups a second each, and the ratio. The schema is dropped
at the end.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid

from sqlalchemy import create_engine, text

from receipts.domain.model import ReceiptRef
from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from receipts.lookup import LookupReader
from tests.support.national_ledger import PROVINCES, code_of, fill_national
from tests.support.postgres import pg_schema_url

_BARE = "SELECT check_code FROM receipts WHERE code = %s AND number = %s AND issue_year = %s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", required=True, help="PostgreSQL URL (a schema is made in it)")
    parser.add_argument("--receipts", type=int, default=10_000_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    schema = f"bench_lookup_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        _run(pg_schema_url(args.pg, schema), args)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _run(url: str, args: argparse.Namespace) -> None:
    db = Database(url)
    initialise(db, "000000")
    this_year = time.gmtime().tm_year
    years = [this_year - n for n in range(args.years)][::-1]
    per_year = max(1, args.receipts // (len(years) * len(PROVINCES)))
    start = time.perf_counter()
    total = fill_national(db, years, per_year)
    print(f"filled {total:,} receipts and lines in {time.perf_counter() - start:.0f} s")
    reader = LookupReader(db)
    statements: list[str] = []
    reader.trace = statements.append
    middle = code_of(PROVINCES[0], years[len(years) // 2])
    reader.fetch(ReceiptRef(middle, 1))
    raw = db.engine.raw_connection()
    cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute("EXPLAIN " + statements[0], {"code": middle, "number": 1})
    print("the look-up's plan:")
    print("\n".join("  " + line for (line,) in cursor.fetchall()))
    reader.trace = None
    rng = random.Random(19)  # which receipts: reproducible, not secret
    spent = {"look-up": 0.0, "bare primary key": 0.0}
    for _ in range(args.rounds):
        code = code_of(rng.choice(PROVINCES), rng.choice(years))
        number = rng.randint(1, per_year)
        first = time.perf_counter()
        assert reader.fetch(ReceiptRef(code, number)) is not None
        second = time.perf_counter()
        cursor.execute(_BARE, (code, number, 2000 + int(code[6:])))
        assert cursor.fetchone() is not None
        third = time.perf_counter()
        spent["look-up"] += second - first
        spent["bare primary key"] += third - second
    cursor.close()
    raw.close()
    reader.close()
    db.dispose()
    rates = {name: args.rounds / seconds for name, seconds in spent.items()}
    for name, rate in rates.items():
        print(f"{name:>17}: {rate:,.0f} look-ups/s (one connection, {args.rounds:,} receipts)")
    print(f"ratio look-up / bare primary key: {rates['look-up'] / rates['bare primary key']:.2f}x")


if __name__ == "__main__":
    main()
