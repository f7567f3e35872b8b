"""The statistics' triggers read a receipt's lines, and a new line's receipt, in their year's
partition only (docs/statistics.md, "Triggers"; docs/operations.md, "Partitions by year of
issue").

Migration 0016's ``stats_items_inserted`` finds each new line's receipt, and counts the lines
that receipt held before, by ``(code, number)``; its ``stats_receipts_inserted`` reads each
touched receipt's lines the same way. On a ledger partitioned by year each such look-up probes
every year's partition of ``receipts`` or ``receipt_items``: thirty of them in a national ledger
kept thirty years, for every receipt an import or a batch stores. A new line carries its year
(``issue_year``, the partition key); a receipt's year is its code's last two digits (the CHECK of
migration 0015). The look-ups now name it, and PostgreSQL prunes the other years as the trigger
runs. As in migration 0017, only the functions' bodies change, on PostgreSQL (SQLite's tables
are not partitioned): each is read from the migration that made it (0016's items function,
0017's receipts function), with these conditions added, so they cannot drift apart; a body that
no longer holds what is replaced stops the migration. Downgrading puts 0016's and 0017's back.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_CODE_YEAR = "2000 + CAST(substr({}.code, 7, 2) AS INTEGER)"

# (what 0016 wrote, what 0018 writes) in the items function.
_ITEMS = [
    (
        """FROM (SELECT code, number, count(*) AS lines FROM new_items GROUP BY code, number) n
        CROSS JOIN LATERAL (SELECT * FROM receipts r WHERE r.code = n.code
            AND r.number = n.number OFFSET 0) r""",
        """FROM (SELECT code, number, issue_year, count(*) AS lines FROM new_items
              GROUP BY code, number, issue_year) n
        CROSS JOIN LATERAL (SELECT * FROM receipts r WHERE r.code = n.code
            AND r.number = n.number AND r.issue_year = n.issue_year OFFSET 0) r""",
    ),
    (
        """(SELECT count(*) FROM receipt_items i WHERE i.code = r.code
                AND i.number = r.number) > n.lines""",
        """(SELECT count(*) FROM receipt_items i WHERE i.code = r.code
                AND i.number = r.number AND i.issue_year = r.issue_year) > n.lines""",
    ),
    (
        """SELECT n.code, n.number, k.dimension, k.key, count(*) AS lines,""",
        """SELECT n.code, n.number, n.issue_year, k.dimension, k.key, count(*) AS lines,""",
    ),
    (
        """GROUP BY n.code, n.number, k.dimension, k.key""",
        """GROUP BY n.code, n.number, n.issue_year, k.dimension, k.key""",
    ),
    (
        """WHERE i.code = g.code AND i.number = g.number
""",
        """WHERE i.code = g.code AND i.number = g.number AND i.issue_year = g.issue_year
""",
    ),
]
# The same in the receipts function (a touched receipt's lines).
_RECEIPTS = [
    (
        """FROM receipt_items i WHERE i.code = t.code AND i.number = t.number OFFSET 0) i""",
        f"""FROM receipt_items i WHERE i.code = t.code AND i.number = t.number
            AND i.issue_year = {_CODE_YEAR.format("t")} OFFSET 0) i""",
    ),
]


def _migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"receipts_migration_{name[:4]}", Path(__file__).with_name(f"{name}.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _function(created: str) -> str:
    """The ``CREATE OR REPLACE FUNCTION`` statement of a migration's function and trigger."""
    function, _trigger = created.split("CREATE TRIGGER", 1)
    return function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def _replaced(body: str, replacements: list[tuple[str, str]]) -> str:
    for old, new in replacements:
        if body.count(old) != 1:
            raise RuntimeError(f"a statistics trigger no longer reads as 0018 expects: {old!r}")
        body = body.replace(old, new)
    return body


def _before() -> tuple[str, str]:
    """(the items function as 0016 made it, the receipts function as 0017 made it)."""
    items = _function(_migration("0016_stats_aggregates")._PG_ITEMS)
    receipts = _migration("0017_red_original_year")._upgraded_receipts_function()
    return items, receipts


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        items, receipts = _before()
        op.execute(_replaced(items, _ITEMS))
        op.execute(_replaced(receipts, _RECEIPTS))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in _before():
            op.execute(function)
