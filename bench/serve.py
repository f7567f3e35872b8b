"""The federation node over loopback: public look-ups at 50 concurrent clients, and a push.

    python -m bench.serve [--receipts 10000] [--lookups 20000] [--clients 50] [--seconds 30]
                          [--no-push] [--db POSTGRESQL-URL] [--workers 2]
                          [--generator auto|wrk|python]                  (from the repo root)

One data set: 银川 (640100) issues ``--receipts`` real receipts (``issue --batch``, signed and
stored); 宁夏 (640000) is its province.

Look-ups. Baseline, in the same run: ``receipts.lookup.lookup`` called in-process, one after
another, on the city's ledger: its rate (1 / mean) and p50/p99. Ours: ``receipts serve`` with
``--workers`` processes (2 by default: the target is for 2 cores) over the city's SQLite ledger,
or with ``--db`` over PostgreSQL as in production, in a subprocess on a free loopback port, asked
``GET /api/v1/lookup`` by ``--clients`` concurrent keep-alive connections; one look-up in ten has
a wrong check code. The load (bench/serve_load.py) comes from ``wrk`` when it is installed
(Debian's ``wrk``: written in C, it leaves the cores to the node; a Lua script sends the same
look-ups in turn), otherwise from a small asyncio HTTP/1.1 client in Python (which needs a good
part of a core itself, so the figure is then lower than the node's capacity); the output names the
generator. Also printed:
look-ups per CPU-second of the node's processes (from /proc), the figure least moved by other
load on the machine. Bounded by ``--lookups`` and ``--seconds`` (wrk: by ``--seconds``, going
through the ``--lookups`` look-ups again if it gets to their end). The node's rate limit is opened
wide for the run (``[serve]``); its access log goes to a file, as in production. Targets:
>= 1,000 look-ups/s on 2 cores, p99 <= 50 ms.

Push. The city's package of all its receipts (``transmit export``) is imported by a copy of the
province's workspace with ``transmit import`` (baseline), and pushed with ``transmit push`` to
the province's node (``receipts serve``) holding another copy. Both are timed around the
command (in-process), best of ``--repeat``. Target: push >= 0.8x the file import (time ratio
import / push).

The machine is shared: run it alone, and read the ratios before the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

from bench.serve_load import Query, by_wrk, over_http
from receipts.commands.demo_files import batch_csv
from receipts.domain.model import ReceiptRef
from receipts.ledger.database import Database, default_url
from receipts.ledger.models import ReceiptRow
from receipts.lookup import lookup
from tests.support.postgres import PgSchemas
from tests.support.workspaces import ENV, federation, ok, receipts

_WIDE_OPEN = """
[serve]
rate_per_minute = 1000000000
rate_burst = 100000
access_log = "logs/access.jsonl"
"""


def build(tmp: Path, n: int, db: str | None = None) -> tuple[Path, Path, list[Query]]:
    """The city with ``n`` issued receipts (its ledger at ``db``, else its SQLite file) and its
    province; the receipts' look-up details."""
    city, province = tmp / "city", tmp / "province"
    federation(province, "640000")
    federation(city, "640100")
    ok(province, "org", "add", "--code", "640100")
    allocation = str(tmp / "allocation.xml")
    ok(province, "stock", "allocate", "--to", "640100", "--count", str(n), "-o", allocation)
    in_city(city, db, "stock", "import", allocation)
    batch = tmp / "batch.csv"
    batch.write_text(batch_csv(n, 16, "BENCH"), encoding="utf-8")
    in_city(city, db, "issue", "--batch", str(batch))
    for home in (city, province):
        with (home / "receipts.toml").open("a", encoding="utf-8") as config:
            config.write(_WIDE_OPEN)
    ledger = Database(db or default_url(city))
    with ledger.read() as session:
        rows = session.execute(
            select(ReceiptRow.code, ReceiptRow.number, ReceiptRow.check_code)
        ).all()
    ledger.dispose()
    return city, province, [(code, number, check) for code, number, check in rows]


def in_city(home: Path, db: str | None, *args: str) -> None:
    """``receipts --home HOME [--db DB] ARGS``, which must succeed."""
    result = receipts(home, *args, db=db)
    assert result.exit_code == 0, f"{args}: {result.output}"


def workload(queries: list[Query], count: int, seed: int) -> list[Query]:
    """``count`` look-ups of random receipts, one in ten with a wrong check code."""
    rng = random.Random(seed)
    picked = []
    for i in range(count):
        code, number, check = rng.choice(queries)
        picked.append((code, number, "zzzzzz" if i % 10 == 9 else check))
    return picked


