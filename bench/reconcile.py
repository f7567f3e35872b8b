"""Tier reconciliation on two ledgers of N receipts, against a bare SQL FULL OUTER JOIN.

Run from the repository root::

    python -m bench.reconcile [--n 1000000] [--diff 1000] [--repeat 3] [--pg URL] [--keep DIR]

Two SQLite ledgers (a city's, 640100, and its province's, 640000) hold the same N synthetic
receipts (code, number, digest, total, issuer) but for ``--diff`` planted differences: a third
missing at the province, a third missing at the city, a third with another digest or amount.

Ours: the whole two-round exchange through the real commands (keys, trust, signing and
verification included): ``reconcile summary`` at the city, ``reconcile tiers`` at the province,
``reconcile summary --blocks`` at the city, ``reconcile tiers`` again, which must name exactly
the planted receipts. Baseline, in the same run: one SQLite FULL OUTER JOIN on (code, number) of
the same rows copied into two ``WITHOUT ROWID`` tables, fetching the differing rows; the same
join over the two ledgers' own tables is shown too. Each step runs in a fresh process
(``bench.reconcile_steps``), so its peak RSS (ru_maxrss) is its own; the RSS of a process that
only imports the libraries is shown. Times exclude the imports (timed apart); each step runs
``--repeat`` times and the fastest run counts, on both sides, because the machine is shared.

Targets: time <= 1.5x the join, peak RSS <= 150 MB, summary file < 2 MB (and every signed file
<= 1 MB, the limit for XML from outside, ``signing.xmlparse.MAX_XML_BYTES``). At ``--n
10000000``: both rounds <= 60 s and peak RSS <= 300 MB; the summary then takes blocks of 2,048
numbers (``docs/formats.md``, "Block size") and the block size is printed.

With ``--pg URL`` the two ledgers are two schemas of that PostgreSQL database (dropped at the
end) and the baseline is PostgreSQL's FULL OUTER JOIN of their receipts tables.

``--keep DIR`` builds the data set in DIR (and, with ``--pg``, in the schemas
``PREFIX_city`` and ``PREFIX_province``, ``--pg-prefix``, default ``bench_reconcile``) and
keeps it; a later run with the same ``--keep``, ``--n``, ``--diff`` and ``--seed`` reuses it
without building (``DIR/built.json`` records what was built; ``--rebuild`` builds anew). The
commands append their events to the kept ledgers; their receipts do not change.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bench.reconcile_data import build, build_join_tables, build_pg, drop_pg
from bench.reconcile_steps import run_step

T = TypeVar("T")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--diff", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--keep", type=Path, help="Build in this folder and keep it; reuse what it holds."
    )
    parser.add_argument("--rebuild", action="store_true", help="With --keep: build anew.")
    parser.add_argument(
        "--pg-prefix", default="bench_reconcile", help="With --pg and --keep: schema prefix."
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="Runs of each step; the fastest counts."
    )
    parser.add_argument("--pg", help="PostgreSQL URL: the ledgers are two schemas there.")
    args = parser.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        wanted = {"n": args.n, "diff": args.diff, "seed": args.seed, "pg": args.pg is not None}
        kept = _kept(tmp, wanted) if args.keep and not args.rebuild else None
        if args.pg:
            prefix = args.pg_prefix if args.keep else None
            run_pg(args.pg, tmp, args, prefix, kept, wanted)
        else:
            run(tmp, args, kept, wanted)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def _apart(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a fresh process. A child inherits its parent's peak RSS (Linux
    copies the high-water mark with the address space at fork), so the builders' memory (the
    SQLite page cache of the index builds) must not be this process's: every step's ru_maxrss
    would start from it."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(function, *args).result()


def _kept(tmp: Path, wanted: dict[str, Any]) -> dict[str, Any] | None:
    """What ``tmp`` holds from an earlier ``--keep`` run of the same data set, if anything."""
    record = tmp / "built.json"
    if not record.exists():
        return None
    built: dict[str, Any] = json.loads(record.read_text())
    if {k: built.get(k) for k in wanted} != wanted:
        raise SystemExit(f"{tmp} holds another data set ({record}): give --rebuild or --n etc.")
    return built


def _keep(tmp: Path, wanted: dict[str, Any], planted: dict[str, set[int]], **more: Any) -> None:
    kinds = {kind: sorted(numbers) for kind, numbers in planted.items()}
    (tmp / "built.json").write_text(json.dumps({**wanted, "planted": kinds, **more}))


def _planted(built: dict[str, Any]) -> dict[str, set[int]]:
    return {kind: set(numbers) for kind, numbers in built["planted"].items()}


def run(tmp: Path, args: Any, kept: dict[str, Any] | None, wanted: dict[str, Any]) -> None:
    n, diff, repeat = args.n, args.diff, args.repeat
    started = time.perf_counter()
    if kept is None:
        (tmp / "built.json").unlink(missing_ok=True)
        for old in ("city", "province"):
            shutil.rmtree(tmp / old, ignore_errors=True)
        city, province, planted = _apart(build, tmp, n, diff, args.seed)
        join_db = _apart(build_join_tables, tmp, city, province)
        _keep(tmp, wanted, planted)
        print(
            f"built two ledgers of {n:,} receipts, {diff:,} differences, in "
            f"{time.perf_counter() - started:.1f} s"
        )
    else:
        city, province, planted = tmp / "city", tmp / "province", _planted(kept)
        join_db = tmp / "join.sqlite"
        print(f"reusing the two ledgers of {n:,} receipts, {diff:,} differences, in {tmp}")
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


def run_pg(
    base: str,
    tmp: Path,
    args: Any,
    prefix: str | None,
    kept: dict[str, Any] | None,
    wanted: dict[str, Any],
) -> None:
    n, diff, repeat = args.n, args.diff, args.repeat
    started = time.perf_counter()
    if kept is None:
        (tmp / "built.json").unlink(missing_ok=True)
        for old in ("city", "province"):
            shutil.rmtree(tmp / old, ignore_errors=True)
        if prefix is not None:
            drop_pg(base, [f"{prefix}_city", f"{prefix}_province"])
        city, province, planted, urls = _apart(build_pg, base, tmp, n, diff, args.seed, prefix)
        if prefix is not None:
            _keep(tmp, wanted, planted, urls=urls)
        print(
            f"built two PostgreSQL ledgers of {n:,} receipts, {diff:,} differences, in "
            f"{time.perf_counter() - started:.1f} s"
        )
    else:
        city, province, planted, urls = tmp / "city", tmp / "province", _planted(kept), kept["urls"]
        print(f"reusing the two PostgreSQL ledgers of {n:,} receipts in {urls['city_schema']} …")
    try:
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
        if prefix is None:
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
    size = re.search(rb"<BlockSize>(\d+)</BlockSize>", first.read_bytes())
    print(f"  block size {size[1].decode() if size else '?'} numbers")
    sizes = {
        "summary": first.stat().st_size,
        "request": request.stat().st_size,
        "answer": second.stat().st_size,
    }
    total = float(sum(step["seconds"] for _, step in steps))
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
