"""Closed sets of the domain as enums whose unknown values raise a domain error."""

from __future__ import annotations

from enum import StrEnum

from receipts.errors import InvalidInput

__all__ = [
    "DomainEnum",
    "LocalState",
    "OperatorRole",
    "PayerKind",
    "ReceiptKind",
    "ReceiptStatus",
    "Tier",
]


class DomainEnum(StrEnum):
    """A closed set of values from outside: an unknown one is an input error listing the known."""

    @classmethod
    def _missing_(cls, value: object) -> None:
        allowed = ", ".join(m.value for m in cls)
        raise InvalidInput(f"{value!r} is not a valid {cls._label()} (one of: {allowed})")

    @classmethod
    def _label(cls) -> str:
        return cls.__name__.lower()


class Tier(DomainEnum):
    """Tier of a federation; county/district federations belong to the city tier."""

    NATIONAL = "national"
    PROVINCIAL = "provincial"
    CITY = "city"


class PayerKind(DomainEnum):
    """Who paid."""

    ENTERPRISE = "enterprise"
    INSTITUTION = "institution"
    """事业单位 or 机关 (a public institution or a government organ), identified by its USCC."""
    GRASSROOTS_UNION = "grassroots_union"
    FEDERATION = "federation"
    INDIVIDUAL = "individual"
    OTHER = "other"

    @classmethod
    def _label(cls) -> str:
        return "payer kind"


class ReceiptKind(DomainEnum):
    """A normal receipt, or a red reversal that cancels one in full."""

    NORMAL = "normal"
    REVERSAL = "reversal"

    @classmethod
    def _label(cls) -> str:
        return "receipt kind"


class OperatorRole(DomainEnum):
    """What a named operator of a workspace may do (docs/security.md, "Operators and key slots")."""

    CLERK = "clerk"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    ADMIN = "admin"

    @classmethod
    def _label(cls) -> str:
        return "operator role"


class ReceiptStatus(DomainEnum):
    """A receipt's travelling status: what every tier holding it agrees on once the events that
    set it were transmitted (docs/formats.md, "Statuses: travelling and local")."""

    ISSUED = "issued"
    REVERSED = "reversed"

    @classmethod
    def _label(cls) -> str:
        return "receipt status"


class LocalState(DomainEnum):
    """What is true of a receipt in one ledger only, shown apart from its status as ``here``
    (docs/formats.md, "Statuses: travelling and local")."""

    ARCHIVED = "archived"
    BOOKED = "booked"

    @classmethod
    def _label(cls) -> str:
        return "local state"
