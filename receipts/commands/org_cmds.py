"""``receipts org add | list``: the organisations a ledger knows (children, peers)."""

from __future__ import annotations

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.domain.divisions import known_federation, tier_of
from receipts.domain.enums import Tier
from receipts.domain.model import Organisation
from receipts.errors import InvalidInput
from receipts.issuing.registry import add_organisation, list_organisations

__all__ = ["org", "org_add", "org_list"]


@click.group("org")
def org() -> None:
    """Organisations known to this ledger."""


@org.command(
    "add", epilog="\b\nExample:\n  receipts org add --code 640104 --name 银川市兴庆区总工会"
)
@click.option("--code", required=True, help="6-digit division code.")
@click.option("--name", help="Name (default: from the shipped reference list).")
@click.option("--tier", type=click.Choice([t.value for t in Tier]), help="Default: by code.")
@click.option("--uscc", help="统一社会信用代码.")
@with_context
def org_add(ctx: Context, code: str, name: str | None, tier: str | None, uscc: str | None) -> None:
    """Register an organisation (a child federation, a peer)."""
    known = known_federation(code)
    if name is None:
        if known is None:
            raise InvalidInput(f"{code} is not in the reference list: give --name")
        name = known.name
    organisation = Organisation(code, name, Tier(tier) if tier else tier_of(code), uscc)
    ws = ctx.workspace()
    ctx.require(ws, "admin", action="adding organisations")
    db = ctx.database(ws)
    new = add_organisation(db, organisation, ctx.credentials(ws).signer_if_any())
    ctx.emit(
        {"code": code, "name": name, "added": new},
        lambda: f"{'added' if new else 'already registered:'} {code} {name}",
    )


@org.command("list", epilog="\b\nExample:\n  receipts org list")
@with_context
def org_list(ctx: Context) -> None:
    """List registered organisations."""
    ws = ctx.workspace()
    orgs = list_organisations(ctx.database(ws))
    rows = [[o.code, o.name, o.tier.value, o.parent or "", o.uscc or ""] for o in orgs]
    headers = ["code", "name", "tier", "parent", "uscc"]
    ctx.emit(
        [dict(zip(headers, r, strict=True)) for r in rows],
        lambda: format_table(headers, rows),
    )
