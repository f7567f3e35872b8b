"""``receipts voucher export`` at a payer: vouchers of the receipts its accountant booked (借
应付职工薪酬 / 贷 银行存款), grouped by the voucher numbers given ``book --voucher``, a red
receipt as negative lines, an undone booking left out; the payer's ledger on SQLite and
PostgreSQL (the issuing federation stays on SQLite)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner

from cli import main
from receipts.commands.voucher_cmds import COLUMNS
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import ENV, federation, ok, receipts

PAYER_USCC = "91640100MA7600001J"
ZONE = ZoneInfo("Asia/Shanghai")


def issue(city: Path, client_ref: str, *items: str) -> None:
    lines = [arg for item in items for arg in ("--item", item)]
    ok(
        city, "issue", "--payer-name", "宁夏贺兰山实业有限公司", "--payer-kind", "enterprise",
        "--payer-uscc", PAYER_USCC, *lines, "--handler", "甲", "--reviewer", "乙",
        "--client-ref", client_ref,
    )  # fmt: skip


def shown(city: Path, code: str, number: int, path: Path) -> Path:
    xml = CliRunner(env=ENV).invoke(main, ["--home", str(city), "show", code, str(number), "--xml"])
    path.write_bytes(xml.stdout_bytes)
    return path


@pytest.fixture
def payer(tmp_path: Path, ledger_url: str) -> tuple[Path, str]:
    """A payer that booked three receipts under two voucher numbers, a red receipt under a
    third, and undid a fourth booking; its ledger at ``ledger_url``."""
    prov, city, home = tmp_path / "prov", tmp_path / "city", tmp_path / "payer"
    federation(prov, "640000")
    federation(city, "640100")
    ok(prov, "org", "add", "--code", "640100")
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(tmp_path / "a.xml"))
    ok(city, "stock", "import", str(tmp_path / "a.xml"))
    issue(city, "R1", "01:2026-10:100.00")
    issue(city, "R2", "01:2026-10:200.00", "02:2026-10:30.00")
    issue(city, "R3", "01:2026-11:300.00")
    code = json.loads(ok(city, "--json", "stock", "list"))[0]["segment"][:8]
    init = CliRunner(env=ENV).invoke(
        main,
        [
            "--home",
            str(home),
            "init",
            "--payer",
            "--name",
            "宁夏贺兰山实业有限公司",
            "--uscc",
            PAYER_USCC,
        ],
    )
    assert init.exit_code == 0, init.output
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(tier_pki().bundle.to_pem())
    ok(home, "pki", "import-trust", str(bundle))

    def book(number: int, voucher: str) -> None:
        xml = shown(city, code, number, tmp_path / f"r{number}.xml")
        result = receipts(
            home, "book", str(xml), "--voucher", voucher, "--by", "王会计", db=ledger_url
        )
        assert result.exit_code == 0, result.output

    book(1, "记-0042")
    book(2, "记-0042")
    book(3, "记-0043")
    undo = receipts(
        home, "book", "--undo", code, "3", "--by", "王会计", "--reason", "重复入账", db=ledger_url
    )
    assert undo.exit_code == 0, undo.output
    ok(city, "reverse", code, "1", "--reason", "金额有误", "--handler", "甲", "--reviewer", "乙")
    book(4, "记-0050")  # the red receipt of receipt 1, under its red voucher
    return home, ledger_url


def test_payer_vouchers_from_booked_receipts(payer: tuple[Path, str], tmp_path: Path) -> None:
    home, url = payer
    before = f"{datetime.now(ZONE):%Y-%m}"
    result = receipts(home, "--json", "voucher", "export", db=url)
    after = f"{datetime.now(ZONE):%Y-%m}"
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["owner"], data["side"]) == (PAYER_USCC, "payer")
    got = [
        (v["number"], v["documents"], [(x["side"], x["account"], x["amount"]) for x in v["lines"]])
        for v in data["vouchers"]
    ]
    assert got == [
        (
            "记-0042",
            2,
            [
                ("debit", "2211", "100.00"),
                ("debit", "2211", "200.00"),
                ("debit", "2241", "30.00"),
                ("credit", "1002", "330.00"),
            ],
        ),
        ("记-0050", 1, [("debit", "2211", "-100.00"), ("credit", "1002", "-100.00")]),
    ]
    assert {v["month"] for v in data["vouchers"]} <= {before, after}
    first = data["vouchers"][0]["lines"]
    assert first[0]["account_name"] == "应付职工薪酬"
    assert first[0]["detail"] == "工会经费(拨缴) 所属期 2026-10"
    assert first[0]["summary"].startswith("缴纳工会经费(拨缴) 收据 ")
    assert data["vouchers"][1]["lines"][1]["summary"] == "冲红 支付工会经费等"
    # The vouchers carry exactly what is booked (undone bookings left out).
    listing = json.loads(receipts(home, "--json", "book", "--list", db=url).stdout)
    booked = sum(Decimal(b["amount"]) for b in listing if b["status"] != "undone")
    assert Decimal(data["total"]) == booked == Decimal("230.00")


def test_payer_codes_configured_and_xlsx(payer: tuple[Path, str], tmp_path: Path) -> None:
    home, url = payer
    with (home / "receipts.toml").open("a", encoding="utf-8") as config:
        config.write(
            '\n[vouchers.accounts]\n"221105" = "应付职工薪酬—工会经费"\n'
            '[vouchers.payer]\nbank = "1002"\nitems = { "01" = "221105" }\n'
        )
    out_xlsx, out_csv = tmp_path / "payer.xlsx", tmp_path / "payer.csv"
    result = receipts(
        home, "voucher", "export", "--xlsx", str(out_xlsx), "--csv", str(out_csv), db=url
    )
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(out_xlsx)["记账凭证"]
    assert sheet.freeze_panes == "A2"
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert tuple(rows[0]) == COLUMNS
    assert [(r[0], r[4], r[5], r[7], r[8]) for r in rows[1:]] == [
        ("记-0042", "221105", "应付职工薪酬—工会经费", 100, None),
        ("记-0042", "221105", "应付职工薪酬—工会经费", 200, None),
        ("记-0042", "2241", "其他应付款", 30, None),
        ("记-0042", "1002", "银行存款", None, 330),
        ("记-0050", "221105", "应付职工薪酬—工会经费", -100, None),
        ("记-0050", "1002", "银行存款", None, -100),
    ]
    assert {r[10] for r in rows[1:]} == {"bookings"}
    text = list(csv.reader(io.StringIO(out_csv.read_text("utf-8-sig"))))
    assert [r[7] or r[8] for r in text[1:]] == [
        "100.00",
        "200.00",
        "30.00",
        "330.00",
        "-100.00",
        "-100.00",
    ]


def test_a_payer_month_without_bookings(payer: tuple[Path, str]) -> None:
    home, url = payer
    result = receipts(home, "voucher", "export", "--to", "2020-01", db=url)
    assert result.exit_code == 0, result.output
    assert result.stdout == "no vouchers: nothing booked in the months asked\n"
