"""The node's public look-up API (issue 16): ``GET /api/v1/lookup`` answers the status only when
every detail matches, and the same bytes for a wrong check code as for a missing receipt."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.node import SeededCity, node_client, node_state, seeded_city


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> SeededCity:
    return seeded_city(tmp_path_factory.mktemp("node"))


@pytest.fixture
def client(city: SeededCity) -> TestClient:
    return node_client(node_state(city))


def test_a_reversed_receipt_names_its_red_receipt(city: SeededCity, client: TestClient) -> None:
    answer = client.get("/api/v1/lookup", params=city.query(1))
    assert answer.status_code == 200
    assert answer.json() == {
        "found": True,
        "status": "reversed",
        "reversed_by": f"{city.code}-0000000003",
        "issuer": "640100",
        "issuer_name": "银川市总工会",
        "issued_on": answer.json()["issued_on"],
        "amount": "100.00",
        "payer": "宁夏********司",
    }
    assert answer.headers["cache-control"] == "no-store"


def test_an_issued_receipt_of_a_person(city: SeededCity, client: TestClient) -> None:
    body = client.get("/api/v1/lookup", params=city.query(2, amount="25.50")).json()
    assert (body["found"], body["status"], body["reversed_by"]) == (True, "issued", None)
    assert body["payer"] == "张**"
    assert body["amount"] == "25.50"


def test_a_wrong_check_code_and_a_missing_receipt_give_the_same_bytes(
    city: SeededCity, client: TestClient
) -> None:
    wrong = client.get("/api/v1/lookup", params=city.query(2, check="zzzzzz"))
    missing = client.get("/api/v1/lookup", params=city.query(2, number="7"))
    written_off = client.get("/api/v1/lookup", params=city.query(2, number="11"))
    amount = client.get("/api/v1/lookup", params=city.query(2, amount="25.51"))
    assert wrong.status_code == missing.status_code == 200
    assert wrong.content == missing.content == written_off.content == amount.content
    assert wrong.json()["found"] is False


def test_the_check_code_in_either_case(city: SeededCity, client: TestClient) -> None:
    check = city.receipts[2].check_code
    for typed in (check.upper(), check, check.capitalize()):
        assert client.get("/api/v1/lookup", params=city.query(2, check=typed)).json()["found"]


def test_health(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "ledger": True, "schema_at_head": True}


def test_health_is_unavailable_without_a_ledger(city: SeededCity, tmp_path: Path) -> None:
    state = node_state(city)
    state.db.engine.dispose()
    from receipts.ledger.database import Database

    state.db = Database(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    answer = node_client(state).get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "unavailable"
