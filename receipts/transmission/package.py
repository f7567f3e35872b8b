"""The transmission package's format: the signed manifest that names the sender, the recipient,
the chain fragment's signed head, the count and total per issuer, and the SHA-256 of every
member (``schemas/transmission.xsd``, docs/formats.md). Version 2 lists the receipts (code,
number, issuer, digest) in a member of their own, ``receipts.csv``
(:mod:`receipts.transmission.listing`), so the manifest stays small whatever the package
carries; version 1 (still imported) lists them in the manifest.

Building the manifest element for export, and opening a received package: safe unzip, the
manifest's signature, its signer against the sender it names, every member's digest, and the
CRLs it carries against the CAs this workspace trusts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cryptography import x509
from lxml import etree

from receipts.domain.money import format_amount, from_fen
from receipts.domain.signed_documents import verify_document_signer
from receipts.errors import ReceiptError
from receipts.support.safezip import read_zip
from receipts.support.sizes import MAX_MANIFEST_BYTES
from signing.certificate_profile import org_code_of
from signing.crl import crls_from_pem, merge_crls
from signing.errors import SigningError
from signing.trust import ChainValidator

__all__ = [
    "LISTING",
    "NS",
    "RECEIPTS_DIR",
    "VERSION",
    "ListedReceipt",
    "Manifest",
    "RefusedPackage",
    "check_member_names",
    "manifest_element",
    "package_crls",
    "read_package",
    "verify_manifest",
]

NS = "urn:union-dues-receipt:transmission:1"
_T = f"{{{NS}}}"
RECEIPTS_DIR = "receipts/"
"""Where the receipts' members are."""
VERSION = 2
"""The version ``transmit export`` writes."""
LISTING = "receipts.csv"
"""Version 2's receipt listing member."""


class RefusedPackage(ReceiptError):
    """A package (or acknowledgement) is refused as a whole; nothing was imported."""

    exit_code = 1


@dataclass(frozen=True)
class ListedReceipt:
    """A receipt as the manifest lists it."""

    code: str
    """Receipt code."""
    number: int
    """Receipt number."""
    issuer: str
    """Org code of the federation that issued it."""
    digest: str
    """SHA-256 of its signed XML."""


@dataclass(frozen=True)
class Manifest:
    """What a verified manifest states."""

    sender: str
    """Org code of the sending federation."""
    recipient: str
    """Org code of the federation it is addressed to (the sender's upstream)."""
    created_at: datetime
    """When the package was made."""
    first_seq: int
    """First event of the sender's chain fragment."""
    last_seq: int
    """Last event of the fragment: the signed head."""
    head_hash: str
    """Hash of the last event."""
    head_signature: str
    """The sender's signature of its chain head."""
    issuers: dict[str, tuple[int, Decimal]]
    """Receipt count and total per issuer."""
    receipts: tuple[ListedReceipt, ...]
    """Version 1: every receipt the package carries. Version 2: empty (the receipts are listed
    in the member ``receipts.csv``, written and read a line at a time)."""
    members: dict[str, str]
    """SHA-256 of every other member, by path (version 2: but the receipts)."""
    digest: str
    """SHA-256 of the manifest file: the package's identity."""
    version: int = 1
    """The manifest's format version."""

    @property
    def receipt_count(self) -> int:
        """How many receipts the package carries (version 2: the issuers' counts, which the
        import holds to the listing and the receipts)."""
        if self.version == 1:
            return len(self.receipts)
        return sum(count for count, _ in self.issuers.values())


def manifest_element(
    sender: str,
    recipient: str,
    now: datetime,
    first: int,
    last: int,
    head: str,
    head_signature: str,
    totals: dict[str, list[int]],
    listed: list[ListedReceipt],
    members: Mapping[str, bytes],
    version: int = VERSION,
    *,
    digests: Mapping[str, str] | None = None,
) -> etree._Element:
    """The manifest, unsigned; ``totals`` holds count and fen per issuer. Version 2: the
    receipts' listing is the member ``receipts.csv`` (in ``members``), ``listed`` goes unused
    and the receipts' members are not listed one by one (each is held to its listed digest).
    ``digests``: members given by their SHA-256 (hex) instead (written as they were made)."""
    named = {name: hashlib.sha256(content).hexdigest() for name, content in members.items()}
    named.update(digests or {})
    nsmap: Any = {None: NS}
    root = etree.Element(_T + "Transmission", nsmap=nsmap, version=str(version))
    etree.SubElement(root, _T + "Sender").text = sender
    etree.SubElement(root, _T + "Recipient").text = recipient
    etree.SubElement(root, _T + "CreatedAt").text = now.isoformat()
    etree.SubElement(
        root,
        _T + "Events",
        first=str(first),
        last=str(last),
        head=head,
        headSignature=head_signature,
    )
    for issuer in sorted(totals):
        count, fen = totals[issuer]
        etree.SubElement(
            root, _T + "Issuer", code=issuer, count=str(count), total=format_amount(from_fen(fen))
        )
    for r in listed if version == 1 else ():
        etree.SubElement(
            root,
            _T + "Receipt",
            code=r.code,
            number=f"{r.number:010d}",
            issuer=r.issuer,
            digest=r.digest,
        )
    for name in sorted(named):
        if version != 1 and name.startswith(RECEIPTS_DIR):
            continue
        etree.SubElement(root, _T + "Member", path=name, digest=named[name])
    return root


