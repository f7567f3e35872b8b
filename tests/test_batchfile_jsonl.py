"""Batch-issue JSON lines files: every problem of a line, with its exact message, and repeated
references."""

from __future__ import annotations

from typing import Any

import pytest

from receipts.batch.reader import read_batch
from tests.support.batch_files import CATALOGUE, GOOD_JSON, KNOWN, read, write_jsonl

pytestmark = pytest.mark.usefixtures("in_tmp_path")


def item(**changes: Any) -> dict[str, Any]:
    """A good JSON receipt of reference R1 (another reference than the good receipt OK's)."""
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
