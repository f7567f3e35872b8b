"""The chain fragment a package carries (``events.jsonl``): the sender's events not yet
acknowledged, one JSON object a line, written on export and recomputed on import.

The tier above keeps the fragment's signed head as its outside copy of the sender's ledger, so a
fragment must link to the head it holds: a lost package, a truncated or a rewritten chain is
refused (docs/security.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from receipts.ledger.events import canonical_json, event_hash, rfc3339
from receipts.ledger.migrate import GENESIS_HASH
from receipts.ledger.models import Event
from receipts.transmission.package import Manifest, RefusedPackage

__all__ = ["check_event_fragment", "events_jsonl"]


def events_jsonl(events: Iterable[Event]) -> bytes:
    """The events as JSON lines, each with its hash and its predecessor's."""
    lines = [
        canonical_json(
            {
                "seq": e.seq,
                "at": rfc3339(e.at),
                "kind": e.kind,
                "payload": json.loads(e.payload),
                "prev": e.prev_hash,
                "hash": e.hash,
                # Who wrote it, only when someone did: it is part of the hash (docs/security.md).
                **({"operator": e.operator} if e.operator is not None else {}),
            }
        )
        for e in events
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def check_event_fragment(
    data: bytes, manifest: Manifest, previous: tuple[int, str] | None, what: str
) -> list[dict[str, Any]]:
    """Recompute the sender's chain fragment; it must link to the head we hold of it."""
    try:
        events = [json.loads(line) for line in data.decode("utf-8").splitlines() if line]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RefusedPackage(f"{what}: events.jsonl is not JSON lines: {exc}") from None
    if not events:
        raise RefusedPackage(f"{what}: no events")
    seqs = [e.get("seq") for e in events]
    if seqs != list(range(manifest.first_seq, manifest.last_seq + 1)):
        raise RefusedPackage(
            f"{what}: events are not {manifest.first_seq}..{manifest.last_seq} in order"
        )
    _check_links(events, manifest, what)
    if previous is not None:
        _check_continues(events, manifest, previous, what)
    return events


def _check_links(events: list[dict[str, Any]], manifest: Manifest, what: str) -> None:
    """Every event's hash recomputes and links to the one before, up to the signed head."""
    prev = events[0].get("prev")
    for event in events:
        try:
            recomputed = event_hash(
                event["prev"],
                event["seq"],
                event["at"],
                event["kind"],
                canonical_json(event["payload"]) if isinstance(event["payload"], dict) else "",
                event.get("operator"),
            )
        except (KeyError, TypeError, ValueError):
            raise RefusedPackage(f"{what}: event {event.get('seq')} is malformed") from None
        if event["prev"] != prev or recomputed != event["hash"]:
            raise RefusedPackage(
                f"{what}: the sender's event chain is broken at event {event['seq']}"
            )
        prev = event["hash"]
    if prev != manifest.head_hash:
        raise RefusedPackage(f"{what}: the events do not end at the signed head")
    if manifest.first_seq == 1 and events[0]["prev"] != GENESIS_HASH:
        raise RefusedPackage(f"{what}: the sender's first event does not start its chain")


def _check_continues(
    events: list[dict[str, Any]], manifest: Manifest, previous: tuple[int, str], what: str
) -> None:
    """The fragment continues (or overlaps) the sender's head this ledger holds."""
    count, head = previous
    if manifest.last_seq < count:
        raise RefusedPackage(
            f"{what}: the sender's chain is shorter ({manifest.last_seq} "
            f"events) than the head we hold ({count}): truncated?"
        )
    if manifest.first_seq > count + 1:
        raise RefusedPackage(
            f"{what}: events {count + 1}..{manifest.first_seq - 1} are "
            "missing (a package was lost: the sender must resend)"
        )
    linked = {e["seq"]: e["hash"] for e in events}
    if count >= manifest.first_seq and linked.get(count) != head:
        raise RefusedPackage(
            f"{what}: the sender's event {count} is not the one we hold: its ledger was rewritten"
        )
    if count == manifest.first_seq - 1 and events[0]["prev"] != head:
        raise RefusedPackage(f"{what}: the events do not continue the head we hold")
