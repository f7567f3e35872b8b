"""How time and memory grow with the ledger, from 10^4 to 10^7 receipts, and where 10^8 stands
(issue 19, item 4). PostgreSQL only: the national ledger's back end.

Run from the repository root::

    python -m bench.growth --pg URL [--sizes 10000,100000,1000000,10000000]
        [--keep-schema NAME] [--ops issue,import,verify,reconcile,lookup,stats] [--count 1000]

N is the number of synthetic receipts in the ledger: a province's (640000) ledger in one schema
of the database, every migration applied, grown from one size to the next by ``INSERT ...
SELECT generate_series`` with ``bench.stats``' generator (code 64710126, about 3,100 issuers,
twelve months of 2026, one receipt in three with two lines, one in a hundred red; numbers from
5,000,000,000 up, clear of the segments the real commands allocate from 1). The statistics'
triggers stay on while it grows, so the aggregates are what the writes left. The receipts the
steps below issue and import stay in the ledger too (``--count`` more per step and size).

For each N, each step runs in a fresh process whose peak RSS (VmHWM, the process's own: not
``ru_maxrss``, which Linux carries over from the parent) is shown; worker processes the step
starts (signing, verifying) are not counted. The baseline of each step is measured in the same
run and the ratio ours / baseline is printed:

- issue: ``receipts issue --batch`` of ``--count`` real receipts (a CSV as ``receipts demo``
  writes them), numbered from a segment the province allocated to itself, signed by the
  workspace's signing workers and stored in the ledger holding N, per receipt; baseline (as
  ``bench.issue``): bare signxml ``XAdESSigner`` signing as many receipts in one process.
- import: ``receipts transmit import`` of a package of ``--count`` receipts a city (640100, its
  ledger in SQLite) issued through the real commands from a segment the province allocated,
  into the ledger holding N, per receipt; baseline (as ``bench.import``): COPY of the very rows
  the import stored (receipts and lines) into plain tables with no index, in one transaction.
- verify: ``receipts verify --online`` of the receipts the issue step just issued: each
  signature and seal checked and each receipt looked up in the ledger holding N (offline
  verification never reads the ledger: its cost does not depend on N at all); baseline (as
  ``bench.verify``): bare signxml ``XAdESVerifier`` on the same files, one process.
- reconcile: both rounds of the tier reconciliation through the real commands (as
  ``bench.reconcile --pg``) over two ledgers of N receipts each (``bench.reconcile_data``, 1,000
  planted differences or N/10), in two more schemas built for the step and dropped after it;
  baseline: PostgreSQL's FULL OUTER JOIN of the two receipts tables. O(N) by nature.
- look-up: the node's public look-up (``receipts.lookup.LookupReader.fetch``) of random
  synthetic receipts, per look-up; baseline (as ``bench.lookup_ledger``): a bare primary-key
  SELECT of the receipt's check code on a driver connection, interleaved with ours.
- stats: a year's statistics, the real ``ledger_stats`` (from the aggregates), fastest of
  three; baseline (as ``bench.stats``): the GROUP BY scan of receipts and lines that gave the
  same figures before the aggregates (the figures must agree).

Then the fitted growth: per step, least squares of log(time) and log(peak RSS) on log(N) over
the sizes measured (the exponent k: time ~ N^k), and the 10^8 line, the largest size measured
scaled by (10^8 / N)^k. The assumption is printed with it: the ledger keeps the shape it had at
the largest size measured (one year's partition, B-tree depth growing by at most one level, the
working set's share of memory as measured). A ledger of 10^8 holds ten years or so: partitioned
by year, each year's partition and its indexes stay near 10^7, so the fit is if anything
pessimistic for the per-receipt steps; reconcile reads the whole ledger and grows as N.

``--keep-schema NAME`` grows the ledger in schema NAME and keeps it (with the workspaces in
``tmp/receipts-bench-growth/NAME``): a later run with the same NAME starts from what it holds.
Without it the schema is made afresh and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.growth_ledger import CITY, PROVINCE, Ledger
from bench.growth_report import UNIT, report, seconds_text
from bench.growth_steps import OFFSET, child

__all__ = ["Ledger", "main"]

_ROOT = Path(__file__).resolve().parent.parent
_OPS = ("issue", "import", "verify", "reconcile", "lookup", "stats")


def _command(*args: str) -> dict[str, Any]:
    """A ``receipts`` command in a fresh process: seconds, peak RSS, exit, output."""
    return child({"op": "command", "args": list(args)})


def measure_issue(ledger: Ledger, count: int, tmp: Path, folder: Path) -> dict[str, Any]:
    """The province allocates ``count`` numbers to itself and issues ``count`` receipts with
    ``receipts issue --batch`` in a fresh process (timed); their XML is written to ``folder``
    for the verify step; then the baseline, bare signxml signing ``count`` receipts."""
    from bench.issue import bare_signxml
    from receipts.commands.demo_files import batch_csv
    from tests.support.workspaces import receipts

    allocation, batch = tmp / "own.xml", tmp / "own.csv"
    result = receipts(
        ledger.province,
        *("stock", "allocate", "--to", PROVINCE, "--count", str(count), "-o", str(allocation)),
        db=ledger.url,
    )
    assert result.exit_code == 0, result.output
    batch.write_text(batch_csv(count, 0, f"G{uuid.uuid4().hex[:8]}-"), encoding="utf-8")
    before = _max_number(ledger, PROVINCE)
    args = ["--home", str(ledger.province), "--db", ledger.url, "issue", "--batch", str(batch)]
    step = _command(*args)
    if step["exit"] != 0:
        raise SystemExit(f"receipts issue --batch failed: {step['stdout']}{step['stderr']}")
    folder.mkdir(parents=True, exist_ok=True)
    with ledger.db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, number, xml FROM receipts "
                "WHERE issuer = :issuer AND number > :after AND number < :first"
            ),
            {"issuer": PROVINCE, "after": before, "first": OFFSET},
        ).all()
    for code, number, xml in rows:
        (folder / f"{code}-{number}.xml").write_bytes(xml)
    assert len(rows) == count, f"{len(rows)} receipts issued, {count} expected"
    bare = 1 / bare_signxml(count)
    return {"seconds": step["seconds"] / count, "baseline": bare, "rss_mb": step["rss_mb"]}


def measure_import(ledger: Ledger, count: int, tmp: Path) -> dict[str, Any]:
    """The city issues ``count`` receipts from a segment the province allocates and exports
    them (not timed); the province imports the package in a fresh process (timed); the city
    records the acknowledgement; the rows stored are COPYed into plain tables (the baseline)."""
    from receipts.commands.demo_files import batch_csv
    from tests.support.workspaces import ok, receipts

    allocation, package, ack = tmp / "allocation.xml", tmp / "package.zip", tmp / "ack.xml"
    result = receipts(
        ledger.province,
        *("stock", "allocate", "--to", CITY, "--count", str(count), "-o", str(allocation)),
        db=ledger.url,
    )
    assert result.exit_code == 0, result.output
    ok(ledger.city, "stock", "import", str(allocation))
    batch = tmp / "batch.csv"
    batch.write_text(batch_csv(count, count, f"I{uuid.uuid4().hex[:8]}-"), encoding="utf-8")
    ok(ledger.city, "issue", "--batch", str(batch))
    ok(ledger.city, "transmit", "export", "-o", str(package))
    before = _max_number(ledger, CITY)
    args = ["--home", str(ledger.province), "--db", ledger.url, "transmit", "import"]
    step = _command(*args, str(package), "-o", str(ack))
    if step["exit"] != 0:
        raise SystemExit(f"transmit import failed: {step['stdout']}{step['stderr']}")
    ok(ledger.city, "transmit", "ack", str(ack))
    stored, bare = _bare_copy(ledger, before)
    assert stored == count, f"{stored} receipts imported, {count} expected"
    return {"seconds": step["seconds"] / count, "baseline": bare / count, "rss_mb": step["rss_mb"]}


def _max_number(ledger: Ledger, issuer: str) -> int:
    """The highest number ``issuer``'s real receipts (below the synthetic ones) have."""
    with ledger.db.engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT coalesce(max(number), 0) FROM receipts "
                "WHERE issuer = :issuer AND number < :first"
            ),
            {"issuer": issuer, "first": OFFSET},
        ).scalar_one()
    return int(found)


