"""The node's busiest request, ``GET /api/v1/lookup``, is answered in plain ASGI
(``receipts.node.api.lookup_endpoint``) rather than by its FastAPI route (issue 16, performance):
it must answer exactly as the route does — the same status, bytes and headers for a match, a
miss, a wrong check code, every malformed query and a refused client, in the same order of
checks — and its look-ups read through the lean, read-only :class:`receipts.lookup.LookupReader`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from receipts.domain.model import ReceiptRef
from receipts.ledger.database import Database
from receipts.ledger.models import ReceiptRow
from receipts.lookup import LookupReader
from receipts.node.api import lookup_endpoint
from receipts.node.app import NodeApp, create_app
from receipts.node.config import RateLimit
from tests.support.node import SeededCity, node_state, seeded_city
from tests.support.postgres import PgSchemas


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> SeededCity:
    return seeded_city(tmp_path_factory.mktemp("node"))


def _queries(city: SeededCity) -> list[str]:
    """Query strings of every kind the route can meet (raw: duplicates and odd encodings)."""
    code, one, two = city.code, city.receipts[1], city.receipts[2]
    good = f"code={code}&number=2&check={two.check_code}"
    return [
        good,
        f"code={code}&number=1&check={one.check_code}",  # reversed
        f"code={code}&number=2&check={two.check_code.upper()}",
        good + f"&amount={two.total}",
        good + "&amount=1.00",  # wrong amount
        good + "&amount=abc",  # malformed amount
        f"code={code}&number=2&check=zzzzzz",  # wrong check code
        f"code={code}&number=9999&check=zzzzzz",  # missing receipt
        f"code={code}&number=%202%20&check={two.check_code}",  # blanks around
        f"code={code}&number=2",  # no check code
        "",  # nothing
        f"code={code}&number=2&check=",  # empty check code
        f"code={code}&number=2&check=" + "a" * 21,  # too long
        f"code={'1' * 21}&number={'2' * 21}&check=abcdef&amount={'9' * 31}",  # all too long
        f"code={code}&number=2&check=zzzzzz&check={two.check_code}",  # the last one counts
        f"code={code}&number=2&check={quote('čšž')}",  # not ASCII
        f"code={code}&number=x2&check=abcdef",  # malformed number
        "code=ABC&number=2&check=abcdef",  # malformed code
        f"code={code}&number=2&check={two.check_code}&extra=1",  # an unknown parameter
        f"code={code}&number=2&check=%ZZ",  # a broken escape
    ]


def _answer(client: TestClient, query: str) -> tuple[int, bytes, list[tuple[str, str]]]:
    answer = client.get(f"/api/v1/lookup?{query}" if query else "/api/v1/lookup")
    return answer.status_code, answer.content, sorted(answer.headers.multi_items())


def test_the_plain_asgi_look_up_answers_exactly_as_the_fastapi_route(city: SeededCity) -> None:
    """Two nodes over the same ledger, one answering through the plain ASGI endpoint and one
    through the FastAPI route, asked the same requests in the same order with a tight rate
    limit and a frozen clock: every answer the same, 429s (and their Retry-After) included."""
    tight = RateLimit(per_minute=60, burst=40, failed_lookup_cost=5, upload_cost=5, pdf_cost=3)
    fast_app = create_app(node_state(city, clock=lambda: 1000.0, rate=tight))
    route_app = create_app(node_state(city, clock=lambda: 1000.0, rate=tight), fast=False)
    assert isinstance(fast_app, NodeApp) and isinstance(route_app, NodeApp)
    assert fast_app.fast_lane is not None and route_app.fast_lane is None
    assert fast_app.fast_lane.endpoints == {("GET", "/api/v1/lookup"): lookup_endpoint}
    fast = TestClient(fast_app, raise_server_exceptions=False)
    route = TestClient(route_app, raise_server_exceptions=False)
    statuses = []
    for query in _queries(city) * 3:  # the third round runs out of tokens
        seen = _answer(fast, query)
        assert seen == _answer(route, query), query
        statuses.append(seen[0])
    assert {200, 422, 429} <= set(statuses)
    # Same path, other methods: the route's answer (405), not the plain endpoint's.
    assert fast.post("/api/v1/lookup").status_code == route.post("/api/v1/lookup").status_code


def _city_db(city: SeededCity) -> Database:
    return Database(city.db or f"sqlite:///{(city.home / 'ledger.sqlite').resolve()}")


def _reader_checks(city: SeededCity) -> None:
    db = _city_db(city)
    reader = LookupReader(db)
    try:
        row = reader.fetch(ReceiptRef(city.code, 2))
        assert row is not None and row[1] == city.receipts[2].check_code
        assert row[3].utcoffset() is not None  # the UTC timestamp as a session reads it
        assert reader.fetch(ReceiptRef(city.code, 9999)) is not None  # one row either way
        # Read-only: a write on a reader's connection is refused by the database.
        connection = reader._take()
        with pytest.raises(db.engine.dialect.loaded_dbapi.Error):
            connection.driver_connection.execute("DELETE FROM receipts")
        # A connection that died under the reader (a restarted database) is replaced.
        connection.driver_connection.close()
        reader._give_back(connection)
        assert reader.fetch(ReceiptRef(city.code, 2)) == row
        with db.read() as session:
            count = select(func.count()).select_from(ReceiptRow)
            assert session.execute(count).scalar() == len(city.receipts)  # nothing deleted
    finally:
        reader.close()
        db.dispose()


def test_the_reader_is_read_only_and_replaces_a_dead_connection(city: SeededCity) -> None:
    _reader_checks(city)


def test_the_reader_on_postgresql(tmp_path: Path, pg_schemas: PgSchemas) -> None:
    _reader_checks(seeded_city(tmp_path, db=pg_schemas.new()))


def test_the_access_log_line_is_the_json_the_encoder_makes(tmp_path: Path) -> None:
    """The access log writes its lines by hand (per-request cost): the same bytes as
    ``json.dumps`` of the fields, awkward paths included, and the same client hash."""
    import json
    from datetime import UTC, datetime

    from receipts.node.access_log import AccessLog, client_hash

    salt, now = b"s" * 32, 1764770000.1234
    log = AccessLog(str(tmp_path / "access.jsonl"), salt, lambda: now)
    cases = [
        ("GET", "/api/v1/lookup", 200, 0.00123, "127.0.0.1"),
        ("POST", '/x"y\\z\u2028é\x01/🙂', 413, 12.3456789, "::1"),
        ("GET", "/", 500, 0.0, "unknown"),
        ("GET", "/a", 200, 1e-7, "127.0.0.1"),
    ]
    for method, path, status, duration, client in cases:
        log.record(method, path, status, duration, client)
    log.close()
    fields = [
        {
            "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration * 1000, 2),
            "client": client_hash(salt, client),
        }
        for method, path, status, duration, client in cases
    ]
    expected = "".join(
        json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in fields
    )
    assert (tmp_path / "access.jsonl").read_bytes() == expected.encode()
