"""Private key files: written encrypted, mode 0600, never over an existing key; loaded only when
nobody else can read them; upgraded to today's encryption on load (docs/security.md, "Keys at
rest and file modes").

``signing`` only serialises keys (:func:`signing.keys.key_to_pem`); every key file the product
writes or reads goes through here, so the rules live in one place:

- a new key's passphrase passes :func:`signing.keys.check_new_passphrase` before anything is
  written; the file is readable by its owner only whatever the umask, it appears whole or not at
  all, and an existing key file is never replaced by a new key (losing a CA key is not
  recoverable; a renewed key gets a new file after the old one is retired);
- a key file that its group or others may read or write is refused, naming the file and the fix,
  unless the caller allows it (``receipts --allow-insecure-permissions``);
- a key encrypted with weaker parameters than :mod:`signing.pkcs8` writes today (the 2,048
  PBKDF2 iterations of earlier versions) is re-encrypted in place, atomically, with the same
  passphrase, once, and the caller is told; :func:`change_passphrase` (``receipts pki rekey``)
  re-encrypts it with a new one.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from receipts.support.atomic import PRIVATE, write_atomic
from signing.errors import KeyFileError
from signing.keys import PrivateKey, check_new_passphrase, key_from_pem, key_to_pem
from signing.pkcs8 import KDF_ITERATIONS, key_protection

__all__ = ["Notify", "change_passphrase", "check_key_permissions", "load_key_file", "save_key"]

Notify = Callable[[str], None]
"""Where a note for the user goes (the CLI prints it on stderr)."""

_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def save_key(
    key: PrivateKey,
    path: str | os.PathLike[str],
    passphrase: str,
    *,
    refuse: Iterable[str] = (),
) -> Path:
    """Write ``key`` encrypted with ``passphrase`` to ``path`` (mode 0600) and return the path.

    The passphrase must pass :func:`signing.keys.check_new_passphrase` (``refuse``: the owner's
    code and name); an existing file at ``path`` is kept and
    :class:`~signing.errors.KeyFileError` raised. Nothing is written when either check fails.
    """
    check_new_passphrase(passphrase, refuse=refuse)
    pem = key_to_pem(key, passphrase)
    try:
        return write_atomic(path, pem, mode=PRIVATE, overwrite=False)
    except FileExistsError:
        raise KeyFileError(f"key file {path} exists already; refusing to overwrite it") from None


def check_key_permissions(path: Path, *, allow_insecure: bool = False) -> None:
    """Refuse a key file its group or others may read or write (on POSIX systems)."""
    if os.name != "posix" or allow_insecure:
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    if mode & _OTHERS:
        raise KeyFileError(
            f"key file {path} is open to other users (mode {mode:04o}): run 'chmod 600 {path}' "
            "(or pass --allow-insecure-permissions, at your own risk)"
        )


def load_key_file(
    path: str | os.PathLike[str],
    passphrase: str,
    *,
    allow_insecure: bool = False,
    notify: Notify | None = None,
) -> PrivateKey:
    """Load and decrypt the key file at ``path``; re-encrypt it if its protection is outdated.

    The permission check comes first, so a key open to others is refused before its passphrase
    is even tried. The upgrade keeps the passphrase and the file's identity on disk (written
    atomically, mode 0600); ``notify`` is told once, when it happens.
    """
    target = Path(path)
    check_key_permissions(target, allow_insecure=allow_insecure)
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {target}: {exc.strerror or exc}") from None
    source = f"key file {target}"
    key = key_from_pem(data, passphrase, source=source)
    protection = key_protection(data, source=source)
    if not protection.is_current:
        write_atomic(target, key_to_pem(key, passphrase), mode=PRIVATE, overwrite=True)
        if notify is not None:
            notify(
                f"{target} was encrypted with {protection.describe()}; it is now re-encrypted "
                f"with PBKDF2-HMAC-SHA256, {KDF_ITERATIONS:,} iterations (same passphrase)"
            )
    return key


def change_passphrase(
    path: str | os.PathLike[str],
    old: str,
    new: str,
    *,
    refuse: Iterable[str] = (),
    allow_insecure: bool = False,
) -> Path:
    """Re-encrypt the key file at ``path`` with ``new`` (which must pass the policy for new
    passphrases), atomically, mode 0600; the key itself is unchanged."""
    check_new_passphrase(new, refuse=refuse)
    target = Path(path)
    key = load_key_file(target, old, allow_insecure=allow_insecure)
    return write_atomic(target, key_to_pem(key, new), mode=PRIVATE, overwrite=True)
