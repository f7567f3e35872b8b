"""The ``ledger_db`` fixtures copy one initialised ledger per test process
(tests/support/ledger_template.py): a copy must be the ledger the migrations make, object for
object and row for row, on both back ends, and a test's changes must stay in its own copy."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from tests.support.ledger_template import ORG, LedgerTemplates, schema_of
from tests.support.postgres import PgSchemas, pg_url_or_skip

# Every object of a schema as PostgreSQL describes it, with its definition: relations (tables,
# partitions and their bounds, indexes, sequences, views) with their options and comments,
# columns, constraints, indexes, triggers, functions, extended statistics, sequences' state.
_PG_CATALOG = {
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.relispartition,
               pg_get_expr(c.relpartbound, c.oid), c.reloptions::text,
               obj_description(c.oid, 'pg_class'),
               CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
               CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema""",
    "columns": """
        SELECT table_name, ordinal_position, column_name, data_type, is_nullable,
               column_default, is_identity, is_generated, generation_expression
        FROM information_schema.columns WHERE table_schema = :schema""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = :schema""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :schema",
    "triggers": """
        SELECT t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema AND NOT t.tgisinternal""",
    "functions": """
        SELECT p.proname, pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = :schema""",
    "statistics": """
        SELECT s.stxname, pg_get_statisticsobjdef(s.oid)
        FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
        WHERE n.nspname = :schema""",
    "sequences": """
        SELECT sequencename, start_value, increment_by, last_value
        FROM pg_sequences WHERE schemaname = :schema""",
}


def _pg_description(url: str) -> dict[str, Any]:
    schema = schema_of(url)
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            found: dict[str, Any] = {
                what: sorted(
                    tuple(str(v).replace(schema, "S") for v in row)
                    for row in conn.execute(text(query), {"schema": schema})
                )
                for what, query in _PG_CATALOG.items()
            }
            tables = [row[0] for row in found["relations"] if row[1] in ("r", "p")]
            found["rows"] = {
                table: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{table}"'))))
                for table in tables
            }
    finally:
        db.dispose()
    return found


def _sqlite_description(url: str) -> dict[str, Any]:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            objects = sorted(
                tuple(row) for row in conn.execute(text("SELECT * FROM sqlite_master"))
            )
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "user_version", "application_id", "page_size")
            }
            rows = {
                name: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{name}"'))))
                for kind, name, *_ in objects
                if kind == "table"
            }
    finally:
        db.dispose()
    return {"objects": objects, "pragmas": pragmas, "rows": rows}


def test_a_copy_is_the_ledger_the_migrations_make_on_postgresql(
    pg_schemas: PgSchemas, ledger_templates: LedgerTemplates
) -> None:
    migrated = Database(pg_schemas.new())
    initialise(migrated, ORG)
    migrated.dispose()
    copied = ledger_templates.fill(pg_schemas.new())
    copied.dispose()
    expected = _pg_description(migrated.url)
    # Not vacuous: the ledger's partitions, triggers and functions are there to compare.
    kinds = {row[1] for row in expected["relations"]}
    assert {"r", "p", "i", "I"} <= kinds, kinds
    assert expected["triggers"] and expected["functions"]
    assert _pg_description(copied.url) == expected


@pytest.mark.parametrize("org", [ORG, "640000"])
def test_a_copy_is_the_ledger_the_migrations_make_on_sqlite(
    tmp_path: Path, ledger_templates: LedgerTemplates, org: str
) -> None:
    migrated = Database(f"sqlite:///{tmp_path / 'migrated.sqlite'}")
    initialise(migrated, org)
    migrated.dispose()
    copied = ledger_templates.fill(f"sqlite:///{tmp_path / 'copied.sqlite'}", org)
    copied.dispose()
    expected = _sqlite_description(migrated.url)
    assert expected["rows"]["ledger_state"] and expected["rows"]["alembic_version"]
    assert _sqlite_description(copied.url) == expected
    # Private, as the product creates a ledger file (docs/security.md).
    assert stat.S_IMODE((tmp_path / "copied.sqlite").stat().st_mode) == 0o600


def test_a_test_changes_only_its_own_copy(
    tmp_path: Path, pg_schemas: PgSchemas, ledger_templates: LedgerTemplates
) -> None:
    pg_url_or_skip()
    urls = [
        f"sqlite:///{tmp_path / 'a.sqlite'}",
        f"sqlite:///{tmp_path / 'b.sqlite'}",
        pg_schemas.new(),
        pg_schemas.new(),
    ]
    dbs = [ledger_templates.fill(url) for url in urls]
    try:
        for first, second in (dbs[:2], dbs[2:]):
            with first.engine.begin() as conn:
                conn.execute(text("UPDATE ledger_state SET event_count = 7"))
            with second.engine.connect() as conn:
                assert conn.execute(text("SELECT event_count FROM ledger_state")).scalar() == 0
    finally:
        for db in dbs:
            db.dispose()
    again = ledger_templates.fill(pg_schemas.new())
    try:
        with again.engine.connect() as conn:
            assert conn.execute(text("SELECT event_count FROM ledger_state")).scalar() == 0
    finally:
        again.dispose()
