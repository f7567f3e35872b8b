"""Tier policy at verification (issue 14, defect 4): a CA vouches only for the organisations below
it. With 640000's CA key an insider can certify 650100 (issuance checks only the upstream it is
told); every signed thing under that certificate must be refused, wherever a chain is validated.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from cli import main
from receipts.domain.divisions import issuer_may_certify
from receipts.domain.signed_documents import InvalidSignedDocument, chain_validator, verify_document
from receipts.pki.signer import ReceiptSigner
from receipts.render.receipt_pdf import render_pdf, sign_pdf
from receipts.support.safezip import write_zip
from receipts.transmission.acknowledgement import build_acknowledgement
from receipts.transmission.package import manifest_element, read_package
from receipts.verify.pdf import verify_pdf
from receipts.verify.receipt import verify_receipt_xml
from signing.certificate_profile import tier_key_usage, tier_subject
from signing.certificates import CertificateRole, create_csr, issue_certificate
from signing.keys import PrivateKey, generate_key
from tests.support.cross_province import certified, cross_province, urumqi_receipt
from tests.support.pki import build_pki
from tests.support.receipt_corpus import good_xml
from tests.support.tier_pki import tier_pki

OUTSIDE = "certificate-outside-tier"


def test_verify_refuses_a_receipt_under_another_provinces_ca(tmp_path: Path) -> None:
    # The attack as found: with 640000's CA key, certify 650100 and sign a receipt with issuer
    # 650100; `verify --trust national-trust.pem` said VALID.
    trust = tmp_path / "national-trust.pem"
    trust.write_bytes(tier_pki().bundle.to_pem())
    receipt = tmp_path / "650100.xml"
    receipt.write_bytes(urumqi_receipt(cross_province()))
    result = CliRunner().invoke(
        main, ["--json", "verify", str(receipt), "--trust", str(trust), "--workers", "1"]
    )
    assert result.exit_code == 1, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["valid"] is False
    assert [f["code"] for f in entry["findings"]] == [OUTSIDE]
    assert (
        "certified by the CA of 640000, which may not certify 650100"
        in (entry["findings"][0]["message"])
    )


def test_every_tier_of_a_legitimate_chain_verifies() -> None:
    pki = tier_pki()
    validator = chain_validator(pki.bundle)
    now = datetime.now(UTC)
    for org in ("000000", "640000", "640100", "640104"):
        signer = pki.signers[org]
        result = validator.validate(signer.certificate, signer.intermediates, at=now)
        assert result.ok, (org, result.findings)
    assert validator.validate(pki.prov_ca, at=now).chain  # the CA itself chains
    assert verify_receipt_xml(good_xml(), chain_validator(build_pki().bundle)).valid


@pytest.mark.parametrize(
    ("issuer", "org", "role"),
    [
        ("province", "650100", CertificateRole.SIGNING),  # another province's city
        ("province", "650000", CertificateRole.SIGNING),  # another province itself
        ("province", "000000", CertificateRole.SIGNING),  # the national federation
        ("root", "640100", CertificateRole.PROVINCIAL_CA),  # a city made a CA by the root
        ("root", "640000", CertificateRole.SIGNING),  # root signs a province's signing cert
    ],
)
def test_each_link_outside_the_tier_is_refused(
    issuer: str, org: str, role: CertificateRole
) -> None:
    pki = tier_pki()
    if issuer == "root":
        # issue_certificate itself refuses these; the key holder builds them through a CSR that
        # claims whatever the policy wants to hear, so build them by hand like an attacker.
        signer = _by_hand(pki.root, pki.root_key, org, role)
        chain: tuple[x509.Certificate, ...] = ()
    else:
        signer = certified(pki.prov_ca, pki.prov_ca_key, org)
        chain = (pki.prov_ca,)
    result = chain_validator(pki.bundle).validate(signer.certificate, chain, at=datetime.now(UTC))
    assert OUTSIDE in [f.code for f in result.findings], result.findings


def _by_hand(
    ca: x509.Certificate, ca_key: PrivateKey, org: str, role: CertificateRole
) -> ReceiptSigner:
    key = generate_key()
    start = datetime.now(UTC) - timedelta(days=1)
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(tier_subject(org, f"{org}总工会"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=role.is_ca, path_length=role.path_length), True)
        .add_extension(tier_key_usage(role), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .sign(ca_key, hashes.SHA256())
    )
    return ReceiptSigner(key, cert, ())


def test_the_division_rule_is_what_issuance_allows() -> None:
    assert issuer_may_certify("000000", "640000")  # root → provincial CA
    assert issuer_may_certify("000000", "000000")  # root → its own signing certificate
    assert issuer_may_certify("640000", "640000")  # provincial CA → its own signing certificate
    assert issuer_may_certify("640000", "640100")  # → a city of its province
    assert issuer_may_certify("640000", "640104")  # → a county (its upstream is the province)
    assert issuer_may_certify("110000", "110105")  # a municipality's district
    assert not issuer_may_certify("640000", "650100")
    assert not issuer_may_certify("640000", "650000")
    assert not issuer_may_certify("640000", "000000")
    assert not issuer_may_certify("000000", "640100")  # a city is certified by its province
    assert not issuer_may_certify("640100", "640104")  # a city has no CA
    assert not issuer_may_certify("640000", "99010X")  # not a division code


def _package(signer: ReceiptSigner, recipient: str) -> bytes:
    members = {"events.jsonl": b'{"seq": 1}\n', "receipts.csv": b""}
    now = datetime.now(UTC).replace(microsecond=0)
    root = manifest_element(
        signer.org_code, recipient, now, 1, 1, "0" * 64, "c2ln" * 12, {}, [], members
    )
    return write_zip({**members, "manifest.xml": signer.sign_document(root, now)})


def test_a_transmission_package_and_acknowledgement_are_refused_the_same_way() -> None:
    pki = tier_pki()
    validator = chain_validator(pki.bundle)
    legit = pki.signers["640100"]
    manifest, _, _ = read_package(_package(legit, "640000"), validator, "good.zip")
    forged = cross_province()
    with pytest.raises(InvalidSignedDocument, match=OUTSIDE):
        read_package(_package(forged, "650000"), validator, "650100.zip")
    # An acknowledgement "from 650000", certified with 640000's CA key.
    fake_650000 = certified(pki.prov_ca, pki.prov_ca_key, "650000", chain=(pki.prov_ca,))
    ack = build_acknowledgement(fake_650000, manifest)
    with pytest.raises(InvalidSignedDocument, match=OUTSIDE):
        verify_document(ack, validator, expected_org="650000", schema="transmission.xsd", what="a")
    good_ack = build_acknowledgement(pki.signers["640000"], manifest)
    assert verify_document(
        good_ack, validator, expected_org="640000", schema="transmission.xsd", what="ack"
    )[1] == ("640000")


def test_a_pades_signature_under_another_provinces_ca_is_refused() -> None:
    # The receipt XML is genuine (640100 under 640000); the PAdES signature is by a "640100"
    # certificate that a legitimate 650000 CA issued: pyHanko trusts the chain, the tier does not.
    pki = build_pki()
    xinjiang_key = generate_key()
    xinjiang = issue_certificate(
        pki.root,
        pki.root_key,
        create_csr(xinjiang_key, "650000", "新疆维吾尔自治区总工会", CertificateRole.PROVINCIAL_CA),
        CertificateRole.PROVINCIAL_CA,
        requester_upstream="000000",
        now=datetime.now(UTC) - timedelta(days=2),
    )
    fake = certified(xinjiang, xinjiang_key, "640100", chain=(xinjiang,))
    pdf = render_pdf(good_xml())
    validator = chain_validator(pki.bundle)
    genuine = sign_pdf(pdf, pki.city.key, pki.city.cert, pki.city.intermediates)
    assert verify_pdf(genuine, validator, "genuine.pdf").valid
    forged = sign_pdf(pdf, fake.key, fake.certificate, fake.intermediates)
    result = verify_pdf(forged, validator, "forged.pdf")
    assert [f.code for f in result.findings] == [OUTSIDE]


def test_receipts_builds_every_chain_validator_in_one_place() -> None:
    # So that no path can forget the tier rule: receipts constructs ChainValidator only in
    # receipts.domain.signed_documents.chain_validator.
    package = Path(__file__).resolve().parent.parent / "receipts"
    sites = [
        path.relative_to(package.parent).as_posix()
        for path in package.rglob("*.py")
        if "ChainValidator(" in path.read_text(encoding="utf-8")
    ]
    assert sites == ["receipts/domain/signed_documents.py"]


def test_a_time_stamping_key_signs_time_stamps_and_nothing_else() -> None:
    """The province's time-stamp authority holds its key on a network service. Its certificate
    names 640000 and allows digitalSignature: without a check of its extended key usage it
    signed acknowledgements (allocations, statements, manifests, tier requests) as 640000."""
    from signing.tsa_certificate import issue_tsa_certificate

    pki = tier_pki()
    validator = chain_validator(pki.bundle)
    tsa_key = generate_key()
    now = datetime.now(UTC)
    tsa_cert = issue_tsa_certificate(
        pki.prov_ca, pki.prov_ca_key, tsa_key.public_key(), now=now - timedelta(days=1)
    )
    for_documents = validator.validate(tsa_cert, (pki.prov_ca,), at=now)
    assert [f.code for f in for_documents.findings] == ["bad-key-usage"]
    assert "id-kp-timeStamping only" in for_documents.findings[0].message
    for_stamps = validator.validate(tsa_cert, (pki.prov_ca,), at=now, purpose="time-stamp")
    assert for_stamps.findings == ()
    manifest, _, _ = read_package(_package(pki.signers["640100"], "640000"), validator, "p.zip")
    ack = build_acknowledgement(ReceiptSigner(tsa_key, tsa_cert, (pki.prov_ca,)), manifest)
    with pytest.raises(InvalidSignedDocument, match="bad-key-usage"):
        verify_document(ack, validator, expected_org="640000", schema="transmission.xsd", what="a")
