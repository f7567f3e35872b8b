"""Federation workspaces with keys and certificates from the test PKI, for CLI tests that do
not exercise the PKI commands themselves."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterable
from pathlib import Path

from click.testing import CliRunner, Result

from cli import main
from receipts.domain.divisions import known_federation, tier_of
from receipts.pki.keyfile import save_key
from receipts.support.atomic import PRIVATE, write_atomic
from receipts.workspace import Workspace, WorkspaceConfig, WorkspaceKind
from signing.certificates import certificates_to_pem
from tests.support.tier_pki import tier_pki

__all__ = ["ENV", "PASSPHRASE", "federation", "ok", "receipts", "stocked_city"]

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


def stocked_city(tmp: Path, years: Iterable[int], count: int = 20, db: str | None = None) -> Path:
    """银川 (640100) at ``tmp/yc`` under 宁夏 at ``tmp/prov`` (which has 640100 on its register),
    with ``count`` numbers of each of ``years`` allocated by 宁夏 and imported into 银川's ledger
    (``db``, else the workspace's own); 银川's home."""
    prov, home = tmp / "prov", tmp / "yc"
    federation(prov, "640000")
    federation(home, "640100")
    ok(prov, "org", "add", "--code", "640100")
    for year in sorted(set(years)):
        alloc = tmp / f"alloc-{year}.xml"
        ok(prov, "stock", "allocate", "--to", "640100", "--count", str(count), "--year", str(year),
           "-o", str(alloc))  # fmt: skip
        imported = receipts(home, "stock", "import", str(alloc), db=db)
        assert imported.exit_code == 0, imported.output
    return home
