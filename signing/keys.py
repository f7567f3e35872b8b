"""Private keys: generate, serialise encrypted (PKCS#8 PEM), load, and source passphrases.

A key never touches disk unencrypted (docs/security.md); :mod:`signing.pkcs8` says how it is
encrypted (PBKDF2-HMAC-SHA256, 600,000 iterations) and why. A new key's passphrase must pass
:func:`check_new_passphrase`. ECDSA P-256 is the default; RSA-2048 is
allowed for federations whose other systems need it. This module writes no files: the caller
stores :func:`key_to_pem`'s bytes (``receipts`` writes them atomically, mode 0600, never over an
existing key).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signing.errors import KeyFileError, PassphraseError, WrongPassphrase
from signing.pkcs8 import encrypt_pkcs8

__all__ = [
    "CA_PASSPHRASE_ENV",
    "KEY_PASSPHRASE_ENV",
    "MIN_PASSPHRASE_LENGTH",
    "KeyAlgorithm",
    "PrivateKey",
    "PublicKey",
    "ca_key_passphrase",
    "check_new_passphrase",
    "generate_key",
    "key_algorithm_of",
    "key_from_pem",
    "key_to_pem",
    "load_key",
    "signing_key_passphrase",
]

#: Environment variable a batch job may use for a signing key's passphrase.
KEY_PASSPHRASE_ENV = "RECEIPTS_KEY_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
#: Environment variable for a CA key's passphrase, read only when the caller explicitly allows it.
CA_PASSPHRASE_ENV = "RECEIPTS_CA_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

#: The shortest passphrase a new key (or a changed passphrase) may have. A passphrase is all that
#: protects a stolen key file; 12 characters (NIST SP 800-63B asks at least 8 of a memorised
#: secret, more when it guards a key offline) keeps a guessing attack at 600,000 PBKDF2
#: iterations a guess out of reach.
MIN_PASSPHRASE_LENGTH = 12

_RSA_BITS = 2048
_RSA_EXPONENT = 65537


class KeyAlgorithm(Enum):
    """The key types the product generates and accepts."""

    ECDSA_P256 = "ecdsa-p256"
    RSA_2048 = "rsa-2048"

    @classmethod
    def _missing_(cls, value: object) -> KeyAlgorithm:
        raise KeyFileError(
            f"unknown key algorithm {value!r}; use one of: {', '.join(m.value for m in cls)}"
        )


def generate_key(algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P256) -> PrivateKey:
    """Generate a new private key of ``algorithm``."""
    if algorithm is KeyAlgorithm.RSA_2048:
        return rsa.generate_private_key(public_exponent=_RSA_EXPONENT, key_size=_RSA_BITS)
    return ec.generate_private_key(ec.SECP256R1())


def key_algorithm_of(key: PrivateKey | PublicKey) -> KeyAlgorithm:
    """Return the :class:`KeyAlgorithm` of ``key``; other curves and small RSA keys are refused."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return KeyAlgorithm.ECDSA_P256
        raise KeyFileError(f"EC curve {key.curve.name} is not supported; use P-256")
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size >= _RSA_BITS:
            return KeyAlgorithm.RSA_2048
        raise KeyFileError(f"RSA key of {key.key_size} bits is too small; at least 2048 are needed")
    raise KeyFileError(f"key type {type(key).__name__} is not supported")


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    raw = passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)
    if not raw:
        raise PassphraseError("an empty passphrase is refused: keys are always stored encrypted")
    return raw


