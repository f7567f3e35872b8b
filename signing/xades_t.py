"""XAdES-T: a signature time-stamp in the unsigned properties of our XAdES-BES signatures
(docs/formats.md, "The signature time-stamp"; docs/security.md, "Time-stamps").

Per ETSI EN 319 132-1 (§5.3, SignatureTimeStamp), the time-stamp is an RFC 3161 token over the
canonicalised ``ds:SignatureValue`` element (inclusive C14N 1.0, named in the element), kept as
``xades:QualifyingProperties/xades:UnsignedProperties/xades:UnsignedSignatureProperties/
xades:SignatureTimeStamp/xades:EncapsulatedTimeStamp`` (base64 DER). The signature does not
cover it (the enveloped-signature transform removes the whole ``ds:Signature``), so adding it
changes the file's bytes but neither what was signed nor the signature; :mod:`signing.xmlprofile`
admits exactly this one unsigned shape.

:func:`add_signature_timestamp` inserts the element as bytes just before the closing tag of
QualifyingProperties, so every other byte of the signed file stays as it was and
:func:`split_signature_timestamp` gives the original file back exactly (what the ledger's digest
names). :func:`verify_timestamped` verifies a document and, when it carries a time-stamp,
validates the signer's chain at the time-stamp's time instead of the claimed SigningTime and
compares the two.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from signing.result import Finding, FindingCode, VerificationResult
from signing.timestamps import TokenCheck, check_token, is_time_stamping_certificate
from signing.trust import ChainValidator
from signing.xmldsig import FUTURE_TOLERANCE, verify_enveloped
from signing.xmlparse import MAX_XML_BYTES, UnsafeXML, parse_untrusted
from signing.xmlprofile import DS_NS, XADES_NS, SignatureShape, inspect_signature

__all__ = [
    "C14N_10",
    "DEFAULT_TOLERANCE",
    "TimestampedVerification",
    "add_signature_timestamp",
    "has_signature_timestamp",
    "signature_timestamp_input",
    "split_signature_timestamp",
    "verify_timestamped",
]

#: The canonicalisation we compute the time-stamp's input with (and name in the element).
C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
_EXCLUSIVE = "http://www.w3.org/2001/10/xml-exc-c14n#"
#: How far a claimed SigningTime may lie before its time-stamp before it is reported
#: (``signing-time-backdated``); receipts are stamped at the latest when transmitted, so this must
#: exceed the longest wait between issuing and transmitting. A city transmits at least at each
#: month's close: 45 days covers a month of receipts and the close. A federation that stamps soon
#: after issue (a timer) sets a tighter ``[tsa] tolerance_hours`` (docs/security.md, "Time-stamps").
DEFAULT_TOLERANCE = timedelta(days=45)
_MARKER = b"SignatureTimeStamp"


class TimestampError(ValueError):
    """A document cannot take, or give back, a signature time-stamp."""


def _shape(xml: bytes) -> SignatureShape:
    try:
        root = parse_untrusted(xml)
    except UnsafeXML as exc:
        raise TimestampError(str(exc)) from None
    shape = inspect_signature(root)
    if isinstance(shape, Finding):
        raise TimestampError(shape.message)
    return shape


def _c14n(signature_value: etree._Element, algorithm: str) -> bytes:
    data: bytes = etree.tostring(
        signature_value, method="c14n", exclusive=algorithm == _EXCLUSIVE, with_comments=False
    )
    return data


def _signature_value(shape: SignatureShape) -> etree._Element:
    value = shape.signature.find(f"{{{DS_NS}}}SignatureValue")
    assert value is not None  # inspect_signature checked the signature's children
    return value


def signature_timestamp_input(xml: bytes) -> bytes:
    """What a signature time-stamp of the signed document ``xml`` is made over: its
    ``ds:SignatureValue`` element, canonicalised with inclusive C14N 1.0."""
    return _c14n(_signature_value(_shape(xml)), C14N_10)


def has_signature_timestamp(xml: bytes) -> bool:
    """Whether the signed document ``xml`` carries a signature time-stamp."""
    return _MARKER in xml and _shape(xml).timestamp_b64 is not None


def _unsigned_text(token: bytes) -> bytes:
    # Fixed prefixes, declared on the element itself: right whatever prefixes the document
    # binds, and byte-for-byte what split_signature_timestamp removes again.
    b64 = base64.b64encode(token).decode("ascii")
    return (
        f'<xades:UnsignedProperties xmlns:xades="{XADES_NS}" xmlns:ds="{DS_NS}">'
        "<xades:UnsignedSignatureProperties><xades:SignatureTimeStamp>"
        f'<ds:CanonicalizationMethod Algorithm="{C14N_10}"/>'
        f"<xades:EncapsulatedTimeStamp>{b64}</xades:EncapsulatedTimeStamp>"
        "</xades:SignatureTimeStamp></xades:UnsignedSignatureProperties>"
        "</xades:UnsignedProperties>"
    ).encode("ascii")


def add_signature_timestamp(xml: bytes, token: bytes) -> bytes:
    """``xml`` (a signed document of ours) with the time-stamp ``token`` (DER) in its unsigned
    properties; every other byte unchanged. Refused when it has one already."""
    shape = _shape(xml)
    if shape.timestamp_b64 is not None:
        raise TimestampError("the signature is time-stamped already")
    qualifying = shape.signature.find(f"{{{DS_NS}}}Object/{{{XADES_NS}}}QualifyingProperties")
    assert qualifying is not None  # inspect_signature checked it
    prefix = qualifying.prefix
    closing = f"</{prefix}:QualifyingProperties>" if prefix else "</QualifyingProperties>"
    marker = closing.encode("utf-8")
    if xml.count(marker) != 1:
        raise TimestampError("the signature's QualifyingProperties cannot be found unambiguously")
    at = xml.index(marker)
    stamped = xml[:at] + _unsigned_text(token) + xml[at:]
    if _shape(stamped).timestamp_b64 != base64.b64encode(token).decode("ascii"):
        raise TimestampError("the time-stamp did not land in the signature's unsigned properties")
    return stamped


def split_signature_timestamp(xml: bytes) -> tuple[bytes, bytes | None]:
    """(the document without its time-stamp, the token) of a document stamped by
    :func:`add_signature_timestamp`; (``xml``, None) for one without. The document given back
    is checked to be the same tree less the time-stamp, so nothing else can ride along."""
    if _MARKER not in xml:
        return xml, None
    shape = _shape(xml)
    if shape.timestamp_b64 is None:
        return xml, None
    try:
        token = base64.b64decode(shape.timestamp_b64, validate=True)
    except (binascii.Error, ValueError):
        raise TimestampError("the EncapsulatedTimeStamp is not base64") from None
    text = _unsigned_text(token)
    if xml.count(text) != 1:
        raise TimestampError("the time-stamp is not in the form this product writes")
    base = xml.replace(text, b"")
    original = _shape(base)
    if original.timestamp_b64 is not None:
        raise TimestampError("the time-stamp is not in the form this product writes")
    unsigned = shape.signature.find(
        f"{{{DS_NS}}}Object/{{{XADES_NS}}}QualifyingProperties/{{{XADES_NS}}}UnsignedProperties"
    )
    assert unsigned is not None and unsigned.getparent() is not None
    unsigned.getparent().remove(unsigned)  # type: ignore[union-attr]
    stamped_tree = shape.signature.getroottree()
    same = etree.tostring(stamped_tree, method="c14n", with_comments=True) == etree.tostring(
        original.signature.getroottree(), method="c14n", with_comments=True
    )
    if not same:
        raise TimestampError("removing the time-stamp changes more than the time-stamp")
    return base, token


@dataclass(frozen=True)
class TimestampedVerification:
    """A document's verification, with its time-stamp's when it carries a valid one."""

    result: VerificationResult
    """The signature's verification (findings include the time-stamp's)."""
    timestamp: TokenCheck | None
    """The verified time-stamp; None when there is none or it was refused."""


def _read_token(
    data: bytes, validator: ChainValidator, max_bytes: int
) -> TokenCheck | Finding | None:
    try:
        root = parse_untrusted(data, max_bytes=max_bytes)
    except UnsafeXML:
        return None  # verify_enveloped reports it
    shape = inspect_signature(root)
    if isinstance(shape, Finding) or shape.timestamp_b64 is None:
        return None
    try:
        token = base64.b64decode(shape.timestamp_b64, validate=True)
    except (binascii.Error, ValueError):
        return Finding.of(FindingCode.TIMESTAMP_INVALID, "the EncapsulatedTimeStamp is not base64")
    algorithm = shape.timestamp_c14n or C14N_10
    return check_token(token, _c14n(_signature_value(shape), algorithm), validator)


def verify_timestamped(
    data: bytes,
    validator: ChainValidator,
    *,
    expected_org: str | None,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    max_bytes: int = MAX_XML_BYTES,
) -> TimestampedVerification:
    """:func:`signing.xmldsig.verify_enveloped`, time-stamp aware.

    With a valid time-stamp the signer's chain is validated at its time (the claimed
    SigningTime is the signer's word; the time-stamp is not), and a SigningTime more than
    ``tolerance`` before it is reported as backdated, one after it (beyond clock skew) as
    impossible. A time-stamp that does not verify is a finding, and the chain is then validated
    at the claimed time as for an unstamped document. A time-stamping certificate never signs a
    document.
    """
    read = _read_token(data, validator, max_bytes) if _MARKER in data else None
    stamp = read if isinstance(read, TokenCheck) else None
    result = verify_enveloped(
        data,
        validator,
        expected_org=expected_org,
        now=now,
        max_bytes=max_bytes,
        chain_time=stamp.gen_time if stamp else None,
    )
    extra: list[Finding] = [read] if isinstance(read, Finding) else []
    if result.signer is not None and is_time_stamping_certificate(result.signer):
        extra.append(
            Finding.of(
                FindingCode.BAD_KEY_USAGE,
                "the document is signed with a time-stamping certificate, which signs "
                "time-stamps only",
            )
        )
    if stamp is not None and result.signing_time is not None:
        extra.extend(_time_findings(result.signing_time, stamp.gen_time, tolerance))
    if not extra:
        return TimestampedVerification(result, stamp)
    findings = (*result.findings, *extra)
    refused = VerificationResult(False, findings, result.signer, result.signing_time, None)
    return TimestampedVerification(refused, stamp)


def _time_findings(claimed: datetime, stamped: datetime, tolerance: timedelta) -> list[Finding]:
    def ts(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    if claimed < stamped - tolerance:
        return [
            Finding.of(
                FindingCode.SIGNING_TIME_BACKDATED,
                f"the signature claims {ts(claimed)} but was time-stamped at {ts(stamped)}, "
                f"{_days(stamped - claimed)} later (tolerance {_days(tolerance)})",
            )
        ]
    if claimed > stamped + FUTURE_TOLERANCE:
        return [
            Finding.of(
                FindingCode.TIMESTAMP_BEFORE_SIGNING,
                f"the signature claims {ts(claimed)} but was time-stamped earlier, at "
                f"{ts(stamped)}",
            )
        ]
    return []


def _days(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"
