"""``audit`` catches edits, deletions, reorderings and truncations made directly in SQL, and
holds the heads and receipts to the workspace's own keys and trust (the insider attacks through
the CLI are tests/test_audit_insider.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from receipts.audit import AuditTrust, audit
from receipts.issuing.issue import issue_batch, reverse
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from receipts.pki.own_certificates import OwnCertificate
from tests.support.ledger import audit_trust, make_issuer, request, stock_city
from tests.support.tier_pki import tier_pki


@pytest.fixture
def busy_ledger(ledger_db: Database, tmp_path: Path) -> Database:
    stock_city(ledger_db, tmp_path, count=100)
    issuer = make_issuer()
    outcomes = list(issue_batch(ledger_db, issuer, [request(f"R{n}") for n in range(1, 6)]))
    list(issue_batch(ledger_db, issuer, [request(f"S{n}", amount="12.50") for n in range(1, 4)]))
    reverse(ledger_db, issuer, outcomes[0].ref, "开错了", "张晓梅", "李建国")
    return ledger_db


def test_intact_ledger_passes(busy_ledger: Database) -> None:
    report = audit(busy_ledger, "640100", audit_trust())
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
            "INSERT INTO receipts SELECT code, 99, issue_year, 'deadbeef' || substr(digest, 9), "
            "issuer, kind, "
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
    report = audit(busy_ledger, "640100", audit_trust())
    assert code in [f.code for f in report.findings], report.findings


def test_heads_signed_by_another_key_are_not_ours(busy_ledger: Database) -> None:
    # 640000's certificate is genuine and chains to the root, but it is not 640100's own.
    other = tier_pki().signers["640000"].certificate
    trust = AuditTrust((OwnCertificate(other, other.not_valid_before_utc, False),), None)
    report = audit(busy_ledger, "640100", trust)
    invalid = [f for f in report.findings if f.code == "head-invalid"]
    assert len(invalid) == 4 and "not one of this workspace's own" in invalid[0].message
    # and without a trust bundle the receipts' signatures are not verified, which it says
    assert report.notes == ("no trust bundle: the receipts' signatures were not verified",)


def test_a_receipt_forged_in_place_fails_its_signature_in_workers(busy_ledger: Database) -> None:
    with busy_ledger.read() as session:
        row = session.get(ReceiptRow, (session.scalars(select(ReceiptRow.code)).first(), 4))
        assert row is not None
        row.xml = row.xml.replace("宁夏贺兰山实业有限公司".encode(), "别的公司".encode())
        session.commit()
    report = audit(busy_ledger, "640100", audit_trust(), workers=2)
    forged = [f for f in report.findings if f.code == "receipt-signature-invalid"]
    assert len(forged) == 1 and f"{row.code}-0000000004" in forged[0].message, report.findings


def test_deleting_every_head_once_there_is_a_key_is_a_finding(busy_ledger: Database) -> None:
    with busy_ledger.read() as session:
        session.execute(text("DELETE FROM chain_heads"))
        session.commit()
    report = audit(busy_ledger, "640100", audit_trust())
    assert [f.code for f in report.findings] == ["events-unanchored"]
    # a workspace that never had a key: the same events are merely not yet anchored
    never = audit(busy_ledger, "640100", AuditTrust((), tier_pki().bundle))
    assert never.ok and never.unanchored == 10
