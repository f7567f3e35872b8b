"""The statistics report as a PDF: the summary, a table and a bar chart per breakdown, with
Chinese labels in the same embedded TrueType font as the receipts (no other font anywhere).

Importing this module is cheap: reportlab is imported by :func:`render_stats_pdf`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from receipts.domain.money import format_amount
from receipts.render.fonts import check_coverage, load_face, register_font, resolve_font
from receipts.stats.figures import Breakdown, Dimension, Figures, LedgerStats, StatsRow

__all__ = ["BREAKDOWN_TITLES", "COLUMN_TITLES", "RULE_TEXT", "render_stats_pdf"]

#: Heading of each breakdown.
BREAKDOWN_TITLES = {
    Dimension.TIER: "按层级",
    Dimension.ISSUER: "按收款单位",
    Dimension.PERIOD: "按月份(开具月份)",
    Dimension.ITEM: "按项目",
    Dimension.PAYER_KIND: "按交款人类型",
    Dimension.STATUS: "按状态",
    Dimension.PERIOD_PAID: "按所属期",
}
_KEY_TITLES = {
    Dimension.TIER: "层级",
    Dimension.ISSUER: "单位代码",
    Dimension.PERIOD: "月份",
    Dimension.ITEM: "项目编码",
    Dimension.PAYER_KIND: "交款人类型",
    Dimension.STATUS: "状态",
    Dimension.PERIOD_PAID: "所属期",
}
#: Column headings of the figures, in :class:`Figures` order, then the net amount.
COLUMN_TITLES = (
    "开具张数",
    "开具金额(元)",
    "已冲红张数",
    "已冲红金额(元)",
    "红字张数",
    "红字金额(元)",
    "净额(元)",
)
#: The red-receipt rule, as printed under the title.
RULE_TEXT = (
    "统计口径：开具＝正常收据（含其后被冲红的）；已冲红＝其中已被红字收据冲销的部分（已含在开具中，"
    "不再重复计算）；红字＝红字收据，金额为负，计入红字收据开具的月份；净额＝开具＋红字。"
    "按项目、按所属期统计按收据行汇总，一张收据含多个项目或所属期时在各项下各计一张。"
)
#: Bars per chart at most; a longer breakdown charts its largest groups by amount issued.
MAX_BARS = 30
_ISSUED_COLOUR = (0.45, 0.6, 0.8)
_NET_COLOUR = (0.75, 0.2, 0.2)


def render_stats_pdf(
    stats: LedgerStats, *, title: str, font_path: Path | str | None = None
) -> bytes:
    """The report of ``stats`` headed ``title`` (e.g. the ledger owner's name); ``font_path``
    is the workspace's configured font, None for the shipped one. Raises
    :class:`~receipts.render.errors.FontCoverageError` for a name the font cannot print."""
    path = resolve_font(font_path)
    check_coverage(load_face(path), _texts(stats, title))
    font = register_font(path)

    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    story = _story(stats, title, font)

    def page_number(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawRightString(doc.pagesize[0] - 15 * mm, 8 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{title} 工会经费收入统计",
        initialFontName=font,  # else reportlab refers to an unembedded Helvetica
        invariant=1,  # no clock in the output: the same figures give the same bytes
        lang="zh-CN",
        pageCompression=1,
    )
    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return buffer.getvalue()


def _story(stats: LedgerStats, title: str, font: str) -> list[Any]:
    """The report's flowables: title, period, rule, summary, then a table and a chart per
    breakdown."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table, TableStyle

    heading = ParagraphStyle("heading", fontName=font, fontSize=13, leading=18, spaceBefore=6)
    body = ParagraphStyle("body", fontName=font, fontSize=8.5, leading=12, wordWrap="CJK")
    table_style = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
            ("BACKGROUND", (0, -1), (-1, -1), colors.Color(0.95, 0.95, 0.95)),
            ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
    )
    title_style = ParagraphStyle("title", parent=heading, fontSize=16, leading=22)
    summary_style = TableStyle(
        [*table_style.getCommands()[:4], ("ALIGN", (1, 1), (-1, -1), "RIGHT")]
    )
    story: list[Any] = [
        Paragraph(f"{_escape(title)} 工会经费收入统计", title_style),
        Paragraph(f"账簿：{stats.ledger}　统计期间：{_range(stats)}", body),
        Paragraph(RULE_TEXT, body),
        Spacer(1, 3 * mm),
        Paragraph("汇总", heading),
        Table(_summary_rows(stats.summary), hAlign="LEFT", style=summary_style),
    ]
    for breakdown in stats.breakdowns:
        rows = _table_rows(breakdown, stats.summary)
        section = [
            Paragraph(BREAKDOWN_TITLES[breakdown.dimension], heading),
            Table(rows, hAlign="LEFT", repeatRows=1, style=table_style),
        ]
        if breakdown.rows:
            section += [Spacer(1, 3 * mm), _chart(breakdown, font)]
        # On one page when it fits; a long table still splits, repeating its header row.
        story.append(KeepTogether(section))
    return story


