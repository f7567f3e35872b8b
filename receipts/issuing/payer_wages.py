"""Declared wage bills (计拨工资总额) of the register's payers, per 所属期 (docs/arrears.md).

A declaration says: payer USCC, for 所属期 P, declared a wage bill of W yuan on date D, from
source S (its own return, the tax bureau's record, a statistics report …). It is the base of
the amount the payer is expected to allocate (:func:`expected_fen`), which the arrears reports
hold against the receipts issued.

Each declaration is a ``wages.declared`` event; the ``wage_declarations`` table is its cache,
re-derived by ``receipts audit`` (:mod:`receipts.audit.payers`). A correction of a payer's
declaration for the same 所属期 is a new event naming the one it supersedes and why; the old
one stays in the history. Periods of one payer's current declarations never overlap (a
declaration for 2026Q4 beside one for 2026-10 would count October twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.finance_rules import FinanceRules
from receipts.domain.identifiers import validate_uscc
from receipts.domain.model import check_text
from receipts.domain.money import from_fen, parse_amount, to_fen
from receipts.domain.payment_period import PaymentPeriod, parse_payment_period
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import LedgerState, PayerRow
from receipts.ledger.wages_models import WageDeclarationRow

__all__ = [
    "WAGES_EVENT",
    "DeclarationRecord",
    "WageDeclaration",
    "current_declarations",
    "declaration_conflict",
    "declaration_problems",
    "declare_wages",
    "expected_fen",
    "item_rate",
    "parse_declared_on",
    "stored_period",
    "wage_history",
]

#: Up to this many payers are looked up by an ``IN`` list; a file of more reads the whole table
#: instead (SQLite allows 32,766 bound parameters in a statement).
_IN_LIST = 5_000

WAGES_EVENT = "wages.declared"
"""The event kind of a declaration (and of a correction, which names what it ``supersedes``)."""


@dataclass(frozen=True)
class WageDeclaration:
    """One declared wage bill, validated."""

    uscc: str
    """The payer's 统一社会信用代码 (registered)."""
    period: PaymentPeriod
    """所属期 the wage bill is for: a month, quarter, range or year."""
    wage: Decimal
    """计拨工资总额 in yuan (whole fen, not negative)."""
    declared_on: date
    """When the payer declared it."""
    source: str
    """Where the figure comes from (1-100 characters)."""
    reason: str | None = None
    """Why it corrects an earlier declaration (required for a correction)."""

    @classmethod
    def of(
        cls,
        uscc: str,
        period: str,
        wage: str,
        declared_on: str,
        source: str,
        reason: str | None = None,
    ) -> WageDeclaration:
        """Validate every field; :class:`InvalidInput` names the first bad one."""
        return cls(
            validate_uscc(uscc),
            parse_payment_period(period, what="period"),
            parse_amount(wage),
            parse_declared_on(declared_on),
            check_text(source, "source", maximum=100),
            None if reason is None else check_text(reason, "reason", maximum=200),
        )

    def same_figures(self, row: WageDeclarationRow) -> bool:
        """Whether ``row`` declares what this does (a re-import of the same file)."""
        return (row.wage_fen, row.declared_on, row.source) == (
            to_fen(self.wage),
            self.declared_on,
            self.source,
        )


@dataclass(frozen=True)
class DeclarationRecord:
    """A stored declaration with its place in the history."""

    event_seq: int
    uscc: str
    period: str
    wage: Decimal
    declared_on: date
    source: str
    supersedes: int | None
    reason: str | None
    current: bool
    """Whether no later declaration supersedes it."""

    @property
    def first_month(self) -> date:
        """Day 1 of the first month of its 所属期 (for ordering)."""
        return stored_period(self.period).first_month


@lru_cache(maxsize=4096)
def stored_period(text: str) -> PaymentPeriod:
    """A stored 所属期, parsed once (reports meet the same few periods many times)."""
    return parse_payment_period(text)


def parse_declared_on(value: str) -> date:
    """A declaration date ``YYYY-MM-DD``."""
    try:
        if not isinstance(value, str) or len(value.strip()) != 10:
            raise ValueError(value)
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"declared date {value!r} must be a date YYYY-MM-DD") from None


