"""Batch-issue files for ``receipts issue --batch FILE``: CSV (one row per item) or JSON lines.

Every problem is returned as a :class:`BatchProblem` (``FILE:LINE:COLUMN: message``); a receipt
with any problem yields no entry, and the others are still returned.

**CSV**: a header row naming the columns is required (names exactly as here, in any order).

==============  =========  ======================================================================
``client_ref``  required   the source system's reference of the receipt, unique per issuer
                           forever: 1-64 of ``A-Z a-z 0-9 . _ : / -``
``payer_name``  required   交款人, 1-100 characters
``payer_kind``  required   ``enterprise|grassroots_union|federation|individual|other``
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
==============  =========  ======================================================================

``amount`` is required unless ``basis`` and ``rate`` are given (its column too); then it is
basis × rate rounded half up to the fen, and if all three are given they must agree. Rows sharing
a ``client_ref`` are one receipt of 1-8 items in row order (adjacent or not) and must agree on
``payer_*``, ``handler``, ``reviewer`` and ``remark``. Blank rows are skipped; cells are taken as
they are, not trimmed.

**Encodings**: UTF-8 (with or without a BOM) is tried, then GBK, which Chinese spreadsheets
export; ``encoding`` (``utf-8``, ``gbk``, ``gb18030``...) forces one. An undecodable byte is
reported at its line and character column.

**JSON lines** (``.jsonl``/``.ndjson``, or a first non-blank character ``{``): one receipt a
line, the same fields and rules, amounts as JSON strings, ``null`` as absent, e.g. (one line)::

    {"client_ref": "2026-10/001", "payer": {"name": "宁夏贺兰山实业有限公司", "kind":
     "enterprise", "uscc": "91640100MA7600001J"}, "items": [{"code": "01", "period": "2026-10",
     "amount": "2000.00", "basis": "100000.00", "rate": "0.02"}], "handler": "张晓梅",
     "reviewer": "李建国", "remark": "2026年10月工会经费"}

``payer`` may have ``other_id`` instead of ``uscc``; an item may have its ``name``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from receipts.catalogue import Catalogue
from receipts.errors import InvalidInput
from receipts.model import MAX_ITEMS, Item, Payer
from receipts.money import compute_amount, parse_amount, parse_rate
from receipts.requests import IssueRequest
from receipts.tiers import PayerKind

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "BatchEntry",
    "BatchProblem",
    "read_batch",
    "read_request_json",
]

#: Every CSV column, in the documented order.
COLUMNS = (
    "client_ref", "payer_name", "payer_kind", "payer_uscc", "payer_id", "item_code", "item_name",
    "period", "amount", "basis", "rate", "handler", "reviewer", "remark",
)
#: Columns a CSV header must name (and ``amount``, unless it names ``basis`` and ``rate``).
REQUIRED_COLUMNS = (
    "client_ref", "payer_name", "payer_kind", "item_code", "period", "handler", "reviewer",
)
# What every row of one receipt must repeat identically.
_RECEIPT_FIELDS = ("payer_name", "payer_kind", "payer_uscc", "payer_id", "handler", "reviewer",
                   "remark")
# JSON keys → CSV columns, so both formats share one set of rules.
_JSON_TOP = {"client_ref": "client_ref", "handler": "handler", "reviewer": "reviewer",
             "remark": "remark"}
_JSON_PAYER = {"name": "payer_name", "kind": "payer_kind", "uscc": "payer_uscc",
               "other_id": "payer_id"}
_JSON_ITEM = {"code": "item_code", "name": "item_name", "period": "period", "amount": "amount",
              "basis": "basis", "rate": "rate"}
_JSON_LABELS = MappingProxyType({column: f"payer.{key}" for key, column in _JSON_PAYER.items()})
_JSON_ITEM_LABELS = MappingProxyType({column: key for key, column in _JSON_ITEM.items()})
_JSON_SUFFIXES = (".jsonl", ".ndjson")
# Which field a domain error is about, by the first of these words its message contains.
_FIELD_OF = {
    "payer name": "payer_name", "payer kind": "payer_kind", "a payer has": "payer_id",
    "payer ID": "payer_id", "USCC": "payer_uscc", "handler": "handler", "reviewer": "reviewer",
    "remark": "remark", "client reference": "client_ref", "item period": "period",
    "item amount": "amount",
}
_NO_HEADER = "no header row: the first row must name the columns"
_NOTHING: Mapping[str, Any] = MappingProxyType({})
T = TypeVar("T")


@dataclass(frozen=True)
class BatchProblem:
    """Why a file, a row or a receipt of a batch was refused, and where."""

    path: str
    """The file, as given."""
    line: int
    """1-based line (a receipt's first line for a problem of the whole receipt)."""
    column: int | None
    """1-based CSV column of the field, or a JSON line's character; None when it is no field."""
    message: str
    """What is wrong."""

    def __str__(self) -> str:
        column = "" if self.column is None else f":{self.column}"
        return f"{self.path}:{self.line}{column}: {self.message}"


@dataclass(frozen=True)
class BatchEntry:
    """One receipt the batch asks for."""

    line: int
    """The receipt's first line in the file."""
    request: IssueRequest
    """What to issue; its ``client_ref`` is set."""


def read_batch(
    path: Path, catalogue: Catalogue, *, encoding: str | None = None
) -> tuple[list[BatchEntry], list[BatchProblem]]:
    """Read a batch file: the receipts it asks for in file order, and every problem found.

    A problem with the file itself (empty, undecodable, a bad CSV header) comes alone, with no
    entries. Only an unreadable file or an unknown ``encoding`` raises :class:`InvalidInput`.
    """
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"cannot read {name}: {error.strerror or error}") from None
    text = _decode(data, name, encoding)
    if isinstance(text, BatchProblem):
        return [], [text]
    if not text.strip():
        return [], [BatchProblem(name, 1, None, "file is empty")]
    problems: list[BatchProblem] = []
    if path.suffix.lower() in _JSON_SUFFIXES or text.lstrip().startswith("{"):
        entries = _read_jsonl(text, name, catalogue, problems)
    else:
        entries = _read_csv(text, name, catalogue, problems)
    problems.sort(key=lambda problem: problem.line)
    return entries, problems


