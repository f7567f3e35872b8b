"""``receipts serve``: the federation node — the public 查验 page and API and the tier API, over
this federation's ledger (docs/operations.md, "Running the node")."""

from __future__ import annotations

import os
import signal
from types import FrameType

import click

from receipts.commands.runtime import Context, with_context
from receipts.workspace import WorkspaceKind

__all__ = ["serve"]

_EXAMPLES = """\b
Examples:
  receipts serve                                     ([serve] of receipts.toml)
  receipts serve --host 0.0.0.0 --port 8443
  receipts --db postgresql+psycopg://receipts@db/ningxia serve --workers 4"""

_GRACE_SECONDS = 30
"""How long a stopping node lets requests in flight finish (SIGTERM, SIGINT)."""


@click.command("serve", epilog=_EXAMPLES)
@click.option("--host", help="Bind address (overrides [serve] host).")
@click.option("--port", type=click.IntRange(1, 65535), help="TCP port (overrides [serve] port).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes (overrides [serve] workers).",
)
@with_context
def serve(ctx: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the federation node: public 查验 page and API, tier API.

    Serves until SIGTERM or Ctrl-C, then lets requests in flight finish (every write is one
    transaction, so a stop never leaves anything half-written). Several worker processes serve
    look-ups on every core, on PostgreSQL and on SQLite alike: SQLite's WAL lets readers run
    beside the one writer, whose transactions are serialised as for several commands on one
    workspace. Each process keeps its own rate-limit buckets (docs/operations.md)."""
    import uvicorn

    from receipts.node.config import load_serve_config
    from receipts.node.state import DB_ENV, HOME_ENV, log_salt, node_operator
    from receipts.pki.credentials import Credentials

    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    config = load_serve_config(ws).override(host, port, workers)
    db = ctx.database(ws)  # migrated once here, before any worker starts
    try:
        # A workspace with operators: who the node acts as is checked once here, so a missing or
        # wrong secret is one line now rather than a worker failing to start.
        node_operator(ws, db)
    finally:
        db.dispose()
    Credentials(ws).trust  # noqa: B018 (refuse to start without trust: uploads verify against it)
    log_salt(ws)  # made before the workers, which only read it
    os.environ[HOME_ENV] = str(ws.home.resolve())
    if ctx.db_url:
        os.environ[DB_ENV] = ctx.db_url
    else:
        os.environ.pop(DB_ENV, None)
    scheme = "https" if config.tls else "http"
    click.echo(
        f"serving {ws.config.name} at {scheme}://{config.host}:{config.port} "
        f"({config.workers} worker{'s' if config.workers > 1 else ''})",
        err=True,
    )
    # uvicorn stops gracefully on SIGTERM/SIGINT, then re-raises the signal with the handler it
    # found: make that handler a clean exit (0), as for any stop that was asked for.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _exit_cleanly)
    uvicorn.run(
        "receipts.node.app:app_from_env",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers,
        ssl_certfile=str(config.tls_cert) if config.tls_cert else None,
        ssl_keyfile=str(config.tls_key) if config.tls_key else None,
        server_header=False,
        proxy_headers=False,  # the node reads X-Forwarded-For itself ([serve] trusted_proxies)
        access_log=False,  # the node's own access log, without personal data
        log_level="warning" if ctx.verbosity <= 0 else "info",
        timeout_graceful_shutdown=_GRACE_SECONDS,
        # On: the app's lifespan writes the access log's kept lines and closes the look-up
        # connections once the requests in flight have finished (uvicorn runs it last).
        lifespan="on",
    )


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
