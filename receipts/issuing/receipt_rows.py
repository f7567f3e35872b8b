"""A signed receipt as ledger rows: its queryable columns, its lines, its client reference and the
event that records it, inserted in bulk.

Issuing stores receipts through :class:`ReceiptRows`; importing a transmission, restoring a
backup and the audit derive the same columns with :func:`receipt_columns` and
:func:`item_columns`, so a receipt's rows never depend on the path it took into the ledger.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from receipts.domain.divisions import tier_of
from receipts.domain.enums import PayerKind, Tier
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import Receipt
from receipts.domain.money import format_amount, to_fen
from receipts.domain.sharing import PARTY_ORDER, Party, PayerSituation, SharingRules, split_fen
from receipts.ledger.events import canonical_json, next_event
from receipts.ledger.models import (
    ClientReference,
    Event,
    LedgerState,
    ReceiptItemRow,
    ReceiptRow,
    ReceiptShareRow,
)
from receipts.ledger.partitions import ensure_years
from receipts.ledger.years import issue_year, month_of

__all__ = [
    "ReceiptRows",
    "Sharing",
    "bulk_insert",
    "default_situation",
    "item_columns",
    "own_party",
    "receipt_columns",
    "receipt_event_payload",
    "share_columns",
    "shares_for",
]


@dataclass(frozen=True)
class Sharing:
    """How a receipt is shared (docs/settlement.md, "Shares at issue"): the situation, the table
    in force (with the digest the event records) and the day whose version applies (the issue
    day; a red receipt's original's issue day, so it cancels its original share by share)."""

    situation: PayerSituation
    rules: SharingRules
    digest: str
    on: date


def own_party(org_code: str) -> Party:
    """The party a federation is: national, province, city (``XXYY00``) or county."""
    tier = tier_of(org_code)
    if tier is Tier.NATIONAL:
        return Party.NATIONAL
    if tier is Tier.PROVINCIAL:
        return Party.PROVINCE
    return Party.CITY if org_code[4:] == "00" else Party.COUNTY


def default_situation(payer_kind: PayerKind) -> PayerSituation:
    """The situation of a request that states none: a grassroots union pays the part it
    remits upward; anyone else is taken to pay in full (docs/settlement.md)."""
    if payer_kind is PayerKind.GRASSROOTS_UNION:
        return PayerSituation.GRASSROOTS_REMITS
    return PayerSituation.ENTERPRISE_FULL


def shares_for(receipt: Receipt, sharing: Sharing) -> list[dict[Party, int]]:
    """Each line's shares in fen, in line order. A line whose item the version in force has no
    row for is the issuer's own; an item with rows but none for the situation is refused."""
    version = sharing.rules.version_on(sharing.on)
    shared_items = {item for item, _ in version.rows}
    out: list[dict[Party, int]] = []
    for item in receipt.items:
        if item.code not in shared_items:
            whole = {party: 0 for party in PARTY_ORDER}
            whole[own_party(receipt.issuer.code)] = to_fen(item.amount)
            out.append(whole)
            continue
        fen = to_fen(item.amount)  # a receipt's amounts are whole fen (the model checks)
        split = split_fen(abs(fen), version.row(item.code, sharing.situation))
        out.append(split if fen >= 0 else {party: -value for party, value in split.items()})
    return out


def share_columns(receipt: Receipt, sharing: Sharing) -> list[dict[str, Any]]:
    """The ``receipt_shares`` rows of a receipt: a row per line, a column per party."""
    period = month_of(receipt.issued_at)
    rows = []
    for n, (item, split) in enumerate(
        zip(receipt.items, shares_for(receipt, sharing), strict=True), 1
    ):
        row: dict[str, Any] = {
            "code": receipt.code,
            "number": receipt.number,
            "line": n,
            "issuer": receipt.issuer.code,
            "period": period,
            "item_code": item.code,
            "situation": sharing.situation.value,
            "rules_digest": sharing.digest,
            "amount_fen": to_fen(item.amount),
        }
        for party in PARTY_ORDER:
            row[f"{party.value}_fen"] = split[party]
        rows.append(row)
    return rows


class ReceiptRows:
    """Column values of receipts being stored, inserted in bulk: Core executemany is about three
    times faster than ORM objects."""

    def __init__(self) -> None:
        self.receipts: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.refs: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.shares: list[dict[str, Any]] = []

    def add(
        self,
        state: LedgerState,
        receipt: Receipt,
        xml: bytes,
        request: IssueRequest | None,
        sharing: Sharing | None = None,
    ) -> str:
        """Add a signed receipt's rows, its shares under ``sharing`` and its event (chained onto
        ``state``); its XML's digest."""
        digest = hashlib.sha256(xml).hexdigest()
        self.receipts.append(receipt_columns(receipt, xml, digest))
        self.items.extend(item_columns(receipt))
        if sharing is not None:
            self.shares.extend(share_columns(receipt, sharing))
        client_ref = request.client_ref if request is not None else None
        request_json = None
        if request is not None and client_ref is not None:
            request_json = canonical_json(request.to_json())
            self.refs.append(
                {
                    "issuer": receipt.issuer.code,
                    "reference": client_ref,
                    "code": receipt.code,
                    "number": receipt.number,
                    "request": request_json,
                }
            )
        payload = receipt_event_payload(receipt, digest, client_ref, request_json)
        if sharing is not None:
            # What the shares are recomputed from besides the signed receipt (``ledger audit``).
            payload["sharing"] = {
                "situation": sharing.situation.value,
                "rules": sharing.digest,
                "on": sharing.on.isoformat(),
            }
        self.events.append(next_event(state, "receipt.issued", payload, receipt.issued_at))
        return digest

    def insert(self, session: Session) -> None:
        """Insert what was added since the last call."""
        for table, rows in (
            (Event, self.events),
            (ReceiptRow, self.receipts),
            (ReceiptItemRow, self.items),
            (ClientReference, self.refs),
            (ReceiptShareRow, self.shares),
        ):
            if rows:
                bulk_insert(session, table, rows)
                rows.clear()


