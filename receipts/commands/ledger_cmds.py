"""``receipts audit`` and ``backup``: checking a ledger end to end, and copying it safely."""

from __future__ import annotations

from pathlib import Path

import click

from receipts.archive.backup import backup as backup_workspace
from receipts.audit import audit as audit_ledger
from receipts.audit import workspace_trust
from receipts.commands.root import fail_with_findings
from receipts.commands.runtime import Context, with_context
from receipts.errors import InvalidInput
from receipts.findings import Finding, FindingCode
from receipts.pki.anchor_file import renew_anchor as renew_anchor_file
from receipts.support.sizes import MAX_PEM_BYTES, read_bounded
from receipts.workspace import Workspace
from signing.trust import TrustBundle

__all__ = ["audit", "backup"]


@click.command(
    "audit",
    epilog="\b\nExamples:\n  receipts audit\n  receipts audit --trust national-trust.pem",
)
@click.option(
    "--trust",
    "trust_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An auditor's own trust bundle, used instead of the workspace's trust/bundle.pem.",
)
@click.option(
    "--renew-anchor",
    is_flag=True,
    help="Sign a new ledger anchor when the file was lost and the audit finds nothing else "
    "(needs the workspace's key).",
)
@with_context
def audit(ctx: Context, trust_file: Path | None, renew_anchor: bool) -> None:
    """Recompute the event chain, check signed heads, re-derive every table."""
    ws = ctx.workspace()
    bundle = None
    if trust_file is not None:
        # Whoever can write the workspace's files can add a root to its bundle: an auditor
        # brings the national bundle from elsewhere (docs/security.md, insider with files).
        bundle = TrustBundle.from_pem(read_bounded(trust_file, MAX_PEM_BYTES, "a trust bundle"))
    trust = workspace_trust(ws, bundle)
    report = audit_ledger(ctx.database(ws), ws.ledger_owner, trust)
    data = {
        "ok": report.ok,
        "events": report.events,
        "signed_heads": report.signed_heads,
        "receipts": report.receipts,
        "unanchored": report.unanchored,
        "findings": [{"code": f.code, "message": f.message} for f in report.findings],
        "notes": list(report.notes),
        "operators": report.operators,
    }

    def human() -> str:
        head = (
            f"{report.events} events, {report.signed_heads} signed heads, "
            f"{report.receipts} receipts re-derived"
        )
        if report.unanchored and not report.signed_heads and not trust.own:
            head += f"; {report.unanchored} events not yet anchored (no signing key yet)"
        lines = [f"{f.code}: {f.message}" for f in report.findings]
        lines += [f"note: {note}" for note in report.notes]
        if set(report.operators) - {"-"}:  # per operator, once the workspace has operators
            lines += [
                f"by {who if who != '-' else '(no operator)'}: "
                + ", ".join(f"{kind} {n}" for kind, n in kinds.items())
                for who, kinds in report.operators.items()
            ]
        return "\n".join([("OK: " if report.ok else "PROBLEMS: ") + head, *lines])

    if renew_anchor:
        _renew_anchor(ctx, ws, report.findings)
        return
    ctx.emit(data, human)
    if not report.ok:
        fail_with_findings()


def _renew_anchor(ctx: Context, ws: Workspace, findings: tuple[Finding, ...]) -> None:
    """Sign a new anchor: only for a lost anchor file, and only when it is the one finding."""
    lost = [f for f in findings if f.code == FindingCode.ANCHOR_MISSING]
    if not lost or len(findings) != len(lost):
        rest = [f for f in findings if f not in lost]
        others = "; ".join(f"{f.code}: {f.message}" for f in rest[:3])
        others += f" (and {len(rest) - 3} more)" if len(rest) > 3 else ""
        raise InvalidInput(
            "refusing to renew the ledger anchor: "
            + (others or "it is not missing (restore or remove it knowingly first)")
        )
    signer = ctx.credentials(ws).signer_if_any()
    if signer is None:
        raise InvalidInput("refusing to renew the ledger anchor: this workspace has no key")
    with ctx.database(ws).read() as session:
        anchor = renew_anchor_file(ws, session, signer)
    ctx.emit(
        {"renewed": True, "events": anchor.facts.event_count},
        lambda: f"renewed the ledger anchor at {anchor.facts.event_count} events",
    )


@click.command("backup", epilog="\b\nExample:\n  receipts backup -o /mnt/backups/yc.tar.gz")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_context
def backup(ctx: Context, output: Path) -> None:
    """A consistent copy of the workspace and its SQLite ledger, while in use."""
    ws = ctx.workspace()
    result = backup_workspace(ws, ctx.database(ws), output)
    note = "" if result.ledger_included else " (ledger in PostgreSQL: back it up with pg_dump)"
    ctx.emit(
        {"file": str(result.path), "files": result.files, "ledger": result.ledger_included},
        lambda: f"backed up {result.files} files and the ledger to {result.path}{note}",
    )
