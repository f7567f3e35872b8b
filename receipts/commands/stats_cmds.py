"""``receipts stats``: counts and amounts by tier, issuer, period, item, payer kind and status,
as tables, JSON, a CSV file or a PDF report with bar charts."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from receipts.commands.runtime import Context, command
from receipts.commands.tables import format_table
from receipts.domain.money import format_amount

if TYPE_CHECKING:
    from receipts.stats.figures import Breakdown, Figures, LedgerStats

__all__ = ["DIMENSIONS", "FIGURE_COLUMNS", "RULE", "register", "stats_to_json", "write_csv"]

#: The values of ``--by`` (those of :class:`receipts.stats.figures.Dimension`, kept here so that
#: ``receipts --help`` does not import SQLAlchemy).
DIMENSIONS = ("tier", "issuer", "period", "item", "payer-kind", "status")
#: Column names of the figures in JSON and CSV.
FIGURE_COLUMNS = (
    "issued_count",
    "issued_amount",
    "reversed_count",
    "reversed_amount",
    "red_count",
    "red_amount",
    "net_amount",
)
_HUMAN_COLUMNS = (
    "issued",
    "issued amount",
    "reversed",
    "reversed amount",
    "red",
    "red amount",
    "net amount",
)
#: How red receipts count, in one line (the module docstring of ``receipts.stats.figures``).
RULE = (
    "net = issued + red: red receipts are negative and count in the month they were issued; "
    "reversed = issued receipts since cancelled by a red receipt (already in issued)"
)

_EXAMPLES = """\b
Examples:
  receipts stats                                  (summary and every breakdown)
  receipts stats --by issuer --from 2026-01 --to 2026-06
  receipts --json stats --by period
  receipts stats --csv stats-2026.csv --pdf stats-2026.pdf --from 2026-01 --to 2026-12

\b
Counting: issued = normal receipts (gross); reversed = those of them a red receipt
cancelled (part of issued, never added again); red = red receipts (negative), in the
month they were issued; net = issued + red. Rows of every breakdown add up to the total;
by item, a receipt with two items counts once under each (amounts still add up)."""


def register(group: click.Group) -> None:
    """Attach ``stats``."""

    @command(group, "stats", epilog=_EXAMPLES)
    @click.option("--from", "period_from", metavar="YYYY-MM", help="First month of issue.")
    @click.option("--to", "period_to", metavar="YYYY-MM", help="Last month of issue.")
    @click.option(
        "--by",
        type=click.Choice(DIMENSIONS),
        multiple=True,
        help="Only this breakdown (repeatable). Default: the summary and every breakdown.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Machine output (as the group's).")
    @click.option(
        "--csv",
        "csv_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the figures as CSV (UTF-8 with BOM, for spreadsheets).",
    )
    @click.option(
        "--pdf",
        "pdf_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write a PDF report with tables and bar charts.",
    )
    def stats_cmd(
        ctx: Context,
        period_from: str | None,
        period_to: str | None,
        by: tuple[str, ...],
        as_json: bool,
        csv_file: Path | None,
        pdf_file: Path | None,
    ) -> None:
        """Count receipts and sum their amounts by tier, issuer, month, item, payer kind and
        status; at provincial and national tiers, children's imported receipts too."""
        from receipts.stats.figures import Dimension, ledger_stats

        ctx.json = ctx.json or as_json
        ws = ctx.workspace()
        stats = ledger_stats(
            ctx.database(ws),
            period_from=period_from,
            period_to=period_to,
            by=[Dimension(d) for d in (by or DIMENSIONS)],
            catalogue=ws.catalogue,
        )
        if csv_file is not None:
            write_csv(stats, csv_file)
        if pdf_file is not None:
            from receipts.stats.report_pdf import render_stats_pdf

            title = f"{ws.config.name}({ws.config.org_code})"
            pdf_file.write_bytes(render_stats_pdf(stats, title=title, font_path=ws.config.font))
        ctx.emit(stats_to_json(stats), lambda: _human(stats, summary=not by))
        for written in (csv_file, pdf_file):
            if written is not None:
                ctx.echo(f"wrote {written}")


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


def write_csv(stats: LedgerStats, path: Path) -> None:
    """One table: the summary row (``summary,total``), then every breakdown's rows. UTF-8 with
    a byte-order mark and CRLF line ends, so spreadsheets open the Chinese names correctly."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["breakdown", "key", "name", *FIGURE_COLUMNS])
        writer.writerow(["summary", "total", "合计", *_figures_json(stats.summary).values()])
        for breakdown in stats.breakdowns:
            for row in breakdown.rows:
                figures = _figures_json(row.figures).values()
                writer.writerow([breakdown.dimension.value, row.key, row.name, *figures])


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
    return text


def _human(stats: LedgerStats, *, summary: bool) -> str:
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
