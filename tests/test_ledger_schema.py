"""Migrations give exactly the models' schema; initialising twice changes nothing."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.migrate import GENESIS_HASH, initialise
from receipts.ledger.models import Base, LedgerState
from receipts.ledger.partitions import is_partition_name


def test_migrated_schema_equals_models(ledger_url: str) -> None:
    db = Database(ledger_url)
    initialise(db, "640100")
    with db.engine.connect() as conn:
        # PostgreSQL's partitions of receipts and receipt_items are tables the models do not
        # name (receipts.ledger.partitions).
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, kind, _: not is_partition_name(name or "")}
        )
        assert compare_metadata(context, Base.metadata) == []
    initialise(db, "640100")
    with db.read() as session:
        states = session.scalars(select(LedgerState)).all()
        assert [(s.org_code, s.event_count, s.head_hash) for s in states] == [
            ("640100", 0, GENESIS_HASH)
        ]
    db.dispose()


@pytest.mark.parametrize("url", ["mysql://x", "not a url", "oracle://a/b"])
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(InvalidInput):
        Database(url)
