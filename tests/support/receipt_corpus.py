"""Signed receipts, good and bad, on the signing tests' PKI (tests.support.pki): the
trust issue's corpus at receipt level, each with the finding codes verification must report.

Receipt times are relative to the PKI's clock, so the certificates' windows hold whenever the
tests run.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable
from datetime import datetime, timedelta

from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.xades.xades import XAdESSigner

from receipts.domain.model import Receipt
from receipts.domain.xmlcodec import receipt_to_element, serialize
from receipts.pki.signer import ReceiptSigner
from tests.support.factories import SHANGHAI, make_receipt
from tests.support.pki import Pki, Signer, build_pki

__all__ = ["bad_receipts", "good_xml", "receipt_at", "signer_of", "still_valid_after_expiry"]

DS = "{http://www.w3.org/2000/09/xmldsig#}"


def receipt_at(moment: datetime, **overrides: object) -> Receipt:
    """A normal 640100 receipt issued at ``moment`` (its code's year follows)."""
    local = moment.astimezone(SHANGHAI).replace(microsecond=0)
    return make_receipt(issued_at=local, code=f"647101{local.year % 100:02d}", **overrides)


def signer_of(who: Signer) -> ReceiptSigner:
    """The receipt signer of a test PKI signer."""
    return ReceiptSigner(who.key, who.cert, who.intermediates)


def days_ago(pki: Pki, days: float) -> datetime:
    """``days`` before the PKI was built."""
    return pki.now - timedelta(days=days)


def good_xml(number: int = 1, **overrides: object) -> bytes:
    """A receipt signed yesterday by the good 640100 certificate."""
    pki = build_pki()
    return signer_of(pki.city).sign_receipt(
        receipt_at(days_ago(pki, 1), number=number, **overrides)
    )


def _mutate(data: bytes, change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(data)
    change(root)
    return serialize(root)


def _moved_into_object(data: bytes) -> bytes:
    original = etree.fromstring(data)
    signature = original.find(f"{DS}Signature")
    assert signature is not None
    original.remove(signature)
    forged = receipt_to_element(receipt_at(days_ago(build_pki(), 1), remark="伪造的收据"))
    etree.SubElement(signature, f"{DS}Object").append(original)
    forged.append(signature)
    return serialize(forged)


def _second_signature(root: etree._Element) -> None:
    signature = root.find(f"{DS}Signature")
    assert signature is not None
    root.insert(0, copy.deepcopy(signature))


def _extra_reference(root: etree._Element) -> None:
    signed_info = root.find(f"{DS}Signature/{DS}SignedInfo")
    assert signed_info is not None
    signed_info.append(copy.deepcopy(signed_info.findall(f"{DS}Reference")[-1]))


class _Sha1Signer(XAdESSigner):
    def check_deprecated_methods(self) -> None:
        return None


def _sha1() -> bytes:
    pki = build_pki()
    receipt = signer_of(pki.city).seal(receipt_at(days_ago(pki, 1)))
    signer = _Sha1Signer(
        signature_algorithm=SignatureMethod.ECDSA_SHA1, digest_algorithm=DigestAlgorithm.SHA1
    )
    c = pki.city
    return serialize(
        signer.sign(receipt_to_element(receipt), key=c.key, cert=[c.cert, *c.intermediates])
    )


def _bad_seal() -> bytes:
    """A properly signed receipt whose QR seal was made over other content."""
    pki = build_pki()
    signer = signer_of(pki.city)
    receipt = receipt_at(days_ago(pki, 1))
    other = signer.seal(dataclasses.replace(receipt, check_code="zzzzzz"))
    sealed = dataclasses.replace(receipt, seal=other.seal)
    return signer.sign_document(receipt_to_element(sealed), receipt.issued_at)


def _signing_time_mismatch() -> bytes:
    pki = build_pki()
    signer = signer_of(pki.city)
    receipt = signer.seal(receipt_at(days_ago(pki, 1)))
    return signer.sign_document(receipt_to_element(receipt), receipt.issued_at - timedelta(hours=3))


@functools.cache
def bad_receipts() -> dict[str, tuple[bytes, tuple[str, ...]]]:
    """Name → (bytes, expected finding codes)."""
    pki = build_pki()
    good = good_xml()
    receipt = receipt_at(days_ago(pki, 1))
    return {
        "tampered-amount": (good.replace(b">2000.00<", b">9000.00<"), ("digest-mismatch",)),
        "tampered-payer": (
            good.replace("宁夏贺兰山实业有限公司".encode(), "宁夏冒名实业有限公司".encode()),
            ("digest-mismatch",),
        ),
        "tampered-qr-seal": (_bad_seal(), ("seal-invalid",)),
        "certificate-of-another-root": (
            signer_of(pki.foreign).sign_receipt(receipt),
            ("untrusted-certificate",),
        ),
        "expired-before-signing": (
            signer_of(pki.expired).sign_receipt(receipt_at(days_ago(pki, 200))),
            ("expired-at-signing",),
        ),
        "revoked-before-signing": (
            signer_of(pki.revoked).sign_receipt(receipt_at(days_ago(pki, 10))),
            ("revoked",),
        ),
        "wrapping-moved-into-object": (_moved_into_object(good), ("signature-wrapping",)),
        "wrapping-second-signature": (_mutate(good, _second_signature), ("multiple-signatures",)),
        "wrapping-extra-reference": (_mutate(good, _extra_reference), ("signature-wrapping",)),
        "sha1-signature": (_sha1(), ("sha1-refused",)),
        "city-signing-for-another-issuer": (
            signer_of(pki.city).sign_receipt(
                dataclasses.replace(
                    receipt,
                    issuer=dataclasses.replace(
                        receipt.issuer, code="640104", name="银川市兴庆区总工会", parent=None
                    ),
                )
            ),
            ("wrong-signer-org",),
        ),
        "signing-time-not-issue-time": (_signing_time_mismatch(), ("signing-time-mismatch",)),
        "truncated": (good[: len(good) // 2], ("malformed-xml",)),
        "xxe": (
            b'<?xml version="1.0"?>\n<!DOCTYPE Receipt [<!ENTITY x SYSTEM '
            b'"file:///etc/passwd">]>\n<Receipt xmlns="urn:union-dues-receipt:1">&x;'
            b"</Receipt>",
            ("unsafe-xml",),
        ),
    }


def still_valid_after_expiry() -> bytes:
    """Signed while the short-lived certificate was valid; it has expired since."""
    pki = build_pki()
    return signer_of(pki.short_lived).sign_receipt(receipt_at(days_ago(pki, 25)))
