"""One receipt as an email (docs/delivery.md, "The message"): a short Chinese text, the receipt's
PDF (the signed XML attached inside it, as ``receipts render`` writes it) and the signed XML file
itself, byte for byte, for accounting software that imports XML.

The Message-ID is derived from the receipt's digest and the address, so every try of the same
receipt to the same address carries the same one: a mailbox that sees a message twice (after an
explicit ``--retry-unknown``) can tell it is one message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from receipts.domain.enums import ReceiptKind
from receipts.domain.model import Receipt
from receipts.domain.money import format_amount
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.render.receipt_pdf import render_pdf

__all__ = ["Letter", "message_id", "receipt_letter"]

_TITLE = "工会经费收入专用收据(电子)"


@dataclass(frozen=True)
class Letter:
    """A receipt's message, ready to hand to the server."""

    message: EmailMessage
    """The whole message (headers, text, PDF, XML)."""
    message_id: str
    """Its Message-ID, angle brackets included."""


def message_id(code: str, number: int, digest: str, address: str, domain: str) -> str:
    """The Message-ID of receipt ``code``/``number`` sent to ``address``: the same every try."""
    tag = hashlib.sha256(f"{digest}|{address.lower()}".encode()).hexdigest()[:24]
    return f"<udr.{code}.{number:010d}.{tag}@{domain}>"


def receipt_letter(
    signed_xml: bytes,
    digest: str,
    address: str,
    sender: str,
    domain: str,
    font: Path | str | None = None,
) -> Letter:
    """The message delivering ``signed_xml`` to ``address`` (a registered address)."""
    receipt = parse_receipt_xml(signed_xml)
    pdf = render_pdf(signed_xml, font_path=font)
    ident = message_id(receipt.code, receipt.number, digest, address, domain)
    name = f"{receipt.code}-{receipt.number:010d}"
    msg = EmailMessage()
    msg["From"] = Address(display_name=receipt.issuer.name, addr_spec=sender)
    msg["To"] = Address(display_name=receipt.payer.name, addr_spec=address)
    msg["Subject"] = _subject(receipt, name)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = ident
    # RFC 3834: no vacation or out-of-office replies to a machine's message.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_text(receipt), charset="utf-8")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{name}.pdf")
    msg.add_attachment(signed_xml, maintype="application", subtype="xml", filename=f"{name}.xml")
    return Letter(msg, ident)


def _subject(receipt: Receipt, name: str) -> str:
    if receipt.kind is ReceiptKind.REVERSAL and receipt.original is not None:
        original = f"{receipt.original.code}-{receipt.original.number:010d}"
        return f"红字{_TITLE} {name}（冲红 {original}）"
    return f"{_TITLE} {name}"


def _text(receipt: Receipt) -> str:
    lines = [
        f"{receipt.payer.name}：",
        "",
        f"{receipt.issuer.name}为贵单位开具了{_TITLE}：",
        f"  收据代码 {receipt.code}  收据号码 {receipt.number:010d}  校验码 {receipt.check_code}",
        f"  金额 ¥{format_amount(receipt.total, grouping=True)}（{receipt.capitals}）",
        f"  开具时间 {receipt.issued_at.isoformat()}",
    ]
    if receipt.kind is ReceiptKind.REVERSAL and receipt.original is not None:
        lines += [
            "",
            f"这是一张红字收据，冲销收据 {receipt.original.code} "
            f"{receipt.original.number:010d}（原因：{receipt.reason}）。",
            "原收据自此作废，请据此调整账务。",
        ]
    lines += [
        "",
        "附件为收据的 PDF 文件（内含签名 XML，可离线查验）和签名 XML 文件。",
        "本邮件由系统发送，请勿直接回复。",
    ]
    return "\n".join(lines) + "\n"
