"""The public look-up does the same work for a receipt that exists and one that does not (issue
14, defect 11d): the same SQL statements and one constant-time comparison of the check code in
every case, so its timing does not tell whether a receipt exists. (Timing itself is measured by
bench/lookup.py, not asserted: timing tests are flaky.)"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from receipts.domain.model import ReceiptRef
from receipts.ledger.database import Database, default_url
from receipts.ledger.migrate import initialise
from receipts.ledger.models import ReceiptRow
from receipts.lookup import NO_MATCH, lookup
from tests.support.reconcile import CODE, add_receipts, row
from tests.support.workspaces import federation


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    home = tmp_path / "yinchuan"
    federation(home, "640100")
    database = Database(default_url(home))
    initialise(database, "640100")
    add_receipts(database, [row(1, check_code="abc123", total_fen=20_000)])
    yield database
    database.dispose()


CASES = {
    "exists, right code": (1, "abc123", None),
    "exists, right code and amount": (1, "abc123", Decimal("200.00")),
    "exists, wrong code": (1, "zzzzzz", None),
    "exists, wrong amount": (1, "abc123", Decimal("201.00")),
    "missing": (19, "zzzzzz", None),
    "missing, with an amount": (19, "abc123", Decimal("200.00")),
}


def test_every_look_up_runs_the_same_statements_and_one_comparison(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])  # the SQL text

    comparisons: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def compare(a: bytes, b: bytes) -> bool:
        comparisons.append((a, b))
        return real(a, b)

    # An ORM object built for a row that exists (and not for one that does not) was the
    # difference in work before: none is built now.
    loaded: list[object] = []

    def load(target: object, _context: object) -> None:
        loaded.append(target)

    monkeypatch.setattr(hmac, "compare_digest", compare)
    event.listen(db.engine, "before_cursor_execute", count)
    event.listen(ReceiptRow, "load", load)
    seen: dict[str, tuple[list[str], int, str]] = {}
    try:
        for name, (number, check, amount) in CASES.items():
            statements.clear()
            comparisons.clear()
            answer = lookup(db, ReceiptRef(CODE, number), check, amount)
            seen[name] = (list(statements), len(comparisons), answer.message)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
        event.remove(ReceiptRow, "load", load)
    assert loaded == []
    first = seen["missing"][0]
    assert sum(sql.startswith("SELECT") for sql in first) == 1
    for name, (sql, compared, _message) in seen.items():
        assert sql == first, name
        assert compared == 1, name
    assert [m for _sql, _n, m in seen.values()].count(NO_MATCH) == 4
    assert seen["exists, right code"][2] == f"receipt {CODE}-0000000001 is issued"


def test_the_answer_gives_the_issue_day_in_the_federations_calendar(tmp_path: Path) -> None:
    """A receipt issued at 01:30 in Yinchuan is stored at 17:30 UTC the day before; the look-up
    answers the day printed on the receipt, not the UTC day."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    home = tmp_path / "yinchuan"
    federation(home, "640100")
    database = Database(default_url(home))
    initialise(database, "640100")
    early = datetime(2026, 11, 27, 17, 30, tzinfo=UTC)  # 2026-11-28 01:30 +08:00
    add_receipts(database, [row(1, check_code="abc123", total_fen=20_000, issued_at=early)])
    try:
        ref = ReceiptRef(CODE, 1)
        assert lookup(database, ref, "abc123", zone=ZoneInfo("Asia/Shanghai")).issued_on == (
            "2026-11-28"
        )
        assert lookup(database, ref, "abc123").issued_on == "2026-11-27"
    finally:
        database.dispose()
