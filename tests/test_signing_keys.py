"""Keys: generation, encrypted PKCS#8 storage, passphrase handling."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signing.errors import KeyFileError, PassphraseError, WrongPassphrase
from signing.keys import (
    CA_PASSPHRASE_ENV,
    KEY_PASSPHRASE_ENV,
    KeyAlgorithm,
    ca_key_passphrase,
    generate_key,
    key_from_pem,
    load_key,
    save_key,
    signing_key_passphrase,
)


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_round_trip_keeps_the_key(tmp_path: Path, algorithm: KeyAlgorithm) -> None:
    key = generate_key(algorithm)
    path = save_key(key, tmp_path / "k.pem", "correct horse")
    loaded = load_key(path, "correct horse")
    assert loaded.public_key() == key.public_key()
    expected = (
        ec.EllipticCurvePrivateKey if algorithm is KeyAlgorithm.ECDSA_P256 else rsa.RSAPrivateKey
    )
    assert isinstance(loaded, expected)


def test_file_is_encrypted_pkcs8_with_mode_0600(tmp_path: Path) -> None:
    path = save_key(generate_key(), tmp_path / "k.pem", "pw")
    text = path.read_bytes()
    assert text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key(text, password=None)


def test_wrong_passphrase_names_the_file(tmp_path: Path) -> None:
    path = save_key(generate_key(), tmp_path / "k.pem", "right")
    with pytest.raises(WrongPassphrase, match=r"does not decrypt key file .*k\.pem") as caught:
        load_key(path, "wrong")
    assert caught.value.exit_code == 2


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match="empty passphrase"):
        save_key(generate_key(), tmp_path / "k.pem", "")
    assert not (tmp_path / "k.pem").exists()


def test_unencrypted_key_file_is_refused() -> None:
    pem = generate_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFileError, match="not encrypted"):
        key_from_pem(pem, "pw")


def test_existing_key_is_not_overwritten(tmp_path: Path) -> None:
    path = save_key(generate_key(), tmp_path / "k.pem", "pw")
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="exists already"):
        save_key(generate_key(), path, "pw")
    assert path.read_bytes() == before


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
