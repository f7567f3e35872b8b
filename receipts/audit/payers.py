"""The audit of the payer register (docs/operations.md, "The payer register"): the ``payers`` and
``payer_names`` rows re-derived from the ``payer.registered``, ``payer.renamed`` and
``payer.updated`` events, so a payer renamed, re-pointed or deleted outside the ledger (in SQL,
say, to let receipts go out under another name) is a finding. The declared wage bills
(``wage_declarations``, docs/arrears.md) are re-derived from the ``wages.declared`` events the
same way: a wage bill lowered in SQL would lower a payer's arrears."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.findings import Finding, FindingCode
from receipts.ledger.models import Event, PayerNameRow, PayerRow
from receipts.ledger.wages_models import WageDeclarationRow

__all__ = ["check_payers"]

_PAYER_COLUMNS = ("name", "kind", "union_uscc", "email", "event_seq")
_NAME_COLUMNS = ("uscc", "name", "effective_at", "reason")


def check_payers(session: Session, events: list[Event]) -> list[Finding]:
    """The register's rows against its events."""
    want, names = _derived(events)
    have = {
        row.uscc: {c: getattr(row, c) for c in _PAYER_COLUMNS}
        for row in session.scalars(select(PayerRow))
    }
    out: list[Finding] = []
    for uscc in sorted(set(want) | set(have)):
        if want.get(uscc) != have.get(uscc):
            differs = f"payer {uscc} differs from its events"
            out.append(Finding(FindingCode.PAYER_MISMATCH, differs))
    stored = {
        row.event_seq: {c: getattr(row, c) for c in _NAME_COLUMNS}
        for row in session.scalars(select(PayerNameRow))
    }
    for seq in sorted(set(names) | set(stored)):
        if names.get(seq) != stored.get(seq):
            differs = f"the payer name recorded by event {seq} differs from it"
            out.append(Finding(FindingCode.PAYER_MISMATCH, differs))
    return out + _check_wages(session, events)


_WAGE_COLUMNS = ("uscc", "period", "wage_fen", "declared_on", "source", "supersedes", "reason")


def _check_wages(session: Session, events: list[Event]) -> list[Finding]:
    """The ``wage_declarations`` rows against the ``wages.declared`` events."""
    want: dict[int, dict[str, Any]] = {}
    for event in events:
        if event.kind == "wages.declared":
            p = json.loads(event.payload)
            want[event.seq] = {
                "uscc": p["uscc"],
                "period": p["period"],
                "wage_fen": int(Decimal(p["wage"]) * 100),
                "declared_on": date.fromisoformat(p["declared_on"]),
                "source": p["source"],
                "supersedes": p["supersedes"],
                "reason": p["reason"],
            }
    have = {
        row.event_seq: {c: getattr(row, c) for c in _WAGE_COLUMNS}
        for row in session.scalars(select(WageDeclarationRow))
    }
    return [
        Finding(
            FindingCode.PAYER_MISMATCH,
            f"the wage declaration recorded by event {seq} differs from it",
        )
        for seq in sorted(set(want) | set(have))
        if want.get(seq) != have.get(seq)
    ]


def _derived(events: list[Event]) -> tuple[dict[str, dict[str, Any]], dict[int, dict[str, Any]]]:
    """USCC → its register row, and event seq → its name row, as the events make them."""
    payers: dict[str, dict[str, Any]] = {}
    names: dict[int, dict[str, Any]] = {}
    for event in events:
        if not event.kind.startswith("payer."):
            continue
        p = json.loads(event.payload)
        uscc = p["uscc"]
        if event.kind == "payer.registered":
            payers[uscc] = {c: p.get(c) for c in _PAYER_COLUMNS[:-1]}
            names[event.seq] = _name(uscc, p["name"], event, None)
        elif uscc in payers and event.kind == "payer.renamed":
            payers[uscc]["name"] = p["name"]
            names[event.seq] = _name(uscc, p["name"], event, p["reason"])
        elif uscc in payers and event.kind == "payer.updated":
            payers[uscc].update(email=p["email"], union_uscc=p["union_uscc"])
        else:
            continue
        payers[uscc]["event_seq"] = event.seq
    return payers, names


def _name(uscc: str, name: str, event: Event, reason: str | None) -> dict[str, Any]:
    return {"uscc": uscc, "name": name, "effective_at": event.at, "reason": reason}
