"""XAdES-T signature time-stamps (docs/security.md, "Time-stamps"): stamped signatures that
still verify (here and with xmlsec1), and every way a time-stamp is refused or exposes a
backdated signature. The tokens themselves are tests/test_timestamps.py."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import tsp  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from signing.certificates import create_root_ca
from signing.keys import generate_key
from signing.timestamp_authority import TimeStampAuthority, _TokenSigner
from signing.timestamps import (
    DEFAULT_POLICY,
    TokenCheck,
    check_token,
)
from signing.trust import ChainValidator, TrustBundle
from signing.tsa_certificate import issue_tsa_certificate
from signing.xades_t import (
    add_signature_timestamp,
    signature_timestamp_input,
    split_signature_timestamp,
    verify_timestamped,
)
from signing.xmldsig import sign_enveloped
from tests.support import timestamps as shared_fixtures
from tests.support.pki import SHANGHAI, Pki, Signer, sample_document
from tests.support.skips import need_tool

# The authority's fixtures, shared with the other time-stamp tests (pytest finds a fixture
# among a module's names).
tsa_chain = shared_fixtures.tsa_chain
authority = shared_fixtures.authority

XADES = "http://uri.etsi.org/01903/v1.3.2#"


def _sign(signer: Signer, at: datetime) -> bytes:
    signed = sign_enveloped(sample_document(), signer.key, signer.cert, signer.intermediates, at)
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def _stamped(authority: TimeStampAuthority, xml: bytes) -> bytes:
    return add_signature_timestamp(xml, authority.stamp(signature_timestamp_input(xml)))


def _hours_ago(pki: Pki, hours: float) -> datetime:
    return (pki.now - timedelta(hours=hours)).astimezone(SHANGHAI)


def _codes(pki: Pki, data: bytes) -> tuple[str, ...]:
    checked = verify_timestamped(data, pki.validator, expected_org="640100", now=pki.now)
    return checked.result.codes


# XAdES-T --------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["strict", "signxml"])
def test_a_stamped_signature_verifies_and_gives_back_the_original(
    pki: Pki, authority: TimeStampAuthority, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both verifiers of signing.xmldsig (its own strict one and signxml's) accept the stamp.
    monkeypatch.setenv("RECEIPTS_XMLDSIG_ENGINE", engine)
    xml = _sign(pki.city, _hours_ago(pki, 2))
    stamped = _stamped(authority, xml)
    assert stamped != xml and stamped.count(b"EncapsulatedTimeStamp") == 2
    checked = verify_timestamped(stamped, pki.validator, expected_org="640100", now=pki.now)
    assert checked.result.valid, checked.result.findings
    assert checked.timestamp is not None and checked.timestamp.gen_time == pki.now
    assert split_signature_timestamp(stamped) == (xml, authority_token(stamped))
    assert split_signature_timestamp(xml) == (xml, None)
    with pytest.raises(ValueError, match="already"):
        _stamped(authority, stamped)


def authority_token(stamped: bytes) -> bytes:
    import base64

    root = etree.fromstring(stamped)
    text = root.findtext(f".//{{{XADES}}}EncapsulatedTimeStamp")
    assert text is not None
    return base64.b64decode(text)


def test_xmlsec1_verifies_a_stamped_signature(
    tmp_path: Path, pki: Pki, authority: TimeStampAuthority
) -> None:
    tool = need_tool("xmlsec1", "xmlsec1")
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(pki.root.public_bytes(Encoding.PEM))
    stamped = tmp_path / "stamped.xml"
    stamped.write_bytes(_stamped(authority, _sign(pki.city, _hours_ago(pki, 1))))
    run = subprocess.run(
        [tool, "--verify", "--trusted-pem", str(root_pem), str(stamped)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    stamped.write_bytes(stamped.read_bytes().replace(b"12.50", b"92.50"))
    refused = subprocess.run(
        [tool, "--verify", "--trusted-pem", str(root_pem), str(stamped)],
        capture_output=True,
        check=False,
    )
    assert refused.returncode != 0


def test_a_signature_claimed_a_year_before_its_time_stamp_is_backdated(
    pki: Pki, authority: TimeStampAuthority
) -> None:
    xml = _sign(pki.city, _hours_ago(pki, 365 * 24))
    assert _codes(pki, xml) == ()  # without a time-stamp nothing tells
    assert _codes(pki, _stamped(authority, xml)) == ("signing-time-backdated",)
    within = _sign(pki.city, _hours_ago(pki, 23))
    assert _codes(pki, _stamped(authority, within)) == ()
    checked = verify_timestamped(
        _stamped(authority, within),
        pki.validator,
        expected_org="640100",
        now=pki.now,
        tolerance=timedelta(hours=1),
    )
    assert checked.result.codes == ("signing-time-backdated",)


def test_a_time_stamp_earlier_than_the_claimed_time_is_reported(
    pki: Pki, authority: TimeStampAuthority
) -> None:
    xml = _sign(pki.city, _hours_ago(pki, -1))  # claims an hour after the authority's clock
    later = pki.now + timedelta(hours=2)  # verified later, so the claim is not in the future
    checked = verify_timestamped(
        _stamped(authority, xml), pki.validator, expected_org="640100", now=later
    )
    assert checked.result.codes == ("timestamp-before-signing",)


def test_the_chain_is_judged_at_the_time_stamp_not_the_claim(
    pki: Pki, authority: TimeStampAuthority
) -> None:
    # A key revoked 30 days ago signs "60 days ago": its own claim passes, its time-stamp does not.
    claimed = (pki.revoked_at - timedelta(days=30)).astimezone(SHANGHAI)
    xml = _sign(pki.revoked, claimed)
    assert _codes(pki, xml) == ()
    assert _codes(pki, _stamped(authority, xml)) == ("revoked", "signing-time-backdated")


def test_a_token_over_another_signature_is_refused(pki: Pki, authority: TimeStampAuthority) -> None:
    first = _stamped(authority, _sign(pki.city, _hours_ago(pki, 1)))
    other = _sign(pki.city, _hours_ago(pki, 2))
    moved = add_signature_timestamp(other, authority_token(first))
    assert _codes(pki, moved) == ("timestamp-invalid",)
    checked = verify_timestamped(moved, pki.validator, expected_org="640100", now=pki.now)
    assert "message imprint" in checked.result.findings[0].message


def test_a_token_from_a_certificate_without_the_time_stamping_usage_is_refused(
    pki: Pki,
) -> None:
    xml = _sign(pki.city, _hours_ago(pki, 1))
    # The city's own signing certificate, trusted but not for time-stamps, signs a token.
    signer = _TokenSigner(
        pki.city_rsa.key,
        [pki.city_rsa.cert, *pki.city_rsa.intermediates],
        DEFAULT_POLICY,
        None,
        lambda: pki.now,
    )
    token = _token_from(signer, signature_timestamp_input(xml))
    codes = _codes(pki, add_signature_timestamp(xml, token))
    assert codes == ("timestamp-invalid",)
    checked = verify_timestamped(
        add_signature_timestamp(xml, token), pki.validator, expected_org="640100", now=pki.now
    )
    assert "id-kp-timeStamping" in checked.result.findings[0].message


def _token_from(signer: _TokenSigner, data: bytes) -> bytes:
    import hashlib

    req = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(data).digest(),
            },
            "cert_req": True,
        }
    )
    return bytes(signer.respond(req)["time_stamp_token"].dump())


def test_a_token_from_an_untrusted_authority_is_refused(pki: Pki) -> None:
    rogue_root_key = generate_key()
    rogue_root = create_root_ca(rogue_root_key, "中华全国总工会", now=pki.now - timedelta(days=10))
    key = generate_key()
    cert = issue_tsa_certificate(rogue_root, rogue_root_key, key.public_key(), now=pki.now)
    rogue = TimeStampAuthority(key, [cert], clock=lambda: pki.now)
    xml = _sign(pki.city, _hours_ago(pki, 1))
    assert _codes(pki, _stamped(rogue, xml)) == ("timestamp-invalid",)


def test_a_time_stamping_certificate_never_signs_a_document(
    pki: Pki, tsa_chain: tuple[object, x509.Certificate]
) -> None:
    key, cert = tsa_chain
    national = _sign(Signer(key, cert, ()), _hours_ago(pki, 1))  # type: ignore[arg-type]
    checked = verify_timestamped(national, pki.validator, expected_org=None, now=pki.now)
    assert "bad-key-usage" in checked.result.codes


def _edit(stamped: bytes, change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(stamped)
    change(root)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


def _q(tag: str) -> str:
    return f"{{{XADES}}}{tag}"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda r: r.find(f".//{_q('UnsignedSignatureProperties')}").append(
                etree.Element(_q("SignatureTimeStamp"))
            ),
            id="two-time-stamps",
        ),
        pytest.param(
            lambda r: r.find(f".//{_q('UnsignedProperties')}").append(
                etree.Element(_q("UnsignedDataObjectProperties"))
            ),
            id="unsigned-data-object-properties",
        ),
        pytest.param(
            lambda r: r.find(f".//{_q('QualifyingProperties')}").append(
                etree.Element(_q("UnsignedProperties"))
            ),
            id="second-unsigned-properties",
        ),
        pytest.param(
            lambda r: r.find(f".//{_q('UnsignedProperties')}").set("Id", "x"),
            id="an-id-to-point-at",
        ),
        pytest.param(
            lambda r: r.find(f".//{_q('SignatureTimeStamp')}").append(
                etree.Element("{urn:test}Doc")
            ),
            id="foreign-content",
        ),
        pytest.param(
            lambda r: r.find(f".//{_q('QualifyingProperties')}").insert(
                0, r.find(f".//{_q('UnsignedProperties')}")
            ),
            id="unsigned-before-signed",
        ),
    ],
)
def test_any_other_unsigned_shape_is_refused(
    pki: Pki, authority: TimeStampAuthority, change: Callable[[etree._Element], None]
) -> None:
    stamped = _stamped(authority, _sign(pki.city, _hours_ago(pki, 1)))
    codes = _codes(pki, _edit(stamped, change))
    assert codes == ("signature-wrapping",), codes


def test_a_split_refuses_a_time_stamp_that_carries_other_changes(
    pki: Pki, authority: TimeStampAuthority
) -> None:
    xml = _sign(pki.city, _hours_ago(pki, 1))
    stamped = _stamped(authority, xml)
    reformatted = _edit(stamped, lambda r: None)
    with pytest.raises(ValueError):
        split_signature_timestamp(reformatted.replace(b"<xades:Unsigned", b"<xades:Unsigned "))


def test_trust_needs_the_root_only(pki: Pki, authority: TimeStampAuthority) -> None:
    # The TSA certificate travels in the token; the verifier needs no copy of it.
    only_root = ChainValidator(TrustBundle.of([pki.root]), issuer_may_certify=None)
    token = authority.stamp(b"x")
    assert isinstance(check_token(token, b"x", only_root), TokenCheck)


def test_a_token_whose_time_was_changed_or_bytes_damaged_is_refused(
    pki: Pki, authority: TimeStampAuthority
) -> None:
    from asn1crypto import cms

    token = authority.stamp(b"data")
    info = cms.ContentInfo.load(token)
    encap = info["content"]["encap_content_info"]
    tst = tsp.TSTInfo.load(encap["content"].contents)
    fields = {k: tst[k] for k in tst if tst[k].native is not None}
    earlier = tsp.TSTInfo({**fields, "gen_time": pki.now - timedelta(days=365)})
    encap["content"] = cms.ParsableOctetString(earlier.dump())
    moved = info.dump(force=True)
    refused = check_token(moved, b"data", pki.validator)
    assert not isinstance(refused, TokenCheck)
    assert "changed after it was signed" in refused.message
    # What the signature covers: the TSTInfo (through its digest) and the signature itself.
    signed_part = tst.dump()
    start = token.index(signed_part)
    places = [*range(start, start + len(signed_part), 7), *range(len(token) - 30, len(token))]
    for at in places:
        damaged = token[:at] + bytes([token[at] ^ 0x5A]) + token[at + 1 :]
        result = check_token(damaged, b"data", pki.validator)
        assert not isinstance(result, TokenCheck), at
        assert result.code == "timestamp-invalid"
