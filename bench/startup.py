"""Start-up time: ``receipts --help`` and ``receipts issue --help`` against ``python -c pass``.

    python -m bench.startup [--runs 21]

``receipts --help`` imports click and the command registry and no command module (the root group
loads a command's module only when that command runs), so it should cost little more than
starting Python and importing click; the target is at most 60 ms above ``python -c pass``.
``receipts issue --help`` loads one command module and what it imports (the ledger, the signing
pool, the batch readers). The three are run in turn, round after round, so that a machine busy
with something else slows all three alike; the median of each is printed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 60.0
"""What ``receipts --help`` may cost above ``python -c pass`` (issue 13)."""


def _argv(cli_args: list[str]) -> list[str]:
    code = f"import cli; cli.main({cli_args!r}, prog_name='receipts')"
    return [sys.executable, "-c", code]


CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "receipts --help": _argv(["--help"]),
    "receipts issue --help": _argv(["issue", "--help"]),
}


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def medians(runs: int) -> dict[str, float]:
    """Median wall time of each case over ``runs`` interleaved rounds, in seconds."""
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for argv in CASES.values():  # warm the file cache and the bytecode once
        _time(argv)
    for _ in range(runs):
        for name, argv in CASES.items():
            times[name].append(_time(argv))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    result = medians(args.runs)
    bare = result["python -c pass"]
    print(f"{'python -c pass':24s} {bare * 1000:7.1f} ms (median of {args.runs})")
    for name in ("receipts --help", "receipts issue --help"):
        took = result[name]
        print(
            f"{name:24s} {took * 1000:7.1f} ms   {(took - bare) * 1000:+7.1f} ms above it, "
            f"ratio {took / bare:.2f}x"
        )
    over = (result["receipts --help"] - bare) * 1000
    verdict = "within" if over <= TARGET_MS else "OVER"
    print(f"receipts --help: {over:.0f} ms above python -c pass, {verdict} the {TARGET_MS:.0f} ms")


if __name__ == "__main__":
    main()
