"""Named operators of a workspace and their roles (docs/security.md, "Operators and key slots").

The ledger is the authority: an operator exists, with one role, because an ``operator.added``
event in the hash-chained, signed event log says so, and stops acting once an
``operator.disabled`` event does. The ``operators`` table is a cache of those events, which
``receipts audit`` re-derives. A key slot (:mod:`receipts.pki.key_slots`) only proves that
whoever types a secret is the operator it names; it never grants a role.

A workspace without operators (legacy mode) has no roles at all: :func:`require_role` lets every
action through, as before operators existed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.enums import OperatorRole
from receipts.errors import InvalidInput, NotPermitted
from receipts.ledger.events import append_event
from receipts.ledger.models import Event, LedgerState, OperatorRow

__all__ = [
    "ADDED",
    "DISABLED",
    "Operator",
    "OperatorRole",
    "add_operator",
    "check_operator_name",
    "disable_operator",
    "find_operator",
    "has_operators",
    "list_operators",
    "require_reviewer",
    "require_role",
]

ADDED = "operator.added"
"""Event kind: an operator with a role and a pinned key slot."""
DISABLED = "operator.disabled"
"""Event kind: an operator who may no longer act (their slot is removed)."""

_NAME = re.compile(r"^[^\x00-\x1f\x7f/\\:*?\"<>|]{1,40}$")

_ARTICLE = {
    OperatorRole.CLERK: "a clerk",
    OperatorRole.REVIEWER: "a reviewer",
    OperatorRole.AUDITOR: "an auditor",
    OperatorRole.ADMIN: "an admin",
}


@dataclass(frozen=True)
class Operator:
    """A named operator as the ledger knows them."""

    name: str
    """Unique in the workspace, for ever (a disabled name is never given again)."""
    role: OperatorRole
    """What they may do."""
    active: bool
    """False once disabled."""

    def describe(self) -> str:
        """``王芳 (auditor)``."""
        return f"{self.name} ({self.role.value})"


def check_operator_name(name: str) -> str:
    """A name of 1 to 40 characters, no control characters and nothing a file name cannot hold
    (the name also names the operator's slot file)."""
    cleaned = name.strip()
    if cleaned != name or not _NAME.match(name) or name.startswith("."):
        raise InvalidInput(
            f"operator name {name!r} is not acceptable: 1 to 40 characters, no control "
            'characters, no / \\ : * ? " < > |, no leading dot or spaces'
        )
    return name


def _operator(row: OperatorRow) -> Operator:
    return Operator(row.name, OperatorRole(row.role), bool(row.active))


def find_operator(session: Session, name: str) -> Operator | None:
    """The operator called ``name`` (active or disabled), None when the ledger has none."""
    row = session.get(OperatorRow, name)
    return None if row is None else _operator(row)


def list_operators(session: Session) -> list[Operator]:
    """Every operator the ledger knows, in the order they were added."""
    rows = session.scalars(select(OperatorRow).order_by(OperatorRow.added_seq))
    return [_operator(row) for row in rows]


def has_operators(session: Session) -> bool:
    """Whether the workspace has left legacy mode (it has had an operator, even a disabled one)."""
    return session.scalars(select(OperatorRow.name).limit(1)).first() is not None


def slot_fingerprint(session: Session, name: str) -> str | None:
    """The SHA-256 of the key slot the ledger pinned for ``name`` (None: no such operator)."""
    row = session.get(OperatorRow, name)
    return None if row is None else row.slot


def add_operator(
    session: Session, state: LedgerState, name: str, role: OperatorRole, slot: str
) -> Event:
    """Record a new operator (event and cache row); a name once used is refused."""
    check_operator_name(name)
    existing = session.get(OperatorRow, name)
    if existing is not None:
        what = "an operator" if existing.active else "a disabled operator (names are not reused)"
        raise InvalidInput(f"{name} is already {what}")
    if not has_operators(session) and role is not OperatorRole.ADMIN:
        raise NotPermitted(f"the first operator must be an admin, not {_ARTICLE[role]}")
    event = append_event(session, state, ADDED, {"name": name, "role": role.value, "slot": slot})
    session.flush()
    session.add(
        OperatorRow(
            name=name,
            role=role.value,
            active=True,
            slot=slot,
            added_seq=event.seq,
            disabled_seq=None,
        )
    )
    return event


def disable_operator(session: Session, state: LedgerState, name: str) -> Event:
    """Record that ``name`` may no longer act; the last active admin cannot be disabled."""
    row = session.get(OperatorRow, name)
    if row is None:
        raise InvalidInput(f"{name} is not an operator of this workspace")
    if not row.active:
        raise InvalidInput(f"{name} is disabled already")
    if row.role == OperatorRole.ADMIN.value:
        admins = session.scalars(
            select(OperatorRow.name).where(
                OperatorRow.role == OperatorRole.ADMIN.value, OperatorRow.active.is_(True)
            )
        ).all()
        if len(admins) <= 1:
            raise NotPermitted(f"{name} is the last active admin; add another admin first")
    event = append_event(session, state, DISABLED, {"name": name})
    session.flush()
    row.active = False
    row.disabled_seq = event.seq
    return event


def article(role: OperatorRole) -> str:
    """``a clerk``, ``an auditor``."""
    return _ARTICLE[role]


def require_role(operator: Operator | None, *roles: OperatorRole, action: str) -> None:
    """Refuse ``action`` (``"issuing receipts"``) unless ``operator`` has one of ``roles``.

    ``operator`` None is a workspace without operators (legacy mode): everything is allowed, as
    before. The refusal is one line: ``王芳 is an auditor; issuing receipts needs a clerk``.
    """
    if operator is None:
        return
    if not operator.active:
        raise NotPermitted(f"{operator.name} is disabled; {action} needs an active operator")
    if operator.role in roles:
        return
    wanted = [_ARTICLE[r] for r in roles]
    needed = wanted[0] if len(wanted) == 1 else f"{', '.join(wanted[:-1])} or {wanted[-1]}"
    raise NotPermitted(f"{operator.name} is {_ARTICLE[operator.role]}; {action} needs {needed}")


def require_reviewer(
    session: Session, name: str | None, handler: Operator, *, what: str = "reviewer"
) -> Operator:
    """The active reviewer ``name``, who must not be ``handler`` (the two-person rule):
    ``reviewer must be an operator other than the handler 张晓梅``."""
    if not name or name == handler.name:
        raise NotPermitted(f"{what} must be an operator other than the handler {handler.name}")
    reviewer = find_operator(session, name)
    if reviewer is None:
        raise NotPermitted(f"{what} {name} is not an operator of this workspace")
    require_role(reviewer, OperatorRole.REVIEWER, action=f"acting as {what}")
    return reviewer


def names(operators: Iterable[Operator]) -> list[str]:
    """The operators' names (for messages)."""
    return [o.name for o in operators]
