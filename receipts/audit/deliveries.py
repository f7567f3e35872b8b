"""The audit of deliveries (docs/delivery.md, "Audit"): the ``deliveries`` rows re-derived from
the ``delivery.*`` events, so a row edited in SQL (a bounce turned into a delivery, an address
changed, a row deleted so the receipt goes again) is a finding; and every attempt held against
the payer register as the events had it at that moment, so an address that was not the payer's
registered one is a finding too."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.findings import Finding, FindingCode
from receipts.ledger.delivery_models import DeliveryRow
from receipts.ledger.models import Event

__all__ = ["check_deliveries"]

_COLUMNS = ("uscc", "message_id", "status", "attempts", "reply", "event_seq")
_OUTCOMES = {
    "delivery.sent": "sent",
    "delivery.bounced": "bounced",
    "delivery.deferred": "deferred",
}


def check_deliveries(session: Session, events: list[Event]) -> list[Finding]:
    """The deliveries table against its events, and each attempt against the register."""
    want, out = _derived(events)
    have = {
        (row.code, row.number, row.address): {c: getattr(row, c) for c in _COLUMNS}
        for row in session.scalars(select(DeliveryRow))
    }
    for key in sorted(set(want) | set(have)):
        if want.get(key) != have.get(key):
            code, number, address = key
            out.append(
                Finding(
                    FindingCode.DELIVERY_MISMATCH,
                    f"the delivery of {code}-{number:010d} to {address} differs from its events",
                )
            )
    return out


def _derived(
    events: list[Event],
) -> tuple[dict[tuple[str, int, str], dict[str, Any]], list[Finding]]:
    rows: dict[tuple[str, int, str], dict[str, Any]] = {}
    emails: dict[str, str | None] = {}
    findings: list[Finding] = []
    for event in events:
        if event.kind in ("payer.registered", "payer.updated"):
            p = json.loads(event.payload)
            if event.kind == "payer.registered" or p["uscc"] in emails:
                emails[p["uscc"]] = p.get("email")
            continue
        if not event.kind.startswith("delivery."):
            continue
        p = json.loads(event.payload)
        key = (p["code"], p["number"], p["to"])
        if event.kind == "delivery.attempted":
            if emails.get(p["uscc"]) != p["to"]:
                findings.append(
                    Finding(
                        FindingCode.DELIVERY_MISMATCH,
                        f"event {event.seq} sent {p['code']}-{p['number']:010d} to {p['to']}, "
                        f"not the registered address of payer {p['uscc']}",
                    )
                )
            row = rows.setdefault(
                key, {"uscc": p["uscc"], "message_id": p["message_id"], "attempts": 0}
            )
            row.update(
                uscc=p["uscc"],
                message_id=p["message_id"],
                status="pending",
                reply=None,
                attempts=row["attempts"] + 1,
                event_seq=event.seq,
            )
        elif event.kind in _OUTCOMES and key in rows:
            rows[key].update(status=_OUTCOMES[event.kind], reply=p["reply"], event_seq=event.seq)
    return rows, findings
