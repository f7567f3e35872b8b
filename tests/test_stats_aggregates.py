"""The statistics read from the aggregates equal the statistics scanned from the rows
(:mod:`tests.support.stats_scan`, the way they were computed before migration 0016), on SQLite
and PostgreSQL, however the rows arrive: receipts before or after their lines, red receipts
before or after their originals, one row per statement or a whole batch (COPY on PostgreSQL),
two red receipts of one original. Random ledgers from fixed seeds: several issuers, months,
payer kinds, items and 所属期, receipts with two lines of one item."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, text

from receipts.issuing.receipt_rows import bulk_insert
from receipts.ledger.database import Database
from receipts.ledger.models import Base, ReceiptItemRow, ReceiptRow
from receipts.stats.figures import Dimension, ledger_stats
from tests.support.stats_scan import scan_figures

ISSUERS = ("000000", "640000", "640100", "640104", "650000", "650102")
MONTHS = tuple(f"2026-{m:02d}" for m in range(7, 13))
PAYER_KINDS = ("enterprise", "grassroots_union", "federation", "individual", "other")
ITEMS = ("01", "02", "0501")
PAID = ("2026-10", "2026Q4", "2026", "2026-01~2026-06", "2025-12")
CODES = ("64710125", "64710126")
RANGES = [(None, None), ("2026-09", "2026-11"), ("2026-10", "2026-10"), (None, "2026-08")]

Rows = list[dict[str, Any]]


def random_ledger(rng: random.Random, count: int) -> tuple[Rows, Rows]:
    """``count`` receipts and their lines; about one in five is red, of an earlier receipt
    (now and then of one already reversed, or of a red one)."""
    receipts: Rows = []
    items: Rows = []
    for n in range(1, count + 1):
        code = rng.choice(CODES)
        normals = [r for r in receipts if r["kind"] == "normal"]
        red_of = rng.choice(normals) if normals and rng.random() < 0.2 else None
        if red_of is not None:
            lines = [
                (i["item_code"], i["item_period"], -i["amount_fen"])
                for i in items
                if (i["code"], i["number"]) == (red_of["code"], red_of["number"])
            ]
            issuer, payer_kind = red_of["issuer"], red_of["payer_kind"]
        else:
            lines = [
                (rng.choice(ITEMS), rng.choice(PAID), rng.randint(1, 500_000))
                for _ in range(rng.choice((1, 1, 2, 3)))
            ]
            issuer, payer_kind = rng.choice(ISSUERS), rng.choice(PAYER_KINDS)
        period = rng.choice(MONTHS)
        receipts.append(
            {
                "code": code,
                "number": n,
                "issue_year": 2000 + int(code[6:8]),  # the code's year (partitions, 0015)
                "digest": f"{n:064d}",
                "issuer": issuer,
                "kind": "reversal" if red_of is not None else "normal",
                "issued_at": datetime(2026, int(period[5:]), 10, tzinfo=UTC),
                "period": period,
                "check_code": "abc123",
                "payer_name": "某单位",
                "payer_kind": payer_kind,
                "payer_id": None,
                "total_fen": sum(fen for *_, fen in lines),
                "original_code": red_of["code"] if red_of is not None else None,
                "original_number": red_of["number"] if red_of is not None else None,
                "xml": b"<receipt/>",
            }
        )
        items += [
            {
                "code": code,
                "number": n,
                "issue_year": 2000 + int(code[6:8]),
                "line": line,
                "item_code": item,
                "item_period": paid,
                "amount_fen": fen,
            }
            for line, (item, paid, fen) in enumerate(lines, 1)
        ]
    return receipts, items


def insert_rows(db: Database, receipts: Rows, items: Rows, how: str, rng: random.Random) -> None:
    """Write the rows ``how``: receipts then lines (by COPY for ``copy``), lines then receipts,
    or shuffled, a few rows of one table per statement (red receipts and lines before what they
    belong to)."""
    steps: list[tuple[type[Base], Rows]]
    if how in ("receipts-first", "copy"):
        steps = [(ReceiptRow, receipts), (ReceiptItemRow, items)]
    elif how == "lines-first":
        steps = [(ReceiptItemRow, items), (ReceiptRow, list(reversed(receipts)))]
    else:
        units: list[tuple[type[Base], dict[str, Any]]] = [(ReceiptRow, r) for r in receipts] + [
            (ReceiptItemRow, i) for i in items
        ]
        rng.shuffle(units)
        steps = []
        while units:
            size, table = rng.randint(1, 6), units[0][0]
            taken = 1
            while taken < min(size, len(units)) and units[taken][0] is table:
                taken += 1
            steps.append((table, [row for _, row in units[:taken]]))
            units = units[taken:]
    with db.write() as (session, _state):
        for table, rows in steps:
            if how == "copy":
                bulk_insert(session, table, rows)
            else:
                session.execute(insert(table), rows)


def assert_same_as_the_scan(db: Database) -> None:
    for first, last in RANGES:
        stats = ledger_stats(db, period_from=first, period_to=last)
        with db.read() as session:
            summary, breakdowns = scan_figures(session, first, last)
        assert stats.summary == summary, (first, last)
        for breakdown in stats.breakdowns:
            found = {row.key: row.figures for row in breakdown.rows}
            assert found == breakdowns[breakdown.dimension], (breakdown.dimension, first, last)


@pytest.mark.parametrize("how", ["receipts-first", "lines-first", "shuffled"])
@pytest.mark.parametrize("seed", [1, 2])
def test_aggregates_equal_the_scan(ledger_db: Database, how: str, seed: int) -> None:
    rng = random.Random(seed)
    receipts, items = random_ledger(rng, 60)
    # in two goes, so that later red receipts find their originals stored
    half = len(receipts) // 2
    first = {(r["code"], r["number"]) for r in receipts[:half]}
    insert_rows(
        ledger_db,
        receipts[:half],
        [i for i in items if (i["code"], i["number"]) in first],
        how,
        rng,
    )
    assert_same_as_the_scan(ledger_db)
    insert_rows(
        ledger_db,
        receipts[half:],
        [i for i in items if (i["code"], i["number"]) not in first],
        how,
        rng,
    )
    assert_same_as_the_scan(ledger_db)
    with ledger_db.read() as session:
        stored = session.execute(text("SELECT count(*) FROM stats_receipts")).scalar_one()
    assert stored > 0  # the figures came from somewhere


def test_a_batch_by_copy_on_postgresql(pg_ledger_db: Database) -> None:
    rng = random.Random(7)
    receipts, items = random_ledger(rng, 200)
    insert_rows(pg_ledger_db, receipts, items, "copy", rng)
    assert_same_as_the_scan(pg_ledger_db)


@pytest.mark.parametrize("red_first", [False, True])
def test_a_red_receipt_before_or_after_its_original(ledger_db: Database, red_first: bool) -> None:
    rng = random.Random(11)
    receipts, items = random_ledger(rng, 3)
    original = receipts[0]
    red = dict(
        original,
        number=99,
        digest="9" * 64,
        kind="reversal",
        total_fen=-original["total_fen"],
        original_code=original["code"],
        original_number=original["number"],
        period="2026-12",
    )
    red_items = [
        dict(i, number=99, amount_fen=-i["amount_fen"])
        for i in items
        if i["number"] == original["number"]
    ]
    second_red = dict(red, number=100, digest="8" * 64)
    second_items = [dict(i, number=100) for i in red_items]
    batches = [(receipts, items), ([red], red_items), ([second_red], second_items)]
    if red_first:
        batches.reverse()
    for rows, lines in batches:
        insert_rows(ledger_db, rows, lines, "receipts-first", rng)
        assert_same_as_the_scan(ledger_db)
    stats = ledger_stats(ledger_db)
    assert stats.summary.reversed_count == 1
    assert stats.summary.red_count == 2


def test_the_triggers_are_on_the_tables(ledger_db: Database) -> None:
    with ledger_db.read() as session:
        if ledger_db.engine.dialect.name == "postgresql":
            query = (
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE t.tgname LIKE 'stats_%' AND c.relname IN ('receipts', 'receipt_items')"
                " AND c.relnamespace = to_regnamespace(current_schema())"
            )
        else:
            query = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
        found = {(str(table), str(name)) for table, name in session.execute(text(query))}
    if ledger_db.engine.dialect.name == "postgresql":
        assert found == {
            ("receipts", "stats_receipts_inserted"),
            ("receipt_items", "stats_items_inserted"),
        }
    else:
        assert {name for _, name in found} >= {
            "stats_receipt_inserted",
            "stats_red_inserted",
            "stats_item_inserted",
        }


def test_stats_reads_no_receipt(ledger_db: Database) -> None:
    # With the receipts out of reach, the figures still come: they are read from the aggregates.
    rng = random.Random(5)
    receipts, items = random_ledger(rng, 40)
    insert_rows(ledger_db, receipts, items, "receipts-first", rng)
    expected = ledger_stats(ledger_db, by=[])
    with ledger_db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE receipts RENAME TO receipts_elsewhere"))
        conn.execute(text("ALTER TABLE receipt_items RENAME TO receipt_items_elsewhere"))
    # (an item the catalogue does not know is named from a stored receipt: not asked here)
    stats = ledger_stats(ledger_db, by=[d for d in Dimension if d is not Dimension.ITEM])
    assert stats.summary == expected.summary
    assert sum(r.figures.issued_count for r in stats.breakdown(Dimension.ISSUER).rows) == (
        expected.summary.issued_count
    )
