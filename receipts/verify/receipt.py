"""Verifying a receipt as an auditor or a payer's accountant would (``docs/security.md``).

A receipt is valid when its XML signature verifies against the trust bundle as of its signing
time, the signer is the issuer, the signing time is the issue time, the content is a valid
receipt, and its QR seal verifies with the same certificate. Every problem is a finding (code +
sentence); nothing raises for a bad receipt.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from receipts.domain.model import Receipt
from receipts.domain.xmlcodec import qr_payload, receipt_from_element, validate_receipt_schema
from receipts.errors import ReceiptError
from receipts.findings import Finding, FindingCode
from signing import result as signing_result
from signing.certificate_profile import key_id, org_code_of
from signing.keys import PublicKey
from signing.seal import verify_seal
from signing.trust import ChainValidator
from signing.xades_t import (
    DEFAULT_TOLERANCE,
    TimestampError,
    split_signature_timestamp,
    verify_timestamped,
)

__all__ = [
    "ReceiptVerification",
    "from_signing",
    "parse_qr_text",
    "verify_qr_text",
    "verify_receipt_xml",
]

_SHANGHAI = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class ReceiptVerification:
    """The outcome of verifying one receipt (XML, PDF or QR text)."""

    source: str
    """What was verified: a file path, or ``QR``."""
    valid: bool
    """True only when nothing was found."""
    findings: tuple[Finding, ...]
    """Every problem found."""
    receipt: Receipt | None = None
    """The receipt as signed (only what the signature covers), when it could be read."""
    digest: str | None = None
    """SHA-256 of the signed XML as issued (without a signature time-stamp it may carry)."""
    timestamped_at: datetime | None = None
    """The time of its verified signature time-stamp (XAdES-T), when it carries one."""

    @property
    def label(self) -> str:
        """``CODE-NUMBER`` of the receipt, when known."""
        return str(self.receipt.ref) if self.receipt is not None else ""


def verify_receipt_xml(
    data: bytes,
    validator: ChainValidator,
    source: str = "",
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> ReceiptVerification:
    """Verify the signed XML of a receipt. A signature time-stamp it carries is verified too;
    the chain is then judged at its time, and a claimed signing time more than ``tolerance``
    before it is reported (docs/security.md, "Time-stamps")."""
    try:
        issued = split_signature_timestamp(data)[0]
    except TimestampError:
        issued = data  # the verification below reports what is wrong with it
    digest = hashlib.sha256(issued).hexdigest()
    checked = verify_timestamped(data, validator, expected_org=None, tolerance=tolerance)
    result = checked.result
    stamped_at = checked.timestamp.gen_time if checked.timestamp else None
    findings = from_signing(result.findings)
    receipt: Receipt | None = None
    if result.signed_root is not None:
        try:
            validate_receipt_schema(result.signed_root)
            receipt = receipt_from_element(result.signed_root)
        except ReceiptError as exc:
            findings.append(Finding(FindingCode.INVALID_RECEIPT, str(exc)))
    if receipt is not None and result.signer is not None:
        signer_org = org_code_of(result.signer)
        if signer_org != receipt.issuer.code:
            findings.append(
                Finding(
                    FindingCode.WRONG_SIGNER_ORG,
                    f"signed by {signer_org}'s certificate, but the issuer is "
                    f"{receipt.issuer.code}",
                )
            )
        if result.signing_time is not None and result.signing_time != receipt.issued_at:
            findings.append(
                Finding(
                    FindingCode.SIGNING_TIME_MISMATCH,
                    f"signed at {result.signing_time.isoformat()}, but the receipt says it was "
                    f"issued at {receipt.issued_at.isoformat()}",
                )
            )
        findings.extend(_seal_findings(receipt, result.signer))
    return ReceiptVerification(source, not findings, tuple(findings), receipt, digest, stamped_at)


def from_signing(found: Iterable[signing_result.Finding]) -> list[Finding]:
    """The signature checks' findings as this product's (every signing code is one of ours)."""
    return [Finding(FindingCode(f.code), f.message) for f in found]


def _seal_findings(receipt: Receipt, signer: object) -> list[Finding]:
    assert isinstance(signer, x509.Certificate)
    if receipt.seal is None:
        return [Finding(FindingCode.SEAL_MISSING, "the receipt carries no QR seal")]
    signer_key_id, public_key = _seal_key(signer)
    if public_key is None:
        why = "the signing certificate's key type cannot seal receipts"
        return [Finding(FindingCode.SEAL_INVALID, why)]
    if receipt.seal.key_id != signer_key_id:
        return [
            Finding(
                FindingCode.SEAL_KEY_MISMATCH,
                f"the QR seal names key {receipt.seal.key_id}, the "
                f"receipt was signed with key {signer_key_id}",
            )
        ]
    if not verify_seal(public_key, qr_payload(receipt, receipt.seal.key_id), receipt.seal.value):
        return [
            Finding(
                FindingCode.SEAL_INVALID,
                "the QR seal does not verify: the printed QR code would not match this receipt",
            )
        ]
    return []


@functools.lru_cache(maxsize=256)
def _seal_key(cert: x509.Certificate) -> tuple[str, PublicKey | None]:
    # A batch repeats a few signing certificates: read each one's key id and key once.
    public_key = cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return key_id(cert), None
    return key_id(cert), public_key


@dataclass(frozen=True)
class QRFields:
    """What a scanned QR code states."""

    code: str
    """Receipt code."""
    number: str
    """Receipt number (10 digits)."""
    check_code: str
    """Check code."""
    day: str
    """Issue date, ``yyyymmdd``."""
    amount: str
    """Total, two decimals."""
    issuer: str
    """Issuer's org code."""
    key_id: str
    """Signing key id."""
    seal: str
    """The seal value."""
    base_url: str | None = None
    """The public base URL of a QR URL (layout 3), which the seal signs too."""

    @property
    def payload(self) -> bytes:
        """The signed part of the text: ``UDR1|…|key_id``, or ``UDR2|…|key_id|base_url`` for a
        QR URL (as :func:`receipts.domain.xmlcodec.qr_payload`)."""
        parts = [
            "UDR1" if self.base_url is None else "UDR2",
            self.code,
            self.number,
            self.check_code,
            self.day,
            self.amount,
            self.issuer,
            self.key_id,
        ]
        if self.base_url is not None:
            parts.append(self.base_url)
        return "|".join(parts).encode("utf-8")


