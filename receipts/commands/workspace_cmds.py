"""``receipts init``: create a federation or payer workspace."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from receipts.commands.runtime import Context, with_context
from receipts.domain.divisions import known_federation, tier_of
from receipts.domain.enums import Tier
from receipts.errors import InvalidInput
from receipts.pki.ledger_key import create_ledger_key
from receipts.pki.own_certificates import record_own_certificate
from receipts.workspace import Workspace, WorkspaceConfig, WorkspaceKind
from signing.keys import check_new_passphrase, signing_key_passphrase

__all__ = ["init"]

_EXAMPLES = """\b
Examples:
  receipts --home ./yinchuan init --org 640100 --name 银川市总工会 --tier city
  receipts --home ./acme init --payer --name 宁夏某某有限公司 --uscc 91640100MA7600001J"""


@click.command("init", epilog=_EXAMPLES)
@click.option("--org", "org_code", help="Federation's 6-digit division code.")
@click.option("--name", required=True, help="Organisation name (1-100 characters).")
@click.option("--tier", type=click.Choice([t.value for t in Tier]), help="Federation tier.")
@click.option("--uscc", help="统一社会信用代码 (required for a payer).")
@click.option("--payer", is_flag=True, help="Create a payer workspace instead.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
@with_context
def init(
    ctx: Context,
    org_code: str | None,
    name: str,
    tier: str | None,
    uscc: str | None,
    payer: bool,
    timezone: str,
) -> None:
    """Create a workspace: a federation's (issues receipts) or a payer's (books them)."""
    if payer:
        if org_code or tier:
            raise InvalidInput("--payer takes --name and --uscc, not --org or --tier")
        config = WorkspaceConfig(WorkspaceKind.PAYER, name, uscc=uscc, timezone=timezone)
    else:
        if not org_code:
            raise InvalidInput("--org is required for a federation workspace (or use --payer)")
        chosen = Tier(tier) if tier else tier_of(org_code)
        config = WorkspaceConfig(
            WorkspaceKind.FEDERATION, name, org_code, chosen, uscc, timezone=timezone
        )
    known = known_federation(org_code) if org_code else None
    passphrase = _ledger_key_passphrase() if payer else None
    if passphrase is not None:  # refused before the folder is created, not after
        check_new_passphrase(passphrase, refuse=(uscc or "", name))
    workspace = Workspace.create(ctx.home, config)
    if passphrase is not None:
        _create_ledger_key(ctx, workspace, passphrase)
    ctx.emit(
        {"home": str(workspace.home), "kind": config.kind.value, "org": org_code, "name": name},
        lambda: (
            f"created {config.kind.value} workspace {workspace.home} for {name}"
            + (f" ({org_code})" if org_code else "")
            + (
                f"\nnote: the reference list names {org_code} {known.name}"
                if known and known.name != name
                else ""
            )
        ),
    )


def _ledger_key_passphrase() -> str:
    """Asked before anything is created, so a missing passphrase leaves no half workspace."""

    def prompt(text: str) -> str:
        return str(click.prompt(text, hide_input=True, confirmation_prompt=True, err=True))

    return signing_key_passphrase(prompt=prompt if sys.stdin.isatty() else None)


def _create_ledger_key(ctx: Context, workspace: Workspace, passphrase: str) -> None:
    """A payer's ledger key, so its chain heads are signed like a federation's."""
    creds = ctx.credentials(workspace)
    assert workspace.config.uscc is not None
    signer = create_ledger_key(
        creds.signing_key_path,
        creds.ledger_cert_path,
        workspace.config.uscc,
        workspace.config.name,
        passphrase,
    )
    # The audit accepts heads only from certificates recorded as the workspace's own.
    record_own_certificate(workspace, signer.certificate, datetime.now(UTC))
