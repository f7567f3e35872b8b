"""The gate ``receipts issue --batch FILE`` passes: in a workspace with operators, a file over
the ``[approvals]`` threshold is issued only once a reviewer other than the issuing operator
approved that exact file (``receipts batch approve FILE``; docs/operations.md, "Two people:
reversals and big batches"). Kept out of the ``*_cmds`` modules so ``issue`` loads no other
command's module."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from receipts.batch.fields import BatchEntry
from receipts.commands.runtime import Context
from receipts.issuing.batch_approval import BatchThreshold, BatchTotals, check_batch, file_digest
from receipts.workspace import Workspace

__all__ = ["require_batch_approval"]


def require_batch_approval(
    ctx: Context, ws: Workspace, path: Path, entries: Sequence[BatchEntry]
) -> None:
    """Refuse (one line, nothing issued) a batch over the threshold that no other reviewer
    approved; a workspace without operators needs no approval."""
    operator = ctx.operator(ws)
    if operator is None:
        return
    threshold = BatchThreshold(*ws.config.batch_threshold)
    totals = BatchTotals.of(entry.request for entry in entries)
    if not threshold.exceeded_by(totals):
        return
    db = ctx.database(ws)
    try:
        check_batch(db, path.name, file_digest(path), totals, operator.name, threshold)
    finally:
        db.dispose()
