"""Under concurrency and crashes: no duplicate number, no gap, no half-written receipt."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from receipts.audit import audit
from receipts.domain.divisions import issuer_may_certify
from receipts.issuing.issue import issue, issue_batch
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from signing.batch import verify_many
from tests.support.ledger import audit_trust, make_issuer, request, stock_city
from tests.support.tier_pki import tier_pki

PROCESSES = 8
EACH = 6
_FORK = multiprocessing.get_context("fork")


def _issue_some(url: str, worker: int, barrier: object) -> None:
    db = Database(url)
    issuer = make_issuer()
    barrier.wait()  # type: ignore[attr-defined]
    for n in range(EACH):
        issue(db, issuer, request(f"P{worker}-{n}"))
    db.dispose()


def test_many_processes_issue_at_once(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=PROCESSES * EACH)
    tier_pki()  # build before forking, so every process signs with the same keys
    ledger_db.dispose()
    barrier = _FORK.Barrier(PROCESSES)
    procs = [
        _FORK.Process(target=_issue_some, args=(ledger_db.url, w, barrier))
        for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with ledger_db.read() as session:
        numbers = sorted(session.scalars(select(ReceiptRow.number)))
        xmls = list(session.scalars(select(ReceiptRow.xml)))
    assert numbers == list(range(1, PROCESSES * EACH + 1))
    results = verify_many(
        xmls,
        tier_pki().bundle,
        ["640100"] * len(xmls),
        issuer_may_certify=issuer_may_certify,
        workers=1,
    )
    assert all(r.valid for r in results)
    assert audit(ledger_db, "640100", audit_trust()).ok


def _endless_batch(url: str) -> None:
    db = Database(url)
    list(issue_batch(db, make_issuer(), [request(f"B{n}") for n in range(3000)]))


@pytest.mark.slow  # about 10 s: a batch of 3,000 killed midway, then rerun
def test_batch_killed_midway_then_rerun(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=5000)
    tier_pki()
    ledger_db.dispose()
    child = _FORK.Process(target=_endless_batch, args=(ledger_db.url,))
    child.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until at least one chunk has committed
        with ledger_db.read() as session:
            if (session.scalar(select(func.count()).select_from(ReceiptRow)) or 0) > 0:
                break
        time.sleep(0.05)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    with ledger_db.read() as session:
        partial = session.scalar(select(func.count()).select_from(ReceiptRow)) or 0
    assert 0 < partial < 3000 and partial % 500 == 0  # whole chunks only
    assert audit(ledger_db, "640100", audit_trust()).ok
    outcomes = list(issue_batch(ledger_db, make_issuer(), [request(f"B{n}") for n in range(3000)]))
    assert sum(o.already_issued for o in outcomes) == partial
    with ledger_db.read() as session:
        numbers = sorted(session.scalars(select(ReceiptRow.number)))
    assert numbers == list(range(1, 3001))
    assert audit(ledger_db, "640100", audit_trust()).ok
