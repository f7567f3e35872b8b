"""Federation workspaces with keys and certificates from the test PKI, for CLI tests that do
not exercise the PKI commands themselves."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from click.testing import CliRunner, Result

from cli import main
from receipts.domain.divisions import known_federation, tier_of
from receipts.pki.keyfile import save_key
from receipts.support.atomic import PRIVATE, write_atomic
from receipts.workspace import Workspace, WorkspaceConfig, WorkspaceKind
from signing.certificates import certificates_to_pem
from tests.support.tier_pki import tier_pki

__all__ = ["ENV", "PASSPHRASE", "federation", "ok", "receipts"]

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
    write_atomic(home / "keys" / "signing.key", _key_file(org), mode=PRIVATE, overwrite=False)
    (home / "certs" / "signing.pem").write_bytes(
        certificates_to_pem([signer.certificate, *signer.intermediates])
    )
    (home / "trust" / "bundle.pem").write_bytes(tier_pki().bundle.to_pem())
    return ws


@functools.cache
def _key_file(org: str) -> bytes:
    """``org``'s signing key file as the product writes it (``save_key``), made once per test
    process and copied: at 600,000 PBKDF2 iterations each save costs about 0.2 s."""
    with tempfile.TemporaryDirectory() as tmp:
        path = save_key(tier_pki().signers[org].key, Path(tmp) / "signing.key", PASSPHRASE)
        return path.read_bytes()


def receipts(home: Path, *args: str, db: str | None = None) -> Result:
    """Run ``receipts --home HOME ARGS`` with the signing passphrase in the environment."""
    prefix = ["--home", str(home)] + (["--db", db] if db else [])
    return CliRunner(env=ENV).invoke(main, [*prefix, *args], catch_exceptions=False)


def ok(home: Path, *args: str) -> str:
    """Run a command that must succeed; its standard output."""
    result = receipts(home, *args)
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.stdout
