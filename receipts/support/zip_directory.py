"""A large zip read without an object per member (docs/operations.md, "Importing large
packages"): the central directory is read in one streaming pass and checked as
:func:`receipts.support.safezip.check_directory` checks it (:class:`~receipts.support.safezip.
DirectoryCheck`: member count, names, links, sizes, compression ratios), and besides refused:
encrypted or patched members, methods other than stored and deflated, more than one disk, a
directory that is not where its end record says (data prepended or appended), a member whose
header lies beyond the directory.

Members whose names a :class:`KeyedNames` maps to a number (a transmission package's receipts,
``receipts/CODE-NUMBER.xml``) are kept in arrays, ~37 bytes each, sorted by that number (a
duplicate is refused as :func:`check_directory` refuses one); the others in a dict by name.
A member is read through its local header, checked against the central directory (signature,
name, method, and the CRC and sizes when the header states them), then inflated with zlib up to
its declared size + 1 and refused unless it is exactly that size with its CRC.
"""

from __future__ import annotations

import io
import struct
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from receipts.support.safezip import DirectoryCheck, UnsafeArchive, ZipLimits
from receipts.support.zip_member import WHOLE_READ_LIMIT, Entry, MemberReader, Window, read_whole

__all__ = ["Entry", "KeyedNames", "ZipDirectory", "read_directory"]

_END = struct.Struct("<4s4H2LH")
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_MAX_COMMENT = 65535
_CHUNK = 64 * 1024
_STORED, _DEFLATED = 0, 8
#: Encrypted (bit 0), strongly encrypted (bit 6), compressed patched data (bit 5).
_REFUSED_FLAGS = 0x01 | 0x40 | 0x20
_DESCRIPTOR = 0x08
_UTF8 = 0x800
_FULL32 = 0xFFFFFFFF


class KeyedNames(Protocol):
    """The members kept compactly: a name's number (None: not one of them) and back."""

    def key(self, name: str) -> int | None:
        """The number of a member ``name``, None for any other member."""

    def name(self, key: int) -> str:
        """The member name of number ``key``."""


@dataclass
class _Keyed:
    """The keyed members' entries in parallel arrays, in ascending key order."""

    keys: array[int] = field(default_factory=lambda: array("q"))
    offsets: array[int] = field(default_factory=lambda: array("Q"))
    compress_sizes: array[int] = field(default_factory=lambda: array("Q"))
    file_sizes: array[int] = field(default_factory=lambda: array("Q"))
    crcs: array[int] = field(default_factory=lambda: array("I"))  # 4 bytes
    methods: bytearray = field(default_factory=bytearray)

    def append(self, key: int, e: Entry) -> None:
        self.keys.append(key)
        self.offsets.append(e.offset)
        self.compress_sizes.append(e.compress_size)
        self.file_sizes.append(e.file_size)
        self.crcs.append(e.crc)
        self.methods.append(e.method)

    def sort(self) -> None:
        """Into key order (a zip written in that order, as ``transmit export`` writes, is
        already: nothing is copied then)."""
        keys = self.keys
        if all(keys[i] < keys[i + 1] for i in range(len(keys) - 1)):
            return
        order = sorted(range(len(keys)), key=keys.__getitem__)
        for name in ("keys", "offsets", "compress_sizes", "file_sizes", "crcs"):
            old = getattr(self, name)
            setattr(self, name, array(old.typecode, (old[i] for i in order)))
        self.methods = bytearray(self.methods[i] for i in order)


