"""``receipts pki`` revoke, crl, export-trust, import-trust and list: revocations and the CRLs
that publish them, trust bundles between the tiers, and what a workspace holds
(docs/security.md describes revocation and trust)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from receipts.commands.pki_options import (
    EXISTING_FILE,
    OUTPUT_FILE,
    REASONS,
    ReasonChoice,
    allow_env_option,
    ca_passphrase,
    federation_credentials,
    utc_now,
    warn,
)
from receipts.commands.runtime import Context, with_context
from receipts.errors import InvalidInput
from receipts.pki import ca, requester
from receipts.support.atomic import write_atomic
from receipts.support.sizes import MAX_PEM_BYTES, read_bounded
from signing.crl import RevocationReason, crls_to_pem

__all__ = ["crl", "export_trust", "import_trust", "list_status", "revoke"]

_REVOKE_EXAMPLES = """\b
Examples:
  receipts --home ./ningxia pki revoke 3f9a0c... --reason key_compromise
  receipts --home ./ningxia pki revoke --cert 640100.pem --reason superseded
  receipts --home ./ningxia pki revoke 3f9a0c... --reason key_compromise --at 2026-03-01T09:00
Then publish it: receipts pki crl -o ningxia.crl"""
_IMPORT_TRUST_EXAMPLES = """\b
Examples:
  receipts --home ./acme pki import-trust trust.pem        (a payer, the first time)
  receipts --home ./yinchuan pki import-trust ningxia-crl.pem"""


@click.command("revoke", epilog=_REVOKE_EXAMPLES)
@click.argument("serial", metavar="SERIAL_HEX", required=False)
@click.option(
    "--cert", "cert_file", type=EXISTING_FILE, help="The certificate instead of its serial."
)
@click.option("--reason", type=ReasonChoice(REASONS), required=True)
@click.option("--at", "at_text", help="Since when (ISO 8601; default now; local time zone).")
@with_context
def revoke(
    ctx: Context, serial: str | None, cert_file: Path | None, reason: str, at_text: str | None
) -> None:
    """Record the revocation of a certificate this CA issued (publish it with 'pki crl')."""
    creds = federation_credentials(ctx)
    if (serial is None) == (cert_file is None):
        raise InvalidInput("give either SERIAL_HEX or --cert FILE")
    expected = requester.read_certificates(cert_file)[0] if cert_file else None
    number = expected.serial_number if expected else ca.parse_serial(str(serial))
    at = _parse_time(at_text, creds.workspace.config.zone) if at_text else None
    why = RevocationReason(reason.replace("_", "-"))
    cert, record = ca.revoke(creds, number, why, now=utc_now(), at=at, expected=expected)
    info = requester.describe(cert)
    since = ca.format_utc(record.effective_from)
    ctx.emit(
        {**info, "reason": why.value, "revoked_at": record.revoked_at, "effective": since},
        lambda: (
            f"revoked {info['subject']} ({info['org']}), serial {info['serial']}: "
            f"{why.value} as of {since}\nnext: publish it with 'receipts pki crl -o FILE'"
        ),
    )


@click.command("crl", epilog="\b\nExample:\n  receipts --home ./ningxia pki crl -o ningxia.crl")
@click.option("-o", "--output", type=OUTPUT_FILE, required=True, help="Where to write the CRL.")
@click.option("--next-update-days", type=click.IntRange(1, 366), default=7, show_default=True)
@allow_env_option
@with_context
def crl(ctx: Context, output: Path, next_update_days: int, allow_env_passphrase: bool) -> None:
    """Sign and write this CA's CRL of every revocation it recorded."""
    creds = federation_credentials(ctx)
    crls = ca.publish_crl(
        creds,
        ca_passphrase(creds, allow_env_passphrase),
        now=utc_now(),
        next_update=timedelta(days=next_update_days),
    )
    new = crls[0]
    write_atomic(output, crls_to_pem(crls))
    data = {
        "crl": str(output),
        "revoked": len(new),
        "this_update": new.last_update_utc,
        "next_update": new.next_update_utc,
        "retired_keys": len(crls) - 1,
    }
    ctx.emit(
        data,
        lambda: (
            f"wrote {output}: {_count(len(new), 'revoked certificate')}, "
            f"next update {new.next_update_utc:%Y-%m-%d %H:%M} UTC"
            + (
                f"; signed by the current key and {_count(len(crls) - 1, 'retired key')}"
                if len(crls) > 1
                else ""
            )
        ),
    )


@click.command("export-trust", epilog="\b\nExample:\n  receipts pki export-trust -o trust.pem")
@click.option("-o", "--output", type=OUTPUT_FILE, required=True, help="Where to write the bundle.")
@with_context
def export_trust(ctx: Context, output: Path) -> None:
    """Write this workspace's trust bundle: roots, CAs, signing certificates, CRLs."""
    bundle = ctx.credentials(ctx.workspace()).trust
    write_atomic(output, bundle.to_pem())
    warnings = requester.crl_warnings(bundle, utc_now())
    warn(warnings)
    counts = requester.trust_counts(bundle)
    ctx.emit(
        {"bundle": str(output), **counts, "warnings": warnings},
        lambda: f"wrote {output}: {_summary(counts)}",
    )


@click.command("import-trust", epilog=_IMPORT_TRUST_EXAMPLES)
@click.argument("bundle_file", metavar="BUNDLE", type=EXISTING_FILE)
@click.option("--add-root", is_flag=True, help="Trust a root other than the one trusted.")
@with_context
def import_trust(ctx: Context, bundle_file: Path, add_root: bool) -> None:
    """Merge certificates and CRLs from a bundle into this workspace's trust."""
    ctx.require(ctx.workspace(), "admin", action="changing the trust bundle")
    creds = ctx.credentials(ctx.workspace())
    data = read_bounded(bundle_file, MAX_PEM_BYTES, "a trust bundle")
    result = requester.import_trust(creds, data, str(bundle_file), add_root=add_root)
    counts = requester.trust_counts(result.bundle)
    ctx.emit(
        {"new_certificates": result.new_certificates, "new_crls": result.new_crls, **counts},
        lambda: (
            f"merged {bundle_file}: {_count(result.new_certificates, 'new certificate')}, "
            f"{_count(result.new_crls, 'new CRL')}; trusted now: {_summary(counts)}"
        ),
    )


@click.command("list", epilog="\b\nExample:\n  receipts --home ./yinchuan pki list")
@with_context
def list_status(ctx: Context) -> None:
    """Show this workspace's keys and certificates and what its trust bundle holds."""
    status = requester.workspace_status(ctx.credentials(ctx.workspace()), utc_now())
    for part in ("signing", "ca", "trust"):
        warn((status[part] or {}).get("warnings", []))
    ctx.emit(status, lambda: _status_text(status))


def _parse_time(text: str, zone: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--at {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


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
