"""The table ``bench.growth`` prints, and the fitted growth to 10^8 with its assumption."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["UNIT", "fit", "report", "seconds_text"]

#: What each step's time is counted per, and the assumption of its 10^8 line.
UNIT = {
    "issue": "receipt",
    "import": "receipt",
    "verify": "receipt",
    "reconcile": "run",
    "lookup": "look-up",
    "stats": "year",
}


def fit(sizes: list[int], values: list[float]) -> float:
    """The exponent k of values ~ sizes^k, least squares on log-log (0 for one size)."""
    if len(sizes) < 2:
        return math.nan
    xs = [math.log(s) for s in sizes]
    ys = [math.log(max(v, 1e-12)) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def seconds_text(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} us"


def report(results: dict[str, dict[int, dict[str, Any]]], target: int = 10**8) -> None:
    print()
    print(
        f"{'step':<10} {'N':>11} {'ours':>10} {'per':<8} {'baseline':>10} {'ratio':>7} {'RSS':>8}"
    )
    for op, by_size in results.items():
        for n, m in sorted(by_size.items()):
            print(
                f"{op:<10} {n:>11,} {seconds_text(m['seconds']):>10} {UNIT[op]:<8} "
                f"{seconds_text(m['baseline']):>10} {m['seconds'] / m['baseline']:>6.2f}x "
                f"{m['rss_mb']:>5.0f} MB"
            )
    print()
    print(
        f"fitted growth (time ~ N^k: least squares on log-log over all sizes; and between the "
        f"two largest, which the {target:,} line uses: small sizes are mostly fixed costs)"
    )
    for op, by_size in results.items():
        sizes = sorted(by_size)
        if len(sizes) < 2:
            print(f"  {op:<10} one size measured: no fit")
            continue
        k_all = fit(sizes, [by_size[n]["seconds"] for n in sizes])
        k_time = fit(sizes[-2:], [by_size[n]["seconds"] for n in sizes[-2:]])
        k_base = fit(sizes[-2:], [by_size[n]["baseline"] for n in sizes[-2:]])
        k_rss = fit(sizes[-2:], [by_size[n]["rss_mb"] for n in sizes[-2:]])
        last = by_size[sizes[-1]]
        scale = target / sizes[-1]
        print(
            f"  {op:<10} time k={k_all:+.2f} (all), {k_time:+.2f} (two largest; baseline "
            f"{k_base:+.2f}), RSS k={k_rss:+.2f}: at {target:,} ~ "
            f"{seconds_text(last['seconds'] * scale ** max(k_time, 0.0))} a {UNIT[op]}, "
            f"~ {last['rss_mb'] * scale ** max(k_rss, 0.0):.0f} MB"
        )
    print(
        "  assumption: the growth between the two largest sizes measured goes on to "
        f"{target:,} (never shrinking): the ledger keeps its shape (one year's partition, B-tree "
        "depth up by one level at most, the same share of it in memory); partitioned by year, "
        "a 10^8 ledger's current year stays near 10^7, so the per-receipt lines are if anything "
        "pessimistic; reconcile reads the whole ledger (O(N))."
    )
