"""``issue --batch`` as a real process, stopped from outside: killed, its signing workers (which
hold the decrypted key) die with it; sent SIGTERM, it rolls the chunk in flight back, stops its
workers and exits 143, and the same file issues the rest when run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from receipts.issuing.issue import CHUNK
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from receipts.support.pools import START_METHOD_ENV
from tests.support.processes import alive, descendants, kill_all, linux_proc, wait_until
from tests.support.workspaces import ENV, federation, receipts

ROWS = 1500
ROOT = Path(__file__).parents[1]
HEADER = "client_ref,payer_name,payer_kind,payer_uscc,item_code,period,amount,handler,reviewer\n"

pytestmark = [linux_proc, pytest.mark.slow]  # each runs a batch of 1,500 in a subprocess


@pytest.fixture
def city(tmp_path: Path) -> tuple[Path, Path]:
    """A 640100 workspace stocked with :data:`ROWS` numbers, and a batch file of as many."""
    prov, home = tmp_path / "prov", tmp_path / "yinchuan"
    federation(prov, "640000")
    federation(home, "640100")
    assert receipts(prov, "org", "add", "--code", "640100").exit_code == 0
    alloc = tmp_path / "alloc.xml"
    allocated = receipts(
        prov, "stock", "allocate", "--to", "640100", "--count", str(ROWS), "-o", str(alloc)
    )
    assert allocated.exit_code == 0, allocated.output
    assert receipts(home, "stock", "import", str(alloc)).exit_code == 0
    batch = tmp_path / "batch.csv"
    rows = (
        f"B{n},甲公司{n},enterprise,91640100MA7600001J,01,2026-10,{100 + n}.00,张晓梅,李建国\n"
        for n in range(ROWS)
    )
    batch.write_text(HEADER + "".join(rows), encoding="utf-8")
    return home, batch


def _issued(home: Path) -> list[int]:
    db = Database(f"sqlite:///{home / 'ledger.sqlite'}")
    try:
        with db.read() as session:
            return sorted(session.scalars(select(ReceiptRow.number)))
    finally:
        db.dispose()


def _count(home: Path) -> int:
    db = Database(f"sqlite:///{home / 'ledger.sqlite'}")
    try:
        with db.read() as session:
            return session.scalar(select(func.count()).select_from(ReceiptRow)) or 0
    finally:
        db.dispose()


def _start_batch(home: Path, batch: Path, method: str) -> tuple[subprocess.Popen[bytes], set[int]]:
    """``receipts issue --batch`` in its own process, once a chunk has committed and its
    signing workers run; with the processes below it. Its standard error goes to
    ``stderr.txt`` beside the workspace (a file, not a pipe that a surviving worker could hold
    open)."""
    with (home.parent / "stderr.txt").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "--home", str(home), "issue", "--batch", str(batch)],
            cwd=ROOT,
            env={**os.environ, **ENV, START_METHOD_ENV: method},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    wait_until(lambda: process.poll() is not None or _count(home) > 0, 60, "a chunk committed")
    assert process.poll() is None, "the batch ended before it could be stopped"
    below = descendants(process.pid)
    assert len(below) >= 2, below  # the two signing workers (and the fork server, if used)
    return process, below


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_killed_batch_leaves_no_worker_holding_the_key(
    city: tuple[Path, Path], method: str
) -> None:
    home, batch = city
    process, below = _start_batch(home, batch, method)
    try:
        process.kill()
        process.wait(10)
        wait_until(lambda: not any(alive(pid) for pid in below), 5, f"workers {below} gone")
    finally:
        process.kill()
        kill_all(below)
    numbers = _issued(home)
    assert len(numbers) % CHUNK == 0 and numbers == list(range(1, len(numbers) + 1))


def test_sigterm_rolls_the_open_chunk_back_and_exits_143(city: tuple[Path, Path]) -> None:
    home, batch = city
    process, below = _start_batch(home, batch, "fork")
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        wait_until(lambda: not any(alive(pid) for pid in below), 5, f"workers {below} gone")
    finally:
        process.kill()
        kill_all(below)
    assert process.returncode == 128 + signal.SIGTERM
    numbers = _issued(home)
    kept = len(numbers)
    assert 0 < kept < ROWS and kept % CHUNK == 0  # whole chunks only
    assert numbers == list(range(1, kept + 1))
    stderr = (home.parent / "stderr.txt").read_text(encoding="utf-8")
    assert stderr.splitlines() == [
        "error: terminated (SIGTERM): the chunk in progress was rolled back, the chunks "
        "committed before it stay issued; run the same file again to issue the rest"
    ]
    audited = receipts(home, "audit")
    assert audited.exit_code == 0, audited.output
    rerun = receipts(home, "--json", "issue", "--batch", str(batch))
    assert rerun.exit_code == 0, rerun.output
    summary = json.loads(rerun.stdout)
    assert (summary["issued"], summary["already_issued"]) == (ROWS - kept, kept)
    assert _issued(home) == list(range(1, ROWS + 1))
