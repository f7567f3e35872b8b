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

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.enums import OperatorRole
from receipts.errors import InvalidInput, NotPermitted
from receipts.ledger.events import append_event, event_hash, rfc3339
from receipts.ledger.models import Event, LedgerState, OperatorRow

__all__ = [
    "ADDED",
    "DISABLED",
    "SECRET_CHANGED",
    "Operator",
    "OperatorRole",
    "add_operator",
    "change_slot",
    "check_handler_and_reviewer",
    "check_operator_name",
    "disable_operator",
    "find_operator",
    "handler_and_reviewer_problems",
    "has_operators",
    "list_operators",
    "require_reviewer",
    "require_role",
    "same_name",
]

ADDED = "operator.added"
"""Event kind: an operator with a role and a pinned key slot."""
DISABLED = "operator.disabled"
"""Event kind: an operator who may no longer act (their slot is removed)."""
SECRET_CHANGED = "operator.secret-changed"  # noqa: S105 - an event kind
"""Event kind: an operator's new key slot (they changed their own secret)."""

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


@dataclass(frozen=True)
class _Record:
    operator: Operator
    slot: str


def _records(session: Session) -> dict[str, _Record]:
    """Every operator as the ``operator.*`` events make them, each event's hash recomputed:
    a role, slot pin or state edited in the database (table or event) is refused here, before
    ``receipts audit`` reports it."""
    records: dict[str, _Record] = {}
    kinds = (ADDED, DISABLED, SECRET_CHANGED)
    query = select(Event).where(Event.kind.in_(kinds)).order_by(Event.seq)
    for event in session.scalars(query):
        recomputed = event_hash(
            event.prev_hash, event.seq, rfc3339(event.at), event.kind, event.payload, event.operator
        )
        if recomputed != event.hash:
            raise NotPermitted(
                f"event {event.seq} ({event.kind}) was altered: the ledger's record of its "
                "operators cannot be trusted; run 'receipts audit'"
            )
        facts = json.loads(event.payload)
        name = str(facts["name"])
        if event.kind == ADDED:
            added = Operator(name, OperatorRole(facts["role"]), True)
            records[name] = _Record(added, str(facts["slot"]))
        elif name in records and event.kind == SECRET_CHANGED:
            records[name] = _Record(records[name].operator, str(facts["slot"]))
        elif name in records:
            was = records[name]
            records[name] = _Record(replace(was.operator, active=False), was.slot)
    return records


def find_operator(session: Session, name: str) -> Operator | None:
    """The operator called ``name`` (active or disabled), None when the ledger has none. The
    event log decides, not the ``operators`` table (a cache)."""
    record = _records(session).get(name)
    return None if record is None else record.operator


def list_operators(session: Session) -> list[Operator]:
    """Every operator the ledger knows, in the order they were added."""
    return [record.operator for record in _records(session).values()]


def has_operators(session: Session) -> bool:
    """Whether the workspace has left legacy mode (it has had an operator, even a disabled one);
    asked of the events, so deleting the table's rows does not bring legacy mode back."""
    query = select(Event.seq).where(Event.kind == ADDED).limit(1)
    return session.scalars(query).first() is not None


def slot_fingerprint(session: Session, name: str) -> str | None:
    """The SHA-256 of the key slot the ledger pinned for ``name`` (None: no such operator)."""
    record = _records(session).get(name)
    return None if record is None else record.slot


def add_operator(
    session: Session, state: LedgerState, name: str, role: OperatorRole, slot: str
) -> Event:
    """Record a new operator (event and cache row); a name once used is refused."""
    check_operator_name(name)
    existing = find_operator(session, name)
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
    operators = list_operators(session)
    target = next((o for o in operators if o.name == name), None)
    if target is None:
        raise InvalidInput(f"{name} is not an operator of this workspace")
    if not target.active:
        raise InvalidInput(f"{name} is disabled already")
    admins = [o for o in operators if o.active and o.role is OperatorRole.ADMIN]
    if target.role is OperatorRole.ADMIN and len(admins) <= 1:
        raise NotPermitted(f"{name} is the last active admin; add another admin first")
    event = append_event(session, state, DISABLED, {"name": name})
    session.flush()
    row = session.get(OperatorRow, name)
    if row is not None:
        row.active = False
        row.disabled_seq = event.seq
    return event


def change_slot(session: Session, state: LedgerState, name: str, slot: str) -> Event:
    """Record ``name``'s new key slot (their own new secret); only an active operator."""
    operator = find_operator(session, name)
    if operator is None or not operator.active:
        raise NotPermitted(f"{name} is not an active operator of this workspace")
    event = append_event(session, state, SECRET_CHANGED, {"name": name, "slot": slot})
    row = session.get(OperatorRow, name)
    if row is not None:
        row.slot = slot
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


def same_name(first: str, second: str) -> bool:
    """Whether two names are one person's: equal once case and full-width forms are ignored."""

    def key(name: str) -> str:
        return unicodedata.normalize("NFKC", name).casefold().strip()

    return key(first) == key(second)


def require_reviewer(
    session: Session, name: str | None, handler: Operator, *, what: str = "reviewer"
) -> Operator:
    """The active reviewer ``name``, who must not be ``handler`` (the two-person rule):
    ``reviewer must be an operator other than the handler 张晓梅``."""
    if not name or same_name(name, handler.name):
        raise NotPermitted(f"{what} must be an operator other than the handler {handler.name}")
    reviewer = find_operator(session, name)
    if reviewer is None:
        raise NotPermitted(f"{what} {name} is not an operator of this workspace")
    require_role(reviewer, OperatorRole.REVIEWER, action=f"acting as {what}")
    return reviewer


def names(operators: Iterable[Operator]) -> list[str]:
    """The operators' names (for messages)."""
    return [o.name for o in operators]


def check_handler_and_reviewer(
    session: Session, operator: Operator, handler: str, reviewer: str
) -> None:
    """A receipt's 开票人 and 复核人 in a workspace with operators: the handler is ``operator``,
    the authenticated clerk, and the reviewer an active reviewer other than them."""
    require_role(operator, OperatorRole.CLERK, action="issuing receipts")
    if not same_name(handler, operator.name):
        raise NotPermitted(
            f"the handler (开票人) is the operator who issues, {operator.name}, not {handler}"
        )
    require_reviewer(session, reviewer, operator)


def handler_and_reviewer_problems(
    session: Session, operator: Operator, rows: Iterable[tuple[str, str, str]]
) -> list[str]:
    """:func:`check_handler_and_reviewer` for each ``(where, handler, reviewer)`` of a batch:
    every row that breaks it, as ``where: rule``."""
    problems = []
    for where, handler, reviewer in rows:
        try:
            check_handler_and_reviewer(session, operator, handler, reviewer)
        except NotPermitted as exc:
            problems.append(f"{where}: {exc}")
    return problems
