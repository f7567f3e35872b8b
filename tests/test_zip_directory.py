"""The compact zip reader and the streaming zip writer (receipts/support/zip_directory.py,
zip_writer.py): what zipfile writes is read alike, what the writer writes zipfile reads alike
(zip64 included), and every refusal of receipts.support.safezip.check_directory holds, with the
reader's own (encryption, methods, data before the zip, headers that differ, lying sizes)."""

from __future__ import annotations

import io
import os
import random
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from receipts.support import zip_directory
from receipts.support.safezip import UnsafeArchive, ZipLimits, write_zip
from receipts.support.zip_directory import ZipDirectory, read_directory
from receipts.support.zip_member import WHOLE_READ_LIMIT, Entry, read_whole
from receipts.support.zip_writer import ZipWriter


class Numbered:
    """Members ``r/NNNNNN`` kept by number."""

    def key(self, name: str) -> int | None:
        if name.startswith("r/") and len(name) == 8 and name[2:].isdigit():
            return int(name[2:])
        return None

    def name(self, key: int) -> str:
        return f"r/{key:06d}"


def opened(data: bytes, limits: ZipLimits | None = None) -> ZipDirectory:
    return read_directory(
        io.BytesIO(data), len(data), lambda _: limits or ZipLimits(), Numbered(), "p.zip"
    )


def contents(directory: ZipDirectory, names: list[str]) -> dict[str, bytes]:
    found = {}
    for name in names:
        entry = directory.find(name)
        assert entry is not None, name
        found[name] = directory.read(entry)
    return found


def test_what_zipfile_writes_is_read_alike_in_any_order() -> None:
    rng = random.Random(7)
    members = {f"r/{n:06d}": os.urandom(rng.randrange(0, 3000)) for n in rng.sample(range(999), 60)}
    members |= {"events.jsonl": b"{}\n" * 5000, "manifest.xml": b"<m/>", "r/odd.xml": b"x"}
    names = list(members)
    rng.shuffle(names)  # keyed members out of order: sorted by the reader
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for n, name in enumerate(names):
            z.writestr(name, members[name], zipfile.ZIP_DEFLATED if n % 2 else zipfile.ZIP_STORED)
    directory = opened(buffer.getvalue())
    assert directory.keyed_count == 60
    assert set(directory.others) == {"events.jsonl", "manifest.xml", "r/odd.xml"}
    assert contents(directory, names) == members
    assert directory.keyed_names() == sorted(n for n in names if Numbered().key(n) is not None)
    assert directory.find("r/999999") is None and directory.find("absent") is None
    with directory.open(directory.others["events.jsonl"]) as lines:
        assert sum(1 for _ in lines) == 5000


