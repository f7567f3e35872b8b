"""``receipts pki``: keys, certificates, CRLs and trust bundles across the tiers (SPEC §4).

Parses, calls :mod:`receipts.pki.ca` (the CA's side) and :mod:`receipts.pki.requester` (the
requester's and trust side), prints. Cryptography is imported inside the commands, so ``receipts
--help`` stays fast. The group is made here; :mod:`receipts.commands.pki_cert_cmds` holds the
key and certificate commands, :mod:`receipts.commands.pki_trust_cmds` the revocation, trust and
status ones, and :mod:`receipts.commands.pki_options` what they share.
"""

from __future__ import annotations

import click

from receipts.commands import pki_cert_cmds, pki_trust_cmds

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Attach the ``pki`` group and its sub-commands."""

    @group.group(
        "pki",
        epilog="""\b
The usual order:
  national:  pki init-root; pki csr -o n.csr; pki issue-cert n.csr -o n.pem; pki import-cert n.pem
  province:  pki csr --ca -o ca.csr    → national: pki issue-cert ca.csr -o ca.pem
             pki import-cert ca.pem --root national-root.pem
  city:      pki csr -o city.csr       → province: pki issue-cert city.csr -o city.pem
             pki import-cert city.pem --root national-root.pem
  (national-root.pem: the national workspace's certs/ca.pem, or its 'pki export-trust')""",
    )
    def pki_group() -> None:
        """Keys, certificates, CRLs and trust bundles: the federation PKI.

        The national root CA certifies provincial CAs and the national signing certificate; a
        provincial CA certifies its own and its city tier's signing certificates. Keys never
        leave a workspace: only requests (CSRs), certificates and CRLs do.
        """

    pki_cert_cmds.register(pki_group)
    pki_trust_cmds.register(pki_group)
