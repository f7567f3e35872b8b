"""Time-stamps asked for right after issuing, with ``[tsa] stamp_at_issue = true``
(docs/operations.md, "Running the time-stamp authority"): the product's own authority served on
a loopback port stamps each receipt of ``receipts issue``, ``issue --batch`` and ``reverse``;
an authority that cannot be reached never stops issuing (a warning, the receipts unstamped) and
``receipts tsa stamp`` catches up later."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import func, select

from receipts.ledger.database import Database, default_url
from receipts.ledger.models import ReceiptRow
from receipts.ledger.timestamp_models import ReceiptTimestampRow
from receipts.tsa.http import tsa_app
from receipts.tsa.stamping import stamped_xml
from receipts.verify.receipt import verify_receipt_xml
from signing.keys import generate_key
from signing.timestamp_authority import TimeStampAuthority
from signing.tsa_certificate import issue_tsa_certificate
from tests.support import tier_node
from tests.support.tier_node import free_port
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation, ok, receipts

ISSUE = [*tier_node.ISSUE, "--item", "01:2026-10:100.00"]
HEADER = "client_ref,payer_name,payer_kind,payer_uscc,item_code,period,amount,handler,reviewer\n"


@contextlib.contextmanager
def tsa_thread(port: int) -> Iterator[str]:
    """``receipts tsa serve``'s app (an authority certified by the province's CA) on ``port``;
    its URL."""
    pki = tier_pki()
    key = generate_key()
    cert = issue_tsa_certificate(pki.prov_ca, pki.prov_ca_key, key.public_key())
    authority = TimeStampAuthority(key, [cert, pki.prov_ca])
    server = uvicorn.Server(
        uvicorn.Config(tsa_app(authority), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the TSA did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/tsa"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def city(tmp_path: Path) -> Path:
    prov, home = tmp_path / "640000", tmp_path / "640100"
    federation(prov, "640000")
    federation(home, "640100")
    ok(prov, "org", "add", "--code", "640100")
    alloc = tmp_path / "alloc.xml"
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(alloc))
    ok(home, "stock", "import", str(alloc))
    return home


def _configure(home: Path, table: str) -> None:
    with (home / "receipts.toml").open("a", encoding="utf-8") as fh:
        fh.write(f"\n[tsa]\n{table}\n")


def _counts(home: Path) -> tuple[int, int]:
    """(receipts, time-stamps) in the ledger."""
    db = Database(default_url(home))
    try:
        with db.read() as session:
            issued = session.scalar(select(func.count()).select_from(ReceiptRow)) or 0
            stamps = session.scalar(select(func.count()).select_from(ReceiptTimestampRow)) or 0
            return issued, stamps
    finally:
        db.dispose()


def _all_stamped_verify(home: Path) -> None:
    db = Database(default_url(home))
    try:
        with db.read() as session:
            rows = {(r.code, r.number): r.xml for r in session.scalars(select(ReceiptRow))}
            tokens = {
                (t.code, t.number): t.token for t in session.scalars(select(ReceiptTimestampRow))
            }
    finally:
        db.dispose()
    assert set(tokens) == set(rows)
    for key, xml in rows.items():
        checked = verify_receipt_xml(stamped_xml(xml, tokens[key]), tier_pki().validator())
        assert checked.valid and checked.timestamped_at is not None, checked.findings


def test_issuing_stamps_each_receipt_after_it_committed(city: Path, tmp_path: Path) -> None:
    with tsa_thread(free_port()) as url:
        _configure(city, f'url = "{url}"\nstamp_at_issue = true')
        one = receipts(city, "--json", *ISSUE, "--payer-name", "银川企业甲")
        assert (one.exit_code, one.stderr) == (0, ""), one.output
        assert _counts(city) == (1, 1)
        batch = tmp_path / "batch.csv"
        rows = "".join(
            f"B{n},乙公司{n},enterprise,91640100MA7600001J,01,2026-10,{10 + n}.00,张晓梅,李建国\n"
            for n in range(3)
        )
        batch.write_text(HEADER + rows, encoding="utf-8")
        many = receipts(city, "issue", "--batch", str(batch), "--workers", "1")
        assert (many.exit_code, many.stderr) == (0, ""), many.output
        assert _counts(city) == (4, 4)
        # A rerun issues nothing again, and asks for nothing.
        again = receipts(city, "issue", "--batch", str(batch), "--workers", "1")
        assert (again.exit_code, again.stderr) == (0, ""), again.output
        assert _counts(city) == (4, 4)
        # A red receipt is issued too: it is stamped the same way.
        first = json.loads(one.stdout)[0]
        red = receipts(
            city,
            "reverse",
            first["code"],
            first["number"],
            "--reason",
            "开错了",
            "--handler",
            "张晓梅",
            "--reviewer",
            "李建国",
        )
        assert (red.exit_code, red.stderr) == (0, ""), red.output
        assert _counts(city) == (5, 5)
    _all_stamped_verify(city)
    assert receipts(city, "audit").exit_code == 0


def test_an_unreachable_authority_never_stops_issuing(city: Path) -> None:
    port = free_port()  # nobody listens there yet
    _configure(
        city, f'url = "http://127.0.0.1:{port}/tsa"\nstamp_at_issue = true\ntimeout_seconds = 5'
    )
    issued = receipts(city, *ISSUE, "--payer-name", "银川企业乙")
    assert issued.exit_code == 0, issued.output
    assert "0000000001" in issued.stdout
    warning = issued.stderr.splitlines()
    assert len(warning) == 1 and warning[0].startswith(
        "warning: 1 receipt(s) issued without a time-stamp"
    )
    assert "cannot be reached" in warning[0] and "receipts tsa stamp" in warning[0]
    assert _counts(city) == (1, 0)
    with tsa_thread(port):
        caught_up = receipts(city, "tsa", "stamp")
        assert caught_up.exit_code == 0, caught_up.output
        assert "time-stamped 1 receipt(s); 0 left" in caught_up.stdout
    assert _counts(city) == (1, 1)
    _all_stamped_verify(city)
    assert receipts(city, "audit").exit_code == 0


def test_without_stamp_at_issue_issuing_asks_for_nothing(city: Path) -> None:
    with tsa_thread(free_port()) as url:
        _configure(city, f'url = "{url}"')
        issued = receipts(city, *ISSUE, "--payer-name", "银川企业丙")
        assert (issued.exit_code, issued.stderr) == (0, ""), issued.output
    assert _counts(city) == (1, 0)


def test_stamp_at_issue_without_an_authority_is_a_warning(city: Path) -> None:
    _configure(city, "stamp_at_issue = true")
    issued = receipts(city, *ISSUE, "--payer-name", "银川企业丁")
    assert issued.exit_code == 0, issued.output
    assert "no [tsa] url nor an authority here" in issued.stderr
    assert _counts(city) == (1, 0)


def test_a_wrong_stamp_at_issue_stops_before_a_number_is_taken(city: Path) -> None:
    _configure(city, 'stamp_at_issue = "yes"')
    refused = receipts(city, *ISSUE, "--payer-name", "银川企业戊")
    assert refused.exit_code == 2, refused.output
    assert refused.stderr == "error: [tsa] stamp_at_issue must be true or false\n"
    assert _counts(city) == (0, 0)
