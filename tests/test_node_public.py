"""The node's public look-up API (issue 16): ``GET /api/v1/lookup`` answers the status only when
every detail matches, and the same bytes for a wrong check code as for a missing receipt."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from receipts.node.config import RateLimit
from tests.support.node import (
    CITY_PAYER,
    PUBLIC_BASE_URL,
    Clock,
    SeededCity,
    node_client,
    node_state,
    seeded_city,
)
from tests.support.postgres import PgSchemas
from tests.support.workspaces import ok, receipts


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> SeededCity:
    return seeded_city(tmp_path_factory.mktemp("node"))


@pytest.fixture
def client(city: SeededCity) -> TestClient:
    return node_client(node_state(city, rate=RateLimit(per_minute=6000, burst=10_000)))


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


def test_health_asks_the_ledger_at_most_once_a_second(city: SeededCity, tmp_path: Path) -> None:
    """/healthz has no rate limit (a load balancer must never be refused): a flood of it costs
    one ledger read a second, the answers in between are the last one."""
    from receipts.ledger.database import Database

    clock = Clock()
    state = node_state(city, clock)
    client = node_client(state)
    assert client.get("/healthz").status_code == 200
    state.db = Database(f"sqlite:///{tmp_path / 'empty.sqlite'}")  # the ledger goes away
    assert client.get("/healthz").status_code == 200  # within the second: not asked
    clock.advance(1)
    assert client.get("/healthz").status_code == 503


# --- the 查验 pages -------------------------------------------------------------------------


def _main(html: str) -> str:
    return html[html.index("<main>") : html.index("</main>")]


def test_the_form_page_works_without_scripts(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for name in ("code", "number", "check", "amount"):
        assert f'name="{name}"' in page.text
    assert "<script" not in page.text
    assert 'name="viewport"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere


def test_the_result_page_names_the_red_receipt(city: SeededCity, client: TestClient) -> None:
    page = client.post("/lookup", data=city.query(1, check=city.receipts[1].check_code.upper()))
    assert page.status_code == 200
    main = _main(page.text)
    assert f"已被红字收据 {city.code}-0000000003 冲销" in main
    assert "银川市总工会（640100）" in main
    assert "100.00 元" in main
    assert "宁夏********司" in main and CITY_PAYER not in page.text
    assert page.headers["cache-control"] == "no-store"


def test_the_red_receipt_itself_is_valid(city: SeededCity, client: TestClient) -> None:
    main = _main(client.post("/lookup", data=city.query(3)).text)
    assert "有效（红字收据）" in main
    assert "-100.00 元" in main


def test_every_unmatched_look_up_gets_the_same_page(city: SeededCity, client: TestClient) -> None:
    pages = [
        client.post("/lookup", data=city.query(2, check="zzzzzz")),
        client.post("/lookup", data=city.query(2, number="7")),
        client.post("/lookup", data=city.query(2, number="11")),  # written off
        client.post("/lookup", data=city.query(2, amount="99.00")),
        client.post("/lookup", data=city.query(2, code="64710125")),
    ]
    assert {p.status_code for p in pages} == {200}
    assert len({p.content for p in pages}) == 1
    assert "未查到与所填信息相符的收据" in pages[0].text


def test_a_malformed_detail_asks_again(city: SeededCity, client: TestClient) -> None:
    for bad in ({"check": "abc"}, {"number": "12345678901"}, {"amount": "1.234"}, {"code": "x"}):
        page = client.post("/lookup", data=city.query(2, **bad))
        assert page.status_code == 422, bad
        assert 'id="error"' in page.text
        assert 'name="code"' in page.text


def test_the_api_refuses_malformed_details_with_a_problem(
    city: SeededCity, client: TestClient
) -> None:
    answer = client.get("/api/v1/lookup", params=city.query(2, check="abc"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 422
    missing = client.get("/api/v1/lookup", params={"code": city.code})
    assert missing.status_code == 422
    assert "check" in missing.json()["detail"]


# --- the signed PDF -------------------------------------------------------------------------


def test_the_pdf_needs_every_detail_and_verifies(
    city: SeededCity, client: TestClient, tmp_path: Path
) -> None:
    page = client.post("/lookup", data=city.query(2))
    assert 'action="/pdf"' in page.text
    pdf = client.post("/pdf", data=city.query(2, check=city.receipts[2].check_code.upper()))
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="{city.code}-0000000002.pdf"'
    )
    rendered = tmp_path / "rendered.pdf"
    ok(city.home, "render", city.code, "2", "-o", str(rendered))
    assert pdf.content == rendered.read_bytes()  # the latest layout, deterministically
    downloaded = tmp_path / "downloaded.pdf"
    downloaded.write_bytes(pdf.content)
    bundle = str(city.home / "trust" / "bundle.pem")
    verified = receipts(city.home, "verify", str(downloaded), "--trust", bundle)
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.startswith("VALID")
    api = client.post("/api/v1/receipt.pdf", data=city.query(2))
    assert api.status_code == 200 and api.content == pdf.content


def test_no_pdf_without_the_check_code(city: SeededCity, client: TestClient) -> None:
    wrong = client.post("/pdf", data=city.query(2, check="zzzzzz"))
    missing = client.post("/pdf", data=city.query(2, number="8"))
    assert wrong.status_code == missing.status_code == 404
    assert wrong.content == missing.content
    assert wrong.headers["content-type"].startswith("text/html")
    api_wrong = client.post("/api/v1/receipt.pdf", data=city.query(2, check="zzzzzz"))
    api_missing = client.post("/api/v1/receipt.pdf", data=city.query(2, number="8"))
    assert api_wrong.status_code == api_missing.status_code == 404
    assert api_wrong.content == api_missing.content
    no_check = client.post("/api/v1/receipt.pdf", data={"code": city.code, "number": "2"})
    assert no_check.status_code == 422
    assert client.get("/pdf", params=city.query(2)).status_code == 405


# --- the QR code's page ---------------------------------------------------------------------


def _query(url: str) -> str:
    assert url.startswith(PUBLIC_BASE_URL + "/q?")
    return url.split("?", 1)[1]


def test_a_qr_url_opens_the_result_with_its_seal_verified(
    city: SeededCity, client: TestClient
) -> None:
    page = client.get("/q?" + _query(city.receipts[2].qr))
    assert page.status_code == 200
    main = _main(page.text)
    assert 'class="status valid"' in main
    assert "二维码签章核验通过" in main
    assert "张**" in main


def test_a_qr_url_with_a_forged_seal_says_so(city: SeededCity, client: TestClient) -> None:
    query = _query(city.receipts[2].qr)
    seal = query.rsplit("s=", 1)[1]
    forged = query.replace(seal, ("A" if seal[0] != "A" else "B") + seal[1:])
    main = _main(client.get("/q?" + forged).text)
    assert "二维码签章未能核验" in main  # the ledger still answers: the details are genuine


def test_a_qr_url_of_a_receipt_not_here_is_not_found(city: SeededCity, client: TestClient) -> None:
    query = _query(city.receipts[2].qr).replace("n=0000000002", "n=0000000007")
    page = client.get("/q?" + query)
    assert page.status_code == 200
    assert page.content == client.post("/lookup", data=city.query(2, number="7")).content


def test_a_malformed_qr_url_is_refused(client: TestClient) -> None:
    for query in ("", "c=1", "x=<script>", "c=64710126&n=1"):
        page = client.get("/q?" + query)
        assert page.status_code == 422
        assert "无法识别的二维码" in page.text


def test_a_wrong_check_code_and_a_missing_receipt_do_the_same_work(
    city: SeededCity, client: TestClient
) -> None:
    """The node adds no branch to the ledger's look-up: the same SQL statements either way."""
    from sqlalchemy import event

    state = client.app.state.node  # type: ignore[attr-defined]
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(state.db.engine, "before_cursor_execute", record)
    state.reader.trace = statements.append  # its own connections: no SQLAlchemy event
    runs = []
    for params in (city.query(2, check="zzzzzz"), city.query(2, number="7")):
        statements.clear()
        client.get("/api/v1/lookup", params=params)
        client.post("/lookup", data=params)
        runs.append(list(statements))
    assert runs[0] == runs[1] and runs[0]


