"""The optional PAdES B-B signature: valid for pyHanko's validator and for poppler's pdfsig
(with only the test root trusted), covering the revision with the attached XML."""

from __future__ import annotations

import functools
import io
import subprocess
from pathlib import Path

import pikepdf
import pytest
from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from receipts.render.receipt_pdf import (
    LATEST_LAYOUT,
    InvalidPDF,
    extract_xml,
    pdf_signer,
    read_layout_version,
    sign_pdf,
)
from tests.support.pdf import normal_pdf, normal_xml, run_tool
from tests.support.pki import build_pki
from tests.support.skips import need_tool


@functools.cache
def _signed() -> bytes:
    pki = build_pki()
    return sign_pdf(normal_pdf(), pki.city.key, pki.city.cert, pki.city.intermediates)


def _pyhanko_status(data: bytes) -> PdfSignatureStatus:
    pki = build_pki()
    root = asn1_x509.Certificate.load(pki.root.public_bytes(serialization.Encoding.DER))
    context = ValidationContext(trust_roots=[root], allow_fetching=False)
    (signature,) = PdfFileReader(io.BytesIO(data)).embedded_signatures
    return validate_pdf_signature(signature, context)


def test_pyhanko_validates_the_signature_with_the_root_trusted() -> None:
    status = _pyhanko_status(_signed())
    assert status.bottom_line, status.summary()
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE


def test_the_signed_revision_holds_the_attachment_and_metadata() -> None:
    signed = _signed()
    assert signed.startswith(normal_pdf())  # an incremental update over the rendered PDF
    assert extract_xml(signed) == normal_xml()
    assert read_layout_version(signed) == LATEST_LAYOUT == 3
    with pikepdf.open(io.BytesIO(signed)) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "3"
        assert str(pdf.docinfo.Producer) == meta["pdf:Producer"]
        (field,) = list(pdf.Root.AcroForm.Fields)
        assert field.V.SubFilter == "/ETSI.CAdES.detached"


def _nss_db(tmp: Path) -> Path:
    need_tool("certutil", "libnss3-tools")
    db = tmp / "nss"
    db.mkdir()
    root = tmp / "root.pem"
    root.write_bytes(build_pki().root.public_bytes(serialization.Encoding.PEM))
    run_tool("certutil", "-N", "-d", f"sql:{db}", "--empty-password")
    run_tool("certutil", "-A", "-d", f"sql:{db}", "-n", "root", "-t", "CT,C,C", "-i", str(root))
    return db


def _pdfsig(db: Path, pdf: Path) -> str:
    result: subprocess.CompletedProcess[str] = run_tool(
        "pdfsig", "-nssdir", f"sql:{db}", str(pdf), check=False
    )
    # pdfsig exits 0 even for a wrong digest: the verdict is in its text.
    return result.stdout + result.stderr


def test_pdfsig_validates_the_signature_and_refuses_a_changed_file(tmp_path: Path) -> None:
    need_tool("pdfsig", "poppler-utils")
    db = _nss_db(tmp_path)
    good = tmp_path / "signed.pdf"
    good.write_bytes(_signed())
    report = _pdfsig(db, good)
    assert "Signature is Valid." in report, report
    assert "Certificate is Trusted." in report, report
    assert "Total document signed" in report, report
    changed = tmp_path / "changed.pdf"
    producer = b"union-dues-receipts (ReportLab)"
    assert producer in _signed()
    changed.write_bytes(_signed().replace(producer, b"onion-dues-receipts (ReportLab)"))
    report = _pdfsig(db, changed)
    assert "Signature is Valid." not in report, report


def test_one_signer_signs_many_pdfs_with_rsa_too() -> None:
    pki = build_pki()
    signer = pdf_signer(pki.city_rsa.key, pki.city_rsa.cert, pki.city_rsa.intermediates)
    for _ in range(2):
        status = _pyhanko_status(signer.sign(normal_pdf()))
        assert status.bottom_line


def test_signing_something_else_than_a_pdf_is_refused() -> None:
    pki = build_pki()
    with pytest.raises(InvalidPDF, match="cannot sign"):
        sign_pdf(b"not a pdf", pki.city.key, pki.city.cert)
