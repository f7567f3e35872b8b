"""Key files as receipts writes them: encrypted PKCS#8, mode 0600 whatever the umask, never over
an existing key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from receipts.pki.keyfile import save_key
from signing.errors import KeyFileError, PassphraseError
from signing.keys import generate_key, load_key

PASSPHRASE = "a passphrase long enough"


def test_key_file_is_encrypted_with_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    key = generate_key()
    old = os.umask(0)
    try:
        path = save_key(key, tmp_path / "keys" / "signing.key", PASSPHRASE)
    finally:
        os.umask(old)
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path, PASSPHRASE).public_key() == key.public_key()


def test_existing_key_is_not_overwritten(tmp_path: Path) -> None:
    path = save_key(generate_key(), tmp_path / "k.pem", PASSPHRASE)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match=r"key file .*k\.pem exists already"):
        save_key(generate_key(), path, PASSPHRASE)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["k.pem"]


def test_empty_passphrase_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match="empty passphrase"):
        save_key(generate_key(), tmp_path / "k.pem", "")
    assert not any(tmp_path.iterdir())
