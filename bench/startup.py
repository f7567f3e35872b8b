"""Start-up time: ``receipts --help`` against ``python -c pass`` in the same run.

    python bench/startup.py [--runs 15]

Heavy libraries (reportlab, signxml, SQLAlchemy, pikepdf, pyHanko) are imported inside the
commands that use them, so asking for help should cost little more than starting Python.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def best_of(argv: list[str], runs: int) -> float:
    """Median wall time of ``argv`` over ``runs`` runs, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    bare = best_of([sys.executable, "-c", "pass"], args.runs)
    helped = best_of([sys.executable, "-c", "import cli; cli.main(['--help'])"], args.runs)
    print(f"python -c pass:   {bare * 1000:7.1f} ms (median of {args.runs})")
    print(
        f"receipts --help:  {helped * 1000:7.1f} ms  ratio {helped / bare:.1f}x, "
        f"{(helped - bare) * 1000:.0f} ms of our own"
    )


if __name__ == "__main__":
    main()
