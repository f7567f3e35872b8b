"""The optional ``situation`` column of batch files (docs/formats.md, "Batch files"): the payer
situation of the sharing rules (分成), read from CSV, JSON lines and .xlsx, agreed by every row of
a receipt, and a bad value named at its row and column like any other field."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from receipts.batch.csv_file import ACCEPTED_COLUMNS, COLUMNS
from receipts.batch.reader import read_batch
from receipts.domain.sharing import PayerSituation
from tests.support.batch_files import CATALOGUE, GOOD_JSON, read, row, write_csv
from tests.support.batch_files import write_jsonl as jsonl

pytestmark = pytest.mark.usefixtures("in_tmp_path")
COLUMN = ACCEPTED_COLUMNS.index("situation") + 1


def test_csv_rows_state_their_situation_or_leave_it_to_the_payer_kind() -> None:
    rows = [row(client_ref="A", situation="tax_collected"), row(client_ref="B")]
    entries, problems = read_batch(write_csv(rows, ACCEPTED_COLUMNS), CATALOGUE)
    assert problems == []
    assert [e.request.situation for e in entries] == [PayerSituation.TAX_COLLECTED, None]
    # The column may be left out altogether (files written before it).
    entries, problems = read_batch(write_csv([row()], COLUMNS), CATALOGUE)
    assert problems == [] and entries[0].request.situation is None


def test_a_bad_or_disagreeing_situation_is_named_at_its_row_and_column() -> None:
    rows = [
        row(client_ref="A", situation="by_cheque"),
        row(client_ref="B", situation="finance_budget"),
        row(client_ref="B", situation="tax_collected"),
    ]
    assert read(write_csv(rows, ACCEPTED_COLUMNS)) == (
        [],
        [
            f"batch.csv:2:{COLUMN}: 'by_cheque' is not a valid payer situation (one of: "
            "enterprise_full, grassroots_remits, tax_collected, finance_budget)",
            f"batch.csv:4:{COLUMN}: rows of reference B disagree on situation: "
            "'finance_budget' (line 3) ≠ 'tax_collected' (line 4)",
        ],
    )


def test_json_lines_and_xlsx_take_it_too() -> None:
    good = jsonl({**GOOD_JSON, "situation": "grassroots_remits"})
    entries, problems = read_batch(good, CATALOGUE)
    assert problems == [] and entries[0].request.situation is PayerSituation.GRASSROOTS_REMITS
    _, problems = read_batch(jsonl({**GOOD_JSON, "situation": "cash"}), CATALOGUE)
    assert [str(p) for p in problems] == [
        "batch.jsonl:1: 'cash' is not a valid payer situation (one of: enterprise_full, "
        "grassroots_remits, tax_collected, finance_budget)"
    ]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(ACCEPTED_COLUMNS))
    values = row(situation="finance_budget")
    sheet.append([values[c] for c in ACCEPTED_COLUMNS])
    book.save("batch.xlsx")
    entries, problems = read_batch(Path("batch.xlsx"), CATALOGUE)
    assert problems == [] and entries[0].request.situation is PayerSituation.FINANCE_BUDGET
