"""Every finding code the product reports, with its meaning: the one closed set.

A finding is a problem (or, for a few codes, a fact) that a check reports as data instead of
raising: verification of receipts, PDFs and archives, the ledger audit, and reconciliation
between tiers, with the bank and of stock. The code strings are the ``--json`` contract:
scripts match on them, never on messages, so a code is never renamed or reused for another
meaning. ``docs/finding-codes.md`` lists them with who reports each and what it does to the
exit code; a test keeps that list, this enum and the literal set in the test equal.

The signature checks of :mod:`signing` report codes of their own (:class:`signing.result.
FindingCode`, since ``signing`` knows nothing of this package); every one of them is also a
member here, and :mod:`receipts.verify` turns signing findings into these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Self

__all__ = ["Finding", "FindingCode"]


class FindingCode(StrEnum):
    """A stable finding code; the value is the string in ``--json`` output, ``meaning`` says
    what it reports."""

    meaning: str
    """One sentence: what the code reports."""

    # ``meaning`` has a default only because type checkers see this signature for value look-ups
    # such as ``FindingCode("seal-invalid")`` too; at run time those never reach it.
    def __new__(cls, value: str, meaning: str = "") -> Self:
        if not meaning:
            raise ValueError(f"finding code {value!r} needs a meaning")
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    # --- the XML signature (reported by signing, surfaced by verification) ----------------
    MALFORMED_XML = "malformed-xml", "The bytes are not well-formed XML (a truncated file, say)."
    UNSAFE_XML = (
        "unsafe-xml",
        "A DOCTYPE, entities or an oversized document: refused before anything reads it.",
    )
    NO_SIGNATURE = "no-signature", "The document carries no XML signature."
    MULTIPLE_SIGNATURES = (
        "multiple-signatures",
        "More than one XML signature: the one to trust would be ambiguous.",
    )
    SIGNATURE_WRAPPING = (
        "signature-wrapping",
        "The signature's shape is not the one this product produces (misplaced, extra or "
        "redirected references, duplicated Ids, extra objects): refused before any content "
        "is trusted.",
    )
    SHA1_REFUSED = "sha1-refused", "A SHA-1 digest or signature method appears in the signature."
    UNSUPPORTED_ALGORITHM = (
        "unsupported-algorithm",
        "An algorithm other than ECDSA-SHA256 or RSA-SHA256, SHA-256 and XML canonicalisation.",
    )
    MALFORMED_SIGNATURE = (
        "malformed-signature",
        "A required part of the signature is missing or unreadable (certificates, SigningTime).",
    )
    UNTRUSTED_CERTIFICATE = (
        "untrusted-certificate",
        "The signer's certificate does not chain to a trusted root.",
    )
    CERTIFICATE_OUTSIDE_TIER = (
        "certificate-outside-tier",
        "A certificate in the chain was certified by a CA whose organisation may not certify it "
        "(another province's CA, say).",
    )
    EXPIRED_AT_SIGNING = (
        "expired-at-signing",
        "A certificate in the chain had expired at the signing time.",
    )
    NOT_YET_VALID_AT_SIGNING = (
        "not-yet-valid-at-signing",
        "A certificate in the chain was not yet valid at the signing time.",
    )
    SIGNING_TIME_IN_FUTURE = (
        "signing-time-in-future",
        "The claimed signing time lies after the verification time.",
    )
    REVOKED = "revoked", "A certificate in the chain was revoked at or before the signing time."
    REVOCATION_UNKNOWN = (
        "revocation-unknown",
        "No CRL from a certificate's issuer is known (only when CRLs are required).",
    )
    BAD_KEY_USAGE = (
        "bad-key-usage",
        "The signer's certificate is not a signing certificate (KeyUsage, BasicConstraints).",
    )
    WRONG_SIGNER_ORG = (
        "wrong-signer-org",
        "The document (XML or PDF) was signed with another organisation's certificate than "
        "its issuer's.",
    )
    DIGEST_MISMATCH = "digest-mismatch", "Signed content was changed after signing."
    SIGNATURE_INVALID = (
        "signature-invalid",
        "The signature value does not verify with the signer's key.",
    )
    TIMESTAMP_INVALID = (
        "timestamp-invalid",
        "The signature's time-stamp does not verify: unreadable, over another signature value, "
        "badly signed, or not from a trusted time-stamping certificate.",
    )
    SIGNING_TIME_BACKDATED = (
        "signing-time-backdated",
        "The claimed signing time lies further before the signature's time-stamp than the "
        "tolerance allows: the signature may have been made later and backdated.",
    )
    TIMESTAMP_BEFORE_SIGNING = (
        "timestamp-before-signing",
        "The signature's time-stamp is earlier than its claimed signing time, beyond clock skew.",
    )

    # --- the receipt and its QR seal -----------------------------------------------------
    INVALID_RECEIPT = (
        "invalid-receipt",
        "The signed XML is not a valid receipt (its schema or the receipt's rules).",
    )
    SIGNING_TIME_MISMATCH = (
        "signing-time-mismatch",
        "The signature's signing time is not the receipt's issue time.",
    )
    SEAL_MISSING = "seal-missing", "The receipt carries no QR seal."
    SEAL_INVALID = (
        "seal-invalid",
        "The QR seal does not verify (the printed QR code would not match the receipt), or "
        "the signing key's type cannot seal.",
    )
    SEAL_KEY_MISMATCH = (
        "seal-key-mismatch",
        "The QR seal names another key than the one the receipt was signed with.",
    )
    UNKNOWN_KEY = (
        "unknown-key",
        "A scanned QR text names an issuer and key id the trust bundle has no signing "
        "certificate for.",
    )

    # --- the receipt PDF -----------------------------------------------------------------
    INVALID_PDF = (
        "invalid-pdf",
        "No receipt XML can be extracted from the PDF, or its signed update cannot be read.",
    )
    RENDER_FAILED = (
        "render-failed",
        "The attached XML cannot be rendered with the layout version the PDF records.",
    )
    PDF_CONTENT_MISMATCH = (
        "pdf-content-mismatch",
        "The PDF is not what its attached XML renders to, or it was changed after it was "
        "signed: an edited page, metadata or attachment, or a signed update that adds more "
        "than its signature (page content, annotations, a visible signature).",
    )
    PADES_INVALID = "pades-invalid", "The PDF's PAdES signature does not validate."
    PDF_UPDATED_AFTER_SIGNATURE = (
        "pdf-updated-after-signature",
        "The PDF carries an update after its PAdES signature: what it shows may not be what "
        "was signed.",
    )
    PDF_TEXT_MISMATCH = (
        "pdf-text-mismatch",
        "The text on the PDF's page (read through its fonts' Unicode maps) is not, field by "
        "field and place by place, what its layout prints for the attached XML.",
    )
    PDF_QR_MISMATCH = (
        "pdf-qr-mismatch",
        "The QR code on the PDF's page is missing, misplaced or does not decode to the "
        "attached XML's QR seal.",
    )
    PDF_OVERLAY = (
        "pdf-overlay",
        "The PDF's page draws something its layout does not (graphics, XObjects, another page "
        "or page box), or its content cannot be read as a layout writes it.",
    )
    PDF_INTERACTIVE_CONTENT = (
        "pdf-interactive-content",
        "The PDF carries annotations, form fields, JavaScript, actions or optional content "
        "(other than one PAdES signature field).",
    )
    PDF_INCREMENTAL_UPDATE = (
        "pdf-incremental-update",
        "The PDF carries an incremental update other than one PAdES signature.",
    )
    PDF_FONT_NOT_EMBEDDED = (
        "pdf-font-not-embedded",
        "A font of the PDF's page is not an embedded TrueType font as rendering writes it (one "
        "program, one character map, no encoding), or has no readable Unicode map or program.",
    )
    PDF_FONT_GLYPH_MISMATCH = (
        "pdf-font-glyph-mismatch",
        "An embedded font draws a digit or a character of amounts in capitals with another "
        "glyph, or gives a character another width, than the reference font.",
    )

    # --- files given to verify -----------------------------------------------------------
    UNREADABLE = "unreadable", "The file cannot be read."
    EMPTY_FILE = "empty-file", "The file is empty."

    # --- verify --online: the receipt against the issuer's ledger ------------------------
    NOT_IN_LEDGER = "not-in-ledger", "The receipt verifies but is not in this ledger."
    LEDGER_MISMATCH = (
        "ledger-mismatch",
        "This ledger holds a different receipt under the same code and number.",
    )
    REVERSED = (
        "reversed",
        "The receipt verifies, but the issuer's ledger holds a red receipt cancelling it (the "
        "message names it): it no longer stands.",
    )
    LEDGER_STATUS = (
        "status",
        "Not a problem: the receipt's status in this ledger (the message says which), reported "
        "with a valid receipt.",
    )

    # --- archive packages ----------------------------------------------------------------
    ARCHIVE_INVALID = (
        "archive-invalid",
        "The archive cannot be read, or its manifest is missing, not verified, or not its "
        "organisation's.",
    )
    FILE_ADDED = "file-added", "The archive holds a file its manifest does not list."
    FILE_MISSING = "file-missing", "A file the manifest lists is not in the archive."
    FILE_ALTERED = "file-altered", "A file does not match its SHA-256 in the manifest."
    WRONG_ISSUER = (
        "wrong-issuer",
        "A main archive holds a receipt issued by another organisation than its own.",
    )
    METADATA_INVALID = (
        "metadata-invalid",
        "A receipt's metadata file is unsafe XML or does not conform to the archive schema.",
    )
    METADATA_MISMATCH = (
        "metadata-mismatch",
        "A receipt's metadata file describes another receipt (its XmlSha256 differs).",
    )

    # --- the ledger audit: the event chain and its signed heads --------------------------
    CHAIN_BROKEN = (
        "chain-broken",
        "An event is missing from the chain, or does not link to the one before (deleted, "
        "reordered or replaced).",
    )
    EVENT_ALTERED = "event-altered", "An event's hash does not match its content."
    CHAIN_TRUNCATED = (
        "chain-truncated",
        "The chain is shorter than the ledger's tip or a signed head says.",
    )
    HEAD_MISMATCH = "head-mismatch", "A signed head's hash is not the chain's at that event."
    HEAD_INVALID = (
        "head-invalid",
        "A signed head's signature does not verify, or its certificate is not the ledger's.",
    )
    UNSIGNED_TAIL = (
        "unsigned-tail",
        "Events after the last signed head carry no signature: written around the ledger.",
    )
    EVENTS_UNANCHORED = (
        "events-unanchored",
        "Events committed after the workspace had its signing key are covered by no signed "
        "head: the heads were deleted.",
    )
    RECEIPT_SIGNATURE_INVALID = (
        "receipt-signature-invalid",
        "A stored receipt's XML signature does not verify against the trust bundle: forged or "
        "altered in the ledger.",
    )
    LEDGER_BEHIND_ANCHOR = (
        "ledger-behind-anchor",
        "The ledger is behind or off the signed anchor in the workspace folder: truncated or "
        "rewritten, and a number could be issued twice.",
    )
    ANCHOR_INVALID = (
        "anchor-invalid",
        "The ledger anchor file is unreadable, or not signed by one of the workspace's own keys.",
    )
    ANCHOR_MISSING = (
        "anchor-missing",
        "There is no ledger anchor file, yet the ledger holds receipts issued here (each issue "
        "writes it): it was deleted, perhaps with a rollback of the ledger.",
    )

    # --- the ledger audit: rows re-derived from the signed XML and the events ------------
    RECEIPT_UNRECORDED = (
        "receipt-unrecorded",
        "A receipt row, or item rows, without the event that records the receipt: inserted "
        "outside the ledger.",
    )
    RECEIPT_MISSING = "receipt-missing", "A receipt was recorded by an event but its row is gone."
    RECEIPT_ALTERED = (
        "receipt-altered",
        "A receipt row's XML is not the one recorded (its digest differs), or cannot be read.",
    )
    RECEIPT_MISMATCH = (
        "receipt-mismatch",
        "A receipt row's columns or item rows differ from its signed XML.",
    )
    SEGMENT_UNRECORDED = (
        "segment-unrecorded",
        "A number segment row without the event that allocated it.",
    )
    SEGMENT_MISSING = "segment-missing", "A segment recorded by an event is gone."
    SEGMENT_MISMATCH = (
        "segment-mismatch",
        "A segment row, or its write-off status, differs from its events.",
    )
    COUNTER_MISMATCH = (
        "counter-mismatch",
        "A number counter differs from the highest number its issue events used.",
    )
    REFERENCE_MISMATCH = (
        "reference-mismatch",
        "A batch client reference row differs from the issue events.",
    )
    PERIOD_MISMATCH = (
        "period-mismatch",
        "The closed periods differ from the period-close and -reopen events, or a month was "
        "reopened when not closed or once archived.",
    )
    TRANSMISSION_MISMATCH = (
        "transmission-mismatch",
        "A held head of a tier below (peer_heads) or an incoming transmission row differs from "
        "the transmission.imported events, or one of them is missing.",
    )
    ARCHIVE_MISMATCH = (
        "archive-mismatch",
        "An archive row (label, months, kind, digest, receipt count) differs from its "
        "archive.created event, or one of the two is missing.",
    )
    BOOKING_MISMATCH = (
        "booking-mismatch",
        "A booking row, or its undo status, differs from its events.",
    )
    BOOKING_MISSING = "booking-missing", "A booking recorded by an event is gone."
    OPERATOR_MISMATCH = (
        "operator-mismatch",
        "The operators table (name, role, state, pinned key slot) differs from the operator "
        "events.",
    )
    OPERATOR_NOT_PERMITTED = (
        "operator-not-permitted",
        "An event names an operator who was never added, was disabled, or is an auditor.",
    )
    APPROVAL_MISMATCH = (
        "approval-mismatch",
        "A reversal request or a batch approval row differs from the events that recorded it "
        "(edited, inserted or deleted outside the ledger).",
    )
    PAYER_MISMATCH = (
        "payer-mismatch",
        "A payer register row or its name history differs from the payer events "
        "(edited, inserted or deleted outside the ledger).",
    )
    DELIVERY_MISMATCH = (
        "delivery-mismatch",
        "A delivery row differs from the delivery events (edited, inserted or deleted outside "
        "the ledger), or a delivery went to an address that was not the payer's registered one.",
    )
    TIMESTAMP_MISMATCH = (
        "timestamp-mismatch",
        "A receipt's stored time-stamp differs from its receipt.timestamped event (token, time), "
        "or one of the two is missing.",
    )
    TAX_COLLECTION_MISMATCH = (
        "tax-collection-mismatch",
        "A tax-collected record (税务代收) differs from the tax.imported event that imported it "
        "(edited, inserted or deleted outside the ledger).",
    )
    SHARE_MISMATCH = (
        "share-mismatch",
        "A receipt's stored shares (分成) differ from those recomputed from its signed XML, the "
        "situation its event records and the sharing table it names, or a stored sharing table "
        "differs from its digest or events.",
    )
    SETTLEMENT_MISMATCH = (
        "settlement-mismatch",
        "A settlement statement or transfer row differs from the settlement events that "
        "recorded it (edited, inserted or deleted outside the ledger).",
    )
    STATS_MISMATCH = (
        "stats-mismatch",
        "A row of the statistics' aggregates (stats_receipts, stats_lines) differs from the one "
        "recomputed from the receipt rows, or one is missing or left over: edited outside the "
        "ledger.",
    )

    # --- reconciliation between tiers -----------------------------------------------------
    TIER_MISSING = "missing", "A receipt in the other side's file, not in this ledger."
    TIER_EXTRA = "extra", "A receipt in this ledger, not in the other side's file."
    TIER_DIFFERING = (
        "differing",
        "Same code and number on both sides, another digest or amount.",
    )
    BLOCK_DIFFERS = (
        "block-differs",
        "A block differs and the file lists none of it yet: its listing is requested.",
    )
    BLOCK_ONLY_IN_FILE = (
        "block-only-in-file",
        "A block only the other side's file has, not listed yet: its listing is requested.",
    )
    INCONSISTENT_FILE = (
        "inconsistent-file",
        "The other side's file contradicts itself (a root, count, total or listing does not "
        "match its block summaries).",
    )

    # --- reconciliation with a bank statement (the status of each line) ------------------
    BANK_MATCHED = "matched", "Not a problem: a credit and the receipt(s) it pays."
    BANK_AMBIGUOUS = (
        "ambiguous",
        "A credit with more than one equally good answer: left to a person, never guessed.",
    )
    UNMATCHED_CREDIT = "unmatched-credit", "A credit no receipt explains."
    UNMATCHED_RECEIPT = "unmatched-receipt", "A receipt no credit pays."
    TAX_TRANSFER_MISSING = (
        "tax-transfer-missing",
        "A transfer the imported tax records call for, with no credit from the tax bureau.",
    )
    TAX_TRANSFER_DIFFERING = (
        "tax-transfer-differing",
        "A credit from the tax bureau of another amount than the transfer it is the only "
        "candidate for; the difference is named.",
    )
    TAX_CREDIT_UNEXPLAINED = (
        "tax-credit-unexplained",
        "A credit from the tax bureau that no imported tax records call for.",
    )
    REVERSED_EXCLUDED = (
        "reversed-excluded",
        "Not a problem: a reversed receipt of the period, left out of the matching.",
    )
    BAD_ROW = "bad-row", "A statement row that cannot be read (the message says where and why)."

    # --- reconciliation of stock (the kind of each line) ----------------------------------
    SEGMENT_OK = "segment", "Not a problem: a segment whose used numbers leave no gap."
    SEGMENT_GAPS = (
        "gaps",
        "A segment with numbers below its highest used one that no receipt holds.",
    )
    OUTSIDE_SEGMENT = (
        "outside-segment",
        "A receipt whose number lies in no segment of its issuer.",
    )


@dataclass(frozen=True)
class Finding:
    """One problem (or, for a few codes, one fact) a check found."""

    code: FindingCode
    """What was found: a stable code."""

    message: str
    """One readable sentence saying what is wrong and where."""
