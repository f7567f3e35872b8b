"""The data sets of ``bench.reconcile``: two federation workspaces whose ledgers (SQLite files,
or two schemas of a PostgreSQL database) hold the same N synthetic receipts but for planted
differences, and the baseline's ``WITHOUT ROWID`` tables."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["CODE", "ISSUED", "build", "build_join_tables", "build_pg", "drop_pg"]

CODE = "64710126"
ISSUED = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)


def _plant(n: int, diff: int, seed: int) -> dict[str, set[int]]:
    """Which numbers differ, by kind: a third each missing, extra and differing."""
    picks = random.Random(seed).sample(range(1, n + 1), diff)
    return {kind: set(picks[k::3]) for k, kind in enumerate(("missing", "extra", "differing"))}


def build(tmp: Path, n: int, diff: int, seed: int) -> tuple[Path, Path, dict[str, set[int]]]:
    """Two federation workspaces whose ledgers hold N receipts each but for the planted
    differences; returns their homes and the planted numbers by kind."""
    from sqlalchemy import delete, func, insert, literal, select, update

    from receipts.ledger.database import Database, default_url
    from receipts.ledger.migrate import initialise
    from receipts.ledger.models import LedgerState, ReceiptRow
    from receipts.ledger.years import issue_year
    from tests.support.workspaces import federation

    city, province = tmp / "city", tmp / "province"
    federation(city, "640100")
    federation(province, "640000")
    db = Database(default_url(city))
    initialise(db, "640100")
    seq = select(literal(1).label("x")).cte("seq", recursive=True)
    seq = seq.union_all(select(seq.c.x + 1).where(seq.c.x < n))
    columns = [
        "code",
        "number",
        "issue_year",
        "digest",
        "issuer",
        "kind",
        "issued_at",
        "period",
        "check_code",
        "payer_name",
        "payer_kind",
        "total_fen",
        "xml",
    ]
    rows = select(
        literal(CODE),
        seq.c.x,
        literal(issue_year(CODE)),
        func.lower(func.hex(func.randomblob(32))),
        literal("640100"),
        literal("normal"),
        literal(ISSUED, ReceiptRow.issued_at.type),
        literal("2026-10"),
        literal("abc123"),
        literal("宁夏贺兰山实业有限公司"),
        literal("enterprise"),
        (seq.c.x * 7919) % 100_000 + 100,
        literal(b"<Receipt/>"),
    )
    with db.engine.begin() as conn:
        conn.execute(insert(ReceiptRow).from_select(columns, rows))
    db.dispose()
    shutil.copyfile(city / "ledger.sqlite", province / "ledger.sqlite")
    planted = _plant(n, diff, seed)
    other = Database(default_url(province))
    with other.engine.begin() as conn:
        conn.execute(update(LedgerState).values(org_code="640000"))
        conn.execute(delete(ReceiptRow).where(ReceiptRow.number.in_(planted["missing"])))
        changed = sorted(planted["differing"])
        conn.execute(
            update(ReceiptRow)
            .where(ReceiptRow.number.in_(changed[0::2]))
            .values(digest=func.lower(func.hex(func.randomblob(32))))
        )
        conn.execute(
            update(ReceiptRow)
            .where(ReceiptRow.number.in_(changed[1::2]))
            .values(total_fen=ReceiptRow.total_fen + 1)
        )
    other.dispose()
    db = Database(default_url(city))
    with db.engine.begin() as conn:
        conn.execute(delete(ReceiptRow).where(ReceiptRow.number.in_(planted["extra"])))
    db.dispose()
    # "missing" = in the city's file, not at the province; "extra" = at the province only
    return city, province, planted


def build_join_tables(tmp: Path, city: Path, province: Path) -> Path:
    """The same rows in two WITHOUT ROWID tables: the baseline, rows clustered on the join key."""
    from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine

    path = tmp / "join.sqlite"
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
            conn.exec_driver_sql(f"ATTACH DATABASE ? AS src_{name}", (str(home / "ledger.sqlite"),))
            conn.exec_driver_sql(
                f"INSERT INTO {name} SELECT code, number, digest, total_fen, issuer "
                f"FROM src_{name}.receipts ORDER BY code, number"
            )
            conn.commit()
    engine.dispose()
    return path


def build_pg(
    base: str, tmp: Path, n: int, diff: int, seed: int
) -> tuple[Path, Path, dict[str, set[int]], dict[str, str]]:
    """As :func:`build`, with the ledgers in two new schemas of a PostgreSQL database; returns
    the URL and schema of each side too (``city``, ``city_schema``, …)."""
    import uuid

    from sqlalchemy import create_engine, text

    from receipts.ledger.database import Database
    from receipts.ledger.migrate import initialise
    from tests.support.postgres import pg_schema_url
    from tests.support.workspaces import federation

    city, province = tmp / "city", tmp / "province"
    federation(city, "640100")
    federation(province, "640000")
    schemas = {side: f"bench_{side}_{uuid.uuid4().hex[:8]}" for side in ("city", "province")}
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
    from sqlalchemy import String, delete, func, text, update

    from receipts.ledger.database import Database
    from receipts.ledger.models import LedgerState, ReceiptRow
    from receipts.ledger.years import issue_year

    with admin.connect() as conn:
        conn.execute(
            text(
                f"INSERT INTO {schemas['city']}.receipts (code, number, issue_year, digest, "
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
        conn.execute(
            text(
                f"INSERT INTO {schemas['province']}.receipts "
                f"SELECT * FROM {schemas['city']}.receipts"
            )
        )
    planted = _plant(n, diff, seed)
    random_digest = func.concat(
        func.md5(func.random().cast(String)), func.md5(func.random().cast(String))
    )
    other = Database(urls["province"])
    with other.engine.begin() as conn:
        conn.execute(update(LedgerState).values(org_code="640000"))
        conn.execute(delete(ReceiptRow).where(ReceiptRow.number.in_(planted["missing"])))
        changed = sorted(planted["differing"])
        conn.execute(
            update(ReceiptRow)
            .where(ReceiptRow.number.in_(changed[0::2]))
            .values(digest=random_digest)
        )
        conn.execute(
            update(ReceiptRow)
            .where(ReceiptRow.number.in_(changed[1::2]))
            .values(total_fen=ReceiptRow.total_fen + 1)
        )
    other.dispose()
    db = Database(urls["city"])
    with db.engine.begin() as conn:
        conn.execute(delete(ReceiptRow).where(ReceiptRow.number.in_(planted["extra"])))
    db.dispose()
    with admin.connect() as conn:
        for schema in schemas.values():
            conn.execute(text(f"VACUUM ANALYZE {schema}.receipts"))
    return planted


def drop_pg(base: str, schemas: list[str]) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for schema in schemas:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()
