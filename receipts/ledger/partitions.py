"""Receipts and their items partitioned by year of issue on PostgreSQL (docs/operations.md,
"Partitions by year of issue"); SQLite keeps one table of each, with the same columns and keys.

The year of issue is a receipt code's last two digits (docs/formats.md), stored in the column
``issue_year`` of both tables, which PostgreSQL partitions by range. A CHECK ties it to the
code, so a row cannot be filed under another year. Each table has one partition per year
(``receipts_2026``, ``receipt_items_2026``) and a DEFAULT partition (``receipts_default``) that
catches a year nobody created a partition for: a receipt never fails to store for want of a
partition. Every path that stores receipts calls :func:`ensure_years` first, so the DEFAULT
partition stays empty in practice; ``receipts ledger partitions`` shows it when it is not. When
a year whose rows wait in DEFAULT (its partition could not be made in time, or was detached
behind a writer's back) gets its partition, :func:`ensure_years` moves them there in the same
transaction.

A closed year is detached after its archives are verified (:mod:`receipts.archive.detach`):
the partition leaves the table and is kept, renamed ``receipts_2025_detached``, as a plain table.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, cast, func, literal_column, select, text
from sqlalchemy import table as sql_table
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from receipts.errors import InvalidInput
from receipts.ledger.models import Event
from receipts.ledger.years import YEAR_CHECK, issue_year

__all__ = [
    "DETACHED_EVENT",
    "PARTITIONED",
    "RECEIPT_EVENTS",
    "YEAR_CHECK",
    "Partition",
    "detach_year_tables",
    "detached_receipts",
    "ensure_years",
    "forget_years",
    "is_partition_name",
    "issue_year",
    "list_partitions",
    "move_default_years",
    "partition_name",
    "year_of",
]

#: The tables partitioned by year of issue (on PostgreSQL), the receipts first.
PARTITIONED = ("receipts", "receipt_items")
#: The event that records a detached year (docs/architecture.md, the event table).
DETACHED_EVENT = "ledger.year_detached"
#: Events through which a receipt's signed XML enters a ledger.
RECEIPT_EVENTS = frozenset(
    {
        "receipt.issued",
        "booking.recorded",
        "receipt.received",
        "receipt.imported",
        "receipt.restored",
    }
)

_LOCK_WAIT = "2s"
_LOCK_NOT_AVAILABLE = "55P03"
_log = logging.getLogger(__name__)
_PARTITION = re.compile(r"(receipts|receipt_items)_([0-9]{4}(_detached(_[0-9]+)?)?|default)")
_FIRST_YEAR, _LAST_YEAR = 2000, 2099

# Years known to have a partition, per database URL (search_path included): filled only from
# the catalogue, never on creating one, so a rolled-back creation is not remembered. A stale
# entry (a year detached by another process) costs nothing worse than rows in the DEFAULT
# partition, which ``receipts ledger partitions`` reports.
_known: dict[str, set[int]] = {}
_known_lock = threading.Lock()


def partition_name(table: str, year: int) -> str:
    """The partition of ``table`` holding ``year``."""
    if table not in PARTITIONED or not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise InvalidInput(f"no partition of {table!r} for year {year}")
    return f"{table}_{year}"


def is_partition_name(name: str) -> bool:
    """True for a partition's (or a detached partition's) table name: not a table of the
    models (the schema check leaves them out)."""
    return _PARTITION.fullmatch(name) is not None


def _url_key(connection: Connection) -> str:
    return connection.engine.url.render_as_string(hide_password=True)


def ensure_years(session: Session, years: Iterable[int]) -> None:
    """Create, in the session's transaction, the partitions of ``years`` that do not exist
    yet (PostgreSQL; nothing on SQLite). Called by every path that stores receipts, inside its
    write transaction: writers are serialised on the ledger's tip row, so two never create
    the same partition at once. A year whose rows already sit in the DEFAULT partition gets
    its partition all the same, and they move into it (:func:`_move_from_default`)."""
    wanted = set(years)
    if not wanted or session.get_bind().dialect.name != "postgresql":
        return
    connection = session.connection()
    key = _url_key(connection)
    with _known_lock:
        missing = wanted - _known.get(key, set())
    if not missing:
        return
    existing = _existing_years(connection)
    with _known_lock:
        _known.setdefault(key, set()).update(existing)
    for year in sorted(missing - existing):
        # Creating a partition locks the parent table: a long reader (an audit, a
        # reconciliation) would make it wait, and every look-up queue behind it. After
        # _LOCK_WAIT the year's receipts go to the DEFAULT partition instead.
        try:
            with connection.begin_nested():
                connection.execute(text(f"SET LOCAL lock_timeout = '{_LOCK_WAIT}'"))
                _create_year(connection, year)
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            _log.warning(
                "no partition for %s: receipts was busy for %s; its receipts go to "
                "receipts_default ('receipts ledger partitions')",
                year,
                _LOCK_WAIT,
            )
        connection.execute(text("SET LOCAL lock_timeout TO DEFAULT"))


def move_default_years(session: Session) -> list[int]:
    """Give every year with rows in the DEFAULT partition its own partition and move the rows
    there (:func:`ensure_years`, in the session's transaction, under its lock timeout): what
    ``receipts ledger partitions --move-default`` does for a year no new receipt will bring
    back. The years tried, oldest first (PostgreSQL; none on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    connection = session.connection()
    years = set(
        connection.execute(
            text(
                "SELECT DISTINCT issue_year FROM receipts_default "
                "UNION SELECT DISTINCT issue_year FROM receipt_items_default"
            )
        ).scalars()
    )
    forget_years(connection, years)  # remembered or not, DEFAULT says they have no partition
    ensure_years(session, years)
    return sorted(years)


def forget_years(connection: Connection, years: Iterable[int]) -> None:
    """Forget that ``years`` have partitions (this process): after detaching one."""
    with _known_lock:
        _known.get(_url_key(connection), set()).difference_update(years)


def _existing_years(connection: Connection) -> set[int]:
    names = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass('receipts')"
        )
    ).scalars()
    return {int(name[-4:]) for name in names if name[-4:].isdigit()}