def item_rate(rules: FinanceRules, item: str) -> Decimal:
    """The one rate of ``item`` under ``rules`` (the 2 % of the Trade Union Law for 01 by
    default); an item whose rule allows a range or any rate has no expected amount."""
    rate = rules.rule_for(item).rate
    if rate is None or rate.low != rate.high:
        allowed = "any rate" if rate is None else f"the range {rate}"
        raise InvalidInput(
            f"item {item} allows {allowed}, not one rate: configure its rate in receipts.toml "
            f'[rules.items."{item}"] rate (docs/arrears.md) to compute expected amounts'
        )
    return rate.low


def expected_fen(wage_fen: int, rate: Decimal) -> int:
    """The expected amount in fen: wage bill × rate, rounded half up to the fen, as a receipt's
    base × rate is (receipts.domain.money.compute_amount: yuan × rate to 0.01 half up is fen ×
    rate to a whole number half up; computed on fen here, exactly, without parsing)."""
    if wage_fen < 0:
        raise InvalidInput(f"a wage bill cannot be negative ({from_fen(wage_fen)})")
    return int((Decimal(wage_fen) * rate).to_integral_value(rounding=ROUND_HALF_UP))


def _payload(declaration: WageDeclaration, supersedes: int | None) -> dict[str, Any]:
    return {
        "uscc": declaration.uscc,
        "period": declaration.period.text,
        "wage": str(declaration.wage),
        "declared_on": declaration.declared_on.isoformat(),
        "source": declaration.source,
        "supersedes": supersedes,
        "reason": declaration.reason if supersedes is not None else None,
    }


def _current_rows(session: Session, usccs: set[str]) -> dict[str, list[WageDeclarationRow]]:
    """USCC → its current declarations (those no other supersedes)."""
    if not usccs:
        return {}
    query = select(WageDeclarationRow).order_by(WageDeclarationRow.event_seq)
    if len(usccs) <= _IN_LIST:
        query = query.where(WageDeclarationRow.uscc.in_(sorted(usccs)))
    rows = [row for row in session.scalars(query) if row.uscc in usccs]
    replaced = {row.supersedes for row in rows if row.supersedes is not None}
    out: dict[str, list[WageDeclarationRow]] = {}
    for row in rows:
        if row.event_seq not in replaced:
            out.setdefault(row.uscc, []).append(row)
    return out


def declaration_conflict(
    current: list[WageDeclarationRow], declaration: WageDeclaration
) -> tuple[str, str] | None:
    """Why ``declaration`` cannot be stored beside a payer's ``current`` ones, as (column,
    why), or None: a period overlapping another declared period, or a different figure for a
    declared period without a reason."""
    for row in current:
        if row.period == declaration.period.text:
            if declaration.same_figures(row) or declaration.reason is not None:
                return None
            return (
                "reason",
                f"{declaration.uscc} declared {from_fen(row.wage_fen)} for {row.period} "
                f"already (event {row.event_seq}); a correction needs a reason",
            )
        other = parse_payment_period(row.period)
        if (
            other.first_month <= declaration.period.last_month
            and declaration.period.first_month <= other.last_month
        ):
            return (
                "period",
                f"{declaration.period.text} overlaps {row.period}, declared for "
                f"{declaration.uscc} already (event {row.event_seq}); correct that declaration",
            )
    return None


def declare_wages(
    db: Database,
    declarations: list[WageDeclaration],
    signer: HeadSigner | None,
    today: date,
) -> tuple[int, int, int]:
    """Store ``declarations`` in one transaction, all or nothing; returns (declared, corrected,
    unchanged). A payer must be registered; a declaration dated after ``today`` (the issuer's
    calendar), overlapping another declared period, or correcting one without a reason refuses
    them all (:class:`InvalidInput`, the first problem)."""
    counts = [0, 0, 0]
    with db.write() as (session, state):
        for problem in declaration_problems(session, declarations, today):
            raise InvalidInput(problem[2])
        current = _current_rows(session, {d.uscc for d in declarations})
        for declaration in declarations:
            rows = current.setdefault(declaration.uscc, [])
            earlier = next((r for r in rows if r.period == declaration.period.text), None)
            if earlier is not None and declaration.same_figures(earlier):
                counts[2] += 1
                continue
            row = _store(session, state, declaration, earlier)
            if earlier is not None:
                rows.remove(earlier)
            rows.append(row)
            counts[0 if earlier is None else 1] += 1
        if counts[0] or counts[1]:
            sign_head(session, state, signer)
    return counts[0], counts[1], counts[2]


