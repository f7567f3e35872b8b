"""The tokens this tier's authority makes before an import, kept on disk until the check takes
them in the listing's order (receipts/transmission/stamped_here.py)."""

from __future__ import annotations

import os
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receipts.transmission.stamped_here import StampedHere


def _name(i: int) -> str:
    return f"receipts/64010026-{i:010d}.xml"


@given(st.lists(st.booleans(), max_size=60), st.integers(min_value=1, max_value=4096))
def test_each_receipt_stamped_here_gets_its_own_token(
    stamped: list[bool], spool_bytes: int
) -> None:
    tokens = StampedHere(spool_bytes)
    made = {_name(i): os.urandom(1 + i % 7) for i, s in enumerate(stamped) if s}
    for name, token in made.items():
        tokens.add(name, token)
    assert len(tokens) == len(made)
    # The check walks every listed receipt; it asks only for those that came unstamped.
    got = {_name(i): tokens.take(_name(i)) for i in range(len(stamped))}
    assert {name: token for name, token in got.items() if token is not None} == made
    assert len(tokens) == 0
    tokens.close()


def test_a_token_is_not_given_out_of_order() -> None:
    tokens = StampedHere()
    tokens.add(_name(1), b"one")
    tokens.add(_name(2), b"two")
    assert tokens.take(_name(2)) is None  # receipt 1's token comes first
    assert tokens.take(_name(1)) == b"one"
    assert tokens.take(_name(1)) is None  # taken once
    assert len(tokens) == 1  # receipt 2's token is left: ListingCheck.finish refuses that
    with pytest.raises(RuntimeError):
        tokens.add(_name(3), b"three")


def test_tokens_wait_on_disk_not_in_memory() -> None:
    token = os.urandom(3000)  # about a real RFC 3161 token
    tracemalloc.start()
    try:
        tokens = StampedHere(spool_bytes=64 * 1024)
        for i in range(2000):
            tokens.add(_name(i), token)
        for i in range(2000):
            assert tokens.take(_name(i)) == token
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    tokens.close()
    # A dict of them held 2000 x 3 KB = 6 MB.
    assert peak < 512 * 1024, peak
