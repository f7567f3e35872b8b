"""``receipts pki``: the three-tier PKI built through the command line, and its refusals.

A module fixture builds national (000000), provincial (640000) and city (640100) workspaces and
runs the whole issuance flow once; tests that change a workspace work on a copy of it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from cli import main
from receipts.commands.pki_options import ALGORITHMS, REASONS
from receipts.pki.credentials import Credentials
from receipts.workspace import Workspace
from signing.certificate_profile import CLOCK_SKEW, key_id, org_code_of, role_of
from signing.certificates import (
    CertificateRole,
    certificates_from_pem,
    create_csr,
    create_root_ca,
    csr_to_pem,
    issue_certificate,
    load_certificates,
)
from signing.crl import RevocationReason, crls_from_pem, revocation_at
from signing.keys import KeyAlgorithm, generate_key
from signing.trust import ChainValidator, TrustBundle

ENV = {"RECEIPTS_KEY_PASSPHRASE": "signing-secret", "RECEIPTS_CA_PASSPHRASE": "ca-secret"}
NAMES = {
    "000000": "中华全国总工会",
    "640000": "宁夏回族自治区总工会",
    "640100": "银川市总工会",
    "650100": "乌鲁木齐市总工会",
}
CA = "--allow-env-passphrase"


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """``receipts --home HOME ARGS`` with both passphrases in the environment."""
    runner = CliRunner(env=ENV if env is None else env)
    return runner.invoke(main, ["--home", str(home), *args], catch_exceptions=False)


def ok(home: Path, *args: str) -> Result:
    result = run(home, *args)
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    return result


def refused(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a command that must fail with exit 2 and one error line; return that line."""
    result = run(home, *args, env=env)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0].removeprefix("error: ")


def init(home: Path, org: str) -> Path:
    ok(home, "init", "--org", org, "--name", NAMES[org])
    return home


@dataclass(frozen=True)
class Tiers:
    base: Path
    nat: Path
    prov: Path
    city: Path

    @property
    def root_pem(self) -> Path:
        return self.nat / "certs" / "ca.pem"

    def file(self, name: str) -> Path:
        return self.base / "files" / name

    def copy(self, target: Path) -> Tiers:
        shutil.copytree(self.base, target)
        return Tiers(target, target / "nat", target / "prov", target / "city")


def _build(base: Path) -> Tiers:
    t = Tiers(base, base / "nat", base / "prov", base / "city")
    (base / "files").mkdir(parents=True)
    for home, org in ((t.nat, "000000"), (t.prov, "640000"), (t.city, "640100")):
        init(home, org)
    ok(t.nat, "pki", "init-root", CA)
    # The provincial CA, certified by the root.
    ok(t.prov, "pki", "csr", "--ca", "-o", str(t.file("prov-ca.csr")), CA)
    ok(t.nat, "pki", "issue-cert", str(t.file("prov-ca.csr")), "-o", str(t.file("prov-ca.pem")), CA)
    ok(t.prov, "pki", "import-cert", str(t.file("prov-ca.pem")), "--root", str(t.root_pem))
    # Signing certificates: the province's own, the city's (both from the province), the
    # national federation's (from the root).
    for home, ca_home, name in (
        (t.prov, t.prov, "prov"),
        (t.city, t.prov, "city"),
        (t.nat, t.nat, "nat"),
    ):
        ok(home, "pki", "csr", "-o", str(t.file(f"{name}.csr")))
        ok(
            ca_home,
            "pki",
            "issue-cert",
            str(t.file(f"{name}.csr")),
            "-o",
            str(t.file(f"{name}.pem")),
            CA,
        )
        extra = ["--root", str(t.root_pem)] if home == t.city else []
        ok(home, "pki", "import-cert", str(t.file(f"{name}.pem")), *extra)
    return t


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Tiers:
    return _build(tmp_path_factory.mktemp("tiers"))


@pytest.fixture
def tiers(built: Tiers, tmp_path: Path) -> Tiers:
    """A private copy of the built tiers, for tests that change them."""
    return built.copy(tmp_path / "tiers")