def _create_year(connection: Connection, year: int) -> None:
    for table in PARTITIONED:
        waiting = connection.execute(
            # table: one of PARTITIONED, a constant
            text(f"SELECT 1 FROM {table}_default WHERE issue_year = :year LIMIT 1"),  # noqa: S608
            {"year": year},
        ).first()
        if waiting is not None:
            _move_from_default(connection, table, year)
            continue
        connection.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {partition_name(table, year)} PARTITION OF {table} "
                f"FOR VALUES FROM ({year}) TO ({year + 1})"
            )
        )


def _move_from_default(connection: Connection, table: str, year: int) -> None:
    """Give ``year`` its partition of ``table`` while rows of that year sit in the DEFAULT
    partition: PostgreSQL refuses to create a partition whose range DEFAULT holds rows of. The
    partition is made as a plain table of the same columns and CHECKs, the rows move into it
    (one DELETE ... RETURNING feeding the INSERT), and it is attached; ATTACH builds its
    indexes and checks that DEFAULT holds nothing of the year any more. The rows are the same
    rows: neither statement touches the parent table, so no trigger of migration 0016 fires,
    and the statistics' aggregates stand (``receipts audit`` recomputes them from the rows).
    ATTACH locks the parent more lightly than CREATE ... PARTITION OF, but DEFAULT fully, like
    it; the caller's lock timeout bounds the wait."""
    name = partition_name(table, year)
    columns = ", ".join(
        connection.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:table) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            ),
            {"table": table},
        ).scalars()
    )
    connection.execute(
        text(
            f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING COMPRESSION)"  # the XML's LZ4 (migration 0019), as PARTITION OF gives
        )
    )
    connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {table}_default WHERE issue_year = :year "  # noqa: S608
            f"RETURNING {columns}) INSERT INTO {name} ({columns}) SELECT {columns} FROM moved"
        ),
        {"year": year},
    )
    connection.execute(
        text(
            f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({year}) TO ({year + 1})"
        )
    )
    _log.info("%s: rows of %s moved out of %s_default into it", name, year, table)


@dataclass(frozen=True)
class Partition:
    """One year of the receipts table (or its DEFAULT partition, ``year`` None)."""

    year: int | None
    table: str
    receipts: int
    """Rows: PostgreSQL's estimate from the last ANALYZE (exact on SQLite)."""
    items: int
    """Item rows, likewise."""
    size: int | None
    """Bytes on disk of both partitions and their indexes (None on SQLite)."""


