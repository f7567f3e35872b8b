"""Layouts 1 and 2 at their limits: the longest fields the model allows, eight items, the largest
total. Everything must still be printed, inside the page margins, without text running into text
(layout 1 still renders for the PDFs it made; layout 2 is what new receipts get)."""

from __future__ import annotations

import dataclasses
import functools
import re
from decimal import Decimal

import pytest

from receipts.domain.enums import PayerKind
from receipts.domain.model import Payer, Receipt
from receipts.render.layout_v1 import LEFT, RIGHT, WIDTH
from receipts.render.receipt_pdf import render_pdf
from tests.support.factories import make_item
from tests.support.pdf import normal_receipt, pdftotext, reversal_receipt, sign_receipt

LONG_NAME = ("宁夏回族自治区银川市兴庆区龘犇鑫淼焱垚实业集团有限责任公司第一分公司工会" * 3)[:100]
LONG_REMARK = ("2026年10月工会经费(拨缴),含补缴2026年1月至9月差额;经办人已核对工资总额。" * 6)[:200]
ITEM_NAME = ("其他收入:会员会费补缴及建会筹备金清算差额" * 5)[:100]
BIG = Decimal("1249999999999.99")


@functools.cache
def _extreme_pdf(reversal: bool, version: int) -> tuple[Receipt, bytes]:
    base = normal_receipt()
    receipt = dataclasses.replace(
        base,
        payer=Payer(LONG_NAME, PayerKind.OTHER, other_id="A" * 32),
        items=tuple(
            make_item(code="99", name=ITEM_NAME, amount=BIG, basis=None, rate=None)
            for _ in range(8)
        ),
        handler="欧阳" + "龘" * 98,
        reviewer="司马" + "犇" * 98,
        remark=LONG_REMARK,
    )
    if reversal:
        receipt = dataclasses.replace(
            reversal_receipt(),
            payer=receipt.payer,
            items=tuple(item.negated() for item in receipt.items),
            handler=receipt.handler,
            reviewer=receipt.reviewer,
            reason=LONG_REMARK,
        )
    return receipt, render_pdf(sign_receipt(receipt), layout_version=version)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _words(pdf: bytes) -> list[tuple[float, float, float, float, str]]:
    words = []
    for line in pdftotext(pdf, "-bbox").splitlines():
        found = re.search(
            r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>', line
        )
        if found:
            x0, y0, x1, y1 = (float(found.group(i)) for i in range(1, 5))
            words.append((x0, y0, x1, y1, found.group(5)))
    return words


@pytest.mark.parametrize("version", [1, 2])
def test_longest_fields_are_printed_in_full(version: int) -> None:
    for reversal in (False, True):
        receipt, pdf = _extreme_pdf(reversal, version)
        text = _squash(pdftotext(pdf))
        for value in (LONG_NAME, ITEM_NAME, receipt.capitals):
            assert _squash(value) in text
        # The handler's and reviewer's lines wrap around their labels, so pdftotext may read
        # the label between two of their lines: count their characters instead.
        assert text.count("龘") == 98 + LONG_NAME.count("龘")
        assert text.count("犇") == 98 + LONG_NAME.count("犇")
        assert _squash(LONG_REMARK) in text
        assert text.count(_squash(ITEM_NAME)) == 8
        assert "9999999999999.92" in text
        assert "A" * 32 in text


@pytest.mark.parametrize("version", [1, 2])
def test_text_stays_within_the_margins_and_never_overlaps(version: int) -> None:
    for reversal in (False, True):
        words = _words(_extreme_pdf(reversal, version)[1])
        assert words
        for x0, _, x1, _, word in words:
            assert x0 >= LEFT - 1 and x1 <= RIGHT + 1 <= WIDTH, word
        for index, (ax0, ay0, ax1, ay1, a) in enumerate(words):
            for bx0, by0, bx1, by1, b in words[index + 1 :]:
                overlap_x = min(ax1, bx1) - max(ax0, bx0)
                overlap_y = min(ay1, by1) - max(ay0, by0)
                assert overlap_x <= 0.5 or overlap_y <= 0.5, (a, b)
