"""The one start-method policy: fork with one thread, the fork server with more, spawn only
when forced (or where nothing else exists); pools run their initializer under it."""

from __future__ import annotations

import _thread
import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from receipts.errors import InvalidInput
from receipts.support import pools
from receipts.support.pools import (
    ORPHANED_EXIT,
    START_METHOD_ENV,
    die_with_parent,
    map_chunks,
    pool_context,
    process_pool,
    start_method,
    take_chunk,
)
from tests.support.processes import alive, descendants, kill_all, linux_proc, wait_until

linux_only = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="threads are counted by /proc on Linux"
)


@pytest.fixture
def another_thread() -> Iterator[None]:
    """A Python thread alive for the duration of the test."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.fixture(autouse=True)
def no_forced_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(START_METHOD_ENV, raising=False)


def test_fork_with_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pools, "_threads", lambda: 1)
    monkeypatch.setattr(sys, "platform", "linux")
    assert start_method() == "fork"
    assert pool_context().get_start_method() == "fork"


def test_fork_server_when_another_thread_runs(another_thread: None) -> None:
    assert pools._threads() >= 2
    assert start_method() == "forkserver"
    assert pool_context(["signing.batch"]).get_start_method() == "forkserver"


@linux_only
def test_a_thread_threading_does_not_see_counts_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # A C library's thread is as dangerous to fork as a Python one; the kernel sees both.
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    release = _thread.allocate_lock()
    release.acquire()
    started = _thread.allocate_lock()
    started.acquire()
    native_ids: list[int] = []

    def hold() -> None:
        native_ids.append(threading.get_native_id())
        started.release()
        release.acquire()

    _thread.start_new_thread(hold, ())
    started.acquire()
    try:
        # Checked against the kernel's own list, not a count taken before: a thread an earlier
        # test joined may still be listed for a moment (join returns just before it ends), and
        # a test runner may run native threads of its own.
        assert str(native_ids[0]) in os.listdir("/proc/self/task")
        assert pools._threads() >= 2
        assert start_method() == "forkserver"
    finally:
        release.release()


def test_no_fork_on_macos_even_with_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pools, "_threads", lambda: 1)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert start_method() == "forkserver"


def test_spawn_only_where_nothing_else_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setattr(pools, "_threads", lambda: 1)
    assert start_method() == "spawn"


def test_an_operator_can_force_a_method() -> None:
    assert start_method({START_METHOD_ENV: "spawn"}) == "spawn"
    assert start_method({START_METHOD_ENV: " fork "}) == "fork"
    with pytest.raises(InvalidInput, match=rf"^{START_METHOD_ENV}='vfork' is not a start method"):
        start_method({START_METHOD_ENV: "vfork"})


_worker_value: str | None = None


def _remember(value: str) -> None:
    global _worker_value
    _worker_value = value


def _report(_: int) -> tuple[str | None, int]:
    return _worker_value, os.getpid()


@pytest.mark.parametrize("forced", [None, "fork", "forkserver"])
def test_pool_runs_the_initializer_in_each_worker(
    monkeypatch: pytest.MonkeyPatch, another_thread: None, forced: str | None
) -> None:
    # With a thread running and nothing forced, the policy picks the fork server.
    if forced is not None:
        monkeypatch.setenv(START_METHOD_ENV, forced)
    with process_pool(2, _remember, ("initialised",)) as pool:
        answers = list(pool.map(_report, range(8)))
    assert {value for value, _ in answers} == {"initialised"}
    assert os.getpid() not in {pid for _, pid in answers}


# A parent that starts a pool, makes sure both workers have started (each answered once), prints
# their pids and waits to be killed, its workers asleep.
_PARENT = """
import os, sys, time
from receipts.support.pools import process_pool
pool = process_pool(2)
first = [pool.submit(time.sleep, 0.5) for _ in range(2)]
pids = {pool.submit(os.getpid).result() for _ in range(8)}
naps = [pool.submit(time.sleep, 120) for _ in range(2)]
print(*sorted(pool._processes), flush=True)
time.sleep(120)
"""


def _start_parent(method: str) -> subprocess.Popen[str]:
    env = {**os.environ, START_METHOD_ENV: method}
    return subprocess.Popen(
        [sys.executable, "-c", _PARENT],
        cwd=Path(__file__).parents[1],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


@linux_proc
@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_workers_die_with_their_parent(method: str) -> None:
    # A killed parent runs no clean-up: its workers (holding a signing key, in a signing pool)
    # must go by themselves, whichever way they were started.
    parent = _start_parent(method)
    below: set[int] = set()
    try:
        assert parent.stdout is not None
        workers = {int(pid) for pid in parent.stdout.readline().split()}
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
        below = descendants(parent.pid)  # the workers, and the fork server and its helper
        assert workers <= below
        parent.kill()
        parent.wait(10)
        wait_until(lambda: not any(alive(pid) for pid in below), 10, f"{below} gone")
    finally:
        parent.kill()
        parent.wait(10)
        kill_all(below)  # a failed test leaves no sleeping worker behind


def _orphan_check(parent: int) -> None:
    die_with_parent(parent)
    os._exit(0)


@linux_proc
def test_a_worker_whose_parent_died_before_it_watched_exits() -> None:
    # The parent died between the fork and the request for its death signal: the worker sees
    # another parent (the reaper it was handed to) and leaves at once.
    child = multiprocessing.get_context("fork").Process(target=_orphan_check, args=(1,))
    child.start()
    child.join(10)
    assert child.exitcode == ORPHANED_EXIT


def test_outside_a_worker_nothing_changes() -> None:
    threads = threading.active_count()
    die_with_parent(os.getpid())
    assert threading.active_count() == threads


def test_map_chunks_keeps_order_and_reads_ahead_only_so_far() -> None:
    consumed: list[int] = []

    def source() -> Iterator[int]:
        for n in range(100):
            consumed.append(n)
            yield n

    def double(chunk: list[int]) -> list[int]:
        return [2 * n for n in chunk]

    with ThreadPoolExecutor(2) as pool:
        results = map_chunks(pool, double, source(), 7, 2)
        assert next(results) == 0
        assert len(consumed) <= 7 * 2  # two chunks in flight, no more
        assert [0, *results] == [2 * n for n in range(100)]


def test_a_chunk_ends_at_its_byte_budget_too() -> None:
    """Items an outsider sizes (receipt members of up to 1,000,000 bytes each) are chunked by
    bytes as well as by count, so what is in flight is bounded in bytes."""
    items = [b"x" * 4] * 10 + [b"y" * 100] + [b"z"] * 3
    sizes: list[int] = []

    def lengths(chunk: list[bytes]) -> list[int]:
        sizes.append(sum(map(len, chunk)))
        return [len(item) for item in chunk]

    with ThreadPoolExecutor(2) as pool:
        results = list(map_chunks(pool, lengths, iter(items), 5, 2, size=len, max_bytes=10))
    assert results == [len(item) for item in items]  # every item, in order
    # 4+4+4 reaches 10; the 100-byte item is a chunk of its own; the count still ends one.
    assert sizes == [12, 12, 12, 4 + 100, 3]
    assert take_chunk(iter([b"a" * 50]), 5, len, 10) == [b"a" * 50]  # never empty
    assert take_chunk(iter([]), 5, len, 10) == []
    assert take_chunk(iter(range(9)), 4) == [0, 1, 2, 3]
