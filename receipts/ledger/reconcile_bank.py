"""Reconciliation against a bank statement (SPEC §6): this federation's receipts ↔ bank credits.

**Statement** (CSV, a header row naming the columns is required; names exactly as here, in any
order; UTF-8 with or without a BOM, or GBK/GB 18030 as Chinese banking software exports, found
by trying UTF-8 first):

=================  =========  =================================================================
``date``           required   value date: ``2026-10-08``, ``2026/10/08`` or ``20261008`` (a time
                              after it is ignored)
``amount``         required   credit in yuan, at most two decimals (``1,409.50`` is accepted);
                              zero or negative rows are debits and are skipped
``payer_name``     required   交款人 as the bank shows it (the cell may be empty when
                              ``payer_account`` is given)
``payer_account``  optional   the payer's USCC or other ID when the bank shows it (a bank account
                              number never matches a receipt, it is only echoed)
``reference``      optional   附言/用途: a receipt (``64710126-0000000012``, the 10-digit number)
                              or a batch client reference named here is a strong match
``serial``         optional   the bank's transaction serial (流水号), echoed in the report
=================  =========  =================================================================

**Matching.** Receipts considered: this federation's normal receipts issued from the first
credit's date minus the window to the last credit's plus the window (in the workspace's time
zone); reversed ones are excluded and reported. A receipt is a candidate for a credit when the
amounts are equal, the dates at most ``window_days`` apart, and the payer matches (name, after
NFKC and without spaces, or the USCC/ID) or the reference names it. A reference match ranks
above a payer match. One-to-one first: a pair is taken when each is the other's only best
candidate, repeatedly. Then several receipts to one remaining credit: 2 to ``max_group``
receipts of one payer, within the window, whose amounts add up to the credit (a bounded search).
Whenever more than one answer is equally good the credit is reported ambiguous: never a guess.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from receipts.batchfile import BatchProblem
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.models import ClientReference, ReceiptRow
from receipts.money import from_fen, parse_amount, to_fen

__all__ = [
    "STATEMENT_COLUMNS",
    "Ambiguity",
    "BankReceipt",
    "BankReport",
    "Credit",
    "Match",
    "Statement",
    "UnusableStatement",
    "match_bank",
    "read_statement",
    "reconcile_bank",
]

STATEMENT_COLUMNS = ("date", "amount", "payer_name", "payer_account", "reference", "serial")
_REQUIRED = ("date", "amount", "payer_name")
_DATE = re.compile(r"(\d{4})(?:([-/])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))(?:[ T].*)?")
_CODE_NUMBER = re.compile(r"(?<!\d)(\d{8})-?(\d{10})(?!\d)")
_NUMBER = re.compile(r"(?<!\d)(\d{10})(?!\d)")
_TOKEN = re.compile(r"[A-Za-z0-9._:/-]+")
#: Most receipts of one payer searched for a group, and most subsets tried for one credit:
#: beyond either the credit is called ambiguous rather than searched for long.
GROUP_CANDIDATES, SEARCH_BUDGET = 40, 50_000


class UnusableStatement(InvalidInput):
    """The statement cannot be read at all (encoding, header, CSV syntax): exit 2."""


@dataclass(frozen=True)
class Credit:
    """One credit of the statement."""

    line: int
    """Its line in the file."""
    on: date
    """Value date."""
    amount: Decimal
    """Amount credited."""
    payer_name: str
    """Payer as the bank shows it."""
    payer_account: str
    """Payer's USCC, ID or account, when given."""
    reference: str
    """附言/用途."""
    serial: str
    """Bank serial, when given."""

    @property
    def label(self) -> str:
        """The serial, or the line."""
        return self.serial or f"line {self.line}"


@dataclass(frozen=True)
class Statement:
    """A statement's credits and the rows refused."""

    credits: tuple[Credit, ...]
    """Credits in file order."""
    problems: tuple[BatchProblem, ...]
    """Rows refused (the others are still used)."""
    debits: int
    """Rows skipped as debits (zero or negative amounts)."""


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


def reconcile_bank(
    db: Database,
    issuer: str,
    zone: ZoneInfo,
    path: Path,
    window_days: int = 7,
    max_group: int = 5,
) -> BankReport:
    """Read the statement at ``path`` and match it with ``issuer``'s receipts in this ledger."""
    statement = read_statement(path)
    if not statement.credits:
        receipts: list[BankReceipt] = []
    else:
        window = timedelta(days=window_days)
        first = min(c.on for c in statement.credits) - window
        last = max(c.on for c in statement.credits) + window
        receipts = list(load_receipts(db, issuer, zone, first, last))
    report = match_bank(receipts, statement.credits, window_days, max_group)
    return dataclasses.replace(report, problems=statement.problems, debits=statement.debits)


