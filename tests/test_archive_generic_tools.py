"""An archive checked without this product, exactly as its README.txt says (issue 18, item 5):
the README's own command lines, run in a shell over the unpacked package, pass on a genuine
archive and name the file on each kind of tampering."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from receipts.issuing.issue import issue_batch, reverse
from receipts.ledger.database import Database, default_url
from tests.support.archive_readme import readme_commands, run_readme, unpack
from tests.support.ledger import fixed_clock, make_issuer, month_start, request
from tests.support.workspaces import ok, stocked_city

_A = "{urn:union-dues-receipt:archive:1}"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A main archive of two receipts (PDFs PAdES-signed) and the supplement a later reversal
    writes."""
    tmp = tmp_path_factory.mktemp("generic")
    a, b = month_start(2), month_start(1)
    home = stocked_city(tmp, (a.year, b.year))
    db = Database(default_url(home))
    first = list(
        issue_batch(
            db, make_issuer(clock=fixed_clock(a)), [request("A1", "100.00"), request("A2", "8.88")]
        )
    )
    ok(home, "period", "close", a.strftime("%Y-%m"))
    ok(home, "archive", "create", "--period", a.strftime("%Y-%m"), "-o", str(tmp / "a.zip"))
    reverse(db, make_issuer(clock=fixed_clock(b)), first[0].ref, "开错了", "张晓梅", "李建国")
    db.dispose()
    ok(home, "period", "close", b.strftime("%Y-%m"))
    ok(home, "archive", "create", "--period", b.strftime("%Y-%m"), "-o", str(tmp / "b.zip"))
    return {"main": tmp / "a.zip", "supplement": tmp / "b-supplement.zip", "home": home}


def test_the_readme_commands_check_a_genuine_archive(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    folder = unpack(packages["main"], tmp_path / "main")
    commands = readme_commands(folder)
    assert any(c.startswith("sha256sum -c") for c in commands)
    assert any("xmlsec1 --verify" in c and "manifest.xml" in c for c in commands)
    assert any("pdfsig" in c for c in commands)
    run = run_readme(folder)
    assert run.returncode == 0, run.stdout + run.stderr
    for said in [
        "files: all match SHA256SUMS",
        "manifest: signature verified",
        "SHA256SUMS: named by the signed manifest",
        "receipts: all signatures verified",
        "pdf: all signatures valid",
        "pdf: every attachment is its receipt",
    ]:
        assert said in run.stdout, run.stdout + run.stderr
    assert "FAILED" not in run.stdout


def test_the_supplement_without_pdfs_checks_too(packages: dict[str, Path], tmp_path: Path) -> None:
    folder = unpack(packages["supplement"], tmp_path / "supplement")
    assert not any("pdfsig" in c for c in readme_commands(folder))
    run = run_readme(folder)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "receipts: all signatures verified" in run.stdout


def test_the_readme_is_bilingual_and_gives_the_root_fingerprint(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    folder = unpack(packages["main"], tmp_path / "main")
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert "【中文】" in readme and "[English]" in readme
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    root = x509.load_pem_x509_certificate((folder / "trust" / "root.pem").read_bytes())
    assert root.fingerprint(hashes.SHA256()).hex().upper()[:8] in readme.replace(":", "")


def test_the_manifest_records_the_software_that_made_it(packages: dict[str, Path]) -> None:
    with zipfile.ZipFile(packages["main"]) as z:
        manifest = etree.fromstring(z.read("manifest.xml"))
        listed = {f.get("path") for f in manifest.iterfind(_A + "File")}
    software = manifest.find(_A + "Software")
    assert software is not None and software.get("product") == "union-dues-receipts"
    libraries = {lib.get("name"): lib.get("version") for lib in software.iterfind(_A + "Library")}
    assert {"reportlab", "pikepdf", "fonttools", "zxing-cpp", "zlib"} <= set(libraries)
    # The generic-check files are themselves signed through the manifest.
    assert {"README.txt", "SHA256SUMS", "SIGNING-TIMES", "trust/root.pem"} <= listed


def _edit(folder: Path, path: str, old: bytes, new: bytes) -> None:
    target = folder / path
    data = target.read_bytes()
    assert old in data, path
    target.write_bytes(data.replace(old, new, 1))


def test_each_kind_of_tampering_fails_the_readme_commands(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    main = unpack(packages["main"], tmp_path / "pristine")
    receipt = sorted((main / "receipts").iterdir())[0].relative_to(main).as_posix()
    pdf = sorted((main / "pdf").iterdir())[0].relative_to(main).as_posix()

    # A receipt's amount changed, and SHA256SUMS "updated" to match: the signature still fails.
    changed = unpack(packages["main"], tmp_path / "amount")
    _edit(changed, receipt, b"100.00", b"900.00")
    sums = (changed / "SHA256SUMS").read_text()
    digest = hashlib.sha256((changed / receipt).read_bytes()).hexdigest()
    lines = [
        f"{digest}  {receipt}" if line.endswith("  " + receipt) else line
        for line in sums.splitlines()
    ]
    (changed / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    run = run_readme(changed)
    assert run.returncode != 0
    assert "SHA256SUMS: named by the signed manifest" not in run.stdout
    assert f"FAILED: {receipt}" in run.stdout

    # A PDF with bytes appended (an incremental update after the signature): fixity fails first.
    appended = unpack(packages["main"], tmp_path / "appended")
    (appended / pdf).write_bytes((appended / pdf).read_bytes() + b"\n% later\n")
    run = run_readme(appended)
    assert run.returncode != 0
    assert f"{pdf}: FAILED" in run.stdout + run.stderr

    # The manifest edited: its signature fails.
    manifest = unpack(packages["main"], tmp_path / "manifest")
    _edit(manifest, "manifest.xml", b'<Receipts count="2"', b'<Receipts count="3"')
    run = run_readme(manifest)
    assert run.returncode != 0
    assert "manifest: signature verified" not in run.stdout


def test_archive_verify_still_accepts_the_new_members(packages: dict[str, Path]) -> None:
    out = json.loads(
        ok(
            packages["home"],
            "--json",
            "archive",
            "verify",
            str(packages["main"]),
            str(packages["supplement"]),
        )
    )
    assert [r["ok"] for r in out] == [True, True]
