"""``receipts reverse`` and ``receipts reversal approve | reject | list``: a red receipt (冲红)
takes two people (docs/operations.md, "Two people: reversals and big batches").

In a workspace with operators, ``reverse CODE NUMBER --reason R`` by a clerk (or a reviewer)
only records a request; ``reversal approve ID`` by another operator, a reviewer, issues the red
receipt with the requester as its handler (开票人) and the approver as its reviewer (复核人). In
a workspace without operators both people are at the desk: ``reverse ... --handler H --reviewer
V`` issues at once, and H and V must differ.

Why a second group rather than ``reverse approve ID``: ``reverse`` takes a receipt code as its
first argument, and a click group whose first word is either a sub-command or an argument is
ambiguous to parse and to explain in ``--help``; ``reversal`` is the noun for the requests, as
``period`` is for closed months.
"""

from __future__ import annotations

import click

from receipts.commands.arguments import parse_number
from receipts.commands.issuers import issuer_of, print_outcomes
from receipts.commands.runtime import Context, with_context
from receipts.commands.stamp_at_issue import stamp_issued, stamping_of
from receipts.commands.tables import format_table
from receipts.domain.identifiers import validate_receipt_code
from receipts.domain.model import ReceiptRef
from receipts.errors import InvalidInput
from receipts.issuing.reversal_requests import (
    ReversalRequest,
    approve_reversal,
    list_requests,
    reject_reversal,
    request_reversal,
    reverse_in_person,
)
from receipts.pki.operators import Operator
from receipts.workspace import Workspace, WorkspaceKind

__all__ = ["reversal", "reversal_approve", "reversal_list", "reversal_reject", "reverse"]

_REVERSE_EXAMPLES = """\b
Examples:
  receipts --operator 张晓梅 reverse 64710126 0000000042 --reason 交款人名称开具错误
      (a workspace with operators: a request, approved with 'receipts reversal approve ID')
  receipts reverse 64710126 0000000042 --reason 交款人名称开具错误 \\
      --handler 张晓梅 --reviewer 李建国   (a workspace without operators: issued at once)"""


@click.command("reverse", epilog=_REVERSE_EXAMPLES)
@click.argument("code")
@click.argument("number")
@click.option("--reason", required=True, help="Why (1-200 characters).")
@click.option("--handler", help="开票人 (only in a workspace without operators).")
@click.option("--reviewer", help="复核人 (only in a workspace without operators).")
@with_context
def reverse(
    ctx: Context, code: str, number: str, reason: str, handler: str | None, reviewer: str | None
) -> None:
    """Red-reverse (冲红) an issued receipt in full; with operators, request it for approval."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ref = ReceiptRef(validate_receipt_code(code), parse_number(number))
    operator = ctx.operator(ws)
    if operator is None:
        missing = [f"--{n}" for n, v in (("handler", handler), ("reviewer", reviewer)) if not v]
        if missing:
            raise InvalidInput("missing " + ", ".join(missing))
        assert handler is not None and reviewer is not None
        stamping = stamping_of(ws)
        issuer = issuer_of(ctx, ws, reversals_only=True)
        try:
            outcome = reverse_in_person(ctx.database(ws), issuer, ref, reason, handler, reviewer)
        finally:
            issuer.pool.close()
        print_outcomes(ctx, [outcome])
        stamp_issued(ctx, ws, stamping, [outcome])
        return
    if handler or reviewer:
        raise InvalidInput(
            f"--handler and --reviewer are operators here: the red receipt's handler is "
            f"{operator.name}, its reviewer the reviewer who approves the request"
        )
    signer = ctx.credentials(ws).signer_if_any()
    asked = request_reversal(ctx.database(ws), ref, reason, operator.name, signer)
    ctx.emit(
        _json(asked),
        lambda: (
            f"reversal request {asked.id}: {ref} by {asked.requested_by}; a reviewer other than "
            f"{asked.requested_by} approves it with 'receipts reversal approve {asked.id}'"
        ),
    )


@click.group("reversal")
def reversal() -> None:
    """Reversal requests: approved or rejected by a reviewer other than the requester."""


@reversal.command("approve", epilog="\b\nExample:\n  receipts --operator 李建国 reversal approve 3")
@click.argument("request_id", metavar="ID", type=click.IntRange(min=1))
@with_context
def reversal_approve(ctx: Context, request_id: int) -> None:
    """Approve a request: the red receipt is issued, the requester its handler, you its reviewer."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    operator = _operator(ctx, ws)
    stamping = stamping_of(ws)
    issuer = issuer_of(ctx, ws, reversals_only=True)
    try:
        outcome = approve_reversal(ctx.database(ws), issuer, request_id, operator.name)
    finally:
        issuer.pool.close()
    print_outcomes(ctx, [outcome])
    stamp_issued(ctx, ws, stamping, [outcome])


@reversal.command(
    "reject",
    epilog="\b\nExample:\n  receipts --operator 李建国 reversal reject 3 --reason 金额无误",
)
@click.argument("request_id", metavar="ID", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="Why (1-200 characters).")
@with_context
def reversal_reject(ctx: Context, request_id: int, reason: str) -> None:
    """Reject a request (a reviewer), or withdraw your own; nothing is issued."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    operator = _operator(ctx, ws)
    signer = ctx.credentials(ws).signer_if_any()
    done = reject_reversal(ctx.database(ws), request_id, operator.name, reason, signer)
    ctx.emit(_json(done), lambda: f"reversal request {done.id} rejected by {done.decided_by}")


@reversal.command("list", epilog="\b\nExample:\n  receipts reversal list --open")
@click.option("--open", "open_only", is_flag=True, help="Only the requests awaiting a decision.")
@with_context
def reversal_list(ctx: Context, open_only: bool) -> None:
    """Reversal requests, oldest first, with their decisions."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    requests = list_requests(ctx.database(ws), open_only=open_only)
    headers = ["id", "receipt", "requested by", "requested", "status", "decided by", "red receipt"]
    rows = [
        [
            r.id,
            str(r.ref),
            r.requested_by,
            f"{r.requested_at:%Y-%m-%d %H:%M} UTC",
            r.status.value,
            r.decided_by or "",
            str(r.red) if r.red else "",
        ]
        for r in requests
    ]
    ctx.emit(
        [_json(r) for r in requests],
        lambda: format_table(headers, rows) if rows else "no reversal requests",
    )


def _operator(ctx: Context, ws: Workspace) -> Operator:
    operator = ctx.operator(ws)
    if operator is None:
        raise InvalidInput(
            "reversal requests exist only in a workspace with operators; here 'receipts reverse "
            "CODE NUMBER --reason R --handler H --reviewer V' issues the red receipt at once"
        )
    return operator


def _json(request: ReversalRequest) -> dict[str, object]:
    return {
        "id": request.id,
        "receipt": str(request.ref),
        "reason": request.reason,
        "requested_by": request.requested_by,
        "requested_at": request.requested_at.isoformat(),
        "status": request.status.value,
        "decided_by": request.decided_by,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        "decision_reason": request.decision_reason,
        "red_receipt": str(request.red) if request.red else None,
    }