def _bare_copy(ledger: Ledger, after: int) -> tuple[int, float]:
    """The city's receipts numbered above ``after`` and their lines, copied out, then COPYed
    into plain temporary tables in one transaction: (receipts, seconds of the COPY)."""
    import psycopg

    dsn = ledger.url.replace("postgresql+psycopg://", "postgresql://")
    where = "r.issuer = %(city)s AND r.number > %(after)s AND r.number < %(first)s"
    params = {"city": CITY, "after": after, "first": OFFSET}
    queries = {
        "receipts": f"SELECT r.* FROM receipts r WHERE {where}",
        "receipt_items": (
            "SELECT i.* FROM receipt_items i JOIN receipts r USING (code, number, issue_year) "
            f"WHERE {where}"
        ),
    }
    blocks: dict[str, list[bytes]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, query in queries.items():
            with conn.cursor().copy(f"COPY ({query}) TO STDOUT", params) as copy:
                blocks[name] = [bytes(block) for block in copy]
            conn.execute(f"CREATE TEMPORARY TABLE plain_{name} (LIKE {name} INCLUDING DEFAULTS)")
        row = conn.execute(f"SELECT count(*) FROM receipts r WHERE {where}", params).fetchone()
        start = time.perf_counter()
        with conn.transaction():
            for name, data in blocks.items():
                with conn.cursor().copy(f"COPY plain_{name} FROM STDIN") as copy:
                    for block in data:
                        copy.write(block)
        seconds = time.perf_counter() - start
    assert row is not None
    return int(row[0]), seconds


def measure_verify(ledger: Ledger, folder: Path) -> dict[str, Any]:
    """``receipts verify --online`` of the files in ``folder`` in a fresh process; then bare
    signxml on the same files."""
    from cryptography.x509 import load_pem_x509_certificates
    from signxml.xades.xades import XAdESVerifier

    from signing.pem import certificates_to_pem

    files = sorted(folder.glob("*.xml"))
    args = ["--home", str(ledger.province), "--db", ledger.url, "--json", "verify", "--online"]
    step = _command(*args, str(folder))
    if step["exit"] != 0:
        raise SystemExit(f"receipts verify --online failed: {step['stdout'][-3000:]}")
    # the root the workspace's receipts chain to (each process's test PKI is its own)
    bundle = load_pem_x509_certificates((ledger.province / "trust" / "bundle.pem").read_bytes())
    root = folder / "root.pem"
    root.write_bytes(certificates_to_pem([c for c in bundle if c.subject == c.issuer]))
    start = time.perf_counter()
    for path in files:
        XAdESVerifier().verify(path.read_bytes(), ca_pem_file=str(root))
    bare = time.perf_counter() - start
    count = len(files)
    return {"seconds": step["seconds"] / count, "baseline": bare / count, "rss_mb": step["rss_mb"]}


def measure_reconcile(base: str, n: int, tmp: Path) -> dict[str, Any]:
    """Both rounds over two ledgers of ``n`` built by ``bench.reconcile_data``, through the
    commands ``bench.reconcile`` runs, which must name exactly the planted receipts; then the
    FULL OUTER JOIN of the two tables."""
    from bench.reconcile_data import build_pg, drop_pg
    from bench.reconcile_steps import run_step

    diff = min(1000, max(3, n // 10))
    tmp.mkdir(parents=True, exist_ok=True)
    city, province, planted, urls = build_pg(base, tmp, n, diff, 2026)
    try:
        join = run_step("pgjoin", base, urls["city_schema"], urls["province_schema"])
        first, request, second = tmp / "city.xml", tmp / "city.request.xml", tmp / "city-2.xml"
        at_city = ["--home", str(city), "--db", urls["city"]]
        at_province = ["--home", str(province), "--db", urls["province"]]
        commands = [
            (0, [*at_city, "reconcile", "summary", "-o", str(first)]),
            (1, [*at_province, "reconcile", "tiers", "--with", str(first)]),
            (0, [*at_city, "reconcile", "summary", "--blocks", str(request), "-o", str(second)]),
            (1, [*at_province, "--json", "reconcile", "tiers", "--with", str(second)]),
        ]
        steps = []
        for code, argv in commands:
            step = _command(*argv)
            if step["exit"] != code:
                raise SystemExit(f"reconcile failed: {step['stderr']}")
            steps.append(step)
    finally:
        drop_pg(base, [urls["city_schema"], urls["province_schema"]])
    named: dict[str, set[int]] = {"missing": set(), "extra": set(), "differing": set()}
    for finding in json.loads(steps[-1]["stdout"])["findings"]:
        named[finding["kind"]].add(finding["number"])
    assert named == planted, "the exchange did not name exactly the planted differences"
    return {
        "seconds": sum(float(step["seconds"]) for step in steps),
        "baseline": float(join["seconds"]),
        "rss_mb": max(float(step["rss_mb"]) for step in steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep-schema", help="Grow the ledger in this schema and keep it.")
    parser.add_argument("--ops", default=",".join(_OPS))
    parser.add_argument("--count", type=int, default=1000, help="Receipts issued and imported.")
    parser.add_argument("--lookups", type=int, default=5000)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    ops = [op for op in _OPS if op in args.ops.split(",")]
    name = args.keep_schema or f"bench_growth_{uuid.uuid4().hex[:8]}"
    state = Path(tempfile.gettempdir()) / "receipts-bench-growth" / name
    ledger = Ledger(args.pg, name, state)
    results: dict[str, dict[int, dict[str, Any]]] = {op: {} for op in ops}
    try:
        for n in sizes:
            held = ledger.held()
            if held > n:
                print(f"the ledger holds {held:,} synthetic receipts already: {n:,} skipped")
                continue
            seconds = ledger.grow(n)
            print(
                f"N = {n:,}: grown from {held:,} in {seconds:.0f} s (not ours); "
                f"schema {ledger.size_mb():,.0f} MB",
                flush=True,
            )
            with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp_name:
                tmp = Path(tmp_name)
                issued = tmp / "issued"
                for op in ops:
                    if op == "issue" or (op == "verify" and not issued.exists()):
                        measured = measure_issue(ledger, args.count, tmp, issued)
                        if op == "issue":
                            results[op][n] = measured
                    if op == "import":
                        results[op][n] = measure_import(ledger, args.count, tmp)
                    elif op == "verify":
                        results[op][n] = measure_verify(ledger, issued)
                    elif op == "reconcile":
                        results[op][n] = measure_reconcile(args.pg, n, tmp / "reconcile")
                    elif op == "lookup":
                        spec = {"op": "lookup", "url": ledger.url, "n": n, "rounds": args.lookups}
                        results[op][n] = child(spec)
                    elif op == "stats":
                        results[op][n] = child({"op": "stats", "url": ledger.url, "repeat": 3})
                    if n in results[op]:
                        m = results[op][n]
                        print(
                            f"  {op:<10} {seconds_text(m['seconds'])} a {UNIT[op]}, baseline "
                            f"{seconds_text(m['baseline'])}, peak RSS {m['rss_mb']:.0f} MB",
                            flush=True,
                        )
        report({op: r for op, r in results.items() if r})
        if args.keep_schema:
            print(
                f"kept schema {name}: {ledger.held():,} synthetic receipts, "
                f"{ledger.size_mb():,.0f} MB (workspaces in {state})"
            )
    finally:
        if args.keep_schema:
            ledger.db.dispose()
        else:
            ledger.drop()


if __name__ == "__main__":
    main()