def read_package(
    data: bytes, validator: ChainValidator, what: str
) -> tuple[Manifest, dict[str, bytes], x509.Certificate]:
    """Open a package safely, verify its manifest's signature and every member's digest;
    return the manifest, the other members, and the sender's signing certificate."""
    members = read_zip(data, what)
    manifest_bytes = members.pop("manifest.xml", None)
    if manifest_bytes is None:
        raise RefusedPackage(f"{what} has no manifest.xml")
    manifest, signer = verify_manifest(manifest_bytes, validator, what, MAX_MANIFEST_BYTES)
    check_member_names(set(members), manifest, what)
    for name, content in members.items():
        if manifest.version != 1 and name.startswith(RECEIPTS_DIR):
            continue  # held to its listed digest by the import, once verified
        if hashlib.sha256(content).hexdigest() != manifest.members[name]:
            raise RefusedPackage(
                f"{what}: member {name} was changed (digest differs from the signed manifest)"
            )
    return manifest, members, signer


def verify_manifest(
    manifest_bytes: bytes, validator: ChainValidator, what: str, max_bytes: int
) -> tuple[Manifest, x509.Certificate]:
    """The manifest's signature, chain and schema verified, and its signer the sender it
    names; the manifest and the sender's certificate."""
    root, signer = verify_document_signer(
        manifest_bytes,
        validator,
        expected_org=None,
        schema="transmission.xsd",
        what=f"{what} manifest",
        max_bytes=max_bytes,
    )
    if root.tag != _T + "Transmission":
        raise RefusedPackage(f"{what}: the signed document is not a transmission manifest")
    manifest = _parse_manifest(root, hashlib.sha256(manifest_bytes).hexdigest())
    signer_org = org_code_of(signer)
    if signer_org != manifest.sender:
        raise RefusedPackage(
            f"{what}: the manifest names sender {manifest.sender} but is signed by {signer_org}"
        )
    return manifest, signer


def check_member_names(
    names: set[str], manifest: Manifest, what: str, more_receipts: int = 0
) -> None:
    """The package's members (but the manifest) are exactly those the manifest lists (version
    2: but the receipts, which the listing names and the import finds one by one);
    ``more_receipts``: receipt members left out of ``names`` (a reader that keeps no name per
    receipt, :mod:`receipts.transmission.package_stream`)."""
    if manifest.version != 1:
        receipts = {name for name in names if name.startswith(RECEIPTS_DIR)}
        found = len(receipts) + more_receipts
        if found != manifest.receipt_count:
            raise RefusedPackage(
                f"{what}: {found:,} receipt members, but the manifest states "
                f"{manifest.receipt_count:,} receipts"
            )
        names = names - receipts
    if names != set(manifest.members):
        extra = sorted(names - set(manifest.members))
        missing = sorted(set(manifest.members) - names)
        raise RefusedPackage(
            f"{what}: members not as listed (unlisted: {extra[:3]}, missing: {missing[:3]})"
        )


def _parse_manifest(root: etree._Element, digest: str) -> Manifest:
    events = root.find(_T + "Events")
    assert events is not None  # the schema requires it
    issuers = {
        el.get("code", ""): (int(el.get("count", "0")), Decimal(el.get("total", "0")))
        for el in root.iterfind(_T + "Issuer")
    }
    receipts = tuple(
        ListedReceipt(
            el.get("code", ""),
            int(el.get("number", "0")),
            el.get("issuer", ""),
            el.get("digest", ""),
        )
        for el in root.iterfind(_T + "Receipt")
    )
    members = {el.get("path", ""): el.get("digest", "") for el in root.iterfind(_T + "Member")}
    version = int(root.get("version", "1"))
    if version != 1 and (receipts or LISTING not in members):
        raise RefusedPackage(
            f"a version {version} manifest lists its receipts in {LISTING}, not in itself"
        )
    if version != 1 and any(name.startswith(RECEIPTS_DIR) for name in members):
        raise RefusedPackage(f"a version {version} manifest lists no receipt members")
    return Manifest(
        sender=root.findtext(_T + "Sender") or "",
        recipient=root.findtext(_T + "Recipient") or "",
        created_at=datetime.fromisoformat(root.findtext(_T + "CreatedAt") or ""),
        first_seq=int(events.get("first", "0")),
        last_seq=int(events.get("last", "0")),
        head_hash=events.get("head", ""),
        head_signature=events.get("headSignature", ""),
        issuers=issuers,
        receipts=receipts,
        members=members,
        digest=digest,
        version=version,
    )


def package_crls(
    members: dict[str, bytes], validator: ChainValidator, what: str
) -> tuple[x509.CertificateRevocationList, ...]:
    """The package's CRLs, refused with the package unless each is signed by a CA this
    workspace trusts and dated no later than now: a lower tier must not be able to displace a
    CA's genuine CRL (and its revocations) with one of its own making. Checked by the same merge
    the caller then runs, before anything is written."""
    if "crls.pem" not in members:
        return ()
    bundle = validator.bundle
    try:
        crls = tuple(crls_from_pem(members["crls.pem"]))
        merge_crls(bundle.crls, crls, bundle.roots + bundle.cas, datetime.now(UTC))
    except SigningError as exc:
        raise RefusedPackage(f"{what}: crls.pem: {exc}") from None
    return crls
