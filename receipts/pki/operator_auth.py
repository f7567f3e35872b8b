"""Who is acting: an operator named on the command line, proved by their own secret against their
key slot, with the role the ledger gives them (docs/security.md, "Operators and key slots").

The command layer calls :func:`authenticate` at most once per command, and only when it needs to
know (a write, the signing key, a role check); a workspace without operators answers None
without asking for anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from receipts.domain.enums import OperatorRole
from receipts.errors import NotPermitted
from receipts.ledger.database import Database
from receipts.pki.key_slots import open_slot, volume_passphrase
from receipts.pki.operators import Operator, find_operator, has_operators, require_role
from receipts.pki.operators import slot_fingerprint as pinned_slot

__all__ = ["Authenticated", "authenticate", "writer_of"]

NO_OPERATOR = (
    "this workspace has operators: say who you are with --operator NAME (or RECEIPTS_OPERATOR)"
)


@dataclass(frozen=True)
class Authenticated:
    """An operator who proved their identity for this command."""

    operator: Operator
    """Who, with the role the ledger gives them."""
    volume_key: bytes | None
    """The unwrapped volume key; None for an auditor (whose slot proves identity only)."""

    def key_passphrase(self) -> str:
        """The signing key's PKCS#8 passphrase; an auditor is refused."""
        require_role(
            self.operator,
            OperatorRole.CLERK,
            OperatorRole.REVIEWER,
            OperatorRole.ADMIN,
            action="using the signing key",
        )
        if self.volume_key is None:  # pragma: no cover - a non-auditor slot holds the key
            raise NotPermitted(f"the key slot of {self.operator.name} holds no volume key")
        return volume_passphrase(self.volume_key)


def authenticate(
    db: Database, keys_dir: Path, name: str | None, secret: Callable[[str], str]
) -> Authenticated | None:
    """The operator ``name`` once ``secret(name)`` opened their slot; None when the workspace
    has no operators (legacy mode). Refused: no name given, an unknown or disabled operator, a
    slot that is missing or not the one the ledger pinned, a wrong secret."""
    with db.read() as session:
        if not has_operators(session):
            return None
        if name is None:
            raise NotPermitted(NO_OPERATOR)
        operator = find_operator(session, name)
        pinned = pinned_slot(session, name)
    if operator is None or pinned is None:
        raise NotPermitted(f"{name} is not an operator of this workspace")
    if not operator.active:
        raise NotPermitted(f"{name} is disabled and may no longer act")
    unlocked = open_slot(keys_dir, name, operator.role, secret(name), pinned)
    return Authenticated(operator, unlocked.volume_key)


def writer_of(auth: Authenticated | None) -> str | None:
    """Who a write is recorded as; an auditor never writes the ledger."""
    if auth is None:
        return None
    require_role(
        auth.operator,
        OperatorRole.CLERK,
        OperatorRole.REVIEWER,
        OperatorRole.ADMIN,
        action="writing the ledger",
    )
    return auth.operator.name
