"""Federation workspaces with keys and certificates from the test PKI, for CLI tests that do
not exercise the PKI commands themselves."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from cli import main
from receipts.domain.divisions import known_federation, tier_of
from receipts.pki.keyfile import save_key
from receipts.workspace import Workspace, WorkspaceConfig, WorkspaceKind
from signing.certificates import certificates_to_pem
from tests.support.tier_pki import tier_pki

__all__ = ["ENV", "PASSPHRASE", "federation", "receipts"]

PASSPHRASE = "correct horse battery staple"
ENV = {"RECEIPTS_KEY_PASSPHRASE": PASSPHRASE}


def federation(home: Path, org: str) -> Workspace:
    """A federation workspace of ``org`` holding its signing key and the test trust bundle."""
    known = known_federation(org)
    assert known is not None
    ws = Workspace.create(
        home, WorkspaceConfig(WorkspaceKind.FEDERATION, known.name, org, tier_of(org))
    )
    signer = tier_pki().signers[org]
    save_key(signer.key, home / "keys" / "signing.key", PASSPHRASE)
    (home / "certs" / "signing.pem").write_bytes(
        certificates_to_pem([signer.certificate, *signer.intermediates])
    )
    (home / "trust" / "bundle.pem").write_bytes(tier_pki().bundle.to_pem())
    return ws


def receipts(home: Path, *args: str, db: str | None = None) -> Result:
    """Run ``receipts --home HOME ARGS`` with the signing passphrase in the environment."""
    prefix = ["--home", str(home)] + (["--db", db] if db else [])
    return CliRunner(env=ENV).invoke(main, [*prefix, *args], catch_exceptions=False)
