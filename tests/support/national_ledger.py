"""A synthetic national ledger on PostgreSQL, made in SQL with ``generate_series``: receipts of
two provinces over some years and a line each, ANALYZEd (tests/test_explain.py, and
``python -m bench.lookup_ledger``, which goes to ten million).

Every fiftieth receipt is a red receipt naming the one before it; each receipt's "XML" is 1 KB,
so the heap is as wide as a real ledger's (signed XML of a few KB, compressed in the row) and a
plan that reads the heap where an index would do costs here what it costs there. A row of
about 1.2 KB is under TOAST's threshold (about 2 KB): PostgreSQL stores it inline and never
tries to compress it, so the 1 KB is one md5 repeated (one hash a receipt, not 32; the same
bytes on disk as 32 different ones). The statistics' triggers are left out of the fill (they
would slow it tenfold and nothing here reads the aggregates).

A large fill (``bulk=True``: the benches' ten million) drops the tables' keys and indexes
first and builds them once at the end (:func:`indexes_deferred`): one sorted build of each
instead of ten million random insertions into the digest's unique index; the plans and the
look-ups are those of the same indexes either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import event, text

from receipts.ledger.database import Database
from receipts.ledger.partitions import PARTITIONED, ensure_years
from receipts.reconcile import block_reader

__all__ = [
    "PROVINCES",
    "all_visible",
    "block_statements",
    "captured",
    "code_of",
    "explain",
    "fill_national",
    "indexed_scans",
    "indexes_deferred",
    "plan_nodes",
    "plan_scans",
]

PROVINCES = ("64", "11")

_FILL = """
INSERT INTO receipts (code, number, issue_year, digest, issuer, kind, issued_at, period,
    check_code, payer_name, payer_kind, payer_id, total_fen, original_code, original_number, xml)
SELECT p || '7101' || lpad((y % 100)::text, 2, '0'), n, y,
    md5(p || y || '-' || n) || md5(n || '-' || y || p), p || '0100',
    CASE WHEN n % 50 = 0 THEN 'reversal' ELSE 'normal' END,
    make_timestamptz(y, 1 + n % 12, 1 + n % 28, 2, 0, 0, 'UTC'),
    y || '-' || lpad((1 + n % 12)::text, 2, '0'), 'abcdef', 'payer ' || n, 'enterprise', NULL,
    10000 + n,
    CASE WHEN n % 50 = 0 THEN p || '7101' || lpad((y % 100)::text, 2, '0') END,
    CASE WHEN n % 50 = 0 THEN n - 1 END,
    convert_to(repeat(md5(p || y || n || 'x'), 32), 'UTF8')
FROM unnest(CAST(:years AS int[])) AS y, unnest(CAST(:provinces AS text[])) AS p,
    generate_series(CAST(:first AS int), CAST(:last AS int)) AS n
"""
_FILL_ITEMS = """
INSERT INTO receipt_items (code, number, line, issue_year, item_code, item_period, amount_fen)
SELECT p || '7101' || lpad((y % 100)::text, 2, '0'), n, 1, y, '01',
    y || '-' || lpad((1 + n % 12)::text, 2, '0'), 10000 + n
FROM unnest(CAST(:years AS int[])) AS y, unnest(CAST(:provinces AS text[])) AS p,
    generate_series(CAST(:first AS int), CAST(:last AS int)) AS n
"""
_CHUNK = 100_000
_BULK_CHUNK = 1_000_000
# The keys and indexes of the receipts' tables, read from the catalogue (the partitioned
# parents': dropping one drops its partitions' own).
_CONSTRAINTS = """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE conrelid = ANY(CAST(:tables AS regclass[])) AND contype IN ('p', 'u')
ORDER BY conname"""
_INDEXES = """SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
WHERE i.indrelid = ANY(CAST(:tables AS regclass[]))
AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY i.indexrelid"""


def code_of(province: str, year: int) -> str:
    """The receipt code the fill gives ``province``'s receipts of ``year``."""
    return f"{province}7101{year % 100:02d}"


@contextmanager
def indexes_deferred(db: Database, tables: Sequence[str] = PARTITIONED) -> Iterator[None]:
    """Drop the primary and unique keys and the indexes of ``tables`` (PostgreSQL), and make
    them again, as they were, when the block ends: for a bulk fill, which then costs one index
    build each instead of row-by-row upkeep."""
    names = {"tables": list(tables)}
    with db.engine.begin() as conn:
        constraints = conn.execute(text(_CONSTRAINTS), names).all()
        indexes = list(conn.execute(text(_INDEXES), names).scalars())
        for index in indexes:
            conn.execute(text(f"DROP INDEX {index.split(' INDEX ', 1)[1].split()[0]}"))
        for table, name, _ in constraints:
            conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    yield
    start = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        for table, name, definition in constraints:
            conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
        for index in indexes:
            # a partitioned parent's index reads "ON ONLY" (its partitions' indexes attached
            # one by one); made again in one statement, every partition's with it
            conn.execute(text(index.replace(" ON ONLY ", " ON ", 1)))
    print(f"keys and indexes built in {time.perf_counter() - start:.0f} s", flush=True)


