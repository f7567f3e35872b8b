"""One CSV reader for every import (receipts.support.csv_records): records are numbered by the
line they start on, so a message names the line a user must fix even after a cell that holds a
line break, and a malformed record is refused at its first line. The wage file (read through
receipts.commands.sheet_rows) used to number a record by the line it ended on and read quotes
leniently; it now reads like the batch, tax and bank files."""

from __future__ import annotations

from pathlib import Path

import pytest

from receipts.support.csv_records import MalformedCsv, csv_records
from tests.support import payer_wages as shared
from tests.support.payer_wages import WAGE_HEADER, A, count
from tests.support.workspaces import receipts

city = shared.city


def test_records_are_numbered_by_the_line_they_start_on() -> None:
    text = 'a,b\n1,"two\nlines"\n\n3,4\n'
    assert list(csv_records(text)) == [
        (1, ["a", "b"]),
        (2, ["1", "two\nlines"]),
        (4, []),
        (5, ["3", "4"]),
    ]


def test_a_malformed_record_is_named_at_its_first_line() -> None:
    text = 'a,b\n1,2\n3,"x"y\n5,6\n'
    records = csv_records(text)
    assert next(records) == (1, ["a", "b"])
    assert next(records) == (2, ["1", "2"])
    with pytest.raises(MalformedCsv) as caught:
        next(records)
    assert caught.value.line == 3
    assert str(caught.value).startswith("not valid CSV: ")


def test_wage_file_rows_after_a_multiline_cell_are_named_where_they_start(
    city: Path, tmp_path: Path
) -> None:
    wages = tmp_path / "wages.csv"
    wages.write_text(
        ",".join(WAGE_HEADER) + "\n"
        f'{A},2026-10,1250000.00,2026-11-05,"企业申报\n(补报)",\n'
        f"{A},2026-13,1.00,2026-11-05,企业申报,\n",
        "utf-8",
    )
    result = receipts(city, "payer", "wages", "import", str(wages))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    # The cell's line break is refused where its record starts (line 2, not 3, where it ends),
    # and the next record is line 4.
    assert lines[0] == f"error: {wages}:2: column source: source contains control character U+000A"
    assert lines[1].startswith(f"error: {wages}:4: column period: ")
    assert count(city, "wage_declarations") == 0


def test_wage_file_with_a_stray_quote_is_refused_whole(city: Path, tmp_path: Path) -> None:
    wages = tmp_path / "wages.csv"
    wages.write_text(
        ",".join(WAGE_HEADER) + "\n"
        f"{A},2026-10,1250000.00,2026-11-05,企业申报,\n"
        f'{A},2026-11,1.00,2026-12-01,"企业"申报,\n',
        "utf-8",
    )
    result = receipts(city, "payer", "wages", "import", str(wages))
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: {wages}:3: not valid CSV: " + result.stderr.split("not valid CSV: ", 1)[1].strip()
    ]
    assert count(city, "wage_declarations") == 0
