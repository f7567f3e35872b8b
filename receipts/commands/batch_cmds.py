"""``receipts batch approve FILE | approvals``: a reviewer's approval of a batch file over the
workspace's threshold, by the file's SHA-256 (docs/operations.md, "Two people: reversals and big
batches")."""

from __future__ import annotations

from pathlib import Path

import click

from receipts.batch.reader import read_batch
from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.errors import InvalidInput
from receipts.issuing.batch_approval import (
    BatchApproval,
    BatchThreshold,
    BatchTotals,
    approve_batch,
    batch_approvals,
    file_digest,
)
from receipts.workspace import WorkspaceKind

__all__ = ["batch", "batch_approve", "batch_list"]


@click.group("batch")
def batch() -> None:
    """Batch files over the approval threshold: a reviewer approves each one."""


@batch.command(
    "approve", epilog="\b\nExample:\n  receipts --operator 李建国 batch approve october.csv"
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--encoding", help="CSV encoding (default: UTF-8, else GB 18030, which covers GBK).")
@with_context
def batch_approve(ctx: Context, file: Path, encoding: str | None) -> None:
    """Approve a batch file (its exact bytes, by SHA-256) for a clerk to issue."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    operator = ctx.operator(ws)
    if operator is None:
        raise InvalidInput(
            "a workspace without operators issues batches without approval; nothing to approve"
        )
    digest = file_digest(file)
    entries, problems = read_batch(file, ws.catalogue, encoding=encoding)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        click.echo(f"error: {len(problems)} problem(s); {file} was not approved", err=True)
        fail_with_findings()
    if file_digest(file) != digest:
        raise InvalidInput(f"{file} changed while it was read; it was not approved")
    totals = BatchTotals.of(entry.request for entry in entries)
    threshold = BatchThreshold(*ws.config.batch_threshold)
    signer = ctx.credentials(ws).signer_if_any()
    approval, new = approve_batch(
        ctx.database(ws), file.name, digest, totals, operator.name, signer
    )

    def human() -> str:
        said = "approved" if new else "was approved already"
        line = (
            f"{file.name} ({approval.totals.describe()}, SHA-256 {digest}) {said} by "
            f"{approval.approved_by}"
        )
        if not threshold.exceeded_by(totals):
            line += f"; it is within the threshold ({threshold.describe()}) and needs none"
        return line

    ctx.emit({**_json(approval), "new": new}, human)


@batch.command("approvals", epilog="\b\nExample:\n  receipts batch approvals")
@with_context
def batch_list(ctx: Context) -> None:
    """Approved batch files, oldest first."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    approvals = batch_approvals(ctx.database(ws))
    headers = ["file", "receipts", "total", "approved by", "approved", "SHA-256"]
    rows = [
        [
            a.file_name,
            a.totals.receipts,
            f"{a.totals.total:,.2f}",
            a.approved_by,
            f"{a.approved_at:%Y-%m-%d %H:%M} UTC",
            a.digest[:16] + "…",
        ]
        for a in approvals
    ]
    ctx.emit(
        [_json(a) for a in approvals],
        lambda: format_table(headers, rows) if rows else "no approved batch files",
    )


def _json(approval: BatchApproval) -> dict[str, object]:
    return {
        "file": approval.file_name,
        "sha256": approval.digest,
        "receipts": approval.totals.receipts,
        "total": f"{approval.totals.total:.2f}",
        "approved_by": approval.approved_by,
        "approved_at": approval.approved_at.isoformat(),
    }
