"""Writing a private key file: encrypted PKCS#8 PEM, mode 0600, never over an existing key.

``signing`` only serialises keys (:func:`signing.keys.key_to_pem`); every key file the product
writes goes through here, so the rules live in one place: the key is encrypted, the file is
readable by its owner only whatever the umask, it appears whole or not at all, and an existing key
file is never replaced (losing a CA key is not recoverable; a renewed key gets a new file after
the old one is retired).
"""

from __future__ import annotations

import os
from pathlib import Path

from receipts.support.atomic import PRIVATE, write_atomic
from signing.errors import KeyFileError
from signing.keys import PrivateKey, key_to_pem

__all__ = ["save_key"]


def save_key(key: PrivateKey, path: str | os.PathLike[str], passphrase: str | bytes) -> Path:
    """Write ``key`` encrypted with ``passphrase`` to ``path`` (mode 0600) and return the path.

    An existing file at ``path`` is kept and :class:`~signing.errors.KeyFileError` raised; an
    empty passphrase is refused before anything is written.
    """
    pem = key_to_pem(key, passphrase)
    try:
        return write_atomic(path, pem, mode=PRIVATE, overwrite=False)
    except FileExistsError:
        raise KeyFileError(f"key file {path} exists already; refusing to overwrite it") from None
