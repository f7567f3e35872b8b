"""The receipts a sender's events carry, kept on disk in sorted runs and read back merged in
(code, number) order (receipts.transmission.carried_receipts): the order and the sharings
whatever the runs, a receipt carried twice refused naming both events, malformed events
refused, and memory that does not grow with the receipts."""

from __future__ import annotations

import hashlib
import tracemalloc
from datetime import date
from types import SimpleNamespace
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receipts.domain.sharing import PayerSituation
from receipts.transmission.carried_receipts import Carried, CarriedReceipts
from receipts.transmission.package import ListedReceipt, Manifest, RefusedPackage
from receipts.transmission.received_fragment import Fragment
from receipts.transmission.received_receipts import ListingCheck
from receipts.transmission.stamped_here import StampedHere
from signing.trust import ChainValidator

_SHARINGS = [
    None,
    (PayerSituation.ENTERPRISE_FULL, date(2026, 3, 1)),
    (PayerSituation.GRASSROOTS_REMITS, date(2026, 3, 2)),
]


def _digest(code: str, number: int) -> str:
    return hashlib.sha256(f"{code}-{number}".encode()).hexdigest()


_RECEIPTS = st.lists(
    st.tuples(
        st.sampled_from(["64710126", "64710125", "64010126", "11710126"]),
        st.integers(1, 10**10 - 1),
        st.sampled_from(range(len(_SHARINGS))),
    ),
    max_size=60,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(max_examples=60)
@given(_RECEIPTS, st.integers(1, 9))
def test_read_back_in_code_and_number_order(receipts: list[tuple[str, int, int]], run: int) -> None:
    carried = CarriedReceipts(run=run)
    expected = []
    for seq, (code, number, sharing) in enumerate(receipts, 1):
        carried.add(code, number, _digest(code, number), _SHARINGS[sharing], seq)
        expected.append(Carried(code, number, _digest(code, number), _SHARINGS[sharing], seq))
    assert len(carried) == len(receipts)
    assert list(carried.in_order("p.zip")) == sorted(expected, key=lambda c: (c.code, c.number))
    carried.close()


@pytest.mark.parametrize("run", [1, 2, 100])
def test_a_receipt_carried_twice_is_refused_naming_both_events(run: int) -> None:
    carried = CarriedReceipts(run=run)
    carried.add("64710126", 7, _digest("64710126", 7), None, 3)
    carried.add("64710126", 8, _digest("64710126", 8), None, 4)
    carried.add("64710126", 7, "0" * 64, None, 9)  # the same receipt, whatever its digest
    with pytest.raises(RefusedPackage, match=r"p\.zip: events 3 and 9 carry receipt "):
        list(carried.in_order("p.zip"))


@pytest.mark.parametrize(
    ("code", "number", "digest"),
    [
        ("6471012", 1, "a" * 64),
        ("6471012x", 1, "a" * 64),
        ("64710126", 0, "a" * 64),
        ("64710126", 10**10, "a" * 64),
        ("64710126", 1, "A" * 64),
        ("64710126", 1, "a" * 63),
    ],
)
def test_malformed_receipt_events_are_refused(code: str, number: int, digest: str) -> None:
    with pytest.raises(ValueError, match="receipt event"):
        CarriedReceipts().add(code, number, digest, None, 1)


def test_read_once() -> None:
    carried = CarriedReceipts()
    carried.add("64710126", 1, "a" * 64, None, 1)
    assert len(list(carried.in_order("p"))) == 1
    with pytest.raises(ValueError, match="once"):
        list(carried.in_order("p"))
    with pytest.raises(ValueError, match="read already"):
        carried.add("64710126", 2, "a" * 64, None, 2)


def test_memory_does_not_grow_with_the_receipts() -> None:
    # 60,000 receipts in runs of 4,096: the runs wait on disk (peak ~1 MB here). A set of their
    # 16-byte keys and a dict of their sharings, as the import kept before, peaked at ~6.3 MB.
    carried = CarriedReceipts(run=4096)
    tracemalloc.start()
    try:
        for number in range(60_000, 0, -1):
            carried.add("64710126", number, "ab" * 32, _SHARINGS[number % 3], number)
        count = sum(1 for _ in carried.in_order("p"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        carried.close()
    assert count == 60_000
    assert peak < 2_500_000, peak


# The walk beside the listing (ListingCheck): each refusal where it is met ---------------------


def _walk(carried: list[int], listed: list[int]) -> str:
    """Receipts 64710126-N carried by events 1, 2, ... and listed; the refusal, or ''."""
    fragment = Fragment()
    for seq, number in enumerate(carried, 1):
        fragment.receipts.add("64710126", number, _digest("64710126", number), None, seq)
    manifest = cast(Manifest, SimpleNamespace(version=2, issuers={}, receipt_count=len(listed)))
    check = ListingCheck(manifest, cast(ChainValidator, None), StampedHere(), "p.zip", fragment)
    try:
        for number in listed:
            check._event_of(
                ListedReceipt("64710126", number, "640100", _digest("64710126", number))
            )
        check.finish()
    except RefusedPackage as refused:
        return str(refused)
    return ""


def test_the_walk_refuses_where_listing_and_events_part() -> None:
    assert _walk([3, 1, 2], [1, 2, 3]) == ""
    assert _walk([1, 2, 3], [1, 3]) == (
        "p.zip: the sender's events issued receipt 64710126-0000000002 (event 2), which is not "
        "listed"
    )
    assert _walk([1, 3], [1, 2, 3]) == (
        "p.zip: receipt 64710126-0000000002 is listed but the sender's events did not issue it"
    )
    assert _walk([1, 2], [1, 2, 3]).endswith(
        "64710126-0000000003 is listed but the sender's events did not issue it"
    )
    assert _walk([1, 2, 3], [1, 2]) == (
        "p.zip: the receipts listed are not the ones the sender's events issued (2 listed, 3 in "
        "the events)"
    )
    assert "events 1 and 3 carry receipt 64710126-0000000002" in _walk([2, 1, 2], [1, 2])
