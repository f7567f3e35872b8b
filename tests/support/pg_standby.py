"""A real PostgreSQL hot standby of the test server, on another loopback port (issue 19, item 3).

``pg_basebackup -R`` copies the running cluster named by ``RECEIPTS_TEST_PG_URL`` and writes its
``primary_conninfo``; the copy is started with ``pg_ctl`` as the ``postgres`` user (the server
refuses to run as root) on a free port, streams WAL from the primary, and is stopped and deleted
afterwards. The primary must accept replication connections from 127.0.0.1 (``.ci/run`` adds the
``pg_hba.conf`` line when it is missing); otherwise the test skips, or fails under CI.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.skips import skip_or_fail

__all__ = ["hot_standby"]


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found is not None:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    skip_or_fail(f"{name} not found: install PostgreSQL's server package (Debian: postgresql)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _as_postgres(*command: str) -> list[str]:
    """``command`` as the postgres user when we are root (the server will not run as root)."""
    if getpass.getuser() == "root":
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


def _run(command: list[str], what: str) -> None:
    run = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    if run.returncode != 0:
        message = (run.stderr or run.stdout).strip().splitlines()
        skip_or_fail(f"{what} failed: {message[-1] if message else run.returncode}")


@contextmanager
def hot_standby(primary_url: str) -> Iterator[str]:
    """A hot standby of the server of ``primary_url``; yields the standby's URL (same database,
    user and options, another port)."""
    url = make_url(primary_url)
    folder = Path(tempfile.mkdtemp(prefix="receipts-standby-"))
    data = folder / "data"
    port = _free_port()
    if getpass.getuser() == "root":
        shutil.chown(folder, "postgres", "postgres")
    os.chmod(folder, 0o700)
    started = False
    try:
        _run(
            _as_postgres(
                _bin("pg_basebackup"),
                "-h", url.host or "127.0.0.1",
                "-p", str(url.port or 5432),
                "-U", url.username or "postgres",
                "-D", str(data),
                "-R", "-X", "stream", "-c", "fast",
            ),
            "pg_basebackup (does pg_hba.conf allow replication from 127.0.0.1?)",
        )  # fmt: skip
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder}"
            " -c hot_standby=on"
        )
        _make_config(data)
        _run(
            _as_postgres(_bin("pg_ctl"), "-D", str(data), "-o", options, "-w", "-t", "60",
                         "-l", str(folder / "log"), "start"),
            "starting the standby",
        )  # fmt: skip
        started = True
        standby_url = url.set(port=port).render_as_string(hide_password=False)
        _wait_in_recovery(standby_url)
        yield standby_url
    finally:
        if started:
            subprocess.run(
                _as_postgres(_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(folder, ignore_errors=True)


def _make_config(data: Path) -> None:
    """The copy has the primary's pg_hba.conf and settings but none of Debian's /etc files: a
    minimal postgresql.conf of its own (the base backup wrote postgresql.auto.conf with the
    primary_conninfo, which PostgreSQL reads after it)."""
    config = data / "postgresql.conf"
    if not config.exists():
        config.write_text("hot_standby = on\n", encoding="utf-8")
    hba = data / "pg_hba.conf"
    if not hba.exists():
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n", encoding="utf-8")
    ident = data / "pg_ident.conf"
    if not ident.exists():
        ident.write_text("", encoding="utf-8")
    if getpass.getuser() == "root":
        for path in (config, hba, ident):
            shutil.chown(path, "postgres", "postgres")


def _wait_in_recovery(url: str) -> None:
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with engine.connect() as connection:
                    if connection.execute(text("SELECT pg_is_in_recovery()")).scalar():
                        return
            except Exception:
                pass
            if time.monotonic() > deadline:
                skip_or_fail("the standby did not come up in recovery within 60 s")
            time.sleep(0.2)
    finally:
        engine.dispose()
