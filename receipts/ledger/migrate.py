"""Creating and upgrading a ledger's schema with Alembic."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import insert, select

from receipts.errors import WorkspaceError
from receipts.ledger.database import Database
from receipts.ledger.models import LedgerState

__all__ = ["GENESIS_HASH", "initialise", "open_ledger", "upgrade"]

#: The hash the first event chains to.
GENESIS_HASH = "0" * 64


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "receipts.ledger:migrations")
    return config


def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    config = _config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def initialise(db: Database, org_code: str) -> None:
    """Create the schema and the chain tip of a new ledger (an existing one is left alone)."""
    upgrade(db)
    with db.read() as session:
        exists = session.scalars(select(LedgerState)).first() is not None
    if not exists:
        with db.engine.begin() as connection:
            connection.execute(
                insert(LedgerState).values(
                    id=1, org_code=org_code, event_count=0, head_hash=GENESIS_HASH
                )
            )


def open_ledger(db: Database, org_code: str) -> None:
    """Open an existing ledger of ``org_code`` (migrating it), or create it on first use.

    A ledger belonging to another organisation is refused: ledgers are never shared.
    """
    initialise(db, org_code)
    with db.read() as session:
        state = session.scalars(select(LedgerState)).one()
        if state.org_code != org_code:
            raise WorkspaceError(
                f"the ledger at {db.safe_url} belongs to {state.org_code}, not {org_code}"
            )