def _decode(data: bytes, name: str, encoding: str | None) -> str | BatchProblem:
    """The text, or where its first undecodable byte is (of the encoding that got furthest)."""
    if encoding is None:
        tries = ["utf-8", "gbk"]
    else:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise InvalidInput(f"unknown encoding {encoding!r}") from None
        tries = ["utf-8" if codec == "utf-8-sig" else codec]
    failures: list[tuple[int, str, bytes]] = []
    for codec in tries:
        body = data.removeprefix(codecs.BOM_UTF8) if codec == "utf-8" else data
        try:
            return body.decode(codec)
        except UnicodeDecodeError as error:
            failures.append((error.start, codec, body))
    start, codec, body = max(failures, key=lambda failure: failure[0])
    line_start = body.rfind(b"\n", 0, start) + 1
    column = len(body[line_start:start].decode(codec, errors="replace")) + 1
    others = "".join(f" (not {other} either)" for other in tries if other != codec)
    return BatchProblem(name, body.count(b"\n", 0, start) + 1, column,
                        f"bytes invalid in {codec}{others}")


@dataclass(slots=True)
class _Where:
    """Where fields come from (a CSV row, a JSON line or item) and where their problems go."""

    path: str
    line: int
    problems: list[BatchProblem]
    columns: Mapping[str, int] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def report(self, name: str | None, message: str, column: int | None = None) -> None:
        if name is not None:
            column = self.columns.get(name)
        self.problems.append(BatchProblem(self.path, self.line, column, self.prefix + message))


def _build(where: _Where, make: Callable[[], T], name: str | None = None) -> T | None:
    """``make()``, or None with its domain error reported against the field it is about."""
    try:
        return make()
    except InvalidInput as error:
        message = str(error)
        about = name or next((f for words, f in _FIELD_OF.items() if words in message), None)
        where.report(about, message)
        return None


