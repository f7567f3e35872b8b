"""The acknowledgement kept with an imported package (docs/formats.md, "The tier API"): the
first one signed for it, so that importing or pushing the same package again answers with the
same bytes, whichever way it came (``transmit import`` or the tier API)."""

from __future__ import annotations

from sqlalchemy import select

from receipts.ledger.database import Database
from receipts.ledger.models import Transmission
from receipts.transmission.receive import ImportResult

__all__ = ["stored_acknowledgement"]


def stored_acknowledgement(db: Database, result: ImportResult) -> bytes:
    """The acknowledgement stored with the imported package's row (this one, the first time)."""
    with db.write() as (session, _):
        row = session.scalars(
            select(Transmission).where(
                Transmission.digest == result.manifest.digest, Transmission.direction == "in"
            )
        ).one_or_none()
        if row is None:
            return result.acknowledgement
        if row.acknowledgement is None:
            row.acknowledgement = result.acknowledgement
        return row.acknowledgement
