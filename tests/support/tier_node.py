"""Two tiers online for the tier API's tests: 宁夏 (640000) serving its node, 银川 (640100) and
兴庆区 (640104) registered as its children, each with stock; the node served by uvicorn in a
thread of the test process or in a subprocess (for the fault tests that kill it).

``Tiers.db`` puts every ledger on PostgreSQL (one schema each) when given; otherwise each
workspace keeps its SQLite file.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import uvicorn
from click.testing import Result
from fastapi import FastAPI

from receipts.ledger.database import Database, default_url
from receipts.node.app import create_app
from receipts.node.config import load_serve_config
from receipts.node.state import DB_ENV, HOME_ENV, NodeState
from receipts.workspace import Workspace
from tests.support.workspaces import ENV, federation, receipts

__all__ = [
    "ISSUE",
    "Tiers",
    "free_port",
    "node_app",
    "register",
    "serve_process",
    "serve_thread",
    "tiers",
]

ISSUE = [
    "issue",
    "--payer-kind",
    "enterprise",
    "--payer-uscc",
    "91640100MA7600001J",
    "--handler",
    "张晓梅",
    "--reviewer",
    "李建国",
]


@dataclass
class Tiers:
    """The workspaces, by org code, and their ledger URLs (None: SQLite file)."""

    homes: dict[str, Path]
    dbs: dict[str, str | None] = field(default_factory=dict)

    def run(self, org: str, *args: str) -> Result:
        """``receipts ARGS`` in ``org``'s workspace."""
        return receipts(self.homes[org], *args, db=self.dbs.get(org))

    def ok(self, org: str, *args: str) -> str:
        """A command that must succeed; its output."""
        result = self.run(org, *args)
        assert result.exit_code == 0, f"{org} {args}: {result.output}"
        return result.stdout

    def issue(self, org: str, payer: str, amount: str) -> None:
        """Issue one receipt."""
        self.ok(org, *ISSUE, "--payer-name", payer, "--item", f"01:2026-10:{amount}")

    def database(self, org: str) -> Database:
        """``org``'s ledger (the caller disposes of it)."""
        return Database(self.dbs.get(org) or default_url(self.homes[org]))

    def configure_upstream(self, org: str, url: str, timeout: float = 20) -> None:
        """Point ``org``'s ``[upstream]`` at ``url``."""
        config = self.homes[org] / "receipts.toml"
        text = config.read_text("utf-8")
        config.write_text(text + f'\n[upstream]\nurl = "{url}"\ntimeout = {timeout}\n', "utf-8")


def tiers(
    tmp: Path,
    dbs: Mapping[str, str | None] | None = None,
    registered: tuple[str, ...] = ("640100", "640104"),
) -> Tiers:
    """The province and its two children; the ``registered`` ones are in the province's
    registry (``org add``) and hold stock from it, the other knows nothing yet."""
    t = Tiers({org: tmp / org for org in ("640000", "640100", "640104")}, dict(dbs or {}))
    for home in t.homes.values():
        federation(home, home.name)
    for child in registered:
        register(t, child, tmp)
    return t


def register(t: Tiers, child: str, tmp: Path) -> None:
    """Register ``child`` at the province and give it 50 numbers."""
    t.ok("640000", "org", "add", "--code", child)
    alloc = tmp / f"alloc-{child}.xml"
    t.ok("640000", "stock", "allocate", "--to", child, "--count", "50", "-o", str(alloc))
    t.ok(child, "stock", "import", str(alloc))


def node_app(home: Path, db: str | None = None) -> FastAPI:
    """The node's app over ``home``, its access log in a file (not the test's standard output)."""
    workspace = Workspace.open(home)
    config = replace(load_serve_config(workspace), access_log=str(home / "logs" / "access.log"))
    return create_app(NodeState.open(home, db, config))


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_healthy(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"the node at {url} did not start")


@contextlib.contextmanager
def serve_thread(home: Path, db: str | None = None, port: int | None = None) -> Iterator[str]:
    """Serve ``home``'s node in a thread (on ``port``, else a free one); its base URL. The node
    reads its key's passphrase from the environment: set for the server's life, then put back,
    so that no later test in the process finds it set (tests/test_workspace_cli.py relies on
    its absence)."""
    saved = os.environ.get("RECEIPTS_KEY_PASSPHRASE")
    os.environ.setdefault("RECEIPTS_KEY_PASSPHRASE", ENV["RECEIPTS_KEY_PASSPHRASE"])
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(node_app(home, db), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        if saved is None:
            os.environ.pop("RECEIPTS_KEY_PASSPHRASE", None)


_SERVER = """
import sys, uvicorn
from pathlib import Path
from tests.support.tier_node import node_app
home, db, port = Path(sys.argv[1]), sys.argv[2] or None, int(sys.argv[3])
uvicorn.run(node_app(home, db), host="127.0.0.1", port=port, log_level="warning")
"""


@contextlib.contextmanager
def serve_process(
    home: Path, db: str | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Serve ``home``'s node in a subprocess (uvicorn, one worker); the process and its URL.
    The caller may kill it; it is killed at the end in any case."""
    port = free_port()
    env = {**os.environ, **ENV, HOME_ENV: str(home), DB_ENV: db or ""}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(home), db or "", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def package_of(t: Tiers, org: str, recipient: str = "640000") -> bytes:
    """``org``'s pending transmission package to ``recipient``, as ``transmit export`` builds it."""
    from receipts.transmission.export import export_package
    from tests.support.tier_pki import tier_pki

    db = t.database(org)
    try:
        package, _ = export_package(db, tier_pki().signers[org], recipient)
    finally:
        db.dispose()
    return package


def receipt_count(t: Tiers, org: str) -> int:
    """The receipts ``org``'s ledger holds."""
    from sqlalchemy import func, select

    from receipts.ledger.models import ReceiptRow

    db = t.database(org)
    try:
        with db.read() as session:
            return int(session.scalar(select(func.count()).select_from(ReceiptRow)) or 0)
    finally:
        db.dispose()