def _required(values: Mapping[str, str], name: str, where: _Where) -> str | None:
    value = values.get(name, "")
    if not value:
        where.report(name, f"{where.label(name)} is required")
        return None
    return value


def _payer_from(values: Mapping[str, str], where: _Where) -> Payer | None:
    """The payer of a receipt's fields; handler and reviewer must be there too."""
    name = _required(values, "payer_name", where)
    kind = _required(values, "payer_kind", where)
    _required(values, "handler", where)
    _required(values, "reviewer", where)
    if name is None or kind is None:
        return None
    uscc, other = values.get("payer_uscc") or None, values.get("payer_id") or None
    return _build(where, lambda: Payer(name, PayerKind(kind), uscc, other))


def _money(values: Mapping[str, str], name: str, where: _Where) -> Decimal | None:
    text = values.get(name, "")
    if not text:
        return None
    parse = parse_rate if name == "rate" else parse_amount
    # parse_amount's messages say "amount"; name the basis when it is the basis.
    prefix = "basis: " if name == "basis" else ""
    try:
        return parse(text)
    except InvalidInput as error:
        where.report(name, f"{prefix}{error}")
        return None


def _item_from(values: Mapping[str, str], catalogue: Catalogue, where: _Where) -> Item | None:
    """One receipt line; the catalogue gives its name and basis × rate its missing amount."""
    before = len(where.problems)
    code = _required(values, "item_code", where)
    name = None if code is None else _build(where, lambda: catalogue.name_of(code), "item_code")
    printed = values.get("item_name", "")
    if name is not None and printed and printed != name:
        where.report("item_name", f"item {code} is {name!r}, not {printed!r}")
    period = _required(values, "period", where)
    amount, basis, rate = (_money(values, n, where) for n in ("amount", "basis", "rate"))
    given = {n for n in ("amount", "basis", "rate") if values.get(n)}
    if {"basis", "rate"} & given and not {"basis", "rate"} <= given:
        absent, present = ("rate", "basis") if "basis" in given else ("basis", "rate")
        where.report(absent, f"{where.label(absent)} is required with {where.label(present)}")
    elif basis is not None and rate is not None:
        computed = _build(where, lambda: compute_amount(basis, rate), "amount")
        if amount is not None and computed is not None and amount != computed:
            where.report("amount", f"amount {amount} is not basis {basis} × rate {rate} = "
                                   f"{computed}")
        amount = computed if amount is None else amount
    elif not given:
        required = f"{where.label('amount')} is required unless basis and rate are given"
        where.report("amount", required)
    if amount is not None and amount <= 0:
        where.report("amount", f"amount {amount} is not positive")
    if len(where.problems) > before or not (code and name and period and amount):
        return None
    return _build(where, lambda: Item(code, name, period, amount, basis, rate))


def _request_from(
    where: _Where, ref: str, payer: Payer, items: list[Item], values: Mapping[str, str]
) -> IssueRequest | None:
    handler, reviewer, remark = values["handler"], values["reviewer"], values["remark"]
    return _build(where, lambda: IssueRequest(payer, tuple(items), handler, reviewer, remark, ref))


@dataclass(slots=True)
class _Gathering:
    """A CSV receipt being gathered from its rows: its first row, whose receipt fields the other
    rows must repeat, and its payer."""

    where: _Where
    fields: dict[str, str]
    payer: Payer | None
    items: list[Item] = field(default_factory=list)
    rows: int = 0
    bad: bool = False


