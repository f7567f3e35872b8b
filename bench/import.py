"""``transmit import`` of a large package on PostgreSQL: receipts/s and peak RSS, beside a bare
COPY of the same rows in the same run.

    python -m bench.import --pg URL [--n 1000000] [--workers N] [--chunk 2000]

The package (N receipts issued by a city federation through the real commands, exported) is
built once and cached by N (:mod:`bench.import_package`). Ours: ``receipts transmit import``
through the command, into a fresh schema, in a child process whose peak RSS (``ru_maxrss``) is
read; the verifying workers' largest peak is reported beside it. Baseline: the receipts and
their items the import stored, copied out to a file and then COPYed into plain tables (no
indexes, no constraints) in the same database. Target: >= 0.3x the COPY rate, peak RSS <= 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.import_package import CITY, cache_dir, cached_package
from tests.support.postgres import PgSchemas
from tests.support.workspaces import ENV, receipts

_CHILD = """
import json, resource, sys, time
from click.testing import CliRunner
from cli import main
args = json.loads(sys.argv[1])
start = time.perf_counter()
result = CliRunner().invoke(main, args, catch_exceptions=False)
elapsed = time.perf_counter() - start
assert result.exit_code == 0, result.output
print(json.dumps({
    "seconds": elapsed,
    "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "workers_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    "output": result.stdout,
}))
"""


def province_home(n: int, tmp: Path, url: str) -> Path:
    """A province workspace with the cached package's trust and keys, on a fresh ledger that
    knows the city and the segment its receipts lie in."""
    home = tmp / "province"
    source = cache_dir(n) / "province"
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("ledger.sqlite*", "ledger-anchor*"))
    for args in (
        ("org", "add", "--code", CITY),
        ("stock", "allocate", "--to", CITY, "--count", str(n), "-o", str(tmp / "a.xml")),
    ):
        result = receipts(home, *args, db=url)
        assert result.exit_code == 0, result.output
    return home


def ours(n: int, tmp: Path, url: str, workers: int | None, chunk: int) -> dict[str, float]:
    """``transmit import`` in a child process: seconds, peak RSS of the importer and workers."""
    package = cached_package(n)
    home = province_home(n, tmp, url)
    table = ["[transmission]", f"import_chunk = {chunk}"]
    if workers is not None:
        table.append(f"import_workers = {workers}")
    config = home / "receipts.toml"
    config.write_text(config.read_text("utf-8") + "\n" + "\n".join(table) + "\n", "utf-8")
    args = ["--home", str(home), "--db", url, "transmit", "import", str(package)]
    args += ["-o", str(tmp / "ack.xml")]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(args)],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"transmit import failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def bare_copy(url: str, tmp: Path) -> tuple[int, float]:
    """The receipts and items the import stored, COPYed into plain tables: (receipts, s)."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    schema = dsn.rsplit("search_path%3D", 1)[-1] if "search_path%3D" in dsn else None
    files = {name: tmp / f"{name}.copy" for name in ("receipts", "receipt_items")}
    with psycopg.connect(dsn, autocommit=True) as conn:
        if schema:
            conn.execute(f"SET search_path TO {schema}")
        for name, path in files.items():
            with (
                open(path, "wb") as sink,
                conn.cursor().copy(f"COPY (SELECT * FROM {name}) TO STDOUT") as copy,
            ):
                for block in copy:
                    sink.write(block)
            conn.execute(f"CREATE TABLE plain_{name} (LIKE {name} INCLUDING DEFAULTS)")
        count = conn.execute("SELECT count(*) FROM receipts").fetchone()
        start = time.perf_counter()
        with conn.transaction():
            for name, path in files.items():
                with (
                    open(path, "rb") as source,
                    conn.cursor().copy(f"COPY plain_{name} FROM STDIN") as copy,
                ):
                    while block := source.read(1 << 20):
                        copy.write(block)
        elapsed = time.perf_counter() - start
    assert count is not None
    return int(count[0]), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--pg", default=os.environ.get("RECEIPTS_TEST_PG_URL"))
    parser.add_argument("--workers", type=int, default=None, help="default: the CPU count")
    parser.add_argument("--chunk", type=int, default=2000)
    args = parser.parse_args()
    if not args.pg:
        parser.error("--pg URL (or RECEIPTS_TEST_PG_URL) is needed: the target is PostgreSQL")
    cached_package(args.n)
    schemas = PgSchemas(args.pg, prefix="bench_import")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = schemas.new()
            measured = ours(args.n, Path(tmp), url, args.workers, args.chunk)
            count, copy_seconds = bare_copy(url, Path(tmp))
    finally:
        schemas.drop_all()
    assert count == args.n, f"{count} receipts stored, {args.n} expected"
    rate = args.n / measured["seconds"]
    baseline = args.n / copy_seconds
    workers = args.workers if args.workers is not None else os.cpu_count()
    print(f"bare COPY of receipts + items into plain tables: {baseline:10.0f} receipts/s")
    print(
        f"transmit import ({workers} workers, chunk {args.chunk}): {rate:10.0f} receipts/s  "
        f"ratio {rate / baseline:.3f}x (target >= 0.3x)"
    )
    print(
        f"peak RSS: importer {measured['rss_kib'] / 1024:.0f} MB (target <= 500 MB), "
        f"largest worker {measured['workers_rss_kib'] / 1024:.0f} MB; {args.n:,} receipts"
    )


if __name__ == "__main__":
    main()
