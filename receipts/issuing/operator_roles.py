"""Who may act, by name: the two-person workflows (:mod:`receipts.issuing.reversal_requests`,
:mod:`receipts.issuing.batch_approval`) know operators by name and ask the ledger's operator
registry (:mod:`receipts.pki.operators`) for their role, inside their own transaction.

A workspace without operators (legacy mode) has no roles: every name may act, and only the
two-person rule itself (two different names) still holds.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy.orm import Session

from receipts.domain.enums import OperatorRole
from receipts.errors import NotPermitted
from receipts.ledger.events import OPERATOR
from receipts.pki import operators

__all__ = ["require_actor", "require_role", "same_person"]


def require_role(session: Session, name: str, action: str, *roles: OperatorRole) -> None:
    """Refuse ``action`` unless ``name`` is an active operator with one of ``roles`` (always
    allowed in a workspace without operators); the refusal is one line naming the rule."""
    require_actor(session, name)
    if not operators.has_operators(session):
        return
    operator = operators.find_operator(session, name)
    if operator is None:
        raise NotPermitted(f"{name} is not an operator of this workspace; {action} needs one")
    operators.require_role(operator, *roles, action=action)


def require_actor(session: Session, name: str) -> None:
    """Refuse a write transaction whose authenticated operator (recorded on its events) is not
    ``name``: nobody acts, approves or rejects under another operator's name."""
    writer = session.info.get(OPERATOR)
    if isinstance(writer, str) and not same_person(writer, name):
        raise NotPermitted(f"{writer} is signed in; {writer} cannot act as {name}")


def same_person(first: str, second: str) -> bool:
    """Whether two names are one person's: equal once case and full-width forms are ignored
    (``Zhang`` and ``ｚｈａｎｇ`` are one name to the two-person rules)."""

    def key(name: str) -> str:
        return unicodedata.normalize("NFKC", name).casefold()

    return key(first) == key(second)