def fill_national(db: Database, years: Sequence[int], per_year: int, *, bulk: bool = False) -> int:
    """Fill the initialised ledger ``db`` with ``per_year`` receipts (numbered from 1) of each
    province and year, and their lines, a chunk of numbers a transaction; VACUUM ANALYZE; the
    number of receipts. ``bulk``: keys and indexes built once at the end, chunks of a
    million, progress printed."""
    chunk = _BULK_CHUNK if bulk else _CHUNK
    start = time.perf_counter()
    with db.write() as (session, _state):
        ensure_years(session, years)
    with indexes_deferred(db) if bulk else nullcontext():
        for first in range(1, per_year + 1, chunk):
            bounds = {"first": first, "last": min(per_year, first + chunk - 1)}
            with db.engine.begin() as conn:
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                params = {"years": list(years), "provinces": list(PROVINCES), **bounds}
                conn.execute(text(_FILL), params)
                conn.execute(text(_FILL_ITEMS), params)
            if bulk:
                done = bounds["last"] * len(years) * len(PROVINCES)
                print(f"  {done:,} receipts ({time.perf_counter() - start:.0f} s)", flush=True)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # as autovacuum leaves a ledger: statistics, and the visibility map that lets a
        # covering index be read alone
        conn.execute(text("VACUUM ANALYZE receipts"))
        conn.execute(text("VACUUM ANALYZE receipt_items"))
    return per_year * len(years) * len(PROVINCES)


# The plans of the statements the code issues (tests/test_explain.py, bench/lookup_ledger.py).


def explain(db: Database, sql: str, params: Any) -> dict[str, Any]:
    """``EXPLAIN (FORMAT JSON)`` of ``sql`` with ``params``, on the driver's own cursor: the
    plan's top node."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        (document,) = cursor.fetchone()
        cursor.close()
    finally:
        raw.close()
    plan = document if isinstance(document, list) else json.loads(document)
    return dict(plan[0]["Plan"])


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of ``plan``, depth first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def plan_scans(plan: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(node type, relation, index) of every scan of the receipts' tables in ``plan``."""
    return [
        (node["Node Type"], node["Relation Name"], node.get("Index Name"))
        for node in plan_nodes(plan)
        if str(node.get("Relation Name", "")).startswith(PARTITIONED)
    ]


def indexed_scans(
    plan: dict[str, Any], filled: Collection[str]
) -> list[tuple[str, str, str | None]]:
    """The plan's scans of the receipts' tables, raising AssertionError (with the plan) when
    there are none or one of a partition in ``filled`` (holding receipts) is sequential; the
    empty ones (next year's, DEFAULT) may be read either way."""
    scans = plan_scans(plan)
    sequential = [s for s in scans if s[0] == "Seq Scan" and s[1] in filled]
    if not scans or sequential:
        raise AssertionError(f"sequential: {sequential}\n{json.dumps(plan, indent=1)}")
    return scans


def all_visible(db: Database, relations: Collection[str]) -> float:
    """The share of the pages of ``relations`` that the visibility map marks all-visible: what
    lets a covering index be read alone. VACUUM cannot mark a page while a transaction older
    than its rows is open anywhere in the database (other work on a shared server); then
    reading the covering index means reading the heap as well, and the planner rightly takes
    the smaller primary key."""
    with db.engine.connect() as conn:
        pages, visible = conn.execute(
            text(
                "SELECT sum(relpages), sum(relallvisible) FROM pg_class "
                "WHERE oid = ANY(CAST(:names AS regclass[]))"
            ),
            {"names": sorted(relations)},
        ).one()
    return float(visible or 0) / max(1, int(pages or 0))


def captured(db: Database, run: Callable[[], object]) -> list[tuple[str, Any]]:
    """The statements (and parameters) ``run`` executes through SQLAlchemy on ``db``."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


@contextmanager
def block_statements() -> Iterator[dict[str, dict[str, Any]]]:
    """Reconciliation's block reader's statements (SQL → its last parameters) while the block
    lasts: it runs them on the DBAPI cursor, past SQLAlchemy's events."""
    ran: dict[str, dict[str, Any]] = {}
    original = block_reader._Prepared.run

    def recording(self: Any, **params: object) -> list[Any]:
        ran[self._sql] = self._compiled.construct_params(params)
        return original(self, **params)

    block_reader._Prepared.run = recording  # type: ignore[method-assign]
    try:
        yield ran
    finally:
        block_reader._Prepared.run = original  # type: ignore[method-assign]
