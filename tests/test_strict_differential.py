"""Differential tests: the strict verifier never accepts what signxml or xmlsec1 refuses.

signxml (``verify_enveloped(engine="signxml")``, the same shape check and chain validation, then
signxml's digest and signature walk) and xmlsec1 are the references. Each document below is
verified by all three; a failure is the strict verifier accepting what either reference refuses.
Refusing more than they do is allowed, and every such case found while building the verifier is
in ``SETTLED`` with how it was settled (docs/security.md, "The strict verifier").

The mutation property runs with a fixed seed (``derandomize``) and a modest budget; ``slow``
runs a larger one. xmlsec1 is a process per document, so it is asked only about documents the
strict verifier accepts (the only ones that can fail the property) and about the signer's output.
"""

from __future__ import annotations

import copy
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from receipts.domain.signed_documents import chain_validator
from signing.errors import SigningError
from signing.result import VerificationResult
from signing.strict_sign import sign_strict
from signing.trust import ChainValidator, TrustBundle
from signing.xmldsig import verify_enveloped
from tests.support import cross_province
from tests.support.pki import SHANGHAI, Pki, sample_document
from tests.support.skips import need_tool
from tests.test_signing_xmldsig import BAD_CORPUS

DATA = Path(__file__).parent / "data"
DS = "http://www.w3.org/2000/09/xmldsig#"
_UNSIGNED_TIMESTAMP = (
    b'<xades:UnsignedProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" '
    b'xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xades:UnsignedSignatureProperties>'
    b"<xades:SignatureTimeStamp><ds:CanonicalizationMethod "
    b'Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
    b"<xades:EncapsulatedTimeStamp>MIIBAAEC</xades:EncapsulatedTimeStamp>"
    b"</xades:SignatureTimeStamp></xades:UnsignedSignatureProperties>"
    b"</xades:UnsignedProperties></xades:QualifyingProperties>"
)