def _read_csv(
    text: str, name: str, catalogue: Catalogue, problems: list[BatchProblem]
) -> list[BatchEntry]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] = []
    columns: dict[str, int] = {}
    receipts: dict[str, _Gathering] = {}
    last = 0
    try:
        for row in reader:
            line, last = last + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if not header:
                header = row[: max(n for n, cell in enumerate(row, 1) if cell)]  # no empty tail
                if problem := _check_header(header, name, line):
                    problems.append(problem)
                    return []
                columns = {column: n for n, column in enumerate(header, 1)}
                continue
            where, before = _Where(name, line, problems, columns), len(problems)
            if any(row[len(header):]):
                where.report(None, f"row has {len(row)} fields, the header {len(header)}",
                             len(header) + 1)
            values = dict(zip(header, row, strict=False))
            _csv_row({c: values.get(c, "") for c in COLUMNS}, where, receipts, catalogue, before)
    except csv.Error as error:  # reported where the record it could not read begins
        problems[:] = [BatchProblem(name, last + 1, None, f"not valid CSV: {error}")]
        return []
    if not header:
        problems.append(BatchProblem(name, 1, None, _NO_HEADER))
    elif not receipts and not problems:
        problems.append(BatchProblem(name, last, None, "file has a header but no rows"))
    built = ((g, _request_from(g.where, ref, g.payer, g.items, g.fields))
             for ref, g in receipts.items() if not g.bad and g.payer is not None)
    return [BatchEntry(g.where.line, request) for g, request in built if request is not None]


def _check_header(header: list[str], name: str, line: int) -> BatchProblem | None:
    if not set(COLUMNS).intersection(header):
        return BatchProblem(name, line, None, _NO_HEADER)
    seen: set[str] = set()
    for n, column in enumerate(header, 1):
        if column in seen:
            return BatchProblem(name, line, n, f"column {column} appears twice")
        seen.add(column)
    unknown = [column for column in header if column not in COLUMNS]
    missing = [column for column in REQUIRED_COLUMNS if column not in seen]
    if "amount" not in seen and not {"basis", "rate"} <= seen:
        missing.append("amount (or basis and rate)")
    parts = [f"{what} column{'s' if len(names) > 1 else ''}: {', '.join(names)}"
             for what, names in (("unknown", [repr(u) for u in unknown]), ("missing", missing))
             if names]
    if not parts:
        return None
    return BatchProblem(name, line, header.index(unknown[0]) + 1 if unknown else None,
                        "; ".join(parts))


def _csv_row(
    values: dict[str, str], where: _Where, receipts: dict[str, _Gathering], catalogue: Catalogue,
    before: int,
) -> None:
    """Add one row to its receipt (rows of a reference need not be adjacent); a row with
    problems since ``before`` spoils its receipt."""
    ref = _required(values, "client_ref", where)
    if ref is None:
        return
    gathering = receipts.get(ref)
    if gathering is None:
        fields = {f: values[f] for f in _RECEIPT_FIELDS}
        gathering = receipts[ref] = _Gathering(where, fields, _payer_from(values, where))
    else:
        for f, first in gathering.fields.items():
            if values[f] != first:
                where.report(f, f"rows of reference {ref} disagree on {f}: {first!r} (line "
                                f"{gathering.where.line}) ≠ {values[f]!r} (line {where.line})")
    gathering.rows += 1
    if gathering.rows == MAX_ITEMS + 1:
        where.report(None, f"reference {ref} has more than {MAX_ITEMS} rows "
                           f"(a receipt has 1-{MAX_ITEMS} items)")
    elif gathering.rows <= MAX_ITEMS:
        item = _item_from(values, catalogue, where)
        if item is not None:
            gathering.items.append(item)
    gathering.bad = gathering.bad or len(where.problems) > before


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _read_jsonl(
    text: str, name: str, catalogue: Catalogue, problems: list[BatchProblem]
) -> list[BatchEntry]:
    entries: list[BatchEntry] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(text.split("\n"), 1):
        where = _Where(name, line, problems, labels=_JSON_LABELS)
        request = _json_receipt(raw, where, catalogue, seen) if raw.strip() else None
        if request is not None:
            entries.append(BatchEntry(line, request))
    return entries


