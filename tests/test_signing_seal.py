"""The QR seal: deterministic, compact, and verifiable with the certificate alone."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from signing.seal import sign_seal, verify_seal
from tests.support.pki import Pki

PAYLOAD = b"UDR1|64710125|0000000001|a1b2c3|20250301|12.50|640100|3c88f71c"


def test_ecdsa_seal_is_deterministic_raw_r_s_base64url(pki: Pki) -> None:
    first = sign_seal(pki.city.key, PAYLOAD)
    assert sign_seal(pki.city.key, PAYLOAD) == first
    assert "=" not in first and "+" not in first and "/" not in first
    raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
    assert len(raw) == 64
    assert verify_seal(pki.city.cert, PAYLOAD, first)
    public_key = pki.city.cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert verify_seal(public_key, PAYLOAD, first)


def test_rsa_seal_is_deterministic_pkcs1v15(pki: Pki) -> None:
    first = sign_seal(pki.city_rsa.key, PAYLOAD)
    assert sign_seal(pki.city_rsa.key, PAYLOAD) == first
    assert verify_seal(pki.city_rsa.cert, PAYLOAD, first)


@pytest.mark.parametrize("which", ["city", "city_rsa"])
def test_tampered_payload_fails(pki: Pki, which: str) -> None:
    signer = getattr(pki, which)
    seal = sign_seal(signer.key, PAYLOAD)
    assert not verify_seal(signer.cert, PAYLOAD.replace(b"12.50", b"92.50"), seal)


def test_wrong_key_fails(pki: Pki) -> None:
    seal = sign_seal(pki.city.key, PAYLOAD)
    assert not verify_seal(pki.national.cert, PAYLOAD, seal)
    assert not verify_seal(pki.city_rsa.cert, PAYLOAD, seal)


@pytest.mark.parametrize("garbage", ["", "!!!", "AAAA", "A", "x" * 86 + "="])
def test_malformed_seal_text_is_just_invalid(pki: Pki, garbage: str) -> None:
    assert not verify_seal(pki.city.cert, PAYLOAD, garbage)


def test_non_canonical_spelling_is_refused(pki: Pki) -> None:
    seal = sign_seal(pki.city.key, PAYLOAD)
    raw = base64.urlsafe_b64decode(seal + "=" * (-len(seal) % 4))
    assert base64.urlsafe_b64encode(raw).decode().rstrip("=") == seal
    assert not verify_seal(pki.city.cert, PAYLOAD, seal + "==")


@pytest.mark.parametrize(
    "spoil",
    [
        lambda s: s + "\n",  # the base64 decoder skips it; the alphabet check does not
        lambda s: "\n" + s,
        lambda s: s.replace("-", "+").replace("_", "/") if ("-" in s or "_" in s) else s + "+",
        lambda s: s[:10] + "Ａ" + s[11:],  # a full-width letter
        lambda s: s[:10] + " " + s[10:],
    ],
)
def test_text_outside_base64url_is_refused(pki: Pki, spoil: Callable[[str], str]) -> None:
    seal = sign_seal(pki.city.key, PAYLOAD)
    assert not verify_seal(pki.city.cert, PAYLOAD, spoil(seal))


def test_a_certificate_whose_key_cannot_be_read_seals_nothing(pki: Pki) -> None:
    """A tier request may carry any certificate: one whose key algorithm cryptography does not
    know made verify_seal raise (a 500 and a traceback per request), not answer False."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = pki.city.cert.public_bytes(serialization.Encoding.DER)
    ec_public_key = bytes.fromhex("06072A8648CE3D0201")  # id-ecPublicKey
    assert der.count(ec_public_key) == 1
    unknown = x509.load_der_x509_certificate(
        der.replace(ec_public_key, bytes.fromhex("06072A8648CE3D0209"))
    )
    assert verify_seal(unknown, PAYLOAD, sign_seal(pki.city.key, PAYLOAD)) is False
