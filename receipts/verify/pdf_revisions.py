"""What a PAdES-signed receipt PDF may hold besides its rendering (``docs/security.md``).

A signature vouches for its whole revision, so a signer could draw over the page in the very
update it signs (or in an update just before it) and the signature would still cover the whole
file. Verification therefore accepts exactly two revisions: the rendered PDF, byte for byte,
then one update that adds the signature and nothing else. What the update changes is judged by
pyHanko's difference analysis, the rules pyHanko applies to updates after a signature, run here
from the rendered revision to the signed one and narrowed to what ``render --sign-pdf`` writes:
an invisible signature field, its widget in the page's annotations, the form, the catalog's
``/Version`` and ``/Extensions``, a DSS. Page content, resources, other annotations or fields,
the attachment, the XMP (it records the layout version) and the document information are
refused. An update after the signature is refused whatever it holds.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from receipts.findings import Finding, FindingCode

__all__ = ["revision_findings"]

# pyHanko's signer sets SignaturesExist | AppendOnly (PDF 32000 §12.7.2) in the form it adds.
_SIG_FLAGS = 3
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*\Z")


def revision_findings(reader: Any, signature: Any, rendered: bytes) -> list[Finding]:
    """Findings on the revisions of a PDF that starts with ``rendered`` and carries the one
    ``signature`` (a pyHanko ``EmbeddedPdfSignature`` read by ``reader``); empty when the
    signature's revision adds only the signature to the rendered PDF and nothing follows it."""
    revisions = reader.xrefs.total_revisions
    signed = signature.signed_revision
    if signed < revisions - 1:
        later = revisions - 1 - signed
        return [
            Finding(
                FindingCode.PDF_UPDATED_AFTER_SIGNATURE,
                f"the PDF was updated {later} time(s) after it was signed: what it shows may "
                "not be what was signed",
            )
        ]
    found = _STARTXREF.search(rendered[-1024:])
    if (
        signed != 1
        or found is None
        or reader.xrefs.get_startxref_for_revision(0) != int(found.group(1))
    ):
        return [
            _mismatch(
                "the PDF was changed between rendering and signing "
                f"({signed - 1} update(s) before the signed one)"
                if signed > 1
                else "the signature is not over the rendered PDF"
            )
        ]
    return _signed_update_findings(reader, signature)


def _signed_update_findings(reader: Any, signature: Any) -> list[Finding]:
    """The signed revision (1) against the rendered one (0), by pyHanko's diff rules."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification
    from pyhanko.sign.diff_analysis.rules import form_field_rules

    fields: Any = form_field_rules  # untyped

    try:
        result = _policy().apply(_base_revision(reader), reader.get_historical_resolver(1))
        visible = fields.is_field_visible(signature.sig_field)
    except SuspiciousModification as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [_mismatch(f"the signed update changes more than a signature adds: {first}")]
    # A hostile file can drive pyHanko's analysis into any of these (NotImplementedError for
    # constructs it does not model): what cannot be analysed is refused, never trusted.
    except (PdfError, ValueError, KeyError, TypeError, AttributeError, NotImplementedError) as exc:
        return [_mismatch(f"the signed update cannot be analysed: {exc}")]
    extra = sorted(result.changed_form_fields - {signature.field_name})
    if result.modification_level > ModificationLevel.FORM_FILLING or extra:
        return [_mismatch(f"the signed update also fills form fields {extra}")]
    if visible:
        return [_mismatch("the signature is drawn on the page (a visible signature field)")]
    return []


def _mismatch(what: str) -> Finding:
    return Finding(FindingCode.PDF_CONTENT_MISMATCH, what)


@functools.cache
def _policy() -> Any:
    """pyHanko's standard policy without what our signer never changes: the XMP and document
    information stay as rendered (``receipts.render.pades``), and the only fields are
    signatures."""
    from pyhanko.sign import diff_analysis

    rules: Any = diff_analysis  # untyped
    lta = rules.ModificationLevel.LTA_UPDATES
    return rules.StandardDiffPolicy(
        global_rules=[
            # /Metadata must stay the rendered stream: it is not among the keys allowed to change.
            rules.CatalogModificationRule(
                ignored_keys=frozenset({"/AcroForm", "/DSS", "/Extensions", "/Version"})
            ),
            rules.XrefStreamRule().as_qualified(lta),
            rules.ObjectStreamRule().as_qualified(lta),
            rules.DSSCompareRule().as_qualified(lta),
        ],
        form_rule=rules.FormUpdatingRule(
            field_rules=[rules.SigFieldCreationRule(), rules.SigFieldModificationRule()]
        ),
    )


def _base_revision(reader: Any) -> Any:
    """The rendered revision as pyHanko's rules expect a base to be: they compare the form of
    the signed revision with the base's, and a rendered receipt has none, which is the same
    document as an empty form. So the catalog is seen with an empty one."""
    from pyhanko.pdf_utils import generic as pdf_objects
    from pyhanko.pdf_utils.reader import HistoricalResolver

    generic: Any = pdf_objects  # untyped

    class RenderedRevision(HistoricalResolver):
        def __init__(self) -> None:
            super().__init__(reader, 0)
            self._root_ref = self.trailer_view.raw_get("/Root").reference
            self._root: Any = None

        def get_object(self, ref: Any, as_metadata_stream: bool = False) -> Any:
            found = super().get_object(ref, as_metadata_stream)
            if ref != self._root_ref or "/AcroForm" in found:
                return found
            if self._root is None:
                root = generic.DictionaryObject(found)
                root[generic.NameObject("/AcroForm")] = generic.DictionaryObject(
                    {
                        generic.NameObject("/Fields"): generic.ArrayObject(),
                        generic.NameObject("/SigFlags"): generic.NumberObject(_SIG_FLAGS),
                    }
                )
                self._root = root
            return self._root

    return RenderedRevision()
