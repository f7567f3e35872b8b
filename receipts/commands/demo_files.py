"""The files ``receipts demo`` makes up as a federation would receive them: a month's batch of
receipts to issue, as a CSV export, and the bank statement to reconcile them against."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

from sqlalchemy import select

from receipts.ledger.database import Database, default_url
from receipts.ledger.models import ReceiptRow

__all__ = ["PAYERS", "bank_statement", "batch_csv"]

_SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PAYERS = [
    ("宁夏贺兰山实业有限公司", "enterprise", "91640100MA7600001J"),
    ("银川市兴庆区某某商贸有限公司", "enterprise", "91640104MA7600002F"),
    ("宁夏塞上江南建设集团有限公司", "enterprise", "91640000MA7600003K"),
    ("银川市第一中学工会委员会", "grassroots_union", "81640100MA7600004W"),
    ("宁夏黄河水务有限公司", "enterprise", "91640100MA7600005Y"),
]


def batch_csv(rows: int, seed: int, prefix: str) -> str:
    """``rows`` one-item receipts for made-up payers, the same for the same ``seed``: one in four
    gives its amount, the others basis and rate."""
    rng = random.Random(seed)  # noqa: S311 (demo data, not security)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "client_ref",
            "payer_name",
            "payer_kind",
            "payer_uscc",
            "item_code",
            "period",
            "amount",
            "basis",
            "rate",
            "handler",
            "reviewer",
        ]
    )
    for n in range(1, rows + 1):
        name, kind, uscc = PAYERS[n % len(PAYERS)]
        if n % 4 == 0:
            writer.writerow(
                [
                    f"{prefix}-{n:04d}",
                    name,
                    kind,
                    uscc,
                    "02",
                    "2026-10",
                    f"{rng.randint(100, 5000)}.{rng.randint(0, 99):02d}",
                    "",
                    "",
                    "张晓梅",
                    "李建国",
                ]
            )
        else:
            basis = rng.randint(50_000, 900_000)
            writer.writerow(
                [
                    f"{prefix}-{n:04d}",
                    name,
                    kind,
                    uscc,
                    "01",
                    "2026-10",
                    "",
                    f"{basis}.00",
                    "0.02",
                    "张晓梅",
                    "李建国",
                ]
            )
    return out.getvalue()


def bank_statement(home: Path) -> str:
    """A statement as the bank would send it: most receipts credited, some not, one stranger."""
    db = Database(default_url(home))
    with db.read() as session:
        rows = session.execute(
            select(
                ReceiptRow.issued_at,
                ReceiptRow.total_fen,
                ReceiptRow.payer_name,
                ReceiptRow.payer_id,
                ReceiptRow.kind,
            ).order_by(ReceiptRow.number)
        ).all()
    db.dispose()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "amount", "payer_name", "payer_account", "reference"])
    for n, (issued, fen, name, payer_id, kind) in enumerate(rows):
        if kind != "normal" or n % 37 == 5:  # the bank never saw a few of them
            continue
        writer.writerow(
            [
                issued.astimezone(_SHANGHAI).date().isoformat(),
                f"{fen // 100}.{fen % 100:02d}",
                name,
                payer_id or "",
                "",
            ]
        )
    writer.writerow(
        [
            rows[0][0].astimezone(_SHANGHAI).date().isoformat(),
            "777.77",
            "不明来款单位",
            "",
            "不明款项",
        ]
    )
    return out.getvalue()
