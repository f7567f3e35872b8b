"""``receipts reconcile``: tiers (number-space summaries), bank statements and stock (SPEC §6).

Every report prints a table, or JSON with ``--json``, and writes every line to ``--csv FILE``
(UTF-8 with a BOM, so spreadsheets read the Chinese right); the exit code is 1 when anything
differs, 0 when everything agrees.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from receipts.commands.runtime import Context, command, fail_with_findings
from receipts.commands.tables import format_table
from receipts.findings import FindingCode
from receipts.workspace import WorkspaceKind

if TYPE_CHECKING:
    from receipts.reconcile.bank import BankReceipt, BankReport
    from receipts.reconcile.blocks import Slot
    from receipts.reconcile.exchange import TierFinding
    from receipts.reconcile.stock import StockReport

__all__ = ["register"]

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

Exit 1 while anything differs or remains to be listed, 0 when both sides agree."""

_BANK_HELP = """Match this federation's receipts with the credits of a bank statement.

\b
STATEMENT is CSV with a header row (UTF-8 with or without BOM, or GBK):
  date           required  2026-10-08, 2026/10/08 or 20261008
  amount         required  credit in yuan (zero or negative rows are debits: skipped)
  payer_name     required  交款人 as the bank shows it (may be empty with payer_account)
  payer_account  optional  the payer's USCC or other ID, when the bank shows it
  reference      optional  附言: naming a receipt (64710126-0000000012) or a batch client
                           reference makes a strong match
  serial         optional  the bank's transaction serial, echoed
A credit matches a normal, unreversed receipt of the same amount within --window-days by payer
or reference; then several receipts of one payer (at most --max-group) adding up to one credit.
More than one equally good answer is reported as ambiguous, never guessed. Reversed receipts
are excluded and listed. Bad rows are reported as FILE:LINE:COLUMN and the rest is matched.

Exit 1 when anything is unmatched, ambiguous or refused; 2 when the file cannot be read."""


