"""The signature time-stamps an archive's receipts carry, on their way back into a ledger
(``receipts archive restore``; docs/formats.md, "Archives and time-stamps").

An archive holds each time-stamped receipt as XAdES-T: the signed XML with its RFC 3161 token in
the signature's unsigned properties. A ledger keeps the receipt exactly as issued, whose digest
its events and the metadata name, and the token beside it (receipts/ledger/timestamp_models.py).
So the restore takes the time-stamp off, byte for byte, and keeps the token only once it is
verified over this receipt's own signature value: a token that belongs to another receipt, or
that does not verify, stops the restore before anything is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from receipts.errors import InvalidInput
from receipts.ledger.models import LedgerState
from receipts.tsa.stamping import record_token
from signing.result import Finding
from signing.timestamps import TokenCheck, check_token
from signing.trust import ChainValidator
from signing.xades_t import TimestampError, signature_timestamp_input, split_signature_timestamp

__all__ = ["ArchivedReceipt", "archived_receipts", "keep_tokens"]


@dataclass(frozen=True)
class ArchivedReceipt:
    """One ``receipts/`` member of an archive, split into what a ledger keeps."""

    xml: bytes
    """The receipt as issued (without its time-stamp)."""
    digest: str
    """SHA-256 of ``xml``: the receipt's digest."""
    token: bytes | None = None
    """Its time-stamp token (DER), when it carries one."""
    check: TokenCheck | None = None
    """What the verified token says (its time and serial), with ``token``."""


def _refused(what: str, path: str, why: str) -> InvalidInput:
    return InvalidInput(f"{what}: {path}: {why}; nothing was restored")


def archived_receipt(
    data: bytes, validator: ChainValidator, what: str, path: str
) -> ArchivedReceipt:
    """The member ``path`` of the archive ``what`` as issued, with its verified token."""
    try:
        issued, token = split_signature_timestamp(data)
        if token is None:
            return ArchivedReceipt(issued, hashlib.sha256(issued).hexdigest())
        imprinted = signature_timestamp_input(issued)
    except TimestampError as exc:
        raise _refused(what, path, f"its time-stamp cannot be taken off ({exc})") from None
    checked = check_token(token, imprinted, validator)
    if isinstance(checked, Finding):
        raise _refused(what, path, f"its time-stamp token is refused ({checked.message})")
    return ArchivedReceipt(issued, hashlib.sha256(issued).hexdigest(), token, checked)


def archived_receipts(
    members: Mapping[str, bytes], validator: ChainValidator, what: str
) -> dict[str, ArchivedReceipt]:
    """Every ``receipts/`` member of an archive's ``members``, by path (see
    :func:`archived_receipt`)."""
    return {
        path: archived_receipt(data, validator, what, path)
        for path, data in members.items()
        if path.startswith("receipts/")
    }


def keep_tokens(
    session: Session, state: LedgerState, stamped: list[tuple[str, int, ArchivedReceipt]]
) -> None:
    """Keep each restored receipt's token beside it, with its ``receipt.timestamped`` event
    (after the receipts' own events: the chain says the receipt first, then its time-stamp)."""
    for code, number, receipt in stamped:
        assert receipt.token is not None and receipt.check is not None
        record_token(session, state, code, number, receipt.token, receipt.check)
