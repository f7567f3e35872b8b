"""The node's side of tier API authentication (docs/security.md, "Tier API authentication"):
who sent a signed request, whether it may, and that it is not a replay.

A request is accepted only when every check passes, in this order: the headers are all present
and well formed; it is addressed to this node; its time is within :data:`CLOCK_SKEW` of ours;
its signature (:mod:`receipts.transmission.request_signing`) verifies with the certificate it
carries, issued to the organisation it names; that certificate's chain validates against this
workspace's trust as of now, tier rule included (the validator of
:func:`receipts.domain.signed_documents.chain_validator`); the sender is this node's parent or a
child registered in its ledger; and its nonce was not seen before (a table in the ledger, so
every worker process shares it). The body's digest is checked by the route as it reads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from fastapi.responses import JSONResponse
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from receipts.domain.divisions import upstream_of, validate_division_code
from receipts.errors import InvalidInput, ReceiptError
from receipts.ledger.database import Database
from receipts.ledger.models import OrganisationRow, RequestNonce
from receipts.transmission import request_signing as rs
from signing.certificate_profile import org_code_of
from signing.errors import SigningError
from signing.seal import verify_seal
from signing.trust import ChainValidator

__all__ = [
    "CLOCK_SKEW",
    "Peer",
    "TierRefused",
    "authenticate",
    "problem",
    "relation_of",
]

CLOCK_SKEW = timedelta(seconds=300)
"""How far a request's time may be from the node's, either way."""
_NONCE_KEPT = 2 * CLOCK_SKEW
"""A nonce is kept while a request carrying it could still be inside the window."""
_HEX32, _HEX64 = re.compile(r"[0-9a-f]{32}"), re.compile(r"[0-9a-f]{64}")
_MAX_HEADER = 16_384


class TierRefused(ReceiptError):
    """A tier request refused: its HTTP status, a short problem type and one line why."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail

    def response(self) -> JSONResponse:
        """The JSON problem (RFC 9457) answering the request."""
        return problem(self.status, self.kind, self.detail)


def problem(status: int, kind: str, detail: str) -> JSONResponse:
    """An ``application/problem+json`` answer (docs/formats.md, "The tier API")."""
    return JSONResponse(
        {"type": f"urn:receipts:tier:{kind}", "title": kind, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers={"Cache-Control": "no-store"},
    )


@dataclass(frozen=True)
class Peer:
    """An authenticated sender."""

    org: str
    """Its organisation code."""
    relation: str
    """``parent`` or ``child`` of this node."""
    certificate: x509.Certificate
    """The signing certificate it signed with."""
    request: rs.SignedRequest
    """What its signature covers (the route checks the body against ``content_sha256``)."""


def _unauthenticated(detail: str, kind: str = "unauthenticated") -> TierRefused:
    return TierRefused(401, kind, detail)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None or not value.strip():
        raise _unauthenticated(f"the request has no {name} header (tier requests are signed)")
    if len(value) > _MAX_HEADER:
        raise _unauthenticated(f"the {name} header is too long")
    return value.strip()


def _signed_request(
    headers: Mapping[str, str], method: str, path: str, query: str, me: str, now: datetime
) -> rs.SignedRequest:
    """The signed fields of the headers, each checked for form, address and time."""
    sender, recipient = _header(headers, rs.ORG), _header(headers, rs.TO)
    date, nonce = _header(headers, rs.DATE), _header(headers, rs.NONCE)
    digest = _header(headers, rs.CONTENT_SHA256)
    try:
        validate_division_code(sender, what=rs.ORG)
    except InvalidInput as exc:
        raise _unauthenticated(str(exc)) from None
    if recipient != me:
        raise _unauthenticated(f"the request is signed for {recipient[:6]!r}, not for {me}")
    moment = rs.parse_date(date)
    if moment is None:
        raise _unauthenticated(f"{rs.DATE} must be YYYY-MM-DDTHH:MM:SSZ")
    if abs(now - moment) > CLOCK_SKEW:
        raise _unauthenticated(
            f"the request was signed at {date}, more than {CLOCK_SKEW.seconds} s from the "
            f"node's time {rs.format_date(now)} (check the clocks)",
            "stale-request",
        )
    if not _HEX32.fullmatch(nonce) or not _HEX64.fullmatch(digest):
        raise _unauthenticated(f"{rs.NONCE} or {rs.CONTENT_SHA256} is malformed")
    return rs.SignedRequest(
        method, path, rs.canonical_query(query), sender, recipient, date, nonce, digest
    )


def authenticate(
    headers: Mapping[str, str],
    method: str,
    path: str,
    query: str,
    *,
    me: str,
    validator: ChainValidator,
    db: Database,
    now: datetime,
) -> Peer:
    """The authenticated, registered sender of a request; :class:`TierRefused` otherwise (401
    not authenticated, 403 not this node's parent or registered child)."""
    request = _signed_request(headers, method, path, query, me, now)
    certs = rs.decode_certificates(_header(headers, rs.CERTIFICATE))
    if not certs:
        raise _unauthenticated(f"{rs.CERTIFICATE} is not base64 DER certificates")
    leaf = certs[0]
    try:
        holder = org_code_of(leaf)
    except SigningError as exc:
        raise _unauthenticated(str(exc)) from None
    if holder != request.sender:
        raise _unauthenticated(
            f"the certificate was issued to {holder}, not to {request.sender}", "wrong-sender"
        )
    if not verify_seal(leaf, request.message(), _header(headers, rs.SIGNATURE)):
        raise _unauthenticated("the signature does not verify over this request", "bad-signature")
    validation = validator.validate(leaf, certs[1:], at=now)
    if validation.findings:
        first = validation.findings[0]
        raise _unauthenticated(
            f"{request.sender}'s certificate is not trusted here: {first.code}: {first.message}",
            "untrusted-certificate",
        )
    relation = relation_of(db, me, request.sender)
    if relation is None:
        raise TierRefused(
            403,
            "unregistered-peer",
            f"{request.sender} is neither this node's parent nor a child registered here "
            "('receipts org add')",
        )
    _remember_nonce(db, request.sender, request.nonce, now)
    return Peer(request.sender, relation, leaf, request)


def relation_of(db: Database, me: str, sender: str) -> str | None:
    """``parent`` for this federation's upstream, ``child`` for a federation whose upstream it is
    and that its ledger registers (``receipts org add``; docs/security.md), else None."""
    try:
        if sender == upstream_of(me):
            return "parent"
        if upstream_of(sender) != me:
            return None
    except InvalidInput:
        return None
    with db.read() as session:
        known = session.scalar(select(OrganisationRow.code).where(OrganisationRow.code == sender))
    return "child" if known is not None else None


def _remember_nonce(db: Database, org: str, nonce: str, now: datetime) -> None:
    """Record the nonce, refusing one seen before; forget nonces older than the window."""
    try:
        with db.engine.begin() as conn:
            conn.execute(delete(RequestNonce).where(RequestNonce.seen_at < now - _NONCE_KEPT))
            conn.execute(insert(RequestNonce).values(org_code=org, nonce=nonce, seen_at=now))
    except IntegrityError:
        raise _unauthenticated(
            f"nonce {nonce} of {org} was used before: a replayed request", "replayed-request"
        ) from None
