"""``receipts pki``: keys, certificates, CRLs and trust bundles across the tiers (SPEC §4).

Parses, calls :mod:`receipts.ca` (the CA's side) and :mod:`receipts.pki` (the requester's and
trust side), prints. Cryptography is imported inside the commands, so ``receipts --help`` stays
fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from receipts.commands.runtime import Context, command
from receipts.errors import InvalidInput
from receipts.workspace import WorkspaceKind

if TYPE_CHECKING:
    from cryptography import x509

    from receipts.ca import Passphrase
    from receipts.credentials import Credentials

__all__ = ["ALGORITHMS", "REASONS", "register"]

#: ``signing.keys.KeyAlgorithm`` values (kept here so ``--help`` needs no cryptography import).
ALGORITHMS = ("ecdsa-p256", "rsa-2048")
#: ``signing.crl.RevocationReason`` values, spelt with ``_`` (``-`` is accepted too).
REASONS = (
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "ca_compromise",
    "unspecified",
)

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


class _Output(click.Path):
    """A file to write, whose folder must exist: checked before any key is touched."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, writable=True, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        assert isinstance(path, Path)  # path_type=Path
        if not path.parent.is_dir():
            self.fail(f"folder {path.parent} does not exist", param, ctx)
        return path


_OUT = _Output()
_allow_env = click.option(
    "--allow-env-passphrase",
    is_flag=True,
    help="Read the CA key's passphrase from RECEIPTS_CA_PASSPHRASE (unattended use).",
)
_algorithm = click.option("--algorithm", type=click.Choice(ALGORITHMS), help="Key type.")


class _Reason(click.Choice[str]):
    """A revocation reason; ``key-compromise`` is read as ``key_compromise``."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return str(super().convert(str(value).replace("-", "_"), param, ctx))


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

    @command(pki_group, "init-root", epilog="\b\nExample:\n  receipts --home ./acftu pki init-root")
    @click.option("--validity-years", type=click.IntRange(1, 50), default=20, show_default=True)
    @_algorithm
    @_allow_env
    def init_root(
        ctx: Context, validity_years: int, algorithm: str | None, allow_env_passphrase: bool
    ) -> None:
        """Create the national root CA key and certificate (national workspace 000000 only)."""
        from receipts import ca
        from signing.keys import KeyAlgorithm

        creds = _credentials(ctx)
        cert = ca.init_root(
            creds,
            _ca_passphrase(creds, allow_env_passphrase),
            algorithm=KeyAlgorithm(algorithm or ALGORITHMS[0]),
            validity=timedelta(days=round(365.25 * validity_years)),
            now=_now(),
        )
        _show(ctx, "created", cert, certificate=creds.ca_cert_path)

    @command(
        pki_group,
        "csr",
        epilog="""\b
Examples:
  receipts --home ./yinchuan pki csr -o 640100.csr          (a signing key)
  receipts --home ./ningxia pki csr --ca -o 640000-ca.csr   (a provincial CA key)
  receipts --home ./yinchuan pki csr --renew -o 640100-2029.csr""",
    )
    @click.option(
        "--ca", "as_ca", is_flag=True, help="A provincial CA key instead of a signing key."
    )
    @_algorithm
    @click.option("--renew", is_flag=True, help="Replace a key that has its certificate already.")
    @click.option("-o", "--output", type=_OUT, required=True, help="Where to write the CSR.")
    @_allow_env
    def csr(
        ctx: Context,
        as_ca: bool,
        algorithm: str | None,
        renew: bool,
        output: Path,
        allow_env_passphrase: bool,
    ) -> None:
        """Generate a key and a certificate request (CSR) for this federation."""
        from receipts import pki
        from signing.certificates import csr_to_pem
        from signing.keys import KeyAlgorithm

        creds = _credentials(ctx)
        passphrase = (
            _ca_passphrase(creds, allow_env_passphrase) if as_ca else _signing_passphrase(creds)
        )
        request = pki.new_request(
            creds,
            passphrase,
            ca=as_ca,
            algorithm=KeyAlgorithm(algorithm) if algorithm else None,
            renew=renew,
            today=_now().date(),
        )
        output.write_bytes(csr_to_pem(request.csr))
        config = creds.workspace.config
        kind = "CA" if as_ca else "signing"
        lines = [f"kept {path}" for path in request.retired]
        lines.append(
            f"{'reused the pending' if request.reused else 'new'} {kind} key {request.key_path}"
        )
        lines.append(f"wrote the request of {config.org_code} {config.name} to {output}")
        lines.append("next: the upstream CA runs 'receipts pki issue-cert'; then 'pki import-cert'")
        ctx.emit(
            {
                "org": config.org_code,
                "role": kind.lower(),
                "key": str(request.key_path),
                "reused": request.reused,
                "retired": [str(p) for p in request.retired],
                "request": str(output),
            },
            lambda: "\n".join(lines),
        )

    @command(
        pki_group,
        "issue-cert",
        epilog="""\b
