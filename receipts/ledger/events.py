"""The append-only, hash-chained event log and its signed heads (docs/architecture.md).

Each event is hashed as canonical JSON (sorted keys, no spaces, UTF-8, amounts as strings,
times as UTC RFC 3339) together with the previous event's hash. After each transaction or batch
the workspace signs the head (count + hash); transmissions carry signed heads upstream, so the
tier above holds an outside copy and a truncated tail is caught.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from receipts.ledger.anchor import (
    ANCHOR_PENDING,
    ANCHOR_WANTED,
    SignedAnchor,
    anchor_message,
    ledger_facts,
)
from receipts.ledger.models import ChainHead, Event, LedgerState

__all__ = [
    "OPERATOR",
    "HeadSigner",
    "SignedHead",
    "append_event",
    "canonical_json",
    "current_operator",
    "event_hash",
    "head_message",
    "next_event",
    "rfc3339",
    "sign_head",
]


OPERATOR = "receipts.operator"
"""Key of a write session's ``info`` naming the authenticated operator; the ledger's
:class:`~receipts.ledger.database.Database` puts it there and every event records it."""


class HeadSigner(Protocol):
    """Signs chain heads with the workspace's key (the CLI loads it; the ledger never does)."""

    @property
    def org_code(self) -> str:
        """Whose ledger this is."""

    @property
    def certificate_pem(self) -> bytes:
        """The certificate whose key signs (verifiers look it up in their trust)."""

    def sign(self, message: bytes) -> str:
        """A base64url signature of ``message``."""


@dataclass(frozen=True)
class SignedHead:
    """A signed chain head as it travels between ledgers."""

    org_code: str
    """Whose chain."""
    event_count: int
    """Number of events covered."""
    head_hash: str
    """Hash of the last covered event."""
    signed_at: datetime
    """When it was signed (UTC)."""
    signature: str
    """Base64url signature over :func:`head_message`."""


def canonical_json(value: Mapping[str, Any]) -> str:
    """Sorted keys, no insignificant white space, UTF-8 text (not \\u escapes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def rfc3339(moment: datetime) -> str:
    """UTC, whole seconds, ``Z`` suffix: the one time format inside hashed events.

    Written field by field, as ``strftime("%Y-%m-%dT%H:%M:%SZ")`` writes it here (the year
    unpadded, as glibc's %Y; tests/test_event_hash.py holds the two equal): ~5.4 µs with
    strftime, ~3.2 µs so, for every event an import or a batch writes."""
    u = moment.astimezone(UTC)
    return f"{u.year}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def event_hash(
    prev_hash: str, seq: int, at: str, kind: str, payload: str, operator: str | None = None
) -> str:
    """SHA-256 of the canonical JSON of the event and the previous hash.

    The operator who wrote the event is part of the hashed body only when there is one, so the
    events of workspaces without operators (and every chain written before them) keep their
    hashes (docs/security.md, "Operators and key slots").
    """
    fields: dict[str, Any] = {
        "at": at,
        "kind": kind,
        "payload": json.loads(payload),
        "prev": prev_hash,
        "seq": seq,
    }
    if operator is not None:
        fields["operator"] = operator
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def _hash_of_canonical(
    prev_hash: str, seq: int, at: str, kind: str, body: str, operator: str | None
) -> str:
    """:func:`event_hash` of a ``body`` that is already canonical JSON (what
    :func:`next_event` makes): the event's canonical JSON put together around ``body`` as it
    is, in sorted key order, instead of parsing ``body`` and encoding it again (one event a
    receipt on import: ~6x less time a hash; docs/operations.md "Importing large packages").
    Equal to :func:`event_hash` for every
    canonical body (tests/test_event_hash.py); events from elsewhere, whose payload text is
    not known to be canonical, go through :func:`event_hash`."""
    text = "".join(
        (
            '{"at":',
            _json_string(at),
            ',"kind":',
            _json_string(kind),
            "" if operator is None else ',"operator":' + _json_string(operator),
            ',"payload":',
            body,
            ',"prev":',
            _json_string(prev_hash),
            ',"seq":',
            int.__repr__(seq),
            "}",
        )
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: How json.dumps(..., ensure_ascii=False) writes a string.
_json_string = json.encoder.encode_basestring


def current_operator(state: LedgerState) -> str | None:
    """The operator the command layer authenticated for this write transaction
    (:data:`OPERATOR` in the session's ``info``), None in a workspace without operators."""
    session = object_session(state)
    if session is None:
        return None
    name = session.info.get(OPERATOR)
    return name if isinstance(name, str) else None


def head_message(org_code: str, event_count: int, head_hash: str) -> bytes:
    """What a chain-head signature covers."""
    return f"UDR-HEAD|{org_code}|{event_count}|{head_hash}".encode()


def next_event(
    state: LedgerState, kind: str, payload: Mapping[str, Any], at: datetime | None = None
) -> dict[str, Any]:
    """The column values of the event after the locked tip ``state``; advances the tip.

    Batches insert these in bulk; :func:`append_event` adds one through the ORM.
    """
    moment = (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    seq = state.event_count + 1
    body = canonical_json(payload)
    operator = current_operator(state)
    digest = _hash_of_canonical(state.head_hash, seq, rfc3339(moment), kind, body, operator)
    row = {
        "seq": seq,
        "at": moment,
        "kind": kind,
        "payload": body,
        "prev_hash": state.head_hash,
        "hash": digest,
        "operator": operator,
    }
    state.event_count = seq
    state.head_hash = digest
    return row


def append_event(
    session: Session,
    state: LedgerState,
    kind: str,
    payload: Mapping[str, Any],
    at: datetime | None = None,
) -> Event:
    """Append an event after the locked chain tip ``state`` and advance the tip."""
    row = Event(**next_event(state, kind, payload, at))
    session.add(row)
    return row


def sign_head(session: Session, state: LedgerState, signer: HeadSigner | None) -> None:
    """Sign the current tip (once per transaction or batch); no signer, no signature.

    A workspace has no signing key until its certificate is issued; events before that are
    chained but not anchored, and ``receipts audit`` says so. When the database keeps an anchor
    outside itself, the same key signs the ledger's facts for it (:mod:`receipts.ledger.anchor`).
    """
    if signer is None or state.event_count == 0:
        return
    existing = session.scalars(
        select(ChainHead).where(ChainHead.event_count == state.event_count)
    ).first()
    if existing is not None:
        return
    session.flush()
    now = datetime.now(UTC).replace(microsecond=0)
    session.add(
        ChainHead(
            event_count=state.event_count,
            head_hash=state.head_hash,
            signed_at=now,
            certificate=signer.certificate_pem,
            signature=signer.sign(
                head_message(signer.org_code, state.event_count, state.head_hash)
            ),
        )
    )
    if session.info.get(ANCHOR_WANTED):
        # Signed here, with the key at hand; the database keeps it once the transaction has
        # committed (receipts.ledger.anchor).
        facts = ledger_facts(session, state)
        session.info[ANCHOR_PENDING] = SignedAnchor(
            signer.org_code,
            facts,
            now,
            signer.certificate_pem,
            signer.sign(anchor_message(signer.org_code, facts)),
        )
