"""``receipts issue``: what finance clerks do (``reverse`` is in ``reverse_cmds``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from receipts.batch.jsonl_file import read_request_json
from receipts.batch.reader import read_batch
from receipts.batch.rules import payer_problems, rule_problems
from receipts.commands.batch_gate import require_batch_approval
from receipts.commands.issuers import issuer_of, print_outcomes
from receipts.commands.operator_rows import check_batch_operators
from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.commands.stamp_at_issue import stamp_issued, stamping_of
from receipts.domain.enums import OperatorRole, PayerKind
from receipts.domain.finance_rules import RuleViolation
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import Item, Payer
from receipts.domain.money import compute_amount, parse_amount, parse_rate
from receipts.errors import InvalidInput
from receipts.issuing.client_refs import issued_references
from receipts.issuing.issue import IssueOutcome, issue_batch
from receipts.issuing.issue import issue as issue_receipt
from receipts.issuing.payer_register import mismatch_check
from receipts.issuing.tax_check import batch_tax_problems, check_override_reason
from receipts.pki.operators import check_handler_and_reviewer, require_role
from receipts.support.interrupts import CommandTerminated, Terminated, sigterm_raises
from receipts.workspace import Workspace, WorkspaceKind

if TYPE_CHECKING:
    from receipts.tsa.config import TsaSettings

__all__ = ["issue"]

_ISSUE_EXAMPLES = """\b
Examples:
  receipts issue --payer-name 宁夏贺兰山实业有限公司 --payer-kind enterprise \\
      --payer-uscc 91640100MA7600001J --item 01:2026-10:2000.00 \\
      --handler 张晓梅 --reviewer 李建国
  receipts issue --item 01:2026-10:100000.00*0.02 ...     (basis × rate)
  receipts issue --from-json receipt.json
  receipts issue --batch october.csv            (CSV, JSON lines or .xlsx; see the README)"""


@click.command("issue", epilog=_ISSUE_EXAMPLES)
@click.option("--payer-name", help="交款人 name.")
@click.option("--payer-kind", type=click.Choice([k.value for k in PayerKind]))
@click.option("--payer-uscc", help="Payer's 统一社会信用代码.")
@click.option("--payer-id", help="Payer's other ID (without a USCC).")
@click.option(
    "--item",
    "items",
    multiple=True,
    help="CODE:PERIOD:AMOUNT or CODE:PERIOD:BASIS*RATE; repeat for more lines.",
)
@click.option("--handler", help="开票人.")
@click.option("--reviewer", help="复核人.")
@click.option("--remark", default="", help="Remark (at most 200 characters).")
@click.option("--client-ref", help="Your reference; reusing it never issues twice.")
@click.option(
    "--situation",
    type=click.Choice(["enterprise_full", "grassroots_remits", "tax_collected", "finance_budget"]),
    help="How it was paid, for the sharing rules (default: from the payer kind; "
    "docs/settlement.md).",
)
@click.option(
    "--from-json", "from_json", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--batch", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--encoding", help="Batch CSV encoding (default: UTF-8, else GB 18030, which covers GBK)."
)
@click.option("--stop-on-error", is_flag=True, help="Issue nothing if any row is bad.")
@click.option(
    "--override-tax",
    metavar="REASON",
    help="Issue even where the tax bureau collected the payment (税务代收); recorded.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Signing processes for a batch.",
)
@with_context
def issue(ctx: Context, **options: Any) -> None:
    """Issue receipts: one from options or --from-json, many with --batch."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    # With operators, the 开票人 is the authenticated clerk and the 复核人 another operator, a
    # reviewer (docs/security.md, "Operators and key slots"); without, both stay free text.
    operator = ctx.operator(ws)
    require_role(operator, OperatorRole.CLERK, action="issuing receipts")
    if operator is not None and not options["handler"]:
        options["handler"] = operator.name
    if options["override_tax"] is not None:
        check_override_reason(options["override_tax"])
    stamping = stamping_of(ws)
    if options["batch"] is not None:
        _issue_batch(ctx, ws, options, stamping)
        return
    request = _one_request(ws, options)
    if operator is not None:
        with ctx.database(ws).read() as session:
            check_handler_and_reviewer(session, operator, request.handler, request.reviewer)
    issuer = issuer_of(ctx, ws, workers=1)
    issuer.tax_override = options["override_tax"]
    outcome = issue_receipt(ctx.database(ws), issuer, request)
    print_outcomes(ctx, [outcome])
    stamp_issued(ctx, ws, stamping, [outcome])


def _one_request(ws: Workspace, options: dict[str, Any]) -> IssueRequest:
    if options["from_json"] is not None:
        return read_request_json(options["from_json"], ws.catalogue)
    missing = [
        name for name in ("payer_name", "payer_kind", "handler", "reviewer") if not options[name]
    ]
    if not options["items"]:
        missing.append("item")
    if missing:
        raise InvalidInput("missing " + ", ".join("--" + m.replace("_", "-") for m in missing))
    payer = Payer(
        options["payer_name"],
        PayerKind(options["payer_kind"]),
        uscc=options["payer_uscc"],
        other_id=options["payer_id"],
    )
    items = tuple(_item(text, ws) for text in options["items"])
    return IssueRequest(
        payer,
        items,
        options["handler"],
        options["reviewer"],
        options["remark"],
        options["client_ref"],
        options["situation"],
    )


