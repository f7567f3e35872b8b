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

__all__ = ["ChainWalk", "check_event_fragment", "events_jsonl"]


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
    events: list[dict[str, Any]] = []
    walk = ChainWalk(manifest, previous, what)
    for line in data.splitlines():
        if line:
            events.append(walk.step(line))
    walk.finish()
    return events


class ChainWalk:
    """The fragment's checks one event at a time, so a package's ``events.jsonl`` is checked
    as it is read (:mod:`receipts.transmission.package_stream`), never held whole: the events
    are ``first_seq``..``last_seq`` in order, every hash recomputes and links to the one before
    up to the signed head, the first starts the chain (``first_seq`` 1), and the fragment
    continues (or overlaps) the sender's head this ledger holds (``previous``)."""

    def __init__(self, manifest: Manifest, previous: tuple[int, str] | None, what: str) -> None:
        self.manifest, self.previous, self.what = manifest, previous, what
        self.expected = manifest.first_seq
        self.prev: str | None = None

    def step(self, line: bytes) -> dict[str, Any]:
        """Check the next event (one line of JSON); the event."""
        what = self.what
        try:
            event = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RefusedPackage(f"{what}: events.jsonl is not JSON lines: {exc}") from None
        if not isinstance(event, dict) or event.get("seq") != self.expected:
            raise RefusedPackage(
                f"{what}: events are not {self.manifest.first_seq}..{self.manifest.last_seq} "
                "in order"
            )
        if self.prev is None:
            self.prev = event.get("prev")
            self._check_start(event)
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
        if event["prev"] != self.prev or recomputed != event["hash"]:
            raise RefusedPackage(
                f"{what}: the sender's event chain is broken at event {event['seq']}"
            )
        held = self.previous
        if held is not None and event["seq"] == held[0] and event["hash"] != held[1]:
            raise RefusedPackage(
                f"{what}: the sender's event {held[0]} is not the one we hold: "
                "its ledger was rewritten"
            )
        self.prev = event["hash"]
        self.expected += 1
        return event

    def finish(self) -> None:
        """After the last line: the fragment was whole and ends at the signed head."""
        if self.prev is None:
            raise RefusedPackage(f"{self.what}: no events")
        if self.expected != self.manifest.last_seq + 1:
            raise RefusedPackage(
                f"{self.what}: events are not {self.manifest.first_seq}.."
                f"{self.manifest.last_seq} in order"
            )
        if self.prev != self.manifest.head_hash:
            raise RefusedPackage(f"{self.what}: the events do not end at the signed head")

    def _check_start(self, first: dict[str, Any]) -> None:
        manifest, what = self.manifest, self.what
        if manifest.first_seq == 1 and first.get("prev") != GENESIS_HASH:
            raise RefusedPackage(f"{what}: the sender's first event does not start its chain")
        if self.previous is None:
            if manifest.first_seq != 1:
                # Nothing held from this sender yet: its chain must come whole, from its genesis,
                # or a rewritten chain's tail would be taken on its word.
                raise RefusedPackage(
                    f"{what}: the first package from {manifest.sender} must start at its event 1, "
                    f"not {manifest.first_seq}"
                )
            return
        count, head = self.previous
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
        if count == manifest.first_seq - 1 and first.get("prev") != head:
            raise RefusedPackage(f"{what}: the events do not continue the head we hold")
