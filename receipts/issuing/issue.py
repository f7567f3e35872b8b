"""Issuing and reversing receipts: atomic, gapless, concurrency-safe, rerunnable (SPEC §5).

Per transaction: refuse what cannot be rendered (before a number is taken), take a block of
numbers under the ledger's write lock, seal and sign (on both cores for a batch), store the
signed bytes, append one event per receipt and sign the chain head, commit. A crash anywhere
rolls the whole transaction back: no gap, no duplicate, no half-written receipt. Client
references make a rerun of a batch issue nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from receipts.domain.catalogue import Catalogue
from receipts.domain.enums import ReceiptKind
from receipts.domain.identifiers import make_receipt_code, new_check_code
from receipts.domain.issue_request import IssueRequest, request_differences
from receipts.domain.model import Organisation, Receipt, ReceiptRef
from receipts.domain.money import format_amount, to_fen
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import InvalidInput, ReceiptError
from receipts.issuing.signing_pool import SigningPool
from receipts.issuing.stock import take_numbers
from receipts.ledger.database import Database
from receipts.ledger.events import canonical_json, next_event, sign_head
from receipts.ledger.models import (
    ClientReference,
    Event,
    LedgerState,
    PeriodClose,
    ReceiptItemRow,
    ReceiptRow,
)

__all__ = [
    "AlreadyReversed",
    "IssueOutcome",
    "Issuer",
    "PeriodClosed",
    "ReusedReference",
    "bulk_insert",
    "issue",
    "issue_batch",
    "item_columns",
    "receipt_columns",
    "receipt_event_payload",
    "reverse",
    "store_receipt",
]

#: Receipts per transaction in a batch: each chunk commits (and signs the chain head) on its own,
#: so a crash loses at most the chunk in flight, which a rerun then issues.
CHUNK = 500
#: Within a chunk, rows go to the database in slices of this many receipts.
_INSERT_EVERY = 100


class ReusedReference(InvalidInput):
    """A client reference already issued with different content."""


class AlreadyReversed(ReceiptError):
    """The receipt was reversed already (or is itself a reversal)."""

    exit_code = 1


class PeriodClosed(ReceiptError):
    """Nothing may be issued into a closed period."""

    exit_code = 1


@dataclass
class Issuer:
    """What issuing needs from a federation's workspace."""

    organisation: Organisation
    """The issuing federation."""
    pool: SigningPool
    """Its signing key, loaded once, with worker processes for batches."""
    zone: ZoneInfo
    """Calendar of issue times and of the year in receipt codes."""
    catalogue: Catalogue
    """Items it may issue for."""
    category: str = "71"
    """Receipt category part of the code."""
    series: str = "01"
    """Series part of the code."""
    printable: Callable[[Receipt], None] | None = None
    """Font coverage check: raises when a receipt could not be rendered."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """Now (tests set it)."""

    def now(self) -> datetime:
        """The issue time: now in the issuer's calendar, whole seconds."""
        return self.clock().astimezone(self.zone).replace(microsecond=0)


@dataclass(frozen=True)
class IssueOutcome:
    """What happened to one request."""

    ref: ReceiptRef
    """The receipt's code and number."""
    digest: str
    """SHA-256 of its signed XML."""
    total: str
    """Its total, two decimals."""
    client_ref: str | None
    """The batch's reference."""
    already_issued: bool = False
    """True when a rerun found the reference issued before (nothing new was issued)."""


def issue(db: Database, issuer: Issuer, request: IssueRequest) -> IssueOutcome:
    """Issue one receipt."""
    return next(iter(issue_batch(db, issuer, [request])))


def issue_batch(
    db: Database, issuer: Issuer, requests: Iterable[IssueRequest]
) -> Iterator[IssueOutcome]:
    """Issue many receipts, one transaction per :data:`CHUNK`; outcomes in request order.

    Raises on the first request that cannot be issued (after the chunks before it committed):
    callers that want to go on past bad input validate it first (``receipts.batch.reader``).
    """
    chunk: list[IssueRequest] = []
    for request in requests:
        chunk.append(request)
        if len(chunk) == CHUNK:
            yield from _issue_chunk(db, issuer, chunk)
            chunk = []
    if chunk:
        yield from _issue_chunk(db, issuer, chunk)


def _draft(issuer: Issuer, request: IssueRequest, issued_at: datetime) -> Receipt:
    """The receipt as it will be, with placeholder number and check code: for checks only."""
    request.check_catalogue(issuer.catalogue)
    return Receipt(
        code=_code(issuer, issued_at),
        number=1,
        check_code="000000",
        kind=ReceiptKind.NORMAL,
        issued_at=issued_at,
        issuer=issuer.organisation,
        payer=request.payer,
        items=request.items,
        handler=request.handler,
        reviewer=request.reviewer,
        remark=request.remark,
    )


