"""A federation's signed settlement statement for a month (docs/settlement.md, "Statements"):
what it owes upward (上解) and back to grassroots unions (回拨), with every receipt behind it.

Made from the stored shares (one GROUP BY for the totals, one for the receipts), signed with the
federation's key (``schemas/settlement.xsd``), recorded as a ``settlement.made`` event; the tier
above imports it (``settlement.imported``) after verifying the signature and that it comes from
one of its children.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receipts.domain import divisions
from receipts.domain.money import format_amount, from_fen
from receipts.domain.sharing import PARTY_ORDER, Party
from receipts.domain.signed_documents import verify_document
from receipts.errors import InvalidInput
from receipts.ledger.database import Database
from receipts.ledger.events import append_event, sign_head
from receipts.ledger.models import ReceiptShareRow, SettlementStatementRow, SettlementTransferRow
from receipts.pki.signer import ReceiptSigner
from receipts.settlement.shares import PARTY_COLUMNS, Totals, covered
from receipts.settlement.tax_lines import StatementTax, period_tax_lines, settled_totals
from receipts.support.sizes import MAX_MANIFEST_BYTES
from signing.trust import ChainValidator

__all__ = [
    "SETTLEMENT_NS",
    "Statement",
    "StatementReceipt",
    "check_period",
    "check_statement",
    "import_statement",
    "make_statement",
    "period_receipts",
    "read_statement",
    "record_imported",
]

SETTLEMENT_NS = "urn:union-dues-receipt:settlement:1"
_S = f"{{{SETTLEMENT_NS}}}"
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def check_period(period: str) -> str:
    """``period`` if it is a month ``YYYY-MM``; refused in one line otherwise."""
    if not isinstance(period, str) or not _PERIOD.fullmatch(period):
        raise InvalidInput(f"period {period!r} must be a month YYYY-MM")
    return period


@dataclass(frozen=True)
class StatementReceipt:
    """One receipt of a statement: its total and each party's share, in fen."""

    issuer: str
    code: str
    number: int
    total: int
    shares: dict[Party, int]

    @property
    def label(self) -> str:
        """``CODE-NUMBER``."""
        return f"{self.code}-{self.number:010d}"


@dataclass(frozen=True)
class Statement:
    """A statement as signed."""

    federation: str
    upstream: str | None
    period: str
    made_at: datetime
    totals: Totals
    receipts: tuple[StatementReceipt, ...]
    transfers: tuple[tuple[str, date, int, str], ...]
    """(payee, paid on, fen, reference) of each transfer recorded for the period."""
    taxes: tuple[StatementTax, ...] = ()
    """The federation's own tax-collected records (税务代收) of the period."""


def period_receipts(session: Session, federation: str, period: str) -> list[StatementReceipt]:
    """Every receipt behind ``federation``'s settlement of ``period``, its lines summed."""
    query = (
        select(
            ReceiptShareRow.issuer,
            ReceiptShareRow.code,
            ReceiptShareRow.number,
            func.sum(ReceiptShareRow.amount_fen),
            *(func.sum(c) for c in PARTY_COLUMNS.values()),
        )
        .where(ReceiptShareRow.period == period, covered(federation))  # type: ignore[arg-type]
        .group_by(ReceiptShareRow.issuer, ReceiptShareRow.code, ReceiptShareRow.number)
        .order_by(ReceiptShareRow.issuer, ReceiptShareRow.code, ReceiptShareRow.number)
    )
    return [
        StatementReceipt(
            issuer,
            code,
            number,
            int(total),
            dict(zip(PARTY_ORDER, (int(s) for s in sums), strict=True)),
        )
        for issuer, code, number, total, *sums in session.execute(query)
    ]


