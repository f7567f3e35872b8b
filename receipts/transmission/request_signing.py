"""Signed tier API requests (docs/formats.md, "The tier API"; docs/security.md, "Tier API
authentication"): the canonical text a request's signature covers and its headers, shared by the
client (:mod:`receipts.transmission.http_client`) and the node (``receipts.node.request_auth``).

The signature is the federation's own receipt-signing key's (the key its certificate binds to its
organisation code), over one line each of: a version tag, the method, the path, the sorted query,
the sender's and the recipient's organisation codes, the time, a random nonce and the SHA-256 of
the body. So a body swapped under a valid signature, a request replayed at another node or later,
and a child speaking as its sibling are all refused by the node.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from receipts.pki.signer import ReceiptSigner

__all__ = [
    "CERTIFICATE",
    "CONTENT_SHA256",
    "DATE",
    "MAX_CERTIFICATES",
    "NONCE",
    "ORG",
    "SIGNATURE",
    "TO",
    "VERSION",
    "SignedRequest",
    "canonical_query",
    "decode_certificates",
    "encode_certificates",
    "format_date",
    "parse_date",
    "sign_request",
    "sign_request_digest",
]

VERSION = "receipts-tier-request-1"
"""The first line of the signed text: a signature made for something else never verifies."""
ORG = "Receipts-Org"
"""The sender's organisation code (its certificate's)."""
TO = "Receipts-To"
"""The recipient node's organisation code: a request signed for one node is refused by another."""
DATE = "Receipts-Date"
"""When the request was signed, ``YYYY-MM-DDTHH:MM:SSZ``."""
NONCE = "Receipts-Nonce"
"""32 lowercase hex digits, random per request (a retry signs again with a new one)."""
CONTENT_SHA256 = "Receipts-Content-SHA256"
"""The SHA-256 of the body, 64 lowercase hex digits (of nothing for an empty body)."""
CERTIFICATE = "Receipts-Certificate"
"""The sender's signing certificate, then the CA certificates up to the root, each base64 DER,
comma-separated."""
SIGNATURE = "Receipts-Signature"
"""The signature over :meth:`SignedRequest.message`, base64url (as a chain head's)."""
MAX_CERTIFICATES = 4
"""A signing certificate and at most three CA certificates above it."""

_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def format_date(moment: datetime) -> str:
    """A request's time as its header spells it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(text: str) -> datetime | None:
    """The header's time, or None when it is not spelled exactly so."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def canonical_query(query: str) -> str:
    """The query string as signed: its parameters decoded, sorted, and encoded again, so that
    the client's and the server's spelling of the same parameters agree."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def encode_certificates(certs: Sequence[x509.Certificate]) -> str:
    """The certificate header's value."""
    return ",".join(
        base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii") for c in certs
    )


def decode_certificates(value: str) -> list[x509.Certificate] | None:
    """The certificates of a header's value; None when it is malformed or holds too many."""
    parts = [p.strip() for p in value.split(",")]
    if not value or len(parts) > MAX_CERTIFICATES:
        return None
    try:
        return [x509.load_der_x509_certificate(base64.b64decode(p, validate=True)) for p in parts]
    except ValueError:
        return None


@dataclass(frozen=True)
class SignedRequest:
    """What a request's signature covers."""

    method: str
    """``GET``, ``POST``…"""
    path: str
    """The URL's path, as the node receives it."""
    query: str
    """The canonical query (:func:`canonical_query`)."""
    sender: str
    """The sender's organisation code."""
    recipient: str
    """The node's organisation code."""
    date: str
    """The time header's text."""
    nonce: str
    """The nonce header's text."""
    content_sha256: str
    """The body's SHA-256, hex."""

    def message(self) -> bytes:
        """The signed text: one field a line, after the version tag."""
        fields = (
            VERSION,
            self.method.upper(),
            self.path,
            self.query,
            self.sender,
            self.recipient,
            self.date,
            self.nonce,
            self.content_sha256,
        )
        return "\n".join(fields).encode("utf-8")


def sign_request(
    signer: ReceiptSigner,
    recipient: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    *,
    now: datetime | None = None,
) -> Mapping[str, str]:
    """The headers of a signed request (a new nonce each call)."""
    digest = hashlib.sha256(body).hexdigest()
    return sign_request_digest(signer, recipient, method, path, query, digest, now=now)


def sign_request_digest(
    signer: ReceiptSigner,
    recipient: str,
    method: str,
    path: str,
    query: str,
    content_sha256: str,
    *,
    now: datetime | None = None,
) -> Mapping[str, str]:
    """:func:`sign_request` for a body known by its SHA-256 (hex): a package file hashed as it
    is read, never held whole."""
    request = SignedRequest(
        method,
        path,
        canonical_query(query),
        signer.org_code,
        recipient,
        format_date(now or datetime.now(UTC)),
        secrets.token_hex(16),
        content_sha256,
    )
    return {
        ORG: request.sender,
        TO: request.recipient,
        DATE: request.date,
        NONCE: request.nonce,
        CONTENT_SHA256: request.content_sha256,
        CERTIFICATE: encode_certificates([signer.certificate, *signer.intermediates]),
        SIGNATURE: signer.sign(request.message()),
    }
