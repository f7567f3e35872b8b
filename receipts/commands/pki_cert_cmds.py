"""``receipts pki`` init-root, csr, issue-cert and import-cert: keys, certificate requests and the
certificates a CA issues for them (docs/security.md describes the hierarchy)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from cryptography import x509

from receipts.commands.pki_options import (
    ALGORITHMS,
    EXISTING_FILE,
    OUTPUT_FILE,
    algorithm_option,
    allow_env_option,
    ca_passphrase,
    federation_credentials,
    signing_passphrase,
    utc_now,
    warn,
)
from receipts.commands.runtime import Context, with_context
from receipts.pki import ca, requester
from receipts.support.atomic import write_atomic
from signing.certificates import certificates_to_pem, csr_to_pem
from signing.keys import KeyAlgorithm

__all__ = ["csr", "import_cert", "init_root", "issue_cert"]

_CSR_EXAMPLES = """\b
Examples:
  receipts --home ./yinchuan pki csr -o 640100.csr          (a signing key)
  receipts --home ./ningxia pki csr --ca -o 640000-ca.csr   (a provincial CA key)
  receipts --home ./yinchuan pki csr --renew -o 640100-2029.csr"""
_ISSUE_EXAMPLES = """\b
Examples:
  receipts --home ./ningxia pki issue-cert 640100.csr -o 640100.pem
  receipts --home ./acftu pki issue-cert 640000-ca.csr -o 640000-ca.pem --validity-days 3650"""
_IMPORT_EXAMPLES = """\b
Examples:
  receipts --home ./yinchuan pki import-cert 640100.pem --root national-root.pem   (first time)
  receipts --home ./yinchuan pki import-cert 640100-2029.pem"""


@click.command("init-root", epilog="\b\nExample:\n  receipts --home ./acftu pki init-root")
@click.option("--validity-years", type=click.IntRange(1, 50), default=20, show_default=True)
@algorithm_option
@allow_env_option
@with_context
def init_root(
    ctx: Context, validity_years: int, algorithm: str | None, allow_env_passphrase: bool
) -> None:
    """Create the national root CA key and certificate (national workspace 000000 only)."""
    creds = federation_credentials(ctx)
    cert = ca.init_root(
        creds,
        ca_passphrase(creds, allow_env_passphrase),
        algorithm=KeyAlgorithm(algorithm or ALGORITHMS[0]),
        validity=timedelta(days=round(365.25 * validity_years)),
        now=utc_now(),
    )
    _show(ctx, "created", cert, certificate=creds.ca_cert_path)


@click.command("csr", epilog=_CSR_EXAMPLES)
@click.option("--ca", "as_ca", is_flag=True, help="A provincial CA key instead of a signing key.")
@algorithm_option
@click.option("--renew", is_flag=True, help="Replace a key that has its certificate already.")
@click.option("-o", "--output", type=OUTPUT_FILE, required=True, help="Where to write the CSR.")
@allow_env_option
@with_context
def csr(
    ctx: Context,
    as_ca: bool,
    algorithm: str | None,
    renew: bool,
    output: Path,
    allow_env_passphrase: bool,
) -> None:
    """Generate a key and a certificate request (CSR) for this federation."""
    creds = federation_credentials(ctx)
    passphrase = ca_passphrase(creds, allow_env_passphrase) if as_ca else signing_passphrase(creds)
    request = requester.new_request(
        creds,
        passphrase,
        ca=as_ca,
        algorithm=KeyAlgorithm(algorithm) if algorithm else None,
        renew=renew,
        today=utc_now().date(),
    )
    write_atomic(output, csr_to_pem(request.csr))
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


@click.command("issue-cert", epilog=_ISSUE_EXAMPLES)
@click.argument("request_file", metavar="CSR", type=EXISTING_FILE)
@click.option(
    "-o", "--output", type=OUTPUT_FILE, required=True, help="Certificate + intermediates."
)
@click.option("--validity-days", type=click.IntRange(min=1), help="Default: by role.")
@allow_env_option
@with_context
def issue_cert(
    ctx: Context,
    request_file: Path,
    output: Path,
    validity_days: int | None,
    allow_env_passphrase: bool,
) -> None:
    """Issue the certificate a request asks for (a CA workspace: national root or province)."""
    creds = federation_credentials(ctx)
    issued = ca.issue_from_request(
        creds,
        ca.read_request(request_file),
        ca_passphrase(creds, allow_env_passphrase),
        now=utc_now(),
        validity=timedelta(days=validity_days) if validity_days else None,
    )
    write_atomic(output, certificates_to_pem(issued.chain))
    _show(ctx, "issued", issued.certificate, chain=output, recorded=issued.record)


@click.command("import-cert", epilog=_IMPORT_EXAMPLES)
@click.argument("cert_file", metavar="CERT", type=EXISTING_FILE)
@click.option("--root", "root_file", type=EXISTING_FILE, help="The national root (the first time).")
@with_context
def import_cert(ctx: Context, cert_file: Path, root_file: Path | None) -> None:
    """Install the certificate the upstream CA issued for this workspace's pending key."""
    creds = federation_credentials(ctx)
    root = requester.read_certificates(root_file)[0] if root_file else None
    imported = requester.import_certificate(
        creds, requester.read_certificates(cert_file), root, now=utc_now()
    )
    warn(imported.warnings)
    _show(ctx, "imported", imported.certificate, installed=imported.path)


def _show(ctx: Context, action: str, cert: x509.Certificate, **files: Path) -> None:
    info = requester.describe(cert)
    lines = [
        f"{action} {info['role']} certificate of {info['subject']} ({info['org']})",
        f"  serial      {info['serial']}",
        f"  key id      {info['key_id']}",
        f"  valid       {info['not_before']} to {info['not_after']}",
        *(f"  {name:<11} {path}" for name, path in files.items()),
    ]
    ctx.emit({**info, **{k: str(v) for k, v in files.items()}}, lambda: "\n".join(lines))
