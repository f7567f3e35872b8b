"""Closing periods (月结): a closed month of this federation's own issuing never changes again.

After a close nothing can be issued into the month (a reversal of one of its receipts is dated,
and so counted, in the current period). Imports of lower tiers' packages are not blocked: they
are other federations' records. A close is an event; archiving needs it.

The running month is closed only when forced (on its last day, say). A closed month may be
reopened, with a reason, until it is archived; the reopen is an event too, and ``receipts audit``
re-derives the closed months from both (docs/operations.md, "Closing and reopening periods").
An archived month is never reopened: a later correction (a red receipt of the running month)
reaches the archive as the supplementary package of that month's own archive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.model import check_text
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import Archive, Event, PeriodClose

__all__ = [
    "REOPENED",
    "ClosedPeriod",
    "close_period",
    "closed_periods",
    "parse_period",
    "periods_of",
    "reopen_period",
    "reopened_periods",
]

#: The event kind of a reopen; its payload names the period, the reason and the operator.
REOPENED = "period.reopened"

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])")
_YEAR = re.compile(r"[0-9]{4}")


@dataclass(frozen=True)
class ClosedPeriod:
    """A closed month."""

    period: str
    """``YYYY-MM``."""
    closed_at: datetime
    """When it was closed (UTC); the latest close, after a reopen."""
    reopened: int = 0
    """How many times it was reopened (and closed again) before."""


def parse_period(text: str) -> str:
    """A month ``YYYY-MM``, or an input error."""
    if not _MONTH.fullmatch(text):
        raise InvalidInput(f"period {text!r} must be a month, YYYY-MM")
    return text


def periods_of(text: str) -> list[str]:
    """The months of a month (``2025-03``), a quarter (``2025-Q1``) or a year (``2025``)."""
    if _MONTH.fullmatch(text):
        return [text]
    quarter = _QUARTER.fullmatch(text)
    if quarter:
        year, q = quarter.group(1), int(quarter.group(2))
        return [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]
    if _YEAR.fullmatch(text):
        return [f"{text}-{m:02d}" for m in range(1, 13)]
    raise InvalidInput(f"period {text!r} must be YYYY-MM, YYYY-Qn or YYYY")


def close_period(
    db: Database,
    period: str,
    now_period: str,
    signer: HeadSigner | None,
    *,
    force: bool = False,
    operator: str | None = None,
) -> bool:
    """Close ``period`` (not after ``now_period``, the current month in the issuer's calendar;
    the running month itself only with ``force``, e.g. on its last day, after which nothing
    more is issued into it); False if it was closed already."""
    parse_period(period)
    if period > now_period:
        raise InvalidInput(f"period {period} has not begun yet (it is {now_period} now)")
    with db.write() as (session, state):
        if session.get(PeriodClose, period) is not None:
            return False
        if period == now_period and not force:
            raise InvalidInput(
                f"period {period} is the running month: receipts may still be issued into it; "
                "close it with --force (on its last day, say)"
            )
        moment = datetime.now(UTC).replace(microsecond=0)
        payload: dict[str, Any] = {"period": period}
        if operator is not None:
            payload["operator"] = operator
        event = append_event(session, state, "period.closed", payload, moment)
        session.flush()
        session.add(PeriodClose(period=period, closed_at=moment, event_seq=event.seq))
        sign_head(session, state, signer)
    return True


def reopen_period(
    db: Database,
    period: str,
    reason: str,
    signer: HeadSigner | None,
    *,
    operator: str | None = None,
) -> None:
    """Reopen the closed ``period`` for ``reason`` (1-200 characters), recorded with the
    ``operator`` when known; refused when it is not closed or is archived. Nothing changes on
    a refusal."""
    parse_period(period)
    check_text(reason, "reason", maximum=200)
    with db.write() as (session, state):
        row = session.get(PeriodClose, period)
        if row is None:
            raise InvalidInput(f"period {period} is not closed; there is nothing to reopen")
        archive = _main_archive_of(session, period)
        if archive is not None:
            raise InvalidInput(
                f"period {period} is archived ({archive.label}, archive {archive.digest[:12]}) "
                "and is never reopened: correct it with a red receipt in the running month, "
                "whose archive adds a supplementary package"
            )
        payload: dict[str, Any] = {"period": period, "reason": reason}
        if operator is not None:
            payload["operator"] = operator
        append_event(session, state, REOPENED, payload, datetime.now(UTC).replace(microsecond=0))
        session.delete(row)
        sign_head(session, state, signer)


def closed_periods(db: Database) -> list[ClosedPeriod]:
    """Every closed month, oldest first, with how often it was reopened before."""
    with db.read() as session:
        reopens = _reopens(session)
        return [
            ClosedPeriod(p.period, p.closed_at, reopens.get(p.period, 0))
            for p in session.scalars(select(PeriodClose).order_by(PeriodClose.period))
        ]


def reopened_periods(db: Database) -> list[str]:
    """Months reopened and not closed again, oldest first."""
    with db.read() as session:
        closed = set(session.scalars(select(PeriodClose.period)))
        return sorted(set(_reopens(session)) - closed)


def _reopens(session: Session) -> dict[str, int]:
    reopens: dict[str, int] = {}
    for payload in session.scalars(select(Event.payload).where(Event.kind == REOPENED)):
        month = str(json.loads(payload).get("period"))
        reopens[month] = reopens.get(month, 0) + 1
    return reopens


def _main_archive_of(session: Session, period: str) -> Archive | None:
    for archive in session.scalars(select(Archive).where(Archive.kind == "main")):
        if period in archive.months.split(","):
            return archive
    return None
