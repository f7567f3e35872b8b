"""Issuing refuses, before taking a number, when the workspace's own signing certificate cannot
sign: revoked in a CRL it holds, expired or not yet valid at the issue time, or no longer
chained to its trust bundle. Single issue, batch and reversal alike; nothing is taken."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from receipts.domain.model import ReceiptRef
from receipts.domain.signed_documents import chain_validator
from receipts.issuing.issue import Issuer, issue, issue_batch, reverse
from receipts.issuing.own_certificate import UnusableCertificate
from receipts.ledger.database import Database
from receipts.ledger.models import ChainHead, Event, NumberCounter, ReceiptRow
from signing.certificates import create_root_ca
from signing.crl import Revocation, RevocationReason, build_crl
from signing.keys import generate_key
from signing.trust import ChainValidator, TrustBundle
from tests.support.ledger import make_issuer, request, stock_city
from tests.support.pki_cli import CA, Tiers, certs_in, ok, refused
from tests.support.tier_pki import tier_pki


def _ledger_facts(db: Database) -> dict[str, Any]:
    """What issuing changes: receipts, events, heads and the number counters."""
    with db.read() as session:
        counts = {
            table.__name__: session.scalar(select(func.count()).select_from(table))
            for table in (ReceiptRow, Event, ChainHead)
        }
        counters = sorted(
            (c.issuer, c.code, c.last_number) for c in session.scalars(select(NumberCounter))
        )
    return {**counts, "counters": counters}


def _city_revoked(at: datetime) -> ChainValidator:
    """The test trust bundle plus the provincial CA's CRL revoking 640100's certificate."""
    pki = tier_pki()
    city = pki.signers["640100"].certificate
    crl = build_crl(
        pki.prov_ca,
        pki.prov_ca_key,
        [Revocation(city.serial_number, at, RevocationReason.KEY_COMPROMISE)],
        at,
        at + timedelta(days=7),
    )
    return chain_validator(TrustBundle.of(pki.bundle.certificates, [crl]))


def _attempts(db: Database, issuer: Issuer) -> dict[str, Callable[[], object]]:
    return {
        "issue": lambda: issue(db, issuer, request("ONE")),
        "batch": lambda: list(issue_batch(db, issuer, [request(f"B{n}") for n in range(40)])),
        "reverse": lambda: reverse(db, issuer, _first(db), "开错了", "张晓梅", "李建国"),
    }


def _first(db: Database) -> ReceiptRef:
    with db.read() as session:
        row = session.scalars(select(ReceiptRow).order_by(ReceiptRow.number)).first()
        assert row is not None
        return ReceiptRef(row.code, row.number)


def _refused_and_nothing_taken(db: Database, issuer: Issuer, expect: str) -> None:
    before = _ledger_facts(db)
    for name, attempt in _attempts(db, issuer).items():
        with pytest.raises(UnusableCertificate) as caught:
            attempt()
        message = str(caught.value)
        assert message.startswith("the signing certificate cannot sign: certificate of 640100")
        assert expect in message and "nothing was issued" in message, (name, message)
        assert caught.value.exit_code == 2
        assert _ledger_facts(db) == before, name


def test_revoked_certificate_issues_nothing(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=100)
    issue(ledger_db, make_issuer(), request("BEFORE"))  # signs while the certificate is good
    revoked_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    issuer = make_issuer(trust=_city_revoked(revoked_at))
    _refused_and_nothing_taken(ledger_db, issuer, "was revoked (key-compromise) as of")


def test_a_revocation_dated_later_does_not_stop_issuing_yet(
    ledger_db: Database, tmp_path: Path
) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    outcome = issue(ledger_db, make_issuer(trust=_city_revoked(later)), request())
    assert outcome.ref.number == 1


def test_expired_certificate_issues_nothing(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    issue(ledger_db, make_issuer(), request("BEFORE"))
    expiry = tier_pki().signers["640100"].certificate.not_valid_after_utc
    issuer = make_issuer(clock=lambda: expiry + timedelta(days=1))
    _refused_and_nothing_taken(ledger_db, issuer, "expired on")


def test_not_yet_valid_certificate_issues_nothing(ledger_db: Database, tmp_path: Path) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    issue(ledger_db, make_issuer(), request("BEFORE"))
    start = tier_pki().signers["640100"].certificate.not_valid_before_utc
    issuer = make_issuer(clock=lambda: start - timedelta(days=1))
    _refused_and_nothing_taken(ledger_db, issuer, "is valid only from")


def test_certificate_outside_the_trust_bundle_issues_nothing(
    ledger_db: Database, tmp_path: Path
) -> None:
    stock_city(ledger_db, tmp_path, count=10)
    issue(ledger_db, make_issuer(), request("BEFORE"))
    other_root = create_root_ca(generate_key(), "另一个根")
    issuer = make_issuer(trust=chain_validator(TrustBundle.of([other_root])))
    _refused_and_nothing_taken(ledger_db, issuer, "does not chain to a trusted root")


_ISSUE = (
    "issue",
    "--payer-name",
    "宁夏贺兰山实业有限公司",
    "--payer-kind",
    "enterprise",
    "--payer-uscc",
    "91640100MA7600001J",
    "--item",
    "01:2026-10:100.00",
    "--handler",
    "张晓梅",
    "--reviewer",
    "李建国",
)


def test_cli_refuses_once_the_province_revokes_the_city(pki_tiers_copy: Tiers) -> None:
    t = pki_tiers_copy
    ok(t.prov, "org", "add", "--code", "640100")
    alloc = t.file("alloc.xml")
    ok(t.prov, "stock", "allocate", "--to", "640100", "--count", "10", "-o", str(alloc))
    ok(t.city, "stock", "import", str(alloc))
    [first] = json.loads(ok(t.city, "--json", *_ISSUE).stdout)
    batch = t.file("batch.csv")
    batch.write_text(
        "client_ref,payer_name,payer_kind,payer_uscc,item_code,period,amount,handler,reviewer\n"
        "B1,甲公司,enterprise,91640100MA7600001J,01,2026-10,100.00,张晓梅,李建国\n",
        encoding="utf-8",
    )
    # The province revokes the city's certificate and publishes a CRL; the city imports it.
    city = certs_in(t.city / "certs" / "signing.pem")[0]
    ok(t.prov, "pki", "revoke", f"{city.serial_number:x}", "--reason", "key_compromise")
    ok(t.prov, "pki", "crl", "-o", str(t.file("prov.crl")), CA)
    ok(t.prov, "pki", "export-trust", "-o", str(t.file("bundle.pem")))
    ok(t.city, "pki", "import-trust", str(t.file("bundle.pem")))
    ledger = Database(f"sqlite:///{t.city / 'ledger.sqlite'}")
    before = _ledger_facts(ledger)
    for args in (
        _ISSUE,
        ("issue", "--batch", str(batch)),
        (
            "reverse",
            first["code"],
            first["number"],
            "--reason",
            "开错了",
            "--handler",
            "张晓梅",
            "--reviewer",
            "李建国",
        ),
    ):
        line = refused(t.city, *args)
        assert line.startswith("the signing certificate cannot sign: certificate of 640100")
        assert "was revoked (key-compromise)" in line, line
        assert _ledger_facts(ledger) == before, args
    ledger.dispose()
