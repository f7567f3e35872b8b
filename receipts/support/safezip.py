"""Zip packages that cross between organisations: written deterministically, read defensively.

Reading refuses what an archive from outside must never be able to do: member paths that climb
out (``..``), absolute paths, drive letters or backslashes, symbolic links, duplicate names, too
many members, oversized members, and compression bombs (a member that inflates far beyond its
stored size, or a zip whose members together inflate far beyond the zip). Every limit is checked
on the central directory's declared sizes before anything is inflated, and again on what really
comes out (declared sizes can lie). Nothing is extracted to disk: members come back as bytes in
memory, so :class:`ZipLimits` also bounds the memory a hostile zip can take.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from receipts.errors import InvalidInput

__all__ = [
    "DirectoryCheck",
    "UnsafeArchive",
    "ZipLimits",
    "check_directory",
    "check_name",
    "read_member",
    "read_zip",
    "write_zip",
]

# A fixed timestamp keeps the same content byte-identical (zip stores local times).
_EPOCH = (2000, 1, 1, 0, 0, 0)


class UnsafeArchive(InvalidInput):
    """A package or archive is malformed or tries something unsafe."""


_MIB = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    """What a reader accepts. The defaults fit a real month with headroom: the largest is the
    archive of a month of a city federation of ~10,000 receipts, each a signed XML (~5.3 KB), a
    PDF (~41 KB with its font subset) and a metadata record: ~30,000 members, ~480 MB; a month's
    transmission package holds only the XML, ~60 MB. Real packages compress about 1.1x (PDFs) to
    2.1x (XML); a zip bomb compresses hundreds of times, which ``max_ratio_total`` refuses before
    anything is inflated."""

    max_members: int = 40_000
    """Members at most (a month's archive: 3 per receipt, ~30,000)."""
    max_member_bytes: int = 16 * _MIB
    """Uncompressed size of one member at most (a receipt PDF is ~41 KB; the events of a month,
    the largest member, a few MB)."""
    max_total_bytes: int = 512 * _MIB
    """Uncompressed size of all members at most (a month's archive, ~480 MB)."""
    max_ratio: int = 200
    """Uncompressed / compressed size at most (for members over 64 KiB)."""
    max_ratio_total: int = 20
    """All members' uncompressed size / the zip's size at most (for zips inflating to over 1 MiB);
    ten times what real packages reach, and what stops many small members that each stay under
    the per-member ratio check."""


def write_zip(members: Mapping[str, bytes]) -> bytes:
    """A zip of ``members`` (name → bytes) in name order, deflated, with fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            check_name(name)
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, members[name])
    return buffer.getvalue()


def read_zip(data: bytes, what: str, limits: ZipLimits | None = None) -> dict[str, bytes]:
    """Every member of the zip ``data`` as bytes, after the safety checks; ``what`` names the
    package in error messages."""
    limits = limits or ZipLimits()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UnsafeArchive(f"{what} is not a readable zip file: {exc}") from None
    with archive:
        infos = archive.infolist()
        check_directory(infos, len(data), limits, what)
        members: dict[str, bytes] = {}
        total = 0
        for info in infos:
            content = read_member(archive, info, what)
            # The declared sizes were summed above; count what really came out as well.
            total += len(content)
            if total > limits.max_total_bytes:
                raise UnsafeArchive(f"{what} inflates beyond {limits.max_total_bytes:,} bytes")
            members[info.filename] = content
    return members


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> bytes:
    """One member of an archive whose directory passed :func:`check_directory`: read at most
    its declared size + 1 (a lying header cannot inflate further) and refused unless it is
    exactly that size and undamaged. Readers that stream a large zip member by member (a
    transmission package, :mod:`receipts.transmission.package_stream`) hold one at a time."""
    try:
        with archive.open(info) as member:
            content = member.read(info.file_size + 1)
    # zlib.error: a damaged deflate stream (a flipped byte) fails before the CRC check.
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
        raise UnsafeArchive(f"{what}: member {info.filename!r} is damaged: {exc}") from None
    if len(content) != info.file_size:
        raise UnsafeArchive(f"{what}: member {info.filename!r} is not the size it claims")
    return content


def check_directory(
    infos: list[zipfile.ZipInfo], zip_bytes: int, limits: ZipLimits, what: str
) -> None:
    """The central directory's checks, before anything is inflated: names, links, duplicates,
    member count, declared sizes and compression ratios against ``limits``."""
    check = DirectoryCheck(len(infos), zip_bytes, limits, what)
    seen: set[str] = set()
    for info in infos:
        if info.filename in seen:  # its name was checked the first time
            raise UnsafeArchive(f"{what}: member {info.filename!r} appears twice")
        seen.add(info.filename)
        check.member(info.filename, info.external_attr >> 16, info.file_size, info.compress_size)
    check.finish()


class DirectoryCheck:
    """:func:`check_directory`'s checks one central directory entry at a time, for a reader
    that keeps no object per member (:mod:`receipts.support.zip_directory`); duplicates are
    the caller's to find."""

    def __init__(self, members: int, zip_bytes: int, limits: ZipLimits, what: str) -> None:
        if members > limits.max_members:
            raise UnsafeArchive(
                f"{what} has {members:,} members; at most {limits.max_members:,} are accepted"
            )
        self.zip_bytes, self.limits, self.what = zip_bytes, limits, what
        self.total = 0

    def member(self, name: str, mode: int, file_size: int, compress_size: int) -> None:
        """One member's name, kind (``mode``: the external attributes' upper 16 bits), declared
        size and compression ratio; the running total."""
        what, limits = self.what, self.limits
        check_name(name, what)
        if stat.S_ISLNK(mode) or name.endswith("/"):
            raise UnsafeArchive(f"{what}: member {name!r} is a link or a folder")
        if file_size > limits.max_member_bytes:
            raise UnsafeArchive(
                f"{what}: member {name!r} is {file_size:,} bytes; at "
                f"most {limits.max_member_bytes:,} are accepted"
            )
        if file_size > 65536 and file_size > limits.max_ratio * max(compress_size, 1):
            raise UnsafeArchive(
                f"{what}: member {name!r} inflates {file_size:,} "
                f"bytes from {compress_size:,} (a compression bomb?)"
            )
        self.total += file_size
        if self.total > limits.max_total_bytes:
            raise UnsafeArchive(f"{what} inflates beyond {limits.max_total_bytes:,} bytes")

    def finish(self) -> None:
        """After the last entry: the whole zip's compression ratio."""
        total, zip_bytes = self.total, self.zip_bytes
        if total > _MIB and total > self.limits.max_ratio_total * max(zip_bytes, 1):
            raise UnsafeArchive(
                f"{self.what} inflates to {total:,} bytes from {zip_bytes:,} (a compression bomb?)"
            )


def check_name(name: str, what: str = "package") -> None:
    """A member path a reader may use: relative, without '..', drive letters, backslashes."""
    path = PurePosixPath(name)
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or ":" in name
        or "\x00" in name
        or any(part in ("..", ".", "") for part in name.split("/"))
        or path.is_absolute()
    ):
        raise UnsafeArchive(
            f"{what}: member path {name!r} is not allowed (absolute, '..', or odd characters)"
        )
