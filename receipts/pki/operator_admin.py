"""Adding and disabling operators: the ledger event and the key slot together
(docs/security.md, "Operators and key slots"; docs/operations.md, "Operators").

The first operator of a workspace is an admin added with the workspace passphrase (legacy mode):
a random volume key is made, wrapped into the admin's slot, and the signing key file is
re-encrypted under it, so from then on the passphrase opens nothing. Later operators are added
by an authenticated admin, whose slot gives the volume key to wrap for them (an auditor's slot
wraps none). Disabling an operator records an event and deletes their slot; nothing is re-keyed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from receipts.domain.enums import OperatorRole
from receipts.errors import NotPermitted
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, sign_head
from receipts.pki.credentials import Credentials
from receipts.pki.key_slots import (
    fingerprint,
    make_slot,
    new_volume_key,
    remove_slot,
    slot_path,
    volume_passphrase,
    write_slot,
)
from receipts.pki.operator_auth import Authenticated
from receipts.pki.operators import (
    add_operator,
    article,
    change_slot,
    check_operator_name,
    disable_operator,
    find_operator,
    has_operators,
    require_role,
)
from receipts.support.atomic import PRIVATE, write_atomic
from signing.keys import check_new_passphrase, key_to_pem

__all__ = ["AddedOperator", "add", "change_secret", "disable"]


@dataclass(frozen=True)
class AddedOperator:
    """What ``operator add`` did."""

    name: str
    """The new operator."""
    role: OperatorRole
    """Their role."""
    slot: Path
    """Their key slot file."""
    first: bool
    """True for the first operator: the signing key is now under the volume key."""
    rekeyed: Path | None
    """The key file re-encrypted under the volume key (first operator only, when it exists)."""


def add(
    db: Database,
    creds: Credentials,
    actor: Authenticated | None,
    name: str,
    role: OperatorRole,
    secret: Callable[[], str],
    legacy_passphrase: Callable[[], str],
) -> AddedOperator:
    """Add operator ``name`` with ``role``; ``secret`` asks for the new operator's own secret.

    With operators already, ``actor`` must be an active admin; without (``actor`` None), the
    new operator must be an admin and ``legacy_passphrase`` opens the signing key once more.
    A refusal writes nothing.
    """
    check_operator_name(name)
    with db.read() as session:
        first = not has_operators(session)
        if find_operator(session, name) is not None:
            raise NotPermitted(f"{name} is an operator already (names are never reused)")
    if first and role is not OperatorRole.ADMIN:
        raise NotPermitted(f"the first operator must be an admin, not {article(role)}")
    if not first:
        require_role(
            actor.operator if actor else None, OperatorRole.ADMIN, action="adding operators"
        )
    key_path = creds.signing_key_path
    key = None
    if first:
        volume_key: bytes | None = new_volume_key()
        if key_path.is_file():
            key = creds.load_key(key_path, legacy_passphrase)
    else:
        volume_key = actor.volume_key if actor else None
    typed = secret()
    check_new_passphrase(typed, refuse=(name, *creds.refused_passphrases()))
    slot = make_slot(name, role, typed, volume_key)
    keys_dir = creds.workspace.keys_dir
    path = write_slot(keys_dir, name, slot)
    try:
        _record(db, creds, lambda s, st: add_operator(s, st, name, role, fingerprint(slot)))
    except BaseException:
        remove_slot(keys_dir, name)
        raise
    rekeyed = None
    if key is not None and volume_key is not None:
        pem = key_to_pem(key, volume_passphrase(volume_key))
        rekeyed = write_atomic(key_path, pem, mode=PRIVATE, overwrite=True)
    return AddedOperator(name, role, path, first, rekeyed)


def disable(db: Database, creds: Credentials, actor: Authenticated | None, name: str) -> bool:
    """Disable ``name`` (an admin's act): the event, then their slot is deleted. True when a
    slot file was removed."""
    require_role(
        actor.operator if actor else None, OperatorRole.ADMIN, action="disabling operators"
    )
    if actor is None:
        raise NotPermitted("this workspace has no operators to disable")
    _record(db, creds, lambda s, st: disable_operator(s, st, name))
    return remove_slot(creds.workspace.keys_dir, name)


def change_secret(
    db: Database, creds: Credentials, actor: Authenticated | None, secret: Callable[[], str]
) -> Path:
    """The authenticated operator's own new secret: a new slot wrapping the same volume key,
    whose pin the ledger records; a failed write puts the old slot back. An auditor never writes
    the ledger: an admin re-adds them under a new name instead."""
    if actor is None:
        raise NotPermitted("this workspace has no operators: its key has a passphrase instead")
    name, role = actor.operator.name, actor.operator.role
    writers = (OperatorRole.CLERK, OperatorRole.REVIEWER, OperatorRole.ADMIN)
    require_role(actor.operator, *writers, action="changing a secret (recorded in the ledger)")
    typed = secret()
    check_new_passphrase(typed, refuse=(name, *creds.refused_passphrases()))
    slot = make_slot(name, role, typed, actor.volume_key)
    path = slot_path(creds.workspace.keys_dir, name)
    old = path.read_bytes()
    write_atomic(path, slot, mode=PRIVATE, overwrite=True)
    try:
        _record(db, creds, lambda s, st: change_slot(s, st, name, fingerprint(slot)))
    except BaseException:
        write_atomic(path, old, mode=PRIVATE, overwrite=True)
        raise
    return path


def _require_admin(actor: Authenticated | None, action: str) -> None:
    if actor is None:
        raise NotPermitted(f"{action} needs an admin, and this workspace has no operators yet")
    require_role(actor.operator, OperatorRole.ADMIN, action=action)


def _record(db: Database, creds: Credentials, write: Callable[..., object]) -> None:
    signer: HeadSigner | None = creds.signer_if_any()
    with db.write() as (session, state):
        write(session, state)
        sign_head(session, state, signer)
