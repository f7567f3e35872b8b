"""A time-stamp authority for the time-stamp tests (docs/security.md, "Time-stamps"): a TSA
certificate under the test root, an authority on a settable clock with an in-memory serial log."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography import x509

from signing.keys import generate_key
from signing.timestamp_authority import TimeStampAuthority
from signing.tsa_certificate import issue_tsa_certificate
from tests.support.pki import Pki


class _Clock:
    """The authority's clock, settable by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class _SerialLog:
    def __init__(self) -> None:
        self.serials: list[int] = []

    def __call__(self, serial: int, _at: datetime, _imprint: bytes) -> bool:
        if serial in self.serials:
            return False
        self.serials.append(serial)
        return True


@pytest.fixture(scope="module")
def tsa_chain(pki: Pki) -> tuple[object, x509.Certificate]:
    key = generate_key()
    cert = issue_tsa_certificate(
        pki.root, pki.root_key, key.public_key(), now=pki.now - timedelta(days=800)
    )
    return key, cert


@pytest.fixture
def authority(pki: Pki, tsa_chain: tuple[object, x509.Certificate]) -> TimeStampAuthority:
    key, cert = tsa_chain
    return TimeStampAuthority(key, [cert], record=_SerialLog(), clock=_Clock(pki.now))  # type: ignore[arg-type]
