"""``receipts org``, ``stock``, ``audit`` and ``backup``: the ledger's housekeeping."""

from __future__ import annotations

from pathlib import Path

import click

from receipts.commands.runtime import Context, command, fail_with_findings
from receipts.commands.tables import format_table
from receipts.domain.divisions import known_federation, tier_of
from receipts.domain.enums import Tier
from receipts.domain.identifiers import make_receipt_code, parse_segment
from receipts.domain.model import Organisation
from receipts.errors import InvalidInput
from receipts.workspace import WorkspaceKind

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Attach ``org``, ``stock``, ``audit`` and ``backup``."""

    @group.group("org")
    def org() -> None:
        """Organisations known to this ledger."""

    @command(
        org,
        "add",
        epilog="\b\nExample:\n  receipts org add --code 640104 --name 银川市兴庆区总工会",
    )
    @click.option("--code", required=True, help="6-digit division code.")
    @click.option("--name", help="Name (default: from the shipped reference list).")
    @click.option("--tier", type=click.Choice([t.value for t in Tier]), help="Default: by code.")
    @click.option("--uscc", help="统一社会信用代码.")
    def org_add(
        ctx: Context, code: str, name: str | None, tier: str | None, uscc: str | None
    ) -> None:
        """Register an organisation (a child federation, a peer)."""
        from receipts.issuing.registry import add_organisation

        known = known_federation(code)
        if name is None:
            if known is None:
                raise InvalidInput(f"{code} is not in the reference list: give --name")
            name = known.name
        organisation = Organisation(code, name, Tier(tier) if tier else tier_of(code), uscc)
        ws = ctx.workspace()
        db = ctx.database(ws)
        new = add_organisation(db, organisation, ctx.credentials(ws).signer_if_any())
        ctx.emit(
            {"code": code, "name": name, "added": new},
            lambda: f"{'added' if new else 'already registered:'} {code} {name}",
        )

    @command(org, "list", epilog="\b\nExample:\n  receipts org list")
    def org_list(ctx: Context) -> None:
        """List registered organisations."""
        from receipts.issuing.registry import list_organisations

        ws = ctx.workspace()
        orgs = list_organisations(ctx.database(ws))
        rows = [[o.code, o.name, o.tier.value, o.parent or "", o.uscc or ""] for o in orgs]
        ctx.emit(
            [dict(zip(["code", "name", "tier", "parent", "uscc"], r, strict=True)) for r in rows],
            lambda: format_table(["code", "name", "tier", "parent", "uscc"], rows),
        )

    @group.group("stock")
    def stock() -> None:
        """Receipt number segments (票据领用, 核销)."""

    @command(
        stock,
        "allocate",
        epilog="\b\nExample (at the province):\n"
        "  receipts stock allocate --to 640100 --count 5000 -o 640100-2026.xml",
    )
    @click.option("--to", "holder", required=True, help="Holder's org code (self or a child).")
    @click.option("--count", type=click.IntRange(1, 10_000_000), required=True)
    @click.option("--year", type=click.IntRange(2000, 2099), help="Year of issue (default now).")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
    def stock_allocate(
        ctx: Context, holder: str, count: int, year: int | None, output: Path | None
    ) -> None:
        """Allocate the next free numbers of this federation's receipt code to a holder."""
        from datetime import datetime

        from receipts.issuing.registry import find_organisation
        from receipts.issuing.stock_allocation import allocate

        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        me = ws.config.organisation()
        db = ctx.database(ws)
        if holder == me.code:
            target = me
        else:
            found = find_organisation(db, holder)
            if found is None:
                raise InvalidInput(f"{holder} is not registered: run 'receipts org add' first")
            target = found
        when = datetime.now(ws.config.zone)
        if year is not None:
            when = when.replace(year=year, month=1, day=1)
        code = make_receipt_code(me.province, when, ws.config.category, ws.config.series)
        allocation, document = allocate(db, ctx.credentials(ws).signer, target, code, count)
        if output is None and holder != me.code:
            raise InvalidInput("give -o FILE: the holder imports the signed allocation file")
        if output is not None:
            output.write_bytes(document)
        label = allocation.label
        ctx.emit(
            {"segment": label, "holder": holder, "file": str(output) if output else None},
            lambda: f"allocated {label} to {holder}" + (f" → {output}" if output else ""),
        )

    @command(stock, "import", epilog="\b\nExample:\n  receipts stock import 640100-2026.xml")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def stock_import(ctx: Context, file: Path) -> None:
        """Import a signed allocation made to this federation (twice changes nothing)."""
        from receipts.issuing.stock_allocation import import_allocation

        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        creds = ctx.credentials(ws)
        allocation, new = import_allocation(
            ctx.database(ws),
            file.read_bytes(),
            creds.validator,
            ws.ledger_owner,
            creds.signer_if_any(),
        )
        ctx.emit(
            {"segment": allocation.label, "from": allocation.allocator, "imported": new},
            lambda: (
                f"imported {allocation.label} from {allocation.allocator}"
                if new
                else f"already imported: {allocation.label}"
            ),
        )

    @command(stock, "list", epilog="\b\nExample:\n  receipts stock list")
    @click.option("--holder", help="Only this holder's segments.")
    def stock_list(ctx: Context, holder: str | None) -> None:
        """Segments with used and free numbers."""
        from receipts.issuing.stock_accounting import segment_usage

        ws = ctx.workspace()
        usage = segment_usage(ctx.database(ws), holder)
        rows = [
            [
                f"{u.code}:{u.first}-{u.last}",
                u.holder,
                u.allocated_by,
                u.issued,
                u.free,
                "written off" if u.written_off else "open",
            ]
            for u in usage
        ]
        headers = ["segment", "holder", "allocated by", "used", "free", "status"]
        ctx.emit(
            [dict(zip(headers, r, strict=True)) for r in rows],
            lambda: format_table(headers, rows) if rows else "no segments",
        )

    @command(stock, "write-off", epilog="\b\nExample:\n  receipts stock write-off 64710126:1-5000")
    @click.argument("segment")
    def stock_write_off(ctx: Context, segment: str) -> None:
        """Close a segment (核销): issued, reversed and unused numbers accounted for."""
        from receipts.issuing.stock_accounting import write_off

        code, first, last = parse_segment(segment)
        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        report = write_off(
            ctx.database(ws),
            ws.ledger_owner,
            code,
            first,
            last,
            ctx.credentials(ws).signer_if_any(),
        )
        data = {
            "segment": segment,
            "issued": report.issued,
            "reversed": report.reversed,
            "red": report.red,
            "unused": report.unused,
        }
        ctx.emit(data, lambda: format_table(list(data), [list(data.values())]))

    @command(group, "audit", epilog="\b\nExample:\n  receipts audit")
    def audit_cmd(ctx: Context) -> None:
        """Recompute the event chain, check signed heads, re-derive every table."""
        from receipts.audit import audit

        ws = ctx.workspace()
        report = audit(ctx.database(ws), ws.ledger_owner)
        data = {
            "ok": report.ok,
            "events": report.events,
            "signed_heads": report.signed_heads,
            "receipts": report.receipts,
            "unanchored": report.unanchored,
            "findings": [{"code": f.code, "message": f.message} for f in report.findings],
        }

        def human() -> str:
            head = (
                f"{report.events} events, {report.signed_heads} signed heads, "
                f"{report.receipts} receipts re-derived"
            )
            if report.unanchored and not report.signed_heads:
                head += f"; {report.unanchored} events not yet anchored (no signing key yet)"
            lines = [f"{f.code}: {f.message}" for f in report.findings]
            return "\n".join([("OK: " if report.ok else "PROBLEMS: ") + head, *lines])

        ctx.emit(data, human)
        if not report.ok:
            fail_with_findings()

    @command(group, "backup", epilog="\b\nExample:\n  receipts backup -o /mnt/backups/yc.tar.gz")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
    def backup_cmd(ctx: Context, output: Path) -> None:
        """A consistent copy of the workspace and its SQLite ledger, while in use."""
        from receipts.archive.backup import backup

        ws = ctx.workspace()
        result = backup(ws, ctx.database(ws), output)
        note = "" if result.ledger_included else " (ledger in PostgreSQL: back it up with pg_dump)"
        ctx.emit(
            {"file": str(result.path), "files": result.files, "ledger": result.ledger_included},
            lambda: f"backed up {result.files} files and the ledger to {result.path}{note}",
        )
