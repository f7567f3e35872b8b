"""Connecting to a ledger and running write transactions safely on SQLite and PostgreSQL.

Every write transaction is serialised: on SQLite by ``BEGIN IMMEDIATE`` (pysqlite would defer
``BEGIN`` to the first write, so read-then-increment would race), on PostgreSQL by
locking the single ``ledger_state`` row. Numbers are taken and the event chain extended inside
that one lock, so two clerks never get the same number and a crash rolls everything back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from receipts.errors import EnvironmentFailure, InvalidInput
from receipts.ledger.anchor import ANCHOR_PENDING, ANCHOR_WANTED, LedgerAnchor
from receipts.ledger.events import OPERATOR
from receipts.ledger.models import LedgerState

__all__ = ["Database", "default_url"]

_IMMEDIATE = "receipts_immediate"


def default_url(home: Path) -> str:
    """The embedded SQLite ledger of a workspace."""
    return f"sqlite:///{(home / 'ledger.sqlite').resolve()}"


class Database:
    """A ledger database: an engine plus the write-transaction discipline."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise InvalidInput(f"not a database URL: {url!r}") from None
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            _create_private(parsed.database)
            self.engine: Engine = create_engine(parsed, connect_args={"timeout": 60})
            _configure_sqlite(self.engine)
        elif parsed.get_backend_name() == "postgresql":
            self.engine = create_engine(parsed, pool_pre_ping=True)
        else:
            raise InvalidInput(f"unsupported database {parsed.get_backend_name()!r}")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = self.engine.execution_options(**{_IMMEDIATE: True})
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)
        #: Where the ledger's signed anchor is kept outside the database (none: not anchored).
        self.anchor: LedgerAnchor | None = None
        self._anchor_checked = False
        #: Called before each write transaction: the operator its events record (None in a
        #: workspace without operators); raises to refuse the write (docs/security.md).
        self.authorise: Callable[[], str | None] | None = None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (a consistent snapshot on both back ends)."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[tuple[Session, LedgerState]]:
        """A serialised write transaction, with the locked chain tip. Commits on success.

        With an :attr:`anchor`, the first write refuses a ledger behind it, and each committed
        transaction that signed a head hands its signed facts over (after the commit: a crash in
        between leaves the anchor behind the ledger, which the next write repairs; never the
        ledger behind the anchor, which is what truncation looks like).
        """
        operator = self.authorise() if self.authorise is not None else None
        with self._write_sessions() as session:
            if operator is not None:
                session.info[OPERATOR] = operator
            with session.begin():
                query = select(LedgerState).where(LedgerState.id == 1)
                if not self.is_sqlite:
                    query = query.with_for_update()
                state = session.scalars(query).one_or_none()
                if state is None:
                    raise EnvironmentFailure(f"ledger {self.safe_url} is not initialised")
                if self.anchor is not None:
                    if not self._anchor_checked:
                        self.anchor.check(session, state)
                        self._anchor_checked = True
                    session.info[ANCHOR_WANTED] = True
                yield session, state
            pending = session.info.pop(ANCHOR_PENDING, None)
            if pending is not None and self.anchor is not None:
                self.anchor.record(pending)

    @property
    def safe_url(self) -> str:
        """The URL without a password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        """Close pooled connections (before forking workers, and at the end)."""
        self.engine.dispose()


def _create_private(database: str | None) -> None:
    """Create a new SQLite file empty with mode 0600, before SQLite opens it: the ledger holds
    every payer's records (docs/security.md). SQLite gives its ``-wal``, ``-shm`` and
    ``-journal`` files the database file's mode, so they are 0600 too, whatever the umask."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    except FileNotFoundError:
        return  # no such folder: SQLite's own error says so when it connects


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        # FULL: a committed receipt survives a power cut, not only a killed process.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
