"""Settlement entries in a federation's vouchers: the shares its own receipts owe upward (上解) and
back to grassroots unions (回拨), from the shares stored when they were issued, on SQLite and
PostgreSQL; worked by hand from the default sharing table (docs/sharing.md) and checked against
``receipts.settlement.shares.period_totals``."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from receipts.ledger.database import Database
from receipts.settlement.shares import period_totals
from tests.support.workspaces import federation, ok, receipts


def issue(city: Path, url: str, ref: str, item: str, kind: str = "enterprise") -> None:
    result = receipts(
        city, "issue", "--payer-name", "宁夏贺兰山实业有限公司", "--payer-kind", kind,
        "--payer-uscc", "91640100MA7600001J", "--item", item, "--handler", "甲",
        "--reviewer", "乙", "--client-ref", ref, db=url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_settlement_entries_owe_the_other_parties_their_shares(
    tmp_path: Path, ledger_url: str
) -> None:
    prov, city = tmp_path / "prov", tmp_path / "city"
    federation(prov, "640000")
    federation(city, "640100")
    ok(prov, "org", "add", "--code", "640100")
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(tmp_path / "a.xml"))
    assert receipts(city, "stock", "import", str(tmp_path / "a.xml"), db=ledger_url).exit_code == 0
    issue(city, ledger_url, "R1", "01:2026-10:1000.00")
    issue(city, ledger_url, "R2", "02:2026-10:50.00")  # 会员会费: no sharing row, all 银川's
    issue(city, ledger_url, "R3", "01:2026-11:500.00")
    code = json.loads(receipts(city, "--json", "stock", "list", db=ledger_url).stdout)[0]
    reverse = receipts(
        city, "reverse", code["segment"][:8], "3", "--reason", "重复", "--handler", "甲",
        "--reviewer", "乙", db=ledger_url,
    )  # fmt: skip
    assert reverse.exit_code == 0, reverse.output

    result = receipts(city, "--json", "voucher", "export", db=ledger_url)
    assert result.exit_code == 0, result.output
    income, settlement = json.loads(result.stdout)["vouchers"]
    month = income["month"]
    assert income["source"] == "receipts" and income["number"] == f"记-{month}-001"
    assert (settlement["source"], settlement["number"]) == ("settlement", f"记-{month}-002")
    assert settlement["month"] == month
    # Default table, enterprise paying in full: grassroots 60%, city 28%, province 10%, national
    # 2%. R1 1000.00 and R3 500.00 (reversed by its red receipt in the same month) leave 1000.00:
    # upward (province + national) 120.00, 回拨 (grassroots) 600.00; 银川 keeps 280.00 and all of
    # R2's 50.00.
    assert [(x["side"], x["account"], x["amount"]) for x in settlement["lines"]] == [
        ("debit", "402", "120.00"),
        ("debit", "402", "600.00"),
        ("credit", "221", "120.00"),
        ("credit", "222", "600.00"),
    ]
    assert settlement["lines"][0]["summary"] == "应上解上级 工会经费(拨缴)"
    assert settlement["debit"] == settlement["credit"] == "720.00"
    credited = sum(Decimal(x["amount"]) for x in income["lines"] if x["side"] == "credit")
    assert credited == Decimal("1050.00")

    db = Database(ledger_url)
    try:
        with db.read() as session:
            totals = period_totals(session, "640100", month)
    finally:
        db.dispose()
    assert (totals.upward, totals.grassroots + totals.downward) == (12000, 60000)
    assert totals.retained == 105000 - 72000  # what stays in 银川's income accounts
