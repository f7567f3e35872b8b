"""Batch-issue files: CSV in UTF-8 or GBK and JSON lines, every problem with its exact message."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from receipts.batch.csv_file import COLUMNS
from receipts.batch.fields import BatchProblem
from receipts.batch.reader import read_batch
from receipts.domain.catalogue import Catalogue
from receipts.domain.enums import PayerKind
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import Item, Payer
from receipts.errors import InvalidInput

SAMPLES = Path(__file__).parent / "data" / "batch"
CATALOGUE = Catalogue()
KNOWN = "(known: 01, 02, 03, 99)"
HANDLERS = {"handler": "张晓梅", "reviewer": "李建国"}
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
GOOD = {
    "client_ref": "OK",
    "payer_name": "宁夏贺兰山实业有限公司",
    "payer_kind": "enterprise",
    "payer_uscc": "91640100MA7600001J",
    "payer_id": "",
    "item_code": "01",
    "item_name": "",
    "period": "2026-10",
    "amount": "2000.00",
    "basis": "",
    "rate": "",
    "handler": "张晓梅",
    "reviewer": "李建国",
    "remark": "",
}
GOOD_JSON: dict[str, Any] = {
    "client_ref": "OK",
    "payer": {"name": "宁夏贺兰山实业有限公司", "kind": "enterprise"},
    "items": [{"code": "01", "period": "2026-10", "amount": "2000.00"}],
    **HANDLERS,
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files are named relative to tmp_path, so messages read ``batch.csv:3:9: ...``."""
    monkeypatch.chdir(tmp_path)


def row(**changes: str) -> dict[str, str]:
    """A good CSV row of reference R1 (another reference than the good receipt OK's)."""
    return {**GOOD, "client_ref": "R1", **changes}


def write_csv(
    rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS, name: str = "batch.csv"
) -> Path:
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(name)
    path.write_text(text.getvalue(), encoding="utf-8")
    return path


def write_jsonl(*receipts: dict[str, Any] | str, name: str = "batch.jsonl") -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in receipts]
    path = Path(name)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read(path: Path, encoding: str | None = None) -> tuple[list[str | None], list[str]]:
    """References of the entries, and the problems as the CLI prints them."""
    entries, problems = read_batch(path, CATALOGUE, encoding=encoding)
    return [e.request.client_ref for e in entries], [str(p) for p in problems]


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


ROW_CASES = {
    "not an amount": ([row(amount="12,34")], ["3:9: not an amount: '12,34'"]),
    "fraction of a fen": ([row(amount="12.345")], ["3:9: amount 12.345 has a fraction of a fen"]),
    "negative amount": ([row(amount="-5.00")], ["3:9: amount -5.00 is negative"]),
    "zero amount": ([row(amount="0")], ["3:9: amount 0.00 is not positive"]),
    "no amount": ([row(amount="")], ["3:9: amount is required unless basis and rate are given"]),
    "unknown item code": ([row(item_code="07")], [f"3:6: unknown item code '07' {KNOWN}"]),
    "malformed item code": ([row(item_code="1")], ["3:6: item code '1' must be 2 to 4 digits"]),
    "wrong item name": ([row(item_name="会费")], ["3:7: item 01 is '工会经费(拨缴)', not '会费'"]),
    "bad period": ([row(period="2026-13")], ["3:8: item period '2026-13' must be YYYY-MM"]),
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
    "bad rate": ([row(basis="100.00", rate="2%")], ["3:11: not a rate: '2%'"]),
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
            "3:3: 'company' is not a valid payer kind (one of: enterprise, grassroots_union, "
            "federation, individual, other)"
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


def item(**changes: Any) -> dict[str, Any]:
    return {**GOOD_JSON, "client_ref": "R1", **changes}


JSON_CASES = {
    "number amount": (
        item(items=[{"code": "01", "period": "2026-10", "amount": 2000.5}]),
        'item 1: amount must be a JSON string such as "2000.5", not a number '
        "(JSON numbers are read as floats)",
    ),
    "unknown key": (item(memo="x"), "unknown key 'memo'"),
    "unknown payer keys": (
        item(payer={**GOOD_JSON["payer"], "tax": "1", "id": "2"}),
        "unknown keys 'payer.tax', 'payer.id'",
    ),
    "unknown item key": (
        item(items=[{**GOOD_JSON["items"][0], "price": "1"}]),
        "item 1: unknown key 'price'",
    ),
    "not JSON": (
        '{"client_ref": "R1",}',
        "2:21: not valid JSON: Expecting property name enclosed in double quotes",
    ),
    "duplicate key": (
        '{"client_ref": "R1", "client_ref": "R2"}',
        "not valid JSON: key 'client_ref' appears twice",
    ),
    "not an object": ('["R1"]', "a line must be a JSON object, not an array"),
    "payer not an object": (item(payer="甲"), "payer must be an object, not a string"),
    "items not an array": (item(items=None), "items must be an array, not null"),
    "an item not an object": (
        item(items=["01"]),
        "item 1: an item must be an object, not a string",
    ),
    "text not a string": (item(handler=True), "handler must be a string, not true/false"),
    "no reference": (item(client_ref=None), "client_ref is required"),
    "no payer name": (item(payer={"kind": "individual"}), "payer.name is required"),
    "bad USCC": (
        item(payer={**GOOD_JSON["payer"], "uscc": "91110000600037341K"}),
        "USCC '91110000600037341K' has a wrong check character (expected L)",
    ),
    "item problems": (
        item(
            items=[
                {"code": "07", "period": "2026-10", "amount": "1.00"},
                {"code": "01", "period": "2026-10", "amount": "12.345"},
                {"code": "01", "period": "2026-10", "basis": "100.00"},
            ]
        ),
        f"item 1: unknown item code '07' {KNOWN}",
        "item 2: amount 12.345 has a fraction of a fen",
        "item 3: rate is required with basis",
    ),
    "no items": (item(items=[]), "a receipt has 1-8 items, not 0"),
    "too many items": (item(items=GOOD_JSON["items"] * 9), "a receipt has 1-8 items, not 9"),
}


@pytest.mark.parametrize(
    ("receipt", "expected"), [(c[0], c[1:]) for c in JSON_CASES.values()], ids=JSON_CASES.keys()
)
def test_bad_json_lines(receipt: dict[str, Any] | str, expected: tuple[str, ...]) -> None:
    refs, problems = read(write_jsonl(GOOD_JSON, receipt, GOOD_JSON | {"client_ref": "OK2"}))
    assert refs == ["OK", "OK2"]
    assert problems == [
        f"batch.jsonl:{p}" if p[0].isdigit() else f"batch.jsonl:2: {p}" for p in expected
    ]


def test_duplicate_reference_in_jsonl_is_refused_on_the_later_line() -> None:
    other = GOOD_JSON | {"handler": "王芳"}
    entries, problems = read_batch(write_jsonl(GOOD_JSON, other, GOOD_JSON), CATALOGUE)
    assert [(e.line, e.request.handler) for e in entries] == [(1, "张晓梅")]
    assert [str(p) for p in problems] == [
        "batch.jsonl:2: reference OK is already on line 1",
        "batch.jsonl:3: reference OK is already on line 1",
    ]


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
