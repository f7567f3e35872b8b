"""``receipts stats``: counts and amounts by tier, issuer, period, item, payer kind and status,
as tables, JSON, a CSV file or a PDF report with bar charts (the output is made in
:mod:`receipts.commands.stats_output`)."""

from __future__ import annotations

from pathlib import Path

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.stats_output import DIMENSIONS, human_report, stats_to_json, write_csv
from receipts.stats.figures import Dimension, ledger_stats
from receipts.stats.report_pdf import render_stats_pdf
from receipts.support.atomic import write_atomic

__all__ = ["stats"]

_EXAMPLES = """\b
Examples:
  receipts stats                                  (summary and every breakdown)
  receipts stats --by issuer --from 2026-01 --to 2026-06
  receipts --json stats --by period
  receipts stats --by period-paid --from 2026-01 --to 2026-12   (by 所属期)
  receipts stats --csv stats-2026.csv --pdf stats-2026.pdf --from 2026-01 --to 2026-12

\b
Counting: issued = normal receipts (gross); reversed = those of them a red receipt
cancelled (part of issued, never added again); red = red receipts (negative), in the
month they were issued; net = issued + red. Rows of every breakdown add up to the total;
by item, a receipt with two items counts once under each (amounts still add up);
so does --by period-paid, by 所属期 (the period an item pays for: 2026-10, 2026Q4,
2026-01~2026-06, 2026), while --by period is the month of issue, which --from/--to filter."""


@click.command("stats", epilog=_EXAMPLES)
@click.option("--from", "period_from", metavar="YYYY-MM", help="First month of issue.")
@click.option("--to", "period_to", metavar="YYYY-MM", help="Last month of issue.")
@click.option(
    "--by",
    type=click.Choice(DIMENSIONS),
    multiple=True,
    help="Only this breakdown (repeatable): period = month of issue, period-paid = 所属期. "
    "Default: the summary and every breakdown.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine output (as the group's).")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the figures as CSV (UTF-8 with BOM, for spreadsheets).",
)
@click.option(
    "--xlsx",
    "xlsx_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the figures as an Excel workbook (sheet 统计).",
)
@click.option(
    "--pdf",
    "pdf_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a PDF report with tables and bar charts.",
)
@with_context
def stats(
    ctx: Context,
    period_from: str | None,
    period_to: str | None,
    by: tuple[str, ...],
    as_json: bool,
    csv_file: Path | None,
    xlsx_file: Path | None,
    pdf_file: Path | None,
) -> None:
    """Count receipts and sum their amounts by tier, issuer, month, item, payer kind and
    status; at provincial and national tiers, children's imported receipts too."""
    ctx.json = ctx.json or as_json
    ws = ctx.workspace()
    figures = ledger_stats(
        ctx.database(ws),
        period_from=period_from,
        period_to=period_to,
        by=[Dimension(d) for d in (by or DIMENSIONS)],
        catalogue=ws.catalogue,
    )
    if csv_file is not None:
        write_csv(figures, csv_file)
    if xlsx_file is not None:
        write_csv(figures, xlsx_file, xlsx=True)
    if pdf_file is not None:
        title = f"{ws.config.name}({ws.config.org_code})"
        write_atomic(pdf_file, render_stats_pdf(figures, title=title, font_path=ws.config.font))
    ctx.emit(stats_to_json(figures), lambda: human_report(figures, summary=not by))
    for written in (csv_file, xlsx_file, pdf_file):
        if written is not None:
            ctx.echo(f"wrote {written}")
