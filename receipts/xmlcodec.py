"""Receipt ⇄ XML (namespace ``urn:union-dues-receipt:1``, ``schemas/receipt.xsd``).

Building gives the unsigned document; signing (``signing.xmldsig``) adds the enveloped
signature. Parsing validates against the schema, then checks what a schema cannot express
(totals, capitals, reversal references, code vs issuer), naming the line and element.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from lxml import etree

from receipts.capitals import to_capitals
from receipts.errors import InvalidInput, InvalidReceipt, SchemaError
from receipts.identifiers import format_number
from receipts.model import Item, Organisation, Payer, QRSeal, Receipt, ReceiptRef
from receipts.money import format_amount, parse_amount
from receipts.tiers import PayerKind, ReceiptKind, Tier
from schemas import RECEIPT_NS, load_schema
from signing.xmlparse import UnsafeXML, parse_untrusted

__all__ = [
    "DSIG_NS",
    "parse_receipt_xml",
    "qr_payload",
    "receipt_from_element",
    "receipt_to_element",
    "serialize",
    "validate_receipt_schema",
]

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
_R = f"{{{RECEIPT_NS}}}"
_T = TypeVar("_T")


def receipt_to_element(receipt: Receipt) -> etree._Element:
    """Build the unsigned XML of ``receipt`` (the QR seal included when it has one)."""
    nsmap: Any = {None: RECEIPT_NS}  # the default namespace; lxml-stubs only allow str keys
    root = etree.Element(_R + "Receipt", nsmap=nsmap, version="1")
    _sub(root, "Code", receipt.code)
    _sub(root, "Number", receipt.formatted_number)
    _sub(root, "CheckCode", receipt.check_code)
    _sub(root, "Kind", receipt.kind.value)
    _sub(root, "IssuedAt", receipt.issued_at.isoformat(timespec="seconds"))
    issuer = _sub(root, "Issuer")
    _sub(issuer, "OrgCode", receipt.issuer.code)
    _sub(issuer, "Name", receipt.issuer.name)
    _sub(issuer, "Tier", receipt.issuer.tier.value)
    if receipt.issuer.uscc:
        _sub(issuer, "USCC", receipt.issuer.uscc)
    payer = _sub(root, "Payer")
    _sub(payer, "Name", receipt.payer.name)
    _sub(payer, "Kind", receipt.payer.kind.value)
    if receipt.payer.uscc:
        _sub(payer, "USCC", receipt.payer.uscc)
    elif receipt.payer.other_id:
        _sub(payer, "OtherId", receipt.payer.other_id)
    items = _sub(root, "Items")
    for item in receipt.items:
        line = _sub(items, "Item")
        _sub(line, "Code", item.code)
        _sub(line, "Name", item.name)
        _sub(line, "Period", item.period)
        if item.basis is not None and item.rate is not None:
            _sub(line, "Basis", format_amount(item.basis))
            _sub(line, "Rate", _format_rate(item.rate))
        _sub(line, "Amount", format_amount(item.amount))
    total = _sub(root, "Total")
    _sub(total, "Amount", format_amount(receipt.total))
    _sub(total, "Capitals", receipt.capitals)
    if receipt.original is not None:
        original = _sub(root, "Original")
        _sub(original, "Code", receipt.original.code)
        _sub(original, "Number", format_number(receipt.original.number))
        _sub(root, "Reason", receipt.reason)
    _sub(root, "Handler", receipt.handler)
    _sub(root, "Reviewer", receipt.reviewer)
    if receipt.remark:
        _sub(root, "Remark", receipt.remark)
    if receipt.seal is not None:
        seal = _sub(root, "QRSeal")
        _sub(seal, "KeyId", receipt.seal.key_id)
        _sub(seal, "Value", receipt.seal.value)
    return root


def serialize(root: etree._Element, *, pretty: bool = False) -> bytes:
    """UTF-8 bytes with an XML declaration.

    ``pretty`` indents an unsigned document for people; a signed one is serialised as signed,
    never re-indented (whitespace is part of what the signature covers).
    """
    return bytes(
        etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=pretty)
    )


def parse_receipt_xml(data: bytes) -> Receipt:
    """Parse receipt XML from outside: hardened, schema-valid, consistent; else an error."""
    try:
        root = parse_untrusted(data)
    except UnsafeXML as exc:
        raise InvalidReceipt(str(exc)) from None
    validate_receipt_schema(root)
    return receipt_from_element(root)


def validate_receipt_schema(root: etree._Element) -> None:
    """Raise :class:`SchemaError` naming the first line and element the schema refuses."""
    schema = load_schema("receipt.xsd")
    if schema.validate(root):
        return
    entry = cast(Any, schema.error_log)[0]  # the first problem; lxml-stubs omit indexing
    message = entry.message.replace(_R, "")
    raise SchemaError(f"line {entry.line}: {message}", schema.error_log)


def receipt_from_element(root: etree._Element) -> Receipt:
    """Map a schema-valid receipt element to the model, checking the cross-field rules."""
    issuer_el = _one(root, "Issuer")
    issuer = _at(
        issuer_el,
        lambda: _organisation(
            _text(issuer_el, "OrgCode"),
            _text(issuer_el, "Name"),
            _text(issuer_el, "Tier"),
            _opt(issuer_el, "USCC"),
        ),
    )
    payer_el = _one(root, "Payer")
    payer = _at(
        payer_el,
        lambda: _payer(
            _text(payer_el, "Name"),
            _text(payer_el, "Kind"),
            _opt(payer_el, "USCC"),
            _opt(payer_el, "OtherId"),
        ),
    )
    items = tuple(_item(el) for el in _one(root, "Items").iterchildren(_R + "Item"))
    original_el = root.find(_R + "Original")
    original = None
    if original_el is not None:
        original = _at(
            original_el,
            lambda: ReceiptRef(_text(original_el, "Code"), int(_text(original_el, "Number"))),
        )
    seal_el = root.find(_R + "QRSeal")
    seal = None
    if seal_el is not None:
        seal = _at(seal_el, lambda: QRSeal(_text(seal_el, "KeyId"), _text(seal_el, "Value")))
    issued_el = _one(root, "IssuedAt")
    issued_at = _at(issued_el, lambda: datetime.fromisoformat(_text(root, "IssuedAt")))
    receipt = _at(
        root,
        lambda: Receipt(
            code=_text(root, "Code"),
            number=int(_text(root, "Number")),
            check_code=_text(root, "CheckCode"),
            kind=ReceiptKind(_text(root, "Kind")),
            issued_at=issued_at,
            issuer=issuer,
            payer=payer,
            items=items,
            handler=_text(root, "Handler"),
            reviewer=_text(root, "Reviewer"),
            remark=_opt(root, "Remark") or "",
            original=original,
            reason=_opt(root, "Reason") or "",
            seal=seal,
        ),
    )
    total_el = _one(root, "Total")
    amount_el = _one(total_el, "Amount")
    stated = _at(amount_el, lambda: parse_amount(_text(total_el, "Amount"), allow_negative=True))
    if stated != receipt.total:
        raise InvalidReceipt(
            f"line {amount_el.sourceline}: Total/Amount {stated} is not the sum of the items "
            f"{receipt.total}"
        )
    capitals_el = _one(total_el, "Capitals")
    if capitals_el.text != to_capitals(stated):
        raise InvalidReceipt(
            f"line {capitals_el.sourceline}: Total/Capitals {capitals_el.text!r} does not match "
            f"the total {stated} ({to_capitals(stated)})"
        )
    return receipt


def qr_payload(receipt: Receipt, key_id: str) -> bytes:
    """The text the QR seal signs (SPEC §3)."""
    amount = format_amount(receipt.total)
    day = receipt.issued_at.strftime("%Y%m%d")
    fields = ["UDR1", receipt.code, receipt.formatted_number, receipt.check_code, day, amount,
              receipt.issuer.code, key_id]
    return "|".join(fields).encode("utf-8")


# A batch of receipts repeats a few issuers and payers; validating each once is enough (the
# objects are immutable, and an invalid one raises, so nothing invalid is ever cached).
@functools.lru_cache(maxsize=4096)
def _organisation(code: str, name: str, tier: str, uscc: str | None) -> Organisation:
    return Organisation(code=code, name=name, tier=Tier(tier), uscc=uscc)


@functools.lru_cache(maxsize=4096)
def _payer(name: str, kind: str, uscc: str | None, other_id: str | None) -> Payer:
    return Payer(name=name, kind=PayerKind(kind), uscc=uscc, other_id=other_id)


def _item(el: etree._Element) -> Item:
    def build() -> Item:
        basis = _opt(el, "Basis")
        rate = _opt(el, "Rate")
        return Item(
            code=_text(el, "Code"),
            name=_text(el, "Name"),
            period=_text(el, "Period"),
            amount=parse_amount(_text(el, "Amount"), allow_negative=True),
            basis=parse_amount(basis) if basis is not None else None,
            rate=Decimal(rate) if rate is not None else None,
        )

    return _at(el, build)


def _at(el: etree._Element, build: Callable[[], _T]) -> _T:
    """Run ``build``, prefixing any input error with the element's line and name."""
    try:
        return build()
    except (InvalidInput, ValueError) as exc:
        name = etree.QName(el).localname
        raise InvalidReceipt(f"line {el.sourceline}: {name}: {exc}") from None


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, _R + name)
    if text is not None:
        el.text = text
    return el


def _one(parent: etree._Element, name: str) -> etree._Element:
    el = parent.find(_R + name)
    if el is None:
        raise InvalidReceipt(f"line {parent.sourceline}: missing element {name}")
    return el


def _text(parent: etree._Element, name: str) -> str:
    return _one(parent, name).text or ""


def _opt(parent: etree._Element, name: str) -> str | None:
    el = parent.find(_R + name)
    return None if el is None else (el.text or "")


def _format_rate(rate: Decimal) -> str:
    # 0.020000 and 0.02 are the same rate; print the shortest form.
    return format(rate.normalize(), "f")
