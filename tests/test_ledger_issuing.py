"""Issuing on the ledger: numbering, batches, client references, reversal, stock rules."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from receipts.domain.enums import ReceiptKind
from receipts.domain.model import ReceiptRef
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import InvalidInput, StockExhausted
from receipts.issuing.issue import AlreadyReversed, ReusedReference, issue, issue_batch, reverse
from receipts.issuing.stock_accounting import segment_usage
from receipts.issuing.stock_allocation import import_allocation
from receipts.ledger.database import Database
from receipts.ledger.models import Event, ReceiptRow
from signing.xmldsig import verify_enveloped
from tests.support.ledger import make_issuer, request, stock_city
from tests.support.tier_pki import tier_pki


def test_issue_numbers_sign_and_store(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    issuer = make_issuer()
    outcomes = [issue(ledger_db, issuer, request()) for _ in range(3)]
    assert [o.ref.number for o in outcomes] == [1, 2, 3]
    with ledger_db.read() as session:
        rows = session.scalars(select(ReceiptRow).order_by(ReceiptRow.number)).all()
        for row, outcome in zip(rows, outcomes, strict=True):
            assert hashlib.sha256(row.xml).hexdigest() == row.digest == outcome.digest
            result = verify_enveloped(row.xml, tier_pki().validator(), expected_org="640100")
            assert result.valid, result.findings
            receipt = parse_receipt_xml(row.xml)
            assert receipt.seal is not None and receipt.number == row.number
        kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.seq))]
    assert kinds == ["stock.imported", "receipt.issued", "receipt.issued", "receipt.issued"]


def test_batch_rerun_issues_nothing_twice(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=100)
    issuer = make_issuer()
    batch = [request(f"R{n}", amount=f"{n}.00") for n in range(1, 41)]
    first = list(issue_batch(ledger_db, issuer, batch))
    again = list(issue_batch(ledger_db, issuer, [*batch, request("R41")]))
    assert [o.already_issued for o in first] == [False] * 40
    assert [o.already_issued for o in again] == [True] * 40 + [False]
    assert [o.ref for o in again[:40]] == [o.ref for o in first]
    assert again[40].ref.number == 41


def test_reused_reference_with_other_content_names_the_differences(
    ledger_db: Database, tmp_path: Path
) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    issuer = make_issuer()
    first = issue(ledger_db, issuer, request("INV-7", amount="10.00"))
    with pytest.raises(ReusedReference) as caught:
        issue(ledger_db, issuer, request("INV-7", amount="11.00", payer="别的公司"))
    assert str(caught.value) == (
        f"client reference INV-7 was issued as {first.ref} with different content: "
        "items[1].amount: '10.00' ≠ '11.00'; payer.name: '宁夏贺兰山实业有限公司' ≠ '别的公司'"
    )


def test_stock_exhausted_takes_nothing(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=2)
    issuer = make_issuer()
    with pytest.raises(StockExhausted, match="has 2 free number"):
        list(issue_batch(ledger_db, issuer, [request(f"X{n}") for n in range(3)]))
    outcomes = issue_batch(ledger_db, issuer, [request("A"), request("B")])
    assert [o.ref.number for o in outcomes] == [1, 2]


def test_reversal(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    issuer = make_issuer()
    original = issue(ledger_db, issuer, request(amount="1409.50"))
    red = reverse(ledger_db, issuer, original.ref, "交款人名称开具错误", "张晓梅", "李建国")
    assert red.ref.number == 2 and red.total == "-1409.50"
    with ledger_db.read() as session:
        row = session.get(ReceiptRow, (red.ref.code, red.ref.number))
        assert row is not None
        receipt = parse_receipt_xml(row.xml)
    assert receipt.kind is ReceiptKind.REVERSAL and receipt.original == original.ref
    assert receipt.capitals == "负壹仟肆佰零玖元伍角整"
    with pytest.raises(AlreadyReversed, match="was already reversed by"):
        reverse(ledger_db, issuer, original.ref, "again", "张晓梅", "李建国")
    with pytest.raises(AlreadyReversed, match="is a red receipt"):
        reverse(ledger_db, issuer, red.ref, "again", "张晓梅", "李建国")
    with pytest.raises(InvalidInput, match="was not issued by 640100"):
        reverse(ledger_db, issuer, ReceiptRef(original.ref.code, 9), "x", "a", "b")


def test_allocation_import_is_idempotent_and_checked(ledger_db: Database, tmp_path: Path) -> None:
    document = stock_city(ledger_db, tmp_path, count=50)
    pki = tier_pki()
    allocation, new = import_allocation(ledger_db, document, pki.validator(), "640100", None)
    assert not new and allocation.label.endswith(":1-50")
    with pytest.raises(InvalidInput, match="is for 640100, not 640104"):
        import_allocation(ledger_db, document, pki.validator(), "640104", None)
    tampered = document.replace(b"<Last>0000000050</Last>", b"<Last>0000000900</Last>")
    with pytest.raises(Exception, match="digest-mismatch"):
        import_allocation(ledger_db, tampered, pki.validator(), "640100", None)
    usage = segment_usage(ledger_db)
    assert [(u.first, u.last, u.free) for u in usage] == [(1, 50, 50)]


def test_nothing_is_issued_into_a_closed_period(ledger_db: Database, tmp_path: Path) -> None:
    from datetime import datetime

    from receipts.issuing.issue import PeriodClosed
    from receipts.issuing.periods import close_period
    from tests.support.ledger import SHANGHAI

    stock_city(ledger_db, tmp_path, count=10)
    issuer = make_issuer()
    first = issue(ledger_db, issuer, request())
    month = datetime.now(SHANGHAI).strftime("%Y-%m")
    assert close_period(ledger_db, month, month, None, force=True)
    assert not close_period(ledger_db, month, month, None, force=True)
    with pytest.raises(PeriodClosed, match=f"period {month} is closed"):
        issue(ledger_db, issuer, request())
    with pytest.raises(PeriodClosed, match=f"period {month} is closed"):
        reverse(ledger_db, issuer, first.ref, "x", "a", "b")
