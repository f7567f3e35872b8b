"""Issue 15, two-person rules through the command line: a reversal requested by one operator is
issued only on another reviewer's approval, and a batch over the threshold only once another
reviewer approved that exact file; a workspace without operators works as before, refusing one
person as both handler and reviewer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from receipts.domain.xmlcodec import parse_receipt_xml
from tests.support.operators import as_operator, with_operators
from tests.support.workspaces import federation, ok, receipts

HEADER = "client_ref,payer_name,payer_kind,payer_uscc,item_code,period,amount,handler,reviewer\n"
PAYER = "宁夏贺兰山实业有限公司,enterprise,91640100MA7600001J"


def _stocked(tmp_path: Path, operators: bool) -> tuple[Path, str]:
    """银川 (with or without operators) holding 50 numbers; its home and receipt code."""
    prov, city = tmp_path / "prov", tmp_path / "city"
    federation(prov, "640000")
    if operators:
        with_operators(city)
    else:
        federation(city, "640100")
    ok(prov, "org", "add", "--code", "640100")
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "50", "-o", str(tmp_path / "a.xml"))
    imported = as_operator(
        city, "李静" if operators else None, "stock", "import", str(tmp_path / "a.xml")
    )
    assert imported.exit_code == 0, imported.output
    code = json.loads(ok(city, "--json", "stock", "list"))[0]["segment"][:8]
    return city, code


def _issue_one(home: Path, by: str | None) -> None:
    issued = as_operator(
        home,
        by,
        "issue",
        "--payer-name",
        "宁夏贺兰山实业有限公司",
        "--payer-kind",
        "enterprise",
        "--payer-uscc",
        "91640100MA7600001J",
        "--item",
        "01:2026-10:100000.00*0.02",
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
    )
    assert issued.exit_code == 0, issued.output


def _refused(result: Result, line: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"error: {line}"]


@pytest.fixture
def city(tmp_path: Path) -> tuple[Path, str]:
    """银川 with operators (李静 admin, 张晓梅 and 刘洋 clerks, 李建国 reviewer, 王芳 auditor) and
    one receipt issued by 张晓梅."""
    home, code = _stocked(tmp_path, operators=True)
    _issue_one(home, "张晓梅")
    return home, code


def test_a_reversal_takes_a_clerk_and_another_reviewer(city: tuple[Path, str]) -> None:
    home, code = city
    asked = as_operator(home, "张晓梅", "--json", "reverse", code, "1", "--reason", "金额有误")
    assert asked.exit_code == 0, asked.output
    request = json.loads(asked.stdout)
    assert (request["id"], request["status"], request["requested_by"]) == (1, "open", "张晓梅")
    assert "reversed" not in ok(home, "show", code, "1")

    _refused(
        as_operator(home, "张晓梅", "reversal", "approve", "1"),
        "reversal needs approval by a reviewer other than 张晓梅",
    )
    _refused(
        as_operator(home, "刘洋", "reversal", "approve", "1"),
        "刘洋 is a clerk; approving a reversal needs a reviewer",
    )
    listed = json.loads(ok(home, "--json", "reversal", "list", "--open"))
    assert [r["id"] for r in listed] == [1]

    approved = as_operator(home, "李建国", "--json", "reversal", "approve", "1")
    assert approved.exit_code == 0, approved.output
    (red,) = json.loads(approved.stdout)
    assert (red["number"], red["total"]) == ("0000000002", "-2000.00")
    receipt = parse_receipt_xml(ok(home, "show", code, "2", "--xml").encode())
    assert (receipt.handler, receipt.reviewer, receipt.reason) == ("张晓梅", "李建国", "金额有误")
    assert json.loads(ok(home, "--json", "reversal", "list", "--open")) == []
    (done,) = json.loads(ok(home, "--json", "reversal", "list"))
    assert (done["status"], done["decided_by"], done["red_receipt"]) == (
        "approved",
        "李建国",
        f"{code}-0000000002",
    )
    assert receipts(home, "audit").exit_code == 0


def test_who_may_not_request_or_decide(city: tuple[Path, str]) -> None:
    home, code = city
    auditor = as_operator(home, "王芳", "reverse", code, "1", "--reason", "金额有误")
    assert auditor.exit_code == 2, auditor.output
    assert auditor.stderr.startswith("error: 王芳 is an auditor;")
    _refused(
        as_operator(
            home,
            "张晓梅",
            "reverse",
            code,
            "1",
            "--reason",
            "x",
            "--handler",
            "张晓梅",
            "--reviewer",
            "李建国",
        ),
        "--handler and --reviewer are operators here: the red receipt's handler is 张晓梅, its "
        "reviewer the reviewer who approves the request",
    )
    ok_request = as_operator(home, "张晓梅", "reverse", code, "1", "--reason", "金额有误")
    assert ok_request.exit_code == 0, ok_request.output
    _refused(
        as_operator(home, "刘洋", "reversal", "reject", "1", "--reason", "不同意"),
        "刘洋 is a clerk; rejecting a reversal needs a reviewer",
    )
    rejected = as_operator(home, "李建国", "reversal", "reject", "1", "--reason", "金额无误")
    assert rejected.exit_code == 0, rejected.output
    again = as_operator(home, "李建国", "reversal", "approve", "1")
    assert again.exit_code == 1
    assert again.stderr.strip() == "error: reversal request 1 was rejected by 李建国"


def test_without_operators_reverse_works_as_before_but_needs_two_people(tmp_path: Path) -> None:
    home, code = _stocked(tmp_path, operators=False)
    _issue_one(home, None)
    args = ("reverse", code, "1", "--reason", "金额有误")
    _refused(
        receipts(home, *args, "--handler", "甲", "--reviewer", "甲"),
        "reversal needs approval by a reviewer other than 甲",
    )
    _refused(receipts(home, *args, "--handler", "甲"), "missing --reviewer")
    out = ok(home, *args, "--handler", "甲", "--reviewer", "乙")
    assert f"{code}  0000000002  -2000.00" in out
    _refused(
        receipts(home, "reversal", "approve", "1"),
        "reversal requests exist only in a workspace with operators; here 'receipts reverse CODE "
        "NUMBER --reason R --handler H --reviewer V' issues the red receipt at once",
    )


def _batch(path: Path, rows: int, first: int = 1) -> Path:
    lines = [f"B{n},{PAYER},01,2026-10,100.00,张晓梅,李建国\n" for n in range(first, first + rows)]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def _with_threshold(home: Path, receipts_over: int) -> None:
    config = home / "receipts.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + f"\n[approvals]\nbatch_receipts = {receipts_over}\n",
        encoding="utf-8",
    )


def test_a_big_batch_needs_another_reviewers_approval_of_that_file(
    city: tuple[Path, str], tmp_path: Path
) -> None:
    home, _ = city
    _with_threshold(home, 2)
    big = _batch(tmp_path / "big.csv", 3)
    other = _batch(tmp_path / "other.csv", 3, first=10)
    rule = (
        "batch big.csv (3 receipts, ¥300.00) is over the approval threshold (2 receipts or "
        "¥1,000,000.00) and needs approval by a reviewer other than 张晓梅"
    )
    refused = as_operator(home, "张晓梅", "issue", "--batch", str(big))
    assert refused.exit_code == 2, refused.output
    assert refused.stderr.startswith(f"error: {rule}; no approval matches this file's content")
    _refused(
        as_operator(home, "张晓梅", "batch", "approve", str(big)),
        "张晓梅 is a clerk; approving a batch needs a reviewer",
    )
    approved = as_operator(home, "李建国", "batch", "approve", str(other))
    assert approved.exit_code == 0, approved.output
    assert as_operator(home, "张晓梅", "issue", "--batch", str(big)).exit_code == 2  # not this file

    approved = as_operator(home, "李建国", "--json", "batch", "approve", str(big))
    assert approved.exit_code == 0, approved.output
    approval = json.loads(approved.stdout)
    assert (approval["receipts"], approval["total"], approval["approved_by"]) == (
        3,
        "300.00",
        "李建国",
    )
    _batch(big, 4)  # edited after the approval: another file
    edited = as_operator(home, "张晓梅", "issue", "--batch", str(big))
    assert edited.exit_code == 2 and "no approval matches" in edited.stderr
    _batch(big, 3)  # the approved bytes again
    issued = as_operator(home, "张晓梅", "--json", "issue", "--batch", str(big))
    assert issued.exit_code == 0, issued.output
    assert json.loads(issued.stdout)["issued"] == 3
    small = as_operator(home, "张晓梅", "issue", "--batch", str(_batch(tmp_path / "s.csv", 2, 20)))
    assert small.exit_code == 0, small.output  # within the threshold: no approval
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + f"X1,{PAYER},01,2026-10,1.001,张晓梅,李建国\n", encoding="utf-8")
    refused_bad = as_operator(home, "李建国", "batch", "approve", str(bad))
    assert refused_bad.exit_code == 1, refused_bad.output
    assert refused_bad.stderr.splitlines()[-1] == f"error: 1 problem(s); {bad} was not approved"
    listed = json.loads(ok(home, "--json", "batch", "approvals"))
    assert [a["file"] for a in listed] == ["other.csv", "big.csv"]
    assert receipts(home, "audit").exit_code == 0


def test_without_operators_a_big_batch_needs_no_approval(tmp_path: Path) -> None:
    home, _ = _stocked(tmp_path, operators=False)
    _with_threshold(home, 2)
    out = json.loads(ok(home, "--json", "issue", "--batch", str(_batch(tmp_path / "b.csv", 3))))
    assert out["issued"] == 3
    _refused(
        receipts(home, "batch", "approve", str(tmp_path / "b.csv")),
        "a workspace without operators issues batches without approval; nothing to approve",
    )
