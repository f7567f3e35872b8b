"""Keys: generation, encrypted PKCS#8 serialisation and loading, passphrase handling.

Writing key files (mode 0600, never over an existing key) is receipts' job: test_pki_keyfile.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signing.errors import KeyFileError, PassphraseError, WrongPassphrase
from signing.keys import (
    CA_PASSPHRASE_ENV,
    KEY_PASSPHRASE_ENV,
    KeyAlgorithm,
    PrivateKey,
    ca_key_passphrase,
    generate_key,
    key_from_pem,
    key_to_pem,
    load_key,
    signing_key_passphrase,
)


def _save(key: PrivateKey, path: Path, passphrase: str) -> Path:
    path.write_bytes(key_to_pem(key, passphrase))
    return path


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_round_trip_keeps_the_key(tmp_path: Path, algorithm: KeyAlgorithm) -> None:
    key = generate_key(algorithm)
    path = _save(key, tmp_path / "k.pem", "correct horse")
    loaded = load_key(path, "correct horse")
    assert loaded.public_key() == key.public_key()
    expected = (
        ec.EllipticCurvePrivateKey if algorithm is KeyAlgorithm.ECDSA_P256 else rsa.RSAPrivateKey
    )
    assert isinstance(loaded, expected)


def test_pem_is_encrypted_pkcs8() -> None:
    text = key_to_pem(generate_key(), "pw")
    assert text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key(text, password=None)


def test_wrong_passphrase_names_the_file(tmp_path: Path) -> None:
    path = _save(generate_key(), tmp_path / "k.pem", "right")
    with pytest.raises(WrongPassphrase, match=r"does not decrypt key file .*k\.pem") as caught:
        load_key(path, "wrong")
    assert caught.value.exit_code == 2


def test_empty_passphrase_is_refused() -> None:
    with pytest.raises(PassphraseError, match="empty passphrase"):
        key_to_pem(generate_key(), "")


def test_unencrypted_key_file_is_refused() -> None:
    pem = generate_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFileError, match="not encrypted"):
        key_from_pem(pem, "pw")


def test_signing_passphrase_comes_from_the_environment() -> None:
    assert signing_key_passphrase(environ={KEY_PASSPHRASE_ENV: "batch"}) == "batch"
    with pytest.raises(PassphraseError, match=KEY_PASSPHRASE_ENV):
        signing_key_passphrase(environ={})
    assert signing_key_passphrase(prompt=lambda _: "typed", environ={}) == "typed"


def test_ca_passphrase_reads_the_environment_only_when_allowed() -> None:
    asked: list[str] = []

    def prompt(message: str) -> str:
        asked.append(message)
        return "typed"

    env = {CA_PASSPHRASE_ENV: "from-env"}
    assert ca_key_passphrase(prompt, key_path="ca.key", environ=env) == "typed"
    assert asked == ["Passphrase for CA key ca.key"]
    assert ca_key_passphrase(prompt, allow_env=True, environ=env) == "from-env"
    assert len(asked) == 1
    with pytest.raises(PassphraseError):
        ca_key_passphrase(lambda _: "", environ={})
