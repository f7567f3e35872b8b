"""Settlement rows are caches of their events (docs/settlement.md, "Tamper evidence"): a
transfer or a statement rewritten in SQL is a settlement-mismatch; bad transfers are refused in
one line with nothing stored. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from receipts.audit import audit
from receipts.errors import InvalidInput
from receipts.findings import FindingCode
from receipts.issuing.issue import issue
from receipts.ledger.database import Database
from receipts.ledger.models import SettlementTransferRow
from receipts.settlement.statement import make_statement
from receipts.settlement.transfers import balances, record_transfer
from tests.support.ledger import audit_trust, make_issuer, request, stock_city
from tests.support.tier_pki import tier_pki


def _settled(db: Database, tmp_path: Path) -> str:
    stock_city(db, tmp_path, count=5)
    outcome = issue(db, make_issuer(), request(amount="1000.00"))
    with db.read() as session:
        period = session.scalar(text("SELECT period FROM receipts LIMIT 1"))
    assert outcome.ref.number == 1 and isinstance(period, str)
    signer = tier_pki().signers["640100"]
    record_transfer(db, "640100", "640000", period, "100.00", date(2026, 12, 1), "YC-1", signer)
    make_statement(db, signer, period)
    return period


def test_rewritten_transfer_and_statement_rows_are_findings(
    ledger_db: Database, tmp_path: Path
) -> None:
    period = _settled(ledger_db, tmp_path)
    assert audit(ledger_db, "640100", audit_trust()).ok
    (owed_up, owed_down) = balances(ledger_db, "640100", period)
    assert (owed_up.owed, owed_up.paid, owed_up.unpaid) == (12000, 10000, 2000)
    assert (owed_down.payee, owed_down.unpaid) == ("grassroots", 60000)
    with ledger_db.write() as (session, _):
        session.execute(text("UPDATE settlement_transfers SET amount_fen = 12000"))
        session.execute(text("UPDATE settlement_statements SET upward_fen = 0"))
    findings = audit(ledger_db, "640100", audit_trust()).findings
    assert [f.code for f in findings] == [FindingCode.SETTLEMENT_MISMATCH] * 2
    assert "statement" in findings[0].message and "transfer" in findings[1].message


@pytest.mark.parametrize(
    ("payee", "amount", "reference", "message"),
    [
        ("000000", "1.00", "R1", "payee '000000' must be 640000"),
        ("640000", "0.00", "R1", "must be positive"),
        ("640000", "1.005", "R1", "fraction of a fen"),
        ("640000", "1.00", "两个字", "reference"),
        ("640000", "1.00", "YC-1", "recorded already"),
    ],
)
def test_bad_transfers_are_refused_and_store_nothing(
    ledger_db: Database, tmp_path: Path, payee: str, amount: str, reference: str, message: str
) -> None:
    period = _settled(ledger_db, tmp_path)
    with pytest.raises(InvalidInput, match=message):
        record_transfer(
            ledger_db, "640100", payee, period, amount, date(2026, 12, 1), reference, None
        )
    with ledger_db.read() as session:
        assert session.scalar(select(func.count()).select_from(SettlementTransferRow)) == 1
