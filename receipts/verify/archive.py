"""Verifying an archive package, offline, decades later (issue 8): fixity of every file, the
manifest's signature, every receipt's signature as of its signing time (as of its time-stamp's
time, and the time-stamp token itself, for a receipt that carries one: XAdES-T), and metadata that
agrees with the receipt it describes. Every problem is a finding naming the file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from receipts.domain.signed_documents import InvalidSignedDocument, verify_document
from receipts.errors import InvalidInput
from receipts.findings import Finding, FindingCode
from receipts.support.safezip import read_zip
from receipts.support.sizes import MAX_MANIFEST_BYTES
from receipts.verify.receipt import verify_receipt_xml
from signing.trust import ChainValidator
from signing.xades_t import DEFAULT_TOLERANCE
from signing.xmlparse import UnsafeXML, parse_untrusted

__all__ = ["ArchiveCheck", "ArchiveInfo", "read_archive_manifest", "verify_archive"]

_A = "{urn:union-dues-receipt:archive:1}"


@dataclass(frozen=True)
class ArchiveInfo:
    """What an archive's manifest says."""

    org_code: str
    """The federation whose records these are."""
    org_name: str
    """Its name."""
    kind: str
    """``main`` or ``supplementary``."""
    label: str
    """The period archived."""
    months: tuple[str, ...]
    """Its months."""
    retain_until: str
    """Keep until (ISO date)."""
    files: dict[str, str]
    """Path → SHA-256 as listed."""
    digest: str
    """SHA-256 of the manifest: the archive's identity."""
    amends: tuple[str, ...]
    """For a supplementary archive: the archives it amends."""


@dataclass(frozen=True)
class ArchiveCheck:
    """The outcome of verifying an archive."""

    info: ArchiveInfo | None
    """The manifest, when it could be read and verified."""
    receipts: int
    """Receipts whose signatures were checked."""
    findings: tuple[Finding, ...]
    """Every problem found, each naming its file."""
    timestamped: int = 0
    """Receipts among them carrying a signature time-stamp that verified."""

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings


def read_archive_manifest(
    members: dict[str, bytes], validator: ChainValidator, what: str
) -> ArchiveInfo:
    """Verify and read the manifest of an archive's members."""
    data = members.get("manifest.xml")
    if data is None:
        raise InvalidInput(f"{what} has no manifest.xml")
    root, signer_org = verify_document(
        data,
        validator,
        expected_org=None,
        schema="archive.xsd",
        what=f"{what}: manifest.xml",
        max_bytes=MAX_MANIFEST_BYTES,
    )
    if root.tag != _A + "ArchiveManifest":
        raise InvalidInput(f"{what}: manifest.xml is not an archive manifest")

    def text(name: str) -> str:
        return root.findtext(_A + name) or ""

    if signer_org != text("OrgCode"):
        raise InvalidInput(
            f"{what}: the manifest is for {text('OrgCode')} but signed by {signer_org}"
        )
    return ArchiveInfo(
        org_code=text("OrgCode"),
        org_name=text("OrgName"),
        kind=text("Kind"),
        label=text("Period"),
        months=tuple(m.text or "" for m in root.iterfind(_A + "Month")),
        retain_until=text("RetainUntil"),
        files={f.get("path", ""): f.get("sha256", "") for f in root.iterfind(_A + "File")},
        digest=hashlib.sha256(data).hexdigest(),
        amends=tuple(a.get("archive", "") for a in root.iterfind(_A + "Amends")),
    )


def verify_archive(
    data: bytes, validator: ChainValidator, what: str, *, tolerance: timedelta = DEFAULT_TOLERANCE
) -> ArchiveCheck:
    """Check everything an archive holds; findings name each problem's file. ``tolerance``: how
    far a time-stamped receipt's claimed signing time may lie before its time-stamp."""
    try:
        members = read_zip(data, what)
        info = read_archive_manifest(members, validator, what)
    except (InvalidInput, InvalidSignedDocument) as exc:
        return ArchiveCheck(None, 0, (Finding(FindingCode.ARCHIVE_INVALID, str(exc)),))
    findings: list[Finding] = []
    listed = info.files
    for path in sorted(set(members) - set(listed) - {"manifest.xml"}):
        findings.append(Finding(FindingCode.FILE_ADDED, f"{path} is not listed in the manifest"))
    for path in sorted(set(listed) - set(members)):
        findings.append(Finding(FindingCode.FILE_MISSING, f"{path} is listed but missing"))
    for path in sorted(set(listed) & set(members)):
        if hashlib.sha256(members[path]).hexdigest() != listed[path]:
            findings.append(
                Finding(
                    FindingCode.FILE_ALTERED, f"{path} does not match its SHA-256 in the manifest"
                )
            )
    receipts = timestamped = 0
    for path in sorted(p for p in set(listed) & set(members) if p.startswith("receipts/")):
        receipts += 1
        result = verify_receipt_xml(members[path], validator, path, tolerance=tolerance)
        timestamped += result.timestamped_at is not None
        for finding in result.findings:
            findings.append(Finding(finding.code, f"{path}: {finding.message}"))
        if (
            result.receipt is not None
            and result.receipt.issuer.code != info.org_code
            and info.kind == "main"
        ):
            findings.append(
                Finding(
                    FindingCode.WRONG_ISSUER,
                    f"{path} was issued by {result.receipt.issuer.code}, not {info.org_code}",
                )
            )
        meta_path = "metadata/" + path.removeprefix("receipts/")
        if meta_path in members and result.digest is not None:
            findings.extend(_metadata_findings(meta_path, members[meta_path], result.digest))
    return ArchiveCheck(info, receipts, tuple(findings), timestamped)


def _metadata_findings(path: str, data: bytes, digest: str) -> list[Finding]:
    from schemas import load_schema

    try:
        root = parse_untrusted(data)
    except UnsafeXML as exc:
        return [Finding(FindingCode.METADATA_INVALID, f"{path}: {exc}")]
    schema = load_schema("archive.xsd")
    if not schema.validate(root):
        first: Any = schema.error_log.last_error  # type: ignore[attr-defined]
        return [Finding(FindingCode.METADATA_INVALID, f"{path}: {first.message}")]
    if root.findtext(_A + "XmlSha256") != digest:
        return [
            Finding(
                FindingCode.METADATA_MISMATCH,
                f"{path} describes another receipt (its XmlSha256 is not the receipt's)",
            )
        ]
    return []
