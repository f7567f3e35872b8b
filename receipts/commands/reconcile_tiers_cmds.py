"""``receipts reconcile summary`` and ``tiers``: two tiers prove their ledgers hold the same
receipts by exchanging signed number-space summaries, in two rounds whose size grows with the
differences, not with the ledgers (docs/architecture.md)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from receipts.commands.node_client import tier_client
from receipts.commands.reconcile_report import csv_option, finish, json_option, table
from receipts.commands.runtime import Context, with_context
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.pki.credentials import Credentials
from receipts.reconcile.blocks import Slot
from receipts.reconcile.exchange import TierFinding
from receipts.reconcile.remote import reconcile_remote
from receipts.reconcile.tiers import SummaryResult, TierResult, make_summary
from receipts.reconcile.tiers import reconcile_tiers as compare_tiers
from receipts.support.atomic import write_atomic
from receipts.support.sizes import MAX_XML_FILE_BYTES, read_bounded
from receipts.transmission.http_client import TierClient
from receipts.workspace import Workspace, WorkspaceKind

__all__ = ["NodeReconciliation", "reconcile_summary", "reconcile_tiers", "reconcile_with_node"]

_SUMMARY_EXAMPLES = (
    "\b\nExamples:\n  receipts reconcile summary -o yinchuan-2026-10.xml\n"
    "  receipts reconcile summary --blocks yinchuan-2026-10.request.xml -o answer.xml"
)
_TIERS_EXAMPLE = (
    "\b\nExamples:\n  receipts reconcile tiers --with yinchuan-2026-10.xml\n"
    "  receipts reconcile tiers --with https://node.nx.example.cn"
)
_TIERS_HELP = """Compare another tier's signed summary FILE with this ledger.

\b
The exchange takes two rounds, and its data grows with the differences, not with the ledgers:
  1. the other side:  receipts reconcile summary -o theirs.xml
  2. this side:       receipts reconcile tiers --with theirs.xml
     Equal blocks of 1,024 numbers are done with. Receipts of blocks only this ledger has are
     named at once; for those and for blocks that differ a request is written
     (theirs.request.xml), holding this side's fingerprints of each block's 256 parts of 4
     numbers.
  3. the other side:  receipts reconcile summary --blocks theirs.request.xml -o theirs2.xml
     answers with the requested blocks only, listing its receipts in the parts that differ.
  4. this side:       receipts reconcile tiers --with theirs2.xml
     reads only those blocks and names every missing (in the file, not here), extra (here, not
     in the file) and differing (same number, another digest or amount) receipt.
A listing that would not fit in one file, or that changed in between, is asked for again.

With the URL of the tier above's node instead of a file, both rounds run over HTTP at once
(signed requests, docs/formats.md "The tier API"), over this ledger's issuers.

