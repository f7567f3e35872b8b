"""A small ledger written row by row for the statistics tests: every figure they expect is
worked out by hand from :data:`LEDGER` (in fen), not from the code's output."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from receipts.ledger.database import Database
from receipts.ledger.models import OrganisationRow, ReceiptItemRow, ReceiptRow

__all__ = ["CODE", "LEDGER", "fill"]

CODE = "64710126"

# (number, issuer, kind, period, payer kind, payer, [(item, fen), ...], original number)
# R2 (September) is reversed by the red R4 (October): the red counts in October.
# R5 has two lines of item 01 (one receipt under 01). R6 is in August, outside --from 2026-09.
ENT, UNION = "enterprise", "grassroots_union"
LEDGER = [
    (1, "640100", "normal", "2026-09", ENT, "甲公司", [("01", 100000), ("02", 20050)], None),
    (2, "640100", "normal", "2026-09", UNION, "乙工会", [("02", 5000)], None),
    (501, "640000", "normal", "2026-10", ENT, "丙公司", [("01", 300000)], None),
    (3, "640100", "reversal", "2026-10", UNION, "乙工会", [("02", -5000)], 2),
    (502, "640000", "normal", "2026-10", UNION, "丁工会", [("01", 1000), ("01", 2000)], None),
    (4, "640100", "normal", "2026-08", ENT, "戊公司", [("01", 99900)], None),
    (9001, "640104", "normal", "2026-10", ENT, "己公司", [("02", 1234)], None),
]


def fill(db: Database) -> None:
    """Write :data:`LEDGER` (and 银川's registry entry, under a name of its own) into ``db``."""
    rows, items = [], []
    for number, issuer, kind, period, payer_kind, payer, lines, original in LEDGER:
        rows.append(
            {
                "code": CODE,
                "number": number,
                "digest": f"{number:064d}",
                "issuer": issuer,
                "kind": kind,
                "issued_at": datetime(2026, int(period[5:]), 15, 2, tzinfo=UTC),
                "period": period,
                "check_code": "abc123",
                "payer_name": payer,
                "payer_kind": payer_kind,
                "payer_id": None,
                "total_fen": sum(fen for _, fen in lines),
                "original_code": CODE if original else None,
                "original_number": original,
                "xml": b"<receipt/>",
            }
        )
        items += [
            {
                "code": CODE,
                "number": number,
                "line": n,
                "item_code": item,
                "item_period": period,
                "amount_fen": fen,
            }
            for n, (item, fen) in enumerate(lines, 1)
        ]
    with db.engine.begin() as conn:
        conn.execute(insert(ReceiptRow), rows)
        conn.execute(insert(ReceiptItemRow), items)
        conn.execute(
            insert(OrganisationRow),
            [{"code": "640100", "name": "银川市总工会(本级)", "tier": "city", "parent": "640000"}],
        )
