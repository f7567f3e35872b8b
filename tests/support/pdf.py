"""What the PDF tests share: receipts, their signed XML and rendered PDFs (built once per
session), and running outside PDF tools (skipped when missing, failed when ``CI=true``).

The receipts: a normal one with three items, rare characters in the payer's name (龘, 犇) and
an issuer USCC; and its red reversal. They are sealed and signed with the test PKI of
:mod:`tests.support.pki` through ``signing/``, as at issue.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from receipts.domain.enums import PayerKind, Tier
from receipts.domain.model import Organisation, Payer, QRSeal, Receipt
from receipts.domain.xmlcodec import qr_payload, receipt_to_element, serialize
from receipts.render.receipt_pdf import render_pdf
from signing.certificate_profile import key_id
from signing.seal import sign_seal
from signing.xmldsig import sign_enveloped
from tests.support.factories import make_item, make_receipt, make_reversal
from tests.support.pki import build_pki
from tests.support.skips import need_tool

__all__ = [
    "GOLDEN",
    "ISSUER",
    "PACKAGES",
    "PAYER_NAME",
    "fixed_seal_xml",
    "normal_pdf",
    "normal_receipt",
    "normal_xml",
    "pdftotext",
    "reversal_pdf",
    "reversal_receipt",
    "reversal_xml",
    "run_tool",
    "sign_receipt",
]

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden"
PAYER_NAME = "宁夏龘犇贺兰山实业有限公司"
ISSUER = Organisation("640100", "银川市总工会", Tier.CITY, uscc="81640100MA7600001K")
#: A fixed key for tests whose page must not depend on the session's random PKI.
_FIXED_KEY = ec.derive_private_key(0x5EED_0F_4EC3_1275, ec.SECP256R1())


def normal_receipt() -> Receipt:
    """A normal receipt, unsealed: three items, one with basis and rate."""
    return make_receipt(
        issuer=ISSUER,
        payer=Payer(PAYER_NAME, PayerKind.ENTERPRISE, uscc="91640100MA7600001J"),
        items=(
            make_item(),
            make_item(code="02", name="会员会费", amount=Decimal("1409.50"), basis=None, rate=None),
            make_item(
                code="03",
                name="建会筹备金",
                period="2026-09",
                amount=Decimal("123.45"),
                basis=None,
                rate=None,
            ),
        ),
    )


def reversal_receipt() -> Receipt:
    """The red reversal of :func:`normal_receipt`."""
    original = normal_receipt()
    return make_reversal(
        original,
        issuer=original.issuer,
        payer=original.payer,
        reason="交款人名称开具错误,按规定冲红",
    )


def sign_receipt(receipt: Receipt) -> bytes:
    """Seal and sign ``receipt`` with the test PKI's 640100 key: the XML as issued."""
    pki = build_pki()
    kid = key_id(pki.city.cert)
    sealed = replace(receipt, seal=QRSeal(kid, sign_seal(pki.city.key, qr_payload(receipt, kid))))
    root = sign_enveloped(
        receipt_to_element(sealed),
        pki.city.key,
        pki.city.cert,
        pki.city.intermediates,
        receipt.issued_at,
    )
    return serialize(root)


def fixed_seal_xml(receipt: Receipt) -> bytes:
    """Unsigned XML with a QR seal from a fixed key: the same bytes in every session."""
    kid = "5eed0001"
    sealed = replace(receipt, seal=QRSeal(kid, sign_seal(_FIXED_KEY, qr_payload(receipt, kid))))
    return serialize(receipt_to_element(sealed))


@functools.cache
def normal_xml() -> bytes:
    return sign_receipt(normal_receipt())


@functools.cache
def reversal_xml() -> bytes:
    return sign_receipt(reversal_receipt())


@functools.cache
def normal_pdf() -> bytes:
    return render_pdf(normal_xml())


@functools.cache
def reversal_pdf() -> bytes:
    return render_pdf(reversal_xml())


#: The Debian package of each outside tool the PDF tests run.
PACKAGES = {
    "pdftotext": "poppler-utils",
    "pdffonts": "poppler-utils",
    "pdfdetach": "poppler-utils",
    "qpdf": "qpdf",
    "certutil": "libnss3-tools",
    "pdfsig": "poppler-utils",
}


def run_tool(name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``name`` with ``args``; its output as text."""
    return subprocess.run(
        [need_tool(name, PACKAGES[name]), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def pdftotext(pdf: bytes, *flags: str) -> str:
    """The text pdftotext extracts from ``pdf`` (UTF-8)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "receipt.pdf"
        path.write_bytes(pdf)
        return run_tool("pdftotext", *flags, "-enc", "UTF-8", str(path), "-").stdout
