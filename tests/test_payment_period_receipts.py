"""所属期 on receipts: the item, the XML and its schema, the ledger column, batch files."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, select, text

from receipts.batch.reader import read_batch
from receipts.domain.model import Item
from receipts.domain.xmlcodec import parse_receipt_xml, receipt_to_element, serialize
from receipts.errors import InvalidInput, InvalidReceipt, SchemaError
from receipts.issuing.issue import issue
from receipts.ledger import migrate
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptItemRow
from tests.support.batch_files import CATALOGUE, GOOD_JSON, row, write_csv, write_jsonl
from tests.support.factories import make_item, make_receipt
from tests.support.ledger import make_issuer, request, stock_city

FORMS = [
    ("2026-10", "2026-10"),
    ("2026Q4", "2026Q4"),
    ("2026q4", "2026Q4"),
    ("2026-01~2026-06", "2026-01~2026-06"),
    ("2025-07～2026-06", "2025-07~2026-06"),
    ("2026", "2026"),
]


@pytest.mark.parametrize(("given", "canonical"), FORMS)
def test_item_period_takes_every_form_canonicalised(given: str, canonical: str) -> None:
    item = make_item(period=given)
    assert item.period == canonical
    assert item.negated().period == canonical
    assert item.payment_period.text == canonical


@pytest.mark.parametrize("canonical", sorted({c for _, c in FORMS}))
def test_xml_carries_the_canonical_period_and_reads_it_back(canonical: str) -> None:
    receipt = make_receipt(items=(make_item(period=canonical),))
    data = serialize(receipt_to_element(receipt))
    assert f"<Period>{canonical}</Period>".encode() in data
    assert parse_receipt_xml(data) == receipt


def _xml_with_period(period: str) -> bytes:
    data = serialize(receipt_to_element(make_receipt(items=(make_item(),))))
    return data.replace(b"<Period>2026-10</Period>", f"<Period>{period}</Period>".encode())


@pytest.mark.parametrize(
    ("period", "message"),
    [
        pytest.param("2026q4", "is not accepted by the pattern", id="period-xml-lower-case-q"),
        pytest.param("2026-01～2026-06", "is not accepted", id="period-xml-full-width-tilde"),
        pytest.param("2026Q5", "is not accepted", id="period-xml-quarter-5"),
    ],
)
def test_schema_takes_only_canonical_forms(period: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        parse_receipt_xml(_xml_with_period(period))


@pytest.mark.parametrize(
    ("period", "message"),
    [
        pytest.param(
            "2026-03~2026-03",
            "Item: Period '2026-03~2026-03' is not written as '2026-03'",
            id="period-xml-one-month-range",
        ),
        pytest.param(
            "2026-06~2026-01", "the range ends before it begins", id="period-xml-reversed"
        ),
        pytest.param("2026-01~2027-06", "at most 12 months, not 18", id="period-xml-too-long"),
    ],
)
def test_model_refuses_what_the_schema_lets_through(period: str, message: str) -> None:
    with pytest.raises(InvalidReceipt, match=message):
        parse_receipt_xml(_xml_with_period(period))


def test_ledger_stores_a_range_period(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=5)
    items = (Item("01", "工会经费(拨缴)", "2025-07～2026-06", "2000.00"),)  # type: ignore[arg-type]
    outcome = issue(ledger_db, make_issuer(), request(items=items))
    with ledger_db.read() as session:
        stored = session.scalars(select(ReceiptItemRow)).one()
    assert stored.item_period == "2025-07~2026-06"
    assert outcome.ref.number == stored.number


def test_migration_0005_keeps_month_rows(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.sqlite'}")
    config = migrate._config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(
            text(
                "INSERT INTO receipt_items (code, number, line, item_code, item_period, "
                "amount_fen) VALUES ('64710126', 1, 1, '01', '2026-10', 200000)"
            )
        )
    migrate.upgrade(db)
    with db.engine.begin() as connection:
        connection.execute(
            insert(ReceiptItemRow).values(
                code="64710126",
                number=2,
                line=1,
                item_code="01",
                item_period="2025-07~2026-06",
                amount_fen=100,
            )
        )
    with db.read() as session:
        periods = session.scalars(select(ReceiptItemRow.item_period).order_by("number")).all()
    assert periods == ["2026-10", "2025-07~2026-06"]
    db.dispose()


@pytest.mark.usefixtures("in_tmp_path")
@pytest.mark.parametrize(("given", "canonical"), FORMS)
def test_batch_files_take_every_form(given: str, canonical: str) -> None:
    csv_entries, csv_problems = read_batch(write_csv([row(period=given)]), CATALOGUE)
    item = {**GOOD_JSON["items"][0], "period": given}
    json_entries, json_problems = read_batch(write_jsonl({**GOOD_JSON, "items": [item]}), CATALOGUE)
    assert csv_problems == json_problems == []
    assert [e.request.items[0].period for e in csv_entries + json_entries] == [canonical] * 2


def test_item_refuses_a_bad_period_in_one_line() -> None:
    with pytest.raises(InvalidInput, match=r"^item period '2026Q5' must be a month \(2026-10\)"):
        make_item(period="2026Q5")
