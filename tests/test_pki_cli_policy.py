"""``receipts pki``: the issuance policy between the tiers and the refusals that keep it, key
renewal, certificate validity windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509

from receipts.domain.signed_documents import chain_validator
from signing.certificate_profile import CLOCK_SKEW, key_id
from signing.certificates import (
    CertificateRole,
    create_csr,
    create_root_ca,
    csr_to_pem,
    issue_certificate,
)
from signing.keys import generate_key
from signing.trust import TrustBundle
from tests.support.pki_cli import CA, ENV, NAMES, Tiers, certs_in, certs_pem, init, ok, refused, run


def test_province_cannot_certify_another_provinces_city(pki_tiers_copy: Tiers) -> None:
    other = init(pki_tiers_copy.base / "urumqi", "650100")
    ok(other, "pki", "csr", "-o", str(pki_tiers_copy.file("650100.csr")))
    out = pki_tiers_copy.file("650100.pem")
    message = refused(
        pki_tiers_copy.prov,
        "pki",
        "issue-cert",
        str(pki_tiers_copy.file("650100.csr")),
        "-o",
        str(out),
        CA,
    )
    assert message == "650100's upstream is 650000, not 640000: only its upstream's CA certifies it"
    assert not out.exists()
    assert len(list((pki_tiers_copy.prov / "ca" / "issued").glob("*.pem"))) == 2
    # Nor does the root certify a city directly.
    message = refused(
        pki_tiers_copy.nat,
        "pki",
        "issue-cert",
        str(pki_tiers_copy.file("city.csr")),
        "-o",
        str(out),
        CA,
    )
    assert message == "640100's upstream is 640000, not 000000: only its upstream's CA certifies it"


def test_city_cannot_have_a_ca(pki_tiers_copy: Tiers) -> None:
    message = refused(
        pki_tiers_copy.city, "pki", "csr", "--ca", "-o", str(pki_tiers_copy.file("x.csr")), CA
    )
    assert message == (
        "only a provincial federation has a CA; 640100 is city-tier and requests a signing "
        "certificate only"
    )
    assert not (pki_tiers_copy.city / "keys" / "ca.key").exists()
    # A hand-made CA request from the city is refused by the province's CA too.
    forged = pki_tiers_copy.file("forged.csr")
    forged.write_bytes(
        csr_to_pem(
            create_csr(generate_key(), "640100", "银川市总工会", CertificateRole.PROVINCIAL_CA)
        )
    )
    message = refused(
        pki_tiers_copy.prov,
        "pki",
        "issue-cert",
        str(forged),
        "-o",
        str(pki_tiers_copy.file("f.pem")),
        CA,
    )
    assert message == "provincial CA 640000 has path length 0: it issues signing certificates only"


def test_import_of_someone_elses_certificate_is_refused(pki_tiers_copy: Tiers) -> None:
    before = (pki_tiers_copy.city / "certs" / "signing.pem").read_bytes()
    message = refused(
        pki_tiers_copy.city, "pki", "import-cert", str(pki_tiers_copy.file("prov.pem"))
    )
    assert message == (
        "the certificate was issued to 640000 (宁夏回族自治区总工会), "
        "not to this workspace's 640100"
    )
    assert (pki_tiers_copy.city / "certs" / "signing.pem").read_bytes() == before
    # Another 640100 workspace with a pending key of its own: same org, wrong key.
    twin = init(pki_tiers_copy.base / "twin", "640100")
    assert refused(twin, "pki", "import-cert", str(pki_tiers_copy.file("city.pem"))) == (
        "this workspace has no pending request for a signing certificate: run 'pki csr' first"
    )
    ok(twin, "pki", "csr", "-o", str(pki_tiers_copy.file("twin.csr")))
    city = certs_in(pki_tiers_copy.file("city.pem"))[0]
    message = refused(
        twin,
        "pki",
        "import-cert",
        str(pki_tiers_copy.file("city.pem")),
        "--root",
        str(pki_tiers_copy.root_pem),
    )
    assert message == (
        f"the certificate (key {key_id(city)}) is not for this workspace's signing key "
        f"{twin / 'keys' / 'signing.key'}"
    )


def test_import_root_must_be_self_signed_and_the_chain_must_validate(pki_tiers_copy: Tiers) -> None:
    twin = init(pki_tiers_copy.base / "twin", "640100")
    ok(twin, "pki", "csr", "-o", str(pki_tiers_copy.file("twin.csr")))
    ok(
        pki_tiers_copy.prov,
        "pki",
        "issue-cert",
        str(pki_tiers_copy.file("twin.csr")),
        "-o",
        str(pki_tiers_copy.file("twin.pem")),
        CA,
    )
    cert = str(pki_tiers_copy.file("twin.pem"))
    prov_ca = certs_in(pki_tiers_copy.file("prov-ca.pem"))[0]
    assert refused(twin, "pki", "import-cert", cert) == (
        "this workspace trusts no root yet: give the national root (--root)"
    )
    assert refused(
        twin, "pki", "import-cert", cert, "--root", str(pki_tiers_copy.file("prov-ca.pem"))
    ) == (
        f"the given root (certificate of 640000 宁夏回族自治区总工会, key {key_id(prov_ca)}) "
        "is not a self-signed root CA certificate"
    )
    foreign = pki_tiers_copy.file("foreign-root.pem")
    foreign.write_bytes(certs_pem(create_root_ca(generate_key(), "中华全国总工会")))
    message = refused(twin, "pki", "import-cert", cert, "--root", str(foreign))
    assert message.startswith("the certificate is refused: certificate of 640100 (key ")
    assert "does not chain to a trusted root" in message
    assert not (twin / "certs" / "signing.pem").exists()
    assert not (twin / "trust" / "bundle.pem").exists()
    ok(twin, "pki", "import-cert", cert, "--root", str(pki_tiers_copy.root_pem))


def test_wrong_or_missing_ca_passphrase(pki_tiers_copy: Tiers) -> None:
    args = (
        "pki",
        "issue-cert",
        str(pki_tiers_copy.file("city.csr")),
        "-o",
        str(pki_tiers_copy.file("x.pem")),
    )
    wrong = {**ENV, "RECEIPTS_CA_PASSPHRASE": "not-it"}
    assert refused(pki_tiers_copy.prov, *args, CA, env=wrong) == (
        f"the passphrase does not decrypt key file {pki_tiers_copy.prov / 'keys' / 'ca.key'}"
    )
    assert refused(pki_tiers_copy.prov, *args) == (
        f"no passphrase for the CA key {pki_tiers_copy.prov / 'keys' / 'ca.key'}: type it on a "
        "terminal, or pass --allow-env-passphrase and set RECEIPTS_CA_PASSPHRASE"
    )
    assert not pki_tiers_copy.file("x.pem").exists()


def test_init_root_only_once_and_only_nationally(pki_tiers_copy: Tiers) -> None:
    assert refused(pki_tiers_copy.prov, "pki", "init-root", CA) == (
        "the root CA belongs to the national federation (000000); this workspace is 640000's"
    )
    before = (pki_tiers_copy.nat / "keys" / "ca.key").read_bytes()
    assert refused(pki_tiers_copy.nat, "pki", "init-root", CA) == (
        f"{pki_tiers_copy.nat / 'keys' / 'ca.key'} exists already; refusing to replace a CA key"
    )
    assert (pki_tiers_copy.nat / "keys" / "ca.key").read_bytes() == before


def test_renewal_keeps_the_old_key_and_a_pending_key_is_reused(pki_tiers_copy: Tiers) -> None:
    city = pki_tiers_copy.city
    assert refused(city, "pki", "csr", "-o", str(pki_tiers_copy.file("again.csr"))) == (
        f"{city / 'keys' / 'signing.key'} already has its certificate "
        f"({city / 'certs' / 'signing.pem'}); pass --renew for a new key (the old one is kept)"
    )
    old_key = (city / "keys" / "signing.key").read_bytes()
    result = ok(city, "pki", "csr", "--renew", "-o", str(pki_tiers_copy.file("renew.csr")))
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert (city / "keys" / f"signing.key.{today}.old").read_bytes() == old_key
    assert (city / "certs" / f"signing.pem.{today}.old").exists()
    assert "new signing key" in result.stdout
    # Asked again before the certificate arrives: the same pending key, a fresh request file.
    result = ok(city, "pki", "csr", "-o", str(pki_tiers_copy.file("renew2.csr")))
    assert "reused the pending signing key" in result.stdout
    assert (city / "keys" / "signing.key").read_bytes() != old_key
    first = x509.load_pem_x509_csr(pki_tiers_copy.file("renew.csr").read_bytes()).public_key()
    assert (
        x509.load_pem_x509_csr(pki_tiers_copy.file("renew2.csr").read_bytes()).public_key() == first
    )
    # A short-lived certificate is imported with a warning.
    ok(
        pki_tiers_copy.prov,
        "pki",
        "issue-cert",
        str(pki_tiers_copy.file("renew.csr")),
        "-o",
        str(pki_tiers_copy.file("renew.pem")),
        "--validity-days",
        "30",
        CA,
    )
    result = run(city, "pki", "import-cert", str(pki_tiers_copy.file("renew.pem")))
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: certificate 银川市总工会 (640100, key ")
    assert " in 29 days" in result.stderr or " in 30 days" in result.stderr


def test_a_fresh_certificate_is_valid_for_a_requester_whose_clock_is_behind(
    pki_tiers_copy: Tiers,
) -> None:
    twin = init(pki_tiers_copy.base / "twin", "640100")
    ok(twin, "pki", "csr", "-o", str(pki_tiers_copy.file("twin.csr")))
    issued_from = datetime.now(UTC).replace(microsecond=0)
    ok(
        pki_tiers_copy.prov,
        "pki",
        "issue-cert",
        str(pki_tiers_copy.file("twin.csr")),
        "-o",
        str(pki_tiers_copy.file("twin.pem")),
        "--validity-days",
        "30",
        CA,
    )
    issued_to = datetime.now(UTC)
    cert, prov_ca = certs_in(pki_tiers_copy.file("twin.pem"))
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    assert issued_from - CLOCK_SKEW <= start <= issued_to - CLOCK_SKEW
    # The end is not moved: 30 days from the moment of issue.
    assert end - start == timedelta(days=30) + CLOCK_SKEW
    bundle = TrustBundle.load(pki_tiers_copy.city / "trust" / "bundle.pem")
    behind = issued_from - CLOCK_SKEW + timedelta(seconds=1)
    assert chain_validator(bundle).validate(cert, [prov_ca], at=behind).ok


def test_a_certificate_never_starts_before_its_ca() -> None:
    root_key = generate_key()
    root = create_root_ca(root_key, NAMES["000000"], now=datetime(2026, 1, 1, tzinfo=UTC))
    assert root.not_valid_before_utc == datetime(2026, 1, 1, tzinfo=UTC) - CLOCK_SKEW
    csr = create_csr(generate_key(), "640000", NAMES["640000"], CertificateRole.PROVINCIAL_CA)
    # Issued at the root's very first second: backdating would reach before the root's start.
    prov = issue_certificate(
        root,
        root_key,
        csr,
        CertificateRole.PROVINCIAL_CA,
        requester_upstream="000000",
        now=root.not_valid_before_utc,
    )
    assert prov.not_valid_before_utc == root.not_valid_before_utc
