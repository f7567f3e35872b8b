"""The heads of the tiers below, as this ledger's own chain records them (docs/security.md,
"Transmission import"): each ``transmission.imported`` event names the package's last event and
head, and this ledger's signed heads cover those events. ``peer_heads`` is a copy an insider can
edit; the import (``receipts.transmission.held_heads``) and the audit
(``receipts.audit.transmissions``) hold it to these."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.ledger.models import Event

__all__ = ["IMPORTED", "RecordedHead", "heads_of", "recorded_heads"]

IMPORTED = "transmission.imported"
"""The event kind that records an imported package."""


@dataclass(frozen=True)
class RecordedHead:
    """The furthest head a sender's imported packages reached, as the events record it."""

    event_count: int
    head_hash: str
    seq: int
    """The event that recorded it."""


def recorded_heads(session: Session) -> dict[str, RecordedHead]:
    """Per sender, the furthest head its imports recorded (read from the ledger)."""
    query = select(Event.seq, Event.payload).where(Event.kind == IMPORTED).order_by(Event.seq)
    return heads_of((int(seq), json.loads(payload)) for seq, payload in session.execute(query))


def heads_of(imports: Iterable[tuple[int, dict[str, Any]]]) -> dict[str, RecordedHead]:
    """Per sender, the furthest head of ``imports`` (each import event's seq and payload, in
    chain order): for a caller that holds the events already (the audit)."""
    out: dict[str, RecordedHead] = {}
    for seq, facts in imports:
        sender, last = str(facts["from"]), int(facts["last"])
        known = out.get(sender)
        if known is None or last >= known.event_count:
            out[sender] = RecordedHead(last, str(facts["head"]), seq)
    return out
