"""The audit of tax-collected dues (docs/tax.md "Tamper evidence"): the ``tax_collections`` rows
re-derived from the ``tax.imported`` events, so a record edited, inserted or deleted outside the
ledger (an amount lowered in SQL, say, to hide what the tax bureau transferred) is a finding."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.money import to_fen
from receipts.domain.payment_period import parse_payment_period
from receipts.findings import Finding, FindingCode
from receipts.ledger.models import Event, TaxCollectionRow

__all__ = ["check_tax_collections"]

_COLUMNS = (
    "issuer",
    "uscc",
    "payer_name",
    "item_code",
    "period",
    "first_month",
    "last_month",
    "base_fen",
    "amount_fen",
    "collected_on",
    "event_seq",
)


def check_tax_collections(session: Session, events: list[Event]) -> list[Finding]:
    """The tax records' rows against the events that imported them."""
    want = _derived(events)
    have = {
        row.voucher: {c: getattr(row, c) for c in _COLUMNS}
        for row in session.scalars(select(TaxCollectionRow))
    }
    out: list[Finding] = []
    for voucher in sorted(set(want) | set(have)):
        if voucher not in have:
            why = f"tax record {voucher} imported by event {want[voucher]['event_seq']} is gone"
        elif voucher not in want:
            why = f"tax record {voucher} has no tax.imported event (inserted outside the ledger)"
        elif want[voucher] != have[voucher]:
            columns = [c for c in _COLUMNS if want[voucher][c] != have[voucher][c]]
            why = f"tax record {voucher} differs from its event in {', '.join(columns)}"
        else:
            continue
        out.append(Finding(FindingCode.TAX_COLLECTION_MISMATCH, why))
    return out


def _derived(events: list[Event]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.kind != "tax.imported":
            continue
        payload = json.loads(event.payload)
        for record in payload["records"]:
            period = parse_payment_period(record["period"])
            rows[record["voucher"]] = {
                "issuer": payload["issuer"],
                "uscc": record["uscc"],
                "payer_name": record["payer_name"],
                "item_code": record["item"],
                "period": period.text,
                "first_month": f"{period.first_month:%Y-%m}",
                "last_month": f"{period.last_month:%Y-%m}",
                "base_fen": to_fen(Decimal(record["base"])),
                "amount_fen": to_fen(Decimal(record["amount"])),
                "collected_on": date.fromisoformat(record["collected_on"]),
                "event_seq": event.seq,
            }
    return rows