def register(group: click.Group) -> None:
    """Attach ``reconcile summary``, ``tiers``, ``bank`` and ``stock``."""

    @group.group("reconcile")
    def reconcile() -> None:
        """对账: prove two records agree (tier ↔ tier, receipts ↔ bank, stock ↔ issued)."""

    json_option = click.option("--json", "as_json", is_flag=True, help="Same as receipts --json.")
    csv_option = click.option(
        "--csv",
        "csv_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write every line of the report to this CSV file.",
    )

    @command(
        reconcile,
        "summary",
        epilog="\b\nExamples:\n  receipts reconcile summary -o yinchuan-2026-10.xml\n"
        "  receipts reconcile summary --blocks yinchuan-2026-10.request.xml -o answer.xml",
    )
    @click.option("--issuer", "issuers", multiple=True, help="Only these issuers (repeatable).")
    @click.option(
        "--blocks",
        "request",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A request written by 'reconcile tiers': also list the blocks it asks for.",
    )
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
    @json_option
    def summary_cmd(
        ctx: Context, issuers: tuple[str, ...], request: Path | None, output: Path, as_json: bool
    ) -> None:
        """Write this ledger's signed number-space summary: per issuer and receipt code, the
        count, total and hash of every block of 1,024 numbers, and the Merkle roots."""
        from receipts.reconcile.tiers import make_summary

        ctx.json = ctx.json or as_json
        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        result = make_summary(
            ctx.database(ws),
            ctx.credentials(ws).signer,
            issuers or None,
            request.read_bytes() if request else None,
        )
        output.write_bytes(result.document)
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

        def human() -> str:
            text = (
                f"wrote {output} ({len(result.document):,} bytes): {result.receipts:,} "
                f"receipt(s) in {len(s.blocks):,} block(s) of {', '.join(s.issuers)}; "
                f"root {s.root}"
            )
            if request is not None:
                text += (
                    f"\nlisted {listed:,} receipt(s) of {len(s.listings):,} of the "
                    f"{result.requested:,} requested block(s)"
                )
            if s.deferred:
                text += f"; {len(s.deferred):,} left for another round (file size limit)"
            return text

        ctx.emit(data, human)

    tiers_example = "\b\nExample:\n  receipts reconcile tiers --with yinchuan-2026-10.xml"

    @command(reconcile, "tiers", help=_TIERS_HELP, epilog=tiers_example)
    @click.option(
        "--with",
        "file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        required=True,
        help="The other side's signed summary.",
    )
    @click.option(
        "--request-out",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where to write the request (default: FILE with .request.xml).",
    )
    @csv_option
    @json_option
    def tiers_cmd(
        ctx: Context, file: Path, request_out: Path | None, csv_path: Path | None, as_json: bool
    ) -> None:
        from receipts.reconcile.tiers import reconcile_tiers

        ctx.json = ctx.json or as_json
        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        creds = ctx.credentials(ws)
        result = reconcile_tiers(
            ctx.database(ws),
            file.read_bytes(),
            creds.validator,
            ws.ledger_owner,
            creds.signer_if_any(),
        )
        c = result.comparison
        target = None
        if result.request is not None:
            target = request_out or file.with_name(file.stem + ".request.xml")
            target.write_bytes(result.request)
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

        def human() -> str:
            lines = [
                f"compared {c.blocks_theirs:,} block(s) of {result.theirs.org} with "
                f"{c.blocks_ours:,} here: {c.blocks_agreeing:,} agree; {result.file_bytes:,} "
                f"bytes read, {c.receipts_listed:,} receipt(s) listed in the file",
            ]
            if rows:
                lines += [
                    "",
                    _table(rows, ["kind", "receipt", "file_total", "here_total", "detail"]),
                ]
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

        _finish(ctx, data, human, rows, _TIER_COLUMNS, csv_path, c.discrepancies)

    bank_example = "\b\nExample:\n  receipts reconcile bank 2026-10-statement.csv --csv out.csv"

    @command(reconcile, "bank", help=_BANK_HELP, epilog=bank_example)
    @click.argument("statement", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--window-days", type=click.IntRange(0, 366), default=7, show_default=True)
    @click.option("--max-group", type=click.IntRange(1, 10), default=5, show_default=True)
    @csv_option
    @json_option
    def bank_cmd(
        ctx: Context,
        statement: Path,
        window_days: int,
        max_group: int,
        csv_path: Path | None,
        as_json: bool,
    ) -> None:
        from receipts.reconcile.bank import reconcile_bank

        ctx.json = ctx.json or as_json
        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        report = reconcile_bank(
            ctx.database(ws), ws.ledger_owner, ws.config.zone, statement, window_days, max_group
        )
        for problem in report.problems:
            click.echo(str(problem), err=True)
        rows = _bank_rows(report)
        counts = {
            "matched": len(report.matched),
            "unmatched_receipts": len(report.unmatched_receipts),
            "unmatched_credits": len(report.unmatched_credits),
            "ambiguous": len(report.ambiguous),
            "reversed_excluded": len(report.reversed),
            "bad_rows": len(report.problems),
            "debits_skipped": report.debits,
        }

        def human() -> str:
            head = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
            headers = ["status", "credit", "date", "amount", "payer", "receipts", "note"]
            return head + ("\n\n" + _table(rows, headers) if rows else "")

        data = {**counts, "lines": rows}
        _finish(ctx, data, human, rows, _BANK_COLUMNS, csv_path, report.discrepancies)

    @command(reconcile, "stock", epilog="\b\nExample:\n  receipts reconcile stock --csv stock.csv")
    @click.option("--holder", help="Only this holder's segments and receipts.")
    @csv_option
    @json_option
    def stock_cmd(ctx: Context, holder: str | None, csv_path: Path | None, as_json: bool) -> None:
        """核销 check of every segment held or allocated: issued, reversed, red and unused
        numbers and gaps (none allowed), and receipts outside every segment of their issuer."""
        from receipts.reconcile.stock import reconcile_stock

        ctx.json = ctx.json or as_json
        ws = ctx.workspace().require(WorkspaceKind.FEDERATION)
        report = reconcile_stock(ctx.database(ws), holder)
        rows = _stock_rows(report)

        def human() -> str:
            if not rows:
                return "no segments"
            headers = [
                "kind",
                "subject",
                "holder",
                "status",
                "issued",
                "reversed",
                "red",
                "unused",
                "gaps",
            ]
            verdict = "PROBLEMS" if report.discrepancies else "OK"
            return (
                f"{verdict}: {len(report.segments)} segment(s), {len(report.outside)} "
                f"receipt(s) outside them\n\n" + _table(rows, headers)
            )

        data = {"ok": not report.discrepancies, "lines": rows}
        _finish(ctx, data, human, rows, _STOCK_COLUMNS, csv_path, report.discrepancies)


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
_BANK_COLUMNS = ("status", "credit", "date", "amount", "payer", "receipts", "note")
_STOCK_COLUMNS = (
    "kind",
    "subject",
    "holder",
    "allocated_by",
    "status",
    "issued",
    "reversed",
    "red",
    "unused",
    "gaps",
    "gap_numbers",
)


def _finish(
    ctx: Context,
    data: Any,
    human: Callable[[], str],
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    csv_path: Path | None,
    failed: bool,
) -> None:
    if csv_path is not None:
        headers = list(columns)
        with csv_path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, headers)
            writer.writeheader()
            writer.writerows(rows)
    ctx.emit(data, human)
    if failed:
        fail_with_findings()


