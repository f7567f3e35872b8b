"""JSON-lines batch files, one receipt an object a line, and the one-receipt JSON file of
``receipts issue --from-json`` (the format is described in :mod:`receipts.batch.reader`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from receipts.batch.fields import (
    BatchEntry,
    BatchProblem,
    Where,
    item_from,
    payer_from,
    request_from,
    require,
)
from receipts.domain.catalogue import Catalogue
from receipts.domain.issue_request import IssueRequest
from receipts.errors import InvalidInput
from receipts.support.sizes import MAX_BATCH_FILE_BYTES, read_bounded
from receipts.support.text import decode_text

__all__ = ["read_jsonl", "read_request_json"]

# JSON keys → CSV columns, so both formats share one set of rules.
_JSON_TOP = {
    "client_ref": "client_ref",
    "handler": "handler",
    "reviewer": "reviewer",
    "remark": "remark",
    "situation": "situation",
}
_JSON_PAYER = {
    "name": "payer_name",
    "kind": "payer_kind",
    "uscc": "payer_uscc",
    "other_id": "payer_id",
}
_JSON_ITEM = {
    "code": "item_code",
    "name": "item_name",
    "period": "period",
    "amount": "amount",
    "basis": "basis",
    "rate": "rate",
}
_JSON_LABELS = MappingProxyType({column: f"payer.{key}" for key, column in _JSON_PAYER.items()})
_JSON_ITEM_LABELS = MappingProxyType({column: key for key, column in _JSON_ITEM.items()})
_NOTHING: Mapping[str, Any] = MappingProxyType({})


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def read_jsonl(
    text: str, name: str, catalogue: Catalogue, problems: list[BatchProblem]
) -> list[BatchEntry]:
    """The receipts of a decoded JSON-lines batch file ``name``; its problems go to
    ``problems``."""
    entries: list[BatchEntry] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(text.split("\n"), 1):
        where = Where(name, line, problems, labels=_JSON_LABELS)
        request = _json_receipt(raw, where, catalogue, seen) if raw.strip() else None
        if request is not None:
            entries.append(BatchEntry(line, request))
    return entries


def _json_receipt(
    raw: str, where: Where, catalogue: Catalogue, seen: dict[str, int]
) -> IssueRequest | None:
    """One line's receipt: its structure is checked first, then the rules CSV rows follow."""
    try:
        receipt = json.loads(
            raw,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=Decimal,
            object_pairs_hook=_unique_keys,
        )
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
    values |= _json_fields(
        _json_object(receipt.get("payer"), "payer", where), _JSON_PAYER, where, "payer."
    )
    items = receipt.get("items")
    if not isinstance(items, list):
        where.report(None, f"items must be an array, not {_json_type(items)}")
        items = []
    item_wheres = [
        Where(
            where.path, where.line, where.problems, labels=_JSON_ITEM_LABELS, prefix=f"item {n}: "
        )
        for n in range(1, len(items) + 1)
    ]
    item_values = [
        _json_fields(_json_object(item, "an item", w), _JSON_ITEM, w, "")
        for item, w in zip(items, item_wheres, strict=True)
    ]
    if len(where.problems) > before:
        return None
    ref, payer = require(values, "client_ref", where), payer_from(values, where)
    lines = [item_from(v, catalogue, w) for v, w in zip(item_values, item_wheres, strict=True)]
    if payer is None or ref is None or len(where.problems) > before:
        return None
    return request_from(where, ref, payer, [item for item in lines if item is not None], values)


def _json_object(value: object, what: str, where: Where) -> Mapping[str, Any]:
    if isinstance(value, dict):
        return value
    where.report(None, f"{what} must be an object, not {_json_type(value)}")
    return _NOTHING


def _json_fields(
    obj: Mapping[str, Any],
    keys: Mapping[str, str],
    where: Where,
    scope: str,
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
            where.report(
                None,
                f'{scope}{key} must be a JSON string such as "{value}", not a '
                "number (JSON numbers are read as floats)",
            )
        elif value is not None and not isinstance(value, str):
            where.report(None, f"{scope}{key} must be a string, not {_json_type(value)}")
    return out


def _json_type(value: object) -> str:
    kinds = (
        (dict, "an object"),
        (list, "an array"),
        (bool, "true/false"),
        (str, "a string"),
        (Decimal, "a number"),
    )
    return next((kind for t, kind in kinds if isinstance(value, t)), "null")


def read_request_json(path: Path, catalogue: Catalogue) -> IssueRequest:
    """One receipt from a JSON file (``receipts issue --from-json``): the object a JSON-lines
    batch has on each line, here possibly spread over several lines, decoded like a batch file;
    the first problem raises.
    """
    try:
        data = read_bounded(path, MAX_BATCH_FILE_BYTES, "a receipt request")
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    text = decode_text(data, str(path))
    problems: list[BatchProblem] = []
    where = Where(str(path), 1, problems, labels=_JSON_LABELS)
    request = _json_receipt(text, where, catalogue, {})
    if request is None or problems:
        first = problems[0] if problems else BatchProblem(str(path), 1, None, "not a receipt")
        raise InvalidInput(f"{path}: {first.message}")
    return request