def certs_in(path: Path) -> list[x509.Certificate]:
    return certificates_from_pem(path.read_bytes())


def test_flow_installs_keys_chains_and_trust(built: Tiers) -> None:
    t = built
    root = certs_in(t.root_pem)
    assert [role_of(c) for c in root] == [CertificateRole.ROOT_CA]
    prov_ca = certs_in(t.prov / "certs" / "ca.pem")
    assert [(org_code_of(c), role_of(c)) for c in prov_ca] == [
        ("640000", CertificateRole.PROVINCIAL_CA)
    ]
    # Chains hold the leaf and the intermediates, never the root.
    city_chain = certs_in(t.city / "certs" / "signing.pem")
    assert city_chain == certs_in(t.file("city.pem"))
    assert [org_code_of(c) for c in city_chain] == ["640100", "640000"]
    assert city_chain[1] == prov_ca[0]
    assert [org_code_of(c) for c in certs_in(t.nat / "certs" / "signing.pem")] == ["000000"]
    # Keys are encrypted, pending requests are gone once their certificate is imported.
    for home in (t.nat, t.prov, t.city):
        assert b"ENCRYPTED PRIVATE KEY" in (home / "keys" / "signing.key").read_bytes()
        assert not (home / "certs" / "signing.csr").exists()
    assert not (t.prov / "certs" / "ca.csr").exists()
    # Each CA keeps a copy of what it issued, by serial.
    city = city_chain[0]
    assert load_certificates(t.prov / "ca" / "issued" / f"{city.serial_number:x}.pem") == [city]
    assert len(list((t.nat / "ca" / "issued").glob("*.pem"))) == 2
    # The city signs with what it imported, validated against its own trust.
    creds = Credentials(Workspace.open(t.city))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECEIPTS_KEY_PASSPHRASE", ENV["RECEIPTS_KEY_PASSPHRASE"])
        signer = creds.signer
    assert signer.certificate == city
    assert creds.validator.validate(city, signer.intermediates, at=datetime.now(UTC)).ok


def test_export_trust_holds_root_cas_and_signing_certificates(built: Tiers) -> None:
    out = built.file("prov-trust.pem")
    result = ok(built.prov, "pki", "export-trust", "-o", str(out))
    assert result.stdout == (
        f"wrote {out}: 1 root, 1 CA certificate, 2 signing certificates, 0 CRLs\n"
    )
    bundle = TrustBundle.load(out)
    assert bundle.roots == tuple(certs_in(built.root_pem))
    assert [org_code_of(c) for c in bundle.cas] == ["640000"]
    assert sorted(org_code_of(c) for c in bundle.signing) == ["640000", "640100"]
    national = TrustBundle.load(built.nat / "trust" / "bundle.pem")
    assert sorted(org_code_of(c) for c in national.certificates) == ["000000", "000000", "640000"]


def test_revoke_crl_and_validation_after_the_revocation(tiers: Tiers) -> None:
    t = tiers
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
    validator = ChainValidator(bundle)
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


