"""An event's hash as :func:`receipts.ledger.events.next_event` computes it (its canonical JSON
put together around the payload's, docs/operations.md) is :func:`event_hash`'s, the one the
audit, a receiving tier and the operator checks recompute from the stored payload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from receipts.ledger.events import (
    _hash_of_canonical,
    canonical_json,
    event_hash,
    next_event,
    rfc3339,
)
from receipts.ledger.models import LedgerState
from receipts.ledger.years import month_of

_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # controls, quotes, CJK, astral
_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(
    payload=st.dictionaries(_TEXT, _JSON, max_size=6),
    kind=_TEXT,
    operator=st.none() | _TEXT,
    prev=_TEXT,
    seq=st.integers(1, 2**63),
    second=st.integers(0, 4_000_000_000),
)
@example(
    payload={"名": '"\\\n\u2028\x00', "nested": {"b": [1, 2.5, None, True], "a": "x"}},
    kind="receipt.imported",
    operator="张三",
    prev="0" * 64,
    seq=1,
    second=0,
)
def test_the_hash_around_a_canonical_body_is_event_hash(
    payload: dict[str, Any],
    kind: str,
    operator: str | None,
    prev: str,
    seq: int,
    second: int,
) -> None:
    at = rfc3339(datetime.fromtimestamp(second, UTC))
    body = canonical_json(payload)
    expected = event_hash(prev, seq, at, kind, body, operator)
    assert _hash_of_canonical(prev, seq, at, kind, body, operator) == expected


def test_next_event_chains_with_event_hash() -> None:
    state = LedgerState(id=1, event_count=41, head_hash="a" * 64)
    at = datetime(2026, 12, 4, 1, 2, 3, 456, tzinfo=UTC)
    first = next_event(state, "receipt.imported", {"code": "64710126", "名": "宁夏"}, at)
    second = next_event(state, "receipt.imported", {"number": 7}, at)
    assert first["hash"] == event_hash(
        "a" * 64, 42, "2026-12-04T01:02:03Z", "receipt.imported", '{"code":"64710126","名":"宁夏"}'
    )
    assert second["prev_hash"] == first["hash"]
    assert second["hash"] == event_hash(
        first["hash"], 43, rfc3339(at), "receipt.imported", '{"number":7}'
    )
    assert (state.event_count, state.head_hash) == (43, second["hash"])


_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-11))])


@given(
    st.datetimes(timezones=_ZONES, min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
)
@example(datetime(999, 3, 1, 4, 5, 6, 789, tzinfo=UTC))
def test_times_are_written_as_strftime_writes_them(moment: datetime) -> None:
    # rfc3339 and month_of write their fields themselves; events hashed before them wrote
    # strftime's text, and must keep their hashes.
    in_utc = moment.astimezone(UTC).replace(microsecond=0)
    assert rfc3339(moment) == in_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert month_of(moment) == moment.strftime("%Y-%m")
