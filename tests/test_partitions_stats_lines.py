"""The statistics' triggers read a receipt's lines, and a new line's receipt, in their year's
partition only (migration 0018): seen through ``auto_explain``, storing a receipt and then its
lines executes scans of that year's partitions of ``receipts`` and ``receipt_items`` and of no
other year's; with 0017's functions (0018 downgraded) the same writes probe every year's. The
statistics they keep are the same either way."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import Connection, insert, text

from receipts.ledger import partitions
from receipts.ledger.database import Database
from receipts.ledger.migrate import _config
from receipts.ledger.models import ReceiptItemRow, ReceiptRow
from tests.support.trigger_plans import scans_of_partitions, trigger_plans
from tests.test_partitions_red_original import YEAR, _receipt

STORED = YEAR - 1


def _line(number: int, line: int, item: str) -> dict[str, Any]:
    return {
        "code": f"647101{STORED % 100:02d}",
        "number": number,
        "line": line,
        "issue_year": STORED,
        "item_code": item,
        "item_period": f"{STORED}-02",
        "amount_fen": 100 * line,
    }


def _years_read(conn: Connection, number: int) -> set[str]:
    """Store receipt ``number`` of the year before, then its two lines; the partitions the
    triggers' scans of receipts and their lines executed on."""

    def write() -> None:
        conn.execute(insert(ReceiptRow), [_receipt(STORED, number)])
        conn.execute(insert(ReceiptItemRow), [_line(number, 1, "01"), _line(number, 2, "02")])

    plans = trigger_plans(conn, write, "stats_lines")
    read = {
        **scans_of_partitions(plans, "r", "receipts"),
        **scans_of_partitions(plans, "i", "receipt_items"),
    }
    return {name for name, loops in read.items() if loops > 0}


def _lines(conn: Connection) -> list[tuple[Any, ...]]:
    query = "SELECT dimension, key, status, receipts, fen FROM stats_lines ORDER BY 1, 2, 3"
    return [tuple(row) for row in conn.execute(text(query))]


def test_the_triggers_read_lines_in_their_year_s_partition(pg_ledger_db: Database) -> None:
    db = pg_ledger_db
    with db.write() as (session, _state):
        partitions.ensure_years(session, [YEAR - 2, STORED, YEAR])
    with db.engine.begin() as conn:
        read = _years_read(conn, 1)
        after_one = _lines(conn)
    assert read == {f"receipts_{STORED}", f"receipt_items_{STORED}"}, read
    assert after_one == [
        ("item", "01", "issued", 1, 100),
        ("item", "02", "issued", 1, 200),
        ("paid", f"{STORED}-02", "issued", 1, 300),
    ]

    # 0017's functions: the same look-ups probe every year's partitions.
    with db.engine.begin() as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0017")
    with db.engine.begin() as conn:
        read = _years_read(conn, 2)
        after_two = _lines(conn)
    assert {f"receipts_{YEAR - 2}", f"receipt_items_{YEAR}"} <= read, read
    assert after_two == [(d, k, s, 2 * n, 2 * fen) for d, k, s, n, fen in after_one]
