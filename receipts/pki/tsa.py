"""A CA workspace's time-stamp authority: its key and its time-stamping certificate, issued by
the workspace's own CA (the national root, or a provincial CA) under RFC 3161's rules
(docs/security.md, "Time-stamps"; docs/operations.md, "Running the time-stamp authority").

    keys/tsa.key    the authority's key, encrypted like every key (PKCS#8, mode 0600)
    certs/tsa.pem   its certificate, then the CA's intermediates (never the root)

The certificate is recorded in the CA's books like every certificate it issues, so
``pki revoke`` and ``pki crl`` handle it too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509

from receipts.errors import InvalidInput
from receipts.pki.ca import CaRegistry, Passphrase, ca_identity
from receipts.pki.credentials import Credentials
from receipts.pki.keyfile import save_key
from receipts.support.atomic import write_atomic
from signing.certificates import certificates_to_pem
from signing.errors import PolicyViolation
from signing.keys import KeyAlgorithm, check_new_passphrase, generate_key
from signing.tsa_certificate import issue_tsa_certificate

__all__ = ["init_tsa"]


def init_tsa(
    creds: Credentials,
    ca_passphrase: Passphrase,
    tsa_passphrase: Passphrase,
    *,
    key_path: Path,
    cert_path: Path,
    now: datetime,
    validity: timedelta | None,
    algorithm: KeyAlgorithm = KeyAlgorithm.ECDSA_P256,
) -> tuple[x509.Certificate, ...]:
    """Create the authority's key (refused if one exists) and have this CA certify it; the
    chain written to ``cert_path`` (TSA certificate first) is returned."""
    key_file, cert_file = key_path, cert_path
    ca_cert, intermediates = ca_identity(creds)
    if key_file.exists() or cert_file.exists():
        raise InvalidInput(
            f"{key_file} or {cert_file} exists already: this workspace runs an authority; move "
            "both away first to replace it"
        )
    # Every cheap check first: nobody types a passphrase for a request that must fail.
    if not ca_cert.not_valid_before_utc <= now <= ca_cert.not_valid_after_utc:
        raise InvalidInput("this workspace's CA certificate is not valid now")
    new_passphrase = tsa_passphrase(True)
    check_new_passphrase(new_passphrase, refuse=creds.refused_passphrases())
    ca_key = creds.load_key(creds.ca_key_path, lambda: ca_passphrase(False))
    key = generate_key(algorithm)
    try:
        cert = issue_tsa_certificate(ca_cert, ca_key, key.public_key(), now=now, validity=validity)
    except PolicyViolation as exc:
        raise InvalidInput(str(exc)) from None
    save_key(key, key_file, new_passphrase, refuse=creds.refused_passphrases())
    chain = (cert, *intermediates)
    write_atomic(cert_file, certificates_to_pem(chain))
    CaRegistry(creds.workspace.home).record_issued(cert)
    return chain
