"""A year's statistics over N receipts on PostgreSQL: read from the aggregates (the real
``ledger_stats``) against the GROUP BY scan of receipts and receipt_items that produced the
same figures before migration 0016 (``tests.support.stats_scan``), in the same run.

Run from the repository root::

    python -m bench.stats [--n 10000000] [--pg URL] [--repeat 3] [--scan-repeat N]
        [--batch 100000] [--keep-schema NAME]

A new schema of the PostgreSQL database holds a ledger (every migration, the triggers
included) and N synthetic receipts of 2026 built in SQL with ``generate_series`` (never signed):
about 3,100 issuers (counties, cities, provinces, the national federation), twelve months, five
payer kinds, one receipt in three with two lines, five items, 所属期 of months, quarters and the
year, one receipt in a hundred red (of an earlier one). Their XML is a short stand-in: real
receipts' XML of several KB is TOASTed out of the heap rows, which stay about this size.

The rows are built with the triggers disabled and the aggregates then filled as the triggers
would leave them (``receipts.audit.aggregates``' GROUP BY, the migration's backfill): that time
is shown. Then each side runs ``--repeat`` times, the fastest counts: ours, ``ledger_stats`` for
2026-01..2026-12 with every breakdown; the baseline, the scan. Both sides' figures must agree.

The triggers' cost on writes: ``--batch`` more receipts and their lines (one in a hundred red,
of a stored receipt) COPYed into the full tables through ``receipt_rows.bulk_insert`` (the
issuing and import path) with the triggers disabled, then enabled, each in a transaction
rolled back; and on SQLite (row triggers), the same batch inserted into a ledger holding as
many, with and without the triggers. Target (issue 19): the aggregates >= 100x faster than the
scan. The schema is dropped at the end, unless ``--keep-schema NAME`` named it: then it is kept,
and a later run with the same name and N reuses it without building it again (a quiet re-run
of the comparison costs no fill). The build drops the receipts' keys and indexes and makes them
once at the end (``tests.support.national_ledger.indexes_deferred``): the same indexes as the
ledger's, built in one sort each.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from receipts.audit.aggregates import DERIVED_LINES, DERIVED_RECEIPTS
from receipts.issuing.receipt_rows import bulk_insert
from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from receipts.ledger.models import ReceiptItemRow, ReceiptRow
from receipts.stats.figures import LedgerStats, ledger_stats
from tests.support.national_ledger import indexes_deferred
from tests.support.postgres import PgSchemas, pg_schema_url
from tests.support.stats_scan import scan_figures

CODE = "64710126"
YEAR = ("2026-01", "2026-12")
CHUNK = 1_000_000
_YEARS = "issue_year" in ReceiptRow.__table__.c
_TRIGGERS = (("receipts", "stats_receipts_inserted"), ("receipt_items", "stats_items_inserted"))

# Receipt g is red (of receipt g - 37, a normal one) when g % 100 = 37; b is the receipt whose
# issuer, payer kind and lines it carries (itself, or its original).
_B = "CASE WHEN g % 100 = 37 THEN g - 37 ELSE g END"
_ISSUER = """CASE WHEN b % 1000 = 0 THEN '000000'
    WHEN b % 50 = 0 THEN (11 + b % 31)::text || '0000'
    ELSE (11 + b % 31)::text || lpad(((b / 31) % 10 + 1)::text, 2, '0')
         || lpad(((b / 310) % 10)::text, 2, '0') END"""
_KIND = "(ARRAY['enterprise','enterprise','grassroots_union','federation','individual','other'])"
_AMOUNT = "((b * 7919 + {line} * 104729) % 500000 + 100)"
_SIGN = "CASE WHEN g % 100 = 37 THEN -1 ELSE 1 END"
_PAID = """CASE WHEN (b + line) % 10 < 7 THEN '2026-' || lpad((b % 12 + 1)::text, 2, '0')
    WHEN (b + line) % 10 < 9 THEN '2026Q' || ((b % 12) / 3 + 1)::text ELSE '2026' END"""


def _receipts_sql(year: bool) -> str:
    total = f"{_SIGN} * ({_AMOUNT.format(line=1)} + CASE WHEN b % 3 = 0 THEN "
    total += f"{_AMOUNT.format(line=2)} ELSE 0 END)"
    return f"""INSERT INTO receipts (code, number, {"issue_year, " if year else ""}digest,
        issuer, kind, issued_at, period, check_code, payer_name, payer_kind, payer_id,
        total_fen, original_code, original_number, xml)
    SELECT '{CODE}', g, {"2026, " if year else ""}md5(g::text) || md5('r' || g::text),
        {_ISSUER}, CASE WHEN g % 100 = 37 THEN 'reversal' ELSE 'normal' END,
        make_timestamptz(2026, (g % 12 + 1)::int, 15, 2, 0, 0, 'UTC'),
        '2026-' || lpad((g % 12 + 1)::text, 2, '0'), 'abc123', '某单位',
        {_KIND}[(b % 6 + 1)::int], NULL, {total},
        CASE WHEN g % 100 = 37 THEN '{CODE}' END, CASE WHEN g % 100 = 37 THEN b END,
        '\\x3c726563656970742f3e'::bytea
    FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g,
        LATERAL (SELECT {_B} AS b) x"""


def _items_sql(year: bool) -> str:
    return f"""INSERT INTO receipt_items (code, number, line, {"issue_year, " if year else ""}
        item_code, item_period, amount_fen)
    SELECT '{CODE}', g, line, {"2026, " if year else ""}'0' || ((b + line) % 5 + 1)::text,
        {_PAID}, {_SIGN} * {_AMOUNT.format(line="line")}
    FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g,
        LATERAL (SELECT {_B} AS b) x,
        generate_series(1, CASE WHEN b % 3 = 0 THEN 2 ELSE 1 END) line"""


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def build(db: Database, n: int) -> None:
    """N receipts and their lines, the triggers off; then the aggregates, timed."""
    with db.engine.begin() as conn:
        for table, trigger in _TRIGGERS:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}"))
    start = time.perf_counter()
    with indexes_deferred(db):
        for lo in range(1, n + 1, CHUNK):
            hi = min(lo + CHUNK - 1, n)
            with db.engine.begin() as conn:
                conn.execute(text(_receipts_sql(_YEARS)), {"lo": lo, "hi": hi})
                conn.execute(text(_items_sql(_YEARS)), {"lo": lo, "hi": hi})
            print(f"  rows {hi:,} of {n:,} ({time.perf_counter() - start:.0f} s)", flush=True)
    with db.engine.begin() as conn:
        for table, trigger in _TRIGGERS:
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE receipts"))
        conn.execute(text("VACUUM ANALYZE receipt_items"))
    print(f"built {n:,} receipts in {time.perf_counter() - start:.0f} s (not ours)")
    fill_aggregates(db)


def fill_aggregates(db: Database) -> None:
    """The aggregates as the triggers leave them, from the rows (the audit's GROUP BY), timed."""

    def fill() -> None:
        with db.engine.begin() as conn:
            conn.execute(text(f"INSERT INTO stats_receipts {DERIVED_RECEIPTS}"))
            conn.execute(text(f"INSERT INTO stats_lines {DERIVED_LINES}"))

    seconds, _ = timed(fill)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE stats_receipts"))
        conn.execute(text("VACUUM ANALYZE stats_lines"))
        rows = [
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("stats_receipts", "stats_lines")
        ]
    print(
        f"aggregates filled from the rows (as the triggers leave them) in {seconds:.1f} s: "
        f"{rows[0]:,} receipt rows, {rows[1]:,} line rows"
    )


def compare(db: Database, repeat: int, scan_repeat: int) -> None:
    """Ours and the scan, the fastest of ``repeat`` and ``scan_repeat`` runs; the figures must
    agree."""
    ours = min(
        timed(lambda: ledger_stats(db, period_from=YEAR[0], period_to=YEAR[1]))
        for _ in range(repeat)
    )

    def scan() -> Any:
        with db.read() as session:
            return scan_figures(session, *YEAR)

    theirs = min(timed(scan) for _ in range(scan_repeat))
    stats: LedgerStats = ours[1]
    summary, breakdowns = theirs[1]
    same = stats.summary == summary and all(
        {r.key: r.figures for r in b.rows} == breakdowns[b.dimension] for b in stats.breakdowns
    )
    print(f"figures of the year equal on both sides: {same}")
    print(f"  summary: {stats.summary}")
    print(f"ours (aggregates, ledger_stats): {ours[0] * 1000:.1f} ms")
    print(f"baseline (GROUP BY scan):       {theirs[0] * 1000:.1f} ms")
    print(f"ratio: {theirs[0] / ours[0]:.0f}x faster (target >= 100x)")
    if not same:
        raise SystemExit("the aggregates and the scan disagree")


def _batch_rows(n: int, size: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``size`` receipts after the N stored, one in a hundred red of a stored receipt."""
    from datetime import UTC, datetime

    receipts, items = [], []
    for g in range(n + 1, n + size + 1):
        red = g % 100 == 37
        original = g - n  # a stored receipt, normal unless its number is 37 mod 100
        red = red and original % 100 != 37
        fen = [(g * 7919 + line * 104729) % 500000 + 100 for line in (1, 2)[: 1 + (g % 3 == 0)]]
        fen = [-f for f in fen] if red else fen
        row = {
            "code": CODE, "number": g, "digest": f"{g:064x}", "issuer": "640100",
            "kind": "reversal" if red else "normal",
            "issued_at": datetime(2026, 12, 15, 2, tzinfo=UTC), "period": "2026-12",
            "check_code": "abc123", "payer_name": "某单位", "payer_kind": "enterprise",
            "payer_id": None, "total_fen": sum(fen),
            "original_code": CODE if red else None, "original_number": original if red else None,
            "xml": b"<receipt/>",
        }  # fmt: skip
        receipts.append(row)
        items += [
            {"code": CODE, "number": g, "line": line, "item_code": "01",
             "item_period": "2026-12", "amount_fen": f}
            for line, f in enumerate(fen, 1)
        ]  # fmt: skip
    if _YEARS:
        for r in receipts + items:
            r["issue_year"] = 2026
    return receipts, items


def write_cost(db: Database, n: int, size: int) -> None:
    """COPY of ``size`` receipts and lines without, then with the triggers (rolled back)."""
    receipts, items = _batch_rows(n, size)
    times = {}
    for enabled in (False, True):
        with Session(db.engine) as session:
            if not enabled:
                for table, trigger in _TRIGGERS:
                    session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}"))
            start = time.perf_counter()
            bulk_insert(session, ReceiptRow, receipts)
            bulk_insert(session, ReceiptItemRow, items)
            times[enabled] = time.perf_counter() - start
            session.rollback()
    off, on = times[False], times[True]
    print(
        f"COPY of {size:,} receipts + {len(items):,} lines into the full tables: "
        f"{off:.2f} s without the triggers, {on:.2f} s with them "
        f"(+{(on - off) / off * 100:.0f}%, {(on - off) / size * 1e6:.1f} us a receipt)"
    )


def write_cost_sqlite(size: int) -> None:
    """The same on SQLite (row triggers): ``size`` receipts and lines inserted (executemany, as
    issuing does) into a ledger already holding ``size``, with and without the triggers."""
    import tempfile
    from pathlib import Path

    base, batch = _batch_rows(0, size), _batch_rows(size, size)
    times = {}
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as folder:
        for enabled in (False, True):
            db = Database(f"sqlite:///{Path(folder) / f'ledger-{enabled}.sqlite'}")
            initialise(db, "000000")
            if not enabled:
                with db.engine.begin() as conn:
                    for name in (
                        "stats_receipt_inserted",
                        "stats_red_inserted",
                        "stats_item_inserted",
                    ):
                        conn.execute(text(f"DROP TRIGGER {name}"))
            for (receipts, items), timed_batch in ((base, False), (batch, True)):
                with Session(db.engine) as session, session.begin():
                    start = time.perf_counter()
                    bulk_insert(session, ReceiptRow, receipts)
                    bulk_insert(session, ReceiptItemRow, items)
                    if timed_batch:
                        times[enabled] = time.perf_counter() - start
            db.dispose()
    off, on = times[False], times[True]
    print(
        f"SQLite: {size:,} receipts + {len(batch[1]):,} lines inserted: {off:.2f} s without the "
        f"triggers, {on:.2f} s with them (+{(on - off) / off * 100:.0f}%, "
        f"{(on - off) / size * 1e6:.1f} us a receipt)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scan-repeat", type=int, help="Runs of the scan (default: --repeat).")
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument(
        "--keep-schema",
        metavar="NAME",
        help="Keep the ledger in schema NAME; reuse it if it already holds N receipts.",
    )
    args = parser.parse_args()
    if args.keep_schema:
        db = Database(kept_schema(args.pg, args.keep_schema))
        try:
            held = holds(db, args.n)
            if held == "nothing":
                initialise(db, "000000")
                build(db, args.n)
            elif held == "rows":
                fill_aggregates(db)
            _measure(db, args)
        finally:
            db.dispose()
        return
    schemas = PgSchemas(args.pg, prefix="bench_stats")
    db = Database(schemas.new())
    try:
        initialise(db, "000000")
        build(db, args.n)
        _measure(db, args)
    finally:
        db.dispose()
        schemas.drop_all()


def _indexed(db: Database) -> bool:
    """Whether the receipts' primary key is there (the build made it again after the rows)."""
    with db.engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass('receipts') "
                "AND contype = 'p'"
            )
        ).first()
    return found is not None


