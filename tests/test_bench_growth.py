"""``bench.growth`` at its smallest, so that it does not rot between the runs that measure: a
ledger grown in two steps, the look-up and the statistics steps on it, the fit and the table."""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import pytest

from bench.growth_ledger import Ledger
from bench.growth_report import fit, report
from bench.growth_steps import step_lookup, step_stats
from tests.support.postgres import pg_url_or_skip


def test_fit_finds_the_exponent_of_a_power_law() -> None:
    sizes = [10_000, 100_000, 1_000_000]
    assert fit(sizes, [3e-6 * n for n in sizes]) == pytest.approx(1.0)
    assert fit(sizes, [0.25 for _ in sizes]) == pytest.approx(0.0)
    assert fit(sizes, [n**0.5 for n in sizes]) == pytest.approx(0.5)
    assert math.isnan(fit(sizes[:1], [1.0]))


def test_smallest_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = f"t_growth_{uuid.uuid4().hex[:12]}"
    ledger = Ledger(pg_url_or_skip(), name, tmp_path / "state", workspaces=False)
    try:
        results: dict[str, dict[int, dict[str, float]]] = {"lookup": {}, "stats": {}}
        for n in (100, 200):
            ledger.grow(n)
            assert ledger.held() == n
            results["lookup"][n] = step_lookup(ledger.url, n, rounds=20)
            # the aggregates the triggers kept while the ledger grew agree with the scan
            results["stats"][n] = step_stats(ledger.url, repeat=1)
        ledger.db.dispose()
    finally:
        ledger.drop()
    for by_size in results.values():
        for measured in by_size.values():
            assert measured["seconds"] > 0 and measured["baseline"] > 0
            assert measured["rss_mb"] > 10
    report(results)
    out = capsys.readouterr().out
    assert "lookup             200" in out
    assert "at 100,000,000 ~ " in out
