"""Enveloped XAdES-BES signatures over whole XML documents: sign, and verify as of signing time.

Signing uses signxml's ``XAdESSigner``: ``URI=""`` (the root has no Id), ECDSA-SHA256 (or
RSA-SHA256 for an RSA key), SHA-256 digests, inclusive C14N 1.0 (the XML-DSig default, so the
XAdES references signxml writes without Transforms mean the same to every verifier), and a
KeyInfo with the signing certificate and its intermediate, not the root.

**SigningTime** is the caller's ``signing_time`` (the receipt's issue time), written verbatim
with its UTC offset: signxml writes ``datetime.now()`` in ``XAdESSigner.add_signing_time``, an
annotator it calls while building SignedProperties, so :class:`_TimedSigner` overrides it.

Verification (:func:`verify_enveloped`) first checks that the signature has exactly our shape
(:mod:`signing.xmlprofile`), validates the certificate chain *as of the signing time* with a
:class:`~signing.trust.ChainValidator`, and only then lets signxml check digests and the
signature against that already-validated certificate. No canonicalisation or reference
resolution is written here. signxml's XSD validation of the signature is skipped: the shape
check admits only the exact elements we write, which is narrower than the schemas.

The caller loads its key once and passes it to every :func:`sign_enveloped` call.

**Engines.** Both functions run the strict-profile code by default (:mod:`signing.strict_sign`,
:mod:`signing.strict_verify`: the same shape, check and output without signxml's general
machinery); ``engine="signxml"`` (or ``RECEIPTS_XMLDSIG_ENGINE=signxml`` in the environment) runs
signxml, the reference the differential tests compare against (docs/security.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml.algorithms import (
    DigestAlgorithm,
    SignatureMethod,
)
from signxml.xades.xades import (
    XAdESDataObjectFormat,
    XAdESSigner,
)

from signing.certificate_profile import org_code_of
from signing.errors import InvalidSignature, SigningError
from signing.keys import PrivateKey
from signing.result import Finding, FindingCode, SignedDocument, VerificationResult
from signing.strict_shape import inspect_strict
from signing.strict_sign import check_signable, sign_strict
from signing.strict_verify import check_signature, detached_document
from signing.trust import ChainValidator
from signing.xmldsig_signxml import (
    C14N_METHOD,
    certificate_from_b64,
    check_with_signxml,
    parse_signing_time,
)
from signing.xmlparse import MAX_XML_BYTES, UnsafeXML, parse_untrusted
from signing.xmlprofile import XADES_NS, inspect_signature

__all__ = [
    "C14N_METHOD",
    "ENGINE_ENV",
    "FUTURE_TOLERANCE",
    "Engine",
    "raise_for",
    "sign_enveloped",
    "verify_enveloped",
]

#: A claimed signing time this far after the verifier's clock is still accepted (clock skew).
FUTURE_TOLERANCE = timedelta(minutes=5)
#: The environment variable that picks the engine when a call does not.
ENGINE_ENV = "RECEIPTS_XMLDSIG_ENGINE"
Engine = Literal["strict", "signxml"]
_DATA_OBJECT_FORMAT = XAdESDataObjectFormat(Description="Signed XML document", MimeType="text/xml")


class _TimedSigner(XAdESSigner):
    """signxml's XAdES signer with a caller-given SigningTime (signxml writes the clock's)."""

    def __init__(self, signing_time_text: str, **kwargs: Any) -> None:
        super().__init__(data_object_format=_DATA_OBJECT_FORMAT, **kwargs)
        self._signing_time_text = signing_time_text

    def add_signing_time(
        self,
        signed_signature_properties: etree._Element,
        sig_root: etree._Element,
        signing_settings: Any,
    ) -> None:
        node = etree.SubElement(
            signed_signature_properties, f"{{{XADES_NS}}}SigningTime", nsmap=self.namespaces
        )
        node.text = self._signing_time_text


def _engine(engine: Engine | None) -> Engine:
    chosen = engine or os.environ.get(ENGINE_ENV) or "strict"
    if chosen not in ("strict", "signxml"):
        raise ValueError(f"{ENGINE_ENV} must be strict or signxml, not {chosen!r}")
    return "signxml" if chosen == "signxml" else "strict"


def _signature_method(key: PrivateKey) -> SignatureMethod:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return SignatureMethod.ECDSA_SHA256
    if isinstance(key, rsa.RSAPrivateKey):
        return SignatureMethod.RSA_SHA256
    raise SigningError(f"cannot sign with a {type(key).__name__}")


def sign_enveloped(
    root: etree._Element,
    key: PrivateKey,
    cert: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    signing_time: datetime,
    *,
    engine: Engine | None = None,
) -> etree._Element:
    """Return a signed copy of ``root`` with an enveloped XAdES-BES signature as its last child.

    ``signing_time`` becomes the XAdES SigningTime exactly (it must carry a UTC offset and whole
    seconds). ``intermediates`` go into KeyInfo after ``cert``; never pass the root.
    """
    if _engine(engine) == "strict":
        return sign_strict(root, key, cert, intermediates, signing_time)
    check_signable(root, key, cert, signing_time)
    signer = _TimedSigner(
        signing_time.isoformat(),
        signature_algorithm=_signature_method(key),
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=C14N_METHOD,
    )
    signed: etree._Element = signer.sign(
        root, key=key, cert=[cert, *intermediates], always_add_key_value=False
    )
    return signed


def _result(
    findings: list[Finding],
    signer: x509.Certificate | None = None,
    signing_time: datetime | None = None,
    signed: SignedDocument | None = None,
) -> VerificationResult:
    valid = not findings and signed is not None
    return VerificationResult(
        valid, tuple(findings), signer, signing_time, signed if valid else None
    )


def verify_enveloped(
    data: bytes,
    validator: ChainValidator,
    *,
    expected_org: str | None,
    now: datetime | None = None,
    max_bytes: int = MAX_XML_BYTES,
    chain_time: datetime | None = None,
    engine: Engine | None = None,
) -> VerificationResult:
    """Verify one signed XML document; every problem found comes back as a finding.

    ``expected_org`` is the issuer's org code the signer must have (``None`` skips that check).
    ``max_bytes`` bounds the document (a receipt's 1,000,000 by default; a manifest that lists
    every receipt of a package or an archive is given more by its reader).
    The chain is validated as of the document's SigningTime, so a receipt signed while its
    certificate was valid still verifies after the certificate expires. ``now`` (default: the
    clock) only serves to refuse signing times in the future. ``chain_time``, when given, is
    the moment the chain is validated at instead: a verified signature time-stamp's
    (:mod:`signing.xades_t`), which the signer cannot choose. ``engine`` picks who checks the
    digests and the signature value (the module's docstring).
    """
    try:
        root = parse_untrusted(data, max_bytes=max_bytes)
    except UnsafeXML as exc:
        message = str(exc)
        malformed = message.startswith("malformed XML") or message.endswith("is empty")
        code = FindingCode.MALFORMED_XML if malformed else FindingCode.UNSAFE_XML
        return _result([Finding.of(code, message)])
    strict = _engine(engine) == "strict"
    # The strict engine's walk gives inspect_signature's answer, faster for our own shape (and
    # faster still with the bytes, when they are the UTF-8 its byte filters read).
    utf8 = data if (root.getroottree().docinfo.encoding or "").upper() == "UTF-8" else None
    shape = inspect_strict(root, utf8) if strict else inspect_signature(root)
    if isinstance(shape, Finding):
        return _result([shape])

    try:
        certs = [certificate_from_b64(text) for text in shape.certificates_b64]
    except ValueError as exc:
        unreadable = Finding.of(FindingCode.MALFORMED_SIGNATURE, f"unreadable certificate: {exc}")
        return _result([unreadable])
    leaf, intermediates = certs[0], certs[1:]
    signing_time = parse_signing_time(shape.signing_time_text)
    if signing_time is None:
        message = f"SigningTime {shape.signing_time_text!r} is not a date-time with a UTC offset"
        return _result([Finding.of(FindingCode.MALFORMED_SIGNATURE, message)], leaf)

    at = signing_time if chain_time is None else chain_time
    findings = list(validator.validate(leaf, intermediates, at=at).findings)
    clock = datetime.now(UTC) if now is None else now
    if signing_time > clock + FUTURE_TOLERANCE:
        findings.append(
            Finding.of(
                FindingCode.SIGNING_TIME_IN_FUTURE,
                f"the signing time {shape.signing_time_text} lies in the future",
            )
        )
    if expected_org is not None:
        findings.extend(_org_findings(leaf, expected_org))
    signed: SignedDocument | None
    if strict:
        signed, crypto = check_signature(root, shape, leaf, data)
        if signed is not None:
            # The tree is this function's own and done with: handed over, it spares a caller
            # that reads the document parsing the canonical bytes again.
            signature = shape.signature
            signed = SignedDocument(
                data=signed.data, tree=lambda: detached_document(root, signature)
            )
    else:
        signed_root, crypto = check_with_signxml(root, shape, leaf, signing_time)
        signed = None if signed_root is None else SignedDocument(root=signed_root)
    return _result(findings + crypto, leaf, signing_time, signed)


def _org_findings(leaf: x509.Certificate, expected_org: str) -> list[Finding]:
    try:
        org = org_code_of(leaf)
    except SigningError as exc:
        return [Finding.of(FindingCode.WRONG_SIGNER_ORG, str(exc))]
    if org == expected_org:
        return []
    return [
        Finding.of(
            FindingCode.WRONG_SIGNER_ORG,
            f"signed by {org}'s certificate, but the issuer is {expected_org}",
        )
    ]


def raise_for(result: VerificationResult) -> None:
    """Raise :class:`InvalidSignature` with the first finding's message unless ``result`` is ok."""
    if not result.valid:
        first = result.findings[0] if result.findings else None
        raise InvalidSignature(first.message if first else "the signature is not valid")
