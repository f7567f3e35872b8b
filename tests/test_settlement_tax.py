"""Tax-collected income in settlement (docs/settlement.md, "Tax-collected income"), on SQLite
and PostgreSQL: a city's statement adds its tax records of the month to its totals and lists
them; the province recomputes each tax line's shares and names a planted wrong one."""

from __future__ import annotations

import json

from lxml import etree
from sqlalchemy import select, text

from receipts.ledger.models import ReceiptRow
from receipts.settlement.shares import period_totals
from receipts.settlement.statement import SETTLEMENT_NS
from receipts.tax.income import tax_totals
from tests.test_settlement import ISSUE, Tiers, tiers  # noqa: F401  (the fixture)

HEADER = "统一社会信用代码,纳税人名称,所属期,计征基数,实缴金额,完税凭证号,入库日期\n"
VOUCHER = "364016260000001"


def _import_tax(t: Tiers, collected_on: str) -> None:
    path = t.tmp / "税务代收.csv"
    path.write_text(
        HEADER
        + f"91640100MA7600005Y,宁夏六盘山有限公司,2026-10,100000.00,2000.00,{VOUCHER},"
        + f"{collected_on}\n",
        encoding="utf-8",
    )
    t.ok("640100", "tax", "import", str(path))


def _statement(t: Tiers, period: str, name: str) -> dict[str, object]:
    out = t.tmp / name
    made = json.loads(
        t.ok("640100", "--json", "settle", "statement", "--period", period, "-o", str(out))
    )
    t.ok("640000", "settle", "import", str(out))
    taxes = etree.parse(str(out)).getroot().findall(f"{{{SETTLEMENT_NS}}}Tax")
    assert [x.get("voucher") for x in taxes] == [VOUCHER]
    assert taxes[0].get("amount") == "2000.00" and taxes[0].get("payer") == "91640100MA7600005Y"
    return dict(made)


def test_tax_income_is_stated_and_a_wrong_tax_share_is_named(tiers: Tiers) -> None:  # noqa: F811
    tiers.ok("640100", *ISSUE, "--payer-name", "甲企业", "--item", "01:2026-10:100.00")
    city_db = tiers.db("640100")
    with city_db.read() as session:
        period = session.scalars(select(ReceiptRow.period)).one()
    _import_tax(tiers, f"{period}-01")
    tiers.send("640100", "640000")
    with city_db.read() as session:
        receipts_part = period_totals(session, "640100", period)
        tax_part = tax_totals(session, "640100", period)
    assert tax_part.income == 200000 and tax_part.upward > 0
    made = _statement(tiers, period, "city-1.xml")
    assert made["upward"] == f"{(receipts_part.upward + tax_part.upward) / 100:.2f}"
    clean = tiers.run("640000", "settle", "reconcile", "--period", period, "--from", "640100")
    assert clean.exit_code == 0, clean.output

    # Planted: an insider moves 1.00 of the tax record's province share to the city.
    with city_db.write() as (session, _):
        session.execute(
            text(
                "UPDATE tax_collections SET city_fen = city_fen + 100, "
                "province_fen = province_fen - 100 WHERE voucher = :v"
            ),
            {"v": VOUCHER},
        )
    city_db.dispose()
    _statement(tiers, period, "city-2.xml")
    result = tiers.run(
        "640000", "--json", "settle", "reconcile", "--period", period, "--from", "640100"
    )
    assert result.exit_code == 1, result.output
    found = [
        (d["kind"], d["subject"], d["detail"]) for d in json.loads(result.stdout)["differences"]
    ]
    subject = f"tax {VOUCHER}"
    assert [f[:2] for f in found] == [
        ("wrong-share", subject),
        ("wrong-share", subject),
        ("amount-mismatch", f"upward total of 640100 for {period}"),
    ]
    assert found[0][2].startswith("city share stated ")
    assert found[1][2].startswith("province share stated ")


def test_the_balance_owes_what_the_statement_states_tax_income_included(
    tiers: Tiers,  # noqa: F811
) -> None:
    """settle balance owed only the receipts' shares: after paying exactly the statement's 上解
    (which counts the tax-collected income), it showed an overpayment, and the 回拨 of the tax
    income was never owed. A month with tax records and no receipt is owed on too."""
    tiers.ok("640100", *ISSUE, "--payer-name", "甲企业", "--item", "01:2026-10:100.00")
    with tiers.db("640100").read() as session:
        period = session.scalars(select(ReceiptRow.period)).one()
    _import_tax(tiers, f"{period}-01")
    made = _statement(tiers, period, "city-balance.xml")
    balance = json.loads(tiers.ok("640100", "--json", "settle", "balance", "--period", period))
    owed = {row["payee"]: row["owed"] for row in balance}
    assert owed == {"640000": made["upward"], "grassroots": made["grassroots"]}
