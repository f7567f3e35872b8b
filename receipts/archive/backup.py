"""``receipts backup``: a consistent copy of a workspace and its ledger while it is in use.

SQLite ledgers are copied with SQLite's online backup API (a consistent snapshot even while
clerks issue); the workspace's files (configuration, encrypted keys, certificates, trust, CA
records) go beside it in one ``.tar.gz``. A PostgreSQL ledger is backed up with ``pg_dump``
(see the README); this command then copies the workspace files only and says so.
"""

from __future__ import annotations

import io
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.support.atomic import PRIVATE, atomic_writer
from receipts.workspace import Workspace

__all__ = ["BackupResult", "backup"]

_SKIP = {"logs", "out", "ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"}


@dataclass(frozen=True)
class BackupResult:
    """What the backup holds."""

    path: Path
    """The archive written."""
    files: int
    """Workspace files copied."""
    ledger_included: bool
    """False for a PostgreSQL ledger (back it up with pg_dump)."""


def backup(workspace: Workspace, db: Database, target: Path) -> BackupResult:
    """Write ``target`` (.tar.gz): the workspace's files and a snapshot of its SQLite ledger."""
    if target.exists():
        raise InvalidInput(f"{target} exists; refusing to overwrite a backup")
    home = workspace.home.resolve()
    if target.resolve().is_relative_to(home):
        raise InvalidInput("write the backup outside the workspace it copies")
    files = sorted(
        p for p in home.rglob("*") if p.is_file() and p.relative_to(home).parts[0] not in _SKIP
    )
    # The archive holds the encrypted keys and every payer's records: private. It appears whole
    # or not at all, and never replaces a file that turned up at ``target`` meanwhile.
    with (
        atomic_writer(target, mode=PRIVATE, overwrite=False) as handle,
        tempfile.TemporaryDirectory() as tmp,
        tarfile.open(fileobj=handle, mode="w:gz") as tar,
    ):
        for path in files:
            tar.add(path, arcname=str(Path("workspace") / path.relative_to(home)))
        if db.is_sqlite:
            snapshot = Path(tmp) / "ledger.sqlite"
            _sqlite_snapshot(db, snapshot)
            tar.add(snapshot, arcname="workspace/ledger.sqlite")
        else:
            note = b"The ledger is in PostgreSQL: back it up with pg_dump (see the README).\n"
            info = tarfile.TarInfo("workspace/LEDGER-IN-POSTGRESQL.txt")
            info.size = len(note)
            tar.addfile(info, io.BytesIO(note))
    return BackupResult(target, len(files), db.is_sqlite)


def _sqlite_snapshot(db: Database, snapshot: Path) -> None:
    database = make_url(db.url).database
    if not database:
        raise InvalidInput("an in-memory ledger cannot be backed up")
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=60)
    dest = sqlite3.connect(snapshot)
    try:
        with dest:
            source.backup(dest)
    finally:
        dest.close()
        source.close()
