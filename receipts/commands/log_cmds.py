"""``receipts log``: who did what, from the hash-chained event log (docs/operations.md,
"Operators")."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import click

from receipts.commands.runtime import Context, with_context
from receipts.commands.tables import format_table
from receipts.errors import InvalidInput

__all__ = ["log"]

_SUMMARY_CHARS = 60


@click.command(
    "log",
    epilog="\b\nExamples:\n  receipts log --operator 张晓梅 --since 2026-11-01\n"
    "  receipts log --kind receipt. --until 2026-12-01 --json",
)
@click.option("--operator", "who", help="Only this operator's events ('-': those without one).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    help="Only this kind (repeatable); a prefix ending in '.' (receipt.) matches a family.",
)
@click.option("--since", help="From this day (YYYY-MM-DD, workspace time zone), inclusive.")
@click.option("--until", help="Up to this day (YYYY-MM-DD), inclusive.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_context
def log(
    ctx: Context,
    who: str | None,
    kinds: tuple[str, ...],
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Who did what: the event log by operator, kind and time."""
    from receipts.audit.operators import NO_OPERATOR, event_log

    ctx.json = ctx.json or as_json
    ws = ctx.workspace()
    zone = ws.config.zone
    start = _day(since, "--since", zone)
    last = _day(until, "--until", zone)
    end = None if last is None else last + timedelta(days=1)
    with ctx.database(ws).read() as session:
        entries = event_log(session, operator=who, kinds=kinds, since=start, until=end)
    rows = [
        [
            str(e.seq),
            f"{e.at.astimezone(zone):%Y-%m-%d %H:%M:%S}",
            e.operator or NO_OPERATOR,
            e.kind,
            _summary(e.payload),
        ]
        for e in entries
    ]
    ctx.emit(
        [e.as_json() for e in entries],
        lambda: (
            format_table(["seq", "at", "operator", "kind", "facts"], rows) if rows else "no events"
        ),
    )


def _day(text: str | None, option: str, zone: tzinfo) -> datetime | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{option} {text!r} is not a day (YYYY-MM-DD)") from None
    local = datetime.combine(day, time(), tzinfo=zone)
    return local.astimezone(UTC)


def _summary(payload: dict[str, object]) -> str:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"