def list_partitions(connection: Connection) -> list[Partition]:
    """The years of the receipts table, oldest first, then the DEFAULT partition."""
    if connection.dialect.name != "postgresql":
        rows = connection.execute(
            text(
                "SELECT r.issue_year, r.n, (SELECT count(*) FROM receipt_items i "
                "WHERE i.issue_year = r.issue_year) FROM (SELECT issue_year, count(*) AS n "
                "FROM receipts GROUP BY issue_year) r ORDER BY r.issue_year"
            )
        ).all()
        return [Partition(year, "receipts", n, items, None) for year, n, items in rows]
    out = []
    for table, items_table in _partition_pairs(connection):
        year = None if table.endswith("_default") else int(table[-4:])
        (receipts, items, size) = connection.execute(
            text(
                "SELECT greatest(r.reltuples, 0)::bigint, greatest(i.reltuples, 0)::bigint, "
                "pg_total_relation_size(r.oid) + pg_total_relation_size(i.oid) "
                "FROM pg_class r, pg_class i WHERE r.oid = to_regclass(:r) "
                "AND i.oid = to_regclass(:i)"
            ),
            {"r": table, "i": items_table},
        ).one()
        if year is None:  # the DEFAULT partition: counted, it should be empty
            receipts = connection.scalar(select(func.count()).select_from(sql_table(table))) or 0
            items = connection.scalar(select(func.count()).select_from(sql_table(items_table))) or 0
        out.append(Partition(year, table, receipts, items, size))
    return out


def _partition_pairs(connection: Connection) -> list[tuple[str, str]]:
    names = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass('receipts') ORDER BY c.relname"
        )
    ).scalars()
    pairs = [(name, "receipt_items" + name[len("receipts") :]) for name in names]
    return sorted(pairs, key=lambda pair: pair[0].endswith("_default"))


def detach_year_tables(connection: Connection, year: int) -> list[str]:
    """Detach ``year``'s partitions in the connection's transaction and keep them as plain
    tables named ``<partition>_detached``; their names."""
    if connection.dialect.name != "postgresql":
        raise InvalidInput("only a PostgreSQL ledger is partitioned: nothing to detach")
    kept = []
    for table in PARTITIONED:
        partition = partition_name(table, year)
        exists = connection.execute(
            text(
                "SELECT 1 FROM pg_inherits WHERE inhparent = to_regclass(:parent) "
                "AND inhrelid = to_regclass(:partition)"
            ),
            {"parent": table, "partition": partition},
        ).first()
        if exists is None:
            raise InvalidInput(f"the ledger has no partition {partition} to detach")
        connection.execute(text(f"ALTER TABLE {table} DETACH PARTITION {partition}"))
        name = _free_name(connection, f"{partition}_detached")
        connection.execute(text(f"ALTER TABLE {partition} RENAME TO {name}"))
        kept.append(name)
    forget_years(connection, [year])
    return kept


def _free_name(connection: Connection, name: str) -> str:
    """``name``, or ``name_2``, ``name_3``...: a year detached again (receipts of it stored
    after it was first detached) keeps its earlier table."""
    taken = text("SELECT to_regclass(:name) IS NOT NULL")
    candidate, n = name, 1
    while connection.execute(taken, {"name": candidate}).scalar_one():
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def detached_receipts(events: Iterable[Event]) -> dict[tuple[str, int], int]:
    """(code, number) → the year of every receipt recorded before its year was detached: the
    receipts whose rows are no longer in the ledger's tables, by design."""
    entered: dict[tuple[str, int], int] = {}
    detached: dict[tuple[str, int], int] = {}
    for event in events:
        if event.kind in RECEIPT_EVENTS:
            payload: Mapping[str, Any] = json.loads(event.payload)
            key = (payload["code"], payload["number"])
            entered.setdefault(key, issue_year(key[0]))
        elif event.kind == DETACHED_EVENT:
            year = json.loads(event.payload)["year"]
            for key, of in entered.items():
                if of == year:
                    detached[key] = year
    return detached


def year_of(code: ColumnElement[str]) -> ColumnElement[int]:
    """SQL for the year of issue of ``code`` (a column or a bound parameter): compared with
    ``issue_year`` in a query, it lets PostgreSQL read one year's partition only, at planning
    when the code is known then, or as the statement starts."""
    # Constants written into the SQL, not bound: the node runs the compiled statement with the
    # look-up's own parameters only (receipts.lookup.LookupReader).
    return literal_column("2000", Integer) + cast(
        func.substr(code, literal_column("7"), literal_column("2")), Integer
    )
