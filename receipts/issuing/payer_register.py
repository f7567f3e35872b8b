"""The payer register (docs/operations.md, "The payer register"): payers by USCC, one current name
each with every earlier name and its effective time, the payer's kind, its grassroots union's
USCC and a delivery email.

The events are the truth (``payer.registered``, ``payer.renamed``, ``payer.updated``); the
``payers`` and ``payer_names`` tables are their cache, re-derived by ``receipts audit``
(:mod:`receipts.audit.payers`). Issuing holds each payer's USCC against the register
(:func:`payer_mismatch`): a known USCC under another name is refused before a number is taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.enums import PayerKind
from receipts.domain.identifiers import validate_uscc
from receipts.domain.model import Payer, check_text
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import LedgerState, PayerNameRow, PayerRow

__all__ = [
    "NameChange",
    "PayerEntry",
    "PayerMismatch",
    "apply_entries",
    "check_payers",
    "entry_conflict",
    "list_payers",
    "mismatch_check",
    "payer_history",
    "payer_mismatch",
    "register_payer",
    "registered_rows",
    "rename_payer",
    "update_payer",
    "validate_email",
    "validate_union_uscc",
]

#: A strict, ASCII-only address (docs/operations.md): a dot-atom local part of at most 64
#: characters, and a domain of at least two labels of letters, digits and inner hyphens, the
#: last all letters. Quoted local parts, IP literals and internationalised (IDN) addresses are
#: refused rather than guessed at.
_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)

#: GB 32100-2015: registration department 8 is 工会 (trade unions), institution category 1 is
#: 基层工会 (a grassroots union); 89 (其他) is any other union body.
_GRASSROOTS_UNION_PREFIX = "81"


class PayerMismatch(InvalidInput):
    """A receipt names a registered USCC under another name."""


@dataclass(frozen=True)
class PayerEntry:
    """One payer of the register, validated."""

    uscc: str
    """统一社会信用代码, compact upper case."""
    name: str
    """Current name, 1-100 characters."""
    kind: PayerKind
    """Enterprise, institution, grassroots union..."""
    union_uscc: str | None = None
    """The USCC of its grassroots union (81…), when it has one."""
    email: str | None = None
    """Where its receipts are delivered."""

    @classmethod
    def of(
        cls,
        uscc: str,
        name: str,
        kind: str,
        union_uscc: str | None = None,
        email: str | None = None,
    ) -> PayerEntry:
        """Validate every field; :class:`InvalidInput` names the first bad one."""
        return cls(
            validate_uscc(uscc),
            check_text(name, "payer name", maximum=100),
            PayerKind(kind),
            None if union_uscc is None else validate_union_uscc(union_uscc),
            None if email is None else validate_email(email),
        )

    def payload(self) -> dict[str, Any]:
        """The ``payer.registered`` event's payload."""
        return {
            "uscc": self.uscc,
            "name": self.name,
            "kind": self.kind.value,
            "union_uscc": self.union_uscc,
            "email": self.email,
        }


@dataclass(frozen=True)
class NameChange:
    """One name a payer had from ``effective_at`` on."""

    name: str
    effective_at: datetime
    reason: str | None
    event_seq: int


def validate_email(value: str) -> str:
    """``value`` if it is a strict ASCII email address (see :data:`_EMAIL`)."""
    if not isinstance(value, str) or len(value) > 254:
        raise InvalidInput(f"email {value!r} must be text of at most 254 characters")
    found = _EMAIL.fullmatch(value)
    if found is None or len(found.group("local")) > 64:
        raise InvalidInput(f"email {value!r} is not an address like name@example.cn (ASCII only)")
    return value


