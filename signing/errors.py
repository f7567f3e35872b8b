"""The signing package's errors: one root, precise subclasses (shaped like python-stdnum's).

Each class carries the CLI exit code it maps to (docs/formats.md): 1 when the work found a problem
(an invalid signature, an untrusted or revoked certificate), 2 for bad input (a wrong passphrase,
a refused certificate request, an unusable key file).
"""

from __future__ import annotations

__all__ = [
    "InvalidSignature",
    "KeyFileError",
    "PassphraseError",
    "PolicyViolation",
    "RevokedCertificate",
    "SigningError",
    "UntrustedCertificate",
    "WrongPassphrase",
]


class SigningError(Exception):
    """Root of every error the signing package raises on purpose."""

    #: CLI exit code: 1 = the check found a problem.
    exit_code = 1


class InvalidSignature(SigningError):
    """A signature (XML or QR seal) does not verify, or its structure is not one we produce."""


class UntrustedCertificate(SigningError):
    """A certificate does not chain to a trusted root, or was not valid at the time that matters."""


class RevokedCertificate(UntrustedCertificate):
    """A certificate in the chain was revoked at or before the time that matters."""


class PassphraseError(SigningError):
    """A passphrase is missing or refused (empty), so a key cannot be written or read."""

    exit_code = 2


class WrongPassphrase(PassphraseError):
    """The passphrase does not decrypt the key file."""

    exit_code = 2


class KeyFileError(SigningError):
    """A key file cannot be used: it exists already, is unencrypted, unreadable or a wrong type."""

    exit_code = 2


class PolicyViolation(SigningError):
    """A certificate request or issuance breaks the tier policy (docs/security.md): refused."""

    exit_code = 2
