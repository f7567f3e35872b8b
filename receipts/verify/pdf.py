"""Verifying a receipt PDF: what is printed must be what is signed (``docs/security.md``).

The attached XML is verified like any receipt XML. Then the PDF itself, in one of two ways:

* **by rendering** (the fast path): the unsigned PDF is byte-identical to a fresh render of its
  attached XML with the layout version the PDF records. This holds only while reportlab,
  pikepdf, zlib, fontTools and zxing-cpp write the very same bytes, and the verifier has the
  issuer's font;
* **by content** (:mod:`receipts.verify.pdf_content`): the page shows exactly what the layout
  version prints for the XML, in embedded fonts whose digits and capitals are the reference
  glyphs, with a QR code that decodes to the XML's seal, and nothing else a reader would show.
  It needs neither the same library versions nor the issuer's font.

``method="auto"`` (the default) takes the fast path when the bytes are equal and judges by
content otherwise; ``"render"`` is the byte comparison alone, ``"content"`` the content check
alone. A PAdES-signed PDF must carry exactly one signature that covers the whole file, by the
issuer's certificate, in one incremental update of the rendered PDF that adds the signature and
nothing else; its rendered revision is then judged as above.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from receipts.domain.model import Receipt
from receipts.errors import ReceiptError
from receipts.findings import Finding, FindingCode
from receipts.verify.pdf_revisions import revision_findings
from receipts.verify.receipt import ReceiptVerification, verify_receipt_xml
from signing.certificate_profile import org_code_of
from signing.trust import ChainValidator

__all__ = ["METHODS", "Method", "verify_pdf"]

Method = Literal["auto", "render", "content"]
#: The ways a PDF's page can be checked (see the module docstring).
METHODS: tuple[Method, ...] = ("auto", "render", "content")


def verify_pdf(
    data: bytes,
    validator: ChainValidator,
    source: str = "",
    font: Path | str | None = None,
    method: Method = "auto",
) -> ReceiptVerification:
    """Verify a receipt PDF (its attached XML, its page, and its PAdES signature if any).
    ``font`` is the verifier's configured font, used only to re-render (the fast path)."""
    from receipts.render.receipt_pdf import extract_xml, read_layout_version

    try:
        xml = extract_xml(data)
    except ReceiptError as exc:
        return ReceiptVerification(source, False, (Finding(FindingCode.INVALID_PDF, str(exc)),))
    result = verify_receipt_xml(xml, validator, source)
    findings = list(result.findings)
    receipt = result.receipt
    try:
        version = read_layout_version(data)
    except ReceiptError as exc:
        findings.append(Finding(FindingCode.INVALID_PDF, str(exc)))
        return ReceiptVerification(source, False, tuple(findings), receipt, result.digest)
    if method != "content":
        rendered = _rendered(data, xml, version, font, method, findings)
        # In "auto", a rendered PDF with an update that holds no signature is judged by
        # content, which names what the update does; a signed one by its signature's checks.
        unsigned = isinstance(rendered, bytes) and b"/ByteRange" not in data[len(rendered) :]
        if rendered is not None and not (unsigned and method == "auto"):
            if receipt is not None and isinstance(rendered, bytes):
                findings += _pades_findings(
                    data, rendered, validator, receipt.issuer.code, receipt.issued_at
                )
            return ReceiptVerification(
                source, not findings, tuple(findings), receipt, result.digest
            )
    if receipt is None:
        findings.append(
            Finding(FindingCode.RENDER_FAILED, "the attached XML is not a receipt to compare")
        )
    else:
        findings += _content_findings(data, receipt, version, validator)
    return ReceiptVerification(source, not findings, tuple(findings), receipt, result.digest)


def _rendered(
    data: bytes,
    xml: bytes,
    version: int,
    font: Path | str | None,
    method: Method,
    findings: list[Finding],
) -> bytes | bool | None:
    """The fast path: True when ``data`` is a fresh render, the render when ``data`` starts
    with it (a signed PDF), None when the content check must judge (in ``auto``; in
    ``render`` a finding is added and False returned)."""
    from receipts.render.receipt_pdf import render_pdf

    try:
        fresh = render_pdf(xml, font_path=font, layout_version=version)
    except ReceiptError as exc:
        if method == "auto":
            return None  # say, a character only the issuer's fuller font has
        findings.append(
            Finding(FindingCode.RENDER_FAILED, f"the attached XML cannot be rendered: {exc}")
        )
        return False
    if data == fresh:
        return True
    if data.startswith(fresh):
        return fresh
    if method == "auto":
        return None
    findings.append(
        Finding(
            FindingCode.PDF_CONTENT_MISMATCH,
            "the PDF is not what its attached XML renders to: the page, the metadata or "
            "the attachment was changed",
        )
    )
    return False


