"""The audit of receipts' time-stamps (docs/security.md, "Time-stamps"): the
``receipt_timestamps`` rows re-derived from the ``receipt.timestamped`` events, and each stored
token held against the SHA-256 its event recorded. A token row deleted (the receipt would then
verify as unstamped), replaced, or added without its event is a finding; the token's own
signature is checked when a stamped receipt is verified."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.findings import Finding, FindingCode
from receipts.ledger.models import Event
from receipts.ledger.timestamp_models import ReceiptTimestampRow

__all__ = ["check_timestamps"]


def check_timestamps(session: Session, events: list[Event]) -> list[Finding]:
    """The receipt_timestamps table against its events, token bytes included."""
    want: dict[tuple[str, int], dict[str, Any]] = {}
    for event in events:
        if event.kind != "receipt.timestamped":
            continue
        p = json.loads(event.payload)
        want[(p["code"], p["number"])] = {
            "token": p["token"],
            "time": datetime.fromisoformat(p["time"].replace("Z", "+00:00")),
            "event_seq": event.seq,
        }
    have = {
        (row.code, row.number): {
            # The token's bytes must still be the ones the event recorded.
            "token": row.token_digest
            if hashlib.sha256(row.token).hexdigest() == row.token_digest
            else "altered",
            "time": row.gen_time.replace(microsecond=0),
            "event_seq": row.event_seq,
        }
        for row in session.scalars(select(ReceiptTimestampRow))
    }
    return [
        Finding(
            FindingCode.TIMESTAMP_MISMATCH,
            f"the time-stamp of {code}-{number:010d} differs from its receipt.timestamped event",
        )
        for code, number in sorted(set(want) | set(have))
        if want.get((code, number)) != have.get((code, number))
    ]