def check_new_passphrase(passphrase: str, *, refuse: Iterable[str] = ()) -> None:
    """Refuse a weak passphrase for a new key (or a changed one) with a one-line
    :class:`PassphraseError`: shorter than :data:`MIN_PASSPHRASE_LENGTH` characters, one
    character repeated, or one of ``refuse`` (the organisation's code, USCC and name: the first
    words an insider would try), compared without case and surrounding spaces.

    Only creation is checked: an existing key keeps loading with the passphrase it has.
    """
    if not passphrase:
        raise PassphraseError("an empty passphrase is refused: keys are always stored encrypted")
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise PassphraseError(
            f"the passphrase is too short ({len(passphrase)} characters): "
            f"a new key's passphrase needs at least {MIN_PASSPHRASE_LENGTH}"
        )
    if len(set(passphrase)) == 1:
        raise PassphraseError("the passphrase repeats one character: choose a real passphrase")
    folded = passphrase.strip().casefold()
    if any(word and folded == word.strip().casefold() for word in refuse):
        raise PassphraseError(
            "the passphrase is the organisation's code or name: choose one nobody can guess"
        )


def key_to_pem(key: PrivateKey, passphrase: str | bytes) -> bytes:
    """Serialise ``key`` as encrypted PKCS#8 PEM (:func:`signing.pkcs8.encrypt_pkcs8`); an empty
    passphrase is refused (the policy for new keys is :func:`check_new_passphrase`'s)."""
    key_algorithm_of(key)
    secret = _passphrase_bytes(passphrase)
    plain = key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    return encrypt_pkcs8(plain, secret)


def key_from_pem(data: bytes, passphrase: str | bytes, *, source: str = "key") -> PrivateKey:
    """Decrypt an encrypted PKCS#8 PEM key; ``source`` names it in error messages."""
    if b"ENCRYPTED PRIVATE KEY" not in data:
        if b"PRIVATE KEY" in data:
            raise KeyFileError(f"{source} is not encrypted; keys must be stored encrypted (PKCS#8)")
        raise KeyFileError(f"{source} holds no PEM private key")
    try:
        key = serialization.load_pem_private_key(data, password=_passphrase_bytes(passphrase))
    except ValueError:
        # cryptography reports a wrong passphrase and a corrupt file alike; the passphrase is by
        # far the likelier cause, so say that, naming the file.
        raise WrongPassphrase(f"the passphrase does not decrypt {source}") from None
    except TypeError as exc:
        raise KeyFileError(f"{source} cannot be loaded: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeyFileError(f"{source} holds a {type(key).__name__}; use ECDSA P-256 or RSA-2048")
    key_algorithm_of(key)
    return key


def load_key(path: str | os.PathLike[str], passphrase: str | bytes) -> PrivateKey:
    """Load and decrypt the key file at ``path``."""
    target = Path(path)
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {target}: {exc.strerror or exc}") from None
    return key_from_pem(data, passphrase, source=f"key file {target}")


def signing_key_passphrase(
    *,
    prompt: Callable[[str], str] | None = None,
    key_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return a signing key's passphrase: from ``RECEIPTS_KEY_PASSPHRASE``, else from ``prompt``.

    Batch jobs run unattended, so the environment is allowed for signing keys (docs/operations.md).
    """
    env = os.environ if environ is None else environ
    value = env.get(KEY_PASSPHRASE_ENV)
    if value:
        return value
    if prompt is None:
        raise PassphraseError(f"no passphrase for the signing key: set {KEY_PASSPHRASE_ENV}")
    return _prompted(prompt, "signing key", key_path)


def ca_key_passphrase(
    prompt: Callable[[str], str],
    *,
    key_path: str | os.PathLike[str] | None = None,
    allow_env: bool = False,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return a CA key's passphrase, asked for with ``prompt`` (the CLI passes ``click.prompt``).

    ``RECEIPTS_CA_PASSPHRASE`` is read only when ``allow_env`` is true: a CA key certifies whole
    tiers, so by default a person types its passphrase.
    """
    if allow_env:
        env = os.environ if environ is None else environ
        value = env.get(CA_PASSPHRASE_ENV)
        if value:
            return value
    return _prompted(prompt, "CA key", key_path)


def _prompted(
    prompt: Callable[[str], str], what: str, key_path: str | os.PathLike[str] | None
) -> str:
    where = f" {key_path}" if key_path is not None else ""
    value = prompt(f"Passphrase for {what}{where}")
    if not value:
        raise PassphraseError(f"an empty passphrase was given for the {what}{where}")
    return value