def _content_findings(
    data: bytes, receipt: Receipt, version: int, validator: ChainValidator
) -> list[Finding]:
    """The content check of the rendered revision; for a PDF with updates, the one PAdES
    signature's checks too."""
    from receipts.verify.pdf_content import content_findings

    findings = content_findings(data, receipt, version)
    updated = any(f.code is FindingCode.PDF_INCREMENTAL_UPDATE for f in findings)
    if not updated or b"/ByteRange" not in data:
        return findings  # no update, or one without a signature: judged as a reader shows it
    base = _signed_base(data)
    if isinstance(base, Finding):
        return [base]
    if base is None:
        return findings
    signed = _pades_findings(data, base, validator, receipt.issuer.code, receipt.issued_at)
    return content_findings(base, receipt, version) + signed


def _signed_base(data: bytes) -> bytes | Finding | None:
    """The revision a PDF's one signature was added to (the rendered PDF, cut at the end of
    its first revision); None when it has no signature."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data))
        signatures = reader.embedded_signatures
        start = reader.xrefs.get_startxref_for_revision(0)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        return Finding(FindingCode.INVALID_PDF, f"the PDF's updates cannot be read: {exc}")
    if not signatures:
        return None
    end = re.compile(rb"startxref\s+%d\s+%%%%EOF(?:\r\n|\r|\n)?" % start).search(data)
    if end is None:
        return Finding(FindingCode.INVALID_PDF, "the PDF's first revision has no end")
    return data[: end.end()]


def _pades_findings(
    data: bytes, rendered: bytes, validator: ChainValidator, issuer: str, issued_at: datetime
) -> list[Finding]:
    """The bytes after the rendered PDF must be one PAdES signature over the whole file, in an
    update that adds nothing else (:mod:`receipts.verify.pdf_revisions`)."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    try:
        reader = PdfFileReader(io.BytesIO(data))
        signatures = reader.embedded_signatures
    except (PdfError, ValueError) as exc:
        return [Finding(FindingCode.INVALID_PDF, f"the PDF's update cannot be read: {exc}")]
    if len(signatures) != 1:
        return [
            Finding(
                FindingCode.PDF_CONTENT_MISMATCH,
                f"the PDF was changed after rendering "
                f"({len(signatures)} signatures where one PAdES signature may be)",
            )
        ]
    (signature,) = signatures
    revisions = revision_findings(reader, signature, rendered)
    if revisions:
        return revisions
    try:
        moment = signature.self_reported_timestamp or issued_at
    except PdfError as exc:  # a signing time (/M) that is not a PDF date
        return [Finding(FindingCode.PADES_INVALID, f"the PDF signing time is not a date: {exc}")]
    context = _validation_context(validator, moment)
    try:
        # The signed update was analysed above and nothing may follow it: pyHanko's own
        # analysis of later updates would only repeat that (and log tracebacks).
        status = validate_pdf_signature(signature, context, skip_diff=True)
    except Exception as exc:
        return [Finding(FindingCode.PADES_INVALID, f"the PDF signature cannot be validated: {exc}")]
    findings: list[Finding] = []
    if not status.bottom_line:
        findings.append(
            Finding(
                FindingCode.PADES_INVALID,
                "the PDF signature does not validate: " + " ".join(status.summary().split()),
            )
        )
    if status.coverage is not SignatureCoverageLevel.ENTIRE_FILE:
        findings.append(
            Finding(
                FindingCode.PDF_CONTENT_MISMATCH,
                "the PDF was changed after it was "
                "signed (the signature does not cover the whole file)",
            )
        )
    signer = x509.load_der_x509_certificate(status.signing_cert.dump())
    if org_code_of(signer) != issuer:
        findings.append(
            Finding(
                FindingCode.WRONG_SIGNER_ORG,
                f"the PDF was signed by {org_code_of(signer)}, but the issuer is {issuer}",
            )
        )
    findings.extend(_tier_findings(validator, signer, signature.other_embedded_certs, moment))
    return findings


def _validation_context(validator: ChainValidator, moment: datetime) -> Any:
    """pyHanko's validation context for the trust bundle, offline, as of ``moment``."""
    from asn1crypto import crl as asn1_crl  # type: ignore[import-untyped]
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import ValidationContext

    def asn1(cert: x509.Certificate) -> object:
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    bundle = validator.bundle
    return ValidationContext(
        trust_roots=[asn1(c) for c in bundle.roots],
        other_certs=[asn1(c) for c in (*bundle.cas, *bundle.signing)],
        crls=[
            asn1_crl.CertificateList.load(c.public_bytes(serialization.Encoding.DER))
            for c in bundle.crls
        ],
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=moment,
    )


def _tier_findings(
    validator: ChainValidator, signer: x509.Certificate, embedded: list[Any], moment: datetime
) -> list[Finding]:
    """The tier rule over the PAdES signer's chain: pyHanko checks trust, not which CA may
    certify which organisation (docs/security.md)."""
    intermediates = [x509.load_der_x509_certificate(c.dump()) for c in embedded]
    check = validator.validate(signer, intermediates, at=moment)
    outside = FindingCode.CERTIFICATE_OUTSIDE_TIER
    return [Finding(outside, f.message) for f in check.findings if f.code == outside.value]
