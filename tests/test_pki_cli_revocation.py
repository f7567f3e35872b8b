"""``receipts pki revoke`` and ``crl``: revocations, CRLs in trust bundles, a renewed CA's CRLs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cryptography import x509

from receipts.domain.signed_documents import chain_validator
from signing.crl import crls_from_pem, revocation_at
from signing.trust import TrustBundle
from tests.support.pki_cli import CA, Tiers, certs_in, ok, refused, sorted_crls


def test_revoke_crl_and_validation_after_the_revocation(pki_tiers_copy: Tiers) -> None:
    t = pki_tiers_copy
    city = certs_in(t.city / "certs" / "signing.pem")[0]
    serial = f"{city.serial_number:x}"
    result = ok(t.prov, "pki", "revoke", serial, "--reason", "key_compromise")
    assert result.stdout.startswith(f"revoked 银川市总工会 (640100), serial {serial}: key-comp")
    assert refused(t.prov, "pki", "revoke", serial, "--reason", "superseded") == (
        f"certificate serial {serial} is revoked already"
    )
    crl_file = t.file("prov.crl")
    result = ok(t.prov, "pki", "crl", "-o", str(crl_file), "--next-update-days", "7", CA)
    assert result.stdout.startswith(f"wrote {crl_file}: 1 revoked certificate, next update ")
    [crl] = crls_from_pem(crl_file.read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(city.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    assert crl.next_update_utc == crl.last_update_utc + timedelta(days=7)

    bundle_file = t.file("after.pem")
    ok(t.prov, "pki", "export-trust", "-o", str(bundle_file))
    bundle = TrustBundle.load(bundle_file)
    assert bundle.crls == (crl,)
    prov_ca = certs_in(t.prov / "certs" / "ca.pem")[0]
    revoked_at = entry.revocation_date_utc
    assert revocation_at(city, prov_ca, bundle.crls, revoked_at - timedelta(seconds=1)) is None
    validator = chain_validator(bundle)
    after = validator.validate(city, [prov_ca], at=revoked_at + timedelta(seconds=1))
    assert [f.code for f in after.findings] == ["revoked"]
    prov_signing = certs_in(t.prov / "certs" / "signing.pem")
    assert validator.validate(prov_signing[0], prov_signing[1:], at=revoked_at).ok

    # The city learns the CRL (and the province's signing certificate) from that bundle; a
    # second CRL gets a higher number.
    result = ok(t.city, "pki", "import-trust", str(bundle_file))
    assert result.stdout.startswith(f"merged {bundle_file}: 1 new certificate, 1 new CRL;")
    ok(t.prov, "pki", "crl", "-o", str(t.file("prov2.crl")), CA)
    [second] = crls_from_pem(t.file("prov2.crl").read_bytes())
    number = x509.CRLNumber
    assert (
        second.extensions.get_extension_for_class(number).value.crl_number
        > crl.extensions.get_extension_for_class(number).value.crl_number
    )


def test_revocation_dated_back_becomes_the_invalidity_date(pki_tiers_copy: Tiers) -> None:
    city = certs_in(pki_tiers_copy.city / "certs" / "signing.pem")[0]
    ok(
        pki_tiers_copy.prov,
        "pki",
        "revoke",
        "--cert",
        str(pki_tiers_copy.file("city.pem")),
        "--reason",
        "key-compromise",
        "--at",
        "2020-01-01T08:00:00",
    )
    ok(pki_tiers_copy.prov, "pki", "crl", "-o", str(pki_tiers_copy.file("c.crl")), CA)
    [crl] = crls_from_pem(pki_tiers_copy.file("c.crl").read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(city.serial_number)
    assert entry is not None
    since = entry.extensions.get_extension_for_class(x509.InvalidityDate).value
    assert since.invalidity_date_utc == datetime(2020, 1, 1, tzinfo=UTC)  # 08:00 in Shanghai
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    prov_sign = certs_in(pki_tiers_copy.prov / "certs" / "signing.pem")[0]
    message = refused(
        pki_tiers_copy.prov,
        "pki",
        "revoke",
        f"{prov_sign.serial_number:x}",
        "--reason",
        "superseded",
        "--at",
        future,
    )
    assert message == f"the revocation time {future[:19]}Z lies in the future"


def test_revoke_only_what_this_ca_issued(pki_tiers_copy: Tiers) -> None:
    assert refused(pki_tiers_copy.prov, "pki", "revoke", "abc123", "--reason", "superseded") == (
        "certificate serial abc123 was not issued by this CA (640000)"
    )
    city = certs_in(pki_tiers_copy.file("city.pem"))[0]
    assert refused(
        pki_tiers_copy.nat,
        "pki",
        "revoke",
        "--cert",
        str(pki_tiers_copy.file("city.pem")),
        "--reason",
        "superseded",
    ) == (f"certificate serial {city.serial_number:x} was not issued by this CA (000000)")
    assert refused(pki_tiers_copy.prov, "pki", "revoke", "xyz", "--reason", "superseded") == (
        "serial 'xyz' is not a hexadecimal number"
    )
    assert refused(pki_tiers_copy.city, "pki", "revoke", "abc", "--reason", "superseded") == (
        f"{pki_tiers_copy.city} is not a CA workspace: it has no CA key"
    )


def test_renewed_ca_keeps_the_old_keys_crl_beside_the_new_one(pki_tiers_copy: Tiers) -> None:
    t = pki_tiers_copy
    bundle_path = t.prov / "trust" / "bundle.pem"
    old_ca = certs_in(t.prov / "certs" / "ca.pem")[0]
    ok(t.prov, "pki", "crl", "-o", str(t.file("old1.crl")), CA)
    ok(t.prov, "pki", "crl", "-o", str(t.file("old2.crl")), CA)
    [old2] = crls_from_pem(t.file("old2.crl").read_bytes())
    # A newer CRL of the same CA key replaces the older one.
    assert TrustBundle.load(bundle_path).crls == (old2,)
    # The province renews its CA key: same name, new key, certified by the root again.
    ok(t.prov, "pki", "csr", "--ca", "--renew", "-o", str(t.file("ca2.csr")), CA)
    ok(t.nat, "pki", "issue-cert", str(t.file("ca2.csr")), "-o", str(t.file("ca2.pem")), CA)
    ok(t.prov, "pki", "import-cert", str(t.file("ca2.pem")))
    new_ca = certs_in(t.prov / "certs" / "ca.pem")[0]
    assert new_ca.subject == old_ca.subject and new_ca.public_key() != old_ca.public_key()
    ok(t.prov, "pki", "crl", "-o", str(t.file("new.crl")), CA)
    # One CRL by the new key and one by the old key, which still vouches for what it issued.
    [new, old3] = crls_from_pem(t.file("new.crl").read_bytes())
    assert new.issuer == old2.issuer == old3.issuer
    assert new.is_signature_valid(new_ca.public_key())  # type: ignore[arg-type]
    assert old3.is_signature_valid(old_ca.public_key())  # type: ignore[arg-type]
    # The old key's newer CRL replaces its older one beside the new key's.
    assert sorted_crls(TrustBundle.load(bundle_path).crls) == sorted_crls([old3, new])
    # A city merging the province's bundle keeps both as well.
    ok(t.prov, "pki", "export-trust", "-o", str(t.file("prov-renewed.pem")))
    result = ok(t.city, "--json", "pki", "import-trust", str(t.file("prov-renewed.pem")))
    assert json.loads(result.stdout)["new_crls"] == 2
    assert sorted_crls(TrustBundle.load(t.city / "trust" / "bundle.pem").crls) == sorted_crls(
        [old3, new]
    )


def test_a_certificate_the_renewed_cas_old_key_issued_is_revoked(pki_tiers_copy: Tiers) -> None:
    """Revoked after the CA's renewal, the city's certificate (issued by the old key) must be
    revoked by a CRL of the old key: with the new key's alone, the city revoked for key
    compromise went on issuing receipts that verified everywhere."""
    t = pki_tiers_copy
    city = certs_in(t.city / "certs" / "signing.pem")[0]
    old_ca = certs_in(t.prov / "certs" / "ca.pem")[0]
    ok(t.prov, "pki", "csr", "--ca", "--renew", "-o", str(t.file("ca2.csr")), CA)
    ok(t.nat, "pki", "issue-cert", str(t.file("ca2.csr")), "-o", str(t.file("ca2.pem")), CA)
    ok(t.prov, "pki", "import-cert", str(t.file("ca2.pem")))
    ok(t.prov, "pki", "revoke", f"{city.serial_number:x}", "--reason", "key_compromise")
    result = ok(t.prov, "pki", "crl", "-o", str(t.file("after-renewal.crl")), CA)
    assert "signed by the current key and 1 retired key" in result.stdout
    ok(t.prov, "pki", "export-trust", "-o", str(t.file("renewed-trust.pem")))
    bundle = TrustBundle.load(t.file("renewed-trust.pem"))
    later = datetime.now(UTC) + timedelta(seconds=5)
    found = chain_validator(bundle).validate(city, [old_ca], at=later)
    assert [f.code for f in found.findings] == ["revoked"]
