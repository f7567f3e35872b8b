"""XAdES-BES enveloped signatures: signing, verification as of signing time, and a bad corpus."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.xades.xades import XAdESSigner

from signing.errors import SigningError
from signing.xmldsig import sign_enveloped, verify_enveloped
from tests.support.pki import SHANGHAI, Pki, Signer, sample_document
from tests.support.skips import need_tool

DS = "{http://www.w3.org/2000/09/xmldsig#}"
XADES = "{http://uri.etsi.org/01903/v1.3.2#}"


def _when(pki: Pki, days_ago: float = 1) -> datetime:
    return (pki.now - timedelta(days=days_ago)).astimezone(SHANGHAI)


def _sign(pki: Pki, signer: Signer | None = None, at: datetime | None = None) -> bytes:
    who = pki.city if signer is None else signer
    signed = sign_enveloped(
        sample_document(), who.key, who.cert, who.intermediates, at or _when(pki)
    )
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def _codes(pki: Pki, data: bytes, expected_org: str | None = "640100") -> tuple[str, ...]:
    result = verify_enveloped(data, pki.validator, expected_org=expected_org, now=pki.now)
    assert result.valid is (not result.findings)
    return result.codes


@pytest.fixture(scope="module")
def signed(pki: Pki) -> bytes:
    return _sign(pki)


# Good signatures ---------------------------------------------------------------------------


def test_sign_and_verify(pki: Pki, signed: bytes) -> None:
    result = verify_enveloped(signed, pki.validator, expected_org="640100", now=pki.now)
    assert result.valid and result.findings == ()
    assert result.signer == pki.city.cert
    assert result.signing_time == _when(pki)
    assert result.signed_root is not None
    assert result.signed_root.findtext("{urn:test}Amount") == "12.50"
    assert result.signed_root.findtext("{urn:test}Payer") == "某公司"
    assert result.signed_root.find(f"{DS}Signature") is None


def test_signature_shape(pki: Pki, signed: bytes) -> None:
    root = etree.fromstring(signed)
    signature = root[-1]
    assert signature.tag == f"{DS}Signature"
    refs = signature.findall(f"{DS}SignedInfo/{DS}Reference")
    assert refs[0].get("URI") == ""
    method = signature.find(f"{DS}SignedInfo/{DS}SignatureMethod")
    assert method is not None
    assert method.get("Algorithm") == SignatureMethod.ECDSA_SHA256.value
    digests = {d.get("Algorithm") for d in signature.iter(f"{DS}DigestMethod")}
    assert digests == {DigestAlgorithm.SHA256.value}
    certs = [c.text for c in signature.iter(f"{DS}X509Certificate")]
    assert len(certs) == 2  # signing certificate and its intermediate, not the root
    time_text = signature.findtext(f".//{XADES}SigningTime")
    assert time_text == _when(pki).isoformat()
    assert signature.find(f"{DS}KeyInfo/{DS}KeyValue") is None


def test_signing_time_is_exactly_the_given_one(pki: Pki) -> None:
    at = datetime(2025, 6, 30, 23, 59, 59, tzinfo=SHANGHAI)
    data = _sign(pki, at=at)
    assert b"<xades:SigningTime>2025-06-30T23:59:59+08:00</xades:SigningTime>" in data
    result = verify_enveloped(data, pki.validator, expected_org="640100", now=pki.now)
    assert result.signing_time == at


def test_rsa_key_signs_rsa_sha256(pki: Pki) -> None:
    data = _sign(pki, pki.city_rsa)
    assert SignatureMethod.RSA_SHA256.value.encode() in data
    assert _codes(pki, data) == ()


def test_national_signing_certificate(pki: Pki) -> None:
    data = _sign(pki, pki.national)
    assert data.count(b"<ds:X509Certificate>") == 1
    assert _codes(pki, data, expected_org="000000") == ()


def test_still_valid_after_the_certificate_expired(pki: Pki) -> None:
    cert = pki.short_lived.cert
    assert cert.not_valid_after_utc < pki.now  # expired today
    at = (cert.not_valid_before_utc + timedelta(days=5)).astimezone(SHANGHAI)
    data = _sign(pki, pki.short_lived, at)
    assert _codes(pki, data) == ()


def test_revoked_after_signing_still_verifies(pki: Pki) -> None:
    at = (pki.revoked_at - timedelta(days=5)).astimezone(SHANGHAI)
    assert _codes(pki, _sign(pki, pki.revoked, at)) == ()


def test_unsigned_comments_are_not_in_the_signed_root(pki: Pki, signed: bytes) -> None:
    data = signed.replace(b"<Amount>", b"<!-- 99999.00 --><Amount>")
    result = verify_enveloped(data, pki.validator, expected_org="640100", now=pki.now)
    assert result.valid and result.signed_root is not None
    assert b"99999" not in etree.tostring(result.signed_root)


def test_sign_refuses_bad_input(pki: Pki) -> None:
    doc = sample_document()
    doc.set("Id", "r1")
    c = pki.city
    with pytest.raises(SigningError, match="Id"):
        sign_enveloped(doc, c.key, c.cert, c.intermediates, _when(pki))
    with pytest.raises(ValueError, match="UTC offset"):
        sign_enveloped(sample_document(), c.key, c.cert, c.intermediates, datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="whole seconds"):
        sign_enveloped(
            sample_document(), c.key, c.cert, c.intermediates, _when(pki).replace(microsecond=5)
        )
    with pytest.raises(SigningError, match="does not match"):
        sign_enveloped(sample_document(), pki.national.key, c.cert, c.intermediates, _when(pki))
    once = sign_enveloped(sample_document(), c.key, c.cert, c.intermediates, _when(pki))
    with pytest.raises(SigningError, match="already signed"):
        sign_enveloped(once, c.key, c.cert, c.intermediates, _when(pki))


# Interop: xmlsec1 ----------------------------------------------------------------------------


def _xmlsec1() -> str:
    return need_tool("xmlsec1", "xmlsec1")


@pytest.mark.parametrize("which", ["city", "city_rsa", "national"])
def test_xmlsec1_verifies_with_only_the_root_trusted(tmp_path: Path, pki: Pki, which: str) -> None:
    tool = _xmlsec1()
    signer: Signer = getattr(pki, which)
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(pki.root.public_bytes(Encoding.PEM))
    good = tmp_path / "good.xml"
    good.write_bytes(_sign(pki, signer))
    ok = subprocess.run(
        [tool, "--verify", "--trusted-pem", str(root_pem), str(good)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.xml"
    bad.write_bytes(good.read_bytes().replace(b"12.50", b"92.50"))
    refused = subprocess.run(
        [tool, "--verify", "--trusted-pem", str(root_pem), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0


# The bad corpus: each document is wrong in one way and gets its own finding ------------------


def _tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _signature(root: etree._Element) -> etree._Element:
    found = root.find(f"{DS}Signature")
    assert found is not None
    return found


def _moved_into_object(pki: Pki, data: bytes) -> bytes:
    """The signed document hidden in a ds:Object under a forged root (classic XSW)."""
    original = _tree(data)
    signature = _signature(original)
    original.remove(signature)
    forged = sample_document(amount="99999.00", payer="冒名公司")
    holder = etree.SubElement(signature, f"{DS}Object")
    holder.append(original)
    forged.append(signature)
    return _bytes(forged)


def _second_signature(pki: Pki, data: bytes) -> bytes:
    root = _tree(data)
    root.insert(0, copy.deepcopy(_signature(root)))
    return _bytes(root)


def _nested_signature(pki: Pki, data: bytes) -> bytes:
    root = _tree(data)
    wrapper = etree.SubElement(root, "{urn:test}Wrapper")
    wrapper.append(_signature(root))
    return _bytes(root)


def _reference_to_an_id(pki: Pki, data: bytes) -> bytes:
    """A genuine signxml signature that covers only an Id'd element, not the whole document."""
    doc = sample_document()
    amount = doc.find("{urn:test}Amount")
    assert amount is not None
    amount.set("Id", "amount")
    signer = XAdESSigner(signature_algorithm=SignatureMethod.ECDSA_SHA256)
    c = pki.city
    signed = signer.sign(doc, key=c.key, cert=[c.cert, *c.intermediates], reference_uri="amount")
    return _bytes(signed)


