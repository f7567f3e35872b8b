"""``receipts pki``: keys, certificates, CRLs and trust bundles across the tiers (docs/security.md
describes the hierarchy and key handling).

The group only: :mod:`receipts.commands.pki_cert_cmds` holds the key and certificate commands,
:mod:`receipts.commands.pki_trust_cmds` the revocation, trust and status ones, and
:mod:`receipts.commands.pki_options` what they share. They call :mod:`receipts.pki.ca` (the CA's
side) and :mod:`receipts.pki.requester` (the requester's and trust side).
"""

from __future__ import annotations

import click

from receipts.commands.lazy import LazyCommand, LazyGroup

__all__ = ["pki"]

_CERT = "receipts.commands.pki_cert_cmds:"
_TRUST = "receipts.commands.pki_trust_cmds:"

_EPILOG = """\b
The usual order:
  national:  pki init-root; pki csr -o n.csr; pki issue-cert n.csr -o n.pem; pki import-cert n.pem
  province:  pki csr --ca -o ca.csr    → national: pki issue-cert ca.csr -o ca.pem
             pki import-cert ca.pem --root national-root.pem
  city:      pki csr -o city.csr       → province: pki issue-cert city.csr -o city.pem
             pki import-cert city.pem --root national-root.pem
  (national-root.pem: the national workspace's certs/ca.pem, or its 'pki export-trust')"""


@click.group(
    "pki",
    cls=LazyGroup,
    epilog=_EPILOG,
    lazy_commands={
        "crl": LazyCommand(
            _TRUST + "crl", "Sign and write this CA's CRL of every revocation it recorded."
        ),
        "csr": LazyCommand(
            _CERT + "csr", "Generate a key and a certificate request (CSR) for this federation."
        ),
        "export-trust": LazyCommand(
            _TRUST + "export_trust",
            "Write this workspace's trust bundle: roots, CAs, signing certificates, CRLs.",
        ),
        "import-cert": LazyCommand(
            _CERT + "import_cert",
            "Install the certificate the upstream CA issued for this workspace's pending key.",
        ),
        "import-trust": LazyCommand(
            _TRUST + "import_trust",
            "Merge certificates and CRLs from a bundle into this workspace's trust.",
        ),
        "init-root": LazyCommand(
            _CERT + "init_root",
            "Create the national root CA key and certificate (national workspace 000000 only).",
        ),
        "issue-tsa": LazyCommand(
            "receipts.commands.tsa_cmds:issue_tsa",
            "Create this CA's time-stamp authority: its key and a time-stamping certificate.",
        ),
        "issue-cert": LazyCommand(
            _CERT + "issue_cert",
            "Issue the certificate a request asks for (a CA workspace: national root or province).",
        ),
        "list": LazyCommand(
            _TRUST + "list_status",
            "Show this workspace's keys and certificates and what its trust bundle holds.",
        ),
        "rekey": LazyCommand(
            "receipts.commands.pki_key_cmds:rekey",
            "Change a key's passphrase (and re-encrypt it with today's parameters).",
        ),
        "revoke": LazyCommand(
            _TRUST + "revoke",
            "Record the revocation of a certificate this CA issued (publish it with 'pki crl').",
        ),
    },
)
def pki() -> None:
    """Keys, certificates, CRLs and trust bundles: the federation PKI.

    The national root CA certifies provincial CAs and the national signing certificate; a
    provincial CA certifies its own and its city tier's signing certificates. Keys never
    leave a workspace: only requests (CSRs), certificates and CRLs do.
    """
