"""What a verification found, as data (errors-as-values: a batch reports every problem).

Finding codes are stable: callers, tests and ``--json`` output match on them, never on messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography import x509
from lxml import etree

from signing.xmlparse import parse_untrusted

__all__ = ["Finding", "FindingCode", "SignedDocument", "VerificationResult"]


class FindingCode(StrEnum):
    """Every code a verification can report; the value is the stable string."""

    MALFORMED_XML = "malformed-xml"
    """The bytes are not well-formed XML (a truncated file, say)."""
    UNSAFE_XML = "unsafe-xml"
    """A DOCTYPE, entities or an oversized document: refused before anything reads it."""
    NO_SIGNATURE = "no-signature"
    """No ds:Signature in the document."""
    MULTIPLE_SIGNATURES = "multiple-signatures"
    """More than one ds:Signature: the one to trust would be ambiguous."""
    SIGNATURE_WRAPPING = "signature-wrapping"
    """The signature's shape is not the one we produce: misplaced, extra or redirected references,
    duplicated Ids, extra objects. Refused before any content is trusted."""
    SHA1_REFUSED = "sha1-refused"
    """A SHA-1 digest or signature method appears in the signature."""
    UNSUPPORTED_ALGORITHM = "unsupported-algorithm"
    """An algorithm other than ECDSA-SHA256/RSA-SHA256, SHA-256 and XML canonicalisation."""
    MALFORMED_SIGNATURE = "malformed-signature"
    """A required part is missing or unreadable (certificates, SigningTime)."""
    UNTRUSTED_CERTIFICATE = "untrusted-certificate"
    """The signer's certificate does not chain to a trusted root."""
    CERTIFICATE_OUTSIDE_TIER = "certificate-outside-tier"
    """A certificate in the chain was certified by a CA whose organisation may not certify it
    (another province's CA, or the root certifying a signing certificate below a province)."""
    EXPIRED_AT_SIGNING = "expired-at-signing"
    """A certificate in the chain had expired at the signing time."""
    NOT_YET_VALID_AT_SIGNING = "not-yet-valid-at-signing"
    """A certificate in the chain was not yet valid at the signing time."""
    SIGNING_TIME_IN_FUTURE = "signing-time-in-future"
    """The claimed signing time lies after the verification time."""
    REVOKED = "revoked"
    """A certificate in the chain was revoked at or before the signing time."""
    REVOCATION_UNKNOWN = "revocation-unknown"
    """No CRL from a certificate's issuer is known (only when CRLs are required)."""
    BAD_KEY_USAGE = "bad-key-usage"
    """The signer's certificate is not a signing certificate (KeyUsage, BasicConstraints)."""
    WRONG_SIGNER_ORG = "wrong-signer-org"
    """The signer's org code is not the expected issuer's."""
    DIGEST_MISMATCH = "digest-mismatch"
    """Signed content was changed after signing."""
    SIGNATURE_INVALID = "signature-invalid"
    """The signature value does not verify with the signer's key."""
    TIMESTAMP_INVALID = "timestamp-invalid"
    """The signature's time-stamp (XAdES-T) does not verify: unreadable, over another signature
    value, badly signed, or from a certificate that is not a trusted time-stamping one."""
    SIGNING_TIME_BACKDATED = "signing-time-backdated"
    """The claimed signing time lies further before the signature's time-stamp than the
    tolerance allows: the signature may have been made later and backdated."""
    TIMESTAMP_BEFORE_SIGNING = "timestamp-before-signing"
    """The signature's time-stamp is earlier than its claimed signing time (beyond clock skew):
    a signature cannot be time-stamped before it exists."""


@dataclass(frozen=True)
class Finding:
    """One problem a verification found."""

    code: str
    """A stable :class:`FindingCode` value, such as ``digest-mismatch``."""

    message: str
    """One readable sentence saying what is wrong and where."""

    @classmethod
    def of(cls, code: FindingCode, message: str) -> Finding:
        """A finding with ``code``'s string value."""
        return cls(code.value, message)


class SignedDocument:
    """The document a valid signature covers, as its verifier handed it over: its canonical
    bytes (the strict verifier's digest input), parsed the first time a caller reads
    :attr:`root`, or the tree signxml already parsed. The strict verifier may hand over, with
    the bytes, a way to its own verified tree (``tree``: called once, on the first read of
    :attr:`root`; None when that tree cannot stand for the bytes, which are then parsed):
    :func:`signing.strict_verify.detached_document`.

    Parsing on first use, not in the verifier, because many callers never read the tree (a
    batch or an import that only needs the verdict ships bytes between processes), and the
    parse cost a sixth of a strict verification (issue 19); so is the verified tree detached on
    first use only. The strict verifier refuses before it answers valid whatever would make
    this parse fail (:mod:`signing.strict_verify`), so :attr:`root` does not raise for a valid
    result.
    """

    __slots__ = ("_data", "_root", "_tree")

    def __init__(
        self,
        *,
        data: bytes | None = None,
        root: etree._Element | None = None,
        tree: Callable[[], etree._Element | None] | None = None,
    ) -> None:
        if (data is None) == (root is None) or (tree is not None and data is None):
            raise ValueError("a signed document is given as bytes (and its tree) or as a tree")
        self._data = data
        self._root = root
        self._tree = tree

    @property
    def root(self) -> etree._Element:
        """The signed document's root element (no signature, no comments, nothing unsigned):
        the verifier's tree when it can be handed over, else the bytes parsed hardened, once."""
        if self._root is None:
            assert self._data is not None  # the constructor guarantees one of the two
            tree, self._tree = self._tree, None
            handed = None if tree is None else tree()
            self._root = (
                parse_untrusted(self._data, max_bytes=len(self._data)) if handed is None else handed
            )
        return self._root

    @property
    def data(self) -> bytes:
        """Bytes that parse to :attr:`root`: the canonical form, or the tree serialised."""
        if self._data is None:
            assert self._root is not None
            self._data = etree.tostring(self._root)
        return self._data


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of verifying one signed XML document."""

    valid: bool
    """True only when nothing was found: the signature verifies, the chain was valid and not
    revoked at the signing time, and the signer is the expected organisation."""

    findings: tuple[Finding, ...]
    """Every problem found; empty when ``valid``."""

    signer: x509.Certificate | None
    """The signing certificate from KeyInfo, when one could be read (even if not trusted)."""

    signing_time: datetime | None
    """The XAdES SigningTime, when one could be read: the signer's own claim."""

    signed: SignedDocument | None = None
    """The signed document (signature removed, canonical form), only when ``valid``."""

    @property
    def signed_root(self) -> etree._Element | None:
        """The document root as the verifier checked it (signature removed, canonical form),
        only when ``valid``: read receipt data from here, never from the bytes handed in."""
        return None if self.signed is None else self.signed.root

    @property
    def codes(self) -> tuple[str, ...]:
        """The findings' codes, in order."""
        return tuple(finding.code for finding in self.findings)