def _extra_reference(pki: Pki, data: bytes) -> bytes:
    root = _tree(data)
    signed_info = _signature(root).find(f"{DS}SignedInfo")
    assert signed_info is not None
    extra = copy.deepcopy(signed_info.findall(f"{DS}Reference")[-1])
    signed_info.append(extra)
    return _bytes(root)


def _duplicate_signed_properties_id(pki: Pki, data: bytes) -> bytes:
    """A forged SignedProperties (earlier SigningTime) with the same Id, outside the signature."""
    root = _tree(data)
    props = _signature(root).find(f".//{XADES}SignedProperties")
    assert props is not None
    forged = copy.deepcopy(props)
    time = forged.find(f".//{XADES}SigningTime")
    assert time is not None
    time.text = "2000-01-01T00:00:00+08:00"
    root.insert(0, forged)
    return _bytes(root)


def _two_signing_times(pki: Pki, data: bytes) -> bytes:
    """signxml reads the first SigningTime; a second one must not be there to be misread."""
    root = _tree(data)
    time = _signature(root).find(f".//{XADES}SigningTime")
    assert time is not None
    time.addnext(copy.deepcopy(time))
    return _bytes(root)


class _Sha1Signer(XAdESSigner):
    """signxml refuses SHA-1 by default; an attacker's tool would not."""

    def check_deprecated_methods(self) -> None:
        return None


