"""Encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo, RFC 8018 PBES2): how keys are protected
at rest, and what protection an existing key file has.

The product encrypts every key with PBES2: PBKDF2-HMAC-SHA256 at :data:`KDF_ITERATIONS`
iterations, a random 16-byte salt, AES-256-CBC (docs/security.md, "Keys at rest and file modes").
Why PBKDF2 and not a memory-hard KDF:

- cryptography (48 to 50) writes encrypted PKCS#8 only through ``BestAvailableEncryption``, whose
  count is fixed at 2,048 PBKDF2 iterations; its ``encryption_builder`` (which chooses the count)
  refuses PKCS#8. So the structure is written here, with cryptography's own PBKDF2 and AES.
- scrypt inside PBES2 (RFC 7914) is defined, but OpenSSL, which cryptography and most other tools
  load such files with, refuses scrypt parameters above 32 MiB of memory (N = 2^15 with r = 8):
  below OWASP's scrypt recommendation (N = 2^17), and unreadable by Java and most HSM import
  tools. PBKDF2-HMAC-SHA256 at OWASP's count (600,000 since 2023) is readable everywhere
  (``openssl pkcs8``, Java, .NET, Go) and is the documented choice.

Decryption is left to cryptography (:func:`cryptography.hazmat.primitives.serialization.
load_pem_private_key` reads any PBES2 count, and the older schemes), so old key files keep
loading; :func:`key_protection` tells the caller whether a file should be re-encrypted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from asn1crypto import algos as asn1_algos  # type: ignore[import-untyped]
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from signing.errors import KeyFileError

__all__ = ["KDF_ITERATIONS", "KeyProtection", "encrypt_pkcs8", "key_protection"]

KDF_ITERATIONS = 600_000
"""PBKDF2-HMAC-SHA256 iterations of every key the product writes (OWASP, 2023: 600,000)."""

_PRFS = frozenset({"sha256", "sha384", "sha512"})
_SALT_BYTES = 16
_AES_KEY_BYTES = 32
_PEM_LABEL = "ENCRYPTED PRIVATE KEY"


@dataclass(frozen=True)
class KeyProtection:
    """How an encrypted PKCS#8 key file is protected, as its header says."""

    scheme: str
    """The encryption scheme: ``pbes2``, or an older PBES1/PKCS#12 scheme name."""
    kdf: str
    """The key derivation function: ``pbkdf2``, ``scrypt``, or the scheme's own (PBES1)."""
    prf: str | None
    """PBKDF2's pseudo-random function (``sha1``, ``sha256``, ...); None for other KDFs."""
    iterations: int | None
    """PBKDF2's (or PBES1's) iteration count; None for scrypt."""
    cipher: str
    """The cipher the derived key feeds (``aes256_cbc``, ``des``, ...)."""

    @property
    def is_current(self) -> bool:
        """True when the protection is at least what the product writes today: PBES2 with
        PBKDF2-HMAC-SHA-2 at :data:`KDF_ITERATIONS` or more, and AES-256."""
        return (
            self.scheme == "pbes2"
            and self.kdf == "pbkdf2"
            and self.prf in _PRFS
            and (self.iterations or 0) >= KDF_ITERATIONS
            and self.cipher == "aes256_cbc"
        )

    def describe(self) -> str:
        """One phrase for messages, e.g. ``PBKDF2-HMAC-SHA256, 2,048 iterations``."""
        if self.kdf == "pbkdf2":
            return (
                f"PBKDF2-HMAC-{(self.prf or 'sha1').upper()}, {self.iterations or 0:,} iterations"
            )
        return f"{self.scheme}/{self.kdf}"


def encrypt_pkcs8(private_key_info: bytes, passphrase: bytes) -> bytes:
    """PEM of ``private_key_info`` (an unencrypted PKCS#8 DER) encrypted with ``passphrase``:
    PBES2, PBKDF2-HMAC-SHA256 at :data:`KDF_ITERATIONS`, AES-256-CBC."""
    salt = os.urandom(_SALT_BYTES)
    iv = os.urandom(16)
    derived = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=_AES_KEY_BYTES, salt=salt, iterations=KDF_ITERATIONS
    ).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(private_key_info) + padder.finalize()
    encryptor = Cipher(algorithms.AES(derived), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    info = asn1_keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": asn1_algos.Pbkdf2Salt(name="specified", value=salt),
                            "iteration_count": KDF_ITERATIONS,
                            "prf": {"algorithm": "sha256", "parameters": None},
                        },
                    },
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": encrypted,
        }
    )
    armored: bytes = asn1_pem.armor(_PEM_LABEL, info.dump())
    return armored


def key_protection(data: bytes, *, source: str = "key") -> KeyProtection:
    """Read the protection parameters of an encrypted PKCS#8 PEM, without decrypting it."""
    try:
        label, _headers, der = asn1_pem.unarmor(data.strip())
        if label != _PEM_LABEL:
            raise ValueError(f"PEM label {label!r}")
        algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(der)["encryption_algorithm"]
        scheme = str(algorithm["algorithm"].native)
        if scheme != "pbes2":
            return KeyProtection(scheme, scheme, None, int(algorithm.kdf_iterations), scheme)
        params = algorithm["parameters"]
        kdf = str(params["key_derivation_func"]["algorithm"].native)
        cipher = str(params["encryption_scheme"]["algorithm"].native)
        if kdf != "pbkdf2":
            return KeyProtection(scheme, kdf, None, None, cipher)
        return KeyProtection(
            scheme, kdf, str(algorithm.kdf_hmac), int(algorithm.kdf_iterations), cipher
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyFileError(f"{source} is not a readable encrypted PKCS#8 key: {exc}") from None
