"""What a receipt PDF may hold besides its one page (``docs/security.md``, "A receipt PDF").

A reader shows more than a page's content stream: annotations and form fields are drawn over
it, JavaScript and actions run, optional content hides or shows parts of it, XObjects and
further pages add to it, and an incremental update replaces any object. A receipt PDF as
rendered has none of these: one page of text and paths in embedded fonts, the attached XML,
the XMP metadata and an output intent. So the catalog, the page and its resources are read
against the short list of what rendering writes, and anything else is reported.
"""

from __future__ import annotations

from typing import Any

from receipts.findings import Finding, FindingCode
from receipts.render.page import Layout
from receipts.render.pdfa import ATTACHMENT_NAME

__all__ = ["structure_findings"]

#: Catalog entries a rendered receipt has (or that tools re-saving it may add harmlessly).
_CATALOG = frozenset(
    {
        "/Type",
        "/Pages",
        "/Names",
        "/Metadata",
        "/PageMode",
        "/PageLayout",
        "/AF",
        "/OutputIntents",
        "/Lang",
        "/Version",
        "/Extensions",
        "/MarkInfo",
        "/ViewerPreferences",
    }
)
#: Catalog entries that make a reader show or run something else.
_INTERACTIVE_CATALOG = frozenset(
    {"/AcroForm", "/OpenAction", "/AA", "/OCProperties", "/URI", "/Threads", "/Collection"}
)
_PAGE = frozenset(
    {"/Type", "/Parent", "/Resources", "/Contents", "/MediaBox", "/CropBox", "/Rotate", "/Trans"}
)
_INTERACTIVE_PAGE = frozenset({"/Annots", "/AA"})
_RESOURCES = frozenset({"/Font", "/ProcSet"})
_BOX_TOLERANCE = 0.01


def structure_findings(pdf: Any, layout: Layout) -> list[Finding]:
    """Findings on a pikepdf ``Pdf`` that is to be one rendered revision of a receipt page
    drawn with ``layout``."""
    findings: list[Finding] = []
    if "/Prev" in pdf.trailer:
        findings.append(
            Finding(
                FindingCode.PDF_INCREMENTAL_UPDATE,
                "the PDF was updated after it was rendered (an incremental update that is not "
                "one PAdES signature): any object of the page may have been replaced",
            )
        )
    root = pdf.Root
    for key in sorted(set(root.keys()) - _CATALOG):
        code = (
            FindingCode.PDF_INTERACTIVE_CONTENT
            if key in _INTERACTIVE_CATALOG
            else FindingCode.PDF_OVERLAY
        )
        findings.append(Finding(code, f"the PDF's catalog has {key}, which no receipt has"))
    names = root.get("/Names")
    if names is not None:
        for key in sorted(set(names.keys()) - {"/EmbeddedFiles"}):
            findings.append(
                Finding(
                    FindingCode.PDF_INTERACTIVE_CONTENT,
                    f"the PDF's name dictionary has {key} (JavaScript, destinations or other "
                    "names no receipt has)",
                )
            )
    findings.extend(_attachment_findings(root))
    pages = pdf.pages
    if len(pages) != 1:
        findings.append(
            Finding(FindingCode.PDF_OVERLAY, f"the PDF has {len(pages)} pages; a receipt has one")
        )
    if len(pages):
        findings.extend(_page_findings(pages[0].obj, layout))
    return findings


def _attachment_findings(root: Any) -> list[Finding]:
    """One attached file, ``receipt.xml``, and the catalog's associated files that one alone:
    a second attachment (another genuine receipt's XML), or the name twice, left what a viewer
    or ``pdfdetach`` extracts first to be another receipt than the one verified."""
    names = root.get("/Names")
    tree = names.get("/EmbeddedFiles") if names is not None else None
    entries = _name_tree_entries(tree, 0) if tree is not None else []
    if [name for name, _ in entries] != [ATTACHMENT_NAME]:
        shown = ", ".join(repr(name) for name, _ in entries[:3]) or "none"
        many = f" and {len(entries) - 3} more" if len(entries) > 3 else ""
        return [
            Finding(
                FindingCode.INVALID_PDF,
                f"the PDF's attached files are {shown}{many}; a receipt carries one, "
                f"{ATTACHMENT_NAME}",
            )
        ]
    associated = root.get("/AF")
    spec = entries[0][1]
    if associated is not None and (
        len(associated) != 1 or associated[0].objgen != spec.objgen or spec.objgen == (0, 0)
    ):
        return [
            Finding(
                FindingCode.INVALID_PDF,
                f"the PDF's associated files (/AF) are not its one attachment, {ATTACHMENT_NAME}",
            )
        ]
    return []


def _name_tree_entries(node: Any, depth: int) -> list[tuple[str, Any]]:
    """Every (name, value) of a name tree as stored, a name given twice twice (a reader's
    look-up finds one of them; which one differs between readers)."""
    if depth > _NAME_TREE_DEPTH:
        return [("(a name tree deeper than a receipt's)", None)] * 2
    stored = node.get("/Names")
    pairs = list(stored) if stored is not None else []
    entries = [(str(key), value) for key, value in zip(pairs[::2], pairs[1::2], strict=False)]
    for kid in node.get("/Kids") or []:
        entries.extend(_name_tree_entries(kid, depth + 1))
    return entries


_NAME_TREE_DEPTH = 4


def _page_findings(page: Any, layout: Layout) -> list[Finding]:
    findings: list[Finding] = []
    for key in sorted(set(page.keys()) - _PAGE):
        code = (
            FindingCode.PDF_INTERACTIVE_CONTENT
            if key in _INTERACTIVE_PAGE
            else FindingCode.PDF_OVERLAY
        )
        what = "annotations (drawn over the page)" if key == "/Annots" else key
        findings.append(Finding(code, f"the page has {what}, which no receipt page has"))
    width, height = layout.pagesize
    expected = (0.0, 0.0, width, height)
    for box in ("/MediaBox", "/CropBox"):
        value = page.get(box)
        if box == "/CropBox" and value is None:
            continue
        if not _same_box(value, expected):
            findings.append(
                Finding(FindingCode.PDF_OVERLAY, f"the page's {box} is not the layout's page")
            )
    if int(page.get("/Rotate", 0)) != 0:
        findings.append(Finding(FindingCode.PDF_OVERLAY, "the page is rotated"))
    resources = page.get("/Resources")
    keys = set(resources.keys()) if resources is not None else set()
    for key in sorted(keys - _RESOURCES):
        findings.append(
            Finding(
                FindingCode.PDF_OVERLAY,
                f"the page's resources have {key} (XObjects, patterns, graphics states or "
                "properties no receipt page uses)",
            )
        )
    return findings


def _same_box(value: Any, expected: tuple[float, ...]) -> bool:
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return False
    return len(numbers) == 4 and all(
        abs(a - b) <= _BOX_TOLERANCE for a, b in zip(numbers, expected, strict=True)
    )
