"""What ``receipts stats`` prints and writes: the ``--json`` document, the CSV table and the
terminal tables. Nothing here queries the ledger (the figures come from
:func:`receipts.stats.figures.ledger_stats`), so this module loads no database library."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from receipts.commands.spreadsheet import spreadsheet_csv
from receipts.commands.spreadsheet_xlsx import spreadsheet_xlsx
from receipts.commands.tables import format_table
from receipts.domain.money import format_amount

if TYPE_CHECKING:
    from receipts.stats.figures import Breakdown, Figures, LedgerStats

__all__ = ["DIMENSIONS", "FIGURE_COLUMNS", "RULE", "human_report", "stats_to_json", "write_csv"]

DIMENSIONS = ("tier", "issuer", "period", "item", "payer-kind", "status", "period-paid")
"""The values of ``--by``: those of :class:`receipts.stats.figures.Dimension`, spelt out here so
that this module needs no SQLAlchemy (a test keeps the two equal)."""
FIGURE_COLUMNS = (
    "issued_count",
    "issued_amount",
    "reversed_count",
    "reversed_amount",
    "red_count",
    "red_amount",
    "net_amount",
)
"""Column names of the figures in JSON and CSV."""
_HUMAN_COLUMNS = (
    "issued",
    "issued amount",
    "reversed",
    "reversed amount",
    "red",
    "red amount",
    "net amount",
)
RULE = (
    "net = issued + red: red receipts are negative and count in the month they were issued; "
    "reversed = issued receipts since cancelled by a red receipt (already in issued)"
)
"""How red receipts count, in one line (the module docstring of ``receipts.stats.figures``)."""


def stats_to_json(stats: LedgerStats) -> dict[str, Any]:
    """The ``--json`` document: amounts as strings with two decimals, never floats."""
    return {
        "ledger": stats.ledger,
        "from": stats.period_from,
        "to": stats.period_to,
        "rule": RULE,
        "summary": _figures_json(stats.summary),
        "by": {
            b.dimension.value: [
                {"key": r.key, "name": r.name, **_figures_json(r.figures)} for r in b.rows
            ]
            for b in stats.breakdowns
        },
    }


def write_csv(stats: LedgerStats, path: Path, *, xlsx: bool = False) -> None:
    """One table: the summary row (``summary,total``), then every breakdown's rows; UTF-8 with a
    byte-order mark and CRLF line ends, written atomically; names neutralised against formula
    injection, the figures columns numbers. With ``xlsx``, the same table as an Excel workbook's
    sheet 统计 (:mod:`receipts.commands.spreadsheet_xlsx`)."""
    columns = ("breakdown", "key", "name", *FIGURE_COLUMNS)
    writer = (
        spreadsheet_xlsx(path, columns, numeric=FIGURE_COLUMNS, sheet="统计")
        if xlsx
        else spreadsheet_csv(path, columns, numeric=FIGURE_COLUMNS)
    )
    with writer as sheet:
        sheet.row(["summary", "total", "合计", *_figures_json(stats.summary).values()])
        for breakdown in stats.breakdowns:
            for row in breakdown.rows:
                figures = _figures_json(row.figures).values()
                sheet.row([breakdown.dimension.value, row.key, row.name, *figures])


def human_report(stats: LedgerStats, *, summary: bool) -> str:
    """The terminal report: the counting rule, the summary (if ``summary``), every breakdown."""
    span = (
        "all"
        if not (stats.period_from or stats.period_to)
        else (f"{stats.period_from or '…'} to {stats.period_to or '…'}")
    )
    parts = [f"ledger {stats.ledger}, months of issue: {span}\n{RULE}"]
    if summary:
        parts.append("summary\n" + format_table(_HUMAN_COLUMNS, [_cells(stats.summary)]))
    parts += [_table(b, stats.summary) for b in stats.breakdowns]
    return "\n\n".join(parts)


def _figures_json(figures: Figures) -> dict[str, Any]:
    values = (
        figures.issued_count,
        format_amount(figures.issued),
        figures.reversed_count,
        format_amount(figures.reversed),
        figures.red_count,
        format_amount(figures.red),
        format_amount(figures.net),
    )
    return dict(zip(FIGURE_COLUMNS, values, strict=True))


def _cells(figures: Figures) -> list[object]:
    return [
        figures.issued_count,
        format_amount(figures.issued, grouping=True),
        figures.reversed_count,
        format_amount(figures.reversed, grouping=True),
        figures.red_count,
        format_amount(figures.red, grouping=True),
        format_amount(figures.net, grouping=True),
    ]


def _table(breakdown: Breakdown, total: Figures) -> str:
    rows: list[Sequence[object]] = [[r.key, r.name, *_cells(r.figures)] for r in breakdown.rows]
    rows.append(["total", "", *_cells(total)])
    key = breakdown.dimension.value
    text = f"by {key}\n" + format_table([key, "name", *_HUMAN_COLUMNS], rows)
    if key == "item":
        text += "\n(a receipt with lines of several items counts once under each)"
    elif key == "period-paid":
        text += "\n(所属期, the period paid for: a receipt with several counts once under each)"
    return text
