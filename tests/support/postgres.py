"""Throw-away PostgreSQL schemas for ledger tests and benchmarks.

The test database is named by ``RECEIPTS_TEST_PG_URL``; each test gets new schemas in it (the
URL's ``search_path`` points there) and drops them afterwards, so tests can run side by side.
"""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support.skips import skip_or_fail

__all__ = ["PG_ENV", "PgSchemas", "pg_schema_url", "pg_url_or_skip"]

PG_ENV = "RECEIPTS_TEST_PG_URL"


def pg_url_or_skip() -> str:
    """The PostgreSQL URL to test against, or skip (fail under CI) without one."""
    url = os.environ.get(PG_ENV)
    if not url:
        skip_or_fail(
            f"PostgreSQL tests need {PG_ENV} "
            "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    return url


def pg_schema_url(base: str, schema: str) -> str:
    """``base`` with its search_path set to ``schema``."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


class PgSchemas:
    """Creates throw-away schemas in the test database and drops them afterwards."""

    def __init__(self, base: str, prefix: str = "t") -> None:
        from sqlalchemy import create_engine, text

        self.base = base
        self.prefix = prefix
        self._text = text
        try:
            self.admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text("select 1"))
        except Exception as exc:  # any driver error means: cannot connect
            pytest.fail(f"cannot connect to PostgreSQL at {PG_ENV}: {exc}")
        self.created: list[str] = []

    def new(self) -> str:
        """A new, empty schema; the URL whose search_path is that schema."""
        schema = f"{self.prefix}_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(self._text(f"CREATE SCHEMA {schema}"))
        self.created.append(schema)
        return pg_schema_url(self.base, schema)

    def drop_all(self) -> None:
        """Drop every schema this object created."""
        with self.admin.connect() as conn:
            for schema in self.created:
                conn.execute(self._text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        self.admin.dispose()
