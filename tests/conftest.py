"""Shared fixtures (ledger databases on SQLite and PostgreSQL, the signing tests' PKI) and the
Hypothesis profiles. The helpers behind them are in :mod:`tests.support`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from receipts.ledger.database import Database
from tests.support.hypothesis_profiles import chosen_profile, register_profiles
from tests.support.ledger_template import LedgerTemplates
from tests.support.pki import Pki, build_pki
from tests.support.pki_cli import Tiers, build_tiers
from tests.support.postgres import PgSchemas, pg_url_or_skip

register_profiles()
settings.load_profile(chosen_profile())


@pytest.fixture(scope="session")
def pki() -> Pki:
    """The signing tests' PKI (built once; see :mod:`tests.support.pki`)."""
    return build_pki()


@pytest.fixture
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test runs in its tmp_path as working directory (files named relative to it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def pki_tiers(tmp_path_factory: pytest.TempPathFactory) -> Tiers:
    """National, provincial and city workspaces with the PKI built through ``receipts pki``
    (once: tests that change them take ``pki_tiers_copy``)."""
    return build_tiers(tmp_path_factory.mktemp("tiers"))


@pytest.fixture
def pki_tiers_copy(pki_tiers: Tiers, tmp_path: Path) -> Tiers:
    """A private copy of ``pki_tiers``, for a test that changes the workspaces."""
    return pki_tiers.copy(tmp_path / "tiers")


@pytest.fixture
def pg_schemas() -> Iterator[PgSchemas]:
    """Throw-away schemas in the PostgreSQL test database (skip locally without one)."""
    schemas = PgSchemas(pg_url_or_skip())
    yield schemas
    schemas.drop_all()


@pytest.fixture(scope="session")
def ledger_templates() -> LedgerTemplates:
    """Initialised ledgers, made once per test process; ``ledger_db`` and ``pg_ledger_db`` copy
    them into each test's own database (see :mod:`tests.support.ledger_template`)."""
    return LedgerTemplates()


@pytest.fixture
def pg_ledger_db(pg_schemas: PgSchemas, ledger_templates: LedgerTemplates) -> Iterator[Database]:
    """An initialised ledger of 640100 on PostgreSQL only, for what only PostgreSQL has (COPY,
    partitions by year); skips locally without one, as ``pg_schemas``."""
    db = ledger_templates.fill(pg_schemas.new())
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each back end (for a test that migrates it itself)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    schemas = PgSchemas(pg_url_or_skip())
    try:
        yield schemas.new()
    finally:
        schemas.drop_all()


@pytest.fixture
def ledger_db(ledger_url: str, ledger_templates: LedgerTemplates) -> Iterator[Database]:
    """An initialised ledger of 640100 on each back end (a copy of the template's: the
    migrations run once per test process, and in the tests that take ``ledger_url``)."""
    db = ledger_templates.fill(ledger_url)
    yield db
    db.dispose()
