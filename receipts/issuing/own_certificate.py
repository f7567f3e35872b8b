"""Before a number is taken: is this workspace's own signing certificate still good to sign with?

A receipt signed with a revoked, expired or not-yet-valid certificate fails verification for
everyone who receives it, yet the number it took is gone (docs/security.md). So issuing, single,
batch (each chunk) and reversal, first validates the workspace's signing certificate and its
intermediates against the workspace's trust bundle and the CRLs it holds, as of the issue time:
the chain must still lead to a trusted root, no certificate in it may be revoked by then, and
each must be inside its validity window. A refusal costs no number, no receipt and no event.
"""

from __future__ import annotations

from datetime import datetime

from receipts.pki.credentials import MissingCredentials
from receipts.pki.signer import ReceiptSigner
from signing.result import FindingCode
from signing.trust import ChainValidator

__all__ = ["UnusableCertificate", "check_own_certificate"]


class UnusableCertificate(MissingCredentials):
    """The workspace's signing certificate cannot sign now: revoked, expired, not yet valid,
    or no longer chained to the trust bundle.

    Exit 2, like a missing certificate (:class:`MissingCredentials`): nothing in the
    environment failed (that would be 3) and no check the user asked for found a problem in
    their data (1); the workspace lacks a certificate it may sign with, which only a new
    certificate (``receipts pki csr``, then ``pki import-cert``) mends.
    """


def check_own_certificate(signer: ReceiptSigner, validator: ChainValidator, at: datetime) -> None:
    """Raise :class:`UnusableCertificate` unless ``signer``'s certificate chain validates
    against ``validator``'s trust bundle as of ``at`` (the issue time)."""
    result = validator.validate(signer.certificate, signer.intermediates, at=at)
    if result.ok:
        return
    finding = next(
        (f for f in result.findings if f.code == FindingCode.REVOKED.value), result.findings[0]
    )
    raise UnusableCertificate(
        f"the signing certificate cannot sign: {finding.message}; nothing was issued (a new "
        "certificate is needed: 'receipts pki csr', then 'receipts pki import-cert')"
    )