Examples:
  receipts --home ./ningxia pki issue-cert 640100.csr -o 640100.pem
  receipts --home ./acftu pki issue-cert 640000-ca.csr -o 640000-ca.pem --validity-days 3650""",
    )
    @click.argument("request_file", metavar="CSR", type=_FILE)
    @click.option("-o", "--output", type=_OUT, required=True, help="Certificate + intermediates.")
    @click.option("--validity-days", type=click.IntRange(min=1), help="Default: by role.")
    @_allow_env
    def issue_cert(
        ctx: Context,
        request_file: Path,
        output: Path,
        validity_days: int | None,
        allow_env_passphrase: bool,
    ) -> None:
        """Issue the certificate a request asks for (a CA workspace: national root or province)."""
        from receipts import ca
        from signing.certificates import certificates_to_pem

        creds = _credentials(ctx)
        issued = ca.issue_from_request(
            creds,
            ca.read_request(request_file),
            _ca_passphrase(creds, allow_env_passphrase),
            now=_now(),
            validity=timedelta(days=validity_days) if validity_days else None,
        )
        output.write_bytes(certificates_to_pem(issued.chain))
        _show(ctx, "issued", issued.certificate, chain=output, recorded=issued.record)

    @command(
        pki_group,
        "import-cert",
        epilog="""\b
