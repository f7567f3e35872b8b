"""The shares of receipts received from a lower tier (docs/settlement.md, "Copies at the tier
above"): recomputed under this ledger's sharing table in force, with the payer situation and
sharing day the sender's signed chain states for each (its payer kind and issue day when the
sender's events state none)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from receipts.domain.model import Receipt
from receipts.domain.sharing import PayerSituation
from receipts.errors import InvalidInput
from receipts.issuing.effective_rules import sharing_in_force
from receipts.issuing.receipt_rows import Sharing, default_situation, share_columns
from receipts.transmission.package import RefusedPackage

__all__ = ["ReceivedShares"]


class ReceivedShares:
    """Share rows of the receipts a package adds, and what each ``receipt.imported`` event
    records of them."""

    def __init__(self, session: Session, what: str) -> None:
        self.what = what
        self.rules, self.digest = sharing_in_force(session)
        self.rows: list[dict[str, Any]] = []

    def add(self, receipt: Receipt, stated: tuple[PayerSituation, date] | None) -> dict[str, str]:
        """Add ``receipt``'s share rows under the sharing its sender's event ``stated`` (its
        payer kind's default situation and its issue day when the event states none); the
        ``sharing`` its event here records."""
        situation, on = stated or (default_situation(receipt.payer.kind), receipt.issued_at.date())
        try:
            self.rows.extend(
                share_columns(receipt, Sharing(situation, self.rules, self.digest, on))
            )
        except InvalidInput as error:
            raise RefusedPackage(f"{self.what}: receipt {receipt.ref}: {error}") from None
        return {"situation": situation.value, "rules": self.digest, "on": on.isoformat()}
