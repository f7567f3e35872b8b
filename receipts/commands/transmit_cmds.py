"""``receipts transmit``: packages up the tiers and acknowledgements back down
(docs/architecture.md follows a receipt through them, docs/formats.md describes the files)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.commands.tsa_cmds import import_options, stamp_before_sending
from receipts.domain.divisions import upstream_of
from receipts.domain.money import format_amount, from_fen
from receipts.errors import InvalidInput
from receipts.ledger.models import Transmission
from receipts.support.atomic import atomic_writer, write_atomic
from receipts.support.sizes import MAX_XML_FILE_BYTES, read_bounded
from receipts.transmission.acknowledgement import record_acknowledgement
from receipts.transmission.export import NothingToSend, write_package
from receipts.transmission.import_settings import import_settings
from receipts.transmission.receive import import_package
from receipts.transmission.stored_ack import stored_acknowledgement
from receipts.workspace import WorkspaceKind
from signing.pem import crls_to_pem

__all__ = [
    "transmit",
    "transmit_ack",
    "transmit_export",
    "transmit_import",
    "transmit_list",
    "transmit_push",
]


@click.group("transmit")
def transmit() -> None:
    """Transmission packages to the tier above, and their acknowledgements.

    \b
    The round trip:
      city      receipts transmit export -o 640100-1.zip
      province  receipts transmit import 640100-1.zip      (writes 640100-1.ack.xml)
      city      receipts transmit ack 640100-1.ack.xml
    A lost package or acknowledgement is simply covered by the next export.
    Over HTTP, when the tier above runs a node: receipts transmit push URL
    """


@transmit.command("export", epilog="\b\nExample:\n  receipts transmit export -o 640100-2026-11.zip")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_context
def transmit_export(ctx: Context, output: Path) -> None:
    """Everything the tier above has not acknowledged, as one signed package."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", action="transmitting")
    recipient = upstream_of(ws.ledger_owner)
    if recipient is None:
        raise InvalidInput("the national federation has no tier above to transmit to")
    creds = ctx.credentials(ws)
    crls = crls_to_pem(creds.trust.crls)
    stamp_before_sending(creds, ctx.database(ws))  # XAdES-T, when an authority is configured
    try:
        # Written as it is read (a million receipts are gigabytes): the file appears whole at
        # the end, or not at all.
        with atomic_writer(output) as handle:
            manifest = write_package(handle, ctx.database(ws), creds.signer, recipient, crls)
    except NothingToSend as exc:
        message = str(exc)
        ctx.emit({"file": None, "receipts": 0}, lambda: message)
        return
    count = sum(c for c, _ in manifest.issuers.values())
    ctx.emit(
        {
            "file": str(output),
            "package": manifest.digest,
            "to": recipient,
            "events": [manifest.first_seq, manifest.last_seq],
            "receipts": count,
        },
        lambda: (
            f"wrote {output}: events {manifest.first_seq}-{manifest.last_seq}, "
            f"{count} receipt(s), for {recipient}"
        ),
    )


