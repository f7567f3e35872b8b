"""Settlement statements carried in a transmission package (docs/settlement.md, "Statements"):
the export adds the signed statement of every ``settlement.made`` event of the chain fragment
(``settlements/<sha256>.xml``); the tier above checks each as ``receipts settle import`` does
(signature, chain, schema, signer and addressee) before the import's transaction, holds them
against the fragment's events, and records each once (``settlement.imported``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.errors import InvalidInput
from receipts.ledger.models import Event, SettlementStatementRow
from receipts.settlement.statement import Statement, check_statement, record_imported
from receipts.transmission.package import Manifest, RefusedPackage
from signing.trust import ChainValidator

__all__ = [
    "CarriedStatement",
    "add_statements",
    "check_statements",
    "match_statements",
    "record_statements",
]

MADE_EVENT = "settlement.made"
_PREFIX = "settlements/"


@dataclass(frozen=True)
class CarriedStatement:
    """A statement a package carries, verified."""

    statement: Statement
    data: bytes
    digest: str


def add_statements(session: Session, events: list[Event], members: dict[str, bytes]) -> None:
    """The signed statement of every ``settlement.made`` event among ``events``."""
    for event in events:
        if event.kind != MADE_EVENT:
            continue
        row = session.scalars(
            select(SettlementStatementRow).where(
                SettlementStatementRow.event_seq == event.seq,
                SettlementStatementRow.direction == "out",
            )
        ).first()
        if row is None:
            raise RefusedPackage(
                f"the settlement statement of event {event.seq} is missing from this ledger: "
                "run receipts audit"
            )
        members[f"{_PREFIX}{row.digest}.xml"] = row.document


def check_statements(
    manifest: Manifest,
    members: dict[str, bytes],
    validator: ChainValidator,
    me: str,
    what: str,
) -> list[CarriedStatement]:
    """Each carried statement verified, addressed to ``me`` and made by the sender."""
    out: list[CarriedStatement] = []
    for name in sorted(n for n in members if n.startswith(_PREFIX)):
        data = members[name]
        digest = hashlib.sha256(data).hexdigest()
        if name != f"{_PREFIX}{digest}.xml":
            raise RefusedPackage(f"{what}: {name} is not named by its digest")
        try:
            statement = check_statement(data, validator, me)
        except InvalidInput as exc:
            raise RefusedPackage(f"{what}: {name}: {exc}") from None
        if statement.federation != manifest.sender:
            raise RefusedPackage(
                f"{what}: {name} is a statement of {statement.federation}, not of the sender "
                f"{manifest.sender}"
            )
        out.append(CarriedStatement(statement, data, digest))
    return out


def match_statements(
    events: list[dict[str, Any]], carried: list[CarriedStatement], what: str
) -> None:
    """The statements carried are exactly those the fragment's events made."""
    made = {e["payload"]["digest"] for e in events if e["kind"] == MADE_EVENT}
    if made != {c.digest for c in carried}:
        raise RefusedPackage(
            f"{what}: the settlement statements carried are not the ones the sender's events "
            f"made ({len(carried)} carried, {len(made)} in the events)"
        )


def record_statements(session: Session, state: Any, carried: list[CarriedStatement]) -> int:
    """Record each statement this ledger has not imported yet; how many were new."""
    return sum(record_imported(session, state, c.statement, c.data) for c in carried)
