"""The data sets of ``bench.reconcile``: two federation workspaces whose ledgers (SQLite files,
or two schemas of a PostgreSQL database) hold the same N synthetic receipts but for planted
differences, and the baseline's ``WITHOUT ROWID`` tables."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["CODE", "ISSUED", "build", "build_join_tables", "build_pg", "drop_pg"]

CODE = "64710126"
ISSUED = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)


# The statistics' receipt aggregates of the synthetic rows (all normal receipts, no lines, no
# red ones, so every one is ``issued``), as migration 0016's triggers would have kept them.
_STATS_FILL = (
    "INSERT INTO stats_receipts (period, issuer, payer_kind, status, receipts, fen) "
    "SELECT period, issuer, payer_kind, 'issued', count(*), sum(total_fen) FROM receipts "
    "GROUP BY period, issuer, payer_kind"
)


def _plant(n: int, diff: int, seed: int) -> dict[str, set[int]]:
    """Which numbers differ, by kind: a third each missing, extra and differing."""
    picks = random.Random(seed).sample(range(1, n + 1), diff)
    return {kind: set(picks[k::3]) for k, kind in enumerate(("missing", "extra", "differing"))}


def build(tmp: Path, n: int, diff: int, seed: int) -> tuple[Path, Path, dict[str, set[int]]]:
    """Two federation workspaces whose ledgers hold N receipts each but for the planted
    differences; returns their homes and the planted numbers by kind.

    The rows are synthetic, so the builder takes the bulk path: one ``INSERT … SELECT`` over a
    recursive sequence with the secondary indexes dropped (rebuilt afterwards by sorting, not
    by 10^7 random B-tree inserts into the digest index), no journal and no fsync. The ledger
    is then the one the migrations made, with its indexes re-created from their own DDL."""
    import sqlite3

    from receipts.ledger.database import Database, default_url
    from receipts.ledger.migrate import initialise
    from receipts.ledger.years import issue_year
    from tests.support.workspaces import federation

    city, province = tmp / "city", tmp / "province"
    federation(city, "640100")
    federation(province, "640000")
    db = Database(default_url(city))
    initialise(db, "640100")
    db.dispose()
    planted = _plant(n, diff, seed)
    path = city / "ledger.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MB of page cache for the index builds
        indexes = _drop_sqlite_indexes(conn)
        conn.execute("BEGIN")
        conn.execute(
            "WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < ?) "
            "INSERT INTO receipts (code, number, issue_year, digest, issuer, kind, issued_at, "
            "period, check_code, payer_name, payer_kind, total_fen, xml) "
            "SELECT ?, x, ?, lower(hex(randomblob(32))), '640100', 'normal', ?, '2026-10', "
            "'abc123', ?, 'enterprise', (x * 7919) % 100000 + 100, CAST('<Receipt/>' AS BLOB) "
            "FROM seq",
            (n, CODE, issue_year(CODE), _sqlite_time(), "宁夏贺兰山实业有限公司"),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    shutil.copyfile(path, province / "ledger.sqlite")
    changed = sorted(planted["differing"])
    year = issue_year(CODE)

    def keyed(numbers: Iterable[int]) -> list[tuple[str, int, int]]:
        # the whole primary key (code, number, issue_year): a number alone cannot use it, and
        # each statement would scan the 10^7 rows
        return [(CODE, x, year) for x in sorted(numbers)]

    by_key = "WHERE code = ? AND number = ? AND issue_year = ?"
    # "missing" = in the city's file, not at the province; "extra" = at the province only
    _edit_sqlite(
        province / "ledger.sqlite",
        indexes,
        [
            ("UPDATE ledger_state SET org_code = '640000'", []),
            (f"DELETE FROM receipts {by_key}", keyed(planted["missing"])),
            (
                f"UPDATE receipts SET digest = lower(hex(randomblob(32))) {by_key}",
                keyed(changed[0::2]),
            ),
            (f"UPDATE receipts SET total_fen = total_fen + 1 {by_key}", keyed(changed[1::2])),
        ],
    )
    _edit_sqlite(path, indexes, [(f"DELETE FROM receipts {by_key}", keyed(planted["extra"]))])
    return city, province, planted


def _sqlite_time() -> str:
    """:data:`ISSUED` as the ledger's column type stores it on SQLite (its bound text)."""
    from sqlalchemy import Column, MetaData, Table, create_engine, insert

    from receipts.ledger.base import UtcDateTime

    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("at", UtcDateTime()))
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(insert(table).values(at=ISSUED))
        stored: str = conn.exec_driver_sql("SELECT at FROM t").scalar_one()
    engine.dispose()
    return stored


