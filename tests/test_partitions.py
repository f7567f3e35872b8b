"""Receipts by year of issue (issue 19, item 2): the ``issue_year`` column and its CHECK on both
back ends; on PostgreSQL the partitions the migration makes, the partition a new year gets when
its first receipt is stored, the DEFAULT partition that catches a year nobody made one for, and
``receipts ledger partitions``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from receipts.audit.aggregates import check_aggregates
from receipts.issuing.issue import IssueOutcome, issue_batch
from receipts.ledger import partitions
from receipts.ledger.database import Database
from receipts.ledger.migrate import _config, initialise
from receipts.ledger.models import ReceiptItemRow, ReceiptRow
from tests.support.ledger import SHANGHAI, make_issuer, request, stock_city
from tests.support.postgres import PgSchemas
from tests.support.workspaces import federation, receipts
from tests.test_partitions_compression import xml_compression


@pytest.fixture
def pg_ledger(pg_schemas: PgSchemas) -> Iterator[Database]:
    db = Database(pg_schemas.new())
    initialise(db, "640100")
    yield db
    db.dispose()


def _partition_of(db: Database, code: str, number: int) -> str:
    with db.engine.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT tableoid::regclass::text FROM receipts WHERE code = :c AND number = :n"
                ),
                {"c": code, "n": number},
            ).scalar_one()
        )


def _row(code: str, number: int) -> dict[str, object]:
    return {
        "code": code,
        "number": number,
        "digest": f"{number:064d}",
        "issuer": "640100",
        "kind": "normal",
        "issued_at": datetime(2000 + int(code[6:]), 3, 1, tzinfo=SHANGHAI),
        "period": f"20{code[6:]}-03",
        "check_code": "abcdef",
        "payer_name": "x",
        "payer_kind": "enterprise",
        "payer_id": None,
        "total_fen": 100,
        "original_code": None,
        "original_number": None,
        "xml": b"<x/>",
    }


def test_issued_receipts_carry_their_year_and_a_wrong_year_is_refused(
    ledger_url: str, tmp_path: Path
) -> None:
    db = Database(ledger_url)
    initialise(db, "640100")
    stock_city(db, tmp_path, count=10)
    (issued,) = issue_batch(db, make_issuer(), [request("P1")])
    year = datetime.now(SHANGHAI).year
    with db.read() as session:
        row = session.get(ReceiptRow, (issued.ref.code, issued.ref.number))
        assert row is not None and row.issue_year == year
        lines = session.scalars(select(ReceiptItemRow.issue_year)).all()
        assert lines == [year]
    wrong = _row("64710124", 9) | {"issue_year": 2025}
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(insert(ReceiptRow), [wrong])
    db.dispose()


def test_the_migration_partitions_the_rows_it_finds_by_year(pg_schemas: PgSchemas) -> None:
    db = Database(pg_schemas.new())
    config = _config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0014")
        for code, number in (("64710123", 1), ("64710124", 2), ("64710124", 3)):
            row = _row(code, number)
            columns = ", ".join(row)
            conn.execute(text(f"INSERT INTO receipts ({columns}) VALUES (:{', :'.join(row)})"), row)
            conn.execute(
                text(
                    "INSERT INTO receipt_items (code, number, line, item_code, item_period, "
                    "amount_fen) VALUES (:c, :n, 1, '01', '2024-03', 100)"
                ),
                {"c": code, "n": number},
            )
    initialise(db, "640100")
    now = datetime.now(SHANGHAI).year
    with db.engine.connect() as conn:
        found = {p.table: (p.year, p.receipts) for p in partitions.list_partitions(conn)}
        kinds: dict[str, str] = dict(
            conn.execute(
                text(
                    "SELECT relname, relkind FROM pg_class WHERE relname IN "
                    "('receipts', 'receipt_items') AND relnamespace = "
                    "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
                )
            ).all()
        )
    assert kinds == {"receipts": "p", "receipt_items": "p"}
    assert {"receipts_2023", "receipts_2024", f"receipts_{now}", f"receipts_{now + 1}"} <= set(
        found
    )
    assert found["receipts_default"] == (None, 0)
    assert _partition_of(db, "64710124", 3) == "receipts_2024"
    with db.read() as session:
        assert session.get(ReceiptRow, ("64710123", 1)) is not None
        years = session.execute(
            select(ReceiptItemRow.code, ReceiptItemRow.issue_year).order_by(ReceiptItemRow.number)
        ).all()
    assert years == [("64710123", 2023), ("64710124", 2024), ("64710124", 2024)]
    db.dispose()


def test_a_year_without_a_partition_gets_one_with_its_first_receipt(
    pg_ledger: Database, tmp_path: Path
) -> None:
    year = datetime.now(SHANGHAI).year
    with pg_ledger.engine.begin() as conn:
        for table in ("receipts", "receipt_items"):
            conn.execute(text(f"DROP TABLE {table}_{year}"))
        partitions.forget_years(conn, [year])
    stock_city(pg_ledger, tmp_path, count=10)
    (issued,) = issue_batch(pg_ledger, make_issuer(), [request("N1")])
    assert _partition_of(pg_ledger, issued.ref.code, issued.ref.number) == f"receipts_{year}"
    with pg_ledger.engine.connect() as conn:
        items = conn.execute(text("SELECT tableoid::regclass::text FROM receipt_items")).scalars()
        assert list(items) == [f"receipt_items_{year}"]


def test_a_receipt_whose_partition_went_missing_is_stored_in_the_default_one(
    pg_ledger: Database, tmp_path: Path
) -> None:
    """Another process detached the year after this one saw its partition: the receipt is
    stored all the same, in the DEFAULT partition, and ``ledger partitions`` shows it."""
    year = datetime.now(SHANGHAI).year
    stock_city(pg_ledger, tmp_path, count=10)
    (first,) = issue_batch(pg_ledger, make_issuer(), [request("D1")])
    with pg_ledger.engine.begin() as conn:  # what detaching does, behind this process's back
        for table in ("receipts", "receipt_items"):
            conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {table}_{year}"))
            conn.execute(text(f"ALTER TABLE {table}_{year} RENAME TO {table}_{year}_gone"))
    (second,) = issue_batch(pg_ledger, make_issuer(), [request("D2")])
    assert _partition_of(pg_ledger, second.ref.code, second.ref.number) == "receipts_default"
    with pg_ledger.engine.connect() as conn:
        shown = {p.table: p for p in partitions.list_partitions(conn)}
    assert shown["receipts_default"].receipts == 1
    assert shown["receipts_default"].items == 1
    assert first.ref != second.ref


def test_ledger_partitions_lists_the_years(pg_schemas: PgSchemas, tmp_path: Path) -> None:
    url = pg_schemas.new()
    home = tmp_path / "yc"
    federation(home, "640100")
    result = receipts(home, "--json", "ledger", "partitions", db=url)
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    year = datetime.now(SHANGHAI).year
    assert [p["year"] for p in listed] == [year, year + 1, None]
    assert all(p["receipts"] == 0 and p["bytes"] > 0 for p in listed)
    human = receipts(home, "ledger", "partitions", db=url)
    assert f"receipts_{year}" in human.output and "default" in human.output


def test_ledger_partitions_on_sqlite_counts_the_years(tmp_path: Path) -> None:
    home = tmp_path / "yc"
    federation(home, "640100")
    db = Database(f"sqlite:///{home / 'ledger.sqlite'}")
    initialise(db, "640100")
    stock_city(db, tmp_path, count=10)
    list(issue_batch(db, make_issuer(), [request("S1"), request("S2")]))
    db.dispose()
    result = receipts(home, "--json", "ledger", "partitions")
    assert result.exit_code == 0, result.output
    year = datetime.now(SHANGHAI).year
    assert json.loads(result.output) == [
        {"year": year, "table": "receipts", "receipts": 2, "items": 2, "bytes": None}
    ]


def test_a_year_detached_twice_keeps_both_tables(pg_ledger: Database) -> None:
    """Receipts of a detached year stored later get a new partition; detaching it again keeps
    the first table and names the second after it."""
    year = datetime.now(SHANGHAI).year + 1
    kept = []
    for _ in range(2):
        with pg_ledger.write() as (session, _state):
            partitions.ensure_years(session, [year])
            kept.append(partitions.detach_year_tables(session.connection(), year))
    assert kept == [
        [f"receipts_{year}_detached", f"receipt_items_{year}_detached"],
        [f"receipts_{year}_detached_2", f"receipt_items_{year}_detached_2"],
    ]
    assert all(partitions.is_partition_name(name) for names in kept for name in names)


def test_a_new_year_waits_at_most_two_seconds_for_a_busy_table(
    pg_ledger: Database, tmp_path: Path
) -> None:
    """A long reader holds the receipts table: the first receipt of a year without a partition
    does not wait for it (and make every look-up queue behind), it goes to DEFAULT."""
    issued = _issued_behind_a_busy_reader(pg_ledger, tmp_path, "B1")
    assert _partition_of(pg_ledger, issued.ref.code, issued.ref.number) == "receipts_default"


def _issued_behind_a_busy_reader(db: Database, tmp_path: Path, payer: str) -> IssueOutcome:
    """This year's partition dropped, then one receipt issued while a reader holds the table."""
    year = datetime.now(SHANGHAI).year
    with db.engine.begin() as conn:
        for table in ("receipts", "receipt_items"):
            conn.execute(text(f"DROP TABLE {table}_{year}"))
        partitions.forget_years(conn, [year])
    stock_city(db, tmp_path, count=10)
    with db.engine.connect() as reader, reader.begin():
        reader.execute(text("SELECT count(*) FROM receipts")).scalar_one()
        (issued,) = issue_batch(db, make_issuer(), [request(payer)])
    return issued