def make_statement(db: Database, signer: ReceiptSigner, period: str) -> tuple[Statement, bytes]:
    """Make, sign and record this federation's statement of ``period``."""
    federation = signer.org_code
    check_period(period)
    now = datetime.now(UTC).replace(microsecond=0)
    with db.write() as (session, state):
        taxes = period_tax_lines(session, federation, period)
        totals = settled_totals(session, federation, period, taxes)
        receipts = period_receipts(session, federation, period)
        transfers = tuple(
            (t.payee, t.paid_on, t.amount_fen, t.reference)
            for t in session.scalars(
                select(SettlementTransferRow)
                .where(
                    SettlementTransferRow.federation == federation,
                    SettlementTransferRow.period == period,
                )
                .order_by(SettlementTransferRow.event_seq)
            )
        )
        statement = Statement(
            federation,
            divisions.upstream_of(federation),
            period,
            now,
            totals,
            tuple(receipts),
            transfers,
            tuple(taxes),
        )
        document = signer.sign_document(_to_element(statement), now)
        _record(session, state, "out", statement, document)
        sign_head(session, state, signer)
    return statement, document


def import_statement(
    db: Database, data: bytes, validator: ChainValidator, signer: ReceiptSigner
) -> tuple[Statement, bool]:
    """Verify and record a child's statement sent to this federation; (statement, new)."""
    statement = check_statement(data, validator, signer.org_code)
    with db.write() as (session, state):
        if not record_imported(session, state, statement, data):
            return statement, False
        sign_head(session, state, signer)
    return statement, True


def check_statement(data: bytes, validator: ChainValidator, me: str) -> Statement:
    """A child's signed statement, verified and addressed to ``me`` (refused in one line)."""
    statement = read_statement(data, validator)
    if statement.upstream != me or divisions.upstream_of(statement.federation) != me:
        raise InvalidInput(
            f"settlement statement of {statement.federation} is addressed to "
            f"{statement.upstream}, not to {me}"
        )
    return statement


def record_imported(session: Session, state: Any, statement: Statement, data: bytes) -> bool:
    """Record a checked statement (``settlement.imported``) unless the same file was; True when
    it was new. The caller signs the chain head."""
    digest = hashlib.sha256(data).hexdigest()
    known = session.scalar(
        select(SettlementStatementRow.id).where(
            SettlementStatementRow.direction == "in", SettlementStatementRow.digest == digest
        )
    )
    if known is not None:
        return False
    _record(session, state, "in", statement, data)
    return True


def latest_statement(
    session: Session, direction: str, federation: str, period: str
) -> SettlementStatementRow | None:
    """The newest statement of ``federation`` for ``period`` made here or imported."""
    return session.scalars(
        select(SettlementStatementRow)
        .where(
            SettlementStatementRow.direction == direction,
            SettlementStatementRow.federation == federation,
            SettlementStatementRow.period == period,
        )
        .order_by(SettlementStatementRow.event_seq.desc())
        .limit(1)
    ).first()


def _record(
    session: Session, state: Any, direction: str, statement: Statement, data: bytes
) -> None:
    digest = hashlib.sha256(data).hexdigest()
    event = append_event(
        session,
        state,
        "settlement.made" if direction == "out" else "settlement.imported",
        {
            "federation": statement.federation,
            "period": statement.period,
            "digest": digest,
            "upward": format_amount(from_fen(statement.totals.upward)),
            "grassroots": format_amount(from_fen(statement.totals.grassroots)),
        },
    )
    session.add(
        SettlementStatementRow(
            direction=direction,
            federation=statement.federation,
            period=statement.period,
            digest=digest,
            document=data,
            upward_fen=statement.totals.upward,
            grassroots_fen=statement.totals.grassroots,
            made_at=statement.made_at,
            event_seq=event.seq,
        )
    )


def _amount(fen: int) -> str:
    return format_amount(from_fen(fen))


