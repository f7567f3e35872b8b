"""The audit of tax-collected dues (docs/tax.md "Tamper evidence"): the ``tax_collections`` rows
re-derived from the ``tax.imported`` events, their shares recomputed under the sharing table the
event names (as stored in the ledger), so a record edited, inserted or deleted outside the ledger
(an amount lowered in SQL, say, to hide what the tax bureau transferred, or a share moved between
tiers) is a finding."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.money import to_fen
from receipts.domain.payment_period import parse_payment_period
from receipts.domain.sharing import PARTY_ORDER, Party, SharingRules
from receipts.errors import InvalidInput
from receipts.findings import Finding, FindingCode
from receipts.issuing.effective_rules import sharing_rules_of
from receipts.issuing.tax_check import tax_record_shares
from receipts.ledger.models import Event, SharingTableRow, TaxCollectionRow

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
    "rules_digest",
    *(f"{party.value}_fen" for party in PARTY_ORDER),
    "event_seq",
)


def check_tax_collections(session: Session, events: list[Event]) -> list[Finding]:
    """The tax records' rows against the events that imported them."""
    tables: dict[str, SharingRules | None] = {}

    def rules_of(digest: str) -> SharingRules | None:
        if digest not in tables:
            row = session.get(SharingTableRow, digest)
            ok = row is not None and hashlib.sha256(row.document).hexdigest() == digest
            tables[digest] = sharing_rules_of(row.document) if row is not None and ok else None
        return tables[digest]

    want = _derived(events, rules_of)
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


def _derived(
    events: list[Event], rules_of: Callable[[str], SharingRules | None]
) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.kind != "tax.imported":
            continue
        payload = json.loads(event.payload)
        rules = rules_of(payload["sharing"])
        for record in payload["records"]:
            period = parse_payment_period(record["period"])
            amount = Decimal(record["amount"])
            on = date.fromisoformat(record["collected_on"])
            shares: dict[Party, int | None] = dict.fromkeys(PARTY_ORDER)
            try:  # a missing or altered table (or rules it cannot be shared by): it differs
                if rules is not None:
                    issuer = payload["issuer"]
                    shares.update(tax_record_shares(amount, record["item"], on, rules, issuer))
            except InvalidInput:
                pass
            rows[record["voucher"]] = {
                "issuer": payload["issuer"],
                "uscc": record["uscc"],
                "payer_name": record["payer_name"],
                "item_code": record["item"],
                "period": period.text,
                "first_month": f"{period.first_month:%Y-%m}",
                "last_month": f"{period.last_month:%Y-%m}",
                "base_fen": to_fen(Decimal(record["base"])),
                "amount_fen": to_fen(amount),
                "collected_on": on,
                "rules_digest": payload["sharing"],
                **{f"{party.value}_fen": shares[party] for party in PARTY_ORDER},
                "event_seq": event.seq,
            }
    return rows
