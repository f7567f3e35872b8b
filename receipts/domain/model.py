"""The receipt domain model: frozen dataclasses, validated on construction.

Validation here is what a single object can check about itself (formats, field limits, amounts
adding up). Rules that need outside knowledge (the catalogue, the issuer's stock) live with the
code that has it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from receipts.domain import divisions
from receipts.domain.capitals import to_capitals
from receipts.domain.catalogue import validate_item_code
from receipts.domain.enums import PayerKind, ReceiptKind, Tier
from receipts.domain.identifiers import (
    format_number,
    validate_check_code,
    validate_number,
    validate_receipt_code,
    validate_uscc,
)
from receipts.domain.money import compute_amount, parse_amount, parse_rate
from receipts.domain.payment_period import PaymentPeriod, parse_payment_period
from receipts.domain.qr_url import validate_base_url
from receipts.errors import InvalidInput, InvalidReceipt

__all__ = [
    "MAX_ITEMS",
    "Item",
    "Organisation",
    "Payer",
    "QRSeal",
    "Receipt",
    "ReceiptRef",
    "check_text",
]

MAX_ITEMS = 8
_OTHER_ID = re.compile(r"[0-9A-Za-z\-]{1,32}")
# Characters XML 1.0 cannot carry, and controls that have no place in a printed field.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def check_text(value: str, what: str, *, maximum: int, minimum: int = 1) -> str:
    """Return ``value`` if it is printable text of ``minimum``..``maximum`` characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    if value != value.strip():
        raise InvalidInput(f"{what} must not begin or end with spaces")
    if not minimum <= len(value) <= maximum:
        raise InvalidInput(f"{what} must be {minimum}-{maximum} characters, not {len(value)}")
    bad = _FORBIDDEN.search(value)
    if bad:
        raise InvalidInput(f"{what} contains control character U+{ord(bad.group()):04X}")
    return value


@dataclass(frozen=True)
class Organisation:
    """A federation (or a payer's organisation) known to a ledger."""

    code: str
    """6-digit administrative division code (GB/T 2260); ``000000`` is the national federation."""
    name: str
    """Official name, 1-100 characters, e.g. 银川市总工会."""
    tier: Tier
    """Tier; must agree with the code."""
    uscc: str | None = None
    """统一社会信用代码, when known."""
    parent: str | None = None
    """Administrative parent's code; derived from the code when not given."""

    def __post_init__(self) -> None:
        divisions.validate_division_code(self.code)
        check_text(self.name, "organisation name", maximum=100)
        object.__setattr__(self, "tier", Tier(self.tier))
        expected = divisions.tier_of(self.code)
        if self.tier is not expected:
            raise InvalidInput(
                f"organisation {self.code} is {expected.value}-tier, not {self.tier}"
            )
        if self.uscc is not None:
            object.__setattr__(self, "uscc", validate_uscc(self.uscc))
        derived = divisions.administrative_parent(self.code)
        if self.parent is None:
            object.__setattr__(self, "parent", derived)
        else:
            divisions.validate_division_code(self.parent, what="parent code")
            if not _may_be_parent(self.parent, self.code, derived):
                raise InvalidInput(f"{self.parent} cannot be the parent of {self.code}")

    @property
    def upstream(self) -> str | None:
        """Who allocates stock to, receives transmissions from and certifies this federation."""
        return divisions.upstream_of(self.code)

    @property
    def province(self) -> str:
        """Two-digit province part of the receipt codes this federation issues under."""
        return self.code[:2]


def _may_be_parent(parent: str, code: str, derived: str | None) -> bool:
    # A county's parent is normally its city (derived), but a province may administer a county
    # directly, so the province is accepted too.
    return parent == derived or (parent == code[:2] + "0000" and parent != code)


