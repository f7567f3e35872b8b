"""Layout version 2: the page in the conventions of 财政电子票据 (docs/formats.md, "Layout 2").
Released: never change what it draws.

The same A5-landscape page as layout 1, relabelled as 财政电子票据 are: the title with
full-width brackets, 票据代码, 票据号码, 校验码 and 开票日期 (a date) beside the QR code under the
title; a ruled table with 交款人, 交款人统一社会信用代码 (or 交款人证件号码) and 交款人类型, the
items with 计拨工资总额 as the base and the rate as a percentage, 金额合计（大写） and （小写）, a
reversal's original receipt and reason, and 备注; below it 收款单位（章） with the red seal, the
issuer's code and USCC, 开票人 and 复核人. A reversal is marked 红字 · 冲红 in red at the top
right, and its amounts are red. Full-width brackets and colons throughout, as in Chinese text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from receipts.domain.enums import ReceiptKind
from receipts.domain.identifiers import format_number
from receipts.domain.model import Receipt
from receipts.domain.money import format_amount
from receipts.render.fonts import FontFace
from receipts.render.page import BLACK, RGB, Layout, PageOps
from receipts.render.qr import qr_matrix, qr_operators, qr_text
from receipts.render.seal import SEAL_RED, seal_operators

__all__ = ["LAYOUT", "PAYER_KIND_LABELS", "TITLE", "issue_date_text", "rate_text"]

TITLE = "工会经费收入专用收据（电子）"
#: How a payer's kind is printed, by its value in the XML.
PAYER_KIND_LABELS = {
    "enterprise": "企业",
    "institution": "机关事业单位",
    "grassroots_union": "基层工会",
    "federation": "工会组织",
    "individual": "个人",
    "other": "其他",
}
REVERSAL_MARK = "红字 · 冲红"
FOOTNOTE = "本收据的法定记录是所附经电子签名的 receipt.xml；扫描二维码可离线查验。"
COLON = "："
_HEADER_LABELS = ("票据代码", "票据号码", "校验码", "开票日期")
_ITEM_HEADINGS = ("项目编码", "项目名称", "所属期", "计拨工资总额（元）", "比例", "金额（元）")
_LABELS = (
    "交款人",
    "交款人统一社会信用代码",
    "交款人证件号码",
    "交款人类型",
    "金额合计（大写）",
    "（小写）",
    "冲红原票据",
    "冲红原因",
    "备注",
    "收款单位（章）",
    "单位代码",
    "统一社会信用代码",
    "开票人",
    "复核人",
    "¥%",
    *PAYER_KIND_LABELS.values(),
)

# Geometry, in points. A5 landscape is 210 × 148 mm.
WIDTH, HEIGHT = 595.2755905511812, 419.52755905511815
MARGIN = 28.35  # 10 mm
TOP = HEIGHT - 22
QR_SIDE = 68.0  # 24 mm: a version 7-8 symbol gets modules of about 0.5 mm
LEFT, RIGHT = MARGIN, WIDTH - MARGIN
TABLE_TOP = 316.0  # below the QR code's 4-module quiet zone and the header's second line
LABEL_W = 104.0  # 交款人统一社会信用代码 at 8.5 pt, with its padding
#: The item columns. Their right edges line up with the table's middle column (比例 starts
#: where 交款人类型 and （小写） do, 金额 where their values do); 所属期 holds 2026-01~2026-06.
ITEM_COLUMNS = (44.0, RIGHT - LEFT - 374.0, 80.0, 90.0, 56.0, 104.0)
MID_X = RIGHT - 160.0  # left edge of the 交款人类型 and （小写） cells
SIDE_LABEL_W = 56.0
ITEM_ROWS = 8
ITEM_ROW_H = 13.0
RED: RGB = SEAL_RED


def issue_date_text(receipt: Receipt) -> str:
    """开票日期 as printed: ``2026-11-28``.

    The date in the issuer's calendar: the XML's issue time carries the issuer's UTC offset
    (+08:00), so its own date is the issuer's day, the same day as the QR payload's
    ``yyyymmdd``. Written YYYY-MM-DD because 财政电子票据 print 开票日期 that way (the
    electronic bills' data standard keeps the date as digits, and their pages show it with
    hyphens, not as 年月日): digits only, unambiguous, and easy to compare with the XML.
    """
    return receipt.issued_at.date().isoformat()


def rate_text(rate: Decimal) -> str:
    """A rate as a percentage: 0.02 → ``2%``, 0.005 → ``0.5%``, 0.000001 → ``0.0001%``.

    Exact decimal arithmetic (a rate has at most 6 places, so the percentage at most 4), no
    trailing zeros and no exponent.
    """
    return format((rate * 100).normalize(), "f") + "%"


def _kind_label(receipt: Receipt) -> str:
    return PAYER_KIND_LABELS[str(receipt.payer.kind)]


def _payer_id(receipt: Receipt) -> tuple[str, str]:
    if receipt.payer.uscc:
        return "交款人统一社会信用代码", receipt.payer.uscc
    if receipt.payer.other_id:
        return "交款人证件号码", receipt.payer.other_id
    return "交款人统一社会信用代码", ""


def _original(receipt: Receipt) -> str:
    if receipt.original is None:
        return ""
    return f"票据代码 {receipt.original.code} 票据号码 {format_number(receipt.original.number)}"


def _item_cells(receipt: Receipt, row: int) -> tuple[str, ...]:
    item = receipt.items[row]
    return (
        item.code,
        item.name,
        item.period,
        "" if item.basis is None else format_amount(item.basis),
        "" if item.rate is None else rate_text(item.rate),
        format_amount(item.amount),
    )


def printed(receipt: Receipt) -> list[tuple[str, str]]:
    """Every (field, text) the page prints for ``receipt``."""
    fields = [
        ("receipt code", receipt.code),
        ("receipt number", receipt.formatted_number),
        ("check code", receipt.check_code),
        ("issue date", issue_date_text(receipt)),
        ("payer name", receipt.payer.name),
        ("payer ID", _payer_id(receipt)[1]),
        ("payer kind", _kind_label(receipt)),
    ]
    names = ("code", "name", "period", "basis", "rate", "amount")
    for row in range(len(receipt.items)):
        cells = zip(names, _item_cells(receipt, row), strict=True)
        fields += [(f"item {row + 1} {name}", text) for name, text in cells]
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
    c.addLiteral(seal_operators(receipt.issuer.name, face, LEFT + 118, 50.0, 31.0))


def _header(page: PageOps, receipt: Receipt, reversal: bool) -> None:
    centre = WIDTH / 2
    half = page.width(TITLE, 18) / 2
    page.put(centre, TOP - 22, TITLE, 18, align="centre", bold=True)
    page.lines([(centre - half - 6, TOP - 30, centre + half + 6, TOP - 30)], 0.8)
    page.lines([(centre - half - 6, TOP - 32.5, centre + half + 6, TOP - 32.5)], 0.4)
    if reversal:
        box = (RIGHT - 84, TOP - 28, 84, 20)
        page.rect(*box, 1.0, RED)
        page.fitted(REVERSAL_MARK, box, 11, align="centre", colour=RED)
    # Two columns, as on 财政电子票据: code and check code left, number and date right; the
    # labels padded to one width so that the values line up.
    values = (
        receipt.code,
        receipt.formatted_number,
        receipt.check_code,
        issue_date_text(receipt),
    )
    label_w = page.width("票据代码" + COLON, 9)
    for index, (label, value) in enumerate(zip(_HEADER_LABELS, values, strict=True)):
        x = LEFT + QR_SIDE + 18 if index % 2 == 0 else MID_X
        y = TOP - 52 - (index // 2) * 17
        page.put(x, y, label + COLON, 9)
        page.put(x + label_w + 2, y, value, 9.5)


def _table(page: PageOps, receipt: Receipt, reversal: bool) -> None:
    y = TABLE_TOP
    lines: list[tuple[float, float, float, float]] = []
    value_x = LEFT + LABEL_W
    side_x = MID_X + SIDE_LABEL_W
    marked = RED if reversal else BLACK  # what a reversal prints in red

    def label(
        words: str, top: float, height: float, x: float = LEFT, w: float = LABEL_W, **kw: Any
    ) -> None:
        page.fitted(words, (x, top - height, w, height), 8.5, align="centre", **kw)

    def value(words: str, top: float, height: float, x: float, w: float, **kw: Any) -> None:
        page.fitted(words, (x, top - height, w, height), 9, **kw)

    def row(height: float, *, split: bool) -> None:
        nonlocal y
        edges = (value_x, MID_X, side_x) if split else (value_x,)
        lines.extend((x, y, x, y - height) for x in edges)
        y -= height
        lines.append((LEFT, y, RIGHT, y))

    # Payer: name across the whole width, then its USCC or ID and its kind.
    label("交款人", y, 20)
    value(receipt.payer.name, y, 20, value_x, RIGHT - value_x)
    row(20, split=False)
    id_label, id_value = _payer_id(receipt)
    label(id_label, y, 20)
    value(id_value, y, 20, value_x, MID_X - value_x)
    label("交款人类型", y, 20, MID_X, SIDE_LABEL_W)
    value(_kind_label(receipt), y, 20, side_x, RIGHT - side_x)
    row(20, split=True)
    y = _items(page, receipt, y, lines, marked)
    # Totals, in capitals and in figures.
    label("金额合计（大写）", y, 20)
    value(receipt.capitals, y, 20, value_x, MID_X - value_x, colour=marked)
    label("（小写）", y, 20, MID_X, SIDE_LABEL_W)
    total = "¥" + format_amount(receipt.total)
    value(total, y, 20, side_x, RIGHT - side_x, align="right", colour=marked)
    row(20, split=True)
    # The rest of the table: a reversal's original and reason, then the remark.
    rest = y - 58.0
    if reversal:
        label("冲红原票据", y, 17, colour=RED)
        value(_original(receipt), y, 17, value_x, RIGHT - value_x, colour=RED)
        row(17, split=False)
        label("冲红原因", y, 21, colour=RED)
        value(receipt.reason, y, 21, value_x, RIGHT - value_x, colour=RED)
        row(21, split=False)
    label("备注", y, y - rest)
    value(receipt.remark, y, y - rest, value_x, RIGHT - value_x)
    lines.append((value_x, y, value_x, rest))
    page.lines(lines, 0.4)
    page.rect(LEFT, rest, RIGHT - LEFT, TABLE_TOP - rest, 0.9)


def _items(
    page: PageOps,
    receipt: Receipt,
    top: float,
    lines: list[tuple[float, float, float, float]],
    marked: RGB,
) -> float:
    """The item headings and eight ruled rows from ``top``; the y below them."""
    edges = [LEFT]
    for width in ITEM_COLUMNS:
        edges.append(edges[-1] + width)
    y = top
    for index, heading in enumerate(_ITEM_HEADINGS):
        box = (edges[index], y - 16.0, ITEM_COLUMNS[index], 16.0)
        page.fitted(heading, box, 8.5, align="centre")
    y -= 16
    lines.append((LEFT, y, RIGHT, y))
    aligns = ("centre", "left", "centre", "right", "right", "right")
    for row in range(ITEM_ROWS):
        if row < len(receipt.items):
            for column, words in enumerate(_item_cells(receipt, row)):
                if words:
                    box = (edges[column], y - ITEM_ROW_H, ITEM_COLUMNS[column], ITEM_ROW_H)
                    colour = marked if column == 5 else BLACK
                    page.fitted(words, box, 8.5, align=aligns[column], colour=colour)
        y -= ITEM_ROW_H
        lines.append((LEFT, y, RIGHT, y))
    lines += [(x, top, x, y) for x in edges[1:-1]]
    return y


def _footer(page: PageOps, receipt: Receipt) -> None:
    issuer = receipt.issuer

    def pair(label: str, words: str, x: float, y: float, width: float) -> None:
        page.put(x, y, label + COLON, 8.5)
        room = page.width(label + COLON, 8.5) + 2
        page.fitted(words, (x + room, y - 6, width - room, 18), 9, pad=0)

    pair("收款单位（章）", issuer.name, LEFT, 62, MID_X - LEFT - 12)
    pair("单位代码", issuer.code, LEFT, 44, 110)
    if issuer.uscc:
        pair("统一社会信用代码", issuer.uscc, LEFT + 162, 44, MID_X - LEFT - 174)
    pair("开票人", receipt.handler, MID_X, 62, RIGHT - MID_X)
    pair("复核人", receipt.reviewer, MID_X, 44, RIGHT - MID_X)
    page.put(LEFT, 14, FOOTNOTE, 6.5)


LAYOUT = Layout(
    version=2,
    title=TITLE,
    pagesize=(WIDTH, HEIGHT),
    draw=draw,
    printed=printed,
    fixed_text="".join(
        (TITLE, REVERSAL_MARK, FOOTNOTE, COLON, *_HEADER_LABELS, *_ITEM_HEADINGS, *_LABELS)
    ),
)
