"""The steps of ``bench.growth`` that run in a process of their own (``python -m
bench.growth_steps JSON``), so that each one's peak RSS is its own: a ``receipts`` command
through the CLI, the look-ups and a year's statistics (bench/growth.py says what each measures).
"""

from __future__ import annotations

import json
import math
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "OFFSET",
    "YEAR",
    "child",
    "peak_rss_mb",
    "step_command",
    "step_lookup",
    "step_stats",
]

#: The first synthetic receipt's number: far above the segments the real commands allocate.
OFFSET = 5_000_000_000
#: The year the synthetic receipts are of, as the statistics' period range.
YEAR = ("2026-01", "2026-12")
_ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """This process's peak RSS since it was started. Not ``ru_maxrss``: Linux carries the
    parent's peak over ``fork``/``exec`` into the child's (a step started from a parent of
    400 MB reports 400 MB), where VmHWM is the peak of this program's own memory."""
    try:
        status = Path("/proc/self/status").read_text("ascii")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def step_command(args: list[str]) -> dict[str, Any]:
    """One ``receipts`` command through the CLI, timed (the imports before it are not)."""
    from click.testing import CliRunner

    from cli import main
    from receipts.ledger import migrate  # noqa: F401  (imported lazily by the commands)
    from receipts.pki.credentials import Credentials  # noqa: F401
    from tests.support.workspaces import ENV

    runner = CliRunner(env=ENV)
    start = time.perf_counter()
    result = runner.invoke(main, args, catch_exceptions=False)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rss_mb": peak_rss_mb(),
        # The largest child's ru_maxrss (the verifying workers): what it inherited included.
        "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "exit": result.exit_code,
        "stdout": result.stdout,
        "stderr": result.stderr,
    }


def step_lookup(url: str, n: int, rounds: int) -> dict[str, Any]:
    """``rounds`` look-ups of random synthetic receipts through the reader, each followed by
    the bare primary-key SELECT of the same receipt."""
    from bench.stats import CODE
    from receipts.domain.model import ReceiptRef
    from receipts.ledger.database import Database
    from receipts.lookup import LookupReader

    db = Database(url)
    reader = LookupReader(db)
    raw = db.engine.raw_connection()
    cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
    bare_sql = "SELECT check_code FROM receipts WHERE code = %s AND number = %s AND issue_year = %s"
    rng = random.Random(19)  # which receipts: reproducible, not secret
    year = 2000 + int(CODE[6:])
    reader.fetch(ReceiptRef(CODE, OFFSET))  # the reader's first statement prepared, not timed
    ours = bare = 0.0
    for _ in range(rounds):
        number = OFFSET + rng.randrange(n)
        first = time.perf_counter()
        assert reader.fetch(ReceiptRef(CODE, number)) is not None
        second = time.perf_counter()
        cursor.execute(bare_sql, (CODE, number, year))
        assert cursor.fetchone() is not None
        third = time.perf_counter()
        ours += second - first
        bare += third - second
    cursor.close()
    raw.close()
    reader.close()
    db.dispose()
    return {"seconds": ours / rounds, "baseline": bare / rounds, "rss_mb": peak_rss_mb()}


def step_stats(url: str, repeat: int) -> dict[str, Any]:
    """``ledger_stats`` of the year, fastest of ``repeat``; the GROUP BY scan once; they agree."""
    from receipts.ledger.database import Database
    from receipts.stats.figures import ledger_stats
    from tests.support.stats_scan import scan_figures

    db = Database(url)
    ours = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        stats = ledger_stats(db, period_from=YEAR[0], period_to=YEAR[1])
        ours = min(ours, time.perf_counter() - start)
    rss = peak_rss_mb()
    start = time.perf_counter()
    with db.read() as session:
        summary, breakdowns = scan_figures(session, *YEAR)
    bare = time.perf_counter() - start
    db.dispose()
    same = stats.summary == summary and all(
        {r.key: r.figures for r in b.rows} == breakdowns[b.dimension] for b in stats.breakdowns
    )
    if not same:
        raise SystemExit("the aggregates and the scan disagree")
    return {"seconds": ours, "baseline": bare, "rss_mb": rss}


def child(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.growth_steps", json.dumps(spec)],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"step {spec} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    spec = json.loads(sys.argv[1])
    handlers: dict[str, Callable[..., dict[str, Any]]] = {
        "command": step_command,
        "lookup": step_lookup,
        "stats": step_stats,
    }
    print(json.dumps(handlers[spec.pop("op")](**spec)))


if __name__ == "__main__":
    main()
