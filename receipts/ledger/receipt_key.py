"""Reading one receipt by its key with its year of issue named, so that PostgreSQL reads that
year's partition only (docs/operations.md, "Partitions by year of issue").

The ORM identifies a receipt by (code, number) (receipts.ledger.models), so
``session.get(ReceiptRow, (code, number))`` asks for ``code`` and ``number`` alone, and a
partitioned ledger probes the primary key of every year's partition and DEFAULT for it. The
year is a function of the code (the CHECK of migration 0015), so naming it changes no answer:
:func:`receipt_row` and :func:`receipt_key` name it whenever the code has one.

A code whose seventh and eighth characters are not two ASCII digits (a malformed one; no stored
receipt has one, docs/formats.md) is read as before, by code and number alone: it finds
nothing, as it did, rather than failing here.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from receipts.ledger.models import ReceiptRow
from receipts.ledger.years import issue_year

__all__ = ["receipt_key", "receipt_row", "year_of_code"]


def year_of_code(code: str) -> int | None:
    """The year of issue ``code`` names (receipts.ledger.years.issue_year), or None when its
    seventh and eighth characters are not two ASCII digits. For two ASCII digits Python's
    ``int`` and SQL's ``CAST`` (the CHECK) agree; for anything else (spaces, signs, other
    scripts' digits) they need not, and no year is better than a wrong one."""
    digits = code[6:8]
    if len(digits) != 2 or not (digits.isascii() and digits.isdigit()):
        return None
    return issue_year(code)


def receipt_key(code: str, number: int) -> list[ColumnElement[bool]]:
    """WHERE criteria for the receipt (code, number) of ``receipts``: with ``issue_year`` when
    the code names a year, for selects of some of its columns."""
    criteria = [ReceiptRow.code == code, ReceiptRow.number == number]
    year = year_of_code(code)
    if year is not None:
        criteria.append(ReceiptRow.issue_year == year)
    return criteria


def receipt_row(session: Session, code: str, number: int) -> ReceiptRow | None:
    """The row of receipt (code, number), or None: ``session.get`` with the year named. A row
    the session already holds is returned without a query, as ``session.get`` does."""
    key = (code, number)
    if year_of_code(code) is None or identity_key(ReceiptRow, key) in session.identity_map:
        return session.get(ReceiptRow, key)
    return session.scalars(select(ReceiptRow).where(*receipt_key(code, number))).one_or_none()
