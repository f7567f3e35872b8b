"""Initialised ledgers made once per test process and copied, for the ``ledger_db`` fixtures.

Running the Alembic migrations (``receipts.ledger.migrate.initialise``) costs about a second on
SQLite and two to three on PostgreSQL (loading and running every revision), and about 500 tests
start from a new initialised ledger (and about 45 stock a city from a new province ledger). So each
test process initialises one ledger per back end and organisation and fills each test's own new,
empty database with a copy of it:

- SQLite: the file, copied byte for byte (mode 0600, as the product creates it).
- PostgreSQL: the schema, dumped once with ``pg_dump`` (every table, partition, index, trigger,
  function, sequence and row, schema-qualified) and replayed into the test's own new schema.

Each test still has a database or schema of its own, so tests stay as isolated as before.
``tests/test_ledger_template.py`` checks a copy against a ledger the migrations made, object for
object; the migrations themselves stay tested by the tests that run them (``ledger_url``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.engine import make_url

from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from tests.support.postgres import PgSchemas, pg_url_or_skip

__all__ = ["ORG", "LedgerTemplates", "schema_of", "sqlite_ledger"]

#: The organisation every template ledger belongs to (as ``ledger_db`` always had).
ORG = "640100"


def schema_of(url: str) -> str:
    """The schema a URL of :class:`PgSchemas` points its search_path at."""
    options = unquote(str(make_url(url).query["options"]))
    assert options.startswith("-csearch_path="), url
    return options.removeprefix("-csearch_path=")


class LedgerTemplates:
    """The template ledgers of one test process, each made on first use."""

    def __init__(self) -> None:
        self._pg: dict[tuple[str, str], tuple[str, str] | None] = {}

    def fill(self, url: str, org: str = ORG) -> Database:
        """``url``'s new, empty database (SQLite: a file not yet there; PostgreSQL: a schema of
        :class:`PgSchemas`) as a copy of an initialised ledger of ``org``; opened."""
        if make_url(url).get_backend_name() == "sqlite":
            sqlite_ledger(Path(str(make_url(url).database)), org)
            return Database(url)
        db = Database(url)
        key = (pg_url_or_skip(), org)
        if key not in self._pg:
            self._pg[key] = _pg_template(*key)
        template = self._pg[key]
        if template is None:  # no pg_dump here: migrate, as before
            initialise(db, org)
            return db
        schema, sql = template
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(sql.replace(schema, schema_of(url)))
            cursor.close()
            raw.commit()
        finally:
            # The dump's SET commands (an empty search_path among them) stay with this
            # connection: close it rather than hand it back to the pool.
            raw.invalidate()
        return db


#: This process's SQLite templates, one per organisation (removed when the process ends).
_SQLITE_FOLDER = tempfile.TemporaryDirectory(prefix="ledger-templates-")


@functools.cache
def _sqlite_template(org: str) -> Path:
    folder = Path(_SQLITE_FOLDER.name) / org
    folder.mkdir()
    path = folder / "template.sqlite"
    db = Database(f"sqlite:///{path}")
    initialise(db, org)
    # The last connection closing checkpoints the WAL into the file and removes it.
    db.dispose()
    leftovers = sorted(p.name for p in folder.iterdir() if p != path)
    assert not leftovers, f"SQLite left {leftovers} beside the template"
    return path


def sqlite_ledger(target: Path, org: str = ORG) -> None:
    """An initialised SQLite ledger of ``org`` at ``target`` (left alone if it exists, as
    ``initialise`` leaves an existing ledger): a copy of this process's template, mode 0600."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as out, _sqlite_template(org).open("rb") as source:
        shutil.copyfileobj(source, out)


def _pg_template(base: str, org: str) -> tuple[str, str] | None:
    """(schema, SQL) of an initialised ledger dumped from a throw-away schema, or None without
    ``pg_dump``."""
    tool = shutil.which("pg_dump")
    if tool is None:
        return None
    schemas = PgSchemas(base, prefix="tpl")
    try:
        url = schemas.new()
        schema = schemas.created[-1]
        db = Database(url)
        initialise(db, org)
        db.dispose()
        return schema, _dump(tool, base, schema)
    finally:
        schemas.drop_all()


def _dump(tool: str, base: str, schema: str) -> str:
    """``pg_dump`` of ``schema`` as SQL one round trip can run: INSERTs (COPY needs psql), no
    owners or grants, no ``CREATE SCHEMA`` (the copy's schema already exists), no psql
    meta-commands (``\\restrict``, which newer pg_dump versions write)."""
    url = make_url(base)
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    command = [tool, "--schema", schema, "--inserts", "--no-owner", "--no-privileges"]
    for flag, value in (("--host", url.host), ("--port", url.port), ("--username", url.username)):
        if value is not None:
            command += [flag, str(value)]
    command.append(str(url.database))
    run = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, f"pg_dump failed: {run.stderr}"
    lines = [
        line
        for line in run.stdout.splitlines()
        if not line.startswith("\\") and line != f"CREATE SCHEMA {schema};"
    ]
    return "\n".join(lines) + "\n"
