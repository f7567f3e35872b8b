"""RFC 3161 tokens (docs/security.md, "Time-stamps"): tokens OpenSSL accepts, the authority's
clock, nonce and fresh serials, and queries it rejects. Signature time-stamps (XAdES-T) are
tests/test_timestamps_xades.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from asn1crypto import tsp  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing.timestamp_authority import TimeStampAuthority
from signing.timestamps import (
    DEFAULT_POLICY,
    TimeStampError,
    TimeStampReply,
    TokenCheck,
    check_token,
)
from tests.support import timestamps as shared_fixtures
from tests.support.pki import Pki
from tests.support.skips import need_tool

# The authority's fixtures, shared with the other time-stamp tests (pytest finds a fixture
# among a module's names).
tsa_chain = shared_fixtures.tsa_chain
authority = shared_fixtures.authority
# Tokens ---------------------------------------------------------------------------------------


def _openssl() -> str:
    return need_tool("openssl", "openssl")


def test_openssl_verifies_a_token_for_its_own_query(
    tmp_path: Path,
    pki: Pki,
    authority: TimeStampAuthority,
    tsa_chain: tuple[object, x509.Certificate],
) -> None:
    tool = _openssl()
    data = tmp_path / "data.bin"
    data.write_bytes(b"any bytes at all")
    query = tmp_path / "query.tsq"
    subprocess.run(
        [tool, "ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query)],
        check=True,
        capture_output=True,
    )
    reply = tmp_path / "reply.tsr"
    reply.write_bytes(authority.respond(query.read_bytes()))
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root.public_bytes(Encoding.PEM))
    tsa = tmp_path / "tsa.pem"
    tsa.write_bytes(tsa_chain[1].public_bytes(Encoding.PEM))
    common = ["-CAfile", str(root), "-untrusted", str(tsa)]
    for how in (["-queryfile", str(query)], ["-data", str(data)]):
        run = subprocess.run(
            [tool, "ts", "-verify", *how, "-in", str(reply), *common],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0 and "Verification: OK" in run.stdout, run.stdout + run.stderr
    token = tmp_path / "token.der"
    token.write_bytes(tsp.TimeStampResp.load(reply.read_bytes())["time_stamp_token"].dump())
    run = subprocess.run(
        [tool, "ts", "-verify", "-data", str(data), "-in", str(token), "-token_in", *common],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    data.write_bytes(b"other bytes")
    run = subprocess.run(
        [tool, "ts", "-verify", "-data", str(data), "-in", str(token), "-token_in", *common],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    text = subprocess.run(
        [tool, "ts", "-reply", "-in", str(reply), "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Policy OID: {DEFAULT_POLICY}" in text
    assert "Nonce: 0x" in text
    assert "Hash Algorithm: sha256" in text


def test_tokens_carry_the_authority_clock_nonce_and_fresh_serials(
    pki: Pki, authority: TimeStampAuthority
) -> None:
    seen = set()
    for n in range(5):
        token = authority.stamp(f"document {n}".encode())
        checked = check_token(token, f"document {n}".encode(), pki.validator)
        assert isinstance(checked, TokenCheck), checked
        assert checked.gen_time == pki.now
        assert checked.policy == DEFAULT_POLICY
        seen.add(checked.serial)
    assert len(seen) == 5


def test_bad_queries_are_rejected_not_stamped(authority: TimeStampAuthority) -> None:
    sha1 = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha1"},
                "hashed_message": b"1" * 20,
            },
        }
    )
    other_policy = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": b"1" * 32,
            },
            "req_policy": "1.2.3.4",
        }
    )
    for query, failure in (
        (sha1.dump(), "bad_alg"),
        (other_policy.dump(), "unaccepted_policy"),
        (b"\x30\x03\x02\x01\x01", "bad_request"),
        (b"not DER", "bad_request"),
    ):
        reply = TimeStampReply.load(authority.respond(query))
        assert reply["status"]["status"].native == "rejection"
        assert reply["status"]["fail_info"].native == {failure}
        assert reply["time_stamp_token"].native is None


def test_an_authority_needs_the_time_stamping_certificate(pki: Pki) -> None:
    with pytest.raises(TimeStampError, match="id-kp-timeStamping"):
        TimeStampAuthority(pki.city.key, [pki.city.cert, *pki.city.intermediates])
