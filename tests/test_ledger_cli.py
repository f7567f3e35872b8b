"""The ledger through the CLI: stock, issue (one, JSON, batch), reverse, show, audit, backup."""

from __future__ import annotations

import json
import stat
import tarfile
from pathlib import Path

import pytest

from tests.support.postgres import PgSchemas
from tests.support.workspaces import federation, receipts

CSV_HEADER = (
    "client_ref,payer_name,payer_kind,payer_uscc,item_code,period,amount,handler,reviewer\n"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def city(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str | None]:
    """A stocked 640100 workspace (and its ledger URL when on PostgreSQL)."""
    db: str | None = None
    if request.param == "postgresql":
        schemas: PgSchemas = request.getfixturevalue("pg_schemas")
        db = schemas.new()
    prov, home = tmp_path / "prov", tmp_path / "yinchuan"
    federation(prov, "640000")
    federation(home, "640100")
    assert receipts(prov, "org", "add", "--code", "640100").exit_code == 0
    alloc = tmp_path / "alloc.xml"
    result = receipts(
        prov, "stock", "allocate", "--to", "640100", "--count", "100", "-o", str(alloc)
    )
    assert result.exit_code == 0, result.output
    result = receipts(home, "stock", "import", str(alloc), db=db)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("imported 6471")
    again = receipts(home, "stock", "import", str(alloc), db=db)
    assert again.stdout.startswith("already imported: 6471")
    return home, db


def test_issue_one_from_options(city: tuple[Path, str | None]) -> None:
    home, db = city
    result = receipts(
        home,
        "--json",
        "issue",
        "--payer-name",
        "宁夏贺兰山实业有限公司",
        "--payer-kind",
        "enterprise",
        "--payer-uscc",
        "91640100MA7600001J",
        "--item",
        "01:2026-10:100000.00*0.02",
        "--item",
        "02:2026-10:1409.50",
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
        db=db,
    )
    assert result.exit_code == 0, result.output
    [out] = json.loads(result.stdout)
    assert (out["number"], out["total"], out["status"]) == ("0000000001", "3409.50", "issued")
    shown = receipts(home, "--json", "show", out["code"], "1", db=db)
    data = json.loads(shown.stdout)
    assert data["capitals"] == "叁仟肆佰零玖元伍角整" and data["status"] == "issued"
    assert [i["amount"] for i in data["items"]] == ["2000.00", "1409.50"]


def test_batch_with_a_bad_row_then_rerun(city: tuple[Path, str | None], tmp_path: Path) -> None:
    home, db = city
    rows = [
        "B1,甲公司,enterprise,91640100MA7600001J,01,2026-10,100.00,张晓梅,李建国",
        "B2,乙公司,enterprise,91640100MA7600001J,01,2026-10,12.345,张晓梅,李建国",
        "B3,丙公司,enterprise,91640100MA7600001J,01,2026-10,300.00,张晓梅,李建国",
    ]
    batch = tmp_path / "october.csv"
    batch.write_text(CSV_HEADER + "\n".join(rows) + "\n", encoding="gbk")
    result = receipts(home, "issue", "--batch", str(batch), db=db)
    assert result.exit_code == 1
    assert "october.csv:3:7: amount 12.345 has a fraction of a fen" in result.stderr
    assert result.stdout.startswith("issued 2 receipt(s), total 400.00")
    rerun = receipts(home, "--json", "issue", "--batch", str(batch), db=db)
    summary = json.loads(rerun.stdout)
    assert (summary["issued"], summary["already_issued"]) == (0, 2)
    stop = receipts(home, "issue", "--batch", str(batch), "--stop-on-error", db=db)
    assert stop.exit_code == 1 and "nothing was issued" in stop.stderr


def test_reverse_and_audit_and_exit_codes(city: tuple[Path, str | None]) -> None:
    home, db = city
    args = [
        "issue",
        "--payer-name",
        "某单位",
        "--payer-kind",
        "other",
        "--item",
        "99:2026-11:50.00",
        "--handler",
        "甲",
        "--reviewer",
        "乙",
    ]
    assert receipts(home, *args, db=db).exit_code == 0
    code = json.loads(receipts(home, "--json", "stock", "list", db=db).stdout)[0]["segment"][:8]
    red = receipts(
        home,
        "reverse",
        code,
        "1",
        "--reason",
        "重复开具",
        "--handler",
        "甲",
        "--reviewer",
        "乙",
        db=db,
    )
    assert red.exit_code == 0, red.output
    again = receipts(
        home, "reverse", code, "1", "--reason", "x", "--handler", "甲", "--reviewer", "乙", db=db
    )
    assert again.exit_code == 1
    assert again.stderr == f"error: {code}-0000000001 was already reversed by {code}-0000000002\n"
    status = json.loads(receipts(home, "--json", "show", code, "1", db=db).stdout)["status"]
    assert status == "reversed"
    audit = receipts(home, "audit", db=db)
    assert audit.exit_code == 0 and audit.stdout.startswith("OK: ")
    bad = receipts(
        home,
        "issue",
        "--payer-name",
        "x",
        "--payer-kind",
        "other",
        "--item",
        "07:2026-11:5.00",
        "--handler",
        "a",
        "--reviewer",
        "b",
        db=db,
    )
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: unknown item code '07'")
    missing = receipts(home, "show", code, "99", db=db)
    assert (missing.exit_code, missing.stderr) == (
        2,
        f"error: no receipt {code}-0000000099 in this ledger\n",
    )


def test_backup_while_in_use(city: tuple[Path, str | None], tmp_path: Path) -> None:
    home, db = city
    target = tmp_path / "backup.tar.gz"
    result = receipts(home, "backup", "-o", str(target), db=db)
    assert result.exit_code == 0, result.output
    with tarfile.open(target) as tar:
        names = tar.getnames()
    assert "workspace/receipts.toml" in names and "workspace/keys/signing.key" in names
    assert ("workspace/ledger.sqlite" in names) == (db is None)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # it holds the keys
    assert receipts(home, "backup", "-o", str(target), db=db).exit_code == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_environment_failures_exit_3_with_one_line(tmp_path: Path) -> None:
    home = tmp_path / "yc"
    federation(home, "640100")
    down = receipts(home, "org", "list", db="postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert down.exit_code == 3
    first, *rest = down.stderr.splitlines()
    assert first.startswith("error: database: (psycopg.OperationalError) connection failed")
    assert rest == [f"(details in {home}/logs/receipts.log)"]
    assert "Traceback" in (home / "logs" / "receipts.log").read_text()
    (home / "ledger.sqlite").write_bytes(b"garbage, not a database")
    broken = receipts(home, "org", "list")
    assert broken.exit_code == 3
    assert broken.stderr.startswith(
        "error: database: (sqlite3.DatabaseError) file is not a database\n"
    )
    assert receipts(home, "org", "list", db="mysql://x").stderr == (
        "error: unsupported database 'mysql'\n"
    )


def test_allocating_to_a_child_without_a_file_takes_no_numbers(tmp_path: Path) -> None:
    prov = tmp_path / "prov"
    federation(prov, "640000")
    assert receipts(prov, "org", "add", "--code", "640100").exit_code == 0
    refused = receipts(prov, "stock", "allocate", "--to", "640100", "--count", "100")
    assert refused.exit_code == 2
    assert "give -o FILE" in refused.output
    # The refused allocation took nothing: the next one starts at the first number.
    alloc = tmp_path / "alloc.xml"
    done = receipts(
        prov, "--json", "stock", "allocate", "--to", "640100", "--count", "10", "-o", str(alloc)
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["segment"].endswith(":1-10")