Examples:
  receipts --home ./yinchuan pki import-cert 640100.pem --root national-root.pem   (first time)
  receipts --home ./yinchuan pki import-cert 640100-2029.pem""",
    )
    @click.argument("cert_file", metavar="CERT", type=_FILE)
    @click.option("--root", "root_file", type=_FILE, help="The national root (the first time).")
    def import_cert(ctx: Context, cert_file: Path, root_file: Path | None) -> None:
        """Install the certificate the upstream CA issued for this workspace's pending key."""
        from receipts import pki

        creds = _credentials(ctx)
        root = pki.read_certificates(root_file)[0] if root_file else None
        imported = pki.import_certificate(creds, pki.read_certificates(cert_file), root, now=_now())
        _warn(imported.warnings)
        _show(ctx, "imported", imported.certificate, installed=imported.path)

    @command(
        pki_group,
        "revoke",
        epilog="""\b
Examples:
  receipts --home ./ningxia pki revoke 3f9a0c... --reason key_compromise
  receipts --home ./ningxia pki revoke --cert 640100.pem --reason superseded
  receipts --home ./ningxia pki revoke 3f9a0c... --reason key_compromise --at 2026-03-01T09:00
Then publish it: receipts pki crl -o ningxia.crl""",
    )
    @click.argument("serial", metavar="SERIAL_HEX", required=False)
    @click.option("--cert", "cert_file", type=_FILE, help="The certificate instead of its serial.")
    @click.option("--reason", type=_Reason(REASONS), required=True)
    @click.option("--at", "at_text", help="Since when (ISO 8601; default now; local time zone).")
    def revoke(
        ctx: Context, serial: str | None, cert_file: Path | None, reason: str, at_text: str | None
    ) -> None:
        """Record the revocation of a certificate this CA issued (publish it with 'pki crl')."""
        from receipts import ca, pki
        from signing.crl import RevocationReason

        creds = _credentials(ctx)
        if (serial is None) == (cert_file is None):
            raise InvalidInput("give either SERIAL_HEX or --cert FILE")
        expected = pki.read_certificates(cert_file)[0] if cert_file else None
        number = expected.serial_number if expected else ca.parse_serial(str(serial))
        at = _parse_time(at_text, creds.workspace.config.zone) if at_text else None
        why = RevocationReason(reason.replace("_", "-"))
        cert, record = ca.revoke(creds, number, why, now=_now(), at=at, expected=expected)
        info = pki.describe(cert)
        since = ca.format_utc(record.effective_from)
        ctx.emit(
            {**info, "reason": why.value, "revoked_at": record.revoked_at, "effective": since},
            lambda: (
                f"revoked {info['subject']} ({info['org']}), serial {info['serial']}: "
                f"{why.value} as of {since}\nnext: publish it with 'receipts pki crl -o FILE'"
            ),
        )

    @command(
        pki_group, "crl", epilog="\b\nExample:\n  receipts --home ./ningxia pki crl -o ningxia.crl"
    )
    @click.option("-o", "--output", type=_OUT, required=True, help="Where to write the CRL.")
    @click.option("--next-update-days", type=click.IntRange(1, 366), default=7, show_default=True)
    @_allow_env
    def crl(ctx: Context, output: Path, next_update_days: int, allow_env_passphrase: bool) -> None:
        """Sign and write this CA's CRL of every revocation it recorded."""
        from receipts import ca
        from signing.crl import crls_to_pem

        creds = _credentials(ctx)
        new = ca.publish_crl(
            creds,
            _ca_passphrase(creds, allow_env_passphrase),
            now=_now(),
            next_update=timedelta(days=next_update_days),
        )
        output.write_bytes(crls_to_pem([new]))
        data = {
            "crl": str(output),
            "revoked": len(new),
            "this_update": new.last_update_utc,
            "next_update": new.next_update_utc,
        }
        ctx.emit(
            data,
            lambda: (
                f"wrote {output}: {_count(len(new), 'revoked certificate')}, "
                f"next update {new.next_update_utc:%Y-%m-%d %H:%M} UTC"
            ),
        )

    @command(
        pki_group, "export-trust", epilog="\b\nExample:\n  receipts pki export-trust -o trust.pem"
    )
    @click.option("-o", "--output", type=_OUT, required=True, help="Where to write the bundle.")
    def export_trust(ctx: Context, output: Path) -> None:
        """Write this workspace's trust bundle: roots, CAs, signing certificates, CRLs."""
        from receipts import pki

        ws = ctx.workspace()
        bundle = ctx.credentials(ws).trust
        bundle.save(output)
        warnings = pki.crl_warnings(bundle, _now())
        _warn(warnings)
        counts = pki.trust_counts(bundle)
        ctx.emit(
            {"bundle": str(output), **counts, "warnings": warnings},
            lambda: f"wrote {output}: {_summary(counts)}",
        )

    @command(
        pki_group,
        "import-trust",
        epilog="""\b
Examples:
  receipts --home ./acme pki import-trust trust.pem        (a payer, the first time)
  receipts --home ./yinchuan pki import-trust ningxia-crl.pem""",
    )
    @click.argument("bundle_file", metavar="BUNDLE", type=_FILE)
    @click.option("--add-root", is_flag=True, help="Trust a root other than the one trusted.")
    def import_trust(ctx: Context, bundle_file: Path, add_root: bool) -> None:
        """Merge certificates and CRLs from a bundle into this workspace's trust."""
        from receipts import pki

        creds = ctx.credentials(ctx.workspace())
        data = bundle_file.read_bytes()
        result = pki.import_trust(creds, data, str(bundle_file), add_root=add_root)
        counts = pki.trust_counts(result.bundle)
        ctx.emit(
            {"new_certificates": result.new_certificates, "new_crls": result.new_crls, **counts},
            lambda: (
                f"merged {bundle_file}: {_count(result.new_certificates, 'new certificate')}, "
                f"{_count(result.new_crls, 'new CRL')}; trusted now: {_summary(counts)}"
            ),
        )

    @command(pki_group, "list", epilog="\b\nExample:\n  receipts --home ./yinchuan pki list")
    def list_cmd(ctx: Context) -> None:
        """Show this workspace's keys and certificates and what its trust bundle holds."""
        from receipts import pki

        status = pki.workspace_status(ctx.credentials(ctx.workspace()), _now())
        for part in ("signing", "ca", "trust"):
            _warn((status[part] or {}).get("warnings", []))
        ctx.emit(status, lambda: _status_text(status))


