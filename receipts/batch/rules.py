"""Union-finance rules over a whole batch file: every receipt checked, every violation reported
at its row, so that a file breaking a rule can be refused whole (docs/formats.md,
"Union-finance rules")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from receipts.batch.fields import BatchEntry, BatchProblem
from receipts.domain.finance_rules import FinanceRules
from receipts.domain.model import Payer

__all__ = ["payer_problems", "rule_problems"]


def rule_problems(
    path: str, entries: Iterable[BatchEntry], rules: FinanceRules, today: date
) -> list[BatchProblem]:
    """Every rule violation of ``entries`` issued on ``today``, at the row of the item it is
    about (a CSV row is one item) or the receipt's first row, in row order."""
    out: list[BatchProblem] = []
    for entry in entries:
        for violation in rules.violations(entry.request, today):
            line = entry.line
            if violation.item is not None and len(entry.item_lines) >= violation.item:
                line = entry.item_lines[violation.item - 1]
            ref = entry.request.client_ref
            out.append(BatchProblem(path, line, None, f"reference {ref}: {violation}"))
    out.sort(key=lambda problem: problem.line)
    return out


def payer_problems(
    path: str, entries: Iterable[BatchEntry], mismatch: Callable[[Payer], str | None]
) -> list[BatchProblem]:
    """Every receipt whose payer the payer register contradicts (``mismatch`` says why), at the
    receipt's first row (docs/operations.md, "The payer register")."""
    out: list[BatchProblem] = []
    for entry in entries:
        why = mismatch(entry.request.payer)
        if why is not None:
            ref = entry.request.client_ref
            out.append(BatchProblem(path, entry.line, None, f"reference {ref}: {why}"))
    return out
