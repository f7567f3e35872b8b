"""Writing and reading batch-issue files in tests: a good CSV row and JSON receipt to vary, the
sample files, and the problems as the CLI prints them. Tests run with their tmp_path as the
working directory (the ``in_tmp_path`` fixture), so messages read ``batch.csv:3:9: ...``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from receipts.batch.csv_file import COLUMNS
from receipts.batch.reader import read_batch
from receipts.domain.catalogue import Catalogue

__all__ = [
    "CATALOGUE",
    "GOOD",
    "GOOD_JSON",
    "HANDLERS",
    "KNOWN",
    "SAMPLES",
    "read",
    "row",
    "write_csv",
    "write_jsonl",
]

#: The sample batch files (good ones, in UTF-8, GBK and JSON lines).
SAMPLES = Path(__file__).resolve().parent.parent / "data" / "batch"


CATALOGUE = Catalogue()


#: How a message about an unknown item code lists the catalogue's codes.
KNOWN = "(known: 01, 02, 03, 99)"


HANDLERS = {"handler": "张晓梅", "reviewer": "李建国"}


#: A good CSV row, reference OK.
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


#: A good JSON receipt, reference OK.
GOOD_JSON: dict[str, Any] = {
    "client_ref": "OK",
    "payer": {"name": "宁夏贺兰山实业有限公司", "kind": "enterprise"},
    "items": [{"code": "01", "period": "2026-10", "amount": "2000.00"}],
    **HANDLERS,
}


def row(**changes: str) -> dict[str, str]:
    """A good CSV row of reference R1 (another reference than the good receipt OK's)."""
    return {**GOOD, "client_ref": "R1", **changes}


def write_csv(
    rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS, name: str = "batch.csv"
) -> Path:
    """A UTF-8 CSV file of ``rows`` under ``columns`` (a header, then one line a row)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(name)
    path.write_text(text.getvalue(), encoding="utf-8")
    return path


def write_jsonl(*receipts: dict[str, Any] | str, name: str = "batch.jsonl") -> Path:
    """A JSON lines file, one receipt (or a raw line given as text) a line."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in receipts]
    path = Path(name)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read(path: Path, encoding: str | None = None) -> tuple[list[str | None], list[str]]:
    """References of the entries, and the problems as the CLI prints them."""
    entries, problems = read_batch(path, CATALOGUE, encoding=encoding)
    return [e.request.client_ref for e in entries], [str(p) for p in problems]
