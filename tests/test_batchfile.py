"""Batch-issue files: the good samples (CSV in UTF-8 or GBK, JSON lines), optional columns,
and problems of the whole file (header, encoding, CSV syntax), each with its exact message."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from receipts.batch.csv_file import COLUMNS
from receipts.batch.fields import BatchProblem
from receipts.batch.reader import read_batch
from receipts.domain.enums import PayerKind
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import Item, Payer
from receipts.errors import InvalidInput
from tests.support.batch_files import (
    CATALOGUE,
    GOOD,
    GOOD_JSON,
    HANDLERS,
    SAMPLES,
    read,
    row,
    write_csv,
)

pytestmark = pytest.mark.usefixtures("in_tmp_path")


# What tests/data/batch/good.* ask for; 2026-10/001's rows are not adjacent (lines 2 and 4).
EXPECTED = [
    IssueRequest(
        Payer("宁夏贺兰山实业有限公司", PayerKind.ENTERPRISE, uscc="91640100MA7600001J"),
        (
            Item(
                "01",
                "工会经费(拨缴)",
                "2026-10",
                Decimal("2000.00"),
                Decimal("100000.00"),
                Decimal("0.02"),
            ),
            Item("02", "会员会费", "2026-10", Decimal("1409.50")),
        ),
        remark="2026年10月工会经费",
        client_ref="2026-10/001",
        **HANDLERS,
    ),
    IssueRequest(
        Payer("银川市第一中学工会", PayerKind.GRASSROOTS_UNION),
        (Item("02", "会员会费", "2026-10", Decimal("1409.50")),),
        client_ref="2026-10/002",
        **HANDLERS,
    ),
    IssueRequest(
        Payer("王小明", PayerKind.INDIVIDUAL, other_id="M-0042"),
        (
            Item(
                "02", "会员会费", "2026-09", Decimal("15.00"), Decimal("3000.00"), Decimal("0.005")
            ),
        ),
        client_ref="2026-10/003",
        **HANDLERS,
    ),
]


@pytest.mark.parametrize(
    ("sample", "encoding"),
    [
        ("good.csv", None),
        ("good.csv", "utf-8"),
        ("good-gbk.csv", None),
        ("good-gbk.csv", "gbk"),
        ("good-gbk.csv", "GB18030"),
        ("good.jsonl", None),
    ],
)
def test_good_samples(sample: str, encoding: str | None) -> None:
    entries, problems = read_batch(SAMPLES / sample, CATALOGUE, encoding=encoding)
    assert problems == []
    assert [e.request for e in entries] == EXPECTED
    assert [e.line for e in entries] == ([1, 3, 4] if sample.endswith("jsonl") else [2, 3, 5])


def test_utf8_bom_and_crlf_are_read_alike(tmp_path: Path) -> None:
    data = (SAMPLES / "good.csv").read_bytes()
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"))
    entries, problems = read_batch(tmp_path / "bom.csv", CATALOGUE)
    assert problems == [] and [e.request for e in entries] == EXPECTED


def test_gbk_sample_is_the_utf8_sample_in_gbk() -> None:
    text = (SAMPLES / "good.csv").read_text(encoding="utf-8")
    assert (SAMPLES / "good-gbk.csv").read_bytes() == text.encode("gbk")
    assert not text.isascii()


def test_multi_row_receipt_keeps_row_order_and_first_line() -> None:
    rows = [row(client_ref="A", item_code="02"), row(client_ref="B"), row(client_ref="A")]
    entries, problems = read_batch(write_csv(rows), CATALOGUE)
    assert problems == []
    assert [(e.line, e.request.client_ref) for e in entries] == [(2, "A"), (3, "B")]
    assert [i.code for i in entries[0].request.items] == ["02", "01"]


def test_optional_columns_may_be_left_out_and_amount_computed() -> None:
    columns = (
        "rate",
        "client_ref",
        "payer_name",
        "payer_kind",
        "item_code",
        "period",
        "basis",
        "handler",
        "reviewer",
    )
    entries, problems = read_batch(
        write_csv([row(basis="1,000.00", rate="0.025")], columns), CATALOGUE
    )
    assert problems == []
    (item,) = entries[0].request.items
    assert (item.name, item.amount, item.basis) == (
        "工会经费(拨缴)",
        Decimal("25.00"),
        Decimal("1000.00"),
    )
    assert entries[0].request.payer == Payer("宁夏贺兰山实业有限公司", PayerKind.ENTERPRISE)


def test_trailing_empty_cells_and_blank_rows_are_ignored() -> None:
    good = ",".join(GOOD.values())
    Path("t.csv").write_text(f"{','.join(COLUMNS)},,\n\n{good},,\n,,,\n", encoding="utf-8")
    assert read(Path("t.csv")) == (["OK"], [])


NO_HEADER = "no header row: the first row must name the columns"


FILE_CASES = {
    "empty": (b"", "batch.csv:1: file is empty"),
    "only a BOM and blank lines": (b"\xef\xbb\xbf\r\n \n", "batch.csv:1: file is empty"),
    "only commas": (b",,,\n,,\n", f"batch.csv:1: {NO_HEADER}"),
    "no header": (",".join(GOOD.values()).encode(), f"batch.csv:1: {NO_HEADER}"),
    "header only": (
        ",".join(COLUMNS).encode() + b"\n",
        "batch.csv:1: file has a header but no rows",
    ),
    "missing column": (
        ",".join(c for c in COLUMNS if c != "reviewer").encode(),
        "batch.csv:1: missing column: reviewer",
    ),
    "missing columns": (
        b"client_ref,payer_name,payer_kind,item_code,handler",
        "batch.csv:1: missing columns: period, reviewer, amount (or basis and rate)",
    ),
    "unknown columns": (
        ",".join([*COLUMNS, "memo", "备注"]).encode(),
        "batch.csv:1:15: unknown columns: 'memo', '备注'",
    ),
    "misspelt column": (
        ",".join(COLUMNS).replace("reviewer", "reveiwer").encode(),
        "batch.csv:1:13: unknown column: 'reveiwer'; missing column: reviewer",
    ),
    "no amount column": (
        ",".join(c for c in COLUMNS if c not in ("amount", "rate")).encode(),
        "batch.csv:1: missing column: amount (or basis and rate)",
    ),
    "duplicate column": (
        ",".join([*COLUMNS, "amount"]).encode(),
        "batch.csv:1:15: column amount appears twice",
    ),
    "unterminated quote": (
        ",".join(COLUMNS).encode() + b'\nR1,"quoted,\n',
        "batch.csv:2: not valid CSV: unexpected end of data",
    ),
}


@pytest.mark.parametrize(("data", "expected"), FILE_CASES.values(), ids=FILE_CASES.keys())
def test_file_problems_come_alone(data: bytes, expected: str) -> None:
    Path("batch.csv").write_bytes(data)
    assert read(Path("batch.csv")) == ([], [expected])


def test_file_problem_hides_row_problems() -> None:
    path = write_csv([row(amount="x"), row(client_ref="R2")])
    path.write_text(path.read_text(encoding="utf-8") + 'R3,"open\n', encoding="utf-8")
    assert read(path) == ([], ["batch.csv:4: not valid CSV: unexpected end of data"])


def test_gbk_bytes_forced_as_utf8_are_reported_where_they_are() -> None:
    # Line 2 begins "2026-10/001," (12 characters); then comes GBK-encoded Chinese.
    assert read(SAMPLES / "good-gbk.csv", "utf-8") == (
        [],
        [f"{SAMPLES / 'good-gbk.csv'}:2:13: bytes invalid in utf-8"],
    )


def test_bad_byte_detected_in_neither_encoding() -> None:
    gbk = (SAMPLES / "good-gbk.csv").read_bytes().split(b"\n")
    gbk[3] = gbk[3].replace(b",02,", b",02\xff,")
    Path("gbk.csv").write_bytes(b"\n".join(gbk))
    # GB 18030 (which reads GBK) got further than UTF-8 (which fails on line 2), so its bad byte
    # is the one reported, after
    # "2026-10/001,宁夏贺兰山实业有限公司,enterprise,91640100MA7600001J,,02" (57 characters).
    assert read(Path("gbk.csv")) == (
        [],
        ["gbk.csv:4:58: bytes invalid in gb18030 (not utf-8 either)"],
    )
    Path("ascii.csv").write_bytes(b"client_ref\nR\xff1\n")
    assert read(Path("ascii.csv")) == (
        [],
        ["ascii.csv:2:2: bytes invalid in utf-8 (not gb18030 either)"],
    )
    assert read(Path("ascii.csv"), "gbk") == ([], ["ascii.csv:2:2: bytes invalid in gbk"])


def test_unreadable_file_and_unknown_encoding_raise() -> None:
    with pytest.raises(InvalidInput, match=r"^cannot read missing\.csv: No such file or dir"):
        read_batch(Path("missing.csv"), CATALOGUE)
    with pytest.raises(InvalidInput, match=r"^unknown encoding 'klingon'$"):
        read_batch(SAMPLES / "good.csv", CATALOGUE, encoding="klingon")


def test_problem_text() -> None:
    assert str(BatchProblem("b.csv", 3, 9, "why")) == "b.csv:3:9: why"
    assert str(BatchProblem("b.jsonl", 3, None, "why")) == "b.jsonl:3: why"


def test_jsonl_detected_by_its_first_character() -> None:
    Path("batch.txt").write_text("\n" + json.dumps(GOOD_JSON), encoding="utf-8")
    assert read(Path("batch.txt")) == (["OK"], [])
