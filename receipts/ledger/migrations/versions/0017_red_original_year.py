"""The statistics' receipts trigger finds a red receipt's original in its year's partition only
(docs/statistics.md, "Triggers"; docs/operations.md, "Partitions by year of issue").

Migration 0016's ``stats_receipts_inserted`` looks each stored original of the statement's red
receipts up by ``(code, number)``: on a ledger partitioned by year that probes every year's
primary key, thirty of them in a national ledger kept thirty years. The original's year is its
code's last two digits (the CHECK of migration 0015 holds ``issue_year`` to it), so the look-up
now names it, and PostgreSQL prunes the other years as the trigger runs (run-time pruning of
the parameterised scan). Only the function's body changes, on PostgreSQL; SQLite's tables are
not partitioned, and its triggers stay as they are.

The body is 0016's own, with that one condition added (read from the 0016 file, so the two
cannot drift apart); downgrading puts 0016's back.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# The original's look-up in 0016's function, and the same naming the original's year.
_BY_KEY = """SELECT * FROM receipts o WHERE o.code = r.code
            AND o.number = r.number OFFSET 0"""
_BY_KEY_AND_YEAR = """SELECT * FROM receipts o WHERE o.code = r.code
            AND o.number = r.number
            AND o.issue_year = 2000 + CAST(substr(r.code, 7, 2) AS INTEGER) OFFSET 0"""


def _function_of_0016() -> str:
    """0016's ``CREATE FUNCTION stats_receipts_inserted`` statement, as 0016 made it."""
    spec = importlib.util.spec_from_file_location(
        "receipts_migration_0016", Path(__file__).with_name("0016_stats_aggregates.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    created: str = module._PG_RECEIPTS
    function, _trigger = created.split("CREATE TRIGGER", 1)
    if _BY_KEY not in function:
        raise RuntimeError(
            "0016's trigger function no longer looks the original up as 0017 expects"
        )
    return function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def _upgraded_receipts_function() -> str:
    """The function this migration makes (migration 0018 builds on it)."""
    return _function_of_0016().replace(_BY_KEY, _BY_KEY_AND_YEAR)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_upgraded_receipts_function())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function_of_0016())
