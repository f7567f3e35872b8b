"""Settlement round trip city → province → national through the CLI (docs/settlement.md), on
SQLite and PostgreSQL: statements signed and imported, reconciled against the tier above's copy
of the receipts (shares recomputed there) and its bank credits, with a planted wrong share and a
planted unpaid transfer each named; the national federation finds nothing to say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select, text

from receipts.ledger.database import Database, default_url
from receipts.ledger.models import ReceiptRow
from tests.support.postgres import PgSchemas
from tests.support.workspaces import federation, receipts

ORGS = ("640100", "640000", "000000")
ISSUE = [
    "issue",
    "--payer-kind",
    "enterprise",
    "--payer-uscc",
    "91640100MA7600001J",
    "--handler",
    "张晓梅",
    "--reviewer",
    "李建国",
]


class Tiers:
    """Three federation workspaces, each on its own ledger of one back end."""

    def __init__(self, tmp: Path, urls: dict[str, str | None]) -> None:
        self.tmp = tmp
        self.homes = {org: tmp / org for org in ORGS}
        self.urls = urls
        for org, home in self.homes.items():
            federation(home, org)

    def run(self, org: str, *args: str) -> Result:
        return receipts(self.homes[org], *args, db=self.urls[org])

    def ok(self, org: str, *args: str) -> str:
        result = self.run(org, *args)
        assert result.exit_code == 0, f"{org} {args}: {result.output}"
        return result.stdout

    def db(self, org: str) -> Database:
        return Database(self.urls[org] or default_url(self.homes[org]))

    def send(self, sender: str, receiver: str) -> None:
        package = self.tmp / f"{sender}-to-{receiver}.zip"
        self.ok(sender, "transmit", "export", "-o", str(package))
        self.ok(receiver, "transmit", "import", str(package))


@pytest.fixture(params=["sqlite", "postgresql"])
def tiers(request: pytest.FixtureRequest, tmp_path: Path) -> Tiers:
    urls: dict[str, str | None] = dict.fromkeys(ORGS)
    if request.param == "postgresql":
        schemas: PgSchemas = request.getfixturevalue("pg_schemas")
        urls = {org: schemas.new() for org in ORGS}
    t = Tiers(tmp_path, urls)
    alloc = tmp_path / "alloc-640100.xml"
    t.ok("640000", "org", "add", "--code", "640100")
    t.ok("640000", "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(alloc))
    t.ok("640100", "stock", "import", str(alloc))
    t.ok("640000", "stock", "allocate", "--to", "640000", "--count", "20")
    return t


def _bank(path: Path, *credits: tuple[str, str]) -> Path:
    lines = ["date,amount,payer_name,payer_account,reference,serial"]
    for n, (amount, reference) in enumerate(credits, 1):
        lines.append(f"2026-12-01,{amount},银川市总工会,,{reference} 上解,S{n}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_trip_names_the_wrong_share_and_the_unpaid_transfer(tiers: Tiers) -> None:
    for name, amount in (("甲企业", "100.00"), ("乙企业", "200.00"), ("丙企业", "300.00")):
        tiers.ok("640100", *ISSUE, "--payer-name", name, "--item", f"01:2026-10:{amount}")
    tiers.ok("640000", *ISSUE, "--payer-name", "自治区直属企业", "--item", "01:2026-10:1000.00")
    city_db = tiers.db("640100")
    with city_db.read() as session:
        rows = session.scalars(select(ReceiptRow).order_by(ReceiptRow.number)).all()
        period, second = rows[0].period, (rows[1].code, rows[1].number)
    tiers.send("640100", "640000")
    tiers.send("640000", "000000")

    # Before any transfer the city owes 12% of 600.00 upward and 60% back to grassroots unions.
    owed = json.loads(tiers.ok("640100", "--json", "settle", "balance", "--period", period))
    assert [(b["payee"], b["owed"], b["unpaid"]) for b in owed] == [
        ("640000", "72.00", "72.00"),
        ("grassroots", "360.00", "360.00"),
    ]

    _plant_and_settle_city(tiers, city_db, period, second)
    bank = _bank(tiers.tmp / "prov-bank.csv", ("50.00", "YC-2026-1"))
    result = tiers.run(
        "640000", "--json", "settle", "reconcile", "--period", period, "--from", "640100",
        "--bank", str(bank),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    label = f"{second[0]}-{second[1]:010d}"
    assert report["stated_upward"] == "71.00" and report["recomputed_upward"] == "72.00"
    assert report["credited"] == "50.00"
    assert [(d["kind"], d["subject"]) for d in report["differences"]] == [
        ("wrong-share", label),
        ("wrong-share", label),
        ("amount-mismatch", f"upward total of 640100 for {period}"),
        ("unpaid-transfer", "YC-2026-2"),
        ("unpaid-balance", f"640100 {period}"),
    ]
    details = [d["detail"] for d in report["differences"]]
    assert details[0] == "city share stated 57.00, recomputed 56.00"
    assert details[1] == "province share stated 19.00, recomputed 20.00"
    assert details[4] == (
        "owes 72.00 upward (recomputed), 50.00 credited for the transfers the statement lists, "
        "22.00 unpaid"
    )
    # The city's own audit names the rewritten row too.
    audit = tiers.run("640100", "--json", "audit")
    assert audit.exit_code == 1 and "share-mismatch" in audit.stdout
    _province_settles_cleanly(tiers, period)


def _plant_and_settle_city(
    tiers: Tiers, city_db: Database, period: str, second: tuple[str, int]
) -> None:
    """Planted: an insider moves 1.00 of the second receipt's province share to the city (the
    row still sums to its amount), and the second transfer never reaches the bank."""
    with city_db.write() as (session, _):
        session.execute(
            text(
                "UPDATE receipt_shares SET city_fen = city_fen + 100, "
                "province_fen = province_fen - 100 WHERE code = :c AND number = :n"
            ),
            {"c": second[0], "n": second[1]},
        )
    city_db.dispose()
    for amount, reference in (("50.00", "YC-2026-1"), ("21.00", "YC-2026-2")):
        tiers.ok(
            "640100", "settle", "transfer", "--to", "640000", "--period", period,
            "--amount", amount, "--reference", reference, "--on", "2026-12-01",
        )  # fmt: skip
    city_file = tiers.tmp / "city.xml"
    tiers.ok("640100", "settle", "statement", "--period", period, "-o", str(city_file))
    assert "imported" in tiers.ok("640000", "settle", "import", str(city_file))


def _province_settles_cleanly(tiers: Tiers, period: str) -> None:
    """The province passes the national shares up: 2% of its own 1,000.00 and of the city's
    600.00; the national federation finds nothing to say."""
    tiers.ok(
        "640000", "settle", "transfer", "--to", "000000", "--period", period,
        "--amount", "32.00", "--reference", "NX-2026-1", "--on", "2026-12-02",
    )  # fmt: skip
    prov_file = tiers.tmp / "prov.xml"
    made = json.loads(
        tiers.ok(
            "640000", "--json", "settle", "statement", "--period", period, "-o", str(prov_file)
        )
    )
    assert (made["upward"], made["grassroots"], made["receipts"]) == ("32.00", "600.00", 4)
    tiers.ok("000000", "settle", "import", str(prov_file))
    nation_bank = _bank(tiers.tmp / "nation-bank.csv", ("32.00", "NX-2026-1"))
    clean = tiers.run(
        "000000", "settle", "reconcile", "--period", period, "--from", "640000",
        "--bank", str(nation_bank),
    )  # fmt: skip
    assert clean.exit_code == 0, clean.output
    assert "no differences" in clean.stdout
    paid = json.loads(tiers.ok("640000", "--json", "settle", "balance", "--period", period))
    assert [(b["payee"], b["unpaid"]) for b in paid] == [
        ("000000", "0.00"),
        ("grassroots", "600.00"),
    ]
    for org in ("640000", "000000"):
        assert tiers.run(org, "audit").exit_code == 0, org


def test_bad_input_is_one_line_and_changes_nothing(tiers: Tiers) -> None:
    for args, message in (
        (("settle", "statement", "--period", "2026-13"), "period '2026-13' must be a month"),
        (
            ("settle", "transfer", "--to", "000000", "--period", "2026-10", "--amount", "1.00",
             "--reference", "X"),
            "payee '000000' must be 640000",
        ),
        (
            ("settle", "transfer", "--to", "640000", "--period", "2026-10", "--amount", "-1",
             "--reference", "X"),
            "",
        ),
        (("settle", "reconcile", "--period", "2026-10", "--from", "640104"), "no settlement"),
    ):  # fmt: skip
        result = tiers.run("640100", *args)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(tiers.ok("640100", "--json", "settle", "balance")) == []


_TABLE = """
[sharing]
province = "64"
[[sharing.versions]]
effective_from = 2000-01-01
source = "宁夏测试分成办法"
[[sharing.versions.rows]]
item = "01"
situation = "enterprise_full"
grassroots = "60%"
county = "0"
city = "30%"
province = "8%"
national = "2%"
"""


def test_a_province_signs_its_table_and_the_city_adopts_it(tiers: Tiers) -> None:
    table = tiers.tmp / "sharing-64.toml"
    table.write_text(_TABLE, encoding="utf-8")
    signed = tiers.tmp / "sharing-64.xml"
    tiers.ok("640000", "settle", "adopt-rules", str(table))
    tiers.ok("640000", "settle", "sign-rules", str(table), "-o", str(signed))
    refused = tiers.run("640100", "settle", "adopt-rules", str(table))
    assert refused.exit_code == 2 and "takes its sharing table from its province" in refused.stderr
    forged = tiers.tmp / "forged.xml"
    forged.write_bytes(signed.read_bytes().replace(b"0.08", b"0.02").replace(b"0.3", b"0.36"))
    assert tiers.run("640100", "settle", "adopt-rules", str(forged)).exit_code != 0
    tiers.ok("640100", "settle", "adopt-rules", str(signed))
    tiers.ok("640100", *ISSUE, "--payer-name", "甲企业", "--item", "01:2026-10:100.00")
    tiers.send("640100", "640000")
    with tiers.db("640100").read() as session:
        period = session.scalars(select(ReceiptRow.period)).one()
    statement = tiers.tmp / "city.xml"
    made = json.loads(
        tiers.ok(
            "640100", "--json", "settle", "statement", "--period", period, "-o", str(statement)
        )
    )
    assert (made["upward"], made["retained"], made["grassroots"]) == ("10.00", "30.00", "60.00")
    tiers.ok("640000", "settle", "import", str(statement))
    clean = tiers.run("640000", "settle", "reconcile", "--period", period, "--from", "640100")
    assert clean.exit_code == 0, clean.output
    assert "credited not checked (no --bank)" in clean.stdout
    # Once receipts were shared under it, the table's version cannot be changed any more.
    changed = tiers.tmp / "changed.toml"
    changed.write_text(_TABLE.replace('"30%"', '"29%"').replace('"8%"', '"9%"'), encoding="utf-8")
    late = tiers.run("640000", "settle", "adopt-rules", str(changed))
    assert late.exit_code == 2 and "already used for receipts" in late.stderr
    for org in ("640100", "640000"):
        assert tiers.run(org, "audit").exit_code == 0, org


def test_issue_states_the_situation(tiers: Tiers) -> None:
    args = ("--payer-name", "甲企业", "--item", "01:2026-10:400.00")
    tiers.ok("640100", *ISSUE, *args, "--situation", "grassroots_remits")
    bad = tiers.run("640100", *ISSUE, *args, "--situation", "gift")
    assert bad.exit_code == 2 and "gift" in bad.output
    with tiers.db("640100").read() as session:
        row = session.execute(
            text("SELECT situation, grassroots_fen, city_fen, province_fen FROM receipt_shares")
        ).one()
    assert tuple(row) == ("grassroots_remits", 0, 28000, 10000)
