"""Matching bank credits with receipts: the pure algorithm and what it reports.

**Matching.** A receipt is a candidate for a credit when the amounts are equal, the dates at
most ``window_days`` apart, and the payer matches (name, after NFKC and without spaces, or the
USCC/ID) or the reference names it. A reference match ranks above a payer match. One-to-one
first: a pair is taken when each is the other's only best candidate, repeatedly. Then several
receipts to one remaining credit: 2 to ``max_group`` receipts of one payer, within the window,
whose amounts add up to the credit (a bounded search). Whenever more than one answer is equally
good the credit is reported ambiguous: never a guess. Reversed receipts are set aside first.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from receipts.batch.fields import BatchProblem
from receipts.domain.money import to_fen
from receipts.reconcile.bank_statement import Credit

__all__ = [
    "GROUP_CANDIDATES",
    "SEARCH_BUDGET",
    "Ambiguity",
    "BankReceipt",
    "BankReport",
    "Match",
    "match_bank",
]

_CODE_NUMBER = re.compile(r"(?<!\d)(\d{8})-?(\d{10})(?!\d)")
_NUMBER = re.compile(r"(?<!\d)(\d{10})(?!\d)")
_TOKEN = re.compile(r"[A-Za-z0-9._:/-]+")
#: Most receipts of one payer searched for a group, and most subsets tried for one credit:
#: beyond either the credit is called ambiguous rather than searched for long.
GROUP_CANDIDATES, SEARCH_BUDGET = 40, 50_000


@dataclass(frozen=True)
class BankReceipt:
    """A receipt as bank matching sees it."""

    code: str
    """Receipt code."""
    number: int
    """Receipt number."""
    issued_on: date
    """Issue date in the workspace's time zone."""
    total: Decimal
    """Amount."""
    payer_name: str
    """交款人."""
    payer_id: str | None
    """USCC or other ID."""
    client_ref: str | None = None
    """The batch client reference it was issued under."""
    reversed_by: str | None = None
    """The red receipt that cancelled it."""

    @property
    def label(self) -> str:
        """``CODE-NUMBER``."""
        return f"{self.code}-{self.number:010d}"


@dataclass(frozen=True)
class Match:
    """A credit and the receipt(s) it pays."""

    credit: Credit
    """The credit."""
    receipts: tuple[BankReceipt, ...]
    """One receipt, or a group of one payer's."""
    basis: str
    """``reference``, ``payer``, ``reference+payer``, ``group`` or ``group by reference``."""


@dataclass(frozen=True)
class Ambiguity:
    """A credit with more than one equally good answer: left to a person."""

    credit: Credit
    """The credit."""
    options: tuple[tuple[BankReceipt, ...], ...]
    """The equally good receipts or groups (the first few)."""
    why: str
    """In words."""


@dataclass(frozen=True)
class BankReport:
    """The outcome of matching a statement."""

    matched: tuple[Match, ...]
    """Credits with their receipts."""
    unmatched_receipts: tuple[BankReceipt, ...]
    """Receipts no credit pays."""
    unmatched_credits: tuple[tuple[Credit, str], ...]
    """Credits no receipt explains, with a hint (e.g. a reversed receipt it would match)."""
    ambiguous: tuple[Ambiguity, ...]
    """Credits with several equally good answers."""
    reversed: tuple[BankReceipt, ...]
    """Reversed receipts of the period, excluded from matching."""
    problems: tuple[BatchProblem, ...] = ()
    """Statement rows refused."""
    debits: int = 0
    """Statement rows skipped as debits."""

    @property
    def discrepancies(self) -> bool:
        """Anything unmatched, ambiguous or refused."""
        return bool(
            self.unmatched_receipts or self.unmatched_credits or self.ambiguous or self.problems
        )