@transmit.command(
    "import", epilog="\b\nExample:\n  receipts transmit import 640100-2026-11.zip -o ack.xml"
)
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--ack-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the acknowledgement (default: beside the package).",
)
@with_context
def transmit_import(ctx: Context, package: Path, ack_out: Path | None) -> None:
    """Import a package from a lower tier, all or nothing; write the acknowledgement."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", action="importing packages")
    creds = ctx.credentials(ws)
    db = ctx.database(ws)
    result = import_package(
        db,
        package,  # read member by member: [transmission] bounds its size (docs/operations.md)
        creds.validator,
        creds.signer,
        package.name,
        settings=import_settings(ws),
        **import_options(creds, db),
    )
    if result.crls:
        creds.add_to_trust(crls=result.crls)
    target = ack_out or package.with_name(package.stem + ".ack.xml")
    # The acknowledgement stored the first time: the same bytes for a package imported again.
    write_atomic(target, stored_acknowledgement(db, result))
    m = result.manifest
    verb = "imported" if result.new else "already imported (nothing changed)"
    ctx.emit(
        {
            "package": m.digest,
            "from": m.sender,
            "new": result.new,
            "added": result.added,
            "known": result.known,
            "written_off": list(result.written_off),
            "statements": result.statements,
            "ack": str(target),
        },
        lambda: (
            f"{verb}: {package.name} from {m.sender}, events {m.first_seq}-{m.last_seq},"
            f" {result.added} receipt(s) added, {result.known} known;"
            + "".join(f" written off: {label};" for label in result.written_off)
            + (f" {result.statements} settlement statement(s);" if result.statements else "")
            + f" acknowledgement → {target}"
        ),
    )


@transmit.command("ack", epilog="\b\nExample:\n  receipts transmit ack 640100-2026-11.ack.xml")
@click.argument("ack", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_context
def transmit_ack(ctx: Context, ack: Path) -> None:
    """Record the tier above's acknowledgement: its copy of our chain head is our anchor."""
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", action="recording acknowledgements")
    creds = ctx.credentials(ws)
    result = record_acknowledgement(
        ctx.database(ws),
        read_bounded(ack, MAX_XML_FILE_BYTES, "an acknowledgement"),
        creds.validator,
        creds.signer,
        ack.name,
    )
    ctx.emit(
        {"package": result.package, "last_event": result.last_seq, "new": result.new},
        lambda: (
            f"recorded: the tier above holds our events up to {result.last_seq}"
            if result.new
            else "already recorded"
        ),
    )


@transmit.command(
    "push",
    epilog="\b\nExamples:\n  receipts transmit push https://node.nx.example.cn\n"
    "  receipts transmit push --package 640100-2026-11.zip",
)
@click.argument("url", required=False)
@click.option(
    "--package",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Push this package file instead of exporting what is unacknowledged.",
)
@click.option(
    "--timeout",
    type=float,
    help="Seconds to keep retrying (default: [upstream] timeout, else 120).",
)
@with_context
def transmit_push(
    ctx: Context, url: str | None, package: Path | None, timeout: float | None
) -> None:
    """Push to the tier above's node and record its acknowledgement (URL: [upstream] url).

    Sends everything the tier above has not acknowledged (or --package), signed with this
    federation's key; a dropped connection is retried, and a push repeated imports nothing
    twice. Exit 3 when the node cannot be reached in time (nothing is lost: run again).
    """
    from receipts.commands.sync_cmds import push_once

    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    if package is None:
        ctx.require(ws, "clerk", action="transmitting")
        stamp_before_sending(ctx.credentials(ws), ctx.database(ws))
    # A package file is streamed from disk ([transmission] bounds its size), never read whole.
    report = push_once(ctx, ws, url, timeout, package)
    ctx.emit(report.data, lambda: report.text)


@transmit.command("list", epilog="\b\nExample:\n  receipts transmit list")
@with_context
def transmit_list(ctx: Context) -> None:
    """Packages sent and received."""
    ws = ctx.workspace()
    with ctx.database(ws).read() as session:
        rows = [
            [
                t.direction,
                t.peer,
                f"{t.first_seq}-{t.last_seq}",
                t.receipts,
                format_amount(from_fen(t.total_fen), grouping=True),
                f"{t.created_at:%Y-%m-%d %H:%M}",
                "acknowledged"
                if t.acknowledged_at
                else ("sent" if t.direction == "out" else "imported"),
                t.digest[:12],
            ]
            for t in session.scalars(select(Transmission).order_by(Transmission.id))
        ]
    headers = ["dir", "peer", "events", "receipts", "total", "when", "status", "package"]
    ctx.emit(
        [dict(zip(headers, r, strict=True)) for r in rows],
        lambda: format_table(headers, rows) if rows else "no transmissions",
    )
