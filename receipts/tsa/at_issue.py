"""Time-stamping receipts right after they are issued, where ``[tsa] stamp_at_issue = true``
(docs/operations.md, "Running the time-stamp authority").

Issuing never waits on the authority: this runs after the ledger transaction of the receipts
committed, and an authority that cannot be reached, answers wrongly or is not configured leaves
the receipts unstamped with a warning; ``receipts tsa stamp`` (or the next transmission) stamps
them later. The requests of one issue go one after the other over one HTTP connection, and the
first failure ends the round (an unreachable authority costs one timeout, not one per receipt).
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from receipts.errors import ReceiptError
from receipts.ledger.database import Database
from receipts.pki.credentials import Credentials
from receipts.tsa.authority import has_authority, load_authority
from receipts.tsa.config import TsaSettings
from receipts.tsa.stamping import StampOutcome, http_stamper, local_stamper, stamp_receipts
from signing.errors import SigningError
from signing.timestamps import TimeStampError

__all__ = ["stamp_issued"]


def stamp_issued(
    creds: Credentials, db: Database, settings: TsaSettings, keys: Iterable[tuple[str, int]]
) -> StampOutcome | None:
    """Time-stamp the newly issued receipts ``keys`` when ``settings`` ask for it (None when
    they do not, or nothing was issued). Never raises for the authority's sake: what could not
    be stamped is counted in ``left``, and ``problem`` says why."""
    wanted = list(keys)
    if not settings.stamp_at_issue or not wanted:
        return None
    try:
        if settings.url is not None:
            with httpx.Client(timeout=settings.timeout) as client:
                stamper = http_stamper(settings.url, settings.timeout, client)
                return stamp_receipts(db, stamper, creds.validator, creds.signer, wanted)
        if has_authority(creds):
            stamper = local_stamper(load_authority(creds, db))
            return stamp_receipts(db, stamper, creds.validator, creds.signer, wanted)
        problem = "[tsa] stamp_at_issue is set, but there is no [tsa] url nor an authority here"
    except (ReceiptError, SigningError, TimeStampError, httpx.HTTPError, OSError) as exc:
        # The receipts are issued and committed whatever happens here.
        problem = str(exc)
    return StampOutcome(0, len(wanted), problem)