def validate_union_uscc(value: str) -> str:
    """A grassroots union's USCC: valid, and registered by a union (GB 32100 prefix 81)."""
    uscc = validate_uscc(value)
    if not uscc.startswith(_GRASSROOTS_UNION_PREFIX):
        raise InvalidInput(
            f"union USCC {uscc} must begin with 81 (registered by a trade union as a "
            "grassroots union, GB 32100)"
        )
    return uscc


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _known(session: Session, uscc: str) -> PayerRow:
    row = session.get(PayerRow, uscc)
    if row is None:
        raise InvalidInput(f"payer {uscc} is not registered; add it with receipts payer add")
    return row


def _register(session: Session, state: LedgerState, entry: PayerEntry) -> None:
    at = _now()
    event = append_event(session, state, "payer.registered", entry.payload(), at)
    session.flush()
    session.add(
        PayerRow(
            uscc=entry.uscc,
            name=entry.name,
            kind=entry.kind.value,
            union_uscc=entry.union_uscc,
            email=entry.email,
            event_seq=event.seq,
        )
    )
    session.add(
        PayerNameRow(event_seq=event.seq, uscc=entry.uscc, name=entry.name, effective_at=at)
    )


def _rename(session: Session, state: LedgerState, row: PayerRow, name: str, reason: str) -> None:
    at = _now()
    payload = {"uscc": row.uscc, "name": name, "previous": row.name, "reason": reason}
    event = append_event(session, state, "payer.renamed", payload, at)
    session.flush()
    row.name = name
    row.event_seq = event.seq
    session.add(
        PayerNameRow(event_seq=event.seq, uscc=row.uscc, name=name, effective_at=at, reason=reason)
    )


def _update(
    session: Session, state: LedgerState, row: PayerRow, email: str | None, union: str | None
) -> None:
    payload = {"uscc": row.uscc, "email": email, "union_uscc": union}
    event = append_event(session, state, "payer.updated", payload, _now())
    session.flush()
    row.email, row.union_uscc, row.event_seq = email, union, event.seq


def register_payer(db: Database, entry: PayerEntry, signer: HeadSigner | None) -> None:
    """Add ``entry``; refused when its USCC is registered already."""
    with db.write() as (session, state):
        earlier = session.get(PayerRow, entry.uscc)
        if earlier is not None:
            raise InvalidInput(f"payer {entry.uscc} is registered already, as {earlier.name}")
        _register(session, state, entry)
        sign_head(session, state, signer)


def rename_payer(db: Database, uscc: str, name: str, reason: str, signer: HeadSigner | None) -> str:
    """Give a registered payer a new current name (the old one stays in its history); returns
    the previous name."""
    uscc = validate_uscc(uscc)
    check_text(name, "payer name", maximum=100)
    check_text(reason, "reason", maximum=200)
    with db.write() as (session, state):
        row = _known(session, uscc)
        previous = row.name
        if previous == name:
            raise InvalidInput(f"payer {uscc} is registered as {name} already")
        _rename(session, state, row, name, reason)
        sign_head(session, state, signer)
    return previous


_KEEP: Any = object()


def update_payer(
    db: Database,
    uscc: str,
    signer: HeadSigner | None,
    *,
    email: str | None = _KEEP,
    union_uscc: str | None = _KEEP,
) -> None:
    """Change a registered payer's email and/or grassroots union (None clears one)."""
    uscc = validate_uscc(uscc)
    if email is not _KEEP and email is not None:
        validate_email(email)
    if union_uscc is not _KEEP and union_uscc is not None:
        union_uscc = validate_union_uscc(union_uscc)
    with db.write() as (session, state):
        row = _known(session, uscc)
        new_email = row.email if email is _KEEP else email
        new_union = row.union_uscc if union_uscc is _KEEP else union_uscc
        if (new_email, new_union) != (row.email, row.union_uscc):
            _update(session, state, row, new_email, new_union)
            sign_head(session, state, signer)


