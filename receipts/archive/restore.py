"""``receipts archive restore``: rebuild a federation's ledger from its archives.

Every archive is verified first (fixity, manifest signature, each receipt's signature and
time-stamp), and each time-stamped receipt split into the receipt as issued and its token, the
token checked over that receipt's signature value (receipts/archive/restore_timestamps.py); then a
new workspace of the archives' federation is created with the trust bundle the restore was given
(never the one an archive carries: it proves nothing on its own), and the
receipts, the archives and the closed periods are recorded as events of the new ledger. Status
(issued, reversed, archived) and statistics then follow from the same rules as in the original.
The restored ledger has no signing key: its chain is hashed but not anchored by signed heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from receipts.archive.restore_timestamps import ArchivedReceipt, archived_receipts, keep_tokens
from receipts.domain.divisions import tier_of
from receipts.domain.signed_documents import chain_validator
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import InvalidInput
from receipts.issuing.receipt_rows import item_columns, receipt_columns
from receipts.ledger.database import Database, default_url
from receipts.ledger.events import append_event, next_event
from receipts.ledger.migrate import initialise
from receipts.ledger.models import (
    Archive,
    Event,
    LedgerState,
    PeriodClose,
    ReceiptItemRow,
    ReceiptRow,
)
from receipts.ledger.partitions import ensure_years
from receipts.support.atomic import write_atomic
from receipts.support.safezip import read_zip
from receipts.verify.archive import ArchiveInfo, verify_archive
from receipts.workspace import Workspace, WorkspaceConfig, WorkspaceKind
from signing.trust import TrustBundle

__all__ = ["RestoreResult", "restore_archives"]


@dataclass(frozen=True)
class RestoreResult:
    """What was restored."""

    home: Path
    """The new workspace."""
    org_code: str
    """Whose records."""
    archives: int
    """Archives applied."""
    receipts: int
    """Receipts restored."""


def restore_archives(
    archives: list[tuple[str, bytes]],
    into: Path,
    trust: TrustBundle,
    db_url: str | None = None,
) -> RestoreResult:
    """Verify ``archives`` (name, zip bytes) against ``trust`` and rebuild their federation's
    ledger in ``into``, whose trust bundle ``trust`` becomes. Never the bundle an archive
    carries: anyone can write an archive under a root of their own."""
    opened = _verified(archives, trust)
    info0 = opened[0][0]
    org = info0.org_code
    workspace = Workspace.create(
        into, WorkspaceConfig(WorkspaceKind.FEDERATION, info0.org_name, org, tier_of(org))
    )
    write_atomic(workspace.trust_dir / "bundle.pem", trust.to_pem())
    db = Database(db_url or default_url(into))
    initialise(db, org)
    # Main archives first, oldest period first; supplements after what they amend.
    opened.sort(key=lambda pair: (pair[0].kind != "main", pair[0].months[0]))
    restored = 0
    now = datetime.now(UTC).replace(microsecond=0)
    with db.write() as (session, state):
        seen: set[tuple[str, int]] = set()
        for info, _, archived in opened:
            count = _restore_receipts(session, state, info, archived, seen, now)
            _record_archive(session, state, info, count, now)
            restored += count
    db.dispose()
    return RestoreResult(into, org, len(opened), restored)


_Opened = tuple[ArchiveInfo, dict[str, bytes], dict[str, ArchivedReceipt]]


def _verified(archives: list[tuple[str, bytes]], trust: TrustBundle) -> list[_Opened]:
    """Each archive's description, members and receipts (as issued, with their checked tokens),
    once every archive verified, all of one federation; the first that does not verify stops
    the restore before anything is written."""
    if not archives:
        raise InvalidInput("give at least one archive to restore")
    opened: list[_Opened] = []
    for name, data in archives:
        members = read_zip(data, name)
        validator = chain_validator(trust)
        check = verify_archive(data, validator, name)
        if not check.ok or check.info is None:
            first = check.findings[0]
            raise InvalidInput(
                f"{name} does not verify ({first.code}: {first.message}); nothing was restored"
            )
        opened.append((check.info, members, archived_receipts(members, validator, name)))
    orgs = {info.org_code for info, _, _ in opened}
    if len(orgs) != 1:
        raise InvalidInput(f"the archives belong to several federations: {sorted(orgs)}")
    return opened


def _restore_receipts(
    session: Session,
    state: LedgerState,
    info: ArchiveInfo,
    archived: dict[str, ArchivedReceipt],
    seen: set[tuple[str, int]],
    now: datetime,
) -> int:
    """Insert the archive's receipts not ``seen`` in an earlier archive, each with its
    ``receipt.restored`` event and its time-stamp when it has one; return how many."""
    rows, items, events = [], [], []
    stamped: list[tuple[str, int, ArchivedReceipt]] = []
    for path in sorted(archived):
        xml, digest = archived[path].xml, archived[path].digest
        receipt = parse_receipt_xml(xml)
        key = (receipt.code, receipt.number)
        if key in seen:
            continue
        seen.add(key)
        if archived[path].token is not None:
            stamped.append((receipt.code, receipt.number, archived[path]))
        rows.append(receipt_columns(receipt, xml, digest))
        items.extend(item_columns(receipt))
        facts = {
            "code": receipt.code,
            "number": receipt.number,
            "digest": digest,
            "archive": info.digest,
        }
        events.append(next_event(state, "receipt.restored", facts, now))
    ensure_years(session, {row["issue_year"] for row in rows})
    for table, values in ((Event, events), (ReceiptRow, rows), (ReceiptItemRow, items)):
        if values:
            session.execute(insert(table), values)
    keep_tokens(session, state, stamped)
    return len(rows)


def _record_archive(
    session: Session, state: LedgerState, info: ArchiveInfo, receipts: int, now: datetime
) -> None:
    """Record the archive (and, for a main archive, its months as closed) as the original
    ledger did when it made it."""
    if info.kind == "main":
        for month in info.months:
            closed = append_event(session, state, "period.closed", {"period": month}, now)
            session.flush()
            session.add(PeriodClose(period=month, closed_at=now, event_seq=closed.seq))
    facts = {
        "label": info.label,
        "months": list(info.months),
        "kind": info.kind,
        "digest": info.digest,
        "receipts": receipts,
        "restored": True,
    }
    event = append_event(session, state, "archive.created", facts, now)
    session.flush()
    session.add(
        Archive(
            label=info.label,
            months=",".join(info.months),
            kind=info.kind,
            digest=info.digest,
            created_at=now,
            receipts=receipts,
            event_seq=event.seq,
        )
    )
