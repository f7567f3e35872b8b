"""``receipts verify`` and the time-stamp tolerance (docs/security.md, "Time-stamps"): the
default outside a workspace, the workspace's ``[tsa] tolerance_hours`` inside one, and
``--tolerance-hours`` over both, refused in one line when it is not a sensible number."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from cli import main
from receipts.issuing.issue import issue_batch
from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from receipts.ledger.models import ReceiptRow
from receipts.tsa.authority import serial_log
from receipts.tsa.stamping import local_stamper, stamp_pending, stamped_xml, tokens_for
from signing.keys import generate_key
from signing.timestamp_authority import TimeStampAuthority
from signing.tsa_certificate import issue_tsa_certificate
from tests.support.ledger import SHANGHAI, fixed_clock, make_issuer, request, stock_city
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation

#: How long before its time-stamp the receipt claims to have been signed.
CLAIMED_EARLIER = timedelta(hours=240)


@pytest.fixture(scope="module")
def stamped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A receipt signed ten days before its time-stamp, the trust bundle, and a workspace."""
    tmp = tmp_path_factory.mktemp("tolerance")
    db = Database(f"sqlite:///{tmp / 'ledger.sqlite'}")
    initialise(db, "640100")
    now = datetime.now(UTC).replace(microsecond=0)
    signed_at = now - CLAIMED_EARLIER
    for year in sorted({now.astimezone(SHANGHAI).year, signed_at.astimezone(SHANGHAI).year}):
        folder = tmp / str(year)
        folder.mkdir()
        stock_city(db, folder, count=10, year=year)
    list(issue_batch(db, make_issuer(clock=fixed_clock(signed_at)), [request("T1")]))
    pki = tier_pki()
    key = generate_key()
    cert = issue_tsa_certificate(pki.prov_ca, pki.prov_ca_key, key.public_key())
    authority = TimeStampAuthority(key, [cert, pki.prov_ca], record=serial_log(db))
    outcome = stamp_pending(db, local_stamper(authority), pki.validator(), pki.signers["640100"])
    assert (outcome.stamped, outcome.left) == (1, 0)
    with db.read() as session:
        row = session.scalars(select(ReceiptRow)).one()
        xml = stamped_xml(row.xml, tokens_for(session, [(row.code, row.number)])[(row.code, 1)])
    db.dispose()
    receipt = tmp / "stamped.xml"
    receipt.write_bytes(xml)
    bundle = tmp / "bundle.pem"
    bundle.write_bytes(pki.bundle.to_pem())
    home = tmp / "ws"
    federation(home, "640100")
    return {"receipt": receipt, "bundle": bundle, "home": home, "nowhere": tmp / "no-workspace"}


def _verify(home: Path, receipt: Path, bundle: Path, *extra: str) -> Result:
    args = ["--home", str(home), "--json", "verify", str(receipt), "--trust", str(bundle)]
    return CliRunner().invoke(main, [*args, *extra], catch_exceptions=False)


def _codes(result: Result) -> list[str]:
    return [f["code"] for entry in json.loads(result.stdout) for f in entry["findings"]]


def _set_tolerance(home: Path, hours: str) -> None:
    config = home / "receipts.toml"
    text = config.read_text("utf-8").split("\n[tsa]\n")[0]
    config.write_text(f"{text}\n[tsa]\ntolerance_hours = {hours}\n", "utf-8")


def test_outside_a_workspace_the_default_tolerance_holds(stamped: dict[str, Path]) -> None:
    result = _verify(stamped["nowhere"], stamped["receipt"], stamped["bundle"])
    assert result.exit_code == 0, result.output  # ten days is within 45
    tight = _verify(
        stamped["nowhere"], stamped["receipt"], stamped["bundle"], "--tolerance-hours", "24"
    )
    assert tight.exit_code == 1, tight.output
    assert _codes(tight) == ["signing-time-backdated"]


def test_a_workspace_verifies_with_its_own_tolerance_and_the_option_overrides_it(
    stamped: dict[str, Path],
) -> None:
    home = stamped["home"]
    _set_tolerance(home, "24")
    try:
        inside = _verify(home, stamped["receipt"], stamped["bundle"])
        assert inside.exit_code == 1, inside.output
        assert _codes(inside) == ["signing-time-backdated"]
        wider = _verify(home, stamped["receipt"], stamped["bundle"], "--tolerance-hours", "300")
        assert wider.exit_code == 0, wider.output
        _set_tolerance(home, "300")
        assert _verify(home, stamped["receipt"], stamped["bundle"]).exit_code == 0
        narrower = _verify(home, stamped["receipt"], stamped["bundle"], "--tolerance-hours", "1.5")
        assert _codes(narrower) == ["signing-time-backdated"]
    finally:
        _set_tolerance(home, "1080")


@pytest.mark.parametrize("bad", ["0", "-3", "abc", "nan", "inf", "8785", ""])
def test_a_bad_tolerance_is_one_clear_error(stamped: dict[str, Path], bad: str) -> None:
    result = _verify(
        stamped["nowhere"], stamped["receipt"], stamped["bundle"], "--tolerance-hours", bad
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--tolerance-hours" in lines[0], result.stderr
    assert result.stdout == ""