def test_revocation_dated_back_becomes_the_invalidity_date(tiers: Tiers) -> None:
    city = certs_in(tiers.city / "certs" / "signing.pem")[0]
    ok(
        tiers.prov,
        "pki",
        "revoke",
        "--cert",
        str(tiers.file("city.pem")),
        "--reason",
        "key-compromise",
        "--at",
        "2020-01-01T08:00:00",
    )
    ok(tiers.prov, "pki", "crl", "-o", str(tiers.file("c.crl")), CA)
    [crl] = crls_from_pem(tiers.file("c.crl").read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(city.serial_number)
    assert entry is not None
    since = entry.extensions.get_extension_for_class(x509.InvalidityDate).value
    assert since.invalidity_date_utc == datetime(2020, 1, 1, tzinfo=UTC)  # 08:00 in Shanghai
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    prov_sign = certs_in(tiers.prov / "certs" / "signing.pem")[0]
    message = refused(
        tiers.prov,
        "pki",
        "revoke",
        f"{prov_sign.serial_number:x}",
        "--reason",
        "superseded",
        "--at",
        future,
    )
    assert message == f"the revocation time {future[:19]}Z lies in the future"


def test_province_cannot_certify_another_provinces_city(tiers: Tiers) -> None:
    other = init(tiers.base / "urumqi", "650100")
    ok(other, "pki", "csr", "-o", str(tiers.file("650100.csr")))
    out = tiers.file("650100.pem")
    message = refused(
        tiers.prov, "pki", "issue-cert", str(tiers.file("650100.csr")), "-o", str(out), CA
    )
    assert message == "650100's upstream is 650000, not 640000: only its upstream's CA certifies it"
    assert not out.exists()
    assert len(list((tiers.prov / "ca" / "issued").glob("*.pem"))) == 2
    # Nor does the root certify a city directly.
    message = refused(
        tiers.nat, "pki", "issue-cert", str(tiers.file("city.csr")), "-o", str(out), CA
    )
    assert message == "640100's upstream is 640000, not 000000: only its upstream's CA certifies it"


def test_city_cannot_have_a_ca(tiers: Tiers) -> None:
    message = refused(tiers.city, "pki", "csr", "--ca", "-o", str(tiers.file("x.csr")), CA)
    assert message == (
        "only a provincial federation has a CA; 640100 is city-tier and requests a signing "
        "certificate only"
    )
    assert not (tiers.city / "keys" / "ca.key").exists()
    # A hand-made CA request from the city is refused by the province's CA too.
    forged = tiers.file("forged.csr")
    forged.write_bytes(
        csr_to_pem(
            create_csr(generate_key(), "640100", "银川市总工会", CertificateRole.PROVINCIAL_CA)
        )
    )
    message = refused(
        tiers.prov, "pki", "issue-cert", str(forged), "-o", str(tiers.file("f.pem")), CA
    )
    assert message == "provincial CA 640000 has path length 0: it issues signing certificates only"


def test_import_of_someone_elses_certificate_is_refused(tiers: Tiers) -> None:
    before = (tiers.city / "certs" / "signing.pem").read_bytes()
    message = refused(tiers.city, "pki", "import-cert", str(tiers.file("prov.pem")))
    assert message == (
        "the certificate was issued to 640000 (宁夏回族自治区总工会), "
        "not to this workspace's 640100"
    )
    assert (tiers.city / "certs" / "signing.pem").read_bytes() == before
    # Another 640100 workspace with a pending key of its own: same org, wrong key.
    twin = init(tiers.base / "twin", "640100")
    assert refused(twin, "pki", "import-cert", str(tiers.file("city.pem"))) == (
        "this workspace has no pending request for a signing certificate: run 'pki csr' first"
    )
    ok(twin, "pki", "csr", "-o", str(tiers.file("twin.csr")))
    city = certs_in(tiers.file("city.pem"))[0]
    message = refused(
        twin, "pki", "import-cert", str(tiers.file("city.pem")), "--root", str(tiers.root_pem)
    )
    assert message == (
        f"the certificate (key {key_id(city)}) is not for this workspace's signing key "
        f"{twin / 'keys' / 'signing.key'}"
    )


def test_import_root_must_be_self_signed_and_the_chain_must_validate(tiers: Tiers) -> None:
    twin = init(tiers.base / "twin", "640100")
    ok(twin, "pki", "csr", "-o", str(tiers.file("twin.csr")))
    ok(
        tiers.prov,
        "pki",
        "issue-cert",
        str(tiers.file("twin.csr")),
        "-o",
        str(tiers.file("twin.pem")),
        CA,
    )
    cert = str(tiers.file("twin.pem"))
    prov_ca = certs_in(tiers.file("prov-ca.pem"))[0]
    assert refused(twin, "pki", "import-cert", cert) == (
        "this workspace trusts no root yet: give the national root (--root)"
    )
    assert refused(twin, "pki", "import-cert", cert, "--root", str(tiers.file("prov-ca.pem"))) == (
        f"the given root (certificate of 640000 宁夏回族自治区总工会, key {key_id(prov_ca)}) "
        "is not a self-signed root CA certificate"
    )
    foreign = tiers.file("foreign-root.pem")
    foreign.write_bytes(certs_pem(create_root_ca(generate_key(), "中华全国总工会")))
    message = refused(twin, "pki", "import-cert", cert, "--root", str(foreign))
    assert message.startswith("the certificate is refused: certificate of 640100 (key ")
    assert "does not chain to a trusted root" in message
    assert not (twin / "certs" / "signing.pem").exists()
    assert not (twin / "trust" / "bundle.pem").exists()
    ok(twin, "pki", "import-cert", cert, "--root", str(tiers.root_pem))


def certs_pem(cert: x509.Certificate) -> bytes:
    from signing.certificates import certificates_to_pem

    return certificates_to_pem([cert])


def test_wrong_or_missing_ca_passphrase(tiers: Tiers) -> None:
    args = ("pki", "issue-cert", str(tiers.file("city.csr")), "-o", str(tiers.file("x.pem")))
    wrong = {**ENV, "RECEIPTS_CA_PASSPHRASE": "not-it"}
    assert refused(tiers.prov, *args, CA, env=wrong) == (
        f"the passphrase does not decrypt key file {tiers.prov / 'keys' / 'ca.key'}"
    )
    assert refused(tiers.prov, *args) == (
        f"no passphrase for the CA key {tiers.prov / 'keys' / 'ca.key'}: type it on a terminal, "
        "or pass --allow-env-passphrase and set RECEIPTS_CA_PASSPHRASE"
    )
    assert not tiers.file("x.pem").exists()


def test_init_root_only_once_and_only_nationally(tiers: Tiers) -> None:
    assert refused(tiers.prov, "pki", "init-root", CA) == (
        "the root CA belongs to the national federation (000000); this workspace is 640000's"
    )
    before = (tiers.nat / "keys" / "ca.key").read_bytes()
    assert refused(tiers.nat, "pki", "init-root", CA) == (
        f"{tiers.nat / 'keys' / 'ca.key'} exists already; refusing to replace a CA key"
    )
    assert (tiers.nat / "keys" / "ca.key").read_bytes() == before


def test_revoke_only_what_this_ca_issued(tiers: Tiers) -> None:
    assert refused(tiers.prov, "pki", "revoke", "abc123", "--reason", "superseded") == (
        "certificate serial abc123 was not issued by this CA (640000)"
    )
    city = certs_in(tiers.file("city.pem"))[0]
    assert refused(
        tiers.nat, "pki", "revoke", "--cert", str(tiers.file("city.pem")), "--reason", "superseded"
    ) == (f"certificate serial {city.serial_number:x} was not issued by this CA (000000)")
    assert refused(tiers.prov, "pki", "revoke", "xyz", "--reason", "superseded") == (
        "serial 'xyz' is not a hexadecimal number"
    )
    assert refused(tiers.city, "pki", "revoke", "abc", "--reason", "superseded") == (
        f"{tiers.city} is not a CA workspace: it has no CA key"
    )


def test_renewal_keeps_the_old_key_and_a_pending_key_is_reused(tiers: Tiers) -> None:
    city = tiers.city
    assert refused(city, "pki", "csr", "-o", str(tiers.file("again.csr"))) == (
        f"{city / 'keys' / 'signing.key'} already has its certificate "
        f"({city / 'certs' / 'signing.pem'}); pass --renew for a new key (the old one is kept)"
    )
    old_key = (city / "keys" / "signing.key").read_bytes()
    result = ok(city, "pki", "csr", "--renew", "-o", str(tiers.file("renew.csr")))
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert (city / "keys" / f"signing.key.{today}.old").read_bytes() == old_key
    assert (city / "certs" / f"signing.pem.{today}.old").exists()
    assert "new signing key" in result.stdout
    # Asked again before the certificate arrives: the same pending key, a fresh request file.
    result = ok(city, "pki", "csr", "-o", str(tiers.file("renew2.csr")))
    assert "reused the pending signing key" in result.stdout
    assert (city / "keys" / "signing.key").read_bytes() != old_key
    first = x509.load_pem_x509_csr(tiers.file("renew.csr").read_bytes()).public_key()
    assert x509.load_pem_x509_csr(tiers.file("renew2.csr").read_bytes()).public_key() == first
    # A short-lived certificate is imported with a warning.
    ok(
        tiers.prov,
        "pki",
        "issue-cert",
        str(tiers.file("renew.csr")),
        "-o",
        str(tiers.file("renew.pem")),
        "--validity-days",
        "30",
        CA,
    )
    result = run(city, "pki", "import-cert", str(tiers.file("renew.pem")))
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: certificate 银川市总工会 (640100, key ")
    assert " in 29 days" in result.stderr or " in 30 days" in result.stderr


def test_import_trust_for_a_payer_and_refusals(tiers: Tiers, tmp_path: Path) -> None:
    bundle = tiers.file("trust.pem")
    ok(tiers.prov, "pki", "export-trust", "-o", str(bundle))
    payer = tmp_path / "payer"
    ok(payer, "init", "--payer", "--name", "宁夏贺兰山实业有限公司", "--uscc", "91640100MA7600001J")
    result = ok(payer, "--json", "pki", "import-trust", str(bundle))
    data = json.loads(result.stdout)
    assert data == {
        "new_certificates": 4,
        "new_crls": 0,
        "roots": 1,
        "cas": 1,
        "signing": 2,
        "crls": 0,
    }
    foreign_key = generate_key()
    foreign = create_root_ca(foreign_key, "中华全国总工会")
    other = tmp_path / "other.pem"
    other.write_bytes(certs_pem(foreign))
    assert refused(payer, "pki", "import-trust", str(other)) == (
        f"{other} brings a root this workspace does not trust (certificate of 000000 "
        f"中华全国总工会, key {key_id(foreign)}); pass --add-root to trust it as well"
    )
    ok(payer, "pki", "import-trust", str(other), "--add-root")
    # A signing certificate under no trusted root is refused, and nothing is merged.
    stranger = tmp_path / "stranger.pem"
    from signing.certificates import issue_certificate

    rogue_root_key = generate_key()
    rogue_root = create_root_ca(rogue_root_key, "假总工会")
    rogue = issue_certificate(
        rogue_root,
        rogue_root_key,
        create_csr(generate_key(), "000000", "假总工会", CertificateRole.SIGNING),
        CertificateRole.SIGNING,
        requester_upstream=None,
    )
    stranger.write_bytes(certs_pem(rogue))
    before = (payer / "trust" / "bundle.pem").read_bytes()
    assert refused(payer, "pki", "import-trust", str(stranger)) == (
        f"{stranger}: certificate of 000000 假总工会, key {key_id(rogue)} does not chain to a "
        "trusted root"
    )
    assert (payer / "trust" / "bundle.pem").read_bytes() == before


def test_list_and_json_output(built: Tiers) -> None:
    result = ok(built.prov, "pki", "list")
    lines = result.stdout.splitlines()
    assert lines[0] == "signing key: installed"
    assert lines[3] == "CA key: installed"
    assert lines[-1] == "trust: 1 root, 1 CA certificate, 2 signing certificates, 0 CRLs"
    status = json.loads(ok(built.city, "--json", "pki", "list").stdout)
    city = certs_in(built.city / "certs" / "signing.pem")[0]
    assert status["signing"]["certificate"]["serial"] == f"{city.serial_number:x}"
    assert status["signing"]["certificate"]["key_id"] == key_id(city)
    assert status["signing"]["warnings"] == []
    assert status["ca"] == {"state": "none"}
    assert status["trust"]["roots"] == 1


def test_every_pki_command_has_an_example() -> None:
    for name in (
        "init-root",
        "csr",
        "issue-cert",
        "import-cert",
        "revoke",
        "crl",
        "export-trust",
        "import-trust",
        "list",
    ):
        result = CliRunner().invoke(main, ["pki", name, "--help"])
        assert result.exit_code == 0 and "Example" in result.stdout, name


def test_choices_follow_the_signing_enums() -> None:
    assert tuple(a.value for a in KeyAlgorithm) == ALGORITHMS
    assert {r.replace("_", "-") for r in REASONS} == {r.value for r in RevocationReason}


def test_renewed_ca_keeps_the_old_keys_crl_beside_the_new_one(tiers: Tiers) -> None:
    t = tiers
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
    [new] = crls_from_pem(t.file("new.crl").read_bytes())
    assert new.issuer == old2.issuer
    # The old key's CRL stays: it is what revokes the certificates the old key issued.
    assert sorted_crls(TrustBundle.load(bundle_path).crls) == sorted_crls([old2, new])
    assert old2.is_signature_valid(old_ca.public_key())  # type: ignore[arg-type]
    assert new.is_signature_valid(new_ca.public_key())  # type: ignore[arg-type]
    # A city merging the province's bundle keeps both as well.
    ok(t.prov, "pki", "export-trust", "-o", str(t.file("prov-renewed.pem")))
    result = ok(t.city, "--json", "pki", "import-trust", str(t.file("prov-renewed.pem")))
    assert json.loads(result.stdout)["new_crls"] == 2
    assert sorted_crls(TrustBundle.load(t.city / "trust" / "bundle.pem").crls) == sorted_crls(
        [old2, new]
    )


def sorted_crls(crls: Iterable[x509.CertificateRevocationList]) -> list[bytes]:
    """CRLs compared as a set (they are not hashable): their DER, sorted."""
    return sorted(crl.public_bytes(Encoding.DER) for crl in crls)


def test_trust_bundle_is_replaced_atomically(tiers: Tiers, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle_path = tiers.city / "trust" / "bundle.pem"
    before = bundle_path.read_bytes()
    creds = Credentials(Workspace.open(tiers.city))
    prov_signing = certs_in(tiers.file("prov.pem"))[0]
    replaced: list[tuple[Path, Path]] = []

    def failing_replace(src: str | Path, dst: str | Path) -> None:
        replaced.append((Path(src), Path(dst)))
        raise OSError(28, "No space left on device")

    # The new bundle goes to a temporary file beside the old one, renamed over it: a failure
    # before the rename leaves the old bundle whole and no stray file behind.
    monkeypatch.setattr("os.replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        creds.add_to_trust([prov_signing])
    [(src, dst)] = replaced
    assert (src.parent, dst) == (bundle_path.parent, bundle_path)
    assert bundle_path.read_bytes() == before
    assert sorted(p.name for p in bundle_path.parent.iterdir()) == ["bundle.pem"]
    monkeypatch.undo()
    inode = bundle_path.stat().st_ino
    merged = creds.add_to_trust([prov_signing])
    assert prov_signing in merged.signing
    assert TrustBundle.load(bundle_path) == merged
    assert bundle_path.stat().st_ino != inode  # a new file renamed into place, not rewritten


def test_a_fresh_certificate_is_valid_for_a_requester_whose_clock_is_behind(tiers: Tiers) -> None:
    twin = init(tiers.base / "twin", "640100")
    ok(twin, "pki", "csr", "-o", str(tiers.file("twin.csr")))
    issued_from = datetime.now(UTC).replace(microsecond=0)
    ok(
        tiers.prov,
        "pki",
        "issue-cert",
        str(tiers.file("twin.csr")),
        "-o",
        str(tiers.file("twin.pem")),
        "--validity-days",
        "30",
        CA,
    )
    issued_to = datetime.now(UTC)
    cert, prov_ca = certs_in(tiers.file("twin.pem"))
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    assert issued_from - CLOCK_SKEW <= start <= issued_to - CLOCK_SKEW
    # The end is not moved: 30 days from the moment of issue.
    assert end - start == timedelta(days=30) + CLOCK_SKEW
    bundle = TrustBundle.load(tiers.city / "trust" / "bundle.pem")
    behind = issued_from - CLOCK_SKEW + timedelta(seconds=1)
    assert ChainValidator(bundle).validate(cert, [prov_ca], at=behind).ok


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
