"""Verifying a receipt PDF: what is printed must be what is signed (``docs/security.md``).

The attached XML is verified like any receipt XML. Then the PDF itself: the unsigned PDF must be
byte-identical to a fresh render of its attached XML with the layout version the PDF records
(rendering is deterministic, and old layouts stay renderable), so an edited page or a swapped
attachment is caught. A PAdES-signed PDF must carry exactly one signature that covers the whole
file, by the issuer's certificate, in one incremental update of that same rendered PDF that adds
the signature and nothing else.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from receipts.errors import ReceiptError
from receipts.findings import Finding, FindingCode
from receipts.verify.pdf_revisions import revision_findings
from receipts.verify.receipt import ReceiptVerification, verify_receipt_xml
from signing.certificate_profile import org_code_of
from signing.trust import ChainValidator

__all__ = ["verify_pdf"]


def verify_pdf(
    data: bytes, validator: ChainValidator, source: str = "", font: Path | str | None = None
) -> ReceiptVerification:
    """Verify a receipt PDF (its attached XML, its page, and its PAdES signature if any)."""
    from receipts.render.receipt_pdf import extract_xml, read_layout_version, render_pdf

    try:
        xml = extract_xml(data)
    except ReceiptError as exc:
        return ReceiptVerification(source, False, (Finding(FindingCode.INVALID_PDF, str(exc)),))
    result = verify_receipt_xml(xml, validator, source)
    findings = list(result.findings)
    try:
        version = read_layout_version(data)
        fresh = render_pdf(xml, font_path=font, layout_version=version)
    except ReceiptError as exc:
        findings.append(
            Finding(FindingCode.RENDER_FAILED, f"the attached XML cannot be rendered: {exc}")
        )
        return ReceiptVerification(source, False, tuple(findings), result.receipt, result.digest)
    if data != fresh:
        if not data.startswith(fresh):
            findings.append(
                Finding(
                    FindingCode.PDF_CONTENT_MISMATCH,
                    "the PDF is not what its attached XML renders to: the page, the metadata or "
                    "the attachment was changed",
                )
            )
        elif result.receipt is not None:
            findings.extend(
                _pades_findings(
                    data, fresh, validator, result.receipt.issuer.code, result.receipt.issued_at
                )
            )
    return ReceiptVerification(source, not findings, tuple(findings), result.receipt, result.digest)


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
