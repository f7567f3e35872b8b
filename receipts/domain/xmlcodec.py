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

from receipts.domain.capitals import to_capitals
from receipts.domain.enums import PayerKind, ReceiptKind, Tier
from receipts.domain.identifiers import format_number
from receipts.domain.model import Item, Organisation, Payer, QRSeal, Receipt, ReceiptRef
from receipts.domain.money import format_amount, parse_amount
from receipts.errors import InvalidInput, InvalidReceipt, SchemaError
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
    if receipt.public_base_url is not None:
        _sub(root, "PublicBaseUrl", receipt.public_base_url)
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
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=pretty))


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
    doc = _Children(root)
    issuer_el = _Children(doc.one("Issuer"))
    issuer = _at(
        issuer_el.el,
        lambda: _organisation(
            issuer_el.text("OrgCode"),
            issuer_el.text("Name"),
            issuer_el.text("Tier"),
            issuer_el.opt("USCC"),
        ),
    )
    payer_el = _Children(doc.one("Payer"))
    payer = _at(
        payer_el.el,
        lambda: _payer(
            payer_el.text("Name"),
            payer_el.text("Kind"),
            payer_el.opt("USCC"),
            payer_el.opt("OtherId"),
        ),
    )
    items = tuple(_item(el) for el in doc.one("Items").iterchildren(_R + "Item"))
    original_el = doc.get("Original")
    original = None
    if original_el is not None:
        o = _Children(original_el)
        original = _at(original_el, lambda: ReceiptRef(o.text("Code"), int(o.text("Number"))))
    seal_el = doc.get("QRSeal")
    seal = None
    if seal_el is not None:
        q = _Children(seal_el)
        seal = _at(seal_el, lambda: QRSeal(q.text("KeyId"), q.text("Value")))
    issued_el = doc.one("IssuedAt")
    issued_at = _at(issued_el, lambda: datetime.fromisoformat(doc.text("IssuedAt")))
    receipt = _at(
        root,
        lambda: Receipt(
            code=doc.text("Code"),
            number=int(doc.text("Number")),
            check_code=doc.text("CheckCode"),
            kind=ReceiptKind(doc.text("Kind")),
            issued_at=issued_at,
            issuer=issuer,
            payer=payer,
            items=items,
            handler=doc.text("Handler"),
            reviewer=doc.text("Reviewer"),
            remark=doc.opt("Remark") or "",
            original=original,
            reason=doc.opt("Reason") or "",
            seal=seal,
            public_base_url=doc.opt("PublicBaseUrl"),
        ),
    )
    total = _Children(doc.one("Total"))
    amount_el = total.one("Amount")
    stated = _at(amount_el, lambda: parse_amount(total.text("Amount"), allow_negative=True))
    if stated != receipt.total:
        raise InvalidReceipt(
            f"line {amount_el.sourceline}: Total/Amount {stated} is not the sum of the items "
            f"{receipt.total}"
        )
    capitals_el = total.one("Capitals")
    if capitals_el.text != to_capitals(stated):
        raise InvalidReceipt(
            f"line {capitals_el.sourceline}: Total/Capitals {capitals_el.text!r} does not match "
            f"the total {stated} ({to_capitals(stated)})"
        )
    return receipt


def qr_payload(receipt: Receipt, key_id: str) -> bytes:
    """The text the QR seal signs (docs/formats.md): ``UDR1|…|key_id``, or for a receipt that
    carries its issuer's public base URL ``UDR2|…|key_id|base_url`` (the seal covers the URL the
    QR code opens, docs/security.md "The QR URL")."""
    amount = format_amount(receipt.total)
    day = receipt.issued_at.strftime("%Y%m%d")
    fields = [
        "UDR1" if receipt.public_base_url is None else "UDR2",
        receipt.code,
        receipt.formatted_number,
        receipt.check_code,
        day,
        amount,
        receipt.issuer.code,
        key_id,
    ]
    if receipt.public_base_url is not None:
        fields.append(receipt.public_base_url)
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
    kids = _Children(el)

    def build() -> Item:
        basis = kids.opt("Basis")
        rate = kids.opt("Rate")
        item = Item(
            code=kids.text("Code"),
            name=kids.text("Name"),
            period=kids.text("Period"),
            amount=parse_amount(kids.text("Amount"), allow_negative=True),
            basis=parse_amount(basis) if basis is not None else None,
            rate=Decimal(rate) if rate is not None else None,
        )
        if item.period != kids.text("Period"):  # a signed document carries the canonical form
            raise InvalidInput(f"Period {kids.text('Period')!r} is not written as {item.period!r}")
        return item

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


class _Children:
    """An element's child elements by name, read in one pass: a receipt is read by some thirty
    look-ups, and a search for each cost a quarter of reading it. The first of a name wins, as
    with ``find``."""

    __slots__ = ("_by_tag", "el")

    def __init__(self, el: etree._Element) -> None:
        self.el = el
        self._by_tag: dict[str, etree._Element] = {}
        add = self._by_tag.setdefault
        for child in el.iterchildren(etree.Element):  # elements only: filtered in C
            add(child.tag, child)

    def get(self, name: str) -> etree._Element | None:
        return self._by_tag.get(_R + name)

    def one(self, name: str) -> etree._Element:
        found = self._by_tag.get(_R + name)
        if found is None:
            raise InvalidReceipt(f"line {self.el.sourceline}: missing element {name}")
        return found

    def text(self, name: str) -> str:
        return self.one(name).text or ""

    def opt(self, name: str) -> str | None:
        found = self._by_tag.get(_R + name)
        return None if found is None else (found.text or "")


def _format_rate(rate: Decimal) -> str:
    # 0.020000 and 0.02 are the same rate; print the shortest form.
    return format(rate.normalize(), "f")
