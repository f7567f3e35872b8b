"""``receipt_rows.bulk_insert`` sends PostgreSQL a binary COPY (the XML as its bytes, not as
hex text): every value a ledger table takes comes back as it went in, and the server still
refuses a value too long for its column, as the text COPY did."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.issuing.receipt_rows import bulk_insert
from receipts.ledger.database import Database
from receipts.ledger.models import ClientReference, Event, ReceiptRow
from receipts.ledger.timestamp_models import ReceiptTimestampRow
from tests.support.reconcile import CODE, row

AT = datetime(2026, 10, 8, 2, 0, 5, tzinfo=UTC)


def test_values_come_back_as_they_went_in(pg_ledger_db: Database) -> None:
    xml = bytes(range(256)) * 40  # every byte value, NUL and backslash included
    receipt = row(7, xml=xml, payer_name="宁夏\\贺兰山\t实业", payer_id=None, issue_year=2026)
    stamp = {
        "code": CODE,
        "number": 7,
        "token": b"\x00\x01\\\xff",
        "token_digest": "d" * 64,
        "gen_time": AT,
        "event_seq": 2**40,
    }
    event = {
        "seq": 2**40,
        "at": AT,
        "kind": "receipt.imported",
        "payload": '{"名":"\\\\n"}',
        "prev_hash": "0" * 64,
        "hash": "1" * 64,
        "operator": None,
    }
    reference = {"issuer": "640100", "reference": "R-1", "code": CODE, "number": 7, "request": "{}"}
    with Session(pg_ledger_db.engine) as session, session.begin():
        for table, values in (
            (ReceiptRow, receipt),
            (Event, event),
            (ReceiptTimestampRow, stamp),
            (ClientReference, reference),
        ):
            bulk_insert(session, table, [values])
        stored = session.scalars(select(ReceiptRow).where(ReceiptRow.number == 7)).one()
        assert (stored.xml, stored.payer_name, stored.payer_id) == (
            xml,
            receipt["payer_name"],
            None,
        )
        assert (stored.issued_at, stored.issue_year, stored.total_fen) == (
            receipt["issued_at"],
            2026,
            receipt["total_fen"],
        )
        token = session.scalars(select(ReceiptTimestampRow)).one()
        assert (token.token, token.gen_time, token.event_seq) == (b"\x00\x01\\\xff", AT, 2**40)
        logged = session.scalars(select(Event).where(Event.seq == 2**40)).one()
        assert (logged.at, logged.payload, logged.operator) == (AT, event["payload"], None)
        assert session.scalars(select(ClientReference)).one().request == "{}"


def test_a_value_too_long_for_its_column_is_refused(pg_ledger_db: Database) -> None:
    too_long = row(8, check_code="abcdefg", issue_year=2026)  # check_code is VARCHAR(6)
    refused = pytest.raises(psycopg.errors.StringDataRightTruncation)
    with refused, Session(pg_ledger_db.engine) as session, session.begin():
        bulk_insert(session, ReceiptRow, [too_long])


def test_every_ledger_table_copied_goes_in_binary(pg_ledger_db: Database) -> None:
    # A type psycopg has no binary dumper for silently falls back to the text COPY; at the
    # pins and at the floors (psycopg 3.1.4 has none registered under varchar), none does.
    from receipts.issuing.receipt_rows import _binary_types

    dialect = pg_ledger_db.engine.dialect
    for table in (ReceiptRow, Event, ReceiptTimestampRow, ClientReference):
        columns = [column.name for column in table.__table__.columns]
        assert _binary_types(dialect, table, columns) is not None, table.__tablename__
