"""The pure number-space comparison between tiers: block hashes, the Merkle tree, part
fingerprints, and (Hypothesis) the two-round exchange finding exactly the planted differences."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receipts.findings import FindingCode
from receipts.reconcile.blocks import (
    BLOCK_SIZE,
    EMPTY_SLOT,
    MAX_BLOCK_SIZE,
    PART_SIZE,
    Block,
    BlockKey,
    Slot,
    block_size_for,
    blocks_of,
    merkle_root,
)
from receipts.reconcile.exchange import (
    Summary,
    TierComparison,
    answer_request,
    compare_summary,
)

CODES = ("64710126", "64710226")


def digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def slot(code: str, number: int, salt: object = "", total: str = "10.00") -> Slot:
    return Slot("640100", code, number, digest(code, number, salt), Decimal(total))


def summary_of(blocks: list[Block], listings: dict[BlockKey, object] | None = None) -> Summary:
    return Summary("640000", ("640100",), tuple(b.summary() for b in blocks), listings or {})  # type: ignore[arg-type]


def exchange(file_side: list[Slot], here: list[Slot]) -> tuple[TierComparison, TierComparison]:
    """Both rounds: the file's author summarises, this side compares and requests, the author
    answers with the requested blocks only (an empty one for a block it lacks), this side
    compares again, reading only those blocks."""
    theirs, ours = blocks_of(file_side), blocks_of(here)
    first_summary = summary_of(theirs)
    first = compare_summary(first_summary, ours)
    by_key = {b.key: b for b in theirs}
    asked = [by_key.get(r.key) or Block(r.key, [], b"", []) for r in first.requests]
    listings = {r.key: answer_request(b, r) for b, r in zip(asked, first.requests, strict=True)}
    answer = Summary(
        "640000",
        ("640100",),
        tuple(b.summary() for b in asked),
        listings,
        answering=first_summary.root,
    )
    second = compare_summary(answer, [b for b in ours if b.key in listings])
    return first, second


def test_block_size_doubles_until_the_blocks_fit() -> None:
    def spans(size: int) -> int:
        return 10_000_000 // size + 1

    assert block_size_for(spans, 7_000) == 2048  # 9,766 blocks of 1,024; 4,883 of 2,048
    assert block_size_for(spans, 20_000) == BLOCK_SIZE
    assert block_size_for(spans, 1) == MAX_BLOCK_SIZE  # never beyond; the file check decides


def test_block_hash_is_sha256_over_all_1024_slots() -> None:
    slots = [slot(CODES[0], n) for n in (1025, 1026, 2000)]
    [block] = blocks_of(slots)
    expected = hashlib.sha256(
        b"".join(
            bytes.fromhex(next(s.digest for s in slots if s.number == n))
            if n in (1025, 1026, 2000)
            else EMPTY_SLOT
            for n in range(1024, 2048)
        )
    ).hexdigest()
    summary = block.summary()
    assert hashlib.sha256(b"UDR-EMPTY-SLOT").digest() == EMPTY_SLOT
    assert (summary.key, summary.count, summary.total, summary.hash) == (
        BlockKey("640100", CODES[0], 1),
        3,
        Decimal("30.00"),
        expected,
    )


def test_database_order_does_not_matter() -> None:
    slots = [slot(CODES[0], n, total=f"{n}.00") for n in (5, 3, 900, 4)]
    shuffled = Block(
        BlockKey("640100", CODES[0], 0),
        [s.number for s in slots],
        b"".join(bytes.fromhex(s.digest) for s in slots),
        ",".join(str(int(s.total * 100)) for s in slots),
    )
    assert shuffled.summary() == blocks_of(slots)[0].summary()
    assert [s.number for s in shuffled.slots()] == [3, 4, 5, 900]


def test_merkle_root_is_rfc6962() -> None:
    def h(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    leaves = [b"a", b"b", b"c"]
    hashed = [h(b"\x00" + leaf) for leaf in leaves]
    assert merkle_root([]) == h(b"")
    assert merkle_root(leaves[:1]) == hashed[0]
    assert merkle_root(leaves) == h(b"\x01" + h(b"\x01" + hashed[0] + hashed[1]) + hashed[2])


def test_one_missing_receipt_touches_one_block_and_one_part() -> None:
    file_side = [slot(CODES[0], n) for n in range(1, 5000)]
    here = [s for s in file_side if s.number != 2500]
    first, second = exchange(file_side, here)
    assert first.blocks_theirs == 5 and first.blocks_agreeing == 4
    assert [f.code for f in first.findings] == [FindingCode.BLOCK_DIFFERS]
    assert [r.key.index for r in first.requests] == [2]
    assert second.receipts_listed == PART_SIZE  # the part of 8 numbers holding 2500
    assert [(f.code, f.number) for f in second.findings] == [(FindingCode.TIER_MISSING, 2500)]
    assert not second.requests


def test_a_listing_that_does_not_rebuild_the_block_is_asked_for_in_full() -> None:
    file_side = [slot(CODES[0], n) for n in range(1, 100)]
    here = [s for s in file_side if s.number != 50]
    theirs, ours = blocks_of(file_side), blocks_of(here)
    first = compare_summary(summary_of(theirs), ours)
    listing = answer_request(theirs[0], first.requests[0])
    changed = [*here[:10], slot(CODES[0], 11, "changed since"), *here[11:]]  # here moved on
    second = compare_summary(summary_of(theirs, {theirs[0].key: listing}), blocks_of(changed))
    assert [r.fingerprints for r in second.requests] == [None]
    assert [f.code for f in second.findings] == [FindingCode.BLOCK_DIFFERS]


@st.composite
def planted(draw: st.DrawFn) -> tuple[list[Slot], list[Slot], set[tuple[str, str, int]]]:
    """Two receipt sets: the file's (base) and this side's (base with planted differences),
    and the differences expected."""
    salt = draw(st.integers(0, 2**32))
    size = draw(st.sampled_from([BLOCK_SIZE, 2 * BLOCK_SIZE, 4 * BLOCK_SIZE]))  # as chosen
    base: dict[tuple[str, int], Slot] = {}
    for code in CODES:
        for _ in range(draw(st.integers(0, 3))):
            start = draw(st.integers(1, 4 * BLOCK_SIZE))
            for n in range(start, start + draw(st.integers(1, 1500))):
                total = Decimal((n * 7919 + salt) % 200_001 - 20_000) / 100
                base[(code, n)] = Slot("640100", code, n, digest(salt, code, n), total, size)
    keys = sorted(base)
    picks = st.sets(st.sampled_from(keys), max_size=12) if keys else st.just(set())
    missing, altered = draw(picks), draw(picks)
    altered -= missing
    extra = draw(
        st.sets(st.tuples(st.sampled_from(CODES), st.integers(1, 6 * BLOCK_SIZE)), max_size=12)
    ) - set(base)
    here = {k: s for k, s in base.items() if k not in missing}
    for code, n in extra:
        here[(code, n)] = Slot("640100", code, n, digest("extra", code, n), Decimal(1), size)
    for key in altered:
        old = base[key]
        how = draw(st.sampled_from(["digest", "total", "both"]))
        new_digest = digest("altered", *key) if how != "total" else old.digest
        new_total = old.total + Decimal("0.01") if how != "digest" else old.total
        here[key] = Slot("640100", key[0], key[1], new_digest, new_total, size)
    expected = (
        {("missing", c, n) for c, n in missing}
        | {("extra", c, n) for c, n in extra}
        | {("differing", c, n) for c, n in altered}
    )
    return list(base.values()), list(here.values()), expected


@settings(suppress_health_check=[HealthCheck.too_slow])  # each example runs a whole exchange
@given(planted())
def test_two_rounds_find_exactly_the_planted_differences(
    case: tuple[list[Slot], list[Slot], set[tuple[str, str, int]]],
) -> None:
    file_side, here, expected = case
    first, second = exchange(file_side, here)
    found = {(f.code.value, f.block.code, f.number) for f in second.findings}
    assert found == expected
    assert not second.requests
    # the first round already names receipts of blocks only this side has, nothing else
    named = {(f.code.value, f.block.code, f.number) for f in first.findings if f.number}
    assert named <= expected and {k for k, _, _ in named} <= {"extra"}
    assert bool(first.findings) == bool(expected)
    # data proportional to the differences: at most one part of 8 slots per difference
    assert second.receipts_listed <= PART_SIZE * len(expected)
    if not expected:
        assert summary_of(blocks_of(file_side)).root == summary_of(blocks_of(here)).root
