"""Worker processes: one start-method policy for every pool the product runs.

Signing a batch, verifying many files and rendering many PDFs each spread work over worker
processes. How a worker process starts matters for speed and for safety, so one policy decides:

- **fork** when this process has exactly one thread. Starting a worker costs a millisecond, and it
  inherits what is already loaded (libraries, fonts, caches). It is safe then: a lock is held
  only by a thread that is running, and with one thread none is running but the one forking.
- **forkserver** as soon as there is any other thread (a database pool, a progress reporter,
  a test runner's I/O thread, or a C library's own). ``fork`` copies every lock in the state it
  is in, and a lock held by a thread that does not exist in the child is never released: the
  child deadlocks. The fork server is a fresh single-threaded process started once (about a
  third of a second); workers fork from it, so they are safe, and it imports the modules the
  workers need once (``preload``) rather than each worker importing them.
- **spawn** only where neither exists (Windows), or when an operator forces a method with
  ``RECEIPTS_START_METHOD`` (``fork``, ``forkserver`` or ``spawn``), e.g. because a native
  library in a deployment is known not to survive a fork. spawn starts a whole interpreter per
  worker and re-imports everything: the slowest, and never needed on Linux.

On macOS ``fork`` is skipped even with one thread: its system libraries are not fork-safe, the
reason CPython itself defaults to spawn there.

Threads are counted by the kernel (``/proc/self/task``) where it tells, because a thread a C
library started is as dangerous as a Python one and :mod:`threading` does not see it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

from receipts.errors import InvalidInput

__all__ = ["START_METHOD_ENV", "pool_context", "process_pool", "start_method"]

#: Environment variable that forces a start method (``fork``, ``forkserver`` or ``spawn``).
START_METHOD_ENV = "RECEIPTS_START_METHOD"

# Modules the fork server imports when it starts. It starts once per process and keeps the list
# it started with, so every pool's modules are gathered here and handed over each time.
_preload: set[str] = set()


def start_method(environ: Mapping[str, str] | None = None) -> str:
    """The start method for a pool started now, by the policy above."""
    env = os.environ if environ is None else environ
    available = multiprocessing.get_all_start_methods()
    forced = env.get(START_METHOD_ENV, "").strip()
    if forced:
        if forced not in available:
            raise InvalidInput(
                f"{START_METHOD_ENV}={forced!r} is not a start method of this platform "
                f"({', '.join(available)})"
            )
        return forced
    if "fork" in available and sys.platform != "darwin" and _threads() == 1:
        return "fork"
    if "forkserver" in available:
        return "forkserver"
    return "spawn"


def pool_context(preload: Iterable[str] = ()) -> BaseContext:
    """The multiprocessing context for a pool started now; ``preload`` names modules the
    workers need, imported once by the fork server if that is the method chosen."""
    method = start_method()
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        _preload.update(preload)
        context.set_forkserver_preload(sorted(_preload))
    return context


def process_pool(
    workers: int,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
    *,
    preload: Iterable[str] = (),
) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes started by the policy, each running ``initializer``
    (``initargs``) first; the initializer's module is preloaded with ``preload``.

    ``initargs`` reach the workers by pickling when they do not fork from this process, so
    they must be plain data (bytes, strings), never open files, locks or loaded keys.
    """
    modules = [*preload, *([initializer.__module__] if initializer is not None else [])]
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=pool_context(modules),
        initializer=initializer,
        initargs=initargs,
    )


def _threads() -> int:
    try:
        native = len(os.listdir("/proc/self/task"))
    except OSError:
        native = 0
    return max(native, threading.active_count())
