"""The sender's chain fragment as an import uses it, gathered while ``events.jsonl`` is read and
checked line by line (:class:`receipts.transmission.chain_fragment.ChainWalk`): what each receipt
event says compactly (which receipt with which digest; the sharing it states), and every other
event whole (write-offs, settlements and the like are few)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from receipts.domain.sharing import PayerSituation
from receipts.errors import InvalidInput
from receipts.transmission.chain_fragment import ChainWalk
from receipts.transmission.package import Manifest, RefusedPackage

__all__ = ["Fragment", "match_listed", "read_fragment", "receipt_key"]

_RECEIPT_EVENTS = ("receipt.issued", "receipt.imported")


def receipt_key(code: str, number: int, digest: str) -> bytes:
    """A receipt event's identity in 16 bytes (a set of a million takes ~70 MB, not ~300)."""
    return hashlib.sha256(f"{code}\n{number}\n{digest}".encode()).digest()[:16]


@dataclass
class Fragment:
    """What the import keeps of the sender's events."""

    others: list[dict[str, Any]] = field(default_factory=list)
    """Every event that neither issued nor imported a receipt, in chain order."""
    carried: set[bytes] = field(default_factory=set)
    """:func:`receipt_key` of every receipt the events issued or imported."""
    stated: dict[bytes, tuple[PayerSituation, date]] = field(default_factory=dict)
    """The sharing each receipt event states, by its :func:`receipt_key` (the same object as
    in ``carried``: no second key per receipt); none: not stated."""


def read_fragment(
    lines: Iterable[bytes], manifest: Manifest, previous: tuple[int, str] | None, what: str
) -> Fragment:
    """Check the fragment (it must link to the head ``previous`` we hold of the sender) and
    gather what the import needs of it."""
    walk = ChainWalk(manifest, previous, what)
    fragment = Fragment()
    shared: dict[tuple[str, str], tuple[PayerSituation, date]] = {}
    for line in lines:
        event = walk.step(line)
        if event["kind"] not in _RECEIPT_EVENTS:
            fragment.others.append(event)
            continue
        payload = event["payload"]
        try:
            key = f"{payload['code']}-{int(payload['number'])}"
            carried = receipt_key(
                str(payload["code"]), int(payload["number"]), str(payload["digest"])
            )
        except (KeyError, TypeError, ValueError):
            raise RefusedPackage(f"{what}: event {event['seq']} is malformed") from None
        if carried in fragment.carried:
            # A receipt is issued or imported once: a second event would count it twice.
            raise RefusedPackage(f"{what}: event {event['seq']} carries receipt {key} again")
        fragment.carried.add(carried)
        stated = payload.get("sharing") if isinstance(payload, dict) else None
        if stated is not None:
            fragment.stated[carried] = _sharing(stated, shared, what)
    walk.finish()
    return fragment


def match_listed(fragment: Fragment, manifest: Manifest, what: str) -> None:
    """The receipts a version 1 manifest lists are exactly those the sender's events issued
    (version 2's listing is matched as it is read: :class:`ListingCheck
    <receipts.transmission.received_receipts.ListingCheck>`)."""
    if manifest.version != 1:
        return
    listed = {receipt_key(r.code, r.number, r.digest) for r in manifest.receipts}
    if listed != fragment.carried:
        raise RefusedPackage(
            f"{what}: the receipts listed are not the ones the sender's events "
            f"issued ({len(listed)} listed, {len(fragment.carried)} in the events)"
        )


def _sharing(
    stated: Any, seen: dict[tuple[str, str], tuple[PayerSituation, date]], what: str
) -> tuple[PayerSituation, date]:
    """A stated sharing, one object per distinct (situation, day): there are few."""
    try:
        raw = (str(stated["situation"]), str(stated["on"]))
        found = seen.get(raw)
        if found is None:
            found = seen[raw] = (PayerSituation(raw[0]), date.fromisoformat(raw[1]))
    except (InvalidInput, KeyError, TypeError, ValueError):
        raise RefusedPackage(f"{what}: an event states an unreadable sharing") from None
    return found
