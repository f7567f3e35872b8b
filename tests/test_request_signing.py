"""The signed text of a tier request (docs/formats.md, "The tier API"), pinned: a client and a
node that disagree on one byte of it refuse each other."""

from __future__ import annotations

from datetime import UTC, datetime

from receipts.transmission import request_signing as rs
from signing.seal import verify_seal
from tests.support.tier_pki import tier_pki


def test_the_query_is_sorted_and_encoded_one_way() -> None:
    assert rs.canonical_query("") == ""
    assert rs.canonical_query("issuer=640104&issuer=640100&a=") == (
        "a=&issuer=640100&issuer=640104"
    )
    assert rs.canonical_query("x=a+b&y=%2F%20") == rs.canonical_query("y=/ &x=a b")
    assert rs.canonical_query("y=/ &x=a b") == "x=a%20b&y=%2F%20"


def test_the_signed_text_and_headers() -> None:
    signer = tier_pki().signers["640100"]
    moment = datetime(2026, 12, 3, 12, 0, 5, 900_000, tzinfo=UTC)
    headers = rs.sign_request(
        signer, "640000", "post", "/api/v1/tier/summary", "issuer=640100", b"", now=moment
    )
    assert headers[rs.DATE] == "2026-12-03T12:00:05Z"
    assert len(headers[rs.NONCE]) == 32 and headers[rs.ORG] == "640100"
    request = rs.SignedRequest(
        "POST",
        "/api/v1/tier/summary",
        "issuer=640100",
        "640100",
        "640000",
        "2026-12-03T12:00:05Z",
        headers[rs.NONCE],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    )
    assert (
        request.message()
        == (
            "receipts-tier-request-1\nPOST\n/api/v1/tier/summary\nissuer=640100\n640100\n640000\n"
            f"2026-12-03T12:00:05Z\n{headers[rs.NONCE]}\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        ).encode()
    )
    assert verify_seal(signer.certificate, request.message(), headers[rs.SIGNATURE])
    certs = rs.decode_certificates(headers[rs.CERTIFICATE])
    assert certs == [signer.certificate, *signer.intermediates]


def test_malformed_headers_read_as_nothing() -> None:
    assert rs.decode_certificates("") is None
    assert rs.decode_certificates("not base64!") is None
    assert rs.decode_certificates(",".join(["AAAA"] * 5)) is None
    assert rs.parse_date("2026-12-03 12:00:05") is None
    assert rs.parse_date("2026-13-03T12:00:05Z") is None
