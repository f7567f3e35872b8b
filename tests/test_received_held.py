"""An import looks up which of a chunk's receipts the ledger holds already
(receipts.transmission.received_held.held_digests): by code with its year named, the
numbers as one array on PostgreSQL, in batches on SQLite. The same answer on both back ends,
whatever the mix of codes, years and numbers held or not."""

from __future__ import annotations

from sqlalchemy.orm import Session

from receipts.issuing.receipt_rows import bulk_insert
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from receipts.transmission.received_held import _probes, held_digests
from tests.support.national_ledger import plan_nodes
from tests.support.reconcile import CODE, add_receipts, row

#: The same series a year later: another partition on PostgreSQL.
NEXT_YEAR = CODE[:6] + "27"


def test_held_digests_finds_exactly_the_held_receipts(ledger_db: Database) -> None:
    held = [row(n) for n in range(1, 1201, 2)] + [row(n, code=NEXT_YEAR) for n in (5, 6, 7)]
    add_receipts(ledger_db, held)
    # 1,200 numbers of one code (more than SQLite's batch of 500), odd ones held; numbers the
    # other year holds asked under this year's code, and the other year's own.
    keys = [(CODE, n) for n in range(1, 1201)] + [(NEXT_YEAR, n) for n in (6, 8)]
    with Session(ledger_db.engine) as session:
        found = held_digests(session, keys)
    expected = {(r["code"], r["number"]): r["digest"] for r in held}
    expected = {key: digest for key, digest in expected.items() if key in set(keys)}
    assert found == expected
    assert len(found) == 600 + 1
    assert found[(NEXT_YEAR, 6)] != found[(CODE, 5)] and (NEXT_YEAR, 8) not in found


def test_held_digests_of_nothing_asks_nothing(ledger_db: Database) -> None:
    with Session(ledger_db.engine) as session:
        assert held_digests(session, []) == {}


def test_each_number_is_a_key_probe_in_a_partition_nobody_analysed(
    pg_ledger_db: Database,
) -> None:
    """What a large import meets: its receipts written in its own transaction into a year's
    partition it created, never analysed. The look-up still probes the primary key number by
    number (the ``number = ANY`` form read every row of the code instead, ~9 s a chunk after
    500,000 receipts)."""
    code = CODE[:6] + "31"  # a year no partition exists for yet
    rows = [row(n, code=code, issue_year=2031) for n in range(1, 30_001)]
    wanted = list(range(28_001, 32_001))  # the last 2,000 held, 2,000 more not
    with Session(pg_ledger_db.engine) as session, session.begin():
        bulk_insert(session, ReceiptRow, rows)
        query = _probes(code, wanted).compile(dialect=session.get_bind().dialect)
        driver = session.connection().connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + str(query), query.params)
            (document,) = cursor.fetchone()
        plan = document[0]["Plan"]
        scans = [n for n in plan_nodes(plan) if n.get("Relation Name", "").startswith("receipts")]
        assert scans, plan
        for scan in scans:
            assert scan["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), plan
            condition = scan.get("Index Cond") or scan.get("Recheck Cond") or ""
            assert "number = " in condition, plan  # the number is part of the probe
        found = held_digests(session, [(code, n) for n in wanted])
        assert sorted(found) == [(code, n) for n in range(28_001, 30_001)]
        assert found[(code, 30_000)] == rows[-1]["digest"]
