"""Alembic migrations of the ledger (run by ``receipts.ledger.migrate.upgrade``)."""
