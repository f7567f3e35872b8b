"""What the statistics' triggers read, seen through ``auto_explain``: the plans of the nested
statements a write runs (the triggers' own), with the loops each scan actually executed
(tests/test_partitions_red_original.py, tests/test_partitions_stats_lines.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, text

__all__ = ["scans_of_partitions", "trigger_plans"]


def trigger_plans(conn: Connection, write: Callable[[], object], marker: str) -> list[Any]:
    """Run ``write`` on ``conn`` with auto_explain on; the JSON plans of the statements whose
    text holds ``marker``."""
    driver = conn.connection.driver_connection
    assert driver is not None
    notices: list[str] = []
    driver.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary))
    for setting in (
        "LOAD 'auto_explain'",
        "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_nested_statements = on",
        "SET auto_explain.log_analyze = on",
        "SET auto_explain.log_format = 'json'",
        "SET auto_explain.log_level = 'notice'",
    ):
        conn.execute(text(setting))
    write()
    conn.execute(text("RESET ALL"))
    return [
        json.loads(notice[notice.index("{") :])
        for notice in notices
        if marker in notice and "{" in notice
    ]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def scans_of_partitions(plans: list[Any], alias: str, table: str) -> dict[str, int]:
    """The loops executed by the scans aliased ``alias`` (or ``alias_N``) of ``table``'s
    partitions in ``plans``, by partition (the most a plan ran any of them)."""
    named = re.compile(rf"{alias}(_[0-9]+)?")
    loops: dict[str, int] = {}
    for document in plans:
        for node in _nodes(document["Plan"]):
            relation = str(node.get("Relation Name", ""))
            if named.fullmatch(str(node.get("Alias", ""))) and relation.startswith(f"{table}_"):
                loops[relation] = max(loops.get(relation, 0), int(node.get("Actual Loops", 0)))
    return loops
