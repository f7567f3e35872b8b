"""Reading a ledger's number space block by block (SQLite and PostgreSQL): the same blocks as the
pure summary, with one reader or two, only the scope's provinces read, a bad row named by its
block, and readers that stop when the consumer does."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import update

from receipts.domain.money import from_fen
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from receipts.reconcile import block_reader
from receipts.reconcile.block_reader import LedgerInconsistent, _numbers, ledger_blocks
from receipts.reconcile.blocks import Slot, blocks_of
from tests.support.reconcile import CODE, add_receipts, row


def test_ledger_blocks_match_the_pure_summary(ledger_db: Database) -> None:
    numbers = [n for n in range(1, 3000) if n % 97] + [5000, 70_000]
    random.Random(7).shuffle(numbers)  # insertion order must not matter
    rows = [row(n) for n in numbers] + [row(n, "640104", "64710226") for n in range(1, 40)]
    rows.append(row(3001, total_fen=-20_000, kind="reversal"))
    add_receipts(ledger_db, rows)
    slots = [
        Slot(r["issuer"], r["code"], r["number"], r["digest"], from_fen(r["total_fen"]))
        for r in rows
    ]
    with ledger_blocks(ledger_db, ["640100", "640104"]) as (events, blocks):
        from_db = sorted((b.summary() for b in blocks), key=lambda b: b.key)
    assert events == 0
    assert from_db == [b.summary() for b in blocks_of(slots)]
    with ledger_blocks(ledger_db, ["640104"]) as (_, blocks):
        assert {b.key.issuer for b in blocks} == {"640104"}


def test_one_reader_and_two_read_the_same_blocks(ledger_db: Database) -> None:
    rows = [row(n) for n in range(1, 6000) if n % 1500] + [
        row(n, "640104", "64710226") for n in (5, 6, 2000)
    ]
    add_receipts(ledger_db, rows)
    read = []
    for readers in (1, 2):
        with ledger_blocks(ledger_db, ["640100", "640104"], readers=readers) as (_, blocks):
            read.append(sorted((b.summary() for b in blocks), key=lambda b: b.key))
    assert read[0] == read[1] and len(read[0]) == 8


def test_only_the_scope_provinces_codes_are_read(
    ledger_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_receipts(
        ledger_db,
        [row(n) for n in range(1, 3000)] + [row(n, "650100", "65710126") for n in range(1, 3000)],
    )
    codes: set[str] = set()
    run = block_reader._Prepared.run

    def spy(self: Any, **params: object) -> list[Any]:
        codes.add(str(params.get("code")))
        return run(self, **params)

    monkeypatch.setattr(block_reader._Prepared, "run", spy)
    with ledger_blocks(ledger_db, ["640100"]) as (_, blocks):
        found = {b.key.code for b in blocks}
    assert found == {CODE} and not any(code.startswith("65") for code in codes)
    with ledger_blocks(ledger_db, ["640100", "650100"]) as (_, blocks):
        assert {b.key.code for b in blocks} == {CODE, "65710126"}


def test_a_bad_row_stops_the_read_with_its_block_named(ledger_db: Database) -> None:
    add_receipts(ledger_db, [row(n) for n in range(1, 5000)])
    with ledger_db.engine.begin() as conn:  # a digest that is not hex: only audit would say why
        conn.execute(update(ReceiptRow).where(ReceiptRow.number == 3000).values(digest="z" * 64))
    for readers in (1, 2):
        with (
            pytest.raises(LedgerInconsistent, match=r"ledger 640100 64710126 block 2 .*audit"),
            ledger_blocks(ledger_db, ["640100"], readers=readers) as (_, blocks),
        ):
            list(blocks)


@pytest.mark.slow  # 2-3 s: 60,000 rows, so that the readers' queue fills up
def test_a_consumer_may_stop_early(ledger_db: Database) -> None:
    add_receipts(ledger_db, [row(n) for n in range(1, 60_000)])
    threads = threading.active_count()
    with ledger_blocks(ledger_db, ["640100"]) as (_, blocks):
        first = next(blocks)  # the readers are still at work, their queue full
    assert first.summary().count in (1023, 1024)
    assert threading.active_count() == threads  # both readers stopped and joined


@pytest.mark.parametrize(
    ("offsets", "numbers"),
    [
        ("0,1,2,3", range(2048, 2052)),
        ("1023", range(3071, 3072)),
        ("7,8,9,10,11", range(2055, 2060)),
        ("0,1,3", [2048, 2049, 2051]),  # a hole: parsed
        ("1,0,2", [2049, 2048, 2050]),  # out of order: parsed (Block sorts it)
    ],
)
def test_block_numbers_from_offsets(offsets: str, numbers: Sequence[int]) -> None:
    found = _numbers(2048, 1024, offsets)
    assert list(found) == list(numbers) and type(found) is type(numbers)
