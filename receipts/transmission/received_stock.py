"""What a received package carries for the national tier's checks (docs/formats.md,
transmission): the children's signed allocations and their registry entries, checked before the
import's transaction and recorded in it (:mod:`receipts.transmission.receive`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain import divisions
from receipts.domain.signed_documents import verify_document
from receipts.errors import InvalidInput
from receipts.issuing.stock_allocation import (
    Allocation,
    allocation_from_element,
    check_may_allocate,
    store_segment,
)
from receipts.ledger.events import append_event
from receipts.ledger.models import OrganisationRow, Segment
from receipts.transmission.package import Manifest, RefusedPackage
from signing.trust import ChainValidator

__all__ = ["check_allocations", "record_allocation", "register_organisation", "registry_entries"]


def check_allocations(
    manifest: Manifest, members: dict[str, bytes], validator: ChainValidator, what: str
) -> list[tuple[Allocation, bytes]]:
    out = []
    for name in sorted(n for n in members if n.startswith("allocations/")):
        root, signer_org = verify_document(
            members[name],
            validator,
            expected_org=None,
            schema="allocation.xsd",
            what=f"{what}: {name}",
        )
        allocation = allocation_from_element(root)
        if signer_org != allocation.allocator or allocation.allocator != manifest.sender:
            raise RefusedPackage(
                f"{what}: {name} was not allocated and signed by {manifest.sender}"
            )
        try:
            check_may_allocate(allocation.allocator, allocation.holder, allocation.code)
        except InvalidInput as exc:
            raise RefusedPackage(f"{what}: {name}: {exc}") from None
        out.append((allocation, members[name]))
    return out


def record_allocation(
    session: Session, state: Any, allocation: Allocation, document: bytes, sender: str
) -> None:
    digest = hashlib.sha256(document).hexdigest()
    if session.scalar(select(Segment.id).where(Segment.digest == digest)) is not None:
        return
    store_segment(session, allocation, document)
    append_event(
        session,
        state,
        "stock.recorded",
        {
            "allocator": allocation.allocator,
            "holder": allocation.holder,
            "code": allocation.code,
            "first": allocation.first,
            "last": allocation.last,
            "digest": digest,
            "from": sender,
        },
    )


def registry_entries(members: dict[str, bytes], sender: str, what: str) -> list[dict[str, Any]]:
    if "registry.json" not in members:
        return []
    try:
        entries = json.loads(members["registry.json"])["organisations"]
    except (ValueError, KeyError, TypeError):
        raise RefusedPackage(f"{what}: registry.json is malformed") from None
    for entry in entries:
        if not isinstance(entry, dict) or divisions.upstream_of(str(entry.get("code"))) != sender:
            raise RefusedPackage(
                f"{what}: registry.json lists an organisation that is not {sender}'s"
            )
    return list(entries)


def register_organisation(session: Session, state: Any, entry: dict[str, Any]) -> None:
    if session.get(OrganisationRow, entry["code"]) is not None:
        return
    facts = {k: entry.get(k) for k in ("code", "name", "tier", "uscc", "parent")}
    session.add(OrganisationRow(**facts))
    append_event(session, state, "org.added", facts)
