"""``receipts transmit``: packages up the tiers and acknowledgements back down."""

from __future__ import annotations

from pathlib import Path

import click

from receipts.commands.runtime import Context, command
from receipts.commands.tables import format_table
from receipts.domain.divisions import upstream_of
from receipts.errors import InvalidInput
from receipts.workspace import WorkspaceKind

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Attach ``transmit export | import | ack | list``."""

    @group.group("transmit")
    def transmit() -> None:
        """Transmission packages to the tier above, and their acknowledgements (SPEC §6).

        \b
        The round trip:
          city      receipts transmit export -o 640100-1.zip
          province  receipts transmit import 640100-1.zip      (writes 640100-1.ack.xml)
          city      receipts transmit ack 640100-1.ack.xml
        A lost package or acknowledgement is simply covered by the next export.
        """

    @command(
        transmit, "export", epilog="\b\nExample:\n  receipts transmit export -o 640100-2026-11.zip"
    )
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
    def export_cmd(ctx: Context, output: Path) -> None:
        """Everything the tier above has not acknowledged, as one signed package."""
        from receipts.transmission.export import NothingToSend, export_package

        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        recipient = upstream_of(ws.ledger_owner)
        if recipient is None:
            raise InvalidInput("the national federation has no tier above to transmit to")
        creds = ctx.credentials(ws)
        crls = b"".join(_crl_pem(c) for c in creds.trust.crls)
        try:
            package, manifest = export_package(ctx.database(ws), creds.signer, recipient, crls)
        except NothingToSend as exc:
            message = str(exc)
            ctx.emit({"file": None, "receipts": 0}, lambda: message)
            return
        output.write_bytes(package)
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

    @command(
        transmit,
        "import",
        epilog="\b\nExample:\n  receipts transmit import 640100-2026-11.zip -o ack.xml",
    )
    @click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "-o",
        "--ack-out",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where to write the acknowledgement (default: beside the package).",
    )
    def import_cmd(ctx: Context, package: Path, ack_out: Path | None) -> None:
        """Import a package from a lower tier, all or nothing; write the acknowledgement."""
        from receipts.transmission.receive import import_package

        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        creds = ctx.credentials(ws)
        result = import_package(
            ctx.database(ws), package.read_bytes(), creds.validator, creds.signer, package.name
        )
        if result.crls:
            creds.add_to_trust(crls=result.crls)
        target = ack_out or package.with_name(package.stem + ".ack.xml")
        target.write_bytes(result.acknowledgement)
        m = result.manifest
        verb = "imported" if result.new else "already imported (nothing changed)"
        ctx.emit(
            {
                "package": m.digest,
                "from": m.sender,
                "new": result.new,
                "added": result.added,
                "known": result.known,
                "ack": str(target),
            },
            lambda: (
                f"{verb}: {package.name} from {m.sender}, events {m.first_seq}-{m.last_seq},"
                f" {result.added} receipt(s) added, {result.known} known;"
                f" acknowledgement → {target}"
            ),
        )

    @command(transmit, "ack", epilog="\b\nExample:\n  receipts transmit ack 640100-2026-11.ack.xml")
    @click.argument("ack", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def ack_cmd(ctx: Context, ack: Path) -> None:
        """Record the tier above's acknowledgement: its copy of our chain head is our anchor."""
        from receipts.transmission.acknowledgement import record_acknowledgement

        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        creds = ctx.credentials(ws)
        result = record_acknowledgement(
            ctx.database(ws), ack.read_bytes(), creds.validator, creds.signer, ack.name
        )
        ctx.emit(
            {"package": result.package, "last_event": result.last_seq, "new": result.new},
            lambda: (
                f"recorded: the tier above holds our events up to {result.last_seq}"
                if result.new
                else "already recorded"
            ),
        )

    @command(transmit, "list", epilog="\b\nExample:\n  receipts transmit list")
    def list_cmd(ctx: Context) -> None:
        """Packages sent and received."""
        from sqlalchemy import select

        from receipts.ledger.models import Transmission

        ws = ctx.workspace()
        with ctx.database(ws).read() as session:
            rows = [
                [
                    t.direction,
                    t.peer,
                    f"{t.first_seq}-{t.last_seq}",
                    t.receipts,
                    _yuan(t.total_fen),
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


def _yuan(fen: int) -> str:
    from receipts.domain.money import format_amount, from_fen

    return format_amount(from_fen(fen), grouping=True)


def _crl_pem(crl: object) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    assert isinstance(crl, x509.CertificateRevocationList)
    return crl.public_bytes(serialization.Encoding.PEM)
