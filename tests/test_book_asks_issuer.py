"""Booking asks the issuer's node (issue 15 defect 1, completed by issue 16 item 4): a payer
whose receipt's issuer runs a node (its ``[issuers]`` table, or the URL in the receipt's QR
code) has a reversed receipt refused with ``reversed``, naming the red receipt, nothing stored;
an unreachable node books offline with a note (in --json too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.support.tier_node import free_port, serve_thread
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import ENV, federation, ok, receipts

PAYER_USCC = "91640100MA7600001J"
BOOK = ["--voucher", "记-2026-12-0001", "--by", "王会计"]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("RECEIPTS_KEY_PASSPHRASE", ENV["RECEIPTS_KEY_PASSPHRASE"])
    prov, city, payer = tmp_path / "prov", tmp_path / "city", tmp_path / "payer"
    federation(prov, "640000")
    federation(city, "640100")
    ok(prov, "org", "add", "--code", "640100")
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "20", "-o", str(tmp_path / "a.xml"))
    ok(city, "stock", "import", str(tmp_path / "a.xml"))
    for amount in ("100.00", "200.00"):
        ok(
            city,
            *("issue", "--payer-name", "宁夏贺兰山实业有限公司", "--payer-kind", "enterprise"),
            *("--payer-uscc", PAYER_USCC, "--item", f"01:2026-10:{amount}"),
            *("--handler", "甲", "--reviewer", "乙"),
        )
    init = ["--home", str(payer), "init", "--payer", "--name", "宁夏贺兰山实业有限公司"]
    result = CliRunner(env=ENV).invoke(main, [*init, "--uscc", PAYER_USCC])
    assert result.exit_code == 0, result.output
    bundle = tmp_path / "trust.pem"
    bundle.write_bytes(tier_pki().bundle.to_pem())
    ok(payer, "pki", "import-trust", str(bundle))
    code = json.loads(ok(city, "--json", "stock", "list"))[0]["segment"][:8]
    for number in (1, 2):
        ok(city, "render", code, str(number), "-o", str(tmp_path / f"r{number}.pdf"))
    ok(city, "reverse", code, "2", "--reason", "金额有误", "--handler", "甲", "--reviewer", "乙")
    return {"city": city, "payer": payer, "tmp": tmp_path, "code": Path(code)}


def issuers_table(payer: Path, url: str) -> None:
    config = payer / "receipts.toml"
    config.write_text(config.read_text("utf-8") + f'\n[issuers]\n"640100" = "{url}"\n', "utf-8")


def bookings(payer: Path) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = json.loads(ok(payer, "--json", "book", "--list"))
    return listed


def test_a_reversed_receipt_is_refused_when_the_issuer_answers(world: dict[str, Path]) -> None:
    payer, tmp, code = world["payer"], world["tmp"], str(world["code"])
    with serve_thread(world["city"]) as url:
        issuers_table(payer, url)
        refused = receipts(payer, "book", str(tmp / "r2.pdf"), *BOOK)
        assert refused.exit_code == 1, refused.output
        assert refused.stderr.startswith(
            f"error: reversed: receipt {code}-0000000002 was reversed by {code}-0000000003"
        ), refused.stderr
        assert bookings(payer) == []
        booked = json.loads(ok(payer, "--json", "book", str(tmp / "r1.pdf"), *BOOK))
    assert booked["issuer_node"] == {"url": url, "status": "issued"}
    assert [b["receipt"] for b in bookings(payer)] == [f"{code}-0000000001"]
    assert receipts(payer, "audit").exit_code == 0


def test_an_unreachable_issuer_books_offline_with_a_note(world: dict[str, Path]) -> None:
    payer, tmp, code = world["payer"], world["tmp"], str(world["code"])
    url = f"http://127.0.0.1:{free_port()}"
    issuers_table(payer, url)
    out = ok(payer, "book", str(tmp / "r1.pdf"), *BOOK)
    assert out.splitlines() == [
        f"booked {code}-0000000001 (100.00) under voucher 记-2026-12-0001",
        f"note: the issuer's node at {url} could not be reached: booked offline, "
        "its status not checked",
    ]
    data = json.loads(ok(payer, "--json", "book", str(tmp / "r2.pdf"), *BOOK))
    assert data["issuer_node"]["status"] == "unreachable"
    assert len(bookings(payer)) == 2


def test_the_url_in_the_receipts_qr_code_is_asked(tmp_path: Path, world: dict[str, Path]) -> None:
    city, payer = world["city"], world["payer"]
    port = free_port()
    config = city / "receipts.toml"
    config.write_text(
        config.read_text("utf-8") + f'\n[serve]\npublic_base_url = "http://127.0.0.1:{port}"\n',
        "utf-8",
    )
    ok(
        city,
        *("issue", "--payer-name", "宁夏贺兰山实业有限公司", "--payer-kind", "enterprise"),
        *("--payer-uscc", PAYER_USCC, "--item", "01:2026-10:300.00"),
        *("--handler", "甲", "--reviewer", "乙"),
    )
    code = str(world["code"])
    ok(city, "render", code, "4", "-o", str(tmp_path / "r4.pdf"))
    ok(city, "reverse", code, "4", "--reason", "重复开具", "--handler", "甲", "--reviewer", "乙")
    with serve_thread(city, port=port):
        refused = receipts(payer, "book", str(tmp_path / "r4.pdf"), *BOOK)
    assert refused.exit_code == 1 and "reversed: receipt" in refused.stderr, refused.output
    assert f"reversed by {code}-0000000005" in refused.stderr
    assert bookings(payer) == []
