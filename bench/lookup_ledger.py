"""The public look-up in a national ledger on PostgreSQL, partitioned by year of issue:

    python -m bench.lookup_ledger --pg postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        [--receipts 10000000] [--years 3] [--rounds 20000] [--keep-schema NAME]

Fills a new schema with synthetic receipts of two provinces over ``--years`` years
(tests/support/national_ledger.py, keys and indexes built once after the rows), then checks the
plans of the statements the code itself issues (captured as it runs them, as
tests/test_explain.py does at 120,000 receipts) and stops with the plan when one is wrong:

- the node's look-up (``receipts.lookup.LookupReader``) and the CLI's: index scans only, the
  receipt's own year and later (its red receipts) read, no earlier year;
- reconciliation's block reads: no partition holding receipts scanned sequentially, a block of
  one code read from its year's partition only, the block summaries from the covering index;
- a receipt by its key without the year (``session.get``: the audit's share check, archiving,
  booking, importing): an index probe of each partition, none scanned.

Then it times, interleaved, look-ups of random receipts through the reader and a bare
primary-key SELECT of one receipt's check code on a driver connection: look-ups a second each,
and the ratio. The schema is dropped at the end, unless ``--keep-schema NAME`` named it: then it
is kept, and a later run with the same name and sizes reuses it without filling it again.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, text

from receipts.domain.model import ReceiptRef
from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from receipts.ledger.models import ReceiptRow
from receipts.ledger.partitions import PARTITIONED
from receipts.lookup import LookupReader, lookup
from receipts.reconcile import block_reader
from receipts.reconcile.blocks import BlockKey
from tests.support.national_ledger import (
    PROVINCES,
    all_visible,
    block_statements,
    captured,
    code_of,
    explain,
    fill_national,
    indexed_scans,
    plan_nodes,
)
from tests.support.postgres import pg_schema_url

_BARE = "SELECT check_code FROM receipts WHERE code = %s AND number = %s AND issue_year = %s"
Scans = list[tuple[str, str, str | None]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", required=True, help="PostgreSQL URL (a schema is made in it)")
    parser.add_argument("--receipts", type=int, default=10_000_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument(
        "--keep-schema",
        metavar="NAME",
        help="Keep the ledger in schema NAME; reuse it if it already holds these receipts.",
    )
    args = parser.parse_args()
    schema = args.keep_schema or f"bench_lookup_{uuid.uuid4().hex[:8]}"
    if not schema.isidentifier() or not schema.islower():
        raise SystemExit(f"--keep-schema: {schema!r} is not a plain lower-case name")
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    try:
        _run(pg_schema_url(args.pg, schema), args)
    finally:
        if not args.keep_schema:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _run(url: str, args: argparse.Namespace) -> None:
    db = Database(url)
    this_year = time.gmtime().tm_year
    years = [this_year - n for n in range(args.years)][::-1]
    per_year = max(1, args.receipts // (len(years) * len(PROVINCES)))
    if not _holds(db, years, per_year):
        initialise(db, "000000")
        start = time.perf_counter()
        total = fill_national(db, years, per_year, bulk=True)
        print(f"filled {total:,} receipts and lines in {time.perf_counter() - start:.0f} s")
    filled = {f"{table}_{year}" for table in PARTITIONED for year in years}
    middle = years[len(years) // 2]
    _check_plans(db, middle, filled)
    _time(db, years, per_year, args.rounds)
    db.dispose()


def _holds(db: Database, years: list[int], per_year: int) -> bool:
    """Whether a kept schema already holds this fill (False: it is empty); anything else
    stops the run rather than be mixed with a new fill."""
    with db.engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('receipts')")).scalar() is None:
            return False
        last = [
            conn.execute(
                text("SELECT max(number) FROM receipts WHERE code = :code AND issue_year = :year"),
                {"code": code_of(province, year), "year": year},
            ).scalar()
            for province in PROVINCES
            for year in years
        ]
    if last == [per_year] * len(last):
        print(f"reusing the kept schema: {per_year * len(last):,} receipts", flush=True)
        return True
    raise SystemExit(
        f"the kept schema holds other receipts (last numbers {last}, expected {per_year:,} of "
        f"each province and year {years}): drop it or name another"
    )


def _check_plans(db: Database, year: int, filled: set[str]) -> None:
    code = code_of(PROVINCES[0], year)
    earlier = {name for name in filled if name.startswith("receipts_") and int(name[-4:]) < year}
    reader = LookupReader(db)
    statements: list[str] = []
    reader.trace = statements.append
    assert reader.fetch(ReceiptRef(code, 1)) is not None
    reader.close()
    (sql,) = statements
    raw = db.engine.raw_connection()
    cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute("EXPLAIN " + sql, {"code": code, "number": 1})
    print("the node's look-up, its plan:")
    print("\n".join("  " + line for (line,) in cursor.fetchall()))
    cursor.close()
    raw.close()
    _look_up_reads(explain(db, sql, {"code": code, "number": 1}), year, filled, earlier, "node")

    cli = [
        (s, p)
        for s, p in captured(db, lambda: lookup(db, ReceiptRef(code, 2), "abcdef"))
        if "FROM ledger_state" in s
    ]
    if len(cli) != 1:
        raise SystemExit(f"the CLI's look-up: expected one statement, ran {len(cli)}")
    _look_up_reads(explain(db, *cli[0]), year, filled, earlier, "CLI")

    with block_statements() as ran:
        keys = [BlockKey(f"{PROVINCES[0]}0100", code, 3)]
        with block_reader.ledger_blocks(db, [keys[0].issuer], keys=keys, readers=1) as (_, got):
            list(got)
        with block_reader.ledger_blocks(db, [keys[0].issuer], readers=1) as (_, got):
            next(iter(got))
    for sql, params in ran.items():
        plan = explain(db, sql, params)
        scans = indexed_scans(plan, filled)
        if "issue_year" in sql and len({relation for _, relation, _ in scans}) != 1:
            _fail("a reconciliation block read more than its year's partition", plan)
        used = {str(node.get("Index Name")) for node in plan_nodes(plan)}
        if "sum(" in sql.lower() and not any("digest_total_fen" in name for name in used):
            # The covering index pays only read alone, which needs the pages marked
            # all-visible; VACUUM cannot mark them while another transaction is open (other
            # work on a shared server): then the primary key and the heap are the right plan.
            visible = all_visible(db, {relation for _, relation, _ in scans})
            if visible > 0.9:
                _fail("a block summary did not read the covering index", plan)
            print(
                f"  (a block summary read the primary key and the heap: {visible:.0%} of the "
                "pages all-visible, the covering index could not be read alone)"
            )
        print(f"reconciliation statement: {_summary(scans)}")

    def get() -> None:
        with db.read() as session:
            assert session.get(ReceiptRow, (code, 5)) is not None

    ((sql, params),) = [(s, p) for s, p in captured(db, get) if "FROM receipts" in s]
    plan = explain(db, sql, params)
    scans = indexed_scans(plan, filled)
    kinds = {node for node, relation, _ in scans if relation in filled}
    if not kinds <= {"Index Scan", "Bitmap Heap Scan"}:
        _fail("a receipt by its key was not an index probe", plan)
    print(f"a receipt by its key (no year: every partition probed): {_summary(scans)}")
    print("plans: every statement checked reads the receipts through their indexes")


def _look_up_reads(
    plan: dict[str, Any], year: int, filled: set[str], earlier: set[str], which: str
) -> None:
    scans = indexed_scans(plan, filled)
    read = {relation for _, relation, _ in scans}
    if f"receipts_{year}" not in read or read & earlier:
        _fail(f"the {which} look-up read {sorted(read)}, not {year} and later", plan)
    print(f"the {which} look-up: {_summary(scans)}")


def _summary(scans: Scans) -> str:
    return "; ".join(f"{node} {index or relation}" for node, relation, index in scans)


def _fail(what: str, plan: dict[str, Any]) -> None:
    raise SystemExit(f"PLAN CHECK FAILED: {what}\n{json.dumps(plan, indent=1)}")


def _time(db: Database, years: list[int], per_year: int, rounds: int) -> None:
    reader = LookupReader(db)
    raw = db.engine.raw_connection()
    cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
    rng = random.Random(19)  # which receipts: reproducible, not secret
    spent = {"look-up": 0.0, "bare primary key": 0.0}
    for _ in range(rounds):
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
    rates = {name: rounds / seconds for name, seconds in spent.items()}
    for name, rate in rates.items():
        print(f"{name:>17}: {rate:,.0f} look-ups/s (one connection, {rounds:,} receipts)")
    print(f"ratio look-up / bare primary key: {rates['look-up'] / rates['bare primary key']:.2f}x")


if __name__ == "__main__":
    main()