_SHOWN = 200


def _table(rows: Sequence[dict[str, Any]], headers: list[str]) -> str:
    """The first lines as a table; the rest only counted (all are in --csv and --json)."""
    text = format_table(headers, [[_short(row.get(h)) for h in headers] for row in rows[:_SHOWN]])
    if len(rows) > _SHOWN:
        text += f"\n… and {len(rows) - _SHOWN:,} more lines (all of them with --csv FILE or --json)"
    return text


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


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


def _bank_rows(report: BankReport) -> list[dict[str, Any]]:
    def line(
        status: str, credit: Any = None, receipts: Sequence[BankReceipt] = (), note: str = ""
    ) -> dict[str, Any]:
        return {
            "status": status,
            "credit": credit.label if credit else "",
            "date": str(credit.on) if credit else ", ".join(str(r.issued_on) for r in receipts),
            "amount": f"{credit.amount:.2f}"
            if credit
            else ", ".join(f"{r.total:.2f}" for r in receipts),
            "payer": credit.payer_name if credit else ", ".join(r.payer_name for r in receipts),
            "receipts": ", ".join(r.label for r in receipts),
            "note": note,
        }

    rows = [line(FindingCode.BANK_MATCHED, m.credit, m.receipts, m.basis) for m in report.matched]
    rows += [
        line(FindingCode.BANK_AMBIGUOUS, a.credit, [r for o in a.options for r in o], a.why)
        for a in report.ambiguous
    ]
    rows += [
        line(FindingCode.UNMATCHED_CREDIT, c, note=hint) for c, hint in report.unmatched_credits
    ]
    rows += [line(FindingCode.UNMATCHED_RECEIPT, receipts=[r]) for r in report.unmatched_receipts]
    rows += [
        line(FindingCode.REVERSED_EXCLUDED, receipts=[r], note=f"reversed by {r.reversed_by}")
        for r in report.reversed
    ]
    rows += [
        {**line(FindingCode.BAD_ROW), "credit": f"line {p.line}", "note": str(p)}
        for p in report.problems
    ]
    return rows


def _stock_rows(report: StockReport) -> list[dict[str, Any]]:
    rows = []
    for s in report.segments:
        u = s.usage
        shown = " ".join(str(n) for n in u.gaps[:20]) + (" …" if len(u.gaps) > 20 else "")
        rows.append(
            {
                "kind": FindingCode.SEGMENT_GAPS if u.gaps else FindingCode.SEGMENT_OK,
                "subject": s.label,
                "holder": s.holder,
                "allocated_by": s.allocated_by,
                "status": "written off" if s.written_off else "open",
                "issued": u.issued,
                "reversed": u.reversed,
                "red": u.red,
                "unused": u.unused,
                "gaps": len(u.gaps),
                "gap_numbers": shown,
            }
        )
    for o in report.outside:
        rows.append(
            {
                "kind": FindingCode.OUTSIDE_SEGMENT,
                "subject": f"{o.code}-{o.number:010d}",
                "holder": o.issuer,
                "allocated_by": "",
                "status": o.kind,
                "issued": "",
                "reversed": "",
                "red": "",
                "unused": "",
                "gaps": "",
                "gap_numbers": "",
            }
        )
    return rows
