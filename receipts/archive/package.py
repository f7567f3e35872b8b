"""Archiving (归档) closed periods for 30 years (docs/formats.md, docs/operations.md).

An archive package (zip) of a closed month, quarter or year holds, for every receipt this
federation issued in it: the signed XML (with its signature time-stamp, XAdES-T, when the ledger
keeps one beside it), its PDF, and a metadata record (``schemas/archive.xsd``,
after DA/T 95's electronic-bill metadata); plus the trust bundle needed to verify it all later,
and a manifest with the SHA-256 of every file, signed by the federation. Archived records never
change: when a later period reverses an archived receipt, that period's archiving also writes a
*supplementary* archive with the amended metadata, naming the archive it amends.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from lxml import etree
from sqlalchemy import select

from receipts import __version__
from receipts.archive.generic_check import generic_check_files, root_files
from receipts.domain.model import Receipt
from receipts.domain.money import format_amount
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import InvalidInput
from receipts.issuing.periods import periods_of
from receipts.ledger.database import Database
from receipts.ledger.events import append_event, sign_head
from receipts.ledger.models import Archive, PeriodClose, ReceiptRow
from receipts.ledger.receipt_key import receipt_row
from receipts.pki.signer import ReceiptSigner
from receipts.support.safezip import write_zip
from receipts.tsa.stamping import stamped_xml, tokens_for
from signing.trust import TrustBundle

__all__ = ["ARCHIVE_NS", "RETENTION_YEARS", "ArchivePackage", "create_archives", "metadata_element"]

ARCHIVE_NS = "urn:union-dues-receipt:archive:1"
_A = f"{{{ARCHIVE_NS}}}"
#: Accounting records are kept 30 years (会计档案管理办法).
RETENTION_YEARS = 30
BILL_TYPE = "工会经费收入专用收据(电子)"
#: The libraries whose output a PDF or a signature depends on; the manifest records their versions
#: so that a verifier years later knows what made the package (docs/formats.md).
RENDERING_LIBRARIES = (
    "reportlab",
    "pikepdf",
    "fonttools",
    "zxing-cpp",
    "pyhanko",
    "lxml",
    "signxml",
    "cryptography",
)


@dataclass(frozen=True)
class ArchivePackage:
    """One archive file to write."""

    kind: str
    """``main`` or ``supplementary``."""
    data: bytes
    """The zip."""
    digest: str
    """SHA-256 of its signed manifest: the archive's identity."""
    receipts: int
    """Receipts (main) or amended records (supplementary) in it."""


def create_archives(
    db: Database,
    signer: ReceiptSigner,
    org_name: str,
    label: str,
    trust_pem: bytes,
    render: Callable[[bytes], bytes],
) -> list[ArchivePackage]:
    """Archive the closed period ``label`` (``YYYY-MM``, ``YYYY-Qn`` or ``YYYY``): the main
    archive, and a supplementary one when the period amends receipts archived before."""
    months = periods_of(label)
    now = datetime.now(UTC).replace(microsecond=0)
    with db.read() as session:
        _check_archivable(session, months)
        rows, reds, amended = _period_receipts(session, signer.org_code, months)
        tokens = tokens_for(
            session,
            [(r.code, r.number) for r in rows] + [(r.code, r.number) for _, r, _ in amended],
        )
    files: dict[str, bytes] = {"trust/bundle.pem": trust_pem}
    times: dict[str, datetime] = {}
    total = Decimal("0.00")
    for row in rows:
        receipt = parse_receipt_xml(row.xml)
        stem = f"{row.code}-{row.number:010d}"
        # XAdES-T where the receipt has a time-stamp; the PDF and the metadata keep the receipt
        # as issued (docs/formats.md, "Archives and time-stamps").
        files[f"receipts/{stem}.xml"] = stamped_xml(row.xml, tokens.get((row.code, row.number)))
        times[f"receipts/{stem}.xml"] = receipt.issued_at
        files[f"pdf/{stem}.pdf"] = render(row.xml)
        files[f"metadata/{stem}.xml"] = _metadata(
            receipt, row, reds.get((row.code, row.number)), now
        )
        total += receipt.total
    files = _with_generic_check(files, times, trust_pem, signer.org_code, label, now)
    packages = [_package(signer, org_name, "main", label, months, now, files, len(rows), total, ())]
    if amended:
        packages.append(
            _supplementary(signer, org_name, label, months, now, trust_pem, amended, tokens)
        )
    _record_archives(db, signer, label, months, now, packages)
    return packages