def _credentials(ctx: Context) -> Credentials:
    return ctx.credentials(ctx.workspace().require(WorkspaceKind.FEDERATION))


def _now() -> datetime:
    return datetime.now(UTC)


def _confirming(creds: Credentials) -> Callable[[str], str] | None:
    """The prompt for a key about to be created: typed twice, so a typo cannot lose the key."""
    if creds.prompt is None:
        return None
    return lambda text: str(click.prompt(text, hide_input=True, confirmation_prompt=True, err=True))


def _ca_passphrase(creds: Credentials, allow_env: bool) -> Passphrase:
    from signing.errors import PassphraseError
    from signing.keys import CA_PASSPHRASE_ENV, ca_key_passphrase

    def no_terminal(_: str) -> str:
        how = "set" if allow_env else "pass --allow-env-passphrase and set"
        raise PassphraseError(
            f"no passphrase for the CA key {creds.ca_key_path}: type it on a terminal, "
            f"or {how} {CA_PASSPHRASE_ENV}"
        )

    def get(new: bool) -> str:
        prompt = (_confirming(creds) if new else creds.prompt) or no_terminal
        return ca_key_passphrase(prompt, key_path=creds.ca_key_path, allow_env=allow_env)

    return get


def _signing_passphrase(creds: Credentials) -> Passphrase:
    from signing.keys import signing_key_passphrase

    def get(new: bool) -> str:
        prompt = _confirming(creds) if new else creds.prompt
        return signing_key_passphrase(prompt=prompt, key_path=creds.signing_key_path)

    return get


def _parse_time(text: str, zone: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--at {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _show(ctx: Context, action: str, cert: x509.Certificate, **files: Path) -> None:
    from receipts import pki

    info = pki.describe(cert)
    lines = [
        f"{action} {info['role']} certificate of {info['subject']} ({info['org']})",
        f"  serial      {info['serial']}",
        f"  key id      {info['key_id']}",
        f"  valid       {info['not_before']} to {info['not_after']}",
        *(f"  {name:<11} {path}" for name, path in files.items()),
    ]
    ctx.emit({**info, **{k: str(v) for k, v in files.items()}}, lambda: "\n".join(lines))


def _warn(warnings: Iterable[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _summary(counts: dict[str, Any]) -> str:
    return (
        f"{_count(counts['roots'], 'root')}, {_count(counts['cas'], 'CA certificate')}, "
        f"{_count(counts['signing'], 'signing certificate')}, {_count(counts['crls'], 'CRL')}"
    )


def _status_text(status: dict[str, Any]) -> str:
    lines = []
    for part, label in (("signing", "signing key"), ("ca", "CA key")):
        entry = status[part]
        lines.append(f"{label}: {entry['state']}")
        if "certificate" in entry:
            c = entry["certificate"]
            lines.append(f"  {c['subject']} ({c['org']}), serial {c['serial']}, key {c['key_id']}")
            lines.append(f"  valid to {c['not_after']}")
        if part == "ca" and entry["state"] != "none":
            lines.append(
                f"  issued {entry['issued']}, revoked {entry['revoked']}, "
                f"CRL next update {entry['crl_next_update'] or '(no CRL yet)'}"
            )
    lines.append(f"trust: {_summary(status['trust']) if status['trust'] else 'nothing yet'}")
    return "\n".join(lines)
