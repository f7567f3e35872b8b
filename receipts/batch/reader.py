"""Batch-issue files for ``receipts issue --batch FILE``: CSV (one row per item) or JSON lines.

Every problem is returned as a :class:`BatchProblem` (``FILE:LINE:COLUMN: message``); a receipt
with any problem yields no entry, and the others are still returned. Decoding and telling the
formats apart happen here; :mod:`receipts.batch.csv_file` and :mod:`receipts.batch.jsonl_file`
read them, and :mod:`receipts.batch.fields` checks what either finds.

**CSV**: a header row naming the columns is required (names exactly as here, in any order).

==============  =========  ======================================================================
``client_ref``  required   the source system's reference of the receipt, unique per issuer
                           forever: 1-64 of ``A-Z a-z 0-9 . _ : / -``
``payer_name``  required   交款人, 1-100 characters
``payer_kind``  required   ``enterprise``, ``institution`` (事业单位/机关), ``grassroots_union``,
                           ``federation``, ``individual`` or ``other``
``payer_uscc``  optional   统一社会信用代码, 18 characters, check character verified
``payer_id``    optional   another identifier (1-32 letters, digits, ``-``); not with a USCC
``item_code``   required   catalogue code, e.g. ``01``
``item_name``   optional   if given, exactly the catalogue's name; if empty, the catalogue's
``period``      required   the month paid for, ``YYYY-MM``
``amount``      see below  yuan, at most two decimals: ``2000.00`` (``1,409.50`` is accepted)
``basis``       optional   e.g. the payroll, in yuan; goes with ``rate``
``rate``        optional   e.g. ``0.02``, at most 6 decimals; goes with ``basis``
``handler``     required   开票人
``reviewer``    required   复核人
``remark``      optional   at most 200 characters
``situation``   optional   payer situation for 分成 (``tax_collected`` …); empty: by payer kind
==============  =========  ======================================================================

``amount`` is required unless ``basis`` and ``rate`` are given (its column too); then it is
basis × rate rounded half up to the fen, and if all three are given they must agree. Rows sharing
a ``client_ref`` are one receipt of 1-8 items in row order (adjacent or not) and must agree on
``payer_*``, ``handler``, ``reviewer`` and ``remark``. Blank rows are skipped; cells are taken as
they are, not trimmed. Receipts that read well are then held to the union-finance rules
(:mod:`receipts.batch.rules`): ``issue --batch`` refuses a file with any rule violation whole,
every violating row reported.

**Encodings**: UTF-8 (with or without a BOM) is tried, then GB 18030 (a superset of GBK), which
Chinese spreadsheets export; ``encoding`` (``utf-8``, ``gbk``, ``gb18030``...) forces one. An
undecodable byte is reported at its line and character column (:mod:`receipts.support.text`,
the rule for every file the product reads).

**JSON lines** (``.jsonl``/``.ndjson``, or a first non-blank character ``{``): one receipt a
line, the same fields and rules, amounts as JSON strings, ``null`` as absent, e.g. (one line)::

    {"client_ref": "2026-10/001", "payer": {"name": "宁夏贺兰山实业有限公司", "kind":
     "enterprise", "uscc": "91640100MA7600001J"}, "items": [{"code": "01", "period": "2026-10",
     "amount": "2000.00", "basis": "100000.00", "rate": "0.02"}], "handler": "张晓梅",
     "reviewer": "李建国", "remark": "2026年10月工会经费"}

``payer`` may have ``other_id`` instead of ``uscc``; an item may have its ``name``.

**Excel** (``.xlsx``, or a file that is a zip): the CSV columns and rows on one worksheet, rows
numbered as Excel shows them; :mod:`receipts.batch.xlsx_file` says which sheet, and how numbers,
dates, formulas and hidden rows are read.
"""

from __future__ import annotations

from pathlib import Path

from receipts.batch.csv_file import read_csv
from receipts.batch.fields import BatchEntry, BatchProblem
from receipts.batch.jsonl_file import read_jsonl
from receipts.batch.xlsx_file import ZIP_MAGIC, read_xlsx
from receipts.domain.catalogue import Catalogue
from receipts.errors import InvalidInput
from receipts.support.sizes import MAX_BATCH_FILE_BYTES, read_bounded
from receipts.support.text import UndecodableText, decode_text

__all__ = ["read_batch"]

_JSON_SUFFIXES = (".jsonl", ".ndjson")


def read_batch(
    path: Path, catalogue: Catalogue, *, encoding: str | None = None
) -> tuple[list[BatchEntry], list[BatchProblem]]:
    """Read a batch file: the receipts it asks for in file order, and every problem found.

    A problem with the file itself (empty, undecodable, a bad CSV header) comes alone, with no
    entries. Only an unreadable file or an unknown ``encoding`` raises :class:`InvalidInput`.
    """
    name = str(path)
    try:
        data = read_bounded(path, MAX_BATCH_FILE_BYTES, "a batch file")
    except OSError as error:
        raise InvalidInput(f"cannot read {name}: {error.strerror or error}") from None
    if path.suffix.lower() == ".xlsx" or data.startswith(ZIP_MAGIC):
        problems: list[BatchProblem] = []
        entries = read_xlsx(data, name, catalogue, problems)
        problems.sort(key=lambda problem: problem.line)
        return entries, problems
    try:
        text = decode_text(data, name, encoding)
    except UndecodableText as error:
        return [], [BatchProblem(name, error.line, error.column, error.reason)]
    if not text.strip():
        return [], [BatchProblem(name, 1, None, "file is empty")]
    problems = []
    if path.suffix.lower() in _JSON_SUFFIXES or text.lstrip().startswith("{"):
        entries = read_jsonl(text, name, catalogue, problems)
    else:
        entries = read_csv(text, name, catalogue, problems)
    problems.sort(key=lambda problem: problem.line)
    return entries, problems