def test_health_says_when_the_schema_is_behind_the_code(tmp_path: Path) -> None:
    from sqlalchemy import text

    own = seeded_city(tmp_path)
    state = node_state(own)
    with state.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('0001')"))
    answer = node_client(state).get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "ledger": True, "schema_at_head": False}


def test_the_issue_date_is_the_one_printed_on_the_receipt(tmp_path: Path) -> None:
    """Issued at 01:30 in China, the day before in UTC (as the ledger stores the time)."""
    from datetime import datetime, timedelta, timezone

    from receipts.issuing.issue import issue
    from receipts.ledger.queries import load_receipt
    from tests.support.ledger import fixed_clock, make_issuer, request

    own = seeded_city(tmp_path)
    state = node_state(own)
    china = timezone(timedelta(hours=8))
    early = datetime.now(china).replace(hour=1, minute=30, second=0, microsecond=0)
    outcome = issue(state.db, make_issuer(clock=fixed_clock(early)), request(amount="300.00"))
    receipt = load_receipt(state.db, outcome.ref).receipt
    answer = node_client(state).get(
        "/api/v1/lookup",
        params={"code": own.code, "number": str(outcome.ref.number), "check": receipt.check_code},
    )
    assert answer.json()["issued_on"] == early.date().isoformat()


def test_the_public_routes_on_postgresql(tmp_path: Path, pg_schemas: PgSchemas) -> None:
    own = seeded_city(tmp_path, db=pg_schemas.new())
    client = node_client(node_state(own, rate=RateLimit(per_minute=6000, burst=10_000)))
    found = client.get("/api/v1/lookup", params=own.query(1)).json()
    assert (found["status"], found["reversed_by"]) == ("reversed", f"{own.code}-0000000003")
    assert found["payer"] == "宁夏********司"
    wrong = client.get("/api/v1/lookup", params=own.query(2, check="zzzzzz"))
    missing = client.get("/api/v1/lookup", params=own.query(2, number="7"))
    assert wrong.content == missing.content
    pdf = client.post("/pdf", data=own.query(2))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    upload = client.post("/api/v1/verify", files={"file": ("r.pdf", pdf.content)}).json()
    assert upload["valid"] is True and upload["ledger"]["status"] == "issued"
    assert client.get("/healthz").json()["status"] == "ok"
