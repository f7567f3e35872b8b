"""Signature time-stamps of receipts (docs/security.md, "Time-stamps"): getting them, keeping
them beside the receipts, and putting them into the XML that leaves the ledger.

A receipt's row and its digest stay the signed XML as issued; its token is a
:class:`~receipts.ledger.timestamp_models.ReceiptTimestampRow`, recorded by a
``receipt.timestamped`` event (code, number, the token's SHA-256, its time and serial).
:func:`stamped_xml` gives the XAdES-T file (the same bytes with the time-stamp in the
signature's unsigned properties), which transmission and archive packages carry.

:func:`stamp_pending` stamps what the next package carries; :func:`stamp_receipts` stamps the
receipts named (those just issued, when ``[tsa] stamp_at_issue`` is set). Both ask for one token
per receipt, one after the other, and keep the tokens in a write transaction per
:data:`KEEP_EVERY` tokens, so that an authority failing half-way through a large batch loses
none obtained before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, rfc3339, sign_head
from receipts.ledger.models import Event, Transmission
from receipts.ledger.receipt_key import receipt_row
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
    "KEEP_EVERY",
    "TIMESTAMP_EVENT",
    "StampOutcome",
    "Stamper",
    "http_stamper",
    "local_stamper",
    "record_token",
    "stamp_pending",
    "stamp_receipts",
    "stamped_xml",
    "tokens_for",
]

#: The event that records a receipt's time-stamp.
TIMESTAMP_EVENT = "receipt.timestamped"
_RECEIPT_EVENTS = ("receipt.issued", "receipt.imported")
#: Tokens kept per write transaction while stamping.
KEEP_EVERY = 200

#: ``stamper(data)``: an RFC 3161 token (DER) over SHA-256 of ``data``.
Stamper = Callable[[bytes], bytes]

_Key = tuple[str, int]


def http_stamper(url: str, timeout: float, client: httpx.Client | None = None) -> Stamper:
    """Tokens from the authority at ``url`` (``[tsa] url``), through ``client`` when given."""
    send = http_sender(url, timeout, client)
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
        row = receipt_row(session, code, number)
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
    return _stamp(db, stamper, validator, signer, pending)


def stamp_receipts(
    db: Database,
    stamper: Stamper,
    validator: ChainValidator,
    signer: HeadSigner,
    keys: Iterable[_Key],
) -> StampOutcome:
    """Time-stamp the receipts ``keys`` (code, number) that have none yet, as
    :func:`stamp_pending` does."""
    wanted = list(dict.fromkeys(keys))
    pending: list[tuple[str, int, bytes]] = []
    with db.read() as session:
        have = tokens_for(session, wanted)
        for code, number in wanted:
            row = receipt_row(session, code, number) if (code, number) not in have else None
            if row is not None:
                pending.append((code, number, row.xml))
    return _stamp(db, stamper, validator, signer, pending)


def _stamp(
    db: Database,
    stamper: Stamper,
    validator: ChainValidator,
    signer: HeadSigner,
    pending: list[tuple[str, int, bytes]],
) -> StampOutcome:
    obtained: list[tuple[str, int, bytes, TokenCheck]] = []
    problem: str | None = None
    kept = 0
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
        if len(obtained) == KEEP_EVERY:
            kept += _keep(db, signer, obtained)
            obtained = []
    if obtained:
        kept += _keep(db, signer, obtained)
    return StampOutcome(kept, len(pending) - kept, problem)


def _keep(
    db: Database, signer: HeadSigner, obtained: list[tuple[str, int, bytes, TokenCheck]]
) -> int:
    """Record ``obtained`` in one write, skipping any a concurrent round kept meanwhile; how
    many receipts this round stamped."""
    with db.write() as (session, state):
        have = tokens_for(session, [(c, n) for c, n, _, _ in obtained])
        for code, number, token, checked in obtained:
            if (code, number) not in have:
                record_token(session, state, code, number, token, checked)
        sign_head(session, state, signer)
    return len(obtained)
