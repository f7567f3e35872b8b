"""Importing the tax bureau's collection records (docs/tax.md "Importing"): all or nothing.

A file is refused whole when any row has a problem: a bad cell, a voucher twice in the file, a
voucher imported before, or a payer, item and 所属期 for which this federation issued a receipt
that stands (the payer would have paid twice: reverse the receipt first, docs/tax.md "One
payment, one proof"). Otherwise one ``tax.imported`` event records every record of the file and
its SHA-256, the ``tax_collections`` rows are written from it, and the chain head is signed, in
one transaction. The rows are the event's cache: ``receipts audit`` re-derives them
(:mod:`receipts.audit.tax`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from receipts.batch.fields import BatchProblem
from receipts.domain.catalogue import Catalogue
from receipts.domain.money import format_amount, to_fen
from receipts.domain.payment_period import parse_payment_period
from receipts.domain.sharing import PARTY_ORDER, Party, SharingRules
from receipts.errors import InvalidInput
from receipts.issuing.effective_rules import sharing_in_force
from receipts.issuing.tax_check import tax_record_shares
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, append_event, sign_head
from receipts.ledger.models import Event, ReceiptItemRow, ReceiptRow, TaxCollectionRow
from receipts.tax.layout import TaxRecord
from receipts.tax.reading import read_tax_file

__all__ = ["TaxImport", "TaxImportRefused", "import_tax_file", "import_tax_records"]

#: Values bound in one ``IN (...)`` list: well under SQLite's and PostgreSQL's limits.
_IN_CHUNK = 500


class TaxImportRefused(InvalidInput):
    """The file has problems; nothing of it was imported. ``problems`` names each."""

    def __init__(self, name: str, problems: Sequence[BatchProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in {name}; nothing was imported from it")
        self.problems = tuple(problems)


@dataclass(frozen=True)
class TaxImport:
    """What an import stored."""

    records: int
    """Records imported."""
    total: Decimal
    """Their amounts' sum, yuan."""
    event_seq: int
    """The ``tax.imported`` event that records them."""
    sha256: str
    """The file's SHA-256."""


def import_tax_file(
    db: Database,
    issuer: str,
    path: Path,
    catalogue: Catalogue,
    signer: HeadSigner | None,
    *,
    encoding: str | None = None,
) -> TaxImport:
    """Read and import the file at ``path`` for ``issuer`` (this ledger's federation); raises
    :class:`TaxImportRefused` with every problem when any row is bad."""
    records, problems, data = read_tax_file(path, catalogue, encoding=encoding)
    if problems:
        raise TaxImportRefused(str(path), problems)
    return import_tax_records(db, issuer, str(path), data, records, signer)


def import_tax_records(
    db: Database,
    issuer: str,
    name: str,
    data: bytes,
    records: Sequence[TaxRecord],
    signer: HeadSigner | None,
) -> TaxImport:
    """Import ``records`` read from the file ``name`` (bytes ``data``) in one transaction, after
    holding them against the vouchers imported before and the receipts issued; each record's
    shares (分成) are computed under the sharing table in force and stored with it."""
    sha256 = hashlib.sha256(data).hexdigest()
    with db.write() as (session, state):
        problems = list(_earlier_vouchers(session, name, records))
        problems += _receipts_issued(session, issuer, name, records)
        rules, digest = sharing_in_force(session)
        shares = [_shares(issuer, name, r, rules, problems) for r in records]
        if problems:
            problems.sort(key=lambda p: (p.line, p.column or 0))
            raise TaxImportRefused(name, problems)  # rolls the transaction back
        total = sum((r.amount for r in records), Decimal("0.00"))
        payload = {
            "issuer": issuer,
            "file": Path(name).name,
            "sha256": sha256,
            "total": format_amount(total),
            "sharing": digest,
            "records": [r.payload() for r in records],
        }
        event = append_event(session, state, "tax.imported", payload)
        session.flush()
        session.add_all(
            _row(issuer, r, split, digest, event.seq)
            for r, split in zip(records, shares, strict=True)
        )
        sign_head(session, state, signer)
    return TaxImport(len(records), total, event.seq, sha256)