def declaration_problems(
    session: Session, declarations: list[WageDeclaration], today: date
) -> list[tuple[int, str, str]]:
    """Every problem of ``declarations`` against the ledger and each other, as (index in the
    list, column, why); the file readers name the row from the index."""
    out: list[tuple[int, str, str]] = []
    usccs = {d.uscc for d in declarations}
    query = select(PayerRow.uscc)
    if len(usccs) <= _IN_LIST:
        query = query.where(PayerRow.uscc.in_(sorted(usccs)))
    registered = set(session.scalars(query)) & usccs
    current = _current_rows(session, usccs)
    seen: set[tuple[str, str]] = set()
    earlier: dict[str, list[WageDeclaration]] = {}
    for n, declaration in enumerate(declarations):
        if declaration.uscc not in registered:
            why = f"payer {declaration.uscc} is not registered; add it with receipts payer add"
            out.append((n, "uscc", why))
            continue
        if declaration.declared_on > today:
            why = f"declared date {declaration.declared_on} is after today ({today})"
            out.append((n, "declared_on", why))
        key = (declaration.uscc, declaration.period.text)
        if key in seen:
            why = f"{key[0]} {key[1]} is declared twice in this input"
            out.append((n, "period", why))
            continue
        seen.add(key)
        conflict = declaration_conflict(current.get(declaration.uscc, []), declaration)
        if conflict is None:
            conflict = _overlap_in_input(earlier.get(declaration.uscc, []), declaration)
        earlier.setdefault(declaration.uscc, []).append(declaration)
        if conflict is not None:
            out.append((n, *conflict))
    return out


def _overlap_in_input(
    earlier: list[WageDeclaration], declaration: WageDeclaration
) -> tuple[str, str] | None:
    """Whether ``declaration`` overlaps one of its payer's ``earlier`` ones in the same input."""
    for other in earlier:
        if (
            other.period.text != declaration.period.text
            and other.period.first_month <= declaration.period.last_month
            and declaration.period.first_month <= other.period.last_month
        ):
            return ("period", f"{declaration.period.text} overlaps {other.period.text} above")
    return None


def _store(
    session: Session,
    state: LedgerState,
    declaration: WageDeclaration,
    earlier: WageDeclarationRow | None,
) -> WageDeclarationRow:
    supersedes = None if earlier is None else earlier.event_seq
    # The event's seq is set when it is made; the flush at commit inserts the events before the
    # rows that reference them (the unit of work orders tables by their foreign keys).
    event = append_event(session, state, WAGES_EVENT, _payload(declaration, supersedes))
    row = WageDeclarationRow(
        event_seq=event.seq,
        uscc=declaration.uscc,
        period=declaration.period.text,
        wage_fen=to_fen(declaration.wage),
        declared_on=declaration.declared_on,
        source=declaration.source,
        supersedes=supersedes,
        reason=declaration.reason if supersedes is not None else None,
    )
    session.add(row)
    return row


def _record(row: WageDeclarationRow, replaced: set[int]) -> DeclarationRecord:
    return DeclarationRecord(
        row.event_seq,
        row.uscc,
        row.period,
        from_fen(row.wage_fen),
        row.declared_on,
        row.source,
        row.supersedes,
        row.reason,
        row.event_seq not in replaced,
    )


def wage_history(db: Database, uscc: str) -> list[DeclarationRecord]:
    """Every declaration of ``uscc``, superseded ones included, in the order recorded."""
    uscc = validate_uscc(uscc)
    with db.read() as session:
        rows = list(
            session.scalars(
                select(WageDeclarationRow)
                .where(WageDeclarationRow.uscc == uscc)
                .order_by(WageDeclarationRow.event_seq)
            )
        )
    replaced = {r.supersedes for r in rows if r.supersedes is not None}
    return [_record(r, replaced) for r in rows]


def current_declarations(session: Session) -> list[DeclarationRecord]:
    """Every payer's current declarations, by USCC then period (read as plain rows, not ORM
    objects: a report reads one per payer and month)."""
    table = WageDeclarationRow.__table__
    rows = session.execute(select(table).order_by(table.c.event_seq)).all()
    replaced = {r.supersedes for r in rows if r.supersedes is not None}
    current = [
        DeclarationRecord(
            r.event_seq,
            r.uscc,
            r.period,
            from_fen(r.wage_fen),
            r.declared_on,
            r.source,
            r.supersedes,
            r.reason,
            True,
        )
        for r in rows
        if r.event_seq not in replaced
    ]
    return sorted(current, key=lambda r: (r.uscc, r.first_month, r.event_seq))
