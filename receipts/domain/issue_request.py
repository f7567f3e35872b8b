"""What a clerk asks to be issued: a receipt without its number, code, check code and time.

Options, ``--from-json`` files and batch rows all become :class:`IssueRequest` objects; the
ledger takes numbers and turns them into receipts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from receipts.domain.catalogue import Catalogue
from receipts.domain.model import MAX_ITEMS, Item, Payer, check_text
from receipts.domain.money import format_amount, parse_amount
from receipts.domain.sharing import PayerSituation
from receipts.errors import InvalidInput

__all__ = ["CLIENT_REF_PATTERN", "IssueRequest", "request_differences"]

#: A client reference: what the batch's source system calls the receipt.
CLIENT_REF_PATTERN = re.compile(r"[0-9A-Za-z._:/\-]{1,64}")


@dataclass(frozen=True)
class IssueRequest:
    """One receipt to issue."""

    payer: Payer
    """Who paid."""
    items: tuple[Item, ...]
    """1-8 lines, positive amounts."""
    handler: str
    """开票人."""
    reviewer: str
    """复核人."""
    remark: str = ""
    """Optional remark."""
    client_ref: str | None = None
    """The batch's reference, unique per issuer forever (None for a one-off receipt)."""
    situation: PayerSituation | str | None = None
    """How the money was paid, for the sharing rules (分成); a value of :class:`PayerSituation`
    (a string is converted, an unknown one refused); None: from the payer's kind
    (docs/settlement.md, "Shares at issue")."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        if self.situation is not None:
            object.__setattr__(self, "situation", PayerSituation(self.situation))
        if not 1 <= len(self.items) <= MAX_ITEMS:
            raise InvalidInput(f"a receipt has 1-{MAX_ITEMS} items, not {len(self.items)}")
        if any(item.amount <= 0 for item in self.items):
            raise InvalidInput("item amounts must be positive")
        parse_amount(sum((i.amount for i in self.items), Decimal(0)))  # total within range
        check_text(self.handler, "handler", maximum=100)
        check_text(self.reviewer, "reviewer", maximum=100)
        check_text(self.remark, "remark", maximum=200, minimum=0)
        if self.client_ref is not None and not CLIENT_REF_PATTERN.fullmatch(self.client_ref):
            raise InvalidInput(
                f"client reference {self.client_ref!r} must be 1-64 letters, digits or ._:/-"
            )

    def check_catalogue(self, catalogue: Catalogue) -> None:
        """Every item's code is in the catalogue and its name is the catalogue's."""
        for n, item in enumerate(self.items, 1):
            expected = catalogue.name_of(item.code)
            if item.name != expected:
                raise InvalidInput(f"item {n}: code {item.code} is {expected!r}, not {item.name!r}")

    def to_json(self) -> dict[str, Any]:
        """Canonical content, stored with the client reference to detect a reused one."""
        return {
            "payer": {
                "name": self.payer.name,
                "kind": self.payer.kind.value,
                "uscc": self.payer.uscc,
                "other_id": self.payer.other_id,
            },
            "items": [
                {
                    "code": item.code,
                    "name": item.name,
                    "period": item.period,
                    "amount": format_amount(item.amount),
                    "basis": None if item.basis is None else format_amount(item.basis),
                    "rate": None if item.rate is None else format(item.rate.normalize(), "f"),
                }
                for item in self.items
            ],
            "handler": self.handler,
            "reviewer": self.reviewer,
            "remark": self.remark,
        } | ({} if self.situation is None else {"situation": PayerSituation(self.situation).value})


def request_differences(stored: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Human descriptions of where two canonical requests differ (``payer.name: 'a' ≠ 'b'``)."""
    out: list[str] = []
    for key in sorted(set(stored) | set(new)):
        a, b = stored.get(key), new.get(key)
        path = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(request_differences(a, b, path + "."))
        elif isinstance(a, list) and isinstance(b, list) and key == "items":
            if len(a) != len(b):
                out.append(f"{path}: {len(a)} lines ≠ {len(b)} lines")
            for n, (x, y) in enumerate(zip(a, b, strict=False), 1):
                out.extend(request_differences(x, y, f"{path}[{n}]."))
        elif a != b:
            out.append(f"{path}: {a!r} ≠ {b!r}")
    return out
