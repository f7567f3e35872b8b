"""The demo's local mailbox: an SMTP server on a free loopback port that keeps every message it
accepts in a Maildir folder (aiosmtpd, the SMTP server the delivery tests run too)."""

from __future__ import annotations

import mailbox
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["local_mailbox"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def local_mailbox(folder: Path) -> Iterator[tuple[int, Callable[[], int]]]:
    """Serve SMTP on loopback into the Maildir ``folder``; yields the port and a function that
    counts the messages received so far. Stopped on leaving."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    port = _free_port()
    controller = Controller(Mailbox(folder), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, lambda: len(mailbox.Maildir(str(folder), create=False))
    finally:
        controller.stop()
