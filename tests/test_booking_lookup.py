"""What payers' accountants and the public do with a receipt: book it once, look it up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from cli import main
from receipts.ledger.database import default_url
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import ENV, federation, ok, receipts

PAYER_USCC = "91640100MA7600001J"


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    """宁夏, 银川 (three receipts issued, R1 and R2 to the payer) and the payer's workspace, with
    the receipts' XML in r1.xml to r3.xml."""
    return _world(tmp_path)


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``world`` built once, for the tests that change nothing in it: one refuses a booking in
    the payer's workspace, the other looks up in 银川's."""
    return _world(tmp_path_factory.mktemp("booking"))


def _world(tmp_path: Path) -> dict[str, Path]:
    prov, city, payer = tmp_path / "prov", tmp_path / "city", tmp_path / "payer"
    federation(prov, "640000")
    federation(city, "640100")
    ok(prov, "org", "add", "--code", "640100")
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(tmp_path / "a.xml"))
    ok(city, "stock", "import", str(tmp_path / "a.xml"))
    for n, (payer_uscc, amount) in enumerate(
        [(PAYER_USCC, "100.00"), (PAYER_USCC, "200.00"), ("91110000600037341L", "300.00")]
    ):
        ok(
            city,
            "issue",
            "--payer-name",
            "宁夏贺兰山实业有限公司",
            "--payer-kind",
            "enterprise",
            "--payer-uscc",
            payer_uscc,
            "--item",
            f"01:2026-10:{amount}",
            "--handler",
            "甲",
            "--reviewer",
            "乙",
            "--client-ref",
            f"R{n}",
        )
    result = CliRunner(env=ENV).invoke(
        main,
        [
            "--home",
            str(payer),
            "init",
            "--payer",
            "--name",
            "宁夏贺兰山实业有限公司",
            "--uscc",
            PAYER_USCC,
        ],
    )
    assert result.exit_code == 0, result.output
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(tier_pki().bundle.to_pem())
    ok(payer, "pki", "import-trust", str(bundle))
    code = json.loads(ok(city, "--json", "stock", "list"))[0]["segment"][:8]
    for number in (1, 2, 3):
        xml = (
            CliRunner(env=ENV)
            .invoke(main, ["--home", str(city), "show", code, str(number), "--xml"])
            .stdout_bytes
        )
        (tmp_path / f"r{number}.xml").write_bytes(xml)
    return {"city": city, "payer": payer, "tmp": tmp_path, "code": Path(code)}


def test_booking_once_and_the_red_receipt_rules(world: dict[str, Path]) -> None:
    payer, city, tmp, code = world["payer"], world["city"], world["tmp"], str(world["code"])
    out = ok(payer, "book", str(tmp / "r1.xml"), "--voucher", "记-0042", "--by", "王会计")
    assert out == f"booked {code}-0000000001 (100.00) under voucher 记-0042\n"
    again = receipts(payer, "book", str(tmp / "r1.xml"), "--voucher", "记-0043", "--by", "李会计")
    assert again.exit_code == 1
    assert again.stderr.startswith(
        f"error: receipt {code}-0000000001 was booked already by 王会计 on "
    )
    assert again.stderr.endswith(" UTC under voucher 记-0042\n")
    other = receipts(payer, "book", str(tmp / "r3.xml"), "--voucher", "记-1", "--by", "王会计")
    assert other.exit_code == 1 and "not to this payer (91640100MA7600001J)" in other.stderr
    # 冲红 at the issuer; the red receipt books as a negative entry against its original.
    ok(city, "reverse", code, "1", "--reason", "金额有误", "--handler", "甲", "--reviewer", "乙")
    red = CliRunner(env=ENV).invoke(main, ["--home", str(city), "show", code, "4", "--xml"])
    (tmp / "red.xml").write_bytes(red.stdout_bytes)
    out = ok(payer, "book", str(tmp / "red.xml"), "--voucher", "记-0050", "--by", "王会计")
    assert out == f"booked {code}-0000000004 (-100.00) under voucher 记-0050\n"
    # An original whose red receipt is held here cannot be booked (after undoing both).
    ok(payer, "book", "--undo", code, "4", "--by", "王会计", "--reason", "测试")
    ok(payer, "book", "--undo", code, "1", "--by", "王会计", "--reason", "测试")
    rebook = receipts(payer, "book", str(tmp / "r1.xml"), "--voucher", "记-0060", "--by", "王会计")
    assert rebook.exit_code == 1
    assert f"was reversed by {code}-0000000004, which this payer holds" in rebook.stderr
    # A red receipt whose original is not booked here is refused.
    ok(city, "reverse", code, "2", "--reason", "重复", "--handler", "甲", "--reviewer", "乙")
    red2 = CliRunner(env=ENV).invoke(main, ["--home", str(city), "show", code, "5", "--xml"])
    (tmp / "red2.xml").write_bytes(red2.stdout_bytes)
    lone = receipts(payer, "book", str(tmp / "red2.xml"), "--voucher", "记-9", "--by", "王会计")
    assert lone.exit_code == 1 and "which is not booked here" in lone.stderr
    listing = json.loads(ok(payer, "--json", "book", "--list"))
    assert [(b["receipt"][-2:], b["amount"], b["status"]) for b in listing] == [
        ("01", "100.00", "undone"),
        ("04", "-100.00", "undone"),
    ]
    assert receipts(payer, "audit").exit_code == 0


def test_tampered_receipt_is_not_booked(shared_world: dict[str, Path]) -> None:
    payer, tmp = shared_world["payer"], shared_world["tmp"]
    data = (tmp / "r2.xml").read_bytes().replace(b">200.00<", b">20.00<")
    (tmp / "bad.xml").write_bytes(data)
    result = receipts(payer, "book", str(tmp / "bad.xml"), "--voucher", "v", "--by", "x")
    assert result.exit_code == 1
    assert "not booked, the receipt is invalid" in result.stderr


def test_lookup_answers_the_same_for_a_wrong_check_code(shared_world: dict[str, Path]) -> None:
    city, code = shared_world["city"], str(shared_world["code"])
    shown = json.loads(ok(city, "--json", "show", code, "2"))
    right = json.loads(
        ok(city, "--json", "lookup", code, "2", shown["check_code"], "--amount", "200.00")
    )
    assert right == {
        "found": True,
        "message": f"receipt {code}-0000000002 is issued",
        "status": "issued",
        "total": "200.00",
        "issued_on": right["issued_on"],
    }
    wrong_code = receipts(city, "--json", "lookup", code, "2", "zzzzzz")
    missing = receipts(city, "--json", "lookup", code, "19", "zzzzzz")
    wrong_amount = receipts(
        city, "--json", "lookup", code, "2", shown["check_code"], "--amount", "201.00"
    )
    assert wrong_code.exit_code == missing.exit_code == wrong_amount.exit_code == 1
    assert wrong_code.stdout == missing.stdout == wrong_amount.stdout
    assert json.loads(missing.stdout) == {
        "found": False,
        "message": "no receipt matches these details",
    }


def test_verify_online_checks_the_ledger(world: dict[str, Path]) -> None:
    city, tmp, code = world["city"], world["tmp"], str(world["code"])
    online = json.loads(ok(city, "--json", "verify", str(tmp / "r1.xml"), "--online"))
    assert [(e["valid"], [f["message"] for f in e["findings"]]) for e in online] == [
        (True, ["issued"])
    ]
    ok(city, "reverse", code, "1", "--reason", "金额有误", "--handler", "甲", "--reviewer", "乙")
    human = receipts(city, "verify", str(tmp / "r1.xml"), "--online")
    assert human.exit_code == 1 and human.stdout.startswith("INVALID  ")
    assert f"reversed: {code}-0000000001 was reversed by red receipt {code}-0000000004" in (
        human.stdout
    )
    # A valid receipt this ledger never issued (another federation's) is named as such.
    other = tmp / "other"
    federation(other, "640104")
    elsewhere = receipts(other, "verify", str(tmp / "r1.xml"), "--online")
    assert elsewhere.exit_code == 1
    assert f"not-in-ledger: {code}-0000000001 is not in this ledger" in elsewhere.stdout


def test_a_red_receipt_flags_the_booked_original_until_its_red_voucher(
    world: dict[str, Path],
) -> None:
    payer, city, tmp, code = world["payer"], world["city"], world["tmp"], str(world["code"])
    ok(city, "render", code, "2", "-o", str(tmp / "r2.pdf"))
    ok(city, "reverse", code, "2", "--reason", "金额有误", "--handler", "甲", "--reviewer", "乙")
    ok(city, "render", code, "4", "-o", str(tmp / "red.pdf"))
    # Offline the payer cannot see the reversal: the original books.
    ok(payer, "book", str(tmp / "r2.pdf"), "--voucher", "记-2026-11-0042", "--by", "王会计")
    # The red receipt arrives; received without a voucher, it flags the booked original.
    out = ok(payer, "book", str(tmp / "red.pdf"), "--by", "王会计")
    assert out == (
        f"received red receipt {code}-0000000004, which reverses {code}-0000000002: "
        f"book it with --voucher (the red voucher, 冲红凭证)\n"
    )
    listing = json.loads(ok(payer, "--json", "book", "--list"))
    assert [
        (b["receipt"][-2:], b["status"], b["reversed_by"], b["red_voucher"]) for b in listing
    ] == [("02", "reversed — needs a red voucher", f"{code}-0000000004", None)]
    assert "reversed — needs a red voucher" in ok(payer, "book", "--list")
    # Booking the red receipt under its own voucher is the red voucher.
    ok(payer, "book", str(tmp / "red.pdf"), "--voucher", "记-2026-12-0001", "--by", "王会计")
    listing = json.loads(ok(payer, "--json", "book", "--list"))
    settled = f"reversed by {code}-0000000004, red voucher 记-2026-12-0001"
    assert [(b["receipt"][-2:], b["amount"], b["status"], b["red_voucher"]) for b in listing] == [
        ("02", "200.00", settled, "记-2026-12-0001"),
        ("04", "-200.00", "booked", None),
    ]
    # Undoing the red booking brings the flag back; the log re-derives every row.
    ok(payer, "book", "--undo", code, "4", "--by", "王会计", "--reason", "凭证号有误")
    listing = json.loads(ok(payer, "--json", "book", "--list"))
    assert listing[0]["status"] == "reversed — needs a red voucher"
    assert receipts(payer, "audit").exit_code == 0
    # The flag rests on the held red receipt, which its receive event names: dropping the row
    # to hide the reversal is an audit finding.
    with create_engine(default_url(payer)).begin() as conn:
        conn.execute(text("DELETE FROM receipt_items WHERE number = 4"))
        conn.execute(text("DELETE FROM receipts WHERE number = 4"))
    assert json.loads(ok(payer, "--json", "book", "--list"))[0]["status"] == "booked"
    hidden = receipts(payer, "audit")
    assert hidden.exit_code == 1 and f"receipt {code}-0000000004 was issued but" in hidden.stdout


def test_a_red_receipt_received_first_refuses_its_original(world: dict[str, Path]) -> None:
    payer, city, tmp, code = world["payer"], world["city"], world["tmp"], str(world["code"])
    ok(city, "reverse", code, "1", "--reason", "金额有误", "--handler", "甲", "--reviewer", "乙")
    red = CliRunner(env=ENV).invoke(main, ["--home", str(city), "show", code, "4", "--xml"])
    (tmp / "red.xml").write_bytes(red.stdout_bytes)
    out = ok(payer, "book", str(tmp / "red.xml"), "--by", "王会计")
    assert out == (
        f"received red receipt {code}-0000000004, which reverses {code}-0000000001 "
        "(not booked here; it cannot be booked now)\n"
    )
    late = receipts(payer, "book", str(tmp / "r1.xml"), "--voucher", "记-1", "--by", "王会计")
    assert late.exit_code == 1
    assert f"was reversed by {code}-0000000004, which this payer holds" in late.stderr
    plain = receipts(payer, "book", str(tmp / "r2.xml"), "--by", "王会计")
    assert plain.exit_code == 2 and "--voucher" in plain.stderr
    assert receipts(payer, "audit").exit_code == 0