def _aggregates(db: Database) -> list[list[object]]:
    with db.engine.connect() as conn:
        return [
            [tuple(row) for row in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4"))]
            for t in ("stats_receipts", "stats_lines")
        ]


def test_rows_waiting_in_default_move_into_their_year_s_new_partition(
    pg_ledger: Database, tmp_path: Path
) -> None:
    """A receipt stored in DEFAULT (its year's partition could not be made behind a busy
    table): when the year gets its partition, the rows move there in the same transaction, the
    partition has every index, DEFAULT is empty and the statistics' aggregates are unchanged
    and what the audit recomputes from the rows."""
    year = datetime.now(SHANGHAI).year
    waiting = _issued_behind_a_busy_reader(pg_ledger, tmp_path, "W1")
    assert _partition_of(pg_ledger, waiting.ref.code, waiting.ref.number) == "receipts_default"
    before = _aggregates(pg_ledger)
    assert before[0]
    with pg_ledger.write() as (session, _state):
        partitions.ensure_years(session, [year])
    assert _aggregates(pg_ledger) == before
    (after,) = issue_batch(pg_ledger, make_issuer(), [request("W2")])
    for ref in (waiting.ref, after.ref):
        assert _partition_of(pg_ledger, ref.code, ref.number) == f"receipts_{year}"
    with pg_ledger.engine.connect() as conn:
        items = conn.execute(text("SELECT DISTINCT tableoid::regclass::text FROM receipt_items"))
        assert list(items.scalars()) == [f"receipt_items_{year}"]
        shown = {p.table: p for p in partitions.list_partitions(conn)}
        methods = xml_compression(conn)  # made from DEFAULT's rows: the XML's LZ4 too (0019)
        indexes: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT tablename, count(*) FROM pg_indexes WHERE schemaname = "
                    "current_schema() AND tablename IN (:moved, :made) GROUP BY tablename"
                ),
                {"moved": f"receipts_{year}", "made": f"receipts_{year + 1}"},
            ).all()
        )
    assert (shown["receipts_default"].receipts, shown["receipts_default"].items) == (0, 0)
    assert indexes[f"receipts_{year}"] == indexes[f"receipts_{year + 1}"] > 1
    assert methods[f"receipts_{year}"] == methods["receipts"] == methods["receipts_default"]
    with pg_ledger.read() as session:
        assert check_aggregates(session) == []


def test_ledger_partitions_move_default_gives_a_waiting_year_its_partition(
    pg_schemas: PgSchemas, tmp_path: Path
) -> None:
    """Rows of a year in DEFAULT with no further receipt of that year to come: ``receipts
    ledger partitions --move-default`` makes the partition and moves them."""
    url = pg_schemas.new()
    home = tmp_path / "yc"
    federation(home, "640100")
    db = Database(url)
    initialise(db, "640100")
    with db.engine.begin() as conn:
        conn.execute(insert(ReceiptRow), [_row("64710121", 1) | {"issue_year": 2021}])
    db.dispose()
    listed = json.loads(receipts(home, "--json", "ledger", "partitions", db=url).output)
    assert [(p["year"], p["receipts"]) for p in listed][-1] == (None, 1)
    result = receipts(home, "--json", "ledger", "partitions", "--move-default", db=url)
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed[0]["table"] == "receipts_2021"
    assert (listed[-1]["year"], listed[-1]["receipts"]) == (None, 0)
    db = Database(url)
    assert _partition_of(db, "64710121", 1) == "receipts_2021"
    db.dispose()
