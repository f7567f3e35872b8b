"""Union-finance rules through the CLI: the bad-input corpus (one file per rule), a batch file
with violations refused whole, a province's configuration, its rules travelling to a city with
``stock allocate`` / ``stock import``, a city unable to loosen them, and forged rules refused."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.workspaces import federation, ok, receipts

RULES = Path(__file__).parent / "data" / "bad" / "rules"
NOW = datetime.now(ZoneInfo("Asia/Shanghai"))
MONTH = f"{NOW:%Y-%m}"
ANY = r"[0-9]{4}-[0-9]{2}"
#: The province's receipts.toml of the corpus: 建会筹备金 at 1 %, on a base.
CORPUS_PROVINCE = '[rules.items."03"]\nrate = "1%"\nbasis_required = true\n'
UNION_FUNDS_PAYERS = "(allowed: enterprise, grassroots_union, institution, other)"

#: Corpus file → the one line its refusal prints after "error: ".
EXPECTED = {
    "individual-pays-union-funds.json": re.escape(
        f"item 1: 工会经费(拨缴) is not paid by an individual payer {UNION_FUNDS_PAYERS}"
    ),
    "federation-pays-union-funds.json": re.escape(
        f"item 1: 工会经费(拨缴) is not paid by a federation payer {UNION_FUNDS_PAYERS}"
    ),
    "grassroots-union-pays-preparatory-fund.json": re.escape(
        "item 1: 建会筹备金 is not paid by a grassroots_union payer "
        "(allowed: enterprise, institution, other)"
    ),
    "union-funds-rate-not-2-percent.json": re.escape(
        "item 1: 工会经费(拨缴) rate 3% is outside the allowed 2%"
    ),
    "member-dues-rate-not-half-percent.json": re.escape(
        "item 1: 会员会费 rate 1% is outside the allowed 0.5%"
    ),
    "preparatory-fund-above-province-rate.json": re.escape(
        "item 1: 建会筹备金 rate 2% is outside the allowed 1%"
    ),
    "preparatory-fund-without-base.json": re.escape(
        "item 1: 建会筹备金 needs its base (计拨工资总额) and rate"
    ),
    "enterprise-without-uscc.json": re.escape(
        "an enterprise payer needs its USCC (统一社会信用代码)"
    ),
    "institution-without-uscc.json": re.escape(
        "an institution payer needs its USCC (统一社会信用代码)"
    ),
    "duplicate-item-line.json": re.escape(
        "items 1 and 3: 工会经费(拨缴) for 2026-10 twice (one line per item and period)"
    ),
    "period-too-far-ahead.json": (
        rf"item 1: payment period 2099-01 ends after {ANY}, more than 1 month\(s\) after {MONTH}"
    ),
    "period-too-old.json": (
        rf"item 1: payment period 2001Q1 begins before {ANY}, more than 5 year\(s\) before "
        f"{MONTH}"
    ),
}


def receipt_count(home: Path) -> int:
    with sqlite3.connect(home / "ledger.sqlite") as db:
        (count,) = db.execute("SELECT count(*) FROM receipts").fetchone()
    return int(count)


def configure(home: Path, toml: str) -> None:
    config = home / "receipts.toml"
    config.write_text(config.read_text("utf-8") + "\n" + toml, "utf-8")


def allocate(prov: Path, city: Path, name: str, count: int = 20) -> Path:
    """Allocate to 银川 and write the file; the city does not import it yet."""
    path = prov.parent / name
    ok(prov, "stock", "allocate", "--to", "640100", "--count", str(count), "-o", str(path))
    return path


def tiers(root: Path, province_toml: str = "") -> tuple[Path, Path]:
    """宁夏 (with ``province_toml`` in its receipts.toml) and 银川, registered at 宁夏."""
    prov, city = root / "prov", root / "city"
    federation(prov, "640000")
    federation(city, "640100")
    configure(prov, province_toml)
    ok(prov, "org", "add", "--code", "640100")
    return prov, city


@pytest.fixture(scope="module")
def corpus_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """银川 holding stock from 宁夏, whose rules set 建会筹备金 at 1 % on a base."""
    prov, city = tiers(tmp_path_factory.mktemp("corpus"), CORPUS_PROVINCE)
    ok(city, "stock", "import", str(allocate(prov, city, "a.xml")))
    return city


def issue_args(payer_kind: str, item: str, *, uscc: str = "91640100MA7600001J") -> list[str]:
    payer = ["--payer-uscc", uscc] if uscc else ["--payer-id", "M-0042"]
    return [
        "issue",
        "--payer-name",
        "宁夏贺兰山实业有限公司",
        "--payer-kind",
        payer_kind,
        *payer,
        "--item",
        item,
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
    ]


def test_corpus_and_table_agree() -> None:
    assert sorted(p.name for p in RULES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_rule_refuses_its_corpus_file(corpus_city: Path, name: str) -> None:
    result = receipts(corpus_city, "issue", "--from-json", str(RULES / name))
    assert result.exit_code == 2, result.output
    assert re.fullmatch(f"error: {EXPECTED[name]}\n", result.stderr), result.stderr
    assert receipt_count(corpus_city) == 0


def test_a_batch_with_violations_reports_every_row_and_issues_nothing(corpus_city: Path) -> None:
    path = RULES / "batch-several-violations.csv"
    result = receipts(corpus_city, "issue", "--batch", str(path))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: {path}:3: reference BAD-RATE: item 1: 工会经费(拨缴) rate 3% is outside the "
        "allowed 2%",
        f"error: {path}:4: reference BAD-PAYER: item 1: 工会经费(拨缴) is not paid by an "
        f"individual payer {UNION_FUNDS_PAYERS}",
        f"error: {path}:6: reference BAD-USCC: an enterprise payer needs its USCC "
        "(统一社会信用代码)",
        f"error: {path}:8: reference BAD-TWICE: items 1 and 2: 工会经费(拨缴) for 2026-10 twice "
        "(one line per item and period)",
        f"error: {path}:10: reference BAD-PERIOD: item 2: payment period 2099-12 ends after "
        f"{result.stderr.split('ends after ')[1][:7]}, more than 1 month(s) after {MONTH}",
        f"error: 5 union-finance rule violation(s) in {path}; nothing was issued from it",
    ]
    assert receipt_count(corpus_city) == 0  # not even OK-1, OK-2 and OK-3
    assert "issued" not in result.stdout


def test_a_province_overrides_the_defaults_in_its_configuration(tmp_path: Path) -> None:
    prov, _ = tiers(tmp_path, '[rules.items."01"]\nrate = ["2%", "3%"]\n')
    ok(prov, "stock", "allocate", "--to", "640000", "--count", "5")
    ok(prov, *issue_args("enterprise", "01:2026-10:100000.00*3%"))
    ok(prov, *issue_args("enterprise", "01:2026-10:100000.00*2%"))
    result = receipts(prov, *issue_args("enterprise", "01:2026-10:100000.00*4%"))
    assert result.exit_code == 2
    assert result.stderr == "error: item 1: 工会经费(拨缴) rate 4% is outside the allowed 2%~3%\n"
    assert receipt_count(prov) == 2


def test_a_bad_rules_table_is_one_clear_line(tmp_path: Path) -> None:
    prov = tmp_path / "prov"
    federation(prov, "640000")
    configure(prov, '[rules]\nperiod_past_years = "5"\n')
    result = receipts(prov, "stock", "list")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {prov / 'receipts.toml'}: [rules] period_past_years must be a whole number "
        "0-30, not '5'\n"
    )


def test_rules_travel_to_the_city_with_its_newest_allocation(tmp_path: Path) -> None:
    prov, city = tiers(tmp_path)
    loose = allocate(prov, city, "loose.xml")  # the national defaults
    configure(prov, '[rules.items."01"]\npayers = ["enterprise"]\n')
    tight = allocate(prov, city, "tight.xml")
    union = issue_args("grassroots_union", "01:2026-10:2000.00", uscc="81640100MA7600004W")
    ok(city, "stock", "import", str(loose))
    ok(city, *union)  # the defaults let a grassroots union forward 工会经费
    ok(city, "stock", "import", str(tight))
    refused = receipts(city, *union)
    assert refused.exit_code == 2
    assert refused.stderr == (
        "error: item 1: 工会经费(拨缴) is not paid by a grassroots_union payer "
        "(allowed: enterprise)\n"
    )
    ok(city, *issue_args("enterprise", "01:2026-10:2000.00"))
    assert receipt_count(city) == 2


def test_an_older_allocation_imported_last_does_not_loosen(tmp_path: Path) -> None:
    prov, city = tiers(tmp_path)
    loose = allocate(prov, city, "loose.xml")
    configure(prov, '[rules.items."01"]\npayers = ["enterprise"]\n')
    tight = allocate(prov, city, "tight.xml")
    ok(city, "stock", "import", str(tight))
    ok(city, "stock", "import", str(loose))  # signed before the tight one: it stays older
    union = issue_args("grassroots_union", "01:2026-10:2000.00", uscc="81640100MA7600004W")
    assert receipts(city, *union).exit_code == 2


def test_a_city_cannot_loosen_its_provinces_rules(tmp_path: Path) -> None:
    prov, city = tiers(tmp_path)
    ok(city, "stock", "import", str(allocate(prov, city, "a.xml")))
    configure(city, '[rules.items."01"]\npayers = ["enterprise", "individual"]\n')
    individual = issue_args("individual", "01:2026-10:2000.00", uscc="")
    result = receipts(city, *individual)
    assert result.exit_code == 2
    assert "is not paid by an individual payer (allowed: enterprise)" in result.stderr
    # Tightening applies: the grassroots union the province allows is refused here.
    union = receipts(city, *issue_args("grassroots_union", "01:2026-10:2.00", uscc=""))
    assert "(allowed: enterprise)" in union.stderr
    configure(city, "[rules]\nperiod_future_months = 12\n")  # looser: the province's 1 stays
    result = receipts(city, *issue_args("enterprise", f"01:{NOW.year + 1}-{NOW.month:02d}:2.00"))
    assert "more than 1 month(s) after" in result.stderr
    assert receipt_count(city) == 0


def test_a_city_rate_outside_its_provinces_is_a_configuration_error(tmp_path: Path) -> None:
    prov, city = tiers(tmp_path)
    ok(city, "stock", "import", str(allocate(prov, city, "a.xml")))
    configure(city, '[rules.items."01"]\nrate = "3%"\n')
    result = receipts(city, *issue_args("enterprise", "01:2026-10:100000.00*3%"))
    assert result.exit_code == 2
    assert result.stderr == (
        """error: receipts.toml: [rules.items."01"] rate 3% leaves none of the upstream's 2% """
        "(a city may only tighten)\n"
    )
    assert receipt_count(city) == 0


