"""The national ledger's queries use its indexes and read only the years they need (issue 19,
item 2): on PostgreSQL, a ledger of 120,000 synthetic receipts and their lines over three years
(made in SQL, ANALYZEd), and ``EXPLAIN (FORMAT JSON)`` of the statements the code itself issues
(captured as it runs them, never copied): the public look-up (the CLI's session and the node's
``LookupReader``), reconciliation's block summaries and seeks, and the reads of one receipt by
its key. None may scan a year's partition sequentially; the look-up, the block summaries and
the reads by key (receipts.ledger.receipt_key: booking's, ``receipts show``'s) must leave out
the years the code does not name.

The audit's whole-ledger passes (every row against its event, every signature) read every row
by design: a sequential scan is their right plan, and they are not asserted here
(docs/operations.md, "Partitions by year of issue").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from receipts import booking
from receipts.booking import RefusedBooking
from receipts.domain.model import ReceiptRef
from receipts.errors import ReceiptError
from receipts.ledger import aggregate_upkeep
from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from receipts.ledger.models import ReceiptRow
from receipts.ledger.queries import load_receipt
from receipts.ledger.receipt_key import receipt_key, receipt_row
from receipts.lookup import LookupReader, lookup
from receipts.reconcile import block_reader
from receipts.reconcile.blocks import BlockKey
from tests.support.factories import make_receipt
from tests.support.ledger import SHANGHAI
from tests.support.national_ledger import (
    all_visible,
    block_statements,
    captured,
    code_of,
    explain,
    fill_national,
    indexed_scans,
    plan_nodes,
)
from tests.support.postgres import PgSchemas, pg_url_or_skip

YEAR = datetime.now(SHANGHAI).year
YEARS = (YEAR - 2, YEAR - 1, YEAR)
PER_YEAR = 20_000
"""Receipts per province and year: 2 provinces x 3 years x 20,000 = 120,000 receipts, and as
many lines (tests/support/national_ledger.py says what they are like)."""
_FILLED = {f"{table}_{year}" for table in ("receipts", "receipt_items") for year in YEARS}


@pytest.fixture(scope="module")
def national() -> Iterator[Database]:
    """A PostgreSQL ledger of 120,000 receipts and their lines over three years, ANALYZEd."""
    schemas = PgSchemas(pg_url_or_skip())
    db = Database(schemas.new())
    try:
        initialise(db, "000000")
        fill_national(db, YEARS, PER_YEAR)
        yield db
    finally:
        db.dispose()
        schemas.drop_all()


def _middle_code(province: str = "64") -> str:
    return code_of(province, YEARS[1])


def _plan(db: Database, sql: str, params: Any) -> dict[str, Any]:
    return explain(db, sql, params)


def _indexed(plan: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """The plan's scans of the receipts' tables, asserting that none of a partition holding
    receipts is sequential (the empty ones, next year's and DEFAULT, may be read either way)."""
    return indexed_scans(plan, _FILLED)


def test_the_node_look_up_reads_one_year_through_the_indexes(national: Database) -> None:
    reader = LookupReader(national)
    statements: list[str] = []
    reader.trace = statements.append
    code = _middle_code()
    assert reader.fetch(ReceiptRef(code, 1234)) is not None
    reader.close()
    (sql,) = statements
    plan = _plan(national, sql, {"code": code, "number": 1234})
    scans = _indexed(plan)
    read = {relation for _, relation, _ in scans}
    # The receipt in its own year only; a red receipt cancelling it in that year or later.
    assert f"receipts_{YEARS[0]}" not in read
    assert f"receipts_{YEARS[1]}" in read


def test_the_cli_look_up_runs_the_same_plan(national: Database) -> None:
    code = _middle_code("11")
    statements = captured(national, lambda: lookup(national, ReceiptRef(code, 77), "abcdef"))
    looked_up = [(s, p) for s, p in statements if "FROM ledger_state" in s]
    assert len(looked_up) == 1
    plan = _plan(national, *looked_up[0])
    read = {relation for _, relation, _ in _indexed(plan)}
    assert f"receipts_{YEARS[0]}" not in read


def test_reconciliation_blocks_read_one_year_from_the_covering_index(national: Database) -> None:
    code = _middle_code()
    keys = [BlockKey("640100", code, 3)]
    with block_statements() as statements:
        with block_reader.ledger_blocks(national, ["640100"], keys=keys, readers=1) as (_, got):
            (block,) = list(got)
        assert len(block.numbers) == 1024
        with block_reader.ledger_blocks(national, ["640100"], readers=1) as (_, got):
            next(iter(got))
    assert len(statements) >= 4  # a block of one issuer, a whole block, a seek, the next code
    for sql, params in statements.items():
        plan = _plan(national, sql, params)
        scans = _indexed(plan)
        if "issue_year" in sql:  # a block or a seek within one code: its year's partition
            assert len({relation for _, relation, _ in scans}) == 1, scans
    summaries = [sql for sql in statements if "sum(" in sql.lower()]
    assert summaries
    for sql in summaries:
        # The covering index (receipts_reconcile), read alone: an index-only scan once VACUUM
        # has marked the pages all-visible. It cannot while a transaction older than the rows
        # is open anywhere in the database (another helper's or job's on a shared server): the
        # covering index would then be read with the heap, and the planner rightly takes the
        # smaller primary key (still an index; _indexed holds every plan to that).
        plan = _plan(national, sql, statements[sql])
        scans = _indexed(plan)
        if all_visible(national, {relation for _, relation, _ in scans}) < 0.9:
            continue
        used = {str(node.get("Index Name")) for node in plan_nodes(plan)}
        assert any("digest_total_fen" in name for name in used), json.dumps(plan, indent=1)


def test_a_receipt_by_its_key_is_an_index_probe(national: Database) -> None:
    """``session.get(ReceiptRow, (code, number))``, the read by (code, number) alone that
    receipts.ledger.receipt_key replaces and that a malformed code still gets: every
    partition's primary key is probed once; none is scanned."""
    code = _middle_code()

    def get() -> None:
        with national.read() as session:
            assert session.get(ReceiptRow, (code, 5)) is not None

    ((sql, params),) = [(s, p) for s, p in captured(national, get) if "FROM receipts" in s]
    scans = _indexed(_plan(national, sql, params))
    assert {node for node, relation, _ in scans if relation in _FILLED} <= {
        "Index Scan",
        "Bitmap Heap Scan",
    }


def _one_year_by_key(db: Database, run: Callable[[], object], year: int) -> None:
    """Every statement ``run`` issues reading receipts by their code reads ``year``'s receipts
    partition alone, through an index: pruned when planned, so there is no Append over
    the years (nor a DEFAULT probe) left in the plan."""
    statements = [(s, p) for s, p in captured(db, run) if "receipts.code = " in s]
    assert statements
    for sql, params in statements:
        plan = _plan(db, sql, params)
        assert "Append" not in {node["Node Type"] for node in plan_nodes(plan)}, plan
        scans = _indexed(plan)  # an index (the key's or the covering one), never a scan
        assert {relation for _, relation, _ in scans} == {f"receipts_{year}"}, plan


def test_the_key_helper_reads_one_year(national: Database) -> None:
    code = _middle_code()

    def read() -> None:
        with national.read() as session:
            row = receipt_row(session, code, 5)
            assert row is not None and (row.code, row.number) == (code, 5)
            assert receipt_row(session, code, PER_YEAR + 1) is None
            digest = session.scalar(select(ReceiptRow.digest).where(*receipt_key(code, 5)))
            assert digest == row.digest

    _one_year_by_key(national, read, YEARS[1])


def test_bookings_read_of_a_held_receipt_reads_one_year(national: Database) -> None:
    """Booking (and receiving a red receipt) first reads the receipt the ledger may hold: here
    one with another digest, which booking refuses, so the read did find it."""
    code = _middle_code()
    receipt = make_receipt(code=code, number=7, issued_at=datetime(YEARS[1], 6, 1, tzinfo=SHANGHAI))

    def store() -> None:
        with national.read() as session, pytest.raises(RefusedBooking, match="different"):
            booking._store(session, receipt, b"<x/>", "0" * 64)

    _one_year_by_key(national, store, YEARS[1])


def test_the_cli_show_reads_one_year(national: Database) -> None:
    """``receipts show``'s read (receipts.ledger.queries.load_receipt) of the receipt by its
    key; the synthetic XML is not a receipt, so it fails once read. (Its look-up of a red
    receipt by original code and number is no read by key: every year's receipts_original.)"""
    code = _middle_code()

    def show() -> None:
        with pytest.raises(ReceiptError):
            load_receipt(national, ReceiptRef(code, 9))

    _one_year_by_key(national, show, YEARS[1])


def test_forgetting_a_year_probes_each_originals_year_only(national: Database) -> None:
    """Detaching a year (receipts.ledger.aggregate_upkeep) looks each of its red receipts'
    originals up in the original's year: PostgreSQL prunes the other years as it runs (the
    partitions it never executes report no loops)."""
    sql = f"EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM {aggregate_upkeep._ONLY_REDS_IN_YEAR} b"
    with national.engine.connect() as conn:
        document = conn.execute(text(sql), {"year": YEARS[1]}).scalar_one()
    plan = document[0]["Plan"]
    probed = {
        str(node["Relation Name"])
        for node in plan_nodes(plan)
        if str(node.get("Alias", "")).split("_")[0] == "o" and node.get("Actual Loops", 0) > 0
    }
    assert probed == {f"receipts_{YEARS[1]}"}, json.dumps(plan, indent=1)
