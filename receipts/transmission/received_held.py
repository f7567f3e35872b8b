"""The receipts of a received chunk that this ledger holds already, looked up per code with the
code's year named, for :class:`receipts.transmission.received_receipts.ReceiptStore`
(docs/operations.md, "Importing large packages")."""

from __future__ import annotations

from sqlalchemy import ARRAY, BigInteger, Select, bindparam, func, select, true
from sqlalchemy.orm import Session

from receipts.ledger.models import ReceiptRow
from receipts.ledger.years import issue_year

__all__ = ["held_digests"]

#: Numbers per look-up of the receipts a ledger holds already (SQLite).
_LOOKUP = 500


def held_digests(session: Session, keys: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The digests of the receipts among ``keys`` (codes of verified receipts) the ledger
    holds already. Per code, with its year named, so PostgreSQL reads that year's partition
    only; on SQLite in batches of :data:`_LOOKUP` numbers (``IN``), on PostgreSQL the code's
    numbers as one array, each probed through the primary key (:func:`_probes`)."""
    numbers: dict[str, list[int]] = {}
    for code, number in keys:
        numbers.setdefault(code, []).append(number)
    postgres = session.connection().dialect.name == "postgresql"
    found: dict[tuple[str, int], str] = {}
    for code, wanted in numbers.items():
        step = len(wanted) if postgres else _LOOKUP
        for start in range(0, len(wanted), step):
            some = wanted[start : start + step]
            query = (
                _probes(code, some)
                if postgres
                else select(ReceiptRow.number, ReceiptRow.digest).where(
                    ReceiptRow.issue_year == issue_year(code),
                    ReceiptRow.code == code,
                    ReceiptRow.number.in_(some),
                )
            )
            for number, digest in session.execute(query):
                found[(code, number)] = digest
    return found


def _probes(code: str, numbers: list[int]) -> Select[tuple[int, str]]:
    """One primary-key probe per number, whatever the planner knows of the partition:
    ``unnest(numbers)`` joined LATERAL to a one-row read by (code, number), the read fenced
    with ``OFFSET 0`` so PostgreSQL cannot flatten it into a scan of the code's rows.

    An import writes its receipts in one transaction, often into a partition it created, which
    nobody has analysed: the planner took the code's rows to be a few and read them all (a
    bitmap scan of the code, ``number = ANY`` checked row by row against the 2,000 numbers).
    Thirteen minutes into a million-receipt import each chunk's look-up took ~9 s, growing
    with the rows written, and the import did not finish (docs/operations.md, "Importing
    large packages"); tests/test_received_held.py asserts the probes on such a partition."""
    numbers_array = bindparam("numbers", numbers, ARRAY(BigInteger))
    wanted = func.unnest(numbers_array).table_valued("n").render_derived(name="wanted")
    one = (
        select(ReceiptRow.number, ReceiptRow.digest)
        .where(
            ReceiptRow.issue_year == issue_year(code),
            ReceiptRow.code == code,
            ReceiptRow.number == wanted.c.n,
        )
        .offset(0)
        .lateral("held")
    )
    return select(one.c.number, one.c.digest).select_from(wanted).join(one, true())