class Xmlsec1:
    """xmlsec1 --verify with one trusted root, same-document references only."""

    def __init__(self, tool: str, folder: Path, root: x509.Certificate) -> None:
        self.tool = tool
        self.folder = folder
        self.root_pem = folder / f"root-{root.serial_number:x}.pem"
        self.root_pem.write_bytes(root.public_bytes(Encoding.PEM))
        self.runs = 0

    def refusal(self, data: bytes, at: datetime | None = None) -> str | None:
        """None if xmlsec1 verifies ``data`` (its chain as of ``at``, default now), else why."""
        self.runs += 1
        path = self.folder / f"doc-{self.runs}.xml"
        path.write_bytes(data)
        when = [] if at is None else ["--verification-time", _local(at)]
        run = subprocess.run(
            [
                self.tool,
                "--verify",
                "--trusted-pem",
                str(self.root_pem),
                "--enabled-reference-uris",
                "empty,same-doc",
                *when,
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        path.unlink()
        return None if run.returncode == 0 else run.stderr[-2000:]


def _local(moment: datetime) -> str:
    # xmlsec1 reads --verification-time as the machine's local time.
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(scope="module")
def xmlsec1(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Xmlsec1:
    return Xmlsec1(need_tool("xmlsec1", "xmlsec1"), tmp_path_factory.mktemp("xmlsec1"), pki.root)


@dataclass(frozen=True)
class Verdicts:
    strict: VerificationResult
    signxml: VerificationResult


def _both(
    data: bytes, validator: ChainValidator, org: str | None, now: datetime | None
) -> Verdicts:
    def run(engine: str) -> VerificationResult:
        return verify_enveloped(
            data,
            validator,
            expected_org=org,
            now=now,
            engine="strict" if engine == "strict" else "signxml",
        )

    return Verdicts(run("strict"), run("signxml"))


def _judge(
    data: bytes,
    validator: ChainValidator,
    xmlsec: Xmlsec1,
    *,
    org: str | None = "640100",
    now: datetime | None = None,
) -> Verdicts:
    """Fail if the strict verifier accepts ``data`` while signxml or xmlsec1 refuses it."""
    verdicts = _both(data, validator, org, now)
    if verdicts.strict.valid:
        assert verdicts.signxml.valid, f"signxml refuses: {verdicts.signxml.findings}"
        refusal = xmlsec.refusal(data, verdicts.strict.signing_time)
        assert refusal is None, f"xmlsec1 refuses: {refusal}"
    return verdicts


def _when(pki: Pki) -> datetime:
    return (pki.now - timedelta(days=1)).astimezone(SHANGHAI)


def _signed(pki: Pki, doc: etree._Element) -> bytes:
    c = pki.city
    signed = sign_strict(doc, c.key, c.cert, c.intermediates, _when(pki))
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def _receipt(pki: Pki) -> bytes:
    doc = sample_document()
    etree.indent(doc)
    return _signed(pki, doc)


def _with_timestamp_element(data: bytes) -> bytes:
    # The one unsigned shape xmlprofile admits (the token is not checked by verify_enveloped).
    return data.replace(b"</xades:QualifyingProperties>", _UNSIGNED_TIMESTAMP, 1)


# The corpus -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD_CORPUS))
def test_bad_signature_corpus_gets_the_same_findings(pki: Pki, xmlsec1: Xmlsec1, name: str) -> None:
    mutate, org, codes = BAD_CORPUS[name]
    data = mutate(pki, _receipt(pki))
    verdicts = _judge(data, pki.validator, xmlsec1, org=org, now=pki.now)
    assert verdicts.strict.codes == verdicts.signxml.codes == codes


def _corpus_files() -> list[tuple[Path, str]]:
    legacy = [(p, "legacy") for p in sorted((DATA / "legacy").glob("*.xml"))]
    others = [(p, "bad") for p in sorted((DATA / "bad").glob("*.xml"))]
    return legacy + others + [(p, "good") for p in sorted((DATA / "good").glob("*.xml"))]


@pytest.mark.parametrize(("path", "kind"), _corpus_files(), ids=lambda v: getattr(v, "name", v))
def test_corpus_files_get_the_same_verdict(pki: Pki, tmp_path: Path, path: Path, kind: str) -> None:
    if kind == "legacy":
        bundle = TrustBundle.load(DATA / "legacy" / "trust.pem")
    elif path.name == cross_province.RECEIPT_FILE:
        bundle = TrustBundle.load(DATA / "bad" / cross_province.TRUST_FILE)
    else:
        bundle = pki.bundle
    root = next(c for c in bundle.roots if c.subject == c.issuer)
    xmlsec = Xmlsec1(need_tool("xmlsec1", "xmlsec1"), tmp_path, root)
    data = path.read_bytes()
    verdicts = _judge(data, chain_validator(bundle), xmlsec, org=None)
    assert verdicts.strict.codes == verdicts.signxml.codes
    assert verdicts.strict.valid == (kind == "legacy")


def test_the_timestamp_shape_is_accepted_like_signxml_and_xmlsec1(
    pki: Pki, xmlsec1: Xmlsec1
) -> None:
    data = _with_timestamp_element(_receipt(pki))
    verdicts = _judge(data, pki.validator, xmlsec1, now=pki.now)
    assert verdicts.strict.valid and verdicts.signxml.valid


# Disagreements found while building the strict verifier, and how each was settled ------------


def _text(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


def _junk_in_signature_value(data: bytes) -> bytes:
    start = data.index(b"<ds:SignatureValue>") + len(b"<ds:SignatureValue>") + 10
    return data[:start] + b"!" + data[start:]


def _comment_in_digest_value(data: bytes) -> bytes:
    found = re.search(rb"<ds:DigestValue>(....)", data)
    assert found is not None
    return data[: found.end()] + b"<!-- x -->" + data[found.end() :]


@dataclass(frozen=True)
class Settled:
    mutate: Callable[[bytes], bytes]
    signxml_accepts: bool
    xmlsec1_accepts: bool
    strict_code: str
    """What the strict verifier says: it refuses every one of them."""


SETTLED: dict[str, Settled] = {
    # URI="" is the whole document for xmlsec1 (top-level PIs included), the root for signxml.
    "pi-after-the-root": Settled(lambda d: d + b"<?audit x?>", True, False, "signature-wrapping"),
    "pi-before-the-root": Settled(
        lambda d: _text(d, b"<Doc", b"<?audit x?><Doc"), True, False, "signature-wrapping"
    ),
    # C14N 1.0 gives a document subset the xml: attributes of its ancestors: xmlsec1 does,
    # lxml's canonicalisation of an element (signxml's and ours) does not.
    "xml-lang-on-the-signature": Settled(
        lambda d: _text(d, b"<ds:Signature ", b'<ds:Signature xml:lang="zh" '),
        True,
        False,
        "malformed-signature",
    ),
    # signxml's b64decode drops characters outside the alphabet; xmlsec1 refuses them.
    "junk-in-the-signature-value": Settled(
        _junk_in_signature_value, True, False, "signature-invalid"
    ),
    # Both references accept comments in SignedInfo (c14n drops them; signxml reads what it
    # canonicalised, xmlsec1 the whole text). A comment splits lxml's .text, so the strict
    # verifier, which reads the tree, refuses comments anywhere in the signature: stricter.
    "comment-in-signed-info": Settled(
        lambda d: _text(d, b"<ds:SignatureMethod", b"<!-- x --><ds:SignatureMethod"),
        True,
        True,
        "malformed-signature",
    ),
    "comment-in-a-digest-value": Settled(
        _comment_in_digest_value, True, True, "malformed-signature"
    ),
    # Found by the mutation property: signxml copies a referenced element with its tail and
    # cannot parse the copy when the tail is text; xmlsec1 ignores text outside the element.
    # Our signer writes no text between the signature's elements, so the strict verifier
    # refuses any (whitespace apart).
    "text-after-signed-properties": Settled(
        lambda d: _text(d, b"</xades:SignedProperties>", b"</xades:SignedProperties>x"),
        False,
        True,
        "malformed-signature",
    ),
    "text-between-signature-parts": Settled(
        lambda d: _text(d, b"<ds:Object>", b"<ds:Object>x"), True, True, "malformed-signature"
    ),
}


@pytest.mark.parametrize("name", sorted(SETTLED))
def test_settled_disagreements(pki: Pki, xmlsec1: Xmlsec1, name: str) -> None:
    case = SETTLED[name]
    data = case.mutate(_receipt(pki))
    verdicts = _both(data, pki.validator, "640100", pki.now)
    assert verdicts.signxml.valid is case.signxml_accepts, verdicts.signxml.findings
    assert (xmlsec1.refusal(data) is None) is case.xmlsec1_accepts
    assert verdicts.strict.codes == (case.strict_code,)


def test_a_comment_outside_the_root_is_ignored(pki: Pki, xmlsec1: Xmlsec1) -> None:
    # Found by the mutation property: lxml canonicalises a root element with a sibling comment
    # through a stand-in document and writes xmlns="" on the children of a default namespace,
    # so the strict verifier, which canonicalised the root element, refused a good receipt
    # followed by a comment that signxml and xmlsec1 accept. Settled: it canonicalises the
    # document (C14N drops comments outside the root), as xmlsec1 does.
    receipt = _signed(pki, etree.fromstring((DATA / "good" / "normal.xml").read_bytes()))
    for data in (receipt + b"<!-- after -->", receipt.replace(b"<Receipt", b"<!-- b --><Receipt")):
        verdicts = _judge(data, pki.validator, xmlsec1, now=pki.now)
        assert verdicts.strict.valid and verdicts.signxml.valid


def test_non_ascii_names_are_refused(
    pki: Pki, xmlsec1: Xmlsec1, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the signer property below: lxml's default (ASCII) serialisation writes a
    # non-ASCII element name as character references, which no parser reads back, so signxml
    # cannot sign such a document nor verify it (its copies of the tree fail to parse), while
    # xmlsec1 verifies it. Settled: the strict signer and verifier refuse non-ASCII names (our
    # documents have none).
    doc = etree.fromstring("<Doc><项目>1</项目></Doc>".encode())
    c = pki.city
    with pytest.raises(SigningError, match="ASCII"):
        sign_strict(doc, c.key, c.cert, c.intermediates, _when(pki))
    monkeypatch.setattr("signing.strict_sign.non_ascii_name", lambda root, utf8: None)
    data = _signed(pki, doc)
    monkeypatch.undo()
    verdicts = _both(data, pki.validator, "640100", pki.now)
    assert verdicts.signxml.codes == ("malformed-signature",)
    assert xmlsec1.refusal(data) is None
    assert verdicts.strict.codes == ("malformed-signature",)
    assert "ASCII" in verdicts.strict.findings[0].message


# Mutations of signed receipts (Hypothesis) ----------------------------------------------------

_START_TAG_END = re.compile(rb"(?<=[^-?/])(/?>)")
_BETWEEN_TAGS = re.compile(rb">(?=\s*<)")


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str)]


def _pick(draw: st.DrawFn, items: list[etree._Element]) -> etree._Element:
    return items[draw(st.integers(0, len(items) - 1))]


def _on_tree(change: Callable[[st.DrawFn, etree._Element], None]) -> Callable[..., bytes]:
    def mutate(draw: st.DrawFn, data: bytes) -> bytes:
        try:
            root = etree.fromstring(data)
        except etree.XMLSyntaxError:
            return data
        change(draw, root)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    return mutate


def _move(draw: st.DrawFn, root: etree._Element) -> None:
    moving = _pick(draw, _elements(root)[1:])
    targets = [e for e in _elements(root) if e is not moving and moving not in e.iterancestors()]
    target = _pick(draw, targets)
    target.insert(draw(st.integers(0, len(target))), moving)


def _duplicate(draw: st.DrawFn, root: etree._Element) -> None:
    original = _pick(draw, _elements(root)[1:])
    original.addnext(copy.deepcopy(original))


def _remove(draw: st.DrawFn, root: etree._Element) -> None:
    gone = _pick(draw, _elements(root)[1:])
    parent = gone.getparent()
    if parent is not None:
        parent.remove(gone)


def _renamespace(draw: st.DrawFn, root: etree._Element) -> None:
    element = _pick(draw, _elements(root))
    namespace = draw(st.sampled_from([DS, "urn:test", "urn:evil", "http://uri.etsi.org/01903#"]))
    element.tag = f"{{{namespace}}}{etree.QName(element).localname}"


def _reorder_attributes(draw: st.DrawFn, root: etree._Element) -> None:
    element = _pick(draw, [e for e in _elements(root) if len(e.attrib) > 1] or [root])
    items = list(element.attrib.items())
    element.attrib.clear()
    for name, value in reversed(items):
        element.set(name, value)


def _strip_whitespace(draw: st.DrawFn, root: etree._Element) -> None:
    element = _pick(draw, _elements(root))
    if draw(st.booleans()):
        element.text = (element.text or "").strip() or None
    else:
        element.tail = (element.tail or "").strip() or None


def _flip(draw: st.DrawFn, data: bytes) -> bytes:
    at = draw(st.integers(0, len(data) - 1))
    return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]


def _insert_between_tags(draw: st.DrawFn, data: bytes) -> bytes:
    spots = [m.end() for m in _BETWEEN_TAGS.finditer(data)]
    at = spots[draw(st.integers(0, len(spots) - 1))]
    text = draw(st.sampled_from([b" ", b"\n", b"\n  ", b"\t", b"<!-- c -->", b"<?pi x?>", b"x"]))
    return data[:at] + text + data[at:]


def _insert_in_text(draw: st.DrawFn, data: bytes) -> bytes:
    spots = [m.end() for m in re.finditer(rb">[^<\s]", data)]
    at = spots[draw(st.integers(0, len(spots) - 1))]
    text = draw(st.sampled_from([b" ", b"\n", b"<!-- c -->", b"&#x20;", b"\r\n"]))
    return data[:at] + text + data[at:]


def _insert_attribute(draw: st.DrawFn, data: bytes) -> bytes:
    spots = [m.start() for m in _START_TAG_END.finditer(data)]
    at = spots[draw(st.integers(0, len(spots) - 1))]
    attribute = draw(
        st.sampled_from(
            [
                b' xmlns=""',
                b' xmlns="urn:evil"',
                b' xmlns:evil="urn:evil"',
                b' xmlns:ds="http://www.w3.org/2000/09/xmldsig#"',
                b' xml:lang="zh"',
                b' xml:space="preserve"',
                b' Id="SignXMLCertificate00000000"',
                b' extra="1"',
            ]
        )
    )
    return data[:at] + attribute + data[at:]


def _rename_prefix(draw: st.DrawFn, data: bytes) -> bytes:
    prefix = draw(st.sampled_from([b"ds", b"xades"]))
    return data.replace(prefix + b":", b"p0:").replace(b"xmlns:" + prefix + b"=", b"xmlns:p0=")


def _outside_root(draw: st.DrawFn, data: bytes) -> bytes:
    extra = draw(st.sampled_from([b"<!-- after -->", b"<?after x?>", b"\n"]))
    return data + extra


MUTATIONS: dict[str, Callable[..., bytes]] = {
    "flip": _flip,
    "move": _on_tree(_move),
    "duplicate": _on_tree(_duplicate),
    "remove": _on_tree(_remove),
    "namespace": _on_tree(_renamespace),
    "prefix": _rename_prefix,
    "reorder-attributes": _on_tree(_reorder_attributes),
    "strip-whitespace": _on_tree(_strip_whitespace),
    "between-tags": _insert_between_tags,
    "in-text": _insert_in_text,
    "attribute": _insert_attribute,
    "outside-root": _outside_root,
}


@dataclass
class _Bases:
    documents: list[bytes]


@pytest.fixture(scope="module")
def bases(pki: Pki) -> _Bases:
    receipt = _receipt(pki)
    good = _signed(pki, etree.fromstring((DATA / "good" / "normal.xml").read_bytes()))
    return _Bases([receipt, _with_timestamp_element(receipt), good])


def _mutation_property(pki: Pki, xmlsec1: Xmlsec1, bases: _Bases, data: st.DataObject) -> None:
    document = bases.documents[data.draw(st.integers(0, len(bases.documents) - 1))]
    names = data.draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3))
    for name in names:
        document = MUTATIONS[name](data.draw, document)
    verdicts = _judge(document, pki.validator, xmlsec1, now=pki.now)
    event(f"strict {'accepts' if verdicts.strict.valid else 'refuses'}")
    if verdicts.signxml.valid and not verdicts.strict.valid:
        event(f"stricter than signxml: {verdicts.strict.codes}")


_HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_mutations_of_signed_receipts(
    pki: Pki, xmlsec1: Xmlsec1, bases: _Bases, data: st.DataObject
) -> None:
    _mutation_property(pki, xmlsec1, bases, data)


@pytest.mark.slow
@settings(max_examples=1500, derandomize=True, deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_mutations_of_signed_receipts_at_length(
    pki: Pki, xmlsec1: Xmlsec1, bases: _Bases, data: st.DataObject
) -> None:
    _mutation_property(pki, xmlsec1, bases, data)


# The signer's output on generated documents ---------------------------------------------------

_XML_TEXT = st.text(
    st.characters(
        min_codepoint=0x20, max_codepoint=0xFFFD, categories=("L", "M", "N", "P", "S", "Zs")
    )
    | st.sampled_from("\t\n\r 　"),
    max_size=12,
)
# ASCII names only: the signer refuses others (test_non_ascii_names_are_refused).
_NAMES = st.sampled_from(["A", "B", "{urn:test}C", "{urn:other}D", "{urn:test}E"])


@st.composite
def documents(draw: st.DrawFn) -> etree._Element:
    """Small documents with namespaces, attributes, mixed text, comments and PIs inside."""
    root = etree.Element(draw(st.sampled_from(["{urn:test}Doc", "Doc"])))
    elements = [root]
    for _ in range(draw(st.integers(0, 8))):
        parent = elements[draw(st.integers(0, len(elements) - 1))]
        kind = draw(st.sampled_from(["element", "element", "comment", "pi"]))
        if kind == "comment":
            parent.append(etree.Comment(draw(st.sampled_from([" c ", "注释"]))))
            continue
        if kind == "pi":
            parent.append(etree.ProcessingInstruction("pi", draw(st.sampled_from(["", "x=1"]))))
            continue
        child = etree.SubElement(parent, draw(_NAMES))
        for name in draw(st.lists(st.sampled_from(["a", "b", "{urn:x}c"]), unique=True)):
            child.set(name, draw(_XML_TEXT))
        child.text = draw(st.none() | _XML_TEXT)
        child.tail = draw(st.none() | _XML_TEXT)
        elements.append(child)
    return root


def _signer_property(pki: Pki, xmlsec1: Xmlsec1, doc: etree._Element) -> None:
    data = _signed(pki, doc)
    verdicts = _both(data, pki.validator, "640100", pki.now)
    assert verdicts.strict.valid, verdicts.strict.findings
    assert verdicts.signxml.valid, verdicts.signxml.findings
    assert xmlsec1.refusal(data) is None


@settings(max_examples=12, derandomize=True, deadline=None, suppress_health_check=_HEALTH)
@given(doc=documents())
def test_what_the_strict_signer_signs_verifies_everywhere(
    pki: Pki, xmlsec1: Xmlsec1, doc: etree._Element
) -> None:
    _signer_property(pki, xmlsec1, doc)


@pytest.mark.slow
@settings(max_examples=200, derandomize=True, deadline=None, suppress_health_check=_HEALTH)
@given(doc=documents())
def test_what_the_strict_signer_signs_verifies_everywhere_at_length(
    pki: Pki, xmlsec1: Xmlsec1, doc: etree._Element
) -> None:
    _signer_property(pki, xmlsec1, doc)
