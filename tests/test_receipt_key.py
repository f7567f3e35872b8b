"""receipts.ledger.receipt_key on both back ends: one receipt read by its key with its year
named answers what ``session.get`` answers, a malformed code finds nothing rather than failing,
and a row the session holds costs no query (tests/test_explain.py asserts PostgreSQL's plan)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event, select

from receipts.issuing.receipt_rows import receipt_columns
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from receipts.ledger.partitions import ensure_years
from receipts.ledger.receipt_key import receipt_key, receipt_row, year_of_code
from tests.support.factories import SHANGHAI, make_receipt

_IN_2027 = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)
_MALFORMED = ("", "6471012", "647101 7", "647101+7", "647101٢٧", "6471012x")


def test_a_code_names_its_year_only_with_two_ascii_digits() -> None:
    assert year_of_code("64710127") == 2027
    assert year_of_code("00710100") == 2000
    assert year_of_code("647101993") == 2099  # what the CHECK's substr reads too
    assert [year_of_code(code) for code in _MALFORMED] == [None] * len(_MALFORMED)


def _store_2027(ledger_db: Database, number: int, digest: str) -> None:
    """A receipt of code 64710127 stored through the ORM, its year's partition made first."""
    receipt = make_receipt(code="64710127", number=number, issued_at=_IN_2027)
    with ledger_db.write() as (session, _):
        columns = receipt_columns(receipt, b"<r/>", digest)
        ensure_years(session, [columns["issue_year"]])
        session.add(ReceiptRow(**columns))


def test_the_key_read_answers_as_session_get(ledger_db: Database) -> None:
    _store_2027(ledger_db, 3, "d" * 64)
    with ledger_db.read() as session:
        row = receipt_row(session, "64710127", 3)
        assert row is not None and row.digest == "d" * 64 and row.issue_year == 2027
        assert receipt_row(session, "64710127", 4) is None
        assert receipt_row(session, "64710126", 3) is None
        key = receipt_key("64710127", 3)
        assert session.scalar(select(ReceiptRow.digest).where(*key)) == "d" * 64
    for code in _MALFORMED:
        with ledger_db.read() as session:
            assert receipt_row(session, code, 3) is None
            assert session.scalars(select(ReceiptRow).where(*receipt_key(code, 3))).all() == []


def test_a_row_the_session_holds_costs_no_query(ledger_db: Database) -> None:
    _store_2027(ledger_db, 5, "e" * 64)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    with ledger_db.read() as session:
        first = receipt_row(session, "64710127", 5)
        event.listen(ledger_db.engine, "before_cursor_execute", record)
        try:
            again = receipt_row(session, "64710127", 5)
        finally:
            event.remove(ledger_db.engine, "before_cursor_execute", record)
    assert first is not None and again is first
    assert [s for s in statements if "receipts" in s] == []
