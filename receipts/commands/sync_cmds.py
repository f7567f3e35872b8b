"""``receipts sync`` (and ``transmit push``): the batch job a city or province runs from cron or
a systemd timer (docs/operations.md, "Push and sync"): push what the tier above has not
acknowledged, record its acknowledgement, reconcile both rounds with it, and report.

Every call is signed with this federation's key and retried with exponential backoff within one
bounded time ([upstream] timeout, ``--timeout``); the tier above imports a package at most once,
and this ledger moves forward only on its signed acknowledgement, so a network failure at any
byte loses nothing and duplicates nothing: the next run resumes. Exit 0 in agreement, 1 when the
ledgers differ or the tier above refused the package, 2 for bad input or configuration (not
registered up there, for one), 3 when the node could not be reached in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from receipts.commands.node_client import tier_client
from receipts.commands.reconcile_tiers_cmds import reconcile_with_node
from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.ledger.database import Database
from receipts.pki.credentials import Credentials
from receipts.transmission.http_client import TierClient
from receipts.transmission.import_settings import import_settings
from receipts.transmission.push import PushOutcome, push_pending
from receipts.workspace import Workspace, WorkspaceKind
from signing.pem import crls_to_pem

__all__ = ["PushReport", "push_once", "sync"]

_SYNC_EPILOG = """\b
Examples:
  receipts sync                                   (URL from [upstream] url in receipts.toml)
  receipts sync --url https://node.nx.example.cn --json
\b
cron (every 15 minutes):
  */15 * * * * RECEIPTS_HOME=/srv/receipts receipts sync --json >>/var/log/receipts-sync.log
"""


@dataclass(frozen=True)
class PushReport:
    """One push, as a report."""

    data: dict[str, Any]
    """The --json document."""
    text: str
    """The human line."""


def _push(db: Database, creds: Credentials, client: TierClient, package: Path | None) -> PushReport:
    outcome = push_pending(
        db,
        creds.signer,
        creds.validator,
        client,
        crls_to_pem(creds.trust.crls),
        package,
        import_settings(creds.workspace),
        spool=creds.workspace.home,  # beside the ledger: /tmp may be memory (tmpfs)
    )
    return _push_report(outcome, client)


def _push_report(outcome: PushOutcome | None, client: TierClient) -> PushReport:
    if outcome is None:
        return PushReport(
            {"url": client.base_url, "package": None, "receipts": 0},
            "nothing to push: the tier above has acknowledged everything",
        )
    data = {
        "url": client.base_url,
        "package": outcome.package,
        "to": client.recipient,
        "events": [outcome.first_seq, outcome.last_seq],
        "receipts": outcome.receipts,
        "acknowledged": True,
        "new_acknowledgement": outcome.ack.new,
        "attempts": client.attempts,
    }
    text = (
        f"pushed to {client.recipient} at {client.base_url}: events {outcome.first_seq}-"
        f"{outcome.last_seq}, {outcome.receipts} receipt(s); acknowledged"
        + ("" if outcome.ack.new else " (already recorded)")
    )
    return PushReport(data, text)


def push_once(
    ctx: Context, ws: Workspace, url: str | None, timeout: float | None, package: Path | None
) -> PushReport:
    """``transmit push``: one push with its acknowledgement recorded."""
    ctx.require(ws, "clerk", action="transmitting")
    creds = ctx.credentials(ws)
    db = ctx.database(ws)
    with tier_client(ws, creds, url, timeout) as client:
        return _push(db, creds, client, package)


@click.command("sync", epilog=_SYNC_EPILOG)
@click.option("--url", help="The tier above's node (default: [upstream] url in receipts.toml).")
@click.option(
    "--timeout",
    type=float,
    help="Seconds the whole job keeps retrying (default: [upstream] timeout, else 120).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_context
def sync(ctx: Context, url: str | None, timeout: float | None, as_json: bool) -> None:
    """Push to the tier above's node, record its acknowledgement, reconcile (cron job).

    Pushes what the tier above has not acknowledged, records its signed acknowledgement,
    reconciles with it (both rounds) and reports: the cron or systemd-timer job of a city or
    province.

    Exit 0 when both ledgers agree, 1 when they differ (or the package was refused), 2 for bad
    input or configuration, 3 when the node could not be reached in time (run again: nothing
    is lost, nothing is sent twice).
    """
    ctx.json = ctx.json or as_json
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", action="synchronising with the tier above")
    creds = ctx.credentials(ws)
    db = ctx.database(ws)
    with tier_client(ws, creds, url, timeout) as client:
        pushed = _push(db, creds, client, None)
        reconciled = reconcile_with_node(db, ws, creds, client)
        attempts = client.attempts
    data = {
        "url": client.base_url,
        "push": pushed.data,
        "reconcile": reconciled.data,
        "attempts": attempts,
        "ok": not reconciled.failed,
    }
    ctx.emit(data, lambda: f"{pushed.text}\n{reconciled.text}")
    if reconciled.failed:
        fail_with_findings()
