"""Trust material and chain validation *as of a given time*.

A :class:`TrustBundle` is what an auditor takes away: the national root(s), CA certificates,
signing certificates and CRLs, in one PEM file. A :class:`ChainValidator` validates a signing
certificate against it as of a receipt's signing time, not today (docs/security.md), because a
receipt signed while its certificate was valid must verify for 30 years.

Chain building is the costly part and does not depend on the time: it runs once per
(leaf, intermediates) with cryptography's ``x509.verification``; each call then only compares the
cached chain's validity windows and revocation times with the time asked about.

Tier policy is checked on the built chain too, once per cached chain: a root certifies CA
certificates and its own organisation's signing certificate, and every certificate's organisation
must be one its issuer's organisation may certify. Which organisations descend from which is the
caller's org rule (``receipts`` passes the division-code rule in as ``issuer_may_certify``), so
a provincial CA's key cannot vouch for another province's federation (docs/security.md).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

from signing.certificate_profile import CertificateRole, key_id, org_code_of, role_of
from signing.chain_policy import IssuerRule, Purpose, describe, tier_problem, usage_problem
from signing.crl import Revocation, crl_is_from, crls_from_pem, crls_to_pem, find_revocation
from signing.errors import RevokedCertificate, SigningError, UntrustedCertificate
from signing.pem import certificates_from_pem, certificates_to_pem
from signing.result import Finding, FindingCode

__all__ = ["ChainValidation", "ChainValidator", "IssuerRule", "TrustBundle"]


@dataclass(frozen=True)
class TrustBundle:
    """Roots, CA certificates, signing certificates and CRLs: everything a verifier trusts."""

    roots: tuple[x509.Certificate, ...]
    """Self-signed national root CA certificates: the only trust anchors."""

    cas: tuple[x509.Certificate, ...] = ()
    """Provincial CA certificates (intermediates), trusted only through a root."""

    signing: tuple[x509.Certificate, ...] = ()
    """Federations' signing certificates, so a printed QR seal can be checked offline."""

    crls: tuple[x509.CertificateRevocationList, ...] = ()
    """CRLs published by the CAs; each must verify against its issuer to count."""

    @classmethod
    def of(
        cls,
        certs: Iterable[x509.Certificate],
        crls: Iterable[x509.CertificateRevocationList] = (),
    ) -> TrustBundle:
        """Sort ``certs`` into roots, CAs and signing certificates by their BasicConstraints."""
        by_role: dict[CertificateRole, list[x509.Certificate]] = {r: [] for r in CertificateRole}
        for cert in _unique(certs):
            by_role[role_of(cert)].append(cert)
        return cls(
            roots=tuple(by_role[CertificateRole.ROOT_CA]),
            cas=tuple(by_role[CertificateRole.PROVINCIAL_CA]),
            signing=tuple(by_role[CertificateRole.SIGNING]),
            crls=tuple(crls),
        )

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        """Every certificate: roots, then CAs, then signing certificates."""
        return self.roots + self.cas + self.signing

    def to_pem(self) -> bytes:
        """One PEM text: certificates, then ``-----BEGIN X509 CRL-----`` blocks."""
        return certificates_to_pem(self.certificates) + crls_to_pem(self.crls)

    @classmethod
    def from_pem(cls, data: bytes) -> TrustBundle:
        """Read a bundle written by :meth:`to_pem` (or any PEM text of certificates and CRLs)."""
        bundle = cls.of(certificates_from_pem(data), crls_from_pem(data))
        if not bundle.roots:
            raise UntrustedCertificate("the trust bundle holds no root certificate")
        return bundle

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrustBundle:
        """Read the bundle file at ``path``."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise UntrustedCertificate(f"cannot read trust bundle {path}: {exc.strerror}") from None
        try:
            return cls.from_pem(data)
        except SigningError as exc:
            raise UntrustedCertificate(f"trust bundle {path}: {exc}") from None

    def signing_certificate(self, org_code: str, key: str) -> x509.Certificate | None:
        """The signing certificate of ``org_code`` whose :func:`key_id` is ``key``, if present."""
        for cert in self.signing:
            if key_id(cert) == key and org_code_of(cert) == org_code:
                return cert
        return None


def _unique(certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[x509.Certificate] = set()
    out: list[x509.Certificate] = []
    for cert in certs:
        if cert not in seen:
            seen.add(cert)
            out.append(cert)
    return out


@dataclass(frozen=True)
class ChainValidation:
    """The outcome of validating one certificate chain at one time."""

    chain: tuple[x509.Certificate, ...]
    """Leaf first, root last, as built; empty when no chain to a trusted root exists."""

    findings: tuple[Finding, ...]
    """Every problem, with the same codes as XML verification; empty when valid."""

    @property
    def ok(self) -> bool:
        """Whether the chain was valid, unrevoked and fit for signing at that time."""
        return not self.findings


@dataclass(frozen=True)
class _BuiltChain:
    """A chain that validated structurally, with what each call re-checks against its time."""

    certs: tuple[x509.Certificate, ...]
    revocations: tuple[Revocation | None, ...]
    """For each certificate except the root: its earliest revocation in a CRL of its issuer."""
    crl_known: tuple[bool, ...]
    """For each certificate except the root: whether any CRL of its issuer verified."""
    windows: tuple[tuple[datetime, datetime], ...] = ()
    """Each certificate's (not before, not after) in UTC, read once: cryptography builds a new
    datetime on every read of ``not_valid_before_utc``."""
    usage_problem: str | None = field(default=None)
    """Why the leaf may not sign documents, if it may not."""
    stamp_usage_problem: str | None = field(default=None)
    """Why the leaf may not sign time-stamps (beyond its extended key usage), if it may not."""
    tier_problem: str | None = field(default=None)
    """Why a link of the chain breaks the tier policy, if one does."""


class ChainValidator:
    """Validates signing certificates against a :class:`TrustBundle` as of a given time.

    ``require_crl``: when true, a certificate whose issuer published no (verifiable) CRL in the
    bundle gets a ``revocation-unknown`` finding; by default its status is taken as not revoked.

    ``issuer_may_certify``: the org rule every link of a chain must satisfy (see the module's
    docstring); ``None`` checks only the roles, for callers without an org hierarchy. A link that
    breaks it gets a ``certificate-outside-tier`` finding.
    """

    _MAX_CACHED = 4096

    def __init__(
        self,
        bundle: TrustBundle,
        *,
        issuer_may_certify: IssuerRule | None,
        require_crl: bool = False,
    ) -> None:
        if not bundle.roots:
            raise UntrustedCertificate("a chain validator needs at least one root certificate")
        self.bundle = bundle
        self.require_crl = require_crl
        self.issuer_may_certify = issuer_may_certify
        self._store = Store(list(bundle.roots))
        self._cache: dict[tuple[x509.Certificate, ...], _BuiltChain] = {}
        # The same chains again by the certificates' identities: a verifier hands in the same
        # objects again and again (signing.xmldsig_signxml.certificate_from_b64 caches them),
        # and hashing a certificate hashes its DER. Each entry holds its certificates, so an
        # identity is not reused by another object while it is remembered.
        self._by_identity: dict[
            tuple[int, ...], tuple[tuple[x509.Certificate, ...], _BuiltChain]
        ] = {}

    def validate(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate] = (),
        *,
        at: datetime,
        purpose: Purpose = "document",
    ) -> ChainValidation:
        """Validate ``leaf`` (with ``intermediates``) as of ``at`` for signing ``purpose``;
        problems come back as data."""
        if at.tzinfo is None:
            raise ValueError("the validation time must carry a UTC offset")
        moment = at.astimezone(UTC)
        built = self._built(leaf, tuple(intermediates), moment)
        if isinstance(built, Finding):
            return ChainValidation((), (built,))
        findings: list[Finding] = []
        if built.tier_problem is not None:
            findings.append(Finding.of(FindingCode.CERTIFICATE_OUTSIDE_TIER, built.tier_problem))
        usage = built.usage_problem if purpose == "document" else built.stamp_usage_problem
        if usage is not None:
            findings.append(Finding.of(FindingCode.BAD_KEY_USAGE, usage))
        for cert, (not_before, not_after) in zip(built.certs, built.windows, strict=True):
            if moment < not_before:
                findings.append(
                    Finding.of(
                        FindingCode.NOT_YET_VALID_AT_SIGNING,
                        f"{describe(cert)} is valid only from {_ts(cert.not_valid_before_utc)}, "
                        f"after the time {_ts(moment)}",
                    )
                )
            elif moment > not_after:
                findings.append(
                    Finding.of(
                        FindingCode.EXPIRED_AT_SIGNING,
                        f"{describe(cert)} expired on {_ts(cert.not_valid_after_utc)}, "
                        f"before the time {_ts(moment)}",
                    )
                )
        for cert, revocation, known in zip(
            built.certs, built.revocations, built.crl_known, strict=False
        ):
            if revocation is not None and revocation.effective_from <= moment:
                findings.append(
                    Finding.of(
                        FindingCode.REVOKED,
                        f"{describe(cert)} was revoked ({revocation.reason.value}) as of "
                        f"{_ts(revocation.effective_from)}, at or before the time {_ts(moment)}",
                    )
                )
            elif not known and self.require_crl:
                findings.append(
                    Finding.of(
                        FindingCode.REVOCATION_UNKNOWN,
                        f"no CRL from the issuer of {describe(cert)} is in the trust bundle",
                    )
                )
        return ChainValidation(built.certs, tuple(findings))

    def require_valid(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate] = (),
        *,
        at: datetime,
    ) -> tuple[x509.Certificate, ...]:
        """Like :meth:`validate`, but raise the first problem; return the chain (leaf first)."""
        result = self.validate(leaf, intermediates, at=at)
        for finding in result.findings:
            if finding.code == FindingCode.REVOKED.value:
                raise RevokedCertificate(finding.message)
            raise UntrustedCertificate(finding.message)
        return result.chain

    def _built(
        self,
        leaf: x509.Certificate,
        intermediates: tuple[x509.Certificate, ...],
        moment: datetime,
    ) -> _BuiltChain | Finding:
        key = (leaf, *intermediates)
        identities = tuple(map(id, key))
        held = self._by_identity.get(identities)
        if held is not None and all(a is b for a, b in zip(held[0], key, strict=True)):
            return held[1]
        cached = self._cache.get(key)
        if cached is not None:
            self._remember(identities, key, cached)
            return cached
        # Structure (signatures, names, constraints, extensions) does not depend on the time, so
        # build the chain at a moment when the certificates handed in are all valid, then judge
        # validity windows and revocation against each call's own time.
        try:
            verified = self._verifier(_probe_time(key, moment)).verify(
                leaf, list(intermediates) + list(self.bundle.cas)
            )
        except VerificationError as exc:
            # Failures are not cached: they are rare, and their probe time depends on `moment`.
            return Finding.of(
                FindingCode.UNTRUSTED_CERTIFICATE,
                f"{describe(leaf)} does not chain to a trusted root: {exc}",
            )
        certs = tuple(verified.chain)
        links = list(itertools.pairwise(certs))
        built = _BuiltChain(
            certs=certs,
            revocations=tuple(find_revocation(c, issuer, self.bundle.crls) for c, issuer in links),
            crl_known=tuple(
                any(crl_is_from(crl, issuer) for crl in self.bundle.crls) for _, issuer in links
            ),
            windows=tuple((c.not_valid_before_utc, c.not_valid_after_utc) for c in certs),
            usage_problem=usage_problem(leaf),
            stamp_usage_problem=usage_problem(leaf, "time-stamp"),
            tier_problem=tier_problem(links, self.issuer_may_certify),
        )
        if len(self._cache) >= self._MAX_CACHED:
            # Rare (thousands of distinct signers); dropping everything keeps this simple and safe.
            self._cache.clear()
        self._cache[key] = built
        self._remember(identities, key, built)
        return built

    def _remember(
        self,
        identities: tuple[int, ...],
        key: tuple[x509.Certificate, ...],
        built: _BuiltChain,
    ) -> None:
        if len(self._by_identity) >= self._MAX_CACHED:
            self._by_identity.clear()
        self._by_identity[identities] = (key, built)

    def _verifier(self, moment: datetime) -> x509.verification.ClientVerifier:
        return (
            PolicyBuilder()
            .store(self._store)
            .time(moment)
            .extension_policies(
                # CAs get the Web PKI's CA rules (BasicConstraints, KeyUsage, path length, AKI);
                # leaves carry no TLS names or EKU, and their key usage is checked separately so
                # that it gets its own finding.
                ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )


def _probe_time(certs: Sequence[x509.Certificate], moment: datetime) -> datetime:
    low = max(c.not_valid_before_utc for c in certs)
    high = min(c.not_valid_after_utc for c in certs)
    if low > high:
        # No common moment: build at the leaf's own window so the time findings say what is wrong.
        low, high = certs[0].not_valid_before_utc, certs[0].not_valid_after_utc
    return min(max(moment, low), high)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
