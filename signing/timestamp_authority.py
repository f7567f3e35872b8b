"""An RFC 3161 time-stamp authority (docs/security.md, "Time-stamps"): what it guarantees is
listed in :mod:`signing.timestamps`, whose :func:`~signing.timestamps.check_token` relies on it.

Tokens are built with asn1crypto and pyHanko's time-stamp support, never by hand:
:class:`_TokenSigner` is pyHanko's ``DummyTimeStamper`` (its TSTInfo and SignedData builders)
with what a real authority needs on top.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos, cms, core, tsp  # type: ignore[import-untyped]
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign import general
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.keys import PrivateKey
from signing.timestamps import (
    DEFAULT_POLICY,
    MAX_QUERY_BYTES,
    TimeStampError,
    TimeStampReply,
    request_token,
    tsa_usage_problem,
)

__all__ = ["RecordSerial", "TimeStampAuthority"]

#: ``record(serial, gen_time, imprint)``: store a serial the authority is about to use; False
#: when it was used before (the authority then draws another).
RecordSerial = Callable[[int, datetime, bytes], bool]


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
        # The attribute naming the TSA certificate is the same in every token: encoded once,
        # and each token reads it back from DER. Built per token, its ESSCertIDv2 (a changed
        # value, with the default hash algorithm left out of DER) made asn1crypto re-encode
        # it hundreds of times per token, twice more for each level above it.
        self._signing_certificate = _attribute(
            "signing_certificate_v2", general.as_signing_certificate_v2(self.tsa_cert, "sha256")
        ).dump()
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
                cms.CMSAttribute.load(self._signing_certificate),
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
        problem = tsa_usage_problem(chain[0])
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
