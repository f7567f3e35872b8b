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

Every worker dies with the process that started the pool (docs/security.md): a signing worker
holds the decrypted key, and one left running after its parent was killed (``kill -9``, or a
``SIGTERM`` that nothing handled) would keep it in memory with nobody to stop it. Each worker,
before its own initializer runs, watches the pipe multiprocessing keeps open from its parent
(``parent_process().sentinel``) from a daemon thread and exits when it closes, on every
platform and start method; on Linux it also asks the kernel for ``SIGKILL`` when its parent dies
(``prctl(PR_SET_PDEATHSIG)``), which acts at once, even while the worker is busy in C code.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from itertools import islice
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from receipts.errors import InvalidInput

__all__ = [
    "ORPHANED_EXIT",
    "START_METHOD_ENV",
    "die_with_parent",
    "map_chunks",
    "pool_context",
    "process_pool",
    "start_method",
    "take_chunk",
]

#: Environment variable that forces a start method (``fork``, ``forkserver`` or ``spawn``).
START_METHOD_ENV = "RECEIPTS_START_METHOD"
#: Exit status of a worker that found its parent gone (when not killed by the kernel first).
ORPHANED_EXIT = 70
# prctl(2) option: the signal this process gets when the thread that forked it exits.
_PR_SET_PDEATHSIG = 1

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
    modules = [*preload, __name__, *([initializer.__module__] if initializer is not None else [])]
    context = pool_context(modules)
    forked_by_server = context.get_start_method() == "forkserver"
    # The kernel's parent-death signal follows the *thread* that forked the worker: the fork
    # server's only thread, or here the thread starting the pool, which must then be the main
    # thread (another thread may end while the pool lives on, and would take the workers with
    # it). Elsewhere the pipe alone does the work.
    by_kernel = forked_by_server or threading.current_thread() is threading.main_thread()
    # A worker's parent is this process, except that the fork server forks those of its method.
    parent = None if forked_by_server else os.getpid()
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(parent, by_kernel, initializer, initargs),
    )


def _start_worker(
    parent: int | None,
    by_kernel: bool,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
) -> None:
    die_with_parent(parent, by_kernel=by_kernel)
    if initializer is not None:
        initializer(*initargs)


def die_with_parent(parent: int | None = None, *, by_kernel: bool = True) -> None:
    """Make this worker process exit when the process that started it does (see above).

    ``parent`` is the pid this process was forked by, when known (not for workers of the fork
    server): a parent that died before the kernel was asked for the signal is caught by
    comparing it with :func:`os.getppid`. ``by_kernel`` asks for the parent-death signal (on
    Linux). Does nothing in a process that multiprocessing did not start.
    """
    origin = multiprocessing.parent_process()
    if origin is None:
        return
    if by_kernel:
        _parent_death_signal()
    # After the request, not before: a parent that died in between would never be signalled.
    if (parent is not None and os.getppid() != parent) or not origin.is_alive():
        os._exit(ORPHANED_EXIT)
    threading.Thread(
        target=_exit_when_closed, args=(origin.sentinel,), name="die-with-parent", daemon=True
    ).start()


def _exit_when_closed(sentinel: int) -> None:
    # The parent holds the other end of this pipe until it exits, however it exits. A worker
    # forked later by the same parent inherits that end too, so under ``fork`` the pipe may
    # close only once that younger sibling has gone: it watches its own pipe, which closes.
    multiprocessing.connection.wait([sentinel])
    os._exit(ORPHANED_EXIT)


def _parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent exits; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return bool(prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0)


def _threads() -> int:
    try:
        native = len(os.listdir("/proc/self/task"))
    except OSError:
        native = 0
    return max(native, threading.active_count())


_In = TypeVar("_In")
_Out = TypeVar("_Out")


def map_chunks(
    pool: Executor,
    func: Callable[[list[_In]], list[_Out]],
    items: Iterable[_In],
    chunk: int,
    in_flight: int,
    *,
    size: Callable[[_In], int] | None = None,
    max_bytes: int = 0,
) -> Iterator[_Out]:
    """``func`` over ``items`` in chunks of ``chunk`` on ``pool``, results in input order, with
    at most ``in_flight`` chunks submitted at a time: memory stays bounded however many items
    there are, and the workers never wait for the consumer's next submission. With ``size``, a
    chunk also ends once its items' sizes reach ``max_bytes`` (items whose size an outsider
    chooses: a count alone bounds nothing)."""
    source = iter(items)
    pending: deque[Future[list[_Out]]] = deque()
    while True:
        while len(pending) < in_flight:
            batch = take_chunk(source, chunk, size, max_bytes)
            if not batch:
                break
            pending.append(pool.submit(func, batch))
        if not pending:
            return
        yield from pending.popleft().result()


def take_chunk(
    source: Iterator[_In], chunk: int, size: Callable[[_In], int] | None = None, max_bytes: int = 0
) -> list[_In]:
    """The next ``chunk`` items of ``source``, fewer once their ``size`` reaches ``max_bytes``
    (with ``size``; at least one item); empty when ``source`` is done."""
    if size is None:
        return list(islice(source, chunk))
    batch: list[_In] = []
    total = 0
    for item in source:
        batch.append(item)
        total += size(item)
        if len(batch) >= chunk or total >= max_bytes:
            break
    return batch
