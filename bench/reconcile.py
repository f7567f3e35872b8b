"""Tier reconciliation on two ledgers of N receipts, against a bare SQL FULL OUTER JOIN.

    python bench/reconcile.py [--n 1000000] [--diff 1000] [--repeat 3] [--pg URL]

Two SQLite ledgers (a city's, 640100, and its province's, 640000) hold the same N synthetic
receipts (code, number, digest, total, issuer) but for ``--diff`` planted differences: a third
missing at the province, a third missing at the city, a third with another digest or amount.

Ours: the whole two-round exchange through the real commands (keys, trust, signing and
verification included): ``reconcile summary`` at the city, ``reconcile tiers`` at the province,
``reconcile summary --blocks`` at the city, ``reconcile tiers`` again, which must name exactly
the planted receipts. Baseline, in the same run: one SQLite FULL OUTER JOIN on (code, number) of
the same rows copied into two ``WITHOUT ROWID`` tables (NOTES), fetching the differing rows; the
same join over the two ledgers' own tables is shown too. Each step runs in a fresh process, so its
peak RSS (ru_maxrss) is its own; the RSS of a process that only imports the libraries is shown.
Times exclude the imports (timed apart); each step runs ``--repeat`` times and the fastest run
counts, on both sides, because the machine is shared.

Targets: time <= 1.5x the join, peak RSS <= 150 MB, summary file < 2 MB (and every signed file
<= 1 MB, the limit for XML from outside, SPEC §3).

With ``--pg URL`` the two ledgers are two schemas of that PostgreSQL database (dropped at the
end) and the baseline is PostgreSQL's FULL OUTER JOIN of their receipts tables.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CODE = "64710126"
ISSUED = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- steps, each run in its own process ---------------------------------------------------


def step_command(args: list[str]) -> dict[str, Any]:
    """Run one ``receipts`` command in this process; time it (the imports, which cost the same
    whatever the data, are timed apart: the join's process has its imports done too)."""
    from click.testing import CliRunner

    started = time.perf_counter()
    from cli import main
    from receipts.ledger import migrate  # noqa: F401
    from receipts.pki.credentials import Credentials  # noqa: F401  (imported lazily by commands)
    from receipts.reconcile import tiers  # noqa: F401

    imports = time.perf_counter() - started
    runner = CliRunner(env={"RECEIPTS_KEY_PASSPHRASE": "correct horse battery staple"})
    start = time.perf_counter()
    result = runner.invoke(main, args, catch_exceptions=False)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "imports": imports,
        "rss_mb": _rss_mb(),
        "exit": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
    }


def _join_sql(left: str, right: str) -> str:
    """The baseline query: FULL OUTER JOIN of two tables, fetching the differing rows."""
    return (
        f"SELECT a.code, a.number, b.code, b.number, a.digest, b.digest, a.total_fen, "
        f"b.total_fen FROM {left} a FULL OUTER JOIN {right} b "
        "ON a.code = b.code AND a.number = b.number "
        "WHERE a.number IS NULL OR b.number IS NULL OR a.digest <> b.digest "
        "OR a.total_fen <> b.total_fen"
    )


def step_join(path: str, left: str, right: str, attach: Sequence[str]) -> dict[str, Any]:
    """The baseline: FULL OUTER JOIN of two tables, fetching the differing rows."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        for n, other in enumerate(attach):
            conn.exec_driver_sql(f"ATTACH DATABASE ? AS l{n}", (other,))
        start = time.perf_counter()
        rows = conn.execute(text(_join_sql(left, right))).all()
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_mb": _rss_mb(), "rows": len(rows)}


def step_pg_join(url: str, left: str, right: str) -> dict[str, Any]:
    """The PostgreSQL baseline: FULL OUTER JOIN of two ledgers' receipts tables."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        start = time.perf_counter()
        rows = conn.execute(text(_join_sql(f"{left}.receipts", f"{right}.receipts"))).all()
        seconds = time.perf_counter() - start
    engine.dispose()
    return {"seconds": seconds, "rss_mb": _rss_mb(), "rows": len(rows)}


