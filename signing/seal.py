"""The QR seal: a short deterministic signature over the receipt's seal text (docs/formats.md).

The same payload and key always give the same signature, so the same XML always renders the same
QR code and PDF. ECDSA P-256 keys sign with deterministic ECDSA (RFC 6979) over SHA-256, encoded
as raw r‖s (32 + 32 bytes); RSA keys sign with PKCS#1 v1.5 over SHA-256, which is deterministic
by construction (256 bytes). Either way the text is base64url without padding.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from signing.errors import SigningError
from signing.keys import PrivateKey, PublicKey

__all__ = ["sign_seal", "verify_seal"]

_P256_BYTES = 32


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    if _ALPHABET.fullmatch(text) is None:
        raise ValueError("not base64url text")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url(raw) != text:
        # Only the canonical spelling counts, so one signature has one text.
        raise ValueError("not canonical base64url text")
    return raw


#: base64url's alphabet, one character or more (a regular expression: a check per character
#: in Python cost a tenth of a seal's verification).
_ALPHABET = re.compile("[A-Za-z0-9_-]+")


def sign_seal(key: PrivateKey, payload: bytes) -> str:
    """Sign ``payload`` deterministically and return the base64url text (no padding)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise SigningError(f"QR seals use P-256, not {key.curve.name}")
        der = key.sign(payload, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        return _b64url(r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big"))
    if isinstance(key, rsa.RSAPrivateKey):
        return _b64url(key.sign(payload, padding.PKCS1v15(), hashes.SHA256()))
    raise SigningError(f"cannot seal with a {type(key).__name__}")


def verify_seal(cert_or_public_key: x509.Certificate | PublicKey, payload: bytes, sig: str) -> bool:
    """Whether ``sig`` is a valid seal of ``payload`` by the key (or certificate's key) given.

    Any malformed signature text is simply not valid; this never raises for bad input.
    """
    try:
        public_key = (
            cert_or_public_key.public_key()
            if isinstance(cert_or_public_key, x509.Certificate)
            else cert_or_public_key
        )
    except (UnsupportedAlgorithm, ValueError):
        return False  # a certificate whose key cryptography cannot read seals nothing
    try:
        raw = _unb64url(sig)
    except (ValueError, binascii.Error):
        return False
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            if not isinstance(public_key.curve, ec.SECP256R1) or len(raw) != 2 * _P256_BYTES:
                return False
            der = encode_dss_signature(
                int.from_bytes(raw[:_P256_BYTES], "big"), int.from_bytes(raw[_P256_BYTES:], "big")
            )
            public_key.verify(der, payload, ec.ECDSA(hashes.SHA256()))
            return True
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(raw, payload, padding.PKCS1v15(), hashes.SHA256())
            return True
    except CryptoInvalidSignature:
        return False
    return False