@dataclass
class ZipDirectory:
    """A zip's checked central directory and the open file its members are read from."""

    handle: BinaryIO
    what: str
    names: KeyedNames
    directory_offset: int
    """Where the central directory starts: every member's data lies before it."""
    others: dict[str, Entry] = field(default_factory=dict)
    """The members that are not keyed, by name."""
    _keyed: _Keyed = field(default_factory=_Keyed)

    @property
    def keyed_count(self) -> int:
        """How many keyed members the zip holds."""
        return len(self._keyed.keys)

    def keyed_names(self) -> list[str]:
        """The keyed members' names, in key order (for a small zip: one string each)."""
        return [self.names.name(key) for key in self._keyed.keys]

    def find(self, name: str) -> Entry | None:
        """The entry of member ``name``, None when the zip has none."""
        key = self.names.key(name)
        if key is None:
            return self.others.get(name)
        k = self._keyed
        at = bisect_left(k.keys, key)
        if at == len(k.keys) or k.keys[at] != key:
            return None
        return Entry(
            name, k.offsets[at], k.compress_sizes[at], k.file_sizes[at], k.crcs[at], k.methods[at]
        )

    def open(self, entry: Entry) -> io.BufferedReader:
        """The member ``entry``'s content as a stream, inflated as it is read; a damaged or
        lying member raises :class:`UnsafeArchive` where it is found (at the latest at its
        end)."""
        start = self._data_start(entry)
        return io.BufferedReader(MemberReader(self.handle, start, entry, self.what), _CHUNK)

    def read(self, entry: Entry) -> bytes:
        """The member ``entry``'s content, checked (a small one in one read, a large one
        through :meth:`open`)."""
        if max(entry.compress_size, entry.file_size) <= WHOLE_READ_LIMIT:
            return read_whole(self.handle, self._data_start(entry), entry, self.what)
        with self.open(entry) as member:
            return member.read(entry.file_size + 1)

    def _data_start(self, entry: Entry) -> int:
        name, what = entry.name, self.what
        self.handle.seek(entry.offset)
        fixed = self.handle.read(_LOCAL.size)
        if len(fixed) != _LOCAL.size or fixed[:4] != b"PK\x03\x04":
            raise UnsafeArchive(f"{what}: member {name!r} is damaged: bad local header")
        _, _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len = _LOCAL.unpack(fixed)
        local_name = _decode(self.handle.read(name_len), flags)
        stated = not flags & _DESCRIPTOR
        if (
            local_name != name
            or method != entry.method
            or flags & _REFUSED_FLAGS
            or (stated and crc != entry.crc)
            or (stated and csize != _FULL32 and csize != entry.compress_size)
            or (stated and usize != _FULL32 and usize != entry.file_size)
        ):
            raise UnsafeArchive(
                f"{what}: member {name!r} is damaged: its local header differs from the "
                "central directory"
            )
        start: int = entry.offset + _LOCAL.size + name_len + extra_len
        if start + entry.compress_size > self.directory_offset:
            raise UnsafeArchive(f"{what}: member {name!r} runs into the central directory")
        return start


def read_directory(
    handle: BinaryIO,
    size: int,
    limits: Callable[[int], ZipLimits],
    names: KeyedNames,
    what: str,
) -> ZipDirectory:
    """Read and check the central directory of the zip open as ``handle`` (``size`` bytes);
    ``limits`` of its member count (the end record's, held to the entries found)."""
    count, cd_size, cd_offset = _end_record(handle, size, what)
    check = DirectoryCheck(count, size, limits(count), what)
    found = ZipDirectory(handle, what, names, cd_offset)
    seen: set[str] = set()
    source = io.BufferedReader(Window(handle, cd_offset, cd_size), _CHUNK)
    for _ in range(count):
        entry, mode = _central_entry(source, cd_offset, what)
        key = names.key(entry.name)
        if key is None and entry.name in seen:
            raise UnsafeArchive(f"{what}: member {entry.name!r} appears twice")
        check.member(entry.name, mode, entry.file_size, entry.compress_size)
        if key is None:
            seen.add(entry.name)
            found.others[entry.name] = entry
        else:
            found._keyed.append(key, entry)
    if source.read(1):
        raise UnsafeArchive(f"{what} is not a readable zip file: entries beyond the count")
    check.finish()
    found._keyed.sort()
    keys = found._keyed.keys
    for i in range(len(keys) - 1):
        if keys[i] == keys[i + 1]:
            raise UnsafeArchive(f"{what}: member {names.name(keys[i])!r} appears twice")
    return found


