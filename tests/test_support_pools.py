"""The one start-method policy: fork with one thread, the fork server with more, spawn only
when forced (or where nothing else exists); pools run their initializer under it."""

from __future__ import annotations

import _thread
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from receipts.errors import InvalidInput
from receipts.support import pools
from receipts.support.pools import START_METHOD_ENV, pool_context, process_pool, start_method

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
    before = pools._threads()
    release = _thread.allocate_lock()
    release.acquire()
    started = _thread.allocate_lock()
    started.acquire()

    def hold() -> None:
        started.release()
        release.acquire()

    _thread.start_new_thread(hold, ())
    started.acquire()
    try:
        assert pools._threads() == before + 1
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
