"""``audit`` catches edits, deletions, reorderings and truncations made directly in SQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from receipts.audit import audit
from receipts.issuing.issue import issue_batch, reverse
from receipts.ledger.database import Database
from tests.support.ledger import make_issuer, request, stock_city


@pytest.fixture
def busy_ledger(ledger_db: Database, tmp_path: Path) -> Database:
    stock_city(ledger_db, tmp_path, count=100)
    issuer = make_issuer()
    outcomes = list(issue_batch(ledger_db, issuer, [request(f"R{n}") for n in range(1, 6)]))
    list(issue_batch(ledger_db, issuer, [request(f"S{n}", amount="12.50") for n in range(1, 4)]))
    reverse(ledger_db, issuer, outcomes[0].ref, "开错了", "张晓梅", "李建国")
    return ledger_db


def test_intact_ledger_passes(busy_ledger: Database) -> None:
    report = audit(busy_ledger, "640100")
    assert report.ok, report.findings
    assert (report.events, report.receipts, report.unanchored) == (10, 9, 0)
    assert report.signed_heads == 4


def sql(statement: str, **params: object) -> Callable[[Session], None]:
    def run(session: Session) -> None:
        session.execute(text(statement), params)

    return run


TAMPERING = {
    "event payload edited": (
        sql("UPDATE events SET payload = replace(payload, '2000.00', '2.00') WHERE seq = 3"),
        "event-altered",
    ),
    "event deleted from the middle": (sql("DELETE FROM events WHERE seq = 4"), "chain-broken"),
    "events reordered": (
        sql(
            "UPDATE events SET seq = CASE seq WHEN 5 THEN 1005 WHEN 6 THEN 5 END "
            "WHERE seq IN (5, 6)"
        ),
        "chain-broken",
    ),
    "tail truncated": (sql("DELETE FROM events WHERE seq >= 9"), "chain-truncated"),
    "tail and tip truncated": (
        lambda s: (
            sql("DELETE FROM events WHERE seq >= 9")(s),
            sql(
                "UPDATE ledger_state SET event_count = 8, head_hash = "
                "(SELECT hash FROM events WHERE seq = 8)"
            )(s),
        ),
        "chain-truncated",
    ),
    "receipt total edited": (
        sql("UPDATE receipts SET total_fen = total_fen + 1 WHERE number = 2"),
        "receipt-mismatch",
    ),
    "receipt XML replaced": (
        sql(
            "UPDATE receipts SET xml = (SELECT xml FROM receipts WHERE number = 3) WHERE number = 2"
        ),
        "receipt-altered",
    ),
    "receipt deleted": (sql("DELETE FROM receipts WHERE number = 4"), "receipt-missing"),
    "receipt inserted": (
        sql(
            "INSERT INTO receipts SELECT code, 99, 'deadbeef' || substr(digest, 9), issuer, kind, "
            "issued_at, period, check_code, payer_name, payer_kind, payer_id, total_fen, "
            "original_code, original_number, xml FROM receipts WHERE number = 2"
        ),
        "receipt-unrecorded",
    ),
    "item row edited": (
        sql("UPDATE receipt_items SET amount_fen = 1 WHERE number = 5"),
        "receipt-mismatch",
    ),
    "segment widened": (sql("UPDATE segments SET last = 5000"), "segment-mismatch"),
    "segment deleted": (sql("DELETE FROM segments"), "segment-missing"),
    "counter rewound": (sql("UPDATE number_counters SET last_number = 3"), "counter-mismatch"),
    "client reference rewritten": (
        sql("UPDATE client_references SET number = 1 WHERE reference = 'R2'"),
        "reference-mismatch",
    ),
    "signed head forged": (
        sql(
            "UPDATE chain_heads SET signature = 'AAAA' || substr(signature, 5) "
            "WHERE event_count = (SELECT max(event_count) FROM chain_heads)"
        ),
        "head-invalid",
    ),
    "heads deleted and events appended": (
        sql("DELETE FROM chain_heads WHERE event_count = 10"),
        "unsigned-tail",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_detected(busy_ledger: Database, case: str) -> None:
    change, code = TAMPERING[case]
    with busy_ledger.read() as session:
        change(session)
        session.commit()
    report = audit(busy_ledger, "640100")
    assert code in [f.code for f in report.findings], report.findings
