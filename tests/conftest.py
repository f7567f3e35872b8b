"""Shared fixtures: ledger databases on SQLite and PostgreSQL, a three-tier PKI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise

PG_ENV = "RECEIPTS_TEST_PG_URL"


def in_ci() -> bool:
    """CI sets CI=true: there, a missing tool or database fails instead of skipping."""
    return os.environ.get("CI", "").lower() == "true"


def pg_url_or_skip() -> str:
    """The PostgreSQL URL to test against, or skip (fail under CI) without one."""
    url = os.environ.get(PG_ENV)
    if not url:
        if in_ci():
            pytest.fail(f"{PG_ENV} is not set; CI must test the ledger on PostgreSQL")
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    return url


def pg_schema_url(base: str, schema: str) -> str:
    """``base`` with its search_path set to ``schema``."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


class PgSchemas:
    """Creates throw-away schemas in the test database and drops them afterwards."""

    def __init__(self, base: str) -> None:
        from sqlalchemy import create_engine, text

        self.base = base
        self._text = text
        try:
            self.admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text("select 1"))
        except Exception as exc:  # any driver error means: cannot connect
            pytest.fail(f"cannot connect to PostgreSQL at {PG_ENV}: {exc}")
        self.created: list[str] = []

    def new(self) -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(self._text(f"CREATE SCHEMA {schema}"))
        self.created.append(schema)
        return pg_schema_url(self.base, schema)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for schema in self.created:
                conn.execute(self._text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        self.admin.dispose()


@pytest.fixture
def pg_schemas() -> Iterator[PgSchemas]:
    schemas = PgSchemas(pg_url_or_skip())
    yield schemas
    schemas.drop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each back end."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    schemas = PgSchemas(pg_url_or_skip())
    try:
        yield schemas.new()
    finally:
        schemas.drop_all()


@pytest.fixture
def ledger_db(ledger_url: str) -> Iterator[Database]:
    """An initialised ledger of 640100 on each back end."""
    db = Database(ledger_url)
    initialise(db, "640100")
    yield db
    db.dispose()
