"""Detaching a closed year of receipts from a PostgreSQL ledger once its archives are verified
(docs/operations.md, "Partitions by year of issue").

The year's partitions of ``receipts`` and ``receipt_items`` leave the tables and are kept as
plain tables (receipts.ledger.partitions), and the statistics' aggregates forget the year
(docs/statistics.md); the event ``ledger.year_detached`` records it, so that the audit knows why
those receipts have no row (it does not re-derive them any more: their archive was verified
here first). Refused unless every receipt of the year is in an archive
given, with the same SHA-256: every receipt the events record as entering the ledger in that
year (a row deleted before detaching is not forgotten) and every row of the year's partition (a
row inserted behind the events' back does not leave unseen).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.archive.restore_timestamps import archived_receipts as split_receipts
from receipts.domain.signed_documents import chain_validator
from receipts.errors import InvalidInput
from receipts.ledger.aggregate_upkeep import forget_year
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import Event, ReceiptRow
from receipts.ledger.partitions import DETACHED_EVENT, RECEIPT_EVENTS, detach_year_tables
from receipts.ledger.years import issue_year
from receipts.support.safezip import read_zip
from receipts.verify.archive import verify_archive
from signing.trust import TrustBundle

__all__ = ["DetachedYear", "archived_receipts", "detach_year"]

_Key = tuple[str, int]


@dataclass(frozen=True)
class DetachedYear:
    """What detaching a year did."""

    year: int
    receipts: int
    """Receipts of the year (rows of its partition) that left the ledger's tables."""
    archives: tuple[str, ...]
    """The SHA-256 of each verified archive given (their manifests' digests)."""
    tables: tuple[str, ...]
    """The plain tables the partitions became."""


def archived_receipts(
    archives: Sequence[tuple[str, bytes]], bundle: TrustBundle
) -> tuple[dict[_Key, str], tuple[str, ...]]:
    """(code, number) → SHA-256 of every receipt in ``archives`` (name, bytes), and their
    digests; an archive that does not verify in full refuses them all."""
    validator = chain_validator(bundle)
    held: dict[_Key, str] = {}
    digests = []
    for name, data in archives:
        check = verify_archive(data, validator, name)
        if not check.ok or check.info is None:
            first = check.findings[0] if check.findings else None
            why = f"{first.code}: {first.message}" if first is not None else "unreadable"
            raise InvalidInput(f"archive {name} does not verify ({why}): nothing is detached")
        digests.append(check.info.digest)
        # A time-stamped receipt is archived with its token (XAdES-T): the manifest lists the
        # stamped file, the ledger the receipt as issued, which is what is compared.
        issued = split_receipts(read_zip(data, name), validator, name)
        for path, receipt in issued.items():
            if path.endswith(".xml"):
                code, number = path[len("receipts/") : -len(".xml")].split("-")
                held[(code, int(number))] = receipt.digest
    return held, tuple(digests)


def detach_year(
    db: Database,
    year: int,
    archives: Sequence[tuple[str, bytes]],
    bundle: TrustBundle,
    signer: HeadSigner | None,
    today: int,
) -> DetachedYear:
    """Detach ``year`` (before ``today``, the current year) from ``db`` after checking that
    ``archives``, verified against ``bundle``, hold each of its receipts."""
    if db.is_sqlite:
        raise InvalidInput("only a PostgreSQL ledger is partitioned by year: nothing to detach")
    if year >= today:
        raise InvalidInput(f"{year} is not over: only a past year is detached")
    held, digests = archived_receipts(archives, bundle)
    with db.write() as (session, state):
        count = 0
        for where, key, digest in _receipts_of(session, year):
            count += where == "row"
            if held.get(key) != digest:
                raise InvalidInput(
                    f"receipt {key[0]}-{key[1]:010d} of {year} ({where}) is in no archive given "
                    "with the same content: archive it and give every archive of the year"
                )
        # The statistics count what the tables hold (docs/statistics.md): the year leaves
        # their aggregates in the same transaction as it leaves the tables.
        forget_year(session.connection(), year)
        tables = detach_year_tables(session.connection(), year)
        facts = {"year": year, "receipts": count, "archives": list(digests), "tables": tables}
        append_event(session, state, DETACHED_EVENT, facts, datetime.now(UTC))
        sign_head(session, state, signer)
    return DetachedYear(year, count, digests, tuple(tables))


def _receipts_of(session: Session, year: int) -> Iterator[tuple[str, _Key, str]]:
    """("event" or "row", key, digest) of every receipt of ``year`` the events record or the
    year's rows hold, streamed."""
    entered = (
        select(Event.payload)
        .where(Event.kind.in_(sorted(RECEIPT_EVENTS)))
        .execution_options(yield_per=2048)
    )
    for payload in session.scalars(entered):
        facts = json.loads(payload)
        if issue_year(facts["code"]) == year:
            yield "event", (facts["code"], facts["number"]), facts["digest"]
    rows = (
        select(ReceiptRow.code, ReceiptRow.number, ReceiptRow.digest)
        .where(ReceiptRow.issue_year == year)
        .execution_options(yield_per=2048)
    )
    for code, number, digest in session.execute(rows):
        yield "row", (code, number), digest
