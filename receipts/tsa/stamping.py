"""Signature time-stamps of receipts (docs/security.md, "Time-stamps"): getting them, keeping
them beside the receipts, and putting them into the XML that leaves the ledger.

A receipt's row and its digest stay the signed XML as issued; its token is a
:class:`~receipts.ledger.timestamp_models.ReceiptTimestampRow`, recorded by a
``receipt.timestamped`` event (code, number, the token's SHA-256, its time and serial).
:func:`stamped_xml` gives the XAdES-T file (the same bytes with the time-stamp in the
signature's unsigned properties), which transmission packages carry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, rfc3339, sign_head
from receipts.ledger.models import Event, ReceiptRow, Transmission
from receipts.ledger.timestamp_models import ReceiptTimestampRow
from receipts.tsa.client import http_sender
from signing.result import Finding
from signing.timestamp_authority import TimeStampAuthority
from signing.timestamps import (
    TimeStampError,
    TokenCheck,
    check_token,
    request_token,
)
from signing.trust import ChainValidator
from signing.xades_t import add_signature_timestamp, signature_timestamp_input

__all__ = [
    "TIMESTAMP_EVENT",
    "StampOutcome",
    "Stamper",
    "http_stamper",
    "local_stamper",
    "record_token",
    "stamp_pending",
    "stamped_xml",
    "tokens_for",
]

#: The event that records a receipt's time-stamp.
TIMESTAMP_EVENT = "receipt.timestamped"
_RECEIPT_EVENTS = ("receipt.issued", "receipt.imported")

#: ``stamper(data)``: an RFC 3161 token (DER) over SHA-256 of ``data``.
Stamper = Callable[[bytes], bytes]

_Key = tuple[str, int]


def http_stamper(url: str, timeout: float) -> Stamper:
    """Tokens from the authority at ``url`` (``[tsa] url``)."""
    send = http_sender(url, timeout)
    return lambda data: request_token(data, send)


def local_stamper(authority: TimeStampAuthority) -> Stamper:
    """Tokens from this workspace's own authority, in process."""
    return authority.stamp


@dataclass(frozen=True)
class StampOutcome:
    """What :func:`stamp_pending` did."""

    stamped: int
    """Receipts time-stamped now."""
    left: int
    """Receipts still without a time-stamp (the authority failed; see ``problem``)."""
    problem: str | None = None
    """Why the authority gave no (usable) token, when it did not."""


def tokens_for(session: Session, keys: Iterable[_Key]) -> dict[_Key, bytes]:
    """The stored tokens of the receipts ``keys`` that have one."""
    wanted = list(keys)
    found: dict[_Key, bytes] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(ReceiptTimestampRow).where(
            tuple_(ReceiptTimestampRow.code, ReceiptTimestampRow.number).in_(chunk)
        )
        for row in session.scalars(query):
            found[(row.code, row.number)] = row.token
    return found


def stamped_xml(xml: bytes, token: bytes | None) -> bytes:
    """The receipt's XML with its time-stamp in the signature (``xml`` itself without one)."""
    return xml if token is None else add_signature_timestamp(xml, token)


def record_token(
    session: Session, state: Any, code: str, number: int, token: bytes, check: TokenCheck
) -> None:
    """Keep a verified token beside its receipt, with its ``receipt.timestamped`` event."""
    digest = hashlib.sha256(token).hexdigest()
    event = append_event(
        session,
        state,
        TIMESTAMP_EVENT,
        {
            "code": code,
            "number": number,
            "token": digest,
            "time": rfc3339(check.gen_time),
            "serial": f"{check.serial:x}",
        },
    )
    session.flush()
    session.add(
        ReceiptTimestampRow(
            code=code,
            number=number,
            token=token,
            token_digest=digest,
            gen_time=check.gen_time,
            event_seq=event.seq,
        )
    )


def _pending(session: Session) -> list[tuple[str, int, bytes]]:
    """Receipts not yet acknowledged by the tier above and without a time-stamp: what the next
    package carries."""
    acked = (
        session.scalar(
            select(func.max(Transmission.last_seq)).where(
                Transmission.direction == "out", Transmission.acknowledged_at.is_not(None)
            )
        )
        or 0
    )
    keys: list[_Key] = []
    for event in session.scalars(
        select(Event).where(Event.kind.in_(_RECEIPT_EVENTS), Event.seq > acked).order_by(Event.seq)
    ):
        payload = json.loads(event.payload)
        keys.append((payload["code"], payload["number"]))
    have = tokens_for(session, keys)
    out: list[tuple[str, int, bytes]] = []
    for code, number in keys:
        if (code, number) in have:
            continue
        row = session.get(ReceiptRow, (code, number))
        if row is not None:
            out.append((code, number, row.xml))
    return out


def stamp_pending(
    db: Database, stamper: Stamper, validator: ChainValidator, signer: HeadSigner
) -> StampOutcome:
    """Time-stamp every receipt the next package will carry that has none yet. Each token is
    verified (imprint, signature, a trusted time-stamping certificate) before it is kept; the
    first failure stops the round and is reported, keeping the tokens obtained so far. The
    events are signed into the chain head with ``signer``, as every write's."""
    with db.read() as session:
        pending = _pending(session)
    obtained: list[tuple[str, int, bytes, TokenCheck]] = []
    problem: str | None = None
    for code, number, xml in pending:
        data = signature_timestamp_input(xml)
        try:
            token = stamper(data)
        except TimeStampError as exc:
            problem = str(exc)
            break
        checked = check_token(token, data, validator)
        if isinstance(checked, Finding):
            problem = f"the authority's token was refused: {checked.message}"
            break
        obtained.append((code, number, token, checked))
    if obtained:
        with db.write() as (session, state):
            have = tokens_for(session, [(c, n) for c, n, _, _ in obtained])
            for code, number, token, checked in obtained:
                if (code, number) not in have:
                    record_token(session, state, code, number, token, checked)
            sign_head(session, state, signer)
    return StampOutcome(len(obtained), len(pending) - len(obtained), problem)