def _code(issuer: Issuer, issued_at: datetime) -> str:
    return make_receipt_code(
        issuer.organisation.province, issued_at, issuer.category, issuer.series
    )


def _issue_chunk(
    db: Database, issuer: Issuer, requests: Sequence[IssueRequest]
) -> list[IssueOutcome]:
    issued_at = issuer.now()
    drafts = [_draft(issuer, request, issued_at) for request in requests]
    if issuer.printable is not None:
        for draft in drafts:
            issuer.printable(draft)  # before any number is taken (SPEC §3)
    org = issuer.organisation.code
    refs = [r.client_ref for r in requests if r.client_ref is not None]
    if len(set(refs)) != len(refs):
        twice = next(ref for ref in refs if refs.count(ref) > 1)
        raise ReusedReference(f"client reference {twice} appears twice in one batch")
    outcomes: dict[int, IssueOutcome] = {}
    with db.write() as (session, state):
        _refuse_closed_period(session, issued_at)
        earlier = (
            {
                row.reference: row
                for row in session.scalars(
                    select(ClientReference).where(
                        ClientReference.issuer == org, ClientReference.reference.in_(refs)
                    )
                )
            }
            if refs
            else {}
        )
        fresh: list[tuple[int, IssueRequest]] = []
        for n, request in enumerate(requests):
            found = earlier.get(request.client_ref) if request.client_ref else None
            if found is None:
                fresh.append((n, request))
            else:
                outcomes[n] = _already_issued(session, found, request)
        if fresh:
            code = _code(issuer, issued_at)
            numbers = take_numbers(session, org, code, len(fresh))
            receipts = [
                drafts[n].numbered(number, new_check_code())
                for (n, _), number in zip(fresh, numbers, strict=True)
            ]
            rows = _Rows()
            signed = issuer.pool.sign(receipts)
            for (n, request), receipt, xml in zip(fresh, receipts, signed, strict=True):
                outcomes[n] = rows.add(state, receipt, xml, request)
                if len(rows.receipts) == _INSERT_EVERY:
                    # The database works on these while the workers sign the next ones.
                    rows.insert(session)
            rows.insert(session)
        sign_head(session, state, issuer.pool.signer)
    return [outcomes[n] for n in range(len(requests))]


def store_receipt(
    session: Session,
    state: LedgerState,
    receipt: Receipt,
    xml: bytes,
    request: IssueRequest | None = None,
) -> IssueOutcome:
    """Store one signed receipt, its lines, its client reference and its event."""
    rows = _Rows()
    outcome = rows.add(state, receipt, xml, request)
    rows.insert(session)
    return outcome


class _Rows:
    """Column values of receipts being stored, inserted in bulk (Core executemany is about
    three times faster than ORM objects, NOTES)."""

    def __init__(self) -> None:
        self.receipts: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.refs: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def add(
        self, state: LedgerState, receipt: Receipt, xml: bytes, request: IssueRequest | None
    ) -> IssueOutcome:
        digest = hashlib.sha256(xml).hexdigest()
        self.receipts.append(receipt_columns(receipt, xml, digest))
        self.items.extend(item_columns(receipt))
        client_ref = request.client_ref if request is not None else None
        request_json = None
        if request is not None and client_ref is not None:
            request_json = canonical_json(request.to_json())
            self.refs.append(
                {
                    "issuer": receipt.issuer.code,
                    "reference": client_ref,
                    "code": receipt.code,
                    "number": receipt.number,
                    "request": request_json,
                }
            )
        payload = receipt_event_payload(receipt, digest, client_ref, request_json)
        self.events.append(next_event(state, "receipt.issued", payload, receipt.issued_at))
        return IssueOutcome(receipt.ref, digest, format_amount(receipt.total), client_ref)

    def insert(self, session: Session) -> None:
        """Insert what was added since the last call."""
        for table, rows in (
            (Event, self.events),
            (ReceiptRow, self.receipts),
            (ReceiptItemRow, self.items),
            (ClientReference, self.refs),
        ):
            if rows:
                bulk_insert(session, table, rows)
                rows.clear()


