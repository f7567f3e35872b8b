"""Keys, certificates, CRLs and XML signatures for the federation tiers.

This package knows nothing about receipts: ``receipts`` passes in whatever organisation rule
a PKI decision depends on. Importing the package itself is cheap (only its errors); the modules
that need cryptography, lxml or signxml are imported where they are used.
"""

from signing.errors import (
    InvalidSignature,
    KeyFileError,
    PassphraseError,
    PolicyViolation,
    RevokedCertificate,
    SigningError,
    UntrustedCertificate,
    WrongPassphrase,
)

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
