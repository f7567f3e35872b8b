"""Key slots, as LUKS keeps them (docs/security.md, "Operators and key slots").

Once a workspace has operators, its signing key (``keys/signing.key``, PKCS#8) is encrypted
under a random 256-bit *volume key* instead of a shared passphrase. Each operator has one slot
file, ``keys/slots/NAME.slot``, holding the volume key wrapped under a key derived from that
operator's own secret:

    PBKDF2-HMAC-SHA256, 600,000 iterations, 16-byte random salt  →  256-bit wrapping key
    AES-256-GCM, 12-byte random nonce, associated data "UDR-SLOT|1|NAME|ROLE|HOLDS"

An auditor's slot wraps 32 random bytes instead (``holds`` = ``identity``): typing the right
secret proves who they are and unwraps nothing that opens the signing key. Removing an operator
removes their slot; the volume key and every other slot stay as they are.

A slot is only a proof of identity. The role comes from the ledger, which also pins each slot's
SHA-256 (:func:`fingerprint`) in the ``operator.added`` event: a slot file edited, replaced or
copied under another name does not match its pin and is refused before any secret is tried.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from receipts.domain.enums import OperatorRole
from receipts.errors import NotPermitted
from receipts.support.atomic import PRIVATE, write_atomic
from signing.pkcs8 import KDF_ITERATIONS

__all__ = [
    "IDENTITY",
    "VOLUME_KEY",
    "Unlocked",
    "fingerprint",
    "make_slot",
    "new_volume_key",
    "open_slot",
    "remove_slot",
    "slot_path",
    "slots_dir",
    "volume_passphrase",
    "write_slot",
]

VOLUME_KEY = "volume-key"
"""A slot that unwraps the volume key (clerks, reviewers, admins)."""
IDENTITY = "identity"
"""A slot that proves identity only (auditors)."""

_FORMAT = "udr-key-slot-1"
_KEY_BYTES = 32
_MAX_SLOT_BYTES = 4096


@dataclass(frozen=True)
class Unlocked:
    """What an opened slot gives: the operator it names, and the volume key unless an auditor."""

    name: str
    """The operator."""
    role: OperatorRole
    """The role the slot was made for (the ledger's role is the one that counts)."""
    volume_key: bytes | None
    """The volume key; None for an identity-only slot."""


def slots_dir(keys_dir: Path) -> Path:
    """``keys/slots``."""
    return keys_dir / "slots"


def slot_path(keys_dir: Path, name: str) -> Path:
    """``keys/slots/NAME.slot`` (``name`` checked by the caller)."""
    return slots_dir(keys_dir) / f"{name}.slot"


def new_volume_key() -> bytes:
    """A random 256-bit volume key."""
    return os.urandom(_KEY_BYTES)


def volume_passphrase(volume_key: bytes) -> str:
    """The PKCS#8 passphrase of the signing key under ``volume_key`` (its base64url text)."""
    return base64.urlsafe_b64encode(volume_key).decode("ascii").rstrip("=")


def fingerprint(slot: bytes) -> str:
    """SHA-256 of a slot file's bytes: what the ledger pins."""
    return hashlib.sha256(slot).hexdigest()


def _holds(role: OperatorRole) -> str:
    return IDENTITY if role is OperatorRole.AUDITOR else VOLUME_KEY


def _aad(name: str, role: OperatorRole, holds: str) -> bytes:
    return f"UDR-SLOT|1|{name}|{role.value}|{holds}".encode()


def _wrapping_key(secret: str, salt: bytes, iterations: int) -> bytes:
    kdf = PBKDF2HMAC(hashes.SHA256(), _KEY_BYTES, salt, iterations)
    return kdf.derive(secret.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def make_slot(name: str, role: OperatorRole, secret: str, volume_key: bytes | None) -> bytes:
    """A new slot file's bytes: ``volume_key`` (or, for an auditor, random bytes) wrapped
    under ``secret``. A non-auditor slot needs the volume key."""
    holds = _holds(role)
    if holds == VOLUME_KEY and volume_key is None:
        raise NotPermitted(f"a slot for {name} needs the volume key: an admin must unlock it")
    content = volume_key if holds == VOLUME_KEY and volume_key is not None else new_volume_key()
    salt, nonce = os.urandom(16), os.urandom(12)
    wrapped = AESGCM(_wrapping_key(secret, salt, KDF_ITERATIONS)).encrypt(
        nonce, content, _aad(name, role, holds)
    )
    document = {
        "format": _FORMAT,
        "operator": name,
        "role": role.value,
        "holds": holds,
        "kdf": "pbkdf2-hmac-sha256",
        "iterations": KDF_ITERATIONS,
        "salt": _b64(salt),
        "cipher": "aes-256-gcm",
        "nonce": _b64(nonce),
        "wrapped": _b64(wrapped),
    }
    return (json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode()


def write_slot(keys_dir: Path, name: str, slot: bytes) -> Path:
    """Write a new slot file (mode 0600); an existing one is never replaced."""
    path = slot_path(keys_dir, name)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    try:
        return write_atomic(path, slot, mode=PRIVATE, overwrite=False)
    except FileExistsError:
        raise NotPermitted(f"a key slot for {name} exists already ({path})") from None


def remove_slot(keys_dir: Path, name: str) -> bool:
    """Delete ``name``'s slot file; False when there was none."""
    try:
        slot_path(keys_dir, name).unlink()
    except FileNotFoundError:
        return False
    return True


def open_slot(keys_dir: Path, name: str, role: OperatorRole, secret: str, pinned: str) -> Unlocked:
    """Unwrap ``name``'s slot with ``secret``.

    Refused, in this order, without trying the secret first: no slot file; a slot whose SHA-256
    is not the one the ledger pinned (edited, replaced, copied); a slot made for another name or
    role. Then a wrong secret fails AES-GCM's authentication.
    """
    path = slot_path(keys_dir, name)
    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_SLOT_BYTES + 1)
    except OSError:
        raise NotPermitted(f"{name} has no key slot ({path}); an admin must add them") from None
    if len(data) > _MAX_SLOT_BYTES or fingerprint(data) != pinned:
        raise NotPermitted(
            f"the key slot of {name} ({path}) is not the one the ledger recorded for them"
        )
    try:
        doc = json.loads(data)
        holds = str(doc["holds"])
        if doc["operator"] != name or doc["role"] != role.value or holds != _holds(role):
            raise ValueError("slot made for another operator or role")
        salt, nonce, wrapped = (base64.b64decode(doc[k]) for k in ("salt", "nonce", "wrapped"))
        key = _wrapping_key(secret, salt, int(doc["iterations"]))
    except (KeyError, TypeError, ValueError):
        raise NotPermitted(f"the key slot of {name} ({path}) is unreadable") from None
    try:
        content = AESGCM(key).decrypt(nonce, wrapped, _aad(name, role, holds))
    except InvalidTag:
        raise NotPermitted(f"wrong secret for operator {name}") from None
    return Unlocked(name, role, content if holds == VOLUME_KEY else None)
