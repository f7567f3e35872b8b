"""The aggregates are derived data: ``receipts audit`` recomputes them from the receipt rows and
reports an insider's edit as ``stats-mismatch``; migration 0016 fills them from the rows a ledger
already holds."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import insert, text

from receipts.audit import audit
from receipts.audit.aggregates import check_aggregates
from receipts.findings import FindingCode
from receipts.issuing.issue import issue, reverse
from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from receipts.ledger.models import ReceiptItemRow, ReceiptRow
from tests.support.ledger import audit_trust, make_issuer, request, stock_city
from tests.test_stats_aggregates import assert_same_as_the_scan, insert_rows, random_ledger

#: The revision 0016 follows.
_BEFORE_0016 = "0015"

TAMPERING = [
    "UPDATE stats_receipts SET fen = fen - 100 WHERE status = 'issued'",
    "UPDATE stats_lines SET receipts = receipts + 1 WHERE dimension = 'paid'",
    "DELETE FROM stats_receipts WHERE status = 'red'",
    "INSERT INTO stats_lines VALUES ('2026-09', '640100', 'issued', 'item', '09', 1, 5)",
]


@pytest.mark.parametrize("edit", TAMPERING)
def test_an_edited_aggregate_is_a_finding(ledger_db: Database, edit: str) -> None:
    rng = random.Random(3)
    receipts, items = random_ledger(rng, 40)
    insert_rows(ledger_db, receipts, items, "receipts-first", rng)
    with ledger_db.read() as session:
        assert check_aggregates(session) == []
    with ledger_db.engine.begin() as conn:
        assert conn.execute(text(edit)).rowcount >= 1
    with ledger_db.read() as session:
        findings = check_aggregates(session)
    assert findings
    assert {f.code for f in findings} == {FindingCode.STATS_MISMATCH}
    assert all("the receipt rows make" in f.message for f in findings)


def test_the_audit_runs_the_check(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=5)
    issuer = make_issuer()
    first = issue(ledger_db, issuer, request(amount="300.00"))
    issue(ledger_db, issuer, request(amount="12.50"))
    reverse(ledger_db, issuer, first.ref, "重复开具", "张晓梅", "李建国")
    trust = audit_trust()
    assert audit(ledger_db, "640100", trust).findings == ()
    with ledger_db.engine.begin() as conn:
        conn.execute(text("UPDATE stats_receipts SET receipts = 0, fen = 0"))
    codes = [f.code for f in audit(ledger_db, "640100", trust).findings]
    assert codes and set(codes) == {FindingCode.STATS_MISMATCH}


def test_the_migration_fills_the_aggregates_from_the_rows(ledger_url: str) -> None:
    db = Database(ledger_url)
    config = Config()
    config.set_main_option("script_location", "receipts.ledger:migrations")
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, _BEFORE_0016)
    rng = random.Random(9)
    receipts, items = random_ledger(rng, 50)
    with db.engine.begin() as connection:  # no triggers yet
        connection.execute(insert(ReceiptRow), receipts)
        connection.execute(insert(ReceiptItemRow), items)
    initialise(db, "640100")  # 0016: tables, triggers, and the rows already there
    assert_same_as_the_scan(db)
    more, more_items = random_ledger(random.Random(10), 20)
    for row in more + more_items:
        row["number"] += 1000
        if "digest" in row:
            row["digest"] = f"{row['number']:064d}"
        if row.get("original_number"):
            row["original_number"] += 1000
    insert_rows(db, more, more_items, "receipts-first", rng)
    assert_same_as_the_scan(db)
    db.dispose()
