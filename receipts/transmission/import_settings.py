"""How ``transmit import`` (and a push to the node) reads a package: how large it may be, how many
worker processes verify its receipts and how many receipts go to a worker at a time; the
``[transmission]`` table of ``receipts.toml`` (docs/operations.md, "Importing large packages")::

    [transmission]
    max_receipts = 1000000   # receipts a package may carry (default 1,000,000)
    import_workers = 4       # verifying processes (default: the CPU count; 0 verifies in-process)
    import_chunk = 2000      # receipts per chunk handed to a worker (default 2,000)

The zip limits follow ``max_receipts``: a package is read member by member (never whole), so
its size bounds disk and time, not memory; what protects against a zip bomb is unchanged (the
central directory checked before anything is inflated, each member read up to its declared size,
the per-member and whole-zip compression ratios of :class:`receipts.support.safezip.ZipLimits`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass

from receipts.errors import InvalidInput
from receipts.support.safezip import ZipLimits
from receipts.workspace import CONFIG_NAME, Workspace

__all__ = ["DEFAULT_MAX_RECEIPTS", "ImportSettings", "import_settings"]

DEFAULT_MAX_RECEIPTS = 1_000_000
"""A year of a large province's receipts in one package; the national tier may raise it."""
_MAX_CHUNK = 100_000
_KEYS = {"max_receipts", "import_workers", "import_chunk"}
_KIB = 1024
#: Members besides the receipts: events, manifest, registry, CRLs, allocations, statements.
_OTHER_MEMBERS = 10_000
#: What one receipt may add to the package's members: its signed XML (~5-6 KB) with a
#: signature time-stamp (~3-5 KB), with headroom (the zip's compression ratios still apply).
_PER_RECEIPT_BYTES = 16 * _KIB
#: What one receipt adds to the manifest (its Receipt and Member elements, ~380 bytes) and to
#: the events (its event line, ~630 bytes, and a time-stamp event), with headroom.
_PER_RECEIPT_LISTING = 2 * _KIB
_MIN_MEMBER_BYTES = 16 * 1024 * _KIB


@dataclass(frozen=True)
class ImportSettings:
    """``[transmission]``, validated."""

    max_receipts: int = DEFAULT_MAX_RECEIPTS
    """Receipts a package may carry."""
    workers: int | None = None
    """Verifying worker processes; None: the CPU count; 0: verify in the importing process."""
    chunk: int = 2000
    """Receipts handed to a worker at a time (and inserted together)."""

    @property
    def worker_count(self) -> int:
        """The workers to start (``workers``, or the CPU count)."""
        return self.workers if self.workers is not None else os.cpu_count() or 1

    def zip_limits(self, members: int) -> ZipLimits:
        """What a package of ``members`` members (its central directory's count) may hold: the
        manifest and the events list every member, so their size is bounded by the count."""
        listing = self.listing_bytes(members)
        return ZipLimits(
            max_members=self.max_receipts + _OTHER_MEMBERS,
            max_member_bytes=listing,
            max_total_bytes=self.max_receipts * _PER_RECEIPT_BYTES + 2 * listing,
        )

    def listing_bytes(self, members: int) -> int:
        """How large the manifest or the events of a package of ``members`` members may be
        (16 MiB at least, as for any member)."""
        return max(_MIN_MEMBER_BYTES, members * _PER_RECEIPT_LISTING)

    @property
    def max_file_bytes(self) -> int:
        """How large the package file may be (it is read member by member, never whole)."""
        return self.max_receipts * _PER_RECEIPT_BYTES + 2 * self.listing_bytes(
            self.max_receipts + _OTHER_MEMBERS
        )


def import_settings(workspace: Workspace) -> ImportSettings:
    """The workspace's ``[transmission]`` table; defaults when absent, one clear error when
    wrong."""
    path = workspace.home / CONFIG_NAME
    try:
        table = tomllib.loads(path.read_text("utf-8")).get("transmission", {})
    except FileNotFoundError:
        return ImportSettings()
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    if not isinstance(table, dict):
        raise InvalidInput("[transmission] must be a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise InvalidInput(f"unknown keys in [transmission]: {', '.join(sorted(unknown))}")
    max_receipts = _whole(table, "max_receipts", DEFAULT_MAX_RECEIPTS, 1, 100_000_000)
    workers = table.get("import_workers")
    if workers is not None:
        workers = _whole(table, "import_workers", 0, 0, 256)
    chunk = _whole(table, "import_chunk", 2000, 1, _MAX_CHUNK)
    return ImportSettings(max_receipts, workers, chunk)


def _whole(table: dict[str, object], key: str, default: int, low: int, high: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"[transmission] {key} must be a whole number from {low} to {high:,}")
    return value