def parse_qr_text(text: str) -> QRFields:
    """Split a QR text, the classic ``UDR1|…`` or a QR URL (docs/formats.md, "The QR URL"); a
    malformed one is an input error."""
    from receipts.domain.identifiers import (
        validate_check_code,
        validate_number,
        validate_receipt_code,
    )
    from receipts.domain.money import parse_amount
    from receipts.domain.qr_url import split_qr_url
    from receipts.errors import InvalidInput

    base_url = None
    text = text.strip()
    if text[:8].lower().startswith(("https://", "http://")):
        try:
            base_url, text = split_qr_url(text)
        except InvalidInput as exc:
            raise InvalidInput(f"not a receipt QR code: {exc}") from None
    parts = text.split("|")
    if len(parts) != 9 or parts[0] != "UDR1":
        raise InvalidInput(
            "not a receipt QR code (expected UDR1|code|number|check code|date|"
            "amount|issuer|key id|seal)"
        )
    _, code, number, check_code, day, amount, issuer, kid, seal = parts
    validate_receipt_code(code)
    validate_number(number)
    validate_check_code(check_code)
    try:
        datetime.strptime(day, "%Y%m%d")
    except ValueError:
        raise InvalidInput(f"QR date {day!r} is not yyyymmdd") from None
    parse_amount(amount, allow_negative=True)
    return QRFields(code, number, check_code, day, amount, issuer, kid, seal, base_url)


def _seal_invalid(fields: QRFields) -> str:
    if fields.base_url is None:
        return (
            "the QR seal does not verify: the text was altered or was not issued by this "
            "federation (a QR code that is a URL is verified as the whole URL)"
        )
    return (
        f"the QR seal does not verify: the URL (under {fields.base_url}) or its fields were "
        "altered, or it was not issued by this federation; do not trust the page it opens"
    )


def _whole_day_findings(
    validator: ChainValidator, cert: x509.Certificate, day: str
) -> list[Finding]:
    """What stops ``cert``'s chain from being valid all through ``day`` (yyyymmdd, China time).
    A validity period is one interval, so valid at the day's first and last instant means valid
    all day; revocation counts from its moment on, so the last instant sees every revocation
    made that day."""
    start = datetime.combine(datetime.strptime(day, "%Y%m%d").date(), time(0), _SHANGHAI)
    last = start + timedelta(days=1) - timedelta(microseconds=1)
    found: list[Finding] = []
    for moment in (start, last):
        for finding in from_signing(
            validator.validate(cert, validator.bundle.cas, at=moment).findings
        ):
            if all(f.code != finding.code for f in found):  # the same fault, once
                found.append(finding)
    return found


def verify_qr_text(text: str, validator: ChainValidator) -> ReceiptVerification:
    """Verify a scanned QR text on its own: the seal with the issuer's certificate from the
    trust bundle (found by org code and key id), and that certificate's chain over the whole
    issue day.

    The QR payload carries the issue date but no time (``docs/formats.md``), so the moment the
    seal was made is unknown: the check takes the day's worst case. The chain must be valid for
    the whole day in China time, from 00:00 to 24:00 +08:00, and a revocation at any moment
    before the day's end counts. A receipt sealed on a day its certificate started, expired or
    was revoked is therefore not accepted from its QR code alone; its XML or PDF carries the exact
    signing time and is verified as of that (``docs/security.md``)."""
    fields = parse_qr_text(text)
    source = f"QR {fields.code}-{fields.number} {fields.amount} of {fields.issuer}, {fields.day}"
    if fields.base_url is not None:
        source += f", URL under {fields.base_url}"
    bundle = validator.bundle
    cert = bundle.signing_certificate(fields.issuer, fields.key_id)
    if cert is None:
        return ReceiptVerification(
            "QR",
            False,
            (
                Finding(
                    FindingCode.UNKNOWN_KEY,
                    f"the trust bundle has no signing certificate of {fields.issuer} with key id "
                    f"{fields.key_id}",
                ),
            ),
        )
    findings: list[Finding] = []
    if not verify_seal(cert, fields.payload, fields.seal):
        findings.append(Finding(FindingCode.SEAL_INVALID, _seal_invalid(fields)))
    findings.extend(_whole_day_findings(validator, cert, fields.day))
    return ReceiptVerification(source, not findings, tuple(findings))
