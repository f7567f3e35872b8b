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


def test_migrated_schema_equals_models(ledger_url: str) -> None:
    db = Database(ledger_url)
    initialise(db, "640100")
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
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