def _check_archivable(session: Any, months: list[str]) -> None:
    """Every month closed, none archived already."""
    closed = {p.period for p in session.scalars(select(PeriodClose))}
    open_months = [m for m in months if m not in closed]
    if open_months:
        raise InvalidInput(
            f"period {open_months[0]} is open: close it first (receipts "
            f"period close {open_months[0]}); only closed periods are archived"
        )
    done = {
        m
        for a in session.scalars(select(Archive).where(Archive.kind == "main"))
        for m in a.months.split(",")
    }
    if done & set(months):
        raise InvalidInput(f"{sorted(done & set(months))[0]} is archived already")


def _period_receipts(
    session: Any, me: str, months: list[str]
) -> tuple[
    list[ReceiptRow],
    dict[tuple[str, int], ReceiptRow],
    list[tuple[ReceiptRow, ReceiptRow, str]],
]:
    """This federation's receipts of ``months`` in number order; every reversal by original;
    and (original, red receipt, main archive digest) for each red receipt of ``months`` whose
    original lies in a period archived before."""
    rows = list(
        session.scalars(
            select(ReceiptRow)
            .where(ReceiptRow.issuer == me, ReceiptRow.period.in_(months))
            .order_by(ReceiptRow.code, ReceiptRow.number)
        )
    )
    reds = _reversals(session)
    archived_in = _archived_months(session)
    amended: list[tuple[ReceiptRow, ReceiptRow, str]] = []
    for red in rows:
        if red.original_code is None or red.original_number is None:
            continue
        original = receipt_row(session, red.original_code, red.original_number)
        if original is not None and original.period in archived_in:
            amended.append((original, red, archived_in[original.period]))
    return rows, reds, amended


def _supplementary(
    signer: ReceiptSigner,
    org_name: str,
    label: str,
    months: list[str],
    now: datetime,
    trust_pem: bytes,
    amended: list[tuple[ReceiptRow, ReceiptRow, str]],
    tokens: dict[tuple[str, int], bytes],
) -> ArchivePackage:
    """The amended metadata of receipts archived before, with the red receipts that amend them
    (time-stamped where they have a time-stamp)."""
    extra: dict[str, bytes] = {"trust/bundle.pem": trust_pem}
    times: dict[str, datetime] = {}
    for original, red, _ in amended:
        stem = f"{original.code}-{original.number:010d}"
        extra[f"metadata/{stem}.xml"] = _metadata(
            parse_receipt_xml(original.xml), original, red, now
        )
        extra[f"receipts/{red.code}-{red.number:010d}.xml"] = stamped_xml(
            red.xml, tokens.get((red.code, red.number))
        )
        times[f"receipts/{red.code}-{red.number:010d}.xml"] = red.issued_at
    extra = _with_generic_check(extra, times, trust_pem, signer.org_code, label, now)
    amends = tuple(sorted({digest for _, _, digest in amended}))
    return _package(
        signer,
        org_name,
        "supplementary",
        label,
        months,
        now,
        extra,
        len(amended),
        Decimal("0.00"),
        amends,
    )


def _with_generic_check(
    files: dict[str, bytes],
    times: dict[str, datetime],
    trust_pem: bytes,
    org: str,
    label: str,
    now: datetime,
) -> dict[str, bytes]:
    """``files`` with the roots one per file, ``SHA256SUMS``, ``SIGNING-TIMES`` and the
    ``README.txt`` that checks them with generic tools (receipts/archive/generic_check.py)."""
    roots = TrustBundle.from_pem(trust_pem).roots
    files = {**files, **root_files(roots)}
    return {**files, **generic_check_files(files, times, roots, now, org, label)}


def _software(root: etree._Element) -> None:
    """The product's version and the rendering libraries' versions (issue 18, item 5)."""
    software = etree.SubElement(
        root, _A + "Software", product="union-dues-receipts", version=__version__
    )
    for name in RENDERING_LIBRARIES:
        try:
            found = version(name)
        except PackageNotFoundError:
            continue
        etree.SubElement(software, _A + "Library", name=name, version=found)
    etree.SubElement(software, _A + "Library", name="zlib", version=zlib.ZLIB_RUNTIME_VERSION)


def _record_archives(
    db: Database,
    signer: ReceiptSigner,
    label: str,
    months: list[str],
    now: datetime,
    packages: list[ArchivePackage],
) -> None:
    """An ``archive.created`` event and an archive row per package; the chain head signed."""
    with db.write() as (session, state):
        for package in packages:
            event = append_event(
                session,
                state,
                "archive.created",
                {
                    "label": label,
                    "months": months,
                    "kind": package.kind,
                    "digest": package.digest,
                    "receipts": package.receipts,
                },
                now,
            )
            session.flush()
            session.add(
                Archive(
                    label=label,
                    months=",".join(months),
                    kind=package.kind,
                    digest=package.digest,
                    created_at=now,
                    receipts=package.receipts,
                    event_seq=event.seq,
                )
            )
        sign_head(session, state, signer)