def step_idle() -> dict[str, Any]:
    """What importing the libraries costs (the floor of every step's RSS)."""
    import sqlalchemy  # noqa: F401
    from click.testing import CliRunner  # noqa: F401

    from cli import main  # noqa: F401
    from receipts.ledger import migrate  # noqa: F401
    from receipts.pki.credentials import Credentials  # noqa: F401
    from receipts.reconcile import tiers  # noqa: F401

    return {"seconds": 0.0, "rss_mb": _rss_mb()}


def run_step(*argv: str, repeat: int = 1) -> dict[str, Any]:
    """Run a step ``repeat`` times, each in a fresh process; keep the fastest run (the machine
    is shared: the minimum is the least disturbed measurement) and the highest RSS."""
    runs = [_run_once(argv) for _ in range(repeat)]
    best = min(runs, key=lambda run: float(run["seconds"]))
    return {**best, "rss_mb": max(run["rss_mb"] for run in runs)}


def _run_once(argv: Sequence[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", json.dumps(argv)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


# --- building the data set ------------------------------------------------------------------


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
    from tests.workspaces import federation

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
    """The same rows in two WITHOUT ROWID tables (the NOTES baseline)."""
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
    from tests.conftest import pg_schema_url
    from tests.workspaces import federation

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

    with admin.connect() as conn:
        conn.execute(
            text(
                f"INSERT INTO {schemas['city']}.receipts (code, number, digest, issuer, kind, "
                "issued_at, period, check_code, payer_name, payer_kind, total_fen, xml) "
                "SELECT :code, x, md5(random()::text) || md5(random()::text), '640100', 'normal', "
                ":issued, '2026-10', 'abc123', :payer, 'enterprise', (x * 7919) % 100000 + 100, "
                "'<Receipt/>'::bytea FROM generate_series(1::bigint, :n) AS x"
            ),
            {"code": CODE, "issued": ISSUED, "payer": "宁夏贺兰山实业有限公司", "n": n},
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--diff", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", type=Path, help="Build in this folder and keep it.")
    parser.add_argument(
        "--repeat", type=int, default=3, help="Runs of each step; the fastest counts."
    )
    parser.add_argument("--pg", help="PostgreSQL URL: the ledgers are two schemas there.")
    parser.add_argument("--step", help=argparse.SUPPRESS)  # JSON list: a step in a fresh process
    args = parser.parse_args()
    if args.step:
        kind, *rest = json.loads(args.step)
        if kind == "command":
            result = step_command(rest)
        elif kind == "join":
            result = step_join(rest[0], rest[1], rest[2], rest[3:])
        elif kind == "pgjoin":
            result = step_pg_join(rest[0], rest[1], rest[2])
        else:
            result = step_idle()
        print(json.dumps(result))
        return
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        if args.pg:
            run_pg(args.pg, tmp, args.n, args.diff, args.seed, args.repeat)
        else:
            run(tmp, args.n, args.diff, args.seed, args.repeat)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, n: int, diff: int, seed: int, repeat: int) -> None:
    started = time.perf_counter()
    city, province, planted = build(tmp, n, diff, seed)
    join_db = build_join_tables(tmp, city, province)
    print(
        f"built two ledgers of {n:,} receipts, {diff:,} differences, in "
        f"{time.perf_counter() - started:.1f} s"
    )
    idle = run_step("idle")
    join = run_step("join", str(join_db), "a", "b", repeat=repeat)
    ledgers = run_step(
        "join",
        str(join_db),
        "l0.receipts",
        "l1.receipts",
        str(city / "ledger.sqlite"),
        str(province / "ledger.sqlite"),
        repeat=repeat,
    )
    assert join["rows"] == diff and ledgers["rows"] == diff, (join["rows"], ledgers["rows"])
    print(f"process floor (imports only):         peak RSS {idle['rss_mb']:6.0f} MB")
    print(
        f"baseline FULL OUTER JOIN (WITHOUT ROWID): {join['seconds']:6.2f} s  peak RSS "
        f"{join['rss_mb']:4.0f} MB  {join['rows']:,} rows"
    )
    print(
        f"same join on the two ledgers' tables:     {ledgers['seconds']:6.2f} s  peak RSS "
        f"{ledgers['rss_mb']:4.0f} MB"
    )
    total = exchange(tmp, {"city": [], "province": []}, city, province, planted, repeat)
    print(
        f"time ratio {total / join['seconds']:.2f}x the WITHOUT ROWID join (target <= 1.5x), "
        f"{total / ledgers['seconds']:.2f}x the join on the ledgers' tables"
    )


def run_pg(base: str, tmp: Path, n: int, diff: int, seed: int, repeat: int) -> None:
    started = time.perf_counter()
    city, province, planted, urls = build_pg(base, tmp, n, diff, seed)
    try:
        print(
            f"built two PostgreSQL ledgers of {n:,} receipts, {diff:,} differences, in "
            f"{time.perf_counter() - started:.1f} s"
        )
        join = run_step("pgjoin", base, urls["city_schema"], urls["province_schema"], repeat=repeat)
        assert join["rows"] == diff, join["rows"]
        print(
            f"baseline FULL OUTER JOIN of the ledgers' tables: {join['seconds']:6.2f} s  "
            f"{join['rows']:,} rows"
        )
        db_args = {side: ["--db", urls[side]] for side in ("city", "province")}
        total = exchange(tmp, db_args, city, province, planted, repeat)
        print(f"time ratio {total / join['seconds']:.2f}x the join (target <= 1.5x)")
    finally:
        drop_pg(base, [urls["city_schema"], urls["province_schema"]])


def exchange(
    tmp: Path,
    db_args: dict[str, list[str]],
    city: Path,
    province: Path,
    planted: dict[str, set[int]],
    repeat: int,
) -> float:
    """Both rounds through the commands; checks they name exactly the planted differences,
    prints each step, and returns the total time."""
    first, request, second = tmp / "city.xml", tmp / "city.request.xml", tmp / "city-2.xml"
    at_city = ["--home", str(city), *db_args["city"]]
    at_province = ["--home", str(province), *db_args["province"]]
    commands = [
        ("summary", [*at_city, "reconcile", "summary", "-o", str(first)]),
        ("tiers", [*at_province, "reconcile", "tiers", "--with", str(first)]),
        (
            "summary --blocks",
            [*at_city, "reconcile", "summary", "--blocks", str(request), "-o", str(second)],
        ),
        ("tiers", [*at_province, "--json", "reconcile", "tiers", "--with", str(second)]),
    ]
    steps = [(name, run_step("command", *argv, repeat=repeat)) for name, argv in commands]
    for name, step in steps:
        if step["exit"] != (0 if name.startswith("summary") else 1):
            raise SystemExit(f"{name} failed: {step['stderr']}")
    found = json.loads(steps[-1][1]["stdout"])
    named: dict[str, set[int]] = {"missing": set(), "extra": set(), "differing": set()}
    for finding in found["findings"]:
        named[finding["kind"]].add(finding["number"])
    assert named == planted, "the exchange did not name exactly the planted differences"
    assert found["request"] is None, "a third round was needed"
    sizes = {
        "summary": first.stat().st_size,
        "request": request.stat().st_size,
        "answer": second.stat().st_size,
    }
    total = sum(step["seconds"] for _, step in steps)
    peak = max(step["rss_mb"] for _, step in steps)
    for name, step in steps:
        print(
            f"  reconcile {name:<17} {step['seconds']:6.2f} s  peak RSS {step['rss_mb']:4.0f} MB"
            f"  exit {step['exit']}"
        )
    imports = sum(step["imports"] for _, step in steps)
    print(f"  (imports before the commands, not counted: {imports:.2f} s in all)")
    print(
        f"ours, both rounds:                        {total:6.2f} s  peak RSS {peak:4.0f} MB  "
        f"named {sum(map(len, named.values())):,} receipts exactly"
    )
    print(
        f"bytes exchanged: summary {sizes['summary']:,} + request {sizes['request']:,} + "
        f"answer {sizes['answer']:,} = {sum(sizes.values()):,}"
    )
    print(
        f"peak RSS {peak:.0f} MB (target <= 150 MB); summary file {sizes['summary']:,} bytes "
        f"(target < 2 MB)"
    )
    return total


if __name__ == "__main__":
    main()