@dataclass(frozen=True)
class Payer:
    """交款人: who paid."""

    name: str
    """Name, 1-100 characters."""
    kind: PayerKind
    """Enterprise, grassroots union, federation, individual or other."""
    uscc: str | None = None
    """统一社会信用代码 of an organisation payer."""
    other_id: str | None = None
    """Another identifier when there is no USCC (e.g. an individual's member number)."""

    def __post_init__(self) -> None:
        check_text(self.name, "payer name", maximum=100)
        object.__setattr__(self, "kind", PayerKind(self.kind))
        if self.uscc is not None:
            object.__setattr__(self, "uscc", validate_uscc(self.uscc))
        if self.other_id is not None and not _OTHER_ID.fullmatch(self.other_id):
            raise InvalidInput(f"payer ID {self.other_id!r} must be 1-32 letters, digits or '-'")
        if self.uscc is not None and self.other_id is not None:
            raise InvalidInput("a payer has either a USCC or another ID, not both")


@dataclass(frozen=True)
class Item:
    """项目: one line of a receipt."""

    code: str
    """Catalogue code, e.g. ``01``."""
    name: str
    """Catalogue name as printed, e.g. 工会经费(拨缴)."""
    period: str
    """所属期, canonical: a month ``2026-10``, a quarter ``2026Q4``, a range ``2026-01~2026-06``
    or a year ``2026`` (receipts.domain.payment_period); other spellings are canonicalised."""
    amount: Decimal
    """Amount in yuan (negative on a reversal)."""
    basis: Decimal | None = None
    """Optional basis (e.g. the payroll), in yuan."""
    rate: Decimal | None = None
    """Optional rate applied to the basis (e.g. 0.02); then amount = basis × rate, half up."""

    def __post_init__(self) -> None:
        validate_item_code(self.code)
        check_text(self.name, "item name", maximum=100)
        period = parse_payment_period(self.period, what="item period")
        object.__setattr__(self, "period", period.text)
        object.__setattr__(self, "amount", parse_amount(self.amount, allow_negative=True))
        if self.amount == 0:
            raise InvalidInput("item amount must not be zero")
        if (self.basis is None) != (self.rate is None):
            raise InvalidInput("item basis and rate go together")
        if self.basis is not None and self.rate is not None:
            basis = parse_amount(self.basis)
            rate = parse_rate(self.rate)
            object.__setattr__(self, "basis", basis)
            object.__setattr__(self, "rate", rate)
            if abs(self.amount) != compute_amount(basis, rate):
                raise InvalidInput(
                    f"item amount {self.amount} is not basis {basis} × rate {rate} "
                    f"= {compute_amount(basis, rate)}"
                )

    @property
    def payment_period(self) -> PaymentPeriod:
        """The period as months (first and last), for checks and statistics."""
        return parse_payment_period(self.period)

    def negated(self) -> Item:
        """The same line with its amount negated, for a red reversal."""
        return Item(self.code, self.name, self.period, -self.amount, self.basis, self.rate)


@dataclass(frozen=True)
class ReceiptRef:
    """(code, number): a receipt's globally unique identity."""

    code: str
    """收据代码, 8 digits."""
    number: int
    """收据号码, 1..9,999,999,999."""

    def __post_init__(self) -> None:
        validate_receipt_code(self.code)
        object.__setattr__(self, "number", validate_number(self.number))

    def __str__(self) -> str:
        return f"{self.code}-{format_number(self.number)}"


