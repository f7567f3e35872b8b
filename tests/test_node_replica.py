"""Public reads from a real PostgreSQL hot standby, falling back to the primary when it lags or
fails (issue 19, item 3; receipts/node/replica.py)."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from receipts.errors import ConfigurationError
from receipts.issuing.issue import issue_batch
from receipts.ledger.database import Database
from receipts.ledger.migrate import initialise
from receipts.lookup import lookup
from receipts.node.config import ReplicaConfig, parse_serve_config
from receipts.node.replica import ReplicaRouter, lsn_value
from receipts.node.state import NodeState
from tests.support.ledger import make_issuer, request, stock_city
from tests.support.node import SeededCity, node_client, node_state, seeded_city
from tests.support.pg_standby import hot_standby
from tests.support.postgres import PgSchemas, pg_url_or_skip


def test_wal_positions_compare_as_numbers() -> None:
    assert lsn_value("0/16B3748") == 0x16B3748
    assert lsn_value("1/0") > lsn_value("0/FFFFFFFF")


def test_without_a_replica_every_read_goes_to_the_primary(tmp_path: Path) -> None:
    primary = Database(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    router = ReplicaRouter(primary, None)
    assert router.reader() is primary
    assert not router.check().usable


class _Standby:
    def __init__(self, primary: Database, replica: Database) -> None:
        self.primary, self.replica = primary, replica

    def wait_caught_up(self) -> None:
        router = ReplicaRouter(self.primary, self.replica)
        deadline = time.monotonic() + 30
        while router.check().reason != "caught up":
            assert time.monotonic() < deadline, router.check().reason
            time.sleep(0.1)


@pytest.fixture(scope="module")
def standby(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Standby]:
    """A city ledger in a schema of the test server, and a hot standby streaming it."""
    schemas = PgSchemas(pg_url_or_skip())
    url = schemas.new()
    primary = Database(url)
    initialise(primary, "640100")
    stock_city(primary, tmp_path_factory.mktemp("stock"), count=20)
    try:
        with hot_standby(url) as standby_url:
            replica = Database(standby_url)
            yield _Standby(primary, replica)
            replica.dispose()
    finally:
        primary.dispose()
        schemas.drop_all()


def test_look_ups_read_from_the_caught_up_standby(standby: _Standby) -> None:
    outcome = next(iter(issue_batch(standby.primary, make_issuer(), [request("R1", "12.50")])))
    standby.wait_caught_up()
    router = ReplicaRouter(standby.primary, standby.replica)
    reader = router.reader()
    assert reader is standby.replica, router.health.reason
    with reader.read() as session:
        assert session.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
    check = _check_code(standby.primary, outcome.ref)
    answer = lookup(reader, outcome.ref, check)
    assert answer.found and answer.total is not None and str(answer.total) == "12.50"
    # The standby refuses writes: the primary takes them.
    with pytest.raises(Exception, match="read-only"), reader.write():
        pass


def test_a_lagging_standby_sends_reads_to_the_primary(
    standby: _Standby, caplog: pytest.LogCaptureFixture
) -> None:
    _pause_replay(standby.replica)
    try:
        outcome = next(iter(issue_batch(standby.primary, make_issuer(), [request("R2", "3.00")])))
        time.sleep(0.3)
        router = ReplicaRouter(standby.primary, standby.replica, max_lag_seconds=0.0)
        with caplog.at_level(logging.WARNING, logger="receipts.node.replica"):
            assert router.reader() is standby.primary
        assert "lags" in router.health.reason
        assert any("public reads from the primary" in r.message for r in caplog.records)
        # The receipt issued while replay was paused is found through the primary.
        check = _check_code(standby.primary, outcome.ref)
        assert lookup(router.reader(), outcome.ref, check).found
        assert not lookup(standby.replica, outcome.ref, check).found
    finally:
        _resume_replay(standby.replica)
    standby.wait_caught_up()


def test_wal_written_without_a_commit_is_not_taken_for_lag(standby: _Standby) -> None:
    """On a quiet primary the WAL still moves (here a checkpoint) while the last commit grows old:
    the standby is then behind in bytes, and the age of its last replayed commit says nothing of
    what it misses. The router bounds the lag by when the primary stood where the standby is."""
    standby.wait_caught_up()
    clock = [100.0]
    router = ReplicaRouter(
        standby.primary, standby.replica, max_lag_seconds=0.2, clock=lambda: clock[0]
    )
    # Notes where the primary stands at 100.0 (other tests write to the same cluster meanwhile).
    deadline = time.monotonic() + 30
    while router.check().reason != "caught up":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    _pause_replay(standby.replica)
    try:
        with standby.primary.engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
        time.sleep(0.3)  # the standby's last commit is now older than max_lag_seconds
        clock[0] += 0.1
        health = router.check()
        assert health.usable and health.reason == "behind by 0.1 s", health.reason
        # A router that never saw the primary where the standby stands can only go by the last
        # commit replayed, and errs towards the primary.
        fresh = ReplicaRouter(standby.primary, standby.replica, max_lag_seconds=0.2)
        assert not fresh.check().usable
        # Replay stays paused: the bound grows with the router's clock, and a commit on the
        # primary changes nothing of it.
        list(issue_batch(standby.primary, make_issuer(), [request("R3", "1.00")]))
        clock[0] += 1.0
        health = router.check()
        assert not health.usable and health.reason == "replica lags by 1.1 s", health.reason
    finally:
        _resume_replay(standby.replica)
    # Replaying again, it catches up (other tests' writes may keep it a moment behind).
    deadline = time.monotonic() + 30
    while (reason := router.check().reason) != "caught up":
        assert time.monotonic() < deadline, reason
        clock[0] += 0.01
        time.sleep(0.05)


def test_a_standby_read_in_another_ledger_is_not_used(standby: _Standby, tmp_path: Path) -> None:
    """replica_url naming the right standby but another schema (or database) of it: however well
    it keeps up, it holds another ledger, and the router says so instead of serving from it."""
    schemas = PgSchemas(pg_url_or_skip())
    try:
        other = Database(schemas.new())
        initialise(other, "640100")
        stock_city(other, tmp_path, count=5)  # its own first event
        other_query = make_url(other.url).query
        other.dispose()
        # The standby, read with the other schema's search_path.
        replica_url = make_url(standby.replica.url)
        elsewhere = Database(str(replica_url.set(query={**replica_url.query, **other_query})))
        router = ReplicaRouter(standby.primary, elsewhere)
        # Until the other ledger reaches the standby, its tables are not there to read.
        deadline = time.monotonic() + 30
        while (health := router.check()).reason != _ANOTHER_LEDGER:
            assert time.monotonic() < deadline, health.reason
            time.sleep(0.05)
        assert not health.usable
        elsewhere.dispose()
    finally:
        schemas.drop_all()


_ANOTHER_LEDGER = "replica holds another ledger (its first event differs)"


def test_a_standby_with_another_history_of_the_ledger_is_not_used(standby: _Standby) -> None:
    """After a failover, a standby left following the old primary holds the same ledger (the
    same first event) but another history: the transactions the new primary lost, then events
    of the same numbers with other contents. Here the router's primary is a copy of the ledger's
    events taken as the new primary, while the standby follows the old one, which goes on."""
    standby.wait_caught_up()
    schemas = PgSchemas(pg_url_or_skip())
    try:
        copy_url = schemas.new()
        with standby.primary.engine.begin() as connection:
            old = connection.execute(text("SELECT current_schema()")).scalar()
            options = make_url(copy_url).query["options"]
            assert isinstance(options, str)
            new_schema = options.rpartition("=")[2]
            connection.execute(
                text(f"CREATE TABLE {new_schema}.events (LIKE {old}.events INCLUDING ALL)")
            )
            connection.execute(text(f"INSERT INTO {new_schema}.events SELECT * FROM events"))
            last = connection.execute(text("SELECT max(seq) FROM events")).scalar_one()
        new_primary = Database(copy_url)
        router = ReplicaRouter(new_primary, standby.replica)
        _until_usable(router)  # one history so far
        # The old primary goes on: the standby replays events the new primary never had.
        list(issue_batch(standby.primary, make_issuer(), [request("R4", "2.00")]))
        standby.wait_caught_up()
        with standby.replica.engine.connect() as connection:
            replayed = connection.execute(text("SELECT max(seq) FROM events")).scalar_one()
        assert replayed > last
        health = router.check()
        assert not health.usable
        assert health.reason == (
            f"replica holds event {replayed}, which the primary does not (another history)"
        )
        # The new primary writes events of the same numbers, the last one its own.
        with new_primary.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO events (seq, at, kind, payload, prev_hash, hash, operator)"
                    " SELECT seq, at, kind, payload, prev_hash,"
                    " CASE WHEN seq = :last THEN md5(hash) || md5(hash) ELSE hash END, operator"
                    f" FROM {old}.events WHERE seq > :first AND seq <= :last"
                ),
                {"first": last, "last": replayed},
            )
        health = router.check()
        assert not health.usable
        assert health.reason == f"replica's event {replayed} is not the primary's (another history)"
        # The same events again: one history, and the standby is taken back.
        with new_primary.engine.begin() as connection:
            connection.execute(
                text(
                    f"UPDATE events SET hash = (SELECT hash FROM {old}.events WHERE seq = :s)"
                    " WHERE seq = :s"
                ),
                {"s": replayed},
            )
        _until_usable(router)
        new_primary.dispose()
    finally:
        schemas.drop_all()


def _until_usable(router: ReplicaRouter) -> None:
    # The copy's own writes are WAL the standby replays a moment later.
    deadline = time.monotonic() + 30
    while not (health := router.check()).usable:
        assert time.monotonic() < deadline, health.reason
        time.sleep(0.05)


def _pause_replay(replica: Database) -> None:
    with replica.engine.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_pause()"))
        connection.commit()
        deadline = time.monotonic() + 10
        while connection.execute(text("SELECT pg_get_wal_replay_pause_state()")).scalar() != (
            "paused"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.01)


def _resume_replay(replica: Database) -> None:
    with replica.engine.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_resume()"))
        connection.commit()


def test_an_unreachable_standby_sends_reads_to_the_primary(
    standby: _Standby, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the socket is closed
    down = Database(str(make_url(standby.replica.url).set(port=closed)))
    clock = [0.0]
    router = ReplicaRouter(standby.primary, down, check_seconds=1.0, clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="receipts.node.replica"):
        assert router.reader() is standby.primary
    assert "unreachable" in router.health.reason
    assert any("public reads from the primary" in r.message for r in caplog.records)
    # Checked again only after check_seconds; the real standby would then be taken back.
    router.replica = standby.replica
    clock[0] += 0.5
    assert router.reader() is standby.primary
    clock[0] += 1.0
    assert router.reader() is standby.replica
    down.dispose()


def _check_code(db: Database, ref: object) -> str:
    from receipts.ledger.queries import load_receipt

    return load_receipt(db, ref).receipt.check_code  # type: ignore[arg-type]


# The node: [serve] replica_url -------------------------------------------------------------


@pytest.fixture(scope="module")
def replicated_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SeededCity, str]]:
    """The seeded city on PostgreSQL, and the URL of a hot standby streaming it."""
    schemas = PgSchemas(pg_url_or_skip())
    try:
        city = seeded_city(tmp_path_factory.mktemp("node"), schemas.new())
        assert city.db is not None
        with hot_standby(city.db) as standby_url:
            yield city, standby_url
    finally:
        schemas.drop_all()


def _traced(state: NodeState) -> list[str]:
    served: list[str] = []
    state.reader.trace = lambda _sql: served.append("primary")
    assert state.replica_reader is not None
    state.replica_reader.trace = lambda _sql: served.append("replica")
    return served


def test_the_node_answers_look_ups_from_the_replica(
    replicated_city: tuple[SeededCity, str],
) -> None:
    city, standby_url = replicated_city
    assert city.db is not None
    _Standby(Database(city.db), Database(standby_url)).wait_caught_up()
    state = node_state(city, replica=ReplicaConfig(standby_url, check_seconds=0.1))
    # The node's router judges the standby by itself: its first check can find it a few WAL
    # bytes behind (the primary writes WAL on other schemas, or without commits) and go by the
    # last commit replayed; a check later it has a position of its own to go by.
    deadline = time.monotonic() + 30
    while state.router.reader() is state.db:
        assert time.monotonic() < deadline, state.router.health.reason
        time.sleep(0.05)
    served = _traced(state)
    with node_client(state) as client:
        valid = client.get("/api/v1/lookup", params=city.query(2))
        assert valid.json()["found"] and valid.json()["status"] == "issued"
        assert served == ["replica"]
        # Not found, or anything but valid (the reversed receipt 1): the primary is asked too,
        # so a lagging replica is never the last word, and not-found costs the same either way.
        served.clear()
        missing = client.get("/api/v1/lookup", params=city.query(2, check="zzzzzz"))
        assert missing.json()["found"] is False
        assert served == ["replica", "primary"]
        served.clear()
        reversed_ = client.get("/api/v1/lookup", params=city.query(1))
        assert reversed_.json()["status"] == "reversed"
        assert served == ["replica", "primary"]


def test_the_node_reads_the_primary_when_the_replica_is_down(
    replicated_city: tuple[SeededCity, str],
) -> None:
    city, standby_url = replicated_city
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = str(make_url(standby_url).set(port=closed))
    state = node_state(city, replica=ReplicaConfig(down))
    served = _traced(state)
    with node_client(state) as client:
        valid = client.get("/api/v1/lookup", params=city.query(2))
    assert valid.status_code == 200 and valid.json()["status"] == "issued"
    assert served == ["primary"]
    assert "unreachable" in state.router.health.reason


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"replica_url": "sqlite:///x.sqlite"}, "must be a postgresql:// URL"),
        ({"replica_url": "postgresql://u:secret@h/db"}, "must not carry a password"),
        ({"replica_max_lag_seconds": 3}, "needs replica_url"),
        (
            {"replica_url": "postgresql://h/db", "replica_check_seconds": 0},
            "replica_check_seconds must be a number from 0.1 to 60",
        ),
    ],
)
def test_a_bad_replica_setting_is_one_clear_line(
    tmp_path: Path, table: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_serve_config(table, tmp_path)