Exit 1 while anything differs or remains to be listed, 0 when both sides agree."""

_TIER_COLUMNS = (
    "kind",
    "issuer",
    "code",
    "block",
    "number",
    "receipt",
    "file_digest",
    "file_total",
    "here_digest",
    "here_total",
    "detail",
)


@click.command("summary", epilog=_SUMMARY_EXAMPLES)
@click.option("--issuer", "issuers", multiple=True, help="Only these issuers (repeatable).")
@click.option(
    "--blocks",
    "request",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A request written by 'reconcile tiers': also list the blocks it asks for.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@json_option
@with_context
def reconcile_summary(
    ctx: Context, issuers: tuple[str, ...], request: Path | None, output: Path, as_json: bool
) -> None:
    """Write this ledger's signed number-space summary: per issuer and receipt code, the
    count, total and hash of every block of 1,024 numbers, and the Merkle roots."""
    ctx.json = ctx.json or as_json
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", "reviewer", action="recording reconciliation summaries")
    result = make_summary(
        ctx.database(ws),
        ctx.credentials(ws).signer,
        issuers or None,
        read_bounded(request, MAX_XML_FILE_BYTES, "a reconciliation request") if request else None,
    )
    write_atomic(output, result.document)
    s = result.summary
    listed = sum(len(listing.slots) for listing in s.listings.values())
    data = {
        "file": str(output),
        "bytes": len(result.document),
        "root": s.root,
        "issuers": list(s.issuers),
        "blocks": len(s.blocks),
        "receipts": result.receipts,
        "requested_blocks": result.requested,
        "listed_blocks": len(s.listings),
        "listed_receipts": listed,
        "deferred_blocks": len(s.deferred),
    }
    ctx.emit(data, lambda: _summary_text(result, output, listed, answering=request is not None))


def _summary_text(result: SummaryResult, output: Path, listed: int, *, answering: bool) -> str:
    s = result.summary
    text = (
        f"wrote {output} ({len(result.document):,} bytes): {result.receipts:,} "
        f"receipt(s) in {len(s.blocks):,} block(s) of {', '.join(s.issuers)}; "
        f"root {s.root}"
    )
    if answering:
        text += (
            f"\nlisted {listed:,} receipt(s) of {len(s.listings):,} of the "
            f"{result.requested:,} requested block(s)"
        )
    if s.deferred:
        text += f"; {len(s.deferred):,} left for another round (file size limit)"
    return text


@click.command("tiers", help=_TIERS_HELP, epilog=_TIERS_EXAMPLE)
@click.option(
    "--with",
    "source",
    required=True,
    help="The other side's signed summary file, or the URL of the tier above's node.",
)
@click.option(
    "--timeout",
    type=float,
    help="With a URL: seconds to keep retrying (default: [upstream] timeout, else 120).",
)
@click.option(
    "--request-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the request (default: FILE with .request.xml).",
)
@csv_option
@json_option
@with_context
def reconcile_tiers(
    ctx: Context,
    source: str,
    timeout: float | None,
    request_out: Path | None,
    csv_path: Path | None,
    as_json: bool,
) -> None:
    ctx.json = ctx.json or as_json
    ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
    ctx.require(ws, "clerk", "reviewer", action="reconciling tiers")
    creds = ctx.credentials(ws)
    if source.startswith(("http://", "https://")):
        _with_node(ctx, ws, creds, source, timeout, csv_path)
        return
    file = Path(source)
    if not file.is_file():
        raise InvalidInput(f"--with {source}: no such file (or give an http(s):// URL)")
    result = compare_tiers(
        ctx.database(ws),
        read_bounded(file, MAX_XML_FILE_BYTES, "a reconciliation summary"),
        creds.validator,
        ws.ledger_owner,
        creds.signer_if_any(),
    )
    c = result.comparison
    target = None
    if result.request is not None:
        target = request_out or file.with_name(file.stem + ".request.xml")
        write_atomic(target, result.request)
    rows = [_tier_row(f) for f in c.findings]
    data = {
        "file": str(file),
        "with": result.theirs.org,
        "their_root": result.theirs.root,
        "our_root": result.our_root,
        "agree": not c.discrepancies,
        "answers": result.theirs.answering,
        "blocks_in_file": c.blocks_theirs,
        "blocks_here": c.blocks_ours,
        "blocks_agreeing": c.blocks_agreeing,
        "file_bytes": result.file_bytes,
        "receipts_listed": c.receipts_listed,
        "requested_blocks": len(c.requests),
        "request": str(target) if target else None,
        "request_bytes": len(result.request) if result.request else 0,
        "findings": rows,
    }
    human = functools.partial(_tiers_text, result, rows, target)
    finish(ctx, data, human, rows, _TIER_COLUMNS, csv_path, c.discrepancies)


def _with_node(
    ctx: Context,
    ws: Workspace,
    creds: Credentials,
    url: str,
    timeout: float | None,
    csv_path: Path | None,
) -> None:
    """``--with URL``: both rounds with the node, then the report."""
    with tier_client(ws, creds, url, timeout) as client:
        report = reconcile_with_node(ctx.database(ws), ws, creds, client)
    finish(
        ctx, report.data, lambda: report.text, report.rows, _TIER_COLUMNS, csv_path, report.failed
    )


def _tiers_text(result: TierResult, rows: list[dict[str, Any]], target: Path | None) -> str:
    c = result.comparison
    lines = [
        f"compared {c.blocks_theirs:,} block(s) of {result.theirs.org} with "
        f"{c.blocks_ours:,} here: {c.blocks_agreeing:,} agree; {result.file_bytes:,} "
        f"bytes read, {c.receipts_listed:,} receipt(s) listed in the file",
    ]
    if rows:
        lines += ["", table(rows, ["kind", "receipt", "file_total", "here_total", "detail"])]
    if target is not None:
        ask = f"receipts reconcile summary --blocks {target.name} -o FILE"
        who = result.theirs.org
        lines += [
            "",
            f"request for {len(c.requests):,} block(s) written to {target}: "
            f"have {who} answer it ('{ask}'), then compare FILE",
        ]
    if not rows and result.theirs.answering is not None:
        lines.append(f"OK: the {c.blocks_theirs:,} requested block(s) agree now")
    elif not rows:
        lines.append(f"OK: both sides agree (root {result.our_root})")
    return "\n".join(lines)


def _tier_row(f: TierFinding) -> dict[str, Any]:
    def side(slot: Slot | None) -> tuple[str, str]:
        return (slot.digest, f"{slot.total:.2f}") if slot is not None else ("", "")

    file_digest, file_total = side(f.there)
    here_digest, here_total = side(f.here)
    receipt = f"{f.block.code}-{f.number:010d}" if f.number is not None else str(f.block)
    return {
        "kind": f.code.value,
        "issuer": f.block.issuer,
        "code": f.block.code,
        "block": f.block.index,
        "number": f.number,
        "receipt": receipt,
        "file_digest": file_digest,
        "file_total": file_total,
        "here_digest": here_digest,
        "here_total": here_total,
        "detail": f.detail,
    }


@dataclass(frozen=True)
class NodeReconciliation:
    """Both rounds with a node, as a report."""

    data: dict[str, Any]
    """The --json document."""
    text: str
    """The human report."""
    rows: list[dict[str, Any]]
    """One row per finding (--csv)."""
    failed: bool
    """Anything differs or remains to be listed."""


def reconcile_with_node(
    db: Database, ws: Workspace, creds: Credentials, client: TierClient
) -> NodeReconciliation:
    """Reconcile this ledger with the node ``client`` calls, both rounds (docs/operations.md)."""
    done = reconcile_remote(
        db, creds.validator, ws.ledger_owner, creds.signer_if_any(), client.summary
    )
    rows = [_tier_row(f) for f in done.findings]
    first, last = done.rounds[0], done.rounds[-1]
    data = {
        "with": client.base_url,
        "org": first.theirs.org,
        "issuers": list(done.issuers),
        "rounds": len(done.rounds),
        "agree": done.agree,
        "settled": done.settled,
        "their_root": first.theirs.root,
        "our_root": first.our_root,
        "bytes_read": sum(r.file_bytes for r in done.rounds),
        "findings": rows,
    }
    lines = [
        f"reconciled {', '.join(done.issuers)} with {first.theirs.org} at {client.base_url}: "
        f"{len(done.rounds)} round(s), {data['bytes_read']:,} bytes read"
    ]
    if rows:
        lines += ["", table(rows, ["kind", "receipt", "file_total", "here_total", "detail"])]
    if not done.settled:
        lines.append(f"{len(last.comparison.requests):,} block(s) still to list: run again")
    elif not rows:
        lines.append(f"OK: both sides agree (root {first.our_root})")
    return NodeReconciliation(data, "\n".join(lines), rows, not done.agree)