def _reversals(session: Any) -> dict[tuple[str, int], ReceiptRow]:
    return {
        (r.original_code, r.original_number): r
        for r in session.scalars(select(ReceiptRow).where(ReceiptRow.original_code.is_not(None)))
        if r.original_code is not None and r.original_number is not None
    }


def _archived_months(session: Any) -> dict[str, str]:
    """Month → digest of the main archive holding it."""
    return {
        m: a.digest
        for a in session.scalars(select(Archive).where(Archive.kind == "main"))
        for m in a.months.split(",")
    }


def _package(
    signer: ReceiptSigner,
    org_name: str,
    kind: str,
    label: str,
    months: list[str],
    now: datetime,
    files: dict[str, bytes],
    count: int,
    total: Decimal,
    amends: tuple[str, ...],
) -> ArchivePackage:
    nsmap: Any = {None: ARCHIVE_NS}
    root = etree.Element(_A + "ArchiveManifest", nsmap=nsmap, version="1")
    etree.SubElement(root, _A + "OrgCode").text = signer.org_code
    etree.SubElement(root, _A + "OrgName").text = org_name
    etree.SubElement(root, _A + "Kind").text = kind
    etree.SubElement(root, _A + "Period").text = label
    for month in months:
        etree.SubElement(root, _A + "Month").text = month
    etree.SubElement(root, _A + "CreatedAt").text = now.isoformat()
    last_year = int(months[-1][:4])
    etree.SubElement(root, _A + "RetainUntil").text = date(
        last_year + RETENTION_YEARS, 12, 31
    ).isoformat()
    etree.SubElement(root, _A + "Receipts", count=str(count), total=format_amount(total))
    for digest in amends:
        etree.SubElement(root, _A + "Amends", archive=digest)
    for name in sorted(files):
        etree.SubElement(
            root,
            _A + "File",
            path=name,
            sha256=hashlib.sha256(files[name]).hexdigest(),
            bytes=str(len(files[name])),
        )
    _software(root)
    manifest = signer.sign_document(root, now)
    data = write_zip({**files, "manifest.xml": manifest})
    return ArchivePackage(kind, data, hashlib.sha256(manifest).hexdigest(), count)


def _metadata(
    receipt: Receipt, row: ReceiptRow, reversed_by: ReceiptRow | None, now: datetime
) -> bytes:
    root = metadata_element(receipt, row.digest, reversed_by, now)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def metadata_element(
    receipt: Receipt, digest: str, reversed_by: ReceiptRow | None, now: datetime
) -> etree._Element:
    """The metadata record of a receipt as of ``now``."""
    nsmap: Any = {None: ARCHIVE_NS}
    root = etree.Element(_A + "ReceiptMetadata", nsmap=nsmap, version="1")
    payer_id = receipt.payer.uscc or receipt.payer.other_id
    fields: list[tuple[str, str | None]] = [
        ("BillType", BILL_TYPE),
        ("Code", receipt.code),
        ("Number", receipt.formatted_number),
        ("CheckCode", receipt.check_code),
        ("Kind", receipt.kind.value),
        ("IssuedAt", receipt.issued_at.isoformat()),
        ("IssuerCode", receipt.issuer.code),
        ("IssuerName", receipt.issuer.name),
        ("PayerName", receipt.payer.name),
        ("PayerKind", receipt.payer.kind.value),
        ("PayerId", payer_id),
        ("TotalAmount", format_amount(receipt.total)),
        ("TotalCapitals", receipt.capitals),
        ("Status", "reversed" if reversed_by is not None else "issued"),
        ("StatusAt", now.isoformat()),
    ]
    for name, value in fields:
        if value is not None:
            etree.SubElement(root, _A + name).text = value
    if receipt.original is not None:
        etree.SubElement(
            root,
            _A + "Reverses",
            code=receipt.original.code,
            number=f"{receipt.original.number:010d}",
        )
    if reversed_by is not None:
        etree.SubElement(
            root, _A + "ReversedBy", code=reversed_by.code, number=f"{reversed_by.number:010d}"
        )
    etree.SubElement(root, _A + "XmlSha256").text = digest
    etree.SubElement(root, _A + "RetentionYears").text = str(RETENTION_YEARS)
    return root
