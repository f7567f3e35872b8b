"""The two-person rule for the rows of a batch file, in a workspace with operators: each row's
handler (开票人) is the clerk issuing the file, its reviewer (复核人) an active reviewer other
than them (docs/security.md, "Operators and key slots"). Every row that breaks it is reported,
and nothing is issued from the file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from receipts.batch.fields import BatchEntry
from receipts.commands.runtime import Context
from receipts.errors import NotPermitted
from receipts.pki.operators import handler_and_reviewer_problems
from receipts.workspace import Workspace

__all__ = ["check_batch_operators"]


def check_batch_operators(
    ctx: Context, ws: Workspace, path: Path, entries: Sequence[BatchEntry]
) -> None:
    """Refuse the file when a row breaks the rule (each such row on stderr, ``FILE:LINE: rule``);
    nothing to check without operators."""
    operator = ctx.operator(ws)
    if operator is None:
        return
    rows = ((f"{path}:{e.line}", e.request.handler, e.request.reviewer) for e in entries)
    with ctx.database(ws).read() as session:
        problems = handler_and_reviewer_problems(session, operator, rows)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        raise NotPermitted(
            f"{len(problems)} row(s) of {path} break the two-person rule; nothing was issued "
            "from it"
        )
