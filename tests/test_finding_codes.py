"""The finding codes are the ``--json`` contract: this file, the enum and docs/finding-codes.md
must agree, so that changing the contract is a conscious edit of all three."""

from __future__ import annotations

import json
import re
from pathlib import Path

from receipts.findings import Finding, FindingCode
from receipts.verify.receipt import from_signing
from signing import result as signing_result

DOC = Path(__file__).resolve().parent.parent / "docs" / "finding-codes.md"

#: The contract, written out: adding, renaming or removing a code means editing this list.
CODES = [
    # the XML signature (also signing.result.FindingCode)
    "malformed-xml",
    "unsafe-xml",
    "no-signature",
    "multiple-signatures",
    "signature-wrapping",
    "sha1-refused",
    "unsupported-algorithm",
    "malformed-signature",
    "untrusted-certificate",
    "certificate-outside-tier",
    "expired-at-signing",
    "not-yet-valid-at-signing",
    "signing-time-in-future",
    "revoked",
    "revocation-unknown",
    "bad-key-usage",
    "wrong-signer-org",
    "digest-mismatch",
    "signature-invalid",
    "timestamp-invalid",
    "signing-time-backdated",
    "timestamp-before-signing",
    # the receipt, its QR seal, its PDF, the files given to verify, verify --online
    "invalid-receipt",
    "signing-time-mismatch",
    "seal-missing",
    "seal-invalid",
    "seal-key-mismatch",
    "unknown-key",
    "invalid-pdf",
    "render-failed",
    "pdf-content-mismatch",
    "pades-invalid",
    "pdf-updated-after-signature",
    "pdf-text-mismatch",
    "pdf-qr-mismatch",
    "pdf-overlay",
    "pdf-interactive-content",
    "pdf-incremental-update",
    "pdf-font-not-embedded",
    "pdf-font-glyph-mismatch",
    "unreadable",
    "empty-file",
    "not-in-ledger",
    "ledger-mismatch",
    "reversed",
    "status",
    # archive packages
    "archive-invalid",
    "file-added",
    "file-missing",
    "file-altered",
    "wrong-issuer",
    "metadata-invalid",
    "metadata-mismatch",
    # the ledger audit
    "chain-broken",
    "event-altered",
    "chain-truncated",
    "head-mismatch",
    "head-invalid",
    "unsigned-tail",
    "events-unanchored",
    "receipt-signature-invalid",
    "ledger-behind-anchor",
    "anchor-invalid",
    "anchor-missing",
    "receipt-unrecorded",
    "receipt-missing",
    "receipt-altered",
    "receipt-mismatch",
    "segment-unrecorded",
    "segment-missing",
    "segment-mismatch",
    "counter-mismatch",
    "reference-mismatch",
    "period-mismatch",
    "transmission-mismatch",
    "archive-mismatch",
    "booking-mismatch",
    "booking-missing",
    "operator-mismatch",
    "operator-not-permitted",
    "approval-mismatch",
    "payer-mismatch",
    "delivery-mismatch",
    "timestamp-mismatch",
    "tax-collection-mismatch",
    "share-mismatch",
    "settlement-mismatch",
    "stats-mismatch",
    # reconciliation: tiers, bank, stock
    "missing",
    "extra",
    "differing",
    "block-differs",
    "block-only-in-file",
    "inconsistent-file",
    "matched",
    "ambiguous",
    "unmatched-credit",
    "unmatched-receipt",
    "tax-transfer-missing",
    "tax-transfer-differing",
    "tax-credit-unexplained",
    "reversed-excluded",
    "bad-row",
    "segment",
    "gaps",
    "outside-segment",
]

_HEADER = "| Code | Meaning | Reported by | Exit |"
_ROW = re.compile(r"^\| `([^`]+)` \| (.+?) \| (.+?) \| (.+?) \|$")


def documented() -> list[tuple[str, str, str, str]]:
    """The rows of the code tables in docs/finding-codes.md (the tables under ``_HEADER``):
    code, meaning, reporter, exit."""
    rows: list[tuple[str, str, str, str]] = []
    in_table = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line == _HEADER:
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and not line.startswith("|---"):
            match = _ROW.match(line)
            assert match is not None, f"not a row of code | meaning | reported by | exit: {line}"
            code, meaning, reporter, exit_code = match.groups()
            rows.append((code, meaning, reporter, exit_code))
    return rows


def test_the_enum_holds_exactly_the_contract() -> None:
    assert len(CODES) == len(set(CODES))
    assert sorted(code.value for code in FindingCode) == sorted(CODES)


def test_every_code_says_what_it_means() -> None:
    for code in FindingCode:
        assert code.meaning.strip(), code
        assert code.meaning.endswith("."), code


def test_the_docs_list_every_code_with_its_meaning_once() -> None:
    rows = documented()
    codes = [code for code, *_ in rows]
    assert len(codes) == len(set(codes)), "a code is listed twice"
    assert sorted(codes) == sorted(CODES)
    for code, meaning, reporter, exit_code in rows:
        assert meaning == FindingCode(code).meaning, code
        assert reporter.strip(), code
        assert exit_code.split()[0] in {"0", "1"}, code


def test_every_signing_code_is_a_product_code() -> None:
    # verification turns every signing finding into one of ours: none may be unknown
    signing_codes = {code.value for code in signing_result.FindingCode}
    assert signing_codes <= set(CODES)
    found = [signing_result.Finding.of(code, "m") for code in signing_result.FindingCode]
    assert [f.code for f in from_signing(found)] == [c.value for c in signing_result.FindingCode]


def test_json_carries_the_bare_code_string() -> None:
    finding = Finding(FindingCode.PDF_CONTENT_MISMATCH, "changed")
    data = {"code": finding.code, "message": finding.message}
    assert json.dumps(data) == '{"code": "pdf-content-mismatch", "message": "changed"}'
    assert f"{finding.code}: {finding.message}" == "pdf-content-mismatch: changed"