def _range(stats: LedgerStats) -> str:
    if stats.period_from is None and stats.period_to is None:
        return "全部"
    return f"{stats.period_from or '最早'} 至 {stats.period_to or '最近'}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _amount(value: Decimal) -> str:
    return format_amount(value, grouping=True)


def _figures_cells(figures: Figures) -> list[str]:
    return [
        str(figures.issued_count),
        _amount(figures.issued),
        str(figures.reversed_count),
        _amount(figures.reversed),
        str(figures.red_count),
        _amount(figures.red),
        _amount(figures.net),
    ]


def _summary_rows(summary: Figures) -> list[list[str]]:
    return [
        ["", "张数", "金额(元)"],
        ["开具(正常收据)", str(summary.issued_count), _amount(summary.issued)],
        ["其中已冲红", str(summary.reversed_count), _amount(summary.reversed)],
        ["红字收据", str(summary.red_count), _amount(summary.red)],
        ["净额＝开具＋红字", "", _amount(summary.net)],
    ]


def _table_rows(breakdown: Breakdown, summary: Figures) -> list[list[str]]:
    """Header, a row per group, and the summary as the total (which the amounts add up to)."""
    rows = [[_KEY_TITLES[breakdown.dimension], "名称", *COLUMN_TITLES]]
    rows += [[row.key, row.name, *_figures_cells(row.figures)] for row in breakdown.rows]
    rows.append(["合计", "", *_figures_cells(summary)])
    return rows


def _label(row: StatsRow) -> str:
    return row.name or row.key


def _charted(breakdown: Breakdown) -> list[StatsRow]:
    rows = list(breakdown.rows)
    if len(rows) <= MAX_BARS:
        return rows
    largest = sorted(rows, key=lambda r: r.figures.issued, reverse=True)[:MAX_BARS]
    keep = {id(r) for r in largest}
    return [r for r in rows if id(r) in keep]


def _chart(breakdown: Breakdown, font: str) -> Any:
    """Grouped bars of the amount issued and the net amount per group, with a legend."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    rows = _charted(breakdown)
    width, height = 760.0, 210.0
    drawing = Drawing(width, height)
    drawing.initialFontName = font  # else the renderer starts every drawing in Helvetica
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 70, 60, width - 200, height - 80
    # Bar heights are drawing geometry, not money: the amounts themselves stay Decimal.
    chart.data = [
        [float(r.figures.issued) for r in rows],
        [float(r.figures.net) for r in rows],
    ]
    chart.categoryAxis.categoryNames = [_label(r) for r in rows]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.categoryAxis.labels.angle = 30 if len(rows) > 6 else 0
    chart.categoryAxis.labels.dy = -4
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = lambda value: f"{value:,.0f}"
    chart.valueAxis.forceZero = True
    chart.bars[0].fillColor = colors.Color(*_ISSUED_COLOUR)
    chart.bars[1].fillColor = colors.Color(*_NET_COLOUR)
    chart.barLabels.fontName = font
    chart.groupSpacing = 8
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = width - 115, height - 30
    legend.fontName = font
    legend.fontSize = 8
    legend.colorNamePairs = [
        (colors.Color(*_ISSUED_COLOUR), "开具金额(元)"),
        (colors.Color(*_NET_COLOUR), "净额(元)"),
    ]
    drawing.add(legend)
    caption = BREAKDOWN_TITLES[breakdown.dimension]
    if len(rows) < len(breakdown.rows):
        caption += f"(开具金额最大的 {len(rows)} 组)"
    drawing.add(String(70, height - 12, caption, fontName=font, fontSize=9))
    return drawing


def _texts(stats: LedgerStats, title: str) -> Iterator[tuple[str, str]]:
    """Every text the report prints that comes from data, named for the error message."""
    yield "title", title
    yield "report text", RULE_TEXT + "".join(BREAKDOWN_TITLES.values()) + "".join(COLUMN_TITLES)
    for breakdown in stats.breakdowns:
        for row in breakdown.rows:
            yield f"{breakdown.dimension.value} {row.key}", row.name