def _json_receipt(
    raw: str, where: _Where, catalogue: Catalogue, seen: dict[str, int]
) -> IssueRequest | None:
    """One line's receipt: its structure is checked first, then the rules CSV rows follow."""
    try:
        receipt = json.loads(raw, parse_float=Decimal, parse_int=Decimal, parse_constant=Decimal,
                             object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        where.report(None, f"not valid JSON: {error.msg}", error.colno)
        return None
    except (ValueError, RecursionError) as error:  # a repeated key; absurdly deep nesting
        where.report(None, f"not valid JSON: {error or 'nested too deeply'}")
        return None
    if not isinstance(receipt, dict):
        where.report(None, f"a line must be a JSON object, not {_json_type(receipt)}")
        return None
    ref = receipt.get("client_ref")
    if isinstance(ref, str) and ref in seen:
        where.report(None, f"reference {ref} is already on line {seen[ref]}")
        return None
    if isinstance(ref, str):
        seen[ref] = where.line
    before = len(where.problems)
    values = _json_fields(receipt, _JSON_TOP, where, "", ("payer", "items"))
    values |= _json_fields(_json_object(receipt.get("payer"), "payer", where), _JSON_PAYER,
                           where, "payer.")
    items = receipt.get("items")
    if not isinstance(items, list):
        where.report(None, f"items must be an array, not {_json_type(items)}")
        items = []
    item_wheres = [_Where(where.path, where.line, where.problems, labels=_JSON_ITEM_LABELS,
                          prefix=f"item {n}: ") for n in range(1, len(items) + 1)]
    item_values = [_json_fields(_json_object(item, "an item", w), _JSON_ITEM, w, "")
                   for item, w in zip(items, item_wheres, strict=True)]
    if len(where.problems) > before:
        return None
    ref, payer = _required(values, "client_ref", where), _payer_from(values, where)
    lines = [_item_from(v, catalogue, w) for v, w in zip(item_values, item_wheres, strict=True)]
    if payer is None or ref is None or len(where.problems) > before:
        return None
    return _request_from(where, ref, payer, [item for item in lines if item is not None], values)


def _json_object(value: object, what: str, where: _Where) -> Mapping[str, Any]:
    if isinstance(value, dict):
        return value
    where.report(None, f"{what} must be an object, not {_json_type(value)}")
    return _NOTHING


def _json_fields(
    obj: Mapping[str, Any], keys: Mapping[str, str], where: _Where, scope: str,
    nested: tuple[str, ...] = (),
) -> dict[str, str]:
    """The known keys' text by CSV column ("" when absent or null); unknown keys are refused."""
    unknown = [repr(scope + key) for key in obj if key not in keys and key not in nested]
    if unknown:
        where.report(None, f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    out: dict[str, str] = {}
    for key, column in keys.items():
        value = obj.get(key)
        out[column] = value if isinstance(value, str) else ""
        if isinstance(value, Decimal):
            where.report(None, f'{scope}{key} must be a JSON string such as "{value}", not a '
                               "number (JSON numbers are read as floats)")
        elif value is not None and not isinstance(value, str):
            where.report(None, f"{scope}{key} must be a string, not {_json_type(value)}")
    return out


def _json_type(value: object) -> str:
    kinds = ((dict, "an object"), (list, "an array"), (bool, "true/false"), (str, "a string"),
             (Decimal, "a number"))
    return next((kind for t, kind in kinds if isinstance(value, t)), "null")


def read_request_json(path: Path, catalogue: Catalogue) -> IssueRequest:
    """One receipt from a JSON file (``receipts issue --from-json``): the object a JSON-lines
    batch has on each line, here possibly spread over several lines; the first problem raises.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{path}: bytes invalid in utf-8 at offset {error.start}") from None
    problems: list[BatchProblem] = []
    where = _Where(str(path), 1, problems, labels=_JSON_LABELS)
    request = _json_receipt(text, where, catalogue, {})
    if request is None or problems:
        first = problems[0] if problems else BatchProblem(str(path), 1, None, "not a receipt")
        raise InvalidInput(f"{path}: {first.message}")
    return request
