"""Closing periods (月结): a closed month of this federation's own issuing never changes again.

After a close nothing can be issued into the month (a reversal of one of its receipts is dated,
and so counted, in the current period). Imports of lower tiers' packages are not blocked: they
are other federations' records. A close is an event; archiving needs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import PeriodClose

__all__ = ["ClosedPeriod", "close_period", "closed_periods", "parse_period", "periods_of"]

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])")
_YEAR = re.compile(r"[0-9]{4}")


@dataclass(frozen=True)
class ClosedPeriod:
    """A closed month."""

    period: str
    """``YYYY-MM``."""
    closed_at: datetime
    """When it was closed (UTC)."""


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


def close_period(db: Database, period: str, now_period: str, signer: HeadSigner | None) -> bool:
    """Close ``period`` (not after ``now_period``, the current month in the issuer's calendar:
    a month may be closed on its last day, after which nothing more is issued into it); False
    if it was closed already."""
    parse_period(period)
    if period > now_period:
        raise InvalidInput(f"period {period} has not begun yet (it is {now_period} now)")
    with db.write() as (session, state):
        if session.get(PeriodClose, period) is not None:
            return False
        moment = datetime.now(UTC).replace(microsecond=0)
        event = append_event(session, state, "period.closed", {"period": period}, moment)
        session.flush()
        session.add(PeriodClose(period=period, closed_at=moment, event_seq=event.seq))
        sign_head(session, state, signer)
    return True


def closed_periods(db: Database) -> list[ClosedPeriod]:
    """Every closed month, oldest first."""
    with db.read() as session:
        return [
            ClosedPeriod(p.period, p.closed_at)
            for p in session.scalars(select(PeriodClose).order_by(PeriodClose.period))
        ]
