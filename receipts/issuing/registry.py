"""The organisation registry: federations this ledger knows (its own, its children, others)."""

from __future__ import annotations

from sqlalchemy import select

from receipts.domain.enums import Tier
from receipts.domain.model import Organisation
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import OrganisationRow

__all__ = ["add_organisation", "find_organisation", "list_organisations"]


def add_organisation(db: Database, org: Organisation, signer: HeadSigner | None) -> bool:
    """Register ``org``; True if it is new. Re-adding the same entry changes nothing; a
    different entry under a known code is refused (names change through a new revision of the
    registry, not silently)."""
    with db.write() as (session, state):
        row = session.get(OrganisationRow, org.code)
        if row is not None:
            if (row.name, row.tier, row.uscc, row.parent) == _facts(org):
                return False
            raise InvalidInput(f"{org.code} is registered already as {row.name} ({row.tier})")
        name, tier, uscc, parent = _facts(org)
        session.add(OrganisationRow(code=org.code, name=name, tier=tier, uscc=uscc, parent=parent))
        append_event(
            session,
            state,
            "org.added",
            {"code": org.code, "name": name, "tier": tier, "uscc": uscc, "parent": parent},
        )
        sign_head(session, state, signer)
    return True


def find_organisation(db: Database, code: str) -> Organisation | None:
    """The registered organisation ``code``, if any."""
    with db.read() as session:
        row = session.get(OrganisationRow, code)
        return None if row is None else _to_model(row)


def list_organisations(db: Database) -> list[Organisation]:
    """Every registered organisation, by code."""
    with db.read() as session:
        return [
            _to_model(r)
            for r in session.scalars(select(OrganisationRow).order_by(OrganisationRow.code))
        ]


def _facts(org: Organisation) -> tuple[str, str, str | None, str | None]:
    return org.name, org.tier.value, org.uscc, org.parent


def _to_model(row: OrganisationRow) -> Organisation:
    return Organisation(row.code, row.name, Tier(row.tier), row.uscc, row.parent)
