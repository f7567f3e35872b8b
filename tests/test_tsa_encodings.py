"""How much asn1crypto work a time-stamp takes (docs/security.md, "Time-stamps"), counted, not
timed: a token's ESSCertIDv2 leaves its default hash algorithm out of DER, and a value holding
one, built or fully read, made asn1crypto re-encode everything above it on each access (about
80,000 encodings, over a second, per token). The authority encodes that attribute once, and
the client reads the reply without re-encoding it; these tests fail if either comes back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from asn1crypto import core, tsp  # type: ignore[import-untyped]

from signing.timestamp_authority import TimeStampAuthority
from signing.timestamps import TimeStampReply, _read_all
from tests.support import timestamps as shared_fixtures

tsa_chain = shared_fixtures.tsa_chain
authority = shared_fixtures.authority

#: Encodings of constructed values a reply may take: a few dozen are built fresh per token
#: (TSTInfo, signed attributes, SignerInfo, SignedData, the reply); the slow path took
#: thousands. Asked for in process, the request is built and the signed attributes read whole
#: too (a few hundred); the slow path took tens of thousands.
_BOUND = 200
_STAMP_BOUND = 1000


@pytest.fixture
def encodings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []
    original = core.Sequence._set_contents

    def counted(self: core.Sequence, force: bool = False) -> None:
        seen.append(type(self).__name__)
        original(self, force)

    monkeypatch.setattr(core.Sequence, "_set_contents", counted)
    yield seen


def _query() -> bytes:
    imprint = {
        "hash_algorithm": {"algorithm": "sha256"},
        "hashed_message": hashlib.sha256(b"receipt").digest(),
    }
    req = tsp.TimeStampReq({"version": "v1", "message_imprint": imprint, "cert_req": True})
    return bytes(req.dump())


def test_the_authority_encodes_a_reply_a_bounded_number_of_times(
    authority: TimeStampAuthority, encodings: list[str]
) -> None:
    authority.respond(_query())
    assert 0 < len(encodings) < _BOUND
    assert "ESSCertIDv2" not in encodings  # encoded once, when the authority was built


def test_a_token_asked_for_in_process_is_read_without_re_encoding_it(
    authority: TimeStampAuthority, encodings: list[str]
) -> None:
    token = authority.stamp(b"receipt")
    assert 0 < len(encodings) < _STAMP_BOUND
    assert token[:1] == b"\x30"  # a DER ContentInfo, as before


def test_reading_a_reply_whole_refuses_what_native_refuses(
    authority: TimeStampAuthority,
) -> None:
    reply = authority.respond(_query())
    _read_all(TimeStampReply.load(reply, strict=True))  # a good reply reads
    # A damaged certificate deep in the token: .native refused it, and so must _read_all.
    for index in range(len(reply) - 40, 200, -41):
        damaged = bytearray(reply)
        damaged[index] ^= 0xFF
        try:
            TimeStampReply.load(bytes(damaged), strict=True).native  # noqa: B018
        except (ValueError, TypeError, KeyError):
            with pytest.raises((ValueError, TypeError, KeyError)):
                _read_all(TimeStampReply.load(bytes(damaged), strict=True))