def apply_entries(
    db: Database, entries: list[PayerEntry], signer: HeadSigner | None
) -> tuple[int, int, int]:
    """Register new USCCs and update the email and union of known ones, in one transaction;
    returns (registered, updated, unchanged). Callers refuse a file whose rows conflict with the
    register first (:func:`entry_conflict`); a conflict found here still refuses it whole."""
    counts = [0, 0, 0]
    with db.write() as (session, state):
        for entry in entries:
            row = session.get(PayerRow, entry.uscc)
            if row is None:
                _register(session, state, entry)
                counts[0] += 1
                continue
            conflict = entry_conflict(row, entry)
            if conflict is not None:
                raise InvalidInput(conflict)
            if (entry.email, entry.union_uscc) != (row.email, row.union_uscc):
                _update(session, state, row, entry.email, entry.union_uscc)
                counts[1] += 1
            else:
                counts[2] += 1
        if counts[0] or counts[1]:
            sign_head(session, state, signer)
    return counts[0], counts[1], counts[2]


def entry_conflict(row: PayerRow, entry: PayerEntry) -> str | None:
    """Why ``entry`` cannot update the registered ``row`` (a new name or kind), or None."""
    if row.name != entry.name:
        return (
            f"payer {row.uscc} is registered as {row.name}, not {entry.name}; rename it first "
            "with receipts payer rename"
        )
    if row.kind != entry.kind.value:
        return f"payer {row.uscc} is registered as kind {row.kind}, not {entry.kind.value}"
    return None


def list_payers(db: Database) -> list[PayerEntry]:
    """Every registered payer, by USCC."""
    with db.read() as session:
        return [_entry(row) for row in session.scalars(select(PayerRow).order_by(PayerRow.uscc))]


def registered_rows(session: Session, usccs: set[str]) -> dict[str, PayerRow]:
    """The register's rows of ``usccs`` (those registered)."""
    if not usccs:
        return {}
    rows = session.scalars(select(PayerRow).where(PayerRow.uscc.in_(sorted(usccs))))
    return {row.uscc: row for row in rows}


def payer_history(db: Database, uscc: str) -> tuple[PayerEntry, list[NameChange]]:
    """A registered payer and its names, oldest first."""
    uscc = validate_uscc(uscc)
    with db.read() as session:
        row = _known(session, uscc)
        names = session.scalars(
            select(PayerNameRow).where(PayerNameRow.uscc == uscc).order_by(PayerNameRow.event_seq)
        )
        return _entry(row), [
            NameChange(n.name, n.effective_at, n.reason, n.event_seq) for n in names
        ]


def _entry(row: PayerRow) -> PayerEntry:
    return PayerEntry(row.uscc, row.name, PayerKind(row.kind), row.union_uscc, row.email)


def payer_mismatch(registered: PayerRow | None, payer: Payer) -> str | None:
    """Why issuing to ``payer`` is refused by the register, or None.

    A USCC not in the register is accepted (docs/operations.md: the register is built up over
    time, and a first receipt to a new payer must not wait for it); a registered one must carry
    its current name.
    """
    if registered is None or registered.name == payer.name:
        return None
    return (
        f"payer {registered.uscc} is registered as {registered.name}, not {payer.name}; "
        "rename it first with receipts payer rename"
    )


def mismatch_check(db: Database, payers: list[Payer]) -> Callable[[Payer], str | None]:
    """:func:`payer_mismatch` against the register as it is now, for ``payers`` (a batch's,
    checked row by row before anything is issued: receipts.batch.rules.payer_problems)."""
    with db.read() as session:
        rows = registered_rows(session, {p.uscc for p in payers if p.uscc is not None})
    return lambda payer: None if payer.uscc is None else payer_mismatch(rows.get(payer.uscc), payer)


def check_payers(session: Session, payers: list[Payer]) -> None:
    """Refuse (:class:`PayerMismatch`) the first payer the register contradicts."""
    rows = registered_rows(session, {p.uscc for p in payers if p.uscc is not None})
    for payer in payers:
        if payer.uscc is not None:
            why = payer_mismatch(rows.get(payer.uscc), payer)
            if why is not None:
                raise PayerMismatch(why)