def load_receipts(
    db: Database, issuer: str, zone: ZoneInfo, first: date, last: date
) -> Iterator[BankReceipt]:
    """``issuer``'s normal receipts issued from ``first`` to ``last`` (local dates)."""
    red = aliased(ReceiptRow)
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    query = (
        select(ReceiptRow.code, ReceiptRow.number, ReceiptRow.issued_at, ReceiptRow.total_fen,
               ReceiptRow.payer_name, ReceiptRow.payer_id, ClientReference.reference, red.code,
               red.number)
        .outerjoin(red, and_(red.original_code == ReceiptRow.code,
                             red.original_number == ReceiptRow.number))
        .outerjoin(ClientReference, and_(ClientReference.issuer == ReceiptRow.issuer,
                                         ClientReference.code == ReceiptRow.code,
                                         ClientReference.number == ReceiptRow.number))
        .where(ReceiptRow.issuer == issuer, ReceiptRow.kind == "normal",
               ReceiptRow.issued_at >= start, ReceiptRow.issued_at < end)
        .order_by(ReceiptRow.code, ReceiptRow.number)
    )  # fmt: skip
    with db.read() as session:
        for code, number, at, fen, name, payer_id, ref, red_code, red_no in session.execute(query):
            reversed_by = None if red_code is None else f"{red_code}-{red_no:010d}"
            local = at.astimezone(zone).date()
            yield BankReceipt(code, number, local, from_fen(fen), name, payer_id, ref, reversed_by)


# --- the statement ------------------------------------------------------------------------


def read_statement(path: Path) -> Statement:
    """Read a statement; a refused row becomes a problem, a file that cannot be read at all
    raises :class:`UnusableStatement` naming where."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnusableStatement(f"cannot read {name}: {error.strerror or error}") from None
    text = _decode(data, name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] = []
    credits: list[Credit] = []
    problems: list[BatchProblem] = []
    debits = rows = last = 0
    try:
        for row in reader:
            line, last = last + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if not header:
                cells = [cell.strip() for cell in row]
                while not cells[-1]:
                    cells.pop()  # spreadsheets add empty columns at the end
                header = _check_header(cells, name, line)
                continue
            rows += 1
            credit = _credit(header, row, name, line, problems)
            if credit is not None and credit.amount <= 0:
                debits += 1
            elif credit is not None:
                credits.append(credit)
    except csv.Error as error:
        raise UnusableStatement(f"{name}:{last + 1}: not valid CSV: {error}") from None
    if not header:
        raise UnusableStatement(f"{name}:1: no header row: the first row must name the columns")
    if not rows:
        raise UnusableStatement(f"{name}: the file has a header but no rows")
    return Statement(tuple(credits), tuple(problems), debits)


def _decode(data: bytes, name: str) -> str:
    try:
        return data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError as utf8:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            at = utf8.start
            line = data.count(b"\n", 0, at) + 1
            column = len(data[data.rfind(b"\n", 0, at) + 1 : at].decode("utf-8", "replace")) + 1
            raise UnusableStatement(
                f"{name}:{line}:{column}: bytes invalid in UTF-8 (not GBK/GB 18030 either)"
            ) from None


def _check_header(header: list[str], name: str, line: int) -> list[str]:
    for n, column in enumerate(header, 1):
        if column not in STATEMENT_COLUMNS:
            known = ", ".join(STATEMENT_COLUMNS)
            raise UnusableStatement(f"{name}:{line}:{n}: unknown column {column!r} ({known})")
        if column in header[: n - 1]:
            raise UnusableStatement(f"{name}:{line}:{n}: column {column} appears twice")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise UnusableStatement(f"{name}:{line}: missing column(s): {', '.join(missing)}")
    return header


def _credit(
    header: list[str], row: list[str], name: str, line: int, problems: list[BatchProblem]
) -> Credit | None:
    before = len(problems)

    def problem(column: str | None, message: str) -> None:
        at = header.index(column) + 1 if column in header else len(header) + 1
        problems.append(BatchProblem(name, line, at, message))

    if any(cell.strip() for cell in row[len(header) :]):
        problem(None, f"row has {len(row)} fields, the header {len(header)}")
    values = dict(zip(header, row, strict=False))
    cell = {c: values.get(c, "").strip() for c in STATEMENT_COLUMNS}
    on = _parse_date(cell["date"])
    if on is None:
        problem("date", f"date {cell['date']!r} is not YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD")
    amount: Decimal | None = None
    try:
        amount = parse_amount(cell["amount"], allow_negative=True)
    except InvalidInput as error:
        problem("amount", str(error) if cell["amount"] else "amount is required")
    if not cell["payer_name"] and not cell["payer_account"]:
        problem("payer_name", "payer_name is required (or payer_account)")
    if len(problems) > before or on is None or amount is None:
        return None
    rest = (cell[c] for c in ("payer_name", "payer_account", "reference", "serial"))
    return Credit(line, on, amount, *rest)


def _parse_date(text: str) -> date | None:
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    year, _, month, day, compact_month, compact_day = match.groups()
    try:
        return date(int(year), int(month or compact_month), int(day or compact_day))
    except ValueError:
        return None


# --- matching ------------------------------------------------------------------------------


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
