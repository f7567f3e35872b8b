"""``receipts tsa``: the RFC 3161 time-stamp authority of a CA workspace, and time-stamping this
workspace's receipts (docs/operations.md, "Running the time-stamp authority"); and
``receipts pki issue-tsa``, which creates the authority's key and certificate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from receipts.commands.pki_options import (
    ALGORITHMS,
    algorithm_option,
    allow_env_option,
    ca_passphrase,
    federation_credentials,
    utc_now,
    warn,
)
from receipts.commands.runtime import Context, with_context
from receipts.errors import InvalidInput, ReceiptError
from receipts.ledger.database import Database
from receipts.pki.credentials import Credentials
from receipts.workspace import WorkspaceKind
from signing.errors import SigningError
from signing.keys import KeyAlgorithm

__all__ = ["import_options", "issue_tsa", "stamp_before_sending", "tsa"]

_ISSUE_EXAMPLE = """\b
Example:
  RECEIPTS_TSA_PASSPHRASE=… receipts --home ./acftu pki issue-tsa
  then: receipts --home ./acftu tsa serve   (or 'receipts serve', which mounts it at /tsa)"""
_SERVE_EXAMPLES = """\b
Examples:
  RECEIPTS_TSA_PASSPHRASE=… receipts --home ./acftu tsa serve --port 8318
  curl -H 'Content-Type: application/timestamp-query' --data-binary @q.tsq \\
       http://127.0.0.1:8318/tsa -o r.tsr"""


@click.command("issue-tsa", epilog=_ISSUE_EXAMPLE)
@click.option("--validity-years", type=click.IntRange(1, 20), default=5, show_default=True)
@algorithm_option
@allow_env_option
@with_context
def issue_tsa(
    ctx: Context, validity_years: int, algorithm: str | None, allow_env_passphrase: bool
) -> None:
    """Create this CA's time-stamp authority: its key and a time-stamping certificate."""
    from receipts.pki.requester import describe
    from receipts.pki.tsa import init_tsa
    from receipts.tsa.authority import tsa_passphrase
    from receipts.tsa.config import tsa_cert_path, tsa_key_path

    creds = federation_credentials(ctx)
    key_path, cert_path = tsa_key_path(creds.workspace), tsa_cert_path(creds.workspace)

    def new_passphrase(_new: bool) -> str:
        prompt = None
        if creds.prompt is not None:
            prompt = lambda text: str(  # noqa: E731
                click.prompt(text, hide_input=True, confirmation_prompt=True, err=True)
            )
        return tsa_passphrase(prompt, key_path)

    chain = init_tsa(
        creds,
        ca_passphrase(creds, allow_env_passphrase),
        new_passphrase,
        key_path=key_path,
        cert_path=cert_path,
        now=utc_now(),
        validity=timedelta(days=round(365.25 * validity_years)),
        algorithm=KeyAlgorithm(algorithm or ALGORITHMS[0]),
    )
    info = describe(chain[0])
    ctx.emit(
        {**info, "key": str(key_path), "certificate": str(cert_path)},
        lambda: "\n".join(
            [
                f"issued the time-stamping certificate of {info['subject']} ({info['org']})",
                f"  serial      {info['serial']}",
                f"  valid       {info['not_before']} to {info['not_after']}",
                f"  key         {key_path}",
                f"  certificate {cert_path}",
            ]
        ),
    )


@click.group("tsa")
def tsa() -> None:
    """The RFC 3161 time-stamp authority, and time-stamping receipts.

    A CA workspace (national, or a province) runs the authority ('pki issue-tsa', then
    'tsa serve' or 'receipts serve'); a federation names it as [tsa] url in receipts.toml and
    its receipts are time-stamped when they are transmitted (or by 'tsa stamp'), or right after
    they are issued with [tsa] stamp_at_issue = true.
    """


@tsa.command("serve", epilog=_SERVE_EXAMPLES)
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", type=click.IntRange(1, 65535), default=8318, show_default=True)
@with_context
def serve(ctx: Context, host: str, port: int) -> None:
    """Serve the time-stamp authority over HTTP: POST /tsa (application/timestamp-query)."""
    import uvicorn

    from receipts.tsa.authority import load_authority
    from receipts.tsa.http import tsa_app

    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    authority = load_authority(ctx.credentials(ws), ctx.database(ws))
    click.echo(
        f"time-stamp authority of {ws.config.name} at http://{host}:{port}/tsa "
        f"(policy {authority.policy})",
        err=True,
    )
    uvicorn.run(
        tsa_app(authority),
        host=host,
        port=port,
        server_header=False,
        access_log=False,
        log_level="warning" if ctx.verbosity <= 0 else "info",
    )


_STAMP_EXAMPLE = """\b
Example (from a timer, every few minutes):
  receipts tsa stamp"""


@tsa.command("stamp", epilog=_STAMP_EXAMPLE)
@with_context
def stamp(ctx: Context) -> None:
    """Time-stamp the receipts not yet transmitted that have no time-stamp ([tsa] url, or this
    workspace's own authority). 'transmit export' and 'transmit push' do this first."""
    from receipts.tsa.stamping import stamp_pending
    from receipts.tsa.workspace_stamper import workspace_stamper

    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", action="transmitting")
    creds = ctx.credentials(ws)
    db = ctx.database(ws)
    stamper = workspace_stamper(creds, db)
    if stamper is None:
        raise InvalidInput(
            "no time-stamp authority: set [tsa] url in receipts.toml (or run one here with "
            "'receipts pki issue-tsa')"
        )
    outcome = stamp_pending(db, stamper, creds.validator, creds.signer)
    if outcome.problem:
        warn([f"{outcome.left} receipt(s) left without a time-stamp: {outcome.problem}"])
    ctx.emit(
        {"stamped": outcome.stamped, "left": outcome.left, "problem": outcome.problem},
        lambda: f"time-stamped {outcome.stamped} receipt(s); {outcome.left} left",
    )
    if outcome.problem:
        raise InvalidInput(outcome.problem)


def stamp_before_sending(creds: Credentials, db: Database) -> None:
    """Time-stamp what the next package carries, when the workspace has an authority to ask
    (``transmit export`` and ``transmit push`` call this first). An authority that fails is a
    warning, not a stop: the package goes without those time-stamps, and the tier above's
    authority, if it runs one, stamps them when it imports (docs/operations.md)."""
    from receipts.tsa.stamping import stamp_pending
    from receipts.tsa.workspace_stamper import workspace_stamper

    try:
        stamper = workspace_stamper(creds, db)
    except (ReceiptError, SigningError) as exc:
        warn([f"receipts are sent without time-stamps: {exc}"])
        return
    if stamper is None:
        return
    outcome = stamp_pending(db, stamper, creds.validator, creds.signer)
    if outcome.problem:
        warn([f"{outcome.left} receipt(s) sent without a time-stamp: {outcome.problem}"])


def import_options(creds: Credentials, db: Database) -> dict[str, Any]:
    """:func:`receipts.tsa.workspace_stamper.import_options` (``transmit import``)."""
    from receipts.tsa.workspace_stamper import import_options as options

    return options(creds, db)
