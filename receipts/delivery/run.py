"""``receipts deliver`` as a library call (docs/delivery.md): each receipt this federation issued
goes, once, to its payer's registered address, through the configured server.

For each receipt: the message is built (a receipt that cannot be rendered is a problem, and
nothing is recorded), the attempt is committed, the message is sent, the outcome is committed.
A refusal for now (4xx, a connection lost before the body) is tried again within the run after
``retry_delay``, ``2 × retry_delay``, … seconds, then left for the next run; a refusal for good
(5xx) is a bounce, never tried again at that address; an outcome left unknown (a crash, or a
connection lost after the body) is held and only sent again when asked (``retry_unknown``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.delivery.config import SmtpConfig
from receipts.delivery.message import message_id, receipt_letter
from receipts.delivery.records import (
    Due,
    due_receipts,
    held_deliveries,
    record_attempt,
    record_outcome,
    registered_addresses,
)
from receipts.delivery.smtp import Outcome, SendResult, SmtpSession, Unreachable
from receipts.domain.model import ReceiptRef
from receipts.errors import EnvironmentFailure, InvalidInput, ReceiptError
from receipts.ledger.database import Database
from receipts.ledger.delivery_models import DeliveryRow
from receipts.ledger.events import HeadSigner
from receipts.ledger.models import PayerRow, ReceiptRow
from receipts.ledger.receipt_key import receipt_key, receipt_row

__all__ = ["DeliveryLine", "DeliveryReport", "DeliveryRequest", "deliver"]


@dataclass(frozen=True)
class DeliveryRequest:
    """What to deliver, and how."""

    issuer: str
    """This federation: only its own receipts are delivered."""
    since: datetime | None = None
    """Only receipts issued at or after this time."""
    ref: ReceiptRef | None = None
    """Only this receipt."""
    limit: int | None = None
    """At most this many messages."""
    dry_run: bool = False
    """List what would be sent; send and record nothing."""
    retry_unknown: bool = False
    """Send again the deliveries of unknown outcome (at least once, for those)."""
    font: Path | str | None = None
    """The workspace's configured font."""


@dataclass(frozen=True)
class DeliveryLine:
    """One receipt's delivery in this run."""

    receipt: str
    """``CODE-NUMBER``."""
    to: str
    outcome: str
    """sent, bounced, deferred, unknown, held (unknown from before, not sent), would-send,
    render-failed."""
    reply: str = ""
    message_id: str = ""


@dataclass(frozen=True)
class DeliveryReport:
    """Everything a run did and found."""

    lines: tuple[DeliveryLine, ...]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    stopped: str | None = None
    """Why the run stopped before the end (the server unreachable, our sender refused)."""
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every message went and nothing is left to look at."""
        return not self.problems and all(
            line.outcome in ("sent", "would-send") for line in self.lines
        )


def deliver(
    db: Database,
    config: SmtpConfig | None,
    signer: HeadSigner | None,
    request: DeliveryRequest,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Deliver what ``request`` selects; ``config`` may be None only for a dry run."""
    with db.read() as session:
        due, problems = due_receipts(
            session, request.issuer, request.since, request.ref, request.limit
        )
        held = held_deliveries(session, request.issuer, request.since, request.ref)
        truth = registered_addresses(session) if held else {}
        notes: list[str] = []
        if request.ref is not None and not due and not held:
            notes.append(_why_not_due(session, request.issuer, request.ref))
    retries: list[Due] = []
    lines: list[DeliveryLine] = []
    for row in held:
        label = f"{row.code}-{row.number:010d}"
        if request.retry_unknown and truth.get(row.uscc) == row.address:
            retries.append(Due(row.code, row.number, _digest(db, row), row.uscc, row.address))
        elif request.retry_unknown:
            problems.append(
                f"{label}: {row.address} is no longer {row.uscc}'s registered address; "
                "not sent again"
            )
        else:
            lines.append(DeliveryLine(label, row.address, "held", row.reply or "", row.message_id))
    work = [(d, True) for d in retries] + [(d, False) for d in due]
    if request.limit is not None:
        work = work[: request.limit]
    if request.dry_run or not work:
        for item, _ in work:
            lines.append(DeliveryLine(item.label(), item.address, "would-send"))
        return _report(lines, problems, notes, None, request.dry_run)
    if config is None:
        raise InvalidInput("no mail server configured")
    smtp = SmtpSession(config)
    stopped = None
    try:
        _open(smtp, config, sleep)
        for item, retry in work:
            line, stopped = _deliver_one(db, smtp, config, signer, request, item, retry, sleep)
            if line is None:
                continue
            lines.append(line)
            if line.outcome == "render-failed":
                problems.append(f"{item.label()}: cannot be rendered: {line.reply}")
            if stopped is not None:
                break
    finally:
        smtp.close()
    return _report(lines, problems, notes, stopped, False)


