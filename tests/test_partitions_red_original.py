"""A red receipt's original is found in its own year's partition (migration 0017): the
statistics' trigger that moves an original from ``issued`` to ``reversed`` names the original's
year (its code's last two digits), and PostgreSQL prunes the other years as the trigger runs.
Seen through ``auto_explain`` (nested statements, actual loops): in the trigger's plan, the
look-up of the original probes its year's partition and never executes any other year's; with
0016's function (migration 0017 downgraded) it probes them all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alembic import command
from sqlalchemy import Connection, insert, text

from receipts.ledger import partitions
from receipts.ledger.database import Database
from receipts.ledger.migrate import _config
from receipts.ledger.models import ReceiptItemRow, ReceiptRow
from tests.support.ledger import SHANGHAI
from tests.support.trigger_plans import scans_of_partitions, trigger_plans

YEAR = datetime.now(SHANGHAI).year


def _receipt(year: int, number: int, original: int | None = None) -> dict[str, Any]:
    code = f"647101{year % 100:02d}"
    return {
        "code": code,
        "number": number,
        "issue_year": year,
        "digest": f"{year}{number:060d}",
        "issuer": "640100",
        "kind": "normal" if original is None else "reversal",
        "issued_at": datetime(year, 3, 1, tzinfo=SHANGHAI),
        "period": f"{year}-03",
        "check_code": "abcdef",
        "payer_name": "x",
        "payer_kind": "enterprise",
        "payer_id": None,
        "total_fen": 100 if original is None else -100,
        "original_code": None if original is None else f"647101{(YEAR - 1) % 100:02d}",
        "original_number": original,
        "xml": b"<x/>",
    }


def _original_probes(conn: Connection, red: dict[str, Any]) -> dict[str, int]:
    """Insert ``red`` with auto_explain on; the loops of the trigger's scans of the original,
    by partition."""
    plans = trigger_plans(conn, lambda: conn.execute(insert(ReceiptRow), [red]), "red_of")
    return scans_of_partitions(plans, "o", "receipts")


def test_the_trigger_reads_the_original_in_its_year_s_partition(pg_ledger_db: Database) -> None:
    db = pg_ledger_db
    years = [YEAR - 2, YEAR - 1, YEAR]
    with db.write() as (session, _state):
        partitions.ensure_years(session, years)
    with db.engine.begin() as conn:
        conn.execute(insert(ReceiptRow), [_receipt(YEAR - 1, n) for n in (1, 2)])
        conn.execute(
            insert(ReceiptItemRow),
            [
                {"code": f"647101{(YEAR - 1) % 100:02d}", "number": n, "line": 1,
                 "issue_year": YEAR - 1, "item_code": "01", "item_period": f"{YEAR - 1}-03",
                 "amount_fen": 100}
                for n in (1, 2)
            ],
        )  # fmt: skip
        probed = _original_probes(conn, _receipt(YEAR, 1, original=1))
    assert probed[f"receipts_{YEAR - 1}"] >= 1, probed
    assert {name for name, n in probed.items() if n > 0} == {f"receipts_{YEAR - 1}"}, probed
    with db.engine.begin() as conn:
        stats = conn.execute(
            text("SELECT status, receipts FROM stats_receipts WHERE period = :p ORDER BY 1"),
            {"p": f"{YEAR - 1}-03"},
        ).all()
    assert [tuple(row) for row in stats] == [("issued", 1), ("reversed", 1)]

    # 0016's function: the original's look-up probes every year's partition.
    with db.engine.begin() as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0016")
    with db.engine.begin() as conn:
        probed = _original_probes(conn, _receipt(YEAR, 2, original=2))
    assert {f"receipts_{YEAR - 2}", f"receipts_{YEAR}"} <= {
        name for name, n in probed.items() if n > 0
    }, probed
