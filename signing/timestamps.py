"""RFC 3161 time-stamp tokens: asking an authority for them, and checking them
(docs/security.md, "Time-stamps"). The authority that issues them is
:mod:`signing.timestamp_authority`.

Tokens are read with asn1crypto and pyHanko's time-stamp support, never by hand: the client side
is pyHanko's ``TimeStamper`` (request building, status and nonce handling) over any transport.

What an authority here guarantees, and :func:`check_token` relies on:

- the message imprint is SHA-256 (other algorithms are refused with ``badAlg``);
- the requester's nonce is echoed; a requested policy other than the configured one is refused
  with ``unacceptedPolicy``; the TSTInfo carries the configured policy OID;
- every serial number is new: a random 127-bit number that the caller's ``record`` must accept
  (it stores it, and refuses one seen before, in which case another is drawn);
- ``genTime`` is the authority's own clock (UTC, whole seconds), never the requester's claim;
- the SignedData is signed with the TSA key (ECDSA P-256 or RSA, SHA-256), names the TSA
  certificate by ``SigningCertificateV2`` (SHA-256, RFC 5816), and carries the certificates when
  ``certReq`` is set.

:func:`check_token` verifies a token over some bytes: the imprint, the CMS signature and signed
attributes, that the signer is the certificate ``SigningCertificateV2`` names, that it carries
the critical extended key usage ``id-kp-timeStamping`` and nothing else (RFC 3161 §2.3), and
that its chain to a trusted root is valid at ``genTime``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from signing.result import Finding, FindingCode
from signing.trust import ChainValidator

__all__ = [
    "DEFAULT_POLICY",
    "MAX_QUERY_BYTES",
    "MAX_TOKEN_BYTES",
    "QUERY_TYPE",
    "REPLY_TYPE",
    "TimeStampError",
    "TimeStampReply",
    "TokenCheck",
    "check_token",
    "is_time_stamping_certificate",
    "request_token",
    "tsa_usage_problem",
]

#: The policy OID an authority names unless configured otherwise: an OID under ITU-T X.667's
#: UUID arc (2.25), which anyone may mint, so the product claims no one else's arc.
DEFAULT_POLICY = "2.25.238755245458915233498102541213003735331"
#: HTTP content types of RFC 3161 §3.4.
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
#: A query larger than this is refused unread (a real one is about 60 bytes).
MAX_QUERY_BYTES = 4096
#: A token larger than this is refused unread (ours are about 1.5 kB with two certificates).
MAX_TOKEN_BYTES = 64 * 1024


class TimeStampError(Exception):
    """A time-stamp could not be obtained, or a reply is not a usable token."""


def is_time_stamping_certificate(cert: x509.Certificate) -> bool:
    """Whether ``cert`` carries the extended key usage ``id-kp-timeStamping`` (any criticality):
    such a certificate signs time-stamps only, never documents."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.TIME_STAMPING in usage


