"""What the commands that issue receipts share: the :class:`~receipts.issuing.issue.Issuer` of a
workspace (its key, calendar, catalogue, trust and font check) and the table of outcomes they
print."""

from __future__ import annotations

from receipts.commands.runtime import Context
from receipts.commands.tables import format_table
from receipts.domain.finance_rules import DEFAULT_RULES
from receipts.issuing.effective_rules import effective_rules
from receipts.issuing.issue import IssueOutcome, Issuer
from receipts.issuing.signing_pool import SigningPool
from receipts.render.receipt_pdf import check_printable
from receipts.workspace import Workspace

__all__ = ["issuer_of", "print_outcomes"]


def issuer_of(
    ctx: Context, ws: Workspace, workers: int = 1, *, reversals_only: bool = False
) -> Issuer:
    """The workspace's issuer, signing in ``workers`` processes, under the union-finance rules
    in force here (docs/formats.md). ``reversals_only``: an issuer of red receipts, which the
    rules do not apply to, so their search (every signed allocation re-verified) is skipped."""
    creds = ctx.credentials(ws)
    # The rules are found before the key is loaded: a bad [rules] table costs no passphrase.
    rules = (
        DEFAULT_RULES
        if reversals_only
        else effective_rules(ctx.database(ws), ws.config, creds.validator)
    )
    font = ws.config.font
    return Issuer(
        organisation=ws.config.organisation(),
        pool=SigningPool(creds.signer, workers),
        zone=ws.config.zone,
        catalogue=ws.catalogue,
        trust=creds.validator,
        category=ws.config.category,
        series=ws.config.series,
        # The font coverage check, run before a number is taken: a refusal costs no number.
        printable=lambda receipt: check_printable(receipt, font),
        rules=rules,
        public_base_url=ws.config.public_base_url,
    )


def print_outcomes(ctx: Context, outcomes: list[IssueOutcome]) -> None:
    """The issued receipts as a table (``--json``: a list with digests)."""
    rows = [
        [
            o.ref.code,
            f"{o.ref.number:010d}",
            o.total,
            o.client_ref or "",
            "already issued" if o.already_issued else "issued",
        ]
        for o in outcomes
    ]
    headers = ["code", "number", "total", "client ref", "status"]
    ctx.emit(
        [
            {**dict(zip(headers, r, strict=True)), "digest": o.digest}
            for r, o in zip(rows, outcomes, strict=True)
        ],
        lambda: format_table(headers, rows),
    )
