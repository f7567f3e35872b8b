"""``receipts pki``: the three-tier PKI built through the command line, what each workspace
holds, trust bundles, listing, help.

The workspaces are built once (``pki_tiers``); tests that change them work on a copy
(``pki_tiers_copy``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from receipts.commands.pki_options import ALGORITHMS, REASONS
from receipts.pki.credentials import Credentials
from receipts.workspace import Workspace
from signing.certificate_profile import key_id, org_code_of, role_of
from signing.certificates import (
    CertificateRole,
    create_csr,
    create_root_ca,
    issue_certificate,
    load_certificates,
)
from signing.crl import RevocationReason
from signing.keys import KeyAlgorithm, generate_key
from signing.trust import TrustBundle
from tests.support.pki_cli import ENV, Tiers, certs_in, certs_pem, ok, refused


def test_flow_installs_keys_chains_and_trust(pki_tiers: Tiers) -> None:
    t = pki_tiers
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


def test_export_trust_holds_root_cas_and_signing_certificates(pki_tiers: Tiers) -> None:
    out = pki_tiers.file("prov-trust.pem")
    result = ok(pki_tiers.prov, "pki", "export-trust", "-o", str(out))
    assert result.stdout == (
        f"wrote {out}: 1 root, 1 CA certificate, 2 signing certificates, 0 CRLs\n"
    )
    bundle = TrustBundle.load(out)
    assert bundle.roots == tuple(certs_in(pki_tiers.root_pem))
    assert [org_code_of(c) for c in bundle.cas] == ["640000"]
    assert sorted(org_code_of(c) for c in bundle.signing) == ["640000", "640100"]
    national = TrustBundle.load(pki_tiers.nat / "trust" / "bundle.pem")
    assert sorted(org_code_of(c) for c in national.certificates) == ["000000", "000000", "640000"]


def test_list_and_json_output(pki_tiers: Tiers) -> None:
    result = ok(pki_tiers.prov, "pki", "list")
    lines = result.stdout.splitlines()
    assert lines[0] == "signing key: installed"
    assert lines[3] == "CA key: installed"
    assert lines[-1] == "trust: 1 root, 1 CA certificate, 2 signing certificates, 0 CRLs"
    status = json.loads(ok(pki_tiers.city, "--json", "pki", "list").stdout)
    city = certs_in(pki_tiers.city / "certs" / "signing.pem")[0]
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


def test_import_trust_for_a_payer_and_refusals(pki_tiers_copy: Tiers, tmp_path: Path) -> None:
    bundle = pki_tiers_copy.file("trust.pem")
    ok(pki_tiers_copy.prov, "pki", "export-trust", "-o", str(bundle))
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


def test_trust_bundle_is_replaced_atomically(
    pki_tiers_copy: Tiers, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle_path = pki_tiers_copy.city / "trust" / "bundle.pem"
    before = bundle_path.read_bytes()
    creds = Credentials(Workspace.open(pki_tiers_copy.city))
    prov_signing = certs_in(pki_tiers_copy.file("prov.pem"))[0]
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
