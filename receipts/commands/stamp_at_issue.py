"""What the commands that issue receipts (``issue``, ``reverse``, ``reversal approve``) do with
``[tsa] stamp_at_issue = true``: read the table before anything is issued, and time-stamp the new
receipts once they committed (receipts/tsa/at_issue.py; docs/operations.md, "Running the
time-stamp authority")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from receipts.commands.pki_options import warn
from receipts.commands.runtime import Context
from receipts.issuing.issue import IssueOutcome
from receipts.tsa.issue_switch import stamp_at_issue_set
from receipts.workspace import Workspace

if TYPE_CHECKING:
    from receipts.tsa.config import TsaSettings

__all__ = ["stamp_issued", "stamping_of"]


def stamping_of(ws: Workspace) -> TsaSettings | None:
    """``[tsa]`` when it asks for time-stamps at issue, else None. Read before anything is
    issued: a wrong table stops the command before a number is taken."""
    if not stamp_at_issue_set(ws):
        return None
    from receipts.tsa.config import tsa_settings

    return tsa_settings(ws)


def stamp_issued(
    ctx: Context, ws: Workspace, stamping: TsaSettings | None, outcomes: list[IssueOutcome]
) -> None:
    """Time-stamp the receipts just issued, after they committed, when ``stamping`` asks for
    it; an authority that fails is a warning, never a failed issue."""
    if stamping is None or not stamping.stamp_at_issue:
        return
    from receipts.tsa.at_issue import stamp_issued as stamp

    keys = [(o.ref.code, o.ref.number) for o in outcomes if not o.already_issued]
    done = stamp(ctx.credentials(ws), ctx.database(ws), stamping, keys)
    if done is not None and done.left:
        warn(
            [
                f"{done.left} receipt(s) issued without a time-stamp ({done.problem}); "
                "'receipts tsa stamp' stamps them later"
            ]
        )
