"""The fields of one batch receipt, as CSV columns name them, made into a payer, items and an
:class:`~receipts.domain.issue_request.IssueRequest`; and the problems found on the way, each at
its field.

CSV rows and JSON lines (:mod:`receipts.batch.csv_file`, :mod:`receipts.batch.jsonl_file`) both
come here with their values keyed by CSV column, so one set of rules checks both; the formats are
described in :mod:`receipts.batch.reader`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from receipts.domain.catalogue import Catalogue
from receipts.domain.enums import PayerKind
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import Item, Payer
from receipts.domain.money import compute_amount, parse_amount, parse_rate
from receipts.domain.sharing import PayerSituation
from receipts.errors import InvalidInput

__all__ = [
    "BatchEntry",
    "BatchProblem",
    "Where",
    "item_from",
    "payer_from",
    "request_from",
    "require",
]

# Which field a domain error is about, by the first of these words its message contains.
_FIELD_OF = {
    "payer name": "payer_name",
    "payer kind": "payer_kind",
    "a payer has": "payer_id",
    "payer ID": "payer_id",
    "USCC": "payer_uscc",
    "handler": "handler",
    "reviewer": "reviewer",
    "remark": "remark",
    "client reference": "client_ref",
    "item period": "period",
    "item amount": "amount",
    "payer situation": "situation",
}
T = TypeVar("T")


@dataclass(frozen=True)
class BatchProblem:
    """Why a file, a row or a receipt of a batch was refused, and where."""

    path: str
    """The file, as given."""
    line: int
    """1-based line (a receipt's first line for a problem of the whole receipt)."""
    column: int | None
    """1-based CSV column of the field, or a JSON line's character; None when it is no field."""
    message: str
    """What is wrong."""

    def __str__(self) -> str:
        column = "" if self.column is None else f":{self.column}"
        return f"{self.path}:{self.line}{column}: {self.message}"


@dataclass(frozen=True)
class BatchEntry:
    """One receipt the batch asks for."""

    line: int
    """The receipt's first line in the file."""
    request: IssueRequest
    """What to issue; its ``client_ref`` is set."""
    item_lines: tuple[int, ...] = ()
    """The line of each item (a CSV row each); empty when they are all on ``line``."""


@dataclass(slots=True)
class Where:
    """Where fields come from (a CSV row, a JSON line or item) and where their problems go."""

    path: str
    line: int
    problems: list[BatchProblem]
    columns: Mapping[str, int] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def report(self, name: str | None, message: str, column: int | None = None) -> None:
        if name is not None:
            column = self.columns.get(name)
        self.problems.append(BatchProblem(self.path, self.line, column, self.prefix + message))


def _build(where: Where, make: Callable[[], T], name: str | None = None) -> T | None:
    """``make()``, or None with its domain error reported against the field it is about."""
    try:
        return make()
    except InvalidInput as error:
        message = str(error)
        about = name or next((f for words, f in _FIELD_OF.items() if words in message), None)
        where.report(about, message)
        return None


def require(values: Mapping[str, str], name: str, where: Where) -> str | None:
    """The field's value, or None with its absence reported."""
    value = values.get(name, "")
    if not value:
        where.report(name, f"{where.label(name)} is required")
        return None
    return value


def payer_from(values: Mapping[str, str], where: Where) -> Payer | None:
    """The payer of a receipt's fields; handler and reviewer must be there too."""
    name = require(values, "payer_name", where)
    kind = require(values, "payer_kind", where)
    require(values, "handler", where)
    require(values, "reviewer", where)
    if name is None or kind is None:
        return None
    situation = values.get("situation", "")
    if situation:  # checked at its row and column, like the payer kind
        _build(where, lambda: PayerSituation(situation), "situation")
    uscc, other = values.get("payer_uscc") or None, values.get("payer_id") or None
    return _build(where, lambda: Payer(name, PayerKind(kind), uscc, other))


def _money(values: Mapping[str, str], name: str, where: Where) -> Decimal | None:
    text = values.get(name, "")
    if not text:
        return None
    parse = parse_rate if name == "rate" else parse_amount
    # parse_amount's messages say "amount"; name the basis when it is the basis.
    prefix = "basis: " if name == "basis" else ""
    try:
        return parse(text)
    except InvalidInput as error:
        where.report(name, f"{prefix}{error}")
        return None


def item_from(values: Mapping[str, str], catalogue: Catalogue, where: Where) -> Item | None:
    """One receipt line; the catalogue gives its name and basis × rate its missing amount."""
    before = len(where.problems)
    code = require(values, "item_code", where)
    name = None if code is None else _build(where, lambda: catalogue.name_of(code), "item_code")
    printed = values.get("item_name", "")
    if name is not None and printed and printed != name:
        where.report("item_name", f"item {code} is {name!r}, not {printed!r}")
    period = require(values, "period", where)
    amount, basis, rate = (_money(values, n, where) for n in ("amount", "basis", "rate"))
    given = {n for n in ("amount", "basis", "rate") if values.get(n)}
    if {"basis", "rate"} & given and not {"basis", "rate"} <= given:
        absent, present = ("rate", "basis") if "basis" in given else ("basis", "rate")
        where.report(absent, f"{where.label(absent)} is required with {where.label(present)}")
    elif basis is not None and rate is not None:
        computed = _build(where, lambda: compute_amount(basis, rate), "amount")
        if amount is not None and computed is not None and amount != computed:
            where.report(
                "amount", f"amount {amount} is not basis {basis} × rate {rate} = {computed}"
            )
        amount = computed if amount is None else amount
    elif not given:
        required = f"{where.label('amount')} is required unless basis and rate are given"
        where.report("amount", required)
    if amount is not None and amount <= 0:
        where.report("amount", f"amount {amount} is not positive")
    if len(where.problems) > before or not (code and name and period and amount):
        return None
    return _build(where, lambda: Item(code, name, period, amount, basis, rate))


def request_from(
    where: Where, ref: str, payer: Payer, items: list[Item], values: Mapping[str, str]
) -> IssueRequest | None:
    """The whole receipt, once its payer and items are made; None if it breaks a receipt rule."""
    handler, reviewer, remark = values["handler"], values["reviewer"], values["remark"]
    # The payer situation for the sharing rules (分成); empty: from the payer's kind
    # (docs/settlement.md, "Shares at issue").
    situation = values.get("situation") or None
    return _build(
        where,
        lambda: IssueRequest(payer, tuple(items), handler, reviewer, remark, ref, situation),
    )
