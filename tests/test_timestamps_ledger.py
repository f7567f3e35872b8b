"""Time-stamps kept beside receipts in the ledger, on SQLite and PostgreSQL: stamping what the
next package carries, the ``receipt.timestamped`` events (signed into the chain head, so the
audit stays clean), and a receipt issued 40 days ago and stamped today reported as backdated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, select, update

from receipts.audit import audit
from receipts.domain.model import Item
from receipts.issuing.issue import issue_batch
from receipts.ledger.database import Database
from receipts.ledger.models import Event, ReceiptRow
from receipts.ledger.timestamp_models import ReceiptTimestampRow
from receipts.tsa.authority import serial_log
from receipts.tsa.stamping import local_stamper, stamp_pending, stamped_xml, tokens_for
from receipts.verify.receipt import verify_receipt_xml
from signing.keys import generate_key
from signing.timestamp_authority import TimeStampAuthority
from signing.tsa_certificate import issue_tsa_certificate
from tests.support.ledger import (
    SHANGHAI,
    audit_trust,
    fixed_clock,
    make_issuer,
    request,
    stock_city,
)
from tests.support.tier_pki import tier_pki


def _authority(db: Database) -> TimeStampAuthority:
    pki = tier_pki()
    key = generate_key()
    cert = issue_tsa_certificate(pki.prov_ca, pki.prov_ca_key, key.public_key())
    return TimeStampAuthority(key, [cert, pki.prov_ca], record=serial_log(db))


def test_pending_receipts_are_stamped_once_and_kept_beside_them(
    ledger_db: Database, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    earlier = now - timedelta(days=60)  # well beyond the 45-day tolerance
    for year in sorted({now.astimezone(SHANGHAI).year, earlier.astimezone(SHANGHAI).year}):
        folder = tmp_path / str(year)
        folder.mkdir()
        stock_city(ledger_db, folder, year=year)
    period = earlier.astimezone(SHANGHAI).strftime("%Y-%m")
    item = (Item("01", "工会经费(拨缴)", period, Decimal("88.00")),)
    fresh = list(
        issue_batch(ledger_db, make_issuer(clock=fixed_clock(now)), [request("F1", items=item)])
    )
    old = list(
        issue_batch(ledger_db, make_issuer(clock=fixed_clock(earlier)), [request("O1", items=item)])
    )
    pki = tier_pki()
    stamper = local_stamper(_authority(ledger_db))
    signer = pki.signers["640100"]
    outcome = stamp_pending(ledger_db, stamper, pki.validator(), signer)
    assert (outcome.stamped, outcome.left, outcome.problem) == (2, 0, None)
    again = stamp_pending(ledger_db, stamper, pki.validator(), signer)
    assert (again.stamped, again.left) == (0, 0)
    with ledger_db.read() as session:
        rows = {(r.code, r.number): r for r in session.scalars(select(ReceiptTimestampRow))}
        events = [
            json.loads(e.payload)
            for e in session.scalars(select(Event).where(Event.kind == "receipt.timestamped"))
        ]
        receipts = {(r.code, r.number): r for r in session.scalars(select(ReceiptRow))}
        tokens = tokens_for(session, receipts)
    assert len(rows) == len(events) == 2
    assert {(e["code"], e["number"]) for e in events} == set(rows)
    assert all(rows[(e["code"], e["number"])].token_digest == e["token"] for e in events)
    old_digests = {o.digest for o in old}
    assert len(old_digests) == 1 and len(fresh) == 1
    for key, row in receipts.items():
        stamped = stamped_xml(row.xml, tokens[key])
        result = verify_receipt_xml(stamped, pki.validator())
        assert result.digest == row.digest  # the receipt as issued, not the stamped file
        if row.digest in old_digests:
            assert [f.code for f in result.findings] == ["signing-time-backdated"]
        else:
            assert result.valid, result.findings
            assert result.timestamped_at is not None
    report = audit(ledger_db, "640100", audit_trust())
    assert not report.findings, report.findings


def test_the_audit_catches_a_time_stamp_row_edited_outside_the_ledger(
    ledger_db: Database, tmp_path: Path
) -> None:
    stock_city(ledger_db, tmp_path)
    now = datetime.now(UTC).replace(microsecond=0)
    period = now.astimezone(SHANGHAI).strftime("%Y-%m")
    item = (Item("01", "工会经费(拨缴)", period, Decimal("8.00")),)
    issuer = make_issuer(clock=fixed_clock(now))
    list(issue_batch(ledger_db, issuer, [request("A", items=item), request("B", items=item)]))
    pki = tier_pki()
    stamper = local_stamper(_authority(ledger_db))
    stamp_pending(ledger_db, stamper, pki.validator(), pki.signers["640100"])
    assert not audit(ledger_db, "640100", audit_trust()).findings
    with ledger_db.engine.begin() as connection:
        first, second = connection.execute(
            select(ReceiptTimestampRow.code, ReceiptTimestampRow.number).order_by(
                ReceiptTimestampRow.number
            )
        ).all()
        # An insider swaps the first receipt's token for the second's, and deletes the second.
        other = connection.execute(
            select(ReceiptTimestampRow.token).where(ReceiptTimestampRow.number == second.number)
        ).scalar_one()
        connection.execute(
            update(ReceiptTimestampRow)
            .where(ReceiptTimestampRow.number == first.number)
            .values(token=other)
        )
        connection.execute(
            delete(ReceiptTimestampRow).where(ReceiptTimestampRow.number == second.number)
        )
    codes = [f.code for f in audit(ledger_db, "640100", audit_trust()).findings]
    assert codes == ["timestamp-mismatch", "timestamp-mismatch"]
