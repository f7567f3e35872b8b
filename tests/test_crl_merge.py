"""Every CRL merged into a trust bundle is checked against its CA (docs/security.md, "Network").

`transmit import` merged a package's crls.pem unchecked, keeping the newest CRL per issuer name
and key identifier: a lower tier could send a forged, newer, empty CRL of its province's CA and
wipe that CA's revocations at the province. One merge (signing.crl.merge_crls) now serves
`pki crl`, `pki import-trust` and `transmit import`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from signing.crl import Revocation, RevocationReason, build_crl, crls_to_pem, merge_crls
from signing.errors import UntrustedCertificate
from signing.keys import PrivateKey
from signing.trust import TrustBundle
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation, ok, receipts

NOW = datetime.now(UTC).replace(microsecond=0)
REVOKED_SERIAL = 0x5EED


def genuine(days_ago: float, number: int, revoked: bool = True) -> x509.CertificateRevocationList:
    """A CRL the 640000 CA really signed, issued ``days_ago``, listing one revocation."""
    pki = tier_pki()
    entries = [
        Revocation(REVOKED_SERIAL, NOW - timedelta(days=60), RevocationReason.KEY_COMPROMISE)
    ]
    start = NOW - timedelta(days=days_ago)
    return build_crl(
        pki.prov_ca,
        pki.prov_ca_key,
        entries if revoked else [],
        start,
        start + timedelta(days=7),
        number=number,
    )


def forged(key: PrivateKey, *, this_update: datetime = NOW) -> x509.CertificateRevocationList:
    """An empty CRL naming the 640000 CA (its name and key identifier), signed with ``key``,
    newer than any genuine one."""
    ca = tier_pki().prov_ca
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(this_update)
        .next_update(this_update + timedelta(days=7))
        .add_extension(x509.CRLNumber(10**12), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .sign(key, hashes.SHA256())
    )


def cas() -> list[x509.Certificate]:
    return [tier_pki().root, tier_pki().prov_ca]


def test_a_crl_not_signed_by_the_ca_it_names_is_refused() -> None:
    held = (genuine(2, 100),)
    city_key = tier_pki().signers["640100"].key
    with pytest.raises(UntrustedCertificate, match="is not signed by the CA it names"):
        merge_crls(held, [forged(city_key)], cas(), NOW)
    with pytest.raises(UntrustedCertificate, match="names no CA this workspace trusts"):
        merge_crls(held, [genuine(1, 101)], [tier_pki().root], NOW)


def test_a_crl_from_the_future_is_refused() -> None:
    pki = tier_pki()
    early = build_crl(
        pki.prov_ca, pki.prov_ca_key, [], NOW + timedelta(hours=1), NOW + timedelta(days=7)
    )
    with pytest.raises(UntrustedCertificate, match="in the future"):
        merge_crls((), [early], cas(), NOW)


def test_an_older_crl_never_replaces_a_newer_one() -> None:
    newer, older = genuine(1, 200), genuine(3, 150, revoked=False)
    assert merge_crls((newer,), [older], cas(), NOW) == (newer,)
    assert merge_crls((older,), [newer], cas(), NOW) == (newer,)
    # A higher number with an older date (or the reverse) is not "newer" either.
    odd = genuine(5, 300, revoked=False)
    assert merge_crls((newer,), [odd], cas(), NOW) == (newer,)
    # The root's CRL sits beside the province's, one per CA key.
    root_crl = build_crl(tier_pki().root, tier_pki().root_key, [], NOW, NOW + timedelta(days=7))
    assert merge_crls((newer,), [root_crl], cas(), NOW) == (newer, root_crl)


def test_a_forged_crl_already_held_is_dropped_and_cannot_block_the_genuine_one() -> None:
    # A bundle written before this fix may hold a forged CRL that displaced the genuine one.
    fake = forged(tier_pki().signers["640100"].key)
    real = genuine(1, 5)
    assert merge_crls((fake,), [real], cas(), NOW) == (real,)


ISSUE = [
    "issue",
    *("--payer-kind", "enterprise", "--payer-uscc", "91640100MA7600001J"),
    *("--handler", "张晓梅", "--reviewer", "李建国"),
    *("--payer-name", "银川企业", "--item", "01:2026-10:100.00"),
]


def test_transmit_import_refuses_a_package_carrying_a_forged_crl(tmp_path: Path) -> None:
    prov, city = tmp_path / "640000", tmp_path / "640100"
    federation(prov, "640000")
    federation(city, "640100")
    ok(prov, "org", "add", "--code", "640100")
    alloc = tmp_path / "alloc.xml"
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "5", "-o", str(alloc))
    ok(city, "stock", "import", str(alloc))
    ok(city, *ISSUE)
    # The province holds its CA's genuine CRL; the city slips a forged, newer, empty one of
    # that CA into what it sends (its own trust bundle goes out as the package's crls.pem).
    real = genuine(1, 100)
    bundle = prov / "trust" / "bundle.pem"
    bundle.write_bytes(tier_pki().bundle.to_pem() + crls_to_pem([real]))
    before = bundle.read_bytes()
    city_bundle = city / "trust" / "bundle.pem"
    fake = forged(tier_pki().signers["640100"].key)
    city_bundle.write_bytes(city_bundle.read_bytes() + crls_to_pem([fake]))
    package = tmp_path / "640100-1.zip"
    ok(city, "transmit", "export", "-o", str(package))

    result = receipts(prov, "transmit", "import", str(package))
    assert result.exit_code != 0, result.output
    assert "crls.pem: the CRL of" in result.output
    assert "is not signed by the CA it names" in result.output
    # All or nothing: no receipt, no acknowledgement, the trust bundle as it was.
    assert bundle.read_bytes() == before
    assert not package.with_name("640100-1.ack.xml").exists()
    assert "640100" not in ok(prov, "--json", "transmit", "list")
    assert TrustBundle.load(bundle).crls == (real,)


def test_pki_import_trust_goes_through_the_same_merge(tmp_path: Path) -> None:
    prov = tmp_path / "640000"
    federation(prov, "640000")
    bundle = prov / "trust" / "bundle.pem"
    newer = genuine(1, 100)
    bundle.write_bytes(tier_pki().bundle.to_pem() + crls_to_pem([newer]))
    older = tmp_path / "older.pem"
    older.write_bytes(crls_to_pem([genuine(3, 90, revoked=False)]))
    ok(prov, "pki", "import-trust", str(older))
    assert TrustBundle.load(bundle).crls == (newer,)
    # A genuine CRL dated ahead (a CA clock set forward, or one signed in advance to outrank
    # every later one) is refused whole: nothing is merged.
    ahead = tmp_path / "ahead.pem"
    pki = tier_pki()
    start = NOW + timedelta(days=2)
    ahead.write_bytes(
        crls_to_pem([build_crl(pki.prov_ca, pki.prov_ca_key, [], start, start + timedelta(days=7))])
    )
    before = bundle.read_bytes()
    result = receipts(prov, "pki", "import-trust", str(ahead))
    assert result.exit_code == 2, result.output
    assert "nothing was merged into the trust bundle: the CRL of" in result.output
    assert "in the future" in result.output
    assert bundle.read_bytes() == before
