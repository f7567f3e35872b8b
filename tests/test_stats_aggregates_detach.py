"""A year detached from a partitioned PostgreSQL ledger leaves the aggregates with its receipts
(receipts.ledger.aggregate_upkeep.forget_year, in the detaching transaction): the statistics
still equal the scan of the rows that remain, and the audit's recomputation."""

from __future__ import annotations

import random

import pytest
from sqlalchemy.orm import Session

from receipts.audit.aggregates import check_aggregates
from receipts.ledger.aggregate_upkeep import forget_year
from receipts.ledger.database import Database
from receipts.ledger.partitions import detach_year_tables, ensure_years
from tests.test_stats_aggregates import assert_same_as_the_scan, insert_rows, random_ledger


@pytest.mark.parametrize("year", [2025, 2026])
def test_a_detached_year_leaves_the_aggregates(pg_ledger_db: Database, year: int) -> None:
    ledger_db = pg_ledger_db  # only a PostgreSQL ledger is partitioned by year

    rng = random.Random(21)
    receipts, items = random_ledger(rng, 80)  # codes of 2025 and 2026, red across the two
    with Session(ledger_db.engine) as session, session.begin():
        ensure_years(session, {2025, 2026})
    insert_rows(ledger_db, receipts, items, "receipts-first", rng)
    with ledger_db.engine.begin() as connection:
        forget_year(connection, year)
        detach_year_tables(connection, year)
    left = [r for r in receipts if r["issue_year"] != year]
    assert left and len(left) < len(receipts)
    assert_same_as_the_scan(ledger_db)
    with ledger_db.read() as session:
        assert check_aggregates(session) == []
