"""Issue 15: a reversed receipt is a finding when verified against the issuer's ledger (its red
receipt verifies), and a check code typed in either case is accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from receipts.errors import InvalidInput
from tests.support.workspaces import federation, ok, receipts


@pytest.fixture
def city(tmp_path: Path) -> tuple[Path, str]:
    """银川 with one issued receipt (number 1); returns its home and receipt code."""
    prov, city = tmp_path / "prov", tmp_path / "city"
    federation(prov, "640000")
    federation(city, "640100")
    ok(prov, "org", "add", "--code", "640100")
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "5", "-o", str(tmp_path / "a.xml"))
    ok(city, "stock", "import", str(tmp_path / "a.xml"))
    ok(
        city,
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
        "甲",
        "--reviewer",
        "乙",
    )
    code = json.loads(ok(city, "--json", "stock", "list"))[0]["segment"][:8]
    return city, code


def _xml(home: Path, code: str, number: int, out: Path) -> Path:
    out.write_text(ok(home, "show", code, str(number), "--xml"), encoding="utf-8")
    return out


def test_verify_online_reports_a_reversed_original(city: tuple[Path, str], tmp_path: Path) -> None:
    home, code = city
    original = _xml(home, code, 1, tmp_path / "r1.xml")
    ok(home, "reverse", code, "1", "--reason", "金额有误", "--handler", "甲", "--reviewer", "乙")
    red = _xml(home, code, 2, tmp_path / "r2.xml")

    human = receipts(home, "verify", str(original), "--online")
    assert human.exit_code == 1, human.output
    assert human.stdout.startswith("INVALID  ")
    assert f"reversed: {code}-0000000001 was reversed by red receipt {code}-0000000002" in (
        human.stdout
    )
    as_json = json.loads(receipts(home, "--json", "verify", str(original), "--online").stdout)
    assert [(e["valid"], [f["code"] for f in e["findings"]]) for e in as_json] == [
        (False, ["reversed"])
    ]

    red_result = receipts(home, "verify", str(red), "--online")
    assert red_result.exit_code == 0, red_result.output
    assert red_result.stdout.startswith("VALID    ")
    assert red_result.stdout.rstrip().endswith("[issued]")


def test_lookup_accepts_the_check_code_in_either_case(city: tuple[Path, str]) -> None:
    home, code = city
    check_code = json.loads(ok(home, "--json", "show", code, "1"))["check_code"]
    assert check_code == check_code.lower()
    for typed in (check_code.upper(), check_code, f" {check_code.upper()} "):
        answer = json.loads(ok(home, "--json", "lookup", code, "1", typed))
        assert answer["found"] is True, typed
        assert answer["status"] == "issued"
    wrong = receipts(home, "--json", "lookup", code, "1", "ZZZZZZ")
    assert wrong.exit_code == 1
    assert json.loads(wrong.stdout)["found"] is False


def test_parse_check_code_gives_the_canonical_lower_case() -> None:
    from receipts.domain.identifiers import parse_check_code

    assert parse_check_code("EOTXQ2") == "eotxq2"
    assert parse_check_code(" eOtXq2\t") == "eotxq2"
    for bad in ("EOTXQ", "EOTXQ2Z", "EOT-Q2", "ＥＯＴＸＱ２", ""):
        with pytest.raises(InvalidInput, match="check code"):
            parse_check_code(bad)
