"""Offline QR verification takes the issue day's worst case (issue 14, defect 11c): the QR gives
the date but not the time, so the chain must be valid from 00:00 to 24:00 +08:00 that day and a
revocation at any moment before the day's end counts. It checked only 00:00, 12:00 and 23:00,
and accepted a QR when any of them passed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

from cryptography import x509

from receipts.domain.model import QRSeal
from receipts.domain.signed_documents import chain_validator
from receipts.domain.xmlcodec import qr_payload
from receipts.render.qr import qr_text
from receipts.verify.receipt import verify_qr_text
from signing.certificate_profile import key_id
from signing.certificates import CertificateRole, create_csr, issue_certificate
from signing.crl import Revocation, RevocationReason, build_crl
from signing.keys import PrivateKey, generate_key
from signing.seal import sign_seal
from signing.trust import TrustBundle
from tests.support.pki import SHANGHAI, build_pki
from tests.support.receipt_corpus import receipt_at

PKI = build_pki()
DAY = (PKI.now - timedelta(days=20)).astimezone(SHANGHAI).date()
"""The issue day: well inside the provincial CA's validity."""


def at(hour: int, minute: int = 0, day_offset: int = 0) -> datetime:
    return datetime.combine(DAY + timedelta(days=day_offset), time(hour, minute), SHANGHAI)


def city_certificate(valid_from: datetime, until: datetime) -> tuple[PrivateKey, x509.Certificate]:
    key = generate_key()
    csr = create_csr(key, "640100", "银川市总工会", CertificateRole.SIGNING)
    cert = issue_certificate(
        PKI.prov,
        PKI.prov_key,
        csr,
        CertificateRole.SIGNING,
        requester_upstream="640000",
        now=valid_from,
        validity=until - valid_from,
    )
    return key, cert


def qr_sealed_at(key: PrivateKey, cert: x509.Certificate, moment: datetime) -> str:
    receipt = receipt_at(moment)
    kid = key_id(cert)
    sealed = replace(receipt, seal=QRSeal(kid, sign_seal(key, qr_payload(receipt, kid))))
    return qr_text(sealed)


def verify(text: str, cert: x509.Certificate, revoked_at: datetime | None = None) -> list[str]:
    crls = []
    if revoked_at is not None:
        revocation = Revocation(cert.serial_number, revoked_at, RevocationReason.KEY_COMPROMISE)
        crls.append(
            build_crl(
                PKI.prov,
                PKI.prov_key,
                [revocation],
                this_update=PKI.now - timedelta(days=1),
                next_update=PKI.now + timedelta(days=6),
            )
        )
    bundle = TrustBundle.of([PKI.root, PKI.prov, cert], crls)
    result = verify_qr_text(text, chain_validator(bundle))
    assert result.valid == (not result.findings)
    return [f.code for f in result.findings]


def test_a_certificate_valid_all_day_passes() -> None:
    key, cert = city_certificate(at(0, day_offset=-30), at(0, day_offset=30))
    assert verify(qr_sealed_at(key, cert, at(10)), cert) == []


def test_a_certificate_expiring_mid_day_fails() -> None:
    key, cert = city_certificate(at(0, day_offset=-30), at(15))
    # sealed at 10:00 while valid, but the QR cannot show that it was not sealed at 20:00
    assert verify(qr_sealed_at(key, cert, at(10)), cert) == ["expired-at-signing"]


def test_a_certificate_starting_mid_day_fails() -> None:
    key, cert = city_certificate(at(9), at(0, day_offset=30))
    assert verify(qr_sealed_at(key, cert, at(10)), cert) == ["not-yet-valid-at-signing"]


def test_a_certificate_revoked_mid_day_fails() -> None:
    key, cert = city_certificate(at(0, day_offset=-30), at(0, day_offset=30))
    text = qr_sealed_at(key, cert, at(10))
    assert verify(text, cert, revoked_at=at(12, 30)) == ["revoked"]
    # revoked after the day: the QR's day is not touched
    assert verify(text, cert, revoked_at=at(0, 1, day_offset=1)) == []
    # revoked late the day before: fails at every moment of the day
    assert verify(text, cert, revoked_at=at(23, 0, day_offset=-1)) == ["revoked"]
