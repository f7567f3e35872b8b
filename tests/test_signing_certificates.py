"""Certificates: the tier hierarchy, the issuance policy, extensions and helpers."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from signing.certificate_profile import (
    CLOCK_SKEW,
    DEFAULT_VALIDITY,
    expiry_warnings,
    key_id,
    name_of,
    org_code_of,
    role_of,
)
from signing.certificates import (
    CertificateRole,
    certificates_to_pem,
    create_csr,
    create_root_ca,
    csr_from_pem,
    csr_to_pem,
    issue_certificate,
    load_certificates,
)
from signing.errors import PolicyViolation
from signing.keys import generate_key
from tests.support.pki import Pki


def _ext(
    cert: x509.Certificate, kind: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_class(kind)


def test_hierarchy_roles_and_path_lengths(pki: Pki) -> None:
    assert role_of(pki.root) is CertificateRole.ROOT_CA
    assert role_of(pki.prov) is CertificateRole.PROVINCIAL_CA
    assert role_of(pki.city.cert) is CertificateRole.SIGNING
    assert role_of(pki.national.cert) is CertificateRole.SIGNING
    root_bc = _ext(pki.root, x509.BasicConstraints).value
    prov_bc = _ext(pki.prov, x509.BasicConstraints).value
    assert isinstance(root_bc, x509.BasicConstraints) and isinstance(prov_bc, x509.BasicConstraints)
    assert (root_bc.ca, root_bc.path_length) == (True, 1)
    assert (prov_bc.ca, prov_bc.path_length) == (True, 0)
    assert pki.city.cert.issuer == pki.prov.subject
    assert pki.national.cert.issuer == pki.root.subject


@pytest.mark.parametrize("which", ["root", "prov", "city", "national"])
def test_every_certificate_carries_the_required_extensions(pki: Pki, which: str) -> None:
    cert = {
        "root": pki.root,
        "prov": pki.prov,
        "city": pki.city.cert,
        "national": pki.national.cert,
    }[which]
    basic = _ext(cert, x509.BasicConstraints)
    usage = _ext(cert, x509.KeyUsage)
    assert basic.critical and usage.critical
    ku = usage.value
    assert isinstance(ku, x509.KeyUsage)
    if which in ("root", "prov"):
        assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    else:
        assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    ski = _ext(cert, x509.SubjectKeyIdentifier).value
    aki = _ext(cert, x509.AuthorityKeyIdentifier).value
    assert isinstance(ski, x509.SubjectKeyIdentifier)
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    issuer = pki.root if which in ("root", "prov", "national") else pki.prov
    issuer_ski = _ext(issuer, x509.SubjectKeyIdentifier).value
    assert isinstance(issuer_ski, x509.SubjectKeyIdentifier)
    assert aki.key_identifier == issuer_ski.digest


def test_org_code_is_the_one_organization_identifier(pki: Pki) -> None:
    attrs = pki.city.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    assert [a.value for a in attrs] == ["640100"]
    assert org_code_of(pki.city.cert) == "640100"
    assert org_code_of(pki.root) == "000000"
    assert name_of(pki.city.cert) == "银川市总工会"
    cn = pki.city.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0]
    assert cn.value == "银川市总工会"
    assert cn._type.name == "UTF8String"


def test_key_id_is_the_first_8_hex_digits_of_the_ski(pki: Pki) -> None:
    ski = _ext(pki.city.cert, x509.SubjectKeyIdentifier).value
    assert isinstance(ski, x509.SubjectKeyIdentifier)
    assert key_id(pki.city.cert) == ski.digest.hex()[:8]
    # Lower-case hex: islower() was False for a key id of digits only (one key in ~40), and
    # failed CI once.
    assert re.fullmatch("[0-9a-f]{8}", key_id(pki.city.cert))


def test_default_validities(pki: Pki) -> None:
    def span(cert: x509.Certificate) -> timedelta:
        # Validity starts CLOCK_SKEW before the moment of issue; its length counts from that moment.
        return cert.not_valid_after_utc - cert.not_valid_before_utc - CLOCK_SKEW

    assert span(pki.root) == DEFAULT_VALIDITY.root_ca
    assert span(pki.prov) == DEFAULT_VALIDITY.provincial_ca
    assert span(pki.city.cert) == DEFAULT_VALIDITY.signing


def test_serial_numbers_are_random(pki: Pki) -> None:
    serials = {pki.root.serial_number, pki.prov.serial_number, pki.city.cert.serial_number}
    assert len(serials) == 3 and all(s.bit_length() > 64 for s in serials)


def test_long_names_are_shortened_in_cn_only(pki: Pki) -> None:
    name = "某某省某某市某某区某某街道某某社区联合工会" * 3
    csr = create_csr(generate_key(), "640100", name, CertificateRole.SIGNING)
    cert = issue_certificate(
        pki.prov,
        pki.prov_key,
        csr,
        CertificateRole.SIGNING,
        requester_upstream="640000",
        now=pki.now,
    )
    assert name_of(cert) == name
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(cn, str) and name.startswith(cn) and len(cn.encode()) <= 64


def _request(org: str, role: CertificateRole) -> x509.CertificateSigningRequest:
    return create_csr(generate_key(), org, "某工会", role)


@pytest.mark.parametrize(
    ("issuer", "org", "role", "upstream", "match"),
    [
        # A province certifying another province's city.
        ("prov", "650100", CertificateRole.SIGNING, "650000", "upstream is 650000, not 640000"),
        # A city asking its province for a CA certificate.
        ("prov", "640100", CertificateRole.PROVINCIAL_CA, "640000", "path length 0"),
        # A city asking the root directly (tier skipped).
        ("root", "640100", CertificateRole.PROVINCIAL_CA, "640000", "upstream is 640000"),
        # The root issuing a province's signing certificate (wrong tier order).
        ("root", "640000", CertificateRole.SIGNING, "000000", "provincial CA certificates"),
        # A province asking for a CA certificate for its own org.
        ("prov", "640000", CertificateRole.PROVINCIAL_CA, "000000", "only issue its own signing"),
        # A signing certificate trying to issue.
        ("city", "640105", CertificateRole.SIGNING, "640100", "cannot issue"),
        # Anyone asking for a root certificate.
        ("root", "650000", CertificateRole.ROOT_CA, "000000", "self-signed"),
    ],
)
def test_policy_refusals(
    pki: Pki, issuer: str, org: str, role: CertificateRole, upstream: str, match: str
) -> None:
    ca_cert, ca_key = {
        "root": (pki.root, pki.root_key),
        "prov": (pki.prov, pki.prov_key),
        "city": (pki.city.cert, pki.city.key),
    }[issuer]
    request_role = CertificateRole.SIGNING if role is CertificateRole.ROOT_CA else role
    with pytest.raises(PolicyViolation, match=match) as caught:
        issue_certificate(
            ca_cert,
            ca_key,
            _request(org, request_role),
            role,
            requester_upstream=upstream,
            now=pki.now,
        )
    assert caught.value.exit_code == 2


def test_role_must_match_the_request(pki: Pki) -> None:
    csr = _request("650000", CertificateRole.SIGNING)
    with pytest.raises(PolicyViolation, match="asks for a signing certificate"):
        issue_certificate(
            pki.root,
            pki.root_key,
            csr,
            CertificateRole.PROVINCIAL_CA,
            requester_upstream="000000",
            now=pki.now,
        )


def test_org_code_format_is_checked() -> None:
    with pytest.raises(PolicyViolation, match="six digits"):
        create_csr(generate_key(), "64010", "某工会", CertificateRole.SIGNING)
    with pytest.raises(PolicyViolation, match="six digits"):
        create_root_ca(generate_key(), "某工会", org_code="00000A")


def test_wrong_ca_key_is_refused(pki: Pki) -> None:
    with pytest.raises(PolicyViolation, match="does not match"):
        issue_certificate(
            pki.prov,
            pki.root_key,
            _request("640100", CertificateRole.SIGNING),
            CertificateRole.SIGNING,
            requester_upstream="640000",
            now=pki.now,
        )


def test_validity_is_capped_at_the_issuer(pki: Pki) -> None:
    cert = issue_certificate(
        pki.prov,
        pki.prov_key,
        _request("640100", CertificateRole.SIGNING),
        CertificateRole.SIGNING,
        requester_upstream="640000",
        now=pki.now,
        validity=timedelta(days=365 * 30),
    )
    assert cert.not_valid_after_utc == pki.prov.not_valid_after_utc


def test_expiry_warnings(pki: Pki) -> None:
    end = pki.city.cert.not_valid_after_utc
    warnings = expiry_warnings([pki.root, pki.prov, pki.city.cert], end - timedelta(days=10))
    assert len(warnings) == 1
    assert "640100" in warnings[0] and "in 10 days" in warnings[0]
    assert key_id(pki.city.cert) in warnings[0]
    late = expiry_warnings([pki.city.cert], end + timedelta(days=1))
    assert late and "expired on" in late[0]
    assert expiry_warnings([pki.city.cert], end - timedelta(days=200)) == []


def test_pem_round_trips(tmp_path: Path, pki: Pki) -> None:
    chain = [pki.city.cert, pki.prov, pki.root]
    path = tmp_path / "chain.pem"
    path.write_bytes(certificates_to_pem(chain))
    assert load_certificates(path) == chain
    csr = _request("640100", CertificateRole.SIGNING)
    assert csr_from_pem(csr_to_pem(csr)) == csr
    with pytest.raises(PolicyViolation):
        csr_from_pem(
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
        )
