"""A federation with operators runs its node as one of them (issues 15 and 16): the operator named
by RECEIPTS_OPERATOR and proved by RECEIPTS_OPERATOR_SECRET unlocks the signing key through their
key slot, and every event the node writes records them; without a name, with a wrong secret, or
as an auditor the node does not start."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from receipts.errors import NotPermitted
from receipts.ledger.models import Event
from receipts.node.state import NodeState
from receipts.transmission.http_client import PACKAGES_PATH
from tests.support.operators import SECRETS, as_operator, with_operators
from tests.support.tier_node import Tiers, node_app, package_of
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation
from tests.test_tier_api import PROVINCE, signed

CITY = "640100"


def _ok(home: Path, operator: str | None, *args: str) -> None:
    result = as_operator(home, operator, *args)
    assert result.exit_code == 0, result.output


def _world(tmp: Path) -> Tiers:
    province, city = tmp / PROVINCE, tmp / CITY
    with_operators(province, PROVINCE)
    t = Tiers({PROVINCE: province, CITY: city})
    federation(city, CITY)
    _ok(province, "李静", "org", "add", "--code", CITY)
    alloc = tmp / "alloc.xml"
    _ok(province, "李静", "stock", "allocate", "--to", CITY, "--count", "20", "-o", str(alloc))
    t.ok(CITY, "stock", "import", str(alloc))
    t.issue(CITY, "银川甲", "100.00")
    return t


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tiers:
    """A province with operators (李静 admin, 张晓梅 clerk, 王芳 auditor, …) and a city without,
    registered there and holding its stock, with one receipt issued."""
    monkeypatch.delenv("RECEIPTS_KEY_PASSPHRASE", raising=False)
    return _world(tmp_path)


@pytest.fixture(scope="module")
def refusing_world(tmp_path_factory: pytest.TempPathFactory) -> Tiers:
    """``world``, built once for the refusals: a node that does not start changes nothing."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("RECEIPTS_KEY_PASSPHRASE", raising=False)
        return _world(tmp_path_factory.mktemp("operators"))


def test_the_node_acts_as_its_operator_and_records_them(
    world: Tiers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECEIPTS_OPERATOR", "张晓梅")
    monkeypatch.setenv("RECEIPTS_OPERATOR_SECRET", SECRETS["张晓梅"])
    package = package_of(world, CITY)
    city = tier_pki().signers[CITY]
    with TestClient(node_app(world.homes[PROVINCE])) as client:
        response = client.post(PACKAGES_PATH, content=package, headers=signed(city, package))
    assert response.status_code == 200, response.text
    db = world.database(PROVINCE)
    try:
        with db.read() as session:
            imported = session.scalars(
                select(Event.operator).where(Event.kind == "transmission.imported")
            ).all()
    finally:
        db.dispose()
    assert imported == ["张晓梅"]


@pytest.mark.parametrize(
    ("name", "secret", "refusal"),
    [
        (None, None, "say who you are"),
        ("张晓梅", "a wrong secret of hers", "wrong secret"),
        ("张晓梅", None, "RECEIPTS_OPERATOR_SECRET"),
        ("王芳", SECRETS["王芳"], "auditor"),
    ],
)
def test_the_node_does_not_start_without_a_proved_operator_who_may_write(
    refusing_world: Tiers,
    monkeypatch: pytest.MonkeyPatch,
    name: str | None,
    secret: str | None,
    refusal: str,
) -> None:
    world = refusing_world
    monkeypatch.delenv("RECEIPTS_KEY_PASSPHRASE", raising=False)
    for variable, value in (("RECEIPTS_OPERATOR", name), ("RECEIPTS_OPERATOR_SECRET", secret)):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    with pytest.raises(NotPermitted, match=refusal):
        NodeState.open(world.homes[PROVINCE])
    result = as_operator(world.homes[PROVINCE], None, "serve", "--port", "1")
    if name is None:
        assert result.exit_code == 2
        assert "say who you are" in result.output
