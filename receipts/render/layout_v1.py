"""Layout version 1: one A5-landscape page (docs/formats.md). Released: never change what it draws.

From the top: the QR code (left), the title, the receipt's code, number, check code and issue
time (right); a ruled table with the payer, the items, the total in capitals and in figures, a
reversal's original receipt and reason, and the remark; below it the issuer (with the red seal),
the handler and the reviewer. A reversal is marked 红字 · 冲红 in red and its amounts are red.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from receipts.domain.enums import PayerKind, ReceiptKind
from receipts.domain.identifiers import format_number
from receipts.domain.model import Receipt
from receipts.domain.money import format_amount
from receipts.render.errors import RenderError
from receipts.render.fonts import FontFace
from receipts.render.page import BLACK, RGB, Layout, PageOps
from receipts.render.qr import qr_matrix, qr_operators, qr_text
from receipts.render.seal import SEAL_RED, seal_operators

__all__ = ["LAYOUT", "PAYER_KIND_LABELS", "TITLE", "issue_time_text"]

TITLE = "工会经费收入专用收据(电子)"
#: How a payer's kind is printed.
PAYER_KIND_LABELS = {
    PayerKind.ENTERPRISE: "企业",
    PayerKind.GRASSROOTS_UNION: "基层工会",
    PayerKind.FEDERATION: "工会组织",
    PayerKind.INDIVIDUAL: "个人",
    PayerKind.OTHER: "其他",
}
REVERSAL_MARK = "红字 · 冲红"
FOOTNOTE = "本收据的法定记录是所附经电子签名的 receipt.xml；扫描二维码可离线查验。"
_HEADER_LABELS = ("收据代码", "收据号码", "校验码", "开票时间")
_ITEM_HEADINGS = ("项目编码", "项目名称", "所属期", "缴费基数(元)", "比例", "金额(元)")
_LABELS = (
    "交款人",
    "统一社会信用代码",
    "证件号码",
    "交款人类型",
    "合计(大写)",
    "合计(小写)",
    "冲红原收据",
    "冲红原因",
    "备注",
    "收款单位(盖章)",
    "单位代码",
    "开票人",
    "复核人",
    "¥",
)

# Geometry, in points. A5 landscape is 210 × 148 mm.
WIDTH, HEIGHT = 595.2755905511812, 419.52755905511815
MARGIN = 28.35  # 10 mm
TOP = HEIGHT - 22
QR_SIDE = 68.0  # 24 mm: a version 7-8 symbol gets modules of about 0.5 mm
LEFT, RIGHT = MARGIN, WIDTH - MARGIN
TABLE_TOP = 318.0  # leaves the QR code its 4-module quiet zone
LABEL_W = 80.0
KIND_LABEL_W = 64.0
VALUE_W = 282.0
ITEM_COLUMNS = (52.0, 186.0, 60.0, 96.0, 56.0, RIGHT - LEFT - 450.0)
ITEM_ROWS = 8
ITEM_ROW_H = 13.0
RED: RGB = SEAL_RED


def issue_time_text(receipt: Receipt) -> str:
    """The issue time as printed: ``2026-11-28 10:30:00+08:00`` (the XML's, with a space)."""
    return receipt.issued_at.isoformat(sep=" ", timespec="seconds")


def _kind_label(receipt: Receipt) -> str:
    # Payer kinds added after layout 1 (an institution) never appeared on a layout-1 page: a
    # "layout 1" PDF of one was not made by this product, and fails to render, not to verify.
    label = PAYER_KIND_LABELS.get(receipt.payer.kind)
    if label is None:
        raise RenderError(f"layout 1 cannot print payer kind {receipt.payer.kind.value!r}")
    return label


def _payer_id(receipt: Receipt) -> tuple[str, str]:
    if receipt.payer.uscc:
        return "统一社会信用代码", receipt.payer.uscc
    if receipt.payer.other_id:
        return "证件号码", receipt.payer.other_id
    return "统一社会信用代码", ""


def _rate(rate: Decimal) -> str:
    # As the XML writes it (receipts.domain.xmlcodec): 0.02, not 2E-2.
    return format(rate.normalize(), "f")


def _original(receipt: Receipt) -> str:
    if receipt.original is None:
        return ""
    return f"收据代码 {receipt.original.code} 收据号码 {format_number(receipt.original.number)}"


def printed(receipt: Receipt) -> list[tuple[str, str]]:
    """Every (field, text) the page prints for ``receipt``."""
    fields = [
        ("receipt code", receipt.code),
        ("receipt number", receipt.formatted_number),
        ("check code", receipt.check_code),
        ("issue time", issue_time_text(receipt)),
        ("payer name", receipt.payer.name),
        ("payer ID", _payer_id(receipt)[1]),
        ("payer kind", _kind_label(receipt)),
    ]
    for number, item in enumerate(receipt.items, start=1):
        fields += [
            (f"item {number} code", item.code),
            (f"item {number} name", item.name),
            (f"item {number} period", item.period),
            (f"item {number} basis", "" if item.basis is None else format_amount(item.basis)),
            (f"item {number} rate", "" if item.rate is None else _rate(item.rate)),
            (f"item {number} amount", format_amount(item.amount)),
        ]
    fields += [
        ("total in capitals", receipt.capitals),
        ("total", "¥" + format_amount(receipt.total)),
        ("original receipt", _original(receipt)),
        ("reversal reason", receipt.reason),
        ("remark", receipt.remark),
        ("issuer name", receipt.issuer.name),
        ("issuer org code", receipt.issuer.code),
        ("issuer USCC", receipt.issuer.uscc or ""),
        ("handler", receipt.handler),
        ("reviewer", receipt.reviewer),
    ]
    return fields


def draw(c: Any, receipt: Receipt, font: str, face: FontFace) -> None:
    """Draw the page for ``receipt`` on canvas ``c`` with the registered ``font``."""
    reversal = receipt.kind is ReceiptKind.REVERSAL
    page = PageOps(c, font)
    page.literal(qr_operators(qr_matrix(qr_text(receipt)), LEFT, TOP - QR_SIDE, QR_SIDE))
    _header(page, receipt, reversal)
    _table(page, receipt, reversal)
    _footer(page, receipt)
    page.finish()
    c.addLiteral(seal_operators(receipt.issuer.name, face, LEFT + 118, 58.0, 38.0))


def _header(page: PageOps, receipt: Receipt, reversal: bool) -> None:
    centre = WIDTH / 2 - 12
    half = page.width(TITLE, 17) / 2
    page.put(centre, TOP - 30, TITLE, 17, align="centre", bold=True)
    page.lines([(centre - half - 8, TOP - 37, centre + half + 8, TOP - 37)], 0.8)
    page.lines([(centre - half - 8, TOP - 39.5, centre + half + 8, TOP - 39.5)], 0.4)
    if reversal:
        box = (centre - 42, TOP - 63, 84, 18)
        page.rect(*box, 1.0, RED)
        page.fitted(REVERSAL_MARK, box, 11, align="centre", colour=RED)
    values = (
        receipt.code,
        receipt.formatted_number,
        receipt.check_code,
        issue_time_text(receipt),
    )
    x = RIGHT - 150
    for row, (label, value) in enumerate(zip(_HEADER_LABELS, values, strict=True)):
        y = TOP - 8 - row * 15
        page.put(x, y, label + ":", 8)
        page.put(x + 38, y, value, 8.5 if row < 3 else 8)


def _table(page: PageOps, receipt: Receipt, reversal: bool) -> None:
    y = TABLE_TOP
    lines: list[tuple[float, float, float, float]] = []
    value_x = LEFT + LABEL_W
    kind_x = value_x + VALUE_W
    kind_value_x = kind_x + KIND_LABEL_W
    marked = RED if reversal else BLACK  # what a reversal prints in red

    def label(
        words: str, top: float, height: float, x: float = LEFT, w: float = LABEL_W, **kw: Any
    ) -> None:
        page.fitted(words, (x, top - height, w, height), 8.5, align="centre", **kw)

    def value(words: str, top: float, height: float, x: float, w: float, **kw: Any) -> None:
        page.fitted(words, (x, top - height, w, height), 9, **kw)

    # Payer: name across the whole width, then its ID and kind.
    label("交款人", y, 20)
    value(receipt.payer.name, y, 20, value_x, RIGHT - value_x)
    lines += [(LEFT, y - 20, RIGHT, y - 20), (value_x, y, value_x, y - 20)]
    y -= 20
    id_label, id_value = _payer_id(receipt)
    label(id_label, y, 20)
    value(id_value, y, 20, value_x, VALUE_W)
    label("交款人类型", y, 20, kind_x, KIND_LABEL_W)
    value(_kind_label(receipt), y, 20, kind_value_x, RIGHT - kind_value_x)
    lines += [(LEFT, y - 20, RIGHT, y - 20)]
    lines += [(x, y, x, y - 20) for x in (value_x, kind_x, kind_value_x)]
    y -= 20
    # Items: a heading and eight ruled rows.
    edges = [LEFT]
    for width in ITEM_COLUMNS:
        edges.append(edges[-1] + width)
    items_top = y
    for index, heading in enumerate(_ITEM_HEADINGS):
        label(heading, y, 16, edges[index], ITEM_COLUMNS[index])
    y -= 16
    lines.append((LEFT, y, RIGHT, y))
    for row in range(ITEM_ROWS):
        if row < len(receipt.items):
            _item_row(page, receipt, row, y, edges, marked)
        y -= ITEM_ROW_H
        lines.append((LEFT, y, RIGHT, y))
    lines += [(x, items_top, x, y) for x in edges[1:-1]]
    # Totals, in capitals and in figures.
    label("合计(大写)", y, 20)
    value(receipt.capitals, y, 20, value_x, VALUE_W, colour=marked)
    label("合计(小写)", y, 20, kind_x, KIND_LABEL_W)
    total = "¥" + format_amount(receipt.total)
    value(total, y, 20, kind_value_x, RIGHT - kind_value_x, align="right", colour=marked)
    lines += [(x, y, x, y - 20) for x in (value_x, kind_x, kind_value_x)]
    y -= 20
    lines.append((LEFT, y, RIGHT, y))
    # The rest of the table: a reversal's original and reason, then the remark.
    rest = y - 58.0
    if reversal:
        label("冲红原收据", y, 17, colour=RED)
        value(_original(receipt), y, 17, value_x, RIGHT - value_x, colour=RED)
        lines += [(LEFT, y - 17, RIGHT, y - 17), (value_x, y, value_x, y - 17)]
        y -= 17
        label("冲红原因", y, 21, colour=RED)
        value(receipt.reason, y, 21, value_x, RIGHT - value_x, colour=RED)
        lines += [(LEFT, y - 21, RIGHT, y - 21), (value_x, y, value_x, y - 21)]
        y -= 21
    label("备注", y, y - rest)
    value(receipt.remark, y, y - rest, value_x, RIGHT - value_x)
    lines.append((value_x, y, value_x, rest))
    page.lines(lines, 0.4)
    page.rect(LEFT, rest, RIGHT - LEFT, TABLE_TOP - rest, 0.9)


def _item_row(
    page: PageOps, receipt: Receipt, row: int, top: float, edges: list[float], marked: RGB
) -> None:
    item = receipt.items[row]
    cells = (
        (item.code, "centre"),
        (item.name, "left"),
        (item.period, "centre"),
        ("" if item.basis is None else format_amount(item.basis), "right"),
        ("" if item.rate is None else _rate(item.rate), "right"),
        (format_amount(item.amount), "right"),
    )
    for column, (words, align) in enumerate(cells):
        if words:
            box = (edges[column], top - ITEM_ROW_H, edges[column + 1] - edges[column], ITEM_ROW_H)
            colour = marked if column == 5 else BLACK
            page.fitted(words, box, 8.5, align=align, colour=colour)


def _footer(page: PageOps, receipt: Receipt) -> None:
    issuer = receipt.issuer

    def pair(label: str, words: str, x: float, y: float, width: float) -> None:
        page.put(x, y, label + ":", 8.5)
        room = page.width(label + ":", 8.5) + 4
        page.fitted(words, (x + room, y - 6, width - room, 18), 9, pad=0)

    pair("收款单位(盖章)", issuer.name, LEFT, 64, 330)
    pair("单位代码", issuer.code, LEFT, 46, 110)
    if issuer.uscc:
        pair("统一社会信用代码", issuer.uscc, LEFT + 170, 46, 190)
    pair("开票人", receipt.handler, RIGHT - 170, 64, 170)
    pair("复核人", receipt.reviewer, RIGHT - 170, 46, 170)
    page.put(LEFT, 14, FOOTNOTE, 6.5)


LAYOUT = Layout(
    version=1,
    title=TITLE,
    pagesize=(WIDTH, HEIGHT),
    draw=draw,
    printed=printed,
    fixed_text="".join(
        (TITLE, REVERSAL_MARK, FOOTNOTE, *_HEADER_LABELS, *_ITEM_HEADINGS, *_LABELS, ":")
    ),
)
