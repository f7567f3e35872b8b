"""``receipts reconcile`` (对账): the group. Its commands prove that two records agree: tier with
tier (:mod:`receipts.commands.reconcile_tiers_cmds`), receipts with a bank statement
(:mod:`~receipts.commands.reconcile_bank_cmds`), stock with what was issued
(:mod:`~receipts.commands.reconcile_stock_cmds`); :mod:`~receipts.commands.reconcile_report`
holds what their reports share. docs/architecture.md describes the two-round tier exchange.
"""

from __future__ import annotations

import click

from receipts.commands.lazy import LazyCommand, LazyGroup

__all__ = ["reconcile"]

_C = "receipts.commands."


@click.group(
    "reconcile",
    cls=LazyGroup,
    lazy_commands={
        "bank": LazyCommand(
            _C + "reconcile_bank_cmds:reconcile_bank",
            "Match this federation's receipts with the credits of a bank statement.",
        ),
        "stock": LazyCommand(
            _C + "reconcile_stock_cmds:reconcile_stock",
            "核销 check of every segment held or allocated: issued, reversed, red and unused "
            "numbers and gaps (none allowed), and receipts outside every segment of their issuer.",
        ),
        "summary": LazyCommand(
            _C + "reconcile_tiers_cmds:reconcile_summary",
            "Write this ledger's signed number-space summary: per issuer and receipt code, the "
            "count, total and hash of every block of 1,024 numbers, and the Merkle roots.",
        ),
        "tiers": LazyCommand(
            _C + "reconcile_tiers_cmds:reconcile_tiers",
            "Compare another tier's signed summary FILE with this ledger.",
        ),
    },
)
def reconcile() -> None:
    """对账: prove two records agree (tier ↔ tier, receipts ↔ bank, stock ↔ issued)."""