def test_edited_rules_in_an_allocation_are_refused(tmp_path: Path) -> None:
    prov, city = tiers(tmp_path)
    path = allocate(prov, city, "a.xml")
    text = path.read_text("utf-8")
    assert '<Rate low="0.02" high="0.02"/>' in text
    path.write_text(text.replace('<Rate low="0.02" high="0.02"/>', '<Rate low="0" high="1"/>'))
    result = receipts(city, "stock", "import", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: allocation: ")
    assert json.loads(ok(city, "--json", "stock", "list")) == []


def test_rules_edited_in_the_citys_ledger_are_refused(tmp_path: Path) -> None:
    """The city owns its ledger: the rules it applies are verified against the province's
    signature each time, not read from a column it could edit."""
    prov, city = tiers(tmp_path)
    ok(city, "stock", "import", str(allocate(prov, city, "a.xml")))
    with sqlite3.connect(city / "ledger.sqlite") as db:
        (document,) = db.execute("SELECT document FROM segments").fetchone()
        forged = bytes(document).replace(b'high="0.02"', b'high="0.05"')
        assert forged != document
        db.execute("UPDATE segments SET document = ?", (forged,))
    result = receipts(city, *issue_args("enterprise", "01:2026-10:100000.00*5%"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: allocation 6471")
    assert receipt_count(city) == 0
