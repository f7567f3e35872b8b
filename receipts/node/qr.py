"""``GET /q``: the page a receipt's QR code opens (docs/formats.md, "The QR URL").

The QR URL carries the receipt's code, number, check code, date, amount, issuer, key id and
seal. The node looks the receipt up with those details exactly as the form does (so a QR URL
of a receipt this ledger does not hold gets the same "not found" page) and, since it is cheap
(one signature and a cached chain), also verifies the seal against the node's trust: the page
says whether the QR code itself is genuine, beside what the ledger says.

The URL checked is the one the receipt printed: ``[serve] public_base_url`` + ``/q?`` + the
query as received (behind a reverse proxy the node's own address differs from the public one);
without a configured base URL, the address the request came to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from starlette.requests import Request

from receipts.domain.model import ReceiptRef
from receipts.domain.qr_url import QR_PATH
from receipts.errors import InvalidInput
from receipts.node.lookups import Details, PublicReceipt, public_lookup
from receipts.node.state import NodeState
from receipts.verify.receipt import parse_qr_text, verify_qr_text

__all__ = ["QrScan", "SealCheck", "qr_lookup"]


@dataclass(frozen=True)
class SealCheck:
    """Whether the QR code's seal verified against this node's trust."""

    valid: bool
    """The seal verified and its certificate was valid all through the issue day."""
    messages: tuple[str, ...]
    """The findings when it did not."""


@dataclass(frozen=True)
class QrScan:
    """A scanned QR URL: its details, the look-up's answer and the seal check."""

    details: Details
    """The details the URL carries."""
    answer: PublicReceipt
    """What the ledger says."""
    seal: SealCheck
    """What the seal says."""


def scanned_url(state: NodeState, request: Request) -> str:
    """The QR URL as printed on the receipt (see the module's docstring)."""
    base = state.config.public_base_url or str(request.base_url).rstrip("/")
    return f"{base}{QR_PATH}?{request.url.query}"


def qr_lookup(state: NodeState, request: Request) -> QrScan | None:
    """Look up the receipt a QR URL names; None when the URL is not a receipt's QR URL."""
    url = scanned_url(state, request)
    try:
        fields = parse_qr_text(url)
    except InvalidInput:
        return None
    ref = ReceiptRef(fields.code, int(fields.number))
    details = Details(ref, fields.check_code, Decimal(fields.amount))
    answer = public_lookup(state, details)
    verification = verify_qr_text(url, state.validator)
    seal = SealCheck(verification.valid, tuple(f.message for f in verification.findings))
    return QrScan(details, answer, seal)
