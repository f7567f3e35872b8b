"""A city with two payers, and the helpers the ``receipts payer`` CLI tests share
(docs/arrears.md): the payers' codes, a table's row count, workbooks written and read back."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from tests.support.workspaces import federation, ok

A = "91640100MA7600001J"
B = "91640100MA7600005Y"
UNION = "81640100MA7600002N"
WAGE_HEADER = ["uscc", "period", "wage", "declared_on", "source", "reason"]


def count(home: Path, table: str) -> int:
    with sqlite3.connect(home / "ledger.sqlite") as db:
        (n,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(n)


def workbook(path: Path, rows: list[list[Any]], title: str = "Sheet1") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.title = title
    for values in rows:
        sheet.append(values)
    book.save(path)
    return path


def sheet_of(path: Path) -> Worksheet:
    book = openpyxl.load_workbook(path)
    assert len(book.sheetnames) == 1
    sheet = book[book.sheetnames[0]]
    assert isinstance(sheet, Worksheet)
    return sheet


@pytest.fixture
def city(tmp_path: Path) -> Path:
    home = tmp_path / "city"
    federation(home, "640100")
    ok(
        home,
        "payer",
        "add",
        "--uscc",
        A,
        "--name",
        "宁夏贺兰山实业有限公司",
        "--kind",
        "enterprise",
        "--union-uscc",
        UNION,
        "--email",
        "caiwu@helanshan.example.cn",
    )
    ok(
        home,
        "payer",
        "add",
        "--uscc",
        B,
        "--name",
        '=HYPERLINK("http://x")',
        "--kind",
        "enterprise",
    )
    return home
