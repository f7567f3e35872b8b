"""Batch-issue CSV files: every problem of a row, with its exact message; a receipt with any
problem is left out, the others are issued."""

from __future__ import annotations

from pathlib import Path

import pytest

from receipts.batch.csv_file import COLUMNS
from tests.support.batch_files import GOOD, KNOWN, read, row, write_csv

pytestmark = pytest.mark.usefixtures("in_tmp_path")


ROW_CASES = {
    "not an amount": ([row(amount="12,34")], ["3:9: not an amount: '12,34'"]),
    "fraction of a fen": ([row(amount="12.345")], ["3:9: amount 12.345 has a fraction of a fen"]),
    "negative amount": ([row(amount="-5.00")], ["3:9: amount -5.00 is negative"]),
    "zero amount": ([row(amount="0")], ["3:9: amount 0.00 is not positive"]),
    "no amount": ([row(amount="")], ["3:9: amount is required unless basis and rate are given"]),
    "unknown item code": ([row(item_code="07")], [f"3:6: unknown item code '07' {KNOWN}"]),
    "malformed item code": ([row(item_code="1")], ["3:6: item code '1' must be 2 to 4 digits"]),
    "wrong item name": ([row(item_name="会费")], ["3:7: item 01 is '工会经费(拨缴)', not '会费'"]),
    "bad period": (
        [row(period="2026-13")],
        [
            "3:8: item period '2026-13' must be a month (2026-10), a quarter (2026Q4), a range "
            "(2026-01~2026-06) or a year (2026)"
        ],
    ),
    "basis × rate disagrees": (
        [row(amount="2000.01", basis="100000.00", rate="0.02")],
        ["3:9: amount 2000.01 is not basis 100000.00 × rate 0.02 = 2000.00"],
    ),
    "basis without rate": ([row(basis="100000.00")], ["3:11: rate is required with basis"]),
    "rate without basis": ([row(rate="0.02")], ["3:10: basis is required with rate"]),
    "bad basis": (
        [row(basis="1.001", rate="0.5")],
        ["3:10: basis: amount 1.001 has a fraction of a fen"],
    ),
    "bad rate": ([row(basis="100.00", rate="2 percent")], ["3:11: not a rate: '2 percent'"]),
    "USCC check character": (
        [row(payer_uscc="91110000600037341K")],
        ["3:4: USCC '91110000600037341K' has a wrong check character (expected L)"],
    ),
    "USCC and other ID": (
        [row(payer_uscc="91110000600037341L", payer_id="M-1")],
        ["3:5: a payer has either a USCC or another ID, not both"],
    ),
    "payer kind": (
        [row(payer_kind="company")],
        [
            "3:3: 'company' is not a valid payer kind (one of: enterprise, institution, "
            "grassroots_union, federation, individual, other)"
        ],
    ),
    "no payer name": ([row(payer_name="")], ["3:2: payer_name is required"]),
    "payer name spaces": (
        [row(payer_name="甲 ")],
        ["3:2: payer name must not begin or end with spaces"],
    ),
    "no handler": ([row(handler="")], ["3:12: handler is required"]),
    "long remark": ([row(remark="x" * 201)], ["3:14: remark must be 0-200 characters, not 201"]),
    "bad reference": (
        [row(client_ref="R 1")],
        ["3:1: client reference 'R 1' must be 1-64 letters, digits or ._:/-"],
    ),
    "no reference": ([row(client_ref="")], ["3:1: client_ref is required"]),
    "rows disagree": (
        [row(client_ref="R7", payer_name="甲"), row(client_ref="R7", payer_name="乙")],
        ["4:2: rows of reference R7 disagree on payer_name: '甲' (line 3) ≠ '乙' (line 4)"],
    ),
    "rows disagree on an absent field": (
        [row(item_code="02"), row(remark="补缴")],
        ["4:14: rows of reference R1 disagree on remark: '' (line 3) ≠ '补缴' (line 4)"],
    ),
    "too many items": (
        [row()] * 9,
        ["11: reference R1 has more than 8 rows (a receipt has 1-8 items)"],
    ),
    "total too large": (
        [row(amount="9999999999999.99")] * 2,
        ["3: amount 19999999999999.98 exceeds the largest amount 9,999,999,999,999.99"],
    ),
    "two problems in a row": (
        [row(item_code="07", amount="1.001")],
        [f"3:6: unknown item code '07' {KNOWN}", "3:9: amount 1.001 has a fraction of a fen"],
    ),
    "a bad row spoils its receipt": (
        [row(), row(client_ref="R2"), row(amount="x")],
        ["5:9: not an amount: 'x'"],
    ),
}


@pytest.mark.parametrize(("rows", "expected"), ROW_CASES.values(), ids=ROW_CASES.keys())
def test_bad_rows(rows: list[dict[str, str]], expected: list[str]) -> None:
    refs, problems = read(write_csv([GOOD, *rows]))
    assert problems == [f"batch.csv:{p}" for p in expected]
    # Nothing of a bad receipt is issued; every other receipt still is.
    assert refs == (["OK", "R2"] if any(r["client_ref"] == "R2" for r in rows) else ["OK"])


def test_a_row_with_more_fields_than_the_header() -> None:
    text = ",".join(COLUMNS) + "\n" + ",".join(GOOD.values()) + ",extra\n"
    Path("t.csv").write_text(text, encoding="utf-8")
    assert read(Path("t.csv")) == ([], ["t.csv:2:15: row has 15 fields, the header 14"])


def test_mixed_file_returns_its_good_receipts() -> None:
    rows = [
        row(client_ref="A"),
        row(client_ref="B", item_code="07"),
        row(client_ref="C"),
        row(client_ref="B"),
        row(client_ref="D", payer_uscc="91110000600037341K"),
    ]
    refs, problems = read(write_csv(rows))
    assert refs == ["A", "C"]
    assert problems == [
        f"batch.csv:3:6: unknown item code '07' {KNOWN}",
        "batch.csv:6:4: USCC '91110000600037341K' has a wrong check character (expected L)",
    ]
