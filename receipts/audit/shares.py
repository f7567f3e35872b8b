"""The audit of stored shares and settlement (docs/settlement.md, "Tamper evidence"): every
``receipt_shares`` row recomputed from the receipt's signed XML, the situation and sharing table
its event records and the stored table (held against its digest), and every statement and
transfer row against its ``settlement.*`` event. A share rewritten in SQL is a finding."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.money import format_amount, from_fen
from receipts.domain.sharing import PayerSituation
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import ReceiptError
from receipts.findings import Finding, FindingCode
from receipts.issuing.receipt_rows import share_columns
from receipts.ledger.models import (
    Event,
    ReceiptShareRow,
    SettlementStatementRow,
    SettlementTransferRow,
    SharingTableRow,
)
from receipts.ledger.receipt_key import receipt_row
from receipts.settlement.shares import Sharing, sharing_rules_of

__all__ = ["check_settlement", "check_shares"]

_SHARE_COLUMNS = (
    "issuer",
    "period",
    "item_code",
    "situation",
    "rules_digest",
    "amount_fen",
    "grassroots_fen",
    "county_fen",
    "city_fen",
    "province_fen",
    "national_fen",
)


def check_shares(
    session: Session, events: list[Event], detached: Collection[tuple[str, int]] = ()
) -> list[Finding]:
    """Share rows against their recomputation; stored tables against digests and events. The
    shares of a receipt whose year was detached (``detached``) are not recomputed: its row left
    with its year (receipts.ledger.partitions)."""
    out: list[Finding] = []
    stated: dict[tuple[str, int], dict[str, Any]] = {}
    adopted: set[str] = set()
    for event in events:
        if event.kind in ("receipt.issued", "receipt.imported"):
            payload = json.loads(event.payload)
            if "sharing" in payload:
                stated[(payload["code"], payload["number"])] = payload["sharing"]
        elif event.kind == "sharing.adopted":
            adopted.add(json.loads(event.payload)["digest"])
    tables = {row.digest: row for row in session.scalars(select(SharingTableRow))}
    for digest, table in sorted(tables.items()):
        if hashlib.sha256(table.document).hexdigest() != digest:
            out.append(_finding(f"sharing table {digest[:12]} differs from its digest"))
        if (table.event_seq is not None) != (digest in adopted):
            out.append(_finding(f"sharing table {digest[:12]} differs from its events"))
    for digest in sorted(adopted - set(tables)):
        out.append(_finding(f"sharing table {digest[:12]} adopted by an event is gone"))
    stored: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in session.scalars(
        select(ReceiptShareRow).order_by(
            ReceiptShareRow.code, ReceiptShareRow.number, ReceiptShareRow.line
        )
    ):
        stored.setdefault((row.code, row.number), []).append(
            {"line": row.line} | {c: getattr(row, c) for c in _SHARE_COLUMNS}
        )
    for key in sorted((set(stated) | set(stored)) - set(detached)):
        label = f"{key[0]}-{key[1]:010d}"
        want = _recomputed(session, key, stated.get(key), tables)
        if want is None:
            out.append(_finding(f"{label}: shares stored without an event that shares it"))
        elif isinstance(want, str):
            out.append(_finding(f"{label}: {want}"))
        elif want != stored.get(key, []):
            out.append(_finding(f"{label}: stored shares differ from their recomputation"))
    return out


def _recomputed(
    session: Session,
    key: tuple[str, int],
    sharing: dict[str, Any] | None,
    tables: dict[str, SharingTableRow],
) -> list[dict[str, Any]] | str | None:
    if sharing is None:
        return None
    row = receipt_row(session, *key)
    table = tables.get(sharing.get("rules", ""))
    if row is None:
        return "shared by an event, but the receipt is gone"
    if table is None:
        return f"its sharing table {str(sharing.get('rules'))[:12]} is gone"
    try:
        receipt = parse_receipt_xml(row.xml)
        rules = sharing_rules_of(table.document)
        context = Sharing(
            PayerSituation(sharing["situation"]),
            rules,
            table.digest,
            date.fromisoformat(sharing["on"]),
        )
        columns = share_columns(receipt, context)
    except (ReceiptError, KeyError, ValueError) as error:
        return f"shares cannot be recomputed ({error})"
    return [{"line": c["line"]} | {name: c[name] for name in _SHARE_COLUMNS} for c in columns]


def check_settlement(session: Session, events: list[Event]) -> list[Finding]:
    """Statement and transfer rows against the events that recorded them."""
    out: list[Finding] = []
    want_statements: dict[int, tuple[Any, ...]] = {}
    want_transfers: dict[int, tuple[Any, ...]] = {}
    for event in events:
        if event.kind in ("settlement.made", "settlement.imported"):
            p = json.loads(event.payload)
            direction = "out" if event.kind == "settlement.made" else "in"
            want_statements[event.seq] = (
                direction,
                p["federation"],
                p["period"],
                p["digest"],
                p["upward"],
                p["grassroots"],
            )
        elif event.kind == "settlement.transfer":
            p = json.loads(event.payload)
            want_transfers[event.seq] = (
                p["federation"],
                p["payee"],
                p["period"],
                p["amount"],
                p["paid_on"],
                p["reference"],
            )
    have_statements = {
        s.event_seq: (
            s.direction,
            s.federation,
            s.period,
            hashlib.sha256(s.document).hexdigest() if s.digest else "",
            format_amount(from_fen(s.upward_fen)),
            format_amount(from_fen(s.grassroots_fen)),
        )
        for s in session.scalars(select(SettlementStatementRow))
    }
    have_transfers = {
        t.event_seq: (
            t.federation,
            t.payee,
            t.period,
            format_amount(from_fen(t.amount_fen)),
            t.paid_on.isoformat(),
            t.reference,
        )
        for t in session.scalars(select(SettlementTransferRow))
    }
    for what, want, have in (
        ("statement", want_statements, have_statements),
        ("transfer", want_transfers, have_transfers),
    ):
        for seq in sorted(set(want) | set(have)):
            if want.get(seq) != have.get(seq):
                out.append(
                    Finding(
                        FindingCode.SETTLEMENT_MISMATCH,
                        f"settlement {what} of event {seq} differs from its event",
                    )
                )
    return out


def _finding(message: str) -> Finding:
    return Finding(FindingCode.SHARE_MISMATCH, message)