def _deliver_one(
    db: Database,
    smtp: SmtpSession,
    config: SmtpConfig,
    signer: HeadSigner | None,
    request: DeliveryRequest,
    item: Due,
    retry: bool,
    sleep: Callable[[float], None],
) -> tuple[DeliveryLine | None, str | None]:
    with db.read() as session:
        xml = session.scalars(
            select(ReceiptRow.xml).where(*receipt_key(item.code, item.number))
        ).one()
    ident = message_id(item.code, item.number, item.digest, item.address, config.sender_domain)
    try:
        letter = receipt_letter(
            xml, item.digest, item.address, config.sender, config.sender_domain, request.font
        )
    except ReceiptError as exc:
        return DeliveryLine(item.label(), item.address, "render-failed", str(exc), ident), None
    if not record_attempt(db, item, ident, signer, retry=retry):
        return None, None  # another run took it meanwhile
    try:
        result = _send(
            smtp, config, item.address, letter.message.as_bytes(policy=policy.SMTP), sleep
        )
    except EnvironmentFailure as exc:
        # Reconnecting failed for good (a certificate no longer trusted, say): certainly not
        # sent, so it is deferred rather than left of unknown outcome.
        result = SendResult(Outcome.DEFERRED, None, str(exc)[:300], stop=True)
    record_outcome(db, item, ident, result, signer)
    stopped = None
    if result.stop and result.code is None:
        stopped = result.reply
    elif result.stop:
        stopped = f"the SMTP server refused the sender {config.sender}: {result.reply}"
    elif result.outcome is Outcome.DEFERRED and result.code is None:
        stopped = f"the SMTP server is unreachable: {result.reply}"
    line = DeliveryLine(item.label(), item.address, result.outcome.value, result.reply, ident)
    return line, stopped


def _send(
    smtp: SmtpSession,
    config: SmtpConfig,
    address: str,
    message: bytes,
    sleep: Callable[[float], None],
) -> SendResult:
    """Send, trying again after a refusal for now; never after an unknown outcome."""
    result = SendResult(Outcome.DEFERRED, None, "not tried")
    for attempt in range(config.retries + 1):
        if attempt:
            sleep(config.retry_delay * 2 ** (attempt - 1))
        try:
            result = smtp.send(config.sender, address, message)
        except Unreachable as exc:
            result = SendResult(Outcome.DEFERRED, None, f"connection failed: {exc}"[:300])
            continue
        if result.outcome is not Outcome.DEFERRED or result.stop:
            return result
    return result


def _open(smtp: SmtpSession, config: SmtpConfig, sleep: Callable[[float], None]) -> None:
    """Connect before anything is recorded: an unreachable server records nothing."""
    for attempt in range(config.retries + 1):
        if attempt:
            sleep(config.retry_delay * 2 ** (attempt - 1))
        try:
            smtp.open()
            return
        except Unreachable as exc:
            last = exc
    raise EnvironmentFailure(
        f"SMTP server {config.host}:{config.port} unreachable after {config.retries + 1} "
        f"tries: {last}; nothing was sent or recorded"
    )


def _digest(db: Database, row: DeliveryRow) -> str:
    with db.read() as session:
        found = session.scalars(
            select(ReceiptRow.digest).where(*receipt_key(row.code, row.number))
        ).one()
    return str(found)


def _why_not_due(session: Session, issuer: str, ref: ReceiptRef) -> str:
    """Why ``ref`` is not due: a note when it is done, an error when it cannot be."""
    label = f"{ref.code}-{ref.number:010d}"
    row = receipt_row(session, ref.code, ref.number)
    if row is None:
        raise InvalidInput(f"receipt {label} is not in this ledger")
    if row.issuer != issuer:
        raise InvalidInput(f"receipt {label} was issued by {row.issuer}; its issuer delivers it")
    payer = None if row.payer_id is None else session.get(PayerRow, row.payer_id)
    if payer is None:
        raise InvalidInput(
            f"receipt {label}: its payer {row.payer_id or row.payer_name} is not in the payer "
            "register; add it with receipts payer add --email"
        )
    if payer.email is None:
        raise InvalidInput(
            f"receipt {label}: payer {payer.uscc} has no registered email; add one with "
            "receipts payer update --email"
        )
    done = session.scalars(
        select(DeliveryRow).where(DeliveryRow.code == ref.code, DeliveryRow.number == ref.number)
    ).all()
    sent = [d for d in done if d.status == "sent"]
    if sent:
        return f"{label} was delivered to {sent[0].address} already; it is not sent again"
    bounced = [d for d in done if d.status == "bounced" and d.address == payer.email]
    if bounced:
        return f"{label} bounced at {payer.email} ({bounced[0].reply}); it is not tried again there"
    raise InvalidInput(
        f"receipt {label}: payer {payer.uscc}'s register row differs from its events "
        "(run receipts audit); not sent"
    )


def _report(
    lines: list[DeliveryLine],
    problems: list[str],
    notes: list[str],
    stopped: str | None,
    dry_run: bool,
) -> DeliveryReport:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.outcome] = counts.get(line.outcome, 0) + 1
    return DeliveryReport(
        tuple(lines), tuple(problems), tuple(notes), stopped, dry_run, dict(sorted(counts.items()))
    )