def _name(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def _ident(text: str) -> str:
    return re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", text)).upper()


class _Matcher:
    """Candidate edges between credits and receipts, by amount first."""

    def __init__(self, receipts: Sequence[BankReceipt], window: int) -> None:
        self.receipts = receipts
        self.window = window
        self.by_amount: dict[int, list[int]] = {}
        self.by_number: dict[int, list[int]] = {}
        self.by_label: dict[str, int] = {}
        self.by_ref: dict[str, int] = {}
        for i, r in enumerate(receipts):
            self.by_amount.setdefault(to_fen(r.total), []).append(i)
            self.by_number.setdefault(r.number, []).append(i)
            self.by_label[f"{r.code}{r.number:010d}"] = i
            if r.client_ref:
                self.by_ref[r.client_ref] = i

    def named(self, reference: str) -> set[int]:
        """Receipts a reference names: code and number, a number, or a client reference."""
        found = {
            self.by_label[a + b]
            for a, b in _CODE_NUMBER.findall(reference)
            if a + b in self.by_label
        }
        for number in _NUMBER.findall(reference):
            found.update(self.by_number.get(int(number), ()))
        found.update(self.by_ref[t] for t in _TOKEN.findall(reference) if t in self.by_ref)
        return found

    def payer(self, credit: Credit, receipt: BankReceipt) -> bool:
        """The credit's payer is the receipt's (by name, or by USCC/ID)."""
        if credit.payer_name and _name(credit.payer_name) == _name(receipt.payer_name):
            return True
        return bool(
            credit.payer_account
            and receipt.payer_id
            and _ident(credit.payer_account) == _ident(receipt.payer_id)
        )

    def near(self, credit: Credit, receipt: BankReceipt) -> bool:
        """Within the date window."""
        return abs((credit.on - receipt.issued_on).days) <= self.window

    def candidates(self, credit: Credit, named: set[int]) -> dict[int, int]:
        """One-to-one candidates with their score: 2 for a reference, +1 for the payer."""
        out = {}
        for i in self.by_amount.get(to_fen(credit.amount), ()):
            receipt = self.receipts[i]
            score = 2 * (i in named) + self.payer(credit, receipt)
            if score and self.near(credit, receipt):
                out[i] = score
        return out


def match_bank(
    receipts: Sequence[BankReceipt],
    credits: Sequence[Credit],
    window_days: int = 7,
    max_group: int = 5,
) -> BankReport:
    """Match credits with receipts (reversed receipts are set aside first)."""
    reversed_ = tuple(r for r in receipts if r.reversed_by is not None)
    live = [r for r in receipts if r.reversed_by is None]
    m = _Matcher(live, window_days)
    named = {c: m.named(credit.reference) for c, credit in enumerate(credits)}
    edges = {c: m.candidates(credit, named[c]) for c, credit in enumerate(credits)}
    matched = _one_to_one(edges, credits, live)
    ambiguous: dict[int, Ambiguity] = {}
    held: set[int] = set()
    for c, options in edges.items():
        if c not in matched and options:
            best = max(options.values())
            picks = tuple((live[r],) for r in sorted(options) if options[r] == best)
            ambiguous[c] = Ambiguity(credits[c], picks[:5], f"{len(picks)} receipts match equally")
            held.update(options)
    taken = {id(r) for match in matched.values() for r in match.receipts}
    free = [i for i, r in enumerate(live) if id(r) not in taken and i not in held]
    groups = {
        c: _groups(m, credits[c], named[c], free, max_group)
        for c in range(len(credits))
        if c not in matched and c not in ambiguous
    }
    owners = Counter(r for options, _ in groups.values() for r in {r for o in options for r in o})
    for c, (found, why) in groups.items():
        held.update(r for group in found for r in group)
        if len(found) == 1 and not why and all(owners[r] == 1 for r in found[0]):
            basis = "group by reference" if set(found[0]) <= named[c] else "group"
            matched[c] = Match(credits[c], tuple(live[r] for r in found[0]), basis)
        elif found or why:
            if not why:
                many = f"{len(found)} groups of receipts add up to it"
                why = (
                    "its receipts are also another credit's only group" if len(found) == 1 else many
                )
            shown = tuple(tuple(live[r] for r in group) for group in found[:5])
            ambiguous[c] = Ambiguity(credits[c], shown, why)
    taken = {id(r) for match in matched.values() for r in match.receipts}
    unmatched_credits = tuple(
        (credit, _hint(m, credit, reversed_))
        for c, credit in enumerate(credits)
        if c not in matched and c not in ambiguous
    )
    return BankReport(
        tuple(matched[c] for c in sorted(matched)),
        tuple(r for i, r in enumerate(live) if id(r) not in taken and i not in held),
        unmatched_credits,
        tuple(ambiguous[c] for c in sorted(ambiguous)),
        reversed_,
    )


def _one_to_one(
    edges: dict[int, dict[int, int]], credits: Sequence[Credit], live: Sequence[BankReceipt]
) -> dict[int, Match]:
    """Take every pair where each is the other's only best candidate, until none is left.

    Taken pairs leave ``edges``; what stays there is ambiguous."""
    back: dict[int, dict[int, int]] = {}
    for c, options in edges.items():
        for r, score in options.items():
            back.setdefault(r, {})[c] = score
    matched: dict[int, Match] = {}
    progress = True
    while progress:
        progress = False
        for c in [c for c, options in edges.items() if options]:
            options = edges[c]
            best = max(options.values())
            tops = [r for r, s in options.items() if s == best]
            if len(tops) > 1 or any(s >= best for d, s in back[tops[0]].items() if d != c):
                continue
            basis = {1: "payer", 2: "reference", 3: "reference+payer"}[best]
            matched[c] = Match(credits[c], (live[tops[0]],), basis)
            for d in back.pop(tops[0]):
                edges[d].pop(tops[0], None)
            for r in edges[c]:
                back[r].pop(c, None)
            edges[c] = {}
            progress = True
    return matched


def _groups(
    m: _Matcher, credit: Credit, named: set[int], free: list[int], max_group: int
) -> tuple[list[tuple[int, ...]], str]:
    """Groups of 2..max_group receipts of one payer that add up to the credit; a reason when the
    search gave up. A group the reference names exactly wins over the others."""
    target = to_fen(credit.amount)
    by_payer: dict[str, list[int]] = {}
    for i in free:
        r = m.receipts[i]
        if m.near(credit, r) and to_fen(r.total) < target and (m.payer(credit, r) or i in named):
            by_payer.setdefault(
                _ident(r.payer_id) if r.payer_id else _name(r.payer_name), []
            ).append(i)
    found: list[tuple[int, ...]] = []
    for members in by_payer.values():
        if len(members) > GROUP_CANDIDATES:
            return found, f"{len(members)} receipts of one payer could add up to it"
        result = _subsets([(to_fen(m.receipts[i].total), i) for i in members], target, max_group)
        if result is None:
            return found, "too many combinations to decide"
        found += result
    exact = [g for g in found if set(g) <= named]
    return (exact if len(exact) == 1 else found), ""


def _subsets(
    items: list[tuple[int, int]], target: int, max_size: int
) -> list[tuple[int, ...]] | None:
    """Up to 6 subsets of 2..max_size items whose amounts add up to ``target`` (all amounts
    positive), or None when the search budget runs out."""
    items = sorted(items, reverse=True)
    prefix = [0]
    for amount, _ in items:
        prefix.append(prefix[-1] + amount)
    found: list[tuple[int, ...]] = []
    steps = 0

    def search(start: int, left: int, chosen: tuple[int, ...]) -> bool:
        nonlocal steps
        if left == 0:
            if len(chosen) >= 2:
                found.append(tuple(sorted(chosen)))
            return len(found) < 6
        room = max_size - len(chosen)
        for j in range(start, len(items)):
            steps += 1
            if steps > SEARCH_BUDGET:
                return False
            if prefix[min(len(items), j + room)] - prefix[j] < left:
                break  # even the largest remaining ones fall short
            amount, index = items[j]
            if amount <= left and room and not search(j + 1, left - amount, (*chosen, index)):
                return False
        return True

    if not search(0, target, ()):
        return None if steps > SEARCH_BUDGET else found
    return found


def _hint(m: _Matcher, credit: Credit, reversed_: Sequence[BankReceipt]) -> str:
    for r in reversed_:
        if r.total == credit.amount and m.near(credit, r) and m.payer(credit, r):
            return f"matches {r.label}, which was reversed by {r.reversed_by}"
    return ""
