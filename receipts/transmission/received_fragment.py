"""The sender's chain fragment as an import uses it, gathered while ``events.jsonl`` is read and
checked line by line (:class:`receipts.transmission.chain_fragment.ChainWalk`): each receipt
event's receipt and the sharing it states, kept on disk in the listing's order
(:class:`receipts.transmission.carried_receipts.CarriedReceipts`), and every other event whole
(write-offs, settlements and the like are few)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from receipts.domain.sharing import PayerSituation
from receipts.errors import InvalidInput
from receipts.transmission.carried_receipts import CarriedReceipts, Sharing
from receipts.transmission.chain_fragment import ChainWalk
from receipts.transmission.package import Manifest, RefusedPackage

__all__ = ["Fragment", "match_listed", "read_fragment"]

_RECEIPT_EVENTS = ("receipt.issued", "receipt.imported")


@dataclass
class Fragment:
    """What the import keeps of the sender's events."""

    others: list[dict[str, Any]] = field(default_factory=list)
    """Every event that neither issued nor imported a receipt, in chain order."""
    receipts: CarriedReceipts = field(default_factory=CarriedReceipts)
    """The receipt each receipt event issued or imported, and the sharing it states."""
    v1_sharing: dict[tuple[str, int], Sharing] = field(default_factory=dict)
    """Version 1: the sharing each receipt's event states, by (code, number)
    (:func:`match_listed`)."""


def read_fragment(
    lines: Iterable[bytes], manifest: Manifest, previous: tuple[int, str] | None, what: str
) -> Fragment:
    """Check the fragment (it must link to the head ``previous`` we hold of the sender) and
    gather what the import needs of it."""
    walk = ChainWalk(manifest, previous, what)
    fragment = Fragment()
    shared: dict[tuple[str, str], Sharing] = {}
    for line in lines:
        event = walk.step(line)
        if event["kind"] not in _RECEIPT_EVENTS:
            fragment.others.append(event)
            continue
        payload = event["payload"]
        stated = payload.get("sharing") if isinstance(payload, dict) else None
        sharing = None if stated is None else _sharing(stated, shared, what)
        try:
            fragment.receipts.add(
                str(payload["code"]),
                int(payload["number"]),
                str(payload["digest"]),
                sharing,
                int(event["seq"]),
            )
        except (KeyError, TypeError, ValueError):
            raise RefusedPackage(f"{what}: event {event['seq']} is malformed") from None
    walk.finish()
    return fragment


def match_listed(fragment: Fragment, manifest: Manifest, what: str) -> None:
    """The receipts a version 1 manifest lists are exactly those the sender's events issued;
    the sharing each event states goes to ``fragment.v1_sharing``. Version 2's listing is
    matched as it is read (:class:`ListingCheck
    <receipts.transmission.received_receipts.ListingCheck>`)."""
    if manifest.version != 1:
        return
    listed = sorted((r.code, r.number, r.digest) for r in manifest.receipts)
    carried = list(fragment.receipts.in_order(what))
    if listed != [(c.code, c.number, c.digest) for c in carried]:
        raise RefusedPackage(
            f"{what}: the receipts listed are not the ones the sender's events "
            f"issued ({len(listed)} listed, {len(carried)} in the events)"
        )
    fragment.v1_sharing = {(c.code, c.number): c.sharing for c in carried if c.sharing}


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
