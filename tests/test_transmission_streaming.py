"""``transmit import`` streams a package (docs/operations.md, "Importing large packages"): its
receipts verified a chunk at a time in worker processes and stored chunk by chunk in one
transaction, so a refusal or a dead worker after some chunks were stored leaves nothing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from receipts.commands.demo_files import batch_csv
from receipts.errors import EnvironmentFailure, InvalidInput
from receipts.ledger.database import Database, default_url
from receipts.ledger.models import Event, ReceiptItemRow, ReceiptRow, ReceiptShareRow, Transmission
from receipts.transmission.import_settings import ImportSettings, import_settings
from receipts.transmission.package import RefusedPackage
from receipts.transmission.receive import ImportResult, import_package
from receipts.transmission.verify_pool import Member, Verified, verify_chunk
from tests.support import import_faults
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation, ok

RECEIPTS = 10


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A city's package of 10 receipts, and the province (before importing it)."""
    tmp = tmp_path_factory.mktemp("streaming")
    province, city = tmp / "640000", tmp / "640100"
    federation(province, "640000")
    federation(city, "640100")
    ok(province, "org", "add", "--code", "640100")
    allocation = tmp / "alloc.xml"
    ok(province, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(allocation))
    ok(city, "stock", "import", str(allocation))
    batch = tmp / "batch.csv"
    batch.write_text(batch_csv(RECEIPTS, 7, "S"), encoding="utf-8")
    ok(city, "issue", "--batch", str(batch))
    package = tmp / "640100.zip"
    ok(city, "transmit", "export", "-o", str(package))
    return package, province


def counts(home: Path) -> dict[str, int]:
    db = Database(default_url(home))
    with db.read() as session:
        found = {
            table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
            for table in (ReceiptRow, ReceiptItemRow, ReceiptShareRow, Event, Transmission)
        }
    db.dispose()
    return found


def run_import(
    built: tuple[Path, Path],
    tmp_path: Path,
    workers: int,
    verify: Callable[[list[Member]], list[Verified]] = verify_chunk,
) -> tuple[Path, Callable[[], ImportResult]]:
    """A fresh copy of the province, and the import of the package into it (chunks of 3)."""
    package, province = built
    home = tmp_path / "province"
    shutil.copytree(province, home)
    settings = ImportSettings(workers=workers, chunk=import_faults.CHUNK)

    def run() -> ImportResult:
        db = Database(default_url(home))
        try:
            return import_package(
                db,
                package,
                tier_pki().validator(),
                tier_pki().signers["640000"],
                package.name,
                settings=settings,
                verify=verify,
            )
        finally:
            db.dispose()

    return home, run


@pytest.mark.parametrize("workers", [0, 2])
def test_a_package_is_imported_in_chunks(
    built: tuple[Path, Path], tmp_path: Path, workers: int
) -> None:
    home, run = run_import(built, tmp_path, workers, import_faults.at_most_chunk)
    before = counts(home)
    result = run()
    assert (result.new, result.added, result.known) == (True, RECEIPTS, 0)
    after = counts(home)
    assert after["receipts"] == before["receipts"] + RECEIPTS
    assert after["receipt_items"] == before["receipt_items"] + RECEIPTS
    assert after["receipt_shares"] == before["receipt_shares"] + RECEIPTS
    # A receipt.imported event per receipt, and the transmission's own.
    assert after["events"] >= before["events"] + RECEIPTS + 1
    again = run()
    assert (again.new, again.added, again.known) == (False, 0, RECEIPTS)
    ok(home, "audit")


def test_a_refusal_after_chunks_were_stored_leaves_nothing(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    home, run = run_import(built, tmp_path, 2, import_faults.refuse_seventh)
    before = counts(home)
    with pytest.raises(RefusedPackage, match="test-refusal: the seventh receipt"):
        run()
    assert counts(home) == before


def test_a_worker_that_dies_is_a_clean_error_and_leaves_nothing(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    home, run = run_import(built, tmp_path, 2, import_faults.crash)
    before = counts(home)
    with pytest.raises(EnvironmentFailure, match="worker process died"):
        run()
    assert counts(home) == before


def test_the_settings_come_from_transmission_and_bad_ones_are_named(tmp_path: Path) -> None:
    home = tmp_path / "640000"
    workspace = federation(home, "640000")
    config = home / "receipts.toml"
    base = config.read_text("utf-8")
    config.write_text(base + "\n[transmission]\nimport_workers = 0\nimport_chunk = 50\n")
    settings = import_settings(workspace)
    assert (settings.worker_count, settings.chunk) == (0, 50)
    assert settings.max_receipts == 1_000_000
    assert settings.zip_limits(5).max_members == 1_010_000
    config.write_text(base + "\n[transmission]\nimport_chunk = 0\n")
    with pytest.raises(InvalidInput, match=r"\[transmission\] import_chunk must be a whole number"):
        import_settings(workspace)


@pytest.mark.parametrize("workers", [0, 1])
def test_chunks_of_padded_receipts_are_bounded_in_bytes(workers: int) -> None:
    """Receipt members are not verified until a worker has them, and each may have up to
    1,000,000 bytes: chunks end at CHUNK_BYTES as well as at their count."""
    from datetime import timedelta

    from receipts.transmission.verify_pool import CHUNK_BYTES, verified_chunks

    padded = [(f"receipts/{n:02d}.xml", b" " * 900_000) for n in range(30)]
    validator = tier_pki().validator()
    verify = import_faults.chunk_bytes
    with verified_chunks(
        iter(padded), validator, timedelta(0), workers=workers, chunk=2000, verify=verify
    ) as chunks:
        verified = [v for chunk in chunks for v in chunk]
    assert [v.name for v in verified] == [name for name, _ in padded]
    if workers:  # the in-process path verifies for real: each receipt refused on its own
        held = {int(str(v.problem).split()[2]) for v in verified}
        assert max(held) <= CHUNK_BYTES + 900_000  # not the 27 MB of one chunk of 2,000
    else:
        assert all(v.problem for v in verified)
