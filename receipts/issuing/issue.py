"""Issuing and reversing receipts: atomic, gapless, concurrency-safe, rerunnable
(docs/architecture.md).

Per transaction: refuse what breaks a union-finance rule (:mod:`receipts.domain.finance_rules`)
or cannot be rendered or signed (before a number is taken), take a
block of numbers under the ledger's write lock, seal and sign (on both cores for a batch), store
the signed bytes, append one event per receipt and sign the chain head, commit. A crash anywhere
rolls the whole transaction back: no gap, no duplicate, no half-written receipt. Client
references make a rerun of a batch issue nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.catalogue import Catalogue
from receipts.domain.enums import ReceiptKind
from receipts.domain.finance_rules import DEFAULT_RULES, FinanceRules
from receipts.domain.identifiers import make_receipt_code, new_check_code
from receipts.domain.issue_request import IssueRequest, request_differences
from receipts.domain.model import Organisation, Receipt, ReceiptRef
from receipts.domain.money import format_amount
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import InvalidInput, ReceiptError
from receipts.issuing.effective_rules import request_sharings, reversal_sharing
from receipts.issuing.own_certificate import check_own_certificate
from receipts.issuing.payer_register import check_payers
from receipts.issuing.receipt_rows import ReceiptRows, Sharing, shares_for
from receipts.issuing.signing_pool import SigningPool
from receipts.issuing.stock_accounting import take_numbers
from receipts.issuing.tax_check import check_tax, record_tax_overrides
from receipts.ledger.database import Database
from receipts.ledger.events import sign_head
from receipts.ledger.models import (
    ClientReference,
    LedgerState,
    PeriodClose,
    ReceiptRow,
)
from receipts.ledger.receipt_key import receipt_row
from receipts.ledger.years import month_of
from signing.trust import ChainValidator

__all__ = [
    "AlreadyReversed",
    "IssueOutcome",
    "Issuer",
    "PeriodClosed",
    "ReusedReference",
    "issue",
    "issue_batch",
    "reverse",
    "reversible",
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
    trust: ChainValidator
    """The workspace's trust bundle and CRLs: the signing certificate must validate against it
    as of each issue time, before a number is taken (``own_certificate``)."""
    category: str = "71"
    """Receipt category part of the code."""
    series: str = "01"
    """Series part of the code."""
    printable: Callable[[Receipt], None] | None = None
    """Font coverage check: raises when a receipt could not be rendered."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """Now (tests set it)."""
    rules: FinanceRules = DEFAULT_RULES
    """The union-finance rules every request must follow
    (:func:`receipts.issuing.effective_rules.effective_rules`); red receipts are not checked:
    they cancel what was issued under the rules of its day."""
    public_base_url: str | None = None
    """``[serve] public_base_url``, signed into each receipt (its QR code a URL under it,
    docs/formats.md "The QR URL"); None issues receipts whose QR is the classic text."""
    tax_override: str | None = None
    """The reason to issue over a payment the tax bureau collected (``--override-tax``), recorded
    in a ``tax.overridden`` event (docs/tax.md); None refuses such a receipt."""

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
    issuer.rules.check(request, issued_at.date())
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
        public_base_url=issuer.public_base_url,
    )


def _code(issuer: Issuer, issued_at: datetime) -> str:
    return make_receipt_code(
        issuer.organisation.province, issued_at, issuer.category, issuer.series
    )


def _issue_chunk(
    db: Database, issuer: Issuer, requests: Sequence[IssueRequest]
) -> list[IssueOutcome]:
    issued_at = issuer.now()
    check_own_certificate(issuer.pool.signer, issuer.trust, issued_at)
    drafts = [_draft(issuer, request, issued_at) for request in requests]
    if issuer.printable is not None:
        for draft in drafts:
            issuer.printable(draft)  # before any number is taken: a refusal costs no number
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
            # A registered USCC under another name is refused before a number is taken.
            check_payers(session, [request.payer for _, request in fresh])
            taxed = check_tax(session, org, [r for _, r in fresh], issuer.tax_override)
            sharings = request_sharings(session, [r for _, r in fresh], issued_at)
            for (n, _), sharing in zip(fresh, sharings, strict=True):
                shares_for(drafts[n], sharing)  # a line the rules refuse costs no number either
            code = _code(issuer, issued_at)
            numbers = take_numbers(session, org, code, len(fresh))
            receipts = [
                drafts[n].numbered(number, new_check_code())
                for (n, _), number in zip(fresh, numbers, strict=True)
            ]
            rows = ReceiptRows()
            signed = issuer.pool.sign(receipts)
            for (n, request), receipt, xml, sharing in zip(
                fresh, receipts, signed, sharings, strict=True
            ):
                digest = rows.add(state, receipt, xml, request, sharing)
                outcomes[n] = _outcome(receipt, digest, request)
                if len(rows.receipts) == _INSERT_EVERY:
                    # The database works on these while the workers sign the next ones.
                    rows.insert(session)
            rows.insert(session)
            issued = [outcomes[n].ref for n, _ in fresh]
            record_tax_overrides(session, state, taxed, issued, issuer.tax_override)
        sign_head(session, state, issuer.pool.signer)
    return [outcomes[n] for n in range(len(requests))]


def store_receipt(
    session: Session,
    state: LedgerState,
    receipt: Receipt,
    xml: bytes,
    request: IssueRequest | None = None,
    sharing: Sharing | None = None,
) -> IssueOutcome:
    """Store one signed receipt, its lines, its shares, its client reference and its event."""
    rows = ReceiptRows()
    digest = rows.add(state, receipt, xml, request, sharing)
    rows.insert(session)
    return _outcome(receipt, digest, request)


def _outcome(receipt: Receipt, digest: str, request: IssueRequest | None) -> IssueOutcome:
    client_ref = request.client_ref if request is not None else None
    return IssueOutcome(receipt.ref, digest, format_amount(receipt.total), client_ref)


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
    row = receipt_row(session, earlier.code, earlier.number)
    assert row is not None
    return IssueOutcome(
        ReceiptRef(row.code, row.number),
        row.digest,
        format_amount(parse_receipt_xml(row.xml).total),
        earlier.reference,
        already_issued=True,
    )


def _refuse_closed_period(session: Session, issued_at: datetime) -> None:
    period = month_of(issued_at)
    if session.get(PeriodClose, period) is not None:
        raise PeriodClosed(f"period {period} is closed; nothing can be issued into it")


def reversible(session: Session, org: str, ref: ReceiptRef) -> ReceiptRow:
    """The row of ``ref`` when ``org`` may reverse it: its own normal receipt, not reversed yet
    (refused otherwise, in one line)."""
    row = receipt_row(session, ref.code, ref.number)
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
        raise AlreadyReversed(f"{ref} was already reversed by {earlier.code}-{earlier.number:010d}")
    return row


def reverse(
    db: Database,
    issuer: Issuer,
    ref: ReceiptRef,
    reason: str,
    handler: str,
    reviewer: str,
    then: Callable[[Session, LedgerState, IssueOutcome], None] | None = None,
) -> IssueOutcome:
    """Issue the red receipt (冲红) that cancels ``ref`` in full, dated now; ``then`` runs in the
    same transaction after it is stored (an approved reversal request records its decision)."""
    issued_at = issuer.now()
    check_own_certificate(issuer.pool.signer, issuer.trust, issued_at)
    org = issuer.organisation.code
    with db.write() as (session, state):
        row = reversible(session, org, ref)
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
            public_base_url=issuer.public_base_url,
        )
        if issuer.printable is not None:
            issuer.printable(draft)
        sharing = reversal_sharing(session, original, ref)
        (number,) = take_numbers(session, org, code, 1)
        receipt = draft.numbered(number, new_check_code())
        (xml,) = issuer.pool.sign([receipt])
        outcome = store_receipt(session, state, receipt, xml, sharing=sharing)
        if then is not None:
            then(session, state, outcome)
        sign_head(session, state, issuer.pool.signer)
    return outcome
