"""The union-finance rules a federation applies when it issues (docs/formats.md,
"Union-finance rules").

The national federation and a province set rules: the national defaults with their own
``[rules]`` in place of them. A city-tier federation takes rules: those of the newest signed
allocation its province made to it (the national defaults until one carries rules), which its
own ``[rules]`` may tighten but never loosen.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.enums import Tier
from receipts.domain.finance_rules import DEFAULT_RULES, FinanceRules
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import Receipt, ReceiptRef
from receipts.domain.sharing import PayerSituation, SharingRules
from receipts.domain.sharing_codec import (
    SHARING_NAMESPACE,
    default_sharing_rules,
    rules_from_element,
    rules_to_element,
)
from receipts.errors import ConfigurationError, InvalidInput
from receipts.issuing.receipt_rows import Sharing, default_situation
from receipts.issuing.stock_allocation import upstream_rules
from receipts.ledger.database import Database
from receipts.ledger.events import append_event
from receipts.ledger.models import LedgerState, ReceiptShareRow, SharingTableRow
from receipts.workspace import CONFIG_NAME, WorkspaceConfig
from signing.trust import ChainValidator
from signing.xmlparse import parse_untrusted

__all__ = [
    "adopt_sharing_table",
    "effective_rules",
    "request_sharings",
    "reversal_sharing",
    "rules_to_allocate",
    "sharing_in_force",
    "sharing_rules_of",
]


def rules_to_allocate(config: WorkspaceConfig) -> FinanceRules:
    """The rules a province (or the national federation) sets, and signs into allocations."""
    return DEFAULT_RULES.overridden(config.rule_overrides)


def effective_rules(
    db: Database, config: WorkspaceConfig, validator: ChainValidator
) -> FinanceRules:
    """The rules this federation's issuing applies."""
    org = config.organisation()
    if org.tier is not Tier.CITY:
        return rules_to_allocate(config)
    with db.read() as session:
        found = upstream_rules(session, org.code, validator)
    floor = DEFAULT_RULES if found is None else found[0]
    try:
        return floor.tightened(config.rule_overrides)
    except InvalidInput as error:
        raise ConfigurationError(f"{CONFIG_NAME}: {error} (a city may only tighten)") from None


# --- the sharing table (分成) in force: docs/settlement.md, "Shares at issue" -----------------


@functools.lru_cache(maxsize=8)
def sharing_rules_of(document: bytes) -> SharingRules:
    """The rules a stored sharing table states (its signature, if any, was verified when it was
    adopted; ``ledger audit`` holds the stored bytes against their digest and event)."""
    root = parse_untrusted(document)
    for signature in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        root.remove(signature)
    return rules_from_element(root, SHARING_NAMESPACE)


def sharing_in_force(session: Session) -> tuple[SharingRules, str]:
    """The newest adopted sharing table and its digest. Until one is adopted, the configured
    default, stored the first time it is used so that every stored share names a table the
    ledger holds; it has no event of its own: the receipt events that use it name its digest,
    and ``ledger audit`` holds the stored bytes against that digest."""
    row = session.scalars(
        select(SharingTableRow)
        .where(SharingTableRow.event_seq.is_not(None))
        .order_by(SharingTableRow.event_seq.desc())
        .limit(1)
    ).first()
    if row is not None:
        return sharing_rules_of(row.document), row.digest
    document = etree.tostring(rules_to_element(default_sharing_rules()), encoding="UTF-8")
    digest = hashlib.sha256(document).hexdigest()
    if session.get(SharingTableRow, digest) is None:
        session.add(
            SharingTableRow(
                digest=digest,
                document=document,
                origin="default",
                adopted_at=datetime.now(UTC).replace(microsecond=0),
                event_seq=None,
            )
        )
        session.flush()
    return sharing_rules_of(document), digest


def adopt_sharing_table(session: Session, state: LedgerState, document: bytes, origin: str) -> str:
    """Store ``document`` (already checked) as the table in force, with its ``sharing.adopted``
    event; its digest."""
    digest = hashlib.sha256(document).hexdigest()
    known = session.get(SharingTableRow, digest)
    if known is not None and known.event_seq is not None:
        raise InvalidInput(f"this sharing table ({digest[:12]}) was adopted already")
    event = append_event(session, state, "sharing.adopted", {"digest": digest, "origin": origin})
    now = datetime.now(UTC).replace(microsecond=0)
    if known is None:  # (else the default, stored when first used, is adopted explicitly)
        known = SharingTableRow(digest=digest, document=document)
        session.add(known)
    known.origin, known.adopted_at, known.event_seq = origin, now, event.seq
    session.flush()
    return digest


def request_sharings(
    session: Session, requests: Sequence[IssueRequest], issued_at: datetime
) -> list[Sharing]:
    """How each request is shared: its situation (or its payer kind's) under the table in force
    on the issue day (docs/settlement.md, "Shares at issue")."""
    rules, digest = sharing_in_force(session)
    return [
        Sharing(
            PayerSituation(request.situation)
            if request.situation is not None
            else default_situation(request.payer.kind),
            rules,
            digest,
            issued_at.date(),
        )
        for request in requests
    ]


def reversal_sharing(session: Session, original: Receipt, ref: ReceiptRef) -> Sharing:
    """A red receipt is shared as its original was (situation, table, day), negated."""
    first = session.scalars(
        select(ReceiptShareRow).where(
            ReceiptShareRow.code == ref.code, ReceiptShareRow.number == ref.number
        )
    ).first()
    if first is None:  # issued before shares were stored: shared as issued today would be
        rules, digest = sharing_in_force(session)
        situation = default_situation(original.payer.kind)
    else:
        table = session.get(SharingTableRow, first.rules_digest)
        if table is None:
            raise InvalidInput(f"{ref}: its sharing table {first.rules_digest[:12]} is missing")
        rules, digest = sharing_rules_of(table.document), table.digest
        situation = PayerSituation(first.situation)
    return Sharing(situation, rules, digest, original.issued_at.date())