def _to_element(statement: Statement) -> etree._Element:
    nsmap: Any = {None: SETTLEMENT_NS}
    root = etree.Element(_S + "SettlementStatement", nsmap=nsmap, version="1")
    etree.SubElement(root, _S + "Federation").text = statement.federation
    if statement.upstream is not None:
        etree.SubElement(root, _S + "Upstream").text = statement.upstream
    etree.SubElement(root, _S + "Period").text = statement.period
    etree.SubElement(root, _S + "MadeAt").text = statement.made_at.isoformat()
    t = statement.totals
    etree.SubElement(
        root,
        _S + "Totals",
        upward=_amount(t.upward),
        grassroots=_amount(t.grassroots),
        downward=_amount(t.downward),
        retained=_amount(t.retained),
        income=_amount(t.income),
    )
    block: etree._Element | None = None
    for r in statement.receipts:
        if block is None or block.get("code") != r.issuer:
            block = etree.SubElement(root, _S + "Issuer", code=r.issuer)
        attributes = {"code": r.code, "number": f"{r.number:010d}", "total": _amount(r.total)}
        attributes |= {p.value: _amount(r.shares[p]) for p in PARTY_ORDER}
        etree.SubElement(block, _S + "Receipt", attributes)
    for x in statement.taxes:
        attributes = {
            "voucher": x.voucher,
            "payer": x.payer,
            "period": x.period,
            "item": x.item,
            "collectedOn": x.collected_on.isoformat(),
            "amount": _amount(x.amount),
        }
        attributes |= {p.value: _amount(x.shares[p]) for p in PARTY_ORDER}
        etree.SubElement(root, _S + "Tax", attributes)
    for payee, paid_on, fen, reference in statement.transfers:
        etree.SubElement(
            root,
            _S + "Transfer",
            payee=payee,
            paidOn=paid_on.isoformat(),
            amount=_amount(fen),
            reference=reference,
        )
    return root


def read_statement(data: bytes, validator: ChainValidator) -> Statement:
    """A signed statement, verified (signature, chain, schema, signer = its federation) and
    checked: its totals must be its receipts' (refused in one line otherwise)."""
    root, signer_org = verify_document(
        data,
        validator,
        expected_org=None,
        schema="settlement.xsd",
        what="settlement statement",
        max_bytes=MAX_MANIFEST_BYTES,
    )
    federation = root.findtext(_S + "Federation") or ""
    if signer_org != federation:
        raise InvalidInput(
            f"settlement statement of {federation} is signed by {signer_org}, not by it"
        )
    totals = root.find(_S + "Totals")
    assert totals is not None  # the schema requires it
    receipts = tuple(
        StatementReceipt(
            block.get("code", ""),
            r.get("code", ""),
            int(r.get("number", "0")),
            _fen(r.get("total")),
            {p: _fen(r.get(p.value)) for p in PARTY_ORDER},
        )
        for block in root.iterfind(_S + "Issuer")
        for r in block.iterfind(_S + "Receipt")
    )
    transfers = tuple(
        (
            t.get("payee", ""),
            date.fromisoformat(t.get("paidOn", "")),
            _fen(t.get("amount")),
            t.get("reference", ""),
        )
        for t in root.iterfind(_S + "Transfer")
    )
    taxes = tuple(
        StatementTax(
            x.get("voucher", ""),
            x.get("payer", ""),
            x.get("period", ""),
            x.get("item", ""),
            date.fromisoformat(x.get("collectedOn", "")),
            _fen(x.get("amount")),
            {p: _fen(x.get(p.value)) for p in PARTY_ORDER},
        )
        for x in root.iterfind(_S + "Tax")
    )
    return Statement(
        federation,
        root.findtext(_S + "Upstream"),
        root.findtext(_S + "Period") or "",
        datetime.fromisoformat(root.findtext(_S + "MadeAt") or ""),
        Totals(
            *(
                _fen(totals.get(name))
                for name in ("upward", "grassroots", "downward", "retained", "income")
            )
        ),
        receipts,
        transfers,
        taxes,
    )


def _fen(text: str | None) -> int:
    # The schema allows only -?digits.dd, so this is exact (and a period's totals may exceed
    # the largest amount one receipt may have, which parse_amount would refuse).
    return int(Decimal(text or "0").scaleb(2))