def _measure(db: Database, args: argparse.Namespace) -> None:
    compare(db, args.repeat, args.scan_repeat or args.repeat)
    write_cost(db, args.n, args.batch)
    write_cost_sqlite(args.batch)


def kept_schema(base: str, name: str) -> str:
    """The URL of schema ``name`` (made if missing) of the database at ``base``."""
    if not name.isidentifier() or not name.islower():
        raise SystemExit(f"--keep-schema: {name!r} is not a plain lower-case name")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {name}"))
    admin.dispose()
    return pg_schema_url(base, name)


def holds(db: Database, n: int) -> str:
    """What the kept schema already holds of this bench's N receipts: ``nothing`` (empty),
    ``rows`` (the receipts, and no aggregates yet: a run stopped while filling them) or
    ``all``; any other content stops the run rather than be mixed with a new fill."""
    with db.engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('stats_receipts')")).scalar() is None:
            return "nothing"
        counted = conn.execute(text("SELECT sum(receipts) FROM stats_receipts")).scalar()
        stored = conn.execute(text("SELECT max(number) FROM receipts")).scalar()
    if counted == n and stored == n:
        print(f"reusing the kept schema: {n:,} receipts, aggregates filled", flush=True)
        return "all"
    if counted is None and stored == n and _indexed(db):
        print(f"reusing the kept schema: {n:,} receipts, aggregates to fill", flush=True)
        return "rows"
    raise SystemExit(
        f"the kept schema holds {stored or 0:,} receipts ({counted or 0:,} counted), "
        f"not {n:,}: drop it or name another"
    )


if __name__ == "__main__":
    main()
