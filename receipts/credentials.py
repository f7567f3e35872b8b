"""A workspace's key material and trust, by file (SPEC §4): where things live and how they load.

    keys/signing.key     the federation's signing key, encrypted PKCS#8 (RECEIPTS_KEY_PASSPHRASE
                         or a prompt)
    keys/ca.key          a CA's key (national root or provincial CA), encrypted; passphrase typed
    certs/signing.pem    the signing certificate, then the intermediate CA that certified it
    certs/ca.pem         the CA certificate (the root's own, or the provincial CA's)
    trust/bundle.pem     what this workspace trusts: root(s), CAs, signing certificates, CRLs

Keys cross tiers only as CSRs and certificates. Loading is done once per command.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path

from cryptography import x509

from receipts.errors import WorkspaceError
from receipts.signer import ReceiptSigner
from receipts.workspace import Workspace
from signing.certificates import certificates_from_pem, org_code_of
from signing.keys import PrivateKey, load_key, signing_key_passphrase
from signing.trust import ChainValidator, TrustBundle

__all__ = ["Credentials", "MissingCredentials"]


class MissingCredentials(WorkspaceError):
    """The workspace lacks a key, certificate or trust it needs for this command."""


class Credentials:
    """Key material and trust of one workspace; loads each thing at most once."""

    def __init__(self, workspace: Workspace, prompt: Callable[[str], str] | None = None) -> None:
        self.workspace = workspace
        self.prompt = prompt

    @property
    def signing_key_path(self) -> Path:
        """The encrypted signing key."""
        return self.workspace.keys_dir / "signing.key"

    @property
    def signing_cert_path(self) -> Path:
        """Signing certificate followed by its intermediate."""
        return self.workspace.certs_dir / "signing.pem"

    @property
    def ca_key_path(self) -> Path:
        """The encrypted CA key (root or provincial CA)."""
        return self.workspace.keys_dir / "ca.key"

    @property
    def ca_cert_path(self) -> Path:
        """The CA certificate."""
        return self.workspace.certs_dir / "ca.pem"

    @property
    def bundle_path(self) -> Path:
        """The trust bundle."""
        return self.workspace.trust_dir / "bundle.pem"

    def has_signer(self) -> bool:
        """True once the signing certificate has been imported."""
        return self.signing_cert_path.is_file() and self.signing_key_path.is_file()

    @functools.cached_property
    def signer(self) -> ReceiptSigner:
        """The loaded signing identity; the passphrase is asked for (or read) once."""
        if not self.has_signer():
            raise MissingCredentials(
                f"{self.workspace.home} has no signing certificate yet: run 'receipts pki csr', "
                "have the upstream CA issue it, then 'receipts pki import-cert'"
            )
        chain = _read_certs(self.signing_cert_path)
        passphrase = signing_key_passphrase(prompt=self.prompt, key_path=self.signing_key_path)
        key: PrivateKey = load_key(self.signing_key_path, passphrase)
        if chain[0].public_key() != key.public_key():
            raise MissingCredentials(
                f"{self.signing_cert_path} does not belong to the key {self.signing_key_path}"
            )
        org = self.workspace.config.org_code
        if org is not None and org_code_of(chain[0]) != org:
            raise MissingCredentials(
                f"{self.signing_cert_path} was issued to {org_code_of(chain[0])}, not {org}"
            )
        return ReceiptSigner(key, chain[0], tuple(chain[1:]))

    def signer_if_any(self) -> ReceiptSigner | None:
        """The signer when the workspace has one (to sign chain heads), else None."""
        return self.signer if self.has_signer() else None

    @functools.cached_property
    def trust(self) -> TrustBundle:
        """The workspace's trust bundle."""
        if not self.bundle_path.is_file():
            raise MissingCredentials(
                f"{self.workspace.home} trusts nothing yet: import the national root with "
                "'receipts pki import-trust BUNDLE' (or 'pki import-cert --root ROOT.pem')"
            )
        return TrustBundle.load(self.bundle_path)

    @functools.cached_property
    def validator(self) -> ChainValidator:
        """Chain validation against the trust bundle (cached per certificate)."""
        return ChainValidator(self.trust)

    def add_to_trust(
        self,
        certs: Iterable[x509.Certificate] = (),
        crls: Iterable[x509.CertificateRevocationList] = (),
    ) -> TrustBundle:
        """Merge certificates and CRLs into the trust bundle (a newer CRL of a CA replaces its
        older one) and save it."""
        current = TrustBundle.load(self.bundle_path) if self.bundle_path.is_file() else None
        old_certs = current.certificates if current else ()
        merged_crls = {crl.issuer.public_bytes(): crl for crl in (current.crls if current else ())}
        for crl in crls:
            key = crl.issuer.public_bytes()
            if key not in merged_crls or merged_crls[key].last_update_utc <= crl.last_update_utc:
                merged_crls[key] = crl
        bundle = TrustBundle.of([*old_certs, *certs], merged_crls.values())
        if not bundle.roots:
            raise MissingCredentials("a trust bundle needs the national root certificate first")
        bundle.save(self.bundle_path)
        self.__dict__.pop("trust", None)
        self.__dict__.pop("validator", None)
        return bundle


def _read_certs(path: Path) -> list[x509.Certificate]:
    certs = certificates_from_pem(path.read_bytes())
    if not certs:
        raise MissingCredentials(f"{path} holds no certificate")
    return certs