def _sha1(pki: Pki, data: bytes) -> bytes:
    signer = _Sha1Signer(
        signature_algorithm=SignatureMethod.ECDSA_SHA1, digest_algorithm=DigestAlgorithm.SHA1
    )
    c = pki.city
    return _bytes(signer.sign(sample_document(), key=c.key, cert=[c.cert, *c.intermediates]))


def _sha384(pki: Pki, data: bytes) -> bytes:
    signer = XAdESSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA384, digest_algorithm=DigestAlgorithm.SHA384
    )
    c = pki.city
    return _bytes(signer.sign(sample_document(), key=c.key, cert=[c.cert, *c.intermediates]))


def _backdated(pki: Pki, data: bytes) -> bytes:
    """A revoked certificate's signature with SigningTime moved before the revocation."""
    revoked = _sign(pki, pki.revoked)
    before = (pki.revoked_at - timedelta(days=3)).astimezone(SHANGHAI).isoformat()
    return revoked.replace(_when(pki).isoformat().encode(), before.encode())


def _bad_signature_value(pki: Pki, data: bytes) -> bytes:
    root = _tree(data)
    value = _signature(root).find(f"{DS}SignatureValue")
    assert value is not None and value.text is not None
    text = value.text.strip()
    value.text = ("B" if text[0] == "A" else "A") + text[1:]
    return _bytes(root)


def _xxe(pki: Pki, data: bytes) -> bytes:
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE Doc [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<Doc xmlns="urn:test"><Amount>&x;</Amount></Doc>'
    )


Mutation = Callable[[Pki, bytes], bytes]
BAD_CORPUS: dict[str, tuple[Mutation, str | None, tuple[str, ...]]] = {
    "tampered-amount": (
        lambda p, d: d.replace(b">12.50<", b">92.50<"),
        "640100",
        ("digest-mismatch",),
    ),
    "tampered-payer": (
        lambda p, d: d.replace("某公司".encode(), "另一公司".encode()),
        "640100",
        ("digest-mismatch",),
    ),
    "other-root": (lambda p, d: _sign(p, p.foreign), "640100", ("untrusted-certificate",)),
    "expired-before-signing": (lambda p, d: _sign(p, p.expired), "640100", ("expired-at-signing",)),
    "revoked-before-signing": (lambda p, d: _sign(p, p.revoked), "640100", ("revoked",)),
    "backdated-signing-time": (_backdated, "640100", ("digest-mismatch",)),
    "signed-in-the-future": (
        lambda p, d: _sign(p, at=_when(p, days_ago=-1)),
        "640100",
        ("signing-time-in-future",),
    ),
    "wrapping-moved-into-object": (_moved_into_object, "640100", ("signature-wrapping",)),
    "wrapping-second-signature": (_second_signature, "640100", ("multiple-signatures",)),
    "wrapping-nested-signature": (_nested_signature, "640100", ("signature-wrapping",)),
    "wrapping-reference-to-id": (_reference_to_an_id, "640100", ("signature-wrapping",)),
    "wrapping-extra-reference": (_extra_reference, "640100", ("signature-wrapping",)),
    "wrapping-duplicate-id": (_duplicate_signed_properties_id, "640100", ("signature-wrapping",)),
    "two-signing-times": (_two_signing_times, "640100", ("malformed-signature",)),
    "sha1": (_sha1, "640100", ("sha1-refused",)),
    "sha384": (_sha384, "640100", ("unsupported-algorithm",)),
    "bad-signature-value": (_bad_signature_value, "640100", ("signature-invalid",)),
    "city-signing-for-another-issuer": (lambda p, d: d, "640200", ("wrong-signer-org",)),
    "truncated": (lambda p, d: d[: len(d) // 2], "640100", ("malformed-xml",)),
    "empty": (lambda p, d: b"", "640100", ("malformed-xml",)),
    "xxe-doctype": (_xxe, "640100", ("unsafe-xml",)),
    "unsigned": (lambda p, d: _bytes(sample_document()), "640100", ("no-signature",)),
}


@pytest.mark.parametrize("name", sorted(BAD_CORPUS))
def test_bad_corpus(pki: Pki, signed: bytes, name: str) -> None:
    mutate, expected_org, codes = BAD_CORPUS[name]
    data = mutate(pki, signed)
    result = verify_enveloped(data, pki.validator, expected_org=expected_org, now=pki.now)
    assert result.codes == codes, result.findings
    assert not result.valid and result.signed_root is None
    assert all(f.message for f in result.findings)


def test_xmlsec1_refuses_the_wrapped_document(tmp_path: Path, pki: Pki, signed: bytes) -> None:
    tool = _xmlsec1()
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(pki.root.public_bytes(Encoding.PEM))
    wrapped = tmp_path / "wrapped.xml"
    wrapped.write_bytes(_moved_into_object(pki, signed))
    run = subprocess.run(
        [tool, "--verify", "--trusted-pem", str(root_pem), str(wrapped)],
        capture_output=True,
        check=False,
    )
    assert run.returncode != 0