def _end_record(handle: BinaryIO, size: int, what: str) -> tuple[int, int, int]:
    """The member count, the central directory's size and offset, from the end record (and
    the zip64 one when there is one), which must end the file exactly."""
    tail_size = min(size, _END.size + _MAX_COMMENT)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    while at >= 0 and (
        at + _END.size > len(tail) or at + _END.size + _END.unpack_from(tail, at)[7] != len(tail)
    ):
        at = tail.rfind(b"PK\x05\x06", 0, at)
    if at < 0:
        raise UnsafeArchive(f"{what} is not a readable zip file: no end of central directory")
    _, disk, cd_disk, _, count, cd_size, cd_offset, _ = _END.unpack_from(tail, at)
    end_at = size - tail_size + at
    locator_at = end_at - _END64_LOCATOR.size
    if locator_at >= 0 and _read_at(handle, locator_at, 4) == b"PK\x06\x07":
        _, disk64, end64_at, _ = _END64_LOCATOR.unpack(
            _read_at(handle, locator_at, _END64_LOCATOR.size)
        )
        record = _read_at(handle, end64_at, _END64.size) if end64_at < locator_at else b""
        if disk64 or len(record) != _END64.size or record[:4] != b"PK\x06\x06":
            raise UnsafeArchive(f"{what} is not a readable zip file: bad zip64 end record")
        _, _, _, _, disk, cd_disk, _, count, cd_size, cd_offset = _END64.unpack(record)
        end_at = end64_at
    if disk or cd_disk:
        raise UnsafeArchive(f"{what}: a zip split over several disks is not accepted")
    if cd_offset + cd_size != end_at:
        raise UnsafeArchive(
            f"{what} is not a readable zip file: the central directory is not where its end "
            "record says (data before or inside the zip?)"
        )
    return count, cd_size, cd_offset


def _central_entry(source: BinaryIO, cd_offset: int, what: str) -> tuple[Entry, int]:
    """The next central directory entry, and its external attributes' mode bits."""
    fixed = source.read(_CENTRAL.size)
    if len(fixed) != _CENTRAL.size or fixed[:4] != b"PK\x01\x02":
        raise UnsafeArchive(f"{what} is not a readable zip file: bad central directory entry")
    fields = _CENTRAL.unpack(fixed)
    flags, method, crc, csize, usize = fields[5], fields[6], fields[9], fields[10], fields[11]
    name_len, extra_len, comment_len, disk, external, offset = (
        fields[12],
        fields[13],
        fields[14],
        fields[15],
        fields[17],
        fields[18],
    )
    raw = source.read(name_len + extra_len + comment_len)
    if len(raw) != name_len + extra_len + comment_len:
        raise UnsafeArchive(f"{what} is not a readable zip file: central directory cut short")
    name = _decode(raw[:name_len], flags)
    extra = raw[name_len : name_len + extra_len]
    usize, csize, offset, disk = _zip64(extra, usize, csize, offset, disk, what)
    if flags & _REFUSED_FLAGS:
        raise UnsafeArchive(f"{what}: member {name!r} is encrypted or patched")
    if method not in (_STORED, _DEFLATED):
        raise UnsafeArchive(f"{what}: member {name!r} is compressed with method {method}")
    if method == _STORED and csize != usize:
        raise UnsafeArchive(f"{what}: member {name!r} is not the size it claims")
    if disk or offset + _LOCAL.size > cd_offset:
        raise UnsafeArchive(f"{what}: member {name!r} lies outside the zip's data")
    return Entry(name, offset, csize, usize, crc, method), external >> 16


def _zip64(
    extra: bytes, usize: int, csize: int, offset: int, disk: int, what: str
) -> tuple[int, int, int, int]:
    """The sizes, offset and disk with the zip64 extra field's values in place of the 32-bit
    fields that say "see zip64" (all ones), in the order APPNOTE 4.5.3 gives them."""
    wanted = [usize == _FULL32, csize == _FULL32, offset == _FULL32]
    if not any(wanted) and disk != 0xFFFF:
        return usize, csize, offset, disk
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, at)
        if tag == 1:
            values = extra[at + 4 : at + 4 + length]
            out = [usize, csize, offset]
            pos = 0
            for i, needed in enumerate(wanted):
                if needed:
                    if pos + 8 > len(values):
                        break
                    out[i] = struct.unpack_from("<Q", values, pos)[0]
                    pos += 8
            else:
                if disk == 0xFFFF and pos + 4 <= len(values):
                    disk = struct.unpack_from("<L", values, pos)[0]
                return out[0], out[1], out[2], disk
            break
        at += 4 + length
    raise UnsafeArchive(f"{what} is not a readable zip file: a zip64 extra field is missing")


def _decode(raw: bytes, flags: int) -> str:
    """A member name as zipfile decodes it: UTF-8 when the flag says so, else code page 437."""
    return raw.decode("utf-8" if flags & _UTF8 else "cp437", errors="replace")


def _read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)