def test_what_the_writer_writes_zipfile_reads_alike(tmp_path: Path) -> None:
    members = {"r/000001": b"one", "r/000002": os.urandom(100_000), "账目.txt": "元".encode()}
    with open(tmp_path / "w.zip", "wb") as out:
        writer = ZipWriter(out)
        assert writer.add("r/000001", b"one") == __import__("hashlib").sha256(b"one").hexdigest()
        with writer.stream("r/000002") as sink:
            for start in range(0, 100_000, 7_000):
                sink.write(members["r/000002"][start : start + 7_000])
        writer.add("账目.txt", members["账目.txt"])
        writer.close()
    data = (tmp_path / "w.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "w.zip") as z:
        assert z.testzip() is None
        assert {n: z.read(n) for n in z.namelist()} == members
        assert {i.date_time for i in z.infolist()} == {(2000, 1, 1, 0, 0, 0)}
    assert contents(opened(data), list(members)) == members
    # The same content, the same bytes (fixed timestamps).
    again = io.BytesIO()
    writer = ZipWriter(again)
    writer.add("r/000001", b"one")
    writer.close()
    first = io.BytesIO()
    writer = ZipWriter(first)
    writer.add("r/000001", b"one")
    writer.close()
    assert again.getvalue() == first.getvalue()


def test_zip64_end_records_and_extra_fields() -> None:
    buffer = io.BytesIO()
    writer = ZipWriter(buffer)
    for n in range(70_000):  # over 65,535 members: the zip64 end record
        writer.add(f"r/{n:06d}", b"")
    writer.close()
    data = buffer.getvalue()
    assert b"PK\x06\x06" in data[-200:]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert len(z.infolist()) == 70_000
    limits = ZipLimits(max_members=100_000)
    directory = opened(data, limits)
    assert directory.keyed_count == 70_000
    assert contents(directory, ["r/069999"]) == {"r/069999": b""}
    locator = data.rindex(b"PK\x06\x07")
    for far in (1 << 63, len(data)):  # where no zip64 end record can be
        wrong = data[: locator + 8] + struct.pack("<Q", far) + data[locator + 16 :]
        with pytest.raises(UnsafeArchive, match="bad zip64 end record"):
            opened(wrong, limits)
    # A member past 4 GiB: its offset in the zip64 extra field, as zipfile reads it.
    central = io.BytesIO()
    writer = ZipWriter(central)
    writer._central_entry(b"r/000001", 0, 5 << 32, 123, 10, 12)
    writer._central.seek(0)
    entry = writer._central.read()
    info = zipfile.ZipInfo("r/000001")
    info.compress_size, info.file_size = struct.unpack_from("<2L", entry, 20)
    (info.header_offset,) = struct.unpack_from("<L", entry, 42)
    info.extra = entry[46 + 8 :]
    info._decodeExtra()  # type: ignore[attr-defined]
    assert (info.header_offset, info.file_size, info.compress_size) == (5 << 32, 10, 12)


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _refused(data: bytes, message: str, limits: ZipLimits | None = None) -> None:
    with pytest.raises(UnsafeArchive, match=message):
        directory = opened(data, limits)
        contents(directory, [*directory.others, *directory.keyed_names()])


def test_check_directory_refusals_hold() -> None:
    _refused(_zip({"../../etc/x": b"1"}), r"member path '\.\./\.\./etc/x' is not allowed")
    _refused(_zip({"a": b"1", "b": b"2", "c": b"3"}), "has 3 members; at most 2", ZipLimits(2))
    _refused(_zip({"a": bytes(200_000)}), "inflates 200,000 bytes from", ZipLimits())
    many = _zip({f"m{n}": bytes(60_000) for n in range(40)})
    _refused(many, r"inflates to 2,400,000 bytes from [0-9,]+ \(a comp")
    _refused(_zip({"a": b"x" * 60, "b": b"y" * 60}), "inflates beyond 100", ZipLimits(9, 99, 100))
    info = zipfile.ZipInfo("link")
    info.external_attr = 0o120777 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(info, b"/etc/passwd")
    _refused(buffer.getvalue(), "'link' is a link or a folder")


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_duplicates_are_refused_keyed_or_not() -> None:
    for name in ("r/000005", "manifest.xml"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for other in (name, "r/000001", name):
                z.writestr(other, b"1")
        _refused(buffer.getvalue(), f"member '{name}' appears twice")


def test_the_readers_own_refusals() -> None:
    good = write_zip({"r/000001": b"receipt " * 100, "manifest.xml": b"<m/>"})
    _refused(b"junk" + good, "central directory is not where its end record says")
    _refused(good[:-10], "no end of central directory")
    _refused(_zip({"r/000001": b"1" * 100}, zipfile.ZIP_BZIP2), "compressed with method 12")
    good = write_zip({"r/000001": b"receipt " * 100})
    flagged = bytearray(good)
    central = flagged.index(b"PK\x01\x02")
    flagged[central + 8] |= 1  # the encryption flag
    _refused(bytes(flagged), "'r/000001' is encrypted")
    renamed = bytearray(good)
    renamed[renamed.index(b"r/000001")] = ord("s")  # the local header's name only
    _refused(bytes(renamed), "local header differs from the central directory")
    stored = bytearray(_zip({"r/000001": b"abcdef" * 50}, zipfile.ZIP_STORED))
    stored[stored.index(b"abcdef") + 3] ^= 1
    _refused(bytes(stored), r"'r/000001' is damaged: Bad CRC-32")
    bigger = bytearray(good)
    central = bigger.index(b"PK\x01\x02")
    (size,) = struct.unpack_from("<L", bigger, central + 24)
    struct.pack_into("<L", bigger, central + 24, size + 1)  # the central directory lies
    _refused(bytes(bigger), "local header differs")
    bigger[bigger.index(b"PK\x03\x04") + 22 : bigger.index(b"PK\x03\x04") + 26] = struct.pack(
        "<L", size + 1
    )  # both headers lie: the inflated content is short
    _refused(bytes(bigger), "'r/000001' is not the size it claims")
    smaller = bytearray(bigger)
    for at in (smaller.index(b"PK\x03\x04") + 22, smaller.index(b"PK\x01\x02") + 24):
        struct.pack_into("<L", smaller, at, size - 5)
    _refused(bytes(smaller), "'r/000001' is not the size it claims")


def test_a_member_past_4_gib_is_found_through_zip64(tmp_path: Path) -> None:
    gap = (1 << 32) + 4096  # a sparse hole: no disk space, and no member describes it
    path = tmp_path / "far.zip"
    with open(path, "wb") as out:
        out.seek(gap)
        writer = ZipWriter(out)
        writer._pos = gap
        writer.add("r/000001", b"far away " * 100)
        writer.close()
    with zipfile.ZipFile(path) as z:
        assert z.getinfo("r/000001").header_offset == gap
        assert z.read("r/000001") == b"far away " * 100
    with open(path, "rb") as handle:
        size = path.stat().st_size
        directory = read_directory(handle, size, lambda _: ZipLimits(), Numbered(), "far.zip")
        assert contents(directory, ["r/000001"]) == {"r/000001": b"far away " * 100}


def test_any_damage_is_a_refusal_never_another_error() -> None:
    """Bytes flipped anywhere in a small zip64 zip (the node takes packages from the network):
    read whole, or refused as unsafe; nothing else escapes."""
    buffer = io.BytesIO()
    writer = ZipWriter(buffer)
    writer.add("r/000001", b"receipt " * 40)
    with writer.stream("events.jsonl") as sink:
        sink.write(b"{}\n" * 30)
    writer.close()
    good = buffer.getvalue()
    rng = random.Random(19)
    for _ in range(3000):
        damaged = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            directory = opened(bytes(damaged))
            contents(directory, [*directory.others, *directory.keyed_names()])
        except UnsafeArchive:
            pass


def _outcome(
    read: Callable[[ZipDirectory, Entry], bytes], d: ZipDirectory, e: Entry
) -> bytes | str:
    try:
        return read(d, e)
    except UnsafeArchive as exc:
        return str(exc)


def _streamed(directory: ZipDirectory, entry: Entry) -> bytes:
    with directory.open(entry) as member:
        return member.read(entry.file_size + 1)


def test_a_small_member_read_whole_is_what_the_stream_gives() -> None:
    """ZipDirectory.read takes a small member in one read and one inflate
    (zip_member.read_whole); the streamed reader is the reference: the same bytes, or the same
    refusal, for every damage of the members' headers and data, stored and deflated."""
    rng = random.Random(4)
    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        good = _zip({"r/000001": b"receipt " * 40, "r/000002": bytes(range(256))}, method)
        compared = 0
        for _ in range(1500):
            damaged = bytearray(good)
            damaged[rng.randrange(damaged.index(b"PK\x01\x02"))] = rng.randrange(256)
            try:
                directory = opened(bytes(damaged))
            except UnsafeArchive:
                continue
            for entry in map(directory.find, directory.keyed_names()):
                assert entry is not None
                whole = _outcome(ZipDirectory.read, directory, entry)
                assert whole == _outcome(_streamed, directory, entry), entry
                compared += 1
        assert compared > 1000  # most damages leave the directory readable


def test_a_large_member_is_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(5000)
    directory = opened(_zip({"r/000001": data}, zipfile.ZIP_DEFLATED))
    entry = directory.find("r/000001")
    assert entry is not None
    with pytest.raises(ValueError, match="too large to be read whole"):
        read_whole(directory.handle, 0, entry._replace(file_size=WHOLE_READ_LIMIT + 1), "p")
    monkeypatch.setattr(zip_directory, "WHOLE_READ_LIMIT", 100)
    monkeypatch.setattr(zip_directory, "read_whole", None)  # would fail if called
    assert directory.read(entry) == data