def _shares(
    issuer: str,
    name: str,
    record: TaxRecord,
    rules: SharingRules,
    problems: list[BatchProblem],
) -> dict[Party, int]:
    """The record's shares; a record the rules cannot share is a problem at its item."""
    try:
        return tax_record_shares(record.amount, record.item, record.collected_on, rules, issuer)
    except InvalidInput as error:
        column = record.columns.get("item", record.columns.get("collected_on"))
        problems.append(BatchProblem(name, record.line, column, f"item: {error}"))
        return {}


def _row(
    issuer: str, record: TaxRecord, shares: dict[Party, int], digest: str, seq: int
) -> TaxCollectionRow:
    return TaxCollectionRow(
        voucher=record.voucher,
        issuer=issuer,
        uscc=record.uscc,
        payer_name=record.payer_name,
        item_code=record.item,
        period=record.period.text,
        first_month=f"{record.period.first_month:%Y-%m}",
        last_month=f"{record.period.last_month:%Y-%m}",
        base_fen=to_fen(record.base),
        amount_fen=to_fen(record.amount),
        collected_on=record.collected_on,
        rules_digest=digest,
        **{f"{party.value}_fen": shares[party] for party in PARTY_ORDER},
        event_seq=seq,
    )


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start : start + _IN_CHUNK]


def _earlier_vouchers(
    session: Session, name: str, records: Sequence[TaxRecord]
) -> Iterator[BatchProblem]:
    """A problem for each record whose voucher an earlier import holds."""
    earlier: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(r.voucher for r in records):
        query = (
            select(TaxCollectionRow.voucher, TaxCollectionRow.event_seq, Event.at)
            .join(Event, Event.seq == TaxCollectionRow.event_seq)
            .where(TaxCollectionRow.voucher.in_(chunk))
        )
        for voucher, seq, at in session.execute(query):
            earlier[voucher] = (seq, f"{at:%Y-%m-%d}")
    for record in records:
        if record.voucher in earlier:
            seq, day = earlier[record.voucher]
            yield BatchProblem(
                name,
                record.line,
                record.columns.get("voucher"),
                f"voucher: {record.voucher} was imported before (event {seq}, {day})",
            )


def _receipts_issued(
    session: Session, issuer: str, name: str, records: Sequence[TaxRecord]
) -> list[BatchProblem]:
    """A problem for each record whose payer, item and 所属期 a standing receipt of ``issuer``
    covers (a month in common is enough)."""
    red = aliased(ReceiptRow)
    found: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for chunk in _chunks(r.uscc for r in records):
        query = (
            select(
                ReceiptRow.payer_id,
                ReceiptItemRow.item_code,
                ReceiptItemRow.item_period,
                ReceiptRow.code,
                ReceiptRow.number,
            )
            .join(
                ReceiptItemRow,
                and_(
                    ReceiptItemRow.code == ReceiptRow.code,
                    ReceiptItemRow.number == ReceiptRow.number,
                ),
            )
            .outerjoin(
                red,
                and_(
                    red.original_code == ReceiptRow.code,
                    red.original_number == ReceiptRow.number,
                ),
            )
            .where(
                ReceiptRow.issuer == issuer,
                ReceiptRow.kind == "normal",
                ReceiptRow.payer_id.in_(chunk),
                red.code.is_(None),
            )
            .order_by(ReceiptRow.code, ReceiptRow.number)
        )
        for uscc, item, period_text, code, number in session.execute(query):
            found.setdefault((str(uscc), item), []).append((period_text, code, f"{number:010d}"))
    problems = []
    for record in records:
        for period_text, code, label in found.get((record.uscc, record.item), ()):
            period = parse_payment_period(period_text)
            if (
                period.first_month <= record.period.last_month
                and record.period.first_month <= period.last_month
            ):
                problems.append(
                    BatchProblem(
                        name,
                        record.line,
                        record.columns.get("period", record.columns.get("period_from")),
                        f"period: receipt {code}-{label} (所属期 {period.text}) already covers "
                        f"payer {record.uscc}, item {record.item}, {record.period.text}; reverse "
                        "it before importing the tax bureau's record",
                    )
                )
                break
    return problems
