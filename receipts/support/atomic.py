"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one.

Every file the product writes (command outputs, packages, PDFs, trust bundles, keys, the
workspace configuration) goes through here. The data is written to a temporary file in the
target's folder, flushed to disk, given its mode, and renamed over the target; ``os.replace`` is
atomic on POSIX and Windows when both names are on one file system, which a sibling temporary
file guarantees. The folder is synced too, so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["PRIVATE", "PUBLIC", "atomic_writer", "write_atomic"]

PUBLIC = 0o644
"""Mode of public material: certificates, receipts, packages, reports."""
PRIVATE = 0o600
"""Mode of anything secret or personal: keys, ledgers, logs."""


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    mode: int = PUBLIC,
    overwrite: bool = True,
    durable: bool = True,
) -> Path:
    """Write ``data`` to ``path`` atomically with ``mode`` and return the path.

    With ``overwrite`` false an existing file is kept and :class:`FileExistsError` raised (for
    keys: losing a CA key is not recoverable). The parent folder is created when missing.
    ``durable`` false skips the fsyncs: the write is still atomic against a crash of the process,
    but a power cut may lose it. Only for files derived from data kept elsewhere (a PDF rendered
    from its signed XML), where batches of thousands would otherwise wait on the disk.
    """
    with atomic_writer(path, mode=mode, overwrite=overwrite, durable=durable) as handle:
        handle.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str],
    *,
    mode: int = PUBLIC,
    overwrite: bool = True,
    durable: bool = True,
) -> Iterator[IO[bytes]]:
    """A binary file handle whose content replaces ``path`` only when the block ends without an
    exception; on an exception the temporary file is removed and ``path`` is untouched.

    For writers that stream (CSV reports, zip packages); wrap the handle in
    :class:`io.TextIOWrapper` for text.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and target.exists():
        raise FileExistsError(f"{target} exists already; refusing to overwrite it")
    # mkstemp creates the file 0600 whatever the umask: secret data is never readable by others,
    # not even for the moment before the chmod below.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, target)
        else:
            # link() fails if the target appeared meanwhile, where replace() would clobber it.
            os.link(tmp, target)
            tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable; not every platform or file system can open a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
