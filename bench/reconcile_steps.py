"""The steps of ``bench.reconcile``, each run in a fresh process so that its peak RSS
(ru_maxrss) is its own: one ``receipts`` command, the baseline join on SQLite or PostgreSQL, or
only the imports (the floor of every step's RSS).

    python -m bench.reconcile_steps '["command", "--home", "...", "reconcile", "summary"]'

prints the step's measurements as one JSON line; :func:`run_step` runs it and reads them.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["run_step"]

#: The repository root, where ``python -m bench.reconcile_steps`` finds ``bench`` and ``tests``.
ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
        [sys.executable, "-m", "bench.reconcile_steps", json.dumps(argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


def main() -> None:
    kind, *rest = json.loads(sys.argv[1])
    if kind == "command":
        result = step_command(rest)
    elif kind == "join":
        result = step_join(rest[0], rest[1], rest[2], rest[3:])
    elif kind == "pgjoin":
        result = step_pg_join(rest[0], rest[1], rest[2])
    else:
        result = step_idle()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