def bulk_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` in the session's transaction: PostgreSQL's COPY where it
    is available (psycopg would otherwise send one INSERT per row), executemany elsewhere.
    Receipts' years get their partitions first (receipts.ledger.partitions); their items come
    after them, in the same years."""
    if table is ReceiptRow:
        ensure_years(session, {row["issue_year"] for row in rows})
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    from psycopg import sql

    columns = list(rows[0])
    types = _binary_types(connection.dialect, table, columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        sql.Identifier(table.__tablename__),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(" (FORMAT BINARY)" if types else ""),
    )
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        if types:
            copy.set_types(types)
        for row in rows:
            copy.write_row([row[column] for column in columns])


#: PostgreSQL type names of a table's columns for a binary COPY, by (table, columns).
_COPY_TYPES: dict[tuple[str, tuple[str, ...]], list[str] | None] = {}


def _binary_types(dialect: Any, table: Any, columns: list[str]) -> list[str] | None:
    """The columns' PostgreSQL types, for a COPY in binary format: a receipt's XML goes as its
    bytes, not as text twice its size that the server decodes again (a COPY of 10,000 receipts
    took ~35% less time on the server, docs/operations.md, "Importing large packages"); the
    server checks each value against its column's type and length as for text. None (text
    format) when a type is one psycopg has no binary dumper for.

    VARCHAR and CHAR columns are sent with psycopg's binary text dumper: the binary forms of
    text, varchar and bpchar are the same bytes (the server's varchar_recv and bpchar_recv read
    them as textrecv does, then check the column's length), and psycopg 3.1.4 (the
    floor, constraints/floors.txt) has no binary dumper registered under varchar itself."""
    key = (table.__tablename__, tuple(columns))
    if key not in _COPY_TYPES:
        _COPY_TYPES[key] = _binary_type_names(dialect, table, columns)
    return _COPY_TYPES[key]


#: Text-like PostgreSQL types whose binary form is text's.
_SENT_AS_TEXT = {"varchar": "text", "bpchar": "text", "char": "text"}


def _binary_type_names(dialect: Any, table: Any, columns: list[str]) -> list[str] | None:
    import psycopg
    from psycopg import pq

    names: list[str] = []
    for column in columns:
        compiled = table.__table__.columns[column].type.compile(dialect=dialect)
        name = re.sub(r"\(.*?\)", "", compiled).strip().lower()
        info = psycopg.adapters.types.get(_SENT_AS_TEXT.get(name, name))
        if info is None:
            return None
        try:
            psycopg.adapters.get_dumper_by_oid(info.oid, pq.Format.BINARY)
        except psycopg.ProgrammingError:
            return None
        names.append(info.name)
    return names


def receipt_event_payload(
    receipt: Receipt, digest: str, client_ref: str | None, request_json: str | None
) -> dict[str, object]:
    """What the event log says of an issued receipt (audit re-derives the rows from it)."""
    payload: dict[str, object] = {
        "code": receipt.code,
        "number": receipt.number,
        "digest": digest,
        "issuer": receipt.issuer.code,
        "kind": receipt.kind.value,
        "total": format_amount(receipt.total),
    }
    if receipt.original is not None:
        payload["original"] = {"code": receipt.original.code, "number": receipt.original.number}
    if client_ref is not None and request_json is not None:
        payload["client_ref"] = client_ref
        payload["request_sha256"] = hashlib.sha256(request_json.encode()).hexdigest()
    return payload


def receipt_columns(receipt: Receipt, xml: bytes, digest: str) -> dict[str, Any]:
    """The queryable columns of a receipt (every one re-derivable from ``xml``)."""
    payer = receipt.payer
    return {
        "code": receipt.code,
        "number": receipt.number,
        "issue_year": issue_year(receipt.code),
        "digest": digest,
        "issuer": receipt.issuer.code,
        "kind": receipt.kind.value,
        "issued_at": receipt.issued_at.astimezone(UTC),
        "period": month_of(receipt.issued_at),
        "check_code": receipt.check_code,
        "payer_name": payer.name,
        "payer_kind": payer.kind.value,
        "payer_id": payer.uscc or payer.other_id,
        "total_fen": to_fen(receipt.total),
        "original_code": receipt.original.code if receipt.original else None,
        "original_number": receipt.original.number if receipt.original else None,
        "xml": xml,
    }


def item_columns(receipt: Receipt) -> list[dict[str, Any]]:
    """A row per receipt line, for statistics."""
    return [
        {
            "code": receipt.code,
            "number": receipt.number,
            "line": n,
            "issue_year": issue_year(receipt.code),
            "item_code": item.code,
            "item_period": item.period,
            "amount_fen": to_fen(item.amount),
        }
        for n, item in enumerate(receipt.items, 1)
    ]