def tsa_usage_problem(cert: x509.Certificate) -> str | None:
    """Why ``cert`` may not sign time-stamps (RFC 3161 §2.3), or None."""
    try:
        extension = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return "the time-stamp's signer has no extended key usage id-kp-timeStamping"
    if list(extension.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        return "the time-stamp's signer's extended key usage is not id-kp-timeStamping alone"
    if not extension.critical:
        return "the time-stamp's signer's extended key usage id-kp-timeStamping is not critical"
    return None


class TimeStampReply(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """RFC 3161's ``TimeStampResp`` with the token optional, as the RFC has it (asn1crypto's
    ``tsp.TimeStampResp`` requires it, so a rejection could be neither built nor read)."""

    _fields = [  # noqa: RUF012 (asn1crypto's declaration style)
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class _Transport(TimeStamper):
    """pyHanko's client side (request with nonce and certReq; status and nonce checks) over
    ``send``, which carries a DER query to an authority and returns its DER reply."""

    def __init__(self, send: Callable[[bytes], bytes]) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self._send = send

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> TimeStampReply:
        reply = self._send(req.dump())
        try:
            # Parse it all now, on a copy of its own: see _read_all. The reply handed on stays
            # untouched, so its token's DER is the authority's bytes, read, never re-encoded.
            _read_all(TimeStampReply.load(reply, strict=True))
            response: TimeStampReply = TimeStampReply.load(reply, strict=True)
        except (ValueError, TypeError, KeyError) as exc:
            raise TimeStampError(
                f"the authority's reply is not a time-stamp reply: {exc}"
            ) from None
        return response


def _read_all(value: Any, depth: int = 5) -> None:
    """Parse every field of ``value``, as ``.native`` does, but without ``.native`` on the
    outer values. A token's ESSCertIDv2 leaves out its default hash algorithm (DER), and
    asn1crypto fills the default in as a changed value; from then on every ``.native`` or
    ``.dump()`` above it re-encodes all beneath it, twice per level, so the cost doubles with
    each level above: ``.native`` of a whole reply made tens of thousands of encodings, most of
    a token's time. Below ``depth`` levels (reply, token, SignedData, its fields, one signer
    information or certificate) values are read whole with ``.native``."""
    if depth > 0 and isinstance(value, core.Choice):
        _read_all(value.chosen, depth - 1)
    elif depth > 0 and isinstance(value, core.Sequence) and type(value) is not core.Sequence:
        for name in value:
            _read_all(value[name], depth - 1)
    elif (
        depth > 0
        and isinstance(value, core.SequenceOf)
        and type(value) not in (core.SequenceOf, core.SetOf)
    ):
        for child in value:
            _read_all(child, depth - 1)
    else:
        value.native  # noqa: B018


async def _token_der(transport: _Transport, digest: bytes) -> bytes:
    """The token's DER, checked to time-stamp ``digest``. Bytes, not the asn1crypto value, are
    the task's result: ``asyncio.run`` restoring its SIGINT handler formats the task, result
    included, and an asn1crypto value's repr is its full DER encoding."""
    token = await transport.async_timestamp(digest, "sha256")
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    if bytes(tst_info["message_imprint"]["hashed_message"].native) != digest:
        raise TimeStampError("the authority time-stamped another imprint than the one sent")
    return bytes(token.dump())


def request_token(data: bytes, send: Callable[[bytes], bytes]) -> bytes:
    """A token over SHA-256 of ``data`` from the authority ``send`` reaches (DER query in, DER
    reply out): the request carries a nonce and asks for the certificates, and the reply must
    be granted, echo the nonce and time-stamp exactly this imprint."""
    digest = hashlib.sha256(data).digest()
    try:
        return asyncio.run(_token_der(_Transport(send), digest))
    except TimestampRequestError as exc:
        raise TimeStampError(str(exc)) from None


@dataclass(frozen=True)
class TokenCheck:
    """What a verified token says."""

    gen_time: datetime
    """When the authority time-stamped (its clock, UTC)."""
    serial: int
    """The token's serial number."""
    policy: str
    """The authority's policy OID."""
    authority: x509.Certificate
    """The TSA certificate that signed it."""


def _invalid(message: str) -> Finding:
    return Finding.of(FindingCode.TIMESTAMP_INVALID, message)


def check_token(token: bytes, data: bytes, validator: ChainValidator) -> TokenCheck | Finding:
    """Verify the time-stamp ``token`` (DER) over ``data``; a finding says why it is refused."""
    if len(token) > MAX_TOKEN_BYTES:
        return _invalid(f"the time-stamp token is larger than {MAX_TOKEN_BYTES} bytes")
    try:
        info = cms.ContentInfo.load(token, strict=True)
        if info["content_type"].native != "signed_data":
            return _invalid("the time-stamp token is not CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            return _invalid("the time-stamp token does not hold a TSTInfo")
        tst_bytes = bytes(encap["content"].contents)
        tst_info = tsp.TSTInfo.load(tst_bytes, strict=True)
        tst_info.native  # noqa: B018 (parse every field now)
        signer_infos = list(signed["signer_infos"])
        certs = [
            x509.load_der_x509_certificate(c.chosen.dump())
            for c in (signed["certificates"] or [])
            if c.name == "certificate"
        ]
    except (ValueError, TypeError, KeyError) as exc:
        return _invalid(f"the time-stamp token cannot be read: {exc}")
    imprint = tst_info["message_imprint"]
    if imprint["hash_algorithm"]["algorithm"].native != "sha256":
        return _invalid("the time-stamp's message imprint is not SHA-256")
    if bytes(imprint["hashed_message"].native) != hashlib.sha256(data).digest():
        return _invalid("the time-stamp was made over other data (its message imprint differs)")
    if len(signer_infos) != 1:
        return _invalid(f"the time-stamp token has {len(signer_infos)} signers, not one")
    try:
        checked = _check_signer(signer_infos[0], tst_bytes, certs)
    except (ValueError, TypeError, KeyError) as exc:
        # asn1crypto parses nested values lazily: a malformed signer shows up only here.
        return _invalid(f"the time-stamp's signer information cannot be read: {exc}")
    if isinstance(checked, Finding):
        return checked
    gen_time = tst_info["gen_time"].native.astimezone(UTC)
    usage = tsa_usage_problem(checked)
    if usage is not None:
        return _invalid(usage)
    others = [c for c in certs if c != checked]
    chain = validator.validate(checked, others, at=gen_time, purpose="time-stamp")
    if chain.findings:
        first = chain.findings[0]
        return _invalid(f"the time-stamp authority's certificate is refused: {first.message}")
    return TokenCheck(
        gen_time, int(tst_info["serial_number"].native), tst_info["policy"].dotted, checked
    )


def _check_signer(
    signer: cms.SignerInfo, tst_bytes: bytes, certs: list[x509.Certificate]
) -> x509.Certificate | Finding:
    """The certificate that signed the token, once its signature and signed attributes check."""
    sid = signer["sid"].chosen
    if not isinstance(sid, cms.IssuerAndSerialNumber):
        return _invalid("the time-stamp's signer is not named by issuer and serial number")
    cert = next(
        (
            c
            for c in certs
            if c.serial_number == sid["serial_number"].native
            and c.issuer.public_bytes() == sid["issuer"].dump()
        ),
        None,
    )
    if cert is None:
        return _invalid("the time-stamp token does not carry its signer's certificate")
    if signer["digest_algorithm"]["algorithm"].native != "sha256":
        return _invalid("the time-stamp's signature does not use SHA-256")
    attrs = signer["signed_attrs"]
    values: dict[str, list[Any]] = {}
    for attr in attrs:
        values.setdefault(attr["type"].native, []).extend(attr["values"])
    if [v.native for v in values.get("content_type", [])] != ["tst_info"]:
        return _invalid("the time-stamp's signed content type is not TSTInfo")
    digests = [bytes(v.native) for v in values.get("message_digest", [])]
    if digests != [hashlib.sha256(tst_bytes).digest()]:
        return _invalid("the time-stamp's TSTInfo was changed after it was signed")
    named = values.get("signing_certificate_v2", [])
    der = cert.public_bytes(serialization.Encoding.DER)
    if len(named) != 1 or not any(
        bytes(ess["cert_hash"].native) == hashlib.sha256(der).digest()
        and ess["hash_algorithm"]["algorithm"].native == "sha256"
        for ess in named[0]["certs"]
    ):
        return _invalid("the time-stamp does not name its signer by SigningCertificateV2")
    # The signature covers the signed attributes DER-encoded as a SET (RFC 5652 §5.4).
    message = attrs.untag().dump(force=True)
    signature = bytes(signer["signature"].native)
    public_key = cert.public_key()
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            return _invalid("the time-stamp's signer has a key of an unsupported type")
    except InvalidSignature:
        return _invalid("the time-stamp's signature does not verify")
    return cert
