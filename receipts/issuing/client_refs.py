"""Which of a batch's client references this issuer has issued already: a rerun issues nothing
twice for them (docs/architecture.md), so the checks that decide whether a file may be issued
(union-finance rules, the payer register) look only at the rows that would be issued now."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from receipts.ledger.database import Database
from receipts.ledger.models import ClientReference

__all__ = ["issued_references"]

_PER_QUERY = 500
"""References per IN list (SQLite allows 32,766 bound parameters; PostgreSQL more)."""


def issued_references(db: Database, issuer: str, references: Iterable[str]) -> set[str]:
    """Those of ``references`` that ``issuer`` has issued a receipt for."""
    wanted = sorted(set(references))
    found: set[str] = set()
    with db.read() as session:
        for start in range(0, len(wanted), _PER_QUERY):
            chunk = wanted[start : start + _PER_QUERY]
            found.update(
                session.scalars(
                    select(ClientReference.reference).where(
                        ClientReference.issuer == issuer, ClientReference.reference.in_(chunk)
                    )
                )
            )
    return found
