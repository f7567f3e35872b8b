"""CRLs, trust bundles and chain validation as of a given time."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.verification import ClientVerifier

from receipts.domain.divisions import issuer_may_certify
from signing.crl import (
    Revocation,
    RevocationReason,
    build_crl,
    crl_is_from,
    crl_warnings,
    find_revocation,
    revocation_at,
)
from signing.errors import RevokedCertificate, UntrustedCertificate
from signing.trust import ChainValidator, TrustBundle
from tests.support.pki import Pki


def test_revocation_counts_at_or_before_the_time(pki: Pki) -> None:
    cert, crls = pki.revoked.cert, [pki.crl]
    record = find_revocation(cert, pki.prov, crls)
    assert record is not None
    assert record.revoked_at == pki.revoked_at
    assert record.reason is RevocationReason.KEY_COMPROMISE
    assert revocation_at(cert, pki.prov, crls, pki.revoked_at) == record
    assert revocation_at(cert, pki.prov, crls, pki.revoked_at - timedelta(seconds=1)) is None
    assert revocation_at(pki.city.cert, pki.prov, crls, pki.now) is None


def test_a_crl_not_signed_by_the_issuer_is_ignored(pki: Pki) -> None:
    # The provincial CA's name, but the root's key: it must neither revoke nor count.
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(pki.city.cert.serial_number)
        .revocation_date(pki.now - timedelta(days=2))
        .build()
    )
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.prov.subject)
        .last_update(pki.now - timedelta(days=1))
        .next_update(pki.now + timedelta(days=1))
        .add_revoked_certificate(entry)
        .sign(pki.root_key, hashes.SHA256())
    )
    assert not crl_is_from(forged, pki.prov)
    assert find_revocation(pki.city.cert, pki.prov, [forged]) is None
    validator = ChainValidator(
        TrustBundle.of([pki.root, pki.prov], [forged]), issuer_may_certify=issuer_may_certify
    )
    assert validator.validate(pki.city.cert, at=pki.now).ok


def test_invalidity_date_moves_the_revocation_earlier(pki: Pki) -> None:
    serial = pki.city.cert.serial_number
    crl = build_crl(
        pki.prov,
        pki.prov_key,
        [
            Revocation(
                serial,
                pki.now - timedelta(days=1),
                RevocationReason.KEY_COMPROMISE,
                invalid_since=pki.now - timedelta(days=10),
            )
        ],
        pki.now - timedelta(hours=1),
        pki.now + timedelta(days=1),
    )
    moment = pki.now - timedelta(days=5)
    assert revocation_at(pki.city.cert, pki.prov, [crl], moment) is not None


def test_stale_crls_are_warned_about(pki: Pki) -> None:
    assert crl_warnings([pki.crl], pki.now) == []
    late = crl_warnings([pki.crl], pki.now + timedelta(days=7))
    assert len(late) == 1 and "640000" in late[0] and "due for renewal" in late[0]


def test_chain_validates_as_of_the_given_time(pki: Pki) -> None:
    validator = pki.validator
    ok = validator.validate(pki.city.cert, [pki.prov], at=pki.now)
    assert ok.ok and ok.chain == (pki.city.cert, pki.prov, pki.root)
    # Intermediates may also come from the bundle.
    assert validator.validate(pki.city.cert, at=pki.now).ok
    assert validator.validate(pki.national.cert, at=pki.now).ok
    expired_at = pki.expired.cert.not_valid_after_utc
    assert validator.validate(pki.expired.cert, [pki.prov], at=expired_at - timedelta(days=1)).ok
    late = validator.validate(pki.expired.cert, [pki.prov], at=expired_at + timedelta(seconds=1))
    assert [f.code for f in late.findings] == ["expired-at-signing"]
    early = pki.city.cert.not_valid_before_utc - timedelta(seconds=1)
    too_early = validator.validate(pki.city.cert, [pki.prov], at=early)
    assert [f.code for f in too_early.findings] == ["not-yet-valid-at-signing"]


def test_revocation_is_judged_at_the_time(pki: Pki) -> None:
    before = pki.validator.validate(pki.revoked.cert, [pki.prov], at=pki.revoked_at - timedelta(1))
    assert before.ok
    after = pki.validator.validate(pki.revoked.cert, [pki.prov], at=pki.revoked_at)
    assert [f.code for f in after.findings] == ["revoked"]
    with pytest.raises(RevokedCertificate):
        pki.validator.require_valid(pki.revoked.cert, [pki.prov], at=pki.now)


def test_foreign_root_and_bad_usage_are_refused(pki: Pki) -> None:
    foreign = pki.validator.validate(pki.foreign.cert, pki.foreign.intermediates, at=pki.now)
    assert [f.code for f in foreign.findings] == ["untrusted-certificate"]
    assert foreign.chain == ()
    with pytest.raises(UntrustedCertificate):
        pki.validator.require_valid(pki.foreign.cert, at=pki.now)
    ca_as_leaf = pki.validator.validate(pki.prov, at=pki.now)
    assert "bad-key-usage" in [f.code for f in ca_as_leaf.findings]


def test_missing_crl_is_reported_only_when_required(pki: Pki) -> None:
    bundle = TrustBundle.of([pki.root, pki.prov])
    assert ChainValidator(bundle, issuer_may_certify=None).validate(pki.city.cert, at=pki.now).ok
    strict = ChainValidator(bundle, issuer_may_certify=None, require_crl=True).validate(
        pki.city.cert, at=pki.now
    )
    assert {f.code for f in strict.findings} == {"revocation-unknown"}


def test_chain_is_built_once_per_certificate(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    validator = ChainValidator(pki.bundle, issuer_may_certify=issuer_may_certify)
    calls: list[object] = []
    original = validator._verifier

    def counting(moment: datetime) -> ClientVerifier:
        calls.append(moment)
        return original(moment)

    monkeypatch.setattr(validator, "_verifier", counting)
    for days in range(20):
        assert validator.validate(pki.city.cert, [pki.prov], at=pki.now - timedelta(days)).ok
    assert len(calls) == 1


def test_bundle_round_trips_as_one_pem_file(tmp_path: Path, pki: Pki) -> None:
    path = tmp_path / "trust.pem"
    path.write_bytes(pki.bundle.to_pem())
    text = path.read_text()
    assert text.count("-----BEGIN CERTIFICATE-----") == 4
    assert text.count("-----BEGIN X509 CRL-----") == 1
    loaded = TrustBundle.load(path)
    assert loaded.roots == (pki.root,)
    assert loaded.cas == (pki.prov,)
    assert set(loaded.signing) == {pki.city.cert, pki.national.cert}
    assert loaded.crls == (pki.crl,)
    with pytest.raises(UntrustedCertificate, match="no root"):
        TrustBundle.from_pem(pki.prov.public_bytes(serialization.Encoding.PEM))
