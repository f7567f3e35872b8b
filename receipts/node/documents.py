"""The node's work on documents (docs/security.md, "The public surface"): verifying an uploaded
receipt exactly as ``receipts verify`` does, and rendering a receipt's PDF for whoever proved
they hold it (code, number and check code).

Both are blocking and CPU-bound: the routes call them in a worker thread, never on the event
loop. Rendering goes through one lock per process (the PDF library keeps fonts and caches in
module state), which also bounds the CPU one worker spends on PDFs at a time.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from decimal import Decimal

from receipts.errors import ReceiptError
from receipts.findings import Finding, FindingCode
from receipts.ledger.queries import load_receipt
from receipts.node.lookups import Details, PublicReceipt, public_lookup
from receipts.node.state import NodeState
from receipts.verify.receipt import ReceiptVerification, verify_receipt_xml

__all__ = ["UploadReport", "receipt_pdf", "verify_upload"]

logger = logging.getLogger("receipts.node")
_PDF_LOCK = threading.Lock()
_SOURCE = "upload"
"""What an upload is called in its findings (never the client's file name)."""


@dataclass(frozen=True)
class UploadReport:
    """What an upload verified to."""

    verification: ReceiptVerification
    """The findings ``receipts verify`` reports for the same bytes."""
    here: PublicReceipt | None
    """For a valid receipt, what this ledger says of it (the look-up with the receipt's own
    details); None for an invalid one."""


def verify_upload(state: NodeState, data: bytes, filename: str = "") -> UploadReport:
    """Verify an uploaded receipt (PDF or XML), already read within the size limit. Every
    problem is a finding: a hostile file (XXE, entity expansion, a Flate bomb, a truncated PDF,
    anything but a receipt) gets one, never an exception."""
    result = _verify(state, data, filename)
    here = None
    if result.valid and result.receipt is not None:
        receipt = result.receipt
        details = Details(receipt.ref, receipt.check_code, Decimal(receipt.total))
        here = public_lookup(state, details)
    return UploadReport(result, here)


def _verify(state: NodeState, data: bytes, filename: str) -> ReceiptVerification:
    if not data:
        return ReceiptVerification(
            _SOURCE, False, (Finding(FindingCode.EMPTY_FILE, "the file is empty"),)
        )
    try:
        if data.lstrip()[:5] == b"%PDF-" or filename.lower().endswith(".pdf"):
            from receipts.verify.pdf import verify_pdf

            with _PDF_LOCK:
                return verify_pdf(data, state.validator, _SOURCE, state.workspace.config.font)
        return verify_receipt_xml(data, state.validator, _SOURCE)
    except Exception:
        # verify_* turn every problem of a receipt into a finding; this is a defect's last
        # line, still an answer (logged for the operator, never shown).
        logger.exception("verifying an upload failed")
        finding = Finding(FindingCode.UNREADABLE, "the file cannot be read as a receipt")
        return ReceiptVerification(_SOURCE, False, (finding,))


def receipt_pdf(state: NodeState, details: Details) -> tuple[PublicReceipt, bytes | None]:
    """The look-up of ``details``, and when it matched, the receipt's PDF rendered from the
    signed XML as stored, in the latest layout (the same bytes for the same receipt: the
    rendering is deterministic, as ``receipts render CODE NUMBER`` writes it)."""
    answer = public_lookup(state, details)
    if not answer.found:
        return answer, None
    from receipts.render.receipt_pdf import render_pdf

    xml = load_receipt(state.db, details.ref).xml
    try:
        with _PDF_LOCK:
            return answer, render_pdf(xml, font_path=state.workspace.config.font)
    except ReceiptError as exc:
        # A stored receipt that cannot be rendered (a font without one of its characters) is
        # the node's failure, a 500, not the asker's input error.
        raise RuntimeError(f"rendering {details.ref} failed: {exc}") from exc
