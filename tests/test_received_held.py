"""An import looks up which of a chunk's receipts the ledger holds already
(receipts.transmission.received_receipts.held_digests): by code with its year named, the
numbers as one array on PostgreSQL, in batches on SQLite. The same answer on both back ends,
whatever the mix of codes, years and numbers held or not."""

from __future__ import annotations

from sqlalchemy.orm import Session

from receipts.ledger.database import Database
from receipts.transmission.received_receipts import held_digests
from tests.support.reconcile import CODE, add_receipts, row

#: The same series a year later: another partition on PostgreSQL.
NEXT_YEAR = CODE[:6] + "27"


def test_held_digests_finds_exactly_the_held_receipts(ledger_db: Database) -> None:
    held = [row(n) for n in range(1, 1201, 2)] + [row(n, code=NEXT_YEAR) for n in (5, 6, 7)]
    add_receipts(ledger_db, held)
    # 1,200 numbers of one code (more than SQLite's batch of 500), odd ones held; numbers the
    # other year holds asked under this year's code, and the other year's own.
    keys = [(CODE, n) for n in range(1, 1201)] + [(NEXT_YEAR, n) for n in (6, 8)]
    with Session(ledger_db.engine) as session:
        found = held_digests(session, keys)
    expected = {(r["code"], r["number"]): r["digest"] for r in held}
    expected = {key: digest for key, digest in expected.items() if key in set(keys)}
    assert found == expected
    assert len(found) == 600 + 1
    assert found[(NEXT_YEAR, 6)] != found[(CODE, 5)] and (NEXT_YEAR, 8) not in found


def test_held_digests_of_nothing_asks_nothing(ledger_db: Database) -> None:
    with Session(ledger_db.engine) as session:
        assert held_digests(session, []) == {}
