"""The one atomic file writer: content, mode whatever the umask, no overwrite when asked, and an
interrupted write leaves the old file and no temporary file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from receipts.support.atomic import PRIVATE, PUBLIC, atomic_writer, write_atomic


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask after a test changes it (reading it means setting it)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_writes_the_content_and_creates_the_folder(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "folder" / "out.bin"
    assert write_atomic(target, b"\x00first\xff") == target
    assert target.read_bytes() == b"\x00first\xff"
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert _names(target.parent) == ["out.bin"]


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077])
def test_modes_do_not_depend_on_the_umask(tmp_path: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    write_atomic(tmp_path / "key.pem", b"secret", mode=PRIVATE)
    write_atomic(tmp_path / "cert.pem", b"public")
    assert _mode(tmp_path / "key.pem") == 0o600
    assert _mode(tmp_path / "cert.pem") == PUBLIC == 0o644


def test_an_overwritten_file_takes_the_new_mode(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")
    target.chmod(0o666)
    write_atomic(target, b"new", mode=PRIVATE)
    assert _mode(target) == 0o600 and target.read_bytes() == b"new"


def test_no_overwrite_refuses_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "ca.key"
    target.write_bytes(b"the only CA key")
    with pytest.raises(FileExistsError, match="exists already; refusing to overwrite it"):
        write_atomic(target, b"another key", mode=PRIVATE, overwrite=False)
    assert target.read_bytes() == b"the only CA key"
    assert _names(tmp_path) == ["ca.key"]


def test_no_overwrite_refuses_a_file_that_appears_while_writing(tmp_path: Path) -> None:
    # The early existence check passed; the final link must still not clobber the newcomer.
    target = tmp_path / "ca.key"
    with (
        pytest.raises(FileExistsError),
        atomic_writer(target, mode=PRIVATE, overwrite=False) as handle,
    ):
        handle.write(b"ours")
        target.write_bytes(b"theirs")
    assert target.read_bytes() == b"theirs"
    assert _names(tmp_path) == ["ca.key"]


def test_no_overwrite_writes_a_new_file(tmp_path: Path) -> None:
    target = tmp_path / "new.key"
    write_atomic(target, b"key", mode=PRIVATE, overwrite=False)
    assert target.read_bytes() == b"key" and _mode(target) == 0o600
    assert _names(tmp_path) == ["new.key"]


def test_an_exception_inside_the_writer_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_bytes(b"old report")
    with pytest.raises(RuntimeError, match="disk full"), atomic_writer(target) as handle:
        handle.write(b"half a new rep")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old report"
    assert _names(tmp_path) == ["report.csv"]


def test_an_exception_before_any_file_existed_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_writer(tmp_path / "out.pdf") as handle:
        handle.write(b"%PDF-")
        raise KeyboardInterrupt
    assert _names(tmp_path) == []


def test_the_handle_streams_in_pieces(tmp_path: Path) -> None:
    target = tmp_path / "stream.txt"
    with atomic_writer(target) as handle:
        for n in range(1000):
            handle.write(f"{n}\n".encode())
        assert not target.exists()  # nothing is visible before the block ends
    assert target.read_text().splitlines()[-1] == "999"


@pytest.mark.parametrize(("durable", "syncs"), [(True, 2), (False, 0)])
def test_durable_writes_sync_the_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool, syncs: int
) -> None:
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    target = write_atomic(tmp_path / "r.pdf", b"%PDF", durable=durable)
    assert target.read_bytes() == b"%PDF"
    assert len(calls) == syncs
