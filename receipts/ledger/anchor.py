"""The ledger's anchor: a small signed statement of how far the ledger has gone, kept outside
the database (``docs/security.md``).

An insider who can write the database can cut its tail cleanly (receipts, their events, heads
and rows, the counter rewound) and nothing left inside says so. After every write transaction
that signs a head, the workspace also signs these facts: the event count and head hash, the
highest number taken under each receipt code, and the last of its events the tier above has
acknowledged. The workspace keeps them in a file (:mod:`receipts.pki.anchor_file`); a ledger
behind them was truncated or rewritten, and a number taken before could be taken again.

This module builds and compares the facts; it neither reads nor writes files. The database
opens the sink (:class:`LedgerAnchor`) it is given; :func:`receipts.ledger.events.sign_head`
leaves the signed facts in the session for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.ledger.models import Event, LedgerState, NumberCounter, Transmission

__all__ = [
    "ANCHOR_PENDING",
    "ANCHOR_WANTED",
    "LedgerAnchor",
    "LedgerFacts",
    "SignedAnchor",
    "anchor_message",
    "ledger_behind",
    "ledger_facts",
]

#: Session-info key: set by the database when its writes are anchored.
ANCHOR_WANTED = "receipts.anchor.wanted"
#: Session-info key: the :class:`SignedAnchor` a transaction left for after its commit.
ANCHOR_PENDING = "receipts.anchor.pending"


@dataclass(frozen=True)
class LedgerFacts:
    """How far a ledger has gone."""

    event_count: int
    """Events in the chain."""
    head_hash: str
    """Hash of the last event."""
    numbers: dict[str, int] = field(default_factory=dict)
    """Receipt code → the highest number taken under it."""
    acknowledged: tuple[int, str] | None = None
    """The last event of ours the tier above acknowledged, and its hash."""

    def to_json(self) -> dict[str, Any]:
        """The facts as JSON data."""
        return {
            "event_count": self.event_count,
            "head_hash": self.head_hash,
            "numbers": dict(sorted(self.numbers.items())),
            "acknowledged": list(self.acknowledged) if self.acknowledged else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LedgerFacts:
        """The facts from :meth:`to_json` data (``KeyError``/``TypeError``/``ValueError`` on
        anything else)."""
        ack = data["acknowledged"]
        return cls(
            int(data["event_count"]),
            str(data["head_hash"]),
            {str(code): int(n) for code, n in dict(data["numbers"]).items()},
            (int(ack[0]), str(ack[1])) if ack is not None else None,
        )


@dataclass(frozen=True)
class SignedAnchor:
    """Ledger facts signed by the workspace's head-signing key."""

    org_code: str
    """Whose ledger."""
    facts: LedgerFacts
    """What is anchored."""
    signed_at: datetime
    """When (UTC)."""
    certificate_pem: bytes
    """The certificate of the signing key."""
    signature: str
    """Base64url signature over :func:`anchor_message`."""


def anchor_message(org_code: str, facts: LedgerFacts) -> bytes:
    """What an anchor signature covers."""
    body = json.dumps(facts.to_json(), sort_keys=True, separators=(",", ":"))
    return f"UDR-ANCHOR|{org_code}|{body}".encode()


class LedgerAnchor(Protocol):
    """Where a database keeps its anchor (the workspace folder, for the CLI)."""

    def check(self, session: Session, state: LedgerState) -> None:
        """Raise when the ledger is behind its anchor (called once, at the first write)."""

    def record(self, anchor: SignedAnchor) -> None:
        """Keep ``anchor`` (after its transaction committed); never move the anchor back."""


def ledger_facts(session: Session, state: LedgerState) -> LedgerFacts:
    """The facts of the ledger as ``session`` sees it, at the tip ``state``."""
    numbers = {
        code: int(highest)
        for code, highest in session.execute(
            select(NumberCounter.code, func.max(NumberCounter.last_number)).group_by(
                NumberCounter.code
            )
        )
    }
    last_ack = session.scalar(
        select(func.max(Transmission.last_seq)).where(
            Transmission.direction == "out", Transmission.acknowledged_at.is_not(None)
        )
    )
    acknowledged = None
    if last_ack is not None:
        acked = session.get(Event, last_ack)
        acknowledged = (int(last_ack), acked.hash if acked is not None else "")
    return LedgerFacts(state.event_count, state.head_hash, numbers, acknowledged)


def ledger_behind(session: Session, anchored: LedgerFacts, current: LedgerFacts) -> list[str]:
    """Every way the ledger (``current``, as ``session`` sees it) is behind or off ``anchored``:
    a shorter chain, another event at the anchored head, a counter below a number taken."""
    out: list[str] = []
    if current.event_count < anchored.event_count:
        out.append(
            f"the ledger has {current.event_count} events, its anchor says "
            f"{anchored.event_count} were committed: its tail was cut"
        )
    else:
        event = session.get(Event, anchored.event_count) if anchored.event_count else None
        have = event.hash if event is not None else None
        if anchored.event_count and have != anchored.head_hash:
            out.append(
                f"event {anchored.event_count} is not the one the anchor signed: "
                "the chain was rewritten"
            )
    for code, number in sorted(anchored.numbers.items()):
        if current.numbers.get(code, 0) < number:
            out.append(
                f"number {number} of {code} was taken, the ledger's counter says "
                f"{current.numbers.get(code, 0)}: it would be issued again"
            )
    if anchored.acknowledged is not None:
        seq, head = anchored.acknowledged
        event = session.get(Event, seq)
        if event is None or event.hash != head:
            out.append(
                f"event {seq}, acknowledged by the tier above, is no longer in the ledger as "
                "acknowledged"
            )
    return out
