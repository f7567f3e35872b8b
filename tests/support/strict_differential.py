"""What the differential tests of the strict verifier share (tests/test_strict_differential.py,
tests/test_strict_mutations.py): xmlsec1 as a reference, and the judge that fails when the strict
verifier accepts what signxml or xmlsec1 refuses."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from signing.result import VerificationResult
from signing.strict_sign import sign_strict
from signing.trust import ChainValidator
from signing.xmldsig import verify_enveloped
from tests.support.pki import SHANGHAI, Pki, sample_document
from tests.support.skips import need_tool

__all__ = [
    "Verdicts",
    "Xmlsec1",
    "both",
    "judge",
    "receipt",
    "signed",
    "when",
    "with_timestamp_element",
    "xmlsec1",
]

UNSIGNED_TIMESTAMP = (
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
        when = [] if at is None else ["--verification-time", local_time(at)]
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


def local_time(moment: datetime) -> str:
    # xmlsec1 reads --verification-time as the machine's local time.
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(scope="module")
def xmlsec1(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Xmlsec1:
    return Xmlsec1(need_tool("xmlsec1", "xmlsec1"), tmp_path_factory.mktemp("xmlsec1"), pki.root)


@dataclass(frozen=True)
class Verdicts:
    strict: VerificationResult
    signxml: VerificationResult


def both(data: bytes, validator: ChainValidator, org: str | None, now: datetime | None) -> Verdicts:
    def run(engine: str) -> VerificationResult:
        return verify_enveloped(
            data,
            validator,
            expected_org=org,
            now=now,
            engine="strict" if engine == "strict" else "signxml",
        )

    return Verdicts(run("strict"), run("signxml"))


def judge(
    data: bytes,
    validator: ChainValidator,
    xmlsec: Xmlsec1,
    *,
    org: str | None = "640100",
    now: datetime | None = None,
) -> Verdicts:
    """Fail if the strict verifier accepts ``data`` while signxml or xmlsec1 refuses it."""
    verdicts = both(data, validator, org, now)
    if verdicts.strict.valid:
        assert verdicts.signxml.valid, f"signxml refuses: {verdicts.signxml.findings}"
        # What a caller reads is what was digested, whether the verifier handed its own tree
        # over or the canonical bytes were parsed (comments would show here: none may be left).
        read = verdicts.strict.signed_root
        assert verdicts.strict.signed is not None and read is not None
        canonical = etree.tostring(read, method="c14n", with_comments=True)
        assert canonical == verdicts.strict.signed.data
        refusal = xmlsec.refusal(data, verdicts.strict.signing_time)
        assert refusal is None, f"xmlsec1 refuses: {refusal}"
    return verdicts


def when(pki: Pki) -> datetime:
    return (pki.now - timedelta(days=1)).astimezone(SHANGHAI)


def signed(pki: Pki, doc: etree._Element) -> bytes:
    c = pki.city
    signed = sign_strict(doc, c.key, c.cert, c.intermediates, when(pki))
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def receipt(pki: Pki) -> bytes:
    doc = sample_document()
    etree.indent(doc)
    return signed(pki, doc)


def with_timestamp_element(data: bytes) -> bytes:
    # The one unsigned shape xmlprofile admits (the token is not checked by verify_enveloped).
    return data.replace(b"</xades:QualifyingProperties>", UNSIGNED_TIMESTAMP, 1)
