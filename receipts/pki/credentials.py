"""A workspace's key material and trust, by file (docs/operations.md): where things live and how
they load.

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
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from receipts.domain.signed_documents import chain_validator
from receipts.errors import InvalidInput, WorkspaceError
from receipts.ledger.events import HeadSigner
from receipts.pki.keyfile import Notify, check_key_permissions, load_key_file
from receipts.pki.signer import ReceiptSigner
from receipts.support.atomic import write_atomic
from receipts.workspace import Workspace
from signing.certificate_profile import org_code_of
from signing.certificates import certificates_from_pem
from signing.crl import merge_crls
from signing.errors import UntrustedCertificate, WrongPassphrase
from signing.keys import PrivateKey, signing_key_passphrase
from signing.trust import ChainValidator, TrustBundle

__all__ = ["Credentials", "MissingCredentials"]


class MissingCredentials(WorkspaceError):
    """The workspace lacks a key, certificate or trust it needs for this command."""


class Credentials:
    """Key material and trust of one workspace; loads each thing at most once."""

    def __init__(
        self,
        workspace: Workspace,
        prompt: Callable[[str], str] | None = None,
        *,
        allow_insecure_permissions: bool = False,
        notify: Notify | None = None,
    ) -> None:
        self.workspace = workspace
        self.prompt = prompt
        self.allow_insecure_permissions = allow_insecure_permissions
        """``--allow-insecure-permissions``: load keys that other users may read."""
        self.notify = notify
        """Where notes go (a key re-encrypted with today's parameters)."""
        self.key_unlock: Callable[[], str | None] | None = None
        """The signing key's passphrase from the operator's key slot (the command layer sets
        it); it answers None in a workspace without operators, where the workspace passphrase
        applies (docs/security.md, "Operators and key slots")."""

    def load_key(self, path: Path, passphrase: Callable[[], str]) -> PrivateKey:
        """Load one of this workspace's keys (:func:`receipts.pki.keyfile.load_key_file`).

        ``passphrase`` is asked for only once the file's permissions passed: nobody types the
        passphrase of a key file that will be refused.
        """
        allow = self.allow_insecure_permissions
        check_key_permissions(path, allow_insecure=allow)
        return load_key_file(path, passphrase(), allow_insecure=allow, notify=self.notify)

    def _signing_passphrase(self) -> str:
        unlocked = self.operator_key_passphrase()
        if unlocked is not None:
            return unlocked
        return self.legacy_passphrase()

    def _load_signing_key(self) -> PrivateKey:
        try:
            return self.load_key(self.signing_key_path, self._signing_passphrase)
        except WrongPassphrase:
            if self.key_unlock is None or self.key_unlock() is None:
                raise
            # Operators exist, yet the key is not under their volume key: an interrupted first
            # 'operator add', or a key file put back from before operators.
            raise WrongPassphrase(
                f"the operators' volume key does not decrypt {self.signing_key_path}: it is "
                "still under a passphrase (restore the key file re-encrypted by the first "
                "'operator add')"
            ) from None

    def legacy_passphrase(self) -> str:
        """The workspace passphrase of the signing key (``RECEIPTS_KEY_PASSPHRASE`` or typed),
        as in a workspace without operators."""
        return signing_key_passphrase(prompt=self.prompt, key_path=self.signing_key_path)

    def operator_key_passphrase(self) -> str | None:
        """The signing key's passphrase unwrapped from the operator's key slot; None in a
        workspace without operators (an auditor is refused: their slot unwraps nothing)."""
        return self.key_unlock() if self.key_unlock is not None else None

    def refused_passphrases(self) -> tuple[str, ...]:
        """What a new key's passphrase may not be: the organisation's code, USCC and name."""
        config = self.workspace.config
        return tuple(w for w in (config.org_code, config.uscc, config.name) if w)

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
        key = self._load_signing_key()
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

    @property
    def ledger_cert_path(self) -> Path:
        """A payer's self-signed ledger certificate (its key is ``keys/signing.key``)."""
        return self.workspace.certs_dir / "ledger.pem"

    def signer_if_any(self) -> HeadSigner | None:
        """What signs this workspace's chain heads: a federation's signing key once its
        certificate is imported, a payer's ledger key; None before either exists."""
        if self.has_signer():
            return self.signer
        if self.ledger_cert_path.is_file() and self.signing_key_path.is_file():
            return self._ledger_signer
        return None

    @functools.cached_property
    def _ledger_signer(self) -> HeadSigner:
        """A payer's ledger key, loaded (its passphrase derived) once per command."""
        from receipts.pki.ledger_key import load_ledger_key

        key = self._load_signing_key()
        return load_ledger_key(key, self.ledger_cert_path)

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
        return chain_validator(self.trust)

    def add_to_trust(
        self,
        certs: Iterable[x509.Certificate] = (),
        crls: Iterable[x509.CertificateRevocationList] = (),
    ) -> TrustBundle:
        """Merge certificates and CRLs into the trust bundle and save it, atomically.

        Every CRL is checked against its CA's certificate in the merged bundle and the newest
        per CA key is kept (:func:`signing.crl.merge_crls`, the one CRL merge for `pki crl`,
        `pki import-trust` and `transmit import`): one that names no trusted CA, is not signed
        by it or is dated in the future refuses the whole merge (:class:`InvalidInput`), and an
        older CRL never replaces a newer one. The bundle is written atomically, so a crash or a
        concurrent reader never sees half a bundle.
        """
        current = TrustBundle.load(self.bundle_path) if self.bundle_path.is_file() else None
        old_certs = current.certificates if current else ()
        with_certs = TrustBundle.of([*old_certs, *certs])
        try:
            merged_crls = merge_crls(
                current.crls if current else (),
                crls,
                with_certs.roots + with_certs.cas,
                datetime.now(UTC),
            )
        except UntrustedCertificate as exc:
            raise InvalidInput(f"nothing was merged into the trust bundle: {exc}") from None
        bundle = TrustBundle.of(with_certs.certificates, merged_crls)
        if not bundle.roots:
            raise MissingCredentials("a trust bundle needs the national root certificate first")
        write_atomic(self.bundle_path, bundle.to_pem())
        self.__dict__.pop("trust", None)
        self.__dict__.pop("validator", None)
        return bundle


def _read_certs(path: Path) -> list[x509.Certificate]:
    certs = certificates_from_pem(path.read_bytes())
    if not certs:
        raise MissingCredentials(f"{path} holds no certificate")
    return certs
