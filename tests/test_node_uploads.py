"""Uploads to the node's verification (issue 16): a genuine PDF or XML verifies as ``receipts
verify`` says; every hostile or malformed upload gets findings and never a 500; a body over the
limit is refused with 413 while it streams, whatever its Content-Length claims."""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.data.make_bad_corpus import OVERSIZED
from tests.support.node import SeededCity, node_client, node_state, seeded_city
from tests.support.workspaces import ok

BAD = Path(__file__).parent / "data" / "bad"
BAD_FILES = sorted(p.name for p in BAD.iterdir() if p.is_file() and p.suffix in (".xml", ".pdf"))
PAGES_AND_API = ["/verify", "/api/v1/verify"]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> SeededCity:
    return seeded_city(tmp_path_factory.mktemp("node"))


@pytest.fixture
def client(city: SeededCity) -> Iterator[TestClient]:
    # A generous bucket: these tests are about uploads, not the rate limit.
    from receipts.node.config import RateLimit

    state = node_state(city, rate=RateLimit(per_minute=6000, burst=10_000))
    with node_client(state) as client:
        yield client


@pytest.fixture(scope="module")
def good_pdf(city: SeededCity, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("pdf") / "r2.pdf"
    ok(city.home, "render", city.code, "2", "-o", str(out))
    return out.read_bytes()


def _verify(
    client: TestClient, name: str, data: bytes, kind: str = "application/pdf"
) -> dict[str, Any]:
    answer = client.post("/api/v1/verify", files={"file": (name, data, kind)})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_genuine_pdf_verifies_with_its_ledger_status(
    client: TestClient, good_pdf: bytes, city: SeededCity
) -> None:
    result = _verify(client, "r2.pdf", good_pdf)
    assert result["valid"] is True, result
    assert result["findings"] == []
    assert result["receipt"] == f"{city.code}-0000000002"
    assert (result["issuer"], result["amount"]) == ("640100", "25.50")
    assert result["ledger"]["found"] is True
    assert result["ledger"]["status"] == "issued"


def test_a_genuine_xml_verifies_and_a_reversed_one_says_so(
    client: TestClient, city: SeededCity
) -> None:
    xml = ok(city.home, "show", city.code, "1", "--xml").encode("utf-8")
    result = _verify(client, "r1.xml", xml, "application/xml")
    assert result["valid"] is True, result
    assert result["ledger"]["status"] == "reversed"
    assert result["ledger"]["reversed_by"] == f"{city.code}-0000000003"


def test_the_page_shows_the_findings(client: TestClient, good_pdf: bytes) -> None:
    page = client.post("/verify", files={"file": ("r.pdf", good_pdf, "application/pdf")})
    assert page.status_code == 200
    assert "文件核验通过" in page.text
    assert "张**" in page.text and "张晓梅" not in page.text
    tampered = good_pdf[: len(good_pdf) // 2]
    page = client.post("/verify", files={"file": ("r.pdf", tampered, "application/pdf")})
    assert page.status_code == 200
    assert "文件未通过核验" in page.text


@pytest.mark.parametrize("name", BAD_FILES)
@pytest.mark.parametrize("path", PAGES_AND_API)
def test_every_bad_corpus_file_gets_findings_not_a_500(
    client: TestClient, name: str, path: str
) -> None:
    data = (BAD / name).read_bytes()
    answer = client.post(path, files={"file": (name, data, "application/octet-stream")})
    assert answer.status_code == 200, answer.text[:500]
    if path.startswith("/api/"):
        assert answer.json()["valid"] is False
        assert answer.json()["findings"], name
    else:
        assert "文件未通过核验" in answer.text


def _hostile() -> dict[str, bytes]:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("receipt.xml", b"<a/>" + b" " * 50_000_000)
    return {
        "zip-bomb.zip": zipped.getvalue(),
        "gzip-bomb.xml.gz": gzip.compress(b"\0" * 20_000_000),
        "truncated.pdf": b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog",
        "only-a-header.pdf": b"%PDF-",
        "png.pdf": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
        "html.xml": b"<html><script>alert(1)</script></html>",
        "not-utf8.xml": "<收据>".encode("gb18030"),
        "nul.xml": b"\0" * 1000,
        "empty.pdf": b"",
    }


@pytest.mark.parametrize("name", sorted(_hostile()))
def test_hostile_uploads_get_findings(client: TestClient, name: str) -> None:
    result = _verify(client, name, _hostile()[name], "application/zip")
    assert result["valid"] is False
    assert result["findings"]


def test_a_flate_bomb_attached_to_a_pdf_gets_findings(client: TestClient, tmp_path: Path) -> None:
    bomb = OVERSIZED["attachment-flate-bomb.pdf"](tmp_path / "bomb.pdf").read_bytes()
    result = _verify(client, "bomb.pdf", bomb)
    assert result["valid"] is False
    assert [f["code"] for f in result["findings"]] == ["invalid-pdf"]


@pytest.mark.parametrize("path", PAGES_AND_API)
def test_an_upload_that_is_not_multipart_is_refused_cleanly(client: TestClient, path: str) -> None:
    for body, kind in ((b"{}", "application/json"), (b"x=1", "application/x-www-form-urlencoded")):
        answer = client.post(path, content=body, headers={"content-type": kind})
        assert answer.status_code == 422
    broken = client.post(
        path, content=b"--zz\r\nnot a part", headers={"content-type": "multipart/form-data"}
    )
    assert broken.status_code in (400, 422)


@pytest.fixture
def small_limit(city: SeededCity) -> Iterator[TestClient]:
    state = node_state(city, max_upload_bytes=4096)
    with node_client(state) as client:
        yield client


@pytest.mark.parametrize("path", PAGES_AND_API)
def test_an_oversized_upload_is_refused_with_413(small_limit: TestClient, path: str) -> None:
    answer = small_limit.post(path, files={"file": ("big.pdf", b"%PDF-" + b"0" * 8192)})
    assert answer.status_code == 413
    if path.startswith("/api/"):
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == 413
    else:
        assert "提交的内容太大" in answer.text


@pytest.mark.parametrize("path", PAGES_AND_API)
def test_a_lying_content_length_is_caught_while_the_body_streams(
    small_limit: TestClient, path: str
) -> None:
    boundary = "zzzz"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + b"0" * 20_000
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunks() -> Iterator[bytes]:  # streamed: the declared length says 100 bytes
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    answer = small_limit.post(
        path,
        content=chunks(),
        headers={
            "content-type": f"multipart/form-data; boundary={boundary}",
            "content-length": "100",
        },
    )
    assert answer.status_code == 413


def test_a_look_up_with_a_body_over_the_small_limit_is_refused(small_limit: TestClient) -> None:
    answer = small_limit.post("/lookup", data={"code": "1" * 20_000})
    assert answer.status_code == 413


def test_a_new_trust_bundle_counts_from_the_next_upload(tmp_path: Path) -> None:
    own = seeded_city(tmp_path)
    client = node_client(node_state(own))
    xml = ok(own.home, "show", own.code, "2", "--xml").encode("utf-8")
    assert _verify(client, "r2.xml", xml, "application/xml")["valid"] is True
    bundle = own.home / "trust" / "bundle.pem"
    bundle.write_bytes((BAD / "cross-province-trust.pem").read_bytes())  # another federation's
    result = _verify(client, "r2.xml", xml, "application/xml")
    assert result["valid"] is False
    assert result["findings"]
