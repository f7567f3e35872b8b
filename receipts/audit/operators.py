"""Who did what, from the event log: the per-operator counts ``receipts audit`` reports, the
filtered listing of ``receipts log``, and the check that the operators table is what the
``operator.added`` and ``operator.disabled`` events make it (docs/security.md, "Operators and
key slots").

The events are the truth; the table is a cache. An event written under a name the log never
added, after that operator was disabled, or by an auditor, is a finding too: the command layer
refuses those writes, so one in the chain was written around it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.enums import OperatorRole
from receipts.findings import Finding, FindingCode
from receipts.ledger.models import Event, OperatorRow
from receipts.pki.operators import ADDED, DISABLED, SECRET_CHANGED

__all__ = ["NO_OPERATOR", "LogEntry", "check_operators", "event_log", "per_operator"]

NO_OPERATOR = "-"
"""How events written without an operator (legacy mode) are counted and listed."""


@dataclass(frozen=True)
class LogEntry:
    """One event as ``receipts log`` lists it."""

    seq: int
    """Its place in the chain."""
    at: datetime
    """When (UTC)."""
    operator: str | None
    """Who (None: written without operators)."""
    kind: str
    """What (``receipt.issued``, ``operator.added``, ...)."""
    payload: dict[str, Any]
    """The event's facts."""

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "operator": self.operator,
            "kind": self.kind,
            "payload": self.payload,
        }


def event_log(
    session: Session,
    *,
    operator: str | None = None,
    kinds: Iterable[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[LogEntry]:
    """The events in order, filtered: one operator (``-`` for none), kinds (a kind, or a prefix
    ending in ``.`` such as ``receipt.``), ``since`` inclusive, ``until`` exclusive."""
    query = select(Event).order_by(Event.seq)
    if operator == NO_OPERATOR:
        query = query.where(Event.operator.is_(None))
    elif operator is not None:
        query = query.where(Event.operator == operator)
    if since is not None:
        query = query.where(Event.at >= since)
    if until is not None:
        query = query.where(Event.at < until)
    wanted = tuple(kinds)
    entries = []
    for event in session.scalars(query):
        if wanted and not any(_kind_matches(event.kind, k) for k in wanted):
            continue
        entries.append(
            LogEntry(event.seq, event.at, event.operator, event.kind, json.loads(event.payload))
        )
    return entries


def _kind_matches(kind: str, wanted: str) -> bool:
    return kind.startswith(wanted) if wanted.endswith(".") else kind == wanted


def per_operator(events: Iterable[Event]) -> dict[str, dict[str, int]]:
    """Events per operator and kind (``-``: written without an operator)."""
    counts: Counter[tuple[str, str]] = Counter(
        (event.operator or NO_OPERATOR, event.kind) for event in events
    )
    report: dict[str, dict[str, int]] = {}
    for (name, kind), count in sorted(counts.items()):
        report.setdefault(name, {})[kind] = count
    return report


def check_operators(session: Session, events: list[Event]) -> list[Finding]:
    """The operators table against the events; every event's operator against who was an
    active, writing operator when it was written."""
    derived: dict[str, tuple[str, bool, str, int, int | None]] = {}
    findings: list[Finding] = []
    for event in events:
        findings += _check_writer(event, derived)
        if event.kind == ADDED:
            p = json.loads(event.payload)
            derived[p["name"]] = (p["role"], True, p["slot"], event.seq, None)
        elif event.kind == SECRET_CHANGED:
            p = json.loads(event.payload)
            if p["name"] in derived:
                role, active, _, added, disabled = derived[p["name"]]
                derived[p["name"]] = (role, active, p["slot"], added, disabled)
        elif event.kind == DISABLED:
            name = json.loads(event.payload)["name"]
            if name in derived:
                role, _, slot, added, _ = derived[name]
                derived[name] = (role, False, slot, added, event.seq)
    rows = {
        r.name: (r.role, bool(r.active), r.slot, r.added_seq, r.disabled_seq)
        for r in session.scalars(select(OperatorRow))
    }
    for name in sorted(set(rows) | set(derived)):
        if rows.get(name) != derived.get(name):
            differs = f"operator {name}: the operators table differs from the operator events"
            findings.append(Finding(FindingCode.OPERATOR_MISMATCH, differs))
    return findings


def _check_writer(
    event: Event, derived: dict[str, tuple[str, bool, str, int, int | None]]
) -> list[Finding]:
    if event.operator is None:
        return []
    known = derived.get(event.operator)
    if known is None or not known[1] or known[0] == OperatorRole.AUDITOR.value:
        why = (
            "never added"
            if known is None
            else ("disabled" if not known[1] else "an auditor, who never writes")
        )
        written = f"event {event.seq} ({event.kind}) was written by {event.operator}, {why}"
        return [Finding(FindingCode.OPERATOR_NOT_PERMITTED, written)]
    return []
