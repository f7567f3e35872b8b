"""Reading CSV text the one way every import does (batch files, tax records, bank statements, the
payer register and wage bills): strict quoting, and each record numbered by the line it *starts*
on, since a quoted cell may hold line breaks and a user fixes a file at the line a message names.

``csv.reader`` knows only the line a record ended on (``line_num``), so the start of a record is
the line after the previous one ended. A malformed record (an unclosed quote, a stray quote in
strict mode) raises :class:`MalformedCsv` at the line that record starts on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from receipts.errors import InvalidInput

__all__ = ["MalformedCsv", "csv_records"]


class MalformedCsv(InvalidInput):
    """Text that is not valid CSV; ``line`` is where the unreadable record starts."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"not valid CSV: {reason}")
        self.line = line
        self.reason = reason


def csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each record of ``text`` with the line it starts on (1-based), empty records included."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    ended = 0  # the line the last record read ended on
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise MalformedCsv(ended + 1, str(error)) from None
        yield ended + 1, row
        ended = reader.line_num
