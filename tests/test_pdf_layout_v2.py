"""Layout 2: the 财政电子票据 labels (issue 15), and the layout-1 PDFs already handed out still
verify (the fixture in tests/data/layout_v1/ was rendered by the code before layout 2)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os
import re
from decimal import Decimal
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner

from cli import main
from receipts.domain.divisions import issuer_may_certify
from receipts.domain.enums import PayerKind
from receipts.domain.model import Payer
from receipts.render import layout_v1, layout_v2
from receipts.render.fonts import load_face, shipped_font
from receipts.render.layout import LATEST_LAYOUT, LAYOUTS
from receipts.render.layout_v2 import ITEM_COLUMNS, LAYOUT, TITLE, issue_date_text, rate_text
from receipts.render.receipt_pdf import RenderError, extract_xml, read_layout_version, render_pdf
from receipts.verify.pdf import verify_pdf
from signing.trust import ChainValidator, TrustBundle
from tests.support.factories import make_item
from tests.support.pdf import (
    GOLDEN,
    fixed_seal_xml,
    normal_pdf,
    normal_receipt,
    normal_xml,
    pdftotext,
    reversal_pdf,
    reversal_receipt,
    sign_receipt,
)
from tests.support.pins import renderers_as_pinned
from tests.support.pki import build_pki

V1 = Path(__file__).resolve().parent / "data" / "layout_v1"

LABELS = [
    "工会经费收入专用收据（电子）",
    "票据代码：",
    "票据号码：",
    "校验码：",
    "开票日期：",
    "交款人",
    "交款人统一社会信用代码",
    "交款人类型",
    "项目编码",
    "项目名称",
    "所属期",
    "计拨工资总额（元）",
    "比例",
    "金额（元）",
    "金额合计（大写）",
    "（小写）",
    "备注",
    "收款单位（章）：",
    "开票人：",
    "复核人：",
]
#: Layout 1's words for the same things, which layout 2 no longer prints.
OLD_LABELS = ["收据代码", "收据号码", "开票时间", "合计(大写)", "合计(小写)", "收款单位(盖章)"]


def _v1_validator() -> ChainValidator:
    bundle = TrustBundle.load(V1 / "trust.pem")
    return ChainValidator(bundle, issuer_may_certify=issuer_may_certify)


def test_layouts_2_and_1_are_still_registered_beside_3() -> None:
    # Layout 3 (the QR URL, tests/test_qr_url.py) is the latest since issue 16.
    assert LATEST_LAYOUT == 3
    assert sorted(LAYOUTS) == [1, 2, 3]
    assert LAYOUTS[2] is LAYOUT and LAYOUTS[1] is layout_v1.LAYOUT
    assert read_layout_version(_v2_pdf()) == 2


def test_page_shows_the_labels_of_fiscal_e_bills() -> None:
    text = pdftotext(normal_pdf())
    for label in LABELS:
        assert label in text, label
    for old in OLD_LABELS:
        assert old not in text, old
    for field, value in LAYOUT.printed(normal_receipt()):
        assert value in text, field


def test_reversal_shows_its_original_with_the_new_labels() -> None:
    text = pdftotext(reversal_pdf())
    assert "红字 · 冲红" in text
    assert "冲红原票据" in text
    assert "票据代码 64710126 票据号码 0000000001" in text
    assert "收据代码" not in text
    for field, value in LAYOUT.printed(reversal_receipt()):
        assert value in text, field


def test_title_has_full_width_brackets_on_the_page_and_in_the_metadata() -> None:
    assert TITLE == "工会经费收入专用收据\uff08电子\uff09"
    text = pdftotext(normal_pdf())
    assert TITLE in text and "(电子)" not in text
    with pikepdf.open(io.BytesIO(normal_pdf())) as pdf:
        assert str(pdf.docinfo.Title) == f"{TITLE} 64710126-0000000001"
        assert pdf.open_metadata()["dc:title"] == f"{TITLE} 64710126-0000000001"


def test_issue_date_is_a_date_without_time_or_offset() -> None:
    assert issue_date_text(normal_receipt()) == "2026-11-28"
    text = pdftotext(normal_pdf())
    assert re.search(r"开票日期：\s*2026-11-28\s", text)
    assert "+08:00" not in text and "10:30" not in text


def test_issue_date_is_the_issuers_calendar_day() -> None:
    # 00:30 in China is the day before in UTC: the page shows the issuer's (China) day.
    early = dataclasses.replace(
        normal_receipt(), issued_at=normal_receipt().issued_at.replace(hour=0, minute=30)
    )
    assert issue_date_text(early) == "2026-11-28"


@pytest.mark.parametrize(
    ("rate", "printed"),
    [
        ("0.02", "2%"),
        ("0.020000", "2%"),
        ("0.005", "0.5%"),
        ("0.0025", "0.25%"),
        ("0.1", "10%"),
        ("1", "100%"),
        ("0.000001", "0.0001%"),
        ("0", "0%"),
    ],
)
def test_rate_is_printed_as_a_percentage(rate: str, printed: str) -> None:
    assert rate_text(Decimal(rate)) == printed


def test_page_prints_rates_as_percentages() -> None:
    dues = make_item(
        code="02",
        name="会员会费",
        amount=Decimal("500.00"),
        basis=Decimal("100000.00"),
        rate=Decimal("0.005"),
    )
    receipt = dataclasses.replace(normal_receipt(), items=(make_item(), dues))
    text = pdftotext(render_pdf(fixed_seal_xml(receipt)), "-layout")
    assert re.search(r"100000\.00\s+2%\s", text)
    assert re.search(r"100000\.00\s+0\.5%\s", text)
    assert "0.02" not in text and "0.005" not in text


def test_every_payer_kind_has_a_label_and_the_font_prints_every_fixed_text() -> None:
    assert {kind.value for kind in PayerKind} <= set(layout_v2.PAYER_KIND_LABELS)
    face = load_face(shipped_font())
    assert face.missing(LAYOUT.fixed_text) is None
    assert face.missing("".join(layout_v2.PAYER_KIND_LABELS.values())) is None


def test_an_individual_payer_shows_its_id_number() -> None:
    receipt = dataclasses.replace(
        normal_receipt(), payer=Payer("张三", PayerKind.INDIVIDUAL, other_id="640102199001011234")
    )
    text = pdftotext(render_pdf(fixed_seal_xml(receipt)), "-layout")
    assert re.search(r"交款人证件号码\s+640102199001011234", text)
    assert "个人" in text


def test_the_widest_period_fits_its_column_at_full_size() -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from receipts.render.fonts import register_font

    font = register_font(shipped_font())
    room = ITEM_COLUMNS[2] - 6  # the cell's padding, both sides
    for period in ("2026-01~2026-06", "2088-08~2088-12", "2026Q4", "2026"):
        assert stringWidth(period, font, 8.5) <= room, period


def test_a_range_period_is_printed_as_given() -> None:
    item = make_item(period="2026-01~2026-06")
    receipt = dataclasses.replace(normal_receipt(), items=(item,))
    assert "2026-01~2026-06" in pdftotext(render_pdf(fixed_seal_xml(receipt)), "-layout")


@functools.cache
def _v2_pdf() -> bytes:
    return render_pdf(normal_xml(), layout_version=2)


def test_a_new_render_is_layout_2_and_verifies() -> None:
    result = verify_pdf(_v2_pdf(), build_pki().validator, "r.pdf")
    assert result.valid, result.findings
    red = verify_pdf(reversal_pdf(), build_pki().validator, "red.pdf")
    assert red.valid, red.findings


def test_layout_2_renders_byte_identically() -> None:
    assert render_pdf(normal_xml(), layout_version=2) == _v2_pdf()


def test_page_content_of_layout_2_never_changes() -> None:
    # Layout 2 is released with this digest: a difference means it no longer reproduces the
    # PDFs it made. Put a change in a new layout version instead.
    pdf = render_pdf(fixed_seal_xml(normal_receipt()), layout_version=2)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        content = doc.pages[0].Contents.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    golden = GOLDEN / "receipt_page_v2.sha256"
    if os.environ.get("RECEIPTS_UPDATE_GOLDEN") == "1":
        golden.write_text(digest + "\n", encoding="ascii")
    assert digest == golden.read_text(encoding="ascii").strip()


@pytest.mark.parametrize("name", ["normal.pdf", "normal-pades.pdf"])
def test_a_layout_1_pdf_made_before_layout_2_still_verifies(name: str) -> None:
    data = (V1 / name).read_bytes()
    assert read_layout_version(data) == 1
    result = verify_pdf(data, _v1_validator(), name)
    assert result.valid, result.findings
    plain = (V1 / "normal.pdf").read_bytes()
    fresh = render_pdf(extract_xml(data), layout_version=1)
    if renderers_as_pinned():
        # Re-rendered as layout 1, its XML gives the very bytes that were handed out.
        assert fresh == plain
    else:
        # Other library versions (the floors job): the bytes may differ, the page may not.
        assert verify_pdf(fresh, _v1_validator(), name, method="content").valid
    assert "收据代码" in pdftotext(plain) and "工会经费收入专用收据(电子)" in pdftotext(plain)


def test_a_layout_1_pdf_passed_off_as_layout_2_does_not_verify() -> None:
    data = (V1 / "normal.pdf").read_bytes()
    forged = data.replace(b"<udr:LayoutVersion>1<", b"<udr:LayoutVersion>2<")
    assert forged != data and read_layout_version(forged) == 2
    rendered = verify_pdf(forged, _v1_validator(), "forged.pdf", method="render")
    assert [f.code for f in rendered.findings] == ["pdf-content-mismatch"]
    # By content: layout 2 prints other labels and graphics than the page holds.
    result = verify_pdf(forged, _v1_validator(), "forged.pdf")
    assert {f.code for f in result.findings} == {"pdf-overlay", "pdf-text-mismatch"}


def test_the_render_command_draws_layout_2(tmp_path: Path) -> None:
    source = tmp_path / "r.xml"
    source.write_bytes(normal_xml())
    out = tmp_path / "r.pdf"
    result = CliRunner().invoke(
        main, ["--home", str(tmp_path / "none"), "render", str(source), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert read_layout_version(out.read_bytes()) == 3  # the latest layout
    assert out.read_bytes() == normal_pdf()
    # And the verify command takes both layouts.
    v1 = V1 / "normal-pades.pdf"
    checked = CliRunner().invoke(main, ["verify", str(v1), "--trust", str(V1 / "trust.pem")])
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("VALID")


def test_long_fields_fit_layout_2() -> None:
    # The limits of tests/test_pdf_layout.py, on layout 2 with an enterprise payer and rates.
    long_name = ("宁夏回族自治区银川市兴庆区龘犇鑫淼焱垚实业集团有限责任公司第一分公司工会" * 3)[
        :100
    ]
    item = make_item(
        code="9999",
        name=("其他收入:会员会费补缴及建会筹备金清算差额" * 5)[:100],
        period="2026-10",
        amount=Decimal("20000000000.00"),
        basis=Decimal("1000000000000.00"),
        rate=Decimal("0.02"),
    )
    receipt = dataclasses.replace(
        normal_receipt(),
        payer=Payer(long_name, PayerKind.ENTERPRISE, uscc="91640100MA7600001J"),
        items=(item,) * 8,
        handler="欧阳" + "龘" * 98,
    )
    text = re.sub(r"\s+", "", pdftotext(render_pdf(sign_receipt(receipt))))
    assert long_name in text
    assert text.count("1000000000000.00") == 8 and text.count("2%") == 8
    assert text.count("龘") == 98 + long_name.count("龘")


def test_an_institution_payer_is_printed_by_layout_2_and_refused_by_layout_1() -> None:
    payer = Payer("宁夏某某研究院", PayerKind.INSTITUTION, uscc="12640000MB1234567E")
    xml = fixed_seal_xml(dataclasses.replace(normal_receipt(), payer=payer))
    assert re.search(r"交款人类型\s+机关事业单位", pdftotext(render_pdf(xml), "-layout"))
    with pytest.raises(RenderError, match="layout 1 cannot print payer kind 'institution'"):
        render_pdf(xml, layout_version=1)
