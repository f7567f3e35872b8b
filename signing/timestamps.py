"""RFC 3161 time-stamp tokens: issuing them (a time-stamp authority), asking for them, and
checking them (docs/security.md, "Time-stamps").

Tokens are built and read with asn1crypto and pyHanko's time-stamp support, never by hand:
:class:`_TokenSigner` is pyHanko's ``DummyTimeStamper`` (its TSTInfo and SignedData builders)
with what a real authority needs on top, and the client side is pyHanko's ``TimeStamper``
(request building, status and nonce handling) over any transport.

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
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos, cms, core, tsp  # type: ignore[import-untyped]
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign import general
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.keys import PrivateKey
from signing.result import Finding, FindingCode
from signing.trust import ChainValidator

__all__ = [
    "DEFAULT_POLICY",
    "QUERY_TYPE",
    "REPLY_TYPE",
    "RecordSerial",
    "TimeStampAuthority",
    "TimeStampError",
    "TimeStampReply",
    "TokenCheck",
    "check_token",
    "is_time_stamping_certificate",
    "request_token",
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

#: ``record(serial, gen_time, imprint)``: store a serial the authority is about to use; False
#: when it was used before (the authority then draws another).
RecordSerial = Callable[[int, datetime, bytes], bool]


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


def _tsa_usage_problem(cert: x509.Certificate) -> str | None:
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


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _signature_algorithm(key: PrivateKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "sha256_ecdsa"
    if isinstance(key, rsa.RSAPrivateKey):
        return "sha256_rsa"
    raise TimeStampError(f"cannot sign time-stamps with a {type(key).__name__}")


class _TokenSigner(DummyTimeStamper):
    """pyHanko's self-signing time stamper, made an authority: our policy, serials and clock,
    ECDSA or RSA keys, SigningCertificateV2, and certificates only when asked for."""

    def __init__(
        self,
        key: PrivateKey,
        chain: Sequence[x509.Certificate],
        policy: str,
        record: RecordSerial | None,
        clock: Callable[[], datetime],
    ) -> None:
        certs = [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in chain
        ]
        key_info = asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        super().__init__(
            certs[0],
            key_info,
            certs_to_embed=SimpleCertificateStore.from_certs(certs[1:]),  # type: ignore[no-untyped-call]
            include_nonce=False,
        )
        self._key = key
        self._policy = policy
        self._record = record
        self._clock = clock

    def _new_serial(self, gen_time: datetime, imprint: bytes) -> int:
        for _ in range(8):
            # 127 bits: positive, far beyond any collision, within RFC 3161's 160-bit bound.
            serial = int.from_bytes(os.urandom(16), "big") >> 1
            if self._record is None or self._record(serial, gen_time, imprint):
                return serial
        raise TimeStampError("no unused serial number after eight draws: the serial log is broken")

    def _build_tst_info(
        self, message_imprint: tsp.MessageImprint, dt: datetime, req: tsp.TimeStampReq
    ) -> tsp.TSTInfo:
        serial = self._new_serial(dt, bytes(message_imprint["hashed_message"].native))
        args: dict[str, Any] = {
            "version": "v1",
            "policy": tsp.ObjectIdentifier(self._policy),
            "message_imprint": message_imprint,
            "serial_number": serial,
            "gen_time": dt,
            "tsa": asn1_x509.GeneralName(name="directory_name", value=self.tsa_cert.subject),
        }
        if req["nonce"].native is not None:
            args["nonce"] = req["nonce"]
        return tsp.TSTInfo(args)

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        signed_attrs = cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                _attribute(
                    "signing_certificate_v2",
                    general.as_signing_certificate_v2(self.tsa_cert, "sha256"),
                ),
                _attribute("message_digest", hashlib.sha256(tst_info_data).digest()),
            ]
        )
        data = signed_attrs.dump()
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            signature = self._key.sign(data, ec.ECDSA(hashes.SHA256()))
        else:
            signature = self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return signature, signed_attrs

    def respond(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp | TimeStampReply:
        imprint = req["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != "sha256":
            return _rejection("bad_alg", "only SHA-256 message imprints are accepted")
        if len(bytes(imprint["hashed_message"].native)) != 32:
            return _rejection("bad_data_format", "the message imprint is not 32 bytes")
        if req["version"].native != "v1":
            return _rejection("bad_request", "only version 1 requests are accepted")
        if req["extensions"].native:
            return _rejection("unaccepted_extension", "no request extension is accepted")
        asked = req["req_policy"].native
        if asked is not None and asked != self._policy:
            return _rejection("unaccepted_policy", f"this authority issues policy {self._policy}")
        # The authority's clock, in UTC and whole seconds: genTime is ours, not the requester's.
        self.fixed_dt = self._clock().astimezone(UTC).replace(microsecond=0)
        tst_info = self._build_tst_info(imprint, self.fixed_dt, req)
        data = tst_info.dump()
        signature, signed_attrs = self._sign_tst_info(data, "sha256", self.fixed_dt)
        signed_data = self._build_signed_data(data, "sha256", signature, signed_attrs)
        signed_data["signer_infos"][0]["signature_algorithm"] = algos.SignedDigestAlgorithm(
            {"algorithm": _signature_algorithm(self._key)}
        )
        if not req["cert_req"].native:
            del signed_data["certificates"]
        token = cms.ContentInfo(
            {"content_type": "signed_data", "content": cms.SignedData(signed_data)}
        )
        status = tsp.PKIStatusInfo({"status": "granted"})
        return tsp.TimeStampResp({"status": status, "time_stamp_token": token})


class TimeStampReply(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """RFC 3161's ``TimeStampResp`` with the token optional, as the RFC has it (asn1crypto's
    ``tsp.TimeStampResp`` requires it, so a rejection could be neither built nor read)."""

    _fields = [  # noqa: RUF012 (asn1crypto's declaration style)
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _attribute(kind: str, value: Any) -> Any:
    return general.simple_cms_attribute(kind, value)  # type: ignore[no-untyped-call]


def _rejection(failure: str, text: str) -> TimeStampReply:
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({failure})}
    )
    return TimeStampReply({"status": status})


class TimeStampAuthority:
    """An RFC 3161 time-stamp authority over a TSA key and its certificate chain.

    ``chain``: the TSA certificate first, then its intermediates (never the root). ``record``
    stores each serial before it is used (see :data:`RecordSerial`); ``clock`` is the
    authority's clock (default: the system's).
    """

    def __init__(
        self,
        key: PrivateKey,
        chain: Sequence[x509.Certificate],
        *,
        policy: str = DEFAULT_POLICY,
        record: RecordSerial | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not chain or chain[0].public_key() != key.public_key():
            raise TimeStampError("the TSA key does not match the TSA certificate")
        problem = _tsa_usage_problem(chain[0])
        if problem is not None:
            raise TimeStampError(problem.replace("the time-stamp's signer", "the TSA certificate"))
        try:
            core.ObjectIdentifier(policy).dump()
        except (ValueError, TypeError):
            raise TimeStampError(f"policy {policy!r} is not an object identifier") from None
        self.certificate = chain[0]
        self.policy = policy
        self._signer = _TokenSigner(key, chain, policy, record, clock)

    def respond(self, query: bytes) -> bytes:
        """The DER ``TimeStampResp`` for a DER ``TimeStampReq`` (a bad one gets a rejection)."""
        if len(query) > MAX_QUERY_BYTES:
            reply = _rejection("bad_request", "the request is too large")
        else:
            try:
                req = tsp.TimeStampReq.load(query, strict=True)
                req.native  # noqa: B018 (parses every field now, so a bad one is refused here)
            except (ValueError, TypeError, KeyError) as exc:
                reply = _rejection("bad_request", f"not a time-stamp request: {exc}")
            else:
                reply = self._signer.respond(req)
        return bytes(reply.dump())

    def stamp(self, data: bytes) -> bytes:
        """A token (DER ``ContentInfo``) over SHA-256 of ``data``, asked for in process."""
        return request_token(data, self.respond)


class _Transport(TimeStamper):
    """pyHanko's client side (request with nonce and certReq; status and nonce checks) over
    ``send``, which carries a DER query to an authority and returns its DER reply."""

    def __init__(self, send: Callable[[bytes], bytes]) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self._send = send

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> TimeStampReply:
        reply = self._send(req.dump())
        try:
            response: TimeStampReply = TimeStampReply.load(reply, strict=True)
            response.native  # noqa: B018 (parse it all now)
        except (ValueError, TypeError, KeyError) as exc:
            raise TimeStampError(
                f"the authority's reply is not a time-stamp reply: {exc}"
            ) from None
        return response


def request_token(data: bytes, send: Callable[[bytes], bytes]) -> bytes:
    """A token over SHA-256 of ``data`` from the authority ``send`` reaches (DER query in, DER
    reply out): the request carries a nonce and asks for the certificates, and the reply must
    be granted, echo the nonce and time-stamp exactly this imprint."""
    digest = hashlib.sha256(data).digest()
    try:
        token = asyncio.run(_Transport(send).async_timestamp(digest, "sha256"))
    except TimestampRequestError as exc:
        raise TimeStampError(str(exc)) from None
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    if bytes(tst_info["message_imprint"]["hashed_message"].native) != digest:
        raise TimeStampError("the authority time-stamped another imprint than the one sent")
    return bytes(token.dump())


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
    usage = _tsa_usage_problem(checked)
    if usage is not None:
        return _invalid(usage)
    others = [c for c in certs if c != checked]
    chain = validator.validate(checked, others, at=gen_time)
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