def in_process(home: Path, url: str | None, work: list[Query], seconds: float) -> list[float]:
    """Latencies (s) of ``lookup`` called one after another on the city's ledger."""
    db = Database(url or default_url(home))
    for code, number, check in work[:200]:  # warm up: statement cache, connection pool
        lookup(db, ReceiptRef(code, number), check)
    latencies = []
    deadline = time.perf_counter() + seconds
    for code, number, check in work:
        start = time.perf_counter()
        lookup(db, ReceiptRef(code, number), check)
        latencies.append(time.perf_counter() - start)
        if start > deadline:
            break
    db.dispose()
    return latencies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def node(
    home: Path, db: str | None = None, workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``receipts serve`` over ``home`` on a free loopback port; its base URL and process;
    stopped after."""
    port = free_port()
    argv = [sys.executable, "-m", "cli", "--home", str(home), *(["--db", db] if db else [])]
    argv += ["serve", "--port", str(port), "--workers", str(workers)]
    env = os.environ | ENV
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    errors = process.stderr.read().decode() if process.stderr else ""
                    raise SystemExit(f"the node did not start: {errors}") from None
                time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=40)


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of ``pid`` and its descendants so far, from /proc (None
    without /proc)."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        total, todo = 0, [pid]
        while todo:
            current = todo.pop()
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            for task in os.listdir(f"/proc/{current}/task"):
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
                todo += [int(child) for child in children]
    except (OSError, ValueError):
        return None
    return total / tick


def quantiles(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99, in ms."""
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def run_lookups(args: argparse.Namespace, tmp: Path, city: Path, queries: list[Query]) -> None:
    work = workload(queries, args.lookups, args.seed)
    baseline = in_process(city, args.db, work, args.seconds)
    base_rate = len(baseline) / sum(baseline)
    b50, b99 = quantiles(baseline)
    print(
        f"in-process lookup():   {base_rate:8,.0f} look-ups/s (one caller)   "
        f"p50 {b50:6.2f} ms  p99 {b99:6.2f} ms  ({len(baseline):,} look-ups)"
    )
    wrk = args.generator == "wrk" or (args.generator == "auto" and shutil.which("wrk"))
    generator = "wrk (C, 1 thread)" if wrk else "Python asyncio client (shares the cores)"
    print(
        f"node: {args.workers} worker(s), ledger on {'PostgreSQL' if args.db else 'SQLite'}; "
        f"load from {generator}"
    )
    with node(city, args.db, args.workers) as (base, process):
        if wrk:
            cpu_before = cpu_seconds(process.pid)
            count, elapsed, p50, p99, bad = by_wrk(base, work, args.clients, args.seconds, tmp)
        else:
            port = int(base.rsplit(":", 1)[1])
            asyncio.run(over_http(port, work[:200], args.clients, 10))  # warm up
            cpu_before = cpu_seconds(process.pid)
            latencies, elapsed, bad = asyncio.run(over_http(port, work, args.clients, args.seconds))
            count, (p50, p99) = len(latencies), quantiles(latencies)
        cpu_after = cpu_seconds(process.pid)
    rate = count / elapsed
    print(
        f"node over HTTP:        {rate:8,.0f} look-ups/s ({args.clients} clients)  "
        f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({count:,} look-ups, {bad} not 200)"
    )
    if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
        used = cpu_after - cpu_before
        print(
            f"node CPU:              {count / used:8,.0f} look-ups per CPU-second of the node's "
            f"processes ({used:.1f} s over {elapsed:.1f} s)"
        )
    verdict = "met" if rate >= 1000 and p99 <= 50 else "NOT met"
    print(f"ratio HTTP / in-process: {rate / base_rate:.2f}x")
    print(f"target >= 1,000 look-ups/s with p99 <= 50 ms: {verdict}")


def timed(home: Path, *args: str) -> float:
    """Seconds ``receipts --home HOME ARGS`` took (in-process; it must succeed)."""
    start = time.perf_counter()
    ok(home, *args)
    return time.perf_counter() - start


def run_push(args: argparse.Namespace, tmp: Path, city: Path, province: Path, n: int) -> None:
    package = tmp / "640100.zip"
    ok(city, "transmit", "export", "-o", str(package))
    imports, pushes = [], []
    for k in range(args.repeat):
        # Fresh copies each time: the province has imported nothing, the city recorded no ack.
        here = tmp / f"import-{k}"
        shutil.copytree(province, here / "province")
        imports.append(timed(here / "province", "transmit", "import", str(package)))
        there = tmp / f"push-{k}"
        shutil.copytree(province, there / "province")
        shutil.copytree(city, there / "city")
        with node(there / "province") as (base, _process):
            pushes.append(
                timed(there / "city", "transmit", "push", base, "--package", str(package))
            )
    best_import, best_push = min(imports), min(pushes)
    print(f"transmit import (file):  {best_import:6.2f} s  {n / best_import:8,.0f} receipts/s")
    print(f"transmit push (HTTP):    {best_push:6.2f} s  {n / best_push:8,.0f} receipts/s")
    ratio = best_import / best_push
    verdict = "met" if ratio >= 0.8 else "NOT met"
    print(f"ratio push / import (speed): {ratio:.2f}x; target >= 0.8x: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receipts", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="Bound on each measurement.")
    parser.add_argument(
        "--repeat", type=int, default=2, help="Runs of each push side; best counts."
    )
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--no-push", action="store_true", help="Measure the look-ups only.")
    parser.add_argument(
        "--db", help="A PostgreSQL URL for the city's ledger (a fresh schema is made in it)."
    )
    parser.add_argument("--workers", type=int, default=2, help="Node processes (default 2).")
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="Who sends the look-ups: wrk when installed (auto), or the Python client.",
    )
    args = parser.parse_args()
    schemas = PgSchemas(args.db) if args.db else None
    if schemas is not None:
        args.db = schemas.new()
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        start = time.perf_counter()
        city, province, queries = build(tmp, args.receipts, args.db)
        took = time.perf_counter() - start
        print(f"{len(queries):,} receipts issued in {took:.1f} s; {os.cpu_count()} cores")
        run_lookups(args, tmp, city, queries)
        if args.db:
            print("push: measured with SQLite ledgers only (run without --db)")
        elif not args.no_push:
            run_push(args, tmp, city, province, len(queries))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if schemas is not None:
            schemas.drop_all()


if __name__ == "__main__":
    main()
