"""``receipts payer …`` through the CLI: add, list, show with history, rename; bad input refused
with one line; CSV import all or nothing (every bad row named by row and column, UTF-8 and
GB 18030), export and its round trip, formula injection neutralised; ``issue`` and
``issue --batch`` held against the register (docs/operations.md, "The payer register")."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.operators import as_operator, with_operators
from tests.support.workspaces import federation, ok, receipts

USCC = "91640100MA7600001J"
NAME = "宁夏贺兰山实业有限公司"
UNION = "81640100MA7600002N"
OTHER = "91640100MA7600005Y"
HEADER = "uscc,name,kind,union_uscc,email\n"


def count(home: Path, table: str) -> int:
    with sqlite3.connect(home / "ledger.sqlite") as db:
        (n,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(n)


@pytest.fixture
def city(tmp_path: Path) -> Path:
    home = tmp_path / "city"
    federation(home, "640100")
    return home


def add(home: Path, uscc: str = USCC, name: str = NAME) -> str:
    return ok(home, "payer", "add", "--uscc", uscc, "--name", name, "--kind", "enterprise",
              "--union-uscc", UNION, "--email", "caiwu@helanshan.example.cn")  # fmt: skip


def test_add_list_show_rename(city: Path) -> None:
    assert add(city) == f"registered {USCC} {NAME}\n"
    ok(
        city,
        "payer",
        "rename",
        USCC,
        "--name",
        "宁夏贺兰山实业集团有限公司",
        "--reason",
        "工商变更",
    )
    listed = json.loads(ok(city, "--json", "payer", "list"))
    assert listed == [
        {
            "uscc": USCC,
            "name": "宁夏贺兰山实业集团有限公司",
            "kind": "enterprise",
            "union_uscc": UNION,
            "email": "caiwu@helanshan.example.cn",
        }
    ]
    shown = json.loads(ok(city, "--json", "payer", "show", USCC))
    assert [(n["name"], n["reason"]) for n in shown["names"]] == [
        (NAME, None),
        ("宁夏贺兰山实业集团有限公司", "工商变更"),
    ]
    assert "工商变更" in ok(city, "payer", "show", USCC)
    ok(city, "payer", "update", USCC, "--email", "")
    assert json.loads(ok(city, "--json", "payer", "list"))[0]["email"] is None
    assert receipts(city, "audit").exit_code == 0


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--uscc", "91640100MA7600001K"),
        ("--email", "caiwu@贺兰山.cn"),
        ("--kind", "company"),
        ("--union-uscc", OTHER),
    ],
    ids=["uscc-check-character", "email-idn", "kind-unknown", "union-not-81"],
)
def test_bad_input_is_one_line_and_stores_nothing(city: Path, option: str, value: str) -> None:
    ok(city, "payer", "list")  # the ledger exists
    args = {"--uscc": USCC, "--name": NAME, "--kind": "enterprise", "--union-uscc": UNION,
            "--email": "caiwu@helanshan.example.cn", option: value}  # fmt: skip
    result = receipts(city, "payer", "add", *[x for kv in args.items() for x in kv])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")
    assert count(city, "payers") == 0


def test_import_is_all_or_nothing_with_every_bad_row(city: Path, tmp_path: Path) -> None:
    add(city)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER
        + f"{OTHER},宁夏六盘山有限公司,enterprise,,\n"
        + "91640100MA7600001K,坏的,enterprise,,\n"
        + f"{OTHER},重复,enterprise,,\n"
        + f"12640100MA7600009G,某事业单位,institution,{OTHER},a@b\n"
        + f"{USCC},宁夏贺兰山公司,enterprise,,\n",
        "utf-8",
    )
    result = receipts(city, "payer", "import", str(bad))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {bad}:3: column uscc: ")
    assert lines[1].startswith(
        f"error: {bad}:4: column uscc: {OTHER} appears again (first on row 2)"
    )
    assert lines[2].startswith(f"error: {bad}:5: column union_uscc: ")
    assert lines[3].startswith(f"error: {bad}:5: column email: ")
    assert lines[4].startswith(f"error: {bad}:6: column name: payer {USCC} is registered as {NAME}")
    assert lines[5] == f"error: 5 problem(s) in {bad}; nothing was imported"
    assert count(city, "payers") == 1
    good = tmp_path / "good.csv"
    good.write_bytes((HEADER + f"{OTHER},宁夏六盘山有限公司,enterprise,,\n").encode("gb18030"))
    assert ok(city, "payer", "import", str(good)) == "registered 1, updated 0, unchanged 0\n"


def test_export_round_trip_neutralises_formulas(city: Path, tmp_path: Path) -> None:
    add(city)
    evil = "=cmd|' /C calc'!A0"
    add(city, OTHER, evil)
    out = tmp_path / "payers.csv"
    ok(city, "payer", "export", str(out))
    rows = list(csv.reader(out.read_text("utf-8-sig").splitlines()))
    assert rows[0] == ["uscc", "name", "kind", "union_uscc", "email"]
    assert [r[1] for r in rows[1:]] == [NAME, "'" + evil]
    listed = tmp_path / "listed.csv"
    ok(city, "payer", "list", "--csv", str(listed))
    assert listed.read_bytes() == out.read_bytes()
    again = tmp_path / "again"
    federation(again, "640100")
    assert ok(again, "payer", "import", str(out)) == "registered 2, updated 0, unchanged 0\n"
    assert ok(again, "--json", "payer", "list") == ok(city, "--json", "payer", "list")
    assert ok(city, "payer", "import", str(out)) == "registered 0, updated 0, unchanged 2\n"


def test_issue_is_held_against_the_register(city: Path, tmp_path: Path) -> None:
    prov = tmp_path / "prov"
    federation(prov, "640000")
    ok(prov, "org", "add", "--code", "640100")
    stock = tmp_path / "a.xml"
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(stock))
    ok(city, "stock", "import", str(stock))
    add(city)
    wrong = "宁夏贺兰山实业公司"
    args = ["issue", "--payer-name", wrong, "--payer-kind", "enterprise", "--payer-uscc", USCC,
            "--item", "01:2026-10:2000.00", "--handler", "张晓梅",
            "--reviewer", "李建国"]  # fmt: skip
    result = receipts(city, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: payer {USCC} is registered as {NAME}, not {wrong}; rename it first with "
        "receipts payer rename\n"
    )
    batch = tmp_path / "batch.csv"
    batch.write_text(
        "client_ref,payer_name,payer_kind,payer_uscc,item_code,period,amount,handler,reviewer\n"
        f"R1,{NAME},enterprise,{USCC},01,2026-10,2000.00,张晓梅,李建国\n"
        f"R2,{wrong},enterprise,{USCC},01,2026-10,2000.00,张晓梅,李建国\n"
        f"R3,新公司,enterprise,{OTHER},01,2026-10,2000.00,张晓梅,李建国\n",
        "utf-8",
    )
    result = receipts(city, "issue", "--batch", str(batch))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == (
        f"error: {batch}:3: reference R2: payer {USCC} is registered as {NAME}, not {wrong}; "
        "rename it first with receipts payer rename"
    )
    assert count(city, "receipts") == 0
    ok(city, "payer", "rename", USCC, "--name", wrong, "--reason", "更名")
    ok(city, *args)
    assert count(city, "receipts") == 1


def test_a_batch_rerun_after_a_rename_issues_nothing_twice(city: Path, tmp_path: Path) -> None:
    """A batch issued under the old name is rerun after the payer was renamed: its rows are
    issued already, so the register (which now says another name) does not refuse the file."""
    prov = tmp_path / "prov"
    federation(prov, "640000")
    ok(prov, "org", "add", "--code", "640100")
    stock = tmp_path / "a.xml"
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(stock))
    ok(city, "stock", "import", str(stock))
    add(city)
    batch = tmp_path / "batch.csv"
    batch.write_text(
        "client_ref,payer_name,payer_kind,payer_uscc,item_code,period,amount,handler,reviewer\n"
        f"R1,{NAME},enterprise,{USCC},01,2026-10,2000.00,张晓梅,李建国\n",
        "utf-8",
    )
    ok(city, "issue", "--batch", str(batch))
    ok(city, "payer", "rename", USCC, "--name", "宁夏贺兰山实业集团有限公司", "--reason", "更名")
    rerun = receipts(city, "--json", "issue", "--batch", str(batch))
    assert rerun.exit_code == 0, rerun.output
    assert '"already_issued": 1' in rerun.stdout
    assert count(city, "receipts") == 1


def test_roles_clerk_or_admin_change_the_register(tmp_path: Path) -> None:
    home = with_operators(tmp_path / "ops", names=("李静", "张晓梅", "李建国", "王芳"))
    args = ["payer", "add", "--uscc", USCC, "--name", NAME, "--kind", "enterprise"]
    for name, role in (("王芳", "an auditor"), ("李建国", "a reviewer")):
        result = as_operator(home, name, *args)
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            f"error: {name} is {role}; registering payers needs an admin or a clerk\n"
        )
    assert as_operator(home, "张晓梅", *args).exit_code == 0
    renamed = as_operator(
        home, "李静", "payer", "rename", USCC, "--name", "新名", "--reason", "更名"
    )
    assert renamed.exit_code == 0, renamed.output
    listed = as_operator(home, "王芳", "--json", "payer", "list")  # reading needs no writer role
    assert json.loads(listed.stdout)[0]["name"] == "新名"
    log = json.loads(as_operator(home, "王芳", "--json", "log").stdout)
    assert {"张晓梅", "李静"} <= {str(e.get("operator")) for e in log}
