"""``receipts ledger detach-year`` (issue 19, item 2): a past year leaves a PostgreSQL ledger's
receipts tables only once verified archives hold every one of its receipts; the partitions are
kept as plain tables, an event records it, and the audit then holds the ledger intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from receipts.domain.model import Item
from receipts.issuing.issue import issue_batch
from receipts.ledger.database import Database
from signing.certificate_profile import CLOCK_SKEW
from tests.support.ledger import SHANGHAI, fixed_clock, make_issuer, request
from tests.support.postgres import PgSchemas
from tests.support.tier_pki import tier_pki, tier_pki_start, tier_signer_end
from tests.support.workspaces import federation, receipts, stocked_city


def _last_year(now: datetime) -> tuple[datetime, datetime]:
    """A day in each of last year's last two months, as of ``now``: inside the tier PKI's
    certificates on every day of the year (tests/support/tier_pki.py; checked below)."""
    past = now.astimezone(SHANGHAI).year - 1
    return datetime(past, 11, 10, 9, tzinfo=SHANGHAI), datetime(past, 12, 10, 9, tzinfo=SHANGHAI)


NOW = datetime.now(SHANGHAI).year
PAST = NOW - 1
EARLY, LATE = _last_year(datetime.now(UTC))


def _run(home: Path, url: str, *args: str) -> Any:
    result = receipts(home, "--json", *args, db=url)
    assert result.exit_code == 0, f"{args}: {result.output}"
    return json.loads(result.output) if result.output.strip() else None


def _refused(home: Path, url: str, *args: str) -> str:
    result = receipts(home, *args, db=url)
    assert result.exit_code != 0, result.output
    return result.output


def _issue(db: Database, when: datetime, ref: str) -> str:
    item = Item("01", "工会经费(拨缴)", when.strftime("%Y-%m"), Decimal("100.00"))
    (issued,) = issue_batch(db, make_issuer(clock=fixed_clock(when)), [request(ref, items=(item,))])
    return f"{issued.ref.code}-{issued.ref.number:010d}"


def _archive(home: Path, url: str, month: str, output: Path) -> Path:
    _run(home, url, "period", "close", month)
    _run(home, url, "archive", "create", "--period", month, "-o", str(output))
    return output


@pytest.fixture
def ledger(pg_schemas: PgSchemas, tmp_path: Path) -> dict[str, Any]:
    """640100 on PostgreSQL: a receipt in November and one in December of last year (November
    archived), and one this year."""
    url = pg_schemas.new()
    home = stocked_city(tmp_path, (PAST, NOW), db=url)
    db = Database(url)
    early = _issue(db, EARLY, "J1")
    late = _issue(db, LATE, "J2")
    current = _issue(db, datetime.now(SHANGHAI), "C1")
    db.dispose()
    early_zip = _archive(home, url, EARLY.strftime("%Y-%m"), tmp_path / "early.zip")
    return {"url": url, "home": home, "tmp": tmp_path, "early_zip": early_zip,
            "receipts": (early, late, current)}  # fmt: skip


def test_a_year_is_detached_only_when_its_archives_hold_every_receipt(
    ledger: dict[str, Any],
) -> None:
    home, url, tmp = ledger["home"], ledger["url"], ledger["tmp"]
    early, late, current = ledger["receipts"]
    refused = _refused(home, url, "ledger", "detach-year", str(PAST), str(ledger["early_zip"]))
    assert f"receipt {late} of {PAST}" in refused and "in no archive given" in refused
    late_zip = _archive(home, url, LATE.strftime("%Y-%m"), tmp / "late.zip")
    tampered = tmp / "tampered.zip"
    tampered.write_bytes(late_zip.read_bytes()[:-40] + b"\0" * 40)
    refused = _refused(
        home, url, "ledger", "detach-year", str(PAST), str(ledger["early_zip"]), str(tampered)
    )
    assert "does not verify" in refused
    assert "not over" in _refused(
        home, url, "ledger", "detach-year", str(NOW), str(ledger["early_zip"])
    )

    done = _run(
        home, url, "ledger", "detach-year", str(PAST), str(ledger["early_zip"]), str(late_zip)
    )
    assert done["receipts"] == 2
    assert done["tables"] == [f"receipts_{PAST}_detached", f"receipt_items_{PAST}_detached"]
    listed = _run(home, url, "ledger", "partitions")
    assert PAST not in [p["year"] for p in listed] and NOW in [p["year"] for p in listed]
    db = Database(url)
    with db.engine.connect() as conn:
        kept = conn.execute(
            text(f"SELECT code || '-' || lpad(number::text, 10, '0') FROM receipts_{PAST}_detached")
        ).scalars()
        assert sorted(kept) == sorted([early, late])
        left = conn.execute(text("SELECT count(*) FROM receipts")).scalar_one()
        assert left == 1
        (payload,) = conn.execute(
            text("SELECT payload FROM events WHERE kind = 'ledger.year_detached'")
        ).scalars()
    db.dispose()
    assert json.loads(payload)["year"] == PAST

    audit = _run(home, url, "audit")
    assert audit["ok"], audit["findings"]
    assert any(f"detached year(s) {PAST}" in note for note in audit["notes"])
    # this year's receipt is looked up as before; a detached one is no longer in this ledger
    code, number = current.split("-")
    shown = receipts(home, "--json", "show", code, str(int(number)), db=url)
    assert shown.exit_code == 0, shown.output
    again = _refused(
        home, url, "ledger", "detach-year", str(PAST), str(ledger["early_zip"]), str(late_zip)
    )
    assert f"no partition receipts_{PAST} to detach" in again


def test_the_audit_still_finds_a_receipt_deleted_before_its_year_was_detached(
    ledger: dict[str, Any],
) -> None:
    """Detaching checks the events, not only the rows: a row deleted behind the ledger's back is
    not in the archive made after, and the year stays."""
    home, url, tmp = ledger["home"], ledger["url"], ledger["tmp"]
    _early, late, _current = ledger["receipts"]
    code, number = late.split("-")
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(
            text("DELETE FROM receipt_items WHERE code = :c AND number = :n"),
            {"c": code, "n": int(number)},
        )
        conn.execute(
            text("DELETE FROM receipts WHERE code = :c AND number = :n"),
            {"c": code, "n": int(number)},
        )
    db.dispose()
    late_zip = _archive(home, url, LATE.strftime("%Y-%m"), tmp / "late.zip")
    refused = _refused(
        home, url, "ledger", "detach-year", str(PAST), str(ledger["early_zip"]), str(late_zip)
    )
    assert f"receipt {late} of {PAST} (event)" in refused


def test_last_years_dates_are_inside_the_tier_pki_on_every_day_of_the_year() -> None:
    """The PKI once started 400 days back, and from mid-December to the new year the tests above
    skipped. Every hour of a common and a leap year, both sides of Shanghai's new year: last
    November and December are inside the receipt signers' certificates, which outlast the run by
    more than the 90 days of the expiry warnings."""
    hour = datetime(2027, 1, 1, tzinfo=UTC)
    while hour < datetime(2029, 1, 1, 1, tzinfo=UTC):
        early, late = _last_year(hour)
        start, end = tier_pki_start(hour) - CLOCK_SKEW, tier_signer_end(hour)
        assert start <= early < late < hour < end - timedelta(days=90), hour
        hour += timedelta(hours=1)
    # and they are the PKI the tests sign with
    certificate = tier_pki().signers["640100"].certificate
    now = datetime.now(UTC)
    assert certificate.not_valid_before_utc == tier_pki_start(now) - CLOCK_SKEW
    assert certificate.not_valid_after_utc == tier_signer_end(now)


def test_a_sqlite_ledger_has_no_year_to_detach(tmp_path: Path) -> None:
    home = tmp_path / "yc"
    federation(home, "640100")
    zip_file = tmp_path / "none.zip"
    zip_file.write_bytes(b"PK")
    result = receipts(home, "ledger", "detach-year", str(PAST), str(zip_file))
    assert result.exit_code != 0
    assert "only a PostgreSQL ledger is partitioned" in result.output