def bulk_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` in the session's transaction: PostgreSQL's COPY where it
    is available (psycopg would otherwise send one INSERT per row), executemany elsewhere."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    from psycopg import sql

    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.__tablename__), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def receipt_event_payload(
    receipt: Receipt, digest: str, client_ref: str | None, request_json: str | None
) -> dict[str, object]:
    """What the event log says of an issued receipt (audit re-derives the rows from it)."""
    payload: dict[str, object] = {
        "code": receipt.code,
        "number": receipt.number,
        "digest": digest,
        "issuer": receipt.issuer.code,
        "kind": receipt.kind.value,
        "total": format_amount(receipt.total),
    }
    if receipt.original is not None:
        payload["original"] = {"code": receipt.original.code, "number": receipt.original.number}
    if client_ref is not None and request_json is not None:
        payload["client_ref"] = client_ref
        payload["request_sha256"] = hashlib.sha256(request_json.encode()).hexdigest()
    return payload


def receipt_columns(receipt: Receipt, xml: bytes, digest: str) -> dict[str, Any]:
    """The queryable columns of a receipt (every one re-derivable from ``xml``)."""
    payer = receipt.payer
    return {
        "code": receipt.code,
        "number": receipt.number,
        "digest": digest,
        "issuer": receipt.issuer.code,
        "kind": receipt.kind.value,
        "issued_at": receipt.issued_at.astimezone(UTC),
        "period": receipt.issued_at.strftime("%Y-%m"),
        "check_code": receipt.check_code,
        "payer_name": payer.name,
        "payer_kind": payer.kind.value,
        "payer_id": payer.uscc or payer.other_id,
        "total_fen": to_fen(receipt.total),
        "original_code": receipt.original.code if receipt.original else None,
        "original_number": receipt.original.number if receipt.original else None,
        "xml": xml,
    }


def item_columns(receipt: Receipt) -> list[dict[str, Any]]:
    """A row per receipt line, for statistics."""
    return [
        {
            "code": receipt.code,
            "number": receipt.number,
            "line": n,
            "item_code": item.code,
            "item_period": item.period,
            "amount_fen": to_fen(item.amount),
        }
        for n, item in enumerate(receipt.items, 1)
    ]


def _already_issued(
    session: Session, earlier: ClientReference, request: IssueRequest
) -> IssueOutcome:
    new = request.to_json()
    stored = json.loads(earlier.request)
    if stored != new:
        diffs = "; ".join(request_differences(stored, new))
        raise ReusedReference(
            f"client reference {earlier.reference} was issued as {earlier.code}-"
            f"{earlier.number:010d} with different content: {diffs}"
        )
    row = session.get(ReceiptRow, (earlier.code, earlier.number))
    assert row is not None
    return IssueOutcome(
        ReceiptRef(row.code, row.number),
        row.digest,
        format_amount(parse_receipt_xml(row.xml).total),
        earlier.reference,
        already_issued=True,
    )


def _refuse_closed_period(session: Session, issued_at: datetime) -> None:
    period = issued_at.strftime("%Y-%m")
    if session.get(PeriodClose, period) is not None:
        raise PeriodClosed(f"period {period} is closed; nothing can be issued into it")


def reverse(
    db: Database,
    issuer: Issuer,
    ref: ReceiptRef,
    reason: str,
    handler: str,
    reviewer: str,
) -> IssueOutcome:
    """Issue the red receipt that cancels ``ref`` in full (SPEC §2 冲红), dated now."""
    issued_at = issuer.now()
    org = issuer.organisation.code
    with db.write() as (session, state):
        row = session.get(ReceiptRow, (ref.code, ref.number))
        if row is None or row.issuer != org:
            raise InvalidInput(f"receipt {ref} was not issued by {org}")
        if row.kind != ReceiptKind.NORMAL.value:
            raise AlreadyReversed(f"{ref} is a red receipt; it cannot be reversed")
        earlier = session.scalars(
            select(ReceiptRow).where(
                ReceiptRow.original_code == ref.code, ReceiptRow.original_number == ref.number
            )
        ).first()
        if earlier is not None:
            raise AlreadyReversed(
                f"{ref} was already reversed by {earlier.code}-{earlier.number:010d}"
            )
        _refuse_closed_period(session, issued_at)
        original = parse_receipt_xml(row.xml)
        code = _code(issuer, issued_at)
        placeholder = 2 if ref.number == 1 else 1  # a draft must not look like its original
        draft = Receipt(
            code=code,
            number=placeholder,
            check_code="000000",
            kind=ReceiptKind.REVERSAL,
            issued_at=issued_at,
            issuer=issuer.organisation,
            payer=original.payer,
            items=tuple(item.negated() for item in original.items),
            handler=handler,
            reviewer=reviewer,
            original=ref,
            reason=reason,
        )
        if issuer.printable is not None:
            issuer.printable(draft)
        (number,) = take_numbers(session, org, code, 1)
        receipt = draft.numbered(number, new_check_code())
        (xml,) = issuer.pool.sign([receipt])
        outcome = store_receipt(session, state, receipt, xml)
        sign_head(session, state, issuer.pool.signer)
    return outcome