@dataclass(frozen=True)
class QRSeal:
    """The issuer's compact signature printed in the QR code (docs/formats.md)."""

    key_id: str
    """First 8 hex digits of the signing certificate's SKI."""
    value: str
    """Deterministic signature, base64url without padding."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9a-f]{8}", self.key_id):
            raise InvalidInput(f"QR seal key id {self.key_id!r} must be 8 hex digits")
        if not re.fullmatch(r"[A-Za-z0-9_-]{40,400}", self.value):
            raise InvalidInput("QR seal value must be base64url without padding")


@dataclass(frozen=True)
class Receipt:
    """工会经费收入专用收据: everything the signed XML says, except the signature itself."""

    code: str
    """收据代码: issuer's province, category, series, year of issue."""
    number: int
    """收据号码 within the code."""
    check_code: str
    """校验码 for public look-ups."""
    kind: ReceiptKind
    """Normal, or a red reversal."""
    issued_at: datetime
    """Issue time, timezone-aware, whole seconds."""
    issuer: Organisation
    """The federation that received the money."""
    payer: Payer
    """Who paid."""
    items: tuple[Item, ...]
    """1-8 lines."""
    handler: str
    """开票人."""
    reviewer: str
    """复核人."""
    remark: str = ""
    """Optional remark, at most 200 characters."""
    original: ReceiptRef | None = None
    """For a reversal: the receipt it cancels."""
    reason: str = ""
    """For a reversal: why, 1-200 characters."""
    seal: QRSeal | None = field(default=None, compare=True)
    """The QR seal; None until the receipt is sealed at issue."""
    public_base_url: str | None = None
    """The issuer's public base URL (``[serve] public_base_url`` at issue): the QR code of layout
    3 is a URL under it, and the seal covers it (docs/formats.md, "The QR URL")."""

    def __post_init__(self) -> None:
        validate_receipt_code(self.code)
        object.__setattr__(self, "number", validate_number(self.number))
        validate_check_code(self.check_code)
        object.__setattr__(self, "kind", ReceiptKind(self.kind))
        object.__setattr__(self, "items", tuple(self.items))
        _check_time(self.issued_at)
        check_text(self.handler, "handler", maximum=100)
        check_text(self.reviewer, "reviewer", maximum=100)
        check_text(self.remark, "remark", maximum=200, minimum=0)
        if self.public_base_url is not None:
            validate_base_url(self.public_base_url)
        if not 1 <= len(self.items) <= MAX_ITEMS:
            raise InvalidReceipt(f"a receipt has 1-{MAX_ITEMS} items, not {len(self.items)}")
        self._check_kind()
        if self.code[:2] != self.issuer.province:
            raise InvalidReceipt(
                f"receipt code {self.code} is not of issuer {self.issuer.code}'s province "
                f"({self.issuer.province})"
            )
        parse_amount(abs(self.total))  # the total must itself be within range
        if self.code[6:] != f"{self.issued_at.year % 100:02d}":
            raise InvalidReceipt(
                f"receipt code {self.code} is not of the year of issue {self.issued_at.year}"
            )

    def _check_kind(self) -> None:
        negative = [item.amount < 0 for item in self.items]
        if self.kind is ReceiptKind.NORMAL:
            if any(negative):
                raise InvalidReceipt("a normal receipt's amounts must be positive")
            if self.original is not None or self.reason:
                raise InvalidReceipt("only a reversal references an original and a reason")
            return
        if not all(negative):
            raise InvalidReceipt("a reversal's amounts must all be negative")
        if self.original is None:
            raise InvalidReceipt("a reversal must reference the receipt it cancels")
        check_text(self.reason, "reversal reason", maximum=200)
        if self.original == self.ref:
            raise InvalidReceipt("a reversal cannot cancel itself")

    def numbered(self, number: int, check_code: str) -> Receipt:
        """This receipt with its number and check code: the only fields issuing fills in after
        the draft was validated, so only they are validated again (batches do this by the
        thousand)."""
        validate_number(number)
        validate_check_code(check_code)
        if self.original is not None and self.original == ReceiptRef(self.code, number):
            raise InvalidReceipt("a reversal cannot cancel itself")
        numbered = copy.copy(self)
        object.__setattr__(numbered, "number", number)
        object.__setattr__(numbered, "check_code", check_code)
        return numbered

    @property
    def ref(self) -> ReceiptRef:
        """(code, number)."""
        return ReceiptRef(self.code, self.number)

    @property
    def total(self) -> Decimal:
        """Sum of the items."""
        return sum((item.amount for item in self.items), Decimal("0.00"))

    @property
    def capitals(self) -> str:
        """The total in capitals (大写)."""
        return to_capitals(self.total)

    @property
    def formatted_number(self) -> str:
        """The number as printed: 10 digits."""
        return format_number(self.number)


def _check_time(moment: datetime) -> None:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InvalidInput("issue time must carry a UTC offset")
    if moment.microsecond:
        raise InvalidInput("issue time must be whole seconds")
    offset = moment.utcoffset()
    assert offset is not None
    if offset % timedelta(minutes=1):
        raise InvalidInput("issue time's UTC offset must be whole minutes")