def _item(text: str, ws: Workspace) -> Item:
    parts = text.split(":")
    if len(parts) != 3:
        raise InvalidInput(f"--item {text!r} must be CODE:PERIOD:AMOUNT or CODE:PERIOD:BASIS*RATE")
    code, period, value = parts
    name = ws.catalogue.name_of(code)
    if "*" in value:
        basis_text, _, rate_text = value.partition("*")
        basis, rate = parse_amount(basis_text), parse_rate(rate_text)
        return Item(code, name, period, compute_amount(basis, rate), basis, rate)
    return Item(code, name, period, parse_amount(value))


def _issue_batch(
    ctx: Context, ws: Workspace, options: dict[str, Any], stamping: TsaSettings | None
) -> None:
    path: Path = options["batch"]
    entries, problems = read_batch(path, ws.catalogue, encoding=options["encoding"])
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems and (options["stop_on_error"] or not entries):
        click.echo(f"error: {len(problems)} problem(s); nothing was issued", err=True)
        fail_with_findings()
    check_batch_operators(ctx, ws, path, entries)  # with operators: each row's two people
    require_batch_approval(ctx, ws, path, entries)  # over the threshold: a reviewer's approval
    issuer = issuer_of(ctx, ws, workers=options["workers"])
    issuer.tax_override = options["override_tax"]
    # A file breaking a union-finance rule is refused whole, every violating row reported. Rows
    # a rerun finds issued already are not issued again, so they are not held against rules or
    # a register that changed since (a payer renamed, a new rate).
    issued = issued_references(
        ctx.database(ws),
        issuer.organisation.code,
        (e.request.client_ref for e in entries if e.request.client_ref is not None),
    )
    fresh = [e for e in entries if e.request.client_ref not in issued]
    violations = rule_problems(str(path), fresh, issuer.rules, issuer.now().date())
    payers = [e.request.payer for e in fresh]
    violations += payer_problems(str(path), fresh, mismatch_check(ctx.database(ws), payers))
    org, reason = issuer.organisation.code, options["override_tax"]
    violations += batch_tax_problems(ctx.database(ws), org, str(path), fresh, reason)
    if violations:
        for problem in violations:
            click.echo(f"error: {problem}", err=True)
        raise RuleViolation(
            f"{len(violations)} union-finance rule violation(s) in {path}; nothing was issued "
            "from it",
            "batch",
        )
    db = ctx.database(ws)
    outcomes: list[IssueOutcome] = []
    try:
        # SIGTERM (a scheduler stopping the job) unwinds like Ctrl-C: the chunk in flight rolls
        # back, the workers stop, and what committed before it stays issued.
        with (
            sigterm_raises(),
            ctx.progress(
                issue_batch(db, issuer, (e.request for e in entries)),
                length=len(entries),
                label="issuing",
            ) as bar,
        ):
            for outcome in bar:
                outcomes.append(outcome)
    except Terminated:
        # No count: the signal may land while the outcomes of a committed chunk are still being
        # read, so what was read is not what was issued. A rerun reports both exactly.
        raise CommandTerminated(
            "terminated (SIGTERM): the chunk in progress was rolled back, the chunks committed "
            "before it stay issued; run the same file again to issue the rest"
        ) from None
    finally:
        issuer.pool.close()
    ctx.emit(*_batch_summary(path, outcomes, len(problems)))
    stamp_issued(ctx, ws, stamping, outcomes)
    if problems:
        fail_with_findings()


def _batch_summary(
    path: Path, outcomes: list[IssueOutcome], failed_rows: int
) -> tuple[dict[str, Any], Callable[[], str]]:
    """The ``--json`` document of a batch and its human rendering."""
    new = [o for o in outcomes if not o.already_issued]
    again = [o for o in outcomes if o.already_issued]
    total = sum((Decimal(o.total) for o in new), Decimal("0.00"))
    summary = {
        "issued": len(new),
        "already_issued": len(again),
        "failed_rows": failed_rows,
        "total": f"{total:.2f}",
        "first": str(new[0].ref) if new else None,
        "last": str(new[-1].ref) if new else None,
        "already": [{"client_ref": o.client_ref, "receipt": str(o.ref)} for o in again],
    }

    def human() -> str:
        lines = [
            f"issued {len(new)} receipt(s), total {total:,.2f}"
            + (f", {summary['first']} … {summary['last']}" if new else "")
        ]
        if again:
            lines.append(
                f"{len(again)} already issued before (nothing issued twice): "
                + ", ".join(f"{o.client_ref}→{o.ref}" for o in again[:10])
                + (" …" if len(again) > 10 else "")
            )
        if failed_rows:
            lines.append(f"{failed_rows} problem(s) in {path}; those receipts were not issued")
        return "\n".join(lines)

    return summary, human
