"""``SIGTERM`` handled like ``Ctrl-C``: an exception in the main thread, so clean-up runs.

A service manager, a job scheduler or an operator stops a long command (``issue --batch``) with
``SIGTERM``. Left to the default action, the process would die wherever it was: the database
rolls the open transaction back, but nothing else is cleaned up. Under :func:`sigterm_raises`
the signal raises :class:`Terminated` in the main thread instead, the same way ``SIGINT`` raises
:class:`KeyboardInterrupt`, so every ``with`` and ``finally`` on the way out runs: the open
transaction rolls back, worker pools shut down, and the command can say what was kept.

A second ``SIGTERM`` while that clean-up runs takes the previous action (by default: the process
dies at once), so a stuck clean-up can still be stopped.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from receipts.errors import ReceiptError

__all__ = ["TERMINATED_EXIT", "CommandTerminated", "Terminated", "sigterm_raises"]

#: Exit status of a command stopped by SIGTERM: 128 + 15, what a shell reports for a process
#: that the signal killed, so supervisors read it as "terminated on request" either way.
TERMINATED_EXIT = 128 + signal.SIGTERM.value


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived. A :class:`KeyboardInterrupt`, so code that lets interrupts through
    (``except Exception`` never catches them) treats both alike."""


class CommandTerminated(ReceiptError):
    """A command stopped by SIGTERM, once it has cleaned up: the CLI's one-line report of what
    was kept, with exit status :data:`TERMINATED_EXIT`."""

    exit_code = TERMINATED_EXIT


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread.

    Signal handlers can only be set from the main thread; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    restore = signal.SIG_DFL if previous is None else previous

    def handler(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        signal.signal(signal.SIGTERM, restore)
        raise Terminated

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, restore)
