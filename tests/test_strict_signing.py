"""The strict-profile signer writes what the signxml path writes, and what it writes verifies in
signxml, xmlsec1 and the strict verifier (docs/formats.md, "XML signature profile")."""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml.xades.xades import XAdESVerifier

from signing import strict_verify, xmldsig, xmldsig_signxml
from signing.errors import SigningError
from signing.strict_sign import sign_strict
from signing.xmldsig import ENGINE_ENV, sign_enveloped, verify_enveloped
from tests.support.pki import SHANGHAI, Pki, Signer, sample_document
from tests.support.skips import need_tool

GOOD = Path(__file__).parent / "data" / "good"
_VALUE = re.compile(rb"<ds:SignatureValue>[^<]*</ds:SignatureValue>")


def _when(pki: Pki) -> datetime:
    return (pki.now - timedelta(days=1)).astimezone(SHANGHAI)


def _counter() -> Callable[[], str]:
    numbers = itertools.count(0x1A2B3C00)
    return lambda: f"{next(numbers):08X}"


def _documents() -> Iterator[etree._Element]:
    yield sample_document()
    indented = sample_document()
    etree.indent(indented)
    yield indented
    for path in sorted(GOOD.glob("*.xml")):
        yield etree.fromstring(path.read_bytes())


def _signxml_bytes(
    monkeypatch: pytest.MonkeyPatch, doc: etree._Element, who: Signer, at: datetime
) -> bytes:
    token = _counter()
    monkeypatch.setattr(xmldsig._TimedSigner, "_get_token", lambda self, length=4: token())
    signed = sign_enveloped(doc, who.key, who.cert, who.intermediates, at, engine="signxml")
    monkeypatch.undo()
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def _strict_bytes(doc: etree._Element, who: Signer, at: datetime) -> bytes:
    signed = sign_strict(doc, who.key, who.cert, who.intermediates, at, token=_counter())
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("which", ["city", "city_rsa", "national"])
def test_byte_identical_to_the_signxml_path(
    monkeypatch: pytest.MonkeyPatch, pki: Pki, which: str
) -> None:
    who: Signer = getattr(pki, which)
    for doc in _documents():
        before = etree.tostring(doc)
        ours = _strict_bytes(doc, who, _when(pki))
        reference = _signxml_bytes(monkeypatch, doc, who, _when(pki))
        assert etree.tostring(doc) == before  # the caller's tree is not touched
        if which == "city_rsa":  # RSA PKCS#1 v1.5 is deterministic: every byte agrees
            assert ours == reference
        else:  # ECDSA's nonce is random: everything but the SignatureValue agrees
            assert ours != reference
            assert _VALUE.sub(b"", ours) == _VALUE.sub(b"", reference)


@pytest.mark.parametrize("which", ["city", "city_rsa", "national"])
def test_strict_output_verifies_everywhere(tmp_path: Path, pki: Pki, which: str) -> None:
    who: Signer = getattr(pki, which)
    org = "000000" if which == "national" else "640100"
    tool = need_tool("xmlsec1", "xmlsec1")
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(pki.root.public_bytes(Encoding.PEM))
    for n, doc in enumerate(_documents()):
        data = etree.tostring(
            sign_strict(doc, who.key, who.cert, who.intermediates, _when(pki)),
            xml_declaration=True,
            encoding="UTF-8",
        )
        for engine in ("strict", "signxml"):
            result = verify_enveloped(
                data, pki.validator, expected_org=org, now=pki.now, engine=engine
            )
            assert result.valid, (engine, result.findings)
        XAdESVerifier().verify(data, ca_pem_file=str(root_pem))  # bare signxml, raises if not
        path = tmp_path / f"signed-{n}.xml"
        path.write_bytes(data)
        run = subprocess.run(
            [tool, "--verify", "--trusted-pem", str(root_pem), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr


def test_the_default_engine_is_strict_and_the_environment_can_pick_signxml(
    monkeypatch: pytest.MonkeyPatch, pki: Pki
) -> None:
    calls: list[str] = []
    real_check = strict_verify.check_signature
    real_signxml = xmldsig_signxml.check_with_signxml

    def strict_spy(*args: object) -> object:
        calls.append("strict")
        return real_check(*args)  # type: ignore[arg-type]

    def signxml_spy(*args: object) -> object:
        calls.append("signxml")
        return real_signxml(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(xmldsig, "check_signature", strict_spy)
    monkeypatch.setattr(xmldsig, "check_with_signxml", signxml_spy)
    c = pki.city
    data = etree.tostring(sign_enveloped(sample_document(), c.key, c.cert, (), _when(pki)))
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    verify_enveloped(data, pki.validator, expected_org=None, now=pki.now)
    monkeypatch.setenv(ENGINE_ENV, "signxml")
    verify_enveloped(data, pki.validator, expected_org=None, now=pki.now)
    verify_enveloped(data, pki.validator, expected_org=None, now=pki.now, engine="strict")
    assert calls == ["strict", "signxml", "strict"]
    monkeypatch.setenv(ENGINE_ENV, "fast")
    with pytest.raises(ValueError, match=ENGINE_ENV):
        verify_enveloped(data, pki.validator, expected_org=None, now=pki.now)


@pytest.mark.parametrize("engine", ["strict", "signxml"])
def test_a_root_with_xml_attributes_is_not_signed(pki: Pki, engine: xmldsig.Engine) -> None:
    # Signed the signxml way, xmlsec1 gives SignedInfo the root's xml:lang (C14N 1.0 inherits
    # xml: attributes into a document subset) and the signature fails there.
    doc = etree.fromstring(b'<Doc xmlns="urn:test" xml:lang="zh"><A>1</A></Doc>')
    c = pki.city
    with pytest.raises(SigningError, match="xml: attributes"):
        sign_enveloped(doc, c.key, c.cert, c.intermediates, _when(pki), engine=engine)


def test_verification_leaves_the_parsed_tree_as_it_was(pki: Pki) -> None:
    from signing.strict_verify import check_signature
    from signing.xmlprofile import SignatureShape, inspect_signature

    c = pki.city
    doc = sample_document()
    etree.indent(doc)
    signed = sign_strict(doc, c.key, c.cert, c.intermediates, _when(pki))
    # The newline before the signature moved after it: the enveloped-signature transform cuts
    # the element and keeps its tail, so the signed document is the same.
    signed[-1].tail, signed[-2].tail = signed[-2].tail, None
    data = etree.tostring(signed)
    root = etree.fromstring(data)
    shape = inspect_signature(root)
    assert isinstance(shape, SignatureShape)
    signed_root, findings = check_signature(root, shape, c.cert)
    assert findings == [] and signed_root is not None
    assert etree.tostring(root) == data
    assert signed_root.root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is None


@pytest.mark.parametrize(
    ("xml", "odd"),
    [
        ("<Doc a='值'>中文 &lt;项目&gt;<!-- <项目> --><A>文</A></Doc>", None),
        ("<Doc><项目>1</项目></Doc>", "项目"),
        ("<Doc><A 项='1'/></Doc>", "项"),
        ("<Doc xmlns:p='urn:p'><p:名/></Doc>", "{urn:p}名"),
    ],
)
def test_non_ascii_names_are_found_with_and_without_the_bytes(xml: str, odd: str | None) -> None:
    from signing.strict_common import non_ascii_name

    data = xml.encode()
    root = etree.fromstring(data)
    assert non_ascii_name(root) == odd
    assert non_ascii_name(root, data) == odd
