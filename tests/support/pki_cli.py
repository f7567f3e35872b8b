"""The three-tier PKI built through ``receipts pki`` (national 000000, provincial 640000, city
640100 workspaces, the whole issuance flow run once), and running the command in them. The
``pki_tiers`` and ``pki_tiers_copy`` fixtures (``tests/conftest.py``) hand it to tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from cli import main
from signing.certificates import certificates_from_pem, certificates_to_pem

__all__ = [
    "CA",
    "ENV",
    "NAMES",
    "Tiers",
    "build_tiers",
    "certs_in",
    "certs_pem",
    "init",
    "ok",
    "refused",
    "run",
    "sorted_crls",
]

ENV = {"RECEIPTS_KEY_PASSPHRASE": "signing-secret", "RECEIPTS_CA_PASSPHRASE": "ca-secret-phrase"}
NAMES = {
    "000000": "中华全国总工会",
    "640000": "宁夏回族自治区总工会",
    "640100": "银川市总工会",
    "650100": "乌鲁木齐市总工会",
}
#: Lets a CA command take its passphrase from the environment (tests have no terminal).
CA = "--allow-env-passphrase"


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """``receipts --home HOME ARGS`` with both passphrases in the environment."""
    runner = CliRunner(env=ENV if env is None else env)
    return runner.invoke(main, ["--home", str(home), *args], catch_exceptions=False)


def ok(home: Path, *args: str) -> Result:
    """Run a command that must succeed quietly on stderr."""
    result = run(home, *args)
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    return result


def refused(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a command that must fail with exit 2 and one error line; return that line."""
    result = run(home, *args, env=env)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0].removeprefix("error: ")


def init(home: Path, org: str) -> Path:
    """``receipts init`` of a federation workspace of ``org`` at ``home``."""
    ok(home, "init", "--org", org, "--name", NAMES[org])
    return home


@dataclass(frozen=True)
class Tiers:
    """The three workspaces and a folder of the files exchanged between them."""

    base: Path
    nat: Path
    """The national federation's workspace (000000): the root CA."""
    prov: Path
    """宁夏's workspace (640000): the provincial CA."""
    city: Path
    """银川's workspace (640100): a signing certificate only."""

    @property
    def root_pem(self) -> Path:
        """The root CA certificate."""
        return self.nat / "certs" / "ca.pem"

    def file(self, name: str) -> Path:
        """A file exchanged between the workspaces (requests, certificates, CRLs)."""
        return self.base / "files" / name

    def copy(self, target: Path) -> Tiers:
        """A private copy at ``target``, for a test that changes the workspaces."""
        shutil.copytree(self.base, target)
        return Tiers(target, target / "nat", target / "prov", target / "city")


def build_tiers(base: Path) -> Tiers:
    """Three workspaces under ``base`` and the whole issuance flow: root, provincial CA, the
    signing certificates of the province, the city and the national federation."""
    t = Tiers(base, base / "nat", base / "prov", base / "city")
    (base / "files").mkdir(parents=True)
    for home, org in ((t.nat, "000000"), (t.prov, "640000"), (t.city, "640100")):
        init(home, org)
    ok(t.nat, "pki", "init-root", CA)
    # The provincial CA, certified by the root.
    ok(t.prov, "pki", "csr", "--ca", "-o", str(t.file("prov-ca.csr")), CA)
    ok(t.nat, "pki", "issue-cert", str(t.file("prov-ca.csr")), "-o", str(t.file("prov-ca.pem")), CA)
    ok(t.prov, "pki", "import-cert", str(t.file("prov-ca.pem")), "--root", str(t.root_pem))
    # Signing certificates: the province's own, the city's (both from the province), the
    # national federation's (from the root).
    for home, ca_home, name in (
        (t.prov, t.prov, "prov"),
        (t.city, t.prov, "city"),
        (t.nat, t.nat, "nat"),
    ):
        ok(home, "pki", "csr", "-o", str(t.file(f"{name}.csr")))
        ok(
            ca_home,
            "pki",
            "issue-cert",
            str(t.file(f"{name}.csr")),
            "-o",
            str(t.file(f"{name}.pem")),
            CA,
        )
        extra = ["--root", str(t.root_pem)] if home == t.city else []
        ok(home, "pki", "import-cert", str(t.file(f"{name}.pem")), *extra)
    return t


def certs_in(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file."""
    return certificates_from_pem(path.read_bytes())


def certs_pem(cert: x509.Certificate) -> bytes:
    """``cert`` as PEM."""
    return certificates_to_pem([cert])


def sorted_crls(crls: Iterable[x509.CertificateRevocationList]) -> list[bytes]:
    """CRLs compared as a set (they are not hashable): their DER, sorted."""
    return sorted(crl.public_bytes(Encoding.DER) for crl in crls)