def _drop_sqlite_indexes(conn: Any) -> list[str]:
    """Drop the receipts table's explicit indexes and its triggers; their DDL, to re-create
    them. The statistics triggers (migration 0016) would probe the dropped index of originals
    once per row; :func:`_edit_sqlite` fills the aggregates in one ``GROUP BY`` instead."""
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        "AND tbl_name = 'receipts' AND sql IS NOT NULL ORDER BY type"
    ).fetchall()
    for kind, name, _ in rows:
        conn.execute(f'DROP {kind.upper()} "{name}"')
    return [sql for _, _, sql in rows]


def _edit_sqlite(path: Path, indexes: list[str], edits: list[tuple[str, list[Any]]]) -> None:
    """Apply the planted edits (by primary key), then re-create the dropped indexes."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute("BEGIN")
        for sql, params in edits:
            if params:
                conn.executemany(sql, params)
            else:
                conn.execute(sql)
        conn.execute("DELETE FROM stats_receipts")
        conn.execute(_STATS_FILL)
        for ddl in indexes:
            conn.execute(ddl)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode=WAL")  # as the ledger runs (receipts.ledger.database)
    finally:
        conn.close()


def build_join_tables(tmp: Path, city: Path, province: Path) -> Path:
    """The same rows in two WITHOUT ROWID tables: the baseline, rows clustered on the join key."""
    from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine

    path = tmp / "join.sqlite"
    path.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    meta = MetaData()
    for name in ("a", "b"):
        Table(
            name,
            meta,
            Column("code", String(8), primary_key=True),
            Column("number", BigInteger, primary_key=True),
            Column("digest", String(64), nullable=False),
            Column("total_fen", BigInteger, nullable=False),
            Column("issuer", String(6), nullable=False),
            sqlite_with_rowid=False,
        )
    meta.create_all(engine)
    for name, home in (("a", city), ("b", province)):
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=OFF")  # synthetic: no crash safety needed
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql(f"ATTACH DATABASE ? AS src_{name}", (str(home / "ledger.sqlite"),))
            conn.exec_driver_sql(
                f"INSERT INTO {name} SELECT code, number, digest, total_fen, issuer "
                f"FROM src_{name}.receipts ORDER BY code, number"
            )
            conn.commit()
    engine.dispose()
    return path


def build_pg(
    base: str, tmp: Path, n: int, diff: int, seed: int, prefix: str | None = None
) -> tuple[Path, Path, dict[str, set[int]], dict[str, str]]:
    """As :func:`build`, with the ledgers in two new schemas of a PostgreSQL database
    (``PREFIX_city`` and ``PREFIX_province``, a random prefix without one); returns the URL and
    schema of each side too (``city``, ``city_schema``, …)."""
    import uuid

    from sqlalchemy import create_engine, text

    from receipts.ledger.database import Database
    from receipts.ledger.migrate import initialise
    from tests.support.postgres import pg_schema_url
    from tests.support.workspaces import federation

    city, province = tmp / "city", tmp / "province"
    federation(city, "640100")
    federation(province, "640000")
    prefix = prefix or f"bench_{uuid.uuid4().hex[:8]}"
    if not prefix.isidentifier() or not prefix.isascii():
        raise SystemExit(f"{prefix!r} is not a plain schema name prefix")
    schemas = {side: f"{prefix}_{side}" for side in ("city", "province")}
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for schema in schemas.values():
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    urls = {side: pg_schema_url(base, schema) for side, schema in schemas.items()}
    try:
        for side, org in (("city", "640100"), ("province", "640000")):
            db = Database(urls[side])
            initialise(db, org)
            db.dispose()
        planted = _fill_pg(admin, schemas, urls, n, diff, seed)
    except BaseException:
        drop_pg(base, list(schemas.values()))
        raise
    finally:
        admin.dispose()
    return city, province, planted, {**urls, **{f"{k}_schema": v for k, v in schemas.items()}}


def _fill_pg(
    admin: Any, schemas: dict[str, str], urls: dict[str, str], n: int, diff: int, seed: int
) -> dict[str, set[int]]:
    """The bulk path of :func:`build` on PostgreSQL: secondary indexes, unique constraints and
    triggers dropped, one ``INSERT … SELECT`` over ``generate_series`` per side, the planted
    edits, the statistics aggregates in one ``GROUP BY``, then everything re-created."""
    from sqlalchemy import text

    from receipts.ledger.years import issue_year

    planted = _plant(n, diff, seed)
    changed = sorted(planted["differing"])
    city, province = schemas["city"], schemas["province"]
    with admin.connect() as conn:
        conn.execute(text("SET maintenance_work_mem = '512MB'"))
        conn.execute(text("SET synchronous_commit = off"))
        saved = {schema: _drop_pg_extras(conn, schema) for schema in schemas.values()}
        conn.execute(
            text(
                f"INSERT INTO {city}.receipts (code, number, issue_year, digest, "
                "issuer, kind, issued_at, period, check_code, payer_name, payer_kind, total_fen, "
                "xml) SELECT :code, x, :year, "
                "md5(random()::text) || md5(random()::text), '640100', 'normal', "
                ":issued, '2026-10', 'abc123', :payer, 'enterprise', (x * 7919) % 100000 + 100, "
                "'<Receipt/>'::bytea FROM generate_series(1::bigint, :n) AS x"
            ),
            {
                "code": CODE,
                "year": issue_year(CODE),
                "issued": ISSUED,
                "payer": "宁夏贺兰山实业有限公司",
                "n": n,
            },
        )
        conn.execute(text(f"INSERT INTO {province}.receipts SELECT * FROM {city}.receipts"))
        # "missing" = in the city's file, not at the province; "extra" = at the province only
        edits = [
            (f"UPDATE {province}.ledger_state SET org_code = '640000'", None),
            (f"DELETE FROM {province}.receipts WHERE number = ANY(:x)", planted["missing"]),
            (
                f"UPDATE {province}.receipts SET digest = "
                "md5(random()::text) || md5(random()::text) WHERE number = ANY(:x)",
                changed[0::2],
            ),
            (
                f"UPDATE {province}.receipts SET total_fen = total_fen + 1 WHERE number = ANY(:x)",
                changed[1::2],
            ),
            (f"DELETE FROM {city}.receipts WHERE number = ANY(:x)", planted["extra"]),
        ]
        for sql, numbers in edits:
            # the primary key's code and year too: the number alone would scan every row
            keyed = {"x": sorted(numbers or ()), "code": CODE, "year": issue_year(CODE)}
            conn.execute(text(sql.replace("number = ANY(:x)", _PG_KEY)), keyed)
        for schema, ddl in saved.items():
            conn.execute(text(f"DELETE FROM {schema}.stats_receipts"))
            conn.execute(
                text(
                    _STATS_FILL.replace("stats_receipts", f"{schema}.stats_receipts").replace(
                        "FROM receipts", f"FROM {schema}.receipts"
                    )
                )
            )
            for statement in ddl:
                conn.execute(text(statement))
            conn.execute(text(f"VACUUM ANALYZE {schema}.receipts"))
    return planted


_PG_KEY = "code = :code AND issue_year = :year AND number = ANY(:x)"


def _drop_pg_extras(conn: Any, schema: str) -> list[str]:
    """Drop the secondary indexes, unique constraints and triggers of ``schema.receipts`` (the
    primary key stays: rows arrive in its order); the statements that re-create them."""
    from sqlalchemy import text

    table = {"t": f"{schema}.receipts"}
    indexes = conn.execute(
        text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = CAST(:t AS regclass) "
            "AND NOT x.indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        ),
        table,
    ).all()
    uniques = conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype = 'u'"
        ),
        table,
    ).all()
    triggers = conn.execute(
        text(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal"
        ),
        table,
    ).all()
    for name, _ in triggers:
        conn.execute(text(f'DROP TRIGGER "{name}" ON {schema}.receipts'))
    for name, _ in uniques:
        conn.execute(text(f'ALTER TABLE {schema}.receipts DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX {schema}."{name}"'))
    # a partitioned index's definition says ON ONLY (the parent alone); re-created on the
    # parent it is made on every partition again
    return [
        *(ddl.replace(" ON ONLY ", " ON ") for _, ddl in indexes),
        *(f'ALTER TABLE {schema}.receipts ADD CONSTRAINT "{n}" {d}' for n, d in uniques),
        *(ddl for _, ddl in triggers),
    ]


def drop_pg(base: str, schemas: list[str]) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for schema in schemas:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()
