"""The ``receipts`` command line: the root group, its options, and where each command lives.

Every command is a module-level function in ``receipts/commands/`` (one module per topic); the
root group imports a command's module only when that command runs, so ``receipts --help`` loads
click and nothing else of weight. A command's one-line help is kept beside its import path below;
``tests/test_cli_structure.py`` checks it against the command itself. docs/architecture.md
describes the layers below the commands.
"""

from __future__ import annotations

from pathlib import Path

import click

from receipts import __version__
from receipts.commands.lazy import LazyCommand
from receipts.commands.root import GroupOptions, RootGroup

__all__ = ["COMMANDS", "main"]

_C = "receipts.commands."

COMMANDS = {
    "archive": LazyCommand(
        _C + "archive_cmds:archive",
        "Archive packages of closed periods (归档): create, verify, restore.",
    ),
    "audit": LazyCommand(
        _C + "ledger_cmds:audit",
        "Recompute the event chain, check signed heads, re-derive every table.",
    ),
    "backup": LazyCommand(
        _C + "ledger_cmds:backup",
        "A consistent copy of the workspace and its SQLite ledger, while in use.",
    ),
    "batch": LazyCommand(
        _C + "batch_cmds:batch",
        "Batch files over the approval threshold: a reviewer approves each one.",
    ),
    "book": LazyCommand(
        _C + "book_cmds:book",
        "Book a verified receipt into a payer's accounts (入账), at most once.",
    ),
    "demo": LazyCommand(
        _C + "demo_cmds:demo",
        "The whole life of receipts across three tiers on SQLite, in a fresh folder.",
    ),
    "deliver": LazyCommand(
        _C + "deliver_cmds:deliver_command",
        "Send each new receipt's PDF (and XML) to its payer's registered email.",
    ),
    "extract": LazyCommand(
        _C + "render_cmds:extract",
        "Write the signed XML attached to a receipt PDF, byte for byte.",
    ),
    "init": LazyCommand(
        _C + "workspace_cmds:init",
        "Create a workspace: a federation's (issues receipts) or a payer's (books them).",
    ),
    "issue": LazyCommand(
        _C + "issue_cmds:issue",
        "Issue receipts: one from options or --from-json, many with --batch.",
    ),
    "ledger": LazyCommand(
        _C + "ledger_partition_cmds:ledger",
        "The ledger's receipts by year of issue: partitions, detaching a closed year.",
    ),
    "lookup": LazyCommand(
        _C + "show_cmds:lookup",
        "Public look-up (查验): the status, only when every detail matches.",
    ),
    "log": LazyCommand(
        _C + "log_cmds:log",
        "Who did what: the event log by operator, kind and time.",
    ),
    "operator": LazyCommand(
        _C + "operator_cmds:operator",
        "Named operators and their roles (clerk, reviewer, auditor, admin).",
    ),
    "org": LazyCommand(_C + "org_cmds:org", "Organisations known to this ledger."),
    "payer": LazyCommand(
        _C + "payer_cmds:payer",
        "The payer register: payers by USCC, their names over time, union and email.",
    ),
    "period": LazyCommand(
        _C + "period_cmds:period",
        "Closed periods: months in which nothing changes any more.",
    ),
    "pki": LazyCommand(
        _C + "pki_cmds:pki",
        "Keys, certificates, CRLs and trust bundles: the federation PKI.",
    ),
    "reconcile": LazyCommand(
        _C + "reconcile_cmds:reconcile",
        "对账: prove two records agree (tier ↔ tier, receipts ↔ bank, stock ↔ issued).",
    ),
    "render": LazyCommand(
        _C + "render_cmds:render",
        "Write the PDF of a receipt (XML file, or CODE NUMBER from the ledger).",
    ),
    "reversal": LazyCommand(
        _C + "reverse_cmds:reversal",
        "Reversal requests: approved or rejected by a reviewer other than the requester.",
    ),
    "reverse": LazyCommand(
        _C + "reverse_cmds:reverse",
        "Red-reverse (冲红) an issued receipt in full; with operators, request it for approval.",
    ),
    "serve": LazyCommand(
        _C + "serve_cmds:serve",
        "Run the federation node: public 查验 page and API, tier API.",
    ),
    "settle": LazyCommand(
        _C + "settle_cmds:settle",
        "Shares (分成) and settlement between tiers: statements, reconciliation, transfers.",
    ),
    "show": LazyCommand(
        _C + "show_cmds:show",
        "Print a receipt from the ledger, with its status.",
    ),
    "stats": LazyCommand(
        _C + "stats_cmds:stats",
        "Count receipts and sum their amounts by tier, issuer, month, item, payer kind and "
        "status; at provincial and national tiers, children's imported receipts too.",
    ),
    "stock": LazyCommand(_C + "stock_cmds:stock", "Receipt number segments (票据领用, 核销)."),
    "sync": LazyCommand(
        _C + "sync_cmds:sync",
        "Push to the tier above's node, record its acknowledgement, reconcile (cron job).",
    ),
    "tax": LazyCommand(
        _C + "tax_cmds:tax",
        "Tax-collected dues (税务代收): import the tax bureau's records, reconcile its transfers.",
    ),
    "transmit": LazyCommand(
        _C + "transmit_cmds:transmit",
        "Transmission packages to the tier above, and their acknowledgements.",
    ),
    "tsa": LazyCommand(
        _C + "tsa_cmds:tsa",
        "The RFC 3161 time-stamp authority, and time-stamping receipts.",
    ),
    "verify": LazyCommand(
        _C + "verify_cmds:verify",
        "Verify receipts: XML, PDF (attachment, page and PAdES), or QR text.",
    ),
    "voucher": LazyCommand(
        _C + "voucher_cmds:voucher", "Accounting vouchers (记账凭证) of receipts issued or booked."
    ),
}
"""Every top-level command: name → import path and one-line help."""


@click.group(
    cls=RootGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Workspace folder (env RECEIPTS_HOME; default ./.receipts).",
)
@click.option(
    "--db",
    "db_url",
    default=None,
    envvar="RECEIPTS_DB",
    help="Ledger database URL (env RECEIPTS_DB; default SQLite in the workspace).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("-v", "--verbose", count=True, help="More output.")
@click.option("-q", "--quiet", count=True, help="Less output.")
@click.option(
    "--allow-insecure-permissions",
    is_flag=True,
    help="Load key files that other users may read or write (refused by default).",
)
@click.option(
    "--operator",
    default=None,
    envvar="RECEIPTS_OPERATOR",
    help="Who acts, in a workspace with operators (env RECEIPTS_OPERATOR); the secret is "
    "prompted, or read from RECEIPTS_OPERATOR_SECRET for batch jobs.",
)
@click.version_option(__version__, prog_name="receipts")
@click.pass_context
def main(
    click_ctx: click.Context,
    home: Path | None,
    db_url: str | None,
    as_json: bool,
    verbose: int,
    quiet: int,
    allow_insecure_permissions: bool,
    operator: str | None,
) -> None:
    """Electronic union-funds receipts (工会经费收入专用收据(电子)): issue, verify, book,
    transmit, reconcile and archive them across the national, provincial and city tiers.

    \b
    Example:
      receipts --home ./yinchuan init --org 640100 --name 银川市总工会 --tier city
    """
    click_ctx.obj = GroupOptions(
        home=home,
        db_url=db_url,
        json=as_json,
        verbosity=verbose - quiet,
        allow_insecure_permissions=allow_insecure_permissions,
        operator=operator or None,
    )


if __name__ == "__main__":  # python cli.py …, as well as the installed `receipts`
    main(prog_name="receipts")
